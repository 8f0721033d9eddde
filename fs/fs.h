/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The file operations of dfabric, free of FUSE. The FUSE front end
 * (fs/fuse_main.c) calls these and turns -errno into fuse_reply_err(); the
 * control socket (fs/ctl.c) and the tests call them too.
 *
 * Every function returns a result >= 0 or -errno and never sets errno.
 * All may run concurrently from any thread. Inode numbers are the FUSE
 * node ids; 1 is the root. Permission checks on access are the kernel's
 * (the daemon mounts with default_permissions); these functions enforce
 * what the kernel leaves to a filesystem: name lengths, setgid
 * inheritance, emptiness of directories, rename rules, xattr flags. */
#ifndef DF_FS_H
#define DF_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "common/config.h"
#include "fs/meta.h"
#include "tiering/placer.h"

struct fabric;
struct fs_file;   /* an open file: points at the inode, never at a tier fd */
struct fs_dir;    /* an open directory: a snapshot of its entries */

/* Who is asking (from the FUSE request). */
struct fs_ctx {
	uint32_t uid;
	uint32_t gid;
	pid_t pid;
	const gid_t *groups;           /* supplementary groups, or NULL: only
	                                * the policy xattrs' own check reads them */
	int ngroups;                   /* entries in groups */
};

/* Opens the metadata store and the tiers of config c, creates the root on
 * first use, cleans up orphans left by a crash. The config must outlive
 * the fabric. Returns 0 and *out, or -errno with a message in err. */
int fs_fabric_open(const struct cfg *c, struct fabric **out, char *err,
		   size_t errlen);
/* Flushes and frees everything. Open files must have been released. */
void fs_fabric_close(struct fabric *f);

/* Each successful lookup/create/mknod/mkdir/symlink/link adds one to the
 * inode's lookup count, which fs_forget() takes away. */
int fs_lookup(struct fabric *f, uint64_t parent, const char *name,
	      struct stat *out);
void fs_forget(struct fabric *f, uint64_t ino, uint64_t nlookup);
int fs_getattr(struct fabric *f, uint64_t ino, struct stat *out);

enum fs_set_flags {
	FS_SET_MODE      = (1 << 0),
	FS_SET_UID       = (1 << 1),
	FS_SET_GID       = (1 << 2),
	FS_SET_SIZE      = (1 << 3),
	FS_SET_ATIME     = (1 << 4),   /* from attr->st_atim */
	FS_SET_MTIME     = (1 << 5),   /* from attr->st_mtim */
	FS_SET_ATIME_NOW = (1 << 6),
	FS_SET_MTIME_NOW = (1 << 7),
	FS_SET_CTIME     = (1 << 8),   /* from attr->st_ctim */
};
/* fh may be NULL (setattr by path). */
int fs_setattr(struct fabric *f, const struct fs_ctx *ctx, uint64_t ino,
	       const struct stat *attr, int to_set, struct fs_file *fh,
	       struct stat *out);

int fs_mknod(struct fabric *f, const struct fs_ctx *ctx, uint64_t parent,
	     const char *name, mode_t mode, dev_t rdev, struct stat *out);
int fs_mkdir(struct fabric *f, const struct fs_ctx *ctx, uint64_t parent,
	     const char *name, mode_t mode, struct stat *out);
int fs_symlink(struct fabric *f, const struct fs_ctx *ctx, const char *target,
	       uint64_t parent, const char *name, struct stat *out);
int fs_link(struct fabric *f, uint64_t ino, uint64_t newparent,
	    const char *newname, struct stat *out);
int fs_unlink(struct fabric *f, uint64_t parent, const char *name);
int fs_rmdir(struct fabric *f, uint64_t parent, const char *name);
/* flags: 0, RENAME_NOREPLACE or RENAME_EXCHANGE. */
int fs_rename(struct fabric *f, uint64_t parent, const char *name,
	      uint64_t newparent, const char *newname, unsigned int flags);
/* Copies the target, NUL-terminated, into buf; returns its length. */
int fs_readlink(struct fabric *f, uint64_t ino, char *buf, size_t size);

/* open(2) flags; O_TRUNC truncates. */
int fs_create(struct fabric *f, const struct fs_ctx *ctx, uint64_t parent,
	      const char *name, mode_t mode, int flags, struct stat *out,
	      struct fs_file **fh);
/* ctx (may be NULL) names who opens, for the access profiler. */
int fs_open(struct fabric *f, const struct fs_ctx *ctx, uint64_t ino,
	    int flags, struct fs_file **fh);
/* Returns bytes read (short only at end of file). */
ssize_t fs_read(struct fabric *f, struct fs_file *fh, void *buf, size_t size,
		uint64_t off);
/* One piece of a read's reply: len bytes at offset off of descriptor fd,
 * or (fd < 0) len bytes at mem. A descriptor piece's mem is where in the
 * read's buffer its bytes belong, should the reply read them there. */
struct fs_seg {
	int fd;
	uint64_t off;
	const void *mem;
	size_t len;
};
#define FS_SEGS_MAX 16
/* Sends a read's reply: the n (<= FS_SEGS_MAX) pieces in order, whose mem
 * lie one after another from the start of the read's buffer. Called
 * with the file's extents held still, so the descriptors' bytes are the
 * file's until it returns. */
typedef void (*fs_reply_fn)(void *arg, const struct fs_seg *seg, int n);
/* fs_read that replies itself: what lies on a tier that lends its
 * descriptors (local kinds) goes to reply as descriptor pieces, to be
 * spliced instead of copied; the rest is read into buf (size bytes).
 * Returns the bytes replied, or -errno, in which case reply was not
 * called. */
ssize_t fs_read_reply(struct fabric *f, struct fs_file *fh, void *buf,
		      size_t size, uint64_t off, fs_reply_fn reply, void *arg);
/* Returns size, or -errno (ENOSPC when no tier has room, EFBIG). With
 * O_APPEND among the flags the file was opened with, writes at its end
 * whatever off says. */
ssize_t fs_write(struct fabric *f, struct fs_file *fh, const void *buf,
		 size_t size, uint64_t off);
/* fs_write with the flags of this request instead of those of the open:
 * the FUSE front end passes the file's flags now (fcntl F_SETFL may have
 * set or cleared O_APPEND since the open). */
ssize_t fs_write_flags(struct fabric *f, struct fs_file *fh, const void *buf,
		       size_t size, uint64_t off, int flags);
/* Frees fh. */
int fs_release(struct fabric *f, struct fs_file *fh);
/* Data on its tiers and metadata in the RocksDB WAL, both durable. */
int fs_fsync(struct fabric *f, struct fs_file *fh, int datasync);
/* mode: 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE,
 * FALLOC_FL_ZERO_RANGE[|KEEP_SIZE]; others -EOPNOTSUPP. */
int fs_fallocate(struct fabric *f, struct fs_file *fh, int mode, uint64_t off,
		 uint64_t len);
/* SEEK_DATA / SEEK_HOLE (others -EINVAL); -ENXIO past the end. */
int64_t fs_lseek(struct fabric *f, struct fs_file *fh, uint64_t off, int whence);
uint64_t fs_file_ino(const struct fs_file *fh);

int fs_opendir(struct fabric *f, uint64_t ino, struct fs_dir **d);
/* Called by fs_readdir for each entry from position `off`. `next` is the
 * position after this entry. Return 0 when the entry was taken, nonzero
 * when the reply buffer is full (the entry is then not counted). */
typedef int (*fs_fill_cb)(void *arg, const char *name, const struct stat *st,
			  off_t next);
/* plus=1: st is complete and each taken entry other than "." and ".."
 * counts as a lookup. */
int fs_readdir(struct fabric *f, struct fs_dir *d, off_t off, int plus,
	       fs_fill_cb fill, void *arg);
int fs_releasedir(struct fabric *f, struct fs_dir *d);
int fs_fsyncdir(struct fabric *f, uint64_t ino);

int fs_statfs(struct fabric *f, struct statvfs *out);

/* flags: XATTR_CREATE, XATTR_REPLACE. Names under "user.dfabric." are
 * dfabric's own: "user.dfabric.tier" and "user.dfabric.policy" are
 * read-only (-EPERM on set); the policies "user.dfabric.pin" (a tier name,
 * "none" clears), "user.dfabric.latency" and "user.dfabric.class" (the
 * words of tiering/score.h) take one word, with or without a trailing
 * newline: anything else gets -EINVAL. Setting or removing a policy needs
 * root, the owner, or a write bit of the file that applies to ctx
 * (-EACCES); a pin the class forbids, or a class that forbids the pin,
 * gets -EPERM. Setting a pin on a regular file queues a migration to that
 * tier; a class that forbids a tier holding some of the file queues one
 * to an allowed tier. Unknown dfabric names get -EINVAL on set and
 * -ENODATA on get. */
int fs_setxattr(struct fabric *f, const struct fs_ctx *ctx, uint64_t ino,
		const char *name, const void *value, size_t size, int flags);
/* size 0: returns the size needed. -ERANGE if it does not fit. */
ssize_t fs_getxattr(struct fabric *f, uint64_t ino, const char *name,
		    void *buf, size_t size);
ssize_t fs_listxattr(struct fabric *f, const struct fs_ctx *ctx, uint64_t ino,
		     char *buf, size_t size);
int fs_removexattr(struct fabric *f, const struct fs_ctx *ctx, uint64_t ino,
		   const char *name);

/* The effective placement policy of ino (tiering/score.h): its pin as a
 * tier index (-1 none), latency and class; the defaults (no pin,
 * standard, public) for what is not set. A new inode gets a snapshot of
 * its directory's policies when it is made. Cheap: read from the inode's
 * twin, loaded with it. 0 or -errno. */
struct score_policy;
int fs_policy(struct fabric *f, uint64_t ino, struct score_policy *out);
/* Whether the policies of ino allow its data on tier `tier`: 0, -ENXIO
 * for an unknown tier, -EPERM with a one-line reason in why (may be
 * NULL) such as "class confidential may not leave local tiers". */
int fs_policy_check(struct fabric *f, uint64_t ino, const char *tier,
		    char *why, size_t n);

/* For dfabric-ctl (via the control socket). */
struct fs_where_ext {
	uint64_t off;                  /* logical offset */
	uint64_t len;                  /* bytes */
	uint64_t version;              /* extent version */
	char tier[CFG_NAME_MAX];       /* tier name */
	int sealed;                    /* checksum valid */
};
/* The extents of ino into a malloc'd array (caller frees), its size in
 * *size. */
int fs_where(struct fabric *f, uint64_t ino, struct fs_where_ext **out,
	     size_t *n, uint64_t *size);

struct fs_tier_status {
	char name[CFG_NAME_MAX];       /* tier name */
	const char *kind;              /* "local", "s3" */
	char path[PATH_MAX];           /* where it stores data (a URL for s3) */
	int healthy;                   /* the backend answers (enum be_health) */
	uint64_t capacity;             /* configured bytes */
	uint64_t used;                 /* bytes of extents on it */
	uint64_t files;                /* inodes with an extent on it */
	uint64_t extents;              /* extents on it */
	double high_watermark;         /* fraction of capacity */
	double low_watermark;          /* fraction of capacity */
	uint64_t fs_avail;             /* free bytes of the filesystem below */
	double latency_s;              /* EWMA of seconds per extent read, -1 none yet */
	uint64_t latency_samples;      /* extent reads timed since the start */
	int has_io;                    /* the fields below are set (s3 tiers) */
	uint64_t requests;             /* requests sent, retries included */
	uint64_t retries;              /* of which retries */
	uint64_t gets;                 /* object reads (GETs) */
	uint64_t rx_bytes;             /* object bytes fetched */
	uint64_t tx_bytes;             /* object bytes stored */
	uint64_t cache_hits;           /* blocks served from the backend's cache */
	uint64_t readahead;            /* blocks fetched ahead of a reader */
	uint64_t prefetches;           /* extents read ahead on a hint */
};
struct fs_status {
	int ntiers;
	struct fs_tier_status tiers[CFG_MAX_TIERS];
	uint64_t inodes;               /* inodes in the namespace */
	uint64_t open_files;           /* inodes open right now */
	uint64_t extent_size;          /* default extent length */
};
int fs_status(struct fabric *f, struct fs_status *out);

/* Measured latency of tier index idx: a moving average (weight 0.05 per
 * sample) of the seconds each extent read that reached the daemon took
 * on it, page-cache hits of a local tier's files included; -1 before the
 * first read. *samples (may be NULL) gets the number of reads timed. */
double fs_tier_latency(struct fabric *f, int idx, uint64_t *samples);

/* The access profiler of f (tiering/profile.h): every open, read and
 * write of a regular file that reaches the daemon is an event there. */
struct profile *fs_profile(struct fabric *f);

/* Migration (tiering/migrate.h): queues a manual job moving the extents
 * of ino that overlap [off, off+len) (len UINT64_MAX: to the end) to the
 * tier named `tier`. Returns the job id, -ENXIO for an unknown tier,
 * -EINVAL for a file that is not regular, -EPERM when its policies forbid
 * the tier (fs_policy_check says why), -ENOENT. */
int64_t fs_migrate(struct fabric *f, uint64_t ino, uint64_t off, uint64_t len,
		   const char *tier, double priority);
int fs_jobs(struct fabric *f, meta_job_cb cb, void *arg);
int fs_job(struct fabric *f, uint64_t id, struct meta_job *out);
/* Forgets finished and failed jobs; returns how many. */
int fs_jobs_prune(struct fabric *f);
/* Waits until no job is queued or running: 0 or -ETIMEDOUT. */
int fs_migrate_wait(struct fabric *f, int timeout_ms);
/* Bandwidth limit of migrations per tier pair, bytes/s (0: none). */
void fs_set_bandwidth(struct fabric *f, uint64_t bytes_per_s);
uint64_t fs_bandwidth(struct fabric *f);
/* The same for the limit while reads and writes come in (0: none). */
void fs_set_busy_bandwidth(struct fabric *f, uint64_t bytes_per_s);
uint64_t fs_busy_bandwidth(struct fabric *f);
/* 1 while reads or writes come in (the busy limit applies), else 0. */
int fs_busy_now(struct fabric *f);
/* Name of the tier with persistent id `id` ("?" if none). */
const char *fs_tier_name(struct fabric *f, uint32_t id);
/* Name of the tier at index idx (fastest first), "?" when out of range. */
const char *fs_tier_index_name(struct fabric *f, int idx);
/* Probes tier `tier`'s backend: a one-line result in msg. 0, -ENXIO for
 * an unknown tier, or the probe's -errno. */
int fs_tier_check(struct fabric *f, const char *tier, char *msg, size_t n);


/* Automatic placement (tiering/placer.h). fs_explain scores regular file
 * ino on every tier as a placement pass would now: its bytes per tier,
 * policies and statistics in *pf, the terms and decision in *r. 0,
 * -ENOENT, -EINVAL (not a regular file). */
struct placer_file;
struct score_result;
int fs_explain(struct fabric *f, uint64_t ino, struct placer_file *pf,
	       struct score_result *r);

/* The forecast of regular file ino now (tiering/predictor.h): its
 * placer_file in *pf, the forecast in *fc, the time it is for in *now.
 * 0, -ENOENT, -EINVAL (not a regular file), -ENOTSUP (forecasts are off:
 * [predict] enabled = no). */
struct forecast;
int fs_predict(struct fabric *f, uint64_t ino, struct placer_file *pf,
	       struct forecast *fc, int64_t *now);
/* The predictor's accuracy, ensemble weights, counters and parameters
 * (any pointer may be NULL). 0 or -ENOTSUP. */
struct predict_accuracy;
struct predict_ensemble;
struct predictor_counters;
struct predict_params;
int fs_predict_state(struct fabric *f, struct predict_accuracy *acc,
		     struct predict_ensemble *ens,
		     struct predictor_counters *cnt,
		     const struct predict_params **pp);

struct fs_place_status {
	int auto_place;                /* [placement] auto = yes */
	double interval;               /* seconds between passes */
	uint64_t passes;               /* passes run since start */
	uint64_t promotions;           /* jobs queued by promotion on read */
	int cache;                     /* [predict] cache = yes (and a predictor) */
	struct placer_fetches fetches; /* cache mode: how its prefetches fared */
	struct placer_report last;     /* the last pass */
};
/* Runs one placement pass now (whether auto is on or not). 0 or -errno. */
int fs_place(struct fabric *f, struct fs_place_status *out);
int fs_place_status(struct fabric *f, struct fs_place_status *out);

/* This month's projected cost: each file's monthly cost (storage,
 * requests and egress at its access rate, tiering/score.c) on the tiers
 * its bytes are on, against all of it on the fastest tier. */
struct fs_cost {
	int ntiers;
	struct {
		char name[CFG_NAME_MAX];
		uint64_t bytes;        /* bytes of files scored on it */
		double cost;           /* projected per month */
	} tiers[CFG_MAX_TIERS];
	uint64_t files;                /* files scored */
	double total;                  /* sum over the tiers */
	double all_fastest;            /* everything on tier 0 */
};
int fs_cost(struct fabric *f, struct fs_cost *out);

#endif
