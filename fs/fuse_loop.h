/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's FUSE request loop (fs/fuse_loop.c): a leader serves quick
 * requests inline and hands the ones that do I/O to its followers. */
#ifndef DF_FUSE_LOOP_H
#define DF_FUSE_LOOP_H

#include <pthread.h>

struct fuse_session;

/* Serves se until it ends (unmount, signal), with at most max_threads
 * threads (at least 2). Between requests that come within spin_us of
 * each other the leader polls for the next one that long before it
 * sleeps (0: never). Returns 0, or -errno from reading /dev/fuse. */
int df_loop(struct fuse_session *se, unsigned max_threads, unsigned spin_us);

/* Starts a thread of a request loop (this one's or fs/fuse_uring.c's)
 * with the signals that end the session (SIGINT, SIGTERM, SIGHUP)
 * blocked: the main thread takes them. Returns pthread_create's result. */
int df_loop_thread_start(pthread_t *th, void *(*fn)(void *), void *arg);

#endif
