// SPDX-License-Identifier: GPL-2.0-or-later
// writesync: writes files with a deterministic pattern and reports each one
// once it is durable, and checks files after a crash, for the durability
// tests.
//
//   writesync write DIR SEED COUNT MAXSIZE
//       Creates DIR/wSEED_NNNN for NNNN = 0..COUNT-1, each of a random size
//       up to MAXSIZE, written in random-sized chunks; fsyncs the file and
//       DIR, then prints "synced NAME SIZE" (flushed) before the next file.
//   writesync verify DIR SEED LOG
//       Every "synced NAME SIZE" line of LOG names a file DIR/NAME that
//       must be exactly SIZE bytes of the pattern of SEED.
//   writesync stream FILE SEED TOTAL
//       Opens FILE (created if missing, not truncated) and writes the
//       pattern of SEED over [0, TOTAL) in chunks, without fsync; prints
//       "wrote OFF" after each megabyte.
//   writesync check FILE SEED TOTAL [OLDSEED OLDSIZE]
//       After a crash during "stream": the size is at most
//       max(TOTAL, OLDSIZE) and at least OLDSIZE; every byte below OLDSIZE
//       is the old or the new pattern; every byte above is the new pattern
//       or zero.
//   writesync fsync PATH...
//       fsyncs each path (files or directories).
//
// The pattern depends on the seed, the file's base name and the offset, and
// never holds a zero byte, so a zero always means "not written". Exit 0 on
// success, 1 on a failed check or an I/O error, 2 on a usage error.

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WS_BUF     (1024 * 1024)   /* I/O buffer */
#define WS_REPORT  (1024 * 1024)   /* stream progress step */
#define WS_MAX_REPORTS 5           /* bad files described by verify */

static uint64_t ws_mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Key of a file: FNV-1a of its base name, mixed with the seed. */
static uint64_t ws_key(uint64_t seed, const char *path)
{
	const char *base = strrchr(path, '/');
	uint64_t h = 0xcbf29ce484222325ULL;

	for (base = base ? base + 1 : path; *base; base++)
		h = (h ^ (unsigned char)*base) * 0x100000001b3ULL;
	return ws_mix(h ^ ws_mix(seed));
}

/* The pattern byte at offset off: never zero. */
static unsigned char ws_byte(uint64_t key, uint64_t off)
{
	unsigned char b = (unsigned char)(ws_mix(key + (off >> 3)) >>
					  ((off & 7) * 8));

	return b ? b : 0x5a;
}

static void ws_pattern(uint64_t key, uint64_t off, unsigned char *buf,
		       size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = ws_byte(key, off + i);
}

static int ws_write_full(int fd, const unsigned char *buf, size_t len,
			 uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, buf + done, len - done,
				   (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

static ssize_t ws_read_full(int fd, unsigned char *buf, size_t len,
			    uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int ws_cmd_write(const char *dir, uint64_t seed, uint64_t count,
			uint64_t maxsize)
{
	static unsigned char buf[WS_BUF];
	uint64_t rng = seed;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);

	if (dfd < 0) {
		fprintf(stderr, "writesync: open %s: %s\n", dir,
			strerror(errno));
		return 1;
	}
	for (uint64_t i = 0; i < count; i++) {
		char path[4096], name[64];
		uint64_t size, off = 0, key;
		int fd, rc;

		rng = ws_mix(rng);
		size = rng % 5 == 0 ? ws_mix(rng ^ 1) % (maxsize + 1) :
		       ws_mix(rng ^ 1) % ((maxsize < 262144 ? maxsize :
					   262144) + 1);
		snprintf(name, sizeof(name), "w%" PRIu64 "_%04" PRIu64, seed,
			 i);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		key = ws_key(seed, name);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			fprintf(stderr, "writesync: create %s: %s\n", path,
				strerror(errno));
			return 1;
		}
		while (off < size) {
			size_t len;

			rng = ws_mix(rng);
			len = 1 + rng % WS_BUF;
			if (len > size - off)
				len = size - off;
			ws_pattern(key, off, buf, len);
			rc = ws_write_full(fd, buf, len, off);
			if (rc < 0) {
				fprintf(stderr, "writesync: write %s at %"
					PRIu64 ": %s\n", path, off,
					strerror(-rc));
				return 1;
			}
			off += len;
		}
		if (fsync(fd) < 0 || fsync(dfd) < 0) {
			fprintf(stderr, "writesync: fsync %s: %s\n", path,
				strerror(errno));
			return 1;
		}
		if (close(fd) < 0) {
			fprintf(stderr, "writesync: close %s: %s\n", path,
				strerror(errno));
			return 1;
		}
		printf("synced %s %" PRIu64 "\n", name, size);
		fflush(stdout);
	}
	close(dfd);
	return 0;
}

/* Checks that path holds exactly size bytes of the pattern of seed. */
static int ws_verify_one(const char *path, uint64_t seed, uint64_t size)
{
	static unsigned char got[WS_BUF], want[WS_BUF];
	uint64_t key = ws_key(seed, path), off = 0;
	struct stat st;
	int fd = open(path, O_RDONLY), ret = 1;

	if (fd < 0) {
		fprintf(stderr, "writesync: %s was synced but cannot be opened:"
			" %s\n", path, strerror(errno));
		return 1;
	}
	if (fstat(fd, &st) < 0) {
		fprintf(stderr, "writesync: fstat %s: %s\n", path,
			strerror(errno));
		goto out;
	}
	if ((uint64_t)st.st_size != size) {
		fprintf(stderr, "writesync: %s: size %jd, synced size %" PRIu64
			"\n", path, (intmax_t)st.st_size, size);
		goto out;
	}
	while (off < size) {
		size_t len = size - off < WS_BUF ? size - off : WS_BUF;
		ssize_t n = ws_read_full(fd, got, len, off);

		if (n < 0 || (size_t)n != len) {
			fprintf(stderr, "writesync: %s: read at %" PRIu64
				": %s\n", path, off,
				n < 0 ? strerror((int)-n) : "short read");
			goto out;
		}
		ws_pattern(key, off, want, len);
		if (memcmp(got, want, len)) {
			size_t i = 0;

			while (got[i] == want[i])
				i++;
			fprintf(stderr, "writesync: %s: wrong data at offset %"
				PRIu64 ": 0x%02x, expected 0x%02x\n", path,
				off + i, got[i], want[i]);
			goto out;
		}
		off += len;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

static int ws_cmd_verify(const char *dir, uint64_t seed, const char *logpath)
{
	FILE *log = fopen(logpath, "r");
	char line[512];
	int bad = 0, n = 0;

	if (!log) {
		fprintf(stderr, "writesync: open %s: %s\n", logpath,
			strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), log)) {
		char name[256], path[4096];
		uint64_t size;

		if (sscanf(line, "synced %255s %" SCNu64, name, &size) != 2)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (bad >= WS_MAX_REPORTS) {
			/* count, but keep the report short */
			int saved = dup(2), null = open("/dev/null", O_WRONLY);

			dup2(null, 2);
			bad += ws_verify_one(path, seed, size);
			dup2(saved, 2);
			close(saved);
			close(null);
		} else {
			bad += ws_verify_one(path, seed, size);
		}
		n++;
	}
	fclose(log);
	fprintf(bad ? stderr : stdout, "writesync: %d synced files checked "
		"in %s, %d bad\n", n, dir, bad);
	return bad ? 1 : 0;
}

static int ws_cmd_stream(const char *path, uint64_t seed, uint64_t total)
{
	static unsigned char buf[WS_BUF];
	uint64_t key = ws_key(seed, path), off = 0, rng = seed, reported = 0;
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	if (fd < 0) {
		fprintf(stderr, "writesync: open %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	while (off < total) {
		size_t len;
		int rc;

		rng = ws_mix(rng);
		len = 4096 + rng % (256 * 1024);
		if (len > total - off)
			len = total - off;
		ws_pattern(key, off, buf, len);
		rc = ws_write_full(fd, buf, len, off);
		if (rc < 0) {
			fprintf(stderr, "writesync: write %s at %" PRIu64
				": %s\n", path, off, strerror(-rc));
			return 1;
		}
		off += len;
		if (off - reported >= WS_REPORT || off == total) {
			printf("wrote %" PRIu64 "\n", off);
			fflush(stdout);
			reported = off;
		}
	}
	close(fd);
	return 0;
}

static int ws_cmd_check(const char *path, uint64_t seed, uint64_t total,
			uint64_t oldseed, uint64_t oldsize)
{
	static unsigned char got[WS_BUF];
	uint64_t key = ws_key(seed, path), oldkey = ws_key(oldseed, path);
	uint64_t off = 0, nnew = 0, nold = 0, nzero = 0, size;
	struct stat st;
	int fd = open(path, O_RDONLY), ret = 1;

	if (fd < 0) {
		if (errno == ENOENT && oldsize == 0) {
			printf("writesync: %s does not exist (its creation was "
			       "not durable)\n", path);
			return 0;
		}
		fprintf(stderr, "writesync: open %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	if (fstat(fd, &st) < 0) {
		fprintf(stderr, "writesync: fstat %s: %s\n", path,
			strerror(errno));
		goto out;
	}
	size = (uint64_t)st.st_size;
	if (size > (total > oldsize ? total : oldsize) || size < oldsize) {
		fprintf(stderr, "writesync: %s: size %" PRIu64 " outside [%"
			PRIu64 ", %" PRIu64 "]\n", path, size, oldsize,
			total > oldsize ? total : oldsize);
		goto out;
	}
	while (off < size) {
		size_t len = size - off < WS_BUF ? size - off : WS_BUF;
		ssize_t n = ws_read_full(fd, got, len, off);

		if (n < 0 || (size_t)n != len) {
			fprintf(stderr, "writesync: %s: read at %" PRIu64
				": %s\n", path, off,
				n < 0 ? strerror((int)-n) : "short read");
			goto out;
		}
		for (size_t i = 0; i < len; i++) {
			uint64_t o = off + i;
			unsigned char b = got[i];

			if (b == ws_byte(key, o)) {
				nnew++;
			} else if (o < oldsize && b == ws_byte(oldkey, o)) {
				nold++;
			} else if (o >= oldsize && b == 0) {
				nzero++;
			} else {
				fprintf(stderr, "writesync: %s: garbage 0x%02x"
					" at offset %" PRIu64 " (new 0x%02x%s)"
					"\n", path, b, o, ws_byte(key, o),
					o < oldsize ? ", below the synced old "
					"size" : "");
				goto out;
			}
		}
		off += len;
	}
	printf("writesync: %s: size %" PRIu64 ", %" PRIu64 " new, %" PRIu64
	       " old, %" PRIu64 " zero bytes\n", path, size, nnew, nold, nzero);
	ret = 0;
out:
	close(fd);
	return ret;
}

static int ws_cmd_fsync(int n, char **paths)
{
	int bad = 0;

	for (int i = 0; i < n; i++) {
		int fd = open(paths[i], O_RDONLY);

		if (fd < 0 || fsync(fd) < 0) {
			fprintf(stderr, "writesync: fsync %s: %s\n", paths[i],
				strerror(errno));
			bad = 1;
		}
		if (fd >= 0)
			close(fd);
	}
	return bad;
}

static uint64_t ws_num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end) {
		fprintf(stderr, "writesync: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "write") && argc == 6)
		return ws_cmd_write(argv[2], ws_num(argv[3]), ws_num(argv[4]),
				    ws_num(argv[5]));
	if (!strcmp(cmd, "verify") && argc == 5)
		return ws_cmd_verify(argv[2], ws_num(argv[3]), argv[4]);
	if (!strcmp(cmd, "stream") && argc == 5)
		return ws_cmd_stream(argv[2], ws_num(argv[3]), ws_num(argv[4]));
	if (!strcmp(cmd, "check") && (argc == 5 || argc == 7))
		return ws_cmd_check(argv[2], ws_num(argv[3]), ws_num(argv[4]),
				    argc == 7 ? ws_num(argv[5]) : 0,
				    argc == 7 ? ws_num(argv[6]) : 0);
	if (!strcmp(cmd, "fsync") && argc >= 3)
		return ws_cmd_fsync(argc - 2, argv + 2);
	fprintf(stderr, "usage: writesync write DIR SEED COUNT MAXSIZE\n"
		"       writesync verify DIR SEED LOG\n"
		"       writesync stream FILE SEED TOTAL\n"
		"       writesync check FILE SEED TOTAL [OLDSEED OLDSIZE]\n"
		"       writesync fsync PATH...\n");
	return 2;
}
