// SPDX-License-Identifier: GPL-2.0-or-later
/* The daemon's request loop. Two modes:
 *
 * - Metadata: one thread, the leader, reads requests and serves them
 *   itself, so that a client issuing one request at a time meets the same
 *   thread, already awake, for each of them. libfuse's own loop keeps
 *   every idle thread blocked in read(2) on /dev/fuse; each request then
 *   wakes one of them, and so does each FORGET the kernel queues after an
 *   unlink, and on a small machine those wakeups and the threads' fight
 *   over the queue's lock cost more than the metadata work (four clients
 *   unlinking on two CPUs: 31k/s on libfuse's loop, 50k/s on one thread).
 *
 * - Flood: a request that does I/O on a tier (read, write, fsync,
 *   setattr, fallocate...) puts every idle thread in read(2) for the next
 *   FLOOD_MS, as libfuse's loop does, so that requests in flight together
 *   are served together; one more thread is started whenever none is left
 *   reading, up to max_threads. Threads still in read(2) when the flood
 *   ends serve one more request each and then wait for a role.
 *
 * A request the leader serves can still wait long (a lock held by a slow
 * write, a RocksDB stall, objects deleted on an S3 tier at the last
 * forget). A standby thread therefore samples what the leader serves every
 * STEAL_MS: when it sees the same request twice, it takes the right to
 * read, and the old leader looks for a role when it is done. The standby
 * sleeps without a timeout while the leader waits for requests; the
 * leader wakes it when it starts serving again.
 *
 * Between requests of a client that sends them one after another, the
 * leader polls /dev/fuse for up to spin_us instead of sleeping in
 * read(2) at once: the client and the leader sit on different CPUs, and
 * waking a thread on an idle CPU costs more than serving a lookup. It
 * polls only while the last request came within spin_us of the one
 * before, so an idle daemon sleeps, and yields the CPU between polls
 * (one client on two CPUs: create 8.5-10k -> 13-14.7k/s, stat of
 * uncached names 16-27k -> 35-46k/s, unlink 10-16k -> 16-17k/s; four
 * clients: unlink 30k -> 37k/s). */
#define FUSE_USE_VERSION 314

#include <errno.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "fs/fuse_loop.h"
#include "fs/standby.h"

#define FLOOD_MS 200      /* all threads read this long after an I/O request */

struct worker {
	struct loop *lp;
	pthread_t th;
	struct fuse_buf buf;       /* freed by df_loop after the join */
	struct worker *next;
	_Atomic int in_read;       /* in fuse_session_receive_buf */
	_Atomic uint64_t busy;     /* number of the request it serves inline
	                            * as the leader; 0 otherwise */
	int joined;
};

struct loop {
	struct fuse_session *se;
	pthread_mutex_t m;
	pthread_cond_t standby_cv;   /* the standby's (timed) wait */
	pthread_cond_t idle_cv;      /* workers with no role */
	sem_t finish;                /* posted when the loop should end */
	struct worker *workers;      /* all, for the join */
	unsigned nworkers, max, nidle;
	struct worker *_Atomic leader; /* holds the right to read, or NULL;
	                              * written under m */
	struct worker *_Atomic standby; /* samples the leader, or NULL;
	                              * written under m */
	_Atomic int exit;            /* written under m */
	int error;
	_Atomic int deep;            /* the standby waits without a timeout */
	_Atomic uint64_t seq;        /* numbers the requests served inline */
	_Atomic int64_t flood_until; /* CLOCK_MONOTONIC ns: all read until */
	_Atomic unsigned nreading;   /* threads in read(2) while flooding */
	int64_t spin_ns;             /* the leader polls this long, or 0 */
};

/* Requests that do I/O on a tier (or may take long by nature): they
 * start a flood. A spliced request is a large write. */
static int starts_flood(const struct fuse_buf *buf)
{
	const struct fuse_in_header *in = buf->mem;

	if ((buf->flags & FUSE_BUF_IS_FD) || buf->size < sizeof(*in))
		return 1;
	switch (in->opcode) {
	case FUSE_SETATTR: {
		const struct fuse_setattr_in *a = (const void *)(in + 1);

		/* a truncate moves data; chmod, chown, utimes do not */
		return buf->size < sizeof(*in) + sizeof(*a) ||
		       (a->valid & FATTR_SIZE);
	}
	case FUSE_READ:
	case FUSE_WRITE:
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
	case FUSE_FALLOCATE:
	case FUSE_COPY_FILE_RANGE:
	case FUSE_STATFS:
	case FUSE_IOCTL:
	case FUSE_POLL:
	case FUSE_BMAP:
		return 1;
	default:
		return 0;
	}
}

static void *work(void *arg);

int df_loop_thread_start(pthread_t *th, void *(*fn)(void *), void *arg)
{
	sigset_t term, old;
	int rc;

	/* The signals that end the session are left to the other threads:
	 * the main thread waits for them and ends the loop. */
	sigemptyset(&term);
	sigaddset(&term, SIGINT);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &term, &old);
	rc = pthread_create(th, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* Starts one more worker if the limit allows. Caller holds lp->m. */
static void spawn_locked(struct loop *lp)
{
	struct worker *w;

	if (lp->exit || lp->nworkers >= lp->max)
		return;
	if (!(w = calloc(1, sizeof(*w)))) {
		log_warn("request loop: no memory for a thread");
		return;
	}
	w->lp = lp;
	if (df_loop_thread_start(&w->th, work, w) != 0) {
		log_warn("request loop: cannot start a thread");
		free(w);
		return;
	}
	w->next = lp->workers;
	lp->workers = w;
	lp->nworkers++;
}

/* Makes sure someone will read or stand by: an idle worker, else a new
 * one. Caller holds lp->m. */
static void call_someone_locked(struct loop *lp)
{
	if (lp->nidle)
		pthread_cond_signal(&lp->idle_cv);
	else
		spawn_locked(lp);
}

/* As the standby: waits until the right to read is free, a flood
 * begins, or the leader has served one request inline for a whole period
 * (then it takes the right to read: the leader finishes that request and
 * looks for another role). Caller holds lp->m. */
static int flooding(struct loop *lp);

static void stand_by(struct loop *lp)
{
	struct worker *seen = NULL;
	struct sampler s = { 0 };

	while (!lp->exit && lp->leader && !flooding(lp)) {
		struct worker *l = lp->leader;   /* changes only under m */
		uint64_t now = atomic_load(&l->busy);
		enum sample what;

		if (l != seen)
			s.last = 0;
		seen = l;
		what = sample(&s, now);
		if (what == SAMPLE_TAKE) {
			lp->leader = NULL;
			break;
		}
		standby_wait(what, &lp->deep, &l->busy, &lp->standby_cv,
			     &lp->m, CLOCK_MONOTONIC);
	}
}

static int flooding(struct loop *lp)
{
	return atomic_load(&lp->flood_until) > mono_ns();
}

/* A request that does I/O arrived at w: every idle thread reads for the
 * next FLOOD_MS, as in libfuse's loop, so that requests in flight
 * together are served together. A leader gives up its right to read (one
 * in read(2) notices when it gets its next request). */
static void flood(struct loop *lp, struct worker *w)
{
	int64_t now = mono_ns(), until = now + FLOOD_MS * 1000000LL;
	int64_t cur = atomic_load(&lp->flood_until);
	int was = cur > now;

	/* the deadline only moves forward */
	while (cur < until &&
	       !atomic_compare_exchange_weak(&lp->flood_until, &cur, until))
		;
	if (was && lp->leader != w)
		return;
	pthread_mutex_lock(&lp->m);
	if (!was || lp->leader == w)
		lp->leader = NULL;
	pthread_cond_broadcast(&lp->idle_cv);
	pthread_cond_signal(&lp->standby_cv);
	pthread_mutex_unlock(&lp->m);
}

/* Waits for w's next role. Returns ROLE_LEAD with w the leader,
 * ROLE_READ while flooding, ROLE_END when the loop ends. Caller holds
 * lp->m. */
enum role { ROLE_END, ROLE_LEAD, ROLE_READ };

static enum role wait_turn(struct loop *lp, struct worker *w)
{
	/* A thread looking for a role holds none (a leader that began a
	 * flood while another was already on still held its right). */
	if (lp->leader == w)
		lp->leader = NULL;
	for (;;) {
		if (lp->exit)
			return ROLE_END;
		if (flooding(lp))
			return ROLE_READ;
		if (!lp->leader) {
			lp->leader = w;
			return ROLE_LEAD;
		}
		if (!lp->standby) {
			lp->standby = w;
			stand_by(lp);
			lp->standby = NULL;
			continue;
		}
		lp->nidle++;
		pthread_cond_wait(&lp->idle_cv, &lp->m);
		lp->nidle--;
	}
}

static void end_loop_locked(struct loop *lp, int error)
{
	if (!lp->exit) {
		lp->exit = 1;
		lp->error = error;
		sem_post(&lp->finish);
	}
	pthread_cond_broadcast(&lp->standby_cv);
	pthread_cond_broadcast(&lp->idle_cv);
}

/* Reads one request into w->buf. Returns 1, 0 to try again, -1 when the
 * loop ends. */
static int receive(struct loop *lp, struct worker *w)
{
	int res;

	if (fuse_session_exited(lp->se))
		return -1;
	/* df_loop signals a thread in read(2) when the loop ends: it
	 * stores exit, then reads in_read; we store in_read, then read
	 * exit, so one of us sees the other. */
	atomic_store(&w->in_read, 1);
	if (lp->exit) {
		atomic_store(&w->in_read, 0);
		return -1;
	}
	res = fuse_session_receive_buf(lp->se, &w->buf);
	atomic_store(&w->in_read, 0);
	if (res == -EINTR)
		return 0;
	/* An unmount that aborts the connection while this thread takes a
	 * request off the queue fails the read with ECONNABORTED, not the
	 * ENODEV that libfuse turns into the session's end: the same end,
	 * not an error. */
	if (res == -ECONNABORTED) {
		fuse_session_exit(lp->se);
		res = 0;
	}
	if (res <= 0) {
		pthread_mutex_lock(&lp->m);
		end_loop_locked(lp, res < 0 ? res : 0);
		pthread_mutex_unlock(&lp->m);
		return -1;
	}
	return 1;
}

/* Polls /dev/fuse until a request is there, until spin_ns after since,
 * or until w is no longer the leader (a flood, a takeover, the end). */
static void spin(struct loop *lp, struct worker *w, int64_t since)
{
	struct pollfd p = { .fd = fuse_session_fd(lp->se), .events = POLLIN };
	int64_t until = since + lp->spin_ns;

	while (lp->leader == w && !lp->exit && mono_ns() < until) {
		if (poll(&p, 1, 0) != 0)
			return;   /* a request, an error or a hang-up: read */
		/* A busy machine: the CPU goes to whoever waits for it,
		 * maybe the client (two busy loops on two CPUs: creates 3-17k
		 * -> 15-26k/s against no poll, 8-9k without the yield) */
		sched_yield();
	}
}

/* Serves requests as the leader until one does I/O, or another thread
 * takes over. Returns 0 to look for the next role, -1 when the loop
 * ends. */
static int lead(struct loop *lp, struct worker *w)
{
	int64_t gap = INT64_MAX;   /* from one request served to the next */

	for (;;) {
		int64_t done = mono_ns();
		uint64_t mine;
		int res;

		if (gap < lp->spin_ns)
			spin(lp, w, done);
		res = receive(lp, w);
		gap = mono_ns() - done;
		if (res <= 0) {
			if (res < 0)
				return -1;
			continue;
		}
		if (lp->leader != w) {
			/* a flood began while it read: no longer the leader,
			 * it serves this one as any reader and finds a role */
			if (starts_flood(&w->buf))
				flood(lp, w);
			fuse_session_process_buf(lp->se, &w->buf);
			return 0;
		}
		if (starts_flood(&w->buf)) {
			flood(lp, w);
			/* the flood woke the idle; if none is reading yet,
			 * make sure one will */
			if (atomic_load(&lp->nreading) == 0) {
				pthread_mutex_lock(&lp->m);
				call_someone_locked(lp);
				pthread_mutex_unlock(&lp->m);
			}
			fuse_session_process_buf(lp->se, &w->buf);
			return 0;
		}
		/* Served inline: someone must watch. */
		mine = atomic_fetch_add(&lp->seq, 1) + 1;
		atomic_store(&w->busy, mine);
		if (!lp->standby) {
			pthread_mutex_lock(&lp->m);
			if (!lp->standby)
				call_someone_locked(lp);
			pthread_mutex_unlock(&lp->m);
		} else if (atomic_load(&lp->deep)) {
			pthread_mutex_lock(&lp->m);
			pthread_cond_signal(&lp->standby_cv);
			pthread_mutex_unlock(&lp->m);
		}
		fuse_session_process_buf(lp->se, &w->buf);
		atomic_store(&w->busy, 0);
		if (lp->leader != w)   /* taken over meanwhile */
			return 0;
	}
}

/* While flooding: read, serve, read again, as libfuse's loop does; one
 * more thread is called whenever none is left reading. Returns 0 when
 * the flood is over, -1 when the loop ends. */
static int read_flood(struct loop *lp, struct worker *w)
{
	for (;;) {
		int res;

		atomic_fetch_add(&lp->nreading, 1);
		res = receive(lp, w);
		if (atomic_fetch_sub(&lp->nreading, 1) == 1 && res > 0) {
			pthread_mutex_lock(&lp->m);
			call_someone_locked(lp);
			pthread_mutex_unlock(&lp->m);
		}
		if (res < 0)
			return -1;
		if (res > 0) {
			if (starts_flood(&w->buf))
				flood(lp, w);
			fuse_session_process_buf(lp->se, &w->buf);
		}
		if (!flooding(lp))
			return 0;
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct loop *lp = w->lp;

	for (;;) {
		enum role r;
		int res;

		pthread_mutex_lock(&lp->m);
		r = wait_turn(lp, w);
		pthread_mutex_unlock(&lp->m);
		if (r == ROLE_END)
			break;
		res = r == ROLE_LEAD ? lead(lp, w) : read_flood(lp, w);
		if (res < 0)
			break;
	}
	pthread_mutex_lock(&lp->m);
	if (lp->leader == w)
		lp->leader = NULL;
	end_loop_locked(lp, lp->error);
	pthread_mutex_unlock(&lp->m);
	return NULL;
}

static void wake_up(int sig)
{
	(void)sig;
}

int df_loop(struct fuse_session *se, unsigned max_threads, unsigned spin_us)
{
	struct loop lp = { .se = se, .max = max_threads < 2 ? 2 : max_threads,
			   .spin_ns = spin_us * 1000LL };
	struct sigaction sa, old_sa;
	pthread_condattr_t ca;
	struct worker *w, *next;
	int rc, left;

	pthread_mutex_init(&lp.m, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&lp.standby_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&lp.idle_cv, NULL);
	sem_init(&lp.finish, 0, 0);

	pthread_mutex_lock(&lp.m);
	spawn_locked(&lp);
	rc = lp.nworkers ? 0 : -EAGAIN;
	pthread_mutex_unlock(&lp.m);

	/* A signal ends the session (fuse_set_signal_handlers) without
	 * waking anyone here when another thread takes it: look again each
	 * second. */
	while (rc == 0 && !fuse_session_exited(se)) {
		struct timespec ts;

		clock_after_ms(&ts, CLOCK_REALTIME, 1000);
		if (sem_timedwait(&lp.finish, &ts) == 0)
			break;
	}
	pthread_mutex_lock(&lp.m);
	end_loop_locked(&lp, 0);   /* a signal: no error */
	pthread_mutex_unlock(&lp.m);
	/* After an unmount every read(2) returns ENODEV; after a signal the
	 * connection lives on, and a thread in read(2) leaves it on EINTR
	 * (SIGUSR2, sent again until it is gone: it may arrive just before
	 * the read). No pthread_cancel: unwinding instrumented frames leaves
	 * the sanitizer's stack shadow poisoned. */
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = wake_up;
	sa.sa_flags = 0;
	sigaction(SIGUSR2, &sa, &old_sa);
	for (left = 1; left;) {
		left = 0;
		for (w = lp.workers; w; w = w->next) {
			struct timespec ts;

			if (w->joined)
				continue;
			if (atomic_load(&w->in_read))
				pthread_kill(w->th, SIGUSR2);
			clock_after_ms(&ts, CLOCK_REALTIME, 20);
			if (pthread_timedjoin_np(w->th, NULL, &ts) == 0)
				w->joined = 1;
			else
				left = 1;
		}
	}
	sigaction(SIGUSR2, &old_sa, NULL);
	for (w = lp.workers; w; w = next) {
		next = w->next;
		free(w->buf.mem);
		free(w);
	}
	if (rc == 0)
		rc = lp.error;
	sem_destroy(&lp.finish);
	pthread_cond_destroy(&lp.idle_cv);
	pthread_cond_destroy(&lp.standby_cv);
	pthread_mutex_destroy(&lp.m);
	return rc;
}
