// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the placement policies (user.dfabric.pin, .latency,
 * .class, .policy) in fs/fs.c without a mount: a fabric of two local
 * tiers ("nvme", "hdd") and one object store tier ("cold", served by
 * s3rver through tests/s3server, run from the top of the tree). Extents
 * are 64 KiB. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/log.h"
#include "fs/fs.h"
#include "fs/meta.h"
#include "tests/unit/s3srv.h"
#include "tiering/score.h"
#include "tmpdir.h"

#define ES      ((uint64_t)65536)
#define ROOT    ((uint64_t)1)
#define T_NVME  0
#define T_HDD   1
#define T_COLD  2

#define PIN     "user.dfabric.pin"
#define LAT     "user.dfabric.latency"
#define CLS     "user.dfabric.class"
#define POL     "user.dfabric.policy"

static char g_dir[64];                 /* s3rver's directory */
static int g_port;                     /* its port */

struct fix {
	char dir[64];                  /* mkdtemp directory of the test */
	struct cfg cfg;                /* outlives the fabric */
	struct fabric *f;              /* open fabric or NULL */
	char buf[4096];                /* scratch */
};

static const struct fs_ctx root_ctx = { .uid = 0, .gid = 0, .pid = 1 };
static const struct fs_ctx user_ctx = { .uid = 1000, .gid = 1000, .pid = 2 };

static int group_setup(void **state)
{
	return s3srv_start_creds("test_policy", "/tmp/dfpol.XXXXXX", g_dir,
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
	strcpy(x->dir, "/tmp/test_policy.XXXXXX");
	if (tmpdir_tiers(x->dir) < 0)
		goto fail;
	*state = x;
	return 0;
fail:
	tmpdir_remove(x->dir);
	free(x);
	return -1;
}

static int teardown(void **state)
{
	struct fix *x = *state;

	if (x->f)
		fs_fabric_close(x->f);
	tmpdir_remove(x->dir);
	free(x);
	return 0;
}

/* Opens a fabric: nvme, hdd, cold (private = cold_private). Each test
 * gets its own key prefix in the one bucket. */
static void fab_open(struct fix *x, int cold_private)
{
	char text[2048], err[CFG_ERR_MAX] = "";
	int rc;

	snprintf(text, sizeof(text),
		 "[fabric]\nmeta = %s/meta\nextent_size = 64K\n"
		 "[tier.nvme]\nkind = local\npath = %s/nvme\ncapacity = 16M\n"
		 "[tier.hdd]\nkind = local\npath = %s/hdd\ncapacity = 64M\n"
		 "[tier.cold]\nkind = s3\nendpoint = 127.0.0.1:%d\n"
		 "bucket = dfabric\ntls = no\ncapacity = 1G\n"
		 "prefix = %s/\ncredentials_file = %s/creds\nprivate = %s\n",
		 x->dir, x->dir, x->dir, g_port, strrchr(x->dir, '/') + 1,
		 g_dir, cold_private ? "yes" : "no");
	rc = cfg_parse_string(text, "test_policy.conf", &x->cfg, err, sizeof(err));
	if (rc)
		print_error("config: %s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(x->cfg.tiers[T_COLD].private_tier, !!cold_private);
	assert_int_equal(x->cfg.tiers[T_NVME].private_tier, 0);
	rc = fs_fabric_open(&x->cfg, &x->f, err, sizeof(err));
	if (rc)
		print_error("fs_fabric_open: %s\n", err);
	assert_int_equal(rc, 0);
}

static void fab_reopen(struct fix *x, int cold_private)
{
	fs_fabric_close(x->f);
	x->f = NULL;
	fab_open(x, cold_private);
}

static uint64_t mkfile_as(struct fix *x, const struct fs_ctx *c,
			  uint64_t parent, const char *name, mode_t mode)
{
	struct stat st;

	assert_int_equal(fs_mknod(x->f, c, parent, name, S_IFREG | mode, 0,
				  &st), 0);
	return st.st_ino;
}

static uint64_t mkfile(struct fix *x, uint64_t parent, const char *name)
{
	return mkfile_as(x, &root_ctx, parent, name, 0644);
}

static uint64_t mkdir_(struct fix *x, uint64_t parent, const char *name)
{
	struct stat st;

	assert_int_equal(fs_mkdir(x->f, &root_ctx, parent, name, 0755, &st), 0);
	return st.st_ino;
}

/* Writes n extents of data at offset `from` extents. */
static void fill(struct fix *x, uint64_t ino, int from, int n)
{
	struct fs_file *fh = NULL;
	char *b = malloc(ES);
	int i;

	assert_non_null(b);
	memset(b, 'p', ES);
	assert_int_equal(fs_open(x->f, NULL, ino, O_RDWR, &fh), 0);
	for (i = from; i < from + n; i++)
		assert_int_equal(fs_write(x->f, fh, b, ES, (uint64_t)i * ES), ES);
	assert_int_equal(fs_release(x->f, fh), 0);
	free(b);
}

/* Extents of ino on tier index t, and in all into *all. */
static int on_tier(struct fix *x, uint64_t ino, int t, int *all)
{
	struct fs_where_ext *w = NULL;
	uint64_t size;
	size_t n, i;
	int k = 0;

	assert_int_equal(fs_where(x->f, ino, &w, &n, &size), 0);
	for (i = 0; i < n; i++)
		k += !strcmp(w[i].tier, x->cfg.tiers[t].name);
	if (all)
		*all = (int)n;
	free(w);
	return k;
}

static void set_ok(struct fix *x, uint64_t ino, const char *name,
		   const char *v)
{
	assert_int_equal(fs_setxattr(x->f, &root_ctx, ino, name, v, strlen(v),
				     0), 0);
}

static int set(struct fix *x, uint64_t ino, const char *name, const char *v)
{
	return fs_setxattr(x->f, &root_ctx, ino, name, v, strlen(v), 0);
}

/* getxattr as a NUL-terminated string in x->buf; returns its length. */
static ssize_t get(struct fix *x, uint64_t ino, const char *name)
{
	ssize_t n = fs_getxattr(x->f, ino, name, x->buf, sizeof(x->buf) - 1);

	x->buf[n < 0 ? 0 : n] = '\0';
	return n;
}

static void policy_is(struct fix *x, uint64_t ino, int pin, int lat, int cls)
{
	struct score_policy p;

	assert_int_equal(fs_policy(x->f, ino, &p), 0);
	assert_int_equal(p.pin, pin);
	assert_int_equal(p.latency, lat);
	assert_int_equal(p.cls, cls);
}

/* Closes the fabric, writes `len` bytes as the raw record of xattr
 * `name` of ino (junk when not a record), reopens. */
static void put_raw_xattr(struct fix *x, uint64_t ino, const char *name,
			  const void *rec, size_t len)
{
	struct meta *m = NULL;
	uint8_t key[8 + 64];
	size_t n = strlen(name);
	char err[256] = "";
	int i;

	fs_fabric_close(x->f);
	x->f = NULL;
	for (i = 0; i < 8; i++)
		key[i] = (uint8_t)(ino >> (56 - 8 * i));
	memcpy(key + 8, name, n);
	assert_int_equal(meta_open(x->cfg.meta, &m, err, sizeof(err)), 0);
	assert_int_equal(meta_debug_put_raw(m, META_CF_XATTRS, key, 8 + n, rec,
					    len), 0);
	meta_close(m);
	fab_open(x, 0);
}

/* Closes the fabric, stores `v` as the value of xattr `name` of ino as
 * the store writes any value (one that may not parse here), reopens. */
static void put_stored_xattr(struct fix *x, uint64_t ino, const char *name,
			     const char *v)
{
	struct meta *m = NULL;
	struct meta_batch *b;
	char err[256] = "";

	fs_fabric_close(x->f);
	x->f = NULL;
	assert_int_equal(meta_open(x->cfg.meta, &m, err, sizeof(err)), 0);
	assert_non_null(b = meta_batch_new());
	meta_put_xattr(b, ino, name, v, strlen(v));
	assert_int_equal(meta_commit(m, b, 1), 0);
	meta_batch_free(b);
	meta_close(m);
	fab_open(x, 0);
}

/* Regression test, failed before its fix (fs/fs.c, pol_load): a policy
 * record that could not be read made its whole inode EIO (lookup,
 * getattr, open, unlink, even the removal of that record). Now the file
 * stays reachable, the record reads as EIO, is listed, can be replaced
 * or removed, and an unreadable class counts as confidential until then
 * (the class that allows the fewest tiers). */
static void test_corrupt_record(void **state)
{
	static const char junk[] = "\x01\x7fnot a record\xff";
	struct fix *x = *state;
	struct fs_file *fh = NULL;
	struct stat st;
	uint64_t f, d;
	ssize_t n;

	fab_open(x, 0);
	f = mkfile(x, ROOT, "f");
	fill(x, f, 0, 1);
	set_ok(x, f, LAT, "critical");
	set_ok(x, f, CLS, "private");
	d = mkdir_(x, ROOT, "d");
	set_ok(x, d, PIN, "hdd");
	put_raw_xattr(x, f, CLS, junk, sizeof(junk) - 1);
	put_raw_xattr(x, d, PIN, junk, sizeof(junk) - 1);

	assert_int_equal(fs_lookup(x->f, ROOT, "f", &st), 0);
	assert_int_equal(st.st_ino, f);
	assert_int_equal(fs_getattr(x->f, f, &st), 0);
	assert_int_equal(fs_open(x->f, NULL, f, O_RDONLY, &fh), 0);
	assert_int_equal(fs_release(x->f, fh), 0);
	policy_is(x, f, -1, SCORE_LAT_CRITICAL, SCORE_CLASS_CONFIDENTIAL);
	assert_int_equal(get(x, f, CLS), -EIO);
	assert_int_equal(get(x, f, LAT), strlen("critical"));
	n = fs_listxattr(x->f, NULL, f, x->buf, sizeof(x->buf));
	assert_int_equal(n, sizeof(LAT) + sizeof(CLS));
	/* there: XATTR_CREATE refused, XATTR_REPLACE takes it over */
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, CLS, "public", 6,
				     XATTR_CREATE), -EEXIST);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, CLS, "public", 6,
				     XATTR_REPLACE), 0);
	policy_is(x, f, -1, SCORE_LAT_CRITICAL, SCORE_CLASS_PUBLIC);
	assert_int_equal(get(x, f, CLS), strlen("public"));

	/* a directory's: its subtree stays reachable, the record goes */
	assert_int_equal(fs_mknod(x->f, &root_ctx, d, "g", S_IFREG | 0644, 0,
				  &st), 0);
	policy_is(x, d, -1, SCORE_LAT_STANDARD, SCORE_CLASS_PUBLIC);
	assert_int_equal(get(x, d, PIN), -EIO);
	assert_int_equal(fs_removexattr(x->f, &root_ctx, d, PIN), 0);
	assert_int_equal(get(x, d, PIN), -ENODATA);
	assert_int_equal(fs_listxattr(x->f, NULL, d, NULL, 0), 0);
	fab_reopen(x, 0);
	assert_int_equal(get(x, d, PIN), -ENODATA);
	assert_int_equal(get(x, f, CLS), strlen("public"));
	assert_int_equal(fs_unlink(x->f, ROOT, "f"), 0);
}

/* Regression test, failed before its fix (fs/fs.c, pol_update): "none"
 * with XATTR_CREATE removed a pin that was there (0, the pin gone)
 * where any other value gets EEXIST. And a pin to a tier no longer
 * configured could not be cleared (ENODATA, the record kept, logged at
 * each load): it is still not shown, but a removal deletes it. */
static void test_pin_none_create(void **state)
{
	struct fix *x = *state;
	uint64_t f, g;

	fab_open(x, 0);
	f = mkfile(x, ROOT, "f");
	set_ok(x, f, PIN, "nvme");
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, PIN, "none", 4,
				     XATTR_CREATE), -EEXIST);
	assert_int_equal(get(x, f, PIN), strlen("nvme"));
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, PIN, "none", 4,
				     XATTR_REPLACE), 0);
	assert_int_equal(get(x, f, PIN), -ENODATA);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, PIN, "none", 4,
				     XATTR_CREATE), 0);

	/* as a pin set while a tier "gone" was configured */
	g = mkfile(x, ROOT, "g");
	set_ok(x, g, LAT, "critical");
	put_stored_xattr(x, g, PIN, "gone");
	assert_int_equal(get(x, g, PIN), -ENODATA);
	policy_is(x, g, -1, SCORE_LAT_CRITICAL, SCORE_CLASS_PUBLIC);
	assert_int_equal(fs_removexattr(x->f, &root_ctx, g, PIN), 0);
	assert_int_equal(fs_removexattr(x->f, &root_ctx, g, PIN), -ENODATA);
	put_stored_xattr(x, g, PIN, "gone");
	set_ok(x, g, PIN, "none");
	fab_reopen(x, 0);
	/* deleted: a new tier of that name would not bring it back */
	assert_int_equal(fs_removexattr(x->f, &root_ctx, g, PIN), -ENODATA);
}

/* ---------------------------------------------------------------- */

static void test_set_get_remove(void **state)
{
	struct fix *x = *state;
	uint64_t f;
	ssize_t n;

	fab_open(x, 0);
	f = mkfile(x, ROOT, "f");
	policy_is(x, f, -1, SCORE_LAT_STANDARD, SCORE_CLASS_PUBLIC);
	assert_int_equal(get(x, f, PIN), -ENODATA);
	assert_int_equal(get(x, f, POL), strlen("pin=none latency=standard class=public"));
	assert_string_equal(x->buf, "pin=none latency=standard class=public");
	assert_int_equal(fs_listxattr(x->f, NULL, f, NULL, 0), 0);

	/* With and without the newline a shell adds. */
	set_ok(x, f, PIN, "hdd\n");
	set_ok(x, f, LAT, "critical");
	set_ok(x, f, CLS, "private\n");
	assert_int_equal(get(x, f, PIN), 3);
	assert_string_equal(x->buf, "hdd");
	assert_int_equal(get(x, f, LAT), 8);
	assert_string_equal(x->buf, "critical");
	assert_int_equal(get(x, f, CLS), 7);
	assert_string_equal(x->buf, "private");
	get(x, f, POL);
	assert_string_equal(x->buf, "pin=hdd latency=critical class=private");
	policy_is(x, f, T_HDD, SCORE_LAT_CRITICAL, SCORE_CLASS_PRIVATE);

	/* Listed when set; .policy and .tier never are. */
	n = fs_listxattr(x->f, NULL, f, x->buf, sizeof(x->buf));
	assert_int_equal(n, sizeof(PIN) + sizeof(LAT) + sizeof(CLS));
	assert_non_null(memmem(x->buf, n, PIN, sizeof(PIN)));
	assert_non_null(memmem(x->buf, n, LAT, sizeof(LAT)));
	assert_non_null(memmem(x->buf, n, CLS, sizeof(CLS)));
	assert_null(memmem(x->buf, n, POL, sizeof(POL)));

	/* Flags, read-only names. */
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, CLS, "public", 6,
				     XATTR_CREATE), -EEXIST);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f,
				     POL, "pin=none", 8, 0), -EPERM);
	assert_int_equal(fs_removexattr(x->f, &root_ctx, f, POL), -EPERM);

	/* Survives a restart. */
	fab_reopen(x, 0);
	policy_is(x, f, T_HDD, SCORE_LAT_CRITICAL, SCORE_CLASS_PRIVATE);
	get(x, f, POL);
	assert_string_equal(x->buf, "pin=hdd latency=critical class=private");

	/* Remove; "none" clears a pin. */
	assert_int_equal(fs_removexattr(x->f, &root_ctx, f, CLS), 0);
	assert_int_equal(get(x, f, CLS), -ENODATA);
	assert_int_equal(fs_removexattr(x->f, &root_ctx, f, CLS), -ENODATA);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, LAT, "flexible", 8,
				     XATTR_REPLACE), 0);
	set_ok(x, f, PIN, "none\n");
	assert_int_equal(get(x, f, PIN), -ENODATA);
	set_ok(x, f, PIN, "none");     /* no pin: no change, no error */
	policy_is(x, f, -1, SCORE_LAT_FLEXIBLE, SCORE_CLASS_PUBLIC);
	n = fs_listxattr(x->f, NULL, f, x->buf, sizeof(x->buf));
	assert_int_equal(n, sizeof(LAT));
	fab_reopen(x, 0);
	policy_is(x, f, -1, SCORE_LAT_FLEXIBLE, SCORE_CLASS_PUBLIC);
	/* The ordinary xattrs are untouched by all this. */
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, "user.a", "1", 1, 0), 0);
	assert_int_equal(get(x, f, "user.a"), 1);
	assert_int_equal(fs_listxattr(x->f, NULL, f, NULL, 0),
			 sizeof(LAT) + sizeof("user.a"));
}

static void test_bad_values(void **state)
{
	static const struct {
		const char *name;
		const char *v;
		size_t n;
	} bad[] = {
		{ PIN, "", 0 }, { PIN, "\n", 1 }, { PIN, "ssd", 3 },
		{ PIN, "nvme ", 5 }, { PIN, "nvme\n\n", 6 }, { PIN, "NVME", 4 },
		{ LAT, "fast", 4 }, { LAT, "critical x", 10 },
		{ LAT, "criticalx", 9 }, { LAT, "critical\0", 9 },
		{ LAT, " critical", 9 }, { CLS, "secret", 6 },
		{ CLS, "confidential\r\n", 14 }, { CLS, "\x01\x02public", 8 },
		{ CLS, "publicpublicpublicpublicpublicpublic", 36 },
	};
	struct fix *x = *state;
	char big[300], *huge;
	uint64_t f;
	size_t i;

	fab_open(x, 0);
	f = mkfile(x, ROOT, "f");
	set_ok(x, f, PIN, "nvme");
	set_ok(x, f, LAT, "critical");
	set_ok(x, f, CLS, "restricted");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (fs_setxattr(x->f, &root_ctx, f, bad[i].name, bad[i].v,
				bad[i].n, 0) != -EINVAL)
			fail_msg("%s = \"%s\" was not refused", bad[i].name,
				 bad[i].v);
	}
	memset(big, 'a', sizeof(big));
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, CLS, big, sizeof(big),
				     0), -EINVAL);
	/* Larger than any xattr: still a bad value, not E2BIG. */
	huge = calloc(1, 70000);
	assert_non_null(huge);
	assert_int_equal(fs_setxattr(x->f, &root_ctx, f, PIN, huge, 70000, 0),
			 -EINVAL);
	free(huge);
	/* Unknown names of dfabric's own. */
	assert_int_equal(set(x, f, "user.dfabric.klass", "public"), -EINVAL);
	/* Nothing changed. */
	policy_is(x, f, T_NVME, SCORE_LAT_CRITICAL, SCORE_CLASS_RESTRICTED);
	get(x, f, POL);
	assert_string_equal(x->buf, "pin=nvme latency=critical class=restricted");
}

static void test_inherit(void **state)
{
	struct fix *x = *state;
	uint64_t d, sub, f, old, s, n;
	struct fs_file *fh = NULL;
	struct stat st;

	fab_open(x, 0);
	d = mkdir_(x, ROOT, "d");
	old = mkfile(x, d, "old");     /* made before: never inherits */
	set_ok(x, d, CLS, "confidential");
	set_ok(x, d, LAT, "flexible");
	set_ok(x, d, PIN, "hdd");
	/* A directory's pin moves nothing now. */
	policy_is(x, old, -1, SCORE_LAT_STANDARD, SCORE_CLASS_PUBLIC);

	f = mkfile(x, d, "f");
	sub = mkdir_(x, d, "sub");
	assert_int_equal(fs_symlink(x->f, &root_ctx, "f", d, "s", &st), 0);
	s = st.st_ino;
	assert_int_equal(fs_mknod(x->f, &root_ctx, d, "n", S_IFCHR | 0600,
				  makedev(1, 3), &st), 0);
	n = st.st_ino;
	policy_is(x, f, T_HDD, SCORE_LAT_FLEXIBLE, SCORE_CLASS_CONFIDENTIAL);
	policy_is(x, sub, T_HDD, SCORE_LAT_FLEXIBLE, SCORE_CLASS_CONFIDENTIAL);
	policy_is(x, s, T_HDD, SCORE_LAT_FLEXIBLE, SCORE_CLASS_CONFIDENTIAL);
	policy_is(x, n, T_HDD, SCORE_LAT_FLEXIBLE, SCORE_CLASS_CONFIDENTIAL);
	assert_int_equal(get(x, f, CLS), 12);
	assert_string_equal(x->buf, "confidential");
	/* fs_create too, and two levels down. */
	assert_int_equal(fs_create(x->f, &root_ctx, sub, "g", 0644, O_RDWR, &st,
				   &fh), 0);
	assert_int_equal(fs_release(x->f, fh), 0);
	policy_is(x, st.st_ino, T_HDD, SCORE_LAT_FLEXIBLE,
		  SCORE_CLASS_CONFIDENTIAL);
	/* New data of f lands on its pinned tier. */
	fill(x, f, 0, 2);
	assert_int_equal(on_tier(x, f, T_HDD, NULL), 2);

	/* A snapshot: later changes to the directory stay there. */
	set_ok(x, d, CLS, "public");
	assert_int_equal(fs_removexattr(x->f, &root_ctx, d, LAT), 0);
	policy_is(x, f, T_HDD, SCORE_LAT_FLEXIBLE, SCORE_CLASS_CONFIDENTIAL);
	fab_reopen(x, 0);
	policy_is(x, f, T_HDD, SCORE_LAT_FLEXIBLE, SCORE_CLASS_CONFIDENTIAL);
	policy_is(x, d, T_HDD, SCORE_LAT_STANDARD, SCORE_CLASS_PUBLIC);
	policy_is(x, mkfile(x, d, "h"), T_HDD, SCORE_LAT_STANDARD,
		  SCORE_CLASS_PUBLIC);
	/* The root has none: new files at the top have the defaults. */
	policy_is(x, mkfile(x, ROOT, "top"), -1, SCORE_LAT_STANDARD,
		  SCORE_CLASS_PUBLIC);
}

static void test_permission(void **state)
{
	struct fix *x = *state;
	struct fs_ctx grp = { .uid = 2000, .gid = 1000, .pid = 3 };
	static const gid_t sup[] = { 7, 1000 };
	uint64_t f, mine, ow;

	fab_open(x, 0);
	f = mkfile(x, ROOT, "rootfile");              /* root, 0644 */
	set_ok(x, f, CLS, "private");
	assert_int_equal(fs_setxattr(x->f, &user_ctx, f, CLS, "public", 6, 0),
			 -EACCES);
	assert_int_equal(fs_setxattr(x->f, &user_ctx, f, PIN, "hdd", 3, 0),
			 -EACCES);
	assert_int_equal(fs_removexattr(x->f, &user_ctx, f, CLS), -EACCES);
	policy_is(x, f, -1, SCORE_LAT_STANDARD, SCORE_CLASS_PRIVATE);

	/* The owner may; so may whoever has a write bit. */
	mine = mkfile_as(x, &user_ctx, ROOT, "mine", 0444);
	assert_int_equal(fs_setxattr(x->f, &user_ctx, mine, LAT, "critical", 8,
				     0), 0);
	assert_int_equal(fs_setxattr(x->f, &grp, mine, LAT, "flexible", 8, 0),
			 -EACCES);
	ow = mkfile_as(x, &user_ctx, ROOT, "groupw", 0664);
	assert_int_equal(fs_setxattr(x->f, &grp, ow, LAT, "flexible", 8, 0), 0);
	/* A supplementary group counts as the group. */
	grp.gid = 3000;
	assert_int_equal(fs_setxattr(x->f, &grp, ow, LAT, "critical", 8, 0),
			 -EACCES);
	grp.groups = sup;
	grp.ngroups = 2;
	assert_int_equal(fs_setxattr(x->f, &grp, ow, LAT, "flexible", 8, 0), 0);
	assert_int_equal(fs_setxattr(x->f, &grp, mine, LAT, "flexible", 8, 0),
			 -EACCES);
	assert_int_equal(fs_removexattr(x->f, &grp, ow, LAT), 0);
	policy_is(x, mine, -1, SCORE_LAT_CRITICAL, SCORE_CLASS_PUBLIC);
	policy_is(x, ow, -1, SCORE_LAT_STANDARD, SCORE_CLASS_PUBLIC);
}

static void test_migrate_refused(void **state)
{
	struct fix *x = *state;
	char why[160] = "";
	uint64_t f, g;
	int all;

	fab_open(x, 0);
	f = mkfile(x, ROOT, "secret");
	fill(x, f, 0, 3);
	set_ok(x, f, CLS, "confidential");
	assert_int_equal(fs_migrate(x->f, f, 0, UINT64_MAX, "cold", 0), -EPERM);
	assert_int_equal(fs_policy_check(x->f, f, "cold", why, sizeof(why)),
			 -EPERM);
	assert_non_null(strstr(why, "confidential may not leave local tiers"));
	assert_int_equal(fs_policy_check(x->f, f, "hdd", why, sizeof(why)), 0);
	assert_int_equal(fs_policy_check(x->f, f, "tape", why, sizeof(why)),
			 -ENXIO);
	assert_true(fs_migrate(x->f, f, 0, UINT64_MAX, "hdd", 0) > 0);
	assert_int_equal(fs_migrate_wait(x->f, 20000), 0);
	assert_int_equal(on_tier(x, f, T_HDD, &all), 3);
	assert_int_equal(all, 3);

	/* restricted: cold is not private here... */
	g = mkfile(x, ROOT, "r");
	fill(x, g, 0, 1);
	set_ok(x, g, CLS, "restricted");
	assert_int_equal(fs_migrate(x->f, g, 0, UINT64_MAX, "cold", 0), -EPERM);
	assert_int_equal(fs_policy_check(x->f, g, "cold", why, sizeof(why)),
			 -EPERM);
	assert_non_null(strstr(why, "restricted"));
	/* ...and may be made so; confidential still may not go there. */
	fab_reopen(x, 1);
	assert_true(fs_migrate(x->f, g, 0, UINT64_MAX, "cold", 0) > 0);
	assert_int_equal(fs_migrate(x->f, f, 0, UINT64_MAX, "cold", 0), -EPERM);
	assert_int_equal(fs_migrate_wait(x->f, 20000), 0);
	assert_int_equal(on_tier(x, g, T_COLD, NULL), 1);

	/* A pin excludes every other tier; a pin and a class that
	 * contradict each other are refused whichever comes second. */
	set_ok(x, g, PIN, "cold");
	assert_int_equal(fs_migrate(x->f, g, 0, UINT64_MAX, "nvme", 0), -EPERM);
	assert_int_equal(fs_policy_check(x->f, g, "nvme", why, sizeof(why)),
			 -EPERM);
	assert_non_null(strstr(why, "pinned to tier cold"));
	assert_int_equal(set(x, g, CLS, "confidential"), -EPERM);
	assert_int_equal(set(x, f, PIN, "cold"), -EPERM);
	policy_is(x, g, T_COLD, SCORE_LAT_STANDARD, SCORE_CLASS_RESTRICTED);
	policy_is(x, f, -1, SCORE_LAT_STANDARD, SCORE_CLASS_CONFIDENTIAL);
}

static void test_pin_moves(void **state)
{
	struct fix *x = *state;
	struct meta_job j;
	uint64_t f, e;
	int64_t id;
	int all;

	fab_open(x, 0);
	f = mkfile(x, ROOT, "f");
	fill(x, f, 0, 3);
	assert_int_equal(on_tier(x, f, T_NVME, NULL), 3);
	set_ok(x, f, PIN, "hdd");
	/* Queued at once, no placer needed. */
	assert_int_equal(fs_migrate_wait(x->f, 20000), 0);
	assert_int_equal(on_tier(x, f, T_HDD, &all), 3);
	assert_int_equal(all, 3);
	/* New extents land on the pinned tier directly. */
	fill(x, f, 5, 2);
	assert_int_equal(on_tier(x, f, T_HDD, &all), 5);
	assert_int_equal(all, 5);

	/* A pin to the object store moves the data there too; writes land
	 * on a file tier and the next pass (or a migrate) moves them. */
	set_ok(x, f, PIN, "cold");
	assert_int_equal(fs_migrate_wait(x->f, 20000), 0);
	assert_int_equal(on_tier(x, f, T_COLD, NULL), 5);

	/* A class forbidding where it is: moved back at once. */
	e = mkfile(x, ROOT, "e");
	fill(x, e, 0, 2);
	assert_true(fs_migrate(x->f, e, 0, UINT64_MAX, "cold", 0) > 0);
	assert_int_equal(fs_migrate_wait(x->f, 20000), 0);
	assert_int_equal(on_tier(x, e, T_COLD, NULL), 2);
	set_ok(x, e, CLS, "confidential");
	assert_int_equal(fs_migrate_wait(x->f, 20000), 0);
	assert_int_equal(on_tier(x, e, T_NVME, &all), 2);
	assert_int_equal(all, 2);
	/* A job queued before the class was set stops at its next extent. */
	fs_set_bandwidth(x->f, 4 * ES);
	e = mkfile(x, ROOT, "slow");
	fill(x, e, 0, 4);
	id = fs_migrate(x->f, e, 0, UINT64_MAX, "cold", 0);
	assert_true(id > 0);
	set_ok(x, e, CLS, "confidential");
	fs_set_bandwidth(x->f, 0);
	assert_int_equal(fs_migrate_wait(x->f, 20000), 0);
	assert_int_equal(fs_job(x->f, (uint64_t)id, &j), 0);
	assert_int_equal(j.state, META_JOB_ROLLED_BACK);
	assert_int_equal(j.err, EPERM);
	assert_int_equal(on_tier(x, e, T_NVME, &all), 4);
	assert_int_equal(all, 4);
	/* An empty file queues nothing and is fine. */
	set_ok(x, mkfile(x, ROOT, "empty"), PIN, "hdd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_set_get_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inherit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permission, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pin_moves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pin_none_create, setup, teardown),
	};

	log_set_level(LOG_WARNING);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
