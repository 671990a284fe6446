/*
 * Catalog configuration: one YAML file per catalog, parsed with libyaml,
 * "${VAR}" and "${VAR:-default}" interpolated from the environment, checked
 * against a table-driven schema.  Pure C: no nginx header.
 */

#ifndef _RECSYS_CATALOG_H_INCLUDED_
#define _RECSYS_CATALOG_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "recsys_rank.h"


#define RECSYS_CATALOG_ERRLEN      512

#define RECSYS_SOURCE_FILE         0
#define RECSYS_SOURCE_POSTGRESQL   1


typedef struct {
    int                 type;           /* RECSYS_SOURCE_* */
    char               *path;           /* file: absolute path */
    char               *dsn;            /* postgresql: conninfo/URI, secret */
    char               *table;          /* default query's table: "items" */
    char               *query;          /* custom query, NULL: default */
    uint32_t            batch_size;     /* rows per cursor FETCH: 10000 */
} recsys_source_conf_t;


typedef struct {
    char               *path;           /* index directory, absolute */
    uint32_t            dimension;      /* 1..4096 */
    int                 metric;         /* RECSYS_METRIC_*, default cosine */
    char               *factory;        /* "auto" (default) or IVF family */
    uint32_t            nprobe;         /* 1..65536, default 16 */
    uint32_t            keep;           /* generations kept, default 3 */
    uint32_t            neighbors;      /* precomputed per item, 0: none */
} recsys_index_conf_t;


#define RECSYS_BUILD_ON_START_IF_MISSING  0
#define RECSYS_BUILD_ON_START_ALWAYS      1
#define RECSYS_BUILD_ON_START_NEVER       2


/* "maintenance:", optional: what keeps the served index fresh */
typedef struct {
    uint64_t            max_age;        /* seconds, 0: no limit */
    uint64_t            interval;       /* seconds between builds, 0: none */
    uint64_t            full_interval;  /* force a full build after: 7d */
    int                 build_on_start; /* RECSYS_BUILD_ON_START_* */
    uint64_t            backoff_initial; /* first retry delay: 1s */
    uint64_t            backoff_max;    /* retry delay cap: 5m */
    uint32_t            breaker_threshold; /* failures to open: 5 */
    uint32_t            threads;        /* build OpenMP threads, 0: cores */
    int32_t             nice;           /* build niceness: 10 */
} recsys_maintenance_conf_t;


/* a mapping of names to numbers, in document order */
typedef struct {
    char              **names;
    double             *values;
    size_t              n;
} recsys_catalog_numbers_t;


#define RECSYS_EVENTS_SYNC_REQUEST   0
#define RECSYS_EVENTS_SYNC_INTERVAL  1

#define RECSYS_STORE_FILE            0
#define RECSYS_STORE_POSTGRESQL      1


/* where the helper ships events, and where training reads them */
typedef struct {
    int                 type;           /* RECSYS_STORE_*, default file */
    char               *path;           /* file: <index.path>/events.jsonl */
    char               *dsn;            /* postgresql: default source.dsn */
    char               *table;          /* "recsys_events" */
    char               *query;          /* an application's own: read-only */
} recsys_events_store_conf_t;


/* "events:", optional: the events API, its spool and its store */
typedef struct {
    int                 enabled;        /* the section is there */
    recsys_catalog_numbers_t types;     /* type -> its default weight */
    uint32_t            max_batch;      /* events per request: 100 */
    uint32_t            max_id_length;  /* bytes of a user or item id: 256 */
    int                 sync;           /* RECSYS_EVENTS_SYNC_*: request */
    uint64_t            sync_interval;  /* seconds, sync interval: 1 */
    uint64_t            segment_age;    /* seconds a segment stays open: 1 */
    uint64_t            spool_limit;    /* bytes; over it, 503: 1g */
    uint64_t            ship_interval;  /* seconds between passes: 1 */
    uint32_t            ship_batch;     /* events per store commit: 10000 */
    recsys_events_store_conf_t store;
} recsys_events_conf_t;


typedef struct {
    char               *file;           /* the YAML file, as given */
    recsys_source_conf_t source;
    recsys_index_conf_t  index;
    recsys_maintenance_conf_t maintenance;
    recsys_events_conf_t events;
    recsys_ranking_conf_t ranking;      /* "ranking:", no profiles: plain */
} recsys_catalog_t;


/*
 * Parses and validates the YAML file at path.  Relative paths inside the
 * file are resolved against the file's directory.  On error returns NULL
 * and err holds "file:line:column: message" naming the key and what was
 * expected.  The result is freed with recsys_catalog_free().
 */
recsys_catalog_t *recsys_catalog_load(const char *path, char *err,
    size_t errlen);
void recsys_catalog_free(recsys_catalog_t *c);

/*
 * Expands ${VAR} and ${VAR:-default} in s; returns a malloc'ed string, or
 * NULL with err set for an unset variable without default or bad syntax.
 */
char *recsys_interpolate(const char *s, char *err, size_t errlen);

/* checks an index factory string: "auto" or the IVF family; 0 if valid */
int recsys_factory_valid(const char *factory);

/*
 * Parses a duration: "0", "30s", "10m", "24h", "7d", or groups of them in
 * decreasing units ("1h30m"); a bare number is seconds.  Returns 0 with
 * *sec set, -1 when s is not a duration, -2 when it exceeds max seconds
 * (max up to UINT64_MAX / 2).
 */
int recsys_duration_parse(const char *s, uint64_t max, uint64_t *sec);


#endif /* _RECSYS_CATALOG_H_INCLUDED_ */
