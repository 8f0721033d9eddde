/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Trace readers (trace.h). Each format is one small line parser; the
 * decompressor runs as a child writing into a pipe (exec, no shell, so a
 * path with quotes or spaces is only a path). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "predict/trace.h"

#define FILETIME_UNIX_EPOCH 116444736000000000LL /* 100 ns ticks to 1970 */
#define SECTOR 512

struct trace {
	FILE *f;
	pid_t child;                   /* decompressor, 0 none */
	int fmt;
	char path[512];
	char *line;
	size_t cap;
	uint64_t lineno;
	uint64_t skipped;
};

static const char *const fmt_names[] = {
	"auto", "cloudphysics", "lirs", "arc", "adaptsize", "snia-storage",
	"snia-photos", "msr", "systor",
};
#define NFMT ((int)(sizeof(fmt_names) / sizeof(*fmt_names)))

const char *trace_fmt_name(int fmt)
{
	return fmt >= 0 && fmt < NFMT ? fmt_names[fmt] : "?";
}

int trace_parse_fmt(const char *s)
{
	for (int i = 0; i < NFMT; i++)
		if (strcmp(s, fmt_names[i]) == 0)
			return i;
	return -EINVAL;
}

int trace_guess_fmt(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	if (strstr(b, "cloudPhysics") || strstr(b, "cloudphysics"))
		return TRACE_CLOUDPHYSICS;
	if (strstr(b, ".lis"))
		return TRACE_ARC;
	if (strstr(b, "cloud_storage"))
		return TRACE_SNIA_STORAGE;
	if (strstr(b, "cloud_photos"))
		return TRACE_SNIA_PHOTOS;
	if (strstr(b, "msr"))
		return TRACE_MSR;
	if (strstr(b, "systor"))
		return TRACE_SYSTOR;
	if (strstr(path, "adapt") || strncmp(b, "request.trace", 13) == 0)
		return TRACE_ADAPTSIZE;
	if (strstr(b, ".trace"))
		return TRACE_LIRS;
	return -EINVAL;
}

static const char *decompressor(const char *path)
{
	static const struct { const char *ext, *prog; } map[] = {
		{ ".zst", "zstd" }, { ".xz", "xz" }, { ".bz2", "bzip2" },
		{ ".gz", "gzip" },
	};
	size_t len = strlen(path);

	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++) {
		size_t el = strlen(map[i].ext);

		if (len > el && strcmp(path + len - el, map[i].ext) == 0)
			return map[i].prog;
	}
	return NULL;
}

/* Starts `prog -dc path` with its output on a pipe. */
static int open_pipe(struct trace *t, const char *prog, const char *path,
		     char *err, size_t errlen)
{
	int fd[2], in;
	pid_t pid;

	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	close(in);
	if (pipe2(fd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(fd[0]);
		close(fd[1]);
		snprintf(err, errlen, "fork: %s", strerror(e));
		return -e;
	}
	if (pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		execlp(prog, prog, "-dc", "--", path, (char *)NULL);
		fprintf(stderr, "%s: cannot run %s: %s\n", path, prog,
			strerror(errno));
		_exit(127);
	}
	close(fd[1]);
	t->f = fdopen(fd[0], "r");
	if (!t->f) {
		close(fd[0]);
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		snprintf(err, errlen, "fdopen: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	t->child = pid;
	return 0;
}

int trace_open(const char *path, int fmt, struct trace **out, char *err,
	       size_t errlen)
{
	struct trace *t;
	const char *prog;
	int ret;

	*out = NULL;
	if (fmt == TRACE_AUTO)
		fmt = trace_guess_fmt(path);
	if (fmt <= 0 || fmt >= NFMT) {
		snprintf(err, errlen,
			 "%s: unknown trace format (name it with --format)", path);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->fmt = fmt;
	snprintf(t->path, sizeof(t->path), "%s", path);
	prog = decompressor(path);
	if (prog) {
		ret = open_pipe(t, prog, path, err, errlen);
		if (ret) {
			free(t);
			return ret;
		}
	} else {
		t->f = fopen(path, "re");
		if (!t->f) {
			ret = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			free(t);
			return ret;
		}
	}
	*out = t;
	return 0;
}

uint64_t trace_skipped(const struct trace *t)
{
	return t->skipped;
}

int trace_format(const struct trace *t)
{
	return t->fmt;
}

int trace_close(struct trace *t)
{
	if (!t)
		return 0;
	if (t->f)
		fclose(t->f);
	/* Closed before the end: the decompressor is told to stop, and how
	 * it ends says nothing about the trace. At the end trace_next has
	 * already waited for it and reported a failure. */
	if (t->child > 0) {
		kill(t->child, SIGTERM);
		waitpid(t->child, NULL, 0);
	}
	free(t->line);
	free(t);
	return 0;
}

/* Splits s in place at any of the characters of sep (runs of them count
 * as one when `runs`), at most max fields. */
static int split(char *s, const char *sep, int runs, char **fld, int max)
{
	int n = 0;
	char *p = s;

	while (n < max) {
		if (runs)
			p += strspn(p, sep);
		if (*p == '\0' && (runs || n > 0))
			break;
		fld[n++] = p;
		p += strcspn(p, sep);
		if (*p == '\0')
			break;
		*p++ = '\0';
	}
	return n;
}

static int u64(const char *s, int base, uint64_t *v)
{
	char *end;

	/* strtoull skips blanks and takes a sign: " -5" would be 2^64 - 5. */
	if (!(base == 16 ? isxdigit((unsigned char)*s) :
			   isdigit((unsigned char)*s)))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, base);
	if (errno || *end != '\0')
		return -EINVAL;
	return 0;
}

static int dbl(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !isfinite(*v) || *v < 0 ||
	    *v >= (double)INT64_MAX / 1e9)
		return -EINVAL;
	return 0;
}

/* FNV-1a of a string: a 64-bit id for a named object or host. */
static uint64_t hash_str(const char *s, uint64_t h)
{
	if (h == 0)
		h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static int64_t secs_ns(double s)
{
	return (int64_t)(s * 1e9);
}

/* Parsers: 1 a request, 0 skip the line, -EINVAL malformed. */
static int p_cloudphysics(struct trace *t, char *l, struct trace_req *r)
{
	char *f[6];
	uint64_t ver, tm, op, size, lbn;

	if (t->lineno == 1 && strncmp(l, "version", 7) == 0)
		return 0;
	if (split(l, ",", 0, f, 6) != 5 || u64(f[0], 10, &ver) ||
	    u64(f[1], 10, &tm) || u64(f[2], 16, &op) || u64(f[3], 10, &size) ||
	    u64(f[4], 10, &lbn))
		return -EINVAL;
	if (tm > (uint64_t)INT64_MAX / 1000000000u)
		return -EINVAL;
	if (op != 0x28 && op != 0x2a)
		return 0;              /* not a read or write */
	r->time = (int64_t)tm * 1000000000LL;
	r->offset = lbn * SECTOR;
	r->len = size;
	r->write = op == 0x2a;
	return 1;
}

static int p_lirs(struct trace *t, char *l, struct trace_req *r)
{
	uint64_t b;

	if (*l == '*' || *l == '\0')
		return 0;
	if (u64(l, 10, &b))
		return -EINVAL;
	/* A block number: one 4 KiB block per request (the traces do not
	 * say; 4 KiB is what the LIRS paper's buffer pages are). */
	r->offset = b * 4096;
	r->len = 4096;
	return 1;
}

static int p_arc(struct trace *t, char *l, struct trace_req *r)
{
	char *f[5];
	uint64_t start, count, x;

	if (split(l, " \t", 1, f, 5) != 4 || u64(f[0], 10, &start) ||
	    u64(f[1], 10, &count) || u64(f[2], 10, &x) || u64(f[3], 10, &x) ||
	    count == 0)
		return -EINVAL;
	r->offset = start * SECTOR;
	r->len = count * SECTOR;
	return 1;
}

static int p_adaptsize(struct trace *t, char *l, struct trace_req *r)
{
	char *f[4];
	uint64_t tm, id, size;

	if (split(l, " \t", 1, f, 4) != 3 || u64(f[0], 10, &tm) ||
	    u64(f[1], 10, &id) || u64(f[2], 10, &size))
		return -EINVAL;
	r->is_object = 1;
	r->object = id;
	r->len = size;
	return 1;               /* the time is a sequence number: none */
}

static int p_snia_storage(struct trace *t, char *l, struct trace_req *r)
{
	char *f[6];
	uint64_t tm, off, size, type, vol;

	if (split(l, ",", 0, f, 6) != 5 || u64(f[0], 10, &tm) ||
	    u64(f[1], 10, &off) || u64(f[2], 10, &size) ||
	    u64(f[3], 10, &type) || u64(f[4], 10, &vol) || type > 1 ||
	    tm > (uint64_t)INT64_MAX / 1000000000u)
		return -EINVAL;
	r->time = (int64_t)tm * 1000000000LL;
	r->volume = vol;
	r->offset = off * SECTOR;
	r->len = size * SECTOR;
	r->write = (int)type;
	return 1;
}

static int p_snia_photos(struct trace *t, char *l, struct trace_req *r)
{
	char *f[9];
	struct tm tm = { 0 };
	uint64_t bytes;
	char *end;

	if (split(l, " \t", 1, f, 9) != 8 || strlen(f[0]) != 14 ||
	    u64(f[4], 10, &bytes))
		return -EINVAL;
	end = strptime(f[0], "%Y%m%d%H%M%S", &tm);
	if (!end || *end)
		return -EINVAL;
	r->time = (int64_t)timegm(&tm) * 1000000000LL;
	r->is_object = 1;
	r->object = hash_str(f[3], hash_str(f[2], hash_str(f[1], 0)));
	r->len = bytes;
	return 1;
}

static int p_msr(struct trace *t, char *l, struct trace_req *r)
{
	char *f[8];
	uint64_t ticks, disk, off, size, resp;

	if (split(l, ",", 0, f, 8) != 7 || u64(f[0], 10, &ticks) ||
	    u64(f[2], 10, &disk) || u64(f[4], 10, &off) ||
	    u64(f[5], 10, &size) || u64(f[6], 10, &resp))
		return -EINVAL;
	if (strcmp(f[3], "Read") != 0 && strcmp(f[3], "Write") != 0)
		return -EINVAL;
	if (ticks < (uint64_t)FILETIME_UNIX_EPOCH ||
	    ticks - (uint64_t)FILETIME_UNIX_EPOCH > (uint64_t)INT64_MAX / 100)
		return -EINVAL;
	r->time = ((int64_t)ticks - FILETIME_UNIX_EPOCH) * 100;
	r->volume = hash_str(f[1], 0) ^ disk;
	r->offset = off;
	r->len = size;
	r->write = f[3][0] == 'W';
	return 1;
}

static int p_systor(struct trace *t, char *l, struct trace_req *r)
{
	char *f[7];
	uint64_t lun, off, size;
	double tm, resp;

	if (t->lineno == 1 && strncmp(l, "Timestamp", 9) == 0)
		return 0;
	if (split(l, ",", 0, f, 7) != 6 || dbl(f[0], &tm) ||
	    dbl(f[1], &resp) || u64(f[3], 10, &lun) || u64(f[4], 10, &off) ||
	    u64(f[5], 10, &size))
		return -EINVAL;
	if (strcmp(f[2], "R") != 0 && strcmp(f[2], "W") != 0)
		return -EINVAL;
	r->time = secs_ns(tm);
	r->volume = lun;
	r->offset = off;
	r->len = size;
	r->write = f[2][0] == 'W';
	return 1;
}

typedef int (*parser_fn)(struct trace *, char *, struct trace_req *);

static const parser_fn parsers[] = {
	[TRACE_CLOUDPHYSICS] = p_cloudphysics,
	[TRACE_LIRS] = p_lirs,
	[TRACE_ARC] = p_arc,
	[TRACE_ADAPTSIZE] = p_adaptsize,
	[TRACE_SNIA_STORAGE] = p_snia_storage,
	[TRACE_SNIA_PHOTOS] = p_snia_photos,
	[TRACE_MSR] = p_msr,
	[TRACE_SYSTOR] = p_systor,
};

int trace_next(struct trace *t, struct trace_req *r, char *err, size_t errlen)
{
	ssize_t len;
	int ret;

	if (!t->f)
		return 0;
	for (;;) {
		len = getline(&t->line, &t->cap, t->f);
		if (len < 0) {
			if (ferror(t->f)) {
				snprintf(err, errlen, "%s: read error", t->path);
				return -EIO;
			}
			if (t->child > 0) {
				int status = 0;

				fclose(t->f);
				t->f = NULL;
				waitpid(t->child, &status, 0);
				t->child = 0;
				if (!WIFEXITED(status) || WEXITSTATUS(status)) {
					snprintf(err, errlen,
						 "%s: the decompressor failed (status %d)",
						 t->path, WIFEXITED(status) ?
						 WEXITSTATUS(status) : -1);
					return -EIO;
				}
			}
			return 0;
		}
		t->lineno++;
		while (len > 0 && (t->line[len - 1] == '\n' ||
				   t->line[len - 1] == '\r'))
			t->line[--len] = '\0';
		memset(r, 0, sizeof(*r));
		r->time = -1;
		ret = parsers[t->fmt](t, t->line, r);
		if (ret > 0)
			return 1;
		if (ret < 0) {
			snprintf(err, errlen, "%s:%" PRIu64 ": not a %s record",
				 t->path, t->lineno, trace_fmt_name(t->fmt));
			return -EINVAL;
		}
		t->skipped++;
	}
}
