// SPDX-License-Identifier: GPL-2.0-or-later
/* Small I/O helpers shared by the daemon and the tools. */
#include "common/io.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

int io_send_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

bool io_all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	return n == 0 || (c[0] == 0 && memcmp(c, c + 1, n - 1) == 0);
}
