
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

#include <pthread.h>

#include "ngx_http_recsys_module.h"
#include "recsys_builder.h"
#include "recsys_schedule.h"


#define NGX_HTTP_RECSYS_HELPER_HISTORY  10

/* what the helper runs on its thread */
#define NGX_HTTP_RECSYS_HELPER_BUILD     1
#define NGX_HTTP_RECSYS_HELPER_ROLLBACK  2

/* the value ngx_http_recsys_helper_time() writes at most, quotes included */
#define NGX_HTTP_RECSYS_HELPER_TIME_LEN  sizeof("\"1970-01-01T00:00:00Z\"")

/* a heartbeat older than this means the helper process is gone */
#define NGX_HTTP_RECSYS_HELPER_STALE    10


/* one finished build or rollback, in the history */
typedef struct {
    uint64_t                    id;
    ngx_uint_t                  job;        /* NGX_HTTP_RECSYS_HELPER_* */
    uint64_t                    generation;
    uint64_t                    previous;   /* rollback: rolled back from */
    uint64_t                    items;
    ngx_msec_t                  duration;
    time_t                      started;
    time_t                      finished;
    ngx_uint_t                  success;
    ngx_uint_t                  published;  /* 0: failed, or no change */
    ngx_uint_t                  full;
    u_char                      trigger[16];
    u_char                      error[RECSYS_CATALOG_ERRLEN];
} ngx_http_recsys_helper_build_t;


/* one catalog's builder, as kept in the shared zone */
typedef struct {
    recsys_schedule_t           sched;

    ngx_uint_t                  requested;      /* the admin's job, 0: none */
    ngx_uint_t                  requested_full;
    uint64_t                    requested_id;
    ngx_uint_t                  running;        /* the job running, 0: none */
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

    /* generations pruning could not remove: each counted and logged once */
    uint64_t                    prune_failures;
    ngx_uint_t                  nunpruned;      /* left by the last prune */
    uint64_t                    unpruned[RECSYS_BUILD_UNPRUNED];

    ngx_uint_t                  nbuilds;
    ngx_uint_t                  newest;
    ngx_http_recsys_helper_build_t  builds[NGX_HTTP_RECSYS_HELPER_HISTORY];
} ngx_http_recsys_helper_state_t;


/* a copy of the catalog's state; NGX_DECLINED without the builder's zone */
ngx_int_t ngx_http_recsys_helper_state(ngx_http_recsys_catalog_t *catalog,
    ngx_http_recsys_helper_state_t *st);

/*
 * Queues an admin job (NGX_HTTP_RECSYS_HELPER_BUILD, full or not, or
 * _ROLLBACK) for the helper: NGX_OK with its *id; NGX_BUSY when a job
 * runs or waits, with its *id and *busy kind; NGX_DECLINED without the
 * builder's zone.
 */
ngx_int_t ngx_http_recsys_helper_request(ngx_http_recsys_catalog_t *catalog,
    ngx_uint_t job, ngx_uint_t full, uint64_t *id, ngx_uint_t *busy);

/*
 * The manifest of the generation "current" names (a small file read, no
 * generation opened): NGX_OK, or NGX_DECLINED when there is none.  Safe on
 * the build thread.
 */
ngx_int_t ngx_http_recsys_helper_current(const recsys_catalog_t *conf,
    recsys_manifest_t *m);

/* ,"key":"YYYY-MM-DDTHH:MM:SSZ" (UTC), or ,"key":null for 0 */
u_char *ngx_http_recsys_helper_time(u_char *p, const char *key, time_t t);

/* "idle", "running" (a build or a rollback), "backing_off" */
const char *ngx_http_recsys_helper_state_name(
    ngx_http_recsys_helper_state_t *st);

/* "build", "rollback" */
const char *ngx_http_recsys_helper_job_name(ngx_uint_t job);

/*
 * "in_process" with master_process off, "pass" while the helper process
 * beats, "fail" when its heartbeat is stale, "not_configured" without a
 * zone.  catalog NULL: all of them.
 */
const char *ngx_http_recsys_helper_status(ngx_http_recsys_catalog_t *catalog);

/*
 * Starts a build or shipper thread with every signal blocked (signals are
 * for the event loop) and counts it until ngx_http_recsys_helper_join():
 * a process leaving while one runs skips the C++ and library destructors
 * the thread still uses.  Returns 0 or the pthread_create() error.
 */
int ngx_http_recsys_helper_spawn(pthread_t *tid, void *(*run)(void *),
    void *arg);
void ngx_http_recsys_helper_join(pthread_t tid);


#endif /* _NGX_HTTP_RECSYS_HELPER_H_INCLUDED_ */
