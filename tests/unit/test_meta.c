// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the metadata store (fs/meta.c) on a real RocksDB in a
 * temporary directory per test. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <rocksdb/c.h>
#include <xxhash.h>

#include "fs/meta.h"
#include "tmpdir.h"

struct fix {
	char dir[64];                  /* mkdtemp directory of the test */
	char path[128];                /* the store, dir/meta */
	struct meta *m;                /* the open store */
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	char err[512] = "";

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/test_meta.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/meta", f->dir);
	if (meta_open(f->path, &f->m, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		tmpdir_remove(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	meta_close(f->m);
	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static void reopen(struct fix *f)
{
	char err[512] = "";
	int rc;

	meta_close(f->m);
	f->m = NULL;
	rc = meta_open(f->path, &f->m, err, sizeof(err));
	if (rc)
		fprintf(stderr, "reopen: %s\n", err);
	assert_int_equal(rc, 0);
}

/* A new batch, for the chained style of the tests. */
static struct meta_batch *nb(void)
{
	struct meta_batch *b = meta_batch_new();

	assert_non_null(b);
	return b;
}

static void commit_free(struct meta *m, struct meta_batch *b)
{
	assert_int_equal(meta_commit(m, b, 0), 0);
	meta_batch_free(b);
}

static void be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Seals a hand-built record: XXH32 of the first n bytes at p[n]. */
static size_t seal(uint8_t *p, size_t n)
{
	le32(p + n, XXH32(p, n, 0));
	return n + 4;
}

static struct meta_inode sample_inode(uint64_t ino)
{
	struct meta_inode in = {
		.ino = ino,
		.mode = 0100644,
		.uid = 1000 + (uint32_t)ino,
		.gid = 4294967294u,
		.nlink = 3,
		.size = UINT64_MAX - ino,
		.rdev = 0x0801,
		.atime = { .tv_sec = -5, .tv_nsec = 999999999 },
		.mtime = { .tv_sec = 1700000000, .tv_nsec = 1 },
		.ctime = { .tv_sec = INT64_MAX, .tv_nsec = 0 },
		.btime = { .tv_sec = 42, .tv_nsec = 500000000 },
		.blocks = 8 * ino,
		.flags = META_INODE_ORPHAN,
		.parent = 0x0102030405060708ULL ^ ino,
	};

	return in;
}

static void assert_ts_equal(struct timespec a, struct timespec b)
{
	assert_int_equal(a.tv_sec, b.tv_sec);
	assert_int_equal(a.tv_nsec, b.tv_nsec);
}

static void assert_inode_equal(const struct meta_inode *a,
			       const struct meta_inode *b)
{
	assert_int_equal(a->ino, b->ino);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_int_equal(a->nlink, b->nlink);
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->rdev, b->rdev);
	assert_ts_equal(a->atime, b->atime);
	assert_ts_equal(a->mtime, b->mtime);
	assert_ts_equal(a->ctime, b->ctime);
	assert_ts_equal(a->btime, b->btime);
	assert_int_equal(a->blocks, b->blocks);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->parent, b->parent);
}

static struct meta_extent sample_extent(uint64_t off)
{
	struct meta_extent e = {
		.off = off,
		.len = 4 << 20,
		.version = off ^ 0x5a5a,
		.tier = (uint32_t)(off % 7),
		.flags = META_EXT_SEALED,
	};

	for (int i = 0; i < 16; i++)
		e.csum[i] = (uint8_t)(off + (uint64_t)i * 17);
	return e;
}

static void assert_extent_equal(const struct meta_extent *a,
				const struct meta_extent *b)
{
	assert_int_equal(a->off, b->off);
	assert_int_equal(a->len, b->len);
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->tier, b->tier);
	assert_int_equal(a->flags, b->flags);
	assert_memory_equal(a->csum, b->csum, 16);
}

/* Collects names (and inodes) seen by an iteration. */
struct seen {
	char names[64][META_NAME_MAX + 1]; /* names in callback order */
	uint64_t inos[64];             /* child or listed inode numbers */
	int n;                         /* entries filled */
	int stop_after;                /* return 7 after this many, 0: never */
};

static int seen_dirent(void *arg, const char *name,
		       const struct meta_dirent *d)
{
	struct seen *s = arg;

	if (s->n >= 64)
		return -1;
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
	s->inos[s->n++] = d->ino;
	return s->stop_after && s->n == s->stop_after ? 7 : 0;
}

static int seen_name(void *arg, const char *name)
{
	struct seen *s = arg;

	if (s->n >= 64)
		return -1;
	snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", name);
	return 0;
}

static int seen_ino(void *arg, uint64_t ino)
{
	struct seen *s = arg;

	if (s->n >= 64)
		return -1;
	s->inos[s->n++] = ino;
	return 0;
}

static int seen_inode(void *arg, const struct meta_inode *in)
{
	return seen_ino(arg, in->ino);
}

static void put_dirent(struct meta *m, uint64_t parent, const char *name,
		       uint64_t ino)
{
	struct meta_batch *b = nb();
	struct meta_dirent d = { .ino = ino, .type = S_IFREG };

	meta_put_dirent(b, parent, name, &d);
	commit_free(m, b);
}

/* ---- round trips ---- */

static void test_inode_roundtrip(void **state)
{
	struct fix *f = *state;
	struct meta_batch *b = nb();
	struct meta_inode in = sample_inode(7), in2 = sample_inode(1), out;

	assert_int_equal(meta_get_inode(f->m, 7, &out), -ENOENT);
	meta_put_inode(b, &in);
	meta_put_inode(b, &in2);
	commit_free(f->m, b);
	assert_int_equal(meta_get_inode(f->m, 7, &out), 0);
	assert_inode_equal(&out, &in);
	assert_int_equal(meta_get_inode(f->m, 1, &out), 0);
	assert_inode_equal(&out, &in2);
	assert_int_equal(meta_get_inode(f->m, 8, &out), -ENOENT);

	/* Overwrite. */
	in.size = 12;
	in.nlink = 0;
	b = nb();
	meta_put_inode(b, &in);
	commit_free(f->m, b);
	assert_int_equal(meta_get_inode(f->m, 7, &out), 0);
	assert_int_equal(out.size, 12);
	assert_int_equal(out.nlink, 0);

	/* A timestamp that could not be read back is refused. */
	b = nb();
	in.mtime.tv_nsec = 1000000000L;
	meta_put_inode(b, &in);
	assert_int_equal(meta_commit(f->m, b, 0), -EINVAL);
	meta_batch_free(b);
	assert_int_equal(meta_get_inode(f->m, 7, &out), 0);
	assert_int_equal(out.mtime.tv_nsec, 1);
}

static void test_list_inodes(void **state)
{
	struct fix *f = *state;
	struct meta_batch *b = nb();
	uint64_t inos[] = { 256, 1, 255, UINT64_MAX, 1ull << 40 };
	uint64_t want[] = { 1, 255, 256, 1ull << 40, UINT64_MAX };
	struct seen s = { 0 };

	for (size_t i = 0; i < 5; i++) {
		struct meta_inode in = sample_inode(inos[i]);

		meta_put_inode(b, &in);
	}
	commit_free(f->m, b);
	assert_int_equal(meta_list_inodes(f->m, seen_inode, &s), 0);
	assert_int_equal(s.n, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(s.inos[i], want[i]);
}

static void test_dirent_roundtrip(void **state)
{
	struct fix *f = *state;
	struct meta_batch *b = nb();
	char name255[256], name256[257];
	struct meta_dirent d = { .ino = 99, .type = S_IFDIR }, out;

	memset(name255, 'n', 255);
	name255[255] = 0;
	memset(name256, 'n', 256);
	name256[256] = 0;

	assert_int_equal(meta_get_dirent(f->m, 1, "a", &out), -ENOENT);
	meta_put_dirent(b, 1, name255, &d);
	d.ino = 100;
	d.type = S_IFLNK;
	meta_put_dirent(b, 1, "\x01utf8 \xc3\xa9", &d);
	commit_free(f->m, b);

	assert_int_equal(meta_get_dirent(f->m, 1, name255, &out), 0);
	assert_int_equal(out.ino, 99);
	assert_int_equal(out.type, S_IFDIR);
	assert_int_equal(meta_get_dirent(f->m, 1, "\x01utf8 \xc3\xa9", &out), 0);
	assert_int_equal(out.ino, 100);
	assert_int_equal(out.type, S_IFLNK);
	assert_int_equal(meta_get_dirent(f->m, 2, name255, &out), -ENOENT);
	assert_int_equal(meta_get_dirent(f->m, 1, name256, &out),
			 -ENAMETOOLONG);

	/* A name of 256 bytes is refused and nothing of the batch lands. */
	b = nb();
	meta_put_dirent(b, 1, "fine", &d);
	meta_put_dirent(b, 1, name256, &d);
	assert_int_equal(meta_commit(f->m, b, 0), -ENAMETOOLONG);
	meta_batch_free(b);
	assert_int_equal(meta_get_dirent(f->m, 1, "fine", &out), -ENOENT);

	b = nb();
	meta_del_dirent(b, 1, name255);
	commit_free(f->m, b);
	assert_int_equal(meta_get_dirent(f->m, 1, name255, &out), -ENOENT);
	assert_int_equal(meta_get_dirent(f->m, 1, "\x01utf8 \xc3\xa9", &out), 0);
}

static void test_symlink_roundtrip(void **state)
{
	struct fix *f = *state;
	struct meta_batch *b = nb();
	char *target = malloc(META_SYMLINK_MAX + 2);
	char *buf = malloc(META_SYMLINK_MAX + 1);
	char small[16];

	assert_non_null(target);
	assert_non_null(buf);
	for (int i = 0; i < META_SYMLINK_MAX; i++)
		target[i] = (char)('a' + i % 26);
	target[META_SYMLINK_MAX] = 0;

	assert_int_equal(meta_get_symlink(f->m, 5, small, sizeof(small)),
			 -ENOENT);
	meta_put_symlink(b, 5, target);
	meta_put_symlink(b, 6, "../x");
	commit_free(f->m, b);

	assert_int_equal(meta_get_symlink(f->m, 5, buf, META_SYMLINK_MAX + 1),
			 0);
	assert_string_equal(buf, target);
	assert_int_equal(meta_get_symlink(f->m, 5, buf, META_SYMLINK_MAX),
			 -ENAMETOOLONG);
	assert_int_equal(meta_get_symlink(f->m, 6, small, sizeof(small)), 0);
	assert_string_equal(small, "../x");
	assert_int_equal(meta_get_symlink(f->m, 6, small, 4), -ENAMETOOLONG);
	assert_int_equal(meta_get_symlink(f->m, 6, small, 5), 0);

	/* One byte over the limit is refused. */
	target[META_SYMLINK_MAX] = 'z';
	target[META_SYMLINK_MAX + 1] = 0;
	b = nb();
	meta_put_symlink(b, 7, target);
	assert_int_equal(meta_commit(f->m, b, 0), -ENAMETOOLONG);
	meta_batch_free(b);
	assert_int_equal(meta_get_symlink(f->m, 7, buf, META_SYMLINK_MAX + 1),
			 -ENOENT);
	free(target);
	free(buf);
}

static void test_xattr_roundtrip(void **state)
{
	struct fix *f = *state;
	struct meta_batch *b = nb();
	uint8_t *big = malloc(META_XATTR_SIZE_MAX + 1);
	uint8_t *buf = malloc(META_XATTR_SIZE_MAX);
	char name255[256], name256[257];
	struct seen s = { 0 };

	assert_non_null(big);
	assert_non_null(buf);
	for (int i = 0; i <= META_XATTR_SIZE_MAX; i++)
		big[i] = (uint8_t)(i * 31 + 7);
	memset(name255, 'x', 255);
	name255[255] = 0;
	memset(name256, 'x', 256);
	name256[256] = 0;

	assert_int_equal(meta_get_xattr(f->m, 3, "user.a", buf, 10), -ENODATA);
	meta_put_xattr(b, 3, "user.empty", "", 0);
	meta_put_xattr(b, 3, "user.big", big, META_XATTR_SIZE_MAX);
	meta_put_xattr(b, 3, name255, "v", 1);
	commit_free(f->m, b);

	assert_int_equal(meta_get_xattr(f->m, 3, "user.empty", NULL, 0), 0);
	assert_int_equal(meta_get_xattr(f->m, 3, "user.empty", buf, 10), 0);
	assert_int_equal(meta_get_xattr(f->m, 3, "user.big", NULL, 0),
			 META_XATTR_SIZE_MAX);
	memset(buf, 0, META_XATTR_SIZE_MAX);
	assert_int_equal(meta_get_xattr(f->m, 3, "user.big", buf,
					META_XATTR_SIZE_MAX),
			 META_XATTR_SIZE_MAX);
	assert_memory_equal(buf, big, META_XATTR_SIZE_MAX);
	assert_int_equal(meta_get_xattr(f->m, 3, "user.big", buf,
					META_XATTR_SIZE_MAX - 1), -ERANGE);
	assert_int_equal(meta_get_xattr(f->m, 3, name255, buf, 1), 1);
	assert_int_equal(buf[0], 'v');
	assert_int_equal(meta_get_xattr(f->m, 3, name256, buf, 1), -ERANGE);
	assert_int_equal(meta_get_xattr(f->m, 4, "user.big", NULL, 0),
			 -ENODATA);

	assert_int_equal(meta_list_xattrs(f->m, 3, seen_name, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.names[0], "user.big");
	assert_string_equal(s.names[1], "user.empty");
	assert_string_equal(s.names[2], name255);

	/* Too big a value and too long a name are refused. */
	b = nb();
	meta_put_xattr(b, 3, "user.huge", big, META_XATTR_SIZE_MAX + 1);
	assert_int_equal(meta_commit(f->m, b, 0), -E2BIG);
	meta_batch_clear(b);
	meta_put_xattr(b, 3, name256, "v", 1);
	assert_int_equal(meta_commit(f->m, b, 0), -ERANGE);
	meta_batch_clear(b);
	meta_del_xattr(b, 3, "user.empty");
	commit_free(f->m, b);
	assert_int_equal(meta_get_xattr(f->m, 3, "user.empty", NULL, 0),
			 -ENODATA);
	assert_int_equal(meta_get_xattr(f->m, 3, "user.huge", NULL, 0),
			 -ENODATA);
	free(big);
	free(buf);
}

static void test_extents_order(void **state)
{
	struct fix *f = *state;
	struct meta_batch *b = nb();
	uint64_t offs[] = { 1ull << 32, 0, 256, UINT64_MAX - 4095, 255,
			    4096, 1ull << 56 };
	uint64_t want[] = { 0, 255, 256, 4096, 1ull << 32, 1ull << 56,
			    UINT64_MAX - 4095 };
	struct meta_extent *v;
	size_t n;

	assert_int_equal(meta_load_extents(f->m, 9, &v, &n), 0);
	assert_null(v);
	assert_int_equal(n, 0);
	for (int i = 0; i < 7; i++) {
		struct meta_extent e = sample_extent(offs[i]);

		meta_put_extent(b, 9, &e);
	}
	commit_free(f->m, b);
	assert_int_equal(meta_load_extents(f->m, 9, &v, &n), 0);
	assert_int_equal(n, 7);
	for (int i = 0; i < 7; i++) {
		struct meta_extent e = sample_extent(want[i]);

		assert_extent_equal(&v[i], &e);
	}
	free(v);

	b = nb();
	meta_del_extent(b, 9, 256);
	commit_free(f->m, b);
	assert_int_equal(meta_load_extents(f->m, 9, &v, &n), 0);
	assert_int_equal(n, 6);
	assert_int_equal(v[2].off, 4096);
	free(v);
}

static void test_orphans(void **state)
{
	struct fix *f = *state;
	struct meta_batch *b = nb();
	struct seen s = { 0 };

	meta_put_orphan(b, 1ull << 40);
	meta_put_orphan(b, 5);
	meta_put_orphan(b, 3);
	commit_free(f->m, b);
	assert_int_equal(meta_list_orphans(f->m, seen_ino, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.inos[0], 3);
	assert_int_equal(s.inos[1], 5);
	assert_int_equal(s.inos[2], 1ull << 40);

	b = nb();
	meta_del_orphan(b, 5);
	commit_free(f->m, b);
	memset(&s, 0, sizeof(s));
	assert_int_equal(meta_list_orphans(f->m, seen_ino, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.inos[1], 1ull << 40);
}

/* ---- directories ---- */

static void test_readdir_order_after(void **state)
{
	struct fix *f = *state;
	const char *names[] = { "b", "a", "ab", "A", "z", "\xc3\xa9", "a b",
				"aa" };
	const char *sorted[] = { "A", "a", "a b", "aa", "ab", "b", "z",
				 "\xc3\xa9" };
	struct seen s = { 0 };

	for (int i = 0; i < 8; i++)
		put_dirent(f->m, 10, names[i], 1000 + (uint64_t)i);

	assert_int_equal(meta_readdir(f->m, 10, NULL, seen_dirent, &s), 0);
	assert_int_equal(s.n, 8);
	for (int i = 0; i < 8; i++)
		assert_string_equal(s.names[i], sorted[i]);
	assert_int_equal(s.inos[0], 1003);

	/* Strictly after an existing name. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(meta_readdir(f->m, 10, "aa", seen_dirent, &s), 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.names[0], "ab");

	/* After a name that is not there. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(meta_readdir(f->m, 10, "a0", seen_dirent, &s), 0);
	assert_int_equal(s.n, 5);
	assert_string_equal(s.names[0], "aa");

	/* After the last one, and after a prefix of names. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(meta_readdir(f->m, 10, "\xc3\xa9", seen_dirent, &s), 0);
	assert_int_equal(s.n, 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(meta_readdir(f->m, 10, "a", seen_dirent, &s), 0);
	assert_int_equal(s.n, 6);
	assert_string_equal(s.names[0], "a b");

	/* The callback's nonzero return stops and is returned. */
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	assert_int_equal(meta_readdir(f->m, 10, NULL, seen_dirent, &s), 7);
	assert_int_equal(s.n, 2);

	/* A long "after" works too (strictly after, byte order). */
	{
		char longer[300];

		memset(longer, 'a', sizeof(longer) - 1);
		longer[sizeof(longer) - 1] = 0;
		memset(&s, 0, sizeof(s));
		assert_int_equal(meta_readdir(f->m, 10, longer, seen_dirent,
					      &s), 0);
		assert_int_equal(s.n, 4);
		assert_string_equal(s.names[0], "ab");
	}
}

static void test_prefix_isolation(void **state)
{
	struct fix *f = *state;
	uint64_t parents[] = { 0, 1, 2, 255, 256, 0x00ffffffffffffffull,
			       0x0100000000000000ull, UINT64_MAX - 1,
			       UINT64_MAX };
	const int np = 9;
	struct meta_batch *b = nb();

	for (int i = 0; i < np; i++) {
		struct meta_dirent d = { .ino = parents[i], .type = S_IFREG };
		struct meta_extent e = sample_extent(0);
		struct meta_extent e2 = sample_extent(UINT64_MAX);
		char name[32];

		/* Names that start with 0xff and 0x00-ish bytes. */
		snprintf(name, sizeof(name), "n%d", i);
		meta_put_dirent(b, parents[i], name, &d);
		meta_put_dirent(b, parents[i], "\xff\xff", &d);
		meta_put_dirent(b, parents[i], "\x01", &d);
		meta_put_xattr(b, parents[i], name, name, strlen(name));
		meta_put_xattr(b, parents[i], "\xff", "", 0);
		meta_put_extent(b, parents[i], &e);
		meta_put_extent(b, parents[i], &e2);
	}
	commit_free(f->m, b);

	for (int i = 0; i < np; i++) {
		struct seen s = { 0 };
		struct meta_extent *v;
		size_t n;
		char name[32];

		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(meta_readdir(f->m, parents[i], NULL,
					      seen_dirent, &s), 0);
		assert_int_equal(s.n, 3);
		assert_string_equal(s.names[0], "\x01");
		assert_string_equal(s.names[1], name);
		assert_string_equal(s.names[2], "\xff\xff");
		for (int k = 0; k < 3; k++)
			assert_int_equal(s.inos[k], parents[i]);

		memset(&s, 0, sizeof(s));
		assert_int_equal(meta_list_xattrs(f->m, parents[i], seen_name,
						  &s), 0);
		assert_int_equal(s.n, 2);
		assert_string_equal(s.names[0], name);
		assert_string_equal(s.names[1], "\xff");

		assert_int_equal(meta_load_extents(f->m, parents[i], &v, &n), 0);
		assert_int_equal(n, 2);
		assert_int_equal(v[0].off, 0);
		assert_int_equal(v[1].off, UINT64_MAX);
		free(v);
		assert_int_equal(meta_dir_empty(f->m, parents[i]), 0);
	}
	/* Neighbours of the used numbers see nothing. */
	{
		uint64_t empty[] = { 3, 254, 257, 0x00fffffffffffffeull,
				     0x0100000000000001ull, UINT64_MAX - 2 };

		for (int i = 0; i < 6; i++) {
			struct seen s = { 0 };
			struct meta_extent *v;
			size_t n;

			assert_int_equal(meta_readdir(f->m, empty[i], NULL,
						      seen_dirent, &s), 0);
			assert_int_equal(s.n, 0);
			assert_int_equal(meta_list_xattrs(f->m, empty[i],
							  seen_name, &s), 0);
			assert_int_equal(s.n, 0);
			assert_int_equal(meta_load_extents(f->m, empty[i], &v,
							   &n), 0);
			assert_int_equal(n, 0);
			assert_int_equal(meta_dir_empty(f->m, empty[i]), 1);
		}
	}
}

static void test_dir_empty(void **state)
{
	struct fix *f = *state;
	struct meta_batch *b;

	assert_int_equal(meta_dir_empty(f->m, 1), 1);
	put_dirent(f->m, 1, "only", 2);
	assert_int_equal(meta_dir_empty(f->m, 1), 0);
	assert_int_equal(meta_dir_empty(f->m, 2), 1);
	assert_int_equal(meta_dir_empty(f->m, 0), 1);
	b = nb();
	meta_del_dirent(b, 1, "only");
	commit_free(f->m, b);
	assert_int_equal(meta_dir_empty(f->m, 1), 1);
}

/* ---- deletion of a whole inode ---- */

static void put_inode_all(struct meta *m, uint64_t ino)
{
	struct meta_batch *b = nb();
	struct meta_inode in = sample_inode(ino);
	struct meta_extent e0 = sample_extent(0), e1 = sample_extent(UINT64_MAX);

	meta_put_inode(b, &in);
	meta_put_symlink(b, ino, "target");
	meta_put_xattr(b, ino, "user.a", "1", 1);
	meta_put_xattr(b, ino, "\xff\xff\xff", "2", 1);
	meta_put_extent(b, ino, &e0);
	meta_put_extent(b, ino, &e1);
	commit_free(m, b);
}

static void assert_inode_all(struct meta *m, uint64_t ino, int present)
{
	struct meta_inode in;
	struct meta_extent *v;
	struct seen s = { 0 };
	char buf[32];
	size_t n;

	assert_int_equal(meta_get_inode(m, ino, &in), present ? 0 : -ENOENT);
	assert_int_equal(meta_get_symlink(m, ino, buf, sizeof(buf)),
			 present ? 0 : -ENOENT);
	assert_int_equal(meta_get_xattr(m, ino, "user.a", NULL, 0),
			 present ? 1 : -ENODATA);
	assert_int_equal(meta_list_xattrs(m, ino, seen_name, &s), 0);
	assert_int_equal(s.n, present ? 2 : 0);
	assert_int_equal(meta_load_extents(m, ino, &v, &n), 0);
	assert_int_equal(n, present ? 2 : 0);
	free(v);
}

static void test_del_inode_all(void **state)
{
	struct fix *f = *state;
	uint64_t inos[] = { 99, 100, 101, 255, 256, UINT64_MAX - 1,
			    UINT64_MAX };
	struct meta_batch *b;

	for (int i = 0; i < 7; i++)
		put_inode_all(f->m, inos[i]);
	put_dirent(f->m, 100, "child", 5);

	b = nb();
	meta_del_inode_all(b, 100);
	meta_del_inode_all(b, 255);
	meta_del_inode_all(b, UINT64_MAX);
	assert_int_equal(meta_batch_count(b), 3);
	commit_free(f->m, b);

	assert_inode_all(f->m, 100, 0);
	assert_inode_all(f->m, 255, 0);
	assert_inode_all(f->m, UINT64_MAX, 0);
	assert_inode_all(f->m, 99, 1);
	assert_inode_all(f->m, 101, 1);
	assert_inode_all(f->m, 256, 1);
	assert_inode_all(f->m, UINT64_MAX - 1, 1);
	/* Directory entries are not the inode's records. */
	assert_int_equal(meta_dir_empty(f->m, 100), 0);

	/* Still gone after a reopen (range deletions are persistent). */
	reopen(f);
	assert_inode_all(f->m, 100, 0);
	assert_inode_all(f->m, 101, 1);
}

/* ---- counters and sys keys ---- */

static void test_counters(void **state)
{
	struct fix *f = *state;
	struct meta_batch *b;
	int64_t v;

	assert_int_equal(meta_get_counter(f->m, "files", &v), 0);
	assert_int_equal(v, 0);
	for (int i = 1; i <= 10; i++) {
		b = nb();
		meta_add_counter(b, "files", i);
		meta_add_counter(b, "bytes", -3);
		meta_add_counter(b, "bytes", 1);
		commit_free(f->m, b);
	}
	assert_int_equal(meta_get_counter(f->m, "files", &v), 0);
	assert_int_equal(v, 55);
	assert_int_equal(meta_get_counter(f->m, "bytes", &v), 0);
	assert_int_equal(v, -20);

	reopen(f);
	assert_int_equal(meta_get_counter(f->m, "files", &v), 0);
	assert_int_equal(v, 55);
	b = nb();
	meta_add_counter(b, "files", -56);
	meta_add_counter(b, "big", INT64_MAX);
	commit_free(f->m, b);
	assert_int_equal(meta_get_counter(f->m, "files", &v), 0);
	assert_int_equal(v, -1);
	reopen(f);
	assert_int_equal(meta_get_counter(f->m, "files", &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(meta_get_counter(f->m, "big", &v), 0);
	assert_int_equal(v, INT64_MAX);
	assert_int_equal(meta_get_counter(f->m, "bytes", &v), 0);
	assert_int_equal(v, -20);

	/* Deltas on top of a stored base value (the full merge's input). */
	{
		uint8_t base[8];

		le64(base, (uint64_t)-100);
		assert_int_equal(meta_debug_put_raw(f->m, META_CF_STATS, "base",
						    4, base, 8), 0);
		b = nb();
		meta_add_counter(b, "base", 30);
		commit_free(f->m, b);
		b = nb();
		meta_add_counter(b, "base", 1);
		commit_free(f->m, b);
		assert_int_equal(meta_get_counter(f->m, "base", &v), 0);
		assert_int_equal(v, -69);
	}
}

static void test_sys_u64(void **state)
{
	struct fix *f = *state;
	struct meta_batch *b = nb();
	uint64_t v;

	assert_int_equal(meta_get_sys_u64(f->m, "next_ino", &v), -ENOENT);
	meta_put_sys_u64(b, "next_ino", 2);
	meta_put_sys_u64(b, "max", UINT64_MAX);
	commit_free(f->m, b);
	assert_int_equal(meta_get_sys_u64(f->m, "next_ino", &v), 0);
	assert_int_equal(v, 2);
	b = nb();
	meta_put_sys_u64(b, "next_ino", 1ull << 63);
	commit_free(f->m, b);
	reopen(f);
	assert_int_equal(meta_get_sys_u64(f->m, "next_ino", &v), 0);
	assert_int_equal(v, 1ull << 63);
	assert_int_equal(meta_get_sys_u64(f->m, "max", &v), 0);
	assert_int_equal(v, UINT64_MAX);
}

/* ---- batches and durability ---- */

static void test_batch_atomic(void **state)
{
	struct fix *f = *state;
	struct meta_batch *b = nb();
	struct meta_inode in;
	struct meta_dirent d;
	struct seen s = { 0 };
	int64_t c;
	uint64_t v;

	assert_int_equal(meta_batch_count(b), 0);
	for (uint64_t i = 2; i < 42; i++) {
		struct meta_inode x = sample_inode(i);
		struct meta_dirent dd = { .ino = i, .type = S_IFREG };
		struct meta_extent e = sample_extent(i * 4096);
		char name[16];

		snprintf(name, sizeof(name), "f%03u", (unsigned)i);
		meta_put_inode(b, &x);
		meta_put_dirent(b, 1, name, &dd);
		meta_put_extent(b, i, &e);
		meta_add_counter(b, "inodes", 1);
	}
	meta_put_sys_u64(b, "next_ino", 42);
	meta_put_orphan(b, 41);
	assert_int_equal(meta_batch_count(b), 40 * 4 + 2);
	/* Nothing is visible before the commit. */
	assert_int_equal(meta_get_inode(f->m, 2, &in), -ENOENT);
	assert_int_equal(meta_commit(f->m, b, 1), 0);
	/* The batch is left as it was. */
	assert_int_equal(meta_batch_count(b), 40 * 4 + 2);

	assert_int_equal(meta_readdir(f->m, 1, NULL, seen_dirent, &s), 0);
	assert_int_equal(s.n, 40);
	for (uint64_t i = 2; i < 42; i++) {
		struct meta_extent *ev;
		size_t n;

		assert_int_equal(meta_get_inode(f->m, i, &in), 0);
		assert_int_equal(in.ino, i);
		assert_int_equal(meta_load_extents(f->m, i, &ev, &n), 0);
		assert_int_equal(n, 1);
		assert_int_equal(ev[0].off, i * 4096);
		free(ev);
	}
	assert_int_equal(meta_get_counter(f->m, "inodes", &c), 0);
	assert_int_equal(c, 40);
	assert_int_equal(meta_get_sys_u64(f->m, "next_ino", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(meta_get_dirent(f->m, 1, "f041", &d), 0);
	assert_int_equal(d.ino, 41);

	/* A commit of the same batch again applies it again (merges too). */
	assert_int_equal(meta_commit(f->m, b, 0), 0);
	assert_int_equal(meta_get_counter(f->m, "inodes", &c), 0);
	assert_int_equal(c, 80);

	meta_batch_clear(b);
	assert_int_equal(meta_batch_count(b), 0);
	assert_int_equal(meta_commit(f->m, b, 0), 0);
	assert_int_equal(meta_commit(f->m, b, 1), 0);
	assert_int_equal(meta_sync(f->m), 0);
	meta_batch_free(b);
	meta_batch_free(NULL);
}

static void test_persistence(void **state)
{
	struct fix *f = *state;
	struct meta_batch *b = nb();
	struct meta_inode in = sample_inode(12), out;
	struct meta_dirent d = { .ino = 12, .type = S_IFLNK }, dout;
	struct meta_extent e = sample_extent(8192), *ev;
	struct seen s = { 0 };
	char buf[64];
	size_t n;

	meta_put_inode(b, &in);
	meta_put_dirent(b, 1, "link", &d);
	meta_put_symlink(b, 12, "/etc/passwd");
	meta_put_xattr(b, 12, "user.k", "value", 5);
	meta_put_extent(b, 12, &e);
	meta_put_orphan(b, 12);
	assert_int_equal(meta_commit(f->m, b, 0), 0);
	meta_batch_free(b);
	assert_int_equal(meta_sync(f->m), 0);

	reopen(f);
	assert_int_equal(meta_get_inode(f->m, 12, &out), 0);
	assert_inode_equal(&out, &in);
	assert_int_equal(meta_get_dirent(f->m, 1, "link", &dout), 0);
	assert_int_equal(dout.ino, 12);
	assert_int_equal(dout.type, S_IFLNK);
	assert_int_equal(meta_get_symlink(f->m, 12, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/etc/passwd");
	assert_int_equal(meta_get_xattr(f->m, 12, "user.k", buf, sizeof(buf)),
			 5);
	assert_memory_equal(buf, "value", 5);
	assert_int_equal(meta_load_extents(f->m, 12, &ev, &n), 0);
	assert_int_equal(n, 1);
	assert_extent_equal(&ev[0], &e);
	free(ev);
	assert_int_equal(meta_list_orphans(f->m, seen_ino, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.inos[0], 12);
}

/* ---- corruption ---- */

/* A valid dirent record built by hand from the documented layout. */
static size_t hand_dirent(uint8_t *p, uint64_t ino, uint32_t type)
{
	p[0] = 2;
	p[1] = 1;
	le64(p + 2, ino);
	le32(p + 10, type);
	return seal(p, 14);
}

/* Runs fn with stderr going to a file; returns what was logged. */
static char *capture_stderr(int (*fn)(struct fix *), struct fix *f, int *rc)
{
	char path[128], *text;
	int fd, saved;
	FILE *fp;
	long len;

	snprintf(path, sizeof(path), "%s/stderr", f->dir);
	fflush(stderr);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	saved = dup(2);
	dup2(fd, 2);
	close(fd);
	*rc = fn(f);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fp = fopen(path, "r");
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	text = calloc(1, (size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	return text;
}

static int get_inode_7(struct fix *f)
{
	struct meta_inode in;

	return meta_get_inode(f->m, 7, &in);
}

static void test_corrupt_inodes(void **state)
{
	struct fix *f = *state;
	struct meta_batch *b = nb();
	struct meta_inode in;
	struct seen s = { 0 };
	uint8_t key[8], rec[128];
	size_t len;
	char *log;
	int rc;

	for (uint64_t i = 5; i <= 9; i++) {
		struct meta_inode x = sample_inode(i);

		meta_put_inode(b, &x);
	}
	commit_free(f->m, b);

	/* A hand-built record of the documented layout decodes. */
	memset(rec, 0, sizeof(rec));
	rec[0] = 1;
	rec[1] = 1;
	le32(rec + 2, 040755);
	le32(rec + 14, 2);             /* nlink */
	le64(rec + 18, 4096);          /* size */
	le64(rec + 34, 1234);          /* atime seconds */
	le32(rec + 42, 5);             /* atime nanoseconds */
	le64(rec + 94, 77);            /* parent */
	len = seal(rec, 102);
	be64(key, 6);
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_INODES, key, 8, rec,
					    len), 0);
	assert_int_equal(meta_get_inode(f->m, 6, &in), 0);
	assert_int_equal(in.mode, 040755);
	assert_int_equal(in.nlink, 2);
	assert_int_equal(in.size, 4096);
	assert_int_equal(in.atime.tv_sec, 1234);
	assert_int_equal(in.atime.tv_nsec, 5);
	assert_int_equal(in.parent, 77);

	/* Nanoseconds of a whole second, with a valid checksum. */
	le32(rec + 42, 1000000000u);
	seal(rec, 102);
	be64(key, 7);
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_INODES, key, 8, rec,
					    len), 0);
	assert_int_equal(meta_get_inode(f->m, 7, &in), -EUCLEAN);
	le32(rec + 42, 5);
	seal(rec, 102);

	/* Truncated by one byte (the checksum no longer matches). */
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_INODES, key, 8, rec,
					    len - 1), 0);
	log = capture_stderr(get_inode_7, f, &rc);
	assert_int_equal(rc, -EUCLEAN);
	assert_non_null(strstr(log, "inodes"));
	assert_non_null(strstr(log, "ino 7"));
	free(log);

	/* Neighbours stay readable; a scan stops at the corrupt one. */
	assert_int_equal(meta_get_inode(f->m, 8, &in), 0);
	assert_int_equal(meta_list_inodes(f->m, seen_inode, &s), -EUCLEAN);
	assert_int_equal(s.n, 2);      /* 5 and 6 */

	/* One flipped byte. */
	rec[20] ^= 0x10;
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_INODES, key, 8, rec,
					    len), 0);
	assert_int_equal(meta_get_inode(f->m, 7, &in), -EUCLEAN);
	rec[20] ^= 0x10;

	/* A valid record of another kind. */
	len = hand_dirent(rec, 7, S_IFREG);
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_INODES, key, 8, rec,
					    len), 0);
	assert_int_equal(meta_get_inode(f->m, 7, &in), -EUCLEAN);

	/* Unknown version, with a correct checksum. */
	len = hand_dirent(rec, 7, S_IFREG);
	rec[0] = 1;
	rec[1] = 2;
	seal(rec, len - 4);
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_INODES, key, 8, rec,
					    len), 0);
	assert_int_equal(meta_get_inode(f->m, 7, &in), -EUCLEAN);

	/* Empty and one-byte values. */
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_INODES, key, 8, "",
					    0), 0);
	assert_int_equal(meta_get_inode(f->m, 7, &in), -EUCLEAN);
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_INODES, key, 8, "\1",
					    1), 0);
	assert_int_equal(meta_get_inode(f->m, 7, &in), -EUCLEAN);

	/* A key that is not 8 bytes stops the scan too. */
	b = nb();
	meta_del_inode_all(b, 7);
	commit_free(f->m, b);
	memset(&s, 0, sizeof(s));
	assert_int_equal(meta_list_inodes(f->m, seen_inode, &s), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_INODES, "abc", 3,
					    rec, len), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(meta_list_inodes(f->m, seen_inode, &s), -EUCLEAN);
}

static void test_corrupt_dirents(void **state)
{
	struct fix *f = *state;
	struct meta_dirent d;
	struct seen s = { 0 };
	uint8_t key[8 + 300], rec[64];
	size_t len;

	put_dirent(f->m, 1, "a", 2);
	put_dirent(f->m, 1, "c", 4);
	put_dirent(f->m, 2, "a", 5);

	/* Hand-built record decodes; the same with a flipped byte does not. */
	be64(key, 1);
	memcpy(key + 8, "b", 1);
	len = hand_dirent(rec, 3, S_IFDIR);
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_DENTRIES, key, 9, rec,
					    len), 0);
	assert_int_equal(meta_get_dirent(f->m, 1, "b", &d), 0);
	assert_int_equal(d.ino, 3);
	assert_int_equal(d.type, S_IFDIR);
	rec[5] ^= 1;
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_DENTRIES, key, 9, rec,
					    len), 0);
	assert_int_equal(meta_get_dirent(f->m, 1, "b", &d), -EUCLEAN);
	assert_int_equal(meta_get_dirent(f->m, 1, "a", &d), 0);
	assert_int_equal(meta_get_dirent(f->m, 1, "c", &d), 0);
	assert_int_equal(meta_readdir(f->m, 1, NULL, seen_dirent, &s),
			 -EUCLEAN);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], "a");
	/* Starting after the bad one is fine; other parents are fine. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(meta_readdir(f->m, 1, "b", seen_dirent, &s), 0);
	assert_int_equal(s.n, 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(meta_readdir(f->m, 2, NULL, seen_dirent, &s), 0);
	assert_int_equal(s.n, 1);

	/* Wrong kind: an inode-kind header on a dirent-sized record. */
	len = hand_dirent(rec, 3, S_IFDIR);
	rec[0] = 1;
	seal(rec, len - 4);
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_DENTRIES, key, 9, rec,
					    len), 0);
	assert_int_equal(meta_get_dirent(f->m, 1, "b", &d), -EUCLEAN);

	/* Right checksum but a trailing byte: lengths do not add up. */
	len = hand_dirent(rec, 3, S_IFDIR);
	rec[14] = 0;
	len = seal(rec, 15);
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_DENTRIES, key, 9, rec,
					    len), 0);
	assert_int_equal(meta_get_dirent(f->m, 1, "b", &d), -EUCLEAN);

	/* Keys with an empty name and a 256-byte name in parent 3. */
	len = hand_dirent(rec, 3, S_IFDIR);
	be64(key, 3);
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_DENTRIES, key, 8, rec,
					    len), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(meta_readdir(f->m, 3, NULL, seen_dirent, &s),
			 -EUCLEAN);
	assert_int_equal(meta_dir_empty(f->m, 3), 0);
	be64(key, 4);
	memset(key + 8, 'q', 256);
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_DENTRIES, key, 264,
					    rec, len), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(meta_readdir(f->m, 4, NULL, seen_dirent, &s),
			 -EUCLEAN);
	assert_int_equal(s.n, 0);
}

static void test_corrupt_xattr_symlink_extent(void **state)
{
	struct fix *f = *state;
	struct meta_batch *b = nb();
	struct meta_extent e = sample_extent(0), e2 = sample_extent(4096), *v;
	struct seen s = { 0 };
	uint8_t key[32], rec[96];
	char buf[64];
	size_t n, len;

	meta_put_xattr(b, 20, "user.a", "A", 1);
	meta_put_xattr(b, 20, "user.c", "C", 1);
	meta_put_symlink(b, 20, "t");
	meta_put_symlink(b, 21, "u");
	meta_put_extent(b, 20, &e);
	meta_put_extent(b, 20, &e2);
	meta_put_extent(b, 21, &e);
	commit_free(f->m, b);

	/* An xattr record whose length field claims more than is there,
	 * with a valid checksum. */
	rec[0] = 3;
	rec[1] = 1;
	le32(rec + 2, 10);
	memcpy(rec + 6, "12345", 5);
	len = seal(rec, 11);
	be64(key, 20);
	memcpy(key + 8, "user.b", 6);
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_XATTRS, key, 14, rec,
					    len), 0);
	assert_int_equal(meta_get_xattr(f->m, 20, "user.b", buf, sizeof(buf)),
			 -EUCLEAN);
	assert_int_equal(meta_get_xattr(f->m, 20, "user.a", buf, sizeof(buf)),
			 1);
	/* Listed all the same, with the names after it: the damage is the
	 * value's (stopped at user.b before). */
	assert_int_equal(meta_list_xattrs(f->m, 20, seen_name, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.names[1], "user.b");
	/* The same record with the right length decodes. */
	le32(rec + 2, 5);
	len = seal(rec, 11);
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_XATTRS, key, 14, rec,
					    len), 0);
	assert_int_equal(meta_get_xattr(f->m, 20, "user.b", buf, sizeof(buf)),
			 5);
	assert_memory_equal(buf, "12345", 5);

	/* Symlink: truncated record. */
	rec[0] = 5;
	rec[1] = 1;
	le32(rec + 2, 3);
	memcpy(rec + 6, "abc", 3);
	len = seal(rec, 9);
	be64(key, 20);
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_SYMLINKS, key, 8, rec,
					    len), 0);
	assert_int_equal(meta_get_symlink(f->m, 20, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "abc");
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_SYMLINKS, key, 8, rec,
					    len - 2), 0);
	assert_int_equal(meta_get_symlink(f->m, 20, buf, sizeof(buf)),
			 -EUCLEAN);
	assert_int_equal(meta_get_symlink(f->m, 21, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "u");

	/* Extent: flipped byte in the second extent of inode 20. */
	rec[0] = 4;
	rec[1] = 1;
	memset(rec + 2, 0, 56);
	le64(rec + 2, 4096);           /* len */
	len = seal(rec, 58);
	be64(key, 20);
	be64(key + 8, 4096);
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_EXTENTS, key, 16, rec,
					    len), 0);
	assert_int_equal(meta_load_extents(f->m, 20, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[1].len, 4096);
	free(v);
	rec[30] ^= 0x80;
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_EXTENTS, key, 16, rec,
					    len), 0);
	v = (void *)1;
	n = 99;
	assert_int_equal(meta_load_extents(f->m, 20, &v, &n), -EUCLEAN);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_int_equal(meta_load_extents(f->m, 21, &v, &n), 0);
	assert_int_equal(n, 1);
	free(v);
	/* An extent key of the wrong length. */
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_EXTENTS, key, 12, rec,
					    len), 0);
	assert_int_equal(meta_load_extents(f->m, 20, &v, &n), -EUCLEAN);
}

static void test_corrupt_sys_counter_orphan(void **state)
{
	struct fix *f = *state;
	struct meta_batch *b = nb();
	struct seen s = { 0 };
	uint8_t key[9] = { 0 };
	uint64_t v;
	int64_t c;

	meta_put_sys_u64(b, "good", 1);
	meta_add_counter(b, "good", 5);
	meta_put_orphan(b, 3);
	commit_free(f->m, b);

	assert_int_equal(meta_debug_put_raw(f->m, META_CF_DEFAULT, "bad", 3,
					    "\6\1\0\0\0\0\0\0\0\0\0\0\0", 13),
			 0);
	assert_int_equal(meta_get_sys_u64(f->m, "bad", &v), -EUCLEAN);
	assert_int_equal(meta_get_sys_u64(f->m, "good", &v), 0);
	assert_int_equal(v, 1);

	/* A counter of the wrong size, read plain and through a merge. */
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_STATS, "bad", 3,
					    "xyz", 3), 0);
	assert_int_equal(meta_get_counter(f->m, "bad", &c), -EUCLEAN);
	b = nb();
	meta_add_counter(b, "bad", 1);
	meta_add_counter(b, "good", 1);
	commit_free(f->m, b);
	assert_int_equal(meta_get_counter(f->m, "bad", &c), -EUCLEAN);
	assert_int_equal(meta_get_counter(f->m, "good", &c), 0);
	assert_int_equal(c, 6);
	/* The store stays usable for writes (the merge did not fail). */
	reopen(f);
	assert_int_equal(meta_get_counter(f->m, "good", &c), 0);
	assert_int_equal(c, 6);
	assert_int_equal(meta_get_counter(f->m, "bad", &c), -EUCLEAN);

	/* Orphans: a value where none belongs, a key of the wrong size. */
	be64(key, 4);
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_ORPHANS, key, 8, "x",
					    1), 0);
	assert_int_equal(meta_list_orphans(f->m, seen_ino, &s), -EUCLEAN);
	assert_int_equal(s.n, 1);
	b = nb();
	meta_del_orphan(b, 4);
	commit_free(f->m, b);
	memset(&s, 0, sizeof(s));
	assert_int_equal(meta_list_orphans(f->m, seen_ino, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_ORPHANS, key, 9, "",
					    0), 0);
	assert_int_equal(meta_list_orphans(f->m, seen_ino, &s), -EUCLEAN);

	assert_int_equal(meta_debug_put_raw(f->m, META_CF_COUNT, key, 8, "", 0),
			 -EINVAL);
}

/* ---- opening ---- */

static void test_open_errors(void **state)
{
	struct fix *f = *state;
	struct meta *m = (void *)1;
	char path[256], err[512];
	int rc;

	/* Missing parent directory. */
	snprintf(path, sizeof(path), "%s/nope/meta", f->dir);
	err[0] = 0;
	assert_int_equal(meta_open(path, &m, err, sizeof(err)), -ENOENT);
	assert_null(m);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "does not exist"));

	/* Parent is a file. */
	snprintf(path, sizeof(path), "%s/file", f->dir);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof(path), "%s/file/meta", f->dir);
	assert_int_equal(meta_open(path, &m, err, sizeof(err)), -ENOTDIR);

	/* Already open: RocksDB's lock refuses a second open. */
	err[0] = 0;
	rc = meta_open(f->path, &m, err, sizeof(err));
	assert_true(rc < 0);
	assert_null(m);
	assert_non_null(strstr(err, "cannot open metadata store"));
	assert_non_null(strstr(err, f->path));

	/* An empty path. */
	assert_int_equal(meta_open("", &m, err, sizeof(err)), -EINVAL);
	meta_close(NULL);
}

/* Opens a closed store with RocksDB directly (every family, as RocksDB
 * requires), optionally adds a family, and puts key/val into default
 * (deletes key when val is NULL). */
static void raw_store(const char *path, const char *new_cf, const char *key,
		      const void *val, size_t len)
{
	const char *names[] = { "default", "inodes", "dentries", "xattrs",
				"extents", "symlinks", "orphans", "stats",
				"jobs", "access" };
	rocksdb_options_t *o = rocksdb_options_create();
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	const rocksdb_options_t *opts[10];
	rocksdb_column_family_handle_t *hs[10], *h;
	char *rerr = NULL;
	rocksdb_t *db;

	for (int i = 0; i < 10; i++)
		opts[i] = o;
	db = rocksdb_open_column_families(o, path, 10, names, opts, hs, &rerr);
	assert_null(rerr);
	if (new_cf) {
		h = rocksdb_create_column_family(db, o, new_cf, &rerr);
		assert_null(rerr);
		rocksdb_column_family_handle_destroy(h);
	}
	if (key && val)
		rocksdb_put(db, wo, key, strlen(key), val, len, &rerr);
	else if (key)
		rocksdb_delete(db, wo, key, strlen(key), &rerr);
	assert_null(rerr);
	for (int i = 0; i < 10; i++)
		rocksdb_column_family_handle_destroy(hs[i]);
	rocksdb_close(db);
	rocksdb_writeoptions_destroy(wo);
	rocksdb_options_destroy(o);
}

static void raw_put_default(const char *path, const char *key,
			    const void *val, size_t len)
{
	raw_store(path, NULL, key, val, len);
}

static void put_format(struct fix *f, const void *val, size_t len)
{
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_DEFAULT,
					    "meta.format", 11, val, len), 0);
	meta_close(f->m);
	f->m = NULL;
}

static void test_open_format(void **state)
{
	struct fix *f = *state;
	uint8_t rec[16];
	char err[512];

	rec[0] = 6;
	rec[1] = 1;
	le64(rec + 2, 99);
	seal(rec, 10);
	put_format(f, rec, 14);
	err[0] = 0;
	assert_int_equal(meta_open(f->path, &f->m, err, sizeof(err)),
			 -ENOTSUP);
	assert_null(f->m);
	assert_non_null(strstr(err, "format version 99"));

	/* The store is closed: corrupt the record with a raw handle. */
	rec[5] ^= 1;
	raw_put_default(f->path, "meta.format", rec, 14);
	assert_int_equal(meta_open(f->path, &f->m, err, sizeof(err)),
			 -EUCLEAN);
	assert_non_null(strstr(err, "corrupt"));
}

/* A store holding a column family this code does not know still opens. */
static void test_open_unknown_cf(void **state)
{
	struct fix *f = *state;
	struct meta_inode in = sample_inode(2), out;
	struct meta_batch *b = nb();

	meta_put_inode(b, &in);
	commit_free(f->m, b);
	meta_close(f->m);
	f->m = NULL;
	raw_store(f->path, "future", NULL, NULL, 0);
	reopen(f);
	assert_int_equal(meta_get_inode(f->m, 2, &out), 0);
	assert_inode_equal(&out, &in);
	b = nb();
	meta_add_counter(b, "n", 2);
	commit_free(f->m, b);
}

static int count_inode(void *arg, const struct meta_inode *in)
{
	(*(int *)arg)++;
	return 0;
}

/* A store whose CURRENT file is lost is damaged, not new. The first open
 * failed, but RocksDB had been asked to create a store there: the second
 * open then returned an empty one and its tables were deleted. */
static void test_lost_current_refused(void **state)
{
	struct fix *f = *state;
	struct meta_batch *b = nb();
	char cur[256], err[512];
	int n = 0;

	for (uint64_t i = 2; i < 200; i++) {
		struct meta_inode in = sample_inode(i);

		meta_put_inode(b, &in);
	}
	commit_free(f->m, b);
	meta_close(f->m);
	f->m = NULL;
	snprintf(cur, sizeof(cur), "%s/CURRENT", f->path);
	assert_int_equal(unlink(cur), 0);
	for (int attempt = 0; attempt < 2; attempt++) {
		err[0] = 0;
		assert_int_equal(meta_open(f->path, &f->m, err, sizeof(err)),
				 -EUCLEAN);
		assert_null(f->m);
		assert_non_null(strstr(err, "no CURRENT"));
	}
	/* nothing was deleted: a CURRENT naming the manifest brings it back */
	{
		struct dirent *de;
		DIR *d = opendir(f->path);
		FILE *fp;

		assert_non_null(d);
		while ((de = readdir(d)))
			if (!strncmp(de->d_name, "MANIFEST-", 9))
				break;
		assert_non_null(de);
		fp = fopen(cur, "w");
		assert_non_null(fp);
		fprintf(fp, "%s\n", de->d_name);
		assert_int_equal(fclose(fp), 0);
		closedir(d);
	}
	reopen(f);
	assert_int_equal(meta_list_inodes(f->m, count_inode, &n), 0);
	assert_int_equal(n, 198);
}

/* A store without its format record is refused when it holds inodes
 * (before, it was stamped with this build's format and used); one that
 * holds none, as a crash between creating a store and writing the
 * record leaves it, gets the record. */
static void test_missing_format(void **state)
{
	struct fix *f = *state;
	struct meta_inode in = sample_inode(2);
	struct meta_batch *b;
	char err[512] = "";

	meta_close(f->m);
	f->m = NULL;
	raw_store(f->path, NULL, "meta.format", NULL, 0);
	reopen(f);
	b = nb();
	meta_put_inode(b, &in);
	commit_free(f->m, b);
	meta_close(f->m);
	f->m = NULL;
	raw_store(f->path, NULL, "meta.format", NULL, 0);
	assert_int_equal(meta_open(f->path, &f->m, err, sizeof(err)),
			 -EUCLEAN);
	assert_null(f->m);
	assert_non_null(strstr(err, "no format record"));
}

/* The test hook fails a commit of a non-empty batch, as meta.h says: an
 * empty one (fsync's) used it up before. */
static void test_fail_hook_skips_empty(void **state)
{
	struct fix *f = *state;
	struct meta_batch *b = nb();
	int left;

	meta_debug_fail_commits = 1;
	assert_int_equal(meta_commit(f->m, b, 1), 0);
	left = meta_debug_fail_commits;
	meta_debug_fail_commits = 0;
	meta_batch_free(b);
	assert_int_equal(left, 1);
}

struct acc_seen {
	int n, null_file;
};

static int acc_cb(void *arg, uint64_t ino, uint64_t off,
		  const struct access_stats *st,
		  const struct access_series *se)
{
	struct acc_seen *s = arg;

	s->n++;
	if (off == META_ACCESS_FILE && !st)
		s->null_file++;
	return 0;
}

/* An access key of 16 bytes whose offset is UINT64_MAX was reported as
 * the file's record (8-byte key): a caller deleting the corrupt record
 * deleted the file's valid one and the corrupt one stayed. It is
 * skipped as malformed now. */
static void test_access_key_max_offset(void **state)
{
	struct fix *f = *state;
	struct acc_seen s = { 0 };
	uint8_t key[16];

	be64(key, 5);
	be64(key + 8, UINT64_MAX);
	assert_int_equal(meta_debug_put_raw(f->m, META_CF_ACCESS, key, 16,
					    "junk", 4), 0);
	assert_int_equal(meta_list_access(f->m, acc_cb, &s), 0);
	assert_int_equal(s.n, 0);
}

/* A blob larger than META_SYS_BLOB_MAX was stored, and read back every
 * time as a corrupt record; its batch fails with E2BIG now. */
static void test_sys_blob_too_big(void **state)
{
	struct fix *f = *state;
	size_t len = META_SYS_BLOB_MAX + 1;
	struct meta_batch *b = nb();
	void *big = calloc(1, len), *out = NULL;

	assert_non_null(big);
	meta_put_sys_blob(b, "blob", big, len);
	assert_int_equal(meta_commit(f->m, b, 0), -E2BIG);
	meta_batch_free(b);
	free(big);
	assert_int_equal(meta_get_sys_blob(f->m, "blob", &out, &len), -ENOENT);
}

/* Makes a store at path with RocksDB directly: the families named (and
 * default), and a format record of version `format` unless it is 0. */
static void raw_new_store(const char *path, const char *const *cfs, int n,
			  uint64_t format)
{
	rocksdb_options_t *o = rocksdb_options_create();
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	char *rerr = NULL;
	rocksdb_t *db;

	rocksdb_options_set_create_if_missing(o, 1);
	db = rocksdb_open(o, path, &rerr);
	assert_null(rerr);
	for (int i = 0; i < n; i++) {
		rocksdb_column_family_handle_t *h =
			rocksdb_create_column_family(db, o, cfs[i], &rerr);

		assert_null(rerr);
		rocksdb_column_family_handle_destroy(h);
	}
	if (format) {
		uint8_t rec[16];

		rec[0] = 6;
		rec[1] = 1;
		le64(rec + 2, format);
		seal(rec, 10);
		rocksdb_put(db, wo, "meta.format", 11, (char *)rec, 14, &rerr);
		assert_null(rerr);
	}
	rocksdb_close(db);
	rocksdb_writeoptions_destroy(wo);
	rocksdb_options_destroy(o);
}

static size_t cf_count(const char *path)
{
	rocksdb_options_t *o = rocksdb_options_create();
	char *rerr = NULL, **cfs;
	size_t n = 0;

	cfs = rocksdb_list_column_families(o, path, &n, &rerr);
	assert_null(rerr);
	rocksdb_list_column_families_destroy(cfs, n);
	rocksdb_options_destroy(o);
	return n;
}

/* A store refused (another format, or another program's) is left as it
 * was: the open created this build's column families in it before it
 * read the format record. One that a crash left while being created (a
 * family or two of ours, no record) still opens. */
static void test_refused_store_untouched(void **state)
{
	struct fix *f = *state;
	static const char *const other[] = { "theirs" }, *const ours[] = { "inodes" };
	struct meta *m = NULL;
	char path[256], err[512] = "";

	snprintf(path, sizeof(path), "%s/v99", f->dir);
	raw_new_store(path, NULL, 0, 99);
	assert_int_equal(meta_open(path, &m, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "format version 99"));
	assert_int_equal(cf_count(path), 1);

	snprintf(path, sizeof(path), "%s/theirs", f->dir);
	raw_new_store(path, other, 1, 0);
	assert_int_equal(meta_open(path, &m, err, sizeof(err)), -EUCLEAN);
	assert_non_null(strstr(err, "another program"));
	assert_int_equal(cf_count(path), 2);

	snprintf(path, sizeof(path), "%s/half", f->dir);
	raw_new_store(path, ours, 1, 0);
	assert_int_equal(meta_open(path, &m, err, sizeof(err)), 0);
	meta_close(m);
	assert_int_equal(cf_count(path), META_CF_COUNT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_inode_roundtrip),
		T(test_list_inodes),
		T(test_dirent_roundtrip),
		T(test_symlink_roundtrip),
		T(test_xattr_roundtrip),
		T(test_extents_order),
		T(test_orphans),
		T(test_readdir_order_after),
		T(test_prefix_isolation),
		T(test_dir_empty),
		T(test_del_inode_all),
		T(test_counters),
		T(test_sys_u64),
		T(test_batch_atomic),
		T(test_persistence),
		T(test_corrupt_inodes),
		T(test_corrupt_dirents),
		T(test_corrupt_xattr_symlink_extent),
		T(test_corrupt_sys_counter_orphan),
		T(test_open_errors),
		T(test_open_format),
		T(test_open_unknown_cf),
		T(test_lost_current_refused),
		T(test_missing_format),
		T(test_fail_hook_skips_empty),
		T(test_access_key_max_offset),
		T(test_sys_blob_too_big),
		T(test_refused_store_untouched),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
