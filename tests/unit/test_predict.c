// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the access series (predict/series.c) and of the
 * forecasters, their ensemble and the accuracy bookkeeping
 * (predict/forecast.c), on synthetic histories whose answers are known:
 * a line, a nightly job, a step, noise, a file polled every 30 s. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "predict/forecast.h"
#include "predict/series.h"
#include "tiering/stats.h"

#define NS      1000000000LL
#define HOUR    (3600 * NS)
#define DAY     (86400 * NS)
#define T0      (1000 * DAY)          /* midnight UTC, far from 0 */

static struct series_params SP;

static int setup(void **state)
{
	series_defaults(&SP);
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
	/* One older than the ring is dropped. */
	series_add(&s, &SP, T0 - (SERIES_FINE + 2) * HOUR, 1, 0);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_series_bins),
		cmocka_unit_test(test_series_skipped_zeroed),
		cmocka_unit_test(test_series_saturation),
		cmocka_unit_test(test_series_decayed),
		cmocka_unit_test(test_series_sessions),
		cmocka_unit_test(test_series_merge),
		cmocka_unit_test(test_series_encoding),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
