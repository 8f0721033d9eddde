// SPDX-License-Identifier: GPL-2.0-or-later
/* Opening a backend by the kind its tier is configured with. */
#include "backends/backend.h"
#include "backends/fault.h"

#include <errno.h>
#include <stdio.h>

static int open_kind(const struct cfg_tier *t, int index, struct backend **out,
		     char *err, size_t errlen)
{
	switch (t->kind) {
	case CFG_TIER_LOCAL:
		return be_local_open(t, index, out, err, errlen);
	case CFG_TIER_S3:
		return be_s3_open(t, index, out, err, errlen);
	default:
		snprintf(err, errlen, "tier %s: unknown kind %d", t->name,
			 (int)t->kind);
		return -EINVAL;
	}
}

int be_open(const struct cfg_tier *t, int index, struct backend **out,
	    char *err, size_t errlen)
{
	int rc = open_kind(t, index, out, err, errlen);

	if (rc == 0 && be_open_hook)
		*out = be_open_hook(*out);
	return rc;
}
