/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Access series (series.h): binned counts in rings indexed by bin number,
 * decayed counts, and the gaps between sessions.
 *
 * A ring slot b % N holds bin b only while b is within N bins of the
 * head; moving the head forward zeroes the slots of the bins it skips,
 * so stale counts of a bin N or more bins older never show through.
 * Bins after the head and before `now` are read as zero without touching
 * the record.
 *
 * The gap between sessions is measured start to start: a file read by a
 * job that runs every ten minutes for a minute has a gap of ten minutes,
 * which is also what the gap forecaster adds to the start of the last
 * session to place the next one. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "predict/series.h"

#define NS_PER_S 1000000000.0
#define SERIES_ENC_VERSION 1u
#define GAP_ALPHA 0.25                 /* EWMA weight of the newest gap */
#define SERIES_HEAD_MAX ((int64_t)1 << 62) /* the last bin fine_bin gives */

void series_defaults(struct series_params *p)
{
	p->bin = 3600;
	p->per_coarse = 24;
	p->burst = 1;
	p->half_life[0] = 300;
	p->half_life[1] = 3600;
	p->half_life[2] = 86400;
}

void series_init(struct access_series *s)
{
	memset(s, 0, sizeof(*s));
	s->fine_head = -1;
}

/* floor(now / bin) in seconds; times before 1970 fold into bin 0 so the
 * ring index never goes negative. */
static int64_t fine_bin(const struct series_params *p, int64_t now)
{
	double b = floor((double)now / NS_PER_S / p->bin);

	if (!(b < (double)SERIES_HEAD_MAX))  /* bins of a nanosecond or less */
		return SERIES_HEAD_MAX;
	return b > 0 ? (int64_t)b : 0;
}

static int64_t coarse_bin(const struct series_params *p, int64_t fine)
{
	return fine / (int64_t)(p->per_coarse ? p->per_coarse : 1);
}

static double decay(double v, int64_t from, int64_t to, double half_life)
{
	if (to <= from || v == 0.0)
		return v;
	return v * exp2(-((double)(to - from) / NS_PER_S) / half_life);
}

static uint16_t sat16(uint32_t a, uint32_t b)
{
	uint32_t v = a + b;

	return v > UINT16_MAX ? UINT16_MAX : (uint16_t)v;
}

static uint32_t sat32(uint32_t a, uint64_t b)
{
	uint64_t v = (uint64_t)a + b;

	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* Moves the head of ring r[0..n) to `to` (> *head), zeroing the slots of
 * the bins skipped and of `to` itself: they hold bins n or more older. */
static void ring_advance(uint16_t *r, size_t n, int64_t *head, int64_t to)
{
	int64_t b;

	if (to - *head >= (int64_t)n) {
		memset(r, 0, n * sizeof(*r));
	} else {
		for (b = 1; b <= to - *head; b++)
			r[(*head + b) % (int64_t)n] = 0;
	}
	*head = to;
}

/* Whether bin b is one of the n the ring with this head holds. */
static int ring_holds(size_t n, int64_t head, int64_t b)
{
	return head >= 0 && b >= 0 && b <= head && head - b < (int64_t)n;
}

static void ring_add(uint16_t *r, size_t n, int64_t *head, int64_t b,
		     uint32_t count)
{
	if (*head < 0) {
		memset(r, 0, n * sizeof(*r));
		*head = b;
	} else if (b > *head) {
		ring_advance(r, n, head, b);
	}
	if (ring_holds(n, *head, b))
		r[b % (int64_t)n] = sat16(r[b % (int64_t)n], count);
}

/* Session bookkeeping of one access at `now`. Only accesses in time
 * order open sessions: a late event belongs to a session already
 * counted. */
static void add_session(struct access_series *s, const struct series_params *p,
			int64_t now)
{
	double gap, d;

	if (s->last == 0) {
		s->last = now;
		s->session = now;
		return;
	}
	if (now < s->last)
		return;
	if ((double)(now - s->last) / NS_PER_S >= p->burst) {
		gap = (double)(now - s->session) / NS_PER_S;
		if (s->gaps == 0) {
			s->gap_mean = gap;
			s->gap_var = 0;
		} else {
			/* Incremental exponentially weighted mean and
			 * variance (West's form): stays >= 0 without a
			 * second pass. */
			d = gap - s->gap_mean;
			s->gap_mean += GAP_ALPHA * d;
			s->gap_var = (1 - GAP_ALPHA) *
				     (s->gap_var + GAP_ALPHA * d * d);
		}
		s->gaps = sat32(s->gaps, 1);
		s->session = now;
	}
	s->last = now;
}

void series_add(struct access_series *s, const struct series_params *p,
		int64_t now, double weight, int write)
{
	uint32_t n = weight >= (double)UINT32_MAX ? UINT32_MAX :
		     weight >= 1.0 ? (uint32_t)llround(weight) : 1;
	int64_t fb = fine_bin(p, now);
	int i;

	/* The clock set back, or a longer bin than the record's: every
	 * access would fall behind the heads and be dropped until the
	 * clock caught up (30 days set back: a month of bins lost). What
	 * lies ahead of now goes. */
	if (s->fine_head >= 0 && (s->stamp - now > SERIES_CLOCK_STEP ||
				  s->fine_head - fb >= (int64_t)SERIES_FINE)) {
		memset(s->fine, 0, sizeof(s->fine));
		memset(s->coarse, 0, sizeof(s->coarse));
		s->fine_head = -1;
		if (s->stamp > now)
			s->stamp = now;
		if (s->last > now)
			s->last = s->session = 0;
	}
	/* An empty record's coarse head is 0 (series_init), a real bin
	 * number: the fine head alone says whether there is history. */
	if (s->fine_head < 0)
		s->coarse_head = -1;
	ring_add(s->fine, SERIES_FINE, &s->fine_head, fb, n);
	ring_add(s->coarse, SERIES_COARSE, &s->coarse_head, coarse_bin(p, fb),
		 n);
	if (weight < 1.0)
		weight = 1.0;
	for (i = 0; i < SERIES_HALF_LIVES; i++) {
		if (now >= s->stamp)
			s->decayed[i] = decay(s->decayed[i], s->stamp, now,
					      p->half_life[i]) + weight;
		else
			s->decayed[i] += decay(weight, now, s->stamp,
					       p->half_life[i]);
	}
	if (now > s->stamp)
		s->stamp = now;
	add_session(s, p, now);
	if (write)
		s->writes = sat32(s->writes, n);
	else
		s->reads = sat32(s->reads, n);
}

/* The last n bins of ring r up to bin `top`, oldest first; see
 * series_fine. The record is taken as advanced to the later of its head
 * and `top` when counting the bins it holds. */
static size_t ring_read(const uint16_t *r, size_t size, int64_t head,
			int64_t top, double *out, size_t n)
{
	int64_t last = head > top ? head : top;
	size_t i, held = 0;
	int64_t b;

	for (i = 0; i < n; i++) {
		b = top - (int64_t)(n - 1 - i);
		out[i] = 0;
		if (head < 0 || b < 0)
			continue;
		if (last - b < (int64_t)size)
			held++;
		if (ring_holds(size, head, b))
			out[i] = r[b % (int64_t)size];
	}
	return held;
}

size_t series_fine(const struct access_series *s,
		   const struct series_params *p, int64_t now, double *out,
		   size_t n)
{
	return ring_read(s->fine, SERIES_FINE, s->fine_head, fine_bin(p, now),
			 out, n);
}

size_t series_coarse(const struct access_series *s,
		     const struct series_params *p, int64_t now, double *out,
		     size_t n)
{
	return ring_read(s->coarse, SERIES_COARSE,
			 s->fine_head < 0 ? -1 : s->coarse_head,
			 coarse_bin(p, fine_bin(p, now)), out, n);
}

double series_decayed(const struct access_series *s,
		      const struct series_params *p, int i, int64_t now)
{
	if (i < 0 || i >= SERIES_HALF_LIVES)
		return 0;
	return decay(s->decayed[i], s->stamp, now, p->half_life[i]);
}

/* Adds the bins of ring rb (head hb) into ring ra (head *ha). */
static void ring_merge(uint16_t *ra, int64_t *ha, const uint16_t *rb,
		       int64_t hb, size_t n)
{
	int64_t b;

	if (hb < 0)
		return;
	if (*ha < 0) {
		memcpy(ra, rb, n * sizeof(*ra));
		*ha = hb;
		return;
	}
	if (hb > *ha)
		ring_advance(ra, n, ha, hb);
	for (size_t i = 0; i < n; i++) {
		b = hb - (int64_t)i;
		if (ring_holds(n, hb, b) && ring_holds(n, *ha, b))
			ra[b % (int64_t)n] = sat16(ra[b % (int64_t)n],
						   rb[b % (int64_t)n]);
	}
}

void series_merge(struct access_series *a, const struct access_series *b,
		  const struct series_params *p)
{
	int64_t stamp = a->stamp > b->stamp ? a->stamp : b->stamp;
	int i;

	if (b->fine_head < 0)
		return;
	if (a->fine_head < 0)
		a->coarse_head = -1;
	ring_merge(a->fine, &a->fine_head, b->fine, b->fine_head, SERIES_FINE);
	ring_merge(a->coarse, &a->coarse_head, b->coarse, b->coarse_head,
		   SERIES_COARSE);
	for (i = 0; i < SERIES_HALF_LIVES; i++)
		a->decayed[i] = decay(a->decayed[i], a->stamp, stamp,
				      p->half_life[i]) +
				decay(b->decayed[i], b->stamp, stamp,
				      p->half_life[i]);
	a->stamp = stamp;
	/* The current session is the one of the latest access; the gap
	 * statistics cannot be combined (the two sets of sessions
	 * interleave), so the better informed one wins. */
	if (b->last > a->last) {
		a->last = b->last;
		a->session = b->session;
	}
	if (b->gaps > a->gaps) {
		a->gap_mean = b->gap_mean;
		a->gap_var = b->gap_var;
		a->gaps = b->gaps;
	}
	a->reads = sat32(a->reads, b->reads);
	a->writes = sat32(a->writes, b->writes);
}

/* ---- encoding: version u32, then the fields in struct order, no
 * padding; SERIES_ENC_SIZE = 4 + 2*8 + 2*SERIES_FINE + 2*SERIES_COARSE
 * + 8*SERIES_HALF_LIVES + 3*8 + 2*8 + 3*4 ---- */

_Static_assert(4 + 2 * 8 + 2 * SERIES_FINE + 2 * SERIES_COARSE +
	       8 * SERIES_HALF_LIVES + 3 * 8 + 2 * 8 + 3 * 4 == SERIES_ENC_SIZE,
	       "SERIES_ENC_SIZE does not match the layout");

static uint8_t *put(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + bytes;
}

static const uint8_t *get(const uint8_t *p, uint64_t *v, int bytes)
{
	*v = 0;
	for (int i = 0; i < bytes; i++)
		*v |= (uint64_t)p[i] << (8 * i);
	return p + bytes;
}

static uint8_t *put_double(uint8_t *p, double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof(bits));
	return put(p, bits, 8);
}

static const uint8_t *get_double(const uint8_t *p, double *d)
{
	uint64_t bits;

	p = get(p, &bits, 8);
	memcpy(d, &bits, sizeof(*d));
	return p;
}

void series_encode(const struct access_series *s,
		   uint8_t out[SERIES_ENC_SIZE])
{
	uint8_t *p = out;
	int i;

	p = put(p, SERIES_ENC_VERSION, 4);
	p = put(p, (uint64_t)s->fine_head, 8);
	p = put(p, (uint64_t)s->coarse_head, 8);
	for (i = 0; i < SERIES_FINE; i++)
		p = put(p, s->fine[i], 2);
	for (i = 0; i < SERIES_COARSE; i++)
		p = put(p, s->coarse[i], 2);
	for (i = 0; i < SERIES_HALF_LIVES; i++)
		p = put_double(p, s->decayed[i]);
	p = put(p, (uint64_t)s->stamp, 8);
	p = put(p, (uint64_t)s->last, 8);
	p = put(p, (uint64_t)s->session, 8);
	p = put_double(p, s->gap_mean);
	p = put_double(p, s->gap_var);
	p = put(p, s->gaps, 4);
	p = put(p, s->reads, 4);
	put(p, s->writes, 4);
}

static int bad_double(double d)
{
	return !isfinite(d) || d < 0;
}

int series_decode(const void *buf, size_t len, struct access_series *out)
{
	const uint8_t *p = buf;
	struct access_series s;
	uint64_t v;
	int i;

	if (len != SERIES_ENC_SIZE)
		return -EUCLEAN;
	p = get(p, &v, 4);
	if (v != SERIES_ENC_VERSION)
		return -EUCLEAN;
	p = get(p, &v, 8);
	s.fine_head = (int64_t)v;
	p = get(p, &v, 8);
	s.coarse_head = (int64_t)v;
	/* No encoder writes a head past the last bin fine_bin gives. */
	if (s.fine_head < -1 || s.coarse_head < -1 ||
	    s.fine_head > SERIES_HEAD_MAX || s.coarse_head > SERIES_HEAD_MAX)
		return -EUCLEAN;
	for (i = 0; i < SERIES_FINE; i++) {
		p = get(p, &v, 2);
		s.fine[i] = (uint16_t)v;
	}
	for (i = 0; i < SERIES_COARSE; i++) {
		p = get(p, &v, 2);
		s.coarse[i] = (uint16_t)v;
	}
	for (i = 0; i < SERIES_HALF_LIVES; i++) {
		p = get_double(p, &s.decayed[i]);
		if (bad_double(s.decayed[i]))
			return -EUCLEAN;
	}
	p = get(p, &v, 8);
	s.stamp = (int64_t)v;
	p = get(p, &v, 8);
	s.last = (int64_t)v;
	p = get(p, &v, 8);
	s.session = (int64_t)v;
	/* times no clock of this daemon writes (before 1970): the
	 * differences taken of them would overflow */
	if (s.stamp < 0 || s.last < 0 || s.session < 0)
		return -EUCLEAN;
	p = get_double(p, &s.gap_mean);
	p = get_double(p, &s.gap_var);
	if (bad_double(s.gap_mean) || bad_double(s.gap_var))
		return -EUCLEAN;
	p = get(p, &v, 4);
	s.gaps = (uint32_t)v;
	p = get(p, &v, 4);
	s.reads = (uint32_t)v;
	get(p, &v, 4);
	s.writes = (uint32_t)v;
	*out = s;
	return 0;
}
