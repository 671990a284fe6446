
/*
 * Request input: what the content handlers share, the methods they take
 * and their JSON bodies.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_recsys_response.h"
#include "ngx_http_recsys_body.h"


#define NGX_HTTP_RECSYS_JSON_TYPE  "application/json"


ngx_int_t
ngx_http_recsys_body_read(ngx_http_request_t *r, size_t max,
    ngx_http_client_body_handler_pt handler)
{
    u_char     *ct;
    size_t      len, n;
    ngx_int_t   rc;

    ct = NULL;
    len = 0;
    n = sizeof(NGX_HTTP_RECSYS_JSON_TYPE) - 1;

    if (r->headers_in.content_type) {
        ct = r->headers_in.content_type->value.data;
        len = r->headers_in.content_type->value.len;
    }

    /* "application/json", optionally followed by parameters */
    if (ct == NULL
        || len < n
        || ngx_strncasecmp(ct, (u_char *) NGX_HTTP_RECSYS_JSON_TYPE, n) != 0
        || (len > n && ct[n] != ';' && ct[n] != ' '))
    {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return ngx_http_recsys_send_status(r, rc);
        }

        return ngx_http_recsys_send_error(r,
                                          NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                          "unsupported_media_type",
                                          "the body must be "
                                          "application/json");
    }

    if (r->headers_in.content_length_n > (off_t) max) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return ngx_http_recsys_send_status(r, rc);
        }

        return ngx_http_recsys_body_too_large(r, max);
    }

    rc = ngx_http_read_client_request_body(r, handler);

    /* client_max_body_size refused a declared length: answer in JSON */
    if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
        r->keepalive = 0;
        return ngx_http_recsys_send_error(r, rc, "body_too_large",
                                          "the body is larger than "
                                          "client_max_body_size");
    }

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return ngx_http_recsys_send_status(r, rc);
    }

    return NGX_DONE;
}


ngx_int_t
ngx_http_recsys_body_get(ngx_http_request_t *r, size_t max, ngx_str_t *body)
{
    u_char       *p;
    off_t         len, size;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    len = 0;

    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            b = cl->buf;
            len += b->in_file ? b->file_last - b->file_pos
                              : b->last - b->pos;
        }
    }

    if (len > (off_t) max) {
        return NGX_DECLINED;
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body->data = p;
    body->len = len;

    if (len == 0) {
        *p = '\0';
        return NGX_OK;
    }

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            size = b->file_last - b->file_pos;
            n = ngx_read_file(b->file, p, size, b->file_pos);

            if (n != size) {
                ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                              "recsys: cannot read the request body from "
                              "\"%V\"", &b->file->name);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            p += size;

        } else {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    *p = '\0';

    return NGX_OK;
}


ngx_int_t
ngx_http_recsys_body_too_large(ngx_http_request_t *r, size_t max)
{
    return ngx_http_recsys_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                      "body_too_large",
                                      "the body is larger than %uz bytes",
                                      max);
}


ngx_int_t
ngx_http_recsys_method_not_allowed(ngx_http_request_t *r, ngx_str_t *allow)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return ngx_http_recsys_send_status(r, rc);
    }

    if (ngx_http_recsys_add_header(r, "Allow", allow) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_recsys_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                      "method_not_allowed",
                                      "method %V is not allowed, use %V",
                                      &r->method_name, allow);
}
