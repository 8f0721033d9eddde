// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the access series (predict/series.c) and of the
 * forecasters, their ensemble and the accuracy bookkeeping
 * (predict/forecast.c), on synthetic histories whose answers are known:
 * a line, a nightly job, a step, noise, a file polled every 30 s. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "predict/forecast.h"
#include "predict/series.h"
#include "predict/trace.h"
#include "tiering/stats.h"

#define NS      1000000000LL
#define HOUR    (3600 * NS)
#define DAY     (86400 * NS)
#define T0      (1000 * DAY)          /* midnight UTC, far from 0 */

static struct series_params SP;
static struct predict_params PP;

static int setup(void **state)
{
	series_defaults(&SP);
	predict_defaults(&PP);
	return 0;
}

/* ---- series ---- */

static void test_series_bins(void **state)
{
	struct access_series s;
	double out[4];
	size_t held;

	series_init(&s);
	held = series_fine(&s, &SP, T0, out, 4);
	assert_int_equal(held, 0);
	assert_true(out[0] == 0 && out[3] == 0);

	series_add(&s, &SP, T0 + 10 * NS, 1, 0);
	series_add(&s, &SP, T0 + 20 * NS, 2, 0);
	series_add(&s, &SP, T0 + HOUR + 5 * NS, 1, 1);
	assert_int_equal(s.reads, 3);
	assert_int_equal(s.writes, 1);
	held = series_fine(&s, &SP, T0 + HOUR, out, 4);
	assert_int_equal(held, 4);
	assert_true(out[2] == 3 && out[3] == 1 && out[0] == 0);
	/* Two hours later with no access: the bins after the head are 0. */
	series_fine(&s, &SP, T0 + 3 * HOUR, out, 4);
	assert_true(out[0] == 3 && out[1] == 1 && out[2] == 0 && out[3] == 0);
	/* A late access in a kept bin counts there; the head stays. */
	series_add(&s, &SP, T0 + 30 * NS, 1, 0);
	assert_int_equal(s.fine_head, T0 / HOUR + 1);
	series_fine(&s, &SP, T0 + HOUR, out, 2);
	assert_true(out[0] == 4 && out[1] == 1);
	/* The coarse bins are days. */
	series_coarse(&s, &SP, T0 + HOUR, out, 2);
	assert_true(out[0] == 0 && out[1] == 5);
	/* More bins asked than kept: the oldest are 0 and not held. */
	{
		double big[SERIES_FINE + 10];

		held = series_fine(&s, &SP, T0 + HOUR, big, SERIES_FINE + 10);
		assert_int_equal(held, SERIES_FINE);
		assert_true(big[SERIES_FINE + 8] == 4);
	}
}

/* Regression test, failed before its fix (predict/series.c, series_add):
 * with the clock set back by more than SERIES_CLOCK_STEP, every access
 * fell behind the heads and was dropped until the clock was back where
 * it had been (a month ahead: 3 days of reads every 10 min left the bins
 * empty and the sessions frozen); a record kept in shorter bins than
 * now (the fine head far past the bin of now) likewise. The bins and
 * sessions start again from the access. */
static void test_series_clock_back(void **state)
{
	struct access_series s;
	struct series_params p = SP;
	double out[SERIES_FINE], sum = 0;
	int64_t t;
	int i;

	series_init(&s);
	for (i = 0; i < 10; i++)
		series_add(&s, &SP, T0 + 30 * 24 * HOUR + i * NS, 1, 0);
	for (i = 0, t = T0; i < 432; i++, t += 600 * NS)
		series_add(&s, &SP, t, 1, 0);
	series_fine(&s, &SP, t, out, SERIES_FINE);
	for (i = 0; i < SERIES_FINE; i++)
		sum += out[i];
	assert_true(sum == 432);
	assert_true(s.last == t - 600 * NS && s.gaps > 0);
	assert_true(series_decayed(&s, &SP, 2, t) > 100.0);

	/* bins of a minute, then of an hour: the head is 60 times ahead */
	p.bin = 60;
	series_init(&s);
	series_add(&s, &p, T0, 1, 0);
	series_add(&s, &SP, T0 + HOUR, 1, 0);
	assert_int_equal(s.fine_head, (T0 + HOUR) / HOUR);
	series_fine(&s, &SP, T0 + HOUR, out, 1);
	assert_true(out[0] == 1);
}

/* A history whose times are before 1970 decodes as corrupt: the
 * differences taken of them overflowed (INT64_MIN + 1 as the stamp made
 * every decayed count inf, as the session start a mean gap of -1.9e9 s,
 * both written back). */
static void test_series_negative_times(void **state)
{
	struct access_series s, d;
	uint8_t buf[SERIES_ENC_SIZE];
	size_t at = 4 + 8 + 8 + 2 * SERIES_FINE + 2 * SERIES_COARSE +
		    8 * SERIES_HALF_LIVES;

	series_init(&s);
	series_add(&s, &SP, T0, 1, 0);
	for (int k = 0; k < 3; k++) {    /* stamp, last, session */
		series_encode(&s, buf);
		memset(buf + at + 8 * k, 0, 8);
		buf[at + 8 * k] = 1;
		buf[at + 8 * k + 7] = 0x80;  /* INT64_MIN + 1 */
		assert_int_equal(series_decode(buf, sizeof(buf), &d), -EUCLEAN);
	}
}

/* Moving the head past bins zeroes them: the ring slots of bins a whole
 * ring older must not show through. */
static void test_series_skipped_zeroed(void **state)
{
	struct access_series s;
	double out[SERIES_FINE];
	int64_t t;
	int i;

	series_init(&s);
	for (i = 0; i < SERIES_FINE; i++)
		series_add(&s, &SP, T0 + i * HOUR, 7, 0);
	/* Skip 10 bins: the 10 slots reused and the new one hold only new. */
	t = T0 + (SERIES_FINE + 10) * HOUR;
	series_add(&s, &SP, t, 1, 0);
	series_fine(&s, &SP, t, out, SERIES_FINE);
	assert_true(out[SERIES_FINE - 1] == 1);
	for (i = SERIES_FINE - 11; i < SERIES_FINE - 1; i++)
		assert_true(out[i] == 0);
	assert_true(out[SERIES_FINE - 12] == 7);
	assert_true(out[0] == 7);
	/* A jump of more than a ring empties it all. */
	t += 2 * SERIES_FINE * HOUR;
	series_add(&s, &SP, t, 1, 0);
	series_fine(&s, &SP, t, out, SERIES_FINE);
	for (i = 0; i < SERIES_FINE - 1; i++)
		assert_true(out[i] == 0);
	assert_true(out[SERIES_FINE - 1] == 1);
}

static void test_series_saturation(void **state)
{
	struct access_series s;
	double out[1];
	int i;

	series_init(&s);
	for (i = 0; i < 10; i++)
		series_add(&s, &SP, T0 + i * NS / 100, 10000, 0);
	series_fine(&s, &SP, T0, out, 1);
	assert_true(out[0] == UINT16_MAX);
	series_coarse(&s, &SP, T0, out, 1);
	assert_true(out[0] == UINT16_MAX);
	assert_int_equal(s.reads, 100000);
	series_add(&s, &SP, T0 + NS, 1e12, 0);
	assert_int_equal(s.reads, UINT32_MAX);
}

static void test_series_decayed(void **state)
{
	struct access_series s;

	series_init(&s);
	series_add(&s, &SP, T0, 4, 0);
	assert_float_equal(series_decayed(&s, &SP, 0, T0), 4, 1e-9);
	assert_float_equal(series_decayed(&s, &SP, 0, T0 + 300 * NS), 2, 1e-9);
	assert_float_equal(series_decayed(&s, &SP, 1, T0 + 3600 * NS), 2,
			   1e-9);
	assert_float_equal(series_decayed(&s, &SP, 2, T0 + DAY), 2, 1e-9);
	/* A late access is decayed to the stamp. */
	series_add(&s, &SP, T0 - 300 * NS, 2, 0);
	assert_float_equal(series_decayed(&s, &SP, 0, T0), 5, 1e-9);
	assert_float_equal(series_decayed(&s, &SP, 5, T0), 0, 0);
}

/* Sessions: accesses closer than `burst` are one; gaps are start to
 * start; the EWMA starts at the first gap. */
static void test_series_sessions(void **state)
{
	struct access_series s;
	int64_t t;
	int i, j;

	series_init(&s);
	for (i = 0; i < 5; i++) {
		t = T0 + i * 600 * NS;
		/* 300 requests 1 ms apart: one session. */
		for (j = 0; j < 300; j++)
			series_add(&s, &SP, t + j * NS / 1000, 1, 0);
	}
	assert_int_equal(s.gaps, 4);
	assert_float_equal(s.gap_mean, 600, 1e-6);
	assert_float_equal(s.gap_var, 0, 1e-6);
	assert_int_equal(s.session, T0 + 4 * 600 * NS);
	/* Gaps 100 then 300: mean 100 + 0.25 * 200 = 150; variance
	 * 0.75 * (0 + 0.25 * 200^2) = 7500. */
	series_init(&s);
	series_add(&s, &SP, T0, 1, 0);
	series_add(&s, &SP, T0 + 100 * NS, 1, 0);
	series_add(&s, &SP, T0 + 400 * NS, 1, 0);
	assert_int_equal(s.gaps, 2);
	assert_float_equal(s.gap_mean, 150, 1e-9);
	assert_float_equal(s.gap_var, 7500, 1e-9);
	/* A late access opens no session. */
	series_add(&s, &SP, T0 + 200 * NS, 1, 0);
	assert_int_equal(s.gaps, 2);
	assert_int_equal(s.last, T0 + 400 * NS);
}

static void test_series_merge(void **state)
{
	struct access_series a, b;
	double out[3];
	int i;

	series_init(&a);
	series_init(&b);
	series_add(&a, &SP, T0, 1, 0);
	for (i = 0; i < 4; i++)
		series_add(&b, &SP, T0 + i * HOUR, 2, 1);
	series_merge(&a, &b, &SP);
	series_fine(&a, &SP, T0 + 2 * HOUR, out, 3);
	assert_true(out[0] == 3 && out[1] == 2 && out[2] == 2);
	assert_int_equal(a.fine_head, b.fine_head);
	assert_int_equal(a.reads, 1);
	assert_int_equal(a.writes, 8);
	assert_int_equal(a.gaps, 3);
	assert_float_equal(a.gap_mean, 3600, 1e-9);
	assert_int_equal(a.last, T0 + 3 * HOUR);
	assert_float_equal(series_decayed(&a, &SP, 2, T0 + 3 * HOUR),
			   exp2(-3.0 / 24) * 3 + exp2(-2.0 / 24) * 2 +
			   exp2(-1.0 / 24) * 2 + 2, 1e-9);
	/* Into an empty one: a copy. */
	series_init(&a);
	series_merge(&a, &b, &SP);
	series_fine(&a, &SP, T0 + 2 * HOUR, out, 3);
	assert_true(out[0] == 2 && out[1] == 2 && out[2] == 2);
	series_coarse(&a, &SP, T0, out, 1);
	assert_true(out[0] == 8);
}

static void assert_series_equal(const struct access_series *a,
				const struct access_series *b)
{
	assert_int_equal(a->fine_head, b->fine_head);
	assert_int_equal(a->coarse_head, b->coarse_head);
	assert_memory_equal(a->fine, b->fine, sizeof(a->fine));
	assert_memory_equal(a->coarse, b->coarse, sizeof(a->coarse));
	assert_memory_equal(a->decayed, b->decayed, sizeof(a->decayed));
	assert_int_equal(a->stamp, b->stamp);
	assert_int_equal(a->last, b->last);
	assert_int_equal(a->session, b->session);
	assert_true(a->gap_mean == b->gap_mean);
	assert_true(a->gap_var == b->gap_var);
	assert_int_equal(a->gaps, b->gaps);
	assert_int_equal(a->reads, b->reads);
	assert_int_equal(a->writes, b->writes);
}

static void test_series_encoding(void **state)
{
	struct access_series s, d;
	uint8_t buf[SERIES_ENC_SIZE], bad[SERIES_ENC_SIZE];
	double nan = NAN, neg = -1;
	size_t off;
	int i;

	series_init(&s);
	for (i = 0; i < 50; i++)
		series_add(&s, &SP, T0 + i * 1234 * NS, 1 + i % 3, i % 2);
	series_encode(&s, buf);
	memset(&d, 0xa5, sizeof(d));
	assert_int_equal(series_decode(buf, sizeof(buf), &d), 0);
	assert_series_equal(&s, &d);

	/* An empty one round-trips too. */
	series_init(&s);
	series_encode(&s, buf);
	assert_int_equal(series_decode(buf, sizeof(buf), &d), 0);
	assert_int_equal(d.fine_head, -1);

	assert_int_equal(series_decode(buf, sizeof(buf) - 1, &d), -EUCLEAN);
	memcpy(bad, buf, sizeof(buf));
	bad[0] = 9;                    /* version */
	assert_int_equal(series_decode(bad, sizeof(bad), &d), -EUCLEAN);
	/* decayed[0] sits after the version, the heads and the rings. */
	off = 4 + 16 + 2 * SERIES_FINE + 2 * SERIES_COARSE;
	memcpy(bad, buf, sizeof(buf));
	memcpy(bad + off, &nan, 8);
	assert_int_equal(series_decode(bad, sizeof(bad), &d), -EUCLEAN);
	memcpy(bad, buf, sizeof(buf));
	memcpy(bad + off, &neg, 8);
	assert_int_equal(series_decode(bad, sizeof(bad), &d), -EUCLEAN);
	/* gap_mean: after the decayed counts and three times. */
	off += 8 * SERIES_HALF_LIVES + 24;
	memcpy(bad, buf, sizeof(buf));
	memcpy(bad + off, &neg, 8);
	assert_int_equal(series_decode(bad, sizeof(bad), &d), -EUCLEAN);
	/* A failed decode leaves out alone. */
	assert_int_equal(d.fine_head, -1);
}

/* ---- forecasters ---- */

/* A tiny deterministic generator, so the noise test is reproducible. */
static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

struct hist {
	struct access_stats st;
	struct access_series se;
};

static void hist_init(struct hist *h)
{
	memset(&h->st, 0, sizeof(h->st));
	series_init(&h->se);
}

static void hist_read(struct hist *h, int64_t t)
{
	stats_add(&h->st, STATS_READ, 4096, t, PP.half_life, 1);
	series_add(&h->se, &PP.series, t, 1, 0);
}

static void test_linear(void **state)
{
	double y[10], a, b, r2;
	int i;

	for (i = 0; i < 10; i++)
		y[i] = 3 + 2 * i;
	assert_int_equal(predict_linear(y, 10, &a, &b, &r2), 0);
	assert_float_equal(a, 3, 1e-9);
	assert_float_equal(b, 2, 1e-9);
	assert_float_equal(r2, 1, 1e-9);
	/* Noise on the line: the slope is still about 2, the fit worse. */
	for (i = 0; i < 10; i++)
		y[i] = 3 + 2 * i + (i % 2 ? 1.5 : -1.5);
	assert_int_equal(predict_linear(y, 10, &a, &b, &r2), 0);
	assert_true(fabs(b - 2) < 0.2);
	assert_true(r2 > 0.8 && r2 < 1);
	for (i = 0; i < 10; i++)
		y[i] = 4;
	assert_int_equal(predict_linear(y, 10, &a, &b, &r2), 0);
	assert_float_equal(b, 0, 1e-9);
	assert_float_equal(r2, 0, 0);
	assert_int_equal(predict_linear(y, 2, &a, &b, &r2), -EINVAL);
}

static void test_period_direct(void **state)
{
	double y[240], acf[120], v;
	int i, r;

	for (i = 0; i < 240; i++)
		y[i] = i % 24 == 2 ? 20 : 0;
	assert_int_equal(predict_period(y, 240, 120, 0.5, acf), 24);
	assert_true(acf[23] > 0.85);
	assert_true(acf[47] < acf[23]);
	for (i = 0; i < 240; i++)
		y[i] = 3;
	assert_int_equal(predict_period(y, 240, 120, 0.5, acf), 0);
	assert_true(acf[23] == 0);
	/* A step: a slow decline, no period. */
	for (i = 0; i < 240; i++)
		y[i] = i < 180 ? 1 + (rnd() % 3) * 0.1 : 10;
	assert_int_equal(predict_period(y, 240, 120, 0.5, acf), 0);
	/* Random walks: their autocorrelation wanders down with bumps above
	 * 0.5 in about one in a hundred, none of them a period. */
	for (r = 0; r < 300; r++) {
		v = 50;
		for (i = 0; i < 240; i++) {
			v += (double)(rnd() % 3) - 1;
			y[i] = v;
		}
		assert_int_equal(predict_period(y, 240, 120, 0.5, acf), 0);
	}
	/* A daily wave under noise is one. */
	for (i = 0; i < 240; i++)
		y[i] = 5 + 4 * sin(2 * M_PI * i / 24) + (rnd() % 5) * 0.5;
	assert_int_equal(predict_period(y, 240, 120, 0.5, acf), 24);
}

/* A nightly job: 20 reads from 02:00 each day for 10 days. Played twice:
 * reads 20 s apart (20 sessions a night, the gaps useless: `next` comes
 * from the period), and reads 10 ms apart (one session a night: `next`
 * from the gaps). */
static void test_nightly(void **state)
{
	int64_t run, now, due = T0 + 10 * DAY + 2 * HOUR;
	struct predict_ensemble e;
	struct forecast f, g;
	struct hist h;
	int v, d, i;

	for (v = 0; v < 2; v++) {
		hist_init(&h);
		for (d = 0; d < 10; d++) {
			run = T0 + d * DAY + 2 * HOUR;
			for (i = 0; i < 20; i++)
				hist_read(&h, run + i * (v ? NS / 100 : 20 * NS));
		}
		/* 01:30 on day 10: the run is due in half an hour. */
		now = T0 + 10 * DAY + 90 * 60 * NS;
		forecast_eval(&PP, &h.st, &h.se, NULL, NULL, now, &f);
		assert_float_equal(f.period, 86400, 0);
		assert_true(f.acf > 0.8);
		assert_true(f.m[PM_SEASONAL].valid);
		assert_true(f.m[PM_SEASONAL].prob[1] > 0.99);
		assert_float_equal(f.m[PM_SEASONAL].expected[1], 10, 1e-9);
		assert_true(f.m[PM_SEASONAL].prob[0] < 0.01);
		assert_int_equal(f.m[PM_GAP].valid, v);
		assert_true(llabs(f.next - due) < 10 * 60 * NS);
		assert_true(f.prob[1] > 0.6);
		assert_true(f.confidence > 0 && f.confidence <= 1);
		/* Noon on day 9: the next run is 14 h away. */
		now = T0 + 9 * DAY + 12 * HOUR;
		forecast_eval(&PP, &h.st, &h.se, NULL, NULL, now, &g);
		assert_true(g.m[PM_SEASONAL].prob[1] < 0.01);
		assert_true(g.prob[1] < 0.4);
		/* Equal weights: the decayed rate and the line know nothing
		 * of the time of day and pull both towards the daily mean. */
		assert_true(f.prob[1] > g.prob[1] + 0.2);
		assert_true(llabs(g.next - (T0 + 10 * DAY + 2 * HOUR)) <
			    10 * 60 * NS);
		/* Weights that trust the seasonal model sharpen the mix. */
		ensemble_init(&e);
		for (i = 0; i < PM_COUNT; i++)
			e.weight[i] = i == PM_SEASONAL ? 0.97 : 0.01;
		now = T0 + 10 * DAY + 90 * 60 * NS;
		forecast_eval(&PP, &h.st, &h.se, &e, NULL, now, &f);
		assert_true(f.prob[1] > 0.95);
		now = T0 + 9 * DAY + 12 * HOUR;
		forecast_eval(&PP, &h.st, &h.se, &e, NULL, now, &g);
		assert_true(g.prob[1] < 0.05);
	}
}

/* A file polled every 30 s, in 1 s bins: the gap model places the next
 * read 30 s after the last and is sure of it within a minute. */
static void test_gap_30s(void **state)
{
	struct predict_params p = PP;
	struct forecast f;
	struct hist h;
	int64_t last = 0, now;
	int i;

	p.series.bin = 1;
	p.series.per_coarse = 60;
	p.horizon[0] = 60;
	p.horizon[1] = 300;
	hist_init(&h);
	for (i = 0; i < 40; i++) {
		last = T0 + i * 30 * NS;
		stats_add(&h.st, STATS_READ, 4096, last, p.half_life, 1);
		series_add(&h.se, &p.series, last, 1, 0);
	}
	now = last + 5 * NS;
	forecast_eval(&p, &h.st, &h.se, NULL, NULL, now, &f);
	assert_true(f.m[PM_GAP].valid);
	assert_true(llabs(f.next - (last + 30 * NS)) < NS);
	assert_true(f.m[PM_GAP].prob[0] > 0.95);
	assert_float_equal(f.m[PM_GAP].expected[0], 2, 1e-6);
	assert_true(f.prob[0] > 0.6);
	assert_float_equal(f.period, 30, 0);
	/* A day ahead in 1 s bins: the pattern repeats, 2880 reads (give or
	 * take one read in the bins visited). */
	p.horizon[1] = 86400;
	forecast_eval(&p, &h.st, &h.se, NULL, NULL, now, &f);
	assert_float_equal(f.m[PM_SEASONAL].expected[1], 2880, 100);
	assert_float_equal(f.m[PM_GAP].expected[1], 2880, 1e-6);
	/* Half an hour after the last poll, the next is still on the beat. */
	now = last + 1800 * NS + 10 * NS;
	forecast_eval(&p, &h.st, &h.se, NULL, NULL, now, &f);
	assert_true(f.next >= now);
	assert_true(llabs(f.next - (last + 1830 * NS)) < NS);
}

/* A file read once an hour for 10 days, then ten times an hour for a
 * day: the forecasts rise above the (lagging) decayed baseline. */
/* forecast_next_access: nothing without two sessions; the last session
 * plus the mean gap, regular or not by the spread; nothing once overdue
 * by more than a gap. */
static void test_next_access(void **state)
{
	struct access_series se;
	int64_t t = T0;
	int regular = -1;

	series_init(&se);
	assert_int_equal(forecast_next_access(&se, T0, &regular), 0);
	assert_int_equal(regular, 0);
	series_add(&se, &SP, T0, 1, 0);
	assert_int_equal(forecast_next_access(&se, T0 + NS, &regular), 0);

	for (int i = 1; i <= 10; i++) {
		t = T0 + i * 60 * NS;
		series_add(&se, &SP, t, 1, 0);
	}
	assert_true(llabs(forecast_next_access(&se, t + NS, &regular) -
			  (t + 60 * NS)) < NS / 1000);
	assert_int_equal(regular, 1);
	/* late, but by less than a gap: still due then */
	assert_true(forecast_next_access(&se, t + 100 * NS, &regular) > 0);
	/* overdue by more than a gap: the rhythm is no guide */
	assert_int_equal(forecast_next_access(&se, t + 121 * NS, &regular), 0);
	assert_int_equal(regular, 0);

	/* gaps of 10 s and 300 s in turn: a time, but not a regular one */
	series_init(&se);
	t = T0;
	for (int i = 0; i < 12; i++) {
		t += (i % 2 ? 300 : 10) * NS;
		series_add(&se, &SP, t, 1, 0);
	}
	assert_true(forecast_next_access(&se, t + NS, &regular) > t);
	assert_int_equal(regular, 0);
}

static void test_step(void **state)
{
	struct forecast f;
	struct hist h;
	int64_t t = T0, now;
	int i;

	hist_init(&h);
	for (i = 0; i < 240; i++, t += HOUR)
		hist_read(&h, t + 30 * 60 * NS);
	for (i = 0; i < 240; i++, t += 6 * 60 * NS)
		hist_read(&h, t + 3 * 60 * NS);
	now = t;
	forecast_eval(&PP, &h.st, &h.se, NULL, NULL, now, &f);
	assert_float_equal(f.period, 0, 0);
	assert_true(f.m[PM_TREND].valid);
	assert_true(f.slope > 0);
	assert_true(f.m[PM_SEASONAL].valid);   /* the hour profile */
	assert_float_equal(f.m[PM_SEASONAL].expected[1], 10, 0.5);
	assert_true(f.change > 0.2);
	assert_true(f.trend > 0.1);
	/* And the steady file does not: no change to speak of. */
	hist_init(&h);
	for (i = 0, t = T0; i < 240; i++, t += HOUR)
		hist_read(&h, t + 30 * 60 * NS);
	forecast_eval(&PP, &h.st, &h.se, NULL, NULL, t, &f);
	assert_true(fabs(f.change) < 0.2);
	assert_true(fabs(f.trend) < 0.2);
}

/* Random counts: no period, hence no seasonal `next`. (Confidence may
 * well be high: a file read three times an hour is read within the
 * next hour, whatever the model.) */
static void test_noise(void **state)
{
	struct forecast f;
	struct hist h;
	int i, k, n;

	hist_init(&h);
	for (i = 0; i < 240; i++) {
		n = (int)(rnd() % 7);
		for (k = 0; k < n; k++)
			hist_read(&h, T0 + i * HOUR + (rnd() % 3600) * NS);
	}
	forecast_eval(&PP, &h.st, &h.se, NULL, NULL, T0 + 240 * HOUR, &f);
	assert_float_equal(f.period, 0, 0);
	assert_float_equal(f.acf, 0, 0);
	assert_true(f.prob[1] > 0.9);
}

static void test_empty(void **state)
{
	struct forecast f, zero;
	struct hist h;
	double gbt[PREDICT_HORIZONS] = { 0.5, 0.5 };

	hist_init(&h);
	memset(&zero, 0, sizeof(zero));
	forecast_eval(&PP, &h.st, &h.se, NULL, gbt, T0, &f);
	assert_memory_equal(&f, &zero, sizeof(f));
	forecast_eval(&PP, NULL, &h.se, NULL, NULL, T0, &f);
	assert_memory_equal(&f, &zero, sizeof(f));
	assert_float_equal(predict_anomaly(&PP, &h.se, T0), 0, 0);
}

/* The trees' probability comes in as is; its expected count is the
 * Poisson one. */
static void test_gbt(void **state)
{
	double gbt[PREDICT_HORIZONS] = { 0.5, 1.0 };
	struct forecast f;
	struct hist h;

	hist_init(&h);
	hist_read(&h, T0);
	forecast_eval(&PP, &h.st, &h.se, NULL, gbt, T0 + NS, &f);
	assert_true(f.m[PM_GBT].valid);
	assert_float_equal(f.m[PM_GBT].prob[0], 0.5, 1e-12);
	assert_float_equal(f.m[PM_GBT].expected[0], M_LN2, 1e-12);
	assert_true(isfinite(f.m[PM_GBT].expected[1]));
	/* Baseline and trees only, equally weighted. */
	assert_true(f.m[PM_BASELINE].valid);
	assert_false(f.m[PM_TREND].valid || f.m[PM_SEASONAL].valid ||
		     f.m[PM_GAP].valid);
	assert_float_equal(f.prob[0], (f.m[PM_BASELINE].prob[0] + 0.5) / 2,
			   1e-12);
}

static void test_anomaly(void **state)
{
	struct access_series se;
	int64_t t;
	int i, k;

	series_init(&se);
	for (i = 0; i < 72; i++)
		for (k = 0; k < 5; k++)
			series_add(&se, &PP.series, T0 + i * HOUR + k * 600 * NS,
				   1, 0);
	t = T0 + 72 * HOUR;
	for (k = 0; k < 5; k++)
		series_add(&se, &PP.series, t + k * NS, 1, 0);
	assert_true(predict_anomaly(&PP, &se, t + 30 * 60 * NS) < 3);
	for (k = 0; k < 95; k++)
		series_add(&se, &PP.series, t + k * NS, 1, 0);
	assert_true(predict_anomaly(&PP, &se, t + 30 * 60 * NS) > 3);
	/* Too little history: 0. */
	series_init(&se);
	series_add(&se, &PP.series, T0, 1, 0);
	series_add(&se, &PP.series, T0 + HOUR, 100, 0);
	assert_float_equal(predict_anomaly(&PP, &se, T0 + HOUR), 0, 0);
}

/* ---- scoring ---- */

static void forecast1(struct forecast *f, double expected, double prob)
{
	memset(f, 0, sizeof(*f));
	f->expected[0] = expected;
	f->prob[0] = prob;
}

static void test_accuracy(void **state)
{
	struct predict_accuracy a;
	struct forecast f;
	int i;

	memset(&a, 0, sizeof(a));
	assert_float_equal(accuracy_mae(&a, 0, PM_ENSEMBLE), 0, 0);
	assert_float_equal(accuracy_r2(&a, 0, PM_ENSEMBLE), 0, 0);
	assert_float_equal(accuracy_precision(&a), 0, 0);
	assert_float_equal(accuracy_recall(&a), 0, 0);
	assert_true(accuracy_trusted(&a));

	/* Errors 1 and 3 on actuals 1 and 3: MAE 2, RMSE sqrt(5), R^2
	 * 1 - 10 / 2. The baseline is valid in the second only. */
	forecast1(&f, 2, 0.8);
	accuracy_add(&a, NULL, &f, 0, 1, 0, 0);
	forecast1(&f, 0, 0.1);
	f.m[PM_BASELINE].valid = 1;
	f.m[PM_BASELINE].expected[0] = 3;
	f.m[PM_BASELINE].prob[0] = 1;
	accuracy_add(&a, NULL, &f, 0, 3, 0, 0);
	assert_int_equal(a.h[0][PM_ENSEMBLE].n, 2);
	assert_float_equal(accuracy_mae(&a, 0, PM_ENSEMBLE), 2, 1e-12);
	assert_float_equal(accuracy_rmse(&a, 0, PM_ENSEMBLE), sqrt(5), 1e-12);
	assert_float_equal(accuracy_r2(&a, 0, PM_ENSEMBLE), -4, 1e-12);
	assert_float_equal(a.h[0][PM_ENSEMBLE].sum_brier,
			   0.2 * 0.2 + 0.9 * 0.9, 1e-12);
	assert_int_equal(a.h[0][PM_BASELINE].n, 1);
	assert_float_equal(accuracy_mae(&a, 0, PM_BASELINE), 0, 0);
	assert_int_equal(a.h[0][PM_TREND].n, 0);
	assert_int_equal(a.h[1][PM_ENSEMBLE].n, 0);
	/* Fewer than two forecasts: no R^2. */
	assert_float_equal(accuracy_r2(&a, 0, PM_BASELINE), 0, 0);
	/* Bad horizon, bad model, negative actual: ignored or 0. */
	accuracy_add(&a, NULL, &f, 2, 1, 0, 0);
	accuracy_add(&a, NULL, &f, 0, -1, 0, 0);
	accuracy_add(&a, NULL, &f, 0, NAN, 0, 0);
	assert_int_equal(a.h[0][PM_ENSEMBLE].n, 2);
	assert_float_equal(accuracy_mae(&a, 5, 0), 0, 0);
	assert_float_equal(accuracy_mae(&a, 0, 9), 0, 0);

	/* Perfect forecasts on horizon 1: R^2 = 1. */
	for (i = 0; i < 5; i++) {
		memset(&f, 0, sizeof(f));
		f.expected[1] = i;
		accuracy_add(&a, NULL, &f, 1, i, 0, 0);
	}
	assert_float_equal(accuracy_r2(&a, 1, PM_ENSEMBLE), 1, 1e-12);
	assert_float_equal(accuracy_rmse(&a, 1, PM_ENSEMBLE), 0, 0);

	/* Promotions: 3 hits, 1 miss; 2 more accesses not foreseen; a
	 * demotion followed by silence and one followed by an access. */
	memset(&a, 0, sizeof(a));
	forecast1(&f, 1, 0.9);
	for (i = 0; i < 3; i++)
		accuracy_add(&a, NULL, &f, 0, 1, 1, 0);
	accuracy_add(&a, NULL, &f, 0, 0, 1, 0);
	accuracy_add(&a, NULL, &f, 0, 2, 0, 0);
	accuracy_add(&a, NULL, &f, 0, 1, 0, 0);
	accuracy_add(&a, NULL, &f, 0, 0, 0, 1);
	accuracy_add(&a, NULL, &f, 0, 1, 0, 1);
	assert_float_equal(accuracy_precision(&a), 0.75, 1e-12);
	assert_float_equal(accuracy_recall(&a), 3.0 / 6, 1e-12);
	assert_int_equal(a.demoted, 2);
	assert_int_equal(a.demoted_miss, 1);

	/* Wrong promotions: trusted until 20 are scored. */
	memset(&a, 0, sizeof(a));
	for (i = 0; i < 19; i++)
		accuracy_add(&a, NULL, &f, 0, 0, 1, 0);
	assert_true(accuracy_trusted(&a));
	accuracy_add(&a, NULL, &f, 0, 0, 1, 0);
	assert_false(accuracy_trusted(&a));
	/* Half right is enough. */
	for (i = 0; i < 20; i++)
		accuracy_add(&a, NULL, &f, 0, 1, 1, 0);
	assert_true(accuracy_trusted(&a));
}

static void test_ensemble_update(void **state)
{
	struct predict_ensemble e;
	struct forecast f;
	struct predict_accuracy a;
	double sum = 0;
	int i, hit, m;

	ensemble_init(&e);
	for (m = 0; m < PM_COUNT; m++)
		assert_float_equal(e.weight[m], 1.0 / PM_COUNT, 1e-12);
	/* Nothing scored: equal weights stay. */
	ensemble_update(&e);
	assert_float_equal(e.weight[PM_GBT], 1.0 / PM_COUNT, 1e-12);

	/* Baseline always right, trend always wrong, gap right but scored
	 * only 5 times, seasonal never valid. */
	memset(&a, 0, sizeof(a));
	for (i = 0; i < 30; i++) {
		hit = i % 2;
		memset(&f, 0, sizeof(f));
		f.m[PM_BASELINE].valid = 1;
		f.m[PM_BASELINE].prob[0] = hit;
		f.m[PM_TREND].valid = 1;
		f.m[PM_TREND].prob[0] = 1 - hit;
		f.m[PM_GBT].valid = 1;
		f.m[PM_GBT].prob[0] = 0.5;
		f.m[PM_GAP].valid = i < 5;
		f.m[PM_GAP].prob[0] = hit;
		accuracy_add(&a, &e, &f, 0, hit, 0, 0);
	}
	assert_int_equal(e.scored[PM_BASELINE], 30);
	assert_int_equal(e.scored[PM_GAP], 5);
	assert_int_equal(e.scored[PM_SEASONAL], 0);
	assert_float_equal(e.loss[PM_BASELINE], 0, 1e-12);
	assert_float_equal(e.loss[PM_TREND], 1, 1e-12);
	assert_float_equal(e.loss[PM_GBT], 0.25, 1e-12);
	ensemble_update(&e);
	for (m = 0; m < PM_COUNT; m++)
		sum += e.weight[m];
	assert_float_equal(sum, 1, 1e-12);
	assert_true(e.weight[PM_BASELINE] > e.weight[PM_GBT]);
	assert_true(e.weight[PM_GBT] > e.weight[PM_TREND]);
	/* Not judged yet (seasonal never scored, gap 5 times): the average
	 * of the judged ones, 1/0.01, 1/1.01 and 1/0.26. */
	assert_float_equal(e.weight[PM_SEASONAL], e.weight[PM_GAP], 1e-12);
	assert_float_equal(e.weight[PM_BASELINE] / e.weight[PM_TREND],
			   101, 1e-9);
	assert_float_equal(e.weight[PM_GAP] / e.weight[PM_TREND],
			   (100 + 1 / 1.01 + 1 / 0.26) / 3 * 1.01, 1e-9);
}

static void test_accuracy_encoding(void **state)
{
	struct predict_accuracy a, b;
	struct predict_ensemble e, d;
	struct forecast f;
	uint8_t buf[PREDICT_ACC_ENC_MAX], bad[PREDICT_ACC_ENC_MAX];
	double nan = NAN, neg = -1;
	size_t len;
	int i;

	memset(&a, 0, sizeof(a));
	ensemble_init(&e);
	for (i = 0; i < 25; i++) {
		forecast1(&f, i % 4, 0.3);
		f.m[PM_GAP].valid = 1;
		f.m[PM_GAP].prob[0] = 0.7;
		f.expected[1] = 2;
		accuracy_add(&a, &e, &f, i % 2, i % 3, i % 5 == 0, i % 7 == 0);
	}
	ensemble_update(&e);
	len = accuracy_encode(&a, &e, buf);
	assert_true(len > 0 && len <= PREDICT_ACC_ENC_MAX);
	memset(&b, 0xa5, sizeof(b));
	assert_int_equal(accuracy_decode(buf, len, &b, &d), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_memory_equal(&e, &d, sizeof(e));
	/* Without an ensemble on either side. */
	assert_int_equal(accuracy_encode(&a, NULL, buf), len);
	assert_int_equal(accuracy_decode(buf, len, &b, NULL), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	accuracy_encode(&a, &e, buf);

	assert_int_equal(accuracy_decode(buf, len - 1, &b, &d), -EUCLEAN);
	memcpy(bad, buf, len);
	bad[0] = 7;
	assert_int_equal(accuracy_decode(bad, len, &b, &d), -EUCLEAN);
	/* sum_abs of the first score: after the version and n. */
	memcpy(bad, buf, len);
	memcpy(bad + 16, &nan, 8);
	assert_int_equal(accuracy_decode(bad, len, &b, &d), -EUCLEAN);
	memcpy(bad, buf, len);
	memcpy(bad + 16, &neg, 8);
	assert_int_equal(accuracy_decode(bad, len, &b, &d), -EUCLEAN);
	/* The last weight: before five losses and five counts. */
	memcpy(bad, buf, len);
	memcpy(bad + len - 80 - 8, &nan, 8);
	assert_int_equal(accuracy_decode(bad, len, &b, &d), -EUCLEAN);
	/* More hits than promotions. */
	memcpy(bad, buf, len);
	memset(bad + len - 120 - 40, 0xff, 8);
	assert_int_equal(accuracy_decode(bad, len, &b, &d), -EUCLEAN);
	/* What failed left b and d as they were. */
	assert_memory_equal(&a, &b, sizeof(a));
	assert_memory_equal(&e, &d, sizeof(e));
}

/* ---- edges: corrupt heads, huge and early times, trace lines ---- */

/* A head no encoder writes (INT64_MAX) was decoded; merging such a
 * series then overflowed its loop over the bins (and spun forever). A
 * merge with a far head still works: the newer bins win. */
static void test_series_far_head(void **state)
{
	struct access_series a, b;
	uint8_t buf[SERIES_ENC_SIZE];

	series_init(&a);
	series_init(&b);
	series_add(&a, &SP, T0, 1, 0);
	series_add(&b, &SP, T0, 1, 0);
	series_encode(&b, buf);
	for (int i = 0; i < 8; i++)   /* fine_head = INT64_MAX */
		buf[4 + i] = i == 7 ? 0x7f : 0xff;
	assert_int_equal(series_decode(buf, sizeof(buf), &b), -EUCLEAN);
	b.fine_head = ((int64_t)1 << 62) - 1;
	series_merge(&a, &b, &SP);
	assert_int_equal(a.fine_head, b.fine_head);
}

/* A bin far smaller than a nanosecond: the bin number overflowed its
 * conversion, the head became INT64_MIN and every later access was
 * dropped as older than it. */
static void test_series_tiny_bin(void **state)
{
	struct series_params p = SP;
	struct access_series s;
	uint8_t buf[SERIES_ENC_SIZE];

	p.bin = 1e-10;
	series_init(&s);
	series_add(&s, &p, 1700000000 * NS, 1, 0);   /* in 2023 */
	assert_true(s.fine_head > 0);
	series_encode(&s, buf);
	assert_int_equal(series_decode(buf, sizeof(buf), &s), 0);
}

/* Times before 1970 (a clock or trace that far back): the hour-of-day
 * profile was indexed with a negative hour, out of bounds (the
 * sanitizer build sees it). Forecasts stay finite. */
static void test_before_1970(void **state)
{
	struct hist h;
	struct forecast f;

	hist_init(&h);
	for (int i = 0; i < 200; i++)
		hist_read(&h, -30 * DAY + (int64_t)i * 3 * HOUR);
	forecast_eval(&PP, &h.st, &h.se, NULL, NULL, -5 * DAY - 7300 * NS, &f);
	for (int k = 0; k < PREDICT_HORIZONS; k++) {
		assert_true(isfinite(f.expected[k]) && f.expected[k] >= 0);
		for (int m = 0; m < PM_COUNT; m++)
			if (f.m[m].valid)
				assert_true(isfinite(f.m[m].expected[k]));
	}
	assert_true(f.m[PM_GAP].valid);
}

/* Near the last time int64 ns can hold (year 2262): the next access,
 * due after it, was INT64_MIN (1677) instead of unknown (0). */
static void test_next_past_int64(void **state)
{
	struct hist h;
	struct forecast f;
	int64_t t0 = INT64_MAX - 7200 * NS;
	int regular;

	hist_init(&h);
	for (int i = 0; i < 10; i++)
		hist_read(&h, t0 + (int64_t)i * 600 * NS);
	forecast_eval(&PP, &h.st, &h.se, NULL, NULL, INT64_MAX - NS, &f);
	assert_true(f.next >= 0);
	assert_true(forecast_next_access(&h.se, INT64_MAX - NS, &regular) >= 0);
}

/* One line of a trace in format fmt after a good one: the good one is
 * read, then the line is refused with "not a ... record". */
static void trace_refuses(int fmt, const char *good, const char *line)
{
	char path[] = "/tmp/test_predict.trace.XXXXXX", err[256] = "";
	struct trace *t;
	struct trace_req r;
	FILE *f;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f, "%s\n%s\n", good, line);
	fclose(f);
	assert_int_equal(trace_open(path, fmt, &t, err, sizeof(err)), 0);
	assert_int_equal(trace_next(t, &r, err, sizeof(err)), 1);
	assert_true(r.time >= 0);
	if (trace_next(t, &r, err, sizeof(err)) >= 0)
		fail_msg("%s: '%s' read as time %" PRId64 " offset %" PRIu64,
			 trace_fmt_name(fmt), line, r.time, r.offset);
	assert_non_null(strstr(err, "not a"));
	trace_close(t);
	unlink(path);
}

/* Numbers a trace line cannot mean: a time past what int64 ns hold
 * (overflowed into negative times), inf and nan (an out-of-range
 * conversion), a number with a sign or blanks before it (" -5" was read
 * as 2^64 - 5). */
static void test_trace_bad_numbers(void **state)
{
	trace_refuses(TRACE_SYSTOR, "1.5,0.001,R,1,0,4096", "inf,0.001,R,1,0,4096");
	trace_refuses(TRACE_SYSTOR, "1.5,0.001,R,1,0,4096", "nan,0.001,R,1,0,4096");
	trace_refuses(TRACE_SYSTOR, "1.5,0.001,R,1,0,4096", "1e19,0.001,W,1,0,4096");
	trace_refuses(TRACE_CLOUDPHYSICS, "1,10,28,4096,8", "1,10000000000,28,4096,8");
	trace_refuses(TRACE_CLOUDPHYSICS, "1,10,28,4096,8", "1, -5,28,4096,8");
	trace_refuses(TRACE_CLOUDPHYSICS, "1,10,28,4096,8", "1,10,28,4096, -1");
	trace_refuses(TRACE_SNIA_STORAGE, "10,0,8,0,1", "10000000000,0,8,0,1");
	trace_refuses(TRACE_MSR, "128166372003061629,h,0,Read,0,4096,10",
		      "300000000000000000,h,0,Read,0,4096,10");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_series_bins),
		cmocka_unit_test(test_series_clock_back),
		cmocka_unit_test(test_series_negative_times),
		cmocka_unit_test(test_series_skipped_zeroed),
		cmocka_unit_test(test_series_saturation),
		cmocka_unit_test(test_series_decayed),
		cmocka_unit_test(test_series_sessions),
		cmocka_unit_test(test_series_merge),
		cmocka_unit_test(test_series_encoding),
		cmocka_unit_test(test_linear),
		cmocka_unit_test(test_period_direct),
		cmocka_unit_test(test_nightly),
		cmocka_unit_test(test_gap_30s),
		cmocka_unit_test(test_next_access),
		cmocka_unit_test(test_step),
		cmocka_unit_test(test_noise),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_gbt),
		cmocka_unit_test(test_anomaly),
		cmocka_unit_test(test_accuracy),
		cmocka_unit_test(test_ensemble_update),
		cmocka_unit_test(test_accuracy_encoding),
		cmocka_unit_test(test_series_far_head),
		cmocka_unit_test(test_series_tiny_bin),
		cmocka_unit_test(test_before_1970),
		cmocka_unit_test(test_next_past_int64),
		cmocka_unit_test(test_trace_bad_numbers),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
