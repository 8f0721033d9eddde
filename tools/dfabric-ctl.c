// SPDX-License-Identifier: GPL-2.0-or-later
/* dfabric-ctl, the admin tool: sends one JSON request to the running
 * daemon over its control socket (see fs/ctl.h) and prints the reply as a
 * table, or as it is with --json. Commands live in one table (tool_cmds);
 * a new command is a new row. See man/dfabric-ctl.8. */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/io.h"
#include "common/utf8.h"

#ifndef DFABRIC_VERSION
#define DFABRIC_VERSION "0.1.0"
#endif

#define DEFAULT_CONF     "/etc/dfabric/dfabric.conf"
#define FUSE_MAGIC       0x65735546     /* statfs f_type of a FUSE mount */
#define REPLY_MAX        (256u << 20)   /* longest reply accepted, bytes */
#define IO_TIMEOUT_S     30             /* wait for the daemon at most */
#define BUSY_RETRY_MS    5000           /* a daemon with every client slot
					 * taken is asked again this long */
#define INO_MAX          (1ull << 53)   /* largest inode a request carries */

/* Exit codes (documented in dfabric-ctl(8)). */
enum tool_exit {
	EXIT_OK = 0,           /* done */
	EXIT_FAILED = 1,       /* the daemon answered an error; bad FILE */
	EXIT_USAGE = 2,        /* bad command line or unreadable config */
	EXIT_UNREACHABLE = 3,  /* no daemon on the socket, or no reply */
};

struct tool_opts {
	const char *config;    /* -c, or NULL */
	const char *socket;    /* -s, or NULL: from the config */
	int json;              /* --json: print the reply unchanged */
	char sock_path[PATH_MAX]; /* the socket actually used */
};

struct tool_cmd {
	const char *name;      /* first word after the options */
	const char *args;      /* argument synopsis for --help, "" for none */
	int nargs;             /* exact number of arguments, -1: the command checks */
	int (*fn)(struct tool_opts *o, char **argv); /* returns an exit code */
	const char *help;      /* one line for --help */
};

static void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void errmsg(const char *fmt, ...)
{
	va_list ap;

	fputs("dfabric-ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- talking to the daemon ---- */

/* Reads the reply line (up to the newline or EOF) into a malloc'd string,
 * without the newline. */
static int recv_line(int fd, char **out)
{
	size_t len = 0, cap = 4096;
	char *buf, *tmp, *nl = NULL;
	ssize_t n;
	int rc = 0;

	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	while (!nl) {
		if (cap - len < 2) {
			if (cap >= REPLY_MAX) {
				rc = -EMSGSIZE;
				goto out;
			}
			tmp = realloc(buf, cap * 2);
			if (!tmp) {
				rc = -ENOMEM;
				goto out;
			}
			buf = tmp;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	if (nl)
		len = (size_t)(nl - buf);
	if (len == 0) {
		rc = -ENODATA;
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
out:
	free(buf);
	return rc;
}

/* A copy of the JSON text `in` with every integer of more than 15 digits
 * outside strings put in quotes: cJSON holds numbers as doubles, which
 * round the daemon's 64-bit values (versions are of the order of 10^18);
 * get_u64 reads them back from the strings. NULL when out of memory. */
static char *quote_big_ints(const char *in)
{
	size_t n = strlen(in), k = 0;
	char *out = malloc(2 * n + 1);
	bool str = false;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t j = i;

		if (str) {
			if (in[i] == '\\' && i + 1 < n)
				out[k++] = in[i++];
			else if (in[i] == '"')
				str = false;
			out[k++] = in[i++];
			continue;
		}
		if (in[i] == '"') {
			str = true;
			out[k++] = in[i++];
			continue;
		}
		while (j < n && strchr("0123456789-+.eE", in[j]))
			j++;
		if (j == i) {
			out[k++] = in[i++];
			continue;
		}
		if (j - i > 15 && strspn(in + i, "0123456789") == j - i) {
			out[k++] = '"';
			memcpy(out + k, in + i, j - i);
			k += j - i;
			out[k++] = '"';
		} else {
			memcpy(out + k, in + i, j - i);
			k += j - i;
		}
		i = j;
	}
	out[k] = '\0';
	return out;
}

static int request_once(struct tool_opts *o, cJSON *req, char **raw,
			cJSON **reply);

/* Sends request `req` (a JSON object) and parses the reply. Returns an
 * exit code; on EXIT_OK *raw is the reply line (caller frees) and *reply
 * its parse (caller deletes), an object with a boolean "ok". A reply
 * with "retry" (every client slot of the daemon taken: the request was
 * not read) sends it again, after 20 ms, then twice as long each time
 * up to 500 ms, for BUSY_RETRY_MS at most; then that reply is the one. */
static int request(struct tool_opts *o, cJSON *req, char **raw, cJSON **reply)
{
	int64_t until = mono_ms() + BUSY_RETRY_MS;
	unsigned nap_ms = 20;
	int rc;

	for (;;) {
		rc = request_once(o, req, raw, reply);
		if (rc != EXIT_OK ||
		    !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(*reply, "retry")) ||
		    mono_ms() + nap_ms > until)
			return rc;
		free(*raw);
		cJSON_Delete(*reply);
		*raw = NULL;
		*reply = NULL;
		usleep(nap_ms * 1000);
		nap_ms = nap_ms * 2 > 500 ? 500 : nap_ms * 2;
	}
}

static int request_once(struct tool_opts *o, cJSON *req, char **raw,
			cJSON **reply)
{
	char *big;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	char *text = NULL, *line = NULL;
	int fd = -1, rc = EXIT_UNREACHABLE, e;
	cJSON *r = NULL;

	if (strlen(o->sock_path) >= sizeof(sa.sun_path)) {
		errmsg("%s: socket path too long (at most %zu bytes)",
		       o->sock_path, sizeof(sa.sun_path) - 1);
		return EXIT_USAGE;
	}
	strcpy(sa.sun_path, o->sock_path);
	text = cJSON_PrintUnformatted(req);
	if (!text) {
		errmsg("out of memory");
		return EXIT_FAILED;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		errmsg("socket: %s", strerror(errno));
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		if (e == ENOENT || e == ECONNREFUSED)
			errmsg("cannot connect to %s: %s (is the dfabric "
			       "daemon running?)", o->sock_path, strerror(e));
		else
			errmsg("cannot connect to %s: %s", o->sock_path,
			       strerror(e));
		goto out;
	}
	e = io_send_all(fd, text, strlen(text));
	if (e == 0)
		e = io_send_all(fd, "\n", 1);
	/* The daemon may answer (EBUSY) and close before reading: its
	 * reply is still there to read. */
	if (e < 0 && e != -EPIPE && e != -ECONNRESET) {
		errmsg("%s: sending the request: %s", o->sock_path,
		       strerror(-e));
		goto out;
	}
	e = recv_line(fd, &line);
	if (e < 0) {
		if (e == -EAGAIN)
			errmsg("%s: no reply from the daemon within %d s",
			       o->sock_path, IO_TIMEOUT_S);
		else if (e == -ENODATA)
			errmsg("%s: the daemon closed the connection without "
			       "a reply", o->sock_path);
		else
			errmsg("%s: reading the reply: %s", o->sock_path,
			       strerror(-e));
		goto out;
	}
	big = quote_big_ints(line);
	r = big ? cJSON_Parse(big) : NULL;
	free(big);
	if (!r || !cJSON_IsObject(r) ||
	    !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(r, "ok"))) {
		errmsg("%s: malformed reply from the daemon", o->sock_path);
		rc = EXIT_FAILED;
		goto out;
	}
	*raw = line;
	*reply = r;
	line = NULL;
	r = NULL;
	rc = EXIT_OK;
out:
	cJSON_Delete(r);
	free(line);
	free(text);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* run, except that an error reply with errno `quiet` (0: none) is
 * returned as -quiet without a word. */
static int run_unless(struct tool_opts *o, cJSON *req, const char *what,
		      cJSON **reply, int quiet)
{
	const cJSON *msg;
	char *raw = NULL;
	cJSON *r = NULL;
	int rc;

	*reply = NULL;
	if (!req) {
		errmsg("out of memory");
		return EXIT_FAILED;
	}
	rc = request(o, req, &raw, &r);
	if (rc != EXIT_OK)
		goto out;
	if (o->json)
		printf("%s\n", raw);
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok"))) {
		msg = cJSON_GetObjectItemCaseSensitive(r, "errno");
		if (quiet && cJSON_IsNumber(msg) && msg->valueint == quiet) {
			rc = -quiet;
			goto out;
		}
		msg = cJSON_GetObjectItemCaseSensitive(r, "error");
		errmsg("%s: %s", what, cJSON_IsString(msg) ?
		       msg->valuestring : "the daemon reported an error");
		rc = EXIT_FAILED;
		goto out;
	}
	*reply = r;
	r = NULL;
out:
	cJSON_Delete(r);
	free(raw);
	return rc;
}

/* Runs one request: returns EXIT_OK with *reply set when the daemon said
 * ok; prints the raw reply with --json (and then *reply too); reports an
 * error reply as "dfabric-ctl: WHAT: error". */
static int run(struct tool_opts *o, cJSON *req, const char *what,
	       cJSON **reply)
{
	return run_unless(o, req, what, reply, 0);
}

/* ---- reading the reply ---- */

/* A non-negative integer member of o, or -EINVAL; one of more than 15
 * digits arrives as a string of them (quote_big_ints), exact. */
static int get_u64(const cJSON *o, const char *name, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (cJSON_IsString(v)) {
		const char *p = v->valuestring;
		char *end;

		if (!*p || strspn(p, "0123456789") != strlen(p))
			return -EINVAL;
		errno = 0;
		*out = strtoull(p, &end, 10);
		return errno ? -EINVAL : 0;
	}
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
	    v->valuedouble < 0 || v->valuedouble >= 18446744073709551616.0)
		return -EINVAL;
	*out = (uint64_t)v->valuedouble;
	return 0;
}

static const char *get_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Formats bytes like ls -h: 512, 1.5K, 10M, 4.0G. */
static void fmt_size(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	double d = (double)v;
	int i = -1;

	if (v < 1024) {
		snprintf(buf, len, "%" PRIu64, v);
		return;
	}
	while (d >= 1024 && i < 5) {
		d /= 1024;
		i++;
	}
	if (d < 9.95)
		snprintf(buf, len, "%.1f%c", d, units[i]);
	else
		snprintf(buf, len, "%.0f%c", d, units[i]);
}

/* ---- tables ---- */

#define TBL_MAX_COLS 12

/* Rows of strings printed in aligned columns; the last is not padded. */
struct table {
	int ncol;                      /* columns */
	unsigned right;                /* bit i: column i right-aligned */
	size_t nrow;                   /* rows, header included */
	size_t cap;                    /* rows allocated */
	char **cells;                  /* nrow * ncol malloc'd strings */
	int failed;                    /* an allocation failed */
};

static void table_add(struct table *t, ...)
{
	char **tmp;
	va_list ap;
	int i;

	if (t->failed)
		return;
	if (t->nrow == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		tmp = realloc(t->cells, t->cap * t->ncol * sizeof(*tmp));
		if (!tmp) {
			t->failed = 1;
			return;
		}
		t->cells = tmp;
	}
	va_start(ap, t);
	for (i = 0; i < t->ncol; i++) {
		tmp = &t->cells[t->nrow * t->ncol + i];
		*tmp = strdup(va_arg(ap, const char *));
		if (!*tmp)
			t->failed = 1;
	}
	va_end(ap);
	t->nrow++;
}

static void table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->nrow * t->ncol; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrow = t->cap = 0;
}

/* Prints and frees the table. Returns an exit code. */
static int table_print(struct table *t)
{
	size_t w[TBL_MAX_COLS] = { 0 }, r, l;
	int i, rc = EXIT_OK;
	const char *c;

	if (t->failed) {
		errmsg("out of memory");
		rc = EXIT_FAILED;
		goto out;
	}
	for (r = 0; r < t->nrow; r++)
		for (i = 0; i < t->ncol; i++) {
			l = strlen(t->cells[r * t->ncol + i]);
			if (l > w[i])
				w[i] = l;
		}
	for (r = 0; r < t->nrow; r++) {
		for (i = 0; i < t->ncol; i++) {
			c = t->cells[r * t->ncol + i];
			if (i == t->ncol - 1 && !(t->right & (1u << i)))
				printf("%s", c);
			else if (t->right & (1u << i))
				printf("%*s", (int)w[i], c);
			else
				printf("%-*s", (int)w[i], c);
			if (i < t->ncol - 1)
				printf("  ");
		}
		printf("\n");
	}
out:
	table_free(t);
	return rc;
}

/* Adds to req the device of st's mount, with which the daemon refuses
 * a file or directory of another mount. */
static int add_dev(cJSON *req, const struct stat *st)
{
	return cJSON_AddNumberToObject(req, "dev", (double)st->st_dev) != NULL;
}

/* Adds to req the file of st: its inode number and its device. */
static int add_file(cJSON *req, const struct stat *st)
{
	return cJSON_AddNumberToObject(req, "ino", (double)st->st_ino) &&
	       add_dev(req, st);
}

/* ---- commands ---- */

static cJSON *make_req(const char *cmd)
{
	cJSON *req = cJSON_CreateObject();

	if (req && !cJSON_AddStringToObject(req, "cmd", cmd)) {
		cJSON_Delete(req);
		return NULL;
	}
	return req;
}

static int bad_reply(const char *what)
{
	errmsg("%s: malformed reply from the daemon", what);
	return EXIT_FAILED;
}

static int cmd_ping(struct tool_opts *o, char **argv)
{
	cJSON *req = make_req("ping"), *reply = NULL;
	int rc;

	rc = run(o, req, "ping", &reply);
	if (rc == EXIT_OK && !o->json)
		printf("dfabric daemon on %s answers\n", o->sock_path);
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return rc;
}

static int cmd_status(struct tool_opts *o, char **argv)
{
	struct table t = { .ncol = 9, .right = 0x7c };
	char cap[16], used[16], pct[16], files[24], exts[24], esz[16];
	uint64_t vcap, vused, vfiles, vexts, inodes, open_files, extent_size;
	cJSON *req = make_req("status"), *reply = NULL;
	const cJSON *tiers, *tier;
	const char *name, *kind, *path, *health;
	int rc;

	rc = run(o, req, "status", &reply);
	if (rc != EXIT_OK || o->json)
		goto out;
	tiers = cJSON_GetObjectItemCaseSensitive(reply, "tiers");
	if (!cJSON_IsArray(tiers) ||
	    get_u64(reply, "inodes", &inodes) ||
	    get_u64(reply, "open_files", &open_files) ||
	    get_u64(reply, "extent_size", &extent_size)) {
		rc = bad_reply("status");
		goto out;
	}
	table_add(&t, "TIER", "KIND", "CAPACITY", "USED", "USED%", "FILES",
		  "EXTENTS", "HEALTH", "PATH");
	cJSON_ArrayForEach(tier, tiers) {
		name = get_str(tier, "name");
		kind = get_str(tier, "kind");
		path = get_str(tier, "path");
		health = get_str(tier, "health");
		if (!name || !kind || !path || !health ||
		    get_u64(tier, "capacity", &vcap) ||
		    get_u64(tier, "used", &vused) ||
		    get_u64(tier, "files", &vfiles) ||
		    get_u64(tier, "extents", &vexts)) {
			table_free(&t);
			rc = bad_reply("status");
			goto out;
		}
		fmt_size(vcap, cap, sizeof(cap));
		fmt_size(vused, used, sizeof(used));
		if (vcap)
			snprintf(pct, sizeof(pct), "%.1f%%",
				 100.0 * (double)vused / (double)vcap);
		else
			snprintf(pct, sizeof(pct), "-");
		snprintf(files, sizeof(files), "%" PRIu64, vfiles);
		snprintf(exts, sizeof(exts), "%" PRIu64, vexts);
		table_add(&t, name, kind, cap, used, pct, files, exts, health, path);
	}
	rc = table_print(&t);
	fmt_size(extent_size, esz, sizeof(esz));
	printf("\ninodes: %" PRIu64 "  open files: %" PRIu64
	       "  extent size: %s\n", inodes, open_files, esz);
out:
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return rc;
}

static int cmd_where(struct tool_opts *o, char **argv)
{
	struct table t = { .ncol = 5, .right = 0x0b };
	char off[24], len[24], ver[24], hsize[16];
	uint64_t voff, vlen, vver, size;
	const char *file = argv[0], *tier;
	const cJSON *exts, *ext, *sealed;
	cJSON *req = NULL, *reply = NULL;
	struct statfs sfs;
	struct stat st;
	int rc, n = 0;

	if (stat(file, &st) < 0) {
		errmsg("%s: %s", file, strerror(errno));
		return EXIT_FAILED;
	}
	if (statfs(file, &sfs) < 0) {
		errmsg("%s: statfs: %s", file, strerror(errno));
		return EXIT_FAILED;
	}
	if ((unsigned long)sfs.f_type != FUSE_MAGIC) {
		errmsg("%s: not on a dfabric mount", file);
		return EXIT_FAILED;
	}
	if ((uint64_t)st.st_ino < 1 || (uint64_t)st.st_ino > INO_MAX) {
		errmsg("%s: inode %" PRIu64 " out of range", file,
		       (uint64_t)st.st_ino);
		return EXIT_FAILED;
	}
	req = make_req("where");
	if (req && !add_file(req, &st)) {
		cJSON_Delete(req);
		req = NULL;
	}
	rc = run(o, req, file, &reply);
	if (rc != EXIT_OK || o->json)
		goto out;
	exts = cJSON_GetObjectItemCaseSensitive(reply, "extents");
	if (!cJSON_IsArray(exts) || get_u64(reply, "size", &size)) {
		rc = bad_reply(file);
		goto out;
	}
	table_add(&t, "OFFSET", "LENGTH", "TIER", "VERSION", "SEALED");
	cJSON_ArrayForEach(ext, exts) {
		tier = get_str(ext, "tier");
		sealed = cJSON_GetObjectItemCaseSensitive(ext, "sealed");
		if (!tier || !cJSON_IsBool(sealed) ||
		    get_u64(ext, "offset", &voff) ||
		    get_u64(ext, "length", &vlen) ||
		    get_u64(ext, "version", &vver)) {
			table_free(&t);
			rc = bad_reply(file);
			goto out;
		}
		snprintf(off, sizeof(off), "%" PRIu64, voff);
		snprintf(len, sizeof(len), "%" PRIu64, vlen);
		snprintf(ver, sizeof(ver), "%" PRIu64, vver);
		table_add(&t, off, len, tier, ver,
			  cJSON_IsTrue(sealed) ? "yes" : "no");
		n++;
	}
	rc = table_print(&t);
	fmt_size(size, hsize, sizeof(hsize));
	printf("\n%s: size %" PRIu64 " (%s), %d extent%s\n", file, size, hsize,
	       n, n == 1 ? "" : "s");
out:
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return rc;
}

/* Inode number of FILE on a dfabric mount, or 0 with a message. */
static uint64_t dfabric_ino(const char *file, struct stat *st)
{
	struct statfs sfs;

	if (stat(file, st) < 0) {
		errmsg("%s: %s", file, strerror(errno));
		return 0;
	}
	if (statfs(file, &sfs) < 0 || (unsigned long)sfs.f_type != FUSE_MAGIC) {
		errmsg("%s: not on a dfabric mount", file);
		return 0;
	}
	if ((uint64_t)st->st_ino < 1 || (uint64_t)st->st_ino > INO_MAX) {
		errmsg("%s: inode out of range", file);
		return 0;
	}
	return (uint64_t)st->st_ino;
}

/* Parses a size with an optional K/M/G/T suffix (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
	return cfg_parse_size(s, out);
}

/* ---- migrate ---- */

#define MIGRATE_MAX_JOBS 100000        /* files one command may queue */

struct migrate_req {
	struct tool_opts *o;           /* options */
	const char *tier;              /* --to */
	uint64_t off;                  /* --range start */
	uint64_t len;                  /* --range length, UINT64_MAX: all */
	uint64_t *ids;                 /* jobs queued */
	size_t nids;                   /* entries used in ids */
	size_t cap;                    /* entries allocated */
	int failed;                    /* a file was refused */
};

static struct migrate_req *walk_req;   /* nftw has no argument pointer */

static int queue_one(struct migrate_req *mr, const char *file)
{
	cJSON *req = make_req("migrate"), *reply = NULL;
	struct stat st;
	uint64_t ino = dfabric_ino(file, &st), id;
	int rc, json = mr->o->json;

	if (!ino) {
		cJSON_Delete(req);
		mr->failed = 1;
		return 0;
	}
	if (req && (!add_file(req, &st) ||
		    !cJSON_AddStringToObject(req, "tier", mr->tier) ||
		    (mr->off && !cJSON_AddNumberToObject(req, "offset", (double)mr->off)) ||
		    (mr->len != UINT64_MAX &&
		     !cJSON_AddNumberToObject(req, "length", (double)mr->len)))) {
		cJSON_Delete(req);
		req = NULL;
	}
	mr->o->json = 0;
	rc = run(mr->o, req, file, &reply);
	mr->o->json = json;
	cJSON_Delete(req);
	if (rc == EXIT_UNREACHABLE)
		return -1;
	if (rc != EXIT_OK || get_u64(reply, "id", &id)) {
		cJSON_Delete(reply);
		mr->failed = 1;
		return 0;
	}
	cJSON_Delete(reply);
	if (mr->nids == mr->cap) {
		size_t cap = mr->cap ? mr->cap * 2 : 16;
		uint64_t *v;

		if (cap > MIGRATE_MAX_JOBS)
			cap = MIGRATE_MAX_JOBS;
		v = cap > mr->cap ? realloc(mr->ids, cap * sizeof(*v)) : NULL;
		if (!v) {
			/* the job is queued; it is not waited for */
			if (cap > mr->cap)
				errmsg("%s: job %" PRIu64 " queued, but out of "
				       "memory: the files after it are not",
				       file, id);
			else
				errmsg("%s: job %" PRIu64 " queued, but more than "
				       "%d files: the files after it are not",
				       file, id, MIGRATE_MAX_JOBS);
			mr->failed = 1;
			return -2;
		}
		mr->ids = v;
		mr->cap = cap;
	}
	mr->ids[mr->nids++] = id;
	if (json) {
		cJSON *line = cJSON_CreateObject();
		char *text = NULL;

		if (line && cJSON_AddStringToObject(line, "file", file) &&
		    cJSON_AddNumberToObject(line, "id", (double)id))
			text = cJSON_PrintUnformatted(line);
		if (text) {
			utf8_copy(text, strlen(text) + 1, text);
			printf("%s\n", text);
		}
		else
			errmsg("%s: job %" PRIu64 ": out of memory", file, id);
		free(text);
		cJSON_Delete(line);
	} else
		printf("job %" PRIu64 ": %s -> %s\n", id, file, mr->tier);
	return 0;
}

static int walk_one(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	if (flag == FTW_NS || flag == FTW_DNR) {
		errmsg("%s: cannot %s it; skipped", path,
		       flag == FTW_NS ? "stat" : "read");
		walk_req->failed = 1;
		return 0;
	}
	if (flag != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	return queue_one(walk_req, path);  /* < 0: stop */
}

#define JOB_GONE (-ENOENT) /* fetch_job: the daemon no longer knows the job */

/* Asks the daemon for job `id` (never printing the raw reply, even with
 * --json); *reply is the daemon's answer when EXIT_OK. JOB_GONE when the
 * daemon knows no such job: "jobs --prune" forgot it, so it had ended. */
static int fetch_job(struct tool_opts *o, uint64_t id, cJSON **reply)
{
	cJSON *req = make_req("job");
	int json = o->json, rc;

	if (req && !cJSON_AddNumberToObject(req, "id", (double)id)) {
		cJSON_Delete(req);
		req = NULL;
	}
	o->json = 0;
	rc = run_unless(o, req, "job", reply, ENOENT);
	o->json = json;
	cJSON_Delete(req);
	return rc;
}

/* How a job that wait_jobs waits for ended (JOB_RUNS: not yet). */
enum job_end { JOB_RUNS, JOB_DONE, JOB_FAILED, JOB_VANISHED };

/* What wait_jobs knows of one job. */
struct job_seen {
	uint64_t done, total;          /* its bytes at the last poll */
	enum job_end end;              /* how it ended */
};

/* Asks the daemon for job `id` into *sj: EXIT_OK, or what fetch_job
 * failed with. A job it no longer knows ("jobs --prune" forgot it) had
 * ended, but how cannot be told: JOB_VANISHED. */
static int poll_job(struct tool_opts *o, uint64_t id, struct job_seen *sj)
{
	cJSON *reply = NULL;
	const cJSON *j;
	const char *state;
	uint64_t v;
	int rc = fetch_job(o, id, &reply);

	if (rc == JOB_GONE) {
		sj->end = JOB_VANISHED;
		return EXIT_OK;
	}
	if (rc != EXIT_OK)
		return rc;
	j = cJSON_GetObjectItemCaseSensitive(reply, "job");
	state = get_str(j, "state");
	if (!get_u64(j, "bytes_total", &v))
		sj->total = v;
	if (!get_u64(j, "bytes_done", &v))
		sj->done = v;
	if (state && !strcmp(state, "done"))
		sj->end = JOB_DONE;
	else if (state && !strcmp(state, "failed"))
		sj->end = JOB_FAILED;
	cJSON_Delete(reply);
	return EXIT_OK;
}

/* Polls the jobs until all have ended, drawing one progress line; a job
 * is asked for until it ends, so that a prune after that is no matter.
 * A job that vanished before counts as failed, named on stderr. Returns
 * EXIT_OK when all succeeded. */
static int wait_jobs(struct tool_opts *o, const uint64_t *ids, size_t n)
{
	struct job_seen *seen = calloc(n, sizeof(*seen));
	struct timespec t0, t1;
	int tty = isatty(STDERR_FILENO), rc = EXIT_OK;
	size_t i;

	if (!seen) {
		errmsg("out of memory");
		return EXIT_FAILED;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		uint64_t total = 0, done = 0;
		size_t finished = 0, failed = 0;
		char a[16], b[16], r[16], eta[16] = "-", bar[41];
		double el, rate;

		for (i = 0; i < n; i++) {
			if (seen[i].end == JOB_RUNS &&
			    (rc = poll_job(o, ids[i], &seen[i])) != EXIT_OK)
				goto out;
			total += seen[i].total;
			done += seen[i].done;
			finished += seen[i].end != JOB_RUNS;
			failed += seen[i].end == JOB_FAILED ||
				  seen[i].end == JOB_VANISHED;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		el = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		rate = el > 0 ? done / el : 0;
		fmt_size(done, a, sizeof(a));
		fmt_size(total, b, sizeof(b));
		fmt_size((uint64_t)rate, r, sizeof(r));
		for (i = 0; i < 40; i++)
			bar[i] = total && i < done * 40 / total ? '#' : '.';
		bar[40] = 0;
		if (rate > 0 && total > done)
			snprintf(eta, sizeof(eta), "%.0fs", (total - done) / rate);
		if (tty || finished == n)
			fprintf(stderr, "%s[%s] %3d%% %s/%s %s/s ETA %s%s",
				tty ? "\r" : "", bar,
				total ? (int)(done * 100 / total) : 100, a, b, r,
				eta, finished == n ? "\n" : "");
		if (finished == n) {
			rc = failed ? EXIT_FAILED : EXIT_OK;
			break;
		}
		usleep(200000);
	}
	for (i = 0; i < n; i++)
		if (seen[i].end == JOB_VANISHED)
			errmsg("job %" PRIu64 " vanished (pruned?): how it ended "
			       "is unknown", ids[i]);
out:
	free(seen);
	return rc;
}

/* Prints the reason of each failed job. */
static void report_failed(struct tool_opts *o, const uint64_t *ids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		cJSON *reply = NULL;
		const cJSON *j;
		const char *state, *why;

		if (fetch_job(o, ids[i], &reply) == EXIT_OK) {
			j = cJSON_GetObjectItemCaseSensitive(reply, "job");
			state = get_str(j, "state");
			why = get_str(j, "reason");
			if (state && !strcmp(state, "failed"))
				errmsg("job %" PRIu64 " failed: %s", ids[i],
				       why && *why ? why : "unknown reason");
		}
		cJSON_Delete(reply);
	}
}

static int cmd_migrate(struct tool_opts *o, char **argv)
{
	struct migrate_req mr = { .o = o, .len = UINT64_MAX };
	const char *files[64];
	int nfiles = 0, recursive = 0, wait = 0, rc = EXIT_OK, i, qrc;
	int only_paths = 0;            /* after "--": every argument a PATH */

	for (i = 0; argv[i]; i++) {
		if (!only_paths && !strcmp(argv[i], "--")) {
			only_paths = 1;
		} else if (only_paths) {
			if (nfiles == (int)(sizeof(files) / sizeof(files[0]))) {
				errmsg("migrate: too many arguments");
				return EXIT_USAGE;
			}
			files[nfiles++] = argv[i];
		} else if (!strcmp(argv[i], "-r") || !strcmp(argv[i], "--recursive")) {
			recursive = 1;
		} else if (!strcmp(argv[i], "--wait") || !strcmp(argv[i], "-w")) {
			wait = 1;
		} else if (!strcmp(argv[i], "--to") && argv[i + 1]) {
			mr.tier = argv[++i];
		} else if (!strcmp(argv[i], "--range") && argv[i + 1]) {
			char *colon, buf[64];

			if (snprintf(buf, sizeof(buf), "%s", argv[++i]) >=
			    (int)sizeof(buf)) {
				errmsg("--range wants OFFSET:LENGTH, not '%s' "
				       "(too long)", argv[i]);
				return EXIT_USAGE;
			}
			colon = strchr(buf, ':');
			if (!colon) {
				errmsg("--range wants OFFSET:LENGTH, not '%s'", argv[i]);
				return EXIT_USAGE;
			}
			*colon = 0;
			if (parse_size(buf, &mr.off) || parse_size(colon + 1, &mr.len) ||
			    mr.len == 0) {
				errmsg("--range wants OFFSET:LENGTH (sizes, LENGTH > 0), "
				       "not '%s'", argv[i]);
				return EXIT_USAGE;
			}
		} else if (!strcmp(argv[i], "--to") || !strcmp(argv[i], "--range")) {
			errmsg("migrate: %s needs a value", argv[i]);
			return EXIT_USAGE;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			errmsg("migrate: unknown option '%s'", argv[i]);
			return EXIT_USAGE;
		} else if (nfiles < (int)(sizeof(files) / sizeof(files[0]))) {
			files[nfiles++] = argv[i];
		} else {
			errmsg("migrate: too many arguments");
			return EXIT_USAGE;
		}
	}
	if (!mr.tier || nfiles == 0) {
		errmsg("usage: dfabric-ctl migrate [-r] [--wait] [--range OFF:LEN] "
		       "PATH... --to TIER");
		return EXIT_USAGE;
	}
	for (i = 0; i < nfiles; i++) {
		struct stat st, lst;
		char top[PATH_MAX];

		if (stat(files[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (!recursive) {
				errmsg("%s: is a directory (use -r)", files[i]);
				mr.failed = 1;
				continue;
			}
			walk_req = &mr;
			/* nftw(FTW_PHYS) would not enter a symlink given here:
			 * walk what it links to, through "LINK/." */
			if (lstat(files[i], &lst) == 0 && S_ISLNK(lst.st_mode) &&
			    snprintf(top, sizeof(top), "%s/.", files[i]) <
			    (int)sizeof(top))
				qrc = nftw(top, walk_one, 16, FTW_PHYS);
			else
				qrc = nftw(files[i], walk_one, 16, FTW_PHYS);
			if (qrc == -1) {
				errmsg("%s: %s", files[i], strerror(errno));
				mr.failed = 1;
				qrc = 0;
			}
		} else {
			qrc = queue_one(&mr, files[i]);
		}
		if (qrc == -2)
			break;         /* too many: wait for those queued */
		if (qrc != 0) {
			rc = EXIT_UNREACHABLE;
			goto out;
		}
	}
	if (wait && mr.nids) {
		rc = wait_jobs(o, mr.ids, mr.nids);
		if (rc == EXIT_FAILED)
			report_failed(o, mr.ids, mr.nids);
	}
	if (rc == EXIT_OK && mr.failed)
		rc = EXIT_FAILED;
out:
	free(mr.ids);
	return rc;
}

/* ---- jobs, bandwidth, tier check ---- */

static int cmd_jobs(struct tool_opts *o, char **argv)
{
	struct table t = { .ncol = 7, .right = 0x19 };
	cJSON *req, *reply = NULL;
	const cJSON *jobs, *j;
	int rc, prune = 0, i;

	for (i = 0; argv[i]; i++) {
		if (!strcmp(argv[i], "--prune")) {
			prune = 1;
		} else {
			errmsg("usage: dfabric-ctl jobs [--prune] [--json]");
			return EXIT_USAGE;
		}
	}
	if (prune) {
		uint64_t n = 0;

		req = make_req("prune");
		rc = run(o, req, "prune", &reply);
		if (rc == EXIT_OK && !o->json && !get_u64(reply, "pruned", &n))
			printf("forgot %" PRIu64 " finished job%s\n", n, n == 1 ? "" : "s");
		cJSON_Delete(reply);
		cJSON_Delete(req);
		return rc;
	}
	req = make_req("jobs");
	rc = run(o, req, "jobs", &reply);
	if (rc != EXIT_OK || o->json)
		goto out;
	jobs = cJSON_GetObjectItemCaseSensitive(reply, "jobs");
	if (!cJSON_IsArray(jobs)) {
		rc = bad_reply("jobs");
		goto out;
	}
	table_add(&t, "ID", "STATE", "TIER", "INODE", "PROGRESS", "BYTES", "REASON");
	cJSON_ArrayForEach(j, jobs) {
		uint64_t id = 0, ino = 0, done = 0, total = 0;
		char sid[24], sino[24], prog[16], bytes[40], a[16], b[16];
		const char *state = get_str(j, "state"), *tier = get_str(j, "tier");
		const char *why = get_str(j, "reason");

		if (get_u64(j, "id", &id) || get_u64(j, "ino", &ino) || !state ||
		    !tier || get_u64(j, "bytes_done", &done) ||
		    get_u64(j, "bytes_total", &total)) {
			table_free(&t);
			rc = bad_reply("jobs");
			goto out;
		}
		snprintf(sid, sizeof(sid), "%" PRIu64, id);
		snprintf(sino, sizeof(sino), "%" PRIu64, ino);
		snprintf(prog, sizeof(prog), "%d%%",
			 total ? (int)(done * 100 / total) :
			 (!strcmp(state, "done") ? 100 : 0));
		fmt_size(done, a, sizeof(a));
		fmt_size(total, b, sizeof(b));
		snprintf(bytes, sizeof(bytes), "%s/%s", a, b);
		table_add(&t, sid, state, tier, sino, prog, bytes,
			  why && *why ? why : "-");
	}
	rc = table_print(&t);
out:
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return rc;
}

/* RATE into the request as `name`: 0, or EXIT_USAGE with a message (a
 * request it cannot grow is dropped: run() then fails). */
static int rate_arg(cJSON **req, const char *name, const char *arg)
{
	uint64_t v;

	if (parse_size(arg, &v) || v >= INO_MAX) {
		errmsg("bandwidth: '%s' is not a rate in bytes/s "
		       "(suffixes K, M, G; 0 for no limit)", arg);
		return EXIT_USAGE;
	}
	if (*req && !cJSON_AddNumberToObject(*req, name, (double)v)) {
		cJSON_Delete(*req);
		*req = NULL;
	}
	return 0;
}

static void print_rate(const char *what, uint64_t v, const char *tail)
{
	char buf[16];

	if (v == 0) {
		printf("%s: no limit%s\n", what, tail);
	} else {
		fmt_size(v, buf, sizeof(buf));
		printf("%s: %s/s per tier pair%s\n", what, buf, tail);
	}
}

static int cmd_bandwidth(struct tool_opts *o, char **argv)
{
	cJSON *req = make_req("bandwidth"), *reply = NULL;
	uint64_t v, busy;
	int rc = 0, i, rate = 0, busy_set = 0;

	for (i = 0; argv[i] && rc == 0; i++) {
		if (!strcmp(argv[i], "--busy") && argv[i + 1] && !busy_set++) {
			rc = rate_arg(&req, "busy", argv[++i]);
		} else if (argv[i][0] != '-' && !rate++) {
			rc = rate_arg(&req, "value", argv[i]);
		} else {
			errmsg("usage: dfabric-ctl bandwidth [RATE] [--busy RATE]");
			rc = EXIT_USAGE;
		}
	}
	if (rc) {
		cJSON_Delete(req);
		return rc;
	}
	rc = run(o, req, "bandwidth", &reply);
	if (rc == EXIT_OK && !o->json) {
		if (get_u64(reply, "bandwidth", &v)) {
			rc = bad_reply("bandwidth");
		} else {
			print_rate("migration bandwidth", v, "");
			/* a daemon older than the busy limit has none */
			if (!get_u64(reply, "busy", &busy))
				print_rate("while reads or writes come in", busy,
					   cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
						   reply, "busy_now")) ? " (they do now)" : "");
		}
	}
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return rc;
}

static int cmd_tier(struct tool_opts *o, char **argv)
{
	cJSON *req, *reply = NULL;
	const char *res;
	int rc;

	if (!argv[0] || strcmp(argv[0], "check") || !argv[1] || argv[2]) {
		errmsg("usage: dfabric-ctl tier check NAME");
		return EXIT_USAGE;
	}
	req = make_req("tier-check");
	if (req && !cJSON_AddStringToObject(req, "tier", argv[1])) {
		cJSON_Delete(req);
		req = NULL;
	}
	rc = run(o, req, "tier check", &reply);
	if (rc == EXIT_OK && !o->json) {
		res = get_str(reply, "result");
		printf("tier %s: %s\n", argv[1], res ? res : "ok");
	}
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return rc;
}

/* ---- top ---- */

/* Paths of the inodes top lists, found by walking a directory of the
 * mount: nftw has no argument, hence the file-scope state. */
static struct {
	const uint64_t *ino;           /* wanted inodes */
	char **path;                   /* their first path found, or NULL */
	size_t n, left;                /* wanted, still unnamed */
	dev_t dev;                     /* the mount's device */
} g_walk;

static int top_walk_one(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	if (flag != FTW_F || st->st_dev != g_walk.dev)
		return 0;
	for (size_t i = 0; i < g_walk.n; i++) {
		if (g_walk.ino[i] != (uint64_t)st->st_ino || g_walk.path[i])
			continue;
		g_walk.path[i] = strdup(path);
		if (g_walk.path[i] && --g_walk.left == 0)
			return 1;  /* all named: stop */
	}
	return 0;
}

/* Names what it can of ino[0..n) under dir (on a dfabric mount); the
 * others stay NULL. A walk costs a lookup per file of the tree. */
static int name_inodes(const char *dir, const uint64_t *ino, char **path,
		       size_t n)
{
	struct statfs sfs;
	struct stat st;

	if (stat(dir, &st) < 0) {
		errmsg("%s: %s", dir, strerror(errno));
		return EXIT_FAILED;
	}
	if (!S_ISDIR(st.st_mode)) {
		errmsg("%s: not a directory", dir);
		return EXIT_FAILED;
	}
	if (statfs(dir, &sfs) < 0 || (unsigned long)sfs.f_type != FUSE_MAGIC) {
		errmsg("%s: not on a dfabric mount", dir);
		return EXIT_FAILED;
	}
	g_walk.ino = ino;
	g_walk.path = path;
	g_walk.n = g_walk.left = n;
	g_walk.dev = st.st_dev;
	if (n)
		nftw(dir, top_walk_one, 16, FTW_PHYS | FTW_MOUNT);
	return EXIT_OK;
}

static int cmd_top(struct tool_opts *o, char **argv)
{
	struct table t = { .ncol = 8, .right = 0x3e };
	cJSON *req = NULL, *reply = NULL;
	const char *dir = NULL;
	const cJSON *files, *fi, *tiers, *ti;
	uint64_t *inos = NULL;
	char **paths = NULL;
	size_t nf = 0, k;
	int json = o->json, rc, i;
	double n = 10;

	for (i = 0; argv[i]; i++) {
		char *end;

		if (!strcmp(argv[i], "-n") && argv[i + 1]) {
			n = strtod(argv[++i], &end);
			if (*end || end == argv[i] || n < 1 || n > 1000 ||
			    n != floor(n)) {
				errmsg("top: -n wants a whole number from 1 to "
				       "1000, not '%s'", argv[i]);
				return EXIT_USAGE;
			}
		} else if (!strcmp(argv[i], "--") && argv[i + 1] && !argv[i + 2] &&
			   !dir) {
			dir = argv[++i];
		} else if (argv[i][0] == '-' || dir) {
			errmsg("usage: dfabric-ctl top [-n N] [--json] [DIR]");
			return EXIT_USAGE;
		} else {
			dir = argv[i];
		}
	}
	req = make_req("top");
	if (dir) {
		struct stat dst;

		if (stat(dir, &dst) < 0) {
			errmsg("%s: %s", dir, strerror(errno));
			cJSON_Delete(req);
			return EXIT_FAILED;
		}
		/* DIR names inodes of this daemon only */
		if (req && !add_dev(req, &dst)) {
			cJSON_Delete(req);
			req = NULL;
		}
	}
	if (req && !cJSON_AddNumberToObject(req, "n", n)) {
		cJSON_Delete(req);
		req = NULL;
	}
	/* With DIR the JSON gets paths added: printed here, not by run. */
	o->json = json && !dir;
	rc = run(o, req, "top", &reply);
	o->json = json;
	if (rc != EXIT_OK || (json && !dir))
		goto out;
	files = cJSON_GetObjectItemCaseSensitive(reply, "files");
	if (!cJSON_IsArray(files)) {
		rc = bad_reply("top");
		goto out;
	}
	nf = (size_t)cJSON_GetArraySize(files);
	inos = calloc(nf + 1, sizeof(*inos));
	paths = calloc(nf + 1, sizeof(*paths));
	if (!inos || !paths) {
		errmsg("out of memory");
		rc = EXIT_FAILED;
		goto out;
	}
	k = 0;
	cJSON_ArrayForEach(fi, files) {
		if (get_u64(fi, "ino", &inos[k++])) {
			rc = bad_reply("top");
			goto out;
		}
	}
	if (dir && (rc = name_inodes(dir, inos, paths, nf)) != EXIT_OK)
		goto out;
	if (json) {
		char *text;

		k = 0;
		cJSON_ArrayForEach(fi, files) {
			if (paths[k] && !cJSON_AddStringToObject((cJSON *)fi, "path",
								 paths[k])) {
				rc = EXIT_FAILED;
				goto out;
			}
			k++;
		}
		text = cJSON_PrintUnformatted(reply);
		if (!text) {
			errmsg("out of memory");
			rc = EXIT_FAILED;
			goto out;
		}
		utf8_copy(text, strlen(text) + 1, text);  /* names are bytes */
		printf("%s\n", text);
		free(text);
		goto out;
	}
	table_add(&t, "FILE", "FREQ", "READS", "WRITES", "READ", "WRITTEN",
		  "LAST ACCESS", "TIERS");
	k = 0;
	cJSON_ArrayForEach(fi, files) {
		char name[PATH_MAX + 32], freq[32], rd[24], wr[24], br[16], bw[16];
		char last[32], where[256] = "", sz[16];
		uint64_t reads, writes, bread, bwritten, tb;
		const cJSON *fq = cJSON_GetObjectItemCaseSensitive(fi, "frequency");
		const cJSON *la = cJSON_GetObjectItemCaseSensitive(fi, "last_access");
		size_t wl = 0;
		time_t when;
		struct tm tm;

		tiers = cJSON_GetObjectItemCaseSensitive(fi, "tiers");
		if (!cJSON_IsNumber(fq) || !cJSON_IsNumber(la) ||
		    !cJSON_IsArray(tiers) || get_u64(fi, "reads", &reads) ||
		    get_u64(fi, "writes", &writes) ||
		    get_u64(fi, "bytes_read", &bread) ||
		    get_u64(fi, "bytes_written", &bwritten)) {
			table_free(&t);
			rc = bad_reply("top");
			goto out;
		}
		if (paths[k])
			snprintf(name, sizeof(name), "%s", paths[k]);
		else
			snprintf(name, sizeof(name), "inode %" PRIu64, inos[k]);
		k++;
		snprintf(freq, sizeof(freq), "%.2f", fq->valuedouble);
		snprintf(rd, sizeof(rd), "%" PRIu64, reads);
		snprintf(wr, sizeof(wr), "%" PRIu64, writes);
		fmt_size(bread, br, sizeof(br));
		fmt_size(bwritten, bw, sizeof(bw));
		when = (time_t)la->valuedouble;
		if (when > 0 && localtime_r(&when, &tm))
			strftime(last, sizeof(last), "%Y-%m-%d %H:%M:%S", &tm);
		else
			snprintf(last, sizeof(last), "-");
		cJSON_ArrayForEach(ti, tiers) {
			const char *tn = get_str(ti, "tier");

			if (!tn || get_u64(ti, "bytes", &tb))
				continue;
			fmt_size(tb, sz, sizeof(sz));
			if (wl < sizeof(where))
				wl += (size_t)snprintf(where + wl, sizeof(where) - wl,
						       "%s%s:%s", wl ? "," : "",
						       tn, sz);
		}
		table_add(&t, name, freq, rd, wr, br, bw, last, wl ? where : "-");
	}
	rc = table_print(&t);
out:
	for (k = 0; paths && k < nf; k++)
		free(paths[k]);
	free(paths);
	free(inos);
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return rc;
}

/* ---- explain, place, cost ---- */

/* A number member of o, or NAN. */
static double get_num(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Unix seconds as local time, "-" for 0 (never). */
static void fmt_time(double t, char *buf, size_t len)
{
	time_t when = (time_t)t;
	struct tm tm;

	if (when > 0 && localtime_r(&when, &tm))
		strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	else
		snprintf(buf, len, "-");
}

/* Prints explain's table of the terms per tier. Returns an exit code. */
static int print_explain_tiers(const cJSON *tiers, const char *what)
{
	struct table t = { .ncol = 10, .right = 0x3be };
	const cJSON *ti;

	table_add(&t, "TIER", "FREQ", "LATENCY", "COST", "TREND", "TOTAL",
		  "ALLOWED", "MONTHLY", "MOVE", "BYTES");
	cJSON_ArrayForEach(ti, tiers) {
		char name[CFG_NAME_MAX + 4], fr[16], la[16], co[16], tr[16];
		char to[16], al[96], mo[24], mv[24], by[16];
		const char *tn = get_str(ti, "name"), *why = get_str(ti, "why");
		const cJSON *cur = cJSON_GetObjectItemCaseSensitive(ti, "current");
		const cJSON *ok = cJSON_GetObjectItemCaseSensitive(ti, "allowed");
		double v[7] = {
			get_num(ti, "frequency"), get_num(ti, "latency_fit"),
			get_num(ti, "cost_saving"), get_num(ti, "trend"),
			get_num(ti, "total"), get_num(ti, "monthly_cost"),
			get_num(ti, "move_cost"),
		};
		uint64_t bytes;
		int i;

		for (i = 0; i < 7 && !isnan(v[i]); i++)
			;
		if (!tn || !why || !cJSON_IsBool(cur) || !cJSON_IsBool(ok) ||
		    i < 7 || get_u64(ti, "bytes", &bytes)) {
			table_free(&t);
			return bad_reply(what);
		}
		/* The tier the file counts as being on is marked. */
		snprintf(name, sizeof(name), "%s%s", tn,
			 cJSON_IsTrue(cur) ? " *" : "");
		snprintf(fr, sizeof(fr), "%.3f", v[0]);
		snprintf(la, sizeof(la), "%.3f", v[1]);
		snprintf(co, sizeof(co), "%.3f", v[2]);
		snprintf(tr, sizeof(tr), "%.3f", v[3]);
		snprintf(to, sizeof(to), "%.3f", v[4]);
		if (cJSON_IsTrue(ok))
			snprintf(al, sizeof(al), "yes");
		else
			snprintf(al, sizeof(al), "no: %s", why);
		snprintf(mo, sizeof(mo), "%.6f", v[5]);
		snprintf(mv, sizeof(mv), "%.6f", v[6]);
		fmt_size(bytes, by, sizeof(by));
		table_add(&t, name, fr, la, co, tr, to, al, mo, mv, by);
	}
	return table_print(&t);
}

/* Asks the daemon `cmd` about regular file `file` on a mount (its "ino"):
 * the request and reply for the caller to free (NULL when not made). */
static int file_cmd(struct tool_opts *o, const char *cmd, const char *file,
		    cJSON **req, cJSON **reply)
{
	struct stat st;
	uint64_t ino;

	*req = NULL;
	*reply = NULL;
	if (!(ino = dfabric_ino(file, &st)))
		return EXIT_FAILED;
	if (!S_ISREG(st.st_mode)) {
		errmsg("%s: not a regular file", file);
		return EXIT_FAILED;
	}
	*req = make_req(cmd);
	if (*req && !add_file(*req, &st)) {
		cJSON_Delete(*req);
		*req = NULL;
	}
	return run(o, *req, file, reply);
}

static int cmd_explain(struct tool_opts *o, char **argv)
{
	const char *file = argv[0], *dec, *target, *reason, *lat, *cls;
	cJSON *req = NULL, *reply = NULL;
	const cJSON *tiers, *stats, *pol, *pin;
	uint64_t reads, writes, opens, bytes;
	double conf, benefit, freq, last;
	char when[32];
	int rc;

	if ((rc = file_cmd(o, "explain", file, &req, &reply)) != EXIT_OK ||
	    o->json)
		goto out;
	if (rc != EXIT_OK || o->json)
		goto out;
	tiers = cJSON_GetObjectItemCaseSensitive(reply, "tiers");
	stats = cJSON_GetObjectItemCaseSensitive(reply, "stats");
	pol = cJSON_GetObjectItemCaseSensitive(reply, "policy");
	pin = cJSON_GetObjectItemCaseSensitive(pol, "pin");
	dec = get_str(reply, "decision");
	target = get_str(reply, "target");
	reason = get_str(reply, "reason");
	lat = get_str(pol, "latency");
	cls = get_str(pol, "class");
	conf = get_num(reply, "confidence");
	benefit = get_num(reply, "benefit");
	freq = get_num(stats, "frequency");
	last = get_num(stats, "last_access");
	if (!cJSON_IsArray(tiers) || !dec || !reason || !lat || !cls ||
	    isnan(conf) || isnan(benefit) || isnan(freq) || isnan(last) ||
	    get_u64(stats, "reads", &reads) ||
	    get_u64(stats, "writes", &writes) ||
	    get_u64(stats, "opens", &opens)) {
		rc = bad_reply(file);
		goto out;
	}
	if ((rc = print_explain_tiers(tiers, file)) != EXIT_OK)
		goto out;
	printf("\nconfidence %.3f\n", conf);
	if (target)
		printf("decision:  %s to %s (benefit %.3f)\n", dec, target,
		       benefit);
	else
		printf("decision:  %s\n", dec);
	printf("reason:    %s\n", reason);
	if (!get_u64(reply, "bytes", &bytes) && bytes == 0)
		printf("(%s has no data: placement passes skip it)\n", file);
	fmt_time(last, when, sizeof(when));
	printf("\nfrequency %.3f (decayed, now)  reads %" PRIu64 "  writes %"
	       PRIu64 "  opens %" PRIu64 "  last access %s\n", freq, reads,
	       writes, opens, when);
	printf("policies:  pin %s  latency %s  class %s\n",
	       cJSON_IsString(pin) ? pin->valuestring : "none", lat, cls);
out:
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return rc;
}

static int cmd_place(struct tool_opts *o, char **argv)
{
	const cJSON *last, *au, *cache;
	uint64_t v[9], passes, promotions, ra[3] = { 0 };
	static const char *const names[9] = {
		"files", "moves", "forced", "watermark", "busy", "failed",
		"ahead", "early", "anomalies",
	};
	cJSON *req, *reply = NULL;
	double interval, when, precision;
	int status = 0, rc, i;
	char ts[32];

	for (i = 0; argv[i]; i++) {
		if (!strcmp(argv[i], "--status")) {
			status = 1;
		} else {
			errmsg("usage: dfabric-ctl place [--status] [--json]");
			return EXIT_USAGE;
		}
	}
	req = make_req(status ? "place-status" : "place");
	rc = run(o, req, "place", &reply);
	if (rc != EXIT_OK || o->json)
		goto out;
	last = cJSON_GetObjectItemCaseSensitive(reply, "last");
	au = cJSON_GetObjectItemCaseSensitive(reply, "auto");
	cache = cJSON_GetObjectItemCaseSensitive(reply, "cache");
	precision = get_num(reply, "precision");
	interval = get_num(reply, "interval");
	when = get_num(last, "when");
	for (i = 0; i < 9 && !get_u64(last, names[i], &v[i]); i++)
		;
	if (i < 9 || !cJSON_IsBool(au) || !cJSON_IsBool(cache) ||
	    (cJSON_IsTrue(cache) &&
	     isnan(precision)) ||
	    isnan(interval) ||
	    isnan(when) ||
	    (cJSON_IsTrue(cache) &&
	     (get_u64(reply, "read_ahead", &ra[0]) ||
	      get_u64(reply, "read_ahead_judged", &ra[1]) ||
	      get_u64(reply, "read_ahead_read", &ra[2]))) ||
	    get_u64(reply, "passes", &passes) ||
	    get_u64(reply, "promotions", &promotions)) {
		rc = bad_reply("place");
		goto out;
	}
	if (status && when <= 0) {
		printf("no placement pass yet\n");
	} else {
		fmt_time(when, ts, sizeof(ts));
		printf("%s pass (%s): %" PRIu64 " files scored, %" PRIu64
		       " moves queued (%" PRIu64 " forced by policy, %" PRIu64
		       " to make room, %" PRIu64 " ahead of a forecast rise, %"
		       PRIu64 " early on a forecast fall), %" PRIu64 " busy, %"
		       PRIu64 " failed, %" PRIu64 " anomalies held back\n",
		       status ? "last" : "placement", ts, v[0], v[1], v[2], v[3],
		       v[6], v[7], v[4], v[5], v[8]);
	}
	if (cJSON_IsTrue(au))
		printf("auto: on, a pass every %gs", interval);
	else
		printf("auto: off");
	printf("; %" PRIu64 " passes, %" PRIu64 " promotions on read so far\n",
	       passes, promotions);
	if (cJSON_IsTrue(cache))
		printf("cache mode: %.0f%% of prefetched items read; "
		       "%" PRIu64 " read ahead of sequential readers, %" PRIu64
		       " of %" PRIu64 " judged read\n",
		       100 * precision, ra[0], ra[2], ra[1]);
out:
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return rc;
}

/* "name": {"300": x, "3600": y} as "x (300s)  y (3600s)". */
static void print_horizons(const char *label, const cJSON *h)
{
	const cJSON *v;

	printf("%-12s", label);
	cJSON_ArrayForEach(v, h)
		if (cJSON_IsNumber(v))
			printf(" %10.3f (%ss)", v->valuedouble, v->string);
	printf("\n");
}

static int predict_file(struct tool_opts *o, const char *file)
{
	cJSON *req = NULL, *reply = NULL;
	const cJSON *exp, *prob, *models, *m, *next;
	double conf, trend, change, period, now;
	char when[32];
	int rc;

	if ((rc = file_cmd(o, "predict", file, &req, &reply)) != EXIT_OK ||
	    o->json)
		goto out;
	if (rc != EXIT_OK || o->json)
		goto out;
	exp = cJSON_GetObjectItemCaseSensitive(reply, "expected");
	prob = cJSON_GetObjectItemCaseSensitive(reply, "probability");
	models = cJSON_GetObjectItemCaseSensitive(reply, "models");
	next = cJSON_GetObjectItemCaseSensitive(reply, "next_access");
	conf = get_num(reply, "confidence");
	trend = get_num(reply, "trend");
	change = get_num(reply, "change");
	period = get_num(reply, "period");
	now = get_num(reply, "now");
	if (!cJSON_IsObject(exp) || !cJSON_IsObject(prob) ||
	    !cJSON_IsArray(models) || isnan(conf) || isnan(trend) ||
	    isnan(change) || isnan(period) || isnan(now)) {
		rc = bad_reply(file);
		goto out;
	}
	print_horizons("expected", exp);
	print_horizons("probability", prob);
	if (cJSON_IsNumber(next)) {
		fmt_time(next->valuedouble, when, sizeof(when));
		printf("next access  %s (in %.0f s)\n", when,
		       next->valuedouble - now);
	} else {
		printf("next access  unknown\n");
	}
	printf("confidence   %.3f\ntrend        %+.3f (change %+.1f%%)\n",
	       conf, trend, 100.0 * change);
	if (period > 0)
		printf("period       %.0f s\n", period);
	else
		printf("period       none found\n");
	printf("\nmodels (expected accesses per horizon, valid ones):\n");
	cJSON_ArrayForEach(m, models) {
		const char *name = get_str(m, "name");
		const cJSON *valid = cJSON_GetObjectItemCaseSensitive(m, "valid");

		if (!name || !cJSON_IsBool(valid)) {
			rc = bad_reply(file);
			goto out;
		}
		if (cJSON_IsTrue(valid))
			print_horizons(name, cJSON_GetObjectItemCaseSensitive(m, "expected"));
		else
			printf("%-12s not enough history\n", name);
	}
out:
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return rc;
}

static int predict_accuracy(struct tool_opts *o)
{
	struct table t = { .ncol = 8, .right = 0xfe };
	cJSON *req, *reply = NULL;
	const cJSON *models, *m, *pro, *cnt, *tr;
	uint64_t promoted, hit, scored;
	double prec, rec;
	int rc;

	req = make_req("predict-accuracy");
	rc = run(o, req, "predict", &reply);
	if (rc != EXIT_OK || o->json)
		goto out;
	models = cJSON_GetObjectItemCaseSensitive(reply, "models");
	pro = cJSON_GetObjectItemCaseSensitive(reply, "proactive");
	cnt = cJSON_GetObjectItemCaseSensitive(reply, "counters");
	tr = cJSON_GetObjectItemCaseSensitive(pro, "trusted");
	prec = get_num(pro, "precision");
	rec = get_num(pro, "recall");
	if (!cJSON_IsArray(models) || !cJSON_IsBool(tr) || isnan(prec) ||
	    isnan(rec) || get_u64(pro, "promoted", &promoted) ||
	    get_u64(pro, "promoted_hit", &hit) ||
	    get_u64(cnt, "scored", &scored)) {
		rc = bad_reply("predict");
		goto out;
	}
	table_add(&t, "MODEL", "HORIZON", "SCORED", "MAE", "RMSE", "R2",
		  "BRIER", "WEIGHT");
	cJSON_ArrayForEach(m, models) {
		const char *name = get_str(m, "name");
		char v[7][24];
		uint64_t n;

		if (!name || get_u64(m, "scored", &n)) {
			table_free(&t);
			rc = bad_reply("predict");
			goto out;
		}
		snprintf(v[0], sizeof(v[0]), "%.0fs", get_num(m, "horizon"));
		snprintf(v[1], sizeof(v[1]), "%" PRIu64, n);
		snprintf(v[2], sizeof(v[2]), "%.3f", get_num(m, "mae"));
		snprintf(v[3], sizeof(v[3]), "%.3f", get_num(m, "rmse"));
		snprintf(v[4], sizeof(v[4]), "%.3f", get_num(m, "r2"));
		snprintf(v[5], sizeof(v[5]), "%.4f", get_num(m, "brier"));
		snprintf(v[6], sizeof(v[6]), "%.3f", get_num(m, "weight"));
		table_add(&t, name, v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
	}
	if ((rc = table_print(&t)) != EXIT_OK)
		goto out;
	printf("\nproactive promotions: %" PRIu64 " scored, %" PRIu64
	       " followed by an access (precision %.3f, recall %.3f); %s\n",
	       promoted, hit, prec, rec,
	       cJSON_IsTrue(tr) ? "trusted: proactive moves on" :
	       "not trusted: proactive moves stopped");
	printf("forecasts scored: %" PRIu64 "\n", scored);
out:
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return rc;
}

static int cmd_predict(struct tool_opts *o, char **argv)
{
	if (argv[0] && !strcmp(argv[0], "--accuracy") && !argv[1])
		return predict_accuracy(o);
	if (argv[0] && argv[0][0] != '-' && !argv[1])
		return predict_file(o, argv[0]);
	if (argv[0] && !strcmp(argv[0], "--") && argv[1] && !argv[2])
		return predict_file(o, argv[1]);
	errmsg("usage: dfabric-ctl predict FILE | --accuracy [--json]");
	return EXIT_USAGE;
}

static int cmd_cost(struct tool_opts *o, char **argv)
{
	struct table t = { .ncol = 3, .right = 0x6 };
	cJSON *req = make_req("cost"), *reply = NULL;
	const cJSON *tiers, *ti;
	double total, fast, saving, ratio;
	const char *fastest;
	uint64_t files;
	int rc;

	rc = run(o, req, "cost", &reply);
	if (rc != EXIT_OK || o->json)
		goto out;
	tiers = cJSON_GetObjectItemCaseSensitive(reply, "tiers");
	fastest = get_str(reply, "fastest");
	total = get_num(reply, "total");
	fast = get_num(reply, "all_fastest");
	saving = get_num(reply, "saving");
	ratio = get_num(reply, "saving_ratio");
	if (!cJSON_IsArray(tiers) || !fastest || isnan(total) || isnan(fast) ||
	    isnan(saving) || isnan(ratio) || get_u64(reply, "files", &files)) {
		rc = bad_reply("cost");
		goto out;
	}
	table_add(&t, "TIER", "BYTES", "COST/MONTH");
	cJSON_ArrayForEach(ti, tiers) {
		const char *tn = get_str(ti, "name");
		double c = get_num(ti, "cost");
		char by[16], cs[32];
		uint64_t b;

		if (!tn || isnan(c) || get_u64(ti, "bytes", &b)) {
			table_free(&t);
			rc = bad_reply("cost");
			goto out;
		}
		fmt_size(b, by, sizeof(by));
		snprintf(cs, sizeof(cs), "%.6f", c);
		table_add(&t, tn, by, cs);
	}
	{
		char cs[32];

		snprintf(cs, sizeof(cs), "%.6f", total);
		table_add(&t, "total", "", cs);
	}
	if ((rc = table_print(&t)) != EXIT_OK)
		goto out;
	printf("\nall on %s: %.6f per month; saving %.6f (%.1f%%)\n", fastest,
	       fast, saving, 100.0 * ratio);
	printf("A projection over %" PRIu64 " files from the configured prices "
	       "and the access rates observed.\n", files);
out:
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return rc;
}

static const struct tool_cmd tool_cmds[] = {
	{ "status", "", 0, cmd_status,
	  "tiers with capacity and use; inodes and open files" },
	{ "where", "FILE", 1, cmd_where,
	  "the extents of FILE and the tier each one is on" },
	{ "migrate", "[-r] [--wait] [--range OFF:LEN] PATH... --to TIER", -1,
	  cmd_migrate, "move files (or a range) to TIER in the background" },
	{ "jobs", "[--prune]", -1, cmd_jobs,
	  "migration jobs and their state; --prune forgets finished ones" },
	{ "bandwidth", "[RATE] [--busy RATE]", -1, cmd_bandwidth,
	  "show or set the migration bandwidth per tier pair, and the one "
	  "while reads or writes come in" },
	{ "tier", "check NAME", -1, cmd_tier,
	  "probe tier NAME: write, read back and delete a probe object" },
	{ "top", "[-n N] [DIR]", -1, cmd_top,
	  "the N hottest files; DIR (on the mount) to show their paths" },
	{ "explain", "FILE", 1, cmd_explain,
	  "how the placer scores FILE on each tier and what it decides" },
	{ "place", "[--status]", -1, cmd_place,
	  "run one placement pass now (--status: the last one)" },
	{ "cost", "", 0, cmd_cost,
	  "projected monthly cost per tier against all on the fastest" },
	{ "predict", "FILE | --accuracy", -1, cmd_predict,
	  "the forecast of FILE's access; --accuracy: how right they were" },
	{ "ping", "", 0, cmd_ping, "check that the daemon answers" },
};

#define TOOL_NCMDS (sizeof(tool_cmds) / sizeof(tool_cmds[0]))

static void usage(FILE *out)
{
	char head[64];
	size_t i;

	fprintf(out,
		"Usage: dfabric-ctl [-c CONFIG] [-s SOCKET] [--json] COMMAND [ARGS]\n"
		"Asks the running dfabric daemon through its control socket.\n"
		"\n"
		"Options:\n"
		"  -c, --config=FILE   config that names the socket (default:\n"
		"                      $DFABRIC_CONF, else " DEFAULT_CONF ")\n"
		"  -s, --socket=PATH   control socket to use (overrides the config)\n"
		"  -j, --json          print the daemon's JSON reply unchanged\n"
		"  -h, --help          show this help and exit\n"
		"  -V, --version       show the version and exit\n"
		"\n"
		"Commands:\n");
	for (i = 0; i < TOOL_NCMDS; i++) {
		snprintf(head, sizeof(head), "%s %s", tool_cmds[i].name,
			 tool_cmds[i].args);
		fprintf(out, "  %-18s %s\n", head, tool_cmds[i].help);
	}
	fprintf(out,
		"\n"
		"Exit status: 0 done, 1 the command failed, 2 usage or config\n"
		"error, 3 the daemon cannot be reached. See dfabric-ctl(8).\n");
}

/* Fills o->sock_path from -s or the config. Returns an exit code. */
static int find_socket(struct tool_opts *o)
{
	char err[CFG_ERR_MAX];
	const char *conf;
	struct cfg *c;
	int rc;

	if (o->socket) {
		if (snprintf(o->sock_path, sizeof(o->sock_path), "%s",
			     o->socket) >= (int)sizeof(o->sock_path)) {
			errmsg("%s: socket path too long", o->socket);
			return EXIT_USAGE;
		}
		return EXIT_OK;
	}
	conf = o->config;
	if (!conf)
		conf = getenv("DFABRIC_CONF");
	if (!conf || !*conf)
		conf = DEFAULT_CONF;
	c = calloc(1, sizeof(*c));
	if (!c) {
		errmsg("out of memory");
		return EXIT_FAILED;
	}
	err[0] = '\0';
	rc = cfg_load(conf, c, err, sizeof(err));
	if (rc < 0) {
		if (err[0])
			errmsg("%s", err);
		else
			errmsg("%s: %s", conf, strerror(-rc));
		free(c);
		return EXIT_USAGE;
	}
	snprintf(o->sock_path, sizeof(o->sock_path), "%s", c->control);
	free(c);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct tool_opts o = { 0 };
	const struct tool_cmd *cmd = NULL;
	size_t i;
	int ch, rc;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+c:s:jhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o.config = optarg;
			break;
		case 's':
			o.socket = optarg;
			break;
		case 'j':
			o.json = 1;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("dfabric-ctl %s\n", DFABRIC_VERSION);
			return EXIT_OK;
		default:
			if (optopt && strchr("cs", optopt))
				errmsg("option '%s' needs an argument",
				       argv[optind - 1]);
			else if (optopt)
				errmsg("unknown option -%c", optopt);
			else
				errmsg("unknown or incomplete option %s",
				       argv[optind - 1]);
			fprintf(stderr, "Try 'dfabric-ctl --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		errmsg("no command given");
		usage(stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < TOOL_NCMDS; i++)
		if (strcmp(argv[optind], tool_cmds[i].name) == 0)
			cmd = &tool_cmds[i];
	if (!cmd) {
		errmsg("unknown command '%s'; try 'dfabric-ctl --help'",
		       argv[optind]);
		return EXIT_USAGE;
	}
	/* --json may also follow the command. */
	{
		int w = optind + 1, r, dashdash = 0;

		/* --json anywhere before a "--", which ends the options */
		for (r = optind + 1; r < argc; r++) {
			if (!dashdash && !strcmp(argv[r], "--")) {
				dashdash = 1;
				/* commands with a fixed FILE see no "--" */
				if (cmd->nargs >= 0)
					continue;
				argv[w++] = argv[r];
			} else if (!dashdash && (!strcmp(argv[r], "--json") ||
						 !strcmp(argv[r], "-j"))) {
				o.json = 1;
			} else {
				argv[w++] = argv[r];
			}
		}
		argv[w] = NULL;
		argc = w;
	}
	if (cmd->nargs >= 0 && argc - optind - 1 != cmd->nargs) {
		errmsg("usage: dfabric-ctl [OPTIONS] %s %s", cmd->name,
		       cmd->args);
		return EXIT_USAGE;
	}
	rc = find_socket(&o);
	if (rc != EXIT_OK)
		return rc;
	rc = cmd->fn(&o, argv + optind + 1);
	if (fflush(stdout) != 0 && rc == EXIT_OK) {
		errmsg("writing the output: %s", strerror(errno));
		rc = EXIT_FAILED;
	}
	return rc;
}
