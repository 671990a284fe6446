/*
 * Generation artifacts: the items.bin writer and reader, checksums, the
 * manifest, mapping a whole generation, and the index directory layout.
 *
 * items.bin (little-endian, every section 8-byte aligned):
 *
 *   header       64 bytes, recsys_items_header_t; section offsets are
 *                stored in 8-byte units so 32 bits reach 32 GiB
 *   records      count x recsys_item_rec_t
 *   hash         hash_slots x uint32 (row + 1, 0 empty), linear probing
 *                on recsys_id_hash(id) & (hash_slots - 1)
 *   popular      count x uint32 rows, popularity desc, id asc (bytes)
 *   categories   ncategories x recsys_category_rec_t, sorted by name
 *   catrows      ncatrows x uint32 rows grouped by category, each group
 *                sorted like popular
 *   strings      the string pool, every string NUL-terminated
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/IndexIVF_c.h>
#include <faiss/c_api/error_c.h>
#include <faiss/c_api/index_io_c.h>

#include "recsys_artifact.h"


#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "items.bin and checksums are defined little-endian only"
#endif


#define RECSYS_ITEMS_MAGIC         "RSITEMS"
#define RECSYS_ITEMS_VERSION       1
#define RECSYS_ITEMS_HEADER_SIZE   64
#define RECSYS_ITEMS_MAX           (1u << 30)
#define RECSYS_ITEMS_MIN_SLOTS     8

#define RECSYS_STR_ABSENT          0xffffffffu
#define RECSYS_STR_ID              0
#define RECSYS_STR_TITLE           1
#define RECSYS_STR_CATEGORY        2
#define RECSYS_STR_ATTRIBUTES      3
#define RECSYS_NSTR                4

#define RECSYS_MANIFEST_FORMAT     1
#define RECSYS_MANIFEST_MAX_SIZE   (1024 * 1024)
#define RECSYS_JSON_INT_MAX        9007199254740992.0   /* 2^53 */

#define RECSYS_OUT_BUFSIZE         65536
#define RECSYS_PATH_MAX            4096

#define RECSYS_FNV_OFFSET          0xcbf29ce484222325ULL
#define RECSYS_FNV_PRIME           0x100000001b3ULL

#define RECSYS_CK_M1               0x9e3779b97f4a7c15ULL
#define RECSYS_CK_M2               0xc2b2ae3d27d4eb4fULL
#define RECSYS_CK_M3               0x165667b19e3779f9ULL
#define RECSYS_CK_F1               0xff51afd7ed558ccdULL
#define RECSYS_CK_F2               0xc4ceb9fe1a85ec53ULL

#define recsys_align8(n)           (((n) + 7) & ~(uint64_t) 7)


typedef struct {
    char                magic[8];
    uint32_t            version;
    uint32_t            dimension;
    uint32_t            count;
    uint32_t            ncategories;
    uint32_t            hash_slots;
    uint32_t            ncatrows;
    uint64_t            strings_size;
    uint32_t            records_off;    /* offsets in 8-byte units */
    uint32_t            hash_off;
    uint32_t            popular_off;
    uint32_t            categories_off;
    uint32_t            catrows_off;
    uint32_t            strings_off;
} recsys_items_header_t;


typedef struct {
    uint64_t            off[RECSYS_NSTR];   /* id, title, category, attrs */
    uint32_t            len[RECSYS_NSTR];   /* RECSYS_STR_ABSENT: none */
    uint32_t            category_no;
    float               popularity;
} recsys_item_rec_t;


typedef struct {
    uint64_t            name_off;
    uint32_t            name_len;
    uint32_t            start;          /* first index into catrows */
    uint32_t            nrows;
    uint32_t            pad;
} recsys_category_rec_t;


_Static_assert(sizeof(recsys_items_header_t) == RECSYS_ITEMS_HEADER_SIZE,
               "items.bin header must be 64 bytes");
_Static_assert(sizeof(recsys_item_rec_t) == 56, "record must be 56 bytes");
_Static_assert(sizeof(recsys_category_rec_t) == 24,
               "category record must be 24 bytes");


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


/* buffered output to a file descriptor */
typedef struct {
    int                 fd;
    int                 error;          /* errno of the first failure */
    uint64_t            written;
    size_t              used;
    char                buf[RECSYS_OUT_BUFSIZE];
} recsys_out_t;


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
    recsys_out_t            out;
} recsys_layout_t;


static uint64_t recsys_checksum_mix(uint64_t h, uint64_t w);
static const char *recsys_basename(const char *path);
static int recsys_join(char *out, size_t outlen, const char *dir,
    const char *name);
static int recsys_bytes_cmp(const char *a, size_t alen, const char *b,
    size_t blen);
static int recsys_witem_cmp_popular(const void *a, const void *b);
static int recsys_witem_cmp_category(const void *a, const void *b);
static int64_t recsys_writer_lookup(const recsys_items_writer_t *w,
    const char *id, size_t len, uint64_t *slot);
static int recsys_writer_grow(recsys_items_writer_t *w);
static int recsys_writer_build(recsys_items_writer_t *w, int fd,
    char *err, size_t errlen);
static void recsys_writer_sort(recsys_items_writer_t *w,
    recsys_layout_t *l);
static void recsys_writer_hash(recsys_items_writer_t *w,
    recsys_layout_t *l);
static int recsys_writer_header(recsys_items_writer_t *w,
    recsys_layout_t *l);
static void recsys_writer_emit(recsys_items_writer_t *w,
    recsys_layout_t *l);
static void recsys_out_write(recsys_out_t *o, const void *data, size_t len);
static void recsys_out_pad(recsys_out_t *o, uint64_t offset);
static void recsys_out_flush(recsys_out_t *o);
static int recsys_items_validate(recsys_items_t *items,
    const recsys_items_header_t *h, const char *name, char *err,
    size_t errlen);
static int recsys_items_check_rows(recsys_items_t *items,
    uint32_t ncatrows, const char *name, char *err, size_t errlen);
static int recsys_str_valid(const recsys_items_t *items, uint64_t off,
    uint32_t len);
static int recsys_json_uint(cJSON *obj, const char *key, double max,
    uint64_t *out, const char *ctx, char *err, size_t errlen);
static int recsys_json_str(cJSON *obj, const char *key, char *out,
    size_t outlen, const char *ctx, char *err, size_t errlen);
static cJSON *recsys_manifest_load(const char *path, const char *ctx,
    char *err, size_t errlen);
static int recsys_manifest_files(cJSON *files, recsys_manifest_t *m,
    const char *ctx, char *err, size_t errlen);
static int recsys_write_file(const char *path, const char *data,
    size_t len, char *err, size_t errlen);
static int recsys_map_file(const char *path, const void **base,
    size_t *size, char *err, size_t errlen);
static int recsys_generation_check_file(recsys_generation_t *g,
    const recsys_file_sum_t *fs, char *err, size_t errlen);
static const recsys_file_sum_t *recsys_manifest_file(
    const recsys_manifest_t *m, const char *name);
static int recsys_generation_neighbors(recsys_generation_t *g, char *err,
    size_t errlen);
static int recsys_generation_index(recsys_generation_t *g, uint32_t nprobe,
    char *err, size_t errlen);
static const char *recsys_faiss_error(void);
static int recsys_parse_uint(const char *s, size_t len, uint64_t *out);
static int recsys_mkdir(const char *path, char *err, size_t errlen);
static int recsys_remove_tree(const char *path);
static int recsys_fsync_dir(const char *dir, char *err, size_t errlen);
static void recsys_prune(const char *gens_dir, uint64_t current,
    uint32_t keep);
static int recsys_cmp_u64_desc(const void *a, const void *b);
static uint64_t recsys_rollback_target(const char *gens_dir,
    uint64_t current, const uint64_t *gens, size_t n);
static int recsys_pid_alive(const char *s);


uint64_t
recsys_id_hash(const char *id, size_t len)
{
    size_t    i;
    uint64_t  h;

    h = RECSYS_FNV_OFFSET;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char) id[i];
        h *= RECSYS_FNV_PRIME;
    }

    return h;
}


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


static const char *
recsys_basename(const char *path)
{
    const char  *p;

    p = strrchr(path, '/');

    return p ? p + 1 : path;
}


static int
recsys_join(char *out, size_t outlen, const char *dir, const char *name)
{
    int  n;

    n = snprintf(out, outlen, "%s/%s", dir, name);

    return (n < 0 || (size_t) n >= outlen) ? -1 : 0;
}


static int
recsys_bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int  rc;

    rc = memcmp(a, b, alen < blen ? alen : blen);

    if (rc != 0) {
        return rc;
    }

    return (alen > blen) - (alen < blen);
}


/* items.bin writer */


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
    uint32_t               v;
    uint64_t               mask, s;
    const recsys_witem_t  *it;

    mask = w->hash_slots - 1;
    s = recsys_id_hash(id, len) & mask;

    for ( ;; ) {
        v = w->hash[s];

        if (v == 0) {
            *slot = s;
            return -1;
        }

        it = &w->items[v - 1];

        if (it->len[RECSYS_STR_ID] == len
            && memcmp(it->str[RECSYS_STR_ID], id, len) == 0)
        {
            *slot = s;
            return v - 1;
        }

        s = (s + 1) & mask;
    }
}


static int
recsys_writer_grow(recsys_items_writer_t *w)
{
    uint32_t         i, nalloc, slots, *hash;
    uint64_t         s, mask;
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

    slots = w->hash_slots * 2;

    hash = calloc(slots, sizeof(uint32_t));
    if (hash == NULL) {
        return -1;
    }

    mask = slots - 1;

    for (i = 0; i < w->count; i++) {
        s = recsys_id_hash(w->items[i].str[RECSYS_STR_ID],
                           w->items[i].len[RECSYS_STR_ID]) & mask;

        while (hash[s] != 0) {
            s = (s + 1) & mask;
        }

        hash[s] = i + 1;
    }

    free(w->hash);
    w->hash = hash;
    w->hash_slots = slots;

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

    return recsys_bytes_cmp(x->str[RECSYS_STR_ID], x->len[RECSYS_STR_ID],
                            y->str[RECSYS_STR_ID], y->len[RECSYS_STR_ID]);
}


static int
recsys_witem_cmp_category(const void *a, const void *b)
{
    int                    rc;
    const recsys_witem_t  *x, *y;

    x = *(const recsys_witem_t *const *) a;
    y = *(const recsys_witem_t *const *) b;

    rc = recsys_bytes_cmp(x->str[RECSYS_STR_CATEGORY],
                          x->len[RECSYS_STR_CATEGORY],
                          y->str[RECSYS_STR_CATEGORY],
                          y->len[RECSYS_STR_CATEGORY]);
    if (rc != 0) {
        return rc;
    }

    return recsys_witem_cmp_popular(a, b);
}


static void
recsys_out_flush(recsys_out_t *o)
{
    ssize_t      n;
    const char  *p;

    p = o->buf;

    while (o->used > 0 && o->error == 0) {
        n = write(o->fd, p, o->used);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            o->error = errno;
            break;
        }

        p += n;
        o->used -= n;
    }

    o->used = 0;
}


static void
recsys_out_write(recsys_out_t *o, const void *data, size_t len)
{
    size_t       n;
    const char  *p;

    p = data;
    o->written += len;

    while (len > 0 && o->error == 0) {
        n = sizeof(o->buf) - o->used;
        if (n > len) {
            n = len;
        }

        memcpy(o->buf + o->used, p, n);
        o->used += n;
        p += n;
        len -= n;

        if (o->used == sizeof(o->buf)) {
            recsys_out_flush(o);
        }
    }
}


static void
recsys_out_pad(recsys_out_t *o, uint64_t offset)
{
    static const char  zero[8];

    while (o->written < offset && o->error == 0) {
        recsys_out_write(o, zero, 1);
    }
}


int
recsys_items_writer_write(recsys_items_writer_t *w, const char *path,
    char *err, size_t errlen)
{
    int  fd;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        snprintf(err, errlen, "%s: open failed: %s", path, strerror(errno));
        return -1;
    }

    if (recsys_writer_build(w, fd, err, errlen) != 0) {
        close(fd);
        unlink(path);
        return -1;
    }

    if (fsync(fd) != 0) {
        snprintf(err, errlen, "%s: fsync failed: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }

    if (close(fd) != 0) {
        snprintf(err, errlen, "%s: close failed: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }

    return 0;
}


/* sorts, lays out and writes every section of items.bin to fd */

static int
recsys_writer_build(recsys_items_writer_t *w, int fd, char *err,
    size_t errlen)
{
    int               rc;
    size_t            n;
    recsys_layout_t  *l;

    n = (size_t) w->count + 1;
    rc = -1;

    l = calloc(1, sizeof(recsys_layout_t));
    if (l == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    l->slots = RECSYS_ITEMS_MIN_SLOTS;
    while (l->slots < (uint64_t) w->count * 2) {
        l->slots *= 2;
    }

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
    recsys_writer_hash(w, l);

    if (recsys_writer_header(w, l) != 0) {
        snprintf(err, errlen, "items.bin would be larger than 32 GiB");
        goto done;
    }

    l->out.fd = fd;
    recsys_writer_emit(w, l);
    recsys_out_flush(&l->out);

    if (l->out.error != 0) {
        snprintf(err, errlen, "items.bin: write failed: %s",
                 strerror(l->out.error));
        goto done;
    }

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
recsys_writer_sort(recsys_items_writer_t *w, recsys_layout_t *l)
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
            || recsys_bytes_cmp(wi->str[RECSYS_STR_CATEGORY],
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


static void
recsys_writer_hash(recsys_items_writer_t *w, recsys_layout_t *l)
{
    uint32_t         r;
    uint64_t         s, mask;
    recsys_witem_t  *wi;

    mask = l->slots - 1;

    for (r = 0; r < w->count; r++) {
        wi = &w->items[r];
        s = recsys_id_hash(wi->str[RECSYS_STR_ID], wi->len[RECSYS_STR_ID])
            & mask;

        while (l->hash[s] != 0) {
            s = (s + 1) & mask;
        }

        l->hash[s] = r + 1;
    }
}


static int
recsys_writer_header(recsys_items_writer_t *w, recsys_layout_t *l)
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
recsys_writer_emit(recsys_items_writer_t *w, recsys_layout_t *l)
{
    int                     i;
    uint32_t                r;
    uint64_t                off;
    recsys_out_t           *o;
    recsys_witem_t         *wi;
    recsys_item_rec_t       rec;
    recsys_items_header_t  *h;

    o = &l->out;
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


/* items.bin reader */


int
recsys_items_open(recsys_items_t *items, const char *path, char *err,
    size_t errlen)
{
    int                     fd;
    void                   *base;
    size_t                  size;
    struct stat             st;
    const char             *name;
    recsys_items_header_t   h;

    memset(items, 0, sizeof(recsys_items_t));
    name = recsys_basename(path);

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, errlen, "%s: open failed: %s", name, strerror(errno));
        return -1;
    }

    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: fstat failed: %s", name, strerror(errno));
        close(fd);
        return -1;
    }

    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", name);
        close(fd);
        return -1;
    }

    size = st.st_size;

    if (size < RECSYS_ITEMS_HEADER_SIZE) {
        snprintf(err, errlen, "%s: truncated (size %llu, need %d)", name,
                 (unsigned long long) size, RECSYS_ITEMS_HEADER_SIZE);
        close(fd);
        return -1;
    }

    /* MAP_SHARED: every worker shares the same page cache pages */
    base = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);

    if (base == MAP_FAILED) {
        snprintf(err, errlen, "%s: mmap failed: %s", name, strerror(errno));
        return -1;
    }

    items->base = base;
    items->size = size;

    memcpy(&h, base, sizeof(h));

    if (recsys_items_validate(items, &h, name, err, errlen) != 0) {
        munmap(base, size);
        memset(items, 0, sizeof(recsys_items_t));
        return -1;
    }

    return 0;
}


static int
recsys_str_valid(const recsys_items_t *items, uint64_t off, uint32_t len)
{
    if (off >= items->strings_size
        || (uint64_t) len >= items->strings_size - off)
    {
        return 0;
    }

    /* every string is NUL-terminated in the pool */
    return items->strings[off + len] == '\0';
}


static int
recsys_items_validate(recsys_items_t *items, const recsys_items_header_t *h,
    const char *name, char *err, size_t errlen)
{
    int                 i;
    uint64_t            need, start[6], len[6];
    static const char  *names[6] = {
        "records", "hash", "popular", "categories", "catrows", "strings"
    };

    if (memcmp(h->magic, RECSYS_ITEMS_MAGIC, sizeof(RECSYS_ITEMS_MAGIC))
        != 0)
    {
        snprintf(err, errlen, "%s: bad magic", name);
        return -1;
    }

    if (h->version != RECSYS_ITEMS_VERSION) {
        snprintf(err, errlen, "%s: unsupported version %u", name,
                 h->version);
        return -1;
    }

    if (h->count > RECSYS_ITEMS_MAX) {
        snprintf(err, errlen, "%s: bad item count %u", name, h->count);
        return -1;
    }

    if (h->hash_slots == 0 || (h->hash_slots & (h->hash_slots - 1)) != 0
        || h->hash_slots <= h->count)
    {
        snprintf(err, errlen, "%s: bad hash table size %u", name,
                 h->hash_slots);
        return -1;
    }

    if (h->ncatrows > h->count || h->ncategories > h->ncatrows) {
        snprintf(err, errlen, "%s: bad category counts", name);
        return -1;
    }

    start[0] = (uint64_t) h->records_off * 8;
    len[0] = (uint64_t) h->count * sizeof(recsys_item_rec_t);
    start[1] = (uint64_t) h->hash_off * 8;
    len[1] = (uint64_t) h->hash_slots * 4;
    start[2] = (uint64_t) h->popular_off * 8;
    len[2] = (uint64_t) h->count * 4;
    start[3] = (uint64_t) h->categories_off * 8;
    len[3] = (uint64_t) h->ncategories * sizeof(recsys_category_rec_t);
    start[4] = (uint64_t) h->catrows_off * 8;
    len[4] = (uint64_t) h->ncatrows * 4;
    start[5] = (uint64_t) h->strings_off * 8;
    len[5] = h->strings_size;

    need = RECSYS_ITEMS_HEADER_SIZE;

    for (i = 0; i < 6; i++) {
        if (start[i] < RECSYS_ITEMS_HEADER_SIZE) {
            snprintf(err, errlen, "%s: %s section overlaps the header",
                     name, names[i]);
            return -1;
        }

        /* start < 2^35, so only a huge strings_size can overflow */
        if (len[i] > UINT64_MAX - start[i]) {
            snprintf(err, errlen, "%s: %s section too large", name,
                     names[i]);
            return -1;
        }

        if (start[i] + len[i] > need) {
            need = start[i] + len[i];
        }
    }

    if (need > items->size) {
        snprintf(err, errlen, "%s: truncated (size %llu, need %llu)", name,
                 (unsigned long long) items->size, (unsigned long long) need);
        return -1;
    }

    items->count = h->count;
    items->dimension = h->dimension;
    items->ncategories = h->ncategories;
    items->records = items->base + start[0];
    items->hash = (const uint32_t *) (items->base + start[1]);
    items->hash_mask = (uint64_t) h->hash_slots - 1;
    items->popular = (const uint32_t *) (items->base + start[2]);
    items->categories = items->base + start[3];
    items->catrows = (const uint32_t *) (items->base + start[4]);
    items->strings = (const char *) items->base + start[5];
    items->strings_size = h->strings_size;

    return recsys_items_check_rows(items, h->ncatrows, name, err, errlen);
}


/* every string reference inside the pool, every row index < count */

static int
recsys_items_check_rows(recsys_items_t *items, uint32_t ncatrows,
    const char *name, char *err, size_t errlen)
{
    int                           i;
    uint32_t                      c;
    uint64_t                      r;
    const recsys_item_rec_t      *rec;
    const recsys_category_rec_t  *cat;

    rec = items->records;

    for (r = 0; r < items->count; r++, rec++) {
        for (i = 0; i < RECSYS_NSTR; i++) {
            if (rec->len[i] == RECSYS_STR_ABSENT && i != RECSYS_STR_ID) {
                continue;
            }

            if (!recsys_str_valid(items, rec->off[i], rec->len[i])) {
                snprintf(err, errlen, "%s: record %llu: string outside "
                         "the pool", name, (unsigned long long) r);
                return -1;
            }
        }

        if (rec->len[RECSYS_STR_ID] == 0) {
            snprintf(err, errlen, "%s: record %llu: empty id", name,
                     (unsigned long long) r);
            return -1;
        }

        if (rec->category_no != RECSYS_NO_CATEGORY
            && rec->category_no >= items->ncategories)
        {
            snprintf(err, errlen, "%s: record %llu: bad category %u", name,
                     (unsigned long long) r, rec->category_no);
            return -1;
        }
    }

    for (r = 0; r <= items->hash_mask; r++) {
        if (items->hash[r] > items->count) {
            snprintf(err, errlen, "%s: hash slot %llu: row out of range",
                     name, (unsigned long long) r);
            return -1;
        }
    }

    for (r = 0; r < items->count; r++) {
        if (items->popular[r] >= items->count) {
            snprintf(err, errlen, "%s: popular %llu: row out of range",
                     name, (unsigned long long) r);
            return -1;
        }
    }

    for (r = 0; r < ncatrows; r++) {
        if (items->catrows[r] >= items->count) {
            snprintf(err, errlen, "%s: catrows %llu: row out of range",
                     name, (unsigned long long) r);
            return -1;
        }
    }

    cat = items->categories;

    for (c = 0; c < items->ncategories; c++, cat++) {
        if (!recsys_str_valid(items, cat->name_off, cat->name_len)
            || cat->start > ncatrows
            || cat->nrows > ncatrows - cat->start)
        {
            snprintf(err, errlen, "%s: category %u: out of range", name,
                     c);
            return -1;
        }
    }

    return 0;
}


void
recsys_items_close(recsys_items_t *items)
{
    if (items->base != NULL) {
        munmap((void *) items->base, items->size);
    }

    memset(items, 0, sizeof(recsys_items_t));
}


int64_t
recsys_items_find(const recsys_items_t *items, const char *id, size_t len)
{
    uint32_t                  v;
    uint64_t                  i, s;
    const recsys_item_rec_t  *rec;

    if (items->hash == NULL || len == 0) {
        return -1;
    }

    s = recsys_id_hash(id, len) & items->hash_mask;

    /* bounded: a corrupt table that is full must not loop forever */
    for (i = 0; i <= items->hash_mask; i++) {
        v = items->hash[s];

        if (v == 0) {
            return -1;
        }

        rec = (const recsys_item_rec_t *) items->records + (v - 1);

        if (rec->len[RECSYS_STR_ID] == len
            && memcmp(items->strings + rec->off[RECSYS_STR_ID], id, len)
               == 0)
        {
            return v - 1;
        }

        s = (s + 1) & items->hash_mask;
    }

    return -1;
}


void
recsys_items_get(const recsys_items_t *items, uint32_t row,
    recsys_item_t *out)
{
    int                       i;
    size_t                    len[RECSYS_NSTR];
    const char               *p[RECSYS_NSTR];
    const recsys_item_rec_t  *rec;

    memset(out, 0, sizeof(recsys_item_t));
    out->category_no = RECSYS_NO_CATEGORY;

    if (row >= items->count) {
        return;
    }

    rec = (const recsys_item_rec_t *) items->records + row;

    for (i = 0; i < RECSYS_NSTR; i++) {
        if (rec->len[i] == RECSYS_STR_ABSENT) {
            p[i] = NULL;
            len[i] = 0;

        } else {
            p[i] = items->strings + rec->off[i];
            len[i] = rec->len[i];
        }
    }

    out->id = p[RECSYS_STR_ID];
    out->id_len = len[RECSYS_STR_ID];
    out->title = p[RECSYS_STR_TITLE];
    out->title_len = len[RECSYS_STR_TITLE];
    out->category = p[RECSYS_STR_CATEGORY];
    out->category_len = len[RECSYS_STR_CATEGORY];
    out->attributes = p[RECSYS_STR_ATTRIBUTES];
    out->attributes_len = len[RECSYS_STR_ATTRIBUTES];
    out->popularity = rec->popularity;
    out->category_no = rec->category_no;
}


int64_t
recsys_items_category_find(const recsys_items_t *items, const char *name,
    size_t len)
{
    int                           rc;
    uint32_t                      lo, hi, mid;
    const recsys_category_rec_t  *cats;

    cats = items->categories;
    lo = 0;
    hi = items->ncategories;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        rc = recsys_bytes_cmp(items->strings + cats[mid].name_off,
                              cats[mid].name_len, name, len);
        if (rc == 0) {
            return mid;
        }

        if (rc < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return -1;
}


const uint32_t *
recsys_items_category_rows(const recsys_items_t *items, uint32_t category_no,
    uint32_t *n)
{
    const recsys_category_rec_t  *cat;

    if (category_no >= items->ncategories) {
        *n = 0;
        return NULL;
    }

    cat = (const recsys_category_rec_t *) items->categories + category_no;
    *n = cat->nrows;

    return items->catrows + cat->start;
}


/* manifest.json */


static int
recsys_write_file(const char *path, const char *data, size_t len,
    char *err, size_t errlen)
{
    int          fd;
    ssize_t      n;
    const char  *name;

    name = recsys_basename(path);

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        snprintf(err, errlen, "%s: open failed: %s", name, strerror(errno));
        return -1;
    }

    while (len > 0) {
        n = write(fd, data, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            snprintf(err, errlen, "%s: write failed: %s", name,
                     strerror(errno));
            goto failed;
        }

        data += n;
        len -= n;
    }

    if (fsync(fd) != 0) {
        snprintf(err, errlen, "%s: fsync failed: %s", name, strerror(errno));
        goto failed;
    }

    if (close(fd) != 0) {
        snprintf(err, errlen, "%s: close failed: %s", name, strerror(errno));
        unlink(path);
        return -1;
    }

    return 0;

failed:

    close(fd);
    unlink(path);

    return -1;
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

    name = recsys_basename(path);
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
        || (double) m->items > RECSYS_JSON_INT_MAX)
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

    rc = recsys_write_file(path, text, strlen(text), err, errlen);

    cJSON_free(text);
    cJSON_Delete(root);

    return rc;

nomem:

    snprintf(err, errlen, "%s: out of memory", name);
    cJSON_Delete(root);

    return -1;
}


static int
recsys_json_uint(cJSON *obj, const char *key, double max, uint64_t *out,
    const char *ctx, char *err, size_t errlen)
{
    cJSON   *v;
    double   d;

    v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (v == NULL) {
        snprintf(err, errlen, "%s: missing \"%s\"", ctx, key);
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

    v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (v == NULL) {
        snprintf(err, errlen, "%s: missing \"%s\"", ctx, key);
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
    ctx = recsys_basename(path);

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

    v = cJSON_GetObjectItemCaseSensitive(root, "build_seconds");

    if (v == NULL) {
        snprintf(err, errlen, "%s: missing \"build_seconds\"", ctx);
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

    v = cJSON_GetObjectItemCaseSensitive(root, "files");

    if (v == NULL) {
        snprintf(err, errlen, "%s: missing \"files\"", ctx);
        goto done;
    }

    rc = recsys_manifest_files(v, m, ctx, err, errlen);

done:

    cJSON_Delete(root);

    return rc;
}


/* a generation */


static int
recsys_map_file(const char *path, const void **base, size_t *size,
    char *err, size_t errlen)
{
    int           fd;
    void         *p;
    struct stat   st;
    const char   *name;

    name = recsys_basename(path);
    *base = NULL;
    *size = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, errlen, "%s: open failed: %s", name, strerror(errno));
        return -1;
    }

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", name);
        close(fd);
        return -1;
    }

    if (st.st_size == 0) {
        close(fd);
        return 0;
    }

    p = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);

    if (p == MAP_FAILED) {
        snprintf(err, errlen, "%s: mmap failed: %s", name, strerror(errno));
        return -1;
    }

    *base = p;
    *size = st.st_size;

    return 0;
}


static const recsys_file_sum_t *
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


/* checks size and checksum of one file; keeps the vectors mapping */

static int
recsys_generation_check_file(recsys_generation_t *g,
    const recsys_file_sum_t *fs, char *err, size_t errlen)
{
    char          path[RECSYS_PATH_MAX];
    size_t        size;
    uint64_t      sum;
    struct stat   st;
    const void   *base;

    if (recsys_join(path, sizeof(path), g->dir, fs->name) != 0) {
        snprintf(err, errlen, "%s: path too long", fs->name);
        return -1;
    }

    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: stat failed: %s", fs->name,
                 strerror(errno));
        return -1;
    }

    if ((uint64_t) st.st_size != fs->size) {
        snprintf(err, errlen, "%s: size %llu does not match manifest %llu",
                 fs->name, (unsigned long long) st.st_size,
                 (unsigned long long) fs->size);
        return -1;
    }

    if (recsys_map_file(path, &base, &size, err, errlen) != 0) {
        return -1;
    }

    if (size != fs->size) {
        snprintf(err, errlen, "%s: size %llu does not match manifest %llu",
                 fs->name, (unsigned long long) size,
                 (unsigned long long) fs->size);
        goto failed;
    }

    sum = recsys_checksum(base, size);

    if (sum != fs->checksum) {
        snprintf(err, errlen, "%s: checksum %016llx does not match "
                 "manifest %016llx", fs->name, (unsigned long long) sum,
                 (unsigned long long) fs->checksum);
        goto failed;
    }

    if (strcmp(fs->name, RECSYS_VECTORS_FILE) == 0) {
        g->vectors = base;
        g->vectors_size = size;
        return 0;
    }

    if (strcmp(fs->name, RECSYS_NEIGHBORS_FILE) == 0) {
        g->neighbors.base = base;
        g->neighbors.size = size;
        return 0;
    }

    if (base != NULL) {
        munmap((void *) base, size);
    }

    return 0;

failed:

    if (base != NULL) {
        munmap((void *) base, size);
    }

    return -1;
}


static const char *
recsys_faiss_error(void)
{
    const char  *e;

    e = faiss_get_last_error();

    return e ? e : "unknown FAISS error";
}


static int
recsys_generation_index(recsys_generation_t *g, uint32_t nprobe, char *err,
    size_t errlen)
{
    int              metric;
    char             path[RECSYS_PATH_MAX];
    FaissIndex      *idx;
    FaissIndexIVF   *ivf;

    if (recsys_join(path, sizeof(path), g->dir, RECSYS_INDEX_FILE) != 0) {
        snprintf(err, errlen, "%s: path too long", RECSYS_INDEX_FILE);
        return -1;
    }

    idx = NULL;

    if (faiss_read_index_fname(path, RECSYS_FAISS_IO_FLAG_MMAP, &idx) != 0
        || idx == NULL)
    {
        snprintf(err, errlen, "%s: %s", RECSYS_INDEX_FILE,
                 recsys_faiss_error());
        return -1;
    }

    g->index = idx;

    if ((uint64_t) faiss_Index_ntotal(idx) != g->manifest.items) {
        snprintf(err, errlen, "%s: %lld vectors, manifest says %llu items",
                 RECSYS_INDEX_FILE, (long long) faiss_Index_ntotal(idx),
                 (unsigned long long) g->manifest.items);
        return -1;
    }

    if (faiss_Index_d(idx) < 0
        || (uint32_t) faiss_Index_d(idx) != g->manifest.dimension)
    {
        snprintf(err, errlen, "%s: dimension %d does not match manifest %u",
                 RECSYS_INDEX_FILE, faiss_Index_d(idx),
                 g->manifest.dimension);
        return -1;
    }

    /* cosine is an inner product over normalized vectors */
    metric = (g->manifest.metric == RECSYS_METRIC_L2)
             ? METRIC_L2 : METRIC_INNER_PRODUCT;

    if ((int) faiss_Index_metric_type(idx) != metric) {
        snprintf(err, errlen, "%s: FAISS metric type %d does not match "
                 "metric %s", RECSYS_INDEX_FILE,
                 (int) faiss_Index_metric_type(idx),
                 recsys_metric_name(g->manifest.metric));
        return -1;
    }

    ivf = faiss_IndexIVF_cast(idx);

    if (ivf != NULL && nprobe > 0) {
        faiss_IndexIVF_set_nprobe(ivf, nprobe);
    }

    return 0;
}


int
recsys_generation_open(recsys_generation_t *g, const char *dir,
    uint32_t expect_dim, int expect_metric, uint32_t nprobe, char *err,
    size_t errlen)
{
    char                path[RECSYS_PATH_MAX];
    recsys_manifest_t  *m;

    memset(g, 0, sizeof(recsys_generation_t));
    m = &g->manifest;

    if (strlen(dir) >= sizeof(g->dir)) {
        snprintf(err, errlen, "generation directory path too long");
        return -1;
    }

    strcpy(g->dir, dir);

    if (recsys_join(path, sizeof(path), dir, RECSYS_MANIFEST_FILE) != 0) {
        snprintf(err, errlen, "%s: path too long", RECSYS_MANIFEST_FILE);
        return -1;
    }

    if (recsys_manifest_read(path, m, err, errlen) != 0) {
        return -1;
    }

    if (expect_dim != 0 && m->dimension != expect_dim) {
        snprintf(err, errlen, "dimension %u does not match the configured %u",
                 m->dimension, expect_dim);
        return -1;
    }

    if (expect_metric != -1 && m->metric != expect_metric) {
        snprintf(err, errlen, "metric %s does not match the configured %s",
                 recsys_metric_name(m->metric),
                 recsys_metric_name(expect_metric)
                 ? recsys_metric_name(expect_metric) : "(unknown)");
        return -1;
    }

    return recsys_generation_map(g, nprobe, err, errlen);
}


int
recsys_generation_map(recsys_generation_t *g, uint32_t nprobe, char *err,
    size_t errlen)
{
    int                       i;
    char                      path[RECSYS_PATH_MAX];
    uint64_t                  need;
    recsys_manifest_t        *m;
    const recsys_file_sum_t  *fs;
    static const char        *required[3] = {
        RECSYS_ITEMS_FILE, RECSYS_VECTORS_FILE, RECSYS_INDEX_FILE
    };

    m = &g->manifest;

    for (i = 0; i < 3; i++) {
        if (recsys_manifest_file(m, required[i]) == NULL) {
            snprintf(err, errlen, "%s: \"files\" has no \"%s\"",
                     RECSYS_MANIFEST_FILE, required[i]);
            return -1;
        }
    }

    for (i = 0; i < (int) m->nfiles; i++) {
        fs = &m->files[i];

        if (recsys_generation_check_file(g, fs, err, errlen) != 0) {
            goto failed;
        }
    }

    if (recsys_join(path, sizeof(path), g->dir, RECSYS_ITEMS_FILE) != 0) {
        snprintf(err, errlen, "%s: path too long", RECSYS_ITEMS_FILE);
        goto failed;
    }

    if (recsys_items_open(&g->items, path, err, errlen) != 0) {
        goto failed;
    }

    if (g->items.count != m->items) {
        snprintf(err, errlen, "%s: %llu items, manifest says %llu",
                 RECSYS_ITEMS_FILE, (unsigned long long) g->items.count,
                 (unsigned long long) m->items);
        goto failed;
    }

    if (g->items.dimension != m->dimension) {
        snprintf(err, errlen, "%s: dimension %u does not match manifest %u",
                 RECSYS_ITEMS_FILE, g->items.dimension, m->dimension);
        goto failed;
    }

    need = m->items * m->dimension * sizeof(float);

    if (g->vectors_size != need) {
        snprintf(err, errlen, "%s: size %llu, expected %llu "
                 "(%llu items x %u dimensions x 4)", RECSYS_VECTORS_FILE,
                 (unsigned long long) g->vectors_size,
                 (unsigned long long) need, (unsigned long long) m->items,
                 m->dimension);
        goto failed;
    }

    if (recsys_generation_index(g, nprobe, err, errlen) != 0) {
        goto failed;
    }

    if (g->neighbors.base != NULL
        && recsys_generation_neighbors(g, err, errlen) != 0)
    {
        goto failed;
    }

    return 0;

failed:

    recsys_generation_close(g);

    return -1;
}


uint32_t
recsys_generation_nprobe(const recsys_generation_t *g)
{
    size_t          nprobe, nlist;
    FaissIndexIVF  *ivf;

    ivf = faiss_IndexIVF_cast(g->index);
    if (ivf == NULL) {
        return 0;
    }

    /* as recsys_search.c clamps it */
    nprobe = faiss_IndexIVF_nprobe(ivf);
    nlist = faiss_IndexIVF_nlist(ivf);

    if (nprobe > nlist) {
        nprobe = nlist;
    }

    return nprobe ? (uint32_t) nprobe : 1;
}


int
recsys_neighbors_write(const char *path, uint32_t m, uint32_t nprobe,
    uint64_t count, int metric, const int32_t *rows, const float *scores,
    char *err, size_t errlen)
{
    int        rc;
    char      *buf;
    size_t     part;
    uint32_t   h[RECSYS_NEIGHBORS_HEADER / 4];

    part = (size_t) count * m * 4;

    buf = malloc(RECSYS_NEIGHBORS_HEADER + 2 * part);
    if (buf == NULL) {
        snprintf(err, errlen, "%s: out of memory", RECSYS_NEIGHBORS_FILE);
        return -1;
    }

    memset(h, 0, sizeof(h));
    h[0] = RECSYS_NEIGHBORS_MAGIC;
    h[1] = RECSYS_NEIGHBORS_VERSION;
    h[2] = m;
    h[3] = nprobe;
    memcpy(&h[4], &count, sizeof(uint64_t));
    h[6] = (uint32_t) metric;

    memcpy(buf, h, sizeof(h));
    memcpy(buf + RECSYS_NEIGHBORS_HEADER, rows, part);
    memcpy(buf + RECSYS_NEIGHBORS_HEADER + part, scores, part);

    rc = recsys_write_file(path, buf, RECSYS_NEIGHBORS_HEADER + 2 * part,
                           err, errlen);

    free(buf);

    return rc;
}


/*
 * Validates the mapped neighbors.bin.  Lists computed at another nprobe
 * than the one served would not match a live search: they are unmapped
 * and the generation serves without them.
 */

static int
recsys_generation_neighbors(recsys_generation_t *g, char *err,
    size_t errlen)
{
    uint32_t             h[RECSYS_NEIGHBORS_HEADER / 4];
    uint64_t             count, need;
    recsys_neighbors_t  *nb;

    nb = &g->neighbors;

    if (nb->size < RECSYS_NEIGHBORS_HEADER) {
        snprintf(err, errlen, "%s: truncated header", RECSYS_NEIGHBORS_FILE);
        return -1;
    }

    memcpy(h, nb->base, sizeof(h));
    memcpy(&count, &h[4], sizeof(uint64_t));

    if (h[0] != RECSYS_NEIGHBORS_MAGIC || h[1] != RECSYS_NEIGHBORS_VERSION) {
        snprintf(err, errlen, "%s: bad magic or version",
                 RECSYS_NEIGHBORS_FILE);
        return -1;
    }

    if (h[2] == 0 || h[2] > RECSYS_NEIGHBORS_MAX
        || count != g->items.count || h[6] != (uint32_t) g->manifest.metric)
    {
        snprintf(err, errlen, "%s: %u neighbors of %llu rows, metric %u, "
                 "do not match the generation", RECSYS_NEIGHBORS_FILE, h[2],
                 (unsigned long long) count, h[6]);
        return -1;
    }

    need = RECSYS_NEIGHBORS_HEADER + count * h[2] * 8;

    if (nb->size != need) {
        snprintf(err, errlen, "%s: size %llu, expected %llu",
                 RECSYS_NEIGHBORS_FILE, (unsigned long long) nb->size,
                 (unsigned long long) need);
        return -1;
    }

    if (h[3] != recsys_generation_nprobe(g)) {
        munmap((void *) nb->base, nb->size);
        memset(nb, 0, sizeof(recsys_neighbors_t));
        return 0;
    }

    nb->m = h[2];
    nb->nprobe = h[3];
    nb->count = count;
    nb->rows = (const int32_t *) (nb->base + RECSYS_NEIGHBORS_HEADER);
    nb->scores = (const float *) (nb->base + RECSYS_NEIGHBORS_HEADER
                                  + count * h[2] * 4);

    return 0;
}


void
recsys_generation_close(recsys_generation_t *g)
{
    if (g->index != NULL) {
        faiss_Index_free(g->index);
        g->index = NULL;
    }

    recsys_items_close(&g->items);

    if (g->vectors != NULL) {
        munmap((void *) g->vectors, g->vectors_size);
    }

    g->vectors = NULL;
    g->vectors_size = 0;

    if (g->neighbors.base != NULL) {
        munmap((void *) g->neighbors.base, g->neighbors.size);
    }

    memset(&g->neighbors, 0, sizeof(recsys_neighbors_t));
}


/* the index directory layout */


static int
recsys_parse_uint(const char *s, size_t len, uint64_t *out)
{
    size_t    i;
    uint64_t  v;

    if (len == 0 || len > 20) {
        return -1;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        if (v > (UINT64_MAX - (s[i] - '0')) / 10) {
            return -1;
        }

        v = v * 10 + (s[i] - '0');
    }

    *out = v;

    return 0;
}


int
recsys_current_dir(const char *index_dir, char *out, size_t outlen,
    char *err, size_t errlen)
{
    char      link[RECSYS_PATH_MAX], target[RECSYS_PATH_MAX];
    size_t    plen;
    ssize_t   n;
    uint64_t  g;

    if (recsys_join(link, sizeof(link), index_dir, RECSYS_CURRENT_LINK)
        != 0)
    {
        snprintf(err, errlen, "index directory path too long");
        return -1;
    }

    n = readlink(link, target, sizeof(target) - 1);

    if (n < 0) {
        snprintf(err, errlen, "no current generation: readlink \"%s\" "
                 "failed: %s", link, strerror(errno));
        return -1;
    }

    target[n] = '\0';
    plen = sizeof(RECSYS_GENERATIONS_DIR "/") - 1;

    if ((size_t) n <= plen
        || memcmp(target, RECSYS_GENERATIONS_DIR "/", plen) != 0
        || recsys_parse_uint(target + plen, n - plen, &g) != 0)
    {
        snprintf(err, errlen, "\"%s\" points to \"%s\", not to "
                 "\"" RECSYS_GENERATIONS_DIR "/<number>\"", link, target);
        return -1;
    }

    if (recsys_join(out, outlen, index_dir, target) != 0) {
        snprintf(err, errlen, "current generation path too long");
        return -1;
    }

    return 0;
}


int
recsys_fsync_path(const char *path, char *err, size_t errlen)
{
    int  fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, errlen, "%s: open failed: %s", path, strerror(errno));
        return -1;
    }

    if (fsync(fd) != 0) {
        snprintf(err, errlen, "%s: fsync failed: %s", path, strerror(errno));
        close(fd);
        return -1;
    }

    close(fd);

    return 0;
}


static int
recsys_mkdir(const char *path, char *err, size_t errlen)
{
    struct stat  st;

    if (mkdir(path, 0755) == 0) {
        return 0;
    }

    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        return 0;
    }

    snprintf(err, errlen, "%s: mkdir failed: %s", path, strerror(errno));

    return -1;
}


static int
recsys_remove_tree(const char *path)
{
    int             rc;
    DIR            *d;
    char            sub[RECSYS_PATH_MAX];
    struct stat     st;
    struct dirent  *de;

    if (lstat(path, &st) != 0) {
        return -1;
    }

    if (!S_ISDIR(st.st_mode)) {
        return unlink(path);
    }

    d = opendir(path);
    if (d == NULL) {
        return -1;
    }

    rc = 0;

    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }

        if (recsys_join(sub, sizeof(sub), path, de->d_name) != 0
            || recsys_remove_tree(sub) != 0)
        {
            rc = -1;
        }
    }

    closedir(d);

    if (rmdir(path) != 0) {
        rc = -1;
    }

    return rc;
}


static int
recsys_cmp_u64_desc(const void *a, const void *b)
{
    uint64_t  x, y;

    x = *(const uint64_t *) a;
    y = *(const uint64_t *) b;

    return (x < y) - (x > y);
}


/*
 * The generation a rollback from current goes to: the one current was
 * built over (its manifest's "previous"), when it still exists, else the
 * newest older one.  gens is sorted newest first.
 */

static uint64_t
recsys_rollback_target(const char *gens_dir, uint64_t current,
    const uint64_t *gens, size_t n)
{
    char               path[RECSYS_PATH_MAX], err[RECSYS_ERRLEN];
    size_t             i;
    recsys_manifest_t  m;

    snprintf(path, sizeof(path), "%s/%llu/%s", gens_dir,
             (unsigned long long) current, RECSYS_MANIFEST_FILE);

    if (recsys_manifest_read(path, &m, err, sizeof(err)) == 0
        && m.previous != 0 && m.previous != current)
    {
        for (i = 0; i < n; i++) {
            if (gens[i] == m.previous) {
                return m.previous;
            }
        }
    }

    for (i = 0; i < n; i++) {
        if (gens[i] < current) {
            return gens[i];
        }
    }

    return 0;
}


int
recsys_rollback_candidates(const char *index_dir, uint64_t current,
    uint64_t *out, size_t max)
{
    DIR            *d;
    char            gens_dir[RECSYS_PATH_MAX];
    size_t          n, nalloc, i, k;
    uint64_t        g, first, *gens, *p;
    struct dirent  *de;

    if (recsys_join(gens_dir, sizeof(gens_dir), index_dir,
                    RECSYS_GENERATIONS_DIR) != 0)
    {
        return -1;
    }

    d = opendir(gens_dir);
    if (d == NULL) {
        return -1;
    }

    gens = NULL;
    n = 0;
    nalloc = 0;

    while ((de = readdir(d)) != NULL) {
        if (recsys_parse_uint(de->d_name, strlen(de->d_name), &g) != 0) {
            continue;
        }

        if (n == nalloc) {
            nalloc = nalloc ? nalloc * 2 : 16;
            p = realloc(gens, nalloc * sizeof(uint64_t));
            if (p == NULL) {
                free(gens);
                closedir(d);
                return -1;
            }

            gens = p;
        }

        gens[n++] = g;
    }

    closedir(d);

    qsort(gens, n, sizeof(uint64_t), recsys_cmp_u64_desc);

    /* the preferred target first, then every older one, newest first */
    first = recsys_rollback_target(gens_dir, current, gens, n);
    k = 0;

    if (first != 0 && k < max) {
        out[k++] = first;
    }

    for (i = 0; i < n && k < max; i++) {
        if (gens[i] < current && gens[i] != first) {
            out[k++] = gens[i];
        }
    }

    free(gens);

    return (int) k;
}


/* best effort: the new generation is already published */

static void
recsys_prune(const char *gens_dir, uint64_t current, uint32_t keep)
{
    int             len;
    DIR            *d;
    char            path[RECSYS_PATH_MAX];
    size_t          n, nalloc, i;
    uint64_t        g, *gens, *p, rollback;
    struct dirent  *de;

    d = opendir(gens_dir);
    if (d == NULL) {
        return;
    }

    gens = NULL;
    n = 0;
    nalloc = 0;

    while ((de = readdir(d)) != NULL) {
        if (recsys_parse_uint(de->d_name, strlen(de->d_name), &g) != 0) {
            continue;
        }

        if (n == nalloc) {
            nalloc = nalloc ? nalloc * 2 : 16;
            p = realloc(gens, nalloc * sizeof(uint64_t));
            if (p == NULL) {
                goto done;
            }

            gens = p;
        }

        gens[n++] = g;
    }

    qsort(gens, n, sizeof(uint64_t), recsys_cmp_u64_desc);

    /* the current one and the one a rollback would choose always stay */
    rollback = recsys_rollback_target(gens_dir, current, gens, n);

    for (i = keep; i < n; i++) {
        if (gens[i] == current || gens[i] == rollback) {
            continue;
        }

        len = snprintf(path, sizeof(path), "%s/%llu", gens_dir,
                       (unsigned long long) gens[i]);

        if (len > 0 && (size_t) len < sizeof(path)) {
            (void) recsys_remove_tree(path);
        }
    }

done:

    free(gens);
    closedir(d);
}


/* fsyncs every regular file in dir, then dir itself */

static int
recsys_fsync_dir(const char *dir, char *err, size_t errlen)
{
    DIR            *d;
    char            path[RECSYS_PATH_MAX];
    struct stat     st;
    struct dirent  *de;

    d = opendir(dir);
    if (d == NULL) {
        snprintf(err, errlen, "%s: opendir failed: %s", dir,
                 strerror(errno));
        return -1;
    }

    while ((de = readdir(d)) != NULL) {
        if (recsys_join(path, sizeof(path), dir, de->d_name) != 0) {
            snprintf(err, errlen, "%s: path too long", dir);
            closedir(d);
            return -1;
        }

        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }

        if (recsys_fsync_path(path, err, errlen) != 0) {
            closedir(d);
            return -1;
        }
    }

    closedir(d);

    return recsys_fsync_path(dir, err, errlen);
}


int
recsys_publish(const char *index_dir, const char *tmp_dir,
    uint64_t generation, uint32_t keep, char *err, size_t errlen)
{
    char         gens[RECSYS_PATH_MAX], dst[RECSYS_PATH_MAX];
    char         target[64];
    struct stat  st;

    /* every file of the generation reaches the disk before it is named */
    if (recsys_fsync_dir(tmp_dir, err, errlen) != 0) {
        return -1;
    }

    if (recsys_join(gens, sizeof(gens), index_dir, RECSYS_GENERATIONS_DIR)
        != 0)
    {
        snprintf(err, errlen, "index directory path too long");
        return -1;
    }

    if (recsys_mkdir(index_dir, err, errlen) != 0
        || recsys_mkdir(gens, err, errlen) != 0)
    {
        return -1;
    }

    snprintf(target, sizeof(target), RECSYS_GENERATIONS_DIR "/%llu",
             (unsigned long long) generation);

    if (recsys_join(dst, sizeof(dst), index_dir, target) != 0) {
        snprintf(err, errlen, "index directory path too long");
        return -1;
    }

    /* rename(2) would silently replace an empty directory */
    if (lstat(dst, &st) == 0) {
        snprintf(err, errlen, "generation %llu already exists",
                 (unsigned long long) generation);
        return -1;
    }

    if (rename(tmp_dir, dst) != 0) {
        snprintf(err, errlen, "rename \"%s\" to \"%s\" failed: %s", tmp_dir,
                 dst, strerror(errno));
        return -1;
    }

    if (recsys_fsync_path(gens, err, errlen) != 0) {
        return -1;
    }

    if (recsys_set_current(index_dir, generation, err, errlen) != 0) {
        return -1;
    }

    recsys_prune(gens, generation, keep ? keep : 1);

    return 0;
}


int
recsys_set_current(const char *index_dir, uint64_t generation, char *err,
    size_t errlen)
{
    char  path[RECSYS_PATH_MAX], dst[RECSYS_PATH_MAX], target[64];

    snprintf(target, sizeof(target), RECSYS_GENERATIONS_DIR "/%llu",
             (unsigned long long) generation);

    if (snprintf(path, sizeof(path), "%s/.current.tmp.%ld", index_dir,
                 (long) getpid())
        >= (int) sizeof(path))
    {
        snprintf(err, errlen, "index directory path too long");
        return -1;
    }

    (void) unlink(path);

    if (symlink(target, path) != 0) {
        snprintf(err, errlen, "symlink \"%s\" failed: %s", path,
                 strerror(errno));
        return -1;
    }

    if (recsys_join(dst, sizeof(dst), index_dir, RECSYS_CURRENT_LINK) != 0
        || rename(path, dst) != 0)
    {
        snprintf(err, errlen, "rename \"%s\" to \"%s\" failed: %s", path,
                 dst, strerror(errno));
        (void) unlink(path);
        return -1;
    }

    return recsys_fsync_path(index_dir, err, errlen);
}


uint64_t
recsys_last_generation(const char *index_dir)
{
    DIR            *d;
    char            gens[RECSYS_PATH_MAX];
    uint64_t        g, max;
    struct dirent  *de;

    if (recsys_join(gens, sizeof(gens), index_dir, RECSYS_GENERATIONS_DIR)
        != 0)
    {
        return 0;
    }

    d = opendir(gens);
    if (d == NULL) {
        return 0;
    }

    max = 0;

    while ((de = readdir(d)) != NULL) {
        if (recsys_parse_uint(de->d_name, strlen(de->d_name), &g) == 0
            && g > max)
        {
            max = g;
        }
    }

    closedir(d);

    return max;
}


/* a temp name's pid that is another live process: its build still runs */

static int
recsys_pid_alive(const char *s)
{
    long   pid;
    char  *end;

    errno = 0;
    pid = strtol(s, &end, 10);

    if (errno != 0 || end == s || pid <= 0 || pid == (long) getpid()
        || (pid_t) pid != pid)
    {
        return 0;
    }

    return kill((pid_t) pid, 0) == 0 || errno == EPERM;
}


void
recsys_cleanup_temp(const char *index_dir)
{
    DIR            *d;
    char            path[RECSYS_PATH_MAX];
    struct stat     st;
    struct dirent  *de;

    d = opendir(index_dir);
    if (d == NULL) {
        return;
    }

    while ((de = readdir(d)) != NULL) {
        if (recsys_join(path, sizeof(path), index_dir, de->d_name) != 0
            || lstat(path, &st) != 0)
        {
            continue;
        }

        if (strncmp(de->d_name, ".tmp-", 5) == 0 && S_ISDIR(st.st_mode)
            && !recsys_pid_alive(de->d_name + 5))
        {
            (void) recsys_remove_tree(path);

        } else if (strncmp(de->d_name, ".current.tmp.", 13) == 0
                   && S_ISLNK(st.st_mode)
                   && !recsys_pid_alive(de->d_name + 13))
        {
            (void) unlink(path);
        }
    }

    closedir(d);
}
