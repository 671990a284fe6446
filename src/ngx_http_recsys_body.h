
/*
 * Request input of the recsys locations: the method check, and for POST
 * the media type and size checks and the JSON body in one buffer.
 */

#ifndef _NGX_HTTP_RECSYS_BODY_H_INCLUDED_
#define _NGX_HTTP_RECSYS_BODY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * For a POST: answers 415 unless Content-Type is application/json
 * (parameters allowed) and 413 when Content-Length is over max, else
 * starts reading the body and calls handler once it is read.  Returns
 * what the content handler returns.
 */
ngx_int_t ngx_http_recsys_body_read(ngx_http_request_t *r, size_t max,
    ngx_http_client_body_handler_pt handler);

/*
 * In the body handler: the whole body, NUL-terminated, in one buffer of
 * the request pool.  NGX_OK; NGX_DECLINED when it is over max (a chunked
 * body has no Content-Length to check first); or an HTTP status.
 */
ngx_int_t ngx_http_recsys_body_get(ngx_http_request_t *r, size_t max,
    ngx_str_t *body);

/* 405 with Allow: allow (the body is discarded) */
ngx_int_t ngx_http_recsys_method_not_allowed(ngx_http_request_t *r,
    ngx_str_t *allow);

/* the 413 answer for a body over max bytes */
ngx_int_t ngx_http_recsys_body_too_large(ngx_http_request_t *r, size_t max);


#endif /* _NGX_HTTP_RECSYS_BODY_H_INCLUDED_ */
