/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Readers of the access traces in ../shared/traces (see its README), for
 * dfabric-sim and the predictor. One request at a time, in file order; a
 * compressed file (.zst, .xz, .bz2, .gz) is read through the matching
 * decompressor (`zstd -dc` ...) in a pipe. No state outside the handle. */
#ifndef DF_TRACE_H
#define DF_TRACE_H

#include <stddef.h>
#include <stdint.h>

enum trace_fmt {
	TRACE_AUTO = 0,                /* guess from the file name */
	TRACE_CLOUDPHYSICS = 1,        /* libCacheSim CSV version,time,op,size,lbn */
	TRACE_LIRS = 2,                /* a block number a line, '*' markers */
	TRACE_ARC = 3,                 /* .lis: start count ignore request_no */
	TRACE_ADAPTSIZE = 4,           /* time id size (objects) */
	TRACE_SNIA_STORAGE = 5,        /* Tencent cloud_storage CSV */
	TRACE_SNIA_PHOTOS = 6,         /* Tencent cloud_photos (objects) */
	TRACE_MSR = 7,                 /* MSR Cambridge CSV */
	TRACE_SYSTOR = 8,              /* SYSTOR'17 CSV with a header */
};

struct trace_req {
	int64_t time;                  /* unix ns, or -1: the trace has no time */
	uint64_t volume;               /* disk, volume or LUN (0 when one) */
	uint64_t offset;               /* bytes (blocks); 0 for objects */
	uint64_t len;                  /* bytes */
	uint64_t object;               /* object id (objects only) */
	int is_object;                 /* 1: an object trace, 0: blocks */
	int write;                     /* 1 write, 0 read */
};

struct trace;

/* Name as the --format option spells it, and the inverse (-EINVAL). */
const char *trace_fmt_name(int fmt);
int trace_parse_fmt(const char *s);

/* The format a file name suggests, or -EINVAL. */
int trace_guess_fmt(const char *path);

/* Opens path in format fmt (TRACE_AUTO: guessed). Returns 0, or -errno
 * with a message in err. */
int trace_open(const char *path, int fmt, struct trace **out, char *err,
	       size_t errlen);

/* The next request: 1, 0 at the end, or -errno with "FILE:LINE: what"
 * in err (a malformed line, or the decompressor failed). Lines that are
 * not requests (headers, markers, SCSI commands other than read and
 * write) are skipped and counted. */
int trace_next(struct trace *t, struct trace_req *r, char *err, size_t errlen);

/* Lines skipped so far. */
uint64_t trace_skipped(const struct trace *t);

/* The format actually read. */
int trace_format(const struct trace *t);

/* Closes t (before its end too: a decompressor still running is
 * stopped). Returns 0. */
int trace_close(struct trace *t);

#endif
