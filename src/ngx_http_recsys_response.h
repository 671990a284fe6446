/*
 * Answers of every recsys location: response headers, one JSON buffer,
 * the JSON error shape, the recsys_error location, and the clock the
 * stage timings use.  The bytes themselves come from recsys_json.h.
 */

#ifndef _NGX_HTTP_RECSYS_RESPONSE_H_INCLUDED_
#define _NGX_HTTP_RECSYS_RESPONSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_RECSYS_UNPROCESSABLE  422

/* escaped bytes of an error message; longer ones are cut on a character */
#define NGX_HTTP_RECSYS_MESSAGE_MAX    512


/*
 * Adds a response header; name must outlive the request (a literal).
 * Returns NGX_OK or NGX_ERROR.
 */
ngx_int_t ngx_http_recsys_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);

/*
 * Sends p[0..len) as the whole application/json answer with status (a
 * 422 gets its reason phrase, which nginx 1.22 lacks).  Returns what the
 * content handler returns.
 */
ngx_int_t ngx_http_recsys_send_json(ngx_http_request_t *r,
    ngx_uint_t status, u_char *p, size_t len);

/*
 * {"error":{"code":..,"message":..,"correlation_id":..}} with status;
 * fmt is ngx_sprintf's.  The message is cut, on a character boundary, at
 * NGX_HTTP_RECSYS_MESSAGE_MAX escaped bytes; bytes that are not UTF-8
 * (an id from the request) come out as U+FFFD.  correlation_id is there
 * when correlation ids are on.
 */
ngx_int_t ngx_http_recsys_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *fmt, ...);

/*
 * The error object of ngx_http_recsys_send_error() for msg[0..mlen), in
 * the request pool, with one byte to spare after *len; status, when not
 * 0, is in it as "status" (the error of one query of a batch).  NULL when
 * out of memory.
 */
u_char *ngx_http_recsys_error_json(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, u_char *msg, size_t mlen, size_t *len);

/*
 * The JSON error for a status alone, with a fixed code and message per
 * status ("bad_request", "not_found", ...).  For failures reported by
 * nginx calls, e.g.:
 *
 *     rc = ngx_http_discard_request_body(r);
 *     if (rc != NGX_OK) {
 *         return ngx_http_recsys_send_status(r, rc);
 *     }
 *
 * A 400, 413 or 500 also closes the connection, as nginx's own errors do.
 */
ngx_int_t ngx_http_recsys_send_status(ngx_http_request_t *r,
    ngx_uint_t status);

/* the "recsys_error" location: the error nginx is redirecting, in JSON */
ngx_int_t ngx_http_recsys_error_handler(ngx_http_request_t *r);

/* CLOCK_MONOTONIC in microseconds */
uint64_t ngx_http_recsys_now_us(void);


#endif /* _NGX_HTTP_RECSYS_RESPONSE_H_INCLUDED_ */
