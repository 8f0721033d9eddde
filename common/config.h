/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dfabric.conf: an INI file parsed with libinih against one table of
 * options (see config.c and man/dfabric.conf.5).
 *
 * Sections:
 *   [fabric]        meta, control, extent_size, log_level, checksum,
 *                   migrate_bandwidth, migrate_busy_bandwidth,
 *                   migrate_jobs, migrate_s3_jobs, migrate_io_class,
 *                   migrate_verify
 *   [tier.NAME]     kind, capacity, cost_gb_month, high_watermark,
 *                   low_watermark, egress_gb, cost_per_1k_get,
 *                   cost_per_1k_put, private; kind = local: path;
 *                   kind = s3: endpoint, bucket, prefix, region, tls,
 *                   addressing, signature, credentials_file,
 *                   s3_parallel, connect_timeout, request_timeout, retries
 *   [placement]     half_life, w_frequency, w_latency, w_cost, w_trend,
 *                   hysteresis, confidence, hot_freq, promote_freq,
 *                   interval, horizon, auto (optional section)
 *   [predict]       enabled, proactive, bin, burst, horizon_short,
 *                   horizon_long, window, retrain, rise, rise_confidence,
 *                   fall, fall_confidence, anomaly_sigma, scan_files,
 *                   scan_window (optional section)
 * Tiers are ordered fastest first, as written. */
#ifndef DF_CONFIG_H
#define DF_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_MAX_TIERS    8
#define CFG_NAME_MAX     32    /* tier name incl. NUL: [A-Za-z0-9_-]{1,31} */
#define CFG_ERR_MAX      512   /* size of the error buffers below */

enum cfg_tier_kind {
	CFG_TIER_LOCAL = 1,    /* a directory on a local filesystem */
	CFG_TIER_S3 = 2,       /* a bucket of an S3-compatible object store */
};

enum cfg_checksum {
	CFG_CSUM_XXH3 = 1,     /* XXH3-128 */
	CFG_CSUM_SHA256 = 2,   /* SHA-256 */
};

enum cfg_io_class {
	CFG_IO_IDLE = 1,       /* copies' I/O only when the disk has nothing else */
	CFG_IO_BEST_EFFORT = 2, /* lowest best-effort level */
};

/* Where a migration reads a local copy back from to verify it. */
enum cfg_verify {
	CFG_VERIFY_DEVICE = 1, /* O_DIRECT, from the medium */
	CFG_VERIFY_CACHE = 2,  /* through the page cache, after the flush */
};

enum cfg_s3_addressing {
	CFG_S3_PATH = 0,       /* http://endpoint/bucket/key */
	CFG_S3_VIRTUAL = 1,    /* http://bucket.endpoint/key */
};

enum cfg_s3_signature {
	CFG_S3_SIG_V2 = 2,     /* AWS signature version 2 (libs3) */
	CFG_S3_SIG_V4 = 4,     /* AWS signature version 4 (libcurl) */
};

#define CFG_S3_ENDPOINT_MAX 256  /* "host:port" incl. NUL */
#define CFG_S3_BUCKET_MAX   64   /* S3 bucket names have 3..63 characters */
#define CFG_S3_PREFIX_MAX   256  /* key prefix incl. NUL */
#define CFG_S3_REGION_MAX   32   /* region name incl. NUL */
#define CFG_S3_SECRET_MAX   256  /* an access or secret key incl. NUL */

struct cfg_tier {
	char name[CFG_NAME_MAX];       /* from the section name [tier.NAME] */
	enum cfg_tier_kind kind;       /* kind = local | s3 */
	char path[PATH_MAX];           /* local: absolute, canonical (realpath) */
	uint64_t capacity;             /* bytes dfabric may use; required */
	double cost_gb_month;          /* price per GB-month, default 0 */
	double high_watermark;         /* fraction of capacity, default 0.90 */
	double low_watermark;          /* fraction of capacity, default 0.80 */
	double egress_gb;              /* price per GB read out, default 0 */
	double cost_per_1k_get;        /* price per 1000 reads, default 0 */
	double cost_per_1k_put;        /* price per 1000 writes, default 0 */
	int private_tier;              /* private = yes: may hold class restricted
	                                * data (local tiers always may) */
	/* kind = s3 only. No secret is ever kept here: the backend reads the
	 * keys itself with cfg_s3_credentials(). */
	char endpoint[CFG_S3_ENDPOINT_MAX]; /* "host" or "host:port"; required */
	char bucket[CFG_S3_BUCKET_MAX];     /* bucket name; required */
	char prefix[CFG_S3_PREFIX_MAX];     /* key prefix, default "" */
	char region[CFG_S3_REGION_MAX];     /* default "us-east-1" */
	int tls;                       /* 1: https (default), 0: http */
	int addressing;                /* enum cfg_s3_addressing, default path */
	int signature;                 /* enum cfg_s3_signature, default v2 */
	char credentials_file[PATH_MAX]; /* absolute; "" = the environment */
	uint64_t s3_parallel;          /* requests in flight, 1..64, default 8 */
	uint64_t connect_timeout;      /* seconds, default 5 */
	uint64_t request_timeout;      /* seconds per request, default 30 */
	uint64_t retries;              /* retries of a failed request, default 4 */
	int line;                      /* line of the section header */
};

/* [placement]: the access profiler and the placement score
 * (tiering/profile.h, tiering/score.h). Every key has a default, so the
 * section may be left out. Durations are in seconds. */
struct cfg_placement {
	double half_life;              /* of the decayed frequency, default 24h, > 0 */
	double w_frequency;            /* score weights, >= 0, not all 0: */
	double w_latency;              /*   0.4, 0.3, 0.2, 0.1 */
	double w_cost;
	double w_trend;
	double hysteresis;             /* margin a move must win by, 0..1, default 0.05 */
	double confidence;             /* threshold to move, 0..1, default 0.7 */
	double hot_freq;               /* frequency of a half-hot file, > 0, default 4 */
	double promote_freq;           /* promote on access at this frequency, default 3; 0 off */
	double interval;               /* between placer passes, default 60; 0 = off */
	double horizon;                /* a move's cost is spread over it, default 30d */
	int auto_place;                /* auto = yes|no: the daemon places files, default no */
};

/* [predict]: forecasts of access (tiering/predictor.h, predict/). Every
 * key has a default. Durations are in seconds. */
struct cfg_predict {
	int enabled;                   /* enabled = yes|no, default yes */
	int proactive;                 /* proactive = yes|no: move data on
					* forecasts (with [placement] auto), yes */
	int cache;                     /* cache = yes|no: run the fastest tier as a
					* cache by predicted reuse, with
					* prefetch rounds (with [placement]
					* auto), default no */
	double prefetch;               /* seconds between prefetch rounds, 10 */
	double bin;                    /* fine bin of the histories, default 1h */
	double burst;                  /* accesses closer are one session, 1 */
	double horizon[2];             /* horizon_short 5m, horizon_long 1h */
	double window;                 /* the trend's window, default 30d */
	double retrain;                /* between trainings of the trees, 10m; 0 never */
	double rise;                   /* predicted rise that promotes early, 0.5 */
	double rise_confidence;        /*   at this confidence, 0.7 */
	double fall;                   /* predicted fall that demotes early, 0.8 */
	double fall_confidence;        /*   at this confidence, 0.8 */
	double anomaly_sigma;          /* access this far out is an anomaly, 3 */
	uint64_t scan_files;           /* files a process touches in a window
					* before it may be a scan, 256 */
	double scan_window;            /* seconds, default 10 */
};

struct cfg {
	char file[PATH_MAX];           /* the config file as given */
	char meta[PATH_MAX];           /* RocksDB directory, absolute */
	char control[PATH_MAX];        /* control socket; default "<meta>.sock" */
	uint64_t extent_size;          /* default 4 MiB; 64 KiB..64 MiB, power of 2 */
	int log_level;                 /* syslog level, default LOG_INFO */
	int checksum;                  /* enum cfg_checksum, default xxh3 */
	uint64_t migrate_bandwidth;    /* bytes/s per tier pair, default 200M; 0 = no limit */
	uint64_t migrate_busy_bandwidth; /* the same while reads or writes come
					  * in, default 32M; 0 = none */
	uint64_t migrate_jobs;         /* migrations in flight, default 4 */
	uint64_t migrate_s3_jobs;      /* those to or from an object store,
					* on workers of their own, default 2 */
	int migrate_io_class;          /* enum cfg_io_class, default idle */
	int migrate_verify;            /* enum cfg_verify, default cache */
	int ntiers;                    /* 1..CFG_MAX_TIERS */
	struct cfg_tier tiers[CFG_MAX_TIERS];
	struct cfg_placement placement; /* [placement] */
	struct cfg_predict predict;    /* [predict] */
};

/* Reads and validates the config file `path`. Relative paths in the file
 * are resolved against the file's directory. Returns 0, or -EINVAL with a
 * message "FILE:LINE: what is wrong" in err (-ENOENT/-EACCES when the file
 * cannot be read). Checks: unknown sections and keys, bad numbers and
 * sizes, missing required keys, tier paths that do not exist or are not
 * directories, two tiers on one path or one inside another, the meta
 * directory inside a tier. */
int cfg_load(const char *path, struct cfg *out, char *err, size_t errlen);

/* The same on a string; `name` stands for the file name in messages and
 * relative paths resolve against the current directory. For tests. */
int cfg_parse_string(const char *text, const char *name, struct cfg *out,
		     char *err, size_t errlen);

/* Parses a size: a decimal integer with an optional suffix K, M, G, T, P
 * (powers of 1024, optionally followed by "iB" or "B"). Returns 0 or
 * -EINVAL (empty, junk, negative, overflow). */
int cfg_parse_size(const char *s, uint64_t *out);

/* Parses a duration into seconds: a decimal number ("90", "1.5") with an
 * optional unit s, m, h, d or w (seconds, minutes, hours, days, weeks),
 * e.g. "86400", "30m", "24h", "30d". Returns 0 or -EINVAL (empty, junk,
 * negative, unknown unit, more than 15 digits). */
int cfg_parse_duration(const char *s, double *out);

/* The access and secret key of s3 tier t: from t->credentials_file (a
 * file of the daemon's user, mode 0600 or stricter, lines
 * "access_key = X" and "secret_key = Y") or else from the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). Returns 0, or -errno with a
 * message naming the tier (and FILE:LINE for a bad file) in err. The keys
 * never appear in messages. The caller wipes them when done. */
int cfg_s3_credentials(const struct cfg_tier *t, char *access_key,
		       size_t aklen, char *secret_key, size_t sklen, char *err,
		       size_t errlen);

/* Index of the tier named `name`, or -1. */
int cfg_tier_index(const struct cfg *c, const char *name);

#endif
