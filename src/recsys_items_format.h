/*
 * items.bin on disk, shared by its writer and its reader only.
 *
 * Little-endian, every section 8-byte aligned:
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

#ifndef _RECSYS_ITEMS_FORMAT_H_INCLUDED_
#define _RECSYS_ITEMS_FORMAT_H_INCLUDED_


#include <string.h>

#include "recsys_artifact.h"


#define RECSYS_ITEMS_MAGIC         "RSITEMS"
#define RECSYS_ITEMS_VERSION       1
#define RECSYS_ITEMS_HEADER_SIZE   64
#define RECSYS_ITEMS_MAX           (1u << 30)

#define RECSYS_STR_ABSENT          0xffffffffu
#define RECSYS_STR_ID              0
#define RECSYS_STR_TITLE           1
#define RECSYS_STR_CATEGORY        2
#define RECSYS_STR_ATTRIBUTES      3
#define RECSYS_NSTR                4


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


/* byte order of ids and category names, as both sides sort them */

static inline int
recsys_items_bytes_cmp(const char *a, size_t alen, const char *b,
    size_t blen)
{
    int  rc;

    rc = memcmp(a, b, alen < blen ? alen : blen);

    if (rc != 0) {
        return rc;
    }

    return (alen > blen) - (alen < blen);
}


#endif /* _RECSYS_ITEMS_FORMAT_H_INCLUDED_ */
