/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The control socket: a unix stream socket (mode 0600) on which the daemon
 * answers dfabric-ctl. Protocol: the client sends one JSON object on one
 * line, {"cmd": "NAME", ...arguments}, and reads one JSON object on one
 * line back: {"ok": true, ...} or {"ok": false, "errno": N, "error": "..."}.
 * Requests are bounded (64 KiB); a malformed one gets an error reply and
 * never harms the daemon. One thread accepts; each client is answered on
 * a thread of its own (at most 8 at once), and has 2 s to send its
 * request and 2 s to read the reply. */
#ifndef DF_CTL_H
#define DF_CTL_H

#include <stddef.h>
#include <stdint.h>

struct fabric;
struct ctl_server;

/* Binds `path` (replacing a stale socket, refusing a live one or a
 * non-socket file) and starts the server thread. 0 or -errno with err. */
int ctl_start(const char *path, struct fabric *f, uint64_t mnt_dev,
	      struct ctl_server **out, char *err, size_t errlen);
/* Stops the thread, unlinks the socket. NULL is fine. */
void ctl_stop(struct ctl_server *s);

/* Answers one request line (without the newline) for fabric f, mounted
 * on device mnt_dev (0: unknown). A request may carry "dev", the device
 * of the file it names (st_dev): one of another mount is refused (EXDEV).
 * Returns a malloc'd NUL-terminated JSON line without newline; caller
 * frees. Used by the server and by the tests. */
char *ctl_handle(struct fabric *f, uint64_t mnt_dev, const char *request);

#endif
