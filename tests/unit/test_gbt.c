// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the gradient-boosted trees (predict/gbt.c): the features
 * of a hand-built history, learning a synthetic problem, warm start up
 * to max_trees, the refusals (too few rows, one label, no model, bytes
 * that are not a model), the save/load round trip, and training while
 * another thread predicts. XGBoost itself is real: linked, not mocked. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "predict/gbt.h"

#define NS      1000000000LL
#define NOW     (1710510300LL * NS)   /* 2024-03-15 13:45:00 UTC, a Friday */
#define EPS     1e-5

static struct predict_params P;

static int setup(void **state)
{
	/* By hand: series.c and forecast.c are not needed by the trees. */
	memset(&P, 0, sizeof(P));
	P.series.bin = 3600;
	P.series.per_coarse = 24;
	P.series.burst = 1;
	P.series.half_life[0] = 300;
	P.series.half_life[1] = 3600;
	P.series.half_life[2] = 86400;
	P.horizon[0] = 300;
	P.horizon[1] = 3600;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- features ---- */

static void test_features(void **state)
{
	struct access_stats st = { 0 };
	struct access_series se;
	float x[GBT_FEATURES];

	memset(&se, 0, sizeof(se));
	st.last = NOW - 100 * NS;
	st.reads = 3;
	st.writes = 1;
	st.hour[13] = 3;
	st.hour[2] = 1;
	se.last = NOW - 200 * NS;      /* older: st's last access counts */
	se.gaps = 3;
	se.gap_mean = 50;
	se.gap_var = 100;
	se.stamp = NOW - 300 * NS;
	se.decayed[0] = se.decayed[1] = se.decayed[2] = 8;
	se.fine_head = 1710510300LL / 3600;
	se.fine[se.fine_head % SERIES_FINE] = 5;

	gbt_features(&P, &st, &se, 1023, 3.0, NOW, x);
	assert_float_equal(x[GF_DECAYED_0], log1p(4.0), EPS);
	assert_float_equal(x[GF_DECAYED_1], log1p(8 * exp2(-300.0 / 3600)),
			   EPS);
	assert_float_equal(x[GF_DECAYED_2], log1p(8 * exp2(-300.0 / 86400)),
			   EPS);
	assert_float_equal(x[GF_SINCE_LAST], log1p(100.0), EPS);
	assert_float_equal(x[GF_GAP_MEAN], log1p(50.0), EPS);
	assert_float_equal(x[GF_GAP_CV], 0.2, EPS);
	assert_float_equal(x[GF_DUE], 2.0, EPS);
	assert_float_equal(x[GF_HOUR], 13, 0);
	assert_float_equal(x[GF_WEEKDAY], 5, 0);
	assert_float_equal(x[GF_HOUR_SHARE], 0.75, EPS);
	assert_float_equal(x[GF_SIZE], 10.0, EPS);
	assert_float_equal(x[GF_READ_SHARE], 0.75, EPS);
	assert_float_equal(x[GF_CO_ACCESS], log1p(3.0), EPS);
	assert_float_equal(x[GF_RECENT], log1p(5.0), EPS);

	/* No infinity reaches the trees. */
	se.gap_var = 1e300;
	gbt_features(&P, &st, &se, 1023, 3.0, NOW, x);
	assert_true(isfinite(x[GF_GAP_CV]));
	se.gap_var = 100;

	/* Long overdue: capped. The newest bin is an hour old: nothing recent. */
	gbt_features(&P, &st, &se, 0, -1.0, NOW + 3600 * NS, x);
	assert_float_equal(x[GF_DUE], 10.0, 0);
	assert_float_equal(x[GF_RECENT], 0, 0);
	assert_float_equal(x[GF_HOUR], 14, 0);
	assert_float_equal(x[GF_SIZE], 0, 0);
	assert_float_equal(x[GF_CO_ACCESS], 0, 0);
	/* Saturday just after midnight UTC. */
	gbt_features(&P, &st, &se, 0, 0, NOW + (10 * 3600 + 15 * 60 + 1) * NS,
		     x);
	assert_float_equal(x[GF_HOUR], 0, 0);
	assert_float_equal(x[GF_WEEKDAY], 6, 0);

	/* An empty history: what is unknown is missing (NaN) to the trees. */
	memset(&st, 0, sizeof(st));
	memset(&se, 0, sizeof(se));
	se.fine_head = -1;
	gbt_features(&P, &st, &se, 4095, 0, NOW, x);
	assert_float_equal(x[GF_DECAYED_0], 0, 0);
	assert_true(isnan(x[GF_SINCE_LAST]));
	assert_true(isnan(x[GF_GAP_MEAN]));
	assert_true(isnan(x[GF_GAP_CV]));
	assert_true(isnan(x[GF_DUE]));
	assert_true(isnan(x[GF_HOUR_SHARE]));
	assert_true(isnan(x[GF_READ_SHARE]));
	assert_float_equal(x[GF_SIZE], 12.0, EPS);
	assert_float_equal(x[GF_RECENT], 0, 0);
}

/* ---- a synthetic problem ---- */

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double uniform(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

/* Rows of noise but GF_DUE in [0, 3): accessed (1) iff due >= 1, with 5%
 * of the labels flipped. Some features missing, as in real rows. */
static void synth(float *x, float *y, size_t n, uint64_t seed)
{
	uint64_t s = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		float *r = x + i * GBT_FEATURES;

		for (int f = 0; f < GBT_FEATURES; f++)
			r[f] = (float)(uniform(&s) * 10);
		if (uniform(&s) < 0.1)
			r[GF_GAP_CV] = NAN;
		r[GF_DUE] = (float)(uniform(&s) * 3);
		y[i] = r[GF_DUE] >= 1.0f;
		if (uniform(&s) < 0.05)
			y[i] = 1 - y[i];
	}
}

/* Share of rows whose rounded probability matches the noiseless label. */
static double accuracy(struct gbt *g, uint64_t seed, size_t n)
{
	float *x = malloc(n * GBT_FEATURES * sizeof(*x));
	float *y = malloc(n * sizeof(*y));
	float *p = malloc(n * sizeof(*p));
	size_t ok = 0;

	assert_non_null(x);
	assert_non_null(y);
	assert_non_null(p);
	synth(x, y, n, seed);
	assert_int_equal(gbt_predict(g, x, n, p), 0);
	for (size_t i = 0; i < n; i++) {
		assert_true(p[i] >= 0 && p[i] <= 1);
		ok += (p[i] >= 0.5f) == (x[i * GBT_FEATURES + GF_DUE] >= 1.0f);
	}
	free(x);
	free(y);
	free(p);
	return (double)ok / n;
}

static void train_synth(struct gbt *g, size_t n, uint64_t seed)
{
	float *x = malloc(n * GBT_FEATURES * sizeof(*x));
	float *y = malloc(n * sizeof(*y));

	assert_non_null(x);
	assert_non_null(y);
	synth(x, y, n, seed);
	assert_int_equal(gbt_train(g, x, y, n), 0);
	free(x);
	free(y);
}

static void test_learn(void **state)
{
	struct gbt *g;
	float ext[2][GBT_FEATURES], p[2];
	uint64_t trained, failed;
	unsigned trees;
	char junk[64];
	FILE *out;
	int saved;

	assert_int_equal(gbt_open(NULL, &g), 0);
	assert_int_equal(gbt_ready(g), 0);

	/* Nothing XGBoost says may reach stdout (the daemon's or the
	 * simulator's output): catch fd 1 while it trains. */
	fflush(stdout);
	out = tmpfile();
	assert_non_null(out);
	saved = dup(1);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fileno(out), 1), 1);
	train_synth(g, 2000, 1);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	rewind(out);
	assert_int_equal(fread(junk, 1, sizeof(junk), out), 0);
	fclose(out);

	assert_int_equal(gbt_ready(g), 1);
	gbt_counters(g, &trained, &failed, &trees);
	assert_int_equal(trained, 1);
	assert_int_equal(failed, 0);
	assert_int_equal(trees, 10);
	/* Held-out rows, another seed. */
	assert_true(accuracy(g, 99, 1000) > 0.9);

	/* The two extremes, everything else equal. */
	for (int f = 0; f < GBT_FEATURES; f++)
		ext[0][f] = ext[1][f] = 5;
	ext[0][GF_DUE] = 0.1f;
	ext[1][GF_DUE] = 2.9f;
	assert_int_equal(gbt_predict(g, &ext[0][0], 2, p), 0);
	assert_true(p[0] < 0.3);
	assert_true(p[1] > 0.7);
	assert_int_equal(gbt_predict(g, &ext[0][0], 0, p), 0);
	gbt_close(g);
}

static void test_warm_start(void **state)
{
	struct gbt_params gp;
	struct gbt *g;
	uint64_t trained;
	unsigned trees;

	gbt_defaults(&gp);
	gp.max_trees = 30;
	assert_int_equal(gbt_open(&gp, &g), 0);
	for (unsigned i = 1; i <= 3; i++) {
		train_synth(g, 500, i);
		gbt_counters(g, &trained, NULL, &trees);
		assert_int_equal(trained, i);
		assert_int_equal(trees, 10 * i);
		assert_true(accuracy(g, 99, 500) > 0.85);
	}
	/* Full: the next training starts afresh. */
	train_synth(g, 500, 4);
	gbt_counters(g, &trained, NULL, &trees);
	assert_int_equal(trained, 4);
	assert_int_equal(trees, 10);
	assert_true(accuracy(g, 99, 500) > 0.85);
	gbt_close(g);
}

static void test_refusals(void **state)
{
	float x[40 * GBT_FEATURES], y[40], p[1];
	uint64_t trained, failed;
	unsigned trees;
	void *buf = NULL;
	size_t len = 0;
	struct gbt *g;

	assert_int_equal(gbt_open(NULL, &g), 0);
	synth(x, y, 40, 7);
	assert_int_equal(gbt_predict(g, x, 1, p), -ENODATA);
	assert_int_equal(gbt_save(g, &buf, &len), -ENODATA);
	assert_null(buf);
	/* Too few rows. */
	assert_int_equal(gbt_train(g, x, y, 19), -EAGAIN);
	/* One label only. */
	for (int i = 0; i < 40; i++)
		y[i] = 1;
	assert_int_equal(gbt_train(g, x, y, 40), -EAGAIN);
	for (int i = 0; i < 40; i++)
		y[i] = 0;
	assert_int_equal(gbt_train(g, x, y, 40), -EAGAIN);
	/* Not a label. */
	y[3] = 0.5f;
	assert_int_equal(gbt_train(g, x, y, 40), -EINVAL);
	assert_int_equal(gbt_ready(g), 0);
	assert_int_equal(gbt_predict(g, x, 1, p), -ENODATA);
	gbt_counters(g, &trained, &failed, &trees);
	assert_int_equal(trained, 0);
	assert_int_equal(failed, 0);
	assert_int_equal(trees, 0);
	gbt_close(g);
}

static void test_save_load(void **state)
{
	static const char garbage[] = "this is not a model at all";
	static const char bad_json[] = "{\"learner\": {\"nonsense\": 1}}";
	enum { N = 300 };
	float *x = malloc(N * GBT_FEATURES * sizeof(*x));
	float y[N], p1[N], p2[N], p3[N];
	struct gbt *g, *h;
	unsigned trees;
	void *buf;
	size_t len;

	assert_non_null(x);
	assert_int_equal(gbt_open(NULL, &g), 0);
	assert_int_equal(gbt_open(NULL, &h), 0);
	train_synth(g, 1000, 3);
	synth(x, y, N, 55);
	assert_int_equal(gbt_predict(g, x, N, p1), 0);
	assert_int_equal(gbt_save(g, &buf, &len), 0);
	assert_true(len > 100);

	/* Garbage into an empty model: still no model. */
	assert_int_equal(gbt_load(h, garbage, sizeof(garbage)), -EINVAL);
	assert_int_equal(gbt_predict(h, x, N, p2), -ENODATA);

	assert_int_equal(gbt_load(h, buf, len), 0);
	gbt_counters(h, NULL, NULL, &trees);
	assert_int_equal(trees, 10);
	assert_int_equal(gbt_predict(h, x, N, p2), 0);
	assert_memory_equal(p1, p2, sizeof(p1));

	/* Bytes XGBoost refuses keep the model there was: garbage, JSON
	 * that is no model, a model cut short. */
	assert_int_equal(gbt_load(h, garbage, sizeof(garbage)), -EINVAL);
	assert_int_equal(gbt_load(h, bad_json, sizeof(bad_json) - 1), -EINVAL);
	assert_int_equal(gbt_load(h, buf, len / 2), -EINVAL);
	assert_int_equal(gbt_load(h, NULL, 0), -EINVAL);
	assert_int_equal(gbt_ready(h), 1);
	assert_int_equal(gbt_predict(h, x, N, p3), 0);
	assert_memory_equal(p1, p3, sizeof(p1));

	/* A training XGBoost refuses (an infinity is not a feature value)
	 * fails, is counted, and keeps the model there was too. */
	{
		float *bad = malloc(N * GBT_FEATURES * sizeof(*bad));
		uint64_t trained, failed;

		assert_non_null(bad);
		memcpy(bad, x, N * GBT_FEATURES * sizeof(*bad));
		bad[7] = INFINITY;
		assert_int_equal(gbt_train(h, bad, y, N), -EIO);
		assert_int_equal(gbt_train(h, bad, y, N), -EIO);
		gbt_counters(h, &trained, &failed, &trees);
		assert_int_equal(trained, 0);
		assert_int_equal(failed, 2);
		assert_int_equal(trees, 10);
		assert_int_equal(gbt_predict(h, x, N, p3), 0);
		assert_memory_equal(p1, p3, sizeof(p1));
		free(bad);
	}

	/* Training on top of a loaded model warms up from it. */
	train_synth(h, 500, 8);
	gbt_counters(h, NULL, NULL, &trees);
	assert_int_equal(trees, 20);

	free(buf);
	free(x);
	gbt_close(g);
	gbt_close(h);
}

/* ---- training while predicting ---- */

struct trainer {
	struct gbt *g;
	int rounds;
	int errors;
	int done;                      /* set (atomic) when the loop ends */
};

static void *train_loop(void *arg)
{
	struct trainer *t = arg;
	enum { N = 400 };
	float *x = malloc(N * GBT_FEATURES * sizeof(*x));
	float *y = malloc(N * sizeof(*y));

	for (int i = 0; x && y && i < t->rounds; i++) {
		synth(x, y, N, 100 + i);
		if (gbt_train(t->g, x, y, N))
			t->errors++;
	}
	free(x);
	free(y);
	__atomic_store_n(&t->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_concurrent(void **state)
{
	enum { N = 64 };
	struct gbt_params gp;
	struct trainer t;
	float x[N * GBT_FEATURES], y[N], p[N];
	uint64_t trained;
	pthread_t th;
	int ok = 0;

	gbt_defaults(&gp);
	gp.max_trees = 40;             /* starts afresh along the way */
	assert_int_equal(gbt_open(&gp, &t.g), 0);
	t.rounds = 12;
	t.errors = 0;
	t.done = 0;
	/* A model first, so every prediction below has one to use. */
	train_synth(t.g, 400, 4);
	synth(x, y, N, 5);
	assert_int_equal(pthread_create(&th, NULL, train_loop, &t), 0);
	for (int i = 0; i < 1000000 && !__atomic_load_n(&t.done,
							  __ATOMIC_ACQUIRE);
	     i++) {
		assert_int_equal(gbt_predict(t.g, x, N, p), 0);
		for (int j = 0; j < N; j++)
			assert_true(p[j] >= 0 && p[j] <= 1);
		ok++;
	}
	pthread_join(th, NULL);
	assert_int_equal(t.errors, 0);
	gbt_counters(t.g, &trained, NULL, NULL);
	assert_int_equal(trained, 13);
	printf("gbt: %d predictions during 12 trainings\n", ok);
	assert_true(ok > 12);
	assert_true(accuracy(t.g, 99, 500) > 0.85);
	gbt_close(t.g);
}

/* ---- figures ---- */

static void test_timing(void **state)
{
	enum { N = 20000 };
	float *x = malloc(N * GBT_FEATURES * sizeof(*x));
	float *y = malloc(N * sizeof(*y));
	float *p = malloc(N * sizeof(*p));
	double t0, t1, t2, t3;
	struct gbt *g;

	assert_non_null(x);
	assert_non_null(y);
	assert_non_null(p);
	synth(x, y, N, 11);
	assert_int_equal(gbt_open(NULL, &g), 0);
	t0 = now_s();
	assert_int_equal(gbt_train(g, x, y, N), 0);
	t1 = now_s();
	assert_int_equal(gbt_predict(g, x, N, p), 0);
	t2 = now_s();
	for (int i = 0; i < 100; i++)
		assert_int_equal(gbt_predict(g, x + i * GBT_FEATURES, 1, p), 0);
	t3 = now_s();
	printf("gbt: %d rows x %d features, 10 rounds: train %.3f s, "
	       "predict %d rows %.3f s, one row %.1f us\n", N, GBT_FEATURES,
	       t1 - t0, N, t2 - t1, (t3 - t2) / 100 * 1e6);
	/* Loose bounds: a shared machine, maybe the sanitizer build. */
	assert_true(t1 - t0 < 30);
	assert_true(t2 - t1 < 10);
	gbt_close(g);
	free(x);
	free(y);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_learn),
		cmocka_unit_test(test_warm_start),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_timing),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
