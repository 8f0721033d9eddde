// SPDX-License-Identifier: GPL-2.0-or-later
/* The dfabric daemon: command line and the FUSE low-level front end (the
 * request loop is fs/fuse_loop.c, the only other file that includes
 * fuse_lowlevel.h). Each op calls the matching fs_* function (fs/fs.h)
 * and sends exactly one reply, turning -errno into
 * fuse_reply_err(req, errno). */
#define FUSE_USE_VERSION 314

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "fs/ctl.h"
#include "fs/fs.h"
#include "fs/fuse_loop.h"
#include "fs/fuse_uring.h"
#include "fs/splice.h"

#define DFABRIC_VERSION "0.1.0"
#define ATTR_TIMEOUT 10.0    /* seconds the kernel may cache attributes */
#define ENTRY_TIMEOUT 10.0   /* ... and names: every change passes through it */

static struct fabric *g_fab;  /* set before the session starts */
static unsigned g_max_read;   /* -o max_read, for init */

struct opts {
	char *config;              /* first non-option argument */
	char *mountpoint;          /* second */
	int foreground;            /* -f */
	int debug;                 /* -d: FUSE request tracing */
	int single;                /* -s: one thread */
	int help;                  /* -h */
	int version;               /* -V */
	unsigned max_threads;      /* -o max_threads=N */
	unsigned spin_us;          /* -o spin_us=N */
	int clone_fd;              /* -o clone_fd */
	int uring;                 /* -o uring */
	unsigned max_read;         /* -o max_read=N, also passed to libfuse */
	unsigned read_ahead_kb;    /* -o read_ahead_kb=N for the mount's bdi */
	int extra;                 /* unexpected positional arguments */
};

/* ---------------------------------------------------------------- */
/* request helpers */

#define CTX_GROUPS_MAX 64   /* supplementary groups looked at */

static void ctx_of(fuse_req_t req, struct fs_ctx *c)
{
	const struct fuse_ctx *fc = fuse_req_ctx(req);

	c->uid = fc->uid;
	c->gid = fc->gid;
	c->pid = fc->pid;
	c->groups = NULL;
	c->ngroups = 0;
}

static struct fs_file *fh_of(struct fuse_file_info *fi)
{
	return (struct fs_file *)(uintptr_t)fi->fh;
}

static void reply_entry(fuse_req_t req, int rc, const struct stat *st)
{
	struct fuse_entry_param e;

	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = st->st_ino;
	e.generation = 1;
	e.attr = *st;
	e.attr_timeout = ATTR_TIMEOUT;
	e.entry_timeout = ENTRY_TIMEOUT;
	fuse_reply_entry(req, &e);
}

/* A buffer per FUSE worker thread, reused across reads; freed with the
 * thread by the key's destructor. */
struct tbuf {
	size_t cap;                /* bytes allocated after the header */
	char data[];               /* the buffer */
};
static pthread_key_t g_tbuf_key;

static void *thread_buf(size_t n)
{
	struct tbuf *b = pthread_getspecific(g_tbuf_key);

	if (!b || b->cap < n) {
		struct tbuf *nb = realloc(b, sizeof(*nb) + n);

		if (!nb)
			return NULL;
		nb->cap = n;
		b = nb;
		pthread_setspecific(g_tbuf_key, b);
	}
	return b->data;
}

/* The reply pipe of each FUSE worker thread (fs/splice.h), opened on its
 * first read; closed with the thread by the key's destructor. NULL data:
 * not opened yet; PIPE_NONE: the thread has none (opening failed). */
static pthread_key_t g_pipe_key;
static struct fs_pipe pipe_none;
#define PIPE_NONE (&pipe_none)

static void pipe_free(void *v)
{
	struct fs_pipe *p = v;

	if (p && p != PIPE_NONE) {
		fs_pipe_close(p);
		free(p);
	}
}

static struct fs_pipe *thread_pipe(void)
{
	struct fs_pipe *p = pthread_getspecific(g_pipe_key);

	if (p)
		return p == PIPE_NONE ? NULL : p;
	p = malloc(sizeof(*p));
	if (!p || fs_pipe_open(p, 1u << 20) < 0) {
		log_info("no reply pipe for this thread: reads are copied");
		free(p);
		pthread_setspecific(g_pipe_key, PIPE_NONE);
		return NULL;
	}
	pthread_setspecific(g_pipe_key, p);
	return p;
}

/* ---------------------------------------------------------------- */
/* operations */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (conn->capable & FUSE_CAP_SPLICE_READ)
		conn->want |= FUSE_CAP_SPLICE_READ;
	/* a reply over io_uring is copied into the request's buffers */
	if ((conn->capable & FUSE_CAP_SPLICE_WRITE) && !df_uring_wanted())
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	conn->want &= ~(FUSE_CAP_HANDLE_KILLPRIV | FUSE_CAP_POSIX_ACL |
			FUSE_CAP_WRITEBACK_CACHE);
	if (g_max_read)
		conn->max_read = g_max_read;  /* must match the mount option */
	conn->max_write = 1 << 20;
	conn->max_readahead = conn->max_readahead > (1u << 20) ?
			      conn->max_readahead : (1u << 20);
	conn->max_background = 64;
	conn->congestion_threshold = 48;
	conn->time_gran = 1;
}

/* Set once a request other than INIT has come: the kernel sends none
 * before it has handled the INIT reply (read_ahead_thread waits for it). */
static pthread_mutex_t g_seen_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_seen_cv = PTHREAD_COND_INITIALIZER;
static _Atomic int g_seen;

static void seen_request(void)
{
	if (atomic_load_explicit(&g_seen, memory_order_relaxed))
		return;
	pthread_mutex_lock(&g_seen_lock);
	atomic_store(&g_seen, 1);
	pthread_cond_broadcast(&g_seen_cv);
	pthread_mutex_unlock(&g_seen_lock);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct stat st;
	int rc = fs_lookup(g_fab, parent, name, &st);

	seen_request();
	if (rc == -ENOENT) {
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		e.entry_timeout = ENTRY_TIMEOUT;
		fuse_reply_entry(req, &e);
		return;
	}
	reply_entry(req, rc, &st);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_forget(g_fab, ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		fs_forget(g_fab, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	int rc = fs_getattr(g_fab, ino, &st);

	seen_request();
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	static const struct { int fuse, fs; } map[] = {
		{ FUSE_SET_ATTR_MODE, FS_SET_MODE },
		{ FUSE_SET_ATTR_UID, FS_SET_UID },
		{ FUSE_SET_ATTR_GID, FS_SET_GID },
		{ FUSE_SET_ATTR_SIZE, FS_SET_SIZE },
		{ FUSE_SET_ATTR_ATIME, FS_SET_ATIME },
		{ FUSE_SET_ATTR_MTIME, FS_SET_MTIME },
		{ FUSE_SET_ATTR_ATIME_NOW, FS_SET_ATIME_NOW },
		{ FUSE_SET_ATTR_MTIME_NOW, FS_SET_MTIME_NOW },
		{ FUSE_SET_ATTR_CTIME, FS_SET_CTIME },
	};
	struct fs_ctx c;
	struct stat st;
	int set = 0, rc;
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (to_set & map[i].fuse)
			set |= map[i].fs;
	ctx_of(req, &c);
	rc = fs_setattr(g_fab, &c, ino, attr, set, fi ? fh_of(fi) : NULL, &st);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	int rc = fs_readlink(g_fab, ino, buf, sizeof(buf));

	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, buf);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct fs_ctx c;
	struct stat st;

	ctx_of(req, &c);
	reply_entry(req, fs_mknod(g_fab, &c, parent, name, mode, rdev, &st), &st);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct fs_ctx c;
	struct stat st;

	ctx_of(req, &c);
	reply_entry(req, fs_mkdir(g_fab, &c, parent, name, mode, &st), &st);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	struct fs_ctx c;
	struct stat st;

	ctx_of(req, &c);
	reply_entry(req, fs_symlink(g_fab, &c, link, parent, name, &st), &st);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct stat st;

	reply_entry(req, fs_link(g_fab, ino, newparent, newname, &st), &st);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -fs_unlink(g_fab, parent, name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -fs_rmdir(g_fab, parent, name));
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	fuse_reply_err(req, -fs_rename(g_fab, parent, name, newparent, newname,
				       flags));
}

static void set_open_reply(struct fuse_file_info *fi, struct fs_file *fh)
{
	fi->fh = (uintptr_t)fh;
	/* O_DIRECT needs no FOPEN_DIRECT_IO: the kernel sends such a file's
	 * reads and writes straight through by itself, and with the flag it
	 * refused shared mappings of it (ENODEV), which libfuse 3.14 cannot
	 * ask it to allow. */
	fi->keep_cache = 1;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_file *fh;
	struct fs_ctx c;
	int rc;

	ctx_of(req, &c);
	rc = fs_open(g_fab, &c, ino, fi->flags, &fh);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	set_open_reply(fi, fh);
	if (fuse_reply_open(req, fi) == -ENOENT)
		fs_release(g_fab, fh);  /* the opener was interrupted */
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct fs_file *fh;
	struct fs_ctx c;
	int rc;

	ctx_of(req, &c);
	memset(&e, 0, sizeof(e));
	rc = fs_create(g_fab, &c, parent, name, mode, fi->flags, &e.attr, &fh);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	e.ino = e.attr.st_ino;
	e.generation = 1;
	e.attr_timeout = ATTR_TIMEOUT;
	e.entry_timeout = ENTRY_TIMEOUT;
	set_open_reply(fi, fh);
	if (fuse_reply_create(req, &e, fi) == -ENOENT)
		fs_release(g_fab, fh);
}

/* Replies to a read: one buffer as is; with pieces of files, through
 * fuse_reply_data. The file pieces are first spliced into this thread's
 * pipe, checking every byte arrived (fs_pipe_fill), so that an error of
 * a tier file is replied as EIO: libfuse, splicing from the files itself,
 * would send the bytes before the error as a short read, which the kernel
 * takes for the end of the file. From the pipe libfuse splices on into
 * the reply, or copies where it cannot. */
static void read_reply(void *arg, const struct fs_seg *seg, int n)
{
	fuse_req_t req = arg;
	union {
		struct fuse_bufvec v;
		char room[sizeof(struct fuse_bufvec) +
			  (FS_SEGS_MAX - 1) * sizeof(struct fuse_buf)];
	} u;
	struct fuse_bufvec *v = &u.v;
	struct fs_pipe *p;
	bool piped[FS_SEGS_MAX];
	size_t fd_bytes = 0;
	int rc, left = 0;

	for (int i = 0; i < n; i++)
		fd_bytes += seg[i].fd >= 0 ? seg[i].len : 0;
	/* libfuse copies a reply with less than two pages of file data:
	 * through a pipe that would cost two calls more than a pread. */
	p = fd_bytes < 2 * (size_t)sysconf(_SC_PAGESIZE) || df_uring_wanted() ?
	    NULL : thread_pipe();
	if ((rc = fs_pipe_fill(p, seg, n, piped)) < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (!p) {
		/* All read: the pieces lie one after another in the buffer. */
		size_t len = 0;

		for (int i = 0; i < n; i++)
			len += seg[i].len;
		fuse_reply_buf(req, n ? seg[0].mem : NULL, len);
		return;
	}
	memset(&u, 0, sizeof(u));
	v->count = (size_t)n;
	for (int i = 0; i < n; i++) {
		struct fuse_buf *b = &v->buf[i];

		b->size = seg[i].len;
		if (piped[i]) {
			b->flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_RETRY;
			b->fd = p->rd;
		} else {
			b->mem = (void *)seg[i].mem;
		}
	}
	fuse_reply_data(req, v, 0);
	/* A reply the kernel refused (an interrupted request) may leave
	 * bytes behind. */
	if (ioctl(p->rd, FIONREAD, &left) == 0 && left > 0)
		fs_pipe_drain(p);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	/* over io_uring, straight into the reply's buffer */
	char *buf = df_uring_reply_buf(size);
	ssize_t rc;

	if (!buf)
		buf = thread_buf(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = fs_read_reply(g_fab, fh_of(fi), buf, size, off, read_reply, req);
	if (rc < 0)
		fuse_reply_err(req, -rc);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t rc = fs_write_flags(g_fab, fh_of(fi), buf, size, off,
				    fi->flags);

	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, rc);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	fuse_reply_err(req, -fs_release(g_fab, fh_of(fi)));
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	fuse_reply_err(req, -fs_fsync(g_fab, fh_of(fi), datasync));
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fs_dir *d;
	int rc = fs_opendir(g_fab, ino, &d);

	seen_request();
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)d;
	fi->cache_readdir = 0;
	if (fuse_reply_open(req, fi) == -ENOENT)
		fs_releasedir(g_fab, d);
}

struct fill_state {
	fuse_req_t req;            /* the readdir request */
	char *buf;                 /* reply buffer */
	size_t size;               /* its size */
	size_t len;                /* bytes used */
	int plus;                  /* readdirplus */
};

static int fill_entry(void *arg, const char *name, const struct stat *st,
		      off_t next)
{
	struct fill_state *s = arg;
	size_t need;

	if (s->plus) {
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		e.ino = st->st_ino;
		e.generation = 1;
		e.attr = *st;
		e.attr_timeout = ATTR_TIMEOUT;
		e.entry_timeout = ENTRY_TIMEOUT;
		need = fuse_add_direntry_plus(s->req, s->buf + s->len,
					      s->size - s->len, name, &e, next);
	} else {
		need = fuse_add_direntry(s->req, s->buf + s->len,
					 s->size - s->len, name, st, next);
	}
	if (need > s->size - s->len)
		return 1;
	s->len += need;
	return 0;
}

static void do_readdir(fuse_req_t req, size_t size, off_t off,
		       struct fuse_file_info *fi, int plus)
{
	struct fill_state s = { req, thread_buf(size), size, 0, plus };
	int rc;

	if (!s.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = fs_readdir(g_fab, (struct fs_dir *)(uintptr_t)fi->fh, off, plus,
			fill_entry, &s);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, s.buf, s.len);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, size, off, fi, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, size, off, fi, 1);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	fuse_reply_err(req, -fs_releasedir(g_fab,
					   (struct fs_dir *)(uintptr_t)fi->fh));
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	fuse_reply_err(req, -fs_fsyncdir(g_fab, ino));
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int rc = fs_statfs(g_fab, &sv);

	seen_request();
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_statfs(req, &sv);
}

/* The caller's supplementary groups, for the permission check of the
 * policy xattrs (fs_setxattr). Without them (the process is gone, or
 * /proc cannot be read) only its primary group counts. */
static void ctx_groups(fuse_req_t req, struct fs_ctx *c, gid_t *list, int max)
{
	int n = fuse_req_getgroups(req, max, list);

	c->groups = list;
	c->ngroups = n < 0 ? 0 : n > max ? max : n;
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	gid_t groups[CTX_GROUPS_MAX];
	struct fs_ctx c;

	ctx_of(req, &c);
	ctx_groups(req, &c, groups, CTX_GROUPS_MAX);
	fuse_reply_err(req, -fs_setxattr(g_fab, &c, ino, name, value, size, flags));
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	char *buf = size ? thread_buf(size) : NULL;
	ssize_t rc;

	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = fs_getxattr(g_fab, ino, name, buf, size);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else if (!size)
		fuse_reply_xattr(req, rc);
	else
		fuse_reply_buf(req, buf, rc);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = size ? thread_buf(size) : NULL;
	struct fs_ctx c;
	ssize_t rc;

	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ctx_of(req, &c);
	rc = fs_listxattr(g_fab, &c, ino, buf, size);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else if (!size)
		fuse_reply_xattr(req, rc);
	else
		fuse_reply_buf(req, buf, rc);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	gid_t groups[CTX_GROUPS_MAX];
	struct fs_ctx c;

	ctx_of(req, &c);
	ctx_groups(req, &c, groups, CTX_GROUPS_MAX);
	fuse_reply_err(req, -fs_removexattr(g_fab, &c, ino, name));
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length, struct fuse_file_info *fi)
{
	fuse_reply_err(req, -fs_fallocate(g_fab, fh_of(fi), mode, offset, length));
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	int64_t rc = fs_lseek(g_fab, fh_of(fi), off, whence);

	if (rc < 0)
		fuse_reply_err(req, (int)-rc);
	else
		fuse_reply_lseek(req, rc);
}

/* No flush: writes reach their tier before they are answered, so close has
 * nothing to flush, and the kernel stops sending FLUSH after one ENOSYS. */
static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.symlink = op_symlink,
	.link = op_link,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write = op_write,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.fallocate = op_fallocate,
	.lseek = op_lseek,
};

/* ---------------------------------------------------------------- */
/* command line and main */

static void usage(FILE *out)
{
	fprintf(out,
"usage: dfabric CONFIG MOUNTPOINT [-f] [-d] [-s] [-o OPTION[,OPTION...]]\n"
"\n"
"Mounts the tiered filesystem described by CONFIG (see dfabric.conf(5))\n"
"on MOUNTPOINT. Also run as: mount -t fuse.dfabric CONFIG MOUNTPOINT.\n"
"\n"
"  -f                 stay in the foreground, log to stderr\n"
"  -d                 like -f, and trace every FUSE request\n"
"  -s                 serve requests on one thread\n"
"  -h, --help         print this help\n"
"  -V, --version      print the version\n"
"  -o max_threads=N   at most N threads serve requests (default 16; 0 and\n"
"                     1 count as 2, as 1 with clone_fd)\n"
"  -o spin_us=N       while a client sends requests one after another,\n"
"                     poll up to N microseconds for the next one before\n"
"                     sleeping (default 50, at most 1000; 0 never polls;\n"
"                     not with -s or clone_fd)\n"
"  -o clone_fd        one /dev/fuse descriptor per thread, on libfuse's\n"
"                     own loop (every idle thread waits for a request)\n"
"  -o uring           take requests over io_uring when the kernel offers\n"
"                     it (fuse module parameter enable_uring): one queue\n"
"                     per CPU, served by threads pinned to that CPU\n"
"  -o read_ahead_kb=N kernel readahead of the mount in KiB (default 8192,\n"
"                     1024 with an s3 tier; 0 keeps the kernel's)\n"
"  -o max_read=N      largest read request in bytes (default: 1 MiB, or\n"
"                     less where a pipe cannot hold that: replies of\n"
"                     local tiers are spliced when they fit in one)\n"
"  -o OPTION          any FUSE mount option, e.g. allow_other, ro;\n"
"                     default_permissions is always on\n");
}

enum { KEY_HELP, KEY_VERSION, KEY_FG, KEY_DEBUG, KEY_SINGLE, KEY_MAX_READ,
       KEY_MAX_THREADS, KEY_READ_AHEAD, KEY_SPIN };

#define OPT(t, p) { t, offsetof(struct opts, p), 1 }
static const struct fuse_opt opt_spec[] = {
	FUSE_OPT_KEY("max_threads=", KEY_MAX_THREADS),
	FUSE_OPT_KEY("spin_us=", KEY_SPIN),
	OPT("clone_fd", clone_fd),
	OPT("uring", uring),
	FUSE_OPT_KEY("read_ahead_kb=", KEY_READ_AHEAD),
	FUSE_OPT_KEY("max_read=", KEY_MAX_READ),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("-f", KEY_FG),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_KEY("-s", KEY_SINGLE),
	FUSE_OPT_END
};

/* The number after the '=' of option arg: decimal digits only, at most
 * max (sscanf's %u took "-1", "12abc" and wrapped at 2^32). 0, or -1
 * with a message. */
static int opt_uint(const char *arg, unsigned long max, unsigned *out)
{
	const char *v = strchr(arg, '=') + 1;
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (!isdigit((unsigned char)*v) || *end || errno || n > max) {
		fprintf(stderr, "dfabric: -o %s: expected a number from 0 to %lu\n",
			arg, max);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct opts *o = data;

	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (!o->config)
			o->config = strdup(arg);
		else if (!o->mountpoint)
			o->mountpoint = strdup(arg);
		else
			o->extra = 1;
		return 0;
	case KEY_HELP:
		o->help = 1;
		return 0;
	case KEY_VERSION:
		o->version = 1;
		return 0;
	case KEY_FG:
		o->foreground = 1;
		return 0;
	case KEY_DEBUG:
		o->foreground = 1;
		o->debug = 1;
		return 1;  /* libfuse traces requests with -d */
	case KEY_SINGLE:
		o->single = 1;
		return 0;
	case KEY_MAX_READ:
		/* libfuse needs it too */
		return opt_uint(arg, 1u << 30, &o->max_read) < 0 ? -1 : 1;
	case KEY_MAX_THREADS:
		return opt_uint(arg, 65536, &o->max_threads);
	case KEY_READ_AHEAD:
		return opt_uint(arg, 1u << 20, &o->read_ahead_kb);
	case KEY_SPIN:
		return opt_uint(arg, 1000, &o->spin_us);
	}
	return 1;
}

/* The default -o max_read: 0 (none) when this process can grow a pipe
 * past 1 MiB, else the most whose reply libfuse still splices. libfuse
 * splices a reply only when a pipe holds it plus a page per piece and two
 * more, and a pipe grows past /proc/sys/fs/pipe-max-size (1 MiB by
 * default) only with CAP_SYS_RESOURCE; five pages less than that limit
 * leaves room for a read that spans two extents. Reads never exceed 1 MiB
 * (max_write sets the kernel's max_pages). */
static unsigned splice_max_read(void)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long lim;
	unsigned max = 0;
	int p[2];

	if (page <= 0 || pipe2(p, O_CLOEXEC) < 0)
		return 0;
	if (fcntl(p[0], F_SETPIPE_SZ, (1 << 20) + 8 * page) < 0) {
		lim = fs_pipe_max_size();
		if (lim >= (256u << 10) + 5 * (unsigned long)page &&
		    lim < (1u << 20) + 5 * (unsigned long)page)
			max = (unsigned)(lim - 5 * (unsigned long)page);
	}
	close(p[0]);
	close(p[1]);
	return max;
}

/* The MAJ:MIN of the last mount on `mnt` (an absolute path) in
 * /proc/self/mountinfo, whose mount points are octal-escaped (a space is
 * \040). 1 when found, else 0. */
static int mountinfo_find(const char *mnt, unsigned *maj, unsigned *min)
{
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	char line[8192], path[4096];
	unsigned ma, mi;
	int found = 0;

	if (!fp || !mnt[0]) {
		if (fp)
			fclose(fp);
		return 0;
	}
	while (fgets(line, sizeof(line), fp)) {
		const char *p;
		size_t n = 0;

		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... */
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &ma, &mi, path) != 3)
			continue;
		for (p = path; *p; p++) {
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' &&
			    p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
				path[n++] = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 +
						   (p[3] - '0'));
				p += 3;
			} else {
				path[n++] = *p;
			}
		}
		path[n] = '\0';
		if (strcmp(path, mnt) == 0) {
			*maj = ma;
			*min = mi;
			found = 1;  /* the last match is the newest mount */
		}
	}
	fclose(fp);
	return found;
}

/* Sets the readahead of the mount's backing device info, whose FUSE
 * default is small; a larger window lets the kernel read ahead in bigger
 * requests, several in flight. `want` is the mount point's real path. */
static void set_read_ahead(const char *want, unsigned kb)
{
	char path[128], val[16];
	unsigned maj, min;
	int n, fd, ok;

	if (!mountinfo_find(want, &maj, &min)) {
		log_info("cannot set the readahead of %s: not in "
			 "/proc/self/mountinfo", want);
		return;
	}
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", maj,
		 min);
	n = snprintf(val, sizeof(val), "%u\n", kb);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ok = fd >= 0 && write(fd, val, (size_t)n) == n;
	if (!ok)
		log_info("cannot set %s to %u: %s", path, kb, strerror(errno));
	else
		log_debug("%s = %u", path, kb);
	if (fd >= 0)
		close(fd);
}

struct ra_arg {
	char mnt[PATH_MAX];            /* the mount point's real path */
	unsigned kb;                   /* -o read_ahead_kb */
};

/* The kernel sets the readahead to the smaller of its own and the INIT
 * reply's max_readahead when it handles that reply, so a value written
 * before would be cut back. It sends no other request before: the window
 * is set once the first lookup, getattr, opendir or statfs (the first
 * access of the mount is one) has come. The daemon asked itself with a
 * statx of the mount before: a kill -9 while a worker held that request
 * left the process waiting on it for good, holding /dev/fuse and the
 * metadata store's lock. */
static void *read_ahead_thread(void *arg)
{
	struct ra_arg *a = arg;

	pthread_mutex_lock(&g_seen_lock);
	while (!atomic_load(&g_seen))
		pthread_cond_wait(&g_seen_cv, &g_seen_lock);
	pthread_mutex_unlock(&g_seen_lock);
	set_read_ahead(a->mnt, a->kb);
	free(a);
	return NULL;
}

/* Sets the mount's readahead on a thread of its own, as the session
 * loop starts (see read_ahead_thread). `mnt` is the mount point's real
 * path, found before mounting. */
static void start_read_ahead(const char *mnt, unsigned kb)
{
	struct ra_arg *a;
	pthread_t t;

	if (!kb || !*mnt || !(a = calloc(1, sizeof(*a))))
		return;
	a->kb = kb;
	snprintf(a->mnt, sizeof(a->mnt), "%s", mnt);
	if (pthread_create(&t, NULL, read_ahead_thread, a) != 0) {
		free(a);
		return;
	}
	pthread_detach(t);
}

/* The default -o read_ahead_kb. 8 MiB keeps several requests of a
 * sequential reader in flight, which local tiers serve from their own
 * readahead (cold 1 GiB read here: 0.85x native with 1 MiB, 1.06-1.09x
 * with 8). The s3 kind reads ahead itself, in large ranged GETs; the
 * kernel's requests ahead of it only compete with those (a cold read of
 * a file in s3 here: about 300 MB/s with 1 MiB, 170 with 8). */
static unsigned default_read_ahead(const struct cfg *c)
{
	for (int i = 0; i < c->ntiers; i++)
		if (c->tiers[i].kind == CFG_TIER_S3)
			return 1024;
	return 8192;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Forks; the parent waits for the child's word that the mount is up and
 * exits with it. Returns the pipe's write end in the child. */
static int background(void)
{
	int p[2];
	pid_t pid;
	char status = 1;

	if (pipe(p) < 0) {
		perror("dfabric: pipe");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		perror("dfabric: fork");
		exit(1);
	}
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(p[0]);
	setsid();
	return p[1];
}

static void background_done(int fd, char status)
{
	int null;

	if (fd < 0)
		return;
	if (status == 0) {
		log_use_syslog("dfabric");
		null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			if (null > 2)
				close(null);
		}
		if (chdir("/") < 0)
			log_warn("cannot chdir to /: %s", strerror(errno));
	}
	if (write(fd, &status, 1) != 1)
		log_warn("cannot tell the parent process that the mount is up");
	close(fd);
}

/* The device number (st_dev) of the mount on `mnt` (an absolute path),
 * the last one there in /proc/self/mountinfo, or 0 when not found. Read
 * from the kernel's table: a stat of the mount would be a request to
 * this daemon, before its loop runs. */
static uint64_t mount_dev(const char *mnt)
{
	unsigned maj, min;

	return mountinfo_find(mnt, &maj, &min) ? (uint64_t)makedev(maj, min) : 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct opts o = { .max_threads = 16, .spin_us = 50,
			  .read_ahead_kb = UINT_MAX };
	struct fuse_session *se = NULL;
	struct ctl_server *ctl = NULL;
	struct fuse_loop_config *lc = NULL;
	static struct cfg cfg;
	char err[CFG_ERR_MAX + 256], fsname[2 * PATH_MAX + 16];
	char abs_config[PATH_MAX], real_mnt[PATH_MAX] = "";
	int rc = 1, bg_fd = -1;
	size_t n;

	if (fuse_opt_parse(&args, &o, opt_spec, opt_proc) < 0) {
		rc = 2;
		goto out_args;
	}
	if (pthread_key_create(&g_tbuf_key, free) != 0 ||
	    pthread_key_create(&g_pipe_key, pipe_free) != 0) {
		rc = 1;
		goto out_args;
	}
	if (o.help) {
		usage(stdout);
		rc = 0;
		goto out_args;
	}
	if (o.version) {
		printf("dfabric %s (libfuse %s)\n", DFABRIC_VERSION, fuse_pkgversion());
		rc = 0;
		goto out_args;
	}
	if (!o.config || !o.mountpoint || o.extra) {
		usage(stderr);
		rc = 2;
		goto out_args;
	}
	if (!realpath(o.config, abs_config)) {
		fprintf(stderr, "dfabric: %s: %s\n", o.config, strerror(errno));
		rc = 1;
		goto out_args;
	}
	if (cfg_load(abs_config, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "dfabric: %s\n", err);
		rc = 1;
		goto out_args;
	}
	log_set_level(cfg.log_level);
	raise_nofile();

	/* libfuse splits -o at commas: those of the path are escaped. */
	n = (size_t)snprintf(fsname, sizeof(fsname), "-ofsname=");
	for (const char *c = abs_config; *c && n < sizeof(fsname) - 3; c++) {
		if (*c == ',' || *c == '\\')
			fsname[n++] = '\\';
		fsname[n++] = *c;
	}
	fsname[n] = '\0';
	if (fuse_opt_add_arg(&args, "-odefault_permissions") < 0 ||
	    fuse_opt_add_arg(&args, fsname) < 0 ||
	    fuse_opt_add_arg(&args, "-osubtype=dfabric") < 0) {
		fprintf(stderr, "dfabric: out of memory\n");
		rc = 1;
		goto out_args;
	}
	/* Fork before any thread exists (RocksDB starts some). */
	if (!o.max_read && (o.max_read = splice_max_read())) {
		char mr[32];

		snprintf(mr, sizeof(mr), "-omax_read=%u", o.max_read);
		if (fuse_opt_add_arg(&args, mr) < 0) {
			fprintf(stderr, "dfabric: out of memory\n");
			rc = 1;
			goto out_args;
		}
	}
	g_max_read = o.max_read;
	/* libfuse checks the -o options it knows here: one it does not is
	 * a usage error, told on the terminal before the fork, and before
	 * the metadata store is opened (or created). */
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se) {
		fprintf(stderr, "dfabric: cannot start the FUSE session (bad -o option?)\n");
		rc = 2;
		goto out_args;
	}
	if (!o.foreground)
		bg_fd = background();

	rc = fs_fabric_open(&cfg, &g_fab, err, sizeof(err));
	if (rc < 0) {
		log_err("%s", err);
		rc = 1;
		fuse_session_destroy(se);
		goto out;
	}
	if (fuse_set_signal_handlers(se) < 0) {
		rc = 1;
		goto out_se;
	}
	if (!realpath(o.mountpoint, real_mnt))
		real_mnt[0] = '\0';  /* fuse_session_mount says why */
	if (fuse_session_mount(se, o.mountpoint) < 0) {
		log_err("cannot mount on %s", o.mountpoint);
		rc = 1;
		goto out_sig;
	}
	if (o.uring && !o.clone_fd && df_uring_setup(se) < 0)
		log_warn("cannot put io_uring under the session: /dev/fuse only");
	rc = ctl_start(cfg.control, g_fab, mount_dev(real_mnt), &ctl, err,
		       sizeof(err));
	if (rc < 0) {
		log_err("%s", err);
		rc = 1;
		goto out_umount;
	}
	log_info("mounted %s on %s (%d tiers, metadata in %s)", abs_config,
		 o.mountpoint, cfg.ntiers, cfg.meta);
	background_done(bg_fd, 0);
	bg_fd = -1;
	start_read_ahead(real_mnt, o.read_ahead_kb == UINT_MAX ?
				   default_read_ahead(&cfg) : o.read_ahead_kb);

	if (o.single) {
		rc = fuse_session_loop(se);
	} else if (!o.clone_fd) {
		rc = df_loop(se, o.max_threads, o.spin_us);
	} else {
		lc = fuse_loop_cfg_create();
		if (!lc) {
			rc = 1;
			goto out_ctl;
		}
		fuse_loop_cfg_set_clone_fd(lc, o.clone_fd);
		fuse_loop_cfg_set_max_threads(lc, o.max_threads ? o.max_threads : 1);
		rc = fuse_session_loop_mt(se, lc);
		fuse_loop_cfg_destroy(lc);
	}
	df_uring_stop();
	rc = rc < 0 ? 1 : 0;
	log_info("unmounting %s", o.mountpoint);
out_ctl:
	/* Unmounted first: the loop is gone, and a process on the mount
	 * must not wait for the control clients to end. */
	fuse_session_unmount(se);
	ctl_stop(ctl);
	goto out_sig;
out_umount:
	fuse_session_unmount(se);
out_sig:
	fuse_remove_signal_handlers(se);
out_se:
	fuse_session_destroy(se);
	fs_fabric_close(g_fab);
out:
	background_done(bg_fd, 1);
	free(pthread_getspecific(g_tbuf_key));
	pipe_free(pthread_getspecific(g_pipe_key));
out_args:
	fuse_opt_free_args(&args);
	free(o.config);
	free(o.mountpoint);
	return rc;
}
