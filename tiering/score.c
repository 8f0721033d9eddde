/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The placement score and planner (score.h). Pure: no clock, no I/O, so
 * the daemon's placer and dfabric-sim reach the same decisions from the
 * same statistics.
 *
 * The four terms, each in [0, 1], for a file or extent on tier i of n
 * (indexed fastest first):
 *
 *  frequency    h = 1 - 2^(-freq / hot_freq): its heat, 0 idle, 1/2 at
 *               hot_freq (the header's "half hot"), towards 1 above; the
 *               tier's speed s_i = 1 - i/(n-1) (1 when n = 1). The term is
 *               1 - |h - s_i|: hot data fits fast tiers, cold data slow.
 *  latency_fit  1 when the tier's latency (measured; unknown: 1 ms for a
 *               local tier, 50 ms otherwise) is within the class bound
 *               (critical 10 ms, standard 100 ms; flexible: any), else
 *               bound / latency.
 *  cost_saving  (max_cost - cost_i) / max_cost with the maximum over the
 *               allowed tiers, where cost_i is the projected monthly cost
 *               of keeping it on i (monthly_cost) plus the cost of moving
 *               it there from cur spread over `horizon` (move_cost scaled
 *               to a month). No prices at all: 1 on every tier.
 *  trend        0.5 + 0.5·trend·(2·s_i - 1): a predicted warming favours
 *               fast tiers, a cooling slow ones; 0.5 without a prediction.
 *
 * Access rate from the decayed frequency: a steady rate r (per second)
 * makes the decayed sum converge to r·half_life/ln 2, so
 * accesses per month = freq·ln 2·month / half_life. They are split into
 * reads and writes in the proportion of its history (all reads when it
 * has none), each read costs one GET and moves the mean bytes of its
 * reads (the whole object when unknown) out as egress, each write one
 * PUT. A GB is 2^30 bytes and a month 30 days.
 *
 * Confidence (from history, optionally blended with the predictor's):
 *
 *     c_count = 1 - e^(-count/5)                  how much it has been seen
 *     c_age   = min(1, (now - first) / half_life)  how long it was watched
 *     c_hist  = 1 - (1 - c_count)·(1 - c_age)
 *     c       = c_hist, or (2·c_hist + trend_confidence)/3 with a prediction
 *
 * Promotion: a file or extent whose decayed frequency is at least
 * promote_freq, on a slower tier than its best one, moves there (if the
 * latency class is met) without the margin, the confidence or a second
 * term: it is the promotion on access of the profiler, and a pass and
 * `explain` must say the same as a read would do.
 *
 * An empty history gives 0 (nothing moves on no evidence); an old file
 * that has gone idle is confidently cold (c_age = 1) however few times it
 * was read; a file read many times in a burst is confidently hot. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tiering/score.h"

#define NS_PER_S       1000000000.0
#define MONTH_S        (30.0 * 86400.0)
#define GB             1073741824.0
#define LAT_LOCAL      0.001   /* assumed latency of an unmeasured local tier */
#define LAT_REMOTE     0.05    /* ... of an unmeasured remote tier */
#define LAT_CRITICAL   0.010
#define LAT_STANDARD   0.100
#define PUT_PART       (4.0 * 1048576.0) /* bytes per PUT of a move */
#define EPS            1e-9

void score_defaults(struct score_params *p)
{
	p->w_frequency = 0.4;
	p->w_latency = 0.3;
	p->w_cost = 0.2;
	p->w_trend = 0.1;
	p->hysteresis = 0.05;
	p->confidence = 0.7;
	p->half_life = 86400.0;
	p->hot_freq = 4.0;
	p->promote_freq = 3.0;
	p->horizon = MONTH_S;
}

static const char *const lat_names[] = { "standard", "critical", "flexible" };
static const char *const cls_names[] = { "public", "private", "restricted",
					 "confidential" };

const char *score_latency_name(int latency)
{
	if (latency < 0 || latency >= (int)(sizeof(lat_names) / sizeof(*lat_names)))
		return "?";
	return lat_names[latency];
}

const char *score_class_name(int cls)
{
	if (cls < 0 || cls >= (int)(sizeof(cls_names) / sizeof(*cls_names)))
		return "?";
	return cls_names[cls];
}

static int parse_name(const char *const *names, int count, const char *s,
		      size_t len)
{
	for (int i = 0; i < count; i++)
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
			return i;
	return -EINVAL;
}

int score_parse_latency(const char *s, size_t len)
{
	return parse_name(lat_names, 3, s, len);
}

int score_parse_class(const char *s, size_t len)
{
	return parse_name(cls_names, 4, s, len);
}

/* The tier's read latency: measured, or a guess from its kind. */
static double tier_latency(const struct score_tier *t)
{
	if (t->latency >= 0.0)
		return t->latency;
	return t->local ? LAT_LOCAL : LAT_REMOTE;
}

/* The bound of a latency class; 0 for flexible (no bound). */
static double class_bound(int latency)
{
	switch (latency) {
	case SCORE_LAT_CRITICAL:
		return LAT_CRITICAL;
	case SCORE_LAT_FLEXIBLE:
		return 0.0;
	default:
		return LAT_STANDARD;
	}
}

static int set_why(char *why, size_t whylen, const char *fmt, const char *arg)
{
	if (why && whylen)
		snprintf(why, whylen, fmt, arg);
	return 0;
}

/* Every rule but the latency class: pin, data class, health. */
static int base_allowed(const struct score_tier *tiers, int n, int idx,
			const struct score_policy *p, char *why, size_t whylen)
{
	const struct score_tier *t = &tiers[idx];

	if (p->pin >= 0 && p->pin != idx)
		return set_why(why, whylen, "pinned to %s",
			       p->pin < n ? tiers[p->pin].name : "?");
	if (p->cls == SCORE_CLASS_CONFIDENTIAL && !t->local)
		return set_why(why, whylen, "%s: local tiers only",
			       "confidential");
	if (p->cls == SCORE_CLASS_RESTRICTED && !t->local && !t->private_tier)
		return set_why(why, whylen, "%s: local or private tiers only",
			       "restricted");
	if (!t->healthy)
		return set_why(why, whylen, "%s", "unhealthy");
	return 1;
}

int score_allowed(const struct score_tier *tiers, int n, int idx,
		  const struct score_policy *p, char *why, size_t whylen)
{
	double bound;
	int i;

	if (why && whylen)
		why[0] = '\0';
	if (idx < 0 || idx >= n)
		return set_why(why, whylen, "%s", "no such tier");
	if (!base_allowed(tiers, n, idx, p, why, whylen))
		return 0;
	if (p->latency != SCORE_LAT_CRITICAL)
		return 1;
	/* A critical file must sit on a tier that meets 10 ms, unless none
	 * of the tiers it may use does: then the rest are all as good. */
	bound = class_bound(p->latency);
	if (tier_latency(&tiers[idx]) <= bound)
		return 1;
	for (i = 0; i < n; i++)
		if (base_allowed(tiers, n, i, p, NULL, 0) &&
		    tier_latency(&tiers[i]) <= bound)
			return set_why(why, whylen, "%s",
				       "too slow for critical");
	return 1;
}

static double speed(int i, int n)
{
	return n <= 1 ? 1.0 : 1.0 - (double)i / (double)(n - 1);
}

static double clamp01(double v)
{
	return v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v;
}

static double heat(const struct score_params *p, const struct score_input *in)
{
	double f = stats_freq(&in->st, in->now, p->half_life);

	if (p->hot_freq <= 0.0)
		return f > 0.0 ? 1.0 : 0.0;
	return 1.0 - exp2(-f / p->hot_freq);
}

static double latency_fit(const struct score_tier *t, int latency)
{
	double bound = class_bound(latency), lat = tier_latency(t);

	if (bound <= 0.0 || lat <= bound)
		return 1.0;
	return bound / lat;
}

/* Projected cost of keeping in on t for a month (see the top). */
static double monthly_cost(const struct score_params *p,
			   const struct score_tier *t,
			   const struct score_input *in)
{
	const struct access_stats *st = &in->st;
	double f = stats_freq(st, in->now, p->half_life);
	double acc = p->half_life > 0.0 ? f * M_LN2 * MONTH_S / p->half_life : 0.0;
	double rw = (double)st->reads + (double)st->writes;
	double rfrac = rw > 0.0 ? (double)st->reads / rw : 1.0;
	double rbytes = st->reads ? (double)st->bytes_read / (double)st->reads :
				    (double)in->bytes;
	double reads = acc * rfrac, writes = acc - reads;

	return t->cost_gb_month * (double)in->bytes / GB +
	       reads * t->cost_per_1k_get / 1000.0 +
	       writes * t->cost_per_1k_put / 1000.0 +
	       reads * rbytes / GB * t->egress_gb;
}

/* One-off cost of moving in from cur to t: read out of cur (GETs and
 * egress), written into t (a PUT per 4 MiB). */
static double move_cost(const struct score_tier *cur,
			const struct score_tier *t, uint64_t bytes)
{
	double parts = ceil((double)bytes / PUT_PART);

	if (parts < 1.0)
		parts = 1.0;
	return parts * cur->cost_per_1k_get / 1000.0 +
	       (double)bytes / GB * cur->egress_gb +
	       parts * t->cost_per_1k_put / 1000.0;
}

static double confidence(const struct score_params *p,
			 const struct score_input *in)
{
	double count = (double)stats_count(&in->st);
	double c_count = 1.0 - exp(-count / 5.0), c_age = 0.0, c;

	if (in->st.first > 0 && in->now > in->st.first && p->half_life > 0.0)
		c_age = clamp01((double)(in->now - in->st.first) / NS_PER_S /
				p->half_life);
	if (count == 0.0)
		c_age = 0.0;
	c = 1.0 - (1.0 - c_count) * (1.0 - c_age);
	if (in->trend_confidence > 0.0)
		c = (2.0 * c + clamp01(in->trend_confidence)) / 3.0;
	return clamp01(c);
}

/* The terms of every tier; the cost term needs all monthly costs first. */
static void score_terms(const struct score_params *p,
			const struct score_tier *tiers, int n,
			const struct score_input *in, struct score_result *out)
{
	double h = heat(p, in), trend = in->trend, maxc = 0.0;
	double spread = p->horizon > 0.0 ? MONTH_S / p->horizon : 1.0;
	int cur_ok = in->cur >= 0 && in->cur < n;
	int i;

	if (!(trend >= -1.0))
		trend = trend < -1.0 ? -1.0 : 0.0;   /* NaN: no trend */
	if (trend > 1.0)
		trend = 1.0;
	for (i = 0; i < n; i++) {
		struct score_terms *t = &out->t[i];
		double s = speed(i, n);

		memset(t, 0, sizeof(*t));
		t->allowed = score_allowed(tiers, n, i, &in->pol, t->why,
					   sizeof(t->why));
		t->frequency = 1.0 - fabs(h - s);
		t->latency_fit = latency_fit(&tiers[i], in->pol.latency);
		t->trend = 0.5 + 0.5 * trend * (2.0 * s - 1.0);
		t->monthly_cost = monthly_cost(p, &tiers[i], in);
		if (cur_ok && i != in->cur)
			t->move_cost = move_cost(&tiers[in->cur], &tiers[i],
						 in->bytes);
		if (t->allowed && t->monthly_cost + t->move_cost * spread > maxc)
			maxc = t->monthly_cost + t->move_cost * spread;
	}
	for (i = 0; i < n; i++) {
		struct score_terms *t = &out->t[i];
		double c = t->monthly_cost + t->move_cost * spread;

		t->cost_saving = maxc > 0.0 ? clamp01((maxc - c) / maxc) : 1.0;
		t->total = p->w_frequency * t->frequency +
			   p->w_latency * t->latency_fit +
			   p->w_cost * t->cost_saving +
			   p->w_trend * t->trend;
	}
}

/* Writes the one-line reason; a long one is cut, which is fine. */
__attribute__((format(printf, 2, 3)))
static void say(struct score_result *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

/* The allowed tier with the highest total; on a tie the current tier,
 * then the faster one (lower index: tiers are scanned fastest first). */
static int best_tier(const struct score_result *out, int n, int cur)
{
	int best = -1;

	for (int i = 0; i < n; i++) {
		if (!out->t[i].allowed)
			continue;
		if (best < 0 || out->t[i].total > out->t[best].total + EPS ||
		    (i == cur && out->t[i].total >= out->t[best].total - EPS))
			best = i;
	}
	return best;
}

/* Names the terms that prefer a over b into buf; returns how many. */
static int preferring(const struct score_terms *a, const struct score_terms *b,
		      char *buf, size_t len)
{
	static const char *const names[] = { "frequency", "latency", "cost",
					     "trend" };
	double da[4] = { a->frequency, a->latency_fit, a->cost_saving, a->trend };
	double db[4] = { b->frequency, b->latency_fit, b->cost_saving, b->trend };
	int k = 0, idx[4];
	size_t off = 0;

	for (int i = 0; i < 4; i++)
		if (da[i] > db[i] + EPS)
			idx[k++] = i;
	buf[0] = '\0';
	for (int i = 0; i < k && off < len; i++) {
		const char *sep = i == 0 ? "" : i == k - 1 ? " and " : ", ";
		int w = snprintf(buf + off, len - off, "%s%s", sep, names[idx[i]]);

		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (k == 0)
		snprintf(buf, len, "no term");
	return k;
}

void score_eval(const struct score_params *p, const struct score_tier *tiers,
		int n, const struct score_input *in, struct score_result *out)
{
	const struct score_terms *tc, *tb;
	char pref[64];
	int cur = in->cur, nprefer;
	double freq;

	if (n > CFG_MAX_TIERS)
		n = CFG_MAX_TIERS;
	if (n < 0)
		n = 0;
	memset(out, 0, sizeof(*out));
	out->ntiers = n;
	out->target = -1;
	out->decision = SCORE_STAY;
	score_terms(p, tiers, n, in, out);
	out->confidence = confidence(p, in);
	out->best = best_tier(out, n, cur);
	if (out->best < 0) {
		say(out, "stay: no tier is allowed by its policies and health");
		return;
	}
	tb = &out->t[out->best];
	if (cur < 0 || cur >= n || !out->t[cur].allowed) {
		/* A pin elsewhere, a class or a sick tier: move regardless
		 * of score and confidence. */
		out->target = out->best;
		out->decision = SCORE_FORCED;
		out->benefit = cur >= 0 && cur < n ?
			       tb->total - out->t[cur].total : tb->total;
		say(out, "forced %s->%s: %s", cur >= 0 && cur < n ?
		    tiers[cur].name : "?", tiers[out->best].name,
		    cur >= 0 && cur < n ? out->t[cur].why : "no tier");
		return;
	}
	tc = &out->t[cur];
	if (out->best == cur) {
		say(out, "stay on %s: best total %.2f", tiers[cur].name,
		    tc->total);
		return;
	}
	nprefer = preferring(tb, tc, pref, sizeof(pref));
	freq = stats_freq(&in->st, in->now, p->half_life);
	if (out->best < cur && freq >= p->promote_freq && freq > 0.0 &&
	    tb->latency_fit >= 1.0) {
		/* Promotion on access, as the profiler's hook does it: hot
		 * enough on a slower tier than its best moves up without
		 * waiting for a second term, so that a pass and `explain`
		 * agree with what a read would do. */
		out->target = out->best;
		out->decision = SCORE_MOVE;
		out->benefit = tb->total - tc->total;
		say(out, "promote %s->%s: frequency %.2f >= %.2f, total %.2f vs %.2f",
		    tiers[cur].name, tiers[out->best].name, freq,
		    p->promote_freq, tb->total, tc->total);
	} else if (out->best > cur && freq >= p->promote_freq && freq > 0.0) {
		/* Hot enough that a read (or the pass's promotions by heat)
		 * would bring it straight back: a demotion would only make it
		 * go down and up again. Room on a full tier is made by the
		 * watermarks, coldest first. */
		say(out, "stay on %s: frequency %.2f >= %.2f would promote it "
		    "back from %s", tiers[cur].name, freq, p->promote_freq,
		    tiers[out->best].name);
	} else if (tb->total - tc->total < p->hysteresis - EPS) {
		say(out, "stay on %s: %s total %.2f vs %.2f (+%.2f < %.2f)",
		    tiers[cur].name, tiers[out->best].name, tb->total,
		    tc->total, tb->total - tc->total, p->hysteresis);
	} else if (tb->latency_fit < 1.0) {
		say(out, "stay on %s: %s misses the %s latency class",
		    tiers[cur].name, tiers[out->best].name,
		    score_latency_name(in->pol.latency));
	} else if (out->confidence < p->confidence) {
		say(out, "stay on %s: %s total %.2f vs %.2f but confidence %.2f < %.2f",
		    tiers[cur].name, tiers[out->best].name, tb->total,
		    tc->total, out->confidence, p->confidence);
	} else if (nprefer < 2) {
		say(out, "stay on %s: only %s prefers %s (never one factor alone)",
		    tiers[cur].name, pref, tiers[out->best].name);
	} else {
		out->target = out->best;
		out->decision = SCORE_MOVE;
		out->benefit = tb->total - tc->total;
		say(out, "move %s->%s: total %.2f vs %.2f (+%.2f >= %.2f), confidence %.2f, %s prefer %s",
		    tiers[cur].name, tiers[out->best].name, tb->total,
		    tc->total, out->benefit, p->hysteresis,
		    out->confidence, pref, tiers[out->best].name);
	}
}

/* ---- planner ---- */

struct plan_ctx {
	struct score_tier *tiers;
	int n;
	const struct plan_item *items;
	struct plan_move *moves;
	size_t max, count;
	uint8_t *moved;                /* by item: already planned */
};

/* Whether `bytes` more fit on t below `frac` of its capacity; a tier
 * without a capacity takes anything. */
static int fits(const struct score_tier *t, uint64_t bytes, double frac)
{
	if (t->capacity == 0)
		return 1;
	return (double)(t->used + bytes) <= frac * (double)t->capacity;
}

/* Bytes of it on tier t: its tier_bytes, or all on cur when none is set
 * (a caller that does not split items by tier). */
static uint64_t bytes_on(const struct plan_item *it, int t)
{
	for (int i = 0; i < CFG_MAX_TIERS; i++)
		if (it->tier_bytes[i])
			return t >= 0 && t < CFG_MAX_TIERS ? it->tier_bytes[t] : 0;
	return t == it->cur ? it->bytes : 0;
}

/* Bytes that moving it to tier `to` adds there. */
static uint64_t moving(const struct plan_item *it, int to)
{
	uint64_t on = bytes_on(it, to);

	return it->bytes > on ? it->bytes - on : 0;
}

static int plan_add(struct plan_ctx *c, size_t k, int to, double prio, int why)
{
	const struct plan_item *it = &c->items[k];
	struct plan_move *m;

	if (c->count >= c->max)
		return -ENOSPC;
	m = &c->moves[c->count++];
	m->id = it->id;
	m->from = it->cur;
	m->to = to;
	m->bytes = it->bytes;
	m->priority = prio;
	m->why = why;
	c->moved[k] = 1;
	/* Each tier it leaves gives back what it holds of it (a file split
	 * over tiers frees only its part of each). */
	for (int t = 0; t < c->n; t++) {
		uint64_t on = bytes_on(it, t);

		if (t == to || !on)
			continue;
		c->tiers[t].used = c->tiers[t].used >= on ?
				   c->tiers[t].used - on : 0;
	}
	c->tiers[to].used += moving(it, to);
	return 0;
}

/* qsort_r comparators: the items are the argument, not a global, so
 * that two placers may plan at once. */
static int by_benefit(const void *a, const void *b, void *arg)
{
	const struct plan_item *items = arg;
	double x = items[*(const size_t *)a].benefit;
	double y = items[*(const size_t *)b].benefit;

	return x < y ? 1 : x > y ? -1 : 0;
}

static int by_heat(const void *a, const void *b, void *arg)
{
	const struct plan_item *items = arg;
	double x = items[*(const size_t *)a].heat;
	double y = items[*(const size_t *)b].heat;

	return x < y ? -1 : x > y ? 1 : 0;
}

static int valid_item(const struct plan_ctx *c, size_t k)
{
	int cur = c->items[k].cur;

	return cur >= 0 && cur < c->n;
}

/* Demotes the coldest unpinned items of tier i to the next slower
 * allowed tier with room until i is at its low watermark. */
static int plan_watermark(struct plan_ctx *c, int i, size_t *order,
			  size_t norder)
{
	struct score_tier *t = &c->tiers[i];

	if (t->capacity == 0 || fits(t, 0, t->high_watermark))
		return 0;
	for (size_t o = 0; o < norder; o++) {
		size_t k = order[o];
		const struct plan_item *it = &c->items[k];

		if (fits(t, 0, t->low_watermark))
			break;
		if (c->moved[k] || it->pinned || it->cur != i)
			continue;
		for (int j = i + 1; j < c->n; j++) {
			if (!(it->allowed & (1u << j)) ||
			    !fits(&c->tiers[j], moving(it, j),
				  c->tiers[j].high_watermark))
				continue;
			if (plan_add(c, k, j, 2.0 + 1.0 / (1.0 + it->heat), 2))
				return -ENOSPC;
			break;
		}
	}
	return 0;
}

/* Whether `bytes` more fit on t below its high watermark once `freed`
 * bytes have left it. */
/* Promotions by heat fill a tier up to its low watermark only: what the
 * watermark rule just demoted down to it must not come straight back at
 * the next pass (it would be copied twice for nothing); past the low
 * watermark a promotion has to displace colder items. */
static int fits_freed(const struct score_tier *t, uint64_t bytes,
		      uint64_t freed)
{
	if (t->capacity == 0)
		return 1;
	return (double)t->used - (double)freed + (double)bytes <=
	       t->low_watermark * (double)t->capacity;
}

/* The next slower tier than i that item k may go to with room below
 * its high watermark, counting `extra` bytes already meant for each;
 * -1 none. */
static int demote_dest(const struct plan_ctx *c, size_t k, int i,
		       const uint64_t *extra)
{
	const struct plan_item *it = &c->items[k];

	for (int j = i + 1; j < c->n; j++)
		if ((it->allowed & (1u << j)) &&
		    fits(&c->tiers[j], moving(it, j) + extra[j],
			 c->tiers[j].high_watermark))
			return j;
	return -1;
}

/* Promotion by heat: an item at least promote_freq hot on a slower tier
 * than the fastest it may use goes there, hottest first; when it does
 * not fit below that tier's high watermark, items colder than it are
 * demoted first, coldest first, as the watermark rule would. This is
 * promotion on read done by the pass, for the reads that found the fast
 * tier full: without it a tier filled to its high watermark by
 * promotions would never be above it, so never drained, and would keep
 * whatever reached it first. `order` is by heat, coldest first. */
/* Whether item it qualifies for promotion by heat (plan_promote). */
static bool promotable(const struct score_params *p,
		       const struct plan_item *it)
{
	if ((it->heat < p->promote_freq || it->heat <= 0.0) && it->ahead <= 0)
		return false;
	return !it->pinned && !it->hold && it->cur > 0;
}

static int plan_promote(struct plan_ctx *c, const struct score_params *p,
			const size_t *order, size_t norder)
{
	size_t cursor[CFG_MAX_TIERS] = { 0 }, *vk, nv;
	uint64_t extra[CFG_MAX_TIERS];
	int closed[CFG_MAX_TIERS] = { 0 }, *vj, ret = 0;

	vk = malloc(norder * sizeof(*vk));
	vj = malloc(norder * sizeof(*vj));
	if (!vk || !vj) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t o = norder; o-- > 0;) {
		size_t k = order[o], v;
		const struct plan_item *it = &c->items[k];
		struct score_tier *t;
		uint64_t freed = 0;
		int i;

		if (c->moved[k] || !promotable(p, it))
			continue;
		for (i = 0; i < it->cur; i++)
			if (it->allowed & (1u << i))
				break;
		if (i >= it->cur || closed[i])
			continue;
		t = &c->tiers[i];
		/* Dry run: which colder items would have to go, and where. */
		memset(extra, 0, sizeof(extra));
		nv = 0;
		for (v = cursor[i]; v < norder &&
		     !fits_freed(t, moving(it, i), freed); v++) {
			size_t w = order[v];
			const struct plan_item *vi = &c->items[w];
			int j;

			if (vi->heat >= it->heat)
				break;
			if (c->moved[w] || vi->pinned || vi->cur != i)
				continue;
			j = demote_dest(c, w, i, extra);
			if (j < 0)
				continue;
			extra[j] += moving(vi, j);
			freed += bytes_on(vi, i);
			vk[nv] = w;
			vj[nv++] = j;
		}
		if (!fits_freed(t, moving(it, i), freed)) {
			closed[i] = 1;         /* no room for this one or colder */
			continue;
		}
		for (size_t x = 0; x < nv; x++)
			if (plan_add(c, vk[x], vj[x],
				     2.0 + 1.0 / (1.0 + c->items[vk[x]].heat), 2)) {
				ret = -ENOSPC;
				goto out;
			}
		cursor[i] = v;
		if (plan_add(c, k, i, 1.0 + it->heat / (1.0 + it->heat),
			     it->ahead > 0 ? 4 : 3)) {
			ret = -ENOSPC;
			goto out;
		}
	}
out:
	free(vk);
	free(vj);
	return ret;
}

size_t score_plan(const struct score_params *p, struct score_tier *tiers,
		  int n, const struct plan_item *items, size_t nitems,
		  struct plan_move *moves, size_t max)
{
	struct plan_ctx c = { tiers, n, items, moves, max, 0, NULL };
	size_t *order = NULL, norder = 0, k;

	if (nitems == 0 || max == 0)
		return 0;
	c.moved = calloc(nitems, 1);
	order = malloc(nitems * sizeof(*order));
	if (!c.moved || !order)
		goto out;
	/* Forced moves: a policy demands them, the high watermark does not
	 * stop them (only the capacity does). */
	for (k = 0; k < nitems; k++) {
		const struct plan_item *it = &items[k];

		int to = it->target;

		if (!valid_item(&c, k) || !it->forced || to < 0 || to >= n ||
		    (to == it->cur && !moving(it, to)))
			continue;
		/* Its best tier full: another one its policies allow, the
		 * fastest first, rather than staying where it must not (the
		 * rest of a file coming home stays with its home). */
		for (int j = 0; j < n && to != it->cur &&
		     !fits(&tiers[to], moving(it, to), 1.0); j++)
			if (j != it->cur && (it->allowed & (1u << j)))
				to = j;
		if (!fits(&tiers[to], moving(it, to), 1.0))
			continue;
		if (plan_add(&c, k, to, 3.0, 1))
			goto out;
	}
	/* Demotions early on a forecast of a fall. */
	for (k = 0; k < nitems; k++) {
		const struct plan_item *it = &items[k];
		int j;
		uint64_t none[CFG_MAX_TIERS] = { 0 };

		if (!valid_item(&c, k) || c.moved[k] || it->ahead >= 0 ||
		    it->pinned)
			continue;
		j = demote_dest(&c, k, it->cur, none);
		if (j >= 0 && plan_add(&c, k, j, 2.0, 5))
			goto out;
	}
	/* Proposed moves, best benefit first, below the high watermark. */
	for (k = 0; k < nitems; k++)
		if (valid_item(&c, k) && !c.moved[k] && !items[k].forced &&
		    items[k].target >= 0 && items[k].target < n &&
		    items[k].target != items[k].cur)
			order[norder++] = k;
	qsort_r(order, norder, sizeof(*order), by_benefit, (void *)items);
	for (size_t o = 0; o < norder; o++) {
		const struct plan_item *it = &items[order[o]];

		/* A promotion of an item hot enough for promotion by heat is
		 * that: it fills its tier only to the low watermark, and
		 * only past colder items (so that what a watermark
		 * demotion took down does not come straight back). */
		if (it->target < it->cur && promotable(p, it))
			continue;
		if (!fits(&tiers[it->target], moving(it, it->target),
			  tiers[it->target].high_watermark))
			continue;
		if (plan_add(&c, order[o], it->target, 1.0 + it->benefit, 0))
			goto out;
	}
	/* Promotions by heat, making room; then the watermarks, fastest
	 * tier first so that demotions cascade. */
	norder = 0;
	for (k = 0; k < nitems; k++)
		if (valid_item(&c, k))
			order[norder++] = k;
	qsort_r(order, norder, sizeof(*order), by_heat, (void *)items);
	if (plan_promote(&c, p, order, norder))
		goto out;
	for (int i = 0; i < n; i++)
		if (plan_watermark(&c, i, order, norder))
			break;
out:
	free(order);
	free(c.moved);
	return c.count;
}
