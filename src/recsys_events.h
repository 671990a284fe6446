/*
 * Events: the body of POST /v1/events checked and turned into JSON Lines,
 * the one line format of the spool and of the file store, and what reads
 * it back (the shipper, training).  Pure C (cJSON): no nginx header.
 *
 * A line, keys always in this order, ts in UTC whole seconds:
 *
 *   {"user":"u1","item":"sku-9","type":"click","ts":"2026-11-30T10:00:00Z",
 *    "weight":2}
 */

#ifndef _RECSYS_EVENTS_H_INCLUDED_
#define _RECSYS_EVENTS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "recsys_catalog.h"


#define RECSYS_EVENTS_OK          0
#define RECSYS_EVENTS_BAD         400   /* not JSON, not events' shape */
#define RECSYS_EVENTS_TOO_MANY    413   /* more than max_batch */
#define RECSYS_EVENTS_INVALID     422   /* an event that cannot be taken */
#define RECSYS_EVENTS_INTERNAL    500   /* out of memory */

/* bounds of a weight, the client's or a type's */
#define RECSYS_EVENTS_MAX_WEIGHT  1e6

/* the longest line for ids of max_id_length bytes (escapes included) */
#define RECSYS_EVENTS_LINE_MAX(idlen)  (2 * 6 * (size_t) (idlen) + 256)


typedef struct {
    char               *lines;          /* malloc'ed: n lines, len bytes */
    size_t              len;            /* 0 unless RECSYS_EVENTS_OK */
    uint32_t            n;              /* the request's events, also when
                                           refused; 0: not events at all */
    long                index;          /* the refused event, -1: none */
    char                code[32];       /* "unknown_type", ... */
    char                error[256];
} recsys_events_batch_t;


/* one event, as a line says it; strings are not NUL-terminated */
typedef struct {
    const char         *user;
    size_t              user_len;
    const char         *item;
    size_t              item_len;
    const char         *type;
    size_t              type_len;
    int64_t             ts;
    double              weight;
} recsys_events_row_t;


/* called for each event read; non-zero stops the reading */
typedef int (*recsys_events_cb_pt)(void *data, const recsys_events_row_t *e);


/*
 * Checks a request body, one event object or {"events": [...]}, against
 * the catalog's events section and writes the lines of all its events
 * into b->lines, or none: RECSYS_EVENTS_OK, or an HTTP status with
 * b->code, b->error and b->index (the first refused event) set.  ts
 * defaults to now, weight to the type's.  Call recsys_events_batch_free()
 * in every case.
 */
int recsys_events_parse(recsys_events_batch_t *b,
    const recsys_events_conf_t *conf, const char *body, size_t len,
    int64_t now);
void recsys_events_batch_free(recsys_events_batch_t *b);

/*
 * Reads one line (without its '\n') into e, whose strings point into
 * *tree until the next call or recsys_events_line_free(*tree).  0, or -1
 * when it is not an event line (user, item and type strings, ts an
 * ISO 8601 string or seconds, weight a finite number, 1 when absent).
 */
int recsys_events_line(const char *line, size_t len, recsys_events_row_t *e,
    void **tree);
void recsys_events_line_free(void *tree);

/*
 * Reads the JSON Lines file at path up to its last complete line and
 * calls cb for each event; lines that are not events are skipped and
 * counted in *bad (may be NULL).  0, 1 when cb stopped it, or -1 with err
 * set (cannot read the file; a missing file is 0 events).
 */
int recsys_events_read(const char *path, recsys_events_cb_pt cb, void *data,
    uint64_t *bad, char *err, size_t errlen);

/*
 * The event as a row of PostgreSQL's COPY text format (user, item, type,
 * ts, weight, tab separated, '\n' ended): the most bytes it takes, and
 * the writer, which returns the end of its output.
 */
size_t recsys_events_copy_len(const recsys_events_row_t *e);
char *recsys_events_copy_row(char *dst, const recsys_events_row_t *e);


#endif /* _RECSYS_EVENTS_H_INCLUDED_ */
