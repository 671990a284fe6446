
/*
 * ngx_http_recsys_timing_module: one JSON line per request in the LOG
 * phase, with the stages and the answer of the recsys handlers.
 *
 * The file is opened like access_log's (ngx_conf_open_file: O_APPEND,
 * reopened on USR1) and every write() carries whole lines, so lines from
 * several workers never interleave.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_recsys_module.h"


#define NGX_HTTP_RECSYS_TIMING_BUFFER  (64 * 1024)


typedef struct {
    ngx_flag_t                  used;
} ngx_http_recsys_timing_main_conf_t;


/* a buffered file's pending lines, in file->data */
typedef struct {
    u_char                     *start;
    u_char                     *pos;
    u_char                     *last;
    ngx_event_t                *event;
    ngx_msec_t                  flush;
} ngx_http_recsys_timing_buf_t;


typedef struct {
    ngx_open_file_t            *file;       /* NULL: off */
    ngx_http_complex_value_t   *filter;
    time_t                      error_log_time;
} ngx_http_recsys_timing_loc_conf_t;


typedef struct {
    uint64_t                    start_us;
} ngx_http_recsys_timing_ctx_t;


static ngx_int_t ngx_http_recsys_timing_post_read_handler(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_recsys_timing_log_handler(ngx_http_request_t *r);
static u_char *ngx_http_recsys_timing_stats(u_char *p,
    ngx_http_recsys_stats_t *st);
static uint64_t ngx_http_recsys_timing_duration(ngx_http_request_t *r);
static void ngx_http_recsys_timing_write(ngx_http_request_t *r,
    ngx_http_recsys_timing_loc_conf_t *rtlcf, u_char *line, size_t len);
static void ngx_http_recsys_timing_flush(ngx_open_file_t *file,
    ngx_log_t *log);
static void ngx_http_recsys_timing_flush_handler(ngx_event_t *ev);
static size_t ngx_http_recsys_timing_str_len(u_char *s, size_t len);
static u_char *ngx_http_recsys_timing_str(u_char *p, u_char *s, size_t len);
static size_t ngx_http_recsys_timing_escape(u_char *dst, u_char *src,
    size_t size);
static size_t ngx_http_recsys_timing_utf8(u_char *p, u_char *last);
static uint64_t ngx_http_recsys_timing_now_us(void);
static void ngx_http_recsys_timing_cleanup(void *data);

static void *ngx_http_recsys_timing_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_recsys_timing_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_recsys_timing_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_recsys_timing_log(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_recsys_timing_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_recsys_timing_commands[] = {

    { ngx_string("recsys_timing_log"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_recsys_timing_log,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_recsys_timing_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_recsys_timing_init,           /* postconfiguration */

    ngx_http_recsys_timing_create_main_conf,   /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_recsys_timing_create_loc_conf,    /* create location conf */
    ngx_http_recsys_timing_merge_loc_conf      /* merge location conf */
};


ngx_module_t  ngx_http_recsys_timing_module = {
    NGX_MODULE_V1,
    &ngx_http_recsys_timing_module_ctx,        /* module context */
    ngx_http_recsys_timing_commands,       /* module directives */
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


static ngx_str_t  ngx_http_recsys_timing_endpoints[] = {
    ngx_null_string,
    ngx_string("similar"),
    ngx_string("recommendations"),
    ngx_string("search"),
    ngx_string("popular"),
};


static ngx_int_t
ngx_http_recsys_timing_post_read_handler(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_recsys_timing_ctx_t  *ctx;

    if (ngx_http_get_module_ctx(r, ngx_http_recsys_timing_module)) {
        return NGX_DECLINED;
    }

    /*
     * Stamped for every request: a location may enable the log after
     * location matching.  The cleanup finds the context again after an
     * internal redirect cleared it.
     */
    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_recsys_timing_ctx_t));
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = cln->data;
    ctx->start_us = ngx_http_recsys_timing_now_us();

    cln->handler = ngx_http_recsys_timing_cleanup;

    ngx_http_set_ctx(r, ctx, ngx_http_recsys_timing_module);

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_recsys_timing_log_handler(ngx_http_request_t *r)
{
    u_char                             *line, *p;
    size_t                              len;
    uint64_t                            us;
    ngx_tm_t                            tm;
    ngx_str_t                           val, *cid;
    ngx_uint_t                          status;
    ngx_time_t                         *tp;
    const char                         *limit;
    ngx_http_recsys_stats_t            *st;
    ngx_http_recsys_timing_loc_conf_t  *rtlcf;

    rtlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_timing_module);

    if (rtlcf->file == NULL || r != r->main) {
        return NGX_OK;
    }

    if (rtlcf->filter) {
        if (ngx_http_complex_value(r, rtlcf->filter, &val) != NGX_OK) {
            return NGX_ERROR;
        }

        if (val.len == 0 || (val.len == 1 && val.data[0] == '0')) {
            return NGX_OK;
        }
    }

    cid = ngx_http_recsys_correlation_id(r);
    st = ngx_http_recsys_get_stats(r);
    limit = ngx_http_recsys_limit_outcome(r);

    us = ngx_http_recsys_timing_duration(r);

    /* as $status */
    if (r->err_status) {
        status = r->err_status;

    } else if (r->headers_out.status) {
        status = r->headers_out.status;

    } else if (r->http_version == NGX_HTTP_VERSION_9) {
        status = 9;

    } else {
        status = 0;
    }

    len = sizeof("{\"time\":\"1970-01-01T00:00:00.000Z\","
                 "\"correlation_id\":,\"method\":,\"uri\":,\"status\":,"
                 "\"client\":,\"duration_ms\":.,\"bytes_sent\":,"
                 "\"rate_limit\":}\n")
          + 4 * NGX_INT64_LEN
          + ngx_http_recsys_timing_str_len(cid ? cid->data : NULL,
                                           cid ? cid->len : 0)
          + ngx_http_recsys_timing_str_len(r->method_name.data,
                                           r->method_name.len)
          + ngx_http_recsys_timing_str_len(r->unparsed_uri.data,
                                           r->unparsed_uri.len)
          + ngx_http_recsys_timing_str_len(r->connection->addr_text.data,
                                           r->connection->addr_text.len)
          + ngx_http_recsys_timing_str_len((u_char *) limit,
                                           limit ? ngx_strlen(limit) : 0);

    if (st) {
        len += sizeof(",\"endpoint\":,\"catalog\":,\"strategy\":,\"k\":,"
                      "\"returned\":,\"fallback\":\"popular\","
                      "\"generation\":,\"stages\":{\"parse_ms\":.,"
                      "\"rank_ms\":.,\"retrieve_ms\":.,"
                      "\"serialize_ms\":.}")
               + 11 * NGX_INT64_LEN
               + sizeof("\"recommendations\"")
               + ngx_http_recsys_timing_str_len(st->catalog.data,
                                                st->catalog.len)
               + ngx_http_recsys_timing_str_len(
                     ngx_http_recsys_strategy_names[st->strategy].data,
                     ngx_http_recsys_strategy_names[st->strategy].len);
    }

    line = ngx_pnalloc(r->pool, len);
    if (line == NULL) {
        return NGX_ERROR;
    }

    tp = ngx_timeofday();
    ngx_gmtime(tp->sec, &tm);

    p = ngx_sprintf(line, "{\"time\":\"%4d-%02d-%02dT%02d:%02d:%02d.%03MZ\","
                    "\"correlation_id\":",
                    tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                    tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec, tp->msec);

    p = ngx_http_recsys_timing_str(p, cid ? cid->data : NULL,
                                   cid ? cid->len : 0);

    p = ngx_cpymem(p, ",\"method\":", sizeof(",\"method\":") - 1);
    p = ngx_http_recsys_timing_str(p, r->method_name.data,
                                   r->method_name.len);

    p = ngx_cpymem(p, ",\"uri\":", sizeof(",\"uri\":") - 1);
    p = ngx_http_recsys_timing_str(p, r->unparsed_uri.data,
                                   r->unparsed_uri.len);

    p = ngx_sprintf(p, ",\"status\":%ui,\"client\":", status);
    p = ngx_http_recsys_timing_str(p, r->connection->addr_text.data,
                                   r->connection->addr_text.len);

    p = ngx_sprintf(p, ",\"duration_ms\":%uL.%03uL,\"bytes_sent\":%O",
                    us / 1000, us % 1000, r->connection->sent);

    if (st) {
        p = ngx_http_recsys_timing_stats(p, st);
    }

    p = ngx_cpymem(p, ",\"rate_limit\":", sizeof(",\"rate_limit\":") - 1);
    p = ngx_http_recsys_timing_str(p, (u_char *) limit,
                                   limit ? ngx_strlen(limit) : 0);

    *p++ = '}';
    *p++ = '\n';

    ngx_http_recsys_timing_write(r, rtlcf, line, p - line);

    return NGX_OK;
}


static u_char *
ngx_http_recsys_timing_stats(u_char *p, ngx_http_recsys_stats_t *st)
{
    ngx_str_t  *ep;

    p = ngx_cpymem(p, ",\"endpoint\":", sizeof(",\"endpoint\":") - 1);

    if (st->endpoint
        && st->endpoint < sizeof(ngx_http_recsys_timing_endpoints)
                          / sizeof(ngx_str_t))
    {
        ep = &ngx_http_recsys_timing_endpoints[st->endpoint];
        p = ngx_sprintf(p, "\"%V\"", ep);

    } else {
        p = ngx_cpymem(p, "null", 4);
    }

    p = ngx_cpymem(p, ",\"catalog\":", sizeof(",\"catalog\":") - 1);
    p = ngx_http_recsys_timing_str(p, st->catalog.data, st->catalog.len);

    p = ngx_cpymem(p, ",\"strategy\":", sizeof(",\"strategy\":") - 1);
    p = ngx_http_recsys_timing_str(p,
            ngx_http_recsys_strategy_names[st->strategy].data,
            ngx_http_recsys_strategy_names[st->strategy].len);

    /* k is 0 when the query was refused before it was read */
    p = st->k ? ngx_sprintf(p, ",\"k\":%ui", st->k)
              : ngx_cpymem(p, ",\"k\":null", sizeof(",\"k\":null") - 1);

    p = ngx_sprintf(p, ",\"returned\":%ui,\"fallback\":%s",
                    st->returned, st->fallback ? "\"popular\"" : "null");

    /* only an answered request has a generation */
    p = st->strategy
        ? ngx_sprintf(p, ",\"generation\":%uL", st->generation)
        : ngx_cpymem(p, ",\"generation\":null",
                     sizeof(",\"generation\":null") - 1);

    return ngx_sprintf(p, ",\"stages\":{\"parse_ms\":%uL.%03uL,"
                       "\"rank_ms\":%uL.%03uL,\"retrieve_ms\":%uL.%03uL,"
                       "\"serialize_ms\":%uL.%03uL}",
                       st->parse_us / 1000, st->parse_us % 1000,
                       st->rank_us / 1000, st->rank_us % 1000,
                       st->retrieve_us / 1000, st->retrieve_us % 1000,
                       st->serialize_us / 1000, st->serialize_us % 1000);
}


/*
 * Microseconds from POST_READ (the request header read) to now; a request
 * refused before POST_READ falls back to its start time, in milliseconds.
 */

static uint64_t
ngx_http_recsys_timing_duration(ngx_http_request_t *r)
{
    ngx_time_t                    *tp;
    ngx_msec_int_t                 ms;
    ngx_pool_cleanup_t            *cln;
    ngx_http_recsys_timing_ctx_t  *ctx;

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
        return ngx_http_recsys_timing_now_us() - ctx->start_us;
    }

    tp = ngx_timeofday();

    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));

    return (uint64_t) ngx_max(ms, 0) * 1000;
}


static void
ngx_http_recsys_timing_write(ngx_http_request_t *r,
    ngx_http_recsys_timing_loc_conf_t *rtlcf, u_char *line, size_t len)
{
    time_t                         now;
    ssize_t                        n;
    ngx_err_t                      err;
    ngx_open_file_t               *file;
    ngx_http_recsys_timing_buf_t  *buf;

    file = rtlcf->file;

    buf = (file->flush == ngx_http_recsys_timing_flush) ? file->data : NULL;

    if (buf) {
        if (len > (size_t) (buf->last - buf->pos)) {
            ngx_http_recsys_timing_flush(file, r->connection->log);
        }

        if (len <= (size_t) (buf->last - buf->pos)) {
            if (buf->event && buf->pos == buf->start) {
                ngx_add_timer(buf->event, buf->flush);
            }

            buf->pos = ngx_cpymem(buf->pos, line, len);
            return;
        }

        /* longer than the whole buffer: written on its own */
    }

    n = ngx_write_fd(file->fd, line, len);

    if (n == (ssize_t) len) {
        return;
    }

    now = ngx_time();

    /* a full disk must not flood error.log */
    if (now - rtlcf->error_log_time < 60) {
        return;
    }

    rtlcf->error_log_time = now;

    if (n == -1) {
        err = ngx_errno;
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, err,
                      ngx_write_fd_n " to \"%s\" failed", file->name.data);
        return;
    }

    ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                  ngx_write_fd_n " to \"%s\" was incomplete: %z of %uz",
                  file->name.data, n, len);
}


/* called by the timer, before a reopen and at exit (cycle pool cleanup) */

static void
ngx_http_recsys_timing_flush(ngx_open_file_t *file, ngx_log_t *log)
{
    size_t                         len;
    ssize_t                        n;
    ngx_http_recsys_timing_buf_t  *buf;

    buf = file->data;

    len = buf->pos - buf->start;

    if (len == 0) {
        return;
    }

    n = ngx_write_fd(file->fd, buf->start, len);

    if (n == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_write_fd_n " to \"%s\" failed", file->name.data);

    } else if ((size_t) n != len) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      ngx_write_fd_n " to \"%s\" was incomplete: %z of %uz",
                      file->name.data, n, len);
    }

    buf->pos = buf->start;

    if (buf->event && buf->event->timer_set) {
        ngx_del_timer(buf->event);
    }
}


static void
ngx_http_recsys_timing_flush_handler(ngx_event_t *ev)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "recsys timing log flush handler");

    ngx_http_recsys_timing_flush(ev->data, ev->log);
}


static size_t
ngx_http_recsys_timing_str_len(u_char *s, size_t len)
{
    if (s == NULL || len == 0) {
        return sizeof("null") - 1;
    }

    return ngx_http_recsys_timing_escape(NULL, s, len) + 2;
}


/* a JSON string, or null for an absent or empty one */

static u_char *
ngx_http_recsys_timing_str(u_char *p, u_char *s, size_t len)
{
    if (s == NULL || len == 0) {
        return ngx_cpymem(p, "null", sizeof("null") - 1);
    }

    *p++ = '"';
    p += ngx_http_recsys_timing_escape(p, s, len);
    *p++ = '"';

    return p;
}


/*
 * Escapes src for a JSON string into dst and returns the bytes written;
 * with dst NULL only counts them.  Valid UTF-8 is copied, any other byte
 * is written as \u00XX (read as Latin-1), so every line is valid JSON
 * whatever a client sent.
 */

static size_t
ngx_http_recsys_timing_escape(u_char *dst, u_char *src, size_t size)
{
    u_char             c, *last;
    size_t             n, len;
    static const char  hex[] = "0123456789abcdef";

    len = 0;
    last = src + size;

    while (src < last) {
        c = *src;

        if (c >= 0x80) {
            n = ngx_http_recsys_timing_utf8(src, last);

            if (n) {
                if (dst) {
                    dst = ngx_cpymem(dst, src, n);
                }

                src += n;
                len += n;
                continue;
            }

        } else if (c >= 0x20 && c != '"' && c != '\\') {
            if (dst) {
                *dst++ = c;
            }

            src++;
            len++;
            continue;
        }

        src++;

        switch (c) {

        case '"':
        case '\\':
            break;

        case '\n':
            c = 'n';
            break;

        case '\r':
            c = 'r';
            break;

        case '\t':
            c = 't';
            break;

        default:
            len += 6;

            if (dst) {
                *dst++ = '\\'; *dst++ = 'u'; *dst++ = '0'; *dst++ = '0';
                *dst++ = hex[c >> 4];
                *dst++ = hex[c & 0xf];
            }

            continue;
        }

        len += 2;

        if (dst) {
            *dst++ = '\\';
            *dst++ = c;
        }
    }

    return len;
}


/* the length of the valid UTF-8 sequence at p, 0 if there is none */

static size_t
ngx_http_recsys_timing_utf8(u_char *p, u_char *last)
{
    size_t    i, n;
    uint32_t  u, min;

    if (*p < 0x80) {
        return 1;
    }

    if (*p >= 0xc2 && *p <= 0xdf) {
        n = 2;
        u = *p & 0x1f;
        min = 0x80;

    } else if (*p >= 0xe0 && *p <= 0xef) {
        n = 3;
        u = *p & 0x0f;
        min = 0x800;

    } else if (*p >= 0xf0 && *p <= 0xf4) {
        n = 4;
        u = *p & 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if ((size_t) (last - p) < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        u = (u << 6) | (p[i] & 0x3f);
    }

    /* overlong forms, surrogates and code points past U+10FFFF */
    if (u < min || u > 0x10ffff || (u >= 0xd800 && u <= 0xdfff)) {
        return 0;
    }

    return n;
}


static uint64_t
ngx_http_recsys_timing_now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


static void
ngx_http_recsys_timing_cleanup(void *data)
{
    /* nothing to free: the cleanup only marks the context */
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
     *     rtmcf->used = 0;
     */

    return rtmcf;
}


static void *
ngx_http_recsys_timing_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_recsys_timing_loc_conf_t  *rtlcf;

    rtlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_recsys_timing_loc_conf_t));
    if (rtlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     rtlcf->filter = NULL;
     *     rtlcf->error_log_time = 0;
     */

    rtlcf->file = NGX_CONF_UNSET_PTR;

    return rtlcf;
}


static char *
ngx_http_recsys_timing_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_recsys_timing_loc_conf_t *prev = parent;
    ngx_http_recsys_timing_loc_conf_t *conf = child;

    ngx_http_recsys_timing_main_conf_t  *rtmcf;

    if (conf->file == NGX_CONF_UNSET_PTR) {
        conf->file = prev->file;
        conf->filter = prev->filter;

        if (conf->file == NGX_CONF_UNSET_PTR) {
            conf->file = NULL;
        }
    }

    if (conf->file) {
        rtmcf = ngx_http_conf_get_module_main_conf(cf,
                                               ngx_http_recsys_timing_module);
        rtmcf->used = 1;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_recsys_timing_log(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_recsys_timing_loc_conf_t *rtlcf = conf;

    ssize_t                             size;
    ngx_str_t                          *value, s;
    ngx_msec_t                          flush;
    ngx_uint_t                          i;
    ngx_open_file_t                    *file;
    ngx_http_recsys_timing_buf_t       *buf;
    ngx_http_compile_complex_value_t    ccv;

    if (rtlcf->file != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts != 2) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        rtlcf->file = NULL;
        return NGX_CONF_OK;
    }

    size = 0;
    flush = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "buffer=", 7) == 0) {
            s.len = value[i].len - 7;
            s.data = value[i].data + 7;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR || size == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid buffer size \"%V\"", &s);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "flush=", 6) == 0) {
            s.len = value[i].len - 6;
            s.data = value[i].data + 6;

            flush = ngx_parse_time(&s, 0);

            if (flush == (ngx_msec_t) NGX_ERROR || flush == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid flush time \"%V\"", &s);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "if=", 3) == 0) {
            s.len = value[i].len - 3;
            s.data = value[i].data + 3;

            ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

            ccv.cf = cf;
            ccv.value = &s;
            ccv.complex_value = ngx_palloc(cf->pool,
                                           sizeof(ngx_http_complex_value_t));
            if (ccv.complex_value == NULL) {
                return NGX_CONF_ERROR;
            }

            if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            rtlcf->filter = ccv.complex_value;

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    file = ngx_conf_open_file(cf->cycle, &value[1]);
    if (file == NULL) {
        return NGX_CONF_ERROR;
    }

    rtlcf->file = file;

    if (flush && size == 0) {
        size = NGX_HTTP_RECSYS_TIMING_BUFFER;
    }

    if (size == 0) {
        return NGX_CONF_OK;
    }

    /* one buffer per file, shared by every location writing to it */
    if (file->data) {
        buf = file->data;

        if (file->flush != ngx_http_recsys_timing_flush
            || buf->last - buf->start != size
            || buf->flush != flush)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "recsys_timing_log \"%V\" already defined "
                               "with conflicting parameters", &value[1]);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    buf = ngx_pcalloc(cf->pool, sizeof(ngx_http_recsys_timing_buf_t));
    if (buf == NULL) {
        return NGX_CONF_ERROR;
    }

    buf->start = ngx_pnalloc(cf->pool, size);
    if (buf->start == NULL) {
        return NGX_CONF_ERROR;
    }

    buf->pos = buf->start;
    buf->last = buf->start + size;

    if (flush) {
        buf->event = ngx_pcalloc(cf->pool, sizeof(ngx_event_t));
        if (buf->event == NULL) {
            return NGX_CONF_ERROR;
        }

        buf->event->data = file;
        buf->event->handler = ngx_http_recsys_timing_flush_handler;
        buf->event->log = &cf->cycle->new_log;
        buf->event->cancelable = 1;

        buf->flush = flush;
    }

    file->flush = ngx_http_recsys_timing_flush;
    file->data = buf;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_recsys_timing_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt                 *h;
    ngx_http_core_main_conf_t           *cmcf;
    ngx_http_recsys_timing_main_conf_t  *rtmcf;

    rtmcf = ngx_http_conf_get_module_main_conf(cf,
                                               ngx_http_recsys_timing_module);

    if (!rtmcf->used) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_recsys_timing_post_read_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_recsys_timing_log_handler;

    return NGX_OK;
}
