/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Temporary directories of the unit tests: a test's directory with the
 * tier directories most fixtures use, and its removal. */
#ifndef DF_TESTS_TMPDIR_H
#define DF_TESTS_TMPDIR_H

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static inline int tmpdir_rm_one(const char *path, const struct stat *st,
				int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes dir and everything below it. 0 or -1. */
static inline int tmpdir_remove(const char *dir)
{
	return nftw(dir, tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Makes the directory of template dir (as mkdtemp, which fills it in)
 * and, below it, the tier directories nvme and hdd. 0 or -1. */
static inline int tmpdir_tiers(char *dir)
{
	static const char *const sub[] = { "nvme", "hdd" };
	char p[PATH_MAX];

	if (!mkdtemp(dir))
		return -1;
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, sub[i]);
		if (mkdir(p, 0700) < 0)
			return -1;
	}
	return 0;
}

#endif
