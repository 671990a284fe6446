
/*
 * ngx_http_recsys_helper_module: what the admin and health modules read
 * from, and ask of, the index builder (the helper process, or a thread of
 * the single process).
 */

#ifndef _NGX_HTTP_RECSYS_HELPER_H_INCLUDED_
#define _NGX_HTTP_RECSYS_HELPER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_recsys_module.h"
#include "recsys_schedule.h"


#define NGX_HTTP_RECSYS_HELPER_HISTORY  10

/* a heartbeat older than this means the helper process is gone */
#define NGX_HTTP_RECSYS_HELPER_STALE    10


/* one finished build, in the history */
typedef struct {
    uint64_t                    id;
    uint64_t                    generation;
    uint64_t                    items;
    ngx_msec_t                  duration;
    time_t                      started;
    time_t                      finished;
    ngx_uint_t                  success;
    ngx_uint_t                  full;
    u_char                      trigger[16];
    u_char                      error[RECSYS_CATALOG_ERRLEN];
} ngx_http_recsys_helper_build_t;


/* one catalog's builder, as kept in the shared zone */
typedef struct {
    recsys_schedule_t           sched;

    ngx_uint_t                  requested;      /* an admin rebuild waits */
    ngx_uint_t                  requested_full;
    uint64_t                    requested_id;
    uint64_t                    running_id;
    ngx_uint_t                  running_full;
    time_t                      running_since;
    u_char                      running_trigger[16];

    time_t                      last_success;   /* 0: never */
    time_t                      last_failure;

    ngx_pid_t                   pid;            /* who runs the builds */
    time_t                      heartbeat;

    time_t                      db_contact;     /* 0: never */
    ngx_uint_t                  db_ok;
    ngx_msec_t                  db_latency;

    uint64_t                    watermark_gen;
    u_char                      watermark[64];

    ngx_uint_t                  nbuilds;
    ngx_uint_t                  newest;
    ngx_http_recsys_helper_build_t  builds[NGX_HTTP_RECSYS_HELPER_HISTORY];
} ngx_http_recsys_helper_state_t;


/* a copy of the catalog's state; NGX_DECLINED without the builder's zone */
ngx_int_t ngx_http_recsys_helper_state(ngx_http_recsys_catalog_t *catalog,
    ngx_http_recsys_helper_state_t *st);

/*
 * Queues an admin rebuild: NGX_OK with *id, NGX_BUSY when a build runs or
 * waits (*id is its id), NGX_DECLINED without the builder's zone.
 */
ngx_int_t ngx_http_recsys_helper_request(ngx_http_recsys_catalog_t *catalog,
    ngx_uint_t full, uint64_t *id);

/*
 * Rolls the catalog back (under its build lock) and tells the workers:
 * NGX_OK with *generation and *previous, NGX_BUSY when a build runs or
 * waits, NGX_ERROR with err set when there is nothing to go back to,
 * NGX_DECLINED without the builder's zone.
 */
ngx_int_t ngx_http_recsys_helper_rollback(
    ngx_http_recsys_catalog_t *catalog, ngx_log_t *log,
    uint64_t *generation, uint64_t *previous, char *err, size_t errlen);

/*
 * "in_process" with master_process off, "pass" while the helper process
 * beats, "fail" when its heartbeat is stale, "not_configured" without a
 * zone.  catalog NULL: all of them.
 */
const char *ngx_http_recsys_helper_status(ngx_http_recsys_catalog_t *catalog);


#endif /* _NGX_HTTP_RECSYS_HELPER_H_INCLUDED_ */
