/*
 * A catalog's "users:" source read into a users.bin writer: a JSON Lines
 * file ({"id": ..., "vector": [...], "seen": [item ids]}) or a
 * PostgreSQL table or query (id, embedding, seen, updated_at, deleted),
 * read in full or, from the served generation's users, incrementally.
 * Pure C: no nginx header.
 */

#ifndef _RECSYS_USERS_SOURCE_H_INCLUDED_
#define _RECSYS_USERS_SOURCE_H_INCLUDED_


#include "recsys_catalog.h"
#include "recsys_items.h"
#include "recsys_source_pg.h"
#include "recsys_users.h"
#include "recsys_users_writer.h"


/* the new generation's row of an item id, or -1 */
typedef int64_t (*recsys_users_item_pt)(const void *data, const char *id,
    size_t len);


typedef struct {
    /* in */
    const recsys_source_conf_t *conf;   /* the catalog's "users:" */
    uint32_t            dimension;
    int                 metric;         /* cosine: zero vectors refused */
    uint32_t            items;          /* the new generation's items */
    recsys_users_item_pt item;
    const void         *item_data;
    const recsys_users_t *prev;         /* the served users, or NULL */
    const recsys_items_t *prev_items;   /* the items prev's seen rows index */
    const char         *since;          /* prev's users_watermark: an
                                           incremental read; NULL: full */
    volatile int       *cancel;

    /* out */
    recsys_users_writer_t *writer;      /* every user; the caller
                                           destroys it, also on error */
    int                 full;           /* 0: prev plus the changed rows */
    int                 contacted;      /* postgresql: the server answered */
    uint64_t            modified;       /* users added, changed or gone
                                           since prev (all: no prev) */
    uint64_t            unknown;        /* seen ids not in the catalog,
                                           skipped */
    double              seconds;
    char                watermark[RECSYS_PG_WATERMARK_LEN]; /* "" if none */
} recsys_users_read_t;


/*
 * Reads r->conf into a new r->writer.  With r->since, only the rows
 * changed after it are read and the other users are copied from r->prev
 * (their seen rows mapped through the item ids), unless the source's
 * live count says rows went missing (a DELETE instead of the deleted
 * flag): then every row is read again, r->full says so.  Returns 0, or
 * -1 with err naming the file and line or the row id.
 */
int recsys_users_read(recsys_users_read_t *r, char *err, size_t errlen);


#endif /* _RECSYS_USERS_SOURCE_H_INCLUDED_ */
