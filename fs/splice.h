/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A pipe that carries a read's reply from the tier files to the reply
 * to the kernel: the descriptor pieces of the reply are spliced into it,
 * checked byte for byte, before the reply is sent, so that an error of a
 * tier file becomes an error reply and never a short one. */
#ifndef DF_SPLICE_H
#define DF_SPLICE_H

#include <stdbool.h>
#include <stddef.h>

#include "fs/fs.h"

struct fs_pipe {
	int rd, wr;            /* non-blocking ends */
	size_t slots;          /* pipe buffers it holds (pages) */
};

/* /proc/sys/fs/pipe-max-size: the most a pipe grows to without
 * CAP_SYS_RESOURCE; 0 if unknown. */
size_t fs_pipe_max_size(void);
/* Opens a pipe holding up to `bytes` if the process may grow it so far,
 * else as much as it may. Returns 0 or -errno. */
int fs_pipe_open(struct fs_pipe *p, size_t bytes);
void fs_pipe_close(struct fs_pipe *p);
/* Discards what the pipe holds. */
void fs_pipe_drain(struct fs_pipe *p);
/* Moves the descriptor pieces of seg[0..n) into the pipe, in order: each
 * that fits is spliced (piped[i] = true: the reply reads it from p->rd),
 * the others (all of them when p is NULL) are read into their mem.
 * Returns 0, or -errno with the pipe empty: EIO when a descriptor holds
 * fewer bytes than its piece. */
int fs_pipe_fill(struct fs_pipe *p, const struct fs_seg *seg, int n,
		 bool *piped);

#endif
