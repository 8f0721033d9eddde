// SPDX-License-Identifier: GPL-2.0-or-later
/* The reply pipe (see splice.h). */
#include "fs/splice.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static size_t page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (size_t)ps : 4096;
}

size_t fs_pipe_max_size(void)
{
	unsigned long lim = 0;
	FILE *fp = fopen("/proc/sys/fs/pipe-max-size", "r");

	if (fp) {
		if (fscanf(fp, "%lu", &lim) != 1)
			lim = 0;
		fclose(fp);
	}
	return lim;
}

int fs_pipe_open(struct fs_pipe *p, size_t bytes)
{
	int fds[2], sz;

	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	p->rd = fds[0];
	p->wr = fds[1];
	if (bytes > INT32_MAX)
		bytes = INT32_MAX;
	/* Without CAP_SYS_RESOURCE a pipe grows to pipe-max-size only. */
	if (fcntl(p->rd, F_SETPIPE_SZ, (int)bytes) < 0) {
		size_t lim = fs_pipe_max_size();

		if (lim > 0 && lim < bytes)
			fcntl(p->rd, F_SETPIPE_SZ, (int)lim);
	}
	sz = fcntl(p->rd, F_GETPIPE_SZ);
	p->slots = sz > 0 ? (size_t)sz / page_size() : 1;
	return 0;
}

void fs_pipe_close(struct fs_pipe *p)
{
	if (p->rd >= 0)
		close(p->rd);
	if (p->wr >= 0)
		close(p->wr);
	p->rd = p->wr = -1;
}

void fs_pipe_drain(struct fs_pipe *p)
{
	char sink[16384];
	int left = 0;

	/* Bounded: the pipe holds at most slots pages, nobody writes. */
	while (ioctl(p->rd, FIONREAD, &left) == 0 && left > 0 &&
	       read(p->rd, sink, sizeof(sink)) > 0)
		;
}

/* Reads [off, off+len) of fd into buf; -EIO when the file ends first. */
static int read_all(int fd, char *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* Splices [off, off+len) of fd into the pipe: 0, -EAGAIN when the pipe
 * filled up first (it should not: the caller counted its pages), -EIO
 * when the file ends first, or -errno. */
static int splice_all(struct fs_pipe *p, int fd, uint64_t off, size_t len)
{
	loff_t pos = (loff_t)off;

	while (len) {
		ssize_t n = splice(fd, &pos, p->wr, NULL, len,
				   SPLICE_F_NONBLOCK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		len -= (size_t)n;
	}
	return 0;
}

int fs_pipe_fill(struct fs_pipe *p, const struct fs_seg *seg, int n,
		 bool *piped)
{
	size_t ps = page_size(), used = 0, slots = p ? p->slots : 0;
	int rc = 0, i;

	for (i = 0; i < n; i++) {
		const struct fs_seg *s = &seg[i];
		/* The pages the piece touches, each a pipe buffer. */
		size_t pages = s->fd < 0 ? 0 :
			(size_t)((s->off + s->len + ps - 1) / ps - s->off / ps);

		piped[i] = false;
		if (s->fd < 0 || !s->len)
			continue;
		if (used + pages <= slots) {
			rc = splice_all(p, s->fd, s->off, s->len);
			if (rc == 0) {
				used += pages;
				piped[i] = true;
				continue;
			}
			if (rc != -EAGAIN)
				goto fail;
			/* Full after all: read every piece instead. */
			fs_pipe_drain(p);
			for (int j = 0; j < i; j++) {
				if (piped[j] && (rc = read_all(seg[j].fd,
						(char *)seg[j].mem, seg[j].len,
						seg[j].off)) < 0)
					goto fail;
				piped[j] = false;
			}
			used = slots;
		}
		if ((rc = read_all(s->fd, (char *)s->mem, s->len, s->off)) < 0)
			goto fail;
	}
	return 0;
fail:
	if (p)
		fs_pipe_drain(p);
	return rc;
}
