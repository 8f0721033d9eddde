/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dfabric.conf: an INI file parsed with libinih against one table of
 * options (see config.c and man/dfabric.conf.5).
 *
 * Sections:
 *   [fabric]        meta, control, extent_size, log_level, checksum,
 *                   migrate_bandwidth, migrate_jobs
 *   [tier.NAME]     kind, path, capacity, cost_gb_month, high_watermark,
 *                   low_watermark
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
};

enum cfg_checksum {
	CFG_CSUM_XXH3 = 1,     /* XXH3-128 */
	CFG_CSUM_SHA256 = 2,   /* SHA-256 */
};

struct cfg_tier {
	char name[CFG_NAME_MAX];       /* from the section name [tier.NAME] */
	enum cfg_tier_kind kind;       /* kind = local */
	char path[PATH_MAX];           /* absolute, canonical (realpath) */
	uint64_t capacity;             /* bytes dfabric may use; required */
	double cost_gb_month;          /* price per GB-month, default 0 */
	double high_watermark;         /* fraction of capacity, default 0.90 */
	double low_watermark;          /* fraction of capacity, default 0.80 */
	int line;                      /* line of the section header */
};

struct cfg {
	char file[PATH_MAX];           /* the config file as given */
	char meta[PATH_MAX];           /* RocksDB directory, absolute */
	char control[PATH_MAX];        /* control socket; default "<meta>.sock" */
	uint64_t extent_size;          /* default 4 MiB; 64 KiB..64 MiB, power of 2 */
	int log_level;                 /* syslog level, default LOG_INFO */
	int checksum;                  /* enum cfg_checksum, default xxh3 */
	uint64_t migrate_bandwidth;    /* bytes/s per tier pair, default 200M; 0 = no limit */
	uint64_t migrate_jobs;         /* migrations in flight, default 2 */
	int ntiers;                    /* 1..CFG_MAX_TIERS */
	struct cfg_tier tiers[CFG_MAX_TIERS];
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

/* Index of the tier named `name`, or -1. */
int cfg_tier_index(const struct cfg *c, const char *name);

#endif
