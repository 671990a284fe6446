
/*
 * ngx_http_recsys_helper_module: what the health module reads from the
 * index builder (the helper process, or a thread of the single process).
 */

#ifndef _NGX_HTTP_RECSYS_HELPER_H_INCLUDED_
#define _NGX_HTTP_RECSYS_HELPER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_recsys_module.h"


#define NGX_HTTP_RECSYS_HELPER_IDLE        0
#define NGX_HTTP_RECSYS_HELPER_RUNNING     1
#define NGX_HTTP_RECSYS_HELPER_BACKING_OFF 2

/* a heartbeat older than this means the helper process is gone */
#define NGX_HTTP_RECSYS_HELPER_STALE       10


/* a snapshot of one catalog's builder, copied out of shared memory */
typedef struct {
    ngx_uint_t                  state;      /* NGX_HTTP_RECSYS_HELPER_* */
    ngx_uint_t                  failures;   /* consecutive */
    ngx_uint_t                  breaker_open;
    time_t                      last_success;   /* 0: never */
    time_t                      last_failure;
    time_t                      next_build;     /* 0: none scheduled */
    ngx_uint_t                  database;   /* 1: the source is a database */
    time_t                      db_contact;     /* 0: never */
    ngx_uint_t                  db_ok;
    ngx_msec_t                  db_latency;
    ngx_pid_t                   pid;        /* who runs the builds */
    time_t                      heartbeat;
} ngx_http_recsys_helper_info_t;


/* NGX_DECLINED when the builder's zone is not there (no catalog) */
ngx_int_t ngx_http_recsys_helper_info(ngx_http_recsys_catalog_t *catalog,
    ngx_http_recsys_helper_info_t *info);

/*
 * "in_process" with master_process off, "pass" while the helper process
 * beats, "fail" when its heartbeat is stale, "not_configured" without a
 * zone.
 */
const char *ngx_http_recsys_helper_status(ngx_http_recsys_catalog_t *catalog);

const char *ngx_http_recsys_helper_state_name(ngx_uint_t state);


#endif /* _NGX_HTTP_RECSYS_HELPER_H_INCLUDED_ */
