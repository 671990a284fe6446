/*
 * Fuzz target: query strings through recsys_query_parse_args(), as the
 * handler calls it (default_k 10, max_k 100).  The input is the query
 * string without '?', in a buffer of exactly its size.
 */

#include <string.h>

#include "query.h"


#define FUZZ_DEFAULT_K  10
#define FUZZ_MAX_K      100


/* the query string drops empty list entries */
static void
check_nonempty(const recsys_str_t *s, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        recsys_fuzz_check(s[i].len > 0 && s[i].data != NULL);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             rc;
    recsys_query_t  q;

    memset(&q, 0, sizeof(recsys_query_t));

    rc = recsys_query_parse_args(&q, (const char *) data, size,
                                 FUZZ_DEFAULT_K, FUZZ_MAX_K);

    recsys_fuzz_check(rc == RECSYS_REQ_OK || rc == RECSYS_REQ_BAD
                      || rc == RECSYS_REQ_INTERNAL);
    recsys_fuzz_check_query(&q, rc, FUZZ_MAX_K);

    if (rc == RECSYS_REQ_OK) {
        recsys_fuzz_check(q.vector == NULL);
        check_nonempty(q.exclude, q.nexclude);
        check_nonempty(q.history, q.nhistory);
    }

    recsys_query_free(&q);

    return 0;
}
