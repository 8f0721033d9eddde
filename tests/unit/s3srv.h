/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The S3 server of the unit tests that need one: tests/s3server (s3rver
 * on 127.0.0.1) in a fresh directory. Run from the top of the tree. */
#ifndef DF_TEST_S3SRV_H
#define DF_TEST_S3SRV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* tests/s3server VERB DIR [PORT]: "start" (on PORT when > 0, else a free
 * port it writes to DIR/port) or "stop". 0 or -1. */
static int s3srv_run(const char *verb, const char *dir, int port)
{
	char cmd[256];

	if (strcmp(verb, "start") == 0 && port > 0)
		snprintf(cmd, sizeof(cmd), "tests/s3server start %s %d >/dev/null",
			 dir, port);
	else
		snprintf(cmd, sizeof(cmd), "tests/s3server %s %s >/dev/null", verb,
			 dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Makes a directory from tmpl (mkdtemp) into dir, starts the server
 * there and reads its port. `who` names the test in messages. 0 or -1. */
static int s3srv_start(const char *who, const char *tmpl, char *dir,
		       size_t dirlen, int *port)
{
	char path[4096];
	FILE *f;

	if (access("tests/s3server", X_OK) != 0) {
		fprintf(stderr, "%s: run from the top of the tree (tests/s3server)\n",
			who);
		return -1;
	}
	if (strlen(tmpl) >= dirlen)
		return -1;
	strcpy(dir, tmpl);
	if (!mkdtemp(dir))
		return -1;
	if (s3srv_run("start", dir, 0) < 0) {
		fprintf(stderr, "%s: cannot start s3rver (npm ci --no-audit --no-fund?)\n",
			who);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/port", dir);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%d", port) != 1) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* s3srv_start, and a credentials file DIR/creds (mode 0600) with the
 * server's keys. 0 or -1. */
static inline int s3srv_start_creds(const char *who, const char *tmpl,
				    char *dir, size_t dirlen, int *port)
{
	char path[4096];
	FILE *f;

	if (s3srv_start(who, tmpl, dir, dirlen, port) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/creds", dir);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs("access_key = S3RVER\nsecret_key = S3RVER\n", f);
	if (fclose(f) != 0 || chmod(path, 0600) < 0)
		return -1;
	return 0;
}

#endif
