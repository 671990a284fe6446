/*
 * Shared by the fuzz targets: the libFuzzer entry point each defines, and
 * a check that stays on in release builds (assert() may be compiled out).
 */

#ifndef _RECSYS_FUZZ_H_INCLUDED_
#define _RECSYS_FUZZ_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "recsys_json.h"


#define recsys_fuzz_check(cond)                                               \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,  \
                    #cond);                                                   \
            abort();                                                          \
        }                                                                     \
    } while (0)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF */
static inline int
recsys_fuzz_utf8_valid(const uint8_t *p, size_t len)
{
    size_t    i, n, k;
    uint32_t  c, min;

    for (i = 0; i < len; i += n) {
        c = p[i];

        if (c < 0x80) {
            n = 1;
            continue;
        }

        if (c >= 0xc0 && c < 0xe0) {
            n = 2; c &= 0x1f; min = 0x80;
        } else if (c >= 0xe0 && c < 0xf0) {
            n = 3; c &= 0x0f; min = 0x800;
        } else if (c >= 0xf0 && c < 0xf8) {
            n = 4; c &= 0x07; min = 0x10000;
        } else {
            return 0;
        }

        if (i + n > len) {
            return 0;
        }

        for (k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return 0;
            }

            c = (c << 6) | (p[i + k] & 0x3f);
        }

        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
            return 0;
        }
    }

    return 1;
}


/*
 * What an answer would echo of s, written by the JSON writer, is one
 * quoted JSON string of valid UTF-8 and exactly the measured length,
 * with no limit and with a small one.
 */
static inline void
recsys_fuzz_check_echo(const char *s, size_t len)
{
    char    *buf, *end;
    size_t   i, n, max;

    for (max = 7; ; max = RECSYS_JSON_NO_LIMIT) {
        n = recsys_json_str_len(s, len, max);
        buf = malloc(n);
        recsys_fuzz_check(buf != NULL && n >= 2);

        end = recsys_json_str(buf, s, len, max);
        recsys_fuzz_check((size_t) (end - buf) == n);
        recsys_fuzz_check(buf[0] == '"' && buf[n - 1] == '"');
        recsys_fuzz_check(max == RECSYS_JSON_NO_LIMIT || n - 2 <= max);
        recsys_fuzz_check(recsys_fuzz_utf8_valid((uint8_t *) buf, n));

        for (i = 1; i < n - 1; i++) {
            recsys_fuzz_check((uint8_t) buf[i] >= 0x20);
            recsys_fuzz_check(buf[i] != '"' || buf[i - 1] == '\\');
        }

        free(buf);

        if (max == RECSYS_JSON_NO_LIMIT) {
            break;
        }
    }
}


#endif /* _RECSYS_FUZZ_H_INCLUDED_ */
