// SPDX-License-Identifier: GPL-2.0-or-later
/* The migration engine (see migrate.h for the state machine).
 *
 * DESIGN
 * - Every job known lives in m->jobs (id order), mirrored by its record.
 *   A worker takes the pending job that comes first (manual before
 *   automatic, then priority, then age) whose range no running job of
 *   its file overlaps, with fewer than MIG_FILE_JOBS of them running,
 *   and runs it group by group. Its progress is published under
 *   m->lock for mig_list().
 * - Copies between two local tiers go through io_uring: one ring per
 *   worker, MIG_SLOTS registered buffers of MIG_CHUNK bytes, reads and
 *   writes of several chunks in flight, O_DIRECT where the filesystem
 *   takes it, short transfers and -EAGAIN resubmitted. The checksum is
 *   computed over the chunks in order as their reads complete. The
 *   verification reads the copies back through the same ring: with
 *   p->verify_cached (migrate_verify = cache) the copies were written
 *   through the page cache and are read back from it after the flush,
 *   then dropped from it (no disk I/O beyond cp's); otherwise they are
 *   written and read back O_DIRECT, from the medium (the disk reads every
 *   byte twice). Sources are read O_DIRECT in both. Other
 *   pairs (an object store on either side) copy through a buffer with the
 *   backends' extent operations, on workers of their own when
 *   p->remote_workers is set: a job is theirs when its destination, or
 *   the tier of an extent it moves when it was queued, is not a local
 *   file tier (plan_bytes); a job whose file changed since may still
 *   meet the other kind of copy, which either kind of worker can do.
 * - Bandwidth: each (source, destination) tier pair has a virtual clock;
 *   a chunk of n bytes books the next n / rate seconds on it and the
 *   worker sleeps until the end of its slot. The rate is the lower of
 *   bandwidth and busy_bw while a foreground read or write is under way
 *   and MIG_BUSY_WINDOW_MS after (mig_foreground_begin/end): I/O classes
 *   and nice do not keep a copy from taking the CPU time and memory
 *   bandwidth that a page-cache reader through FUSE needs (bench/migrate:
 *   its p99 beside a 200M migration 1.75-2.6 x idle, 0.7-1.2 x with a 32M
 *   busy limit; 2 vCPUs). A MIG_JOB_DEMAND job, which the foreground
 *   itself waits for, keeps the first limit only (a 256 MiB file in an
 *   object store read at random with automatic placement: 4 KiB reads
 *   3.7k -> 25k/s over 10 s; its 64 extents on the fast tier after 6 s,
 *   where 52 were after 10 s). Workers run at the lowest
 *   best-effort I/O priority and nice 10, below the foreground; the
 *   io_uring requests that copy and read back carry their own priority,
 *   idle class unless p->io_idle is off: the disk scheduler then serves
 *   a foreground reader first (on this kind of VM, mq-deadline, a cold
 *   4 KiB reader's p99 beside an unlimited migration went from about
 *   6 ms to under 1 ms; the migration kept about 60% of its pace). The
 *   thread itself stays best-effort so that its RocksDB writes and
 *   flushes, which foreground writers may wait for, are not starved.
 * - Record writes: COPYING is synced before the copy starts (a crash of
 *   the machine must not lose what recovery frees on dst), VERIFYING
 *   is not (it survives a crash of the daemon); the commit that flips a
 *   group is synced by the host before the sources are freed: per group,
 *   not per extent, one record flush before the copy, one device flush
 *   for the copies and one record flush for the flip.
 *   Between file tiers the group's sources are then freed with one
 *   punch of the whole range (host->free_run): ext4 took about 2.5 ms per
 *   4 MiB punch here, and one of 64 MiB costs about as much as ten. */
#include "tiering/migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "backends/local.h"
#include "common/clock.h"
#include "common/io.h"
#include "common/log.h"
#include "crypto/csum.h"

#define MIG_CHUNK      (1u << 20)      /* bytes per I/O */
#define MIG_SLOTS      8               /* chunks in flight per worker */
#define MIG_ALIGN      4096            /* O_DIRECT buffer and length alignment */
#define THROTTLE_SLICE_S 0.05          /* throttle sleeps at most this long
					* between looks at the limit */
#define MIG_GROUP_BYTES (64u << 20)    /* bytes per group commit, about */
#define MIG_RETRIES    5               /* restarts of an extent after a racing write */
#define MIG_WORKERS_MAX 16             /* upper bound of p->workers */
#define MIG_KEEP_DONE  1000            /* finished jobs kept in memory */

#define IOPRIO_CLASS_BE   2
#define IOPRIO_CLASS_SHIFT 13
#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_CLASS_IDLE 3
#define MIG_IOPRIO ((IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT) | 7)
#define MIG_IOPRIO_IDLE (IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT)

struct job_rt {
	struct meta_job j;             /* record as last published; m->lock */
	struct job_rt *next;           /* next job by id; m->lock */
	bool running;                  /* a worker has it; m->lock */
	bool remote;                   /* for the remote workers (when there
					* are): to or from an object store
					* when queued; m->lock */
	bool unsynced;                 /* failed on a commit not made durable:
					* its record, still COMMITTED, is for
					* the next start to clean; m->lock */
};

/* The failure warnings of one pair of tiers: one per change of state,
 * not one per job (every job fails alike while a tier is full). */
struct alert {
	int err;                       /* errno last warned of; 0: none since
					* the pair last worked */
	uint64_t quiet;                /* failures alike since, not logged */
};

struct migrator {
	struct mig_params p;           /* immutable copy of the parameters */
	pthread_mutex_t lock;          /* the fields below */
	pthread_cond_t cond;           /* work queued, job finished, stop */
	struct job_rt *jobs;           /* every job, by id */
	uint64_t next_id;              /* id of the next job */
	int nrunning;                  /* jobs being run */
	struct alert alerts[CFG_MAX_TIERS + 1][CFG_MAX_TIERS]; /* by source
					* (CFG_MAX_TIERS: not known) and
					* destination tier index */
	bool stop;                     /* workers must return */
	pthread_t th[2 * MIG_WORKERS_MAX]; /* workers: the local ones, then
					* the remote ones */
	struct worker_arg {
		struct migrator *m;
		int index;             /* in th[] */
	} wa[2 * MIG_WORKERS_MAX];
	int nth;                       /* workers started */
	_Atomic uint64_t bandwidth;    /* bytes/s per pair, 0 = none */
	_Atomic uint64_t busy_bw;      /* the same while the foreground is busy */
	_Atomic int64_t fg_ms;         /* last foreground end, monotonic ms */
	_Atomic int fg_inflight;       /* foreground reads and writes under way */
	pthread_mutex_t bw_lock;       /* bw_next */
	double bw_next[CFG_MAX_TIERS][CFG_MAX_TIERS]; /* pair's next free slot, s */
	_Atomic uint64_t bw_gen;       /* bumped by a new limit and by stop:
					* throttle's sleeps end */
};

/* One worker's io_uring and buffers. */
struct ring {
	struct io_uring ring;          /* the ring */
	bool ready;                    /* ring initialised */
	bool registered;               /* buffers registered */
	bool broken;                   /* a wait failed with requests in
					 * flight: copies go through buffers */
	bool hold;                     /* the copy holds the file's writers:
					 * no bandwidth limit */
	bool demand;                   /* a reader waits for it: not the
					 * busy limit (MIG_JOB_DEMAND) */
	char *cbuf;                    /* buffer copies: an extent's bytes,
					 * kept from one copy to the next */
	size_t cbuf_len;               /* its size */
	void *buf[MIG_SLOTS];          /* aligned chunk buffers */
};

static _Atomic int crash_point = 0;     /* enum below, 0 = none */

enum crash_at {
	CRASH_NONE = 0,
	CRASH_MID_COPY,
	CRASH_AFTER_COPY,
	CRASH_AFTER_FLUSH,
	CRASH_MID_VERIFY,
	CRASH_AFTER_COMMIT,
	CRASH_BEFORE_CLEAN,
};

static const char *const crash_names[] = {
	[CRASH_MID_COPY] = "mid_copy",
	[CRASH_AFTER_COPY] = "after_copy",
	[CRASH_AFTER_FLUSH] = "after_flush",
	[CRASH_MID_VERIFY] = "mid_verify",
	[CRASH_AFTER_COMMIT] = "after_commit",
	[CRASH_BEFORE_CLEAN] = "before_clean",
};

int mig_debug_crash_at(const char *point)
{
	size_t i;

	if (!point) {
		atomic_store(&crash_point, CRASH_NONE);
		return 0;
	}
	for (i = 1; i < sizeof(crash_names) / sizeof(crash_names[0]); i++) {
		if (!strcmp(point, crash_names[i])) {
			atomic_store(&crash_point, (int)i);
			return 0;
		}
	}
	return -EINVAL;
}

static void crash_check(enum crash_at at)
{
	if (atomic_load(&crash_point) == (int)at)
		_exit(77);
}

static _Atomic unsigned claim_delay_ms;  /* tests: wait before a claim */

void mig_debug_claim_delay(unsigned ms)
{
	atomic_store(&claim_delay_ms, ms);
}

static _Atomic unsigned size_delay_ms;   /* tests: before a copy's size */

void mig_debug_size_delay(unsigned ms)
{
	atomic_store(&size_delay_ms, ms);
}

static _Atomic unsigned submit_delay_ms; /* tests: a submit before it returns */

void mig_debug_submit_delay(unsigned ms)
{
	atomic_store(&submit_delay_ms, ms);
}

static _Atomic unsigned hold_delay_ms;   /* tests: a held copy waits */

void mig_debug_hold_delay(unsigned ms)
{
	atomic_store(&hold_delay_ms, ms);
}

const char *mig_state_name(uint32_t state)
{
	switch (state) {
	case META_JOB_PENDING: return "pending";
	case META_JOB_COPYING: return "copying";
	case META_JOB_VERIFYING: return "verifying";
	case META_JOB_COMMITTED: return "committed";
	case META_JOB_CLEANED: return "done";
	case META_JOB_ROLLED_BACK: return "failed";
	default: return "unknown";
	}
}

static bool job_done(const struct meta_job *j)
{
	return j->state == META_JOB_CLEANED || j->state == META_JOB_ROLLED_BACK;
}

/* Writes j's record; sync=1 makes it durable. */
static int job_store(struct migrator *m, struct meta_job *j, int sync)
{
	struct meta_batch *b = meta_batch_new();
	int rc;

	if (!b)
		return -ENOMEM;
	j->updated = real_ns();
	meta_put_job(b, j);
	rc = meta_commit(m->p.meta, b, sync);
	meta_batch_free(b);
	return rc;
}

/* Publishes the worker's copy of a job for mig_list(). */
static void job_publish(struct migrator *m, struct job_rt *jr,
			const struct meta_job *j)
{
	pthread_mutex_lock(&m->lock);
	jr->j = *j;
	pthread_mutex_unlock(&m->lock);
}

/* Stores (durably with sync) and publishes; a failed store is logged
 * (the job goes on: its record is only needed after a crash, and the
 * next store rewrites it). */
static int job_update(struct migrator *m, struct job_rt *jr,
		      struct meta_job *j, int sync)
{
	int rc = job_store(m, j, sync);

	if (rc < 0)
		log_warn("migration job %" PRIu64 ": cannot store its record: %s",
			 j->id, strerror(-rc));
	job_publish(m, jr, j);
	return rc;
}

static int tier_index(const struct migrator *m, uint32_t id)
{
	int i;

	for (i = 0; i < m->p.ntiers; i++)
		if (m->p.tiers[i].id == id)
			return i;
	return -1;
}

/* ---- bandwidth --------------------------------------------------------- */

static void fg_stamp(struct migrator *m)
{
	int64_t now = mono_ms();

	/* A load first: many threads storing one line would bounce it. */
	if (atomic_load_explicit(&m->fg_ms, memory_order_relaxed) != now)
		atomic_store_explicit(&m->fg_ms, now, memory_order_relaxed);
}

/* While one is under way the count says busy; the stamp, at its end,
 * keeps saying so for MIG_BUSY_WINDOW_MS more. */
void mig_foreground_begin(struct migrator *m)
{
	if (m)
		atomic_fetch_add_explicit(&m->fg_inflight, 1, memory_order_relaxed);
}

void mig_foreground_end(struct migrator *m)
{
	if (!m)
		return;
	fg_stamp(m);
	atomic_fetch_sub_explicit(&m->fg_inflight, 1, memory_order_relaxed);
}

int mig_foreground_busy(struct migrator *m)
{
	int64_t fg = atomic_load_explicit(&m->fg_ms, memory_order_relaxed);

	return atomic_load_explicit(&m->fg_inflight, memory_order_relaxed) > 0 ||
	       (fg && mono_ms() - fg < MIG_BUSY_WINDOW_MS);
}

/* The limit now: the lower of the two while the foreground is busy,
 * unless the copy is one the foreground waits for (`demand`). */
static uint64_t rate_now(struct migrator *m, bool demand)
{
	uint64_t rate = atomic_load(&m->bandwidth),
		 busy = atomic_load(&m->busy_bw);

	if (busy && !demand && (!rate || busy < rate) &&
	    mig_foreground_busy(m))
		return busy;
	return rate;
}

static void throttle(struct migrator *m, int src, int dst, size_t n,
		     bool demand)
{
	uint64_t rate = rate_now(m, demand), gen;
	double now, start, wait;

	if (!rate || __atomic_load_n(&m->stop, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&m->bw_lock);
	now = mono_s();
	start = m->bw_next[src][dst] > now ? m->bw_next[src][dst] : now;
	m->bw_next[src][dst] = start + (double)n / (double)rate;
	pthread_mutex_unlock(&m->bw_lock);
	/* Until the end of the chunk's slot: no burst beyond the rate. In
	 * slices: a new limit forgets the slots booked at the old one, and
	 * a stop waits for no slot. */
	wait = start + (double)n / (double)rate - now;
	gen = atomic_load(&m->bw_gen);
	while (wait > 0 && atomic_load(&m->bw_gen) == gen) {
		double d = wait < THROTTLE_SLICE_S ? wait : THROTTLE_SLICE_S;
		struct timespec ts = { .tv_sec = (time_t)d,
				       .tv_nsec = (long)((d - (time_t)d) * 1e9) };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		wait -= d;
	}
}

/* A new limit: the slots booked at the old one are forgotten. */
static void set_limit(struct migrator *m, _Atomic uint64_t *limit,
		      uint64_t bytes_per_s)
{
	atomic_store(limit, bytes_per_s);
	pthread_mutex_lock(&m->bw_lock);
	memset(m->bw_next, 0, sizeof(m->bw_next));
	pthread_mutex_unlock(&m->bw_lock);
	atomic_fetch_add(&m->bw_gen, 1);
}

void mig_set_bandwidth(struct migrator *m, uint64_t bytes_per_s)
{
	set_limit(m, &m->bandwidth, bytes_per_s);
}

uint64_t mig_bandwidth(struct migrator *m)
{
	return atomic_load(&m->bandwidth);
}

void mig_set_busy_bandwidth(struct migrator *m, uint64_t bytes_per_s)
{
	set_limit(m, &m->busy_bw, bytes_per_s);
}

uint64_t mig_busy_bandwidth(struct migrator *m)
{
	return atomic_load(&m->busy_bw);
}

/* ---- copying ----------------------------------------------------------- */

static void ring_fini(struct ring *r)
{
	int i;

	if (r->registered)
		io_uring_unregister_buffers(&r->ring);
	if (r->ready)
		io_uring_queue_exit(&r->ring);
	for (i = 0; i < MIG_SLOTS; i++)
		free(r->buf[i]);
	free(r->cbuf);
	memset(r, 0, sizeof(*r));
}

static int ring_init(struct ring *r)
{
	struct iovec iov[MIG_SLOTS];
	int i, rc;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < MIG_SLOTS; i++) {
		if (posix_memalign(&r->buf[i], MIG_ALIGN, MIG_CHUNK)) {
			ring_fini(r);
			return -ENOMEM;
		}
		iov[i].iov_base = r->buf[i];
		iov[i].iov_len = MIG_CHUNK;
	}
	rc = io_uring_queue_init(2 * MIG_SLOTS, &r->ring, 0);
	if (rc < 0) {
		ring_fini(r);
		return rc;
	}
	r->ready = true;
	rc = io_uring_register_buffers(&r->ring, iov, MIG_SLOTS);
	if (rc < 0) {
		ring_fini(r);
		return rc;
	}
	r->registered = true;
	return 0;
}

/* n rounded up to MIG_ALIGN: O_DIRECT lengths, whole pages. */
static uint64_t align_up(uint64_t n)
{
	return (n + MIG_ALIGN - 1) & ~(uint64_t)(MIG_ALIGN - 1);
}

enum slot_state { SLOT_FREE, SLOT_READING, SLOT_READ, SLOT_WRITING };

struct slot {
	enum slot_state st;            /* where the chunk is */
	uint64_t off;                  /* file offset of the chunk */
	size_t len;                    /* bytes of the extent in it */
	size_t io_len;                 /* bytes transferred per I/O (aligned) */
	size_t done;                   /* bytes of the current I/O done */
	uint64_t seq;                  /* chunk number, for in-order hashing */
};

static _Atomic int uring_fault;          /* tests: MIG_URING_* or 0 */
static _Atomic unsigned uring_seen;      /* completions since it was set */

void mig_debug_uring_fault(int kind)
{
	atomic_store(&uring_seen, 0);
	atomic_store(&uring_fault, kind);
}

/* The result of a completion as the test knob has it. */
static int fault_res(int res)
{
	unsigned n;

	switch (atomic_load(&uring_fault)) {
	case MIG_URING_EAGAIN:
		n = atomic_fetch_add(&uring_seen, 1) + 1;
		return n % 3 == 0 ? -EAGAIN : res;
	case MIG_URING_EIO:
		n = atomic_fetch_add(&uring_seen, 1) + 1;
		return n == 5 ? -EIO : res;
	default:
		return res;
	}
}

/* Submits every queued request. A submission refused for the moment
 * (EINTR, EAGAIN: the kernel is short of memory for requests, EBUSY: its
 * completion queue is full) is tried again, at most SUBMIT_TRIES times a
 * millisecond apart. Returns 0, or -errno with requests still queued:
 * waiting for their completions would wait forever. */
#define SUBMIT_TRIES 100

static int ring_submit(struct ring *r)
{
	int n = 0;

	for (int tries = 0; tries < SUBMIT_TRIES; tries++) {
		int f = atomic_load(&uring_fault);

		if (f == MIG_URING_SUBMIT_ENOMEM)
			n = -ENOMEM;
		else if (f == MIG_URING_SUBMIT_EAGAIN &&
			 atomic_fetch_add(&uring_seen, 1) < 3)
			n = -EAGAIN;
		else
			n = io_uring_submit(&r->ring);
		if (n >= 0 && io_uring_sq_ready(&r->ring) == 0)
			return 0;
		if (n < 0 && n != -EINTR && n != -EAGAIN && n != -EBUSY)
			return n;
		usleep(1000);
	}
	return n < 0 ? n : -EAGAIN;
}

/* A submission or a wait failed with requests still queued or in
 * flight, which would complete into the next copy's buffers: this
 * worker's ring is done. */
static void ring_break(struct ring *r, const char *what, int err)
{
	r->broken = true;
	log_warn("migration: io_uring %s failed (%s); copies go through "
		 "buffers from now on", what, strerror(-err));
}

static void submit_slot(struct ring *r, struct slot *sl, int i, int fd,
			int ioprio)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
	char *p = (char *)r->buf[i] + sl->done;
	size_t n = sl->io_len - sl->done;

	if (atomic_load(&uring_fault) == MIG_URING_SHORT && n > 2 * MIG_ALIGN)
		n = (n / 2 + MIG_ALIGN - 1) & ~(size_t)(MIG_ALIGN - 1);

	/* The ring has 2 * MIG_SLOTS entries, at most MIG_SLOTS in use. */
	if (sl->st == SLOT_READING)
		io_uring_prep_read_fixed(sqe, fd, p, n, sl->off + sl->done, i);
	else
		io_uring_prep_write_fixed(sqe, fd, p, n, sl->off + sl->done, i);
	/* A request carries its own priority: the thread's (ioprio_set)
	 * only reaches those the kernel issues from this thread. */
	sqe->ioprio = ioprio;
	io_uring_sqe_set_data(sqe, (void *)(uintptr_t)i);
}

/* Finishes a read that O_DIRECT left short (at the end of the file) with
 * plain preads; what lies past the end reads as zeros. */
static int short_read(struct backend *be, uint64_t ino, void *buf,
		      struct slot *sl)
{
	int fd = be_local_open_fd(be, ino, 0, 0);
	int rc = 0;

	if (fd < 0)
		return fd;
	while (sl->done < sl->len) {
		ssize_t n = pread(fd, (char *)buf + sl->done, sl->len - sl->done,
				  (off_t)(sl->off + sl->done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0) {
			memset((char *)buf + sl->done, 0, sl->io_len - sl->done);
			sl->done = sl->io_len;
			break;
		}
		sl->done += (size_t)n;
	}
	close(fd);
	return rc;
}

/* Writes one zero byte at off of fd through the page cache (O_DIRECT
 * taken off fd first). 0 or -errno. */
static int write_zero_byte(int fd, uint64_t off)
{
	int fl = fcntl(fd, F_GETFL);
	ssize_t n;

	if (fl < 0 || ((fl & O_DIRECT) && fcntl(fd, F_SETFL, fl & ~O_DIRECT) < 0))
		return -errno;
	n = pwrite(fd, "", 1, (off_t)off);
	if (n < 0)
		return -errno;
	return n == 1 ? 0 : -EIO;
}

/* Copies [s->off, s->off + s->len) between two local tiers' files with
 * io_uring, hashing the bytes read into c. With `verify`, reads the copy
 * on dst back instead (O_DIRECT where it can: from the medium, not the
 * page cache) and only hashes it. The range on dst is punched first, so
 * that a chunk of zeros (a hole of the source, or zeros written) stays a
 * hole there and a sparse extent stays sparse; where dst cannot punch,
 * every chunk is written. */
static int uring_copy(struct migrator *m, struct ring *r,
		      const struct mig_snap *s, int dst, struct csum_ctx *c,
		      bool verify)
{
	struct backend *sbe = m->p.tiers[verify ? dst : s->tier].be,
		       *dbe = m->p.tiers[dst].be;
	struct slot sl[MIG_SLOTS] = { 0 };
	uint64_t end = s->off + s->len, next_off = s->off, next_seq = 0,
		 hash_seq = 0, skipped_end = 0;
	int sfd, dfd = -1, rc = 0, inflight = 0, i, direct = 1;
	bool holes = false;
	/* Held writers wait for this copy: not behind the disk's idle
	 * time. */
	int prio = m->p.io_idle && !r->hold ? MIG_IOPRIO_IDLE : MIG_IOPRIO;
	/* Reading back through the page cache: the copy is written through
	 * it too, and read back from it after the flush. */
	bool cached = m->p.verify_cached;

	/* Never made here: a source (or copy) whose file is gone is lost,
	 * not an empty one to copy and seal as zeros. */
	sfd = verify && cached ? -EINVAL : be_local_open_fd(sbe, s->ino, 1, 0);
	if (sfd == -EINVAL) {
		direct = 0;
		sfd = be_local_open_fd(sbe, s->ino, 0, 0);
	}
	if (sfd == -ENOENT) {
		log_err("migration: inode %" PRIu64 ": its file on tier %s is missing",
			s->ino, sbe->name);
		return -EIO;
	}
	if (sfd < 0)
		return sfd;
	if (!verify) {
		/* `direct` is the source's: its reads need aligned lengths
		 * whatever the destination takes; the writes have the
		 * reads' lengths, so O_DIRECT on dst only with it. */
		dfd = cached || !direct ? -EINVAL :
		      be_local_open_fd(dbe, s->ino, 1, 1);
		if (dfd == -EINVAL)
			dfd = be_local_open_fd(dbe, s->ino, 0, 1);
		if (dfd < 0) {
			close(sfd);
			return dfd;
		}
		holes = fallocate(dfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				  (off_t)s->off, (off_t)s->len) == 0;
	}
	for (;;) {
		/* Start reads into free slots. */
		for (i = 0; i < MIG_SLOTS && next_off < end && rc == 0; i++) {
			if (sl[i].st != SLOT_FREE)
				continue;
			sl[i].off = next_off;
			sl[i].len = end - next_off < MIG_CHUNK ? end - next_off : MIG_CHUNK;
			sl[i].io_len = direct ? (size_t)align_up(sl[i].len) : sl[i].len;
			sl[i].done = 0;
			sl[i].seq = next_seq++;
			sl[i].st = SLOT_READING;
			next_off += sl[i].len;
			if (!verify && !r->hold)
				throttle(m, s->tier, dst, sl[i].len,
					 r->demand);
			submit_slot(r, &sl[i], i, sfd, prio);
			inflight++;
		}
		/* Hash chunks in order and start their writes. */
		for (i = 0; i < MIG_SLOTS && rc == 0; i++) {
			if (sl[i].st != SLOT_READ || sl[i].seq != hash_seq)
				continue;
			csum_update(c, r->buf[i], sl[i].len);
			hash_seq++;
			if (verify) {
				sl[i].st = SLOT_FREE;
				crash_check(CRASH_MID_VERIFY);
				i = -1;
				continue;
			}
			if (holes && io_all_zero(r->buf[i], sl[i].len)) {
				if (sl[i].off + sl[i].len > skipped_end)
					skipped_end = sl[i].off + sl[i].len;
				sl[i].st = SLOT_FREE;
				i = -1;
				continue;
			}
			sl[i].st = SLOT_WRITING;
			sl[i].done = 0;
			submit_slot(r, &sl[i], i, dfd, prio);
			inflight++;
			i = -1;        /* look again from the start */
		}
		if (inflight == 0)
			break;
		{
			struct io_uring_cqe *cqe;
			int res, k;

			if ((res = ring_submit(r)) < 0) {
				if (rc == 0)
					rc = res;
				ring_break(r, "submission", res);
				break;
			}
			res = io_uring_wait_cqe(&r->ring, &cqe);
			if (res < 0) {
				if (res == -EINTR)
					continue;
				rc = res;
				ring_break(r, "wait", res);
				break;
			}
			k = (int)(uintptr_t)io_uring_cqe_get_data(cqe);
			res = fault_res(cqe->res);
			io_uring_cqe_seen(&r->ring, cqe);
			inflight--;
			if (res == -EAGAIN || res == -EINTR) {
				submit_slot(r, &sl[k], k, sl[k].st == SLOT_READING ? sfd : dfd,
					    prio);
				inflight++;
				continue;
			}
			if (res < 0) {
				if (rc == 0)
					rc = res;
				sl[k].st = SLOT_FREE;
				continue;
			}
			if (sl[k].st == SLOT_WRITING && res == 0) {
				/* nothing written, and nothing would be */
				if (rc == 0)
					rc = -EIO;
				sl[k].st = SLOT_FREE;
				continue;
			}
			if (sl[k].st == SLOT_READING && res == 0) {
				/* Past the end of the source file: zeros. */
				memset((char *)r->buf[k] + sl[k].done, 0,
				       sl[k].io_len - sl[k].done);
				sl[k].done = sl[k].io_len;
			} else {
				sl[k].done += (size_t)res;
			}
			if (sl[k].st == SLOT_READING && sl[k].done < sl[k].len &&
			    direct) {
				/* Short of the end of a file shorter than the
				 * extent: the rest, unaligned, without O_DIRECT. */
				res = short_read(sbe, s->ino, r->buf[k], &sl[k]);
				if (res < 0) {
					if (rc == 0)
						rc = res;
					sl[k].st = SLOT_FREE;
					continue;
				}
			}
			if (sl[k].done < sl[k].io_len && !(sl[k].st == SLOT_READING &&
							   sl[k].done >= sl[k].len)) {
				/* Short transfer: the rest again. */
				submit_slot(r, &sl[k], k, sl[k].st == SLOT_READING ? sfd : dfd,
					    prio);
				inflight++;
				continue;
			}
			if (sl[k].st == SLOT_READING) {
				if (sl[k].done < sl[k].io_len)
					memset((char *)r->buf[k] + sl[k].done, 0,
					       sl[k].io_len - sl[k].done);
				if (sl[k].len < sl[k].io_len)
					memset((char *)r->buf[k] + sl[k].len, 0,
					       sl[k].io_len - sl[k].len);
				sl[k].st = SLOT_READ;
			} else {
				sl[k].st = SLOT_FREE;
			}
		}
		if (rc && inflight == 0)
			break;
	}
	/* The read-back leaves the page cache as it found it: the copy's
	 * pages, clean since the flush, go; the last one too, which the
	 * kernel keeps unless the range covers it whole. */
	if (verify && cached)
		posix_fadvise(sfd, (off_t)s->off, (off_t)align_up(s->len),
			      POSIX_FADV_DONTNEED);
	/* A chunk of zeros at the end was not written: the file reaches
	 * the end of the extent all the same, as a written one would. An
	 * allocation of its last byte makes the file that long and never
	 * shorter: a size set with fstat and ftruncate could cut off what
	 * another job of the file, or a writer, put further on in between.
	 * Where the filesystem cannot allocate, the byte is written (a zero,
	 * through the page cache). */
	if (rc == 0 && skipped_end) {
		if (atomic_load(&size_delay_ms))
			usleep(1000u * atomic_load(&size_delay_ms));
		if (fallocate(dfd, 0, (off_t)skipped_end - 1, 1) < 0)
			rc = errno == EOPNOTSUPP ? write_zero_byte(dfd, skipped_end - 1)
						 : -errno;
	}
	close(sfd);
	if (dfd >= 0)
		close(dfd);
	if (rc == 0 && hash_seq != next_seq)
		rc = -EIO;
	return rc;
}

/* Copies through a buffer with the backends' extent operations. */
static int buffer_copy(struct migrator *m, struct ring *r,
		       const struct mig_snap *s, int dst, struct csum_ctx *c)
{
	struct backend *sbe = m->p.tiers[s->tier].be;
	struct be_ext x = { .ino = s->ino, .off = s->off, .len = s->len,
			    .version = s->version };
	uint64_t done = 0;
	char *buf;

	/* The worker's buffer: a fresh one each time cost the page faults
	 * of its first touch and the kernel's copy into the page cache
	 * about as much as the read from an object store. */
	if (!r->cbuf || r->cbuf_len < s->len) {
		size_t want = s->len ? s->len : 1;

		free(r->cbuf);
		r->cbuf_len = 0;
		if (!(r->cbuf = malloc(want)))
			return -ENOMEM;
		r->cbuf_len = want;
	}
	buf = r->cbuf;
	while (done < s->len) {
		size_t n = s->len - done < MIG_CHUNK ? s->len - done : MIG_CHUNK;
		ssize_t got;

		throttle(m, s->tier, dst, n, r->demand);
		got = sbe->ops->ext_read(sbe, &x, buf + done, n, s->off + done);
		if (got < 0)
			return (int)got;
		csum_update(c, buf + done, n);
		done += n;
	}
	return m->p.host.write_copy(m->p.host.arg, s, dst, buf, s->len);
}

/* Reads the copy back and hashes it into c. */
static int read_back(struct migrator *m, const struct mig_snap *s, int dst,
		     struct csum_ctx *c)
{
	struct backend *dbe = m->p.tiers[dst].be;
	struct be_ext x = { .ino = s->ino, .off = s->off, .len = s->len,
			    .version = s->version + 1 };
	char *buf = malloc(MIG_CHUNK);
	uint64_t done = 0;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	while (done < s->len) {
		size_t n = s->len - done < MIG_CHUNK ? s->len - done : MIG_CHUNK;
		ssize_t got = dbe->ops->ext_read(dbe, &x, buf, n, s->off + done);

		if (got < 0) {
			rc = (int)got;
			break;
		}
		csum_update(c, buf, n);
		done += n;
		crash_check(CRASH_MID_VERIFY);
	}
	free(buf);
	return rc;
}

/* A run of adjacent extents of one file on one tier, moved together:
 * one flush, one synced commit for all of them. */
struct group {
	struct mig_flip v[MIG_GROUP_MAX]; /* the extents, by offset */
	int n;                            /* how many */
	size_t sumlen;                    /* bytes of each checksum */
};

/* Frees the destination copies of g's extents (all, or the stale ones). */
static void free_dst_copies(struct migrator *m, const struct meta_job *j,
			    const struct group *g, int dst, bool stale_only)
{
	const struct mig_host *h = &m->p.host;
	int i, frc;

	for (i = 0; i < g->n; i++) {
		const struct mig_snap *s = &g->v[i].s;

		if (stale_only && !g->v[i].stale)
			continue;
		frc = h->free_copy(h->arg, s->ino, s->off, s->len,
				   s->version + 1, dst);
		if (frc < 0)
			log_warn("migration job %" PRIu64 ": cannot free the copy "
				 "on %s (inode %" PRIu64 " offset %" PRIu64 "): %s",
				 j->id, m->p.tiers[dst].be->name, s->ino, s->off,
				 strerror(-frc));
	}
}

/* The bytes read of s, with checksum sum, against the checksum s was
 * sealed with (when it was, by the same algorithm): -EIO (why filled,
 * logged) when they differ while the extent is still the one
 * snapshotted, its source changed on the medium; -ESTALE when a write
 * came meanwhile (the bytes read may mix both); else 0. */
static int check_sealed(struct migrator *m, const struct mig_snap *s,
			const uint8_t *sum, size_t sumlen, char *why,
			size_t whylen)
{
	const struct mig_host *h = &m->p.host;
	struct mig_snap now;

	if (!(s->flags & META_EXT_SEALED) ||
	    !(s->flags & META_EXT_SHA256) != !m->p.sha256 ||
	    memcmp(sum, s->csum, sumlen) == 0)
		return 0;
	if (h->next(h->arg, s->ino, s->off, s->off + 1, -1, &now) != 0 ||
	    now.off != s->off || now.version != s->version || now.len != s->len)
		return -ESTALE;
	snprintf(why, whylen, "source on %s fails its sealed checksum",
		 m->p.tiers[s->tier].be->name);
	log_err("inode %" PRIu64 ", extent at %" PRIu64 ": %s: its bytes "
		"changed on the medium since it was sealed; it stays there",
		s->ino, s->off, why);
	return -EIO;
}

/* Whether the extent that s snapshotted is no longer as it was:
 * rewritten, truncated away, moved, or its file removed (or it cannot be
 * told). A copy loses to that change and is tried again. */
static bool snap_changed(struct migrator *m, const struct mig_snap *s)
{
	const struct mig_host *h = &m->p.host;
	struct mig_snap now;

	return h->next(h->arg, s->ino, s->off, s->off + 1, -1, &now) != 0 ||
	       now.off != s->off || now.len != s->len ||
	       now.version != s->version || now.tier != s->tier;
}

/* Copies every extent of g to dst, keeping each one's checksum. */
static int copy_group(struct migrator *m, struct ring *r, struct group *g,
		      int dst, bool uring, char *why, size_t whylen)
{
	struct backend *sbe = m->p.tiers[g->v[0].s.tier].be,
		       *dbe = m->p.tiers[dst].be;
	struct csum_ctx c;
	int i, rc;

	for (i = 0; i < g->n; i++) {
		const struct mig_snap *s = &g->v[i].s;

		if ((rc = csum_init(&c, m->p.sha256)) < 0) {
			snprintf(why, whylen, "out of memory");
			return rc;
		}
		if (uring)
			rc = uring_copy(m, r, s, dst, &c, false);
		else
			rc = buffer_copy(m, r, s, dst, &c);
		g->sumlen = csum_final(&c, g->v[i].csum);
		/* A source that a write (a recall from an object store
		 * frees the object) or an unlink took away is a race lost,
		 * not a failure. */
		if (rc < 0 && rc != -ESTALE && snap_changed(m, s))
			rc = -ESTALE;
		if (rc < 0) {
			if (rc != -ESTALE)
				snprintf(why, whylen, "copy from %s to %s: %s",
					 sbe->name, dbe->name, strerror(-rc));
			return rc;
		}
		if ((rc = check_sealed(m, s, g->v[i].csum, g->sumlen, why,
				       whylen)) < 0)
			return rc;
		if (i == 0 && g->n > 1)
			crash_check(CRASH_MID_COPY);
	}
	return 0;
}

/* Reads every copy of g back and compares its checksum. A copy that
 * differs from an extent that changed since its snapshot is a race lost
 * (-ESTALE): a truncate that cut the extent cut its copy on dst too (it
 * trims every tier's file). */
static int verify_group(struct migrator *m, struct ring *r,
			const struct group *g, int dst, bool uring, char *why,
			size_t whylen)
{
	struct backend *dbe = m->p.tiers[dst].be;
	uint8_t back[CSUM_MAX];
	struct csum_ctx c;
	int i, rc;

	for (i = 0; i < g->n; i++) {
		const struct mig_snap *s = &g->v[i].s;

		if ((rc = csum_init(&c, m->p.sha256)) < 0) {
			snprintf(why, whylen, "out of memory");
			return rc;
		}
		if (uring)
			rc = uring_copy(m, r, s, dst, &c, true);
		else
			rc = read_back(m, s, dst, &c);
		csum_final(&c, back);
		if ((rc < 0 || memcmp(g->v[i].csum, back, g->sumlen)) &&
		    snap_changed(m, s))
			return -ESTALE;
		if (rc < 0) {
			snprintf(why, whylen, "read back from %s: %s", dbe->name,
				 strerror(-rc));
			return rc;
		}
		if (memcmp(g->v[i].csum, back, g->sumlen)) {
			snprintf(why, whylen, "checksum of the copy on %s differs "
				 "from the source's", dbe->name);
			return -EIO;
		}
	}
	return 0;
}

/* Moves the extents of g. Returns 0 (every one moved), -ESTALE (writes
 * raced: the extents flipped stay moved, the others' copies were freed
 * and their v[].stale set; try them again), MIG_COMMIT_UNSYNCED with
 * `why` filled (the extents flipped point at their copies, but their
 * sources stay: the flip is not durable) or -errno with `why` filled
 * (every copy freed, nothing moved). */
static int move_group(struct migrator *m, struct ring *r, struct job_rt *jr,
		      struct meta_job *j, struct group *g, int dst, bool hold,
		      char *why, size_t whylen)
{
	const struct mig_host *h = &m->p.host;
	const struct mig_snap *s0 = &g->v[0].s, *sl = &g->v[g->n - 1].s;
	struct backend *sbe = m->p.tiers[s0->tier].be, *dbe = m->p.tiers[dst].be;
	struct be_ext dx = { .ino = s0->ino, .off = s0->off, .len = s0->len,
			     .version = s0->version + 1 };
	bool uring = be_is_local(sbe) && be_is_local(dbe) && r->ready &&
		     !r->broken;
	int rc, frc, i, stale = 0;

	j->state = META_JOB_COPYING;
	j->src_tier = m->p.tiers[s0->tier].id;
	j->cur_off = s0->off;
	j->cur_version = s0->version;
	j->cur_len = sl->off + sl->len - s0->off;
	if (g->n > 1)
		j->flags |= MIG_JOB_GROUP;
	else
		j->flags &= ~(uint32_t)MIG_JOB_GROUP;
	/* Durable before the first byte reaches dst: a crash of the machine
	 * that lost this record would leave the copies in dst's file for the
	 * inode, where no scan finds them. */
	if ((rc = job_update(m, jr, j, 1)) < 0) {
		snprintf(why, whylen, "storing the job's record: %s",
			 strerror(-rc));
		return rc;
	}

	for (i = 0; i < g->n; i++)
		g->v[i].stale = 0;
	if (atomic_load(&claim_delay_ms))
		usleep(1000u * atomic_load(&claim_delay_ms));
	hold = hold && uring && g->n == 1;
	if (h->claim &&
	    (rc = h->claim(h->arg, s0->ino, s0->off, j->cur_len, dst, hold)) < 0) {
		snprintf(why, whylen, "claiming the range: %s", strerror(-rc));
		return rc;
	}
	/* Claimed, no new extent of the range goes to dst; one made there
	 * since the snapshot (a truncate and a write) must not be written
	 * over by the copy: the snapshots must still hold. Holding the
	 * writers, the extent is taken as it is now, which stays. */
	for (i = 0; i < g->n; i++) {
		struct mig_snap now;

		if (!snap_changed(m, &g->v[i].s))
			continue;
		if (!hold || h->next(h->arg, s0->ino, s0->off, s0->off + 1, dst,
				     &now) != 0 ||
		    now.off != s0->off || now.tier != s0->tier) {
			rc = -ESTALE;
			goto rollback;
		}
		/* Grown by an append since (the hold reaches the end of the
		 * chunk): the record names the copy's new length. */
		if (now.len != s0->len) {
			j->cur_len = now.len;
			if ((rc = job_update(m, jr, j, 1)) < 0) {
				snprintf(why, whylen, "storing the job's record: %s",
					 strerror(-rc));
				goto rollback;
			}
		}
		g->v[i].s = now;
	}
	if (hold && atomic_load(&hold_delay_ms))
		usleep(1000u * atomic_load(&hold_delay_ms));
	r->hold = hold;
	r->demand = j->flags & MIG_JOB_DEMAND;
	rc = copy_group(m, r, g, dst, uring, why, whylen);
	r->hold = false;
	r->demand = false;
	if (rc < 0)
		goto rollback;
	crash_check(CRASH_AFTER_COPY);
	/* A group lives in one file per tier: one flush covers it. */
	for (i = 0; i < g->n; i++) {
		dx.off = g->v[i].s.off;
		dx.len = g->v[i].s.len;
		dx.version = g->v[i].s.version + 1;
		if ((rc = dbe->ops->ext_sync(dbe, &dx)) < 0) {
			snprintf(why, whylen, "flush on %s: %s", dbe->name,
				 strerror(-rc));
			goto rollback;
		}
		if (uring)
			break;
	}
	crash_check(CRASH_AFTER_FLUSH);

	j->state = META_JOB_VERIFYING;
	job_update(m, jr, j, 0);
	if ((rc = verify_group(m, r, g, dst, uring, why, whylen)) < 0)
		goto rollback;

	j->state = META_JOB_COMMITTED;
	rc = h->commit(h->arg, g->v, g->n, dst,
		       m->p.sha256 ? META_EXT_SHA256 : 0, j);
	if (rc < 0) {
		if (rc == -ENOENT)
			snprintf(why, whylen, "the file was removed");
		else if (rc != -ESTALE)
			snprintf(why, whylen, "commit: %s", strerror(-rc));
		goto rollback;
	}
	job_publish(m, jr, j);
	if (rc == MIG_COMMIT_UNSYNCED) {
		/* Readers use the copies now, so they stay; a crash of the
		 * machine could bring back the map before, so the sources
		 * stay too. The record that went with the flip says
		 * COMMITTED: the next start frees the copies that the map
		 * does not name then. */
		free_dst_copies(m, j, g, dst, true);
		if (h->claim)
			h->claim(h->arg, s0->ino, s0->off, 0, -1, 0);
		snprintf(why, whylen, "moved, but not durable: the metadata "
			 "sync failed; old copies kept until the next start");
		return rc;
	}
	crash_check(CRASH_AFTER_COMMIT);
	crash_check(CRASH_BEFORE_CLEAN);
	for (i = 0; i < g->n; i++)
		stale += g->v[i].stale;
	if (be_is_local(sbe) && h->free_run && !stale) {
		/* A file tier: the group's copies in one go (each punch of
		 * ext4 costs about as much as one of the whole range). */
		frc = h->free_run(h->arg, s0->ino, s0->off,
				  sl->off + sl->len - s0->off, s0->tier);
		if (frc < 0)
			log_warn("migration job %" PRIu64 ": cannot free the old copies "
				 "on %s (inode %" PRIu64 " offsets %" PRIu64 " to %" PRIu64
				 "): %s; they stay until fsck", j->id, sbe->name, s0->ino,
				 s0->off, sl->off + sl->len, strerror(-frc));
	} else {
		for (i = 0; i < g->n; i++) {
			const struct mig_snap *s = &g->v[i].s;

			if (g->v[i].stale)
				continue;
			frc = h->free_copy(h->arg, s->ino, s->off, s->len,
					   s->version, s->tier);
			if (frc < 0)
				log_warn("migration job %" PRIu64 ": cannot free the old "
					 "copy on %s (inode %" PRIu64 " offset %" PRIu64
					 "): %s; it stays until fsck", j->id, sbe->name,
					 s->ino, s->off, strerror(-frc));
		}
	}
	if (stale)
		free_dst_copies(m, j, g, dst, true);
	if (h->claim)
		h->claim(h->arg, s0->ino, s0->off, 0, -1, 0);
	return stale ? -ESTALE : 0;

rollback:
	free_dst_copies(m, j, g, dst, false);
	if (h->claim)
		h->claim(h->arg, s0->ino, s0->off, 0, -1, 0);
	for (i = 0; i < g->n; i++)
		g->v[i].stale = 1;
	return rc;
}

/* Gathers from pos the extents to move next: adjacent ones of one tier,
 * up to MIG_GROUP_MAX and MIG_GROUP_BYTES, when both tiers are local
 * files (where one flush covers them all); one extent otherwise. */
static int gather(struct migrator *m, struct ring *r, const struct meta_job *j,
		  uint64_t pos, uint64_t end, int dst, struct group *g)
{
	const struct mig_host *h = &m->p.host;
	uint64_t bytes = 0;
	struct mig_snap s;
	int rc;

	g->n = 0;
	while (g->n < MIG_GROUP_MAX && bytes < MIG_GROUP_BYTES) {
		rc = h->next(h->arg, j->ino, pos, end, dst, &s);
		if (rc < 0)
			return g->n ? 0 : rc;
		if (g->n) {
			const struct mig_snap *p = &g->v[g->n - 1].s;

			if (s.off != p->off + p->len || s.tier != p->tier)
				break;
		} else if (!r->ready || r->broken ||
			   !be_is_local(m->p.tiers[s.tier].be) ||
			   !be_is_local(m->p.tiers[dst].be)) {
			g->v[g->n++].s = s;
			break;
		}
		g->v[g->n++].s = s;
		bytes += s.len;
		pos = s.off + 1;
	}
	return 0;
}

/* Sums the bytes still to move. */
static uint64_t plan_bytes(struct migrator *m, const struct meta_job *j,
			   int dst, bool *remote)
{
	const struct mig_host *h = &m->p.host;
	uint64_t end = j->len == UINT64_MAX ? UINT64_MAX : j->off + j->len;
	uint64_t pos = j->off, sum = 0;
	struct mig_snap s;

	if (remote)
		*remote = !be_is_local(m->p.tiers[dst].be);
	while (h->next(h->arg, j->ino, pos, end, dst, &s) == 0) {
		sum += s.len;
		if (remote && !be_is_local(m->p.tiers[s.tier].be))
			*remote = true;
		pos = s.off + 1;
	}
	return sum;
}

/* "from SRC to DST" (no "from" when src is -1) into buf. */
static void pair_name(const struct migrator *m, int src, int dst, char *buf,
		      size_t len)
{
	snprintf(buf, len, "%s%s to %s", src < 0 ? "" : "from ",
		 src < 0 ? "" : m->p.tiers[src].be->name,
		 m->p.tiers[dst].be->name);
}

/* Warns that job j failed with errno err (from tier index src, -1 if not
 * known, to dst, -1 if not configured) for reason `why`: the first of
 * its kind since the pair last worked; those alike after it are only
 * counted. */
static void warn_failure(struct migrator *m, const struct meta_job *j,
			 int src, int dst, int err, const char *why)
{
	struct alert *a;
	char pair[96];
	uint64_t quiet;
	int was;

	if (dst < 0) {
		log_warn("migration job %" PRIu64 " (inode %" PRIu64 "): rolled "
			 "back: %s", j->id, j->ino, why);
		return;
	}
	a = &m->alerts[src < 0 ? CFG_MAX_TIERS : src][dst];
	pthread_mutex_lock(&m->lock);
	was = a->err;
	quiet = a->quiet;
	if (was == err) {
		a->quiet++;
	} else {
		a->err = err;
		a->quiet = 0;
	}
	pthread_mutex_unlock(&m->lock);
	if (was == err)
		return;
	pair_name(m, src, dst, pair, sizeof(pair));
	if (quiet)
		log_notice("migrations %s: %" PRIu64 " more failed alike (%s) "
			   "since the last warning", pair, quiet, strerror(was));
	log_warn("migration job %" PRIu64 " (inode %" PRIu64 "): rolled back: "
		 "%s (the next failures alike %s are counted, not logged, until "
		 "one works)", j->id, j->ino, why, pair);
}

/* A group moved from tier index src to dst: failures between them (and
 * those to dst from a source not known) are warned of again, and those
 * only counted are told. */
static void pair_works(struct migrator *m, int src, int dst)
{
	int from[2] = { src, -1 }, k, was;
	char pair[96];
	uint64_t quiet;

	for (k = 0; k < 2; k++) {
		struct alert *a = &m->alerts[from[k] < 0 ? CFG_MAX_TIERS :
					     from[k]][dst];

		pthread_mutex_lock(&m->lock);
		was = a->err;
		quiet = a->quiet;
		a->err = 0;
		a->quiet = 0;
		pthread_mutex_unlock(&m->lock);
		if (!was)
			continue;
		pair_name(m, from[k], dst, pair, sizeof(pair));
		if (quiet)
			log_notice("migrations %s work again; %" PRIu64 " more "
				   "failed alike (%s) since the last warning",
				   pair, quiet, strerror(was));
		else
			log_notice("migrations %s work again", pair);
	}
}

static void run_job(struct migrator *m, struct ring *r, struct job_rt *jr)
{
	struct meta_job j;
	uint64_t end, pos;
	char why[META_JOB_REASON_MAX] = "";
	int dst, src = -1, rc = 0, tries = 0, i;
	struct group g;

	pthread_mutex_lock(&m->lock);
	j = jr->j;
	pthread_mutex_unlock(&m->lock);
	dst = tier_index(m, j.dst_tier);
	if (dst < 0) {
		rc = -EINVAL;
		snprintf(why, sizeof(why), "destination tier is not configured");
		goto fail;
	}
	end = j.len == UINT64_MAX ? UINT64_MAX : j.off + j.len;
	j.bytes_total = j.bytes_done + plan_bytes(m, &j, dst, NULL);
	pos = j.off;
	for (;;) {
		pthread_mutex_lock(&m->lock);
		if (m->stop) {
			pthread_mutex_unlock(&m->lock);
			j.state = META_JOB_PENDING;
			job_update(m, jr, &j, 0);
			return;
		}
		pthread_mutex_unlock(&m->lock);
		src = -1;
		rc = gather(m, r, &j, pos, end, dst, &g);
		if (rc == -ENODATA)
			break;
		if (rc == -ENOENT) {
			snprintf(why, sizeof(why), "the file was removed");
			goto fail;
		}
		if (rc < 0) {
			snprintf(why, sizeof(why), "reading the extent map: %s",
				 strerror(-rc));
			goto fail;
		}
		src = g.v[0].s.tier;
		/* The last try of an extent that kept changing moves it
		 * alone, holding the file's writers for that long. */
		if (tries == MIG_RETRIES)
			g.n = 1;
		rc = move_group(m, r, jr, &j, &g, dst, tries == MIG_RETRIES,
				why, sizeof(why));
		if (rc == MIG_COMMIT_UNSYNCED)
			goto unsynced;
		if (rc == -ESTALE) {
			/* Again from the first extent a write changed. */
			for (i = 0; i < g.n && !g.v[i].stale; i++)
				;
			pos = g.v[i < g.n ? i : 0].s.off;
			if (++tries <= MIG_RETRIES) {
				/* Let a burst of writes pass: 20, 40, ... ms. */
				usleep(20000u << (tries - 1));
				continue;
			}
			snprintf(why, sizeof(why), "the extent at %" PRIu64
				 " kept changing under the copy", pos);
			goto fail;
		}
		if (rc < 0)
			goto fail;
		pair_works(m, src, dst);
		tries = 0;
		pos = g.v[g.n - 1].s.off + 1;
	}
	j.state = META_JOB_CLEANED;
	j.err = 0;
	j.reason[0] = 0;
	job_update(m, jr, &j, 0);
	log_info("migration job %" PRIu64 ": inode %" PRIu64 " moved to %s "
		 "(%" PRIu64 " bytes)", j.id, j.ino, m->p.tiers[dst].be->name,
		 j.bytes_done);
	return;
fail:
	j.state = META_JOB_ROLLED_BACK;
	j.err = -rc;
	snprintf(j.reason, sizeof(j.reason), "%s", why);
	job_update(m, jr, &j, 0);
	if ((rc == -ENOSPC || rc == -EDQUOT) && m->p.host.full)
		m->p.host.full(m->p.host.arg, dst);
	/* Losing to the file's own writers is no fault of the system. */
	if (rc == -ESTALE)
		log_notice("migration job %" PRIu64 " (inode %" PRIu64 "): given up: %s",
			   j.id, j.ino, why);
	else
		warn_failure(m, &j, src, dst, -rc, why);
	return;
unsynced:
	/* The record stays COMMITTED for the next start to clean, marked
	 * stopped so that the job does not resume then (stored unsynced:
	 * the next sync that works makes it durable). Published failed. */
	j.flags |= MIG_JOB_STOPPED;
	snprintf(j.reason, sizeof(j.reason), "%s", why);
	j.err = EIO;
	job_store(m, &j, 0);
	j.state = META_JOB_ROLLED_BACK;
	pthread_mutex_lock(&m->lock);
	jr->j = j;
	jr->unsynced = true;
	pthread_mutex_unlock(&m->lock);
	log_err("migration job %" PRIu64 " (inode %" PRIu64 "): stopped: %s",
		j.id, j.ino, why);
}

/* ---- queue and workers ------------------------------------------------- */

static uint64_t range_end(uint64_t off, uint64_t len)
{
	return len > UINT64_MAX - off ? UINT64_MAX : off + len;
}

static bool overlaps(const struct meta_job *j, uint64_t off, uint64_t len)
{
	return off < range_end(j->off, j->len) && j->off < range_end(off, len);
}

/* Whether job c must wait for the running jobs of its file: one of them
 * has a range that overlaps c's, or MIG_FILE_JOBS of them run. Jobs on
 * ranges apart move different extents (an extent is moved by the job
 * whose range holds its offset), which the host claims and commits one
 * by one. Caller holds m->lock. */
static bool file_blocked(struct migrator *m, const struct job_rt *c)
{
	const struct job_rt *jr;
	int n = 0;

	for (jr = m->jobs; jr; jr = jr->next)
		if (jr->running && jr->j.ino == c->j.ino &&
		    (overlaps(&jr->j, c->j.off, c->j.len) || ++n >= MIG_FILE_JOBS))
			return true;
	return false;
}

/* The pending job a worker (a remote one or not) runs next, or NULL.
 * Caller holds m->lock. */
static struct job_rt *pick(struct migrator *m, bool remote)
{
	struct job_rt *jr, *best = NULL;

	for (jr = m->jobs; jr; jr = jr->next) {
		if (jr->running || jr->j.state != META_JOB_PENDING ||
		    (m->p.remote_workers && jr->remote != remote) ||
		    file_blocked(m, jr))
			continue;
		if (!best ||
		    (jr->j.flags & MIG_JOB_MANUAL) > (best->j.flags & MIG_JOB_MANUAL) ||
		    ((jr->j.flags & MIG_JOB_MANUAL) == (best->j.flags & MIG_JOB_MANUAL) &&
		     jr->j.priority > best->j.priority))
			best = jr;
	}
	return best;
}

static void lower_priority(void)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);

	syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid, MIG_IOPRIO);
	setpriority(PRIO_PROCESS, (id_t)tid, 10);
}

/* A worker: the remote ones (index >= p.workers) copy through the
 * backends' extent operations and have no ring. */
static void *worker(void *arg)
{
	struct worker_arg *wa = arg;
	struct migrator *m = wa->m;
	bool remote = wa->index >= m->p.workers;
	struct ring r;
	int rc;

	lower_priority();
	memset(&r, 0, sizeof(r));
	rc = remote ? 0 : ring_init(&r);
	if (rc < 0)
		log_warn("migration worker: no io_uring (%s); copying through "
			 "buffers", strerror(-rc));
	pthread_mutex_lock(&m->lock);
	for (;;) {
		struct job_rt *jr;

		if (m->stop)
			break;
		jr = pick(m, remote);
		if (!jr) {
			pthread_cond_wait(&m->cond, &m->lock);
			continue;
		}
		jr->running = true;
		m->nrunning++;
		pthread_mutex_unlock(&m->lock);
		run_job(m, &r, jr);
		pthread_mutex_lock(&m->lock);
		jr->running = false;
		m->nrunning--;
		pthread_cond_broadcast(&m->cond);
	}
	pthread_mutex_unlock(&m->lock);
	ring_fini(&r);
	return NULL;
}

/* ---- recovery ---------------------------------------------------------- */

struct load_ctx {
	struct migrator *m;            /* where the jobs go */
	struct job_rt **tail;          /* end of m->jobs */
	int rc;                        /* first error */
};

static int load_one(void *arg, const struct meta_job *j)
{
	struct load_ctx *c = arg;
	struct job_rt *jr = calloc(1, sizeof(*jr));

	if (!jr) {
		c->rc = -ENOMEM;
		return 1;
	}
	jr->j = *j;
	*c->tail = jr;
	c->tail = &jr->next;
	if (j->id >= c->m->next_id)
		c->m->next_id = j->id + 1;
	return 0;
}

/* Frees what a crash left of a group: for every extent in the record's
 * range, the copy on the tier the extent map does not name (the source
 * of those flipped, the destination of the others; free_copy keeps the
 * copy the map uses). The copies are named by offset alone (file tiers),
 * so the versions matter not. With the file gone, its copies went too. */
static int recover_group(struct migrator *m, const struct meta_job *j,
			 int src, int dst)
{
	const struct mig_host *h = &m->p.host;
	uint64_t pos = j->cur_off, end = j->cur_off + j->cur_len;
	struct mig_snap s;
	int rc, frc = 0;

	while ((rc = h->next(h->arg, j->ino, pos, end, -1, &s)) == 0) {
		if (dst >= 0 && s.tier != dst)
			frc = h->free_copy(h->arg, j->ino, s.off, s.len,
					   s.version + 1, dst);
		if (frc == 0 && src >= 0 && s.tier != src &&
		    j->state == META_JOB_COMMITTED)
			frc = h->free_copy(h->arg, j->ino, s.off, s.len,
					   s.version, src);
		if (frc < 0)
			return frc;
		pos = s.off + 1;
	}
	return rc == -ENODATA || rc == -ENOENT ? 0 : rc;
}

/* Finishes or undoes what a crash left of job jr. */
static void recover_one(struct migrator *m, struct job_rt *jr)
{
	const struct mig_host *h = &m->p.host;
	struct meta_job *j = &jr->j;
	int dst = tier_index(m, j->dst_tier), src = tier_index(m, j->src_tier);
	bool group = j->flags & MIG_JOB_GROUP;
	uint32_t was = j->state;
	int rc = 0;

	switch (was) {
	case META_JOB_COPYING:
	case META_JOB_VERIFYING:
		if (group)
			rc = recover_group(m, j, src, dst);
		else if (dst >= 0)
			rc = h->free_copy(h->arg, j->ino, j->cur_off, j->cur_len,
					  j->cur_version + 1, dst);
		j->state = META_JOB_ROLLED_BACK;
		j->err = EINTR;
		snprintf(j->reason, sizeof(j->reason), "interrupted by a restart "
			 "while %s the extent at %" PRIu64,
			 was == META_JOB_COPYING ? "copying" : "verifying",
			 j->cur_off);
		log_notice("migration job %" PRIu64 " (inode %" PRIu64 "): rolled "
			   "back after a restart%s", j->id, j->ino,
			   rc < 0 ? "; its copy could not be freed" : "");
		break;
	case META_JOB_COMMITTED:
		if (group)
			rc = recover_group(m, j, src, dst);
		else if (src >= 0)
			rc = h->free_copy(h->arg, j->ino, j->cur_off, j->cur_len,
					  j->cur_version, src);
		if (rc < 0)
			log_warn("migration job %" PRIu64 ": cannot free the old "
				 "copy after a restart: %s", j->id, strerror(-rc));
		if (j->flags & MIG_JOB_STOPPED) {
			/* Reported failed before the restart: it stays so. */
			j->state = META_JOB_ROLLED_BACK;
			j->flags &= ~(uint32_t)MIG_JOB_STOPPED;
			log_notice("migration job %" PRIu64 " (inode %" PRIu64
				   "): old copies freed after a restart", j->id,
				   j->ino);
			break;
		}
		/* The extent moved; the rest of the job runs again. */
		j->state = META_JOB_PENDING;
		log_notice("migration job %" PRIu64 " (inode %" PRIu64 "): cleaned "
			   "after a restart, resuming", j->id, j->ino);
		break;
	default:
		return;
	}
	j->flags &= ~(uint32_t)MIG_JOB_GROUP;
	rc = job_store(m, j, 1);
	if (rc < 0)
		log_warn("migration job %" PRIu64 ": cannot store its record: %s",
			 j->id, strerror(-rc));
}

/* ---- the API ----------------------------------------------------------- */

int mig_open(const struct mig_params *p, struct migrator **out)
{
	struct migrator *m;
	struct load_ctx lc;
	struct job_rt *jr;
	int rc;

	*out = NULL;
	if (p->workers < 1 || p->workers > MIG_WORKERS_MAX ||
	    p->remote_workers < 0 || p->remote_workers > MIG_WORKERS_MAX ||
	    p->ntiers < 1 || p->ntiers > CFG_MAX_TIERS)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->p = *p;
	m->next_id = 1;
	atomic_store(&m->bandwidth, p->bandwidth);
	atomic_store(&m->busy_bw, p->busy_bandwidth);
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->bw_lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	lc = (struct load_ctx){ .m = m, .tail = &m->jobs };
	rc = meta_list_jobs(p->meta, load_one, &lc);
	if (rc == 0)
		rc = lc.rc;
	if (rc < 0) {
		log_err("cannot load the migration jobs: %s", strerror(-rc));
		mig_close(m);
		return rc;
	}
	for (jr = m->jobs; jr; jr = jr->next) {
		int dst;

		recover_one(m, jr);
		dst = tier_index(m, jr->j.dst_tier);
		if (m->p.remote_workers && jr->j.state == META_JOB_PENDING &&
		    dst >= 0)
			plan_bytes(m, &jr->j, dst, &jr->remote);
	}
	if (p->start_workers && (rc = mig_run(m)) < 0) {
		mig_close(m);
		return rc;
	}
	*out = m;
	return 0;
}

int mig_run(struct migrator *m)
{
	int i, rc;

	for (i = m->nth; i < m->p.workers + m->p.remote_workers; i++) {
		m->wa[i] = (struct worker_arg){ m, i };
		rc = -pthread_create(&m->th[i], NULL, worker, &m->wa[i]);
		if (rc < 0) {
			log_err("cannot start a migration worker: %s", strerror(-rc));
			return rc;
		}
		m->nth++;
	}
	return 0;
}

void mig_close(struct migrator *m)
{
	struct job_rt *jr, *next;
	int i;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	atomic_fetch_add(&m->bw_gen, 1);
	for (i = 0; i < m->nth; i++)
		pthread_join(m->th[i], NULL);
	for (jr = m->jobs; jr; jr = next) {
		next = jr->next;
		free(jr);
	}
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->bw_lock);
	free(m);
}

/* Whether jr may be forgotten, its record too. Caller holds m->lock. */
static bool forgettable(const struct job_rt *jr)
{
	return job_done(&jr->j) && !jr->running && !jr->unsynced;
}

/* Drops the oldest finished jobs beyond MIG_KEEP_DONE. Caller holds
 * m->lock. */
static void trim_done(struct migrator *m)
{
	struct job_rt **pp, *jr;
	int ndone = 0;

	for (jr = m->jobs; jr; jr = jr->next)
		ndone += forgettable(jr);
	for (pp = &m->jobs; ndone > MIG_KEEP_DONE && (jr = *pp);) {
		if (forgettable(jr)) {
			struct meta_batch *b = meta_batch_new();

			if (b) {
				meta_del_job(b, jr->j.id);
				meta_commit(m->p.meta, b, 0);
				meta_batch_free(b);
			}
			*pp = jr->next;
			free(jr);
			ndone--;
		} else {
			pp = &jr->next;
		}
	}
}

int64_t mig_submit(struct migrator *m, uint64_t ino, uint64_t off,
		   uint64_t len, int dst, uint32_t flags, double priority)
{
	struct job_rt *jr, **pp;
	uint64_t id;
	int rc;

	if (dst < 0 || dst >= m->p.ntiers || len == 0)
		return -EINVAL;
	jr = calloc(1, sizeof(*jr));
	if (!jr)
		return -ENOMEM;
	jr->j.state = META_JOB_PENDING;
	jr->j.flags = flags;
	jr->j.ino = ino;
	jr->j.off = off;
	jr->j.len = len;
	jr->j.dst_tier = m->p.tiers[dst].id;
	jr->j.priority = priority;
	/* Known while the job waits behind others, so that the progress
	 * of many jobs does not go back as they start; run_job plans again
	 * (the file may change meanwhile). Outside m->lock: the host takes
	 * the inode's lock. */
	jr->j.bytes_total = plan_bytes(m, &jr->j, dst, &jr->remote);
	pthread_mutex_lock(&m->lock);
	jr->j.id = m->next_id++;
	jr->j.created = real_ns();
	rc = job_store(m, &jr->j, 0);
	if (rc < 0) {
		pthread_mutex_unlock(&m->lock);
		free(jr);
		return rc;
	}
	for (pp = &m->jobs; *pp; pp = &(*pp)->next)
		;
	*pp = jr;
	id = jr->j.id;
	trim_done(m);
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	if (atomic_load(&submit_delay_ms))
		usleep(atomic_load(&submit_delay_ms) * 1000);
	/* not jr->j.id: once unlocked, a worker may finish the job and a
	 * prune free it */
	return (int64_t)id;
}

int mig_list(struct migrator *m, meta_job_cb cb, void *arg)
{
	struct meta_job *v = NULL;
	struct job_rt *jr;
	size_t n = 0, i;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	for (jr = m->jobs; jr; jr = jr->next)
		n++;
	if (n && !(v = malloc(n * sizeof(*v)))) {
		pthread_mutex_unlock(&m->lock);
		return -ENOMEM;
	}
	for (i = 0, jr = m->jobs; jr; jr = jr->next)
		v[i++] = jr->j;
	pthread_mutex_unlock(&m->lock);
	for (i = 0; i < n && rc == 0; i++)
		rc = cb(arg, &v[i]);
	free(v);
	return rc;
}

int mig_get(struct migrator *m, uint64_t id, struct meta_job *out)
{
	struct job_rt *jr;
	int rc = -ENOENT;

	pthread_mutex_lock(&m->lock);
	for (jr = m->jobs; jr; jr = jr->next) {
		if (jr->j.id == id) {
			*out = jr->j;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int mig_prune(struct migrator *m)
{
	struct job_rt **pp, *jr;
	struct meta_batch *b = meta_batch_new();
	int n = 0, rc;

	if (!b)
		return -ENOMEM;
	pthread_mutex_lock(&m->lock);
	for (pp = &m->jobs; (jr = *pp);) {
		if (forgettable(jr)) {
			meta_del_job(b, jr->j.id);
			*pp = jr->next;
			free(jr);
			n++;
		} else {
			pp = &jr->next;
		}
	}
	pthread_mutex_unlock(&m->lock);
	rc = meta_commit(m->p.meta, b, 0);
	meta_batch_free(b);
	return rc < 0 ? rc : n;
}

int mig_wait_idle(struct migrator *m, int timeout_ms)
{
	struct timespec dl;
	struct job_rt *jr;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&m->lock);
	for (;;) {
		bool busy = m->nrunning > 0;

		for (jr = m->jobs; jr && !busy && m->nth; jr = jr->next)
			busy = jr->j.state == META_JOB_PENDING;
		if (!busy)
			break;
		if (pthread_cond_timedwait(&m->cond, &m->lock, &dl) == ETIMEDOUT) {
			rc = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int mig_busy(struct migrator *m, uint64_t ino, uint64_t off, uint64_t len)
{
	struct job_rt *jr;
	int n = 0, busy = 0;

	pthread_mutex_lock(&m->lock);
	for (jr = m->jobs; jr && busy != 1; jr = jr->next) {
		if (jr->j.ino != ino || job_done(&jr->j))
			continue;
		if (overlaps(&jr->j, off, len))
			busy = 1;
		else if (++n >= MIG_FILE_JOBS)
			busy = 2;
	}
	pthread_mutex_unlock(&m->lock);
	return busy;
}
