/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Knobs of the local-directory backend that only tests and diagnostics
 * need; be_local_open itself is declared in backends/backend.h. Each
 * function takes a backend made by be_local_open and returns -EINVAL (or 0
 * for the count) on a backend of another kind. Thread-safe. */
#ifndef DF_BACKEND_LOCAL_H
#define DF_BACKEND_LOCAL_H

#include <stddef.h>

#include "backends/backend.h"

/* A new descriptor (read-write, the caller closes it) of ino's backing
 * file, with O_DIRECT when `direct`, created if missing when `create`:
 * for copies that bypass the descriptor cache (the migrator's io_uring).
 * -ENOENT when it is missing and !create, -EINVAL when the filesystem
 * refuses O_DIRECT (neither logged), or -errno. */
int be_local_open_fd(struct backend *be, uint64_t ino, int direct, int create);

/* 1 when be is a local-directory backend (be_local_open_fd works). */
int be_is_local(const struct backend *be);

/* Sets how many unused descriptors the backend may keep open (>= 1) and
 * closes unused ones beyond it at once. Returns 0 or -EINVAL. */
int be_local_set_fd_cache_max(struct backend *be, size_t max);

/* Number of descriptors in the cache now (used and unused). */
size_t be_local_fd_cache_count(struct backend *be);

/* Resolves paths with openat() and O_NOFOLLOW one component at a time, as
 * on a kernel without openat2(), from now on. Returns 0 or -EINVAL. */
int be_local_force_openat(struct backend *be);

#endif
