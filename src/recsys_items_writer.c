/*
 * items.bin writer: keeps every item's strings until write(), checks ids
 * for duplicates as they come, then sorts the popularity and category
 * lists, sizes the id hash table and writes all sections in one pass.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_files.h"
#include "recsys_idmap.h"
#include "recsys_items_format.h"
#include "recsys_items_writer.h"


#define recsys_align8(n)           (((n) + 7) & ~(uint64_t) 7)


/* an item as the writer keeps it: str[0] owns one block for all strings */
typedef struct {
    char               *str[RECSYS_NSTR];
    uint32_t            len[RECSYS_NSTR];
    float               popularity;
} recsys_witem_t;


struct recsys_items_writer_s {
    recsys_witem_t     *items;
    uint32_t            count;
    uint32_t            nalloc;
    uint32_t           *hash;           /* row + 1, for duplicate ids */
    uint32_t            hash_slots;
    uint32_t            dimension;
};


/* everything items.bin needs besides the items themselves */
typedef struct {
    recsys_witem_t        **pop;        /* items in popular order */
    recsys_witem_t        **bycat;      /* items with a category, grouped */
    uint32_t               *catno;      /* row -> category number */
    uint32_t               *rows;       /* scratch for row lists */
    uint32_t               *hash;
    recsys_category_rec_t  *cats;
    uint32_t                slots;
    uint32_t                ncat;
    uint32_t                ncatrows;
    uint64_t                pool;       /* bytes of category names */
    recsys_items_header_t   h;
} recsys_writer_layout_t;


static int recsys_witem_cmp_popular(const void *a, const void *b);
static int recsys_witem_cmp_category(const void *a, const void *b);
static int64_t recsys_writer_lookup(const recsys_items_writer_t *w,
    const char *id, size_t len, uint64_t *slot);
static int recsys_writer_grow(recsys_items_writer_t *w);
static const char *recsys_writer_id(const void *data, uint32_t row,
    size_t *len);
static int recsys_writer_build(void *data, recsys_out_t *o, char *err,
    size_t errlen);
static void recsys_writer_sort(recsys_items_writer_t *w,
    recsys_writer_layout_t *l);
static int recsys_writer_header(recsys_items_writer_t *w,
    recsys_writer_layout_t *l);
static void recsys_writer_emit(recsys_items_writer_t *w,
    recsys_writer_layout_t *l, recsys_out_t *o);


recsys_items_writer_t *
recsys_items_writer_create(uint32_t dimension)
{
    recsys_items_writer_t  *w;

    w = calloc(1, sizeof(recsys_items_writer_t));
    if (w == NULL) {
        return NULL;
    }

    w->hash_slots = 64;
    w->hash = calloc(w->hash_slots, sizeof(uint32_t));
    if (w->hash == NULL) {
        free(w);
        return NULL;
    }

    w->dimension = dimension;

    return w;
}


static int64_t
recsys_writer_lookup(const recsys_items_writer_t *w, const char *id,
    size_t len, uint64_t *slot)
{
    return recsys_idmap_probe(w->hash, w->hash_slots - 1, id, len,
                              recsys_writer_id, w, slot);
}


static const char *
recsys_writer_id(const void *data, uint32_t row, size_t *len)
{
    const recsys_items_writer_t  *w;

    w = data;
    *len = w->items[row].len[RECSYS_STR_ID];

    return w->items[row].str[RECSYS_STR_ID];
}


static int
recsys_writer_grow(recsys_items_writer_t *w)
{
    uint32_t         nalloc;
    uint64_t         mask;
    recsys_witem_t  *items;

    if (w->count == w->nalloc) {
        nalloc = w->nalloc ? w->nalloc * 2 : 64;

        items = realloc(w->items, (size_t) nalloc * sizeof(recsys_witem_t));
        if (items == NULL) {
            return -1;
        }

        w->items = items;
        w->nalloc = nalloc;
    }

    /* keep the duplicate-detection table at most half full */
    if ((uint64_t) (w->count + 1) * 2 <= w->hash_slots) {
        return 0;
    }

    mask = w->hash_slots - 1;

    if (recsys_idmap_double(&w->hash, &mask, w->count, recsys_writer_id, w)
        != 0)
    {
        return -1;
    }

    w->hash_slots = (uint32_t) (mask + 1);

    return 0;
}


int
recsys_items_writer_add(recsys_items_writer_t *w, const recsys_item_t *it,
    char *err, size_t errlen)
{
    int              i, idw;
    char            *p;
    size_t           total, len[RECSYS_NSTR];
    uint64_t         slot;
    const char      *src[RECSYS_NSTR];
    recsys_witem_t  *wi;

    if (it->id == NULL || it->id_len == 0) {
        snprintf(err, errlen, "empty id");
        return -1;
    }

    /* print at most 200 bytes of an id in messages */
    idw = it->id_len > 200 ? 200 : (int) it->id_len;

    src[RECSYS_STR_ID] = it->id;
    len[RECSYS_STR_ID] = it->id_len;
    src[RECSYS_STR_TITLE] = it->title;
    len[RECSYS_STR_TITLE] = it->title_len;
    src[RECSYS_STR_CATEGORY] = it->category;
    len[RECSYS_STR_CATEGORY] = it->category_len;
    src[RECSYS_STR_ATTRIBUTES] = it->attributes;
    len[RECSYS_STR_ATTRIBUTES] = it->attributes_len;

    total = 0;

    for (i = 0; i < RECSYS_NSTR; i++) {
        if (src[i] == NULL) {
            continue;
        }

        if (len[i] >= RECSYS_STR_ABSENT || total + len[i] + 1 < total) {
            snprintf(err, errlen, "item \"%.*s\": string too long",
                     idw, it->id);
            return -1;
        }

        total += len[i] + 1;
    }

    if (isnan(it->popularity)) {
        snprintf(err, errlen, "item \"%.*s\": popularity is not a number",
                 idw, it->id);
        return -1;
    }

    if (w->count >= RECSYS_ITEMS_MAX) {
        snprintf(err, errlen, "too many items (at most %u)",
                 RECSYS_ITEMS_MAX);
        return -1;
    }

    if (recsys_writer_lookup(w, it->id, it->id_len, &slot) >= 0) {
        snprintf(err, errlen, "duplicate id \"%.*s\"", idw, it->id);
        return -1;
    }

    p = malloc(total);
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    if (recsys_writer_grow(w) != 0) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    wi = &w->items[w->count];

    for (i = 0; i < RECSYS_NSTR; i++) {
        if (src[i] == NULL) {
            wi->str[i] = NULL;
            wi->len[i] = RECSYS_STR_ABSENT;
            continue;
        }

        memcpy(p, src[i], len[i]);
        p[len[i]] = '\0';
        wi->str[i] = p;
        wi->len[i] = (uint32_t) len[i];
        p += len[i] + 1;
    }

    wi->popularity = it->popularity;

    /* the table may have been rehashed by grow: probe again */
    (void) recsys_writer_lookup(w, it->id, it->id_len, &slot);
    w->hash[slot] = w->count + 1;
    w->count++;

    return 0;
}


uint64_t
recsys_items_writer_count(const recsys_items_writer_t *w)
{
    return w->count;
}


int64_t
recsys_items_writer_find(const recsys_items_writer_t *w, const char *id,
    size_t len)
{
    uint64_t  slot;

    return recsys_writer_lookup(w, id, len, &slot);
}


const char *
recsys_items_writer_id(const recsys_items_writer_t *w, uint32_t row,
    size_t *len)
{
    *len = w->items[row].len[RECSYS_STR_ID];

    return w->items[row].str[RECSYS_STR_ID];
}


float
recsys_items_writer_popularity(const recsys_items_writer_t *w, uint32_t row)
{
    return w->items[row].popularity;
}


void
recsys_items_writer_set_popularity(recsys_items_writer_t *w, uint32_t row,
    float popularity)
{
    w->items[row].popularity = popularity;
}


void
recsys_items_writer_destroy(recsys_items_writer_t *w)
{
    uint32_t  i;

    if (w == NULL) {
        return;
    }

    for (i = 0; i < w->count; i++) {
        free(w->items[i].str[RECSYS_STR_ID]);
    }

    free(w->items);
    free(w->hash);
    free(w);
}


static int
recsys_witem_cmp_popular(const void *a, const void *b)
{
    const recsys_witem_t  *x, *y;

    x = *(const recsys_witem_t *const *) a;
    y = *(const recsys_witem_t *const *) b;

    if (x->popularity > y->popularity) {
        return -1;
    }

    if (x->popularity < y->popularity) {
        return 1;
    }

    return recsys_items_bytes_cmp(x->str[RECSYS_STR_ID], x->len[RECSYS_STR_ID],
                            y->str[RECSYS_STR_ID], y->len[RECSYS_STR_ID]);
}


static int
recsys_witem_cmp_category(const void *a, const void *b)
{
    int                    rc;
    const recsys_witem_t  *x, *y;

    x = *(const recsys_witem_t *const *) a;
    y = *(const recsys_witem_t *const *) b;

    rc = recsys_items_bytes_cmp(x->str[RECSYS_STR_CATEGORY],
                          x->len[RECSYS_STR_CATEGORY],
                          y->str[RECSYS_STR_CATEGORY],
                          y->len[RECSYS_STR_CATEGORY]);
    if (rc != 0) {
        return rc;
    }

    return recsys_witem_cmp_popular(a, b);
}


int
recsys_items_writer_write(recsys_items_writer_t *w, const char *path,
    char *err, size_t errlen)
{
    return recsys_out_file(path, recsys_writer_build, w, err, errlen);
}


/* sorts, lays out and writes every section of items.bin to fd */

static int
recsys_writer_build(void *data, recsys_out_t *o, char *err, size_t errlen)
{
    int                      rc;
    size_t                   n;
    recsys_items_writer_t   *w;
    recsys_writer_layout_t  *l;

    w = data;
    n = (size_t) w->count + 1;
    rc = -1;

    l = calloc(1, sizeof(recsys_writer_layout_t));
    if (l == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    l->slots = recsys_id_table_slots(w->count);

    l->pop = malloc(n * sizeof(recsys_witem_t *));
    l->bycat = malloc(n * sizeof(recsys_witem_t *));
    l->catno = malloc(n * sizeof(uint32_t));
    l->rows = malloc(n * sizeof(uint32_t));
    l->cats = malloc(n * sizeof(recsys_category_rec_t));
    l->hash = calloc(l->slots, sizeof(uint32_t));

    if (l->pop == NULL || l->bycat == NULL || l->catno == NULL
        || l->rows == NULL || l->cats == NULL || l->hash == NULL)
    {
        snprintf(err, errlen, "out of memory");
        goto done;
    }

    recsys_writer_sort(w, l);
    recsys_idmap_fill(l->hash, l->slots - 1, w->count, recsys_writer_id, w);

    if (recsys_writer_header(w, l) != 0) {
        snprintf(err, errlen, "items.bin would be larger than 32 GiB");
        goto done;
    }

    recsys_writer_emit(w, l, o);
    rc = 0;

done:

    free(l->pop);
    free(l->bycat);
    free(l->catno);
    free(l->rows);
    free(l->cats);
    free(l->hash);
    free(l);

    return rc;
}


/* popular order, and items grouped into categories sorted by name */

static void
recsys_writer_sort(recsys_items_writer_t *w, recsys_writer_layout_t *l)
{
    uint32_t                r, ncat;
    recsys_witem_t         *wi, *prev;
    recsys_category_rec_t  *cat;

    l->ncatrows = 0;

    for (r = 0; r < w->count; r++) {
        l->pop[r] = &w->items[r];
        l->catno[r] = RECSYS_NO_CATEGORY;

        if (w->items[r].str[RECSYS_STR_CATEGORY] != NULL) {
            l->bycat[l->ncatrows++] = &w->items[r];
        }
    }

    qsort(l->pop, w->count, sizeof(recsys_witem_t *),
          recsys_witem_cmp_popular);
    qsort(l->bycat, l->ncatrows, sizeof(recsys_witem_t *),
          recsys_witem_cmp_category);

    /* category names come first in the string pool */
    ncat = 0;
    l->pool = 0;
    cat = NULL;

    for (r = 0; r < l->ncatrows; r++) {
        wi = l->bycat[r];
        prev = r ? l->bycat[r - 1] : NULL;

        if (prev == NULL
            || recsys_items_bytes_cmp(wi->str[RECSYS_STR_CATEGORY],
                                wi->len[RECSYS_STR_CATEGORY],
                                prev->str[RECSYS_STR_CATEGORY],
                                prev->len[RECSYS_STR_CATEGORY])
               != 0)
        {
            cat = &l->cats[ncat++];
            memset(cat, 0, sizeof(recsys_category_rec_t));
            cat->name_off = l->pool;
            cat->name_len = wi->len[RECSYS_STR_CATEGORY];
            cat->start = r;
            l->pool += (uint64_t) cat->name_len + 1;
        }

        cat->nrows++;
        l->catno[wi - w->items] = ncat - 1;
    }

    l->ncat = ncat;
}


static int
recsys_writer_header(recsys_items_writer_t *w, recsys_writer_layout_t *l)
{
    int                     i;
    uint32_t                r, n;
    uint64_t                off, pool;
    recsys_items_header_t  *h;

    n = w->count;
    pool = l->pool;

    for (r = 0; r < n; r++) {
        for (i = 0; i < RECSYS_NSTR; i++) {
            if (i != RECSYS_STR_CATEGORY && w->items[r].str[i] != NULL) {
                pool += (uint64_t) w->items[r].len[i] + 1;
            }
        }
    }

    h = &l->h;
    memset(h, 0, sizeof(recsys_items_header_t));
    memcpy(h->magic, RECSYS_ITEMS_MAGIC, sizeof(RECSYS_ITEMS_MAGIC));
    h->version = RECSYS_ITEMS_VERSION;
    h->dimension = w->dimension;
    h->count = n;
    h->ncategories = l->ncat;
    h->hash_slots = l->slots;
    h->ncatrows = l->ncatrows;
    h->strings_size = pool;

    off = RECSYS_ITEMS_HEADER_SIZE;
    h->records_off = off / 8;
    off = recsys_align8(off + (uint64_t) n * sizeof(recsys_item_rec_t));
    h->hash_off = off / 8;
    off = recsys_align8(off + (uint64_t) l->slots * 4);
    h->popular_off = off / 8;
    off = recsys_align8(off + (uint64_t) n * 4);
    h->categories_off = off / 8;
    off = recsys_align8(off + (uint64_t) l->ncat
                              * sizeof(recsys_category_rec_t));
    h->catrows_off = off / 8;
    off = recsys_align8(off + (uint64_t) l->ncatrows * 4);

    if (off / 8 > UINT32_MAX) {
        return -1;
    }

    h->strings_off = off / 8;

    return 0;
}


static void
recsys_writer_emit(recsys_items_writer_t *w, recsys_writer_layout_t *l,
    recsys_out_t *o)
{
    int                     i;
    uint32_t                r;
    uint64_t                off;
    recsys_witem_t         *wi;
    recsys_item_rec_t       rec;
    recsys_items_header_t  *h;

    h = &l->h;

    recsys_out_write(o, h, sizeof(recsys_items_header_t));

    /* item strings follow the category names in the pool */
    off = l->pool;

    for (r = 0; r < w->count; r++) {
        wi = &w->items[r];
        memset(&rec, 0, sizeof(rec));

        for (i = 0; i < RECSYS_NSTR; i++) {
            rec.len[i] = wi->len[i];

            if (wi->str[i] == NULL) {
                continue;
            }

            if (i == RECSYS_STR_CATEGORY) {
                rec.off[i] = l->cats[l->catno[r]].name_off;
                continue;
            }

            rec.off[i] = off;
            off += (uint64_t) wi->len[i] + 1;
        }

        rec.category_no = l->catno[r];
        rec.popularity = wi->popularity;

        recsys_out_write(o, &rec, sizeof(rec));
    }

    recsys_out_pad(o, (uint64_t) h->hash_off * 8);
    recsys_out_write(o, l->hash, (size_t) l->slots * 4);

    for (r = 0; r < w->count; r++) {
        l->rows[r] = l->pop[r] - w->items;
    }

    recsys_out_pad(o, (uint64_t) h->popular_off * 8);
    recsys_out_write(o, l->rows, (size_t) w->count * 4);

    recsys_out_pad(o, (uint64_t) h->categories_off * 8);
    recsys_out_write(o, l->cats,
                     (size_t) l->ncat * sizeof(recsys_category_rec_t));

    for (r = 0; r < l->ncatrows; r++) {
        l->rows[r] = l->bycat[r] - w->items;
    }

    recsys_out_pad(o, (uint64_t) h->catrows_off * 8);
    recsys_out_write(o, l->rows, (size_t) l->ncatrows * 4);

    recsys_out_pad(o, (uint64_t) h->strings_off * 8);

    for (r = 0; r < l->ncat; r++) {
        wi = l->bycat[l->cats[r].start];
        recsys_out_write(o, wi->str[RECSYS_STR_CATEGORY],
                         (size_t) wi->len[RECSYS_STR_CATEGORY] + 1);
    }

    for (r = 0; r < w->count; r++) {
        wi = &w->items[r];

        for (i = 0; i < RECSYS_NSTR; i++) {
            if (i != RECSYS_STR_CATEGORY && wi->str[i] != NULL) {
                recsys_out_write(o, wi->str[i], (size_t) wi->len[i] + 1);
            }
        }
    }
}
