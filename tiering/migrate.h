/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The migration engine: moves extents between tiers in the background,
 * one job (a file or a range of it, to one tier) at a time per worker.
 *
 * Extents move in groups: up to MIG_GROUP_MAX adjacent extents of one
 * file on one tier when both tiers are local directories (one file per
 * inode on each, so one flush covers the group), a single extent
 * otherwise. A group goes through a state machine persisted in the job's
 * record (fs/meta.h, enum meta_job_state; cur_off/cur_len span the
 * group): COPYING (the destination copies are written, while the sources
 * stay the ones readers use), VERIFYING (the copies are made durable,
 * read back and their checksums compared with the sources'), COMMITTED
 * (the extent map names the destination for each extent, with a new
 * version, sealed with its checksum, in one synced RocksDB batch with the
 * job record), then the source copies are freed and the next group
 * starts. A job ends CLEANED or ROLLED_BACK (destination freed, reason
 * recorded).
 *
 * A write racing a migration wins: the commit finds the extent's version
 * changed, leaves it, flips the others of the group, frees the copy and
 * starts again from that extent (a few times, then the job gives up).
 * Files stay open: handles never hold a tier's fd.
 *
 * On open, jobs left COPYING or VERIFYING by a crash are rolled back,
 * COMMITTED ones are cleaned, PENDING ones run again. For a group, every
 * extent of the range loses the copy the extent map does not name.
 *
 * A commit that the metadata store applied but could not sync stops its
 * job, reported failed: the extents point at the copies, the sources
 * stay (a crash of the machine could bring back the map before), and
 * the record stays COMMITTED, so the next start frees the copies that
 * the map does not name then, and resumes the job.
 *
 * The engine knows nothing of inode locks: what needs them goes through
 * struct mig_host, which the file operations (fs/fs.c) implement. */
#ifndef DF_MIGRATE_H
#define DF_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#include "backends/backend.h"
#include "fs/meta.h"

struct migrator;

enum mig_job_flags {
	MIG_JOB_MANUAL = (1 << 0),     /* asked for by a user: runs first */
	/* The record's cur_off/cur_len span a group of adjacent extents
	 * between two file tiers (each copy named by its offset alone), not
	 * one extent whose copy cur_version + 1 names. */
	MIG_JOB_GROUP = (1 << 1),
	/* Stopped after a commit whose sync failed: the record says
	 * COMMITTED so that the next start frees the copies the map does
	 * not name, and then the job ends there (it was reported failed; a
	 * later move of the file must not be undone by its resuming). */
	MIG_JOB_STOPPED = (1 << 2),
	/* A promotion that a reader or writer at the file now waits for
	 * (the placer's on an access that missed the faster tier, and its
	 * read-ahead): the busy limit (mig_set_busy_bandwidth) does not
	 * slow it down; the other limit still does. */
	MIG_JOB_DEMAND = (1 << 3),
};

/* One extent as the host sees it when the copy starts. */
struct mig_snap {
	uint64_t ino;                  /* the file */
	uint64_t off;                  /* extent offset */
	uint64_t len;                  /* bytes of the extent */
	uint64_t version;              /* its version */
	int tier;                      /* tier index holding it */
	uint32_t flags;                /* its META_EXT_* flags */
	uint8_t csum[META_CSUM_MAX];   /* its checksum when META_EXT_SEALED */
};

#define MIG_GROUP_MAX 16               /* extents per group commit */
/* Jobs of one file that run at once, on ranges that do not overlap: a
 * reader that misses the fast tier at random waits for each extent's
 * promotion, and one at a time they came at about one per 60 ms. */
#define MIG_FILE_JOBS 4

/* One extent of a group commit: the snapshot and the checksum of its
 * copy; the host sets `stale` when the extent changed under the copy. */
struct mig_flip {
	struct mig_snap s;             /* the extent when its copy began */
	uint8_t csum[META_CSUM_MAX];   /* checksum of the copy */
	int stale;                     /* out: changed, not flipped */
};

/* commit's return when it wrote its batch but could not make it durable */
#define MIG_COMMIT_UNSYNCED 1

/* What the engine asks of the file operations. All return 0 or -errno
 * (commit MIG_COMMIT_UNSYNCED too). */
struct mig_host {
	void *arg;                     /* passed to every callback */
	/* The first extent of ino with offset in [from, end) not on tier
	 * index dst (dst -1: any extent): 0 and *out; -ENODATA when there
	 * is none; -ENOENT when the file is gone; -EPERM when the file's
	 * policies forbid tier dst. */
	int (*next)(void *arg, uint64_t ino, uint64_t from, uint64_t end,
		    int dst, struct mig_snap *out);
	/* Writes n bytes as the copy of s on tier index dst (version
	 * s->version + 1), with whatever locking that needs; -ESTALE when
	 * the extent changed. */
	int (*write_copy)(void *arg, const struct mig_snap *s, int dst,
			  const void *buf, size_t n);
	/* For each v[i] (extents of one file) whose extent is still v[i].s:
	 * points it at tier index dst with version s.version + 1, sealed
	 * with v[i].csum (flags: META_EXT_SHA256 or 0), and adds its length
	 * to j->bytes_done; the others get v[i].stale = 1. Writes j in the
	 * same batch; durable on return. MIG_COMMIT_UNSYNCED when the batch
	 * was written but could not be made durable: the extents point at
	 * dst as for 0 (readers use the copies), but a crash of the machine
	 * may bring back the map before. -ESTALE when every extent changed
	 * (nothing written), -ENOENT when the file is gone. */
	int (*commit)(void *arg, struct mig_flip *v, int n, int dst,
		      uint32_t csum_flags, struct meta_job *j);
	/* Frees the copy of extent (ino, off, len) with `version` on tier
	 * index `tier`, unless the extent map uses that copy now. */
	int (*free_copy)(void *arg, uint64_t ino, uint64_t off, uint64_t len,
			 uint64_t version, int tier);
	/* Frees [off, off + len) of ino on file tier index `tier` (copies
	 * named by offset alone), but for the extents the map places on
	 * that tier now. Optional: without it, free_copy per extent. */
	int (*free_run)(void *arg, uint64_t ino, uint64_t off, uint64_t len,
			int tier);
	/* Tells that copies of [off, off + len) of ino are about to be
	 * written on tier index dst, so that no new extent of that range is
	 * made there until the call with dst -1 and the same off, which comes
	 * once every such copy is flipped in or freed. With hold, writes into
	 * the range wait until then too (the last try of an extent that kept
	 * changing under its copies). Up to MIG_FILE_JOBS claims of one file
	 * at once, on ranges that do not overlap. 0, or -errno (nothing
	 * claimed: the copy must not be made). Optional. */
	int (*claim)(void *arg, uint64_t ino, uint64_t off, uint64_t len,
		     int dst, int hold);
	/* Tells that a job to tier index dst failed with ENOSPC or EDQUOT:
	 * dst's storage is full. Optional. */
	void (*full)(void *arg, int dst);
};

struct mig_tier {
	struct backend *be;            /* the tier's backend */
	uint32_t id;                   /* persistent tier id */
};

struct mig_params {
	struct meta *meta;             /* the store holding the job records */
	struct mig_host host;          /* callbacks into the file operations */
	int ntiers;                    /* tiers below */
	struct mig_tier tiers[CFG_MAX_TIERS]; /* by tier index */
	int workers;                   /* jobs in flight */
	int remote_workers;            /* jobs that move data to or from a
					* tier that is not a local file tier
					* (an object store) run on this many
					* workers of their own, the others on
					* `workers`; 0: every worker takes
					* any job */
	uint64_t bandwidth;            /* bytes/s per tier pair, 0 = no limit */
	uint64_t busy_bandwidth;       /* the same while the foreground is
					* busy (mig_foreground_begin()), 0 = none */
	int sha256;                    /* checksum: SHA-256 instead of XXH3-128 */
	int io_idle;                   /* copies' and read-backs' requests in
					* the idle I/O class, not best-effort */
	int verify_cached;             /* local copies written and read back
					* through the page cache, not O_DIRECT */
	int start_workers;             /* 0: recover only; mig_run() starts them */
};

/* Loads the job records, recovers what a crash left (see above), starts
 * the workers. Returns 0 and *out, or -errno. */
int mig_open(const struct mig_params *p, struct migrator **out);
/* Starts the workers (once). 0 or -errno. */
int mig_run(struct migrator *m);
/* Stops the workers (a job in flight is rolled back and left PENDING so
 * that it runs again at the next start) and frees everything. */
void mig_close(struct migrator *m);

/* Queues a job moving the extents of ino in [off, off+len) (len
 * UINT64_MAX: to the end) to tier index dst. Returns the job id (> 0) or
 * -errno (-EINVAL for a bad tier). */
int64_t mig_submit(struct migrator *m, uint64_t ino, uint64_t off,
		   uint64_t len, int dst, uint32_t flags, double priority);

/* Calls cb for every job known (queued, running, finished, failed) in id
 * order; stops at a nonzero return, which it returns. */
int mig_list(struct migrator *m, meta_job_cb cb, void *arg);
/* Copies job `id` into *out: 0 or -ENOENT. */
int mig_get(struct migrator *m, uint64_t id, struct meta_job *out);
/* Forgets finished and failed jobs (their records too), but for those
 * whose record the next start needs (a commit not made durable).
 * Returns how many. */
int mig_prune(struct migrator *m);

/* 1 when a queued or running job of ino has a range that overlaps
 * [off, off + len) (len UINT64_MAX: to the end); else 2 when
 * MIG_FILE_JOBS of its jobs are queued or running; else 0.
 * mig_busy(m, ino, 0, UINT64_MAX) != 0: any job of ino. */
int mig_busy(struct migrator *m, uint64_t ino, uint64_t off, uint64_t len);

/* Changes the bandwidth limit per tier pair (bytes/s, 0 = none). */
void mig_set_bandwidth(struct migrator *m, uint64_t bytes_per_s);
uint64_t mig_bandwidth(struct migrator *m);
/* The same for the limit while the foreground is busy: while a read or
 * write is under way (between mig_foreground_begin and _end) and for
 * MIG_BUSY_WINDOW_MS after, a chunk booked goes at the lower of the two
 * limits (0 here: no limit of its own). */
void mig_set_busy_bandwidth(struct migrator *m, uint64_t bytes_per_s);
uint64_t mig_busy_bandwidth(struct migrator *m);
/* A foreground read or write of file data starts, and ends (any thread;
 * m may be NULL). */
#define MIG_BUSY_WINDOW_MS 50
void mig_foreground_begin(struct migrator *m);
void mig_foreground_end(struct migrator *m);
/* 1 while the foreground counts as busy (whatever the limits), else 0. */
int mig_foreground_busy(struct migrator *m);

/* Waits until no job is queued or running, at most timeout_ms. Returns
 * 0, or -ETIMEDOUT. */
int mig_wait_idle(struct migrator *m, int timeout_ms);

/* Name of a job state ("pending", "copying", ...). */
const char *mig_state_name(uint32_t state);

/* Test knob: the process _exit()s with status 77 when a job reaches the
 * point named: "mid_copy" (a group's first extent copied), "after_copy", "after_flush", "mid_verify", "after_commit",
 * "before_clean"; NULL clears it. Returns 0 or -EINVAL. */
int mig_debug_crash_at(const char *point);
/* Tests: each group of extents waits ms (0: not) after its snapshot,
 * before it claims its range, so that a write can come in between. */
void mig_debug_claim_delay(unsigned ms);
/* Tests: a local copy whose last chunk was zeros (not written) waits ms
 * (0: not) before it makes its file reach the extent's end. */
void mig_debug_size_delay(unsigned ms);
/* Tests: mig_submit waits ms (0: not) after it queued its job, before
 * it returns, so that the job may finish and be pruned meanwhile. */
void mig_debug_submit_delay(unsigned ms);
/* Tests: a last try that holds the file's writers waits ms (0: not)
 * once it holds them, before it copies, so that they come in then. */
void mig_debug_hold_delay(unsigned ms);
/* Tests: the io_uring copies between local tiers misbehave as a kernel
 * may: MIG_URING_SHORT asks each read and write for half of what is left
 * (the loop must ask again for the rest), MIG_URING_EAGAIN makes every
 * third completion -EAGAIN (it must resubmit), MIG_URING_EIO makes the
 * fifth completion -EIO (the job must roll back), MIG_URING_SUBMIT_EAGAIN
 * makes the first three submissions fail with -EAGAIN and submit nothing
 * (it must submit again), MIG_URING_SUBMIT_ENOMEM makes every submission
 * fail with -ENOMEM (the job must roll back, not wait for completions of
 * requests never submitted); 0 clears. */
enum { MIG_URING_SHORT = 1, MIG_URING_EAGAIN, MIG_URING_EIO,
       MIG_URING_SUBMIT_EAGAIN, MIG_URING_SUBMIT_ENOMEM };
void mig_debug_uring_fault(int kind);

#endif
