/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A fault-injecting backend for tests: it wraps another backend and, on
 * request, fails chosen operations with a chosen errno, writes short, or
 * corrupts what a read returns. Everything else passes through. */
#ifndef DF_BACKEND_FAULT_H
#define DF_BACKEND_FAULT_H

#include "backends/backend.h"

enum fault_op {
	FAULT_EXT_READ, FAULT_EXT_WRITE, FAULT_EXT_SYNC, FAULT_EXT_FREE,
	FAULT_PREAD, FAULT_PWRITE, FAULT_SYNC, FAULT_TRUNCATE, FAULT_SEEK,
	FAULT_OP_COUNT
};

enum fault_kind {
	FAULT_FAIL = 1,        /* return -err */
	FAULT_SHORT = 2,       /* pwrite: write half, return the count */
	FAULT_CORRUPT = 3,     /* reads: flip a byte of what was read */
};

/* Wraps `inner` (which the wrapper then owns and destroys). Returns 0 and
 * *out, or -ENOMEM. */
int be_fault_wrap(struct backend *inner, struct backend **out);
/* From the `after`-th call of op on (0: the next one), for `count` calls
 * (-1: forever), do `kind` (with errno `err` for FAULT_FAIL). */
void be_fault_set(struct backend *be, enum fault_op op, enum fault_kind kind,
		  int err, int after, int count);
/* Clears every fault. */
void be_fault_clear(struct backend *be);
/* Calls of op so far. */
int be_fault_calls(struct backend *be, enum fault_op op);

/* If set, be_open() passes every backend it opens through this function
 * (tests use it to wrap tiers in fault backends). */
extern struct backend *(*be_open_hook)(struct backend *be);

#endif
