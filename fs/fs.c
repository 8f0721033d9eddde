// SPDX-License-Identifier: GPL-2.0-or-later
/* The file operations of dfabric on the metadata store and the tiers.
 *
 * DESIGN
 * - The namespace lives in RocksDB (fs/meta.h). An inode that the kernel
 *   knows (lookup count > 0), that is open, or that an operation is using
 *   has an in-memory twin, struct inode_mem, found through a hash table.
 *   The twin is authoritative while it exists: every change is made to it
 *   under its lock and written through to RocksDB in one batch before the
 *   lock is dropped, so a twin can be freed at any time it is unused.
 * - Locks, always taken in this order: f->ns_lock (every operation that
 *   changes a directory), then inode locks (ascending inode number when
 *   several), then f->itab_lock (the hash table and the counts nlookup,
 *   nopen, refs; never held across anything but memory). Data operations
 *   take only the inode lock: reads share it, writes hold it alone. No
 *   lock is held across a synced RocksDB write or an fsync.
 * - Data: a file is a sequence of extents aligned to the extent size; each
 *   says which tier holds its bytes. A local tier keeps one sparse file per
 *   inode with the extents at their logical offsets (backends/local.c).
 *   A write lands in the extent's tier, or for a new extent on the fastest
 *   tier below its high watermark. Bytes are written to the tier before the
 *   metadata that makes them visible, so a crash of the daemon never shows
 *   garbage: the kernel keeps the tier file's written pages.
 * - Unlink of an inode still known to the kernel or open keeps it as an
 *   orphan (nlink 0, listed in the orphans family); the last forget or
 *   release destroys it: tier files first, then the records. Orphans left
 *   by a crash are destroyed at the next start.
 * - Names: fs/dcache.c caches (parent, name) -> child for names recently
 *   created, looked up or renamed, so that unlink and lookup of such a name
 *   read nothing from RocksDB. Every change of an entry updates the cache
 *   after its commit and before ns_lock is dropped; see fs/dcache.h.
 * - Durability: every change is committed unsynced (it survives a crash of
 *   the daemon); fsync syncs the inode's tier files and then RocksDB's WAL.
 * - Tier ids: extents name a tier by a persistent id, so that tiers may be
 *   renamed in order. Pseudo-inode 0 holds fabric-wide records: its xattr
 *   "tier.<id>" is the name of tier <id>.
 */
#include "fs/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "backends/backend.h"
#include "backends/local.h"
#include "backends/s3.h"
#include "common/clock.h"
#include "common/log.h"
#include "fs/dcache.h"
#include "fs/meta.h"
#include "tiering/migrate.h"
#include "tiering/placer.h"
#include "tiering/predictor.h"
#include "tiering/profile.h"
#include "tiering/score.h"

#define ROOT_INO        1
#define MAX_TIER_IDS    256
#define ITAB_SIZE       65536          /* hash buckets, power of two */
#define DCACHE_ENTRIES  65536          /* directory entries cached */
#define LINK_MAX_DF     65000          /* like ext4 */
/* The largest file, ext4's with 4 KiB blocks (2^32 - 1 of them): EFBIG
 * above; a write that crosses it is short, as there. */
#define FILE_SIZE_MAX   ((1ULL << 44) - 4096)
#define XATTR_PREFIX    "user.dfabric."
#define LAT_WEIGHT      0.05           /* EWMA weight of a new latency sample */
#define DIRTY_FLUSH_MS  1000           /* deferred directory times stored within */
#define INODES_EXACT    "inodes.exact" /* sys key: the stored count is exact */

struct tier_rt {
	struct backend *be;            /* the tier's backend */
	const struct cfg_tier *cfg;    /* its configuration */
	uint32_t id;                   /* persistent id in extent records */
	_Atomic int64_t used;          /* bytes of extents on it */
	_Atomic int64_t extents;       /* extents on it */
	_Atomic int64_t files;         /* inodes with an extent on it */
	_Atomic uint64_t lat_bits;     /* EWMA of seconds per extent read (double) */
	_Atomic uint64_t lat_n;        /* extent reads timed */
	_Atomic int fs_full;           /* its filesystem answered ENOSPC: new
					* extents go there only once it has
					* room again (pick_tier) */
};

/* A migration writing its copies of [off, end) on tier index dst (while
 * on; mh_claim): no new extent of that range goes there meanwhile, or
 * the copy would land on its bytes. Its fields are written under the
 * inode's lock and the fabric's hold_lock both. */
struct mig_claim {
	int on;                        /* in use */
	int dst;                       /* the tier index written */
	int hold;                      /* writes into the range wait
					* (write_range): the last try of a
					* migration whose extent kept
					* changing */
	uint64_t off, end;             /* the range */
};

struct inode_mem {
	uint64_t ino;                  /* immutable */
	struct inode_mem *hnext;       /* hash chain; itab_lock */
	uint64_t nlookup;              /* kernel references; itab_lock */
	uint32_t nopen;                /* open handles; itab_lock */
	uint32_t refs;                 /* operations using it; itab_lock */
	pthread_rwlock_t lock;         /* protects the fields below */
	struct meta_inode a;           /* attributes, as committed */
	int ext_loaded;                /* ext holds all extents */
	struct meta_extent *ext;       /* extents sorted by offset */
	size_t next;                   /* number of extents in ext */
	size_t cap;                    /* allocated slots of ext */
	int destroyed;                 /* records and data are gone */
	int dirty;                     /* a's times are newer than its record
					* (dir_touch) until the flusher or
					* fsyncdir stores them */
	struct score_policy pol;       /* effective policies; loaded with a */
	unsigned pol_set;              /* POL_* bits of the xattrs set */
	unsigned pol_bad;              /* POL_* bits of records there that
					* cannot be read (pol_load) */
	unsigned pol_stray;            /* ... that do not parse here */
	/* The migrations writing copies of this file's data (mh_claim). */
	struct mig_claim mig[MIG_FILE_JOBS];
};

/* An open file or directory handle is on its fabric's list until it is
 * released. A RELEASE the kernel queued behind the last request the
 * daemon reads (at a signal exit, or when DESTROY comes first) is never
 * served: fs_fabric_close frees what is left. */
struct hlink {
	struct hlink *prev, *next;
};

struct fabric {
	const struct cfg *cfg;         /* immutable */
	struct meta *meta;             /* the store */
	uint64_t es;                   /* extent size */
	int ntiers;                    /* immutable */
	struct tier_rt tiers[CFG_MAX_TIERS];
	int id2idx[MAX_TIER_IDS];      /* tier id -> index, -1 if none */
	pthread_mutex_t ns_lock;       /* directory changes, next_ino */
	pthread_mutex_t hold_lock;     /* inode_mem.mig, hold_cv */
	pthread_cond_t hold_cv;        /* a hold ended */
	uint64_t next_ino;             /* ns_lock */
	pthread_mutex_t itab_lock;     /* itab, and counts in inode_mem */
	struct inode_mem **itab;       /* ITAB_SIZE chains; itab_lock */
	_Atomic int64_t ninodes;       /* inodes in the namespace */
	_Atomic int64_t nopen;         /* inodes open now */
	struct migrator *mig;          /* the migration engine */
	_Atomic uint64_t vclock;       /* last extent version handed out */
	struct dcache *dcache;         /* committed entries; see dcache.h */
	struct profile *prof;          /* the access profiler */
	struct placer *placer;         /* automatic placement */
	struct predictor *pred;        /* forecasts; NULL with [predict] enabled = no */
	_Atomic int64_t pred_saved;    /* unix ns its state was last stored */
	pthread_mutex_t dirty_lock;    /* the fields below */
	pthread_cond_t dirty_cv;       /* wakes the flusher to stop */
	uint64_t *dirty;               /* directories with deferred times */
	size_t ndirty, dirty_cap;
	int dirty_stop;                /* the flusher should end */
	int dirty_thread;              /* the flusher runs */
	pthread_t dirty_tid;
	atomic_int dirty_failed;       /* the last store failed (logged once) */
	int inodes_loaded;             /* ninodes is the count (inodes_load) */
	struct hlink files, dirs;      /* open handles (heads); itab_lock */
};

struct fs_file {
	struct hlink link;             /* first: on f->files */
	struct inode_mem *im;          /* holds a ref and an open count */
	int flags;                     /* open(2) flags */
	uint32_t uid;                  /* who opened it, for the profiler */
	pid_t pid;
	pthread_mutex_t rd_lock;       /* the read run below */
	uint64_t rd_ext;               /* extent of the run, UINT64_MAX none */
	uint64_t rd_lo, rd_hi;         /* the bytes the run read there */
	uint64_t rd_bits;              /* its 64ths of the extent read */
};

struct dir_ent {
	char *name;                    /* entry name */
	uint64_t ino;                  /* its inode */
	uint32_t type;                 /* S_IFMT bits */
};

struct fs_dir {
	struct hlink link;             /* first: on f->dirs */
	uint64_t ino;                  /* the directory */
	uint64_t parent;               /* its parent, for ".." */
	struct dir_ent *ents;          /* snapshot taken at offset 0 */
	size_t n;                      /* entries in ents */
	size_t cap;                    /* slots in ents */
	pthread_mutex_t lock;          /* readdir calls on one handle */
};

/* ---------------------------------------------------------------- */
/* small helpers */

static void hlink_init(struct hlink *head)
{
	head->prev = head->next = head;
}

static void hlink_add(struct hlink *head, struct hlink *l)
{
	l->prev = head;
	l->next = head->next;
	head->next->prev = l;
	head->next = l;
}

static void hlink_del(struct hlink *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
}

static struct timespec now_ts(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

/* One access for the profiler (tiering/profile.h); never blocks. */
static void prof_emit(struct fabric *f, const struct fs_file *fh,
		      enum stats_op op, uint64_t ext_off, uint64_t off,
		      uint64_t len, int tier, int cont, int64_t t)
{
	struct profile_event ev = {
		.ino = fh->im->ino, .ext_off = ext_off, .off = off,
		.len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len,
		.op = (uint8_t)op, .tier = (int8_t)tier, .cont = (uint8_t)cont,
		.time = t, .uid = fh->uid, .pid = fh->pid,
	};

	profile_emit(f->prof, &ev);
}

/* Folds one timed extent read into tier idx's moving average. A CAS loop
 * on the bits of a double: readers of other tiers never meet here. */
static void lat_add(struct fabric *f, int idx, const struct timespec *a,
		    const struct timespec *b)
{
	struct tier_rt *t = &f->tiers[idx];
	double secs = (double)(b->tv_sec - a->tv_sec) +
		      (double)(b->tv_nsec - a->tv_nsec) / 1e9;
	uint64_t old = atomic_load(&t->lat_bits), nb;
	double cur, next;

	if (atomic_fetch_add(&t->lat_n, 1) == 0) {
		memcpy(&nb, &secs, sizeof(nb));
		atomic_store(&t->lat_bits, nb);
		return;
	}
	do {
		memcpy(&cur, &old, sizeof(cur));
		next = cur + LAT_WEIGHT * (secs - cur);
		memcpy(&nb, &next, sizeof(nb));
	} while (!atomic_compare_exchange_weak(&t->lat_bits, &old, nb));
}

static int name_check(const char *name)
{
	size_t n = strlen(name);

	if (n == 0)
		return -ENOENT;
	if (n > META_NAME_MAX)
		return -ENAMETOOLONG;
	if (strchr(name, '/'))
		return -EINVAL;
	return 0;
}

static void tier_key(char *buf, size_t n, uint32_t id, const char *what)
{
	snprintf(buf, n, "t%u.%s", id, what);
}

static int commit(struct fabric *f, struct meta_batch *b)
{
	int rc = meta_commit(f->meta, b, 0);

	return rc < 0 ? rc : 0;
}

static void attr_to_stat(const struct meta_inode *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = a->size;
	st->st_blksize = 4096;
	st->st_blocks = a->blocks;
	st->st_atim = a->atime;
	st->st_mtim = a->mtime;
	st->st_ctim = a->ctime;
}

/* Account a change of the extents on tier `idx`, in memory and in b. */
static void tier_account(struct fabric *f, struct meta_batch *b, int idx,
			 int64_t dbytes, int64_t dext, int64_t dfiles)
{
	struct tier_rt *t = &f->tiers[idx];
	char key[48];

	if (dbytes) {
		atomic_fetch_add(&t->used, dbytes);
		tier_key(key, sizeof(key), t->id, "bytes");
		meta_add_counter(b, key, dbytes);
	}
	if (dext) {
		atomic_fetch_add(&t->extents, dext);
		tier_key(key, sizeof(key), t->id, "extents");
		meta_add_counter(b, key, dext);
	}
	if (dfiles) {
		atomic_fetch_add(&t->files, dfiles);
		tier_key(key, sizeof(key), t->id, "files");
		meta_add_counter(b, key, dfiles);
	}
}

static int tier_idx(struct fabric *f, uint32_t id)
{
	return id < MAX_TIER_IDS ? f->id2idx[id] : -1;
}

/* A new version for an extent now at `cur`: from a fabric-wide clock, so
 * that an (inode, offset, version) never names two different contents,
 * not even after the extent was removed and made again (an object store
 * keeps one object per version). Starts at the time in ns at each open. */
static uint64_t next_version(struct fabric *f, uint64_t cur)
{
	uint64_t v = atomic_fetch_add(&f->vclock, 1) + 1;

	return v > cur ? v : cur + 1;
}

/* Raises the version clock to at least v: a version a migration hands
 * out (the snapshot's + 1) is then never handed out again for a new
 * extent, which could otherwise look to the migration's commit like the
 * extent it copied. */
static void vclock_raise(struct fabric *f, uint64_t v)
{
	uint64_t cur = atomic_load(&f->vclock);

	while (cur < v && !atomic_compare_exchange_weak(&f->vclock, &cur, v))
		;
}

/* Tier index of a loaded extent's tier (ext_load refused unknown ids). */
static int ext_tier(struct fabric *f, const struct meta_extent *e)
{
	int idx = tier_idx(f, e->tier);

	return idx < 0 ? 0 : idx;
}

/* ---------------------------------------------------------------- */
/* placement policies (user.dfabric.pin, .latency, .class)
 *
 * Each is an xattr record holding the canonical word, set on files and
 * directories alike. The twin keeps the effective values, read when it is
 * loaded (only inodes flagged META_INODE_POLICY have records to read), so
 * that the write path and the placer never go to RocksDB for them. A new
 * inode gets a copy of its directory's records when it is made: a
 * snapshot, later changes to the directory do not reach it. */

enum {
	POL_PIN = 0,
	POL_LATENCY = 1,
	POL_CLASS = 2,
	POL_N = 3,
};

#define POL_WORD_MAX    32             /* bytes of a value, NUL included */
#define POL_SHOW_MAX    48             /* bytes of a bad value shown in logs */

static const char *const pol_names[POL_N] = {
	[POL_PIN] = XATTR_PREFIX "pin",
	[POL_LATENCY] = XATTR_PREFIX "latency",
	[POL_CLASS] = XATTR_PREFIX "class",
};

/* Which policy xattr `name` is, or -1. */
static int pol_which(const char *name)
{
	int i;

	for (i = 0; i < POL_N; i++)
		if (!strcmp(name, pol_names[i]))
			return i;
	return -1;
}

static void pol_defaults(struct score_policy *p)
{
	p->pin = -1;
	p->latency = SCORE_LAT_STANDARD;
	p->cls = SCORE_CLASS_PUBLIC;
}

/* A value as shown in a log line: at most POL_SHOW_MAX bytes, bytes that
 * are not printable ASCII as '?', "..." when cut. */
static void pol_show(const void *v, size_t n, char *out, size_t outlen)
{
	const unsigned char *p = v;
	size_t i, k = 0;

	for (i = 0; i < n && k + 4 < outlen && i < POL_SHOW_MAX; i++)
		out[k++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	if (i < n && k + 4 <= outlen) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
}

/* The one word of a value: without one trailing newline (echo adds
 * one), 1..POL_WORD_MAX-1 bytes of [A-Za-z0-9_-]. 0 or -EINVAL. */
static int pol_word(const void *v, size_t n, char *w)
{
	const char *p = v;
	size_t i;

	if (n && p[n - 1] == '\n')
		n--;
	if (n == 0 || n >= POL_WORD_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
		      (p[i] >= '0' && p[i] <= '9') || p[i] == '_' || p[i] == '-'))
			return -EINVAL;
	memcpy(w, p, n);
	w[n] = '\0';
	return 0;
}

/* Parses the word of policy `which` into *val: a tier index for a pin
 * (-1 for "none"), the enum otherwise. 0 or -EINVAL. */
static int pol_parse(struct fabric *f, int which, const char *w, int *val)
{
	int rc;

	switch (which) {
	case POL_PIN:
		if (!strcmp(w, "none")) {
			*val = -1;
			return 0;
		}
		rc = cfg_tier_index(f->cfg, w);
		break;
	case POL_LATENCY:
		rc = score_parse_latency(w, strlen(w));
		break;
	default:
		rc = score_parse_class(w, strlen(w));
		break;
	}
	if (rc < 0)
		return -EINVAL;
	*val = rc;
	return 0;
}

static void pol_assign(struct score_policy *p, int which, int val)
{
	if (which == POL_PIN)
		p->pin = val;
	else if (which == POL_LATENCY)
		p->latency = val;
	else
		p->cls = val;
}

/* Reads the policy records of ino into *p and *set. A record that does
 * not parse any more (a pin to a tier no longer configured) counts as
 * unset, with a notice, and goes into *stray: it is not shown, and a
 * removal deletes it. One that cannot be read (corrupt) goes into *bad,
 * with an error: it counts as unset too, except that an unreadable class
 * is taken as confidential, the class that allows the fewest tiers; it
 * is listed, reads as EIO, and can be replaced or removed. The file
 * stays reachable either way (a policy only steers placement). -errno
 * only when the store cannot be read at all. */
static int pol_load(struct fabric *f, uint64_t ino, struct score_policy *p,
		    unsigned *set, unsigned *bad, unsigned *stray)
{
	char w[POL_WORD_MAX];
	int i, rc, val;

	pol_defaults(p);
	*set = 0;
	*bad = 0;
	*stray = 0;
	for (i = 0; i < POL_N; i++) {
		rc = meta_get_xattr(f->meta, ino, pol_names[i], w, sizeof(w) - 1);
		if (rc == -ENODATA)
			continue;
		if (rc == -EUCLEAN || rc == -ERANGE) {
			log_err("inode %" PRIu64 ": %s cannot be read (%s); %s",
				ino, pol_names[i],
				rc == -ERANGE ? "too long" : "corrupt",
				i == POL_CLASS ? "taken as confidential until set again" :
						 "ignored until set again");
			if (i == POL_CLASS)
				p->cls = SCORE_CLASS_CONFIDENTIAL;
			*bad |= 1u << i;
			continue;
		}
		if (rc < 0) {
			log_err("inode %" PRIu64 ": cannot read %s: %s", ino,
				pol_names[i], strerror(-rc));
			return -EIO;
		}
		w[rc] = '\0';
		if (pol_parse(f, i, w, &val) < 0) {
			char show[POL_SHOW_MAX + 8];

			pol_show(w, rc, show, sizeof(show));
			log_notice("inode %" PRIu64 ": %s \"%s\" is not valid "
				   "here (a tier no longer configured?); ignored",
				   ino, pol_names[i], show);
			*stray |= 1u << i;
			continue;
		}
		pol_assign(p, i, val);
		*set |= 1u << i;
	}
	return 0;
}

/* Whether tier idx may hold class restricted data: local or private. */
static int tier_private(struct fabric *f, int idx)
{
	const struct cfg_tier *t = &f->cfg->tiers[idx];

	return t->kind == CFG_TIER_LOCAL || t->private_tier;
}

/* Whether policy p allows data on tier idx: 1, or 0 with a reason. The
 * rules of score_allowed() (tiering/score.c) that are law: class and pin,
 * not the latency class or the tier's health, which only guide the
 * placer; and a reason that names the tier, for dfabric-ctl. */
static int pol_allows(struct fabric *f, const struct score_policy *p, int idx,
		      char *why, size_t n)
{
	const struct cfg_tier *t = &f->cfg->tiers[idx];

	if (p->cls == SCORE_CLASS_CONFIDENTIAL && t->kind != CFG_TIER_LOCAL) {
		if (why)
			snprintf(why, n, "class confidential may not leave local "
				 "tiers (%s is not local)", t->name);
		return 0;
	}
	if (p->cls == SCORE_CLASS_RESTRICTED && !tier_private(f, idx)) {
		if (why)
			snprintf(why, n, "class restricted stays on local and "
				 "private tiers (%s is neither)", t->name);
		return 0;
	}
	if (p->pin >= 0 && p->pin != idx) {
		if (why)
			snprintf(why, n, "pinned to tier %s (set user.dfabric.pin "
				 "to none first)", f->cfg->tiers[p->pin].name);
		return 0;
	}
	return 1;
}

/* ---------------------------------------------------------------- */
/* the inode table */

static size_t itab_hash(uint64_t ino)
{
	return (ino * 0x9E3779B97F4A7C15ULL) >> 48 & (ITAB_SIZE - 1);
}

static struct inode_mem *itab_find_locked(struct fabric *f, uint64_t ino)
{
	struct inode_mem *im;

	for (im = f->itab[itab_hash(ino)]; im; im = im->hnext)
		if (im->ino == ino)
			return im;
	return NULL;
}

static void im_free(struct inode_mem *im)
{
	/* A read replies to the kernel before it unlocks the twin, and the
	 * kernel may then release and forget the inode: wait for it. */
	pthread_rwlock_wrlock(&im->lock);
	pthread_rwlock_unlock(&im->lock);
	pthread_rwlock_destroy(&im->lock);
	free(im->ext);
	free(im);
}

/* Returns the twin of ino with one more ref, loading it if needed. */
static int itab_get(struct fabric *f, uint64_t ino, struct inode_mem **out)
{
	struct inode_mem *im, *other;
	int rc;

	pthread_mutex_lock(&f->itab_lock);
	im = itab_find_locked(f, ino);
	if (im) {
		im->refs++;
		pthread_mutex_unlock(&f->itab_lock);
		*out = im;
		return 0;
	}
	pthread_mutex_unlock(&f->itab_lock);

	im = calloc(1, sizeof(*im));
	if (!im)
		return -ENOMEM;
	rc = meta_get_inode(f->meta, ino, &im->a);
	if (rc < 0) {
		free(im);
		return rc == -EUCLEAN ? -EIO : rc;
	}
	im->ino = ino;
	im->refs = 1;
	pol_defaults(&im->pol);
	if ((im->a.flags & META_INODE_POLICY) &&
	    (rc = pol_load(f, ino, &im->pol, &im->pol_set, &im->pol_bad,
				&im->pol_stray)) < 0) {
		free(im);
		return rc;
	}
	pthread_rwlock_init(&im->lock, NULL);

	pthread_mutex_lock(&f->itab_lock);
	other = itab_find_locked(f, ino);
	if (other) {
		other->refs++;
		pthread_mutex_unlock(&f->itab_lock);
		im_free(im);
		*out = other;
		return 0;
	}
	im->hnext = f->itab[itab_hash(ino)];
	f->itab[itab_hash(ino)] = im;
	pthread_mutex_unlock(&f->itab_lock);
	*out = im;
	return 0;
}

/* Adds the twin of an inode just created (so not in the table) with one
 * ref and policies pol (set: POL_* bits), without reading back what was
 * just written. */
static int itab_add_new(struct fabric *f, const struct meta_inode *a,
			const struct score_policy *pol, unsigned set,
			struct inode_mem **out)
{
	struct inode_mem *im = calloc(1, sizeof(*im)), *other;

	if (!im)
		return itab_get(f, a->ino, out);
	im->ino = a->ino;
	im->a = *a;
	im->pol = *pol;
	im->pol_set = set;
	im->refs = 1;
	im->ext_loaded = 1;  /* a new inode has no extents */
	pthread_rwlock_init(&im->lock, NULL);
	pthread_mutex_lock(&f->itab_lock);
	other = itab_find_locked(f, a->ino);
	if (other) {
		/* Loaded from the store since the commit (an open by
		 * number, a control command): one twin per inode. */
		other->refs++;
		pthread_mutex_unlock(&f->itab_lock);
		im_free(im);
		*out = other;
		return 0;
	}
	im->hnext = f->itab[itab_hash(a->ino)];
	f->itab[itab_hash(a->ino)] = im;
	pthread_mutex_unlock(&f->itab_lock);
	*out = im;
	return 0;
}

static void inode_destroy(struct fabric *f, struct inode_mem *im);

/* Unlinks im from the table if nothing uses it; returns 1 if it did. */
static int itab_unlink_unused_locked(struct fabric *f, struct inode_mem *im)
{
	struct inode_mem **pp;

	if (im->refs || im->nlookup || im->nopen)
		return 0;
	for (pp = &f->itab[itab_hash(im->ino)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == im) {
			*pp = im->hnext;
			return 1;
		}
	}
	return 0;
}

/* Drops one ref (and `forget` lookups, `close` opens); frees the twin
 * when unused, destroying the inode first when it has no links. */
static void itab_release(struct fabric *f, struct inode_mem *im,
			 uint64_t forget, uint32_t close)
{
	int gone;

	pthread_mutex_lock(&f->itab_lock);
	im->refs--;
	im->nlookup = forget > im->nlookup ? 0 : im->nlookup - forget;
	im->nopen -= close;
	if (im->refs == 0 && im->nlookup == 0 && im->nopen == 0 &&
	    im->a.nlink == 0 && !im->destroyed) {
		/* Keep it in the table while destroying, so that a concurrent
		 * itab_get cannot load the half-deleted records. */
		im->refs++;
		pthread_mutex_unlock(&f->itab_lock);
		pthread_rwlock_wrlock(&im->lock);
		inode_destroy(f, im);
		pthread_rwlock_unlock(&im->lock);
		pthread_mutex_lock(&f->itab_lock);
		im->refs--;
	}
	/* A twin with deferred times (of a directory not removed) stays
	 * for the flusher, which stores them and frees it: out of the
	 * table, a concurrent itab_get would load the older record beside
	 * it, and a late store could then overwrite newer changes or bring
	 * back a removed directory. */
	gone = !(im->dirty && im->a.nlink > 0 && !im->destroyed) &&
	       itab_unlink_unused_locked(f, im);
	pthread_mutex_unlock(&f->itab_lock);
	if (gone)
		im_free(im);
}

static void itab_put(struct fabric *f, struct inode_mem *im)
{
	itab_release(f, im, 0, 0);
}

/* One more ref on a twin the caller already holds one way or another. */
static void itab_hold(struct fabric *f, struct inode_mem *im)
{
	pthread_mutex_lock(&f->itab_lock);
	im->refs++;
	pthread_mutex_unlock(&f->itab_lock);
}

static void itab_add_lookup(struct fabric *f, struct inode_mem *im)
{
	pthread_mutex_lock(&f->itab_lock);
	im->nlookup++;
	pthread_mutex_unlock(&f->itab_lock);
}

/* ---------------------------------------------------------------- */
/* deferred directory times
 *
 * Adding or removing a name that is not a subdirectory changes only the
 * directory's mtime and ctime. Storing its record for each such change
 * costs a memtable entry and WAL bytes per create and unlink, so the
 * times change in memory, the directory joins the dirty list and the
 * flusher stores the record within DIRTY_FLUSH_MS; the twin stays in
 * the table until then. A crash loses at most that much of a
 * directory's time changes, never an entry or a link count: every other
 * change of the directory stores its whole record at once, as before.
 * fsyncdir and unmount store them at once. */

/* The directory's times become t. Its record goes into b when `now`
 * (its link count changed too) or when the dirty list cannot take it;
 * otherwise the flusher stores it. Caller holds dir->lock for writing. */
static void dir_touch(struct fabric *f, struct meta_batch *b,
		      struct inode_mem *dir, struct timespec t, int now)
{
	dir->a.mtime = dir->a.ctime = t;
	if (now) {
		meta_put_inode(b, &dir->a);
		return;
	}
	if (dir->dirty)
		return;
	pthread_mutex_lock(&f->dirty_lock);
	if (!f->dirty_thread || f->dirty_stop)
		goto now;
	if (f->ndirty == f->dirty_cap) {
		size_t cap = f->dirty_cap ? 2 * f->dirty_cap : 64;
		uint64_t *v = realloc(f->dirty, cap * sizeof(*v));

		if (!v)
			goto now;
		f->dirty = v;
		f->dirty_cap = cap;
	}
	f->dirty[f->ndirty++] = dir->ino;
	dir->dirty = 1;
	pthread_mutex_unlock(&f->dirty_lock);
	return;
now:
	pthread_mutex_unlock(&f->dirty_lock);
	meta_put_inode(b, &dir->a);
}

/* Stores im's record when its times are deferred. Not when it was
 * removed meanwhile: its record is gone and stays gone. The times count
 * as stored either way: a failure is logged (once in a row) and
 * returned, not retried. Caller holds im->lock for writing. 0 or
 * -errno. */
static int dir_store_locked(struct fabric *f, struct inode_mem *im)
{
	struct meta_batch *b;
	int rc = 0;

	if (im->dirty && im->a.nlink > 0 && !im->destroyed) {
		if ((b = meta_batch_new())) {
			meta_put_inode(b, &im->a);
			rc = meta_commit(f->meta, b, 0);
			meta_batch_free(b);
		} else {
			rc = -ENOMEM;
		}
		if (rc < 0 && !atomic_exchange(&f->dirty_failed, 1))
			log_err("cannot store the times of directory %" PRIu64
				": %s (they are right until a restart)",
				im->ino, strerror(-rc));
		else if (rc == 0)
			atomic_store(&f->dirty_failed, 0);
	}
	im->dirty = 0;
	return rc < 0 ? rc : 0;
}

static int dir_store(struct fabric *f, struct inode_mem *im)
{
	int rc;

	pthread_rwlock_wrlock(&im->lock);
	rc = dir_store_locked(f, im);
	pthread_rwlock_unlock(&im->lock);
	return rc;
}

/* Stores every deferred time now. A directory no longer in the table
 * was removed (itab_release keeps the others until this stores them). */
static void dirty_flush(struct fabric *f)
{
	struct inode_mem *im;
	uint64_t *v;
	size_t n, i;

	pthread_mutex_lock(&f->dirty_lock);
	v = f->dirty;
	n = f->ndirty;
	f->dirty = NULL;
	f->ndirty = f->dirty_cap = 0;
	pthread_mutex_unlock(&f->dirty_lock);
	for (i = 0; i < n; i++) {
		pthread_mutex_lock(&f->itab_lock);
		im = itab_find_locked(f, v[i]);
		if (im)
			im->refs++;
		pthread_mutex_unlock(&f->itab_lock);
		if (!im)
			continue;
		dir_store(f, im);
		itab_put(f, im);
	}
	free(v);
}

static void *dirty_main(void *arg)
{
	struct fabric *f = arg;
	struct timespec until;

	pthread_mutex_lock(&f->dirty_lock);
	while (!f->dirty_stop) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += DIRTY_FLUSH_MS % 1000 * 1000000L;
		until.tv_sec += DIRTY_FLUSH_MS / 1000 + until.tv_nsec / 1000000000;
		until.tv_nsec %= 1000000000;
		while (!f->dirty_stop &&
		       pthread_cond_timedwait(&f->dirty_cv, &f->dirty_lock,
					      &until) != ETIMEDOUT)
			;
		if (f->dirty_stop)
			break;
		pthread_mutex_unlock(&f->dirty_lock);
		dirty_flush(f);
		pthread_mutex_lock(&f->dirty_lock);
	}
	pthread_mutex_unlock(&f->dirty_lock);
	return NULL;
}

static int dirty_start(struct fabric *f)
{
	int rc = pthread_create(&f->dirty_tid, NULL, dirty_main, f);

	if (rc)
		return -rc;
	f->dirty_thread = 1;
	return 0;
}

/* Stops the flusher and stores what is left. */
static void dirty_end(struct fabric *f)
{
	pthread_mutex_lock(&f->dirty_lock);
	f->dirty_stop = 1;
	pthread_cond_broadcast(&f->dirty_cv);
	pthread_mutex_unlock(&f->dirty_lock);
	if (f->dirty_thread)
		pthread_join(f->dirty_tid, NULL);
	f->dirty_thread = 0;
	dirty_flush(f);
}

/* ---------------------------------------------------------------- */
/* extent maps (caller holds im->lock for writing) */

static int ext_load(struct fabric *f, struct inode_mem *im)
{
	struct meta_extent *e = NULL;
	size_t n = 0, i;
	int rc;

	if (im->ext_loaded)
		return 0;
	rc = meta_load_extents(f->meta, im->ino, &e, &n);
	if (rc < 0)
		return -EIO;
	for (i = 0; i < n; i++) {
		if (tier_idx(f, e[i].tier) < 0 || e[i].off % f->es ||
		    e[i].len > f->es) {
			log_err("inode %" PRIu64 ": extent at %" PRIu64
				" is invalid (tier id %u, length %" PRIu64 ")",
				im->ino, e[i].off, e[i].tier, e[i].len);
			free(e);
			return -EIO;
		}
	}
	free(im->ext);
	im->ext = e;
	im->next = n;
	im->cap = n;
	im->ext_loaded = 1;
	return 0;
}

/* Index of the first extent with off >= `off`. */
static size_t ext_lower(const struct inode_mem *im, uint64_t off)
{
	size_t lo = 0, hi = im->next;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (im->ext[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct meta_extent *ext_find(const struct inode_mem *im, uint64_t coff)
{
	size_t i = ext_lower(im, coff);

	return (i < im->next && im->ext[i].off == coff) ? &im->ext[i] : NULL;
}

static int ext_count_on_tier(const struct inode_mem *im, uint32_t id)
{
	int n = 0;
	size_t i;

	for (i = 0; i < im->next; i++)
		n += im->ext[i].tier == id;
	return n;
}

/* Inserts e (no extent at e->off yet); returns a pointer to it. */
static struct meta_extent *ext_insert(struct inode_mem *im,
				      const struct meta_extent *e)
{
	size_t i = ext_lower(im, e->off);

	if (im->next == im->cap) {
		size_t cap = im->cap ? im->cap * 2 : 4;
		struct meta_extent *ne = realloc(im->ext, cap * sizeof(*ne));

		if (!ne)
			return NULL;
		im->ext = ne;
		im->cap = cap;
	}
	memmove(&im->ext[i + 1], &im->ext[i], (im->next - i) * sizeof(*e));
	im->ext[i] = *e;
	im->next++;
	return &im->ext[i];
}

/* Removes the extent at index i and accounts for it in b. */
static void ext_remove(struct fabric *f, struct meta_batch *b,
		       struct inode_mem *im, size_t i)
{
	struct meta_extent e = im->ext[i];
	int idx = ext_tier(f, &e);

	memmove(&im->ext[i], &im->ext[i + 1], (im->next - i - 1) * sizeof(e));
	im->next--;
	meta_del_extent(b, im->ino, e.off);
	tier_account(f, b, idx, -(int64_t)e.len, -1,
		     ext_count_on_tier(im, e.tier) ? 0 : -1);
}

/* Whether tier index idx has file operations. */
static int tier_is_file(struct fabric *f, int idx)
{
	return !!(f->tiers[idx].be->ops->caps & BE_CAP_FILE);
}

/* st_blocks of im: on a tier that can tell (local), what its file of
 * the inode takes there, so that holes inside extents take nothing (cp,
 * tar -S and du look at st_blocks to find sparse files); elsewhere, and
 * when the tier cannot say, the extents' bytes in 4 KiB units. */
static uint64_t blocks_of(struct fabric *f, const struct inode_mem *im)
{
	enum { UNASKED, COUNTED, BY_LENGTH } how[CFG_MAX_TIERS] = { UNASKED };
	uint64_t bytes = 0;
	size_t i;

	for (i = 0; i < im->next; i++) {
		int idx = ext_tier(f, &im->ext[i]);
		struct backend *be = f->tiers[idx].be;
		int64_t got;

		if (how[idx] == UNASKED) {
			how[idx] = BY_LENGTH;
			if (tier_is_file(f, idx) && be->ops->allocated &&
			    (got = be->ops->allocated(be, im->ino)) >= 0) {
				bytes += (uint64_t)got;
				how[idx] = COUNTED;
			}
		}
		if (how[idx] == BY_LENGTH)
			bytes += (im->ext[i].len + 4095) & ~4095ULL;
	}
	return bytes / 512;
}

/* The tier for a new extent: the fastest tier with file operations below
 * its high watermark, else the fastest with room below capacity; none of
 * the tiers in the mask `skip` (bit i: tier index i). A tier whose
 * filesystem was found full must show room for the extent on it too. */
static int pick_tier(struct fabric *f, uint64_t need, unsigned skip)
{
	int pass, i;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < f->ntiers; i++) {
			struct tier_rt *t = &f->tiers[i];
			double lim = pass == 0 ? t->cfg->high_watermark : 1.0;
			int64_t used = atomic_load(&t->used);

			if (!(t->be->ops->caps & BE_CAP_FILE) || (skip >> i & 1))
				continue;   /* object stores take whole extents only */
			if ((double)(used + (int64_t)need) >
			    lim * (double)t->cfg->capacity)
				continue;
			if (atomic_load(&t->fs_full)) {
				struct be_space sp;

				if (t->be->ops->space(t->be, &sp) < 0 ||
				    sp.fs_avail < need)
					continue;
				if (atomic_exchange(&t->fs_full, 0))
					log_notice("tier %s: its filesystem has "
						   "room again", t->be->name);
			}
			return i;
		}
	}
	return -ENOSPC;
}

/* File tier idx's filesystem answered ENOSPC (or EDQUOT): pick_tier
 * passes it by until it has room. */
static void tier_fs_full(struct fabric *f, int idx)
{
	if (!atomic_exchange(&f->tiers[idx].fs_full, 1))
		log_notice("tier %s: its filesystem is full; new extents go "
			   "to other tiers until it has room",
			   f->tiers[idx].be->name);
}

/* Whether claim c is in use on a range that meets [off, end). */
static int claim_meets(const struct mig_claim *c, uint64_t off, uint64_t end)
{
	return c->on && off < c->end && end > c->off;
}

/* The tier a new extent of im at [off, off + len) must not go to: the one
 * a migration is writing its copies of that range on, else -1. Caller
 * holds im->lock. */
static int claimed_tier(const struct inode_mem *im, uint64_t off, uint64_t len)
{
	for (int k = 0; k < MIG_FILE_JOBS; k++)
		if (claim_meets(&im->mig[k], off, off + len))
			return im->mig[k].dst;
	return -1;
}

/* claimed_tier as a mask for pick_tier. */
static unsigned claimed_mask(const struct inode_mem *im, uint64_t off,
			     uint64_t len)
{
	int t = claimed_tier(im, off, len);

	return t < 0 ? 0 : 1u << t;
}

/* Whether a claim of im holds writers out of [off, end). Caller holds
 * im->lock or f->hold_lock. */
static int held_in(const struct inode_mem *im, uint64_t off, uint64_t end)
{
	for (int k = 0; k < MIG_FILE_JOBS; k++)
		if (im->mig[k].hold && claim_meets(&im->mig[k], off, end))
			return 1;
	return 0;
}

/* The tier a file is pinned to when new extents may land there: a file
 * tier below its high watermark; else -1 (pick_tier then chooses, and the
 * pin's migration or the placer moves the extent later). */
static int pin_tier(struct fabric *f, const struct inode_mem *im,
		    uint64_t need)
{
	int idx = im->pol.pin;
	struct tier_rt *t;

	if (idx < 0)
		return -1;
	t = &f->tiers[idx];
	if (!(t->be->ops->caps & BE_CAP_FILE) ||
	    (double)(atomic_load(&t->used) + (int64_t)need) >
	    t->cfg->high_watermark * (double)t->cfg->capacity)
		return -1;
	return idx;
}

/* The extent at chunk offset coff, created on the pinned tier or the one
 * pick_tier chooses
 * if missing. Returns 1 when it was created (undo with ext_drop_new if the
 * tier I/O fails), 0 when it existed, or -errno. Caller holds im->lock for
 * writing with the extents loaded. */
static int ext_get_or_new(struct fabric *f, struct inode_mem *im, uint64_t coff,
			  struct meta_extent **out)
{
	struct meta_extent ne = { .off = coff, .version = next_version(f, 0) };
	int idx, avoid = claimed_tier(im, coff, f->es);

	if ((*out = ext_find(im, coff)))
		return 0;
	if (((idx = pin_tier(f, im, f->es)) < 0 || idx == avoid) &&
	    (idx = pick_tier(f, f->es, avoid < 0 ? 0 : 1u << avoid)) < 0)
		return idx;
	ne.tier = f->tiers[idx].id;
	if (!(*out = ext_insert(im, &ne)))
		return -ENOMEM;
	im->a.flags |= META_INODE_DATA;
	return 1;
}

/* Takes back an extent ext_get_or_new just created (nothing was
 * accounted or written to a batch for it yet). */
static void ext_drop_new(struct inode_mem *im, struct meta_extent *e)
{
	memmove(e, e + 1, (im->next - (e - im->ext) - 1) * sizeof(*e));
	im->next--;
}

/* Extends e to cover up to logical offset `upto`, accounting the growth
 * (and the extent itself when isnew) on its tier in b. */
static void ext_grow(struct fabric *f, struct meta_batch *b,
		     struct inode_mem *im, struct meta_extent *e, uint64_t upto,
		     int isnew)
{
	uint64_t nlen = upto - e->off > e->len ? upto - e->off : e->len;

	tier_account(f, b, ext_tier(f, e), (int64_t)(nlen - e->len), isnew,
		     isnew && ext_count_on_tier(im, e->tier) == 1);
	if (nlen != e->len)
		e->flags &= ~META_EXT_SEALED;  /* its checksum covers less */
	e->len = nlen;
}

/* Before extent e grows to cover bytes up to `upto` on file tier idx:
 * punches what lies between its end and there. The tier's file may hold
 * bytes in that range that no extent names (a write a crash cut off
 * before its commit, a truncate the tier did not get): they must read as
 * zeros, not come back. */
static int punch_gap(struct fabric *f, const struct inode_mem *im,
		     const struct meta_extent *e, int idx, uint64_t upto)
{
	struct backend *be = f->tiers[idx].be;
	uint64_t from = e->off + e->len;

	if (upto <= from || !tier_is_file(f, idx))
		return 0;
	return be->ops->punch(be, im->ino, from, upto - from);
}

static struct be_ext ext_copy(const struct inode_mem *im,
			      const struct meta_extent *e)
{
	return (struct be_ext){ .ino = im->ino, .off = e->off, .len = e->len,
				.version = e->version };
}

/* Copies on object stores that a batch stops referring to: freed once it
 * is committed. A crash in between leaves them for the orphan scan. */
struct stale {
	struct be_ext *x;              /* the copies */
	int *idx;                      /* tier index of each */
	size_t n;                      /* entries used */
	size_t cap;                    /* entries allocated */
};

static int stale_add(struct stale *st, int idx, struct be_ext x)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 4;
		struct be_ext *nx = realloc(st->x, cap * sizeof(*nx));
		int *ni;

		if (!nx)
			return -ENOMEM;
		st->x = nx;
		ni = realloc(st->idx, cap * sizeof(*ni));
		if (!ni)
			return -ENOMEM;
		st->idx = ni;
		st->cap = cap;
	}
	st->x[st->n] = x;
	st->idx[st->n++] = idx;
	return 0;
}

/* Makes ino's data durable on every file tier, not only those holding
 * its extents now (a tier it was cut on, by truncate or punch, holds none
 * but must have the cut durable before the map that says so: else old
 * bytes come back in a slot a later extent reuses; a tier with no file
 * for it costs a failed open), then the metadata log. 0 or -errno. */
static int sync_inode(struct fabric *f, uint64_t ino)
{
	for (int t = 0; t < f->ntiers; t++) {
		struct backend *be = f->tiers[t].be;
		int rc;

		if (tier_is_file(f, t) && (rc = be->ops->sync(be, ino)) < 0)
			return rc;
	}
	return meta_sync(f->meta) < 0 ? -EIO : 0;
}

static int free_run_locked(struct fabric *f, struct inode_mem *im,
			   uint64_t off, uint64_t len, int tier);
static int mh_free_run(void *arg, uint64_t ino, uint64_t off, uint64_t len,
		       int tier);

/* Frees the copies when the batch that dropped them was committed, and
 * the list in any case. A copy on a file tier is a range of the inode's
 * file there, which a later extent may take again once the lock is let
 * go: it is punched only where the map places no extent on that tier
 * then. `locked` is the inode when the caller still holds its lock, else
 * NULL. */
static void stale_done(struct fabric *f, struct stale *st, int committed,
		       struct inode_mem *locked)
{
	size_t i;

	if (committed && st->n) {
		/* The copies that replace them and the map that names those
		 * durable first: a commit is not synced, and after a power
		 * loss the map could name the copies freed here. */
		uint64_t ino = st->x[0].ino;

		committed = sync_inode(f, ino) == 0;
		if (!committed)
			log_warn("inode %" PRIu64 ": its old copies stay on their "
				 "tiers (the new ones could not be made durable)",
				 ino);
	}
	for (i = 0; committed && i < st->n; i++) {
		const struct be_ext *x = &st->x[i];
		struct backend *be = f->tiers[st->idx[i]].be;
		int rc;

		if (!tier_is_file(f, st->idx[i]))
			rc = be->ops->ext_free(be, x);
		else if (locked)
			rc = free_run_locked(f, locked, x->off, x->len,
					     st->idx[i]);
		else
			rc = mh_free_run(f, x->ino, x->off, x->len, st->idx[i]);

		if (rc < 0)
			log_warn("inode %" PRIu64 ": cannot free the old copy of "
				 "its extent at %" PRIu64 " on tier %s: %s",
				 st->x[i].ino, st->x[i].off, be->name,
				 strerror(-rc));
	}
	free(st->x);
	free(st->idx);
	memset(st, 0, sizeof(*st));
}

/* Commits b with im's attributes as they are now; when that fails, im's
 * attributes in memory go back to old (the store kept those). */
static int commit_attrs(struct fabric *f, struct meta_batch *b,
			struct inode_mem *im, const struct meta_inode *old)
{
	int rc;

	meta_put_inode(b, &im->a);
	if ((rc = commit(f, b)) < 0)
		im->a = *old;
	return rc;
}

/* After a change failed part way: commits what it did so far (the tiers
 * were changed, and the map in memory with them), so that the map on
 * disk says what memory says. 1 when it did. */
static int commit_partial(struct fabric *f, struct meta_batch *b)
{
	return meta_batch_count(b) && commit(f, b) == 0;
}

/* Moves the accounting of extent e from tier index `from` to e's tier. */
static void ext_account_move(struct fabric *f, struct meta_batch *b,
			     struct inode_mem *im, const struct meta_extent *e,
			     int from)
{
	int to = ext_tier(f, e);

	tier_account(f, b, from, -(int64_t)e->len, -1,
		     ext_count_on_tier(im, f->tiers[from].id) ? 0 : -1);
	tier_account(f, b, to, (int64_t)e->len, 1,
		     ext_count_on_tier(im, e->tier) == 1);
}

/* Brings extent e to file tier `to` (-1: the fastest with room) before a
 * change that needs it there: from a tier without file operations (an
 * object store), or from a file tier whose filesystem is full. Its bytes
 * are copied over unless `fetch` is 0 (the caller wrote all of them there
 * already); a tier that is full for them passes them on to another, never
 * to one in the mask `skip` nor back to the tier they come from. The old
 * copy goes to st. Caller holds im->lock for writing; changes go into b. */
static int recall_locked(struct fabric *f, struct meta_batch *b,
			 struct inode_mem *im, struct meta_extent *e,
			 int fetch, int to, unsigned skip, struct stale *st)
{
	int from = ext_tier(f, e);
	struct be_ext old = ext_copy(im, e);
	struct backend *src = f->tiers[from].be, *dst;
	char *buf = NULL;
	ssize_t rc = 0;

	skip |= 1u << from | claimed_mask(im, e->off, e->len);
	if (to < 0 && (to = pick_tier(f, f->es, skip)) < 0)
		return to;
	dst = f->tiers[to].be;
	if (fetch && e->len) {
		if (!(buf = malloc(e->len)))
			return -ENOMEM;
		rc = src->ops->ext_read(src, &old, buf, e->len, e->off);
		while (rc >= 0) {
			int next;

			rc = dst->ops->pwrite(dst, im->ino, buf, e->len, e->off);
			if (rc >= 0)
				break;
			/* What it wrote before failing is not the file's: a
			 * new extent made later in this slot would show it.
			 * A full tier's filesystem: the next one. */
			dst->ops->punch(dst, im->ino, e->off, e->len);
			if (rc != -ENOSPC && rc != -EDQUOT)
				break;
			tier_fs_full(f, to);
			skip |= 1u << to;
			if ((next = pick_tier(f, f->es, skip)) < 0)
				break;
			to = next;
			dst = f->tiers[to].be;
			rc = 0;
		}
		free(buf);
		/* Durable before a map that names them can be: bytes
		 * fsynced on the old copy must not depend on a later sync
		 * of this one (another file's fsync syncs the map). */
		if (rc >= 0)
			rc = dst->ops->sync(dst, im->ino);
		if (rc < 0) {
			log_warn("inode %" PRIu64 ": cannot move its extent at %"
				 PRIu64 " from tier %s: %s", im->ino, e->off,
				 src->name, strerror((int)-rc));
			return (int)rc;
		}
	}
	/* On a file tier, the old copy's whole slot goes: a write that
	 * failed there may have left bytes past the extent's end. */
	if (tier_is_file(f, from))
		old.len = f->es;
	if ((rc = stale_add(st, from, old)) < 0)
		return (int)rc;
	e->tier = f->tiers[to].id;
	e->version = next_version(f, e->version);
	if (!fetch)
		e->flags &= ~META_EXT_SEALED;
	ext_account_move(f, b, im, e, from);
	meta_put_extent(b, im->ino, e);
	return 0;
}

/* After file tier idx's filesystem answered ENOSPC for a change to
 * extent e (its tier's accounting had room: the filesystem holds more
 * than the tier, or is smaller than its capacity): another file tier
 * with room takes the change, as pick_tier chooses one for a new extent,
 * but none in *tried, to which idx is added. A new extent (isnew) goes
 * there; an extent the full tier holds moves there with its bytes first,
 * its old copy to st; with `bytes_only` (bytes bound for an extent on an
 * object store) only the tier of the bytes changes. Returns that tier's
 * index, or -errno (-ENOSPC: no tier has room). Caller holds im->lock
 * for writing; changes go into b. */
static int spill(struct fabric *f, struct meta_batch *b, struct inode_mem *im,
		 struct meta_extent *e, int idx, int isnew, int bytes_only,
		 unsigned *tried, struct stale *st)
{
	int next, rc;

	tier_fs_full(f, idx);
	*tried |= 1u << idx;
	next = pick_tier(f, f->es, *tried | claimed_mask(im, e->off, f->es));
	if (next < 0)
		return next;
	if (isnew) {
		e->tier = f->tiers[next].id;
	} else if (!bytes_only) {
		if ((rc = recall_locked(f, b, im, e, 1, next, *tried, st)) < 0)
			return rc;
		next = ext_tier(f, e);
		log_info("inode %" PRIu64 ": the filesystem of tier %s is "
			 "full under its extent at %" PRIu64 ", which moved to "
			 "tier %s", im->ino, f->tiers[idx].be->name, e->off,
			 f->tiers[next].be->name);
	}
	return next;
}

/* ---------------------------------------------------------------- */
/* opening the fabric */

static int tiers_attach(struct fabric *f, char *err, size_t errlen)
{
	struct meta_batch *b = meta_batch_new();
	uint64_t next_id = 0;
	int i, rc = 0;

	if (!b)
		return -ENOMEM;
	for (i = 0; i < MAX_TIER_IDS; i++)
		f->id2idx[i] = -1;
	rc = meta_get_sys_u64(f->meta, "next_tier_id", &next_id);
	if (rc == -ENOENT)
		next_id = 0;
	else if (rc < 0)
		goto out_msg;

	for (i = 0; i < f->ntiers; i++) {
		struct tier_rt *t = &f->tiers[i];
		char key[64];
		uint64_t id;
		int64_t v;

		snprintf(key, sizeof(key), "tierid.%s", t->cfg->name);
		rc = meta_get_sys_u64(f->meta, key, &id);
		if (rc == -ENOENT) {
			id = next_id++;
			if (id >= MAX_TIER_IDS) {
				snprintf(err, errlen, "too many tiers were ever defined");
				rc = -EINVAL;
				goto out;
			}
			meta_put_sys_u64(b, key, id);
			meta_put_sys_u64(b, "next_tier_id", next_id);
			snprintf(key, sizeof(key), "tier.%" PRIu64, id);
			meta_put_xattr(b, 0, key, t->cfg->name, strlen(t->cfg->name));
		} else if (rc < 0 || id >= MAX_TIER_IDS) {
			goto out_msg;
		}
		t->id = id;
		f->id2idx[id] = i;
		tier_key(key, sizeof(key), id, "bytes");
		if ((rc = meta_get_counter(f->meta, key, &v)) < 0)
			goto out_msg;
		atomic_store(&t->used, v);
		tier_key(key, sizeof(key), id, "extents");
		if ((rc = meta_get_counter(f->meta, key, &v)) < 0)
			goto out_msg;
		atomic_store(&t->extents, v);
		tier_key(key, sizeof(key), id, "files");
		if ((rc = meta_get_counter(f->meta, key, &v)) < 0)
			goto out_msg;
		atomic_store(&t->files, v);
	}
	/* A tier that holds extents must still be configured. */
	for (i = 0; i < (int)next_id && i < MAX_TIER_IDS; i++) {
		char key[48], name[CFG_NAME_MAX] = "?";
		int64_t v = 0;

		if (f->id2idx[i] >= 0)
			continue;
		tier_key(key, sizeof(key), i, "extents");
		if ((rc = meta_get_counter(f->meta, key, &v)) < 0)
			goto out_msg;
		if (v > 0) {
			snprintf(key, sizeof(key), "tier.%d", i);
			rc = meta_get_xattr(f->meta, 0, key, name, sizeof(name) - 1);
			name[rc > 0 ? rc : 1] = '\0';
			snprintf(err, errlen, "tier '%s' holds %" PRId64
				 " extents but is not in %s", name, v, f->cfg->file);
			rc = -EINVAL;
			goto out;
		}
	}
	rc = meta_batch_count(b) ? meta_commit(f->meta, b, 1) : 0;
	if (rc < 0)
		goto out_msg;
	goto out;
out_msg:
	snprintf(err, errlen, "cannot read tier records from %s: %s",
		 f->cfg->meta, strerror(-rc));
out:
	meta_batch_free(b);
	return rc;
}

static int root_create(struct fabric *f)
{
	struct meta_batch *b;
	struct meta_inode a;
	struct timespec t = now_ts();
	int rc;

	rc = meta_get_inode(f->meta, ROOT_INO, &a);
	if (rc != -ENOENT)
		return rc;
	memset(&a, 0, sizeof(a));
	a.ino = ROOT_INO;
	a.mode = S_IFDIR | 0755;
	a.uid = getuid();
	a.gid = getgid();
	a.nlink = 2;
	a.atime = a.mtime = a.ctime = a.btime = t;
	a.parent = ROOT_INO;
	b = meta_batch_new();
	if (!b)
		return -ENOMEM;
	meta_put_inode(b, &a);
	meta_put_sys_u64(b, "next_ino", ROOT_INO + 1);
	meta_add_counter(b, "inodes", 1);
	rc = meta_commit(f->meta, b, 1);
	meta_batch_free(b);
	log_info("created a new namespace in %s", f->cfg->meta);
	return rc;
}

static int orphan_cb(void *arg, uint64_t ino)
{
	struct fabric *f = arg;
	struct inode_mem *im;

	if (itab_get(f, ino, &im) < 0)
		return 0;
	log_info("removing inode %" PRIu64 ", unlinked while open before a restart", ino);
	pthread_rwlock_wrlock(&im->lock);
	if (im->a.nlink == 0)
		inode_destroy(f, im);
	pthread_rwlock_unlock(&im->lock);
	itab_put(f, im);
	return 0;
}

/* Access statistics of a file that no longer exists (deleted within a
 * profiler flush before a kill -9: its deletion was committed, the
 * forget of its statistics not) go. */
struct stale_stats {
	struct fabric *f;
	size_t n;                      /* files whose statistics went */
};

static int stale_stats_cb(void *arg, uint64_t ino, const struct access_stats *st)
{
	struct stale_stats *ss = arg;
	struct meta_inode a;

	(void)st;
	if (meta_get_inode(ss->f->meta, ino, &a) == -ENOENT) {
		profile_forget(ss->f->prof, ino);
		ss->n++;
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* what the migration engine asks of the file operations */

static int rdlock_ext(struct fabric *f, struct inode_mem *im);

static int mh_next(void *arg, uint64_t ino, uint64_t from, uint64_t end,
		   int dst, struct mig_snap *out)
{
	struct fabric *f = arg;
	struct inode_mem *im;
	size_t i;
	int rc;

	if ((rc = itab_get(f, ino, &im)) < 0)
		return rc;
	if ((rc = rdlock_ext(f, im)) < 0) {
		itab_put(f, im);
		return rc;
	}
	rc = im->destroyed || im->a.nlink == 0 ? -ENOENT : -ENODATA;
	/* Policy is law: a job queued before the file's class or pin
	 * changed stops here. dst -1 is recovery listing every extent,
	 * which moves nothing. */
	if (rc == -ENODATA && dst >= 0 &&
	    !pol_allows(f, &im->pol, dst, NULL, 0)) {
		log_notice("inode %" PRIu64 ": migration to %s refused by its "
			   "policies", ino, f->tiers[dst].cfg->name);
		rc = -EPERM;
	}
	for (i = ext_lower(im, from); rc == -ENODATA && i < im->next &&
	     im->ext[i].off < end; i++) {
		const struct meta_extent *e = &im->ext[i];

		if (ext_tier(f, e) == dst || e->len == 0)
			continue;
		*out = (struct mig_snap){ .ino = ino, .off = e->off,
					  .len = e->len, .version = e->version,
					  .tier = ext_tier(f, e),
					  .flags = e->flags };
		memcpy(out->csum, e->csum, sizeof(out->csum));
		vclock_raise(f, e->version + 1);
		rc = 0;
	}
	pthread_rwlock_unlock(&im->lock);
	itab_put(f, im);
	return rc;
}

/* Whether extent e is still the one the engine snapshotted. */
static int snap_same(struct fabric *f, const struct meta_extent *e,
		     const struct mig_snap *s)
{
	return e && e->version == s->version && ext_tier(f, e) == s->tier &&
	       e->len == s->len;
}

static int mh_write_copy(void *arg, const struct mig_snap *s, int dst,
			 const void *buf, size_t n)
{
	struct fabric *f = arg;
	struct backend *be = f->tiers[dst].be;
	struct be_ext x = { .ino = s->ino, .off = s->off, .len = s->len,
			    .version = s->version + 1 };
	struct inode_mem *im;
	int rc;

	/* Only a write could bring an object store's extent to a file tier
	 * under the copy; anything else cannot race for the range. */
	if (!tier_is_file(f, dst) || tier_is_file(f, s->tier))
		return be->ops->ext_write(be, &x, buf, n);
	if ((rc = itab_get(f, s->ino, &im)) < 0)
		return rc;
	if ((rc = rdlock_ext(f, im)) < 0) {
		itab_put(f, im);
		return rc;
	}
	rc = snap_same(f, ext_find(im, s->off), s) ?
	     be->ops->ext_write(be, &x, buf, n) : -ESTALE;
	pthread_rwlock_unlock(&im->lock);
	itab_put(f, im);
	return rc;
}

/* Whether a migration's last try holds [off, end) of im (mh_claim) for
 * one extent's copy and commit: then it drops im->lock, which the caller
 * holds for writing, waits for the hold to end and returns 1, and the
 * caller takes the lock again and starts over. Writes, truncates and
 * fallocate all wait: any of them would change the extent under the
 * copy, which then loses and the job fails. */
static int hold_waits(struct fabric *f, struct inode_mem *im, uint64_t off,
		      uint64_t end)
{
	if (!held_in(im, off, end))
		return 0;
	pthread_rwlock_unlock(&im->lock);
	pthread_mutex_lock(&f->hold_lock);
	while (held_in(im, off, end))
		pthread_cond_wait(&f->hold_cv, &f->hold_lock);
	pthread_mutex_unlock(&f->hold_lock);
	return 1;
}

/* Claims [off, off + len) of ino for a migration writing its copies on
 * tier index dst (claimed_tier keeps new extents off it; with hold,
 * writes into it wait), or (dst -1) ends the claim that starts at off.
 * The claim holds a reference on the twin, so that it stays in the
 * table until the end. A write in flight holds the inode's lock: once
 * this takes it, none is left in the range. */
static int mh_claim(void *arg, uint64_t ino, uint64_t off, uint64_t len,
		    int dst, int hold)
{
	struct fabric *f = arg;
	struct inode_mem *im;
	struct mig_claim *c = NULL;
	int k, held = 0, rc = 0;

	if (itab_get(f, ino, &im) < 0)
		return 0;  /* gone: no new extents either */
	pthread_rwlock_wrlock(&im->lock);
	for (k = 0; k < MIG_FILE_JOBS && !c; k++)
		if (dst >= 0 ? !im->mig[k].on
			     : im->mig[k].on && im->mig[k].off == off)
			c = &im->mig[k];
	pthread_mutex_lock(&f->hold_lock);
	if (!c) {
		/* The engine runs at most MIG_FILE_JOBS jobs of a file. */
		if (dst >= 0) {
			log_err("inode %" PRIu64 ": more than %d migrations at once",
				ino, MIG_FILE_JOBS);
			rc = -EBUSY;
		}
	} else if (dst >= 0) {
		c->on = 1;
		c->dst = dst;
		c->off = off;
		c->end = off + len;
		/* Held, to the end of the extent's chunk: a write past the
		 * extent's end but within it (an append) grows the same
		 * extent. */
		if (hold && c->end < off - off % f->es + f->es)
			c->end = off - off % f->es + f->es;
		c->hold = hold;
	} else {
		held = c->hold;
		memset(c, 0, sizeof(*c));
	}
	pthread_mutex_unlock(&f->hold_lock);
	pthread_rwlock_unlock(&im->lock);
	if (held)
		pthread_cond_broadcast(&f->hold_cv);
	if (dst < 0 || rc < 0)
		itab_put(f, im);     /* this call's, when not kept */
	if (dst < 0 && c)
		itab_put(f, im);     /* the claim's */
	return rc;
}

/* Flips the extents of v still as snapshotted, under the inode's write
 * lock so that no write slips between the check and the flip. */
static int mh_commit(void *arg, struct mig_flip *v, int n, int dst,
		     uint32_t csum_flags, struct meta_job *j)
{
	struct fabric *f = arg;
	struct meta_batch *b = NULL;
	struct meta_extent *e, old[MIG_GROUP_MAX];
	struct inode_mem *im;
	uint64_t done = j->bytes_done;
	int rc, i, flipped = 0;

	if (n < 1 || n > MIG_GROUP_MAX)
		return -EINVAL;
	if ((rc = itab_get(f, v[0].s.ino, &im)) < 0)
		return rc;
	pthread_rwlock_wrlock(&im->lock);
	if (im->destroyed || im->a.nlink == 0) {
		rc = -ENOENT;
		goto out;
	}
	if ((rc = ext_load(f, im)) < 0)
		goto out;
	/* The policies may have changed since mh_next: a new class or pin
	 * is set under this lock, so it is either seen here or finds the
	 * extents on dst and moves them back. */
	if (!pol_allows(f, &im->pol, dst, NULL, 0)) {
		log_notice("inode %" PRIu64 ": migration to %s refused by its "
			   "policies", v[0].s.ino, f->tiers[dst].cfg->name);
		rc = -EPERM;
		goto out;
	}
	if (!(b = meta_batch_new())) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		e = ext_find(im, v[i].s.off);
		v[i].stale = !snap_same(f, e, &v[i].s);
		if (v[i].stale)
			continue;
		old[i] = *e;
		e->tier = f->tiers[dst].id;
		e->version++;
		e->flags = META_EXT_SEALED | csum_flags;
		memcpy(e->csum, v[i].csum, sizeof(e->csum));
		ext_account_move(f, b, im, e, v[i].s.tier);
		meta_put_extent(b, im->ino, e);
		j->bytes_done += v[i].s.len;
		flipped++;
	}
	if (!flipped) {
		rc = -ESTALE;
		goto out;
	}
	meta_put_job(b, j);
	rc = commit(f, b);
	if (rc < 0) {
		/* Undo in memory, the accounting too. */
		meta_batch_clear(b);
		for (i = 0; i < n; i++) {
			if (v[i].stale)
				continue;
			e = ext_find(im, v[i].s.off);
			*e = old[i];
			ext_account_move(f, b, im, e, dst);
		}
		j->bytes_done = done;
	}
out:
	pthread_rwlock_unlock(&im->lock);
	meta_batch_free(b);
	itab_put(f, im);
	/* Durable before the engine frees the sources. Written but not
	 * synced (meta_sync logged why), the flip stands all the same:
	 * readers may use the copies already. */
	if (rc == 0 && meta_sync(f->meta) < 0)
		rc = MIG_COMMIT_UNSYNCED;
	return rc;
}

/* ino's twin with its extent lock held for reading: 0 and *out (release
 * with pthread_rwlock_unlock and itab_put), or -errno (-ENOENT: no such
 * inode). */
static int get_rdlocked(struct fabric *f, uint64_t ino, struct inode_mem **out)
{
	int rc = itab_get(f, ino, out);

	if (rc < 0)
		return rc;
	if ((rc = rdlock_ext(f, *out)) < 0)
		itab_put(f, *out);
	return rc;
}

/* st_blocks of im as the tier files take it now, stored with the inode
 * when it changed. A failed store is not an error: the next write of the
 * inode carries it. Caller holds im->lock for writing, extents loaded. */
static void store_blocks_locked(struct fabric *f, struct inode_mem *im)
{
	struct meta_batch *b;
	uint64_t blocks = blocks_of(f, im);

	if (blocks == im->a.blocks)
		return;
	im->a.blocks = blocks;
	if ((b = meta_batch_new())) {
		meta_put_inode(b, &im->a);
		(void)commit(f, b);
		meta_batch_free(b);
	}
}

/* After a migration freed a source: the copy may have kept holes the
 * source had not, and the freed range takes nothing. */
static void refresh_blocks(struct fabric *f, struct inode_mem *im)
{
	pthread_rwlock_wrlock(&im->lock);
	if (!im->destroyed && im->a.nlink > 0 && im->ext_loaded)
		store_blocks_locked(f, im);
	pthread_rwlock_unlock(&im->lock);
}

static int mh_free_copy(void *arg, uint64_t ino, uint64_t off, uint64_t len,
			uint64_t version, int tier)
{
	struct fabric *f = arg;
	struct backend *be = f->tiers[tier].be;
	struct be_ext x = { .ino = ino, .off = off, .len = len,
			    .version = version };
	const struct meta_extent *e;
	struct inode_mem *im;
	int rc, keep;

	rc = get_rdlocked(f, ino, &im);
	if (rc == -ENOENT)
		return be->ops->ext_free(be, &x);
	if (rc < 0)
		return rc;
	e = im->destroyed ? NULL : ext_find(im, off);
	keep = e && ext_tier(f, e) == tier &&
	       (tier_is_file(f, tier) || e->version == version);
	rc = keep ? 0 : be->ops->ext_free(be, &x);
	pthread_rwlock_unlock(&im->lock);
	if (rc == 0 && !keep)
		refresh_blocks(f, im);
	itab_put(f, im);
	return rc;
}

/* Frees [off, off + len) of im's file on file tier `tier`, but for the
 * extents that the extent map places there now: one punch per run of
 * extents the map does not use. Caller holds im->lock. */
static int free_run_locked(struct fabric *f, struct inode_mem *im,
			   uint64_t off, uint64_t len, int tier)
{
	struct backend *be = f->tiers[tier].be;
	struct be_ext x = { .ino = im->ino, .off = off, .len = len };
	uint64_t end = off + len, pos = off;
	size_t i;
	int rc = 0;

	for (i = im->destroyed ? im->next : ext_lower(im, off);
	     i < im->next && im->ext[i].off < end && rc == 0; i++) {
		const struct meta_extent *e = &im->ext[i];

		if (ext_tier(f, e) != tier)
			continue;
		/* In use: free what lies before it. */
		if (e->off > pos) {
			x.off = pos;
			x.len = e->off - pos;
			rc = be->ops->ext_free(be, &x);
		}
		pos = e->off + e->len;
	}
	if (rc == 0 && pos < end) {
		x.off = pos;
		x.len = end - pos;
		rc = be->ops->ext_free(be, &x);
	}
	return rc;
}

/* free_run_locked under one hold of the lock, where mh_free_copy would
 * punch each extent by itself. */
static int mh_free_run(void *arg, uint64_t ino, uint64_t off, uint64_t len,
		       int tier)
{
	struct fabric *f = arg;
	struct backend *be = f->tiers[tier].be;
	struct be_ext x = { .ino = ino, .off = off, .len = len };
	struct inode_mem *im;
	int rc;

	if (!tier_is_file(f, tier))
		return -EINVAL;
	rc = get_rdlocked(f, ino, &im);
	if (rc == -ENOENT)
		return be->ops->ext_free(be, &x);
	if (rc < 0)
		return rc;
	rc = free_run_locked(f, im, off, len, tier);
	pthread_rwlock_unlock(&im->lock);
	if (rc == 0)
		refresh_blocks(f, im);
	itab_put(f, im);
	return rc;
}

/* ---------------------------------------------------------------- */
/* tier orphans: data that no inode or extent refers to */

struct scan_ctx {
	struct fabric *f;              /* the fabric */
	int idx;                       /* tier being scanned */
	uint64_t *dead;                /* inodes (local) to remove */
	struct be_ext *stale;          /* copies (object stores) to free */
	size_t n;                      /* entries used */
	size_t cap;                    /* entries allocated */
};

static int scan_push(struct scan_ctx *c, uint64_t ino, const struct be_ext *x)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		void *p;

		if (x) {
			p = realloc(c->stale, cap * sizeof(*c->stale));
			if (!p)
				return -ENOMEM;
			c->stale = p;
		} else {
			p = realloc(c->dead, cap * sizeof(*c->dead));
			if (!p)
				return -ENOMEM;
			c->dead = p;
		}
		c->cap = cap;
	}
	if (x)
		c->stale[c->n++] = *x;
	else
		c->dead[c->n++] = ino;
	return 0;
}

/* A local tier file whose inode does not exist. */
static int scan_file(uint64_t ino, void *arg)
{
	struct scan_ctx *c = arg;
	struct meta_inode a;
	int rc = meta_get_inode(c->f->meta, ino, &a);

	if (rc == -ENOENT)
		return scan_push(c, ino, NULL);
	return 0;   /* present, or unreadable: keep it */
}

/* An object whose extent is not on this tier with this version. */
static int scan_object(const struct be_ext *x, void *arg)
{
	struct scan_ctx *c = arg;
	struct inode_mem *im;
	const struct meta_extent *e;
	int rc, keep;

	rc = itab_get(c->f, x->ino, &im);
	if (rc == -ENOENT)
		return scan_push(c, 0, x);
	if (rc < 0)
		return 0;
	if (rdlock_ext(c->f, im) < 0) {
		itab_put(c->f, im);
		return 0;
	}
	e = ext_find(im, x->off);
	keep = e && ext_tier(c->f, e) == c->idx && e->version == x->version;
	pthread_rwlock_unlock(&im->lock);
	itab_put(c->f, im);
	return keep ? 0 : scan_push(c, 0, x);
}

/* Removes what a crash left on the tiers outside any job's record: files
 * of inodes that no longer exist (local tiers) and objects that no extent
 * uses (object stores). Runs at start, before any operation or job, so
 * nothing can be in flight. Errors are logged and skipped. */
static void scan_orphans(struct fabric *f)
{
	int i;

	for (i = 0; i < f->ntiers; i++) {
		struct backend *be = f->tiers[i].be;
		struct scan_ctx c = { .f = f, .idx = i };
		size_t k;
		int rc;

		if (tier_is_file(f, i))
			rc = be->ops->list ? be->ops->list(be, scan_file, &c) : 0;
		else
			rc = be->ops->ext_list ? be->ops->ext_list(be, scan_object, &c) : 0;
		if (rc < 0)
			log_warn("tier %s: cannot look for orphaned data: %s",
				 be->name, strerror(-rc));
		for (k = 0; k < c.n; k++) {
			if (tier_is_file(f, i)) {
				be->ops->forget(be, c.dead[k]);
				rc = be->ops->remove(be, c.dead[k]);
			} else {
				rc = be->ops->ext_free(be, &c.stale[k]);
			}
			if (rc < 0)
				log_warn("tier %s: cannot remove orphaned data: %s",
					 be->name, strerror(-rc));
		}
		if (c.n)
			log_notice("tier %s: removed %zu orphaned %s left by a crash",
				   be->name, c.n, tier_is_file(f, i) ? "files" : "objects");
		free(c.dead);
		free(c.stale);
	}
}

/* A migration to tier index dst found its storage full: new extents and
 * placement pass a full file tier by as after a write that found it so. */
static void mh_full(void *arg, int dst)
{
	struct fabric *f = arg;

	if (tier_is_file(f, dst))
		tier_fs_full(f, dst);
}

static int mig_start(struct fabric *f)
{
	struct mig_params p = {
		.meta = f->meta,
		.host = { .arg = f, .next = mh_next, .write_copy = mh_write_copy,
			  .commit = mh_commit, .free_copy = mh_free_copy,
			  .free_run = mh_free_run, .claim = mh_claim,
			  .full = mh_full },
		.ntiers = f->ntiers,
		.workers = (int)f->cfg->migrate_jobs,
		.bandwidth = f->cfg->migrate_bandwidth,
		.busy_bandwidth = f->cfg->migrate_busy_bandwidth,
		.sha256 = f->cfg->checksum == CFG_CSUM_SHA256,
		.io_idle = f->cfg->migrate_io_class == CFG_IO_IDLE,
		.verify_cached = f->cfg->migrate_verify == CFG_VERIFY_CACHE,
		.start_workers = 0,   /* after the orphan scan */
	};
	int i;

	for (i = 0; i < f->ntiers; i++) {
		p.tiers[i].be = f->tiers[i].be;
		p.tiers[i].id = f->tiers[i].id;
		/* Moves to or from an object store wait on the network:
		 * workers of their own keep them from holding up the
		 * others. */
		if (!be_is_local(f->tiers[i].be))
			p.remote_workers = (int)f->cfg->migrate_s3_jobs;
	}
	return mig_open(&p, &f->mig);
}

/* ---------------------------------------------------------------- */
/* automatic placement: the placer's view of the files (tiering/placer.h) */

static int ph_tiers(void *arg, struct score_tier *t)
{
	struct fabric *f = arg;
	int i;

	for (i = 0; i < f->ntiers; i++) {
		const struct cfg_tier *c = f->tiers[i].cfg;
		int64_t used = atomic_load(&f->tiers[i].used);

		memset(&t[i], 0, sizeof(t[i]));
		snprintf(t[i].name, sizeof(t[i].name), "%s", c->name);
		t[i].local = c->kind == CFG_TIER_LOCAL;
		t[i].private_tier = t[i].local || c->private_tier;
		t[i].healthy = be_health(f->tiers[i].be) == BE_UP;
		t[i].latency = fs_tier_latency(f, i, NULL);
		t[i].cost_gb_month = c->cost_gb_month;
		t[i].cost_per_1k_get = c->cost_per_1k_get;
		t[i].cost_per_1k_put = c->cost_per_1k_put;
		t[i].egress_gb = c->egress_gb;
		t[i].capacity = c->capacity;
		t[i].used = used > 0 ? (uint64_t)used : 0;
		if (atomic_load(&f->tiers[i].fs_full)) {
			/* What its filesystem holds, while it is full: no
			 * promotion there, and cold extents leave it. */
			struct be_space sp;
			struct tier_rt *tr = &f->tiers[i];

			if (tr->be->ops->space(tr->be, &sp) == 0 &&
			    t[i].used + sp.fs_avail < t[i].capacity)
				/* at least 1: a capacity of 0 is no limit */
				t[i].capacity = t[i].used + sp.fs_avail ?
						t[i].used + sp.fs_avail : 1;
		}
		t[i].high_watermark = c->high_watermark;
		t[i].low_watermark = c->low_watermark;
	}
	return f->ntiers;
}

/* A file with more extents than this, whose extents have statistics of
 * their own, is placed extent by extent: a large file may be partly hot. */
#define PLACE_SPLIT_EXTENTS 16

/* A snapshot of regular file ino: its extents (malloc'd, caller frees)
 * and policies. */
static int file_snap(struct fabric *f, uint64_t ino, struct meta_extent **ext,
		     size_t *n, struct score_policy *pol)
{
	struct inode_mem *im;
	int rc;

	*ext = NULL;
	*n = 0;
	if ((rc = itab_get(f, ino, &im)) < 0)
		return rc;
	if ((rc = rdlock_ext(f, im)) < 0) {
		itab_put(f, im);
		return rc;
	}
	if (im->destroyed || im->a.nlink == 0)
		rc = -ENOENT;
	else if (!S_ISREG(im->a.mode))
		rc = -EINVAL;
	else if (im->next && !(*ext = malloc(im->next * sizeof(**ext))))
		rc = -ENOMEM;
	if (rc == 0) {
		if (im->next)
			memcpy(*ext, im->ext, im->next * sizeof(**ext));
		*n = im->next;
		*pol = im->pol;
	}
	pthread_rwlock_unlock(&im->lock);
	itab_put(f, im);
	return rc;
}

static void item_whole(struct fabric *f, uint64_t ino,
		       const struct meta_extent *ext, size_t n,
		       const struct score_policy *pol, struct placer_file *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	out->ino = ino;
	out->len = UINT64_MAX;
	out->pol = *pol;
	for (i = 0; i < n; i++) {
		out->tier_bytes[ext_tier(f, &ext[i])] += ext[i].len;
		out->bytes += ext[i].len;
	}
	if (profile_get(f->prof, ino, &out->st) < 0)
		memset(&out->st, 0, sizeof(out->st));
	if (profile_series(f->prof, ino, PROFILE_NO_EXTENT, &out->se) < 0)
		series_init(&out->se);
	out->co_access = profile_co_access(f->prof, ino, real_ns());
}

static void item_extent(struct fabric *f, uint64_t ino,
			const struct meta_extent *e,
			const struct score_policy *pol, struct placer_file *out)
{
	memset(out, 0, sizeof(*out));
	out->ino = ino;
	out->off = e->off;
	out->len = e->len;
	out->pol = *pol;
	out->tier_bytes[ext_tier(f, e)] = e->len;
	out->bytes = e->len;
	if (profile_get_extent(f->prof, ino, e->off, &out->st) < 0)
		memset(&out->st, 0, sizeof(out->st));
	if (profile_series(f->prof, ino, e->off, &out->se) < 0)
		series_init(&out->se);
	out->co_access = profile_co_access(f->prof, ino, real_ns());
}

/* Whether file ino is placed extent by extent. */
static int split_file(struct fabric *f, uint64_t ino, size_t n)
{
	struct profile_ext *pe = NULL;
	size_t npe = 0;

	if (n <= PLACE_SPLIT_EXTENTS)
		return 0;
	if (profile_extents(f->prof, ino, &pe, &npe) < 0)
		return 0;
	free(pe);
	return npe > 0;
}

/* The whole file (whole != 0 or a small file) or the extent at off. */
static int ph_item(struct fabric *f, uint64_t ino, int whole, uint64_t off,
		   struct placer_file *out)
{
	struct meta_extent *ext;
	struct score_policy pol;
	size_t n, i;
	int rc;

	if ((rc = file_snap(f, ino, &ext, &n, &pol)) < 0)
		return rc;
	if (whole || !split_file(f, ino, n)) {
		item_whole(f, ino, ext, n, &pol, out);
	} else {
		for (i = 0; i < n && !(off >= ext[i].off &&
				       off - ext[i].off < ext[i].len); i++)
			;
		if (i < n)
			item_extent(f, ino, &ext[i], &pol, out);
		else
			item_whole(f, ino, ext, n, &pol, out);
	}
	free(ext);
	return 0;
}

static int ph_file(void *arg, uint64_t ino, uint64_t off,
		   struct placer_file *out)
{
	return ph_item(arg, ino, 0, off, out);
}

struct ph_list {
	uint64_t *inos;
	size_t n;
	size_t cap;
};

static int ph_collect(void *arg, const struct meta_inode *a)
{
	struct ph_list *l = arg;

	if (!S_ISREG(a->mode) || !(a->flags & META_INODE_DATA) || a->nlink == 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		uint64_t *v = realloc(l->inos, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->inos = v;
		l->cap = cap;
	}
	l->inos[l->n++] = a->ino;
	return 0;
}

/* The items of one file: itself, or each of its extents. */
static int ph_file_items(struct fabric *f, uint64_t ino, placer_file_cb cb,
			 void *cbarg)
{
	struct meta_extent *ext;
	struct score_policy pol;
	struct placer_file pf;
	size_t n, i;
	int rc;

	rc = file_snap(f, ino, &ext, &n, &pol);
	if (rc == -ENOENT || rc == -EINVAL || rc == -EUCLEAN)
		return 0;
	if (rc < 0)
		return rc;
	if (!split_file(f, ino, n)) {
		item_whole(f, ino, ext, n, &pol, &pf);
		rc = pf.bytes ? cb(cbarg, &pf) : 0;
	} else {
		for (i = 0; i < n && rc == 0; i++) {
			if (!ext[i].len)
				continue;
			item_extent(f, ino, &ext[i], &pol, &pf);
			rc = cb(cbarg, &pf);
		}
	}
	free(ext);
	return rc;
}

/* Every regular file with data. The inode numbers are listed first and
 * the files looked at after, so that no RocksDB iterator stays open while
 * inode locks are taken. */
static int ph_files(void *arg, placer_file_cb cb, void *cbarg)
{
	struct fabric *f = arg;
	struct ph_list l = { 0 };
	size_t i;
	int rc;

	rc = meta_list_inodes(f->meta, ph_collect, &l);
	for (i = 0; rc >= 0 && i < l.n; i++)
		rc = ph_file_items(f, l.inos[i], cb, cbarg);
	free(l.inos);
	return rc;
}

static int ph_busy(void *arg, uint64_t ino, uint64_t off, uint64_t len)
{
	struct fabric *f = arg;

	return mig_busy(f->mig, ino, off, len);
}

static int64_t ph_migrate(void *arg, uint64_t ino, uint64_t off, uint64_t len,
			  int dst, double priority, int demand)
{
	struct fabric *f = arg;

	return mig_submit(f->mig, ino, off, len, dst,
			  demand ? MIG_JOB_DEMAND : 0, priority);
}

/* The profiler saw a hot read on a slower tier, or in cache mode a
 * write (its thread). -EBUSY: a job of the file runs, ask again soon. */
static int ph_promote(void *arg, uint64_t ino, uint64_t ext_off, int tier,
		      double freq, int write)
{
	struct fabric *f = arg;
	int rc = write ? placer_on_write(f->placer, ino, ext_off, tier, freq)
		       : placer_on_read(f->placer, ino, ext_off, tier, freq);

	if (rc == -EBUSY)
		return rc;
	if (rc < 0)
		log_warn("placer: cannot promote inode %llu: %s",
			 (unsigned long long)ino, strerror(-rc));
	return 0;
}

#define PREDICT_STATE_KEY "predict.state"
#define PREDICT_SAVE_S 300             /* store the predictor's state this often */

/* Stores the predictor's accuracy, ensemble weights and trees (at most
 * every PREDICT_SAVE_S seconds unless `force`). */
static void predict_save(struct fabric *f, int force)
{
	struct meta_batch *b;
	void *buf;
	size_t len;
	int64_t now;
	int rc;

	if (!f->pred)
		return;
	now = real_ns();
	if (!force && now - atomic_load(&f->pred_saved) <
	    (int64_t)PREDICT_SAVE_S * 1000000000)
		return;
	atomic_store(&f->pred_saved, now);
	if ((rc = predictor_save(f->pred, &buf, &len)) < 0)
		goto fail;
	if (!(b = meta_batch_new())) {
		free(buf);
		rc = -ENOMEM;
		goto fail;
	}
	meta_put_sys_blob(b, PREDICT_STATE_KEY, buf, len);
	rc = meta_commit(f->meta, b, 0);
	meta_batch_free(b);
	free(buf);
	if (rc == 0)
		return;
fail:
	log_warn("predictor: cannot store its state: %s", strerror(-rc));
}

static void ph_passed(void *arg)
{
	predict_save(arg, 0);
}

/* The predictor with [predict]'s settings and the state stored by the
 * last run. A state that does not load is logged and left: the
 * predictor starts from nothing, the filesystem is not harmed. */
static int predictor_start(struct fabric *f)
{
	const struct cfg_predict *c = &f->cfg->predict;
	struct predictor_params p;
	void *buf;
	size_t len;
	int rc;

	if (!c->enabled)
		return 0;
	predictor_defaults(&p);
	p.predict.series = *profile_series_params(f->prof);
	p.predict.horizon[0] = c->horizon[0];
	p.predict.horizon[1] = c->horizon[1];
	p.predict.window = c->window;
	p.predict.half_life = f->cfg->placement.half_life;
	p.predict.rise = c->rise;
	p.predict.rise_confidence = c->rise_confidence;
	p.predict.fall = c->fall;
	p.predict.fall_confidence = c->fall_confidence;
	p.predict.anomaly_sigma = c->anomaly_sigma;
	p.retrain = c->retrain;
	p.proactive = c->proactive;
	p.threads = 1;
	if ((rc = predictor_open(&p, &f->pred)) < 0)
		return rc;
	rc = meta_get_sys_blob(f->meta, PREDICT_STATE_KEY, &buf, &len);
	if (rc == 0) {
		if (predictor_load(f->pred, buf, len) < 0)
			log_warn("predictor: its stored state is unreadable; starting from nothing");
		free(buf);
	} else if (rc != -ENOENT) {
		log_warn("predictor: cannot read its stored state (%s); starting from nothing",
			 strerror(-rc));
	}
	return 0;
}

/* The placer always exists (dfabric-ctl explain, cost and place use it);
 * its thread and promotion on read run only with auto = yes. */
static int placer_start(struct fabric *f)
{
	const struct cfg_placement *c = &f->cfg->placement;
	struct placer_params p = { .interval = c->auto_place ? c->interval : 0 };
	struct placer_host h = {
		.arg = f, .tiers = ph_tiers, .files = ph_files, .file = ph_file,
		.busy = ph_busy, .migrate = ph_migrate, .passed = ph_passed,
	};
	int rc;

	if ((rc = predictor_start(f)) < 0)
		return rc;
	p.pred = f->pred;
	p.tick = 1;
	p.cache = f->pred && f->cfg->predict.cache;
	p.prefetch = f->cfg->predict.prefetch;
	score_defaults(&p.score);
	p.score.w_frequency = c->w_frequency;
	p.score.w_latency = c->w_latency;
	p.score.w_cost = c->w_cost;
	p.score.w_trend = c->w_trend;
	p.score.hysteresis = c->hysteresis;
	p.score.confidence = c->confidence;
	p.score.half_life = c->half_life;
	p.score.hot_freq = c->hot_freq;
	p.score.promote_freq = c->promote_freq;
	p.score.horizon = c->horizon;
	rc = placer_open(&p, &h, &f->placer);
	if (rc < 0)
		return rc;
	/* In cache mode every read from a slower tier may promote, and so
	 * may a write; a write on tier 0 is noted as a possible victim. */
	if (c->auto_place && (c->promote_freq > 0 || p.cache))
		profile_set_promote_cb(f->prof, ph_promote, f,
				       p.cache ? 0 : c->promote_freq, p.cache);
	return 0;
}

/* The inode count (statfs, status) lives in memory: storing it with
 * every create and unlink cost a memtable entry each. A clean close
 * stores it with INODES_EXACT = 1; an open sets INODES_EXACT = 0, so
 * that after a crash the inodes are counted instead. A store without
 * the key kept the count with every change (older versions): exact. */
static int count_inode(void *arg, const struct meta_inode *a)
{
	(*(int64_t *)arg)++;
	return 0;
}

static int inodes_load(struct fabric *f, int64_t *out)
{
	struct meta_batch *b;
	uint64_t exact = 1;
	int64_t n, counted = 0;
	int rc;

	if ((rc = meta_get_counter(f->meta, "inodes", &n)) < 0)
		return rc;
	rc = meta_get_sys_u64(f->meta, INODES_EXACT, &exact);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (!exact) {
		rc = meta_list_inodes(f->meta, count_inode, &counted);
		if (rc < 0)
			log_warn("cannot count the inodes after an unclean stop (%s); "
				 "the count shown may be off by the last changes",
				 strerror(-rc));
		else
			n = counted;
	}
	if (!(b = meta_batch_new()))
		return -ENOMEM;
	meta_put_sys_u64(b, INODES_EXACT, 0);
	rc = meta_commit(f->meta, b, 0);
	meta_batch_free(b);
	*out = n;
	return rc < 0 ? rc : 0;
}

static void inodes_store(struct fabric *f)
{
	struct meta_batch *b = meta_batch_new();
	int rc = -ENOMEM;

	if (b) {
		meta_put_counter(b, "inodes", atomic_load(&f->ninodes));
		meta_put_sys_u64(b, INODES_EXACT, 1);
		rc = meta_commit(f->meta, b, 1);
		meta_batch_free(b);
	}
	if (rc < 0)
		log_warn("cannot store the inode count (%s); the next start counts the inodes",
			 strerror(-rc));
}

int fs_fabric_open(const struct cfg *c, struct fabric **out, char *err,
		   size_t errlen)
{
	struct fabric *f;
	int64_t n;
	int rc, i;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->itab = calloc(ITAB_SIZE, sizeof(*f->itab));
	if (!f->itab) {
		free(f);
		return -ENOMEM;
	}
	f->cfg = c;
	f->es = c->extent_size;
	atomic_store(&f->vclock, (uint64_t)real_ns());
	pthread_mutex_init(&f->ns_lock, NULL);
	pthread_mutex_init(&f->hold_lock, NULL);
	pthread_cond_init(&f->hold_cv, NULL);
	pthread_mutex_init(&f->itab_lock, NULL);
	hlink_init(&f->files);
	hlink_init(&f->dirs);
	pthread_mutex_init(&f->dirty_lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&f->dirty_cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	rc = dcache_new(DCACHE_ENTRIES, &f->dcache);
	if (rc < 0) {
		free(f->itab);
		free(f);
		return rc;
	}

	rc = meta_open(c->meta, &f->meta, err, errlen);
	if (rc < 0)
		goto fail;
	for (i = 0; i < c->ntiers; i++) {
		f->tiers[i].cfg = &c->tiers[i];
		rc = be_open(&c->tiers[i], i, &f->tiers[i].be, err, errlen);
		if (rc < 0)
			goto fail;
		f->ntiers++;
	}
	rc = tiers_attach(f, err, errlen);
	if (rc < 0)
		goto fail;
	rc = root_create(f);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read or create the root in %s: %s",
			 c->meta, strerror(-rc));
		goto fail;
	}
	rc = dirty_start(f);
	if (rc < 0) {
		snprintf(err, errlen, "cannot start the directory flusher: %s",
			 strerror(-rc));
		goto fail;
	}
	rc = meta_get_sys_u64(f->meta, "next_ino", &f->next_ino);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read the next inode number in %s: %s",
			 c->meta, strerror(-rc));
		goto fail;
	}
	rc = inodes_load(f, &n);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read the inode count in %s: %s",
			 c->meta, strerror(-rc));
		goto fail;
	}
	atomic_store(&f->ninodes, n);
	f->inodes_loaded = 1;
	{
		struct profile_params pp = {
			.half_life = c->placement.half_life > 0 ?
				     c->placement.half_life : 86400,
			.scan_window = c->predict.scan_window,
			.scan_min = (unsigned)c->predict.scan_files,
		};

		series_defaults(&pp.series);
		if (c->predict.bin > 0)
			pp.series.bin = c->predict.bin;
		pp.series.burst = c->predict.burst;
		rc = profile_open(&pp, f->meta, &f->prof);
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot start the access profiler: %s",
			 strerror(-rc));
		goto fail;
	}
	meta_list_orphans(f->meta, orphan_cb, f);
	{
		struct stale_stats ss = { .f = f };

		profile_list(f->prof, stale_stats_cb, &ss);
		if (ss.n)
			log_info("dropped the access statistics of %zu %s "
				 "deleted before a restart", ss.n,
				 ss.n == 1 ? "file" : "files");
	}
	rc = mig_start(f);
	if (rc == 0) {
		scan_orphans(f);
		rc = mig_run(f->mig);
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot start the migration engine: %s",
			 strerror(-rc));
		goto fail;
	}
	rc = placer_start(f);
	if (rc < 0) {
		snprintf(err, errlen, "cannot start the placer: %s",
			 strerror(-rc));
		goto fail;
	}
	*out = f;
	return 0;
fail:
	fs_fabric_close(f);
	return rc;
}

static void dir_free(struct fs_dir *d);

/* Frees the handles never released (see struct hlink); their inodes go
 * with the inode table. */
static void free_handles(struct fabric *f)
{
	size_t nf = 0, nd = 0;

	while (f->files.next != &f->files) {
		struct fs_file *fh = (struct fs_file *)f->files.next;

		hlink_del(&fh->link);
		pthread_mutex_destroy(&fh->rd_lock);
		free(fh);
		nf++;
	}
	while (f->dirs.next != &f->dirs) {
		struct fs_dir *d = (struct fs_dir *)f->dirs.next;

		hlink_del(&d->link);
		dir_free(d);
		nd++;
	}
	if (nf || nd)
		log_info("%zu file and %zu directory handles were still open at exit",
			 nf, nd);
}

void fs_fabric_close(struct fabric *f)
{
	size_t i;
	int t;

	if (!f)
		return;
	if (f->prof)
		profile_set_promote_cb(f->prof, NULL, NULL, 0, 0);
	dirty_end(f);
	placer_close(f->placer);
	predict_save(f, 1);
	predictor_close(f->pred);
	mig_close(f->mig);
	profile_close(f->prof);
	free_handles(f);
	for (i = 0; i < ITAB_SIZE; i++) {
		struct inode_mem *im = f->itab[i], *next;

		for (; im; im = next) {
			next = im->hnext;
			im_free(im);
		}
	}
	free(f->itab);
	dcache_free(f->dcache);
	if (f->inodes_loaded)
		inodes_store(f);
	if (f->meta)
		meta_sync(f->meta);
	for (t = 0; t < f->ntiers; t++)
		f->tiers[t].be->ops->destroy(f->tiers[t].be);
	meta_close(f->meta);
	pthread_mutex_destroy(&f->ns_lock);
	pthread_mutex_destroy(&f->hold_lock);
	pthread_cond_destroy(&f->hold_cv);
	pthread_mutex_destroy(&f->itab_lock);
	pthread_mutex_destroy(&f->dirty_lock);
	pthread_cond_destroy(&f->dirty_cv);
	free(f);
}

/* ---------------------------------------------------------------- */
/* destruction, truncation */

struct xdel {
	struct meta_batch *b;          /* where the deletes go */
	uint64_t ino;                  /* whose xattrs */
};

static int xattr_del_cb(void *arg, const char *name)
{
	struct xdel *x = arg;

	meta_del_xattr(x->b, x->ino, name);
	return 0;
}

/* Frees the data and records of an inode with no links. Caller holds
 * im->lock for writing. Tier files go first: a crash in between leaves
 * the orphan record, and the next start finishes the job. */
static void inode_destroy(struct fabric *f, struct inode_mem *im)
{
	struct meta_batch *b;
	int i, rc;

	if (im->destroyed)
		return;
	if (ext_load(f, im) < 0)
		log_err("inode %" PRIu64 ": removing it without a readable extent map",
			im->ino);
	/* Copies on object stores, one per extent. */
	for (size_t k = 0; k < im->next; k++) {
		const struct meta_extent *e = &im->ext[k];
		int idx = ext_tier(f, e);
		struct be_ext x = ext_copy(im, e);
		struct backend *be = f->tiers[idx].be;

		if (tier_is_file(f, idx))
			continue;
		rc = be->ops->ext_free(be, &x);
		if (rc < 0) {
			log_err("inode %" PRIu64 ": cannot remove its extent at %"
				PRIu64 " on tier %s: %s", im->ino, e->off,
				be->name, strerror(-rc));
			return;  /* stays an orphan; retried at the next start */
		}
	}
	/* An inode that never had an extent has no tier files. */
	for (i = 0; (im->a.flags & META_INODE_DATA) && i < f->ntiers; i++) {
		struct backend *be = f->tiers[i].be;

		if (!tier_is_file(f, i))
			continue;
		be->ops->forget(be, im->ino);
		rc = be->ops->remove(be, im->ino);
		if (rc < 0) {
			log_err("inode %" PRIu64 ": cannot remove its data on tier %s: %s",
				im->ino, be->name, strerror(-rc));
			return;  /* stays an orphan; retried at the next start */
		}
	}
	b = meta_batch_new();
	if (!b)
		return;
	while (im->next)
		ext_remove(f, b, im, im->next - 1);
	/* Point deletes, not range deletes: see meta_del_inode_all. */
	if ((im->a.flags & META_INODE_XATTRS) &&
	    (rc = meta_list_xattrs(f->meta, im->ino, xattr_del_cb,
				   &(struct xdel){ b, im->ino })) < 0)
		log_err("inode %" PRIu64 ": cannot list its xattrs to remove them: %s",
			im->ino, strerror(-rc));
	meta_del_inode(b, im->ino, im->a.mode);
	meta_del_orphan(b, im->ino);
	if (commit(f, b) == 0) {
		atomic_fetch_sub(&f->ninodes, 1);
		im->destroyed = 1;
		profile_forget(f->prof, im->ino);
	}
	meta_batch_free(b);
}

/* Cuts or extends the file to `size`. Caller holds im->lock for writing
 * and the extents are loaded; changes go into b, data first. */
static int do_truncate(struct fabric *f, struct meta_batch *b,
		       struct inode_mem *im, uint64_t size, struct stale *st)
{
	int rc;

	if (size > FILE_SIZE_MAX)
		return -EFBIG;
	if (size < im->a.size) {
		/* An extent cut in the middle comes back to a file tier. */
		size_t k = ext_lower(im, size - size % f->es);

		if (k < im->next && im->ext[k].off < size &&
		    im->ext[k].off + im->ext[k].len > size &&
		    !tier_is_file(f, ext_tier(f, &im->ext[k])) &&
		    (rc = recall_locked(f, b, im, &im->ext[k], 1, -1, 0, st)) < 0)
			return rc;
		/* The tiers' files are cut once this is committed
		 * (cut_tiers): cut before, a crash before the commit left
		 * the old size and map over bytes that were gone. */
		while (im->next && im->ext[im->next - 1].off >= size) {
			struct meta_extent *e = &im->ext[im->next - 1];
			int idx = ext_tier(f, e);

			if (!tier_is_file(f, idx) &&
			    (rc = stale_add(st, idx, ext_copy(im, e))) < 0)
				return rc;
			ext_remove(f, b, im, im->next - 1);
		}
		if (im->next) {
			struct meta_extent *e = &im->ext[im->next - 1];

			if (e->off + e->len > size) {
				int idx = ext_tier(f, e);
				uint64_t nlen = size - e->off;

				tier_account(f, b, idx, (int64_t)nlen - (int64_t)e->len, 0, 0);
				e->len = nlen;
				e->version = next_version(f, e->version);
				e->flags &= ~META_EXT_SEALED;
				meta_put_extent(b, im->ino, e);
			}
		}
	}
	im->a.size = size;
	im->a.blocks = blocks_of(f, im);
	return 0;
}

/* After the commit of a truncate to `size` (less than the size before):
 * cuts the file on every file tier (one without an extent of the file
 * may still hold bytes of it, from a write or a recall that failed part
 * way), and stores st_blocks when the cut changed it. A cut that fails
 * is logged, not returned: the truncate stands, and bytes it left past
 * an extent's end are punched before that extent grows over them
 * (punch_gap). Caller holds im->lock for writing. */
static void cut_tiers(struct fabric *f, struct inode_mem *im, uint64_t size)
{
	int i, rc;

	for (i = 0; i < f->ntiers; i++) {
		struct backend *be = f->tiers[i].be;

		if (!tier_is_file(f, i))
			continue;
		rc = be->ops->truncate(be, im->ino, size);
		if (rc < 0)
			log_warn("inode %" PRIu64 ": cannot cut its file on tier %s "
				 "to %" PRIu64 " bytes: %s", im->ino, be->name,
				 size, strerror(-rc));
	}
	store_blocks_locked(f, im);
}

/* ---------------------------------------------------------------- */
/* lookup, attributes */

/* meta_get_dirent through the entry cache: a miss that the store answers
 * fills the cache. */
static int dent_get(struct fabric *f, uint64_t parent, const char *name,
		    struct meta_dirent *d)
{
	uint64_t stamp;
	int rc;

	if (dcache_get(f->dcache, parent, name, d) == 0)
		return 0;
	stamp = dcache_stamp(f->dcache);
	rc = meta_get_dirent(f->meta, parent, name, d);
	if (rc == 0)
		dcache_fill(f->dcache, stamp, parent, name, d);
	return rc;
}

int fs_lookup(struct fabric *f, uint64_t parent, const char *name,
	      struct stat *out)
{
	struct meta_dirent d;
	struct inode_mem *im;
	int rc;

	if (strlen(name) > META_NAME_MAX)
		return -ENAMETOOLONG;
	rc = dent_get(f, parent, name, &d);
	if (rc < 0)
		return rc == -EUCLEAN ? -EIO : rc;
	rc = itab_get(f, d.ino, &im);
	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&im->lock);
	attr_to_stat(&im->a, out);
	pthread_rwlock_unlock(&im->lock);
	itab_add_lookup(f, im);
	itab_put(f, im);
	return 0;
}

void fs_forget(struct fabric *f, uint64_t ino, uint64_t nlookup)
{
	struct inode_mem *im;

	pthread_mutex_lock(&f->itab_lock);
	im = itab_find_locked(f, ino);
	if (im)
		im->refs++;
	pthread_mutex_unlock(&f->itab_lock);
	if (im)
		itab_release(f, im, nlookup, 0);
}

int fs_getattr(struct fabric *f, uint64_t ino, struct stat *out)
{
	struct inode_mem *im;
	int rc = itab_get(f, ino, &im);

	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&im->lock);
	attr_to_stat(&im->a, out);
	pthread_rwlock_unlock(&im->lock);
	itab_put(f, im);
	return 0;
}

int fs_setattr(struct fabric *f, const struct fs_ctx *ctx, uint64_t ino,
	       const struct stat *attr, int to_set, struct fs_file *fh,
	       struct stat *out)
{
	struct inode_mem *im;
	struct meta_batch *b;
	struct timespec t = now_ts();
	struct stale st = { 0 };
	struct meta_inode old;
	int rc, partial = 0, cut = 0;

	rc = itab_get(f, ino, &im);
	if (rc < 0)
		return rc;
	b = meta_batch_new();
	if (!b) {
		itab_put(f, im);
		return -ENOMEM;
	}
again:
	pthread_rwlock_wrlock(&im->lock);
	if (im->destroyed) {
		rc = -ENOENT;
		goto out;
	}
	if (to_set & FS_SET_SIZE) {
		if (S_ISDIR(im->a.mode)) {
			rc = -EISDIR;
			goto out;
		}
		if (!S_ISREG(im->a.mode)) {
			rc = -EINVAL;
			goto out;
		}
		/* It changes the extents from the lower of the two sizes on. */
		if (hold_waits(f, im, (uint64_t)attr->st_size < im->a.size ?
				      (uint64_t)attr->st_size : im->a.size,
			       UINT64_MAX))
			goto again;
		if ((rc = ext_load(f, im)) < 0)
			goto out;
		cut = (uint64_t)attr->st_size < im->a.size;
		if ((rc = do_truncate(f, b, im, attr->st_size, &st)) < 0) {
			partial = commit_partial(f, b);
			goto out;
		}
		if (!(to_set & (FS_SET_MTIME | FS_SET_MTIME_NOW)))
			im->a.mtime = t;
	}
	/* A failed commit takes the attributes back (the size as
	 * do_truncate left it in memory; the tiers are cut only once a
	 * truncate is committed). */
	old = im->a;
	if (to_set & FS_SET_MODE)
		im->a.mode = (im->a.mode & S_IFMT) | (attr->st_mode & 07777);
	if (to_set & FS_SET_UID)
		im->a.uid = attr->st_uid;
	if (to_set & FS_SET_GID)
		im->a.gid = attr->st_gid;
	if (to_set & FS_SET_ATIME_NOW)
		im->a.atime = t;
	else if (to_set & FS_SET_ATIME)
		im->a.atime = attr->st_atim;
	if (to_set & FS_SET_MTIME_NOW)
		im->a.mtime = t;
	else if (to_set & FS_SET_MTIME)
		im->a.mtime = attr->st_mtim;
	im->a.ctime = (to_set & FS_SET_CTIME) ? attr->st_ctim : t;
	if ((rc = commit_attrs(f, b, im, &old)) == 0) {
		if (cut)
			cut_tiers(f, im, im->a.size);
		attr_to_stat(&im->a, out);
	}
out:
	pthread_rwlock_unlock(&im->lock);
	stale_done(f, &st, rc == 0 || partial, NULL);
	meta_batch_free(b);
	itab_put(f, im);
	return rc;
}

/* ---------------------------------------------------------------- */
/* creating names */

/* The canonical word of policy `which` of p. */
static const char *pol_value(struct fabric *f, const struct score_policy *p,
			     int which)
{
	if (which == POL_PIN)
		return p->pin < 0 ? "none" : f->cfg->tiers[p->pin].name;
	if (which == POL_LATENCY)
		return score_latency_name(p->latency);
	return score_class_name(p->cls);
}

/* Copies the policies set on directory dir to the new inode a, in b. */
static void pol_inherit(struct fabric *f, struct meta_batch *b,
			const struct inode_mem *dir, struct meta_inode *a)
{
	int i;

	for (i = 0; i < POL_N; i++) {
		const char *w;

		if (!(dir->pol_set & (1u << i)))
			continue;
		w = pol_value(f, &dir->pol, i);
		meta_put_xattr(b, a->ino, pol_names[i], w, strlen(w));
		a->flags |= META_INODE_XATTRS | META_INODE_POLICY;
	}
}

/* Makes a new inode named `name` in parent. Caller holds ns_lock. On
 * success *out is the new twin with one ref. */
static int make_node(struct fabric *f, const struct fs_ctx *ctx,
		     uint64_t parent, const char *name, mode_t mode, dev_t rdev,
		     const char *target, struct inode_mem **out)
{
	struct inode_mem *dir;
	struct meta_dirent d;
	struct meta_inode a;
	struct meta_batch *b = NULL;
	struct timespec t = now_ts(), omtime, octime;
	struct score_policy pol;
	unsigned pol_set;
	int rc;

	if ((rc = name_check(name)) < 0)
		return rc;
	if (target && strlen(target) > META_SYMLINK_MAX)
		return -ENAMETOOLONG;
	rc = itab_get(f, parent, &dir);
	if (rc < 0)
		return rc;
	pthread_rwlock_wrlock(&dir->lock);
	if (!S_ISDIR(dir->a.mode)) {
		rc = -ENOTDIR;
		goto out;
	}
	if (dir->a.nlink == 0) {
		rc = -ENOENT;
		goto out;
	}
	if (S_ISDIR(mode) && dir->a.nlink >= LINK_MAX_DF) {
		rc = -EMLINK;
		goto out;
	}
	rc = dent_get(f, parent, name, &d);
	if (rc == 0) {
		rc = -EEXIST;
		goto out;
	}
	if (rc != -ENOENT) {
		rc = rc == -EUCLEAN ? -EIO : rc;
		goto out;
	}
	b = meta_batch_new();
	if (!b) {
		rc = -ENOMEM;
		goto out;
	}
	memset(&a, 0, sizeof(a));
	a.ino = f->next_ino;
	a.mode = mode;
	a.uid = ctx->uid;
	a.gid = ctx->gid;
	if (dir->a.mode & S_ISGID) {
		a.gid = dir->a.gid;
		if (S_ISDIR(mode))
			a.mode |= S_ISGID;
	}
	a.nlink = S_ISDIR(mode) ? 2 : 1;
	a.rdev = rdev;
	a.atime = a.mtime = a.ctime = a.btime = t;
	if (S_ISDIR(mode))
		a.parent = parent;
	if (target) {
		a.size = strlen(target);
		meta_put_symlink(b, a.ino, target);
	}
	pol_inherit(f, b, dir, &a);
	meta_put_inode(b, &a);
	d.ino = a.ino;
	d.type = mode & S_IFMT;
	meta_put_dirent(b, parent, name, &d);
	meta_put_sys_u64(b, "next_ino", a.ino + 1);
	omtime = dir->a.mtime;
	octime = dir->a.ctime;
	if (S_ISDIR(mode))
		dir->a.nlink++;
	dir_touch(f, b, dir, t, S_ISDIR(mode));
	rc = commit(f, b);
	if (rc < 0) {
		if (S_ISDIR(mode))
			dir->a.nlink--;
		dir->a.mtime = omtime;
		dir->a.ctime = octime;
		goto out;
	}
	dcache_set(f->dcache, parent, name, &d);
	f->next_ino++;
	atomic_fetch_add(&f->ninodes, 1);
	pol = dir->pol;
	pol_set = dir->pol_set;
	pthread_rwlock_unlock(&dir->lock);
	itab_put(f, dir);
	meta_batch_free(b);
	return itab_add_new(f, &a, &pol, pol_set, out);
out:
	pthread_rwlock_unlock(&dir->lock);
	itab_put(f, dir);
	meta_batch_free(b);
	return rc;
}

static int make_entry(struct fabric *f, const struct fs_ctx *ctx,
		      uint64_t parent, const char *name, mode_t mode, dev_t rdev,
		      const char *target, struct stat *out)
{
	struct inode_mem *im;
	int rc;

	pthread_mutex_lock(&f->ns_lock);
	rc = make_node(f, ctx, parent, name, mode, rdev, target, &im);
	pthread_mutex_unlock(&f->ns_lock);
	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&im->lock);
	attr_to_stat(&im->a, out);
	pthread_rwlock_unlock(&im->lock);
	itab_add_lookup(f, im);
	itab_put(f, im);
	return 0;
}

int fs_mknod(struct fabric *f, const struct fs_ctx *ctx, uint64_t parent,
	     const char *name, mode_t mode, dev_t rdev, struct stat *out)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFIFO: case S_IFSOCK: case S_IFCHR: case S_IFBLK:
		break;
	case 0:
		mode |= S_IFREG;
		break;
	default:
		return -EINVAL;
	}
	if (!S_ISCHR(mode) && !S_ISBLK(mode))
		rdev = 0;
	return make_entry(f, ctx, parent, name, mode, rdev, NULL, out);
}

int fs_mkdir(struct fabric *f, const struct fs_ctx *ctx, uint64_t parent,
	     const char *name, mode_t mode, struct stat *out)
{
	return make_entry(f, ctx, parent, name, S_IFDIR | (mode & 07777), 0,
			  NULL, out);
}

int fs_symlink(struct fabric *f, const struct fs_ctx *ctx, const char *target,
	       uint64_t parent, const char *name, struct stat *out)
{
	if (!*target)
		return -ENOENT;
	return make_entry(f, ctx, parent, name, S_IFLNK | 0777, 0, target, out);
}

int fs_readlink(struct fabric *f, uint64_t ino, char *buf, size_t size)
{
	int rc = meta_get_symlink(f->meta, ino, buf, size);

	if (rc == -ENOENT)
		return -EINVAL;
	if (rc < 0)
		return rc == -EUCLEAN ? -EIO : rc;
	return strlen(buf);
}

int fs_link(struct fabric *f, uint64_t ino, uint64_t newparent,
	    const char *newname, struct stat *out)
{
	struct inode_mem *im = NULL, *dir = NULL;
	struct meta_batch *b = NULL;
	struct meta_dirent d;
	struct timespec t = now_ts(), omtime, octime;
	int rc;

	if ((rc = name_check(newname)) < 0)
		return rc;
	pthread_mutex_lock(&f->ns_lock);
	if ((rc = itab_get(f, ino, &im)) < 0)
		goto out;
	if ((rc = itab_get(f, newparent, &dir)) < 0)
		goto out;
	if (im == dir) {
		/* a link inside itself: a directory (EPERM) or not one */
		rc = S_ISDIR(im->a.mode) ? -EPERM : -ENOTDIR;
		goto out;
	}
	pthread_rwlock_wrlock(&dir->lock);
	pthread_rwlock_wrlock(&im->lock);
	if (S_ISDIR(im->a.mode))
		rc = -EPERM;
	else if (!S_ISDIR(dir->a.mode))
		rc = -ENOTDIR;
	else if (im->a.nlink == 0 || dir->a.nlink == 0)
		rc = -ENOENT;
	else if (im->a.nlink >= LINK_MAX_DF)
		rc = -EMLINK;
	else if ((rc = dent_get(f, newparent, newname, &d)) == 0)
		rc = -EEXIST;
	else if (rc == -ENOENT && !(b = meta_batch_new()))
		rc = -ENOMEM;
	else if (rc == -EUCLEAN)
		rc = -EIO;
	if (b) {
		struct timespec ictime = im->a.ctime;

		omtime = dir->a.mtime;
		octime = dir->a.ctime;
		im->a.nlink++;
		im->a.ctime = t;
		dir_touch(f, b, dir, t, 0);
		d.ino = ino;
		d.type = im->a.mode & S_IFMT;
		meta_put_dirent(b, newparent, newname, &d);
		meta_put_inode(b, &im->a);
		rc = commit(f, b);
		if (rc < 0) {
			im->a.nlink--;
			im->a.ctime = ictime;
			dir->a.mtime = omtime;
			dir->a.ctime = octime;
		} else {
			dcache_set(f->dcache, newparent, newname, &d);
			attr_to_stat(&im->a, out);
		}
	}
	pthread_rwlock_unlock(&im->lock);
	pthread_rwlock_unlock(&dir->lock);
	if (rc == 0)
		itab_add_lookup(f, im);
out:
	pthread_mutex_unlock(&f->ns_lock);
	if (dir)
		itab_put(f, dir);
	if (im)
		itab_put(f, im);
	meta_batch_free(b);
	return rc;
}

/* ---------------------------------------------------------------- */
/* removing and renaming names (all under ns_lock) */

/* An inode that has just lost its last link in batch b, is not open and
 * never had data has nothing on the tiers: delete its records in the same
 * batch rather than keeping it as an orphan until the kernel forgets it.
 * Only drop_link calls it, before anything of the inode is in b.
 * The twin stays (the kernel may still ask for its attributes) marked
 * destroyed, so that opens fail with ENOENT and nothing writes its record
 * again. Caller holds child->lock for writing; undo with the return value
 * passed to undo_destroy if the commit fails. */
static int destroy_in_batch(struct fabric *f, struct meta_batch *b,
			    struct inode_mem *im)
{
	int ok, rc;

	if (im->a.nlink || (im->a.flags & META_INODE_DATA) || im->destroyed)
		return 0;
	pthread_mutex_lock(&f->itab_lock);
	ok = im->nopen == 0;
	if (ok)
		im->destroyed = 1;
	pthread_mutex_unlock(&f->itab_lock);
	if (!ok)
		return 0;
	if ((im->a.flags & META_INODE_XATTRS) &&
	    (rc = meta_list_xattrs(f->meta, im->ino, xattr_del_cb,
				   &(struct xdel){ b, im->ino })) < 0) {
		/* keep it an orphan: destroyed at the last forget instead */
		pthread_mutex_lock(&f->itab_lock);
		im->destroyed = 0;
		pthread_mutex_unlock(&f->itab_lock);
		return 0;
	}
	/* It had links until this batch, so it has no orphan record. */
	meta_del_inode(b, im->ino, im->a.mode);
	return 1;
}

/* Takes one link away from `child` (all of them for a directory) and
 * writes its record into b; when that was its last link, it becomes an
 * orphan, or is deleted in b at once (destroy_in_batch), in which case
 * nothing else of it goes into b: a put and a delete of one key in one
 * batch cost RocksDB two memtable entries. Returns destroy_in_batch's
 * result, for destroy_done. */
static int drop_link(struct fabric *f, struct meta_batch *b,
		     struct inode_mem *child, struct timespec t)
{
	child->a.nlink = S_ISDIR(child->a.mode) ? 0 : child->a.nlink - 1;
	child->a.ctime = t;
	if (child->a.nlink == 0) {
		child->a.flags |= META_INODE_ORPHAN;
		if (destroy_in_batch(f, b, child))
			return 1;
		meta_put_orphan(b, child->ino);
	}
	meta_put_inode(b, &child->a);
	return 0;
}

/* After the commit of a batch that destroy_in_batch added to. */
static void destroy_done(struct fabric *f, struct inode_mem *im, int did,
			 int committed)
{
	if (!did)
		return;
	if (committed) {
		atomic_fetch_sub(&f->ninodes, 1);
		/* as inode_destroy does: its statistics go with it */
		profile_forget(f->prof, im->ino);
		return;
	}
	pthread_mutex_lock(&f->itab_lock);
	im->destroyed = 0;
	pthread_mutex_unlock(&f->itab_lock);
}

static int remove_entry(struct fabric *f, uint64_t parent, const char *name,
			int want_dir)
{
	struct inode_mem *dir = NULL, *child = NULL;
	struct meta_batch *b = NULL;
	struct meta_dirent d;
	struct meta_inode odir, ochild;
	struct timespec t = now_ts();
	int rc, did;

	if (strlen(name) > META_NAME_MAX)
		return -ENAMETOOLONG;
	pthread_mutex_lock(&f->ns_lock);
	rc = dent_get(f, parent, name, &d);
	if (rc < 0) {
		rc = rc == -EUCLEAN ? -EIO : rc;
		goto out;
	}
	if ((rc = itab_get(f, parent, &dir)) < 0)
		goto out;
	if ((rc = itab_get(f, d.ino, &child)) < 0)
		goto out;
	if (want_dir && !S_ISDIR(child->a.mode)) {
		rc = -ENOTDIR;
		goto out;
	}
	if (!want_dir && S_ISDIR(child->a.mode)) {
		rc = -EISDIR;
		goto out;
	}
	if (want_dir) {
		rc = meta_dir_empty(f->meta, d.ino);
		if (rc == 0)
			rc = -ENOTEMPTY;
		if (rc < 0)
			goto out;
	}
	if (!(b = meta_batch_new())) {
		rc = -ENOMEM;
		goto out;
	}
	pthread_rwlock_wrlock(&dir->lock);
	pthread_rwlock_wrlock(&child->lock);
	meta_del_dirent(b, parent, name);
	odir = dir->a;
	ochild = child->a;
	did = drop_link(f, b, child, t);
	if (want_dir)
		dir->a.nlink--;
	dir_touch(f, b, dir, t, want_dir);
	rc = commit(f, b);
	if (rc < 0) {
		/* as before: the child keeps its link (else its last forget
		 * would destroy a file that still has a name) */
		dir->a = odir;
		child->a = ochild;
	}
	dcache_drop(f->dcache, parent, name);
	destroy_done(f, child, did, rc == 0);
	pthread_rwlock_unlock(&child->lock);
	pthread_rwlock_unlock(&dir->lock);
out:
	pthread_mutex_unlock(&f->ns_lock);
	if (child)
		itab_put(f, child);
	if (dir)
		itab_put(f, dir);
	if (b)
		meta_batch_free(b);
	return rc;
}

int fs_unlink(struct fabric *f, uint64_t parent, const char *name)
{
	return remove_entry(f, parent, name, 0);
}

int fs_rmdir(struct fabric *f, uint64_t parent, const char *name)
{
	return remove_entry(f, parent, name, 1);
}

/* 1 when directory `anc` is `ino` or one of its ancestors. */
static int is_ancestor(struct fabric *f, uint64_t anc, uint64_t ino)
{
	int depth;

	for (depth = 0; depth < 4096; depth++) {
		struct meta_inode a;

		if (ino == anc)
			return 1;
		if (ino == ROOT_INO)
			return 0;
		if (meta_get_inode(f->meta, ino, &a) < 0)
			return 0;
		ino = a.parent;
	}
	return 0;
}

/* Write-locks (lock=1) or unlocks (lock=0) each distinct twin in v;
 * entries may be NULL or repeat. */
static void lock_distinct(struct inode_mem **v, int n, int lock)
{
	int i, j;

	for (i = 0; i < n; i++) {
		int dup = 0;

		if (!v[i])
			continue;
		for (j = 0; j < i; j++)
			dup |= v[j] == v[i];
		if (dup)
			continue;
		if (lock)
			pthread_rwlock_wrlock(&v[i]->lock);
		else
			pthread_rwlock_unlock(&v[i]->lock);
	}
}

int fs_rename(struct fabric *f, uint64_t parent, const char *name,
	      uint64_t newparent, const char *newname, unsigned int flags)
{
	struct inode_mem *v[4] = { NULL, NULL, NULL, NULL };
	struct meta_inode saved[4];
	struct inode_mem *op, *np, *src, *dst;
	struct meta_dirent sd, dd;
	struct meta_batch *b = NULL;
	struct timespec t = now_ts();
	int rc, have_dst, locked = 0, did = 0;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))
		return -EINVAL;
	if ((rc = name_check(name)) < 0 || (rc = name_check(newname)) < 0)
		return rc;
	pthread_mutex_lock(&f->ns_lock);
	rc = dent_get(f, parent, name, &sd);
	if (rc < 0)
		goto out;
	rc = dent_get(f, newparent, newname, &dd);
	if (rc < 0 && rc != -ENOENT)
		goto out;
	have_dst = rc == 0;
	rc = 0;
	if (have_dst && dd.ino == sd.ino)
		goto out;  /* two links of one inode: nothing to do */
	if (have_dst && (flags & RENAME_NOREPLACE)) {
		rc = -EEXIST;
		goto out;
	}
	if (!have_dst && (flags & RENAME_EXCHANGE)) {
		rc = -ENOENT;
		goto out;
	}
	if ((rc = itab_get(f, parent, &v[0])) < 0 ||
	    (rc = itab_get(f, newparent, &v[1])) < 0 ||
	    (rc = itab_get(f, sd.ino, &v[2])) < 0 ||
	    (have_dst && (rc = itab_get(f, dd.ino, &v[3])) < 0))
		goto out;
	op = v[0]; np = v[1]; src = v[2]; dst = v[3];
	if (!S_ISDIR(np->a.mode)) {
		rc = -ENOTDIR;
		goto out;
	}
	if (parent != newparent) {
		if (S_ISDIR(src->a.mode) && is_ancestor(f, sd.ino, newparent)) {
			rc = -EINVAL;
			goto out;
		}
		if (dst && (flags & RENAME_EXCHANGE) && S_ISDIR(dst->a.mode) &&
		    is_ancestor(f, dd.ino, parent)) {
			rc = -EINVAL;
			goto out;
		}
	}
	if (dst && !(flags & RENAME_EXCHANGE)) {
		if (S_ISDIR(src->a.mode) && !S_ISDIR(dst->a.mode)) {
			rc = -ENOTDIR;
			goto out;
		}
		if (!S_ISDIR(src->a.mode) && S_ISDIR(dst->a.mode)) {
			rc = -EISDIR;
			goto out;
		}
		if (S_ISDIR(dst->a.mode)) {
			rc = meta_dir_empty(f->meta, dd.ino);
			if (rc == 0)
				rc = -ENOTEMPTY;
			if (rc < 0)
				goto out;
			rc = 0;
		}
	}
	/* A parent that gains a directory: at LINK_MAX_DF it takes none,
	 * as mkdir there says (nlink, like the rest, changes only under
	 * ns_lock, held here). */
	if (parent != newparent) {
		int sdir = S_ISDIR(src->a.mode) != 0,
		    ddir = dst && S_ISDIR(dst->a.mode),
		    ngain = sdir - ddir, ogain = 0;

		if (flags & RENAME_EXCHANGE)
			ogain = -ngain;
		if ((ngain > 0 && np->a.nlink >= LINK_MAX_DF) ||
		    (ogain > 0 && op->a.nlink >= LINK_MAX_DF)) {
			rc = -EMLINK;
			goto out;
		}
	}
	if (!(b = meta_batch_new())) {
		rc = -ENOMEM;
		goto out;
	}
	lock_distinct(v, 4, 1);
	locked = 1;
	for (int i = 0; i < 4; i++)
		if (v[i])
			saved[i] = v[i]->a;
	sd.type = src->a.mode & S_IFMT;
	if (flags & RENAME_EXCHANGE) {
		dd.type = dst->a.mode & S_IFMT;
		meta_put_dirent(b, parent, name, &dd);
		meta_put_dirent(b, newparent, newname, &sd);
		if (parent != newparent) {
			if (S_ISDIR(src->a.mode)) {
				src->a.parent = newparent;
				op->a.nlink--;
				np->a.nlink++;
			}
			if (S_ISDIR(dst->a.mode)) {
				dst->a.parent = parent;
				np->a.nlink--;
				op->a.nlink++;
			}
		}
		dst->a.ctime = t;
		meta_put_inode(b, &dst->a);
	} else {
		if (dst) {
			did = drop_link(f, b, dst, t);
			if (S_ISDIR(dst->a.mode))
				np->a.nlink--;
		}
		meta_del_dirent(b, parent, name);
		meta_put_dirent(b, newparent, newname, &sd);
		if (S_ISDIR(src->a.mode) && parent != newparent) {
			src->a.parent = newparent;
			op->a.nlink--;
			np->a.nlink++;
		}
	}
	src->a.ctime = t;
	meta_put_inode(b, &src->a);
	op->a.mtime = op->a.ctime = t;
	np->a.mtime = np->a.ctime = t;
	meta_put_inode(b, &op->a);
	if (np != op)
		meta_put_inode(b, &np->a);
	rc = commit(f, b);
	if (rc < 0) {
		/* as before, in reverse: a twin may appear twice */
		for (int i = 3; i >= 0; i--)
			if (v[i])
				v[i]->a = saved[i];
	}
	dcache_drop(f->dcache, parent, name);
	dcache_drop(f->dcache, newparent, newname);
	if (rc == 0) {
		dcache_set(f->dcache, newparent, newname, &sd);
		if (flags & RENAME_EXCHANGE)
			dcache_set(f->dcache, parent, name, &dd);
	}
	if (dst)
		destroy_done(f, dst, did, rc == 0);
out:
	if (locked)
		lock_distinct(v, 4, 0);
	pthread_mutex_unlock(&f->ns_lock);
	for (int i = 3; i >= 0; i--)
		if (v[i])
			itab_put(f, v[i]);
	if (b)
		meta_batch_free(b);
	if (rc == -EUCLEAN)
		rc = -EIO;
	return rc;
}

/* ---------------------------------------------------------------- */
/* open files and data */

uint64_t fs_file_ino(const struct fs_file *fh)
{
	return fh->im->ino;
}

static int file_open(struct fabric *f, const struct fs_ctx *ctx,
		     struct inode_mem *im, int flags, struct fs_file **out)
{
	struct fs_file *fh = calloc(1, sizeof(*fh));

	if (!fh)
		return -ENOMEM;
	fh->im = im;
	fh->flags = flags;
	fh->uid = ctx ? ctx->uid : 0;
	fh->pid = ctx ? ctx->pid : 0;
	pthread_mutex_init(&fh->rd_lock, NULL);
	fh->rd_ext = UINT64_MAX;
	pthread_mutex_lock(&f->itab_lock);
	if (im->destroyed) {
		/* unlinked and deleted before this open got here */
		pthread_mutex_unlock(&f->itab_lock);
		pthread_mutex_destroy(&fh->rd_lock);
		free(fh);
		return -ENOENT;
	}
	if (im->nopen++ == 0)
		atomic_fetch_add(&f->nopen, 1);
	hlink_add(&f->files, &fh->link);
	pthread_mutex_unlock(&f->itab_lock);
	if (S_ISREG(im->a.mode))
		prof_emit(f, fh, STATS_OPEN, PROFILE_NO_EXTENT, 0, 0, -1, 0,
			  real_ns());
	*out = fh;
	return 0;
}

static int truncate_locked(struct fabric *f, struct inode_mem *im,
			   uint64_t size, int touch)
{
	struct meta_batch *b;
	struct timespec t = now_ts();
	struct stale st = { 0 };
	uint64_t was = im->a.size;
	int rc, partial = 0;

	if ((rc = ext_load(f, im)) < 0)
		return rc;
	if (!(b = meta_batch_new()))
		return -ENOMEM;
	rc = do_truncate(f, b, im, size, &st);
	if (rc == 0) {
		if (touch)
			im->a.mtime = im->a.ctime = t;
		meta_put_inode(b, &im->a);
		rc = commit(f, b);
		if (rc == 0 && size < was)
			cut_tiers(f, im, size);
	} else {
		partial = commit_partial(f, b);
	}
	stale_done(f, &st, rc == 0 || partial, im);
	meta_batch_free(b);
	return rc;
}

/* The privilege bits a change of the file's data drops when made
 * without CAP_FSETID: set-user-ID, and set-group-ID when the group may
 * execute (without that it marks mandatory locking), as the kernel's
 * should_remove_suid. */
static mode_t kill_priv_bits(mode_t mode)
{
	mode_t kill = mode & S_ISUID;

	if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		kill |= S_ISGID;
	return kill;
}

int fs_open(struct fabric *f, const struct fs_ctx *ctx, uint64_t ino,
	    int flags, struct fs_file **out)
{
	struct inode_mem *im;
	int rc = itab_get(f, ino, &im);

	if (rc < 0)
		return rc;
	if (S_ISDIR(im->a.mode) && (flags & O_ACCMODE) != O_RDONLY) {
		itab_put(f, im);
		return -EISDIR;
	}
	/* O_TRUNC truncates whatever the access mode, as Linux does (the
	 * kernel checked write permission: default_permissions). Without
	 * CAP_FSETID (taken as: not root), it drops the set-user-ID bit and
	 * the set-group-ID bit of a group-executable file, as a truncate
	 * does: the kernel leaves both to us with an atomic O_TRUNC. */
	if ((flags & O_TRUNC) && S_ISREG(im->a.mode)) {
		mode_t old;

		do
			pthread_rwlock_wrlock(&im->lock);
		while (hold_waits(f, im, 0, UINT64_MAX));
		old = im->a.mode;
		if (ctx && ctx->uid != 0)
			im->a.mode &= ~kill_priv_bits(im->a.mode);
		rc = im->destroyed ? -ENOENT : truncate_locked(f, im, 0, 1);
		if (rc < 0)
			im->a.mode = old;
		pthread_rwlock_unlock(&im->lock);
		if (rc < 0) {
			itab_put(f, im);
			return rc;
		}
	}
	rc = file_open(f, ctx, im, flags, out);
	if (rc < 0)
		itab_put(f, im);
	return rc;  /* the ref now belongs to the handle */
}

int fs_create(struct fabric *f, const struct fs_ctx *ctx, uint64_t parent,
	      const char *name, mode_t mode, int flags, struct stat *out,
	      struct fs_file **fh)
{
	struct inode_mem *im;
	int rc;

	pthread_mutex_lock(&f->ns_lock);
	rc = make_node(f, ctx, parent, name, S_IFREG | (mode & 07777), 0,
		       NULL, &im);
	pthread_mutex_unlock(&f->ns_lock);
	if (rc == -EEXIST && !(flags & O_EXCL)) {
		struct meta_dirent d;

		rc = dent_get(f, parent, name, &d);
		if (rc < 0)
			return rc == -EUCLEAN ? -EIO : rc;
		rc = fs_open(f, ctx, d.ino, flags, fh);
		if (rc < 0)
			return rc;
		im = (*fh)->im;
		pthread_rwlock_rdlock(&im->lock);
		attr_to_stat(&im->a, out);
		pthread_rwlock_unlock(&im->lock);
		itab_add_lookup(f, im);
		return 0;
	}
	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&im->lock);
	attr_to_stat(&im->a, out);
	pthread_rwlock_unlock(&im->lock);
	rc = file_open(f, ctx, im, flags, fh);
	if (rc < 0) {
		itab_put(f, im);
		return rc;
	}
	/* only now: a failed create tells the kernel of no inode, which
	 * then never forgets it */
	itab_add_lookup(f, im);
	return 0;
}

/* Takes im->lock for reading with the extents loaded. */
static int rdlock_ext(struct fabric *f, struct inode_mem *im)
{
	int rc;

	pthread_rwlock_rdlock(&im->lock);
	if (im->ext_loaded)
		return 0;
	pthread_rwlock_unlock(&im->lock);
	pthread_rwlock_wrlock(&im->lock);
	rc = ext_load(f, im);
	pthread_rwlock_unlock(&im->lock);
	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&im->lock);
	return 0;
}

static int atime_due(const struct meta_inode *a, struct timespec t)
{
	/* relatime: when atime is not newer than mtime/ctime, or a day old */
	if (a->atime.tv_sec < a->mtime.tv_sec ||
	    (a->atime.tv_sec == a->mtime.tv_sec && a->atime.tv_nsec <= a->mtime.tv_nsec))
		return 1;
	if (a->atime.tv_sec < a->ctime.tv_sec ||
	    (a->atime.tv_sec == a->ctime.tv_sec && a->atime.tv_nsec <= a->ctime.tv_nsec))
		return 1;
	return t.tv_sec - a->atime.tv_sec >= 24 * 3600;
}

static void touch_atime(struct fabric *f, struct inode_mem *im)
{
	struct timespec t = now_ts();
	struct meta_batch *b;

	pthread_rwlock_wrlock(&im->lock);
	if (atime_due(&im->a, t) && im->a.nlink && (b = meta_batch_new())) {
		im->a.atime = t;
		meta_put_inode(b, &im->a);
		commit(f, b);
		meta_batch_free(b);
	}
	pthread_rwlock_unlock(&im->lock);
}

/* The pieces of one read's reply and the descriptors lent for them. */
struct rd_segs {
	struct fs_seg seg[FS_SEGS_MAX];
	int n;
	struct { struct backend *be; void *pin; } pin[FS_SEGS_MAX];
	int npin;
	int tier;              /* a tier that lent a descriptor, or -1 */
};

/* Appends len bytes at p, joining the previous piece when it ends there. */
static void seg_mem(struct rd_segs *s, const char *p, size_t len)
{
	struct fs_seg *last = s->n ? &s->seg[s->n - 1] : NULL;

	if (!len)
		return;
	if (last && last->fd < 0 && (const char *)last->mem + last->len == p) {
		last->len += len;
		return;
	}
	s->seg[s->n++] = (struct fs_seg){ .fd = -1, .mem = p, .len = len };
}

static void seg_unpin(struct rd_segs *s)
{
	for (int i = 0; i < s->npin; i++)
		s->pin[i].be->ops->ext_unpin(s->pin[i].be, s->pin[i].pin);
	s->npin = 0;
}

/* Puts [pos, pos+in) of copy x on tier idx into the reply: a lent
 * descriptor when the tier offers one and pieces are left (at most three
 * more: descriptor, zeros, what follows), else read into p. Returns 0 or
 * -errno. */
static int seg_ext(struct fabric *f, struct rd_segs *s, int idx,
		   const struct be_ext *x, char *p, size_t in, uint64_t pos)
{
	struct backend *be = f->tiers[idx].be;
	struct timespec t0, t1;
	size_t avail;
	ssize_t got;
	void *pin;
	int fd, rc;

	if (s && be->ops->ext_pin && s->n + 3 <= FS_SEGS_MAX &&
	    s->npin < FS_SEGS_MAX) {
		rc = be->ops->ext_pin(be, x, pos, in, &fd, &avail, &pin);
		if (rc < 0)
			return rc;
		if (!avail)
			/* All past the file's end: zeros, nothing to hold. */
			be->ops->ext_unpin(be, pin);
		else {
			s->pin[s->npin].be = be;
			s->pin[s->npin++].pin = pin;
			s->tier = idx;
			s->seg[s->n++] = (struct fs_seg){ .fd = fd, .off = pos,
							  .mem = p, .len = avail };
		}
		memset(p + avail, 0, in - avail);
		seg_mem(s, p + avail, in - avail);
		return 0;
	}
	/* CLOCK_MONOTONIC, not _COARSE: a read from the page cache of a
	 * local tier takes microseconds. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	got = be->ops->ext_read(be, x, p, in, pos);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (got < 0)
		return (int)got;
	lat_add(f, idx, &t0, &t1);
	if (s)
		seg_mem(s, p, in);
	return 0;
}

/* Whether [pos, pos + n) of the extent at coff (es bytes) reads on from
 * the bytes the handle's last reads took from that extent: after or
 * before them, or between them (reads of the kernel's read-ahead, served
 * at once, come out of order), at most n away, and not only bytes read
 * already (in 64ths of the extent). The profiler counts a file read
 * once in order as one access per extent, not one per request; bytes
 * read again, or far away, are a new access, and a new run starts. */
static int read_run(struct fs_file *fh, uint64_t es, uint64_t coff,
		    uint64_t pos, uint64_t n)
{
	uint64_t g = es >= 64 ? es / 64 : 1, a = (pos - coff) / g,
		 b = (pos + n - 1 - coff) / g, mask;
	int run;

	a = a > 63 ? 63 : a;
	b = b > 63 ? 63 : b;
	mask = (b == 63 ? ~0ULL : (1ULL << (b + 1)) - 1) & ~((1ULL << a) - 1);
	pthread_mutex_lock(&fh->rd_lock);
	run = fh->rd_ext == coff && pos <= fh->rd_hi + n &&
	      pos + 2 * n >= fh->rd_lo &&
	      (pos >= fh->rd_hi || pos + n <= fh->rd_lo ||
	       (fh->rd_bits & mask) != mask);
	if (run) {
		fh->rd_lo = pos < fh->rd_lo ? pos : fh->rd_lo;
		fh->rd_hi = pos + n > fh->rd_hi ? pos + n : fh->rd_hi;
		fh->rd_bits |= mask;
	} else {
		fh->rd_ext = coff;
		fh->rd_lo = pos;
		fh->rd_hi = pos + n;
		fh->rd_bits = mask;
	}
	pthread_mutex_unlock(&fh->rd_lock);
	return run;
}

/* fs_read, and with s, fs_read_reply: fills s and calls reply before the
 * extents may change again. */
static ssize_t read_range(struct fabric *f, struct fs_file *fh, void *buf,
			  size_t size, uint64_t off, struct rd_segs *s,
			  fs_reply_fn reply, void *arg)
{
	struct inode_mem *im = fh->im;
	const struct meta_extent *last = NULL;
	uint64_t end, pos;
	char *p = buf;
	int rc, due;
	int64_t t = real_ns();

	if ((rc = rdlock_ext(f, im)) < 0)
		return rc;
	if (off >= im->a.size) {
		if (s)
			reply(arg, s->seg, 0);
		pthread_rwlock_unlock(&im->lock);
		return 0;
	}
	end = off + size < im->a.size ? off + size : im->a.size;
	for (pos = off; pos < end;) {
		uint64_t coff = pos - pos % f->es;
		uint64_t n = (coff + f->es < end ? coff + f->es : end) - pos;
		struct meta_extent *e = ext_find(im, coff);
		int cont = (pos != off ? PROFILE_CONT_REQUEST : 0) |
			   (read_run(fh, f->es, coff, pos, n) ?
			    PROFILE_CONT_RUN : 0);

		if (!e) {
			memset(p, 0, n);
			if (s)
				seg_mem(s, p, n);
			prof_emit(f, fh, STATS_READ, coff, pos, n, -1, cont, t);
		} else {
			int idx = ext_tier(f, e);
			struct be_ext x = ext_copy(im, e);
			uint64_t eend = e->off + e->len;
			uint64_t in = pos >= eend ? 0 : (pos + n < eend ? n : eend - pos);

			/* Past the extent's length: zeros, on every kind. */
			rc = in ? seg_ext(f, s, idx, &x, p, in, pos) : 0;
			prof_emit(f, fh, STATS_READ, coff, pos, n, idx, cont, t);
			if (rc < 0) {
				if (s)
					seg_unpin(s);
				pthread_rwlock_unlock(&im->lock);
				return rc;
			}
			if (in < n) {
				memset(p + in, 0, n - in);
				if (s)
					seg_mem(s, p + in, n - in);
			}
			last = e;
		}
		p += n;
		pos += n;
	}
	/* In the last half (at most 8 MiB) of an extent whose kind takes
	 * prefetch hints: hint the next extents, up to 16 MiB ahead (at
	 * least one), while they are on that kind too. */
	if (last && end + (last->len / 2 < (8u << 20) ? last->len / 2 : (8u << 20)) >=
	    last->off + last->len) {
		const struct be_ops *ops = f->tiers[ext_tier(f, last)].be->ops;

		for (uint64_t k = 1; ops->ext_prefetch &&
		     (k == 1 || k * f->es <= (16u << 20)); k++) {
			struct meta_extent *nx = ext_find(im, last->off + k * f->es);
			struct backend *nbe = nx ? f->tiers[ext_tier(f, nx)].be : NULL;
			struct be_ext x;

			if (!nbe || nbe->ops != ops)
				break;
			x = ext_copy(im, nx);
			ops->ext_prefetch(nbe, &x);
		}
	}
	/* Once replied, the file may be closed and the inode forgotten:
	 * the atime update holds a ref of its own. */
	due = atime_due(&im->a, now_ts());
	if (due)
		itab_hold(f, im);
	if (s) {
		/* The lent descriptors are read while the reply is sent:
		 * that is this read's time on the tier. */
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		reply(arg, s->seg, s->n);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (s->tier >= 0)
			lat_add(f, s->tier, &t0, &t1);
		seg_unpin(s);
	}
	pthread_rwlock_unlock(&im->lock);
	if (due) {
		touch_atime(f, im);
		itab_put(f, im);
	}
	return end - off;
}

/* Reads and writes of file data mark the foreground busy for the
 * migrator (migrate_busy_bandwidth) while they run. */
ssize_t fs_read(struct fabric *f, struct fs_file *fh, void *buf, size_t size,
		uint64_t off)
{
	ssize_t rc;

	mig_foreground_begin(f->mig);
	rc = read_range(f, fh, buf, size, off, NULL, NULL, NULL);
	mig_foreground_end(f->mig);
	return rc;
}

ssize_t fs_read_reply(struct fabric *f, struct fs_file *fh, void *buf,
		      size_t size, uint64_t off, fs_reply_fn reply, void *arg)
{
	struct rd_segs s = { .tier = -1 };
	ssize_t rc;

	mig_foreground_begin(f->mig);
	rc = read_range(f, fh, buf, size, off, &s, reply, arg);
	mig_foreground_end(f->mig);
	return rc;
}

static ssize_t write_range(struct fabric *f, struct fs_file *fh,
			   const void *buf, size_t size, uint64_t off,
			   int append);

ssize_t fs_write_flags(struct fabric *f, struct fs_file *fh, const void *buf,
		       size_t size, uint64_t off, int flags)
{
	ssize_t rc;

	mig_foreground_begin(f->mig);
	rc = write_range(f, fh, buf, size, off, flags & O_APPEND);
	mig_foreground_end(f->mig);
	return rc;
}

ssize_t fs_write(struct fabric *f, struct fs_file *fh, const void *buf,
		 size_t size, uint64_t off)
{
	return fs_write_flags(f, fh, buf, size, off, fh->flags);
}

static ssize_t write_range(struct fabric *f, struct fs_file *fh,
			   const void *buf, size_t size, uint64_t off,
			   int append)
{
	struct inode_mem *im = fh->im;
	struct meta_batch *b;
	const char *p = buf;
	uint64_t pos = 0, end;
	struct stale st = { 0 };
	ssize_t rc = 0;
	int64_t t = real_ns();
	int committed = 0;

	if (!(b = meta_batch_new()))
		return -ENOMEM;
again:
	pthread_rwlock_wrlock(&im->lock);
	if ((rc = ext_load(f, im)) < 0)
		goto out;
	if (append)
		off = im->a.size;
	if (off >= FILE_SIZE_MAX) {
		rc = -EFBIG;
		goto out;
	}
	if (size > FILE_SIZE_MAX - off)
		size = FILE_SIZE_MAX - off;
	end = off + size;
	if (hold_waits(f, im, off, end))
		goto again;
	for (pos = off; pos < end;) {
		uint64_t coff = pos - pos % f->es;
		uint64_t n = (coff + f->es < end ? coff + f->es : end) - pos;
		struct meta_extent *e;
		struct backend *be;
		unsigned tried = 0;        /* tiers found full for this chunk */
		int idx, isnew, whole;

		if ((isnew = ext_get_or_new(f, im, coff, &e)) < 0) {
			rc = isnew;
			goto out;
		}
		idx = ext_tier(f, e);
		whole = !tier_is_file(f, idx) && pos <= e->off &&
			pos + n >= e->off + e->len;
		if (whole) {
			/* Over all of an extent on an object store: the bytes
			 * go to a file tier first, the extent follows them
			 * there only once they are (the object stays its copy
			 * until then). */
			if ((idx = pick_tier(f, f->es,
					     claimed_mask(im, coff, f->es))) < 0) {
				rc = idx;
				goto out;
			}
		} else if (!tier_is_file(f, idx)) {
			/* Into part of one: bring it back first. */
			if ((rc = recall_locked(f, b, im, e, 1, -1, 0, &st)) < 0)
				goto out;
			idx = ext_tier(f, e);
		}
		be = f->tiers[idx].be;
		rc = punch_gap(f, im, e, idx, pos);
		if (rc == 0)
			rc = be->ops->pwrite(be, im->ino, p, n, pos);
		while (rc == -ENOSPC || rc == -EDQUOT) {
			/* The tier's filesystem is full: another tier, with
			 * none of these bytes left on this one when the
			 * extent was not here (they would show if it came
			 * back). An extent that was here moves, with the
			 * bytes this write got onto it. */
			int nidx;

			if (isnew || whole)
				be->ops->punch(be, im->ino, pos, n);
			if ((nidx = spill(f, b, im, e, idx, isnew, whole,
					  &tried, &st)) < 0) {
				rc = nidx;
				break;
			}
			idx = nidx;
			be = f->tiers[idx].be;
			rc = punch_gap(f, im, e, idx, pos);
			if (rc == 0)
				rc = be->ops->pwrite(be, im->ino, p, n, pos);
		}
		if (rc < 0) {
			/* What it wrote of them before failing (a write may
			 * fail part way) is not ours: a new extent made later
			 * over this slot would show it. */
			if (isnew || whole)
				be->ops->punch(be, im->ino, pos, n);
			if (isnew) {
				ext_drop_new(im, e);
			} else if (!whole && (e->flags & META_EXT_SEALED)) {
				/* Some may have reached the extent's copy:
				 * its checksum holds no more. */
				e->flags &= ~META_EXT_SEALED;
				e->version = next_version(f, e->version);
				meta_put_extent(b, im->ino, e);
			}
			goto out;
		}
		if (whole && (rc = recall_locked(f, b, im, e, 0, idx, 0, &st)) < 0)
			goto out;
		prof_emit(f, fh, STATS_WRITE, coff, pos, n, idx,
			  pos != off ? PROFILE_CONT_REQUEST : 0, t);
		ext_grow(f, b, im, e, pos + n, isnew);
		e->version = next_version(f, e->version);
		e->flags &= ~META_EXT_SEALED;
		meta_put_extent(b, im->ino, e);
		p += n;
		pos += n;
	}
	if (end > im->a.size)
		im->a.size = end;
	im->a.blocks = blocks_of(f, im);
	im->a.mtime = im->a.ctime = now_ts();
	meta_put_inode(b, &im->a);
	rc = commit(f, b);
	if (rc == 0)
		rc = size;
out:
	if (rc < 0 && meta_batch_count(b)) {
		/* A partial write: keep what reached the tiers. With no byte
		 * written, still the recall of the failed chunk's extent (in
		 * memory it is on its new tier already, and its old copy
		 * goes). */
		if (pos > im->a.size)
			im->a.size = pos;
		im->a.blocks = blocks_of(f, im);
		if (pos > off)
			im->a.mtime = im->a.ctime = now_ts();
		meta_put_inode(b, &im->a);
		if (commit(f, b) == 0) {
			committed = 1;
			if (pos > off)
				rc = pos - off;
		}
	}
	pthread_rwlock_unlock(&im->lock);
	stale_done(f, &st, rc > 0 || committed, NULL);
	meta_batch_free(b);
	return rc;
}

int fs_release(struct fabric *f, struct fs_file *fh)
{
	struct inode_mem *im = fh->im;
	int last, i;

	/* The count goes down where "last" is decided: two releases at
	 * once each saw the other's open and neither was last. */
	pthread_mutex_lock(&f->itab_lock);
	last = --im->nopen == 0;
	if (last)
		atomic_fetch_sub(&f->nopen, 1);
	hlink_del(&fh->link);
	pthread_mutex_unlock(&f->itab_lock);
	if (last)
		for (i = 0; i < f->ntiers; i++)
			if (tier_is_file(f, i))
				f->tiers[i].be->ops->forget(f->tiers[i].be, im->ino);
	itab_release(f, im, 0, 0);
	pthread_mutex_destroy(&fh->rd_lock);
	free(fh);
	return 0;
}

int fs_fsync(struct fabric *f, struct fs_file *fh, int datasync)
{
	return sync_inode(f, fh->im->ino);
}

int fs_fallocate(struct fabric *f, struct fs_file *fh, int mode, uint64_t off,
		 uint64_t len)
{
	struct inode_mem *im = fh->im;
	struct meta_batch *b;
	uint64_t end = off + len, pos;
	struct stale st = { 0 };
	int rc = 0, keep = mode & FALLOC_FL_KEEP_SIZE, partial = 0;

	if (len == 0)
		return -EINVAL;
	if (end < off || end > FILE_SIZE_MAX)
		return -EFBIG;
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) && (!keep || (mode & FALLOC_FL_ZERO_RANGE)))
		return -EOPNOTSUPP;
	if (!(b = meta_batch_new()))
		return -ENOMEM;
again:
	pthread_rwlock_wrlock(&im->lock);
	if (!S_ISREG(im->a.mode)) {
		rc = -ENODEV;
		goto out;
	}
	/* Growing the file (without KEEP_SIZE) moves its end too. */
	if (hold_waits(f, im, (keep || off < im->a.size) ? off : im->a.size,
		       keep ? end : UINT64_MAX))
		goto again;
	if ((rc = ext_load(f, im)) < 0)
		goto out;
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		/* Zeros over the range: punch the tiers, drop whole extents. */
		size_t i = ext_lower(im, off - off % f->es);

		while (i < im->next && im->ext[i].off < end) {
			struct meta_extent *e = &im->ext[i];
			uint64_t s = off > e->off ? off : e->off;
			uint64_t t = end < e->off + e->len ? end : e->off + e->len;
			int idx = ext_tier(f, e);
			int whole = off <= e->off && end >= e->off + e->len;
			struct backend *be;

			if (!tier_is_file(f, idx)) {
				if (whole)
					rc = stale_add(&st, idx, ext_copy(im, e));
				else if (s < t)
					rc = recall_locked(f, b, im, e, 1, -1, 0, &st);
				if (rc < 0)
					goto out;
				idx = ext_tier(f, e);
			}
			be = f->tiers[idx].be;
			if (s < t && tier_is_file(f, idx) &&
			    (rc = be->ops->punch(be, im->ino, s, t - s)) < 0)
				goto out;
			if (whole) {
				ext_remove(f, b, im, i);
				continue;
			}
			if (s < t) {
				e->version = next_version(f, e->version);
				e->flags &= ~META_EXT_SEALED;
				meta_put_extent(b, im->ino, e);
			}
			i++;
		}
	}
	/* Allocated, and for ZERO_RANGE after the punch: the range must be
	 * preallocated then too, so that writes there find room (it was
	 * left punched: st_blocks 8 where ext4 says 20488). */
	if (!(mode & FALLOC_FL_PUNCH_HOLE)) {
		for (pos = off; pos < end;) {
			uint64_t coff = pos - pos % f->es;
			uint64_t n = (coff + f->es < end ? coff + f->es : end) - pos;
			struct meta_extent *e;
			struct backend *be;
			unsigned tried = 0;
			int isnew, idx;

			if ((isnew = ext_get_or_new(f, im, coff, &e)) < 0) {
				rc = isnew;
				goto out;
			}
			idx = ext_tier(f, e);
			be = f->tiers[idx].be;
			/* An object store holds the extent's bytes already.
			 * Allocating keeps what a file holds: what the extent
			 * grows over is punched first. */
			rc = punch_gap(f, im, e, idx, pos + n);
			if (rc == 0 && tier_is_file(f, idx))
				rc = be->ops->allocate(be, im->ino, pos, n);
			while (rc == -ENOSPC || rc == -EDQUOT) {
				/* Its filesystem is full: the next tier, as
				 * for a write. */
				if (isnew)
					be->ops->punch(be, im->ino, pos, n);
				if ((idx = spill(f, b, im, e, idx, isnew, 0,
						 &tried, &st)) < 0) {
					rc = idx;
					break;
				}
				be = f->tiers[idx].be;
				rc = punch_gap(f, im, e, idx, pos + n);
				if (rc == 0)
					rc = be->ops->allocate(be, im->ino, pos, n);
			}
			if (rc < 0) {
				if (isnew)
					ext_drop_new(im, e);
				goto out;
			}
			ext_grow(f, b, im, e, pos + n, isnew);
			meta_put_extent(b, im->ino, e);
			pos += n;
		}
	}
	if (!keep && end > im->a.size)
		im->a.size = end;
	im->a.blocks = blocks_of(f, im);
	im->a.mtime = im->a.ctime = now_ts();
	meta_put_inode(b, &im->a);
	rc = commit(f, b);
	goto done;
out:
	partial = commit_partial(f, b);
done:
	pthread_rwlock_unlock(&im->lock);
	stale_done(f, &st, rc == 0 || partial, NULL);
	meta_batch_free(b);
	return rc;
}

int64_t fs_lseek(struct fabric *f, struct fs_file *fh, uint64_t off, int whence)
{
	struct inode_mem *im = fh->im;
	uint64_t size, pos;
	int64_t res = -ENXIO;
	size_t i;
	int rc;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if ((rc = rdlock_ext(f, im)) < 0)
		return rc;
	size = im->a.size;
	if (off >= size)
		goto out;
	if (whence == SEEK_DATA) {
		for (i = ext_lower(im, off - off % f->es); i < im->next; i++) {
			struct meta_extent *e = &im->ext[i];
			uint64_t t = e->off + e->len < size ? e->off + e->len : size;
			uint64_t s = off > e->off ? off : e->off;
			struct backend *be = f->tiers[ext_tier(f, e)].be;
			int64_t r;

			if (s >= t)
				continue;
			if (!be->ops->seek) {
				res = s;   /* an object store's extent is all data */
				goto out;
			}
			r = be->ops->seek(be, im->ino, s, SEEK_DATA);
			/* ENXIO: no data from s on in the tier file; any
			 * other error is the answer (taken as no data, cp
			 * copied a file full of it as zeros, exit 0) */
			if ((r >= 0 && (uint64_t)r < t) || (r < 0 && r != -ENXIO)) {
				res = r;
				goto out;
			}
		}
		goto out;
	}
	/* SEEK_HOLE: the first offset >= off in no extent or in a hole of
	 * its tier file; the end of the file at the latest. */
	pos = off;
	while (pos < size) {
		struct meta_extent *e = ext_find(im, pos - pos % f->es);
		uint64_t t;
		struct backend *be;
		int64_t r;

		if (!e || pos >= e->off + e->len)
			break;
		t = e->off + e->len;
		be = f->tiers[ext_tier(f, e)].be;
		if (!be->ops->seek) {
			pos = t;
			continue;
		}
		r = be->ops->seek(be, im->ino, pos, SEEK_HOLE);
		if (r < 0 && r != -ENXIO) {
			res = r;
			goto out;
		}
		if (r >= 0 && (uint64_t)r < t) {
			pos = r;
			break;
		}
		pos = t;
	}
	res = pos < size ? (int64_t)pos : (int64_t)size;
out:
	pthread_rwlock_unlock(&im->lock);
	return res;
}

/* ---------------------------------------------------------------- */
/* directories */

int fs_opendir(struct fabric *f, uint64_t ino, struct fs_dir **out)
{
	struct inode_mem *im;
	struct fs_dir *d;
	int rc = itab_get(f, ino, &im);

	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&im->lock);
	rc = S_ISDIR(im->a.mode) ? 0 : -ENOTDIR;
	d = rc ? NULL : calloc(1, sizeof(*d));
	if (d) {
		d->ino = ino;
		d->parent = im->a.parent ? im->a.parent : ROOT_INO;
		pthread_mutex_init(&d->lock, NULL);
	}
	pthread_rwlock_unlock(&im->lock);
	itab_put(f, im);
	if (rc < 0)
		return rc;
	if (!d)
		return -ENOMEM;
	pthread_mutex_lock(&f->itab_lock);
	hlink_add(&f->dirs, &d->link);
	pthread_mutex_unlock(&f->itab_lock);
	*out = d;
	return 0;
}

static void dir_clear(struct fs_dir *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->ents[i].name);
	free(d->ents);
	d->ents = NULL;
	d->n = d->cap = 0;
}

static int dir_collect(void *arg, const char *name, const struct meta_dirent *de)
{
	struct fs_dir *d = arg;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct dir_ent *ne = realloc(d->ents, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		d->ents = ne;
		d->cap = cap;
	}
	d->ents[d->n].name = strdup(name);
	if (!d->ents[d->n].name)
		return -ENOMEM;
	d->ents[d->n].ino = de->ino;
	d->ents[d->n].type = de->type;
	d->n++;
	return 0;
}

int fs_readdir(struct fabric *f, struct fs_dir *d, off_t off, int plus,
	       fs_fill_cb fill, void *arg)
{
	int rc = 0, fresh = off == 0;
	size_t i;

	pthread_mutex_lock(&d->lock);
	if (fresh) {
		dir_clear(d);
		rc = meta_readdir(f->meta, d->ino, NULL, dir_collect, d);
		if (rc < 0) {
			dir_clear(d);
			rc = rc == -EUCLEAN ? -EIO : rc;
			goto out;
		}
	}
	for (i = off; i < d->n + 2; i++) {
		struct stat st;
		struct inode_mem *im = NULL;
		const char *name;

		memset(&st, 0, sizeof(st));
		if (i < 2) {
			name = i == 0 ? "." : "..";
			st.st_ino = i == 0 ? d->ino : d->parent;
			st.st_mode = S_IFDIR;
			if (plus && fs_getattr(f, st.st_ino, &st) < 0)
				st.st_mode = S_IFDIR;
		} else {
			struct dir_ent *e = &d->ents[i - 2];

			name = e->name;
			st.st_ino = e->ino;
			st.st_mode = e->type;
			if (plus) {
				struct meta_dirent cur;

				/* The kernel makes a dentry of each entry: one
				 * from an earlier call's snapshot must still
				 * name its inode (renamed or unlinked since,
				 * its inode alive by another link or an open,
				 * the old name led to it, and a create there
				 * wrote into it). Names do not change during
				 * a call: the kernel holds the directory. */
				if (!fresh &&
				    (dent_get(f, d->ino, e->name, &cur) < 0 ||
				     cur.ino != e->ino))
					continue;
				if (itab_get(f, e->ino, &im) < 0)
					continue;  /* removed since the snapshot */
				pthread_rwlock_rdlock(&im->lock);
				attr_to_stat(&im->a, &st);
				pthread_rwlock_unlock(&im->lock);
			}
		}
		if (fill(arg, name, &st, i + 1)) {
			if (im)
				itab_put(f, im);
			break;
		}
		if (im) {
			itab_add_lookup(f, im);
			itab_put(f, im);
		}
	}
out:
	pthread_mutex_unlock(&d->lock);
	return rc;
}

int fs_releasedir(struct fabric *f, struct fs_dir *d)
{
	pthread_mutex_lock(&f->itab_lock);
	hlink_del(&d->link);
	pthread_mutex_unlock(&f->itab_lock);
	dir_free(d);
	return 0;
}

static void dir_free(struct fs_dir *d)
{
	dir_clear(d);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

int fs_fsyncdir(struct fabric *f, uint64_t ino)
{
	struct inode_mem *im;
	int rc;

	/* its deferred times first */
	if ((rc = itab_get(f, ino, &im)) < 0)
		return rc;
	rc = dir_store(f, im);
	itab_put(f, im);
	if (rc < 0)
		return -EIO;
	return meta_sync(f->meta) < 0 ? -EIO : 0;
}

int fs_statfs(struct fabric *f, struct statvfs *out)
{
	uint64_t total = 0, avail = 0;
	int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < f->ntiers; i++) {
		struct tier_rt *t = &f->tiers[i];
		struct be_space sp = { 0 };
		int64_t used = atomic_load(&t->used);
		uint64_t room = (int64_t)t->cfg->capacity > used ?
				t->cfg->capacity - used : 0;

		if (t->be->ops->space(t->be, &sp) == 0 && sp.fs_avail < room)
			room = sp.fs_avail;
		total += t->cfg->capacity;
		avail += room;
	}
	out->f_bsize = 4096;
	out->f_frsize = 4096;
	out->f_blocks = total / 4096;
	out->f_bfree = avail / 4096;
	out->f_bavail = avail / 4096;
	out->f_files = 1ULL << 32;
	out->f_ffree = out->f_files - (uint64_t)atomic_load(&f->ninodes);
	out->f_favail = out->f_ffree;
	out->f_namemax = META_NAME_MAX;
	return 0;
}

/* ---------------------------------------------------------------- */
/* xattrs */

/* "tier:first-last ..." for each extent. Caller holds im->lock. */
static int tier_xattr(struct fabric *f, struct inode_mem *im, char **out)
{
	size_t cap = 64 + im->next * (CFG_NAME_MAX + 44), len = 0, i;
	char *s = malloc(cap);

	if (!s)
		return -ENOMEM;
	s[0] = '\0';
	for (i = 0; i < im->next; i++) {
		const struct meta_extent *e = &im->ext[i];

		if (!e->len)
			continue;
		len += snprintf(s + len, cap - len, "%s%s:%" PRIu64 "-%" PRIu64,
				len ? " " : "", f->tiers[ext_tier(f, e)].cfg->name,
				e->off, e->off + e->len - 1);
	}
	*out = s;
	return len;
}

/* The namespaces stored: user., trusted., security.. POSIX ACLs (system.)
 * are not supported, as on a filesystem mounted with noacl: EOPNOTSUPP
 * makes cp and rsync fall back to chmod. */
static int xattr_ns_check(const char *name)
{
	static const char *const ok[] = { "user.", "trusted.", "security." };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strncmp(name, ok[i], strlen(ok[i])) && name[strlen(ok[i])])
			return 0;
	return -EOPNOTSUPP;
}

/* Whether ctx is in group gid, by its primary or a supplementary group. */
static int ctx_in_group(const struct fs_ctx *ctx, uint32_t gid)
{
	int i;

	if (ctx->gid == gid)
		return 1;
	for (i = 0; ctx->groups && i < ctx->ngroups; i++)
		if (ctx->groups[i] == gid)
			return 1;
	return 0;
}

/* Setting a policy needs what writing the file needs: the kernel checks
 * that before a FUSE request (default_permissions); this is for callers
 * that do not come through the kernel, and a second line for those that
 * do. Root, the owner, or the write bit of the class ctx falls in. ctx
 * NULL: the daemon itself. */
static int pol_may_set(const struct fs_ctx *ctx, const struct meta_inode *a)
{
	if (!ctx || ctx->uid == 0 || ctx->uid == a->uid)
		return 0;
	if (ctx_in_group(ctx, a->gid))
		return (a->mode & S_IWGRP) ? 0 : -EACCES;
	return (a->mode & S_IWOTH) ? 0 : -EACCES;
}

/* Whether the file im holds has an extent on a tier p forbids. Caller
 * holds im->lock for writing. */
static int pol_violated(struct fabric *f, struct inode_mem *im,
			const struct score_policy *p)
{
	size_t i;

	if (ext_load(f, im) < 0)
		return 0;
	for (i = 0; i < im->next; i++)
		if (im->ext[i].len &&
		    !pol_allows(f, p, ext_tier(f, &im->ext[i]), NULL, 0))
			return 1;
	return 0;
}

/* The tier a file with policies p must move to, or -1: its pin, else the
 * fastest file tier p allows. */
static int pol_target(struct fabric *f, const struct score_policy *p)
{
	int i;

	if (p->pin >= 0)
		return p->pin;
	for (i = 0; i < f->ntiers; i++)
		if (tier_is_file(f, i) && pol_allows(f, p, i, NULL, 0))
			return i;
	return -1;
}

/* Sets (val) or, when remove, clears policy `which` of ino; a pin of -1
 * clears it too. Queues the migration a new pin or class asks for. */
static int pol_update(struct fabric *f, const struct fs_ctx *ctx,
		      uint64_t ino, int which, int val, int flags, int remove)
{
	struct score_policy np, nopin;
	struct inode_mem *im;
	struct meta_inode old;
	struct meta_batch *b;
	unsigned bit = 1u << which, nset, there;
	char why[128];
	int rc, target = -1;

	if (which == POL_PIN && val < 0)
		remove = 1;
	if ((rc = itab_get(f, ino, &im)) < 0)
		return rc;
	if (!(b = meta_batch_new())) {
		itab_put(f, im);
		return -ENOMEM;
	}
	pthread_rwlock_wrlock(&im->lock);
	if (im->destroyed) {
		rc = -ENOENT;
		goto out;
	}
	if ((rc = pol_may_set(ctx, &im->a)) < 0) {
		log_notice("%s on inode %" PRIu64 ": uid %u may not change it",
			   pol_names[which], ino, ctx ? ctx->uid : 0);
		goto out;
	}
	np = im->pol;
	nset = im->pol_set;
	there = (nset | im->pol_bad) & bit;
	if (remove) {
		struct score_policy def;

		/* "none" on an unpinned file is no change, not an error;
		 * with XATTR_CREATE on a pinned one, the pin is there. */
		if (!there && !(im->pol_stray & bit)) {
			rc = which == POL_PIN && val < 0 && !(flags & XATTR_REPLACE) ?
			     0 : -ENODATA;
			goto out;
		}
		if (there && (flags & XATTR_CREATE)) {
			rc = -EEXIST;
			goto out;
		}
		pol_defaults(&def);
		np.pin = which == POL_PIN ? def.pin : np.pin;
		np.latency = which == POL_LATENCY ? def.latency : np.latency;
		np.cls = which == POL_CLASS ? def.cls : np.cls;
		nset &= ~bit;
	} else {
		if (there && (flags & XATTR_CREATE)) {
			rc = -EEXIST;
			goto out;
		}
		if (!there && (flags & XATTR_REPLACE)) {
			rc = -ENODATA;
			goto out;
		}
		pol_assign(&np, which, val);
		nset |= bit;
	}
	nopin = np;
	nopin.pin = -1;
	if (np.pin >= 0 && !pol_allows(f, &nopin, np.pin, why, sizeof(why))) {
		log_notice("%s on inode %" PRIu64 ": refused, pin to %s: %s",
			   pol_names[which], ino, f->cfg->tiers[np.pin].name, why);
		rc = -EPERM;
		goto out;
	}
	if (remove) {
		meta_del_xattr(b, ino, pol_names[which]);
	} else {
		const char *w = pol_value(f, &np, which);

		meta_put_xattr(b, ino, pol_names[which], w, strlen(w));
	}
	old = im->a;
	im->a.flags |= META_INODE_XATTRS | META_INODE_POLICY;
	im->a.ctime = now_ts();
	if ((rc = commit_attrs(f, b, im, &old)) < 0)
		goto out;
	im->pol = np;
	im->pol_set = nset;
	im->pol_bad &= ~bit;
	im->pol_stray &= ~bit;
	/* A pin moves the file now; a class only when it is somewhere the
	 * class forbids. Directories keep theirs for new files only. */
	if (S_ISREG(im->a.mode) && im->a.nlink && !remove &&
	    (which == POL_PIN || which == POL_CLASS) && pol_violated(f, im, &np))
		target = pol_target(f, &np);
out:
	pthread_rwlock_unlock(&im->lock);
	meta_batch_free(b);
	itab_put(f, im);
	if (target >= 0) {
		int64_t id = mig_submit(f->mig, ino, 0, UINT64_MAX, target,
					MIG_JOB_MANUAL, 0);

		if (id < 0)
			log_warn("inode %" PRIu64 ": cannot queue its move to %s "
				 "for %s: %s", ino, f->cfg->tiers[target].name,
				 pol_names[which], strerror((int)-id));
		else
			log_info("inode %" PRIu64 ": %s: job %" PRId64 " moves it "
				 "to %s", ino, pol_names[which], id,
				 f->cfg->tiers[target].name);
	}
	return rc;
}

static const char *pol_expect(int which)
{
	if (which == POL_PIN)
		return "a tier name or none";
	if (which == POL_LATENCY)
		return "critical, standard or flexible";
	return "public, private, restricted or confidential";
}

static int pol_setxattr(struct fabric *f, const struct fs_ctx *ctx,
			uint64_t ino, int which, const void *value, size_t size,
			int flags)
{
	char w[POL_WORD_MAX], show[POL_SHOW_MAX + 8];
	int val;

	if (pol_word(value, size, w) < 0 || pol_parse(f, which, w, &val) < 0) {
		pol_show(value, size, show, sizeof(show));
		log_notice("setxattr %s on inode %" PRIu64 ": bad value \"%s\" "
			   "(%zu bytes; expected %s)", pol_names[which], ino, show,
			   size, pol_expect(which));
		return -EINVAL;
	}
	return pol_update(f, ctx, ino, which, val, flags, 0);
}

/* "pin=X latency=Y class=Z", effective. */
static int pol_summary(struct fabric *f, uint64_t ino, char *s, size_t n)
{
	struct score_policy p;
	int rc;

	if ((rc = fs_policy(f, ino, &p)) < 0)
		return rc;
	return snprintf(s, n, "pin=%s latency=%s class=%s",
			pol_value(f, &p, POL_PIN), pol_value(f, &p, POL_LATENCY),
			pol_value(f, &p, POL_CLASS));
}

/* The POL_* bits of the policies set on ino (as its twin loaded them:
 * a record that does not parse or cannot be read is not set; the latter
 * is in *bad when bad is not NULL), or -errno. */
static int pol_set_of(struct fabric *f, uint64_t ino, struct score_policy *p,
		      unsigned *bad)
{
	struct inode_mem *im;
	int rc;

	if ((rc = itab_get(f, ino, &im)) < 0)
		return rc;
	pthread_rwlock_rdlock(&im->lock);
	rc = im->destroyed ? -ENOENT : (int)im->pol_set;
	if (p)
		*p = im->pol;
	if (bad)
		*bad = im->pol_bad;
	pthread_rwlock_unlock(&im->lock);
	itab_put(f, im);
	return rc;
}

/* The value of a policy that is set, in its canonical spelling; EIO for
 * a record that cannot be read. */
static ssize_t pol_getxattr(struct fabric *f, uint64_t ino, int which,
			    void *buf, size_t size)
{
	struct score_policy p;
	const char *w;
	unsigned bad;
	int set = pol_set_of(f, ino, &p, &bad);
	size_t n;

	if (set < 0)
		return set;
	if (bad & (1u << which))
		return -EIO;
	if (!(set & (1 << which)))
		return -ENODATA;
	w = pol_value(f, &p, which);
	n = strlen(w);
	if (size && n > size)
		return -ERANGE;
	if (size)
		memcpy(buf, w, n);
	return (ssize_t)n;
}

int fs_policy(struct fabric *f, uint64_t ino, struct score_policy *out)
{
	struct inode_mem *im;
	int rc;

	if ((rc = itab_get(f, ino, &im)) < 0)
		return rc;
	pthread_rwlock_rdlock(&im->lock);
	rc = im->destroyed ? -ENOENT : 0;
	*out = im->pol;
	pthread_rwlock_unlock(&im->lock);
	itab_put(f, im);
	return rc;
}

int fs_setxattr(struct fabric *f, const struct fs_ctx *ctx, uint64_t ino,
		const char *name, const void *value, size_t size, int flags)
{
	char shown[POL_SHOW_MAX + 4];
	struct inode_mem *im;
	struct meta_batch *b;
	int rc;

	if ((rc = xattr_ns_check(name)) < 0)
		return rc;
	/* A policy value of any size that is not a word is a bad value. */
	if (pol_which(name) >= 0)
		return pol_setxattr(f, ctx, ino, pol_which(name), value, size,
				    flags);
	if (strlen(name) > META_XATTR_NAME_MAX)
		return -ERANGE;
	if (size > META_XATTR_SIZE_MAX)
		return -E2BIG;
	if (!strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX))) {
		if (!strcmp(name, XATTR_PREFIX "tier") ||
		    !strcmp(name, XATTR_PREFIX "policy") ||
		    !strcmp(name, XATTR_PREFIX "score") ||
		    !strcmp(name, XATTR_PREFIX "prediction")) {
			log_notice("setxattr %s on inode %" PRIu64 ": read-only attribute",
				   name, ino);
			return -EPERM;
		}
		/* Anyone who may write the file picks the name: as a bad
		 * value, shown only in printable bytes (a newline in it
		 * would make a log line of its own). */
		pol_show(name, strlen(name), shown, sizeof(shown));
		log_notice("setxattr on inode %" PRIu64 ": unknown attribute %s",
			   ino, shown);
		return -EINVAL;
	}
	if ((rc = itab_get(f, ino, &im)) < 0)
		return rc;
	if (!(b = meta_batch_new())) {
		itab_put(f, im);
		return -ENOMEM;
	}
	pthread_rwlock_wrlock(&im->lock);
	rc = im->destroyed ? -ENOENT : meta_get_xattr(f->meta, ino, name, NULL, 0);
	if (rc == -EUCLEAN)
		rc = 0;   /* there, with a value that does not decode: a new
			   * one replaces it */
	if (rc == -ENOENT)
		;
	else if (rc >= 0 && (flags & XATTR_CREATE))
		rc = -EEXIST;
	else if (rc == -ENODATA && (flags & XATTR_REPLACE))
		rc = -ENODATA;
	else if (rc >= 0 || rc == -ENODATA) {
		struct meta_inode old = im->a;

		meta_put_xattr(b, ino, name, value, size);
		im->a.flags |= META_INODE_XATTRS;
		im->a.ctime = now_ts();
		rc = commit_attrs(f, b, im, &old);
	} else if (rc == -EUCLEAN) {
		rc = -EIO;
	}
	pthread_rwlock_unlock(&im->lock);
	meta_batch_free(b);
	itab_put(f, im);
	return rc;
}

/* user.dfabric.score: a table of the terms per tier, then the decision
 * and why, as dfabric-ctl explain prints them. -EINVAL when ino is not
 * a regular file. */
static int score_xattr(struct fabric *f, uint64_t ino, char **out)
{
	struct placer_file pf;
	struct score_result r;
	size_t cap = 256 + CFG_MAX_TIERS * 128 + SCORE_REASON_MAX, len;
	int rc, i, home;
	char *s;

	if ((rc = fs_explain(f, ino, &pf, &r)) < 0)
		return rc;
	if (!(s = malloc(cap)))
		return -ENOMEM;
	home = placer_home(&pf, f->ntiers);
	len = snprintf(s, cap, "%-12s %9s %9s %9s %9s %9s  %s\n", "tier",
		       "frequency", "latency", "cost", "trend", "total", "allowed");
	for (i = 0; i < r.ntiers && len < cap; i++) {
		const struct score_terms *t = &r.t[i];

		len += snprintf(s + len, cap - len,
				"%-12s %9.3f %9.3f %9.3f %9.3f %9.3f  %s%s%s\n",
				f->tiers[i].cfg->name, t->frequency,
				t->latency_fit, t->cost_saving, t->trend,
				t->total, t->allowed ? "yes" : "no: ",
				t->allowed ? "" : t->why,
				i == home ? " (current)" : "");
	}
	if (len < cap)
		len += snprintf(s + len, cap - len, "confidence %.3f\n%s\n",
				r.confidence, r.reason);
	if (len >= cap)
		len = cap - 1;
	*out = s;
	return (int)len;
}

/* user.dfabric.prediction: the forecast of a regular file, one
 * "name value" a line, as dfabric-ctl predict prints it. */
static int prediction_xattr(struct fabric *f, uint64_t ino, char **out)
{
	struct placer_file pf;
	struct forecast fc;
	size_t len = 0;
	int64_t now;
	int rc, h;
	char *s = NULL;
	FILE *m;

	if ((rc = fs_predict(f, ino, &pf, &fc, &now)) < 0)
		return rc;
	/* a stream that grows: a number of 300 digits (a huge decayed
	 * count from a record) is written whole, past no buffer's end */
	if (!(m = open_memstream(&s, &len)))
		return -ENOMEM;
	for (h = 0; h < PREDICT_HORIZONS; h++)
		fprintf(m, "expected_%.0fs %.3f\nprobability_%.0fs %.3f\n",
			f->cfg->predict.horizon[h], fc.expected[h],
			f->cfg->predict.horizon[h], fc.prob[h]);
	if (fc.next > 0)
		fprintf(m, "next_in_s %.0f\n", (double)(fc.next - now) / 1e9);
	else
		fprintf(m, "next_in_s unknown\n");
	fprintf(m, "confidence %.3f\ntrend %.3f\nchange %.3f\nperiod_s %.0f\n",
		fc.confidence, fc.trend, fc.change, fc.period);
	if (fclose(m) != 0 || len > INT_MAX) {
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return (int)len;
}

ssize_t fs_getxattr(struct fabric *f, uint64_t ino, const char *name,
		    void *buf, size_t size)
{
	struct inode_mem *im;
	char *s;
	int rc;

	if ((rc = xattr_ns_check(name)) < 0)
		return rc;
	if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX))) {
		rc = meta_get_xattr(f->meta, ino, name, buf, size);
		return rc == -EUCLEAN ? -EIO : rc;
	}
	if (pol_which(name) >= 0)
		return pol_getxattr(f, ino, pol_which(name), buf, size);
	if (!strcmp(name, XATTR_PREFIX "policy")) {
		char sum[3 * POL_WORD_MAX + 32];

		if ((rc = pol_summary(f, ino, sum, sizeof(sum))) < 0)
			return rc;
		if (size && (size_t)rc > size)
			return -ERANGE;
		if (size)
			memcpy(buf, sum, rc);
		return rc;
	}
	if (!strcmp(name, XATTR_PREFIX "score")) {
		if ((rc = score_xattr(f, ino, &s)) < 0)
			return rc == -EINVAL ? -ENODATA : rc;
		goto copy;
	}
	if (!strcmp(name, XATTR_PREFIX "prediction")) {
		/* Not a regular file, or forecasts turned off: no such
		 * attribute. */
		if ((rc = prediction_xattr(f, ino, &s)) < 0)
			return rc == -EINVAL || rc == -ENOTSUP ? -ENODATA : rc;
		goto copy;
	}
	if (strcmp(name, XATTR_PREFIX "tier"))
		return -ENODATA;
	if ((rc = itab_get(f, ino, &im)) < 0)
		return rc;
	if ((rc = rdlock_ext(f, im)) < 0) {
		itab_put(f, im);
		return rc;
	}
	rc = tier_xattr(f, im, &s);
	pthread_rwlock_unlock(&im->lock);
	itab_put(f, im);
	if (rc < 0)
		return rc;
copy:
	if (size && (size_t)rc > size)
		rc = -ERANGE;
	else if (size)
		memcpy(buf, s, rc);
	free(s);
	return rc;
}

struct xlist {
	char *buf;                     /* the caller's buffer or NULL */
	size_t size;                   /* its size */
	size_t len;                    /* bytes needed so far */
	int pol_set;                   /* POL_* bits set on the inode, or
					* there and not in effect */
	int trusted;                   /* list trusted.* names too */
};

static int xlist_cb(void *arg, const char *name)
{
	struct xlist *x = arg;
	size_t n = strlen(name) + 1;

	/* Of dfabric's own names, only the policies set are listed. */
	if (!strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) &&
	    (pol_which(name) < 0 || !(x->pol_set & (1 << pol_which(name)))))
		return 0;
	if (!x->trusted && !strncmp(name, "trusted.", 8))
		return 0;
	if (x->size && x->len + n <= x->size)
		memcpy(x->buf + x->len, name, n);
	x->len += n;
	return 0;
}

ssize_t fs_listxattr(struct fabric *f, const struct fs_ctx *ctx, uint64_t ino,
		     char *buf, size_t size)
{
	/* trusted.* names only to CAP_SYS_ADMIN (taken as: root), as ext4
	 * lists them; the kernel refuses the others their values already */
	struct xlist x = { buf, size, 0, 0, !ctx || ctx->uid == 0 };
	unsigned bad = 0;
	int rc = pol_set_of(f, ino, NULL, &bad);

	if (rc == -ENOENT)
		rc = 0;  /* as before: an inode without records lists nothing */
	if (rc >= 0) {
		x.pol_set = rc | (int)bad;
		rc = meta_list_xattrs(f->meta, ino, xlist_cb, &x);
	}
	if (rc < 0)
		return rc == -EUCLEAN ? -EIO : rc;
	if (size && x.len > size)
		return -ERANGE;
	return x.len;
}

int fs_removexattr(struct fabric *f, const struct fs_ctx *ctx, uint64_t ino,
		   const char *name)
{
	char shown[POL_SHOW_MAX + 4];
	struct inode_mem *im;
	struct meta_batch *b;
	int rc;

	if ((rc = xattr_ns_check(name)) < 0)
		return rc;
	if (pol_which(name) >= 0)
		return pol_update(f, ctx, ino, pol_which(name), 0, 0, 1);
	if (!strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX))) {
		pol_show(name, strlen(name), shown, sizeof(shown));
		log_notice("removexattr on inode %" PRIu64 ": %s cannot be removed",
			   ino, shown);
		return strcmp(name, XATTR_PREFIX "tier") &&
		       strcmp(name, XATTR_PREFIX "policy") &&
		       strcmp(name, XATTR_PREFIX "score") &&
		       strcmp(name, XATTR_PREFIX "prediction") ? -EINVAL : -EPERM;
	}
	if ((rc = itab_get(f, ino, &im)) < 0)
		return rc;
	if (!(b = meta_batch_new())) {
		itab_put(f, im);
		return -ENOMEM;
	}
	pthread_rwlock_wrlock(&im->lock);
	rc = im->destroyed ? -ENOENT : meta_get_xattr(f->meta, ino, name, NULL, 0);
	/* one whose value does not decode goes too */
	if (rc >= 0 || rc == -EUCLEAN) {
		struct meta_inode old = im->a;

		meta_del_xattr(b, ino, name);
		im->a.ctime = now_ts();
		rc = commit_attrs(f, b, im, &old);
	}
	pthread_rwlock_unlock(&im->lock);
	meta_batch_free(b);
	itab_put(f, im);
	return rc;
}

/* ---------------------------------------------------------------- */
/* for the control socket */

int fs_where(struct fabric *f, uint64_t ino, struct fs_where_ext **out,
	     size_t *n, uint64_t *size)
{
	struct inode_mem *im;
	struct fs_where_ext *w = NULL;
	size_t i;
	int rc;

	if ((rc = itab_get(f, ino, &im)) < 0)
		return rc;
	if ((rc = rdlock_ext(f, im)) < 0) {
		itab_put(f, im);
		return rc;
	}
	if (im->next && !(w = calloc(im->next, sizeof(*w))))
		rc = -ENOMEM;
	for (i = 0; w && i < im->next; i++) {
		const struct meta_extent *e = &im->ext[i];

		w[i].off = e->off;
		w[i].len = e->len;
		w[i].version = e->version;
		w[i].sealed = !!(e->flags & META_EXT_SEALED);
		snprintf(w[i].tier, sizeof(w[i].tier), "%s",
			 f->tiers[ext_tier(f, e)].cfg->name);
	}
	*n = rc ? 0 : im->next;
	*size = im->a.size;
	pthread_rwlock_unlock(&im->lock);
	itab_put(f, im);
	*out = w;
	return rc;
}

double fs_tier_latency(struct fabric *f, int idx, uint64_t *samples)
{
	uint64_t n, bits;
	double v;

	if (idx < 0 || idx >= f->ntiers) {
		if (samples)
			*samples = 0;
		return -1;
	}
	n = atomic_load(&f->tiers[idx].lat_n);
	bits = atomic_load(&f->tiers[idx].lat_bits);
	if (samples)
		*samples = n;
	memcpy(&v, &bits, sizeof(v));
	return n ? v : -1;
}

struct profile *fs_profile(struct fabric *f)
{
	return f->prof;
}

int fs_status(struct fabric *f, struct fs_status *out)
{
	int i;

	memset(out, 0, sizeof(*out));
	out->ntiers = f->ntiers;
	for (i = 0; i < f->ntiers; i++) {
		struct tier_rt *t = &f->tiers[i];
		struct fs_tier_status *s = &out->tiers[i];
		struct be_space sp = { 0 };

		snprintf(s->name, sizeof(s->name), "%s", t->cfg->name);
		s->kind = t->be->ops->kind;
		if (t->cfg->kind == CFG_TIER_S3)
			snprintf(s->path, sizeof(s->path), "%s://%s/%s/%s",
				 t->cfg->tls ? "https" : "http", t->cfg->endpoint,
				 t->cfg->bucket, t->cfg->prefix);
		else
			snprintf(s->path, sizeof(s->path), "%s", t->cfg->path);
		s->healthy = be_health(t->be) == BE_UP;
		s->capacity = t->cfg->capacity;
		s->used = atomic_load(&t->used);
		s->files = atomic_load(&t->files);
		s->extents = atomic_load(&t->extents);
		s->high_watermark = t->cfg->high_watermark;
		s->low_watermark = t->cfg->low_watermark;
		s->latency_s = fs_tier_latency(f, i, &s->latency_samples);
		if (t->be->ops->space(t->be, &sp) == 0)
			s->fs_avail = sp.fs_avail;
		if (t->cfg->kind == CFG_TIER_S3) {
			struct be_s3_stats io;

			be_s3_get_stats(t->be, &io);
			s->has_io = 1;
			s->requests = io.requests;
			s->retries = io.retries;
			s->gets = io.gets;
			s->rx_bytes = io.rx_bytes;
			s->tx_bytes = io.tx_bytes;
			s->cache_hits = io.cache_hits;
			s->readahead = io.readahead;
			s->prefetches = io.prefetches;
		}
	}
	out->inodes = atomic_load(&f->ninodes);
	out->open_files = atomic_load(&f->nopen);
	out->extent_size = f->es;
	return 0;
}

/* ---------------------------------------------------------------- */
/* migration, for the control socket */

/* Index of the tier named `name`, or -ENXIO. */
static int tier_by_name(struct fabric *f, const char *name)
{
	int idx;

	for (idx = 0; idx < f->ntiers; idx++)
		if (!strcmp(f->tiers[idx].cfg->name, name))
			return idx;
	return -ENXIO;
}

int64_t fs_migrate(struct fabric *f, uint64_t ino, uint64_t off, uint64_t len,
		   const char *tier, double priority)
{
	struct inode_mem *im;
	int idx, rc, isreg, allowed;
	char why[128];

	if ((idx = tier_by_name(f, tier)) < 0)
		return idx;
	if (len == 0)
		return -EINVAL;
	if ((rc = itab_get(f, ino, &im)) < 0)
		return rc;
	pthread_rwlock_rdlock(&im->lock);
	isreg = S_ISREG(im->a.mode) && !im->destroyed;
	allowed = pol_allows(f, &im->pol, idx, why, sizeof(why));
	pthread_rwlock_unlock(&im->lock);
	itab_put(f, im);
	if (!isreg)
		return -EINVAL;
	if (!allowed) {
		log_notice("migration of inode %" PRIu64 " to %s refused: %s",
			   ino, tier, why);
		return -EPERM;
	}
	/* Whole extents: from the one holding `off`. */
	if (len != UINT64_MAX) {
		uint64_t end = off + len < off ? UINT64_MAX : off + len;

		off -= off % f->es;
		len = end == UINT64_MAX ? UINT64_MAX : end - off;
	} else {
		off -= off % f->es;
	}
	return mig_submit(f->mig, ino, off, len, idx, MIG_JOB_MANUAL, priority);
}

int fs_policy_check(struct fabric *f, uint64_t ino, const char *tier,
		    char *why, size_t n)
{
	struct score_policy p;
	int idx, rc;

	if ((idx = tier_by_name(f, tier)) < 0)
		return idx;
	if ((rc = fs_policy(f, ino, &p)) < 0)
		return rc;
	return pol_allows(f, &p, idx, why, n) ? 0 : -EPERM;
}

int fs_jobs(struct fabric *f, meta_job_cb cb, void *arg)
{
	return mig_list(f->mig, cb, arg);
}

int fs_job(struct fabric *f, uint64_t id, struct meta_job *out)
{
	return mig_get(f->mig, id, out);
}

int fs_jobs_prune(struct fabric *f)
{
	return mig_prune(f->mig);
}

int fs_migrate_wait(struct fabric *f, int timeout_ms)
{
	return mig_wait_idle(f->mig, timeout_ms);
}

void fs_set_bandwidth(struct fabric *f, uint64_t bytes_per_s)
{
	mig_set_bandwidth(f->mig, bytes_per_s);
}

uint64_t fs_bandwidth(struct fabric *f)
{
	return mig_bandwidth(f->mig);
}

void fs_set_busy_bandwidth(struct fabric *f, uint64_t bytes_per_s)
{
	mig_set_busy_bandwidth(f->mig, bytes_per_s);
}

uint64_t fs_busy_bandwidth(struct fabric *f)
{
	return mig_busy_bandwidth(f->mig);
}

int fs_busy_now(struct fabric *f)
{
	return mig_foreground_busy(f->mig);
}

const char *fs_tier_name(struct fabric *f, uint32_t id)
{
	int idx = tier_idx(f, id);

	return idx < 0 ? "?" : f->tiers[idx].cfg->name;
}

const char *fs_tier_index_name(struct fabric *f, int idx)
{
	return idx < 0 || idx >= f->ntiers ? "?" : f->tiers[idx].cfg->name;
}

int fs_tier_check(struct fabric *f, const char *tier, char *msg, size_t n)
{
	struct backend *be;
	int idx;

	if ((idx = tier_by_name(f, tier)) < 0)
		return idx;
	be = f->tiers[idx].be;
	if (!be->ops->probe) {
		snprintf(msg, n, "no probe for kind %s", be->ops->kind);
		return -EOPNOTSUPP;
	}
	return be->ops->probe(be, msg, n);
}

/* ---------------------------------------------------------------- */
/* placement, for the control socket and the score xattr */

int fs_explain(struct fabric *f, uint64_t ino, struct placer_file *pf,
	       struct score_result *r)
{
	int rc = ph_item(f, ino, 1, 0, pf);

	if (rc < 0)
		return rc;
	return placer_explain(f->placer, pf, real_ns(), r);
}

int fs_predict(struct fabric *f, uint64_t ino, struct placer_file *pf,
	       struct forecast *fc, int64_t *now)
{
	int rc;

	if (!f->pred)
		return -ENOTSUP;
	if ((rc = ph_item(f, ino, 1, 0, pf)) < 0)
		return rc;
	*now = real_ns();
	return placer_forecast(f->placer, pf, *now, fc);
}

int fs_predict_state(struct fabric *f, struct predict_accuracy *acc,
		     struct predict_ensemble *ens,
		     struct predictor_counters *cnt,
		     const struct predict_params **pp)
{
	if (!f->pred)
		return -ENOTSUP;
	predictor_state(f->pred, acc, ens, cnt);
	if (pp)
		*pp = &predictor_params(f->pred)->predict;
	return 0;
}

/* What fs_place and fs_place_status report besides the last pass. */
static void place_state(struct fabric *f, struct fs_place_status *out)
{
	placer_counters(f->placer, &out->passes, &out->promotions);
	out->auto_place = f->cfg->placement.auto_place;
	out->interval = f->cfg->placement.interval;
	out->cache = f->pred && f->cfg->predict.cache;
	placer_fetches(f->placer, &out->fetches);
}

int fs_place(struct fabric *f, struct fs_place_status *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = placer_pass(f->placer, &out->last);
	place_state(f, out);
	return rc;
}

int fs_place_status(struct fabric *f, struct fs_place_status *out)
{
	memset(out, 0, sizeof(*out));
	placer_last(f->placer, &out->last);
	place_state(f, out);
	return 0;
}

struct cost_ctx {
	struct fabric *f;
	struct fs_cost *out;
	int64_t now;
};

static int cost_file(void *arg, const struct placer_file *pf)
{
	struct cost_ctx *c = arg;
	struct score_result r;
	int i, rc;

	rc = placer_explain(c->f->placer, pf, c->now, &r);
	if (rc < 0)
		return rc;
	c->out->files++;
	for (i = 0; i < r.ntiers; i++) {
		double share;

		if (!pf->tier_bytes[i])
			continue;
		share = (double)pf->tier_bytes[i] / (double)pf->bytes;
		c->out->tiers[i].bytes += pf->tier_bytes[i];
		c->out->tiers[i].cost += share * r.t[i].monthly_cost;
	}
	c->out->all_fastest += r.t[0].monthly_cost;
	return 0;
}

int fs_cost(struct fabric *f, struct fs_cost *out)
{
	struct cost_ctx c = { .f = f, .out = out };
	int i, rc;

	memset(out, 0, sizeof(*out));
	out->ntiers = f->ntiers;
	for (i = 0; i < f->ntiers; i++)
		snprintf(out->tiers[i].name, sizeof(out->tiers[i].name), "%s",
			 f->tiers[i].cfg->name);
	c.now = real_ns();
	rc = ph_files(f, cost_file, &c);
	for (i = 0; i < f->ntiers; i++)
		out->total += out->tiers[i].cost;
	return rc;
}
