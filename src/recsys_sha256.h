/*
 * SHA-256 (FIPS 180-4) for hashing API keys: the rate limiter keeps and
 * compares digests, never the keys.  Pure C: no nginx header.
 */

#ifndef _RECSYS_SHA256_H_INCLUDED_
#define _RECSYS_SHA256_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define RECSYS_SHA256_LEN      32
#define RECSYS_SHA256_HEX_LEN  64


typedef struct {
    uint32_t            state[8];
    uint64_t            bytes;
    uint8_t             block[64];
    size_t              used;
} recsys_sha256_t;


void recsys_sha256_init(recsys_sha256_t *ctx);
void recsys_sha256_update(recsys_sha256_t *ctx, const void *data,
    size_t len);
void recsys_sha256_final(recsys_sha256_t *ctx,
    uint8_t digest[RECSYS_SHA256_LEN]);

/* one call: digest of data[0..len) */
void recsys_sha256(const void *data, size_t len,
    uint8_t digest[RECSYS_SHA256_LEN]);

/*
 * Decodes exactly 64 hex digits (either case) into a digest; returns 0, or
 * -1 on a wrong length or a non-hex character.
 */
int recsys_sha256_from_hex(const char *hex, size_t len,
    uint8_t digest[RECSYS_SHA256_LEN]);

/* writes 64 lowercase hex digits (no terminating NUL) */
void recsys_sha256_to_hex(const uint8_t digest[RECSYS_SHA256_LEN],
    char hex[RECSYS_SHA256_HEX_LEN]);


#endif /* _RECSYS_SHA256_H_INCLUDED_ */
