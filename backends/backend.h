/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A storage backend: one table of function pointers per kind, one instance
 * per tier. The local kind keeps one sparse file per inode, extents at their
 * logical offsets ("<tier path>/data/XX/YY/<ino as 16 hex digits>").
 *
 * Every function returns a result >= 0 or -errno and never sets errno.
 * All functions may be called concurrently from any thread; the backend
 * serialises what it must itself. No function holds a lock while it does
 * I/O. */
#ifndef DF_BACKEND_H
#define DF_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/config.h"

struct backend;

struct be_space {
	uint64_t fs_total;     /* bytes of the filesystem holding the tier */
	uint64_t fs_avail;     /* bytes free for us on that filesystem */
};

struct be_ops {
	const char *kind;
	/* Reads up to len bytes of inode `ino` at off. Bytes never written
	 * (holes, past the end of the backing object) read as zeros, so the
	 * result is len unless an error occurs. */
	ssize_t (*pread)(struct backend *be, uint64_t ino, void *buf, size_t len,
			 uint64_t off);
	/* Writes len bytes at off, creating the backing object if needed.
	 * Returns len or -errno (ENOSPC, EIO, ...). */
	ssize_t (*pwrite)(struct backend *be, uint64_t ino, const void *buf,
			  size_t len, uint64_t off);
	/* Frees [off, off+len): reads of it return zeros afterwards. A missing
	 * backing object is not an error. */
	int (*punch)(struct backend *be, uint64_t ino, uint64_t off, uint64_t len);
	/* Cuts the backing object to `size` (never extends it). A missing
	 * backing object is not an error. */
	int (*truncate)(struct backend *be, uint64_t ino, uint64_t size);
	/* Reserves space for [off, off+len) (fallocate mode 0, keep size). */
	int (*allocate)(struct backend *be, uint64_t ino, uint64_t off, uint64_t len);
	/* Makes written data of `ino` durable (fdatasync). A missing backing
	 * object is not an error. */
	int (*sync)(struct backend *be, uint64_t ino);
	/* Removes the backing object of `ino`. Missing is not an error. */
	int (*remove)(struct backend *be, uint64_t ino);
	/* lseek(SEEK_DATA or SEEK_HOLE) in the backing object from `off`.
	 * Returns the offset, or -ENXIO (no data past off / missing object). */
	int64_t (*seek)(struct backend *be, uint64_t ino, uint64_t off, int whence);
	/* Closes any cached descriptor of `ino` (last close of the file). */
	void (*forget)(struct backend *be, uint64_t ino);
	/* Calls cb for every inode that has a backing object, stopping at
	 * the first nonzero return, which it returns. For fsck and orphans. */
	int (*list)(struct backend *be, int (*cb)(uint64_t ino, void *arg), void *arg);
	/* Space of the filesystem under the tier. */
	int (*space)(struct backend *be, struct be_space *out);
	/* Frees the backend; in-flight calls must have returned. */
	void (*destroy)(struct backend *be);
};

struct backend {
	const struct be_ops *ops;      /* the kind's table */
	char name[CFG_NAME_MAX];       /* tier name */
	int index;                     /* tier index, 0 = fastest */
	void *priv;                    /* the kind's state */
};

/* Opens a local-directory backend on t->path (creating "data/" under it).
 * Returns 0 and *out, or -errno with a message in err. */
int be_local_open(const struct cfg_tier *t, int index, struct backend **out,
		  char *err, size_t errlen);

#endif
