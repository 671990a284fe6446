/*
 * SHA-256 as specified by FIPS 180-4, section 6.2.  Byte-oriented, no
 * alignment assumptions, no library needed.
 */

#include <string.h>

#include "recsys_sha256.h"
#include "recsys_string.h"


#define RECSYS_ROTR(x, n)  (((x) >> (n)) | ((x) << (32 - (n))))

#define RECSYS_CH(x, y, z)   (((x) & (y)) ^ (~(x) & (z)))
#define RECSYS_MAJ(x, y, z)  (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define RECSYS_BSIG0(x)  (RECSYS_ROTR(x, 2) ^ RECSYS_ROTR(x, 13)              \
                          ^ RECSYS_ROTR(x, 22))
#define RECSYS_BSIG1(x)  (RECSYS_ROTR(x, 6) ^ RECSYS_ROTR(x, 11)              \
                          ^ RECSYS_ROTR(x, 25))
#define RECSYS_SSIG0(x)  (RECSYS_ROTR(x, 7) ^ RECSYS_ROTR(x, 18) ^ ((x) >> 3))
#define RECSYS_SSIG1(x)  (RECSYS_ROTR(x, 17) ^ RECSYS_ROTR(x, 19)             \
                          ^ ((x) >> 10))


static void recsys_sha256_block(recsys_sha256_t *ctx, const uint8_t *p);


/* the first 32 bits of the fractional parts of the cube roots of primes */
static const uint32_t  recsys_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
    0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
    0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
    0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
    0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};


void
recsys_sha256_init(recsys_sha256_t *ctx)
{
    ctx->state[0] = 0x6a09e667;
    ctx->state[1] = 0xbb67ae85;
    ctx->state[2] = 0x3c6ef372;
    ctx->state[3] = 0xa54ff53a;
    ctx->state[4] = 0x510e527f;
    ctx->state[5] = 0x9b05688c;
    ctx->state[6] = 0x1f83d9ab;
    ctx->state[7] = 0x5be0cd19;

    ctx->bytes = 0;
    ctx->used = 0;
}


void
recsys_sha256_update(recsys_sha256_t *ctx, const void *data, size_t len)
{
    size_t          n;
    const uint8_t  *p;

    p = data;
    ctx->bytes += len;

    if (ctx->used) {
        n = 64 - ctx->used;

        if (len < n) {
            memcpy(ctx->block + ctx->used, p, len);
            ctx->used += len;
            return;
        }

        memcpy(ctx->block + ctx->used, p, n);
        recsys_sha256_block(ctx, ctx->block);

        p += n;
        len -= n;
        ctx->used = 0;
    }

    while (len >= 64) {
        recsys_sha256_block(ctx, p);
        p += 64;
        len -= 64;
    }

    if (len) {
        memcpy(ctx->block, p, len);
        ctx->used = len;
    }
}


void
recsys_sha256_final(recsys_sha256_t *ctx, uint8_t digest[RECSYS_SHA256_LEN])
{
    int       i;
    uint64_t  bits;

    bits = ctx->bytes * 8;

    ctx->block[ctx->used++] = 0x80;

    if (ctx->used > 56) {
        memset(ctx->block + ctx->used, 0, 64 - ctx->used);
        recsys_sha256_block(ctx, ctx->block);
        ctx->used = 0;
    }

    memset(ctx->block + ctx->used, 0, 56 - ctx->used);

    for (i = 0; i < 8; i++) {
        ctx->block[56 + i] = (uint8_t) (bits >> (56 - 8 * i));
    }

    recsys_sha256_block(ctx, ctx->block);

    for (i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t) (ctx->state[i] >> 24);
        digest[4 * i + 1] = (uint8_t) (ctx->state[i] >> 16);
        digest[4 * i + 2] = (uint8_t) (ctx->state[i] >> 8);
        digest[4 * i + 3] = (uint8_t) ctx->state[i];
    }

    /* the key's traces do not outlive the call */
    memset(ctx, 0, sizeof(recsys_sha256_t));
}


void
recsys_sha256(const void *data, size_t len, uint8_t digest[RECSYS_SHA256_LEN])
{
    recsys_sha256_t  ctx;

    recsys_sha256_init(&ctx);
    recsys_sha256_update(&ctx, data, len);
    recsys_sha256_final(&ctx, digest);
}


int
recsys_sha256_from_hex(const char *hex, size_t len,
    uint8_t digest[RECSYS_SHA256_LEN])
{
    int     hi, lo;
    size_t  i;

    if (len != RECSYS_SHA256_HEX_LEN) {
        return -1;
    }

    for (i = 0; i < RECSYS_SHA256_LEN; i++) {
        hi = recsys_hex_value((unsigned char) hex[2 * i]);
        lo = recsys_hex_value((unsigned char) hex[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            return -1;
        }

        digest[i] = (uint8_t) (hi << 4 | lo);
    }

    return 0;
}


void
recsys_sha256_to_hex(const uint8_t digest[RECSYS_SHA256_LEN],
    char hex[RECSYS_SHA256_HEX_LEN])
{
    size_t  i;

    for (i = 0; i < RECSYS_SHA256_LEN; i++) {
        hex[2 * i] = recsys_hex_digits[digest[i] >> 4];
        hex[2 * i + 1] = recsys_hex_digits[digest[i] & 0x0f];
    }
}


static void
recsys_sha256_block(recsys_sha256_t *ctx, const uint8_t *p)
{
    int       i;
    uint32_t  w[64], a, b, c, d, e, f, g, h, t1, t2;

    for (i = 0; i < 16; i++) {
        w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16
               | (uint32_t) p[4 * i + 2] << 8 | (uint32_t) p[4 * i + 3];
    }

    for (i = 16; i < 64; i++) {
        w[i] = RECSYS_SSIG1(w[i - 2]) + w[i - 7] + RECSYS_SSIG0(w[i - 15])
               + w[i - 16];
    }

    a = ctx->state[0];
    b = ctx->state[1];
    c = ctx->state[2];
    d = ctx->state[3];
    e = ctx->state[4];
    f = ctx->state[5];
    g = ctx->state[6];
    h = ctx->state[7];

    for (i = 0; i < 64; i++) {
        t1 = h + RECSYS_BSIG1(e) + RECSYS_CH(e, f, g) + recsys_sha256_k[i]
             + w[i];
        t2 = RECSYS_BSIG0(a) + RECSYS_MAJ(a, b, c);
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }

    ctx->state[0] += a;
    ctx->state[1] += b;
    ctx->state[2] += c;
    ctx->state[3] += d;
    ctx->state[4] += e;
    ctx->state[5] += f;
    ctx->state[6] += g;
    ctx->state[7] += h;
}
