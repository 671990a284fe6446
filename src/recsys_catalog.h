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


/*
 * "users:", optional: stored user vectors, read from a source of the
 * items' shape (table "users" by default; dsn: the items source's)
 */
typedef struct {
    int                 enabled;        /* the section is there */
    recsys_source_conf_t source;
} recsys_users_conf_t;


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


#define RECSYS_POPULARITY_MODE_REPLACE  0
#define RECSYS_POPULARITY_MODE_BLEND    1

#define RECSYS_ITEMSIM_AUTO        0
#define RECSYS_ITEMSIM_EASE        1
#define RECSYS_ITEMSIM_ITEMKNN     2

#define RECSYS_HOLDOUT_MODE_RANDOM 0
#define RECSYS_HOLDOUT_MODE_RECENT 1

#define RECSYS_PROMOTE_RECALL      0
#define RECSYS_PROMOTE_NDCG        1

#define RECSYS_PROMOTE_MAX         4


/* "model.popularity:": decayed popularity from the events */
typedef struct {
    int                 enabled;
    uint64_t            half_life;      /* seconds: 7d; 0: no decay */
    int                 mode;           /* RECSYS_POPULARITY_MODE_* */
    double              blend;          /* the events' share: 0.5 */
} recsys_model_popularity_conf_t;


/* "model.item_item:": the history model, itemsim.bin */
typedef struct {
    int                 enabled;
    int                 algorithm;      /* RECSYS_ITEMSIM_*: auto */
    double              lambda;         /* EASE: 200 */
    uint32_t            top;            /* entries kept per row: 500 */
    uint32_t            max_items;      /* EASE's limit: 16384 */
    double              shrink;         /* item-kNN: 10 */
} recsys_model_itemsim_conf_t;


/* "model.factors:": implicit ALS, user vectors */
typedef struct {
    int                 enabled;
    int                 algorithm;      /* 0: als */
    uint32_t            factors;        /* 64 */
    uint32_t            iterations;     /* 15 */
    double              regularization; /* 1 */
    double              alpha;          /* 10 */
    double              nu;             /* regularisation exponent: 0 */
} recsys_model_factors_conf_t;


/* "model.holdout:": the sample the promotion gate scores */
typedef struct {
    double              fraction;       /* of each user's entries: 0.2 */
    uint32_t            seed;           /* 1 */
    int                 mode;           /* RECSYS_HOLDOUT_MODE_*: random */
    uint32_t            min_entries;    /* users with fewer: not scored */
    uint32_t            users;          /* at most this many scored */
} recsys_model_holdout_conf_t;


/* one comparison of promote_if: metric >= served * factor - minus, or */
typedef struct {
    int                 metric;         /* RECSYS_PROMOTE_* */
    int                 strict;         /* ">" rather than ">=" */
    int                 served;         /* compares with the served model */
    double              factor;         /* served * factor */
    double              offset;         /* + offset (or the constant) */
} recsys_promote_cond_t;


typedef struct {
    recsys_promote_cond_t  conds[RECSYS_PROMOTE_MAX];
    uint32_t            n;              /* 0: always */
} recsys_promote_t;


/* "model:", optional: what the builder trains from the events */
typedef struct {
    int                 enabled;
    uint32_t            min_events;     /* a user's events to be modelled */
    recsys_model_popularity_conf_t popularity;
    recsys_model_itemsim_conf_t item_item;
    recsys_model_factors_conf_t factors;
    recsys_model_holdout_conf_t holdout;
    char               *promote_if;     /* as written */
    recsys_promote_t    promote;        /* parsed */
} recsys_model_conf_t;


typedef struct {
    char               *file;           /* the YAML file, as given */
    recsys_source_conf_t source;
    recsys_users_conf_t  users;
    recsys_index_conf_t  index;
    recsys_maintenance_conf_t maintenance;
    recsys_events_conf_t events;
    recsys_ranking_conf_t ranking;      /* "ranking:", no profiles: plain */
    recsys_model_conf_t  model;
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

/*
 * Parses a promote_if rule: "always", or up to RECSYS_PROMOTE_MAX
 * comparisons joined by "and", each "<metric> >= <rhs>" (or ">") with
 * metric recall_at_10 or ndcg_at_10 and rhs a number, "served",
 * "served * <number>" or "served - <number>".  Returns 0, or -1 with err
 * set.
 */
int recsys_promote_parse(const char *s, recsys_promote_t *p, char *err,
    size_t errlen);

/*
 * 1 when the new model's figures (recall, ndcg) pass p against the
 * served model's; has_served 0 (nothing served yet, or no figures): the
 * comparisons with "served" hold.
 */
int recsys_promote_eval(const recsys_promote_t *p, const double *fresh,
    int has_served, const double *served);


#endif /* _RECSYS_CATALOG_H_INCLUDED_ */
