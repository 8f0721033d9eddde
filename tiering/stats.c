/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Access statistics: decayed frequency, counters, time histograms. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "tiering/stats.h"

#define NS_PER_S 1000000000.0
#define STATS_ENC_VERSION 1u

/* The difference in double: stamps from a record are any int64. */
static double decay(double freq, int64_t from, int64_t to, double half_life)
{
	if (to <= from || freq == 0.0)
		return freq;
	return freq * exp2(-(((double)to - (double)from) / NS_PER_S) / half_life);
}

static uint32_t sat_add32(uint32_t a, uint64_t b)
{
	uint64_t v = (uint64_t)a + b;

	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

double stats_freq(const struct access_stats *s, int64_t now,
		  double half_life)
{
	return decay(s->freq, s->stamp, now, half_life);
}

uint64_t stats_count(const struct access_stats *s)
{
	return s->opens + s->reads + s->writes;
}

void stats_add(struct access_stats *s, enum stats_op op, uint64_t bytes,
	       int64_t now, double half_life, double weight)
{
	int64_t secs;
	uint32_t n = weight >= 1.0 ? (uint32_t)llround(weight) : 1, *hour, *dow;

	if (now >= s->stamp) {
		s->freq = decay(s->freq, s->stamp, now, half_life) + weight;
		s->stamp = now;
	} else if (s->stamp - now > STATS_CLOCK_STEP) {
		/* The clock was set back: the sum counts from now on, else
		 * it would not cool down before the clock was back where it
		 * had been. */
		s->freq += weight;
		s->stamp = now;
	} else {
		/* Late event: count it as decayed to where the sum is kept. */
		s->freq += decay(weight, now, s->stamp, half_life);
	}
	if (s->first == 0 || now < s->first)
		s->first = now;
	if (now > s->last)
		s->last = now;
	switch (op) {
	case STATS_OPEN:
		s->opens += n;
		break;
	case STATS_READ:
		s->reads += n;
		s->bytes_read += bytes;
		break;
	case STATS_WRITE:
		s->writes += n;
		s->bytes_written += bytes;
		break;
	}
	secs = now / 1000000000;
	if (secs < 0)
		secs = 0;
	hour = &s->hour[(secs / 3600) % STATS_HOURS];
	*hour = sat_add32(*hour, n);
	/* 1 January 1970 was a Thursday (day 4). */
	dow = &s->dow[(secs / 86400 + 4) % STATS_DAYS];
	*dow = sat_add32(*dow, n);
}

void stats_merge(struct access_stats *a, const struct access_stats *b,
		 double half_life)
{
	int64_t stamp = a->stamp > b->stamp ? a->stamp : b->stamp;
	int i;

	a->freq = decay(a->freq, a->stamp, stamp, half_life) +
		  decay(b->freq, b->stamp, stamp, half_life);
	a->stamp = stamp;
	if (b->first && (a->first == 0 || b->first < a->first))
		a->first = b->first;
	if (b->last > a->last)
		a->last = b->last;
	a->opens += b->opens;
	a->reads += b->reads;
	a->writes += b->writes;
	a->bytes_read += b->bytes_read;
	a->bytes_written += b->bytes_written;
	for (i = 0; i < STATS_HOURS; i++)
		a->hour[i] = sat_add32(a->hour[i], b->hour[i]);
	for (i = 0; i < STATS_DAYS; i++)
		a->dow[i] = sat_add32(a->dow[i], b->dow[i]);
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 8;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 4;
}

static const uint8_t *get64(const uint8_t *p, uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < 8; i++)
		*v |= (uint64_t)p[i] << (8 * i);
	return p + 8;
}

static const uint8_t *get32(const uint8_t *p, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++)
		*v |= (uint32_t)p[i] << (8 * i);
	return p + 4;
}

void stats_encode(const struct access_stats *s, uint8_t out[STATS_ENC_SIZE])
{
	uint8_t *p = out;
	uint64_t bits;
	int i;

	memcpy(&bits, &s->freq, sizeof(bits));
	p = put32(p, STATS_ENC_VERSION);
	p = put32(p, 0);
	p = put64(p, bits);
	p = put64(p, (uint64_t)s->stamp);
	p = put64(p, (uint64_t)s->first);
	p = put64(p, (uint64_t)s->last);
	p = put64(p, s->opens);
	p = put64(p, s->reads);
	p = put64(p, s->writes);
	p = put64(p, s->bytes_read);
	p = put64(p, s->bytes_written);
	for (i = 0; i < STATS_HOURS; i++)
		p = put32(p, s->hour[i]);
	for (i = 0; i < STATS_DAYS; i++)
		p = put32(p, s->dow[i]);
	put32(p, 0);
}

int stats_decode(const void *buf, size_t len, struct access_stats *out)
{
	const uint8_t *p = buf;
	struct access_stats s;
	uint32_t version, pad;
	uint64_t bits, v;
	int i;

	if (len != STATS_ENC_SIZE)
		return -EUCLEAN;
	p = get32(p, &version);
	p = get32(p, &pad);
	if (version != STATS_ENC_VERSION)
		return -EUCLEAN;
	p = get64(p, &bits);
	memcpy(&s.freq, &bits, sizeof(bits));
	/* a decayed count past STATS_FREQ_MAX is no count (a billion
	 * accesses a second for a century is 3e18): only damage writes it,
	 * and forecasts of it overflow to inf and NaN */
	if (!isfinite(s.freq) || s.freq < 0.0 || s.freq > STATS_FREQ_MAX)
		return -EUCLEAN;
	p = get64(p, &v);
	s.stamp = (int64_t)v;
	p = get64(p, &v);
	s.first = (int64_t)v;
	p = get64(p, &v);
	s.last = (int64_t)v;
	/* times no clock of this daemon writes: before 1970, or a first
	 * access after the last */
	if (s.stamp < 0 || s.first < 0 || s.last < 0 ||
	    (s.first && s.last && s.first > s.last))
		return -EUCLEAN;
	p = get64(p, &s.opens);
	p = get64(p, &s.reads);
	p = get64(p, &s.writes);
	p = get64(p, &s.bytes_read);
	p = get64(p, &s.bytes_written);
	for (i = 0; i < STATS_HOURS; i++)
		p = get32(p, &s.hour[i]);
	for (i = 0; i < STATS_DAYS; i++)
		p = get32(p, &s.dow[i]);
	*out = s;
	return 0;
}
