/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Checksums of extent content: XXH3-128 (default, 16 bytes) or SHA-256
 * (32 bytes), computed in one pass over data fed in pieces. */
#ifndef DF_CSUM_H
#define DF_CSUM_H

#include <stddef.h>
#include <stdint.h>

#define CSUM_MAX 32                    /* bytes of the largest digest */

struct csum_ctx {
	int sha256;                    /* 1: SHA-256, 0: XXH3-128 */
	void *state;                   /* XXH3_state_t or EVP_MD_CTX */
};

/* Starts a checksum. Returns 0 or -ENOMEM. */
int csum_init(struct csum_ctx *c, int sha256);
void csum_update(struct csum_ctx *c, const void *data, size_t n);
/* Writes the digest into out (CSUM_MAX bytes, zero-padded) and frees the
 * state. Returns the digest length. */
size_t csum_final(struct csum_ctx *c, uint8_t out[CSUM_MAX]);
/* Frees the state without a digest (error paths). */
void csum_abort(struct csum_ctx *c);

#endif
