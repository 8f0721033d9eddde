/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Gradient-boosted trees (XGBoost's C API) predicting the probability that
 * a file (or an extent) is accessed within a horizon, from features of
 * its history. One struct gbt per horizon.
 *
 * Training data comes from the predictor: the features of an item at a
 * pass, labelled when the horizon has passed with whether it was
 * accessed. gbt_train builds a new booster from those rows on the
 * caller's thread (the predictor's worker) and swaps it in; predictions
 * keep using the previous one meanwhile. Where a model exists, training
 * continues from it (XGBoost's warm start: the new rounds are added to
 * its trees) until the model holds max_trees, after which it starts
 * afresh. A model that fails to train or to load leaves the predictor on
 * the other models: gbt_predict returns -ENODATA and nothing else is
 * harmed.
 *
 * Thread-safety: gbt_predict and gbt_train may run at the same time from
 * different threads. */
#ifndef DF_GBT_H
#define DF_GBT_H

#include <stddef.h>
#include <stdint.h>

#include "predict/forecast.h"
#include "predict/series.h"
#include "tiering/stats.h"

enum gbt_feature {
	GF_DECAYED_0 = 0,              /* log1p decayed count, half-life 0 */
	GF_DECAYED_1,                  /*   half-life 1 */
	GF_DECAYED_2,                  /*   half-life 2 */
	GF_SINCE_LAST,                 /* log1p seconds since the last access */
	GF_GAP_MEAN,                   /* log1p mean gap between sessions, s */
	GF_GAP_CV,                     /* coefficient of variation of the gaps */
	GF_DUE,                        /* (since last) / mean gap, capped at 10 */
	GF_HOUR,                       /* hour of day of now, 0..23 */
	GF_WEEKDAY,                    /* day of week of now, 0 = Sunday */
	GF_HOUR_SHARE,                 /* share of its accesses in this hour of day */
	GF_SIZE,                       /* log2 of bytes + 1 */
	GF_READ_SHARE,                 /* reads / (reads + writes) */
	GF_CO_ACCESS,                  /* log1p recent rate of its co-accessed files */
	GF_RECENT,                     /* log1p accesses in the last fine bin */
	GBT_FEATURES
};

/* Fills x[0..GBT_FEATURES) for an item at `now`. co_access: decayed
 * access count of the files opened together with it (same directory or
 * process; 0 none). Hours and weekdays are UTC, as in struct
 * access_stats. A feature the history cannot give (since-last without
 * an access, the gap features before a gap, the hour and read shares
 * without accesses) is NAN, which XGBoost takes as missing. */
void gbt_features(const struct predict_params *p, const struct access_stats *st,
		  const struct access_series *se, uint64_t bytes,
		  double co_access, int64_t now, float *x);

struct gbt_params {
	unsigned rounds;               /* boosting rounds per training (10) */
	unsigned depth;                /* max tree depth (4) */
	double eta;                    /* learning rate (0.3) */
	unsigned max_trees;            /* warm start up to this many (200) */
	unsigned threads;              /* XGBoost threads (1) */
};

void gbt_defaults(struct gbt_params *p);

struct gbt;

/* A model without trees yet. 0 or -ENOMEM. p NULL: the defaults; a
 * zero field (eta out of (0, 1]) takes its default, max_trees below
 * rounds is raised to rounds. */
int gbt_open(const struct gbt_params *p, struct gbt **out);
void gbt_close(struct gbt *g);

/* Trains on rows x[i*GBT_FEATURES..] with labels y[i] (0 or 1), i < n,
 * and swaps the new booster in. Needs n >= 20 and both labels present,
 * else -EAGAIN (nothing learnt); a label other than 0 or 1 is -EINVAL;
 * an XGBoost error is -EIO with its message logged once. */
int gbt_train(struct gbt *g, const float *x, const float *y, size_t n);

/* Probabilities of rows x into prob[0..n). -ENODATA without a model. */
int gbt_predict(struct gbt *g, const float *x, size_t n, float *prob);

/* 1 when a model is loaded. */
int gbt_ready(struct gbt *g);

/* The model as bytes (malloc'd, the caller frees; UBJSON), and back.
 * Save without a model is -ENODATA. Load of bytes XGBoost refuses, or
 * of a model with another number of features, is -EINVAL and keeps the
 * model there was. XGBoost's readers trust the sizes inside the bytes:
 * damaged ones (truncated, a byte flipped) can crash it, so load only
 * bytes checked against a checksum of what save gave. */
int gbt_save(struct gbt *g, void **buf, size_t *len);
int gbt_load(struct gbt *g, const void *buf, size_t len);

/* Counters: trainings done, failed (-EIO: -EAGAIN and -EINVAL are not
 * counted); trees in the model. Any pointer may be NULL. */
void gbt_counters(struct gbt *g, uint64_t *trained, uint64_t *failed,
		  unsigned *trees);

#endif
