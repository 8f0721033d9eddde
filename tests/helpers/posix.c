// SPDX-License-Identifier: GPL-2.0-or-later
/* posix DIR: checks the POSIX semantics of the file system that holds DIR
 * (normally a dfabric mount) against what Linux's ext4 does. It works in a
 * fresh subdirectory of DIR, removes it at the end, prints one line per
 * failed check ("FAIL group:line: what: expected ..., got ...") and a
 * summary, and exits 0 only when every check held. Checks that need
 * another user run in forked children that switch to uid 65534 or 12345
 * (root only; they are skipped otherwise).
 *
 * Usage: posix [-v] [-g GROUP] DIR   (-v names each group as it runs,
 * -g runs only the groups whose name contains GROUP) */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define KiB (1024L)
#define MiB (1024L * 1024L)
#define EXT4_MAGIC 0xEF53
#define UID_A 65534u    /* "nobody" */
#define UID_B 12345u    /* a second unprivileged user */
#define GID_X 4242u     /* a group neither of them is in */

/* Counters shared with the forked children (MAP_SHARED). */
struct tally {
	int pass;   /* checks that held */
	int fail;   /* checks that did not */
	int skip;   /* checks that do not apply here */
};

static struct tally *g_tally;     /* shared between parent and children */
static const char *g_group;       /* name of the running group */
static int g_root;                /* running as root */
static int g_ext4;                /* DIR is on ext4 (validation run) */
static int g_verbose;             /* -v */

/* --- reporting ------------------------------------------------------- */

static void failf(int line, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void failf(int line, const char *fmt, ...)
{
	va_list ap;

	printf("FAIL %s:%d: ", g_group, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	g_tally->fail++;
}

static void skipf(int line, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void skipf(int line, const char *fmt, ...)
{
	va_list ap;

	printf("skip %s:%d: ", g_group, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	g_tally->skip++;
}

static const char *errname(int e)
{
	const char *s = strerrorname_np(e);

	return s ? s : "E?";
}

static int check_cond(int ok, int line, const char *expr)
{
	if (ok)
		g_tally->pass++;
	else
		failf(line, "%s does not hold", expr);
	return ok;
}

static long check_ok(long r, int line, const char *expr)
{
	int e = errno;

	if (r == -1)
		failf(line, "%s: expected success, got %s (%s)", expr,
		      errname(e), strerror(e));
	else
		g_tally->pass++;
	return r;
}

static int check_err(long r, int want, int line, const char *expr,
		     const char *wname)
{
	int e = errno;

	if (r != -1) {
		failf(line, "%s: expected %s, got success (%ld)", expr, wname, r);
		return 0;
	}
	if (e != want) {
		failf(line, "%s: expected %s, got %s", expr, wname, errname(e));
		return 0;
	}
	g_tally->pass++;
	return 1;
}

static int check_eq(long long a, long long b, int line, const char *ea,
		    const char *eb)
{
	if (a != b) {
		failf(line, "%s == %s: expected %lld (%#llo), got %lld (%#llo)",
		      ea, eb, b, b, a, a);
		return 0;
	}
	g_tally->pass++;
	return 1;
}

/* CHECK(cond): cond holds. */
#define CHECK(cond) check_cond(!!(cond), __LINE__, #cond)
/* OK(call): call does not return -1; evaluates to its result. */
#define OK(call) check_ok((long)(call), __LINE__, #call)
/* ERR(call, E): call returns -1 with errno E. */
#define ERR(call, e) check_err((long)(call), e, __LINE__, #call, #e)
/* EQ(got, expected): two integers are equal. */
#define EQ(a, b) check_eq((long long)(a), (long long)(b), __LINE__, #a, #b)

/* --- small helpers ----------------------------------------------------- */

static struct stat lstat_at(const char *path, int line)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		failf(line, "lstat %s: %s", path, errname(errno));
		memset(&st, 0, sizeof(st));
	}
	return st;
}
/* ST(path): lstat of path (zeros and a failure when it fails). */
#define ST(path) lstat_at(path, __LINE__)

static struct stat fstat_at(int fd, int line)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		failf(line, "fstat %d: %s", fd, errname(errno));
		memset(&st, 0, sizeof(st));
	}
	return st;
}
#define FST(fd) fstat_at(fd, __LINE__)

static int ts_after(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec ||
	       (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

static int ts_equal(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* Lets the clock move on, so that a timestamp set after it differs. */
static void tick(void)
{
	struct timespec d = { 0, 20 * 1000 * 1000 };

	nanosleep(&d, NULL);
}

/* The byte at offset off of the test pattern `seed`. */
static unsigned char pat(uint64_t off, unsigned int seed)
{
	uint64_t x = (off + 1) * 0x9E3779B97F4A7C15ull ^
		     (seed + 1) * 0xD1B54A32D192ED03ull;

	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ull;
	return (unsigned char)(x >> 40);
}

static void fill(unsigned char *buf, size_t n, uint64_t off, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = pat(off + i, seed);
}

/* Index of the first byte where a and b differ, or -1. */
static long first_diff(const unsigned char *a, const unsigned char *b, size_t n)
{
	size_t i;

	if (memcmp(a, b, n) == 0)
		return -1;
	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			return (long)i;
	return -1;
}

/* Index of the first nonzero byte, or -1. */
static long first_nonzero(const unsigned char *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i])
			return (long)i;
	return -1;
}

/* Writes all of buf at off; returns 0 or -errno. */
static int pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t r = pwrite(fd, p, n, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

/* Reads up to n bytes at off, short only at end of file; returns the
 * count or -errno. */
static ssize_t pread_all(int fd, void *buf, size_t n, off_t off)
{
	char *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, p + got, n - got, off + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Creates or truncates path with the n bytes of buf. */
static void put_file(const char *path, const void *buf, size_t n, int line)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	int rc;

	if (fd < 0) {
		failf(line, "create %s: %s", path, errname(errno));
		return;
	}
	rc = write_all(fd, buf, n);
	if (rc < 0)
		failf(line, "write %s: %s", path, errname(-rc));
	if (close(fd) < 0)
		failf(line, "close %s: %s", path, errname(errno));
}
#define PUT(path, str) put_file(path, str, strlen(str), __LINE__)

/* Checks that path holds exactly the string want. */
static void expect_content(const char *path, const char *want, int line)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		failf(line, "open %s: %s", path, errname(errno));
		return;
	}
	n = pread_all(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n < 0) {
		failf(line, "read %s: %s", path, errname((int)-n));
		return;
	}
	buf[n] = 0;
	if ((size_t)n != strlen(want) || memcmp(buf, want, (size_t)n) != 0) {
		failf(line, "content of %s: expected \"%s\", got \"%.*s\"", path,
		      want, (int)(n > 64 ? 64 : n), buf);
		return;
	}
	g_tally->pass++;
}
#define CONTENT(path, want) expect_content(path, want, __LINE__)

/* Checks that [off, off+n) of fd equals the pattern `seed` (or zeros
 * when seed is -1). */
static void expect_range(int fd, off_t off, size_t n, int seed, int line)
{
	unsigned char *got = malloc(n), *want = malloc(n);
	ssize_t r;
	long d;

	if (!got || !want) {
		failf(line, "out of memory");
		goto out;
	}
	r = pread_all(fd, got, n, off);
	if (r < 0) {
		failf(line, "pread %zu at %lld: %s", n, (long long)off,
		      errname((int)-r));
		goto out;
	}
	if ((size_t)r != n) {
		failf(line, "pread %zu at %lld: short read of %zd", n,
		      (long long)off, r);
		goto out;
	}
	if (seed < 0)
		memset(want, 0, n);
	else
		fill(want, n, (uint64_t)off, (unsigned int)seed);
	d = first_diff(got, want, n);
	if (d >= 0) {
		failf(line, "data at %lld: expected %s byte %#x, got %#x",
		      (long long)off + d, seed < 0 ? "zero" : "pattern",
		      want[d], got[d]);
		goto out;
	}
	g_tally->pass++;
out:
	free(got);
	free(want);
}
#define RANGE(fd, off, n, seed) expect_range(fd, off, n, seed, __LINE__)

/* Writes n bytes of pattern `seed` at off. */
static void put_range(int fd, off_t off, size_t n, unsigned int seed, int line)
{
	unsigned char *buf = malloc(n);
	int rc;

	if (!buf) {
		failf(line, "out of memory");
		return;
	}
	fill(buf, n, (uint64_t)off, seed);
	rc = pwrite_all(fd, buf, n, off);
	if (rc < 0)
		failf(line, "pwrite %zu at %lld: %s", n, (long long)off,
		      errname(-rc));
	free(buf);
}
#define PUTR(fd, off, n, seed) put_range(fd, off, n, seed, __LINE__)

/* Runs fn in a child with the given uid and gid (no supplementary
 * groups); its checks count in the shared tally. */
static void as_user(uid_t uid, gid_t gid, void (*fn)(void), int line)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		failf(line, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0) {
			failf(line, "cannot become %u:%u: %s", uid, gid,
			      strerror(errno));
			_exit(1);
		}
		fn();
		fflush(stdout);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		failf(line, "child as uid %u ended badly (status %#x)", uid,
		      status);
}
#define AS(uid, gid, fn) as_user(uid, gid, fn, __LINE__)

static int rename2(const char *a, const char *b, unsigned int flags)
{
	return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

/* --- create and open ---------------------------------------------------- */

static void t_open_flags(void)
{
	struct stat st;
	mode_t old;
	int fd, fd2;

	fd = OK(open("f", O_CREAT | O_EXCL | O_WRONLY, 0644));
	EQ(write(fd, "hello world", 11), 11);
	close(fd);
	ERR(open("f", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	OK(symlink("nowhere", "dangling"));
	ERR(open("dangling", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	ERR(access("nowhere", F_OK), ENOENT);

	/* O_CREAT alone opens the existing file untouched. */
	fd = OK(open("f", O_CREAT | O_RDWR, 0600));
	st = FST(fd);
	EQ(st.st_size, 11);
	EQ(st.st_mode & 07777, 0644);
	close(fd);

	fd = OK(open("f", O_WRONLY | O_TRUNC));
	EQ(FST(fd).st_size, 0);
	close(fd);
	EQ(ST("f").st_size, 0);
	/* O_TRUNC truncates with O_RDONLY too (Linux; the daemon did not) */
	PUT("rt", "hello");
	fd = OK(open("rt", O_RDONLY | O_TRUNC));
	close(fd);
	EQ(ST("rt").st_size, 0);

	/* O_APPEND writes at the end whatever the offset. */
	PUT("a", "abc");
	fd = OK(open("a", O_WRONLY | O_APPEND));
	fd2 = OK(open("a", O_WRONLY | O_APPEND));
	OK(lseek(fd, 0, SEEK_SET));
	EQ(write(fd, "def", 3), 3);
	EQ(lseek(fd, 0, SEEK_CUR), 6);
	EQ(write(fd2, "1", 1), 1);
	EQ(write(fd, "2", 1), 1);
	close(fd);
	close(fd2);
	CONTENT("a", "abcdef12");
	/* O_APPEND as it is at each write: cleared by fcntl, a write goes
	 * where it is asked (it kept appending); set by fcntl, to the end */
	PUT("ap", "hello");
	fd = OK(open("ap", O_WRONLY | O_APPEND));
	OK(fcntl(fd, F_SETFL, 0));
	EQ(pwrite(fd, "Z", 1, 0), 1);
	OK(fcntl(fd, F_SETFL, O_APPEND));
	OK(lseek(fd, 0, SEEK_SET));
	EQ(write(fd, "!", 1), 1);
	close(fd);
	CONTENT("ap", "Zello!");

	/* The creation mode goes through the umask. */
	old = umask(027);
	fd = OK(open("m", O_CREAT | O_WRONLY, 0666));
	EQ(FST(fd).st_mode & 07777, 0640);
	close(fd);
	OK(mkdir("md", 0777));
	EQ(ST("md").st_mode & 07777, 0750);
	umask(old);

	/* A file created read-only is still writable through the new fd. */
	fd = OK(open("ro", O_CREAT | O_EXCL | O_WRONLY, 0444));
	EQ(write(fd, "x", 1), 1);
	close(fd);
	st = ST("ro");
	EQ(st.st_size, 1);
	EQ(st.st_mode & 07777, 0444);

	ERR(open("dangling", O_RDONLY | O_NOFOLLOW), ELOOP);
	ERR(open("a", O_RDONLY | O_DIRECTORY), ENOTDIR);
	fd = OK(open("a", O_RDONLY));
	ERR(write(fd, "x", 1), EBADF);
	ERR(ftruncate(fd, 0), EINVAL);
	close(fd);
}

/* --- ENOENT, ENOTDIR, EISDIR ---------------------------------------------- */

static void t_errnos(void)
{
	char buf[16];
	int fd;

	ERR(open("missing", O_RDONLY), ENOENT);
	ERR(access("missing", F_OK), ENOENT);
	ERR(open("nodir/x", O_CREAT | O_WRONLY, 0644), ENOENT);
	ERR(mkdir("nodir/x", 0755), ENOENT);
	ERR(unlink("missing"), ENOENT);
	ERR(rmdir("missing"), ENOENT);
	ERR(rename("missing", "x"), ENOENT);
	ERR(link("missing", "x"), ENOENT);
	ERR(chmod("missing", 0644), ENOENT);
	ERR(truncate("missing", 0), ENOENT);
	ERR(readlink("missing", buf, sizeof(buf)), ENOENT);
	ERR(symlink("x", "nodir/l"), ENOENT);

	PUT("file", "x");
	ERR(access("file/x", F_OK), ENOTDIR);
	ERR(access("file/", F_OK), ENOTDIR);
	ERR(open("file/x", O_CREAT | O_WRONLY, 0644), ENOTDIR);
	ERR(mkdir("file/x", 0755), ENOTDIR);
	ERR(rmdir("file"), ENOTDIR);
	ERR(open("file", O_RDONLY | O_DIRECTORY), ENOTDIR);

	OK(mkdir("d", 0755));
	ERR(open("d", O_WRONLY), EISDIR);
	ERR(open("d", O_RDWR), EISDIR);
	ERR(open("d", O_CREAT | O_WRONLY, 0644), EISDIR);
	ERR(open("newf/", O_CREAT | O_WRONLY, 0644), EISDIR);
	ERR(truncate("d", 0), EISDIR);
	ERR(unlink("d"), EISDIR);
	fd = OK(open("d", O_RDONLY | O_DIRECTORY));
	ERR(read(fd, buf, sizeof(buf)), EISDIR);
	close(fd);
}

/* --- name lengths and symlink loops ------------------------------------- */

static void t_names(void)
{
	char name[300], *target;
	struct stat st;
	int fd;

	PUT("f", "x");
	memset(name, 'n', sizeof(name));
	name[255] = 0;
	fd = OK(open(name, O_CREAT | O_WRONLY, 0644));
	close(fd);
	OK(access(name, F_OK));
	OK(unlink(name));
	OK(mkdir(name, 0755));
	OK(rmdir(name));

	name[255] = 'n';
	name[256] = 0;
	ERR(open(name, O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
	ERR(access(name, F_OK), ENAMETOOLONG);
	ERR(mkdir(name, 0755), ENAMETOOLONG);
	ERR(symlink("f", name), ENAMETOOLONG);
	ERR(link("f", name), ENAMETOOLONG);
	ERR(rename("f", name), ENAMETOOLONG);
	ERR(mknod(name, S_IFIFO | 0644, 0), ENAMETOOLONG);

	/* Symlink targets: 4095 bytes fit (PATH_MAX with the NUL), 4096 not. */
	target = malloc(8192);
	if (!target) {
		failf(__LINE__, "out of memory");
		return;
	}
	memset(target, 't', 4095);
	target[4095] = 0;
	if (OK(symlink(target, "long")) == 0) {
		char *back = malloc(8192);

		if (back) {
			EQ(readlink("long", back, 8192), 4095);
			CHECK(memcmp(back, target, 4095) == 0);
			free(back);
		}
		st = ST("long");
		EQ(st.st_size, 4095);
	}
	target[4095] = 't';
	target[4096] = 0;
	ERR(symlink(target, "toolong"), ENAMETOOLONG);
	free(target);

	OK(symlink("loop_b", "loop_a"));
	OK(symlink("loop_a", "loop_b"));
	OK(symlink("self", "self"));
	ERR(open("loop_a", O_RDONLY), ELOOP);
	ERR(open("loop_a", O_CREAT | O_WRONLY, 0644), ELOOP);
	ERR(access("loop_b", F_OK), ELOOP);
	ERR(access("self", F_OK), ELOOP);
	ERR(access("loop_a/x", F_OK), ELOOP);
	CHECK(S_ISLNK(ST("loop_a").st_mode));
}

/* --- mkdir and rmdir ------------------------------------------------------- */

static void t_dirs(void)
{
	nlink_t n0 = ST(".").st_nlink;
	struct stat st;

	OK(mkdir("d", 0755));
	st = ST("d");
	CHECK(S_ISDIR(st.st_mode));
	EQ(st.st_mode & 07777, 0755);
	EQ(st.st_nlink, 2);
	EQ(ST(".").st_nlink, n0 + 1);
	EQ(ST("d/..").st_ino, ST(".").st_ino);
	EQ(ST("d/.").st_ino, st.st_ino);
	ERR(mkdir("d", 0755), EEXIST);
	PUT("f", "x");
	ERR(mkdir("f", 0755), EEXIST);
	OK(symlink("d", "ld"));
	ERR(mkdir("ld", 0755), EEXIST);

	PUT("d/x", "x");
	ERR(rmdir("d"), ENOTEMPTY);
	OK(mkdir("d/sub", 0700));
	EQ(ST("d").st_nlink, 3);
	OK(rmdir("d/sub"));
	EQ(ST("d").st_nlink, 2);
	ERR(rmdir("f"), ENOTDIR);
	ERR(rmdir("ld"), ENOTDIR);
	ERR(unlink("d"), EISDIR);
	ERR(rmdir("d/."), EINVAL);
	ERR(rmdir("d/.."), ENOTEMPTY);
	OK(unlink("d/x"));
	OK(rmdir("d"));
	ERR(access("d", F_OK), ENOENT);
	EQ(ST(".").st_nlink, n0);

	OK(mkdir("sd", 01777));
	EQ(ST("sd").st_mode & 07777, 01755);

	OK(mkdir("a", 0755));
	OK(mkdir("a/b", 0755));
	OK(mkdir("a/b/c", 0755));
	OK(mkdir("a/b/c/d", 0755));
	PUT("a/b/c/d/leaf", "leaf");
	CONTENT("a/b/c/d/leaf", "leaf");
	ERR(rmdir("a"), ENOTEMPTY);
	EQ(ST("a/b/c/d/../../..").st_ino, ST("a").st_ino);
}

/* --- hard links ------------------------------------------------------------ */

static void t_links(void)
{
	struct stat a, b;
	int fd;

	PUT("f", "data");
	a = ST("f");
	EQ(a.st_nlink, 1);
	tick();
	OK(link("f", "g"));
	b = ST("g");
	EQ(b.st_ino, a.st_ino);
	EQ(b.st_nlink, 2);
	EQ(ST("f").st_nlink, 2);
	CHECK(ts_after(b.st_ctim, a.st_ctim));

	fd = OK(open("g", O_WRONLY | O_APPEND));
	EQ(write(fd, "more", 4), 4);
	close(fd);
	CONTENT("f", "datamore");

	ERR(link("f", "g"), EEXIST);
	OK(mkdir("d", 0755));
	ERR(link("d", "dl"), EPERM);
	OK(link("f", "d/h"));
	EQ(ST("f").st_nlink, 3);
	OK(unlink("f"));
	EQ(ST("g").st_nlink, 2);
	CONTENT("d/h", "datamore");
	OK(unlink("g"));
	EQ(ST("d/h").st_nlink, 1);
	CONTENT("d/h", "datamore");

	/* A link to a symlink is a link to the symlink itself. */
	OK(symlink("d/h", "sl"));
	OK(link("sl", "sl2"));
	a = ST("sl2");
	CHECK(S_ISLNK(a.st_mode));
	EQ(a.st_nlink, 2);
	EQ(a.st_ino, ST("sl").st_ino);
}

/* --- unlink of an open file ---------------------------------------------- */

static void t_unlink_open(void)
{
	unsigned char buf[16];
	struct stat st;
	ino_t ino;
	int fd, fd2;

	fd = OK(open("f", O_CREAT | O_RDWR, 0644));
	fd2 = OK(open("f", O_RDONLY));
	EQ(write(fd, "abc", 3), 3);
	ino = FST(fd).st_ino;
	OK(unlink("f"));
	ERR(access("f", F_OK), ENOENT);
	st = FST(fd);
	EQ(st.st_nlink, 0);
	EQ(st.st_size, 3);
	EQ(pread(fd, buf, sizeof(buf), 0), 3);
	CHECK(memcmp(buf, "abc", 3) == 0);
	EQ(pwrite(fd, "xyz", 3, 3), 3);
	EQ(pread(fd, buf, sizeof(buf), 0), 6);
	CHECK(memcmp(buf, "abcxyz", 6) == 0);
	EQ(FST(fd).st_size, 6);

	/* A new file under the old name is another file. */
	PUT("f", "new");
	CHECK(ST("f").st_ino != ino);
	CONTENT("f", "new");
	EQ(pread(fd, buf, sizeof(buf), 0), 6);
	CHECK(memcmp(buf, "abcxyz", 6) == 0);
	OK(ftruncate(fd, 2));
	EQ(FST(fd).st_size, 2);
	close(fd);
	/* The last fd keeps the data alive. */
	EQ(pread(fd2, buf, sizeof(buf), 0), 2);
	CHECK(memcmp(buf, "ab", 2) == 0);
	close(fd2);
	CONTENT("f", "new");

	/* The same with more than one extent. */
	fd = OK(open("big", O_CREAT | O_RDWR, 0644));
	PUTR(fd, 0, 9 * MiB, 7);
	OK(unlink("big"));
	RANGE(fd, 0, 9 * MiB, 7);
	PUTR(fd, 4 * MiB - 10, 20, 8);
	RANGE(fd, 4 * MiB - 10, 20, 8);
	close(fd);
}

/* --- symlinks -------------------------------------------------------------- */

static void t_symlinks(void)
{
	char buf[64];
	struct stat st;
	ssize_t n;

	OK(symlink("target/path", "l"));
	n = readlink("l", buf, sizeof(buf));
	EQ(n, 11);
	CHECK(n == 11 && memcmp(buf, "target/path", 11) == 0);
	EQ(readlink("l", buf, 4), 4);
	CHECK(memcmp(buf, "targ", 4) == 0);
	st = ST("l");
	CHECK(S_ISLNK(st.st_mode));
	EQ(st.st_size, 11);
	EQ(st.st_mode & 0777, 0777);
	ERR(stat("l", &st), ENOENT);
	ERR(symlink("x", "l"), EEXIST);

	PUT("t", "T");
	OK(symlink("t", "lt"));
	OK(stat("lt", &st));
	EQ(st.st_ino, ST("t").st_ino);
	CONTENT("lt", "T");
	ERR(readlink("t", buf, sizeof(buf)), EINVAL);

	OK(mkdir("dd", 0755));
	OK(symlink("dd", "ld"));
	PUT("ld/inner", "I");
	CONTENT("dd/inner", "I");

	OK(symlink("/nonexistent/abs", "la"));
	n = readlink("la", buf, sizeof(buf));
	EQ(n, 16);
	CHECK(n == 16 && memcmp(buf, "/nonexistent/abs", 16) == 0);

	OK(unlink("lt"));
	CONTENT("t", "T");
}

/* --- rename ---------------------------------------------------------------- */

static void t_rename(void)
{
	struct stat a, b, p1, p2;
	char buf[8];
	int fd;

	/* Over a file: the target's inode goes, the source's stays. */
	PUT("a", "A");
	PUT("b", "B");
	a = ST("a");
	fd = OK(open("b", O_RDONLY));
	tick();
	OK(rename("a", "b"));
	ERR(access("a", F_OK), ENOENT);
	b = ST("b");
	EQ(b.st_ino, a.st_ino);
	CHECK(ts_after(b.st_ctim, a.st_ctim));
	CONTENT("b", "A");
	EQ(FST(fd).st_nlink, 0);
	EQ(pread(fd, buf, sizeof(buf), 0), 1);
	CHECK(buf[0] == 'B');
	close(fd);

	/* Over an empty directory. */
	OK(mkdir("d1", 0755));
	OK(mkdir("d2", 0755));
	PUT("d1/x", "x");
	a = ST("d1");
	OK(rename("d1", "d2"));
	ERR(access("d1", F_OK), ENOENT);
	EQ(ST("d2").st_ino, a.st_ino);
	CONTENT("d2/x", "x");

	OK(mkdir("e1", 0755));
	OK(mkdir("e2", 0755));
	PUT("e2/y", "y");
	ERR(rename("e1", "e2"), ENOTEMPTY);
	ERR(rename("e1", "b"), ENOTDIR);
	ERR(rename("b", "e1"), EISDIR);
	OK(mkdir("e1/s", 0755));
	ERR(rename("e1", "e1/s/x"), EINVAL);
	ERR(rename("e1", "e1/x"), EINVAL);
	ERR(rename("missing", "z"), ENOENT);
	CONTENT("e2/y", "y");

	/* Two names of one file: nothing happens. */
	OK(link("b", "bh"));
	OK(rename("b", "bh"));
	EQ(ST("b").st_nlink, 2);
	EQ(ST("bh").st_ino, ST("b").st_ino);
	OK(rename("b", "b"));
	CONTENT("b", "A");

	/* A directory moving between parents. */
	OK(mkdir("p1", 0755));
	OK(mkdir("p2", 0755));
	OK(mkdir("p1/c", 0755));
	EQ(ST("p1").st_nlink, 3);
	EQ(ST("p2").st_nlink, 2);
	p1 = ST("p1");
	p2 = ST("p2");
	tick();
	OK(rename("p1/c", "p2/c"));
	EQ(ST("p1").st_nlink, 2);
	EQ(ST("p2").st_nlink, 3);
	EQ(ST("p2/c/..").st_ino, ST("p2").st_ino);
	CHECK(ts_after(ST("p1").st_mtim, p1.st_mtim));
	CHECK(ts_after(ST("p2").st_mtim, p2.st_mtim));
	CHECK(ts_after(ST("p1").st_ctim, p1.st_ctim));
	CHECK(ts_after(ST("p2").st_ctim, p2.st_ctim));

	/* An open file survives its rename. */
	fd = OK(open("b", O_RDWR));
	OK(rename("b", "p1/moved"));
	EQ(pwrite(fd, "Z", 1, 1), 1);
	close(fd);
	CONTENT("p1/moved", "AZ");
	CONTENT("bh", "AZ");

	OK(symlink("tgt", "sl"));
	OK(rename("sl", "p2/sl2"));
	EQ(readlink("p2/sl2", buf, sizeof(buf)), 3);
	CHECK(memcmp(buf, "tgt", 3) == 0);
}

/* --- renameat2 flags ------------------------------------------------------- */

static void t_rename2(void)
{
	struct stat x, y;

	PUT("x", "X");
	PUT("y", "Y");
	ERR(rename2("x", "y", RENAME_NOREPLACE), EEXIST);
	CONTENT("x", "X");
	CONTENT("y", "Y");
	OK(rename2("x", "z", RENAME_NOREPLACE));
	ERR(access("x", F_OK), ENOENT);
	CONTENT("z", "X");

	PUT("x", "X");
	x = ST("x");
	y = ST("y");
	OK(rename2("x", "y", RENAME_EXCHANGE));
	CONTENT("x", "Y");
	CONTENT("y", "X");
	EQ(ST("x").st_ino, y.st_ino);
	EQ(ST("y").st_ino, x.st_ino);
	ERR(rename2("x", "missing", RENAME_EXCHANGE), ENOENT);
	ERR(rename2("x", "y", RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL);

	/* A file and a directory in different parents. */
	OK(mkdir("q1", 0755));
	OK(mkdir("q2", 0755));
	PUT("q1/f", "F");
	OK(mkdir("q2/d", 0755));
	PUT("q2/d/in", "I");
	EQ(ST("q1").st_nlink, 2);
	EQ(ST("q2").st_nlink, 3);
	OK(rename2("q1/f", "q2/d", RENAME_EXCHANGE));
	CHECK(S_ISDIR(ST("q1/f").st_mode));
	CHECK(S_ISREG(ST("q2/d").st_mode));
	CONTENT("q1/f/in", "I");
	CONTENT("q2/d", "F");
	EQ(ST("q1").st_nlink, 3);
	EQ(ST("q2").st_nlink, 2);
	EQ(ST("q1/f/..").st_ino, ST("q1").st_ino);
}

/* --- chmod, chown, truncate ------------------------------------------------ */

static void t_attrs(void)
{
	struct stat st;
	int fd;

	PUT("f", "abc");
	OK(chmod("f", 0600));
	st = ST("f");
	EQ(st.st_mode, S_IFREG | 0600);
	fd = OK(open("f", O_RDWR));
	OK(fchmod(fd, 0640));
	EQ(FST(fd).st_mode, S_IFREG | 0640);
	if (g_root) {
		OK(chmod("f", 07755));
		EQ(ST("f").st_mode & 07777, 07755);
		OK(chmod("f", 0644));
		OK(chown("f", UID_B, 54321));
		st = ST("f");
		EQ(st.st_uid, UID_B);
		EQ(st.st_gid, 54321);
		OK(chown("f", (uid_t)-1, (gid_t)-1));
		EQ(ST("f").st_uid, UID_B);
		OK(fchown(fd, 0, (gid_t)-1));
		st = ST("f");
		EQ(st.st_uid, 0);
		EQ(st.st_gid, 54321);
		OK(symlink("f", "l"));
		OK(lchown("l", 777, 888));
		EQ(ST("l").st_uid, 777);
		EQ(ST("l").st_gid, 888);
		EQ(ST("f").st_uid, 0);
	}

	/* Truncate: growing reads zeros, shrinking forgets for good. */
	OK(truncate("f", 10000));
	EQ(ST("f").st_size, 10000);
	{
		unsigned char buf[10000];

		EQ(pread_all(fd, buf, sizeof(buf), 0), 10000);
		CHECK(memcmp(buf, "abc", 3) == 0);
		EQ(first_nonzero(buf + 3, sizeof(buf) - 3), -1);
	}
	OK(truncate("f", 2));
	CONTENT("f", "ab");
	OK(ftruncate(fd, 100));
	EQ(FST(fd).st_size, 100);
	{
		unsigned char buf[100];

		EQ(pread_all(fd, buf, sizeof(buf), 0), 100);
		EQ(first_nonzero(buf + 2, 98), -1);
	}
	close(fd);

	fd = OK(open("big", O_CREAT | O_RDWR, 0644));
	PUTR(fd, 0, 9 * MiB, 3);
	OK(ftruncate(fd, 5 * MiB + 1));
	EQ(FST(fd).st_size, 5 * MiB + 1);
	OK(ftruncate(fd, 9 * MiB));
	EQ(FST(fd).st_size, 9 * MiB);
	RANGE(fd, 0, 5 * MiB + 1, 3);
	RANGE(fd, 5 * MiB + 1, 4 * MiB - 1, -1);
	OK(ftruncate(fd, 0));
	EQ(FST(fd).st_size, 0);
	OK(ftruncate(fd, 6 * MiB));
	RANGE(fd, 0, 6 * MiB, -1);
	close(fd);

	ERR(truncate("f", -1), EINVAL);
	OK(mkdir("d", 0755));
	ERR(truncate("d", 0), EISDIR);
}

/* --- timestamps ------------------------------------------------------------ */

static void t_utimens(void)
{
	struct timespec ts[2] = { { 1000000000, 123456789 },
				  { 1200000000, 987654321 } };
	struct timespec far[2] = { { 4000000000LL, 1 }, { 4000000001LL, 999999999 } };
	struct timespec omit_now[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };
	struct timespec now_omit[2] = { { 0, UTIME_NOW }, { 0, UTIME_OMIT } };
	struct timespec t0, t1;
	struct stat st, prev;
	int fd;

	PUT("f", "x");
	OK(utimensat(AT_FDCWD, "f", ts, 0));
	st = ST("f");
	CHECK(ts_equal(st.st_atim, ts[0]));
	CHECK(ts_equal(st.st_mtim, ts[1]));

	prev = st;
	tick();
	clock_gettime(CLOCK_REALTIME, &t0);
	OK(utimensat(AT_FDCWD, "f", omit_now, 0));
	clock_gettime(CLOCK_REALTIME, &t1);
	st = ST("f");
	CHECK(ts_equal(st.st_atim, ts[0]));
	CHECK(st.st_mtim.tv_sec >= t0.tv_sec - 1 && st.st_mtim.tv_sec <= t1.tv_sec + 1);
	CHECK(ts_after(st.st_ctim, prev.st_ctim));

	prev = st;
	OK(utimensat(AT_FDCWD, "f", now_omit, 0));
	clock_gettime(CLOCK_REALTIME, &t1);
	st = ST("f");
	CHECK(ts_equal(st.st_mtim, prev.st_mtim));
	CHECK(st.st_atim.tv_sec >= t0.tv_sec - 1 && st.st_atim.tv_sec <= t1.tv_sec + 1);

	OK(utimensat(AT_FDCWD, "f", ts, 0));
	OK(utimensat(AT_FDCWD, "f", NULL, 0));
	clock_gettime(CLOCK_REALTIME, &t1);
	st = ST("f");
	CHECK(st.st_mtim.tv_sec >= t0.tv_sec - 1 && st.st_mtim.tv_sec <= t1.tv_sec + 1);
	CHECK(st.st_atim.tv_sec >= t0.tv_sec - 1 && st.st_atim.tv_sec <= t1.tv_sec + 1);

	/* Through an fd, and past 2038. */
	fd = OK(open("f", O_RDWR));
	OK(futimens(fd, far));
	st = FST(fd);
	CHECK(ts_equal(st.st_atim, far[0]));
	CHECK(ts_equal(st.st_mtim, far[1]));
	close(fd);
	st = ST("f");
	CHECK(ts_equal(st.st_mtim, far[1]));

	/* A symlink's own times. */
	OK(symlink("f", "l"));
	OK(utimensat(AT_FDCWD, "l", ts, AT_SYMLINK_NOFOLLOW));
	CHECK(ts_equal(ST("l").st_mtim, ts[1]));
	CHECK(ts_equal(ST("f").st_mtim, far[1]));
}

/* ctime and mtime follow changes of an inode and of a directory. */
static void t_ctime(void)
{
	struct stat s0, s1, d0, d1;
	char buf[16];
	int fd;

	PUT("f", "abc");
	s0 = ST("f");
	tick();
	OK(chmod("f", 0600));
	s1 = ST("f");
	CHECK(ts_after(s1.st_ctim, s0.st_ctim));
	CHECK(ts_equal(s1.st_mtim, s0.st_mtim));

	s0 = s1;
	tick();
	OK(link("f", "g"));
	s1 = ST("f");
	CHECK(ts_after(s1.st_ctim, s0.st_ctim));
	CHECK(ts_equal(s1.st_mtim, s0.st_mtim));

	s0 = s1;
	tick();
	OK(rename("g", "h"));
	s1 = ST("f");
	CHECK(ts_after(s1.st_ctim, s0.st_ctim));
	CHECK(ts_equal(s1.st_mtim, s0.st_mtim));

	if (g_root) {
		s0 = s1;
		tick();
		OK(chown("f", UID_A, (gid_t)-1));
		s1 = ST("f");
		CHECK(ts_after(s1.st_ctim, s0.st_ctim));
		CHECK(ts_equal(s1.st_mtim, s0.st_mtim));
	}

	/* Writing changes both, seen through the fd and the path. */
	s0 = s1;
	tick();
	fd = OK(open("f", O_RDWR));
	EQ(pwrite(fd, "x", 1, 1), 1);
	s1 = FST(fd);
	CHECK(ts_after(s1.st_mtim, s0.st_mtim));
	CHECK(ts_after(s1.st_ctim, s0.st_ctim));
	s1 = ST("f");
	CHECK(ts_after(s1.st_mtim, s0.st_mtim));
	close(fd);

	/* Reading changes neither. */
	s0 = ST("f");
	tick();
	fd = OK(open("f", O_RDONLY));
	EQ(read(fd, buf, sizeof(buf)), 3);
	close(fd);
	s1 = ST("f");
	CHECK(ts_equal(s1.st_mtim, s0.st_mtim));
	CHECK(ts_equal(s1.st_ctim, s0.st_ctim));

	/* Truncating changes both. */
	tick();
	OK(truncate("f", 1));
	s1 = ST("f");
	CHECK(ts_after(s1.st_mtim, s0.st_mtim));
	CHECK(ts_after(s1.st_ctim, s0.st_ctim));
	s0 = s1;
	tick();
	fd = OK(open("f", O_RDWR));
	OK(ftruncate(fd, 4096));
	close(fd);
	s1 = ST("f");
	CHECK(ts_after(s1.st_mtim, s0.st_mtim));

	/* The directory changes with its entries. */
	d0 = ST(".");
	tick();
	PUT("new", "n");
	d1 = ST(".");
	CHECK(ts_after(d1.st_mtim, d0.st_mtim));
	CHECK(ts_after(d1.st_ctim, d0.st_ctim));
	d0 = d1;
	tick();
	OK(unlink("new"));
	d1 = ST(".");
	CHECK(ts_after(d1.st_mtim, d0.st_mtim));
	CHECK(ts_after(d1.st_ctim, d0.st_ctim));
	d0 = d1;
	tick();
	OK(mkdir("nd", 0755));
	d1 = ST(".");
	CHECK(ts_after(d1.st_mtim, d0.st_mtim));
	d0 = d1;
	tick();
	OK(rmdir("nd"));
	d1 = ST(".");
	CHECK(ts_after(d1.st_mtim, d0.st_mtim));
	d0 = d1;
	tick();
	OK(symlink("f", "sl"));
	d1 = ST(".");
	CHECK(ts_after(d1.st_mtim, d0.st_mtim));
	d0 = d1;
	tick();
	OK(rename("sl", "sl2"));
	d1 = ST(".");
	CHECK(ts_after(d1.st_mtim, d0.st_mtim));
	d0 = d1;
	tick();
	OK(link("f", "lnk"));
	d1 = ST(".");
	CHECK(ts_after(d1.st_mtim, d0.st_mtim));
}

/* --- setgid directories ------------------------------------------------ */

static void child_setgid(void)
{
	struct stat st;
	int fd;

	fd = OK(open("sg/u", O_CREAT | O_WRONLY, 02755));
	close(fd);
	st = ST("sg/u");
	EQ(st.st_uid, UID_B);
	EQ(st.st_gid, GID_X);
	EQ(st.st_mode & 07777, 0755);
	OK(mkdir("sg/ud", 0755));
	st = ST("sg/ud");
	EQ(st.st_gid, GID_X);
	EQ(st.st_mode & 07777, 02755);
	/* Not in the group: chmod cannot set the setgid bit. */
	OK(chmod("sg/u", 02755));
	EQ(ST("sg/u").st_mode & 07777, 0755);
}

static void t_setgid(void)
{
	struct stat st;

	OK(mkdir("sg", 0777));
	OK(chown("sg", 0, GID_X));
	OK(chmod("sg", 02777));
	EQ(ST("sg").st_mode & 07777, 02777);

	PUT("sg/f", "x");
	st = ST("sg/f");
	EQ(st.st_gid, GID_X);
	EQ(st.st_mode & 07777, 0644);
	OK(mkdir("sg/sub", 0755));
	st = ST("sg/sub");
	EQ(st.st_gid, GID_X);
	EQ(st.st_mode & 07777, 02755);
	PUT("sg/sub/deeper", "x");
	EQ(ST("sg/sub/deeper").st_gid, GID_X);
	OK(mkfifo("sg/fifo", 0644));
	EQ(ST("sg/fifo").st_gid, GID_X);
	OK(symlink("f", "sg/sl"));
	EQ(ST("sg/sl").st_gid, GID_X);

	AS(UID_B, UID_B, child_setgid);

	/* Without the bit, the creator's group. */
	OK(mkdir("plain", 0777));
	OK(chown("plain", 0, GID_X));
	PUT("plain/f", "x");
	EQ(ST("plain/f").st_gid, getegid());
}

/* --- sticky directories -------------------------------------------------- */

static void child_sticky_a_create(void)
{
	PUT("st/a", "a");
	PUT("ns/a", "a");
}

static void child_sticky_b(void)
{
	PUT("st/b", "b");
	ERR(unlink("st/a"), EPERM);
	ERR(rename("st/a", "st/a2"), EPERM);
	OK(unlink("st/b"));
	/* Without the sticky bit anyone with write access may remove. */
	OK(unlink("ns/a"));
}

static void child_sticky_a_remove(void)
{
	OK(unlink("st/a"));
}

static void t_sticky(void)
{
	OK(mkdir("st", 0777));
	OK(chmod("st", 01777));
	OK(mkdir("ns", 0777));
	OK(chmod("ns", 0777));
	AS(UID_A, UID_A, child_sticky_a_create);
	EQ(ST("st/a").st_uid, UID_A);
	AS(UID_B, UID_B, child_sticky_b);
	OK(access("st/a", F_OK));
	ERR(access("st/b", F_OK), ENOENT);
	AS(UID_A, UID_A, child_sticky_a_remove);
	ERR(access("st/a", F_OK), ENOENT);
}

/* --- permissions and privilege bits ----------------------------------- */

static void child_perms(void)
{
	struct timespec ts[2] = { { 1, 0 }, { 2, 0 } };
	int fd;

	ERR(chmod("other", 0777), EPERM);
	ERR(chown("other", UID_B, (gid_t)-1), EPERM);
	ERR(utimensat(AT_FDCWD, "other", ts, 0), EPERM);
	ERR(open("secret", O_RDONLY), EACCES);
	ERR(open("secret", O_WRONLY), EACCES);
	ERR(open("mine_wo", O_RDONLY), EACCES);
	fd = OK(open("mine_wo", O_WRONLY));
	close(fd);
	ERR(access("noexec/f", F_OK), EACCES);
	ERR(open("nowrite/x", O_CREAT | O_WRONLY, 0644), EACCES);

	/* Writing or truncating someone's set-id file drops the bits, and
	 * so does opening it with O_TRUNC (the bits stayed). */
	fd = OK(open("suid", O_WRONLY));
	EQ(write(fd, "x", 1), 1);
	close(fd);
	OK(truncate("suid2", 0));
	fd = OK(open("suid3", O_WRONLY | O_TRUNC));
	close(fd);
}

static void t_perms(void)
{
	int fd;

	PUT("other", "x");
	OK(chown("other", UID_A, UID_A));
	PUT("secret", "s");
	OK(chmod("secret", 0600));
	PUT("mine_wo", "w");
	OK(chown("mine_wo", UID_B, UID_B));
	OK(chmod("mine_wo", 0200));
	OK(mkdir("noexec", 0700));
	PUT("noexec/f", "x");
	OK(mkdir("nowrite", 0555));

	PUT("suid", "x");
	OK(chmod("suid", 06777));
	EQ(ST("suid").st_mode & 07777, 06777);
	PUT("suid2", "x");
	OK(chmod("suid2", 04777));
	PUT("suid3", "x");
	OK(chmod("suid3", 06777));

	AS(UID_B, UID_B, child_perms);
	EQ(ST("other").st_mode & 07777, 0644);
	EQ(ST("suid").st_mode & 07777, 0777);
	EQ(ST("suid").st_size, 1);
	EQ(ST("suid2").st_mode & 07777, 0777);
	EQ(ST("suid2").st_size, 0);
	EQ(ST("suid3").st_mode & 07777, 0777);
	EQ(ST("suid3").st_size, 0);

	/* Root keeps the bits when writing; chown drops the set-uid bit. */
	PUT("rsuid", "x");
	OK(chmod("rsuid", 04755));
	fd = OK(open("rsuid", O_WRONLY | O_APPEND));
	EQ(write(fd, "y", 1), 1);
	close(fd);
	EQ(ST("rsuid").st_mode & 07777, 04755);
	fd = OK(open("rsuid", O_WRONLY | O_TRUNC));
	close(fd);
	EQ(ST("rsuid").st_mode & 07777, 04755);
	OK(chown("rsuid", UID_B, (gid_t)-1));
	EQ(ST("rsuid").st_mode & 07777, 0755);
	EQ(ST("rsuid").st_uid, UID_B);
}

/* --- special files --------------------------------------------------------- */

static void t_mknod(void)
{
	struct stat st;
	char c = 0;
	int r, w;

	OK(mkfifo("fifo", 0644));
	st = ST("fifo");
	CHECK(S_ISFIFO(st.st_mode));
	EQ(st.st_mode & 07777, 0644);
	ERR(mkfifo("fifo", 0644), EEXIST);
	r = OK(open("fifo", O_RDONLY | O_NONBLOCK));
	w = OK(open("fifo", O_WRONLY | O_NONBLOCK));
	EQ(write(w, "q", 1), 1);
	EQ(read(r, &c, 1), 1);
	EQ(c, 'q');
	close(w);
	close(r);

	OK(mknod("reg", S_IFREG | 0640, 0));
	st = ST("reg");
	CHECK(S_ISREG(st.st_mode));
	EQ(st.st_size, 0);
	EQ(st.st_mode & 07777, 0640);
	OK(mknod("sock", S_IFSOCK | 0644, 0));
	CHECK(S_ISSOCK(ST("sock").st_mode));

	if (!g_root) {
		skipf(__LINE__, "device nodes need root");
		return;
	}
	OK(mknod("chr", S_IFCHR | 0600, makedev(240, 7)));
	st = ST("chr");
	CHECK(S_ISCHR(st.st_mode));
	EQ(major(st.st_rdev), 240);
	EQ(minor(st.st_rdev), 7);
	OK(mknod("chr2", S_IFCHR | 0600, makedev(300, 70000)));
	st = ST("chr2");
	EQ(major(st.st_rdev), 300);
	EQ(minor(st.st_rdev), 70000);
	OK(mknod("blk", S_IFBLK | 0600, makedev(7, 200)));
	st = ST("blk");
	CHECK(S_ISBLK(st.st_mode));
	EQ(st.st_rdev, makedev(7, 200));
}

/* --- statfs ---------------------------------------------------------------- */

static void t_statfs(void)
{
	struct statvfs sv, fsv;
	int fd;

	if (OK(statvfs(".", &sv)) < 0)
		return;
	CHECK(sv.f_blocks > 0);
	CHECK(sv.f_bsize > 0);
	CHECK(sv.f_frsize > 0);
	CHECK(sv.f_bfree <= sv.f_blocks);
	CHECK(sv.f_bavail <= sv.f_bfree);
	EQ(sv.f_namemax, 255);
	fd = OK(open(".", O_RDONLY | O_DIRECTORY));
	if (OK(fstatvfs(fd, &fsv)) == 0)
		EQ(fsv.f_blocks, sv.f_blocks);
	close(fd);
}

/* --- readdir --------------------------------------------------------------- */

#define NENT 2000

/* Lists dir: counts ".", ".." and the names "e0000".."e1999" into seen;
 * returns the number of other names (reported). */
static int list_big(const char *dir, int *seen, int *dots, int remove_each,
		    int line)
{
	struct dirent *de;
	int other = 0, badtype = 0;
	DIR *d = opendir(dir);

	if (!d) {
		failf(line, "opendir %s: %s", dir, errname(errno));
		return -1;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		int i;
		char tail;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
			(*dots)++;
			continue;
		}
		if (sscanf(de->d_name, "e%d%c", &i, &tail) != 1 || i < 0 ||
		    i >= NENT) {
			if (other++ < 5)
				failf(line, "unexpected entry \"%s\" in %s",
				      de->d_name, dir);
			continue;
		}
		seen[i]++;
		if (de->d_type != DT_REG && badtype++ == 0)
			failf(line, "d_type of %s: expected DT_REG, got %d",
			      de->d_name, de->d_type);
		if (remove_each && unlinkat(dirfd(d), de->d_name, 0) < 0)
			failf(line, "unlink %s during readdir: %s", de->d_name,
			      errname(errno));
	}
	if (errno)
		failf(line, "readdir %s: %s", dir, errname(errno));
	closedir(d);
	return other;
}

static void check_seen(const int *seen, int line)
{
	int i, bad = 0;

	for (i = 0; i < NENT; i++) {
		if (seen[i] != 1 && bad++ < 5)
			failf(line, "entry e%04d seen %d times", i, seen[i]);
	}
	if (!bad)
		g_tally->pass++;
}

static void t_readdir(void)
{
	static int seen[NENT];
	struct dirent *de;
	char name[512];
	int i, dots, n;
	long pos;
	DIR *d;

	OK(mkdir("big", 0755));
	for (i = 0; i < NENT; i++) {
		int fd;

		snprintf(name, sizeof(name), "big/e%04d", i);
		fd = open(name, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0) {
			failf(__LINE__, "create %s: %s", name, errname(errno));
			break;
		}
		close(fd);
	}
	memset(seen, 0, sizeof(seen));
	dots = 0;
	EQ(list_big("big", seen, &dots, 0, __LINE__), 0);
	EQ(dots, 2);
	check_seen(seen, __LINE__);

	/* rewinddir, telldir and seekdir. */
	d = opendir("big");
	if (d) {
		for (n = 0; readdir(d); n++)
			;
		EQ(n, NENT + 2);
		rewinddir(d);
		for (n = 0; readdir(d); n++)
			;
		EQ(n, NENT + 2);
		rewinddir(d);
		for (i = 0; i < 100; i++)
			readdir(d);
		pos = telldir(d);
		de = readdir(d);
		if (CHECK(de != NULL)) {
			snprintf(name, sizeof(name), "%s", de->d_name);
			for (i = 0; i < 50; i++)
				readdir(d);
			seekdir(d, pos);
			de = readdir(d);
			CHECK(de != NULL && !strcmp(de->d_name, name));
		}
		closedir(d);
	} else {
		failf(__LINE__, "opendir big: %s", errname(errno));
	}

	/* Removing each entry as it is read still visits every entry once. */
	memset(seen, 0, sizeof(seen));
	dots = 0;
	EQ(list_big("big", seen, &dots, 1, __LINE__), 0);
	check_seen(seen, __LINE__);
	memset(seen, 0, sizeof(seen));
	dots = 0;
	EQ(list_big("big", seen, &dots, 0, __LINE__), 0);
	EQ(dots, 2);
	for (i = 0, n = 0; i < NENT; i++)
		n += seen[i];
	EQ(n, 0);
	OK(rmdir("big"));

	/* Types and inode numbers of a small directory. */
	OK(mkdir("t", 0755));
	PUT("t/f", "x");
	OK(mkdir("t/d", 0755));
	OK(symlink("f", "t/l"));
	OK(mkfifo("t/p", 0644));
	d = opendir("t");
	if (!d) {
		failf(__LINE__, "opendir t: %s", errname(errno));
		return;
	}
	n = 0;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		int want;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		n++;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			failf(__LINE__, "stat t/%s: %s", de->d_name,
			      errname(errno));
			continue;
		}
		want = S_ISREG(st.st_mode) ? DT_REG : S_ISDIR(st.st_mode) ? DT_DIR :
		       S_ISLNK(st.st_mode) ? DT_LNK : S_ISFIFO(st.st_mode) ? DT_FIFO :
		       DT_UNKNOWN;
		if (de->d_type != want)
			failf(__LINE__, "d_type of t/%s: expected %d, got %d",
			      de->d_name, want, de->d_type);
		else
			g_tally->pass++;
		if (de->d_ino != st.st_ino)
			failf(__LINE__, "d_ino of t/%s: %llu, st_ino %llu",
			      de->d_name, (unsigned long long)de->d_ino,
			      (unsigned long long)st.st_ino);
		else
			g_tally->pass++;
	}
	closedir(d);
	EQ(n, 4);

	OK(mkdir("empty", 0755));
	d = opendir("empty");
	if (d) {
		for (n = 0; (de = readdir(d)) != NULL; n++)
			CHECK(!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."));
		EQ(n, 2);
		closedir(d);
	}
}

/* --- extended attributes ------------------------------------------------- */

/* Whether list (n bytes of NUL-terminated names) holds name once. */
static int list_count(const char *list, ssize_t n, const char *name)
{
	const char *p = list;
	int count = 0;

	while (p < list + n) {
		if (!strcmp(p, name))
			count++;
		p += strlen(p) + 1;
	}
	return count;
}

/* A POSIX access ACL in its xattr form (version 2; user::rw-,
 * group::r--, other::r--), the same as mode 0644. */
static const unsigned char acl_644[] = {
	0x02, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x06, 0x00, 0xff, 0xff, 0xff, 0xff,
	0x04, 0x00, 0x04, 0x00, 0xff, 0xff, 0xff, 0xff,
	0x20, 0x00, 0x04, 0x00, 0xff, 0xff, 0xff, 0xff,
};

/* As another user: trusted.* names are not listed to them. */
static void child_xattr_list(void)
{
	char buf[256];
	ssize_t n = listxattr("tr", buf, sizeof(buf));

	if (OK(n) >= 0) {
		EQ(list_count(buf, n, "trusted.t"), 0);
		EQ(list_count(buf, n, "user.u"), 1);
		EQ(listxattr("tr", NULL, 0), n);
	}
}

static void t_xattr(void)
{
	char buf[256], *list, *big, *back;
	ssize_t n;
	int fd, i;

	PUT("f", "x");
	OK(setxattr("f", "user.a", "v1", 2, 0));
	n = getxattr("f", "user.a", buf, sizeof(buf));
	EQ(n, 2);
	CHECK(n == 2 && memcmp(buf, "v1", 2) == 0);
	EQ(getxattr("f", "user.a", NULL, 0), 2);
	ERR(getxattr("f", "user.a", buf, 1), ERANGE);
	ERR(setxattr("f", "user.a", "x", 1, XATTR_CREATE), EEXIST);
	ERR(setxattr("f", "user.b", "x", 1, XATTR_REPLACE), ENODATA);
	ERR(getxattr("f", "user.b", buf, sizeof(buf)), ENODATA);
	OK(setxattr("f", "user.a", "v22", 3, XATTR_REPLACE));
	n = getxattr("f", "user.a", buf, sizeof(buf));
	CHECK(n == 3 && memcmp(buf, "v22", 3) == 0);
	OK(setxattr("f", "user.b", "", 0, XATTR_CREATE));
	EQ(getxattr("f", "user.b", buf, sizeof(buf)), 0);
	OK(setxattr("f", "user.bin", "a\0b", 3, 0));
	n = getxattr("f", "user.bin", buf, sizeof(buf));
	CHECK(n == 3 && memcmp(buf, "a\0b", 3) == 0);

	n = listxattr("f", NULL, 0);
	CHECK(n >= (ssize_t)sizeof("user.a\0user.b\0user.bin"));
	ERR(listxattr("f", buf, 3), ERANGE);
	n = listxattr("f", buf, sizeof(buf));
	if (OK(n) >= 0) {
		EQ(list_count(buf, n, "user.a"), 1);
		EQ(list_count(buf, n, "user.b"), 1);
		EQ(list_count(buf, n, "user.bin"), 1);
	}

	OK(removexattr("f", "user.a"));
	ERR(getxattr("f", "user.a", buf, sizeof(buf)), ENODATA);
	ERR(removexattr("f", "user.a"), ENODATA);
	n = listxattr("f", buf, sizeof(buf));
	if (OK(n) >= 0)
		EQ(list_count(buf, n, "user.a"), 0);

	/* Through an fd, on a directory, across a rename. */
	fd = OK(open("f", O_RDWR));
	OK(fsetxattr(fd, "user.fd", "1", 1, 0));
	EQ(fgetxattr(fd, "user.fd", buf, sizeof(buf)), 1);
	close(fd);
	OK(mkdir("d", 0755));
	OK(setxattr("d", "user.dir", "dv", 2, 0));
	EQ(getxattr("d", "user.dir", buf, sizeof(buf)), 2);
	OK(rename("f", "g"));
	EQ(getxattr("g", "user.fd", buf, sizeof(buf)), 1);
	OK(symlink("g", "l"));
	ERR(lsetxattr("l", "user.x", "1", 1, 0), EPERM);

	/* trusted.* names are listed to root only, as ext4 does (the
	 * kernel refuses others their values; the names were listed) */
	PUT("tr", "x");
	OK(setxattr("tr", "trusted.t", "1", 1, 0));
	OK(setxattr("tr", "user.u", "1", 1, 0));
	n = listxattr("tr", buf, sizeof(buf));
	if (OK(n) >= 0)
		EQ(list_count(buf, n, "trusted.t"), 1);
	AS(UID_B, UID_B, child_xattr_list);

	/* An access ACL that only restates a mode sets that mode (what
	 * cp -a and rsync -A rely on), or is refused as unsupported. */
	PUT("acl", "x");
	OK(chmod("acl", 0600));
	if (setxattr("acl", "system.posix_acl_access", acl_644,
		     sizeof(acl_644), 0) < 0) {
		if (errno == EOPNOTSUPP)
			g_tally->pass++;
		else
			failf(__LINE__, "setxattr system.posix_acl_access: "
			      "expected success or EOPNOTSUPP, got %s",
			      errname(errno));
	} else {
		EQ(ST("acl").st_mode & 07777, 0644);
	}
	ERR(setxattr("g", "bogus.x", "1", 1, 0), EOPNOTSUPP);
	ERR(getxattr("g", "bogus.x", buf, sizeof(buf)), EOPNOTSUPP);

	/* Many names. */
	for (i = 0; i < 50; i++) {
		snprintf(buf, sizeof(buf), "user.many%02d", i);
		if (setxattr("g", buf, buf, strlen(buf), 0) < 0) {
			failf(__LINE__, "setxattr %s: %s", buf, errname(errno));
			break;
		}
	}
	list = malloc(65536);
	big = malloc(65536);
	back = malloc(65536);
	if (!list || !big || !back) {
		failf(__LINE__, "out of memory");
		goto out;
	}
	n = listxattr("g", list, 65536);
	if (OK(n) >= 0) {
		int found = 0;

		for (i = 0; i < 50; i++) {
			snprintf(buf, sizeof(buf), "user.many%02d", i);
			found += list_count(list, n, buf) == 1;
		}
		EQ(found, 50);
	}

	/* Large values (on a fresh file): 4000 bytes everywhere, 64 KiB
	 * where supported. */
	PUT("h", "x");
	fill((unsigned char *)big, 65536, 0, 5);
	OK(setxattr("h", "user.mid", big, 4000, 0));
	n = getxattr("h", "user.mid", back, 65536);
	CHECK(n == 4000 && memcmp(back, big, 4000) == 0);
	if (setxattr("h", "user.big", big, 65536, 0) < 0) {
		if (g_ext4 && errno == ENOSPC)
			skipf(__LINE__, "ext4 without ea_inode holds no 64 KiB value");
		else
			failf(__LINE__, "setxattr of 64 KiB: %s", errname(errno));
	} else {
		g_tally->pass++;
		EQ(getxattr("h", "user.big", NULL, 0), 65536);
		n = getxattr("h", "user.big", back, 65536);
		CHECK(n == 65536 && memcmp(back, big, 65536) == 0);
		ERR(getxattr("h", "user.big", back, 65535), ERANGE);
	}
out:
	free(list);
	free(big);
	free(back);
}

/* --- fallocate ---------------------------------------------------------------- */

static void t_fallocate(void)
{
	int fd;

	fd = OK(open("f", O_CREAT | O_RDWR | O_TRUNC, 0644));
	OK(fallocate(fd, 0, 0, MiB));
	EQ(FST(fd).st_size, MiB);
	RANGE(fd, 0, MiB, -1);
	OK(fallocate(fd, FALLOC_FL_KEEP_SIZE, MiB, MiB));
	EQ(FST(fd).st_size, MiB);
	OK(fallocate(fd, 0, 0, 4096));
	EQ(FST(fd).st_size, MiB);
	OK(fallocate(fd, 0, MiB, 5000));
	EQ(FST(fd).st_size, MiB + 5000);
	RANGE(fd, 0, MiB + 5000, -1);
	close(fd);

	fd = OK(open("p", O_CREAT | O_RDWR | O_TRUNC, 0644));
	PUTR(fd, 0, 9 * MiB, 11);
	OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, MiB, MiB));
	EQ(FST(fd).st_size, 9 * MiB);
	RANGE(fd, 0, MiB, 11);
	RANGE(fd, MiB, MiB, -1);
	RANGE(fd, 2 * MiB, MiB, 11);
	/* Not aligned to anything. */
	OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 5000, 3000));
	RANGE(fd, 0, 5000, 11);
	RANGE(fd, 5000, 3000, -1);
	RANGE(fd, 8000, 4096, 11);
	/* Across the 4 MiB boundary. */
	OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		     4 * MiB - 1000, 2000));
	RANGE(fd, 3 * MiB, MiB - 1000, 11);
	RANGE(fd, 4 * MiB - 1000, 2000, -1);
	RANGE(fd, 4 * MiB + 1000, MiB, 11);
	/* Past the end: nothing changes. */
	OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 9 * MiB, MiB));
	EQ(FST(fd).st_size, 9 * MiB);
	ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), EOPNOTSUPP);

	OK(fallocate(fd, FALLOC_FL_ZERO_RANGE, 100, 200));
	RANGE(fd, 0, 100, 11);
	RANGE(fd, 100, 200, -1);
	RANGE(fd, 300, 4000, 11);
	OK(fallocate(fd, FALLOC_FL_ZERO_RANGE, 9 * MiB, 4096));
	EQ(FST(fd).st_size, 9 * MiB + 4096);
	RANGE(fd, 8 * MiB, MiB, 11);
	RANGE(fd, 9 * MiB, 4096, -1);
	close(fd);
}

/* --- SEEK_DATA and SEEK_HOLE ------------------------------------------- */

static void t_seek(void)
{
	off_t h, d;
	int fd;

	/* Data [0, 1M), a hole [1M, 17M), data [17M, 18M). */
	fd = OK(open("sparse", O_CREAT | O_RDWR | O_TRUNC, 0644));
	PUTR(fd, 0, MiB, 21);
	PUTR(fd, 17 * MiB, MiB, 21);
	OK(fsync(fd));
	EQ(FST(fd).st_size, 18 * MiB);
	EQ(lseek(fd, 0, SEEK_DATA), 0);
	h = lseek(fd, 0, SEEK_HOLE);
	if (!CHECK(h >= MiB && h <= 16 * MiB))
		printf("  SEEK_HOLE from 0 gave %lld\n", (long long)h);
	d = lseek(fd, 2 * MiB, SEEK_DATA);
	if (!CHECK(d >= 2 * MiB && d <= 17 * MiB))
		printf("  SEEK_DATA from 2M gave %lld\n", (long long)d);
	d = lseek(fd, 8 * MiB, SEEK_DATA);
	if (!CHECK(d >= 8 * MiB && d <= 17 * MiB))
		printf("  SEEK_DATA from 8M gave %lld\n", (long long)d);
	EQ(lseek(fd, 17 * MiB + 5, SEEK_DATA), 17 * MiB + 5);
	EQ(lseek(fd, 17 * MiB + MiB / 2, SEEK_HOLE), 18 * MiB);
	ERR(lseek(fd, 18 * MiB, SEEK_DATA), ENXIO);
	ERR(lseek(fd, 19 * MiB, SEEK_DATA), ENXIO);
	ERR(lseek(fd, 18 * MiB, SEEK_HOLE), ENXIO);
	RANGE(fd, 0, MiB, 21);
	RANGE(fd, MiB, 16 * MiB, -1);
	RANGE(fd, 17 * MiB, MiB, 21);
	close(fd);

	/* One byte at the end of each of four 4 MiB ranges: st_blocks
	 * counts what is allocated, not the ranges (it counted 16 MiB: cp
	 * and tar -S took the file for one without holes, du for full) */
	fd = OK(open("sp", O_CREAT | O_RDWR | O_TRUNC, 0644));
	for (int k = 1; k <= 4; k++)
		EQ(pwrite(fd, "x", 1, (off_t)k * 4 * MiB - 1), 1);
	OK(fsync(fd));
	if (!CHECK(FST(fd).st_blocks <= 4 * 64 * 2))
		printf("  st_blocks of 4 bytes in 16 MiB: %lld\n",
		       (long long)FST(fd).st_blocks);
	close(fd);

	fd = OK(open("dense", O_CREAT | O_RDWR | O_TRUNC, 0644));
	PUTR(fd, 0, 100, 1);
	EQ(lseek(fd, 0, SEEK_HOLE), 100);
	EQ(lseek(fd, 50, SEEK_DATA), 50);
	OK(ftruncate(fd, 0));
	ERR(lseek(fd, 0, SEEK_DATA), ENXIO);
	ERR(lseek(fd, 0, SEEK_HOLE), ENXIO);
	close(fd);
}

/* --- fsync and friends ------------------------------------------------------ */

static void t_sync(void)
{
	int fd, dfd;

	fd = OK(open("f", O_CREAT | O_RDWR, 0644));
	PUTR(fd, 0, 100000, 2);
	OK(fsync(fd));
	PUTR(fd, 100000, 100000, 2);
	OK(fdatasync(fd));
	OK(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE));
	OK(syncfs(fd));
	close(fd);
	fd = OK(open("f", O_RDONLY));
	OK(fsync(fd));
	RANGE(fd, 0, 200000, 2);
	close(fd);
	dfd = OK(open(".", O_RDONLY | O_DIRECTORY));
	OK(fsync(dfd));
	close(dfd);
}

/* --- a 20 MiB file in odd pieces ---------------------------------------- */

static void t_bigfile(void)
{
	static const size_t wsz[] = { 1, 7, 511, 4096, 65536, 131079,
				      MiB + 3, 4 * MiB + 1 };
	static const size_t rsz[] = { 4095, 3 * MiB + 1, 1, 65536, 4 * MiB };
	const size_t total = 20 * MiB;
	unsigned char *want = malloc(total), *got = malloc(total);
	size_t off, i;
	struct stat st;
	long diff;
	int fd, rc;

	if (!want || !got) {
		failf(__LINE__, "out of memory");
		goto out;
	}
	fill(want, total, 0, 9);
	fd = OK(open("big", O_CREAT | O_WRONLY | O_TRUNC, 0644));
	for (off = 0, i = 0; off < total; i++) {
		size_t n = wsz[i % (sizeof(wsz) / sizeof(wsz[0]))];

		if (n > total - off)
			n = total - off;
		rc = write_all(fd, want + off, n);
		if (rc < 0) {
			failf(__LINE__, "write %zu at %zu: %s", n, off, errname(-rc));
			break;
		}
		off += n;
	}
	close(fd);
	st = ST("big");
	EQ(st.st_size, total);
	CHECK(st.st_blocks > 0);
	CHECK(st.st_blksize > 0);

	fd = OK(open("big", O_RDONLY));
	for (off = 0, i = 0; off < total; i++) {
		size_t n = rsz[i % (sizeof(rsz) / sizeof(rsz[0]))];
		ssize_t r;

		if (n > total - off)
			n = total - off;
		r = read(fd, got + off, n);
		if (r <= 0) {
			failf(__LINE__, "read %zu at %zu: %s", n, off,
			      r < 0 ? errname(errno) : "end of file");
			break;
		}
		off += (size_t)r;
	}
	EQ(read(fd, got, 1), 0);
	close(fd);
	diff = first_diff(got, want, total);
	if (diff >= 0)
		failf(__LINE__, "20 MiB file differs at offset %ld", diff);
	else
		g_tally->pass++;

	/* Overwrites across extent boundaries. */
	fd = OK(open("big", O_RDWR));
	fill(want + 4 * MiB - 100, 200, 4 * MiB - 100, 10);
	OK(pwrite_all(fd, want + 4 * MiB - 100, 200, 4 * MiB - 100));
	fill(want + 8 * MiB - 1, 2, 8 * MiB - 1, 10);
	OK(pwrite_all(fd, want + 8 * MiB - 1, 2, 8 * MiB - 1));
	fill(want + 12 * MiB, 4 * MiB + 1, 12 * MiB, 10);
	OK(pwrite_all(fd, want + 12 * MiB, 4 * MiB + 1, 12 * MiB));
	close(fd);
	fd = OK(open("big", O_RDONLY));
	EQ(pread_all(fd, got, total, 0), total);
	diff = first_diff(got, want, total);
	if (diff >= 0)
		failf(__LINE__, "after overwrites the file differs at offset %ld",
		      diff);
	else
		g_tally->pass++;
	EQ(pread(fd, got, 100, total - 10), 10);
	EQ(pread(fd, got, 100, total), 0);
	close(fd);

	/* A write past the end leaves zeros behind. */
	fd = OK(open("big", O_RDWR));
	EQ(pwrite(fd, "z", 1, 25 * MiB), 1);
	EQ(FST(fd).st_size, 25 * MiB + 1);
	RANGE(fd, total, 5 * MiB, -1);
	close(fd);
out:
	free(want);
	free(got);
}

/* --- mmap ---------------------------------------------------------------- */

static void t_mmap(void)
{
	const size_t n = 256 * KiB;
	unsigned char *p;
	int fd;

	fd = OK(open("m", O_CREAT | O_RDWR | O_TRUNC, 0644));
	OK(ftruncate(fd, (off_t)n));
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		failf(__LINE__, "mmap shared: %s", errname(errno));
		close(fd);
		return;
	}
	fill(p, n, 0, 4);
	OK(msync(p, n, MS_SYNC));
	munmap(p, n);
	close(fd);
	fd = OK(open("m", O_RDONLY));
	RANGE(fd, 0, n, 4);
	close(fd);

	fd = OK(open("m", O_RDWR));
	PUTR(fd, 4096, 4096, 6);
	p = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		failf(__LINE__, "mmap read: %s", errname(errno));
	} else {
		unsigned char want[4096];

		fill(want, sizeof(want), 4096, 6);
		CHECK(memcmp(p + 4096, want, sizeof(want)) == 0);
		munmap(p, n);
	}
	close(fd);

	/* A file opened O_DIRECT maps shared as well (review: ENODEV, as
	 * the open asked the kernel for direct I/O only). */
	fd = open("m", O_RDWR | O_DIRECT);
	if (fd < 0) {
		failf(__LINE__, "open O_DIRECT: %s", errname(errno));
		return;
	}
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		failf(__LINE__, "mmap shared of an O_DIRECT file: %s",
		      errname(errno));
	} else {
		unsigned char want[4096];

		fill(want, sizeof(want), 4096, 6);
		CHECK(memcmp(p + 4096, want, sizeof(want)) == 0);
		munmap(p, n);
	}
	close(fd);
}

/* --- driver ----------------------------------------------------------------- */

struct check_group {
	const char *name;       /* also the name of its directory */
	void (*fn)(void);       /* the checks */
	int need_root;          /* skipped unless root */
};

static const struct check_group groups[] = {
	{ "open_flags", t_open_flags, 0 },
	{ "errnos", t_errnos, 0 },
	{ "names", t_names, 0 },
	{ "dirs", t_dirs, 0 },
	{ "links", t_links, 0 },
	{ "unlink_open", t_unlink_open, 0 },
	{ "symlinks", t_symlinks, 0 },
	{ "rename", t_rename, 0 },
	{ "rename2", t_rename2, 0 },
	{ "attrs", t_attrs, 0 },
	{ "utimens", t_utimens, 0 },
	{ "ctime", t_ctime, 0 },
	{ "setgid", t_setgid, 1 },
	{ "sticky", t_sticky, 1 },
	{ "perms", t_perms, 1 },
	{ "mknod", t_mknod, 0 },
	{ "statfs", t_statfs, 0 },
	{ "readdir", t_readdir, 0 },
	{ "xattr", t_xattr, 0 },
	{ "fallocate", t_fallocate, 0 },
	{ "seek", t_seek, 0 },
	{ "sync", t_sync, 0 },
	{ "bigfile", t_bigfile, 0 },
	{ "mmap", t_mmap, 0 },
};

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	if (remove(path) < 0) {
		printf("FAIL cleanup: remove %s: %s\n", path, errname(errno));
		g_tally->fail++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	char work[64];
	struct statfs sf;
	size_t i;
	int opt;

	while ((opt = getopt(argc, argv, "vg:")) != -1) {
		switch (opt) {
		case 'v':
			g_verbose = 1;
			break;
		case 'g':
			only = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;

	g_tally = mmap(NULL, sizeof(*g_tally), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g_tally == MAP_FAILED) {
		perror("posix: mmap");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	g_root = geteuid() == 0;
	if (mkdir(argv[optind], 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "posix: mkdir %s: %s\n", argv[optind],
			strerror(errno));
		return 2;
	}
	if (chdir(argv[optind]) < 0) {
		fprintf(stderr, "posix: chdir %s: %s\n", argv[optind],
			strerror(errno));
		return 2;
	}
	if (statfs(".", &sf) == 0 && sf.f_type == EXT4_MAGIC)
		g_ext4 = 1;
	snprintf(work, sizeof(work), "posix.%d", (int)getpid());
	if (mkdir(work, 0755) < 0 || chdir(work) < 0) {
		fprintf(stderr, "posix: %s/%s: %s\n", argv[optind], work,
			strerror(errno));
		return 2;
	}

	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		const struct check_group *g = &groups[i];

		if (only && !strstr(g->name, only))
			continue;
		g_group = g->name;
		if (g->need_root && !g_root) {
			skipf(0, "needs root");
			continue;
		}
		if (g_verbose)
			printf("group %s\n", g->name);
		/* 0777: children with other uids create files here. */
		if (mkdir(g->name, 0777) < 0 || chmod(g->name, 0777) < 0 ||
		    chdir(g->name) < 0) {
			failf(0, "cannot set up directory %s: %s", g->name,
			      errname(errno));
			continue;
		}
		g->fn();
		if (chdir("..") < 0) {
			failf(0, "chdir ..: %s", errname(errno));
			return 2;
		}
	}

	g_group = "cleanup";
	if (chdir("..") < 0 ||
	    nftw(work, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		failf(0, "cannot remove %s: %s", work, errname(errno));
	else if (access(work, F_OK) == 0)
		failf(0, "%s still exists after removal", work);

	printf("posix: %d checks held, %d failed, %d skipped%s\n",
	       g_tally->pass, g_tally->fail, g_tally->skip,
	       g_ext4 ? " (on ext4)" : "");
	return g_tally->fail ? 1 : 0;

usage:
	fprintf(stderr, "usage: posix [-v] [-g GROUP] DIR\n");
	return 2;
}
