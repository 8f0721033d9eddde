// SPDX-License-Identifier: GPL-2.0-or-later
/* Text for JSON (see utf8.h). */
#include "common/utf8.h"

#include <stdint.h>

/* Length of the well-formed UTF-8 sequence at p (at most `left` bytes),
 * or 0: overlong forms, surrogates and code points past U+10FFFF are not
 * well-formed (RFC 3629). */
static size_t seq_len(const unsigned char *p, size_t left)
{
	uint32_t c;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2, c = p[0] & 0x1F;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3, c = p[0] & 0x0F;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4, c = p[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3F);
	}
	if ((n == 3 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) ||
	    (n == 4 && (c < 0x10000 || c > 0x10FFFF)))
		return 0;
	return n;
}

size_t utf8_copy(char *dst, size_t cap, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t in = 0, out = 0, left = 0, n;

	while (s[left])
		left++;
	while (in < left) {
		n = seq_len(s + in, left - in);
		if (n == 0) {
			if (out + 1 >= cap)
				break;
			dst[out++] = '?';
			in++;
			continue;
		}
		if (out + n >= cap)
			break;
		for (size_t i = 0; i < n; i++)
			dst[out++] = (char)s[in + i];
		in += n;
	}
	dst[out] = '\0';
	return in;
}
