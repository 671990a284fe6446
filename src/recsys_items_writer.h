/*
 * items.bin writer: the builder adds every item, then writes the file
 * with its id hash table, popularity lists and categories.
 */

#ifndef _RECSYS_ITEMS_WRITER_H_INCLUDED_
#define _RECSYS_ITEMS_WRITER_H_INCLUDED_


#include "recsys_items.h"


typedef struct recsys_items_writer_s  recsys_items_writer_t;


/* add all items, then write; duplicate ids fail add */
recsys_items_writer_t *recsys_items_writer_create(uint32_t dimension);
int recsys_items_writer_add(recsys_items_writer_t *w, const recsys_item_t *it,
    char *err, size_t errlen);
uint64_t recsys_items_writer_count(const recsys_items_writer_t *w);

/* what the model trainer needs of the items added: rows are add order */
int64_t recsys_items_writer_find(const recsys_items_writer_t *w,
    const char *id, size_t len);
const char *recsys_items_writer_id(const recsys_items_writer_t *w,
    uint32_t row, size_t *len);
float recsys_items_writer_popularity(const recsys_items_writer_t *w,
    uint32_t row);
void recsys_items_writer_set_popularity(recsys_items_writer_t *w,
    uint32_t row, float popularity);
int recsys_items_writer_write(recsys_items_writer_t *w, const char *path,
    char *err, size_t errlen);
void recsys_items_writer_destroy(recsys_items_writer_t *w);


#endif /* _RECSYS_ITEMS_WRITER_H_INCLUDED_ */
