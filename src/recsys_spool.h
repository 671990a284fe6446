/*
 * The events spool and its shipping.  Pure C (libpq): no nginx header.
 *
 * Each nginx worker appends to a segment of its own in the spool
 * directory (<index.path>/events), "open-<id>.jsonl", holding an flock
 * on it while it is open; <id> is the time in ms, the pid and a
 * sequence number, unique.  The worker seals a segment (fdatasync,
 * rename to "ready-<id>.jsonl", close) when it is old or large enough,
 * or when the worker exits.  A segment whose writer died is sealed by
 * the shipper: its flock is free.
 *
 * The shipper (the helper process) moves the events of ready segments,
 * oldest first, into the store, ship_batch lines a commit, and removes
 * a segment once all of it is committed.  Exactly once across a crash
 * at any point, because the segment's shipped offset is committed with
 * its data:
 *   postgresql: COPY into the table and the offset into <table>_shipped
 *               in one transaction;
 *   file:       append + fdatasync, then the state file (segment,
 *               offset, the store's committed size) by rename; bytes of
 *               the store past the committed size are cut on the next
 *               pass.
 */

#ifndef _RECSYS_SPOOL_H_INCLUDED_
#define _RECSYS_SPOOL_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "recsys_catalog.h"


#define RECSYS_SPOOL_DIR          "events"
#define RECSYS_SPOOL_LOCK         ".ship.lock"

/* a worker seals its segment when it reaches this size */
#define RECSYS_SPOOL_SEGMENT_MAX  (16 * 1024 * 1024)

#define RECSYS_SPOOL_ERRLEN       512


/* a worker's open segment */
typedef struct {
    int                 fd;             /* -1: none open */
    uint64_t            size;           /* bytes written to it */
    int64_t             opened_ms;
    int                 dirty;          /* written since the last sync */
    unsigned            seq;
    char                id[64];
} recsys_spool_writer_t;


/* what a shipping pass did, and what is left */
typedef struct {
    uint64_t            shipped;        /* events committed to the store */
    uint64_t            lost;           /* lines that will never be */
    uint64_t            segments;       /* segments done and removed */
    uint64_t            bytes;          /* spool bytes left */
    uint64_t            ready;          /* ready segments left */
} recsys_spool_stats_t;


/* called after each commit with the events it stored and dropped */
typedef void (*recsys_spool_commit_pt)(void *data, uint64_t shipped,
    uint64_t lost);


/* the store's connection, kept between passes */
typedef struct {
    const recsys_events_conf_t *conf;
    struct pg_conn     *conn;
    char               *table;          /* quoted */
    char               *shipped;        /* quoted <table>_shipped */
    recsys_spool_commit_pt  commit;
    void               *data;
    const volatile int *cancel;         /* may be NULL */
} recsys_spool_store_t;


void recsys_spool_writer_init(recsys_spool_writer_t *w);

/*
 * Appends buf[0..len), whole lines, to the writer's segment with one
 * write(2), opening a new segment in dir first when none is open; with
 * sync, fdatasync before returning.  0, or -1 with err set and nothing
 * of buf left in the segment (a short write is cut off again).
 */
int recsys_spool_append(recsys_spool_writer_t *w, const char *dir,
    const char *buf, size_t len, int sync, char *err, size_t errlen);

/* fdatasync when something was written since the last one: 0 or -1 */
int recsys_spool_sync(recsys_spool_writer_t *w, char *err, size_t errlen);

/*
 * Seals the open segment: fdatasync, rename to ready-<id>.jsonl (an
 * empty one is removed), close.  0 (also when none is open) or -1.
 */
int recsys_spool_seal(recsys_spool_writer_t *w, const char *dir, char *err,
    size_t errlen);


/*
 * One shipping pass over dir: seals the segments of dead writers, ships
 * every ready segment into the store, removes what is shipped.  0 (also
 * when another shipper holds the spool's lock: nothing done), or -1 with
 * err set; st says what was done and what is left either way.
 */
int recsys_spool_ship(recsys_spool_store_t *store, const char *dir,
    recsys_spool_stats_t *st, char *err, size_t errlen);

/* closes the store's connection, if any */
void recsys_spool_store_close(recsys_spool_store_t *store);

/* the bytes of every segment in dir (ready or open) */
uint64_t recsys_spool_bytes(const char *dir);


#endif /* _RECSYS_SPOOL_H_INCLUDED_ */
