// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the file operations (fs/fs.c) without a mount: every test
 * gets a temporary directory holding two local tiers ("nvme", "hdd") and a
 * metadata store, opens a fabric on them and calls the fs_* functions the
 * way the FUSE front end does. Extents are 64 KiB to keep the data small. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <linux/falloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/log.h"
#include "fs/fs.h"
#include "fs/meta.h"
#include "tiering/profile.h"
#include "tmpdir.h"

#define ES         ((uint64_t)65536)     /* extent_size of every test */
#define ROOT       ((uint64_t)1)
#define MODEL_MAX  (32 * ES)             /* largest file a test models */
#define MAX_FH     16                    /* open handles a test may hold */
#define T_NVME     0                     /* tier indexes, as configured */
#define T_HDD      1

struct fix {
	char dir[64];                  /* mkdtemp directory of the test */
	char text[2048];               /* the config text */
	struct cfg cfg;                /* parsed config; outlives the fabric */
	struct fabric *f;              /* the open fabric, or NULL */
	struct fs_file *fh[MAX_FH];    /* handles still open (released at close) */
	struct fs_where_ext *w;        /* last fs_where answer, freed on reuse */
	size_t nw;                     /* extents in w */
	uint8_t *model;                /* expected content of the file under test */
	uint64_t msize;                /* its expected size */
	uint8_t *buf;                  /* scratch buffer of MODEL_MAX bytes */
};

static const struct fs_ctx root_ctx = { .uid = 0, .gid = 0, .pid = 1 };

/* ---------------------------------------------------------------- */
/* fixture */

static int setup(void **state)
{
	struct fix *x = calloc(1, sizeof(*x));

	if (!x)
		return -1;
	strcpy(x->dir, "/tmp/test_fs.XXXXXX");
	x->model = calloc(1, MODEL_MAX);
	x->buf = calloc(1, MODEL_MAX);
	if (!x->model || !x->buf || tmpdir_tiers(x->dir) < 0)
		goto fail;
	*state = x;
	return 0;
fail:
	tmpdir_remove(x->dir);
	free(x->model);
	free(x->buf);
	free(x);
	return -1;
}

static void fab_close(struct fix *x)
{
	int i;

	if (!x->f)
		return;
	for (i = 0; i < MAX_FH; i++) {
		if (x->fh[i])
			fs_release(x->f, x->fh[i]);
		x->fh[i] = NULL;
	}
	fs_fabric_close(x->f);
	x->f = NULL;
}

static int teardown(void **state)
{
	struct fix *x = *state;

	fab_close(x);
	tmpdir_remove(x->dir);
	free(x->w);
	free(x->model);
	free(x->buf);
	free(x);
	return 0;
}

static void fab_open(struct fix *x)
{
	char err[CFG_ERR_MAX] = "";
	int rc = fs_fabric_open(&x->cfg, &x->f, err, sizeof(err));

	if (rc)
		print_error("fs_fabric_open: %s\n", err);
	assert_int_equal(rc, 0);
}

static void fab_reopen(struct fix *x)
{
	fab_close(x);
	fab_open(x);
}

/* Parses a config of the two tiers and opens a fabric on it. */
static void fab_config(struct fix *x, const char *ncap, double nhw,
		       const char *hcap, double hhw)
{
	char err[CFG_ERR_MAX] = "";
	int rc;

	snprintf(x->text, sizeof(x->text),
		 "[fabric]\n"
		 "meta = %s/meta\n"
		 "extent_size = 64K\n"
		 "\n"
		 "[tier.nvme]\n"
		 "kind = local\n"
		 "path = %s/nvme\n"
		 "capacity = %s\n"
		 "high_watermark = %.3f\n"
		 "low_watermark = %.3f\n"
		 "\n"
		 "[tier.hdd]\n"
		 "kind = local\n"
		 "path = %s/hdd\n"
		 "capacity = %s\n"
		 "high_watermark = %.3f\n"
		 "low_watermark = %.3f\n",
		 x->dir, x->dir, ncap, nhw, nhw / 2, x->dir, hcap, hhw, hhw / 2);
	rc = cfg_parse_string(x->text, "test_fs.conf", &x->cfg, err, sizeof(err));
	if (rc)
		print_error("config: %s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(x->cfg.extent_size, ES);
	fab_open(x);
}

/* Plenty of room: everything lands on nvme. */
static void fab_default(struct fix *x)
{
	fab_config(x, "16M", 0.9, "64M", 0.9);
}

/* nvme and hdd of 256 KiB (4 extents) each, high watermark at half: two
 * extents fit below each watermark, eight in all. */
static void fab_small(struct fix *x)
{
	fab_config(x, "256K", 0.5, "256K", 0.5);
}

/* ---------------------------------------------------------------- */
/* handles and nodes */

static struct fs_file *track(struct fix *x, struct fs_file *fh)
{
	int i;

	for (i = 0; i < MAX_FH; i++) {
		if (!x->fh[i]) {
			x->fh[i] = fh;
			return fh;
		}
	}
	fail_msg("too many open handles in one test");
	return NULL;
}

static void untrack(struct fix *x, struct fs_file *fh)
{
	int i;

	for (i = 0; i < MAX_FH; i++)
		if (x->fh[i] == fh)
			x->fh[i] = NULL;
}

static void rel(struct fix *x, struct fs_file *fh)
{
	untrack(x, fh);
	assert_int_equal(fs_release(x->f, fh), 0);
}

static struct fs_file *open_ino(struct fix *x, uint64_t ino, int flags)
{
	struct fs_file *fh = NULL;

	assert_int_equal(fs_open(x->f, NULL, ino, flags, &fh), 0);
	assert_non_null(fh);
	assert_int_equal(fs_file_ino(fh), ino);
	return track(x, fh);
}

/* Creates a regular file; keeps it open in *fh when fh is not NULL. */
static uint64_t mkfile(struct fix *x, uint64_t parent, const char *name,
		       struct fs_file **fh)
{
	struct fs_file *h = NULL;
	struct stat st;

	assert_int_equal(fs_create(x->f, &root_ctx, parent, name, 0644,
				   O_RDWR | O_CREAT, &st, &h), 0);
	track(x, h);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_size, 0);
	if (fh)
		*fh = h;
	else
		rel(x, h);
	return st.st_ino;
}

static uint64_t mkdir_(struct fix *x, uint64_t parent, const char *name)
{
	struct stat st;

	assert_int_equal(fs_mkdir(x->f, &root_ctx, parent, name, 0755, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_nlink, 2);
	return st.st_ino;
}

static uint64_t mknod_(struct fix *x, uint64_t parent, const char *name)
{
	struct stat st;

	assert_int_equal(fs_mknod(x->f, &root_ctx, parent, name,
				  S_IFREG | 0644, 0, &st), 0);
	return st.st_ino;
}

static struct stat getattr_(struct fix *x, uint64_t ino)
{
	struct stat st;

	assert_int_equal(fs_getattr(x->f, ino, &st), 0);
	assert_int_equal(st.st_ino, ino);
	return st;
}

static uint64_t lookup_(struct fix *x, uint64_t parent, const char *name)
{
	struct stat st;

	assert_int_equal(fs_lookup(x->f, parent, name, &st), 0);
	return st.st_ino;
}

static struct fs_status status_(struct fix *x)
{
	struct fs_status s;

	assert_int_equal(fs_status(x->f, &s), 0);
	assert_int_equal(s.ntiers, 2);
	assert_string_equal(s.tiers[T_NVME].name, "nvme");
	assert_string_equal(s.tiers[T_HDD].name, "hdd");
	return s;
}

/* The tier's backing file of ino exists. */
static int backing_exists(struct fix *x, int tier, uint64_t ino)
{
	char p[PATH_MAX + 64];
	struct stat st;

	snprintf(p, sizeof(p), "%s/data/%02x/%02x/%016" PRIx64,
		 x->cfg.tiers[tier].path, (unsigned)((ino >> 8) & 0xff),
		 (unsigned)(ino & 0xff), ino);
	return lstat(p, &st) == 0;
}

/* The 512-byte blocks the tiers' backing files of ino take. */
static uint64_t tier_blocks(struct fix *x, uint64_t ino)
{
	char p[PATH_MAX + 64];
	uint64_t n = 0;
	struct stat st;

	for (int t = 0; t < 2; t++) {
		snprintf(p, sizeof(p), "%s/data/%02x/%02x/%016" PRIx64,
			 x->cfg.tiers[t].path, (unsigned)((ino >> 8) & 0xff),
			 (unsigned)(ino & 0xff), ino);
		if (lstat(p, &st) == 0)
			n += (uint64_t)st.st_blocks;
	}
	return n;
}

/* ---------------------------------------------------------------- */
/* the data model: x->model holds what the file under test must read */

static uint8_t pat(uint64_t off, unsigned seed)
{
	uint64_t v = (off + 1) * 0x9E3779B97F4A7C15ULL +
		     (uint64_t)seed * 0xD1B54A32D192ED03ULL;

	return (uint8_t)(v >> 56) | 1;  /* never 0: zeros mean a hole */
}

static void mwrite(struct fix *x, struct fs_file *fh, uint64_t off,
		   size_t len, unsigned seed)
{
	size_t i;

	assert_true(off + len <= MODEL_MAX);
	for (i = 0; i < len; i++)
		x->buf[i] = pat(off + i, seed);
	assert_int_equal(fs_write(x->f, fh, x->buf, len, off), (ssize_t)len);
	memcpy(x->model + off, x->buf, len);
	if (off + len > x->msize)
		x->msize = off + len;
}

static void mzero(struct fix *x, uint64_t off, uint64_t len)
{
	if (off >= MODEL_MAX)
		return;
	if (len > MODEL_MAX - off)
		len = MODEL_MAX - off;
	memset(x->model + off, 0, len);
}

static void mtrunc(struct fix *x, uint64_t size)
{
	assert_true(size <= MODEL_MAX);
	if (size < x->msize)
		memset(x->model + size, 0, x->msize - size);
	x->msize = size;
}

/* Truncates through setattr (by handle when fh is given, else by path). */
static void trunc_(struct fix *x, uint64_t ino, struct fs_file *fh,
		   uint64_t size)
{
	struct stat a, out;

	memset(&a, 0, sizeof(a));
	a.st_size = size;
	assert_int_equal(fs_setattr(x->f, &root_ctx, ino, &a, FS_SET_SIZE, fh,
				    &out), 0);
	assert_int_equal(out.st_size, size);
	mtrunc(x, size);
}

/* What read_collect assembled from fs_read_reply's pieces. */
struct collected {
	const uint8_t *buf;            /* the buffer given to fs_read_reply */
	uint8_t *out;                  /* the reply's bytes */
	size_t len;                    /* how many */
	int calls;                     /* replies sent (must be 1) */
	int fds;                       /* pieces that were descriptors */
};

static void read_collect(void *arg, const struct fs_seg *seg, int n)
{
	struct collected *c = arg;

	c->calls++;
	assert_true(n >= 0 && n <= FS_SEGS_MAX);
	for (int i = 0; i < n; i++) {
		/* pieces lie one after another in the read's buffer */
		assert_ptr_equal(seg[i].mem, c->buf + c->len);
		if (seg[i].fd >= 0) {
			assert_int_equal(pread(seg[i].fd, c->out + c->len,
					       seg[i].len, (off_t)seg[i].off),
					 (ssize_t)seg[i].len);
			c->fds++;
		} else {
			memcpy(c->out + c->len, seg[i].mem, seg[i].len);
		}
		c->len += seg[i].len;
	}
}

/* fs_read_reply of [pos, pos+size) replies once with want bytes that are
 * the model's; returns how many pieces were descriptors. */
static int verify_reply(struct fix *x, struct fs_file *fh, uint64_t pos,
			size_t size, size_t want)
{
	uint8_t *scratch = malloc(size ? size : 1);
	struct collected c = { .out = malloc(size ? size : 1) };

	assert_non_null(scratch);
	assert_non_null(c.out);
	c.buf = scratch;
	assert_int_equal(fs_read_reply(x->f, fh, scratch, size, pos,
				       read_collect, &c), (ssize_t)want);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.len, want);
	assert_memory_equal(c.out, x->model + pos, want);
	free(scratch);
	free(c.out);
	return c.fds;
}

/* The whole file reads back as the model, and nothing past its end, by
 * fs_read and by fs_read_reply. */
static void verify(struct fix *x, struct fs_file *fh)
{
	const size_t chunk = 50000;    /* not a divisor of the extent size */
	uint64_t pos;
	struct stat st = getattr_(x, fs_file_ino(fh));

	assert_int_equal(st.st_size, x->msize);
	for (pos = 0; pos < x->msize;) {
		size_t want = x->msize - pos < chunk ? x->msize - pos : chunk;
		ssize_t n = fs_read(x->f, fh, x->buf, chunk, pos);
		size_t i;

		assert_int_equal(n, (ssize_t)want);
		if (memcmp(x->buf, x->model + pos, want)) {
			for (i = 0; x->buf[i] == x->model[pos + i]; i++)
				;
			fail_msg("byte %" PRIu64 " reads 0x%02x, expected 0x%02x",
				 pos + i, x->buf[i], x->model[pos + i]);
		}
		verify_reply(x, fh, pos, chunk, want);
		pos += want;
	}
	assert_int_equal(fs_read(x->f, fh, x->buf, 4096, x->msize), 0);
	assert_int_equal(verify_reply(x, fh, x->msize, 4096, 0), 0);
}

/* ---------------------------------------------------------------- */
/* extent maps and tier accounting */

struct xw {
	uint64_t off;                  /* expected logical offset */
	uint64_t len;                  /* expected length */
	const char *tier;              /* expected tier name */
};

static void where_(struct fix *x, uint64_t ino, uint64_t *size)
{
	uint64_t sz = 0;

	free(x->w);
	x->w = NULL;
	x->nw = 0;
	assert_int_equal(fs_where(x->f, ino, &x->w, &x->nw, &sz), 0);
	if (size)
		*size = sz;
}

static void expect_where(struct fix *x, uint64_t ino, const struct xw *e,
			 size_t ne, uint64_t size)
{
	uint64_t sz;
	struct stat st;
	size_t i;

	int same;

	where_(x, ino, &sz);
	assert_int_equal(sz, size);
	same = x->nw == ne;
	for (i = 0; same && i < ne; i++)
		same = x->w[i].off == e[i].off && x->w[i].len == e[i].len &&
		       !strcmp(x->w[i].tier, e[i].tier);
	if (!same) {
		for (i = 0; i < x->nw; i++)
			print_error("  got extent %zu: %s %" PRIu64 "+%" PRIu64 "\n",
				    i, x->w[i].tier, x->w[i].off, x->w[i].len);
		for (i = 0; i < ne; i++)
			print_error("  expected    %zu: %s %" PRIu64 "+%" PRIu64 "\n",
				    i, e[i].tier, e[i].off, e[i].len);
		fail_msg("inode %" PRIu64 ": unexpected extent map", ino);
	}
	/* st_blocks: what the tier files of the inode take (both tiers are
	 * local), so that holes inside extents take nothing */
	st = getattr_(x, ino);
	assert_int_equal(st.st_size, size);
	assert_int_equal(st.st_blocks, tier_blocks(x, ino));
}

/* fs_where fails with rc and hands out nothing. */
static void where_fails(struct fix *x, uint64_t ino, int rc)
{
	struct fs_where_ext *w = NULL;
	size_t n = 0;
	uint64_t sz = 0;

	assert_int_equal(fs_where(x->f, ino, &w, &n, &sz), rc);
	free(w);
}

#define WHERE(x, ino, size, ...) do {					\
	const struct xw e_[] = { __VA_ARGS__ };				\
	expect_where(x, ino, e_, sizeof(e_) / sizeof(e_[0]), size);	\
} while (0)
#define WHERE_NONE(x, ino, size) expect_where(x, ino, NULL, 0, size)

/* fs_status's used/extents/files of each tier are the sums over the
 * extents of the given inodes (all the inodes that hold data). */
static void check_used(struct fix *x, const uint64_t *inos, size_t n)
{
	uint64_t used[2] = { 0, 0 }, ext[2] = { 0, 0 }, files[2] = { 0, 0 };
	struct fs_status s;
	size_t i, j;
	int t;

	for (i = 0; i < n; i++) {
		int on[2] = { 0, 0 };

		where_(x, inos[i], NULL);
		for (j = 0; j < x->nw; j++) {
			t = !strcmp(x->w[j].tier, "hdd");
			used[t] += x->w[j].len;
			ext[t]++;
			on[t] = 1;
		}
		files[0] += on[0];
		files[1] += on[1];
	}
	s = status_(x);
	for (t = 0; t < 2; t++) {
		assert_int_equal(s.tiers[t].used, used[t]);
		assert_int_equal(s.tiers[t].extents, ext[t]);
		assert_int_equal(s.tiers[t].files, files[t]);
	}
}

/* ---------------------------------------------------------------- */
/* extent map arithmetic */

static void test_extent_map(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh;
	struct fs_status s;
	uint64_t ino, size, i;

	fab_default(x);
	ino = mkfile(x, ROOT, "f", &fh);
	WHERE_NONE(x, ino, 0);
	assert_int_equal(fs_read(x->f, fh, x->buf, 100, 0), 0);

	/* inside one extent: it covers [0, end of the write) */
	mwrite(x, fh, 100, 1000, 1);
	WHERE(x, ino, 1100, { 0, 1100, "nvme" });
	assert_int_equal(getattr_(x, ino).st_blocks, 8);
	verify(x, fh);

	/* one whole extent, exactly on its boundaries */
	mwrite(x, fh, ES, ES, 2);
	WHERE(x, ino, 2 * ES, { 0, 1100, "nvme" }, { ES, ES, "nvme" });
	assert_int_equal(getattr_(x, ino).st_blocks, 8 + 128);
	verify(x, fh);

	/* straddling two extents: the end of 0 and the start of 1 */
	mwrite(x, fh, ES - 10, 20, 3);
	WHERE(x, ino, 2 * ES, { 0, ES, "nvme" }, { ES, ES, "nvme" });
	verify(x, fh);

	/* straddling three: the last byte of 2, all of 3, the first of 4 */
	mwrite(x, fh, 3 * ES - 1, ES + 2, 4);
	WHERE(x, ino, 4 * ES + 1, { 0, ES, "nvme" }, { ES, ES, "nvme" },
	      { 2 * ES, ES, "nvme" }, { 3 * ES, ES, "nvme" },
	      { 4 * ES, 1, "nvme" });
	/* extents 0 and 2 are mostly holes: st_blocks counted them whole
	 * (4 * 128 + 8), and cp and tar took the file for one without
	 * holes */
	assert_true(getattr_(x, ino).st_blocks < 3 * 128);
	verify(x, fh);   /* [2 ES, 3 ES - 1) was never written: zeros */

	/* far beyond the end: a hole of 15 extents, no extents for it */
	mwrite(x, fh, 20 * ES + 5, 10, 5);
	WHERE(x, ino, 20 * ES + 15, { 0, ES, "nvme" }, { ES, ES, "nvme" },
	      { 2 * ES, ES, "nvme" }, { 3 * ES, ES, "nvme" },
	      { 4 * ES, 1, "nvme" }, { 20 * ES, 15, "nvme" });
	verify(x, fh);
	for (i = 4 * ES + 1; i < 20 * ES + 5; i++)
		assert_int_equal(x->model[i], 0);

	/* reads at and past the end are short or empty */
	size = 20 * ES + 15;
	assert_int_equal(fs_read(x->f, fh, x->buf, 10, size), 0);
	assert_int_equal(fs_read(x->f, fh, x->buf, 10, size + 10 * ES), 0);
	assert_int_equal(fs_read(x->f, fh, x->buf, 100, size - 5), 5);
	assert_memory_equal(x->buf, x->model + size - 5, 5);
	assert_int_equal(fs_read(x->f, fh, x->buf, 3 * ES, 19 * ES), ES + 15);
	assert_memory_equal(x->buf, x->model + 19 * ES, ES + 15);
	/* The local tier lends its file: extents reply as descriptors, one
	 * per extent, holes and zeros from memory. */
	assert_int_equal(verify_reply(x, fh, 0, 4 * ES + 1, 4 * ES + 1), 5);
	assert_int_equal(verify_reply(x, fh, 100, 1000, 1000), 1);
	assert_int_equal(verify_reply(x, fh, 5 * ES, ES, ES), 0);
	assert_int_equal(verify_reply(x, fh, 19 * ES, 3 * ES, ES + 15), 1);

	/* an overwrite inside an extent changes nothing in the map */
	mwrite(x, fh, 10, 10, 6);
	WHERE(x, ino, size, { 0, ES, "nvme" }, { ES, ES, "nvme" },
	      { 2 * ES, ES, "nvme" }, { 3 * ES, ES, "nvme" },
	      { 4 * ES, 1, "nvme" }, { 20 * ES, 15, "nvme" });
	check_used(x, &ino, 1);
	s = status_(x);
	assert_int_equal(s.tiers[T_NVME].used, 4 * ES + 16);
	assert_int_equal(s.tiers[T_NVME].extents, 6);
	assert_int_equal(s.tiers[T_HDD].used, 0);
	assert_int_equal(s.extent_size, ES);

	/* all of it again after a restart */
	rel(x, fh);
	fab_reopen(x);
	fh = open_ino(x, ino, O_RDONLY);
	verify(x, fh);
	WHERE(x, ino, size, { 0, ES, "nvme" }, { ES, ES, "nvme" },
	      { 2 * ES, ES, "nvme" }, { 3 * ES, ES, "nvme" },
	      { 4 * ES, 1, "nvme" }, { 20 * ES, 15, "nvme" });
	check_used(x, &ino, 1);
}

/* ---------------------------------------------------------------- */
/* truncate */

static void test_truncate(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh, *fh2;
	struct fs_status s;
	uint64_t ino;

	fab_small(x);
	ino = mkfile(x, ROOT, "f", &fh);
	mwrite(x, fh, 0, 4 * ES, 1);
	WHERE(x, ino, 4 * ES, { 0, ES, "nvme" }, { ES, ES, "nvme" },
	      { 2 * ES, ES, "hdd" }, { 3 * ES, ES, "hdd" });
	check_used(x, &ino, 1);

	/* down into the middle of extent 2 (on hdd) */
	trunc_(x, ino, fh, 2 * ES + 1000);
	WHERE(x, ino, 2 * ES + 1000, { 0, ES, "nvme" }, { ES, ES, "nvme" },
	      { 2 * ES, 1000, "hdd" });
	check_used(x, &ino, 1);
	verify(x, fh);
	assert_int_equal(fs_read(x->f, fh, x->buf, ES, 2 * ES + 1000), 0);

	/* up again: what lay past the cut reads as zeros */
	trunc_(x, ino, fh, 4 * ES);
	WHERE(x, ino, 4 * ES, { 0, ES, "nvme" }, { ES, ES, "nvme" },
	      { 2 * ES, 1000, "hdd" });
	check_used(x, &ino, 1);
	verify(x, fh);

	/* down to an extent boundary, by path */
	trunc_(x, ino, NULL, ES);
	WHERE(x, ino, ES, { 0, ES, "nvme" });
	check_used(x, &ino, 1);
	verify(x, fh);
	s = status_(x);
	assert_int_equal(s.tiers[T_HDD].files, 0);

	/* up, write into extent 1, then cut in the middle of extent 0 */
	trunc_(x, ino, fh, 2 * ES);
	WHERE(x, ino, 2 * ES, { 0, ES, "nvme" });
	check_used(x, &ino, 1);
	verify(x, fh);
	mwrite(x, fh, ES + 500, 100, 2);
	WHERE(x, ino, 2 * ES, { 0, ES, "nvme" }, { ES, 600, "nvme" });
	check_used(x, &ino, 1);
	verify(x, fh);
	trunc_(x, ino, fh, 3000);
	WHERE(x, ino, 3000, { 0, 3000, "nvme" });
	check_used(x, &ino, 1);
	verify(x, fh);
	trunc_(x, ino, fh, 2 * ES + 10);
	WHERE(x, ino, 2 * ES + 10, { 0, 3000, "nvme" });
	check_used(x, &ino, 1);
	verify(x, fh);

	/* to 0, then up: nothing is left */
	trunc_(x, ino, fh, 0);
	WHERE_NONE(x, ino, 0);
	check_used(x, &ino, 1);
	s = status_(x);
	assert_int_equal(s.tiers[T_NVME].used, 0);
	assert_int_equal(s.tiers[T_NVME].files, 0);
	assert_int_equal(s.tiers[T_HDD].used, 0);
	trunc_(x, ino, fh, 4 * ES);
	WHERE_NONE(x, ino, 4 * ES);
	check_used(x, &ino, 1);
	verify(x, fh);

	/* new data is the only data */
	mwrite(x, fh, 2 * ES + 7, 5, 3);
	WHERE(x, ino, 4 * ES, { 2 * ES, 12, "nvme" });
	verify(x, fh);
	check_used(x, &ino, 1);

	/* open(O_TRUNC) */
	mwrite(x, fh, 0, 3 * ES, 4);
	check_used(x, &ino, 1);
	fh2 = open_ino(x, ino, O_RDWR | O_TRUNC);
	mtrunc(x, 0);
	WHERE_NONE(x, ino, 0);
	check_used(x, &ino, 1);
	verify(x, fh2);
	rel(x, fh2);

	/* truncating something else than a regular file */
	{
		uint64_t d = mkdir_(x, ROOT, "d");
		struct stat a, out;

		memset(&a, 0, sizeof(a));
		assert_int_equal(fs_setattr(x->f, &root_ctx, d, &a, FS_SET_SIZE,
					    NULL, &out), -EISDIR);
	}

	/* the counters survive a restart */
	mwrite(x, fh, ES, 3 * ES + 3, 5);
	check_used(x, &ino, 1);
	trunc_(x, ino, fh, 2 * ES + 1);
	check_used(x, &ino, 1);
	rel(x, fh);
	fab_reopen(x);
	check_used(x, &ino, 1);
	fh = open_ino(x, ino, O_RDONLY);
	verify(x, fh);
}

/* ---------------------------------------------------------------- */
/* fallocate */

static void test_fallocate(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh;
	uint64_t ino;
	static const int bad[] = {
		FALLOC_FL_PUNCH_HOLE,                        /* needs KEEP_SIZE */
		FALLOC_FL_COLLAPSE_RANGE,
		FALLOC_FL_INSERT_RANGE,
		FALLOC_FL_UNSHARE_RANGE,
		FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_KEEP_SIZE,
	};
	size_t i;

	fab_default(x);
	ino = mkfile(x, ROOT, "f", &fh);

	/* mode 0 extends the size and allocates extents of zeros */
	assert_int_equal(fs_fallocate(x->f, fh, 0, 0, ES + 100), 0);
	mtrunc(x, ES + 100);
	WHERE(x, ino, ES + 100, { 0, ES, "nvme" }, { ES, 100, "nvme" });
	verify(x, fh);
	check_used(x, &ino, 1);

	/* Extents of zeros the tier file does not reach (fallocate keeps
	 * its size): a read across more of them than a reply has pieces
	 * holds none of them (this overran the list of held descriptors). */
	assert_int_equal(fs_fallocate(x->f, fh, 0, 0, 30 * ES), 0);
	mtrunc(x, 30 * ES);
	assert_int_equal(verify_reply(x, fh, 100, 28 * ES, 28 * ES), 0);
	assert_int_equal(fs_setattr(x->f, &root_ctx, ino,
				    &(struct stat){ .st_size = ES + 100 },
				    FS_SET_SIZE, fh, &(struct stat){ 0 }), 0);
	mtrunc(x, ES + 100);

	/* KEEP_SIZE allocates past the end without changing the size */
	assert_int_equal(fs_fallocate(x->f, fh, FALLOC_FL_KEEP_SIZE, 2 * ES, ES), 0);
	WHERE(x, ino, ES + 100, { 0, ES, "nvme" }, { ES, 100, "nvme" },
	      { 2 * ES, ES, "nvme" });
	verify(x, fh);
	assert_int_equal(fs_read(x->f, fh, x->buf, 10, 2 * ES), 0);
	check_used(x, &ino, 1);

	/* mode 0 inside the file changes nothing */
	assert_int_equal(fs_fallocate(x->f, fh, 0, 10, 20), 0);
	WHERE(x, ino, ES + 100, { 0, ES, "nvme" }, { ES, 100, "nvme" },
	      { 2 * ES, ES, "nvme" });

	/* data over four extents */
	mwrite(x, fh, 0, 4 * ES, 1);
	WHERE(x, ino, 4 * ES, { 0, ES, "nvme" }, { ES, ES, "nvme" },
	      { 2 * ES, ES, "nvme" }, { 3 * ES, ES, "nvme" });
	check_used(x, &ino, 1);

	/* a hole over [ES/2, 3.5 ES): drops 1 and 2, zeros parts of 0 and 3 */
	assert_int_equal(fs_fallocate(x->f, fh, FALLOC_FL_PUNCH_HOLE |
				      FALLOC_FL_KEEP_SIZE, ES / 2, 3 * ES), 0);
	mzero(x, ES / 2, 3 * ES);
	WHERE(x, ino, 4 * ES, { 0, ES, "nvme" }, { 3 * ES, ES, "nvme" });
	verify(x, fh);
	check_used(x, &ino, 1);

	/* a small hole inside an extent keeps the extent */
	assert_int_equal(fs_fallocate(x->f, fh, FALLOC_FL_PUNCH_HOLE |
				      FALLOC_FL_KEEP_SIZE, 100, 50), 0);
	mzero(x, 100, 50);
	WHERE(x, ino, 4 * ES, { 0, ES, "nvme" }, { 3 * ES, ES, "nvme" });
	verify(x, fh);

	/* a hole reaching past the end leaves the size alone */
	assert_int_equal(fs_fallocate(x->f, fh, FALLOC_FL_PUNCH_HOLE |
				      FALLOC_FL_KEEP_SIZE, 4 * ES - 10, 2 * ES), 0);
	mzero(x, 4 * ES - 10, 10);
	WHERE(x, ino, 4 * ES, { 0, ES, "nvme" }, { 3 * ES, ES, "nvme" });
	verify(x, fh);

	/* ZERO_RANGE inside the file */
	assert_int_equal(fs_fallocate(x->f, fh, FALLOC_FL_ZERO_RANGE,
				      3 * ES + 10, 20), 0);
	mzero(x, 3 * ES + 10, 20);
	WHERE(x, ino, 4 * ES, { 0, ES, "nvme" }, { 3 * ES, ES, "nvme" });
	verify(x, fh);

	/* ZERO_RANGE past the end extends the size */
	assert_int_equal(fs_fallocate(x->f, fh, FALLOC_FL_ZERO_RANGE,
				      3 * ES + ES / 2, 2 * ES), 0);
	mzero(x, 3 * ES + ES / 2, 2 * ES);
	mtrunc(x, 5 * ES + ES / 2);
	assert_int_equal(getattr_(x, ino).st_size, 5 * ES + ES / 2);
	verify(x, fh);

	/* ZERO_RANGE|KEEP_SIZE over all of extent 0 keeps it allocated
	 * (regression, failed before: it was dropped, as a punch drops it,
	 * and the range held no space), size kept */
	assert_int_equal(fs_fallocate(x->f, fh, FALLOC_FL_ZERO_RANGE |
				      FALLOC_FL_KEEP_SIZE, 0, ES), 0);
	mzero(x, 0, ES);
	where_(x, ino, NULL);
	assert_true(x->nw >= 1);
	assert_int_equal(x->w[0].off, 0);
	assert_int_equal(x->w[0].len, ES);
	assert_int_equal(getattr_(x, ino).st_size, 5 * ES + ES / 2);
	verify(x, fh);
	assert_int_equal(fs_fallocate(x->f, fh, FALLOC_FL_ZERO_RANGE |
				      FALLOC_FL_KEEP_SIZE, 5 * ES, 3 * ES), 0);
	mzero(x, 5 * ES, 3 * ES);
	assert_int_equal(getattr_(x, ino).st_size, 5 * ES + ES / 2);
	verify(x, fh);
	check_used(x, &ino, 1);

	/* unsupported modes and a zero length change nothing */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(fs_fallocate(x->f, fh, bad[i], 0, ES), -EOPNOTSUPP);
	assert_int_equal(fs_fallocate(x->f, fh, 0, 0, 0), -EINVAL);
	verify(x, fh);
	check_used(x, &ino, 1);

	/* after a restart */
	rel(x, fh);
	fab_reopen(x);
	fh = open_ino(x, ino, O_RDWR);
	verify(x, fh);
	check_used(x, &ino, 1);

	/* ZERO_RANGE reserves what it zeros, past the end too (it was
	 * punched only: 8 blocks where ext4 has them all) */
	{
		struct fs_file *zh = NULL;
		uint64_t z = mkfile(x, ROOT, "z", &zh);

		assert_int_equal(fs_write(x->f, zh, "0123456789", 10, 0), 10);
		assert_int_equal(fs_fallocate(x->f, zh, FALLOC_FL_ZERO_RANGE,
					      5, 10 * ES), 0);
		assert_int_equal(getattr_(x, z).st_size, 5 + 10 * ES);
		assert_true((uint64_t)getattr_(x, z).st_blocks * 512 >= 10 * ES);
		rel(x, zh);
	}
}

/* ---------------------------------------------------------------- */
/* SEEK_DATA, SEEK_HOLE */

static void test_lseek(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh, *fh2;
	uint64_t ino, ino2, size = 6 * ES + 100;

	fab_small(x);
	ino = mkfile(x, ROOT, "f", &fh);
	/* data in extents 0-1 (nvme), a hole over 2-4, data in 5-6 (hdd) */
	mwrite(x, fh, 0, 2 * ES, 1);
	mwrite(x, fh, 5 * ES, ES + 100, 2);
	WHERE(x, ino, size, { 0, ES, "nvme" }, { ES, ES, "nvme" },
	      { 5 * ES, ES, "hdd" }, { 6 * ES, 100, "hdd" });

	assert_int_equal(fs_lseek(x->f, fh, 0, SEEK_DATA), 0);
	assert_int_equal(fs_lseek(x->f, fh, 100, SEEK_DATA), 100);
	assert_int_equal(fs_lseek(x->f, fh, ES, SEEK_DATA), ES);
	assert_int_equal(fs_lseek(x->f, fh, 2 * ES - 1, SEEK_DATA), 2 * ES - 1);
	assert_int_equal(fs_lseek(x->f, fh, 2 * ES, SEEK_DATA), 5 * ES);
	assert_int_equal(fs_lseek(x->f, fh, 3 * ES + 7, SEEK_DATA), 5 * ES);
	assert_int_equal(fs_lseek(x->f, fh, 5 * ES - 1, SEEK_DATA), 5 * ES);
	assert_int_equal(fs_lseek(x->f, fh, 5 * ES + 3, SEEK_DATA), 5 * ES + 3);
	assert_int_equal(fs_lseek(x->f, fh, 6 * ES + 50, SEEK_DATA), 6 * ES + 50);
	assert_int_equal(fs_lseek(x->f, fh, size - 1, SEEK_DATA), size - 1);
	assert_int_equal(fs_lseek(x->f, fh, size, SEEK_DATA), -ENXIO);
	assert_int_equal(fs_lseek(x->f, fh, size + 5 * ES, SEEK_DATA), -ENXIO);

	assert_int_equal(fs_lseek(x->f, fh, 0, SEEK_HOLE), 2 * ES);
	assert_int_equal(fs_lseek(x->f, fh, ES + 5, SEEK_HOLE), 2 * ES);
	assert_int_equal(fs_lseek(x->f, fh, 2 * ES, SEEK_HOLE), 2 * ES);
	assert_int_equal(fs_lseek(x->f, fh, 4 * ES + 1, SEEK_HOLE), 4 * ES + 1);
	assert_int_equal(fs_lseek(x->f, fh, 5 * ES, SEEK_HOLE), size);
	assert_int_equal(fs_lseek(x->f, fh, size - 1, SEEK_HOLE), size);
	assert_int_equal(fs_lseek(x->f, fh, size, SEEK_HOLE), -ENXIO);
	assert_int_equal(fs_lseek(x->f, fh, size + 1, SEEK_HOLE), -ENXIO);

	assert_int_equal(fs_lseek(x->f, fh, 0, SEEK_SET), -EINVAL);
	assert_int_equal(fs_lseek(x->f, fh, 0, SEEK_END), -EINVAL);

	/* a hole at the end (truncated up): SEEK_HOLE stops there, no data */
	ino2 = mkfile(x, ROOT, "g", &fh2);
	assert_int_equal(fs_lseek(x->f, fh2, 0, SEEK_DATA), -ENXIO);
	assert_int_equal(fs_lseek(x->f, fh2, 0, SEEK_HOLE), -ENXIO);
	mwrite(x, fh2, 0, 100, 3);
	trunc_(x, ino2, fh2, 3 * ES);
	assert_int_equal(fs_lseek(x->f, fh2, 0, SEEK_DATA), 0);
	assert_int_equal(fs_lseek(x->f, fh2, 0, SEEK_HOLE), 100);
	assert_int_equal(fs_lseek(x->f, fh2, 100, SEEK_DATA), -ENXIO);
	assert_int_equal(fs_lseek(x->f, fh2, ES, SEEK_DATA), -ENXIO);
	assert_int_equal(fs_lseek(x->f, fh2, 2 * ES, SEEK_HOLE), 2 * ES);
	assert_int_equal(fs_lseek(x->f, fh2, 3 * ES, SEEK_HOLE), -ENXIO);

	/* a hole punched out of the middle of the first file */
	assert_int_equal(fs_fallocate(x->f, fh, FALLOC_FL_PUNCH_HOLE |
				      FALLOC_FL_KEEP_SIZE, ES, ES), 0);
	assert_int_equal(fs_lseek(x->f, fh, 0, SEEK_HOLE), ES);
	assert_int_equal(fs_lseek(x->f, fh, ES, SEEK_DATA), 5 * ES);
}

/* ---------------------------------------------------------------- */
/* tier placement and a full fabric */

static void test_tier_placement(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh, *fh2;
	struct fs_status s;
	uint64_t ino, ino2, inos[2];
	struct statvfs sv;
	int k;

	fab_small(x);
	ino = mkfile(x, ROOT, "a", &fh);
	/* below the watermarks: nvme, then hdd */
	for (k = 0; k < 4; k++)
		mwrite(x, fh, k * ES, ES, 1);
	WHERE(x, ino, 4 * ES, { 0, ES, "nvme" }, { ES, ES, "nvme" },
	      { 2 * ES, ES, "hdd" }, { 3 * ES, ES, "hdd" });
	s = status_(x);
	assert_int_equal(s.tiers[T_NVME].used, 2 * ES);
	assert_int_equal(s.tiers[T_HDD].used, 2 * ES);
	assert_int_equal(s.tiers[T_NVME].files, 1);
	assert_int_equal(s.tiers[T_HDD].files, 1);
	assert_int_equal(s.tiers[T_NVME].capacity, 4 * ES);
	assert_true(s.tiers[T_NVME].high_watermark > 0.49 &&
		    s.tiers[T_NVME].high_watermark < 0.51);
	assert_true(backing_exists(x, T_NVME, ino));
	assert_true(backing_exists(x, T_HDD, ino));

	/* both above their watermarks: fill up to capacity, fastest first */
	for (k = 4; k < 8; k++)
		mwrite(x, fh, k * ES, ES, 1);
	WHERE(x, ino, 8 * ES, { 0, ES, "nvme" }, { ES, ES, "nvme" },
	      { 2 * ES, ES, "hdd" }, { 3 * ES, ES, "hdd" },
	      { 4 * ES, ES, "nvme" }, { 5 * ES, ES, "nvme" },
	      { 6 * ES, ES, "hdd" }, { 7 * ES, ES, "hdd" });
	s = status_(x);
	assert_int_equal(s.tiers[T_NVME].used, 4 * ES);
	assert_int_equal(s.tiers[T_HDD].used, 4 * ES);
	assert_int_equal(fs_statfs(x->f, &sv), 0);
	assert_int_equal(sv.f_blocks, 8 * ES / 4096);
	assert_int_equal(sv.f_bavail, 0);

	/* full: a new extent is refused, nothing changes */
	assert_int_equal(fs_write(x->f, fh, x->buf, 10, 8 * ES), -ENOSPC);
	assert_int_equal(fs_write(x->f, fh, x->buf, 10, 20 * ES), -ENOSPC);
	assert_int_equal(fs_fallocate(x->f, fh, 0, 8 * ES, ES), -ENOSPC);
	assert_int_equal(fs_fallocate(x->f, fh, FALLOC_FL_KEEP_SIZE, 9 * ES, 10),
			 -ENOSPC);
	/* a write that straddles into a new extent is short */
	memset(x->buf, 0x5a, 20);
	assert_int_equal(fs_write(x->f, fh, x->buf, 20, 8 * ES - 10), 10);
	memset(x->model + 8 * ES - 10, 0x5a, 10);
	assert_int_equal(x->msize, 8 * ES);
	WHERE(x, ino, 8 * ES, { 0, ES, "nvme" }, { ES, ES, "nvme" },
	      { 2 * ES, ES, "hdd" }, { 3 * ES, ES, "hdd" },
	      { 4 * ES, ES, "nvme" }, { 5 * ES, ES, "nvme" },
	      { 6 * ES, ES, "hdd" }, { 7 * ES, ES, "hdd" });
	verify(x, fh);

	ino2 = mkfile(x, ROOT, "b", &fh2);
	assert_int_equal(fs_write(x->f, fh2, "x", 1, 0), -ENOSPC);
	WHERE_NONE(x, ino2, 0);
	inos[0] = ino;
	inos[1] = ino2;
	check_used(x, inos, 2);

	/* overwriting existing extents still works */
	mwrite(x, fh, 3 * ES + 10, 2 * ES, 2);
	verify(x, fh);

	/* the same after a restart */
	rel(x, fh);
	rel(x, fh2);
	fab_reopen(x);
	check_used(x, inos, 2);
	fh = open_ino(x, ino, O_RDWR);
	fh2 = open_ino(x, ino2, O_RDWR);
	verify(x, fh);
	assert_int_equal(fs_write(x->f, fh2, "x", 1, 0), -ENOSPC);

	/* free extents 2-7: hdd is below its watermark again, nvme is not */
	trunc_(x, ino, fh, 2 * ES);
	s = status_(x);
	assert_int_equal(s.tiers[T_NVME].used, 2 * ES);
	assert_int_equal(s.tiers[T_HDD].used, 0);
	memset(x->buf, 0x77, 2 * ES);
	assert_int_equal(fs_write(x->f, fh2, x->buf, 2 * ES, 0), (ssize_t)(2 * ES));
	/* then nvme again, above its watermark but below capacity */
	assert_int_equal(fs_write(x->f, fh2, "z", 1, 2 * ES), 1);
	/* a tier's use is its extents' bytes: a small extent leaves room */
	assert_int_equal(fs_write(x->f, fh2, "w", 1, 3 * ES), 1);
	WHERE(x, ino2, 3 * ES + 1, { 0, ES, "hdd" }, { ES, ES, "hdd" },
	      { 2 * ES, 1, "nvme" }, { 3 * ES, 1, "nvme" });
	check_used(x, inos, 2);
	verify(x, fh);
}

/* ---------------------------------------------------------------- */
/* namespace */

static void test_namespace(void **state)
{
	struct fix *x = *state;
	uint64_t f, d, e, g, f2, s, n0;
	struct stat st;
	char buf[64];

	fab_default(x);
	st = getattr_(x, ROOT);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_nlink, 2);
	n0 = status_(x).inodes;
	assert_int_equal(n0, 1);

	/* create, lookup, getattr */
	assert_int_equal(fs_mknod(x->f, &root_ctx, ROOT, "f", S_IFREG | 0640, 0,
				  &st), 0);
	f = st.st_ino;
	assert_true(f > ROOT);
	assert_int_equal(st.st_mode, S_IFREG | 0640);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(lookup_(x, ROOT, "f"), f);
	st = getattr_(x, f);
	assert_int_equal(st.st_mode, S_IFREG | 0640);
	assert_int_equal(fs_lookup(x->f, ROOT, "nope", &st), -ENOENT);
	assert_int_equal(fs_mknod(x->f, &root_ctx, ROOT, "f", S_IFREG | 0644, 0,
				  &st), -EEXIST);
	assert_int_equal(fs_mknod(x->f, &root_ctx, f, "x", S_IFREG | 0644, 0,
				  &st), -ENOTDIR);
	assert_int_equal(fs_mknod(x->f, &root_ctx, ROOT, "bad", S_IFDIR | 0755, 0,
				  &st), -EINVAL);
	assert_int_equal(fs_mknod(x->f, &root_ctx, ROOT, "a/b", S_IFREG | 0644, 0,
				  &st), -EINVAL);
	assert_int_equal(fs_mknod(x->f, &root_ctx, ROOT, "", S_IFREG | 0644, 0,
				  &st), -ENOENT);
	assert_int_equal(status_(x).inodes, n0 + 1);

	/* fs_create: O_EXCL on an existing name, O_TRUNC */
	{
		struct fs_file *fh = NULL;

		assert_int_equal(fs_create(x->f, &root_ctx, ROOT, "f", 0644,
					   O_RDWR | O_CREAT | O_EXCL, &st, &fh),
				 -EEXIST);
		assert_int_equal(fs_create(x->f, &root_ctx, ROOT, "f", 0644,
					   O_RDWR | O_CREAT, &st, &fh), 0);
		track(x, fh);
		assert_int_equal(st.st_ino, f);
		assert_int_equal(fs_write(x->f, fh, "hello", 5, 0), 5);
		rel(x, fh);
		fs_forget(x->f, f, 1);
		assert_int_equal(fs_create(x->f, &root_ctx, ROOT, "f", 0644,
					   O_RDWR | O_CREAT | O_TRUNC, &st, &fh), 0);
		track(x, fh);
		assert_int_equal(st.st_ino, f);
		assert_int_equal(getattr_(x, f).st_size, 0);
		assert_int_equal(fs_write(x->f, fh, "hello", 5, 0), 5);
		rel(x, fh);
		fs_forget(x->f, f, 1);
	}

	/* mkdir and nlink */
	d = mkdir_(x, ROOT, "d");
	assert_int_equal(getattr_(x, ROOT).st_nlink, 3);
	e = mkdir_(x, d, "e");
	assert_int_equal(getattr_(x, d).st_nlink, 3);
	assert_int_equal(getattr_(x, ROOT).st_nlink, 3);
	g = mknod_(x, d, "g");
	assert_int_equal(getattr_(x, d).st_nlink, 3);
	assert_int_equal(fs_mkdir(x->f, &root_ctx, ROOT, "d", 0755, &st), -EEXIST);
	assert_int_equal(status_(x).inodes, n0 + 4);

	/* rmdir, unlink and their errors */
	assert_int_equal(fs_rmdir(x->f, ROOT, "d"), -ENOTEMPTY);
	assert_int_equal(fs_rmdir(x->f, d, "g"), -ENOTDIR);
	assert_int_equal(fs_unlink(x->f, d, "e"), -EISDIR);
	assert_int_equal(fs_unlink(x->f, d, "nope"), -ENOENT);
	assert_int_equal(fs_rmdir(x->f, d, "e"), 0);
	assert_int_equal(getattr_(x, d).st_nlink, 2);
	assert_int_equal(fs_lookup(x->f, d, "e", &st), -ENOENT);
	fs_forget(x->f, e, 1);
	assert_int_equal(fs_getattr(x->f, e, &st), -ENOENT);
	assert_int_equal(fs_rmdir(x->f, ROOT, "d"), -ENOTEMPTY);
	assert_int_equal(fs_unlink(x->f, d, "g"), 0);
	fs_forget(x->f, g, 1);
	assert_int_equal(fs_rmdir(x->f, ROOT, "d"), 0);
	assert_int_equal(getattr_(x, ROOT).st_nlink, 2);
	fs_forget(x->f, d, 1);
	assert_int_equal(fs_getattr(x->f, d, &st), -ENOENT);
	assert_int_equal(status_(x).inodes, n0 + 1);

	/* hard links */
	d = mkdir_(x, ROOT, "d2");
	assert_int_equal(fs_link(x->f, f, ROOT, "f2", &st), 0);
	assert_int_equal(st.st_ino, f);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(fs_link(x->f, f, d, "f3", &st), 0);
	assert_int_equal(st.st_nlink, 3);
	assert_int_equal(getattr_(x, f).st_nlink, 3);
	assert_int_equal(fs_link(x->f, f, ROOT, "f2", &st), -EEXIST);
	assert_int_equal(fs_link(x->f, d, ROOT, "dlink", &st), -EPERM);
	assert_int_equal(getattr_(x, d).st_nlink, 2);
	assert_int_equal(fs_unlink(x->f, ROOT, "f"), 0);
	assert_int_equal(getattr_(x, f).st_nlink, 2);
	assert_int_equal(fs_lookup(x->f, ROOT, "f", &st), -ENOENT);
	f2 = lookup_(x, ROOT, "f2");
	assert_int_equal(f2, f);
	{
		struct fs_file *fh = open_ino(x, f2, O_RDONLY);

		assert_int_equal(fs_read(x->f, fh, buf, sizeof(buf), 0), 5);
		assert_memory_equal(buf, "hello", 5);
		rel(x, fh);
	}
	assert_int_equal(fs_unlink(x->f, d, "f3"), 0);
	assert_int_equal(getattr_(x, f).st_nlink, 1);
	assert_int_equal(status_(x).inodes, n0 + 2);

	/* symlinks */
	assert_int_equal(fs_symlink(x->f, &root_ctx, "some/where", ROOT, "s", &st), 0);
	s = st.st_ino;
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_size, 10);
	assert_int_equal(fs_readlink(x->f, s, buf, sizeof(buf)), 10);
	assert_string_equal(buf, "some/where");
	assert_int_equal(fs_readlink(x->f, f, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(fs_symlink(x->f, &root_ctx, "", ROOT, "s2", &st), -ENOENT);
	assert_int_equal(fs_symlink(x->f, &root_ctx, "t", ROOT, "s", &st), -EEXIST);

	/* other node kinds */
	assert_int_equal(fs_mknod(x->f, &root_ctx, ROOT, "fifo", S_IFIFO | 0600, 0,
				  &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(fs_mknod(x->f, &root_ctx, ROOT, "chr", S_IFCHR | 0600,
				  makedev(1, 3), &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(1, 3));
	assert_int_equal(status_(x).inodes, n0 + 5);
}

/* ---------------------------------------------------------------- */
/* rename */

static void test_rename(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh;
	uint64_t a, c, r, p, q, da, db, sub, n;
	struct stat st;
	char buf[16];

	fab_default(x);

	/* plain */
	a = mkfile(x, ROOT, "a", &fh);
	assert_int_equal(fs_write(x->f, fh, "AAA", 3, 0), 3);
	rel(x, fh);
	assert_int_equal(fs_rename(x->f, ROOT, "a", ROOT, "b", 0), 0);
	assert_int_equal(fs_lookup(x->f, ROOT, "a", &st), -ENOENT);
	assert_int_equal(lookup_(x, ROOT, "b"), a);
	assert_int_equal(fs_rename(x->f, ROOT, "nope", ROOT, "x", 0), -ENOENT);

	/* replacing a file: the replaced inode lives on while looked up */
	r = mkfile(x, ROOT, "c", &fh);
	assert_int_equal(fs_write(x->f, fh, x->model, ES, 0), (ssize_t)ES);
	rel(x, fh);
	assert_true(backing_exists(x, T_NVME, r));
	n = status_(x).inodes;
	assert_int_equal(fs_rename(x->f, ROOT, "b", ROOT, "c", 0), 0);
	assert_int_equal(lookup_(x, ROOT, "c"), a);
	assert_int_equal(fs_lookup(x->f, ROOT, "b", &st), -ENOENT);
	st = getattr_(x, r);
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(status_(x).inodes, n);
	assert_true(backing_exists(x, T_NVME, r));
	fs_forget(x->f, r, 1);
	assert_int_equal(fs_getattr(x->f, r, &st), -ENOENT);
	assert_int_equal(status_(x).inodes, n - 1);
	assert_false(backing_exists(x, T_NVME, r));
	assert_int_equal(status_(x).tiers[T_NVME].used, 3);

	/* replacing a file nobody looks up destroys it at once */
	r = mknod_(x, ROOT, "victim");
	fs_forget(x->f, r, 1);
	n = status_(x).inodes;
	assert_int_equal(fs_rename(x->f, ROOT, "c", ROOT, "victim", 0), 0);
	assert_int_equal(status_(x).inodes, n - 1);
	assert_int_equal(fs_getattr(x->f, r, &st), -ENOENT);
	assert_int_equal(lookup_(x, ROOT, "victim"), a);
	{
		struct fs_file *h = open_ino(x, a, O_RDONLY);

		assert_int_equal(fs_read(x->f, h, buf, sizeof(buf), 0), 3);
		assert_memory_equal(buf, "AAA", 3);
		rel(x, h);
	}

	/* RENAME_NOREPLACE */
	c = mknod_(x, ROOT, "other");
	assert_int_equal(fs_rename(x->f, ROOT, "victim", ROOT, "other",
				   RENAME_NOREPLACE), -EEXIST);
	assert_int_equal(lookup_(x, ROOT, "victim"), a);
	assert_int_equal(lookup_(x, ROOT, "other"), c);
	assert_int_equal(fs_rename(x->f, ROOT, "victim", ROOT, "fresh",
				   RENAME_NOREPLACE), 0);
	assert_int_equal(lookup_(x, ROOT, "fresh"), a);
	assert_int_equal(fs_rename(x->f, ROOT, "fresh", ROOT, "missing",
				   RENAME_EXCHANGE), -ENOENT);
	assert_int_equal(fs_rename(x->f, ROOT, "fresh", ROOT, "other",
				   RENAME_EXCHANGE | RENAME_NOREPLACE), -EINVAL);

	/* two names of one inode: nothing happens */
	assert_int_equal(fs_link(x->f, a, ROOT, "alias", &st), 0);
	assert_int_equal(fs_rename(x->f, ROOT, "fresh", ROOT, "alias", 0), 0);
	assert_int_equal(lookup_(x, ROOT, "fresh"), a);
	assert_int_equal(lookup_(x, ROOT, "alias"), a);
	assert_int_equal(getattr_(x, a).st_nlink, 2);

	/* a directory into itself (its own subdirectories: see
	 * test_rename_into_subdir) */
	p = mkdir_(x, ROOT, "P");
	q = mkdir_(x, p, "Q");
	assert_int_equal(fs_rename(x->f, ROOT, "P", p, "x", 0), -EINVAL);
	assert_int_equal(lookup_(x, ROOT, "P"), p);
	assert_int_equal(lookup_(x, p, "Q"), q);

	/* kinds that do not replace each other */
	assert_int_equal(fs_rename(x->f, ROOT, "other", ROOT, "P", 0), -EISDIR);
	assert_int_equal(fs_rename(x->f, ROOT, "P", ROOT, "other", 0), -ENOTDIR);
	da = mkdir_(x, ROOT, "A");
	assert_int_equal(fs_rename(x->f, ROOT, "A", ROOT, "P", 0), -ENOTEMPTY);
	assert_int_equal(fs_rename(x->f, ROOT, "other", ROOT, "P", 0), -EISDIR);

	/* a directory to another parent, then over an empty directory */
	db = mkdir_(x, ROOT, "B");
	sub = mkdir_(x, da, "sub");
	assert_int_equal(getattr_(x, da).st_nlink, 3);
	assert_int_equal(fs_rename(x->f, da, "sub", db, "sub", 0), 0);
	assert_int_equal(getattr_(x, da).st_nlink, 2);
	assert_int_equal(getattr_(x, db).st_nlink, 3);
	assert_int_equal(lookup_(x, db, "sub"), sub);
	{
		uint64_t empty = mkdir_(x, da, "empty");
		uint64_t root_links = getattr_(x, ROOT).st_nlink;

		n = status_(x).inodes;
		assert_int_equal(getattr_(x, da).st_nlink, 3);
		/* sub (in B) replaces A/empty */
		assert_int_equal(fs_rename(x->f, db, "sub", da, "empty", 0), 0);
		assert_int_equal(getattr_(x, da).st_nlink, 3);
		assert_int_equal(getattr_(x, db).st_nlink, 2);
		assert_int_equal(getattr_(x, ROOT).st_nlink, root_links);
		assert_int_equal(lookup_(x, da, "empty"), sub);
		assert_int_equal(getattr_(x, empty).st_nlink, 0);
		fs_forget(x->f, empty, 1);
		assert_int_equal(fs_getattr(x->f, empty, &st), -ENOENT);
		assert_int_equal(status_(x).inodes, n - 1);
	}

	/* nlink counts survive a restart */
	fab_reopen(x);
	assert_int_equal(getattr_(x, da).st_nlink, 3);
	assert_int_equal(getattr_(x, db).st_nlink, 2);
	assert_int_equal(lookup_(x, da, "empty"), sub);
	assert_int_equal(lookup_(x, ROOT, "fresh"), a);
}

/* ---------------------------------------------------------------- */
/* readdir */

#define RD_MAX 300

struct rd {
	int limit;                     /* entries to take in one call, <0: all */
	int taken;                     /* entries taken in this call */
	int n;                         /* entries collected */
	char name[RD_MAX][32];         /* their names */
	struct stat st[RD_MAX];        /* their attributes */
	off_t next[RD_MAX];            /* their resume offsets */
};

static int rd_fill(void *arg, const char *name, const struct stat *st,
		   off_t next)
{
	struct rd *r = arg;

	if (r->limit >= 0 && r->taken >= r->limit)
		return 1;
	if (r->n >= RD_MAX || strlen(name) >= sizeof(r->name[0]))
		return 1;
	snprintf(r->name[r->n], sizeof(r->name[0]), "%s", name);
	r->st[r->n] = *st;
	r->next[r->n] = next;
	r->n++;
	r->taken++;
	return 0;
}

/* Reads a whole directory taking at most `limit` entries per call. */
static void read_all(struct fix *x, struct fs_dir *d, int plus, int limit,
		     struct rd *r)
{
	off_t off = 0;
	int calls;

	memset(r, 0, sizeof(*r));
	for (calls = 0; calls < 1000; calls++) {
		r->limit = limit;
		r->taken = 0;
		assert_int_equal(fs_readdir(x->f, d, off, plus, rd_fill, r), 0);
		if (r->taken == 0)
			return;
		assert_true(r->next[r->n - 1] > off);
		off = r->next[r->n - 1];
	}
	fail_msg("readdir does not end");
}

static int rd_find(const struct rd *r, const char *name)
{
	int i, at = -1;

	for (i = 0; i < r->n; i++) {
		if (!strcmp(r->name[i], name)) {
			if (at >= 0)
				fail_msg("readdir returned '%s' twice", name);
			at = i;
		}
	}
	return at;
}

/* Review: readdirplus served later chunks from the snapshot taken at
 * offset 0 without checking that a name still leads to its inode. The
 * kernel makes a dentry of every plus entry: a name renamed away (or
 * unlinked while another link or an open kept its inode) came back, and
 * `echo new > old-name` wrote into the renamed file. A plain readdir may
 * still list it (POSIX allows that); a plus one must not. */
static void test_readdirplus_stale_names(void **state)
{
	struct fix *x = *state;
	struct rd *r = calloc(1, sizeof(*r));
	struct fs_dir *d = NULL;
	struct stat st;
	uint64_t dir, a, b;
	off_t off;

	assert_non_null(r);
	fab_default(x);
	dir = mkdir_(x, ROOT, "d");
	a = mknod_(x, dir, "a");
	b = mknod_(x, dir, "b");
	mknod_(x, dir, "c");
	assert_int_equal(fs_opendir(x->f, dir, &d), 0);
	r->limit = 2;                  /* "." and ".." */
	assert_int_equal(fs_readdir(x->f, d, 0, 1, rd_fill, r), 0);
	assert_int_equal(r->n, 2);
	off = r->next[1];
	assert_int_equal(fs_rename(x->f, dir, "a", dir, "a2", 0), 0);
	assert_int_equal(fs_link(x->f, b, dir, "b2", &st), 0);
	assert_int_equal(fs_unlink(x->f, dir, "b"), 0);
	r->limit = -1;
	r->taken = 0;
	assert_int_equal(fs_readdir(x->f, d, off, 1, rd_fill, r), 0);
	assert_int_equal(rd_find(r, "a"), -1);
	assert_int_equal(rd_find(r, "b"), -1);
	assert_true(rd_find(r, "c") >= 0);
	/* a plain readdir of the same snapshot may list them */
	memset(r, 0, sizeof(*r));
	r->limit = -1;
	assert_int_equal(fs_readdir(x->f, d, off, 0, rd_fill, r), 0);
	assert_true(rd_find(r, "a") >= 0);
	/* and from offset 0, the names as they are */
	memset(r, 0, sizeof(*r));
	read_all(x, d, 1, 2, r);
	assert_int_equal(r->n, 5);
	assert_int_equal(r->st[rd_find(r, "a2")].st_ino, a);
	assert_int_equal(r->st[rd_find(r, "b2")].st_ino, b);
	assert_int_equal(fs_releasedir(x->f, d), 0);
	free(r);
}

static void test_readdir(void **state)
{
	struct fix *x = *state;
	struct rd *r = calloc(2, sizeof(*r)), *all = r + 1;
	uint64_t big, ino[100], empty, f;
	struct fs_dir *d = NULL;
	char name[32];
	int i, k;

	assert_non_null(r);
	fab_default(x);
	big = mkdir_(x, ROOT, "big");
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "e%03d", i);
		ino[i] = i % 10 ? mknod_(x, big, name) : mkdir_(x, big, name);
	}

	assert_int_equal(fs_opendir(x->f, big, &d), 0);
	/* in one go */
	read_all(x, d, 0, -1, all);
	assert_int_equal(all->n, 102);
	/* seven at a time, each call resuming where the last stopped */
	read_all(x, d, 0, 7, r);
	assert_int_equal(r->n, 102);
	for (i = 0; i < 102; i++)
		assert_string_equal(r->name[i], all->name[i]);
	k = rd_find(r, ".");
	assert_true(k >= 0);
	assert_int_equal(r->st[k].st_ino, big);
	assert_true(S_ISDIR(r->st[k].st_mode));
	k = rd_find(r, "..");
	assert_true(k >= 0);
	assert_int_equal(r->st[k].st_ino, ROOT);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "e%03d", i);
		k = rd_find(r, name);
		if (k < 0)
			fail_msg("readdir lost %s", name);
		assert_int_equal(r->st[k].st_ino, ino[i]);
		assert_int_equal(r->st[k].st_mode & S_IFMT,
				 i % 10 ? S_IFREG : S_IFDIR);
	}
	/* resuming at any offset continues with the entry after it */
	for (i = 0; i < 101; i += 17) {
		struct rd *one = r;

		memset(one, 0, sizeof(*one));
		one->limit = 1;
		assert_int_equal(fs_readdir(x->f, d, all->next[i], 0, rd_fill, one), 0);
		assert_int_equal(one->n, 1);
		assert_string_equal(one->name[0], all->name[i + 1]);
		assert_int_equal(one->next[0], all->next[i + 1]);
	}
	/* past the end: nothing */
	memset(r, 0, sizeof(*r));
	r->limit = -1;
	assert_int_equal(fs_readdir(x->f, d, all->next[101], 0, rd_fill, r), 0);
	assert_int_equal(r->n, 0);
	/* a callback that is full at once takes nothing, and loses nothing */
	memset(r, 0, sizeof(*r));
	r->limit = 0;
	assert_int_equal(fs_readdir(x->f, d, 0, 0, rd_fill, r), 0);
	assert_int_equal(r->n, 0);
	read_all(x, d, 0, 50, r);
	assert_int_equal(r->n, 102);
	/* readdirplus gives full attributes */
	read_all(x, d, 1, 13, r);
	assert_int_equal(r->n, 102);
	k = rd_find(r, "e001");
	assert_int_equal(r->st[k].st_nlink, 1);
	assert_int_equal(r->st[k].st_mode, S_IFREG | 0644);
	k = rd_find(r, "e010");
	assert_int_equal(r->st[k].st_nlink, 2);
	assert_int_equal(fs_releasedir(x->f, d), 0);

	/* an empty directory has "." and ".." */
	empty = mkdir_(x, big, "zz");
	assert_int_equal(fs_opendir(x->f, empty, &d), 0);
	read_all(x, d, 0, 1, r);
	assert_int_equal(r->n, 2);
	assert_int_equal(r->st[rd_find(r, ".")].st_ino, empty);
	assert_int_equal(r->st[rd_find(r, "..")].st_ino, big);
	assert_int_equal(fs_releasedir(x->f, d), 0);

	/* the root's ".." is itself */
	assert_int_equal(fs_opendir(x->f, ROOT, &d), 0);
	read_all(x, d, 0, -1, r);
	assert_int_equal(r->n, 3);
	assert_int_equal(r->st[rd_find(r, "..")].st_ino, ROOT);
	assert_true(rd_find(r, "big") >= 0);
	assert_int_equal(fs_releasedir(x->f, d), 0);

	f = mknod_(x, ROOT, "file");
	assert_int_equal(fs_opendir(x->f, f, &d), -ENOTDIR);
	free(r);
}

/* readdirplus counts a lookup for each entry taken, and only for those. */
static void test_readdirplus_lookups(void **state)
{
	struct fix *x = *state;
	struct rd *r = calloc(1, sizeof(*r));
	uint64_t p, a, b, n;
	struct fs_dir *d = NULL;
	struct stat st;

	assert_non_null(r);
	fab_default(x);
	p = mkdir_(x, ROOT, "p");
	a = mknod_(x, p, "a");
	b = mknod_(x, p, "b");
	fs_forget(x->f, a, 1);
	fs_forget(x->f, b, 1);
	n = status_(x).inodes;

	assert_int_equal(fs_opendir(x->f, p, &d), 0);
	r->limit = 3;                  /* ".", "..", "a"; "b" does not fit */
	assert_int_equal(fs_readdir(x->f, d, 0, 1, rd_fill, r), 0);
	assert_int_equal(r->n, 3);
	assert_string_equal(r->name[2], "a");
	assert_int_equal(r->st[2].st_ino, a);
	assert_int_equal(fs_releasedir(x->f, d), 0);

	assert_int_equal(fs_unlink(x->f, p, "a"), 0);
	assert_int_equal(fs_unlink(x->f, p, "b"), 0);
	/* Neither had data, so both records go with the unlink; only a's
	 * in-memory inode stays, held by the lookup readdirplus counted. */
	assert_int_equal(status_(x).inodes, n - 2);
	assert_int_equal(fs_getattr(x->f, b, &st), -ENOENT);
	assert_int_equal(getattr_(x, a).st_nlink, 0);
	fs_forget(x->f, a, 1);
	assert_int_equal(fs_getattr(x->f, a, &st), -ENOENT);
	assert_int_equal(status_(x).inodes, n - 2);
	free(r);
}

/* ---------------------------------------------------------------- */
/* RENAME_EXCHANGE */

static void test_rename_exchange(void **state)
{
	struct fix *x = *state;
	struct rd *r = calloc(1, sizeof(*r));
	uint64_t da, db, f, d, z;
	struct fs_dir *dir = NULL;
	struct fs_file *fh;
	char buf[8];

	assert_non_null(r);
	fab_default(x);
	da = mkdir_(x, ROOT, "A");
	db = mkdir_(x, ROOT, "B");
	f = mkfile(x, da, "f", &fh);
	assert_int_equal(fs_write(x->f, fh, "file", 4, 0), 4);
	rel(x, fh);
	d = mkdir_(x, db, "d");
	z = mknod_(x, d, "z");
	assert_int_equal(getattr_(x, da).st_nlink, 2);
	assert_int_equal(getattr_(x, db).st_nlink, 3);
	assert_int_equal(getattr_(x, ROOT).st_nlink, 4);

	/* A/f (file) <-> B/d (directory) */
	assert_int_equal(fs_rename(x->f, da, "f", db, "d", RENAME_EXCHANGE), 0);
	assert_int_equal(lookup_(x, da, "f"), d);
	assert_int_equal(lookup_(x, db, "d"), f);
	assert_int_equal(getattr_(x, da).st_nlink, 3);
	assert_int_equal(getattr_(x, db).st_nlink, 2);
	assert_int_equal(getattr_(x, ROOT).st_nlink, 4);
	assert_int_equal(lookup_(x, d, "z"), z);
	/* the directory's ".." follows it */
	assert_int_equal(fs_opendir(x->f, d, &dir), 0);
	read_all(x, dir, 0, -1, r);
	assert_int_equal(r->st[rd_find(r, "..")].st_ino, da);
	assert_int_equal(fs_releasedir(x->f, dir), 0);
	fh = open_ino(x, f, O_RDONLY);
	assert_int_equal(fs_read(x->f, fh, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "file", 4);
	rel(x, fh);

	/* (exchanging A with an entry below A: see test_rename_into_subdir) */

	/* and back, in one directory: no nlink changes */
	assert_int_equal(fs_rename(x->f, ROOT, "A", ROOT, "B", RENAME_EXCHANGE), 0);
	assert_int_equal(lookup_(x, ROOT, "A"), db);
	assert_int_equal(lookup_(x, ROOT, "B"), da);
	assert_int_equal(getattr_(x, ROOT).st_nlink, 4);

	/* after a restart */
	fab_reopen(x);
	assert_int_equal(getattr_(x, da).st_nlink, 3);
	assert_int_equal(getattr_(x, db).st_nlink, 2);
	assert_int_equal(lookup_(x, da, "f"), d);
	assert_int_equal(lookup_(x, d, "z"), z);
	/* (".." after a restart: see test_dotdot_after_restart) */
	free(r);
}

/* ".." of a directory from a fresh start */
static uint64_t dotdot(struct fix *x, uint64_t dir)
{
	struct rd *r = calloc(1, sizeof(*r));
	struct fs_dir *d = NULL;
	uint64_t ino;
	int k;

	assert_non_null(r);
	assert_int_equal(fs_opendir(x->f, dir, &d), 0);
	read_all(x, d, 0, -1, r);
	assert_int_equal(fs_releasedir(x->f, d), 0);
	k = rd_find(r, "..");
	ino = k >= 0 ? r->st[k].st_ino : 0;
	free(r);
	return ino;
}

/* Regression test, failed before its fix (fs/meta.c): struct meta_inode's `parent` is not part of the inode
 * record (enc_inode/dec_inode skip it), so a directory read back from the
 * store has parent 0 and fs.c's is_ancestor() never finds an ancestor:
 * fs_rename moves a directory into its own subdirectory (returns 0, and
 * the subtree is cut off from the root in a cycle). Expected -EINVAL. */
static void test_rename_into_subdir(void **state)
{
	struct fix *x = *state;
	uint64_t p, q, rr, z;

	fab_default(x);
	p = mkdir_(x, ROOT, "P");
	q = mkdir_(x, p, "Q");
	rr = mkdir_(x, q, "R");
	z = mknod_(x, q, "z");
	assert_int_equal(fs_rename(x->f, ROOT, "P", q, "x", 0), -EINVAL);
	assert_int_equal(fs_rename(x->f, ROOT, "P", rr, "x", 0), -EINVAL);
	assert_int_equal(fs_rename(x->f, p, "Q", rr, "x", 0), -EINVAL);
	/* exchanging P with an entry below P would put P inside itself */
	assert_int_equal(fs_rename(x->f, ROOT, "P", q, "z", RENAME_EXCHANGE),
			 -EINVAL);
	assert_int_equal(fs_rename(x->f, q, "z", ROOT, "P", RENAME_EXCHANGE),
			 -EINVAL);
	assert_int_equal(lookup_(x, ROOT, "P"), p);
	assert_int_equal(lookup_(x, p, "Q"), q);
	assert_int_equal(lookup_(x, q, "z"), z);
}

/* Regression test, failed before its fix (fs/meta.c, as above): after a restart every directory's ".." is
 * the root, because the parent is not stored. Expected: the real parent,
 * also after a rename to another directory. */
static void test_dotdot_after_restart(void **state)
{
	struct fix *x = *state;
	uint64_t a, b, c;

	fab_default(x);
	a = mkdir_(x, ROOT, "a");
	b = mkdir_(x, a, "b");
	c = mkdir_(x, ROOT, "c");
	assert_int_equal(dotdot(x, b), a);
	assert_int_equal(fs_rename(x->f, a, "b", c, "b", 0), 0);
	assert_int_equal(dotdot(x, b), c);
	fab_reopen(x);
	assert_int_equal(dotdot(x, a), ROOT);
	assert_int_equal(dotdot(x, b), c);
}

/* Regression test, failed before its fix (fs/fs.c, fs_link): with ino == newparent, fs_link write-locks the
 * same inode lock twice (the second wrlock fails with EDEADLK unnoticed)
 * and then unlocks it twice, which corrupts the rwlock: the next writer
 * on that inode blocks forever. Expected: -EPERM for a directory (and
 * the inode still usable). The check runs in a child process under an
 * alarm so that the hang cannot stop the suite; the child does no
 * RocksDB I/O after the fork. */
static void test_link_self(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	int status = 0;
	uint64_t d;
	pid_t pid;

	fab_default(x);
	d = mkdir_(x, ROOT, "d");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct stat st;
		int rc;

		alarm(5);
		rc = fs_link(x->f, d, d, "self", &st);
		if (rc != -EPERM)
			_exit(2);
		/* a reader, then a writer on the inode's lock */
		if (fs_getattr(x->f, d, &st) < 0 ||
		    fs_open(x->f, NULL, d, O_RDONLY, &fh) < 0)
			_exit(3);
		/* write-locks the inode, then refuses a directory */
		rc = fs_fallocate(x->f, fh, 0, 0, 1);
		_exit(rc == -ENODEV ? 0 : 4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("fs_link(d, d) left the inode lock broken: the child "
			 "hung and was killed by signal %d", WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---------------------------------------------------------------- */
/* setgid directories, name lengths */

static void test_setgid(void **state)
{
	struct fix *x = *state;
	const struct fs_ctx user = { .uid = 1000, .gid = 5000, .pid = 2 };
	struct fs_file *fh = NULL;
	struct stat a, st;
	uint64_t sg;

	fab_default(x);
	assert_int_equal(fs_mkdir(x->f, &root_ctx, ROOT, "sg", 02775, &st), 0);
	sg = st.st_ino;
	memset(&a, 0, sizeof(a));
	a.st_gid = 1234;
	assert_int_equal(fs_setattr(x->f, &root_ctx, sg, &a, FS_SET_GID, NULL,
				    &st), 0);
	st = getattr_(x, sg);
	assert_int_equal(st.st_gid, 1234);
	assert_true(st.st_mode & S_ISGID);

	assert_int_equal(fs_mknod(x->f, &user, sg, "file", S_IFREG | 0644, 0,
				  &st), 0);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1234);
	assert_false(st.st_mode & S_ISGID);
	assert_int_equal(fs_mkdir(x->f, &user, sg, "sub", 0755, &st), 0);
	assert_int_equal(st.st_gid, 1234);
	assert_true(st.st_mode & S_ISGID);
	assert_int_equal(st.st_mode & 0777, 0755);
	assert_int_equal(fs_mknod(x->f, &user, st.st_ino, "deeper",
				  S_IFREG | 0600, 0, &st), 0);
	assert_int_equal(st.st_gid, 1234);
	assert_int_equal(fs_create(x->f, &user, sg, "created", 0644,
				   O_RDWR | O_CREAT, &st, &fh), 0);
	track(x, fh);
	assert_int_equal(st.st_gid, 1234);
	rel(x, fh);
	assert_int_equal(fs_symlink(x->f, &user, "t", sg, "link", &st), 0);
	assert_int_equal(st.st_gid, 1234);

	/* outside it, the caller's group */
	assert_int_equal(fs_mknod(x->f, &user, ROOT, "plain", S_IFREG | 0644, 0,
				  &st), 0);
	assert_int_equal(st.st_gid, 5000);
	assert_int_equal(fs_mkdir(x->f, &user, ROOT, "pdir", 0755, &st), 0);
	assert_int_equal(st.st_gid, 5000);
	assert_false(st.st_mode & S_ISGID);

	/* it persists */
	fab_reopen(x);
	st = getattr_(x, lookup_(x, sg, "file"));
	assert_int_equal(st.st_gid, 1234);
	assert_int_equal(st.st_uid, 1000);
}

static void test_name_too_long(void **state)
{
	struct fix *x = *state;
	char n255[256], n256[257], *target;
	struct fs_file *fh = NULL;
	uint64_t f, d;
	struct stat st;

	memset(n255, 'a', 255);
	n255[255] = '\0';
	memset(n256, 'b', 256);
	n256[256] = '\0';
	fab_default(x);

	/* 255 bytes are fine everywhere */
	f = mknod_(x, ROOT, n255);
	assert_int_equal(lookup_(x, ROOT, n255), f);
	d = mkdir_(x, ROOT, "d");
	assert_int_equal(fs_link(x->f, f, d, n255, &st), 0);
	assert_int_equal(fs_rename(x->f, d, n255, ROOT, "short", 0), 0);
	assert_int_equal(fs_rename(x->f, ROOT, "short", d, n255, 0), 0);

	/* 256 are not */
	assert_int_equal(fs_mknod(x->f, &root_ctx, ROOT, n256, S_IFREG | 0644, 0,
				  &st), -ENAMETOOLONG);
	assert_int_equal(fs_mkdir(x->f, &root_ctx, ROOT, n256, 0755, &st),
			 -ENAMETOOLONG);
	assert_int_equal(fs_create(x->f, &root_ctx, ROOT, n256, 0644,
				   O_RDWR | O_CREAT, &st, &fh), -ENAMETOOLONG);
	assert_null(fh);
	assert_int_equal(fs_symlink(x->f, &root_ctx, "t", ROOT, n256, &st),
			 -ENAMETOOLONG);
	assert_int_equal(fs_lookup(x->f, ROOT, n256, &st), -ENAMETOOLONG);
	assert_int_equal(fs_link(x->f, f, ROOT, n256, &st), -ENAMETOOLONG);
	assert_int_equal(fs_rename(x->f, ROOT, n255, ROOT, n256, 0), -ENAMETOOLONG);
	assert_int_equal(fs_rename(x->f, ROOT, n256, ROOT, "x", 0), -ENAMETOOLONG);
	assert_int_equal(fs_unlink(x->f, ROOT, n256), -ENAMETOOLONG);
	assert_int_equal(fs_rmdir(x->f, ROOT, n256), -ENAMETOOLONG);
	assert_int_equal(lookup_(x, ROOT, n255), f);
	assert_int_equal(getattr_(x, f).st_nlink, 2);

	/* symlink targets: 4095 bytes fit, 4096 do not */
	target = malloc(4097);
	assert_non_null(target);
	memset(target, 't', 4096);
	target[4096] = '\0';
	assert_int_equal(fs_symlink(x->f, &root_ctx, target, ROOT, "long", &st),
			 -ENAMETOOLONG);
	target[4095] = '\0';
	assert_int_equal(fs_symlink(x->f, &root_ctx, target, ROOT, "long", &st), 0);
	assert_int_equal(st.st_size, 4095);
	free(target);
}

/* ---------------------------------------------------------------- */
/* unlinked while open, and orphans across a restart */

static void test_unlink_open(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh, *fh2;
	struct statvfs sv0, sv1;
	struct fs_status s;
	uint64_t ino, ino2, sl, n;
	struct stat st;

	fab_small(x);
	ino = mkfile(x, ROOT, "f", &fh);
	mwrite(x, fh, 0, 3 * ES + 5, 1);           /* nvme and hdd */
	assert_int_equal(fs_setxattr(x->f, &root_ctx, ino, "user.a", "1", 1, 0), 0);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, ino, "trusted.b", "22", 2, 0), 0);
	assert_true(backing_exists(x, T_NVME, ino));
	assert_true(backing_exists(x, T_HDD, ino));
	n = status_(x).inodes;
	assert_int_equal(fs_statfs(x->f, &sv0), 0);

	assert_int_equal(fs_unlink(x->f, ROOT, "f"), 0);
	assert_int_equal(fs_lookup(x->f, ROOT, "f", &st), -ENOENT);
	assert_int_equal(getattr_(x, ino).st_nlink, 0);
	/* still readable and writable through the handle */
	verify(x, fh);
	mwrite(x, fh, 10, 10, 2);
	verify(x, fh);
	assert_int_equal(status_(x).inodes, n);
	assert_int_equal(status_(x).open_files, 1);

	/* released but still known to the kernel: kept */
	rel(x, fh);
	assert_int_equal(status_(x).open_files, 0);
	assert_true(backing_exists(x, T_NVME, ino));
	assert_int_equal(status_(x).inodes, n);
	/* forgotten: gone, data and records */
	fs_forget(x->f, ino, 1);
	assert_false(backing_exists(x, T_NVME, ino));
	assert_false(backing_exists(x, T_HDD, ino));
	assert_int_equal(fs_getattr(x->f, ino, &st), -ENOENT);
	/* its xattr records went with it (getxattr reads the store by ino) */
	assert_int_equal(fs_getxattr(x->f, ino, "user.a", x->buf, 16), -ENODATA);
	assert_int_equal(fs_getxattr(x->f, ino, "trusted.b", x->buf, 16), -ENODATA);
	s = status_(x);
	assert_int_equal(s.inodes, n - 1);
	assert_int_equal(s.tiers[T_NVME].used, 0);
	assert_int_equal(s.tiers[T_HDD].used, 0);
	assert_int_equal(s.tiers[T_NVME].files, 0);
	assert_int_equal(s.tiers[T_HDD].extents, 0);
	assert_int_equal(fs_statfs(x->f, &sv1), 0);
	assert_int_equal(sv1.f_ffree, sv0.f_ffree + 1);
	assert_int_equal(sv1.f_bavail, 8 * ES / 4096);

	/* the other order: forgotten first, then released */
	ino2 = mkfile(x, ROOT, "g", &fh2);
	assert_int_equal(fs_write(x->f, fh2, "data", 4, 0), 4);
	assert_int_equal(fs_unlink(x->f, ROOT, "g"), 0);
	fs_forget(x->f, ino2, 1);
	assert_true(backing_exists(x, T_NVME, ino2));
	assert_int_equal(fs_read(x->f, fh2, x->buf, 10, 0), 4);
	rel(x, fh2);
	assert_false(backing_exists(x, T_NVME, ino2));
	assert_int_equal(status_(x).inodes, n - 1);

	/* a symlink's target record goes with it (only symlinks have one) */
	{
		struct stat ss;

		assert_int_equal(fs_symlink(x->f, &root_ctx, "some/where", ROOT,
					    "sl", &ss), 0);
		sl = ss.st_ino;
		assert_int_equal(fs_unlink(x->f, ROOT, "sl"), 0);
		fs_forget(x->f, sl, 1);
	}

	/* no records are left behind */
	fab_close(x);
	{
		struct meta *m = NULL;
		struct meta_inode mi;
		struct meta_extent *e = NULL;
		size_t ne = 7;
		char err[256], target[64];

		assert_int_equal(meta_open(x->cfg.meta, &m, err, sizeof(err)), 0);
		assert_int_equal(meta_get_inode(m, ino, &mi), -ENOENT);
		assert_int_equal(meta_get_inode(m, ino2, &mi), -ENOENT);
		assert_int_equal(meta_get_inode(m, sl, &mi), -ENOENT);
		assert_int_equal(meta_get_symlink(m, sl, target, sizeof(target)),
				 -ENOENT);
		assert_int_equal(meta_load_extents(m, ino, &e, &ne), 0);
		assert_int_equal(ne, 0);
		free(e);
		meta_close(m);
	}
	fab_open(x);
	assert_int_equal(status_(x).inodes, n - 1);
}

static int count_orphan(void *arg, uint64_t ino)
{
	uint64_t *v = arg;

	v[0]++;
	v[1] = ino;
	return 0;
}

static void test_orphan_restart(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh;
	struct statvfs sv;
	uint64_t ino, keep, n, seen[2];
	struct meta *m = NULL;
	struct meta_inode mi;
	struct stat st;
	char err[256];

	fab_default(x);
	keep = mkfile(x, ROOT, "keep", &fh);
	assert_int_equal(fs_write(x->f, fh, "keep", 4, 0), 4);
	rel(x, fh);
	ino = mkfile(x, ROOT, "f", &fh);
	mwrite(x, fh, 0, 2 * ES + 1, 1);
	assert_int_equal(fs_unlink(x->f, ROOT, "f"), 0);
	n = status_(x).inodes;

	/* "crash": close the fabric with the file still open and looked up */
	untrack(x, fh);
	fs_fabric_close(x->f);         /* frees the handle left open */
	x->f = NULL;

	/* closing did not destroy the orphan */
	assert_true(backing_exists(x, T_NVME, ino));
	assert_int_equal(meta_open(x->cfg.meta, &m, err, sizeof(err)), 0);
	memset(seen, 0, sizeof(seen));
	assert_int_equal(meta_list_orphans(m, count_orphan, seen), 0);
	assert_int_equal(seen[0], 1);
	assert_int_equal(seen[1], ino);
	assert_int_equal(meta_get_inode(m, ino, &mi), 0);
	assert_int_equal(mi.nlink, 0);
	meta_close(m);

	/* the next start removes it */
	fab_open(x);
	assert_false(backing_exists(x, T_NVME, ino));
	assert_int_equal(fs_getattr(x->f, ino, &st), -ENOENT);
	assert_int_equal(status_(x).inodes, n - 1);
	assert_int_equal(status_(x).tiers[T_NVME].used, 4);
	assert_int_equal(status_(x).tiers[T_NVME].files, 1);
	assert_int_equal(status_(x).tiers[T_NVME].extents, 1);
	assert_int_equal(fs_statfs(x->f, &sv), 0);
	assert_int_equal(sv.f_ffree, sv.f_files - (n - 1));
	check_used(x, &keep, 1);
	assert_int_equal(lookup_(x, ROOT, "keep"), keep);

	/* and for good */
	fab_close(x);
	assert_int_equal(meta_open(x->cfg.meta, &m, err, sizeof(err)), 0);
	memset(seen, 0, sizeof(seen));
	assert_int_equal(meta_list_orphans(m, count_orphan, seen), 0);
	assert_int_equal(seen[0], 0);
	assert_int_equal(meta_get_inode(m, ino, &mi), -ENOENT);
	meta_close(m);
	fab_open(x);
	assert_int_equal(status_(x).inodes, n - 1);
	check_used(x, &keep, 1);
}

/* ---------------------------------------------------------------- */
/* persistence */

#define NP 7

struct snap {
	struct stat st[NP];            /* attributes of the inodes */
	struct fs_status s;            /* the status */
	struct statvfs sv;             /* statfs */
	struct fs_where_ext w[16];     /* extents of the data file */
	size_t nw;                     /* how many */
	char xl[256];                  /* xattr names of the data file */
	ssize_t nxl;                   /* their length */
	char link[64];                 /* the symlink's target */
	struct rd rd;                  /* the root's entries */
};

static void take_snap(struct fix *x, const uint64_t *inos, uint64_t data,
		      uint64_t lnk, struct snap *sn)
{
	struct fs_dir *d = NULL;
	int i;

	for (i = 0; i < NP; i++)
		sn->st[i] = getattr_(x, inos[i]);
	sn->s = status_(x);
	assert_int_equal(fs_statfs(x->f, &sn->sv), 0);
	where_(x, data, NULL);
	assert_true(x->nw <= 16);
	memcpy(sn->w, x->w, x->nw * sizeof(*x->w));
	sn->nw = x->nw;
	sn->nxl = fs_listxattr(x->f, NULL, data, sn->xl, sizeof(sn->xl));
	assert_true(sn->nxl > 0);
	assert_true(fs_readlink(x->f, lnk, sn->link, sizeof(sn->link)) > 0);
	assert_int_equal(fs_opendir(x->f, ROOT, &d), 0);
	read_all(x, d, 0, -1, &sn->rd);
	assert_int_equal(fs_releasedir(x->f, d), 0);
}

static void stat_equal(const struct stat *a, const struct stat *b)
{
	assert_int_equal(a->st_ino, b->st_ino);
	assert_int_equal(a->st_mode, b->st_mode);
	assert_int_equal(a->st_nlink, b->st_nlink);
	assert_int_equal(a->st_uid, b->st_uid);
	assert_int_equal(a->st_gid, b->st_gid);
	assert_int_equal(a->st_rdev, b->st_rdev);
	assert_int_equal(a->st_size, b->st_size);
	assert_int_equal(a->st_blocks, b->st_blocks);
	assert_int_equal(a->st_atim.tv_sec, b->st_atim.tv_sec);
	assert_int_equal(a->st_atim.tv_nsec, b->st_atim.tv_nsec);
	assert_int_equal(a->st_mtim.tv_sec, b->st_mtim.tv_sec);
	assert_int_equal(a->st_mtim.tv_nsec, b->st_mtim.tv_nsec);
	assert_int_equal(a->st_ctim.tv_sec, b->st_ctim.tv_sec);
	assert_int_equal(a->st_ctim.tv_nsec, b->st_ctim.tv_nsec);
}

static void test_persistence(void **state)
{
	struct fix *x = *state;
	struct snap *a = calloc(2, sizeof(*a)), *b = a + 1;
	uint64_t inos[NP], d, f, lnk, fifo, g, h;
	struct fs_file *fh;
	struct stat at, st;
	uint8_t bin[300];
	char val[400];
	int i, t;

	assert_non_null(a);
	fab_small(x);
	d = mkdir_(x, ROOT, "d");
	memset(&at, 0, sizeof(at));
	at.st_mode = 0750;
	at.st_uid = 1000;
	at.st_gid = 1001;
	assert_int_equal(fs_setattr(x->f, &root_ctx, d, &at, FS_SET_MODE |
				    FS_SET_UID | FS_SET_GID, NULL, &st), 0);
	f = mkfile(x, d, "f", &fh);
	mwrite(x, fh, 0, 3 * ES, 1);               /* nvme, nvme, hdd */
	mwrite(x, fh, 6 * ES + 9, 1000, 2);        /* hdd, after a hole */
	verify(x, fh);
	rel(x, fh);
	at.st_atim.tv_sec = 1000000000;
	at.st_atim.tv_nsec = 123456789;
	at.st_mtim.tv_sec = 1200000000;
	at.st_mtim.tv_nsec = 987654321;
	for (i = 0; i < (int)sizeof(bin); i++)
		bin[i] = (uint8_t)(i * 7);             /* has NULs */
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.a", "1", 1, 0), 0);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.bin", bin,
				     sizeof(bin), 0), 0);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, d, "user.dir", "dv", 2, 0), 0);
	assert_int_equal(fs_setattr(x->f, &root_ctx, f, &at, FS_SET_ATIME |
				    FS_SET_MTIME, NULL, &st), 0);
	assert_int_equal(st.st_mtim.tv_sec, 1200000000);
	assert_int_equal(fs_symlink(x->f, &root_ctx, "d/f", ROOT, "s", &st), 0);
	lnk = st.st_ino;
	assert_int_equal(fs_link(x->f, f, ROOT, "h", &st), 0);
	assert_int_equal(fs_mknod(x->f, &root_ctx, ROOT, "fifo", S_IFIFO | 0600, 0,
				  &st), 0);
	fifo = st.st_ino;
	g = mkfile(x, ROOT, "g", &fh);
	assert_int_equal(fs_write(x->f, fh, "gg", 2, ES), 2);   /* nvme, pass 2 */
	rel(x, fh);
	inos[0] = ROOT;
	inos[1] = d;
	inos[2] = f;
	inos[3] = lnk;
	inos[4] = fifo;
	inos[5] = g;
	inos[6] = lookup_(x, ROOT, "h");
	assert_int_equal(inos[6], f);
	take_snap(x, inos, f, lnk, a);
	assert_int_equal(a->nw, 4);
	assert_int_equal(a->st[2].st_nlink, 2);

	fab_reopen(x);
	take_snap(x, inos, f, lnk, b);
	for (i = 0; i < NP; i++)
		stat_equal(&a->st[i], &b->st[i]);
	assert_int_equal(a->s.inodes, b->s.inodes);
	assert_int_equal(a->s.open_files, 0);
	assert_int_equal(b->s.open_files, 0);
	for (t = 0; t < 2; t++) {
		assert_int_equal(a->s.tiers[t].used, b->s.tiers[t].used);
		assert_int_equal(a->s.tiers[t].extents, b->s.tiers[t].extents);
		assert_int_equal(a->s.tiers[t].files, b->s.tiers[t].files);
		assert_int_equal(a->s.tiers[t].capacity, b->s.tiers[t].capacity);
	}
	assert_int_equal(a->sv.f_blocks, b->sv.f_blocks);
	assert_int_equal(a->sv.f_bavail, b->sv.f_bavail);
	assert_int_equal(a->sv.f_ffree, b->sv.f_ffree);
	assert_int_equal(a->nw, b->nw);
	for (i = 0; i < (int)a->nw; i++) {
		assert_int_equal(a->w[i].off, b->w[i].off);
		assert_int_equal(a->w[i].len, b->w[i].len);
		assert_int_equal(a->w[i].version, b->w[i].version);
		assert_int_equal(a->w[i].sealed, b->w[i].sealed);
		assert_string_equal(a->w[i].tier, b->w[i].tier);
	}
	assert_int_equal(a->nxl, b->nxl);
	assert_memory_equal(a->xl, b->xl, a->nxl);
	assert_string_equal(a->link, "d/f");
	assert_string_equal(b->link, "d/f");
	assert_int_equal(a->rd.n, b->rd.n);
	for (i = 0; i < a->rd.n; i++) {
		assert_string_equal(a->rd.name[i], b->rd.name[i]);
		assert_int_equal(a->rd.st[i].st_ino, b->rd.st[i].st_ino);
	}
	assert_int_equal(fs_getxattr(x->f, f, "user.bin", val, sizeof(val)),
			 (ssize_t)sizeof(bin));
	assert_memory_equal(val, bin, sizeof(bin));
	assert_int_equal(fs_getxattr(x->f, d, "user.dir", val, sizeof(val)), 2);
	assert_memory_equal(val, "dv", 2);
	assert_int_equal(lookup_(x, d, "f"), f);

	/* the data, then new inode numbers are new */
	fh = open_ino(x, f, O_RDONLY);
	verify(x, fh);
	rel(x, fh);
	h = mknod_(x, ROOT, "new");
	for (i = 0; i < NP; i++)
		assert_true(h > inos[i]);
	free(a);
}

/* ---------------------------------------------------------------- */
/* xattrs */

static int has_name(const char *list, ssize_t len, const char *name)
{
	ssize_t i = 0;

	while (i < len) {
		if (!strcmp(list + i, name))
			return 1;
		i += strlen(list + i) + 1;
	}
	return 0;
}

static void test_xattr(void **state)
{
	struct fix *x = *state;
	char buf[256], *big;
	uint64_t f, d, s;
	struct stat st;
	ssize_t n;

	fab_default(x);
	f = mknod_(x, ROOT, "f");

	assert_int_equal(fs_listxattr(x->f, NULL, f, buf, sizeof(buf)), 0);
	assert_int_equal(fs_getxattr(x->f, f, "user.a", buf, sizeof(buf)), -ENODATA);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.a", "hello", 5, 0), 0);
	assert_int_equal(fs_getxattr(x->f, f, "user.a", NULL, 0), 5);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(fs_getxattr(x->f, f, "user.a", buf, 5), 5);
	assert_string_equal(buf, "hello");
	assert_int_equal(fs_getxattr(x->f, f, "user.a", buf, 4), -ERANGE);

	/* flags */
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.a", "x", 1,
				     XATTR_CREATE), -EEXIST);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.b", "x", 1,
				     XATTR_REPLACE), -ENODATA);
	assert_int_equal(fs_getxattr(x->f, f, "user.b", buf, sizeof(buf)), -ENODATA);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.a", "world!", 6,
				     XATTR_REPLACE), 0);
	assert_int_equal(fs_getxattr(x->f, f, "user.a", buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "world!", 6);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.b", "", 0,
				     XATTR_CREATE), 0);
	assert_int_equal(fs_getxattr(x->f, f, "user.b", buf, sizeof(buf)), 0);
	assert_int_equal(fs_getxattr(x->f, f, "user.b", NULL, 0), 0);

	/* list */
	n = fs_listxattr(x->f, NULL, f, NULL, 0);
	assert_int_equal(n, 14);               /* "user.a\0user.b\0" */
	assert_int_equal(fs_listxattr(x->f, NULL, f, buf, 14), 14);
	assert_true(has_name(buf, 14, "user.a"));
	assert_true(has_name(buf, 14, "user.b"));
	assert_int_equal(fs_listxattr(x->f, NULL, f, buf, 13), -ERANGE);

	/* remove */
	assert_int_equal(fs_removexattr(x->f, &root_ctx, f, "user.a"), 0);
	assert_int_equal(fs_getxattr(x->f, f, "user.a", buf, sizeof(buf)), -ENODATA);
	assert_int_equal(fs_removexattr(x->f, &root_ctx, f, "user.a"), -ENODATA);
	n = fs_listxattr(x->f, NULL, f, buf, sizeof(buf));
	assert_int_equal(n, 7);
	assert_string_equal(buf, "user.b");

	/* sizes */
	big = calloc(1, 65537);
	assert_non_null(big);
	memset(big, 'v', 65537);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.big", big, 65536, 0), 0);
	assert_int_equal(fs_getxattr(x->f, f, "user.big", NULL, 0), 65536);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.big", big, 65537, 0),
			 -E2BIG);
	assert_int_equal(fs_getxattr(x->f, f, "user.big", big, 65537), 65536);
	free(big);
	{
		char name[300];

		memset(name, 'n', sizeof(name));
		memcpy(name, "user.", 5);
		name[256] = '\0';
		assert_int_equal(fs_setxattr(x->f, &root_ctx, f, name, "v", 1, 0),
				 -ERANGE);
		name[255] = '\0';
		assert_int_equal(fs_setxattr(x->f, &root_ctx, f, name, "v", 1, 0), 0);
		assert_int_equal(fs_getxattr(x->f, f, name, buf, sizeof(buf)), 1);
	}

	/* on a directory and a symlink, and other inodes see none of it */
	d = mkdir_(x, ROOT, "d");
	assert_int_equal(fs_symlink(x->f, &root_ctx, "f", ROOT, "s", &st), 0);
	s = st.st_ino;
	assert_int_equal(fs_setxattr(x->f, &root_ctx, d, "user.d", "1", 1, 0), 0);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, s, "user.s", "22", 2, 0), 0);
	assert_int_equal(fs_getxattr(x->f, d, "user.d", buf, sizeof(buf)), 1);
	assert_int_equal(fs_getxattr(x->f, s, "user.s", buf, sizeof(buf)), 2);
	assert_int_equal(fs_getxattr(x->f, d, "user.b", buf, sizeof(buf)), -ENODATA);
	assert_int_equal(fs_listxattr(x->f, NULL, d, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "user.d");

	/* they persist, and go with the inode */
	fab_reopen(x);
	assert_int_equal(fs_getxattr(x->f, f, "user.b", NULL, 0), 0);
	assert_int_equal(fs_getxattr(x->f, f, "user.big", NULL, 0), 65536);
	assert_int_equal(fs_getxattr(x->f, s, "user.s", buf, sizeof(buf)), 2);
	assert_int_equal(fs_unlink(x->f, ROOT, "f"), 0);
	fs_forget(x->f, f, 1);   /* not looked up since the restart: no-op */
	assert_int_equal(fs_getxattr(x->f, f, "user.b", NULL, 0), -ENODATA);
	assert_int_equal(fs_listxattr(x->f, NULL, f, NULL, 0), 0);
}

static void test_xattr_dfabric(void **state)
{
	struct fix *x = *state;
	static const char want[] =
		"nvme:0-65535 nvme:65536-131071 hdd:131072-131171 "
		"hdd:327680-393215";
	struct fs_file *fh;
	char buf[256];
	uint64_t f, e;
	ssize_t n;

	fab_small(x);
	f = mkfile(x, ROOT, "f", &fh);
	mwrite(x, fh, 0, 2 * ES + 100, 1);        /* nvme, nvme, hdd */
	mwrite(x, fh, 5 * ES, ES, 2);             /* hdd */
	rel(x, fh);

	n = fs_getxattr(x->f, f, "user.dfabric.tier", NULL, 0);
	assert_int_equal(n, strlen(want));
	memset(buf, 0, sizeof(buf));
	assert_int_equal(fs_getxattr(x->f, f, "user.dfabric.tier", buf, n), n);
	assert_string_equal(buf, want);
	assert_int_equal(fs_getxattr(x->f, f, "user.dfabric.tier", buf, n - 1),
			 -ERANGE);
	e = mknod_(x, ROOT, "empty");
	assert_int_equal(fs_getxattr(x->f, e, "user.dfabric.tier", buf,
				     sizeof(buf)), 0);

	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.dfabric.tier", "x",
				     1, 0), -EPERM);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.dfabric.tier", "x",
				     1, XATTR_REPLACE), -EPERM);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.dfabric.unknown",
				     "x", 1, 0), -EINVAL);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.dfabric.unknown",
				     "x", 1, XATTR_CREATE), -EINVAL);
	assert_int_equal(fs_getxattr(x->f, f, "user.dfabric.x", buf, sizeof(buf)),
			 -ENODATA);
	assert_int_equal(fs_getxattr(x->f, f, "user.dfabric.x", NULL, 0), -ENODATA);
	assert_int_equal(fs_removexattr(x->f, &root_ctx, f, "user.dfabric.tier"), -EPERM);

	/* never listed */
	assert_int_equal(fs_listxattr(x->f, NULL, f, NULL, 0), 0);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.mine", "1", 1, 0), 0);
	n = fs_listxattr(x->f, NULL, f, buf, sizeof(buf));
	assert_int_equal(n, 10);
	assert_true(has_name(buf, n, "user.mine"));
	assert_null(memmem(buf, n, "dfabric", 7));

	/* the string follows the map */
	fh = open_ino(x, f, O_RDWR);
	trunc_(x, f, fh, ES + 1);
	rel(x, fh);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(fs_getxattr(x->f, f, "user.dfabric.tier", buf,
				     sizeof(buf)), 29);
	assert_string_equal(buf, "nvme:0-65535 nvme:65536-65536");
}

/* An inode that loses its last link while not open and without data is
 * deleted with the unlink: its count and records go at once, its twin
 * answers getattr until forgotten, and nothing brings its record back. An
 * open one is kept as an orphan until its last close. */
static void test_unlink_nodata(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct stat st, attr;
	uint64_t a, b, n;

	fab_default(x);
	a = mknod_(x, ROOT, "a");
	assert_int_equal(fs_setxattr(x->f, &root_ctx, a, "user.k", "v", 1, 0), 0);
	n = status_(x).inodes;
	assert_int_equal(fs_unlink(x->f, ROOT, "a"), 0);
	assert_int_equal(status_(x).inodes, n - 1);
	assert_int_equal(getattr_(x, a).st_nlink, 0);
	assert_int_equal(fs_getxattr(x->f, a, "user.k", NULL, 0), -ENODATA);
	assert_int_equal(fs_open(x->f, NULL, a, O_RDWR, &fh), -ENOENT);
	assert_int_equal(fs_open(x->f, NULL, a, O_RDWR | O_TRUNC, &fh), -ENOENT);
	memset(&attr, 0, sizeof(attr));
	attr.st_mode = 0600;
	assert_int_equal(fs_setattr(x->f, &root_ctx, a, &attr, FS_SET_MODE, NULL,
				    &st), -ENOENT);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, a, "user.k", "w", 1, 0),
			 -ENOENT);
	fs_forget(x->f, a, 1);
	assert_int_equal(fs_getattr(x->f, a, &st), -ENOENT);

	/* open while unlinked: an orphan, still usable, gone at the end */
	b = mkfile(x, ROOT, "b", &fh);
	assert_int_equal(status_(x).inodes, n);
	assert_int_equal(fs_unlink(x->f, ROOT, "b"), 0);
	assert_int_equal(status_(x).inodes, n);
	assert_int_equal(fs_write(x->f, fh, "xyz", 3, 0), 3);
	assert_int_equal(fs_read(x->f, fh, x->buf, 10, 0), 3);
	rel(x, fh);
	fs_forget(x->f, b, 1);
	assert_int_equal(fs_getattr(x->f, b, &st), -ENOENT);
	assert_int_equal(status_(x).inodes, n - 1);

	/* nothing left for the next start */
	fab_close(x);
	fab_default(x);
	assert_int_equal(status_(x).inodes, n - 1);
	assert_int_equal(fs_getattr(x->f, a, &st), -ENOENT);
}

/* Regression test, failed before its fix (fs/fs.c, fs_listxattr; latent): names under "user.dfabric." are
 * dfabric's own and must never be listed, but fs_listxattr lists every
 * stored xattr record. Only the policies set through fs_setxattr are
 * (tests/unit/test_policy.c); a record written otherwise (another
 * version, a bad value) is not; this test plants one directly.
 * Expected: only "user.mine". */
static void test_listxattr_hides_stored_dfabric(void **state)
{
	struct fix *x = *state;
	struct meta *m = NULL;
	struct meta_batch *mb;
	char buf[256], err[256];
	uint64_t f;
	ssize_t n;

	fab_default(x);
	f = mknod_(x, ROOT, "f");
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.mine", "1", 1, 0), 0);
	fab_close(x);
	assert_int_equal(meta_open(x->cfg.meta, &m, err, sizeof(err)), 0);
	mb = meta_batch_new();
	assert_non_null(mb);
	meta_put_xattr(mb, f, "user.dfabric.class", "hot", 3);
	assert_int_equal(meta_commit(m, mb, 1), 0);
	meta_batch_free(mb);
	meta_close(m);
	fab_open(x);

	assert_int_equal(fs_getxattr(x->f, f, "user.dfabric.class", buf,
				     sizeof(buf)), -ENODATA);
	n = fs_listxattr(x->f, NULL, f, buf, sizeof(buf));
	assert_true(n > 0);
	assert_null(memmem(buf, n, "dfabric", 7));
	assert_int_equal(fs_listxattr(x->f, NULL, f, NULL, 0), 10);
}

/* ---------------------------------------------------------------- */
/* corrupt records */

static void be64_put(uint8_t *k, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		k[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* Closes the fabric, overwrites one record with junk, reopens. */
static void corrupt(struct fix *x, enum meta_cf cf, const void *key,
		    size_t klen)
{
	static const char junk[] = "\x01\x7fnot a record at all\xff\xfe";
	struct meta *m = NULL;
	char err[256] = "";

	fab_close(x);
	assert_int_equal(meta_open(x->cfg.meta, &m, err, sizeof(err)), 0);
	assert_int_equal(meta_debug_put_raw(m, cf, key, klen, junk,
					    sizeof(junk) - 1), 0);
	meta_close(m);
	fab_open(x);
}

/* b (the modelled file) is fully usable. */
static void check_healthy(struct fix *x, uint64_t b, unsigned seed)
{
	struct fs_file *fh;
	struct stat a, st;
	char buf[8];

	assert_int_equal(lookup_(x, ROOT, "b"), b);
	fh = open_ino(x, b, O_RDWR);
	verify(x, fh);
	mwrite(x, fh, ES - 3, ES, seed);
	verify(x, fh);
	rel(x, fh);
	memset(&a, 0, sizeof(a));
	a.st_mode = 0600;
	assert_int_equal(fs_setattr(x->f, &root_ctx, b, &a, FS_SET_MODE, NULL,
				    &st), 0);
	assert_int_equal(getattr_(x, b).st_mode, S_IFREG | 0600);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, b, "user.ok", "1", 1, 0), 0);
	assert_int_equal(fs_getxattr(x->f, b, "user.ok", buf, sizeof(buf)), 1);
	where_(x, b, NULL);
	assert_true(x->nw > 0);
}

/* Regression test, failed before its fix (fs/fs.c, fs_setxattr and
 * fs_removexattr; fs/meta.c, xattr_one): an xattr whose record is
 * corrupt could be neither replaced nor removed (EIO), and it made the
 * listing of every name of its inode fail (EIO: cp -a, rsync -X). Now it
 * reads as EIO, is listed with the others, and can be replaced or
 * removed. */
static void test_corrupt_xattr_fixable(void **state)
{
	struct fix *x = *state;
	uint8_t key[8 + 6];
	char buf[64];
	uint64_t f;

	fab_default(x);
	f = mknod_(x, ROOT, "f");
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.x", "1", 1, 0), 0);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.y", "22", 2, 0), 0);
	be64_put(key, f);
	memcpy(key + 8, "user.x", 6);
	corrupt(x, META_CF_XATTRS, key, sizeof(key));

	assert_int_equal(fs_getxattr(x->f, f, "user.x", buf, sizeof(buf)), -EIO);
	assert_int_equal(fs_getxattr(x->f, f, "user.y", buf, sizeof(buf)), 2);
	assert_int_equal(fs_listxattr(x->f, NULL, f, buf, sizeof(buf)), 14);
	assert_memory_equal(buf, "user.x\0user.y\0", 14);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.x", "3", 1,
				     XATTR_CREATE), -EEXIST);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.x", "333", 3,
				     XATTR_REPLACE), 0);
	assert_int_equal(fs_getxattr(x->f, f, "user.x", buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "333", 3);

	corrupt(x, META_CF_XATTRS, key, sizeof(key));
	assert_int_equal(fs_removexattr(x->f, &root_ctx, f, "user.x"), 0);
	assert_int_equal(fs_getxattr(x->f, f, "user.x", buf, sizeof(buf)),
			 -ENODATA);
	assert_int_equal(fs_listxattr(x->f, NULL, f, NULL, 0), 7);
}

static void test_corrupt_inode(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct fs_dir *d = NULL;
	struct rd *r = calloc(1, sizeof(*r));
	uint64_t a, b;
	struct stat st;
	uint8_t key[8];
	char buf[64];

	assert_non_null(r);
	fab_default(x);
	a = mkfile(x, ROOT, "a", &fh);
	assert_int_equal(fs_write(x->f, fh, "aaaa", 4, 0), 4);
	rel(x, fh);
	b = mkfile(x, ROOT, "b", &fh);
	mwrite(x, fh, 0, 2 * ES + 7, 1);
	rel(x, fh);

	be64_put(key, a);
	corrupt(x, META_CF_INODES, key, sizeof(key));

	assert_int_equal(fs_lookup(x->f, ROOT, "a", &st), -EIO);
	assert_int_equal(fs_getattr(x->f, a, &st), -EIO);
	fh = NULL;
	assert_int_equal(fs_open(x->f, NULL, a, O_RDONLY, &fh), -EIO);
	assert_null(fh);
	assert_int_equal(fs_getxattr(x->f, a, "user.dfabric.tier", buf,
				     sizeof(buf)), -EIO);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, a, "user.x", "1", 1, 0), -EIO);
	where_fails(x, a, -EIO);
	assert_int_equal(fs_link(x->f, a, ROOT, "a2", &st), -EIO);
	assert_int_equal(fs_rename(x->f, ROOT, "a", ROOT, "a3", 0), -EIO);
	assert_int_equal(fs_lookup(x->f, ROOT, "a3", &st), -ENOENT);

	/* the rest is fine */
	check_healthy(x, b, 2);
	assert_int_equal(fs_opendir(x->f, ROOT, &d), 0);
	read_all(x, d, 0, -1, r);
	assert_int_equal(fs_releasedir(x->f, d), 0);
	assert_true(rd_find(r, "a") >= 0);
	assert_true(rd_find(r, "b") >= 0);
	mkfile(x, ROOT, "c", NULL);
	assert_true(lookup_(x, ROOT, "c") > b);

	/* and stays so after a restart */
	fab_reopen(x);
	assert_int_equal(fs_lookup(x->f, ROOT, "a", &st), -EIO);
	check_healthy(x, b, 3);
	free(r);
}

static void test_corrupt_extent(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh;
	uint64_t a, b, c;
	struct stat st, at;
	struct meta *m = NULL;
	struct meta_batch *mb;
	struct meta_extent me;
	uint8_t key[16];
	char buf[64], err[256];

	fab_default(x);
	a = mkfile(x, ROOT, "a", &fh);
	assert_int_equal(fs_write(x->f, fh, x->model, 3 * ES, 0), (ssize_t)(3 * ES));
	rel(x, fh);
	b = mkfile(x, ROOT, "b", &fh);
	mwrite(x, fh, 0, 2 * ES + 7, 1);
	rel(x, fh);

	be64_put(key, a);
	be64_put(key + 8, ES);
	corrupt(x, META_CF_EXTENTS, key, sizeof(key));

	/* the inode is fine, its extent map is refused as a whole */
	st = getattr_(x, a);
	assert_int_equal(st.st_size, 3 * ES);
	fh = open_ino(x, a, O_RDWR);
	assert_int_equal(fs_read(x->f, fh, buf, sizeof(buf), 0), -EIO);
	assert_int_equal(fs_read(x->f, fh, buf, sizeof(buf), ES), -EIO);
	assert_int_equal(fs_write(x->f, fh, "x", 1, 0), -EIO);
	assert_int_equal(fs_lseek(x->f, fh, 0, SEEK_DATA), -EIO);
	assert_int_equal(fs_fallocate(x->f, fh, 0, 0, 10), -EIO);
	memset(&at, 0, sizeof(at));
	assert_int_equal(fs_setattr(x->f, &root_ctx, a, &at, FS_SET_SIZE, fh, &st),
			 -EIO);
	rel(x, fh);
	where_fails(x, a, -EIO);
	assert_int_equal(fs_getxattr(x->f, a, "user.dfabric.tier", buf,
				     sizeof(buf)), -EIO);
	assert_int_equal(getattr_(x, a).st_size, 3 * ES);
	check_healthy(x, b, 2);

	/* well-formed records that make no sense: an unknown tier id, an
	 * offset off the extent grid */
	c = mkfile(x, ROOT, "c", &fh);
	assert_int_equal(fs_write(x->f, fh, "cc", 2, 0), 2);
	rel(x, fh);
	fab_close(x);
	assert_int_equal(meta_open(x->cfg.meta, &m, err, sizeof(err)), 0);
	mb = meta_batch_new();
	assert_non_null(mb);
	memset(&me, 0, sizeof(me));
	me.off = ES;
	me.len = 10;
	me.version = 1;
	me.tier = 77;
	meta_put_extent(mb, c, &me);
	me.off = 100;
	me.tier = 0;
	meta_put_extent(mb, b, &me);
	assert_int_equal(meta_commit(m, mb, 1), 0);
	meta_batch_free(mb);
	meta_close(m);
	fab_open(x);
	fh = open_ino(x, c, O_RDONLY);
	assert_int_equal(fs_read(x->f, fh, buf, sizeof(buf), 0), -EIO);
	rel(x, fh);
	fh = open_ino(x, b, O_RDONLY);
	assert_int_equal(fs_read(x->f, fh, buf, sizeof(buf), 0), -EIO);
	rel(x, fh);
	assert_int_equal(fs_lookup(x->f, ROOT, "c", &st), 0);
}

static void test_corrupt_dirent(void **state)
{
	struct fix *x = *state;
	struct rd *r = calloc(1, sizeof(*r));
	uint64_t d1, d2, y, z;
	struct fs_dir *d = NULL;
	struct fs_file *fh = NULL;
	struct stat st;
	uint8_t key[9];

	assert_non_null(r);
	fab_default(x);
	d1 = mkdir_(x, ROOT, "d1");
	d2 = mkdir_(x, ROOT, "d2");
	mknod_(x, d1, "x");
	y = mknod_(x, d1, "y");
	z = mkfile(x, d2, "z", &fh);
	mwrite(x, fh, 0, ES + 3, 1);
	rel(x, fh);

	be64_put(key, d1);
	key[8] = 'x';
	corrupt(x, META_CF_DENTRIES, key, sizeof(key));

	/* the damaged directory: listing it fails, so does the bad name */
	assert_int_equal(fs_opendir(x->f, d1, &d), 0);
	r->limit = -1;
	assert_int_equal(fs_readdir(x->f, d, 0, 0, rd_fill, r), -EIO);
	memset(r, 0, sizeof(*r));
	r->limit = -1;
	assert_int_equal(fs_readdir(x->f, d, 0, 1, rd_fill, r), -EIO);
	assert_int_equal(fs_releasedir(x->f, d), 0);
	assert_int_equal(fs_lookup(x->f, d1, "x", &st), -EIO);
	assert_int_equal(lookup_(x, d1, "y"), y);
	assert_int_equal(fs_unlink(x->f, d1, "x"), -EIO);
	assert_int_equal(fs_rmdir(x->f, ROOT, "d1"), -ENOTEMPTY);
	assert_int_equal(fs_rename(x->f, d2, "z", d1, "x", 0), -EIO);
	assert_int_equal(fs_rename(x->f, d1, "x", d2, "w", 0), -EIO);
	assert_int_equal(lookup_(x, d2, "z"), z);

	/* other directories work */
	assert_int_equal(fs_opendir(x->f, d2, &d), 0);
	read_all(x, d, 1, 2, r);
	assert_int_equal(fs_releasedir(x->f, d), 0);
	assert_int_equal(r->n, 3);
	assert_int_equal(r->st[rd_find(r, "z")].st_ino, z);
	assert_int_equal(fs_opendir(x->f, ROOT, &d), 0);
	read_all(x, d, 0, -1, r);
	assert_int_equal(fs_releasedir(x->f, d), 0);
	assert_int_equal(r->n, 4);
	fh = open_ino(x, z, O_RDWR);
	verify(x, fh);
	mwrite(x, fh, 5, 10, 2);
	verify(x, fh);
	rel(x, fh);
	mknod_(x, d2, "new");
	assert_int_equal(fs_rename(x->f, d2, "new", d2, "newer", 0), 0);
	free(r);
}

/* Regression test, failed before its fix (fs/fs.c, make_node and fs_link): creating or linking over a corrupt
 * directory entry returns meta's -EUCLEAN unmapped, where every other fs_*
 * call (lookup, unlink, rename, readdir, ...) maps a corrupt record to
 * -EIO. Expected -EIO from fs_mknod/fs_mkdir/fs_create/fs_symlink/fs_link. */
static void test_corrupt_dirent_create(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	uint64_t d1, z;
	struct stat st;
	uint8_t key[9];

	fab_default(x);
	d1 = mkdir_(x, ROOT, "d1");
	mknod_(x, d1, "x");
	z = mknod_(x, ROOT, "z");
	be64_put(key, d1);
	key[8] = 'x';
	corrupt(x, META_CF_DENTRIES, key, sizeof(key));

	assert_int_equal(fs_mknod(x->f, &root_ctx, d1, "x", S_IFREG | 0644, 0,
				  &st), -EIO);
	assert_int_equal(fs_mkdir(x->f, &root_ctx, d1, "x", 0755, &st), -EIO);
	assert_int_equal(fs_symlink(x->f, &root_ctx, "t", d1, "x", &st), -EIO);
	assert_int_equal(fs_create(x->f, &root_ctx, d1, "x", 0644,
				   O_RDWR | O_CREAT, &st, &fh), -EIO);
	assert_null(fh);
	assert_int_equal(fs_link(x->f, z, d1, "x", &st), -EIO);
}

/* A commit that fails leaves the names and links as they were: the file
 * of a failed unlink, or of the name a failed rename would have replaced,
 * is not destroyed at its last forget (before, its link count stayed
 * dropped in memory, and the forget removed a file that still had a
 * name); a failed rmdir leaves a directory that takes entries. */
static void test_failed_commit_keeps_links(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh;
	struct stat st;
	uint64_t a, b, d;

	fab_default(x);
	a = mkfile(x, ROOT, "a", &fh);
	mwrite(x, fh, 0, 1000, 1);
	rel(x, fh);
	b = mkfile(x, ROOT, "b", NULL);
	d = mkdir_(x, ROOT, "d");

	meta_debug_fail_commits = 1;
	assert_int_equal(fs_unlink(x->f, ROOT, "a"), -EIO);
	assert_int_equal(getattr_(x, a).st_nlink, 1);
	fs_forget(x->f, a, 1);
	assert_int_equal(lookup_(x, ROOT, "a"), a);
	fh = open_ino(x, a, O_RDONLY);
	verify(x, fh);
	rel(x, fh);

	meta_debug_fail_commits = 1;
	assert_int_equal(fs_rename(x->f, ROOT, "a", ROOT, "b", 0), -EIO);
	fs_forget(x->f, b, 1);
	assert_int_equal(lookup_(x, ROOT, "b"), b);
	assert_int_equal(getattr_(x, b).st_nlink, 1);
	assert_int_equal(lookup_(x, ROOT, "a"), a);

	meta_debug_fail_commits = 1;
	assert_int_equal(fs_rmdir(x->f, ROOT, "d"), -EIO);
	assert_int_equal(getattr_(x, d).st_nlink, 2);
	assert_int_equal(getattr_(x, ROOT).st_nlink, 3);
	assert_int_equal(fs_mkdir(x->f, &root_ctx, d, "e", 0755, &st), 0);
	assert_int_equal(meta_debug_fail_commits, 0);

	fab_reopen(x);
	assert_int_equal(lookup_(x, ROOT, "a"), a);
	assert_int_equal(lookup_(x, ROOT, "b"), b);
	assert_true(lookup_(x, d, "e") > 0);
}

/* Regression test, failed before its fix (fs/fs.c, fs_rename): a
 * directory at LINK_MAX_DF links takes no more subdirectories by mkdir
 * (EMLINK), but a rename or an exchange moved one in and pushed its link
 * count past the limit. Its count is set in the store here (65000
 * mkdirs take long). */
static void test_rename_emlink(void **state)
{
	struct fix *x = *state;
	struct meta_inode a;
	struct meta_batch *b;
	struct meta *m = NULL;
	struct stat st;
	char err[256];
	uint64_t p, q;

	fab_default(x);
	p = mkdir_(x, ROOT, "p");
	mkdir_(x, p, "e");
	mknod_(x, p, "f");
	q = mkdir_(x, ROOT, "q");
	mkdir_(x, q, "m");
	fab_close(x);
	assert_int_equal(meta_open(x->cfg.meta, &m, err, sizeof(err)), 0);
	assert_int_equal(meta_get_inode(m, p, &a), 0);
	a.nlink = 65000;      /* LINK_MAX_DF, the limit */
	assert_non_null(b = meta_batch_new());
	meta_put_inode(b, &a);
	assert_int_equal(meta_commit(m, b, 1), 0);
	meta_batch_free(b);
	meta_close(m);
	fab_open(x);

	assert_int_equal(fs_mkdir(x->f, &root_ctx, p, "extra", 0755, &st), -EMLINK);
	assert_int_equal(fs_rename(x->f, q, "m", p, "m", 0), -EMLINK);
	assert_int_equal(fs_rename(x->f, q, "m", p, "f", RENAME_EXCHANGE), -EMLINK);
	assert_int_equal(fs_rename(x->f, p, "f", q, "m", RENAME_EXCHANGE), -EMLINK);
	assert_int_equal(getattr_(x, p).st_nlink, 65000);
	/* over a directory it replaces, or a file for a file: no gain */
	assert_int_equal(fs_rename(x->f, q, "m", p, "e", 0), 0);
	assert_int_equal(getattr_(x, p).st_nlink, 65000);
	mknod_(x, q, "g");
	assert_int_equal(fs_rename(x->f, q, "g", p, "f", RENAME_EXCHANGE), 0);
	assert_int_equal(getattr_(x, p).st_nlink, 65000);
}

/* A chmod, chown, utimens, setxattr, removexattr, policy change or link
 * whose commit fails leaves the attributes in memory as they were: before, the
 * new mode (and ctime) stayed in force until a restart although the call
 * had failed and the store kept the old ones. */
static void test_failed_commit_keeps_attrs(void **state)
{
	struct fix *x = *state;
	struct stat at, st, before;
	uint64_t a;

	fab_default(x);
	a = mkfile(x, ROOT, "a", NULL);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, a, "user.k", "1", 1, 0), 0);
	before = getattr_(x, a);
	usleep(2000);   /* any new ctime differs */

	memset(&at, 0, sizeof(at));
	at.st_mode = 0600;
	at.st_uid = 1234;
	at.st_mtim.tv_sec = 1000000000;
	meta_debug_fail_commits = 1;
	assert_int_equal(fs_setattr(x->f, &root_ctx, a, &at, FS_SET_MODE |
				    FS_SET_UID | FS_SET_MTIME, NULL, &st), -EIO);
	st = getattr_(x, a);
	assert_int_equal(st.st_mode, before.st_mode);
	assert_int_equal(st.st_uid, before.st_uid);
	assert_int_equal(st.st_mtim.tv_sec, before.st_mtim.tv_sec);
	assert_int_equal(st.st_ctim.tv_nsec, before.st_ctim.tv_nsec);

	meta_debug_fail_commits = 1;
	assert_int_equal(fs_setxattr(x->f, &root_ctx, a, "user.n", "2", 1, 0), -EIO);
	assert_int_equal(getattr_(x, a).st_ctim.tv_nsec, before.st_ctim.tv_nsec);
	meta_debug_fail_commits = 1;
	assert_int_equal(fs_removexattr(x->f, &root_ctx, a, "user.k"), -EIO);
	assert_int_equal(getattr_(x, a).st_ctim.tv_nsec, before.st_ctim.tv_nsec);
	meta_debug_fail_commits = 1;
	assert_int_equal(fs_setxattr(x->f, &root_ctx, a, "user.dfabric.class",
				     "private", 7, 0), -EIO);
	assert_int_equal(getattr_(x, a).st_ctim.tv_nsec, before.st_ctim.tv_nsec);
	/* a link (regression, failed before: its ctime stayed changed) */
	meta_debug_fail_commits = 1;
	assert_int_equal(fs_link(x->f, a, ROOT, "a2", &st), -EIO);
	st = getattr_(x, a);
	assert_int_equal(st.st_ctim.tv_nsec, before.st_ctim.tv_nsec);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(meta_debug_fail_commits, 0);

	/* and what succeeds afterwards still changes them */
	assert_int_equal(fs_setattr(x->f, &root_ctx, a, &at, FS_SET_MODE, NULL,
				    &st), 0);
	assert_int_equal(getattr_(x, a).st_mode & 07777, 0600);
	fab_reopen(x);
	assert_int_equal(getattr_(x, a).st_mode & 07777, 0600);
	assert_int_equal(getattr_(x, a).st_uid, before.st_uid);
}

/* Review: a write into a new extent that fails part way with an error
 * other than ENOSPC (EDQUOT, EIO; here EFBIG from RLIMIT_FSIZE, the one
 * such error a test can cause) leaves the bytes it got onto the tier in
 * the extent's slot: write_range drops the new extent without punching
 * them. A later write further into the same slot makes a new extent that
 * starts at the slot, and the failed write's bytes show through where the
 * file must read zeros. */
static void test_failed_new_extent_leaves_no_bytes(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh;
	struct rlimit old, lim;
	const uint64_t off = 1000 * 1024;      /* in slot [960K, 1024K) */
	const size_t len = 16 * 1024;
	ssize_t rc;

	fab_default(x);
	mkfile(x, ROOT, "f", &fh);
	for (size_t i = 0; i < len; i++)
		x->buf[i] = pat(off + i, 9);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = off + 8192;             /* half of the write fits */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	rc = fs_write(x->f, fh, x->buf, len, off);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(rc, -EFBIG);          /* the write failed, nothing written */
	assert_int_equal(getattr_(x, fs_file_ino(fh)).st_size, 0);
	/* A later, successful write near the end of the same slot. */
	mwrite(x, fh, 1024 * 1024 - 1024, 1024, 3);
	/* [0, 1023K) never written: zeros. */
	verify(x, fh);
}

/* The largest file is ext4's (2^44 - 4096 bytes with 4 KiB blocks):
 * truncate and fallocate past it fail with EFBIG, a write that crosses it
 * is short and one at it fails. Before, the limit was 2^44 and a write
 * that crossed it failed whole. */
static void test_size_limit(void **state)
{
	struct fix *x = *state;
	const uint64_t max = (1ULL << 44) - 4096;
	struct stat a, out;
	struct fs_file *fh;
	uint64_t ino;
	char got[4];

	fab_default(x);
	ino = mkfile(x, ROOT, "big", &fh);
	memset(&a, 0, sizeof(a));
	a.st_size = (off_t)max + 1;
	assert_int_equal(fs_setattr(x->f, &root_ctx, ino, &a, FS_SET_SIZE, fh,
				    &out), -EFBIG);
	a.st_size = (off_t)max;
	assert_int_equal(fs_setattr(x->f, &root_ctx, ino, &a, FS_SET_SIZE, fh,
				    &out), 0);
	assert_int_equal(fs_write(x->f, fh, "abcd", 4, max - 2), 2);
	assert_int_equal(fs_write(x->f, fh, "e", 1, max), -EFBIG);
	assert_int_equal(fs_fallocate(x->f, fh, 0, max - 4096, 8192), -EFBIG);
	assert_int_equal(getattr_(x, ino).st_size, max);
	assert_int_equal(fs_read(x->f, fh, got, 4, max - 2), 2);
	assert_memory_equal(got, "ab", 2);
	rel(x, fh);
}

/* A file deleted in the same batch as its last link (it never had data)
 * takes its access statistics with it, as one destroyed later does;
 * before, they stayed in memory and in the store for good. */
static void test_profile_goes_with_file(void **state)
{
	struct fix *x = *state;
	struct access_stats st;
	struct fs_file *fh;
	uint64_t a, b;

	fab_default(x);
	a = mkfile(x, ROOT, "a", NULL);   /* an open, no data */
	b = mkfile(x, ROOT, "b", &fh);
	mwrite(x, fh, 0, 10, 1);
	rel(x, fh);
	profile_drain(fs_profile(x->f));
	assert_int_equal(profile_get(fs_profile(x->f), a, &st), 0);
	assert_int_equal(profile_get(fs_profile(x->f), b, &st), 0);
	assert_int_equal(fs_unlink(x->f, ROOT, "a"), 0);
	assert_int_equal(fs_unlink(x->f, ROOT, "b"), 0);
	fs_forget(x->f, a, 1);
	fs_forget(x->f, b, 1);
	profile_drain(fs_profile(x->f));
	assert_int_equal(profile_get(fs_profile(x->f), a, &st), -ENOENT);
	assert_int_equal(profile_get(fs_profile(x->f), b, &st), -ENOENT);
	fab_reopen(x);
	assert_int_equal(profile_get(fs_profile(x->f), a, &st), -ENOENT);
}

/* Access statistics of a file whose deletion was committed but whose
 * statistics' forget was not (a kill -9 within the profiler's flush; here
 * the inode record deleted behind the fabric's back) go at the next
 * start. Before, they stayed for good. */
static void test_stale_stats_dropped(void **state)
{
	struct fix *x = *state;
	struct access_stats st;
	struct meta_batch *b;
	struct fs_file *fh;
	struct meta *m;
	char err[256];
	uint64_t a, k;

	fab_default(x);
	a = mkfile(x, ROOT, "a", &fh);
	mwrite(x, fh, 0, 10, 1);
	rel(x, fh);
	k = mkfile(x, ROOT, "keep", &fh);
	mwrite(x, fh, 0, 10, 2);
	rel(x, fh);
	profile_drain(fs_profile(x->f));
	fs_fabric_close(x->f);
	x->f = NULL;
	assert_int_equal(meta_open(x->cfg.meta, &m, err, sizeof(err)), 0);
	assert_non_null(b = meta_batch_new());
	meta_del_inode(b, a, S_IFREG | 0644);
	assert_int_equal(meta_commit(m, b, 1), 0);
	meta_batch_free(b);
	meta_close(m);
	fab_open(x);
	assert_int_equal(profile_get(fs_profile(x->f), a, &st), -ENOENT);
	assert_int_equal(profile_get(fs_profile(x->f), k, &st), 0);
	/* and the store forgets them too */
	profile_drain(fs_profile(x->f));
	fab_reopen(x);
	assert_int_equal(profile_get(fs_profile(x->f), a, &st), -ENOENT);
	assert_int_equal(profile_get(fs_profile(x->f), k, &st), 0);
}

struct opener {
	struct fabric *f;
	uint64_t ino;
	int n;
};

static void *open_release(void *arg)
{
	struct opener *o = arg;

	for (int i = 0; i < o->n; i++) {
		struct fs_file *fh;

		if (fs_open(o->f, NULL, o->ino, O_RDONLY, &fh) == 0)
			fs_release(o->f, fh);
	}
	return NULL;
}

/* Two threads opening and closing one file: the count of open files
 * comes back to 0 (two releases at once each saw the other's open, and
 * neither counted itself last). */
static void test_open_count_races(void **state)
{
	struct fix *x = *state;
	struct opener o;
	pthread_t t[2];

	fab_default(x);
	o.f = x->f;
	o.ino = mkfile(x, ROOT, "a", NULL);
	o.n = 20000;
	assert_int_equal(pthread_create(&t[0], NULL, open_release, &o), 0);
	assert_int_equal(pthread_create(&t[1], NULL, open_release, &o), 0);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	assert_int_equal(status_(x).open_files, 0);
}

struct by_number {
	struct fabric *f;
	_Atomic uint64_t want;
	_Atomic int stop;
	_Atomic uint64_t got;
	struct fs_file *fh;
};

static void *open_by_number(void *arg)
{
	struct by_number *d = arg;

	while (!atomic_load(&d->stop)) {
		uint64_t w = atomic_load(&d->want);
		struct fs_file *fh;

		if (w && fs_open(d->f, NULL, w, O_RDWR, &fh) == 0) {
			d->fh = fh;
			atomic_store(&d->got, w);
			return NULL;
		}
	}
	return NULL;
}

/* An open by inode number (as control commands and jobs do) racing with
 * the create of that inode finds the one twin the create makes: a write
 * through it shows in getattr. Before, the create added a second twin
 * beside one loaded from the store meanwhile. */
static void test_one_twin_per_inode(void **state)
{
	struct fix *x = *state;
	struct by_number d = { 0 };
	struct stat st;
	char name[32];
	uint64_t first;
	pthread_t t;

	fab_default(x);
	first = mknod_(x, ROOT, "first");
	d.f = x->f;
	for (int i = 0; i < 2000; i++) {
		uint64_t ino;

		atomic_store(&d.got, 0);
		atomic_store(&d.want, first + 1 + (uint64_t)i);
		atomic_store(&d.stop, 0);
		assert_int_equal(pthread_create(&t, NULL, open_by_number, &d), 0);
		snprintf(name, sizeof(name), "f%d", i);
		ino = mknod_(x, ROOT, name);
		assert_int_equal(ino, first + 1 + (uint64_t)i);
		atomic_store(&d.stop, 1);
		pthread_join(t, NULL);
		if (atomic_load(&d.got) != ino)
			continue;
		assert_int_equal(fs_write(x->f, d.fh, "hello", 5, 0), 5);
		assert_int_equal(fs_getattr(x->f, ino, &st), 0);
		assert_int_equal(st.st_size, 5);
		assert_int_equal(fs_release(x->f, d.fh), 0);
	}
}

/* A statistics flush whose commit fails keeps the deletes of forgotten
 * files for the next one: before, they were dropped, and the records of
 * deleted files came back at every start. */
static void test_profile_delete_survives_failed_flush(void **state)
{
	struct fix *x = *state;
	struct access_stats st;
	struct fs_file *fh;
	uint64_t a;

	fab_default(x);
	a = mkfile(x, ROOT, "a", &fh);
	mwrite(x, fh, 0, 10, 1);
	rel(x, fh);
	assert_true(profile_drain(fs_profile(x->f)) >= 0);
	assert_int_equal(fs_unlink(x->f, ROOT, "a"), 0);
	fs_forget(x->f, a, 1);   /* destroyed: its statistics to delete */
	/* the next commit fails: this drain's flush, or the profiler's own
	 * (both carry the deletes); a directory-times flush taking it in
	 * between would leave the test weaker, not failing */
	meta_debug_fail_commits = 1;
	profile_drain(fs_profile(x->f));
	assert_int_equal(meta_debug_fail_commits, 0);
	assert_true(profile_drain(fs_profile(x->f)) >= 0);
	fab_reopen(x);
	assert_int_equal(profile_get(fs_profile(x->f), a, &st), -ENOENT);
}

/* A tier file removed behind the file system's back, while the map
 * still names the tier for the extents: reads returned zeros (the local
 * kind took a missing file for one never written), by fs_read and by
 * fs_read_reply. They fail with EIO, and the map is left as it was. */
static void test_missing_tier_file(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh;
	uint64_t ino;
	char p[PATH_MAX + 64];
	uint8_t *scratch;
	struct collected c = { 0 };

	fab_default(x);
	ino = mkfile(x, ROOT, "f", &fh);
	mwrite(x, fh, 0, 3 * ES / 2, 1);
	assert_int_equal(fs_fsync(x->f, fh, 0), 0);
	rel(x, fh);
	fab_reopen(x);                 /* no descriptor of it kept open */
	assert_true(backing_exists(x, T_NVME, ino));
	snprintf(p, sizeof(p), "%s/data/%02x/%02x/%016" PRIx64,
		 x->cfg.tiers[T_NVME].path, (unsigned)((ino >> 8) & 0xff),
		 (unsigned)(ino & 0xff), ino);
	assert_int_equal(unlink(p), 0);

	fh = open_ino(x, ino, O_RDONLY);
	assert_int_equal(fs_read(x->f, fh, x->buf, 4096, 0), -EIO);
	assert_int_equal(fs_read(x->f, fh, x->buf, 100000, 0), -EIO);
	scratch = malloc(2 * ES);
	c.out = malloc(2 * ES);
	assert_non_null(scratch);
	assert_non_null(c.out);
	c.buf = scratch;
	assert_int_equal(fs_read_reply(x->f, fh, scratch, 2 * ES, 0,
				       read_collect, &c), -EIO);
	assert_int_equal(c.calls, 0);
	free(scratch);
	free(c.out);
	rel(x, fh);
	assert_int_equal(getattr_(x, ino).st_size, 3 * ES / 2);
}

/* Writes n bytes of 0xEE at off straight into ino's file on a tier, as a
 * write that a crash cut off before its commit leaves them. */
static void stale_bytes(struct fix *x, int tier, uint64_t ino, uint64_t off,
			size_t n)
{
	char p[PATH_MAX + 64];
	uint8_t *b = malloc(n);
	int fd;

	assert_non_null(b);
	memset(b, 0xEE, n);
	snprintf(p, sizeof(p), "%s/data/%02x/%02x/%016" PRIx64,
		 x->cfg.tiers[tier].path, (unsigned)((ino >> 8) & 0xff),
		 (unsigned)(ino & 0xff), ino);
	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, b, n, (off_t)off), (ssize_t)n);
	close(fd);
	free(b);
}

/* Bytes in a tier's file that no extent names (a crash between a write
 * to the tier and its commit leaves them past an extent's end) came back
 * when a later write or an allocation grew the extent over them: the
 * range between the extent's end and the new bytes read them instead of
 * zeros. Found by a kill -9 torture test. */
static void test_stale_tier_bytes(void **state)
{
	struct fix *x = *state;
	struct fs_file *fh;
	uint64_t ino;

	fab_default(x);
	ino = mkfile(x, ROOT, "f", &fh);
	mwrite(x, fh, 0, 1000, 1);              /* extent 0: 1000 bytes */
	mwrite(x, fh, 2 * ES, 1000, 2);         /* extent 2: 1000 bytes */
	stale_bytes(x, T_NVME, ino, 1000, 20000);
	stale_bytes(x, T_NVME, ino, 2 * ES + 1000, 20000);
	/* a write further on in extent 0 */
	mwrite(x, fh, 30000, 100, 3);
	/* an allocation over the rest of extent 2 */
	assert_int_equal(fs_fallocate(x->f, fh, 0, 2 * ES + 1000, ES - 1000),
			 0);
	mzero(x, 2 * ES + 1000, ES - 1000);
	x->msize = 3 * ES;
	verify(x, fh);
	rel(x, fh);
	fab_reopen(x);
	fh = open_ino(x, ino, O_RDONLY);
	verify(x, fh);
	rel(x, fh);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_extent_map),
		T(test_stale_tier_bytes),
		T(test_truncate),
		T(test_fallocate),
		T(test_lseek),
		T(test_tier_placement),
		T(test_namespace),
		T(test_rename),
		T(test_rename_exchange),
		T(test_rename_into_subdir),
		T(test_dotdot_after_restart),
		T(test_link_self),
		T(test_readdir),
		T(test_readdirplus_stale_names),
		T(test_readdirplus_lookups),
		T(test_setgid),
		T(test_name_too_long),
		T(test_unlink_open),
		T(test_unlink_nodata),
		T(test_failed_commit_keeps_links),
		T(test_failed_commit_keeps_attrs),
		T(test_failed_new_extent_leaves_no_bytes),
		T(test_size_limit),
		T(test_profile_goes_with_file),
		T(test_stale_stats_dropped),
		T(test_open_count_races),
		T(test_one_twin_per_inode),
		T(test_profile_delete_survives_failed_flush),
		T(test_orphan_restart),
		T(test_persistence),
		T(test_xattr),
		T(test_xattr_dfabric),
		T(test_listxattr_hides_stored_dfabric),
		T(test_corrupt_inode),
		T(test_corrupt_xattr_fixable),
		T(test_rename_emlink),
		T(test_corrupt_extent),
		T(test_corrupt_dirent),
		T(test_corrupt_dirent_create),
		T(test_missing_tier_file),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
