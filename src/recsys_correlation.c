/*
 * Correlation id and traceparent validation.
 */

#include <stddef.h>

#include "recsys_correlation.h"
#include "recsys_string.h"


int
recsys_correlation_id_valid(const unsigned char *s, size_t len)
{
    size_t         i;
    unsigned char  c;

    if (len == 0 || len > RECSYS_CORRELATION_ID_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '-' || c == '.' || c == '_' || c == ':'))
        {
            return 0;
        }
    }

    return 1;
}


int
recsys_traceparent_valid(const unsigned char *s, size_t len)
{
    int     zero_trace, zero_parent;
    size_t  i;

    if (len < RECSYS_TRACEPARENT_LEN
        || (len > RECSYS_TRACEPARENT_LEN
            && ((s[0] == '0' && s[1] == '0')
                || s[RECSYS_TRACEPARENT_LEN] != '-')))
    {
        return 0;
    }

    if (s[2] != '-' || s[35] != '-' || s[52] != '-'
        || (s[0] == 'f' && s[1] == 'f'))
    {
        return 0;
    }

    zero_trace = 1;
    zero_parent = 1;

    for (i = 0; i < RECSYS_TRACEPARENT_LEN; i++) {

        if (i == 2 || i == 35 || i == 52) {
            continue;
        }

        /* lowercase only */
        if (recsys_hex_value(s[i]) < 0 || (s[i] >= 'A' && s[i] <= 'F')) {
            return 0;
        }

        if (s[i] != '0') {
            if (i > 2 && i < 35) {
                zero_trace = 0;

            } else if (i > 35 && i < 52) {
                zero_parent = 0;
            }
        }
    }

    return !zero_trace && !zero_parent;
}

