// SPDX-License-Identifier: GPL-2.0-or-later
/* The logger: stderr with a timestamp and level, or syslog. */
#include "common/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static int g_level = LOG_INFO;   /* written once at start, read racily */
static int g_syslog;             /* nonzero once log_use_syslog() ran */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER; /* one line at a time */

void log_set_level(int level) { g_level = level; }
int log_get_level(void) { return g_level; }

void log_use_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	g_syslog = 1;
}

static const char *level_name(int level)
{
	static const char *names[] = { "emerg", "alert", "crit", "error",
				       "warning", "notice", "info", "debug" };
	return (level >= 0 && level <= LOG_DEBUG) ? names[level] : "?";
}

void df_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > g_level)
		return;
	va_start(ap, fmt);
	if (g_syslog) {
		vsyslog(level, fmt, ap);
	} else {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
		pthread_mutex_lock(&g_lock);
		fprintf(stderr, "dfabric %s.%03ld %s: ", stamp, ts.tv_nsec / 1000000,
			level_name(level));
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		pthread_mutex_unlock(&g_lock);
	}
	va_end(ap);
}
