// SPDX-License-Identifier: GPL-2.0-or-later
/* A tier whose filesystem is full (nvme on a 1 MiB tmpfs, filled by a
 * file of its own): extents spill to hdd (spill in fs/fs.c), and the old
 * copy of one that moved is freed after the commit, once the inode's
 * lock is let go. An fdatasync interposed here runs a race in that
 * window: the first sync of a file under nvme, once armed. Needs root
 * (the tmpfs); skipped otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <linux/falloc.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/log.h"
#include "fs/fs.h"
#include "fs/meta.h"
#include "tmpdir.h"

#define ES   ((uint64_t)65536)
#define ROOT ((uint64_t)1)

static const struct fs_ctx root_ctx = { .uid = 0, .gid = 0, .pid = 1 };

struct fix {
	char dir[64];
	char text[2048];
	struct cfg cfg;
	struct fabric *f;
};

/* ---- fdatasync interposer: runs a hook at the first sync of a file
 * under <dir>/nvme once armed ---- */
static void (*hook)(void *);
static void *hook_arg;
static char hook_dir[PATH_MAX];

int fdatasync(int fd)
{
	if (hook) {
		char l[64], p[PATH_MAX];
		ssize_t n;

		snprintf(l, sizeof(l), "/proc/self/fd/%d", fd);
		n = readlink(l, p, sizeof(p) - 1);
		if (n > 0) {
			p[n] = 0;
			if (!strncmp(p, hook_dir, strlen(hook_dir))) {
				void (*h)(void *) = hook;

				hook = NULL;
				h(hook_arg);
			}
		}
	}
	return (int)syscall(SYS_fdatasync, fd);
}

static int setup(void **state)
{
	struct fix *x = calloc(1, sizeof(*x));
	char p[PATH_MAX];

	strcpy(x->dir, "/tmp/test_fs_spill.XXXXXX");
	if (tmpdir_tiers(x->dir) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/nvme", x->dir);
	if (mount("dfabric-test", p, "tmpfs", 0, "size=1m,mode=0700") < 0)
		return -1;
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fix *x = *state;
	char p[PATH_MAX];

	if (x->f)
		fs_fabric_close(x->f);
	snprintf(p, sizeof(p), "%s/nvme", x->dir);
	umount2(p, MNT_DETACH);
	tmpdir_remove(x->dir);
	free(x);
	return 0;
}

static void fab_open(struct fix *x)
{
	char err[CFG_ERR_MAX] = "";
	int rc;

	snprintf(x->text, sizeof(x->text),
		 "[fabric]\nmeta = %s/meta\nextent_size = 64K\n\n"
		 "[tier.nvme]\nkind = local\npath = %s/nvme\ncapacity = 16M\n"
		 "high_watermark = 0.9\nlow_watermark = 0.45\n\n"
		 "[tier.hdd]\nkind = local\npath = %s/hdd\ncapacity = 64M\n"
		 "high_watermark = 0.9\nlow_watermark = 0.45\n",
		 x->dir, x->dir, x->dir);
	assert_int_equal(cfg_parse_string(x->text, "r.conf", &x->cfg, err,
					  sizeof(err)), 0);
	rc = fs_fabric_open(&x->cfg, &x->f, err, sizeof(err));
	if (rc)
		print_error("open: %s\n", err);
	assert_int_equal(rc, 0);
}

__attribute__((unused)) static void fab_reopen(struct fix *x)
{
	fs_fabric_close(x->f);
	x->f = NULL;
	fab_open(x);
}

/* Fills the tmpfs under nvme with a file outside dfabric. */
static void fill_nvme(struct fix *x)
{
	char p[PATH_MAX], b[4096];
	int fd;

	memset(b, 1, sizeof(b));
	snprintf(p, sizeof(p), "%s/nvme/filler", x->dir);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	while (write(fd, b, sizeof(b)) > 0)
		;
	close(fd);
}

static void unfill_nvme(struct fix *x)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/nvme/filler", x->dir);
	unlink(p);
}

static const char *tier_at(struct fix *x, uint64_t ino, uint64_t off)
{
	static char tb[4][CFG_NAME_MAX];
	static int k;
	char *t = tb[k++ % 4];
	struct fs_where_ext *w = NULL;
	size_t n = 0;
	uint64_t size;

	t[0] = 0;
	assert_int_equal(fs_where(x->f, ino, &w, &n, &size), 0);
	for (size_t i = 0; i < n; i++)
		if (w[i].off <= off && off < w[i].off + w[i].len)
			strcpy(t, w[i].tier);
	free(w);
	return t;
}

static int count_not(struct fix *x, struct fs_file *fh, uint64_t off,
		     size_t len, char c)
{
	char *b = malloc(len);
	int bad = 0;

	assert_int_equal(fs_read(x->f, fh, b, len, off), (ssize_t)len);
	for (size_t i = 0; i < len; i++)
		bad += b[i] != c;
	free(b);
	return bad;
}

/* ---- 1: stale_done punches the old slot after the lock is dropped:
 * a truncate + write that puts a new extent in the same slot of nvme
 * meanwhile loses its bytes ---- */
struct race1 { struct fix *x; uint64_t ino; struct fs_file *fh; };

static void race1_hook(void *arg)
{
	struct race1 *r = arg;
	struct stat a = { 0 }, out;
	char *b = malloc(ES);

	unfill_nvme(r->x);            /* someone frees room on nvme */
	a.st_size = 0;
	assert_int_equal(fs_setattr(r->x->f, &root_ctx, r->ino, &a,
				    FS_SET_SIZE, r->fh, &out), 0);
	memset(b, 'C', ES);
	assert_int_equal(fs_write(r->x->f, r->fh, b, ES, 0), (ssize_t)ES);
	print_message("hook: new extent at 0 on %s\n",
		      tier_at(r->x, r->ino, 0));
	free(b);
}

/* Extent 0 of a new file holds 32K of 'A' on nvme, nvme is full, and a
 * write of 32K of `ch` after them grows it: it spills to hdd, and `race`
 * runs at the sync before the old copy is freed. Afterwards, [0, 64K)
 * must read as `want`. */
static void spill_race(struct fix *x, void (*race)(void *), char ch,
		       char want)
{
	struct fs_file *fh = NULL;
	struct stat st;
	char *b = malloc(ES);
	struct race1 r;
	ssize_t rc;

	fab_open(x);
	assert_int_equal(fs_create(x->f, &root_ctx, ROOT, "f", 0644,
				   O_RDWR | O_CREAT, &st, &fh), 0);
	memset(b, 'A', ES);
	assert_int_equal(fs_write(x->f, fh, b, ES / 2, 0), (ssize_t)(ES / 2));
	assert_string_equal(tier_at(x, st.st_ino, 0), "nvme");
	fill_nvme(x);
	r = (struct race1){ x, st.st_ino, fh };
	snprintf(hook_dir, sizeof(hook_dir), "%s/nvme/", x->dir);
	hook_arg = &r;
	hook = race;
	memset(b, ch, ES);
	rc = fs_write(x->f, fh, b, ES / 2, ES / 2);
	print_message("spilling write: %zd\n", rc);
	assert_null(hook);                             /* the race ran */
	print_message("extent at 0 now on %s; bytes of [0,64K) not '%c': %d\n",
		      tier_at(x, st.st_ino, 0), want,
		      count_not(x, fh, 0, ES, want));
	assert_int_equal(count_not(x, fh, 0, ES, want), 0);
	fs_release(x->f, fh);
	free(b);
}

/* A truncate and a write make a new extent (of 'C') in the slot. */
static void test_stale_punch_races_new_extent(void **state)
{
	spill_race(*state, race1_hook, 'B', 'C');
}

/* ---- 2: same, with a migration back to nvme in the window ---- */
static void race2_hook(void *arg)
{
	struct race1 *r = arg;
	int64_t id;

	unfill_nvme(r->x);
	id = fs_migrate(r->x->f, r->ino, 0, UINT64_MAX, "nvme", 1.0);
	assert_true(id > 0);
	assert_int_equal(fs_migrate_wait(r->x->f, 20000), 0);
	print_message("hook: extent at 0 migrated to %s\n",
		      tier_at(r->x, r->ino, 0));
}

static void test_stale_punch_races_migration(void **state)
{
	spill_race(*state, race2_hook, 'A', 'A');
}


/* status counters against the sum of the map, per tier */
static void check_acct(struct fix *x, const uint64_t *inos, int nino,
		       const char *when)
{
	struct fs_status stt;
	uint64_t used[2] = { 0 }, ext[2] = { 0 }, files[2] = { 0 };

	for (int k = 0; k < nino; k++) {
		struct fs_where_ext *w = NULL;
		size_t n = 0;
		uint64_t size;
		int has[2] = { 0 };

		assert_int_equal(fs_where(x->f, inos[k], &w, &n, &size), 0);
		for (size_t i = 0; i < n; i++) {
			int t = !strcmp(w[i].tier, "hdd");
			used[t] += w[i].len;
			ext[t]++;
			has[t] = 1;
		}
		files[0] += has[0];
		files[1] += has[1];
		free(w);
	}
	assert_int_equal(fs_status(x->f, &stt), 0);
	for (int t = 0; t < 2; t++) {
		print_message("%s: %s used %" PRIu64 "/%" PRIu64 " extents %"
			      PRIu64 "/%" PRIu64 " files %" PRIu64 "/%" PRIu64
			      " (status/map)\n", when, stt.tiers[t].name,
			      stt.tiers[t].used, used[t], stt.tiers[t].extents,
			      ext[t], stt.tiers[t].files, files[t]);
	}
	for (int t = 0; t < 2; t++) {
		assert_int_equal(stt.tiers[t].used, used[t]);
		assert_int_equal(stt.tiers[t].extents, ext[t]);
		assert_int_equal(stt.tiers[t].files, files[t]);
	}
}

static struct fs_file *mk(struct fix *x, const char *name, uint64_t *ino)
{
	struct fs_file *fh = NULL;
	struct stat st;

	assert_int_equal(fs_create(x->f, &root_ctx, ROOT, name, 0644,
				   O_RDWR | O_CREAT, &st, &fh), 0);
	*ino = st.st_ino;
	return fh;
}

/* ---- 3: a write over three extents whose middle one spills, and a
 * fallocate over three whose middle one spills: content, tiers,
 * accounting, after a reopen too ---- */
static void test_middle_spill(void **state)
{
	struct fix *x = *state;
	uint64_t ino[2];
	struct fs_file *fh, *gh;
	char *b = malloc(3 * ES);

	fab_open(x);
	fh = mk(x, "w", &ino[0]);
	gh = mk(x, "g", &ino[1]);
	memset(b, 'A', 3 * ES);
	/* w: [0,64K) full, [64K,80K), [128K,192K) full */
	assert_int_equal(fs_write(x->f, fh, b, ES, 0), (ssize_t)ES);
	assert_int_equal(fs_write(x->f, fh, b, ES / 4, ES), (ssize_t)(ES / 4));
	assert_int_equal(fs_write(x->f, fh, b, ES, 2 * ES), (ssize_t)ES);
	/* g: same */
	assert_int_equal(fs_write(x->f, gh, b, ES, 0), (ssize_t)ES);
	assert_int_equal(fs_write(x->f, gh, b, ES / 4, ES), (ssize_t)(ES / 4));
	assert_int_equal(fs_write(x->f, gh, b, ES, 2 * ES), (ssize_t)ES);
	check_acct(x, ino, 2, "before");
	fill_nvme(x);
	memset(b, 'B', 3 * ES);
	assert_int_equal(fs_write(x->f, fh, b, 3 * ES - 2000, 1000),
			 (ssize_t)(3 * ES - 2000));
	print_message("w: 0 on %s, 64K on %s, 128K on %s\n", tier_at(x, ino[0], 0),
		      tier_at(x, ino[0], ES), tier_at(x, ino[0], 2 * ES));
	assert_int_equal(fs_fallocate(x->f, gh, 0, 0, 3 * ES), 0);
	print_message("g: 0 on %s, 64K on %s, 128K on %s\n", tier_at(x, ino[1], 0),
		      tier_at(x, ino[1], ES), tier_at(x, ino[1], 2 * ES));
	assert_int_equal(count_not(x, fh, 1000, 3 * ES - 2000, 'B'), 0);
	assert_int_equal(count_not(x, gh, 0, ES + ES / 4, 'A'), 0);
	check_acct(x, ino, 2, "after");
	fs_release(x->f, fh);
	fs_release(x->f, gh);
	fab_reopen(x);
	check_acct(x, ino, 2, "reopened");
	free(b);
}

static int setup2(void **state)
{
	char p[PATH_MAX];
	struct fix *x;

	if (setup(state))
		return -1;
	x = *state;
	snprintf(p, sizeof(p), "%s/hdd", x->dir);
	return mount("revtmp2", p, "tmpfs", 0, "size=1m,mode=0700") < 0 ? -1 : 0;
}

static int teardown2(void **state)
{
	struct fix *x = *state;
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/hdd", x->dir);
	if (x->f) {
		fs_fabric_close(x->f);
		x->f = NULL;
	}
	umount2(p, MNT_DETACH);
	return teardown(state);
}

static void fill_dir(struct fix *x, const char *sub, uint64_t leave)
{
	char p[PATH_MAX], b[4096];
	struct statvfs sv;
	int fd;

	memset(b, 1, sizeof(b));
	snprintf(p, sizeof(p), "%s/%s/filler", x->dir, sub);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	while (write(fd, b, sizeof(b)) > 0)
		;
	if (leave) {
		struct stat st;
		fstat(fd, &st);
		assert_int_equal(ftruncate(fd, st.st_size - (off_t)leave), 0);
	}
	close(fd);
	snprintf(p, sizeof(p), "%s/%s", x->dir, sub);
	statvfs(p, &sv);
	print_message("%s: %lu bytes free\n", sub, (unsigned long)(sv.f_bavail * sv.f_bsize));
}

static long tier_blocks(struct fix *x, const char *sub, uint64_t ino)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s/data/%02x/%02x/%016" PRIx64, x->dir, sub,
		 (unsigned)((ino >> 8) & 0xff), (unsigned)(ino & 0xff), ino);
	if (stat(p, &st) < 0)
		return -1;
	return (long)st.st_blocks * 512;
}

/* ---- 4: both tiers' filesystems full: the middle extent of a write over
 * three cannot spill; the write is short; what does the file hold? ---- */
static void test_middle_spill_fails(void **state)
{
	struct fix *x = *state;
	uint64_t ino[1];
	struct fs_file *fh;
	char *b = malloc(3 * ES);
	ssize_t rc;

	fab_open(x);
	fh = mk(x, "w", &ino[0]);
	memset(b, 'A', 3 * ES);
	assert_int_equal(fs_write(x->f, fh, b, ES, 0), (ssize_t)ES);
	assert_int_equal(fs_write(x->f, fh, b, ES / 4, ES), (ssize_t)(ES / 4));
	assert_int_equal(fs_write(x->f, fh, b, ES, 2 * ES), (ssize_t)ES);
	fill_dir(x, "nvme", 8192);
	fill_dir(x, "hdd", 0);
	memset(b, 'B', 3 * ES);
	rc = fs_write(x->f, fh, b, 3 * ES - 2000, 1000);
	print_message("write over 3 extents: %zd\n", rc);
	print_message("w: 0 on %s, 64K on %s, 128K on %s\n", tier_at(x, ino[0], 0),
		      tier_at(x, ino[0], ES), tier_at(x, ino[0], 2 * ES));
	check_acct(x, ino, 1, "after");
	print_message("nvme file blocks %ld, hdd file blocks %ld\n",
		      tier_blocks(x, "nvme", ino[0]), tier_blocks(x, "hdd", ino[0]));
	fs_release(x->f, fh);
	fab_reopen(x);
	check_acct(x, ino, 1, "reopened");
	free(b);
}

/* ---- 5: what a spill leaves on the full tier: the failed write's
 * bytes past the extent's old end are never freed ---- */
static void test_spill_leak(void **state)
{
	struct fix *x = *state;
	uint64_t ino[1];
	struct fs_file *fh;
	char *b = malloc(ES);

	fab_open(x);
	fh = mk(x, "w", &ino[0]);
	memset(b, 'A', ES);
	assert_int_equal(fs_write(x->f, fh, b, ES / 2, 0), (ssize_t)(ES / 2));
	fill_dir(x, "nvme", 16384);
	assert_int_equal(fs_write(x->f, fh, b, ES / 2, ES / 2), (ssize_t)(ES / 2));
	print_message("extent on %s; nvme file of the inode takes %ld bytes, "
		      "hdd's %ld\n", tier_at(x, ino[0], 0),
		      tier_blocks(x, "nvme", ino[0]), tier_blocks(x, "hdd", ino[0]));
	assert_int_equal(tier_blocks(x, "nvme", ino[0]), 0);
	fs_release(x->f, fh);
	free(b);
}

static void die_hook(void *arg)
{
	_exit(0);          /* as kill -9 after the commit, before the free */
}

/* ---- 6: a crash between the commit of a spill and the free of the old
 * copy: after a restart the map, the counters and the bytes agree. (The
 * old copy stays in nvme's file of the inode: nothing frees it yet.) ---- */
static void test_crash_before_free(void **state)
{
	struct fix *x = *state;
	uint64_t ino[1];
	struct fs_file *fh;
	char *b = malloc(ES);
	pid_t pid;
	int ws;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fab_open(x);
		fh = mk(x, "w", &ino[0]);
		memset(b, 'A', ES);
		if (fs_write(x->f, fh, b, ES / 2, 0) != (ssize_t)(ES / 2))
			_exit(2);
		fill_dir(x, "nvme", 0);
		snprintf(hook_dir, sizeof(hook_dir), "%s/nvme/", x->dir);
		hook = die_hook;
		fs_write(x->f, fh, b, ES / 2, ES / 2);
		_exit(3);
	}
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_int_equal(WEXITSTATUS(ws), 0);
	fab_open(x);
	ino[0] = 2;
	print_message("after the crash and a restart: extent on %s, nvme file "
		      "takes %ld bytes, hdd's %ld\n", tier_at(x, 2, 0),
		      tier_blocks(x, "nvme", 2), tier_blocks(x, "hdd", 2));
	check_acct(x, ino, 1, "restarted");
	assert_string_equal(tier_at(x, 2, 0), "hdd");
	free(b);
}

/* ---- 8: a write into an extent on the full tier while a migration of
 * that extent to hdd copies it ---- */
static void test_spill_during_migration(void **state)
{
	struct fix *x = *state;
	uint64_t ino[1];
	struct fs_file *fh;
	char *b = malloc(ES);
	ssize_t rc;
	int64_t id;
	struct meta_job j;

	fab_open(x);
	fh = mk(x, "w", &ino[0]);
	memset(b, 'A', ES);
	assert_int_equal(fs_write(x->f, fh, b, ES / 2, 0), (ssize_t)(ES / 2));
	fill_dir(x, "nvme", 0);
	fs_set_bandwidth(x->f, 16384);
	id = fs_migrate(x->f, ino[0], 0, UINT64_MAX, "hdd", 1.0);
	assert_true(id > 0);
	usleep(300000);
	memset(b, 'B', ES);
	rc = fs_write(x->f, fh, b, ES / 2, ES / 2);
	print_message("write during the migration to hdd: %zd (%s)\n", rc,
		      rc < 0 ? strerror((int)-rc) : "ok");
	fs_set_bandwidth(x->f, 0);
	assert_int_equal(fs_migrate_wait(x->f, 20000), 0);
	assert_int_equal(fs_job(x->f, (uint64_t)id, &j), 0);
	print_message("job state %d; extent on %s\n", (int)j.state, tier_at(x, ino[0], 0));
	assert_int_equal(count_not(x, fh, 0, ES / 2, 'A'), 0);
	if (rc > 0)
		assert_int_equal(count_not(x, fh, ES / 2, ES / 2, 'B'), 0);
	check_acct(x, ino, 1, "after");
	fs_release(x->f, fh);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stale_punch_races_new_extent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_punch_races_migration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_middle_spill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_middle_spill_fails, setup2, teardown2),
		cmocka_unit_test_setup_teardown(test_spill_leak, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_before_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spill_during_migration, setup, teardown),
	};

	if (geteuid() != 0) {
		printf("SKIP: needs root to mount a tmpfs\n");
		return 77;
	}
	log_set_level(7);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
