// SPDX-License-Identifier: GPL-2.0-or-later
/* Writes over extents that live on an S3 tier (s3rver on 127.0.0.1,
 * through tests/s3server; run from the top of the tree) when the file
 * tier they come back to fails: the old bytes must survive a write that
 * did not happen, and a full tier sends the bytes to the next one; and a
 * punch that fails part way. The tiers go through the fault-injecting
 * backend. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/falloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "backends/fault.h"
#include "common/config.h"
#include "fs/fs.h"
#include "tests/unit/s3srv.h"
#include "tmpdir.h"

#define ES   ((uint64_t)65536)
#define ROOT ((uint64_t)1)

static char g_dir[64];                 /* the server's directory */
static int g_port;
static struct backend *wrapped[3];     /* nvme, hdd, cold as opened */
static int nwrapped;
static const struct fs_ctx root_ctx = { .uid = 0, .gid = 0, .pid = 1 };

struct fix {
	char dir[64];
	struct cfg cfg;
	struct fabric *f;
};

static struct backend *wrap_hook(struct backend *be)
{
	struct backend *w = NULL;

	assert_int_equal(be_fault_wrap(be, &w), 0);
	if (nwrapped < 3)
		wrapped[nwrapped++] = w;
	return w;
}

static int group_setup(void **state)
{
	return s3srv_start_creds("test_fs_s3", "/tmp/dffs3.XXXXXX", g_dir,
				 sizeof(g_dir), &g_port);
}

static int group_teardown(void **state)
{
	s3srv_run("stop", g_dir, 0);
	return tmpdir_remove(g_dir);
}

static int setup(void **state)
{
	struct fix *x = calloc(1, sizeof(*x));

	if (!x)
		return -1;
	strcpy(x->dir, "/tmp/test_fs_s3.XXXXXX");
	if (tmpdir_tiers(x->dir) < 0) {
		tmpdir_remove(x->dir);
		free(x);
		return -1;
	}
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fix *x = *state;

	if (x->f)
		fs_fabric_close(x->f);
	be_open_hook = NULL;
	nwrapped = 0;
	tmpdir_remove(x->dir);
	free(x);
	return 0;
}

/* Opens the fabric with extents of `es` and a first tier of nvme_cap. */
static void fab_open_es(struct fix *x, const char *es, const char *nvme_cap)
{
	char text[2048], err[CFG_ERR_MAX] = "";

	snprintf(text, sizeof(text),
		 "[fabric]\nmeta = %s/meta\nextent_size = %s\n"
		 "[tier.nvme]\nkind = local\npath = %s/nvme\ncapacity = %s\n"
		 "[tier.hdd]\nkind = local\npath = %s/hdd\ncapacity = 64M\n"
		 "[tier.cold]\nkind = s3\nendpoint = 127.0.0.1:%d\n"
		 "bucket = dfabric\ntls = no\ncapacity = 1G\n"
		 "prefix = %s/\ncredentials_file = %s/creds\n",
		 x->dir, es, x->dir, nvme_cap, x->dir, g_port,
		 strrchr(x->dir, '/') + 1, g_dir);
	assert_int_equal(cfg_parse_string(text, "t.conf", &x->cfg, err,
					  sizeof(err)), 0);
	nwrapped = 0;
	be_open_hook = wrap_hook;
	if (fs_fabric_open(&x->cfg, &x->f, err, sizeof(err)))
		print_error("fs_fabric_open: %s\n", err);
	assert_non_null(x->f);
}

static void fab_open(struct fix *x)
{
	fab_open_es(x, "64K", "16M");
}

static void fab_reopen(struct fix *x)
{
	fs_fabric_close(x->f);
	x->f = NULL;
	fab_open(x);
}

/* A file of n extents of byte ch, moved to the S3 tier. */
static uint64_t cold_file(struct fix *x, const char *name, int n, int ch)
{
	struct fs_file *fh = NULL;
	struct stat st;
	char *b = malloc(n * ES);

	assert_non_null(b);
	memset(b, ch, n * ES);
	assert_int_equal(fs_create(x->f, &root_ctx, ROOT, name, 0644,
				   O_RDWR | O_CREAT, &st, &fh), 0);
	assert_int_equal(fs_write(x->f, fh, b, n * ES, 0), (ssize_t)(n * ES));
	assert_int_equal(fs_release(x->f, fh), 0);
	free(b);
	assert_true(fs_migrate(x->f, st.st_ino, 0, UINT64_MAX, "cold", 1.0) > 0);
	assert_int_equal(fs_migrate_wait(x->f, 20000), 0);
	return st.st_ino;
}

/* Bytes equal to ch in [off, off + len) of ino. */
static int count_byte(struct fix *x, uint64_t ino, uint64_t off, uint64_t len,
		      int ch)
{
	struct fs_file *fh = NULL;
	char *b = malloc(len);
	ssize_t n;
	int k = 0;

	assert_non_null(b);
	assert_int_equal(fs_open(x->f, NULL, ino, O_RDONLY, &fh), 0);
	n = fs_read(x->f, fh, b, len, off);
	for (ssize_t i = 0; i < n; i++)
		k += b[i] == ch;
	assert_int_equal(fs_release(x->f, fh), 0);
	free(b);
	return k;
}

/* Two whole S3 extents overwritten; the file tier fails the second
 * chunk: a short write, the first extent new, the second still old, now
 * and after a restart. Before, the second read zeros: its extent had
 * moved to nvme, unwritten, and the partial commit freed its object. */
static void test_whole_overwrite_fails(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	char *b = malloc(2 * ES);
	uint64_t ino;

	assert_non_null(b);
	fab_open(x);
	ino = cold_file(x, "f", 2, 'A');
	memset(b, 'B', 2 * ES);
	assert_int_equal(fs_open(x->f, NULL, ino, O_RDWR, &fh), 0);
	be_fault_set(wrapped[0], FAULT_PWRITE, FAULT_FAIL, EIO, 1, 1);
	assert_int_equal(fs_write(x->f, fh, b, 2 * ES, 0), (ssize_t)ES);
	be_fault_clear(wrapped[0]);
	assert_int_equal(fs_release(x->f, fh), 0);
	assert_int_equal(count_byte(x, ino, 0, ES, 'B'), (int)ES);
	assert_int_equal(count_byte(x, ino, ES, ES, 'A'), (int)ES);
	fab_reopen(x);
	assert_int_equal(count_byte(x, ino, 0, ES, 'B'), (int)ES);
	assert_int_equal(count_byte(x, ino, ES, ES, 'A'), (int)ES);
	free(b);
}

/* A whole S3 extent overwritten while the first file tier is full: the
 * bytes go to the next one. Before, the write failed with ENOSPC and the
 * extent read zeros until the daemon forgot the file. */
static void test_whole_overwrite_full_tier(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	char *b = malloc(ES);
	uint64_t ino;

	assert_non_null(b);
	fab_open(x);
	ino = cold_file(x, "f", 1, 'A');
	memset(b, 'B', ES);
	assert_int_equal(fs_open(x->f, NULL, ino, O_RDWR, &fh), 0);
	be_fault_set(wrapped[0], FAULT_PWRITE, FAULT_FAIL, ENOSPC, 0, 1);
	assert_int_equal(fs_write(x->f, fh, b, ES, 0), (ssize_t)ES);
	be_fault_clear(wrapped[0]);
	assert_int_equal(fs_release(x->f, fh), 0);
	assert_int_equal(count_byte(x, ino, 0, ES, 'B'), (int)ES);
	fab_reopen(x);
	assert_int_equal(count_byte(x, ino, 0, ES, 'B'), (int)ES);

	/* the file tier failing (EIO): the write fails, the old bytes stay */
	ino = cold_file(x, "g", 1, 'C');
	assert_int_equal(fs_open(x->f, NULL, ino, O_RDWR, &fh), 0);
	be_fault_set(wrapped[0], FAULT_PWRITE, FAULT_FAIL, EIO, 0, 1);
	assert_true(fs_write(x->f, fh, b, ES, 0) < 0);
	be_fault_clear(wrapped[0]);
	assert_int_equal(fs_release(x->f, fh), 0);
	assert_int_equal(count_byte(x, ino, 0, ES, 'C'), (int)ES);
	fab_reopen(x);
	assert_int_equal(count_byte(x, ino, 0, ES, 'C'), (int)ES);
	free(b);
}

/* A punch over two S3 extents that fails on the second (its object
 * cannot be read back for the part that stays): the first, punched
 * whole, is gone in memory and on disk alike, and the tier's bytes used
 * say the same before and after a restart. Before, the map on disk kept
 * it: it read zeros, and its bytes again after the restart. */
static void test_punch_fails_part_way(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct fs_status st;
	uint64_t ino, used;
	int d;

	fab_open(x);
	ino = cold_file(x, "h", 2, 'D');
	assert_int_equal(fs_open(x->f, NULL, ino, O_RDWR, &fh), 0);
	be_fault_set(wrapped[2], FAULT_EXT_READ, FAULT_FAIL, EIO, 0, -1);
	assert_int_equal(fs_fallocate(x->f, fh, FALLOC_FL_PUNCH_HOLE |
				      FALLOC_FL_KEEP_SIZE, 0, ES + 100), -EIO);
	be_fault_clear(wrapped[2]);
	assert_int_equal(fs_release(x->f, fh), 0);
	d = count_byte(x, ino, 0, ES, 'D');
	assert_int_equal(fs_status(x->f, &st), 0);
	used = st.tiers[2].used;
	fab_reopen(x);
	assert_int_equal(count_byte(x, ino, 0, ES, 'D'), d);
	assert_int_equal(count_byte(x, ino, ES, ES, 'D'), (int)ES);
	assert_int_equal(fs_status(x->f, &st), 0);
	assert_int_equal(st.tiers[2].used, used);
}

/* A migration from a local tier to S3 whose source file was removed
 * behind the file system's back: the copy (through buffers, not the
 * ring) read the missing file as zeros and sealed them in S3, and the
 * file read zeros from then on. The job rolls back with EIO instead. */
static void test_missing_source_to_s3(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct meta_job j;
	struct stat st;
	char *b = malloc(2 * ES), p[256];
	int64_t id;

	assert_non_null(b);
	fab_open(x);
	memset(b, 'E', 2 * ES);
	assert_int_equal(fs_create(x->f, &root_ctx, ROOT, "m", 0644,
				   O_RDWR | O_CREAT, &st, &fh), 0);
	assert_int_equal(fs_write(x->f, fh, b, 2 * ES, 0), (ssize_t)(2 * ES));
	assert_int_equal(fs_fsync(x->f, fh, 0), 0);
	assert_int_equal(fs_release(x->f, fh), 0);
	fab_reopen(x);                 /* no descriptor of it kept open */
	snprintf(p, sizeof(p), "%s/nvme/data/%02x/%02x/%016" PRIx64, x->dir,
		 (unsigned)((st.st_ino >> 8) & 0xff),
		 (unsigned)(st.st_ino & 0xff), (uint64_t)st.st_ino);
	assert_int_equal(unlink(p), 0);
	id = fs_migrate(x->f, st.st_ino, 0, UINT64_MAX, "cold", 1.0);
	assert_true(id > 0);
	assert_int_equal(fs_migrate_wait(x->f, 20000), 0);
	assert_int_equal(fs_job(x->f, (uint64_t)id, &j), 0);
	assert_int_equal(j.state, META_JOB_ROLLED_BACK);
	assert_int_equal(j.err, EIO);
	assert_int_equal(count_byte(x, st.st_ino, 0, 2 * ES, 0), 0);
	free(b);
}

/* An extent of zeros coming back from S3 stays a hole on the local tier,
 * the last one too (but for its last byte), and st_blocks follows: before,
 * every extent was written whole. */
static void test_sparse_back_from_s3(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct stat st;
	char *b = calloc(4, ES), p[256];

	assert_non_null(b);
	fab_open(x);
	memset(b, 'S', ES);            /* extents 1 and 3: zeros */
	memset(b + 2 * ES, 'S', ES);
	assert_int_equal(fs_create(x->f, &root_ctx, ROOT, "z", 0644,
				   O_RDWR | O_CREAT, &st, &fh), 0);
	assert_int_equal(fs_write(x->f, fh, b, 4 * ES, 0), (ssize_t)(4 * ES));
	assert_int_equal(fs_release(x->f, fh), 0);
	assert_true(fs_migrate(x->f, st.st_ino, 0, UINT64_MAX, "cold", 1.0) > 0);
	assert_int_equal(fs_migrate_wait(x->f, 20000), 0);
	assert_true(fs_migrate(x->f, st.st_ino, 0, UINT64_MAX, "nvme", 1.0) > 0);
	assert_int_equal(fs_migrate_wait(x->f, 20000), 0);
	assert_int_equal(count_byte(x, st.st_ino, 0, 4 * ES, 'S'), 2 * ES);
	assert_int_equal(count_byte(x, st.st_ino, 0, 4 * ES, 0), 2 * ES);
	snprintf(p, sizeof(p), "%s/nvme/data/%02x/%02x/%016" PRIx64, x->dir,
		 (unsigned)((st.st_ino >> 8) & 0xff),
		 (unsigned)(st.st_ino & 0xff), (uint64_t)st.st_ino);
	{
		struct stat tf, a;

		assert_int_equal(stat(p, &tf), 0);
		assert_int_equal(tf.st_size, 4 * ES);
		/* two extents of data, one page for the last byte and
		 * what the filesystem keeps for its map of the holes;
		 * written whole, four extents */
		assert_true((uint64_t)tf.st_blocks * 512 <= 2 * ES + 16384);
		assert_int_equal(fs_getattr(x->f, st.st_ino, &a), 0);
		assert_int_equal(a.st_blocks, tf.st_blocks);
	}
	free(b);
}

/* A write into an extent that a migration copies from S3 recalls it to
 * another local tier and deletes the object: the copy's next read found
 * no object, and the job failed with EIO (and an error logged) instead of
 * losing the race to the write. */
static void test_write_during_copy_from_s3(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct meta_job j;
	struct stat st;
	size_t big = 4u << 20;
	char *b = malloc(big), *r = malloc(big);
	int64_t id;
	int i, wrote = 0;

	assert_true(b && r);
	fab_open_es(x, "4M", "64M");
	memset(b, 'A', big);
	assert_int_equal(fs_create(x->f, &root_ctx, ROOT, "r", 0644,
				   O_RDWR | O_CREAT, &st, &fh), 0);
	assert_int_equal(fs_write(x->f, fh, b, big, 0), (ssize_t)big);
	fs_set_bandwidth(x->f, 0);
	id = fs_migrate(x->f, st.st_ino, 0, UINT64_MAX, "cold", 1.0);
	assert_int_equal(fs_migrate_wait(x->f, 20000), 0);
	assert_int_equal(fs_job(x->f, (uint64_t)id, &j), 0);
	assert_int_equal(j.state, META_JOB_CLEANED);
	/* 1 MiB/s: the copy back reads its extent in four parts, a second
	 * apart; the write comes between two of them. */
	fs_set_bandwidth(x->f, 1u << 20);
	id = fs_migrate(x->f, st.st_ino, 0, UINT64_MAX, "nvme", 1.0);
	assert_true(id > 0);
	for (i = 0; i < 5000 && !wrote; i++) {
		if (fs_job(x->f, (uint64_t)id, &j) == 0 &&
		    j.state == META_JOB_COPYING) {
			usleep(1500000);
			assert_int_equal(fs_write(x->f, fh, "ZZZZ", 4, 10), 4);
			wrote = 1;
		}
		usleep(1000);
	}
	assert_true(wrote);
	fs_set_bandwidth(x->f, 0);
	assert_int_equal(fs_migrate_wait(x->f, 30000), 0);
	assert_int_equal(fs_job(x->f, (uint64_t)id, &j), 0);
	memcpy(b + 10, "ZZZZ", 4);
	assert_int_equal(fs_read(x->f, fh, r, big, 0), (ssize_t)big);
	assert_memory_equal(r, b, big);
	assert_int_equal(fs_release(x->f, fh), 0);
	assert_int_equal(j.state, META_JOB_CLEANED);
	free(b);
	free(r);
}


/* Truncates ino to size. */
static void trunc_to(struct fix *x, uint64_t ino, uint64_t size)
{
	struct stat a = { .st_size = (off_t)size }, out;

	assert_int_equal(fs_setattr(x->f, &root_ctx, ino, &a, FS_SET_SIZE,
				    NULL, &out), 0);
}

/* ino (all 'A', one extent) truncated to 0 and then given one byte at
 * the extent's end: a new extent whose first ES - 1 bytes must read as
 * zeros, whatever its tier's file held in that slot. */
static void check_slot_zeros(struct fix *x, uint64_t ino)
{
	struct fs_file *fh = NULL;

	assert_int_equal(count_byte(x, ino, 0, ES, 'A'), (int)ES);
	trunc_to(x, ino, 0);
	assert_int_equal(fs_open(x->f, NULL, ino, O_RDWR, &fh), 0);
	assert_int_equal(fs_write(x->f, fh, "Z", 1, ES - 1), 1);
	assert_int_equal(fs_release(x->f, fh), 0);
	assert_int_equal(count_byte(x, ino, 0, ES - 1, 0), (int)(ES - 1));
}

/* A file of one extent in S3, open as *fh, and a write of b[100] into
 * part of it that fails after its recall: the recall's copy back (the
 * first pwrite on nvme) goes through, the write's own does not. */
static uint64_t recall_then_fail(struct fix *x, struct fs_file **fh, char *b)
{
	uint64_t ino;

	fab_open(x);
	ino = cold_file(x, "f", 1, 'A');
	memset(b, 'B', 100);
	assert_int_equal(fs_open(x->f, NULL, ino, O_RDWR, fh), 0);
	be_fault_set(wrapped[0], FAULT_PWRITE, FAULT_FAIL, EIO, 1, 1);
	assert_true(fs_write(x->f, *fh, b, 100, 10) < 0);
	be_fault_clear(wrapped[0]);
	return ino;
}

/* A write into part of an S3 extent whose first chunk fails on the file
 * tier after the recall succeeded. Nothing was committed, but in memory
 * the extent (and the tier accounting) had moved to nvme while the store
 * still named the object: after a restart the recalled bytes stayed in
 * nvme's file where the stored map had no extent, a truncate did not cut
 * that tier, and a new extent made later in that slot read them instead
 * of zeros. Now the recall is committed, and a truncate cuts every file
 * tier. */
static void test_recall_then_write_fails(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct fs_status s1, s2;
	char b[100];
	uint64_t ino;

	ino = recall_then_fail(x, &fh, b);
	assert_int_equal(fs_release(x->f, fh), 0);
	assert_int_equal(fs_status(x->f, &s1), 0);
	fab_reopen(x);
	assert_int_equal(fs_status(x->f, &s2), 0);
	check_slot_zeros(x, ino);
	assert_int_equal(s1.tiers[0].used, s2.tiers[0].used);
	assert_int_equal(s1.tiers[2].used, s2.tiers[2].used);
	assert_int_equal(s1.tiers[2].extents, s2.tiers[2].extents);
}

/* The recall's own copy back fails part way (here a file size limit:
 * EFBIG after half the extent). The half it wrote stayed in nvme's file,
 * in the slot of an extent still on S3, and a new extent made there
 * after a truncate read it instead of zeros. Now a failed copy back is
 * punched. */
static void test_recall_fails_part_way(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct rlimit old, lim;
	char b[10];
	uint64_t ino;
	ssize_t rc;

	fab_open(x);
	ino = cold_file(x, "f", 1, 'A');
	memset(b, 'B', sizeof(b));
	assert_int_equal(fs_open(x->f, NULL, ino, O_RDWR, &fh), 0);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = ES / 2;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	rc = fs_write(x->f, fh, b, sizeof(b), 10);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_true(rc < 0);
	assert_int_equal(fs_release(x->f, fh), 0);
	check_slot_zeros(x, ino);
}

/* Sum of extent bytes and counts per tier over inos, from fs_where. */
static void where_sum(struct fix *x, const uint64_t *inos, int n,
		      int64_t *used, int64_t *cnt)
{
	struct fs_status st;

	assert_int_equal(fs_status(x->f, &st), 0);
	for (int t = 0; t < 3; t++)
		used[t] = cnt[t] = 0;
	for (int i = 0; i < n; i++) {
		struct fs_where_ext *w = NULL;
		size_t k, m = 0;
		uint64_t size;

		if (fs_where(x->f, inos[i], &w, &m, &size) < 0)
			continue;
		for (k = 0; k < m; k++)
			for (int t = 0; t < 3; t++)
				if (!strcmp(w[k].tier, st.tiers[t].name)) {
					used[t] += (int64_t)w[k].len;
					cnt[t]++;
				}
		free(w);
	}
}

static void check_acct(struct fix *x, const uint64_t *inos, int n,
		       const char *when)
{
	struct fs_status st;
	int64_t used[3], cnt[3];

	where_sum(x, inos, n, used, cnt);
	assert_int_equal(fs_status(x->f, &st), 0);
	for (int t = 0; t < 3; t++) {
		if ((int64_t)st.tiers[t].used != used[t] ||
		    (int64_t)st.tiers[t].extents != cnt[t])
			print_message("%s: tier %s: status used %" PRId64
				      " extents %" PRId64 ", map %" PRId64
				      " / %" PRId64 "\n", when, st.tiers[t].name,
				      (int64_t)st.tiers[t].used,
				      (int64_t)st.tiers[t].extents, used[t], cnt[t]);
		assert_int_equal((int64_t)st.tiers[t].used, used[t]);
		assert_int_equal((int64_t)st.tiers[t].extents, cnt[t]);
	}
}

/* Truncate, punch, zero range, allocate, whole and partial writes over
 * S3 extents, and an unlink: the tier accounting matches the map, and the
 * data is right, before and after two restarts. */
static void test_sweep(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	uint64_t ino[6];
	char *b = malloc(3 * ES), *r = malloc(3 * ES);
	char *exp[6];

	assert_true(b && r);
	fab_open(x);
	for (int i = 0; i < 6; i++) {
		char name[16];

		snprintf(name, sizeof(name), "s%d", i);
		ino[i] = cold_file(x, name, 3, 'a' + i);
		exp[i] = malloc(3 * ES);
		memset(exp[i], 'a' + i, 3 * ES);
	}
	check_acct(x, ino, 6, "after cold");
	/* 0: truncate into ext 1, grow, write past */
	trunc_to(x, ino[0], ES + 100);
	check_acct(x, ino, 6, "trunc mid");
	trunc_to(x, ino[0], 3 * ES);
	memset(exp[0] + ES + 100, 0, 2 * ES - 100);
	assert_int_equal(fs_open(x->f, NULL, ino[0], O_RDWR, &fh), 0);
	assert_int_equal(fs_write(x->f, fh, "QQ", 2, 2 * ES + 5), 2);
	memcpy(exp[0] + 2 * ES + 5, "QQ", 2);
	assert_int_equal(fs_write(x->f, fh, "RR", 2, ES + 200), 2);
	memcpy(exp[0] + ES + 200, "RR", 2);
	assert_int_equal(fs_release(x->f, fh), 0);
	check_acct(x, ino, 6, "trunc grow write");
	/* 1: punch partial 0/1, whole 2 */
	assert_int_equal(fs_open(x->f, NULL, ino[1], O_RDWR, &fh), 0);
	assert_int_equal(fs_fallocate(x->f, fh, FALLOC_FL_PUNCH_HOLE |
				      FALLOC_FL_KEEP_SIZE, 100, ES + 100), 0);
	memset(exp[1] + 100, 0, ES + 100);
	assert_int_equal(fs_fallocate(x->f, fh, FALLOC_FL_PUNCH_HOLE |
				      FALLOC_FL_KEEP_SIZE, 2 * ES, ES), 0);
	memset(exp[1] + 2 * ES, 0, ES);
	assert_int_equal(fs_release(x->f, fh), 0);
	check_acct(x, ino, 6, "punch");
	/* 2: zero range, partial and whole, growing */
	assert_int_equal(fs_open(x->f, NULL, ino[2], O_RDWR, &fh), 0);
	assert_int_equal(fs_fallocate(x->f, fh, FALLOC_FL_ZERO_RANGE, ES - 10,
				      20), 0);
	memset(exp[2] + ES - 10, 0, 20);
	assert_int_equal(fs_fallocate(x->f, fh, FALLOC_FL_ZERO_RANGE, 2 * ES,
				      ES), 0);
	memset(exp[2] + 2 * ES, 0, ES);
	assert_int_equal(fs_release(x->f, fh), 0);
	check_acct(x, ino, 6, "zero");
	/* 3: truncate at an extent's end, allocate past it */
	trunc_to(x, ino[3], 2 * ES);
	assert_int_equal(fs_open(x->f, NULL, ino[3], O_RDWR, &fh), 0);
	assert_int_equal(fs_fallocate(x->f, fh, 0, 2 * ES, ES), 0);
	memset(exp[3] + 2 * ES, 0, ES);
	assert_int_equal(fs_release(x->f, fh), 0);
	check_acct(x, ino, 6, "allocate");
	/* 4: whole ext 1 and part of ext 2 in one write */
	memset(b, 'W', 2 * ES);
	assert_int_equal(fs_open(x->f, NULL, ino[4], O_RDWR, &fh), 0);
	assert_int_equal(fs_write(x->f, fh, b, ES + 10, ES), (ssize_t)(ES + 10));
	memset(exp[4] + ES, 'W', ES + 10);
	assert_int_equal(fs_release(x->f, fh), 0);
	check_acct(x, ino, 6, "write");
	/* 5: unlink */
	assert_int_equal(fs_unlink(x->f, ROOT, "s5"), 0);
	fs_forget(x->f, ino[5], 1);
	check_acct(x, ino, 5, "unlink");
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 5; i++) {
			struct fs_file *h = NULL;
			struct stat a;

			assert_int_equal(fs_getattr(x->f, ino[i], &a), 0);
			assert_int_equal(fs_open(x->f, NULL, ino[i], O_RDONLY, &h), 0);
			memset(r, 0x55, 3 * ES);
			assert_int_equal(fs_read(x->f, h, r, 3 * ES, 0),
					 (ssize_t)(3 * ES));
			assert_memory_equal(r, exp[i], 3 * ES);
			assert_int_equal(fs_release(x->f, h), 0);
		}
		fab_reopen(x);
		check_acct(x, ino, 5, "reopen");
	}
	for (int i = 0; i < 6; i++)
		free(exp[i]);
	free(b);
	free(r);
}

/* As test_recall_then_write_fails, then a write into the same extent
 * succeeds: the stored map said nvme, but the stored counters never moved
 * (the recall's accounting went into the batch that was dropped): after
 * a restart, status said cold held the extent and nvme nothing. */
static void test_recall_then_write_fails_acct(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	char b[100];
	uint64_t ino;

	ino = recall_then_fail(x, &fh, b);
	assert_int_equal(fs_write(x->f, fh, b, sizeof(b), 10), (ssize_t)sizeof(b));
	assert_int_equal(fs_release(x->f, fh), 0);
	check_acct(x, &ino, 1, "before restart");
	fab_reopen(x);
	check_acct(x, &ino, 1, "after restart");
}

/* SEEK_DATA / SEEK_HOLE over S3 extents, and fallocate growing an S3
 * extent past its object's bytes. */
static void test_seek_alloc_s3(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct stat st;
	char *b = malloc(ES), *r = malloc(ES);
	uint64_t ino;

	fab_open(x);
	ino = cold_file(x, "f", 3, 'A');
	assert_int_equal(fs_open(x->f, NULL, ino, O_RDWR, &fh), 0);
	assert_int_equal(fs_lseek(x->f, fh, 0, SEEK_DATA), 0);
	assert_int_equal(fs_lseek(x->f, fh, 10, SEEK_HOLE), 3 * ES);
	assert_int_equal(fs_fallocate(x->f, fh, FALLOC_FL_PUNCH_HOLE |
				      FALLOC_FL_KEEP_SIZE, ES, ES), 0);
	assert_int_equal(fs_lseek(x->f, fh, 10, SEEK_HOLE), ES);
	assert_int_equal(fs_lseek(x->f, fh, ES, SEEK_DATA), 2 * ES);
	assert_int_equal(fs_lseek(x->f, fh, 2 * ES + 5, SEEK_DATA), 2 * ES + 5);
	assert_int_equal(fs_release(x->f, fh), 0);

	/* half an extent on S3, allocated to a whole one (keep size) */
	assert_int_equal(fs_create(x->f, &root_ctx, ROOT, "g", 0644,
				   O_RDWR | O_CREAT, &st, &fh), 0);
	memset(b, 'G', ES);
	assert_int_equal(fs_write(x->f, fh, b, ES / 2, 0), (ssize_t)(ES / 2));
	assert_true(fs_migrate(x->f, st.st_ino, 0, UINT64_MAX, "cold", 1.0) > 0);
	assert_int_equal(fs_migrate_wait(x->f, 20000), 0);
	assert_int_equal(fs_fallocate(x->f, fh, FALLOC_FL_KEEP_SIZE, 0, ES), 0);
	assert_int_equal(fs_fallocate(x->f, fh, 0, 0, ES), 0);
	assert_int_equal(fs_read(x->f, fh, r, ES, 0), (ssize_t)ES);
	memset(b + ES / 2, 0, ES / 2);
	assert_memory_equal(r, b, ES);
	assert_int_equal(fs_write(x->f, fh, "H", 1, ES - 1), 1);
	b[ES - 1] = 'H';
	assert_int_equal(fs_read(x->f, fh, r, ES, 0), (ssize_t)ES);
	assert_memory_equal(r, b, ES);
	assert_int_equal(fs_release(x->f, fh), 0);
	fab_reopen(x);
	assert_int_equal(fs_open(x->f, NULL, st.st_ino, O_RDONLY, &fh), 0);
	assert_int_equal(fs_read(x->f, fh, r, ES, 0), (ssize_t)ES);
	assert_memory_equal(r, b, ES);
	assert_int_equal(fs_release(x->f, fh), 0);
	free(b);
	free(r);
}

/* A write into part of an S3 extent while the first file tier's
 * filesystem is full: the recall failed with ENOSPC and so did the write,
 * though the next tier had room (a write over the whole extent went
 * there: test_whole_overwrite_full_tier). Now the recall goes there. */
static void test_recall_full_tier(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	uint64_t ino;
	ssize_t rc;

	fab_open(x);
	ino = cold_file(x, "f", 1, 'A');
	assert_int_equal(fs_open(x->f, NULL, ino, O_RDWR, &fh), 0);
	be_fault_set(wrapped[0], FAULT_PWRITE, FAULT_FAIL, ENOSPC, 0, -1);
	rc = fs_write(x->f, fh, "BB", 2, 10);
	be_fault_clear(wrapped[0]);
	assert_int_equal(rc, 2);
	assert_int_equal(fs_release(x->f, fh), 0);
}

/* A write into part of a sealed extent that fails part way (EFBIG from
 * RLIMIT_FSIZE, after its first bytes reached the tier) changed bytes the
 * extent's checksum covers. Before, the extent stayed sealed, and its
 * next move gave up on it: "its bytes changed on the medium since it was
 * sealed". Now the failed write unseals it and it moves. */
static void test_failed_write_unseals(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct rlimit old, lim;
	struct meta_job j;
	struct stat st;
	const uint64_t at = 16 * ES;       /* past what RocksDB writes */
	char *b = malloc(ES);
	int64_t id;

	assert_non_null(b);
	fab_open(x);
	memset(b, 'S', ES);
	assert_int_equal(fs_create(x->f, &root_ctx, ROOT, "s", 0644,
				   O_RDWR | O_CREAT, &st, &fh), 0);
	assert_int_equal(fs_write(x->f, fh, b, ES / 2, at), (ssize_t)(ES / 2));
	assert_true(fs_migrate(x->f, st.st_ino, 0, UINT64_MAX, "cold", 1.0) > 0);
	assert_int_equal(fs_migrate_wait(x->f, 20000), 0);
	/* brought back to nvme, then 12 KiB of 16 KiB written */
	memset(b, 'W', ES);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = at + ES / 2 + 4096;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(fs_write(x->f, fh, b, 16384, at + ES / 2 - 8192), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(fs_release(x->f, fh), 0);
	assert_int_equal(count_byte(x, st.st_ino, at, ES / 2, 'W'), 8192);
	id = fs_migrate(x->f, st.st_ino, 0, UINT64_MAX, "hdd", 1.0);
	assert_true(id > 0);
	assert_int_equal(fs_migrate_wait(x->f, 20000), 0);
	assert_int_equal(fs_job(x->f, (uint64_t)id, &j), 0);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(count_byte(x, st.st_ino, at, ES / 2, 'W'), 8192);
	assert_int_equal(count_byte(x, st.st_ino, at, ES / 2, 'S'), (int)(ES / 2 - 8192));
	free(b);
}

/* A truncate whose cut of a tier's file fails: before, the tiers were
 * cut first and the size and map committed after, so a failure on the
 * second tier (or a kill -9 in between) left the old size and map over
 * bytes the first cut had taken: they read as zeros. Now the truncate is
 * committed first and the files cut after; a cut that fails is logged
 * and the truncate stands. */
static void test_truncate_cut_fails(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct stat st, a;
	char *b = malloc(4 * ES);
	uint64_t ino;

	assert_non_null(b);
	fab_open(x);
	memset(b, 'T', 4 * ES);
	assert_int_equal(fs_create(x->f, &root_ctx, ROOT, "t", 0644,
				   O_RDWR | O_CREAT, &st, &fh), 0);
	ino = st.st_ino;
	assert_int_equal(fs_write(x->f, fh, b, 2 * ES, 0), (ssize_t)(2 * ES));
	assert_true(fs_migrate(x->f, ino, 0, UINT64_MAX, "hdd", 1.0) > 0);
	assert_int_equal(fs_migrate_wait(x->f, 20000), 0);
	/* two more extents on nvme: the file is on both tiers */
	assert_int_equal(fs_write(x->f, fh, b, 2 * ES, 2 * ES), (ssize_t)(2 * ES));
	assert_int_equal(fs_fsync(x->f, fh, 0), 0);
	/* nvme (tiers in order) is cut, hdd fails */
	be_fault_set(wrapped[1], FAULT_TRUNCATE, FAULT_FAIL, EIO, 0, -1);
	a.st_size = (off_t)(ES / 2);
	assert_int_equal(fs_setattr(x->f, &root_ctx, ino, &a, FS_SET_SIZE, fh,
				    &a), 0);
	be_fault_clear(wrapped[1]);
	assert_int_equal(a.st_size, ES / 2);
	assert_int_equal(count_byte(x, ino, 0, 4 * ES, 'T'), (int)(ES / 2));
	/* grown again: zeros past the cut, though the files were not cut */
	assert_int_equal(fs_write(x->f, fh, "E", 1, 4 * ES - 1), 1);
	assert_int_equal(count_byte(x, ino, 0, 4 * ES, 'T'), (int)(ES / 2));
	assert_int_equal(count_byte(x, ino, 0, 4 * ES, 0),
			 (int)(4 * ES - ES / 2 - 1));
	assert_int_equal(fs_release(x->f, fh), 0);
	fab_reopen(x);
	assert_int_equal(count_byte(x, ino, 0, 4 * ES, 'T'), (int)(ES / 2));
	assert_int_equal(count_byte(x, ino, 0, 4 * ES, 0),
			 (int)(4 * ES - ES / 2 - 1));
	free(b);
}

/* Regression test, failed before its fix (fs/fs.c, fs_lseek): a tier
 * whose seek failed (a read-only tier filesystem, EIO, EMFILE) was taken
 * for one without data: SEEK_DATA on a file full of it said ENXIO, and
 * cp, which seeks a sparse file's data, copied it as zeros with exit 0.
 * The error is the answer now, for SEEK_HOLE too. */
static void test_seek_fails(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct stat st;
	char *b = malloc(ES);

	assert_non_null(b);
	fab_open(x);
	memset(b, 'S', ES);
	assert_int_equal(fs_create(x->f, &root_ctx, ROOT, "s", 0644,
				   O_RDWR | O_CREAT, &st, &fh), 0);
	assert_int_equal(fs_write(x->f, fh, b, ES, 0), (ssize_t)ES);
	assert_int_equal(fs_write(x->f, fh, b, ES, 3 * ES), (ssize_t)ES);
	assert_int_equal(fs_lseek(x->f, fh, 0, SEEK_DATA), 0);
	assert_int_equal(fs_lseek(x->f, fh, ES, SEEK_DATA), (int64_t)(3 * ES));
	be_fault_set(wrapped[0], FAULT_SEEK, FAULT_FAIL, EIO, 0, -1);
	assert_int_equal(fs_lseek(x->f, fh, 0, SEEK_DATA), -EIO);
	assert_int_equal(fs_lseek(x->f, fh, 0, SEEK_HOLE), -EIO);
	be_fault_clear(wrapped[0]);
	assert_int_equal(fs_lseek(x->f, fh, 0, SEEK_HOLE), (int64_t)ES);
	assert_int_equal(fs_release(x->f, fh), 0);
	free(b);
}

/* The server stopped by a test runs again, on its port. */
static int teardown_restart(void **state)
{
	int rc = teardown(state);

	if (s3srv_run("start", g_dir, g_port) < 0) {
		fprintf(stderr, "test_fs_s3: cannot restart s3rver\n");
		return -1;
	}
	return rc;
}

/* The object store goes down: a migration to it fails cleanly (rolled
 * back with the reason, the file whole on its tier), and the queue moves
 * on to a job between the file tiers. */
static void test_migrate_to_s3_down(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct meta_job j;
	struct stat st;
	char b[3 * ES], r[3 * ES];
	int64_t id;

	fab_open(x);
	memset(b, 'q', sizeof(b));
	assert_int_equal(fs_create(x->f, &root_ctx, ROOT, "d", 0644,
				   O_RDWR | O_CREAT, &st, &fh), 0);
	assert_int_equal(fs_write(x->f, fh, b, sizeof(b), 0), (ssize_t)sizeof(b));
	assert_int_equal(fs_fsync(x->f, fh, 0), 0);
	assert_int_equal(s3srv_run("stop", g_dir, 0), 0);

	id = fs_migrate(x->f, st.st_ino, 0, UINT64_MAX, "cold", 1.0);
	assert_true(id > 0);
	assert_int_equal(fs_migrate_wait(x->f, 60000), 0);
	assert_int_equal(fs_job(x->f, (uint64_t)id, &j), 0);
	assert_int_equal(j.state, META_JOB_ROLLED_BACK);
	assert_int_not_equal(j.err, 0);
	assert_non_null(strstr(j.reason, "cold"));
	assert_int_equal(fs_read(x->f, fh, r, sizeof(r), 0), (ssize_t)sizeof(r));
	assert_memory_equal(r, b, sizeof(b));

	id = fs_migrate(x->f, st.st_ino, 0, UINT64_MAX, "hdd", 1.0);
	assert_true(id > 0);
	assert_int_equal(fs_migrate_wait(x->f, 20000), 0);
	assert_int_equal(fs_job(x->f, (uint64_t)id, &j), 0);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(fs_read(x->f, fh, r, sizeof(r), 0), (ssize_t)sizeof(r));
	assert_memory_equal(r, b, sizeof(b));
	assert_int_equal(fs_release(x->f, fh), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_recall_full_tier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seek_alloc_s3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recall_then_write_fails_acct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recall_fails_part_way, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recall_then_write_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whole_overwrite_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whole_overwrite_full_tier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_punch_fails_part_way, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sparse_back_from_s3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_write_unseals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate_cut_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seek_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_during_copy_from_s3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_source_to_s3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_to_s3_down, setup, teardown_restart),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
