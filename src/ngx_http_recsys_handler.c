
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
#include "recsys_json.h"
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
} ngx_http_recsys_ctx_t;


typedef struct {
    ngx_uint_t                  strategy;     /* ngx_http_recsys_strategy_e */
    ngx_uint_t                  fallback;
    recsys_str_t               *ignored;      /* unknown history ids */
    size_t                      nignored;
    ngx_uint_t                  status;       /* a client error, if any */
    const char                 *code;
    size_t                      message_len;
    u_char                      message[NGX_HTTP_RECSYS_MESSAGE_MAX + 4];
} ngx_http_recsys_answer_t;


static void ngx_http_recsys_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_recsys_process(ngx_http_request_t *r,
    ngx_http_recsys_ctx_t *ctx);
static ngx_int_t ngx_http_recsys_answer(ngx_http_request_t *r,
    ngx_http_recsys_ctx_t *ctx, recsys_hit_t *hits, uint32_t *nhits,
    ngx_http_recsys_answer_t *ans);
static ngx_int_t ngx_http_recsys_refuse(ngx_http_recsys_answer_t *ans,
    ngx_uint_t status, const char *code, const char *fmt, ...);
static ngx_int_t ngx_http_recsys_item_id(ngx_http_request_t *r,
    ngx_str_t *id);
static ngx_int_t ngx_http_recsys_send_items(ngx_http_request_t *r,
    ngx_http_recsys_ctx_t *ctx, recsys_hit_t *hits, uint32_t n,
    ngx_http_recsys_answer_t *ans);
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
    uint32_t                      nhits;
    uint64_t                      start;
    ngx_str_t                     value;
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
    }

    ctx->stats.parse_us = ngx_http_recsys_now_us() - start;
    ctx->stats.k = q->k;

    if (rc == RECSYS_REQ_OK) {
        rc = recsys_query_check_vector(q, catalog->conf->index.metric);
    }

    if (rc != RECSYS_REQ_OK) {
        return ngx_http_recsys_send_error(r, rc, q->code, "%s", q->error);
    }

    ctx->gen = ngx_http_recsys_index_acquire(catalog, r->connection->log);

    if (ctx->gen == NULL) {
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
                                          "catalog \"%V\"", &catalog->name);
    }

    hits = ngx_palloc(r->pool, q->k * sizeof(recsys_hit_t));
    if (hits == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&ans, sizeof(ngx_http_recsys_answer_t));

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
    ctx->stats.returned = nhits;
    ctx->stats.generation = ctx->gen->gen.manifest.generation;

    return ngx_http_recsys_send_items(r, ctx, hits, nhits, &ans);
}


static ngx_int_t
ngx_http_recsys_answer(ngx_http_request_t *r, ngx_http_recsys_ctx_t *ctx,
    recsys_hit_t *hits, uint32_t *nhits, ngx_http_recsys_answer_t *ans)
{
    int                          rc;
    float                       *vec;
    size_t                       i, nrows, nhist;
    uint64_t                     start, mid;
    int64_t                      row, cat;
    uint32_t                    *rows;
    ngx_str_t                    id;
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

    /*
     * One exclusion list: the known history rows first (they are also the
     * query), then the rows of "exclude"; unknown ids are skipped.
     */
    rows = ngx_palloc(r->pool,
                      (q->nhistory + q->nexclude + 1) * sizeof(uint32_t));
    if (rows == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    nrows = 0;

    if (rlcf->endpoint == NGX_HTTP_RECSYS_RECOMMENDATIONS) {
        ans->ignored = ngx_palloc(r->pool,
                                  (q->nhistory + 1) * sizeof(recsys_str_t));
        if (ans->ignored == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        for (i = 0; i < q->nhistory; i++) {
            row = recsys_items_find(&g->items, q->history[i].data,
                                    q->history[i].len);
            if (row < 0) {
                ans->ignored[ans->nignored++] = q->history[i];

            } else {
                rows[nrows++] = (uint32_t) row;
            }
        }
    }

    nhist = nrows;

    for (i = 0; i < q->nexclude; i++) {
        row = recsys_items_find(&g->items, q->exclude[i].data,
                                q->exclude[i].len);
        if (row >= 0) {
            rows[nrows++] = (uint32_t) row;
        }
    }

    f.k = q->k;
    f.exclude = rows;
    f.nexclude = nrows;
    f.category = cat;

    vec = NULL;

    if (rlcf->endpoint == NGX_HTTP_RECSYS_RECOMMENDATIONS && nhist) {
        vec = ngx_palloc(r->pool, g->manifest.dimension * sizeof(float));
        if (vec == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        recsys_history_vector(g, rows, nhist, vec);
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
        rc = recsys_search_vector(g, q->vector, &f, hits, nhits);
        break;

    case NGX_HTTP_RECSYS_RECOMMENDATIONS:
        if (vec) {
            ans->strategy = NGX_HTTP_RECSYS_STRATEGY_HISTORY;
            rc = recsys_search_vector(g, vec, &f, hits, nhits);
            break;
        }

        /* nothing known about this visitor: the popular items answer */
        ans->fallback = 1;

        /* fall through */

    default:
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
        return NGX_OK;
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
    char                  *p, *start;
    size_t                 len;
    uint32_t               i;
    uint64_t               t0;
    ngx_str_t              value, *strategy;
    recsys_item_t          it;
    recsys_generation_t   *g;

    g = &ctx->gen->gen;
    t0 = ngx_http_recsys_now_us();
    strategy = &ngx_http_recsys_strategy_names[ans->strategy];

    len = sizeof("{\"items\":[],\"count\":,\"k\":,\"generation\":,"
                 "\"strategy\":\"\",\"fallback\":false}\n")
          + 3 * NGX_INT64_LEN + strategy->len;

    for (i = 0; i < n; i++) {
        recsys_items_get(&g->items, hits[i].row, &it);

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
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
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
        p = recsys_json_number(p, hits[i].score,
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

        *p++ = '}';
    }

    p = (char *) ngx_sprintf((u_char *) p,
                             "],\"count\":%uD,\"k\":%uD,\"generation\":%uL,"
                             "\"strategy\":\"%V\",\"fallback\":%s",
                             n, ctx->query.k, g->manifest.generation,
                             strategy, ans->fallback ? "true" : "false");

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
    *p++ = '\n';

    ctx->stats.serialize_us = ngx_http_recsys_now_us() - t0;

    if (ngx_http_recsys_server_timing(r, &ctx->stats) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value.data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value.len = ngx_sprintf(value.data, "%uL", g->manifest.generation)
                - value.data;

    if (ngx_http_recsys_add_header(r, "X-Index-Generation", &value)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_recsys_send_json(r, NGX_HTTP_OK, (u_char *) start,
                                     p - start);
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

    if (ctx->gen) {
        ngx_http_recsys_index_release(ctx->gen);
        ctx->gen = NULL;
    }
}
