/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The placer: periodic placement passes and promotion on read. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "tiering/placer.h"
#include "tiering/predictor.h"

#define CHUNK 256                      /* files forecast in one batch */
#define READ_VICTIMS 16                /* demoted at most for one promotion
					* on read */
#define PENDING_MAX 256                /* promotions on access remembered
					* until their jobs are done */
#define TRIM_ROUNDS 4096               /* of READ_VICTIMS, at most, to bring
					* tier 0 under its high watermark */
#define JUDGE_FORGET (1.0 / 256)       /* the prefetch counts lose this
					* share at each judgement */
#define WATCH_MAX (1u << 16)           /* prefetched items watched at most */
#define PROBE 8                        /* rounds per prefetching one while
					* prefetches are not read */
#define STREAMS 32                     /* sequential readers followed */

/* A fast-tier item that may make room, or one due soon elsewhere. */
struct victim {
	uint64_t ino, off, len;        /* what a move moves */
	uint64_t bytes;                /* bytes it frees or needs on tier 0 */
	int64_t key;                   /* unix ns: its last access (or, read
					* ahead, when it was) */
	int64_t due;                   /* unix ns: its forecast next access,
					* for the items due soon elsewhere */
};

/* A binary heap of victims, the smallest key on top. */
struct vheap {
	struct victim *v;
	size_t n, cap;
};

/* A sequential reader: the item (ino, off) it is expected to miss next,
 * after the `win` items read ahead of it last time (0: none yet), which
 * are ahead[0..nahead) (those that were not on tier 0 already). at: when
 * it was last seen, 0 for a free slot. busy: a miss of its reader is
 * being served (read_ahead, with the lock dropped): neither matched nor
 * given to another reader until then. */
struct stream {
	uint64_t ino, off;
	int win, nahead, busy;
	int64_t at;
	struct { uint64_t ino, off; } ahead[PLACER_READ_AHEAD];
};

/* What the judgements of one kind of item fetched ahead found (judge). */
struct verdicts {
	double useful, judged;         /* read by their judgement; judged;
					* decayed */
	double precision;              /* (useful + 1) / (judged + 2), 1
					* before the first */
	uint64_t n_judged, n_read;     /* the same since start */
};

struct placer {
	struct placer_params p;        /* immutable */
	struct placer_host h;          /* immutable */
	pthread_mutex_t pass_lock;     /* one pass at a time */
	pthread_mutex_t lock;          /* the fields below */
	pthread_cond_t cond;           /* stop */
	bool stop;
	bool has_thread;
	pthread_t thread;
	struct placer_report last;     /* of the last pass */
	uint64_t passes;               /* passes run */
	uint64_t promotions;           /* jobs queued by placer_on_read */
	uint64_t prefetched;           /* jobs queued by placer_prefetch and
					* read_ahead */
	uint64_t demoted;              /* jobs queued to make room on tier 0 */
	/* Promotions (on access and by prefetch) queued and not done yet
	 * (their file's job still busy): a tier's used bytes count a move
	 * only once it is committed, so room is checked against used plus
	 * these. A ring: the oldest is forgotten when it is full. */
	struct { uint64_t ino, off, bytes; int tier; } pend[PENDING_MAX];
	int npend;
	struct vheap heap;             /* the fast-tier items by last
					* access, oldest on top */
	struct watch *watch;           /* prefetched items not yet judged */
	size_t nwatch, capwatch;
	struct verdicts verdict[2];    /* by watch.seq: of the items
					* prefetched by due time, read ahead */
	struct stream stream[STREAMS]; /* sequential readers */
	uint64_t streams;              /* streams that read ahead or would */
	uint64_t seq_fetched;          /* items read ahead since start */
	uint64_t rounds;               /* prefetch rounds */
	double reuse;                  /* s: mean gap of the items with gaps */
};

/* A prefetched item: read since `at`, when judged at `until`, or not;
 * seq: read ahead of a sequential reader (read_ahead), else prefetched
 * by its due time. */
struct watch {
	uint64_t ino, off;
	int64_t at, until;
	int seq;
};

/* What a pass collects: the items for score_plan and what they are. */
struct placer_range {
	uint64_t ino;
	uint64_t off;
	uint64_t len;
};

struct pass {
	struct placer *pl;
	struct score_tier tiers[CFG_MAX_TIERS];
	int ntiers;
	int64_t now;
	struct plan_item *items;
	struct placer_range *where;    /* by item: what a move moves */
	size_t n;
	size_t cap;
	struct placer_file *chunk;     /* files waiting for their forecast */
	size_t nchunk;
	uint64_t anomalies;
};

static int64_t clock_of(const struct placer *pl)
{
	return pl->h.now ? pl->h.now(pl->h.arg) : real_ns();
}

int placer_home(const struct placer_file *pf, int ntiers)
{
	int i, best = -1;

	for (i = 0; i < ntiers; i++)
		if (pf->tier_bytes[i] &&
		    (best < 0 || pf->tier_bytes[i] > pf->tier_bytes[best]))
			best = i;
	return best;
}

static void eval(const struct placer *pl, const struct score_tier *tiers,
		 int ntiers, const struct placer_file *pf, int home,
		 const struct forecast *f, int64_t now, struct score_result *r)
{
	struct score_input in = {
		.st = pf->st,
		.bytes = pf->bytes,
		.cur = home,
		.pol = pf->pol,
		.now = now,
	};

	if (f) {
		in.trend = f->trend;
		in.trend_confidence = f->confidence;
	}
	score_eval(&pl->p.score, tiers, ntiers, &in, r);
	/* Bytes on a tier its policies forbid, besides its home (a write
	 * that found the pinned tier full, a class set while part of it was
	 * elsewhere): they come home. */
	for (int i = 0; i < ntiers && r->decision != SCORE_FORCED; i++)
		if (i != home && pf->tier_bytes[i] && !r->t[i].allowed) {
			r->decision = SCORE_FORCED;
			r->target = home;
			snprintf(r->reason, sizeof(r->reason),
				 "forced %s->%s: %s", tiers[i].name,
				 tiers[home].name, r->t[i].why);
		}
}

static int grow(struct pass *ps)
{
	size_t cap = ps->cap ? ps->cap * 2 : 256;
	struct plan_item *items = realloc(ps->items, cap * sizeof(*items));
	struct placer_range *where;

	if (!items)
		return -ENOMEM;
	ps->items = items;
	where = realloc(ps->where, cap * sizeof(*where));
	if (!where)
		return -ENOMEM;
	ps->where = where;
	ps->cap = cap;
	return 0;
}

static void predictor_item_of(const struct placer_file *pf,
			      struct predictor_item *it)
{
	it->ino = pf->ino;
	it->off = pf->len == UINT64_MAX ? 0 : pf->off;
	it->st = &pf->st;
	it->se = &pf->se;
	it->bytes = pf->bytes;
	it->co_access = pf->co_access;
}

/* What the forecast asks of a pass: promote ahead of a predicted rise
 * (its heat becomes the heat it is expected to reach), demote early on a
 * predicted fall, or hold back the promotion of an item whose access is
 * an anomaly (a scan or a backup must not flush the fast tier). */
static enum predictor_action act_on(const struct placer *pl,
				    const struct placer_file *pf,
				    const struct forecast *f, int home,
				    int fastest, int trusted, int64_t now,
				    struct plan_item *it)
{
	const struct predict_params *pp = &predictor_params(pl->p.pred)->predict;

	if (predict_anomaly(pp, &pf->se, now) > pp->anomaly_sigma) {
		it->hold = 1;
		return PA_NONE;
	}
	if (!trusted || pf->pol.pin >= 0)
		return PA_NONE;
	if (f->change > pp->rise && f->confidence >= pp->rise_confidence &&
	    fastest >= 0 && home > fastest) {
		double floor = pl->p.score.promote_freq;

		it->ahead = 1;
		it->heat = (it->heat > floor ? it->heat : floor) + f->expected[1];
		return PA_PROMOTE;
	}
	if (f->change < -pp->fall && f->confidence >= pp->fall_confidence &&
	    home >= 0 && home + 1 < CFG_MAX_TIERS) {
		it->ahead = -1;
		it->heat = 0.0;
		return PA_DEMOTE;
	}
	return PA_NONE;
}

/* Scores the files of the chunk (with their forecasts when there is a
 * predictor) into plan items. */
static int flush_chunk(struct pass *ps)
{
	struct placer *pl = ps->pl;
	struct predictor_item pi[CHUNK];
	struct forecast *fc = NULL;
	int trusted = 0;
	size_t c;

	if (ps->nchunk == 0)
		return 0;
	if (pl->p.pred) {
		fc = malloc(ps->nchunk * sizeof(*fc));
		if (!fc)
			return -ENOMEM;
		for (c = 0; c < ps->nchunk; c++)
			predictor_item_of(&ps->chunk[c], &pi[c]);
		predictor_forecast(pl->p.pred, pi, ps->nchunk, ps->now, fc);
		trusted = predictor_trusted(pl->p.pred);
	}
	for (c = 0; c < ps->nchunk; c++) {
		const struct placer_file *pf = &ps->chunk[c];
		struct score_result r;
		struct plan_item *it;
		enum predictor_action act = PA_NONE;
		int home = placer_home(pf, ps->ntiers), i, fastest = -1;

		if (ps->n == ps->cap && grow(ps)) {
			free(fc);
			return -ENOMEM;
		}
		eval(pl, ps->tiers, ps->ntiers, pf, home, fc ? &fc[c] : NULL,
		     ps->now, &r);
		it = &ps->items[ps->n];
		memset(it, 0, sizeof(*it));
		it->id = ps->n;
		it->bytes = pf->bytes;
		memcpy(it->tier_bytes, pf->tier_bytes, sizeof(it->tier_bytes));
		it->cur = home;
		it->target = r.target;
		it->forced = r.decision == SCORE_FORCED;
		it->benefit = r.benefit;
		it->heat = stats_freq(&pf->st, ps->now, pl->p.score.half_life);
		for (i = 0; i < ps->ntiers; i++)
			if (r.t[i].allowed) {
				it->allowed |= 1u << i;
				if (fastest < 0)
					fastest = i;
			}
		it->pinned = pf->pol.pin >= 0;
		if (fc) {
			act = act_on(pl, pf, &fc[c], home, fastest, trusted,
				     ps->now, it);
			if (it->hold) {
				ps->anomalies++;
				if (!it->forced && it->target >= 0 &&
				    it->target < home)
					it->target = -1;
			}
			predictor_record(pl->p.pred, &pi[c], &fc[c], ps->now,
					 stats_count(&pf->st), act);
		}
		ps->where[ps->n].ino = pf->ino;
		ps->where[ps->n].off = pf->off;
		ps->where[ps->n].len = pf->len;
		ps->n++;
	}
	ps->nchunk = 0;
	free(fc);
	return 0;
}

static int collect(void *arg, const struct placer_file *pf)
{
	struct pass *ps = arg;

	if (placer_home(pf, ps->ntiers) < 0)
		return 0;
	ps->chunk[ps->nchunk++] = *pf;
	return ps->nchunk == CHUNK ? flush_chunk(ps) : 0;
}

static int trim_fast(struct placer *pl);
static void pending_bytes(struct placer *pl, uint64_t add[CFG_MAX_TIERS]);

static int run_pass(struct placer *pl, struct placer_report *rep)
{
	struct pass ps = { .pl = pl };
	struct plan_move *moves = NULL;
	size_t nmoves = 0, k;
	uint32_t short_of = 0;         /* tiers a planned move off did not
					* leave */
	int rc;

	memset(rep, 0, sizeof(*rep));
	ps.now = clock_of(pl);
	rc = pl->h.tiers(pl->h.arg, ps.tiers);
	if (rc < 0)
		return rc;
	ps.ntiers = rc;
	{
		/* Promotions on access and by prefetch still under way
		 * take their room already. */
		uint64_t add[CFG_MAX_TIERS] = { 0 };

		pending_bytes(pl, add);
		for (k = 0; k < (size_t)ps.ntiers; k++)
			ps.tiers[k].used += add[k];
	}
	ps.chunk = malloc(CHUNK * sizeof(*ps.chunk));
	if (!ps.chunk)
		return -ENOMEM;
	rc = pl->h.files(pl->h.arg, collect, &ps);
	if (rc == 0)
		rc = flush_chunk(&ps);
	if (rc < 0)
		goto out;
	rep->files = ps.n;
	rep->anomalies = ps.anomalies;
	if (ps.n) {
		/* An item moves at most once for its score and once more to
		 * make room. */
		moves = calloc(2 * ps.n, sizeof(*moves));
		if (!moves) {
			rc = -ENOMEM;
			goto out;
		}
		nmoves = score_plan(&pl->p.score, ps.tiers, ps.ntiers, ps.items,
				    ps.n, moves, 2 * ps.n);
	}
	for (k = 0; k < nmoves; k++) {
		const struct placer_range *w = &ps.where[moves[k].id];
		uint64_t ino = w->ino;
		int64_t id;

		/* A move into a tier that a move planned off it (listed
		 * before, its room counted) did not leave waits for the next
		 * pass: it would fill the tier past what the plan allowed.
		 * What a policy forces goes regardless. */
		if (moves[k].why != 1 && (short_of & (1u << moves[k].to)))
			continue;
		/* In cache mode, tier 0 gives room in the cache's order: a
		 * pass demotes off it only what a policy forces (trim_fast
		 * below takes it back under its high watermark). Its score
		 * would demote what the cache keeps, down to the low
		 * watermark. Its promotions stay: they bring up what is hot
		 * by the score's longer memory and the cache refused. */
		if (pl->p.pred && pl->p.cache && moves[k].why != 1 &&
		    moves[k].from == 0)
			continue;
		/* A pass queues one job per file at a time: a file whose
		 * extents move separately has its other moves at the next
		 * pass. */
		if (pl->h.busy(pl->h.arg, ino, 0, UINT64_MAX)) {
			rep->busy++;
			short_of |= 1u << moves[k].from;
			continue;
		}
		id = pl->h.migrate(pl->h.arg, ino, w->off, w->len, moves[k].to,
				   moves[k].priority, 0);
		if (id < 0) {
			rep->failed++;
			short_of |= 1u << moves[k].from;
			log_warn("placer: cannot queue moving inode %llu to tier %s: %s",
				 (unsigned long long)ino, ps.tiers[moves[k].to].name,
				 strerror((int)-id));
			continue;
		}
		rep->moves++;
		rep->forced += moves[k].why == 1;
		rep->watermark += moves[k].why == 2;
		rep->ahead += moves[k].why == 4;
		rep->early += moves[k].why == 5;
	}
	if (pl->p.pred && pl->p.cache)
		rep->watermark += (uint64_t)trim_fast(pl);
	rc = 0;
out:
	rep->when = clock_of(pl);
	free(ps.chunk);
	free(moves);
	free(ps.items);
	free(ps.where);
	return rc;
}

int placer_pass(struct placer *pl, struct placer_report *out)
{
	struct placer_report rep;
	int rc;

	pthread_mutex_lock(&pl->pass_lock);
	rc = run_pass(pl, &rep);
	pthread_mutex_unlock(&pl->pass_lock);
	if (pl->h.passed)
		pl->h.passed(pl->h.arg);
	pthread_mutex_lock(&pl->lock);
	pl->passes++;
	if (rc == 0)
		pl->last = rep;
	pthread_mutex_unlock(&pl->lock);
	if (rc == 0 && rep.moves)
		log_info("placer: %llu files or extents scored, %llu moves queued (%llu forced by policy, %llu to make room, %llu ahead of a forecast rise, %llu early on a forecast fall)",
			 (unsigned long long)rep.files,
			 (unsigned long long)rep.moves,
			 (unsigned long long)rep.forced,
			 (unsigned long long)rep.watermark,
			 (unsigned long long)rep.ahead,
			 (unsigned long long)rep.early);
	if (out)
		*out = rep;
	return rc;
}

void placer_last(struct placer *pl, struct placer_report *out)
{
	pthread_mutex_lock(&pl->lock);
	*out = pl->last;
	pthread_mutex_unlock(&pl->lock);
}

void placer_fetches(struct placer *pl, struct placer_fetches *out)
{
	pthread_mutex_lock(&pl->lock);
	out->precision = pl->verdict[0].precision;
	out->judged = pl->verdict[0].n_judged;
	out->read = pl->verdict[0].n_read;
	out->seq_precision = pl->verdict[1].precision;
	out->seq_fetched = pl->seq_fetched;
	out->seq_judged = pl->verdict[1].n_judged;
	out->seq_read = pl->verdict[1].n_read;
	pthread_mutex_unlock(&pl->lock);
}

void placer_counters(struct placer *pl, uint64_t *passes,
		     uint64_t *promotions)
{
	pthread_mutex_lock(&pl->lock);
	*passes = pl->passes;
	*promotions = pl->promotions;
	pthread_mutex_unlock(&pl->lock);
}

int placer_forecast(struct placer *pl, const struct placer_file *pf,
		    int64_t now, struct forecast *out)
{
	struct predictor_item pi;

	if (!pl->p.pred)
		return -ENODATA;
	predictor_item_of(pf, &pi);
	predictor_forecast(pl->p.pred, &pi, 1, now, out);
	return 0;
}

int placer_explain(struct placer *pl, const struct placer_file *pf,
		   int64_t now, struct score_result *out)
{
	struct score_tier tiers[CFG_MAX_TIERS];
	int n = pl->h.tiers(pl->h.arg, tiers), home, have;
	struct forecast f;

	if (n < 0)
		return n;
	home = placer_home(pf, n);
	have = placer_forecast(pl, pf, now, &f) == 0;
	eval(pl, tiers, n, pf, home < 0 ? 0 : home, have ? &f : NULL, now, out);
	return 0;
}

static int count_of(void *arg, uint64_t ino, uint64_t off, uint64_t *count)
{
	struct placer *pl = arg;
	struct placer_file pf;
	int rc = pl->h.file(pl->h.arg, ino, off, &pf);

	if (rc < 0)
		return rc;
	*count = stats_count(&pf.st);
	return 0;
}

void placer_tick(struct placer *pl)
{
	if (pl->p.pred)
		predictor_tick(pl->p.pred, clock_of(pl), count_of, pl);
}

/* ---- promotion on read and prefetch, with forecasts ----
 *
 * The fast tier is then run as a cache: every read or write of data on a
 * slower tier promotes it, and the item read longest ago makes room, as
 * in LRU. An item is taken to come back `reuse` seconds (the mean gap of
 * the items with gaps) after now, later the longer it has been idle:
 * now + reuse + (now - last). What the forecasts add is promotion ahead
 * of need: a prefetch round promotes the items with a rhythm (regular
 * gaps, forecast_next_access) due before the next round, and a
 * sequential reader's next items are read ahead of it, as if read now.
 * A prefetched item takes the place only of fast-tier items taken to come
 * back later than it is due; until the next round rebuilds the heap, it
 * counts as read when it was fetched. The order holds between accesses,
 * so a heap keeps it, oldest on top. It is rebuilt from every item at
 * each prefetch round and grows with every promotion and every write
 * that lands on tier 0 between rounds; an item taken from it is looked at
 * again before it is moved, as it may have been read or moved since.
 * Prefetches are judged (read by the time they were due and as long
 * again, or not); while fewer than half are read, one round in PROBE
 * prefetches.
 *
 * Victims were once also picked by frequency and, for the items with a
 * rhythm, by due time, with weights learnt from each order's regrets (as
 * LeCaR does). dfabric-sim -C at 10% of the working set, that mix against
 * the order by last access alone: scan missed 0.59 and 0.11, gli 0.42 and
 * 0.12, multi1 0.36 and 0.16, sprite 0.23 and 0.10, msr-cambridge1 0.32
 * and 0.25, request 0.645 and 0.655; at 5% and 25% likewise, request at
 * 5% the only trace the mix served better by more than 0.01. What the
 * mix did that this does not: keep a hot set through random one-time
 * reads (a hot set shuffled between such scans, 10%: 0.58 against 0.84,
 * LRU 0.86); scans in order are read ahead instead. */

static int vh_above(const struct vheap *h, size_t a, size_t b)
{
	return h->v[a].key < h->v[b].key;
}

static void vh_swap(struct vheap *h, size_t a, size_t b)
{
	struct victim x = h->v[a];

	h->v[a] = h->v[b];
	h->v[b] = x;
}

/* The array p of *cap elements of `size` bytes, room for n + 1 of them:
 * p itself when there is, else p grown to twice the size (at least 64);
 * NULL without memory (p is left as it was). */
static void *grow_array(void *p, size_t n, size_t *cap, size_t size)
{
	size_t c;
	void *np;

	if (n < *cap)
		return p;
	c = *cap ? *cap * 2 : 64;
	np = realloc(p, c * size);
	if (np)
		*cap = c;
	return np;
}

static int vh_push(struct vheap *h, const struct victim *v)
{
	struct victim *nv = grow_array(h->v, h->n, &h->cap, sizeof(*nv));
	size_t i;

	if (!nv)
		return -ENOMEM;
	h->v = nv;
	i = h->n++;
	h->v[i] = *v;
	while (i > 0 && vh_above(h, i, (i - 1) / 2)) {
		vh_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return 0;
}

static void vh_pop(struct vheap *h)
{
	size_t i = 0;

	h->v[0] = h->v[--h->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < h->n && vh_above(h, l, m))
			m = l;
		if (r < h->n && vh_above(h, r, m))
			m = r;
		if (m == i)
			break;
		vh_swap(h, i, m);
		i = m;
	}
}

/* pf as a victim, keyed by its last access; its due time if its gaps are
 * regular (returns 1), else 0 there. */
static int victim_of(const struct placer_file *pf, int64_t now,
		     struct victim *v)
{
	int regular;

	v->due = forecast_next_access(&pf->se, now, &regular);
	v->ino = pf->ino;
	v->off = pf->off;
	v->len = pf->len;
	v->bytes = pf->tier_bytes[0];
	v->key = pf->se.last;
	if (!regular)
		v->due = 0;
	return regular;
}

/* How far away, at now, the next access of an item last read at `key` is
 * taken to be. */
static double far_of(const struct placer *pl, int64_t key, int64_t now)
{
	return 2.0 * (double)now + pl->reuse * 1e9 - (double)key;
}

/* Remembers a fast-tier item among the victims; takes pl->lock. */
static void remember(struct placer *pl, const struct victim *v)
{
	int rc;

	pthread_mutex_lock(&pl->lock);
	rc = vh_push(&pl->heap, v);
	pthread_mutex_unlock(&pl->lock);
	if (rc < 0)
		log_warn("placer: out of memory for the fast tier's victims");
}

/* Demotes to tier 1 the fast-tier items read longest ago, as long as
 * they are taken to come back no sooner than the newcomer (`far`: when
 * it is, unix ns; -INFINITY for none), until `need` more bytes fit below
 * tier 0's high watermark (*used: its bytes used, kept up to date); at
 * most READ_VICTIMS moves. A victim whose policies forbid tier 1 (a
 * confidential file and an object store) stays; when tier 1 has no room
 * below its high watermark for the next, no more go.
 * It picks them all first: when those that may go would not free enough,
 * none goes (they are put back among the victims), unless need is 0 (a
 * trim: what it picked goes). What goes is added to tiers[1].used, so
 * that the caller's next call counts it. Returns 1 when the bytes fit. */
static int make_room(struct placer *pl, struct score_tier *tiers,
		     int ntiers, double *used, uint64_t need, double far,
		     int64_t now)
{
	const struct score_tier *t0 = &tiers[0];
	struct score_tier *t1 = &tiers[1];
	double room = t0->high_watermark * (double)t0->capacity,
	       room1 = t1->high_watermark * (double)t1->capacity;
	struct victim pick[READ_VICTIMS];
	double freed = 0;
	int n = 0, looks = 0, k;

	if (ntiers < 2)
		return 0;
	while (*used - freed + (double)need > room && n < READ_VICTIMS &&
	       looks++ < 4 * READ_VICTIMS) {
		struct placer_file vf;
		struct victim v, w;

		pthread_mutex_lock(&pl->lock);
		if (!pl->heap.n ||
		    far_of(pl, pl->heap.v[0].key, now) < far) {
			pthread_mutex_unlock(&pl->lock);
			break;
		}
		v = pl->heap.v[0];
		vh_pop(&pl->heap);
		pthread_mutex_unlock(&pl->lock);
		if (pl->h.file(pl->h.arg, v.ino, v.off, &vf) < 0 ||
		    !vf.tier_bytes[0] || vf.pol.pin == 0 ||
		    !score_allowed(tiers, ntiers, 1, &vf.pol, NULL, 0) ||
		    pl->h.busy(pl->h.arg, v.ino, 0, UINT64_MAX))
			continue;
		if (t1->capacity &&
		    (double)t1->used + freed + (double)vf.tier_bytes[0] > room1) {
			remember(pl, &v);
			break;     /* tier 1 is full: it waits there */
		}
		for (k = 0; k < n; k++)
			if (pick[k].ino == v.ino && pick[k].off == vf.off)
				break;
		if (k < n)
			continue;      /* picked already (in the heap twice) */
		victim_of(&vf, now, &w);
		if (w.key != v.key) {
			/* Read since (or read ahead and not read yet): back
			 * in by its last access now. */
			remember(pl, &w);
			continue;
		}
		pick[n++] = w;
		freed += (double)vf.tier_bytes[0];
	}
	if (need && *used - freed + (double)need > room) {
		for (k = 0; k < n; k++)
			remember(pl, &pick[k]);
		return 0;
	}
	for (k = 0; k < n; k++) {
		if (pl->h.migrate(pl->h.arg, pick[k].ino, pick[k].off,
				  pick[k].len, 1, 0.0, 0) < 0) {
			remember(pl, &pick[k]);
			continue;
		}
		*used -= (double)pick[k].bytes;
		t1->used += pick[k].bytes;
		pthread_mutex_lock(&pl->lock);
		pl->demoted++;
		pthread_mutex_unlock(&pl->lock);
	}
	return *used + (double)need <= room;
}

/* Cache mode: demotes items in the cache's order until tier 0 is below
 * its high watermark again (writes land there). Returns how many went. */
static int trim_fast(struct placer *pl)
{
	struct score_tier tiers[CFG_MAX_TIERS];
	double used, before;
	uint64_t was;
	int k, nt;

	if ((nt = pl->h.tiers(pl->h.arg, tiers)) < 2)
		return 0;
	pthread_mutex_lock(&pl->lock);
	was = pl->demoted;
	pthread_mutex_unlock(&pl->lock);
	used = (double)tiers[0].used;
	for (k = 0; k < TRIM_ROUNDS; k++) {
		before = used;
		if (make_room(pl, tiers, nt, &used, 0, -INFINITY,
			      clock_of(pl)) || used >= before)
			break;
	}
	pthread_mutex_lock(&pl->lock);
	was = pl->demoted - was;
	pthread_mutex_unlock(&pl->lock);
	return (int)was;
}

/* Adds to add[] the bytes of the promotions (on access and by prefetch)
 * still under way, forgetting those whose job is done. */
static void pending_bytes(struct placer *pl, uint64_t add[CFG_MAX_TIERS])
{
	int k = 0;

	pthread_mutex_lock(&pl->lock);
	while (k < pl->npend) {
		if (pl->h.busy(pl->h.arg, pl->pend[k].ino, pl->pend[k].off, 1) != 1) {
			pl->pend[k] = pl->pend[--pl->npend];
			continue;
		}
		add[pl->pend[k].tier] += pl->pend[k].bytes;
		k++;
	}
	pthread_mutex_unlock(&pl->lock);
}

/* Whether one more promotion can be remembered: when PENDING_MAX are
 * under way (as pending_bytes last looked), no more is queued until some
 * are done, since the room they take would no longer be counted. */
static int pending_room(struct placer *pl)
{
	int rc;

	pthread_mutex_lock(&pl->lock);
	rc = pl->npend < PENDING_MAX;
	pthread_mutex_unlock(&pl->lock);
	return rc;
}

/* Remembers a promotion just queued; the caller saw pending_room. */
static void pending_add(struct placer *pl, uint64_t ino, uint64_t off,
			int tier, uint64_t bytes)
{
	int k;

	pthread_mutex_lock(&pl->lock);
	if (pl->npend >= PENDING_MAX) {
		/* two callers raced for the last place: this one goes
		 * uncounted */
		pthread_mutex_unlock(&pl->lock);
		return;
	}
	k = pl->npend++;
	pl->pend[k].ino = ino;
	pl->pend[k].off = off;
	pl->pend[k].tier = tier;
	pl->pend[k].bytes = bytes;
	pthread_mutex_unlock(&pl->lock);
}

/* Whether a promotion of the item at (ino, off) to tier 0 is under way
 * (as far as pending_bytes last looked). */
static int pending_has(struct placer *pl, uint64_t ino, uint64_t off)
{
	int k, rc = 0;

	pthread_mutex_lock(&pl->lock);
	for (k = 0; k < pl->npend && !rc; k++)
		rc = pl->pend[k].ino == ino && pl->pend[k].off == off &&
		     pl->pend[k].tier == 0;
	pthread_mutex_unlock(&pl->lock);
	return rc;
}

static void watch(struct placer *pl, const struct victim *c, int64_t now,
		  int64_t due, int seq);

/* The item right after pf in its file: the host's `next`, else the
 * extent at the end of pf's range when pf is one extent of a large file.
 * 0 or -ENOENT (pf is a whole file, or the last extent). */
static int next_of(const struct placer *pl, const struct placer_file *pf,
		   struct placer_file *out)
{
	int rc;

	if (pl->h.next)
		return pl->h.next(pl->h.arg, pf->ino, pf->off, out);
	if (pf->len == 0 || pf->len == UINT64_MAX ||
	    pf->off + pf->len < pf->off)
		return -ENOENT;
	rc = pl->h.file(pl->h.arg, pf->ino, pf->off + pf->len, out);
	if (rc < 0)
		return rc;
	return out->ino == pf->ino && out->off == pf->off + pf->len &&
	       out->bytes ? 0 : -ENOENT;
}

/* The stream slot for a new reader: a free one, else the one seen
 * longest ago; never one whose reader's miss is being served. NULL when
 * every slot is. Caller holds pl->lock. */
static struct stream *stream_slot(struct placer *pl)
{
	struct stream *st = NULL;

	for (int k = 0; k < STREAMS; k++)
		if (!pl->stream[k].busy && (!st || pl->stream[k].at < st->at))
			st = &pl->stream[k];
	return st;
}

/* Cache mode, a read of pf missed tier 0: when a sequential reader was
 * expected to miss pf next (it missed the item before, or the item after
 * those read ahead of it last time), promotes the items after pf, one
 * the first time and twice as many each time after, up to
 * PLACER_READ_AHEAD, as a page cache reads ahead; they take the place of
 * fast-tier items as a newcomer read now would. A miss of an item read
 * ahead whose move is not done yet (moving: a promotion of pf queued
 * before this read) goes on from the last one read ahead; one moved and
 * demoted again was read ahead too early: its reader is followed anew
 * from it, as is a reader not followed yet. While fewer than
 * half of the items read ahead are read by their judgement (at a
 * prefetch round), one such miss in PROBE reads ahead; at the others
 * the reader is only followed, expected at the item after pf with its
 * window as it was. Returns the promotions queued. */
static int read_ahead(struct placer *pl, const struct placer_file *pf,
		      int64_t now, int moving)
{
	struct score_tier tiers[CFG_MAX_TIERS];
	uint64_t add[CFG_MAX_TIERS] = { 0 };
	struct placer_file cur, nx;
	struct stream *st = NULL, s;
	double used;
	int k, n, win, trusted, got = 0, in_window = 0, keep = 0;

	pthread_mutex_lock(&pl->lock);
	for (k = 0; k < STREAMS; k++) {
		struct stream *c = &pl->stream[k];
		int j;

		if (c->busy)
			continue;
		if (c->at && c->ino == pf->ino && c->off == pf->off)
			break;
		for (j = 0; c->at && j < c->nahead; j++)
			if (c->ahead[j].ino == pf->ino &&
			    c->ahead[j].off == pf->off)
				break;
		if (c->at && j < c->nahead) {
			in_window = 1;
			break;
		}
	}
	if (in_window && !moving) {
		/* Moved and gone again: read ahead too early, the reader is
		 * followed anew from here. */
		st = &pl->stream[k];
		k = STREAMS;
	}
	if (k == STREAMS) {
		struct stream was;

		if (!st)
			st = stream_slot(pl);
		was = st ? *st : (struct stream){ 0 };
		pthread_mutex_unlock(&pl->lock);
		if (!st || next_of(pl, pf, &nx) < 0)
			return 0;      /* every slot busy, or the end */
		pthread_mutex_lock(&pl->lock);
		if (st->busy || st->at != was.at || st->ino != was.ino ||
		    st->off != was.off)
			st = stream_slot(pl);  /* taken or moved on meanwhile */
		if (st) {
			memset(st, 0, sizeof(*st));
			st->ino = nx.ino;
			st->off = nx.off;
			st->at = now;
		}
		pthread_mutex_unlock(&pl->lock);
		return 0;
	}
	st = &pl->stream[k];
	s = *st;
	s.busy = 0;
	st->busy = 1;                  /* taken; freed or updated below */
	win = s.win ? 2 * s.win : 1;
	if (win > PLACER_READ_AHEAD)
		win = PLACER_READ_AHEAD;
	trusted = pl->verdict[1].precision >= 0.5 ||
		  pl->streams % PROBE == 0;
	pl->streams++;
	pthread_mutex_unlock(&pl->lock);
	if (!trusted)
		win = s.win;   /* held back: the window does not grow, and
				* the reader is expected at the next item */

	cur = *pf;
	if (in_window && s.nahead &&
	    pl->h.file(pl->h.arg, s.ahead[s.nahead - 1].ino,
		       s.ahead[s.nahead - 1].off, &nx) == 0)
		cur = nx;              /* on after the last one read ahead */
	n = pl->h.tiers(pl->h.arg, tiers);
	if (n < 2)
		goto out;              /* the slot is freed */
	pending_bytes(pl, add);
	used = (double)(tiers[0].used + add[0]);
	s.nahead = 0;
	for (k = 0; trusted && k < win; k++) {
		struct victim v;
		uint64_t need;

		if (next_of(pl, &cur, &nx) < 0)
			goto out;      /* the reader reached the end */
		cur = nx;
		if (nx.tier_bytes[0] >= nx.bytes ||
		    nx.pol.pin >= 0 ||
		    !score_allowed(tiers, n, 0, &nx.pol, NULL, 0) ||
		    (nx.ino != pf->ino && pl->h.busy(pl->h.arg, nx.ino, 0, UINT64_MAX)))
			continue;
		s.ahead[s.nahead].ino = nx.ino;
		s.ahead[s.nahead].off = nx.off;
		s.nahead++;
		if (pending_has(pl, nx.ino, nx.off))
			continue;      /* read ahead already, still moving */
		if (!pending_room(pl)) {
			s.nahead--;
			goto expect;   /* as with no room */
		}
		need = nx.bytes - nx.tier_bytes[0];
		victim_of(&nx, now, &v);
		v.key = now;           /* as if read now */
		v.bytes = nx.bytes;
		if (!make_room(pl, tiers, n, &used, need,
			       far_of(pl, v.key, now), now)) {
			/* No room for it: the reader is expected to miss
			 * this one next. */
			s.nahead--;
			goto expect;
		}
		if (pl->h.migrate(pl->h.arg, nx.ino, nx.off, nx.len, 0,
				  1000.0, 1) < 0) {
			s.nahead--;
			continue;
		}
		pending_add(pl, nx.ino, nx.off, 0, need);
		used += (double)need;
		got++;
		remember(pl, &v);
		watch(pl, &v, now, now, 1);
	}
	if (next_of(pl, &cur, &nx) < 0)
		goto out;
expect:
	s.ino = nx.ino;
	s.off = nx.off;
	s.win = win;
	s.at = now;
	keep = 1;
out:
	pthread_mutex_lock(&pl->lock);
	if (keep)
		*st = s;
	else
		memset(st, 0, sizeof(*st));
	pl->prefetched += (uint64_t)got;
	pl->seq_fetched += (uint64_t)got;
	pthread_mutex_unlock(&pl->lock);
	return got;
}

static int on_access(struct placer *pl, uint64_t ino, uint64_t off,
		     int tier, double freq, int write)
{
	uint64_t add[CFG_MAX_TIERS] = { 0 };
	struct score_tier tiers[CFG_MAX_TIERS];
	struct placer_file pf;
	struct victim v;
	int n, i, rc, busy;
	int64_t id, now = 0;
	int cache = pl->p.pred && pl->p.cache;

	if (tier <= 0 || (!cache && freq < pl->p.score.promote_freq))
		return 0;
	rc = pl->h.file(pl->h.arg, ino, off, &pf);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	/* A job moves this part of the file already, or as many of the
	 * file's as run at once are queued: another of a large file's
	 * extents does not wait behind them. */
	busy = pl->h.busy(pl->h.arg, ino, pf.off, pf.len);
	if (busy) {
		/* Not promoted (in a large file read in order, most likely
		 * its promotion was read ahead), but in cache mode its
		 * reader is still followed. */
		if (cache && !write)
			read_ahead(pl, &pf, clock_of(pl),
				   pending_has(pl, ino, pf.off));
		return -EBUSY;
	}
	n = pl->h.tiers(pl->h.arg, tiers);
	if (n < 0)
		return n;
	/* The fastest tier its policies allow, if faster than where the read
	 * went and if the file fits below that tier's high watermark, with
	 * the promotions already queued there. */
	pending_bytes(pl, add);
	for (i = 0; i < n; i++)
		tiers[i].used += add[i];
	for (i = 0; i < tier && i < n; i++) {
		double room = tiers[i].high_watermark * (double)tiers[i].capacity;

		if (!score_allowed(tiers, n, i, &pf.pol, NULL, 0))
			continue;
		if ((double)(tiers[i].used + pf.bytes - pf.tier_bytes[i]) > room)
			continue;
		break;
	}
	if (cache) {
		now = clock_of(pl);
		victim_of(&pf, now, &v);
		v.bytes = pf.bytes;
		if ((i >= tier || i >= n) && pf.pol.pin < 0 &&
		    score_allowed(tiers, n, 0, &pf.pol, NULL, 0)) {
			double used = (double)tiers[0].used;

			if (make_room(pl, tiers, n, &used,
				      pf.bytes - pf.tier_bytes[0],
				      far_of(pl, v.key, now), now))
				i = 0;
		}
	}
	if (i >= tier || i >= n) {
		if (cache && !write)
			read_ahead(pl, &pf, now, 0);
		return 0;
	}
	if (!pending_room(pl))
		return 0;
	id = pl->h.migrate(pl->h.arg, ino, pf.off, pf.len, i, 1000.0 + freq,
			   1);
	if (id < 0)
		return (int)id;
	pending_add(pl, ino, pf.off, i, pf.bytes - pf.tier_bytes[i]);
	pthread_mutex_lock(&pl->lock);
	pl->promotions++;
	pthread_mutex_unlock(&pl->lock);
	if (cache && i == 0)
		remember(pl, &v);
	if (cache && !write)
		read_ahead(pl, &pf, now, 0);
	/* In cache mode this is every miss: not worth a line each. */
	df_log(cache ? LOG_DEBUG : LOG_INFO,
	       "placer: inode %llu %s on tier %s at frequency %.2f: promoting it to %s",
	       (unsigned long long)ino, write ? "written" : "read",
	       tiers[tier < n ? tier : n - 1].name, freq, tiers[i].name);
	return 1;
}

int placer_on_read(struct placer *pl, uint64_t ino, uint64_t off, int tier,
		   double freq)
{
	return on_access(pl, ino, off, tier, freq, 0);
}

int placer_on_write(struct placer *pl, uint64_t ino, uint64_t off, int tier,
		    double freq)
{
	struct placer_file pf;
	struct victim v;
	int rc;

	if (!pl->p.pred || !pl->p.cache)
		return 0;
	if (tier > 0)
		return on_access(pl, ino, off, tier, freq, 1);
	/* Written on tier 0: one more item the next promotion may displace
	 * (the heaps are otherwise rebuilt only at the next round). */
	rc = pl->h.file(pl->h.arg, ino, off, &pf);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	if (!pf.tier_bytes[0] || pf.pol.pin == 0)
		return 0;
	victim_of(&pf, clock_of(pl), &v);
	remember(pl, &v);
	return 0;
}

/* What a prefetch round collects. */
struct round {
	struct placer *pl;
	const struct score_tier *tiers;
	int ntiers;
	int64_t now, until;
	struct vheap heap;             /* the fast tier's items */
	struct victim *cand;           /* items due soon elsewhere */
	size_t ncand, capcand;
	double gaps;                   /* sum of the mean gaps seen, s */
	uint64_t ngaps;
};

static int round_collect(void *arg, const struct placer_file *pf)
{
	struct round *r = arg;
	struct victim v, *cand;
	int known;

	if (placer_home(pf, r->ntiers) < 0)
		return 0;
	known = victim_of(pf, r->now, &v);
	if (pf->se.gaps && pf->se.gap_mean > 0) {
		r->gaps += pf->se.gap_mean;
		r->ngaps++;
	}
	if (pf->tier_bytes[0] == pf->bytes) {
		if (pf->pol.pin == 0)
			return 0;
		return vh_push(&r->heap, &v);
	}
	if (!known || v.due > r->until || pf->pol.pin >= 0 ||
	    !score_allowed(r->tiers, r->ntiers, 0, &pf->pol, NULL, 0))
		return 0;
	cand = grow_array(r->cand, r->ncand, &r->capcand, sizeof(*cand));
	if (!cand)
		return -ENOMEM;
	r->cand = cand;
	v.bytes = pf->bytes - pf->tier_bytes[0];
	r->cand[r->ncand++] = v;
	return 0;
}

static int sooner_first(const void *a, const void *b)
{
	int64_t x = ((const struct victim *)a)->due;
	int64_t y = ((const struct victim *)b)->due;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* Judges the prefetched items whose time has come (read since they
 * were prefetched or not) into the share of them read, precision. */
static void judge(struct placer *pl, int64_t now)
{
	struct placer_file pf;
	struct verdicts *v;
	struct watch w;
	size_t k = 0;
	int read;

	pthread_mutex_lock(&pl->lock);
	while (k < pl->nwatch) {
		if (pl->watch[k].until > now) {
			k++;
			continue;
		}
		w = pl->watch[k];
		pl->watch[k] = pl->watch[--pl->nwatch];
		pthread_mutex_unlock(&pl->lock);
		read = pl->h.file(pl->h.arg, w.ino, w.off, &pf) == 0 ?
		       pf.se.last >= w.at : -1;
		pthread_mutex_lock(&pl->lock);
		if (read < 0)
			continue;      /* gone */
		v = &pl->verdict[w.seq];
		v->n_judged++;
		v->n_read += (uint64_t)read;
		v->useful = v->useful * (1 - JUDGE_FORGET) + read;
		v->judged = v->judged * (1 - JUDGE_FORGET) + 1;
		v->precision = (v->useful + 1) / (v->judged + 2);
	}
	pthread_mutex_unlock(&pl->lock);
}

/* Watches a prefetched item due at `due`: judged when as much time again
 * has passed after it as it was fetched ahead, and one round more. */
static void watch(struct placer *pl, const struct victim *c, int64_t now,
		  int64_t due, int seq)
{
	struct watch *nw;

	pthread_mutex_lock(&pl->lock);
	if (pl->nwatch < WATCH_MAX &&
	    (nw = grow_array(pl->watch, pl->nwatch, &pl->capwatch,
			     sizeof(*nw))))
		pl->watch = nw;
	if (pl->nwatch < pl->capwatch)
		pl->watch[pl->nwatch++] = (struct watch){
			c->ino, c->off, now,
			due + (due > now ? due - now : 0) +
				(int64_t)(pl->p.prefetch * 1e9), seq };
	pthread_mutex_unlock(&pl->lock);
}

int placer_prefetch(struct placer *pl)
{
	struct score_tier tiers[CFG_MAX_TIERS];
	struct round r = { .pl = pl, .tiers = tiers };
	struct vheap old;
	double used;
	size_t k;
	int rc, moved = 0, trusted;

	if (!pl->p.pred || !pl->p.cache)
		return 0;
	rc = pl->h.tiers(pl->h.arg, tiers);
	if (rc < 2)
		return rc < 0 ? rc : 0;
	r.ntiers = rc;
	r.now = clock_of(pl);
	r.until = r.now + (int64_t)(pl->p.prefetch * 1e9);
	rc = pl->h.files(pl->h.arg, round_collect, &r);
	if (rc < 0) {
		free(r.heap.v);
		free(r.cand);
		return rc;
	}
	pthread_mutex_lock(&pl->lock);
	old = pl->heap;
	pl->heap = r.heap;
	if (r.ngaps)
		pl->reuse = r.gaps / (double)r.ngaps;
	pthread_mutex_unlock(&pl->lock);
	free(old.v);
	if (r.ncand)   /* r.cand is NULL when there are none */
		qsort(r.cand, r.ncand, sizeof(*r.cand), sooner_first);
	{
		uint64_t add[CFG_MAX_TIERS] = { 0 };

		pending_bytes(pl, add);
		used = (double)(tiers[0].used + add[0]);
	}
	judge(pl, r.now);
	/* While fewer than half the prefetched items are read, one round in
	 * PROBE prefetches, to see if that changed. */
	pthread_mutex_lock(&pl->lock);
	trusted = predictor_trusted(pl->p.pred) &&
		  (pl->verdict[0].precision >= 0.5 ||
		   pl->rounds % PROBE == 0);
	pl->rounds++;
	pthread_mutex_unlock(&pl->lock);
	for (k = 0; k < r.ncand && trusted; k++) {
		struct victim *c = &r.cand[k];

		if (pl->h.busy(pl->h.arg, c->ino, 0, UINT64_MAX))
			continue;
		if (!pending_room(pl))
			break;
		if (!make_room(pl, tiers, r.ntiers, &used, c->bytes,
			       (double)c->due, r.now))
			break;  /* the rest are due later still */
		if (pl->h.migrate(pl->h.arg, c->ino, c->off, c->len, 0,
				  1000.0, 0) < 0)
			continue;
		pending_add(pl, c->ino, c->off, 0, c->bytes);
		used += (double)c->bytes;
		moved++;
		c->key = r.now;        /* as if read now, as read ahead */
		remember(pl, c);
		watch(pl, c, r.now, c->due, 0);
	}
	pthread_mutex_lock(&pl->lock);
	pl->prefetched += (uint64_t)moved;
	pthread_mutex_unlock(&pl->lock);
	free(r.cand);
	return moved;
}

static void add_seconds(struct timespec *t, double secs)
{
	t->tv_sec += (time_t)secs;
	t->tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}

static int before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* A pass every `interval` seconds; with a predictor, its ticks every
 * `tick` seconds in between, so that a forecast is scored about when its
 * horizon ends. */
static void *placer_main(void *arg)
{
	struct placer *pl = arg;
	struct timespec pass_at, until, fetch_at;
	double tick = pl->p.tick > 0 ? pl->p.tick : 1.0;

	clock_gettime(CLOCK_MONOTONIC, &pass_at);
	fetch_at = pass_at;
	add_seconds(&pass_at, pl->p.interval);
	pthread_mutex_lock(&pl->lock);
	while (!pl->stop) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		if (pl->p.pred)
			add_seconds(&until, tick);
		if (!pl->p.pred || before(&pass_at, &until))
			until = pass_at;
		while (!pl->stop &&
		       pthread_cond_timedwait(&pl->cond, &pl->lock, &until) != ETIMEDOUT)
			;
		if (pl->stop)
			break;
		pthread_mutex_unlock(&pl->lock);
		placer_tick(pl);
		clock_gettime(CLOCK_MONOTONIC, &until);
		if (pl->p.pred && pl->p.cache && !before(&until, &fetch_at)) {
			if (placer_prefetch(pl) < 0)
				log_warn("placer: a prefetch round failed");
			fetch_at = until;
			add_seconds(&fetch_at, pl->p.prefetch);
		}
		if (!before(&until, &pass_at)) {
			if (placer_pass(pl, NULL) < 0)
				log_warn("placer: a placement pass failed");
			clock_gettime(CLOCK_MONOTONIC, &pass_at);
			add_seconds(&pass_at, pl->p.interval);
		}
		pthread_mutex_lock(&pl->lock);
	}
	pthread_mutex_unlock(&pl->lock);
	return NULL;
}

int placer_open(const struct placer_params *p, const struct placer_host *h,
		struct placer **out)
{
	struct placer *pl = calloc(1, sizeof(*pl));
	pthread_condattr_t ca;
	int rc;

	if (!pl)
		return -ENOMEM;
	pl->p = *p;
	pl->h = *h;
	pl->verdict[0].precision = 1.0;
	pl->verdict[1].precision = 1.0;
	if (p->pred)
		pl->reuse = predictor_params(p->pred)->predict.horizon[1];
	pthread_mutex_init(&pl->pass_lock, NULL);
	pthread_mutex_init(&pl->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pl->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (p->interval > 0) {
		rc = pthread_create(&pl->thread, NULL, placer_main, pl);
		if (rc) {
			placer_close(pl);
			return -rc;
		}
		pl->has_thread = true;
	}
	*out = pl;
	return 0;
}

void placer_close(struct placer *pl)
{
	if (!pl)
		return;
	pthread_mutex_lock(&pl->lock);
	pl->stop = true;
	pthread_cond_broadcast(&pl->cond);
	pthread_mutex_unlock(&pl->lock);
	if (pl->has_thread)
		pthread_join(pl->thread, NULL);
	pthread_cond_destroy(&pl->cond);
	pthread_mutex_destroy(&pl->lock);
	pthread_mutex_destroy(&pl->pass_lock);
	free(pl->heap.v);
	free(pl->watch);
	free(pl);
}
