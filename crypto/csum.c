// SPDX-License-Identifier: GPL-2.0-or-later
/* Extent checksums on xxhash's streaming XXH3-128 and OpenSSL's SHA-256. */
#include "crypto/csum.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <xxhash.h>

int csum_init(struct csum_ctx *c, int sha256)
{
	c->sha256 = sha256;
	if (sha256) {
		EVP_MD_CTX *x = EVP_MD_CTX_new();

		if (!x || EVP_DigestInit_ex(x, EVP_sha256(), NULL) != 1) {
			EVP_MD_CTX_free(x);
			c->state = NULL;
			return -ENOMEM;
		}
		c->state = x;
		return 0;
	}
	c->state = XXH3_createState();
	if (!c->state)
		return -ENOMEM;
	XXH3_128bits_reset(c->state);
	return 0;
}

void csum_update(struct csum_ctx *c, const void *data, size_t n)
{
	if (c->sha256)
		EVP_DigestUpdate(c->state, data, n);
	else
		XXH3_128bits_update(c->state, data, n);
}

size_t csum_final(struct csum_ctx *c, uint8_t out[CSUM_MAX])
{
	size_t n;

	memset(out, 0, CSUM_MAX);
	if (c->sha256) {
		unsigned int len = 0;

		EVP_DigestFinal_ex(c->state, out, &len);
		EVP_MD_CTX_free(c->state);
		n = len;
	} else {
		XXH128_hash_t h = XXH3_128bits_digest(c->state);
		XXH128_canonical_t can;

		XXH128_canonicalFromHash(&can, h);
		memcpy(out, can.digest, sizeof(can.digest));
		XXH3_freeState(c->state);
		n = sizeof(can.digest);
	}
	c->state = NULL;
	return n;
}

void csum_abort(struct csum_ctx *c)
{
	if (!c->state)
		return;
	if (c->sha256)
		EVP_MD_CTX_free(c->state);
	else
		XXH3_freeState(c->state);
	c->state = NULL;
}
