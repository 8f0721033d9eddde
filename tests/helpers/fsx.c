// SPDX-License-Identifier: GPL-2.0-or-later
// fsx: drives one seeded random sequence of file operations against a file
// under test and a reference file on a native filesystem, and fails with an
// operation log as soon as the two disagree.
//
// Usage: fsx [-N ops] [-S seed] [-l maxlen] [-o maxop] [-e extent] [-k]
//            [-x op]... FILE_UNDER_TEST REFERENCE_FILE
// -k keeps the two files as they are (they must be equal, which fsx checks
// first) instead of truncating them, so that runs can be chained with
// other work in between (a migration); bytes from before count as unknown
// to the SEEK_DATA/SEEK_HOLE checks.
// -x leaves out one kind of operation (write, read, truncate, punch, zero,
// falloc_keep, falloc, fsync, reopen, mmap, seek, stat), for filesystems
// that lack it.
//
// Operations: pwrite (at random, near extent boundaries, far past EOF),
// pread with byte compare, ftruncate up and down, fallocate (punch hole,
// zero range, keep size, mode 0), fsync/fdatasync, close and reopen, mmap
// read, SEEK_DATA/SEEK_HOLE checks, fstat/stat size checks, and a full
// compare every 1000 operations and at the end. The same seed gives the
// same sequence. Exit 0 on success, 1 on a mismatch or an error, 2 on a
// usage error.

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FSX_LOG_N        50                 /* operations kept in the log */
#define FSX_LOG_TEXT     200                /* bytes of one log line */
#define FSX_CHUNK        (1024 * 1024)      /* compare chunk */
#define FSX_ZERO_CHECK   (4 * 1024 * 1024)  /* bytes checked for zeroes */
#define FSX_FULL_EVERY   1000               /* ops between full compares */

struct fsx_logent {
	long opno;                     /* operation number, from 1 */
	char text[FSX_LOG_TEXT];       /* what was done */
};

struct fsx {
	const char *test_path;         /* file under test */
	const char *ref_path;          /* reference file */
	int tfd;                       /* fd of the file under test */
	int rfd;                       /* fd of the reference */
	uint64_t seed;                 /* seed as given */
	uint64_t rng;                  /* splitmix64 state */
	uint64_t size;                 /* size the model expects */
	uint64_t maxlen;               /* largest file size */
	uint64_t maxop;                /* largest single operation */
	uint64_t ext;                  /* extent size whose boundaries we hit */
	unsigned char *wbuf;           /* data to write */
	unsigned char *tbuf;           /* read from the file under test */
	unsigned char *rbuf;           /* read from the reference */
	size_t bufsize;                /* size of each of the three buffers */
	uint64_t *written;             /* bitmap: byte holds pwrite data */
	long opno;                     /* current operation number */
	int mmap_ok;                   /* 0 once mmap proved unsupported */
	long page;                     /* page size */
	struct fsx_logent log[FSX_LOG_N];  /* ring of the last operations */
	long nlog;                     /* operations logged so far */
	long counts[16];               /* operations done, per kind */
};

enum fsx_op {
	OP_WRITE, OP_READ, OP_TRUNC, OP_PUNCH, OP_ZERO, OP_FALLOC_KEEP,
	OP_FALLOC, OP_FSYNC, OP_REOPEN, OP_MMAP, OP_SEEK, OP_STAT, OP_NKINDS
};

static const char *const fsx_op_names[OP_NKINDS] = {
	"write", "read", "truncate", "punch", "zero", "falloc_keep",
	"falloc", "fsync", "reopen", "mmap", "seek", "stat",
};

/* Relative weights of the operations, in enum order (-x zeroes one). */
static unsigned fsx_weights[OP_NKINDS] = {
	30, 18, 6, 6, 3, 3, 3, 3, 2, 6, 6, 4,
};

static uint64_t fsx_rand(struct fsx *x)
{
	uint64_t z = (x->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); 0 when n is 0. */
static uint64_t fsx_below(struct fsx *x, uint64_t n)
{
	return n ? fsx_rand(x) % n : 0;
}

static void fsx_dump_log(struct fsx *x)
{
	long first = x->nlog > FSX_LOG_N ? x->nlog - FSX_LOG_N : 0;

	fprintf(stderr, "fsx: last %ld operations:\n", x->nlog - first);
	for (long i = first; i < x->nlog; i++) {
		struct fsx_logent *e = &x->log[i % FSX_LOG_N];

		fprintf(stderr, "  #%ld %s\n", e->opno, e->text);
	}
}

static void fsx_fail(struct fsx *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

static void fsx_fail(struct fsx *x, const char *fmt, ...)
{
	va_list ap;

	fsx_dump_log(x);
	fprintf(stderr, "fsx: FAILED at operation %ld, seed %" PRIu64
		", file %s, reference %s: ", x->opno, x->seed, x->test_path,
		x->ref_path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void fsx_logop(struct fsx *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fsx_logop(struct fsx *x, const char *fmt, ...)
{
	struct fsx_logent *e = &x->log[x->nlog % FSX_LOG_N];
	va_list ap;

	e->opno = x->opno;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	x->nlog++;
}

/* ---- the bitmap of bytes that hold written data ---- */

static void fsx_bits_set(struct fsx *x, uint64_t from, uint64_t to, int val)
{
	uint64_t i = from;

	if (to > x->maxlen)
		to = x->maxlen;
	while (i < to && (i & 63)) {
		if (val)
			x->written[i >> 6] |= 1ULL << (i & 63);
		else
			x->written[i >> 6] &= ~(1ULL << (i & 63));
		i++;
	}
	if (to - i >= 64 && i < to) {
		uint64_t words = (to - i) >> 6;

		memset(&x->written[i >> 6], val ? 0xff : 0, words * 8);
		i += words << 6;
	}
	while (i < to) {
		if (val)
			x->written[i >> 6] |= 1ULL << (i & 63);
		else
			x->written[i >> 6] &= ~(1ULL << (i & 63));
		i++;
	}
}

static int fsx_bit(struct fsx *x, uint64_t i)
{
	return (x->written[i >> 6] >> (i & 63)) & 1;
}

/* First written byte in [from, limit), or limit. */
static uint64_t fsx_next_written(struct fsx *x, uint64_t from, uint64_t limit)
{
	uint64_t i = from;

	while (i < limit) {
		uint64_t w = x->written[i >> 6] >> (i & 63);

		if (w)
			return i + __builtin_ctzll(w) < limit ?
			       i + __builtin_ctzll(w) : limit;
		i = (i | 63) + 1;
	}
	return limit;
}

/* ---- I/O that retries short transfers and EINTR ---- */

static ssize_t fsx_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static ssize_t fsx_pwrite_full(int fd, const void *buf, size_t len,
			       uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* Reads [off, off+len) of the reference into rbuf (len <= bufsize). */
static void fsx_ref_read(struct fsx *x, uint64_t off, size_t len)
{
	ssize_t n = fsx_pread_full(x->rfd, x->rbuf, len, off);

	if (n < 0)
		fsx_fail(x, "reference pread off=%" PRIu64 " len=%zu: %s",
			 off, len, strerror((int)-n));
	if ((size_t)n < len)
		memset(x->rbuf + n, 0, len - (size_t)n);
}

/* Compares got (len bytes read at off from the file under test, by `how`)
 * with the reference. */
static void fsx_compare(struct fsx *x, const unsigned char *got, uint64_t off,
			size_t len, const char *how)
{
	size_t i;

	fsx_ref_read(x, off, len);
	if (memcmp(got, x->rbuf, len) == 0)
		return;
	for (i = 0; i < len && got[i] == x->rbuf[i]; i++)
		;
	{
		size_t from = i >= 8 ? i - 8 : 0;
		size_t to = i + 8 < len ? i + 8 : len;
		size_t ndiff = 0;
		char exp[64] = "", act[64] = "";

		for (size_t j = i; j < len; j++)
			ndiff += got[j] != x->rbuf[j];
		for (size_t j = from; j < to; j++) {
			snprintf(exp + strlen(exp), sizeof(exp) - strlen(exp),
				 "%02x", x->rbuf[j]);
			snprintf(act + strlen(act), sizeof(act) - strlen(act),
				 "%02x", got[j]);
		}
		fsx_fail(x, "%s: data mismatch at file offset %" PRIu64
			 " (0x%" PRIx64 "), %zu of %zu bytes differ from there;"
			 " bytes from offset %" PRIu64 ": expected %s, got %s",
			 how, off + i, off + i, ndiff, len - i, off + from,
			 exp, act);
	}
}

/* Reads the whole file under test and compares it with the reference. */
static void fsx_full_compare(struct fsx *x, const char *why)
{
	struct stat st;
	uint64_t off;

	if (fstat(x->tfd, &st) < 0)
		fsx_fail(x, "%s: fstat: %s", why, strerror(errno));
	if ((uint64_t)st.st_size != x->size)
		fsx_fail(x, "%s: size %" PRIu64 ", expected %" PRIu64, why,
			 (uint64_t)st.st_size, x->size);
	for (off = 0; off < x->size; off += FSX_CHUNK) {
		size_t len = x->size - off < FSX_CHUNK ? x->size - off :
			     FSX_CHUNK;
		ssize_t n = fsx_pread_full(x->tfd, x->tbuf, len, off);

		if (n < 0)
			fsx_fail(x, "%s: pread off=%" PRIu64 ": %s", why, off,
				 strerror((int)-n));
		if ((size_t)n != len)
			fsx_fail(x, "%s: short read at %" PRIu64 ": %zd of %zu",
				 why, off, n, len);
		fsx_compare(x, x->tbuf, off, len, why);
	}
	{
		ssize_t n = fsx_pread_full(x->tfd, x->tbuf, 1, x->size);

		if (n != 0)
			fsx_fail(x, "%s: read at EOF %" PRIu64 " returned %zd",
				 why, x->size, n);
	}
}

/* ---- choosing offsets and lengths ---- */

static uint64_t fsx_pick_len(struct fsx *x)
{
	uint64_t r = fsx_below(x, 100);
	uint64_t cap = x->maxop;

	if (r < 40)
		cap = cap < 4096 ? cap : 4096;
	else if (r < 75)
		cap = cap < 65536 ? cap : 65536;
	return 1 + fsx_below(x, cap);
}

/* An offset within or just past the file, near an extent boundary, far
 * past EOF, or anywhere; then len is clamped to maxlen. */
static uint64_t fsx_pick_off(struct fsx *x, uint64_t *len)
{
	uint64_t r = fsx_below(x, 100), off;
	uint64_t nbound = x->maxlen / x->ext;

	if (r < 45) {
		off = fsx_below(x, x->size + 1);
	} else if (r < 65 && nbound > 0) {
		uint64_t b = (1 + fsx_below(x, nbound)) * x->ext;
		uint64_t back = fsx_below(x, *len + 1);

		off = b >= back ? b - back : 0;
	} else if (r < 80 && x->size < x->maxlen) {
		off = x->size + fsx_below(x, x->maxlen - x->size);
	} else {
		off = fsx_below(x, x->maxlen);
	}
	if (off >= x->maxlen)
		off = x->maxlen - 1;
	if (off + *len > x->maxlen)
		*len = x->maxlen - off;
	return off;
}

static void fsx_fill(struct fsx *x, size_t len)
{
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v = fsx_rand(x);

		memcpy(x->wbuf + i, &v, 8);
	}
	if (i < len) {
		uint64_t v = fsx_rand(x);

		memcpy(x->wbuf + i, &v, len - i);
	}
}

/* ---- the operations ---- */

static void fsx_op_write(struct fsx *x)
{
	uint64_t len = fsx_pick_len(x);
	uint64_t off = fsx_pick_off(x, &len);
	uint64_t old = x->size;
	ssize_t n;

	fsx_fill(x, len);
	fsx_logop(x, "WRITE off=%" PRIu64 " len=%" PRIu64 " (size %" PRIu64
		  "%s)", off, len, old, off > old ? ", leaves a hole" : "");
	n = fsx_pwrite_full(x->rfd, x->wbuf, len, off);
	if (n < 0)
		fsx_fail(x, "reference pwrite: %s", strerror((int)-n));
	n = fsx_pwrite_full(x->tfd, x->wbuf, len, off);
	if (n < 0)
		fsx_fail(x, "pwrite off=%" PRIu64 " len=%" PRIu64 ": %s", off,
			 len, strerror((int)-n));
	fsx_bits_set(x, off, off + len, 1);
	if (off + len > x->size)
		x->size = off + len;
}

static void fsx_op_read(struct fsx *x)
{
	uint64_t len = fsx_pick_len(x);
	uint64_t off, expect;
	ssize_t n;

	if (fsx_below(x, 10) == 0)
		off = x->size + fsx_below(x, 65536);   /* at or past EOF */
	else if (fsx_below(x, 4) == 0 && x->size >= x->ext) {
		uint64_t b = (1 + fsx_below(x, x->size / x->ext)) * x->ext;
		uint64_t back = fsx_below(x, len + 1);

		off = b >= back ? b - back : 0;   /* a read across a boundary */
	} else
		off = fsx_below(x, x->size + 1);
	expect = off >= x->size ? 0 : (x->size - off < len ? x->size - off :
				      len);
	fsx_logop(x, "READ off=%" PRIu64 " len=%" PRIu64 " (size %" PRIu64
		  ")", off, len, x->size);
	n = fsx_pread_full(x->tfd, x->tbuf, len, off);
	if (n < 0)
		fsx_fail(x, "pread off=%" PRIu64 " len=%" PRIu64 ": %s", off,
			 len, strerror((int)-n));
	if ((uint64_t)n != expect)
		fsx_fail(x, "pread off=%" PRIu64 " len=%" PRIu64 " returned %zd"
			 ", expected %" PRIu64, off, len, n, expect);
	fsx_compare(x, x->tbuf, off, (size_t)n, "pread");
}

static void fsx_op_trunc(struct fsx *x)
{
	uint64_t r = fsx_below(x, 100), to;

	if (r < 35)
		to = fsx_below(x, x->size + 1);
	else if (r < 60 && x->maxlen >= x->ext)
		to = (fsx_below(x, x->maxlen / x->ext) + 1) * x->ext +
		     fsx_below(x, 3) - 1;          /* boundary -1, 0, +1 */
	else
		to = fsx_below(x, x->maxlen + 1);
	if (to > x->maxlen)
		to = x->maxlen;
	fsx_logop(x, "TRUNCATE %" PRIu64 " -> %" PRIu64, x->size, to);
	if (ftruncate(x->rfd, (off_t)to) < 0)
		fsx_fail(x, "reference ftruncate: %s", strerror(errno));
	if (ftruncate(x->tfd, (off_t)to) < 0)
		fsx_fail(x, "ftruncate %" PRIu64 ": %s", to, strerror(errno));
	if (to < x->size)
		fsx_bits_set(x, to, x->size, 0);
	x->size = to;
}

/* Runs fallocate(mode, off, len) on both files. */
static void fsx_falloc_both(struct fsx *x, int mode, uint64_t off,
			    uint64_t len, const char *what)
{
	fsx_logop(x, "%s off=%" PRIu64 " len=%" PRIu64 " (size %" PRIu64 ")",
		  what, off, len, x->size);
	if (fallocate(x->rfd, mode, (off_t)off, (off_t)len) < 0)
		fsx_fail(x, "reference fallocate %s: %s", what,
			 strerror(errno));
	if (fallocate(x->tfd, mode, (off_t)off, (off_t)len) < 0)
		fsx_fail(x, "fallocate %s off=%" PRIu64 " len=%" PRIu64 ": %s",
			 what, off, len, strerror(errno));
}

/* A range for punch/zero: sometimes whole extents, else random. */
static uint64_t fsx_pick_range(struct fsx *x, uint64_t *len)
{
	uint64_t off;

	if (fsx_below(x, 4) == 0 && x->maxlen >= 2 * x->ext) {
		off = fsx_below(x, x->maxlen / x->ext - 1) * x->ext;
		*len = (1 + fsx_below(x, 2)) * x->ext;
	} else {
		*len = fsx_pick_len(x);
		if (fsx_below(x, 3) == 0)
			*len *= 1 + fsx_below(x, 16);
		off = fsx_below(x, x->size + 1);
	}
	if (off >= x->maxlen)
		off = x->maxlen - 1;
	if (off + *len > x->maxlen)
		*len = x->maxlen - off;
	return off;
}

static void fsx_op_punch(struct fsx *x)
{
	uint64_t len, off = fsx_pick_range(x, &len);

	fsx_falloc_both(x, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
			len, "PUNCH_HOLE|KEEP_SIZE");
	fsx_bits_set(x, off, off + len < x->size ? off + len : x->size, 0);
}

static void fsx_op_zero(struct fsx *x)
{
	uint64_t len, off = fsx_pick_range(x, &len);
	int keep = (int)fsx_below(x, 2);

	fsx_falloc_both(x, FALLOC_FL_ZERO_RANGE | (keep ? FALLOC_FL_KEEP_SIZE
						    : 0), off, len,
			keep ? "ZERO_RANGE|KEEP_SIZE" : "ZERO_RANGE");
	fsx_bits_set(x, off, off + len < x->size ? off + len : x->size, 0);
	if (!keep && off + len > x->size)
		x->size = off + len;
}

static void fsx_op_falloc(struct fsx *x, int keep)
{
	uint64_t len = fsx_pick_len(x) * (1 + fsx_below(x, 8));
	uint64_t off;

	if (len > x->maxlen)
		len = x->maxlen;
	off = fsx_pick_off(x, &len);
	fsx_falloc_both(x, keep ? FALLOC_FL_KEEP_SIZE : 0, off, len,
			keep ? "FALLOCATE KEEP_SIZE" : "FALLOCATE 0");
	if (!keep && off + len > x->size)
		x->size = off + len;
}

static void fsx_op_fsync(struct fsx *x)
{
	int data = (int)fsx_below(x, 2);

	fsx_logop(x, "%s", data ? "FDATASYNC" : "FSYNC");
	if ((data ? fdatasync(x->tfd) : fsync(x->tfd)) < 0)
		fsx_fail(x, "%s: %s", data ? "fdatasync" : "fsync",
			 strerror(errno));
}

static void fsx_open_both(struct fsx *x, int flags)
{
	x->rfd = open(x->ref_path, O_RDWR | flags, 0644);
	if (x->rfd < 0)
		fsx_fail(x, "open reference: %s", strerror(errno));
	x->tfd = open(x->test_path, O_RDWR | flags, 0644);
	if (x->tfd < 0)
		fsx_fail(x, "open %s: %s", x->test_path, strerror(errno));
}

static void fsx_op_reopen(struct fsx *x)
{
	fsx_logop(x, "CLOSE and REOPEN");
	if (close(x->tfd) < 0)
		fsx_fail(x, "close: %s", strerror(errno));
	close(x->rfd);
	fsx_open_both(x, 0);
}

static void fsx_op_mmap(struct fsx *x)
{
	uint64_t len = fsx_pick_len(x), off, moff, mlen;
	void *map;

	if (!x->mmap_ok || x->size == 0) {
		fsx_logop(x, "MMAP READ skipped");
		return;
	}
	off = fsx_below(x, x->size);
	if (off + len > x->size)
		len = x->size - off;
	moff = off & ~(uint64_t)(x->page - 1);
	mlen = off + len - moff;
	fsx_logop(x, "MMAP READ off=%" PRIu64 " len=%" PRIu64 " (size %"
		  PRIu64 ")", off, len, x->size);
	map = mmap(NULL, mlen, PROT_READ, MAP_SHARED, x->tfd, (off_t)moff);
	if (map == MAP_FAILED) {
		if (errno == ENODEV && x->mmap_ok) {
			fprintf(stderr, "fsx: mmap is not supported on %s "
				"(ENODEV); mmap reads skipped\n",
				x->test_path);
			x->mmap_ok = 0;
			return;
		}
		fsx_fail(x, "mmap off=%" PRIu64 " len=%" PRIu64 ": %s", moff,
			 mlen, strerror(errno));
	}
	memcpy(x->tbuf, (char *)map + (off - moff), len);
	if (munmap(map, mlen) < 0)
		fsx_fail(x, "munmap: %s", strerror(errno));
	fsx_compare(x, x->tbuf, off, len, "mmap read");
}

/* Bytes [from, to) of the reference are zero (checks at most the first
 * and last FSX_ZERO_CHECK bytes of a long range). */
static void fsx_check_ref_zero(struct fsx *x, uint64_t from, uint64_t to,
			       const char *how)
{
	uint64_t parts[2][2] = { { from, to }, { 0, 0 } };

	if (to - from > 2 * FSX_ZERO_CHECK) {
		parts[0][1] = from + FSX_ZERO_CHECK;
		parts[1][0] = to - FSX_ZERO_CHECK;
		parts[1][1] = to;
	}
	for (int p = 0; p < 2; p++) {
		for (uint64_t o = parts[p][0]; o < parts[p][1];) {
			size_t n = parts[p][1] - o < x->bufsize ?
				   parts[p][1] - o : x->bufsize;

			fsx_ref_read(x, o, n);
			for (size_t i = 0; i < n; i++)
				if (x->rbuf[i])
					fsx_fail(x, "%s: skipped offset %"
						 PRIu64 " holds data (0x%02x)",
						 how, o + i, x->rbuf[i]);
			o += n;
		}
	}
}

static void fsx_op_seek(struct fsx *x)
{
	int hole = (int)fsx_below(x, 2);
	uint64_t off;
	off_t r;

	if (x->size == 0 || fsx_below(x, 10) == 0)
		off = x->size + fsx_below(x, 4096);
	else if (fsx_below(x, 2) && x->size > 0) {
		/* aim at written data when there is any */
		uint64_t start = fsx_below(x, x->size);
		uint64_t w = fsx_next_written(x, start, x->size);

		off = w < x->size ? w + fsx_below(x, 16) : start;
		if (off >= x->size)
			off = start;
	} else {
		off = fsx_below(x, x->size);
	}
	fsx_logop(x, "LSEEK %s off=%" PRIu64 " (size %" PRIu64 ", %s)",
		  hole ? "SEEK_HOLE" : "SEEK_DATA", off, x->size,
		  off < x->size && fsx_bit(x, off) ? "written" : "not written");
	r = lseek(x->tfd, (off_t)off, hole ? SEEK_HOLE : SEEK_DATA);
	if (off >= x->size) {
		if (r >= 0 || errno != ENXIO)
			fsx_fail(x, "lseek %s at %" PRIu64 " >= size %" PRIu64
				 " returned %jd (%s), expected ENXIO",
				 hole ? "SEEK_HOLE" : "SEEK_DATA", off, x->size,
				 (intmax_t)r, r < 0 ? strerror(errno) : "ok");
		return;
	}
	if (hole) {
		if (r < 0)
			fsx_fail(x, "lseek SEEK_HOLE at %" PRIu64 ": %s", off,
				 strerror(errno));
		if ((uint64_t)r < off || (uint64_t)r > x->size)
			fsx_fail(x, "SEEK_HOLE at %" PRIu64 " returned %jd, "
				 "outside [off, size %" PRIu64 "]", off,
				 (intmax_t)r, x->size);
		if (fsx_bit(x, off) && (uint64_t)r == off)
			fsx_fail(x, "SEEK_HOLE at %" PRIu64 " returned the "
				 "offset itself, which holds written data",
				 off);
		if ((uint64_t)r < x->size) {
			if (fsx_bit(x, (uint64_t)r))
				fsx_fail(x, "SEEK_HOLE at %" PRIu64 " returned "
					 "%jd, which holds written data", off,
					 (intmax_t)r);
			fsx_check_ref_zero(x, (uint64_t)r, (uint64_t)r + 1,
					   "SEEK_HOLE");
		}
		return;
	}
	{
		uint64_t next = fsx_next_written(x, off, x->size);

		if (r < 0 && errno == ENXIO) {
			if (next < x->size)
				fsx_fail(x, "SEEK_DATA at %" PRIu64 " returned "
					 "ENXIO but offset %" PRIu64 " holds "
					 "written data", off, next);
			fsx_check_ref_zero(x, off, x->size, "SEEK_DATA ENXIO");
			return;
		}
		if (r < 0)
			fsx_fail(x, "lseek SEEK_DATA at %" PRIu64 ": %s", off,
				 strerror(errno));
		if ((uint64_t)r < off || (uint64_t)r >= x->size)
			fsx_fail(x, "SEEK_DATA at %" PRIu64 " returned %jd, "
				 "outside [off, size %" PRIu64 ")", off,
				 (intmax_t)r, x->size);
		if ((uint64_t)r > next)
			fsx_fail(x, "SEEK_DATA at %" PRIu64 " returned %jd, past"
				 " written data at %" PRIu64, off, (intmax_t)r,
				 next);
		fsx_check_ref_zero(x, off, (uint64_t)r, "SEEK_DATA");
	}
}

static void fsx_op_stat(struct fsx *x)
{
	struct stat st, rst;

	fsx_logop(x, "STAT (size %" PRIu64 ")", x->size);
	if (fstat(x->rfd, &rst) < 0)
		fsx_fail(x, "reference fstat: %s", strerror(errno));
	if ((uint64_t)rst.st_size != x->size)
		fsx_fail(x, "reference size %jd differs from the model %" PRIu64
			 " (fsx bug or reference filesystem bug)",
			 (intmax_t)rst.st_size, x->size);
	if (fstat(x->tfd, &st) < 0)
		fsx_fail(x, "fstat: %s", strerror(errno));
	if ((uint64_t)st.st_size != x->size)
		fsx_fail(x, "fstat size %jd, expected %" PRIu64,
			 (intmax_t)st.st_size, x->size);
	if (stat(x->test_path, &st) < 0)
		fsx_fail(x, "stat %s: %s", x->test_path, strerror(errno));
	if ((uint64_t)st.st_size != x->size)
		fsx_fail(x, "stat size %jd, expected %" PRIu64,
			 (intmax_t)st.st_size, x->size);
	if (!S_ISREG(st.st_mode))
		fsx_fail(x, "stat mode 0%o is not a regular file",
			 (unsigned)st.st_mode);
}

static enum fsx_op fsx_pick_op(struct fsx *x)
{
	unsigned total = 0, r;
	int i;

	for (i = 0; i < OP_NKINDS; i++)
		total += fsx_weights[i];
	r = (unsigned)fsx_below(x, total);
	for (i = 0; i < OP_NKINDS; i++) {
		if (r < fsx_weights[i])
			return (enum fsx_op)i;
		r -= fsx_weights[i];
	}
	return OP_WRITE;
}

static int fsx_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

static void fsx_usage(void)
{
	fprintf(stderr, "usage: fsx [-N ops] [-S seed] [-l maxlen] [-o maxop] "
		"[-e extent] [-k] [-x op]... FILE_UNDER_TEST REFERENCE_FILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct fsx fx;
	struct fsx *x = &fx;
	uint64_t nops = 10000;
	int c, keep = 0;

	x->seed = 1;
	x->maxlen = 32ULL << 20;
	x->maxop = 1ULL << 20;
	x->ext = 4ULL << 20;
	while ((c = getopt(argc, argv, "N:S:l:o:e:x:k")) != -1) {
		uint64_t *dst;
		int k;

		if (c == 'k') {
			keep = 1;
			continue;
		}

		if (c == 'x') {
			for (k = 0; k < OP_NKINDS; k++)
				if (!strcmp(optarg, fsx_op_names[k]))
					break;
			if (k == OP_NKINDS || k == OP_WRITE)
				fsx_usage();
			fsx_weights[k] = 0;
			continue;
		}
		switch (c) {
		case 'N': dst = &nops; break;
		case 'S': dst = &x->seed; break;
		case 'l': dst = &x->maxlen; break;
		case 'o': dst = &x->maxop; break;
		case 'e': dst = &x->ext; break;
		default: fsx_usage();
		}
		if (fsx_parse_size(optarg, dst) < 0)
			fsx_usage();
	}
	if (argc - optind != 2 || x->maxlen == 0 || x->maxop == 0 ||
	    x->ext == 0)
		fsx_usage();
	x->test_path = argv[optind];
	x->ref_path = argv[optind + 1];
	x->rng = x->seed;
	x->mmap_ok = 1;
	x->page = sysconf(_SC_PAGESIZE);
	x->bufsize = x->maxop > FSX_CHUNK ? x->maxop : FSX_CHUNK;
	x->wbuf = malloc(x->bufsize);
	x->tbuf = malloc(x->bufsize);
	x->rbuf = malloc(x->bufsize);
	x->written = calloc(x->maxlen / 64 + 2, 8);
	if (!x->wbuf || !x->tbuf || !x->rbuf || !x->written) {
		fprintf(stderr, "fsx: out of memory\n");
		return 1;
	}
	fsx_open_both(x, keep ? O_CREAT : O_CREAT | O_TRUNC);
	if (keep) {
		struct stat rst;

		if (fstat(x->rfd, &rst) < 0)
			fsx_fail(x, "reference fstat: %s", strerror(errno));
		if ((uint64_t)rst.st_size > x->maxlen)
			fsx_fail(x, "-k: the reference (%jd bytes) is larger than "
				 "maxlen %" PRIu64, (intmax_t)rst.st_size, x->maxlen);
		x->size = (uint64_t)rst.st_size;
		fsx_full_compare(x, "-k: the files at the start");
	}

	for (x->opno = 1; (uint64_t)x->opno <= nops; x->opno++) {
		enum fsx_op op = fsx_pick_op(x);

		x->counts[op]++;
		switch (op) {
		case OP_WRITE: fsx_op_write(x); break;
		case OP_READ: fsx_op_read(x); break;
		case OP_TRUNC: fsx_op_trunc(x); break;
		case OP_PUNCH: fsx_op_punch(x); break;
		case OP_ZERO: fsx_op_zero(x); break;
		case OP_FALLOC_KEEP: fsx_op_falloc(x, 1); break;
		case OP_FALLOC: fsx_op_falloc(x, 0); break;
		case OP_FSYNC: fsx_op_fsync(x); break;
		case OP_REOPEN: fsx_op_reopen(x); break;
		case OP_MMAP: fsx_op_mmap(x); break;
		case OP_SEEK: fsx_op_seek(x); break;
		case OP_STAT: fsx_op_stat(x); break;
		default: break;
		}
		if (x->opno % FSX_FULL_EVERY == 0)
			fsx_full_compare(x, "periodic full compare");
	}
	x->opno = (long)nops;
	fsx_logop(x, "FINAL full compare");
	fsx_full_compare(x, "final full compare");
	if (close(x->tfd) < 0)
		fsx_fail(x, "close: %s", strerror(errno));
	close(x->rfd);

	printf("fsx: seed %" PRIu64 ": %" PRIu64 " operations passed, final "
	       "size %" PRIu64, x->seed, nops, x->size);
	for (c = 0; c < OP_NKINDS; c++)
		printf(" %s=%ld", fsx_op_names[c], x->counts[c]);
	printf("%s\n", x->mmap_ok ? "" : " (mmap unsupported)");
	free(x->wbuf);
	free(x->tbuf);
	free(x->rbuf);
	free(x->written);
	return 0;
}
