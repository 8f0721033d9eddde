// SPDX-License-Identifier: GPL-2.0-or-later
/* FUSE over io_uring (Linux 6.14 and later, with the fuse module's
 * enable_uring set).
 *
 * Through /dev/fuse a request wakes the daemon's thread on whatever CPU
 * it slept on, and the reply wakes the client on its own: on a small
 * machine each request pays for two wakeups across CPUs, which cost more
 * than serving a lookup. Over io_uring the kernel puts a request on the
 * queue of the client's CPU, and each queue has a thread pinned to that
 * CPU: the client sleeps, its server runs where it ran, and the reply
 * wakes the client there.
 *
 * libfuse 3.14 knows nothing of io_uring, so this file sits below it as
 * its transport (fuse_session_custom_io):
 * - reading the INIT request tells whether the kernel offers io_uring;
 *   once the kernel has the INIT reply, the queue threads register their
 *   buffers (init_reply says why the reply does not claim io_uring);
 * - a request fetched from a queue comes as a header, the opcode's fixed
 *   argument and a payload in separate buffers: they are laid one after
 *   another, as read(2) of /dev/fuse would give them, and handed to
 *   fuse_session_process_buf;
 * - the reply libfuse writes (writev) is recognised by its unique, put in
 *   the request's buffers and committed on its queue, which fetches the
 *   next request in the same command. Replies to requests that came
 *   through /dev/fuse (FORGET and INTERRUPT still do) go there.
 *
 * Each queue has a leader thread, which drives the ring and serves the
 * requests itself, and a standby pinned to the same CPU. A request can
 * wait long (an object read from S3, a lock held by a migration): the
 * standby samples what the leader serves every STEAL_MS and, seeing the
 * same request twice, takes the ring over (as fs/fuse_loop.c does for
 * /dev/fuse); the old leader commits its reply through the new one and
 * then waits for a role. A queue has at most QUEUE_THREADS threads. */
#define FUSE_USE_VERSION 314

#include <errno.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "fs/fuse_loop.h"
#include "fs/fuse_uring.h"
#include "fs/standby.h"

/* The kernel's interface (include/uapi/linux/fuse.h, 7.42), missing from
 * older system headers. */
#define DF_FUSE_OVER_IO_URING (1ULL << 41)   /* offered in INIT */
#define DF_URING_HEADER_SZ 128   /* FUSE_URING_IN_OUT_HEADER_SZ */
#define DF_URING_OP_SZ 128       /* FUSE_URING_OP_IN_OUT_SZ */

struct df_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;      /* the request's unique */
	uint32_t payload_sz;     /* bytes in the payload, either way */
	uint32_t padding;
	uint64_t reserved;
};

struct df_uring_req_header {
	char in_out[DF_URING_HEADER_SZ];   /* fuse_in_header / out_header */
	char op_in[DF_URING_OP_SZ];        /* the opcode's first argument */
	struct df_uring_ent_in_out ent;
};

enum { DF_URING_CMD_REGISTER = 1, DF_URING_CMD_COMMIT_AND_FETCH = 2 };

struct df_uring_cmd_req {   /* in the SQE's 80-byte command area */
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

#define DEPTH 8          /* entries per queue: requests in flight */
#define ROOM 4096        /* before the payload: header and argument */
#define QUEUE_THREADS 8  /* threads per queue, at most */

struct queue;

struct ent {
	struct queue *q;
	struct df_uring_req_header *hdr;
	char *payload;             /* ROOM bytes into its mapping */
	struct iovec iov[2];
	_Atomic uint64_t unique;   /* of the request it holds, 0 if none */
	int cmd;                   /* the command to (re)submit */
	struct ent *next;          /* in the queue's list of commits */
};

struct queue {
	unsigned qid;
	int ring_up;               /* q->ring was set up */
	int evfd;                  /* wakes the leader: stop, commits */
	struct io_uring ring;      /* touched by the leader only */
	pthread_mutex_t m;
	pthread_cond_t standby_cv; /* the standby's (timed) wait */
	pthread_cond_t idle_cv;    /* threads with no role */
	pthread_t th[QUEUE_THREADS];
	unsigned nth;              /* threads started; under m */
	_Atomic int leader;        /* thread id (t_id) of the leader, or 0 */
	int standby;               /* there is one; under m */
	int end;                   /* the ring is gone; under m */
	_Atomic int deep;          /* the standby waits without a timeout */
	_Atomic int in_ring;       /* threads in fetch(): 0 or 1 */
	_Atomic uint64_t busy;     /* number of the request the leader
	                            * serves; 0 otherwise */
	uint64_t seq;              /* under m */
	struct ent *todo[DEPTH];   /* fetched, not yet served; under m */
	unsigned ntodo;
	struct ent *commits;       /* replied, to be committed; under m */
	struct ent ents[DEPTH];
};

static struct {
	struct fuse_session *se;
	_Atomic uint64_t init_unique;  /* of the INIT request, while read */
	_Atomic int wanted;            /* the kernel offered io_uring */
	size_t payload_max;            /* bytes a payload buffer holds */
	unsigned nq;
	struct queue *qs;
	_Atomic int stopping;
	_Atomic int registered;        /* queues whose entries are in */
	_Atomic unsigned long long served;
} g;

static _Thread_local struct ent *t_cur;   /* the request served here */
static _Thread_local int t_id;            /* a queue thread's number */
static _Atomic int next_id = 1;

#define EV_TAG ((uint64_t)1)   /* user_data of the eventfd's poll */

static void prep_cmd(struct io_uring_sqe *sqe, struct ent *e, int fd)
{
	struct df_uring_cmd_req *c;
	char *raw = (char *)sqe;

	/* An SQE128: twice the size of struct io_uring_sqe, whose last 80
	 * bytes hold the command. The compiler cannot know that. */
	__asm__("" : "+r"(raw));
	memset(raw, 0, 128);
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = (uint32_t)e->cmd;
	io_uring_sqe_set_data(sqe, e);
	c = (struct df_uring_cmd_req *)(raw + offsetof(struct io_uring_sqe, cmd));
	c->qid = (uint16_t)e->q->qid;
	if (e->cmd == DF_URING_CMD_REGISTER) {
		sqe->addr = (uint64_t)(uintptr_t)e->iov;
		sqe->len = 2;
	} else {
		c->commit_id = atomic_load(&e->unique);
	}
}

static struct io_uring_sqe *get_sqe(struct queue *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (!sqe) {   /* full: send what is there */
		io_uring_submit(&q->ring);
		sqe = io_uring_get_sqe(&q->ring);
	}
	return sqe;
}

static int arm_eventfd(struct queue *q)
{
	struct io_uring_sqe *sqe = get_sqe(q);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, q->evfd, POLLIN);
	io_uring_sqe_set_data64(sqe, EV_TAG);
	return 0;
}

/* Queues the commits replied so far. The queue's thread only. */
static int queue_commits(struct queue *q, int fd)
{
	struct ent *e, *next;

	pthread_mutex_lock(&q->m);
	e = q->commits;
	q->commits = NULL;
	pthread_mutex_unlock(&q->m);
	for (; e; e = next) {
		struct io_uring_sqe *sqe = get_sqe(q);

		next = e->next;
		if (!sqe) {   /* cannot be: there are more SQEs than entries */
			pthread_mutex_lock(&q->m);
			for (; e; e = next) {
				next = e->next;
				e->next = q->commits;
				q->commits = e;
			}
			pthread_mutex_unlock(&q->m);
			return -EBUSY;
		}
		e->cmd = DF_URING_CMD_COMMIT_AND_FETCH;
		prep_cmd(sqe, e, fd);
		atomic_store(&e->unique, 0);
	}
	return 0;
}

/* e's reply is in its buffers: to be committed by its queue's thread. */
static void commit(struct ent *e)
{
	struct queue *q = e->q;
	int foreign;

	/* Under m, as a takeover is: either the leader that queues it with
	 * its next submission is this thread, or the leader is woken. */
	pthread_mutex_lock(&q->m);
	e->next = q->commits;
	q->commits = e;
	foreign = !t_id || atomic_load(&q->leader) != t_id;
	pthread_mutex_unlock(&q->m);
	if (foreign) {
		uint64_t one = 1;

		if (write(q->evfd, &one, sizeof(one)) < 0)
			log_warn("io_uring queue %u: cannot wake its leader: %s",
				 q->qid, strerror(errno));
	}
}

/* Puts a reply into e's buffers and commits it. Returns what writev
 * would. */
static ssize_t ring_reply(struct ent *e, const struct iovec *iov, int count)
{
	struct fuse_out_header *oh = (void *)e->hdr->in_out;
	const struct fuse_out_header *out = iov[0].iov_base;
	size_t len = 0;
	int err = out->error;

	for (int i = 1; i < count; i++) {
		if (len + iov[i].iov_len > g.payload_max) {
			log_warn("io_uring: a reply of more than %zu bytes",
				 g.payload_max);
			err = -EIO;
			len = 0;
			break;
		}
		if (iov[i].iov_base != e->payload + len)
			memmove(e->payload + len, iov[i].iov_base,
				iov[i].iov_len);
		len += iov[i].iov_len;
	}
	oh->unique = out->unique;
	oh->error = err;
	oh->len = (uint32_t)(sizeof(*oh) + len);
	e->hdr->ent.payload_sz = (uint32_t)len;
	commit(e);
	return (ssize_t)(sizeof(*out) + len);
}

static struct ent *find(uint64_t unique)
{
	if (t_cur && atomic_load(&t_cur->unique) == unique)
		return t_cur;
	for (unsigned i = 0; i < g.nq && g.qs; i++)
		for (unsigned j = 0; j < DEPTH; j++) {
			struct ent *e = &g.qs[i].ents[j];

			if (atomic_load(&e->unique) == unique)
				return e;
		}
	return NULL;
}

static void *queue_thread(void *arg);

/* One more thread for q, if it may have one. Caller holds q->m. */
static void spawn_locked(struct queue *q)
{
	if (q->nth >= QUEUE_THREADS || q->end || atomic_load(&g.stopping))
		return;
	if (df_loop_thread_start(&q->th[q->nth], queue_thread, q) == 0)
		q->nth++;
	else
		log_warn("io_uring queue %u: cannot start a thread", q->qid);
}

static void start_queues(void)
{
	for (unsigned i = 0; i < g.nq; i++) {
		struct queue *q = &g.qs[i];

		pthread_mutex_lock(&q->m);
		spawn_locked(q);   /* the leader */
		spawn_locked(q);   /* the standby */
		pthread_mutex_unlock(&q->m);
	}
}

/* The kernel has a queue for every possible CPU (and takes requests off
 * /dev/fuse only once each has an entry): the last number of
 * /sys/devices/system/cpu/possible ("0-7", "0"), plus one. */
static long possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	char line[256];
	long n = 0;

	if (f) {
		if (fgets(line, sizeof(line), f)) {
			char *p = line + strcspn(line, "\n");

			while (p > line && (p[-1] >= '0' && p[-1] <= '9'))
				p--;
			n = strtol(p, NULL, 10) + 1;
		}
		fclose(f);
	}
	return n > 0 ? n : sysconf(_SC_NPROCESSORS_CONF);
}

/* Bytes of an entry's mapping: its header on a page of its own, ROOM,
 * the payload. */
static size_t ent_map_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE) + ROOM + g.payload_max;
}

/* Sizes and maps the queues after the kernel's INIT limits. */
static int make_queues(const struct fuse_init_out *o)
{
	long page = sysconf(_SC_PAGESIZE);
	long n = possible_cpus();
	size_t pl = o->max_write;

	/* the kernel wants room for its largest request or reply */
	if ((size_t)o->max_pages * (size_t)page > pl)
		pl = (size_t)o->max_pages * (size_t)page;
	if (pl < 8192)   /* FUSE_MIN_READ_BUFFER */
		pl = 8192;
	g.payload_max = (pl + (size_t)page - 1) / (size_t)page * (size_t)page;
	g.nq = n > 0 ? (unsigned)n : 1;
	g.qs = calloc(g.nq, sizeof(*g.qs));
	if (!g.qs)
		return -ENOMEM;
	for (unsigned i = 0; i < g.nq; i++)
		g.qs[i].evfd = -1;
	for (unsigned i = 0; i < g.nq; i++) {
		struct queue *q = &g.qs[i];

		q->qid = i;
		pthread_mutex_init(&q->m, NULL);
		pthread_cond_init(&q->standby_cv, NULL);
		pthread_cond_init(&q->idle_cv, NULL);
		q->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->evfd < 0)
			return -errno;
		for (unsigned j = 0; j < DEPTH; j++) {
			struct ent *e = &q->ents[j];
			char *m;

			e->q = q;
			m = mmap(NULL, ent_map_size(), PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m == MAP_FAILED)
				return -errno;
			e->hdr = (void *)m;   /* page-aligned, as pinned */
			e->payload = m + page + ROOM;
			e->iov[0].iov_base = e->hdr;
			e->iov[0].iov_len = sizeof(*e->hdr);
			e->iov[1].iov_base = e->payload;
			e->iov[1].iov_len = g.payload_max;
			e->cmd = DF_URING_CMD_REGISTER;
		}
	}
	return 0;
}

static void free_queues(void)
{
	for (unsigned i = 0; g.qs && i < g.nq; i++) {
		struct queue *q = &g.qs[i];

		for (unsigned j = 0; j < DEPTH; j++)
			if (q->ents[j].hdr)
				munmap(q->ents[j].hdr, ent_map_size());
		if (q->evfd >= 0)
			close(q->evfd);
		pthread_cond_destroy(&q->idle_cv);
		pthread_cond_destroy(&q->standby_cv);
		pthread_mutex_destroy(&q->m);
	}
	free(g.qs);
	g.qs = NULL;
	g.nq = 0;
}

/* The INIT reply. It does not claim FUSE_OVER_IO_URING: with that flag
 * the kernel holds every request until each CPU's queue is registered,
 * so one queue failing to register would hang the mount. Without it the
 * kernel takes the registrations all the same (enable_uring is set) and
 * sends requests through /dev/fuse until every queue has its entries,
 * and for good if one never does. The queues register once the kernel
 * has handled the reply: it refuses them before. */
static ssize_t init_reply(int fd, struct iovec *iov, int count)
{
	const struct fuse_out_header *out = iov[0].iov_base;
	struct fuse_init_out o;
	ssize_t res;
	int use = 0;

	atomic_store(&g.init_unique, 0);
	if (atomic_load(&g.wanted) && out->error == 0 && count == 2 &&
	    iov[1].iov_len >= offsetof(struct fuse_init_out, unused) &&
	    iov[1].iov_len <= sizeof(o)) {
		memset(&o, 0, sizeof(o));
		memcpy(&o, iov[1].iov_base, iov[1].iov_len);
		int rc = make_queues(&o);

		use = rc == 0;
		if (!use) {
			log_warn("io_uring: cannot set the queues up (%s): /dev/fuse only",
				 strerror(-rc));
			free_queues();
		}
	}
	res = writev(fd, iov, count);
	if (!use || res < 0) {
		atomic_store(&g.wanted, 0);
		if (use)
			free_queues();
		return res;
	}
	start_queues();
	return res;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *ud)
{
	const struct fuse_out_header *out;
	uint64_t init;
	struct ent *e;

	(void)ud;
	if (count < 1 || iov[0].iov_len < sizeof(*out))
		return writev(fd, iov, count);
	out = iov[0].iov_base;
	init = atomic_load(&g.init_unique);
	if (init && out->unique == init)
		return init_reply(fd, iov, count);
	if (out->unique && (e = find(out->unique)))
		return ring_reply(e, iov, count);
	return writev(fd, iov, count);
}

static ssize_t io_read(int fd, void *buf, size_t len, void *ud)
{
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *in = buf;

	(void)ud;
	if (n >= (ssize_t)(sizeof(*in) + offsetof(struct fuse_init_in, unused)) &&
	    in->opcode == FUSE_INIT) {
		const struct fuse_init_in *a = (const void *)(in + 1);

		if ((a->flags & FUSE_INIT_EXT) &&
		    (a->flags2 & (uint32_t)(DF_FUSE_OVER_IO_URING >> 32))) {
			atomic_store(&g.wanted, 1);
			atomic_store(&g.init_unique, in->unique);
		}
	}
	return n;
}

/* Lays a fetched request out as /dev/fuse gives it and serves it. */
static void serve(struct ent *e)
{
	struct fuse_in_header *in = (void *)e->hdr->in_out;
	size_t psz = e->hdr->ent.payload_sz, arg;
	struct fuse_buf b = { 0 };
	char *start;

	if (in->len < sizeof(*in) + psz || psz > g.payload_max ||
	    (arg = in->len - sizeof(*in) - psz) > DF_URING_OP_SZ) {
		struct fuse_out_header out = { .error = -EIO,
					       .unique = e->hdr->ent.commit_id };
		struct iovec v = { &out, sizeof(out) };

		log_warn("io_uring queue %u: a request of %u bytes with a payload of %zu (opcode %u): EIO",
			 e->q->qid, in->len, psz, in->opcode);
		atomic_store(&e->unique, e->hdr->ent.commit_id);
		t_cur = e;
		ring_reply(e, &v, 1);
		t_cur = NULL;
		return;
	}
	start = e->payload - sizeof(*in) - arg;
	memcpy(start + sizeof(*in), e->hdr->op_in, arg);
	memcpy(start, in, sizeof(*in));
	atomic_store(&e->unique, e->hdr->ent.commit_id);
	b.mem = start;
	b.size = in->len;
	t_cur = e;
	fuse_session_process_buf(g.se, &b);
	t_cur = NULL;
	atomic_fetch_add_explicit(&g.served, 1, memory_order_relaxed);
}

/* Sets up q's ring and registers its entries. The first leader only. */
static int ring_up(struct queue *q, int fd)
{
	struct io_uring_params p = { 0 };
	int rc;

	p.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE;
	p.cq_entries = 4 * (DEPTH + 1);
	rc = io_uring_queue_init_params(2 * (DEPTH + 1), &q->ring, &p);
	if (rc < 0) {
		log_warn("io_uring queue %u: %s", q->qid, strerror(-rc));
		return rc;
	}
	q->ring_up = 1;
	for (unsigned j = 0; j < DEPTH; j++)
		prep_cmd(get_sqe(q), &q->ents[j], fd);
	arm_eventfd(q);
	if (atomic_fetch_add(&g.registered, 1) + 1 == (int)g.nq)
		log_info("serving through io_uring: %u queues, one per CPU",
			 g.nq);
	return 0;
}

/* Waits for a request or a commit to send and takes what the ring has:
 * requests go to q->todo. Returns -1 once the ring is gone. */
static int fetch(struct queue *q, int fd)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	int rc, end = 0;

	/* Only the leader: two threads reaping the same CQEs would serve a
	 * request twice, two filling SQEs would mix commands up. */
	if (atomic_fetch_add(&q->in_ring, 1) != 0)
		log_warn("io_uring queue %u: two threads drive its ring", q->qid);
	rc = queue_commits(q, fd) < 0 ? -EBUSY :
	     io_uring_submit_and_wait(&q->ring, 1);
	if (rc == -EBUSY) {
		atomic_fetch_sub(&q->in_ring, 1);
		return -1;
	}
	if (rc < 0 && rc != -EINTR && rc != -EAGAIN) {
		log_warn("io_uring queue %u: %s", q->qid, strerror(-rc));
		atomic_fetch_sub(&q->in_ring, 1);
		return -1;
	}
	io_uring_for_each_cqe(&q->ring, head, cqe) {
		struct ent *e;

		n++;
		if (cqe->user_data == EV_TAG) {
			uint64_t v;

			if (read(q->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				end = 1;
			else
				arm_eventfd(q);
			continue;
		}
		e = io_uring_cqe_get_data(cqe);
		if (cqe->res == 0) {
			pthread_mutex_lock(&q->m);
			q->todo[q->ntodo++] = e;   /* at most DEPTH fetched */
			pthread_mutex_unlock(&q->m);
			continue;
		}
		if (cqe->res == -EINTR || cqe->res == -EAGAIN) {
			prep_cmd(get_sqe(q), e, fd);   /* again */
			continue;
		}
		/* ENOTCONN, ECONNABORTED, ENODEV: unmounted */
		if (cqe->res == -ENOTCONN || cqe->res == -ECONNABORTED ||
		    cqe->res == -ENODEV) {
			end = 1;
			continue;
		}
		/* Only this entry is out (a registration refused because
		 * enable_uring was turned off meanwhile, say): the queue
		 * goes on with the others, which the kernel may already
		 * send requests to. */
		log_warn("io_uring queue %u: an entry %s: %s", q->qid,
			 e->cmd == DF_URING_CMD_REGISTER ? "not registered" :
			 "not committed", strerror(-cqe->res));
	}
	io_uring_cq_advance(&q->ring, n);
	atomic_fetch_sub(&q->in_ring, 1);
	return end ? -1 : 0;
}

/* As the leader: serves what was fetched, fetches more. Returns 0 when
 * another thread took over, -1 when the ring is gone or the session
 * ends. */
static int lead(struct queue *q)
{
	int fd = fuse_session_fd(g.se);

	for (;;) {
		struct ent *e = NULL;
		int still;

		pthread_mutex_lock(&q->m);
		if (atomic_load(&q->leader) != t_id) {
			pthread_mutex_unlock(&q->m);
			return 0;
		}
		if (q->ntodo) {
			e = q->todo[0];
			memmove(q->todo, q->todo + 1,
				--q->ntodo * sizeof(q->todo[0]));
			atomic_store(&q->busy, ++q->seq);
			if (atomic_load(&q->deep))
				pthread_cond_signal(&q->standby_cv);
		}
		pthread_mutex_unlock(&q->m);
		if (e) {
			serve(e);
			pthread_mutex_lock(&q->m);
			still = atomic_load(&q->leader) == t_id;
			if (still)   /* else it is the new leader's */
				atomic_store(&q->busy, 0);
			pthread_mutex_unlock(&q->m);
			if (!still)
				return 0;
			continue;
		}
		if (atomic_load(&g.stopping)) {
			/* the replies given go out before the ring closes */
			if (queue_commits(q, fd) == 0)
				io_uring_submit(&q->ring);
			return -1;
		}
		if (fetch(q, fd) < 0)
			return -1;
	}
}

/* As the standby: waits while the leader serves quickly; takes over when
 * it has served one request for a whole period. Caller holds q->m. */
static void stand_by(struct queue *q)
{
	struct sampler s = { 0 };

	while (!q->end && !atomic_load(&g.stopping) && atomic_load(&q->leader)) {
		enum sample what = sample(&s, atomic_load(&q->busy));

		if (what == SAMPLE_TAKE) {
			atomic_store(&q->leader, t_id);
			/* busy was the old leader's: left as it is, the next
			 * standby would take over from this thread while it
			 * drives the ring (two threads reaping its CQEs) */
			atomic_store(&q->busy, 0);
			spawn_locked(q);   /* the next standby */
			return;
		}
		standby_wait(what, &q->deep, &q->busy, &q->standby_cv, &q->m,
			     CLOCK_REALTIME);
	}
}

static void *queue_thread(void *arg)
{
	struct queue *q = arg;
	char name[16];
	cpu_set_t set;

	t_id = atomic_fetch_add(&next_id, 1);
	snprintf(name, sizeof(name), "dfabric-uq%u", q->qid);
	pthread_setname_np(pthread_self(), name);
	CPU_ZERO(&set);
	CPU_SET(q->qid, &set);
	/* a CPU this process may not use: its clients are elsewhere too */
	(void)sched_setaffinity(0, sizeof(set), &set);
	pthread_mutex_lock(&q->m);
	while (!q->end && !atomic_load(&g.stopping)) {
		int rc = 0;

		if (!atomic_load(&q->leader)) {
			atomic_store(&q->leader, t_id);
			if (!q->ring_up)
				rc = ring_up(q, fuse_session_fd(g.se));
		}
		if (atomic_load(&q->leader) == t_id) {   /* or took over */
			pthread_mutex_unlock(&q->m);
			if (rc == 0)
				rc = lead(q);
			pthread_mutex_lock(&q->m);
			if (rc < 0)
				q->end = 1;
			if (rc < 0 || atomic_load(&q->leader) == t_id)
				atomic_store(&q->leader, 0);
			pthread_cond_broadcast(&q->idle_cv);
			pthread_cond_signal(&q->standby_cv);
			continue;
		}
		if (!q->standby) {
			q->standby = 1;
			stand_by(q);
			q->standby = 0;
			continue;
		}
		pthread_cond_wait(&q->idle_cv, &q->m);
	}
	pthread_cond_broadcast(&q->idle_cv);
	pthread_cond_signal(&q->standby_cv);
	pthread_mutex_unlock(&q->m);
	return NULL;
}

int df_uring_setup(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.read = io_read,
		.writev = io_writev,
	};

	g.se = se;
	if (fuse_session_custom_io(se, &io, fuse_session_fd(se)) != 0)
		return -EINVAL;
	return 0;
}

bool df_uring_wanted(void)
{
	return atomic_load(&g.wanted);
}

void *df_uring_reply_buf(size_t n)
{
	/* a request's own payload (a write's data) comes before its
	 * reply: only requests that bring none may use it */
	if (!t_cur || n > g.payload_max || t_cur->hdr->ent.payload_sz)
		return NULL;
	return t_cur->payload;
}

void df_uring_stop(void)
{
	atomic_store(&g.stopping, 1);
	if (g.nq)
		log_info("io_uring served %llu requests",
			 atomic_load(&g.served));
	for (unsigned i = 0; i < g.nq; i++) {
		struct queue *q = &g.qs[i];
		uint64_t one = 1;
		unsigned n;

		pthread_mutex_lock(&q->m);
		pthread_cond_broadcast(&q->idle_cv);
		pthread_cond_signal(&q->standby_cv);
		n = q->nth;
		pthread_mutex_unlock(&q->m);
		if (q->evfd >= 0 && write(q->evfd, &one, sizeof(one)) < 0)
			log_warn("io_uring queue %u: cannot wake its leader",
				 q->qid);
		/* no more threads start once stopping is set */
		for (unsigned j = 0; j < n; j++)
			pthread_join(q->th[j], NULL);
		if (q->ring_up)
			io_uring_queue_exit(&q->ring);
	}
	free_queues();
}
