// SPDX-License-Identifier: GPL-2.0-or-later
/* The dfabric.conf parser: libinih splits lines into sections and
 * key = value pairs, and one table of options (opt_table below) says which
 * keys exist, their types, bounds and defaults.
 *
 * libinih (Debian's build) does not pass line numbers to the handler, so we
 * feed it through ini_parse_stream with our own line reader, which counts
 * lines and also:
 *   - strips leading blanks (so an indented line is never taken for a
 *     continuation of the previous value),
 *   - strips comments: a line starting with '#' or ';', and a '#' or ';'
 *     preceded by a blank anywhere else,
 *   - reads section headers itself, so that a section is known (and its
 *     line recorded) even when it holds no key.
 * The first error wins: the reader stops feeding lines once one is found. */
#include "common/config.h"

#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <ini.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CFG_FILE_MAX (1 << 20)  /* a config file larger than this is refused */
#define OPT_MAX 96              /* room in the per-section "seen" arrays */
#define TIER_PREFIX "tier."

/* Longest path a unix socket address can hold (without the NUL). */
#define SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

enum opt_section {
	SEC_NONE = 0,          /* before the first section header */
	SEC_FABRIC,            /* [fabric] */
	SEC_TIER,              /* [tier.NAME] */
	SEC_PLACEMENT,         /* [placement] */
	SEC_PREDICT,           /* [predict] */
};

enum opt_type {
	OPT_PATH,              /* a path; relative ones resolve against the base */
	OPT_SIZE,              /* cfg_parse_size(), stored as uint64_t */
	OPT_FRACTION,          /* "90%" or "0.9", stored as double */
	OPT_PRICE,             /* a decimal number, stored as double */
	OPT_ENUM,              /* one of a list of names, stored as int */
	OPT_STRING,            /* text checked by ->check, stored in a char array */
	OPT_UINT,              /* a plain decimal integer, stored as uint64_t */
	OPT_DURATION,          /* cfg_parse_duration(), seconds stored as double */
};

/* The tier kinds a key applies to (struct cfg_opt.kinds); 0: every kind. */
#define KIND_BIT(k) (1u << (k))
#define KINDS_LOCAL KIND_BIT(CFG_TIER_LOCAL)
#define KINDS_S3    KIND_BIT(CFG_TIER_S3)

enum opt_flags {
	OPT_REQUIRED    = (1 << 0),  /* the section (of a kind in ->kinds) must set it */
	OPT_POW2        = (1 << 1),  /* OPT_SIZE: a power of two */
	OPT_DIR         = (1 << 2),  /* OPT_PATH: an existing directory, canonicalized */
	OPT_PARENT      = (1 << 3),  /* OPT_PATH: may not exist, its parent must */
	OPT_SOCKET      = (1 << 4),  /* OPT_PATH: must fit in sun_path */
	OPT_MIN_OPEN    = (1 << 5),  /* OPT_FRACTION/OPT_PRICE: value > min, not >= */
};

struct opt_name {
	const char *name;      /* as written in the file (any case) */
	int value;             /* stored in the int field */
};

struct cfg_opt {
	const char *name;      /* key */
	enum opt_section sec;  /* section kind the key belongs to */
	enum opt_type type;    /* how the value is parsed and stored */
	unsigned flags;        /* enum opt_flags */
	uint64_t size_min;     /* OPT_SIZE: smallest value */
	uint64_t size_max;     /* OPT_SIZE: largest value */
	double num_min;        /* OPT_FRACTION/OPT_PRICE/OPT_DURATION: smallest value */
	double num_max;        /* OPT_FRACTION/OPT_PRICE/OPT_DURATION: largest value */
	const char *def;       /* default, written as in a file; NULL: none here */
	size_t offset;         /* of the field in struct cfg or struct cfg_tier */
	const struct opt_name *names; /* OPT_ENUM: accepted names, NULL-ended */
	size_t str_size;       /* OPT_STRING: size of the char array */
	/* OPT_STRING: 0, or -EINVAL with the reason in why */
	int (*check)(const char *val, char *why, size_t whylen);
	unsigned kinds;        /* SEC_TIER: KINDS_* it applies to; 0: all */
	int reloadable;        /* may change on a reload (none may, yet) */
};

static const struct opt_name log_level_names[] = {
	{ "error", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
	{ "info", LOG_INFO }, { "debug", LOG_DEBUG }, { NULL, 0 },
};

static const struct opt_name checksum_names[] = {
	{ "xxh3", CFG_CSUM_XXH3 }, { "sha256", CFG_CSUM_SHA256 }, { NULL, 0 },
};

static const struct opt_name io_class_names[] = {
	{ "idle", CFG_IO_IDLE }, { "best-effort", CFG_IO_BEST_EFFORT },
	{ NULL, 0 },
};

static const struct opt_name verify_names[] = {
	{ "device", CFG_VERIFY_DEVICE }, { "cache", CFG_VERIFY_CACHE },
	{ NULL, 0 },
};

static const struct opt_name tier_kind_names[] = {
	{ "local", CFG_TIER_LOCAL }, { "s3", CFG_TIER_S3 }, { NULL, 0 },
};

_Static_assert(sizeof(enum cfg_checksum) == sizeof(int),
	       "enum fields are written through an int pointer");
_Static_assert(sizeof(enum cfg_io_class) == sizeof(int),
	       "enum fields are written through an int pointer");
_Static_assert(sizeof(enum cfg_verify) == sizeof(int),
	       "enum fields are written through an int pointer");
static const struct opt_name yes_no_names[] = {
	{ "yes", 1 }, { "no", 0 }, { "true", 1 }, { "false", 0 },
	{ "on", 1 }, { "off", 0 }, { NULL, 0 },
};

static const struct opt_name addressing_names[] = {
	{ "path", CFG_S3_PATH }, { "virtual", CFG_S3_VIRTUAL }, { NULL, 0 },
};

static const struct opt_name signature_names[] = {
	{ "v2", CFG_S3_SIG_V2 }, { "v4", CFG_S3_SIG_V4 }, { NULL, 0 },
};

/* endpoint: "host" or "host:port"; host of letters, digits, '.', '-'. */
static int check_endpoint(const char *val, char *why, size_t whylen)
{
	const char *colon = strrchr(val, ':');
	size_t hlen = colon ? (size_t)(colon - val) : strlen(val);

	if (hlen == 0)
		goto bad;
	for (size_t i = 0; i < hlen; i++)
		if (!isalnum((unsigned char)val[i]) && val[i] != '.' && val[i] != '-')
			goto bad;
	if (colon) {
		unsigned long port = 0;
		const char *q = colon + 1;

		if (!*q)
			goto bad;
		for (; *q; q++) {
			if (*q < '0' || *q > '9')
				goto bad;
			port = port * 10 + (unsigned long)(*q - '0');
			if (port > 65535)
				goto bad;
		}
		if (port == 0)
			goto bad;
	}
	return 0;
bad:
	snprintf(why, whylen, "not host:port (a host name or IPv4 address, "
		 "optionally ':' and a port 1..65535)");
	return -EINVAL;
}

/* bucket: 3..63 of a-z, 0-9, '.', '-', starting and ending alphanumeric. */
static int check_bucket(const char *val, char *why, size_t whylen)
{
	size_t len = strlen(val);

	if (len < 3 || len > 63 || !isalnum((unsigned char)val[0]) ||
	    !isalnum((unsigned char)val[len - 1]))
		goto bad;
	for (size_t i = 0; i < len; i++)
		if (!(islower((unsigned char)val[i]) || isdigit((unsigned char)val[i]) ||
		      val[i] == '.' || val[i] == '-'))
			goto bad;
	return 0;
bad:
	snprintf(why, whylen, "not a bucket name (3 to 63 characters of a-z, "
		 "0-9, '.' and '-', starting and ending with a letter or digit)");
	return -EINVAL;
}

/* prefix: characters that need no escaping in a URL or a signature. */
static int check_prefix(const char *val, char *why, size_t whylen)
{
	if (val[0] == '/')
		goto bad;
	for (const char *q = val; *q; q++)
		if (!isalnum((unsigned char)*q) && !strchr("/_.-", *q))
			goto bad;
	if (strstr(val, "//"))
		goto bad;
	return 0;
bad:
	snprintf(why, whylen, "not a key prefix (characters A-Z, a-z, 0-9, '/', "
		 "'_', '.', '-'; no leading '/' and no '//')");
	return -EINVAL;
}

/* region: 1..31 of a-z, 0-9, '-'. */
static int check_region(const char *val, char *why, size_t whylen)
{
	for (const char *q = val; *q; q++) {
		if (!islower((unsigned char)*q) && !isdigit((unsigned char)*q) &&
		    *q != '-') {
			snprintf(why, whylen, "not a region name (a-z, 0-9 and '-')");
			return -EINVAL;
		}
	}
	return 0;
}

_Static_assert(sizeof(enum cfg_tier_kind) == sizeof(int),
	       "enum fields are written through an int pointer");

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)

static const struct cfg_opt opt_table[] = {
	{ .name = "meta", .sec = SEC_FABRIC, .type = OPT_PATH,
	  .flags = OPT_REQUIRED | OPT_PARENT,
	  .offset = offsetof(struct cfg, meta) },
	/* default "<meta>.sock", filled in after parsing */
	{ .name = "control", .sec = SEC_FABRIC, .type = OPT_PATH,
	  .flags = OPT_SOCKET | OPT_PARENT,
	  .offset = offsetof(struct cfg, control) },
	{ .name = "extent_size", .sec = SEC_FABRIC, .type = OPT_SIZE,
	  .flags = OPT_POW2, .size_min = 64 * KIB, .size_max = 64 * MIB,
	  .def = "4M", .offset = offsetof(struct cfg, extent_size) },
	{ .name = "log_level", .sec = SEC_FABRIC, .type = OPT_ENUM,
	  .def = "info", .names = log_level_names,
	  .offset = offsetof(struct cfg, log_level) },
	{ .name = "checksum", .sec = SEC_FABRIC, .type = OPT_ENUM,
	  .def = "xxh3", .names = checksum_names,
	  .offset = offsetof(struct cfg, checksum) },
	{ .name = "migrate_bandwidth", .sec = SEC_FABRIC, .type = OPT_SIZE,
	  .size_min = 0, .size_max = UINT64_MAX, .def = "200M",
	  .offset = offsetof(struct cfg, migrate_bandwidth) },
	{ .name = "migrate_busy_bandwidth", .sec = SEC_FABRIC, .type = OPT_SIZE,
	  .size_min = 0, .size_max = UINT64_MAX, .def = "32M",
	  .offset = offsetof(struct cfg, migrate_busy_bandwidth) },
	{ .name = "migrate_jobs", .sec = SEC_FABRIC, .type = OPT_SIZE,
	  .size_min = 1, .size_max = 16, .def = "4",
	  .offset = offsetof(struct cfg, migrate_jobs) },
	{ .name = "migrate_s3_jobs", .sec = SEC_FABRIC, .type = OPT_SIZE,
	  .size_min = 1, .size_max = 16, .def = "2",
	  .offset = offsetof(struct cfg, migrate_s3_jobs) },
	{ .name = "migrate_io_class", .sec = SEC_FABRIC, .type = OPT_ENUM,
	  .def = "idle", .names = io_class_names,
	  .offset = offsetof(struct cfg, migrate_io_class) },
	{ .name = "migrate_verify", .sec = SEC_FABRIC, .type = OPT_ENUM,
	  .def = "cache", .names = verify_names,
	  .offset = offsetof(struct cfg, migrate_verify) },

	{ .name = "kind", .sec = SEC_TIER, .type = OPT_ENUM,
	  .flags = OPT_REQUIRED, .names = tier_kind_names,
	  .offset = offsetof(struct cfg_tier, kind) },
	{ .name = "path", .sec = SEC_TIER, .type = OPT_PATH,
	  .flags = OPT_REQUIRED | OPT_DIR, .kinds = KINDS_LOCAL,
	  .offset = offsetof(struct cfg_tier, path) },
	{ .name = "capacity", .sec = SEC_TIER, .type = OPT_SIZE,
	  .flags = OPT_REQUIRED, .size_min = 1, .size_max = UINT64_MAX,
	  .offset = offsetof(struct cfg_tier, capacity) },
	{ .name = "cost_gb_month", .sec = SEC_TIER, .type = OPT_PRICE,
	  .num_min = 0, .num_max = 1e12, .def = "0",
	  .offset = offsetof(struct cfg_tier, cost_gb_month) },
	{ .name = "high_watermark", .sec = SEC_TIER, .type = OPT_FRACTION,
	  .flags = OPT_MIN_OPEN, .num_min = 0, .num_max = 1, .def = "0.90",
	  .offset = offsetof(struct cfg_tier, high_watermark) },
	{ .name = "low_watermark", .sec = SEC_TIER, .type = OPT_FRACTION,
	  .flags = OPT_MIN_OPEN, .num_min = 0, .num_max = 1, .def = "0.80",
	  .offset = offsetof(struct cfg_tier, low_watermark) },
	{ .name = "egress_gb", .sec = SEC_TIER, .type = OPT_PRICE,
	  .num_min = 0, .num_max = 1e12, .def = "0",
	  .offset = offsetof(struct cfg_tier, egress_gb) },
	{ .name = "cost_per_1k_get", .sec = SEC_TIER, .type = OPT_PRICE,
	  .num_min = 0, .num_max = 1e12, .def = "0",
	  .offset = offsetof(struct cfg_tier, cost_per_1k_get) },
	{ .name = "cost_per_1k_put", .sec = SEC_TIER, .type = OPT_PRICE,
	  .num_min = 0, .num_max = 1e12, .def = "0",
	  .offset = offsetof(struct cfg_tier, cost_per_1k_put) },
	{ .name = "private", .sec = SEC_TIER, .type = OPT_ENUM,
	  .names = yes_no_names, .def = "no",
	  .offset = offsetof(struct cfg_tier, private_tier) },

	{ .name = "endpoint", .sec = SEC_TIER, .type = OPT_STRING,
	  .flags = OPT_REQUIRED, .kinds = KINDS_S3, .check = check_endpoint,
	  .str_size = CFG_S3_ENDPOINT_MAX,
	  .offset = offsetof(struct cfg_tier, endpoint) },
	{ .name = "bucket", .sec = SEC_TIER, .type = OPT_STRING,
	  .flags = OPT_REQUIRED, .kinds = KINDS_S3, .check = check_bucket,
	  .str_size = CFG_S3_BUCKET_MAX,
	  .offset = offsetof(struct cfg_tier, bucket) },
	{ .name = "prefix", .sec = SEC_TIER, .type = OPT_STRING,
	  .kinds = KINDS_S3, .check = check_prefix, .str_size = CFG_S3_PREFIX_MAX,
	  .offset = offsetof(struct cfg_tier, prefix) },
	{ .name = "region", .sec = SEC_TIER, .type = OPT_STRING,
	  .kinds = KINDS_S3, .check = check_region, .str_size = CFG_S3_REGION_MAX,
	  .def = "us-east-1", .offset = offsetof(struct cfg_tier, region) },
	{ .name = "tls", .sec = SEC_TIER, .type = OPT_ENUM,
	  .kinds = KINDS_S3, .names = yes_no_names, .def = "yes",
	  .offset = offsetof(struct cfg_tier, tls) },
	{ .name = "addressing", .sec = SEC_TIER, .type = OPT_ENUM,
	  .kinds = KINDS_S3, .names = addressing_names, .def = "path",
	  .offset = offsetof(struct cfg_tier, addressing) },
	{ .name = "signature", .sec = SEC_TIER, .type = OPT_ENUM,
	  .kinds = KINDS_S3, .names = signature_names, .def = "v2",
	  .offset = offsetof(struct cfg_tier, signature) },
	{ .name = "credentials_file", .sec = SEC_TIER, .type = OPT_PATH,
	  .kinds = KINDS_S3,
	  .offset = offsetof(struct cfg_tier, credentials_file) },
	{ .name = "s3_parallel", .sec = SEC_TIER, .type = OPT_UINT,
	  .kinds = KINDS_S3, .size_min = 1, .size_max = 64, .def = "8",
	  .offset = offsetof(struct cfg_tier, s3_parallel) },
	{ .name = "connect_timeout", .sec = SEC_TIER, .type = OPT_UINT,
	  .kinds = KINDS_S3, .size_min = 1, .size_max = 600, .def = "5",
	  .offset = offsetof(struct cfg_tier, connect_timeout) },
	{ .name = "request_timeout", .sec = SEC_TIER, .type = OPT_UINT,
	  .kinds = KINDS_S3, .size_min = 1, .size_max = 3600, .def = "30",
	  .offset = offsetof(struct cfg_tier, request_timeout) },
	{ .name = "retries", .sec = SEC_TIER, .type = OPT_UINT,
	  .kinds = KINDS_S3, .size_min = 0, .size_max = 20, .def = "4",
	  .offset = offsetof(struct cfg_tier, retries) },

	/* [placement]: all optional; see struct cfg_placement */
#define PL(field) offsetof(struct cfg, placement.field)
	{ .name = "half_life", .sec = SEC_PLACEMENT, .type = OPT_DURATION,
	  .flags = OPT_MIN_OPEN, .num_min = 0, .num_max = 10 * 365 * 86400.0,
	  .def = "24h", .offset = PL(half_life) },
	{ .name = "w_frequency", .sec = SEC_PLACEMENT, .type = OPT_PRICE,
	  .num_min = 0, .num_max = 1000, .def = "0.4", .offset = PL(w_frequency) },
	{ .name = "w_latency", .sec = SEC_PLACEMENT, .type = OPT_PRICE,
	  .num_min = 0, .num_max = 1000, .def = "0.3", .offset = PL(w_latency) },
	{ .name = "w_cost", .sec = SEC_PLACEMENT, .type = OPT_PRICE,
	  .num_min = 0, .num_max = 1000, .def = "0.2", .offset = PL(w_cost) },
	{ .name = "w_trend", .sec = SEC_PLACEMENT, .type = OPT_PRICE,
	  .num_min = 0, .num_max = 1000, .def = "0.1", .offset = PL(w_trend) },
	{ .name = "hysteresis", .sec = SEC_PLACEMENT, .type = OPT_PRICE,
	  .num_min = 0, .num_max = 1, .def = "0.05", .offset = PL(hysteresis) },
	{ .name = "confidence", .sec = SEC_PLACEMENT, .type = OPT_PRICE,
	  .num_min = 0, .num_max = 1, .def = "0.7", .offset = PL(confidence) },
	{ .name = "hot_freq", .sec = SEC_PLACEMENT, .type = OPT_PRICE,
	  .flags = OPT_MIN_OPEN, .num_min = 0, .num_max = 1e9, .def = "4",
	  .offset = PL(hot_freq) },
	{ .name = "promote_freq", .sec = SEC_PLACEMENT, .type = OPT_PRICE,
	  .num_min = 0, .num_max = 1e9, .def = "3", .offset = PL(promote_freq) },
	{ .name = "interval", .sec = SEC_PLACEMENT, .type = OPT_DURATION,
	  .num_min = 0, .num_max = 7 * 86400.0, .def = "60",
	  .offset = PL(interval) },
	{ .name = "horizon", .sec = SEC_PLACEMENT, .type = OPT_DURATION,
	  .flags = OPT_MIN_OPEN, .num_min = 0, .num_max = 10 * 365 * 86400.0,
	  .def = "30d", .offset = PL(horizon) },
	{ .name = "auto", .sec = SEC_PLACEMENT, .type = OPT_ENUM,
	  .names = yes_no_names, .def = "no", .offset = PL(auto_place) },
#undef PL

	/* [predict]: all optional; see struct cfg_predict */
#define PR(field) offsetof(struct cfg, predict.field)
	{ .name = "enabled", .sec = SEC_PREDICT, .type = OPT_ENUM,
	  .names = yes_no_names, .def = "yes", .offset = PR(enabled) },
	{ .name = "proactive", .sec = SEC_PREDICT, .type = OPT_ENUM,
	  .names = yes_no_names, .def = "yes", .offset = PR(proactive) },
	{ .name = "cache", .sec = SEC_PREDICT, .type = OPT_ENUM,
	  .names = yes_no_names, .def = "no", .offset = PR(cache) },
	{ .name = "prefetch", .sec = SEC_PREDICT, .type = OPT_DURATION,
	  .flags = OPT_MIN_OPEN, .num_min = 0, .num_max = 86400.0,
	  .def = "10", .offset = PR(prefetch) },
	{ .name = "bin", .sec = SEC_PREDICT, .type = OPT_DURATION,
	  .flags = OPT_MIN_OPEN, .num_min = 0, .num_max = 86400.0,
	  .def = "1h", .offset = PR(bin) },
	{ .name = "burst", .sec = SEC_PREDICT, .type = OPT_DURATION,
	  .num_min = 0, .num_max = 3600.0, .def = "1", .offset = PR(burst) },
	{ .name = "horizon_short", .sec = SEC_PREDICT, .type = OPT_DURATION,
	  .flags = OPT_MIN_OPEN, .num_min = 0, .num_max = 30 * 86400.0,
	  .def = "5m", .offset = PR(horizon[0]) },
	{ .name = "horizon_long", .sec = SEC_PREDICT, .type = OPT_DURATION,
	  .flags = OPT_MIN_OPEN, .num_min = 0, .num_max = 30 * 86400.0,
	  .def = "1h", .offset = PR(horizon[1]) },
	{ .name = "window", .sec = SEC_PREDICT, .type = OPT_DURATION,
	  .flags = OPT_MIN_OPEN, .num_min = 0, .num_max = 365 * 86400.0,
	  .def = "30d", .offset = PR(window) },
	{ .name = "retrain", .sec = SEC_PREDICT, .type = OPT_DURATION,
	  .num_min = 0, .num_max = 30 * 86400.0, .def = "10m",
	  .offset = PR(retrain) },
	{ .name = "rise", .sec = SEC_PREDICT, .type = OPT_PRICE,
	  .flags = OPT_MIN_OPEN, .num_min = 0, .num_max = 1e6, .def = "0.5",
	  .offset = PR(rise) },
	{ .name = "rise_confidence", .sec = SEC_PREDICT, .type = OPT_PRICE,
	  .num_min = 0, .num_max = 1, .def = "0.7", .offset = PR(rise_confidence) },
	{ .name = "fall", .sec = SEC_PREDICT, .type = OPT_PRICE,
	  .flags = OPT_MIN_OPEN, .num_min = 0, .num_max = 1, .def = "0.8",
	  .offset = PR(fall) },
	{ .name = "fall_confidence", .sec = SEC_PREDICT, .type = OPT_PRICE,
	  .num_min = 0, .num_max = 1, .def = "0.8", .offset = PR(fall_confidence) },
	{ .name = "anomaly_sigma", .sec = SEC_PREDICT, .type = OPT_PRICE,
	  .flags = OPT_MIN_OPEN, .num_min = 0, .num_max = 1000, .def = "3",
	  .offset = PR(anomaly_sigma) },
	{ .name = "scan_files", .sec = SEC_PREDICT, .type = OPT_UINT,
	  .size_min = 1, .size_max = 100000000, .def = "256",
	  .offset = PR(scan_files) },
	{ .name = "scan_window", .sec = SEC_PREDICT, .type = OPT_DURATION,
	  .flags = OPT_MIN_OPEN, .num_min = 0, .num_max = 86400.0, .def = "10",
	  .offset = PR(scan_window) },
#undef PR
};

#define NOPTS ((int)(sizeof(opt_table) / sizeof(opt_table[0])))
_Static_assert(sizeof(opt_table) / sizeof(opt_table[0]) <= OPT_MAX,
	       "raise OPT_MAX");

/* The state of one parse. */
struct parse {
	struct cfg *c;                 /* being filled */
	const char *text;              /* the whole file, NUL-terminated */
	const char *pos;               /* next line for the reader */
	int lineno;                    /* lines handed to inih so far */
	char base[PATH_MAX];           /* relative paths resolve against this */
	int fabric_line;               /* line of [fabric], 0 if none yet */
	int fabric_seen[OPT_MAX];      /* line each [fabric] key was set on */
	int tier_seen[CFG_MAX_TIERS][OPT_MAX]; /* the same for each tier */
	int placement_line;            /* line of [placement], 0 if none */
	int placement_seen[OPT_MAX];   /* line each [placement] key was set on */
	int predict_line;              /* line of [predict], 0 if none */
	int predict_seen[OPT_MAX];     /* line each [predict] key was set on */
	enum opt_section cur;          /* the section being read */
	int cur_tier;                  /* its index in c->tiers if SEC_TIER */
	int err_line;                  /* line of the recorded error, 0: none */
	char msg[CFG_ERR_MAX];         /* the first error, "FILE:LINE: ..." */
};

static const char *sec_kind_name(enum opt_section sec)
{
	if (sec == SEC_PLACEMENT)
		return "[placement]";
	if (sec == SEC_PREDICT)
		return "[predict]";
	return sec == SEC_FABRIC ? "[fabric]" : "[tier.NAME]";
}

/* Records an error at `line` unless one is recorded already. */
static void __attribute__((format(printf, 3, 4)))
fail(struct parse *p, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->err_line)
		return;
	if (line < 1)
		line = 1;
	p->err_line = line;
	n = snprintf(p->msg, sizeof(p->msg), "%s:%d: ", p->c->file, line);
	if (n < 0 || (size_t)n >= sizeof(p->msg))
		return;
	va_start(ap, fmt);
	vsnprintf(p->msg + n, sizeof(p->msg) - n, fmt, ap);
	va_end(ap);
}

/* The current section as written, for messages: "[fabric]", "[tier.x]". */
static void sec_label(const struct parse *p, char *buf, size_t len)
{
	if (p->cur == SEC_TIER)
		snprintf(buf, len, "[" TIER_PREFIX "%s]", p->c->tiers[p->cur_tier].name);
	else
		snprintf(buf, len, "%s", sec_kind_name(p->cur));
}

static const struct cfg_opt *opt_find(enum opt_section sec, const char *name,
				      int *index)
{
	for (int i = 0; i < NOPTS; i++) {
		if (opt_table[i].sec == sec && strcmp(opt_table[i].name, name) == 0) {
			*index = i;
			return &opt_table[i];
		}
	}
	return NULL;
}

int cfg_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	const char *q = s;
	int digits = 0;

	while (isspace((unsigned char)*q))
		q++;
	for (; *q >= '0' && *q <= '9'; q++, digits++) {
		if (v > (UINT64_MAX - (uint64_t)(*q - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*q - '0');
	}
	if (!digits)
		return -EINVAL;
	if (*q && !isspace((unsigned char)*q)) {
		switch (toupper((unsigned char)*q)) {
		case 'K': mult = (uint64_t)1 << 10; break;
		case 'M': mult = (uint64_t)1 << 20; break;
		case 'G': mult = (uint64_t)1 << 30; break;
		case 'T': mult = (uint64_t)1 << 40; break;
		case 'P': mult = (uint64_t)1 << 50; break;
		default: return -EINVAL;
		}
		q++;
		if (toupper((unsigned char)q[0]) == 'I' && toupper((unsigned char)q[1]) == 'B')
			q += 2;
		else if (toupper((unsigned char)q[0]) == 'B')
			q++;
	}
	while (isspace((unsigned char)*q))
		q++;
	if (*q)
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -EINVAL;
	*out = v * mult;
	return 0;
}

/* Parses a plain decimal number ("12", "0.10", ".5", "3.") without
 * strtod, so that neither the locale nor "inf", "0x1p3" or "1e9" get in;
 * `rest` gets what follows. The value is digits / 10^k, correctly rounded
 * since both fit a double exactly (at most 15 significant digits). */
static int parse_number(const char *s, double *out, const char **rest)
{
	static const double pow10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
					1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
					1e15, 1e16, 1e17 };
	uint64_t m = 0;
	int digits = 0, frac = -1;
	bool any = false;

	for (;; s++) {
		if (*s == '.' && frac < 0) {
			frac = 0;
			continue;
		}
		if (*s < '0' || *s > '9')
			break;
		any = true;
		if (frac >= 0)
			frac++;
		if (m == 0 && *s == '0')
			continue;  /* leading zeros are not significant */
		if (++digits > 15)
			return -EINVAL;
		m = m * 10 + (uint64_t)(*s - '0');
	}
	if (!any || frac >= (int)(sizeof(pow10) / sizeof(pow10[0])))
		return -EINVAL;
	*rest = s;
	*out = (double)m / pow10[frac < 0 ? 0 : frac];
	return 0;
}

int cfg_parse_duration(const char *s, double *out)
{
	static const struct { char unit; double secs; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
		{ 'w', 7 * 86400 },
	};
	const char *rest = NULL;
	double v;

	while (isspace((unsigned char)*s))
		s++;
	if (parse_number(s, &v, &rest) < 0)
		return -EINVAL;
	if (*rest && !isspace((unsigned char)*rest)) {
		size_t i, n = sizeof(units) / sizeof(units[0]);

		for (i = 0; i < n && units[i].unit != tolower((unsigned char)*rest); i++)
			;
		if (i == n)
			return -EINVAL;
		v *= units[i].secs;
		rest++;
	}
	while (isspace((unsigned char)*rest))
		rest++;
	if (*rest)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Makes `val` absolute against p->base. */
static int path_absolute(const struct parse *p, const char *val, char *out,
			 size_t len)
{
	int n;

	if (val[0] == '/')
		n = snprintf(out, len, "%s", val);
	else if (strcmp(p->base, "/") == 0)
		n = snprintf(out, len, "/%s", val);
	else
		n = snprintf(out, len, "%s/%s", p->base, val);
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

/* Canonical form of a directory that may not exist yet: its own realpath
 * if it exists, else its parent's realpath plus its last component.
 * On failure `why` says what is wrong. */
static int path_canon_parent(const char *abs, char *out, char *why,
			     size_t whylen)
{
	char buf[PATH_MAX], parent[PATH_MAX];
	const char *base;
	struct stat st;
	size_t len;
	char *slash;
	int n;

	snprintf(buf, sizeof(buf), "%s", abs);
	len = strlen(buf);
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';
	if (realpath(buf, out)) {
		if (stat(out, &st) < 0 || !S_ISDIR(st.st_mode)) {
			snprintf(why, whylen, "'%.200s' exists and is not a directory", out);
			return -ENOTDIR;
		}
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -errno;
	}
	slash = strrchr(buf, '/');
	base = slash + 1;
	if (slash == buf)
		snprintf(parent, sizeof(parent), "/");
	else
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - buf), buf);
	if (!realpath(parent, out)) {
		int e = errno;

		snprintf(why, whylen, "parent directory '%.200s': %s", parent, strerror(e));
		return -e;
	}
	if (stat(out, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "parent '%.200s' is not a directory", parent);
		return -ENOTDIR;
	}
	len = strlen(out);
	n = snprintf(out + len, PATH_MAX - len, "%s%s",
		     strcmp(out, "/") == 0 ? "" : "/", base);
	if (n < 0 || (size_t)n >= PATH_MAX - len) {
		snprintf(why, whylen, "path too long");
		return -ENAMETOOLONG;
	}
	return 0;
}

/* Writes `v` with the largest suffix that keeps it exact: 65536 -> "64K". */
static void size_str(uint64_t v, char *buf, size_t len)
{
	static const char *const suffix[] = { "", "K", "M", "G", "T", "P" };
	int i = 0;

	while (i < 5 && v && v % 1024 == 0) {
		v /= 1024;
		i++;
	}
	snprintf(buf, len, "%" PRIu64 "%s", v, suffix[i]);
}

/* OPT_PATH: makes `val` absolute, checks it as o->flags ask and stores it
 * in `field` (PATH_MAX bytes). A relative `val` gets its resolved form
 * added to the reason of a failure. */
static int set_path(const struct parse *p, const struct cfg_opt *o, char *field,
		    const char *val, char *why, size_t whylen)
{
	char abs[PATH_MAX], reason[256];
	struct stat st;
	int rc = -EINVAL;

	if (path_absolute(p, val, abs, sizeof(abs)) < 0) {
		snprintf(why, whylen, "path too long");
		return -EINVAL;
	}
	reason[0] = '\0';
	if (o->flags & OPT_DIR) {
		if (!realpath(abs, field))
			snprintf(reason, sizeof(reason), "%s", strerror(errno));
		else if (stat(field, &st) < 0 || !S_ISDIR(st.st_mode))
			snprintf(reason, sizeof(reason), "not a directory");
	} else if (o->flags & OPT_PARENT) {
		path_canon_parent(abs, field, reason, sizeof(reason));
	} else {
		snprintf(field, PATH_MAX, "%s", abs);
	}
	if (!reason[0] && (o->flags & OPT_SOCKET) && strlen(field) > SOCKET_PATH_MAX)
		snprintf(reason, sizeof(reason), "a unix socket path has at most %zu "
			 "bytes", SOCKET_PATH_MAX);
	if (!reason[0])
		rc = 0;
	else if (val[0] == '/')
		snprintf(why, whylen, "%s", reason);
	else
		snprintf(why, whylen, "%s (relative to '%.200s')", reason, p->base);
	return rc;
}

/* Parses `val` for option `o` into the struct at `obj`. Returns 0, or
 * -EINVAL with the reason in `why`. */
static int opt_set(const struct parse *p, const struct cfg_opt *o, void *obj,
		   const char *val, char *why, size_t whylen)
{
	char *field = (char *)obj + o->offset;
	const char *rest = NULL;
	double d = 0;
	uint64_t u;

	switch (o->type) {
	case OPT_PATH:
		return set_path(p, o, field, val, why, whylen);
	case OPT_SIZE:
		if (cfg_parse_size(val, &u) < 0) {
			snprintf(why, whylen, "not a size (a number with an optional "
				 "suffix K, M, G, T or P, e.g. 100G)");
			return -EINVAL;
		}
		if (u < o->size_min || u > o->size_max ||
		    ((o->flags & OPT_POW2) && (u & (u - 1)))) {
			char lo[32], hi[32];

			size_str(o->size_min, lo, sizeof(lo));
			size_str(o->size_max, hi, sizeof(hi));
			if (o->size_max == UINT64_MAX)
				snprintf(why, whylen, "must be at least %s", lo);
			else
				snprintf(why, whylen, "must be %sbetween %s and %s",
					 (o->flags & OPT_POW2) ? "a power of two " : "",
					 lo, hi);
			return -EINVAL;
		}
		*(uint64_t *)field = u;
		return 0;
	case OPT_FRACTION:
	case OPT_PRICE:
		if (parse_number(val, &d, &rest) == 0 && o->type == OPT_FRACTION &&
		    strcmp(rest, "%") == 0) {
			d /= 100;
			rest++;
		}
		if (!rest || *rest) {
			snprintf(why, whylen, o->type == OPT_FRACTION ?
				 "not a fraction (e.g. 0.9 or 90%%)" :
				 "not a decimal number (e.g. 0.02)");
			return -EINVAL;
		}
		if (d < o->num_min || d > o->num_max ||
		    ((o->flags & OPT_MIN_OPEN) && d == o->num_min)) {
			if (o->type == OPT_FRACTION)
				snprintf(why, whylen, "must be above 0 and at most 1 (100%%)");
			else if (o->flags & OPT_MIN_OPEN)
				snprintf(why, whylen, "must be above %g and at most %g",
					 o->num_min, o->num_max);
			else
				snprintf(why, whylen, "must be between %g and %g",
					 o->num_min, o->num_max);
			return -EINVAL;
		}
		*(double *)field = d;
		return 0;
	case OPT_DURATION:
		if (cfg_parse_duration(val, &d) < 0) {
			snprintf(why, whylen, "not a duration (seconds, or a number "
				 "with a unit s, m, h, d or w, e.g. 30m or 24h)");
			return -EINVAL;
		}
		if (d < o->num_min || d > o->num_max ||
		    ((o->flags & OPT_MIN_OPEN) && d == o->num_min)) {
			snprintf(why, whylen, "must be %s %g and at most %g seconds",
				 (o->flags & OPT_MIN_OPEN) ? "above" : "at least",
				 o->num_min, o->num_max);
			return -EINVAL;
		}
		*(double *)field = d;
		return 0;
	case OPT_STRING:
		if (strlen(val) >= o->str_size) {
			snprintf(why, whylen, "longer than %zu characters",
				 o->str_size - 1);
			return -EINVAL;
		}
		if (o->check && o->check(val, why, whylen) < 0)
			return -EINVAL;
		snprintf(field, o->str_size, "%s", val);
		return 0;
	case OPT_UINT:
		u = 0;
		for (const char *q = val; ; q++) {
			if (!*q && q != val)
				break;
			if (*q < '0' || *q > '9' ||
			    u > (UINT64_MAX - (uint64_t)(*q - '0')) / 10) {
				snprintf(why, whylen, "not a whole number");
				return -EINVAL;
			}
			u = u * 10 + (uint64_t)(*q - '0');
		}
		if (u < o->size_min || u > o->size_max) {
			snprintf(why, whylen, "must be between %" PRIu64 " and %" PRIu64,
				 o->size_min, o->size_max);
			return -EINVAL;
		}
		*(uint64_t *)field = u;
		return 0;
	case OPT_ENUM:
		for (const struct opt_name *n = o->names; n->name; n++) {
			if (strcasecmp(n->name, val) == 0) {
				*(int *)field = n->value;
				return 0;
			}
		}
		{
			size_t len = (size_t)snprintf(why, whylen, "unknown %s; the known "
						      "ones are:", o->name);

			for (const struct opt_name *n = o->names; n->name && len < whylen; n++)
				len += (size_t)snprintf(why + len, whylen - len, "%s %s",
							n == o->names ? "" : ",", n->name);
		}
		return -EINVAL;
	}
	snprintf(why, whylen, "internal error: bad option type");
	return -EINVAL;
}

/* Sets every default of section kind `sec` in `obj`. */
static void opt_defaults(struct parse *p, enum opt_section sec, void *obj,
			 int line)
{
	char why[256];

	for (int i = 0; i < NOPTS; i++) {
		const struct cfg_opt *o = &opt_table[i];

		if (o->sec != sec || !o->def)
			continue;
		if (opt_set(p, o, obj, o->def, why, sizeof(why)) < 0)
			fail(p, line, "internal error: default of %s: %s", o->name, why);
	}
}

static bool tier_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len < 1 || len >= CFG_NAME_MAX)
		return false;
	for (const char *q = name; *q; q++)
		if (!isalnum((unsigned char)*q) && *q != '_' && *q != '-')
			return false;
	return true;
}

/* A section header "[name]" on line p->lineno. */
static void section_start(struct parse *p, const char *name)
{
	struct cfg *c = p->c;
	const char *tname;
	struct cfg_tier *t;

	if (strcmp(name, "fabric") == 0) {
		if (p->fabric_line) {
			fail(p, p->lineno, "section [fabric] given twice (first on line %d)",
			     p->fabric_line);
			return;
		}
		p->fabric_line = p->lineno;
		p->cur = SEC_FABRIC;
		opt_defaults(p, SEC_FABRIC, c, p->lineno);
		return;
	}
	if (strcmp(name, "placement") == 0) {
		if (p->placement_line) {
			fail(p, p->lineno, "section [placement] given twice (first on "
			     "line %d)", p->placement_line);
			return;
		}
		/* The defaults are in place since the start of the parse. */
		p->placement_line = p->lineno;
		p->cur = SEC_PLACEMENT;
		return;
	}
	if (strcmp(name, "predict") == 0) {
		if (p->predict_line) {
			fail(p, p->lineno, "section [predict] given twice (first on "
			     "line %d)", p->predict_line);
			return;
		}
		p->predict_line = p->lineno;
		p->cur = SEC_PREDICT;
		return;
	}
	if (strncmp(name, TIER_PREFIX, strlen(TIER_PREFIX)) != 0) {
		fail(p, p->lineno, "unknown section [%s] (expected [fabric], "
		     "[placement], [predict] or [tier.NAME])", name);
		return;
	}
	tname = name + strlen(TIER_PREFIX);
	if (!tier_name_ok(tname)) {
		fail(p, p->lineno, "bad tier name '%s' in [%s]: 1 to %d characters "
		     "of A-Z, a-z, 0-9, '_' and '-'", tname, name, CFG_NAME_MAX - 1);
		return;
	}
	for (int i = 0; i < c->ntiers; i++) {
		if (strcmp(c->tiers[i].name, tname) == 0) {
			fail(p, p->lineno, "section [%s] given twice (first on line %d)",
			     name, c->tiers[i].line);
			return;
		}
	}
	if (c->ntiers >= CFG_MAX_TIERS) {
		fail(p, p->lineno, "too many tiers at [%s]: at most %d", name,
		     CFG_MAX_TIERS);
		return;
	}
	t = &c->tiers[c->ntiers];
	snprintf(t->name, sizeof(t->name), "%s", tname);
	t->line = p->lineno;
	p->cur = SEC_TIER;
	p->cur_tier = c->ntiers++;
	opt_defaults(p, SEC_TIER, t, p->lineno);
}

/* inih's reader: hands over one line at a time, cleaned up (see the top of
 * the file), and stops at the first error. */
static char *reader(char *s, int num, void *stream)
{
	struct parse *p = stream;
	const char *b, *e, *next, *q;
	size_t len;

	if (p->err_line || !*p->pos)
		return NULL;
	b = p->pos;
	next = strchr(b, '\n');
	e = next ? next : b + strlen(b);
	p->pos = next ? next + 1 : e;
	p->lineno++;

	if (p->lineno == 1 && strncmp(b, "\xEF\xBB\xBF", 3) == 0)
		b += 3;  /* UTF-8 byte order mark */
	while (b < e && isspace((unsigned char)*b))
		b++;
	if (b < e && (*b == '#' || *b == ';'))
		e = b;
	for (q = b + 1; q < e; q++) {
		if ((*q == '#' || *q == ';') && (q[-1] == ' ' || q[-1] == '\t')) {
			e = q;
			break;
		}
	}
	while (e > b && isspace((unsigned char)e[-1]))
		e--;
	len = (size_t)(e - b);
	if (num < 2 || len > (size_t)num - 1) {
		fail(p, p->lineno, "line too long (at most %d characters without "
		     "leading blanks and comments)", num - 1);
		return NULL;
	}
	memcpy(s, b, len);
	s[len] = '\0';

	if (s[0] == '[') {
		char *end = strchr(s, ']');

		if (!end) {
			fail(p, p->lineno, "section header '%s' lacks a closing ']'", s);
			return NULL;
		}
		if (end[1]) {
			const char *junk = end + 1;

			while (isspace((unsigned char)*junk))
				junk++;
			fail(p, p->lineno, "unexpected '%s' after section header", junk);
			return NULL;
		}
		*end = '\0';
		section_start(p, s + 1);
		*end = ']';
		if (p->err_line)
			return NULL;
	}
	return s;
}

/* inih's handler: one key = value in the current section. */
static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parse *p = user;
	const struct cfg_opt *o;
	char label[CFG_NAME_MAX + 8], why[CFG_ERR_MAX];
	int *seen, idx;
	void *obj;

	if (p->err_line)
		return 0;
	if (p->cur == SEC_NONE) {
		fail(p, p->lineno, "key '%s' outside any section (start with [fabric])",
		     name);
		return 0;
	}
	sec_label(p, label, sizeof(label));
	if (!name[0]) {
		fail(p, p->lineno, "missing key before '=' in %s", label);
		return 0;
	}
	o = opt_find(p->cur, name, &idx);
	if (!o) {
		static const enum opt_section secs[] = { SEC_FABRIC, SEC_TIER,
							 SEC_PLACEMENT,
							 SEC_PREDICT };

		for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
			if (secs[i] != p->cur && opt_find(secs[i], name, &idx)) {
				fail(p, p->lineno, "key '%s' does not belong in %s "
				     "but in %s", name, label, sec_kind_name(secs[i]));
				return 0;
			}
		}
		fail(p, p->lineno, "unknown key '%s' in %s", name, label);
		return 0;
	}
	if (p->cur == SEC_FABRIC) {
		seen = p->fabric_seen;
		obj = p->c;
	} else if (p->cur == SEC_PLACEMENT) {
		seen = p->placement_seen;
		obj = p->c;
	} else if (p->cur == SEC_PREDICT) {
		seen = p->predict_seen;
		obj = p->c;
	} else {
		seen = p->tier_seen[p->cur_tier];
		obj = &p->c->tiers[p->cur_tier];
	}
	if (seen[idx]) {
		fail(p, p->lineno, "%s %s given twice (first on line %d)", label, name,
		     seen[idx]);
		return 0;
	}
	seen[idx] = p->lineno;
	if (!value[0]) {
		fail(p, p->lineno, "%s %s: empty value", label, name);
		return 0;
	}
	if (opt_set(p, o, obj, value, why, sizeof(why)) < 0) {
		fail(p, p->lineno, "%s %s = '%s': %s", label, name, value, why);
		return 0;
	}
	return 1;
}

/* Is `a` equal to `b` or inside it? Both canonical. */
static bool path_within(const char *a, const char *b)
{
	size_t lb = strlen(b);

	if (strcmp(b, "/") == 0)
		return true;
	return strncmp(a, b, lb) == 0 && (a[lb] == '\0' || a[lb] == '/');
}

/* Whether directory a is directory b, or lies inside it, as the
 * filesystem sees them: a, or one of its parents that exists, has b's
 * device and inode (one directory under two paths: a bind mount). b
 * must exist. */
static bool dir_within(const char *a, const char *b)
{
	char buf[PATH_MAX];
	struct stat sb, sa;
	char *slash;

	if (stat(b, &sb) < 0 || snprintf(buf, sizeof(buf), "%s", a) >=
	    (int)sizeof(buf))
		return false;
	for (;;) {
		if (stat(buf, &sa) == 0 && sa.st_dev == sb.st_dev &&
		    sa.st_ino == sb.st_ino)
			return true;
		slash = strrchr(buf, '/');
		if (!slash || slash == buf) {
			if (strcmp(buf, "/") == 0)
				return false;
			strcpy(buf, "/");
			continue;
		}
		*slash = '\0';
	}
}

/* Where directory a stands to directory b: 0 apart, 1 the same, 2 a
 * inside b, 3 b inside a; by their paths, else by device and inode. */
static int dir_meets(const char *a, const char *b)
{
	if (strcmp(a, b) == 0)
		return 1;
	if (path_within(a, b))
		return 2;
	if (path_within(b, a))
		return 3;
	if (dir_within(a, b))
		return dir_within(b, a) ? 1 : 2;
	if (dir_within(b, a))
		return 3;
	return 0;
}

/* Host and port of an endpoint ("host" or "host:port", check_endpoint),
 * the host in lower case, the port the default of the scheme when none
 * is given. */
static void endpoint_split(const struct cfg_tier *t, char *host, size_t hlen,
			   unsigned *port)
{
	const char *colon = strrchr(t->endpoint, ':');
	size_t n = colon ? (size_t)(colon - t->endpoint) : strlen(t->endpoint);

	if (n >= hlen)
		n = hlen - 1;
	for (size_t i = 0; i < n; i++)
		host[i] = (char)tolower((unsigned char)t->endpoint[i]);
	host[n] = '\0';
	*port = colon ? (unsigned)strtoul(colon + 1, NULL, 10) :
			(t->tls ? 443 : 80);
}

/* Whether two endpoints are one server: the same host (any case) and
 * port, or hosts that resolve to a common address (localhost and
 * 127.0.0.1); a host that does not resolve meets only itself. */
static bool same_endpoint(const struct cfg_tier *a, const struct cfg_tier *b)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ra = NULL,
			*rb = NULL;
	char ha[CFG_S3_ENDPOINT_MAX], hb[CFG_S3_ENDPOINT_MAX];
	unsigned pa, pb;
	bool same = false;

	endpoint_split(a, ha, sizeof(ha), &pa);
	endpoint_split(b, hb, sizeof(hb), &pb);
	if (pa != pb)
		return false;
	if (strcmp(ha, hb) == 0)
		return true;
	if (getaddrinfo(ha, NULL, &hints, &ra) == 0 &&
	    getaddrinfo(hb, NULL, &hints, &rb) == 0) {
		for (const struct addrinfo *x = ra; x && !same; x = x->ai_next)
			for (const struct addrinfo *y = rb; y && !same; y = y->ai_next)
				same = x->ai_family == y->ai_family &&
				       x->ai_addrlen == y->ai_addrlen &&
				       ((x->ai_family == AF_INET &&
					 !memcmp(&((struct sockaddr_in *)x->ai_addr)->sin_addr,
						 &((struct sockaddr_in *)y->ai_addr)->sin_addr,
						 sizeof(struct in_addr))) ||
					(x->ai_family == AF_INET6 &&
					 !memcmp(&((struct sockaddr_in6 *)x->ai_addr)->sin6_addr,
						 &((struct sockaddr_in6 *)y->ai_addr)->sin6_addr,
						 sizeof(struct in6_addr))));
	}
	if (ra)
		freeaddrinfo(ra);
	if (rb)
		freeaddrinfo(rb);
	return same;
}

static void check_fabric(struct parse *p, int last_line)
{
	struct cfg *c = p->c;
	int n;

	if (!p->fabric_line) {
		fail(p, last_line, "no [fabric] section (it must set meta)");
		return;
	}
	for (int i = 0; i < NOPTS; i++) {
		if (opt_table[i].sec == SEC_FABRIC && (opt_table[i].flags & OPT_REQUIRED) &&
		    !p->fabric_seen[i]) {
			fail(p, p->fabric_line, "[fabric] lacks the required key %s",
			     opt_table[i].name);
			return;
		}
	}
	if (!c->control[0]) {
		n = snprintf(c->control, sizeof(c->control), "%s.sock", c->meta);
		if (n < 0 || (size_t)n > SOCKET_PATH_MAX) {
			fail(p, p->fabric_line, "[fabric] control: the default '%s.sock' is "
			     "longer than %zu bytes, the limit of a unix socket path; "
			     "set control to a shorter path", c->meta, SOCKET_PATH_MAX);
			return;
		}
	}
}

static const char *kind_name(enum cfg_tier_kind kind)
{
	for (const struct opt_name *n = tier_kind_names; n->name; n++)
		if (n->value == (int)kind)
			return n->name;
	return "?";
}

static void check_tier(struct parse *p, int i)
{
	struct cfg_tier *t = &p->c->tiers[i];
	int kind_line = 0;

	for (int k = 0; k < NOPTS; k++)
		if (opt_table[k].sec == SEC_TIER && strcmp(opt_table[k].name, "kind") == 0)
			kind_line = p->tier_seen[i][k];
	/* A key of another kind, at the first line that sets one. */
	for (int line = 1, first = 0; line <= p->lineno && !first; line++) {
		for (int k = 0; k < NOPTS; k++) {
			const struct cfg_opt *o = &opt_table[k];

			if (o->sec != SEC_TIER || p->tier_seen[i][k] != line || !o->kinds ||
			    !kind_line || (o->kinds & KIND_BIT(t->kind)))
				continue;
			fail(p, line, "[tier.%s] %s: not a key of kind = %s tiers "
			     "(the tier's kind is set on line %d)", t->name, o->name,
			     kind_name(t->kind), kind_line);
			first = 1;
			break;
		}
	}
	if (p->err_line)
		return;
	for (int k = 0; k < NOPTS; k++) {
		const struct cfg_opt *o = &opt_table[k];

		if (o->sec == SEC_TIER && (o->flags & OPT_REQUIRED) &&
		    (!o->kinds || !kind_line || (o->kinds & KIND_BIT(t->kind))) &&
		    !p->tier_seen[i][k]) {
			if (o->kinds && kind_line)
				fail(p, t->line, "[tier.%s] lacks the required key %s "
				     "(for kind = %s tiers)", t->name, o->name,
				     kind_name(t->kind));
			else
				fail(p, t->line, "[tier.%s] lacks the required key %s",
				     t->name, o->name);
			return;
		}
	}
	if (t->kind == CFG_TIER_S3) {
		char ak[CFG_S3_SECRET_MAX], sk[CFG_S3_SECRET_MAX], why[CFG_ERR_MAX];
		int cred_line = t->line;

		for (int k = 0; k < NOPTS; k++)
			if (opt_table[k].sec == SEC_TIER && p->tier_seen[i][k] &&
			    strcmp(opt_table[k].name, "credentials_file") == 0)
				cred_line = p->tier_seen[i][k];
		if (cfg_s3_credentials(t, ak, sizeof(ak), sk, sizeof(sk), why,
				       sizeof(why)) < 0)
			fail(p, cred_line, "%s", why);
		explicit_bzero(ak, sizeof(ak));
		explicit_bzero(sk, sizeof(sk));
		if (p->err_line)
			return;
	}
	if (!(t->low_watermark < t->high_watermark))
		fail(p, t->line, "[tier.%s] low_watermark (%g) must be below "
		     "high_watermark (%g)", t->name, t->low_watermark,
		     t->high_watermark);
}

/* The checks that need the whole file, in the order of the sections. */
static void check_all(struct parse *p)
{
	struct cfg *c = p->c;
	int last_line = p->lineno;
	bool fabric_done = false;

	for (int i = 0; i < c->ntiers && !p->err_line; i++) {
		if (!fabric_done && p->fabric_line && p->fabric_line < c->tiers[i].line) {
			check_fabric(p, last_line);
			fabric_done = true;
		}
		check_tier(p, i);
	}
	if (!fabric_done)
		check_fabric(p, last_line);
	if (!p->err_line && c->predict.horizon[0] >= c->predict.horizon[1])
		fail(p, p->predict_line, "[predict] horizon_short (%g s) must be "
		     "shorter than horizon_long (%g s)", c->predict.horizon[0],
		     c->predict.horizon[1]);
	if (!p->err_line && p->placement_line && c->placement.w_frequency == 0 &&
	    c->placement.w_latency == 0 && c->placement.w_cost == 0 &&
	    c->placement.w_trend == 0)
		fail(p, p->placement_line, "[placement] w_frequency, w_latency, "
		     "w_cost and w_trend are all 0: at least one weight must be "
		     "above 0");
	if (!c->ntiers)
		fail(p, last_line, "no [tier.NAME] section: at least one tier is needed");
	if (p->err_line)
		return;

	for (int j = 1; j < c->ntiers; j++) {
		const struct cfg_tier *tj = &c->tiers[j];

		for (int i = 0; i < j; i++) {
			const struct cfg_tier *ti = &c->tiers[i];

			if (ti->kind != tj->kind)
				continue;
			if (tj->kind == CFG_TIER_S3) {
				size_t li = strlen(ti->prefix), lj = strlen(tj->prefix);
				bool other = strcmp(ti->endpoint, tj->endpoint) != 0;

				/* each tier deletes at start the objects under
				 * its prefix that no extent names: two on one
				 * place delete each other's */
				if (strcmp(ti->bucket, tj->bucket) == 0 &&
				    strncmp(ti->prefix, tj->prefix, li < lj ? li : lj) == 0 &&
				    same_endpoint(ti, tj))
					fail(p, tj->line, "[tier.%s] shares bucket '%s' at '%s' "
					     "with [tier.%s] (line %d)%s%s%s and one prefix "
					     "starts the other; give each tier a prefix of "
					     "its own (e.g. 'a/' and 'b/')", tj->name,
					     tj->bucket, tj->endpoint, ti->name, ti->line,
					     other ? ", at '" : "", other ? ti->endpoint : "",
					     other ? "', the same server," : "");
				continue;
			}
			switch (dir_meets(tj->path, ti->path)) {
			case 1:
				fail(p, tj->line, "[tier.%s] path '%s' is also the path of "
				     "[tier.%s] (line %d)%s", tj->name, tj->path, ti->name,
				     ti->line, strcmp(ti->path, tj->path) ?
				     ", under another name (a bind mount?)" : "");
				break;
			case 2:
				fail(p, tj->line, "[tier.%s] path '%s' lies inside the path "
				     "'%s' of [tier.%s] (line %d)", tj->name, tj->path,
				     ti->path, ti->name, ti->line);
				break;
			case 3:
				fail(p, tj->line, "[tier.%s] path '%s' contains the path "
				     "'%s' of [tier.%s] (line %d)", tj->name, tj->path,
				     ti->path, ti->name, ti->line);
				break;
			}
		}
	}
	for (int i = 0; i < c->ntiers; i++) {
		const struct cfg_tier *t = &c->tiers[i];

		if (t->kind != CFG_TIER_LOCAL)
			continue;
		int m = dir_meets(c->meta, t->path);

		if (m == 1)
			fail(p, p->fabric_line, "[fabric] meta '%s' is the path of "
			     "[tier.%s] (line %d); the metadata needs a directory of "
			     "its own", c->meta, t->name, t->line);
		else if (m == 2)
			fail(p, p->fabric_line, "[fabric] meta '%s' lies inside the path "
			     "'%s' of [tier.%s] (line %d)", c->meta, t->path, t->name,
			     t->line);
	}
}

/* Quotes line `n` of the text (cleaned up) for a syntax error. */
static void syntax_error(struct parse *p, int n)
{
	const char *b = p->text, *e;
	int len;

	for (int i = 1; i < n && b; i++) {
		b = strchr(b, '\n');
		if (b)
			b++;
	}
	if (!b)
		b = "";
	e = strchr(b, '\n');
	len = e ? (int)(e - b) : (int)strlen(b);
	while (len > 0 && isspace((unsigned char)*b)) {
		b++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)b[len - 1]))
		len--;
	p->err_line = 0;
	fail(p, n, "expected '[section]' or 'key = value', got '%.*s'",
	     len > 60 ? 60 : len, b);
}

/* The one path of cfg_load and cfg_parse_string. */
static int parse_text(struct parse *p, struct cfg *out, const char *name,
		      const char *text, char *err, size_t errlen)
{
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(out->file, sizeof(out->file), "%s", name);
	p->c = out;
	p->text = text;
	p->pos = text;
	opt_defaults(p, SEC_PLACEMENT, out, 1);
	opt_defaults(p, SEC_PREDICT, out, 1);

	rc = ini_parse_stream(reader, p, handler, p);
	if (rc == -2) {
		fail(p, p->lineno, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	if (rc > 0 && (!p->err_line || rc < p->err_line))
		syntax_error(p, rc);
	if (!p->err_line)
		check_all(p);
	rc = p->err_line ? -EINVAL : 0;
out:
	if (rc) {
		if (err && errlen)
			snprintf(err, errlen, "%s", p->msg);
		memset(out, 0, sizeof(*out));
		return rc;
	}
	log_debug("config %s: meta %s, %d tier(s)", name, out->meta, out->ntiers);
	return 0;
}

int cfg_parse_string(const char *text, const char *name, struct cfg *out,
		     char *err, size_t errlen)
{
	struct parse *p;
	int rc;

	p = calloc(1, sizeof(*p));
	if (!p) {
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	if (!getcwd(p->base, sizeof(p->base))) {
		rc = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: current directory: %s", name,
				 strerror(-rc));
		goto out;
	}
	rc = parse_text(p, out, name, text, err, errlen);
out:
	free(p);
	return rc;
}

/* Reads what is left of fd into a malloc'd, NUL-terminated buffer, at
 * most CFG_FILE_MAX bytes (-EFBIG past that). */
static int read_fd(int fd, char **buf_out, size_t *len_out)
{
	char *buf = NULL;
	size_t len = 0, cap = 4096;
	int rc = 0;

	buf = malloc(cap);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (len + 1 == cap) {
			char *nb;

			if (cap > CFG_FILE_MAX) {
				rc = -EFBIG;
				goto out;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CFG_FILE_MAX) {      /* the buffer may hold up to twice */
		rc = -EFBIG;
		goto out;
	}
	buf[len] = '\0';
	*buf_out = buf;
	*len_out = len;
	buf = NULL;
out:
	free(buf);
	return rc;
}

/* Reads the whole file into a NUL-terminated buffer (caller frees). */
static int read_file(const char *path, char **buf_out, size_t *len_out)
{
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = read_fd(fd, buf_out, len_out);
	close(fd);
	return rc;
}

int cfg_load(const char *path, struct cfg *out, char *err, size_t errlen)
{
	struct parse *p = NULL;
	char *text = NULL, *nul;
	char dir[PATH_MAX];
	const char *slash;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = read_file(path, &text, &len);
	if (rc < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, rc == -EFBIG ?
				 "larger than 1 MiB, not a config file" : strerror(-rc));
		if (rc == -EFBIG)
			rc = -EINVAL;
		goto out;
	}
	nul = memchr(text, '\0', len);
	if (nul) {
		int line = 1;

		for (const char *q = text; q < nul; q++)
			line += (*q == '\n');
		if (err && errlen)
			snprintf(err, errlen, "%s:%d: NUL byte, not a text file", path, line);
		rc = -EINVAL;
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		rc = -ENOMEM;
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (!realpath(dir, p->base)) {
		rc = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: directory '%s': %s", path, dir,
				 strerror(-rc));
		goto out;
	}
	rc = parse_text(p, out, path, text, err, errlen);
out:
	free(p);
	free(text);
	return rc;
}

/* One "key = value" line of a credentials file into ak or sk. */
static int cred_line(const char *file, int lineno, char *line, char *ak,
		     size_t aklen, char *sk, size_t sklen, int *have,
		     char *err, size_t errlen, const char *tier)
{
	char *b = line, *e, *eq, *key_end, *val;
	char *dst;
	size_t dlen;
	int bit;

	while (isspace((unsigned char)*b))
		b++;
	e = b + strlen(b);
	while (e > b && isspace((unsigned char)e[-1]))
		*--e = '\0';
	if (!*b || *b == '#' || *b == ';')
		return 0;
	eq = strchr(b, '=');
	if (!eq)
		goto bad;
	key_end = eq;
	while (key_end > b && isspace((unsigned char)key_end[-1]))
		key_end--;
	*key_end = '\0';
	val = eq + 1;
	while (isspace((unsigned char)*val))
		val++;
	if (strcmp(b, "access_key") == 0) {
		dst = ak;
		dlen = aklen;
		bit = 1;
	} else if (strcmp(b, "secret_key") == 0) {
		dst = sk;
		dlen = sklen;
		bit = 2;
	} else {
		snprintf(err, errlen, "tier %s: credentials file %s:%d: unknown "
			 "key '%.40s' (expected access_key or secret_key)", tier,
			 file, lineno, b);
		return -EINVAL;
	}
	if (*have & bit) {
		snprintf(err, errlen, "tier %s: credentials file %s:%d: %s given "
			 "twice", tier, file, lineno, b);
		return -EINVAL;
	}
	if (!*val || strlen(val) >= dlen) {
		snprintf(err, errlen, "tier %s: credentials file %s:%d: %s is empty "
			 "or longer than %zu characters", tier, file, lineno, b,
			 dlen - 1);
		return -EINVAL;
	}
	snprintf(dst, dlen, "%s", val);
	*have |= bit;
	return 0;
bad:
	snprintf(err, errlen, "tier %s: credentials file %s:%d: expected "
		 "'access_key = ...' or 'secret_key = ...'", tier, file, lineno);
	return -EINVAL;
}

int cfg_s3_credentials(const struct cfg_tier *t, char *access_key,
		       size_t aklen, char *secret_key, size_t sklen, char *err,
		       size_t errlen)
{
	const char *f = t->credentials_file;
	char *text = NULL, *line, *next;
	struct stat st;
	int have = 0, lineno = 0, rc, fd = -1;
	size_t len = 0;

	access_key[0] = '\0';
	secret_key[0] = '\0';
	if (!f[0]) {
		const char *ak = getenv("AWS_ACCESS_KEY_ID");
		const char *sk = getenv("AWS_SECRET_ACCESS_KEY");

		if (!ak || !*ak || !sk || !*sk) {
			snprintf(err, errlen, "tier %s: no credentials: set "
				 "credentials_file, or AWS_ACCESS_KEY_ID and "
				 "AWS_SECRET_ACCESS_KEY in the environment", t->name);
			return -EINVAL;
		}
		if (strlen(ak) >= aklen || strlen(sk) >= sklen) {
			snprintf(err, errlen, "tier %s: AWS_ACCESS_KEY_ID or "
				 "AWS_SECRET_ACCESS_KEY is too long", t->name);
			return -EINVAL;
		}
		snprintf(access_key, aklen, "%s", ak);
		snprintf(secret_key, sklen, "%s", sk);
		return 0;
	}
	/* A symbolic link is followed (secrets are often mounted as links);
	 * what is checked and read is the file it leads to, through one
	 * descriptor. */
	fd = open(f, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "tier %s: credentials file '%s': %s", t->name,
			 f, strerror(-rc));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(err, errlen, "tier %s: credentials file '%s' is not a "
			 "regular file", t->name, f);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		rc = -EPERM;
		snprintf(err, errlen, "tier %s: credentials file '%s' belongs to uid "
			 "%u, not to the daemon's user (uid %u)", t->name, f,
			 (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	if (st.st_mode & 077) {
		rc = -EPERM;
		snprintf(err, errlen, "tier %s: credentials file '%s' has mode %04o: "
			 "others may read it; it must be 0600 or stricter "
			 "(chmod 600 '%s')", t->name, f, (unsigned)(st.st_mode & 07777),
			 f);
		goto out;
	}
	rc = read_fd(fd, &text, &len);
	if (rc < 0) {
		snprintf(err, errlen, "tier %s: credentials file '%s': %s", t->name,
			 f, rc == -EFBIG ? "too large" : strerror(-rc));
		goto out;
	}
	if (memchr(text, '\0', len)) {
		rc = -EINVAL;
		snprintf(err, errlen, "tier %s: credentials file '%s': NUL byte, not "
			 "a text file", t->name, f);
		goto out;
	}
	for (line = text; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		rc = cred_line(f, ++lineno, line, access_key, aklen, secret_key,
			       sklen, &have, err, errlen, t->name);
		if (rc < 0)
			goto out;
	}
	if (have != 3) {
		rc = -EINVAL;
		snprintf(err, errlen, "tier %s: credentials file '%s' lacks %s",
			 t->name, f, (have & 1) ? "secret_key" : "access_key");
		goto out;
	}
	rc = 0;
out:
	if (text) {
		explicit_bzero(text, len);
		free(text);
	}
	if (fd >= 0)
		close(fd);
	if (rc < 0) {
		explicit_bzero(access_key, aklen);
		explicit_bzero(secret_key, sklen);
		access_key[0] = '\0';
		secret_key[0] = '\0';
	}
	return rc;
}

int cfg_tier_index(const struct cfg *c, const char *name)
{
	for (int i = 0; i < c->ntiers; i++)
		if (strcmp(c->tiers[i].name, name) == 0)
			return i;
	return -1;
}
