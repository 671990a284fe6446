/*
 * Shared by the two request fuzz targets (fuzz_query, fuzz_json): what
 * the handler relies on after either parser, whatever the input.
 */

#ifndef _RECSYS_FUZZ_QUERY_H_INCLUDED_
#define _RECSYS_FUZZ_QUERY_H_INCLUDED_


#include <string.h>

#include "fuzz.h"
#include "recsys_request.h"


/*
 * The error and code are strings, set on a failure; on success k is in
 * range and every id and the category can be echoed in an answer.
 */
static inline void
recsys_fuzz_check_query(const recsys_query_t *q, int rc, uint32_t max_k)
{
    size_t  i;

    recsys_fuzz_check(memchr(q->error, '\0', sizeof(q->error)) != NULL);
    recsys_fuzz_check(memchr(q->code, '\0', sizeof(q->code)) != NULL);

    if (rc != RECSYS_REQ_OK) {
        recsys_fuzz_check(q->error[0] != '\0' && q->code[0] != '\0');
        return;
    }

    recsys_fuzz_check(q->k >= 1 && q->k <= max_k);

    for (i = 0; i < q->nhistory; i++) {
        recsys_fuzz_check_echo(q->history[i].data, q->history[i].len);
    }

    for (i = 0; i < q->nexclude; i++) {
        recsys_fuzz_check_echo(q->exclude[i].data, q->exclude[i].len);
    }

    if (q->has_category && q->category.len > 0) {
        recsys_fuzz_check_echo(q->category.data, q->category.len);
    }
}


#endif /* _RECSYS_FUZZ_QUERY_H_INCLUDED_ */
