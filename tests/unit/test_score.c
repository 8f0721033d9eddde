// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the access statistics (tiering/stats.c) and of the
 * placement score, its policies and the planner (tiering/score.c): every
 * term, every decision rule, the planner's order and watermarks. Two
 * tiers unless a test says otherwise: "nvme" (local, 0.2 ms, 0.10 per
 * GB-month) and "s3" (remote, 40 ms, S3 list prices). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tiering/score.h"
#include "tiering/stats.h"

#define NS      1000000000LL
#define DAY     (86400 * NS)
#define NOW     (1000 * DAY)          /* a Monday-ish time far from 0 */
#define GIB     ((uint64_t)1 << 30)
#define EPS     1e-9

static struct score_params P;

static void tiers2(struct score_tier *t, int prices)
{
	memset(t, 0, 2 * sizeof(*t));
	strcpy(t[0].name, "nvme");
	t[0].local = 1;
	t[0].latency = 0.0002;
	strcpy(t[1].name, "s3");
	t[1].latency = 0.04;
	for (int i = 0; i < 2; i++) {
		t[i].healthy = 1;
		t[i].capacity = 100 * GIB;
		t[i].high_watermark = 0.9;
		t[i].low_watermark = 0.8;
	}
	if (prices) {
		t[0].cost_gb_month = 0.10;
		t[1].cost_gb_month = 0.023;
		t[1].cost_per_1k_get = 0.0004;
		t[1].cost_per_1k_put = 0.005;
		t[1].egress_gb = 0.09;
	}
}

static void input(struct score_input *in, int cur)
{
	memset(in, 0, sizeof(*in));
	in->bytes = GIB;
	in->cur = cur;
	in->pol.pin = -1;
	in->now = NOW;
}

/* `n` reads, one a second, ending `ago` ns before NOW. */
static void reads(struct score_input *in, int n, int64_t ago)
{
	for (int i = n - 1; i >= 0; i--)
		stats_add(&in->st, STATS_READ, 4096, NOW - ago - i * NS,
			  P.half_life, 1.0);
}

static int setup(void **state)
{
	score_defaults(&P);
	return 0;
}

/* ---- statistics ---- */

static void test_stats_decay(void **state)
{
	struct access_stats s = { 0 };

	stats_add(&s, STATS_READ, 100, NOW, 3600, 1.0);
	stats_add(&s, STATS_READ, 100, NOW, 3600, 1.0);
	assert_float_equal(stats_freq(&s, NOW, 3600), 2.0, EPS);
	assert_float_equal(stats_freq(&s, NOW + 3600 * NS, 3600), 1.0, EPS);
	assert_float_equal(stats_freq(&s, NOW + 7200 * NS, 3600), 0.5, EPS);
	/* An earlier time does not warm it up. */
	assert_float_equal(stats_freq(&s, NOW - 3600 * NS, 3600), 2.0, EPS);
	/* The record itself is unchanged by reading the frequency. */
	assert_float_equal(s.freq, 2.0, EPS);
	assert_int_equal(s.stamp, NOW);
	/* A later access decays first, then adds. */
	stats_add(&s, STATS_WRITE, 10, NOW + 3600 * NS, 3600, 1.0);
	assert_float_equal(s.freq, 2.0, EPS);
	assert_int_equal(stats_count(&s), 3);
	assert_int_equal(s.bytes_read, 200);
	assert_int_equal(s.bytes_written, 10);
	assert_int_equal(s.first, NOW);
	assert_int_equal(s.last, NOW + 3600 * NS);
}

static void test_stats_late(void **state)
{
	struct access_stats s = { 0 };

	stats_add(&s, STATS_READ, 1, NOW, 3600, 1.0);
	/* An event one half-life older than the stamp counts half and
	 * does not move the stamp or `last` back; `first` does move. */
	stats_add(&s, STATS_READ, 1, NOW - 3600 * NS, 3600, 1.0);
	assert_float_equal(s.freq, 1.5, EPS);
	assert_int_equal(s.stamp, NOW);
	assert_int_equal(s.last, NOW);
	assert_int_equal(s.first, NOW - 3600 * NS);
	assert_int_equal(s.reads, 2);
	/* A weighted (sampled) event stands for several. */
	stats_add(&s, STATS_OPEN, 0, NOW, 3600, 4.0);
	assert_float_equal(s.freq, 5.5, EPS);
	assert_int_equal(s.opens, 4);
}

static void test_stats_histograms_merge(void **state)
{
	struct access_stats a = { 0 }, b = { 0 };
	int64_t t = (int64_t)86400 * 3 * NS + 5 * 3600 * NS; /* Sun 05:00 */

	stats_add(&a, STATS_READ, 1, t, 3600, 1.0);
	assert_int_equal(a.hour[5], 1);
	assert_int_equal(a.dow[0], 1);
	stats_add(&b, STATS_READ, 1, t + 3600 * NS, 3600, 1.0);
	stats_merge(&a, &b, 3600);
	assert_int_equal(a.stamp, t + 3600 * NS);
	assert_float_equal(a.freq, 1.5, EPS);
	assert_int_equal(a.first, t);
	assert_int_equal(a.last, t + 3600 * NS);
	assert_int_equal(a.reads, 2);
	assert_int_equal(a.hour[6], 1);
}

static void test_stats_encoding(void **state)
{
	struct access_stats s = { 0 }, d;
	uint8_t buf[STATS_ENC_SIZE], bad[STATS_ENC_SIZE];
	double nan_v = NAN, neg = -1.0, huge = 1e300;

	for (int i = 0; i < 30; i++)
		stats_add(&s, i % 3 + 1, 1000 + i, NOW + i * 3700 * NS, 86400,
			  1.0);
	stats_encode(&s, buf);
	memset(&d, 0x5a, sizeof(d));
	assert_int_equal(stats_decode(buf, sizeof(buf), &d), 0);
	assert_memory_equal(&d.freq, &s.freq, sizeof(double));
	assert_int_equal(d.stamp, s.stamp);
	assert_int_equal(d.first, s.first);
	assert_int_equal(d.last, s.last);
	assert_int_equal(d.opens, s.opens);
	assert_int_equal(d.reads, s.reads);
	assert_int_equal(d.writes, s.writes);
	assert_int_equal(d.bytes_read, s.bytes_read);
	assert_int_equal(d.bytes_written, s.bytes_written);
	assert_memory_equal(d.hour, s.hour, sizeof(s.hour));
	assert_memory_equal(d.dow, s.dow, sizeof(s.dow));

	/* Corrupt records: wrong size, wrong version, a NaN or negative
	 * frequency. The output is left alone. */
	memset(&d, 0, sizeof(d));
	assert_int_equal(stats_decode(buf, sizeof(buf) - 1, &d), -EUCLEAN);
	assert_int_equal(stats_decode(buf, 0, &d), -EUCLEAN);
	memcpy(bad, buf, sizeof(bad));
	bad[0] ^= 0xff;
	assert_int_equal(stats_decode(bad, sizeof(bad), &d), -EUCLEAN);
	memcpy(bad, buf, sizeof(bad));
	memcpy(bad + 8, &nan_v, 8);       /* little-endian hosts only */
	assert_int_equal(stats_decode(bad, sizeof(bad), &d), -EUCLEAN);
	memcpy(bad + 8, &neg, 8);
	assert_int_equal(stats_decode(bad, sizeof(bad), &d), -EUCLEAN);
	/* nor a count no clock makes (regression, failed before: 1e300
	 * decoded, and user.dfabric.prediction printed its forecast of 300
	 * digits past the end of its 512-byte buffer; a score went NaN) */
	memcpy(bad + 8, &huge, 8);
	assert_int_equal(stats_decode(bad, sizeof(bad), &d), -EUCLEAN);
	assert_int_equal(d.reads, 0);
}

/* ---- names ---- */

static void test_names(void **state)
{
	assert_string_equal(score_latency_name(SCORE_LAT_STANDARD), "standard");
	assert_string_equal(score_latency_name(SCORE_LAT_CRITICAL), "critical");
	assert_string_equal(score_latency_name(SCORE_LAT_FLEXIBLE), "flexible");
	assert_string_equal(score_latency_name(7), "?");
	assert_string_equal(score_class_name(SCORE_CLASS_PUBLIC), "public");
	assert_string_equal(score_class_name(SCORE_CLASS_PRIVATE), "private");
	assert_string_equal(score_class_name(SCORE_CLASS_RESTRICTED), "restricted");
	assert_string_equal(score_class_name(SCORE_CLASS_CONFIDENTIAL), "confidential");
	assert_string_equal(score_class_name(-1), "?");

	assert_int_equal(score_parse_latency("critical", 8), SCORE_LAT_CRITICAL);
	assert_int_equal(score_parse_latency("flexible", 8), SCORE_LAT_FLEXIBLE);
	assert_int_equal(score_parse_latency("standard", 8), SCORE_LAT_STANDARD);
	/* The length counts, not a NUL: xattr values are not terminated. */
	assert_int_equal(score_parse_latency("criticalXX", 8), SCORE_LAT_CRITICAL);
	assert_int_equal(score_parse_latency("critical", 4), -EINVAL);
	assert_int_equal(score_parse_latency("Critical", 8), -EINVAL);
	assert_int_equal(score_parse_latency("", 0), -EINVAL);
	assert_int_equal(score_parse_class("confidential", 12),
			 SCORE_CLASS_CONFIDENTIAL);
	assert_int_equal(score_parse_class("restricted", 10),
			 SCORE_CLASS_RESTRICTED);
	assert_int_equal(score_parse_class("private", 7), SCORE_CLASS_PRIVATE);
	assert_int_equal(score_parse_class("public", 6), SCORE_CLASS_PUBLIC);
	assert_int_equal(score_parse_class("public\n", 7), -EINVAL);
	assert_int_equal(score_parse_class("secret", 6), -EINVAL);
}

static void test_defaults(void **state)
{
	struct score_params p;

	score_defaults(&p);
	assert_float_equal(p.w_frequency, 0.4, EPS);
	assert_float_equal(p.w_latency, 0.3, EPS);
	assert_float_equal(p.w_cost, 0.2, EPS);
	assert_float_equal(p.w_trend, 0.1, EPS);
	assert_float_equal(p.hysteresis, 0.05, EPS);
	assert_float_equal(p.confidence, 0.7, EPS);
	assert_float_equal(p.half_life, 86400, EPS);
	assert_float_equal(p.hot_freq, 4, EPS);
	assert_float_equal(p.promote_freq, 3, EPS);
	assert_float_equal(p.horizon, 30 * 86400, EPS);
}

/* ---- the terms ---- */

static void test_frequency_term(void **state)
{
	struct score_tier t[3];
	struct score_input in;
	struct score_result r;

	tiers2(t, 0);
	input(&in, 0);
	/* No history: cold, fits the slowest tier. */
	score_eval(&P, t, 2, &in, &r);
	assert_float_equal(r.t[0].frequency, 0.0, EPS);
	assert_float_equal(r.t[1].frequency, 1.0, EPS);
	/* At hot_freq it is half hot: both tiers fit it as well. */
	stats_add(&in.st, STATS_READ, 1, NOW, P.half_life, P.hot_freq);
	score_eval(&P, t, 2, &in, &r);
	assert_float_equal(r.t[0].frequency, 0.5, EPS);
	assert_float_equal(r.t[1].frequency, 0.5, EPS);
	/* Very hot: fits the fastest. */
	stats_add(&in.st, STATS_READ, 1, NOW, P.half_life, 100);
	score_eval(&P, t, 2, &in, &r);
	assert_true(r.t[0].frequency > 0.99);
	assert_true(r.t[1].frequency < 0.01);
	/* One tier: speed 1. */
	score_eval(&P, t, 1, &in, &r);
	assert_true(r.t[0].frequency > 0.99);
	/* Three tiers: the middle one has speed 1/2. */
	memset(&in.st, 0, sizeof(in.st));
	t[2] = t[1];
	strcpy(t[2].name, "glacier");
	score_eval(&P, t, 3, &in, &r);
	assert_float_equal(r.t[1].frequency, 0.5, EPS);
	assert_float_equal(r.t[2].frequency, 1.0, EPS);
}

static void test_latency_term(void **state)
{
	struct score_tier t[2];
	struct score_input in;
	struct score_result r;

	tiers2(t, 0);
	input(&in, 0);
	t[1].latency = 0.2;            /* measured: 200 ms */
	score_eval(&P, t, 2, &in, &r);
	assert_float_equal(r.t[0].latency_fit, 1.0, EPS);
	assert_float_equal(r.t[1].latency_fit, 0.5, EPS);   /* 100/200 */
	in.pol.latency = SCORE_LAT_FLEXIBLE;
	score_eval(&P, t, 2, &in, &r);
	assert_float_equal(r.t[1].latency_fit, 1.0, EPS);
	/* Unknown: 1 ms local, 50 ms remote. */
	t[0].latency = t[1].latency = -1;
	in.pol.latency = SCORE_LAT_STANDARD;
	score_eval(&P, t, 2, &in, &r);
	assert_float_equal(r.t[0].latency_fit, 1.0, EPS);
	assert_float_equal(r.t[1].latency_fit, 1.0, EPS);
	in.pol.latency = SCORE_LAT_CRITICAL;
	score_eval(&P, t, 2, &in, &r);
	assert_float_equal(r.t[0].latency_fit, 1.0, EPS);
	assert_float_equal(r.t[1].latency_fit, 0.2, EPS);   /* 10/50 */
}

static void test_cost_term(void **state)
{
	struct score_tier t[2];
	struct score_input in;
	struct score_result r;

	/* Missing prices: equal on every tier. */
	tiers2(t, 0);
	input(&in, 0);
	reads(&in, 3, 10 * DAY);
	score_eval(&P, t, 2, &in, &r);
	assert_float_equal(r.t[0].cost_saving, 1.0, EPS);
	assert_float_equal(r.t[1].cost_saving, 1.0, EPS);
	assert_float_equal(r.t[0].monthly_cost, 0.0, EPS);

	/* Nobody reads it: storage only, and the dearest tier gets 0. */
	tiers2(t, 1);
	input(&in, 0);
	score_eval(&P, t, 2, &in, &r);
	assert_float_equal(r.t[0].monthly_cost, 0.10, EPS);
	assert_float_equal(r.t[1].monthly_cost, 0.023, EPS);
	assert_float_equal(r.t[0].move_cost, 0.0, EPS);
	/* Moving 1 GiB into s3: 256 PUTs of 4 MiB. */
	assert_float_equal(r.t[1].move_cost, 256 * 0.005 / 1000, EPS);
	assert_float_equal(r.t[0].cost_saving, 0.0, EPS);
	assert_true(r.t[1].cost_saving > 0.7);
	for (int i = 0; i < 2; i++)
		assert_true(r.t[i].cost_saving >= 0 && r.t[i].cost_saving <= 1);

	/* Read hot: GETs and egress make s3 the dearer tier. The rate from
	 * the decayed frequency: freq·ln2·month/half_life reads a month. */
	input(&in, 1);
	stats_add(&in.st, STATS_READ, 1000 * GIB, NOW, P.half_life, 1000);
	score_eval(&P, t, 2, &in, &r);
	{
		double acc = 1000 * M_LN2 * 30;       /* half-life = 1 day */
		double want = 0.023 + acc * 0.0004 / 1000 + acc * 1.0 * 0.09;

		assert_float_equal(r.t[1].monthly_cost, want, 1e-6);
	}
	assert_true(r.t[0].cost_saving > r.t[1].cost_saving);
	assert_float_equal(r.t[1].cost_saving, 0.0, EPS);
	/* Out of s3: the egress of the move itself counts. */
	assert_true(r.t[0].move_cost >= 0.09);
}

static void test_trend_term(void **state)
{
	struct score_tier t[2];
	struct score_input in;
	struct score_result r;

	tiers2(t, 0);
	input(&in, 0);
	score_eval(&P, t, 2, &in, &r);
	assert_float_equal(r.t[0].trend, 0.5, EPS);
	assert_float_equal(r.t[1].trend, 0.5, EPS);
	in.trend = 1.0;
	score_eval(&P, t, 2, &in, &r);
	assert_float_equal(r.t[0].trend, 1.0, EPS);
	assert_float_equal(r.t[1].trend, 0.0, EPS);
	in.trend = -0.5;
	score_eval(&P, t, 2, &in, &r);
	assert_float_equal(r.t[0].trend, 0.25, EPS);
	assert_float_equal(r.t[1].trend, 0.75, EPS);
	in.trend = 7;                  /* out of range: clamped */
	score_eval(&P, t, 2, &in, &r);
	assert_float_equal(r.t[0].trend, 1.0, EPS);
	in.trend = NAN;                /* none (was NaN in every total) */
	score_eval(&P, t, 2, &in, &r);
	assert_float_equal(r.t[0].trend, 0.5, EPS);
	assert_true(isfinite(r.t[0].total) && isfinite(r.t[1].total));
}

static void test_total_and_range(void **state)
{
	struct score_tier t[2];
	struct score_input in;
	struct score_result r;

	tiers2(t, 1);
	input(&in, 1);
	reads(&in, 20, 0);
	in.trend = 0.3;
	score_eval(&P, t, 2, &in, &r);
	for (int i = 0; i < 2; i++) {
		const struct score_terms *x = &r.t[i];

		assert_true(x->frequency >= 0 && x->frequency <= 1);
		assert_true(x->latency_fit >= 0 && x->latency_fit <= 1);
		assert_true(x->cost_saving >= 0 && x->cost_saving <= 1);
		assert_true(x->trend >= 0 && x->trend <= 1);
		assert_float_equal(x->total, 0.4 * x->frequency +
				   0.3 * x->latency_fit + 0.2 * x->cost_saving +
				   0.1 * x->trend, EPS);
	}
	assert_int_equal(r.ntiers, 2);
}

static void test_confidence(void **state)
{
	struct score_tier t[2];
	struct score_input in;
	struct score_result r;

	tiers2(t, 0);
	/* No history: none. */
	input(&in, 0);
	score_eval(&P, t, 2, &in, &r);
	assert_float_equal(r.confidence, 0.0, EPS);
	/* One read just now: little. */
	reads(&in, 1, 0);
	score_eval(&P, t, 2, &in, &r);
	assert_float_equal(r.confidence, 1 - exp(-1.0 / 5), EPS);
	/* One read ten days ago: watched for longer than a half-life,
	 * confidently cold. */
	input(&in, 0);
	reads(&in, 1, 10 * DAY);
	score_eval(&P, t, 2, &in, &r);
	assert_float_equal(r.confidence, 1.0, EPS);
	/* Twenty reads in a burst: confidently hot. */
	input(&in, 0);
	reads(&in, 20, 0);
	score_eval(&P, t, 2, &in, &r);
	assert_true(r.confidence > 0.98);
	/* A prediction's confidence is blended in, history counting
	 * twice. */
	input(&in, 0);
	reads(&in, 1, 0);
	in.trend = 0.5;
	in.trend_confidence = 0.9;
	score_eval(&P, t, 2, &in, &r);
	assert_float_equal(r.confidence, (2 * (1 - exp(-0.2)) + 0.9) / 3, EPS);
}

/* ---- policies ---- */

static void test_allowed(void **state)
{
	struct score_tier t[3];
	struct score_policy p = { -1, SCORE_LAT_STANDARD, SCORE_CLASS_PUBLIC };
	char why[SCORE_WHY_MAX];

	tiers2(t, 0);
	t[2] = t[1];
	strcpy(t[2].name, "hdd");
	t[2].local = 1;
	t[2].latency = 0.008;
	assert_int_equal(score_allowed(t, 3, 1, &p, why, sizeof(why)), 1);
	assert_string_equal(why, "");
	assert_int_equal(score_allowed(t, 3, 3, &p, why, sizeof(why)), 0);
	assert_int_equal(score_allowed(t, 3, -1, &p, NULL, 0), 0);
	/* Pin: only that tier. */
	p.pin = 1;
	assert_int_equal(score_allowed(t, 3, 0, &p, why, sizeof(why)), 0);
	assert_string_equal(why, "pinned to s3");
	assert_int_equal(score_allowed(t, 3, 1, &p, why, sizeof(why)), 1);
	p.pin = -1;
	/* Confidential: local only. */
	p.cls = SCORE_CLASS_CONFIDENTIAL;
	assert_int_equal(score_allowed(t, 3, 1, &p, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "confidential"));
	assert_int_equal(score_allowed(t, 3, 2, &p, why, sizeof(why)), 1);
	/* Restricted: local, or private = yes. */
	p.cls = SCORE_CLASS_RESTRICTED;
	assert_int_equal(score_allowed(t, 3, 1, &p, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "restricted"));
	t[1].private_tier = 1;
	assert_int_equal(score_allowed(t, 3, 1, &p, why, sizeof(why)), 1);
	/* Private and public: anywhere. */
	t[1].private_tier = 0;
	p.cls = SCORE_CLASS_PRIVATE;
	assert_int_equal(score_allowed(t, 3, 1, &p, NULL, 0), 1);
	p.cls = SCORE_CLASS_PUBLIC;
	/* Unhealthy. */
	t[2].healthy = 0;
	assert_int_equal(score_allowed(t, 3, 2, &p, why, sizeof(why)), 0);
	assert_string_equal(why, "unhealthy");
	t[2].healthy = 1;
	/* Critical: only tiers within 10 ms while one is. */
	p.latency = SCORE_LAT_CRITICAL;
	assert_int_equal(score_allowed(t, 3, 1, &p, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "critical"));
	assert_int_equal(score_allowed(t, 3, 2, &p, why, sizeof(why)), 1);
	/* ... and when none of its allowed tiers is, all of them are. */
	t[0].latency = t[2].latency = 0.5;
	assert_int_equal(score_allowed(t, 3, 1, &p, why, sizeof(why)), 1);
	/* A pin to a slow tier wins over the latency class. */
	t[0].latency = 0.0002;
	p.pin = 1;
	assert_int_equal(score_allowed(t, 3, 1, &p, why, sizeof(why)), 1);
}

/* ---- decisions ---- */

static void test_move_cold_down(void **state)
{
	struct score_tier t[2];
	struct score_input in;
	struct score_result r;

	tiers2(t, 1);
	input(&in, 0);
	reads(&in, 3, 10 * DAY);       /* idle for ten days */
	score_eval(&P, t, 2, &in, &r);
	assert_int_equal(r.decision, SCORE_MOVE);
	assert_int_equal(r.best, 1);
	assert_int_equal(r.target, 1);
	assert_float_equal(r.benefit, r.t[1].total - r.t[0].total, EPS);
	assert_true(r.benefit >= P.hysteresis);
	assert_non_null(strstr(r.reason, "move nvme->s3"));
	assert_non_null(strstr(r.reason, "frequency and cost prefer s3"));
	assert_non_null(strstr(r.reason, "confidence 1.00"));
}

static void test_move_hot_up(void **state)
{
	struct score_tier t[2];
	struct score_input in;
	struct score_result r;
	struct score_params p = P;

	/* Forty small reads: only the frequency prefers nvme (s3 is still
	 * the cheaper place for a 1 GiB file read 4 KiB at a time), but it
	 * is above promote_freq: promoted as a read would promote it. */
	tiers2(t, 1);
	input(&in, 1);
	reads(&in, 40, 0);
	score_eval(&P, t, 2, &in, &r);
	assert_int_equal(r.best, 0);
	assert_int_equal(r.decision, SCORE_MOVE);
	assert_int_equal(r.target, 0);
	assert_non_null(strstr(r.reason, "promote s3->nvme: frequency 39.9"));
	assert_non_null(strstr(r.reason, " >= 3.00, total"));
	/* With a promotion threshold above its frequency, the frequency
	 * alone does not move it. */
	p.promote_freq = 100;
	score_eval(&p, t, 2, &in, &r);
	assert_int_equal(r.decision, SCORE_STAY);
	assert_non_null(strstr(r.reason, "only frequency prefers nvme"));
	/* Read whole: the egress makes nvme cheaper too, and it moves on
	 * two terms. */
	input(&in, 1);
	for (int i = 0; i < 40; i++)
		stats_add(&in.st, STATS_READ, GIB, NOW - i * NS, P.half_life, 1);
	score_eval(&p, t, 2, &in, &r);
	assert_int_equal(r.decision, SCORE_MOVE);
	assert_int_equal(r.target, 0);
	assert_non_null(strstr(r.reason, "move s3->nvme"));
	assert_non_null(strstr(r.reason, "frequency and cost prefer nvme"));
	/* Already there: stays. */
	in.cur = 0;
	score_eval(&P, t, 2, &in, &r);
	assert_int_equal(r.decision, SCORE_STAY);
	assert_int_equal(r.target, -1);
	assert_float_equal(r.benefit, 0, EPS);
	assert_non_null(strstr(r.reason, "stay on nvme"));
}

static void test_one_factor_alone(void **state)
{
	struct score_tier t[2];
	struct score_input in;
	struct score_result r;

	/* Without prices only the frequency prefers s3: no move, though
	 * the margin and the confidence are there. */
	tiers2(t, 0);
	input(&in, 0);
	reads(&in, 3, 10 * DAY);
	score_eval(&P, t, 2, &in, &r);
	assert_int_equal(r.best, 1);
	assert_true(r.t[1].total - r.t[0].total >= P.hysteresis);
	assert_true(r.confidence >= P.confidence);
	assert_int_equal(r.decision, SCORE_STAY);
	assert_int_equal(r.target, -1);
	assert_non_null(strstr(r.reason, "only frequency prefers s3"));
	assert_non_null(strstr(r.reason, "one factor alone"));
	/* A prediction of further cooling is a second term. */
	in.trend = -0.5;
	score_eval(&P, t, 2, &in, &r);
	assert_int_equal(r.decision, SCORE_MOVE);
	assert_non_null(strstr(r.reason, "frequency and trend"));
}

static void test_empty_history(void **state)
{
	struct score_tier t[2];
	struct score_input in;
	struct score_result r;

	tiers2(t, 1);
	input(&in, 0);
	score_eval(&P, t, 2, &in, &r);
	assert_int_equal(r.best, 1);
	assert_int_equal(r.decision, SCORE_STAY);
	assert_float_equal(r.confidence, 0, EPS);
	assert_non_null(strstr(r.reason, "confidence 0.00 < 0.70"));
}

static void test_hysteresis(void **state)
{
	struct score_tier t[2];
	struct score_input in;
	struct score_result r;
	struct score_params p = P;

	tiers2(t, 1);
	input(&in, 0);
	reads(&in, 3, 10 * DAY);
	score_eval(&p, t, 2, &in, &r);
	assert_int_equal(r.decision, SCORE_MOVE);
	/* A margin just above the benefit keeps it; exactly the benefit
	 * moves it. */
	p.hysteresis = r.benefit + 0.001;
	score_eval(&p, t, 2, &in, &r);
	assert_int_equal(r.decision, SCORE_STAY);
	assert_non_null(strstr(r.reason, "<"));
	p.hysteresis = r.t[1].total - r.t[0].total;
	score_eval(&p, t, 2, &in, &r);
	assert_int_equal(r.decision, SCORE_MOVE);
}

static void test_latency_not_met(void **state)
{
	struct score_tier t[2];
	struct score_input in;
	struct score_result r;

	/* s3 measured at 300 ms: a cold standard file would score best
	 * there, but the class is not met. */
	tiers2(t, 1);
	t[1].latency = 0.3;
	input(&in, 0);
	reads(&in, 3, 10 * DAY);
	score_eval(&P, t, 2, &in, &r);
	assert_int_equal(r.best, 1);
	assert_int_equal(r.decision, SCORE_STAY);
	assert_non_null(strstr(r.reason, "misses the standard latency class"));
	/* Flexible: fine. */
	in.pol.latency = SCORE_LAT_FLEXIBLE;
	score_eval(&P, t, 2, &in, &r);
	assert_int_equal(r.decision, SCORE_MOVE);
}

static void test_critical(void **state)
{
	struct score_tier t[2];
	struct score_input in;
	struct score_result r;

	/* A critical file on s3 (40 ms) must come to nvme, however cold. */
	tiers2(t, 1);
	input(&in, 1);
	in.pol.latency = SCORE_LAT_CRITICAL;
	score_eval(&P, t, 2, &in, &r);
	assert_int_equal(r.decision, SCORE_FORCED);
	assert_int_equal(r.target, 0);
	assert_non_null(strstr(r.reason, "too slow for critical"));
	/* nvme sick: s3 is all it has, it stays. */
	t[0].healthy = 0;
	score_eval(&P, t, 2, &in, &r);
	assert_int_equal(r.decision, SCORE_STAY);
	assert_int_equal(r.best, 1);
}

static void test_forced(void **state)
{
	struct score_tier t[2];
	struct score_input in;
	struct score_result r;

	tiers2(t, 1);
	/* A pin elsewhere moves even with no history at all. */
	input(&in, 0);
	in.pol.pin = 1;
	score_eval(&P, t, 2, &in, &r);
	assert_int_equal(r.decision, SCORE_FORCED);
	assert_int_equal(r.target, 1);
	assert_true(r.t[0].allowed == 0 && r.t[1].allowed == 1);
	assert_string_equal(r.reason, "forced nvme->s3: pinned to s3");
	/* A hot file pinned to s3 stays there. */
	input(&in, 1);
	in.pol.pin = 1;
	reads(&in, 40, 0);
	score_eval(&P, t, 2, &in, &r);
	assert_int_equal(r.decision, SCORE_STAY);
	/* Confidential data on s3 comes home. */
	input(&in, 1);
	in.pol.cls = SCORE_CLASS_CONFIDENTIAL;
	score_eval(&P, t, 2, &in, &r);
	assert_int_equal(r.decision, SCORE_FORCED);
	assert_int_equal(r.target, 0);
	assert_non_null(strstr(r.reason, "confidential"));
	/* Its tier is sick: leaves it. */
	input(&in, 1);
	t[1].healthy = 0;
	score_eval(&P, t, 2, &in, &r);
	assert_int_equal(r.decision, SCORE_FORCED);
	assert_int_equal(r.target, 0);
	assert_non_null(strstr(r.reason, "unhealthy"));
	/* Pinned to a sick tier: nowhere to go, stays. */
	in.pol.pin = 1;
	score_eval(&P, t, 2, &in, &r);
	assert_int_equal(r.best, -1);
	assert_int_equal(r.decision, SCORE_STAY);
	assert_int_equal(r.target, -1);
}

static void test_ties(void **state)
{
	struct score_tier t[3];
	struct score_input in;
	struct score_result r;

	/* Heat 1/2 on two tiers without prices: equal totals. The current
	 * tier wins a tie. */
	tiers2(t, 0);
	input(&in, 1);
	stats_add(&in.st, STATS_READ, 1, NOW - 10 * DAY, P.half_life,
		  P.hot_freq * 1024);  /* ten half-lives: hot_freq now */
	score_eval(&P, t, 2, &in, &r);
	assert_float_equal(r.t[0].total, r.t[1].total, 1e-9);
	assert_int_equal(r.best, 1);
	assert_int_equal(r.decision, SCORE_STAY);
	in.cur = 0;
	score_eval(&P, t, 2, &in, &r);
	assert_int_equal(r.best, 0);
	/* Not on either (its tier is sick): the faster one wins. */
	t[2] = t[1];
	strcpy(t[2].name, "sick");
	t[2].healthy = 0;
	/* Three tiers: speeds 1, 1/2, 0; the middle one is sick and holds
	 * it; the two others tie. */
	t[1] = t[2];
	t[2] = t[0];
	strcpy(t[2].name, "slow");
	in.cur = 1;
	score_eval(&P, t, 3, &in, &r);
	assert_float_equal(r.t[0].total, r.t[2].total, 1e-9);
	assert_int_equal(r.best, 0);
	assert_int_equal(r.decision, SCORE_FORCED);
	assert_int_equal(r.target, 0);
}

/* ---- the planner ---- */

static struct plan_item item(uint64_t id, uint64_t bytes, int cur, int target,
			     double benefit, double heat)
{
	struct plan_item it = { id, bytes, cur, target, 0, benefit, heat, 3, 0, 0, 0, { 0 } };

	return it;
}

static void test_plan_order(void **state)
{
	struct score_tier t[2];
	struct plan_item it[4];
	struct plan_move m[8];
	size_t n;

	tiers2(t, 1);
	t[0].capacity = 10 * GIB;
	t[0].used = 5 * GIB;
	t[1].used = 50 * GIB;
	/* below promote_freq (3): moves of the score, not by heat */
	it[0] = item(10, GIB, 1, 0, 0.10, 2);
	it[1] = item(11, GIB, 1, 0, 0.30, 2.5);
	it[2] = item(12, GIB, 0, 1, 0.5, 0);
	it[2].forced = 1;
	it[3] = item(13, GIB, 1, -1, 0, 1);     /* stays */
	n = score_plan(&P, t, 2, it, 4, m, 8);
	assert_int_equal(n, 3);
	/* Forced first, then by benefit. */
	assert_int_equal(m[0].id, 12);
	assert_int_equal(m[0].why, 1);
	assert_int_equal(m[0].from, 0);
	assert_int_equal(m[0].to, 1);
	assert_int_equal(m[1].id, 11);
	assert_int_equal(m[1].why, 0);
	assert_int_equal(m[2].id, 10);
	assert_true(m[0].priority > m[1].priority);
	assert_true(m[1].priority > m[2].priority);
	assert_int_equal(t[0].used, 6 * GIB);
	assert_int_equal(t[1].used, 49 * GIB);
	/* At most max moves. */
	tiers2(t, 1);
	n = score_plan(&P, t, 2, it, 4, m, 1);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].id, 12);
	assert_int_equal(score_plan(&P, t, 2, it, 0, m, 8), 0);
}

static void test_plan_high_watermark(void **state)
{
	struct score_tier t[2];
	struct plan_item it[2];
	struct plan_move m[4];
	size_t n;

	/* nvme 10 GiB at 8 GiB: a 1 GiB promotion fits under 90%, the
	 * second would not. */
	tiers2(t, 1);
	t[0].capacity = 10 * GIB;
	t[0].used = 8 * GIB;
	it[0] = item(1, GIB, 1, 0, 0.3, 2);
	it[1] = item(2, GIB, 1, 0, 0.2, 2);
	n = score_plan(&P, t, 2, it, 2, m, 4);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].id, 1);
	assert_int_equal(t[0].used, 9 * GIB);
}

/* A promotion the score proposes for an item hot enough for promotion by
 * heat (>= promote_freq) is one: it fills the tier to its low watermark,
 * not its high one, and past colder items only. Before, it filled to the
 * high watermark, and what a watermark demotion had just taken down to
 * the low watermark came straight back at the next pass (review). */
static void test_plan_hot_promotion_low_watermark(void **state)
{
	struct score_tier t[2];
	struct plan_item it[2];
	struct plan_move m[4];

	/* nvme 10 GiB at its low watermark (8 GiB), all of it hotter */
	tiers2(t, 1);
	t[0].capacity = 10 * GIB;
	t[0].used = 8 * GIB;
	it[0] = item(1, GIB, 1, 0, 0.3, 5);
	assert_int_equal(score_plan(&P, t, 2, it, 1, m, 4), 0);
	assert_int_equal(t[0].used, 8 * GIB);
	/* a colder item there makes room for it */
	it[1] = item(2, GIB, 0, -1, 0, 4);
	assert_int_equal(score_plan(&P, t, 2, it, 2, m, 4), 2);
	assert_int_equal(m[0].id, 2);
	assert_int_equal(m[0].why, 2);
	assert_int_equal(m[1].id, 1);
	assert_int_equal(m[1].why, 3);
	assert_int_equal(t[0].used, 8 * GIB);
}

static void test_plan_demotions(void **state)
{
	struct score_tier t[3];
	struct plan_item it[6];
	struct plan_move m[8];
	size_t n;

	/* nvme 10 GiB holding 9.5 GiB (above 90%): demote the coldest,
	 * never the pinned, until at 80%: 1.5 GiB, i.e. two items of
	 * 1 GiB. */
	tiers2(t, 1);
	t[0].capacity = 10 * GIB;
	t[0].used = 9 * GIB + GIB / 2;
	it[0] = item(1, GIB, 0, -1, 0, 5.0);
	it[1] = item(2, GIB, 0, -1, 0, 0.1);
	it[1].pinned = 1;              /* the coldest, but pinned */
	it[2] = item(3, GIB, 0, -1, 0, 0.5);
	it[3] = item(4, GIB, 0, -1, 0, 3.0);
	it[4] = item(5, GIB, 0, -1, 0, 0.7);
	it[5] = item(6, GIB, 1, -1, 0, 0.0);     /* on s3 already */
	n = score_plan(&P, t, 2, it, 6, m, 8);
	assert_int_equal(n, 2);
	assert_int_equal(m[0].id, 3);
	assert_int_equal(m[1].id, 5);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(m[i].why, 2);
		assert_int_equal(m[i].from, 0);
		assert_int_equal(m[i].to, 1);
	}
	assert_true(m[0].priority > m[1].priority);  /* colder first */
	assert_int_equal(t[0].used, 7 * GIB + GIB / 2);

	/* Not allowed on the next tier: skips to the one after. */
	tiers2(t, 1);
	t[2] = t[1];
	strcpy(t[2].name, "glacier");
	t[0].capacity = 10 * GIB;
	t[0].used = 10 * GIB;
	it[2].allowed = 1u | 4u;
	n = score_plan(&P, t, 3, it, 5, m, 8);
	assert_true(n >= 2);
	assert_int_equal(m[0].id, 3);
	assert_int_equal(m[0].to, 2);
	assert_int_equal(m[1].id, 5);
	assert_int_equal(m[1].to, 1);
	/* Under the high watermark: nothing to do. */
	tiers2(t, 1);
	t[0].capacity = 10 * GIB;
	t[0].used = 9 * GIB;
	assert_int_equal(score_plan(&P, t, 2, it, 5, m, 8), 0);
	/* No room below: nothing moves. */
	tiers2(t, 1);
	t[0].capacity = 10 * GIB;
	t[0].used = 10 * GIB;
	t[1].capacity = 10 * GIB;
	t[1].used = 9 * GIB;
	assert_int_equal(score_plan(&P, t, 2, it, 5, m, 8), 0);
}

static void test_plan_promote_by_heat(void **state)
{
	struct score_tier t[2];
	struct plan_item it[6];
	struct plan_move m[8];
	size_t n;

	/* nvme 10 GiB holding 9 GiB: at its high watermark, never above it
	 * (promotions stop there), so the watermark rule alone would never
	 * drain it. A 5-hot item in s3 takes the place of the coldest
	 * one there; a 2-hot one (below promote_freq) does not move. */
	tiers2(t, 1);
	t[0].capacity = 10 * GIB;
	t[0].used = 9 * GIB;
	it[0] = item(1, GIB, 0, -1, 0, 10.0);
	it[1] = item(2, GIB, 0, -1, 0, 0.5);
	it[2] = item(3, GIB, 0, -1, 0, 1.0);
	it[3] = item(4, GIB, 1, -1, 0, 5.0);
	it[4] = item(5, GIB, 1, -1, 0, 2.0);
	it[5] = item(6, GIB, 0, -1, 0, 0.1);
	it[5].pinned = 1;
	n = score_plan(&P, t, 2, it, 6, m, 8);
	/* Promotions fill nvme up to its low watermark (8 GiB) only: the
	 * two coldest unpinned go, then the hot one comes in. */
	assert_int_equal(n, 3);
	assert_int_equal(m[0].id, 2);          /* the coldest unpinned */
	assert_int_equal(m[0].to, 1);
	assert_int_equal(m[0].why, 2);
	assert_int_equal(m[1].id, 3);
	assert_int_equal(m[1].why, 2);
	assert_int_equal(m[2].id, 4);
	assert_int_equal(m[2].to, 0);
	assert_int_equal(m[2].why, 3);
	assert_true(m[0].priority > m[2].priority); /* room first */
	assert_int_equal(t[0].used, 8 * GIB);

	/* What a watermark pass just demoted to the low watermark does not
	 * come back at the next pass while it is no hotter than what stayed
	 * (it would be copied twice for nothing). */
	tiers2(t, 1);
	t[0].capacity = 10 * GIB;
	t[0].used = 8 * GIB;
	{
		struct plan_item pp[3];

		pp[0] = item(1, 4 * GIB, 0, -1, 0, 11.0);
		pp[1] = item(2, 4 * GIB, 0, -1, 0, 11.0);
		pp[2] = item(3, GIB, 1, -1, 0, 11.0);  /* the one demoted */
		n = score_plan(&P, t, 2, pp, 3, m, 8);
		assert_int_equal(n, 0);
	}

	/* Hot, but colder than everything it would displace: stays. */
	tiers2(t, 1);
	t[0].capacity = 10 * GIB;
	t[0].used = 9 * GIB;
	it[1].heat = it[2].heat = 6.0;
	n = score_plan(&P, t, 2, it, 6, m, 8);
	assert_int_equal(n, 0);

	/* Room below the high watermark: promoted without a demotion. */
	tiers2(t, 1);
	t[0].capacity = 10 * GIB;
	t[0].used = 5 * GIB;
	n = score_plan(&P, t, 2, it, 6, m, 8);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].id, 4);
	assert_int_equal(m[0].why, 3);
	/* Not allowed on nvme: stays. */
	it[3].allowed = 2;
	tiers2(t, 1);
	t[0].capacity = 10 * GIB;
	t[0].used = 5 * GIB;
	assert_int_equal(score_plan(&P, t, 2, it, 6, m, 8), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats_decay),
		cmocka_unit_test(test_stats_late),
		cmocka_unit_test(test_stats_histograms_merge),
		cmocka_unit_test(test_stats_encoding),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_frequency_term),
		cmocka_unit_test(test_latency_term),
		cmocka_unit_test(test_cost_term),
		cmocka_unit_test(test_trend_term),
		cmocka_unit_test(test_total_and_range),
		cmocka_unit_test(test_confidence),
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_move_cold_down),
		cmocka_unit_test(test_move_hot_up),
		cmocka_unit_test(test_one_factor_alone),
		cmocka_unit_test(test_empty_history),
		cmocka_unit_test(test_hysteresis),
		cmocka_unit_test(test_latency_not_met),
		cmocka_unit_test(test_critical),
		cmocka_unit_test(test_forced),
		cmocka_unit_test(test_ties),
		cmocka_unit_test(test_plan_order),
		cmocka_unit_test(test_plan_high_watermark),
		cmocka_unit_test(test_plan_hot_promotion_low_watermark),
		cmocka_unit_test(test_plan_demotions),
		cmocka_unit_test(test_plan_promote_by_heat),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
