// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the directory entry cache (fs/dcache.c): hits and misses,
 * set/drop, that a fill stamped before a change inserts nothing, LRU
 * eviction at the bound, and concurrent use from several threads. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fs/dcache.h"

static struct meta_dirent dirent(uint64_t ino)
{
	struct meta_dirent d = { .ino = ino, .type = 0100000 };

	return d;
}

static void test_get_set_drop(void **state)
{
	struct dcache *c;
	struct meta_dirent d;
	struct meta_dirent a = dirent(10), b = dirent(11);

	assert_int_equal(dcache_new(100, &c), 0);
	assert_int_equal(dcache_get(c, 1, "a", &d), -ENOENT);
	dcache_set(c, 1, "a", &a);
	assert_int_equal(dcache_get(c, 1, "a", &d), 0);
	assert_int_equal(d.ino, 10);
	assert_int_equal(d.type, 0100000);
	/* same name under another parent, a prefix of the name: misses */
	assert_int_equal(dcache_get(c, 2, "a", &d), -ENOENT);
	assert_int_equal(dcache_get(c, 1, "", &d), -ENOENT);
	assert_int_equal(dcache_get(c, 1, "ab", &d), -ENOENT);
	/* set replaces */
	dcache_set(c, 1, "a", &b);
	assert_int_equal(dcache_get(c, 1, "a", &d), 0);
	assert_int_equal(d.ino, 11);
	assert_int_equal(dcache_count(c), 1);
	dcache_drop(c, 1, "a");
	assert_int_equal(dcache_get(c, 1, "a", &d), -ENOENT);
	assert_int_equal(dcache_count(c), 0);
	/* dropping an absent name is fine */
	dcache_drop(c, 1, "zz");
	dcache_free(c);
	dcache_free(NULL);
}

static void test_fill_stamp(void **state)
{
	struct dcache *c;
	struct meta_dirent d, a = dirent(20);
	uint64_t stamp;

	assert_int_equal(dcache_new(100, &c), 0);
	stamp = dcache_stamp(c);
	dcache_fill(c, stamp, 1, "x", &a);
	assert_int_equal(dcache_get(c, 1, "x", &d), 0);
	assert_int_equal(d.ino, 20);

	/* a drop (of any name) between stamp and fill: nothing inserted */
	stamp = dcache_stamp(c);
	dcache_drop(c, 1, "y");
	dcache_fill(c, stamp, 1, "y", &a);
	assert_int_equal(dcache_get(c, 1, "y", &d), -ENOENT);

	/* a set between stamp and fill: the fill does not overwrite it */
	stamp = dcache_stamp(c);
	dcache_set(c, 1, "z", &(struct meta_dirent){ .ino = 30 });
	dcache_fill(c, stamp, 1, "z", &a);
	assert_int_equal(dcache_get(c, 1, "z", &d), 0);
	assert_int_equal(d.ino, 30);
	dcache_free(c);
}

static void test_lru_bound(void **state)
{
	struct dcache *c;
	struct meta_dirent d;
	char name[32];
	int i;

	/* 20 rounds up to 32 entries */
	assert_int_equal(dcache_new(20, &c), 0);
	for (i = 0; i < 32; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		dcache_set(c, 1, name, &(struct meta_dirent){ .ino = 100 + i });
	}
	assert_int_equal(dcache_count(c), 32);
	/* touch n0 so that n1 is the least recently used */
	assert_int_equal(dcache_get(c, 1, "n0", &d), 0);
	dcache_set(c, 1, "new", &(struct meta_dirent){ .ino = 999 });
	assert_int_equal(dcache_count(c), 32);
	assert_int_equal(dcache_get(c, 1, "n1", &d), -ENOENT);
	assert_int_equal(dcache_get(c, 1, "n0", &d), 0);
	assert_int_equal(d.ino, 100);
	assert_int_equal(dcache_get(c, 1, "new", &d), 0);
	assert_int_equal(d.ino, 999);
	for (i = 2; i < 32; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(dcache_get(c, 1, name, &d), 0);
		assert_int_equal(d.ino, 100 + i);
	}
	dcache_free(c);
}

/* Per thread: its own parent, so that each thread can check what it sees. */
struct worker {
	struct dcache *c;              /* shared cache */
	uint64_t parent;               /* this thread's directory */
	int bad;                       /* wrong answers seen */
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct meta_dirent d;
	char name[32];

	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < 50; i++) {
			snprintf(name, sizeof(name), "f%d", i);
			dcache_set(w->c, w->parent, name,
				   &(struct meta_dirent){ .ino = w->parent * 1000 + i });
		}
		for (int i = 0; i < 50; i++) {
			snprintf(name, sizeof(name), "f%d", i);
			/* evictions by other threads may make it miss */
			if (dcache_get(w->c, w->parent, name, &d) == 0 &&
			    d.ino != w->parent * 1000 + i)
				w->bad++;
			dcache_drop(w->c, w->parent, name);
			if (dcache_get(w->c, w->parent, name, &d) == 0)
				w->bad++;
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct dcache *c;
	struct worker w[4];
	pthread_t t[4];
	int i;

	assert_int_equal(dcache_new(64, &c), 0);
	for (i = 0; i < 4; i++) {
		w[i] = (struct worker){ .c = c, .parent = (uint64_t)i + 2 };
		assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	assert_int_equal(dcache_count(c), 0);
	dcache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_set_drop),
		cmocka_unit_test(test_fill_stamp),
		cmocka_unit_test(test_lru_bound),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
