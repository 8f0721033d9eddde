// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the local-directory backend on real temp directories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/backend.h"
#include "backends/local.h"
#include "common/config.h"
#include "tmpdir.h"

#define GiB (1024ULL * 1024 * 1024)
#define MiB (1024ULL * 1024)

/* One test's tier: its temp directory and the backend on it. */
struct fx {
	char dir[64];                  /* the tier directory (mkdtemp) */
	struct cfg_tier tier;          /* config of the tier */
	struct backend *be;            /* backend open on dir */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[CFG_ERR_MAX];

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/dfabric-local.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->tier.name, sizeof(f->tier.name), "nvme");
	f->tier.kind = CFG_TIER_LOCAL;
	snprintf(f->tier.path, sizeof(f->tier.path), "%s", f->dir);
	f->tier.capacity = GiB;
	if (be_local_open(&f->tier, 0, &f->be, err, sizeof(err)) != 0) {
		fprintf(stderr, "be_local_open: %s\n", err);
		tmpdir_remove(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char ro[PATH_MAX];

	if (f->be)
		f->be->ops->destroy(f->be);
	/* test_read_only_tier's tmpfs, when it failed with it mounted */
	snprintf(ro, sizeof(ro), "%s/ro", f->dir);
	umount2(ro, MNT_DETACH);
	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static void ino_path(const struct fx *f, uint64_t ino, char *buf, size_t len)
{
	snprintf(buf, len, "%s/data/%02x/%02x/%016" PRIx64, f->dir,
		 (unsigned)((ino >> 8) & 0xff), (unsigned)(ino & 0xff), ino);
}

/* A byte pattern that depends on inode and absolute offset. */
static void fill(uint8_t *buf, size_t len, uint64_t ino, uint64_t off)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)((ino * 131 + (off + i) * 7 + ((off + i) >> 12)) % 251 + 1);
}

static int check_pattern(const uint8_t *buf, size_t len, uint64_t ino,
			 uint64_t off)
{
	size_t i;

	for (i = 0; i < len; i++) {
		uint8_t want = (uint8_t)((ino * 131 + (off + i) * 7 +
					  ((off + i) >> 12)) % 251 + 1);
		if (buf[i] != want)
			return -1;
	}
	return 0;
}

static int all_zero(const uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i])
			return 0;
	return 1;
}

static void write_pattern(struct fx *f, uint64_t ino, uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	fill(buf, len, ino, off);
	assert_int_equal(f->be->ops->pwrite(f->be, ino, buf, len, off),
			 (ssize_t)len);
	free(buf);
}

static void expect_pattern(struct fx *f, uint64_t ino, uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	memset(buf, 0xaa, len);
	assert_int_equal(f->be->ops->pread(f->be, ino, buf, len, off),
			 (ssize_t)len);
	assert_int_equal(check_pattern(buf, len, ino, off), 0);
	free(buf);
}

static void expect_zeros(struct fx *f, uint64_t ino, uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	memset(buf, 0xaa, len);
	assert_int_equal(f->be->ops->pread(f->be, ino, buf, len, off),
			 (ssize_t)len);
	assert_true(all_zero(buf, len));
	free(buf);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;   /* the directory stream's own descriptor */
}

/* ---- tests ------------------------------------------------------------- */

/* Regression test, failed before its fix (backends/local.c, fdc_get):
 * every backing file was opened read-write, so once a tier's filesystem
 * was read-only (ext4 remounts itself so on errors) and the descriptor
 * out of the cache, reads failed with EROFS, and SEEK_DATA with them.
 * Readers now open the file read-only; writes still fail with EROFS.
 * Needs root for the tmpfs, else skipped. */
static void test_read_only_tier(void **state)
{
	struct fx *f = *state;
	char dir[PATH_MAX], err[CFG_ERR_MAX];
	struct cfg_tier t = f->tier;
	struct backend *be = NULL;
	uint8_t buf[8192];

	snprintf(dir, sizeof(dir), "%s/ro", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	if (mount("dfro", dir, "tmpfs", 0, "size=4m") < 0) {
		print_message("no tmpfs (%s): skipped\n", strerror(errno));
		skip();
	}
	snprintf(t.path, sizeof(t.path), "%s", dir);
	assert_int_equal(be_local_open(&t, 0, &be, err, sizeof(err)), 0);
	fill(buf, sizeof(buf), 9, 4096);
	assert_int_equal(be->ops->pwrite(be, 9, buf, sizeof(buf), 4096),
			 (ssize_t)sizeof(buf));
	be->ops->destroy(be);          /* its descriptors closed */
	be = NULL;
	assert_int_equal(mount(NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
	if (be_local_open(&t, 0, &be, err, sizeof(err)) != 0) {
		umount2(dir, MNT_DETACH);
		fail_msg("a read-only tier does not open: %s", err);
	}
	memset(buf, 0, sizeof(buf));
	assert_int_equal(be->ops->pread(be, 9, buf, sizeof(buf), 4096),
			 (ssize_t)sizeof(buf));
	assert_int_equal(check_pattern(buf, sizeof(buf), 9, 4096), 0);
	assert_int_equal(be->ops->seek(be, 9, 0, SEEK_DATA), 4096);
	assert_int_equal(be->ops->pwrite(be, 9, buf, 10, 0), -EROFS);
	assert_int_equal(be->ops->pread(be, 9, buf, 100, 4096), 100);
	be->ops->destroy(be);
	umount2(dir, MNT_DETACH);
}

static void test_round_trip(void **state)
{
	struct fx *f = *state;
	static const uint64_t offs[] = { 0, 4095, MiB + 7, 4 * GiB - 100,
					 5 * GiB, 17 * GiB + 3 };
	char path[PATH_MAX];
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		write_pattern(f, 0x1234, offs[i], 10000);
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		expect_pattern(f, 0x1234, offs[i], 10000);
	/* A read straddling written data and the hole after it. */
	{
		uint8_t buf[20000];

		memset(buf, 0xaa, sizeof(buf));
		assert_int_equal(f->be->ops->pread(f->be, 0x1234, buf,
						   sizeof(buf), 5 * GiB),
				 (ssize_t)sizeof(buf));
		assert_int_equal(check_pattern(buf, 10000, 0x1234, 5 * GiB), 0);
		assert_true(all_zero(buf + 10000, 10000));
	}
	/* The layout is data/XX/YY/<16 hex>, and the file is sparse. */
	ino_path(f, 0x1234, path, sizeof(path));
	assert_string_equal(path + strlen(f->dir),
			    "/data/12/34/0000000000001234");
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal((uint64_t)st.st_size, 17 * GiB + 3 + 10000);
	assert_true((uint64_t)st.st_blocks * 512 < 16 * MiB);
	/* Overwrite in the middle. */
	write_pattern(f, 0x1234, 5000, 1);
	expect_pattern(f, 0x1234, 4095, 10000);
}

static void test_zeros(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX];
	struct stat st;

	/* Never written inode: zeros, and reading does not create it. */
	expect_zeros(f, 77, 0, 65536);
	expect_zeros(f, 77, 9 * GiB, 100);
	ino_path(f, 77, path, sizeof(path));
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(errno, ENOENT);

	write_pattern(f, 78, MiB, 4096);
	expect_zeros(f, 78, 0, MiB);            /* hole before */
	expect_zeros(f, 78, MiB + 4096, 8192);  /* past the end */
	expect_pattern(f, 78, MiB, 4096);
	/* zero-length operations */
	assert_int_equal(f->be->ops->pread(f->be, 78, path, 0, 0), 0);
	assert_int_equal(f->be->ops->pwrite(f->be, 79, path, 0, 0), 0);
	/* offsets beyond what a file can hold */
	assert_true(f->be->ops->pwrite(f->be, 78, "x", 1, UINT64_MAX) < 0);
	assert_true(f->be->ops->pread(f->be, 78, path, 1, UINT64_MAX) < 0);
}

/* ext_pin lends the file's descriptor: the bytes at the extent's offsets
 * are the file's, those past its end are counted out of avail. Without
 * a file, ext_pin and ext_read fail: the copy is missing. */
static void test_ext_pin(void **state)
{
	struct fx *f = *state;
	struct be_ext x = { .ino = 90, .off = 0, .len = 4 * MiB };
	uint8_t buf[8192], want[4096];
	size_t avail = 12345;
	void *pin = NULL;
	int fd = -1;

	/* no file: a copy named by the map is missing, EIO as ext_read */
	assert_int_equal(f->be->ops->ext_pin(f->be, &x, 0, 4096, &fd, &avail,
					     &pin), -EIO);
	assert_int_equal(f->be->ops->ext_read(f->be, &x, buf, 4096, 0), -EIO);
	write_pattern(f, 90, 4096, 4096);
	assert_int_equal(f->be->ops->ext_pin(f->be, &x, 0, 3 * 4096, &fd,
					     &avail, &pin), 0);
	assert_true(fd >= 0);
	assert_int_equal(avail, 2 * 4096);  /* the file ends at 8192 */
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	assert_true(all_zero(buf, 4096));  /* the hole before the write */
	fill(want, sizeof(want), 90, 4096);
	assert_memory_equal(buf + 4096, want, sizeof(want));
	/* a forget while pinned: the descriptor stays open until unpin */
	f->be->ops->forget(f->be, 90);
	assert_int_equal(pread(fd, buf, 1, 4096), 1);
	f->be->ops->ext_unpin(f->be, pin);

	/* entirely past the end: nothing available */
	assert_int_equal(f->be->ops->ext_pin(f->be, &x, 3 * MiB, 4096, &fd,
					     &avail, &pin), 0);
	assert_int_equal(avail, 0);
	f->be->ops->ext_unpin(f->be, pin);
	assert_true(f->be->ops->ext_pin(f->be, &x, UINT64_MAX - 1, 4096, &fd,
					&avail, &pin) < 0);
}

static void test_punch(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX];
	struct stat st;

	write_pattern(f, 5, 0, MiB);
	assert_int_equal(f->be->ops->punch(f->be, 5, 256 * 1024, 64 * 1024), 0);
	expect_pattern(f, 5, 0, 256 * 1024);
	expect_zeros(f, 5, 256 * 1024, 64 * 1024);
	expect_pattern(f, 5, 320 * 1024, MiB - 320 * 1024);
	/* Unaligned punch zeroes exactly its range. */
	assert_int_equal(f->be->ops->punch(f->be, 5, 1001, 3000), 0);
	expect_pattern(f, 5, 0, 1001);
	expect_zeros(f, 5, 1001, 3000);
	expect_pattern(f, 5, 4001, 10000);
	/* The size is kept. */
	ino_path(f, 5, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, (off_t)MiB);
	/* Missing inode: no error, nothing created. */
	assert_int_equal(f->be->ops->punch(f->be, 6, 0, 4096), 0);
	ino_path(f, 6, path, sizeof(path));
	assert_int_equal(access(path, F_OK), -1);
}

static void test_truncate(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX];
	struct stat st;

	write_pattern(f, 9, 0, MiB);
	ino_path(f, 9, path, sizeof(path));
	assert_int_equal(f->be->ops->truncate(f->be, 9, 4096), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 4096);
	expect_pattern(f, 9, 0, 4096);
	expect_zeros(f, 9, 4096, 8192);
	/* Never extends. */
	assert_int_equal(f->be->ops->truncate(f->be, 9, GiB), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 4096);
	/* Rewriting past the cut does not bring old bytes back. */
	write_pattern(f, 9, 65536, 10);
	expect_zeros(f, 9, 4096, 65536 - 4096);
	/* Missing: fine, and not created. */
	assert_int_equal(f->be->ops->truncate(f->be, 10, 0), 0);
	ino_path(f, 10, path, sizeof(path));
	assert_int_equal(access(path, F_OK), -1);
	/* sync of a written and a missing inode */
	assert_int_equal(f->be->ops->sync(f->be, 9), 0);
	assert_int_equal(f->be->ops->sync(f->be, 10), 0);
	assert_int_equal(access(path, F_OK), -1);
}

static void test_seek(void **state)
{
	struct fx *f = *state;
	const struct be_ops *o = f->be->ops;

	write_pattern(f, 3, 0, 64 * 1024);
	write_pattern(f, 3, MiB, 64 * 1024);
	assert_int_equal(o->seek(f->be, 3, 0, SEEK_DATA), 0);
	assert_int_equal(o->seek(f->be, 3, 0, SEEK_HOLE), 64 * 1024);
	assert_int_equal(o->seek(f->be, 3, 64 * 1024, SEEK_DATA), MiB);
	assert_int_equal(o->seek(f->be, 3, MiB, SEEK_HOLE), MiB + 64 * 1024);
	assert_int_equal(o->seek(f->be, 3, MiB + 64 * 1024, SEEK_DATA), -ENXIO);
	assert_int_equal(o->seek(f->be, 3, 5 * GiB, SEEK_HOLE), -ENXIO);
	/* Punching moves the next data. */
	assert_int_equal(o->punch(f->be, 3, 0, 64 * 1024), 0);
	assert_int_equal(o->seek(f->be, 3, 0, SEEK_DATA), MiB);
	/* Missing inode, bad whence. */
	assert_int_equal(o->seek(f->be, 4, 0, SEEK_DATA), -ENXIO);
	assert_int_equal(o->seek(f->be, 4, 0, SEEK_HOLE), -ENXIO);
	assert_int_equal(o->seek(f->be, 3, 0, SEEK_SET), -EINVAL);
}

static void test_remove(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX];

	write_pattern(f, 0x2a, 0, 8192);
	ino_path(f, 0x2a, path, sizeof(path));
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(f->be->ops->remove(f->be, 0x2a), 0);
	assert_int_equal(access(path, F_OK), -1);
	expect_zeros(f, 0x2a, 0, 8192);
	assert_int_equal(f->be->ops->seek(f->be, 0x2a, 0, SEEK_DATA), -ENXIO);
	/* Missing again: fine. Never created: fine. */
	assert_int_equal(f->be->ops->remove(f->be, 0x2a), 0);
	assert_int_equal(f->be->ops->remove(f->be, 0xdead0000), 0);
	/* A new write after remove makes a new visible file (the old
	 * descriptor must not have stayed cached). */
	write_pattern(f, 0x2a, 100, 50);
	assert_int_equal(access(path, F_OK), 0);
	expect_zeros(f, 0x2a, 0, 100);
	expect_pattern(f, 0x2a, 100, 50);
	expect_zeros(f, 0x2a, 150, 8000);
}

/* Collects listed inodes into an array. */
struct list_acc {
	uint64_t inos[64];             /* inodes seen */
	int n;                         /* how many */
	int stop_after;                /* return 7 after this many; 0 never */
};

static int list_cb(uint64_t ino, void *arg)
{
	struct list_acc *a = arg;

	if (a->n < 64)
		a->inos[a->n] = ino;
	a->n++;
	return (a->stop_after && a->n >= a->stop_after) ? 7 : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_list(void **state)
{
	struct fx *f = *state;
	uint64_t want[] = { 0, 1, 0x100, 0x1ff, 0xabcdef, 0x123456789abcdef0ULL,
			    UINT64_MAX };
	size_t nwant = sizeof(want) / sizeof(want[0]);
	struct list_acc acc;
	char path[PATH_MAX];
	size_t i;
	int fd;

	memset(&acc, 0, sizeof(acc));
	assert_int_equal(f->be->ops->list(f->be, list_cb, &acc), 0);
	assert_int_equal(acc.n, 0);

	for (i = 0; i < nwant; i++)
		write_pattern(f, want[i], i * 1000, 10);
	/* Junk the listing must skip. */
	snprintf(path, sizeof(path), "%s/data/00/00/notaninode", f->dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/data/00/00/00000000000000AA", f->dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/data/00/00/0000000000000002", f->dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);   /* wrong directory */
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/data/zz", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/data/README", f->dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);

	memset(&acc, 0, sizeof(acc));
	assert_int_equal(f->be->ops->list(f->be, list_cb, &acc), 0);
	assert_int_equal(acc.n, (int)nwant);
	qsort(acc.inos, (size_t)acc.n, sizeof(uint64_t), cmp_u64);
	qsort(want, nwant, sizeof(uint64_t), cmp_u64);
	for (i = 0; i < nwant; i++)
		assert_int_equal(acc.inos[i], want[i]);

	/* The callback's nonzero result stops the walk and is returned. */
	memset(&acc, 0, sizeof(acc));
	acc.stop_after = 2;
	assert_int_equal(f->be->ops->list(f->be, list_cb, &acc), 7);
	assert_int_equal(acc.n, 2);

	/* Removed inodes disappear from the list. */
	assert_int_equal(f->be->ops->remove(f->be, 0x100), 0);
	memset(&acc, 0, sizeof(acc));
	assert_int_equal(f->be->ops->list(f->be, list_cb, &acc), 0);
	assert_int_equal(acc.n, (int)nwant - 1);
	for (i = 0; i < (size_t)acc.n; i++)
		assert_true(acc.inos[i] != 0x100);
}

/* Reads a whole small file into buf. */
static ssize_t slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len);
	close(fd);
	return n;
}

static void symlink_cases(struct fx *f)
{
	char outside[64], target[PATH_MAX], path[PATH_MAX], dir[PATH_MAX];
	char buf[64];
	uint8_t rbuf[16];
	const uint64_t ino = 0x0507;
	int fd;

	snprintf(outside, sizeof(outside), "/tmp/dfabric-outside.XXXXXX");
	assert_non_null(mkdtemp(outside));
	snprintf(target, sizeof(target), "%s/victim", outside);
	fd = open(target, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "original", 8), 8);
	close(fd);

	/* A symlink at the inode's own path. */
	snprintf(dir, sizeof(dir), "%s/data/05", f->dir);
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/data/05/07", f->dir);
	mkdir(dir, 0700);
	ino_path(f, ino, path, sizeof(path));
	assert_int_equal(symlink(target, path), 0);
	assert_true(f->be->ops->pwrite(f->be, ino, "EVIL", 4, 0) < 0);
	assert_true(f->be->ops->pread(f->be, ino, rbuf, sizeof(rbuf), 0) < 0);
	assert_true(f->be->ops->truncate(f->be, ino, 0) < 0);
	assert_true(f->be->ops->allocate(f->be, ino, 0, 4096) < 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(slurp(target, buf, sizeof(buf)), 8);
	assert_string_equal(buf, "original");
	/* remove deletes the link itself, never the target. */
	assert_int_equal(f->be->ops->remove(f->be, ino), 0);
	assert_int_equal(slurp(target, buf, sizeof(buf)), 8);
	assert_string_equal(buf, "original");

	/* A symlinked directory on the way: data/06 -> outside. */
	snprintf(dir, sizeof(dir), "%s/data/06", f->dir);
	assert_int_equal(symlink(outside, dir), 0);
	assert_true(f->be->ops->pwrite(f->be, 0x0607, "EVIL", 4, 0) < 0);
	snprintf(path, sizeof(path), "%s/07", outside);
	assert_int_equal(access(path, F_OK), -1);   /* nothing made outside */
	/* and one level further down: data/08/09 -> outside */
	snprintf(dir, sizeof(dir), "%s/data/08", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/data/08/09", f->dir);
	assert_int_equal(symlink(outside, dir), 0);
	assert_true(f->be->ops->pwrite(f->be, 0x0809, "EVIL", 4, 0) < 0);
	snprintf(path, sizeof(path), "%s/0000000000000809", outside);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(slurp(target, buf, sizeof(buf)), 8);
	assert_string_equal(buf, "original");

	tmpdir_remove(outside);
}

static void test_symlink_openat2(void **state)
{
	symlink_cases(*state);
}

static void test_symlink_fallback(void **state)
{
	struct fx *f = *state;

	assert_int_equal(be_local_force_openat(f->be), 0);
	symlink_cases(f);
	/* Ordinary I/O still works on the fallback path. */
	write_pattern(f, 0x4444, 12345, 4096);
	expect_pattern(f, 0x4444, 12345, 4096);
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	struct cfg_tier t = f->tier;
	struct backend *be = NULL;
	char err[CFG_ERR_MAX], outside[64], path[PATH_MAX + 16];
	int fd;

	snprintf(t.path, sizeof(t.path), "%s/nonexistent", f->dir);
	err[0] = '\0';
	assert_int_equal(be_local_open(&t, 1, &be, err, sizeof(err)), -ENOENT);
	assert_null(be);
	assert_non_null(strstr(err, "nonexistent"));

	snprintf(t.path, sizeof(t.path), "%s/file", f->dir);
	fd = open(t.path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(be_local_open(&t, 1, &be, err, sizeof(err)), -ENOTDIR);

	/* A tier whose data/ is a symlink out of it is refused. */
	snprintf(outside, sizeof(outside), "/tmp/dfabric-outside.XXXXXX");
	assert_non_null(mkdtemp(outside));
	snprintf(t.path, sizeof(t.path), "%s/tier2", f->dir);
	assert_int_equal(mkdir(t.path, 0700), 0);
	snprintf(path, sizeof(path), "%s/data", t.path);
	assert_int_equal(symlink(outside, path), 0);
	err[0] = '\0';
	assert_true(be_local_open(&t, 1, &be, err, sizeof(err)) < 0);
	assert_null(be);
	assert_true(strlen(err) > 0);
	tmpdir_remove(outside);

	/* A good second tier: data/ is made with mode 0700. */
	snprintf(t.path, sizeof(t.path), "%s/tier3", f->dir);
	assert_int_equal(mkdir(t.path, 0755), 0);
	assert_int_equal(be_local_open(&t, 2, &be, err, sizeof(err)), 0);
	assert_non_null(be);
	assert_string_equal(be->ops->kind, "local");
	assert_int_equal(be->index, 2);
	assert_string_equal(be->name, "nvme");
	{
		struct stat st;

		snprintf(path, sizeof(path), "%s/data", t.path);
		assert_int_equal(stat(path, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		assert_int_equal(st.st_mode & 0777, 0700);
	}
	be->ops->destroy(be);

	/* The tier's directory removed under it: a new file cannot be made,
	 * EIO (before: ENOENT, "No such file or directory" to a writer). */
	snprintf(t.path, sizeof(t.path), "%s/tier4", f->dir);
	assert_int_equal(mkdir(t.path, 0700), 0);
	assert_int_equal(be_local_open(&t, 3, &be, err, sizeof(err)), 0);
	assert_int_equal(be->ops->pwrite(be, 5, "a", 1, 0), 1);
	be->ops->forget(be, 5);
	tmpdir_remove(t.path);
	assert_int_equal(be->ops->pwrite(be, 6, "b", 1, 0), -EIO);
	assert_int_equal(be->ops->allocate(be, 7, 0, 4096), -EIO);
	be->ops->destroy(be);
}

static void test_allocate_space_forget(void **state)
{
	struct fx *f = *state;
	struct be_space sp;
	char path[PATH_MAX];
	struct stat st;

	assert_int_equal(f->be->ops->allocate(f->be, 21, 0, MiB), 0);
	ino_path(f, 21, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);                  /* size kept */
	assert_true((uint64_t)st.st_blocks * 512 >= MiB);  /* space reserved */
	expect_zeros(f, 21, 0, MiB);

	assert_int_equal(f->be->ops->space(f->be, &sp), 0);
	assert_true(sp.fs_total > 0);
	assert_true(sp.fs_avail <= sp.fs_total);

	/* forget closes the cached descriptor; data stays reachable. */
	write_pattern(f, 22, 0, 4096);
	assert_true(be_local_fd_cache_count(f->be) >= 1);
	f->be->ops->forget(f->be, 21);
	f->be->ops->forget(f->be, 22);
	f->be->ops->forget(f->be, 23);   /* never opened */
	assert_int_equal(be_local_fd_cache_count(f->be), 0);
	expect_pattern(f, 22, 0, 4096);
	assert_int_equal(be_local_fd_cache_count(f->be), 1);
}

static void test_eviction(void **state)
{
	struct fx *f = *state;
	const uint64_t n = 5000;
	int base, now, peak = 0;
	uint64_t i;

	assert_int_equal(be_local_set_fd_cache_max(f->be, 64), 0);
	base = count_fds();
	assert_true(base > 0);
	for (i = 0; i < n; i++) {
		uint64_t ino = 1000 + i;

		write_pattern(f, ino, ino * 37, 64);
		if (i % 250 == 0) {
			now = count_fds();
			if (now > peak)
				peak = now;
		}
	}
	assert_true(be_local_fd_cache_count(f->be) <= 64);
	for (i = 0; i < n; i++) {
		uint64_t ino = 1000 + i;

		expect_pattern(f, ino, ino * 37, 64);
		expect_zeros(f, ino, 0, 16);
	}
	now = count_fds();
	if (now > peak)
		peak = now;
	assert_true(peak <= base + 64 + 4);
	assert_true(be_local_fd_cache_count(f->be) <= 64);
	/* Shrinking the cache closes descriptors at once. */
	assert_int_equal(be_local_set_fd_cache_max(f->be, 8), 0);
	assert_true(be_local_fd_cache_count(f->be) <= 8);
	assert_true(count_fds() <= base + 8 + 4);
}

/* Work of one thread of test_concurrent. */
struct worker {
	struct backend *be;            /* shared backend */
	int id;                        /* 0..3 */
	int failures;                  /* mismatches and errors seen */
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint8_t wbuf[8192], rbuf[8192];
	int round, k;

	for (round = 0; round < 150; round++) {
		for (k = 0; k < 20; k++) {
			uint64_t ino = (uint64_t)w->id * 100000 + (uint64_t)k;
			uint64_t off = (uint64_t)(k * 8192) +
				       (uint64_t)round * 4096 % 65536;
			size_t len = 1000 + (size_t)((round * 37 + k) % 7000);

			fill(wbuf, len, ino, off);
			if (w->be->ops->pwrite(w->be, ino, wbuf, len, off) !=
			    (ssize_t)len) {
				w->failures++;
				continue;
			}
			memset(rbuf, 0, sizeof(rbuf));
			if (w->be->ops->pread(w->be, ino, rbuf, len, off) !=
			    (ssize_t)len ||
			    check_pattern(rbuf, len, ino, off) != 0)
				w->failures++;
			if ((round + k) % 50 == 0)
				w->be->ops->forget(w->be, ino);
			if ((round + k) % 97 == 0 &&
			    w->be->ops->sync(w->be, ino) != 0)
				w->failures++;
		}
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct fx *f = *state;
	struct worker w[4];
	pthread_t th[4];
	int i;

	/* Fewer cached descriptors than inodes in use: evictions race with
	 * I/O on the other threads. */
	assert_int_equal(be_local_set_fd_cache_max(f->be, 8), 0);
	for (i = 0; i < 4; i++) {
		w[i].be = f->be;
		w[i].id = i;
		w[i].failures = 0;
		assert_int_equal(pthread_create(&th[i], NULL, worker_main,
						&w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	assert_true(be_local_fd_cache_count(f->be) <= 8);
}

/* Two probes at once (two `dfabric-ctl tier check`): they shared one
 * file name, truncated and removed each other's file, and one reported
 * a healthy tier as failing. */
struct prober {
	struct backend *be;
	int failures;
	char msg[256];
	char first[256];               /* message of the first failure */
};

static void *probe_main(void *arg)
{
	struct prober *p = arg;
	int i;

	for (i = 0; i < 1000; i++)
		if (p->be->ops->probe(p->be, p->msg, sizeof(p->msg)) != 0 &&
		    p->failures++ == 0)
			snprintf(p->first, sizeof(p->first), "%s", p->msg);
	return NULL;
}

static void test_probe_concurrent(void **state)
{
	struct fx *f = *state;
	struct prober p[2] = { { .be = f->be }, { .be = f->be } };
	pthread_t th[2];
	int i;

	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, probe_main, &p[i]), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	if (p[0].failures || p[1].failures)
		print_error("probe failures %d/%d: %s | %s\n", p[0].failures,
			    p[1].failures, p[0].first, p[1].first);
	assert_int_equal(p[0].failures + p[1].failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zeros, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ext_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_punch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seek, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_openat2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allocate_space_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eviction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_tier, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
