// SPDX-License-Identifier: GPL-2.0-or-later
/* The reply pipe: pieces of files go in whole, in order, or the reply is
 * an error and the pipe is left empty. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs/splice.h"

#define FILE_LEN 65536

struct fx {
	char path[64];
	int fd;                        /* FILE_LEN bytes of pattern, O_RDONLY */
	uint8_t data[FILE_LEN];        /* what the file holds */
	struct fs_pipe p;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	int wfd;

	assert_non_null(x);
	snprintf(x->path, sizeof(x->path), "/tmp/dfsplice.XXXXXX");
	wfd = mkstemp(x->path);
	assert_true(wfd >= 0);
	for (size_t i = 0; i < FILE_LEN; i++)
		x->data[i] = (uint8_t)(i * 7 + i / 251);
	assert_int_equal(write(wfd, x->data, FILE_LEN), FILE_LEN);
	close(wfd);
	x->fd = open(x->path, O_RDONLY | O_CLOEXEC);
	assert_true(x->fd >= 0);
	x->p.rd = x->p.wr = -1;
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	fs_pipe_close(&x->p);
	close(x->fd);
	unlink(x->path);
	free(x);
	return 0;
}

static size_t pipe_bytes(struct fs_pipe *p)
{
	int n = -1;

	assert_int_equal(ioctl(p->rd, FIONREAD, &n), 0);
	return (size_t)n;
}

static void pipe_read(struct fs_pipe *p, uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(p->rd, buf + done, len - done);

		assert_true(n > 0);
		done += (size_t)n;
	}
}

/* Pieces that fit are spliced in order; memory pieces stay put. */
static void test_fill(void **state)
{
	struct fx *x = *state;
	uint8_t m[3] = { 1, 2, 3 }, a[5000], b[3000], got[8000];
	struct fs_seg seg[3] = {
		{ .fd = x->fd, .off = 100, .mem = a, .len = sizeof(a) },
		{ .fd = -1, .mem = m, .len = sizeof(m) },
		{ .fd = x->fd, .off = 9000, .mem = b, .len = sizeof(b) },
	};
	bool piped[3];

	assert_int_equal(fs_pipe_open(&x->p, 1 << 20), 0);
	assert_true(x->p.slots >= 16);
	assert_int_equal(fs_pipe_fill(&x->p, seg, 3, piped), 0);
	assert_true(piped[0]);
	assert_false(piped[1]);
	assert_true(piped[2]);
	assert_int_equal(pipe_bytes(&x->p), 8000);
	pipe_read(&x->p, got, sizeof(got));
	assert_memory_equal(got, x->data + 100, 5000);
	assert_memory_equal(got + 5000, x->data + 9000, 3000);
}

/* A piece that would overflow the pipe is read into its memory. */
static void test_fill_small_pipe(void **state)
{
	struct fx *x = *state;
	static uint8_t a[5000], b[20000];
	struct fs_seg seg[2] = {
		{ .fd = x->fd, .off = 100, .mem = a, .len = sizeof(a) },
		{ .fd = x->fd, .off = 30000, .mem = b, .len = sizeof(b) },
	};
	bool piped[2];

	assert_int_equal(fs_pipe_open(&x->p, 4 * 4096), 0);
	assert_int_equal(x->p.slots, 4);
	assert_int_equal(fs_pipe_fill(&x->p, seg, 2, piped), 0);
	assert_true(piped[0]);
	assert_false(piped[1]);
	assert_int_equal(pipe_bytes(&x->p), 5000);
	assert_memory_equal(b, x->data + 30000, sizeof(b));
	fs_pipe_drain(&x->p);
	assert_int_equal(pipe_bytes(&x->p), 0);
}

/* An error after bytes went in: the error, and an empty pipe, so that the
 * reply is an error and never a short read. */
static void test_fill_errors(void **state)
{
	struct fx *x = *state;
	uint8_t a[5000], b[3000];
	int wfd = open(x->path, O_WRONLY | O_CLOEXEC);
	struct fs_seg seg[2] = {
		{ .fd = x->fd, .off = 0, .mem = a, .len = sizeof(a) },
		{ .fd = wfd, .off = 8192, .mem = b, .len = sizeof(b) },
	};
	bool piped[2];

	assert_true(wfd >= 0);
	assert_int_equal(fs_pipe_open(&x->p, 1 << 20), 0);
	assert_int_equal(fs_pipe_fill(&x->p, seg, 2, piped), -EBADF);
	assert_int_equal(pipe_bytes(&x->p), 0);
	close(wfd);

	/* the file ends inside the second piece */
	seg[1] = (struct fs_seg){ .fd = x->fd, .off = FILE_LEN - 1000,
				  .mem = b, .len = sizeof(b) };
	assert_int_equal(fs_pipe_fill(&x->p, seg, 2, piped), -EIO);
	assert_int_equal(pipe_bytes(&x->p), 0);

	/* and when it is read instead of spliced */
	fs_pipe_close(&x->p);
	assert_int_equal(fs_pipe_open(&x->p, 4096), 0);
	seg[0].len = 10;
	assert_int_equal(fs_pipe_fill(&x->p, seg, 2, piped), -EIO);
	assert_int_equal(pipe_bytes(&x->p), 0);

	/* the pipe works again afterwards */
	seg[1].off = 0;
	assert_int_equal(fs_pipe_fill(&x->p, seg, 2, piped), 0);
	assert_true(piped[0]);
	assert_false(piped[1]);
	assert_memory_equal(b, x->data, sizeof(b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fill_small_pipe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fill_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
