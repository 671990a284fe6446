/*
 * The users source.  Seen lists arrive as item ids and are stored as the
 * new generation's item rows; an incremental read copies the served
 * users it did not read again, their rows mapped through the ids of the
 * items they were built with, since item rows move between generations.
 */

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "recsys_files.h"
#include "recsys_idmap.h"
#include "recsys_json.h"
#include "recsys_time.h"
#include "recsys_users_source.h"


typedef struct {
    recsys_users_read_t  *r;
    recsys_idmap_t       *changed;      /* incremental: every id read */
    uint32_t             *rows;         /* one user's seen rows */
    size_t                rows_cap;
    uint32_t             *old;          /* the served user's, mapped */
    size_t                old_cap;
    float                *vec;          /* a file line's vector */
    uint64_t              line;
    char                 *err;
    size_t                errlen;
} recsys_users_ctx_t;


static int recsys_users_attempt(recsys_users_ctx_t *ctx, const char *since);
static int recsys_users_file(recsys_users_ctx_t *ctx);
static int recsys_users_file_line(void *data, char *buf, size_t len);
static int recsys_users_line(recsys_users_ctx_t *ctx, cJSON *root);
static int recsys_users_pg_row(void *data, const recsys_pg_row_t *row,
    char *err, size_t errlen);
static int recsys_users_add(recsys_users_ctx_t *ctx, const char *id,
    size_t len, const float *vec, size_t nrows, char *err, size_t errlen);
static int recsys_users_merge(recsys_users_ctx_t *ctx, uint64_t live);
static void recsys_users_gone(recsys_users_ctx_t *ctx);
static int recsys_users_same(recsys_users_ctx_t *ctx, int64_t row,
    const float *vec, size_t nrows);
static int recsys_users_prev_rows(recsys_users_ctx_t *ctx, uint32_t row,
    size_t *n);
static int recsys_users_grow(uint32_t **a, size_t *cap, size_t n);
static size_t recsys_users_sort(uint32_t *a, size_t n);
static int recsys_users_cmp_row(const void *a, const void *b);
static void recsys_users_line_error(recsys_users_ctx_t *ctx,
    const char *fmt, ...) __attribute__((format(printf, 2, 3)));


int
recsys_users_read(recsys_users_read_t *r, char *err, size_t errlen)
{
    int                  rc;
    double               start;
    recsys_users_ctx_t   ctx;

    start = recsys_now_seconds();

    memset(&ctx, 0, sizeof(recsys_users_ctx_t));
    ctx.r = r;
    ctx.err = err;
    ctx.errlen = errlen;

    r->writer = NULL;
    r->contacted = 0;
    r->watermark[0] = '\0';

    ctx.vec = malloc((size_t) r->dimension * sizeof(float));
    if (ctx.vec == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
        goto done;
    }

    /* only a postgresql source knows what changed */
    rc = 1;

    if (r->since != NULL && r->prev != NULL
        && r->conf->type == RECSYS_SOURCE_POSTGRESQL)
    {
        rc = recsys_users_attempt(&ctx, r->since);
    }

    if (rc == 1) {
        rc = recsys_users_attempt(&ctx, NULL);
    }

done:

    recsys_idmap_destroy(ctx.changed);
    free(ctx.rows);
    free(ctx.old);
    free(ctx.vec);

    r->seconds = recsys_now_seconds() - start;

    return rc;
}


/* one read into a new writer: 0, 1 when a full read is needed, -1 */

static int
recsys_users_attempt(recsys_users_ctx_t *ctx, const char *since)
{
    int                  rc;
    recsys_pg_read_t     pg;
    recsys_users_read_t *r;

    r = ctx->r;

    recsys_users_writer_destroy(r->writer);
    recsys_idmap_destroy(ctx->changed);
    ctx->changed = NULL;

    r->full = (since == NULL);
    r->modified = 0;
    r->unknown = 0;

    r->writer = recsys_users_writer_create(r->dimension, r->items);

    if (r->writer == NULL
        || (since != NULL
            && (ctx->changed = recsys_idmap_create()) == NULL))
    {
        snprintf(ctx->err, ctx->errlen, "out of memory");
        return -1;
    }

    if (r->conf->type == RECSYS_SOURCE_FILE) {
        rc = recsys_users_file(ctx);

    } else {
        memset(&pg, 0, sizeof(recsys_pg_read_t));
        pg.conf = r->conf;
        pg.dimension = r->dimension;
        pg.users = 1;
        pg.since = since;
        pg.cancel = r->cancel;
        pg.row = recsys_users_pg_row;
        pg.data = ctx;

        rc = recsys_pg_read(&pg, ctx->err, ctx->errlen);

        r->contacted = pg.contacted;
        snprintf(r->watermark, sizeof(r->watermark), "%s", pg.watermark);

        if (rc == 0 && since != NULL) {
            return recsys_users_merge(ctx, pg.live);
        }
    }

    if (rc == 0) {
        recsys_users_gone(ctx);
    }

    return rc;
}


static int
recsys_users_file(recsys_users_ctx_t *ctx)
{
    ctx->line = 0;

    return recsys_file_lines(ctx->r->conf->path, recsys_users_file_line, ctx,
                             ctx->err, ctx->errlen);
}


static int
recsys_users_file_line(void *data, char *buf, size_t len)
{
    int                  rc;
    char                 msg[RECSYS_ERRLEN];
    cJSON               *root;
    recsys_users_ctx_t  *ctx = data;

    ctx->line++;

    if (recsys_jsonl_object(buf, len, ctx->line, &root, msg, sizeof(msg))
        != 0)
    {
        recsys_users_line_error(ctx, "%s", msg);
        return -1;
    }

    if (root == NULL) {
        return 0;
    }

    rc = recsys_users_line(ctx, root);
    cJSON_Delete(root);

    return rc;
}


static int
recsys_users_line(recsys_users_ctx_t *ctx, cJSON *root)
{
    int       i, n;
    char      msg[RECSYS_ERRLEN];
    cJSON    *id, *vec, *seen, *e;
    double    d;
    int64_t   row;
    uint32_t  dim;
    size_t    nrows;

    dim = ctx->r->dimension;

    id = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (!cJSON_IsString(id) || id->valuestring == NULL
        || id->valuestring[0] == '\0')
    {
        recsys_users_line_error(ctx, "\"id\" must be a non-empty string");
        return -1;
    }

    vec = cJSON_GetObjectItemCaseSensitive(root, "vector");
    n = cJSON_GetArraySize(vec);

    if (!cJSON_IsArray(vec)) {
        recsys_users_line_error(ctx, "\"vector\" must be an array of %u "
                                "numbers", dim);
        return -1;
    }

    if (n < 0 || (uint32_t) n != dim) {
        recsys_users_line_error(ctx, "\"vector\" has %d numbers, expected"
                                " %u (the index dimension)", n, dim);
        return -1;
    }

    i = 0;

    cJSON_ArrayForEach(e, vec) {
        d = e->valuedouble;

        if (!cJSON_IsNumber(e) || !isfinite(d) || !isfinite((float) d)) {
            recsys_users_line_error(ctx, "\"vector\"[%d] must be a finite "
                                    "float32 number", i);
            return -1;
        }

        ctx->vec[i++] = (float) d;
    }

    seen = cJSON_GetObjectItemCaseSensitive(root, "seen");
    nrows = 0;

    if (seen != NULL && !cJSON_IsNull(seen)) {
        if (!cJSON_IsArray(seen)) {
            recsys_users_line_error(ctx, "\"seen\" must be an array of item"
                                    " ids");
            return -1;
        }

        n = cJSON_GetArraySize(seen);

        if (recsys_users_grow(&ctx->rows, &ctx->rows_cap, (size_t) n) != 0)
        {
            recsys_users_line_error(ctx, "out of memory");
            return -1;
        }

        i = 0;

        cJSON_ArrayForEach(e, seen) {
            if (!cJSON_IsString(e) || e->valuestring == NULL) {
                recsys_users_line_error(ctx, "\"seen\"[%d] must be an item"
                                        " id string", i);
                return -1;
            }

            i++;
            row = ctx->r->item(ctx->r->item_data, e->valuestring,
                               strlen(e->valuestring));

            if (row < 0) {
                ctx->r->unknown++;
                continue;
            }

            ctx->rows[nrows++] = (uint32_t) row;
        }
    }

    msg[0] = '\0';

    if (recsys_users_add(ctx, id->valuestring, strlen(id->valuestring),
                         ctx->vec, nrows, msg, sizeof(msg))
        != 0)
    {
        recsys_users_line_error(ctx, "%s", msg);
        return -1;
    }

    return 0;
}


static int
recsys_users_pg_row(void *data, const recsys_pg_row_t *row, char *err,
    size_t errlen)
{
    size_t               i, nrows;
    int64_t              r, prev;
    recsys_users_ctx_t  *ctx;

    ctx = data;

    if (ctx->r->cancel != NULL && *ctx->r->cancel) {
        snprintf(err, errlen, "cancelled");
        return -1;
    }

    if (ctx->changed != NULL) {
        if (recsys_idmap_find(ctx->changed, row->id, row->id_len) >= 0) {
            snprintf(err, errlen, "duplicate user id");
            return -1;
        }

        if (recsys_idmap_add(ctx->changed, row->id, row->id_len) < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }

    if (row->deleted) {
        prev = (ctx->r->prev == NULL) ? -1
               : recsys_users_find(ctx->r->prev, row->id, row->id_len);
        ctx->r->modified += (prev >= 0);
        return 0;
    }

    if (recsys_users_grow(&ctx->rows, &ctx->rows_cap, row->nseen) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    nrows = 0;

    for (i = 0; i < row->nseen; i++) {
        r = ctx->r->item(ctx->r->item_data, row->seen[i].data,
                         row->seen[i].len);

        if (r < 0) {
            ctx->r->unknown++;
            continue;
        }

        ctx->rows[nrows++] = (uint32_t) r;
    }

    return recsys_users_add(ctx, row->id, row->id_len, row->vector, nrows,
                            err, errlen);
}


/* one user, its seen rows in ctx->rows; counted when it is new or changed */

static int
recsys_users_add(recsys_users_ctx_t *ctx, const char *id, size_t len,
    const float *vec, size_t nrows, char *err, size_t errlen)
{
    double    norm;
    int64_t   prev;
    uint32_t  i;

    if (ctx->r->metric == RECSYS_METRIC_COSINE) {
        norm = 0;

        for (i = 0; i < ctx->r->dimension; i++) {
            norm += (double) vec[i] * vec[i];
        }

        if (norm == 0) {
            snprintf(err, errlen, "the vector has zero length, there is no "
                     "cosine with it");
            return -1;
        }
    }

    if (recsys_users_writer_add(ctx->r->writer, id, len, vec, ctx->rows,
                                nrows, err, errlen)
        != 0)
    {
        return -1;
    }

    prev = (ctx->r->prev == NULL) ? -1
           : recsys_users_find(ctx->r->prev, id, len);

    if (prev < 0 || !recsys_users_same(ctx, prev, vec, nrows)) {
        ctx->r->modified++;
    }

    return 0;
}


/*
 * Copies the served users the incremental read did not see.  Returns 0,
 * 1 when the source's live count does not add up, -1 on error.
 */

static int
recsys_users_merge(recsys_users_ctx_t *ctx, uint64_t live)
{
    char                   err[RECSYS_ERRLEN];
    size_t                 n;
    uint64_t               i, kept;
    recsys_user_t          u;
    recsys_users_read_t   *r;

    r = ctx->r;
    kept = 0;

    for (i = 0; i < r->prev->count; i++) {
        recsys_users_get(r->prev, (uint32_t) i, &u);
        kept += (recsys_idmap_find(ctx->changed, u.id, u.id_len) < 0);
    }

    if (kept + recsys_users_writer_count(r->writer) != live) {
        return 1;
    }

    for (i = 0; i < r->prev->count; i++) {
        recsys_users_get(r->prev, (uint32_t) i, &u);

        if (recsys_idmap_find(ctx->changed, u.id, u.id_len) >= 0) {
            continue;
        }

        if (recsys_users_prev_rows(ctx, (uint32_t) i, &n) != 0) {
            snprintf(ctx->err, ctx->errlen, "out of memory");
            return -1;
        }

        if (recsys_users_writer_add(r->writer, u.id, u.id_len, u.vector,
                                    ctx->old, n, err, sizeof(err))
            != 0)
        {
            snprintf(ctx->err, ctx->errlen, "served users: %s", err);
            return -1;
        }
    }

    return 0;
}


/* a full read: the served users it no longer has changed too */

static void
recsys_users_gone(recsys_users_ctx_t *ctx)
{
    uint64_t        i;
    recsys_user_t   u;

    if (ctx->r->prev == NULL) {
        return;
    }

    for (i = 0; i < ctx->r->prev->count; i++) {
        recsys_users_get(ctx->r->prev, (uint32_t) i, &u);

        if (recsys_users_writer_find(ctx->r->writer, u.id, u.id_len) < 0) {
            ctx->r->modified++;
        }
    }
}


/* the served user at row has this vector and these seen items */

static int
recsys_users_same(recsys_users_ctx_t *ctx, int64_t row, const float *vec,
    size_t nrows)
{
    size_t          n, m;
    recsys_user_t   u;

    recsys_users_get(ctx->r->prev, (uint32_t) row, &u);

    if (memcmp(u.vector, vec, ctx->r->dimension * sizeof(float)) != 0) {
        return 0;
    }

    /* out of memory: say it changed, the generation is simply rebuilt */
    if (recsys_users_prev_rows(ctx, (uint32_t) row, &m) != 0) {
        return 0;
    }

    n = recsys_users_sort(ctx->rows, nrows);

    return n == m && memcmp(ctx->rows, ctx->old, n * sizeof(uint32_t)) == 0;
}


/* the served user's seen items as new rows, ascending, into ctx->old */

static int
recsys_users_prev_rows(recsys_users_ctx_t *ctx, uint32_t row, size_t *n)
{
    int64_t         r;
    uint32_t        i;
    recsys_user_t   u;
    recsys_item_t   it;

    recsys_users_get(ctx->r->prev, row, &u);

    if (recsys_users_grow(&ctx->old, &ctx->old_cap, u.nseen) != 0) {
        return -1;
    }

    *n = 0;

    for (i = 0; i < u.nseen; i++) {
        if (u.seen[i] >= ctx->r->prev_items->count) {
            continue;
        }

        recsys_items_get(ctx->r->prev_items, u.seen[i], &it);
        r = ctx->r->item(ctx->r->item_data, it.id, it.id_len);

        if (r >= 0) {
            ctx->old[(*n)++] = (uint32_t) r;
        }
    }

    *n = recsys_users_sort(ctx->old, *n);

    return 0;
}


static int
recsys_users_grow(uint32_t **a, size_t *cap, size_t n)
{
    uint32_t  *p;

    if (n <= *cap) {
        return 0;
    }

    p = realloc(*a, n * sizeof(uint32_t));
    if (p == NULL) {
        return -1;
    }

    *a = p;
    *cap = n;

    return 0;
}


/* sorts, drops repeats, returns the new length */

static size_t
recsys_users_sort(uint32_t *a, size_t n)
{
    size_t  i, m;

    if (n < 2) {
        return n;
    }

    qsort(a, n, sizeof(uint32_t), recsys_users_cmp_row);

    for (i = 1, m = 1; i < n; i++) {
        if (a[i] != a[m - 1]) {
            a[m++] = a[i];
        }
    }

    return m;
}


static int
recsys_users_cmp_row(const void *a, const void *b)
{
    uint32_t  x, y;

    x = *(const uint32_t *) a;
    y = *(const uint32_t *) b;

    return (x > y) - (x < y);
}


static void
recsys_users_line_error(recsys_users_ctx_t *ctx, const char *fmt, ...)
{
    int      n;
    va_list  args;

    n = snprintf(ctx->err, ctx->errlen, "%s:%llu: ", ctx->r->conf->path,
                 (unsigned long long) ctx->line);

    if (n < 0 || (size_t) n >= ctx->errlen) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(ctx->err + n, ctx->errlen - n, fmt, args);
    va_end(args);
}
