
/*
 * Content handlers: similar, recommendations, search, popular.  Requests
 * are parsed by the pure recsys_request code, answered by recsys_search
 * from the generation this request pinned, and serialized here straight
 * into one buffer from the request pool.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_recsys_module.h"
#include "ngx_http_recsys_body.h"
#include "recsys_itemsim_search.h"
#include "recsys_json.h"
#include "recsys_chain.h"
#include "recsys_recommend.h"
#include "recsys_request.h"
#include "recsys_search.h"


/* significant digits of a score: all a float has */
#define NGX_HTTP_RECSYS_SCORE_DIGITS   7

#define ngx_http_recsys_cpy(p, lit)                                          \
    ((char *) ngx_cpymem(p, lit, sizeof(lit) - 1))


typedef struct {
    ngx_http_recsys_gen_t      *gen;
    recsys_query_t              query;
    ngx_str_t                   body;
    ngx_http_recsys_stats_t     stats;
    const recsys_profile_t     *profile;    /* NULL: plain */
    recsys_cand_t              *cands;      /* a ranked answer, or NULL */
    const uint32_t             *examples;   /* known positive rows */
    size_t                      nexamples;
    float                      *history;    /* their query, or NULL */
    recsys_query_t             *batch;      /* a batch body, or NULL */
    const recsys_lists_t       *lists;      /* a batch's probed lists */
    size_t                      list;       /* this query's */
} ngx_http_recsys_ctx_t;


typedef struct {
    ngx_uint_t                  strategy;     /* ngx_http_recsys_strategy_e */
    ngx_uint_t                  fallback;
    ngx_int_t                   level;        /* RECSYS_LEVEL_*, or -1 */
    recsys_str_t               *ignored;      /* unknown history ids */
    size_t                      nignored;
    ngx_uint_t                  status;       /* a client error, if any */
    const char                 *code;
    size_t                      message_len;
    u_char                      message[NGX_HTTP_RECSYS_MESSAGE_MAX + 4];
} ngx_http_recsys_answer_t;


/* one query of a batch and, once answered, its JSON */
typedef struct {
    recsys_query_t              query;
    const recsys_profile_t     *profile;
    ngx_http_recsys_answer_t    ans;        /* ans.status: its error */
    size_t                      list;       /* its probed lists */
    u_char                     *json;
    size_t                      len;
} ngx_http_recsys_one_t;


static void ngx_http_recsys_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_recsys_process(ngx_http_request_t *r,
    ngx_http_recsys_ctx_t *ctx);
static ngx_int_t ngx_http_recsys_batch(ngx_http_request_t *r,
    ngx_http_recsys_ctx_t *ctx);
static ngx_int_t ngx_http_recsys_batch_parse(ngx_http_request_t *r,
    ngx_http_recsys_ctx_t *ctx, ngx_http_recsys_one_t *one, size_t n);
static ngx_int_t ngx_http_recsys_batch_lists(ngx_http_request_t *r,
    ngx_http_recsys_ctx_t *ctx, ngx_http_recsys_one_t *one, size_t n,
    recsys_lists_t *lists);
static ngx_int_t ngx_http_recsys_batch_one(ngx_http_request_t *r,
    ngx_http_recsys_ctx_t *ctx, ngx_http_recsys_one_t *one);
static ngx_int_t ngx_http_recsys_unavailable(ngx_http_request_t *r);
static ngx_int_t ngx_http_recsys_answer(ngx_http_request_t *r,
    ngx_http_recsys_ctx_t *ctx, recsys_hit_t *hits, uint32_t *nhits,
    ngx_http_recsys_answer_t *ans);
static void ngx_http_recsys_find_rows(recsys_generation_t *g,
    recsys_str_t *ids, size_t n, uint32_t *rows, size_t *nrows,
    ngx_http_recsys_answer_t *ans);
static ngx_int_t ngx_http_recsys_recommend(ngx_http_request_t *r,
    ngx_http_recsys_ctx_t *ctx, float *history, recsys_user_t *user,
    recsys_filter_t *f, recsys_hit_t *hits, uint32_t *nhits,
    ngx_http_recsys_answer_t *ans);
static size_t ngx_http_recsys_user_rows(ngx_http_recsys_ctx_t *ctx,
    recsys_user_t *user, uint32_t *rows);
static int ngx_http_recsys_chain_search(void *data,
    const recsys_generation_t *g, float *query, const recsys_filter_t *f,
    recsys_hit_t *out, uint32_t *nout);
static ngx_int_t ngx_http_recsys_refuse(ngx_http_recsys_answer_t *ans,
    ngx_uint_t status, const char *code, const char *fmt, ...);
static ngx_int_t ngx_http_recsys_item_id(ngx_http_request_t *r,
    ngx_str_t *id);
static ngx_int_t ngx_http_recsys_send_items(ngx_http_request_t *r,
    ngx_http_recsys_ctx_t *ctx, recsys_hit_t *hits, uint32_t n,
    ngx_http_recsys_answer_t *ans);
static u_char *ngx_http_recsys_items_json(ngx_http_request_t *r,
    ngx_http_recsys_ctx_t *ctx, recsys_hit_t *hits, uint32_t n,
    ngx_http_recsys_answer_t *ans, size_t *outlen);
static ngx_int_t ngx_http_recsys_send_answer(ngx_http_request_t *r,
    ngx_http_recsys_ctx_t *ctx, u_char *p, size_t len);
static ngx_int_t ngx_http_recsys_rank(ngx_http_request_t *r,
    ngx_http_recsys_ctx_t *ctx, recsys_hit_t *hits, uint32_t *nhits);
static size_t ngx_http_recsys_explain_len(ngx_http_recsys_ctx_t *ctx,
    recsys_because_t *because, uint32_t nbecause);
static char *ngx_http_recsys_explain(char *p, ngx_http_recsys_ctx_t *ctx,
    ngx_http_recsys_answer_t *ans, recsys_hit_t *hit, uint32_t i,
    recsys_because_t *because, uint32_t nbecause);
static ngx_int_t ngx_http_recsys_server_timing(ngx_http_request_t *r,
    ngx_http_recsys_stats_t *st);
static void ngx_http_recsys_cleanup(void *data);


ngx_int_t
ngx_http_recsys_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_str_t                    allow;
    ngx_uint_t                   methods;
    ngx_pool_cleanup_t          *cln;
    ngx_http_recsys_ctx_t       *ctx;
    ngx_http_recsys_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_recsys_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_recsys_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_recsys_module);

    ctx->stats.endpoint = rlcf->endpoint;
    ctx->stats.catalog = rlcf->catalog->name;
    ctx->stats.level = -1;

    switch (rlcf->endpoint) {

    case NGX_HTTP_RECSYS_SEARCH:
        methods = NGX_HTTP_POST;
        ngx_str_set(&allow, "POST");
        break;

    case NGX_HTTP_RECSYS_RECOMMENDATIONS:
        methods = NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST;
        ngx_str_set(&allow, "GET, HEAD, POST");
        break;

    default:
        methods = NGX_HTTP_GET|NGX_HTTP_HEAD;
        ngx_str_set(&allow, "GET, HEAD");
    }

    if (!(r->method & methods)) {
        return ngx_http_recsys_method_not_allowed(r, &allow);
    }

    if (r->method != NGX_HTTP_POST) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return ngx_http_recsys_send_status(r, rc);
        }

        return ngx_http_recsys_process(r, ctx);
    }

    return ngx_http_recsys_body_read(r, rlcf->max_body_size,
                                     ngx_http_recsys_body_handler);
}


static void
ngx_http_recsys_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_http_recsys_ctx_t       *ctx;
    ngx_http_recsys_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_recsys_module);

    rc = ngx_http_recsys_body_get(r, rlcf->max_body_size, &ctx->body);

    if (rc == NGX_OK) {
        rc = ngx_http_recsys_process(r, ctx);

    } else if (rc == NGX_DECLINED) {
        rc = ngx_http_recsys_body_too_large(r, rlcf->max_body_size);
    }

    ngx_http_finalize_request(r, rc);
}


static ngx_int_t
ngx_http_recsys_process(ngx_http_request_t *r, ngx_http_recsys_ctx_t *ctx)
{
    int                           rc, want;
    uint32_t                      nhits, n;
    uint64_t                      start;
    recsys_hit_t                 *hits;
    recsys_query_t               *q;
    ngx_http_recsys_catalog_t    *catalog;
    ngx_http_recsys_answer_t      ans;
    ngx_http_recsys_loc_conf_t   *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_module);
    catalog = rlcf->catalog;
    q = &ctx->query;

    start = ngx_http_recsys_now_us();

    rc = recsys_query_parse_args(q, (char *) r->args.data, r->args.len,
                                 rlcf->default_k, rlcf->max_k);

    if (rc == RECSYS_REQ_OK && r->method == NGX_HTTP_POST) {
        want = rlcf->endpoint == NGX_HTTP_RECSYS_SEARCH
               ? RECSYS_WANT_VECTOR : RECSYS_WANT_HISTORY;

        rc = recsys_query_parse_json(q, (char *) ctx->body.data,
                                     ctx->body.len, want,
                                     catalog->conf->index.dimension,
                                     rlcf->max_k);

        if (rc == RECSYS_REQ_BATCH) {
            ctx->stats.parse_us = ngx_http_recsys_now_us() - start;
            return ngx_http_recsys_batch(r, ctx);
        }
    }

    ctx->stats.parse_us = ngx_http_recsys_now_us() - start;
    ctx->stats.k = q->k;

    if (rc == RECSYS_REQ_OK) {
        rc = recsys_query_check_vector(q, catalog->conf->index.metric);
    }

    if (rc != RECSYS_REQ_OK) {
        return ngx_http_recsys_send_error(r, rc, q->code, "%s", q->error);
    }

    rc = ngx_http_recsys_profile_select(r, catalog, q, &ctx->profile);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_recsys_send_error(r, NGX_HTTP_BAD_REQUEST,
                                          "unknown_profile",
                                          "no profile \"%*s\" in catalog "
                                          "\"%V\"", q->profile.len,
                                          q->profile.data, &catalog->name);
    }

    n = q->k;

    if (ctx->profile) {
        ctx->stats.profile.data = (u_char *) ctx->profile->name;
        ctx->stats.profile.len = ngx_strlen(ctx->profile->name);
        ctx->stats.profile_no = ctx->profile
                                - catalog->conf->ranking.profiles + 1;

        /* the candidates re-scored: at least k, so that k remain */
        n = ngx_max(n, ctx->profile->candidates);
    }

    ctx->gen = ngx_http_recsys_index_acquire(catalog, r->connection->log);

    if (ctx->gen == NULL) {
        return ngx_http_recsys_unavailable(r);
    }

    hits = ngx_palloc(r->pool, n * sizeof(recsys_hit_t));
    if (hits == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&ans, sizeof(ngx_http_recsys_answer_t));
    ans.level = -1;

    rc = ngx_http_recsys_answer(r, ctx, hits, &nhits, &ans);

    if (rc == NGX_DECLINED) {
        return ngx_http_recsys_send_error(r, ans.status, ans.code, "%*s",
                                          ans.message_len, ans.message);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    ctx->stats.strategy = ans.strategy;
    ctx->stats.fallback = ans.fallback;
    ctx->stats.level = ans.level;
    ctx->stats.returned = nhits;
    ctx->stats.generation = ctx->gen->gen.manifest.generation;

    return ngx_http_recsys_send_items(r, ctx, hits, nhits, &ans);
}


/* 503 with Retry-After: the catalog has no generation to answer from */

static ngx_int_t
ngx_http_recsys_unavailable(ngx_http_request_t *r)
{
    ngx_str_t                    value;
    ngx_http_recsys_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_module);

    value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value.len = ngx_sprintf(value.data, "%T", rlcf->retry_after)
                - value.data;

    if (ngx_http_recsys_add_header(r, "Retry-After", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_recsys_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "index_unavailable",
                                      "no index is available for "
                                      "catalog \"%V\"",
                                      &rlcf->catalog->name);
}


/*
 * {"queries": [...]}: every query parsed and answered as if it were the
 * body alone, from one generation, into {"results": [...]} in order; a
 * query's error is its result and fails no other.  The vector queries of
 * search have their IVF lists found in one FAISS call.
 */

static ngx_int_t
ngx_http_recsys_batch(ngx_http_request_t *r, ngx_http_recsys_ctx_t *ctx)
{
    u_char                      *start, *p;
    size_t                       i, n, len;
    ngx_int_t                    rc;
    uint64_t                     t0;
    recsys_lists_t               lists;
    ngx_http_recsys_one_t       *one;
    ngx_http_recsys_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_module);

    /* the body's tree stays with the batch; each query has its own */
    ctx->batch = ngx_palloc(r->pool, sizeof(recsys_query_t));
    if (ctx->batch == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *ctx->batch = ctx->query;
    ngx_memzero(&ctx->query, sizeof(recsys_query_t));

    rc = recsys_batch_count(ctx->batch, rlcf->max_batch, &n);

    if (rc != RECSYS_REQ_OK) {
        return ngx_http_recsys_send_error(r, rc, ctx->batch->code, "%s",
                                          ctx->batch->error);
    }

    one = ngx_pcalloc(r->pool, (n + 1) * sizeof(ngx_http_recsys_one_t));
    if (one == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_recsys_batch_parse(r, ctx, one, n);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx->gen = ngx_http_recsys_index_acquire(rlcf->catalog,
                                             r->connection->log);
    if (ctx->gen == NULL) {
        return ngx_http_recsys_unavailable(r);
    }

    ngx_memzero(&lists, sizeof(recsys_lists_t));

    if (rlcf->endpoint == NGX_HTTP_RECSYS_SEARCH
        && ngx_http_recsys_batch_lists(r, ctx, one, n, &lists) == NGX_OK)
    {
        ctx->lists = &lists;
    }

    rc = NGX_OK;
    len = sizeof("{\"results\":[],\"count\":,\"generation\":}\n")
          + 2 * NGX_INT64_LEN;

    for (i = 0; i < n; i++) {
        ctx->list = one[i].list;
        rc = ngx_http_recsys_batch_one(r, ctx, &one[i]);
        if (rc != NGX_OK) {
            break;
        }

        len += one[i].len + 1;
    }

    recsys_search_lists_free(&lists);
    ctx->lists = NULL;

    if (rc != NGX_OK) {
        return rc;
    }

    t0 = ngx_http_recsys_now_us();

    start = ngx_pnalloc(r->pool, len);
    if (start == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(start, "{\"results\":[", sizeof("{\"results\":[") - 1);

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, one[i].json, one[i].len);
    }

    p = ngx_sprintf(p, "],\"count\":%uz,\"generation\":%uL}\n", n,
                    ctx->gen->gen.manifest.generation);

    ctx->stats.serialize_us += ngx_http_recsys_now_us() - t0;
    ctx->stats.generation = ctx->gen->gen.manifest.generation;

    return ngx_http_recsys_send_answer(r, ctx, start, p - start);
}


/*
 * The batch's queries, each over the query string as a body alone would
 * be: a query refused here keeps its error in one[i].ans
 */

static ngx_int_t
ngx_http_recsys_batch_parse(ngx_http_request_t *r,
    ngx_http_recsys_ctx_t *ctx, ngx_http_recsys_one_t *one, size_t n)
{
    int                          want;
    size_t                       i;
    ngx_int_t                    rc;
    uint64_t                     start;
    recsys_query_t              *q;
    ngx_http_recsys_catalog_t   *catalog;
    ngx_http_recsys_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_module);
    catalog = rlcf->catalog;
    start = ngx_http_recsys_now_us();

    want = rlcf->endpoint == NGX_HTTP_RECSYS_SEARCH
           ? RECSYS_WANT_VECTOR : RECSYS_WANT_HISTORY;

    for (i = 0; i < n; i++) {
        q = &one[i].query;
        one[i].ans.level = -1;

        /* the query string was read once already: it parses the same */
        rc = recsys_query_parse_args(q, (char *) r->args.data, r->args.len,
                                     rlcf->default_k, rlcf->max_k);

        if (rc == RECSYS_REQ_OK) {
            rc = recsys_batch_next(ctx->batch, q, want,
                                   catalog->conf->index.dimension,
                                   rlcf->max_k);
        }

        if (rc == RECSYS_REQ_OK) {
            rc = recsys_query_check_vector(q, catalog->conf->index.metric);
        }

        if (rc != RECSYS_REQ_OK) {
            (void) ngx_http_recsys_refuse(&one[i].ans, rc, q->code, "%s",
                                          q->error);
            continue;
        }

        rc = ngx_http_recsys_profile_select(r, catalog, q, &one[i].profile);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_DECLINED) {
            (void) ngx_http_recsys_refuse(&one[i].ans, NGX_HTTP_BAD_REQUEST,
                                          "unknown_profile",
                                          "no profile \"%*s\" in catalog "
                                          "\"%V\"", q->profile.len,
                                          q->profile.data, &catalog->name);
        }
    }

    ctx->stats.parse_us += ngx_http_recsys_now_us() - start;

    return NGX_OK;
}


/*
 * The IVF lists of every vector query of a search batch in one FAISS
 * call; NGX_DECLINED when that failed and each query searches alone
 */

static ngx_int_t
ngx_http_recsys_batch_lists(ngx_http_request_t *r,
    ngx_http_recsys_ctx_t *ctx, ngx_http_recsys_one_t *one, size_t n,
    recsys_lists_t *lists)
{
    float                *vecs, *v;
    size_t                i, m, size;
    uint64_t              start;
    recsys_generation_t  *g;

    g = &ctx->gen->gen;
    size = g->manifest.dimension * sizeof(float);
    start = ngx_http_recsys_now_us();

    vecs = ngx_palloc(r->pool, (n + 1) * size);
    if (vecs == NULL) {
        return NGX_DECLINED;
    }

    m = 0;

    for (i = 0; i < n; i++) {
        if (one[i].ans.status == 0) {
            one[i].list = m;
            v = (float *) ((u_char *) vecs + m++ * size);
            ngx_memcpy(v, one[i].query.vector, size);

            /* the query searches the copy, normalized with the others */
            one[i].query.vector = v;
        }
    }

    if (recsys_search_lists(g, vecs, m, lists) != 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "recsys catalog \"%V\": the batch's coarse search "
                      "failed, its queries search alone",
                      &ctx->stats.catalog);

        /* normalized once already: each query then as a single search */
        return NGX_DECLINED;
    }

    ctx->stats.retrieve_us += ngx_http_recsys_now_us() - start;

    return NGX_OK;
}


/* one query of a batch answered into one->json, or its error */

static ngx_int_t
ngx_http_recsys_batch_one(ngx_http_request_t *r, ngx_http_recsys_ctx_t *ctx,
    ngx_http_recsys_one_t *one)
{
    uint32_t                     nhits, n;
    ngx_int_t                    rc;
    recsys_hit_t                *hits;
    ngx_http_recsys_stats_t      st;
    ngx_http_recsys_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_module);

    if (one->ans.status == 0) {
        /* the query is the context's while it is answered */
        ctx->query = one->query;
        ngx_memzero(&one->query, sizeof(recsys_query_t));

        ctx->profile = one->profile;
        ctx->cands = NULL;
        ngx_str_null(&ctx->stats.profile);
        ctx->stats.profile_no = 0;

        if (ctx->profile) {
            ctx->stats.profile.data = (u_char *) ctx->profile->name;
            ctx->stats.profile.len = ngx_strlen(ctx->profile->name);
            ctx->stats.profile_no = ctx->profile
                                    - rlcf->catalog->conf->ranking.profiles
                                    + 1;
        }
        ctx->examples = NULL;
        ctx->nexamples = 0;
        ctx->history = NULL;

        n = ctx->query.k;

        if (ctx->profile) {
            n = ngx_max(n, ctx->profile->candidates);
        }

        st = ctx->stats;

        hits = ngx_palloc(r->pool, n * sizeof(recsys_hit_t));

        rc = (hits == NULL) ? NGX_HTTP_INTERNAL_SERVER_ERROR
                            : ngx_http_recsys_answer(r, ctx, hits, &nhits,
                                                     &one->ans);

        /* the batch's stage times are the sums of its queries' */
        st.rank_us += ctx->stats.rank_us;
        st.retrieve_us += ctx->stats.retrieve_us;
        st.precomputed = 0;

        if (rc == NGX_OK) {
            st.returned += nhits;
            st.strategy = one->ans.strategy;
            st.k = ctx->query.k;

            one->json = ngx_http_recsys_items_json(r, ctx, hits, nhits,
                                                   &one->ans, &one->len);
            st.serialize_us += ctx->stats.serialize_us;

        } else if (rc != NGX_DECLINED) {
            /* a failure of this query alone: the others still answer */
            (void) ngx_http_recsys_refuse(&one->ans,
                                          NGX_HTTP_INTERNAL_SERVER_ERROR,
                                          "internal_error",
                                          "the server failed to answer "
                                          "this query");
        }

        ctx->stats = st;
        recsys_query_free(&ctx->query);
        ngx_memzero(&ctx->query, sizeof(recsys_query_t));
        ctx->profile = NULL;
        ctx->cands = NULL;

        if (one->json) {
            return NGX_OK;
        }
    }

    one->json = ngx_http_recsys_error_json(r, one->ans.status, one->ans.code,
                                           one->ans.message,
                                           one->ans.message_len, &one->len);

    return one->json ? NGX_OK : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static ngx_int_t
ngx_http_recsys_answer(ngx_http_request_t *r, ngx_http_recsys_ctx_t *ctx,
    recsys_hit_t *hits, uint32_t *nhits, ngx_http_recsys_answer_t *ans)
{
    int                          rc;
    float                       *vec;
    size_t                       i, nrows, nhist, nneg;
    uint64_t                     start, mid;
    int64_t                      row, cat;
    uint32_t                    *rows;
    ngx_str_t                    id;
    recsys_user_t                user;
    recsys_query_t              *q;
    recsys_filter_t              f;
    recsys_generation_t         *g;
    ngx_http_recsys_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_module);
    g = &ctx->gen->gen;
    q = &ctx->query;

    start = ngx_http_recsys_now_us();

    cat = RECSYS_CATEGORY_ANY;

    if (q->has_category && q->category.len) {
        cat = recsys_items_category_find(&g->items, q->category.data,
                                         q->category.len);
        if (cat < 0) {
            cat = RECSYS_CATEGORY_NONE;
        }
    }

    ngx_memzero(&user, sizeof(recsys_user_t));

    if (rlcf->endpoint == NGX_HTTP_RECSYS_RECOMMENDATIONS && q->user.len) {
        row = recsys_users_find(&g->users, q->user.data, q->user.len);

        if (row >= 0) {
            recsys_users_get(&g->users, (uint32_t) row, &user);
        }
    }

    /*
     * One exclusion list: the known positive rows first (history, then
     * "positive"; they are also the query), the negative rows, then the
     * rows of "exclude", "seen" and the stored user's seen list; unknown
     * ids are skipped.
     */
    rows = ngx_palloc(r->pool,
                      (q->nhistory + q->npositive + q->nnegative
                       + q->nexclude + q->nseen + user.nseen + 1)
                      * sizeof(uint32_t));
    if (rows == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    nrows = 0;
    nneg = 0;

    if (rlcf->endpoint == NGX_HTTP_RECSYS_RECOMMENDATIONS) {
        ans->ignored = ngx_palloc(r->pool,
                                  (q->nhistory + q->npositive + q->nnegative
                                   + 1) * sizeof(recsys_str_t));
        if (ans->ignored == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_recsys_find_rows(g, q->history, q->nhistory, rows, &nrows,
                                  ans);
        ngx_http_recsys_find_rows(g, q->positive, q->npositive, rows,
                                  &nrows, ans);
        nhist = nrows;
        ngx_http_recsys_find_rows(g, q->negative, q->nnegative, rows,
                                  &nrows, ans);
        nneg = nrows - nhist;
    }

    nhist = nrows - nneg;   /* 0 for the other endpoints */
    ctx->examples = rows;
    ctx->nexamples = nhist;

    for (i = 0; i < q->nexclude; i++) {
        row = recsys_items_find(&g->items, q->exclude[i].data,
                                q->exclude[i].len);
        if (row >= 0) {
            rows[nrows++] = (uint32_t) row;
        }
    }

    if (rlcf->endpoint == NGX_HTTP_RECSYS_RECOMMENDATIONS) {
        nrows += ngx_http_recsys_user_rows(ctx, &user, rows + nrows);
    }

    f.k = ctx->profile ? ngx_max(q->k, ctx->profile->candidates) : q->k;
    f.exclude = rows;
    f.nexclude = nrows;
    f.category = cat;

    vec = NULL;

    if (rlcf->endpoint == NGX_HTTP_RECSYS_RECOMMENDATIONS
        && (nhist || q->npositive_vectors))
    {
        vec = ngx_palloc(r->pool, g->manifest.dimension * sizeof(float));
        if (vec == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* one query of every example: one search, one FAISS call */
        if (recsys_recommend_query(g, rows, nhist, q->positive_vectors,
                                   q->npositive_vectors, rows + nhist, nneg,
                                   rlcf->catalog->conf->ranking
                                   .negative_weight, vec)
            != 0)
        {
            vec = NULL;
        }
    }

    mid = ngx_http_recsys_now_us();
    ctx->stats.rank_us = mid - start;

    switch (rlcf->endpoint) {

    case NGX_HTTP_RECSYS_SIMILAR:
        if (ngx_http_recsys_item_id(r, &id) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (id.len == 0) {
            return ngx_http_recsys_refuse(ans, NGX_HTTP_BAD_REQUEST,
                                          "bad_parameter",
                                          "the item id is empty");
        }

        row = recsys_items_find(&g->items, (char *) id.data, id.len);

        if (row < 0) {
            return ngx_http_recsys_refuse(ans, NGX_HTTP_NOT_FOUND,
                                          "item_not_found",
                                          "no item \"%V\" in catalog "
                                          "\"%V\"", &id,
                                          &rlcf->catalog->name);
        }

        ans->strategy = NGX_HTTP_RECSYS_STRATEGY_SIMILAR;

        /* neighbors.bin answers without FAISS when its list suffices */
        rc = recsys_search_neighbors(g, (uint32_t) row, &f, hits, nhits);

        if (rc == 1) {
            ctx->stats.precomputed = 1;
            rc = 0;

        } else if (rc == 0) {
            rc = recsys_search_similar(g, (uint32_t) row, &f, hits, nhits);
        }

        break;

    case NGX_HTTP_RECSYS_SEARCH:
        ans->strategy = NGX_HTTP_RECSYS_STRATEGY_VECTOR;

        if (ctx->lists) {
            rc = recsys_search_vector_lists(g, q->vector, ctx->lists,
                                            ctx->list, &f, hits, nhits);

        } else {
            rc = recsys_search_vector(g, q->vector, &f, hits, nhits);
        }

        break;

    case NGX_HTTP_RECSYS_RECOMMENDATIONS:
        rc = ngx_http_recsys_recommend(r, ctx, vec, &user, &f, hits, nhits,
                                       ans);
        if (rc != NGX_OK) {
            return rc;
        }

        break;

    default:
        /* popular answers are not re-scored: k of them, not candidates */
        f.k = q->k;
        ans->strategy = NGX_HTTP_RECSYS_STRATEGY_POPULAR;
        rc = recsys_search_popular(g, &f, hits, nhits);
    }

    ctx->stats.retrieve_us = ngx_http_recsys_now_us() - mid;

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "recsys catalog \"%V\": %V search failed",
                      &rlcf->catalog->name,
                      &ngx_http_recsys_strategy_names[ans->strategy]);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (recsys_hits_finite(hits, *nhits)) {
        if (ctx->profile == NULL
            || ans->strategy == NGX_HTTP_RECSYS_STRATEGY_POPULAR)
        {
            return NGX_OK;
        }

        return ngx_http_recsys_rank(r, ctx, hits, nhits);
    }

    /* a float score overflowed: no answer may show inf or NaN */

    if (rlcf->endpoint == NGX_HTTP_RECSYS_SEARCH) {
        return ngx_http_recsys_refuse(ans, NGX_HTTP_RECSYS_UNPROCESSABLE,
                                      "vector_too_large",
                                      "the vector's scores overflow "
                                      "float32");
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "recsys catalog \"%V\": a %V score overflows float32, "
                  "the catalog's vectors are too large",
                  &rlcf->catalog->name,
                  &ngx_http_recsys_strategy_names[ans->strategy]);

    return ngx_http_recsys_refuse(ans, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                  "internal_error",
                                  "a score overflows float32");
}


/* the rows of known ids appended to rows; unknown ones to ans->ignored */

static void
ngx_http_recsys_find_rows(recsys_generation_t *g, recsys_str_t *ids,
    size_t n, uint32_t *rows, size_t *nrows, ngx_http_recsys_answer_t *ans)
{
    size_t   i;
    int64_t  row;

    for (i = 0; i < n; i++) {
        row = recsys_items_find(&g->items, ids[i].data, ids[i].len);

        if (row < 0) {
            ans->ignored[ans->nignored++] = ids[i];

        } else {
            rows[(*nrows)++] = (uint32_t) row;
        }
    }
}


/*
 * The search's candidates re-scored under the request's profile; hits
 * become the answer, the candidates stay for explain
 */

static ngx_int_t
ngx_http_recsys_rank(ngx_http_request_t *r, ngx_http_recsys_ctx_t *ctx,
    recsys_hit_t *hits, uint32_t *nhits)
{
    double         *work;
    uint32_t        i, n;
    uint64_t        start;
    recsys_cand_t  *c;

    start = ngx_http_recsys_now_us();

    c = ngx_palloc(r->pool, (*nhits + 1) * sizeof(recsys_cand_t));
    work = ngx_palloc(r->pool, (*nhits + 1) * sizeof(double));

    if (c == NULL || work == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) recsys_recommend_rank(&ctx->gen->gen, ctx->profile, ngx_time(),
                                 hits, *nhits, ctx->query.k, c, work, &n);

    for (i = 0; i < n; i++) {
        hits[i].row = c[i].row;
        hits[i].score = (float) c[i].score;
    }

    *nhits = n;
    ctx->cands = c;
    ctx->stats.rank_us += ngx_http_recsys_now_us() - start;

    return NGX_OK;
}


/*
 * The rows of "seen" and of the stored user's seen list, into rows; unknown
 * ids are skipped
 */

static size_t
ngx_http_recsys_user_rows(ngx_http_recsys_ctx_t *ctx, recsys_user_t *user,
    uint32_t *rows)
{
    size_t           i, n;
    int64_t          row;
    recsys_query_t  *q;

    q = &ctx->query;
    n = 0;

    for (i = 0; i < q->nseen; i++) {
        row = recsys_items_find(&ctx->gen->gen.items, q->seen[i].data,
                                q->seen[i].len);
        if (row >= 0) {
            rows[n++] = (uint32_t) row;
        }
    }

    if (user->nseen) {
        ngx_memcpy(rows + n, user->seen, user->nseen * sizeof(uint32_t));
        n += user->nseen;
    }

    return n;
}


/*
 * recommendations: the fallback chain from the stored user's vector, the
 * history or positive/negative query, popular in the category, popular.
 * A level that fails (a search error, scores that overflow) is logged
 * and the next answers.  The popular levels return k items, the others
 * f->k (a profile's candidates, re-scored by the caller).
 */

static ngx_int_t
ngx_http_recsys_recommend(ngx_http_request_t *r, ngx_http_recsys_ctx_t *ctx,
    float *history, recsys_user_t *user, recsys_filter_t *f,
    recsys_hit_t *hits, uint32_t *nhits, ngx_http_recsys_answer_t *ans)
{
    int                          level;
    float                       *uvec;
    size_t                       size;
    recsys_chain_t               chain;
    recsys_query_t              *q;
    recsys_generation_t         *g;
    ngx_http_recsys_loc_conf_t  *rlcf;

    static ngx_uint_t  strategies[RECSYS_NLEVELS] = {
        NGX_HTTP_RECSYS_STRATEGY_USER, NGX_HTTP_RECSYS_STRATEGY_HISTORY,
        NGX_HTTP_RECSYS_STRATEGY_POPULAR, NGX_HTTP_RECSYS_STRATEGY_POPULAR
    };

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_module);
    g = &ctx->gen->gen;
    q = &ctx->query;

    ngx_memzero(&chain, sizeof(recsys_chain_t));

    if (q->user.len) {
        chain.asked |= RECSYS_LEVEL_BIT(RECSYS_LEVEL_USER);
    }

    /* positive examples are the history level too */
    if (q->nhistory || q->npositive || q->npositive_vectors) {
        chain.asked |= RECSYS_LEVEL_BIT(RECSYS_LEVEL_HISTORY);
    }

    /* the search normalizes its query: the mapped vector is read-only */
    if (user->vector) {
        size = g->manifest.dimension * sizeof(float);

        uvec = ngx_palloc(r->pool, size);
        if (uvec == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(uvec, user->vector, size);
        chain.query[RECSYS_LEVEL_USER] = uvec;
    }

    chain.query[RECSYS_LEVEL_HISTORY] = history;
    ctx->history = history;

    /* a plain history: the trained item-item model when there is one */
    if (history && ctx->nexamples && g->itemsim.nitems
        && q->nnegative == 0 && q->npositive_vectors == 0)
    {
        chain.search = ngx_http_recsys_chain_search;
        chain.data = ctx;
    }

    chain.filter = *f;
    chain.k = q->k;
    chain.category_asked = q->has_category;

    if (recsys_chain_run(g, &chain, hits, nhits) != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (level = 0; level < RECSYS_NQUERY_LEVELS; level++) {
        if (chain.failed & RECSYS_LEVEL_BIT(level)) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "recsys catalog \"%V\": the %s level failed "
                          "(a search error or scores that overflow "
                          "float32), a lower level answers",
                          &rlcf->catalog->name, recsys_level_names[level]);
        }
    }

    ans->level = chain.level;
    ans->fallback = chain.fallback;
    ans->strategy = strategies[chain.level];

    return NGX_OK;
}


/* the chain's history level through itemsim.bin, the others by vector */

static int
ngx_http_recsys_chain_search(void *data, const recsys_generation_t *g,
    float *query, const recsys_filter_t *f, recsys_hit_t *out,
    uint32_t *nout)
{
    ngx_http_recsys_ctx_t  *ctx = data;

    if (query == ctx->history) {
        return recsys_search_itemsim(g, ctx->examples, ctx->nexamples, f,
                                     out, nout);
    }

    return recsys_search_vector(g, query, f, out, nout);
}


/*
 * Keeps a client error for ngx_http_recsys_process() to send; the message
 * may be cut here mid-character: the JSON writer cuts it again, shorter,
 * on a character boundary
 */

static ngx_int_t
ngx_http_recsys_refuse(ngx_http_recsys_answer_t *ans, ngx_uint_t status,
    const char *code, const char *fmt, ...)
{
    va_list  args;

    ans->status = status;
    ans->code = code;

    va_start(args, fmt);
    ans->message_len = ngx_vslprintf(ans->message,
                                     ans->message + sizeof(ans->message),
                                     fmt, args)
                       - ans->message;
    va_end(args);

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_recsys_item_id(ngx_http_request_t *r, ngx_str_t *id)
{
    recsys_str_t                 s;
    ngx_http_recsys_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_module);

    if (rlcf->item_id) {
        return ngx_http_complex_value(r, rlcf->item_id, id);
    }

    recsys_uri_item_id((char *) r->uri.data, r->uri.len, &s);

    id->data = (u_char *) s.data;
    id->len = s.len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_recsys_send_items(ngx_http_request_t *r, ngx_http_recsys_ctx_t *ctx,
    recsys_hit_t *hits, uint32_t n, ngx_http_recsys_answer_t *ans)
{
    u_char  *p;
    size_t   len;

    p = ngx_http_recsys_items_json(r, ctx, hits, n, ans, &len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p[len++] = '\n';

    return ngx_http_recsys_send_answer(r, ctx, p, len);
}


/* the answer's JSON object, one byte to spare after it */

static u_char *
ngx_http_recsys_items_json(ngx_http_request_t *r, ngx_http_recsys_ctx_t *ctx,
    recsys_hit_t *hits, uint32_t n, ngx_http_recsys_answer_t *ans,
    size_t *outlen)
{
    char                  *p, *start;
    size_t                 len;
    uint32_t               i, dim, *nbecause;
    uint64_t               t0;
    const float          **history;
    ngx_str_t             *strategy;
    recsys_item_t          it;
    recsys_because_t      *because;
    recsys_generation_t   *g;

    g = &ctx->gen->gen;
    t0 = ngx_http_recsys_now_us();
    strategy = &ngx_http_recsys_strategy_names[ans->strategy];
    because = NULL;
    nbecause = NULL;

    len = sizeof("{\"items\":[],\"count\":,\"k\":,\"generation\":,"
                 "\"strategy\":\"\",\"fallback\":false,"
                 "\"fallback_level\":\"popular_category\"}\n")
          + 3 * NGX_INT64_LEN + strategy->len;

    if (ctx->profile) {
        len += sizeof(",\"profile\":\"\"") + ctx->stats.profile.len;
    }

    /* the history items behind each item, once for length and output */
    if (ctx->query.explain && ctx->nexamples && n) {
        because = ngx_palloc(r->pool, (size_t) n * RECSYS_RANK_BECAUSE
                                      * sizeof(recsys_because_t));
        nbecause = ngx_palloc(r->pool, n * sizeof(uint32_t));
        history = ngx_palloc(r->pool, ctx->nexamples * sizeof(float *));
        if (because == NULL || nbecause == NULL || history == NULL) {
            return NULL;
        }

        dim = g->manifest.dimension;

        for (i = 0; i < ctx->nexamples; i++) {
            history[i] = g->vectors + (size_t) ctx->examples[i] * dim;
        }

        for (i = 0; i < n; i++) {
            nbecause[i] = recsys_rank_because(dim,
                              g->vectors + (size_t) hits[i].row * dim,
                              history, ctx->nexamples, RECSYS_RANK_BECAUSE,
                              &because[i * RECSYS_RANK_BECAUSE]);
        }
    }

    for (i = 0; i < n; i++) {
        recsys_items_get(&g->items, hits[i].row, &it);

        if (ctx->query.explain) {
            len += ngx_http_recsys_explain_len(ctx,
                       because ? &because[i * RECSYS_RANK_BECAUSE] : NULL,
                       because ? nbecause[i] : 0);
        }

        len += sizeof("{\"id\":,\"score\":,\"title\":,"
                      "\"category\":,\"attributes\":},")
               + RECSYS_JSON_NUMBER_LEN
               + recsys_json_str_len(it.id, it.id_len, RECSYS_JSON_NO_LIMIT)
               + recsys_json_str_len(it.title, it.title_len,
                                     RECSYS_JSON_NO_LIMIT)
               + recsys_json_str_len(it.category, it.category_len,
                                     RECSYS_JSON_NO_LIMIT)
               + recsys_json_raw_len(it.attributes, it.attributes_len);
    }

    if (ans->nignored) {
        len += sizeof(",\"ignored_history\":[]");

        for (i = 0; i < ans->nignored; i++) {
            len += sizeof(",")
                   + recsys_json_str_len(ans->ignored[i].data,
                                         ans->ignored[i].len,
                                         RECSYS_JSON_NO_LIMIT);
        }
    }

    start = ngx_pnalloc(r->pool, len);
    if (start == NULL) {
        return NULL;
    }

    p = ngx_http_recsys_cpy(start, "{\"items\":[");

    for (i = 0; i < n; i++) {
        recsys_items_get(&g->items, hits[i].row, &it);

        if (i) {
            *p++ = ',';
        }

        p = ngx_http_recsys_cpy(p, "{\"id\":");
        p = recsys_json_str(p, it.id, it.id_len, RECSYS_JSON_NO_LIMIT);
        p = ngx_http_recsys_cpy(p, ",\"score\":");
        p = recsys_json_number(p, ctx->cands ? ctx->cands[i].score
                                             : hits[i].score,
                               NGX_HTTP_RECSYS_SCORE_DIGITS);

        if (it.title) {
            p = ngx_http_recsys_cpy(p, ",\"title\":");
            p = recsys_json_str(p, it.title, it.title_len,
                                RECSYS_JSON_NO_LIMIT);
        }

        if (it.category) {
            p = ngx_http_recsys_cpy(p, ",\"category\":");
            p = recsys_json_str(p, it.category, it.category_len,
                                RECSYS_JSON_NO_LIMIT);
        }

        if (it.attributes) {
            p = ngx_http_recsys_cpy(p, ",\"attributes\":");
            p = recsys_json_raw(p, it.attributes, it.attributes_len);
        }

        if (ctx->query.explain) {
            p = ngx_http_recsys_explain(p, ctx, ans, &hits[i], i,
                        because ? &because[i * RECSYS_RANK_BECAUSE] : NULL,
                        because ? nbecause[i] : 0);
        }

        *p++ = '}';
    }

    p = (char *) ngx_sprintf((u_char *) p,
                             "],\"count\":%uD,\"k\":%uD,\"generation\":%uL,"
                             "\"strategy\":\"%V\",\"fallback\":%s",
                             n, ctx->query.k, g->manifest.generation,
                             strategy, ans->fallback ? "true" : "false");

    if (ans->level >= 0) {
        p = (char *) ngx_sprintf((u_char *) p, ",\"fallback_level\":\"%s\"",
                                 recsys_level_names[ans->level]);
    }

    if (ctx->profile) {
        p = (char *) ngx_sprintf((u_char *) p, ",\"profile\":\"%V\"",
                                 &ctx->stats.profile);
    }

    if (ans->nignored) {
        p = ngx_http_recsys_cpy(p, ",\"ignored_history\":[");

        for (i = 0; i < ans->nignored; i++) {
            if (i) {
                *p++ = ',';
            }

            p = recsys_json_str(p, ans->ignored[i].data, ans->ignored[i].len,
                                RECSYS_JSON_NO_LIMIT);
        }

        *p++ = ']';
    }

    *p++ = '}';

    ctx->stats.serialize_us = ngx_http_recsys_now_us() - t0;
    *outlen = p - start;

    return (u_char *) start;
}


/* a 200 answer with its Server-Timing and X-Index-Generation */

static ngx_int_t
ngx_http_recsys_send_answer(ngx_http_request_t *r, ngx_http_recsys_ctx_t *ctx,
    u_char *p, size_t len)
{
    ngx_str_t  value;

    if (ngx_http_recsys_server_timing(r, &ctx->stats) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value.data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value.len = ngx_sprintf(value.data, "%uL",
                            ctx->gen->gen.manifest.generation)
                - value.data;

    if (ngx_http_recsys_add_header(r, "X-Index-Generation", &value)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_recsys_send_json(r, NGX_HTTP_OK, p, len);
}


/*
 * "explain" of one item: the profile's parts of its score; without a
 * profile (or for popular items) the score's one source
 */

static size_t
ngx_http_recsys_explain_len(ngx_http_recsys_ctx_t *ctx,
    recsys_because_t *because, uint32_t nbecause)
{
    size_t               len;
    uint32_t             j;
    recsys_generation_t *g;
    recsys_item_t        it;

    g = &ctx->gen->gen;

    len = sizeof(",\"explain\":{\"similarity\":,\"popularity\":,"
                 "\"freshness\":,\"boost\":,\"mmr_penalty\":,"
                 "\"final\":}")
          + 6 * RECSYS_JSON_NUMBER_LEN;

    if (because == NULL) {
        return len;
    }

    len += sizeof(",\"because\":[]");

    for (j = 0; j < nbecause; j++) {
        recsys_items_get(&g->items, ctx->examples[because[j].index], &it);
        len += sizeof("{\"id\":,\"similarity\":},")
               + RECSYS_JSON_NUMBER_LEN
               + recsys_json_str_len(it.id, it.id_len, RECSYS_JSON_NO_LIMIT);
    }

    return len;
}


static char *
ngx_http_recsys_explain(char *p, ngx_http_recsys_ctx_t *ctx,
    ngx_http_recsys_answer_t *ans, recsys_hit_t *hit, uint32_t i,
    recsys_because_t *because, uint32_t nbecause)
{
    uint32_t             j;
    recsys_item_t        it;
    recsys_explain_t     e;
    recsys_generation_t *g;

    g = &ctx->gen->gen;

    if (ctx->cands) {
        recsys_rank_explain(ctx->profile, &ctx->cands[i], &e);

    } else {
        ngx_memzero(&e, sizeof(recsys_explain_t));
        e.score = hit->score;

        if (ans->strategy == NGX_HTTP_RECSYS_STRATEGY_POPULAR) {
            e.popularity = hit->score;

        } else {
            e.similarity = hit->score;
        }
    }

    p = ngx_http_recsys_cpy(p, ",\"explain\":{\"similarity\":");
    p = recsys_json_number(p, e.similarity, NGX_HTTP_RECSYS_SCORE_DIGITS);
    p = ngx_http_recsys_cpy(p, ",\"popularity\":");
    p = recsys_json_number(p, e.popularity, NGX_HTTP_RECSYS_SCORE_DIGITS);
    p = ngx_http_recsys_cpy(p, ",\"freshness\":");
    p = recsys_json_number(p, e.freshness, NGX_HTTP_RECSYS_SCORE_DIGITS);
    p = ngx_http_recsys_cpy(p, ",\"boost\":");
    p = recsys_json_number(p, e.boost, NGX_HTTP_RECSYS_SCORE_DIGITS);
    p = ngx_http_recsys_cpy(p, ",\"mmr_penalty\":");
    p = recsys_json_number(p, e.mmr_penalty, NGX_HTTP_RECSYS_SCORE_DIGITS);
    p = ngx_http_recsys_cpy(p, ",\"final\":");
    p = recsys_json_number(p, e.score, NGX_HTTP_RECSYS_SCORE_DIGITS);

    if (because) {
        p = ngx_http_recsys_cpy(p, ",\"because\":[");

        for (j = 0; j < nbecause; j++) {
            recsys_items_get(&g->items, ctx->examples[because[j].index],
                             &it);

            if (j) {
                *p++ = ',';
            }

            p = ngx_http_recsys_cpy(p, "{\"id\":");
            p = recsys_json_str(p, it.id, it.id_len, RECSYS_JSON_NO_LIMIT);
            p = ngx_http_recsys_cpy(p, ",\"similarity\":");
            p = recsys_json_number(p, because[j].similarity,
                                   NGX_HTTP_RECSYS_SCORE_DIGITS);
            *p++ = '}';
        }

        *p++ = ']';
    }

    *p++ = '}';

    return p;
}


static ngx_int_t
ngx_http_recsys_server_timing(ngx_http_request_t *r,
    ngx_http_recsys_stats_t *st)
{
    ngx_str_t  value;

    value.data = ngx_pnalloc(r->pool, 4 * (sizeof("serialize;dur=, ")
                                           + NGX_INT64_LEN + 4)
                                      + sizeof(";desc=neighbors"));
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    /*
     * milliseconds with microsecond resolution, as the header wants;
     * desc says when precomputed neighbors answered instead of a search
     */
    value.len = ngx_sprintf(value.data,
                            "parse;dur=%uL.%03uL, rank;dur=%uL.%03uL, "
                            "retrieve;dur=%uL.%03uL%s, "
                            "serialize;dur=%uL.%03uL",
                            st->parse_us / 1000, st->parse_us % 1000,
                            st->rank_us / 1000, st->rank_us % 1000,
                            st->retrieve_us / 1000, st->retrieve_us % 1000,
                            st->precomputed ? ";desc=neighbors" : "",
                            st->serialize_us / 1000, st->serialize_us % 1000)
                - value.data;

    return ngx_http_recsys_add_header(r, "Server-Timing", &value);
}


ngx_http_recsys_stats_t *
ngx_http_recsys_get_stats(ngx_http_request_t *r)
{
    ngx_http_recsys_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_recsys_module);

    return ctx ? &ctx->stats : NULL;
}


static void
ngx_http_recsys_cleanup(void *data)
{
    ngx_http_recsys_ctx_t  *ctx = data;

    recsys_query_free(&ctx->query);
    recsys_query_free(ctx->batch);

    if (ctx->gen) {
        ngx_http_recsys_index_release(ctx->gen);
        ctx->gen = NULL;
    }
}
