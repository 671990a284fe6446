/*
 * The offline builder: streams a JSON Lines source into items.bin and a
 * growing float array, trains and fills the FAISS index, writes a complete
 * generation to "<index dir>/.tmp-<pid>-<G>" and publishes it.  Nothing is
 * published unless every file is written, synced and checksummed.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
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


#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vectors.f32 is little-endian float32: big-endian hosts unsupported"
#endif


/* up to this many items "auto" stays exact: IVF1,Flat */
#define RECSYS_BUILD_EXACT_MAX      20000

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
} recsys_build_ctx_t;


static int recsys_build_read(recsys_build_ctx_t *ctx);
static int recsys_build_line(recsys_build_ctx_t *ctx, const char *buf,
    size_t len);
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
static int recsys_build_write_vectors(recsys_build_ctx_t *ctx,
    const char *path);
static int recsys_build_sum(const char *dir, const char *name,
    recsys_file_sum_t *sum, char *err, size_t errlen);
static int recsys_build_generation(recsys_build_ctx_t *ctx,
    const char *tmp, uint64_t generation, const char *factory,
    uint32_t nlist, double start);
static const char *recsys_build_faiss_error(void);
static uint32_t recsys_build_parse_nlist(const char *factory,
    const char **digits, const char **rest);
static uint32_t recsys_build_auto_nlist(uint64_t n, uint32_t nprobe);
static int recsys_build_mkdirs(const char *path, char *err, size_t errlen);
static void recsys_build_rmtree(const char *path);
static double recsys_build_now(void);


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

        snprintf(out, outlen, "IVF%u,Flat", list);
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
    int                  rc, saved_threads;
    char                 tmp[4096];
    uint32_t             nlist, asked;
    uint64_t             generation;
    const char          *dir;
    double               start;
    recsys_build_ctx_t   ctx;

    start = recsys_build_now();

    memset(res, 0, sizeof(recsys_build_result_t));
    memset(&ctx, 0, sizeof(recsys_build_ctx_t));

    ctx.conf = c;
    ctx.err = res->error;
    ctx.errlen = sizeof(res->error);

    res->dimension = c->index.dimension;
    dir = c->index.path;

    if (c->source.type != RECSYS_SOURCE_FILE || c->source.path == NULL) {
        snprintf(res->error, sizeof(res->error),
                 "only the \"file\" source can be built here");
        return -1;
    }

    if (dir == NULL || dir[0] == '\0' || c->index.dimension == 0) {
        snprintf(res->error, sizeof(res->error),
                 "catalog has no index path or dimension");
        return -1;
    }

    saved_threads = omp_get_max_threads();
    if (threads > 0) {
        omp_set_num_threads(threads);
    }

    rc = -1;
    tmp[0] = '\0';

    ctx.writer = recsys_items_writer_create(c->index.dimension);
    if (ctx.writer == NULL) {
        snprintf(res->error, sizeof(res->error), "out of memory");
        goto done;
    }

    if (recsys_build_read(&ctx) != 0) {
        goto done;
    }

    res->items = ctx.rows;

    recsys_factory_resolve(c->index.factory, ctx.rows, c->index.nprobe,
                           res->factory, sizeof(res->factory), &nlist);

    asked = recsys_build_parse_nlist(c->index.factory, NULL, NULL);
    if (asked > nlist) {
        fprintf(stderr, "recsys: warning: factory \"%s\" asks for %u lists "
                "but there are only %llu items, using \"%s\"\n",
                c->index.factory, asked, (unsigned long long) ctx.rows,
                res->factory);
    }

    if (recsys_build_mkdirs(dir, res->error, sizeof(res->error)) != 0) {
        goto done;
    }

    recsys_cleanup_temp(dir);

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

    if (recsys_build_generation(&ctx, tmp, generation, res->factory, nlist,
                                start)
        != 0)
    {
        goto done;
    }

    if (recsys_publish(dir, tmp, generation, c->index.keep, res->error,
                       sizeof(res->error))
        != 0)
    {
        goto done;
    }

    tmp[0] = '\0';
    res->generation = generation;
    res->success = 1;
    res->error[0] = '\0';
    rc = 0;

done:

    if (tmp[0] != '\0') {
        recsys_build_rmtree(tmp);
    }

    if (ctx.writer != NULL) {
        recsys_items_writer_destroy(ctx.writer);
    }

    free(ctx.vectors);

    if (threads > 0) {
        omp_set_num_threads(saved_threads);
    }

    res->seconds = recsys_build_now() - start;

    return rc;
}


static int
recsys_build_read(recsys_build_ctx_t *ctx)
{
    int       rc;
    FILE     *f;
    char     *buf;
    size_t    size;
    ssize_t   n;

    f = fopen(ctx->conf->source.path, "r");
    if (f == NULL) {
        snprintf(ctx->err, ctx->errlen, "%s: %s", ctx->conf->source.path,
                 strerror(errno));
        return -1;
    }

    buf = NULL;
    size = 0;
    rc = 0;

    for ( ;; ) {
        errno = 0;
        n = getline(&buf, &size, f);

        if (n < 0) {
            if (errno != 0 || ferror(f)) {
                snprintf(ctx->err, ctx->errlen, "%s: read error: %s",
                         ctx->conf->source.path,
                         strerror(errno ? errno : EIO));
                rc = -1;
            }
            break;
        }

        ctx->line++;

        if (recsys_build_line(ctx, buf, (size_t) n) != 0) {
            rc = -1;
            break;
        }
    }

    free(buf);
    fclose(f);

    if (rc == 0 && ctx->rows == 0) {
        snprintf(ctx->err, ctx->errlen, "%s: no items",
                 ctx->conf->source.path);
        rc = -1;
    }

    return rc;
}


static int
recsys_build_line(recsys_build_ctx_t *ctx, const char *buf, size_t len)
{
    int          rc;
    cJSON       *root;
    const char  *p, *end, *last;

    last = buf + len;
    p = buf;

    /* a UTF-8 byte order mark some editors put in front of the file */
    if (ctx->line == 1 && len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        p += 3;
    }

    while (p < last && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
    {
        p++;
    }

    if (p == last) {
        return 0;
    }

    end = NULL;
    root = cJSON_ParseWithLengthOpts(p, (size_t) (last - p), &end, 0);

    if (root == NULL) {
        recsys_build_line_error(ctx, "invalid JSON near column %zu",
                                (size_t) ((end ? end : p) - buf) + 1);
        return -1;
    }

    for ( /* void */ ; end < last; end++) {
        if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n') {
            recsys_build_line_error(ctx, "invalid JSON: unexpected text "
                                    "at column %zu",
                                    (size_t) (end - buf) + 1);
            cJSON_Delete(root);
            return -1;
        }
    }

    if (!cJSON_IsObject(root)) {
        recsys_build_line_error(ctx, "a line must be a JSON object");
        cJSON_Delete(root);
        return -1;
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
        free(attrs);
        return -1;
    }

    free(attrs);

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

    n = snprintf(ctx->err, ctx->errlen, "%s:%llu: ", ctx->conf->source.path,
                 (unsigned long long) ctx->line);

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

    if (recsys_build_write_vectors(ctx, path) != 0) {
        return -1;
    }

    snprintf(path, sizeof(path), "%s/%s", tmp, RECSYS_INDEX_FILE);

    if (recsys_build_index(ctx, factory, nlist, path) != 0) {
        return -1;
    }

    memset(&m, 0, sizeof(recsys_manifest_t));

    for (i = 0; i < 3; i++) {
        if (recsys_build_sum(tmp, files[i], &m.files[i], ctx->err,
                             ctx->errlen)
            != 0)
        {
            return -1;
        }
    }

    m.nfiles = 3;
    m.format = 1;
    m.generation = generation;
    m.items = ctx->rows;
    m.dimension = ctx->conf->index.dimension;
    m.metric = ctx->conf->index.metric;
    m.nlist = nlist;
    snprintf(m.factory, sizeof(m.factory), "%s", factory);
    snprintf(m.source_type, sizeof(m.source_type), "file");
    snprintf(m.source, sizeof(m.source), "%s", ctx->conf->source.path);

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(m.built_at, sizeof(m.built_at), "%Y-%m-%dT%H:%M:%SZ", &tm);

    m.build_seconds = recsys_build_now() - start;

    snprintf(path, sizeof(path), "%s/%s", tmp, RECSYS_MANIFEST_FILE);

    return recsys_manifest_write(path, &m, ctx->err, ctx->errlen);
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
                 recsys_build_faiss_error());
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

    what = "add";
    if (faiss_Index_add(idx, (idx_t) ctx->rows, ctx->vectors) != 0) {
        goto failed;
    }

    what = "write";
    if (faiss_write_index_fname(idx, path) != 0) {
        goto failed;
    }

    rc = 0;
    goto done;

failed:

    snprintf(ctx->err, ctx->errlen, "faiss: %s \"%s\": %s", what, factory,
             recsys_build_faiss_error());

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


static int
recsys_build_write_vectors(recsys_build_ctx_t *ctx, const char *path)
{
    int            fd;
    size_t         left;
    ssize_t        n;
    const char    *p;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd == -1) {
        snprintf(ctx->err, ctx->errlen, "open(\"%.400s\"): %s", path,
                 strerror(errno));
        return -1;
    }

    p = (const char *) ctx->vectors;
    left = (size_t) ctx->rows * ctx->conf->index.dimension * sizeof(float);

    while (left > 0) {
        n = write(fd, p, left);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            goto failed;
        }

        p += n;
        left -= (size_t) n;
    }

    if (fsync(fd) != 0) {
        goto failed;
    }

    if (close(fd) != 0) {
        snprintf(ctx->err, ctx->errlen, "close(\"%.400s\"): %s", path,
                 strerror(errno));
        return -1;
    }

    return 0;

failed:

    snprintf(ctx->err, ctx->errlen, "write(\"%.400s\"): %s", path,
             strerror(errno));
    close(fd);

    return -1;
}


static int
recsys_build_sum(const char *dir, const char *name, recsys_file_sum_t *sum,
    char *err, size_t errlen)
{
    int          fd;
    char         path[4096 + 32];
    void        *p;
    struct stat  st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, errlen, "open(\"%.400s\"): %s", path, strerror(errno));
        return -1;
    }

    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "fstat(\"%.400s\"): %s", path, strerror(errno));
        close(fd);
        return -1;
    }

    snprintf(sum->name, sizeof(sum->name), "%s", name);
    sum->size = (uint64_t) st.st_size;

    if (st.st_size == 0) {
        sum->checksum = recsys_checksum("", 0);
        close(fd);
        return 0;
    }

    p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "mmap(\"%.400s\"): %s", path, strerror(errno));
        close(fd);
        return -1;
    }

    sum->checksum = recsys_checksum(p, (size_t) st.st_size);

    munmap(p, (size_t) st.st_size);
    close(fd);

    return 0;
}


/*
 * FAISS messages start with "Error in <C++ signature> at <file>:<line>:
 * Error: '<condition>' failed: "; the reason is what follows.
 */

static const char *
recsys_build_faiss_error(void)
{
    const char  *e, *p;

    e = faiss_get_last_error();
    if (e == NULL) {
        return "unknown error";
    }

    p = strstr(e, "' failed: ");
    if (p != NULL) {
        return p + sizeof("' failed: ") - 1;
    }

    p = strstr(e, "Error: ");
    if (p != NULL) {
        return p + sizeof("Error: ") - 1;
    }

    return e;
}


/*
 * Returns the number after "IVF" in a factory string, 0 when there is
 * none; digits and rest point at the number and what follows it.
 */

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


static int
recsys_build_mkdirs(const char *path, char *err, size_t errlen)
{
    char    buf[4096], *p;
    size_t  len;

    len = strlen(path);
    if (len == 0 || len >= sizeof(buf)) {
        snprintf(err, errlen, "bad index path \"%s\"", path);
        return -1;
    }

    memcpy(buf, path, len + 1);

    for (p = buf + 1; /* void */ ; p++) {
        if (*p != '/' && *p != '\0') {
            continue;
        }

        if (*p == '/') {
            *p = '\0';
        }

        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "mkdir(\"%.400s\"): %s", buf,
                     strerror(errno));
            return -1;
        }

        if (p == buf + len) {
            break;
        }

        *p = '/';
    }

    return 0;
}


/* the temp directory only ever holds plain files */

static void
recsys_build_rmtree(const char *path)
{
    DIR            *d;
    char            file[4096 + 256];
    struct dirent  *de;

    d = opendir(path);

    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0
                || strcmp(de->d_name, "..") == 0)
            {
                continue;
            }

            snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
            (void) unlink(file);
        }

        closedir(d);
    }

    (void) rmdir(path);
}


static double
recsys_build_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}
