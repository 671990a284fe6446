/*
 * Fuzz target: JSON bodies through recsys_query_parse_json() after an
 * empty query string, as the handler does for POST.  The first byte
 * chooses what the endpoint wants (bit 0: history, bit 1: vector) and
 * the catalog dimension (1 + bits 2..4); the rest is the body, in a
 * buffer of exactly its size.
 */

#include <math.h>
#include <string.h>

#include "query.h"


#define FUZZ_DEFAULT_K  10
#define FUZZ_MAX_K      100


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             rc, want;
    size_t          i;
    uint32_t        dimension;
    recsys_query_t  q;

    if (size == 0) {
        return 0;
    }

    want = data[0] & (RECSYS_WANT_HISTORY | RECSYS_WANT_VECTOR);
    dimension = 1 + ((data[0] >> 2) & 7);

    memset(&q, 0, sizeof(recsys_query_t));

    rc = recsys_query_parse_args(&q, "", 0, FUZZ_DEFAULT_K, FUZZ_MAX_K);
    recsys_fuzz_check(rc == RECSYS_REQ_OK);

    rc = recsys_query_parse_json(&q, (const char *) data + 1, size - 1,
                                 want, dimension, FUZZ_MAX_K);

    recsys_fuzz_check(rc == RECSYS_REQ_OK || rc == RECSYS_REQ_BAD
                      || rc == RECSYS_REQ_UNPROCESSABLE
                      || rc == RECSYS_REQ_INTERNAL);
    recsys_fuzz_check_query(&q, rc, FUZZ_MAX_K);

    if (rc == RECSYS_REQ_OK) {
        if (q.vector != NULL) {
            recsys_fuzz_check(want & RECSYS_WANT_VECTOR);
            recsys_fuzz_check(q.dimension == dimension);

            for (i = 0; i < q.dimension; i++) {
                recsys_fuzz_check(isfinite(q.vector[i]));
            }
        }

        if (!(want & RECSYS_WANT_HISTORY)) {
            recsys_fuzz_check(q.nhistory == 0);
        }
    }

    recsys_query_free(&q);

    return 0;
}
