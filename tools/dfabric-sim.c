/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dfabric-sim: replays an access trace through the daemon's own access
 * statistics (tiering/stats.c) and placer (tiering/placer.c, which scores
 * and plans with tiering/score.c) with a simulated clock and two
 * simulated tiers, fast and local, slow and S3-like with prices; beside
 * it LRU and Belady's MIN on the same fast-tier capacity. No FUSE, no
 * I/O but the trace.
 *
 * The trace is read once into memory: each request becomes one access
 * per extent it touches (block traces: the offset divided by the extent
 * size, per volume; object traces: the object is the extent). Hit ratios
 * are per such access. Belady needs the next use of every access, found
 * in one backward pass; its cache is a heap keyed by next use. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/config.h"
#include "predict/trace.h"
#include "common/log.h"
#include "predict/series.h"
#include "tiering/placer.h"
#include "tiering/predictor.h"
#include "tiering/score.h"
#include "tiering/stats.h"

#define NEVER    UINT32_MAX
#define NONE     UINT32_MAX
#define MONTH_S  (30.0 * 86400.0)
#define GIB      1073741824.0
#define MAX_SIZES 16
#define NPOL     4                     /* dfabric, predictive, LRU, Belady */

static const char usage[] =
"Usage: dfabric-sim [OPTIONS] TRACE\n"
"Replays an access trace through dfabric's access statistics, placement\n"
"score and planner with a simulated clock and two simulated tiers (fast\n"
"local, slow S3-like), without forecasts (dfabric) and with them\n"
"(predict), beside LRU and Belady's optimal (MIN) on the same fast-tier\n"
"capacity.\n"
"\n"
"  -f, --format FMT        cloudphysics, lirs, arc, adaptsize, snia-storage,\n"
"                          snia-photos, msr or systor (default: guessed from\n"
"                          the file name)\n"
"  -e, --extent SIZE       bytes of a block trace mapped to one extent\n"
"                          (default 4M)\n"
"  -s, --fast LIST         fast-tier sizes as fractions of the working set\n"
"                          (default 1%,10%,25%)\n"
"  -i, --interval SECS     simulated seconds between placement passes\n"
"                          (default 600)\n"
"  -r, --every N           also a placement pass every N accesses (a request\n"
"                          counts once per extent it touches; default 0: by\n"
"                          time only)\n"
"  -t, --step SECS         simulated seconds per request when the trace has\n"
"                          no time (default 0.001)\n"
"  -l, --half-life SECS    half-life of the access frequency (default 86400)\n"
"  -p, --promote-freq F    promote on access at this frequency (default 3)\n"
"  -H, --hot-freq F        frequency at which data counts as half hot\n"
"                          (default 4)\n"
"  -w, --watermarks H,L    high and low watermark of the fast tier (default\n"
"                          0.9,0.8)\n"
"  -c, --config FILE       prices and watermarks of the first (fast) and last\n"
"                          (slow) tier of a dfabric.conf\n"
"  -m, --make-room         a promotion on read that does not fit below the\n"
"                          high watermark demotes colder extents at once\n"
"                          (the daemon waits for the next pass)\n"
"  -b, --bin SECS          fine bin of the access histories the forecasts\n"
"                          read (default: interval / 10)\n"
"  -z, --horizons S,L      the forecasts' horizons in seconds (default:\n"
"                          interval / 2, 2 x interval)\n"
"  -P, --no-predict        leave out the predictive policy\n"
"  -C, --cache             run the predictive policy in cache mode ([predict]\n"
"                          cache = yes): every slow read or write may\n"
"                          promote, making room by last access (LRU), a\n"
"                          prefetch round every bin, and read-ahead of\n"
"                          sequential readers (the 8 extents after each\n"
"                          extent of a block trace exist)\n"
"  -n, --limit N           read at most N requests\n"
"  -j, --json              print JSON instead of a table\n"
"  -h, --help              print this help\n";

struct opts {
	const char *trace;
	int fmt;
	uint64_t extent;
	double fast[MAX_SIZES];
	int nfast;
	double interval;
	uint64_t every;
	double step;
	uint64_t limit;
	int json;
	int make_room;                 /* --make-room */
	int no_predict;                /* --no-predict */
	int cache;                     /* --cache */
	double bin;                    /* --bin, 0: interval / 10 */
	double horizon[2];             /* --horizons, 0: from the interval */
	struct score_params sp;
	struct score_tier tiers[2];
};

/* The trace in memory: accesses (one per request and extent) and the
 * extents, numbered in order of first access. */
struct sim {
	size_t nacc, capacc;
	uint32_t *item;                /* by access: extent */
	uint32_t *bytes;               /* by access: bytes of it touched */
	uint8_t *write;                /* by access: 1 write */
	int64_t *time;                 /* by access: simulated unix ns */
	uint32_t *next;                /* by access: next access of the extent */
	size_t nitems, capitems;
	size_t nreal;                  /* extents of the trace: 0..nreal; the
					* rest follow them (add_following) */
	uint64_t *size;                /* by extent: bytes */
	uint64_t *kvol, *kkey;         /* by extent: its key */
	uint32_t *slots;               /* hash table of extent numbers */
	size_t nslots;
	uint64_t requests, skipped, total_bytes, working_set;
	int has_time;
	double duration;               /* simulated seconds */
};

struct result {
	const char *policy;
	uint64_t hits, hit_bytes, promoted, demoted, promotions, demotions;
	uint64_t useful;               /* bytes promoted that were then read
					* before leaving the fast tier */
	uint64_t ahead, early;         /* moves on forecasts (predictive) */
	uint64_t scored;               /* forecasts scored (predictive) */
	double precision;              /* of proactive promotions (scored) */
	int cache;                     /* run in cache mode: the counters
					* below are set */
	uint64_t judged, read;         /* cache mode: prefetched items judged
					* (read by their time or not), read */
	uint64_t seq_fetched, seq_judged, seq_read; /* cache mode: read ahead
					* of sequential readers, judged, read */
	uint64_t slow_reads, slow_read_bytes, slow_writes, passes;
	double cost;                   /* projected per month */
	double seconds;                /* wall time of the replay */
};

/* ---- helpers ---- */

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q) {
		fprintf(stderr, "dfabric-sim: out of memory\n");
		exit(1);
	}
	return q;
}

static uint64_t mix(uint64_t a, uint64_t b)
{
	uint64_t h = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x7f4a7c159e3779b9ULL);

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return h;
}

static void rehash(struct sim *s)
{
	size_t n = s->nslots ? s->nslots * 2 : 1024;

	free(s->slots);
	s->slots = xrealloc(NULL, n * sizeof(*s->slots));
	memset(s->slots, 0xff, n * sizeof(*s->slots));
	s->nslots = n;
	for (size_t i = 0; i < s->nitems; i++) {
		size_t h = mix(s->kvol[i], s->kkey[i]) & (n - 1);

		while (s->slots[h] != NONE)
			h = (h + 1) & (n - 1);
		s->slots[h] = (uint32_t)i;
	}
}

/* The slot of (vol, key) in the hash table (s->nslots > 0): the one
 * holding its extent, or the empty one it would go in. */
static size_t slot_of(const struct sim *s, uint64_t vol, uint64_t key)
{
	size_t h = mix(vol, key) & (s->nslots - 1);
	uint32_t i;

	while ((i = s->slots[h]) != NONE &&
	       (s->kvol[i] != vol || s->kkey[i] != key))
		h = (h + 1) & (s->nslots - 1);
	return h;
}

/* The extent of (vol, key), NONE if there is none. */
static uint32_t find_extent(const struct sim *s, uint64_t vol, uint64_t key)
{
	return s->nslots ? s->slots[slot_of(s, vol, key)] : NONE;
}

/* The extent of (vol, key), made on first sight. */
static uint32_t extent_of(struct sim *s, uint64_t vol, uint64_t key,
			  uint64_t size)
{
	size_t h;
	uint32_t i;

	if (2 * (s->nitems + 1) > s->nslots)
		rehash(s);
	h = slot_of(s, vol, key);
	if ((i = s->slots[h]) != NONE) {
		if (size > s->size[i])
			s->size[i] = size;
		return i;
	}
	if (s->nitems == s->capitems) {
		s->capitems = s->capitems ? s->capitems * 2 : 1024;
		s->size = xrealloc(s->size, s->capitems * sizeof(*s->size));
		s->kvol = xrealloc(s->kvol, s->capitems * sizeof(*s->kvol));
		s->kkey = xrealloc(s->kkey, s->capitems * sizeof(*s->kkey));
	}
	i = (uint32_t)s->nitems++;
	s->kvol[i] = vol;
	s->kkey[i] = key;
	s->size[i] = size;
	s->slots[h] = i;
	return i;
}

static void add_access(struct sim *s, uint32_t item, uint64_t bytes,
		       int write, int64_t t)
{
	if (s->nacc == s->capacc) {
		s->capacc = s->capacc ? s->capacc * 2 : 65536;
		s->item = xrealloc(s->item, s->capacc * sizeof(*s->item));
		s->bytes = xrealloc(s->bytes, s->capacc * sizeof(*s->bytes));
		s->write = xrealloc(s->write, s->capacc * sizeof(*s->write));
		s->time = xrealloc(s->time, s->capacc * sizeof(*s->time));
	}
	s->item[s->nacc] = item;
	s->bytes[s->nacc] = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
	s->write[s->nacc] = (uint8_t)write;
	s->time[s->nacc] = t;
	s->nacc++;
	s->total_bytes += bytes;
}

/* Requests of a trace at the same time (most of the SNIA traces count
 * whole seconds) are this far apart, in their order in the trace, as
 * the daemon's clock would tell them apart. */
#define TIE_NS 1000

/* Reads the whole trace. The simulated clock is the trace's time made
 * increasing (a few traces have requests slightly out of order, and
 * ties are TIE_NS apart), or the request index times the step. */
static int load(struct sim *s, const struct opts *o)
{
	struct trace *t;
	struct trace_req r;
	char err[1024];
	int64_t clock = 0, t0 = -1, tlast = 0;
	int ret;

	ret = trace_open(o->trace, o->fmt, &t, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "dfabric-sim: %s\n", err);
		return ret;
	}
	while ((!o->limit || s->requests < o->limit) &&
	       (ret = trace_next(t, &r, err, sizeof(err))) == 1) {
		int64_t tm;

		if (s->requests == 0)
			s->has_time = r.time >= 0;
		if (s->has_time && r.time >= 0) {
			if (t0 < 0)
				t0 = r.time;
			tm = r.time > clock || s->requests == 0 ? r.time :
			     clock + TIE_NS;
		} else {
			tm = (int64_t)((double)s->requests * o->step * 1e9);
		}
		clock = tm;
		tlast = tm;
		s->requests++;
		if (r.is_object) {
			uint32_t it = extent_of(s, ~0ULL, r.object, r.len);

			add_access(s, it, r.len, r.write, tm);
			continue;
		}
		for (uint64_t off = r.offset; off < r.offset + r.len;) {
			uint64_t e = off / o->extent;
			uint64_t end = (e + 1) * o->extent;
			uint64_t n = (end < r.offset + r.len ? end :
				      r.offset + r.len) - off;
			uint32_t it = extent_of(s, r.volume, e, o->extent);

			add_access(s, it, n, r.write, tm);
			off += n;
		}
	}
	if (ret < 0) {
		fprintf(stderr, "dfabric-sim: %s\n", err);
		trace_close(t);
		return ret;
	}
	s->skipped = trace_skipped(t);
	trace_close(t);
	if (s->nacc == 0) {
		fprintf(stderr, "dfabric-sim: %s: no requests\n", o->trace);
		return -EINVAL;
	}
	if (s->has_time)
		s->duration = (double)(tlast - (t0 < 0 ? 0 : t0)) / 1e9;
	else
		s->duration = (double)s->requests * o->step;
	if (s->duration < 1.0)
		s->duration = 1.0;
	for (size_t i = 0; i < s->nitems; i++)
		s->working_set += s->size[i];
	s->nreal = s->nitems;
	return 0;
}

/* Cache mode reads ahead of sequential readers (placer.c read_ahead):
 * on a block trace, the PLACER_READ_AHEAD extents after each extent of
 * a volume exist, read or not, so that those read ahead and never read
 * take room as they would on a disk. They are not part of the working
 * set and never accessed. */
static void add_following(struct sim *s, const struct opts *o)
{
	for (size_t i = 0; i < s->nreal; i++) {
		if (s->kvol[i] == ~0ULL)
			continue;      /* an object: no neighbours */
		for (uint64_t j = 1; j <= PLACER_READ_AHEAD; j++)
			extent_of(s, s->kvol[i], s->kkey[i] + j, o->extent);
	}
}

/* Next use of every access, backwards with the last sighting per extent. */
static void next_uses(struct sim *s)
{
	uint32_t *last = xrealloc(NULL, s->nitems * sizeof(*last));

	s->next = xrealloc(NULL, s->nacc * sizeof(*s->next));
	memset(last, 0xff, s->nitems * sizeof(*last));
	for (size_t a = s->nacc; a-- > 0;) {
		s->next[a] = last[s->item[a]];
		last[s->item[a]] = (uint32_t)a;
	}
	free(last);
}

/* ---- an indexed max-heap of extents by a key ---- */

struct heap {
	uint32_t *h;                   /* extents */
	uint32_t *pos;                 /* by extent: index in h, NONE out */
	double *key;                   /* by extent */
	size_t n;
};

static void heap_init(struct heap *hp, size_t nitems)
{
	hp->h = xrealloc(NULL, nitems * sizeof(*hp->h));
	hp->pos = xrealloc(NULL, nitems * sizeof(*hp->pos));
	hp->key = xrealloc(NULL, nitems * sizeof(*hp->key));
	memset(hp->pos, 0xff, nitems * sizeof(*hp->pos));
	hp->n = 0;
}

static void heap_free(struct heap *hp)
{
	free(hp->h);
	free(hp->pos);
	free(hp->key);
}

static void heap_swap(struct heap *hp, size_t a, size_t b)
{
	uint32_t x = hp->h[a];

	hp->h[a] = hp->h[b];
	hp->h[b] = x;
	hp->pos[hp->h[a]] = (uint32_t)a;
	hp->pos[hp->h[b]] = (uint32_t)b;
}

static void heap_fix(struct heap *hp, size_t i)
{
	while (i > 0 && hp->key[hp->h[(i - 1) / 2]] < hp->key[hp->h[i]]) {
		heap_swap(hp, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < hp->n && hp->key[hp->h[l]] > hp->key[hp->h[m]])
			m = l;
		if (r < hp->n && hp->key[hp->h[r]] > hp->key[hp->h[m]])
			m = r;
		if (m == i)
			break;
		heap_swap(hp, i, m);
		i = m;
	}
}

static void heap_set(struct heap *hp, uint32_t it, double key)
{
	hp->key[it] = key;
	if (hp->pos[it] == NONE) {
		hp->h[hp->n] = it;
		hp->pos[it] = (uint32_t)hp->n++;
	}
	heap_fix(hp, hp->pos[it]);
}

static void heap_del(struct heap *hp, uint32_t it)
{
	size_t i = hp->pos[it];

	if (i == NONE)
		return;
	hp->n--;
	if (i != hp->n) {
		hp->h[i] = hp->h[hp->n];
		hp->pos[hp->h[i]] = (uint32_t)i;
	}
	hp->pos[it] = NONE;
	if (i < hp->n)
		heap_fix(hp, i);
}

/* ---- the fast tier, shared by the policies ---- */

struct fast {
	uint64_t cap, used;
	uint8_t *in;                   /* by extent: on the fast tier */
	uint8_t *fresh;                /* by extent: promoted, not read since */
	struct result *res;
	const struct sim *s;
};

static void fast_in(struct fast *f, uint32_t it)
{
	f->in[it] = 1;
	f->fresh[it] = 1;
	f->used += f->s->size[it];
	f->res->promoted += f->s->size[it];
	f->res->promotions++;
}

static void fast_out(struct fast *f, uint32_t it)
{
	f->in[it] = 0;
	f->fresh[it] = 0;
	f->used -= f->s->size[it];
	f->res->demoted += f->s->size[it];
	f->res->demotions++;
}

/* Counts access a served from wherever the extent is now. */
static void account(struct fast *f, size_t a)
{
	const struct sim *s = f->s;

	if (f->in[s->item[a]]) {
		f->res->hits++;
		f->res->hit_bytes += s->bytes[a];
		if (f->fresh[s->item[a]] && !s->write[a]) {
			f->res->useful += s->size[s->item[a]];
			f->fresh[s->item[a]] = 0;
		}
	} else if (s->write[a]) {
		f->res->slow_writes++;
	} else {
		f->res->slow_reads++;
		f->res->slow_read_bytes += s->bytes[a];
	}
}

/* ---- LRU: a list through the extents, most recent at the head ---- */

static void run_lru(const struct sim *s, struct fast *f)
{
	uint32_t *prev = xrealloc(NULL, s->nitems * sizeof(*prev));
	uint32_t *nxt = xrealloc(NULL, s->nitems * sizeof(*nxt));
	uint32_t head = NONE, tail = NONE;

	for (size_t a = 0; a < s->nacc; a++) {
		uint32_t it = s->item[a];

		account(f, a);
		if (f->in[it]) {
			if (head == it)
				continue;
			nxt[prev[it]] = nxt[it];
			if (nxt[it] != NONE)
				prev[nxt[it]] = prev[it];
			else
				tail = prev[it];
		} else {
			if (s->size[it] > f->cap)
				continue;
			while (f->used + s->size[it] > f->cap) {
				uint32_t v = tail;

				tail = prev[v];
				if (tail != NONE)
					nxt[tail] = NONE;
				else
					head = NONE;
				fast_out(f, v);
			}
			fast_in(f, it);
		}
		prev[it] = NONE;
		nxt[it] = head;
		if (head != NONE)
			prev[head] = it;
		head = it;
		if (tail == NONE)
			tail = it;
	}
	free(prev);
	free(nxt);
}

/* ---- Belady's MIN: evict the extent used again farthest ahead; an
 * extent not used again before all those cached is not admitted ---- */

static void run_belady(const struct sim *s, struct fast *f)
{
	struct heap hp;

	heap_init(&hp, s->nitems);
	for (size_t a = 0; a < s->nacc; a++) {
		uint32_t it = s->item[a];
		double nk = s->next[a] == NEVER ? INFINITY : (double)s->next[a];

		account(f, a);
		if (f->in[it]) {
			heap_set(&hp, it, nk);
			continue;
		}
		if (s->next[a] == NEVER || s->size[it] > f->cap)
			continue;
		while (f->used + s->size[it] > f->cap &&
		       hp.key[hp.h[0]] > nk) {
			uint32_t v = hp.h[0];

			heap_del(&hp, v);
			fast_out(f, v);
		}
		if (f->used + s->size[it] > f->cap)
			continue;
		fast_in(f, it);
		heap_set(&hp, it, nk);
	}
	heap_free(&hp);
}

/* ---- dfabric: the daemon's statistics and placer ----
 *
 * The placer (tiering/placer.c) runs as in the daemon, without its
 * thread: sim_host below is its struct placer_host over the simulated
 * tiers, every extent standing for one file (inode = extent + 1), and a
 * migration it queues happens at once. Between passes, a read from the
 * slow tier goes to placer_on_read as the profiler's would (and in cache
 * mode every write to placer_on_write). The host's
 * clock is the simulated one. The predictive policy is the same with a
 * predictor (tiering/predictor.c, training on the caller's thread) fed
 * the access histories the profiler would keep, and its scoring ticks
 * every bin. */

struct dfab {
	const struct opts *o;
	const struct sim *s;
	struct fast *f;
	struct access_stats *st;       /* by extent */
	struct access_series *se;      /* by extent, with a predictor */
	struct heap cold;              /* fast-tier extents, coldest on top */
	size_t seen;                   /* extents accessed so far: 0..seen */
	uint8_t *known;                /* by extent: read ahead before it was
					* accessed, or never accessed */
	uint32_t *extra;               /* those, in order */
	size_t nextra;
	int64_t now;                   /* the simulated clock, unix ns */
	struct placer *pl;
	struct predictor *pred;        /* NULL: the reactive policy */
	const struct series_params *sp;
};

/* A time-free key of an extent's heat: decayed frequencies of two
 * extents compare the same at any common time, so comparing
 * log2(freq) + stamp / half_life orders them without decaying all. */
static double heat_key(const struct dfab *d, uint32_t it)
{
	const struct access_stats *st = &d->st[it];

	if (st->freq <= 0.0)
		return -INFINITY;
	return log2(st->freq) + (double)st->stamp / 1e9 / d->o->sp.half_life;
}

static void to_fast(struct dfab *d, uint32_t it)
{
	fast_in(d->f, it);
	heap_set(&d->cold, it, -heat_key(d, it));
}

static void to_slow(struct dfab *d, uint32_t it)
{
	fast_out(d->f, it);
	heap_del(&d->cold, it);
}

static int host_tiers(void *arg, struct score_tier *t)
{
	struct dfab *d = arg;

	memcpy(t, d->o->tiers, 2 * sizeof(*t));
	t[0].capacity = d->f->cap;
	t[0].used = d->f->used;
	t[1].capacity = 0;
	t[1].used = d->s->working_set - d->f->used;
	return 2;
}

/* Whether the placer may know of extent ino - 1 yet: accessed, or read
 * ahead (known). */
static int visible(const struct dfab *d, uint64_t ino)
{
	return ino > 0 && (ino <= d->seen ||
			   (ino <= d->s->nitems && d->known[ino - 1]));
}

static void fill_file(struct dfab *d, uint32_t it, struct placer_file *pf)
{
	uint64_t ino = (uint64_t)it + 1;

	memset(pf, 0, sizeof(*pf));
	pf->ino = ino;
	pf->len = UINT64_MAX;
	pf->bytes = d->s->size[it];
	pf->tier_bytes[d->f->in[it] ? 0 : 1] = pf->bytes;
	pf->st = d->st[it];
	if (d->se)
		pf->se = d->se[it];
	else
		series_init(&pf->se);
	pf->pol.pin = -1;
}

static int host_file(void *arg, uint64_t ino, uint64_t off,
		     struct placer_file *pf)
{
	struct dfab *d = arg;

	if (!visible(d, ino))
		return -ENOENT;
	fill_file(d, (uint32_t)(ino - 1), pf);
	return 0;
}

/* The extent after ino - 1 in its volume (add_following made it). */
static int host_next(void *arg, uint64_t ino, uint64_t off,
		     struct placer_file *pf)
{
	struct dfab *d = arg;
	const struct sim *s = d->s;
	uint32_t it = (uint32_t)(ino - 1), nx;

	if (!visible(d, ino) || s->kvol[it] == ~0ULL)
		return -ENOENT;
	nx = find_extent(s, s->kvol[it], s->kkey[it] + 1);
	if (nx == NONE)
		return -ENOENT;
	fill_file(d, nx, pf);
	return 0;
}

static int host_files(void *arg, placer_file_cb cb, void *cbarg)
{
	struct dfab *d = arg;
	struct placer_file pf;
	int rc;

	for (size_t i = 0; i < d->seen + d->nextra; i++) {
		uint32_t it = i < d->seen ? (uint32_t)i : d->extra[i - d->seen];

		if (i >= d->seen && it < d->seen)
			continue;      /* accessed since: listed above */
		fill_file(d, it, &pf);
		rc = cb(cbarg, &pf);
		if (rc)
			return rc;
	}
	return 0;
}

static int host_busy(void *arg, uint64_t ino, uint64_t off, uint64_t len)
{
	return 0;
}

static int64_t host_migrate(void *arg, uint64_t ino, uint64_t off,
			    uint64_t len, int dst, double prio, int demand)
{
	struct dfab *d = arg;
	uint32_t it = (uint32_t)(ino - 1);

	if (ino == 0 || ino > d->s->nitems || dst < 0 || dst > 1)
		return -EINVAL;
	if (!visible(d, ino)) {
		d->known[it] = 1;      /* read ahead before it is accessed */
		d->extra[d->nextra++] = it;
	}
	if (dst == 0 && !d->f->in[it])
		to_fast(d, it);
	else if (dst == 1 && d->f->in[it])
		to_slow(d, it);
	return (int64_t)ino;
}

static int64_t host_now(void *arg)
{
	return ((struct dfab *)arg)->now;
}

/* The predictor's settings in the simulated time scale. */
static void sim_predictor_params(const struct opts *o, struct predictor_params *pp)
{
	predictor_defaults(pp);
	pp->predict.series.bin = o->bin > 0 ? o->bin : o->interval / 10.0;
	pp->predict.series.burst = pp->predict.series.bin / 100.0;
	pp->predict.horizon[0] = o->horizon[0] > 0 ? o->horizon[0] : o->interval / 2.0;
	pp->predict.horizon[1] = o->horizon[1] > 0 ? o->horizon[1] : 2.0 * o->interval;
	pp->predict.half_life = o->sp.half_life;
	pp->retrain = 10.0 * o->interval;
	pp->threads = 0;
}

/* --make-room (not what the daemon does): a promotion that does not fit
 * below the high watermark demotes extents colder than the promoted one,
 * coldest first, at once instead of at the next pass. */
static void make_room(struct dfab *d, uint32_t it)
{
	double k = heat_key(d, it);
	uint64_t need = d->s->size[it];

	if ((double)need > d->o->tiers[0].high_watermark * (double)d->f->cap)
		return;
	while ((double)(d->f->used + need) >
	       d->o->tiers[0].high_watermark * (double)d->f->cap) {
		uint32_t v;

		if (d->cold.n == 0)
			return;
		v = d->cold.h[0];
		if (-d->cold.key[v] >= k)
			return;
		to_slow(d, v);
	}
}

static void run_dfabric(const struct sim *s, const struct opts *o,
			struct fast *f, int predictive)
{
	struct dfab d = { .o = o, .s = s, .f = f };
	struct placer_params pp = { .score = o->sp };
	struct placer_host h = { &d, host_tiers, host_files, host_file,
				 host_busy, host_migrate, host_now, NULL,
				 host_next };
	struct predictor_params prp;
	int64_t next_pass = s->time[0] + (int64_t)(o->interval * 1e9);
	int64_t next_tick = 0, tick = 0;
	uint64_t since = 0, passes = 0, promotions = 0;
	double hl = o->sp.half_life;
	int rc;
	struct placer_report rep;

	d.known = xrealloc(NULL, s->nitems);
	memset(d.known, 0, s->nitems);
	d.extra = xrealloc(NULL, s->nitems * sizeof(*d.extra));
	d.st = xrealloc(NULL, s->nitems * sizeof(*d.st));
	memset(d.st, 0, s->nitems * sizeof(*d.st));
	if (predictive) {
		sim_predictor_params(o, &prp);
		if (predictor_open(&prp, &d.pred)) {
			fprintf(stderr, "dfabric-sim: cannot start the predictor\n");
			exit(1);
		}
		d.sp = &prp.predict.series;
		d.se = xrealloc(NULL, s->nitems * sizeof(*d.se));
		for (size_t i = 0; i < s->nitems; i++)
			series_init(&d.se[i]);
		pp.pred = d.pred;
		tick = (int64_t)(prp.predict.series.bin * 1e9);
		pp.cache = o->cache;
		pp.prefetch = prp.predict.series.bin;
		next_tick = s->time[0] + tick;
	}
	heap_init(&d.cold, s->nitems);
	if (placer_open(&pp, &h, &d.pl)) {
		fprintf(stderr, "dfabric-sim: cannot start the placer\n");
		exit(1);
	}
	for (size_t a = 0; a < s->nacc; a++) {
		uint32_t it = s->item[a];
		int64_t now = s->time[a];
		double freq;

		d.now = now;
		if (d.pred && now >= next_tick) {
			placer_tick(d.pl);
			rc = placer_prefetch(d.pl);
			f->res->ahead += rc > 0 ? (uint64_t)rc : 0;
			while (next_tick <= now)
				next_tick += tick;
		}
		if (now >= next_pass || (o->every && since >= o->every)) {
			placer_pass(d.pl, &rep);
			f->res->ahead += rep.ahead;
			f->res->early += rep.early;
			while (next_pass <= now)
				next_pass += (int64_t)(o->interval * 1e9);
			since = 0;
		}
		since++;
		if (it >= d.seen)
			d.seen = it + 1;
		account(f, a);
		stats_add(&d.st[it], s->write[a] ? STATS_WRITE : STATS_READ,
			  s->bytes[a], now, hl, 1.0);
		if (d.se)
			series_add(&d.se[it], d.sp, now, 1.0, s->write[a]);
		if (f->in[it]) {
			heap_set(&d.cold, it, -heat_key(&d, it));
			continue;
		}
		/* Writes land on the fastest tier with room, as the daemon's
		 * write path puts new data there and brings an extent back
		 * from the object store before a partial write into it. */
		freq = stats_freq(&d.st[it], now, hl);
		if (s->write[a]) {
			int fits = (double)(f->used + s->size[it]) <=
				   o->tiers[0].high_watermark * (double)f->cap;

			if (fits)
				to_fast(&d, it);
			/* In cache mode, as the profiler would: the placer
			 * notes what landed on the fast tier, or promotes. */
			if (d.pred && o->cache)
				placer_on_write(d.pl, (uint64_t)it + 1, 0,
						fits ? 0 : 1, freq);
			continue;
		}
		if (!(d.pred && o->cache) && freq < o->sp.promote_freq)
			continue;
		if (o->make_room)
			make_room(&d, it);
		placer_on_read(d.pl, (uint64_t)it + 1, 0, 1, freq);
	}
	placer_counters(d.pl, &passes, &promotions);
	f->res->passes = passes;
	if (d.pred && o->cache) {
		struct placer_fetches w;

		placer_fetches(d.pl, &w);
		f->res->cache = 1;
		f->res->judged = w.judged;
		f->res->read = w.read;
		f->res->seq_fetched = w.seq_fetched;
		f->res->seq_judged = w.seq_judged;
		f->res->seq_read = w.seq_read;
	}
	placer_close(d.pl);
	if (d.pred) {
		struct predict_accuracy acc;
		struct predictor_counters cnt;

		predictor_state(d.pred, &acc, NULL, &cnt);
		f->res->scored = cnt.scored;
		f->res->precision = accuracy_precision(&acc);
		predictor_close(d.pred);
	}
	heap_free(&d.cold);
	free(d.known);
	free(d.extra);
	free(d.st);
	free(d.se);
}

/* ---- cost and output ---- */

/* Per month: the fast tier's capacity and the slow tier's share of the
 * working set stored, plus the trace's slow-tier traffic (reads: GET and
 * egress; writes: PUT; promotions: GET and egress of the extent;
 * demotions: PUT) scaled from the simulated duration to a month. */
static double monthly(const struct opts *o, const struct sim *s,
		      const struct fast *f)
{
	const struct score_tier *ft = &o->tiers[0], *sl = &o->tiers[1];
	const struct result *r = f->res;
	double store = ft->cost_gb_month * (double)f->cap / GIB +
		       sl->cost_gb_month * (double)(s->working_set - f->used) / GIB;
	double gets = (double)(r->slow_reads + r->promotions);
	double puts = (double)(r->slow_writes + r->demotions);
	double egress = (double)(r->slow_read_bytes + r->promoted);
	double traffic = gets * sl->cost_per_1k_get / 1000.0 +
			 puts * sl->cost_per_1k_put / 1000.0 +
			 egress / GIB * sl->egress_gb;

	return store + traffic * MONTH_S / s->duration;
}

static void run_one(const struct opts *o, const struct sim *s, double frac,
		    int policy, struct result *r)
{
	struct fast f = { 0 };
	double t0 = mono_s();

	memset(r, 0, sizeof(*r));
	f.cap = (uint64_t)(frac * (double)s->working_set);
	f.in = xrealloc(NULL, s->nitems);
	memset(f.in, 0, s->nitems);
	f.fresh = xrealloc(NULL, s->nitems);
	memset(f.fresh, 0, s->nitems);
	f.res = r;
	f.s = s;
	if (policy == 0) {
		r->policy = "dfabric";
		run_dfabric(s, o, &f, 0);
	} else if (policy == 1) {
		r->policy = "predict";
		run_dfabric(s, o, &f, 1);
	} else if (policy == 2) {
		r->policy = "LRU";
		run_lru(s, &f);
	} else {
		r->policy = "Belady";
		run_belady(s, &f);
	}
	r->cost = monthly(o, s, &f);
	r->seconds = mono_s() - t0;
	free(f.in);
	free(f.fresh);
}

static const char *human(double b, char *buf, size_t len)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;

	while (b >= 1024.0 && i < 4) {
		b /= 1024.0;
		i++;
	}
	snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", b, u[i]);
	return buf;
}

static void mapping(const struct opts *o, const struct sim *s, int fmt,
		    char *buf, size_t len)
{
	char e[32];

	if (s->nitems && s->kvol[0] == ~0ULL)
		snprintf(buf, len, "%s: one object = one extent",
			 trace_fmt_name(fmt));
	else
		snprintf(buf, len, "%s: block ranges -> %s extents (extent = offset / size, per volume)",
			 trace_fmt_name(fmt), human((double)o->extent, e, sizeof(e)));
}

static void print_table(const struct opts *o, const struct sim *s, int fmt,
			double load_s, struct result (*res)[NPOL])
{
	char map[160], ws[32], mig[32];

	mapping(o, s, fmt, map, sizeof(map));
	printf("trace     %s\n", o->trace);
	printf("mapping   %s\n", map);
	printf("requests  %" PRIu64 " (%" PRIu64 " lines skipped), %zu accesses to %zu extents, working set %s\n",
	       s->requests, s->skipped, s->nacc, s->nreal,
	       human((double)s->working_set, ws, sizeof(ws)));
	printf("clock     %s, %.0f simulated s; half-life %.0f s, promote at %.1f, pass every %.0f s",
	       s->has_time ? "trace time" : "request index x step",
	       s->duration, o->sp.half_life, o->sp.promote_freq, o->interval);
	if (o->every)
		printf(" or %" PRIu64 " accesses", o->every);
	putchar('\n');
	printf("read      %.2f s\n\n", load_s);
	if (!o->no_predict)
		printf("predict   bins of %g s, horizons %g s and %g s%s\n",
		       o->bin, o->horizon[0], o->horizon[1],
		       o->cache ? "; cache mode, a prefetch round every bin" : "");
	printf("%-6s %-8s %8s %8s %8s %12s %8s %12s %8s\n", "fast", "policy",
	       "miss", "req-hit", "byte-hit", "migrated", "useful", "cost/month",
	       "time-s");
	for (int i = 0; i < o->nfast; i++) {
		for (int p = 0; p < NPOL; p++) {
			struct result *r = &res[i][p];
			char fs[16];

			if (!r->policy)
				continue;
			snprintf(fs, sizeof(fs), "%g%%", o->fast[i] * 100.0);
			printf("%-6s %-8s %8.4f %8.4f %8.4f %12s %8.3f %12.2f %8.2f\n",
			       p == 0 ? fs : "", r->policy,
			       1.0 - (double)r->hits / (double)s->nacc,
			       (double)r->hits / (double)s->nacc,
			       s->total_bytes ? (double)r->hit_bytes /
						(double)s->total_bytes : 0.0,
			       human((double)(r->promoted + r->demoted), mig,
				     sizeof(mig)),
			       r->promoted ? (double)r->useful /
					     (double)r->promoted : 0.0,
			       r->cost, r->seconds);
		}
	}
	printf("\nmiss: demand misses per access (a prefetched extent read from the fast\n"
	       "tier is a hit); useful: bytes promoted that were read before leaving it.\n");
	for (int i = 0; i < o->nfast && !o->no_predict; i++) {
		struct result *r = &res[i][1];

		printf("predict at %g%%: %" PRIu64 " promotions ahead of a forecast, %"
		       PRIu64 " demotions early; %" PRIu64 " forecasts scored, precision of proactive promotions %.3f\n",
		       o->fast[i] * 100.0, r->ahead, r->early, r->scored,
		       r->precision);
		if (r->cache)
			printf("  cache mode: %" PRIu64 " prefetched items judged, %" PRIu64 " of them read; "
			       "%" PRIu64 " read ahead of sequential readers, %" PRIu64 " judged, %" PRIu64 " of them read\n",
			       r->judged, r->read, r->seq_fetched,
			       r->seq_judged, r->seq_read);
	}
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_json(const struct opts *o, const struct sim *s, int fmt,
		       double load_s, struct result (*res)[NPOL])
{
	char map[160];

	mapping(o, s, fmt, map, sizeof(map));
	printf("{\"trace\":");
	json_str(o->trace);
	printf(",\"format\":\"%s\",\"mapping\":", trace_fmt_name(fmt));
	json_str(map);
	printf(",\"extent\":%" PRIu64 ",\"requests\":%" PRIu64
	       ",\"skipped\":%" PRIu64 ",\"accesses\":%zu,\"extents\":%zu"
	       ",\"working_set\":%" PRIu64 ",\"bytes\":%" PRIu64
	       ",\"trace_time\":%s,\"duration\":%.3f,\"half_life\":%g"
	       ",\"promote_freq\":%g,\"interval\":%g,\"read_seconds\":%.3f"
	       ",\"results\":[",
	       o->extent, s->requests, s->skipped, s->nacc, s->nreal,
	       s->working_set, s->total_bytes, s->has_time ? "true" : "false",
	       s->duration, o->sp.half_life, o->sp.promote_freq, o->interval,
	       load_s);
	for (int i = 0, first = 1; i < o->nfast; i++) {
		for (int p = 0; p < NPOL; p++) {
			struct result *r = &res[i][p];

			if (!r->policy)
				continue;
			printf("%s{\"fast\":%g,\"capacity\":%" PRIu64
			       ",\"policy\":\"%s\",\"hit_ratio\":%.6f"
			       ",\"byte_hit_ratio\":%.6f,\"migrated\":%" PRIu64
			       ",\"promotions\":%" PRIu64 ",\"demotions\":%" PRIu64
			       ",\"passes\":%" PRIu64 ",\"cost_month\":%.4f"
			       ",\"seconds\":%.3f,\"miss_ratio\":%.6f"
			       ",\"useful\":%" PRIu64 ",\"promoted\":%" PRIu64
			       ",\"ahead\":%" PRIu64 ",\"early\":%" PRIu64
			       ",\"scored\":%" PRIu64 ",\"precision\":%.6f"
			       ",\"judged\":%" PRIu64 ",\"read\":%" PRIu64
			       ",\"read_ahead\":%" PRIu64
			       ",\"read_ahead_judged\":%" PRIu64
			       ",\"read_ahead_read\":%" PRIu64 "}",
			       first ? "" : ",", o->fast[i],
			       (uint64_t)(o->fast[i] * (double)s->working_set),
			       r->policy, (double)r->hits / (double)s->nacc,
			       s->total_bytes ? (double)r->hit_bytes /
						(double)s->total_bytes : 0.0,
			       r->promoted + r->demoted, r->promotions,
			       r->demotions, r->passes, r->cost, r->seconds,
			       1.0 - (double)r->hits / (double)s->nacc,
			       r->useful, r->promoted, r->ahead, r->early,
			       r->scored, r->precision,
			       r->judged, r->read, r->seq_fetched,
			       r->seq_judged, r->seq_read);
			first = 0;
		}
	}
	printf("]}\n");
}

/* ---- options ---- */

static int parse_num(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return errno || end == s || *end || !isfinite(*v) || *v < 0 ? -EINVAL : 0;
}

static int parse_fast(struct opts *o, const char *arg)
{
	char buf[256], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", arg);
	o->nfast = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t len = strlen(tok);
		double v, scale = 1.0;

		if (o->nfast == MAX_SIZES)
			return -EINVAL;
		if (len && tok[len - 1] == '%') {
			tok[len - 1] = '\0';
			scale = 0.01;
		}
		if (parse_num(tok, &v) || v * scale <= 0.0 || v * scale > 1.0)
			return -EINVAL;
		o->fast[o->nfast++] = v * scale;
	}
	return o->nfast ? 0 : -EINVAL;
}

static void tier_from_cfg(struct score_tier *t, const struct cfg_tier *c)
{
	snprintf(t->name, sizeof(t->name), "%s", c->name);
	t->local = c->kind == CFG_TIER_LOCAL;
	t->cost_gb_month = c->cost_gb_month;
	t->cost_per_1k_get = c->cost_per_1k_get;
	t->cost_per_1k_put = c->cost_per_1k_put;
	t->egress_gb = c->egress_gb;
	t->high_watermark = c->high_watermark;
	t->low_watermark = c->low_watermark;
}

static int load_config(struct opts *o, const char *path)
{
	static struct cfg c;           /* large: not on the stack */
	char err[CFG_ERR_MAX];
	int ret = cfg_load(path, &c, err, sizeof(err));

	if (ret) {
		fprintf(stderr, "dfabric-sim: %s\n", err);
		return ret;
	}
	if (c.ntiers < 2) {
		fprintf(stderr, "dfabric-sim: %s: needs two tiers or more\n", path);
		return -EINVAL;
	}
	tier_from_cfg(&o->tiers[0], &c.tiers[0]);
	tier_from_cfg(&o->tiers[1], &c.tiers[c.ntiers - 1]);
	return 0;
}

/* Defaults: a local NVMe tier at an amortised 0.10 per GB-month and an
 * object store at S3 standard list prices. */
static void default_tiers(struct score_tier *t)
{
	memset(t, 0, 2 * sizeof(*t));
	snprintf(t[0].name, sizeof(t[0].name), "fast");
	t[0].local = 1;
	t[0].cost_gb_month = 0.10;
	t[0].high_watermark = 0.90;
	t[0].low_watermark = 0.80;
	snprintf(t[1].name, sizeof(t[1].name), "slow");
	t[1].cost_gb_month = 0.023;
	t[1].cost_per_1k_get = 0.0004;
	t[1].cost_per_1k_put = 0.005;
	t[1].egress_gb = 0.09;
	t[1].high_watermark = 1.0;
	t[1].low_watermark = 1.0;
	for (int i = 0; i < 2; i++) {
		t[i].healthy = 1;
		t[i].latency = -1.0;
	}
}

static int bad(const char *opt, const char *arg)
{
	fprintf(stderr, "dfabric-sim: bad value for %s: '%s'\n", opt, arg);
	return 2;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "extent", required_argument, NULL, 'e' },
		{ "fast", required_argument, NULL, 's' },
		{ "interval", required_argument, NULL, 'i' },
		{ "every", required_argument, NULL, 'r' },
		{ "step", required_argument, NULL, 't' },
		{ "half-life", required_argument, NULL, 'l' },
		{ "promote-freq", required_argument, NULL, 'p' },
		{ "hot-freq", required_argument, NULL, 'H' },
		{ "watermarks", required_argument, NULL, 'w' },
		{ "config", required_argument, NULL, 'c' },
		{ "limit", required_argument, NULL, 'n' },
		{ "make-room", no_argument, NULL, 'm' },
		{ "bin", required_argument, NULL, 'b' },
		{ "horizons", required_argument, NULL, 'z' },
		{ "no-predict", no_argument, NULL, 'P' },
		{ "cache", no_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfgpath = NULL, *wm = NULL;
	double v, h, l;
	uint64_t u;
	int c;

	memset(o, 0, sizeof(*o));
	score_defaults(&o->sp);
	default_tiers(o->tiers);
	o->extent = 4u << 20;
	o->interval = 600;
	o->step = 0.001;
	parse_fast(o, "1%,10%,25%");
	while ((c = getopt_long(argc, argv, "f:e:s:i:r:t:l:p:H:w:c:n:b:z:PCmjh", lo,
				NULL)) != -1) {
		switch (c) {
		case 'f':
			o->fmt = trace_parse_fmt(optarg);
			if (o->fmt <= 0)
				return bad("--format", optarg);
			break;
		case 'e':
			if (cfg_parse_size(optarg, &u) || u < 512 ||
			    (u & (u - 1)))
				return bad("--extent (a power of 2, >= 512)",
					   optarg);
			o->extent = u;
			break;
		case 's':
			if (parse_fast(o, optarg))
				return bad("--fast", optarg);
			break;
		case 'i':
			if (parse_num(optarg, &v) || v <= 0)
				return bad("--interval", optarg);
			o->interval = v;
			break;
		case 'r':
			if (parse_num(optarg, &v) || v != floor(v) || v > 1e18)
				return bad("--every", optarg);
			o->every = (uint64_t)v;
			break;
		case 't':
			if (parse_num(optarg, &v) || v <= 0)
				return bad("--step", optarg);
			o->step = v;
			break;
		case 'l':
			if (parse_num(optarg, &v) || v <= 0)
				return bad("--half-life", optarg);
			o->sp.half_life = v;
			break;
		case 'p':
			if (parse_num(optarg, &v))
				return bad("--promote-freq", optarg);
			o->sp.promote_freq = v;
			break;
		case 'H':
			if (parse_num(optarg, &v) || v <= 0)
				return bad("--hot-freq", optarg);
			o->sp.hot_freq = v;
			break;
		case 'w':
			wm = optarg;
			break;
		case 'c':
			cfgpath = optarg;
			break;
		case 'n':
			if (parse_num(optarg, &v) || v != floor(v) || v < 1 ||
			    v > 1e18)
				return bad("--limit", optarg);
			o->limit = (uint64_t)v;
			break;
		case 'm':
			o->make_room = 1;
			break;
		case 'b':
			if (parse_num(optarg, &v) || v <= 0)
				return bad("--bin", optarg);
			o->bin = v;
			break;
		case 'z': {
			char *end;

			h = strtod(optarg, &end);
			if (*end != ',' || parse_num(end + 1, &l) || !(h > 0) ||
			    l <= h)
				return bad("--horizons (S,L with 0 < S < L)", optarg);
			o->horizon[0] = h;
			o->horizon[1] = l;
			break;
		}
		case 'C':
			o->cache = 1;
			break;
		case 'P':
			o->no_predict = 1;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(usage, stderr);
		return 2;
	}
	o->trace = argv[optind];
	if (cfgpath && load_config(o, cfgpath))
		return 2;
	if (o->bin <= 0)
		o->bin = o->interval / 10.0;
	if (o->horizon[0] <= 0) {
		o->horizon[0] = o->interval / 2.0;
		o->horizon[1] = 2.0 * o->interval;
	}
	if (wm) {
		char *end;

		/* as the config takes them: fractions, low below high (the
		 * comparisons are false for a NaN: refused too) */
		h = strtod(wm, &end);
		if (end == wm || *end != ',' || parse_num(end + 1, &l) ||
		    !(h > 0 && h <= 1) || l <= 0 || !(l < h))
			return bad("--watermarks", wm);
		o->tiers[0].high_watermark = h;
		o->tiers[0].low_watermark = l;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct opts o;
	struct sim s = { 0 };
	struct result (*res)[NPOL];
	double t0;
	int ret, fmt;

	log_set_level(LOG_WARNING);    /* not a line per promotion */
	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret;
	fmt = o.fmt ? o.fmt : trace_guess_fmt(o.trace);
	t0 = mono_s();
	if (load(&s, &o))
		return 1;
	next_uses(&s);
	if (o.cache && !o.no_predict)
		add_following(&s, &o);
	t0 = mono_s() - t0;
	res = xrealloc(NULL, (size_t)o.nfast * sizeof(*res));
	memset(res, 0, (size_t)o.nfast * sizeof(*res));
	for (int i = 0; i < o.nfast; i++)
		for (int p = 0; p < NPOL; p++)
			if (p != 1 || !o.no_predict)
				run_one(&o, &s, o.fast[i], p, &res[i][p]);
	if (o.json)
		print_json(&o, &s, fmt, t0, res);
	else
		print_table(&o, &s, fmt, t0, res);
	free(res);
	free(s.item);
	free(s.bytes);
	free(s.write);
	free(s.time);
	free(s.next);
	free(s.size);
	free(s.kvol);
	free(s.kkey);
	free(s.slots);
	return 0;
}
