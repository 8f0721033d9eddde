/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One logger for every part of dfabric: syslog levels, printf format.
 * Writes to stderr until log_use_syslog() is called (the daemon calls it
 * when it runs in the background). Thread-safe. */
#ifndef DF_LOG_H
#define DF_LOG_H

#include <syslog.h>

/* Messages above `level` (LOG_ERR..LOG_DEBUG) are dropped. Default LOG_INFO. */
void log_set_level(int level);
int log_get_level(void);
/* Send messages to syslog with `ident` instead of stderr. */
void log_use_syslog(const char *ident);

void df_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   df_log(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  df_log(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) df_log(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)  df_log(LOG_INFO, __VA_ARGS__)
#define log_debug(...) df_log(LOG_DEBUG, __VA_ARGS__)

#endif
