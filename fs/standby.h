/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The standby's judgement of what the leader serves, shared by the two
 * request loops (fs/fuse_loop.c over /dev/fuse, fs/fuse_uring.c over
 * io_uring). Every STEAL_MS the standby reads the number of the request
 * the leader serves (0 while it serves none): the same number twice
 * means one request has held the leader for a whole period, and the
 * standby takes over; after DEEP_AFTER samples of an idle leader it
 * stops sampling and sleeps until the leader serves again. */
#ifndef DF_STANDBY_H
#define DF_STANDBY_H

#include <stdint.h>

#define STEAL_MS 2        /* the standby's sampling period */
#define DEEP_AFTER 50     /* idle samples before it sleeps untimed */

enum sample { SAMPLE_WAIT, SAMPLE_TAKE, SAMPLE_DEEP };

struct sampler {
	uint64_t last;     /* the number seen at the last sample */
	unsigned idle;     /* samples in a row of an idle leader */
};

/* Judges one sample, now: take over, sleep deep (the sampler starts
 * afresh), or wait for the next period. */
static inline enum sample sample(struct sampler *s, uint64_t now)
{
	if (now && now == s->last)
		return SAMPLE_TAKE;
	s->idle = now ? 0 : s->idle + 1;
	s->last = now;
	if (s->idle >= DEEP_AFTER) {
		s->idle = 0;
		s->last = 0;
		return SAMPLE_DEEP;
	}
	return SAMPLE_WAIT;
}

#endif
