// SPDX-License-Identifier: GPL-2.0-or-later
/* The directory entry cache of fs.c: a hash table of (parent, name) with
 * an LRU list, bounded in entries, and a change counter that keeps fills
 * from racing with changes (see fs/dcache.h). */
#include "fs/dcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#define DCACHE_MIN 16

/* One cached entry; its name follows it. */
struct dent {
	struct dent *hnext;            /* hash chain */
	struct dent *prev;             /* LRU list, towards most recent */
	struct dent *next;             /* LRU list, towards least recent */
	uint64_t hash;                 /* of parent and name */
	uint64_t parent;               /* directory inode */
	struct meta_dirent d;          /* what the name points at */
	size_t len;                    /* bytes of name */
	char name[];                   /* NUL-terminated */
};

struct dcache {
	pthread_mutex_t lock;          /* everything below */
	struct dent **tab;             /* mask + 1 chains */
	size_t mask;                   /* buckets - 1 */
	size_t max;                    /* entries at most */
	size_t n;                      /* entries now */
	struct dent lru;               /* sentinel: lru.next most recent */
	uint64_t gen;                  /* bumped by every set and drop */
};

static uint64_t dc_hash(uint64_t parent, const char *name, size_t len)
{
	return XXH3_64bits_withSeed(name, len, parent);
}

static void lru_unlink(struct dent *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

static void lru_push(struct dcache *c, struct dent *e)
{
	e->prev = &c->lru;
	e->next = c->lru.next;
	c->lru.next->prev = e;
	c->lru.next = e;
}

int dcache_new(size_t max, struct dcache **out)
{
	struct dcache *c;
	size_t n = DCACHE_MIN;

	while (n < max)
		n <<= 1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->tab = calloc(n, sizeof(*c->tab));
	if (!c->tab) {
		free(c);
		return -ENOMEM;
	}
	c->mask = n - 1;
	c->max = n;
	c->lru.next = c->lru.prev = &c->lru;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

void dcache_free(struct dcache *c)
{
	struct dent *e, *next;

	if (!c)
		return;
	for (e = c->lru.next; e != &c->lru; e = next) {
		next = e->next;
		free(e);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->tab);
	free(c);
}

/* Returns the link that points at the entry, or at the NULL ending its
 * chain. Caller holds c->lock. */
static struct dent **find_locked(struct dcache *c, uint64_t hash,
				 uint64_t parent, const char *name, size_t len)
{
	struct dent **pp;

	for (pp = &c->tab[hash & c->mask]; *pp; pp = &(*pp)->hnext) {
		struct dent *e = *pp;

		if (e->hash == hash && e->parent == parent && e->len == len &&
		    memcmp(e->name, name, len) == 0)
			break;
	}
	return pp;
}

/* Removes *pp from its chain and the LRU list and frees it. */
static void remove_locked(struct dcache *c, struct dent **pp)
{
	struct dent *e = *pp;

	*pp = e->hnext;
	lru_unlink(e);
	c->n--;
	free(e);
}

static void evict_locked(struct dcache *c)
{
	struct dent *e = c->lru.prev;
	struct dent **pp;

	if (e == &c->lru)
		return;
	pp = find_locked(c, e->hash, e->parent, e->name, e->len);
	if (*pp == e)
		remove_locked(c, pp);
}

/* Inserts or updates; memory failures leave the name uncached, which is
 * always correct. */
static void put_locked(struct dcache *c, uint64_t hash, uint64_t parent,
		       const char *name, size_t len,
		       const struct meta_dirent *d)
{
	struct dent **pp = find_locked(c, hash, parent, name, len);
	struct dent *e = *pp;

	if (e) {
		e->d = *d;
		lru_unlink(e);
		lru_push(c, e);
		return;
	}
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return;
	e->hash = hash;
	e->parent = parent;
	e->d = *d;
	e->len = len;
	memcpy(e->name, name, len + 1);
	e->hnext = c->tab[hash & c->mask];
	c->tab[hash & c->mask] = e;
	lru_push(c, e);
	c->n++;
	if (c->n > c->max)
		evict_locked(c);
}

int dcache_get(struct dcache *c, uint64_t parent, const char *name,
	       struct meta_dirent *out)
{
	size_t len = strlen(name);
	uint64_t hash = dc_hash(parent, name, len);
	struct dent *e;
	int rc = -ENOENT;

	pthread_mutex_lock(&c->lock);
	e = *find_locked(c, hash, parent, name, len);
	if (e) {
		*out = e->d;
		if (c->lru.next != e) {
			lru_unlink(e);
			lru_push(c, e);
		}
		rc = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

uint64_t dcache_stamp(struct dcache *c)
{
	uint64_t g;

	pthread_mutex_lock(&c->lock);
	g = c->gen;
	pthread_mutex_unlock(&c->lock);
	return g;
}

void dcache_fill(struct dcache *c, uint64_t stamp, uint64_t parent,
		 const char *name, const struct meta_dirent *d)
{
	size_t len = strlen(name);
	uint64_t hash = dc_hash(parent, name, len);

	pthread_mutex_lock(&c->lock);
	if (c->gen == stamp)
		put_locked(c, hash, parent, name, len, d);
	pthread_mutex_unlock(&c->lock);
}

void dcache_set(struct dcache *c, uint64_t parent, const char *name,
		const struct meta_dirent *d)
{
	size_t len = strlen(name);
	uint64_t hash = dc_hash(parent, name, len);

	pthread_mutex_lock(&c->lock);
	c->gen++;
	put_locked(c, hash, parent, name, len, d);
	pthread_mutex_unlock(&c->lock);
}

void dcache_drop(struct dcache *c, uint64_t parent, const char *name)
{
	size_t len = strlen(name);
	uint64_t hash = dc_hash(parent, name, len);
	struct dent **pp;

	pthread_mutex_lock(&c->lock);
	c->gen++;
	pp = find_locked(c, hash, parent, name, len);
	if (*pp)
		remove_locked(c, pp);
	pthread_mutex_unlock(&c->lock);
}

size_t dcache_count(struct dcache *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}
