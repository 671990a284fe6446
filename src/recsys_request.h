/*
 * Request parsing for the API: query strings and JSON bodies into one
 * recsys_query_t.  Pure C (cJSON): no nginx header.
 */

#ifndef _RECSYS_REQUEST_H_INCLUDED_
#define _RECSYS_REQUEST_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define RECSYS_REQ_OK            0
#define RECSYS_REQ_BATCH         1      /* a batch body: recsys_batch_*() */
#define RECSYS_REQ_BAD           400    /* bad parameter */
#define RECSYS_REQ_TOO_LARGE     413    /* more queries than a batch holds */
#define RECSYS_REQ_UNPROCESSABLE 422    /* a vector that cannot be searched */
#define RECSYS_REQ_INTERNAL      500    /* out of memory */

#define RECSYS_WANT_HISTORY      0x01
#define RECSYS_WANT_VECTOR       0x02


typedef struct {
    const char         *data;
    size_t              len;
} recsys_str_t;


typedef struct {
    uint32_t            k;              /* default_k when not given */
    recsys_str_t        category;       /* len 0: any */
    int                 has_category;
    recsys_str_t       *exclude;
    size_t              nexclude;
    recsys_str_t       *history;
    size_t              nhistory;
    recsys_str_t        user;           /* a stored user's id; len 0: none */
    recsys_str_t       *seen;           /* more ids never returned */
    size_t              nseen;
    float              *vector;         /* NULL unless a vector was given */
    uint32_t            dimension;
    recsys_str_t        profile;        /* len 0: none asked for */
    int                 explain;        /* explain=true */
    recsys_str_t       *positive;       /* positive example ids */
    size_t              npositive;
    float              *positive_vectors; /* npositive_vectors x dimension */
    size_t              npositive_vectors;
    recsys_str_t       *negative;       /* negative example ids */
    size_t              nnegative;
    struct cJSON       *batch;          /* a batch body's tree, or NULL */
    struct cJSON       *batch_next;     /* its next query */
    char               *arena;          /* owns everything above */
    char                error[256];     /* message for a non-OK result */
    char                code[32];       /* "bad_parameter", ... */
} recsys_query_t;


/*
 * Parses a query string (without '?'): k, exclude (repeatable, comma
 * separated), category, history, positive, negative and seen (repeatable,
 * comma separated ids), user (1 to RECSYS_USER_ID_MAX bytes), profile (a
 * name) and explain (true, false, 1 or 0), with percent-decoding.
 * Unknown parameters are ignored.  k must be an integer in 1..max_k.
 * Returns RECSYS_REQ_OK or an HTTP status with q->error and q->code set.
 * Call recsys_query_free() in every case.
 */
int recsys_query_parse_args(recsys_query_t *q, const char *args, size_t len,
    uint32_t default_k, uint32_t max_k);

/*
 * The k that recsys_query_parse_args() reads from the same query string,
 * for a rate limiter that charges k before the request is handled: the
 * last "k" (name and value percent-decoded), or default_k without one.
 * When the handler will refuse a k (400), the first refused one decides:
 * max_k for a number larger than max_k, default_k for anything else.
 */
uint32_t recsys_query_cost_k(const char *args, size_t len,
    uint32_t default_k, uint32_t max_k);

/*
 * Parses a JSON object body and merges it into q (fields given in the body
 * override the query string): "k", "exclude" (array of strings),
 * "category" (string), "profile" (string), "explain" (boolean), and, as
 * "want" says, "history" and "seen" (arrays of strings), "user" (a string
 * as in the query string), "positive" (an array of ids and vectors of
 * dimension finite numbers, mixed), "negative" (array of strings) and
 * "vector" (array of dimension finite numbers).  A vector
 * of the wrong length or with non-finite numbers is 422; anything else
 * malformed 400.  An object with a "queries" member is a batch: returns
 * RECSYS_REQ_BATCH with the body kept in q for recsys_batch_count().
 */
int recsys_query_parse_json(recsys_query_t *q, const char *body, size_t len,
    int want, uint32_t dimension, uint32_t max_k);

/*
 * After RECSYS_REQ_BATCH: the number of queries of the batch, at most max.
 * 400 when "queries" is not an array, is given twice or has other members
 * beside it, 413 (code too_many_queries) when it holds more than max.
 */
int recsys_batch_count(recsys_query_t *q, size_t max, size_t *n);

/*
 * The batch's next query into qi, which holds what the query string gave
 * (recsys_query_parse_args()): its members are merged as
 * recsys_query_parse_json() merges a body holding that object alone.  A
 * query that is not an object, or holds "queries" itself, is 400.
 */
int recsys_batch_next(recsys_query_t *q, recsys_query_t *qi, int want,
    uint32_t dimension, uint32_t max_k);

/*
 * Checks q->vector, when there is one, against the catalog's metric
 * (RECSYS_METRIC_* of recsys_artifact.h); 422 with q->code:
 *   zero_vector       cosine: every component is zero, no direction;
 *   vector_too_large  l2, inner_product: the squared norm (the vector's
 *                     score against itself) overflows float32.
 * Cosine takes any other finite vector, however small or large its
 * components: it is normalized in double precision.
 */
int recsys_query_check_vector(recsys_query_t *q, int metric);

void recsys_query_free(recsys_query_t *q);

/*
 * The default item id of a "similar" URI: the path segment before the
 * last one (/v1/items/{id}/similar), trailing slashes ignored; empty when
 * there is none.  id points into uri.
 */
void recsys_uri_item_id(const char *uri, size_t len, recsys_str_t *id);

/*
 * Parses body as exactly one JSON value followed by nothing but JSON
 * whitespace (a NUL byte is not whitespace): cJSON alone stops after the
 * first value.  NULL when it is not; else free with cJSON_Delete().
 */
struct cJSON *recsys_json_parse_strict(const char *body, size_t len);


#endif /* _RECSYS_REQUEST_H_INCLUDED_ */
