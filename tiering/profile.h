/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The access profiler: what the placer (tiering/placer.c) knows about how
 * files are used.
 *
 * Every open, read and write that reaches the daemon (fs/fs.c) emits an
 * event into a bounded lock-free ring (a Vyukov MPMC queue used with one
 * consumer). Emitting never blocks and never allocates: a few atomic
 * operations and a copy of 56 bytes. Reads the kernel serves from its
 * page cache never reach the daemon and are not seen here.
 *
 * Overload: from 80% occupancy on, only 1 event in `sample_k` is kept and
 * carries weight sample_k (the others count as "sampled"); an event that
 * finds the ring full is "dropped". A warning is logged once when the
 * ring reaches 80%, and again only after the aggregator brought it below
 * 50%.
 *
 * An aggregator thread folds the events into per-file and per-extent
 * struct access_stats (tiering/stats.h, with the configured half-life),
 * kept in memory for every file that has any, and writes the changed ones
 * to the metadata store's `access` column family in batches (every
 * flush_ms or flush_events events; unsynced: a crash of the machine may
 * lose the last second). A corrupt record found at open is logged,
 * counted and deleted: its file starts again from nothing.
 *
 * Scans: a process that reads far more files within a window
 * than processes usually do (more than scan_min, and scan_sigma standard
 * deviations above the usual count per process and window) is taken for
 * a scan (a backup, an indexer, ransomware): a warning names it and its
 * uid once, and its opens and reads are counted apart instead of folded,
 * so that it cannot make everything it reads look hot and flush the
 * fast tier. Each window is judged afresh: a scan that goes on is found
 * again after scan_min files (without a second warning); a window below
 * that ends it.
 *
 * Thread-safety: every function may be called from any thread, except
 * that profile_close() must be the last call. Callbacks run without the
 * profiler's locks held and may call the query functions. */
#ifndef DF_PROFILE_H
#define DF_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "predict/series.h"
#include "tiering/stats.h"

struct meta;
struct profile;

#define PROFILE_NO_EXTENT UINT64_MAX   /* event.ext_off of an open */

/* event.cont: another extent of a request already emitted (counts for
 * the extent, adds only bytes to the file); a read that goes on with
 * the bytes the same open file last read in that extent (adds only bytes
 * to the extent: a file read once in order counts one access per
 * extent, not one per request). */
#define PROFILE_CONT_REQUEST 1
#define PROFILE_CONT_RUN 2

struct profile_event {
	uint64_t ino;                  /* the file */
	uint64_t ext_off;              /* offset of its extent, PROFILE_NO_EXTENT */
	uint64_t off;                  /* byte offset of the access */
	uint32_t len;                  /* bytes (0 for an open) */
	uint8_t op;                    /* enum stats_op */
	int8_t tier;                   /* tier index of the extent, -1 none/hole */
	uint8_t cont;                  /* PROFILE_CONT_* bits, or 0 */
	uint8_t pad;
	int64_t time;                  /* unix ns (CLOCK_REALTIME) */
	uint32_t uid;                  /* who */
	int32_t pid;
};

struct profile_params {
	double half_life;              /* seconds, > 0 ([placement] half_life) */
	size_t capacity;               /* ring slots, rounded up to a power of 2;
					* 0: 65536 */
	unsigned sample_k;             /* keep 1 in k from 80% on; 0: 8 */
	unsigned flush_events;         /* persist after this many events; 0: 4096 */
	unsigned flush_ms;             /* persist at least this often; 0: 1000 */
	int no_thread;                 /* tests: no aggregator thread, the
					* caller calls profile_drain() */
	struct series_params series;   /* the access histories' bins; bin 0:
					* series_defaults */
	double scan_window;            /* seconds of a scan window; 0: 10 */
	unsigned scan_min;             /* files in a window that may be a scan;
					* 0: 256 */
	double scan_sigma;             /* standard deviations above the usual
					* files per window; 0: 3 */
};

/* Loads the statistics stored in m (which must outlive the profiler) and
 * starts the aggregator. 0 and *out, or -errno. */
int profile_open(const struct profile_params *pp, struct meta *m,
		 struct profile **out);
/* Folds what is queued, persists it, stops the aggregator, frees. NULL
 * is fine. */
void profile_close(struct profile *p);

/* Queues one event. Never blocks; may sample or drop it (see above). */
void profile_emit(struct profile *p, const struct profile_event *ev);
/* Folds every queued event and persists what changed, now. Returns the
 * number of events folded, or -errno of the store's write. */
int profile_drain(struct profile *p);
/* The file is gone (its last link removed and its data freed): drops its
 * statistics from memory and the store. Its events still queued are
 * ignored (inode numbers are never reused; the last 1024 forgotten
 * are remembered, so a stale record is rare but possible: a caller that
 * finds no inode for a listed file should skip it). */
void profile_forget(struct profile *p, uint64_t ino);

/* Queries. Statistics are as of the last fold; bring the frequency to
 * the present with stats_freq(st, now, profile_half_life(p)). */
double profile_half_life(const struct profile *p);
/* Calls cb for every file with statistics, in no particular order, on a
 * snapshot taken at the call; stops at and returns the first nonzero
 * value cb returns. */
typedef int (*profile_file_cb)(void *arg, uint64_t ino,
			       const struct access_stats *st);
int profile_list(struct profile *p, profile_file_cb cb, void *arg);
/* 0, or -ENOENT when the file (extent) has no statistics. */
int profile_get(struct profile *p, uint64_t ino, struct access_stats *st);
int profile_get_extent(struct profile *p, uint64_t ino, uint64_t off,
		       struct access_stats *st);
/* The access history (predict/series.h) of ino, or of its extent at off
 * (PROFILE_NO_EXTENT: the whole file). 0 or -ENOENT. */
int profile_series(struct profile *p, uint64_t ino, uint64_t off,
		   struct access_series *se);
const struct series_params *profile_series_params(const struct profile *p);
/* Co-access of ino at now: the decayed frequency of the file a process
 * last read within 10 s before reading ino (0 when none). Kept in memory
 * only: it starts again from nothing at each mount. */
double profile_co_access(struct profile *p, uint64_t ino, int64_t now);
struct profile_ext {
	uint64_t off;                  /* extent offset */
	struct access_stats st;
};
/* The statistics of every extent of ino with any, by offset, into a
 * malloc'd array the caller frees (NULL and 0 when none). 0 or -ENOMEM. */
int profile_extents(struct profile *p, uint64_t ino, struct profile_ext **out,
		    size_t *n);

/* Promotion on access: after folding a read of an extent on a tier index
 * > 0 whose decayed frequency is then >= threshold, the aggregator calls
 * fn (from its thread, or from profile_drain's caller) with that extent,
 * at most once per PROFILE_PROMOTE_QUIET_S seconds per extent, so that a
 * file read while it is being moved does not queue one job per read.
 * fn returns 0, or -EBUSY when it could not promote the extent for now
 * (a job of its file runs): the extent may then ask again after
 * PROFILE_PROMOTE_RETRY_MS instead, as every other extent of a file read
 * at random would otherwise be refused once, while the first one moves,
 * and wait out the whole quiet period.
 * With `writes`, a write of an extent on any tier calls fn too (write =
 * 1), under the same limit. fn NULL turns it off; once this returns,
 * no call to the fn it replaces is under way. fn must not call
 * profile_drain(), profile_close() or this. */
#define PROFILE_PROMOTE_QUIET_S 10
#define PROFILE_PROMOTE_RETRY_MS 250
typedef int (*profile_promote_cb)(void *arg, uint64_t ino, uint64_t ext_off,
				  int tier, double freq, int write);
void profile_set_promote_cb(struct profile *p, profile_promote_cb fn,
			    void *arg, double threshold, int writes);

struct profile_counters {
	uint64_t events;               /* events queued */
	uint64_t sampled;              /* skipped by sampling (counted in weights) */
	uint64_t dropped;              /* lost: the ring was full */
	uint64_t folded;               /* events folded into statistics */
	uint64_t queued;               /* in the ring now, or taken from it
					 * and their promotions not asked yet */
	uint64_t capacity;             /* ring slots */
	uint64_t files;                /* files with statistics */
	uint64_t extents;              /* extents with statistics */
	uint64_t flushes;              /* batches written to the store */
	uint64_t corrupt;              /* corrupt records found and reset */
	uint64_t promotions;           /* promote callbacks made */
	uint64_t scans;                /* processes found scanning */
	uint64_t scan_events;          /* their reads and opens, not folded */
};
void profile_counters(struct profile *p, struct profile_counters *out);

#endif
