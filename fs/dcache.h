/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A bounded in-memory cache of directory entries (parent, name) -> child,
 * so that unlink, lookup and rename of a name the daemon has just seen do
 * not search RocksDB for it again.
 *
 * The cache holds only entries that match the committed store. Whoever
 * changes an entry in the store does so under fs.c's ns_lock and, after the
 * commit and before dropping that lock, calls dcache_set() or
 * dcache_drop() for every name it changed (dcache_drop() also when the
 * commit failed). A reader that misses takes a stamp, reads the store,
 * and passes both to dcache_fill(), which inserts nothing when any change
 * was made since the stamp: so a fill can never put back an entry that a
 * concurrent change removed. Absent names are not cached.
 *
 * Full: the least recently used entry goes. Thread-safe (one mutex, never
 * held across anything but memory). */
#ifndef DF_DCACHE_H
#define DF_DCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "fs/meta.h"

struct dcache;

/* A cache of at most max entries (rounded up to a power of two, at least
 * 16). 0 and *out, or -ENOMEM. */
int dcache_new(size_t max, struct dcache **out);
/* NULL is fine. */
void dcache_free(struct dcache *c);

/* 0 and *out when (parent, name) is cached, -ENOENT when it is not (which
 * says nothing about the store). */
int dcache_get(struct dcache *c, uint64_t parent, const char *name,
	       struct meta_dirent *out);
/* Taken before reading the store for dcache_fill(). */
uint64_t dcache_stamp(struct dcache *c);
/* Caches what the store said about (parent, name), unless a change was
 * made since stamp. */
void dcache_fill(struct dcache *c, uint64_t stamp, uint64_t parent,
		 const char *name, const struct meta_dirent *d);
/* After a committed change that made (parent, name) point at d. */
void dcache_set(struct dcache *c, uint64_t parent, const char *name,
		const struct meta_dirent *d);
/* After a change that removed or replaced (parent, name), committed or
 * not. */
void dcache_drop(struct dcache *c, uint64_t parent, const char *name);
/* Number of cached entries (tests). */
size_t dcache_count(struct dcache *c);

#endif
