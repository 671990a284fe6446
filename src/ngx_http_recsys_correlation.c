
/*
 * ngx_http_recsys_correlation_module: one correlation id per request.
 *
 * A valid incoming id is kept, anything else is replaced by a new random
 * one; the id is written back into the request headers (so proxy_pass
 * forwards it), sent on every response, exposed as $recsys_correlation_id
 * and appended to the request's error.log lines.  The id is computed once
 * per request, on first use: early in POST_READ when the server enables
 * it, in REWRITE when only the location does, or by whoever asks first
 * (the header filter, the variable, the other recsys modules).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_recsys_module.h"
#include "recsys_correlation.h"


typedef struct {
    ngx_flag_t                  enabled;    /* "on" somewhere */
    ngx_int_t                   request_id;
} ngx_http_recsys_correlation_main_conf_t;


typedef struct {
    ngx_flag_t                  enable;
    ngx_flag_t                  traceparent;
    ngx_str_t                   header;
    ngx_str_t                   header_lc;
    ngx_uint_t                  header_hash;
} ngx_http_recsys_correlation_loc_conf_t;


typedef struct {
    ngx_str_t                   id;
    ngx_http_log_handler_pt     log_handler;
    ngx_uint_t                  replaced;   /* an invalid id was sent */
    u_char                      data[RECSYS_CORRELATION_ID_MAX];
} ngx_http_recsys_correlation_ctx_t;


static ngx_int_t ngx_http_recsys_correlation_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_recsys_correlation_header_filter(
    ngx_http_request_t *r);
static ngx_http_recsys_correlation_ctx_t *ngx_http_recsys_correlation_get(
    ngx_http_request_t *r, ngx_http_recsys_correlation_loc_conf_t *rclcf);
static ngx_http_recsys_correlation_ctx_t *
    ngx_http_recsys_correlation_find_ctx(ngx_http_request_t *r);
static ngx_int_t ngx_http_recsys_correlation_choose(ngx_http_request_t *r,
    ngx_http_recsys_correlation_loc_conf_t *rclcf,
    ngx_http_recsys_correlation_ctx_t *ctx);
static ngx_int_t ngx_http_recsys_correlation_set_request_header(
    ngx_http_request_t *r, ngx_http_recsys_correlation_loc_conf_t *rclcf,
    ngx_str_t *id);
static u_char *ngx_http_recsys_correlation_log_error(ngx_http_request_t *r,
    ngx_http_request_t *sr, u_char *buf, size_t len);
static void ngx_http_recsys_correlation_cleanup(void *data);
static ngx_int_t ngx_http_recsys_correlation_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static ngx_int_t ngx_http_recsys_correlation_add_variables(ngx_conf_t *cf);
static void *ngx_http_recsys_correlation_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_recsys_correlation_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_recsys_correlation_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_recsys_correlation_header(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_recsys_correlation_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_recsys_correlation_commands[] = {

    { ngx_string("recsys_correlation_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_recsys_correlation_loc_conf_t, enable),
      NULL },

    { ngx_string("recsys_correlation_id_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_recsys_correlation_header,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("recsys_correlation_id_traceparent"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_recsys_correlation_loc_conf_t, traceparent),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_recsys_correlation_module_ctx = {
    ngx_http_recsys_correlation_add_variables,  /* preconfiguration */
    ngx_http_recsys_correlation_init,      /* postconfiguration */

    ngx_http_recsys_correlation_create_main_conf,  /* create main conf */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_recsys_correlation_create_loc_conf,   /* create location conf */
    ngx_http_recsys_correlation_merge_loc_conf     /* merge location conf */
};


ngx_module_t  ngx_http_recsys_correlation_module = {
    NGX_MODULE_V1,
    &ngx_http_recsys_correlation_module_ctx,   /* module context */
    ngx_http_recsys_correlation_commands,  /* module directives */
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


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


static ngx_str_t  ngx_http_recsys_correlation_var_name =
    ngx_string("recsys_correlation_id");
static ngx_str_t  ngx_http_recsys_correlation_request_id =
    ngx_string("request_id");
static ngx_str_t  ngx_http_recsys_correlation_default_header =
    ngx_string("X-Correlation-ID");
static ngx_str_t  ngx_http_recsys_correlation_traceparent_header =
    ngx_string("traceparent");


/*
 * Runs in POST_READ, where the server's configuration applies, and again
 * in REWRITE, where the location's does: the id is computed as early as
 * the configuration allows, before any upstream request is built.
 */

static ngx_int_t
ngx_http_recsys_correlation_handler(ngx_http_request_t *r)
{
    ngx_http_recsys_correlation_loc_conf_t  *rclcf;

    rclcf = ngx_http_get_module_loc_conf(r,
                                         ngx_http_recsys_correlation_module);

    if (!rclcf->enable) {
        return NGX_DECLINED;
    }

    if (ngx_http_recsys_correlation_get(r, rclcf) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_recsys_correlation_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t                               i, found;
    ngx_list_part_t                         *part;
    ngx_table_elt_t                         *h;
    ngx_http_recsys_correlation_ctx_t       *ctx;
    ngx_http_recsys_correlation_loc_conf_t  *rclcf;

    rclcf = ngx_http_get_module_loc_conf(r,
                                         ngx_http_recsys_correlation_module);

    if (r != r->main || !rclcf->enable) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_recsys_correlation_get(r, rclcf);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    /* one header: ours replaces any an upstream sent */
    found = 0;
    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0
            || h[i].key.len != rclcf->header.len
            || ngx_strncasecmp(h[i].key.data, rclcf->header.data,
                               rclcf->header.len)
               != 0)
        {
            continue;
        }

        if (found) {
            h[i].hash = 0;
            continue;
        }

        h[i].value = ctx->id;
        found = 1;
    }

    if (!found) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        h->key = rclcf->header;
        h->value = ctx->id;
        h->lowcase_key = rclcf->header_lc.data;
    }

    return ngx_http_next_header_filter(r);
}


ngx_str_t *
ngx_http_recsys_correlation_id(ngx_http_request_t *r)
{
    ngx_http_recsys_correlation_ctx_t       *ctx;
    ngx_http_recsys_correlation_loc_conf_t  *rclcf;

    rclcf = ngx_http_get_module_loc_conf(r,
                                         ngx_http_recsys_correlation_module);

    if (!rclcf->enable) {
        return NULL;
    }

    ctx = ngx_http_recsys_correlation_get(r, rclcf);

    return ctx ? &ctx->id : NULL;
}


static ngx_http_recsys_correlation_ctx_t *
ngx_http_recsys_correlation_get(ngx_http_request_t *r,
    ngx_http_recsys_correlation_loc_conf_t *rclcf)
{
    ngx_pool_cleanup_t                 *cln;
    ngx_http_recsys_correlation_ctx_t  *ctx;

    r = r->main;

    ctx = ngx_http_recsys_correlation_find_ctx(r);
    if (ctx) {
        return ctx;
    }

    /* the cleanup finds the context again after an internal redirect */
    cln = ngx_pool_cleanup_add(r->pool,
                               sizeof(ngx_http_recsys_correlation_ctx_t));
    if (cln == NULL) {
        return NULL;
    }

    ctx = cln->data;
    ngx_memzero(ctx, sizeof(ngx_http_recsys_correlation_ctx_t));

    if (ngx_http_recsys_correlation_choose(r, rclcf, ctx) != NGX_OK) {
        return NULL;
    }

    if (ngx_http_recsys_correlation_set_request_header(r, rclcf, &ctx->id)
        != NGX_OK)
    {
        return NULL;
    }

    cln->handler = ngx_http_recsys_correlation_cleanup;

    ngx_http_set_ctx(r, ctx, ngx_http_recsys_correlation_module);

    ctx->log_handler = r->log_handler;
    r->log_handler = ngx_http_recsys_correlation_log_error;

    /* the value itself is never logged: it may be anything */
    if (ctx->replaced) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "client sent invalid \"%V\" header, "
                      "a new correlation id is used", &rclcf->header);
    }

    return ctx;
}


static ngx_http_recsys_correlation_ctx_t *
ngx_http_recsys_correlation_find_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t                 *cln;
    ngx_http_recsys_correlation_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_recsys_correlation_module);

    if (ctx || !r->internal) {
        return ctx;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_recsys_correlation_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r, ctx, ngx_http_recsys_correlation_module);
            return ctx;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_recsys_correlation_choose(ngx_http_request_t *r,
    ngx_http_recsys_correlation_loc_conf_t *rclcf,
    ngx_http_recsys_correlation_ctx_t *ctx)
{
    ngx_uint_t                                i;
    ngx_list_part_t                          *part;
    ngx_table_elt_t                          *h, *id, *tp;
    ngx_http_variable_value_t                *v;
    ngx_http_recsys_correlation_main_conf_t  *rcmcf;

    id = NULL;
    tp = NULL;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (id == NULL
            && h[i].key.len == rclcf->header.len
            && ngx_strncasecmp(h[i].key.data, rclcf->header.data,
                               rclcf->header.len)
               == 0)
        {
            id = &h[i];

        } else if (tp == NULL
                   && rclcf->traceparent
                   && h[i].key.len == sizeof("traceparent") - 1
                   && ngx_strncasecmp(h[i].key.data,
                                      (u_char *) "traceparent",
                                      sizeof("traceparent") - 1)
                      == 0)
        {
            tp = &h[i];
        }
    }

    if (id) {
        if (recsys_correlation_id_valid(id->value.data, id->value.len)) {
            ctx->id.data = ctx->data;
            ctx->id.len = ngx_cpymem(ctx->data, id->value.data,
                                     id->value.len)
                          - ctx->data;

            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "recsys correlation id \"%V\" kept", &ctx->id);
            return NGX_OK;
        }

        ctx->replaced = 1;
    }

    if (tp && recsys_traceparent_valid(tp->value.data, tp->value.len)) {
        ctx->id.data = ctx->data;
        ctx->id.len = ngx_cpymem(ctx->data,
                                 tp->value.data + RECSYS_TRACEPARENT_TRACE_ID,
                                 RECSYS_TRACEPARENT_TRACE_LEN)
                      - ctx->data;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "recsys correlation id \"%V\" from traceparent",
                       &ctx->id);
        return NGX_OK;
    }

    /* $request_id: 128 random bits as 32 lowercase hex digits */
    rcmcf = ngx_http_get_module_main_conf(r,
                                          ngx_http_recsys_correlation_module);

    v = ngx_http_get_indexed_variable(r, rcmcf->request_id);

    if (v == NULL || v->not_found || v->len == 0
        || v->len > RECSYS_CORRELATION_ID_MAX)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "recsys correlation id: no $request_id");
        return NGX_ERROR;
    }

    ctx->id.data = ctx->data;
    ctx->id.len = ngx_cpymem(ctx->data, v->data, v->len) - ctx->data;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "recsys correlation id \"%V\" generated", &ctx->id);

    return NGX_OK;
}


static ngx_int_t
ngx_http_recsys_correlation_set_request_header(ngx_http_request_t *r,
    ngx_http_recsys_correlation_loc_conf_t *rclcf, ngx_str_t *id)
{
    ngx_uint_t        i, found;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    /* a request refused before its headers were parsed has no list */
    if (r->headers_in.headers.part.elts == NULL) {
        return NGX_OK;
    }

    /* every copy gets the id, so no invalid value is forwarded */
    found = 0;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == rclcf->header.len
            && ngx_strncasecmp(h[i].key.data, rclcf->header.data,
                               rclcf->header.len)
               == 0)
        {
            h[i].value = *id;
            found = 1;
        }
    }

    if (found) {
        return NGX_OK;
    }

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = rclcf->header_hash;
    h->key = rclcf->header;
    h->value = *id;
    h->lowcase_key = rclcf->header_lc.data;

    return NGX_OK;
}


static u_char *
ngx_http_recsys_correlation_log_error(ngx_http_request_t *r,
    ngx_http_request_t *sr, u_char *buf, size_t len)
{
    u_char                             *p;
    ngx_http_recsys_correlation_ctx_t  *ctx;

    ctx = ngx_http_recsys_correlation_find_ctx(r);

    if (ctx == NULL) {
        /* cannot happen: the handler is installed with the context */
        return buf;
    }

    p = ctx->log_handler(r, sr, buf, len);
    len -= p - buf;

    return ngx_snprintf(p, len, ", correlation_id: %V", &ctx->id);
}


static void
ngx_http_recsys_correlation_cleanup(void *data)
{
    /* nothing to free: the cleanup only marks the context */
}


static ngx_int_t
ngx_http_recsys_correlation_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t  *id;

    id = ngx_http_recsys_correlation_id(r);

    if (id == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = id->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = id->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_recsys_correlation_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &ngx_http_recsys_correlation_var_name,
                                NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_recsys_correlation_variable;

    return NGX_OK;
}


static void *
ngx_http_recsys_correlation_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_recsys_correlation_main_conf_t  *rcmcf;

    rcmcf = ngx_pcalloc(cf->pool,
                        sizeof(ngx_http_recsys_correlation_main_conf_t));
    if (rcmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     rcmcf->enabled = 0;
     */

    rcmcf->request_id = NGX_ERROR;

    return rcmcf;
}


static void *
ngx_http_recsys_correlation_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_recsys_correlation_loc_conf_t  *rclcf;

    rclcf = ngx_pcalloc(cf->pool,
                        sizeof(ngx_http_recsys_correlation_loc_conf_t));
    if (rclcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     rclcf->header = { 0, NULL };
     *     rclcf->header_lc = { 0, NULL };
     *     rclcf->header_hash = 0;
     */

    rclcf->enable = NGX_CONF_UNSET;
    rclcf->traceparent = NGX_CONF_UNSET;

    return rclcf;
}


static char *
ngx_http_recsys_correlation_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_recsys_correlation_loc_conf_t *prev = parent;
    ngx_http_recsys_correlation_loc_conf_t *conf = child;

    ngx_http_recsys_correlation_main_conf_t  *rcmcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_value(conf->traceparent, prev->traceparent, 0);

    if (conf->header.data == NULL) {
        if (prev->header.data) {
            conf->header = prev->header;
            conf->header_lc = prev->header_lc;
            conf->header_hash = prev->header_hash;

        } else {
            conf->header = ngx_http_recsys_correlation_default_header;

            conf->header_lc.len = conf->header.len;
            conf->header_lc.data = ngx_pnalloc(cf->pool, conf->header.len);
            if (conf->header_lc.data == NULL) {
                return NGX_CONF_ERROR;
            }

            conf->header_hash = ngx_hash_strlow(conf->header_lc.data,
                                                conf->header.data,
                                                conf->header.len);
        }
    }

    if (conf->enable) {
        rcmcf = ngx_http_conf_get_module_main_conf(cf,
                                          ngx_http_recsys_correlation_module);
        rcmcf->enabled = 1;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_recsys_correlation_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_recsys_correlation_loc_conf_t *rclcf = conf;

    u_char     *p, *last;
    ngx_str_t  *value;

    if (rclcf->header.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    last = value[1].data + value[1].len;

    for (p = value[1].data; p < last; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
        {
            break;
        }
    }

    if (value[1].len == 0 || p < last) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid header name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (value[1].len == ngx_http_recsys_correlation_traceparent_header.len
        && ngx_strncasecmp(value[1].data,
                           ngx_http_recsys_correlation_traceparent_header.data,
                           value[1].len)
           == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" cannot carry a correlation id, use "
                           "\"recsys_correlation_id_traceparent on\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    rclcf->header = value[1];

    rclcf->header_lc.len = value[1].len;
    rclcf->header_lc.data = ngx_pnalloc(cf->pool, value[1].len);
    if (rclcf->header_lc.data == NULL) {
        return NGX_CONF_ERROR;
    }

    rclcf->header_hash = ngx_hash_strlow(rclcf->header_lc.data,
                                         value[1].data, value[1].len);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_recsys_correlation_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt                      *h;
    ngx_http_core_main_conf_t                *cmcf;
    ngx_http_recsys_correlation_main_conf_t  *rcmcf;

    rcmcf = ngx_http_conf_get_module_main_conf(cf,
                                          ngx_http_recsys_correlation_module);

    if (!rcmcf->enabled) {
        return NGX_OK;
    }

    rcmcf->request_id = ngx_http_get_variable_index(cf,
                                      &ngx_http_recsys_correlation_request_id);
    if (rcmcf->request_id == NGX_ERROR) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_recsys_correlation_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_recsys_correlation_handler;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_recsys_correlation_header_filter;

    return NGX_OK;
}
