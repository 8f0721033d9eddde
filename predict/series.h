/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The access history the forecasters (predict/forecast.h, predict/gbt.h)
 * read: binned access counts at two resolutions, decayed counts at
 * several half-lives and inter-arrival statistics of a file or an
 * extent. Kept beside its struct access_stats (tiering/stats.h) by the
 * profiler and by dfabric-sim. Pure functions: callers pass the time.
 *
 * Fine bins are `bin` seconds wide (an hour by default) and the last
 * SERIES_FINE of them are kept (two weeks of hours: enough for the
 * autocorrelation to see a daily period, and a weekly one); coarse bins
 * are `per_coarse` fine bins wide (a day by default) and the last
 * SERIES_COARSE are kept (the trend's window). Both are rings indexed by
 * the bin number, floor(time / width): a bin that saw no access is
 * simply zero, and a record that nobody touches needs no writes.
 *
 * Accesses closer together than `burst` seconds form one session: the
 * inter-arrival statistics are of gaps between sessions, so a file read
 * in 300 requests every ten minutes has a gap of ten minutes, not of a
 * few microseconds. */
#ifndef DF_SERIES_H
#define DF_SERIES_H

#include <stddef.h>
#include <stdint.h>

#define SERIES_FINE 336                /* fine bins kept */
#define SERIES_COARSE 32               /* coarse bins kept */
#define SERIES_HALF_LIVES 3            /* decayed counts kept */
#define SERIES_ENC_SIZE 832            /* bytes of an encoded record */
#define SERIES_CLOCK_STEP (86400LL * 1000000000) /* ns an access may be
						   * older than the newest by
						   * before the clock counts as
						   * set back */

struct series_params {
	double bin;                    /* seconds per fine bin, > 0 (3600) */
	unsigned per_coarse;           /* fine bins per coarse bin, >= 1 (24) */
	double burst;                  /* seconds: closer accesses are one
					* session (1) */
	double half_life[SERIES_HALF_LIVES]; /* seconds (300, 3600, 86400) */
};

struct access_series {
	int64_t fine_head;             /* bin number of the newest fine bin;
					* -1: no access yet */
	int64_t coarse_head;           /* bin number of the newest coarse bin */
	uint16_t fine[SERIES_FINE];    /* counts (saturating), ring by bin number */
	uint16_t coarse[SERIES_COARSE];
	double decayed[SERIES_HALF_LIVES]; /* decayed counts at `stamp` */
	int64_t stamp;                 /* unix ns of the decayed counts */
	int64_t last;                  /* unix ns of the last access, 0 none */
	int64_t session;               /* unix ns the current session began */
	double gap_mean;               /* EWMA of gaps between sessions (start
					 * to start), s */
	double gap_var;                /* EWMA of their squared deviation, s^2 */
	uint32_t gaps;                 /* gaps seen (saturating) */
	uint32_t reads;                /* read accesses (saturating) */
	uint32_t writes;               /* write accesses (saturating) */
};

/* Fills p with the defaults above. */
void series_defaults(struct series_params *p);

/* An empty history (fine_head -1, everything else 0). */
void series_init(struct access_series *s);

/* Folds one access at `now` (unix ns) standing for `weight` accesses
 * (>= 1 when the profiler sampled). An access older than the newest bin
 * still counts in its bin when that bin is kept, and is otherwise
 * dropped; it never moves the heads back, unless it is older than the
 * newest access by more than SERIES_CLOCK_STEP or than every bin kept
 * (the clock was set back, or the bins made longer): then the bins and
 * sessions start again from it, and the decayed counts count from it
 * on. write: 1 for a write. */
void series_add(struct access_series *s, const struct series_params *p,
		int64_t now, double weight, int write);

/* The last n fine (coarse) bins up to and including the bin of `now`,
 * oldest first, into out[0..n): bins not kept or never touched are 0.
 * n may exceed SERIES_FINE (SERIES_COARSE); the oldest are then 0.
 * Returns how many of the n are bins the record still holds. */
size_t series_fine(const struct access_series *s,
		   const struct series_params *p, int64_t now, double *out,
		   size_t n);
size_t series_coarse(const struct access_series *s,
		     const struct series_params *p, int64_t now, double *out,
		     size_t n);

/* The decayed count of half-life index i (0..SERIES_HALF_LIVES) at now. */
double series_decayed(const struct access_series *s,
		      const struct series_params *p, int i, int64_t now);

/* Adds b into a (for folding extents into their file): bins, decayed
 * counts, counters; the gap statistics of the one with more gaps. */
void series_merge(struct access_series *a, const struct access_series *b,
		  const struct series_params *p);

/* Fixed-size, versioned, little-endian encoding for the metadata store.
 * Decode returns 0, or -EUCLEAN for the wrong size or version or a value
 * no encoder writes (negative or non-finite counts or gaps). */
void series_encode(const struct access_series *s,
		   uint8_t out[SERIES_ENC_SIZE]);
int series_decode(const void *buf, size_t len, struct access_series *out);

#endif
