
/*
 * ngx_http_recsys_timing_module: the timing log's fields as variables,
 * for nginx's own log module (log_format ... escape=json, access_log
 * with buffer=, flush=, gzip, if= and syslog); conf/recsys-timing.conf
 * has the log_format.
 *
 * The request's start in microseconds, stamped in POST_READ, is here
 * too, for $recsys_duration_ms and the metrics' durations; the stamp is
 * taken only when one of them is used.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_recsys_module.h"
#include "ngx_http_recsys_response.h"
#include "recsys_chain.h"
#include "recsys_json.h"


/* what each variable reports, its "data" */
typedef enum {
    NGX_HTTP_RECSYS_TIMING_ENDPOINT = 0,
    NGX_HTTP_RECSYS_TIMING_CATALOG,
    NGX_HTTP_RECSYS_TIMING_STRATEGY,
    NGX_HTTP_RECSYS_TIMING_PROFILE,
    NGX_HTTP_RECSYS_TIMING_K,
    NGX_HTTP_RECSYS_TIMING_RETURNED,
    NGX_HTTP_RECSYS_TIMING_FALLBACK,
    NGX_HTTP_RECSYS_TIMING_GENERATION,
    NGX_HTTP_RECSYS_TIMING_PARSE,
    NGX_HTTP_RECSYS_TIMING_RANK,
    NGX_HTTP_RECSYS_TIMING_RETRIEVE,
    NGX_HTTP_RECSYS_TIMING_SERIALIZE
} ngx_http_recsys_timing_field_e;


typedef struct {
    ngx_flag_t                  stamp;      /* the POST_READ handler is in */
} ngx_http_recsys_timing_main_conf_t;


typedef struct {
    uint64_t                    start_us;
} ngx_http_recsys_timing_ctx_t;


static ngx_int_t ngx_http_recsys_timing_post_read_handler(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_recsys_timing_stats_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_recsys_timing_time_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_recsys_timing_duration_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_recsys_timing_uri_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_recsys_timing_ms(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uint64_t us);
static void ngx_http_recsys_timing_cleanup(void *data);

static ngx_int_t ngx_http_recsys_timing_add_variables(ngx_conf_t *cf);
static void *ngx_http_recsys_timing_create_main_conf(ngx_conf_t *cf);
static ngx_int_t ngx_http_recsys_timing_init(ngx_conf_t *cf);


static ngx_http_module_t  ngx_http_recsys_timing_module_ctx = {
    ngx_http_recsys_timing_add_variables,  /* preconfiguration */
    ngx_http_recsys_timing_init,           /* postconfiguration */

    ngx_http_recsys_timing_create_main_conf,   /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_recsys_timing_module = {
    NGX_MODULE_V1,
    &ngx_http_recsys_timing_module_ctx,    /* module context */
    NULL,                                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_recsys_timing_duration_name =
    ngx_string("recsys_duration_ms");


static ngx_http_variable_t  ngx_http_recsys_timing_vars[] = {

    { ngx_string("recsys_time"), NULL,
      ngx_http_recsys_timing_time_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("recsys_duration_ms"), NULL,
      ngx_http_recsys_timing_duration_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("recsys_request_uri"), NULL,
      ngx_http_recsys_timing_uri_variable, 0, 0, 0 },

    { ngx_string("recsys_endpoint"), NULL,
      ngx_http_recsys_timing_stats_variable,
      NGX_HTTP_RECSYS_TIMING_ENDPOINT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("recsys_catalog"), NULL,
      ngx_http_recsys_timing_stats_variable,
      NGX_HTTP_RECSYS_TIMING_CATALOG, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("recsys_strategy"), NULL,
      ngx_http_recsys_timing_stats_variable,
      NGX_HTTP_RECSYS_TIMING_STRATEGY, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("recsys_profile"), NULL,
      ngx_http_recsys_timing_stats_variable,
      NGX_HTTP_RECSYS_TIMING_PROFILE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("recsys_k"), NULL,
      ngx_http_recsys_timing_stats_variable,
      NGX_HTTP_RECSYS_TIMING_K, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("recsys_returned"), NULL,
      ngx_http_recsys_timing_stats_variable,
      NGX_HTTP_RECSYS_TIMING_RETURNED, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("recsys_fallback"), NULL,
      ngx_http_recsys_timing_stats_variable,
      NGX_HTTP_RECSYS_TIMING_FALLBACK, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("recsys_generation"), NULL,
      ngx_http_recsys_timing_stats_variable,
      NGX_HTTP_RECSYS_TIMING_GENERATION, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("recsys_parse_ms"), NULL,
      ngx_http_recsys_timing_stats_variable,
      NGX_HTTP_RECSYS_TIMING_PARSE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("recsys_rank_ms"), NULL,
      ngx_http_recsys_timing_stats_variable,
      NGX_HTTP_RECSYS_TIMING_RANK, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("recsys_retrieve_ms"), NULL,
      ngx_http_recsys_timing_stats_variable,
      NGX_HTTP_RECSYS_TIMING_RETRIEVE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("recsys_serialize_ms"), NULL,
      ngx_http_recsys_timing_stats_variable,
      NGX_HTTP_RECSYS_TIMING_SERIALIZE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_recsys_timing_post_read_handler(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_recsys_timing_ctx_t  *ctx;

    if (ngx_http_get_module_ctx(r, ngx_http_recsys_timing_module)) {
        return NGX_DECLINED;
    }

    /* the cleanup finds the stamp again after an internal redirect */
    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_recsys_timing_ctx_t));
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = cln->data;
    ctx->start_us = ngx_http_recsys_now_us();

    cln->handler = ngx_http_recsys_timing_cleanup;

    ngx_http_set_ctx(r, ctx, ngx_http_recsys_timing_module);

    return NGX_DECLINED;
}


/* the fields of a request a recsys handler answered, or refused */

static ngx_int_t
ngx_http_recsys_timing_stats_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                   *p;
    ngx_str_t                 s;
    ngx_uint_t                n;
    ngx_http_recsys_stats_t  *st;

    st = ngx_http_recsys_get_stats(r->main);

    if (st == NULL) {
        goto not_found;
    }

    switch (data) {

    case NGX_HTTP_RECSYS_TIMING_ENDPOINT:
        if (st->endpoint == 0 || st->endpoint >= NGX_HTTP_RECSYS_ENDPOINTS) {
            goto not_found;
        }

        s = ngx_http_recsys_endpoint_names[st->endpoint];
        goto string;

    case NGX_HTTP_RECSYS_TIMING_CATALOG:
        s = st->catalog;
        goto string;

    /* a refused request has no strategy, and no generation answered it */

    case NGX_HTTP_RECSYS_TIMING_STRATEGY:
        if (st->strategy == NGX_HTTP_RECSYS_NO_STRATEGY) {
            goto not_found;
        }

        s = ngx_http_recsys_strategy_names[st->strategy];
        goto string;

    case NGX_HTTP_RECSYS_TIMING_GENERATION:
        if (st->strategy == NGX_HTTP_RECSYS_NO_STRATEGY) {
            goto not_found;
        }

        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;
        v->len = ngx_sprintf(p, "%uL", st->generation) - p;
        goto found;

    case NGX_HTTP_RECSYS_TIMING_PROFILE:
        if (st->profile.len == 0) {
            goto not_found;
        }

        s = st->profile;
        goto string;

    case NGX_HTTP_RECSYS_TIMING_FALLBACK:
        if (!st->fallback || st->level < 0 || st->level >= RECSYS_NLEVELS) {
            goto not_found;
        }

        s.data = (u_char *) recsys_level_names[st->level];
        s.len = ngx_strlen(s.data);
        goto string;

    /* k is 0 when the query was refused before it was read */

    case NGX_HTTP_RECSYS_TIMING_K:
    case NGX_HTTP_RECSYS_TIMING_RETURNED:
        n = (data == NGX_HTTP_RECSYS_TIMING_K) ? st->k : st->returned;

        if (data == NGX_HTTP_RECSYS_TIMING_K && n == 0) {
            goto not_found;
        }

        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;
        v->len = ngx_sprintf(p, "%ui", n) - p;
        goto found;

    case NGX_HTTP_RECSYS_TIMING_PARSE:
        return ngx_http_recsys_timing_ms(r, v, st->parse_us);

    case NGX_HTTP_RECSYS_TIMING_RANK:
        return ngx_http_recsys_timing_ms(r, v, st->rank_us);

    case NGX_HTTP_RECSYS_TIMING_RETRIEVE:
        return ngx_http_recsys_timing_ms(r, v, st->retrieve_us);

    default: /* NGX_HTTP_RECSYS_TIMING_SERIALIZE */
        return ngx_http_recsys_timing_ms(r, v, st->serialize_us);
    }

string:

    if (s.len == 0) {
        goto not_found;
    }

    v->data = s.data;
    v->len = s.len;

found:

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;

not_found:

    v->not_found = 1;

    return NGX_OK;
}


/* now in UTC to the millisecond: $time_iso8601 is local, in seconds */

static ngx_int_t
ngx_http_recsys_timing_time_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char      *p;
    ngx_tm_t     tm;
    ngx_time_t  *tp;

    p = ngx_pnalloc(r->pool, sizeof("1970-01-01T00:00:00.000Z") - 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    tp = ngx_timeofday();
    ngx_gmtime(tp->sec, &tm);

    v->len = ngx_sprintf(p, "%4d-%02d-%02dT%02d:%02d:%02d.%03MZ",
                         tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                         tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                         tp->msec)
             - p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_recsys_timing_duration_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    return ngx_http_recsys_timing_ms(r, v, ngx_http_recsys_request_us(r));
}


/*
 * Microseconds from POST_READ (the request header read) to now; a request
 * refused before POST_READ, or whose configuration took no stamp, is
 * measured from its start time, in milliseconds.
 */

uint64_t
ngx_http_recsys_request_us(ngx_http_request_t *r)
{
    ngx_time_t                    *tp;
    ngx_msec_int_t                 ms;
    ngx_pool_cleanup_t            *cln;
    ngx_http_recsys_timing_ctx_t  *ctx;

    r = r->main;

    ctx = ngx_http_get_module_ctx(r, ngx_http_recsys_timing_module);

    if (ctx == NULL && r->internal) {
        for (cln = r->pool->cleanup; cln; cln = cln->next) {
            if (cln->handler == ngx_http_recsys_timing_cleanup) {
                ctx = cln->data;
                break;
            }
        }
    }

    if (ctx) {
        return ngx_http_recsys_now_us() - ctx->start_us;
    }

    tp = ngx_timeofday();

    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));

    return (uint64_t) ngx_max(ms, 0) * 1000;
}


/*
 * $request_uri with each invalid UTF-8 sequence replaced by U+FFFD:
 * escape=json escapes quotes and control characters but copies other
 * bytes, and a JSON line must be UTF-8.
 */

static ngx_int_t
ngx_http_recsys_timing_uri_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char  *p;
    size_t   len;

    r = r->main;

    if (r->unparsed_uri.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    len = recsys_json_raw_len((char *) r->unparsed_uri.data,
                              r->unparsed_uri.len);

    if (len == r->unparsed_uri.len) {
        /* valid UTF-8 (raw copies it unchanged): no copy needed */
        v->data = r->unparsed_uri.data;

    } else {
        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        (void) recsys_json_raw((char *) p, (char *) r->unparsed_uri.data,
                               r->unparsed_uri.len);
        v->data = p;
    }

    v->len = len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_recsys_timing_ms(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uint64_t us)
{
    u_char  *p;

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN + sizeof(".000") - 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%uL.%03uL", us / 1000, us % 1000) - p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static void
ngx_http_recsys_timing_cleanup(void *data)
{
    /* nothing to free: the cleanup only marks the context */
}


static ngx_int_t
ngx_http_recsys_timing_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_recsys_timing_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_recsys_timing_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_recsys_timing_main_conf_t  *rtmcf;

    rtmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_recsys_timing_main_conf_t));
    if (rtmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     rtmcf->stamp = 0;
     */

    return rtmcf;
}


/* the POST_READ stamp, once, when $recsys_duration_ms is used */

static ngx_int_t
ngx_http_recsys_timing_init(ngx_conf_t *cf)
{
    ngx_uint_t                  i;
    ngx_http_variable_t        *v;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    /* every variable a directive used so far is indexed by its name */
    v = cmcf->variables.elts;

    for (i = 0; i < cmcf->variables.nelts; i++) {
        if (v[i].name.len == ngx_http_recsys_timing_duration_name.len
            && ngx_strncasecmp(v[i].name.data,
                               ngx_http_recsys_timing_duration_name.data,
                               v[i].name.len)
               == 0)
        {
            return ngx_http_recsys_request_stamp(cf);
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_recsys_request_stamp(ngx_conf_t *cf)
{
    ngx_http_handler_pt                 *h;
    ngx_http_core_main_conf_t           *cmcf;
    ngx_http_recsys_timing_main_conf_t  *rtmcf;

    rtmcf = ngx_http_conf_get_module_main_conf(cf,
                                               ngx_http_recsys_timing_module);

    if (rtmcf->stamp) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_recsys_timing_post_read_handler;

    rtmcf->stamp = 1;

    return NGX_OK;
}
