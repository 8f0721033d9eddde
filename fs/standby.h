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

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "common/clock.h"

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

/* The standby's wait after a sample that did not take over, caller
 * holding m: SAMPLE_DEEP sleeps on cv without a timeout, with *deep set
 * so that the leader signals cv when it starts serving; else STEAL_MS on
 * `clock`, the clock of cv. The leader stores its busy, then reads deep;
 * the standby stores deep, then reads busy: one of them sees the other. */
static inline void standby_wait(enum sample what, _Atomic int *deep,
				_Atomic uint64_t *busy, pthread_cond_t *cv,
				pthread_mutex_t *m, clockid_t clock)
{
	struct timespec ts;

	if (what == SAMPLE_DEEP) {
		atomic_store(deep, 1);
		if (atomic_load(busy) == 0)
			pthread_cond_wait(cv, m);
		atomic_store(deep, 0);
		return;
	}
	clock_after_ms(&ts, clock, STEAL_MS);
	pthread_cond_timedwait(cv, m, &ts);
}

#endif
