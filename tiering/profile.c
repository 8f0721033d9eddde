// SPDX-License-Identifier: GPL-2.0-or-later
/* The access profiler: a lock-free event ring, an aggregator thread and
 * the per-file and per-extent statistics it keeps (see profile.h). */
#include "tiering/profile.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "fs/meta.h"
#include "predict/series.h"

#define DEF_CAPACITY   65536
#define DEF_SAMPLE_K   8
#define DEF_FLUSH_EV   4096
#define DEF_FLUSH_MS   1000
#define IDLE_NS        10000000L       /* aggregator sleep when idle: 10 ms */
#define BATCH_EVENTS   1024            /* folded per lock hold */
#define NS             1000000000LL
#define DEAD_MIN       64              /* slots of the forgotten set, at least */
#define SEEN_BITS      4096            /* bloom filter of a scan window's files */
#define SCAN_SLOTS     64              /* processes watched for scans */
#define DEF_SCAN_S     10              /* seconds of a scan window */
#define DEF_SCAN_MIN   256             /* files a window must reach to be one */
#define DEF_SIGMA      3.0
#define CO_ACCESS_NS   (10 * NS)       /* read this soon after: co-accessed */

/* One ring slot. seq == position: free for the producer of that position;
 * position + 1: holds its event for the consumer (Vyukov's queue). */
struct cell {
	_Atomic uint64_t seq;
	float weight;                  /* accesses the event stands for */
	struct profile_event ev;
};

struct pext {
	uint64_t off;                  /* extent offset */
	int dirty;                     /* changed since the last flush */
	int64_t promoted;              /* unix ns of the last promote callback */
	struct access_stats st;
	struct access_series se;
};

struct pfile {
	uint64_t ino;
	struct pfile *hnext;           /* hash chain */
	struct pfile *dnext;           /* dirty list, when dirty */
	int dirty;                     /* on the dirty list */
	int file_dirty;                /* the file's own record changed */
	struct access_stats st;        /* the whole file */
	struct access_series se;
	uint64_t partner;              /* the file a process read just before
					* reading this one (co-access) */
	struct pext *ext;              /* sorted by offset */
	size_t next, cap;
};

struct delkey {
	uint64_t ino, off;
};

struct promo {
	uint64_t ino, off;
	int tier;
	double freq;
	int write;
	int64_t time;                  /* of the access, as e->promoted */
};

/* A process watched for scans: how many files it touched in its
 * current window. */
struct pscan {
	int32_t pid;
	uint32_t uid;
	int64_t window;                /* window number, time / scan window */
	uint32_t files;                /* files read in it, each once */
	uint8_t seen[SEEN_BITS / 8];   /* ...which (bloom filter, 2 bits each) */
	uint64_t last_ino;             /* the last one */
	int64_t last_time;             /* when it read it last */
	uint64_t prev_ino;             /* the file it read before that one */
	int64_t prev_time;             /*   last read then */
	int scanning;                  /* in this window: its reads are not folded */
	int warned;                    /* its scan was announced (until a window
					* closes below the scan level) */
};

struct profile {
	/* ring: producers touch only these and the counters */
	struct cell *ring;
	uint64_t mask;
	_Atomic uint64_t enq;          /* next position to claim */
	_Atomic uint64_t deq;          /* next position to consume */
	_Atomic uint64_t sampled, dropped, sample_ctr; /* enq counts the events */
	_Atomic int warned;            /* the 80% warning is out */
	unsigned sample_k;

	double half_life;
	struct series_params sp;
	unsigned flush_events, flush_ms;
	int64_t scan_ns;               /* scan window */
	unsigned scan_min;
	double sigma;
	struct meta *meta;

	pthread_mutex_t drain_lock;    /* the one consumer; flushes */
	pthread_mutex_t lock;          /* everything below */
	struct pfile **tab;
	size_t nbuckets, nfiles, nexts;
	struct pfile *dirty;           /* dirty list */
	uint64_t *dead;                /* forgotten inodes whose events may be
					* queued still (open addressing, 0
					* empty); cleared once the ring is
					* consumed past dead_until */
	size_t ndead, dead_cap;
	uint64_t dead_until;           /* enq at the latest forget */
	struct delkey *dels;           /* records to delete at the next flush */
	size_t ndels, dcap;
	uint64_t folded, unflushed, flushes, corrupt, promotions;
	uint64_t folding;              /* taken from the ring, their promotions
					 * not asked for yet (drain_some) */
	struct pscan scan[SCAN_SLOTS];
	double win_mean, win_var;      /* files per process window (EWMA) */
	uint64_t windows;              /* process windows seen */
	uint64_t scans, scan_events;
	profile_promote_cb promote_fn;
	void *promote_arg;
	double promote_thr;
	int promote_writes;            /* writes call promote_fn too */

	pthread_t thread;
	int has_thread;
	_Atomic int stop;
};

/* ---------------------------------------------------------------- */
/* the ring */

static int ring_push(struct profile *p, const struct profile_event *ev,
		     float weight)
{
	uint64_t pos = atomic_load_explicit(&p->enq, memory_order_relaxed);
	struct cell *c;

	for (;;) {
		int64_t diff;

		c = &p->ring[pos & p->mask];
		diff = (int64_t)(atomic_load_explicit(&c->seq, memory_order_acquire) - pos);
		if (diff == 0) {
			if (atomic_compare_exchange_weak_explicit(&p->enq, &pos, pos + 1,
					memory_order_relaxed, memory_order_relaxed))
				break;
		} else if (diff < 0) {
			return -ENOSPC;  /* the consumer has not freed this slot */
		} else {
			pos = atomic_load_explicit(&p->enq, memory_order_relaxed);
		}
	}
	c->ev = *ev;
	c->weight = weight;
	atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
	return 0;
}

/* Consumer side; caller holds drain_lock. */
static int ring_pop(struct profile *p, struct profile_event *ev, float *weight)
{
	uint64_t pos = atomic_load_explicit(&p->deq, memory_order_relaxed);
	struct cell *c = &p->ring[pos & p->mask];

	if (atomic_load_explicit(&c->seq, memory_order_acquire) != pos + 1)
		return 0;
	*ev = c->ev;
	*weight = c->weight;
	atomic_store_explicit(&c->seq, pos + p->mask + 1, memory_order_release);
	atomic_store_explicit(&p->deq, pos + 1, memory_order_release);
	return 1;
}

static uint64_t ring_used(struct profile *p)
{
	uint64_t d = atomic_load_explicit(&p->deq, memory_order_relaxed);
	uint64_t e = atomic_load_explicit(&p->enq, memory_order_relaxed);

	return e > d ? e - d : 0;
}

void profile_emit(struct profile *p, const struct profile_event *ev)
{
	uint64_t cap;
	float weight = 1;

	if (!p)
		return;
	cap = p->mask + 1;
	if (ring_used(p) * 10 >= cap * 8) {
		/* Overloaded: keep 1 in k, standing for k. */
		if (!atomic_exchange(&p->warned, 1))
			log_warn("access profiler: event queue 80%% full (%" PRIu64
				 " slots); sampling 1 in %u events",
				 cap, p->sample_k);
		if (atomic_fetch_add_explicit(&p->sample_ctr, 1,
					      memory_order_relaxed) % p->sample_k) {
			atomic_fetch_add_explicit(&p->sampled, 1, memory_order_relaxed);
			return;
		}
		weight = (float)p->sample_k;
	}
	if (ring_push(p, ev, weight) < 0)
		atomic_fetch_add_explicit(&p->dropped, 1, memory_order_relaxed);
}

/* ---------------------------------------------------------------- */
/* the statistics map; p->lock held */

static size_t hash_ino(uint64_t ino, size_t n)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 20) & (n - 1);
}

static struct pfile *file_find(struct profile *p, uint64_t ino)
{
	struct pfile *f = p->tab[hash_ino(ino, p->nbuckets)];

	while (f && f->ino != ino)
		f = f->hnext;
	return f;
}

static void tab_grow(struct profile *p)
{
	size_t n = p->nbuckets * 2;
	struct pfile **t = calloc(n, sizeof(*t));

	if (!t)
		return;  /* longer chains, still correct */
	for (size_t i = 0; i < p->nbuckets; i++) {
		struct pfile *f = p->tab[i], *next;

		for (; f; f = next) {
			size_t h = hash_ino(f->ino, n);

			next = f->hnext;
			f->hnext = t[h];
			t[h] = f;
		}
	}
	free(p->tab);
	p->tab = t;
	p->nbuckets = n;
}

static struct pfile *file_get(struct profile *p, uint64_t ino)
{
	struct pfile *f = file_find(p, ino);
	size_t h;

	if (f)
		return f;
	if (p->nfiles >= p->nbuckets * 2)
		tab_grow(p);
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->ino = ino;
	series_init(&f->se);
	h = hash_ino(ino, p->nbuckets);
	f->hnext = p->tab[h];
	p->tab[h] = f;
	p->nfiles++;
	return f;
}

/* Index of the first extent with offset >= off. */
static size_t ext_lower(const struct pfile *f, uint64_t off)
{
	size_t lo = 0, hi = f->next;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->ext[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct pext *ext_find(const struct pfile *f, uint64_t off)
{
	size_t k = ext_lower(f, off);

	return k < f->next && f->ext[k].off == off ? &f->ext[k] : NULL;
}

static struct pext *ext_get(struct profile *p, struct pfile *f, uint64_t off)
{
	size_t k = ext_lower(f, off);

	if (k < f->next && f->ext[k].off == off)
		return &f->ext[k];
	if (f->next == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 4;
		struct pext *v = realloc(f->ext, cap * sizeof(*v));

		if (!v)
			return NULL;
		f->ext = v;
		f->cap = cap;
	}
	memmove(&f->ext[k + 1], &f->ext[k], (f->next - k) * sizeof(*f->ext));
	memset(&f->ext[k], 0, sizeof(f->ext[k]));
	series_init(&f->ext[k].se);
	f->ext[k].off = off;
	f->next++;
	p->nexts++;
	return &f->ext[k];
}

static void mark_dirty(struct profile *p, struct pfile *f)
{
	if (f->dirty)
		return;
	f->dirty = 1;
	f->dnext = p->dirty;
	p->dirty = f;
}

/* Adds (ino, off) to the n keys of *v (capacity *cap); without memory it
 * is left out. */
static void key_push(struct delkey **v, size_t *n, size_t *cap, uint64_t ino,
		     uint64_t off)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct delkey *nv = realloc(*v, c * sizeof(*nv));

		if (!nv)
			return;
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = (struct delkey){ ino, off };
}

/* Without memory the record stays; it is harmless garbage. */
static void del_add(struct profile *p, uint64_t ino, uint64_t off)
{
	key_push(&p->dels, &p->ndels, &p->dcap, ino, off);
}

static void file_unlink(struct profile *p, struct pfile *f)
{
	struct pfile **pp = &p->tab[hash_ino(f->ino, p->nbuckets)];

	while (*pp != f)
		pp = &(*pp)->hnext;
	*pp = f->hnext;
	if (f->dirty) {
		for (pp = &p->dirty; *pp != f; pp = &(*pp)->dnext)
			;
		*pp = f->dnext;
	}
	p->nfiles--;
	p->nexts -= f->next;
	free(f->ext);
	free(f);
}

/* The name of process pid, for a warning ("?" when it is gone). */
static void comm_of(int32_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *fp;

	snprintf(buf, len, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fp = fopen(path, "r");
	if (!fp)
		return;
	if (fgets(buf, (int)len, fp))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(fp);
}

/* A 64-bit mix of x (the finalizer of MurmurHash3). */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* Adds ino to a scan window's bloom filter; whether it was (or seemed)
 * there already. */
static int seen_add(uint8_t *seen, uint64_t ino)
{
	uint64_t h = mix64(ino);
	unsigned a = (unsigned)(h % SEEN_BITS),
		 b = (unsigned)((h >> 32) % SEEN_BITS);
	int was = (seen[a / 8] >> (a % 8) & 1) && (seen[b / 8] >> (b % 8) & 1);

	seen[a / 8] |= (uint8_t)(1u << (a % 8));
	seen[b / 8] |= (uint8_t)(1u << (b % 8));
	return was;
}

/* Closes a process's window: a window that was no scan joins the usual
 * counts and ends the scan it may have followed. */
static void scan_close(struct profile *p, struct pscan *c)
{
	double d;
	uint64_t n;

	if (c->scanning || c->files == 0)
		return;                /* a scan does not become the usual */
	if (c->warned) {
		c->warned = 0;
		log_info("access profiler: process %d (uid %u) is back to a usual rate of files read; its reads count again",
			 (int)c->pid, c->uid);
	}
	p->windows++;
	n = p->windows < 32 ? p->windows : 32;
	d = (double)c->files - p->win_mean;
	p->win_mean += d / (double)n;
	p->win_var += (d * d - p->win_var) / (double)n;
}

/* Whether the event comes from a process reading files far more than
 * processes usually do: more than scan_min files read in a window and more
 * than sigma standard deviations above the usual count (a scan, a
 * backup, or ransomware reading everything). Its reads must not make
 * the files it touches look hot and flush the fast tier. */
static int scanning(struct profile *p, const struct profile_event *ev)
{
	struct pscan *c = &p->scan[(uint32_t)ev->pid % SCAN_SLOTS];
	int64_t w = ev->time / p->scan_ns;
	double limit;
	char comm[32];

	if (ev->op == STATS_WRITE || ev->pid <= 0)
		return 0;
	if (c->pid != ev->pid) {
		scan_close(p, c);
		memset(c, 0, sizeof(*c));
		c->pid = ev->pid;
		c->window = w;
	}
	c->uid = ev->uid;
	if (w != c->window) {
		/* Every window is judged afresh: a scan that goes on is found
		 * again after scan_min files, without a second warning. */
		scan_close(p, c);
		c->window = w;
		c->files = 0;
		memset(c->seen, 0, sizeof(c->seen));
		c->scanning = 0;
	}
	/* Files read count (creating many files is not a scan), each once
	 * a window: reading two by turns (cmp, a merge, a database's data
	 * and index) is two. Once it is one, its opens are not folded
	 * either. */
	if (ev->op == STATS_READ && ev->ino != c->last_ino) {
		if (!seen_add(c->seen, ev->ino))
			c->files++;
		c->prev_ino = c->last_ino;
		c->prev_time = c->last_time;
		c->last_ino = ev->ino;
	}
	if (ev->op == STATS_READ)
		c->last_time = ev->time;
	if (c->scanning)
		return 1;
	limit = p->win_mean + p->sigma * sqrt(p->win_var);
	if (c->files < p->scan_min || (double)c->files <= limit)
		return 0;
	c->scanning = 1;
	if (c->warned)
		return 1;
	c->warned = 1;
	p->scans++;
	comm_of(ev->pid, comm, sizeof(comm));
	log_warn("access profiler: process %d (%s, uid %u) read %u files within %g s, far above the usual %.1f per process: treating it as a scan (a backup, an indexer, or ransomware); its reads do not make files hot until it slows down",
		 (int)ev->pid, comm, ev->uid, c->files,
		 (double)p->scan_ns / NS, p->win_mean);
	return 1;
}

/* Whether ino was forgotten while its events may be queued still. */
static int dead_has(const struct profile *p, uint64_t ino)
{
	size_t i;

	if (!p->ndead)
		return 0;
	for (i = mix64(ino) & (p->dead_cap - 1); p->dead[i];
	     i = (i + 1) & (p->dead_cap - 1))
		if (p->dead[i] == ino)
			return 1;
	return 0;
}

/* Puts ino into the open-addressing table tab of cap slots (a power of
 * two, with a free one). */
static void dead_put(uint64_t *tab, size_t cap, uint64_t ino)
{
	size_t i;

	for (i = mix64(ino) & (cap - 1); tab[i]; i = (i + 1) & (cap - 1))
		;
	tab[i] = ino;
}

/* Notes a forgotten ino (p->lock held). Without memory to grow the set,
 * those noted so far are given up: a stale event of theirs may bring a
 * record back. */
static void dead_add(struct profile *p, uint64_t ino)
{
	size_t k;

	if (dead_has(p, ino))
		return;
	if ((p->ndead + 1) * 2 > p->dead_cap) {
		size_t cap = p->dead_cap ? p->dead_cap * 2 : DEAD_MIN;
		uint64_t *nd = calloc(cap, sizeof(*nd));

		if (!nd && !p->dead_cap)
			return;
		if (!nd) {
			memset(p->dead, 0, p->dead_cap * sizeof(*p->dead));
			p->ndead = 0;
		} else {
			for (k = 0; k < p->dead_cap; k++)
				if (p->dead[k])
					dead_put(nd, cap, p->dead[k]);
			free(p->dead);
			p->dead = nd;
			p->dead_cap = cap;
		}
	}
	dead_put(p->dead, p->dead_cap, ino);
	p->ndead++;
	p->dead_until = atomic_load(&p->enq);
}

/* Lets the forgotten go once every event queued before the latest
 * forget is consumed (p->lock held). */
static void dead_prune(struct profile *p)
{
	if (p->ndead && atomic_load(&p->deq) >= p->dead_until) {
		memset(p->dead, 0, p->dead_cap * sizeof(*p->dead));
		p->ndead = 0;
	}
}

/* Folds one event; may append a promotion to pr. */
static void fold(struct profile *p, const struct profile_event *ev,
		 float weight, struct promo *pr, size_t *npr, size_t maxpr)
{
	struct pfile *f;
	double w = weight;
	uint64_t bytes = (uint64_t)((double)ev->len * w);
	struct pext *e;

	/* An event still queued when its file was forgotten: inode numbers
	 * are never reused, so it can only be stale. */
	if (dead_has(p, ev->ino))
		return;
	if (scanning(p, ev)) {
		p->scan_events++;
		return;
	}
	if (!(f = file_get(p, ev->ino)))
		return;
	if (ev->op == STATS_READ && ev->pid > 0) {
		const struct pscan *c = &p->scan[(uint32_t)ev->pid % SCAN_SLOTS];

		/* Read right after another file by the same process: they go
		 * together (a build, a job reading its inputs in turn). */
		if (c->pid == ev->pid && c->last_ino == ev->ino && c->prev_ino &&
		    ev->time - c->prev_time < CO_ACCESS_NS)
			f->partner = c->prev_ino;
	}
	p->folded++;
	p->unflushed++;
	mark_dirty(p, f);
	f->file_dirty = 1;
	if (!(ev->cont & PROFILE_CONT_REQUEST)) {
		stats_add(&f->st, (enum stats_op)ev->op, bytes, ev->time,
			  p->half_life, w);
		series_add(&f->se, &p->sp, ev->time, w, ev->op == STATS_WRITE);
	} else if (ev->op == STATS_READ) {
		f->st.bytes_read += bytes;
	} else if (ev->op == STATS_WRITE) {
		f->st.bytes_written += bytes;
	}
	if (ev->ext_off == PROFILE_NO_EXTENT || !(e = ext_get(p, f, ev->ext_off)))
		return;
	if ((ev->cont & PROFILE_CONT_RUN) && ev->op == STATS_READ) {
		e->st.bytes_read += bytes;
		e->dirty = 1;
		return;
	}
	stats_add(&e->st, (enum stats_op)ev->op, bytes, ev->time, p->half_life, w);
	series_add(&e->se, &p->sp, ev->time, w, ev->op == STATS_WRITE);
	e->dirty = 1;
	if (!p->promote_fn || *npr >= maxpr || ev->tier < 0 ||
	    ev->time - e->promoted < PROFILE_PROMOTE_QUIET_S * NS)
		return;
	if (ev->op == STATS_READ && ev->tier > 0) {
		double fr = stats_freq(&e->st, ev->time, p->half_life);

		if (fr >= p->promote_thr) {
			e->promoted = ev->time;
			pr[(*npr)++] = (struct promo){ ev->ino, ev->ext_off,
						       ev->tier, fr, 0,
						       ev->time };
		}
	} else if (ev->op == STATS_WRITE && p->promote_writes) {
		e->promoted = ev->time;
		pr[(*npr)++] = (struct promo){
			ev->ino, ev->ext_off, ev->tier,
			stats_freq(&e->st, ev->time, p->half_life), 1,
			ev->time };
	}
}

/* ---------------------------------------------------------------- */
/* persistence */

/* After a failed commit: the records it held are dirty again (those of
 * files forgotten since are not), to be written by the next flush. */
static void redirty(struct profile *p, const struct delkey *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct pfile *f = file_find(p, v[i].ino);
		struct pext *e;

		if (!f)
			continue;
		if (v[i].off == META_ACCESS_FILE) {
			f->file_dirty = 1;
		} else {
			if (!(e = ext_find(f, v[i].off)))
				continue;
			e->dirty = 1;
		}
		mark_dirty(p, f);
		p->unflushed++;
	}
}

/* Writes the dirty records and pending deletes. Caller holds drain_lock. */
static int flush(struct profile *p)
{
	struct meta_batch *b = meta_batch_new();
	struct delkey *put = NULL;
	size_t ndels, nput = 0, capput = 0, asked = 0;
	int rc = 0;

	if (!b)
		return -ENOMEM;
	pthread_mutex_lock(&p->lock);
	/* The deletes stay listed until their commit: after a failed one
	 * the records would come back at every start, never deleted. More
	 * may join them meanwhile. */
	ndels = p->ndels;
	for (size_t i = 0; i < ndels; i++)
		meta_del_access(b, p->dels[i].ino, p->dels[i].off);
	while (p->dirty) {
		struct pfile *f = p->dirty;

		p->dirty = f->dnext;
		f->dirty = 0;
		if (f->file_dirty) {
			meta_put_access(b, f->ino, META_ACCESS_FILE, &f->st,
					&f->se);
			key_push(&put, &nput, &capput, f->ino, META_ACCESS_FILE);
			asked++;
		}
		f->file_dirty = 0;
		for (size_t k = 0; k < f->next; k++) {
			if (!f->ext[k].dirty)
				continue;
			f->ext[k].dirty = 0;
			meta_put_access(b, f->ino, f->ext[k].off, &f->ext[k].st,
					&f->ext[k].se);
			key_push(&put, &nput, &capput, f->ino, f->ext[k].off);
			asked++;
		}
	}
	p->unflushed = 0;
	pthread_mutex_unlock(&p->lock);
	if (meta_batch_count(b)) {
		rc = meta_commit(p->meta, b, 0);
		if (rc < 0) {
			log_err("access profiler: cannot store statistics: %s; "
				"trying again at the next flush", strerror(-rc));
			if (nput < asked)
				log_err("access profiler: no memory to keep track "
					"of %zu of them: their changes since the "
					"last flush are lost", asked - nput);
			pthread_mutex_lock(&p->lock);
			redirty(p, put, nput);
			pthread_mutex_unlock(&p->lock);
		} else {
			pthread_mutex_lock(&p->lock);
			p->flushes++;
			if (ndels) {
				memmove(p->dels, p->dels + ndels,
					(p->ndels - ndels) * sizeof(*p->dels));
				p->ndels -= ndels;
			}
			pthread_mutex_unlock(&p->lock);
		}
	}
	meta_batch_free(b);
	free(put);
	return rc;
}

static int load_one(void *arg, uint64_t ino, uint64_t off,
		    const struct access_stats *st,
		    const struct access_series *se)
{
	struct profile *p = arg;
	struct pfile *f;
	struct pext *e;

	if (!st) {
		/* Logged by the store: start this record again from nothing. */
		p->corrupt++;
		del_add(p, ino, off);
		return 0;
	}
	if (!(f = file_get(p, ino)))
		return -ENOMEM;
	if (off == META_ACCESS_FILE) {
		f->st = *st;
		if (se)
			f->se = *se;
		return 0;
	}
	if (!(e = ext_get(p, f, off)))
		return -ENOMEM;
	e->st = *st;
	if (se)
		e->se = *se;
	return 0;
}

/* ---------------------------------------------------------------- */
/* the aggregator */

/* The extents of pr[0..n) were refused for now (-EBUSY): each may ask
 * again PROFILE_PROMOTE_RETRY_MS after its access rather than after the
 * quiet period, unless it asked again since. */
static void promote_later(struct profile *p, const struct promo *pr, size_t n)
{
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < n; i++) {
		struct pfile *f = file_find(p, pr[i].ino);
		struct pext *e = f ? ext_find(f, pr[i].off) : NULL;

		if (e && e->promoted == pr[i].time)
			e->promoted = pr[i].time -
				      PROFILE_PROMOTE_QUIET_S * NS +
				      PROFILE_PROMOTE_RETRY_MS * (NS / 1000);
	}
	pthread_mutex_unlock(&p->lock);
}

/* Folds up to max events; caller holds drain_lock. Returns how many. */
static size_t drain_some(struct profile *p, size_t max)
{
	struct promo pr[64];
	size_t n = 0, npr = 0, nlater = 0;
	struct profile_event ev;
	float w;

	pthread_mutex_lock(&p->lock);
	while (n < max && ring_pop(p, &ev, &w)) {
		fold(p, &ev, w, pr, &npr, sizeof(pr) / sizeof(pr[0]));
		n++;
	}
	dead_prune(p);
	p->promotions += npr;
	p->folding = n;
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < npr; i++)
		if (p->promote_fn(p->promote_arg, pr[i].ino, pr[i].off,
				  pr[i].tier, pr[i].freq, pr[i].write) == -EBUSY)
			pr[nlater++] = pr[i];
	if (nlater)
		promote_later(p, pr, nlater);
	pthread_mutex_lock(&p->lock);
	p->folding = 0;
	pthread_mutex_unlock(&p->lock);
	if (atomic_load(&p->warned) && ring_used(p) * 2 < p->mask + 1)
		atomic_store(&p->warned, 0);
	return n;
}

int profile_drain(struct profile *p)
{
	size_t total = 0, n;
	int rc;

	pthread_mutex_lock(&p->drain_lock);
	while ((n = drain_some(p, BATCH_EVENTS)) > 0)
		total += n;
	rc = flush(p);
	pthread_mutex_unlock(&p->drain_lock);
	return rc < 0 ? rc : (int)(total > INT32_MAX ? INT32_MAX : total);
}

static void *aggregator(void *arg)
{
	struct profile *p = arg;
	int64_t last = mono_ms();

	while (!atomic_load(&p->stop)) {
		size_t n;
		int due;

		pthread_mutex_lock(&p->drain_lock);
		n = drain_some(p, BATCH_EVENTS);
		pthread_mutex_lock(&p->lock);
		due = p->unflushed >= p->flush_events ||
		      (p->unflushed + p->ndels > 0 &&
		       mono_ms() - last >= (int64_t)p->flush_ms);
		pthread_mutex_unlock(&p->lock);
		if (due) {
			flush(p);
			last = mono_ms();
		}
		pthread_mutex_unlock(&p->drain_lock);
		if (n == 0)
			nanosleep(&(struct timespec){ 0, IDLE_NS }, NULL);
	}
	return NULL;
}

/* ---------------------------------------------------------------- */
/* open, close */

void profile_close(struct profile *p)
{
	if (!p)
		return;
	if (p->has_thread) {
		atomic_store(&p->stop, 1);
		pthread_join(p->thread, NULL);
	}
	if (p->meta)
		profile_drain(p);
	for (size_t i = 0; p->tab && i < p->nbuckets; i++) {
		struct pfile *f = p->tab[i], *next;

		for (; f; f = next) {
			next = f->hnext;
			free(f->ext);
			free(f);
		}
	}
	free(p->tab);
	free(p->dels);
	free(p->dead);
	free(p->ring);
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->drain_lock);
	free(p);
}

int profile_open(const struct profile_params *pp, struct meta *m,
		 struct profile **out)
{
	struct profile *p;
	size_t cap = pp->capacity ? pp->capacity : DEF_CAPACITY;
	size_t n = 2;
	int rc;

	if (!(pp->half_life > 0))
		return -EINVAL;
	while (n < cap)
		n *= 2;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->drain_lock, NULL);
	p->ring = calloc(n, sizeof(*p->ring));
	p->nbuckets = 1024;
	p->tab = calloc(p->nbuckets, sizeof(*p->tab));
	if (!p->ring || !p->tab) {
		profile_close(p);
		return -ENOMEM;
	}
	p->mask = n - 1;
	for (size_t i = 0; i < n; i++)
		atomic_init(&p->ring[i].seq, i);
	p->sample_k = pp->sample_k ? pp->sample_k : DEF_SAMPLE_K;
	p->flush_events = pp->flush_events ? pp->flush_events : DEF_FLUSH_EV;
	p->flush_ms = pp->flush_ms ? pp->flush_ms : DEF_FLUSH_MS;
	p->half_life = pp->half_life;
	if (pp->series.bin > 0)
		p->sp = pp->series;
	else
		series_defaults(&p->sp);
	/* in ns before the cast: a window under a second is not 0 */
	p->scan_ns = (int64_t)((pp->scan_window > 0 ? pp->scan_window :
				DEF_SCAN_S) * NS);
	if (p->scan_ns < 1)
		p->scan_ns = 1;
	p->scan_min = pp->scan_min ? pp->scan_min : DEF_SCAN_MIN;
	p->sigma = pp->scan_sigma > 0 ? pp->scan_sigma : DEF_SIGMA;
	rc = meta_list_access(m, load_one, p);
	if (rc < 0) {
		profile_close(p);
		return rc;
	}
	p->meta = m;
	if (p->corrupt)
		log_warn("access profiler: %" PRIu64 " corrupt statistics record(s) "
			 "reset", p->corrupt);
	if (!pp->no_thread) {
		rc = -pthread_create(&p->thread, NULL, aggregator, p);
		if (rc < 0) {
			profile_close(p);
			return rc;
		}
		p->has_thread = 1;
	}
	*out = p;
	return 0;
}

/* ---------------------------------------------------------------- */
/* queries */

void profile_forget(struct profile *p, uint64_t ino)
{
	struct pfile *f;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	dead_add(p, ino);
	f = file_find(p, ino);
	if (f) {
		del_add(p, ino, META_ACCESS_FILE);
		for (size_t k = 0; k < f->next; k++)
			del_add(p, ino, f->ext[k].off);
		file_unlink(p, f);
	}
	pthread_mutex_unlock(&p->lock);
}

double profile_half_life(const struct profile *p)
{
	return p->half_life;
}

struct snap {
	uint64_t ino;
	struct access_stats st;
};

int profile_list(struct profile *p, profile_file_cb cb, void *arg)
{
	struct snap *v;
	size_t n = 0;
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	v = malloc((p->nfiles ? p->nfiles : 1) * sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&p->lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->nbuckets; i++)
		for (struct pfile *f = p->tab[i]; f; f = f->hnext)
			v[n++] = (struct snap){ f->ino, f->st };
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = cb(arg, v[i].ino, &v[i].st);
	free(v);
	return rc;
}

int profile_get(struct profile *p, uint64_t ino, struct access_stats *st)
{
	struct pfile *f;
	int rc = -ENOENT;

	pthread_mutex_lock(&p->lock);
	if ((f = file_find(p, ino))) {
		*st = f->st;
		rc = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int profile_get_extent(struct profile *p, uint64_t ino, uint64_t off,
		       struct access_stats *st)
{
	struct pfile *f;
	struct pext *e;
	int rc = -ENOENT;

	pthread_mutex_lock(&p->lock);
	if ((f = file_find(p, ino)) && (e = ext_find(f, off))) {
		*st = e->st;
		rc = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int profile_series(struct profile *p, uint64_t ino, uint64_t off,
		   struct access_series *se)
{
	struct pfile *f;
	struct pext *e;
	int rc = -ENOENT;

	pthread_mutex_lock(&p->lock);
	if ((f = file_find(p, ino))) {
		if (off == PROFILE_NO_EXTENT) {
			*se = f->se;
			rc = 0;
		} else if ((e = ext_find(f, off))) {
			*se = e->se;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

double profile_co_access(struct profile *p, uint64_t ino, int64_t now)
{
	struct pfile *f, *g;
	double v = 0.0;

	pthread_mutex_lock(&p->lock);
	if ((f = file_find(p, ino)) && f->partner &&
	    (g = file_find(p, f->partner)))
		v = stats_freq(&g->st, now, p->half_life);
	pthread_mutex_unlock(&p->lock);
	return v;
}

const struct series_params *profile_series_params(const struct profile *p)
{
	return &p->sp;
}

int profile_extents(struct profile *p, uint64_t ino, struct profile_ext **out,
		    size_t *n)
{
	struct pfile *f;
	int rc = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&p->lock);
	f = file_find(p, ino);
	if (f && f->next) {
		*out = malloc(f->next * sizeof(**out));
		if (!*out) {
			rc = -ENOMEM;
		} else {
			for (size_t k = 0; k < f->next; k++)
				(*out)[k] = (struct profile_ext){ f->ext[k].off,
								  f->ext[k].st };
			*n = f->next;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

/* Under drain_lock too: promotions are called with it held, so that once
 * this returns no call to the old fn is under way (the fabric turns it
 * off before closing what fn uses). */
void profile_set_promote_cb(struct profile *p, profile_promote_cb fn,
			    void *arg, double threshold, int writes)
{
	pthread_mutex_lock(&p->drain_lock);
	pthread_mutex_lock(&p->lock);
	p->promote_fn = fn;
	p->promote_arg = arg;
	p->promote_thr = threshold;
	p->promote_writes = writes;
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_unlock(&p->drain_lock);
}

void profile_counters(struct profile *p, struct profile_counters *out)
{
	memset(out, 0, sizeof(*out));
	out->events = atomic_load(&p->enq);
	out->sampled = atomic_load(&p->sampled);
	out->dropped = atomic_load(&p->dropped);
	out->capacity = p->mask + 1;
	pthread_mutex_lock(&p->lock);
	out->queued = ring_used(p) + p->folding;
	out->folded = p->folded;
	out->files = p->nfiles;
	out->extents = p->nexts;
	out->flushes = p->flushes;
	out->corrupt = p->corrupt;
	out->promotions = p->promotions;
	out->scans = p->scans;
	out->scan_events = p->scan_events;
	pthread_mutex_unlock(&p->lock);
}
