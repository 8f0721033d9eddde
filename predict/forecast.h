/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Forecasts of a file's (or an extent's) access, from its history
 * (predict/series.h, tiering/stats.h). Pure functions with no I/O and
 * no clock: the daemon's predictor and dfabric-sim call the same code.
 *
 * Models, each giving the expected number of accesses and the
 * probability of at least one within every horizon:
 *   baseline  the decayed mean rate (the reactive view: what the
 *             placement score's frequency term already knows);
 *   trend     a least-squares line (GSL) through the coarse bins of the
 *             trend window, extrapolated over the horizon;
 *   seasonal  the period found by autocorrelation of the fine bins (a
 *             nightly job's inputs: 24 bins), else the hour-of-day and
 *             day-of-week profile, scaled to the recent level;
 *   gap       the inter-arrival statistics: a file read every N seconds
 *             is next read at last + N, with a spread from their variance;
 *   gbt       gradient-boosted trees (predict/gbt.h): a probability only,
 *             computed by the caller and passed in.
 * The ensemble mixes them with weights that follow each model's recent
 * accuracy (struct predict_ensemble, kept up to date from the scored
 * predictions by ensemble_update). */
#ifndef DF_FORECAST_H
#define DF_FORECAST_H

#include <stddef.h>
#include <stdint.h>

#include "predict/series.h"
#include "tiering/stats.h"

#define PREDICT_HORIZONS 2

enum predict_model {
	PM_BASELINE = 0,
	PM_TREND = 1,
	PM_SEASONAL = 2,
	PM_GAP = 3,
	PM_GBT = 4,
	PM_COUNT = 5,
	PM_ENSEMBLE = 5,               /* index of the mix in accuracy tables */
};

struct predict_params {
	struct series_params series;
	double horizon[PREDICT_HORIZONS]; /* seconds (300, 3600) */
	double window;                 /* seconds of the trend's window (30 d) */
	double half_life;              /* seconds of the baseline (86400) */
	double min_acf;                /* autocorrelation a period must reach (0.5) */
	double rise;                   /* predicted rise that promotes early (0.5) */
	double rise_confidence;        /*   at this confidence or more (0.7) */
	double fall;                   /* predicted fall that demotes early (0.8) */
	double fall_confidence;        /*   at this confidence or more (0.8) */
	double anomaly_sigma;          /* windowed rate this far out is an
					* anomaly (3) */
};

/* Fills p with the defaults above. */
void predict_defaults(struct predict_params *p);

struct model_forecast {
	int valid;                     /* the model had enough history */
	double expected[PREDICT_HORIZONS]; /* accesses expected in each horizon */
	double prob[PREDICT_HORIZONS]; /* P(at least one access) in each */
};

struct forecast {
	double expected[PREDICT_HORIZONS]; /* the ensemble's */
	double prob[PREDICT_HORIZONS];
	int64_t next;                  /* predicted next access, unix ns; 0 unknown */
	double confidence;             /* 0..1: history, model agreement, accuracy */
	double trend;                  /* -1..1: expected rate over horizon[0]
					* against the baseline's, for the score */
	double change;                 /* expected[1] / baseline expected[1] - 1:
					* > rise promotes, < -fall demotes */
	double period;                 /* seconds of the period found, 0 none */
	double acf;                    /* its autocorrelation */
	double slope;                  /* trend: accesses per coarse bin, per bin */
	double r2;                     /* trend: coefficient of determination */
	struct model_forecast m[PM_COUNT];
};

/* Weights of the models in the mix and what they are based on. */
struct predict_ensemble {
	double weight[PM_COUNT];       /* sum 1 over the models in use */
	double loss[PM_COUNT];         /* moving average of the Brier score */
	uint64_t scored[PM_COUNT];     /* predictions scored */
};

/* Equal weights, no history. */
void ensemble_init(struct predict_ensemble *e);

/* ---- the forecasters, exposed for tests ---- */

/* Least squares y = a + b*x over x = 0..n-1 (GSL gsl_fit_linear). 0, or
 * -EINVAL for n < 3, -ENOMEM. r2 is 0 for a constant series. */
int predict_linear(const double *y, size_t n, double *a, double *b,
		   double *r2);

/* Autocorrelation of y[0..n) at lags 1..maxlag into acf[0..maxlag) (acf[k-1]
 * is lag k). Returns the lag of the highest local maximum >= min_acf (the
 * period in bins), or 0 when there is none or y is constant. A local
 * maximum is at a lag in 2..maxlag-1 and at least 0.2 above the lowest
 * autocorrelation at shorter lags (the noise on a slow decline is not a
 * period). */
size_t predict_period(const double *y, size_t n, size_t maxlag, double min_acf,
		      double *acf);

/* Forecasts in from its history at `now`. gbt_prob (NULL when the trees
 * have no model) is the trees' probability for each horizon. e (NULL:
 * equal weights) mixes the models. out->confidence is 0 for an empty
 * history. */
void forecast_eval(const struct predict_params *p,
		   const struct access_stats *st,
		   const struct access_series *se,
		   const struct predict_ensemble *e, const double *gbt_prob,
		   int64_t now, struct forecast *out);

/* When the next access of a history is expected (unix ns), from its
 * gaps alone (cheap enough for every read; no bins): the start of its
 * last session plus its mean gap. 0 (unknown) for a history of fewer
 * than two sessions, or whose access is overdue by more than a gap.
 * *regular is 1 when the time comes from at least three gaps whose
 * spread is at most half their mean: regular enough to move data ahead
 * of it. */
int64_t forecast_next_access(const struct access_series *se, int64_t now,
			     int *regular);

/* How far the latest fine bin is above the file's own recent rate: the
 * z-score of the count in the bin of `now` against the mean and standard
 * deviation of the fine bins before it (the last day by default). A file
 * with little history returns 0. */
double predict_anomaly(const struct predict_params *p,
		       const struct access_series *se, int64_t now);

/* ---- scoring forecasts when their horizon ends ---- */

struct predict_score {
	uint64_t n;                    /* forecasts scored */
	double sum_abs;                /* |expected - actual| */
	double sum_sq;                 /* (expected - actual)^2 */
	double sum_y, sum_y2;          /* actual, actual^2: for R^2 */
	double sum_brier;              /* (prob - accessed)^2 */
};

struct predict_accuracy {
	struct predict_score h[PREDICT_HORIZONS][PM_COUNT + 1]; /* + ensemble */
	uint64_t promoted;             /* proactive promotions scored */
	uint64_t promoted_hit;         /*   followed by an access in the horizon */
	uint64_t demoted;              /* proactive demotions scored */
	uint64_t demoted_miss;         /*   followed by no access in the horizon */
	uint64_t accessed;             /* scored items accessed in the horizon */
	uint64_t accessed_promoted;    /*   of which promoted ahead */
};

/* Scores forecast f of horizon index h against `actual`, the accesses
 * that came within it; promoted/demoted: it was moved ahead because of
 * f. Updates e's losses (may be NULL). */
void accuracy_add(struct predict_accuracy *a, struct predict_ensemble *e,
		  const struct forecast *f, int h, double actual, int promoted,
		  int demoted);

/* Figures of horizon h, model m (PM_ENSEMBLE for the mix): mean absolute
 * error, root mean square error, R^2 (0 with fewer than 2 forecasts or
 * no variance). Precision and recall of proactive promotions (0 with
 * none). */
double accuracy_mae(const struct predict_accuracy *a, int h, int m);
double accuracy_rmse(const struct predict_accuracy *a, int h, int m);
double accuracy_r2(const struct predict_accuracy *a, int h, int m);
double accuracy_precision(const struct predict_accuracy *a);
double accuracy_recall(const struct predict_accuracy *a);

/* Whether proactive moves may go on: not after at least 20 promotions
 * scored of which fewer than half were followed by an access (a model
 * wrong more often than right stops moving data). */
int accuracy_trusted(const struct predict_accuracy *a);

/* Sets e's weights from its losses: a model with 10 scored forecasts or
 * more gets 1 / (loss + 0.01), one with fewer (never scored included:
 * it may have lacked history until now) the average of those, all
 * normalised; with none judged yet, equal weights. forecast_eval mixes
 * only the models valid for the item at hand. */
void ensemble_update(struct predict_ensemble *e);

/* Versioned encodings for the metadata store (accuracy and weights survive
 * a restart). Encode returns the bytes written (at most
 * PREDICT_ACC_ENC_MAX); decode 0 or -EUCLEAN. */
#define PREDICT_ACC_ENC_MAX 2048
size_t accuracy_encode(const struct predict_accuracy *a,
		       const struct predict_ensemble *e, uint8_t *out);
int accuracy_decode(const void *buf, size_t len, struct predict_accuracy *a,
		    struct predict_ensemble *e);

#endif
