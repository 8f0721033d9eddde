/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The placer: makes the filesystem tier by itself. Every `interval`
 * seconds it scores every file with data on every tier (tiering/score.h),
 * plans the moves (policy-forced first, then score moves by benefit, then
 * demotions of the coldest files off tiers above their high watermark)
 * and queues them as migration jobs. Between passes, a read of a file on
 * a slower tier at a frequency of at least promote_freq queues its
 * promotion at once (placer_on_read, called by the profiler).
 *
 * The placer knows files only through struct placer_host, which the file
 * operations implement (fs/fs.c), so that it can be tested without a
 * mount and so that dfabric-ctl explain shows the very numbers a pass
 * uses. */
#ifndef DF_PLACER_H
#define DF_PLACER_H

#include <stdint.h>

#include "predict/series.h"
#include "tiering/score.h"

struct placer;

/* A file, or one extent of a large file, as the placer sees it. */
struct placer_file {
	uint64_t ino;                  /* the file */
	uint64_t off;                  /* the range it stands for: the whole */
	uint64_t len;                  /*   file is 0, UINT64_MAX */
	uint64_t bytes;                /* bytes in its extents */
	uint64_t tier_bytes[CFG_MAX_TIERS]; /* of which on each tier index */
	struct access_stats st;        /* its access statistics */
	struct access_series se;       /* its access history (series_init: none) */
	double co_access;              /* decayed access count of the files
					* opened with it (gbt_features) */
	struct score_policy pol;       /* its effective policies */
};

typedef int (*placer_file_cb)(void *arg, const struct placer_file *pf);

/* What the placer asks of the file operations. All return >= 0 or -errno. */
struct placer_host {
	void *arg;                     /* passed to every callback */
	/* Fills t[0..ntiers) with the tiers' state now (used bytes, measured
	 * latency, health, prices); returns the number of tiers. */
	int (*tiers)(void *arg, struct score_tier *t);
	/* Calls cb for every regular file with data, or for each extent of
	 * a large one whose extents have statistics of their own; stops at
	 * a nonzero return of cb, which it returns. */
	int (*files)(void *arg, placer_file_cb cb, void *cbarg);
	/* What `files` would pass for the data of ino at offset off: the
	 * whole file or the extent there. 0, -ENOENT. */
	int (*file)(void *arg, uint64_t ino, uint64_t off,
		    struct placer_file *out);
	/* 1 when a queued or running migration job of ino has a range that
	 * overlaps [off, off + len) (len UINT64_MAX: to the end); else 2
	 * when as many jobs of ino as may run at once are queued or running
	 * (another waits); else 0. */
	int (*busy)(void *arg, uint64_t ino, uint64_t off, uint64_t len);
	/* Queues a job moving the extents of ino in [off, off+len) to tier
	 * index dst; the job id or -errno. `demand`: a promotion for a
	 * reader or writer now at the file (its access missed the faster
	 * tier, or a sequential reader is read ahead of), which the limit
	 * on migrations while the mount is busy must not slow down. */
	int64_t (*migrate)(void *arg, uint64_t ino, uint64_t off, uint64_t len,
			   int dst, double priority, int demand);
	/* The time, unix ns; NULL: CLOCK_REALTIME (dfabric-sim passes its
	 * simulated clock). */
	int64_t (*now)(void *arg);
	/* Called after every pass (the daemon stores the predictor's state);
	 * may be NULL. */
	void (*passed)(void *arg);
	/* What `file` would pass for the data right after the item at (ino,
	 * off), 0 or -ENOENT when there is none; NULL: the extent at the end
	 * of the item's range in the same file, for an extent of a large
	 * file (dfabric-sim passes the next extent of a volume). */
	int (*next)(void *arg, uint64_t ino, uint64_t off,
		    struct placer_file *out);
};

/* Extents read ahead at most of a sequential reader in cache mode. */
#define PLACER_READ_AHEAD 8

struct predictor;

struct placer_params {
	struct score_params score;     /* weights and thresholds */
	double interval;               /* seconds between passes; 0: no thread */
	struct predictor *pred;        /* forecasts (tiering/predictor.h), owned
					* by the caller; NULL: reactive only */
	double tick;                   /* seconds between the predictor's
					* scoring ticks in the thread (1) */
	int cache;                     /* with pred: run the fastest tier as a
					* cache by predicted reuse (placer_on_read,
					* placer_prefetch); 0: off */
	double prefetch;               /* seconds between prefetch rounds in
					* the thread, and how far ahead each
					* looks (placer_prefetch) */
};

/* What one pass did. */
struct placer_report {
	uint64_t files;                /* files (or extents of large files) scored */
	uint64_t moves;                /* jobs queued */
	uint64_t forced;               /* of which demanded by a policy */
	uint64_t watermark;            /* of which to make room under a watermark */
	uint64_t ahead;                /* of which promotions ahead of a forecast */
	uint64_t early;                /* of which demotions ahead of a forecast */
	uint64_t anomalies;            /* items whose access was far outside their
					* forecast: not promoted by it */
	uint64_t busy;                 /* moves skipped: a job of the file runs */
	uint64_t failed;               /* moves the engine refused */
	int64_t when;                  /* unix ns the pass ended */
};

/* Starts the placer (its thread when interval > 0). 0 or -errno. */
int placer_open(const struct placer_params *p, const struct placer_host *h,
		struct placer **out);
/* Stops the thread and frees everything. NULL is fine. */
void placer_close(struct placer *pl);

/* Runs one pass now, on the caller's thread (serialised with the
 * periodic ones). 0 or -errno; *out (may be NULL) says what it did. */
int placer_pass(struct placer *pl, struct placer_report *out);
/* The report of the last pass (zeroes before the first). */
void placer_last(struct placer *pl, struct placer_report *out);

/* Scores file pf as a pass would, at time now (unix ns), on the tiers
 * as they are now. 0 or -errno. */
int placer_explain(struct placer *pl, const struct placer_file *pf,
		   int64_t now, struct score_result *out);

/* The forecast of pf at now, as a pass would make it. -ENODATA without a
 * predictor. */
struct forecast;
int placer_forecast(struct placer *pl, const struct placer_file *pf,
		    int64_t now, struct forecast *out);

/* Scores the predictor's forecasts whose horizon has passed (the thread
 * does it every `tick` seconds; dfabric-sim calls it). */
void placer_tick(struct placer *pl);

/* A read of ino at offset off reached tier index `tier` at frequency
 * `freq` (decayed, after this read): when tier is not the fastest allowed
 * one and freq >= promote_freq, queues the promotion of what the host
 * says off belongs to (the file or, in a large file, the extent) unless
 * a job of the file runs. Returns 1 when it queued one, 0 when not,
 * -EBUSY when a job of the file runs (the same read may promote once
 * that job is done: the profiler asks again soon), other -errno.
 * Cheap when nothing is to be done; safe from any thread.
 * In cache mode, every such read promotes, at any frequency, and when
 * tier 0 is full the item takes the place of the fast-tier items read
 * longest ago (at most 16 moves), as an LRU cache would. */
int placer_on_read(struct placer *pl, uint64_t ino, uint64_t off, int tier,
		   double freq);

/* In cache mode only (0 otherwise): a write of ino at off went to tier
 * index `tier`. On a slower tier it promotes as placer_on_read does (a
 * cache allocates on write); on tier 0 the placer notes the item among
 * those a promotion may displace. Returns as placer_on_read. */
int placer_on_write(struct placer *pl, uint64_t ino, uint64_t off, int tier,
		    double freq);

/* In cache mode (a predictor and `cache`): promotes to the fastest tier
 * (tier 0) the items on slower tiers whose next access is due
 * (forecast_next_access, regular gaps only) before the next round,
 * `prefetch` seconds away, soonest first; each takes the place of
 * fast-tier items whose next access is farther, when it does not fit
 * below the high watermark. Rebuilds the victims placer_on_read draws
 * on. Promotes nothing while the predictor is not trusted. Returns the
 * promotions queued (0 outside cache mode), or -errno. */
int placer_prefetch(struct placer *pl);

/* How cache mode's prefetches and read-ahead fared. */
struct placer_fetches {
	double precision;              /* the share of prefetched items read
					* by the time they are judged (decayed;
					* 1 at start): below 0.5, one prefetch
					* round in 8 fetches */
	uint64_t judged, read;         /* prefetched items judged since
					* start, and of those read */
	double seq_precision;          /* the same of the items read ahead of
					* sequential readers (1 at start):
					* below 0.5, one miss in 8 of a
					* followed reader reads
					* ahead */
	uint64_t seq_fetched;          /* items read ahead since start */
	uint64_t seq_judged, seq_read; /* of those judged, and read */
};

void placer_fetches(struct placer *pl, struct placer_fetches *out);

/* Counters since start: passes and jobs queued by promotion on read. */
void placer_counters(struct placer *pl, uint64_t *passes,
		     uint64_t *promotions);

/* The tier a file counts as being on: the one holding most of its
 * bytes (the faster on a tie), -1 for a file without data. */
int placer_home(const struct placer_file *pf, int ntiers);

#endif
