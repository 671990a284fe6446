
/*
 * ngx_http_recsys_helper_module: keeps every catalog's index fresh.
 *
 * With master_process on, each catalog's index directory is registered as
 * an ngx_path_t with a manager callback, so the master runs the builds in
 * its "cache manager" process, respawns it after a crash and replaces it on
 * reload.  The callback only decides and polls: the build itself runs on a
 * thread, through recsys_build_ex(), which publishes a generation only once
 * it is complete.  With master_process off the same code runs on a thread
 * of the single process, polled by a timer.
 *
 * A shared memory zone holds, per catalog, the builder's state, the rebuild
 * request of the admin location, the last builds and a counter bumped on
 * every publish, which workers compare with one load per request.  A lock
 * file in the index directory keeps builds and rollbacks of a catalog one
 * at a time across processes, reloads and crashes.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <cjson/cJSON.h>

#include "ngx_http_recsys_module.h"
#include "ngx_http_recsys_metrics.h"
#include "ngx_http_recsys_helper.h"
#include "recsys_builder.h"
#include "recsys_request.h"


#define NGX_HTTP_RECSYS_HELPER_HISTORY    10
#define NGX_HTTP_RECSYS_HELPER_ZONE_SIZE  (1024 * 1024)

/* ms between two looks at a running build, and the longest sleep */
#define NGX_HTTP_RECSYS_HELPER_POLL       100
#define NGX_HTTP_RECSYS_HELPER_MAX_SLEEP  1000

#define NGX_HTTP_RECSYS_HELPER_LOCK       ".helper.lock"

#define NGX_HTTP_RECSYS_ADMIN_REBUILD     1
#define NGX_HTTP_RECSYS_ADMIN_STATUS      2
#define NGX_HTTP_RECSYS_ADMIN_ROLLBACK    3

#define NGX_HTTP_RECSYS_ADMIN_MAX_BODY    4096


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


typedef struct ngx_http_recsys_helper_node_s  ngx_http_recsys_helper_node_t;

/* one catalog in the shared zone; found by name again after a reload */
struct ngx_http_recsys_helper_node_s {
    ngx_http_recsys_helper_node_t  *next;

    ngx_atomic_t                published;      /* bumped on every publish */
    uint64_t                    generation;     /* last one published here */

    ngx_uint_t                  state;
    ngx_uint_t                  requested;      /* an admin rebuild waits */
    ngx_uint_t                  requested_full;
    uint64_t                    requested_id;
    uint64_t                    running_id;
    ngx_uint_t                  running_full;
    time_t                      running_since;
    u_char                      running_trigger[16];
    uint64_t                    last_id;

    ngx_uint_t                  failures;
    ngx_uint_t                  breaker_open;
    time_t                      last_success;
    time_t                      last_failure;
    uint64_t                    next_build;     /* ms since the epoch */
    ngx_uint_t                  started;        /* build_on_start done */
    int                         cancel;         /* a newer helper took over */

    ngx_pid_t                   pid;
    time_t                      heartbeat;

    time_t                      db_contact;
    ngx_uint_t                  db_ok;
    ngx_msec_t                  db_latency;

    uint64_t                    watermark_gen;
    u_char                      watermark[64];

    ngx_uint_t                  nbuilds;
    ngx_uint_t                  newest;
    ngx_http_recsys_helper_build_t  builds[NGX_HTTP_RECSYS_HELPER_HISTORY];

    size_t                      len;
    u_char                      name[1];
};


typedef struct {
    ngx_http_recsys_helper_node_t  *nodes;
} ngx_http_recsys_helper_shctx_t;


/* a build on its thread; the event loop owns it and joins it */
typedef struct {
    pthread_t                   tid;
    const recsys_catalog_t     *conf;
    recsys_build_opts_t         opts;
    recsys_build_result_t       res;
    int                         nice;
    int                         rc;
    ngx_fd_t                    lock;
    ngx_atomic_t                done;
    uint64_t                    id;
    ngx_uint_t                  full;
    time_t                      started;
} ngx_http_recsys_helper_job_t;


typedef struct ngx_http_recsys_helper_main_conf_s
    ngx_http_recsys_helper_main_conf_t;

/* per process: one catalog as this process's builder sees it */
typedef struct {
    ngx_http_recsys_catalog_t          *catalog;
    ngx_http_recsys_helper_node_t      *node;
    ngx_http_recsys_helper_main_conf_t *hmcf;
    ngx_path_t                         *path;
    ngx_http_recsys_helper_job_t       *job;
    ngx_uint_t                          ready;     /* took over the node */
    ngx_uint_t                          cleaned;   /* leftovers removed */
    time_t                              lock_logged;
} ngx_http_recsys_helper_catalog_t;


struct ngx_http_recsys_helper_main_conf_s {
    ngx_http_recsys_main_conf_t        *rmcf;
    ngx_shm_zone_t                     *shm_zone;
    ngx_slab_pool_t                    *shpool;
    ngx_http_recsys_helper_shctx_t     *sh;
    ngx_http_recsys_helper_catalog_t   *catalogs;
    ngx_uint_t                          ncatalogs;
    ngx_event_t                         timer;     /* master_process off */
    ngx_cycle_t                        *cycle;
};


typedef struct {
    ngx_uint_t                  admin;          /* NGX_HTTP_RECSYS_ADMIN_* */
    ngx_http_recsys_catalog_t  *catalog;
    ngx_http_complex_value_t   *token;
    ngx_str_t                   status_url;
} ngx_http_recsys_helper_loc_conf_t;


static ngx_msec_t ngx_http_recsys_helper_manager(void *data);
static void ngx_http_recsys_helper_timer(ngx_event_t *ev);
static ngx_msec_t ngx_http_recsys_helper_tick(
    ngx_http_recsys_helper_catalog_t *hc);
static void ngx_http_recsys_helper_takeover(
    ngx_http_recsys_helper_catalog_t *hc);
static ngx_int_t ngx_http_recsys_helper_start(
    ngx_http_recsys_helper_catalog_t *hc, ngx_fd_t lock, uint64_t id,
    ngx_uint_t full, const char *trigger);
static void ngx_http_recsys_helper_finish(
    ngx_http_recsys_helper_catalog_t *hc);
static void *ngx_http_recsys_helper_thread(void *data);
static void ngx_http_recsys_helper_record(ngx_http_recsys_helper_node_t *node,
    ngx_http_recsys_catalog_t *catalog, uint64_t id, ngx_uint_t full,
    const char *trigger, time_t started, recsys_build_result_t *res);
static ngx_msec_t ngx_http_recsys_helper_backoff(
    ngx_http_recsys_helper_node_t *node, recsys_maintenance_conf_t *mc);
static ngx_fd_t ngx_http_recsys_helper_lock(ngx_http_recsys_catalog_t *catalog,
    ngx_log_t *log);
static uint64_t ngx_http_recsys_helper_now_ms(void);
static ngx_http_recsys_helper_catalog_t *ngx_http_recsys_helper_find(
    ngx_http_recsys_helper_main_conf_t *hmcf,
    ngx_http_recsys_catalog_t *catalog);

static ngx_int_t ngx_http_recsys_admin_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_recsys_admin_auth(ngx_http_request_t *r,
    ngx_http_recsys_helper_loc_conf_t *alcf);
static void ngx_http_recsys_admin_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_recsys_admin_rebuild(ngx_http_request_t *r,
    ngx_http_recsys_helper_catalog_t *hc, ngx_uint_t full);
static ngx_int_t ngx_http_recsys_admin_status(ngx_http_request_t *r,
    ngx_http_recsys_helper_catalog_t *hc);
static ngx_int_t ngx_http_recsys_admin_rollback(ngx_http_request_t *r,
    ngx_http_recsys_helper_catalog_t *hc);
static u_char *ngx_http_recsys_admin_time(u_char *p, const char *key,
    time_t t);
static u_char *ngx_http_recsys_admin_str(u_char *p, const char *key,
    const char *s, size_t len);
static ngx_int_t ngx_http_recsys_admin_header(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);

static ngx_int_t ngx_http_recsys_helper_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void *ngx_http_recsys_helper_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_recsys_helper_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_recsys_helper_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_recsys_admin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_recsys_helper_postconf(ngx_conf_t *cf);
static ngx_int_t ngx_http_recsys_helper_init_process(ngx_cycle_t *cycle);
static void ngx_http_recsys_helper_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_recsys_helper_commands[] = {

    { ngx_string("recsys_admin"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_recsys_admin,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("recsys_admin_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_recsys_helper_loc_conf_t, token),
      NULL },

    { ngx_string("recsys_admin_status_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_recsys_helper_loc_conf_t, status_url),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_recsys_helper_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_recsys_helper_postconf,       /* postconfiguration */

    ngx_http_recsys_helper_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_recsys_helper_create_loc_conf, /* create location configuration */
    ngx_http_recsys_helper_merge_loc_conf  /* merge location configuration */
};


ngx_module_t  ngx_http_recsys_helper_module = {
    NGX_MODULE_V1,
    &ngx_http_recsys_helper_module_ctx,    /* module context */
    ngx_http_recsys_helper_commands,       /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_recsys_helper_init_process,   /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_recsys_helper_exit_process,   /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_recsys_helper_zone_name =
    ngx_string("recsys_helper");


static const char  *ngx_http_recsys_helper_states[] = {
    "idle", "running", "backing_off"
};


/* ---- the builder: helper process or single process ---- */

static ngx_msec_t
ngx_http_recsys_helper_manager(void *data)
{
    ngx_http_recsys_helper_catalog_t  *hc = data;

    return ngx_http_recsys_helper_tick(hc);
}


static void
ngx_http_recsys_helper_timer(ngx_event_t *ev)
{
    ngx_uint_t                           i;
    ngx_msec_t                           next, n;
    ngx_http_recsys_helper_main_conf_t  *hmcf;

    hmcf = ev->data;
    next = NGX_HTTP_RECSYS_HELPER_MAX_SLEEP;

    for (i = 0; i < hmcf->ncatalogs; i++) {
        n = ngx_http_recsys_helper_tick(&hmcf->catalogs[i]);
        next = ngx_min(next, n);
    }

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(ev, next ? next : 1);
}


/*
 * One look at a catalog: collect a finished build, or start the one that
 * is due.  Returns the ms until the next look.
 */

static ngx_msec_t
ngx_http_recsys_helper_tick(ngx_http_recsys_helper_catalog_t *hc)
{
    int                             start;
    uint64_t                        now, id;
    ngx_fd_t                        fd;
    ngx_uint_t                      full;
    const char                     *trigger;
    recsys_maintenance_conf_t      *mc;
    ngx_http_recsys_helper_node_t  *node;
    u_char                          link[NGX_MAX_PATH];

    node = hc->node;

    if (node == NULL) {
        return NGX_HTTP_RECSYS_HELPER_MAX_SLEEP;
    }

    if (!hc->ready) {
        ngx_http_recsys_helper_takeover(hc);
    }

    node->heartbeat = ngx_time();

    if (hc->job) {
        if (!hc->job->done) {
            return NGX_HTTP_RECSYS_HELPER_POLL;
        }

        ngx_http_recsys_helper_finish(hc);
    }

    mc = &hc->catalog->conf->maintenance;
    now = ngx_http_recsys_helper_now_ms();

    start = 0;
    id = 0;
    full = 0;
    trigger = NULL;

    ngx_shmtx_lock(&hc->hmcf->shpool->mutex);

    if (node->requested) {
        start = 1;
        id = node->requested_id;
        full = node->requested_full;
        trigger = "admin";

    } else if (!node->started) {
        node->started = 1;

        if (mc->build_on_start == RECSYS_BUILD_ON_START_ALWAYS) {
            start = 1;
            trigger = "start";

        } else if (mc->build_on_start == RECSYS_BUILD_ON_START_IF_MISSING) {
            ngx_snprintf(link, sizeof(link), "%s/" RECSYS_CURRENT_LINK "%Z",
                         hc->catalog->conf->index.path);

            if (access((char *) link, F_OK) != 0) {
                start = 1;
                trigger = "start";
            }
        }

        if (!start && mc->interval && node->next_build == 0) {
            node->next_build = now + mc->interval * 1000;
        }

    } else if (node->next_build && now >= node->next_build) {
        start = 1;
        trigger = (node->state == NGX_HTTP_RECSYS_HELPER_BACKING_OFF)
                  ? "retry" : "schedule";
    }

    ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);

    if (!start) {
        if (node->next_build == 0) {
            return NGX_HTTP_RECSYS_HELPER_MAX_SLEEP;
        }

        if (node->next_build <= now) {
            return 1;
        }

        return (ngx_msec_t) ngx_min(node->next_build - now,
                                    NGX_HTTP_RECSYS_HELPER_MAX_SLEEP);
    }

    /*
     * Busy: an older helper still exiting, or a rollback; look again soon.
     * An unusable directory is logged once a minute, not every look.
     */
    if (ngx_time() - hc->lock_logged >= 60) {
        fd = ngx_http_recsys_helper_lock(hc->catalog, ngx_cycle->log);

    } else {
        fd = ngx_http_recsys_helper_lock(hc->catalog, NULL);
    }

    if (fd == NGX_INVALID_FILE) {
        hc->lock_logged = ngx_time();

        if (ngx_strcmp(trigger, "start") == 0) {
            node->started = 0;
        }

        return NGX_HTTP_RECSYS_HELPER_POLL * 5;
    }

    node->cancel = 0;

    if (!hc->cleaned) {
        hc->cleaned = 1;
        recsys_cleanup_temp(hc->catalog->conf->index.path);
    }

    ngx_shmtx_lock(&hc->hmcf->shpool->mutex);

    if (id == 0) {
        id = ++node->last_id;
    }

    node->requested = 0;
    node->state = NGX_HTTP_RECSYS_HELPER_RUNNING;
    node->running_id = id;
    node->running_full = full;
    node->running_since = ngx_time();
    node->next_build = 0;
    ngx_cpystrn(node->running_trigger, (u_char *) trigger,
                sizeof(node->running_trigger));

    ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);

    if (ngx_http_recsys_helper_start(hc, fd, id, full, trigger) != NGX_OK) {
        ngx_close_file(fd);
        return NGX_HTTP_RECSYS_HELPER_MAX_SLEEP;
    }

    return NGX_HTTP_RECSYS_HELPER_POLL;
}


/*
 * The first look of this process: a build the previous owner was running
 * is gone with it (killed, or quitting on a reload), so it is recorded as
 * failed and retried; a still exiting owner is asked to publish nothing.
 */

static void
ngx_http_recsys_helper_takeover(ngx_http_recsys_helper_catalog_t *hc)
{
    ngx_pid_t                       old;
    recsys_build_result_t          *res;
    ngx_http_recsys_helper_node_t  *node;

    node = hc->node;
    hc->ready = 1;

    res = ngx_calloc(sizeof(recsys_build_result_t), ngx_cycle->log);
    if (res == NULL) {
        return;
    }

    ngx_shmtx_lock(&hc->hmcf->shpool->mutex);

    old = node->pid;
    node->pid = ngx_pid;

    if (node->state == NGX_HTTP_RECSYS_HELPER_RUNNING && old != ngx_pid) {
        node->cancel = 1;

        res->full = (int) node->running_full;
        ngx_snprintf((u_char *) res->error, sizeof(res->error) - 1,
                     "interrupted: the helper process %P exited during "
                     "the build%Z", old);

        ngx_http_recsys_helper_record(node, hc->catalog, node->running_id,
                                      node->running_full,
                                      (char *) node->running_trigger,
                                      node->running_since, res);

        ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "recsys catalog \"%V\": %s", &hc->catalog->name,
                      res->error);

    } else {
        ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);
    }

    ngx_free(res);
}


static ngx_int_t
ngx_http_recsys_helper_start(ngx_http_recsys_helper_catalog_t *hc,
    ngx_fd_t lock, uint64_t id, ngx_uint_t full, const char *trigger)
{
    int                             err;
    sigset_t                        all, old;
    recsys_build_result_t          *res;
    recsys_maintenance_conf_t      *mc;
    ngx_http_recsys_helper_job_t   *job;

    mc = &hc->catalog->conf->maintenance;

    job = ngx_calloc(sizeof(ngx_http_recsys_helper_job_t), ngx_cycle->log);
    if (job == NULL) {
        err = ENOMEM;
        goto failed;
    }

    job->conf = hc->catalog->conf;
    job->opts.force_full = (int) full;
    job->opts.threads = (int) mc->threads;
    job->opts.cancel = &hc->node->cancel;
    job->nice = mc->nice;
    job->lock = lock;
    job->id = id;
    job->full = full;
    job->started = ngx_time();

    /* signals are for the event loop, never for the builder */
    sigfillset(&all);
    (void) pthread_sigmask(SIG_BLOCK, &all, &old);

    err = pthread_create(&job->tid, NULL, ngx_http_recsys_helper_thread, job);

    (void) pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (err == 0) {
        hc->job = job;

        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "recsys catalog \"%V\": build %uL started (%s, %s)",
                      &hc->catalog->name, id,
                      full ? "full" : "incremental if possible", trigger);
        return NGX_OK;
    }

    ngx_free(job);

failed:

    ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, err,
                  "recsys catalog \"%V\": cannot start build %uL",
                  &hc->catalog->name, id);

    res = ngx_calloc(sizeof(recsys_build_result_t), ngx_cycle->log);
    if (res == NULL) {
        return NGX_ERROR;
    }

    ngx_snprintf((u_char *) res->error, sizeof(res->error) - 1,
                 "cannot start the build thread: %s%Z", strerror(err));

    ngx_shmtx_lock(&hc->hmcf->shpool->mutex);
    ngx_http_recsys_helper_record(hc->node, hc->catalog, id, full, trigger,
                                  ngx_time(), res);
    ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);

    ngx_free(res);

    return NGX_ERROR;
}


static void *
ngx_http_recsys_helper_thread(void *data)
{
    ngx_http_recsys_helper_job_t  *job = data;

    /* on Linux a thread has its own nice value; OpenMP threads inherit it */
    if (job->nice) {
        (void) setpriority(PRIO_PROCESS, (id_t) syscall(SYS_gettid),
                           job->nice);
    }

    job->rc = recsys_build_ex(job->conf, &job->opts, &job->res);

    ngx_memory_barrier();
    job->done = 1;

    return NULL;
}


static void
ngx_http_recsys_helper_finish(ngx_http_recsys_helper_catalog_t *hc)
{
    ngx_msec_t                      retry;
    recsys_build_result_t          *res;
    ngx_http_recsys_helper_job_t   *job;
    ngx_http_recsys_helper_node_t  *node;

    job = hc->job;
    hc->job = NULL;
    node = hc->node;

    (void) pthread_join(job->tid, NULL);

    res = &job->res;
    res->success = (job->rc == 0);

    if (!res->success && res->error[0] == '\0') {
        ngx_cpystrn((u_char *) res->error, (u_char *) "the build failed",
                    sizeof(res->error));
    }

    ngx_shmtx_lock(&hc->hmcf->shpool->mutex);

    /* superseded by a newer helper: it owns the state now */
    if (node->pid == ngx_pid) {
        ngx_http_recsys_helper_record(node, hc->catalog, job->id, job->full,
                                      (char *) node->running_trigger,
                                      job->started, res);
    }

    retry = node->next_build
            ? (ngx_msec_t) (node->next_build - ngx_http_recsys_helper_now_ms())
            : 0;

    ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);

    ngx_close_file(job->lock);

    if (res->success) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "recsys catalog \"%V\": build %uL published "
                      "generation %uL (%uL items, %s, %.3fs)",
                      &hc->catalog->name, job->id, res->generation,
                      res->items, res->full ? "full" : "incremental",
                      res->seconds);

    } else {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "recsys catalog \"%V\": build %uL failed: %s; "
                      "retry in %Mms%s", &hc->catalog->name, job->id,
                      res->error, retry,
                      node->breaker_open ? ", breaker open" : "");
    }

    ngx_http_recsys_metrics_rebuild((ngx_cycle_t *) ngx_cycle,
                                    &hc->catalog->name,
                                    res->success ? 1 : 0,
                                    (ngx_msec_t) (res->seconds * 1000));

    ngx_free(job);
}


/* with the zone's mutex held */

static void
ngx_http_recsys_helper_record(ngx_http_recsys_helper_node_t *node,
    ngx_http_recsys_catalog_t *catalog, uint64_t id, ngx_uint_t full,
    const char *trigger, time_t started, recsys_build_result_t *res)
{
    time_t                           now;
    uint64_t                         delay;
    recsys_maintenance_conf_t       *mc;
    ngx_http_recsys_helper_build_t  *b;

    mc = &catalog->conf->maintenance;
    now = ngx_time();

    node->newest = node->nbuilds ? (node->newest + 1)
                                   % NGX_HTTP_RECSYS_HELPER_HISTORY
                                 : 0;

    if (node->nbuilds < NGX_HTTP_RECSYS_HELPER_HISTORY) {
        node->nbuilds++;
    }

    b = &node->builds[node->newest];
    ngx_memzero(b, sizeof(ngx_http_recsys_helper_build_t));

    b->id = id;
    b->success = res->success ? 1 : 0;
    /* a failed build is what it was asked to be; a file is always full */
    b->full = res->success ? (res->full ? 1 : 0)
                           : (full
                              || catalog->conf->source.type
                                 == RECSYS_SOURCE_FILE);
    b->generation = res->generation;
    b->items = res->items;
    b->duration = (ngx_msec_t) (res->seconds * 1000);
    b->started = started;
    b->finished = now;
    ngx_cpystrn(b->trigger, (u_char *) (trigger ? trigger : "unknown"),
                sizeof(b->trigger));
    ngx_cpystrn(b->error, (u_char *) res->error, sizeof(b->error));

    if (catalog->conf->source.type == RECSYS_SOURCE_POSTGRESQL
        && (res->source_ok || res->source_seconds > 0 || res->error[0]))
    {
        node->db_contact = now;
        node->db_ok = res->source_ok ? 1 : 0;
        node->db_latency = (ngx_msec_t) (res->source_seconds * 1000);
    }

    if (res->success) {
        node->failures = 0;
        node->breaker_open = 0;
        node->last_success = now;
        node->state = NGX_HTTP_RECSYS_HELPER_IDLE;
        node->generation = res->generation;
        node->watermark_gen = res->generation;
        ngx_cpystrn(node->watermark, (u_char *) res->watermark,
                    sizeof(node->watermark));
        node->next_build = mc->interval
                           ? ngx_http_recsys_helper_now_ms()
                             + mc->interval * 1000
                           : 0;

        (void) ngx_atomic_fetch_add(&node->published, 1);
        return;
    }

    node->failures++;
    node->last_failure = now;

    if (node->failures >= (mc->breaker_threshold ? mc->breaker_threshold
                                                 : 5))
    {
        node->breaker_open = 1;
    }

    delay = ngx_http_recsys_helper_backoff(node, mc);

    node->state = NGX_HTTP_RECSYS_HELPER_BACKING_OFF;
    node->next_build = ngx_http_recsys_helper_now_ms() + delay;
}


/*
 * initial * 2^(failures - 1), capped at max (always max with the breaker
 * open), then spread over [0.75, 1.25) of that so that several nginx
 * instances on one database do not retry in step.
 */

static ngx_msec_t
ngx_http_recsys_helper_backoff(ngx_http_recsys_helper_node_t *node,
    recsys_maintenance_conf_t *mc)
{
    uint64_t    initial, max, d;
    ngx_uint_t  i;

    initial = (mc->backoff_initial ? mc->backoff_initial : 1) * 1000;
    max = (mc->backoff_max ? mc->backoff_max : 300) * 1000;

    if (max < initial) {
        max = initial;
    }

    d = initial;

    for (i = 1; i < node->failures && d < max; i++) {
        d *= 2;
    }

    if (d > max || node->breaker_open) {
        d = max;
    }

    d = d * 3 / 4 + (uint64_t) ngx_random() % (d / 2 + 1);

    return (ngx_msec_t) d;
}


/*
 * The catalog's build lock: held by a build for its whole run and by a
 * rollback, released by close() or by the death of its process.  Errors
 * other than "held by another" are logged when log is not NULL.
 */

static ngx_fd_t
ngx_http_recsys_helper_lock(ngx_http_recsys_catalog_t *catalog,
    ngx_log_t *log)
{
    ngx_fd_t  fd;
    u_char    path[NGX_MAX_PATH];

    ngx_snprintf(path, sizeof(path), "%s/" NGX_HTTP_RECSYS_HELPER_LOCK "%Z",
                 catalog->conf->index.path);

    fd = open((char *) path, O_RDWR|O_CREAT|O_CLOEXEC, 0644);

    if (fd == -1) {
        if (log) {
            ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                          "recsys catalog \"%V\": open(\"%s\") failed",
                          &catalog->name, path);
        }

        return NGX_INVALID_FILE;
    }

    if (flock(fd, LOCK_EX|LOCK_NB) == -1) {
        if (log && ngx_errno != NGX_EAGAIN) {
            ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                          "recsys catalog \"%V\": flock(\"%s\") failed",
                          &catalog->name, path);
        }

        ngx_close_file(fd);
        return NGX_INVALID_FILE;
    }

    return fd;
}


static uint64_t
ngx_http_recsys_helper_now_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


static ngx_http_recsys_helper_catalog_t *
ngx_http_recsys_helper_find(ngx_http_recsys_helper_main_conf_t *hmcf,
    ngx_http_recsys_catalog_t *catalog)
{
    ngx_uint_t  i;

    for (i = 0; i < hmcf->ncatalogs; i++) {
        if (hmcf->catalogs[i].catalog == catalog) {
            return &hmcf->catalogs[i];
        }
    }

    return NULL;
}


/* ---- what other parts of the module read ---- */

ngx_int_t
ngx_http_recsys_helper_info(ngx_http_recsys_catalog_t *catalog,
    ngx_http_recsys_helper_info_t *info)
{
    ngx_http_recsys_helper_catalog_t    *hc;
    ngx_http_recsys_helper_node_t       *node;
    ngx_http_recsys_helper_main_conf_t  *hmcf;

    ngx_memzero(info, sizeof(ngx_http_recsys_helper_info_t));

    hmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_recsys_helper_module);
    if (hmcf == NULL || hmcf->shpool == NULL) {
        return NGX_DECLINED;
    }

    hc = ngx_http_recsys_helper_find(hmcf, catalog);
    if (hc == NULL || hc->node == NULL) {
        return NGX_DECLINED;
    }

    node = hc->node;

    ngx_shmtx_lock(&hmcf->shpool->mutex);

    info->state = node->state;
    info->failures = node->failures;
    info->breaker_open = node->breaker_open;
    info->last_success = node->last_success;
    info->last_failure = node->last_failure;
    info->next_build = (time_t) (node->next_build / 1000);
    info->database = (catalog->conf->source.type
                      == RECSYS_SOURCE_POSTGRESQL);
    info->db_contact = node->db_contact;
    info->db_ok = node->db_ok;
    info->db_latency = node->db_latency;
    info->pid = node->pid;
    info->heartbeat = node->heartbeat;

    ngx_shmtx_unlock(&hmcf->shpool->mutex);

    return NGX_OK;
}


const char *
ngx_http_recsys_helper_status(ngx_http_recsys_catalog_t *catalog)
{
    ngx_uint_t                           i;
    ngx_http_recsys_helper_info_t        info;
    ngx_http_recsys_helper_main_conf_t  *hmcf;

    if (ngx_process == NGX_PROCESS_SINGLE) {
        return "in_process";
    }

    hmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_recsys_helper_module);
    if (hmcf == NULL || hmcf->shpool == NULL || hmcf->ncatalogs == 0) {
        return "not_configured";
    }

    for (i = 0; i < hmcf->ncatalogs; i++) {
        if (catalog && hmcf->catalogs[i].catalog != catalog) {
            continue;
        }

        if (ngx_http_recsys_helper_info(hmcf->catalogs[i].catalog, &info)
            != NGX_OK)
        {
            return "not_configured";
        }

        if (ngx_time() - info.heartbeat > NGX_HTTP_RECSYS_HELPER_STALE) {
            return "fail";
        }
    }

    return "pass";
}


const char *
ngx_http_recsys_helper_state_name(ngx_uint_t state)
{
    return state < sizeof(ngx_http_recsys_helper_states) / sizeof(char *)
           ? ngx_http_recsys_helper_states[state] : "unknown";
}


/* ---- admin locations ---- */

static ngx_int_t
ngx_http_recsys_admin_handler(ngx_http_request_t *r)
{
    ngx_int_t                            rc;
    ngx_str_t                            allow;
    ngx_uint_t                           methods;
    ngx_http_recsys_helper_catalog_t    *hc;
    ngx_http_recsys_helper_loc_conf_t   *alcf;
    ngx_http_recsys_helper_main_conf_t  *hmcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_helper_module);

    if (alcf->admin == NGX_HTTP_RECSYS_ADMIN_STATUS) {
        methods = NGX_HTTP_GET|NGX_HTTP_HEAD;
        ngx_str_set(&allow, "GET, HEAD");

    } else {
        methods = NGX_HTTP_POST;
        ngx_str_set(&allow, "POST");
    }

    if (!(r->method & methods)) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_recsys_admin_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_recsys_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                          "method_not_allowed",
                                          "method %V is not allowed, use %V",
                                          &r->method_name, &allow);
    }

    rc = ngx_http_recsys_admin_auth(r, alcf);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    hmcf = ngx_http_get_module_main_conf(r, ngx_http_recsys_helper_module);
    hc = ngx_http_recsys_helper_find(hmcf, alcf->catalog);

    if (hc == NULL || hc->node == NULL) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_recsys_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "builder_unavailable",
                                          "the builder of catalog \"%V\" is "
                                          "not available",
                                          &alcf->catalog->name);
    }

    if (alcf->admin == NGX_HTTP_RECSYS_ADMIN_REBUILD) {

        if (r->headers_in.content_length_n > NGX_HTTP_RECSYS_ADMIN_MAX_BODY) {
            if (ngx_http_discard_request_body(r) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_http_recsys_send_error(r,
                                        NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                        "body_too_large",
                                        "the body is larger than %d bytes",
                                        NGX_HTTP_RECSYS_ADMIN_MAX_BODY);
        }

        rc = ngx_http_read_client_request_body(r,
                                               ngx_http_recsys_admin_body);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (alcf->admin == NGX_HTTP_RECSYS_ADMIN_STATUS) {
        return ngx_http_recsys_admin_status(r, hc);
    }

    return ngx_http_recsys_admin_rollback(r, hc);
}


/*
 * "Authorization: Bearer <token>" against recsys_admin_token, compared in
 * a time that depends on the configured token's length only.  An empty
 * token value (an unset variable) locks the location rather than opening
 * it.  NGX_DECLINED: go on; anything else has answered the request.
 */

static ngx_int_t
ngx_http_recsys_admin_auth(ngx_http_request_t *r,
    ngx_http_recsys_helper_loc_conf_t *alcf)
{
    u_char       diff;
    size_t       i;
    ngx_str_t    token, given, value;
    ngx_int_t    rc;

    if (alcf->token == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_complex_value(r, alcf->token, &token) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->headers_in.authorization == NULL) {
        ngx_str_set(&value, "Bearer realm=\"recsys admin\"");
        rc = 401;
        goto failed;
    }

    given = r->headers_in.authorization->value;

    if (given.len < sizeof("Bearer ") - 1
        || ngx_strncasecmp(given.data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1)
           != 0)
    {
        ngx_str_set(&value, "Bearer realm=\"recsys admin\"");
        rc = 401;
        goto failed;
    }

    given.data += sizeof("Bearer ") - 1;
    given.len -= sizeof("Bearer ") - 1;

    diff = (given.len != token.len) || token.len == 0;

    for (i = 0; i < token.len; i++) {
        diff |= token.data[i] ^ (i < given.len ? given.data[i] : 0);
    }

    if (diff == 0) {
        return NGX_DECLINED;
    }

    ngx_str_set(&value, "Bearer realm=\"recsys admin\", "
                        "error=\"invalid_token\"");
    rc = NGX_HTTP_FORBIDDEN;

failed:

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_recsys_admin_header(r, "WWW-Authenticate", &value)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "recsys admin: %s bearer token for \"%V\"",
                  rc == 401 ? "no" : "wrong", &r->uri);

    if (rc == 401) {
        return ngx_http_recsys_send_error(r, 401, "unauthorized",
                                          "a bearer token is required");
    }

    return ngx_http_recsys_send_error(r, rc, "forbidden",
                                      "the bearer token is not valid");
}


static void
ngx_http_recsys_admin_body(ngx_http_request_t *r)
{
    u_char                             *p, *body;
    off_t                               len, size;
    ssize_t                             n;
    cJSON                              *root, *full;
    ngx_int_t                           rc;
    ngx_buf_t                          *b;
    ngx_uint_t                          want_full;
    ngx_chain_t                        *cl;
    ngx_http_recsys_helper_loc_conf_t  *alcf;
    ngx_http_recsys_helper_main_conf_t *hmcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_helper_module);
    hmcf = ngx_http_get_module_main_conf(r, ngx_http_recsys_helper_module);

    len = 0;

    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            b = cl->buf;
            len += b->in_file ? b->file_last - b->file_pos
                              : b->last - b->pos;
        }
    }

    /* a chunked body has no length to check up front */
    if (len > NGX_HTTP_RECSYS_ADMIN_MAX_BODY) {
        rc = ngx_http_recsys_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                        "body_too_large",
                                        "the body is larger than %d bytes",
                                        NGX_HTTP_RECSYS_ADMIN_MAX_BODY);
        ngx_http_finalize_request(r, rc);
        return;
    }

    body = ngx_pnalloc(r->pool, len + 1);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = body;

    for (cl = r->request_body ? r->request_body->bufs : NULL; cl;
         cl = cl->next)
    {
        b = cl->buf;

        if (b->in_file) {
            size = b->file_last - b->file_pos;
            n = ngx_read_file(b->file, p, size, b->file_pos);

            if (n != size) {
                ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            p += size;

        } else {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    *p = '\0';

    want_full = 0;

    for (p = body; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
    {
        /* void */
    }

    if (*p) {
        root = cJSON_ParseWithLength((char *) body, (size_t) len);

        if (root == NULL || !cJSON_IsObject(root)) {
            cJSON_Delete(root);
            rc = ngx_http_recsys_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "bad_json",
                                            "the body must be a JSON "
                                            "object, e.g. {\"full\": true}");
            ngx_http_finalize_request(r, rc);
            return;
        }

        full = cJSON_GetObjectItemCaseSensitive(root, "full");

        if (full && !cJSON_IsBool(full)) {
            cJSON_Delete(root);
            rc = ngx_http_recsys_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "bad_parameter",
                                            "\"full\" must be true or "
                                            "false");
            ngx_http_finalize_request(r, rc);
            return;
        }

        want_full = (full && cJSON_IsTrue(full));
        cJSON_Delete(root);
    }

    rc = ngx_http_recsys_admin_rebuild(r,
                                       ngx_http_recsys_helper_find(hmcf,
                                                        alcf->catalog),
                                       want_full);

    ngx_http_finalize_request(r, rc);
}


static ngx_int_t
ngx_http_recsys_admin_rebuild(ngx_http_request_t *r,
    ngx_http_recsys_helper_catalog_t *hc, ngx_uint_t full)
{
    u_char                             *p, *start;
    uint64_t                            id, busy;
    ngx_str_t                           location;
    ngx_http_recsys_helper_node_t      *node;
    ngx_http_recsys_helper_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_helper_module);
    node = hc->node;

    id = 0;

    ngx_shmtx_lock(&hc->hmcf->shpool->mutex);

    if (node->requested) {
        busy = node->requested_id;

    } else if (node->state == NGX_HTTP_RECSYS_HELPER_RUNNING) {
        busy = node->running_id;

    } else {
        busy = 0;
        id = ++node->last_id;
        node->requested = 1;
        node->requested_full = full;
        node->requested_id = id;
    }

    ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);

    if (busy) {
        return ngx_http_recsys_send_error(r, NGX_HTTP_CONFLICT,
                                          "build_in_progress",
                                          "build %uL of catalog \"%V\" is "
                                          "running or queued", busy,
                                          &hc->catalog->name);
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "recsys catalog \"%V\": build %uL requested (%s)",
                  &hc->catalog->name, id, full ? "full" : "default");

    /* the single process looks at once; a helper within its next poll */
    if (ngx_process == NGX_PROCESS_SINGLE && hc->hmcf->timer.timer_set) {
        ngx_add_timer(&hc->hmcf->timer, 1);
    }

    location = alcf->status_url;

    if (ngx_http_recsys_admin_header(r, "Location", &location) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    start = ngx_pnalloc(r->pool, 256 + 6 * alcf->status_url.len
                                 + 6 * hc->catalog->name.len);
    if (start == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(start, "{\"build_id\":%uL,\"full\":%s,", id,
                    full ? "true" : "false");
    p = ngx_http_recsys_admin_str(p, "catalog",
                                  (char *) hc->catalog->name.data,
                                  hc->catalog->name.len);
    p = ngx_cpymem(p, ",\"status\":\"queued\",",
                   sizeof(",\"status\":\"queued\",") - 1);
    p = ngx_http_recsys_admin_str(p, "status_url",
                                  (char *) alcf->status_url.data,
                                  alcf->status_url.len);
    p = ngx_cpymem(p, "}\n", 2);

    return ngx_http_recsys_send_json(r, NGX_HTTP_ACCEPTED, start, p - start);
}


static ngx_int_t
ngx_http_recsys_admin_status(ngx_http_request_t *r,
    ngx_http_recsys_helper_catalog_t *hc)
{
    u_char                           *p, *start;
    char                              dir[NGX_MAX_PATH], path[NGX_MAX_PATH];
    char                              err[RECSYS_ERRLEN];
    off_t                             size;
    size_t                            len;
    time_t                            now;
    uint64_t                          now_ms;
    ngx_uint_t                        i, k, have, threshold;
    recsys_manifest_t                 m;
    recsys_catalog_t                 *conf;
    ngx_http_recsys_helper_node_t    *node, snap;
    ngx_http_recsys_helper_build_t   *b;

    node = hc->node;
    conf = hc->catalog->conf;

    ngx_shmtx_lock(&hc->hmcf->shpool->mutex);
    ngx_memcpy(&snap, node, sizeof(ngx_http_recsys_helper_node_t));
    ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);

    /* what "current" points to now, from its manifest: nothing is mapped */
    have = recsys_current_dir(conf->index.path, dir, sizeof(dir), err,
                              sizeof(err))
           == 0;

    if (have) {
        ngx_snprintf((u_char *) path, sizeof(path),
                     "%s/" RECSYS_MANIFEST_FILE "%Z", dir);
        have = recsys_manifest_read(path, &m, err, sizeof(err)) == 0;
    }

    len = 4096 + 6 * hc->catalog->name.len + 6 * sizeof(recsys_manifest_t)
          + NGX_HTTP_RECSYS_HELPER_HISTORY
            * (1024 + 6 * RECSYS_CATALOG_ERRLEN);

    start = ngx_pnalloc(r->pool, len);
    if (start == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    now = ngx_time();
    now_ms = ngx_http_recsys_helper_now_ms();

    p = ngx_cpymem(start, "{", 1);
    p = ngx_http_recsys_admin_str(p, "catalog",
                                  (char *) hc->catalog->name.data,
                                  hc->catalog->name.len);

    if (have) {
        size = 0;

        for (i = 0; i < m.nfiles; i++) {
            size += (off_t) m.files[i].size;
        }

        p = ngx_sprintf(p, ",\"generation\":{\"number\":%uL,\"items\":%uL,"
                        "\"dimension\":%uD,\"metric\":\"%s\",",
                        m.generation, m.items, m.dimension,
                        recsys_metric_name(m.metric));
        p = ngx_http_recsys_admin_str(p, "factory", m.factory,
                                      ngx_strnlen((u_char *) m.factory,
                                                  sizeof(m.factory)));
        *p++ = ',';
        p = ngx_http_recsys_admin_str(p, "built_at", m.built_at,
                                      ngx_strnlen((u_char *) m.built_at,
                                                  sizeof(m.built_at)));
        *p++ = ',';
        p = ngx_http_recsys_admin_str(p, "source_type", m.source_type,
                                      ngx_strnlen((u_char *) m.source_type,
                                                  sizeof(m.source_type)));

        if (snap.watermark_gen == m.generation && snap.watermark[0]) {
            *p++ = ',';
            p = ngx_http_recsys_admin_str(p, "watermark",
                                          (char *) snap.watermark,
                                          ngx_strlen(snap.watermark));

        } else {
            p = ngx_cpymem(p, ",\"watermark\":null",
                           sizeof(",\"watermark\":null") - 1);
        }

        p = ngx_sprintf(p, ",\"size_bytes\":%O}", size);

    } else {
        p = ngx_cpymem(p, ",\"generation\":null",
                       sizeof(",\"generation\":null") - 1);
    }

    p = ngx_sprintf(p, ",\"builder\":{\"state\":\"%s\",\"mode\":\"%s\"",
                    ngx_http_recsys_helper_state_name(snap.state),
                    ngx_process == NGX_PROCESS_SINGLE ? "in_process"
                                                      : "helper_process");

    if (snap.state == NGX_HTTP_RECSYS_HELPER_RUNNING) {
        p = ngx_sprintf(p, ",\"build_id\":%uL,\"full\":%s",
                        snap.running_id,
                        snap.running_full ? "true" : "false");
        p = ngx_http_recsys_admin_time(p, "running_since",
                                       snap.running_since);

    } else {
        p = ngx_cpymem(p, ",\"build_id\":null", sizeof(",\"build_id\":null")
                                                - 1);
    }

    if (snap.requested) {
        p = ngx_sprintf(p, ",\"queued_build_id\":%uL", snap.requested_id);
    }

    p = ngx_sprintf(p, ",\"pid\":%P", snap.pid);

    p = snap.heartbeat
        ? ngx_sprintf(p, ",\"heartbeat_age_seconds\":%T",
                      now - snap.heartbeat)
        : ngx_cpymem(p, ",\"heartbeat_age_seconds\":null",
                     sizeof(",\"heartbeat_age_seconds\":null") - 1);

    threshold = conf->maintenance.breaker_threshold
                ? conf->maintenance.breaker_threshold : 5;

    p = ngx_sprintf(p, "},\"breaker\":{\"state\":\"%s\","
                    "\"consecutive_failures\":%ui,\"threshold\":%ui}",
                    snap.breaker_open ? "open" : "closed", snap.failures,
                    threshold);

    p = ngx_sprintf(p, ",\"consecutive_failures\":%ui", snap.failures);

    if (snap.next_build) {
        p = ngx_http_recsys_admin_time(p, "next_build",
                                       (time_t) (snap.next_build / 1000));
        p = ngx_sprintf(p, ",\"next_build_in_seconds\":%uL",
                        snap.next_build > now_ms
                        ? (snap.next_build - now_ms + 999) / 1000 : 0);

    } else {
        p = ngx_cpymem(p, ",\"next_build\":null,"
                       "\"next_build_in_seconds\":null",
                       sizeof(",\"next_build\":null,"
                              "\"next_build_in_seconds\":null") - 1);
    }

    p = ngx_sprintf(p, ",\"interval_seconds\":%uL",
                    conf->maintenance.interval);

    /* never the DSN: it may carry a host, a user and a password */
    if (conf->source.type != RECSYS_SOURCE_POSTGRESQL) {
        p = ngx_cpymem(p, ",\"database\":{\"state\":\"not_configured\"}",
                       sizeof(",\"database\":{\"state\":\"not_configured\"}")
                       - 1);

    } else if (snap.db_contact == 0) {
        p = ngx_cpymem(p, ",\"database\":{\"state\":\"unknown\"}",
                       sizeof(",\"database\":{\"state\":\"unknown\"}") - 1);

    } else {
        p = ngx_sprintf(p, ",\"database\":{\"state\":\"%s\"",
                        snap.db_ok ? "ok" : "failing");
        p = ngx_http_recsys_admin_time(p, "last_contact", snap.db_contact);
        p = ngx_sprintf(p, ",\"latency_ms\":%M}", snap.db_latency);
    }

    p = ngx_cpymem(p, ",\"builds\":[", sizeof(",\"builds\":[") - 1);

    /* newest first */
    for (i = 0; i < snap.nbuilds; i++) {
        k = (snap.newest + NGX_HTTP_RECSYS_HELPER_HISTORY - i)
            % NGX_HTTP_RECSYS_HELPER_HISTORY;
        b = &snap.builds[k];

        if (i) {
            *p++ = ',';
        }

        p = ngx_sprintf(p, "{\"id\":%uL,\"success\":%s,\"type\":\"%s\",",
                        b->id, b->success ? "true" : "false",
                        b->full ? "full" : "incremental");
        p = ngx_http_recsys_admin_str(p, "trigger", (char *) b->trigger,
                                      ngx_strlen(b->trigger));

        if (b->success) {
            p = ngx_sprintf(p, ",\"generation\":%uL,\"items\":%uL",
                            b->generation, b->items);

        } else {
            p = ngx_cpymem(p, ",\"generation\":null,\"items\":null",
                           sizeof(",\"generation\":null,\"items\":null")
                           - 1);
        }

        p = ngx_sprintf(p, ",\"duration_seconds\":%ui.%03ui",
                        (ngx_uint_t) (b->duration / 1000),
                        (ngx_uint_t) (b->duration % 1000));

        if (b->error[0]) {
            *p++ = ',';
            p = ngx_http_recsys_admin_str(p, "error", (char *) b->error,
                                          ngx_strlen(b->error));

        } else {
            p = ngx_cpymem(p, ",\"error\":null", sizeof(",\"error\":null")
                                                 - 1);
        }

        p = ngx_http_recsys_admin_time(p, "started_at", b->started);
        p = ngx_http_recsys_admin_time(p, "finished_at", b->finished);
        *p++ = '}';
    }

    p = ngx_cpymem(p, "]}\n", 3);

    return ngx_http_recsys_send_json(r, NGX_HTTP_OK, start, p - start);
}


static ngx_int_t
ngx_http_recsys_admin_rollback(ngx_http_request_t *r,
    ngx_http_recsys_helper_catalog_t *hc)
{
    u_char                          *p, *start;
    char                             err[RECSYS_CATALOG_ERRLEN];
    char                             dir[NGX_MAX_PATH], path[NGX_MAX_PATH];
    char                             merr[RECSYS_ERRLEN];
    uint64_t                         busy, generation, previous;
    ngx_fd_t                         fd;
    recsys_manifest_t                m;
    ngx_http_recsys_helper_node_t   *node;

    node = hc->node;

    ngx_shmtx_lock(&hc->hmcf->shpool->mutex);

    busy = node->requested ? node->requested_id
           : (node->state == NGX_HTTP_RECSYS_HELPER_RUNNING
              ? node->running_id : 0);

    ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);

    fd = NGX_INVALID_FILE;

    if (busy == 0) {
        fd = ngx_http_recsys_helper_lock(hc->catalog, r->connection->log);
    }

    if (fd == NGX_INVALID_FILE) {
        return ngx_http_recsys_send_error(r, NGX_HTTP_CONFLICT,
                                          "build_in_progress",
                                          "a build or rollback of catalog "
                                          "\"%V\" is running or queued",
                                          &hc->catalog->name);
    }

    previous = 0;

    if (recsys_current_dir(hc->catalog->conf->index.path, dir, sizeof(dir),
                           merr, sizeof(merr))
        == 0)
    {
        ngx_snprintf((u_char *) path, sizeof(path),
                     "%s/" RECSYS_MANIFEST_FILE "%Z", dir);

        if (recsys_manifest_read(path, &m, merr, sizeof(merr)) == 0) {
            previous = m.generation;
        }
    }

    err[0] = '\0';

    if (recsys_rollback(hc->catalog->conf, &generation, err, sizeof(err))
        != 0)
    {
        ngx_close_file(fd);

        return ngx_http_recsys_send_error(r, NGX_HTTP_CONFLICT,
                                          "no_previous_generation",
                                          "catalog \"%V\" has no generation "
                                          "to roll back to%s%s",
                                          &hc->catalog->name,
                                          err[0] ? ": " : "", err);
    }

    ngx_close_file(fd);

    ngx_shmtx_lock(&hc->hmcf->shpool->mutex);
    node->generation = generation;
    (void) ngx_atomic_fetch_add(&node->published, 1);
    ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "recsys catalog \"%V\": rolled back from generation %uL "
                  "to %uL", &hc->catalog->name, previous, generation);

    start = ngx_pnalloc(r->pool, 128 + 6 * hc->catalog->name.len);
    if (start == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(start, "{", 1);
    p = ngx_http_recsys_admin_str(p, "catalog",
                                  (char *) hc->catalog->name.data,
                                  hc->catalog->name.len);
    p = ngx_sprintf(p, ",\"generation\":%uL,\"previous_generation\":%uL}\n",
                    generation, previous);

    return ngx_http_recsys_send_json(r, NGX_HTTP_OK, start, p - start);
}


/* ,"key":"YYYY-MM-DDTHH:MM:SSZ" or ,"key":null for 0 */

static u_char *
ngx_http_recsys_admin_time(u_char *p, const char *key, time_t t)
{
    ngx_tm_t  tm;

    if (t == 0) {
        return ngx_sprintf(p, ",\"%s\":null", key);
    }

    ngx_gmtime(t, &tm);

    return ngx_sprintf(p, ",\"%s\":\"%4d-%02d-%02dT%02d:%02d:%02dZ\"", key,
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}


/* "key":"escaped value" */

static u_char *
ngx_http_recsys_admin_str(u_char *p, const char *key, const char *s,
    size_t len)
{
    p = ngx_sprintf(p, "\"%s\":\"", key);
    p = (u_char *) recsys_json_escape((char *) p, s, len);
    *p++ = '"';

    return p;
}


static ngx_int_t
ngx_http_recsys_admin_header(ngx_http_request_t *r, const char *name,
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

    return NGX_OK;
}


/* ---- configuration and process hooks ---- */

/*
 * Finds each catalog's block by name, so a reload keeps the state, the
 * history and the publish counter; a new catalog gets a new block.
 */

static ngx_int_t
ngx_http_recsys_helper_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_recsys_helper_main_conf_t  *ohmcf = data;

    size_t                               len;
    ngx_uint_t                           i;
    ngx_http_recsys_catalog_t           *catalog;
    ngx_http_recsys_helper_node_t       *node;
    ngx_http_recsys_helper_main_conf_t  *hmcf;

    hmcf = shm_zone->data;

    if (ohmcf) {
        hmcf->shpool = ohmcf->shpool;
        hmcf->sh = ohmcf->sh;

    } else {
        hmcf->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

        if (shm_zone->shm.exists) {
            hmcf->sh = hmcf->shpool->data;

        } else {
            hmcf->sh = ngx_slab_calloc(hmcf->shpool,
                                    sizeof(ngx_http_recsys_helper_shctx_t));
            if (hmcf->sh == NULL) {
                return NGX_ERROR;
            }

            hmcf->shpool->data = hmcf->sh;

            len = sizeof(" in recsys_helper zone \"\"")
                  + shm_zone->shm.name.len;

            hmcf->shpool->log_ctx = ngx_slab_alloc(hmcf->shpool, len);
            if (hmcf->shpool->log_ctx == NULL) {
                return NGX_ERROR;
            }

            ngx_sprintf(hmcf->shpool->log_ctx,
                        " in recsys_helper zone \"%V\"%Z",
                        &shm_zone->shm.name);
        }
    }

    for (i = 0; i < hmcf->ncatalogs; i++) {
        catalog = hmcf->catalogs[i].catalog;

        for (node = hmcf->sh->nodes; node; node = node->next) {
            if (node->len == catalog->name.len
                && ngx_strncmp(node->name, catalog->name.data, node->len)
                   == 0)
            {
                break;
            }
        }

        if (node == NULL) {
            node = ngx_slab_calloc(hmcf->shpool,
                                   sizeof(ngx_http_recsys_helper_node_t)
                                   + catalog->name.len);
            if (node == NULL) {
                ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                              "recsys_helper zone is too small for %ui "
                              "catalogs", hmcf->ncatalogs);
                return NGX_ERROR;
            }

            node->len = catalog->name.len;
            ngx_memcpy(node->name, catalog->name.data, node->len);

            /* the helper has this long to beat for the first time */
            node->heartbeat = ngx_time();

            node->next = hmcf->sh->nodes;
            hmcf->sh->nodes = node;
        }

        hmcf->catalogs[i].node = node;
        catalog->published = &node->published;
    }

    return NGX_OK;
}


static void *
ngx_http_recsys_helper_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_recsys_helper_main_conf_t  *hmcf;

    hmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_recsys_helper_main_conf_t));
    if (hmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     hmcf->shm_zone = NULL;
     *     hmcf->catalogs = NULL;
     *     hmcf->ncatalogs = 0;
     */

    return hmcf;
}


static void *
ngx_http_recsys_helper_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_recsys_helper_loc_conf_t  *alcf;

    alcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_recsys_helper_loc_conf_t));
    if (alcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     alcf->admin = 0;
     *     alcf->catalog = NULL;
     *     alcf->token = NULL;
     *     alcf->status_url = { 0, NULL };
     */

    return alcf;
}


static char *
ngx_http_recsys_helper_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_recsys_helper_loc_conf_t *prev = parent;
    ngx_http_recsys_helper_loc_conf_t *conf = child;

    if (conf->token == NULL) {
        conf->token = prev->token;
    }

    ngx_conf_merge_str_value(conf->status_url, prev->status_url,
                             "/admin/index/status");

    return NGX_CONF_OK;
}


static char *
ngx_http_recsys_admin(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_recsys_helper_loc_conf_t *alcf = conf;

    ngx_str_t                     *value;
    ngx_uint_t                     i;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_recsys_catalog_t    **catalog;
    ngx_http_recsys_main_conf_t   *rmcf;

    if (alcf->admin) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "rebuild") == 0) {
        alcf->admin = NGX_HTTP_RECSYS_ADMIN_REBUILD;

    } else if (ngx_strcmp(value[1].data, "status") == 0) {
        alcf->admin = NGX_HTTP_RECSYS_ADMIN_STATUS;

    } else if (ngx_strcmp(value[1].data, "rollback") == 0) {
        alcf->admin = NGX_HTTP_RECSYS_ADMIN_ROLLBACK;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\", expected rebuild, "
                           "status or rollback", &value[1]);
        return NGX_CONF_ERROR;
    }

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_recsys_module);
    catalog = rmcf->catalogs.elts;

    if (cf->args->nelts == 3) {
        for (i = 0; i < rmcf->catalogs.nelts; i++) {
            if (catalog[i]->name.len == value[2].len
                && ngx_strncmp(catalog[i]->name.data, value[2].data,
                               value[2].len)
                   == 0)
            {
                alcf->catalog = catalog[i];
                break;
            }
        }

        if (alcf->catalog == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown recsys catalog \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

    } else if (rmcf->catalogs.nelts == 1) {
        alcf->catalog = catalog[0];

    } else if (rmcf->catalogs.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"recsys_admin %V\" is used but no "
                           "\"recsys_catalog\" is declared before it",
                           &value[1]);
        return NGX_CONF_ERROR;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"recsys_admin %V\" needs a catalog name: %ui "
                           "catalogs are declared", &value[1],
                           rmcf->catalogs.nelts);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_recsys_admin_handler;

    return NGX_CONF_OK;
}


/*
 * Every catalog's index directory becomes a path with a manager: the
 * master then runs ngx_http_recsys_helper_manager() in its cache manager
 * process.  nginx creates the directory if it is missing (not its parents)
 * and gives it to the worker user.
 */

static ngx_int_t
ngx_http_recsys_helper_postconf(ngx_conf_t *cf)
{
    ngx_uint_t                           i;
    ngx_path_t                          *path;
    ngx_http_recsys_catalog_t          **catalog;
    ngx_http_recsys_main_conf_t         *rmcf;
    ngx_http_recsys_helper_catalog_t    *hc;
    ngx_http_recsys_helper_main_conf_t  *hmcf;

    hmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_recsys_helper_module);
    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_recsys_module);

    hmcf->rmcf = rmcf;

    if (rmcf->catalogs.nelts == 0) {
        return NGX_OK;
    }

    hmcf->ncatalogs = rmcf->catalogs.nelts;
    hmcf->catalogs = ngx_pcalloc(cf->pool,
                                 hmcf->ncatalogs
                                 * sizeof(ngx_http_recsys_helper_catalog_t));
    if (hmcf->catalogs == NULL) {
        return NGX_ERROR;
    }

    catalog = rmcf->catalogs.elts;

    for (i = 0; i < hmcf->ncatalogs; i++) {
        hc = &hmcf->catalogs[i];
        hc->catalog = catalog[i];
        hc->hmcf = hmcf;

        path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
        if (path == NULL) {
            return NGX_ERROR;
        }

        path->name.data = (u_char *) catalog[i]->conf->index.path;
        path->name.len = ngx_strlen(path->name.data);
        path->manager = ngx_http_recsys_helper_manager;
        path->data = hc;
        path->conf_file = cf->conf_file->file.name.data;
        path->line = cf->conf_file->line;

        if (ngx_add_path(cf, &path) != NGX_OK) {
            return NGX_ERROR;
        }

        hc->path = path;
    }

    hmcf->shm_zone = ngx_shared_memory_add(cf,
                                           &ngx_http_recsys_helper_zone_name,
                                           NGX_HTTP_RECSYS_HELPER_ZONE_SIZE,
                                           &ngx_http_recsys_helper_module);
    if (hmcf->shm_zone == NULL) {
        return NGX_ERROR;
    }

    hmcf->shm_zone->init = ngx_http_recsys_helper_init_zone;
    hmcf->shm_zone->data = hmcf;

    return NGX_OK;
}


/* without a master, the single process is its own helper */

static ngx_int_t
ngx_http_recsys_helper_init_process(ngx_cycle_t *cycle)
{
    ngx_http_recsys_helper_main_conf_t  *hmcf;

    if (ngx_process != NGX_PROCESS_SINGLE) {
        return NGX_OK;
    }

    hmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_recsys_helper_module);
    if (hmcf == NULL || hmcf->ncatalogs == 0 || hmcf->shpool == NULL) {
        return NGX_OK;
    }

    hmcf->cycle = cycle;
    hmcf->timer.handler = ngx_http_recsys_helper_timer;
    hmcf->timer.data = hmcf;
    hmcf->timer.log = cycle->log;
    hmcf->timer.cancelable = 1;

    ngx_add_timer(&hmcf->timer, 1);

    return NGX_OK;
}


/* the single process waits for its build: it never publishes half of one */

static void
ngx_http_recsys_helper_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                           i;
    ngx_http_recsys_helper_job_t        *job;
    ngx_http_recsys_helper_main_conf_t  *hmcf;

    hmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_recsys_helper_module);
    if (hmcf == NULL) {
        return;
    }

    for (i = 0; i < hmcf->ncatalogs; i++) {
        job = hmcf->catalogs[i].job;

        if (job == NULL) {
            continue;
        }

        hmcf->catalogs[i].node->cancel = 1;
        (void) pthread_join(job->tid, NULL);
        ngx_close_file(job->lock);
        ngx_free(job);
        hmcf->catalogs[i].job = NULL;
    }
}
