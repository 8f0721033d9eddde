/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The predictor: forecasts, their scoring, and the trees' training. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "common/log.h"
#include "tiering/predictor.h"

#define NS 1000000000.0
#define SAVE_MAGIC 0x52504644u         /* "DFPR" */
#define SAVE_VERSION 3u              /* 2: an XXH64 after each model length;
					* 3: the settings' fingerprint last */

/* A forecast waiting for its horizon to pass (one entry per horizon, so
 * that the short one is scored, and learnt from, as often as it
 * passes). */
struct pend {
	uint64_t ino;
	uint64_t off;
	int h;                         /* horizon index */
	int64_t t;                     /* when it was made */
	uint64_t count;                /* access count then */
	struct forecast f;
	float x[GBT_FEATURES];         /* features then: the training row */
	uint8_t act;                   /* enum predictor_action */
	bool used;
};

/* Training rows of one horizon, a ring of the newest max_rows. */
struct rows {
	float *x;
	float *y;
	size_t head;                   /* next slot written */
	size_t n;                      /* rows held */
};

struct predictor {
	struct predictor_params p;     /* immutable */
	pthread_mutex_t lock;          /* everything below */
	struct pend *pend;             /* max_pending slots */
	size_t npend;                  /* used slots */
	uint32_t *freel;               /* indices of the free slots */
	size_t nfree;
	uint32_t *slot;                /* hash (ino, off) -> pend index + 1 */
	size_t nslot;                  /* power of two, 2 * max_pending */
	struct rows rows[PREDICT_HORIZONS];
	struct predict_accuracy acc;
	struct predict_ensemble ens;
	struct predictor_counters cnt;
	struct gbt *gbt[PREDICT_HORIZONS];
	int64_t next_train;            /* unix ns; 0: at the first tick */
	/* the worker */
	pthread_cond_t cond;
	bool stop;
	bool train_due;
	bool has_thread;
	pthread_t thread;
};

void predictor_defaults(struct predictor_params *p)
{
	memset(p, 0, sizeof(*p));
	predict_defaults(&p->predict);
	gbt_defaults(&p->gbt);
	p->retrain = 600;
	p->max_pending = 8192;
	p->max_rows = 20000;
	p->proactive = 1;
	p->threads = 1;
}

const struct predictor_params *predictor_params(const struct predictor *pr)
{
	return &pr->p;
}

/* ---- the table of waiting forecasts ---- */

static size_t hash(uint64_t ino, uint64_t off, int hz, size_t mask)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ULL ^
		     (off + 0x632be59bd9b4e019ULL) ^ ((uint64_t)hz << 61);

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return (size_t)h & mask;
}

/* The slot of (ino, off, horizon) in the hash, or of the empty place it
 * would go. */
static size_t slot_of(const struct predictor *pr, uint64_t ino, uint64_t off,
		      int hz)
{
	size_t mask = pr->nslot - 1, s = hash(ino, off, hz, mask);

	while (pr->slot[s]) {
		const struct pend *e = &pr->pend[pr->slot[s] - 1];

		if (e->ino == ino && e->off == off && e->h == hz)
			break;
		s = (s + 1) & mask;
	}
	return s;
}

/* Removes the hash entry at slot s, shifting back the ones after it that
 * would no longer be found (linear probing without tombstones). */
static void slot_del(struct predictor *pr, size_t s)
{
	size_t mask = pr->nslot - 1, j = s;

	pr->slot[s] = 0;
	for (;;) {
		const struct pend *e;
		size_t home;

		j = (j + 1) & mask;
		if (!pr->slot[j])
			return;
		e = &pr->pend[pr->slot[j] - 1];
		home = hash(e->ino, e->off, e->h, mask);
		/* Move j back to s when its home is not in (s, j]. */
		if ((j > s && (home <= s || home > j)) ||
		    (j < s && (home <= s && home > j))) {
			pr->slot[s] = pr->slot[j];
			pr->slot[j] = 0;
			s = j;
		}
	}
}

static void pend_free(struct predictor *pr, struct pend *e)
{
	slot_del(pr, slot_of(pr, e->ino, e->off, e->h));
	e->used = false;
	pr->npend--;
	pr->freel[pr->nfree++] = (uint32_t)(e - pr->pend);
}

/* ---- the trees ---- */

static void rows_add(struct predictor *pr, int h, const float *x, float y)
{
	struct rows *r = &pr->rows[h];

	memcpy(&r->x[r->head * GBT_FEATURES], x, GBT_FEATURES * sizeof(*x));
	r->y[r->head] = y;
	r->head = (r->head + 1) % pr->p.max_rows;
	if (r->n < pr->p.max_rows)
		r->n++;
}

/* Trains the trees of every horizon on a copy of their rows, without the
 * lock held (training takes a while; forecasts go on meanwhile). */
static void train_all(struct predictor *pr)
{
	for (int h = 0; h < PREDICT_HORIZONS; h++) {
		float *x, *y;
		size_t n;
		int rc;

		pthread_mutex_lock(&pr->lock);
		n = pr->rows[h].n;
		x = malloc(n * GBT_FEATURES * sizeof(*x) + 1);
		y = malloc(n * sizeof(*y) + 1);
		if (x && y) {
			memcpy(x, pr->rows[h].x, n * GBT_FEATURES * sizeof(*x));
			memcpy(y, pr->rows[h].y, n * sizeof(*y));
		}
		pthread_mutex_unlock(&pr->lock);
		rc = x && y ? gbt_train(pr->gbt[h], x, y, n) : -ENOMEM;
		free(x);
		free(y);
		pthread_mutex_lock(&pr->lock);
		if (rc == 0)
			pr->cnt.trained[h]++;
		else if (rc != -EAGAIN)
			pr->cnt.train_failed[h]++;
		pthread_mutex_unlock(&pr->lock);
	}
}

static void *worker(void *arg)
{
	struct predictor *pr = arg;

	pthread_mutex_lock(&pr->lock);
	for (;;) {
		while (!pr->stop && !pr->train_due)
			pthread_cond_wait(&pr->cond, &pr->lock);
		if (pr->stop)
			break;
		pr->train_due = false;
		pthread_mutex_unlock(&pr->lock);
		train_all(pr);
		pthread_mutex_lock(&pr->lock);
	}
	pthread_mutex_unlock(&pr->lock);
	return NULL;
}

/* ---- open and close ---- */

int predictor_open(const struct predictor_params *p, struct predictor **out)
{
	struct predictor *pr = calloc(1, sizeof(*pr));
	size_t nslot = 2;
	int rc = -ENOMEM, h;

	if (!pr)
		return -ENOMEM;
	pr->p = *p;
	if (pr->p.max_pending == 0)
		pr->p.max_pending = 1;
	if (pr->p.max_rows == 0)
		pr->p.max_rows = 1;
	while (nslot < 2 * pr->p.max_pending)
		nslot *= 2;
	pthread_mutex_init(&pr->lock, NULL);
	pthread_cond_init(&pr->cond, NULL);
	pr->nslot = nslot;
	pr->slot = calloc(nslot, sizeof(*pr->slot));
	pr->pend = calloc(pr->p.max_pending, sizeof(*pr->pend));
	pr->freel = malloc(pr->p.max_pending * sizeof(*pr->freel));
	if (!pr->slot || !pr->pend || !pr->freel)
		goto fail;
	/* Lowest index on top, so that a tick scans a dense prefix. */
	for (size_t i = pr->p.max_pending; i-- > 0;)
		pr->freel[pr->nfree++] = (uint32_t)i;
	for (h = 0; h < PREDICT_HORIZONS; h++) {
		pr->rows[h].x = malloc(pr->p.max_rows * GBT_FEATURES * sizeof(float));
		pr->rows[h].y = malloc(pr->p.max_rows * sizeof(float));
		if (!pr->rows[h].x || !pr->rows[h].y)
			goto fail;
		rc = gbt_open(&pr->p.gbt, &pr->gbt[h]);
		if (rc)
			goto fail;
	}
	ensemble_init(&pr->ens);
	if (p->threads) {
		rc = -pthread_create(&pr->thread, NULL, worker, pr);
		if (rc)
			goto fail;
		pr->has_thread = true;
	}
	*out = pr;
	return 0;
fail:
	predictor_close(pr);
	return rc ? rc : -ENOMEM;
}

void predictor_close(struct predictor *pr)
{
	if (!pr)
		return;
	pthread_mutex_lock(&pr->lock);
	pr->stop = true;
	pthread_cond_broadcast(&pr->cond);
	pthread_mutex_unlock(&pr->lock);
	if (pr->has_thread)
		pthread_join(pr->thread, NULL);
	for (int h = 0; h < PREDICT_HORIZONS; h++) {
		gbt_close(pr->gbt[h]);
		free(pr->rows[h].x);
		free(pr->rows[h].y);
	}
	free(pr->slot);
	free(pr->pend);
	free(pr->freel);
	pthread_cond_destroy(&pr->cond);
	pthread_mutex_destroy(&pr->lock);
	free(pr);
}

/* ---- forecasts ---- */

void predictor_forecast(struct predictor *pr,
			const struct predictor_item *items, size_t n,
			int64_t now, struct forecast *out)
{
	const struct predict_params *pp = &pr->p.predict;
	struct predict_ensemble ens;
	float *x = NULL, *prob[PREDICT_HORIZONS] = { NULL };
	int have[PREDICT_HORIZONS] = { 0 };
	bool featured = false;
	size_t i;
	int h;

	if (n == 0)
		return;
	pthread_mutex_lock(&pr->lock);
	ens = pr->ens;
	pr->cnt.forecasts += n;
	pthread_mutex_unlock(&pr->lock);
	/* The trees in one batch per horizon: one row at a time costs
	 * about 140 us each. */
	x = malloc(n * GBT_FEATURES * sizeof(*x));
	for (h = 0; x && h < PREDICT_HORIZONS; h++) {
		if (!gbt_ready(pr->gbt[h]))
			continue;
		prob[h] = malloc(n * sizeof(*prob[h]));
		if (!prob[h])
			continue;
		if (!featured)
			for (i = 0; i < n; i++)
				gbt_features(pp, items[i].st, items[i].se,
					     items[i].bytes, items[i].co_access,
					     now, &x[i * GBT_FEATURES]);
		featured = true;
		have[h] = gbt_predict(pr->gbt[h], x, n, prob[h]) == 0;
	}
	/* The trees speak only when every horizon has a model: the
	 * ensemble mixes whole models. */
	for (h = 0; h < PREDICT_HORIZONS && have[h]; h++)
		;
	for (i = 0; i < n; i++) {
		double g[PREDICT_HORIZONS];

		for (int k = 0; k < PREDICT_HORIZONS; k++)
			g[k] = have[k] ? prob[k][i] : 0.0;
		forecast_eval(pp, items[i].st, items[i].se, &ens,
			      h == PREDICT_HORIZONS ? g : NULL, now, &out[i]);
	}
	for (h = 0; h < PREDICT_HORIZONS; h++)
		free(prob[h]);
	free(x);
}

void predictor_record(struct predictor *pr, const struct predictor_item *it,
		      const struct forecast *f, int64_t now, uint64_t count,
		      enum predictor_action act)
{
	float x[GBT_FEATURES];
	bool featured = false;
	struct pend *e;
	size_t s;
	int h;

	pthread_mutex_lock(&pr->lock);
	if (act == PA_PROMOTE)
		pr->cnt.promoted++;
	else if (act == PA_DEMOTE)
		pr->cnt.demoted++;
	for (h = 0; h < PREDICT_HORIZONS; h++) {
		s = slot_of(pr, it->ino, it->off, h);
		if (pr->slot[s])
			continue;      /* waiting already */
		if (pr->nfree == 0) {
			pr->cnt.dropped++;
			continue;
		}
		if (!featured) {
			gbt_features(&pr->p.predict, it->st, it->se, it->bytes,
				     it->co_access, now, x);
			featured = true;
		}
		e = &pr->pend[pr->freel[--pr->nfree]];
		memset(e, 0, sizeof(*e));
		e->used = true;
		e->ino = it->ino;
		e->off = it->off;
		e->h = h;
		e->t = now;
		e->count = count;
		e->f = *f;
		e->act = (uint8_t)act;
		memcpy(e->x, x, sizeof(x));
		pr->slot[s] = (uint32_t)(e - pr->pend) + 1;
		pr->npend++;
		pr->cnt.recorded++;
	}
	pthread_mutex_unlock(&pr->lock);
}

size_t predictor_tick(struct predictor *pr, int64_t now,
		      predictor_count_fn count, void *arg)
{
	const struct predict_params *pp = &pr->p.predict;
	size_t scored = 0, i;
	bool train = false;

	pthread_mutex_lock(&pr->lock);
	for (i = 0; i < pr->p.max_pending; i++) {
		struct pend *e = &pr->pend[i];
		uint64_t c = 0;
		double actual;
		int rc, h;

		if (!e->used)
			continue;
		h = e->h;
		if (now < e->t + (int64_t)(pp->horizon[h] * NS))
			continue;
		/* The host's callback takes its own locks, never ours, and
		 * does not call back: safe with ours held. */
		rc = count(arg, e->ino, e->off, &c);
		if (rc == 0) {
			int judge = h == PREDICT_HORIZONS - 1;
			uint64_t accessed = pr->acc.accessed;

			actual = c > e->count ? (double)(c - e->count) : 0.0;
			/* A move is judged by the longer horizon, and so is
			 * recall: an item counts once among those accessed. */
			accuracy_add(&pr->acc, &pr->ens, &e->f, h, actual,
				     e->act == PA_PROMOTE && judge,
				     e->act == PA_DEMOTE && judge);
			if (!judge)
				pr->acc.accessed = accessed;
			rows_add(pr, h, e->x, actual > 0 ? 1.0f : 0.0f);
			pr->cnt.scored++;
			scored++;
		}
		/* else gone: nothing to learn */
		pend_free(pr, e);
	}
	if (scored)
		ensemble_update(&pr->ens);
	if (pr->p.retrain > 0) {
		if (pr->next_train == 0)
			pr->next_train = now + (int64_t)(pr->p.retrain * NS);
		if (now >= pr->next_train) {
			pr->next_train = now + (int64_t)(pr->p.retrain * NS);
			train = true;
			if (pr->has_thread) {
				pr->train_due = true;
				pthread_cond_signal(&pr->cond);
				train = false;
			}
		}
	}
	pthread_mutex_unlock(&pr->lock);
	if (train)
		train_all(pr);
	return scored;
}

int predictor_trusted(struct predictor *pr)
{
	int ok;

	if (!pr->p.proactive)
		return 0;
	pthread_mutex_lock(&pr->lock);
	ok = accuracy_trusted(&pr->acc);
	pthread_mutex_unlock(&pr->lock);
	return ok;
}

void predictor_state(struct predictor *pr, struct predict_accuracy *acc,
		     struct predict_ensemble *ens,
		     struct predictor_counters *cnt)
{
	pthread_mutex_lock(&pr->lock);
	if (acc)
		*acc = pr->acc;
	if (ens)
		*ens = pr->ens;
	if (cnt) {
		*cnt = pr->cnt;
		cnt->pending = pr->npend;
		for (int h = 0; h < PREDICT_HORIZONS; h++)
			cnt->rows[h] = pr->rows[h].n;
	}
	pthread_mutex_unlock(&pr->lock);
	if (cnt)
		for (int h = 0; h < PREDICT_HORIZONS; h++) {
			uint64_t t, f;

			gbt_counters(pr->gbt[h], &t, &f, &cnt->trees[h]);
		}
}

/* ---- persistence ---- */

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* An XXH64 of the settings the trees and the accuracy depend on: the
 * horizons (what the trees predict), the bins and half-lives (their
 * features). */
static uint64_t settings_print(const struct predictor_params *p)
{
	const struct predict_params *q = &p->predict;
	double v[PREDICT_HORIZONS + SERIES_HALF_LIVES + 3];
	size_t n = 0;
	int i;

	for (i = 0; i < PREDICT_HORIZONS; i++)
		v[n++] = q->horizon[i];
	for (i = 0; i < SERIES_HALF_LIVES; i++)
		v[n++] = q->series.half_life[i];
	v[n++] = q->series.bin;
	v[n++] = (double)q->series.per_coarse;
	v[n++] = q->half_life;
	return XXH64(v, n * sizeof(v[0]), 0);
}

/* Layout (little-endian): magic, version, the accuracy record's length
 * and bytes, then for each horizon the length of its trees (0: none),
 * their XXH64 (two 32-bit halves, low first) and their bytes, then the
 * XXH64 of the settings (settings_print, two halves). Version 1 had no
 * XXH64 of the trees, versions 1 and 2 none of the settings. */
int predictor_save(struct predictor *pr, void **out, size_t *outlen)
{
	uint8_t acc[PREDICT_ACC_ENC_MAX], *buf;
	void *model[PREDICT_HORIZONS] = { NULL };
	size_t mlen[PREDICT_HORIZONS] = { 0 }, alen, len, off;
	int h;

	pthread_mutex_lock(&pr->lock);
	alen = accuracy_encode(&pr->acc, &pr->ens, acc);
	pthread_mutex_unlock(&pr->lock);
	len = 12 + alen;
	for (h = 0; h < PREDICT_HORIZONS; h++) {
		if (gbt_ready(pr->gbt[h]) &&
		    gbt_save(pr->gbt[h], &model[h], &mlen[h]) < 0) {
			model[h] = NULL;
			mlen[h] = 0;
		}
		len += 12 + mlen[h];
	}
	len += 8;
	buf = malloc(len);
	if (!buf) {
		for (h = 0; h < PREDICT_HORIZONS; h++)
			free(model[h]);
		return -ENOMEM;
	}
	put32(buf, SAVE_MAGIC);
	put32(buf + 4, SAVE_VERSION);
	put32(buf + 8, (uint32_t)alen);
	memcpy(buf + 12, acc, alen);
	off = 12 + alen;
	for (h = 0; h < PREDICT_HORIZONS; h++) {
		uint64_t sum = mlen[h] ? XXH64(model[h], mlen[h], 0) : 0;

		put32(buf + off, (uint32_t)mlen[h]);
		put32(buf + off + 4, (uint32_t)sum);
		put32(buf + off + 8, (uint32_t)(sum >> 32));
		if (mlen[h])
			memcpy(buf + off + 12, model[h], mlen[h]);
		off += 12 + mlen[h];
		free(model[h]);
	}
	{
		uint64_t print = settings_print(&pr->p);

		put32(buf + off, (uint32_t)print);
		put32(buf + off + 4, (uint32_t)(print >> 32));
	}
	*out = buf;
	*outlen = len;
	return 0;
}

int predictor_load(struct predictor *pr, const void *vbuf, size_t len)
{
	const uint8_t *buf = vbuf;
	struct predict_accuracy acc;
	struct predict_ensemble ens;
	size_t alen, off, hdr, mlen[PREDICT_HORIZONS], moff[PREDICT_HORIZONS];
	uint32_t ver;
	int h;

	if (len < 12 || get32(buf) != SAVE_MAGIC)
		return -EUCLEAN;
	ver = get32(buf + 4);
	if (ver != 1 && ver != 2 && ver != SAVE_VERSION)
		return -EUCLEAN;
	/* Version 1 has no checksum of its own after a model's length (its
	 * record's checksum in the store is all): read as it was. */
	hdr = ver == 1 ? 4 : 12;
	alen = get32(buf + 8);
	if (alen > len - 12 || accuracy_decode(buf + 12, alen, &acc, &ens))
		return -EUCLEAN;
	off = 12 + alen;
	for (h = 0; h < PREDICT_HORIZONS; h++) {
		if (len - off < hdr)
			return -EUCLEAN;
		mlen[h] = get32(buf + off);
		moff[h] = off + hdr;
		if (mlen[h] > len - off - hdr)
			return -EUCLEAN;
		/* XGBoost's UBJSON reader trusts the sizes it reads: damaged
		 * model bytes must never reach it. */
		if (hdr == 12 && mlen[h] &&
		    XXH64(buf + moff[h], mlen[h], 0) !=
		    ((uint64_t)get32(buf + off + 8) << 32 | get32(buf + off + 4)))
			return -EUCLEAN;
		off += hdr + mlen[h];
	}
	if (ver >= 3) {
		uint64_t print;

		if (len - off < 8)
			return -EUCLEAN;
		print = (uint64_t)get32(buf + off + 4) << 32 | get32(buf + off);
		/* Trees for other horizons, accuracy of other forecasts:
		 * none of it is about these settings. */
		if (print != settings_print(&pr->p)) {
			log_notice("predictor: the saved state is of other "
				   "[predict] settings (horizons, bins or "
				   "half-lives); starting afresh");
			return 0;
		}
	}
	pthread_mutex_lock(&pr->lock);
	pr->acc = acc;
	pr->ens = ens;
	pthread_mutex_unlock(&pr->lock);
	for (h = 0; h < PREDICT_HORIZONS; h++)
		if (mlen[h] && gbt_load(pr->gbt[h], buf + moff[h], mlen[h]) < 0)
			log_warn("predictor: the saved trees of horizon %.0f s do not load; using the other models until they are trained again",
				 pr->p.predict.horizon[h]);
	return 0;
}
