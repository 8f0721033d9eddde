/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Text for JSON: names and arguments are bytes, JSON strings are UTF-8. */
#ifndef DF_UTF8_H
#define DF_UTF8_H

#include <stddef.h>

/* Copies src into dst (cap bytes, cap >= 1, NUL-terminated): each byte
 * that does not belong to a well-formed UTF-8 sequence becomes '?', and a
 * sequence that does not fit whole is left out. Returns the bytes of src
 * copied or replaced (less than strlen(src) when cut). */
size_t utf8_copy(char *dst, size_t cap, const char *src);

#endif
