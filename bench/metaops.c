// SPDX-License-Identifier: GPL-2.0-or-later
// Metadata micro-benchmark for bench/run: times create, stat, readdir and
// unlink of COUNT empty files in one directory, phase by phase as named on
// the command line, and prints "PHASE OPS_PER_SECOND" for each.

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A phase applied to every file index in turn. */
struct metaops_phase {
	const char *name;			/* phase name on the command line */
	int (*op)(int dir_fd, long index);	/* 0 or -errno */
};

static void metaops_name(char *buf, size_t len, long index)
{
	snprintf(buf, len, "f%07ld", index);
}

static int metaops_create(int dir_fd, long index)
{
	char name[32];
	int fd;

	metaops_name(name, sizeof(name), index);
	fd = openat(dir_fd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (close(fd) < 0)
		return -errno;
	return 0;
}

static int metaops_stat(int dir_fd, long index)
{
	char name[32];
	struct stat st;

	metaops_name(name, sizeof(name), index);
	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size != 0)
		return -EUCLEAN;
	return 0;
}

static int metaops_unlink(int dir_fd, long index)
{
	char name[32];

	metaops_name(name, sizeof(name), index);
	if (unlinkat(dir_fd, name, 0) < 0)
		return -errno;
	return 0;
}

static double metaops_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Lists the directory once; returns the number of entries named like ours
 * or -errno. */
static long metaops_readdir(const char *dir)
{
	struct dirent *de;
	long count = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return -errno;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == 'f')
			count++;
		errno = 0;
	}
	if (errno) {
		count = -errno;
		goto out;
	}
out:
	closedir(d);
	return count;
}

/* Runs one named phase over files 0..count-1; returns 0 or 1 on failure. */
static int metaops_run(const char *dir, int dir_fd, const char *phase, long count)
{
	static const struct metaops_phase phases[] = {
		{ "create", metaops_create },
		{ "stat", metaops_stat },
		{ "unlink", metaops_unlink },
	};
	double start, secs;
	long i, seen;
	size_t p;
	int err;

	start = metaops_now();
	if (strcmp(phase, "readdir") == 0) {
		seen = metaops_readdir(dir);
		if (seen != count) {
			fprintf(stderr, "metaops: readdir %s: %ld entries (%s), expected %ld\n",
				dir, seen, seen < 0 ? strerror((int)-seen) : "ok", count);
			return 1;
		}
		goto done;
	}
	for (p = 0; p < sizeof(phases) / sizeof(phases[0]); p++)
		if (strcmp(phase, phases[p].name) == 0)
			break;
	if (p == sizeof(phases) / sizeof(phases[0])) {
		fprintf(stderr, "metaops: unknown phase '%s'\n", phase);
		return 1;
	}
	for (i = 0; i < count; i++) {
		err = phases[p].op(dir_fd, i);
		if (err) {
			fprintf(stderr, "metaops: %s of file %ld in %s: %s\n",
				phase, i, dir, strerror(-err));
			return 1;
		}
	}
done:
	secs = metaops_now() - start;
	/* readdir counts one op per entry listed */
	printf("%s %.1f\n", phase, (double)count / secs);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir;
	long count;
	int dir_fd, i, rc = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: %s DIR COUNT PHASE...\n"
			"phases: create stat readdir unlink\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	count = strtol(argv[2], NULL, 10);
	if (count <= 0 || count > 9999999) {
		fprintf(stderr, "metaops: bad count '%s'\n", argv[2]);
		return 2;
	}
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0) {
		fprintf(stderr, "metaops: open %s: %s\n", dir, strerror(errno));
		return 1;
	}
	for (i = 3; i < argc && rc == 0; i++)
		rc = metaops_run(dir, dir_fd, argv[i], count);
	close(dir_fd);
	return rc;
}
