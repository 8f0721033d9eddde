// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the access profiler (tiering/profile.c) on a real
 * metadata store in a temporary directory: folding, the bounded queue
 * (sampling and drops, never blocking, several producers), persistence
 * across close and open, corrupt records, forgetting a file, promotion on
 * access and the listing. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"
#include "fs/fs.h"
#include "fs/meta.h"
#include "tiering/profile.h"

#define NS 1000000000LL
#define T0 (1700000000LL * NS)         /* a fixed clock for the events */
#define HL 3600.0                      /* half-life of these tests */
#define ES (4u << 20)                  /* extent size the events use */

struct fix {
	char dir[64];                  /* mkdtemp directory */
	char db[96];                   /* the store inside it */
	struct meta *m;
	struct profile *p;
};

static int rm_cb(const char *path, const struct stat *st, int flag,
		 struct FTW *ftw)
{
	return remove(path);
}

static void meta_reopen(struct fix *x)
{
	char err[256];

	meta_close(x->m);
	x->m = NULL;
	assert_int_equal(meta_open(x->db, &x->m, err, sizeof(err)), 0);
}

static void prof_open(struct fix *x, size_t cap, unsigned k, int thread)
{
	/* Scans are tested apart (test_scan): these tests read many files
	 * from one process. */
	struct profile_params pp = { .half_life = HL, .capacity = cap,
				     .sample_k = k, .no_thread = !thread,
				     .scan_min = 1000000 };

	assert_int_equal(profile_open(&pp, x->m, &x->p), 0);
}

static int setup(void **state)
{
	struct fix *x = calloc(1, sizeof(*x));
	char err[256];

	if (!x)
		return -1;
	snprintf(x->dir, sizeof(x->dir), "/tmp/dfprof.XXXXXX");
	if (!mkdtemp(x->dir))
		return -1;
	snprintf(x->db, sizeof(x->db), "%s/meta", x->dir);
	if (meta_open(x->db, &x->m, err, sizeof(err)) < 0)
		return -1;
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fix *x = *state;

	profile_close(x->p);
	meta_close(x->m);
	nftw(x->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	free(x);
	return 0;
}

static struct profile_event ev(uint64_t ino, enum stats_op op, uint64_t off,
			       uint32_t len, int tier, int64_t t)
{
	return (struct profile_event){
		.ino = ino, .op = (uint8_t)op, .off = off, .len = len,
		.ext_off = op == STATS_OPEN ? PROFILE_NO_EXTENT : off - off % ES,
		.tier = (int8_t)tier, .time = t, .uid = 1000, .pid = 42,
	};
}

static void emit(struct profile *p, struct profile_event e)
{
	profile_emit(p, &e);
}

static void test_fold(void **state)
{
	struct fix *x = *state;
	struct access_stats st;
	struct profile_ext *v;
	struct profile_event e;
	size_t n;

	prof_open(x, 0, 0, 0);
	emit(x->p, ev(5, STATS_OPEN, 0, 0, -1, T0));
	emit(x->p, ev(5, STATS_READ, 0, 4096, 0, T0 + 1));
	emit(x->p, ev(5, STATS_READ, ES + 10, 100, 1, T0 + 2));
	emit(x->p, ev(5, STATS_WRITE, 2 * ES, 50, 0, T0 + 3));
	/* one request over two extents: the second piece adds bytes only */
	e = ev(5, STATS_READ, 3 * ES, 10, 0, T0 + 4);
	emit(x->p, e);
	e = ev(5, STATS_READ, 4 * ES, 20, 0, T0 + 4);
	e.cont = PROFILE_CONT_REQUEST;
	emit(x->p, e);
	emit(x->p, ev(6, STATS_READ, 0, 1, 0, T0));
	assert_int_equal(profile_drain(x->p), 7);
	/* a read going on in order in the same extent: a request of the
	 * file, bytes only for the extent; the next extent of the same
	 * request counts for that extent, bytes only for the file */
	e = ev(7, STATS_READ, 1, 9, 0, T0 + 1);
	e.cont = PROFILE_CONT_RUN;
	emit(x->p, e);
	e = ev(7, STATS_READ, ES, 5, 0, T0 + 1);
	e.cont = PROFILE_CONT_REQUEST;
	emit(x->p, e);
	assert_int_equal(profile_drain(x->p), 2);
	assert_int_equal(profile_get(x->p, 7, &st), 0);
	assert_int_equal(st.reads, 1);
	assert_int_equal(st.bytes_read, 9 + 5);
	assert_int_equal(profile_get_extent(x->p, 7, 0, &st), 0);
	assert_int_equal(st.reads, 0);
	assert_int_equal(st.bytes_read, 9);
	assert_int_equal(profile_get_extent(x->p, 7, ES, &st), 0);
	assert_int_equal(st.reads, 1);

	assert_int_equal(profile_get(x->p, 5, &st), 0);
	assert_int_equal(st.opens, 1);
	assert_int_equal(st.reads, 3);
	assert_int_equal(st.writes, 1);
	assert_int_equal(st.bytes_read, 4096 + 100 + 10 + 20);
	assert_int_equal(st.bytes_written, 50);
	assert_true(fabs(st.freq - 5.0) < 1e-6);  /* 5 accesses within 4 ns */
	assert_int_equal(st.first, T0);
	assert_int_equal(st.last, T0 + 4);

	assert_int_equal(profile_get_extent(x->p, 5, ES, &st), 0);
	assert_int_equal(st.reads, 1);
	assert_int_equal(st.bytes_read, 100);
	assert_int_equal(profile_get_extent(x->p, 5, 4 * ES, &st), 0);
	assert_int_equal(st.reads, 1);
	assert_int_equal(profile_get_extent(x->p, 5, 7 * ES, &st), -ENOENT);
	assert_int_equal(profile_get(x->p, 99, &st), -ENOENT);

	assert_int_equal(profile_extents(x->p, 5, &v, &n), 0);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(v[i].off, i * ES);  /* sorted */
	free(v);
	assert_int_equal(profile_extents(x->p, 99, &v, &n), 0);
	assert_null(v);
	assert_int_equal(n, 0);

	/* The frequency halves over a half-life. */
	assert_int_equal(profile_get(x->p, 6, &st), 0);
	assert_true(fabs(stats_freq(&st, T0 + (int64_t)HL * NS,
				    profile_half_life(x->p)) - 0.5) < 1e-9);
}

static void test_full_queue(void **state)
{
	struct fix *x = *state;
	struct profile_counters c;
	struct access_stats st;
	const int total = 1000;

	prof_open(x, 16, 4, 0);
	/* Nobody drains: the ring fills, sampling starts at 80%, then drops. */
	for (int i = 0; i < total; i++)
		emit(x->p, ev(9, STATS_READ, 0, 1, 0, T0 + i));
	profile_counters(x->p, &c);
	assert_int_equal(c.capacity, 16);
	assert_int_equal(c.events + c.sampled + c.dropped, total);
	assert_int_equal(c.events, 16);
	assert_int_equal(c.queued, 16);
	assert_true(c.sampled > 0);
	assert_true(c.dropped > 0);
	/* 12 events before 80% of 16 (12.8) with weight 1, then 1 in 4 kept
	 * with weight 4. */
	assert_int_equal(profile_drain(x->p), 16);
	assert_int_equal(profile_get(x->p, 9, &st), 0);
	assert_int_equal(st.reads, 13 + 3 * 4);
	profile_counters(x->p, &c);
	assert_int_equal(c.queued, 0);
	assert_int_equal(c.folded, 16);

	/* Drained: events are taken again at weight 1. */
	emit(x->p, ev(9, STATS_READ, 0, 1, 0, T0 + total));
	assert_int_equal(profile_drain(x->p), 1);
	profile_counters(x->p, &c);
	assert_int_equal(c.events, 17);
}

struct prod {
	struct profile *p;
	uint64_t ino;
	int n;
};

static void *producer(void *arg)
{
	struct prod *a = arg;

	for (int i = 0; i < a->n; i++)
		emit(a->p, ev(a->ino, STATS_READ, (uint64_t)(i % 8) * ES, 512, 0,
			      T0 + i));
	return NULL;
}

static void test_producers(void **state)
{
	struct fix *x = *state;
	struct prod a[4];
	pthread_t th[4];
	struct profile_counters c;
	struct access_stats st;
	uint64_t reads = 0;
	const int n = 50000;

	/* A small ring and the aggregator thread racing four producers. */
	prof_open(x, 256, 8, 1);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct prod){ x->p, 100 + i, n };
		assert_int_equal(pthread_create(&th[i], NULL, producer, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_true(profile_drain(x->p) >= 0);
	profile_counters(x->p, &c);
	assert_int_equal(c.events + c.sampled + c.dropped, 4 * n);
	assert_int_equal(c.folded, c.events);
	assert_int_equal(c.queued, 0);
	/* A producer that ran while the ring was full may have lost all. */
	assert_true(c.files >= 1 && c.files <= 4);
	assert_true(c.extents >= 1 && c.extents <= 32);
	for (int i = 0; i < 4; i++)
		if (profile_get(x->p, 100 + i, &st) == 0)
			reads += st.reads;
	/* Every folded event counts 1, or 8 when it stands for sampled ones. */
	assert_true(reads >= c.events);
	assert_true(reads <= 8 * c.events);
	assert_true(c.sampled == 0 || reads > c.events);
}

static void test_persist(void **state)
{
	struct fix *x = *state;
	struct access_stats a, b;
	struct profile_counters c;

	prof_open(x, 0, 0, 1);
	for (int i = 0; i < 10; i++)
		emit(x->p, ev(7, STATS_READ, (uint64_t)i * 1000, 1000, 0, T0 + i));
	emit(x->p, ev(8, STATS_WRITE, ES, 10, 0, T0));
	profile_close(x->p);  /* folds and stores what is queued */
	x->p = NULL;
	meta_reopen(x);

	prof_open(x, 0, 0, 0);
	profile_counters(x->p, &c);
	assert_int_equal(c.files, 2);
	assert_int_equal(c.extents, 2);
	assert_int_equal(c.corrupt, 0);
	assert_int_equal(profile_get(x->p, 7, &a), 0);
	assert_int_equal(a.reads, 10);
	assert_int_equal(a.bytes_read, 10000);
	assert_int_equal(a.last, T0 + 9);
	assert_int_equal(profile_get_extent(x->p, 7, 0, &b), 0);
	assert_memory_equal(&a.hour, &b.hour, sizeof(a.hour));
	assert_true(fabs(a.freq - b.freq) < 1e-9);
	assert_int_equal(profile_get_extent(x->p, 8, ES, &b), 0);
	assert_int_equal(b.bytes_written, 10);

	/* More on top of what was loaded. */
	emit(x->p, ev(7, STATS_READ, 0, 1, 0, T0 + 20));
	assert_int_equal(profile_drain(x->p), 1);
	assert_int_equal(profile_get(x->p, 7, &a), 0);
	assert_int_equal(a.reads, 11);
}

/* Regression test, failed before its fix (tiering/profile.c, flush): the
 * records of a batch whose commit failed were no longer dirty, and no
 * later flush wrote them: 50 reads, a failed flush, a clean close, and
 * after a restart the file had no statistics. */
static void test_flush_fails(void **state)
{
	struct fix *x = *state;
	struct access_stats a;
	int rc;

	prof_open(x, 0, 0, 0);
	for (int i = 0; i < 50; i++)
		emit(x->p, ev(9, STATS_READ, (uint64_t)i * 100, 100, 0, T0 + i));
	meta_debug_fail_commits = 1;
	rc = profile_drain(x->p);
	assert_true(rc < 0);
	assert_int_equal(meta_debug_fail_commits, 0);
	profile_close(x->p);  /* the next flush: writes them */
	x->p = NULL;
	meta_reopen(x);
	prof_open(x, 0, 0, 0);
	assert_int_equal(profile_get(x->p, 9, &a), 0);
	assert_int_equal(a.reads, 50);
	assert_int_equal(profile_get_extent(x->p, 9, 0, &a), 0);
	assert_int_equal(a.reads, 50);
}

static void test_corrupt(void **state)
{
	struct fix *x = *state;
	struct profile_counters c;
	struct access_stats st;
	uint8_t key[16] = { 0, 0, 0, 0, 0, 0, 0, 7 };
	uint8_t junk[40];

	prof_open(x, 0, 0, 0);
	emit(x->p, ev(3, STATS_READ, 0, 1, 0, T0));
	emit(x->p, ev(7, STATS_READ, 0, 1, 0, T0));
	assert_int_equal(profile_drain(x->p), 2);
	profile_close(x->p);
	x->p = NULL;
	/* ino 7's file record and an extent record of it become junk. */
	memset(junk, 0xa5, sizeof(junk));
	assert_int_equal(meta_debug_put_raw(x->m, META_CF_ACCESS, key, 8, junk,
					    sizeof(junk)), 0);
	key[15] = 1;
	assert_int_equal(meta_debug_put_raw(x->m, META_CF_ACCESS, key, 16, junk,
					    3), 0);

	prof_open(x, 0, 0, 0);
	profile_counters(x->p, &c);
	assert_int_equal(c.corrupt, 2);
	assert_int_equal(profile_get(x->p, 3, &st), 0);  /* untouched */
	assert_int_equal(st.reads, 1);
	assert_int_equal(profile_get(x->p, 7, &st), 0);  /* reset, extent kept */
	assert_int_equal(st.reads, 0);
	assert_int_equal(profile_get_extent(x->p, 7, 0, &st), 0);
	assert_int_equal(st.reads, 1);
	assert_int_equal(profile_get_extent(x->p, 7, 1, &st), -ENOENT);
	/* The drain's flush deletes the bad records: the next open is clean. */
	assert_int_equal(profile_drain(x->p), 0);
	profile_close(x->p);
	x->p = NULL;
	prof_open(x, 0, 0, 0);
	profile_counters(x->p, &c);
	assert_int_equal(c.corrupt, 0);
	assert_int_equal(c.files, 2);
}

static void test_forget(void **state)
{
	struct fix *x = *state;
	struct profile_counters c;
	struct access_stats st;

	prof_open(x, 0, 0, 0);
	emit(x->p, ev(11, STATS_READ, 0, 1, 0, T0));
	emit(x->p, ev(11, STATS_READ, ES, 1, 0, T0));
	emit(x->p, ev(12, STATS_READ, 0, 1, 0, T0));
	assert_int_equal(profile_drain(x->p), 3);
	emit(x->p, ev(11, STATS_READ, 0, 1, 0, T0 + 1));  /* queued */
	profile_forget(x->p, 11);
	profile_forget(x->p, 999);  /* unknown: nothing */
	assert_int_equal(profile_drain(x->p), 1);  /* the stale event: ignored */
	assert_int_equal(profile_get(x->p, 11, &st), -ENOENT);
	profile_counters(x->p, &c);
	assert_int_equal(c.files, 1);
	assert_int_equal(c.extents, 1);
	assert_int_equal(profile_drain(x->p), 0);
	profile_close(x->p);
	x->p = NULL;
	prof_open(x, 0, 0, 0);
	assert_int_equal(profile_get(x->p, 11, &st), -ENOENT);
	assert_int_equal(profile_get_extent(x->p, 11, ES, &st), -ENOENT);
	assert_int_equal(profile_get(x->p, 12, &st), 0);
}

struct promo_log {
	int n;
	uint64_t ino, off;
	int tier;
	double freq;
	int write;
	struct profile *p;
	int get_rc;                    /* a query from inside the callback */
	int rc;                        /* what the callback returns */
};

static int on_promote(void *arg, uint64_t ino, uint64_t off, int tier,
		      double freq, int write)
{
	struct promo_log *l = arg;
	struct access_stats st;

	l->n++;
	l->ino = ino;
	l->off = off;
	l->tier = tier;
	l->freq = freq;
	l->write = write;
	l->get_rc = profile_get(l->p, ino, &st);
	return l->rc;
}

static void test_promote(void **state)
{
	struct fix *x = *state;
	struct promo_log l = { 0 };
	struct profile_counters c;

	prof_open(x, 0, 0, 0);
	l.p = x->p;
	profile_set_promote_cb(x->p, on_promote, &l, 2.9, 0);
	/* Two reads on tier 1 and many on tier 0: below or not slow; writes
	 * are not asked for. */
	for (int i = 0; i < 5; i++)
		emit(x->p, ev(19, STATS_WRITE, ES, 1, 1, T0 + i));
	emit(x->p, ev(20, STATS_READ, ES, 1, 1, T0));
	emit(x->p, ev(20, STATS_READ, ES, 1, 1, T0 + 1));
	for (int i = 0; i < 10; i++)
		emit(x->p, ev(20, STATS_READ, 0, 1, 0, T0 + i));
	profile_drain(x->p);
	assert_int_equal(l.n, 0);
	/* The third read reaches the threshold. */
	emit(x->p, ev(20, STATS_READ, ES + 5, 1, 1, T0 + 2));
	profile_drain(x->p);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.ino, 20);
	assert_int_equal(l.off, ES);
	assert_int_equal(l.tier, 1);
	assert_true(l.freq >= 2.9);
	assert_int_equal(l.write, 0);
	assert_int_equal(l.get_rc, 0);
	/* Quiet for PROFILE_PROMOTE_QUIET_S, then again. */
	emit(x->p, ev(20, STATS_READ, ES, 1, 1, T0 + 3));
	profile_drain(x->p);
	assert_int_equal(l.n, 1);
	emit(x->p, ev(20, STATS_READ, ES, 1, 1,
		      T0 + 2 + PROFILE_PROMOTE_QUIET_S * NS));
	profile_drain(x->p);
	assert_int_equal(l.n, 2);
	profile_counters(x->p, &c);
	assert_int_equal(c.promotions, 2);
	/* With writes (cache mode): a write on any tier calls it, once per
	 * quiet period per extent, and a hole (tier -1) never does. */
	profile_set_promote_cb(x->p, on_promote, &l, 0, 1);
	emit(x->p, ev(21, STATS_WRITE, 0, 1, 0, T0 + 50 * NS));
	profile_drain(x->p);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.ino, 21);
	assert_int_equal(l.tier, 0);
	assert_int_equal(l.write, 1);
	emit(x->p, ev(21, STATS_WRITE, 0, 1, 0, T0 + 51 * NS));
	emit(x->p, ev(22, STATS_READ, 0, 1, -1, T0 + 51 * NS));
	profile_drain(x->p);
	assert_int_equal(l.n, 3);
	emit(x->p, ev(21, STATS_WRITE, ES, 1, 1, T0 + 52 * NS));
	profile_drain(x->p);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.off, ES);
	assert_int_equal(l.tier, 1);
	assert_int_equal(l.write, 1);
	/* Off. */
	profile_set_promote_cb(x->p, NULL, NULL, 0, 0);
	emit(x->p, ev(20, STATS_READ, ES, 1, 1, T0 + 100 * NS));
	profile_drain(x->p);
	assert_int_equal(l.n, 4);
}

/* An extent refused for now (-EBUSY: a job of its file runs) asks again
 * after PROFILE_PROMOTE_RETRY_MS, not after the quiet period; one taken
 * (0) waits the quiet period out. */
static void test_promote_busy_retry(void **state)
{
	struct fix *x = *state;
	struct promo_log l = { .rc = -EBUSY };
	const int64_t retry = PROFILE_PROMOTE_RETRY_MS * (NS / 1000);

	prof_open(x, 0, 0, 0);
	l.p = x->p;
	profile_set_promote_cb(x->p, on_promote, &l, 0.5, 0);
	emit(x->p, ev(40, STATS_READ, ES, 1, 1, T0));
	profile_drain(x->p);
	assert_int_equal(l.n, 1);
	emit(x->p, ev(40, STATS_READ, ES, 1, 1, T0 + retry - 1));
	profile_drain(x->p);
	assert_int_equal(l.n, 1);
	l.rc = 0;
	emit(x->p, ev(40, STATS_READ, ES, 1, 1, T0 + retry));
	profile_drain(x->p);
	assert_int_equal(l.n, 2);
	emit(x->p, ev(40, STATS_READ, ES, 1, 1, T0 + 2 * retry));
	emit(x->p, ev(40, STATS_READ, ES, 1, 1,
		      T0 + retry + PROFILE_PROMOTE_QUIET_S * NS - 1));
	profile_drain(x->p);
	assert_int_equal(l.n, 2);
	emit(x->p, ev(40, STATS_READ, ES, 1, 1,
		      T0 + retry + PROFILE_PROMOTE_QUIET_S * NS));
	profile_drain(x->p);
	assert_int_equal(l.n, 3);
	/* Another extent of the file, refused, is not held back by it. */
	l.rc = -EBUSY;
	emit(x->p, ev(40, STATS_READ, 2 * ES, 1, 1, T0 + 30 * NS));
	profile_drain(x->p);
	assert_int_equal(l.n, 4);
	emit(x->p, ev(40, STATS_READ, 2 * ES, 1, 1, T0 + 30 * NS + retry));
	profile_drain(x->p);
	assert_int_equal(l.n, 5);
	assert_int_equal(l.off, 2 * ES);
	profile_set_promote_cb(x->p, NULL, NULL, 0, 0);
}

/* A callback that stays in for a while (the aggregator thread's). */
struct slow_cb {
	atomic_int in, calls;
};

static int on_promote_slow(void *arg, uint64_t ino, uint64_t off, int tier,
			   double freq, int write)
{
	struct slow_cb *c = arg;

	atomic_store(&c->in, 1);
	atomic_fetch_add(&c->calls, 1);
	nanosleep(&(struct timespec){ 0, 300 * 1000000 }, NULL);
	atomic_store(&c->in, 0);
	return 0;
}

/* Turning promotion off while the aggregator is in the callback waits
 * until it is out: the fabric then closes what the callback uses. */
static void test_promote_off_waits(void **state)
{
	struct fix *x = *state;
	struct slow_cb c = { 0 };
	int i;

	prof_open(x, 0, 0, 1);
	profile_set_promote_cb(x->p, on_promote_slow, &c, 0, 0);
	emit(x->p, ev(30, STATS_READ, 0, 1, 1, T0));
	for (i = 0; i < 5000 && !atomic_load(&c.in); i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	assert_int_equal(atomic_load(&c.in), 1);
	profile_set_promote_cb(x->p, NULL, NULL, 0, 0);
	assert_int_equal(atomic_load(&c.in), 0);
	assert_int_equal(atomic_load(&c.calls), 1);
}

struct list_acc {
	int n;
	uint64_t sum;
};

static int list_cb(void *arg, uint64_t ino, const struct access_stats *st)
{
	struct list_acc *a = arg;

	a->n++;
	a->sum += ino * st->reads;
	return ino == 1000 ? 7 : 0;
}

static void test_list(void **state)
{
	struct fix *x = *state;
	struct list_acc a = { 0 };

	prof_open(x, 0, 0, 0);
	assert_int_equal(profile_list(x->p, list_cb, &a), 0);
	assert_int_equal(a.n, 0);
	/* Enough files to grow the hash table several times. */
	for (uint64_t i = 1; i <= 5000; i++) {
		emit(x->p, ev(i, STATS_READ, 0, 1, 0, T0));
		if (i % 1000 == 0)
			profile_drain(x->p);
	}
	emit(x->p, ev(1, STATS_READ, 0, 1, 0, T0));
	profile_drain(x->p);
	assert_int_equal(profile_list(x->p, list_cb, &a), 7);  /* stopped */
	a = (struct list_acc){ 0 };
	profile_forget(x->p, 1000);
	assert_int_equal(profile_list(x->p, list_cb, &a), 0);
	assert_int_equal(a.n, 4999);
	assert_int_equal(a.sum, 5000ull * 5001 / 2 - 1000 + 1);
}

static void test_bad_params(void **state)
{
	struct fix *x = *state;
	struct profile_params pp = { .half_life = 0 };

	assert_int_equal(profile_open(&pp, x->m, &x->p), -EINVAL);
	x->p = NULL;
	profile_emit(NULL, NULL);      /* no profiler: nothing */
	profile_forget(NULL, 1);
	profile_close(NULL);
}

/* The daemon's side: fs_create, fs_write and fs_read feed the fabric's
 * profiler and time the tier's reads; the statistics survive closing the
 * fabric and go with the file's last link. */
static struct fabric *fab_open(struct fix *x, struct cfg *c)
{
	char text[512], err[CFG_ERR_MAX], tier[128];
	struct fabric *f;

	snprintf(tier, sizeof(tier), "%s/tier", x->dir);
	mkdir(tier, 0700);
	snprintf(text, sizeof(text), "[fabric]\nmeta = %s/fmeta\n"
		 "[tier.fast]\nkind = local\npath = %s\ncapacity = 1G\n"
		 "[placement]\nhalf_life = 1h\n", x->dir, tier);
	assert_int_equal(cfg_parse_string(text, "t", c, err, sizeof(err)), 0);
	assert_int_equal(fs_fabric_open(c, &f, err, sizeof(err)), 0);
	return f;
}

static void test_fabric(void **state)
{
	struct fix *x = *state;
	struct fs_ctx ctx = { .uid = 1000, .gid = 1000, .pid = 77 };
	struct access_stats st;
	struct fs_status fst;
	struct fs_file *fh;
	struct stat sb;
	struct cfg c;
	struct fabric *f;
	char buf[8192] = { 1 };
	uint64_t ino, ino2, n;
	double lat;

	f = fab_open(x, &c);
	assert_true(profile_half_life(fs_profile(f)) == 3600);
	assert_true(fs_tier_latency(f, 0, &n) == -1);
	assert_int_equal(n, 0);
	assert_int_equal(fs_create(f, &ctx, 1, "a", 0644, O_RDWR, &sb, &fh), 0);
	ino = (uint64_t)sb.st_ino;
	assert_int_equal(fs_write(f, fh, buf, sizeof(buf), 0), sizeof(buf));
	for (int i = 0; i < 5; i++)
		assert_int_equal(fs_read(f, fh, buf, 4096, 4096), 4096);
	assert_int_equal(fs_release(f, fh), 0);
	assert_int_equal(fs_open(f, &ctx, ino, O_RDONLY, &fh), 0);
	assert_int_equal(fs_read(f, fh, buf, sizeof(buf), 0), sizeof(buf));
	assert_int_equal(fs_release(f, fh), 0);
	assert_int_equal(fs_create(f, &ctx, 1, "b", 0644, O_RDWR, &sb, &fh), 0);
	ino2 = (uint64_t)sb.st_ino;
	assert_int_equal(fs_release(f, fh), 0);

	/* the aggregator thread may have folded some already; the
	 * statistics below count them all */
	assert_true(profile_drain(fs_profile(f)) >= 0);
	assert_int_equal(profile_get(fs_profile(f), ino, &st), 0);
	assert_int_equal(st.opens, 2);
	assert_int_equal(st.writes, 1);
	assert_int_equal(st.reads, 6);
	assert_int_equal(st.bytes_read, 5 * 4096 + sizeof(buf));
	assert_int_equal(st.bytes_written, sizeof(buf));
	assert_int_equal(profile_get_extent(fs_profile(f), ino, 0, &st), 0);
	assert_int_equal(st.reads, 6);
	lat = fs_tier_latency(f, 0, &n);
	assert_int_equal(n, 6);
	assert_true(lat > 0 && lat < 1);
	assert_true(fs_tier_latency(f, 3, NULL) == -1);
	assert_int_equal(fs_status(f, &fst), 0);
	assert_int_equal(fst.tiers[0].latency_samples, 6);
	fs_fabric_close(f);

	/* Across a close and an open. */
	f = fab_open(x, &c);
	assert_int_equal(profile_get(fs_profile(f), ino, &st), 0);
	assert_int_equal(st.reads, 6);
	assert_int_equal(profile_get(fs_profile(f), ino2, &st), 0);
	assert_int_equal(st.opens, 1);
	/* The last link goes (the kernel forgot it long ago): so do they. */
	assert_int_equal(fs_unlink(f, 1, "a"), 0);
	assert_int_equal(profile_get(fs_profile(f), ino, &st), -ENOENT);
	fs_fabric_close(f);
	f = fab_open(x, &c);
	assert_int_equal(profile_get(fs_profile(f), ino, &st), -ENOENT);
	assert_int_equal(profile_get(fs_profile(f), ino2, &st), 0);
	fs_fabric_close(f);
}


/* A large file is placed extent by extent: after the whole file went to
 * the slow tier, reads of one extent bring that extent alone back. */
static void test_extent_placement(void **state)
{
	struct fix *x = *state;
	struct fs_ctx ctx = { .uid = 0, .gid = 0, .pid = 1 };
	char text[768], err[CFG_ERR_MAX], fast[128], slow[128];
	struct fs_place_status ps;
	struct access_stats st;
	struct fs_where_ext *w;
	struct fs_file *fh;
	struct stat sb;
	struct cfg c;
	struct fabric *f;
	static char buf[65536];
	uint64_t ino, size;
	size_t n, i;

	snprintf(fast, sizeof(fast), "%s/fast", x->dir);
	snprintf(slow, sizeof(slow), "%s/slow", x->dir);
	mkdir(fast, 0700);
	mkdir(slow, 0700);
	snprintf(text, sizeof(text), "[fabric]\nmeta = %s/pmeta\nextent_size = 64K\n"
		 "[tier.fast]\nkind = local\npath = %s\ncapacity = 1G\n"
		 "[tier.slow]\nkind = local\npath = %s\ncapacity = 1G\n",
		 x->dir, fast, slow);
	assert_int_equal(cfg_parse_string(text, "t", &c, err, sizeof(err)), 0);
	assert_int_equal(fs_fabric_open(&c, &f, err, sizeof(err)), 0);
	assert_int_equal(fs_create(f, &ctx, 1, "big", 0644, O_RDWR, &sb, &fh), 0);
	ino = (uint64_t)sb.st_ino;
	for (i = 0; i < 20; i++) {
		memset(buf, (int)i + 1, sizeof(buf));
		assert_int_equal(fs_write(f, fh, buf, sizeof(buf), i * sizeof(buf)),
				 sizeof(buf));
	}
	assert_true(fs_migrate(f, ino, 0, UINT64_MAX, "slow", 0) > 0);
	assert_int_equal(fs_migrate_wait(f, 20000), 0);
	for (i = 0; i < 10; i++)
		assert_int_equal(fs_read(f, fh, buf, 4096, 3 * sizeof(buf)), 4096);
	/* The fabric's aggregator thread may have folded some of them
	 * already: what counts is that all ten are in the statistics. */
	assert_true(profile_drain(fs_profile(f)) >= 0);
	assert_int_equal(profile_get(fs_profile(f), ino, &st), 0);
	assert_true(st.reads >= 10);
	assert_int_equal(fs_place(f, &ps), 0);
	assert_int_equal(ps.last.moves, 1);
	assert_int_equal(fs_migrate_wait(f, 20000), 0);
	assert_int_equal(fs_where(f, ino, &w, &n, &size), 0);
	assert_int_equal(n, 20);
	for (i = 0; i < n; i++)
		assert_string_equal(w[i].tier, i == 3 ? "fast" : "slow");
	free(w);
	assert_int_equal(fs_read(f, fh, buf, sizeof(buf), 3 * sizeof(buf)),
			 sizeof(buf));
	for (i = 0; i < sizeof(buf); i++)
		assert_int_equal((unsigned char)buf[i], 4);
	assert_int_equal(fs_release(f, fh), 0);
	fs_fabric_close(f);
}

/* A process reading far more files in a window than processes usually
 * do is a scan: its reads and opens are not folded from the moment it
 * is found; its writes are; it counts again in a window back under the
 * minimum. Processes reading a few files are never one. */
static void test_scan(void **state)
{
	struct fix *x = *state;
	struct profile_params pp = { .half_life = HL, .no_thread = 1,
				     .scan_window = 10, .scan_min = 20 };
	struct profile_counters c;
	struct access_stats st;
	struct profile_event e;
	int64_t t = T0;
	uint64_t ino;
	int w, i;

	assert_int_equal(profile_open(&pp, x->m, &x->p), 0);
	/* Three windows of 5 files each from process 50: the usual. */
	for (w = 0; w < 3; w++, t += 10 * NS)
		for (i = 0; i < 5; i++) {
			e = ev(100 + (uint64_t)i, STATS_READ, 0, 10, 0, t + i);
			e.pid = 50;
			emit(x->p, e);
		}
	/* Process 51 reads 100 files within one window. */
	for (ino = 1000; ino < 1100; ino++) {
		e = ev(ino, STATS_READ, 0, 10, 0, t + (int64_t)ino);
		e.pid = 51;
		emit(x->p, e);
	}
	/* ... and writes one: writes still count. */
	e = ev(2000, STATS_WRITE, 0, 10, 0, t + 5000);
	e.pid = 51;
	emit(x->p, e);
	assert_true(profile_drain(x->p) > 0);
	profile_counters(x->p, &c);
	assert_int_equal(c.scans, 1);
	assert_int_equal(c.scan_events, 100 - 19);  /* found at the 20th */
	assert_int_equal(profile_get(x->p, 100, &st), 0);
	assert_int_equal(profile_get(x->p, 1000, &st), 0);   /* before it was one */
	assert_int_equal(profile_get(x->p, 1099, &st), -ENOENT);
	assert_int_equal(profile_get(x->p, 2000, &st), 0);
	assert_int_equal(st.writes, 1);
	/* A later window of 3 files: 51 is back to the usual. */
	t += 20 * NS;
	for (ino = 3000; ino < 3003; ino++) {
		e = ev(ino, STATS_READ, 0, 10, 0, t + (int64_t)ino);
		e.pid = 51;
		emit(x->p, e);
	}
	assert_true(profile_drain(x->p) > 0);
	assert_int_equal(profile_get(x->p, 3002, &st), 0);
	assert_int_equal(st.reads, 1);
	profile_counters(x->p, &c);
	assert_int_equal(c.scans, 1);
}

/* A scan window under a second (the config takes any duration above 0):
 * it was cut to whole seconds, 0, and the first read divided by it. A
 * window of 0.5 s: 100 files read within it are a scan. */
static void test_scan_subsecond(void **state)
{
	struct fix *x = *state;
	struct profile_params pp = { .half_life = HL, .no_thread = 1,
				     .scan_window = 0.5, .scan_min = 20 };
	struct profile_counters c;
	struct profile_event e;
	uint64_t ino;

	assert_int_equal(profile_open(&pp, x->m, &x->p), 0);
	for (ino = 1000; ino < 1100; ino++) {
		e = ev(ino, STATS_READ, 0, 10, 0, T0 + (int64_t)ino * 1000);
		e.pid = 51;
		emit(x->p, e);
	}
	assert_true(profile_drain(x->p) > 0);
	profile_counters(x->p, &c);
	assert_int_equal(c.scans, 1);
}

/* A file read by a process within 10 s after another has that one's
 * frequency as its co-access; read later, or by another process, none. */
static void test_co_access(void **state)
{
	struct fix *x = *state;
	struct profile_event e;

	prof_open(x, 0, 0, 0);
	e = ev(300, STATS_READ, 0, 10, 0, T0);
	e.pid = 60;
	emit(x->p, e);
	e = ev(300, STATS_READ, 10, 10, 0, T0 + NS);
	e.pid = 60;
	emit(x->p, e);
	e = ev(301, STATS_READ, 0, 10, 0, T0 + 2 * NS);
	e.pid = 60;
	emit(x->p, e);
	e = ev(302, STATS_READ, 0, 10, 0, T0 + 40 * NS);   /* too late */
	e.pid = 60;
	emit(x->p, e);
	e = ev(303, STATS_READ, 0, 10, 0, T0 + 41 * NS);   /* another process */
	e.pid = 61;
	emit(x->p, e);
	assert_true(profile_drain(x->p) > 0);
	assert_float_equal(profile_co_access(x->p, 301, T0 + 2 * NS),
			   exp2(-2.0 / HL) + exp2(-1.0 / HL), 1e-9);
	assert_float_equal(profile_co_access(x->p, 300, T0 + 2 * NS), 0, 0);
	assert_float_equal(profile_co_access(x->p, 302, T0 + 40 * NS), 0, 0);
	assert_float_equal(profile_co_access(x->p, 303, T0 + 41 * NS), 0, 0);
	assert_float_equal(profile_co_access(x->p, 999, T0), 0, 0);
}

/* ---- found by a review ---- */

/* A process that reads two files by turns (cmp a b, a merge, a database
 * reading its data and its index) reads 2 files, not hundreds: it was
 * taken for a scan, as every change of file counted one. */
static void test_scan_two_files(void **state)
{
	struct fix *x = *state;
	struct profile_params pp = { .half_life = HL, .no_thread = 1,
				     .scan_window = 10, .scan_min = 20 };
	struct profile_counters c;
	struct profile_event e;
	int i;

	assert_int_equal(profile_open(&pp, x->m, &x->p), 0);
	for (i = 0; i < 100; i++) {
		e = ev(500 + (uint64_t)(i % 2), STATS_READ, (uint64_t)i * 4096,
		       4096, 0, T0 + i * 1000000LL);
		e.pid = 70;
		emit(x->p, e);
	}
	assert_true(profile_drain(x->p) > 0);
	profile_counters(x->p, &c);
	assert_int_equal(c.scans, 0);
	assert_int_equal(c.scan_events, 0);
}

/* Events still queued for a forgotten file whose slot among the forgotten
 * (ino % 1024) another forgotten file took: the file came back, in memory
 * and in the store, for good. */
static void test_forget_collision(void **state)
{
	struct fix *x = *state;
	struct access_stats st;

	prof_open(x, 0, 0, 0);
	emit(x->p, ev(5, STATS_READ, 0, 1, 0, T0));
	emit(x->p, ev(5 + 1024, STATS_READ, 0, 1, 0, T0));
	profile_forget(x->p, 5);               /* both unlinked while queued */
	profile_forget(x->p, 5 + 1024);
	assert_int_equal(profile_drain(x->p), 2);
	profile_close(x->p);
	x->p = NULL;
	prof_open(x, 0, 0, 0);
	assert_int_equal(profile_get(x->p, 5, &st), -ENOENT);
}

/* The clock was 30 days ahead, then set right: the frequency did not
 * cool down until the clock was back where it had been. */
static void test_clock_back(void **state)
{
	struct fix *x = *state;
	struct access_stats st;
	int64_t ahead = 30LL * 86400 * NS;
	int i;

	prof_open(x, 0, 0, 0);
	for (i = 0; i < 100; i++)
		emit(x->p, ev(600, STATS_READ, 0, 1, 0, T0 + ahead + i));
	/* clock set back: 100 more reads, then nothing for a day */
	for (i = 0; i < 100; i++)
		emit(x->p, ev(600, STATS_READ, 0, 1, 0, T0 + i));
	assert_int_equal(profile_drain(x->p), 200);
	assert_int_equal(profile_get(x->p, 600, &st), 0);
	/* 24 half-lives later it must have cooled down */
	assert_true(stats_freq(&st, T0 + 86400 * NS, HL) < 1.0);
}

/* A record whose stamp no clock writes (bit rot, a torn record) decoded
 * and then overflowed the decay: UBSan aborted; without it the frequency
 * was inf, and stored, the record was refused at the next start. */
static void test_extreme_stamp(void **state)
{
	struct fix *x = *state;
	struct access_stats st = { .freq = 1, .stamp = INT64_MIN + 1,
				   .first = 1, .last = 1, .reads = 1 };
	struct meta_batch *b = meta_batch_new();
	struct access_series se;

	series_init(&se);
	meta_put_access(b, 700, META_ACCESS_FILE, &st, &se);
	assert_int_equal(meta_commit(x->m, b, 1), 0);
	meta_batch_free(b);
	prof_open(x, 0, 0, 0);
	/* refused as corrupt: the file starts afresh */
	assert_int_equal(profile_get(x->p, 700, &st), -ENOENT);
	emit(x->p, ev(700, STATS_READ, 0, 1, 0, T0));
	assert_int_equal(profile_drain(x->p), 1);
	assert_int_equal(profile_get(x->p, 700, &st), 0);
	assert_float_equal(st.freq, 1, 1e-9);
	/* and the decay of any two stamps stays finite */
	st.stamp = INT64_MIN + 1;
	assert_true(isfinite(stats_freq(&st, INT64_MAX, HL)));
}

/* The hour and day histograms wrapped instead of saturating. */
static void test_hist_wrap(void **state)
{
	struct access_stats st = { 0 };

	(void)state;
	stats_add(&st, STATS_READ, 1, T0, HL, 1);
	for (int i = 0; i < STATS_HOURS; i++)
		if (st.hour[i])
			st.hour[i] = UINT32_MAX;
	stats_add(&st, STATS_READ, 1, T0, HL, 8);
	for (int i = 0; i < STATS_HOURS; i++)
		if (st.hour[i])
			assert_true(st.hour[i] == UINT32_MAX);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fold),
		T(test_extent_placement),
		T(test_full_queue),
		T(test_producers),
		T(test_persist),
		T(test_corrupt),
		T(test_flush_fails),
		T(test_forget),
		T(test_promote),
		T(test_promote_busy_retry),
		T(test_promote_off_waits),
		T(test_list),
		T(test_bad_params),
		T(test_scan),
		T(test_scan_subsecond),
		T(test_co_access),
		T(test_fabric),
		T(test_scan_two_files),
		T(test_forget_collision),
		T(test_clock_back),
		T(test_extreme_stamp),
		T(test_hist_wrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
