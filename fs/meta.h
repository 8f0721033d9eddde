/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The metadata store: dfabric's namespace in RocksDB.
 *
 * Column families, integer keys big-endian so that prefix iteration gives
 * readdir and extent order:
 *   default   sys keys (next inode number, tier ids), key = ASCII name
 *   inodes    ino(8)               -> inode record
 *   dentries  parent(8) name       -> dirent record (child ino, type)
 *   xattrs    ino(8) name          -> xattr record (value)
 *   extents   ino(8) offset(8)     -> extent record
 *   symlinks  ino(8)               -> symlink record (target)
 *   orphans   ino(8)               -> empty (unlinked while still open)
 *   stats     ASCII name           -> int64 counter, merged by addition
 *   jobs      job id(8)            -> migration job record
 *   access    ino(8) [offset(8)]   -> access statistics of the file (key of
 *                                     8 bytes) or of one extent (16 bytes)
 *
 * Every record value starts with a kind byte and a format version and ends
 * with an XXH32 of what precedes it: a record that fails to decode is
 * reported as corrupt (-EUCLEAN, with one log line naming the key), never
 * used. Records are little-endian.
 *
 * Changes go through a batch committed atomically; commit(sync=0) survives
 * a crash of the daemon (the WAL is written to the OS), commit(sync=1) or
 * meta_sync() survives a crash of the machine.
 *
 * Thread-safety: a struct meta may be used from any thread; a batch by one
 * thread at a time. No function takes a dfabric lock. */
#ifndef DF_META_H
#define DF_META_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "predict/series.h"
#include "tiering/stats.h"

#define META_NAME_MAX   255     /* bytes of one name (ENAMETOOLONG above) */
#define META_XATTR_NAME_MAX 255
#define META_XATTR_SIZE_MAX 65536
#define META_SYMLINK_MAX 4095   /* bytes of a symlink target */

struct meta;
struct meta_batch;

enum meta_inode_flags {
	META_INODE_ORPHAN = (1 << 0),  /* nlink is 0, kept while open */
	META_INODE_DATA   = (1 << 1),  /* has had an extent: tier files may exist */
	META_INODE_XATTRS = (1 << 2),  /* has had an xattr record */
	META_INODE_POLICY = (1 << 3),  /* has had a policy xattr (fs.c) */
};

struct meta_inode {
	uint64_t ino;                  /* inode number, 1 = root */
	uint32_t mode;                 /* file type and permission bits */
	uint32_t uid;                  /* owner */
	uint32_t gid;                  /* group */
	uint32_t nlink;                /* hard links */
	uint64_t size;                 /* bytes */
	uint64_t rdev;                 /* device number of a device node */
	struct timespec atime;         /* last access */
	struct timespec mtime;         /* last data change */
	struct timespec ctime;         /* last status change */
	struct timespec btime;         /* creation */
	uint64_t blocks;               /* 512-byte blocks allocated (estimate) */
	uint32_t flags;                /* enum meta_inode_flags */
	uint64_t parent;               /* directories: the parent's ino */
};

struct meta_dirent {
	uint64_t ino;                  /* child inode */
	uint32_t type;                 /* S_IFMT bits of the child's mode */
};

enum meta_extent_flags {
	META_EXT_SEALED = (1 << 0),    /* csum matches the content */
	META_EXT_SHA256 = (1 << 1),    /* csum is SHA-256 (else XXH3-128, 16 bytes) */
};

#define META_CSUM_MAX 32               /* bytes of the largest checksum */

struct meta_extent {
	uint64_t off;                  /* logical offset of the extent */
	uint64_t len;                  /* bytes it covers from off */
	uint64_t version;              /* bumped by every write into it */
	uint32_t tier;                 /* persistent tier id holding the data */
	uint32_t flags;                /* enum meta_extent_flags */
	uint8_t csum[META_CSUM_MAX];   /* checksum of the len bytes when sealed */
};

/* Opens (creating if missing) the store in directory `dir`; the parent
 * directory must exist. A new store gets a format record; a store of
 * another format is refused (-ENOTSUP), a corrupt one too (-EUCLEAN).
 * Returns 0 and *out, or a negative errno with a message in err (-EBUSY
 * when another process has it open, -EACCES, -EIO with RocksDB's error). */
int meta_open(const char *dir, struct meta **out, char *err, size_t errlen);
/* Closes the store, flushing nothing extra. NULL is fine. */
void meta_close(struct meta *m);

/* Point reads. Return 0, -ENOENT when absent, -EUCLEAN when the record is
 * corrupt, -EIO on a RocksDB error. */
int meta_get_inode(struct meta *m, uint64_t ino, struct meta_inode *out);
int meta_get_dirent(struct meta *m, uint64_t parent, const char *name,
		    struct meta_dirent *out);
/* Copies the target (NUL-terminated) into buf of size n; -ENAMETOOLONG if
 * it does not fit. */
int meta_get_symlink(struct meta *m, uint64_t ino, char *buf, size_t n);
/* Returns the value's size; copies it into buf when size > 0 (-ERANGE if
 * it does not fit, or when the name is longer than META_XATTR_NAME_MAX);
 * -ENODATA when absent. */
int meta_get_xattr(struct meta *m, uint64_t ino, const char *name, void *buf,
		   size_t size);
int meta_get_sys_u64(struct meta *m, const char *key, uint64_t *out);
/* A blob of up to META_SYS_BLOB_MAX bytes under `key` (the predictor's
 * state): malloc'd into *out, which the caller frees. 0, -ENOENT,
 * -EUCLEAN. */
#define META_SYS_BLOB_MAX (64u << 20)
int meta_get_sys_blob(struct meta *m, const char *key, void **out,
		      size_t *len);
/* An absent counter reads as 0. */
int meta_get_counter(struct meta *m, const char *key, int64_t *out);

/* Iterations. The callback returns 0 to go on; a nonzero value stops the
 * iteration and is returned. A corrupt record stops it with -EUCLEAN. */
typedef int (*meta_dirent_cb)(void *arg, const char *name,
			      const struct meta_dirent *d);
/* Entries of `parent` in name order (byte order), starting after the name
 * `after` (NULL: from the first). */
int meta_readdir(struct meta *m, uint64_t parent, const char *after,
		 meta_dirent_cb cb, void *arg);
/* 1 when `parent` has no entries, 0 when it has, or -errno. */
int meta_dir_empty(struct meta *m, uint64_t parent);
typedef int (*meta_name_cb)(void *arg, const char *name);
int meta_list_xattrs(struct meta *m, uint64_t ino, meta_name_cb cb, void *arg);
/* All extents of `ino` in offset order, into a malloc'd array the caller
 * frees (NULL and 0 when there are none). */
int meta_load_extents(struct meta *m, uint64_t ino, struct meta_extent **out,
		      size_t *n);
typedef int (*meta_ino_cb)(void *arg, uint64_t ino);
int meta_list_orphans(struct meta *m, meta_ino_cb cb, void *arg);
typedef int (*meta_inode_cb)(void *arg, const struct meta_inode *inode);
int meta_list_inodes(struct meta *m, meta_inode_cb cb, void *arg);

/* A migration job (tiering/migrate.c): moves the extents of one file, or
 * of a range of it, to one tier, one extent at a time. The cur_* fields
 * describe the extent in flight. */
enum meta_job_state {
	META_JOB_PENDING = 1,          /* queued */
	META_JOB_COPYING = 2,          /* writing the destination copy */
	META_JOB_VERIFYING = 3,        /* reading it back, comparing checksums */
	META_JOB_COMMITTED = 4,        /* extent map flipped; source not yet freed */
	META_JOB_CLEANED = 5,          /* done: every extent moved, sources freed */
	META_JOB_ROLLED_BACK = 6,      /* gave up: destination freed, source valid */
};

#define META_JOB_REASON_MAX 96         /* bytes of a job's reason incl. NUL */

struct meta_job {
	uint64_t id;                   /* job number, from 1 */
	uint32_t state;                /* enum meta_job_state */
	uint32_t flags;                /* MIG_JOB_* of tiering/migrate.h */
	uint64_t ino;                  /* the file */
	uint64_t off;                  /* range start */
	uint64_t len;                  /* range length (UINT64_MAX: to the end) */
	uint32_t dst_tier;             /* destination tier id */
	uint32_t src_tier;             /* tier id of the extent in flight */
	uint64_t cur_off;              /* offset of the extent in flight */
	uint64_t cur_version;          /* its version when the copy began */
	uint64_t cur_len;              /* its length */
	uint64_t bytes_total;          /* bytes to move, as planned */
	uint64_t bytes_done;           /* bytes moved so far */
	int64_t created;               /* unix time in ns */
	int64_t updated;               /* unix time in ns of the last change */
	int32_t err;                   /* errno of the failure, 0 if none */
	double priority;               /* higher runs first */
	char reason[META_JOB_REASON_MAX]; /* why it failed or was rolled back */
};

typedef int (*meta_job_cb)(void *arg, const struct meta_job *j);
/* All jobs in id order. */
int meta_list_jobs(struct meta *m, meta_job_cb cb, void *arg);

/* Access statistics (tiering/profile.c). off META_ACCESS_FILE names the
 * file's record, any other value the extent at that offset. */
#define META_ACCESS_FILE UINT64_MAX
/* st is NULL for a corrupt record (already logged, -EUCLEAN): the caller
 * should delete it. The iteration goes on past corrupt records. se is
 * the access history stored with the statistics, NULL for a record
 * written before histories were kept. */
typedef int (*meta_access_cb)(void *arg, uint64_t ino, uint64_t off,
			      const struct access_stats *st,
			      const struct access_series *se);
int meta_list_access(struct meta *m, meta_access_cb cb, void *arg);

/* Batches: collect changes, then commit them as one atomic write. The
 * put/del functions cannot fail (they only append to memory). */
struct meta_batch *meta_batch_new(void);
void meta_batch_free(struct meta_batch *b);
void meta_batch_clear(struct meta_batch *b);
int meta_batch_count(const struct meta_batch *b);
void meta_put_inode(struct meta_batch *b, const struct meta_inode *inode);
void meta_put_dirent(struct meta_batch *b, uint64_t parent, const char *name,
		     const struct meta_dirent *d);
void meta_del_dirent(struct meta_batch *b, uint64_t parent, const char *name);
void meta_put_xattr(struct meta_batch *b, uint64_t ino, const char *name,
		    const void *value, size_t size);
void meta_del_xattr(struct meta_batch *b, uint64_t ino, const char *name);
void meta_put_extent(struct meta_batch *b, uint64_t ino,
		     const struct meta_extent *e);
void meta_del_extent(struct meta_batch *b, uint64_t ino, uint64_t off);
void meta_put_symlink(struct meta_batch *b, uint64_t ino, const char *target);
void meta_put_orphan(struct meta_batch *b, uint64_t ino);
void meta_del_orphan(struct meta_batch *b, uint64_t ino);
/* Deletes the inode record, and its symlink record when mode is a
 * symlink's (point deletes; no other inode has one, and a delete of a
 * key that is not there still costs a memtable entry). */
void meta_del_inode(struct meta_batch *b, uint64_t ino, uint32_t mode);
/* Deletes the inode record, its symlink, all its xattrs and extents, the
 * last two with range deletions. RocksDB 7.8 reads slow down with every
 * range tombstone in a memtable: for bulk cleanup only, not per unlink. */
void meta_del_inode_all(struct meta_batch *b, uint64_t ino);
void meta_put_job(struct meta_batch *b, const struct meta_job *j);
void meta_del_job(struct meta_batch *b, uint64_t id);
void meta_put_sys_u64(struct meta_batch *b, const char *key, uint64_t v);
void meta_put_sys_blob(struct meta_batch *b, const char *key,
		       const void *data, size_t len);
void meta_put_access(struct meta_batch *b, uint64_t ino, uint64_t off,
		     const struct access_stats *st,
		     const struct access_series *se);
void meta_del_access(struct meta_batch *b, uint64_t ino, uint64_t off);
/* Adds delta to the counter `key` (a merge: concurrent batches commute). */
void meta_add_counter(struct meta_batch *b, const char *key, int64_t delta);
/* Sets the counter `key` to v (a put: later adds count from it). */
void meta_put_counter(struct meta_batch *b, const char *key, int64_t v);

/* Writes the batch atomically; sync=1 also makes it durable. Returns 0,
 * -EIO (the RocksDB error is logged), or the -errno of a put refused for
 * bad input (EINVAL, ENAMETOOLONG, ERANGE, E2BIG, ENOMEM), in which case
 * nothing of the batch is written. The batch is left as it was. */
int meta_commit(struct meta *m, struct meta_batch *b, int sync);
/* Tests: while positive, a commit of a non-empty batch takes one from it
 * and fails with -EIO, writing nothing. */
extern _Atomic int meta_debug_fail_commits;
/* Tests: while positive, a meta_sync() takes one from it and fails with
 * -EIO, leaving what was committed applied but not synced. */
extern _Atomic int meta_debug_fail_syncs;
/* Makes every committed batch durable (syncs the WAL). 0 or -EIO. */
int meta_sync(struct meta *m);

/* Column family ids, for tests that need to corrupt a record. */
enum meta_cf {
	META_CF_DEFAULT, META_CF_INODES, META_CF_DENTRIES, META_CF_XATTRS,
	META_CF_EXTENTS, META_CF_SYMLINKS, META_CF_ORPHANS, META_CF_STATS,
	META_CF_JOBS, META_CF_ACCESS, META_CF_COUNT
};
/* Writes raw bytes under a raw key, bypassing encoding (tests only). */
int meta_debug_put_raw(struct meta *m, enum meta_cf cf, const void *key,
		       size_t klen, const void *val, size_t vlen);

#endif
