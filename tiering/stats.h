/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Access statistics of a file or an extent, as the profiler folds events
 * into them (tiering/profile.c) and as dfabric-sim replays a trace into
 * them. Pure functions: no clock is read here, callers pass the time.
 *
 * The frequency is an exponentially decayed access count: every access
 * adds 1, and the sum halves every half-life. It is kept as the value at
 * `stamp`; stats_freq() brings it forward to any later time without
 * changing the record, so a record that nobody touches needs no writes
 * to cool down. */
#ifndef DF_STATS_H
#define DF_STATS_H

#include <stddef.h>
#include <stdint.h>

#define STATS_HOURS 24
#define STATS_DAYS 7
#define STATS_ENC_SIZE 208     /* bytes of an encoded record */
#define STATS_FREQ_MAX 1e19     /* a decayed count above it is damage */
#define STATS_CLOCK_STEP (86400LL * 1000000000) /* ns an event may be late
						  * by before the clock counts
						  * as set back */

enum stats_op {
	STATS_OPEN = 1,                /* the file was opened */
	STATS_READ = 2,                /* bytes were read */
	STATS_WRITE = 3,               /* bytes were written */
};

struct access_stats {
	double freq;                   /* decayed access count at `stamp` */
	int64_t stamp;                 /* unix ns freq was decayed to; 0 = none */
	int64_t first;                 /* unix ns of the first access, 0 = none */
	int64_t last;                  /* unix ns of the last access, 0 = none */
	uint64_t opens;                /* opens counted */
	uint64_t reads;                /* read requests counted */
	uint64_t writes;               /* write requests counted */
	uint64_t bytes_read;           /* bytes read */
	uint64_t bytes_written;        /* bytes written */
	uint32_t hour[STATS_HOURS];    /* accesses by hour of day, UTC */
	uint32_t dow[STATS_DAYS];      /* accesses by day of week, 0 = Sunday */
};

/* Folds one access at time `now` (unix ns) into s. An access older than
 * s->stamp (events arrive out of order from several threads) is decayed
 * to s->stamp instead of moving the stamp back. half_life in seconds,
 * > 0. `weight` is how many accesses this event stands for (1, or more
 * when the profiler sampled events away). */
void stats_add(struct access_stats *s, enum stats_op op, uint64_t bytes,
	       int64_t now, double half_life, double weight);

/* The decayed frequency of s at time `now` (>= s->stamp; an earlier now
 * returns s->freq). */
double stats_freq(const struct access_stats *s, int64_t now,
		  double half_life);

/* Total accesses counted (opens + reads + writes). */
uint64_t stats_count(const struct access_stats *s);

/* Adds b into a (both brought to the later stamp): for folding extent
 * statistics into a file's. */
void stats_merge(struct access_stats *a, const struct access_stats *b,
		 double half_life);

/* A fixed-size, versioned, little-endian encoding (STATS_ENC_SIZE bytes)
 * for the metadata store. Decode returns 0, or -EUCLEAN for a record of
 * the wrong size or version or with values no encoder writes (a negative
 * or non-finite frequency). */
void stats_encode(const struct access_stats *s, uint8_t out[STATS_ENC_SIZE]);
int stats_decode(const void *buf, size_t len, struct access_stats *out);

#endif
