
/*
 * ngx_http_recsys_events_module: POST /v1/events ("recsys_events"), the
 * workers' spool, and its shipper.
 *
 * A worker checks a request's events (recsys_events.c), appends all of
 * them with one write(2) to a spool segment of its own in
 * <index.path>/events, and answers 202 once the write (and with "sync:
 * request" the fdatasync) returned: no network call in a worker.  A timer
 * seals the segment segment_age after its first event, another syncs it
 * every sync_interval with "sync: interval".
 *
 * The spool directory is an ngx_path_t with a manager callback, so the
 * shipper lives in the helper (cache manager) process next to the
 * builder; the callback starts a thread that ships (recsys_spool.c:
 * PostgreSQL or a JSON Lines file, exactly once) and sleeps ship_interval
 * between passes.  With master_process off the thread runs in the single
 * process.  Counters live in a shared zone of their own.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <pthread.h>

#include "ngx_http_recsys_module.h"
#include "ngx_http_recsys_body.h"
#include "ngx_http_recsys_helper.h"
#include "ngx_http_recsys_events.h"
#include "recsys_events.h"
#include "recsys_spool.h"


#define NGX_HTTP_RECSYS_EVENTS_ZONE_SIZE  (64 * 1024)

/* ms between two looks at the shipper's messages */
#define NGX_HTTP_RECSYS_EVENTS_LOOK       1000

/* the longest wait after failed passes, seconds */
#define NGX_HTTP_RECSYS_EVENTS_BACKOFF    60


typedef struct ngx_http_recsys_events_node_s  ngx_http_recsys_events_node_t;

/* one catalog's counters in the shared zone; found by name after a reload */
struct ngx_http_recsys_events_node_s {
    ngx_http_recsys_events_node_t  *next;

    ngx_atomic_t                received;
    ngx_atomic_t                rejected;
    ngx_atomic_t                spooled;
    ngx_atomic_t                shipped;
    ngx_atomic_t                lost;
    ngx_atomic_t                spool_bytes;
    ngx_atomic_t                ready;
    ngx_atomic_t                ship_failures;
    ngx_atomic_t                last_ship;
    ngx_atomic_t                failing;
    ngx_atomic_t                passes;

    size_t                      len;
    u_char                      name[1];
};


/* per process: one catalog that takes events */
typedef struct {
    ngx_http_recsys_catalog_t      *catalog;
    ngx_http_recsys_events_node_t  *node;
    u_char                         *dir;        /* the spool directory */

    /* a worker's segment and its timers */
    recsys_spool_writer_t           writer;
    ngx_event_t                     seal_ev;
    ngx_event_t                     sync_ev;

    /* the shipper's thread, and what it has to say to the event loop */
    recsys_spool_store_t            store;
    pthread_t                       tid;
    ngx_uint_t                      started;
    volatile int                    cancel;
    pthread_mutex_t                 mutex;
    ngx_uint_t                      failing;    /* under the mutex */
    ngx_uint_t                      logged;     /* the event loop's copy */
    char                            err[RECSYS_SPOOL_ERRLEN];
    char                            logged_err[RECSYS_SPOOL_ERRLEN];
} ngx_http_recsys_events_catalog_t;


typedef struct {
    ngx_array_t                     catalogs;   /* ..._events_catalog_t * */
    ngx_shm_zone_t                 *shm_zone;
    ngx_slab_pool_t                *shpool;
    ngx_http_recsys_events_node_t **nodes;      /* the zone's list head */
    ngx_event_t                     timer;      /* master_process off */
} ngx_http_recsys_events_main_conf_t;


typedef struct {
    ngx_http_recsys_events_catalog_t  *ec;      /* NULL: not an events API */
} ngx_http_recsys_events_loc_conf_t;


static ngx_int_t ngx_http_recsys_events_handler(ngx_http_request_t *r);
static void ngx_http_recsys_events_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_recsys_events_accept(ngx_http_request_t *r,
    ngx_http_recsys_events_catalog_t *ec, ngx_str_t *body);
static ngx_int_t ngx_http_recsys_events_unavailable(ngx_http_request_t *r,
    const char *code, const char *message);
static void ngx_http_recsys_events_seal_handler(ngx_event_t *ev);
static void ngx_http_recsys_events_sync_handler(ngx_event_t *ev);

static ngx_msec_t ngx_http_recsys_events_manager(void *data);
static void ngx_http_recsys_events_timer(ngx_event_t *ev);
static ngx_int_t ngx_http_recsys_events_start(
    ngx_http_recsys_events_catalog_t *ec, ngx_log_t *log);
static void *ngx_http_recsys_events_thread(void *data);
static void ngx_http_recsys_events_commit(void *data, uint64_t shipped,
    uint64_t lost);
static void ngx_http_recsys_events_report(
    ngx_http_recsys_events_catalog_t *ec, ngx_log_t *log);

static ngx_int_t ngx_http_recsys_events_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void *ngx_http_recsys_events_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_recsys_events_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_recsys_events(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_http_recsys_events_catalog_t *ngx_http_recsys_events_get(
    ngx_conf_t *cf, ngx_http_recsys_catalog_t *catalog);
static ngx_int_t ngx_http_recsys_events_postconf(ngx_conf_t *cf);
static ngx_int_t ngx_http_recsys_events_init_process(ngx_cycle_t *cycle);
static void ngx_http_recsys_events_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_recsys_events_commands[] = {

    { ngx_string("recsys_events"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_recsys_events,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_recsys_events_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_recsys_events_postconf,       /* postconfiguration */

    ngx_http_recsys_events_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_recsys_events_create_loc_conf, /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_recsys_events_module = {
    NGX_MODULE_V1,
    &ngx_http_recsys_events_module_ctx,    /* module context */
    ngx_http_recsys_events_commands,       /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_recsys_events_init_process,   /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_recsys_events_exit_process,   /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_recsys_events_zone_name =
    ngx_string("recsys_events");


/* ---- the API, in the workers ---- */

static ngx_int_t
ngx_http_recsys_events_handler(ngx_http_request_t *r)
{
    ngx_str_t                    allow;
    ngx_http_recsys_loc_conf_t  *rlcf;

    if (!(r->method & NGX_HTTP_POST)) {
        ngx_str_set(&allow, "POST");
        return ngx_http_recsys_method_not_allowed(r, &allow);
    }

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_module);

    return ngx_http_recsys_body_read(r, rlcf->max_body_size,
                                     ngx_http_recsys_events_body);
}


static void
ngx_http_recsys_events_body(ngx_http_request_t *r)
{
    ngx_int_t                           rc;
    ngx_str_t                           body;
    ngx_http_recsys_loc_conf_t         *rlcf;
    ngx_http_recsys_events_loc_conf_t  *elcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_module);
    elcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_events_module);

    /* a chunked body has no length to check up front */
    rc = ngx_http_recsys_body_get(r, rlcf->max_body_size, &body);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_recsys_body_too_large(r, rlcf->max_body_size);

    } else if (rc == NGX_OK) {
        rc = ngx_http_recsys_events_accept(r, elcf->ec, &body);
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * All of the request's events or none: checked, then one write of all
 * their lines.  202 once they are in the spool (and synced with "sync:
 * request").
 */

static ngx_int_t
ngx_http_recsys_events_accept(ngx_http_request_t *r,
    ngx_http_recsys_events_catalog_t *ec, ngx_str_t *body)
{
    int                             rc;
    u_char                         *p;
    ngx_int_t                       status;
    recsys_events_conf_t           *conf;
    recsys_events_batch_t           b;
    ngx_http_recsys_events_node_t  *node;
    char                            err[RECSYS_SPOOL_ERRLEN];
    u_char                          answer[sizeof("{\"accepted\":}\n")
                                           + NGX_INT32_LEN];

    conf = &ec->catalog->conf->events;
    node = ec->node;

    rc = recsys_events_parse(&b, conf, (char *) body->data, body->len,
                             (int64_t) ngx_time());

    if (node) {
        (void) ngx_atomic_fetch_add(&node->received, b.n);
    }

    if (rc != RECSYS_EVENTS_OK) {
        if (node) {
            (void) ngx_atomic_fetch_add(&node->rejected, b.n);
        }

        recsys_events_batch_free(&b);

        return ngx_http_recsys_send_error(r, (ngx_uint_t) rc, b.code, "%s",
                                          b.error);
    }

    if (node && node->spool_bytes + b.len > conf->spool_limit) {
        (void) ngx_atomic_fetch_add(&node->rejected, b.n);
        recsys_events_batch_free(&b);

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "recsys catalog \"%V\": the events spool is over "
                      "events.spool_limit (%uL bytes)", &ec->catalog->name,
                      conf->spool_limit);

        return ngx_http_recsys_events_unavailable(r, "spool_full",
                                                  "the events spool is "
                                                  "full, retry later");
    }

    if (recsys_spool_append(&ec->writer, (char *) ec->dir, b.lines, b.len,
                            conf->sync == RECSYS_EVENTS_SYNC_REQUEST, err,
                            sizeof(err))
        != 0)
    {
        if (node) {
            (void) ngx_atomic_fetch_add(&node->rejected, b.n);
        }

        recsys_events_batch_free(&b);

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "recsys catalog \"%V\": %s", &ec->catalog->name, err);

        return ngx_http_recsys_events_unavailable(r, "spool_unavailable",
                                                  "the events could not "
                                                  "be written, retry later");
    }

    if (node) {
        (void) ngx_atomic_fetch_add(&node->spooled, b.n);
        (void) ngx_atomic_fetch_add(&node->spool_bytes, b.len);
    }

    /* a new segment: sealed segment_age after its first event */
    if (ec->writer.size == b.len && !ec->seal_ev.timer_set) {
        ngx_add_timer(&ec->seal_ev, (ngx_msec_t) conf->segment_age * 1000);
    }

    if (conf->sync == RECSYS_EVENTS_SYNC_INTERVAL && !ec->sync_ev.timer_set) {
        ngx_add_timer(&ec->sync_ev, (ngx_msec_t) conf->sync_interval * 1000);
    }

    if (ec->writer.size >= RECSYS_SPOOL_SEGMENT_MAX) {
        ngx_http_recsys_events_seal_handler(&ec->seal_ev);
    }

    p = ngx_sprintf(answer, "{\"accepted\":%uD}\n", b.n);

    recsys_events_batch_free(&b);

    status = NGX_HTTP_ACCEPTED;

    return ngx_http_recsys_send_json(r, status, answer, p - answer);
}


static ngx_int_t
ngx_http_recsys_events_unavailable(ngx_http_request_t *r, const char *code,
    const char *message)
{
    u_char                      *p;
    ngx_str_t                    value;
    ngx_http_recsys_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_module);

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value.data = p;
    value.len = ngx_sprintf(p, "%T", rlcf->retry_after) - p;

    if (ngx_http_recsys_add_header(r, "Retry-After", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_recsys_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE, code,
                                      "%s", message);
}


static void
ngx_http_recsys_events_seal_handler(ngx_event_t *ev)
{
    ngx_http_recsys_events_catalog_t  *ec = ev->data;

    char  err[RECSYS_SPOOL_ERRLEN];

    if (ec->seal_ev.timer_set) {
        ngx_del_timer(&ec->seal_ev);
    }

    if (recsys_spool_seal(&ec->writer, (char *) ec->dir, err, sizeof(err))
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, ev->log, 0, "recsys catalog \"%V\": %s",
                      &ec->catalog->name, err);
    }
}


static void
ngx_http_recsys_events_sync_handler(ngx_event_t *ev)
{
    ngx_http_recsys_events_catalog_t  *ec = ev->data;

    char  err[RECSYS_SPOOL_ERRLEN];

    if (recsys_spool_sync(&ec->writer, err, sizeof(err)) != 0) {
        ngx_log_error(NGX_LOG_ERR, ev->log, 0, "recsys catalog \"%V\": %s",
                      &ec->catalog->name, err);
    }
}


/* ---- the shipper, in the helper process (or the single process) ---- */

static ngx_msec_t
ngx_http_recsys_events_manager(void *data)
{
    ngx_http_recsys_events_catalog_t  *ec = data;

    if (!ec->started) {
        (void) ngx_http_recsys_events_start(ec, ngx_cycle->log);
    }

    ngx_http_recsys_events_report(ec, ngx_cycle->log);

    return NGX_HTTP_RECSYS_EVENTS_LOOK;
}


static void
ngx_http_recsys_events_timer(ngx_event_t *ev)
{
    ngx_uint_t                           i;
    ngx_http_recsys_events_catalog_t   **ec;
    ngx_http_recsys_events_main_conf_t  *emcf;

    emcf = ev->data;
    ec = emcf->catalogs.elts;

    for (i = 0; i < emcf->catalogs.nelts; i++) {
        ngx_http_recsys_events_report(ec[i], ev->log);
    }

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(ev, NGX_HTTP_RECSYS_EVENTS_LOOK);
}


static ngx_int_t
ngx_http_recsys_events_start(ngx_http_recsys_events_catalog_t *ec,
    ngx_log_t *log)
{
    int  err;

    /* one try: a thread that cannot start now will not later either */
    ec->started = 1;

    ec->store.conf = &ec->catalog->conf->events;
    ec->store.commit = ngx_http_recsys_events_commit;
    ec->store.data = ec;
    ec->store.cancel = &ec->cancel;

    if (pthread_mutex_init(&ec->mutex, NULL) != 0) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "recsys catalog \"%V\": pthread_mutex_init() failed",
                      &ec->catalog->name);
        return NGX_ERROR;
    }

    err = ngx_http_recsys_helper_spawn(&ec->tid,
                                       ngx_http_recsys_events_thread, ec);

    if (err != 0) {
        ngx_log_error(NGX_LOG_ALERT, log, err,
                      "recsys catalog \"%V\": cannot start the events "
                      "shipper", &ec->catalog->name);
        return NGX_ERROR;
    }

    ec->started = 2;

    return NGX_OK;
}


/*
 * Passes until cancelled: ship_interval apart, or longer after failures
 * (doubling, up to a minute).
 */

static void *
ngx_http_recsys_events_thread(void *data)
{
    ngx_http_recsys_events_catalog_t  *ec = data;

    int                              rc;
    uint64_t                         wait, waited, failures;
    recsys_spool_stats_t             st;
    ngx_http_recsys_events_node_t   *node;
    char                             err[RECSYS_SPOOL_ERRLEN];

    node = ec->node;
    failures = 0;

    while (!ec->cancel) {
        err[0] = '\0';

        rc = recsys_spool_ship(&ec->store, (char *) ec->dir, &st, err,
                               sizeof(err));

        node->spool_bytes = st.bytes;
        node->ready = st.ready;
        (void) ngx_atomic_fetch_add(&node->passes, 1);

        if (rc != 0) {
            (void) ngx_atomic_fetch_add(&node->ship_failures, 1);
            node->failing = 1;
            failures++;

        } else {
            node->failing = 0;
            failures = 0;
        }

        (void) pthread_mutex_lock(&ec->mutex);
        ec->failing = (rc != 0);

        if (rc != 0) {
            ngx_cpystrn((u_char *) ec->err, (u_char *) err, sizeof(ec->err));
        }

        (void) pthread_mutex_unlock(&ec->mutex);

        wait = ec->store.conf->ship_interval * 1000;

        if (failures) {
            wait <<= ngx_min(failures - 1, 6);
            wait = ngx_min(wait, NGX_HTTP_RECSYS_EVENTS_BACKOFF * 1000);
        }

        for (waited = 0; waited < wait && !ec->cancel; waited += 100) {
            (void) usleep(100 * 1000);
        }
    }

    recsys_spool_store_close(&ec->store);

    return NULL;
}


/* on the shipper's thread, after each commit */

static void
ngx_http_recsys_events_commit(void *data, uint64_t shipped, uint64_t lost)
{
    ngx_http_recsys_events_catalog_t  *ec = data;

    (void) ngx_atomic_fetch_add(&ec->node->shipped, shipped);
    (void) ngx_atomic_fetch_add(&ec->node->lost, lost);

    if (shipped) {
        ec->node->last_ship = (ngx_atomic_uint_t) time(NULL);
    }
}


/* the shipper's failures in the error log: each new one, and the end */

static void
ngx_http_recsys_events_report(ngx_http_recsys_events_catalog_t *ec,
    ngx_log_t *log)
{
    ngx_uint_t  failing;
    char        err[RECSYS_SPOOL_ERRLEN];

    if (ec->started != 2) {
        return;
    }

    (void) pthread_mutex_lock(&ec->mutex);
    failing = ec->failing;
    ngx_memcpy(err, ec->err, sizeof(err));
    (void) pthread_mutex_unlock(&ec->mutex);

    if (failing && (!ec->logged || ngx_strcmp(err, ec->logged_err) != 0)) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "recsys catalog \"%V\": shipping events failed: %s",
                      &ec->catalog->name, err);
        ngx_memcpy(ec->logged_err, err, sizeof(err));

    } else if (!failing && ec->logged) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "recsys catalog \"%V\": shipping events works again",
                      &ec->catalog->name);
    }

    ec->logged = failing;
}


/* ---- what the admin and metrics modules read ---- */

ngx_int_t
ngx_http_recsys_events_stats(ngx_http_recsys_catalog_t *catalog,
    ngx_http_recsys_events_stats_t *st)
{
    ngx_uint_t                           i;
    ngx_http_recsys_events_node_t       *node;
    ngx_http_recsys_events_catalog_t   **ec;
    ngx_http_recsys_events_main_conf_t  *emcf;

    emcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_recsys_events_module);
    if (emcf == NULL) {
        return NGX_DECLINED;
    }

    ec = emcf->catalogs.elts;

    for (i = 0; i < emcf->catalogs.nelts; i++) {
        if (ec[i]->catalog != catalog || ec[i]->node == NULL) {
            continue;
        }

        node = ec[i]->node;

        st->received = node->received;
        st->rejected = node->rejected;
        st->spooled = node->spooled;
        st->shipped = node->shipped;
        st->lost = node->lost;
        st->spool_bytes = node->spool_bytes;
        st->ready = node->ready;
        st->ship_failures = node->ship_failures;
        st->last_ship = (time_t) node->last_ship;
        st->failing = node->failing;
        st->passes = node->passes;

        return NGX_OK;
    }

    return NGX_DECLINED;
}


u_char *
ngx_http_recsys_events_status(u_char *p, ngx_http_recsys_catalog_t *catalog)
{
    recsys_events_conf_t            *conf;
    ngx_http_recsys_events_stats_t   st;

    /* nothing for a catalog without events: the answer stays as it was */
    if (ngx_http_recsys_events_stats(catalog, &st) != NGX_OK) {
        return p;
    }

    conf = &catalog->conf->events;

    p = ngx_sprintf(p, ",\"events\":{\"received\":%uL,\"rejected\":%uL,"
                    "\"spooled\":%uL,\"shipped\":%uL,\"lost\":%uL,"
                    "\"spool_bytes\":%uL,\"ready_segments\":%uL,"
                    "\"sync\":\"%s\",\"store\":\"%s\",\"shipping\":\"%s\","
                    "\"ship_failures\":%uL",
                    st.received, st.rejected, st.spooled, st.shipped,
                    st.lost, st.spool_bytes, st.ready,
                    conf->sync == RECSYS_EVENTS_SYNC_REQUEST
                    ? "request" : "interval",
                    conf->store.type == RECSYS_STORE_POSTGRESQL
                    ? "postgresql" : "file",
                    st.passes == 0 ? "unknown"
                    : (st.failing ? "failing" : "ok"),
                    st.ship_failures);

    p = ngx_http_recsys_helper_time(p, "last_ship", st.last_ship);

    *p++ = '}';

    return p;
}


/* ---- configuration and process hooks ---- */

static ngx_int_t
ngx_http_recsys_events_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_recsys_events_main_conf_t  *oemcf = data;

    size_t                               len;
    ngx_uint_t                           i;
    ngx_http_recsys_catalog_t           *catalog;
    ngx_http_recsys_events_node_t       *node;
    ngx_http_recsys_events_catalog_t   **ec;
    ngx_http_recsys_events_main_conf_t  *emcf;

    emcf = shm_zone->data;

    if (oemcf) {
        emcf->shpool = oemcf->shpool;
        emcf->nodes = oemcf->nodes;

    } else {
        emcf->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

        if (shm_zone->shm.exists) {
            emcf->nodes = emcf->shpool->data;

        } else {
            emcf->nodes = ngx_slab_calloc(emcf->shpool,
                                    sizeof(ngx_http_recsys_events_node_t *));
            if (emcf->nodes == NULL) {
                return NGX_ERROR;
            }

            emcf->shpool->data = emcf->nodes;

            len = sizeof(" in recsys_events zone \"\"")
                  + shm_zone->shm.name.len;

            emcf->shpool->log_ctx = ngx_slab_alloc(emcf->shpool, len);
            if (emcf->shpool->log_ctx == NULL) {
                return NGX_ERROR;
            }

            ngx_sprintf(emcf->shpool->log_ctx,
                        " in recsys_events zone \"%V\"%Z",
                        &shm_zone->shm.name);
        }
    }

    ec = emcf->catalogs.elts;

    for (i = 0; i < emcf->catalogs.nelts; i++) {
        catalog = ec[i]->catalog;

        for (node = *emcf->nodes; node; node = node->next) {
            if (node->len == catalog->name.len
                && ngx_strncmp(node->name, catalog->name.data, node->len)
                   == 0)
            {
                break;
            }
        }

        if (node == NULL) {
            node = ngx_slab_calloc(emcf->shpool,
                                   sizeof(ngx_http_recsys_events_node_t)
                                   + catalog->name.len);
            if (node == NULL) {
                ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                              "recsys_events zone is too small for %ui "
                              "catalogs", emcf->catalogs.nelts);
                return NGX_ERROR;
            }

            node->len = catalog->name.len;
            ngx_memcpy(node->name, catalog->name.data, node->len);

            node->next = *emcf->nodes;
            *emcf->nodes = node;
        }

        ec[i]->node = node;
    }

    return NGX_OK;
}


static void *
ngx_http_recsys_events_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_recsys_events_main_conf_t  *emcf;

    emcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_recsys_events_main_conf_t));
    if (emcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&emcf->catalogs, cf->pool, 2,
                       sizeof(ngx_http_recsys_events_catalog_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return emcf;
}


static void *
ngx_http_recsys_events_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_recsys_events_loc_conf_t  *elcf;

    /*
     * set by ngx_pcalloc():
     *
     *     elcf->ec = NULL;
     */

    elcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_recsys_events_loc_conf_t));

    return elcf;
}


static char *
ngx_http_recsys_events(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_recsys_events_loc_conf_t *elcf = conf;

    ngx_str_t                    *value;
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_recsys_catalog_t    *catalog, **all;
    ngx_http_recsys_main_conf_t  *rmcf;

    if (elcf->ec) {
        return "is duplicate";
    }

    value = cf->args->elts;
    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_recsys_module);

    if (cf->args->nelts == 2) {
        catalog = ngx_http_recsys_find_catalog(rmcf, &value[1]);

        if (catalog == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown recsys catalog \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }

    } else if (rmcf->catalogs.nelts == 1) {
        all = rmcf->catalogs.elts;
        catalog = all[0];

    } else if (rmcf->catalogs.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"recsys_events\" is used but no "
                           "\"recsys_catalog\" is declared before it");
        return NGX_CONF_ERROR;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"recsys_events\" needs a catalog name: %ui "
                           "catalogs are declared", rmcf->catalogs.nelts);
        return NGX_CONF_ERROR;
    }

    if (!catalog->conf->events.enabled) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "recsys catalog \"%V\" takes no events: its file "
                           "\"%V\" has no \"events:\" section",
                           &catalog->name, &catalog->file);
        return NGX_CONF_ERROR;
    }

    if (catalog->conf->events.store.query) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "recsys catalog \"%V\" reads its events with "
                           "\"events.store.query\": the application writes "
                           "them, not \"recsys_events\"", &catalog->name);
        return NGX_CONF_ERROR;
    }

    elcf->ec = ngx_http_recsys_events_get(cf, catalog);
    if (elcf->ec == NULL) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_recsys_events_handler;

    return NGX_CONF_OK;
}


static ngx_http_recsys_events_catalog_t *
ngx_http_recsys_events_get(ngx_conf_t *cf, ngx_http_recsys_catalog_t *catalog)
{
    size_t                               len;
    ngx_uint_t                           i;
    ngx_http_recsys_events_catalog_t    *ec, **slot;
    ngx_http_recsys_events_main_conf_t  *emcf;

    emcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_recsys_events_module);
    slot = emcf->catalogs.elts;

    for (i = 0; i < emcf->catalogs.nelts; i++) {
        if (slot[i]->catalog == catalog) {
            return slot[i];
        }
    }

    ec = ngx_pcalloc(cf->pool, sizeof(ngx_http_recsys_events_catalog_t));
    if (ec == NULL) {
        return NULL;
    }

    len = ngx_strlen(catalog->conf->index.path);

    ec->dir = ngx_pnalloc(cf->pool, len + sizeof("/" RECSYS_SPOOL_DIR));
    if (ec->dir == NULL) {
        return NULL;
    }

    ngx_sprintf(ec->dir, "%s/" RECSYS_SPOOL_DIR "%Z",
                catalog->conf->index.path);

    ec->catalog = catalog;
    recsys_spool_writer_init(&ec->writer);

    slot = ngx_array_push(&emcf->catalogs);
    if (slot == NULL) {
        return NULL;
    }

    *slot = ec;

    return ec;
}


/*
 * Every catalog with an "events:" section that ships (no store.query)
 * gets its spool directory as a path with a manager: the shipper runs in
 * the helper process.  nginx creates the directory and gives it to the
 * worker user.
 */

static ngx_int_t
ngx_http_recsys_events_postconf(ngx_conf_t *cf)
{
    ngx_uint_t                           i;
    ngx_path_t                          *path;
    ngx_http_recsys_catalog_t          **catalog;
    ngx_http_recsys_main_conf_t         *rmcf;
    ngx_http_recsys_events_catalog_t    *ec;
    ngx_http_recsys_events_main_conf_t  *emcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_recsys_module);
    emcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_recsys_events_module);
    catalog = rmcf->catalogs.elts;

    for (i = 0; i < rmcf->catalogs.nelts; i++) {
        if (!catalog[i]->conf->events.enabled
            || catalog[i]->conf->events.store.query)
        {
            continue;
        }

        ec = ngx_http_recsys_events_get(cf, catalog[i]);
        if (ec == NULL) {
            return NGX_ERROR;
        }

        if (ngx_test_config || ngx_process == NGX_PROCESS_SIGNALLER) {
            continue;
        }

        path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
        if (path == NULL) {
            return NGX_ERROR;
        }

        path->name.data = ec->dir;
        path->name.len = ngx_strlen(ec->dir);
        path->manager = ngx_http_recsys_events_manager;
        path->data = ec;
        path->conf_file = catalog[i]->conf_file;
        path->line = catalog[i]->conf_line;

        if (ngx_add_path(cf, &path) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (emcf->catalogs.nelts == 0) {
        return NGX_OK;
    }

    emcf->shm_zone = ngx_shared_memory_add(cf,
                                           &ngx_http_recsys_events_zone_name,
                                           NGX_HTTP_RECSYS_EVENTS_ZONE_SIZE,
                                           &ngx_http_recsys_events_module);
    if (emcf->shm_zone == NULL) {
        return NGX_ERROR;
    }

    emcf->shm_zone->init = ngx_http_recsys_events_init_zone;
    emcf->shm_zone->data = emcf;

    return NGX_OK;
}


static ngx_int_t
ngx_http_recsys_events_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                           i;
    ngx_http_recsys_events_catalog_t   **ec;
    ngx_http_recsys_events_main_conf_t  *emcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    emcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_recsys_events_module);
    if (emcf == NULL || emcf->catalogs.nelts == 0) {
        return NGX_OK;
    }

    ec = emcf->catalogs.elts;

    for (i = 0; i < emcf->catalogs.nelts; i++) {
        recsys_spool_writer_init(&ec[i]->writer);

        ec[i]->seal_ev.handler = ngx_http_recsys_events_seal_handler;
        ec[i]->seal_ev.data = ec[i];
        ec[i]->seal_ev.log = cycle->log;
        ec[i]->seal_ev.cancelable = 1;

        ec[i]->sync_ev.handler = ngx_http_recsys_events_sync_handler;
        ec[i]->sync_ev.data = ec[i];
        ec[i]->sync_ev.log = cycle->log;
        ec[i]->sync_ev.cancelable = 1;

        /* without a master, this process is the shipper too */
        if (ngx_process == NGX_PROCESS_SINGLE && ec[i]->node) {
            (void) ngx_http_recsys_events_start(ec[i], cycle->log);
        }
    }

    if (ngx_process == NGX_PROCESS_SINGLE) {
        emcf->timer.handler = ngx_http_recsys_events_timer;
        emcf->timer.data = emcf;
        emcf->timer.log = cycle->log;
        emcf->timer.cancelable = 1;

        ngx_add_timer(&emcf->timer, NGX_HTTP_RECSYS_EVENTS_LOOK);
    }

    return NGX_OK;
}


/* a worker's segment is sealed when it exits; the single process's
 * shipper finishes its commit */

static void
ngx_http_recsys_events_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                           i;
    ngx_http_recsys_events_catalog_t   **ec;
    ngx_http_recsys_events_main_conf_t  *emcf;
    char                                 err[RECSYS_SPOOL_ERRLEN];

    emcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_recsys_events_module);
    if (emcf == NULL) {
        return;
    }

    ec = emcf->catalogs.elts;

    for (i = 0; i < emcf->catalogs.nelts; i++) {
        if (recsys_spool_seal(&ec[i]->writer, (char *) ec[i]->dir, err,
                              sizeof(err))
            != 0)
        {
            ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                          "recsys catalog \"%V\": %s",
                          &ec[i]->catalog->name, err);
        }

        if (ec[i]->started == 2) {
            ec[i]->cancel = 1;
            ngx_http_recsys_helper_join(ec[i]->tid);
            ec[i]->started = 0;
        }
    }
}
