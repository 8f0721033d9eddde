/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The placement score and the policies it obeys (../shared/DESIGN.md,
 * "The placement score"). Pure functions: the daemon's placer
 * (tiering/placer.c) and dfabric-sim call the same code.
 *
 * For a file or an extent and each candidate tier:
 *
 *     total = w1·frequency + w2·latency_fit + w3·cost_saving + w4·trend
 *
 * every term in [0, 1]. Tiers are indexed fastest first, as configured.
 * A move is proposed when the best allowed tier beats the current one by
 * the hysteresis margin, the latency class is met there, the confidence
 * is at least the threshold and more than one term prefers it; or when
 * it is at least promote_freq hot and the best tier is faster (promotion
 * on access, the same decision a read makes). A pin or a class that
 * forbids the current tier moves regardless (forced). */
#ifndef DF_SCORE_H
#define DF_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "tiering/stats.h"

/* user.dfabric.latency: the latency a file needs. */
enum score_latency {
	SCORE_LAT_STANDARD = 0,        /* < 100 ms (the default) */
	SCORE_LAT_CRITICAL = 1,        /* < 10 ms */
	SCORE_LAT_FLEXIBLE = 2,        /* >= 1 s is fine */
};

/* user.dfabric.class: how sensitive the data is. */
enum score_class {
	SCORE_CLASS_PUBLIC = 0,        /* anywhere (the default) */
	SCORE_CLASS_PRIVATE = 1,       /* anywhere */
	SCORE_CLASS_RESTRICTED = 2,    /* local tiers and tiers with private = yes */
	SCORE_CLASS_CONFIDENTIAL = 3,  /* local tiers only (on-premise) */
};

struct score_policy {
	int pin;                       /* tier index it must live on, -1 none */
	int latency;                   /* enum score_latency */
	int cls;                       /* enum score_class */
};

struct score_tier {
	char name[CFG_NAME_MAX];       /* tier name */
	int local;                     /* on-premise (kind = local) */
	int private_tier;              /* private = yes in the config */
	int healthy;                   /* the backend answers */
	double latency;                /* measured seconds per read request; < 0 unknown */
	double cost_gb_month;          /* price per GB-month stored */
	double cost_per_1k_get;        /* price per 1000 reads */
	double cost_per_1k_put;        /* price per 1000 writes */
	double egress_gb;              /* price per GB read out */
	uint64_t capacity;             /* bytes; 0: no limit (score_plan) */
	uint64_t used;                 /* bytes on it now (score_plan updates it) */
	double high_watermark;         /* fraction of capacity */
	double low_watermark;          /* fraction of capacity */
};

struct score_params {
	double w_frequency;            /* w1, default 0.4 */
	double w_latency;              /* w2, default 0.3 */
	double w_cost;                 /* w3, default 0.2 */
	double w_trend;                /* w4, default 0.1 */
	double hysteresis;             /* margin over the current total, default 0.05 */
	double confidence;             /* threshold to move, default 0.7 */
	double half_life;              /* seconds of the decayed frequency, default 86400 */
	double hot_freq;               /* frequency at which a file counts as half hot */
	double promote_freq;           /* read from a slow tier at this frequency: promote now */
	double horizon;                /* seconds a move's cost is spread over */
};

/* Fills p with the defaults above. */
void score_defaults(struct score_params *p);

struct score_input {
	struct access_stats st;        /* its access statistics */
	uint64_t bytes;                /* its size */
	int cur;                       /* tier index holding it now */
	struct score_policy pol;       /* its policies */
	double trend;                  /* predicted change of heat, -1..1; 0 none */
	double trend_confidence;       /* 0..1 confidence of that prediction; 0 none */
	int64_t now;                   /* unix ns */
};

#define SCORE_WHY_MAX 64

struct score_terms {
	double frequency;              /* fit of its heat to the tier's speed */
	double latency_fit;            /* the tier meets its latency class: 1 */
	double cost_saving;            /* cheaper per month than the dearest tier: up to 1 */
	double trend;                  /* predicted heat fits the tier: 0.5 neutral */
	double total;                  /* the weighted sum */
	double monthly_cost;           /* projected cost of keeping it there a month */
	double move_cost;              /* cost of moving it there from cur */
	int allowed;                   /* policies and health allow the tier */
	char why[SCORE_WHY_MAX];       /* why it is not allowed, "" when it is */
};

enum score_decision {
	SCORE_STAY = 0,                /* stays where it is */
	SCORE_MOVE = 1,                /* moves to target: better by the margin */
	SCORE_FORCED = 2,              /* moves to target: a policy demands it */
};

#define SCORE_REASON_MAX 192

struct score_result {
	int ntiers;
	struct score_terms t[CFG_MAX_TIERS]; /* by tier index */
	int best;                      /* allowed tier with the highest total, -1 none */
	int target;                    /* tier to move to, -1 to stay */
	enum score_decision decision;
	double confidence;             /* 0..1, from history and prediction */
	double benefit;                /* total[target] - total[cur] (0 when staying) */
	char reason[SCORE_REASON_MAX]; /* one line: why it moves or stays */
};

/* Whether policy p allows tier index `idx` of tiers[0..n): 1, or 0 with a
 * short reason in why (may be NULL). */
int score_allowed(const struct score_tier *tiers, int n, int idx,
		  const struct score_policy *p, char *why, size_t whylen);

/* Scores in on every tier and decides. */
void score_eval(const struct score_params *p, const struct score_tier *tiers,
		int n, const struct score_input *in, struct score_result *out);

/* Names and parsing of the policy values, as the xattrs spell them:
 * "standard", "critical", "flexible"; "public", "private", "restricted",
 * "confidential". Parse returns the value or -EINVAL. */
const char *score_latency_name(int latency);
const char *score_class_name(int cls);
int score_parse_latency(const char *s, size_t len);
int score_parse_class(const char *s, size_t len);

/* One candidate for a placement pass. */
struct plan_item {
	uint64_t id;                   /* the caller's handle */
	uint64_t bytes;                /* its size */
	int cur;                       /* tier index holding it */
	int target;                    /* score_eval's target, -1 stay */
	int forced;                    /* a policy demands the move (score_eval
					* decided SCORE_FORCED, or some bytes
					* are on a tier it forbids: with target
					* == cur, those on other tiers come to
					* cur) */
	double benefit;                /* score_eval's benefit */
	double heat;                   /* decayed frequency now: victims coldest first */
	uint32_t allowed;              /* bit i: tier i allowed by its policies */
	int pinned;                    /* never chosen to make room */
	int ahead;                     /* 1: promote ahead of a forecast (heat is
					* then its predicted heat); -1: demote
					* early on a forecast; 0 neither */
	int hold;                      /* 1: not promoted by heat this pass (its
					* access is an anomaly) */
	uint64_t tier_bytes[CFG_MAX_TIERS]; /* its bytes on each tier; all 0:
					* all on cur */
};

struct plan_move {
	uint64_t id;                   /* plan_item.id */
	int from;                      /* tier index */
	int to;                        /* tier index */
	uint64_t bytes;
	double priority;               /* higher first */
	int why;                       /* 0 score, 1 forced by policy, 2 watermark
					* or making room, 3 promotion by heat,
					* 4 promotion ahead of a forecast,
					* 5 demotion early on a forecast */
};

/* Plans one pass over items: forced moves first, then demotions early on
 * a forecast (ahead -1: to the next slower allowed tier with room), then
 * the moves
 * score_eval proposed, best benefit first, where the destination stays
 * below its high watermark (but promotions of items that qualify for
 * promotion by heat, which are left to it); then promotions by heat: an unpinned item
 * with heat >= promote_freq on a slower tier than the fastest it may use
 * goes there, hottest first (an item with ahead 1 qualifies at
 * any heat; hold 1 never does), and when it does not fit below that tier's
 * low watermark, colder unpinned items there are demoted first (coldest
 * first, to the next slower allowed tier with room; why 2), so that what
 * a watermark demotion took down to the low watermark does not come
 * back at the next pass unless it is hotter than what stayed; then, for
 * each tier above its high watermark, demotions of its coldest unpinned
 * items to the next slower allowed tier with room until it is down to
 * its low watermark.
 * tiers[].used is updated as planned. Writes at most max moves and
 * returns how many. */
size_t score_plan(const struct score_params *p, struct score_tier *tiers,
		  int n, const struct plan_item *items, size_t nitems,
		  struct plan_move *moves, size_t max);

#endif
