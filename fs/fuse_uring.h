/* SPDX-License-Identifier: GPL-2.0-or-later */
/* FUSE over io_uring (fs/fuse_uring.c): the kernel hands requests to one
 * queue per CPU, each served by a thread pinned to that CPU, so that a
 * client and the thread serving it share a CPU. */
#ifndef DF_FUSE_URING_H
#define DF_FUSE_URING_H

#include <stdbool.h>
#include <stddef.h>

struct fuse_session;

/* Puts dfabric's transport under se, after fuse_session_mount and before
 * the first request: if the kernel offers io_uring in its INIT request
 * (the fuse module's enable_uring), the queues of every CPU register once
 * the kernel has the INIT reply, and serve the requests from when all of
 * them have; FORGET and INTERRUPT still come through /dev/fuse, served by
 * the request loop. Returns 0 or -errno. */
int df_uring_setup(struct fuse_session *se);
/* Whether the kernel offered io_uring and dfabric will use it: known
 * once the INIT request has been read (the init callback asks). */
bool df_uring_wanted(void);
/* The buffer the reply to the request this thread serves goes to, if
 * it came over io_uring and n bytes fit: a read put there is not copied
 * again. NULL otherwise. */
void *df_uring_reply_buf(size_t n);
/* Stops the queue threads and frees them; the session's loop has ended.
 * Logs how many requests the queues served. */
void df_uring_stop(void);

#endif
