
/*
 * Per-process mapping of published generations.  A process maps the
 * generation "current" points to, hands it to requests with a reference
 * each, and unmaps an old generation once the last request using it is
 * done.  A request compares the builder's publish counter in shared memory
 * with the one this process saw (one load); "current" is read when it
 * moved, at start, and once a second for publishes made outside the
 * builder (recsys-build).  Without the counter, "current" is read once per
 * event loop tick.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <pthread.h>

#include "ngx_http_recsys_module.h"
#include "recsys_files.h"


/* seconds before a refused generation is looked at again */
#define NGX_HTTP_RECSYS_RETRY_REFUSED  30

/* ms between two reads of "current" when the publish counter is there */
#define NGX_HTTP_RECSYS_RELINK         1000


static ngx_http_recsys_gen_t *ngx_http_recsys_index_open(
    ngx_http_recsys_catalog_t *catalog, u_char *target, size_t len,
    ngx_log_t *log);
static void ngx_http_recsys_index_switch(ngx_http_recsys_catalog_t *catalog,
    ngx_log_t *log);
static void *ngx_http_recsys_index_unmap(void *data);


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
            ngx_http_recsys_index_switch(catalog, log);
        }

    } else if (catalog->current == NULL
               || catalog->checked != ngx_current_msec)
    {
        catalog->checked = ngx_current_msec;
        ngx_http_recsys_index_switch(catalog, log);
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
            rc = pthread_create(&tid, &attr, ngx_http_recsys_index_unmap, g);
        }

        (void) pthread_attr_destroy(&attr);

        if (rc == 0) {
            return;
        }
    }

    (void) ngx_http_recsys_index_unmap(g);
}


static void *
ngx_http_recsys_index_unmap(void *data)
{
    ngx_http_recsys_gen_t *g = data;

    sigset_t  set;

    /* signals are the event loop's, as in nginx's own thread pools */
    sigfillset(&set);
    sigdelset(&set, SIGILL);
    sigdelset(&set, SIGFPE);
    sigdelset(&set, SIGSEGV);
    sigdelset(&set, SIGBUS);
    (void) pthread_sigmask(SIG_BLOCK, &set, NULL);

    recsys_generation_close(&g->gen);
    ngx_free(g->target.data);
    ngx_free(g);

    return NULL;
}


void
ngx_http_recsys_index_close(ngx_http_recsys_catalog_t *catalog)
{
    ngx_http_recsys_gen_t  *g;

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


static void
ngx_http_recsys_index_switch(ngx_http_recsys_catalog_t *catalog,
    ngx_log_t *log)
{
    u_char                  link[NGX_MAX_PATH], target[NGX_MAX_PATH];
    ssize_t                 n;
    uint64_t                start, number;
    ngx_err_t               err;
    ngx_uint_t              level;
    ngx_http_recsys_gen_t  *g;

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

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "recsys catalog \"%V\": \"current\" is \"%s\", "
                   "serving generation %uL", &catalog->name, target,
                   catalog->current
                   ? catalog->current->gen.manifest.generation : 0);

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

    /* only what the builder publishes: never a path outside the index */
    if (recsys_current_target((char *) target, n, &number) != 0) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "recsys catalog \"%V\": \"%s\" points to \"%s\", "
                      "not to \"" RECSYS_GENERATIONS_DIR "/<number>\"",
                      &catalog->name, link, target);
        ngx_cpystrn(catalog->failed, target, sizeof(catalog->failed));
        catalog->failed_at = ngx_time();
        return;
    }

    start = ngx_http_recsys_now_us();

    g = ngx_http_recsys_index_open(catalog, target, n, log);
    if (g == NULL) {
        ngx_cpystrn(catalog->failed, target, sizeof(catalog->failed));
        catalog->failed_at = ngx_time();
        return;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, log, 0,
                   "recsys catalog \"%V\": generation %uL opened in %uL us, "
                   "releasing generation %uL", &catalog->name,
                   g->gen.manifest.generation,
                   ngx_http_recsys_now_us() - start,
                   catalog->current
                   ? catalog->current->gen.manifest.generation : 0);

    catalog->failed[0] = '\0';

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "recsys catalog \"%V\": serving generation %uL "
                  "(%uL items, dimension %uD, %s, opened in %uL us)",
                  &catalog->name, g->gen.manifest.generation,
                  g->gen.manifest.items, g->gen.manifest.dimension,
                  g->gen.manifest.factory, ngx_http_recsys_now_us() - start);

    /* requests still holding the old generation keep it mapped */
    if (catalog->current) {
        ngx_http_recsys_index_release(catalog->current);
    }

    catalog->current = g;
}


static ngx_http_recsys_gen_t *
ngx_http_recsys_index_open(ngx_http_recsys_catalog_t *catalog, u_char *target,
    size_t len, ngx_log_t *log)
{
    char                    err[RECSYS_ERRLEN], dir[NGX_MAX_PATH];
    recsys_index_conf_t    *ic;
    ngx_http_recsys_gen_t  *g;

    ic = &catalog->conf->index;

    /* the link is read once: resolving it again could see a newer one */
    if (recsys_path_join(dir, sizeof(dir), ic->path, (char *) target) != 0) {
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

    if (recsys_generation_open(&g->gen, dir, ic->dimension, ic->metric,
                               ic->nprobe, err, sizeof(err))
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "recsys catalog \"%V\": generation \"%s\" refused, "
                      "%s", &catalog->name, dir, err);
        ngx_free(g->target.data);
        ngx_free(g);
        return NULL;
    }

    return g;
}
