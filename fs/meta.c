// SPDX-License-Identifier: GPL-2.0-or-later
/* The metadata store: encoding of keys and records, and their life in
 * RocksDB (column families, batches, prefix scans, counters).
 *
 * DESIGN
 *
 * Keys: integers big-endian, so that RocksDB's byte order is numeric order;
 * names are raw bytes without their NUL. The dentries, xattrs and extents
 * column families have a fixed 8-byte prefix extractor (the inode number),
 * and every scan of them both asks RocksDB for prefix_same_as_start and
 * checks the prefix itself.
 *
 * Records: byte 0 is the kind (enum rec_kind), byte 1 the format version
 * (REC_VERSION), then the fields little-endian in a fixed order, variable
 * parts as a u32 length and the bytes, and last an XXH32 (seed 0) of every
 * byte before it. The decoder accepts a record only when the kind, version
 * and checksum match and the fields use exactly the bytes present; anything
 * else is -EUCLEAN with one log line naming the column family and the key.
 * Two exceptions follow the header: orphans have an empty value, and the
 * counters of the stats column family are a bare 8-byte little-endian int64
 * so that the merge operator can add them.
 *
 * Counters: the merge operator "dfabric.add_i64" adds 8-byte deltas. An
 * input that is not 8 bytes long does not fail the merge (that would fail
 * compactions and stop every write); the result becomes a short poison
 * value instead, which a read of that one counter reports as corrupt.
 *
 * Batches: the batch API has no struct meta, so a batch cannot name column
 * family handles. It records its operations in a byte buffer (op header,
 * key, value) and meta_commit() replays them into one RocksDB write batch.
 * A put with an argument that could never be read back (a name too long,
 * an xattr too big) marks the batch, and its commit is refused with that
 * errno; nothing of it is written.
 *
 * The sys key "meta.format" in the default column family holds the store's
 * layout version; meta_open() writes it in a new store and refuses a store
 * whose version it does not know. */
#include "fs/meta.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <rocksdb/c.h>
#include <xxhash.h>

#include "common/log.h"

#define META_CACHE_BYTES   (64u << 20)  /* LRU block cache shared by the CFs */
#define META_PREFIX_LEN    8            /* inode number in front of a key */
#define META_FORMAT_KEY    "meta.format"
#define META_FORMAT        2            /* layout version of this code */
#define META_MERGE_NAME    "dfabric.add_i64"

#define REC_VERSION 1
#define REC_HDR     2                   /* kind, version */
#define REC_CSUM    4                   /* trailing XXH32 */
#define REC_MIN     (REC_HDR + REC_CSUM)

enum rec_kind {
	REC_INODE = 1,
	REC_DIRENT = 2,
	REC_XATTR = 3,
	REC_EXTENT = 4,
	REC_SYMLINK = 5,
	REC_SYS_U64 = 6,
	REC_JOB = 7,
	REC_ACCESS = 8,
	REC_SYS_BLOB = 9,
};

/* Bytes of each record's fields between header and checksum. */
#define INODE_BODY  (4 * 4 + 8 * 2 + 4 * (8 + 4) + 8 + 4 + 8)
#define DIRENT_BODY (8 + 4)
#define EXTENT_BODY (8 + 8 + 4 + 4 + META_CSUM_MAX)
#define JOB_BODY    (4 + 4 + 8 * 3 + 4 + 4 + 8 * 5 + 8 + 8 + 4 + 8 + \
		     META_JOB_REASON_MAX)
#define SYS_BODY    8

/* What a counter becomes when a merge meets a malformed input. */
static const char counter_poison[] = "bad";

static const char *const cf_names[META_CF_COUNT] = {
	[META_CF_DEFAULT] = "default",
	[META_CF_INODES] = "inodes",
	[META_CF_DENTRIES] = "dentries",
	[META_CF_XATTRS] = "xattrs",
	[META_CF_EXTENTS] = "extents",
	[META_CF_SYMLINKS] = "symlinks",
	[META_CF_ORPHANS] = "orphans",
	[META_CF_STATS] = "stats",
	[META_CF_JOBS] = "jobs",
	[META_CF_ACCESS] = "access",
};

struct meta {
	rocksdb_t *db;                 /* the open store */
	rocksdb_column_family_handle_t *cf[META_CF_COUNT]; /* by enum meta_cf */
	rocksdb_cache_t *cache;        /* block cache shared by all CFs */
	rocksdb_readoptions_t *ro;     /* point reads and whole-CF scans */
	rocksdb_readoptions_t *ro_prefix; /* scans within one 8-byte prefix */
	rocksdb_writeoptions_t *wo;    /* commit(sync=0), debug puts */
	rocksdb_writeoptions_t *wo_sync; /* commit(sync=1) */
	char *dir;                     /* store directory, for messages */
};

enum batch_op_type {
	OP_PUT = 1,
	OP_DEL = 2,
	OP_MERGE = 3,
	OP_DEL_RANGE = 4,              /* key = begin, value = end (excluded) */
};

/* An operation in the buffer: type(1) cf(1) klen(4) vlen(4) key value. */
#define OP_HDR 10

struct meta_batch {
	uint8_t *buf;                  /* operations back to back */
	size_t len;                    /* bytes of buf in use */
	size_t cap;                    /* bytes allocated for buf */
	int count;                     /* changes appended (public calls) */
	int err;                       /* first failed put (-errno), or 0 */
};

/* ---- byte order ---- */

static void be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t be64_get(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void le32_put(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64_put(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64_get(const uint8_t *p)
{
	return (uint64_t)le32_get(p) | (uint64_t)le32_get(p + 4) << 32;
}

/* ---- record writer and reader ---- */

struct rec_w {
	uint8_t *p;                    /* record being written */
	size_t pos;                    /* next byte to write */
};

static void rec_begin(struct rec_w *w, uint8_t *p, enum rec_kind kind)
{
	w->p = p;
	p[0] = (uint8_t)kind;
	p[1] = REC_VERSION;
	w->pos = REC_HDR;
}

static void w_u32(struct rec_w *w, uint32_t v)
{
	le32_put(w->p + w->pos, v);
	w->pos += 4;
}

static void w_u64(struct rec_w *w, uint64_t v)
{
	le64_put(w->p + w->pos, v);
	w->pos += 8;
}

static void w_bytes(struct rec_w *w, const void *src, size_t n)
{
	if (n)
		memcpy(w->p + w->pos, src, n);
	w->pos += n;
}

static void w_time(struct rec_w *w, const struct timespec *ts)
{
	w_u64(w, (uint64_t)(int64_t)ts->tv_sec);
	w_u32(w, (uint32_t)ts->tv_nsec);
}

/* Appends the checksum; the record is then pos + REC_CSUM bytes long. */
static void rec_end(struct rec_w *w)
{
	le32_put(w->p + w->pos, XXH32(w->p, w->pos, 0));
	w->pos += REC_CSUM;
}

struct rec_r {
	const uint8_t *p;              /* record being read */
	size_t len;                    /* bytes before the checksum */
	size_t pos;                    /* next byte to read */
	int short_read;                /* a field ran past len */
};

/* Checks header and checksum. Returns NULL or why the record is bad. */
static const char *rec_open(struct rec_r *r, const void *val, size_t vlen,
			    enum rec_kind kind)
{
	const uint8_t *p = val;

	if (vlen < REC_MIN)
		return "record too short";
	if (p[0] != kind)
		return "wrong record kind";
	if (p[1] != REC_VERSION)
		return "unknown record format version";
	if (XXH32(p, vlen - REC_CSUM, 0) != le32_get(p + vlen - REC_CSUM))
		return "checksum mismatch";
	r->p = p;
	r->len = vlen - REC_CSUM;
	r->pos = REC_HDR;
	r->short_read = 0;
	return NULL;
}

static const uint8_t *r_bytes(struct rec_r *r, size_t n)
{
	const uint8_t *q;

	if (r->short_read || n > r->len - r->pos) {
		r->short_read = 1;
		return NULL;
	}
	q = r->p + r->pos;
	r->pos += n;
	return q;
}

static uint32_t r_u32(struct rec_r *r)
{
	const uint8_t *q = r_bytes(r, 4);

	return q ? le32_get(q) : 0;
}

static uint64_t r_u64(struct rec_r *r)
{
	const uint8_t *q = r_bytes(r, 8);

	return q ? le64_get(q) : 0;
}

/* Returns NULL or why the timestamp is bad. */
static const char *r_time(struct rec_r *r, struct timespec *ts)
{
	int64_t sec = (int64_t)r_u64(r);
	uint32_t nsec = r_u32(r);

	if (nsec >= 1000000000u)
		return "nanoseconds out of range";
	ts->tv_sec = (time_t)sec;
	ts->tv_nsec = (long)nsec;
	return NULL;
}

/* Returns NULL when every byte was used exactly, or why not. */
static const char *rec_close(struct rec_r *r)
{
	if (r->short_read)
		return "fields run past the record";
	if (r->pos != r->len)
		return "trailing bytes after the fields";
	return NULL;
}

/* ---- records ---- */

static int timespec_ok(const struct timespec *ts)
{
	return ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L;
}

static void enc_inode(uint8_t *p, const struct meta_inode *in)
{
	struct rec_w w;

	rec_begin(&w, p, REC_INODE);
	w_u32(&w, in->mode);
	w_u32(&w, in->uid);
	w_u32(&w, in->gid);
	w_u32(&w, in->nlink);
	w_u64(&w, in->size);
	w_u64(&w, in->rdev);
	w_time(&w, &in->atime);
	w_time(&w, &in->mtime);
	w_time(&w, &in->ctime);
	w_time(&w, &in->btime);
	w_u64(&w, in->blocks);
	w_u32(&w, in->flags);
	w_u64(&w, in->parent);
	rec_end(&w);
}

static const char *dec_inode(const void *val, size_t vlen, uint64_t ino,
			     struct meta_inode *out)
{
	struct meta_inode in = { .ino = ino };
	struct rec_r r;
	const char *why;

	why = rec_open(&r, val, vlen, REC_INODE);
	if (why)
		return why;
	in.mode = r_u32(&r);
	in.uid = r_u32(&r);
	in.gid = r_u32(&r);
	in.nlink = r_u32(&r);
	in.size = r_u64(&r);
	in.rdev = r_u64(&r);
	if ((why = r_time(&r, &in.atime)) || (why = r_time(&r, &in.mtime)) ||
	    (why = r_time(&r, &in.ctime)) || (why = r_time(&r, &in.btime)))
		return why;
	in.blocks = r_u64(&r);
	in.flags = r_u32(&r);
	in.parent = r_u64(&r);
	why = rec_close(&r);
	if (why)
		return why;
	*out = in;
	return NULL;
}

static void enc_dirent(uint8_t *p, const struct meta_dirent *d)
{
	struct rec_w w;

	rec_begin(&w, p, REC_DIRENT);
	w_u64(&w, d->ino);
	w_u32(&w, d->type);
	rec_end(&w);
}

static const char *dec_dirent(const void *val, size_t vlen,
			      struct meta_dirent *out)
{
	struct meta_dirent d;
	struct rec_r r;
	const char *why;

	why = rec_open(&r, val, vlen, REC_DIRENT);
	if (why)
		return why;
	d.ino = r_u64(&r);
	d.type = r_u32(&r);
	why = rec_close(&r);
	if (why)
		return why;
	if (d.type & ~(uint32_t)S_IFMT)
		return "file type has bits outside S_IFMT";
	*out = d;
	return NULL;
}

static void enc_extent(uint8_t *p, const struct meta_extent *e)
{
	struct rec_w w;

	rec_begin(&w, p, REC_EXTENT);
	w_u64(&w, e->len);
	w_u64(&w, e->version);
	w_u32(&w, e->tier);
	w_u32(&w, e->flags);
	w_bytes(&w, e->csum, sizeof(e->csum));
	rec_end(&w);
}

static const char *dec_extent(const void *val, size_t vlen, uint64_t off,
			      struct meta_extent *out)
{
	struct meta_extent e = { .off = off };
	const uint8_t *csum;
	struct rec_r r;
	const char *why;

	why = rec_open(&r, val, vlen, REC_EXTENT);
	if (why)
		return why;
	e.len = r_u64(&r);
	e.version = r_u64(&r);
	e.tier = r_u32(&r);
	e.flags = r_u32(&r);
	csum = r_bytes(&r, sizeof(e.csum));
	why = rec_close(&r);
	if (why)
		return why;
	memcpy(e.csum, csum, sizeof(e.csum));
	*out = e;
	return NULL;
}

static void enc_job(uint8_t *p, const struct meta_job *j)
{
	struct rec_w w;
	uint64_t prio;

	memcpy(&prio, &j->priority, sizeof(prio));
	rec_begin(&w, p, REC_JOB);
	w_u32(&w, j->state);
	w_u32(&w, j->flags);
	w_u64(&w, j->ino);
	w_u64(&w, j->off);
	w_u64(&w, j->len);
	w_u32(&w, j->dst_tier);
	w_u32(&w, j->src_tier);
	w_u64(&w, j->cur_off);
	w_u64(&w, j->cur_version);
	w_u64(&w, j->cur_len);
	w_u64(&w, j->bytes_total);
	w_u64(&w, j->bytes_done);
	w_u64(&w, (uint64_t)j->created);
	w_u64(&w, (uint64_t)j->updated);
	w_u32(&w, (uint32_t)j->err);
	w_u64(&w, prio);
	w_bytes(&w, j->reason, META_JOB_REASON_MAX);
	rec_end(&w);
}

static const char *dec_job(const void *val, size_t vlen, uint64_t id,
			   struct meta_job *out)
{
	struct meta_job j = { .id = id };
	const uint8_t *reason;
	struct rec_r r;
	const char *why;
	uint64_t prio;

	why = rec_open(&r, val, vlen, REC_JOB);
	if (why)
		return why;
	j.state = r_u32(&r);
	j.flags = r_u32(&r);
	j.ino = r_u64(&r);
	j.off = r_u64(&r);
	j.len = r_u64(&r);
	j.dst_tier = r_u32(&r);
	j.src_tier = r_u32(&r);
	j.cur_off = r_u64(&r);
	j.cur_version = r_u64(&r);
	j.cur_len = r_u64(&r);
	j.bytes_total = r_u64(&r);
	j.bytes_done = r_u64(&r);
	j.created = (int64_t)r_u64(&r);
	j.updated = (int64_t)r_u64(&r);
	j.err = (int32_t)r_u32(&r);
	prio = r_u64(&r);
	reason = r_bytes(&r, META_JOB_REASON_MAX);
	why = rec_close(&r);
	if (why)
		return why;
	if (j.state < META_JOB_PENDING || j.state > META_JOB_ROLLED_BACK)
		return "unknown job state";
	memcpy(&j.priority, &prio, sizeof(prio));
	memcpy(j.reason, reason, META_JOB_REASON_MAX);
	j.reason[META_JOB_REASON_MAX - 1] = 0;
	*out = j;
	return NULL;
}

/* The variable record of xattrs and symlinks: u32 length and bytes. */
static void enc_blob(uint8_t *p, enum rec_kind kind, const void *data,
		     size_t n)
{
	struct rec_w w;

	rec_begin(&w, p, kind);
	w_u32(&w, (uint32_t)n);
	w_bytes(&w, data, n);
	rec_end(&w);
}

static const char *dec_blob(const void *val, size_t vlen, enum rec_kind kind,
			    size_t max, const uint8_t **data, size_t *n)
{
	struct rec_r r;
	const char *why;
	uint32_t len;
	const uint8_t *q;

	why = rec_open(&r, val, vlen, kind);
	if (why)
		return why;
	len = r_u32(&r);
	q = r_bytes(&r, len);
	why = rec_close(&r);
	if (why)
		return why;
	if (len > max)
		return "value longer than allowed";
	*data = q;
	*n = len;
	return NULL;
}

static const char *dec_symlink(const void *val, size_t vlen,
			       const uint8_t **target, size_t *n)
{
	const char *why;

	why = dec_blob(val, vlen, REC_SYMLINK, META_SYMLINK_MAX, target, n);
	if (why)
		return why;
	if (*n == 0)
		return "empty symlink target";
	if (memchr(*target, 0, *n))
		return "NUL byte in symlink target";
	return NULL;
}

static void enc_sys_u64(uint8_t *p, uint64_t v)
{
	struct rec_w w;

	rec_begin(&w, p, REC_SYS_U64);
	w_u64(&w, v);
	rec_end(&w);
}

static const char *dec_sys_u64(const void *val, size_t vlen, uint64_t *out)
{
	struct rec_r r;
	const char *why;
	uint64_t v;

	why = rec_open(&r, val, vlen, REC_SYS_U64);
	if (why)
		return why;
	v = r_u64(&r);
	why = rec_close(&r);
	if (why)
		return why;
	*out = v;
	return NULL;
}

/* Checks a name taken from a key (dentries, xattrs). */
static const char *name_check(const uint8_t *name, size_t n, int is_dentry)
{
	if (n == 0)
		return "empty name in key";
	if (n > META_NAME_MAX)
		return "name in key longer than 255 bytes";
	if (memchr(name, 0, n))
		return "NUL byte in name";
	if (is_dentry && memchr(name, '/', n))
		return "slash in entry name";
	return NULL;
}

/* ---- messages ---- */

/* Appends s to buf at *pos as far as it fits. */
static void str_append(char *buf, size_t size, size_t *pos, const char *s)
{
	size_t n = strlen(s);

	if (*pos >= size || n + 1 > size - *pos)
		return;
	memcpy(buf + *pos, s, n + 1);
	*pos += n;
}

/* Appends bytes as a quoted string with unprintable bytes as \xNN. */
static void esc_append(char *buf, size_t size, size_t *pos, const uint8_t *s,
		       size_t n)
{
	char tmp[8];

	str_append(buf, size, pos, "\"");
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
			snprintf(tmp, sizeof(tmp), "%c", s[i]);
		else
			snprintf(tmp, sizeof(tmp), "\\x%02x", s[i]);
		str_append(buf, size, pos, tmp);
	}
	str_append(buf, size, pos, "\"");
}

/* Appends up to 64 bytes in hex. */
static void hex_append(char *buf, size_t size, size_t *pos, const uint8_t *s,
		       size_t n)
{
	char tmp[4];

	str_append(buf, size, pos, "0x");
	for (size_t i = 0; i < n && i < 64; i++) {
		snprintf(tmp, sizeof(tmp), "%02x", s[i]);
		str_append(buf, size, pos, tmp);
	}
	if (n > 64)
		str_append(buf, size, pos, "...");
}

/* Describes a key of column family cf for a log line. */
static void key_describe(enum meta_cf cf, const uint8_t *k, size_t klen,
			 char *buf, size_t size)
{
	char tmp[80];
	size_t pos = 0;

	buf[0] = 0;
	switch (cf) {
	case META_CF_INODES:
	case META_CF_SYMLINKS:
	case META_CF_ORPHANS:
		if (klen != 8)
			break;
		snprintf(buf, size, "ino %" PRIu64, be64_get(k));
		return;
	case META_CF_DENTRIES:
	case META_CF_XATTRS:
		if (klen < 8)
			break;
		snprintf(tmp, sizeof(tmp), "%s %" PRIu64 " name ",
			 cf == META_CF_DENTRIES ? "parent" : "ino", be64_get(k));
		str_append(buf, size, &pos, tmp);
		esc_append(buf, size, &pos, k + 8, klen - 8);
		return;
	case META_CF_ACCESS:
		if (klen == 8) {
			snprintf(buf, size, "ino %" PRIu64, be64_get(k));
			return;
		}
		/* fall through */
	case META_CF_EXTENTS:
		if (klen != 16)
			break;
		snprintf(buf, size, "ino %" PRIu64 " offset %" PRIu64,
			 be64_get(k), be64_get(k + 8));
		return;
	default:
		str_append(buf, size, &pos, "key ");
		esc_append(buf, size, &pos, k, klen);
		return;
	}
	snprintf(tmp, sizeof(tmp), "malformed key of %zu bytes ", klen);
	str_append(buf, size, &pos, tmp);
	hex_append(buf, size, &pos, k, klen);
}

/* Logs a corrupt record once and returns -EUCLEAN. */
static int meta_corrupt(struct meta *m, enum meta_cf cf, const void *key,
			size_t klen, const char *why)
{
	char desc[1200];

	key_describe(cf, key, klen, desc, sizeof(desc));
	log_err("metadata store %s: corrupt record in column family %s, %s: %s",
		m->dir, cf_names[cf], desc, why);
	return -EUCLEAN;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Nearest errno of a RocksDB status string. */
static int rocks_errno(const char *msg)
{
	if (!strncmp(msg, "Corruption", 10))
		return -EUCLEAN;
	if (strstr(msg, "No space left"))
		return -ENOSPC;
	if (strstr(msg, "lock file") || strstr(msg, "LOCK"))
		return -EBUSY;
	if (strstr(msg, "Permission denied"))
		return -EACCES;
	if (!strncmp(msg, "Invalid argument", 16))
		return -EINVAL;
	return -EIO;
}

/* ---- counters' merge operator ---- */

static void merge_destroy(void *state)
{
}

static const char *merge_name(void *state)
{
	return META_MERGE_NAME;
}

static void merge_free(void *state, const char *value, size_t len)
{
	free((void *)value);
}

static char *merge_result(int ok, uint64_t sum, unsigned char *success,
			  size_t *new_len)
{
	char *out;
	size_t n = ok ? 8 : sizeof(counter_poison) - 1;

	out = malloc(n);
	if (!out) {
		*success = 0;
		return NULL;
	}
	if (ok)
		le64_put((uint8_t *)out, sum);
	else
		memcpy(out, counter_poison, n);
	*success = 1;
	*new_len = n;
	return out;
}

/* Unsigned sums: int64 addition that wraps instead of overflowing. */
static char *merge_full(void *state, const char *key, size_t klen,
			const char *existing, size_t elen,
			const char *const *ops, const size_t *op_lens, int nops,
			unsigned char *success, size_t *new_len)
{
	uint64_t sum = 0;
	int ok = 1;

	if (existing) {
		if (elen == 8)
			sum = le64_get((const uint8_t *)existing);
		else
			ok = 0;
	}
	for (int i = 0; i < nops && ok; i++) {
		if (op_lens[i] != 8)
			ok = 0;
		else
			sum += le64_get((const uint8_t *)ops[i]);
	}
	return merge_result(ok, sum, success, new_len);
}

static char *merge_partial(void *state, const char *key, size_t klen,
			   const char *const *ops, const size_t *op_lens,
			   int nops, unsigned char *success, size_t *new_len)
{
	uint64_t sum = 0;

	for (int i = 0; i < nops; i++) {
		if (op_lens[i] != 8) {
			/* Keep the operands; the full merge poisons. */
			*success = 0;
			return NULL;
		}
		sum += le64_get((const uint8_t *)ops[i]);
	}
	return merge_result(1, sum, success, new_len);
}

/* ---- open and close ---- */

void meta_close(struct meta *m)
{
	if (!m)
		return;
	for (int i = 0; i < META_CF_COUNT; i++)
		if (m->cf[i])
			rocksdb_column_family_handle_destroy(m->cf[i]);
	if (m->db)
		rocksdb_close(m->db);
	if (m->cache)
		rocksdb_cache_destroy(m->cache);
	if (m->ro)
		rocksdb_readoptions_destroy(m->ro);
	if (m->ro_prefix)
		rocksdb_readoptions_destroy(m->ro_prefix);
	if (m->wo)
		rocksdb_writeoptions_destroy(m->wo);
	if (m->wo_sync)
		rocksdb_writeoptions_destroy(m->wo_sync);
	free(m->dir);
	free(m);
}

/* Checks that the directory containing `dir` exists. */
static int parent_check(const char *dir, char *err, size_t errlen)
{
	char *parent;
	size_t n;
	struct stat st;
	int rc = 0;

	parent = strdup(dir);
	if (!parent) {
		set_err(err, errlen, "cannot open metadata store %s: out of memory",
			dir);
		return -ENOMEM;
	}
	n = strlen(parent);
	while (n > 1 && parent[n - 1] == '/')
		parent[--n] = 0;
	while (n > 0 && parent[n - 1] != '/')
		n--;
	while (n > 1 && parent[n - 1] == '/')
		n--;
	if (n == 0)
		strcpy(parent, ".");
	else
		parent[n] = 0;
	if (stat(parent, &st) < 0) {
		rc = -errno;
		set_err(err, errlen,
			"cannot open metadata store %s: parent directory %s: %s",
			dir, parent, rc == -ENOENT ? "does not exist" :
			"cannot be examined");
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		rc = -ENOTDIR;
		set_err(err, errlen,
			"cannot open metadata store %s: %s is not a directory",
			dir, parent);
	}
out:
	free(parent);
	return rc;
}

/* The index of our column family called name, -1 for another. */
static int cf_of(const char *name)
{
	for (int c = 0; c < META_CF_COUNT; c++)
		if (!strcmp(name, cf_names[c]))
			return c;
	return -1;
}

/* Whether column family cf holds no key. */
static int cf_empty(struct meta *m, enum meta_cf cf)
{
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(m->db, m->ro,
							    m->cf[cf]);
	int empty;

	rocksdb_iter_seek_to_first(it);
	empty = !rocksdb_iter_valid(it);
	rocksdb_iter_destroy(it);
	return empty;
}

/* What the format record read (rc, v) says of the store: 0 this format,
 * 1 none and the store may get one (`created` by this open, or what a
 * crash while creating one leaves: no family of another program and no
 * inode), else -errno with a message: a damaged store, a RocksDB
 * directory of something else, another format. m->cf[META_CF_INODES]
 * may be NULL (no such family). */
static int format_verdict(struct meta *m, int rc, uint64_t v, int created,
			  int others, char *err, size_t errlen)
{
	if (rc == -ENOENT && !created &&
	    (others || (m->cf[META_CF_INODES] &&
			!cf_empty(m, META_CF_INODES)))) {
		set_err(err, errlen,
			"cannot open metadata store %s: it has no format record "
			"(%s): not a dfabric store, or a damaged one", m->dir,
			others ? "and column families of another program" :
			"but holds inodes");
		return -EUCLEAN;
	}
	if (rc == -ENOENT)
		return 1;
	if (rc < 0) {
		set_err(err, errlen,
			"cannot open metadata store %s: %s sys record %s", m->dir,
			rc == -EUCLEAN ? "corrupt" : "cannot read", META_FORMAT_KEY);
		return rc;
	}
	if (v != META_FORMAT) {
		set_err(err, errlen,
			"cannot open metadata store %s: format version %" PRIu64
			" is not supported (this build knows %d)",
			m->dir, v, META_FORMAT);
		return -ENOTSUP;
	}
	return 0;
}

/* Reads or writes the layout version of the store (format_verdict). */
static int format_check(struct meta *m, int created, int others,
			char *err, size_t errlen)
{
	uint8_t rec[REC_MIN + SYS_BODY];
	uint64_t v = 0;
	char *rerr = NULL;
	int rc;

	rc = meta_get_sys_u64(m, META_FORMAT_KEY, &v);
	rc = format_verdict(m, rc, v, created, others, err, errlen);
	if (rc == 1) {
		enc_sys_u64(rec, META_FORMAT);
		rocksdb_put_cf(m->db, m->wo_sync, m->cf[META_CF_DEFAULT],
			       META_FORMAT_KEY, strlen(META_FORMAT_KEY),
			       (const char *)rec, sizeof(rec), &rerr);
		if (rerr) {
			rc = rocks_errno(rerr);
			set_err(err, errlen,
				"cannot open metadata store %s: writing its format version: %s",
				m->dir, rerr);
			rocksdb_free(rerr);
			return rc;
		}
		return 0;
	}
	return rc;
}

/* Column family options: the base plus what each family needs. */
static rocksdb_options_t *cf_options(rocksdb_options_t *base,
				     enum meta_cf cf)
{
	rocksdb_options_t *o = rocksdb_options_create_copy(base);

	switch (cf) {
	case META_CF_DENTRIES:
	case META_CF_XATTRS:
	case META_CF_EXTENTS:
	case META_CF_ACCESS:
		/* The options take ownership of the transform. */
		rocksdb_options_set_prefix_extractor(o,
			rocksdb_slicetransform_create_fixed_prefix(META_PREFIX_LEN));
		break;
	case META_CF_STATS:
		/* Same name on every open, or RocksDB refuses the CF. */
		rocksdb_options_set_merge_operator(o,
			rocksdb_mergeoperator_create(NULL, merge_destroy,
						     merge_full, merge_partial,
						     merge_free, merge_name));
		break;
	default:
		break;
	}
	return o;
}

/* -EUCLEAN (with a message) when directory dir holds tables or write-ahead
 * logs of RocksDB, 0 when it holds none (or does not exist). */
static int data_files(const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if ((n > 4 && !strcmp(de->d_name + n - 4, ".sst")) ||
		    (n > 4 && !strcmp(de->d_name + n - 4, ".log") &&
		     isdigit((unsigned char)de->d_name[0]))) {
			set_err(err, errlen,
				"cannot open metadata store %s: it has no CURRENT "
				"file but holds data (%s): restore CURRENT, or "
				"move the directory away to start a new store",
				dir, de->d_name);
			rc = -EUCLEAN;
			break;
		}
	}
	closedir(d);
	return rc;
}

/* A store on disk that lacks some of our column families: reads its
 * format record with a read-only open first, since the open proper
 * creates the missing families, which a store refused must not get.
 * 0 when the open may go on: the record names this format, or there is
 * none and the store is what a crash while creating one leaves (only our
 * families, no inode yet); else -ENOTSUP or -EUCLEAN with a message. */
static int preflight(struct meta *m, rocksdb_options_t *base,
		     char **existing, size_t nexisting, char *err,
		     size_t errlen)
{
	const rocksdb_options_t **cfo = calloc(nexisting, sizeof(*cfo));
	rocksdb_column_family_handle_t **h = calloc(nexisting, sizeof(*h));
	int dflt = -1, inodes = -1, foreign = 0, rc;
	char *rerr = NULL;
	uint64_t v = 0;

	if (!cfo || !h) {
		free(cfo);
		free(h);
		set_err(err, errlen, "cannot open metadata store %s: out of memory",
			m->dir);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nexisting; i++) {
		int c = cf_of(existing[i]);

		cfo[i] = base;
		foreign |= c < 0;
		if (c == META_CF_DEFAULT)
			dflt = (int)i;
		if (c == META_CF_INODES)
			inodes = (int)i;
	}
	m->db = rocksdb_open_for_read_only_column_families(base, m->dir,
		(int)nexisting, (const char *const *)existing, cfo, h, 0, &rerr);
	if (rerr) {
		rc = rocks_errno(rerr);
		set_err(err, errlen, "cannot open metadata store %s: %s", m->dir,
			rerr);
		rocksdb_free(rerr);
		m->db = NULL;
		free(cfo);
		free(h);
		return rc;
	}
	m->cf[META_CF_DEFAULT] = dflt >= 0 ? h[dflt] : NULL;
	m->cf[META_CF_INODES] = inodes >= 0 ? h[inodes] : NULL;
	rc = dflt >= 0 ? meta_get_sys_u64(m, META_FORMAT_KEY, &v) : -ENOENT;
	rc = format_verdict(m, rc, v, 0, foreign, err, errlen);
	if (rc == 1)
		rc = 0;
	for (size_t i = 0; i < nexisting; i++)
		rocksdb_column_family_handle_destroy(h[i]);
	rocksdb_close(m->db);
	m->db = NULL;
	m->cf[META_CF_DEFAULT] = m->cf[META_CF_INODES] = NULL;
	free(cfo);
	free(h);
	return rc;
}

/* Failures are not logged: the message in err is the caller's to log. */
int meta_open(const char *dir, struct meta **out, char *err, size_t errlen)
{
	struct meta *m = NULL;
	rocksdb_options_t *base = NULL;
	rocksdb_block_based_table_options_t *table = NULL;
	rocksdb_options_t **cfo = NULL;
	const char **names = NULL;
	rocksdb_column_family_handle_t **handles = NULL;
	char **existing = NULL;
	size_t nexisting = 0, total = META_CF_COUNT, nours = 0;
	char *rerr = NULL;
	char *current = NULL;
	struct stat st;
	int rc, created = 0;

	*out = NULL;
	if (!dir || !*dir) {
		set_err(err, errlen, "cannot open metadata store: empty path");
		return -EINVAL;
	}
	rc = parent_check(dir, err, errlen);
	if (rc)
		return rc;

	rc = -ENOMEM;
	m = calloc(1, sizeof(*m));
	if (!m || !(m->dir = strdup(dir))) {
		set_err(err, errlen, "cannot open metadata store %s: out of memory",
			dir);
		goto out;
	}
	m->cache = rocksdb_cache_create_lru(META_CACHE_BYTES);
	m->ro = rocksdb_readoptions_create();
	m->ro_prefix = rocksdb_readoptions_create();
	rocksdb_readoptions_set_prefix_same_as_start(m->ro_prefix, 1);
	m->wo = rocksdb_writeoptions_create();
	m->wo_sync = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(m->wo_sync, 1);

	base = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(base, 1);
	rocksdb_options_set_create_missing_column_families(base, 1);
	rocksdb_options_increase_parallelism(base, 2);
	rocksdb_options_set_keep_log_file_num(base, 4);
	/* Writers are few and ns_lock serialises the namespace ones: one
	 * thread applying a write group costs less than the synchronisation
	 * of concurrent memtable inserts, measured on unlink. */
	rocksdb_options_set_allow_concurrent_memtable_write(base, 0);
	rocksdb_options_set_enable_write_thread_adaptive_yield(base, 0);
	table = rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_cache(table, m->cache);
	/* The table options take ownership of the filter policy. */
	rocksdb_block_based_options_set_filter_policy(table,
		rocksdb_filterpolicy_create_bloom_full(10));
	rocksdb_options_set_block_based_table_factory(base, table);

	/* Every column family on disk must be opened, ours and any other. */
	existing = rocksdb_list_column_families(base, dir, &nexisting, &rerr);
	if (rerr) {
		if (asprintf(&current, "%s/CURRENT", dir) < 0) {
			current = NULL;
			set_err(err, errlen,
				"cannot open metadata store %s: out of memory", dir);
			goto out;
		}
		if (stat(current, &st) == 0 || errno != ENOENT) {
			rc = rocks_errno(rerr);
			set_err(err, errlen,
				"cannot open metadata store %s: listing its column families: %s",
				dir, rerr);
			goto out;
		}
		/* No CURRENT: a new store, which RocksDB creates with our
		 * families, unless data files are there. Then CURRENT was
		 * lost, and a store made anew over them would delete them. */
		if ((rc = data_files(dir, err, errlen)) < 0)
			goto out;
		rocksdb_free(rerr);
		rerr = NULL;
		nexisting = 0;
		created = 1;
	}
	for (size_t i = 0; i < nexisting; i++) {
		if (cf_of(existing[i]) < 0)
			total++;
		else
			nours++;
	}
	/* A store without some of our families, which the open would
	 * create: its format record is checked first. */
	if (nexisting && nours < META_CF_COUNT &&
	    (rc = preflight(m, base, existing, nexisting, err, errlen)) < 0)
		goto out;
	cfo = calloc(total, sizeof(*cfo));
	names = calloc(total, sizeof(*names));
	handles = calloc(total, sizeof(*handles));
	if (!cfo || !names || !handles) {
		set_err(err, errlen, "cannot open metadata store %s: out of memory",
			dir);
		goto out;
	}
	for (int c = 0; c < META_CF_COUNT; c++) {
		names[c] = cf_names[c];
		cfo[c] = cf_options(base, (enum meta_cf)c);
	}
	for (size_t i = 0, k = META_CF_COUNT; i < nexisting; i++) {
		if (cf_of(existing[i]) >= 0)
			continue;
		log_warn("metadata store %s: unknown column family %s, opened and left alone",
			 dir, existing[i]);
		names[k] = existing[i];
		cfo[k++] = rocksdb_options_create_copy(base);
	}

	m->db = rocksdb_open_column_families(base, dir, (int)total, names,
					     (const rocksdb_options_t *const *)cfo,
					     handles, &rerr);
	if (rerr) {
		rc = rocks_errno(rerr);
		set_err(err, errlen, "cannot open metadata store %s: %s", dir,
			rerr);
		m->db = NULL;
		goto out;
	}
	for (int c = 0; c < META_CF_COUNT; c++)
		m->cf[c] = handles[c];
	/* Handles of unknown families are not needed; the families stay. */
	for (size_t i = META_CF_COUNT; i < total; i++)
		rocksdb_column_family_handle_destroy(handles[i]);

	rc = format_check(m, created, total > META_CF_COUNT, err, errlen);
	if (rc)
		goto out;
	*out = m;
	m = NULL;
	rc = 0;
out:
	if (rerr)
		rocksdb_free(rerr);
	if (cfo)
		for (size_t i = 0; i < total; i++)
			if (cfo[i])
				rocksdb_options_destroy(cfo[i]);
	free(cfo);
	free(names);
	free(handles);
	if (existing)
		rocksdb_list_column_families_destroy(existing, nexisting);
	free(current);
	if (table)
		rocksdb_block_based_options_destroy(table);
	if (base)
		rocksdb_options_destroy(base);
	meta_close(m);
	return rc;
}

/* ---- point reads ---- */

/* RocksDB counts into a per-thread perf context unless told not to, and
 * the level is per thread: switch it off once in every thread that reads
 * or writes. Nothing here reads those counters. */
static void perf_off(void)
{
	static __thread int done;

	if (!done) {
		rocksdb_set_perf_level(1);  /* kDisable */
		done = 1;
	}
}

/* Reads a raw value; the caller frees *val with rocksdb_free().
 * 0, -ENOENT, -EUCLEAN (RocksDB found corruption) or -EIO. */
static int get_raw(struct meta *m, enum meta_cf cf, const void *key,
		   size_t klen, char **val, size_t *vlen)
{
	char *rerr = NULL;
	char desc[1200];
	int rc;

	perf_off();
	*val = rocksdb_get_cf(m->db, m->ro, m->cf[cf], key, klen, vlen, &rerr);
	if (rerr) {
		rc = rocks_errno(rerr) == -EUCLEAN ? -EUCLEAN : -EIO;
		key_describe(cf, key, klen, desc, sizeof(desc));
		log_err("metadata store %s: reading column family %s, %s: %s",
			m->dir, cf_names[cf], desc, rerr);
		rocksdb_free(rerr);
		if (*val)
			rocksdb_free(*val);
		*val = NULL;
		return rc;
	}
	return *val ? 0 : -ENOENT;
}

int meta_get_inode(struct meta *m, uint64_t ino, struct meta_inode *out)
{
	uint8_t key[8];
	char *val;
	size_t vlen;
	const char *why;
	int rc;

	be64_put(key, ino);
	rc = get_raw(m, META_CF_INODES, key, sizeof(key), &val, &vlen);
	if (rc)
		return rc;
	why = dec_inode(val, vlen, ino, out);
	if (why)
		rc = meta_corrupt(m, META_CF_INODES, key, sizeof(key), why);
	rocksdb_free(val);
	return rc;
}

/* Builds parent(8) + name into key (8 + META_NAME_MAX bytes). Returns the
 * key length, or -EINVAL / -ENAMETOOLONG. */
static int name_key(uint8_t *key, uint64_t parent, const char *name,
		    size_t max)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0)
		return -EINVAL;
	if (n > max)
		return -ENAMETOOLONG;
	be64_put(key, parent);
	memcpy(key + 8, name, n);
	return (int)(8 + n);
}

int meta_get_dirent(struct meta *m, uint64_t parent, const char *name,
		    struct meta_dirent *out)
{
	uint8_t key[8 + META_NAME_MAX];
	char *val;
	size_t vlen;
	const char *why;
	int rc, klen;

	klen = name_key(key, parent, name, META_NAME_MAX);
	if (klen < 0)
		return klen;
	rc = get_raw(m, META_CF_DENTRIES, key, (size_t)klen, &val, &vlen);
	if (rc)
		return rc;
	why = dec_dirent(val, vlen, out);
	if (why)
		rc = meta_corrupt(m, META_CF_DENTRIES, key, (size_t)klen, why);
	rocksdb_free(val);
	return rc;
}

int meta_get_symlink(struct meta *m, uint64_t ino, char *buf, size_t n)
{
	uint8_t key[8];
	char *val;
	size_t vlen, tlen;
	const uint8_t *target;
	const char *why;
	int rc;

	be64_put(key, ino);
	rc = get_raw(m, META_CF_SYMLINKS, key, sizeof(key), &val, &vlen);
	if (rc)
		return rc;
	why = dec_symlink(val, vlen, &target, &tlen);
	if (why) {
		rc = meta_corrupt(m, META_CF_SYMLINKS, key, sizeof(key), why);
	} else if (tlen + 1 > n) {
		rc = -ENAMETOOLONG;
	} else {
		memcpy(buf, target, tlen);
		buf[tlen] = 0;
	}
	rocksdb_free(val);
	return rc;
}

/* A name longer than META_XATTR_NAME_MAX gives -ERANGE, as getxattr(2). */
int meta_get_xattr(struct meta *m, uint64_t ino, const char *name, void *buf,
		   size_t size)
{
	uint8_t key[8 + META_XATTR_NAME_MAX];
	char *val;
	size_t vlen, n;
	const uint8_t *data;
	const char *why;
	int rc, klen;

	klen = name_key(key, ino, name, META_XATTR_NAME_MAX);
	if (klen < 0)
		return klen == -ENAMETOOLONG ? -ERANGE : klen;
	rc = get_raw(m, META_CF_XATTRS, key, (size_t)klen, &val, &vlen);
	if (rc)
		return rc == -ENOENT ? -ENODATA : rc;
	why = dec_blob(val, vlen, REC_XATTR, META_XATTR_SIZE_MAX, &data, &n);
	if (why) {
		rc = meta_corrupt(m, META_CF_XATTRS, key, (size_t)klen, why);
	} else if (size > 0 && n > size) {
		rc = -ERANGE;
	} else {
		if (size > 0 && n > 0)
			memcpy(buf, data, n);
		rc = (int)n;
	}
	rocksdb_free(val);
	return rc;
}

int meta_get_sys_u64(struct meta *m, const char *key, uint64_t *out)
{
	char *val;
	size_t vlen, klen = key ? strlen(key) : 0;
	const char *why;
	int rc;

	if (klen == 0)
		return -EINVAL;
	rc = get_raw(m, META_CF_DEFAULT, key, klen, &val, &vlen);
	if (rc)
		return rc;
	why = dec_sys_u64(val, vlen, out);
	if (why)
		rc = meta_corrupt(m, META_CF_DEFAULT, key, klen, why);
	rocksdb_free(val);
	return rc;
}

int meta_get_sys_blob(struct meta *m, const char *key, void **out,
		      size_t *len)
{
	char *val;
	size_t vlen, klen = key ? strlen(key) : 0, n;
	const uint8_t *body;
	const char *why;
	int rc;

	if (klen == 0)
		return -EINVAL;
	rc = get_raw(m, META_CF_DEFAULT, key, klen, &val, &vlen);
	if (rc)
		return rc;
	why = dec_blob(val, vlen, REC_SYS_BLOB, META_SYS_BLOB_MAX, &body, &n);
	if (why) {
		rc = meta_corrupt(m, META_CF_DEFAULT, key, klen, why);
	} else if (!(*out = malloc(n ? n : 1))) {
		rc = -ENOMEM;
	} else {
		memcpy(*out, body, n);
		*len = n;
	}
	rocksdb_free(val);
	return rc;
}

int meta_get_counter(struct meta *m, const char *key, int64_t *out)
{
	char *val;
	size_t vlen, klen = key ? strlen(key) : 0;
	int rc;

	if (klen == 0)
		return -EINVAL;
	rc = get_raw(m, META_CF_STATS, key, klen, &val, &vlen);
	if (rc == -ENOENT) {
		*out = 0;
		return 0;
	}
	if (rc)
		return rc;
	if (vlen != 8)
		rc = meta_corrupt(m, META_CF_STATS, key, klen,
				  "counter is not 8 bytes");
	else
		*out = (int64_t)le64_get((const uint8_t *)val);
	rocksdb_free(val);
	return rc;
}

/* ---- iterations ---- */

/* Called for each key of a scan; returns 0 to go on. */
typedef int (*scan_fn)(struct meta *m, void *ctx, const uint8_t *key,
		       size_t klen, const uint8_t *val, size_t vlen);

/* Visits the keys of cf from `start` (NULL: the first) while they begin
 * with the 8 bytes of `prefix` (NULL: all keys). Returns 0, what fn
 * returned, or -EIO. */
static int scan(struct meta *m, enum meta_cf cf, const uint8_t *prefix,
		const uint8_t *start, size_t slen, scan_fn fn, void *ctx)
{
	rocksdb_iterator_t *it;
	const uint8_t *k, *v;
	size_t klen, vlen;
	char *rerr = NULL;
	int rc = 0;

	perf_off();
	it = rocksdb_create_iterator_cf(m->db, prefix ? m->ro_prefix : m->ro,
					m->cf[cf]);
	if (start)
		rocksdb_iter_seek(it, (const char *)start, slen);
	else
		rocksdb_iter_seek_to_first(it);
	for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		k = (const uint8_t *)rocksdb_iter_key(it, &klen);
		if (prefix && (klen < META_PREFIX_LEN ||
			       memcmp(k, prefix, META_PREFIX_LEN)))
			break;
		v = (const uint8_t *)rocksdb_iter_value(it, &vlen);
		rc = fn(m, ctx, k, klen, v, vlen);
		if (rc)
			goto out;
	}
	rocksdb_iter_get_error(it, &rerr);
	if (rerr) {
		rc = rocks_errno(rerr) == -EUCLEAN ? -EUCLEAN : -EIO;
		log_err("metadata store %s: scanning column family %s: %s",
			m->dir, cf_names[cf], rerr);
		rocksdb_free(rerr);
	}
out:
	rocksdb_iter_destroy(it);
	return rc;
}

struct readdir_ctx {
	const uint8_t *after;          /* skip names up to this one, or NULL */
	size_t after_len;              /* bytes of after */
	meta_dirent_cb cb;             /* the caller's callback */
	void *arg;                     /* its argument */
};

static int readdir_one(struct meta *m, void *ctx, const uint8_t *key,
		       size_t klen, const uint8_t *val, size_t vlen)
{
	struct readdir_ctx *c = ctx;
	const uint8_t *name = key + 8;
	size_t n = klen - 8;
	char buf[META_NAME_MAX + 1];
	struct meta_dirent d;
	const char *why;

	if (c->after) {
		size_t common = n < c->after_len ? n : c->after_len;
		int cmp = memcmp(name, c->after, common);

		if (cmp < 0 || (cmp == 0 && n <= c->after_len))
			return 0;
	}
	why = name_check(name, n, 1);
	if (!why)
		why = dec_dirent(val, vlen, &d);
	if (why)
		return meta_corrupt(m, META_CF_DENTRIES, key, klen, why);
	memcpy(buf, name, n);
	buf[n] = 0;
	return c->cb(c->arg, buf, &d);
}

int meta_readdir(struct meta *m, uint64_t parent, const char *after,
		 meta_dirent_cb cb, void *arg)
{
	struct readdir_ctx c = { .cb = cb, .arg = arg };
	uint8_t start[8 + META_NAME_MAX + 1];
	size_t slen = 8;

	be64_put(start, parent);
	if (after) {
		c.after = (const uint8_t *)after;
		c.after_len = strlen(after);
		/* Seek to at most the first 256 bytes (a key not past the
		 * wanted one); readdir_one() skips the rest exactly. */
		slen += c.after_len < META_NAME_MAX + 1 ? c.after_len :
			META_NAME_MAX + 1;
		memcpy(start + 8, after, slen - 8);
	}
	return scan(m, META_CF_DENTRIES, start, start, slen, readdir_one, &c);
}

static int stop_at_first(struct meta *m, void *ctx, const uint8_t *key,
			 size_t klen, const uint8_t *val, size_t vlen)
{
	return 1;
}

/* Any key under the prefix counts, even a corrupt one: not empty. */
int meta_dir_empty(struct meta *m, uint64_t parent)
{
	uint8_t prefix[8];
	int rc;

	be64_put(prefix, parent);
	rc = scan(m, META_CF_DENTRIES, prefix, prefix, sizeof(prefix),
		  stop_at_first, NULL);
	if (rc < 0)
		return rc;
	return rc == 1 ? 0 : 1;
}

struct xattr_ctx {
	meta_name_cb cb;               /* the caller's callback */
	void *arg;                     /* its argument */
};

static int xattr_one(struct meta *m, void *ctx, const uint8_t *key,
		     size_t klen, const uint8_t *val, size_t vlen)
{
	struct xattr_ctx *c = ctx;
	char buf[META_XATTR_NAME_MAX + 1];
	const uint8_t *data;
	size_t n;
	const char *why;

	/* A name that is not one cannot be listed; a value that does not
	 * decode is the value's damage, not the name's: listed, so that it
	 * can be seen and removed (meta_get_xattr reports it). Neither
	 * keeps the other names of the inode from being listed. */
	why = name_check(key + 8, klen - 8, 0);
	if (why) {
		meta_corrupt(m, META_CF_XATTRS, key, klen, why);
		return 0;
	}
	why = dec_blob(val, vlen, REC_XATTR, META_XATTR_SIZE_MAX, &data, &n);
	if (why)
		meta_corrupt(m, META_CF_XATTRS, key, klen, why);
	memcpy(buf, key + 8, klen - 8);
	buf[klen - 8] = 0;
	return c->cb(c->arg, buf);
}

int meta_list_xattrs(struct meta *m, uint64_t ino, meta_name_cb cb, void *arg)
{
	struct xattr_ctx c = { .cb = cb, .arg = arg };
	uint8_t prefix[8];

	be64_put(prefix, ino);
	return scan(m, META_CF_XATTRS, prefix, prefix, sizeof(prefix),
		    xattr_one, &c);
}

struct extents_ctx {
	struct meta_extent *v;         /* extents so far */
	size_t n;                      /* used entries of v */
	size_t cap;                    /* allocated entries of v */
};

static int extent_one(struct meta *m, void *ctx, const uint8_t *key,
		      size_t klen, const uint8_t *val, size_t vlen)
{
	struct extents_ctx *c = ctx;
	struct meta_extent e;
	const char *why;

	if (klen != 16)
		return meta_corrupt(m, META_CF_EXTENTS, key, klen,
				    "extent key is not 16 bytes");
	why = dec_extent(val, vlen, be64_get(key + 8), &e);
	if (why)
		return meta_corrupt(m, META_CF_EXTENTS, key, klen, why);
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct meta_extent *v = realloc(c->v, cap * sizeof(*v));

		if (!v) {
			log_err("metadata store %s: out of memory loading %zu extents",
				m->dir, c->n);
			return -ENOMEM;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = e;
	return 0;
}

int meta_load_extents(struct meta *m, uint64_t ino, struct meta_extent **out,
		      size_t *n)
{
	struct extents_ctx c = { 0 };
	uint8_t prefix[8];
	int rc;

	*out = NULL;
	*n = 0;
	be64_put(prefix, ino);
	rc = scan(m, META_CF_EXTENTS, prefix, prefix, sizeof(prefix),
		  extent_one, &c);
	if (rc) {
		free(c.v);
		return rc;
	}
	*out = c.v;
	*n = c.n;
	return 0;
}

struct access_ctx {
	meta_access_cb cb;             /* the caller's callback */
	void *arg;                     /* its argument */
};

static int access_one(struct meta *m, void *ctx, const uint8_t *key,
		      size_t klen, const uint8_t *val, size_t vlen)
{
	struct access_ctx *c = ctx;
	struct access_stats st;
	struct access_series se;
	const uint8_t *body;
	const char *why;
	size_t n;
	uint64_t ino, off;
	int has_se = 0;

	if (klen != 8 && klen != 16) {
		meta_corrupt(m, META_CF_ACCESS, key, klen,
			     "access key is not 8 or 16 bytes");
		return 0;  /* cannot be named for a delete: skipped */
	}
	ino = be64_get(key);
	off = klen == 16 ? be64_get(key + 8) : META_ACCESS_FILE;
	if (klen == 16 && off == META_ACCESS_FILE) {
		/* it would pass for the file's record (8 bytes), and a
		 * delete of it would delete that one */
		meta_corrupt(m, META_CF_ACCESS, key, klen,
			     "access key of an extent at the file's offset");
		return 0;
	}
	/* The statistics, then (since the predictor) the history. */
	why = dec_blob(val, vlen, REC_ACCESS, STATS_ENC_SIZE + SERIES_ENC_SIZE,
		       &body, &n);
	if (!why && n != STATS_ENC_SIZE && n != STATS_ENC_SIZE + SERIES_ENC_SIZE)
		why = "statistics record of a wrong size";
	if (!why && stats_decode(body, STATS_ENC_SIZE, &st) < 0)
		why = "bad statistics record";
	if (!why && n > STATS_ENC_SIZE) {
		if (series_decode(body + STATS_ENC_SIZE, SERIES_ENC_SIZE, &se) < 0)
			why = "bad access history record";
		has_se = 1;
	}
	if (why) {
		meta_corrupt(m, META_CF_ACCESS, key, klen, why);
		return c->cb(c->arg, ino, off, NULL, NULL);
	}
	return c->cb(c->arg, ino, off, &st, has_se ? &se : NULL);
}

int meta_list_access(struct meta *m, meta_access_cb cb, void *arg)
{
	struct access_ctx c = { .cb = cb, .arg = arg };

	return scan(m, META_CF_ACCESS, NULL, NULL, 0, access_one, &c);
}

struct ino_ctx {
	meta_ino_cb cb;                /* the caller's callback */
	void *arg;                     /* its argument */
};

static int orphan_one(struct meta *m, void *ctx, const uint8_t *key,
		      size_t klen, const uint8_t *val, size_t vlen)
{
	struct ino_ctx *c = ctx;

	if (klen != 8)
		return meta_corrupt(m, META_CF_ORPHANS, key, klen,
				    "orphan key is not 8 bytes");
	if (vlen != 0)
		return meta_corrupt(m, META_CF_ORPHANS, key, klen,
				    "orphan value is not empty");
	return c->cb(c->arg, be64_get(key));
}

int meta_list_orphans(struct meta *m, meta_ino_cb cb, void *arg)
{
	struct ino_ctx c = { .cb = cb, .arg = arg };

	return scan(m, META_CF_ORPHANS, NULL, NULL, 0, orphan_one, &c);
}

struct job_ctx {
	meta_job_cb cb;                /* the caller's callback */
	void *arg;                     /* its argument */
};

static int job_one(struct meta *m, void *ctx, const uint8_t *key,
		   size_t klen, const uint8_t *val, size_t vlen)
{
	struct job_ctx *c = ctx;
	struct meta_job j;
	const char *why;

	if (klen != 8)
		return meta_corrupt(m, META_CF_JOBS, key, klen,
				    "job key is not 8 bytes");
	why = dec_job(val, vlen, be64_get(key), &j);
	if (why)
		return meta_corrupt(m, META_CF_JOBS, key, klen, why);
	return c->cb(c->arg, &j);
}

int meta_list_jobs(struct meta *m, meta_job_cb cb, void *arg)
{
	struct job_ctx c = { .cb = cb, .arg = arg };

	return scan(m, META_CF_JOBS, NULL, NULL, 0, job_one, &c);
}

struct inode_ctx {
	meta_inode_cb cb;              /* the caller's callback */
	void *arg;                     /* its argument */
};

static int inode_one(struct meta *m, void *ctx, const uint8_t *key,
		     size_t klen, const uint8_t *val, size_t vlen)
{
	struct inode_ctx *c = ctx;
	struct meta_inode in;
	const char *why;

	if (klen != 8)
		return meta_corrupt(m, META_CF_INODES, key, klen,
				    "inode key is not 8 bytes");
	why = dec_inode(val, vlen, be64_get(key), &in);
	if (why)
		return meta_corrupt(m, META_CF_INODES, key, klen, why);
	return c->cb(c->arg, &in);
}

int meta_list_inodes(struct meta *m, meta_inode_cb cb, void *arg)
{
	struct inode_ctx c = { .cb = cb, .arg = arg };

	return scan(m, META_CF_INODES, NULL, NULL, 0, inode_one, &c);
}

/* ---- batches ---- */

struct meta_batch *meta_batch_new(void)
{
	return calloc(1, sizeof(struct meta_batch));
}

void meta_batch_free(struct meta_batch *b)
{
	if (!b)
		return;
	free(b->buf);
	free(b);
}

void meta_batch_clear(struct meta_batch *b)
{
	b->len = 0;
	b->count = 0;
	b->err = 0;
}

int meta_batch_count(const struct meta_batch *b)
{
	return b->count;
}

/* Marks the batch as failed with rc (the first failure wins). */
static void batch_fail(struct meta_batch *b, int rc)
{
	if (!b->err)
		b->err = rc;
}

/* Appends an operation and returns where its key goes (the value follows
 * the key), or NULL when the batch has failed. */
static uint8_t *batch_op(struct meta_batch *b, enum batch_op_type type,
			 enum meta_cf cf, size_t klen, size_t vlen)
{
	size_t need = OP_HDR + klen + vlen;
	uint32_t k32 = (uint32_t)klen, v32 = (uint32_t)vlen;
	uint8_t *p;

	if (b->err)
		return NULL;
	if (need > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *buf;

		while (cap - b->len < need)
			cap *= 2;
		buf = realloc(b->buf, cap);
		if (!buf) {
			log_err("metadata batch: out of memory growing to %zu bytes",
				cap);
			batch_fail(b, -ENOMEM);
			return NULL;
		}
		b->buf = buf;
		b->cap = cap;
	}
	p = b->buf + b->len;
	p[0] = (uint8_t)type;
	p[1] = (uint8_t)cf;
	memcpy(p + 2, &k32, 4);
	memcpy(p + 6, &v32, 4);
	b->len += need;
	return p + OP_HDR;
}

/* Appends a key of ino(8) + name with room for vlen value bytes. */
static uint8_t *batch_name_op(struct meta_batch *b, enum batch_op_type type,
			      enum meta_cf cf, uint64_t ino, const char *name,
			      size_t vlen)
{
	size_t n = strlen(name);
	uint8_t *p = batch_op(b, type, cf, 8 + n, vlen);

	if (!p)
		return NULL;
	be64_put(p, ino);
	memcpy(p + 8, name, n);
	return p + 8 + n;
}

/* Refuses a name that could not be read back; 0 when it is fine. */
static int batch_name_ok(struct meta_batch *b, const char *what, uint64_t ino,
			 const char *name, int is_dentry)
{
	size_t n = name ? strlen(name) : 0;
	int rc = 0;

	if (n == 0)
		rc = -EINVAL;
	else if (n > META_NAME_MAX)
		rc = is_dentry ? -ENAMETOOLONG : -ERANGE;
	else if (is_dentry && strchr(name, '/'))
		rc = -EINVAL;
	if (rc) {
		log_err("metadata batch: refusing %s name of %zu bytes under inode %" PRIu64
			" (empty, too long or with a slash)", what, n, ino);
		batch_fail(b, rc);
	}
	return rc;
}

void meta_put_inode(struct meta_batch *b, const struct meta_inode *inode)
{
	uint8_t *p;

	b->count++;
	if (!timespec_ok(&inode->atime) || !timespec_ok(&inode->mtime) ||
	    !timespec_ok(&inode->ctime) || !timespec_ok(&inode->btime)) {
		log_err("metadata batch: inode %" PRIu64
			" has a timestamp with nanoseconds out of range",
			inode->ino);
		batch_fail(b, -EINVAL);
		return;
	}
	p = batch_op(b, OP_PUT, META_CF_INODES, 8, REC_MIN + INODE_BODY);
	if (!p)
		return;
	be64_put(p, inode->ino);
	enc_inode(p + 8, inode);
}

void meta_put_dirent(struct meta_batch *b, uint64_t parent, const char *name,
		     const struct meta_dirent *d)
{
	uint8_t *v;

	b->count++;
	if (batch_name_ok(b, "entry", parent, name, 1))
		return;
	if (d->type & ~(uint32_t)S_IFMT) {
		log_err("metadata batch: entry type %#x under inode %" PRIu64
			" has bits outside S_IFMT", d->type, parent);
		batch_fail(b, -EINVAL);
		return;
	}
	v = batch_name_op(b, OP_PUT, META_CF_DENTRIES, parent, name,
			  REC_MIN + DIRENT_BODY);
	if (v)
		enc_dirent(v, d);
}

void meta_del_dirent(struct meta_batch *b, uint64_t parent, const char *name)
{
	b->count++;
	if (batch_name_ok(b, "entry", parent, name, 1))
		return;
	batch_name_op(b, OP_DEL, META_CF_DENTRIES, parent, name, 0);
}

void meta_put_xattr(struct meta_batch *b, uint64_t ino, const char *name,
		    const void *value, size_t size)
{
	uint8_t *v;

	b->count++;
	if (batch_name_ok(b, "xattr", ino, name, 0))
		return;
	if (size > META_XATTR_SIZE_MAX) {
		log_err("metadata batch: xattr value of %zu bytes on inode %" PRIu64
			" is larger than %d", size, ino, META_XATTR_SIZE_MAX);
		batch_fail(b, -E2BIG);
		return;
	}
	v = batch_name_op(b, OP_PUT, META_CF_XATTRS, ino, name,
			  REC_MIN + 4 + size);
	if (v)
		enc_blob(v, REC_XATTR, value, size);
}

void meta_del_xattr(struct meta_batch *b, uint64_t ino, const char *name)
{
	b->count++;
	if (batch_name_ok(b, "xattr", ino, name, 0))
		return;
	batch_name_op(b, OP_DEL, META_CF_XATTRS, ino, name, 0);
}

void meta_put_extent(struct meta_batch *b, uint64_t ino,
		     const struct meta_extent *e)
{
	uint8_t *p;

	b->count++;
	p = batch_op(b, OP_PUT, META_CF_EXTENTS, 16, REC_MIN + EXTENT_BODY);
	if (!p)
		return;
	be64_put(p, ino);
	be64_put(p + 8, e->off);
	enc_extent(p + 16, e);
}

void meta_del_extent(struct meta_batch *b, uint64_t ino, uint64_t off)
{
	uint8_t *p;

	b->count++;
	p = batch_op(b, OP_DEL, META_CF_EXTENTS, 16, 0);
	if (!p)
		return;
	be64_put(p, ino);
	be64_put(p + 8, off);
}

void meta_put_job(struct meta_batch *b, const struct meta_job *j)
{
	uint8_t *p;

	b->count++;
	p = batch_op(b, OP_PUT, META_CF_JOBS, 8, REC_MIN + JOB_BODY);
	if (!p)
		return;
	be64_put(p, j->id);
	enc_job(p + 8, j);
}

void meta_del_job(struct meta_batch *b, uint64_t id)
{
	uint8_t *p;

	b->count++;
	p = batch_op(b, OP_DEL, META_CF_JOBS, 8, 0);
	if (p)
		be64_put(p, id);
}

void meta_put_symlink(struct meta_batch *b, uint64_t ino, const char *target)
{
	size_t n = target ? strlen(target) : 0;
	uint8_t *p;

	b->count++;
	if (n == 0 || n > META_SYMLINK_MAX) {
		log_err("metadata batch: refusing symlink target of %zu bytes for inode %" PRIu64,
			n, ino);
		batch_fail(b, n ? -ENAMETOOLONG : -EINVAL);
		return;
	}
	p = batch_op(b, OP_PUT, META_CF_SYMLINKS, 8, REC_MIN + 4 + n);
	if (!p)
		return;
	be64_put(p, ino);
	enc_blob(p + 8, REC_SYMLINK, target, n);
}

static void batch_ino_op(struct meta_batch *b, enum batch_op_type type,
			 enum meta_cf cf, uint64_t ino)
{
	uint8_t *p = batch_op(b, type, cf, 8, 0);

	if (p)
		be64_put(p, ino);
}

void meta_put_orphan(struct meta_batch *b, uint64_t ino)
{
	b->count++;
	batch_ino_op(b, OP_PUT, META_CF_ORPHANS, ino);
}

void meta_del_orphan(struct meta_batch *b, uint64_t ino)
{
	b->count++;
	batch_ino_op(b, OP_DEL, META_CF_ORPHANS, ino);
}

/* Deletes every key of cf that starts with ino(8). */
static void batch_del_prefix(struct meta_batch *b, enum meta_cf cf,
			     uint64_t ino)
{
	/* The end key is ino+1; for the last inode number no such key
	 * exists, so use ino followed by more 0xff bytes than any of our
	 * keys holds after its prefix. */
	size_t elen = ino == UINT64_MAX ? 8 + META_NAME_MAX + 1 : 8;
	uint8_t *p = batch_op(b, OP_DEL_RANGE, cf, 8, elen);

	if (!p)
		return;
	be64_put(p, ino);
	if (ino == UINT64_MAX)
		memset(p + 8, 0xff, elen);
	else
		be64_put(p + 8, ino + 1);
}

void meta_del_inode(struct meta_batch *b, uint64_t ino, uint32_t mode)
{
	b->count++;
	batch_ino_op(b, OP_DEL, META_CF_INODES, ino);
	if (S_ISLNK(mode))
		batch_ino_op(b, OP_DEL, META_CF_SYMLINKS, ino);
}

void meta_del_inode_all(struct meta_batch *b, uint64_t ino)
{
	b->count++;
	batch_ino_op(b, OP_DEL, META_CF_INODES, ino);
	batch_ino_op(b, OP_DEL, META_CF_SYMLINKS, ino);
	batch_del_prefix(b, META_CF_XATTRS, ino);
	batch_del_prefix(b, META_CF_EXTENTS, ino);
}

/* The put of a record of vlen bytes under sys key `key` into b: where
 * the record goes, or NULL (the batch failed; an empty key is refused). */
static uint8_t *sys_put_op(struct meta_batch *b, const char *key, size_t vlen)
{
	size_t n = key ? strlen(key) : 0;
	uint8_t *p;

	b->count++;
	if (n == 0) {
		log_err("metadata batch: refusing an empty sys key");
		batch_fail(b, -EINVAL);
		return NULL;
	}
	p = batch_op(b, OP_PUT, META_CF_DEFAULT, n, vlen);
	if (!p)
		return NULL;
	memcpy(p, key, n);
	return p + n;
}

void meta_put_sys_blob(struct meta_batch *b, const char *key,
		       const void *data, size_t len)
{
	uint8_t *p;

	if (len > META_SYS_BLOB_MAX) {
		/* meta_get_sys_blob would take it for a corrupt record */
		log_err("metadata batch: refusing sys blob %s of %zu bytes "
			"(at most %u)", key, len, META_SYS_BLOB_MAX);
		batch_fail(b, -E2BIG);
		return;
	}
	p = sys_put_op(b, key, REC_MIN + 4 + len);

	if (p)
		enc_blob(p, REC_SYS_BLOB, data, len);
}

void meta_put_sys_u64(struct meta_batch *b, const char *key, uint64_t v)
{
	uint8_t *p = sys_put_op(b, key, REC_MIN + SYS_BODY);

	if (p)
		enc_sys_u64(p, v);
}

static uint8_t *access_key_op(struct meta_batch *b, enum batch_op_type type,
			      uint64_t ino, uint64_t off, size_t vlen)
{
	size_t klen = off == META_ACCESS_FILE ? 8 : 16;
	uint8_t *p;

	b->count++;
	p = batch_op(b, type, META_CF_ACCESS, klen, vlen);
	if (!p)
		return NULL;
	be64_put(p, ino);
	if (klen == 16)
		be64_put(p + 8, off);
	return p + klen;
}

void meta_put_access(struct meta_batch *b, uint64_t ino, uint64_t off,
		     const struct access_stats *st,
		     const struct access_series *se)
{
	uint8_t enc[STATS_ENC_SIZE + SERIES_ENC_SIZE];
	size_t n = se ? sizeof(enc) : STATS_ENC_SIZE;
	uint8_t *p = access_key_op(b, OP_PUT, ino, off, REC_MIN + 4 + n);

	if (!p)
		return;
	stats_encode(st, enc);
	if (se)
		series_encode(se, enc + STATS_ENC_SIZE);
	enc_blob(p, REC_ACCESS, enc, n);
}

void meta_del_access(struct meta_batch *b, uint64_t ino, uint64_t off)
{
	access_key_op(b, OP_DEL, ino, off, 0);
}

static void counter_op(struct meta_batch *b, int op, const char *key,
		       int64_t v)
{
	size_t n = key ? strlen(key) : 0;
	uint8_t *p;

	b->count++;
	if (n == 0) {
		log_err("metadata batch: refusing an empty counter key");
		batch_fail(b, -EINVAL);
		return;
	}
	p = batch_op(b, op, META_CF_STATS, n, 8);
	if (!p)
		return;
	memcpy(p, key, n);
	le64_put(p + n, (uint64_t)v);
}

void meta_add_counter(struct meta_batch *b, const char *key, int64_t delta)
{
	counter_op(b, OP_MERGE, key, delta);
}

void meta_put_counter(struct meta_batch *b, const char *key, int64_t v)
{
	counter_op(b, OP_PUT, key, v);
}

_Atomic int meta_debug_fail_commits;
_Atomic int meta_debug_fail_syncs;

/* Takes one from a test's count of faults to come: 1 when there was one. */
static int debug_fault(_Atomic int *left)
{
	int n = atomic_load(left);

	while (n > 0 && !atomic_compare_exchange_weak(left, &n, n - 1))
		;
	return n > 0;
}

/* The refusal of a failed batch was logged when the put failed. */
int meta_commit(struct meta *m, struct meta_batch *b, int sync)
{
	rocksdb_writebatch_t *wb;
	char *rerr = NULL;
	size_t pos = 0;
	int rc = 0;

	if (b->err)
		return b->err;
	if (b->len == 0)
		return sync ? meta_sync(m) : 0;
	if (debug_fault(&meta_debug_fail_commits))
		return -EIO;    /* a test's fault */
	perf_off();
	wb = rocksdb_writebatch_create();
	while (pos < b->len) {
		const uint8_t *p = b->buf + pos;
		rocksdb_column_family_handle_t *cf = m->cf[p[1]];
		uint32_t klen, vlen;
		const char *k, *v;

		memcpy(&klen, p + 2, 4);
		memcpy(&vlen, p + 6, 4);
		k = (const char *)p + OP_HDR;
		v = k + klen;
		switch (p[0]) {
		case OP_PUT:
			rocksdb_writebatch_put_cf(wb, cf, k, klen, v, vlen);
			break;
		case OP_DEL:
			rocksdb_writebatch_delete_cf(wb, cf, k, klen);
			break;
		case OP_MERGE:
			rocksdb_writebatch_merge_cf(wb, cf, k, klen, v, vlen);
			break;
		case OP_DEL_RANGE:
			rocksdb_writebatch_delete_range_cf(wb, cf, k, klen, v,
							   vlen);
			break;
		}
		pos += OP_HDR + klen + vlen;
	}
	/* sync=0: the WAL reaches the OS, which survives a daemon crash;
	 * sync=1: RocksDB fsyncs the WAL before returning. */
	rocksdb_write(m->db, sync ? m->wo_sync : m->wo, wb, &rerr);
	if (rerr) {
		log_err("metadata store %s: commit of %d changes failed: %s",
			m->dir, b->count, rerr);
		rocksdb_free(rerr);
		rc = -EIO;
	}
	rocksdb_writebatch_destroy(wb);
	return rc;
}

int meta_sync(struct meta *m)
{
	char *rerr = NULL;

	if (debug_fault(&meta_debug_fail_syncs)) {
		log_err("metadata store %s: syncing the WAL failed: a test's "
			"fault", m->dir);
		return -EIO;
	}
	/* Without manual_wal_flush the WAL is already written; this syncs
	 * it to the device. */
	rocksdb_flush_wal(m->db, 1, &rerr);
	if (rerr) {
		log_err("metadata store %s: syncing the WAL failed: %s", m->dir,
			rerr);
		rocksdb_free(rerr);
		return -EIO;
	}
	return 0;
}

int meta_debug_put_raw(struct meta *m, enum meta_cf cf, const void *key,
		       size_t klen, const void *val, size_t vlen)
{
	char *rerr = NULL;

	if ((int)cf < 0 || cf >= META_CF_COUNT)
		return -EINVAL;
	rocksdb_put_cf(m->db, m->wo, m->cf[cf], key, klen, val, vlen, &rerr);
	if (rerr) {
		log_err("metadata store %s: raw put into %s failed: %s", m->dir,
			cf_names[cf], rerr);
		rocksdb_free(rerr);
		return -EIO;
	}
	return 0;
}
