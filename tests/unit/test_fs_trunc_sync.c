// SPDX-License-Identifier: GPL-2.0-or-later
/* After truncate(0) and fsync, the tier file's truncate must have been
 * made durable (fsync/fdatasync of that file after the
 * ftruncate), else a power loss leaves RocksDB saying "size 0, no
 * extents" (meta_sync ran) while the tier file still holds the old
 * bytes, which a later write into the same slot exposes (a new extent
 * starts at the slot: [slot, write offset) is read from the tier file).
 * Linked with --wrap=ftruncate64 --wrap=fdatasync --wrap=fsync. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "fs/fs.h"
#include "tmpdir.h"

int __real_ftruncate64(int fd, off_t len);
int __real_fdatasync(int fd);
int __real_fsync(int fd);

static ino_t g_trunc_ino;        /* st_ino of the file last truncated */
static bool g_truncated, g_synced_after;

int __wrap_ftruncate64(int fd, off_t len)
{
	struct stat st;
	int rc = __real_ftruncate64(fd, len);

	if (rc == 0 && fstat(fd, &st) == 0) {
		g_trunc_ino = st.st_ino;
		g_truncated = true;
		g_synced_after = false;
	}
	return rc;
}

static void note_sync(int fd)
{
	struct stat st;

	if (g_truncated && fstat(fd, &st) == 0 && st.st_ino == g_trunc_ino)
		g_synced_after = true;
}

int __wrap_fdatasync(int fd)
{
	int rc = __real_fdatasync(fd);

	if (rc == 0)
		note_sync(fd);
	return rc;
}

int __wrap_fsync(int fd)
{
	int rc = __real_fsync(fd);

	if (rc == 0)
		note_sync(fd);
	return rc;
}

static void test_truncate_then_fsync(void **state)
{
	static const struct fs_ctx root = { .uid = 0, .gid = 0, .pid = 1 };
	char dir[64] = "/tmp/test_fs_trunc.XXXXXX", text[1024],
	     err[CFG_ERR_MAX] = "";
	static struct cfg cfg;
	struct fabric *f = NULL;
	struct fs_file *fh = NULL;
	struct stat st, a, out;
	static uint8_t buf[65536];

	assert_int_equal(tmpdir_tiers(dir), 0);
	snprintf(text, sizeof(text),
		 "[fabric]\nmeta = %s/meta\nextent_size = 64K\n\n"
		 "[tier.nvme]\nkind = local\npath = %s/nvme\ncapacity = 16M\n\n"
		 "[tier.hdd]\nkind = local\npath = %s/hdd\ncapacity = 64M\n",
		 dir, dir, dir);
	assert_int_equal(cfg_parse_string(text, "t.conf", &cfg, err, sizeof(err)), 0);
	assert_int_equal(fs_fabric_open(&cfg, &f, err, sizeof(err)), 0);
	assert_int_equal(fs_create(f, &root, 1, "f", 0644, O_RDWR | O_CREAT,
				   &st, &fh), 0);
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(fs_write(f, fh, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	assert_int_equal(fs_fsync(f, fh, 0), 0);

	memset(&a, 0, sizeof(a));
	a.st_size = 0;
	assert_int_equal(fs_setattr(f, &root, st.st_ino, &a, FS_SET_SIZE, fh,
				    &out), 0);
	assert_true(g_truncated);            /* the tier file was cut */
	assert_int_equal(fs_fsync(f, fh, 0), 0);
	if (!g_synced_after)
		print_error("fs_fsync returned 0; RocksDB synced, but the tier "
			    "file's ftruncate was never followed by an fsync\n");
	assert_true(g_synced_after);
	fs_release(f, fh);
	fs_fabric_close(f);
	tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_truncate_then_fsync),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
