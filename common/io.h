/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small I/O helpers shared by the daemon and the tools. */
#ifndef DF_IO_H
#define DF_IO_H

#include <stdbool.h>
#include <stddef.h>

/* Sends all len bytes of buf on socket fd (MSG_NOSIGNAL), retrying on
 * EINTR; the socket's send timeout bounds the wait. Returns 0 or -errno. */
int io_send_all(int fd, const char *buf, size_t len);

/* Whether the n bytes at p are all zero (a block a copy may leave a
 * hole). */
bool io_all_zero(const void *p, size_t n);

#endif
