/*
 * Fuzz target: query strings through recsys_query_parse_args(), as the
 * handler calls it (default_k 10, max_k 100).  The input is the query
 * string without '?', in a buffer of exactly its size.
 */

#include <string.h>

#include "fuzz.h"
#include "recsys_request.h"


#define FUZZ_DEFAULT_K  10
#define FUZZ_MAX_K      100


static void
check_strs(const recsys_str_t *s, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        recsys_fuzz_check(s[i].len > 0 && s[i].data != NULL);
        recsys_fuzz_check_echo(s[i].data, s[i].len);
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
    recsys_fuzz_check(memchr(q.error, '\0', sizeof(q.error)) != NULL);
    recsys_fuzz_check(memchr(q.code, '\0', sizeof(q.code)) != NULL);

    if (rc == RECSYS_REQ_OK) {
        recsys_fuzz_check(q.k >= 1 && q.k <= FUZZ_MAX_K);
        recsys_fuzz_check(q.vector == NULL);
        check_strs(q.exclude, q.nexclude);
        check_strs(q.history, q.nhistory);

        if (q.has_category && q.category.len > 0) {
            recsys_fuzz_check_echo(q.category.data, q.category.len);
        }

    } else {
        recsys_fuzz_check(q.error[0] != '\0' && q.code[0] != '\0');
    }

    recsys_query_free(&q);

    return 0;
}
