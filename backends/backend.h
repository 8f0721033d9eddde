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

/* One copy of one extent, as the extent operations see it. Local tiers
 * keep it at its logical offset in the inode's file (version unused); an
 * object store keeps one object per (ino, off, version). */
struct be_ext {
	uint64_t ino;          /* inode */
	uint64_t off;          /* logical offset of the extent in the file */
	uint64_t len;          /* bytes the extent covers */
	uint64_t version;      /* extent version this copy holds */
};

enum be_caps {
	/* The file operations (pwrite, punch, truncate, allocate, sync,
	 * remove, seek, forget, list) work: writes may land here. Kinds
	 * without it (object stores) leave those NULL and are reached only
	 * through the extent operations. */
	BE_CAP_FILE = (1 << 0),
};

enum be_health {
	BE_UP = 0,             /* answering */
	BE_DOWN = 1,           /* failing: requests fail fast, probed in background */
};

struct be_space {
	uint64_t fs_total;     /* bytes of the filesystem holding the tier */
	uint64_t fs_avail;     /* bytes free for us on that filesystem */
};

struct be_ops {
	const char *kind;
	unsigned caps;                 /* enum be_caps */

	/* ---- extent operations: every kind ---- */

	/* Reads [off, off+len) of copy x, where off is a logical file offset
	 * and the range lies within [x->off, x->off + x->len). Bytes past
	 * what was stored read as zeros. Returns len or -errno; -EIO when
	 * the copy is missing or unreadable. */
	ssize_t (*ext_read)(struct backend *be, const struct be_ext *x,
			    void *buf, size_t len, uint64_t off);
	/* Stores the first n bytes (n <= x->len) of the extent's content as
	 * copy x, replacing what x held. Not durable until ext_sync. */
	int (*ext_write)(struct backend *be, const struct be_ext *x,
			 const void *buf, size_t n);
	/* Makes copy x durable (a completed upload already is). */
	int (*ext_sync)(struct backend *be, const struct be_ext *x);
	/* Frees copy x. A missing copy is not an error. */
	int (*ext_free)(struct backend *be, const struct be_ext *x);
	/* Calls cb for every extent copy stored (object stores; local kinds
	 * may leave it NULL and use list), stopping at the first nonzero
	 * return, which it returns. x->len is the bytes the copy holds, 0
	 * when its stored size fits no copy (damaged). */
	int (*ext_list)(struct backend *be,
			int (*cb)(const struct be_ext *x, void *arg), void *arg);
	/* Optional (NULL: no such hint). A reader is near the end of the
	 * extent before copy x and may go on into x: the kind may start
	 * fetching the start of x in the background, so that a sequential
	 * reader does not stall at the boundary. Never blocks on I/O (it
	 * may be called under the inode's lock); errors are dropped, the
	 * read reports them. The kind may ignore the hint (s3: unless it saw
	 * a sequential reader on an earlier extent of the same inode). */
	void (*ext_prefetch)(struct backend *be, const struct be_ext *x);
	/* Optional (NULL: not offered). Lends a descriptor from which
	 * [off, off+len) of copy x (a range as for ext_read) can be read at
	 * the same offsets, so that a reply can be spliced instead of
	 * copied. The bytes are those ext_read would return, for as long as
	 * the caller keeps the extent from changing. On success *fd is open
	 * for reading, *avail (<= len) counts the bytes from off that lie
	 * within the file (the rest read as zeros) and *pin is to be given
	 * back to ext_unpin, which must be called and keeps fd open until
	 * then. Returns 0 or -errno (-EIO when the copy is missing, as
	 * ext_read; nothing to unpin). */
	int (*ext_pin)(struct backend *be, const struct be_ext *x, uint64_t off,
		       size_t len, int *fd, size_t *avail, void **pin);
	void (*ext_unpin)(struct backend *be, void *pin);
	/* Writes, reads back and deletes a small probe object; fills msg
	 * with a one-line result (latencies). 0 or -errno. */
	int (*probe)(struct backend *be, char *msg, size_t msglen);
	/* enum be_health now. NULL: always BE_UP. */
	int (*health)(struct backend *be);

	/* ---- file operations: kinds with BE_CAP_FILE ---- */

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
	/* Optional. Bytes the store has allocated to the backing object of
	 * `ino` (holes take none), or 0 when there is none; -errno. */
	int64_t (*allocated)(struct backend *be, uint64_t ino);
	/* Closes any cached descriptor of `ino` (last close of the file). */
	void (*forget)(struct backend *be, uint64_t ino);
	/* Calls cb for every inode that has a backing object, stopping at
	 * the first nonzero return, which it returns. For fsck and orphans. */
	int (*list)(struct backend *be, int (*cb)(uint64_t ino, void *arg), void *arg);
	/* ---- every kind ---- */

	/* Space of the filesystem under the tier (object stores: their
	 * configured capacity as both total and available). */
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

/* Opens an S3 backend (backends/s3.c) for tier t: reads its credentials,
 * checks the bucket answers. Returns 0 and *out, or -errno with a message
 * naming the tier in err. */
int be_s3_open(const struct cfg_tier *t, int index, struct backend **out,
	       char *err, size_t errlen);

/* Opens the backend of t's kind. */
int be_open(const struct cfg_tier *t, int index, struct backend **out,
	    char *err, size_t errlen);

/* Health of be (BE_UP when the kind does not track it). */
static inline int be_health(struct backend *be)
{
	return be->ops->health ? be->ops->health(be) : BE_UP;
}

#endif
