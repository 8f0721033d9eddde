// SPDX-License-Identifier: GPL-2.0-or-later
// churn: short-lived files from many threads at once, the pattern of build
// directories and mail spools, where a file's last close, its unlink and
// the daemon's work on an earlier request of the same file overlap.
//
//   churn DIR THREADS ITERATIONS
//       Each thread t creates DIR/cT.I for I = 0..ITERATIONS-1, writes a
//       block of a pattern of (t, I) and reads it back through the same
//       descriptor. Odd iterations unlink the file before the read (an
//       open, unlinked file), even ones after the close. Every read must
//       return the block just written.
//
// Exit 0 on success, 1 on a failed check or an I/O error, 2 on a usage
// error.

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHURN_BLOCK 8192
#define CHURN_MAX_THREADS 64

static const char *dir;
static int iterations;

static void fill(unsigned char *p, long t, int i)
{
	for (size_t k = 0; k < CHURN_BLOCK; k++)
		p[k] = (unsigned char)(1 + (t * 31 + i * 7 + k) % 251);
}

static int once(long t, int i, unsigned char *want, unsigned char *got)
{
	char path[4096];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/c%ld.%d", dir, t, i);
	fill(want, t, i);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	if (fd < 0) {
		fprintf(stderr, "open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if ((n = pwrite(fd, want, CHURN_BLOCK, 0)) != CHURN_BLOCK) {
		fprintf(stderr, "pwrite %s: %zd, %s\n", path, n, strerror(errno));
		goto fail;
	}
	if ((i & 1) && unlink(path) < 0) {
		fprintf(stderr, "unlink %s: %s\n", path, strerror(errno));
		goto fail;
	}
	memset(got, 0, CHURN_BLOCK);
	if ((n = pread(fd, got, CHURN_BLOCK, 0)) != CHURN_BLOCK) {
		fprintf(stderr, "pread %s: %zd, %s\n", path, n, strerror(errno));
		goto fail;
	}
	if (memcmp(want, got, CHURN_BLOCK)) {
		fprintf(stderr, "%s: read back differs from what was written\n",
			path);
		goto fail;
	}
	if (close(fd) < 0) {
		fprintf(stderr, "close %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!(i & 1) && unlink(path) < 0) {
		fprintf(stderr, "unlink %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
fail:
	close(fd);
	return -1;
}

static void *run(void *arg)
{
	long t = (long)arg;
	unsigned char want[CHURN_BLOCK], got[CHURN_BLOCK];

	for (int i = 0; i < iterations; i++)
		if (once(t, i, want, got) < 0)
			return (void *)1;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t tid[CHURN_MAX_THREADS];
	int threads, bad = 0;

	if (argc != 4 || (threads = atoi(argv[2])) < 1 ||
	    threads > CHURN_MAX_THREADS || (iterations = atoi(argv[3])) < 1) {
		fprintf(stderr, "usage: churn DIR THREADS(1-%d) ITERATIONS\n",
			CHURN_MAX_THREADS);
		return 2;
	}
	dir = argv[1];
	for (long t = 0; t < threads; t++)
		if (pthread_create(&tid[t], NULL, run, (void *)t)) {
			fprintf(stderr, "pthread_create failed\n");
			return 1;
		}
	for (int t = 0; t < threads; t++) {
		void *r;

		pthread_join(tid[t], &r);
		bad |= r != NULL;
	}
	return bad;
}
