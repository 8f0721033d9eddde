// SPDX-License-Identifier: GPL-2.0-or-later
/* The fault-injecting backend (see fault.h). */
#include "backends/fault.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct fault_rule {
	enum fault_kind kind;          /* 0: none */
	int err;                       /* errno for FAULT_FAIL */
	int after;                     /* calls to let through first */
	int count;                     /* faulty calls left, -1 forever */
	int calls;                     /* calls seen */
};

struct fault {
	struct backend *inner;         /* the wrapped backend */
	struct be_ops ops;             /* inner's table with ours spliced in */
	pthread_mutex_t lock;          /* rules */
	struct fault_rule rule[FAULT_OP_COUNT]; /* by enum fault_op */
};

struct backend *(*be_open_hook)(struct backend *be);

static struct fault *fl_of(struct backend *be)
{
	return be->priv;
}

/* The fault to apply to this call of op, or 0. */
static enum fault_kind hit(struct fault *fl, enum fault_op op, int *err)
{
	struct fault_rule *r = &fl->rule[op];
	enum fault_kind k = 0;

	pthread_mutex_lock(&fl->lock);
	r->calls++;
	if (r->kind && r->count != 0) {
		if (r->after > 0) {
			r->after--;
		} else {
			k = r->kind;
			*err = r->err;
			if (r->count > 0)
				r->count--;
		}
	}
	pthread_mutex_unlock(&fl->lock);
	return k;
}

static void corrupt(void *buf, size_t n)
{
	if (n)
		((unsigned char *)buf)[n / 2] ^= 0x5a;
}

static ssize_t f_ext_read(struct backend *be, const struct be_ext *x,
			  void *buf, size_t len, uint64_t off)
{
	struct fault *fl = fl_of(be);
	int err = 0;
	enum fault_kind k = hit(fl, FAULT_EXT_READ, &err);
	ssize_t rc;

	if (k == FAULT_FAIL)
		return -err;
	rc = fl->inner->ops->ext_read(fl->inner, x, buf, len, off);
	if (rc > 0 && k == FAULT_CORRUPT)
		corrupt(buf, (size_t)rc);
	return rc;
}

static int f_ext_write(struct backend *be, const struct be_ext *x,
		       const void *buf, size_t n)
{
	struct fault *fl = fl_of(be);
	int err = 0;
	enum fault_kind k = hit(fl, FAULT_EXT_WRITE, &err);

	if (k == FAULT_FAIL)
		return -err;
	if (k == FAULT_SHORT) {
		/* Half of it reaches the tier, then the error. */
		fl->inner->ops->ext_write(fl->inner, x, buf, n / 2);
		return -EIO;
	}
	return fl->inner->ops->ext_write(fl->inner, x, buf, n);
}

static int f_ext_sync(struct backend *be, const struct be_ext *x)
{
	struct fault *fl = fl_of(be);
	int err = 0;

	if (hit(fl, FAULT_EXT_SYNC, &err) == FAULT_FAIL)
		return -err;
	return fl->inner->ops->ext_sync(fl->inner, x);
}

static int f_ext_free(struct backend *be, const struct be_ext *x)
{
	struct fault *fl = fl_of(be);
	int err = 0;

	if (hit(fl, FAULT_EXT_FREE, &err) == FAULT_FAIL)
		return -err;
	return fl->inner->ops->ext_free(fl->inner, x);
}

static ssize_t f_pread(struct backend *be, uint64_t ino, void *buf,
		       size_t len, uint64_t off)
{
	struct fault *fl = fl_of(be);
	int err = 0;
	enum fault_kind k = hit(fl, FAULT_PREAD, &err);
	ssize_t rc;

	if (k == FAULT_FAIL)
		return -err;
	rc = fl->inner->ops->pread(fl->inner, ino, buf, len, off);
	if (rc > 0 && k == FAULT_CORRUPT)
		corrupt(buf, (size_t)rc);
	return rc;
}

static ssize_t f_pwrite(struct backend *be, uint64_t ino, const void *buf,
			size_t len, uint64_t off)
{
	struct fault *fl = fl_of(be);
	int err = 0;
	enum fault_kind k = hit(fl, FAULT_PWRITE, &err);

	if (k == FAULT_FAIL)
		return -err;
	if (k == FAULT_SHORT && len > 1)
		len /= 2;
	return fl->inner->ops->pwrite(fl->inner, ino, buf, len, off);
}

static int f_sync(struct backend *be, uint64_t ino)
{
	struct fault *fl = fl_of(be);
	int err = 0;

	if (hit(fl, FAULT_SYNC, &err) == FAULT_FAIL)
		return -err;
	return fl->inner->ops->sync(fl->inner, ino);
}

static int f_truncate(struct backend *be, uint64_t ino, uint64_t size)
{
	struct fault *fl = fl_of(be);
	int err = 0;

	if (hit(fl, FAULT_TRUNCATE, &err) == FAULT_FAIL)
		return -err;
	return fl->inner->ops->truncate(fl->inner, ino, size);
}

static int64_t f_seek(struct backend *be, uint64_t ino, uint64_t off,
		      int whence)
{
	struct fault *fl = fl_of(be);
	int err = 0;

	if (hit(fl, FAULT_SEEK, &err) == FAULT_FAIL)
		return -err;
	return fl->inner->ops->seek(fl->inner, ino, off, whence);
}

/* The rest pass straight through. */
#define PASS(name, ret, proto, args) \
	static ret f_##name proto { \
		struct fault *fl = fl_of(be); \
		return fl->inner->ops->name args; \
	}

PASS(punch, int, (struct backend *be, uint64_t ino, uint64_t off, uint64_t len),
     (fl->inner, ino, off, len))
PASS(allocate, int, (struct backend *be, uint64_t ino, uint64_t off, uint64_t len),
     (fl->inner, ino, off, len))
PASS(remove, int, (struct backend *be, uint64_t ino), (fl->inner, ino))
PASS(allocated, int64_t, (struct backend *be, uint64_t ino), (fl->inner, ino))
PASS(list, int, (struct backend *be, int (*cb)(uint64_t ino, void *arg), void *arg),
     (fl->inner, cb, arg))
PASS(ext_list, int, (struct backend *be,
		     int (*cb)(const struct be_ext *x, void *arg), void *arg),
     (fl->inner, cb, arg))
PASS(probe, int, (struct backend *be, char *msg, size_t msglen),
     (fl->inner, msg, msglen))
PASS(health, int, (struct backend *be), (fl->inner))
PASS(space, int, (struct backend *be, struct be_space *out), (fl->inner, out))

static void f_forget(struct backend *be, uint64_t ino)
{
	struct fault *fl = fl_of(be);

	fl->inner->ops->forget(fl->inner, ino);
}

static void f_destroy(struct backend *be)
{
	struct fault *fl = fl_of(be);

	fl->inner->ops->destroy(fl->inner);
	pthread_mutex_destroy(&fl->lock);
	free(fl);
	free(be);
}

int be_fault_wrap(struct backend *inner, struct backend **out)
{
	const struct be_ops *in = inner->ops;
	struct backend *be = calloc(1, sizeof(*be));
	struct fault *fl = calloc(1, sizeof(*fl));

	if (!be || !fl) {
		free(be);
		free(fl);
		return -ENOMEM;
	}
	fl->inner = inner;
	pthread_mutex_init(&fl->lock, NULL);
	fl->ops = (struct be_ops){
		.kind = "fault", .caps = in->caps,
		.ext_read = f_ext_read, .ext_write = f_ext_write,
		.ext_sync = f_ext_sync, .ext_free = f_ext_free,
		.ext_list = in->ext_list ? f_ext_list : NULL,
		.probe = in->probe ? f_probe : NULL,
		.health = in->health ? f_health : NULL,
		.pread = in->pread ? f_pread : NULL,
		.pwrite = in->pwrite ? f_pwrite : NULL,
		.punch = in->punch ? f_punch : NULL,
		.truncate = in->truncate ? f_truncate : NULL,
		.allocate = in->allocate ? f_allocate : NULL,
		.sync = in->sync ? f_sync : NULL,
		.remove = in->remove ? f_remove : NULL,
		.seek = in->seek ? f_seek : NULL,
		.allocated = in->allocated ? f_allocated : NULL,
		.forget = in->forget ? f_forget : NULL,
		.list = in->list ? f_list : NULL,
		.space = f_space, .destroy = f_destroy,
	};
	be->ops = &fl->ops;
	memcpy(be->name, inner->name, sizeof(be->name));
	be->index = inner->index;
	be->priv = fl;
	*out = be;
	return 0;
}

void be_fault_set(struct backend *be, enum fault_op op, enum fault_kind kind,
		  int err, int after, int count)
{
	struct fault *fl = fl_of(be);

	pthread_mutex_lock(&fl->lock);
	fl->rule[op].kind = kind;
	fl->rule[op].err = err;
	fl->rule[op].after = after;
	fl->rule[op].count = count;
	pthread_mutex_unlock(&fl->lock);
}

void be_fault_clear(struct backend *be)
{
	struct fault *fl = fl_of(be);
	int i;

	pthread_mutex_lock(&fl->lock);
	for (i = 0; i < FAULT_OP_COUNT; i++) {
		fl->rule[i].kind = 0;
		fl->rule[i].count = 0;
	}
	pthread_mutex_unlock(&fl->lock);
}

int be_fault_calls(struct backend *be, enum fault_op op)
{
	struct fault *fl = fl_of(be);
	int n;

	pthread_mutex_lock(&fl->lock);
	n = fl->rule[op].calls;
	pthread_mutex_unlock(&fl->lock);
	return n;
}
