/*
 * The PostgreSQL source: reads a catalog's rows through libpq with a
 * server-side cursor fetched in batches as binary results, and hands
 * them one by one to a callback.  Pure C: no nginx header.
 */

#ifndef _RECSYS_SOURCE_PG_H_INCLUDED_
#define _RECSYS_SOURCE_PG_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "recsys_catalog.h"
#include "recsys_pg_dsn.h"


#define RECSYS_PG_WATERMARK_LEN    64

/* an incremental read also takes rows up to this before the watermark */
#define RECSYS_PG_OVERLAP          "1 minute"


typedef struct {
    const char         *data;
    size_t              len;
} recsys_pg_text_t;


/* one row; pointers are valid during the callback only */
typedef struct {
    const char         *id;
    size_t              id_len;
    const char         *title;          /* NULL when absent or NULL */
    size_t              title_len;
    const char         *category;       /* NULL when absent or NULL */
    size_t              category_len;
    const char         *attributes;     /* JSON object text, or NULL */
    size_t              attributes_len;
    float               popularity;
    const float        *vector;         /* dimension floats; NULL: deleted */
    int                 deleted;
    const recsys_pg_text_t *seen;       /* users: the "seen" item ids */
    size_t              nseen;
} recsys_pg_row_t;


typedef int (*recsys_pg_row_pt)(void *data, const recsys_pg_row_t *row,
    char *err, size_t errlen);


typedef struct {
    /* in */
    const recsys_source_conf_t *conf;
    uint32_t            dimension;
    int                 users;          /* a "users:" source: id,
                                           embedding, seen, updated_at,
                                           deleted; items: no "seen" */
    const char         *since;          /* NULL: every live row; else rows
                                           changed after this watermark,
                                           deleted ones included */
    volatile int       *cancel;
    recsys_pg_row_pt    row;
    void               *data;

    /* out */
    int                 contacted;      /* the server answered */
    int                 has_updated_at; /* incremental reads are possible */
    int                 has_deleted;
    uint64_t            rows;           /* rows handed to the callback */
    uint64_t            live;           /* with since: live rows in all */
    double              seconds;
    char                watermark[RECSYS_PG_WATERMARK_LEN]; /* "" if none */
} recsys_pg_read_t;


/*
 * Reads the source described by r->conf.  Returns 0, or -1 with err set:
 * it names the row id for bad rows and never contains the password.
 * r->watermark is max(updated_at) of the rows read (or r->since when no
 * row changed) as "YYYY-MM-DD HH:MM:SS.ffffff+00".
 */
int recsys_pg_read(recsys_pg_read_t *r, char *err, size_t errlen);


/* one event of a postgresql events store; valid during the callback */
typedef struct {
    const char         *user;           /* NULL when NULL */
    size_t              user_len;
    const char         *item;
    size_t              item_len;
    const char         *type;
    size_t              type_len;
    int64_t             ts;             /* Unix seconds */
    int                 has_ts;
    double              weight;
    int                 has_weight;
} recsys_pg_event_t;


typedef int (*recsys_pg_event_pt)(void *data, const recsys_pg_event_t *ev,
    char *err, size_t errlen);


typedef struct {
    /* in */
    const recsys_events_store_conf_t *conf;
    uint32_t            batch;          /* rows per FETCH; 0: 10000 */
    volatile int       *cancel;
    recsys_pg_event_pt  event;
    void               *data;

    /* out */
    uint64_t            rows;
    double              seconds;
} recsys_pg_events_t;


/*
 * Reads an events store for training, through the same connection,
 * snapshot (REPEATABLE READ, READ ONLY) and binary cursor as the items:
 * "SELECT user_id, item_id, type, ts, weight" from the store's table in
 * the order of its id, or from the application's query as it orders
 * them.  Returns 0, or -1 with err set (never the password).
 */
int recsys_pg_read_events(recsys_pg_events_t *e, char *err, size_t errlen);


#endif /* _RECSYS_SOURCE_PG_H_INCLUDED_ */
