// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the migration engine (tiering/migrate.c) through the file
 * operations, without a mount: two local tiers ("nvme", "hdd"), 64 KiB
 * extents. Crash tests fork a child that opens the fabric, migrates and
 * _exit()s at a chosen step; the parent then opens the fabric (recovery)
 * and checks that every byte is right and no copy is left behind. Fault
 * tests wrap both tiers in the fault-injecting backend. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "backends/fault.h"
#include "common/clock.h"
#include "common/config.h"
#include "fs/fs.h"
#include "fs/meta.h"
#include "tiering/migrate.h"
#include "tmpdir.h"

#define ES        ((uint64_t)65536)
#define ROOT      ((uint64_t)1)
#define FSIZE     (5 * ES + 1000)        /* six extents, the last partial */
#define WAIT_MS   20000

struct fix {
	char dir[64];                  /* mkdtemp directory */
	char text[2048];               /* config text */
	struct cfg cfg;                /* parsed config */
	struct fabric *f;              /* open fabric or NULL */
	uint8_t model[FSIZE];          /* the file's expected bytes */
	uint64_t ino;                  /* the file */
	const char *mode;              /* config lines every test gets */
};

static const struct fs_ctx root_ctx = { .uid = 0, .gid = 0, .pid = 1 };
static struct backend *wrapped[2];     /* fault wrappers, by tier index */
static int nwrapped;

static struct backend *wrap_hook(struct backend *be)
{
	struct backend *w = NULL;

	assert_int_equal(be_fault_wrap(be, &w), 0);
	if (nwrapped < 2)
		wrapped[nwrapped++] = w;
	return w;
}

static int setup(void **state)
{
	struct fix *x = calloc(1, sizeof(*x));

	if (!x)
		return -1;
	strcpy(x->dir, "/tmp/test_mig.XXXXXX");
	if (tmpdir_tiers(x->dir) < 0) {
		tmpdir_remove(x->dir);
		free(x);
		return -1;
	}
	x->mode = "";
	*state = x;
	return 0;
}

/* The same tests with the copies read back from the device (O_DIRECT)
 * instead of through the page cache. */
static int setup_device(void **state)
{
	int rc = setup(state);

	if (rc == 0)
		((struct fix *)*state)->mode = "migrate_verify = device\n";
	return rc;
}

static int teardown(void **state)
{
	struct fix *x = *state;

	if (x->f)
		fs_fabric_close(x->f);
	be_open_hook = NULL;
	nwrapped = 0;
	mig_debug_crash_at(NULL);
	mig_debug_claim_delay(0);
	mig_debug_hold_delay(0);
	mig_debug_size_delay(0);
	mig_debug_submit_delay(0);
	mig_debug_uring_fault(0);
	meta_debug_fail_syncs = 0;
	tmpdir_remove(x->dir);
	free(x);
	return 0;
}

static void fab_open(struct fix *x)
{
	char err[CFG_ERR_MAX] = "";
	int rc;

	nwrapped = 0;
	rc = fs_fabric_open(&x->cfg, &x->f, err, sizeof(err));
	if (rc)
		print_error("fs_fabric_open: %s\n", err);
	assert_int_equal(rc, 0);
}

static void fab_close(struct fix *x)
{
	fs_fabric_close(x->f);
	x->f = NULL;
}

static void fab_config(struct fix *x, const char *extra)
{
	char err[CFG_ERR_MAX] = "";

	snprintf(x->text, sizeof(x->text),
		 "[fabric]\nmeta = %s/meta\nextent_size = 64K\n%s%s\n"
		 "[tier.nvme]\nkind = local\npath = %s/nvme\ncapacity = 64M\n"
		 "[tier.hdd]\nkind = local\npath = %s/hdd\ncapacity = 64M\n",
		 x->dir, x->mode, extra, x->dir, x->dir);
	assert_int_equal(cfg_parse_string(x->text, "t.conf", &x->cfg, err,
					  sizeof(err)), 0);
	fab_open(x);
}

/* Creates "f" holding the FSIZE bytes of x->model (on nvme). */
static void make_file_of_model(struct fix *x)
{
	struct fs_file *fh = NULL;
	struct stat st;

	assert_int_equal(fs_create(x->f, &root_ctx, ROOT, "f", 0644,
				   O_RDWR | O_CREAT, &st, &fh), 0);
	x->ino = st.st_ino;
	assert_int_equal(fs_write(x->f, fh, x->model, FSIZE, 0), FSIZE);
	assert_int_equal(fs_fsync(x->f, fh, 0), 0);
	assert_int_equal(fs_release(x->f, fh), 0);
}

/* Creates "f" holding FSIZE random bytes (on nvme). */
static void make_file(struct fix *x)
{
	for (size_t i = 0; i < FSIZE; i++)
		x->model[i] = (uint8_t)(rand() >> 7);
	make_file_of_model(x);
}

static void check_content(struct fix *x)
{
	static uint8_t buf[FSIZE + 10];
	struct fs_file *fh = NULL;

	assert_int_equal(fs_open(x->f, NULL, x->ino, O_RDONLY, &fh), 0);
	assert_int_equal(fs_read(x->f, fh, buf, sizeof(buf), 0), FSIZE);
	assert_memory_equal(buf, x->model, FSIZE);
	assert_int_equal(fs_release(x->f, fh), 0);
}

/* Number of extents on tier `tier`; all sealed when `sealed`. */
static int on_tier(struct fix *x, const char *tier, int sealed)
{
	struct fs_where_ext *w = NULL;
	size_t n = 0, i;
	uint64_t size;
	int k = 0;

	assert_int_equal(fs_where(x->f, x->ino, &w, &n, &size), 0);
	for (i = 0; i < n; i++) {
		if (strcmp(w[i].tier, tier))
			continue;
		k++;
		if (sealed)
			assert_true(w[i].sealed);
	}
	free(w);
	return k;
}

/* The inode's file on a tier. */
static void tier_path(const struct fix *x, const char *tier, char *p,
		      size_t len)
{
	snprintf(p, len, "%s/%s/data/%02x/%02x/%016" PRIx64, x->dir, tier,
		 (unsigned)((x->ino >> 8) & 0xff), (unsigned)(x->ino & 0xff),
		 x->ino);
}

/* Bytes allocated to the inode's file on a tier (0 when missing). */
static uint64_t tier_blocks(struct fix *x, const char *tier)
{
	char p[256];
	struct stat st;

	tier_path(x, tier, p, sizeof(p));
	if (stat(p, &st) < 0)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}

/* Pages of the inode's file on a tier that the page cache holds. */
static size_t tier_cached_pages(struct fix *x, const char *tier)
{
	char p[256];
	unsigned char vec[FSIZE / 4096 + 2];
	struct stat st;
	size_t n = 0, i, pages;
	void *map;
	int fd;

	tier_path(x, tier, p, sizeof(p));
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	pages = ((size_t)st.st_size + 4095) / 4096;
	assert_true(pages > 0 && pages <= sizeof(vec));
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mincore(map, (size_t)st.st_size, vec), 0);
	for (i = 0; i < pages; i++)
		n += vec[i] & 1;
	munmap(map, (size_t)st.st_size);
	close(fd);
	return n;
}

static void wait_job(struct fix *x, int64_t id, struct meta_job *j)
{
	assert_true(id > 0);
	assert_int_equal(fs_migrate_wait(x->f, WAIT_MS), 0);
	assert_int_equal(fs_job(x->f, (uint64_t)id, j), 0);
}

/* ---------------------------------------------------------------- */

static void test_whole_file_and_back(void **state)
{
	struct fix *x = *state;
	struct fs_status st;
	struct meta_job j;

	fab_config(x, "");
	make_file(x);
	assert_int_equal(on_tier(x, "nvme", 0), 6);
	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, "hdd", 0), &j);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(j.bytes_done, FSIZE);
	assert_int_equal(j.bytes_total, FSIZE);
	assert_int_equal(on_tier(x, "hdd", 1), 6);
	assert_int_equal(tier_blocks(x, "nvme"), 0);   /* source punched */
	assert_true(tier_blocks(x, "hdd") >= FSIZE);
	/* Read back from the page cache or not, the copy leaves none. */
	assert_int_equal(tier_cached_pages(x, "hdd"), 0);
	check_content(x);
	assert_int_equal(fs_status(x->f, &st), 0);
	assert_int_equal(st.tiers[0].used, 0);
	assert_int_equal(st.tiers[0].extents, 0);
	assert_int_equal(st.tiers[0].files, 0);
	assert_int_equal(st.tiers[1].used, FSIZE);
	assert_int_equal(st.tiers[1].extents, 6);
	assert_int_equal(st.tiers[1].files, 1);

	/* Survives a restart, and moves back. */
	fab_close(x);
	fab_open(x);
	check_content(x);
	assert_int_equal(on_tier(x, "hdd", 1), 6);
	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, "nvme", 0), &j);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(on_tier(x, "nvme", 1), 6);
	assert_int_equal(tier_blocks(x, "hdd"), 0);
	check_content(x);

	/* A job with nothing to move is done at once. */
	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, "nvme", 0), &j);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(j.bytes_done, 0);
}

/* Extents of zeros (written as zeros) stay holes on the tier they move
 * to, the last one too, and st_blocks follows the move: before, every
 * extent was written whole, and st_blocks kept the count from before the
 * migration until the next write. */
static void test_sparse_stays_sparse(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct meta_job j;
	struct stat st;

	fab_config(x, "");
	make_file(x);
	/* Extents 1, 2, 4 and the partial 5 all zeros; 0 and 3 data. */
	memset(x->model + ES, 0, 2 * ES);
	memset(x->model + 4 * ES, 0, FSIZE - 4 * ES);
	assert_int_equal(fs_open(x->f, NULL, x->ino, O_RDWR, &fh), 0);
	assert_int_equal(fs_write(x->f, fh, x->model, FSIZE, 0), FSIZE);
	assert_int_equal(fs_fsync(x->f, fh, 0), 0);
	assert_int_equal(fs_release(x->f, fh), 0);
	assert_true(tier_blocks(x, "nvme") >= FSIZE);

	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, "hdd", 0), &j);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(on_tier(x, "hdd", 1), 6);
	assert_int_equal(tier_blocks(x, "nvme"), 0);
	/* the two extents of data, and the last byte's block, allocated
	 * so that the file reaches the end of the last extent (with the
	 * filesystem's own blocks for that: ext4's extent tree), not the
	 * four extents of zeros */
	assert_true(tier_blocks(x, "hdd") < 3 * ES);
	{
		char p[256];

		tier_path(x, "hdd", p, sizeof(p));
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_size, FSIZE);   /* to the last extent's end */
	}
	check_content(x);
	assert_int_equal(fs_getattr(x->f, x->ino, &st), 0);
	assert_int_equal((uint64_t)st.st_blocks * 512, tier_blocks(x, "hdd"));

	/* And back: the holes stay holes. */
	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, "nvme", 0), &j);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_true(tier_blocks(x, "nvme") < 3 * ES);
	assert_int_equal(tier_blocks(x, "hdd"), 0);
	check_content(x);
	assert_int_equal(fs_getattr(x->f, x->ino, &st), 0);
	assert_int_equal((uint64_t)st.st_blocks * 512, tier_blocks(x, "nvme"));
	/* The blocks counted after a restart too. */
	fab_close(x);
	fab_open(x);
	assert_int_equal(fs_getattr(x->f, x->ino, &st), 0);
	assert_int_equal((uint64_t)st.st_blocks * 512, tier_blocks(x, "nvme"));
}

static void test_range(void **state)
{
	struct fix *x = *state;
	struct meta_job j;

	fab_config(x, "");
	make_file(x);
	/* Bytes 70000..140000 touch extents 1 and 2. */
	wait_job(x, fs_migrate(x->f, x->ino, 70000, 70000, "hdd", 0), &j);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(j.bytes_done, 2 * ES);
	assert_int_equal(on_tier(x, "hdd", 1), 2);
	assert_int_equal(on_tier(x, "nvme", 0), 4);
	check_content(x);
	/* Bad requests. */
	assert_int_equal(fs_migrate(x->f, x->ino, 0, UINT64_MAX, "tape", 0), -ENXIO);
	assert_int_equal(fs_migrate(x->f, ROOT, 0, UINT64_MAX, "hdd", 0), -EINVAL);
	assert_int_equal(fs_migrate(x->f, 999999, 0, UINT64_MAX, "hdd", 0), -ENOENT);
	assert_int_equal(fs_migrate(x->f, x->ino, 0, 0, "hdd", 0), -EINVAL);
}

static void test_sha256(void **state)
{
	struct fix *x = *state;
	struct meta_job j;

	fab_config(x, "checksum = sha256\n");
	make_file(x);
	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, "hdd", 0), &j);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(on_tier(x, "hdd", 1), 6);
	check_content(x);
}

/* A write into an extent while it is being copied wins: the job retries
 * and the newest bytes are what the file holds afterwards. */
static void test_racing_write(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct meta_job j;
	int64_t id;
	int i, wrote = 0;

	/* 64 KiB/s: each extent takes about a second to copy. */
	fab_config(x, "migrate_bandwidth = 64K\n");
	make_file(x);
	assert_int_equal(fs_open(x->f, NULL, x->ino, O_RDWR, &fh), 0);
	id = fs_migrate(x->f, x->ino, 0, 2 * ES, "hdd", 0);
	assert_true(id > 0);
	for (i = 0; i < 2000 && !wrote; i++) {
		assert_int_equal(fs_job(x->f, (uint64_t)id, &j), 0);
		if (j.state == META_JOB_COPYING && j.cur_off == 0) {
			memset(x->model + 100, 0xab, 5000);
			assert_int_equal(fs_write(x->f, fh, x->model + 100, 5000, 100),
					 5000);
			wrote = 1;
		}
		usleep(1000);
	}
	assert_true(wrote);
	fs_set_bandwidth(x->f, 0);
	wait_job(x, id, &j);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(on_tier(x, "hdd", 1), 2);
	check_content(x);
	assert_int_equal(fs_release(x->f, fh), 0);
	fab_close(x);
	fab_open(x);
	check_content(x);
}

/* A writer that keeps changing the first two extents, 300 bytes every
 * 2 ms, until stop; the longest a write took. */
enum { STEADY_WRITE, STEADY_APPEND, STEADY_PUNCH, STEADY_TRUNCATE };
struct steady {
	struct fix *x;
	struct fs_file *fh;
	_Atomic int stop;
	int append;                    /* appends to size instead */
	int how;                       /* STEADY_PUNCH: punches 300-byte
					* holes instead; STEADY_TRUNCATE: cuts
					* the file there and grows it back */
	uint64_t size;
	int64_t worst_ns;
	int failed;
};

static void *steady_writer(void *arg)
{
	struct steady *w = arg;
	unsigned seed = 7;

	while (!atomic_load(&w->stop)) {
		uint64_t off = (uint64_t)rand_r(&seed) % (2 * ES - 300);
		int64_t t = mono_ns();

		if (w->append) {
			/* 100 bytes at the end, up to 2 * ES - 100. */
			off = w->size;
			if (off + 100 > 2 * ES)
				break;
			w->size += 100;
		}
		if (w->how == STEADY_PUNCH) {
			memset(w->x->model + off, 0, 300);
			if (fs_fallocate(w->x->f, w->fh, FALLOC_FL_PUNCH_HOLE |
					 FALLOC_FL_KEEP_SIZE, off, 300) != 0)
				w->failed = 1;
		} else {
			if (w->how == STEADY_TRUNCATE) {
				/* Into the second extent's second half, which
				 * the writes below keep filling again. */
				uint64_t cut = ES + ES / 2 +
					       (uint64_t)rand_r(&seed) % (ES / 2);
				struct stat a = { .st_size = (off_t)cut }, out;

				memset(w->x->model + cut, 0, FSIZE - cut);
				if (fs_setattr(w->x->f, &root_ctx, w->x->ino, &a,
					       FS_SET_SIZE, w->fh, &out) != 0)
					w->failed = 1;
				a.st_size = FSIZE;
				if (fs_setattr(w->x->f, &root_ctx, w->x->ino, &a,
					       FS_SET_SIZE, w->fh, &out) != 0)
					w->failed = 1;
			}
			memset(w->x->model + off, rand_r(&seed) & 0xff,
			       w->append ? 100 : 300);
			if (fs_write(w->x->f, w->fh, w->x->model + off,
				     w->append ? 100 : 300, off) !=
			    (w->append ? 100 : 300))
				w->failed = 1;
		}
		t = mono_ns() - t;
		if (t > w->worst_ns)
			w->worst_ns = t;
		usleep(w->append ? 5000 : 2000);
	}
	return NULL;
}

/* Extents written all the time still move: after MIG_RETRIES copies
 * lost to writes, the last try moves the extent alone, holding the
 * file's writers that long (before, the job gave up: "kept changing
 * under the copy"). The writer sees no error and no long pause. With
 * append, it appends to the file's last, partial extent (a log): held to
 * the end of the extent's chunk, the appends wait too (before, they grew
 * the extent under its last try, which gave up). Holes punched and
 * truncates into the extents wait the same way (before, only writes
 * did, and the job gave up). */
static void steady_case(void **state, int how)
{
	struct fix *x = *state;
	int append = how == STEADY_APPEND;
	struct steady w = { .x = x, .append = append, .how = how,
			    .size = FSIZE };
	static uint8_t buf[FSIZE];
	struct meta_job j;
	pthread_t th;
	int64_t id;

	fab_config(x, "migrate_bandwidth = 1M\n");
	make_file(x);
	assert_int_equal(fs_open(x->f, NULL, x->ino, O_RDWR, &w.fh), 0);
	if (append) {
		struct stat a = { .st_size = ES + ES / 2 }, out;

		assert_int_equal(fs_setattr(x->f, &root_ctx, x->ino, &a,
					    FS_SET_SIZE, w.fh, &out), 0);
		w.size = ES + ES / 2;
	}
	/* Each held copy lasts long enough for the writer to come in. */
	mig_debug_hold_delay(100);
	assert_int_equal(pthread_create(&th, NULL, steady_writer, &w), 0);
	usleep(20000);
	id = fs_migrate(x->f, x->ino, 0, 2 * ES, "hdd", 0);
	assert_true(id > 0);
	assert_int_equal(fs_migrate_wait(x->f, WAIT_MS), 0);
	atomic_store(&w.stop, 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(w.failed, 0);
	assert_int_equal(fs_job(x->f, (uint64_t)id, &j), 0);
	if (j.state != META_JOB_CLEANED)
		print_error("job: %s\n", j.reason);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(on_tier(x, "hdd", 0), 2);   /* written since */
	assert_true(w.worst_ns < 5000000000LL);   /* a bound, not a figure */
	assert_int_equal(fs_read(x->f, w.fh, buf, sizeof(buf), 0),
			 (ssize_t)w.size);
	assert_memory_equal(buf, x->model, w.size);
	assert_int_equal(fs_release(x->f, w.fh), 0);
	fab_close(x);
	fab_open(x);
	if (!append)
		check_content(x);
}

static void test_steady_writer(void **state) { steady_case(state, STEADY_WRITE); }
static void test_steady_appender(void **state) { steady_case(state, STEADY_APPEND); }
static void test_steady_puncher(void **state) { steady_case(state, STEADY_PUNCH); }
static void test_steady_truncater(void **state) { steady_case(state, STEADY_TRUNCATE); }

/* Readers and writers of an open file during migrations back and forth
 * see no error and no stale byte. */
static void test_open_file_io(void **state)
{
	struct fix *x = *state;
	static uint8_t buf[FSIZE];
	struct fs_file *fh = NULL;
	struct meta_job j;
	int round, k;

	fab_config(x, "");
	make_file(x);
	assert_int_equal(fs_open(x->f, NULL, x->ino, O_RDWR, &fh), 0);
	for (round = 0; round < 6; round++) {
		int64_t id = fs_migrate(x->f, x->ino, 0, UINT64_MAX,
					round % 2 ? "nvme" : "hdd", 0);

		for (k = 0; k < 50; k++) {
			uint64_t off = (uint64_t)rand() % (FSIZE - 300);

			memset(x->model + off, round * 50 + k, 300);
			assert_int_equal(fs_write(x->f, fh, x->model + off, 300, off), 300);
			assert_int_equal(fs_read(x->f, fh, buf, FSIZE, 0), FSIZE);
			assert_memory_equal(buf, x->model, FSIZE);
		}
		wait_job(x, id, &j);
		assert_true(j.state == META_JOB_CLEANED ||
			    (j.state == META_JOB_ROLLED_BACK && j.err != 0));
		assert_int_equal(fs_read(x->f, fh, buf, FSIZE, 0), FSIZE);
		assert_memory_equal(buf, x->model, FSIZE);
	}
	assert_int_equal(fs_release(x->f, fh), 0);
}

/* The io_uring copy between two local tiers when the kernel transfers
 * less than asked or answers -EAGAIN: the loop asks again, and the file
 * moves there and back whole. */
static void uring_misbehaves(void **state, int kind)
{
	struct fix *x = *state;
	struct meta_job j;

	fab_config(x, "");
	make_file(x);
	mig_debug_uring_fault(kind);
	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, "hdd", 0), &j);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(on_tier(x, "hdd", 1), 6);
	check_content(x);
	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, "nvme", 0), &j);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(on_tier(x, "nvme", 1), 6);
	mig_debug_uring_fault(0);
	check_content(x);
	fab_close(x);
	fab_open(x);
	check_content(x);
}

static void test_uring_short(void **state) { uring_misbehaves(state, MIG_URING_SHORT); }
static void test_uring_eagain(void **state) { uring_misbehaves(state, MIG_URING_EAGAIN); }

/* A copy that fails with err under fault `kind`: rolled back with err,
 * the source whole, no copy left on the destination; the next job, the
 * fault cleared, moves the file. */
static void uring_fails(void **state, int kind, int err)
{
	struct fix *x = *state;
	struct meta_job j;

	fab_config(x, "");
	make_file(x);
	mig_debug_uring_fault(kind);
	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, "hdd", 0), &j);
	assert_int_equal(j.state, META_JOB_ROLLED_BACK);
	assert_int_equal(j.err, err);
	assert_int_equal(on_tier(x, "nvme", 0), 6);
	assert_int_equal(tier_blocks(x, "hdd"), 0);
	check_content(x);
	mig_debug_uring_fault(0);
	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, "hdd", 0), &j);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(on_tier(x, "hdd", 1), 6);
	check_content(x);
}

/* An I/O error of the io_uring copy. */
static void test_uring_eio(void **state)
{
	uring_fails(state, MIG_URING_EIO, EIO);
}

/* Submissions the kernel refuses for a moment: submitted again, the
 * file moves there and back whole. */
static void test_uring_submit_eagain(void **state)
{
	uring_misbehaves(state, MIG_URING_SUBMIT_EAGAIN);
}

/* A submission that fails for good: the copy does not wait for
 * completions of requests never submitted (it used to hang there). */
static void test_uring_submit_enomem(void **state)
{
	uring_fails(state, MIG_URING_SUBMIT_ENOMEM, ENOMEM);
}

/* ---------------------------------------------------------------- */
/* crashes */

/* With buffered, both tiers go through the fault wrapper (no fault set):
 * not local file tiers, their extents move one by one through buffers
 * (the way to and from an object store), and recover one by one. */
static void crash_in(void **state, const char *point, int committed,
		     int buffered)
{
	struct fix *x = *state;
	struct meta_job j;
	int status, found = 0;
	pid_t pid;

	if (buffered)
		be_open_hook = wrap_hook;
	fab_config(x, "");
	make_file(x);
	fab_close(x);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[CFG_ERR_MAX];

		if (fs_fabric_open(&x->cfg, &x->f, err, sizeof(err)))
			_exit(1);
		mig_debug_crash_at(point);
		fs_migrate(x->f, x->ino, 0, UINT64_MAX, "hdd", 0);
		fs_migrate_wait(x->f, WAIT_MS);
		_exit(2);      /* the crash point was not reached */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 77);

	fab_open(x);           /* recovery */
	check_content(x);
	assert_int_equal(fs_job(x->f, 1, &j), 0);
	if (!committed) {
		/* Rolled back: nothing moved, nothing left on hdd. */
		assert_int_equal(j.state, META_JOB_ROLLED_BACK);
		assert_int_equal(on_tier(x, "nvme", 0), 6);
		assert_int_equal(tier_blocks(x, "hdd"), 0);
	} else {
		/* The first extent moved; the job resumes and finishes. */
		assert_int_equal(fs_migrate_wait(x->f, WAIT_MS), 0);
		assert_int_equal(fs_job(x->f, 1, &j), 0);
		assert_int_equal(j.state, META_JOB_CLEANED);
		assert_int_equal(on_tier(x, "hdd", 1), 6);
		assert_int_equal(tier_blocks(x, "nvme"), 0);
		found = 1;
	}
	check_content(x);
	(void)found;
	fab_close(x);
	fab_open(x);
	check_content(x);
}

static void crash_at(void **state, const char *point, int committed)
{
	crash_in(state, point, committed, 0);
}

/* The six extents form one group: a crash after the first one's copy. */
static void test_crash_mid_copy(void **state) { crash_at(state, "mid_copy", 0); }
static void test_crash_after_copy(void **state) { crash_at(state, "after_copy", 0); }
static void test_crash_after_flush(void **state) { crash_at(state, "after_flush", 0); }
static void test_crash_mid_verify(void **state) { crash_at(state, "mid_verify", 0); }
static void test_crash_after_commit(void **state) { crash_at(state, "after_commit", 1); }
static void test_crash_before_clean(void **state) { crash_at(state, "before_clean", 1); }
/* One extent at a time: the crash comes at the first one's step. */
static void test_crash_buf_after_copy(void **state) { crash_in(state, "after_copy", 0, 1); }
static void test_crash_buf_after_flush(void **state) { crash_in(state, "after_flush", 0, 1); }
static void test_crash_buf_mid_verify(void **state) { crash_in(state, "mid_verify", 0, 1); }
static void test_crash_buf_after_commit(void **state) { crash_in(state, "after_commit", 1, 1); }
static void test_crash_buf_before_clean(void **state) { crash_in(state, "before_clean", 1, 1); }

/* ---------------------------------------------------------------- */
/* faults */

/* Runs a job to hdd with a fault on hdd's op; it must roll back with the
 * source intact, and the next job (fault cleared) must succeed. */
static void fault_case(void **state, enum fault_op op, enum fault_kind kind,
		       int err, const char *reason_part)
{
	struct fix *x = *state;
	struct meta_job j;

	be_open_hook = wrap_hook;
	fab_config(x, "");
	assert_int_equal(nwrapped, 2);
	make_file(x);
	be_fault_set(wrapped[1], op, kind, err, 0, -1);
	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, "hdd", 0), &j);
	assert_int_equal(j.state, META_JOB_ROLLED_BACK);
	assert_non_null(strstr(j.reason, reason_part));
	assert_int_equal(on_tier(x, "nvme", 0), 6);
	assert_int_equal(tier_blocks(x, "hdd"), 0);
	check_content(x);
	be_fault_clear(wrapped[1]);
	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, "hdd", 0), &j);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(on_tier(x, "hdd", 1), 6);
	check_content(x);
}

static void test_fault_enospc(void **state)
{
	fault_case(state, FAULT_EXT_WRITE, FAULT_FAIL, ENOSPC, "No space");
}

static void test_fault_short_write(void **state)
{
	fault_case(state, FAULT_EXT_WRITE, FAULT_SHORT, 0, "copy from nvme to hdd");
}

static void test_fault_flush_eio(void **state)
{
	fault_case(state, FAULT_EXT_SYNC, FAULT_FAIL, EIO, "flush on hdd");
}

static void test_fault_verify_corrupt(void **state)
{
	fault_case(state, FAULT_EXT_READ, FAULT_CORRUPT, 0, "checksum");
}

static void test_fault_source_eio(void **state)
{
	struct fix *x = *state;
	struct meta_job j;

	be_open_hook = wrap_hook;
	fab_config(x, "");
	make_file(x);
	be_fault_set(wrapped[0], FAULT_EXT_READ, FAULT_FAIL, EIO, 2, 1);
	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, "hdd", 0), &j);
	assert_int_equal(j.state, META_JOB_ROLLED_BACK);
	assert_int_equal(j.err, EIO);
	/* The extents moved before the failure stay moved and valid. */
	assert_int_equal(on_tier(x, "hdd", 1) + on_tier(x, "nvme", 0), 6);
	check_content(x);
}

/* The state of a job moving the file to `tier`, at its end. */
static uint32_t run_to(struct fix *x, const char *tier)
{
	struct meta_job j;

	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, tier, 0), &j);
	return j.state;
}

/* Lines of file p that hold `what`. */
static int count_lines(const char *p, const char *what)
{
	char line[1024];
	FILE *fp = fopen(p, "r");
	int n = 0;

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp))
		n += strstr(line, what) != NULL;
	fclose(fp);
	return n;
}

/* Jobs failing alike (same tiers, same errno: hdd is full) are warned of
 * once, the others counted; one that works says how many failed, and
 * the next failure is warned of again. Before, every job logged its
 * warning. The log (stderr) goes to a file meanwhile. */
static void test_failures_logged_once(void **state)
{
	struct fix *x = *state;
	uint32_t st[6];
	char log[128];
	int fd, saved, i;

	be_open_hook = wrap_hook;
	fab_config(x, "");
	make_file(x);
	snprintf(log, sizeof(log), "%s/log", x->dir);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
	be_fault_set(wrapped[1], FAULT_EXT_WRITE, FAULT_FAIL, ENOSPC, 0, -1);
	for (i = 0; i < 3; i++)
		st[i] = run_to(x, "hdd");
	be_fault_clear(wrapped[1]);
	st[3] = run_to(x, "hdd");
	st[4] = run_to(x, "nvme");
	be_fault_set(wrapped[1], FAULT_EXT_WRITE, FAULT_FAIL, ENOSPC, 0, -1);
	st[5] = run_to(x, "hdd");
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	for (i = 0; i < 6; i++)
		assert_int_equal(st[i], i == 3 || i == 4 ? META_JOB_CLEANED :
					META_JOB_ROLLED_BACK);
	assert_int_equal(count_lines(log, "warning: "), 2);
	assert_int_equal(count_lines(log, "No space left on device"), 3);
	assert_int_equal(count_lines(log, "2 more failed alike"), 1);
	check_content(x);
}

/* The metadata store applied a group's commit but could not sync it:
 * the extent map names the copies on hdd, which readers use from then
 * on, but a crash of the machine could bring back the map before. Before,
 * the job went to rollback: reported failed by a "commit" error as if
 * nothing had moved, and the sources were never freed, not even by a
 * restart. Now the sources stay until the next start, which frees them
 * (the job's record still says COMMITTED; a prune keeps it); the job
 * stays failed, as it was reported. */
static int64_t move_sync_fails(struct fix *x, struct meta_job *j)
{
	int64_t id;

	fab_config(x, "");
	make_file(x);
	meta_debug_fail_syncs = 1;
	id = fs_migrate(x->f, x->ino, 0, UINT64_MAX, "hdd", 0);
	wait_job(x, id, j);
	assert_int_equal(meta_debug_fail_syncs, 0);
	assert_int_equal(j->state, META_JOB_ROLLED_BACK);
	return id;
}

/* Restarts; the stopped job stays failed. */
static void restart_stopped(struct fix *x, int64_t id)
{
	struct meta_job j;

	fab_close(x);
	fab_open(x);
	assert_int_equal(fs_migrate_wait(x->f, WAIT_MS), 0);
	assert_int_equal(fs_job(x->f, (uint64_t)id, &j), 0);
	assert_int_equal(j.state, META_JOB_ROLLED_BACK);
	assert_non_null(strstr(j.reason, "not durable"));
}

static void test_commit_sync_fails(void **state)
{
	struct fix *x = *state;
	struct meta_job j;
	int64_t id = move_sync_fails(x, &j);

	assert_int_equal(j.err, EIO);
	assert_non_null(strstr(j.reason, "not durable"));
	assert_int_equal(j.bytes_done, FSIZE);
	assert_int_equal(on_tier(x, "hdd", 1), 6);
	check_content(x);
	assert_true(tier_blocks(x, "nvme") >= FSIZE);
	assert_true(tier_blocks(x, "hdd") >= FSIZE);
	assert_int_equal(fs_jobs_prune(x->f), 0);
	assert_int_equal(fs_job(x->f, (uint64_t)id, &j), 0);

	restart_stopped(x, id);
	assert_int_equal(on_tier(x, "hdd", 1), 6);
	assert_int_equal(tier_blocks(x, "nvme"), 0);
	check_content(x);
}

/* The same, and the file moved back to nvme before the restart: the
 * stopped job does not resume at the start (before, it did, and moved
 * the file to hdd again, undoing the later move). */
static void test_commit_sync_fails_then_moved(void **state)
{
	struct fix *x = *state;
	struct meta_job j;
	int64_t id = move_sync_fails(x, &j);

	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, "nvme", 0), &j);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(on_tier(x, "nvme", 1), 6);

	restart_stopped(x, id);
	assert_int_equal(on_tier(x, "nvme", 1), 6);
	assert_int_equal(tier_blocks(x, "hdd"), 0);
	check_content(x);
}

/* A tier file of an inode that does not exist (left by a crash) is
 * removed at the next start; a live inode's file is kept. */
static void test_orphan_scan(void **state)
{
	struct fix *x = *state;
	char dir[256], path[300];
	int fd;

	fab_config(x, "");
	make_file(x);
	fab_close(x);
	snprintf(dir, sizeof(dir), "%s/hdd/data/00/63", x->dir);
	snprintf(path, sizeof(path), "%s/hdd/data", x->dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/hdd/data/00", x->dir);
	mkdir(path, 0700);
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/0000000000000063", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "stray", 5), 5);
	close(fd);
	fab_open(x);
	assert_int_equal(access(path, F_OK), -1);
	assert_true(tier_blocks(x, "nvme") >= FSIZE);
	check_content(x);
}

/* Once job id copies the file's first extent: truncates the file (open
 * as fh) to 0 and writes nb there. Returns 1 when it did. */
static int rewrite_when_copying(struct fix *x, uint64_t id, struct fs_file *fh,
				uint8_t *nb, size_t n)
{
	struct meta_job j;
	struct stat a = { 0 };
	int i;

	for (i = 0; i < 4000; i++) {
		if (fs_job(x->f, id, &j) == 0 && j.state == META_JOB_COPYING &&
		    j.cur_off == 0) {
			assert_int_equal(fs_setattr(x->f, &root_ctx, x->ino, &a,
						    FS_SET_SIZE, fh, &a), 0);
			memset(nb, 0xab, n);
			assert_int_equal(fs_write(x->f, fh, nb, n, 0), (ssize_t)n);
			return 1;
		}
		usleep(1000);
	}
	return 0;
}

/* The file (open as fh, which this closes) holds the n bytes nb and no
 * more, now and after a restart. */
static void check_rewritten(struct fix *x, struct fs_file *fh,
			    const uint8_t *nb, size_t n)
{
	static uint8_t buf[FSIZE];

	assert_int_equal(fs_read(x->f, fh, buf, FSIZE, 0), (ssize_t)n);
	assert_memory_equal(buf, nb, n);
	assert_int_equal(fs_release(x->f, fh), 0);
	fab_close(x);
	fab_open(x);
	assert_int_equal(fs_open(x->f, NULL, x->ino, O_RDONLY, &fh), 0);
	assert_int_equal(fs_read(x->f, fh, buf, FSIZE, 0), (ssize_t)n);
	assert_memory_equal(buf, nb, n);
	assert_int_equal(fs_release(x->f, fh), 0);
}

/* A file truncated and written again while a migration copies its first
 * extent to the tier the file is pinned to: the new extent goes to
 * another tier meanwhile (the copy would land on its bytes), the job
 * ends, and the file holds the new bytes. Before the claim, it read
 * zeros. */
static void test_rewrite_under_copy(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	static uint8_t nb[5000];

	fab_config(x, "migrate_bandwidth = 64K\n");
	make_file(x);
	assert_int_equal(fs_open(x->f, NULL, x->ino, O_RDWR, &fh), 0);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, x->ino, "user.dfabric.pin",
				     "hdd", 3, 0), 0);
	assert_true(rewrite_when_copying(x, 1, fh, nb, sizeof(nb)));
	fs_set_bandwidth(x->f, 0);
	assert_int_equal(fs_migrate_wait(x->f, WAIT_MS), 0);
	check_rewritten(x, fh, nb, sizeof(nb));
}

/* An extent made again, on the same tier with the same length, while a
 * migration copies the one before it: it must not get the version that
 * migration's commit gave the old one (then the commit took it for the
 * extent it copied and brought the truncated bytes back). */
static void test_remade_extent_version(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL, *gh = NULL;
	struct meta_job j;
	struct stat a = { 0 };
	static uint8_t big[512 * 1024], zero[ES], buf[2 * ES];
	char err[CFG_ERR_MAX] = "";
	int64_t id;
	uint64_t gino;
	int i, done = 0;

	snprintf(x->text, sizeof(x->text),
		 "[fabric]\nmeta = %s/meta\nextent_size = 64K\n%s\n"
		 "[tier.nvme]\nkind = local\npath = %s/nvme\ncapacity = 1M\n"
		 "high_watermark = 0.5\nlow_watermark = 0.3\n"
		 "[tier.hdd]\nkind = local\npath = %s/hdd\ncapacity = 64M\n",
		 x->dir, x->mode, x->dir, x->dir);
	assert_int_equal(cfg_parse_string(x->text, "t.conf", &x->cfg, err,
					  sizeof(err)), 0);
	fab_open(x);
	/* g fills nvme to its watermark, so that f's extents go to hdd */
	assert_int_equal(fs_create(x->f, &root_ctx, ROOT, "g", 0644,
				   O_RDWR | O_CREAT, &a, &gh), 0);
	memset(big, 1, sizeof(big));
	assert_int_equal(fs_write(x->f, gh, big, sizeof(big), 0), sizeof(big));
	assert_int_equal(fs_release(x->f, gh), 0);
	gino = a.st_ino;
	/* f: extent 1, then extent 0 (the last version handed out) */
	assert_int_equal(fs_create(x->f, &root_ctx, ROOT, "f", 0644,
				   O_RDWR | O_CREAT, &a, &fh), 0);
	x->ino = a.st_ino;
	memset(buf, 0x11, sizeof(buf));
	assert_int_equal(fs_write(x->f, fh, buf + ES, ES, ES), ES);
	assert_int_equal(fs_write(x->f, fh, buf, ES, 0), ES);
	/* to nvme: the commit gives extent 0 the next version */
	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, "nvme", 0), &j);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(fs_unlink(x->f, ROOT, "g"), 0);
	fs_forget(x->f, gino, 1);
	/* back to hdd, slowly; meanwhile extent 0 is cut and made again */
	fs_set_bandwidth(x->f, 65536);
	id = fs_migrate(x->f, x->ino, 0, UINT64_MAX, "hdd", 0);
	for (i = 0; i < 3000 && !done; i++) {
		if (fs_job(x->f, (uint64_t)id, &j) == 0 &&
		    j.state == META_JOB_COPYING) {
			usleep(1500000);  /* extent 0 copied, 1 held back */
			a.st_size = 0;
			assert_int_equal(fs_setattr(x->f, &root_ctx, x->ino, &a,
						    FS_SET_SIZE, fh, &a), 0);
			assert_int_equal(fs_fallocate(x->f, fh, 0, 0, ES), 0);
			done = 1;
		}
		usleep(1000);
	}
	assert_true(done);
	fs_set_bandwidth(x->f, 0);
	assert_int_equal(fs_migrate_wait(x->f, WAIT_MS), 0);
	memset(zero, 0, sizeof(zero));
	assert_int_equal(fs_read(x->f, fh, buf, sizeof(buf), 0), ES);
	assert_memory_equal(buf, zero, ES);
	assert_int_equal(fs_release(x->f, fh), 0);
}

/* Waits up to 5 s for job id to be copying; returns whether it is, with
 * its record in *j. */
static int wait_copying(struct fix *x, int64_t id, struct meta_job *j)
{
	for (int i = 0; i < 5000; i++) {
		if (fs_job(x->f, (uint64_t)id, j) == 0 &&
		    j->state == META_JOB_COPYING)
			return 1;
		usleep(1000);
	}
	return 0;
}

/* Starts moving the file to `tier` and returns once the job copies,
 * 0.2 s into it. */
static void start_held(struct fix *x, const char *tier)
{
	struct meta_job j;
	int64_t id = fs_migrate(x->f, x->ino, 0, UINT64_MAX, tier, 0);

	assert_true(id > 0);
	wait_copying(x, id, &j);
	usleep(200 * 1000);
}

static double mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A migration held back by a low bandwidth limit: lifting the limit, and
 * closing, do not wait for the slots booked at the old rate (about 16 s
 * of them here; before, the close took as long). */
static void test_limit_lifted(void **state)
{
	struct fix *x = *state;
	double t0;

	fab_config(x, "migrate_bandwidth = 4K\n");
	make_file(x);
	start_held(x, "hdd");
	fs_set_bandwidth(x->f, 0);
	t0 = mono();
	assert_int_equal(fs_migrate_wait(x->f, WAIT_MS), 0);
	assert_true(mono() - t0 < 3);
	check_content(x);

	fs_set_bandwidth(x->f, 4096);
	start_held(x, "nvme");
	t0 = mono();
	fab_close(x);
	assert_true(mono() - t0 < 3);
	fab_open(x);
	check_content(x);
}

/* A sealed extent whose bytes changed on the medium (not through the
 * file system) is not moved on: the job rolls back with the reason, the
 * extents stay where they are. An extent that fallocate grew since it
 * was sealed is no such case: it moves. */
static void test_source_fails_seal(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct meta_job j;
	char p[256];
	int fd;

	fab_config(x, "");
	make_file(x);
	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, "hdd", 0), &j);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(on_tier(x, "hdd", 1), 6);

	/* the last extent (1000 bytes) grows to a whole one */
	assert_int_equal(fs_open(x->f, NULL, x->ino, O_RDWR, &fh), 0);
	assert_int_equal(fs_fallocate(x->f, fh, 0, FSIZE, ES - 1000), 0);
	assert_int_equal(fs_release(x->f, fh), 0);
	wait_job(x, fs_migrate(x->f, x->ino, 5 * ES, ES, "nvme", 0), &j);
	assert_int_equal(j.state, META_JOB_CLEANED);

	/* a byte of extent 1 changes behind the file system's back */
	tier_path(x, "hdd", p, sizeof(p));
	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "?", 1, ES + 100), 1);
	assert_int_equal(fsync(fd), 0);
	close(fd);
	wait_job(x, fs_migrate(x->f, x->ino, 0, 5 * ES, "nvme", 0), &j);
	assert_int_equal(j.state, META_JOB_ROLLED_BACK);
	assert_int_equal(j.err, EIO);
	assert_non_null(strstr(j.reason, "sealed checksum"));
	/* extents 0 to 4 went as one group: all stay on hdd, sealed */
	assert_int_equal(on_tier(x, "hdd", 1), 5);
}

/* A source whose tier file is gone (deleted behind the file system's
 * back) is lost, not empty: the copy opened it creating it, copied zeros
 * and sealed them, and the job ended CLEANED with the file reading
 * zeros. It fails now, and the extents stay where they were. */
static void test_missing_source_file(void **state)
{
	struct fix *x = *state;
	struct meta_job j;
	char p[256];

	fab_config(x, "");
	make_file(x);
	tier_path(x, "nvme", p, sizeof(p));
	assert_int_equal(unlink(p), 0);
	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, "hdd", 0), &j);
	assert_int_equal(j.state, META_JOB_ROLLED_BACK);
	assert_int_equal(j.err, EIO);
	assert_int_equal(on_tier(x, "nvme", 0), 6);
	assert_int_equal(on_tier(x, "hdd", 0), 0);
	assert_int_equal(access(p, F_OK), -1);
}

/* A truncate and a write between a group's snapshot and its claim: the
 * new extent lands on the destination tier (new data goes to the
 * fastest), and the copy of the old extent was written over it; the job
 * ended done and the write read as zeros. The snapshots are checked
 * again once the range is claimed. */
static void test_write_before_claim(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct meta_job j;
	static uint8_t nb[5000];
	int64_t id;

	fab_config(x, "");
	make_file(x);
	wait_job(x, fs_migrate(x->f, x->ino, 0, UINT64_MAX, "hdd", 0), &j);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(fs_open(x->f, NULL, x->ino, O_RDWR, &fh), 0);
	mig_debug_claim_delay(500);
	id = fs_migrate(x->f, x->ino, 0, UINT64_MAX, "nvme", 0);
	assert_true(id > 0);
	assert_true(rewrite_when_copying(x, (uint64_t)id, fh, nb, sizeof(nb)));
	assert_int_equal(fs_migrate_wait(x->f, WAIT_MS), 0);
	mig_debug_claim_delay(0);
	check_rewritten(x, fh, nb, sizeof(nb));
}

/* A job still queued behind others knows its bytes: before, bytes_total
 * stayed 0 until a worker took the job, and the progress of a migration
 * of more files than workers went backwards as jobs started. */
static void test_queued_bytes_total(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct meta_job j;
	struct stat st;
	int64_t first, queued;

	fab_config(x, "migrate_jobs = 1\n");
	make_file(x);
	assert_int_equal(fs_create(x->f, &root_ctx, ROOT, "g", 0644,
				   O_RDWR | O_CREAT, &st, &fh), 0);
	assert_int_equal(fs_write(x->f, fh, x->model, 3 * ES, 0), 3 * ES);
	assert_int_equal(fs_release(x->f, fh), 0);
	/* The one worker holds f's job half a second: g's waits. */
	mig_debug_claim_delay(500);
	first = fs_migrate(x->f, x->ino, 0, UINT64_MAX, "hdd", 0);
	queued = fs_migrate(x->f, st.st_ino, 0, UINT64_MAX, "hdd", 0);
	assert_true(first > 0 && queued > 0);
	assert_int_equal(fs_job(x->f, (uint64_t)queued, &j), 0);
	assert_int_equal(j.state, META_JOB_PENDING);
	assert_int_equal(j.bytes_total, 3 * ES);
	assert_int_equal(j.bytes_done, 0);
	mig_debug_claim_delay(0);
	wait_job(x, queued, &j);
	assert_int_equal(j.state, META_JOB_CLEANED);
	assert_int_equal(j.bytes_total, 3 * ES);
	assert_int_equal(j.bytes_done, 3 * ES);
}

/* Wraps only the tier named "hdd", which then counts as an object
 * store (not a local file tier) for the migrator. */
static struct backend *wrap_hdd_hook(struct backend *be)
{
	return strcmp(be->name, "hdd") ? be : wrap_hook(be);
}

/* Queued jobs run highest priority first: with the one worker busy on a
 * first job, three more queued with priorities 1, 5 and 3 finish in the
 * order 5, 3, 1. */
static void test_priority_order(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	static const double prio[3] = { 1, 5, 3 };
	struct meta_job j[3];
	struct stat st;
	uint64_t ino[3];
	int64_t first, id[3];
	char name[16];
	int i;

	fab_config(x, "migrate_jobs = 1\n");
	make_file(x);
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		assert_int_equal(fs_create(x->f, &root_ctx, ROOT, name, 0644,
					   O_RDWR | O_CREAT, &st, &fh), 0);
		assert_int_equal(fs_write(x->f, fh, x->model, ES, 0), ES);
		assert_int_equal(fs_release(x->f, fh), 0);
		ino[i] = st.st_ino;
	}
	/* The worker waits a second on the first job's claim: the three
	 * are queued long before it looks for the next. They are queued
	 * only once it is copying the first: queued before it took the
	 * first, the one of priority 1 went ahead of it (a loaded machine). */
	mig_debug_claim_delay(1000);
	first = fs_migrate(x->f, x->ino, 0, UINT64_MAX, "hdd", 0);
	assert_true(first > 0);
	assert_true(wait_copying(x, first, &j[0]));
	for (i = 0; i < 3; i++) {
		id[i] = fs_migrate(x->f, ino[i], 0, UINT64_MAX, "hdd", prio[i]);
		assert_true(id[i] > 0);
	}
	mig_debug_claim_delay(20);
	assert_int_equal(fs_migrate_wait(x->f, WAIT_MS), 0);
	mig_debug_claim_delay(0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(fs_job(x->f, (uint64_t)id[i], &j[i]), 0);
		assert_int_equal(j[i].state, META_JOB_CLEANED);
	}
	assert_true(j[1].updated < j[2].updated);
	assert_true(j[2].updated < j[0].updated);
}

/* Jobs of one file on ranges apart run at once (up to MIG_FILE_JOBS);
 * one whose range overlaps a running job's waits for it. Each group
 * waits a second before its claim, in COPYING: jobs 0 and 2 are seen
 * copying together while job 0-1 is still queued, and a write into
 * extent 0 meanwhile still wins. Before, the engine ran one job of a
 * file at a time, so job 2 waited behind job 0. */
struct submit_arg {
	struct fabric *f;
	uint64_t ino;
	int64_t id;
};

static void *submit_thread(void *arg)
{
	struct submit_arg *a = arg;

	a->id = fs_migrate(a->f, a->ino, 0, ES, "hdd", 0);
	return NULL;
}

/* Regression test, failed before its fix (tiering/migrate.c, mig_submit;
 * under the sanitizer build): the id returned was read from the job
 * after the lock was let go, when a worker could have finished it and a
 * prune freed it (ASan: heap-use-after-free). */
static void test_submit_pruned(void **state)
{
	struct fix *x = *state;
	struct submit_arg a;
	struct meta_job j;
	pthread_t th;
	int64_t first;
	int i, pruned = 0;

	fab_config(x, "");
	make_file(x);
	first = fs_migrate(x->f, x->ino, 0, ES, "nvme", 0);
	assert_true(first > 0);
	assert_int_equal(fs_migrate_wait(x->f, WAIT_MS), 0);
	a.f = x->f;
	a.ino = x->ino;
	a.id = 0;
	mig_debug_submit_delay(500);
	assert_int_equal(pthread_create(&th, NULL, submit_thread, &a), 0);
	for (i = 0; i < 400 && !pruned; i++) {
		usleep(1000);
		if (fs_job(x->f, (uint64_t)first + 1, &j) == 0 &&
		    (j.state == META_JOB_CLEANED ||
		     j.state == META_JOB_ROLLED_BACK))
			pruned = fs_jobs_prune(x->f) > 0;
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	mig_debug_submit_delay(0);
	assert_true(pruned);
	assert_int_equal(a.id, first + 1);
}

static void test_file_jobs_apart(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct meta_job a, b, c;
	int64_t ida, idb, idc;
	int i, both = 0;

	fab_config(x, "migrate_jobs = 4\n");
	make_file(x);
	assert_int_equal(fs_open(x->f, NULL, x->ino, O_RDWR, &fh), 0);
	mig_debug_claim_delay(1000);
	ida = fs_migrate(x->f, x->ino, 0, ES, "hdd", 0);
	idb = fs_migrate(x->f, x->ino, 2 * ES, ES, "hdd", 0);
	idc = fs_migrate(x->f, x->ino, 0, 2 * ES, "hdd", 0);
	assert_true(ida > 0 && idb > 0 && idc > 0);
	for (i = 0; i < 900 && !both; i++) {
		assert_int_equal(fs_job(x->f, (uint64_t)ida, &a), 0);
		assert_int_equal(fs_job(x->f, (uint64_t)idb, &b), 0);
		both = a.state == META_JOB_COPYING && b.state == META_JOB_COPYING;
		if (!both)
			usleep(1000);
	}
	assert_true(both);
	assert_int_equal(fs_job(x->f, (uint64_t)idc, &c), 0);
	assert_int_equal(c.state, META_JOB_PENDING);
	memset(x->model + 100, 0xcd, 3000);
	assert_int_equal(fs_write(x->f, fh, x->model + 100, 3000, 100), 3000);
	mig_debug_claim_delay(0);
	assert_int_equal(fs_migrate_wait(x->f, WAIT_MS), 0);
	assert_int_equal(fs_job(x->f, (uint64_t)ida, &a), 0);
	assert_int_equal(fs_job(x->f, (uint64_t)idb, &b), 0);
	assert_int_equal(fs_job(x->f, (uint64_t)idc, &c), 0);
	assert_int_equal(a.state, META_JOB_CLEANED);
	assert_int_equal(b.state, META_JOB_CLEANED);
	assert_int_equal(c.state, META_JOB_CLEANED);
	/* c's range: extent 0 moved again after the write, and extent 1 */
	assert_int_equal(on_tier(x, "hdd", 1), 3);
	assert_int_equal(on_tier(x, "nvme", 0), 3);
	check_content(x);
	assert_int_equal(fs_release(x->f, fh), 0);
	fab_close(x);
	fab_open(x);
	check_content(x);
	assert_int_equal(on_tier(x, "hdd", 1), 3);
}

/* Two jobs of one file copy to hdd at once: the first extent is all
 * zeros, so its copy writes nothing and then makes the tier file reach
 * the extent's end; meanwhile (a 1 s delay there) the job of extent 2
 * copies, verifies and commits. Making the file long enough must never
 * make it shorter: with fstat and ftruncate, the second copy's bytes
 * were cut off after its commit, and the file read back zeros there. */
static void test_sparse_copy_beside(void **state)
{
	struct fix *x = *state;
	struct meta_job a, b;
	int64_t ida, idb;
	int i;

	fab_config(x, "migrate_jobs = 4\n");
	memset(x->model, 0, ES);
	for (i = (int)ES; i < (int)FSIZE; i++)
		x->model[i] = (uint8_t)(rand() >> 7);
	make_file_of_model(x);
	mig_debug_size_delay(1000);
	ida = fs_migrate(x->f, x->ino, 0, ES, "hdd", 0);
	assert_true(ida > 0);
	assert_true(wait_copying(x, ida, &a));
	usleep(100 * 1000);
	idb = fs_migrate(x->f, x->ino, 2 * ES, ES, "hdd", 0);
	assert_true(idb > 0);
	assert_int_equal(fs_migrate_wait(x->f, WAIT_MS), 0);
	mig_debug_size_delay(0);
	assert_int_equal(fs_job(x->f, (uint64_t)ida, &a), 0);
	assert_int_equal(fs_job(x->f, (uint64_t)idb, &b), 0);
	assert_int_equal(a.state, META_JOB_CLEANED);
	assert_int_equal(b.state, META_JOB_CLEANED);
	assert_int_equal(on_tier(x, "hdd", 1), 2);
	check_content(x);
	fab_close(x);
	fab_open(x);
	check_content(x);
}

/* Moves to or from a tier that is not a local file tier (an object
 * store) run on workers of their own: with one worker of each kind, a
 * slow move to "hdd" (a fault wrapper, so not local) does not hold up a
 * move between two local tiers queued after it. Before, the one worker
 * (migrate_jobs = 1) ran them in turn. */
static void test_remote_workers(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct meta_job a, b;
	struct stat st;
	char err[CFG_ERR_MAX] = "", ssd[96];
	int64_t ida, idb;
	int i;

	snprintf(ssd, sizeof(ssd), "%s/ssd", x->dir);
	assert_int_equal(mkdir(ssd, 0700), 0);
	snprintf(x->text, sizeof(x->text),
		 "[fabric]\nmeta = %s/meta\nextent_size = 64K\n"
		 "migrate_jobs = 1\nmigrate_s3_jobs = 1\n"
		 "migrate_bandwidth = 64K\nmigrate_busy_bandwidth = 0\n"
		 "[tier.nvme]\nkind = local\npath = %s/nvme\ncapacity = 64M\n"
		 "[tier.ssd]\nkind = local\npath = %s\ncapacity = 64M\n"
		 "[tier.hdd]\nkind = local\npath = %s/hdd\ncapacity = 64M\n",
		 x->dir, x->dir, ssd, x->dir);
	assert_int_equal(cfg_parse_string(x->text, "t.conf", &x->cfg, err,
					  sizeof(err)), 0);
	be_open_hook = wrap_hdd_hook;
	fab_open(x);
	assert_int_equal(nwrapped, 1);
	make_file(x);
	assert_int_equal(fs_create(x->f, &root_ctx, ROOT, "g", 0644,
				   O_RDWR | O_CREAT, &st, &fh), 0);
	assert_int_equal(fs_write(x->f, fh, x->model, 4096, 0), 4096);
	assert_int_equal(fs_release(x->f, fh), 0);

	/* f to hdd: about 5 s at 64K/s; g to ssd: 4 KiB. */
	ida = fs_migrate(x->f, x->ino, 0, UINT64_MAX, "hdd", 0);
	idb = fs_migrate(x->f, st.st_ino, 0, UINT64_MAX, "ssd", 0);
	assert_true(ida > 0 && idb > 0);
	for (i = 0; i < 300; i++) {
		assert_int_equal(fs_job(x->f, (uint64_t)idb, &b), 0);
		if (b.state == META_JOB_CLEANED || b.state == META_JOB_ROLLED_BACK)
			break;
		usleep(10000);
	}
	assert_int_equal(b.state, META_JOB_CLEANED);
	assert_int_equal(fs_job(x->f, (uint64_t)ida, &a), 0);
	assert_true(a.state != META_JOB_CLEANED &&
		    a.state != META_JOB_ROLLED_BACK);
	wait_job(x, ida, &a);
	assert_int_equal(a.state, META_JOB_CLEANED);
	assert_int_equal(on_tier(x, "hdd", 1), 6);
	check_content(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_whole_file_and_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sparse_stays_sparse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_before_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_under_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_under_copy, setup_device, teardown),
		cmocka_unit_test_setup_teardown(test_remade_extent_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_lifted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_fails_seal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_fails_seal, setup_device, teardown),
		cmocka_unit_test_setup_teardown(test_missing_source_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queued_bytes_total, setup, teardown),
		cmocka_unit_test_setup_teardown(test_priority_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_workers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_jobs_apart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_pruned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sparse_copy_beside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sha256, setup, teardown),
		cmocka_unit_test_setup_teardown(test_racing_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steady_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steady_appender, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steady_puncher, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steady_truncater, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_file_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_mid_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_after_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_after_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_mid_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_after_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_before_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_buf_after_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_buf_after_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_buf_mid_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_buf_after_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_buf_before_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_enospc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_short_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_flush_eio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_verify_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_source_eio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uring_short, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uring_short, setup_device, teardown),
		cmocka_unit_test_setup_teardown(test_uring_eagain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uring_eagain, setup_device, teardown),
		cmocka_unit_test_setup_teardown(test_uring_eio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uring_submit_eagain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uring_submit_enomem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_sync_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_sync_fails_then_moved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures_logged_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphan_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whole_file_and_back, setup_device, teardown),
		cmocka_unit_test_setup_teardown(test_sparse_stays_sparse, setup_device, teardown),
		cmocka_unit_test_setup_teardown(test_write_before_claim, setup_device, teardown),
		cmocka_unit_test_setup_teardown(test_racing_write, setup_device, teardown),
		cmocka_unit_test_setup_teardown(test_open_file_io, setup_device, teardown),
		cmocka_unit_test_setup_teardown(test_crash_after_flush, setup_device, teardown),
		cmocka_unit_test_setup_teardown(test_crash_mid_verify, setup_device, teardown),
	};

	srand(12345);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
