/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Gradient-boosted trees over XGBoost's C API (gbt.h).
 *
 * DESIGN: one booster is live at a time, behind g->lock. gbt_predict
 * holds the lock while the booster predicts (XGBoost's buffers belong to
 * the booster and a second call on it would overwrite them), so a swap
 * can never free a booster in use. gbt_train and gbt_load build the new
 * booster without the lock, on the caller's thread, and only take it to
 * copy the current model's bytes out (warm start) and to swap the
 * pointer; they are serialised by g->train_lock so two trainings do not
 * both grow the same model and drop one of the results.
 *
 * XGBoost keeps its verbosity and its log callback per thread, so every
 * thread that calls into it silences it first (xgb_thread), routing what
 * it still says to our log at debug level: nothing reaches stdout. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "common/log.h"
#include "predict/gbt.h"

#define NS_PER_S 1000000000LL
#define GBT_MIN_ROWS 20
#define DUE_CAP 10.0

/* Kinds of failure, each logged once per model (bits of g->logged). */
enum gbt_fail {
	GBT_FAIL_TRAIN = (1 << 0),
	GBT_FAIL_PREDICT = (1 << 1),
	GBT_FAIL_SAVE = (1 << 2),
	GBT_FAIL_LOAD = (1 << 3),
};

struct gbt {
	struct gbt_params p;           /* fixed at open */
	pthread_mutex_t lock;          /* bst, trees, trained, failed */
	pthread_mutex_t train_lock;    /* one training or load at a time */
	BoosterHandle bst;             /* the model, NULL none; under lock */
	unsigned trees;                /* its boosted rounds; under lock */
	uint64_t trained;              /* trainings swapped in; under lock */
	uint64_t failed;               /* trainings XGBoost failed; under lock */
	unsigned logged;               /* enum gbt_fail already logged (atomic) */
};

/* ---- features ---- */

static double secs_of(int64_t ns)
{
	return (double)(ns / NS_PER_S) + (double)(ns % NS_PER_S) / 1e9;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static double decayed(const struct access_series *se,
		      const struct series_params *sp, int i, int64_t now)
{
	double v = se->decayed[i];

	if (now <= se->stamp || v == 0.0 || !(sp->half_life[i] > 0))
		return v;
	return v * exp2(-secs_of(now - se->stamp) / sp->half_life[i]);
}

/* The count of the fine bin of `now`, 0 when the newest bin is older. */
static double recent(const struct access_series *se,
		     const struct series_params *sp, int64_t now)
{
	int64_t bin;

	if (se->fine_head < 0 || !(sp->bin > 0))
		return 0;
	bin = (int64_t)floor(secs_of(now) / sp->bin);
	if (bin != se->fine_head)
		return 0;
	return se->fine[se->fine_head % SERIES_FINE];
}

void gbt_features(const struct predict_params *p, const struct access_stats *st,
		  const struct access_series *se, uint64_t bytes,
		  double co_access, int64_t now, float *x)
{
	int64_t secs = floor_div(now, NS_PER_S);
	int64_t day = floor_div(secs, 86400);
	int hour = (int)((secs - day * 86400) / 3600);
	int64_t last = st->last > se->last ? st->last : se->last;
	double since = NAN, share = NAN;
	uint64_t hours = 0, rw;

	for (int i = 0; i < SERIES_HALF_LIVES && i <= GF_DECAYED_2; i++)
		x[GF_DECAYED_0 + i] =
			(float)log1p(decayed(se, &p->series, i, now));

	if (last > 0)
		since = now > last ? secs_of(now - last) : 0.0;
	x[GF_SINCE_LAST] = (float)log1p(since);

	/* Gap statistics mean nothing before a gap was seen: missing, which
	 * the trees route down their learnt default branch. */
	if (se->gaps >= 1 && se->gap_mean > 0) {
		x[GF_GAP_MEAN] = (float)log1p(se->gap_mean);
		x[GF_DUE] = isnan(since) ? NAN :
			(float)fmin(since / se->gap_mean, DUE_CAP);
	} else {
		x[GF_GAP_MEAN] = NAN;
		x[GF_DUE] = NAN;
	}
	if (se->gaps >= 2 && se->gap_mean > 0)
		x[GF_GAP_CV] = (float)(sqrt(fmax(se->gap_var, 0)) /
				       se->gap_mean);
	else
		x[GF_GAP_CV] = NAN;

	x[GF_HOUR] = (float)hour;
	/* 1970-01-01 was a Thursday (4). */
	x[GF_WEEKDAY] = (float)(((day + 4) % 7 + 7) % 7);

	for (int h = 0; h < STATS_HOURS; h++)
		hours += st->hour[h];
	if (hours)
		share = (double)st->hour[hour] / (double)hours;
	x[GF_HOUR_SHARE] = (float)share;

	x[GF_SIZE] = (float)log2((double)bytes + 1.0);

	rw = st->reads + st->writes;
	if (rw)
		x[GF_READ_SHARE] = (float)((double)st->reads / (double)rw);
	else if (se->reads + (uint64_t)se->writes)
		x[GF_READ_SHARE] = (float)((double)se->reads /
					   ((double)se->reads + se->writes));
	else
		x[GF_READ_SHARE] = NAN;

	x[GF_CO_ACCESS] = (float)log1p(co_access > 0 ? co_access : 0);
	x[GF_RECENT] = (float)log1p(recent(se, &p->series, now));

	/* XGBoost refuses a matrix holding an infinity (only NaN is
	 * missing): a value beyond float's range is clamped to it. */
	for (int f = 0; f < GBT_FEATURES; f++)
		if (isinf(x[f]))
			x[f] = copysignf(FLT_MAX, x[f]);
}

/* ---- XGBoost plumbing ---- */

static void xgb_log(const char *msg)
{
	log_debug("xgboost: %s", msg);
}

/* Silences XGBoost on the calling thread (its settings are per thread). */
static void xgb_thread(void)
{
	static __thread int done;

	if (done)
		return;
	XGBSetGlobalConfig("{\"verbosity\": 0}");
	XGBRegisterLogCallback(xgb_log);
	done = 1;
}

/* Logs why `what` failed (XGBoost's last error when why is NULL) the
 * first time this kind fails: the predictor retries every pass. */
static void fail_once(struct gbt *g, unsigned kind, const char *what,
		      const char *why)
{
	unsigned was = __atomic_fetch_or(&g->logged, kind, __ATOMIC_RELAXED);

	if (was & kind)
		return;
	/* XGBoost's message goes on with a stack trace: its first line. */
	if (!why)
		why = XGBGetLastError();
	log_warn("gbt: %s failed: %.*s (further failures of this kind are "
		 "not logged)", what, (int)strcspn(why, "\n"), why);
}

void gbt_defaults(struct gbt_params *p)
{
	p->rounds = 10;
	p->depth = 4;
	p->eta = 0.3;
	p->max_trees = 200;
	p->threads = 1;
}

int gbt_open(const struct gbt_params *p, struct gbt **out)
{
	struct gbt_params d;
	struct gbt *g;

	gbt_defaults(&d);
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->p = p ? *p : d;
	if (!g->p.rounds)
		g->p.rounds = d.rounds;
	if (!g->p.depth)
		g->p.depth = d.depth;
	if (!(g->p.eta > 0 && g->p.eta <= 1))
		g->p.eta = d.eta;
	if (!g->p.threads)
		g->p.threads = d.threads;
	if (g->p.max_trees < g->p.rounds)
		g->p.max_trees = g->p.rounds;
	pthread_mutex_init(&g->lock, NULL);
	pthread_mutex_init(&g->train_lock, NULL);
	*out = g;
	return 0;
}

void gbt_close(struct gbt *g)
{
	if (!g)
		return;
	if (g->bst) {
		xgb_thread();
		XGBoosterFree(g->bst);
	}
	pthread_mutex_destroy(&g->lock);
	pthread_mutex_destroy(&g->train_lock);
	free(g);
}

/* Rows as a DMatrix; NaN is missing. 0 or -1 (XGBoost error). */
static int matrix(const float *x, size_t n, DMatrixHandle *dm)
{
	return XGDMatrixCreateFromMat(x, (bst_ulong)n, GBT_FEATURES, NAN, dm);
}

static int set_params(struct gbt *g, BoosterHandle b)
{
	char depth[16], eta[32], threads[16];

	snprintf(depth, sizeof(depth), "%u", g->p.depth);
	snprintf(eta, sizeof(eta), "%.17g", g->p.eta);
	snprintf(threads, sizeof(threads), "%u", g->p.threads);
	if (XGBoosterSetParam(b, "verbosity", "0") ||
	    XGBoosterSetParam(b, "objective", "binary:logistic") ||
	    XGBoosterSetParam(b, "eval_metric", "logloss") ||
	    XGBoosterSetParam(b, "tree_method", "hist") ||
	    XGBoosterSetParam(b, "max_depth", depth) ||
	    XGBoosterSetParam(b, "eta", eta) ||
	    XGBoosterSetParam(b, "nthread", threads))
		return -1;
	return 0;
}

/* A copy of the current model's bytes (malloc'd) and its tree count, for
 * a warm start; *buf NULL when there is no model. Caller holds g->lock.
 * 0 or -1 (XGBoost error), -ENOMEM. */
static int model_bytes(struct gbt *g, void **buf, size_t *len)
{
	const char *raw;
	bst_ulong n;

	*buf = NULL;
	*len = 0;
	if (!g->bst)
		return 0;
	if (XGBoosterSaveModelToBuffer(g->bst, "{\"format\": \"ubj\"}", &n,
				       &raw))
		return -1;
	*buf = malloc(n ? n : 1);
	if (!*buf)
		return -ENOMEM;
	memcpy(*buf, raw, n);
	*len = n;
	return 0;
}

/* Puts b in as the model with `trees` rounds and frees the one there was. */
static void swap_in(struct gbt *g, BoosterHandle b, unsigned trees,
		    int trained)
{
	BoosterHandle old;

	pthread_mutex_lock(&g->lock);
	old = g->bst;
	g->bst = b;
	g->trees = trees;
	if (trained)
		g->trained++;
	pthread_mutex_unlock(&g->lock);
	if (old)
		XGBoosterFree(old);
}

static int check_rows(const float *x, const float *y, size_t n)
{
	size_t ones = 0;

	if (!x || !y)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (y[i] != 0.0f && y[i] != 1.0f)
			return -EINVAL;
		ones += y[i] == 1.0f;
	}
	if (n < GBT_MIN_ROWS || ones == 0 || ones == n)
		return -EAGAIN;
	return 0;
}

/* Builds the new booster: on top of the current model while it has room
 * for another `rounds` trees, else from scratch. Caller holds
 * g->train_lock. */
static int train_locked(struct gbt *g, const float *x, const float *y,
			size_t n)
{
	BoosterHandle b = NULL;
	DMatrixHandle dm = NULL;
	void *prev = NULL;
	size_t prev_len = 0;
	unsigned base = 0;
	int rounds, rc;

	pthread_mutex_lock(&g->lock);
	if (g->bst && g->trees + g->p.rounds <= g->p.max_trees) {
		rc = model_bytes(g, &prev, &prev_len);
		base = g->trees;
	} else {
		rc = 0;
	}
	pthread_mutex_unlock(&g->lock);
	if (rc == -ENOMEM)
		return rc;
	if (rc)
		goto xgb_err;

	if (matrix(x, n, &dm) ||
	    XGDMatrixSetFloatInfo(dm, "label", y, (bst_ulong)n) ||
	    XGBoosterCreate(&dm, 1, &b))
		goto xgb_err;
	if (prev && XGBoosterLoadModelFromBuffer(b, prev, prev_len))
		goto xgb_err;
	if (set_params(g, b))
		goto xgb_err;
	for (unsigned i = 0; i < g->p.rounds; i++)
		if (XGBoosterUpdateOneIter(b, (int)(base + i), dm))
			goto xgb_err;
	if (XGBoosterBoostedRounds(b, &rounds))
		goto xgb_err;
	XGDMatrixFree(dm);
	free(prev);
	swap_in(g, b, (unsigned)rounds, 1);
	return 0;

xgb_err:
	fail_once(g, GBT_FAIL_TRAIN, "training", NULL);
	if (b)
		XGBoosterFree(b);
	if (dm)
		XGDMatrixFree(dm);
	free(prev);
	return -EIO;
}

int gbt_train(struct gbt *g, const float *x, const float *y, size_t n)
{
	int rc = check_rows(x, y, n);

	if (rc)
		return rc;
	xgb_thread();
	pthread_mutex_lock(&g->train_lock);
	rc = train_locked(g, x, y, n);
	pthread_mutex_unlock(&g->train_lock);
	if (rc) {
		pthread_mutex_lock(&g->lock);
		g->failed++;
		pthread_mutex_unlock(&g->lock);
	}
	return rc;
}

int gbt_predict(struct gbt *g, const float *x, size_t n, float *prob)
{
	static const char cfg[] = "{\"type\": 0, \"training\": false, "
		"\"iteration_begin\": 0, \"iteration_end\": 0, "
		"\"strict_shape\": false}";
	DMatrixHandle dm;
	const bst_ulong *shape;
	const float *res;
	bst_ulong dim;
	int rc = 0;

	if (!gbt_ready(g))
		return -ENODATA;
	if (n == 0)
		return 0;
	xgb_thread();
	/* The matrix needs no booster: built before taking the lock. */
	if (matrix(x, n, &dm)) {
		fail_once(g, GBT_FAIL_PREDICT, "prediction", NULL);
		return -EIO;
	}
	pthread_mutex_lock(&g->lock);
	if (!g->bst) {
		rc = -ENODATA;
	} else if (XGBoosterPredictFromDMatrix(g->bst, dm, cfg, &shape, &dim,
					       &res) ||
		   dim != 1 || shape[0] != n) {
		rc = -EIO;
	} else {
		/* The result is the booster's buffer: copied out before
		 * anyone else may call it. */
		memcpy(prob, res, n * sizeof(*prob));
	}
	pthread_mutex_unlock(&g->lock);
	XGDMatrixFree(dm);
	if (rc == -EIO)
		fail_once(g, GBT_FAIL_PREDICT, "prediction", NULL);
	return rc;
}

int gbt_ready(struct gbt *g)
{
	int ready;

	pthread_mutex_lock(&g->lock);
	ready = g->bst != NULL;
	pthread_mutex_unlock(&g->lock);
	return ready;
}

int gbt_save(struct gbt *g, void **buf, size_t *len)
{
	int rc;

	xgb_thread();
	pthread_mutex_lock(&g->lock);
	if (!g->bst)
		rc = -ENODATA;
	else
		rc = model_bytes(g, buf, len);
	pthread_mutex_unlock(&g->lock);
	if (rc == -1) {
		fail_once(g, GBT_FAIL_SAVE, "saving the model", NULL);
		rc = -EIO;
	}
	return rc;
}

/* Loads buf into a new booster and checks it is a model of ours. */
static int load_booster(struct gbt *g, const void *buf, size_t len,
			BoosterHandle *out, unsigned *trees)
{
	BoosterHandle b;
	bst_ulong feats;
	int rounds;

	if (XGBoosterCreate(NULL, 0, &b))
		return -1;
	if (XGBoosterLoadModelFromBuffer(b, buf, (bst_ulong)len) ||
	    XGBoosterGetNumFeature(b, &feats) ||
	    XGBoosterBoostedRounds(b, &rounds)) {
		XGBoosterFree(b);
		return -1;
	}
	if (feats != GBT_FEATURES || rounds <= 0) {
		XGBoosterFree(b);
		return -EINVAL;
	}
	*out = b;
	*trees = (unsigned)rounds;
	return 0;
}

int gbt_load(struct gbt *g, const void *buf, size_t len)
{
	BoosterHandle b;
	unsigned trees;
	int rc;

	/* We save UBJSON, which opens with '{' as JSON does. Anything else
	 * would go to XGBoost's legacy binary reader: refused here. Neither
	 * reader checks the sizes it reads (gbt.h). */
	if (!buf || len < 2 || *(const char *)buf != '{') {
		fail_once(g, GBT_FAIL_LOAD, "loading a model",
			  "not a UBJSON or JSON model");
		return -EINVAL;
	}
	xgb_thread();
	pthread_mutex_lock(&g->train_lock);
	rc = load_booster(g, buf, len, &b, &trees);
	if (rc == 0)
		swap_in(g, b, trees, 0);
	pthread_mutex_unlock(&g->train_lock);
	if (rc == -1)
		fail_once(g, GBT_FAIL_LOAD, "loading a model", NULL);
	else if (rc)
		fail_once(g, GBT_FAIL_LOAD, "loading a model",
			  "not a model of our features, or without trees");
	return rc ? -EINVAL : 0;
}

void gbt_counters(struct gbt *g, uint64_t *trained, uint64_t *failed,
		  unsigned *trees)
{
	pthread_mutex_lock(&g->lock);
	if (trained)
		*trained = g->trained;
	if (failed)
		*failed = g->failed;
	if (trees)
		*trees = g->trees;
	pthread_mutex_unlock(&g->lock);
}
