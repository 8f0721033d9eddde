/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The S3 backend's extras beyond struct be_ops: counters, cache control and
 * object names, for tests, `dfabric-ctl` and tools that read a bucket.
 *
 * Object layout (see man/dfabric.conf.5): one object per extent copy,
 * named "<prefix><ino:016x>/<off:016x>.<version:016x>", holding the n data
 * bytes, then one little-endian XXH3-64 per block of the data (the last
 * block may be short), then a BE_S3_FOOTER-byte footer:
 *   0  "DFS3EXT1"            magic
 *   8  u64 n                 data bytes
 *   16 u32 block size        BE_S3_BLOCK (65536)
 *   20 u32 blocks            ceil(n / block size)
 *   24 u64 ino, 32 u64 off, 40 u64 version   the copy's identity
 *   48 u64 XXH3-64 (seed 0) of the checksums and footer bytes 0..47
 * A block's checksum is XXH3-64 with seed (ino ^ off * K1 ^ version * K2)
 * + block index, so a block moved within or between objects fails it. */
#ifndef DF_BACKENDS_S3_H
#define DF_BACKENDS_S3_H

#include <stddef.h>
#include <stdint.h>

#include "backends/backend.h"

#define BE_S3_BLOCK      (64u * 1024)          /* checksum block */
#define BE_S3_FOOTER     56u                   /* footer bytes */
#define BE_S3_MAX_EXTENT (64ull * 1024 * 1024) /* largest copy: one PUT */
#define BE_S3_KEY_MAX    (CFG_S3_PREFIX_MAX + 64) /* object key incl. NUL */

struct be_s3_stats {
	uint64_t requests;     /* HTTP requests sent, retries included */
	uint64_t retries;      /* of which retries */
	uint64_t gets;         /* GET requests (object bytes) */
	uint64_t puts;         /* PUT requests */
	uint64_t heads;        /* HEAD requests */
	uint64_t deletes;      /* DELETE requests */
	uint64_t lists;        /* bucket listings (pages) */
	uint64_t rx_bytes;     /* object bytes received by GETs */
	uint64_t tx_bytes;     /* object bytes sent by PUTs */
	uint64_t cache_hits;   /* blocks served from the block cache */
	uint64_t readahead;    /* blocks fetched ahead of a sequential reader */
	uint64_t prefetches;   /* copies read ahead on a hint (ext_prefetch) */
};

/* Counters of an S3 backend since it was opened; zeros when be is not an
 * s3 backend itself (a wrapper in front of one). */
void be_s3_get_stats(struct backend *be, struct be_s3_stats *out);

/* Forgets every cached trailer and block (tests: the next read goes to
 * the server). Waits for no fetch; fetches in flight fill nothing. */
void be_s3_drop_caches(struct backend *be);

/* The object key of copy x ("<prefix><ino>/<off>.<version>"). Returns the
 * length, or -ENAMETOOLONG. */
int be_s3_key(struct backend *be, const struct be_ext *x, char *buf,
	      size_t len);

/* Sets the block cache limit in bytes (default 64 MiB, at least one
 * block). */
void be_s3_set_cache_max(struct backend *be, size_t bytes);

#endif
