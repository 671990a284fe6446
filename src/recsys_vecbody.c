/*
 * The fast path of search bodies (recsys_vecbody.h).  Every check errs
 * towards "not mine": the general parser reads whatever is refused here,
 * and answers it, errors included, as before.
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_vecbody.h"


/* a uint64_t holds any 19 decimal digits */
#define RECSYS_NUMBER_DIGITS  19

/* integers below 2^53 are exact doubles */
#define RECSYS_NUMBER_EXACT   ((uint64_t) 1 << 53)

/* beyond any exponent a finite double has: saturates the exponent */
#define RECSYS_NUMBER_EXP_MAX 100000


/* the powers of ten that are exact doubles */
static const double  recsys_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
    1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

#define RECSYS_POW10_MAX  22


static const char *recsys_vb_space(const char *p, const char *end);
static int recsys_vb_digit(const char *p, const char *end);


static const char *
recsys_vb_space(const char *p, const char *end)
{
    while (p < end
           && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    {
        p++;
    }

    return p;
}


static int
recsys_vb_digit(const char *p, const char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}


const char *
recsys_number_parse(const char *p, const char *end, double *out)
{
    int          neg, esign, ndigits, many;
    char        *e, buf[RECSYS_NUMBER_MAX + 1];
    double       d;
    int64_t      exp, eval;
    uint64_t     w;
    const char  *start;

    start = p;
    neg = 0;

    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }

    if (!recsys_vb_digit(p, end)) {
        return NULL;
    }

    /* w: the significant digits (leading zeros are not), exp: 10^exp */

    w = 0;
    ndigits = 0;
    many = 0;
    exp = 0;

    if (*p == '0') {
        p++;

    } else {
        for ( /* void */ ; recsys_vb_digit(p, end); p++) {
            if (ndigits < RECSYS_NUMBER_DIGITS) {
                w = w * 10 + (uint64_t) (*p - '0');
                ndigits++;

            } else {
                many = 1;
            }
        }
    }

    if (p < end && *p == '.') {
        p++;

        if (!recsys_vb_digit(p, end)) {
            return NULL;
        }

        for ( /* void */ ; recsys_vb_digit(p, end); p++) {
            if (w == 0 && *p == '0') {
                exp--;

            } else if (ndigits < RECSYS_NUMBER_DIGITS) {
                w = w * 10 + (uint64_t) (*p - '0');
                ndigits++;
                exp--;

            } else {
                many = 1;
            }
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        esign = 1;

        if (p < end && (*p == '+' || *p == '-')) {
            esign = (*p == '-') ? -1 : 1;
            p++;
        }

        if (!recsys_vb_digit(p, end)) {
            return NULL;
        }

        for (eval = 0; recsys_vb_digit(p, end); p++) {
            if (eval < RECSYS_NUMBER_EXP_MAX) {
                eval = eval * 10 + (*p - '0');
            }
        }

        exp += esign * eval;
    }

    /* cJSON stops reading a number after this many bytes */
    if (p - start > RECSYS_NUMBER_MAX) {
        return NULL;
    }

    if (!many && w < RECSYS_NUMBER_EXACT
        && exp >= -RECSYS_POW10_MAX && exp <= RECSYS_POW10_MAX)
    {
        /* two exact doubles, one correctly rounded operation */
        d = (double) w;
        d = exp < 0 ? d / recsys_pow10[-exp] : d * recsys_pow10[exp];

        *out = neg ? -d : d;
        return p;
    }

    if (w == 0 && !many) {
        *out = neg ? -0.0 : 0.0;
        return p;
    }

    memcpy(buf, start, p - start);
    buf[p - start] = '\0';

    d = strtod(buf, &e);

    if (e != buf + (p - start)) {
        return NULL;
    }

    *out = d;

    return p;
}


int
recsys_vecbody_parse(const char *body, size_t len, uint32_t dimension,
    float *vec, int *has_k, double *k)
{
    int          vector;
    float        f;
    double       d;
    uint32_t     n;
    const char  *p, *end;

    p = body;
    end = body + len;
    vector = 0;
    *has_k = 0;
    *k = 0;

    p = recsys_vb_space(p, end);

    if (p == end || *p++ != '{') {
        return -1;
    }

    for ( ;; ) {
        p = recsys_vb_space(p, end);

        if (p == end || *p++ != '"') {
            return -1;
        }

        /* the names as they are, no escapes; each once */

        if (end - p >= 7 && memcmp(p, "vector\"", 7) == 0 && !vector) {
            vector = 1;
            p = recsys_vb_space(p + 7, end);

            if (p == end || *p++ != ':') {
                return -1;
            }

            p = recsys_vb_space(p, end);

            if (p == end || *p++ != '[') {
                return -1;
            }

            for (n = 0; /* void */; n++) {
                p = recsys_vb_space(p, end);

                if (n == dimension) {
                    break;
                }

                if (n > 0) {
                    if (p == end || *p++ != ',') {
                        return -1;
                    }

                    p = recsys_vb_space(p, end);
                }

                p = recsys_number_parse(p, end, &d);
                if (p == NULL) {
                    return -1;
                }

                /* what the general parser keeps; a non-finite is its 422 */
                f = (float) d;

                if (!isfinite(d) || !isfinite(f)) {
                    return -1;
                }

                vec[n] = f;
            }

            /* exactly dimension numbers */
            if (p == end || *p++ != ']') {
                return -1;
            }

        } else if (end - p >= 2 && memcmp(p, "k\"", 2) == 0 && !*has_k) {
            *has_k = 1;
            p = recsys_vb_space(p + 2, end);

            if (p == end || *p++ != ':') {
                return -1;
            }

            p = recsys_number_parse(recsys_vb_space(p, end), end, k);
            if (p == NULL) {
                return -1;
            }

        } else {
            return -1;
        }

        p = recsys_vb_space(p, end);

        if (p == end) {
            return -1;
        }

        if (*p == '}') {
            p++;
            break;
        }

        if (*p++ != ',') {
            return -1;
        }
    }

    if (recsys_vb_space(p, end) != end || !vector) {
        return -1;
    }

    return 0;
}
