
/*
 * ngx_http_recsys_helper_module: keeps every catalog's index fresh.
 *
 * With master_process on, each catalog's index directory is registered as
 * an ngx_path_t with a manager callback, so the master runs the builds in
 * its "cache manager" process, respawns it after a crash and replaces it on
 * reload.  The callback only decides (recsys_schedule.c) and polls: the
 * build itself runs on a thread, through recsys_build_ex(), which
 * publishes a generation only once it is complete.  With master_process
 * off the same code runs on a thread of the single process, polled by a
 * timer.
 *
 * A shared memory zone holds, per catalog, the builder's state, the
 * rebuild request of the admin location, the last builds and a counter
 * bumped on every publish, which workers compare with one load per
 * request.  A lock file in the index directory keeps builds and rollbacks
 * of a catalog one at a time across processes, reloads and crashes.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "ngx_http_recsys_module.h"
#include "ngx_http_recsys_metrics.h"
#include "ngx_http_recsys_helper.h"
#include "recsys_builder.h"


#define NGX_HTTP_RECSYS_HELPER_ZONE_SIZE  (1024 * 1024)

/* ms between two looks at a running build, and the longest sleep */
#define NGX_HTTP_RECSYS_HELPER_POLL       100
#define NGX_HTTP_RECSYS_HELPER_MAX_SLEEP  1000

#define NGX_HTTP_RECSYS_HELPER_LOCK       ".helper.lock"

/* a builder message escaped for the log: at most 6 bytes a character */
#define NGX_HTTP_RECSYS_HELPER_LOG_TEXT   (6 * RECSYS_CATALOG_ERRLEN + 1)


typedef struct ngx_http_recsys_helper_node_s  ngx_http_recsys_helper_node_t;

/* one catalog in the shared zone; found by name again after a reload */
struct ngx_http_recsys_helper_node_s {
    ngx_http_recsys_helper_node_t  *next;

    ngx_atomic_t                published;      /* bumped on every publish */
    uint64_t                    generation;     /* last one published here */
    uint64_t                    last_id;
    int                         cancel;         /* a newer helper took over */

    ngx_http_recsys_helper_state_t  st;

    size_t                      len;
    u_char                      name[1];
};


typedef struct {
    ngx_http_recsys_helper_node_t  *nodes;
} ngx_http_recsys_helper_shctx_t;


/* a build or rollback on its thread; the event loop owns and joins it */
typedef struct {
    ngx_uint_t                  kind;       /* NGX_HTTP_RECSYS_HELPER_* */
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
    uint64_t                    previous;   /* rollback: served before */
    time_t                      started;
    ngx_str_t                   name;       /* the catalog's */
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


static ngx_msec_t ngx_http_recsys_helper_manager(void *data);
static void ngx_http_recsys_helper_timer(ngx_event_t *ev);
static ngx_msec_t ngx_http_recsys_helper_tick(
    ngx_http_recsys_helper_catalog_t *hc);
static void ngx_http_recsys_helper_takeover(
    ngx_http_recsys_helper_catalog_t *hc);
static ngx_int_t ngx_http_recsys_helper_start(
    ngx_http_recsys_helper_catalog_t *hc, ngx_fd_t lock, ngx_uint_t kind,
    uint64_t id, ngx_uint_t full, const char *trigger);
static void ngx_http_recsys_helper_finish(
    ngx_http_recsys_helper_catalog_t *hc);
static void *ngx_http_recsys_helper_thread(void *data);
static void ngx_http_recsys_helper_phase(void *data, const char *phase);
static int ngx_http_recsys_helper_rollback(ngx_http_recsys_helper_job_t *job);
static void ngx_http_recsys_helper_record(ngx_http_recsys_helper_node_t *node,
    ngx_http_recsys_catalog_t *catalog, ngx_http_recsys_helper_job_t *job,
    const char *trigger);
static ngx_uint_t ngx_http_recsys_helper_unpruned(
    ngx_http_recsys_helper_state_t *st, recsys_build_result_t *res,
    ngx_uint_t *fresh);
static void ngx_http_recsys_helper_warnings(
    ngx_http_recsys_helper_catalog_t *hc, ngx_http_recsys_helper_job_t *job,
    ngx_uint_t *fresh, ngx_uint_t nfresh);
static u_char *ngx_http_recsys_helper_log_text(u_char *buf, size_t size,
    const char *s);
static ngx_fd_t ngx_http_recsys_helper_lock(ngx_http_recsys_catalog_t *catalog,
    ngx_log_t *log);
static uint64_t ngx_http_recsys_helper_now_ms(void);
static ngx_http_recsys_helper_catalog_t *ngx_http_recsys_helper_find(
    ngx_http_recsys_catalog_t *catalog);

static ngx_int_t ngx_http_recsys_helper_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void *ngx_http_recsys_helper_create_main_conf(ngx_conf_t *cf);
static ngx_int_t ngx_http_recsys_helper_mkdir(ngx_conf_t *cf,
    ngx_http_recsys_catalog_t *catalog);
static ngx_int_t ngx_http_recsys_helper_postconf(ngx_conf_t *cf);
static ngx_int_t ngx_http_recsys_helper_init_process(ngx_cycle_t *cycle);
static void ngx_http_recsys_helper_exit_process(ngx_cycle_t *cycle);


static ngx_http_module_t  ngx_http_recsys_helper_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_recsys_helper_postconf,       /* postconfiguration */

    ngx_http_recsys_helper_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_recsys_helper_module = {
    NGX_MODULE_V1,
    &ngx_http_recsys_helper_module_ctx,    /* module context */
    NULL,                                  /* module directives */
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


static const char  *ngx_http_recsys_helper_jobs[] = {
    "none", "build", "rollback"
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
 * One look at a catalog: collect a finished job, or start the one that is
 * due.  Returns the ms until the next look.
 */

static ngx_msec_t
ngx_http_recsys_helper_tick(ngx_http_recsys_helper_catalog_t *hc)
{
    int                              missing;
    uint64_t                         now, id, sleep;
    ngx_fd_t                         fd;
    ngx_uint_t                       full, kind;
    const char                      *name;
    recsys_trigger_t                 trigger;
    recsys_maintenance_conf_t       *mc;
    ngx_http_recsys_helper_node_t   *node;
    ngx_http_recsys_helper_state_t  *st;
    u_char                           link[NGX_MAX_PATH];

    node = hc->node;

    if (node == NULL) {
        return NGX_HTTP_RECSYS_HELPER_MAX_SLEEP;
    }

    if (!hc->ready) {
        ngx_http_recsys_helper_takeover(hc);
    }

    st = &node->st;
    st->heartbeat = ngx_time();

    if (hc->job) {
        if (!hc->job->done) {
            ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                           "recsys helper \"%V\": %s %uL runs",
                           &hc->catalog->name,
                           ngx_http_recsys_helper_job_name(hc->job->kind),
                           hc->job->id);

            return NGX_HTTP_RECSYS_HELPER_POLL;
        }

        ngx_http_recsys_helper_finish(hc);
    }

    mc = &hc->catalog->conf->maintenance;
    now = ngx_http_recsys_helper_now_ms();

    /* build_on_start if_missing looks at "current" once, on the first look */
    missing = 0;

    if (!st->sched.started) {
        ngx_snprintf(link, sizeof(link) - 1, "%s/" RECSYS_CURRENT_LINK "%Z",
                     hc->catalog->conf->index.path);
        link[sizeof(link) - 1] = '\0';
        missing = (access((char *) link, F_OK) != 0);
    }

    ngx_shmtx_lock(&hc->hmcf->shpool->mutex);

    trigger = recsys_schedule_due(mc, &st->sched, now, st->requested != 0,
                                  missing);
    kind = (trigger == RECSYS_TRIGGER_ADMIN) ? st->requested
                                             : NGX_HTTP_RECSYS_HELPER_BUILD;
    id = (trigger == RECSYS_TRIGGER_ADMIN) ? st->requested_id : 0;
    sleep = recsys_schedule_sleep(&st->sched, now,
                                  NGX_HTTP_RECSYS_HELPER_MAX_SLEEP);

    ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);

    if (trigger == RECSYS_TRIGGER_NONE) {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "recsys helper \"%V\": %s, next look in %uLms",
                       &hc->catalog->name,
                       recsys_schedule_state_name(st->sched.state), sleep);

        return (ngx_msec_t) sleep;
    }

    name = recsys_trigger_name(trigger);

    /*
     * Busy: an older helper still exiting, or recsys-build; look again
     * soon.  An unusable directory is logged once a minute, not every look.
     */
    if (ngx_time() - hc->lock_logged >= 60) {
        fd = ngx_http_recsys_helper_lock(hc->catalog, ngx_cycle->log);

    } else {
        fd = ngx_http_recsys_helper_lock(hc->catalog, NULL);
    }

    if (fd == NGX_INVALID_FILE) {
        hc->lock_logged = ngx_time();

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "recsys helper \"%V\": %s %s waits for the lock",
                       &hc->catalog->name, name,
                       ngx_http_recsys_helper_job_name(kind));

        ngx_shmtx_lock(&hc->hmcf->shpool->mutex);
        recsys_schedule_defer(&st->sched, trigger);
        ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);

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

    if (trigger == RECSYS_TRIGGER_ADMIN) {
        st->requested = 0;
    }

    /* a rollback leaves the build schedule, backoff and breaker alone */
    full = (kind == NGX_HTTP_RECSYS_HELPER_BUILD)
           ? (ngx_uint_t) recsys_schedule_begin(&st->sched, trigger,
                                                (int) st->requested_full)
           : 0;

    st->running = kind;
    st->running_id = id;
    st->running_full = full;
    st->running_since = ngx_time();
    ngx_cpystrn(st->running_trigger, (u_char *) name,
                sizeof(st->running_trigger));

    ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);

    if (ngx_http_recsys_helper_start(hc, fd, kind, id, full, name)
        != NGX_OK)
    {
        ngx_close_file(fd);
        return NGX_HTTP_RECSYS_HELPER_MAX_SLEEP;
    }

    return NGX_HTTP_RECSYS_HELPER_POLL;
}


/*
 * The first look of this process: a job the previous owner was running
 * is gone with it (killed, or quitting on a reload), so it is recorded as
 * failed (a build is retried); a still exiting owner is asked to publish
 * nothing.
 */

static void
ngx_http_recsys_helper_takeover(ngx_http_recsys_helper_catalog_t *hc)
{
    ngx_pid_t                        old;
    recsys_build_result_t           *res;
    ngx_http_recsys_helper_job_t    *job;
    ngx_http_recsys_helper_node_t   *node;
    ngx_http_recsys_helper_state_t  *st;

    node = hc->node;
    st = &node->st;
    hc->ready = 1;

    job = ngx_calloc(sizeof(ngx_http_recsys_helper_job_t), ngx_cycle->log);
    if (job == NULL) {
        return;
    }

    res = &job->res;

    ngx_shmtx_lock(&hc->hmcf->shpool->mutex);

    old = st->pid;
    st->pid = ngx_pid;

    if (st->running && old != ngx_pid) {
        node->cancel = 1;

        job->kind = st->running;
        job->id = st->running_id;
        job->full = st->running_full;
        job->started = st->running_since;

        res->full = (int) st->running_full;
        ngx_snprintf((u_char *) res->error, sizeof(res->error) - 1,
                     "interrupted: the helper process %P exited during "
                     "the %s%Z", old,
                     ngx_http_recsys_helper_job_name(job->kind));

        ngx_http_recsys_helper_record(node, hc->catalog, job,
                                      (char *) st->running_trigger);

        ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "recsys catalog \"%V\": %s", &hc->catalog->name,
                      res->error);

    } else {
        ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);
    }

    ngx_free(job);
}


static ngx_int_t
ngx_http_recsys_helper_start(ngx_http_recsys_helper_catalog_t *hc,
    ngx_fd_t lock, ngx_uint_t kind, uint64_t id, ngx_uint_t full,
    const char *trigger)
{
    int                             err;
    recsys_maintenance_conf_t      *mc;
    ngx_http_recsys_helper_job_t   *job;

    mc = &hc->catalog->conf->maintenance;

    job = ngx_calloc(sizeof(ngx_http_recsys_helper_job_t), ngx_cycle->log);
    if (job == NULL) {
        err = ENOMEM;
        goto failed;
    }

    job->kind = kind;
    job->conf = hc->catalog->conf;
    job->opts.force_full = (int) full;
    job->opts.threads = (int) mc->threads;
    job->opts.cancel = &hc->node->cancel;
    job->opts.phase = ngx_http_recsys_helper_phase;
    job->opts.data = job;
    job->name = hc->catalog->name;
    job->nice = mc->nice;
    job->lock = lock;
    job->id = id;
    job->full = full;
    job->started = ngx_time();

    err = ngx_http_recsys_helper_spawn(&job->tid,
                                       ngx_http_recsys_helper_thread, job);

    if (err == 0) {
        hc->job = job;

        if (kind == NGX_HTTP_RECSYS_HELPER_ROLLBACK) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "recsys catalog \"%V\": rollback %uL started",
                          &hc->catalog->name, id);

        } else {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "recsys catalog \"%V\": build %uL started (%s, %s)",
                          &hc->catalog->name, id,
                          full ? "full" : "incremental if possible", trigger);
        }

        return NGX_OK;
    }

    ngx_free(job);

failed:

    ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, err,
                  "recsys catalog \"%V\": cannot start %s %uL",
                  &hc->catalog->name, ngx_http_recsys_helper_job_name(kind),
                  id);

    job = ngx_calloc(sizeof(ngx_http_recsys_helper_job_t), ngx_cycle->log);
    if (job == NULL) {
        return NGX_ERROR;
    }

    job->kind = kind;
    job->id = id;
    job->full = full;
    job->started = ngx_time();

    ngx_snprintf((u_char *) job->res.error, sizeof(job->res.error) - 1,
                 "cannot start the %s thread: %s%Z",
                 ngx_http_recsys_helper_job_name(kind), strerror(err));

    ngx_shmtx_lock(&hc->hmcf->shpool->mutex);
    ngx_http_recsys_helper_record(hc->node, hc->catalog, job, trigger);
    ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);

    ngx_free(job);

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

    if (job->kind == NGX_HTTP_RECSYS_HELPER_ROLLBACK) {
        job->rc = ngx_http_recsys_helper_rollback(job);

    } else {
        job->rc = recsys_build_ex(job->conf, &job->opts, &job->res);
    }

    ngx_memory_barrier();
    job->done = 1;

    return NULL;
}


/*
 * On the job's thread: current goes back one generation (candidates are
 * opened and verified, which is why this is not done in a worker); the
 * result takes the generation rolled back to and its item count.
 */

static int
ngx_http_recsys_helper_rollback(ngx_http_recsys_helper_job_t *job)
{
    uint64_t                start;
    recsys_manifest_t       m;
    recsys_build_result_t  *res;

    res = &job->res;
    start = ngx_http_recsys_now_us();

    if (ngx_http_recsys_helper_current(job->conf, &m) == NGX_OK) {
        job->previous = m.generation;
    }

    if (recsys_rollback(job->conf, &res->generation, res->error,
                        sizeof(res->error))
        != 0)
    {
        if (res->error[0] == '\0') {
            ngx_cpystrn((u_char *) res->error,
                        (u_char *) "no generation to roll back to",
                        sizeof(res->error));
        }

        res->seconds = (double) (ngx_http_recsys_now_us() - start) / 1e6;
        return -1;
    }

    if (ngx_http_recsys_helper_current(job->conf, &m) == NGX_OK) {
        res->items = m.items;
    }

    res->seconds = (double) (ngx_http_recsys_now_us() - start) / 1e6;

    return 0;
}


static void
ngx_http_recsys_helper_finish(ngx_http_recsys_helper_catalog_t *hc)
{
    u_char                         *error;
    ngx_msec_t                      retry;
    ngx_uint_t                      nfresh;
    recsys_build_result_t          *res;
    ngx_http_recsys_helper_job_t   *job;
    ngx_http_recsys_helper_node_t  *node;
    ngx_uint_t                      fresh[RECSYS_BUILD_UNPRUNED];
    u_char                          text[NGX_HTTP_RECSYS_HELPER_LOG_TEXT];

    job = hc->job;
    hc->job = NULL;
    node = hc->node;
    nfresh = 0;

    ngx_http_recsys_helper_join(job->tid);

    res = &job->res;
    res->success = (job->rc == 0);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "recsys helper \"%V\": %s %uL done, rc %d",
                   &hc->catalog->name,
                   ngx_http_recsys_helper_job_name(job->kind), job->id,
                   job->rc);

    if (!res->success && res->error[0] == '\0') {
        ngx_cpystrn((u_char *) res->error, (u_char *) "the build failed",
                    sizeof(res->error));
    }

    ngx_shmtx_lock(&hc->hmcf->shpool->mutex);

    /* superseded by a newer helper: it owns the state now */
    if (node->st.pid == ngx_pid) {
        ngx_http_recsys_helper_record(node, hc->catalog, job,
                                      (char *) node->st.running_trigger);

        /* pruning runs after each publish, and only then */
        if (job->kind == NGX_HTTP_RECSYS_HELPER_BUILD && res->success
            && res->published)
        {
            nfresh = ngx_http_recsys_helper_unpruned(&node->st, res, fresh);
        }
    }

    retry = node->st.sched.next_build
            ? (ngx_msec_t) (node->st.sched.next_build
                            - ngx_http_recsys_helper_now_ms())
            : 0;

    ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);

    ngx_close_file(job->lock);

    error = ngx_http_recsys_helper_log_text(text, sizeof(text), res->error);

    if (job->kind == NGX_HTTP_RECSYS_HELPER_ROLLBACK) {
        if (res->success) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "recsys catalog \"%V\": rollback %uL: rolled back "
                          "from generation %uL to %uL", &hc->catalog->name,
                          job->id, job->previous, res->generation);

        } else {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "recsys catalog \"%V\": rollback %uL failed: %s",
                          &hc->catalog->name, job->id, error);
        }

        ngx_free(job);
        return;
    }

    if (res->success && res->published) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "recsys catalog \"%V\": build %uL published "
                      "generation %uL (%uL items, %s, %.3fs)",
                      &hc->catalog->name, job->id, res->generation,
                      res->items, res->full ? "full" : "incremental",
                      res->seconds);

    } else if (res->success) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "recsys catalog \"%V\": build %uL found no change, "
                      "generation %uL still served (%uL items, %.3fs)",
                      &hc->catalog->name, job->id, res->generation,
                      res->items, res->seconds);

    } else {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "recsys catalog \"%V\": build %uL failed: %s; "
                      "retry in %Mms%s", &hc->catalog->name, job->id,
                      error, retry,
                      node->st.sched.breaker_open ? ", breaker open" : "");
    }

    ngx_http_recsys_helper_warnings(hc, job, fresh, nfresh);

    ngx_http_recsys_metrics_rebuild((ngx_cycle_t *) ngx_cycle,
                                    &hc->catalog->name,
                                    res->success ? 1 : 0,
                                    (ngx_msec_t) (res->seconds * 1000));

    ngx_free(job);
}


/* with the zone's mutex held */

static void
ngx_http_recsys_helper_record(ngx_http_recsys_helper_node_t *node,
    ngx_http_recsys_catalog_t *catalog, ngx_http_recsys_helper_job_t *job,
    const char *trigger)
{
    time_t                           now;
    recsys_build_result_t           *res;
    recsys_maintenance_conf_t       *mc;
    ngx_http_recsys_helper_build_t  *b;
    ngx_http_recsys_helper_state_t  *st;

    res = &job->res;
    mc = &catalog->conf->maintenance;
    st = &node->st;
    now = ngx_time();

    st->running = 0;

    st->newest = st->nbuilds ? (st->newest + 1)
                               % NGX_HTTP_RECSYS_HELPER_HISTORY
                             : 0;

    if (st->nbuilds < NGX_HTTP_RECSYS_HELPER_HISTORY) {
        st->nbuilds++;
    }

    b = &st->builds[st->newest];
    ngx_memzero(b, sizeof(ngx_http_recsys_helper_build_t));

    b->id = job->id;
    b->job = job->kind;
    b->success = res->success ? 1 : 0;
    b->published = (res->success
                    && (res->published
                        || job->kind == NGX_HTTP_RECSYS_HELPER_ROLLBACK));
    /* a failed build is what it was asked to be; a file is always full */
    b->full = res->success ? (res->full ? 1 : 0)
                           : (job->full
                              || catalog->conf->source.type
                                 == RECSYS_SOURCE_FILE);
    b->generation = res->generation;
    b->previous = job->previous;
    b->items = res->items;
    b->duration = (ngx_msec_t) (res->seconds * 1000);
    b->started = job->started;
    b->finished = now;
    ngx_cpystrn(b->trigger, (u_char *) (trigger ? trigger : "unknown"),
                sizeof(b->trigger));
    ngx_cpystrn(b->error, (u_char *) res->error, sizeof(b->error));

    if (job->kind == NGX_HTTP_RECSYS_HELPER_ROLLBACK) {
        if (res->success) {
            node->generation = res->generation;
            (void) ngx_atomic_fetch_add(&node->published, 1);
        }

        return;
    }

    if (catalog->conf->source.type == RECSYS_SOURCE_POSTGRESQL
        && (res->source_ok || res->source_seconds > 0 || res->error[0]))
    {
        st->db_contact = now;
        st->db_ok = res->source_ok ? 1 : 0;
        st->db_latency = (ngx_msec_t) (res->source_seconds * 1000);
    }

    if (res->success) {
        st->last_success = now;
        recsys_schedule_success(mc, &st->sched,
                                ngx_http_recsys_helper_now_ms());

        node->generation = res->generation;
        st->watermark_gen = res->generation;
        ngx_cpystrn(st->watermark, (u_char *) res->watermark,
                    sizeof(st->watermark));

        /* no change: workers have nothing new to look at */
        if (res->published) {
            (void) ngx_atomic_fetch_add(&node->published, 1);
        }

        return;
    }

    st->last_failure = now;

    (void) recsys_schedule_failure(mc, &st->sched,
                                   ngx_http_recsys_helper_now_ms(),
                                   job->full != 0, (uint32_t) ngx_random());
}


/*
 * On the build thread: a debug line as each build phase starts, written
 * as nginx's thread pools write theirs.
 */

static void
ngx_http_recsys_helper_phase(void *data, const char *phase)
{
#if (NGX_DEBUG)
    ngx_http_recsys_helper_job_t  *job = data;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "recsys helper \"%V\": build %uL: %s", &job->name,
                   job->id, phase);
#endif
}


/*
 * With the zone's mutex held, after a publish: what this prune left
 * becomes the node's list; the generations not on it before are returned
 * (indexes into res->unpruned) and counted, so one that stays is logged
 * and counted once, not on every build.
 */

static ngx_uint_t
ngx_http_recsys_helper_unpruned(ngx_http_recsys_helper_state_t *st,
    recsys_build_result_t *res, ngx_uint_t *fresh)
{
    ngx_uint_t  i, j, n, nfresh;

    n = ngx_min(res->nunpruned, RECSYS_BUILD_UNPRUNED);
    nfresh = 0;

    for (i = 0; i < n; i++) {
        for (j = 0; j < st->nunpruned; j++) {
            if (st->unpruned[j] == res->unpruned[i].generation) {
                break;
            }
        }

        if (j == st->nunpruned) {
            fresh[nfresh++] = i;
        }
    }

    for (i = 0; i < n; i++) {
        st->unpruned[i] = res->unpruned[i].generation;
    }

    st->nunpruned = n;
    st->prune_failures += nfresh;

    return nfresh;
}


/* what the builder reports without failing, logged here: it writes none */

static void
ngx_http_recsys_helper_warnings(ngx_http_recsys_helper_catalog_t *hc,
    ngx_http_recsys_helper_job_t *job, ngx_uint_t *fresh, ngx_uint_t nfresh)
{
    u_char                  *msg;
    ngx_uint_t               i;
    recsys_build_result_t   *res;
    recsys_prune_failure_t  *f;
    u_char                   text[NGX_HTTP_RECSYS_HELPER_LOG_TEXT];

    res = &job->res;

    for (i = 0; i < res->nwarnings && i < RECSYS_BUILD_WARNINGS; i++) {
        msg = ngx_http_recsys_helper_log_text(text, sizeof(text),
                                              res->warnings[i]);
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "recsys catalog \"%V\": build %uL: %s",
                      &hc->catalog->name, job->id, msg);
    }

    if (res->nwarnings > RECSYS_BUILD_WARNINGS) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "recsys catalog \"%V\": build %uL: %uD more warnings",
                      &hc->catalog->name, job->id,
                      res->nwarnings - RECSYS_BUILD_WARNINGS);
    }

    /* disk space that only the operator can give back (owner, mode) */
    for (i = 0; i < nfresh; i++) {
        f = &res->unpruned[fresh[i]];
        msg = ngx_http_recsys_helper_log_text(text, sizeof(text), f->error);
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "recsys catalog \"%V\": cannot remove old generation "
                      "%uL, it stays on disk: %s", &hc->catalog->name,
                      f->generation, msg);
    }

    if (nfresh && res->nunpruned > RECSYS_BUILD_UNPRUNED) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "recsys catalog \"%V\": %uz more old generations "
                      "cannot be removed", &hc->catalog->name,
                      res->nunpruned - RECSYS_BUILD_UNPRUNED);
    }

    if (res->published && res->nunpruned > nfresh) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "recsys helper \"%V\": %uz old generations still "
                       "cannot be removed", &hc->catalog->name,
                       res->nunpruned);
    }
}


/*
 * Builder text quotes the source (ids, column values): escaped as in
 * JSON, a newline in it cannot start a forged error.log line.  Returns
 * buf, NUL-terminated; size must hold the worst case.
 */

static u_char *
ngx_http_recsys_helper_log_text(u_char *buf, size_t size, const char *s)
{
    u_char  *p;
    size_t   len;

    len = ngx_strlen(s);

    if (len + ngx_escape_json(NULL, (u_char *) s, len) >= size) {
        len = (size - 1) / 6;
    }

    p = (u_char *) ngx_escape_json(buf, (u_char *) s, len);
    *p = '\0';

    return buf;
}


/*
 * The catalog's build lock: held by a build or a rollback for its whole
 * run, released by close() or by the death of its process.  Errors other
 * than "held by another" are logged when log is not NULL.
 */

static ngx_fd_t
ngx_http_recsys_helper_lock(ngx_http_recsys_catalog_t *catalog,
    ngx_log_t *log)
{
    ngx_fd_t  fd;
    u_char    path[NGX_MAX_PATH];

    ngx_snprintf(path, sizeof(path) - 1,
                 "%s/" NGX_HTTP_RECSYS_HELPER_LOCK "%Z",
                 catalog->conf->index.path);
    path[sizeof(path) - 1] = '\0';

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
ngx_http_recsys_helper_find(ngx_http_recsys_catalog_t *catalog)
{
    ngx_uint_t                           i;
    ngx_http_recsys_helper_main_conf_t  *hmcf;

    hmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_recsys_helper_module);
    if (hmcf == NULL || hmcf->shpool == NULL) {
        return NULL;
    }

    for (i = 0; i < hmcf->ncatalogs; i++) {
        if (hmcf->catalogs[i].catalog == catalog) {
            return hmcf->catalogs[i].node ? &hmcf->catalogs[i] : NULL;
        }
    }

    return NULL;
}


/* ---- what the admin and health modules read and ask ---- */

ngx_int_t
ngx_http_recsys_helper_state(ngx_http_recsys_catalog_t *catalog,
    ngx_http_recsys_helper_state_t *st)
{
    ngx_http_recsys_helper_catalog_t  *hc;

    hc = ngx_http_recsys_helper_find(catalog);

    if (hc == NULL) {
        ngx_memzero(st, sizeof(ngx_http_recsys_helper_state_t));
        return NGX_DECLINED;
    }

    ngx_shmtx_lock(&hc->hmcf->shpool->mutex);
    ngx_memcpy(st, &hc->node->st, sizeof(ngx_http_recsys_helper_state_t));
    ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);

    return NGX_OK;
}


ngx_int_t
ngx_http_recsys_helper_request(ngx_http_recsys_catalog_t *catalog,
    ngx_uint_t job, ngx_uint_t full, uint64_t *id, ngx_uint_t *busy)
{
    ngx_http_recsys_helper_catalog_t *hc;
    ngx_http_recsys_helper_state_t   *st;

    hc = ngx_http_recsys_helper_find(catalog);

    if (hc == NULL) {
        return NGX_DECLINED;
    }

    st = &hc->node->st;
    *busy = 0;

    ngx_shmtx_lock(&hc->hmcf->shpool->mutex);

    if (st->requested) {
        *busy = st->requested;
        *id = st->requested_id;

    } else if (st->running) {
        *busy = st->running;
        *id = st->running_id;

    } else {
        *id = ++hc->node->last_id;
        st->requested = job;
        st->requested_full = full;
        st->requested_id = *id;
    }

    ngx_shmtx_unlock(&hc->hmcf->shpool->mutex);

    if (*busy) {
        return NGX_BUSY;
    }

    /* the single process looks at once; a helper within its next poll */
    if (ngx_process == NGX_PROCESS_SINGLE && hc->hmcf->timer.timer_set) {
        ngx_add_timer(&hc->hmcf->timer, 1);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_recsys_helper_current(const recsys_catalog_t *conf,
    recsys_manifest_t *m)
{
    char  dir[NGX_MAX_PATH], path[NGX_MAX_PATH], err[RECSYS_ERRLEN];

    if (recsys_current_dir(conf->index.path, dir, sizeof(dir), err,
                           sizeof(err))
        != 0)
    {
        return NGX_DECLINED;
    }

    /* index.path is bounded at configuration time: this is not cut */
    ngx_snprintf((u_char *) path, sizeof(path) - 1,
                 "%s/" RECSYS_MANIFEST_FILE "%Z", dir);
    path[sizeof(path) - 1] = '\0';

    return recsys_manifest_read(path, m, err, sizeof(err)) == 0
           ? NGX_OK : NGX_DECLINED;
}


u_char *
ngx_http_recsys_helper_time(u_char *p, const char *key, time_t t)
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


const char *
ngx_http_recsys_helper_state_name(ngx_http_recsys_helper_state_t *st)
{
    return st->running ? "running"
                       : recsys_schedule_state_name(st->sched.state);
}


const char *
ngx_http_recsys_helper_job_name(ngx_uint_t job)
{
    return job < sizeof(ngx_http_recsys_helper_jobs) / sizeof(char *)
           ? ngx_http_recsys_helper_jobs[job] : "unknown";
}


const char *
ngx_http_recsys_helper_status(ngx_http_recsys_catalog_t *catalog)
{
    ngx_uint_t                           i;
    ngx_http_recsys_helper_catalog_t    *hc;
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
        hc = &hmcf->catalogs[i];

        if (catalog && hc->catalog != catalog) {
            continue;
        }

        if (hc->node == NULL) {
            return "not_configured";
        }

        /* one word, read without the lock */
        if (ngx_time() - hc->node->st.heartbeat
            > NGX_HTTP_RECSYS_HELPER_STALE)
        {
            return "fail";
        }
    }

    return "pass";
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
            node->st.heartbeat = ngx_time();

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


/*
 * Creates the index directory and its missing parents (0755; the
 * directory itself 0700, as nginx makes its paths, which then gives it to
 * the worker user), with an error that names the catalog and the
 * recsys_catalog line.
 */

static ngx_int_t
ngx_http_recsys_helper_mkdir(ngx_conf_t *cf,
    ngx_http_recsys_catalog_t *catalog)
{
    u_char           *p, *dir, c;
    size_t            len;
    ngx_err_t         err;
    ngx_file_info_t   fi;
    u_char            text[NGX_MAX_ERROR_STR];

    len = ngx_strlen(catalog->conf->index.path);

    dir = ngx_pnalloc(cf->temp_pool, len + 1);
    if (dir == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dir, catalog->conf->index.path, len + 1);

    for (p = dir + 1; p <= dir + len; p++) {
        if ((*p != '/' && *p != '\0') || p[-1] == '/') {
            continue;
        }

        c = *p;
        *p = '\0';
        err = 0;

        if (ngx_create_dir(dir, c == '\0' ? 0700 : 0755) == NGX_FILE_ERROR) {
            err = ngx_errno;

            if (err == NGX_EEXIST) {
                err = 0;

                if (ngx_file_info(dir, &fi) == NGX_FILE_ERROR) {
                    err = ngx_errno;

                } else if (!ngx_is_dir(&fi)) {
                    err = NGX_ENOTDIR;
                }
            }
        }

        if (err) {
            p = ngx_strerror(err, text, sizeof(text));

            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "recsys catalog \"%V\": cannot create index.path "
                          "\"%s\": mkdir(\"%s\") failed (%d: %*s) in %s:%ui",
                          &catalog->name, catalog->conf->index.path, dir,
                          err, (size_t) (p - text), text, catalog->conf_file,
                          catalog->conf_line);
            return NGX_ERROR;
        }

        *p = c;
    }

    return NGX_OK;
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
    ngx_uint_t                           i, j;
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

        for (j = 0; j < i; j++) {
            if (ngx_strcmp(catalog[j]->conf->index.path,
                           catalog[i]->conf->index.path)
                == 0)
            {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "recsys catalogs \"%V\" and \"%V\" have the "
                              "same index.path \"%s\" in %s:%ui",
                              &catalog[j]->name, &catalog[i]->name,
                              catalog[i]->conf->index.path,
                              catalog[i]->conf_file, catalog[i]->conf_line);
                return NGX_ERROR;
            }
        }

        /* "nginx -t" and "nginx -s" create nothing; a start or reload does */
        if (ngx_test_config || ngx_process == NGX_PROCESS_SIGNALLER) {
            continue;
        }

        if (ngx_http_recsys_helper_mkdir(cf, catalog[i]) != NGX_OK) {
            return NGX_ERROR;
        }

        path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
        if (path == NULL) {
            return NGX_ERROR;
        }

        path->name.data = (u_char *) catalog[i]->conf->index.path;
        path->name.len = ngx_strlen(path->name.data);
        path->manager = ngx_http_recsys_helper_manager;
        path->data = hc;
        path->conf_file = catalog[i]->conf_file;
        path->line = catalog[i]->conf_line;

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
        ngx_http_recsys_helper_join(job->tid);
        ngx_close_file(job->lock);
        ngx_free(job);
        hmcf->catalogs[i].job = NULL;
    }
}


/* ---- threads of the helper process ---- */

/*
 * nginx's cache manager leaves on a reload or a stop with exit(0), not
 * through the exit_process hooks that join our threads.  exit() runs the
 * static destructors (FAISS's index I/O registry, libgomp's, OpenBLAS's)
 * while a build or shipper thread may still be using them: that crashed
 * the old helper (SIGSEGV) when a reload came during builds.  While one
 * of them runs, the process leaves with _exit() instead: the unfinished
 * build publishes nothing and the next helper retries it, as after a
 * kill -9.
 */

static ngx_uint_t  ngx_http_recsys_helper_threads;
static ngx_uint_t  ngx_http_recsys_helper_guarded;


static void
ngx_http_recsys_helper_atexit(void)
{
    if (ngx_http_recsys_helper_threads) {
        _exit(0);
    }
}


int
ngx_http_recsys_helper_spawn(pthread_t *tid, void *(*run)(void *), void *arg)
{
    int       err;
    sigset_t  all, old;

    /* registered after every library's destructors, so it runs first */
    if (!ngx_http_recsys_helper_guarded) {
        if (atexit(ngx_http_recsys_helper_atexit) != 0) {
            return ENOMEM;
        }

        ngx_http_recsys_helper_guarded = 1;
    }

    sigfillset(&all);
    (void) pthread_sigmask(SIG_BLOCK, &all, &old);

    err = pthread_create(tid, NULL, run, arg);

    (void) pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (err == 0) {
        ngx_http_recsys_helper_threads++;
    }

    return err;
}


void
ngx_http_recsys_helper_join(pthread_t tid)
{
    (void) pthread_join(tid, NULL);

    ngx_http_recsys_helper_threads--;
}
