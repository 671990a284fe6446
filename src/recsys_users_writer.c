/*
 * users.bin writer: ids in an id dictionary (which also refuses
 * duplicates), vectors and seen rows in growing arrays, written in one
 * pass with the id table sized at write time.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_files.h"
#include "recsys_idmap.h"
#include "recsys_users_format.h"
#include "recsys_users_writer.h"


#define recsys_align8(n)           (((n) + 7) & ~(uint64_t) 7)


struct recsys_users_writer_s {
    recsys_idmap_t     *ids;
    float              *vectors;        /* count x dimension */
    uint64_t           *start;          /* count + 1 indexes into seen */
    uint32_t           *seen;
    uint64_t            nseen;
    uint64_t            seen_cap;
    uint64_t            strings;        /* bytes of the pool */
    uint32_t            cap;            /* users the arrays hold */
    uint32_t            dimension;
    uint32_t            items;
};


static int recsys_users_writer_grow(recsys_users_writer_t *w);
static int recsys_users_writer_seen(recsys_users_writer_t *w,
    const uint32_t *seen, size_t n);
static int recsys_users_writer_emit(void *data, recsys_out_t *o, char *err,
    size_t errlen);
static const char *recsys_users_writer_id_at(const void *data, uint32_t row,
    size_t *len);
static int recsys_cmp_row(const void *a, const void *b);


recsys_users_writer_t *
recsys_users_writer_create(uint32_t dimension, uint32_t items)
{
    recsys_users_writer_t  *w;

    if (dimension == 0 || dimension > RECSYS_USERS_MAX_DIM) {
        return NULL;
    }

    w = calloc(1, sizeof(recsys_users_writer_t));
    if (w == NULL) {
        return NULL;
    }

    w->ids = recsys_idmap_create();
    w->start = calloc(1, sizeof(uint64_t));

    if (w->ids == NULL || w->start == NULL) {
        recsys_users_writer_destroy(w);
        return NULL;
    }

    w->dimension = dimension;
    w->items = items;

    return w;
}


void
recsys_users_writer_destroy(recsys_users_writer_t *w)
{
    if (w == NULL) {
        return;
    }

    recsys_idmap_destroy(w->ids);
    free(w->vectors);
    free(w->start);
    free(w->seen);
    free(w);
}


int
recsys_users_writer_add(recsys_users_writer_t *w, const char *id, size_t len,
    const float *vector, const uint32_t *seen, size_t nseen, char *err,
    size_t errlen)
{
    int       idw;
    size_t    i;
    uint32_t  n;

    if (id == NULL || len == 0) {
        snprintf(err, errlen, "empty user id");
        return -1;
    }

    idw = len > 200 ? 200 : (int) len;

    if (len > RECSYS_USER_ID_MAX) {
        snprintf(err, errlen, "user \"%.*s...\": id longer than %d bytes",
                 idw, id, RECSYS_USER_ID_MAX);
        return -1;
    }

    if (memchr(id, '\0', len) != NULL) {
        snprintf(err, errlen, "user id with a NUL byte");
        return -1;
    }

    for (i = 0; i < w->dimension; i++) {
        if (!isfinite(vector[i])) {
            snprintf(err, errlen, "user \"%.*s\": vector[%zu] is not a "
                     "finite float32 number", idw, id, i);
            return -1;
        }
    }

    for (i = 0; i < nseen; i++) {
        if (seen[i] >= w->items) {
            snprintf(err, errlen, "user \"%.*s\": seen row %u is not an "
                     "item row (%u items)", idw, id, seen[i], w->items);
            return -1;
        }
    }

    n = recsys_idmap_count(w->ids);

    if (recsys_idmap_find(w->ids, id, len) >= 0) {
        snprintf(err, errlen, "duplicate user id \"%.*s\"", idw, id);
        return -1;
    }

    if (n >= RECSYS_USERS_MAX) {
        snprintf(err, errlen, "too many users (at most %u)",
                 RECSYS_USERS_MAX);
        return -1;
    }

    if ((n == w->cap && recsys_users_writer_grow(w) != 0)
        || recsys_users_writer_seen(w, seen, nseen) != 0
        || recsys_idmap_add(w->ids, id, len) != (int64_t) n)
    {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    memcpy(w->vectors + (size_t) n * w->dimension, vector,
           (size_t) w->dimension * sizeof(float));

    w->start[n + 1] = w->nseen;
    w->strings += len + 1;

    return 0;
}


static int
recsys_users_writer_grow(recsys_users_writer_t *w)
{
    float     *v;
    uint32_t   cap;
    uint64_t  *start;

    cap = w->cap ? w->cap * 2 : 64;

    if ((uint64_t) cap * w->dimension > SIZE_MAX / sizeof(float)) {
        return -1;
    }

    v = realloc(w->vectors, (size_t) cap * w->dimension * sizeof(float));
    if (v == NULL) {
        return -1;
    }

    w->vectors = v;

    start = realloc(w->start, ((size_t) cap + 1) * sizeof(uint64_t));
    if (start == NULL) {
        return -1;
    }

    w->start = start;
    w->cap = cap;

    return 0;
}


/* appends one user's rows, sorted, repeats dropped */

static int
recsys_users_writer_seen(recsys_users_writer_t *w, const uint32_t *seen,
    size_t n)
{
    size_t     i;
    uint32_t  *p, *run;
    uint64_t   cap, kept;

    if (w->nseen + n > UINT32_MAX) {
        return -1;
    }

    if (w->nseen + n > w->seen_cap) {
        cap = w->seen_cap ? w->seen_cap : 1024;

        while (cap < w->nseen + n) {
            cap *= 2;
        }

        p = realloc(w->seen, cap * sizeof(uint32_t));
        if (p == NULL) {
            return -1;
        }

        w->seen = p;
        w->seen_cap = cap;
    }

    if (n == 0) {
        return 0;
    }

    run = w->seen + w->nseen;
    memcpy(run, seen, n * sizeof(uint32_t));
    qsort(run, n, sizeof(uint32_t), recsys_cmp_row);

    kept = 1;

    for (i = 1; i < n; i++) {
        if (run[i] != run[kept - 1]) {
            run[kept++] = run[i];
        }
    }

    w->nseen += kept;

    return 0;
}


uint64_t
recsys_users_writer_count(const recsys_users_writer_t *w)
{
    return recsys_idmap_count(w->ids);
}


int64_t
recsys_users_writer_find(const recsys_users_writer_t *w, const char *id,
    size_t len)
{
    return recsys_idmap_find(w->ids, id, len);
}


int
recsys_users_writer_write(recsys_users_writer_t *w, const char *path,
    char *err, size_t errlen)
{
    return recsys_out_file(path, recsys_users_writer_emit, w, err, errlen);
}


static int
recsys_users_writer_emit(void *data, recsys_out_t *o, char *err,
    size_t errlen)
{
    size_t                  len;
    uint32_t                r, n, *hash;
    uint64_t                off, pool;
    const char             *id;
    recsys_user_rec_t       rec;
    recsys_users_header_t   h;
    recsys_users_writer_t  *w;

    w = data;
    n = recsys_idmap_count(w->ids);

    memset(&h, 0, sizeof(h));
    memcpy(h.magic, RECSYS_USERS_MAGIC, sizeof(RECSYS_USERS_MAGIC));
    h.version = RECSYS_USERS_VERSION;
    h.dimension = w->dimension;
    h.count = n;
    h.items = w->items;
    h.hash_slots = recsys_id_table_slots(n);
    h.nseen = w->nseen;
    h.strings_size = w->strings;

    off = RECSYS_USERS_HEADER_SIZE;
    h.records_off = off / 8;
    off = recsys_align8(off + (uint64_t) n * sizeof(recsys_user_rec_t));
    h.hash_off = off / 8;
    off = recsys_align8(off + (uint64_t) h.hash_slots * 4);
    h.vectors_off = off / 8;
    off = recsys_align8(off + (uint64_t) n * w->dimension * 4);
    h.seen_off = off / 8;
    off = recsys_align8(off + w->nseen * 4);

    if (off / 8 > UINT32_MAX) {
        snprintf(err, errlen, "%s would be larger than 32 GiB",
                 RECSYS_USERS_FILE);
        return -1;
    }

    h.strings_off = off / 8;

    hash = calloc(h.hash_slots, sizeof(uint32_t));
    if (hash == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    recsys_idmap_fill(hash, h.hash_slots - 1, n, recsys_users_writer_id_at, w);

    recsys_out_write(o, &h, sizeof(h));

    pool = 0;

    for (r = 0; r < n; r++) {
        (void) recsys_idmap_id(w->ids, r, &len);

        rec.id_off = pool;
        rec.id_len = (uint32_t) len;
        rec.seen_start = w->start[r];
        rec.nseen = (uint32_t) (w->start[r + 1] - w->start[r]);
        pool += len + 1;

        recsys_out_write(o, &rec, sizeof(rec));
    }

    recsys_out_pad(o, (uint64_t) h.hash_off * 8);
    recsys_out_write(o, hash, (size_t) h.hash_slots * 4);
    free(hash);

    recsys_out_pad(o, (uint64_t) h.vectors_off * 8);
    recsys_out_write(o, w->vectors, (size_t) n * w->dimension * 4);

    recsys_out_pad(o, (uint64_t) h.seen_off * 8);
    recsys_out_write(o, w->seen, (size_t) w->nseen * 4);

    recsys_out_pad(o, (uint64_t) h.strings_off * 8);

    for (r = 0; r < n; r++) {
        id = recsys_idmap_id(w->ids, r, &len);
        recsys_out_write(o, id, len);
        recsys_out_write(o, "", 1);
    }

    return 0;
}


static const char *
recsys_users_writer_id_at(const void *data, uint32_t row, size_t *len)
{
    const recsys_users_writer_t  *w;

    w = data;

    return recsys_idmap_id(w->ids, row, len);
}


static int
recsys_cmp_row(const void *a, const void *b)
{
    uint32_t  x, y;

    x = *(const uint32_t *) a;
    y = *(const uint32_t *) b;

    return (x > y) - (x < y);
}
