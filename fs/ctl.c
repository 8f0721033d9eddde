// SPDX-License-Identifier: GPL-2.0-or-later
/* The control socket server: one thread that accepts dfabric-ctl's
 * connections on a unix socket and answers one JSON request per connection.
 *
 * DESIGN: the thread poll()s the listening socket and the read end of a
 * pipe; ctl_stop() writes a byte into the pipe and joins the thread, then
 * waits for the clients. Each client has a thread of its own (at most
 * CTL_CLIENTS_MAX) and deadlines for its whole request and its whole reply,
 * so a stalled or trickling client delays neither the others nor ctl_stop
 * by more than those.
 * A request is one line of at most CTL_REQ_MAX bytes. ctl_handle() is pure
 * request-in, reply-out and is called by the tests without the thread.
 * Commands live in one table (cmd_table) of name, accepted arguments,
 * handler and one line of help; a new command is a new row. */
#include "fs/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/io.h"
#include "common/clock.h"
#include "common/utf8.h"
#include "common/log.h"
#include "fs/fs.h"
#include "tiering/migrate.h"
#include "tiering/placer.h"
#include "tiering/predictor.h"
#include "tiering/profile.h"

#define CTL_REQ_MAX      (64 * 1024)   /* longest request line, bytes */
#define CTL_IO_TIMEOUT_S 2             /* a client's request and reply, at most */
#define CTL_CLIENTS_MAX  8             /* clients served at once */
#define CTL_BACKLOG      16            /* listen() backlog */
#define CTL_INO_MAX      9007199254740992.0  /* 2^53: exact in a double */
#define CTL_TOP_DEFAULT  10            /* files "top" lists without "n" */
#define CTL_TOP_MAX      1000          /* most files "top" lists */

struct ctl_server {
	int lfd;                       /* listening socket, nonblocking */
	int wake[2];                   /* pipe; ctl_stop writes to wake[1] */
	pthread_t thread;              /* the serving thread */
	int running;                   /* thread was started */
	struct fabric *f;              /* what the commands act on */
	uint64_t mnt_dev;              /* its mount's device, 0 unknown */
	pthread_mutex_t lock;          /* nclients */
	pthread_cond_t cond;           /* a client thread ended */
	int nclients;                  /* client threads running */
	dev_t sock_dev;                /* identity of the socket we bound, */
	ino_t sock_ino;                /* so that stop unlinks only ours */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* socket path */
};

/* A command handler fills `reply` (which already holds "ok": true) and
 * returns 0, or returns -errno, optionally with a message in err. */
typedef int (*ctl_cmd_fn)(struct fabric *f, const cJSON *req, cJSON *reply,
			  char *err, size_t errlen);

struct ctl_cmd {
	const char *name;              /* value of "cmd" */
	const char *const *args;       /* accepted argument keys, NULL-ended */
	ctl_cmd_fn fn;                 /* the handler */
	const char *help;              /* one line for the "help" command */
};

static int cmd_ping(struct fabric *f, const cJSON *req, cJSON *reply,
		    char *err, size_t errlen);
static int cmd_status(struct fabric *f, const cJSON *req, cJSON *reply,
		      char *err, size_t errlen);
static int cmd_where(struct fabric *f, const cJSON *req, cJSON *reply,
		     char *err, size_t errlen);
static int cmd_help(struct fabric *f, const cJSON *req, cJSON *reply,
		    char *err, size_t errlen);
static int cmd_migrate(struct fabric *f, const cJSON *req, cJSON *reply,
		       char *err, size_t errlen);
static int cmd_jobs(struct fabric *f, const cJSON *req, cJSON *reply,
		    char *err, size_t errlen);
static int cmd_job(struct fabric *f, const cJSON *req, cJSON *reply,
		   char *err, size_t errlen);
static int cmd_prune(struct fabric *f, const cJSON *req, cJSON *reply,
		     char *err, size_t errlen);
static int cmd_bandwidth(struct fabric *f, const cJSON *req, cJSON *reply,
			 char *err, size_t errlen);
static int cmd_tier_check(struct fabric *f, const cJSON *req, cJSON *reply,
			  char *err, size_t errlen);
static int cmd_top(struct fabric *f, const cJSON *req, cJSON *reply,
		   char *err, size_t errlen);
static int cmd_explain(struct fabric *f, const cJSON *req, cJSON *reply,
		       char *err, size_t errlen);
static int cmd_place(struct fabric *f, const cJSON *req, cJSON *reply,
		     char *err, size_t errlen);
static int cmd_place_status(struct fabric *f, const cJSON *req, cJSON *reply,
			    char *err, size_t errlen);
static int cmd_cost(struct fabric *f, const cJSON *req, cJSON *reply,
		    char *err, size_t errlen);
static int cmd_predict(struct fabric *f, const cJSON *req, cJSON *reply,
		       char *err, size_t errlen);
static int cmd_predict_accuracy(struct fabric *f, const cJSON *req,
				cJSON *reply, char *err, size_t errlen);

static const char *const args_none[] = { NULL };
static const char *const args_where[] = { "ino", NULL };
static const char *const args_migrate[] = { "ino", "tier", "offset", "length",
					    NULL };
static const char *const args_job[] = { "id", NULL };
static const char *const args_bandwidth[] = { "value", "busy", NULL };
static const char *const args_tier[] = { "tier", NULL };
static const char *const args_top[] = { "n", NULL };

static const struct ctl_cmd cmd_table[] = {
	{ "ping", args_none, cmd_ping, "check that the daemon answers" },
	{ "status", args_none, cmd_status,
	  "tiers with capacity and use, inode and open file counts" },
	{ "where", args_where, cmd_where,
	  "extents of inode \"ino\": offset, length, tier, version, sealed" },
	{ "migrate", args_migrate, cmd_migrate,
	  "queue a job moving the extents of \"ino\" (optionally \"offset\" and "
	  "\"length\") to \"tier\"; replies its \"id\"" },
	{ "jobs", args_none, cmd_jobs, "every migration job and its state" },
	{ "job", args_job, cmd_job, "one migration job by \"id\"" },
	{ "prune", args_none, cmd_prune, "forget finished and failed jobs" },
	{ "bandwidth", args_bandwidth, cmd_bandwidth,
	  "the migration bandwidth per tier pair in bytes/s, and \"busy\", "
	  "the limit while reads and writes come in, and \"busy_now\", whether "
	  "they do now; sets them to \"value\" and \"busy\" when given "
	  "(0: no limit)" },
	{ "tier-check", args_tier, cmd_tier_check,
	  "probe the backend of \"tier\": write, read back, delete" },
	{ "top", args_top, cmd_top,
	  "the \"n\" (default 10) files with the highest decayed access "
	  "frequency: statistics and bytes per tier" },
	{ "explain", args_where, cmd_explain,
	  "how the placer scores file \"ino\" on every tier, its decision "
	  "and why, its statistics and policies" },
	{ "place", args_none, cmd_place,
	  "run one placement pass now; what it did and the placer's counters" },
	{ "place-status", args_none, cmd_place_status,
	  "what the last placement pass did and the placer's counters" },
	{ "cost", args_none, cmd_cost,
	  "projected monthly cost per tier, in total and with everything on "
	  "the fastest tier" },
	{ "predict", args_where, cmd_predict,
	  "the forecast of file \"ino\": expected accesses and probability "
	  "per horizon, next access, confidence, trend, and each model's" },
	{ "predict-accuracy", args_none, cmd_predict_accuracy,
	  "how right the forecasts have been: errors, R^2, Brier score per "
	  "model and horizon, precision and recall of proactive moves, "
	  "ensemble weights, the trees' training" },
	{ "help", args_none, cmd_help, "list the commands" },
};

#define CMD_COUNT (sizeof(cmd_table) / sizeof(cmd_table[0]))

/* Adds an unsigned 64-bit integer exactly: as a raw decimal token, since a
 * cJSON number is a double and would round values above 2^53. */
static int add_u64(cJSON *obj, const char *name, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return cJSON_AddRawToObject(obj, name, buf) ? 0 : -ENOMEM;
}

static int cmd_ping(struct fabric *f, const cJSON *req, cJSON *reply,
		    char *err, size_t errlen)
{
	return 0;
}

static int cmd_help(struct fabric *f, const cJSON *req, cJSON *reply,
		    char *err, size_t errlen)
{
	cJSON *arr, *item;
	size_t i;

	arr = cJSON_AddArrayToObject(reply, "commands");
	if (!arr)
		return -ENOMEM;
	for (i = 0; i < CMD_COUNT; i++) {
		item = cJSON_CreateObject();
		if (!item)
			return -ENOMEM;
		cJSON_AddItemToArray(arr, item);
		if (!cJSON_AddStringToObject(item, "name", cmd_table[i].name) ||
		    !cJSON_AddStringToObject(item, "help", cmd_table[i].help))
			return -ENOMEM;
	}
	return 0;
}

static int add_tier(cJSON *arr, const struct fs_tier_status *t)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return -ENOMEM;
	cJSON_AddItemToArray(arr, o);
	if (!cJSON_AddStringToObject(o, "name", t->name) ||
	    !cJSON_AddStringToObject(o, "kind", t->kind ? t->kind : "unknown") ||
	    !cJSON_AddStringToObject(o, "path", t->path) ||
	    !cJSON_AddStringToObject(o, "health", t->healthy ? "up" : "down") ||
	    add_u64(o, "capacity", t->capacity) ||
	    add_u64(o, "used", t->used) ||
	    add_u64(o, "files", t->files) ||
	    add_u64(o, "extents", t->extents) ||
	    !cJSON_AddNumberToObject(o, "high_watermark", t->high_watermark) ||
	    !cJSON_AddNumberToObject(o, "low_watermark", t->low_watermark) ||
	    add_u64(o, "fs_avail", t->fs_avail) ||
	    !cJSON_AddNumberToObject(o, "latency_s", t->latency_s) ||
	    add_u64(o, "latency_samples", t->latency_samples))
		return -ENOMEM;
	if (t->has_io &&
	    (add_u64(o, "requests", t->requests) ||
	     add_u64(o, "retries", t->retries) ||
	     add_u64(o, "gets", t->gets) ||
	     add_u64(o, "rx_bytes", t->rx_bytes) ||
	     add_u64(o, "tx_bytes", t->tx_bytes) ||
	     add_u64(o, "cache_hits", t->cache_hits) ||
	     add_u64(o, "readahead_blocks", t->readahead) ||
	     add_u64(o, "prefetches", t->prefetches)))
		return -ENOMEM;
	return 0;
}

/* The access profiler's counters, as "profiler": { ... }. */
static int add_profiler(struct fabric *f, cJSON *reply)
{
	struct profile *p = fs_profile(f);
	struct profile_counters c;
	cJSON *o;

	if (!p)
		return 0;
	profile_counters(p, &c);
	o = cJSON_AddObjectToObject(reply, "profiler");
	if (!o || add_u64(o, "events", c.events) ||
	    add_u64(o, "sampled", c.sampled) ||
	    add_u64(o, "dropped", c.dropped) ||
	    add_u64(o, "folded", c.folded) ||
	    add_u64(o, "queued", c.queued) ||
	    add_u64(o, "capacity", c.capacity) ||
	    add_u64(o, "files", c.files) ||
	    add_u64(o, "extents", c.extents) ||
	    add_u64(o, "flushes", c.flushes) ||
	    add_u64(o, "corrupt", c.corrupt) ||
	    add_u64(o, "promotions", c.promotions) ||
	    !cJSON_AddNumberToObject(o, "half_life_s", profile_half_life(p)))
		return -ENOMEM;
	return 0;
}

static int cmd_status(struct fabric *f, const cJSON *req, cJSON *reply,
		      char *err, size_t errlen)
{
	struct fs_status *st;
	cJSON *arr;
	int i, rc;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	rc = fs_status(f, st);
	if (rc < 0)
		goto out;
	rc = -ENOMEM;
	if (add_u64(reply, "extent_size", st->extent_size) ||
	    add_u64(reply, "inodes", st->inodes) ||
	    add_u64(reply, "open_files", st->open_files))
		goto out;
	arr = cJSON_AddArrayToObject(reply, "tiers");
	if (!arr)
		goto out;
	for (i = 0; i < st->ntiers && i < CFG_MAX_TIERS; i++)
		if (add_tier(arr, &st->tiers[i]))
			goto out;
	if (add_profiler(f, reply))
		goto out;
	rc = 0;
out:
	free(st);
	return rc;
}

/* Reads argument `name` as an inode number: a JSON integer 1..2^53. */
static int get_ino(const cJSON *req, const char *name, uint64_t *out,
		   char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
	double d;

	if (!v) {
		snprintf(err, errlen, "missing argument \"%s\"", name);
		return -EINVAL;
	}
	if (!cJSON_IsNumber(v)) {
		snprintf(err, errlen, "argument \"%s\" must be a number", name);
		return -EINVAL;
	}
	d = v->valuedouble;
	if (!isfinite(d) || d != floor(d) || d < 1 || d > CTL_INO_MAX) {
		snprintf(err, errlen,
			 "argument \"%s\" must be an integer from 1 to 2^53",
			 name);
		return -EINVAL;
	}
	*out = (uint64_t)d;
	return 0;
}

static int cmd_where(struct fabric *f, const cJSON *req, cJSON *reply,
		     char *err, size_t errlen)
{
	struct fs_where_ext *ext = NULL;
	uint64_t ino, size = 0;
	size_t i, n = 0;
	cJSON *arr, *o;
	int rc;

	rc = get_ino(req, "ino", &ino, err, errlen);
	if (rc < 0)
		return rc;
	rc = fs_where(f, ino, &ext, &n, &size);
	if (rc < 0)
		return rc;
	rc = -ENOMEM;
	if (add_u64(reply, "ino", ino) || add_u64(reply, "size", size))
		goto out;
	arr = cJSON_AddArrayToObject(reply, "extents");
	if (!arr)
		goto out;
	for (i = 0; i < n; i++) {
		o = cJSON_CreateObject();
		if (!o)
			goto out;
		cJSON_AddItemToArray(arr, o);
		if (add_u64(o, "offset", ext[i].off) ||
		    add_u64(o, "length", ext[i].len) ||
		    !cJSON_AddStringToObject(o, "tier", ext[i].tier) ||
		    add_u64(o, "version", ext[i].version) ||
		    !cJSON_AddBoolToObject(o, "sealed", ext[i].sealed != 0))
			goto out;
	}
	rc = 0;
out:
	free(ext);
	return rc;
}

/* Reads optional argument `name` as a non-negative integer below 2^53;
 * absent leaves *out alone. */
static int get_u64_arg(const cJSON *req, const char *name, uint64_t *out,
		       char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
	double d;

	if (!v)
		return 0;
	d = cJSON_IsNumber(v) ? v->valuedouble : -1;
	if (!isfinite(d) || d != floor(d) || d < 0 || d > CTL_INO_MAX) {
		snprintf(err, errlen, "argument \"%s\" must be an integer from "
			 "0 to 2^53", name);
		return -EINVAL;
	}
	*out = (uint64_t)d;
	return 0;
}

static const char *get_str_arg(const cJSON *req, const char *name,
			       char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);

	if (!cJSON_IsString(v) || !v->valuestring[0]) {
		snprintf(err, errlen, "argument \"%s\" must be a non-empty string",
			 name);
		return NULL;
	}
	return v->valuestring;
}

static int cmd_migrate(struct fabric *f, const cJSON *req, cJSON *reply,
		       char *err, size_t errlen)
{
	uint64_t ino, off = 0, len = UINT64_MAX;
	const char *tier;
	int64_t id;
	int rc;

	if ((rc = get_ino(req, "ino", &ino, err, errlen)) < 0 ||
	    (rc = get_u64_arg(req, "offset", &off, err, errlen)) < 0 ||
	    (rc = get_u64_arg(req, "length", &len, err, errlen)) < 0)
		return rc;
	if (!(tier = get_str_arg(req, "tier", err, errlen)))
		return -EINVAL;
	if (len == 0) {
		snprintf(err, errlen, "argument \"length\" must not be 0");
		return -EINVAL;
	}
	id = fs_migrate(f, ino, off, len, tier, 0);
	if (id == -ENXIO)
		snprintf(err, errlen, "no tier named \"%.40s\"", tier);
	else if (id == -EINVAL)
		snprintf(err, errlen, "inode %" PRIu64 " is not a regular file", ino);
	else if (id == -EPERM &&
		 fs_policy_check(f, ino, tier, err, errlen) != -EPERM)
		snprintf(err, errlen, "its policies forbid tier \"%.40s\"", tier);
	if (id < 0)
		return (int)id;
	return add_u64(reply, "id", (uint64_t)id);
}

static int add_job(struct fabric *f, cJSON *o, const struct meta_job *j)
{
	if (add_u64(o, "id", j->id) || add_u64(o, "ino", j->ino) ||
	    !cJSON_AddStringToObject(o, "state", mig_state_name(j->state)) ||
	    !cJSON_AddStringToObject(o, "tier", fs_tier_name(f, j->dst_tier)) ||
	    add_u64(o, "offset", j->off) ||
	    (j->len != UINT64_MAX && add_u64(o, "length", j->len)) ||
	    add_u64(o, "bytes_total", j->bytes_total) ||
	    add_u64(o, "bytes_done", j->bytes_done) ||
	    !cJSON_AddBoolToObject(o, "manual", (j->flags & MIG_JOB_MANUAL) != 0) ||
	    !cJSON_AddNumberToObject(o, "created", (double)(j->created / 1000000) / 1e3) ||
	    !cJSON_AddNumberToObject(o, "updated", (double)(j->updated / 1000000) / 1e3) ||
	    !cJSON_AddNumberToObject(o, "errno", j->err) ||
	    !cJSON_AddStringToObject(o, "reason", j->reason))
		return -ENOMEM;
	if (j->state >= META_JOB_COPYING && j->state <= META_JOB_COMMITTED &&
	    (add_u64(o, "extent", j->cur_off) ||
	     !cJSON_AddStringToObject(o, "from", fs_tier_name(f, j->src_tier))))
		return -ENOMEM;
	return 0;
}

struct jobs_ctx {
	struct fabric *f;              /* for tier names */
	cJSON *arr;                    /* the reply's array */
};

static int jobs_one(void *arg, const struct meta_job *j)
{
	struct jobs_ctx *c = arg;
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return -ENOMEM;
	cJSON_AddItemToArray(c->arr, o);
	return add_job(c->f, o, j);
}

static int cmd_jobs(struct fabric *f, const cJSON *req, cJSON *reply,
		    char *err, size_t errlen)
{
	struct jobs_ctx c = { .f = f };

	if (add_u64(reply, "bandwidth", fs_bandwidth(f)))
		return -ENOMEM;
	c.arr = cJSON_AddArrayToObject(reply, "jobs");
	if (!c.arr)
		return -ENOMEM;
	return fs_jobs(f, jobs_one, &c);
}

static int cmd_job(struct fabric *f, const cJSON *req, cJSON *reply,
		   char *err, size_t errlen)
{
	struct meta_job j;
	uint64_t id;
	cJSON *o;
	int rc;

	if ((rc = get_ino(req, "id", &id, err, errlen)) < 0)
		return rc;
	if ((rc = fs_job(f, id, &j)) < 0) {
		snprintf(err, errlen, "no job %" PRIu64, id);
		return rc;
	}
	o = cJSON_AddObjectToObject(reply, "job");
	return o ? add_job(f, o, &j) : -ENOMEM;
}

static int cmd_prune(struct fabric *f, const cJSON *req, cJSON *reply,
		     char *err, size_t errlen)
{
	int n = fs_jobs_prune(f);

	if (n < 0)
		return n;
	return add_u64(reply, "pruned", (uint64_t)n);
}

static int cmd_bandwidth(struct fabric *f, const cJSON *req, cJSON *reply,
			 char *err, size_t errlen)
{
	uint64_t v = UINT64_MAX, busy = UINT64_MAX;
	int rc;

	if ((rc = get_u64_arg(req, "value", &v, err, errlen)) < 0 ||
	    (rc = get_u64_arg(req, "busy", &busy, err, errlen)) < 0)
		return rc;
	if (v != UINT64_MAX) {
		fs_set_bandwidth(f, v);
		log_notice("migration bandwidth set to %" PRIu64 " bytes/s per "
			   "tier pair", v);
	}
	if (busy != UINT64_MAX) {
		fs_set_busy_bandwidth(f, busy);
		log_notice("migration bandwidth while busy set to %" PRIu64
			   " bytes/s per tier pair", busy);
	}
	if ((rc = add_u64(reply, "bandwidth", fs_bandwidth(f))) < 0 ||
	    (rc = add_u64(reply, "busy", fs_busy_bandwidth(f))) < 0)
		return rc;
	return cJSON_AddBoolToObject(reply, "busy_now", fs_busy_now(f)) ? 0 : -ENOMEM;
}

static int cmd_tier_check(struct fabric *f, const cJSON *req, cJSON *reply,
			  char *err, size_t errlen)
{
	char msg[256] = "";
	const char *tier;
	int rc;

	if (!(tier = get_str_arg(req, "tier", err, errlen)))
		return -EINVAL;
	rc = fs_tier_check(f, tier, msg, sizeof(msg));
	if (rc == -ENXIO) {
		snprintf(err, errlen, "no tier named \"%.40s\"", tier);
		return rc;
	}
	if (rc < 0) {
		snprintf(err, errlen, "tier %.40s: %s", tier, msg[0] ? msg :
			 strerror(-rc));
		return rc;
	}
	if (!cJSON_AddStringToObject(reply, "tier", tier) ||
	    !cJSON_AddStringToObject(reply, "result", msg))
		return -ENOMEM;
	return 0;
}

/* The reply {"ok":false,"errno":N,"error":"..."}; msg NULL or empty means
 * strerror(-rc). Returns a malloc'd string or NULL without memory. */
/* The hottest files: a sorted array of at most max, coldest last. */
struct top_acc {
	struct top_ent {
		uint64_t ino;
		double freq;           /* decayed to `now` */
		struct access_stats st;
	} *v;
	size_t n, max;
	int64_t now;                   /* unix ns */
	double half_life;
};

static int top_one(void *arg, uint64_t ino, const struct access_stats *st)
{
	struct top_acc *a = arg;
	double fr = stats_freq(st, a->now, a->half_life);
	size_t k;

	if (a->n == a->max && fr <= a->v[a->n - 1].freq)
		return 0;
	k = a->n < a->max ? a->n++ : a->n - 1;
	/* Ties keep the smaller inode first, so the order is stable. */
	for (; k > 0 && (a->v[k - 1].freq < fr ||
			 (a->v[k - 1].freq == fr && a->v[k - 1].ino > ino)); k--)
		a->v[k] = a->v[k - 1];
	a->v[k] = (struct top_ent){ ino, fr, *st };
	return 0;
}

/* Bytes of ino per tier, from its extent map, as "tiers": [...]. */
static int add_top_tiers(struct fabric *f, cJSON *o, uint64_t ino,
			 uint64_t *size)
{
	struct fs_where_ext *ext = NULL;
	char names[CFG_MAX_TIERS][CFG_NAME_MAX];
	uint64_t bytes[CFG_MAX_TIERS] = { 0 };
	size_t n = 0, i;
	int nt = 0, k, rc;
	cJSON *arr, *t;

	rc = fs_where(f, ino, &ext, &n, size);
	if (rc < 0)
		return rc;
	for (i = 0; i < n; i++) {
		for (k = 0; k < nt && strcmp(names[k], ext[i].tier); k++)
			;
		if (k == nt) {
			if (nt == CFG_MAX_TIERS)
				continue;
			snprintf(names[nt++], CFG_NAME_MAX, "%s", ext[i].tier);
		}
		bytes[k] += ext[i].len;
	}
	free(ext);
	arr = cJSON_AddArrayToObject(o, "tiers");
	if (!arr)
		return -ENOMEM;
	for (k = 0; k < nt; k++) {
		t = cJSON_CreateObject();
		if (!t)
			return -ENOMEM;
		cJSON_AddItemToArray(arr, t);
		if (!cJSON_AddStringToObject(t, "tier", names[k]) ||
		    add_u64(t, "bytes", bytes[k]))
			return -ENOMEM;
	}
	return 0;
}

static int cmd_top(struct fabric *f, const cJSON *req, cJSON *reply,
		   char *err, size_t errlen)
{
	struct profile *p = fs_profile(f);
	struct top_acc a = { 0 };
	uint64_t n = CTL_TOP_DEFAULT, size;
	cJSON *arr, *o;
	int rc;

	rc = get_u64_arg(req, "n", &n, err, errlen);
	if (rc < 0)
		return rc;
	if (n < 1 || n > CTL_TOP_MAX) {
		snprintf(err, errlen, "argument \"n\" must be from 1 to %d",
			 CTL_TOP_MAX);
		return -EINVAL;
	}
	if (!p) {
		snprintf(err, errlen, "the access profiler is not running");
		return -ENOTSUP;
	}
	a.now = real_ns();
	a.half_life = profile_half_life(p);
	/* A few more than asked: a file may be gone before fs_where. */
	a.max = n + 8;
	a.v = calloc(a.max, sizeof(*a.v));
	if (!a.v)
		return -ENOMEM;
	rc = profile_list(p, top_one, &a);
	if (rc < 0)
		goto out;
	rc = -ENOMEM;
	if (!cJSON_AddNumberToObject(reply, "half_life_s", a.half_life) ||
	    !cJSON_AddNumberToObject(reply, "now",
				     (double)(a.now / 1000000000)))
		goto out;
	arr = cJSON_AddArrayToObject(reply, "files");
	if (!arr)
		goto out;
	for (size_t i = 0, shown = 0; i < a.n && shown < n; i++) {
		const struct access_stats *st = &a.v[i].st;

		o = cJSON_CreateObject();
		if (!o)
			goto out;
		rc = add_top_tiers(f, o, a.v[i].ino, &size);
		if (rc == -ENOENT) {
			cJSON_Delete(o);
			continue;
		}
		cJSON_AddItemToArray(arr, o);
		if (rc < 0)
			goto out;
		rc = -ENOMEM;
		if (add_u64(o, "ino", a.v[i].ino) ||
		    !cJSON_AddNumberToObject(o, "frequency", a.v[i].freq) ||
		    !cJSON_AddNumberToObject(o, "last_access",
					     (double)(st->last / 1000000000)) ||
		    add_u64(o, "opens", st->opens) ||
		    add_u64(o, "reads", st->reads) ||
		    add_u64(o, "writes", st->writes) ||
		    add_u64(o, "bytes_read", st->bytes_read) ||
		    add_u64(o, "bytes_written", st->bytes_written) ||
		    add_u64(o, "size", size))
			goto out;
		shown++;
	}
	rc = add_profiler(f, reply);
out:
	free(a.v);
	return rc;
}

/* ---------------------------------------------------------------- */
/* automatic placement */

static const char *decision_name(enum score_decision d)
{
	switch (d) {
	case SCORE_MOVE:
		return "move";
	case SCORE_FORCED:
		return "forced";
	default:
		return "stay";
	}
}

/* Unix ns as seconds (whole milliseconds), 0 for "never". */
static double ns_to_s(int64_t ns)
{
	return (double)(ns / 1000000) / 1e3;
}

static int add_explain_tiers(struct fabric *f, cJSON *reply,
			     const struct placer_file *pf,
			     const struct score_result *r, int home)
{
	cJSON *arr, *o;
	int i;

	arr = cJSON_AddArrayToObject(reply, "tiers");
	if (!arr)
		return -ENOMEM;
	for (i = 0; i < r->ntiers && i < CFG_MAX_TIERS; i++) {
		const struct score_terms *t = &r->t[i];

		o = cJSON_CreateObject();
		if (!o)
			return -ENOMEM;
		cJSON_AddItemToArray(arr, o);
		if (!cJSON_AddStringToObject(o, "name",
					     fs_tier_index_name(f, i)) ||
		    add_u64(o, "bytes", pf->tier_bytes[i]) ||
		    !cJSON_AddBoolToObject(o, "current", i == home) ||
		    !cJSON_AddNumberToObject(o, "frequency", t->frequency) ||
		    !cJSON_AddNumberToObject(o, "latency_fit", t->latency_fit) ||
		    !cJSON_AddNumberToObject(o, "cost_saving", t->cost_saving) ||
		    !cJSON_AddNumberToObject(o, "trend", t->trend) ||
		    !cJSON_AddNumberToObject(o, "total", t->total) ||
		    !cJSON_AddBoolToObject(o, "allowed", t->allowed != 0) ||
		    !cJSON_AddStringToObject(o, "why", t->why) ||
		    !cJSON_AddNumberToObject(o, "monthly_cost", t->monthly_cost) ||
		    !cJSON_AddNumberToObject(o, "move_cost", t->move_cost))
			return -ENOMEM;
	}
	return 0;
}

static int add_explain_stats(struct fabric *f, cJSON *reply,
			     const struct placer_file *pf)
{
	struct profile *p = fs_profile(f);
	const struct access_stats *st = &pf->st;
	double fr = st->freq;
	cJSON *o;

	if (p)
		fr = stats_freq(st, real_ns(), profile_half_life(p));
	o = cJSON_AddObjectToObject(reply, "stats");
	if (!o || !cJSON_AddNumberToObject(o, "frequency", fr) ||
	    add_u64(o, "opens", st->opens) ||
	    add_u64(o, "reads", st->reads) ||
	    add_u64(o, "writes", st->writes) ||
	    add_u64(o, "bytes_read", st->bytes_read) ||
	    add_u64(o, "bytes_written", st->bytes_written) ||
	    !cJSON_AddNumberToObject(o, "first_access", ns_to_s(st->first)) ||
	    !cJSON_AddNumberToObject(o, "last_access", ns_to_s(st->last)))
		return -ENOMEM;
	o = cJSON_AddObjectToObject(reply, "policy");
	if (!o || (pf->pol.pin >= 0 ?
		   !cJSON_AddStringToObject(o, "pin",
					    fs_tier_index_name(f, pf->pol.pin)) :
		   !cJSON_AddNullToObject(o, "pin")) ||
	    !cJSON_AddStringToObject(o, "latency",
				     score_latency_name(pf->pol.latency)) ||
	    !cJSON_AddStringToObject(o, "class", score_class_name(pf->pol.cls)))
		return -ENOMEM;
	return 0;
}

static int cmd_explain(struct fabric *f, const cJSON *req, cJSON *reply,
		       char *err, size_t errlen)
{
	struct placer_file *pf;
	struct score_result *r;
	uint64_t ino;
	int rc, home;

	if ((rc = get_ino(req, "ino", &ino, err, errlen)) < 0)
		return rc;
	pf = calloc(1, sizeof(*pf));
	r = calloc(1, sizeof(*r));
	rc = -ENOMEM;
	if (!pf || !r)
		goto out;
	rc = fs_explain(f, ino, pf, r);
	if (rc == -EINVAL)
		snprintf(err, errlen, "inode %" PRIu64 " is not a regular file",
			 ino);
	if (rc < 0)
		goto out;
	home = placer_home(pf, r->ntiers);
	rc = -ENOMEM;
	if (add_u64(reply, "ino", ino) || add_u64(reply, "bytes", pf->bytes) ||
	    (home >= 0 ?
	     !cJSON_AddStringToObject(reply, "current",
				      fs_tier_index_name(f, home)) :
	     !cJSON_AddNullToObject(reply, "current")) ||
	    add_explain_tiers(f, reply, pf, r, home) ||
	    (r->best >= 0 ?
	     !cJSON_AddStringToObject(reply, "best",
				      fs_tier_index_name(f, r->best)) :
	     !cJSON_AddNullToObject(reply, "best")) ||
	    !cJSON_AddStringToObject(reply, "decision",
				     decision_name(r->decision)) ||
	    (r->target >= 0 ?
	     !cJSON_AddStringToObject(reply, "target",
				      fs_tier_index_name(f, r->target)) :
	     !cJSON_AddNullToObject(reply, "target")) ||
	    !cJSON_AddNumberToObject(reply, "confidence", r->confidence) ||
	    !cJSON_AddNumberToObject(reply, "benefit", r->benefit) ||
	    !cJSON_AddStringToObject(reply, "reason", r->reason) ||
	    add_explain_stats(f, reply, pf))
		goto out;
	rc = 0;
out:
	free(pf);
	free(r);
	return rc;
}

/* ---- predict ---- */

static const char *const model_names[PM_COUNT + 1] = {
	"baseline", "trend", "seasonal", "gap", "gbt", "ensemble",
};

static int no_predictor(char *err, size_t errlen)
{
	snprintf(err, errlen, "forecasts are off ([predict] enabled = no)");
	return -ENOTSUP;
}

static int add_horizons(cJSON *o, const char *name, const double *v,
			const struct predict_params *pp)
{
	cJSON *h = cJSON_AddObjectToObject(o, name);
	char key[32];

	if (!h)
		return -ENOMEM;
	for (int i = 0; i < PREDICT_HORIZONS; i++) {
		snprintf(key, sizeof(key), "%.0f", pp->horizon[i]);
		if (!cJSON_AddNumberToObject(h, key, v[i]))
			return -ENOMEM;
	}
	return 0;
}

static int cmd_predict(struct fabric *f, const cJSON *req, cJSON *reply,
		       char *err, size_t errlen)
{
	const struct predict_params *pp;
	struct placer_file *pf;
	struct forecast fc;
	cJSON *models, *o;
	uint64_t ino;
	int64_t now;
	int rc, m;

	if ((rc = get_ino(req, "ino", &ino, err, errlen)) < 0)
		return rc;
	if (fs_predict_state(f, NULL, NULL, NULL, &pp) < 0)
		return no_predictor(err, errlen);
	if (!(pf = calloc(1, sizeof(*pf))))
		return -ENOMEM;
	rc = fs_predict(f, ino, pf, &fc, &now);
	free(pf);
	if (rc == -EINVAL)
		snprintf(err, errlen, "inode %" PRIu64 " is not a regular file",
			 ino);
	if (rc < 0)
		return rc;
	if (add_u64(reply, "ino", ino) ||
	    !cJSON_AddNumberToObject(reply, "now", ns_to_s(now)) ||
	    add_horizons(reply, "expected", fc.expected, pp) ||
	    add_horizons(reply, "probability", fc.prob, pp) ||
	    (fc.next > 0 ?
	     !cJSON_AddNumberToObject(reply, "next_access", ns_to_s(fc.next)) :
	     !cJSON_AddNullToObject(reply, "next_access")) ||
	    !cJSON_AddNumberToObject(reply, "confidence", fc.confidence) ||
	    !cJSON_AddNumberToObject(reply, "trend", fc.trend) ||
	    !cJSON_AddNumberToObject(reply, "change", fc.change) ||
	    !cJSON_AddNumberToObject(reply, "period", fc.period) ||
	    !cJSON_AddNumberToObject(reply, "acf", fc.acf) ||
	    !cJSON_AddNumberToObject(reply, "slope", fc.slope) ||
	    !(models = cJSON_AddArrayToObject(reply, "models")))
		return -ENOMEM;
	for (m = 0; m < PM_COUNT; m++) {
		if (!(o = cJSON_CreateObject()))
			return -ENOMEM;
		cJSON_AddItemToArray(models, o);
		if (!cJSON_AddStringToObject(o, "name", model_names[m]) ||
		    !cJSON_AddBoolToObject(o, "valid", fc.m[m].valid != 0) ||
		    add_horizons(o, "expected", fc.m[m].expected, pp) ||
		    add_horizons(o, "probability", fc.m[m].prob, pp))
			return -ENOMEM;
	}
	return 0;
}

static int cmd_predict_accuracy(struct fabric *f, const cJSON *req,
				cJSON *reply, char *err, size_t errlen)
{
	const struct predict_params *pp;
	struct predict_accuracy *a;
	struct predict_ensemble e;
	struct predictor_counters c;
	cJSON *arr, *o;
	int rc = -ENOMEM, h, m;

	if (!(a = calloc(1, sizeof(*a))))
		return -ENOMEM;
	if (fs_predict_state(f, a, &e, &c, &pp) < 0) {
		free(a);
		return no_predictor(err, errlen);
	}
	if (!(arr = cJSON_AddArrayToObject(reply, "models")))
		goto out;
	for (m = 0; m <= PM_COUNT; m++) {
		for (h = 0; h < PREDICT_HORIZONS; h++) {
			const struct predict_score *sc = &a->h[h][m];

			if (!(o = cJSON_CreateObject()))
				goto out;
			cJSON_AddItemToArray(arr, o);
			if (!cJSON_AddStringToObject(o, "name", model_names[m]) ||
			    !cJSON_AddNumberToObject(o, "horizon", pp->horizon[h]) ||
			    add_u64(o, "scored", sc->n) ||
			    !cJSON_AddNumberToObject(o, "mae", accuracy_mae(a, h, m)) ||
			    !cJSON_AddNumberToObject(o, "rmse", accuracy_rmse(a, h, m)) ||
			    !cJSON_AddNumberToObject(o, "r2", accuracy_r2(a, h, m)) ||
			    !cJSON_AddNumberToObject(o, "brier",
						     sc->n ? sc->sum_brier / (double)sc->n : 0.0) ||
			    !cJSON_AddNumberToObject(o, "weight",
						     m < PM_COUNT ? e.weight[m] : 1.0))
				goto out;
		}
	}
	o = cJSON_AddObjectToObject(reply, "proactive");
	if (!o || add_u64(o, "promoted", a->promoted) ||
	    add_u64(o, "promoted_hit", a->promoted_hit) ||
	    add_u64(o, "demoted", a->demoted) ||
	    add_u64(o, "demoted_miss", a->demoted_miss) ||
	    !cJSON_AddNumberToObject(o, "precision", accuracy_precision(a)) ||
	    !cJSON_AddNumberToObject(o, "recall", accuracy_recall(a)) ||
	    !cJSON_AddBoolToObject(o, "trusted", accuracy_trusted(a) != 0))
		goto out;
	o = cJSON_AddObjectToObject(reply, "counters");
	if (!o || add_u64(o, "forecasts", c.forecasts) ||
	    add_u64(o, "recorded", c.recorded) ||
	    add_u64(o, "dropped", c.dropped) ||
	    add_u64(o, "pending", c.pending) ||
	    add_u64(o, "scored", c.scored) ||
	    add_u64(o, "trained_short", c.trained[0]) ||
	    add_u64(o, "trained_long", c.trained[1]) ||
	    add_u64(o, "train_failed", c.train_failed[0] + c.train_failed[1]) ||
	    add_u64(o, "trees_short", c.trees[0]) ||
	    add_u64(o, "trees_long", c.trees[1]) ||
	    add_u64(o, "rows_short", c.rows[0]) ||
	    add_u64(o, "rows_long", c.rows[1]))
		goto out;
	rc = 0;
out:
	free(a);
	return rc;
}

/* The placer's state and the last pass, for place and place-status. */
static int add_place(cJSON *reply, const struct fs_place_status *st, int ran)
{
	const struct placer_report *l = &st->last;
	cJSON *o;

	if (!cJSON_AddBoolToObject(reply, "ran", ran) ||
	    !cJSON_AddBoolToObject(reply, "auto", st->auto_place != 0) ||
	    !cJSON_AddNumberToObject(reply, "interval", st->interval) ||
	    add_u64(reply, "passes", st->passes) ||
	    add_u64(reply, "promotions", st->promotions) ||
	    !cJSON_AddBoolToObject(reply, "cache", st->cache != 0) ||
	    (st->cache &&
	     (!cJSON_AddNumberToObject(reply, "precision", st->fetches.precision) ||
	      add_u64(reply, "read_ahead", st->fetches.seq_fetched) ||
	      add_u64(reply, "read_ahead_judged", st->fetches.seq_judged) ||
	      add_u64(reply, "read_ahead_read", st->fetches.seq_read))))
		return -ENOMEM;
	o = cJSON_AddObjectToObject(reply, "last");
	if (!o || add_u64(o, "files", l->files) ||
	    add_u64(o, "moves", l->moves) ||
	    add_u64(o, "forced", l->forced) ||
	    add_u64(o, "watermark", l->watermark) ||
	    add_u64(o, "ahead", l->ahead) ||
	    add_u64(o, "early", l->early) ||
	    add_u64(o, "anomalies", l->anomalies) ||
	    add_u64(o, "busy", l->busy) ||
	    add_u64(o, "failed", l->failed) ||
	    !cJSON_AddNumberToObject(o, "when", ns_to_s(l->when)))
		return -ENOMEM;
	return 0;
}

static int cmd_place(struct fabric *f, const cJSON *req, cJSON *reply,
		     char *err, size_t errlen)
{
	struct fs_place_status st;
	int rc;

	rc = fs_place(f, &st);
	if (rc < 0) {
		snprintf(err, errlen, "placement pass: %s", strerror(-rc));
		return rc;
	}
	return add_place(reply, &st, 1);
}

static int cmd_place_status(struct fabric *f, const cJSON *req, cJSON *reply,
			    char *err, size_t errlen)
{
	struct fs_place_status st;
	int rc;

	if ((rc = fs_place_status(f, &st)) < 0)
		return rc;
	return add_place(reply, &st, 0);
}

static int cmd_cost(struct fabric *f, const cJSON *req, cJSON *reply,
		    char *err, size_t errlen)
{
	struct fs_cost *c;
	double saving;
	cJSON *arr, *o;
	int i, rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	rc = fs_cost(f, c);
	if (rc < 0)
		goto out;
	rc = -ENOMEM;
	arr = cJSON_AddArrayToObject(reply, "tiers");
	if (!arr)
		goto out;
	for (i = 0; i < c->ntiers && i < CFG_MAX_TIERS; i++) {
		o = cJSON_CreateObject();
		if (!o)
			goto out;
		cJSON_AddItemToArray(arr, o);
		if (!cJSON_AddStringToObject(o, "name", c->tiers[i].name) ||
		    add_u64(o, "bytes", c->tiers[i].bytes) ||
		    !cJSON_AddNumberToObject(o, "cost", c->tiers[i].cost))
			goto out;
	}
	/* What keeping everything on the fastest tier would cost more. */
	saving = c->all_fastest - c->total;
	if (add_u64(reply, "files", c->files) ||
	    !cJSON_AddNumberToObject(reply, "total", c->total) ||
	    !cJSON_AddStringToObject(reply, "fastest",
				     c->ntiers ? c->tiers[0].name : "") ||
	    !cJSON_AddNumberToObject(reply, "all_fastest", c->all_fastest) ||
	    !cJSON_AddNumberToObject(reply, "saving", saving) ||
	    !cJSON_AddNumberToObject(reply, "saving_ratio",
				     c->all_fastest > 0 ?
				     saving / c->all_fastest : 0))
		goto out;
	rc = 0;
out:
	free(c);
	return rc;
}

static char *error_reply(int rc, const char *msg)
{
	char buf[128];
	cJSON *o;
	char *s = NULL;

	if (!msg || !*msg)
		msg = strerror_r(-rc, buf, sizeof(buf));
	o = cJSON_CreateObject();
	if (!o)
		return NULL;
	if (cJSON_AddFalseToObject(o, "ok") &&
	    cJSON_AddNumberToObject(o, "errno", -rc) &&
	    cJSON_AddStringToObject(o, "error", msg))
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static const struct ctl_cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < CMD_COUNT; i++)
		if (strcmp(cmd_table[i].name, name) == 0)
			return &cmd_table[i];
	return NULL;
}

/* Refuses keys other than "cmd" and the command's own arguments. */
static int check_args(const struct ctl_cmd *c, const cJSON *req, char *err,
		      size_t errlen)
{
	const cJSON *it;
	size_t i;

	cJSON_ArrayForEach(it, req) {
		if (strcmp(it->string, "cmd") == 0 || strcmp(it->string, "dev") == 0)
			continue;
		for (i = 0; c->args[i]; i++)
			if (strcmp(it->string, c->args[i]) == 0)
				break;
		if (!c->args[i]) {
			snprintf(err, errlen,
				 "unknown argument \"%.64s\" for command \"%s\"",
				 it->string, c->name);
			return -EINVAL;
		}
	}
	return 0;
}

/* The first name that appears twice among the members of object o, or
 * NULL: cJSON keeps both and a lookup finds the first, so that
 * {"cmd":"ping","cmd":"prune"} would run ping without a word. */
static const char *dup_key(const cJSON *o)
{
	const cJSON *a, *b;

	cJSON_ArrayForEach(a, o)
		for (b = a->next; b; b = b->next)
			if (a->string && b->string && !strcmp(a->string, b->string))
				return a->string;
	return NULL;
}

/* Whether the JSON text holds the escape \u0000: cJSON would cut the
 * string there, and the request would act on a shorter name than the
 * one sent. */
static bool has_nul_escape(const char *s)
{
	for (; *s; s++) {
		if (*s != '\\')
			continue;
		if (s[1] == 'u' && !strncmp(s + 2, "0000", 4))
			return true;
		if (s[1])
			s++;           /* the escaped character */
	}
	return false;
}

char *ctl_handle(struct fabric *f, uint64_t mnt_dev, const char *request)
{
	char err[256] = "";
	const struct ctl_cmd *c;
	cJSON *req = NULL, *reply = NULL;
	const cJSON *cmd;
	const char *twice;
	uint64_t dev = 0;
	char *s = NULL;
	int rc = -EINVAL;

	if (has_nul_escape(request)) {
		snprintf(err, sizeof(err), "request contains a NUL character");
		goto out;
	}
	/* Text after the object is an error too. */
	req = cJSON_ParseWithOpts(request, NULL, 1);
	if (!req) {
		snprintf(err, sizeof(err), "request is not valid JSON");
		goto out;
	}
	if (!cJSON_IsObject(req)) {
		snprintf(err, sizeof(err), "request is not a JSON object");
		goto out;
	}
	if ((twice = dup_key(req))) {
		snprintf(err, sizeof(err), "argument \"%.64s\" given twice",
			 twice);
		goto out;
	}
	cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");
	if (!cmd) {
		snprintf(err, sizeof(err), "missing \"cmd\"");
		goto out;
	}
	if (!cJSON_IsString(cmd)) {
		snprintf(err, sizeof(err), "\"cmd\" must be a string");
		goto out;
	}
	c = find_cmd(cmd->valuestring);
	if (!c) {
		snprintf(err, sizeof(err), "unknown command \"%.64s\"",
			 cmd->valuestring);
		goto out;
	}
	rc = check_args(c, req, err, sizeof(err));
	if (rc < 0)
		goto out;
	if ((rc = get_u64_arg(req, "dev", &dev, err, sizeof(err))) < 0)
		goto out;
	if (cJSON_GetObjectItemCaseSensitive(req, "dev") && mnt_dev &&
	    dev != mnt_dev) {
		/* an inode number of another mount names another file */
		snprintf(err, sizeof(err), "the file is not on this daemon's "
			 "mount (device %" PRIu64 ", the mount's %" PRIu64 ")",
			 dev, mnt_dev);
		rc = -EXDEV;
		goto out;
	}
	rc = -ENOMEM;
	reply = cJSON_CreateObject();
	if (!reply || !cJSON_AddTrueToObject(reply, "ok"))
		goto out;
	rc = c->fn(f, req, reply, err, sizeof(err));
	if (rc < 0)
		goto out;
	s = cJSON_PrintUnformatted(reply);
	if (!s)
		rc = -ENOMEM;
out:
	if (rc < 0)
		s = error_reply(rc, err);
	/* Valid UTF-8 whatever bytes came in (names, a message cut
	 * short): JSON structure is ASCII, so this touches strings only. */
	if (s)
		utf8_copy(s, strlen(s) + 1, s);
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return s;
}

/* Reads one request line into buf (CTL_REQ_MAX + 1 bytes), NUL-terminated
 * without the newline. Returns its length, -E2BIG when longer than
 * CTL_REQ_MAX, -ENODATA on EOF before any byte, or -errno (EAGAIN on
 * timeout). A last line without newline counts as a request. */
static ssize_t read_line(int fd, char *buf, int64_t deadline)
{
	size_t len = 0;
	char *nl = NULL;
	ssize_t n;

	while (!nl && len < CTL_REQ_MAX + 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - mono_ms();

		if (left <= 0 || poll(&pfd, 1, (int)left) == 0)
			return -EAGAIN;
		n = recv(fd, buf + len, CTL_REQ_MAX + 1 - len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0) {
			if (len == 0)
				return -ENODATA;
			break;
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	if (nl)
		len = (size_t)(nl - buf);
	if (len > CTL_REQ_MAX)
		return -E2BIG;
	buf[len] = '\0';
	return (ssize_t)len;
}

/* After refusing an overlong request: stop sending and swallow what the
 * client still sends, for at most 2 s and 64 MiB, so that closing with
 * unread input does not fail the client's send before it reads the reply. */
static void drain(int fd, char *buf)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct timespec t0, now;
	long left_ms;
	int i;

	shutdown(fd, SHUT_WR);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 1024; i++) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left_ms = CTL_IO_TIMEOUT_S * 1000L -
			  (now.tv_sec - t0.tv_sec) * 1000L -
			  (now.tv_nsec - t0.tv_nsec) / 1000000L;
		if (left_ms <= 0 || poll(&pfd, 1, (int)left_ms) <= 0)
			return;
		if (recv(fd, buf, CTL_REQ_MAX, MSG_DONTWAIT) <= 0)
			return;
	}
}

/* Sends all of buf before the deadline: 0 or -errno (EAGAIN: too late). */
static int send_by(int fd, const char *buf, size_t len, int64_t deadline)
{
	while (len > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int64_t left = deadline - mono_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) == 0)
			return -EAGAIN;
		n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Serves one client: its request and the reply within CTL_IO_TIMEOUT_S
 * in all (plus the command's own time), however it trickles. */
static void serve_client(struct ctl_server *s, int cfd, char *buf)
{
	static const char oom[] =
		"{\"ok\":false,\"errno\":12,\"error\":\"out of memory\"}";
	int64_t deadline = mono_ms() + CTL_IO_TIMEOUT_S * 1000;
	char *reply = NULL;
	const char *out;
	ssize_t len;
	int rc;

	len = read_line(cfd, buf, deadline);
	if (len == -ENODATA)
		return;
	if (len == -E2BIG)
		reply = error_reply(-EINVAL, "request too long");
	else if (len >= 0 && strlen(buf) != (size_t)len)
		reply = error_reply(-EINVAL, "request contains a NUL byte");
	else if (len < 0) {
		log_debug("control socket %s: reading a request: %s", s->path,
			  strerror((int)-len));
		return;
	} else
		reply = ctl_handle(s->f, s->mnt_dev, buf);
	out = reply ? reply : oom;
	/* the command's time does not count against the client */
	deadline = mono_ms() + CTL_IO_TIMEOUT_S * 1000;
	rc = send_by(cfd, out, strlen(out), deadline);
	if (rc == 0)
		rc = send_by(cfd, "\n", 1, deadline);
	if (rc < 0)
		log_debug("control socket %s: sending a reply: %s", s->path,
			  strerror(-rc));
	else if (len == -E2BIG)
		drain(cfd, buf);
	free(reply);
}

struct client {
	struct ctl_server *s;
	int fd;
};

/* A client thread, or its start, is done. */
static void client_done(struct ctl_server *s)
{
	pthread_mutex_lock(&s->lock);
	s->nclients--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void *client_thread(void *arg)
{
	struct client *c = arg;
	struct ctl_server *s = c->s;
	char *buf = malloc(CTL_REQ_MAX + 1);

	if (buf)
		serve_client(s, c->fd, buf);
	close(c->fd);
	free(buf);
	free(c);
	client_done(s);
	return NULL;
}

/* Serves client cfd on a thread of its own, so that a slow one holds up
 * no other; past CTL_CLIENTS_MAX at once, one gets an error at once. */
static void start_client(struct ctl_server *s, int cfd)
{
	/* "retry": the request was not read, so sending it again is safe */
	static const char busy[] = "{\"ok\":false,\"errno\":16,\"retry\":true,"
		"\"error\":\"too many control clients at once; try again\"}\n";
	struct client *c = NULL;
	pthread_attr_t at;
	pthread_t t;
	int full;

	pthread_mutex_lock(&s->lock);
	full = s->nclients >= CTL_CLIENTS_MAX;
	if (!full)
		s->nclients++;
	pthread_mutex_unlock(&s->lock);
	if (full) {
		(void)!send(cfd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(cfd);
		return;
	}
	if ((c = malloc(sizeof(*c)))) {
		c->s = s;
		c->fd = cfd;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &at, client_thread, c) == 0) {
			pthread_attr_destroy(&at);
			return;
		}
		pthread_attr_destroy(&at);
		free(c);
	}
	log_warn("control socket %s: cannot start a client thread", s->path);
	close(cfd);
	client_done(s);
}

static void *ctl_thread(void *arg)
{
	struct ctl_server *s = arg;
	struct pollfd pfd[2];
	int cfd;

	for (;;) {
		pfd[0] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("control socket %s: poll: %s", s->path,
				strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;
		if (!(pfd[1].revents & POLLIN))
			continue;
		cfd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0) {
			/* EAGAIN: the client went away; EMFILE and friends
			 * are transient, the next poll retries. */
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("control socket %s: accept: %s",
					 s->path, strerror(errno));
			if (errno == EMFILE || errno == ENFILE)
				usleep(100 * 1000);
			continue;
		}
		start_client(s, cfd);
	}
	return NULL;
}

/* Looks at what is at path: nothing, a stale socket (removed) or something
 * we must not touch. */
static int clear_path(const char *path, const struct sockaddr_un *sa,
		      char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		snprintf(err, errlen, "control socket %s: %s", path,
			 strerror(-rc));
		return rc;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen,
			 "control socket %s: exists and is not a socket; "
			 "refusing to replace it", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "control socket %s: socket: %s", path,
			 strerror(-rc));
		return rc;
	}
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ?
		-errno : 0;
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen,
			 "control socket %s: another dfabric daemon is "
			 "listening on it", path);
		return -EADDRINUSE;
	}
	if (rc != -ECONNREFUSED && rc != -ENOENT) {
		snprintf(err, errlen, "control socket %s: connect: %s", path,
			 strerror(-rc));
		return rc;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		rc = -errno;
		snprintf(err, errlen,
			 "control socket %s: removing the stale socket: %s",
			 path, strerror(-rc));
		return rc;
	}
	log_info("control socket %s: removed a stale socket", path);
	return 0;
}

static void server_free(struct ctl_server *s)
{
	struct stat st;

	if (s->lfd >= 0) {
		close(s->lfd);
		/* Unlink only the socket we bound, not a successor's. */
		if (lstat(s->path, &st) == 0 && st.st_dev == s->sock_dev &&
		    st.st_ino == s->sock_ino)
			unlink(s->path);
	}
	if (s->wake[0] >= 0)
		close(s->wake[0]);
	if (s->wake[1] >= 0)
		close(s->wake[1]);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

int ctl_start(const char *path, struct fabric *f, uint64_t mnt_dev,
	      struct ctl_server **out, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl_server *s;
	struct stat st;
	int rc;

	*out = NULL;
	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen,
			 "control socket \"%s\": path empty or longer than %zu "
			 "bytes", path ? path : "", sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "control socket %s: out of memory", path);
		return -ENOMEM;
	}
	s->lfd = s->wake[0] = s->wake[1] = -1;
	s->f = f;
	s->mnt_dev = mnt_dev;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	strcpy(s->path, path);

	rc = clear_path(path, &sa, err, errlen);
	if (rc < 0)
		goto fail;
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->lfd < 0) {
		rc = -errno;
		snprintf(err, errlen, "control socket %s: socket: %s", path,
			 strerror(-rc));
		goto fail;
	}
	/* Mode 0600 before it listens: until then a connect is refused, so
	 * the mode bind gives it does not matter. (No umask around bind: the
	 * mask is the process's, and other threads create files and
	 * directories meanwhile.) */
	rc = bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	if (rc < 0) {
		snprintf(err, errlen, "control socket %s: bind: %s", path,
			 strerror(-rc));
		close(s->lfd);
		s->lfd = -1;
		goto fail;
	}
	if (lstat(path, &st) == 0) {
		s->sock_dev = st.st_dev;
		s->sock_ino = st.st_ino;
	}
	if (chmod(path, 0600) < 0 || listen(s->lfd, CTL_BACKLOG) < 0 ||
	    pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = -errno;
		snprintf(err, errlen, "control socket %s: %s", path,
			 strerror(-rc));
		goto fail;
	}
	rc = -pthread_create(&s->thread, NULL, ctl_thread, s);
	if (rc < 0) {
		snprintf(err, errlen,
			 "control socket %s: starting its thread: %s", path,
			 strerror(-rc));
		goto fail;
	}
	s->running = 1;
	*out = s;
	return 0;
fail:
	server_free(s);
	return rc;
}

void ctl_stop(struct ctl_server *s)
{
	ssize_t n;

	if (!s)
		return;
	if (s->running) {
		do
			n = write(s->wake[1], "x", 1);
		while (n < 0 && errno == EINTR);
		pthread_join(s->thread, NULL);
	}
	/* clients still being served end by their deadlines */
	pthread_mutex_lock(&s->lock);
	while (s->nclients > 0)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	server_free(s);
}
