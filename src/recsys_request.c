/*
 * Request parsing: query strings and JSON bodies into one recsys_query_t.
 * Everything the query points to lives in a chain of arena blocks, so one
 * recsys_query_free() releases it whatever path the parse took.
 */

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "recsys_artifact.h"
#include "recsys_request.h"
#include "recsys_string.h"
#include "recsys_vecbody.h"


#define RECSYS_REQ_MAX_IDS       1000
#define RECSYS_ARENA_BLOCK       4096
#define RECSYS_ARENA_ALIGN       8

#define RECSYS_ARG_UNKNOWN       0
#define RECSYS_ARG_K             1
#define RECSYS_ARG_EXCLUDE       2
#define RECSYS_ARG_HISTORY       3
#define RECSYS_ARG_CATEGORY      4
#define RECSYS_ARG_POSITIVE      5
#define RECSYS_ARG_NEGATIVE      6
#define RECSYS_ARG_PROFILE       7
#define RECSYS_ARG_EXPLAIN       8
#define RECSYS_ARG_USER          9
#define RECSYS_ARG_SEEN          10

#define RECSYS_K_OK              0
#define RECSYS_K_LARGE           1      /* digits only, more than max_k */
#define RECSYS_K_BAD             2      /* anything else but 1..max_k */
#define RECSYS_K_ESCAPE          3      /* an invalid percent-escape */


typedef struct recsys_arena_block_s  recsys_arena_block_t;

struct recsys_arena_block_s {
    recsys_arena_block_t  *prev;
    size_t                 size;
    size_t                 used;
    size_t                 pad;     /* keeps the data 16-byte aligned */
};


typedef struct {
    int                 name;
    const char         *value;
    size_t              len;
} recsys_arg_t;


static void *recsys_arena_alloc(recsys_query_t *q, size_t size);
static int recsys_query_ids(recsys_query_t *q, size_t n,
    recsys_str_t **list, size_t *count);
static int recsys_query_error(recsys_query_t *q, int status,
    const char *code, const char *fmt, ...);
static ssize_t recsys_pct_decode(char *dst, const char *src, size_t len);
static const char *recsys_arg_next(const char *p, const char *end,
    recsys_arg_t *arg);
static size_t recsys_count_ids(const char *v, size_t len);
static int recsys_arg_value(recsys_query_t *q, const recsys_arg_t *arg,
    const char *pname, recsys_str_t *out);
static int recsys_arg_ids(recsys_query_t *q, const recsys_arg_t *arg,
    const char *pname, recsys_str_t *ids, size_t *n);
static int recsys_arg_k(const recsys_arg_t *arg, uint32_t max_k,
    uint32_t *k);
static int recsys_json_k(recsys_query_t *q, const cJSON *v, uint32_t max_k);
static int recsys_json_ids(recsys_query_t *q, const cJSON *v,
    const char *pname, recsys_str_t **ids, size_t *n);
static int recsys_json_category(recsys_query_t *q, const cJSON *v);
static int recsys_query_user(recsys_query_t *q, const recsys_str_t *id);
static int recsys_json_user(recsys_query_t *q, const cJSON *v);
static int recsys_json_vector(recsys_query_t *q, const cJSON *v,
    uint32_t dimension);
static int recsys_json_object(recsys_query_t *q, const cJSON *root,
    int want, uint32_t dimension, uint32_t max_k);
static int recsys_json_rank(recsys_query_t *q, const cJSON *root, int want,
    uint32_t dimension);
static int recsys_json_positive(recsys_query_t *q, const cJSON *v,
    uint32_t dimension);
static int recsys_arg_explain(recsys_query_t *q, const recsys_arg_t *arg);
static int recsys_json_space(char c);
static int recsys_query_fast_vector(recsys_query_t *q, const char *body,
    size_t len, uint32_t dimension, uint32_t max_k);


int
recsys_query_parse_args(recsys_query_t *q, const char *args, size_t len,
    uint32_t default_k, uint32_t max_k)
{
    int            rc;
    size_t         nex, nhist, npos, nneg, nseen;
    const char    *p, *end;
    recsys_str_t   val;
    recsys_arg_t   arg;

    q->k = default_k;
    q->error[0] = '\0';
    q->code[0] = '\0';

    if (args == NULL) {
        args = "";
        len = 0;
    }

    end = args + len;

    /* first pass: count ids so the arrays are allocated once, exactly */

    nex = 0;
    nhist = 0;
    npos = 0;
    nneg = 0;
    nseen = 0;

    for (p = args; p < end; /* void */) {
        p = recsys_arg_next(p, end, &arg);

        if (arg.name == RECSYS_ARG_EXCLUDE) {
            nex += recsys_count_ids(arg.value, arg.len);

        } else if (arg.name == RECSYS_ARG_HISTORY) {
            nhist += recsys_count_ids(arg.value, arg.len);

        } else if (arg.name == RECSYS_ARG_POSITIVE) {
            npos += recsys_count_ids(arg.value, arg.len);

        } else if (arg.name == RECSYS_ARG_NEGATIVE) {
            nneg += recsys_count_ids(arg.value, arg.len);

        } else if (arg.name == RECSYS_ARG_SEEN) {
            nseen += recsys_count_ids(arg.value, arg.len);
        }
    }

    if (nseen > RECSYS_REQ_MAX_IDS) {
        return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                  "\"seen\" has more than %d ids",
                                  RECSYS_REQ_MAX_IDS);
    }

    if (npos > RECSYS_REQ_MAX_IDS || nneg > RECSYS_REQ_MAX_IDS) {
        return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                  "\"%s\" has more than %d ids",
                                  npos > RECSYS_REQ_MAX_IDS
                                  ? "positive" : "negative",
                                  RECSYS_REQ_MAX_IDS);
    }

    if (nex > RECSYS_REQ_MAX_IDS) {
        return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                  "\"exclude\" has more than %d ids",
                                  RECSYS_REQ_MAX_IDS);
    }

    if (nhist > RECSYS_REQ_MAX_IDS) {
        return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                  "\"history\" has more than %d ids",
                                  RECSYS_REQ_MAX_IDS);
    }

    if (recsys_query_ids(q, nex, &q->exclude, &q->nexclude) != 0
        || recsys_query_ids(q, nhist, &q->history, &q->nhistory) != 0
        || recsys_query_ids(q, npos, &q->positive, &q->npositive) != 0
        || recsys_query_ids(q, nneg, &q->negative, &q->nnegative) != 0
        || recsys_query_ids(q, nseen, &q->seen, &q->nseen) != 0)
    {
        goto nomem;
    }

    /* second pass: decode values into the arena */

    for (p = args; p < end; /* void */) {
        p = recsys_arg_next(p, end, &arg);

        switch (arg.name) {

        case RECSYS_ARG_K:
            rc = recsys_arg_k(&arg, max_k, &q->k);

            if (rc == RECSYS_K_ESCAPE) {
                return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                          "\"k\" has an invalid "
                                          "percent-encoding");
            }

            if (rc != RECSYS_K_OK) {
                return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                          "\"k\" must be an integer "
                                          "between 1 and %u", max_k);
            }

            break;

        case RECSYS_ARG_CATEGORY:
            rc = recsys_arg_value(q, &arg, "category", &val);
            if (rc != RECSYS_REQ_OK) {
                return rc;
            }

            q->category = val;
            q->has_category = (val.len > 0);
            break;

        case RECSYS_ARG_EXCLUDE:
            rc = recsys_arg_ids(q, &arg, "exclude", q->exclude, &q->nexclude);
            if (rc != RECSYS_REQ_OK) {
                return rc;
            }

            break;

        case RECSYS_ARG_HISTORY:
            rc = recsys_arg_ids(q, &arg, "history", q->history, &q->nhistory);
            if (rc != RECSYS_REQ_OK) {
                return rc;
            }

            break;

        case RECSYS_ARG_POSITIVE:
            rc = recsys_arg_ids(q, &arg, "positive", q->positive,
                                &q->npositive);
            if (rc != RECSYS_REQ_OK) {
                return rc;
            }

            break;

        case RECSYS_ARG_NEGATIVE:
            rc = recsys_arg_ids(q, &arg, "negative", q->negative,
                                &q->nnegative);
            if (rc != RECSYS_REQ_OK) {
                return rc;
            }

            break;

        case RECSYS_ARG_PROFILE:
            rc = recsys_arg_value(q, &arg, "profile", &val);
            if (rc != RECSYS_REQ_OK) {
                return rc;
            }

            q->profile = val;
            break;

        case RECSYS_ARG_EXPLAIN:
            rc = recsys_arg_explain(q, &arg);
            if (rc != RECSYS_REQ_OK) {
                return rc;
            }

            break;

        case RECSYS_ARG_SEEN:
            rc = recsys_arg_ids(q, &arg, "seen", q->seen, &q->nseen);
            if (rc != RECSYS_REQ_OK) {
                return rc;
            }

            break;

        case RECSYS_ARG_USER:
            rc = recsys_arg_value(q, &arg, "user", &val);
            if (rc != RECSYS_REQ_OK) {
                return rc;
            }

            rc = recsys_query_user(q, &val);
            if (rc != RECSYS_REQ_OK) {
                return rc;
            }

            break;

        default:
            break;
        }
    }

    return RECSYS_REQ_OK;

nomem:

    return recsys_query_error(q, RECSYS_REQ_INTERNAL, "internal_error",
                              "out of memory");
}


uint32_t
recsys_query_cost_k(const char *args, size_t len, uint32_t default_k,
    uint32_t max_k)
{
    uint32_t       k, v;
    const char    *p, *end;
    recsys_arg_t   arg;

    if (args == NULL) {
        return default_k;
    }

    k = default_k;
    end = args + len;

    for (p = args; p < end; /* void */) {
        p = recsys_arg_next(p, end, &arg);

        if (arg.name != RECSYS_ARG_K) {
            continue;
        }

        /* the handler stops at the first k it refuses: that one decides */

        switch (recsys_arg_k(&arg, max_k, &v)) {

        case RECSYS_K_OK:
            k = v;
            break;

        case RECSYS_K_LARGE:
            return max_k;

        default:
            return default_k;
        }
    }

    return k;
}


int
recsys_query_parse_json(recsys_query_t *q, const char *body, size_t len,
    int want, uint32_t dimension, uint32_t max_k)
{
    int     rc;
    cJSON  *root;

    q->error[0] = '\0';
    q->code[0] = '\0';

    if (body == NULL || len == 0) {
        return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                  "invalid JSON body");
    }

    /* the usual search body without cJSON; the rest as ever */
    if (want == RECSYS_WANT_VECTOR
        && recsys_query_fast_vector(q, body, len, dimension, max_k) == 0)
    {
        return RECSYS_REQ_OK;
    }

    root = recsys_json_parse_strict(body, len);

    if (root == NULL) {
        return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                  "invalid JSON body");
    }

    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                  "body must be a JSON object");
    }

    if (cJSON_GetObjectItemCaseSensitive(root, "queries") != NULL) {
        q->batch = root;
        return RECSYS_REQ_BATCH;
    }

    rc = recsys_json_object(q, root, want, dimension, max_k);

    cJSON_Delete(root);

    return rc;
}


int
recsys_batch_count(recsys_query_t *q, size_t max, size_t *n)
{
    size_t        nq;
    const cJSON  *v, *queries;

    queries = NULL;

    /* a member beside "queries" would be ignored by every query: refused */
    for (v = q->batch->child; v; v = v->next) {
        if (strcmp(v->string, "queries") != 0) {
            return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                      "a batch body holds \"queries\" "
                                      "only, \"%.64s\" belongs in each "
                                      "query or the query string",
                                      v->string);
        }

        if (queries != NULL) {
            return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                      "\"queries\" is given twice");
        }

        queries = v;
    }

    if (!cJSON_IsArray(queries)) {
        return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                  "\"queries\" must be an array of "
                                  "objects");
    }

    nq = (size_t) cJSON_GetArraySize(queries);

    if (nq > max) {
        return recsys_query_error(q, RECSYS_REQ_TOO_LARGE,
                                  "too_many_queries",
                                  "%zu queries, at most %zu in one request",
                                  nq, max);
    }

    q->batch_next = queries->child;
    *n = nq;

    return RECSYS_REQ_OK;
}


int
recsys_batch_next(recsys_query_t *q, recsys_query_t *qi, int want,
    uint32_t dimension, uint32_t max_k)
{
    cJSON  *v;

    v = q->batch_next;

    if (v == NULL) {
        return recsys_query_error(qi, RECSYS_REQ_BAD, "bad_parameter",
                                  "no more queries in the batch");
    }

    q->batch_next = v->next;

    if (!cJSON_IsObject(v)) {
        return recsys_query_error(qi, RECSYS_REQ_BAD, "bad_parameter",
                                  "a query must be a JSON object");
    }

    if (cJSON_GetObjectItemCaseSensitive(v, "queries") != NULL) {
        return recsys_query_error(qi, RECSYS_REQ_BAD, "bad_parameter",
                                  "a query of a batch cannot be a batch");
    }

    return recsys_json_object(qi, v, want, dimension, max_k);
}


/*
 * {"vector": [...], "k": n} (recsys_vecbody.h): 0 when it is that and
 * valid; -1 leaves the body, and any error in it, to cJSON
 */

static int
recsys_query_fast_vector(recsys_query_t *q, const char *body, size_t len,
    uint32_t dimension, uint32_t max_k)
{
    int      has_k;
    float   *vec;
    double   k;

    if (dimension == 0) {
        return -1;
    }

    vec = recsys_arena_alloc(q, (size_t) dimension * sizeof(float));
    if (vec == NULL) {
        return -1;
    }

    if (recsys_vecbody_parse(body, len, dimension, vec, &has_k, &k) != 0) {
        return -1;
    }

    /* as recsys_json_k() takes it */
    if (has_k) {
        if (!isfinite(k) || k != floor(k) || k < 1 || k > (double) max_k) {
            return -1;
        }

        q->k = (uint32_t) k;
    }

    q->vector = vec;
    q->dimension = dimension;

    return 0;
}


static int
recsys_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}


cJSON *
recsys_json_parse_strict(const char *body, size_t len)
{
    cJSON       *root;
    const char  *end, *p;

    if (body == NULL || len == 0) {
        return NULL;
    }

    /* cJSON skips every byte up to 32 before the value, NUL included */
    for (p = body; p < body + len && (unsigned char) *p <= ' '; p++) {
        if (!recsys_json_space(*p)) {
            return NULL;
        }
    }

    end = NULL;
    root = cJSON_ParseWithLengthOpts(body, len, &end, 0);

    if (root == NULL) {
        return NULL;
    }

    for (p = end; p != NULL && p < body + len; p++) {
        if (!recsys_json_space(*p)) {
            cJSON_Delete(root);
            return NULL;
        }
    }

    return root;
}


void
recsys_query_free(recsys_query_t *q)
{
    recsys_arena_block_t  *b, *prev;

    if (q == NULL) {
        return;
    }

    for (b = (recsys_arena_block_t *) q->arena; b; b = prev) {
        prev = b->prev;
        free(b);
    }

    cJSON_Delete(q->batch);

    q->batch = NULL;
    q->batch_next = NULL;
    q->arena = NULL;
    q->category.data = NULL;
    q->category.len = 0;
    q->has_category = 0;
    q->exclude = NULL;
    q->nexclude = 0;
    q->history = NULL;
    q->nhistory = 0;
    q->vector = NULL;
    q->dimension = 0;
    q->profile.data = NULL;
    q->profile.len = 0;
    q->explain = 0;
    q->positive = NULL;
    q->npositive = 0;
    q->positive_vectors = NULL;
    q->npositive_vectors = 0;
    q->negative = NULL;
    q->nnegative = 0;
    q->user.data = NULL;
    q->user.len = 0;
    q->seen = NULL;
    q->nseen = 0;
}


int
recsys_query_check_vector(recsys_query_t *q, int metric)
{
    double    sum;
    uint32_t  i;

    if (q->vector == NULL) {
        return RECSYS_REQ_OK;
    }

    sum = 0.0;

    for (i = 0; i < q->dimension; i++) {
        sum += (double) q->vector[i] * q->vector[i];
    }

    if (metric == RECSYS_METRIC_COSINE) {
        if (sum == 0.0) {
            return recsys_query_error(q, RECSYS_REQ_UNPROCESSABLE,
                                      "zero_vector",
                                      "a zero vector has no direction for "
                                      "the cosine metric");
        }

        return RECSYS_REQ_OK;
    }

    if (sum > FLT_MAX) {
        return recsys_query_error(q, RECSYS_REQ_UNPROCESSABLE,
                                  "vector_too_large",
                                  "the vector's squared norm %.3g overflows "
                                  "float32 scores", sum);
    }

    return RECSYS_REQ_OK;
}


void
recsys_uri_item_id(const char *uri, size_t len, recsys_str_t *id)
{
    const char  *p, *last;

    last = uri + len;

    while (last > uri && last[-1] == '/') {
        last--;
    }

    /* drop the last segment and the slash before it */

    while (last > uri && last[-1] != '/') {
        last--;
    }

    if (last > uri) {
        last--;
    }

    p = last;

    while (p > uri && p[-1] != '/') {
        p--;
    }

    id->data = p;
    id->len = (size_t) (last - p);
}


static void *
recsys_arena_alloc(recsys_query_t *q, size_t size)
{
    size_t                 bsize;
    recsys_arena_block_t  *b;
    char                  *p;

    size = (size + RECSYS_ARENA_ALIGN - 1) & ~(size_t) (RECSYS_ARENA_ALIGN - 1);

    b = (recsys_arena_block_t *) q->arena;

    if (b == NULL || b->size - b->used < size) {
        bsize = size > RECSYS_ARENA_BLOCK ? size : RECSYS_ARENA_BLOCK;

        p = malloc(sizeof(recsys_arena_block_t) + bsize);
        if (p == NULL) {
            return NULL;
        }

        b = (recsys_arena_block_t *) p;
        b->prev = (recsys_arena_block_t *) q->arena;
        b->size = bsize;
        b->used = 0;
        q->arena = p;
    }

    p = (char *) (b + 1) + b->used;
    b->used += size;

    return p;
}


/* room for the n ids of a list, counted as they are decoded; n 0: none */

static int
recsys_query_ids(recsys_query_t *q, size_t n, recsys_str_t **list,
    size_t *count)
{
    if (n == 0) {
        return 0;
    }

    *list = recsys_arena_alloc(q, n * sizeof(recsys_str_t));
    if (*list == NULL) {
        return -1;
    }

    *count = 0;

    return 0;
}


static int
recsys_query_error(recsys_query_t *q, int status, const char *code,
    const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(q->error, sizeof(q->error), fmt, ap);
    va_end(ap);

    snprintf(q->code, sizeof(q->code), "%s", code);

    return status;
}


/* decodes %XX and '+'; dst may equal src; -1 on a bad escape */

static ssize_t
recsys_pct_decode(char *dst, const char *src, size_t len)
{
    int      hi, lo;
    size_t   i, n;

    n = 0;

    for (i = 0; i < len; i++) {
        if (src[i] == '+') {
            dst[n++] = ' ';

        } else if (src[i] == '%') {
            if (len - i < 3) {
                return -1;
            }

            hi = recsys_hex_value((unsigned char) src[i + 1]);
            lo = recsys_hex_value((unsigned char) src[i + 2]);

            if (hi < 0 || lo < 0) {
                return -1;
            }

            dst[n++] = (char) (hi << 4 | lo);
            i += 2;

        } else {
            dst[n++] = src[i];
        }
    }

    return (ssize_t) n;
}


/* splits the next "key=value" off p; returns where the one after starts */

static const char *
recsys_arg_next(const char *p, const char *end, recsys_arg_t *arg)
{
    char         name[32];
    size_t       klen;
    ssize_t      n;
    const char  *amp, *eq;

    amp = memchr(p, '&', end - p);
    if (amp == NULL) {
        amp = end;
    }

    eq = memchr(p, '=', amp - p);

    if (eq == NULL) {
        klen = amp - p;
        arg->value = amp;
        arg->len = 0;

    } else {
        klen = eq - p;
        arg->value = eq + 1;
        arg->len = amp - (eq + 1);
    }

    arg->name = RECSYS_ARG_UNKNOWN;

    /* a key that does not decode or is too long is simply not ours */

    if (klen > 0 && klen <= sizeof(name)) {
        n = recsys_pct_decode(name, p, klen);

        if (n == 1 && name[0] == 'k') {
            arg->name = RECSYS_ARG_K;

        } else if (n == 7 && memcmp(name, "exclude", 7) == 0) {
            arg->name = RECSYS_ARG_EXCLUDE;

        } else if (n == 7 && memcmp(name, "history", 7) == 0) {
            arg->name = RECSYS_ARG_HISTORY;

        } else if (n == 8 && memcmp(name, "category", 8) == 0) {
            arg->name = RECSYS_ARG_CATEGORY;

        } else if (n == 8 && memcmp(name, "positive", 8) == 0) {
            arg->name = RECSYS_ARG_POSITIVE;

        } else if (n == 8 && memcmp(name, "negative", 8) == 0) {
            arg->name = RECSYS_ARG_NEGATIVE;

        } else if (n == 7 && memcmp(name, "profile", 7) == 0) {
            arg->name = RECSYS_ARG_PROFILE;

        } else if (n == 7 && memcmp(name, "explain", 7) == 0) {
            arg->name = RECSYS_ARG_EXPLAIN;

        } else if (n == 4 && memcmp(name, "user", 4) == 0) {
            arg->name = RECSYS_ARG_USER;

        } else if (n == 4 && memcmp(name, "seen", 4) == 0) {
            arg->name = RECSYS_ARG_SEEN;
        }
    }

    return amp < end ? amp + 1 : end;
}


static size_t
recsys_count_ids(const char *v, size_t len)
{
    size_t       n;
    const char  *p, *end, *comma;

    n = 0;
    end = v + len;

    for (p = v; p < end; p = comma + 1) {
        comma = memchr(p, ',', end - p);
        if (comma == NULL) {
            comma = end;
        }

        if (comma > p) {
            n++;
        }
    }

    return n;
}


/* a whole value, decoded into the arena and NUL-terminated */

static int
recsys_arg_value(recsys_query_t *q, const recsys_arg_t *arg,
    const char *pname, recsys_str_t *out)
{
    char     *dst;
    ssize_t   n;

    dst = recsys_arena_alloc(q, arg->len + 1);
    if (dst == NULL) {
        return recsys_query_error(q, RECSYS_REQ_INTERNAL, "internal_error",
                                  "out of memory");
    }

    n = recsys_pct_decode(dst, arg->value, arg->len);
    if (n < 0) {
        return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                  "\"%s\" has an invalid percent-encoding",
                                  pname);
    }

    dst[n] = '\0';
    out->data = dst;
    out->len = (size_t) n;

    return RECSYS_REQ_OK;
}


/* comma-separated ids: split first, so "%2C" stays inside an id */

static int
recsys_arg_ids(recsys_query_t *q, const recsys_arg_t *arg, const char *pname,
    recsys_str_t *ids, size_t *n)
{
    int           rc;
    const char   *p, *end, *comma;
    recsys_arg_t  piece;

    end = arg->value + arg->len;

    for (p = arg->value; p < end; p = comma + 1) {
        comma = memchr(p, ',', end - p);
        if (comma == NULL) {
            comma = end;
        }

        if (comma == p) {
            continue;
        }

        piece.name = arg->name;
        piece.value = p;
        piece.len = comma - p;

        rc = recsys_arg_value(q, &piece, pname, &ids[*n]);
        if (rc != RECSYS_REQ_OK) {
            return rc;
        }

        (*n)++;
    }

    return RECSYS_REQ_OK;
}


/*
 * k straight from its raw value, decoded on the way: one parser for the
 * handler and for the rate limiter's cost=k.  An invalid escape anywhere
 * in the value wins over any other fault, as when decoding first.
 */

static int
recsys_arg_k(const recsys_arg_t *arg, uint32_t max_k, uint32_t *k)
{
    int          c, hi, lo, bad, large;
    size_t       ndigits;
    uint64_t     n;
    const char  *p, *end;

    n = 0;
    bad = 0;
    large = 0;
    ndigits = 0;
    end = arg->value + arg->len;

    for (p = arg->value; p < end; p++) {
        c = (unsigned char) *p;

        if (c == '%') {
            if (end - p < 3) {
                return RECSYS_K_ESCAPE;
            }

            hi = recsys_hex_value((unsigned char) p[1]);
            lo = recsys_hex_value((unsigned char) p[2]);

            if (hi < 0 || lo < 0) {
                return RECSYS_K_ESCAPE;
            }

            c = hi << 4 | lo;
            p += 2;
        }

        if (c < '0' || c > '9') {
            bad = 1;
            continue;
        }

        ndigits++;

        if (!large) {
            n = n * 10 + (uint64_t) (c - '0');
            large = (n > max_k);
        }
    }

    if (bad || ndigits == 0) {
        return RECSYS_K_BAD;
    }

    if (large) {
        return RECSYS_K_LARGE;
    }

    if (n == 0) {
        return RECSYS_K_BAD;
    }

    *k = (uint32_t) n;

    return RECSYS_K_OK;
}


static int
recsys_json_object(recsys_query_t *q, const cJSON *root, int want,
    uint32_t dimension, uint32_t max_k)
{
    int           rc;
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(root, "k");
    if (v != NULL) {
        rc = recsys_json_k(q, v, max_k);
        if (rc != RECSYS_REQ_OK) {
            return rc;
        }
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "exclude");
    if (v != NULL) {
        rc = recsys_json_ids(q, v, "exclude", &q->exclude, &q->nexclude);
        if (rc != RECSYS_REQ_OK) {
            return rc;
        }
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "category");
    if (v != NULL) {
        rc = recsys_json_category(q, v);
        if (rc != RECSYS_REQ_OK) {
            return rc;
        }
    }

    if (want & RECSYS_WANT_HISTORY) {
        v = cJSON_GetObjectItemCaseSensitive(root, "history");
        if (v != NULL) {
            rc = recsys_json_ids(q, v, "history", &q->history, &q->nhistory);
            if (rc != RECSYS_REQ_OK) {
                return rc;
            }
        }

        v = cJSON_GetObjectItemCaseSensitive(root, "seen");
        if (v != NULL) {
            rc = recsys_json_ids(q, v, "seen", &q->seen, &q->nseen);
            if (rc != RECSYS_REQ_OK) {
                return rc;
            }
        }

        v = cJSON_GetObjectItemCaseSensitive(root, "user");
        if (v != NULL) {
            rc = recsys_json_user(q, v);
            if (rc != RECSYS_REQ_OK) {
                return rc;
            }
        }
    }

    rc = recsys_json_rank(q, root, want, dimension);
    if (rc != RECSYS_REQ_OK) {
        return rc;
    }

    if (want & RECSYS_WANT_VECTOR) {
        v = cJSON_GetObjectItemCaseSensitive(root, "vector");
        if (v == NULL) {
            return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                      "\"vector\" is required");
        }

        rc = recsys_json_vector(q, v, dimension);
        if (rc != RECSYS_REQ_OK) {
            return rc;
        }
    }

    return RECSYS_REQ_OK;
}


static int
recsys_json_k(recsys_query_t *q, const cJSON *v, uint32_t max_k)
{
    double  d;

    if (cJSON_IsNumber(v)) {
        d = v->valuedouble;

        if (isfinite(d) && d == floor(d) && d >= 1 && d <= (double) max_k) {
            q->k = (uint32_t) d;
            return RECSYS_REQ_OK;
        }
    }

    return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                              "\"k\" must be an integer between 1 and %u",
                              max_k);
}


static int
recsys_json_ids(recsys_query_t *q, const cJSON *v, const char *pname,
    recsys_str_t **ids, size_t *n)
{
    int            count, i;
    char          *dst;
    size_t         len;
    const cJSON   *e;
    recsys_str_t  *a;

    if (!cJSON_IsArray(v)) {
        return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                  "\"%s\" must be an array of strings",
                                  pname);
    }

    count = cJSON_GetArraySize(v);

    if (count > RECSYS_REQ_MAX_IDS) {
        return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                  "\"%s\" has more than %d ids",
                                  pname, RECSYS_REQ_MAX_IDS);
    }

    a = NULL;

    if (count > 0) {
        a = recsys_arena_alloc(q, count * sizeof(recsys_str_t));
        if (a == NULL) {
            goto nomem;
        }
    }

    i = 0;

    cJSON_ArrayForEach(e, v) {
        if (!cJSON_IsString(e) || e->valuestring[0] == '\0') {
            return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                      "\"%s\" must be an array of "
                                      "non-empty strings", pname);
        }

        len = strlen(e->valuestring);

        dst = recsys_arena_alloc(q, len + 1);
        if (dst == NULL) {
            goto nomem;
        }

        memcpy(dst, e->valuestring, len + 1);
        a[i].data = dst;
        a[i].len = len;
        i++;
    }

    *ids = a;
    *n = (size_t) i;

    return RECSYS_REQ_OK;

nomem:

    return recsys_query_error(q, RECSYS_REQ_INTERNAL, "internal_error",
                              "out of memory");
}


static int
recsys_json_category(recsys_query_t *q, const cJSON *v)
{
    char    *dst;
    size_t   len;

    if (!cJSON_IsString(v)) {
        return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                  "\"category\" must be a string");
    }

    len = strlen(v->valuestring);

    dst = recsys_arena_alloc(q, len + 1);
    if (dst == NULL) {
        return recsys_query_error(q, RECSYS_REQ_INTERNAL, "internal_error",
                                  "out of memory");
    }

    memcpy(dst, v->valuestring, len + 1);

    q->category.data = dst;
    q->category.len = len;
    q->has_category = (len > 0);

    return RECSYS_REQ_OK;
}


/* a user id as the query string or the body gives it */

static int
recsys_query_user(recsys_query_t *q, const recsys_str_t *id)
{
    if (id->len == 0) {
        return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                  "\"user\" must not be empty");
    }

    if (id->len > RECSYS_USER_ID_MAX) {
        return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                  "\"user\" is longer than %d bytes",
                                  RECSYS_USER_ID_MAX);
    }

    q->user = *id;

    return RECSYS_REQ_OK;
}


static int
recsys_json_user(recsys_query_t *q, const cJSON *v)
{
    char          *dst;
    recsys_str_t   id;

    if (!cJSON_IsString(v)) {
        return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                  "\"user\" must be a string");
    }

    id.len = strlen(v->valuestring);

    dst = recsys_arena_alloc(q, id.len + 1);
    if (dst == NULL) {
        return recsys_query_error(q, RECSYS_REQ_INTERNAL, "internal_error",
                                  "out of memory");
    }

    memcpy(dst, v->valuestring, id.len + 1);
    id.data = dst;

    return recsys_query_user(q, &id);
}


static int
recsys_json_vector(recsys_query_t *q, const cJSON *v, uint32_t dimension)
{
    int           count, i;
    float        *vec, f;
    const cJSON  *e;

    if (!cJSON_IsArray(v)) {
        return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                  "\"vector\" must be an array of numbers");
    }

    cJSON_ArrayForEach(e, v) {
        if (!cJSON_IsNumber(e)) {
            return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                      "\"vector\" must be an array of "
                                      "numbers");
        }
    }

    count = cJSON_GetArraySize(v);

    if ((uint32_t) count != dimension) {
        return recsys_query_error(q, RECSYS_REQ_UNPROCESSABLE,
                                  "wrong_dimension",
                                  "\"vector\" has %d numbers, expected %u",
                                  count, dimension);
    }

    vec = recsys_arena_alloc(q, (size_t) dimension * sizeof(float));
    if (vec == NULL) {
        return recsys_query_error(q, RECSYS_REQ_INTERNAL, "internal_error",
                                  "out of memory");
    }

    i = 0;

    /* a double that overflows float (1e39) is as useless as 1e999 */

    cJSON_ArrayForEach(e, v) {
        f = (float) e->valuedouble;

        if (!isfinite(e->valuedouble) || !isfinite(f)) {
            return recsys_query_error(q, RECSYS_REQ_UNPROCESSABLE,
                                      "non_finite",
                                      "\"vector\" has a non-finite number "
                                      "at index %d", i);
        }

        vec[i++] = f;
    }

    q->vector = vec;
    q->dimension = dimension;

    return RECSYS_REQ_OK;
}


/* explain=true|false|1|0: anything else is a mistake worth a 400 */

static int
recsys_arg_explain(recsys_query_t *q, const recsys_arg_t *arg)
{
    int           rc;
    recsys_str_t  v;

    rc = recsys_arg_value(q, arg, "explain", &v);
    if (rc != RECSYS_REQ_OK) {
        return rc;
    }

    if ((v.len == 4 && memcmp(v.data, "true", 4) == 0)
        || (v.len == 1 && v.data[0] == '1'))
    {
        q->explain = 1;
        return RECSYS_REQ_OK;
    }

    if ((v.len == 5 && memcmp(v.data, "false", 5) == 0)
        || (v.len == 1 && v.data[0] == '0'))
    {
        q->explain = 0;
        return RECSYS_REQ_OK;
    }

    return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                              "\"explain\" must be true or false");
}


/* the ranking fields of a body: profile, explain, positive, negative */

static int
recsys_json_rank(recsys_query_t *q, const cJSON *root, int want,
    uint32_t dimension)
{
    int           rc;
    char         *dst;
    size_t        len;
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(root, "profile");
    if (v != NULL) {
        if (!cJSON_IsString(v)) {
            return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                      "\"profile\" must be a string");
        }

        len = strlen(v->valuestring);

        dst = recsys_arena_alloc(q, len + 1);
        if (dst == NULL) {
            return recsys_query_error(q, RECSYS_REQ_INTERNAL,
                                      "internal_error", "out of memory");
        }

        memcpy(dst, v->valuestring, len + 1);
        q->profile.data = dst;
        q->profile.len = len;
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "explain");
    if (v != NULL) {
        if (!cJSON_IsBool(v)) {
            return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                      "\"explain\" must be true or false");
        }

        q->explain = cJSON_IsTrue(v);
    }

    if (!(want & RECSYS_WANT_HISTORY)) {
        return RECSYS_REQ_OK;
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "positive");
    if (v != NULL) {
        rc = recsys_json_positive(q, v, dimension);
        if (rc != RECSYS_REQ_OK) {
            return rc;
        }
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "negative");
    if (v != NULL) {
        rc = recsys_json_ids(q, v, "negative", &q->negative, &q->nnegative);
        if (rc != RECSYS_REQ_OK) {
            return rc;
        }
    }

    return RECSYS_REQ_OK;
}


/* "positive": ids and vectors, in any mix; each kind keeps its order */

static int
recsys_json_positive(recsys_query_t *q, const cJSON *v, uint32_t dimension)
{
    int            count, nids, nvec, i;
    float         *vec, f;
    char          *dst;
    size_t         len;
    const cJSON   *e, *x;
    recsys_str_t  *ids;

    if (!cJSON_IsArray(v)) {
        goto bad;
    }

    count = cJSON_GetArraySize(v);

    if (count > RECSYS_REQ_MAX_IDS) {
        return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                                  "\"positive\" has more than %d entries",
                                  RECSYS_REQ_MAX_IDS);
    }

    nids = 0;
    nvec = 0;

    cJSON_ArrayForEach(e, v) {
        if (cJSON_IsString(e) && e->valuestring[0] != '\0') {
            nids++;
            continue;
        }

        if (!cJSON_IsArray(e)) {
            goto bad;
        }

        cJSON_ArrayForEach(x, e) {
            if (!cJSON_IsNumber(x)) {
                goto bad;
            }
        }

        if ((uint32_t) cJSON_GetArraySize(e) != dimension) {
            return recsys_query_error(q, RECSYS_REQ_UNPROCESSABLE,
                                      "wrong_dimension",
                                      "a \"positive\" vector has %d "
                                      "numbers, expected %u",
                                      cJSON_GetArraySize(e), dimension);
        }

        nvec++;
    }

    ids = NULL;
    vec = NULL;

    if (nids) {
        ids = recsys_arena_alloc(q, nids * sizeof(recsys_str_t));
        if (ids == NULL) {
            goto nomem;
        }
    }

    if (nvec) {
        vec = recsys_arena_alloc(q, (size_t) nvec * dimension
                                    * sizeof(float));
        if (vec == NULL) {
            goto nomem;
        }
    }

    q->positive = ids;
    q->npositive = 0;
    q->positive_vectors = vec;
    q->npositive_vectors = 0;

    cJSON_ArrayForEach(e, v) {
        if (cJSON_IsString(e)) {
            len = strlen(e->valuestring);

            dst = recsys_arena_alloc(q, len + 1);
            if (dst == NULL) {
                goto nomem;
            }

            memcpy(dst, e->valuestring, len + 1);
            ids[q->npositive].data = dst;
            ids[q->npositive].len = len;
            q->npositive++;
            continue;
        }

        i = 0;

        cJSON_ArrayForEach(x, e) {
            f = (float) x->valuedouble;

            if (!isfinite(x->valuedouble) || !isfinite(f)) {
                return recsys_query_error(q, RECSYS_REQ_UNPROCESSABLE,
                                          "non_finite",
                                          "a \"positive\" vector has a "
                                          "non-finite number at index %d",
                                          i);
            }

            vec[q->npositive_vectors * dimension + i++] = f;
        }

        q->npositive_vectors++;
    }

    return RECSYS_REQ_OK;

bad:

    return recsys_query_error(q, RECSYS_REQ_BAD, "bad_parameter",
                              "\"positive\" must be an array of non-empty "
                              "ids and vectors");

nomem:

    return recsys_query_error(q, RECSYS_REQ_INTERNAL, "internal_error",
                              "out of memory");
}
