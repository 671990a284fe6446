/*
 * JSON strings and numbers.  The length function and the writer share
 * one walk over the input (recsys_json_walk), so they cannot disagree.
 * Reading: one line of a JSON Lines source, through cJSON.
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "recsys_json.h"
#include "recsys_string.h"


/* U+FFFD REPLACEMENT CHARACTER */
#define RECSYS_JSON_FFFD      "\xef\xbf\xbd"


static size_t recsys_json_walk(char *dst, const char *s, size_t len,
    size_t max, int raw);
static char *recsys_json_number_float(char *dst, double v, int digits);


typedef unsigned __int128  recsys_u128_t;


/* 10^0 .. 10^19, all below 2^64 */
static const uint64_t  recsys_json_pow10[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
    10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
    100000000000ull, 1000000000000ull, 10000000000000ull,
    100000000000000ull, 1000000000000000ull, 10000000000000000ull,
    100000000000000000ull, 1000000000000000000ull,
    10000000000000000000ull
};


/* escaped length of each byte below 0x80; 0 means "\u00XX" (6 bytes) */
static const unsigned char  recsys_json_ascii[128] = {
    0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 0, 2, 2, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
};


size_t
recsys_json_escape_len(const char *s, size_t len, size_t max)
{
    return recsys_json_walk(NULL, s, len, max, 0);
}


char *
recsys_json_escape(char *dst, const char *s, size_t len, size_t max)
{
    return dst + recsys_json_walk(dst, s, len, max, 0);
}


size_t
recsys_json_str_len(const char *s, size_t len, size_t max)
{
    return recsys_json_walk(NULL, s, len, max, 0) + 2;
}


char *
recsys_json_str(char *dst, const char *s, size_t len, size_t max)
{
    *dst++ = '"';
    dst += recsys_json_walk(dst, s, len, max, 0);
    *dst++ = '"';

    return dst;
}


size_t
recsys_json_raw_len(const char *s, size_t len)
{
    return recsys_json_walk(NULL, s, len, RECSYS_JSON_NO_LIMIT, 1);
}


char *
recsys_json_raw(char *dst, const char *s, size_t len)
{
    return dst + recsys_json_walk(dst, s, len, RECSYS_JSON_NO_LIMIT, 1);
}


char *
recsys_json_number(char *dst, double v, int digits)
{
    int    n;
    char  *p;

    if (!isfinite(v)) {
        memcpy(dst, "null", 4);
        return dst + 4;
    }

    if (digits < 1) {
        digits = 1;

    } else if (digits > 17) {
        digits = 17;
    }

    p = recsys_json_number_float(dst, v, digits);
    if (p != NULL) {
        return p;
    }

    /* at most "-d.<16 digits>e-308": 24 bytes */
    n = snprintf(dst, RECSYS_JSON_NUMBER_LEN, "%.*g", digits, v);

    return dst + n;
}


/*
 * What "%.*g" writes, in one pass without printf, for the numbers answers
 * carry: float values (scores) of magnitude 1e-5 to 1e7; NULL for the
 * others.  Exact: with v = m * 2^e (m < 2^24), the digits are the
 * quotient of two 128-bit integers, rounded half to even on the
 * remainder, as glibc rounds the exact binary value.
 */

static char *
recsys_json_number_float(char *dst, double v, int digits)
{
    int             e, x, s, i, t, tries, last;
    char            d[17];
    double          a;
    uint64_t        bits, m, q64;
    recsys_u128_t   num, den, q, r, lo, hi;

    a = fabs(v);

    if (!(a >= 1e-5 && a < 1e7)) {
        return NULL;
    }

    /* a = m * 2^e, m odd, from the bits of a normal double */
    memcpy(&bits, &a, sizeof(double));
    m = (bits & (((uint64_t) 1 << 52) - 1)) | ((uint64_t) 1 << 52);
    e = (int) (bits >> 52) - 1075;
    t = __builtin_ctzll(m);
    m >>= t;
    e += t;

    if (m >= ((uint64_t) 1 << 24)) {
        return NULL;
    }

    /*
     * x, the decimal exponent, so that 10^(digits-1) <= a*10^s < 10^digits:
     * floor(log10(a)) or one less, from the binary exponent (no log10()
     * call); the loop mends it
     */

    x = (int) floor(((int) (bits >> 52) - 1023) * 0.30102999566398120);

    lo = recsys_json_pow10[digits - 1];
    hi = recsys_json_pow10[digits];

    for (tries = 0; /* void */; tries++) {
        if (tries == 3) {
            return NULL;
        }

        s = digits - 1 - x;
        num = m;
        den = 1;

        if (e >= 0) {
            num <<= e;

        } else {
            den <<= -e;
        }

        /* -7 <= s <= 22 here: at most two table steps */
        for (i = s < 0 ? -s : s; i > 0; i -= t) {
            t = i > 19 ? 19 : i;

            if (s < 0) {
                den *= recsys_json_pow10[t];

            } else {
                num *= recsys_json_pow10[t];
            }
        }

        /* a power of two below unless a >= 10^digits: a shift divides */
        q = (s >= 0) ? num >> (e < 0 ? -e : 0) : num / den;

        if (q >= hi) {
            x++;

        } else if (q < lo) {
            x--;

        } else {
            break;
        }
    }

    r = num - q * den;

    if (2 * r > den || (2 * r == den && (q & 1))) {
        q++;
    }

    if (q == hi) {
        q = lo;
        x++;
    }

    /* q < 10^17: the digits by 64-bit arithmetic */
    q64 = (uint64_t) q;

    for (i = digits - 1; i >= 0; i--) {
        d[i] = (char) ('0' + (int) (q64 % 10));
        q64 /= 10;
    }

    /* %g drops trailing zeros, and the point when nothing follows it */
    for (last = digits - 1; last > 0 && d[last] == '0'; last--) {
        /* void */
    }

    if (v < 0) {
        *dst++ = '-';
    }

    if (x < -4 || x >= digits) {
        *dst++ = d[0];

        if (last > 0) {
            *dst++ = '.';
            memcpy(dst, d + 1, last);
            dst += last;
        }

        *dst++ = 'e';
        *dst++ = x < 0 ? '-' : '+';
        x = x < 0 ? -x : x;
        *dst++ = (char) ('0' + x / 10);
        *dst++ = (char) ('0' + x % 10);

        return dst;
    }

    if (x < 0) {
        *dst++ = '0';
        *dst++ = '.';

        for (i = x + 1; i < 0; i++) {
            *dst++ = '0';
        }

        memcpy(dst, d, last + 1);

        return dst + last + 1;
    }

    /* x + 1 integer digits, all written even when zeros */
    memcpy(dst, d, x + 1);
    dst += x + 1;

    if (last > x) {
        *dst++ = '.';
        memcpy(dst, d + x + 1, last - x);
        dst += last - x;
    }

    return dst;
}


/*
 * Writes into dst unless it is NULL; returns the bytes (to be) written.
 * raw: ASCII is copied as it is.
 */

static size_t
recsys_json_walk(char *dst, const char *s, size_t len, size_t max, int raw)
{
    size_t                i, out, n, c;
    ssize_t               u;
    unsigned char         b;
    const char           *from;
    const unsigned char  *p;

    p = (const unsigned char *) s;
    out = 0;
    from = NULL;

    /* n: input bytes of the character, c: output bytes */

    for (i = 0; i < len; i += n) {
        b = p[i];

        /* most text: a run of ASCII that needs no escape, copied at once */

        if (b < 0x80 && (raw || recsys_json_ascii[b] == 1)) {
            for (n = 1; i + n < len && p[i + n] < 0x80; n++) {
                if (!raw && recsys_json_ascii[p[i + n]] != 1) {
                    break;
                }
            }

            if (n > max - out) {
                n = max - out;

                if (n == 0) {
                    break;
                }
            }

            if (dst != NULL) {
                memcpy(dst + out, s + i, n);
            }

            out += n;
            continue;
        }

        if (b < 0x80) {
            n = 1;
            c = raw ? 1 : (recsys_json_ascii[b] ? recsys_json_ascii[b] : 6);

        } else {
            u = recsys_utf8_char(p + i, len - i);

            if (u > 0) {
                n = (size_t) u;
                c = n;
                from = s + i;

            } else {
                n = (size_t) -u;
                c = sizeof(RECSYS_JSON_FFFD) - 1;
                from = RECSYS_JSON_FFFD;
            }
        }

        if (c > max - out) {
            break;
        }

        if (dst != NULL) {
            if (b >= 0x80) {
                memcpy(dst + out, from, c);

            } else if (c == 1) {
                dst[out] = (char) b;

            } else if (c == 6) {
                memcpy(dst + out, "\\u00", 4);
                dst[out + 4] = recsys_hex_digits[b >> 4];
                dst[out + 5] = recsys_hex_digits[b & 0xf];

            } else {
                dst[out] = '\\';

                switch (b) {
                case '\b':
                    dst[out + 1] = 'b';
                    break;
                case '\f':
                    dst[out + 1] = 'f';
                    break;
                case '\n':
                    dst[out + 1] = 'n';
                    break;
                case '\r':
                    dst[out + 1] = 'r';
                    break;
                case '\t':
                    dst[out + 1] = 't';
                    break;
                default:
                    /* '"' and '\\' */
                    dst[out + 1] = (char) b;
                    break;
                }
            }
        }

        out += c;
    }

    return out;
}


int
recsys_jsonl_object(const char *buf, size_t len, uint64_t lineno,
    cJSON **root, char *err, size_t errlen)
{
    const char  *p, *end, *last;

    *root = NULL;
    last = buf + len;
    p = buf;

    /* a UTF-8 byte order mark some editors put in front of the file */
    if (lineno == 1 && len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        p += 3;
    }

    while (p < last && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
    {
        p++;
    }

    if (p == last) {
        return 0;
    }

    end = NULL;
    *root = cJSON_ParseWithLengthOpts(p, (size_t) (last - p), &end, 0);

    if (*root == NULL) {
        snprintf(err, errlen, "invalid JSON near column %zu",
                 (size_t) ((end ? end : p) - buf) + 1);
        return -1;
    }

    for ( /* void */ ; end < last; end++) {
        if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n') {
            snprintf(err, errlen, "invalid JSON: unexpected text at column"
                     " %zu", (size_t) (end - buf) + 1);
            goto failed;
        }
    }

    if (!cJSON_IsObject(*root)) {
        snprintf(err, errlen, "a line must be a JSON object");
        goto failed;
    }

    return 0;

failed:

    cJSON_Delete(*root);
    *root = NULL;

    return -1;
}
