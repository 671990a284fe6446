
/*
 * Answers shared by every recsys location: headers, one JSON buffer, the
 * JSON error, and the recsys_error location that gives errors nginx
 * raises itself (error_page) the same shape.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_recsys_module.h"
#include "recsys_json.h"
#include "recsys_time.h"


typedef struct {
    ngx_uint_t                  status;
    const char                 *code;
    const char                 *message;
} ngx_http_recsys_status_t;


static ngx_http_recsys_status_t  ngx_http_recsys_statuses[] = {
    { NGX_HTTP_BAD_REQUEST, "bad_request", "the request is malformed" },
    { NGX_HTTP_UNAUTHORIZED, "unauthorized",
      "this location needs credentials" },
    { NGX_HTTP_FORBIDDEN, "forbidden", "access to this location is denied" },
    { NGX_HTTP_NOT_FOUND, "not_found", "no endpoint at this address" },
    { NGX_HTTP_NOT_ALLOWED, "method_not_allowed",
      "the method is not allowed at this address" },
    { NGX_HTTP_REQUEST_TIME_OUT, "request_timeout",
      "the request was not received in time" },
    { NGX_HTTP_LENGTH_REQUIRED, "length_required",
      "the request needs a Content-Length" },
    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
      "the body is larger than this location accepts" },
    { NGX_HTTP_REQUEST_URI_TOO_LARGE, "uri_too_long",
      "the request URI is too long" },
    { NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
      "the body's content type is not accepted" },
    { NGX_HTTP_RECSYS_UNPROCESSABLE, "unprocessable",
      "the request cannot be processed" },
    { NGX_HTTP_TOO_MANY_REQUESTS, "rate_limited", "too many requests" },
    { NGX_HTTP_REQUEST_HEADER_TOO_LARGE, "header_too_large",
      "a request header is too large" },
    { NGX_HTTP_INTERNAL_SERVER_ERROR, "internal_error",
      "the server failed to answer" },
    { NGX_HTTP_NOT_IMPLEMENTED, "not_implemented",
      "the method is not implemented" },
    { NGX_HTTP_BAD_GATEWAY, "bad_gateway", "the upstream failed" },
    { NGX_HTTP_SERVICE_UNAVAILABLE, "unavailable",
      "the service is unavailable" },
    { NGX_HTTP_GATEWAY_TIME_OUT, "gateway_timeout",
      "the upstream did not answer in time" },
    { 0, NULL, NULL }
};


ngx_int_t
ngx_http_recsys_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;
    h->lowcase_key = NULL;

#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


ngx_int_t
ngx_http_recsys_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *p, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;

    /* nginx 1.22 has no reason phrase of its own for 422 */
    if (status == NGX_HTTP_RECSYS_UNPROCESSABLE) {
        ngx_str_set(&r->headers_out.status_line, "422 Unprocessable Entity");
    }

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = p;
    b->last = p + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_recsys_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *fmt, ...)
{
    u_char   *p;
    size_t    len, mlen;
    va_list   args;

    /* 4 bytes more than the cap: a character the cap cuts stays whole */
    u_char    msg[NGX_HTTP_RECSYS_MESSAGE_MAX + 4];

    va_start(args, fmt);
    mlen = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args) - msg;
    va_end(args);

    p = ngx_http_recsys_error_json(r, 0, code, msg, mlen, &len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p[len++] = '\n';

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "recsys: %ui %s", status, code);

    return ngx_http_recsys_send_json(r, status, p, len);
}


u_char *
ngx_http_recsys_error_json(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, u_char *msg, size_t mlen, size_t *outlen)
{
    u_char     *p, *start;
    size_t      len, clen;
    ngx_str_t  *cid;

    clen = ngx_strlen(code);
    cid = ngx_http_recsys_correlation_id(r);

    len = sizeof("{\"error\":{\"code\":,\"message\":}}\n") - 1
          + recsys_json_str_len(code, clen, RECSYS_JSON_NO_LIMIT)
          + recsys_json_str_len((char *) msg, mlen,
                                NGX_HTTP_RECSYS_MESSAGE_MAX);

    if (status) {
        len += sizeof(",\"status\":") - 1 + NGX_INT_T_LEN;
    }

    if (cid) {
        len += sizeof(",\"correlation_id\":") - 1
               + recsys_json_str_len((char *) cid->data, cid->len,
                                     RECSYS_JSON_NO_LIMIT);
    }

    start = ngx_pnalloc(r->pool, len);
    if (start == NULL) {
        return NULL;
    }

    p = ngx_cpymem(start, "{\"error\":{\"code\":",
                   sizeof("{\"error\":{\"code\":") - 1);
    p = (u_char *) recsys_json_str((char *) p, code, clen,
                                   RECSYS_JSON_NO_LIMIT);
    p = ngx_cpymem(p, ",\"message\":", sizeof(",\"message\":") - 1);
    p = (u_char *) recsys_json_str((char *) p, (char *) msg, mlen,
                                   NGX_HTTP_RECSYS_MESSAGE_MAX);

    if (status) {
        p = ngx_sprintf(p, ",\"status\":%ui", status);
    }

    if (cid) {
        p = ngx_cpymem(p, ",\"correlation_id\":",
                       sizeof(",\"correlation_id\":") - 1);
        p = (u_char *) recsys_json_str((char *) p, (char *) cid->data,
                                       cid->len, RECSYS_JSON_NO_LIMIT);
    }

    p = ngx_cpymem(p, "}}", sizeof("}}") - 1);

    *outlen = p - start;

    return start;
}


ngx_int_t
ngx_http_recsys_send_status(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_http_recsys_status_t  *s;

    /* the connection's input is in an unknown state after these */
    if (status == NGX_HTTP_BAD_REQUEST
        || status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
        || status == NGX_HTTP_INTERNAL_SERVER_ERROR)
    {
        r->keepalive = 0;
    }

    for (s = ngx_http_recsys_statuses; s->status; s++) {
        if (s->status == status) {
            return ngx_http_recsys_send_error(r, status, s->code, "%s",
                                              s->message);
        }
    }

    return ngx_http_recsys_send_error(r, status, "error", "HTTP status %ui",
                                      status);
}


ngx_int_t
ngx_http_recsys_error_handler(ngx_http_request_t *r)
{
    ngx_int_t   rc;
    ngx_uint_t  status;

    /*
     * "error_page ... /uri" keeps the original status in err_status; a
     * request that reaches the location otherwise finds nothing here
     */
    status = r->err_status ? r->err_status : NGX_HTTP_NOT_FOUND;

    if (status < NGX_HTTP_BAD_REQUEST) {
        status = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        r->keepalive = 0;
    }

    return ngx_http_recsys_send_status(r, status);
}


uint64_t
ngx_http_recsys_now_us(void)
{
    return recsys_now_us();
}
