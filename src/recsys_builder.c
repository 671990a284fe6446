/*
 * The builder: streams a source (JSON Lines file or PostgreSQL) into
 * items.bin and a growing float array, trains and fills the FAISS index,
 * writes a complete generation to "<index dir>/.tmp-<pid>-<G>" and
 * publishes it.  Nothing is published unless every file is written,
 * synced and checksummed.
 */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <omp.h>
#include <cjson/cJSON.h>
#include <faiss/c_api/Clustering_c.h>
#include <faiss/c_api/IndexIVF_c.h>
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/error_c.h>
#include <faiss/c_api/index_factory_c.h>
#include <faiss/c_api/index_io_c.h>

#include "recsys_builder.h"
#include "recsys_faiss.h"
#include "recsys_files.h"
#include "recsys_items_writer.h"
#include "recsys_json.h"
#include "recsys_model.h"
#include "recsys_source_pg.h"
#include "recsys_search.h"
#include "recsys_time.h"
#include "recsys_users_source.h"


#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vectors.f32 is little-endian float32: big-endian hosts unsupported"
#endif


/* up to this many items "auto" stays exact: IVF1,Flat */
#define RECSYS_BUILD_EXACT_MAX      20000

/*
 * above, "auto" stores SQ8 codes: a quarter of Flat's memory, recall@10
 * 0.97-0.98 where Flat has 0.99 (recsys-recall -c, docs/catalog.md)
 */
#define RECSYS_BUILD_AUTO_CODEC     "SQ8"

/*
 * k-means training sample per list and iterations: FAISS's defaults are
 * 256 and 25 (it warns below 39 points).  Measured on 100k x 64 with
 * tools/recsys_recall: 64 and 10 give the same recall for a quarter of
 * the training time, which matters with a reference BLAS.
 */
#define RECSYS_BUILD_TRAIN_PER_LIST 64
#define RECSYS_BUILD_NITER          10
#define RECSYS_BUILD_TRAIN_CODEC    32768

#define RECSYS_BUILD_MIN_ROWS       1024

#define RECSYS_BUILD_SEED           1234


typedef struct {
    const recsys_catalog_t     *conf;
    recsys_items_writer_t      *writer;
    float                      *vectors;
    uint64_t                    rows;
    uint64_t                    cap;
    uint64_t                    line;
    char                       *err;
    size_t                      errlen;

    const recsys_build_opts_t  *opts;
    int                         full;
    char                        watermark[RECSYS_PG_WATERMARK_LEN];
    char                        source[256];    /* manifest: no password */
    const recsys_generation_t  *prev;           /* incremental: its base */
    char                      **changed;        /* incremental: ids read */
    uint64_t                    nchanged;
    uint64_t                    changed_cap;
    uint64_t                    nmodified;      /* differ from prev */
    uint64_t                    current;        /* when the build began */
    double                      source_seconds;
    int                         source_ok;
    int                         itemsim;        /* itemsim.bin written */
    recsys_users_writer_t      *users;          /* users.bin, or NULL */
    uint64_t                    users_modified; /* differ from current */
    int                         users_full;
    char                        users_watermark[RECSYS_PG_WATERMARK_LEN];
    recsys_build_result_t      *result;
} recsys_build_ctx_t;


static int recsys_build_read(recsys_build_ctx_t *ctx);
static recsys_users_writer_t *recsys_build_users_writer(
    recsys_build_ctx_t *ctx);
static int recsys_build_users_write(recsys_build_ctx_t *ctx,
    const char *tmp, recsys_manifest_t *m);
static int recsys_build_pg(recsys_build_ctx_t *ctx, recsys_generation_t *g);
static int recsys_build_pg_read(recsys_build_ctx_t *ctx, const char *since,
    uint64_t *live);
static int recsys_build_pg_row(void *data, const recsys_pg_row_t *row,
    char *err, size_t errlen);
static int recsys_build_previous(recsys_build_ctx_t *ctx,
    recsys_generation_t *g);
static int recsys_build_merge(recsys_build_ctx_t *ctx,
    const recsys_generation_t *g, uint64_t live);
static int recsys_build_changed(recsys_build_ctx_t *ctx, const char *id,
    size_t len);
static void recsys_build_reset(recsys_build_ctx_t *ctx);
static int recsys_build_reuse(recsys_build_ctx_t *ctx, const char *path);
static const char *recsys_build_fill(recsys_build_ctx_t *ctx, FaissIndex *idx,
    const char *path);
static void recsys_build_manifest_source(recsys_build_ctx_t *ctx,
    recsys_manifest_t *m);
static int recsys_build_cancelled(recsys_build_ctx_t *ctx);
static int recsys_build_same(recsys_build_ctx_t *ctx,
    const recsys_item_t *it, const float *v);
static int recsys_build_same_str(const char *a, size_t alen, const char *b,
    size_t blen);
static int recsys_build_cmp_str(const void *a, const void *b);
static int recsys_build_line(void *data, char *buf, size_t len);
static int recsys_build_item(recsys_build_ctx_t *ctx, cJSON *root);
static int recsys_build_vector(recsys_build_ctx_t *ctx, cJSON *vec);
static int recsys_build_string(recsys_build_ctx_t *ctx, cJSON *root,
    const char *key, const char **s, size_t *len);
static void recsys_build_line_error(recsys_build_ctx_t *ctx,
    const char *fmt, ...);
static int recsys_build_grow(recsys_build_ctx_t *ctx);
static int recsys_build_index(recsys_build_ctx_t *ctx, const char *factory,
    uint32_t nlist, const char *path);
static int recsys_build_quantizer(recsys_build_ctx_t *ctx,
    FaissIndexIVF *ivf, uint32_t nlist, uint64_t m, const float *x);
static int recsys_build_generation(recsys_build_ctx_t *ctx,
    const char *tmp, uint64_t generation, const char *factory,
    uint32_t nlist, double start);
static int recsys_build_neighbors(recsys_build_ctx_t *ctx, const char *tmp,
    recsys_manifest_t *m);
static uint32_t recsys_build_parse_nlist(const char *factory,
    const char **digits, const char **rest);
static uint32_t recsys_build_auto_nlist(uint64_t n, uint32_t nprobe);
static void recsys_build_warn(recsys_build_result_t *res, const char *fmt,
    ...) __attribute__((format(printf, 2, 3)));
static int recsys_build_verify(recsys_build_ctx_t *ctx, const char *tmp);
static int recsys_build_model(recsys_build_ctx_t *ctx, const char *tmp,
    recsys_manifest_t *m);
static void recsys_build_phase(recsys_build_ctx_t *ctx, const char *phase);
static int recsys_build_users(recsys_build_ctx_t *ctx,
    recsys_generation_t *cur);
static void recsys_build_prefix(recsys_build_ctx_t *ctx, const char *what);
static int64_t recsys_build_item_row(const void *data, const char *id,
    size_t len);


void
recsys_factory_resolve(const char *factory, uint64_t n, uint32_t nprobe,
    char *out, size_t outlen, uint32_t *nlist)
{
    uint32_t     list, max;
    const char  *digits, *rest;

    max = (n == 0) ? 1 : (n > UINT32_MAX ? UINT32_MAX : (uint32_t) n);

    if (factory == NULL || factory[0] == '\0'
        || strcmp(factory, "auto") == 0)
    {
        list = recsys_build_auto_nlist(n, nprobe);
        if (list > max) {
            list = max;
        }

        snprintf(out, outlen, "IVF%u,%s", list,
                 list > 1 ? RECSYS_BUILD_AUTO_CODEC : "Flat");
        *nlist = list;
        return;
    }

    list = recsys_build_parse_nlist(factory, &digits, &rest);

    if (digits == NULL || list <= max) {
        snprintf(out, outlen, "%s", factory);
        *nlist = (list == 0) ? 1 : list;
        return;
    }

    /* k-means needs at least nlist training points: clamp to n */
    snprintf(out, outlen, "%.*s%u%s", (int) (digits - factory), factory,
             max, rest);
    *nlist = max;
}


int
recsys_build(const recsys_catalog_t *c, int threads,
    recsys_build_result_t *res)
{
    recsys_build_opts_t  o;

    memset(&o, 0, sizeof(recsys_build_opts_t));
    o.threads = threads;

    return recsys_build_ex(c, &o, res);
}


int
recsys_build_ex(const recsys_catalog_t *c, const recsys_build_opts_t *o,
    recsys_build_result_t *res)
{
    int                   rc, saved_threads, threads;
    char                  tmp[RECSYS_PATH_MAX], why[RECSYS_ERRLEN];
    uint32_t              nlist, asked;
    uint64_t              generation;
    const char           *dir;
    double                start;
    recsys_build_ctx_t    ctx;
    recsys_generation_t  *prev;
    recsys_build_opts_t   none;

    start = recsys_now_seconds();

    if (o == NULL) {
        memset(&none, 0, sizeof(recsys_build_opts_t));
        o = &none;
    }

    memset(res, 0, sizeof(recsys_build_result_t));
    memset(&ctx, 0, sizeof(recsys_build_ctx_t));

    ctx.conf = c;
    ctx.opts = o;
    ctx.result = res;
    ctx.err = res->error;
    ctx.errlen = sizeof(res->error);
    ctx.full = 1;

    res->dimension = c->index.dimension;
    res->full = 1;
    dir = c->index.path;
    threads = (o->threads > 0) ? o->threads : (int) c->maintenance.threads;

    if ((c->source.type == RECSYS_SOURCE_FILE && c->source.path == NULL)
        || (c->source.type == RECSYS_SOURCE_POSTGRESQL
            && c->source.dsn == NULL)
        || (c->source.type != RECSYS_SOURCE_FILE
            && c->source.type != RECSYS_SOURCE_POSTGRESQL))
    {
        snprintf(res->error, sizeof(res->error),
                 "catalog has no usable source");
        return -1;
    }

    if (dir == NULL || dir[0] == '\0' || c->index.dimension == 0) {
        snprintf(res->error, sizeof(res->error),
                 "catalog has no index path or dimension");
        return -1;
    }

    prev = calloc(1, sizeof(recsys_generation_t));
    if (prev == NULL) {
        snprintf(res->error, sizeof(res->error), "out of memory");
        return -1;
    }

    saved_threads = omp_get_max_threads();
    if (threads > 0) {
        omp_set_num_threads(threads);
    }

    rc = -1;
    tmp[0] = '\0';

    if (recsys_mkdirs(dir, res->error, sizeof(res->error)) != 0) {
        goto done;
    }

    /* leftovers of builds killed half-way */
    recsys_cleanup_temp(dir);

    /* the generation served now: a rollback from the new one returns here */
    if (recsys_current_dir(dir, tmp, sizeof(tmp), res->error,
                           sizeof(res->error)) == 0
        && strrchr(tmp, '/') != NULL)
    {
        ctx.current = strtoull(strrchr(tmp, '/') + 1, NULL, 10);
    }

    tmp[0] = '\0';
    res->error[0] = '\0';

    ctx.writer = recsys_items_writer_create(c->index.dimension);
    if (ctx.writer == NULL) {
        snprintf(res->error, sizeof(res->error), "out of memory");
        goto done;
    }

    recsys_build_phase(&ctx, "reading the source");

    if (c->source.type == RECSYS_SOURCE_POSTGRESQL) {
        rc = recsys_build_pg(&ctx, prev);

    } else {
        snprintf(ctx.source, sizeof(ctx.source), "%s", c->source.path);
        ctx.source_seconds = recsys_now_seconds();
        rc = recsys_build_read(&ctx);
        ctx.source_seconds = recsys_now_seconds() - ctx.source_seconds;
        ctx.source_ok = (rc == 0);
    }

    res->source_ok = ctx.source_ok;
    res->source_seconds = ctx.source_seconds;

    if (rc != 0) {
        rc = -1;
        goto done;
    }

    rc = -1;
    res->items = ctx.rows;
    res->full = ctx.full;
    snprintf(res->watermark, sizeof(res->watermark), "%s", ctx.watermark);

    /* the item rows are final: the users' seen items become rows */
    if (recsys_build_users(&ctx, prev) != 0) {
        goto done;
    }

    /*
     * An incremental build that found no change publishes nothing, unless
     * it trains: the events have their own life.
     */
    if (ctx.prev != NULL && ctx.nmodified == 0 && !c->model.enabled
        && ctx.users_modified == 0)
    {
        res->generation = ctx.prev->manifest.generation;
        snprintf(res->factory, sizeof(res->factory), "%s",
                 ctx.prev->manifest.factory);
        res->success = 1;
        rc = 0;
        goto done;
    }

    if (ctx.prev != NULL) {
        snprintf(res->factory, sizeof(res->factory), "%s",
                 ctx.prev->manifest.factory);
        nlist = ctx.prev->manifest.nlist;

    } else {
        recsys_factory_resolve(c->index.factory, ctx.rows, c->index.nprobe,
                               res->factory, sizeof(res->factory), &nlist);

        asked = recsys_build_parse_nlist(c->index.factory, NULL, NULL);
        if (asked > nlist) {
            recsys_build_warn(res, "factory \"%s\" asks for %u lists but "
                              "there are only %llu items, using \"%s\"",
                              c->index.factory, asked,
                              (unsigned long long) ctx.rows, res->factory);
        }
    }

    if (recsys_build_cancelled(&ctx)) {
        goto done;
    }

    generation = recsys_last_generation(dir) + 1;

    if ((size_t) snprintf(tmp, sizeof(tmp), "%s/.tmp-%ld-%llu", dir,
                          (long) getpid(), (unsigned long long) generation)
        >= sizeof(tmp))
    {
        snprintf(res->error, sizeof(res->error), "index path too long");
        tmp[0] = '\0';
        goto done;
    }

    if (mkdir(tmp, 0755) != 0) {
        snprintf(res->error, sizeof(res->error), "mkdir(\"%.400s\"): %s", tmp,
                 strerror(errno));
        tmp[0] = '\0';
        goto done;
    }

    recsys_build_phase(&ctx, "writing the generation");

    if (recsys_build_generation(&ctx, tmp, generation, res->factory, nlist,
                                start)
        != 0)
    {
        goto done;
    }

    /*
     * Every byte is read back and checked as it is on disk, here, so that
     * a worker opening it after the publish only checks what is cheap.
     */
    if (recsys_build_verify(&ctx, tmp) != 0) {
        goto done;
    }

    /* the last moment a cancel still publishes nothing */
    if (recsys_build_cancelled(&ctx)) {
        goto done;
    }

    recsys_build_phase(&ctx, "publishing");

    if (recsys_publish(dir, tmp, generation, res->error, sizeof(res->error))
        != 0)
    {
        goto done;
    }

    tmp[0] = '\0';
    recsys_build_phase(&ctx, "pruning");
    res->nunpruned = recsys_prune(dir, generation, c->index.keep,
                                  res->unpruned, RECSYS_BUILD_UNPRUNED);
    res->generation = generation;
    res->published = 1;
    res->success = 1;
    res->error[0] = '\0';
    rc = 0;

done:

    if (tmp[0] != '\0') {
        (void) recsys_remove_tree(tmp, why, sizeof(why));
    }

    recsys_build_reset(&ctx);
    recsys_generation_close(prev);
    free(prev);

    if (threads > 0) {
        omp_set_num_threads(saved_threads);
    }

    if (rc != 0) {
        res->success = 0;
    }

    res->seconds = recsys_now_seconds() - start;

    return rc;
}


/*
 * A postgresql source.  Incremental when the current generation allows
 * it: rows changed after its watermark are read, then merged with its
 * items.  A live-row count that does not add up (a row deleted with
 * DELETE instead of the deleted flag, a missed change) or an "auto"
 * factory that would now resolve differently falls back to a full read.
 */

static int
recsys_build_pg(recsys_build_ctx_t *ctx, recsys_generation_t *g)
{
    int          rc;
    char         factory[64];
    uint32_t     nlist;
    uint64_t     live;

    recsys_pg_redact(ctx->conf->source.dsn, ctx->source,
                     sizeof(ctx->source));

    if (!ctx->opts->force_full && recsys_build_previous(ctx, g)) {
        ctx->full = 0;
        ctx->prev = g;

        rc = recsys_build_pg_read(ctx, g->manifest.watermark, &live);
        if (rc != 0) {
            return rc;
        }

        rc = recsys_build_merge(ctx, g, live);

        if (rc == 0) {
            recsys_factory_resolve(ctx->conf->index.factory, ctx->rows,
                                   ctx->conf->index.nprobe, factory,
                                   sizeof(factory), &nlist);

            if (strcmp(factory, g->manifest.factory) == 0) {
                ctx->full = 0;
                return 0;
            }
        }

        if (rc == -1) {
            return -1;
        }

        /* rc 1 or a new factory: start over with a full read */
        ctx->prev = NULL;
        recsys_build_reset(ctx);

        ctx->writer = recsys_items_writer_create(ctx->conf->index.dimension);
        if (ctx->writer == NULL) {
            snprintf(ctx->err, ctx->errlen, "out of memory");
            return -1;
        }
    }

    ctx->full = 1;

    return recsys_build_pg_read(ctx, NULL, &live);
}


static int
recsys_build_pg_read(recsys_build_ctx_t *ctx, const char *since,
    uint64_t *live)
{
    int                rc;
    recsys_pg_read_t   r;

    memset(&r, 0, sizeof(recsys_pg_read_t));
    r.conf = &ctx->conf->source;
    r.dimension = ctx->conf->index.dimension;
    r.since = since;
    r.cancel = ctx->opts->cancel;
    r.row = recsys_build_pg_row;
    r.data = ctx;

    rc = recsys_pg_read(&r, ctx->err, ctx->errlen);

    ctx->source_ok = r.contacted;
    ctx->source_seconds += r.seconds;

    if (rc != 0) {
        return -1;
    }

    if (since == NULL && ctx->rows == 0) {
        snprintf(ctx->err, ctx->errlen, "postgresql: no items");
        return -1;
    }

    snprintf(ctx->watermark, sizeof(ctx->watermark), "%s", r.watermark);
    *live = r.live;

    return 0;
}


static int
recsys_build_pg_row(void *data, const recsys_pg_row_t *row, char *err,
    size_t errlen)
{
    float                *dst;
    double                norm;
    uint32_t              i, dim;
    recsys_item_t         it;
    recsys_build_ctx_t   *ctx;

    ctx = data;
    dim = ctx->conf->index.dimension;

    if (recsys_build_cancelled(ctx)) {
        snprintf(err, errlen, "cancelled");
        return -1;
    }

    /* an incremental read remembers every id it saw */
    if (!ctx->full && recsys_build_changed(ctx, row->id, row->id_len) != 0)
    {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    if (row->deleted) {
        if (!ctx->full && recsys_items_find(&ctx->prev->items, row->id,
                                            row->id_len) != -1)
        {
            ctx->nmodified++;
        }

        return 0;
    }

    if (ctx->rows == ctx->cap && recsys_build_grow(ctx) != 0) {
        snprintf(err, errlen, "%s", ctx->err);
        return -1;
    }

    dst = ctx->vectors + ctx->rows * dim;
    memcpy(dst, row->vector, dim * sizeof(float));

    if (ctx->conf->index.metric == RECSYS_METRIC_COSINE) {
        norm = 0;

        for (i = 0; i < dim; i++) {
            norm += (double) dst[i] * dst[i];
        }

        if (norm == 0 || !isfinite(norm)) {
            snprintf(err, errlen, "embedding has zero length, can't "
                     "normalize it for the cosine metric");
            return -1;
        }

        norm = sqrt(norm);

        for (i = 0; i < dim; i++) {
            dst[i] = (float) (dst[i] / norm);
        }
    }

    memset(&it, 0, sizeof(recsys_item_t));
    it.id = row->id;
    it.id_len = row->id_len;
    it.title = row->title_len ? row->title : NULL;
    it.title_len = row->title_len;
    it.category = row->category_len ? row->category : NULL;
    it.category_len = row->category_len;
    it.attributes = row->attributes;
    it.attributes_len = row->attributes_len;
    it.popularity = row->popularity;

    if (recsys_items_writer_add(ctx->writer, &it, err, errlen) != 0) {
        return -1;
    }

    if (!ctx->full && !recsys_build_same(ctx, &it, dst)) {
        ctx->nmodified++;
    }

    ctx->rows++;

    return 0;
}


/* an incremental row identical to the previous generation's changes nothing */

static int
recsys_build_same(recsys_build_ctx_t *ctx, const recsys_item_t *it,
    const float *v)
{
    int64_t          row;
    uint32_t         dim;
    recsys_item_t    old;

    row = recsys_items_find(&ctx->prev->items, it->id, it->id_len);
    if (row == -1) {
        return 0;
    }

    recsys_items_get(&ctx->prev->items, (uint32_t) row, &old);
    dim = ctx->conf->index.dimension;

    return old.popularity == it->popularity
           && recsys_build_same_str(old.title, old.title_len, it->title,
                                    it->title_len)
           && recsys_build_same_str(old.category, old.category_len,
                                    it->category, it->category_len)
           && recsys_build_same_str(old.attributes, old.attributes_len,
                                    it->attributes, it->attributes_len)
           && memcmp(ctx->prev->vectors + (size_t) row * dim, v,
                     dim * sizeof(float)) == 0;
}


static int
recsys_build_same_str(const char *a, size_t alen, const char *b,
    size_t blen)
{
    if (a == NULL || b == NULL) {
        return (a == NULL || alen == 0) && (b == NULL || blen == 0);
    }

    return alen == blen && memcmp(a, b, alen) == 0;
}


/*
 * Whether the current generation can be the base of an incremental build,
 * opened into g if so: same dimension, metric and configured factory, a
 * watermark, and a last full build younger than full_interval.
 */

static int
recsys_build_previous(recsys_build_ctx_t *ctx, recsys_generation_t *g)
{
    char                      dir[4096], err[RECSYS_ERRLEN];
    int64_t                   full_at;
    uint64_t                  full_interval;
    const recsys_catalog_t   *c;

    c = ctx->conf;
    full_interval = c->maintenance.full_interval;

    /* ALS moves every item's vector: the index is built anew each time */
    if (full_interval == 0 || c->model.factors.enabled
        || recsys_current_dir(c->index.path, dir, sizeof(dir), err,
                              sizeof(err))
           != 0)
    {
        return 0;
    }

    /* its items are copied into the new one: every byte checked */
    if (recsys_generation_open_verified(g, dir, c->index.dimension,
                                        c->index.metric, 0, err, sizeof(err))
        != 0)
    {
        return 0;
    }

    if (strcmp(g->manifest.source_type, "postgresql") != 0
        || g->manifest.watermark[0] == '\0'
        || strcmp(g->manifest.factory_conf,
                  c->index.factory ? c->index.factory : "auto") != 0
        || recsys_time_parse(g->manifest.full_built_at,
                             strlen(g->manifest.full_built_at), &full_at)
           != 0
        || (uint64_t) (time(NULL) - full_at) >= full_interval)
    {
        recsys_generation_close(g);
        return 0;
    }

    return 1;
}


/*
 * Adds the previous generation's items not read again to the writer and
 * the vectors.  Returns 0, 1 when the live count says a full read is
 * needed, -1 on error.
 */

static int
recsys_build_merge(recsys_build_ctx_t *ctx, const recsys_generation_t *g,
    uint64_t live)
{
    int64_t         row;
    uint8_t        *gone;
    uint32_t        dim;
    uint64_t        i, n, kept;
    recsys_item_t   it;

    n = g->items.count;
    dim = ctx->conf->index.dimension;

    qsort(ctx->changed, ctx->nchanged, sizeof(char *), recsys_build_cmp_str);

    for (i = 1; i < ctx->nchanged; i++) {
        if (strcmp(ctx->changed[i - 1], ctx->changed[i]) == 0) {
            snprintf(ctx->err, ctx->errlen, "postgresql: row id \"%.64s\":"
                     " duplicate id", ctx->changed[i]);
            return -1;
        }
    }

    gone = calloc(n ? n : 1, 1);
    if (gone == NULL) {
        snprintf(ctx->err, ctx->errlen, "out of memory");
        return -1;
    }

    kept = n;

    for (i = 0; i < ctx->nchanged; i++) {
        row = recsys_items_find(&g->items, ctx->changed[i],
                                strlen(ctx->changed[i]));

        if (row != -1 && !gone[row]) {
            gone[row] = 1;
            kept--;
        }
    }

    if (kept + ctx->rows != live) {
        free(gone);
        return 1;
    }

    /* nothing changed: the caller publishes nothing (unless it trains or
       its users changed, which need every item) */
    if (ctx->nmodified == 0 && !ctx->conf->model.enabled
        && !ctx->conf->users.enabled)
    {
        ctx->rows = live;
        free(gone);
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (gone[i]) {
            continue;
        }

        if (ctx->rows == ctx->cap && recsys_build_grow(ctx) != 0) {
            free(gone);
            return -1;
        }

        recsys_items_get(&g->items, (uint32_t) i, &it);

        if (recsys_items_writer_add(ctx->writer, &it, ctx->err, ctx->errlen)
            != 0)
        {
            free(gone);
            return -1;
        }

        /* already normalized when the previous generation was built */
        memcpy(ctx->vectors + ctx->rows * dim, g->vectors + i * dim,
               dim * sizeof(float));
        ctx->rows++;
    }

    free(gone);

    return 0;
}


/* ids are stored NUL-terminated; one with a NUL byte was refused before */

static int
recsys_build_changed(recsys_build_ctx_t *ctx, const char *id, size_t len)
{
    char      **p;
    uint64_t    cap;

    if (ctx->nchanged == ctx->changed_cap) {
        cap = ctx->changed_cap ? ctx->changed_cap * 2 : 256;

        p = realloc(ctx->changed, cap * sizeof(char *));
        if (p == NULL) {
            return -1;
        }

        ctx->changed = p;
        ctx->changed_cap = cap;
    }

    ctx->changed[ctx->nchanged] = strndup(id, len);
    if (ctx->changed[ctx->nchanged] == NULL) {
        return -1;
    }

    ctx->nchanged++;

    return 0;
}


/* frees what a read gathered */

static void
recsys_build_reset(recsys_build_ctx_t *ctx)
{
    uint64_t  i;

    if (ctx->writer != NULL) {
        recsys_items_writer_destroy(ctx->writer);
        ctx->writer = NULL;
    }

    if (ctx->users != NULL) {
        recsys_users_writer_destroy(ctx->users);
        ctx->users = NULL;
    }

    free(ctx->vectors);
    ctx->vectors = NULL;
    ctx->rows = 0;
    ctx->cap = 0;

    for (i = 0; i < ctx->nchanged; i++) {
        free(ctx->changed[i]);
    }

    free(ctx->changed);
    ctx->changed = NULL;
    ctx->nchanged = 0;

    ctx->changed_cap = 0;
    ctx->nmodified = 0;
    ctx->watermark[0] = '\0';
}


/* every row into a trained index, then the index to path: NULL or the step */

static const char *
recsys_build_fill(recsys_build_ctx_t *ctx, FaissIndex *idx, const char *path)
{
    if (faiss_Index_add(idx, (idx_t) ctx->rows, ctx->vectors) != 0) {
        return "add";
    }

    if (faiss_write_index_fname(idx, path) != 0) {
        return "write";
    }

    return NULL;
}


/*
 * The incremental index: the previous index.faiss read into memory (not
 * mapped: it is modified), emptied with reset(), which keeps the trained
 * quantizer and codec, then every row added again.  Adding assigns each
 * vector to its list; training is what a full build spends more on.
 */

static int
recsys_build_reuse(recsys_build_ctx_t *ctx, const char *path)
{
    int          rc;
    char         prev[RECSYS_PATH_MAX];
    FaissIndex  *idx;
    const char  *what;

    if (recsys_path_join(prev, sizeof(prev), ctx->prev->dir,
                         RECSYS_INDEX_FILE) != 0)
    {
        snprintf(ctx->err, ctx->errlen, "previous index path too long");
        return -1;
    }

    idx = NULL;
    what = "read";

    if (faiss_read_index_fname(prev, 0, &idx) != 0) {
        goto failed;
    }

    what = "reset";
    if (faiss_Index_reset(idx) != 0) {
        goto failed;
    }

    what = recsys_build_fill(ctx, idx, path);
    if (what != NULL) {
        goto failed;
    }

    rc = 0;
    goto done;

failed:

    snprintf(ctx->err, ctx->errlen, "faiss: %s previous index: %s", what,
             recsys_faiss_error());
    rc = -1;

done:

    if (idx != NULL) {
        faiss_Index_free(idx);
    }

    return rc;
}


static void
recsys_build_manifest_source(recsys_build_ctx_t *ctx, recsys_manifest_t *m)
{
    snprintf(m->source_type, sizeof(m->source_type), "%s",
             ctx->conf->source.type == RECSYS_SOURCE_POSTGRESQL
             ? "postgresql" : "file");
    snprintf(m->source, sizeof(m->source), "%s", ctx->source);
    snprintf(m->factory_conf, sizeof(m->factory_conf), "%s",
             ctx->conf->index.factory ? ctx->conf->index.factory : "auto");
    snprintf(m->watermark, sizeof(m->watermark), "%s", ctx->watermark);

    m->full = ctx->full;
    m->previous = ctx->current;

    /* an incremental generation inherits its base's full build time */
    if (!ctx->full && ctx->prev != NULL) {
        memcpy(m->full_built_at, ctx->prev->manifest.full_built_at,
               sizeof(m->full_built_at));
    }
}


static int
recsys_build_cancelled(recsys_build_ctx_t *ctx)
{
    if (ctx->opts == NULL || ctx->opts->cancel == NULL
        || *ctx->opts->cancel == 0)
    {
        return 0;
    }

    snprintf(ctx->err, ctx->errlen, "cancelled");

    return 1;
}


static int
recsys_build_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char * const *) a, *(char * const *) b);
}


int
recsys_rollback(const recsys_catalog_t *c, uint64_t *generation, char *err,
    size_t errlen)
{
    int                   i, n;
    char                  cur[4096], dir[4096 + 64];
    char                  why[RECSYS_ERRLEN];
    uint64_t              current, cand[64];
    const char           *p;
    recsys_generation_t  *gen;

    if (recsys_current_dir(c->index.path, cur, sizeof(cur), err, errlen)
        != 0)
    {
        return -1;
    }

    p = strrchr(cur, '/');
    current = strtoull(p + 1, NULL, 10);

    n = recsys_rollback_candidates(c->index.path, current, cand, 64);

    gen = calloc(1, sizeof(recsys_generation_t));
    if (gen == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    why[0] = '\0';

    /*
     * A generation that does not verify is skipped: workers only do the
     * cheap checks on what "current" names.
     */

    for (i = 0; i < n; i++) {
        snprintf(dir, sizeof(dir), "%s/%s/%llu", c->index.path,
                 RECSYS_GENERATIONS_DIR, (unsigned long long) cand[i]);

        if (recsys_generation_open_verified(gen, dir, c->index.dimension,
                                            c->index.metric, 0, err, errlen)
            == 0)
        {
            recsys_generation_close(gen);
            free(gen);

            if (recsys_set_current(c->index.path, cand[i], err, errlen)
                != 0)
            {
                return -1;
            }

            *generation = cand[i];

            return 0;
        }

        snprintf(why, sizeof(why), ": generation %llu: %.200s",
                 (unsigned long long) cand[i], err);
    }

    free(gen);

    snprintf(err, errlen, "no generation to roll back to from %llu%s",
             (unsigned long long) current, why);

    return -1;
}
static int
recsys_build_read(recsys_build_ctx_t *ctx)
{
    int  rc;

    rc = recsys_file_lines(ctx->conf->source.path, recsys_build_line, ctx,
                           ctx->err, ctx->errlen);

    if (rc == 0 && ctx->rows == 0) {
        snprintf(ctx->err, ctx->errlen, "%s: no items",
                 ctx->conf->source.path);
        rc = -1;
    }

    return rc;
}


static int
recsys_build_line(void *data, char *buf, size_t len)
{
    int                  rc;
    char                 msg[RECSYS_ERRLEN];
    cJSON               *root;
    recsys_build_ctx_t  *ctx = data;

    ctx->line++;

    if (recsys_jsonl_object(buf, len, ctx->line, &root, msg, sizeof(msg))
        != 0)
    {
        recsys_build_line_error(ctx, "%s", msg);
        return -1;
    }

    if (root == NULL) {
        return 0;
    }

    rc = recsys_build_item(ctx, root);

    cJSON_Delete(root);

    return rc;
}


static int
recsys_build_item(recsys_build_ctx_t *ctx, cJSON *root)
{
    char            *attrs;
    cJSON           *id, *vec, *pop, *obj;
    double           d;
    recsys_item_t    it;
    char             werr[RECSYS_ERRLEN];

    memset(&it, 0, sizeof(recsys_item_t));

    id = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (!cJSON_IsString(id) || id->valuestring == NULL
        || id->valuestring[0] == '\0')
    {
        recsys_build_line_error(ctx, "\"id\" must be a non-empty string");
        return -1;
    }

    it.id = id->valuestring;
    it.id_len = strlen(id->valuestring);

    vec = cJSON_GetObjectItemCaseSensitive(root, "vector");
    if (recsys_build_vector(ctx, vec) != 0) {
        return -1;
    }

    if (recsys_build_string(ctx, root, "title", &it.title, &it.title_len)
        != 0
        || recsys_build_string(ctx, root, "category", &it.category,
                               &it.category_len)
           != 0)
    {
        return -1;
    }

    pop = cJSON_GetObjectItemCaseSensitive(root, "popularity");
    if (pop != NULL && !cJSON_IsNull(pop)) {
        d = pop->valuedouble;

        if (!cJSON_IsNumber(pop) || !isfinite(d) || !isfinite((float) d)) {
            recsys_build_line_error(ctx,
                                    "\"popularity\" must be a finite number");
            return -1;
        }

        it.popularity = (float) d;
    }

    attrs = NULL;

    obj = cJSON_GetObjectItemCaseSensitive(root, "attributes");
    if (obj != NULL && !cJSON_IsNull(obj)) {
        if (!cJSON_IsObject(obj)) {
            recsys_build_line_error(ctx, "\"attributes\" must be an object");
            return -1;
        }

        attrs = cJSON_PrintUnformatted(obj);
        if (attrs == NULL) {
            recsys_build_line_error(ctx, "out of memory");
            return -1;
        }

        it.attributes = attrs;
        it.attributes_len = strlen(attrs);
    }

    werr[0] = '\0';

    if (recsys_items_writer_add(ctx->writer, &it, werr, sizeof(werr)) != 0) {
        recsys_build_line_error(ctx, "%s", werr);
        cJSON_free(attrs);
        return -1;
    }

    cJSON_free(attrs);

    ctx->rows++;

    return 0;
}


static int
recsys_build_vector(recsys_build_ctx_t *ctx, cJSON *vec)
{
    int        i, n;
    float     *dst, f;
    cJSON     *e;
    double     d, norm;
    uint32_t   dim;

    dim = ctx->conf->index.dimension;

    /* a collaborative catalog's vectors are the model's: none is fine */
    if (vec == NULL && ctx->conf->model.factors.enabled) {
        if (ctx->rows == ctx->cap && recsys_build_grow(ctx) != 0) {
            return -1;
        }

        memset(ctx->vectors + ctx->rows * dim, 0, dim * sizeof(float));
        return 0;
    }

    if (!cJSON_IsArray(vec)) {
        recsys_build_line_error(ctx, "\"vector\" must be an array of %u "
                                "numbers", dim);
        return -1;
    }

    n = cJSON_GetArraySize(vec);
    if (n < 0 || (uint32_t) n != dim) {
        recsys_build_line_error(ctx, "\"vector\" has %d numbers, expected %u",
                                n, dim);
        return -1;
    }

    if (ctx->rows == ctx->cap && recsys_build_grow(ctx) != 0) {
        return -1;
    }

    dst = ctx->vectors + ctx->rows * dim;
    norm = 0;
    i = 0;

    cJSON_ArrayForEach(e, vec) {
        d = e->valuedouble;
        f = (float) d;

        if (!cJSON_IsNumber(e) || !isfinite(d) || !isfinite(f)) {
            recsys_build_line_error(ctx, "\"vector\"[%d] must be a finite "
                                    "float32 number", i);
            return -1;
        }

        dst[i++] = f;
        norm += (double) f * f;
    }

    if (ctx->conf->index.metric != RECSYS_METRIC_COSINE) {
        return 0;
    }

    if (norm == 0 || !isfinite(norm)) {
        recsys_build_line_error(ctx, "\"vector\" has zero length, can't "
                                "normalize it for the cosine metric");
        return -1;
    }

    norm = sqrt(norm);

    for (i = 0; i < n; i++) {
        dst[i] = (float) (dst[i] / norm);
    }

    return 0;
}


static int
recsys_build_string(recsys_build_ctx_t *ctx, cJSON *root, const char *key,
    const char **s, size_t *len)
{
    cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(root, key);

    if (v == NULL || cJSON_IsNull(v)) {
        return 0;
    }

    if (!cJSON_IsString(v) || v->valuestring == NULL) {
        recsys_build_line_error(ctx, "\"%s\" must be a string", key);
        return -1;
    }

    /* an empty category or title is the same as none */
    if (v->valuestring[0] != '\0') {
        *s = v->valuestring;
        *len = strlen(v->valuestring);
    }

    return 0;
}


static void
recsys_build_line_error(recsys_build_ctx_t *ctx, const char *fmt, ...)
{
    int      n;
    va_list  args;

    if (ctx->conf->source.type == RECSYS_SOURCE_FILE) {
        n = snprintf(ctx->err, ctx->errlen, "%s:%llu: ",
                     ctx->conf->source.path, (unsigned long long) ctx->line);
    } else {
        n = snprintf(ctx->err, ctx->errlen, "postgresql: ");
    }

    if (n < 0 || (size_t) n >= ctx->errlen) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(ctx->err + n, ctx->errlen - n, fmt, args);
    va_end(args);
}


static int
recsys_build_grow(recsys_build_ctx_t *ctx)
{
    float     *v;
    uint64_t   cap;
    uint32_t   dim;

    dim = ctx->conf->index.dimension;
    cap = (ctx->cap == 0) ? RECSYS_BUILD_MIN_ROWS : ctx->cap * 2;

    /* row numbers are uint32 in items.bin; sizes must fit size_t */
    if (ctx->rows >= UINT32_MAX
        || cap > SIZE_MAX / sizeof(float) / dim)
    {
        recsys_build_line_error(ctx, "too many items");
        return -1;
    }

    v = realloc(ctx->vectors, (size_t) cap * dim * sizeof(float));
    if (v == NULL) {
        recsys_build_line_error(ctx, "out of memory for %llu vectors",
                                (unsigned long long) cap);
        return -1;
    }

    ctx->vectors = v;
    ctx->cap = cap;

    return 0;
}


static int
recsys_build_generation(recsys_build_ctx_t *ctx, const char *tmp,
    uint64_t generation, const char *factory, uint32_t nlist, double start)
{
    int                 i;
    char                path[4096 + 32];
    time_t              now;
    struct tm           tm;
    recsys_manifest_t   m;
    static const char  *files[3] = {
        RECSYS_ITEMS_FILE, RECSYS_VECTORS_FILE, RECSYS_INDEX_FILE
    };

    memset(&m, 0, sizeof(recsys_manifest_t));

    /* training sets the items' popularity: before items.bin is written */
    if (ctx->conf->model.enabled && recsys_build_model(ctx, tmp, &m) != 0) {
        return -1;
    }


    snprintf(path, sizeof(path), "%s/%s", tmp, RECSYS_ITEMS_FILE);

    /* recsys_publish() fsyncs every file and the directory */
    if (recsys_items_writer_write(ctx->writer, path, ctx->err, ctx->errlen)
        != 0)
    {
        return -1;
    }

    /* its copies of every string are not needed while FAISS trains */
    recsys_items_writer_destroy(ctx->writer);
    ctx->writer = NULL;

    snprintf(path, sizeof(path), "%s/%s", tmp, RECSYS_VECTORS_FILE);

    if (recsys_file_write(path, ctx->vectors, (size_t) ctx->rows
                          * ctx->conf->index.dimension * sizeof(float),
                          ctx->err, ctx->errlen)
        != 0)
    {
        return -1;
    }

    snprintf(path, sizeof(path), "%s/%s", tmp, RECSYS_INDEX_FILE);

    recsys_build_phase(ctx, "training and filling the index");

    if (recsys_build_index(ctx, factory, nlist, path) != 0) {
        return -1;
    }

    for (i = 0; i < 3; i++) {
        if (recsys_file_sum(tmp, files[i], &m.files[i], ctx->err,
                             ctx->errlen)
            != 0)
        {
            return -1;
        }
    }

    m.nfiles = 3;

    if (ctx->itemsim
        && recsys_file_sum(tmp, RECSYS_ITEMSIM_FILE, &m.files[m.nfiles++],
                           ctx->err, ctx->errlen)
           != 0)
    {
        return -1;
    }

    if (recsys_build_users_write(ctx, tmp, &m) != 0) {
        return -1;
    }

    m.format = 1;
    m.generation = generation;
    m.items = ctx->rows;
    m.dimension = ctx->conf->index.dimension;
    m.metric = ctx->conf->index.metric;
    m.nlist = nlist;
    snprintf(m.factory, sizeof(m.factory), "%s", factory);
    recsys_build_manifest_source(ctx, &m);

    if (ctx->conf->index.neighbors > 0 && m.items > 0
        && recsys_build_neighbors(ctx, tmp, &m) != 0)
    {
        return -1;
    }

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(m.built_at, sizeof(m.built_at), "%Y-%m-%dT%H:%M:%SZ", &tm);

    m.build_seconds = recsys_now_seconds() - start;

    snprintf(path, sizeof(path), "%s/%s", tmp, RECSYS_MANIFEST_FILE);

    return recsys_manifest_write(path, &m, ctx->err, ctx->errlen);
}


/*
 * The model: trained from the events store, scored with the generation
 * served now on the same hold-out, refused when promote_if does not hold.
 */

static int
recsys_build_model(recsys_build_ctx_t *ctx, const char *tmp,
    recsys_manifest_t *m)
{
    int                   rc;
    char                  why[RECSYS_ERRLEN];
    recsys_model_job_t    job;
    recsys_generation_t  *served;

    recsys_build_phase(ctx, "training the model");

    served = calloc(1, sizeof(recsys_generation_t));
    if (served == NULL) {
        snprintf(ctx->err, ctx->errlen, "out of memory");
        return -1;
    }

    /* nothing served yet, or it does not open: no figures to compare */
    if (recsys_generation_open_current(served, &ctx->conf->index, why,
                                       sizeof(why))
        != 0)
    {
        free(served);
        served = NULL;
    }

    memset(&job, 0, sizeof(recsys_model_job_t));
    job.conf = ctx->conf;
    job.items = ctx->writer;
    job.served = served;
    job.threads = omp_get_max_threads();
    job.dir = tmp;

    /* the factor model's item vectors are the index's */
    if (ctx->conf->model.factors.enabled) {
        job.vectors = ctx->vectors;
        job.users = recsys_build_users_writer(ctx);

        if (job.users == NULL) {
            recsys_generation_close(served);
            free(served);
            return -1;
        }
    }

    rc = recsys_model_train(&job, ctx->err, ctx->errlen);

    if (served != NULL) {
        recsys_generation_close(served);
        free(served);
    }

    ctx->result->model = job.model;
    ctx->result->model_refused = job.refused;
    ctx->itemsim = job.itemsim;

    if (rc != 0) {
        return -1;
    }

    if (job.skipped > 0) {
        recsys_build_warn(ctx->result, "model: %llu events skipped (items"
                          " not in the catalog, or lines that are no"
                          " event)", (unsigned long long) job.skipped);
    }

    m->model = job.model;

    return 0;
}


/* the generation's users writer, created on first use */

static recsys_users_writer_t *
recsys_build_users_writer(recsys_build_ctx_t *ctx)
{
    if (ctx->users == NULL) {
        ctx->users = recsys_users_writer_create(ctx->conf->index.dimension,
                                                (uint32_t) ctx->rows);
        if (ctx->users == NULL) {
            snprintf(ctx->err, ctx->errlen, "out of memory");
        }
    }

    return ctx->users;
}


/* the finished temp directory opened as a worker would, then verified */

static int
recsys_build_verify(recsys_build_ctx_t *ctx, const char *tmp)
{
    int                   rc;
    char                  why[RECSYS_ERRLEN];
    recsys_generation_t  *g;

    g = calloc(1, sizeof(recsys_generation_t));
    if (g == NULL) {
        snprintf(ctx->err, ctx->errlen, "out of memory");
        return -1;
    }

    rc = recsys_generation_open_verified(g, tmp, ctx->conf->index.dimension,
                                         ctx->conf->index.metric,
                                         ctx->conf->index.nprobe, why,
                                         sizeof(why));
    if (rc == 0) {
        recsys_generation_close(g);

    } else {
        snprintf(ctx->err, ctx->errlen, "the new generation does not "
                 "verify: %s", why);
    }

    free(g);

    return rc;
}


/*
 * neighbors.bin, for the whole generation on every build: each item's
 * nearest items, searched through the files as a worker maps them and at
 * the served nprobe, so that a similar query answered from them gets the
 * live search's answer.  Adds the file to the manifest m.
 */

static int
recsys_build_neighbors(recsys_build_ctx_t *ctx, const char *tmp,
    recsys_manifest_t *m)
{
    int                   rc;
    char                  path[4096 + 32];
    float                *scores;
    size_t                n;
    int32_t              *rows;
    uint32_t              nb;
    recsys_generation_t  *g;

    nb = ctx->conf->index.neighbors;

    g = calloc(1, sizeof(recsys_generation_t));
    if (g == NULL) {
        snprintf(ctx->err, ctx->errlen, "out of memory");
        return -1;
    }

    snprintf(g->dir, sizeof(g->dir), "%s", tmp);
    g->manifest = *m;

    if (recsys_generation_map(g, ctx->conf->index.nprobe, ctx->err,
                              ctx->errlen)
        != 0)
    {
        free(g);
        return -1;
    }

    n = (size_t) m->items * nb;
    rows = malloc(n * sizeof(int32_t));
    scores = malloc(n * sizeof(float));

    rc = -1;

    if (rows == NULL || scores == NULL) {
        snprintf(ctx->err, ctx->errlen, "out of memory for %llu x %u "
                 "neighbors", (unsigned long long) m->items, nb);
        goto done;
    }

    if (recsys_neighbors_compute(g, nb, omp_get_max_threads(), rows, scores,
                                 ctx->err, ctx->errlen)
        != 0)
    {
        goto done;
    }

    snprintf(path, sizeof(path), "%s/%s", tmp, RECSYS_NEIGHBORS_FILE);

    if (recsys_neighbors_write(path, nb, recsys_generation_nprobe(g),
                               m->items, m->metric, rows, scores, ctx->err,
                               ctx->errlen)
        != 0)
    {
        goto done;
    }

    if (recsys_file_sum(tmp, RECSYS_NEIGHBORS_FILE, &m->files[m->nfiles],
                         ctx->err, ctx->errlen)
        != 0)
    {
        goto done;
    }

    m->nfiles++;
    rc = 0;

done:

    free(rows);
    free(scores);
    recsys_generation_close(g);
    free(g);

    return rc;
}


static int
recsys_build_index(recsys_build_ctx_t *ctx, const char *factory,
    uint32_t nlist, const char *path)
{
    int               rc, metric;
    float            *sample;
    uint64_t          i, m, row;
    uint32_t          dim;
    FaissIndex       *idx;
    const char       *what, *p;
    const float      *x;
    unsigned long     pq;
    FaissIndexIVF    *ivf;

    if (ctx->prev != NULL) {
        return recsys_build_reuse(ctx, path);
    }

    dim = ctx->conf->index.dimension;
    metric = (ctx->conf->index.metric == RECSYS_METRIC_L2)
             ? METRIC_L2 : METRIC_INNER_PRODUCT;

    idx = NULL;
    sample = NULL;

    /* FAISS would throw, and leak, on this one: say it plainly */
    p = strstr(factory, ",PQ");
    if (p != NULL) {
        pq = strtoul(p + 3, NULL, 10);

        if (pq == 0 || dim % pq != 0) {
            snprintf(ctx->err, ctx->errlen, "factory \"%s\": PQ%lu needs a "
                     "dimension divisible by it, dimension is %u", factory,
                     pq, dim);
            return -1;
        }
    }

    if (faiss_index_factory(&idx, (int) dim, factory,
                            (FaissMetricType) metric)
        != 0)
    {
        snprintf(ctx->err, ctx->errlen, "faiss: factory \"%s\": %s", factory,
                 recsys_faiss_error());
        return -1;
    }

    /*
     * A deterministic, evenly spread training sample; SQ and PQ codecs
     * train their codebooks on it too and want more points than k-means.
     */
    m = (uint64_t) RECSYS_BUILD_TRAIN_PER_LIST * nlist;

    if (strstr(factory, ",Flat") == NULL && m < RECSYS_BUILD_TRAIN_CODEC) {
        m = RECSYS_BUILD_TRAIN_CODEC;
    }

    if (ctx->rows > m) {
        sample = malloc((size_t) m * dim * sizeof(float));
        if (sample == NULL) {
            snprintf(ctx->err, ctx->errlen, "out of memory for %llu "
                     "training vectors", (unsigned long long) m);
            faiss_Index_free(idx);
            return -1;
        }

        for (i = 0; i < m; i++) {
            row = i * ctx->rows / m;
            memcpy(sample + i * dim, ctx->vectors + row * dim,
                   dim * sizeof(float));
        }

    } else {
        m = ctx->rows;
    }

    rc = -1;
    x = sample ? sample : ctx->vectors;

    what = "train";
    ivf = faiss_IndexIVF_cast(idx);

    /* k-means with our parameters; IndexIVF::train then skips its own */
    if (ivf != NULL
        && recsys_build_quantizer(ctx, ivf, nlist, m, x) != 0)
    {
        goto failed;
    }

    if (faiss_Index_train(idx, (idx_t) m, x) != 0) {
        goto failed;
    }

    what = recsys_build_fill(ctx, idx, path);
    if (what != NULL) {
        goto failed;
    }

    rc = 0;
    goto done;

failed:

    snprintf(ctx->err, ctx->errlen, "faiss: %s \"%s\": %s", what, factory,
             recsys_faiss_error());

done:

    free(sample);
    faiss_Index_free(idx);

    return rc;
}


/*
 * Our own k-means into the IVF quantizer, so the sample size, iterations
 * and seed are ours; for cosine the centroids are unit length, so inner
 * product against them is cosine too.
 */

static int
recsys_build_quantizer(recsys_build_ctx_t *ctx, FaissIndexIVF *ivf,
    uint32_t nlist, uint64_t m, const float *x)
{
    int                         rc;
    FaissClustering            *clus;
    FaissClusteringParameters   cp;

    faiss_ClusteringParameters_init(&cp);

    cp.niter = RECSYS_BUILD_NITER;
    cp.spherical = (ctx->conf->index.metric == RECSYS_METRIC_COSINE);
    cp.max_points_per_centroid = RECSYS_BUILD_TRAIN_PER_LIST;
    cp.seed = RECSYS_BUILD_SEED;

    /* one list needs no warning about too few points */
    if (nlist == 1) {
        cp.min_points_per_centroid = 1;
    }

    if (faiss_Clustering_new_with_params(&clus,
                                         (int) ctx->conf->index.dimension,
                                         (int) nlist, &cp)
        != 0)
    {
        return -1;
    }

    rc = faiss_Clustering_train(clus, (idx_t) m, x,
                                faiss_IndexIVF_quantizer(ivf));

    faiss_Clustering_free(clus);

    return rc == 0 ? 0 : -1;
}


static uint32_t
recsys_build_parse_nlist(const char *factory, const char **digits,
    const char **rest)
{
    char          *end;
    const char    *p;
    unsigned long  n;

    if (digits) {
        *digits = NULL;
    }

    if (factory == NULL) {
        return 0;
    }

    p = strstr(factory, "IVF");
    if (p == NULL || p[3] < '0' || p[3] > '9') {
        return 0;
    }

    p += 3;
    errno = 0;
    n = strtoul(p, &end, 10);

    if (errno != 0 || n > UINT32_MAX) {
        return 0;
    }

    if (digits) {
        *digits = p;
        *rest = end;
    }

    return (uint32_t) n;
}


/*
 * About 2 * sqrt(n) lists, rounded to a power of two, and at most 64
 * times nprobe so that a query still scans >= 1/64 of the data.  Measured
 * with tools/recsys_recall on clustered 100k x 64 sets at nprobe 16:
 * IVF512 gives recall@10 0.985-0.998 (IVF1024: 0.958-0.990, IVF256:
 * 0.992-0.999 at twice the query time).
 */

static uint32_t
recsys_build_auto_nlist(uint64_t n, uint32_t nprobe)
{
    double    target;
    uint32_t  nlist, max;

    if (n <= RECSYS_BUILD_EXACT_MAX) {
        return 1;
    }

    /* the power of two nearest to 2 * sqrt(n) on a log scale */
    target = 2.0 * sqrt((double) n) * 1.41421356;

    nlist = 1;
    while (nlist < (1u << 20) && nlist * 2.0 <= target) {
        nlist *= 2;
    }

    if (nprobe == 0) {
        nprobe = 16;
    }

    max = (nprobe >= (1u << 14)) ? (1u << 20) : nprobe * 64;
    while (nlist > max) {
        nlist /= 2;
    }

    return nlist;
}


/*
 * The catalog's "users:" into ctx->users, incrementally from the served
 * generation's users when its source is postgresql and the served one
 * has a users watermark; cur receives the served generation unless the
 * items' incremental read opened it already.
 */

static int
recsys_build_users(recsys_build_ctx_t *ctx, recsys_generation_t *cur)
{
    int                        rc;
    char                       dir[RECSYS_PATH_MAX], why[RECSYS_ERRLEN];
    recsys_users_read_t        r;
    const recsys_catalog_t    *c;
    const recsys_generation_t *base;

    c = ctx->conf;

    /* users the served generation has and this one will not: a change */
    if (!c->users.enabled) {
        ctx->users_modified = (ctx->prev != NULL
                               && ctx->prev->users.base != NULL);
        return 0;
    }

    recsys_build_phase(ctx, "reading the users");

    /* an incremental items read that fell back to a full one left it open */
    base = (ctx->prev != NULL || cur->items.base == NULL) ? ctx->prev : cur;

    if (base == NULL
        && recsys_current_dir(c->index.path, dir, sizeof(dir), why,
                              sizeof(why))
           == 0
        && recsys_generation_open_verified(cur, dir, c->index.dimension,
                                           c->index.metric, 0, why,
                                           sizeof(why))
           == 0)
    {
        base = cur;
    }

    memset(&r, 0, sizeof(recsys_users_read_t));
    r.conf = &c->users.source;
    r.dimension = c->index.dimension;
    r.metric = c->index.metric;
    r.items = (uint32_t) ctx->rows;
    r.item = recsys_build_item_row;
    r.item_data = ctx->writer;
    r.cancel = ctx->opts->cancel;

    if (base != NULL && base->users.base != NULL) {
        r.prev = &base->users;
        r.prev_items = &base->items;

        /* served users trained by ALS are no rows of the users source */
        if (!ctx->opts->force_full && !c->model.factors.enabled
            && base->manifest.users_watermark[0])
        {
            r.since = base->manifest.users_watermark;
        }
    }

    rc = recsys_users_read(&r, ctx->err, ctx->errlen);

    ctx->users = r.writer;
    ctx->source_seconds += r.seconds;
    ctx->result->source_seconds = ctx->source_seconds;

    if (rc != 0) {
        recsys_build_prefix(ctx, "users: ");
        return -1;
    }

    ctx->users_full = r.full;
    snprintf(ctx->users_watermark, sizeof(ctx->users_watermark), "%s",
             r.watermark);

    ctx->users_modified = r.modified;

    if (r.unknown > 0) {
        recsys_build_warn(ctx->result, "users: %llu seen ids are not in the"
                          " catalog, skipped",
                          (unsigned long long) r.unknown);
    }

    return 0;
}


/* what went wrong, said to be about what */

static void
recsys_build_prefix(recsys_build_ctx_t *ctx, const char *what)
{
    char  msg[RECSYS_CATALOG_ERRLEN];

    snprintf(msg, sizeof(msg), "%s%s", what, ctx->err);
    snprintf(ctx->err, ctx->errlen, "%s", msg);
}


/*
 * users.bin into tmp and the manifest, when the build has users: those of
 * the "users:" source and any training added to ctx->users
 */

static int
recsys_build_users_write(recsys_build_ctx_t *ctx, const char *tmp,
    recsys_manifest_t *m)
{
    char  path[RECSYS_PATH_MAX + 32];

    if (ctx->users == NULL || recsys_users_writer_count(ctx->users) == 0) {
        return 0;
    }

    snprintf(path, sizeof(path), "%s/%s", tmp, RECSYS_USERS_FILE);

    if (recsys_users_writer_write(ctx->users, path, ctx->err, ctx->errlen)
        != 0
        || recsys_file_sum(tmp, RECSYS_USERS_FILE, &m->files[m->nfiles],
                           ctx->err, ctx->errlen)
           != 0)
    {
        return -1;
    }

    m->nfiles++;
    m->users = recsys_users_writer_count(ctx->users);
    snprintf(m->users_watermark, sizeof(m->users_watermark), "%s",
             ctx->users_watermark);

    ctx->result->users = m->users;
    ctx->result->users_full = ctx->users_full;
    snprintf(ctx->result->users_watermark,
             sizeof(ctx->result->users_watermark), "%s",
             ctx->users_watermark);

    return 0;
}


static int64_t
recsys_build_item_row(const void *data, const char *id, size_t len)
{
    return recsys_items_writer_find(data, id, len);
}


static void
recsys_build_phase(recsys_build_ctx_t *ctx, const char *phase)
{
    if (ctx->opts->phase != NULL) {
        ctx->opts->phase(ctx->opts->data, phase);
    }
}


/* kept for the caller, who logs or prints them: nothing is written here */

static void
recsys_build_warn(recsys_build_result_t *res, const char *fmt, ...)
{
    va_list  args;

    if (res->nwarnings < RECSYS_BUILD_WARNINGS) {
        va_start(args, fmt);
        vsnprintf(res->warnings[res->nwarnings], RECSYS_ERRLEN, fmt, args);
        va_end(args);
    }

    res->nwarnings++;
}
