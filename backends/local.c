// SPDX-License-Identifier: GPL-2.0-or-later
/* The local-directory backend: one sparse file per inode under a tier's
 * directory, reached through a bounded cache of open descriptors.
 *
 * DESIGN
 * Layout. The file of inode N is "data/XX/YY/<N as 16 lowercase hex
 * digits>" below the tier root, XX = (N >> 8) & 0xff and YY = N & 0xff, so
 * that consecutive inodes land in different directories. Directories are
 * created on demand by the first write or allocate.
 *
 * Confinement. The tier root is opened once; every later path is resolved
 * relative to it with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or,
 * where the kernel lacks openat2, one component at a time with openat and
 * O_NOFOLLOW. A symlink planted anywhere in "data/" therefore makes the
 * operation fail (ELOOP) instead of leading dfabric out of the tier.
 *
 * Descriptor cache. A hash table maps an inode to an fd_ent {fd, refs}.
 * An operation takes a reference under lc->lock, does its I/O with the lock
 * released, then drops the reference. Entries nobody references sit on an
 * LRU list; when the table holds more than lc->cap entries the least
 * recently used unreferenced ones are closed. Referenced entries are never
 * closed, so the table may exceed its capacity by the number of operations
 * in flight. forget and remove take the entry out of the table; whoever
 * drops its last reference closes it. Descriptors are closed outside the
 * lock.
 *
 * Remove races. An operation that misses the cache opens the file without
 * the lock and inserts the descriptor afterwards. If a remove ran in
 * between, that descriptor may name the unlinked file, and caching it would
 * send later writes to a file nobody can see. remove therefore bumps
 * lc->gen after it unlinked, and a descriptor opened under an older
 * generation is used for its one operation and closed, never cached. */
#include "backends/backend.h"
#include "backends/local.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/io.h"
#include "common/log.h"

#define LC_CACHE_MIN      64       /* fewest cached descriptors */
#define LC_CACHE_MAX      65536    /* most cached descriptors */
#define LC_RELPATH_MAX    40       /* "data/xx/yy/" + 16 digits + NUL fits */
#define LC_EAGAIN_TRIES   8        /* openat2 retries after EAGAIN */
#define ZERO_RUN          (64u << 10) /* blocks of zeros a copy leaves holes */
#define LC_DIR_FLAGS      (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define LC_FILE_FLAGS     (O_RDWR | O_NOFOLLOW | O_CLOEXEC)

/* One cached descriptor. All fields but ino and fd are protected by
 * lc->lock; ino and fd do not change while the entry exists. */
struct fd_ent {
	uint64_t ino;                  /* inode whose backing file fd is */
	int fd;                        /* O_RDWR descriptor of that file */
	int refs;                      /* operations using fd right now */
	bool hashed;                   /* in the table; false: close at refs 0 */
	struct fd_ent *hnext;          /* next in the hash chain (or victim list) */
	struct fd_ent *lprev;          /* LRU neighbour, more recently used */
	struct fd_ent *lnext;          /* LRU neighbour, less recently used */
};

/* State of one local tier (backend->priv). */
struct local {
	int rootfd;                    /* the tier directory; fixed after open */
	char path[PATH_MAX];           /* the tier directory, for messages */
	int use_openat2;               /* 1 while openat2 works; atomic access */
	pthread_mutex_t lock;          /* protects everything below */
	struct fd_ent **buckets;       /* hash table of cached descriptors */
	size_t nbuckets;               /* power of two */
	size_t nents;                  /* entries in the table */
	size_t cap;                    /* unreferenced entries kept at most */
	struct fd_ent lru;             /* sentinel; lru.lnext = most recent */
	uint64_t gen;                  /* bumped by every remove */
	/* Directories whose new entries are not durable yet: bit XXYY of
	 * dirty_yy for data/XX/YY, bit XX of dirty_xx for data/XX. Set when a
	 * file or directory is created there, cleared by the sync that makes
	 * the entries durable. Atomic access, no lock. */
	_Atomic uint64_t dirty_yy[65536 / 64];
	_Atomic uint64_t dirty_xx[256 / 64];
	/* Held by a sync that clears bits and syncs directories; dsyncing
	 * counts those under way, raised before a bit is cleared, so that a
	 * sync that finds its bits clear while one is under way waits for
	 * its fsync instead of returning first (sync_dirs). */
	pthread_mutex_t dsync_lock;
	_Atomic int dsyncing;
};

static const struct be_ops local_ops;

/* ---- paths and confined opens ---------------------------------------- */

static void ino_relpath(uint64_t ino, char *buf, size_t len)
{
	snprintf(buf, len, "data/%02x/%02x/%016" PRIx64,
		 (unsigned)((ino >> 8) & 0xff), (unsigned)(ino & 0xff), ino);
}

/* Logs a failed operation on ino once: info for a full disk or quota
 * (the fabric goes on to the next tier, and says so), warning for a
 * write past the size limit, error for anything else. */
static void log_fail(const struct local *lc, const char *op, uint64_t ino,
		     int rc)
{
	char rel[LC_RELPATH_MAX];

	ino_relpath(ino, rel, sizeof(rel));
	/* full, or a write past what the tier's filesystem holds (the
	 * caller's offset): not a fault of the tier */
	if (rc == -ENOSPC || rc == -EDQUOT)
		log_info("local %s %s/%s: %s", op, lc->path, rel, strerror(-rc));
	else if (rc == -EFBIG)
		log_warn("local %s %s/%s: %s", op, lc->path, rel, strerror(-rc));
	else
		log_err("local %s %s/%s: %s", op, lc->path, rel, strerror(-rc));
}

/* openat() one component at a time, refusing symlinks anywhere. */
static int open_walk(int dirfd, const char *rel, int flags, mode_t mode)
{
	char comp[NAME_MAX + 1];
	const char *p = rel;
	int cur = dirfd;
	int rc;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n;
		int next;

		if (!slash) {
			rc = openat(cur, p, flags | O_NOFOLLOW, mode);
			if (rc < 0)
				rc = -errno;
			goto out;
		}
		n = (size_t)(slash - p);
		if (n == 0 || n > NAME_MAX) {
			rc = -EINVAL;
			goto out;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		next = openat(cur, comp, LC_DIR_FLAGS);
		if (next < 0) {
			rc = -errno;
			goto out;
		}
		if (cur != dirfd)
			close(cur);
		cur = next;
		p = slash + 1;
	}
out:
	if (cur != dirfd)
		close(cur);
	return rc;
}

/* Opens rel below dirfd without following any symlink and without leaving
 * dirfd's tree. Returns a descriptor or -errno. */
static int open_beneath(struct local *lc, int dirfd, const char *rel,
			int flags, mode_t mode)
{
	struct open_how how;
	int tries;
	long fd;

	if (!__atomic_load_n(&lc->use_openat2, __ATOMIC_RELAXED))
		return open_walk(dirfd, rel, flags, mode);
	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(flags | O_NOFOLLOW);
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		      RESOLVE_NO_MAGICLINKS;
	for (tries = 0; tries < LC_EAGAIN_TRIES; tries++) {
		fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		if (errno == ENOSYS) {
			if (__atomic_exchange_n(&lc->use_openat2, 0,
						__ATOMIC_RELAXED))
				log_info("local %s: no openat2, resolving paths "
					 "with openat and O_NOFOLLOW", lc->path);
			return open_walk(dirfd, rel, flags, mode);
		}
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
	}
	return -EAGAIN;
}

/* mkdirat that accepts an existing directory. */
static int mkdir_at(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Creates data/XX and data/XX/YY for ino, each step confined. */
static int make_dirs(struct local *lc, uint64_t ino)
{
	char xx[3], yy[3];
	int dfd = -1, xfd = -1;
	int rc;

	snprintf(xx, sizeof(xx), "%02x", (unsigned)((ino >> 8) & 0xff));
	snprintf(yy, sizeof(yy), "%02x", (unsigned)(ino & 0xff));
	rc = open_beneath(lc, lc->rootfd, "data", LC_DIR_FLAGS, 0);
	if (rc < 0) {
		log_err("local mkdir %s/data: %s", lc->path, strerror(-rc));
		goto out;
	}
	dfd = rc;
	rc = mkdir_at(dfd, xx);
	if (rc == 0) {
		rc = open_beneath(lc, dfd, xx, LC_DIR_FLAGS, 0);
		if (rc >= 0) {
			xfd = rc;
			rc = mkdir_at(xfd, yy);
		}
	}
	if (rc < 0) {
		if (rc == -ENOSPC || rc == -EDQUOT)
			log_warn("local mkdir %s/data/%s/%s: %s", lc->path, xx,
				 yy, strerror(-rc));
		else
			log_err("local mkdir %s/data/%s/%s: %s", lc->path, xx,
				yy, strerror(-rc));
	}
out:
	if (xfd >= 0)
		close(xfd);
	if (dfd >= 0)
		close(dfd);
	return rc < 0 ? rc : 0;
}

/* Opens the backing file of ino read-write; with `create`, makes it (mode
 * 0600) and its directories if missing. A reader (`ro` not NULL) of a
 * tier whose filesystem is read-only (ext4 remounts itself so on errors)
 * gets it read-only, with *ro set: the data can still be read off the
 * tier. Returns a descriptor, -ENOENT (missing and !create, not logged)
 * or -errno (logged). */
static int open_backing_flags(struct local *lc, uint64_t ino, bool create,
			      int extra, bool *ro)
{
	char rel[LC_RELPATH_MAX];
	int flags = LC_FILE_FLAGS | extra | (create ? O_CREAT : 0);
	int rc;

	ino_relpath(ino, rel, sizeof(rel));
	rc = open_beneath(lc, lc->rootfd, rel, LC_FILE_FLAGS | extra, 0);
	if (rc == -EROFS && ro && !create) {
		rc = open_beneath(lc, lc->rootfd, rel,
				  O_RDONLY | O_NOFOLLOW | O_CLOEXEC | extra, 0);
		*ro = rc >= 0;
	}
	if (rc == -ENOENT && create) {
		unsigned xx = (ino >> 8) & 0xff, xxyy = ino & 0xffff;

		rc = open_beneath(lc, lc->rootfd, rel, flags, 0600);
		if (rc == -ENOENT) {
			rc = make_dirs(lc, ino);
			if (rc == 0)
				rc = open_beneath(lc, lc->rootfd, rel, flags,
						  0600);
			else if (rc != -ENOENT)
				return rc;
		}
		/* A new entry: the sync of this file must sync its directory
		 * (and data/XX, which make_dirs may have just changed). Once
		 * it exists: a sync of a neighbour between this and the
		 * create would clear the bits without covering it. */
		atomic_fetch_or(&lc->dirty_yy[xxyy / 64], 1ULL << (xxyy % 64));
		atomic_fetch_or(&lc->dirty_xx[xx / 64], 1ULL << (xx % 64));
		if (rc == -ENOENT) {
			/* Its directories could not be made: the tier's own
			 * directory is gone. Not "no such file" to a writer. */
			log_err("local %s: cannot create the file of inode %"
				PRIu64 ": the tier's directory is gone (removed "
				"outside dfabric?)", lc->path, ino);
			return -EIO;
		}
	}
	if (rc < 0 && !(rc == -ENOENT && !create) && !(extra && rc == -EINVAL))
		log_fail(lc, "open", ino, rc);
	return rc;
}

/* ---- descriptor cache ------------------------------------------------- */

static size_t hash_ino(const struct local *lc, uint64_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ULL) >> 32) & (lc->nbuckets - 1);
}

/* Caller holds lc->lock. */
static struct fd_ent *fdc_lookup(struct local *lc, uint64_t ino)
{
	struct fd_ent *e;

	for (e = lc->buckets[hash_ino(lc, ino)]; e; e = e->hnext)
		if (e->ino == ino)
			return e;
	return NULL;
}

/* Caller holds lc->lock. */
static void fdc_unhash(struct local *lc, struct fd_ent *e)
{
	struct fd_ent **pp = &lc->buckets[hash_ino(lc, e->ino)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	e->hnext = NULL;
	e->hashed = false;
	lc->nents--;
}

/* Caller holds lc->lock. */
static void lru_del(struct fd_ent *e)
{
	e->lprev->lnext = e->lnext;
	e->lnext->lprev = e->lprev;
	e->lprev = e->lnext = NULL;
}

/* Caller holds lc->lock. */
static void lru_push(struct local *lc, struct fd_ent *e)
{
	e->lprev = &lc->lru;
	e->lnext = lc->lru.lnext;
	lc->lru.lnext->lprev = e;
	lc->lru.lnext = e;
}

/* Takes unreferenced entries out of the table, least recently used first,
 * until it holds at most lc->cap. Caller holds lc->lock; returns the
 * victims chained through hnext for fdc_close_list after unlocking. */
static struct fd_ent *fdc_evict_locked(struct local *lc)
{
	struct fd_ent *victims = NULL;

	while (lc->nents > lc->cap && lc->lru.lprev != &lc->lru) {
		struct fd_ent *v = lc->lru.lprev;

		lru_del(v);
		fdc_unhash(lc, v);
		v->hnext = victims;
		victims = v;
	}
	return victims;
}

/* Closes and frees a victim list; called without lc->lock. */
static void fdc_close_list(struct fd_ent *e)
{
	while (e) {
		struct fd_ent *next = e->hnext;

		close(e->fd);
		free(e);
		e = next;
	}
}

/* Takes a reference on ino's descriptor, opening (and with `create`,
 * creating) the file on a miss. Returns 0 and *out, -ENOENT when the file
 * is missing and !create, or -errno. Release with fdc_put. A reader
 * (`reading`) of a tier whose filesystem is read-only gets the file
 * opened read-only (open_backing_flags), uncached. */
static int fdc_get_for(struct local *lc, uint64_t ino, bool create,
		       bool reading, struct fd_ent **out);

static int fdc_get(struct local *lc, uint64_t ino, bool create,
		   struct fd_ent **out)
{
	return fdc_get_for(lc, ino, create, false, out);
}

static int fdc_get_for(struct local *lc, uint64_t ino, bool create,
		       bool reading, struct fd_ent **out)
{
	struct fd_ent *e, *ne, *victims = NULL;
	bool ro = false;
	uint64_t gen;
	int rc;

	pthread_mutex_lock(&lc->lock);
	e = fdc_lookup(lc, ino);
	if (e) {
		if (e->refs++ == 0)
			lru_del(e);
		pthread_mutex_unlock(&lc->lock);
		*out = e;
		return 0;
	}
	gen = lc->gen;
	pthread_mutex_unlock(&lc->lock);

	/* Open without the lock: it may create directories and files. */
	ne = calloc(1, sizeof(*ne));
	if (!ne)
		return -ENOMEM;
	rc = open_backing_flags(lc, ino, create, 0, reading ? &ro : NULL);
	if (rc < 0) {
		free(ne);
		return rc;
	}
	ne->ino = ino;
	ne->fd = rc;
	ne->refs = 1;
	/* Twice the device's readahead: a FUSE read reaches here as several
	 * requests on several threads, which the kernel's sequential
	 * detection sees out of order; a wider window keeps the device
	 * busy (in a cold 1 GiB read here the device's mean queue depth
	 * went from about 3 to 6; natively it is 7). Random reads do not
	 * grow a window, so they read no more. */
	posix_fadvise(rc, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (ro) {
		/* the cache holds read-write descriptors only: this one is
		 * used once, not hashed, and closed by fdc_put */
		*out = ne;
		return 0;
	}

	pthread_mutex_lock(&lc->lock);
	e = fdc_lookup(lc, ino);
	if (e) {
		/* Another thread opened it meanwhile: use theirs. */
		if (e->refs++ == 0)
			lru_del(e);
		pthread_mutex_unlock(&lc->lock);
		fdc_close_list(ne);
		*out = e;
		return 0;
	}
	if (gen == lc->gen) {
		size_t b = hash_ino(lc, ino);

		ne->hnext = lc->buckets[b];
		lc->buckets[b] = ne;
		ne->hashed = true;
		lc->nents++;
		victims = fdc_evict_locked(lc);
	}
	/* else: a remove ran while we opened; use ne once, uncached. */
	pthread_mutex_unlock(&lc->lock);
	fdc_close_list(victims);
	*out = ne;
	return 0;
}

/* Drops a reference taken by fdc_get. */
static void fdc_put(struct local *lc, struct fd_ent *e)
{
	struct fd_ent *victims = NULL;

	pthread_mutex_lock(&lc->lock);
	if (--e->refs == 0) {
		if (e->hashed) {
			lru_push(lc, e);
			victims = fdc_evict_locked(lc);
		} else {
			victims = e;
			e->hnext = NULL;
		}
	}
	pthread_mutex_unlock(&lc->lock);
	fdc_close_list(victims);
}

/* Takes ino's entry out of the table; closes it now if unused, else its
 * last user will. */
static void fdc_drop(struct local *lc, uint64_t ino, bool bump_gen)
{
	struct fd_ent *e, *victim = NULL;

	pthread_mutex_lock(&lc->lock);
	if (bump_gen)
		lc->gen++;
	e = fdc_lookup(lc, ino);
	if (e) {
		fdc_unhash(lc, e);
		if (e->refs == 0) {
			lru_del(e);
			victim = e;
		}
	}
	pthread_mutex_unlock(&lc->lock);
	fdc_close_list(victim);
}

/* ---- operations ------------------------------------------------------- */

static struct local *lc_of(struct backend *be)
{
	return be->priv;
}

/* A copy of an extent on this tier implies the inode's file: its
 * extents are written there before the map names the tier. A file that
 * is gone was removed behind the file system's back; reading it as
 * zeros would hand out wrong bytes. */
static int copy_missing(struct local *lc, uint64_t ino)
{
	log_err("local %s: inode %" PRIu64 " has an extent here but no file "
		"(removed outside dfabric?): reads of it fail with EIO",
		lc->path, ino);
	return -EIO;
}

/* Reads as local_pread; with `copy`, for a copy of an extent, which
 * implies the file (a missing one is EIO). */
static ssize_t read_at(struct local *lc, uint64_t ino, void *buf,
		       size_t len, uint64_t off, bool copy)
{
	struct fd_ent *e = NULL;
	size_t done = 0;
	ssize_t rc;

	if (len > (size_t)INT64_MAX || off > (uint64_t)INT64_MAX - len)
		return -EINVAL;
	if (len == 0)
		return 0;
	rc = fdc_get_for(lc, ino, false, true, &e);
	if (rc == -ENOENT && copy)
		return copy_missing(lc, ino);
	if (rc == -ENOENT) {
		/* Never written: all zeros. */
		memset(buf, 0, len);
		return (ssize_t)len;
	}
	if (rc < 0)
		return rc;
	while (done < len) {
		ssize_t n = pread(e->fd, (char *)buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			log_fail(lc, "pread", ino, (int)rc);
			goto out;
		}
		if (n == 0) {
			/* Past the end of the backing file: zeros. */
			memset((char *)buf + done, 0, len - done);
			done = len;
			break;
		}
		done += (size_t)n;
	}
	rc = (ssize_t)len;
out:
	fdc_put(lc, e);
	return rc;
}

static ssize_t local_pread(struct backend *be, uint64_t ino, void *buf,
			   size_t len, uint64_t off)
{
	return read_at(lc_of(be), ino, buf, len, off, false);
}

static ssize_t local_pwrite(struct backend *be, uint64_t ino, const void *buf,
			    size_t len, uint64_t off)
{
	struct local *lc = lc_of(be);
	struct fd_ent *e = NULL;
	size_t done = 0;
	ssize_t rc;

	if (len > (size_t)INT64_MAX || off > (uint64_t)INT64_MAX - len)
		return -EFBIG;
	if (len == 0)
		return 0;
	rc = fdc_get(lc, ino, true, &e);
	if (rc < 0)
		return rc;
	while (done < len) {
		ssize_t n = pwrite(e->fd, (const char *)buf + done, len - done,
				   (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			log_fail(lc, "pwrite", ino, (int)rc);
			goto out;
		}
		if (n == 0) {
			rc = -EIO;
			log_fail(lc, "pwrite (no progress)", ino, (int)rc);
			goto out;
		}
		done += (size_t)n;
	}
	rc = (ssize_t)len;
out:
	fdc_put(lc, e);
	return rc;
}

/* fallocate on ino's file; `create` says whether a missing file is made. */
static int do_fallocate(struct local *lc, uint64_t ino, int mode, uint64_t off,
			uint64_t len, bool create, const char *op)
{
	struct fd_ent *e = NULL;
	int rc;

	if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return -EINVAL;
	if (len == 0)
		return 0;
	rc = fdc_get(lc, ino, create, &e);
	if (rc == -ENOENT && !create)
		return 0;
	if (rc < 0)
		return rc;
	do {
		rc = fallocate(e->fd, mode, (off_t)off, (off_t)len);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		rc = -errno;
		log_fail(lc, op, ino, rc);
	}
	fdc_put(lc, e);
	return rc;
}

static int local_punch(struct backend *be, uint64_t ino, uint64_t off,
		       uint64_t len)
{
	return do_fallocate(lc_of(be), ino,
			    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len,
			    false, "punch");
}

static int local_allocate(struct backend *be, uint64_t ino, uint64_t off,
			  uint64_t len)
{
	return do_fallocate(lc_of(be), ino, FALLOC_FL_KEEP_SIZE, off, len, true,
			    "allocate");
}

static int local_truncate(struct backend *be, uint64_t ino, uint64_t size)
{
	struct local *lc = lc_of(be);
	struct fd_ent *e = NULL;
	struct stat st;
	int rc;

	if (size > (uint64_t)INT64_MAX)
		return -EINVAL;
	rc = fdc_get(lc, ino, false, &e);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (fstat(e->fd, &st) < 0) {
		rc = -errno;
		log_fail(lc, "fstat", ino, rc);
		goto out;
	}
	rc = 0;
	if ((uint64_t)st.st_size <= size)
		goto out;     /* only ever shrinks */
	do {
		rc = ftruncate(e->fd, (off_t)size);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		rc = -errno;
		log_fail(lc, "truncate", ino, rc);
	}
out:
	fdc_put(lc, e);
	return rc;
}

/* fsyncs the directory `rel` (relative to the tier root). */
static int sync_dir(struct local *lc, const char *rel)
{
	int fd = open_beneath(lc, lc->rootfd, rel, LC_DIR_FLAGS, 0);
	int rc = 0;

	if (fd < 0) {
		log_err("local open %s/%s: %s", lc->path, rel, strerror(-fd));
		return fd;
	}
	if (fsync(fd) < 0) {
		rc = -errno;
		log_err("local fsync %s/%s: %s", lc->path, rel, strerror(-rc));
	}
	close(fd);
	return rc;
}

/* Makes the entries of data/XX/YY and data/XX for ino durable if some were
 * created since they were last synced. The bit is cleared before the
 * fsync, so an entry created meanwhile is covered by this fsync or sets
 * the bit again. A sync that finds its bits clear returns at once only
 * when no other is under way: the one that cleared them may still be in
 * its fsync, and is waited for. */
static int sync_dirs(struct local *lc, uint64_t ino)
{
	unsigned xx = (ino >> 8) & 0xff, xxyy = ino & 0xffff;
	uint64_t ybit = 1ULL << (xxyy % 64), xbit = 1ULL << (xx % 64);
	char rel[16];
	int rc = 0;

	if (!(atomic_load(&lc->dirty_yy[xxyy / 64]) & ybit) &&
	    !(atomic_load(&lc->dirty_xx[xx / 64]) & xbit) &&
	    atomic_load(&lc->dsyncing) == 0)
		return 0;
	pthread_mutex_lock(&lc->dsync_lock);
	atomic_fetch_add(&lc->dsyncing, 1);
	if (atomic_fetch_and(&lc->dirty_yy[xxyy / 64], ~ybit) & ybit) {
		snprintf(rel, sizeof(rel), "data/%02x/%02x", xx, xxyy & 0xff);
		if ((rc = sync_dir(lc, rel)) < 0) {
			atomic_fetch_or(&lc->dirty_yy[xxyy / 64], ybit);
			goto out;
		}
	}
	if (atomic_fetch_and(&lc->dirty_xx[xx / 64], ~xbit) & xbit) {
		snprintf(rel, sizeof(rel), "data/%02x", xx);
		if ((rc = sync_dir(lc, rel)) < 0 || (rc = sync_dir(lc, "data")) < 0) {
			atomic_fetch_or(&lc->dirty_xx[xx / 64], xbit);
			goto out;
		}
	}
out:
	atomic_fetch_sub(&lc->dsyncing, 1);
	pthread_mutex_unlock(&lc->dsync_lock);
	return rc;
}

static int local_sync(struct backend *be, uint64_t ino)
{
	struct local *lc = lc_of(be);
	struct fd_ent *e = NULL;
	int rc;

	rc = fdc_get(lc, ino, false, &e);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	/* Data and the size it needs, then the directory entries created
	 * since the last sync of this file's directory. */
	do {
		rc = fdatasync(e->fd);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		rc = -errno;
		log_fail(lc, "fdatasync", ino, rc);
	}
	fdc_put(lc, e);
	if (rc == 0)
		rc = sync_dirs(lc, ino);
	return rc;
}

static int local_remove(struct backend *be, uint64_t ino)
{
	struct local *lc = lc_of(be);
	char rel[LC_RELPATH_MAX];
	char *name;
	int pfd = -1;
	int rc;

	ino_relpath(ino, rel, sizeof(rel));
	name = strrchr(rel, '/');
	*name++ = '\0';              /* rel = "data/XX/YY", name = file */
	rc = open_beneath(lc, lc->rootfd, rel, LC_DIR_FLAGS, 0);
	if (rc == -ENOENT) {
		rc = 0;
		goto out;
	}
	if (rc < 0) {
		log_fail(lc, "remove (open directory)", ino, rc);
		goto out;
	}
	pfd = rc;
	rc = 0;
	if (unlinkat(pfd, name, 0) < 0 && errno != ENOENT) {
		rc = -errno;
		log_fail(lc, "remove", ino, rc);
	}
out:
	/* After the unlink: a descriptor opened before it is never cached. */
	fdc_drop(lc, ino, true);
	if (pfd >= 0)
		close(pfd);
	return rc;
}

static int64_t local_allocated(struct backend *be, uint64_t ino)
{
	struct local *lc = lc_of(be);
	struct fd_ent *e = NULL;
	struct stat st;
	int64_t rc;

	rc = fdc_get_for(lc, ino, false, true, &e);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (fstat(e->fd, &st) < 0) {
		rc = -errno;
		log_fail(lc, "fstat", ino, (int)rc);
	} else {
		rc = (int64_t)st.st_blocks * 512;
	}
	fdc_put(lc, e);
	return rc;
}

static int64_t local_seek(struct backend *be, uint64_t ino, uint64_t off,
			  int whence)
{
	struct local *lc = lc_of(be);
	struct fd_ent *e = NULL;
	off_t pos;
	int64_t rc;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (off > (uint64_t)INT64_MAX)
		return -ENXIO;
	rc = fdc_get_for(lc, ino, false, true, &e);
	if (rc == -ENOENT)
		return -ENXIO;
	if (rc < 0)
		return rc;
	pos = lseek(e->fd, (off_t)off, whence);
	if (pos < 0) {
		rc = -errno;
		if (rc != -ENXIO)
			log_fail(lc, "seek", ino, (int)rc);
	} else {
		rc = pos;
	}
	fdc_put(lc, e);
	return rc;
}

static void local_forget(struct backend *be, uint64_t ino)
{
	fdc_drop(lc_of(be), ino, false);
}

/* Parses exactly `n` lowercase hex digits. Returns 0 or -EINVAL. */
static int parse_hex(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (strlen(s) != n)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		int c = s[i];

		if (c >= '0' && c <= '9')
			v = (v << 4) | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (v << 4) | (uint64_t)(c - 'a' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Opens directory `name` below dirfd (confined) as a DIR stream. Returns
 * 0 and *out or -errno. */
static int open_dir_stream(struct local *lc, int dirfd, const char *name,
			   DIR **out)
{
	int fd = open_beneath(lc, dirfd, name, LC_DIR_FLAGS, 0);

	if (fd < 0)
		return fd;
	*out = fdopendir(fd);
	if (!*out) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return 0;
}

/* Whether entry d of directory dirfd is of type `type` (S_IFREG...),
 * without following symlinks. */
static bool dirent_is(int dirfd, const struct dirent *d, mode_t type)
{
	struct stat st;

	if (d->d_type != DT_UNKNOWN)
		return (DTTOIF(d->d_type) & S_IFMT) == type;
	if (fstatat(dirfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	return (st.st_mode & S_IFMT) == type;
}

/* Lists the inode files of data/XX/YY. Returns 0, cb's nonzero result, or
 * -errno. */
static int list_leaf(struct local *lc, DIR *dir, uint64_t xx, uint64_t yy,
		     int (*cb)(uint64_t ino, void *arg), void *arg)
{
	struct dirent *d;
	uint64_t ino;
	int rc;

	for (;;) {
		errno = 0;
		d = readdir(dir);
		if (!d)
			return errno ? -errno : 0;
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (parse_hex(d->d_name, 16, &ino) < 0 ||
		    ((ino >> 8) & 0xff) != xx || (ino & 0xff) != yy ||
		    !dirent_is(dirfd(dir), d, S_IFREG)) {
			log_debug("local list %s/data/%02x/%02x: ignoring %s",
				  lc->path, (unsigned)xx, (unsigned)yy,
				  d->d_name);
			continue;
		}
		rc = cb(ino, arg);
		if (rc)
			return rc;
	}
}

/* Lists data/XX/<YY>/... for one XX. */
static int list_mid(struct local *lc, DIR *dir, uint64_t xx,
		    int (*cb)(uint64_t ino, void *arg), void *arg)
{
	struct dirent *d;
	uint64_t yy;
	DIR *sub;
	int rc;

	for (;;) {
		errno = 0;
		d = readdir(dir);
		if (!d)
			return errno ? -errno : 0;
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (parse_hex(d->d_name, 2, &yy) < 0 ||
		    !dirent_is(dirfd(dir), d, S_IFDIR)) {
			log_debug("local list %s/data/%02x: ignoring %s",
				  lc->path, (unsigned)xx, d->d_name);
			continue;
		}
		rc = open_dir_stream(lc, dirfd(dir), d->d_name, &sub);
		if (rc < 0) {
			log_err("local list %s/data/%02x/%s: %s", lc->path,
				(unsigned)xx, d->d_name, strerror(-rc));
			return rc;
		}
		rc = list_leaf(lc, sub, xx, yy, cb, arg);
		closedir(sub);
		if (rc)
			return rc;
	}
}

static int local_list(struct backend *be, int (*cb)(uint64_t ino, void *arg),
		      void *arg)
{
	struct local *lc = lc_of(be);
	DIR *top = NULL, *sub;
	struct dirent *d;
	uint64_t xx;
	int rc;

	rc = open_dir_stream(lc, lc->rootfd, "data", &top);
	if (rc < 0) {
		log_err("local list %s/data: %s", lc->path, strerror(-rc));
		return rc;
	}
	for (;;) {
		errno = 0;
		d = readdir(top);
		if (!d) {
			rc = errno ? -errno : 0;
			if (rc)
				log_err("local list %s/data: %s", lc->path,
					strerror(-rc));
			break;
		}
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (parse_hex(d->d_name, 2, &xx) < 0 ||
		    !dirent_is(dirfd(top), d, S_IFDIR)) {
			log_debug("local list %s/data: ignoring %s", lc->path,
				  d->d_name);
			continue;
		}
		rc = open_dir_stream(lc, dirfd(top), d->d_name, &sub);
		if (rc < 0) {
			log_err("local list %s/data/%s: %s", lc->path,
				d->d_name, strerror(-rc));
			break;
		}
		rc = list_mid(lc, sub, xx, cb, arg);
		closedir(sub);
		if (rc)
			break;
	}
	closedir(top);
	return rc;
}

static int local_space(struct backend *be, struct be_space *out)
{
	struct local *lc = lc_of(be);
	struct statvfs sv;
	int rc;

	if (fstatvfs(lc->rootfd, &sv) < 0) {
		rc = -errno;
		log_err("local statvfs %s: %s", lc->path, strerror(-rc));
		return rc;
	}
	out->fs_total = (uint64_t)sv.f_blocks * sv.f_frsize;
	out->fs_avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	return 0;
}

/* Frees a local state, whole or half built. */
static void local_free(struct local *lc, bool lock_ready)
{
	size_t i;

	if (!lc)
		return;
	if (lc->buckets) {
		for (i = 0; i < lc->nbuckets; i++)
			fdc_close_list(lc->buckets[i]);
		free(lc->buckets);
	}
	if (lc->rootfd >= 0)
		close(lc->rootfd);
	if (lock_ready) {
		pthread_mutex_destroy(&lc->lock);
		pthread_mutex_destroy(&lc->dsync_lock);
	}
	free(lc);
}

static void local_destroy(struct backend *be)
{
	if (!be)
		return;
	local_free(be->priv, true);
	free(be);
}

/* ---- extent operations: the copy lives at its logical offset ---------- */

static ssize_t local_ext_read(struct backend *be, const struct be_ext *x,
			      void *buf, size_t len, uint64_t off)
{
	return read_at(lc_of(be), x->ino, buf, len, off, true);
}

static int local_ext_pin(struct backend *be, const struct be_ext *x,
			 uint64_t off, size_t len, int *fd, size_t *avail,
			 void **pin)
{
	struct local *lc = lc_of(be);
	struct fd_ent *e;
	struct stat st;
	int rc;

	if (len > (size_t)INT64_MAX || off > (uint64_t)INT64_MAX - len)
		return -EINVAL;
	if ((rc = fdc_get_for(lc, x->ino, false, true, &e)) < 0)
		return rc == -ENOENT ? copy_missing(lc, x->ino) : rc;
	/* The file grows while other extents are written, never shrinks
	 * under the caller (a truncate changes the extent). */
	if (fstat(e->fd, &st) < 0) {
		rc = -errno;
		log_fail(lc, "fstat", x->ino, rc);
		fdc_put(lc, e);
		return rc;
	}
	*avail = (uint64_t)st.st_size <= off ? 0 :
		 (uint64_t)st.st_size - off < len ? (size_t)(st.st_size - off) : len;
	*fd = e->fd;
	*pin = e;
	return 0;
}

static void local_ext_unpin(struct backend *be, void *pin)
{
	fdc_put(lc_of(be), pin);
}

/* The copy of an extent (from an object store) written whole: the range
 * is punched first, so that it reads as zeros past n and each ZERO_RUN
 * block of zeros in buf needs no write and stays a hole (a sparse extent
 * comes back sparse); the last byte is written even when zero, so that
 * the file reaches the end of the data. Where the filesystem cannot
 * punch, every byte is written (and an n short of the extent fails, as
 * the rest could not be made zeros). */
static int local_ext_write(struct backend *be, const struct be_ext *x,
			   const void *buf, size_t n)
{
	const char *p = buf;
	size_t at = 0, end;
	ssize_t rc;
	int prc;
	bool holes;

	if (n > x->len)
		return -EINVAL;
	prc = local_punch(be, x->ino, x->off, x->len);
	holes = prc == 0;
	if (prc < 0 && (prc != -EOPNOTSUPP || n < x->len))
		return prc;
	while (at < n) {
		for (end = at; end < n; end += ZERO_RUN)
			if (holes && io_all_zero(p + end, n - end < ZERO_RUN ?
						       n - end : ZERO_RUN))
				break;
		end = end < n ? end : n;
		if (end > at &&
		    (rc = local_pwrite(be, x->ino, p + at, end - at,
				       x->off + at)) < 0)
			return (int)rc;
		if (end == n)
			break;
		/* past the block of zeros at end; the last one's last byte
		 * is written, so that the file reaches n */
		at = end + (n - end < ZERO_RUN ? n - end : ZERO_RUN);
		if (at == n &&
		    (rc = local_pwrite(be, x->ino, p + n - 1, 1,
				       x->off + n - 1)) < 0)
			return (int)rc;
	}
	return 0;
}

static int local_ext_sync(struct backend *be, const struct be_ext *x)
{
	return local_sync(be, x->ino);
}

/* Punches the extent's range rounded up to 4 KiB, so that a short last
 * extent frees its last block too: extents start at multiples of the
 * extent size (64 KiB at least), so the rounding stays inside it. */
static int local_ext_free(struct backend *be, const struct be_ext *x)
{
	uint64_t len = (x->len + 4095) & ~(uint64_t)4095;

	return local_punch(be, x->ino, x->off, len);
}

/* Writes, reads back and removes a probe file under the tier root; a
 * name of its own for each probe, so that two at once (two control
 * clients) do not truncate and remove each other's. */
static int local_probe(struct backend *be, char *msg, size_t msglen)
{
	static _Atomic unsigned seq;
	struct local *lc = lc_of(be);
	char name[48], buf[4096], back[4096];
	struct timespec t0, t1, t2;
	int fd, rc = 0;

	snprintf(name, sizeof(name), ".dfabric-probe.%u",
		 atomic_fetch_add(&seq, 1));
	memset(buf, 0x5a, sizeof(buf));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = openat(lc->rootfd, name, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(msg, msglen, "create %s/%s: %s", lc->path, name,
			 strerror(-rc));
		return rc;
	}
	if (pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) ||
	    fdatasync(fd) < 0) {
		rc = errno ? -errno : -EIO;
		snprintf(msg, msglen, "write %s/%s: %s", lc->path, name,
			 strerror(-rc));
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (pread(fd, back, sizeof(back), 0) != (ssize_t)sizeof(back) ||
	    memcmp(buf, back, sizeof(buf)) != 0) {
		rc = -EIO;
		snprintf(msg, msglen, "read back %s/%s: wrong bytes", lc->path,
			 name);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t2);
	snprintf(msg, msglen, "write+sync %.3f ms, read %.3f ms",
		 (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6,
		 (t2.tv_sec - t1.tv_sec) * 1e3 + (t2.tv_nsec - t1.tv_nsec) / 1e6);
out:
	close(fd);
	unlinkat(lc->rootfd, name, 0);
	return rc;
}

static const struct be_ops local_ops = {
	.kind = "local",
	.caps = BE_CAP_FILE,
	.ext_read = local_ext_read,
	.ext_write = local_ext_write,
	.ext_sync = local_ext_sync,
	.ext_free = local_ext_free,
	.ext_pin = local_ext_pin,
	.ext_unpin = local_ext_unpin,
	.probe = local_probe,
	.pread = local_pread,
	.pwrite = local_pwrite,
	.punch = local_punch,
	.truncate = local_truncate,
	.allocate = local_allocate,
	.sync = local_sync,
	.remove = local_remove,
	.seek = local_seek,
	.allocated = local_allocated,
	.forget = local_forget,
	.list = local_list,
	.space = local_space,
	.destroy = local_destroy,
};

/* ---- open and test knobs ---------------------------------------------- */

/* A quarter of the soft descriptor limit, within the cache bounds. */
static size_t cache_cap_default(void)
{
	struct rlimit rl;
	uint64_t cap = LC_CACHE_MAX;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		cap = (uint64_t)rl.rlim_cur / 4;
	if (cap < LC_CACHE_MIN)
		cap = LC_CACHE_MIN;
	if (cap > LC_CACHE_MAX)
		cap = LC_CACHE_MAX;
	return (size_t)cap;
}

int be_local_open(const struct cfg_tier *t, int index, struct backend **out,
		  char *err, size_t errlen)
{
	struct backend *be = NULL;
	struct local *lc = NULL;
	bool lock_ready = false;
	size_t nb;
	int rc, fd;

	*out = NULL;
	if (t->kind != CFG_TIER_LOCAL || t->path[0] != '/') {
		snprintf(err, errlen, "tier %s: not a local tier with an "
			 "absolute path", t->name);
		return -EINVAL;
	}
	be = calloc(1, sizeof(*be));
	lc = calloc(1, sizeof(*lc));
	if (!be || !lc) {
		rc = -ENOMEM;
		snprintf(err, errlen, "tier %s: out of memory", t->name);
		goto fail;
	}
	lc->rootfd = -1;
	snprintf(lc->path, sizeof(lc->path), "%s", t->path);
	lc->use_openat2 = 1;

	lc->rootfd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lc->rootfd < 0) {
		rc = -errno;
		snprintf(err, errlen, "tier %s: cannot open directory %s: %s",
			 t->name, t->path, strerror(-rc));
		goto fail;
	}
	if (mkdirat(lc->rootfd, "data", 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "tier %s: cannot create %s/data: %s",
			 t->name, t->path, strerror(-rc));
		goto fail;
	}
	/* "data" must be a real directory, not a symlink out of the tier.
	 * This also finds out whether openat2 works. */
	fd = open_beneath(lc, lc->rootfd, "data", LC_DIR_FLAGS, 0);
	if (fd < 0) {
		rc = fd;
		snprintf(err, errlen, "tier %s: cannot open %s/data (it must "
			 "be a directory, not a symlink): %s", t->name, t->path,
			 strerror(-rc));
		goto fail;
	}
	close(fd);

	lc->cap = cache_cap_default();
	for (nb = 64; nb < lc->cap * 2; nb <<= 1)
		;
	lc->nbuckets = nb;
	lc->buckets = calloc(nb, sizeof(*lc->buckets));
	if (!lc->buckets) {
		rc = -ENOMEM;
		snprintf(err, errlen, "tier %s: out of memory", t->name);
		goto fail;
	}
	lc->lru.lnext = lc->lru.lprev = &lc->lru;
	rc = -pthread_mutex_init(&lc->lock, NULL);
	if (rc == 0 && (rc = -pthread_mutex_init(&lc->dsync_lock, NULL)) < 0)
		pthread_mutex_destroy(&lc->lock);
	if (rc < 0) {
		snprintf(err, errlen, "tier %s: mutex: %s", t->name,
			 strerror(-rc));
		goto fail;
	}
	lock_ready = true;

	be->ops = &local_ops;
	snprintf(be->name, sizeof(be->name), "%s", t->name);
	be->index = index;
	be->priv = lc;
	*out = be;
	log_debug("local tier %s on %s: up to %zu cached descriptors",
		  t->name, t->path, lc->cap);
	return 0;
fail:
	local_free(lc, lock_ready);
	free(be);
	return rc;
}

int be_is_local(const struct backend *be)
{
	return be->ops == &local_ops;
}

int be_local_open_fd(struct backend *be, uint64_t ino, int direct, int create)
{
	if (be->ops != &local_ops)
		return -EINVAL;
	return open_backing_flags(lc_of(be), ino, create, direct ? O_DIRECT : 0,
				  NULL);
}

int be_local_set_fd_cache_max(struct backend *be, size_t max)
{
	struct local *lc;
	struct fd_ent *victims;

	if (!be || be->ops != &local_ops || max == 0)
		return -EINVAL;
	lc = be->priv;
	pthread_mutex_lock(&lc->lock);
	lc->cap = max;
	victims = fdc_evict_locked(lc);
	pthread_mutex_unlock(&lc->lock);
	fdc_close_list(victims);
	return 0;
}

size_t be_local_fd_cache_count(struct backend *be)
{
	struct local *lc;
	size_t n;

	if (!be || be->ops != &local_ops)
		return 0;
	lc = be->priv;
	pthread_mutex_lock(&lc->lock);
	n = lc->nents;
	pthread_mutex_unlock(&lc->lock);
	return n;
}

int be_local_force_openat(struct backend *be)
{
	struct local *lc;

	if (!be || be->ops != &local_ops)
		return -EINVAL;
	lc = be->priv;
	__atomic_store_n(&lc->use_openat2, 0, __ATOMIC_RELAXED);
	return 0;
}
