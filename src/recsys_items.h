/*
 * items.bin reader: item ids, metadata, popularity lists and categories
 * of a generation, mapped read-only.
 */

#ifndef _RECSYS_ITEMS_H_INCLUDED_
#define _RECSYS_ITEMS_H_INCLUDED_


#include "recsys_artifact.h"
#include "recsys_idtable.h"


/* one item as the writer takes it and the reader returns it */
typedef struct {
    const char         *id;
    size_t              id_len;
    const char         *title;          /* NULL when absent */
    size_t              title_len;
    const char         *category;       /* NULL when absent */
    size_t              category_len;
    const char         *attributes;     /* raw JSON object text, or NULL */
    size_t              attributes_len;
    float               popularity;
    uint32_t            category_no;    /* reader only; RECSYS_NO_CATEGORY */
} recsys_item_t;


/* items.bin mapped read-only; fields are read by the search code */
typedef struct {
    const uint8_t      *base;
    size_t              size;
    uint64_t            count;
    uint32_t            dimension;
    uint32_t            ncategories;
    const void         *records;
    const char         *strings;
    uint64_t            strings_size;
    const uint32_t     *hash;           /* slots: row + 1, 0 = empty */
    uint64_t            hash_mask;
    const uint32_t     *popular;        /* rows, popularity desc, id asc */
    const void         *categories;
    const uint32_t     *catrows;        /* rows grouped by category */
    uint32_t            ncatrows;
} recsys_items_t;


/*
 * open checks the header, that every section fits the file and the
 * category table, in O(categories); recsys_items_verify() checks every
 * record, hash slot and row list, in O(items).  A worker opens; what it
 * opens was verified by the builder before it was published.
 */
int recsys_items_open(recsys_items_t *items, const char *path,
    char *err, size_t errlen);
int recsys_items_verify(const recsys_items_t *items, char *err,
    size_t errlen);
void recsys_items_close(recsys_items_t *items);
int64_t recsys_items_find(const recsys_items_t *items, const char *id,
    size_t len);
void recsys_items_get(const recsys_items_t *items, uint32_t row,
    recsys_item_t *out);
void recsys_items_prefetch(const recsys_items_t *items, uint32_t row,
    int strings);
int64_t recsys_items_category_find(const recsys_items_t *items,
    const char *name, size_t len);
const uint32_t *recsys_items_category_rows(const recsys_items_t *items,
    uint32_t category_no, uint32_t *n);


#endif /* _RECSYS_ITEMS_H_INCLUDED_ */
