
/*
 * Per-process mapping of published generations.  A process maps the
 * generation "current" points to, hands it to requests with a reference
 * each, and unmaps an old generation once the last request using it is
 * done.  A request compares the builder's publish counter in shared memory
 * with the one this process saw (one load); "current" is read when it
 * moved, at start, and once a second for publishes made outside the
 * builder (recsys-build).  Without the counter, "current" is read once per
 * event loop tick.
 *
 * With a thread pool (recsys_thread_pool), a new generation is opened and
 * pre-faulted by a thread of the pool while requests keep the old one; the
 * switch happens in the completion handler, on the event loop, and a timer
 * reads "current" meanwhile, so a publish is seen without a request.
 * Without one, the request that sees the publish opens it.  The first
 * generation a process serves is always opened inline: with nothing to
 * answer from, a request would otherwise get 503 while a thread opens it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <pthread.h>
#include <sched.h>

#include "ngx_http_recsys_module.h"
#include "recsys_files.h"
#include "recsys_search.h"


/* seconds before a refused generation is looked at again */
#define NGX_HTTP_RECSYS_RETRY_REFUSED  30

/* ms between two reads of "current" when the publish counter is there */
#define NGX_HTTP_RECSYS_RELINK         1000

/* ms between two reads of "current" by the timer, with a thread pool */
#define NGX_HTTP_RECSYS_WATCH          200

/* searches a thread runs on a new generation before the switch */
#define NGX_HTTP_RECSYS_WARM           32


#if (NGX_THREADS)

/* a generation being opened by a thread of the pool */
typedef struct {
    ngx_http_recsys_catalog_t  *catalog;
    ngx_http_recsys_gen_t      *g;
    char                        dir[NGX_MAX_PATH];
    int                         rc;
    char                        err[RECSYS_ERRLEN];
    uint64_t                    open_us;
    uint64_t                    prefault_us;
    uint64_t                    prefaulted;     /* bytes */
    uint64_t                    warm_us;
    uint32_t                    warmed;         /* searches */
} ngx_http_recsys_opening_t;

#endif


static ngx_http_recsys_gen_t *ngx_http_recsys_index_new(
    ngx_http_recsys_catalog_t *catalog, u_char *target, size_t len,
    char *dir, ngx_log_t *log);
static void ngx_http_recsys_index_free(ngx_http_recsys_gen_t *g);
static ngx_http_recsys_gen_t *ngx_http_recsys_index_open(
    ngx_http_recsys_catalog_t *catalog, u_char *target, size_t len,
    ngx_log_t *log);
static void ngx_http_recsys_index_switch(ngx_http_recsys_catalog_t *catalog,
    ngx_log_t *log, ngx_uint_t wait);
static void ngx_http_recsys_index_refused(ngx_http_recsys_catalog_t *catalog,
    u_char *target);
static void ngx_http_recsys_index_serve(ngx_http_recsys_catalog_t *catalog,
    ngx_http_recsys_gen_t *g);
static void *ngx_http_recsys_index_unmap_thread(void *data);
static void *ngx_http_recsys_index_unmap(void *data);
static void ngx_http_recsys_index_background(void);
#if (NGX_THREADS)
static ngx_int_t ngx_http_recsys_index_post(
    ngx_http_recsys_catalog_t *catalog, u_char *target, size_t len,
    ngx_log_t *log);
static void ngx_http_recsys_index_thread(void *data, ngx_log_t *log);
static void *ngx_http_recsys_index_prepare_thread(void *data);
static void *ngx_http_recsys_index_prepare(void *data);
static void ngx_http_recsys_index_opened(ngx_event_t *ev);
static void ngx_http_recsys_index_watch(ngx_event_t *ev);
#endif


/*
 * recsys_thread_pool <name>|off: "default", nginx's own, unless told;
 * a name other than "default" needs its "thread_pool" directive.
 */

char *
ngx_http_recsys_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_recsys_main_conf_t *rmcf = conf;

    ngx_str_t  *value;

    if (rmcf->thread_pool.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

#if !(NGX_THREADS)
    if (ngx_strcmp(value[1].data, "off") != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"recsys_thread_pool %V\" needs nginx built "
                           "with --with-threads; use \"off\"", &value[1]);
        return NGX_CONF_ERROR;
    }
#endif

    rmcf->thread_pool = value[1];

    return NGX_CONF_OK;
}


char *
ngx_http_recsys_index_init_conf(ngx_conf_t *cf,
    ngx_http_recsys_main_conf_t *rmcf)
{
#if (NGX_THREADS)
    static ngx_str_t  deflt = ngx_string("default");

    if (rmcf->catalogs.nelts == 0) {
        return NGX_CONF_OK;
    }

    if (rmcf->thread_pool.len == 0) {
        rmcf->thread_pool = deflt;
    }

    if (ngx_strcmp(rmcf->thread_pool.data, "off") == 0) {
        return NGX_CONF_OK;
    }

    /* checked by nginx once the configuration is read, as aio threads */
    rmcf->pool = ngx_thread_pool_add(cf, &rmcf->thread_pool);
    if (rmcf->pool == NULL) {
        return NGX_CONF_ERROR;
    }
#endif

    return NGX_CONF_OK;
}


/*
 * Maps the published generation now, so the first request (and a load
 * balancer's readiness probe) does not pay for it: the event loop does
 * not run yet.  A missing index is not an error here: requests answer
 * 503 until one is published.
 */

void
ngx_http_recsys_index_init_process(ngx_cycle_t *cycle,
    ngx_http_recsys_main_conf_t *rmcf)
{
    ngx_uint_t                   i;
    ngx_http_recsys_catalog_t  **catalogs, *catalog;
#if (NGX_THREADS)
    ngx_thread_task_t           *task;
    ngx_http_recsys_opening_t   *op;
#endif

    catalogs = rmcf->catalogs.elts;

    for (i = 0; i < rmcf->catalogs.nelts; i++) {
        catalog = catalogs[i];

        if (catalog->published) {
            catalog->seen = *catalog->published;
        }

        catalog->checked = ngx_current_msec;
        ngx_http_recsys_index_switch(catalog, cycle->log, 1);

#if (NGX_THREADS)
        if (rmcf->pool == NULL) {
            continue;
        }

        task = ngx_thread_task_alloc(cycle->pool,
                                     sizeof(ngx_http_recsys_opening_t));
        if (task == NULL) {
            continue;
        }

        op = task->ctx;
        op->catalog = catalog;
        task->handler = ngx_http_recsys_index_thread;
        task->event.handler = ngx_http_recsys_index_opened;
        task->event.data = task;
        task->event.log = cycle->log;

        catalog->task = task;
        catalog->thread_pool = rmcf->pool;

        /* a timer of its own must not hold a graceful shutdown back */
        catalog->watch.handler = ngx_http_recsys_index_watch;
        catalog->watch.data = catalog;
        catalog->watch.log = cycle->log;
        catalog->watch.cancelable = 1;

        ngx_add_timer(&catalog->watch, NGX_HTTP_RECSYS_WATCH);
#endif
    }
}


ngx_http_recsys_gen_t *
ngx_http_recsys_index_acquire(ngx_http_recsys_catalog_t *catalog,
    ngx_log_t *log)
{
    ngx_atomic_uint_t  seq;

    if (catalog->published) {
        seq = *catalog->published;

        if (catalog->current == NULL
            || seq != catalog->seen
            || ngx_current_msec - catalog->checked >= NGX_HTTP_RECSYS_RELINK)
        {
            catalog->seen = seq;
            catalog->checked = ngx_current_msec;
            ngx_http_recsys_index_switch(catalog, log,
                                         catalog->current == NULL);
        }

    } else if (catalog->current == NULL
               || catalog->checked != ngx_current_msec)
    {
        catalog->checked = ngx_current_msec;
        ngx_http_recsys_index_switch(catalog, log, catalog->current == NULL);
    }

    if (catalog->current == NULL) {
        return NULL;
    }

    catalog->current->refs++;

    return catalog->current;
}


void
ngx_http_recsys_index_release(ngx_http_recsys_gen_t *g)
{
    int             rc;
    pthread_t       tid;
    pthread_attr_t  attr;

    if (--g->refs > 0) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "recsys: generation %uL unmapped by a thread",
                   g->gen.manifest.generation);

    /*
     * Unmapping what this worker touched of a large generation is the
     * teardown of its page tables, tens of milliseconds at 1M items: a
     * detached thread does it, off the event loop.  Nothing else refers
     * to g any more.
     */
    if (pthread_attr_init(&attr) == 0) {
        rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);

        if (rc == 0) {
            rc = pthread_create(&tid, &attr,
                                ngx_http_recsys_index_unmap_thread, g);
        }

        (void) pthread_attr_destroy(&attr);

        if (rc == 0) {
            return;
        }
    }

    (void) ngx_http_recsys_index_unmap(g);
}


static void *
ngx_http_recsys_index_unmap_thread(void *data)
{
    ngx_http_recsys_gen_t *g = data;

    ngx_http_recsys_index_background();

    /*
     * The page tables a step at a time, then a quick unmap: the event loop
     * serves the first requests on the new generation meanwhile.
     */
    recsys_generation_drop_pages(&g->gen);

    return ngx_http_recsys_index_unmap(g);
}


static void *
ngx_http_recsys_index_unmap(void *data)
{
    ngx_http_recsys_gen_t *g = data;

    recsys_generation_close(&g->gen);
    ngx_free(g->target.data);
    ngx_free(g);

    return NULL;
}


/*
 * The start of a thread of this module: signals are the event loop's, as
 * in nginx's own thread pools, and it runs at SCHED_IDLE, so that an event
 * loop woken on the same core preempts it at once instead of waiting out
 * its slice (measured at 1M x 64 on 2 cores: the first requests after a
 * switch were up to 8 ms slower without).  A thread cannot take its normal
 * priority back without CAP_SYS_NICE: only threads of our own do this.
 */

static void
ngx_http_recsys_index_background(void)
{
    sigset_t            set;
    struct sched_param  idle;

    sigfillset(&set);
    sigdelset(&set, SIGILL);
    sigdelset(&set, SIGFPE);
    sigdelset(&set, SIGSEGV);
    sigdelset(&set, SIGBUS);
    (void) pthread_sigmask(SIG_BLOCK, &set, NULL);

    ngx_memzero(&idle, sizeof(struct sched_param));
    (void) sched_setscheduler(0, SCHED_IDLE, &idle);
}


void
ngx_http_recsys_index_close(ngx_http_recsys_catalog_t *catalog)
{
    ngx_http_recsys_gen_t      *g;
#if (NGX_THREADS)
    ngx_http_recsys_opening_t  *op;

    /*
     * nginx's thread pools exit before the modules loaded after them: a
     * generation opened but never switched to is done and ours to close.
     */
    if (catalog->opening) {
        catalog->opening = 0;
        op = catalog->task->ctx;
        g = op->g;
        op->g = NULL;

        if (op->rc == 0) {
            (void) ngx_http_recsys_index_unmap(g);

        } else {
            ngx_http_recsys_index_free(g);
        }
    }
#endif

    g = catalog->current;
    catalog->current = NULL;

    if (g == NULL) {
        return;
    }

    /* the process exits: no thread that exit could cut short */
    if (--g->refs == 0) {
        (void) ngx_http_recsys_index_unmap(g);
    }
}


/*
 * Reads "current" and, when it names another generation than the one
 * served, opens that one: at once when "wait" is set (nothing is served
 * yet) or there is no thread pool, else in a thread of the pool.
 */

static void
ngx_http_recsys_index_switch(ngx_http_recsys_catalog_t *catalog,
    ngx_log_t *log, ngx_uint_t wait)
{
    u_char                  link[NGX_MAX_PATH], target[NGX_MAX_PATH];
    ssize_t                 n;
    uint64_t                start, number;
    ngx_err_t               err;
    ngx_uint_t              level;
    ngx_http_recsys_gen_t  *g;

    /* the completion handler reads "current" again */
    if (catalog->opening) {
        return;
    }

    /* index.path is bounded at configuration time: this is not cut */
    ngx_snprintf(link, sizeof(link), "%s/" RECSYS_CURRENT_LINK "%Z",
                 catalog->conf->index.path);

    n = readlink((char *) link, (char *) target, sizeof(target) - 1);

    if (n == -1) {
        err = ngx_errno;

        if (!catalog->missing_logged) {
            catalog->missing_logged = 1;
            level = (err == NGX_ENOENT) ? NGX_LOG_WARN : NGX_LOG_ERR;
            ngx_log_error(level, log, err,
                          "recsys catalog \"%V\": no index published, "
                          "readlink(\"%s\") failed", &catalog->name, link);
        }

        return;
    }

    target[n] = '\0';
    catalog->missing_logged = 0;

    if (catalog->current
        && catalog->current->target.len == (size_t) n
        && ngx_strncmp(catalog->current->target.data, target, n) == 0)
    {
        return;
    }

    /*
     * A refused generation is tried again only when "current" moves or
     * after a while (the cause may have been passing, like permissions),
     * not on every request.
     */
    if (ngx_strcmp(catalog->failed, target) == 0
        && ngx_time() - catalog->failed_at < NGX_HTTP_RECSYS_RETRY_REFUSED)
    {
        return;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "recsys catalog \"%V\": \"current\" is \"%s\", "
                   "serving generation %uL", &catalog->name, target,
                   catalog->current
                   ? catalog->current->gen.manifest.generation : 0);

    /* only what the builder publishes: never a path outside the index */
    if (recsys_current_target((char *) target, n, &number) != 0) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "recsys catalog \"%V\": \"%s\" points to \"%s\", "
                      "not to \"" RECSYS_GENERATIONS_DIR "/<number>\"",
                      &catalog->name, link, target);
        ngx_http_recsys_index_refused(catalog, target);
        return;
    }

#if (NGX_THREADS)
    if (!wait && catalog->task
        && ngx_http_recsys_index_post(catalog, target, n, log) == NGX_OK)
    {
        return;
    }
#endif

    start = ngx_http_recsys_now_us();

    g = ngx_http_recsys_index_open(catalog, target, n, log);
    if (g == NULL) {
        ngx_http_recsys_index_refused(catalog, target);
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "recsys catalog \"%V\": serving generation %uL "
                  "(%uL items, dimension %uD, %s, opened in %uL us)",
                  &catalog->name, g->gen.manifest.generation,
                  g->gen.manifest.items, g->gen.manifest.dimension,
                  g->gen.manifest.factory, ngx_http_recsys_now_us() - start);

    ngx_http_recsys_index_serve(catalog, g);
}


static void
ngx_http_recsys_index_refused(ngx_http_recsys_catalog_t *catalog,
    u_char *target)
{
    ngx_cpystrn(catalog->failed, target, sizeof(catalog->failed));
    catalog->failed_at = ngx_time();
}


/* new requests get g; those still holding the old one keep it mapped */

static void
ngx_http_recsys_index_serve(ngx_http_recsys_catalog_t *catalog,
    ngx_http_recsys_gen_t *g)
{
    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "recsys catalog \"%V\": switched to generation %uL, "
                   "releasing generation %uL", &catalog->name,
                   g->gen.manifest.generation,
                   catalog->current
                   ? catalog->current->gen.manifest.generation : 0);

    catalog->failed[0] = '\0';

    if (catalog->current) {
        ngx_http_recsys_index_release(catalog->current);
    }

    catalog->current = g;
}


/* a generation not opened yet: <index.path>/<target> in "dir" */

static ngx_http_recsys_gen_t *
ngx_http_recsys_index_new(ngx_http_recsys_catalog_t *catalog, u_char *target,
    size_t len, char *dir, ngx_log_t *log)
{
    ngx_http_recsys_gen_t  *g;

    /* the link is read once: resolving it again could see a newer one */
    if (recsys_path_join(dir, NGX_MAX_PATH, catalog->conf->index.path,
                         (char *) target)
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "recsys catalog \"%V\": link target \"%*s...\" is "
                      "too long", &catalog->name, (size_t) 64, target);
        return NULL;
    }

    g = ngx_alloc(sizeof(ngx_http_recsys_gen_t), log);
    if (g == NULL) {
        return NULL;
    }

    g->target.data = ngx_alloc(len + 1, log);
    if (g->target.data == NULL) {
        ngx_free(g);
        return NULL;
    }

    ngx_memcpy(g->target.data, target, len + 1);
    g->target.len = len;
    g->refs = 1;

    return g;
}


/* one that did not open: nothing of it is mapped */

static void
ngx_http_recsys_index_free(ngx_http_recsys_gen_t *g)
{
    ngx_free(g->target.data);
    ngx_free(g);
}


static ngx_http_recsys_gen_t *
ngx_http_recsys_index_open(ngx_http_recsys_catalog_t *catalog, u_char *target,
    size_t len, ngx_log_t *log)
{
    char                    err[RECSYS_ERRLEN], dir[NGX_MAX_PATH];
    recsys_index_conf_t    *ic;
    ngx_http_recsys_gen_t  *g;

    ic = &catalog->conf->index;

    g = ngx_http_recsys_index_new(catalog, target, len, dir, log);
    if (g == NULL) {
        return NULL;
    }

    if (recsys_generation_open(&g->gen, dir, ic->dimension, ic->metric,
                               ic->nprobe, err, sizeof(err))
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "recsys catalog \"%V\": generation \"%s\" refused, "
                      "%s", &catalog->name, dir, err);
        ngx_http_recsys_index_free(g);
        return NULL;
    }

    return g;
}


#if (NGX_THREADS)

/* NGX_ERROR: the caller opens it itself */

static ngx_int_t
ngx_http_recsys_index_post(ngx_http_recsys_catalog_t *catalog,
    u_char *target, size_t len, ngx_log_t *log)
{
    ngx_http_recsys_opening_t  *op;

    op = catalog->task->ctx;

    op->g = ngx_http_recsys_index_new(catalog, target, len, op->dir, log);
    if (op->g == NULL) {
        return NGX_ERROR;
    }

    op->rc = -1;
    op->err[0] = '\0';

    if (ngx_thread_task_post(catalog->thread_pool, catalog->task) != NGX_OK) {
        ngx_http_recsys_index_free(op->g);
        op->g = NULL;
        return NGX_ERROR;
    }

    catalog->opening = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "recsys catalog \"%V\": opening \"%s\" in a thread",
                   &catalog->name, op->dir);

    return NGX_OK;
}


/*
 * In a thread of the pool, which may be nginx's own and shared: the work
 * runs in a thread of ours at SCHED_IDLE that this one waits for; if it
 * cannot be started, here.
 */

static void
ngx_http_recsys_index_thread(void *data, ngx_log_t *log)
{
    pthread_t  tid;

    if (pthread_create(&tid, NULL, ngx_http_recsys_index_prepare_thread,
                       data)
        == 0)
    {
        (void) pthread_join(tid, NULL);
        return;
    }

    (void) ngx_http_recsys_index_prepare(data);
}


static void *
ngx_http_recsys_index_prepare_thread(void *data)
{
    ngx_http_recsys_index_background();

    return ngx_http_recsys_index_prepare(data);
}


/*
 * The open, then every page searches scan into this process's page
 * tables, so that no request faults on a fresh mapping, then a few
 * searches, so that no request pays for the first ones.  Nothing here
 * touches the event loop's data.
 */

static void *
ngx_http_recsys_index_prepare(void *data)
{
    ngx_http_recsys_opening_t *op = data;

    uint64_t              start, opened, faulted;
    recsys_index_conf_t  *ic;

    ic = &op->catalog->conf->index;
    start = ngx_http_recsys_now_us();

    op->rc = recsys_generation_open(&op->g->gen, op->dir, ic->dimension,
                                    ic->metric, ic->nprobe, op->err,
                                    sizeof(op->err));

    opened = ngx_http_recsys_now_us();
    op->open_us = opened - start;
    op->prefaulted = 0;

    if (op->rc == 0) {
        op->prefaulted = recsys_generation_prefault(&op->g->gen);
    }

    faulted = ngx_http_recsys_now_us();
    op->prefault_us = faulted - opened;
    op->warmed = 0;

    if (op->rc == 0) {
        op->warmed = recsys_search_warm(&op->g->gen, NGX_HTTP_RECSYS_WARM);
    }

    op->warm_us = ngx_http_recsys_now_us() - faulted;

    return NULL;
}


/* on the event loop, once the thread is done: the switch */

static void
ngx_http_recsys_index_opened(ngx_event_t *ev)
{
    ngx_thread_task_t *task = ev->data;

    ngx_http_recsys_gen_t      *g;
    ngx_http_recsys_catalog_t  *catalog;
    ngx_http_recsys_opening_t  *op;

    op = task->ctx;
    catalog = op->catalog;
    g = op->g;
    op->g = NULL;
    catalog->opening = 0;

    if (op->rc != 0) {
        ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                      "recsys catalog \"%V\": generation \"%s\" refused, "
                      "%s", &catalog->name, op->dir, op->err);
        ngx_http_recsys_index_refused(catalog, g->target.data);
        ngx_http_recsys_index_free(g);

    } else {
        ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                      "recsys catalog \"%V\": serving generation %uL "
                      "(%uL items, dimension %uD, %s, opened in %uL us, "
                      "%uL MB pre-faulted in %uL us, %uD searches in "
                      "%uL us, by a thread)",
                      &catalog->name, g->gen.manifest.generation,
                      g->gen.manifest.items, g->gen.manifest.dimension,
                      g->gen.manifest.factory, op->open_us,
                      op->prefaulted >> 20, op->prefault_us, op->warmed,
                      op->warm_us);

        ngx_http_recsys_index_serve(catalog, g);
    }

    /* "current" may have moved again while this one opened */
    if (!ngx_exiting) {
        ngx_http_recsys_index_switch(catalog, ev->log, 0);
    }
}


/* a publish is seen without waiting for a request */

static void
ngx_http_recsys_index_watch(ngx_event_t *ev)
{
    ngx_http_recsys_catalog_t *catalog = ev->data;

    if (ngx_exiting) {
        return;
    }

    if (catalog->published) {
        catalog->seen = *catalog->published;
    }

    catalog->checked = ngx_current_msec;
    ngx_http_recsys_index_switch(catalog, ev->log, catalog->current == NULL);

    ngx_add_timer(ev, NGX_HTTP_RECSYS_WATCH);
}

#endif
