/*
 * Hex digits, UTF-8 characters (Unicode 3.9, table 3-7), text quoted
 * in error messages, decimal numbers.
 */

#include <string.h>

#include "recsys_string.h"


const char  recsys_hex_digits[16] = {
    '0', '1', '2', '3', '4', '5', '6', '7',
    '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'
};


int
recsys_hex_value(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


ssize_t
recsys_utf8_char(const unsigned char *s, size_t n)
{
    size_t         i, len;
    unsigned char  c, lo, hi;

    c = s[0];

    if (c < 0x80) {
        return 1;
    }

    /*
     * the second byte's range is narrower after the first bytes that could
     * start an overlong form, a surrogate or a code point past U+10FFFF
     */

    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;

    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = (c == 0xe0) ? 0xa0 : 0x80;
        hi = (c == 0xed) ? 0x9f : 0xbf;

    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = (c == 0xf0) ? 0x90 : 0x80;
        hi = (c == 0xf4) ? 0x8f : 0xbf;

    } else {
        return -1;
    }

    for (i = 1; i < len; i++) {
        if (i == n || s[i] < lo || s[i] > hi) {
            return -(ssize_t) i;
        }

        lo = 0x80;
        hi = 0xbf;
    }

    return (ssize_t) len;
}


void
recsys_quote(const char *s, size_t len, char *buf, size_t size)
{
    size_t  i, n;

    if (s == NULL || size < RECSYS_QUOTE_LEN + 6) {
        if (size >= 2) {
            buf[0] = '?';
            buf[1] = '\0';
        }

        return;
    }

    n = 0;
    buf[n++] = '"';

    for (i = 0; i < len && i < RECSYS_QUOTE_LEN; i++) {
        buf[n++] = ((unsigned char) s[i] < 0x20 || s[i] == 0x7f
                    || s[i] == '"') ? '?' : s[i];
    }

    if (i < len) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }

    buf[n++] = '"';
    buf[n] = '\0';
}
int
recsys_parse_uint(const char *s, size_t len, uint64_t *out)
{
    size_t    i;
    uint64_t  v;

    if (len == 0 || len > 20) {
        return -1;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        if (v > (UINT64_MAX - (s[i] - '0')) / 10) {
            return -1;
        }

        v = v * 10 + (s[i] - '0');
    }

    *out = v;

    return 0;
}


int
recsys_parse_uint_arg(const char *arg, uint64_t lo, uint64_t hi,
    uint64_t *out)
{
    uint64_t  v;

    if (recsys_parse_uint(arg, strlen(arg), &v) != 0 || v < lo || v > hi) {
        return -1;
    }

    *out = v;

    return 0;
}
