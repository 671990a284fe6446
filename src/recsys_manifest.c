/*
 * manifest.json, written with cJSON and read back strictly (every field
 * typed and bounded, file names without paths), and the checksum it
 * records for each file.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "recsys_files.h"
#include "recsys_manifest.h"


#define RECSYS_MANIFEST_FORMAT     1
#define RECSYS_MANIFEST_MAX_SIZE   (1024 * 1024)
#define RECSYS_JSON_INT_MAX        9007199254740992.0   /* 2^53 */

#define RECSYS_CK_M1               0x9e3779b97f4a7c15ULL
#define RECSYS_CK_M2               0xc2b2ae3d27d4eb4fULL
#define RECSYS_CK_M3               0x165667b19e3779f9ULL
#define RECSYS_CK_F1               0xff51afd7ed558ccdULL
#define RECSYS_CK_F2               0xc4ceb9fe1a85ec53ULL


static uint64_t recsys_checksum_mix(uint64_t h, uint64_t w);
static cJSON *recsys_manifest_member(cJSON *obj, const char *key,
    const char *ctx, char *err, size_t errlen);
static int recsys_json_uint(cJSON *obj, const char *key, double max,
    uint64_t *out, const char *ctx, char *err, size_t errlen);
static int recsys_json_str(cJSON *obj, const char *key, char *out,
    size_t outlen, const char *ctx, char *err, size_t errlen);
static cJSON *recsys_manifest_load(const char *path, const char *ctx,
    char *err, size_t errlen);
static int recsys_manifest_factors_write(cJSON *model,
    const recsys_manifest_factors_t *f);
static int recsys_manifest_factors_read(cJSON *o,
    recsys_manifest_factors_t *f, const char *ctx, char *err, size_t errlen);
static int recsys_manifest_model_write(cJSON *root,
    const recsys_manifest_model_t *mm);
static int recsys_manifest_number(cJSON *obj, const char *key, double *out,
    const char *ctx, char *err, size_t errlen);
static int recsys_manifest_model_read(cJSON *o, recsys_manifest_model_t *mm,
    const char *ctx, char *err, size_t errlen);
static int recsys_manifest_files(cJSON *files, recsys_manifest_t *m,
    const char *ctx, char *err, size_t errlen);


static uint64_t
recsys_checksum_mix(uint64_t h, uint64_t w)
{
    w *= RECSYS_CK_M2;
    w ^= w >> 31;
    w *= RECSYS_CK_M1;

    h ^= w;
    h = ((h << 27) | (h >> 37)) * RECSYS_CK_M1 + RECSYS_CK_M3;

    return h;
}


uint64_t
recsys_checksum(const void *data, size_t len)
{
    uint64_t        h, w;
    const uint8_t  *p;

    p = data;
    h = RECSYS_CK_M3 ^ ((uint64_t) len * RECSYS_CK_M2);

    for ( /* void */ ; len >= 8; p += 8, len -= 8) {
        memcpy(&w, p, 8);
        h = recsys_checksum_mix(h, w);
    }

    if (len) {
        w = 0;
        memcpy(&w, p, len);
        h = recsys_checksum_mix(h, w);
    }

    /* final avalanche so that every input bit reaches every output bit */
    h ^= h >> 33;
    h *= RECSYS_CK_F1;
    h ^= h >> 33;
    h *= RECSYS_CK_F2;
    h ^= h >> 33;

    return h;
}


const char *
recsys_metric_name(int metric)
{
    switch (metric) {
    case RECSYS_METRIC_INNER_PRODUCT:
        return "inner_product";
    case RECSYS_METRIC_L2:
        return "l2";
    case RECSYS_METRIC_COSINE:
        return "cosine";
    default:
        return NULL;
    }
}


int
recsys_metric_parse(const char *name)
{
    if (name == NULL) {
        return -1;
    }

    if (strcmp(name, "inner_product") == 0) {
        return RECSYS_METRIC_INNER_PRODUCT;
    }

    if (strcmp(name, "l2") == 0) {
        return RECSYS_METRIC_L2;
    }

    if (strcmp(name, "cosine") == 0) {
        return RECSYS_METRIC_COSINE;
    }

    return -1;
}


int
recsys_file_sum(const char *dir, const char *name, recsys_file_sum_t *sum,
    char *err, size_t errlen)
{
    char         path[RECSYS_PATH_MAX];
    size_t       size;
    const void  *base;

    if (strlen(name) >= sizeof(sum->name)
        || recsys_path_join(path, sizeof(path), dir, name) != 0)
    {
        snprintf(err, errlen, "%s: path too long", name);
        return -1;
    }

    if (recsys_file_map(path, &base, &size, err, errlen) != 0) {
        return -1;
    }

    /* name may be sum->name itself when a sum is refreshed in place */
    memmove(sum->name, name, strlen(name) + 1);
    sum->size = size;
    sum->checksum = recsys_checksum(base, size);

    if (base != NULL) {
        munmap((void *) base, size);
    }

    return 0;
}


int
recsys_manifest_write(const char *path, const recsys_manifest_t *m,
    char *err, size_t errlen)
{
    int          rc;
    char        *text, hex[17];
    cJSON       *root, *files, *f;
    uint32_t     i;
    const char  *metric, *name;

    name = recsys_path_base(path);
    metric = recsys_metric_name(m->metric);

    if (metric == NULL) {
        snprintf(err, errlen, "%s: unknown metric %d", name, m->metric);
        return -1;
    }

    if (m->nfiles > RECSYS_MANIFEST_FILES) {
        snprintf(err, errlen, "%s: too many files (%u)", name, m->nfiles);
        return -1;
    }

    if ((double) m->generation > RECSYS_JSON_INT_MAX
        || (double) m->items > RECSYS_JSON_INT_MAX
        || m->users > UINT32_MAX)
    {
        snprintf(err, errlen, "%s: number too large for JSON", name);
        return -1;
    }

    rc = -1;
    text = NULL;

    root = cJSON_CreateObject();
    if (root == NULL) {
        goto nomem;
    }

    /* this code writes format 1 only, whatever m->format says */
    if (cJSON_AddNumberToObject(root, "format", RECSYS_MANIFEST_FORMAT)
        == NULL
        || cJSON_AddNumberToObject(root, "generation",
                                   (double) m->generation) == NULL
        || cJSON_AddNumberToObject(root, "items", (double) m->items) == NULL
        || cJSON_AddNumberToObject(root, "dimension", m->dimension) == NULL
        || cJSON_AddStringToObject(root, "metric", metric) == NULL
        || cJSON_AddStringToObject(root, "factory", m->factory) == NULL
        || cJSON_AddNumberToObject(root, "nlist", m->nlist) == NULL
        || cJSON_AddStringToObject(root, "built_at", m->built_at) == NULL
        || cJSON_AddNumberToObject(root, "build_seconds",
                                   m->build_seconds) == NULL
        || cJSON_AddStringToObject(root, "source_type", m->source_type)
           == NULL
        || cJSON_AddStringToObject(root, "source", m->source) == NULL
        || cJSON_AddBoolToObject(root, "full", m->full) == NULL
        || cJSON_AddStringToObject(root, "full_built_at",
                                   m->full_built_at[0] ? m->full_built_at
                                                       : m->built_at)
           == NULL
        || cJSON_AddStringToObject(root, "factory_configured",
                                   m->factory_conf) == NULL
        || cJSON_AddStringToObject(root, "watermark", m->watermark) == NULL
        || cJSON_AddNumberToObject(root, "previous", (double) m->previous)
           == NULL)
    {
        goto nomem;
    }

    if (m->model.trained && recsys_manifest_model_write(root, &m->model)
                            != 0)
    {
        goto nomem;
    }

    /* only generations with users say so: older readers never see them */
    if (m->users > 0
        && (cJSON_AddNumberToObject(root, "users", (double) m->users)
            == NULL
            || cJSON_AddStringToObject(root, "users_watermark",
                                       m->users_watermark) == NULL))
    {
        goto nomem;
    }

    files = cJSON_AddObjectToObject(root, "files");
    if (files == NULL) {
        goto nomem;
    }

    for (i = 0; i < m->nfiles; i++) {
        f = cJSON_AddObjectToObject(files, m->files[i].name);
        if (f == NULL) {
            goto nomem;
        }

        snprintf(hex, sizeof(hex), "%016llx",
                 (unsigned long long) m->files[i].checksum);

        if (cJSON_AddNumberToObject(f, "size", (double) m->files[i].size)
            == NULL
            || cJSON_AddStringToObject(f, "checksum", hex) == NULL)
        {
            goto nomem;
        }
    }

    text = cJSON_Print(root);
    if (text == NULL) {
        goto nomem;
    }

    rc = recsys_file_write(path, text, strlen(text), err, errlen);

    cJSON_free(text);
    cJSON_Delete(root);

    return rc;

nomem:

    snprintf(err, errlen, "%s: out of memory", name);
    cJSON_Delete(root);

    return -1;
}


static cJSON *
recsys_manifest_member(cJSON *obj, const char *key, const char *ctx,
    char *err, size_t errlen)
{
    cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (v == NULL) {
        snprintf(err, errlen, "%s: missing \"%s\"", ctx, key);
    }

    return v;
}


static int
recsys_manifest_factors_write(cJSON *model,
    const recsys_manifest_factors_t *f)
{
    cJSON  *o;

    o = cJSON_AddObjectToObject(model, "factors");

    if (o == NULL
        || cJSON_AddNumberToObject(o, "factors", f->factors) == NULL
        || cJSON_AddNumberToObject(o, "train_seconds", f->train_seconds)
           == NULL
        || cJSON_AddNumberToObject(o, "users", (double) f->users) == NULL
        || cJSON_AddNumberToObject(o, "recall_at_10", f->recall) == NULL
        || cJSON_AddNumberToObject(o, "ndcg_at_10", f->ndcg) == NULL
        || cJSON_AddNumberToObject(o, "gate_recall_at_10", f->gate_recall)
           == NULL
        || cJSON_AddNumberToObject(o, "gate_ndcg_at_10", f->gate_ndcg)
           == NULL)
    {
        return -1;
    }

    if (!f->has_served) {
        return cJSON_AddNullToObject(o, "served") ? 0 : -1;
    }

    o = cJSON_AddObjectToObject(o, "served");

    if (o == NULL
        || cJSON_AddNumberToObject(o, "recall_at_10", f->served_recall)
           == NULL
        || cJSON_AddNumberToObject(o, "ndcg_at_10", f->served_ndcg)
           == NULL)
    {
        return -1;
    }

    return 0;
}


static int
recsys_manifest_model_write(cJSON *root, const recsys_manifest_model_t *mm)
{
    cJSON  *o;

    o = cJSON_AddObjectToObject(root, "model");

    if (o == NULL
        || cJSON_AddStringToObject(o, "algorithm", mm->algorithm) == NULL
        || cJSON_AddStringToObject(o, "trained_at", mm->trained_at) == NULL
        || cJSON_AddNumberToObject(o, "train_seconds", mm->train_seconds)
           == NULL
        || cJSON_AddNumberToObject(o, "events", (double) mm->events) == NULL
        || cJSON_AddNumberToObject(o, "entries", (double) mm->entries)
           == NULL
        || cJSON_AddNumberToObject(o, "users", (double) mm->users) == NULL
        || cJSON_AddNumberToObject(o, "scored_users", mm->scored) == NULL
        || cJSON_AddNumberToObject(o, "recall_at_10", mm->recall) == NULL
        || cJSON_AddNumberToObject(o, "ndcg_at_10", mm->ndcg) == NULL
        || cJSON_AddStringToObject(o, "promote_if", mm->promote_if) == NULL
        || cJSON_AddNumberToObject(o, "gate_recall_at_10", mm->gate_recall)
           == NULL
        || cJSON_AddNumberToObject(o, "gate_ndcg_at_10", mm->gate_ndcg)
           == NULL)
    {
        return -1;
    }

    if (mm->factors.trained
        && recsys_manifest_factors_write(o, &mm->factors) != 0)
    {
        return -1;
    }

    if (!mm->has_served) {
        return cJSON_AddNullToObject(o, "served") ? 0 : -1;
    }

    o = cJSON_AddObjectToObject(o, "served");

    if (o == NULL
        || cJSON_AddNumberToObject(o, "generation",
                                   (double) mm->served_generation) == NULL
        || cJSON_AddNumberToObject(o, "recall_at_10", mm->served_recall)
           == NULL
        || cJSON_AddNumberToObject(o, "ndcg_at_10", mm->served_ndcg)
           == NULL)
    {
        return -1;
    }

    return 0;
}


static int
recsys_json_uint(cJSON *obj, const char *key, double max, uint64_t *out,
    const char *ctx, char *err, size_t errlen)
{
    cJSON   *v;
    double   d;

    v = recsys_manifest_member(obj, key, ctx, err, errlen);
    if (v == NULL) {
        return -1;
    }

    d = cJSON_IsNumber(v) ? v->valuedouble : -1;

    if (d < 0 || d > max || d > RECSYS_JSON_INT_MAX || d != floor(d)) {
        snprintf(err, errlen, "%s: \"%s\" must be an integer from 0 to %.0f",
                 ctx, key, max < RECSYS_JSON_INT_MAX
                           ? max : RECSYS_JSON_INT_MAX);
        return -1;
    }

    *out = (uint64_t) d;

    return 0;
}


static int
recsys_json_str(cJSON *obj, const char *key, char *out, size_t outlen,
    const char *ctx, char *err, size_t errlen)
{
    cJSON   *v;
    size_t   len;

    v = recsys_manifest_member(obj, key, ctx, err, errlen);
    if (v == NULL) {
        return -1;
    }

    if (!cJSON_IsString(v) || v->valuestring == NULL) {
        snprintf(err, errlen, "%s: \"%s\" must be a string", ctx, key);
        return -1;
    }

    len = strlen(v->valuestring);

    if (len >= outlen) {
        snprintf(err, errlen, "%s: \"%s\" is too long (at most %zu bytes)",
                 ctx, key, outlen - 1);
        return -1;
    }

    memcpy(out, v->valuestring, len + 1);

    return 0;
}


static int
recsys_manifest_files(cJSON *files, recsys_manifest_t *m, const char *ctx,
    char *err, size_t errlen)
{
    char                fctx[128], hex[17], *end;
    cJSON              *f;
    size_t              len;
    uint32_t            i;
    recsys_file_sum_t  *fs;

    if (!cJSON_IsObject(files)) {
        snprintf(err, errlen, "%s: \"files\" must be an object", ctx);
        return -1;
    }

    m->nfiles = 0;

    cJSON_ArrayForEach(f, files) {
        if (m->nfiles == RECSYS_MANIFEST_FILES) {
            snprintf(err, errlen, "%s: \"files\" has more than %d entries",
                     ctx, RECSYS_MANIFEST_FILES);
            return -1;
        }

        len = f->string ? strlen(f->string) : 0;

        /* names are joined to the generation directory: no paths */
        if (len == 0 || len >= sizeof(fs->name) || f->string[0] == '.'
            || strchr(f->string, '/') != NULL)
        {
            snprintf(err, errlen, "%s: bad file name in \"files\"", ctx);
            return -1;
        }

        for (i = 0; i < m->nfiles; i++) {
            if (strcmp(m->files[i].name, f->string) == 0) {
                snprintf(err, errlen, "%s: duplicate file \"%s\"", ctx,
                         f->string);
                return -1;
            }
        }

        snprintf(fctx, sizeof(fctx), "%s: files.%s", ctx, f->string);

        if (!cJSON_IsObject(f)) {
            snprintf(err, errlen, "%s must be an object", fctx);
            return -1;
        }

        fs = &m->files[m->nfiles];
        memcpy(fs->name, f->string, len + 1);

        if (recsys_json_uint(f, "size", RECSYS_JSON_INT_MAX, &fs->size,
                             fctx, err, errlen)
            != 0
            || recsys_json_str(f, "checksum", hex, sizeof(hex), fctx,
                               err, errlen)
               != 0)
        {
            return -1;
        }

        errno = 0;
        fs->checksum = strtoull(hex, &end, 16);

        if (strlen(hex) != 16 || *end != '\0' || errno != 0
            || strspn(hex, "0123456789abcdefABCDEF") != 16)
        {
            snprintf(err, errlen, "%s: \"checksum\" must be 16 hex digits",
                     fctx);
            return -1;
        }

        m->nfiles++;
    }

    return 0;
}


static int
recsys_manifest_number(cJSON *obj, const char *key, double *out,
    const char *ctx, char *err, size_t errlen)
{
    cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!cJSON_IsNumber(v)) {
        snprintf(err, errlen, "%s: model.%s must be a number", ctx, key);
        return -1;
    }

    *out = v->valuedouble;

    return 0;
}


/* "model.factors": optional; the ALS model */

static int
recsys_manifest_factors_read(cJSON *o, recsys_manifest_factors_t *f,
    const char *ctx, char *err, size_t errlen)
{
    cJSON     *sv;
    uint64_t   u;

    if (!cJSON_IsObject(o)) {
        snprintf(err, errlen, "%s: model.factors must be an object", ctx);
        return -1;
    }

    if (recsys_json_uint(o, "factors", UINT32_MAX, &u, ctx, err,
                         errlen) != 0
        || recsys_json_uint(o, "users", RECSYS_JSON_INT_MAX, &f->users,
                            ctx, err, errlen) != 0
        || recsys_manifest_number(o, "train_seconds", &f->train_seconds,
                                  ctx, err, errlen) != 0
        || recsys_manifest_number(o, "recall_at_10", &f->recall, ctx, err,
                                  errlen) != 0
        || recsys_manifest_number(o, "ndcg_at_10", &f->ndcg, ctx, err,
                                  errlen) != 0
        || recsys_manifest_number(o, "gate_recall_at_10", &f->gate_recall,
                                  ctx, err, errlen) != 0
        || recsys_manifest_number(o, "gate_ndcg_at_10", &f->gate_ndcg, ctx,
                                  err, errlen) != 0)
    {
        return -1;
    }

    f->factors = (uint32_t) u;
    f->trained = 1;

    sv = cJSON_GetObjectItemCaseSensitive(o, "served");

    if (sv == NULL || cJSON_IsNull(sv)) {
        return 0;
    }

    if (!cJSON_IsObject(sv)
        || recsys_manifest_number(sv, "recall_at_10", &f->served_recall,
                                  ctx, err, errlen) != 0
        || recsys_manifest_number(sv, "ndcg_at_10", &f->served_ndcg, ctx,
                                  err, errlen) != 0)
    {
        if (!cJSON_IsObject(sv)) {
            snprintf(err, errlen, "%s: model.factors.served must be an"
                     " object", ctx);
        }

        return -1;
    }

    f->has_served = 1;

    return 0;
}


/* "model": optional; what the builder trained, shown by status */

static int
recsys_manifest_model_read(cJSON *o, recsys_manifest_model_t *mm,
    const char *ctx, char *err, size_t errlen)
{
    cJSON     *sv;
    uint64_t   u;

    if (!cJSON_IsObject(o)) {
        snprintf(err, errlen, "%s: \"model\" must be an object", ctx);
        return -1;
    }

    if (recsys_json_str(o, "algorithm", mm->algorithm,
                        sizeof(mm->algorithm), ctx, err, errlen) != 0
        || recsys_json_str(o, "trained_at", mm->trained_at,
                           sizeof(mm->trained_at), ctx, err, errlen) != 0
        || recsys_json_str(o, "promote_if", mm->promote_if,
                           sizeof(mm->promote_if), ctx, err, errlen) != 0
        || recsys_manifest_number(o, "train_seconds", &mm->train_seconds,
                                  ctx, err, errlen) != 0
        || recsys_manifest_number(o, "recall_at_10", &mm->recall, ctx, err,
                                  errlen) != 0
        || recsys_manifest_number(o, "ndcg_at_10", &mm->ndcg, ctx, err,
                                  errlen) != 0
        || recsys_manifest_number(o, "gate_recall_at_10", &mm->gate_recall,
                                  ctx, err, errlen) != 0
        || recsys_manifest_number(o, "gate_ndcg_at_10", &mm->gate_ndcg, ctx,
                                  err, errlen) != 0
        || recsys_json_uint(o, "events", RECSYS_JSON_INT_MAX, &mm->events,
                            ctx, err, errlen) != 0
        || recsys_json_uint(o, "entries", RECSYS_JSON_INT_MAX,
                            &mm->entries, ctx, err, errlen) != 0
        || recsys_json_uint(o, "users", RECSYS_JSON_INT_MAX, &mm->users,
                            ctx, err, errlen) != 0
        || recsys_json_uint(o, "scored_users", UINT32_MAX, &u, ctx, err,
                            errlen) != 0)
    {
        return -1;
    }

    mm->scored = (uint32_t) u;
    mm->trained = 1;

    sv = cJSON_GetObjectItemCaseSensitive(o, "factors");

    if (sv != NULL
        && recsys_manifest_factors_read(sv, &mm->factors, ctx, err, errlen)
           != 0)
    {
        return -1;
    }

    sv = cJSON_GetObjectItemCaseSensitive(o, "served");

    if (sv == NULL || cJSON_IsNull(sv)) {
        return 0;
    }

    if (!cJSON_IsObject(sv)
        || recsys_json_uint(sv, "generation", RECSYS_JSON_INT_MAX,
                            &mm->served_generation, ctx, err, errlen) != 0
        || recsys_manifest_number(sv, "recall_at_10", &mm->served_recall,
                                  ctx, err, errlen) != 0
        || recsys_manifest_number(sv, "ndcg_at_10", &mm->served_ndcg, ctx,
                                  err, errlen) != 0)
    {
        if (!cJSON_IsObject(sv)) {
            snprintf(err, errlen, "%s: model.served must be an object",
                     ctx);
        }

        return -1;
    }

    mm->has_served = 1;

    return 0;
}


/* reads and parses a manifest of at most RECSYS_MANIFEST_MAX_SIZE bytes */

static cJSON *
recsys_manifest_load(const char *path, const char *ctx, char *err,
    size_t errlen)
{
    int           fd;
    char         *buf;
    cJSON        *root;
    size_t        len;
    ssize_t       n;
    struct stat   st;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, errlen, "%s: open failed: %s", ctx, strerror(errno));
        return NULL;
    }

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
        || st.st_size > RECSYS_MANIFEST_MAX_SIZE)
    {
        snprintf(err, errlen, "%s: not a regular file of at most %d bytes",
                 ctx, RECSYS_MANIFEST_MAX_SIZE);
        close(fd);
        return NULL;
    }

    buf = malloc(st.st_size + 1);
    if (buf == NULL) {
        snprintf(err, errlen, "%s: out of memory", ctx);
        close(fd);
        return NULL;
    }

    len = 0;

    while (len < (size_t) st.st_size) {
        n = read(fd, buf + len, st.st_size - len);

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n <= 0) {
            snprintf(err, errlen, "%s: read failed: %s", ctx,
                     n < 0 ? strerror(errno) : "file shrank");
            free(buf);
            close(fd);
            return NULL;
        }

        len += n;
    }

    close(fd);

    root = cJSON_ParseWithLength(buf, len);
    free(buf);

    if (root == NULL) {
        snprintf(err, errlen, "%s: invalid JSON", ctx);
    }

    return root;
}


int
recsys_manifest_read(const char *path, recsys_manifest_t *m, char *err,
    size_t errlen)
{
    int           rc;
    char          metric[32];
    cJSON        *root, *v;
    uint64_t      u;
    const char   *ctx;

    memset(m, 0, sizeof(recsys_manifest_t));
    ctx = recsys_path_base(path);

    root = recsys_manifest_load(path, ctx, err, errlen);
    if (root == NULL) {
        return -1;
    }

    rc = -1;

    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "%s: not a JSON object", ctx);
        goto done;
    }

    if (recsys_json_uint(root, "format", UINT32_MAX, &u, ctx, err, errlen)
        != 0)
    {
        goto done;
    }

    if (u != RECSYS_MANIFEST_FORMAT) {
        snprintf(err, errlen, "%s: unsupported format %llu", ctx,
                 (unsigned long long) u);
        goto done;
    }

    m->format = (uint32_t) u;

    if (recsys_json_uint(root, "generation", RECSYS_JSON_INT_MAX,
                         &m->generation, ctx, err, errlen) != 0
        || recsys_json_uint(root, "items", RECSYS_JSON_INT_MAX, &m->items,
                            ctx, err, errlen) != 0)
    {
        goto done;
    }

    if (recsys_json_uint(root, "dimension", UINT32_MAX, &u, ctx, err,
                         errlen) != 0)
    {
        goto done;
    }

    if (u == 0) {
        snprintf(err, errlen, "%s: \"dimension\" must be positive", ctx);
        goto done;
    }

    m->dimension = (uint32_t) u;

    if (recsys_json_str(root, "metric", metric, sizeof(metric), ctx, err,
                        errlen) != 0)
    {
        goto done;
    }

    m->metric = recsys_metric_parse(metric);

    if (m->metric == -1) {
        snprintf(err, errlen, "%s: unknown \"metric\" \"%s\"", ctx, metric);
        goto done;
    }

    if (recsys_json_str(root, "factory", m->factory, sizeof(m->factory),
                        ctx, err, errlen) != 0)
    {
        goto done;
    }

    if (recsys_json_uint(root, "nlist", UINT32_MAX, &u, ctx, err, errlen)
        != 0)
    {
        goto done;
    }

    m->nlist = (uint32_t) u;

    if (recsys_json_str(root, "built_at", m->built_at, sizeof(m->built_at),
                        ctx, err, errlen) != 0)
    {
        goto done;
    }

    v = recsys_manifest_member(root, "build_seconds", ctx, err, errlen);
    if (v == NULL) {
        goto done;
    }

    if (!cJSON_IsNumber(v)) {
        snprintf(err, errlen, "%s: \"build_seconds\" must be a number",
                 ctx);
        goto done;
    }

    m->build_seconds = v->valuedouble;

    if (recsys_json_str(root, "source_type", m->source_type,
                        sizeof(m->source_type), ctx, err, errlen) != 0
        || recsys_json_str(root, "source", m->source, sizeof(m->source),
                           ctx, err, errlen) != 0)
    {
        goto done;
    }

    /* absent from manifests of older builds: a full build, no watermark */

    v = cJSON_GetObjectItemCaseSensitive(root, "full");
    m->full = (v == NULL) || cJSON_IsTrue(v);

    if (v != NULL && !cJSON_IsBool(v)) {
        snprintf(err, errlen, "%s: \"full\" must be true or false", ctx);
        goto done;
    }

    if ((cJSON_HasObjectItem(root, "full_built_at")
         && recsys_json_str(root, "full_built_at", m->full_built_at,
                            sizeof(m->full_built_at), ctx, err, errlen) != 0)
        || (cJSON_HasObjectItem(root, "factory_configured")
            && recsys_json_str(root, "factory_configured", m->factory_conf,
                               sizeof(m->factory_conf), ctx, err, errlen)
               != 0)
        || (cJSON_HasObjectItem(root, "watermark")
            && recsys_json_str(root, "watermark", m->watermark,
                               sizeof(m->watermark), ctx, err, errlen) != 0))
    {
        goto done;
    }

    if (m->full_built_at[0] == '\0') {
        memcpy(m->full_built_at, m->built_at, sizeof(m->built_at));
    }

    if (cJSON_HasObjectItem(root, "previous")
        && recsys_json_uint(root, "previous", RECSYS_JSON_INT_MAX,
                            &m->previous, ctx, err, errlen) != 0)
    {
        goto done;
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "model");

    if (v != NULL && recsys_manifest_model_read(v, &m->model, ctx, err,
                                                errlen)
                     != 0)
    {
        goto done;
    }

    if ((cJSON_HasObjectItem(root, "users")
         && recsys_json_uint(root, "users", UINT32_MAX, &m->users, ctx, err,
                             errlen) != 0)
        || (cJSON_HasObjectItem(root, "users_watermark")
            && recsys_json_str(root, "users_watermark", m->users_watermark,
                               sizeof(m->users_watermark), ctx, err, errlen)
               != 0))
    {
        goto done;
    }

    v = recsys_manifest_member(root, "files", ctx, err, errlen);
    if (v == NULL) {
        goto done;
    }

    rc = recsys_manifest_files(v, m, ctx, err, errlen);

done:

    cJSON_Delete(root);

    return rc;
}


const recsys_file_sum_t *
recsys_manifest_file(const recsys_manifest_t *m, const char *name)
{
    uint32_t  i;

    for (i = 0; i < m->nfiles; i++) {
        if (strcmp(m->files[i].name, name) == 0) {
            return &m->files[i];
        }
    }

    return NULL;
}
