// SPDX-License-Identifier: GPL-2.0-or-later
/* local_sync must not return before the directory entry of the file it
 * syncs is durable (backends/local.c, dirty_yy/dirty_xx, sync_dirs).
 *
 * Linked with -Wl,--wrap=syscall -Wl,--wrap=fsync (see the Makefile rule)
 * so that the test can (a) run another sync at an exact point inside
 * open_backing_flags or sync_dir, and (b) record which directory fsyncs
 * completed after the file was created.
 * A directory entry is durable once an fsync of its directory that STARTED
 * after the entry was created has COMPLETED. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backends/backend.h"
#include "backends/local.h"
#include "common/config.h"
#include "tmpdir.h"

#define GiB (1024ULL * 1024 * 1024)

/* A = 0x0001 and B = 0x10001 share data/00/01. */
#define INO_A  0x1ULL
#define INO_B  0x10001ULL

long __real_syscall(long nr, ...);
int __real_fsync(int fd);

static struct backend *g_be;
static char g_dir[64];
static ino_t g_leaf_ino;         /* st_ino of <tier>/data/00/01 */
static _Atomic bool g_a_created; /* A's entry exists */
static _Atomic bool g_a_durable; /* a leaf fsync begun after that completed */
static bool g_hook_create;       /* test 1: sync B just before A's O_CREAT */
static _Atomic bool g_hook_fsync; /* test 2: sync A inside a leaf fsync */
static pthread_t g_inner;        /* test 2: the thread syncing A */
static _Atomic int g_inner_rc = 1; /* rc of its sync of A */
static _Atomic bool g_inner_done; /* it returned */
static bool g_inner_early;       /* it returned before the leaf fsync did */

static void *sync_a(void *arg)
{
	g_inner_rc = g_be->ops->sync(g_be, INO_A);
	g_inner_done = true;
	return NULL;
}

long __wrap_syscall(long nr, ...)
{
	va_list ap;
	long a1, a2, a3, a4, a5;
	long rc;
	bool creating_a = false;

	va_start(ap, nr);
	a1 = va_arg(ap, long);
	a2 = va_arg(ap, long);
	a3 = va_arg(ap, long);
	a4 = va_arg(ap, long);
	a5 = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_openat2) {
		const struct open_how *how = (const struct open_how *)a3;
		const char *rel = (const char *)a2;

		if ((how->flags & O_CREAT) &&
		    !strcmp(rel, "data/00/01/0000000000000001")) {
			creating_a = true;
			if (g_hook_create) {
				/* Another thread's fsync of B lands here. */
				g_hook_create = false;
				assert_int_equal(g_be->ops->sync(g_be, INO_B), 0);
			}
		}
	}
	rc = __real_syscall(nr, a1, a2, a3, a4, a5);
	if (creating_a && rc >= 0)
		g_a_created = true;
	return rc;
}

int __wrap_fsync(int fd)
{
	struct stat st;
	bool leaf = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) &&
		    st.st_ino == g_leaf_ino;
	bool covers = leaf && g_a_created;
	int rc;

	if (leaf && g_hook_fsync) {
		/* Another thread's sync of A runs while this one (of B's
		 * sync) is still flushing the directory: it must wait. */
		g_hook_fsync = false;
		assert_int_equal(pthread_create(&g_inner, NULL, sync_a, NULL), 0);
		for (int i = 0; i < 50 && !g_inner_done; i++)
			usleep(4000);
		g_inner_early = g_inner_done;
	}
	rc = __real_fsync(fd);
	if (rc == 0 && covers)
		g_a_durable = true;
	return rc;
}

static int setup(void **state)
{
	struct cfg_tier t;
	char err[CFG_ERR_MAX], leaf[PATH_MAX];
	uint8_t buf[4096];
	struct stat st;

	memset(&t, 0, sizeof(t));
	snprintf(g_dir, sizeof(g_dir), "/tmp/dfabric-dirsync.XXXXXX");
	if (!mkdtemp(g_dir))
		return -1;
	snprintf(t.name, sizeof(t.name), "nvme");
	t.kind = CFG_TIER_LOCAL;
	snprintf(t.path, sizeof(t.path), "%s", g_dir);
	t.capacity = GiB;
	if (be_local_open(&t, 0, &g_be, err, sizeof(err)) != 0)
		return -1;
	/* B exists in data/00/01 and everything about it is durable. */
	memset(buf, 0x42, sizeof(buf));
	if (g_be->ops->pwrite(g_be, INO_B, buf, sizeof(buf), 0) != 4096 ||
	    g_be->ops->sync(g_be, INO_B) != 0)
		return -1;
	snprintf(leaf, sizeof(leaf), "%s/data/00/01", g_dir);
	if (stat(leaf, &st) != 0)
		return -1;
	g_leaf_ino = st.st_ino;
	g_a_created = g_a_durable = g_hook_create = g_hook_fsync = false;
	g_inner_rc = 1;
	g_inner_done = g_inner_early = false;
	return 0;
}

static int teardown(void **state)
{
	g_be->ops->destroy(g_be);
	g_be = NULL;
	tmpdir_remove(g_dir);
	return 0;
}

/* The dirty bit was set before the file was created: a sync of a neighbour
 * in between cleared it with an fsync that could not cover the new entry,
 * and the new file's own sync then skipped its directory. */
static void test_bit_set_after_create(void **state)
{
	uint8_t buf[4096];

	memset(buf, 0x41, sizeof(buf));
	g_hook_create = true;
	assert_int_equal(g_be->ops->pwrite(g_be, INO_A, buf, sizeof(buf), 0),
			 4096);
	assert_true(g_a_created);
	assert_int_equal(g_be->ops->sync(g_be, INO_A), 0);
	if (!g_a_durable)
		print_error("sync(A) returned 0 but no fsync of data/00/01 "
			    "begun after A was created has completed\n");
	assert_true(g_a_durable);
}

/* A sync that found the bit already cleared by a concurrent sync returned
 * before that sync's directory fsync had completed. */
static void test_concurrent_sync_waits(void **state)
{
	uint8_t buf[4096];

	memset(buf, 0x41, sizeof(buf));
	assert_int_equal(g_be->ops->pwrite(g_be, INO_A, buf, sizeof(buf), 0),
			 4096);
	assert_true(g_a_created);
	g_hook_fsync = true;
	/* B's sync clears the bit and fsyncs data/00/01; A's sync starts
	 * meanwhile (in the hook) on another thread. */
	assert_int_equal(g_be->ops->sync(g_be, INO_B), 0);
	assert_int_equal(pthread_join(g_inner, NULL), 0);
	assert_int_equal(g_inner_rc, 0);
	if (g_inner_early)
		print_error("sync(A) returned while the fsync of data/00/01 "
			    "covering A had not completed\n");
	assert_false(g_inner_early);
	assert_true(g_a_durable);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bit_set_after_create,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_sync_waits,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
