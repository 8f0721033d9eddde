// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit test of the control socket's start (fs/ctl.c, no mount): the
 * socket is 0600 when it listens, and starting it does not change the
 * mode of what other threads create meanwhile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/ctl.h"
#include "tmpdir.h"

static char g_dir[64];
static atomic_int g_stop, g_bad, g_made;

/* Creates and removes files with mode 0666 under umask 022 until told
 * to stop, counting those that did not come out 0644. */
static void *creator(void *arg)
{
	char p[128];
	struct stat st;
	int fd;

	snprintf(p, sizeof(p), "%s/f", g_dir);
	while (!atomic_load(&g_stop)) {
		fd = open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && (st.st_mode & 0777) != 0644)
			atomic_fetch_add(&g_bad, 1);
		atomic_fetch_add(&g_made, 1);
		close(fd);
		unlink(p);
	}
	return NULL;
}

/* ctl_start set the process's umask to 0177 around its bind, while the
 * daemon's other threads (RocksDB, the migrator, the tiers) create files
 * and directories: one made in that window came out 0600 (a directory
 * without its x bits, to a daemon not running as root, unusable). */
static void test_start_keeps_umask(void **state)
{
	char sock[96], err[256];
	struct ctl_server *s;
	struct stat st;
	pthread_t th;

	strcpy(g_dir, "/tmp/test_ctl_sock.XXXXXX");
	assert_non_null(mkdtemp(g_dir));
	snprintf(sock, sizeof(sock), "%s/ctl.sock", g_dir);
	umask(022);
	assert_int_equal(pthread_create(&th, NULL, creator, NULL), 0);
	for (int i = 0; i < 300; i++) {
		s = NULL;
		if (ctl_start(sock, NULL, 0, &s, err, sizeof(err)) < 0)
			fail_msg("ctl_start: %s", err);
		assert_int_equal(stat(sock, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		ctl_stop(s);
	}
	atomic_store(&g_stop, 1);
	pthread_join(th, NULL);
	print_message("%d files made while starting, %d with another mode\n",
		      atomic_load(&g_made), atomic_load(&g_bad));
	assert_true(atomic_load(&g_made) > 0);
	assert_int_equal(atomic_load(&g_bad), 0);
	tmpdir_remove(g_dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_keeps_umask),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
