/*
 * items.bin reader.  Opening validates the header, every section bound,
 * every string offset and every row number, so that a damaged file is
 * refused instead of read out of bounds.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recsys_files.h"
#include "recsys_items_format.h"
#include "recsys_items.h"


static int recsys_items_validate(recsys_items_t *items,
    const recsys_items_header_t *h, const char *name, char *err,
    size_t errlen);
static int recsys_items_check_categories(recsys_items_t *items,
    const char *name, char *err, size_t errlen);
static int recsys_items_check_rows(const recsys_items_t *items,
    const char *name, char *err, size_t errlen);
static int recsys_str_valid(const recsys_items_t *items, uint64_t off,
    uint32_t len);
static const char *recsys_items_id_at(const void *data, uint32_t row,
    size_t *len);


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
    name = recsys_path_base(path);

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
    items->ncatrows = h->ncatrows;

    return recsys_items_check_categories(items, name, err, errlen);
}


/* the category table: O(categories), done on every open */

static int
recsys_items_check_categories(recsys_items_t *items, const char *name,
    char *err, size_t errlen)
{
    uint32_t                      c;
    const recsys_category_rec_t  *cat;

    cat = items->categories;

    for (c = 0; c < items->ncategories; c++, cat++) {
        if (!recsys_str_valid(items, cat->name_off, cat->name_len)
            || cat->start > items->ncatrows
            || cat->nrows > items->ncatrows - cat->start)
        {
            snprintf(err, errlen, "%s: category %u: out of range", name,
                     c);
            return -1;
        }
    }

    return 0;
}


int
recsys_items_verify(const recsys_items_t *items, char *err, size_t errlen)
{
    return recsys_items_check_rows(items, RECSYS_ITEMS_FILE, err, errlen);
}


/*
 * Every string reference inside the pool, every row index < count:
 * O(items), done by recsys_items_verify(), where a generation is built.
 */

static int
recsys_items_check_rows(const recsys_items_t *items, const char *name,
    char *err, size_t errlen)
{
    int                       i;
    uint64_t                  r;
    const recsys_item_rec_t  *rec;

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

    for (r = 0; r < items->ncatrows; r++) {
        if (items->catrows[r] >= items->count) {
            snprintf(err, errlen, "%s: catrows %llu: row out of range",
                     name, (unsigned long long) r);
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
    if (len == 0) {
        return -1;
    }

    return recsys_id_table_find(items->hash, items->hash_mask, items->count,
                                id, len, recsys_items_id_at, items);
}


static const char *
recsys_items_id_at(const void *data, uint32_t row, size_t *len)
{
    const recsys_items_t     *items;
    const recsys_item_rec_t  *rec;

    items = data;
    rec = (const recsys_item_rec_t *) items->records + row;
    *len = rec->len[RECSYS_STR_ID];

    return items->strings + rec->off[RECSYS_STR_ID];
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


/*
 * A row's record, or (once the record is read) its strings, on their way
 * to the caches: called for every row of an answer before it is written,
 * the rows' cache and TLB misses overlap instead of coming one by one.
 */

void
recsys_items_prefetch(const recsys_items_t *items, uint32_t row,
    int strings)
{
    int                       i;
    const recsys_item_rec_t  *rec;

    if (row >= items->count) {
        return;
    }

    rec = (const recsys_item_rec_t *) items->records + row;

    if (!strings) {
        __builtin_prefetch(rec);
        return;
    }

    for (i = 0; i < RECSYS_NSTR; i++) {
        if (rec->len[i] != RECSYS_STR_ABSENT) {
            __builtin_prefetch(items->strings + rec->off[i]);
        }
    }
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

        rc = recsys_items_bytes_cmp(items->strings + cats[mid].name_off,
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
