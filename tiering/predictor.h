/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The predictor: the forecasters of predict/ put to work, with what they
 * need to learn and to be checked. The placer (tiering/placer.c) asks it
 * for a forecast of every file it scores; the daemon and dfabric-sim run
 * the same code.
 *
 * - Forecasts: gbt_features of every item, the trees' probabilities in
 *   one batch per horizon, then forecast_eval with the current ensemble
 *   weights.
 * - Checking: a forecast is remembered (up to max_pending at a time)
 *   with the item's access count when it was made; when its horizon has
 *   passed, predictor_tick asks the host for the count again and scores
 *   it (accuracy_add): errors of the counts, Brier scores of the
 *   probabilities, precision and recall of the moves made because of
 *   it. The losses re-weight the ensemble.
 * - Learning: every scored forecast becomes a training row of the trees
 *   of its horizon (features then, accessed or not since); every
 *   `retrain` seconds the trees are trained again on the last max_rows
 *   rows, on a worker thread (or on the caller's, with threads = 0).
 *
 * Thread-safety: every function may be called from any thread. */
#ifndef DF_PREDICTOR_H
#define DF_PREDICTOR_H

#include <stddef.h>
#include <stdint.h>

#include "predict/forecast.h"
#include "predict/gbt.h"

struct predictor_params {
	struct predict_params predict; /* models and thresholds */
	struct gbt_params gbt;         /* the trees */
	double retrain;                /* seconds between trainings (600) */
	size_t max_pending;            /* forecasts awaiting their score (8192) */
	size_t max_rows;               /* training rows kept per horizon (20000) */
	int proactive;                 /* move data on forecasts (1) */
	int threads;                   /* 1: train on a worker thread (daemon);
					* 0: on the caller's (sim, tests) */
};

void predictor_defaults(struct predictor_params *p);

struct predictor;

int predictor_open(const struct predictor_params *p, struct predictor **out);
void predictor_close(struct predictor *pr);
const struct predictor_params *predictor_params(const struct predictor *pr);

/* An item to forecast. */
struct predictor_item {
	uint64_t ino;
	uint64_t off;                  /* extent offset, 0 for a whole file */
	const struct access_stats *st;
	const struct access_series *se;
	uint64_t bytes;
	double co_access;              /* see gbt_features */
};

/* Forecasts items[0..n) at `now` into out[0..n). */
void predictor_forecast(struct predictor *pr,
			const struct predictor_item *items, size_t n,
			int64_t now, struct forecast *out);

/* What a pass did with a forecast. */
enum predictor_action {
	PA_NONE = 0,
	PA_PROMOTE = 1,                /* promoted ahead because of it */
	PA_DEMOTE = 2,                 /* demoted early because of it */
};

/* Remembers forecast f of item it, made at `now` when its access count
 * was `count` (stats_count), to score it later. Dropped (and counted)
 * when max_pending forecasts are waiting; an item already waiting is not
 * recorded again until scored. */
void predictor_record(struct predictor *pr, const struct predictor_item *it,
		      const struct forecast *f, int64_t now, uint64_t count,
		      enum predictor_action act);

/* The access count of (ino, off) now: 0, or -ENOENT when it is gone. */
typedef int (*predictor_count_fn)(void *arg, uint64_t ino, uint64_t off,
				  uint64_t *count);

/* Scores the forecasts whose horizon has ended by `now`, adds their
 * training rows, and trains when due. Returns how many were scored. */
size_t predictor_tick(struct predictor *pr, int64_t now,
		      predictor_count_fn count, void *arg);

/* Whether proactive moves may be made now (proactive = 1 and the scored
 * promotions are right at least as often as wrong: accuracy_trusted). */
int predictor_trusted(struct predictor *pr);

struct predictor_counters {
	uint64_t forecasts;            /* items forecast */
	uint64_t recorded;             /* forecasts remembered for scoring */
	uint64_t dropped;              /* not remembered: too many waiting */
	uint64_t pending;              /* waiting now */
	uint64_t scored;               /* scored (per horizon, summed) */
	uint64_t promoted;             /* proactive promotions recorded */
	uint64_t demoted;              /* proactive demotions recorded */
	uint64_t trained[PREDICT_HORIZONS]; /* trainings of the trees */
	uint64_t train_failed[PREDICT_HORIZONS];
	unsigned trees[PREDICT_HORIZONS];
	uint64_t rows[PREDICT_HORIZONS]; /* training rows held */
};

/* A copy of the accuracy tables, the ensemble and the counters. Any
 * pointer may be NULL. */
void predictor_state(struct predictor *pr, struct predict_accuracy *acc,
		     struct predict_ensemble *ens,
		     struct predictor_counters *cnt);

/* The state worth keeping across restarts (accuracy, ensemble weights,
 * the trees), as one malloc'd buffer, and back. Load returns -EUCLEAN
 * for a buffer it cannot read, keeping what it had; trees that do not
 * load leave the predictor on the other models. */
int predictor_save(struct predictor *pr, void **buf, size_t *len);
int predictor_load(struct predictor *pr, const void *buf, size_t len);

#endif
