/*
 * Catalog YAML: libyaml's document API (nodes keep their marks), "${VAR}"
 * interpolation of every scalar value, and a table-driven schema so that
 * a new key is one table row.
 */

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "recsys_artifact.h"
#include "recsys_catalog.h"
#include "recsys_string.h"


/* a catalog is a few lines; this only stops a runaway file */
#define RECSYS_CATALOG_MAX_SIZE    (4 * 1024 * 1024)

/* ten years: longer is a typo, and it keeps sums far from overflow */
#define RECSYS_CATALOG_MAX_DURATION  (3650ULL * 86400)


typedef enum {
    RECSYS_CATALOG_STRING = 0,      /* char *, non-empty */
    RECSYS_CATALOG_INT,             /* decimal, min..max, uint32_t */
    RECSYS_CATALOG_ENUM,            /* one of values, int */
    RECSYS_CATALOG_PATH,            /* char *, relative to the YAML file */
    RECSYS_CATALOG_DURATION,        /* "30s", "10m", ..., up to max seconds,
                                       uint64_t */
    RECSYS_CATALOG_MAPPING,         /* nested struct described by keys */
    RECSYS_CATALOG_FLOAT,           /* a finite number, fmin..fmax, double */
    RECSYS_CATALOG_SIZE,            /* bytes: "512", "64k", "16m", "1g",
                                       min..max, uint64_t */
    RECSYS_CATALOG_NUMBERS,         /* names (check) to FLOAT values, at
                                       least min of them,
                                       recsys_catalog_numbers_t */
    RECSYS_CATALOG_RANKING,         /* "ranking:", recsys_ranking_conf_t */
    RECSYS_CATALOG_PROFILES         /* names to profile mappings, at least
                                       one, recsys_ranking_conf_t */
} recsys_catalog_type_e;


typedef struct {
    const char                   *name;
    int                           value;
    const char                   *unsupported;  /* known but refused */
} recsys_catalog_enum_t;


typedef struct recsys_catalog_key_s  recsys_catalog_key_t;

/*
 * One key of a mapping.  offset is into the struct the mapping fills;
 * dflt is YAML text, interpolated and checked like a value.  A key with
 * when_key is required only while that earlier ENUM row of the same table
 * holds when_value; with only set, it is refused otherwise.  A key with
 * conflicts may not appear together with that key.  INT and DURATION
 * values are at least min; a PATH with max is at most max bytes once
 * resolved.  An optional MAPPING that is absent is left zeroed, defaults
 * included; when it is there, the int at present (in the struct the
 * mapping fills) is set to 1.
 */
struct recsys_catalog_key_s {
    const char                   *name;
    recsys_catalog_type_e         type;
    int                           required;
    size_t                        offset;
    uint64_t                      min;
    uint64_t                      max;
    const recsys_catalog_enum_t  *values;
    const recsys_catalog_key_t   *keys;
    const char                   *dflt;
    int                         (*check)(const char *s);
    const char                   *expect;       /* what check accepts */
    const char                   *when_key;
    int                           when_value;
    int                           only;
    const char                   *conflicts;
    double                        fmin;
    double                        fmax;
    int                           optional;
    size_t                        present;
};


typedef struct {
    const char                   *file;
    const char                   *data;
    size_t                        size;
    char                         *dir;          /* realpath, on demand */
    yaml_document_t              *doc;
    char                         *err;
    size_t                        errlen;
} recsys_catalog_ctx_t;


typedef struct {
    char                         *data;
    size_t                        len;
    size_t                        cap;
} recsys_catalog_buf_t;


/* a ranking profile as the schema reads it, before recsys_profile_t */
typedef struct {
    double                        similarity;
    double                        popularity;
    double                        freshness;
} recsys_catalog_weights_t;


typedef struct {
    int                           present;
    char                         *field;
    uint64_t                      half_life;
} recsys_catalog_freshness_t;


typedef struct {
    recsys_catalog_numbers_t      category;
} recsys_catalog_boost_t;


typedef struct {
    int                           present;
    double                        mmr;
} recsys_catalog_diversity_t;


typedef struct {
    uint32_t                      candidates;
    recsys_catalog_weights_t      weights;
    int                           popularity;
    recsys_catalog_freshness_t    freshness;
    recsys_catalog_boost_t        boost;
    recsys_catalog_diversity_t    diversity;
} recsys_catalog_profile_t;


typedef struct {
    char                         *dflt;
    double                        negative_weight;
    recsys_ranking_conf_t         conf;
} recsys_catalog_ranking_t;


static int recsys_catalog_read(const char *path, char **data, size_t *size,
    char *err, size_t errlen);
static void recsys_catalog_yaml_error(recsys_catalog_ctx_t *ctx,
    yaml_parser_t *parser);
static int recsys_catalog_document(recsys_catalog_ctx_t *ctx,
    yaml_parser_t *parser, recsys_catalog_t *c);
static int recsys_catalog_mapping(recsys_catalog_ctx_t *ctx,
    const recsys_catalog_key_t *keys, yaml_node_t *node, char *base,
    const char *name, const yaml_mark_t *mark);
static int recsys_catalog_absent(recsys_catalog_ctx_t *ctx,
    const recsys_catalog_key_t *keys, const recsys_catalog_key_t *key,
    char *base, const char *name, const yaml_mark_t *mark);
static int recsys_catalog_value(recsys_catalog_ctx_t *ctx,
    const recsys_catalog_key_t *key, yaml_node_t *node, char *base,
    const char *name);
static int recsys_catalog_set(recsys_catalog_ctx_t *ctx,
    const recsys_catalog_key_t *key, const char *text, char *base,
    const yaml_mark_t *mark);
static char *recsys_catalog_resolve(recsys_catalog_ctx_t *ctx,
    const char *value, const yaml_mark_t *mark);
static yaml_node_pair_t *recsys_catalog_pair(recsys_catalog_ctx_t *ctx,
    yaml_node_t *map, const char *name, yaml_node_pair_t *end);
static const recsys_catalog_key_t *recsys_catalog_lookup(
    const recsys_catalog_key_t *keys, yaml_node_t *kn);
static int recsys_catalog_required(const recsys_catalog_key_t *keys,
    const recsys_catalog_key_t *key, const char *base);
static int recsys_catalog_when(const recsys_catalog_key_t *keys,
    const recsys_catalog_key_t *key, const char *base, const char **value);
static int recsys_catalog_combine(recsys_catalog_ctx_t *ctx,
    const recsys_catalog_key_t *keys, yaml_node_t *node, const char *base);
static int recsys_catalog_table_name(const char *s);
static int recsys_catalog_null(yaml_node_t *node);
static void recsys_catalog_expected(const recsys_catalog_key_t *key,
    char *buf, size_t size);
static void recsys_catalog_got(yaml_node_t *node, char *buf, size_t size);
static void recsys_catalog_names(const recsys_catalog_key_t *keys,
    char *buf, size_t size);
static void recsys_catalog_where(const char *name, char *buf, size_t size);
static int recsys_catalog_error(recsys_catalog_ctx_t *ctx,
    const yaml_mark_t *mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int recsys_catalog_uint(const char *s, uint64_t *out);
static int recsys_catalog_float(const char *s, double *out);
static int recsys_catalog_size(const char *s, uint64_t *out);
static int recsys_catalog_numbers(recsys_catalog_ctx_t *ctx,
    const recsys_catalog_key_t *key, yaml_node_t *node, char *base);
static int recsys_catalog_events(recsys_catalog_ctx_t *ctx,
    recsys_catalog_t *c, yaml_node_t *root);
static int recsys_catalog_users(recsys_catalog_ctx_t *ctx,
    recsys_catalog_t *c, yaml_node_t *root);
static int recsys_catalog_type_name(const char *s);
static int recsys_catalog_ranking(recsys_catalog_ctx_t *ctx,
    const recsys_catalog_key_t *key, yaml_node_t *node, char *base);
static int recsys_catalog_profiles(recsys_catalog_ctx_t *ctx,
    const recsys_catalog_key_t *key, yaml_node_t *node, char *base);
static int recsys_catalog_profile(recsys_catalog_ctx_t *ctx,
    yaml_node_t *node, const char *name, recsys_profile_t *p);
static int recsys_catalog_model(recsys_catalog_ctx_t *ctx,
    recsys_catalog_t *c, yaml_node_t *root);
static void recsys_catalog_free_keys(const recsys_catalog_key_t *keys,
    char *base);
static int recsys_catalog_buf_add(recsys_catalog_buf_t *b, const char *s,
    size_t n);
static int recsys_factory_number(const char **p, uint64_t min, uint64_t max);


static const recsys_catalog_enum_t  recsys_catalog_source_types[] = {
    { "file",          RECSYS_SOURCE_FILE,          NULL },
    { "postgresql",    RECSYS_SOURCE_POSTGRESQL,    NULL },
    { NULL, 0, NULL }
};


static const recsys_catalog_enum_t  recsys_catalog_build_on_start[] = {
    { "if_missing",    RECSYS_BUILD_ON_START_IF_MISSING, NULL },
    { "always",        RECSYS_BUILD_ON_START_ALWAYS,     NULL },
    { "never",         RECSYS_BUILD_ON_START_NEVER,      NULL },
    { NULL, 0, NULL }
};


/* the names of recsys_metric_parse(), kept here so this file links alone */
static const recsys_catalog_enum_t  recsys_catalog_metrics[] = {
    { "inner_product", RECSYS_METRIC_INNER_PRODUCT, NULL },
    { "l2",            RECSYS_METRIC_L2,            NULL },
    { "cosine",        RECSYS_METRIC_COSINE,        NULL },
    { NULL, 0, NULL }
};


static const recsys_catalog_key_t  recsys_catalog_source_keys[] = {

    { .name = "type", .type = RECSYS_CATALOG_ENUM,
      .offset = offsetof(recsys_source_conf_t, type),
      .values = recsys_catalog_source_types, .dflt = "file" },

    { .name = "path", .type = RECSYS_CATALOG_PATH, .required = 1,
      .offset = offsetof(recsys_source_conf_t, path),
      .when_key = "type", .when_value = RECSYS_SOURCE_FILE, .only = 1 },

    { .name = "dsn", .type = RECSYS_CATALOG_STRING, .required = 1,
      .offset = offsetof(recsys_source_conf_t, dsn),
      .when_key = "type", .when_value = RECSYS_SOURCE_POSTGRESQL,
      .only = 1 },

    { .name = "table", .type = RECSYS_CATALOG_STRING,
      .offset = offsetof(recsys_source_conf_t, table),
      .dflt = "items", .check = recsys_catalog_table_name,
      .expect = "a table name, optionally schema-qualified (schema.table)",
      .when_key = "type", .when_value = RECSYS_SOURCE_POSTGRESQL,
      .only = 1 },

    { .name = "query", .type = RECSYS_CATALOG_STRING,
      .offset = offsetof(recsys_source_conf_t, query),
      .when_key = "type", .when_value = RECSYS_SOURCE_POSTGRESQL,
      .only = 1, .conflicts = "table" },

    { .name = "batch_size", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_source_conf_t, batch_size),
      .min = 1, .max = 1000000, .dflt = "10000",
      .when_key = "type", .when_value = RECSYS_SOURCE_POSTGRESQL,
      .only = 1 },

    { .name = NULL }
};


/*
 * "users:" is a source of its own; dsn defaults to the items source's
 * (recsys_catalog_users())
 */
static const recsys_catalog_key_t  recsys_catalog_users_keys[] = {

    { .name = "type", .type = RECSYS_CATALOG_ENUM,
      .offset = offsetof(recsys_users_conf_t, source.type),
      .values = recsys_catalog_source_types, .dflt = "file" },

    { .name = "path", .type = RECSYS_CATALOG_PATH, .required = 1,
      .offset = offsetof(recsys_users_conf_t, source.path),
      .when_key = "type", .when_value = RECSYS_SOURCE_FILE, .only = 1 },

    { .name = "dsn", .type = RECSYS_CATALOG_STRING,
      .offset = offsetof(recsys_users_conf_t, source.dsn),
      .when_key = "type", .when_value = RECSYS_SOURCE_POSTGRESQL,
      .only = 1 },

    { .name = "table", .type = RECSYS_CATALOG_STRING,
      .offset = offsetof(recsys_users_conf_t, source.table),
      .dflt = "users", .check = recsys_catalog_table_name,
      .expect = "a table name, optionally schema-qualified (schema.table)",
      .when_key = "type", .when_value = RECSYS_SOURCE_POSTGRESQL,
      .only = 1 },

    { .name = "query", .type = RECSYS_CATALOG_STRING,
      .offset = offsetof(recsys_users_conf_t, source.query),
      .when_key = "type", .when_value = RECSYS_SOURCE_POSTGRESQL,
      .only = 1, .conflicts = "table" },

    { .name = "batch_size", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_users_conf_t, source.batch_size),
      .min = 1, .max = 1000000, .dflt = "10000",
      .when_key = "type", .when_value = RECSYS_SOURCE_POSTGRESQL,
      .only = 1 },

    { .name = NULL }
};


static const recsys_catalog_key_t  recsys_catalog_index_keys[] = {

    { .name = "path", .type = RECSYS_CATALOG_PATH, .required = 1,
      .offset = offsetof(recsys_index_conf_t, path),
      .max = RECSYS_INDEX_PATH_MAX },

    { .name = "dimension", .type = RECSYS_CATALOG_INT, .required = 1,
      .offset = offsetof(recsys_index_conf_t, dimension),
      .min = 1, .max = 4096 },

    { .name = "metric", .type = RECSYS_CATALOG_ENUM,
      .offset = offsetof(recsys_index_conf_t, metric),
      .values = recsys_catalog_metrics, .dflt = "cosine" },

    { .name = "factory", .type = RECSYS_CATALOG_STRING,
      .offset = offsetof(recsys_index_conf_t, factory),
      .dflt = "auto", .check = recsys_factory_valid,
      .expect = "\"auto\" or IVF<nlist>,<codec> with codec Flat, SQ8, SQ4,"
                " SQfp16, PQ<m> or PQ<m>x<nbits>" },

    { .name = "nprobe", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_index_conf_t, nprobe),
      .min = 1, .max = 65536, .dflt = "16" },

    { .name = "keep", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_index_conf_t, keep),
      .min = 1, .max = 100, .dflt = "3" },

    { .name = "neighbors", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_index_conf_t, neighbors),
      .min = 0, .max = 1000, .dflt = "32" },

    { .name = NULL }
};


/* one row per maintenance setting; the helper's schedule goes here too */
static const recsys_catalog_key_t  recsys_catalog_maintenance_keys[] = {

    { .name = "max_age", .type = RECSYS_CATALOG_DURATION,
      .offset = offsetof(recsys_maintenance_conf_t, max_age),
      .max = RECSYS_CATALOG_MAX_DURATION, .dflt = "0" },

    { .name = "interval", .type = RECSYS_CATALOG_DURATION,
      .offset = offsetof(recsys_maintenance_conf_t, interval),
      .max = RECSYS_CATALOG_MAX_DURATION, .dflt = "0" },

    { .name = "full_interval", .type = RECSYS_CATALOG_DURATION,
      .offset = offsetof(recsys_maintenance_conf_t, full_interval),
      .max = RECSYS_CATALOG_MAX_DURATION, .dflt = "7d" },

    { .name = "build_on_start", .type = RECSYS_CATALOG_ENUM,
      .offset = offsetof(recsys_maintenance_conf_t, build_on_start),
      .values = recsys_catalog_build_on_start, .dflt = "if_missing" },

    { .name = "backoff_initial", .type = RECSYS_CATALOG_DURATION,
      .offset = offsetof(recsys_maintenance_conf_t, backoff_initial),
      .min = 1, .max = 86400, .dflt = "1s" },

    { .name = "backoff_max", .type = RECSYS_CATALOG_DURATION,
      .offset = offsetof(recsys_maintenance_conf_t, backoff_max),
      .min = 1, .max = 86400, .dflt = "5m" },

    { .name = "breaker_threshold", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_maintenance_conf_t, breaker_threshold),
      .min = 1, .max = 1000, .dflt = "5" },

    { .name = "threads", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_maintenance_conf_t, threads),
      .min = 0, .max = 1024, .dflt = "0" },

    /* int32_t field: 0..19 fits the uint32_t the INT type stores */
    { .name = "nice", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_maintenance_conf_t, nice),
      .min = 0, .max = 19, .dflt = "10" },

    { .name = NULL }
};


static const recsys_catalog_enum_t  recsys_catalog_events_sync[] = {
    { "request",       RECSYS_EVENTS_SYNC_REQUEST,  NULL },
    { "interval",      RECSYS_EVENTS_SYNC_INTERVAL, NULL },
    { NULL, 0, NULL }
};


static const recsys_catalog_enum_t  recsys_catalog_store_types[] = {
    { "file",          RECSYS_STORE_FILE,           NULL },
    { "postgresql",    RECSYS_STORE_POSTGRESQL,     NULL },
    { NULL, 0, NULL }
};


/* path and dsn have defaults from other sections: recsys_catalog_events() */
static const recsys_catalog_key_t  recsys_catalog_store_keys[] = {

    { .name = "type", .type = RECSYS_CATALOG_ENUM,
      .offset = offsetof(recsys_events_store_conf_t, type),
      .values = recsys_catalog_store_types, .dflt = "file" },

    { .name = "path", .type = RECSYS_CATALOG_PATH,
      .offset = offsetof(recsys_events_store_conf_t, path),
      .when_key = "type", .when_value = RECSYS_STORE_FILE, .only = 1 },

    { .name = "dsn", .type = RECSYS_CATALOG_STRING,
      .offset = offsetof(recsys_events_store_conf_t, dsn),
      .when_key = "type", .when_value = RECSYS_STORE_POSTGRESQL,
      .only = 1 },

    { .name = "table", .type = RECSYS_CATALOG_STRING,
      .offset = offsetof(recsys_events_store_conf_t, table),
      .dflt = "recsys_events", .check = recsys_catalog_table_name,
      .expect = "a table name, optionally schema-qualified (schema.table)",
      .when_key = "type", .when_value = RECSYS_STORE_POSTGRESQL,
      .only = 1 },

    { .name = "query", .type = RECSYS_CATALOG_STRING,
      .offset = offsetof(recsys_events_store_conf_t, query),
      .when_key = "type", .when_value = RECSYS_STORE_POSTGRESQL,
      .only = 1, .conflicts = "table" },

    { .name = NULL }
};


static const recsys_catalog_key_t  recsys_catalog_events_keys[] = {

    { .name = "types", .type = RECSYS_CATALOG_NUMBERS, .required = 1,
      .offset = offsetof(recsys_events_conf_t, types),
      .min = 1, .fmin = -1e6, .fmax = 1e6,
      .check = recsys_catalog_type_name,
      .expect = "a type name of 1 to 64 letters, digits, '_', '-' or '.'" },

    { .name = "max_batch", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_events_conf_t, max_batch),
      .min = 1, .max = 10000, .dflt = "100" },

    { .name = "max_id_length", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_events_conf_t, max_id_length),
      .min = 1, .max = 4096, .dflt = "256" },

    { .name = "sync", .type = RECSYS_CATALOG_ENUM,
      .offset = offsetof(recsys_events_conf_t, sync),
      .values = recsys_catalog_events_sync, .dflt = "request" },

    { .name = "sync_interval", .type = RECSYS_CATALOG_DURATION,
      .offset = offsetof(recsys_events_conf_t, sync_interval),
      .min = 1, .max = 3600, .dflt = "1s",
      .when_key = "sync", .when_value = RECSYS_EVENTS_SYNC_INTERVAL,
      .only = 1 },

    { .name = "segment_age", .type = RECSYS_CATALOG_DURATION,
      .offset = offsetof(recsys_events_conf_t, segment_age),
      .min = 1, .max = 3600, .dflt = "1s" },

    { .name = "spool_limit", .type = RECSYS_CATALOG_SIZE,
      .offset = offsetof(recsys_events_conf_t, spool_limit),
      .min = 1024 * 1024, .max = 1ULL << 50, .dflt = "1g" },

    { .name = "ship_interval", .type = RECSYS_CATALOG_DURATION,
      .offset = offsetof(recsys_events_conf_t, ship_interval),
      .min = 1, .max = 3600, .dflt = "1s" },

    { .name = "ship_batch", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_events_conf_t, ship_batch),
      .min = 1, .max = 1000000, .dflt = "10000" },

    { .name = "store", .type = RECSYS_CATALOG_MAPPING,
      .offset = offsetof(recsys_events_conf_t, store),
      .keys = recsys_catalog_store_keys },

    { .name = NULL }
};


static const recsys_catalog_enum_t  recsys_catalog_popularity[] = {
    { "log",           RECSYS_POP_LOG,              NULL },
    { "rank",          RECSYS_POP_RANK,             NULL },
    { "raw",           RECSYS_POP_RAW,              NULL },
    { NULL, 0, NULL }
};


static const recsys_catalog_key_t  recsys_catalog_weights_keys[] = {

    { .name = "similarity", .type = RECSYS_CATALOG_FLOAT,
      .offset = offsetof(recsys_catalog_weights_t, similarity),
      .fmin = 0, .fmax = 1e6, .dflt = "1" },

    { .name = "popularity", .type = RECSYS_CATALOG_FLOAT,
      .offset = offsetof(recsys_catalog_weights_t, popularity),
      .fmin = 0, .fmax = 1e6, .dflt = "0" },

    { .name = "freshness", .type = RECSYS_CATALOG_FLOAT,
      .offset = offsetof(recsys_catalog_weights_t, freshness),
      .fmin = 0, .fmax = 1e6, .dflt = "0" },

    { .name = NULL }
};


static const recsys_catalog_key_t  recsys_catalog_freshness_keys[] = {

    { .name = "field", .type = RECSYS_CATALOG_STRING, .required = 1,
      .offset = offsetof(recsys_catalog_freshness_t, field),
      .check = recsys_catalog_type_name,
      .expect = "an attribute name of 1 to 64 letters, digits, '_', '-'"
                " or '.'" },

    { .name = "half_life", .type = RECSYS_CATALOG_DURATION, .required = 1,
      .offset = offsetof(recsys_catalog_freshness_t, half_life),
      .min = 1, .max = RECSYS_CATALOG_MAX_DURATION },

    { .name = NULL }
};


/* the fields a boost may match: the item's category only, for now */
static const recsys_catalog_key_t  recsys_catalog_boost_keys[] = {

    { .name = "category", .type = RECSYS_CATALOG_NUMBERS,
      .offset = offsetof(recsys_catalog_boost_t, category),
      .min = 1, .fmin = -1e6, .fmax = 1e6 },

    { .name = NULL }
};


static const recsys_catalog_key_t  recsys_catalog_diversity_keys[] = {

    { .name = "mmr", .type = RECSYS_CATALOG_FLOAT, .required = 1,
      .offset = offsetof(recsys_catalog_diversity_t, mmr),
      .fmin = 0, .fmax = 1 },

    { .name = NULL }
};


static const recsys_catalog_key_t  recsys_catalog_profile_keys[] = {

    { .name = "candidates", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_catalog_profile_t, candidates),
      .min = 1, .max = RECSYS_RANK_CANDIDATES_MAX, .dflt = "200" },

    { .name = "weights", .type = RECSYS_CATALOG_MAPPING,
      .offset = offsetof(recsys_catalog_profile_t, weights),
      .keys = recsys_catalog_weights_keys },

    { .name = "popularity", .type = RECSYS_CATALOG_ENUM,
      .offset = offsetof(recsys_catalog_profile_t, popularity),
      .values = recsys_catalog_popularity, .dflt = "log" },

    { .name = "freshness", .type = RECSYS_CATALOG_MAPPING,
      .offset = offsetof(recsys_catalog_profile_t, freshness),
      .keys = recsys_catalog_freshness_keys, .optional = 1,
      .present = offsetof(recsys_catalog_freshness_t, present) },

    { .name = "boost", .type = RECSYS_CATALOG_MAPPING,
      .offset = offsetof(recsys_catalog_profile_t, boost),
      .keys = recsys_catalog_boost_keys },

    { .name = "diversity", .type = RECSYS_CATALOG_MAPPING,
      .offset = offsetof(recsys_catalog_profile_t, diversity),
      .keys = recsys_catalog_diversity_keys, .optional = 1,
      .present = offsetof(recsys_catalog_diversity_t, present) },

    { .name = NULL }
};


/* "default" is checked against the profiles once they are read */
static const recsys_catalog_key_t  recsys_catalog_ranking_keys[] = {

    { .name = "default", .type = RECSYS_CATALOG_STRING,
      .offset = offsetof(recsys_catalog_ranking_t, dflt) },

    { .name = "negative_weight", .type = RECSYS_CATALOG_FLOAT,
      .offset = offsetof(recsys_catalog_ranking_t, negative_weight),
      .fmin = 0, .fmax = 1, .dflt = "0.5" },

    { .name = "profiles", .type = RECSYS_CATALOG_PROFILES, .required = 1,
      .offset = offsetof(recsys_catalog_ranking_t, conf) },

    { .name = NULL }
};


static const recsys_catalog_enum_t  recsys_catalog_popularity_modes[] = {
    { "replace",       RECSYS_POPULARITY_MODE_REPLACE, NULL },
    { "blend",         RECSYS_POPULARITY_MODE_BLEND,   NULL },
    { NULL, 0, NULL }
};


static const recsys_catalog_enum_t  recsys_catalog_itemsim_algorithms[] = {
    { "auto",          RECSYS_ITEMSIM_AUTO,        NULL },
    { "ease",          RECSYS_ITEMSIM_EASE,        NULL },
    { "itemknn",       RECSYS_ITEMSIM_ITEMKNN,     NULL },
    { NULL, 0, NULL }
};


static const recsys_catalog_enum_t  recsys_catalog_factors_algorithms[] = {
    { "als",           0,                          NULL },
    { NULL, 0, NULL }
};


static const recsys_catalog_enum_t  recsys_catalog_holdout_modes[] = {
    { "random",        RECSYS_HOLDOUT_MODE_RANDOM, NULL },
    { "recent",        RECSYS_HOLDOUT_MODE_RECENT, NULL },
    { NULL, 0, NULL }
};


static const recsys_catalog_key_t  recsys_catalog_popularity_keys[] = {

    { .name = "half_life", .type = RECSYS_CATALOG_DURATION,
      .offset = offsetof(recsys_model_popularity_conf_t, half_life),
      .max = RECSYS_CATALOG_MAX_DURATION, .dflt = "7d" },

    { .name = "mode", .type = RECSYS_CATALOG_ENUM,
      .offset = offsetof(recsys_model_popularity_conf_t, mode),
      .values = recsys_catalog_popularity_modes, .dflt = "replace" },

    { .name = "blend", .type = RECSYS_CATALOG_FLOAT,
      .offset = offsetof(recsys_model_popularity_conf_t, blend),
      .fmin = 0, .fmax = 1, .dflt = "0.5",
      .when_key = "mode", .when_value = RECSYS_POPULARITY_MODE_BLEND,
      .only = 1 },

    { .name = NULL }
};


static const recsys_catalog_key_t  recsys_catalog_itemsim_keys[] = {

    { .name = "algorithm", .type = RECSYS_CATALOG_ENUM,
      .offset = offsetof(recsys_model_itemsim_conf_t, algorithm),
      .values = recsys_catalog_itemsim_algorithms, .dflt = "auto" },

    { .name = "lambda", .type = RECSYS_CATALOG_FLOAT,
      .offset = offsetof(recsys_model_itemsim_conf_t, lambda),
      .fmin = 1e-6, .fmax = 1e9, .dflt = "200" },

    { .name = "top", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_model_itemsim_conf_t, top),
      .min = 1, .max = 10000, .dflt = "500" },

    { .name = "max_items", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_model_itemsim_conf_t, max_items),
      .min = 1, .max = 65536, .dflt = "16384" },

    { .name = "shrink", .type = RECSYS_CATALOG_FLOAT,
      .offset = offsetof(recsys_model_itemsim_conf_t, shrink),
      .fmin = 0, .fmax = 1e9, .dflt = "10" },

    { .name = NULL }
};


/* "algorithm" has one value today; it is there so others can follow */
static const recsys_catalog_key_t  recsys_catalog_factors_keys[] = {

    { .name = "algorithm", .type = RECSYS_CATALOG_ENUM,
      .offset = offsetof(recsys_model_factors_conf_t, algorithm),
      .values = recsys_catalog_factors_algorithms, .dflt = "als" },

    { .name = "factors", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_model_factors_conf_t, factors),
      .min = 1, .max = 1024, .dflt = "64" },

    { .name = "iterations", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_model_factors_conf_t, iterations),
      .min = 1, .max = 1000, .dflt = "15" },

    { .name = "regularization", .type = RECSYS_CATALOG_FLOAT,
      .offset = offsetof(recsys_model_factors_conf_t, regularization),
      .fmin = 1e-6, .fmax = 1e9, .dflt = "1" },

    { .name = "alpha", .type = RECSYS_CATALOG_FLOAT,
      .offset = offsetof(recsys_model_factors_conf_t, alpha),
      .fmin = 0, .fmax = 1e9, .dflt = "10" },

    { .name = "nu", .type = RECSYS_CATALOG_FLOAT,
      .offset = offsetof(recsys_model_factors_conf_t, nu),
      .fmin = 0, .fmax = 2, .dflt = "0" },

    { .name = NULL }
};


static const recsys_catalog_key_t  recsys_catalog_holdout_keys[] = {

    { .name = "fraction", .type = RECSYS_CATALOG_FLOAT,
      .offset = offsetof(recsys_model_holdout_conf_t, fraction),
      .fmin = 0.01, .fmax = 0.5, .dflt = "0.2" },

    { .name = "seed", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_model_holdout_conf_t, seed),
      .min = 0, .max = 0xffffffffu, .dflt = "1" },

    { .name = "mode", .type = RECSYS_CATALOG_ENUM,
      .offset = offsetof(recsys_model_holdout_conf_t, mode),
      .values = recsys_catalog_holdout_modes, .dflt = "recent" },

    { .name = "min_entries", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_model_holdout_conf_t, min_entries),
      .min = 2, .max = 1000000, .dflt = "5" },

    { .name = "users", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_model_holdout_conf_t, users),
      .min = 1, .max = 10000000, .dflt = "2000" },

    { .name = NULL }
};


/* the sub-sections are optional: a model trains what is configured */
static const recsys_catalog_key_t  recsys_catalog_model_keys[] = {

    { .name = "min_events", .type = RECSYS_CATALOG_INT,
      .offset = offsetof(recsys_model_conf_t, min_events),
      .min = 1, .max = 1000000, .dflt = "1" },

    { .name = "popularity", .type = RECSYS_CATALOG_MAPPING,
      .offset = offsetof(recsys_model_conf_t, popularity),
      .keys = recsys_catalog_popularity_keys, .optional = 1,
      .present = offsetof(recsys_model_popularity_conf_t, enabled) },

    { .name = "item_item", .type = RECSYS_CATALOG_MAPPING,
      .offset = offsetof(recsys_model_conf_t, item_item),
      .keys = recsys_catalog_itemsim_keys, .optional = 1,
      .present = offsetof(recsys_model_itemsim_conf_t, enabled) },

    { .name = "factors", .type = RECSYS_CATALOG_MAPPING,
      .offset = offsetof(recsys_model_conf_t, factors),
      .keys = recsys_catalog_factors_keys, .optional = 1,
      .present = offsetof(recsys_model_factors_conf_t, enabled) },

    { .name = "holdout", .type = RECSYS_CATALOG_MAPPING,
      .offset = offsetof(recsys_model_conf_t, holdout),
      .keys = recsys_catalog_holdout_keys },

    { .name = "promote_if", .type = RECSYS_CATALOG_STRING,
      .offset = offsetof(recsys_model_conf_t, promote_if),
      .dflt = "recall_at_10 >= served * 0.98" },

    { .name = NULL }
};


static const recsys_catalog_key_t  recsys_catalog_keys[] = {

    { .name = "source", .type = RECSYS_CATALOG_MAPPING, .required = 1,
      .offset = offsetof(recsys_catalog_t, source),
      .keys = recsys_catalog_source_keys },

    { .name = "users", .type = RECSYS_CATALOG_MAPPING,
      .offset = offsetof(recsys_catalog_t, users),
      .keys = recsys_catalog_users_keys, .optional = 1,
      .present = offsetof(recsys_users_conf_t, enabled) },

    { .name = "index", .type = RECSYS_CATALOG_MAPPING, .required = 1,
      .offset = offsetof(recsys_catalog_t, index),
      .keys = recsys_catalog_index_keys },

    { .name = "maintenance", .type = RECSYS_CATALOG_MAPPING,
      .offset = offsetof(recsys_catalog_t, maintenance),
      .keys = recsys_catalog_maintenance_keys },

    { .name = "events", .type = RECSYS_CATALOG_MAPPING,
      .offset = offsetof(recsys_catalog_t, events),
      .keys = recsys_catalog_events_keys, .optional = 1,
      .present = offsetof(recsys_events_conf_t, enabled) },

    { .name = "ranking", .type = RECSYS_CATALOG_RANKING,
      .offset = offsetof(recsys_catalog_t, ranking) },

    { .name = "model", .type = RECSYS_CATALOG_MAPPING,
      .offset = offsetof(recsys_catalog_t, model),
      .keys = recsys_catalog_model_keys, .optional = 1,
      .present = offsetof(recsys_model_conf_t, enabled) },

    { .name = NULL }
};


static const char  *recsys_factory_codecs[] = {
    "Flat", "SQ8", "SQ4", "SQfp16", NULL
};


/* duration units, largest first, and their length in seconds */
static const char      recsys_duration_units[] = "dhms";
static const uint64_t  recsys_duration_seconds[] = { 86400, 3600, 60, 1 };


recsys_catalog_t *
recsys_catalog_load(const char *path, char *err, size_t errlen)
{
    int                    rc;
    char                  *data;
    size_t                 size;
    yaml_parser_t          parser;
    recsys_catalog_t      *c;
    recsys_catalog_ctx_t   ctx;

    if (recsys_catalog_read(path, &data, &size, err, errlen) != 0) {
        return NULL;
    }

    c = calloc(1, sizeof(recsys_catalog_t));
    if (c == NULL || (c->file = strdup(path)) == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        free(c);
        free(data);
        return NULL;
    }

    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: out of memory", path);
        recsys_catalog_free(c);
        free(data);
        return NULL;
    }

    yaml_parser_set_input_string(&parser, (const unsigned char *) data,
                                 size);

    memset(&ctx, 0, sizeof(recsys_catalog_ctx_t));
    ctx.file = path;
    ctx.data = data;
    ctx.size = size;
    ctx.err = err;
    ctx.errlen = errlen;

    rc = recsys_catalog_document(&ctx, &parser, c);

    yaml_parser_delete(&parser);
    free(ctx.dir);
    free(data);

    if (rc != 0) {
        recsys_catalog_free(c);
        return NULL;
    }

    return c;
}


void
recsys_catalog_free(recsys_catalog_t *c)
{
    if (c == NULL) {
        return;
    }

    recsys_catalog_free_keys(recsys_catalog_keys, (char *) c);
    free(c->file);
    free(c);
}


char *
recsys_interpolate(const char *s, char *err, size_t errlen)
{
    char                   q[RECSYS_QUOTE_LEN + 8];
    char                  *name;
    size_t                 len;
    const char            *p, *close, *end, *dflt, *v;
    recsys_catalog_buf_t   b;

    b.len = 0;
    b.cap = strlen(s) + 1;
    b.data = malloc(b.cap);
    if (b.data == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    p = s;

    while (*p != '\0') {

        /* "$$" is a literal "$"; so is a "$" not starting "${" */

        if (*p != '$' || p[1] != '{') {
            len = (p[0] == '$' && p[1] == '$') ? 2 : 1;

            if (recsys_catalog_buf_add(&b, p, 1) != 0) {
                goto nomem;
            }

            p += len;
            continue;
        }

        close = strchr(p + 2, '}');
        if (close == NULL) {
            recsys_quote(s, strlen(s), q, sizeof(q));
            snprintf(err, errlen, "unterminated \"${\" in %s", q);
            goto failed;
        }

        end = p + 2;

        if ((*end >= 'A' && *end <= 'Z') || (*end >= 'a' && *end <= 'z')
            || *end == '_')
        {
            while ((*end >= 'A' && *end <= 'Z') || (*end >= 'a' && *end <= 'z')
                   || (*end >= '0' && *end <= '9') || *end == '_')
            {
                end++;
            }
        }

        if (end > p + 2 && end == close) {
            dflt = NULL;

        } else if (end > p + 2 && end[0] == ':' && end[1] == '-') {
            dflt = end + 2;

        } else {
            recsys_quote(p, close - p + 1, q, sizeof(q));
            snprintf(err, errlen, "invalid variable reference %s, expected"
                     " ${NAME} or ${NAME:-default}", q);
            goto failed;
        }

        name = strndup(p + 2, end - p - 2);
        if (name == NULL) {
            goto nomem;
        }

        v = getenv(name);

        if (v == NULL && dflt == NULL) {
            snprintf(err, errlen, "environment variable \"%s\" is not set",
                     name);
            free(name);
            goto failed;
        }

        free(name);

        if (dflt != NULL && (v == NULL || *v == '\0')) {
            v = dflt;
            len = close - dflt;

        } else {
            len = strlen(v);
        }

        if (recsys_catalog_buf_add(&b, v, len) != 0) {
            goto nomem;
        }

        p = close + 1;
    }

    b.data[b.len] = '\0';

    return b.data;

nomem:

    snprintf(err, errlen, "out of memory");

failed:

    free(b.data);

    return NULL;
}


int
recsys_factory_valid(const char *factory)
{
    const char   *p;
    const char  **codec;

    if (factory == NULL) {
        return -1;
    }

    if (strcmp(factory, "auto") == 0) {
        return 0;
    }

    if (strncmp(factory, "IVF", 3) != 0) {
        return -1;
    }

    p = factory + 3;

    if (recsys_factory_number(&p, 1, 1048576) != 0 || *p != ',') {
        return -1;
    }

    p++;

    for (codec = recsys_factory_codecs; *codec != NULL; codec++) {
        if (strcmp(p, *codec) == 0) {
            return 0;
        }
    }

    if (strncmp(p, "PQ", 2) != 0) {
        return -1;
    }

    p += 2;

    if (recsys_factory_number(&p, 1, 256) != 0) {
        return -1;
    }

    if (*p == '\0') {
        return 0;
    }

    if (*p != 'x') {
        return -1;
    }

    p++;

    if (recsys_factory_number(&p, 4, 16) != 0) {
        return -1;
    }

    return (*p == '\0') ? 0 : -1;
}


int
recsys_duration_parse(const char *s, uint64_t max, uint64_t *sec)
{
    int          rank, last;
    uint64_t     n, unit, total;
    const char  *p;

    if (*s < '0' || *s > '9') {
        return -1;
    }

    total = 0;
    last = -1;
    p = s;

    while (*p != '\0') {

        if (*p < '0' || *p > '9') {
            return -1;
        }

        /* YAML 1.1 reads a leading zero as octal: refuse the ambiguity */

        if (p == s && p[0] == '0' && p[1] >= '0' && p[1] <= '9') {
            return -1;
        }

        /* a number past max saturates: the unit is still checked */

        n = 0;

        while (*p >= '0' && *p <= '9') {
            n = (n > max / 10) ? max + 1 : n * 10 + (*p - '0');
            p++;
        }

        if (*p == '\0') {

            /* a bare number is seconds, and only alone */

            if (last != -1) {
                return -1;
            }

            unit = 1;

        } else {
            rank = 0;

            while (recsys_duration_units[rank] != '\0'
                   && recsys_duration_units[rank] != *p)
            {
                rank++;
            }

            /* units come once each, largest first */

            if (recsys_duration_units[rank] == '\0' || rank <= last) {
                return -1;
            }

            last = rank;
            unit = recsys_duration_seconds[rank];
            p++;
        }

        if (n > max / unit || total + n * unit > max) {
            return -2;
        }

        total += n * unit;
    }

    *sec = total;

    return 0;
}


static int
recsys_catalog_read(const char *path, char **data, size_t *size, char *err,
    size_t errlen)
{
    int      e;
    char    *buf, *nbuf;
    FILE    *f;
    size_t   len, cap, n;

    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }

    buf = NULL;
    len = 0;
    cap = 0;

    for ( ;; ) {
        if (len == cap) {
            if (cap > RECSYS_CATALOG_MAX_SIZE) {
                snprintf(err, errlen, "%s: larger than %d bytes", path,
                         RECSYS_CATALOG_MAX_SIZE);
                goto failed;
            }

            cap = cap ? cap * 2 : 4096;

            nbuf = realloc(buf, cap);
            if (nbuf == NULL) {
                snprintf(err, errlen, "%s: out of memory", path);
                goto failed;
            }

            buf = nbuf;
        }

        n = fread(buf + len, 1, cap - len, f);
        len += n;

        if (n == 0) {
            break;
        }
    }

    if (ferror(f)) {
        e = errno;
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
        goto failed;
    }

    if (len > RECSYS_CATALOG_MAX_SIZE) {
        snprintf(err, errlen, "%s: larger than %d bytes", path,
                 RECSYS_CATALOG_MAX_SIZE);
        goto failed;
    }

    fclose(f);

    *data = buf;
    *size = len;

    return 0;

failed:

    fclose(f);
    free(buf);

    return -1;
}


static void
recsys_catalog_yaml_error(recsys_catalog_ctx_t *ctx, yaml_parser_t *parser)
{
    size_t        i;
    const char   *problem;
    yaml_mark_t   mark;

    problem = parser->problem ? parser->problem : "invalid YAML";

    switch (parser->error) {

    case YAML_MEMORY_ERROR:
        snprintf(ctx->err, ctx->errlen, "%s: out of memory", ctx->file);
        return;

    case YAML_READER_ERROR:

        /* the reader reports a byte offset only: find its line */

        memset(&mark, 0, sizeof(yaml_mark_t));

        for (i = 0; i < parser->problem_offset && i < ctx->size; i++) {
            if (ctx->data[i] == '\n') {
                mark.line++;
                mark.column = 0;

            } else {
                mark.column++;
            }
        }

        if (parser->problem_value != -1) {
            recsys_catalog_error(ctx, &mark, "%s (byte 0x%02x)", problem,
                                 (unsigned) parser->problem_value & 0xff);
        } else {
            recsys_catalog_error(ctx, &mark, "%s", problem);
        }

        return;

    default:

        if (parser->context != NULL) {
            recsys_catalog_error(ctx, &parser->problem_mark,
                                 "%s (%s at %zu:%zu)", problem,
                                 parser->context,
                                 parser->context_mark.line + 1,
                                 parser->context_mark.column + 1);
        } else {
            recsys_catalog_error(ctx, &parser->problem_mark, "%s", problem);
        }

        return;
    }
}


static int
recsys_catalog_document(recsys_catalog_ctx_t *ctx, yaml_parser_t *parser,
    recsys_catalog_t *c)
{
    int               rc;
    char              names[256], got[RECSYS_QUOTE_LEN + 8];
    yaml_node_t      *root, *next;
    yaml_mark_t       start;
    yaml_document_t   doc, more;

    if (!yaml_parser_load(parser, &doc)) {
        recsys_catalog_yaml_error(ctx, parser);
        return -1;
    }

    ctx->doc = &doc;
    rc = -1;

    /* a second document would be silently ignored: refuse it */

    if (!yaml_parser_load(parser, &more)) {
        recsys_catalog_yaml_error(ctx, parser);
        goto done;
    }

    next = yaml_document_get_root_node(&more);
    if (next != NULL) {
        recsys_catalog_error(ctx, &next->start_mark,
                             "only one YAML document is allowed");
        yaml_document_delete(&more);
        goto done;
    }

    yaml_document_delete(&more);

    recsys_catalog_names(recsys_catalog_keys, names, sizeof(names));

    root = yaml_document_get_root_node(&doc);

    if (root == NULL) {
        memset(&start, 0, sizeof(yaml_mark_t));
        recsys_catalog_error(ctx, &start, "top level must be a mapping"
                             " (keys: %s), got an empty document", names);
        goto done;
    }

    if (root->type != YAML_MAPPING_NODE) {
        recsys_catalog_got(root, got, sizeof(got));
        recsys_catalog_error(ctx, &root->start_mark, "top level must be a"
                             " mapping (keys: %s), got %s", names, got);
        goto done;
    }

    rc = recsys_catalog_mapping(ctx, recsys_catalog_keys, root, (char *) c,
                                NULL, &root->start_mark);

    if (rc == 0) {
        rc = recsys_catalog_events(ctx, c, root);
    }

    if (rc == 0) {
        rc = recsys_catalog_users(ctx, c, root);
    }

    if (rc == 0) {
        rc = recsys_catalog_model(ctx, c, root);
    }

done:

    yaml_document_delete(&doc);
    ctx->doc = NULL;

    return rc;
}


/*
 * Fills the struct at base from mapping node (NULL: the mapping is absent,
 * only defaults apply, missing keys are reported at mark).  Errors come in
 * document order, then missing keys in table order.
 */

static int
recsys_catalog_mapping(recsys_catalog_ctx_t *ctx,
    const recsys_catalog_key_t *keys, yaml_node_t *node, char *base,
    const char *name, const yaml_mark_t *mark)
{
    char                         where[128], names[256];
    char                         q[RECSYS_QUOTE_LEN + 8];
    yaml_node_t                 *kn, *vn, *pn;
    yaml_node_pair_t            *pair, *prev;
    const recsys_catalog_key_t  *key;

    recsys_catalog_where(name, where, sizeof(where));

    if (node != NULL) {
        mark = &node->start_mark;

        for (pair = node->data.mapping.pairs.start;
             pair < node->data.mapping.pairs.top;
             pair++)
        {
            kn = yaml_document_get_node(ctx->doc, pair->key);
            vn = yaml_document_get_node(ctx->doc, pair->value);

            if (kn->type != YAML_SCALAR_NODE) {
                recsys_catalog_got(kn, q, sizeof(q));
                return recsys_catalog_error(ctx, &kn->start_mark,
                                            "key %s must be a scalar, got %s",
                                            where, q);
            }

            recsys_quote((char *) kn->data.scalar.value,
                                 kn->data.scalar.length, q, sizeof(q));

            key = recsys_catalog_lookup(keys, kn);
            if (key == NULL) {
                recsys_catalog_names(keys, names, sizeof(names));
                return recsys_catalog_error(ctx, &kn->start_mark,
                                            "unknown key %s %s, expected one"
                                            " of: %s", q, where, names);
            }

            prev = recsys_catalog_pair(ctx, node, key->name, pair);
            if (prev != NULL) {
                pn = yaml_document_get_node(ctx->doc, prev->key);
                return recsys_catalog_error(ctx, &kn->start_mark,
                                            "duplicate key %s %s, first at"
                                            " %zu:%zu", q, where,
                                            pn->start_mark.line + 1,
                                            pn->start_mark.column + 1);
            }

            if (recsys_catalog_value(ctx, key, vn, base, name) != 0) {
                return -1;
            }
        }
    }

    for (key = keys; key->name != NULL; key++) {
        if (node != NULL && recsys_catalog_pair(ctx, node, key->name, NULL)) {
            continue;
        }

        if (recsys_catalog_absent(ctx, keys, key, base, name, mark) != 0) {
            return -1;
        }
    }

    if (node != NULL) {
        return recsys_catalog_combine(ctx, keys, node, base);
    }

    return 0;
}


/*
 * Checks keys that depend on others, once every value of the mapping is
 * known: a key valid only for one type, two keys that exclude each other.
 */

static int
recsys_catalog_combine(recsys_catalog_ctx_t *ctx,
    const recsys_catalog_key_t *keys, yaml_node_t *node, const char *base)
{
    yaml_node_t                 *kn, *on;
    const char                  *value;
    yaml_node_pair_t            *pair, *other;
    const recsys_catalog_key_t  *key;

    for (pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top;
         pair++)
    {
        kn = yaml_document_get_node(ctx->doc, pair->key);
        key = recsys_catalog_lookup(keys, kn);

        if (key->only && !recsys_catalog_when(keys, key, base, &value)) {
            return recsys_catalog_error(ctx, &kn->start_mark,
                                        "\"%s\" is only valid with %s %s",
                                        key->name, key->when_key, value);
        }

        if (key->conflicts == NULL) {
            continue;
        }

        other = recsys_catalog_pair(ctx, node, key->conflicts, NULL);
        if (other == NULL) {
            continue;
        }

        on = yaml_document_get_node(ctx->doc, other->key);
        if (on->start_mark.index > kn->start_mark.index) {
            kn = on;
        }

        return recsys_catalog_error(ctx, &kn->start_mark,
                                    "\"%s\" and \"%s\" are mutually"
                                    " exclusive", key->conflicts, key->name);
    }

    return 0;
}


static int
recsys_catalog_absent(recsys_catalog_ctx_t *ctx,
    const recsys_catalog_key_t *keys, const recsys_catalog_key_t *key,
    char *base, const char *name, const yaml_mark_t *mark)
{
    char  where[128], child[128];

    if (recsys_catalog_required(keys, key, base)) {
        recsys_catalog_where(name, where, sizeof(where));
        return recsys_catalog_error(ctx, mark, "missing required key \"%s\""
                                    " %s", key->name, where);
    }

    if (key->type == RECSYS_CATALOG_RANKING) {
        recsys_ranking_conf_init(
            (recsys_ranking_conf_t *) (base + key->offset));
        return 0;
    }

    if (key->type == RECSYS_CATALOG_MAPPING) {
        if (key->optional) {
            return 0;
        }

        snprintf(child, sizeof(child), "%s%s%s", name ? name : "",
                 name ? "." : "", key->name);

        return recsys_catalog_mapping(ctx, key->keys, NULL,
                                      base + key->offset, child, mark);
    }

    if (key->dflt != NULL) {
        return recsys_catalog_set(ctx, key, key->dflt, base, mark);
    }

    return 0;
}


static int
recsys_catalog_value(recsys_catalog_ctx_t *ctx,
    const recsys_catalog_key_t *key, yaml_node_t *node, char *base,
    const char *name)
{
    char  expect[256], got[RECSYS_QUOTE_LEN + 8], child[128];

    if (key->type == RECSYS_CATALOG_MAPPING) {
        if (node->type != YAML_MAPPING_NODE) {
            recsys_catalog_got(node, got, sizeof(got));
            return recsys_catalog_error(ctx, &node->start_mark,
                                        "\"%s\" must be a mapping, got %s",
                                        key->name, got);
        }

        snprintf(child, sizeof(child), "%s%s%s", name ? name : "",
                 name ? "." : "", key->name);

        if (key->optional) {
            *(int *) (base + key->offset + key->present) = 1;
        }

        return recsys_catalog_mapping(ctx, key->keys, node,
                                      base + key->offset, child,
                                      &node->start_mark);
    }

    if (key->type == RECSYS_CATALOG_NUMBERS) {
        return recsys_catalog_numbers(ctx, key, node, base);
    }

    if (key->type == RECSYS_CATALOG_RANKING) {
        return recsys_catalog_ranking(ctx, key, node, base);
    }

    if (key->type == RECSYS_CATALOG_PROFILES) {
        return recsys_catalog_profiles(ctx, key, node, base);
    }

    if (node->type != YAML_SCALAR_NODE || recsys_catalog_null(node)) {
        recsys_catalog_expected(key, expect, sizeof(expect));
        recsys_catalog_got(node, got, sizeof(got));
        return recsys_catalog_error(ctx, &node->start_mark,
                                    "\"%s\" must be %s, got %s",
                                    key->name, expect, got);
    }

    if (strlen((char *) node->data.scalar.value) != node->data.scalar.length)
    {
        return recsys_catalog_error(ctx, &node->start_mark,
                                    "\"%s\" must not contain a NUL"
                                    " character", key->name);
    }

    return recsys_catalog_set(ctx, key, (char *) node->data.scalar.value,
                              base, &node->start_mark);
}


/*
 * NUMBERS: each name checked, each value a FLOAT within the key's bounds;
 * errors name the entry.
 */

static int
recsys_catalog_numbers(recsys_catalog_ctx_t *ctx,
    const recsys_catalog_key_t *key, yaml_node_t *node, char *base)
{
    char                       got[RECSYS_QUOTE_LEN + 8];
    char                       expect[256];
    size_t                     n, i;
    yaml_node_t               *kn, *vn;
    yaml_node_pair_t          *pair, *prev;
    recsys_catalog_key_t       entry;
    recsys_catalog_numbers_t  *nums;

    if (node->type != YAML_MAPPING_NODE) {
        recsys_catalog_got(node, got, sizeof(got));
        return recsys_catalog_error(ctx, &node->start_mark,
                                    "\"%s\" must be a mapping of names to"
                                    " numbers, got %s", key->name, got);
    }

    nums = (recsys_catalog_numbers_t *) (base + key->offset);
    n = node->data.mapping.pairs.top - node->data.mapping.pairs.start;

    if (n < key->min) {
        return recsys_catalog_error(ctx, &node->start_mark,
                                    "\"%s\" must have at least %llu"
                                    " entries", key->name,
                                    (unsigned long long) key->min);
    }

    nums->names = calloc(n ? n : 1, sizeof(char *));
    nums->values = calloc(n ? n : 1, sizeof(double));

    if (nums->names == NULL || nums->values == NULL) {
        return recsys_catalog_error(ctx, &node->start_mark, "out of memory");
    }

    memset(&entry, 0, sizeof(recsys_catalog_key_t));
    entry.type = RECSYS_CATALOG_FLOAT;
    entry.fmin = key->fmin;
    entry.fmax = key->fmax;

    for (pair = node->data.mapping.pairs.start, i = 0;
         pair < node->data.mapping.pairs.top;
         pair++, i++)
    {
        kn = yaml_document_get_node(ctx->doc, pair->key);
        vn = yaml_document_get_node(ctx->doc, pair->value);

        recsys_catalog_got(kn, got, sizeof(got));

        if (kn->type != YAML_SCALAR_NODE
            || strlen((char *) kn->data.scalar.value) != kn->data.scalar.length
            || (key->check && key->check((char *) kn->data.scalar.value)))
        {
            snprintf(expect, sizeof(expect), "%s",
                     key->expect ? key->expect : "a name");
            return recsys_catalog_error(ctx, &kn->start_mark,
                                        "a key of \"%s\" must be %s, got %s",
                                        key->name, expect, got);
        }

        prev = recsys_catalog_pair(ctx, node, (char *) kn->data.scalar.value,
                                   pair);
        if (prev != NULL) {
            return recsys_catalog_error(ctx, &kn->start_mark,
                                        "duplicate key %s in \"%s\"", got,
                                        key->name);
        }

        nums->names[i] = strdup((char *) kn->data.scalar.value);
        if (nums->names[i] == NULL) {
            return recsys_catalog_error(ctx, &kn->start_mark,
                                        "out of memory");
        }

        nums->n = i + 1;
        entry.name = nums->names[i];

        if (recsys_catalog_value(ctx, &entry, vn, (char *) &nums->values[i],
                                 NULL)
            != 0)
        {
            return -1;
        }
    }

    return 0;
}


/* interpolates text, checks it against key and stores it at base */

static int
recsys_catalog_set(recsys_catalog_ctx_t *ctx, const recsys_catalog_key_t *key,
    const char *text, char *base, const yaml_mark_t *mark)
{
    int                           rc;
    char                          msg[RECSYS_CATALOG_ERRLEN], expect[256];
    char                          got[RECSYS_QUOTE_LEN + 8];
    char                         *s, *path, **slot;
    double                        d;
    uint64_t                      n;
    const recsys_catalog_enum_t  *e;

    s = recsys_interpolate(text, msg, sizeof(msg));
    if (s == NULL) {
        return recsys_catalog_error(ctx, mark, "%s", msg);
    }

    recsys_quote(s, strlen(s), got, sizeof(got));
    recsys_catalog_expected(key, expect, sizeof(expect));

    switch (key->type) {

    case RECSYS_CATALOG_INT:
        rc = recsys_catalog_uint(s, &n);

        if (rc == -1) {
            recsys_catalog_error(ctx, mark, "\"%s\" must be an integer,"
                                 " got %s", key->name, got);
            goto failed;
        }

        if (rc == -2 || n < key->min || n > key->max) {
            recsys_catalog_error(ctx, mark, "\"%s\" must be between %llu"
                                 " and %llu, got %s", key->name,
                                 (unsigned long long) key->min,
                                 (unsigned long long) key->max, s);
            goto failed;
        }

        /* every INT row has max <= UINT32_MAX */
        *(uint32_t *) (base + key->offset) = (uint32_t) n;
        free(s);
        return 0;

    case RECSYS_CATALOG_DURATION:
        rc = recsys_duration_parse(s, key->max, &n);

        if (rc == -1) {
            recsys_catalog_error(ctx, mark, "\"%s\" must be %s, got %s",
                                 key->name, expect, got);
            goto failed;
        }

        if (rc == -2) {
            recsys_catalog_error(ctx, mark, "\"%s\" must be at most %llus"
                                 " (%llud), got %s", key->name,
                                 (unsigned long long) key->max,
                                 (unsigned long long) key->max / 86400, got);
            goto failed;
        }

        if (n < key->min) {
            recsys_catalog_error(ctx, mark, "\"%s\" must be at least %llus,"
                                 " got %s", key->name,
                                 (unsigned long long) key->min, got);
            goto failed;
        }

        *(uint64_t *) (base + key->offset) = n;
        free(s);
        return 0;

    case RECSYS_CATALOG_FLOAT:
        if (recsys_catalog_float(s, &d) != 0) {
            recsys_catalog_error(ctx, mark, "\"%s\" must be a number, got %s",
                                 key->name, got);
            goto failed;
        }

        if (d < key->fmin || d > key->fmax) {
            recsys_catalog_error(ctx, mark, "\"%s\" must be between %g and"
                                 " %g, got %s", key->name, key->fmin,
                                 key->fmax, s);
            goto failed;
        }

        *(double *) (base + key->offset) = d;
        free(s);
        return 0;

    case RECSYS_CATALOG_SIZE:
        rc = recsys_catalog_size(s, &n);

        if (rc == -1) {
            recsys_catalog_error(ctx, mark, "\"%s\" must be %s, got %s",
                                 key->name, expect, got);
            goto failed;
        }

        if (rc == -2 || n < key->min || n > key->max) {
            recsys_catalog_error(ctx, mark, "\"%s\" must be between %llu"
                                 " and %llu bytes, got %s", key->name,
                                 (unsigned long long) key->min,
                                 (unsigned long long) key->max, got);
            goto failed;
        }

        *(uint64_t *) (base + key->offset) = n;
        free(s);
        return 0;

    case RECSYS_CATALOG_ENUM:
        for (e = key->values; e->name != NULL; e++) {
            if (strcmp(e->name, s) == 0) {
                break;
            }
        }

        if (e->name == NULL) {
            recsys_catalog_error(ctx, mark, "\"%s\" must be %s, got %s",
                                 key->name, expect, got);
            goto failed;
        }

        if (e->unsupported != NULL) {
            recsys_catalog_error(ctx, mark, "%s", e->unsupported);
            goto failed;
        }

        *(int *) (base + key->offset) = e->value;
        free(s);
        return 0;

    default: /* RECSYS_CATALOG_STRING, RECSYS_CATALOG_PATH */

        if (*s == '\0') {
            recsys_catalog_error(ctx, mark, "\"%s\" must not be empty",
                                 key->name);
            goto failed;
        }

        if (key->check != NULL && key->check(s) != 0) {
            recsys_catalog_error(ctx, mark, "\"%s\" must be %s, got %s",
                                 key->name, expect, got);
            goto failed;
        }

        if (key->type == RECSYS_CATALOG_PATH) {
            if (strlen(s) >= PATH_MAX) {
                recsys_catalog_error(ctx, mark, "\"%s\" is longer than %d"
                                     " bytes", key->name, PATH_MAX - 1);
                goto failed;
            }

            if (s[0] != '/') {
                path = recsys_catalog_resolve(ctx, s, mark);
                if (path == NULL) {
                    goto failed;
                }

                free(s);
                s = path;
            }

            /* a path others append names to: they can never be cut */
            if (key->max != 0 && strlen(s) > key->max) {
                recsys_quote(s, strlen(s), got, sizeof(got));
                recsys_catalog_error(ctx, mark, "\"%s\" %s is longer than"
                                     " %llu bytes", key->name, got,
                                     (unsigned long long) key->max);
                goto failed;
            }
        }

        slot = (char **) (base + key->offset);
        free(*slot);
        *slot = s;
        return 0;
    }

failed:

    free(s);

    return -1;
}


/* realpath of the YAML file's directory + "/" + value; need not exist */

static char *
recsys_catalog_resolve(recsys_catalog_ctx_t *ctx, const char *value,
    const yaml_mark_t *mark)
{
    int      e;
    char    *dir, *slash, *path;
    size_t   len;

    if (ctx->dir == NULL) {
        dir = strdup(ctx->file);
        if (dir == NULL) {
            recsys_catalog_error(ctx, mark, "out of memory");
            return NULL;
        }

        slash = strrchr(dir, '/');

        if (slash == NULL) {
            strcpy(dir, ".");

        } else if (slash == dir) {
            dir[1] = '\0';

        } else {
            *slash = '\0';
        }

        ctx->dir = realpath(dir, NULL);

        if (ctx->dir == NULL) {
            e = errno;
            recsys_catalog_error(ctx, mark, "cannot resolve directory \"%s\":"
                                 " %s", dir, strerror(e));
            free(dir);
            return NULL;
        }

        free(dir);
    }

    len = strlen(ctx->dir) + 1 + strlen(value);

    if (len >= PATH_MAX) {
        recsys_catalog_error(ctx, mark, "path \"%s/%s\" is longer than %d"
                             " bytes", ctx->dir, value, PATH_MAX - 1);
        return NULL;
    }

    path = malloc(len + 1);
    if (path == NULL) {
        recsys_catalog_error(ctx, mark, "out of memory");
        return NULL;
    }

    /* realpath of "/" is the only one ending in a slash */

    snprintf(path, len + 1, "%s%s%s", ctx->dir,
             strcmp(ctx->dir, "/") == 0 ? "" : "/", value);

    return path;
}


/* the first pair of map named name, before end if end is not NULL */

static yaml_node_pair_t *
recsys_catalog_pair(recsys_catalog_ctx_t *ctx, yaml_node_t *map,
    const char *name, yaml_node_pair_t *end)
{
    size_t             len;
    yaml_node_t       *kn;
    yaml_node_pair_t  *pair, *last;

    len = strlen(name);
    last = end ? end : map->data.mapping.pairs.top;

    for (pair = map->data.mapping.pairs.start; pair < last; pair++) {
        kn = yaml_document_get_node(ctx->doc, pair->key);

        if (kn->type == YAML_SCALAR_NODE
            && kn->data.scalar.length == len
            && memcmp(kn->data.scalar.value, name, len) == 0)
        {
            return pair;
        }
    }

    return NULL;
}


static const recsys_catalog_key_t *
recsys_catalog_lookup(const recsys_catalog_key_t *keys, yaml_node_t *kn)
{
    const recsys_catalog_key_t  *key;

    for (key = keys; key->name != NULL; key++) {
        if (strlen(key->name) == kn->data.scalar.length
            && memcmp(key->name, kn->data.scalar.value,
                      kn->data.scalar.length) == 0)
        {
            return key;
        }
    }

    return NULL;
}


static int
recsys_catalog_required(const recsys_catalog_key_t *keys,
    const recsys_catalog_key_t *key, const char *base)
{
    const char  *value;

    if (!key->required) {
        return 0;
    }

    return recsys_catalog_when(keys, key, base, &value);
}


/* 1 when key's condition holds; value names the value it needs */

static int
recsys_catalog_when(const recsys_catalog_key_t *keys,
    const recsys_catalog_key_t *key, const char *base, const char **value)
{
    const recsys_catalog_key_t   *k;
    const recsys_catalog_enum_t  *e;

    *value = "";

    if (key->when_key == NULL) {
        return 1;
    }

    for (k = keys; k->name != NULL; k++) {
        if (strcmp(k->name, key->when_key) != 0) {
            continue;
        }

        for (e = k->values; e != NULL && e->name != NULL; e++) {
            if (e->value == key->when_value) {
                *value = e->name;
            }
        }

        return *(const int *) (base + k->offset) == key->when_value;
    }

    return 1;
}


/* [schema.]table: plain identifiers, quoted by the reader */

static int
recsys_catalog_table_name(const char *s)
{
    int          dots;
    const char  *p;

    dots = 0;

    for (p = s; *p != '\0'; p++) {
        if (*p == '.') {
            if (p == s || p[1] == '\0' || p[-1] == '.' || ++dots > 1) {
                return -1;
            }

            continue;
        }

        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_'
              || (unsigned char) *p >= 0x80))
        {
            return -1;
        }
    }

    return (p == s) ? -1 : 0;
}


/* a plain "", "~" or "null" is YAML's null, not a string */

static int
recsys_catalog_null(yaml_node_t *node)
{
    const char  *v;

    if (node->type != YAML_SCALAR_NODE
        || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    {
        return 0;
    }

    v = (const char *) node->data.scalar.value;

    return *v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0
           || strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}


static void
recsys_catalog_expected(const recsys_catalog_key_t *key, char *buf,
    size_t size)
{
    size_t                        n;
    const recsys_catalog_enum_t  *e;

    switch (key->type) {

    case RECSYS_CATALOG_INT:
        snprintf(buf, size, "an integer");
        return;

    case RECSYS_CATALOG_PATH:
        snprintf(buf, size, "a path");
        return;

    case RECSYS_CATALOG_DURATION:
        snprintf(buf, size, "a duration like 30s, 10m, 24h, 7d or 0");
        return;

    case RECSYS_CATALOG_MAPPING:
        snprintf(buf, size, "a mapping");
        return;

    case RECSYS_CATALOG_FLOAT:
        snprintf(buf, size, "a number");
        return;

    case RECSYS_CATALOG_SIZE:
        snprintf(buf, size, "a size like 512, 64k, 16m or 1g");
        return;

    case RECSYS_CATALOG_NUMBERS:
        snprintf(buf, size, "a mapping of names to numbers");
        return;

    case RECSYS_CATALOG_RANKING:
    case RECSYS_CATALOG_PROFILES:
        snprintf(buf, size, "a mapping");
        return;

    case RECSYS_CATALOG_ENUM:
        n = snprintf(buf, size, "one of");

        for (e = key->values; e->name != NULL && n < size; e++) {
            n += snprintf(buf + n, size - n, "%s %s",
                          e == key->values ? "" : ",", e->name);
        }

        return;

    default:
        snprintf(buf, size, "%s", key->expect ? key->expect : "a string");
        return;
    }
}


static void
recsys_catalog_got(yaml_node_t *node, char *buf, size_t size)
{
    switch (node->type) {

    case YAML_MAPPING_NODE:
        snprintf(buf, size, "a mapping");
        return;

    case YAML_SEQUENCE_NODE:
        snprintf(buf, size, "a sequence");
        return;

    default:
        if (recsys_catalog_null(node)) {
            snprintf(buf, size, "null");
            return;
        }

        recsys_quote((char *) node->data.scalar.value,
                             node->data.scalar.length, buf, size);
        return;
    }
}


static void
recsys_catalog_names(const recsys_catalog_key_t *keys, char *buf,
    size_t size)
{
    size_t                       n;
    const recsys_catalog_key_t  *key;

    n = 0;
    buf[0] = '\0';

    for (key = keys; key->name != NULL && n < size; key++) {
        n += snprintf(buf + n, size - n, "%s%s", key == keys ? "" : ", ",
                      key->name);
    }
}


static void
recsys_catalog_where(const char *name, char *buf, size_t size)
{
    if (name == NULL) {
        snprintf(buf, size, "at top level");

    } else {
        snprintf(buf, size, "in \"%s\"", name);
    }
}


static int
recsys_catalog_error(recsys_catalog_ctx_t *ctx, const yaml_mark_t *mark,
    const char *fmt, ...)
{
    int      n;
    va_list  args;

    if (ctx->errlen == 0) {
        return -1;
    }

    n = snprintf(ctx->err, ctx->errlen, "%s:%zu:%zu: ", ctx->file,
                 mark->line + 1, mark->column + 1);

    if (n >= 0 && (size_t) n < ctx->errlen) {
        va_start(args, fmt);
        vsnprintf(ctx->err + n, ctx->errlen - n, fmt, args);
        va_end(args);
    }

    return -1;
}


/* 0, -1 when s is not a plain decimal, -2 when it overflows */

static int
recsys_catalog_uint(const char *s, uint64_t *out)
{
    char                *end;
    const char          *p;
    unsigned long long   v;

    if (*s == '\0') {
        return -1;
    }

    for (p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
    }

    /* YAML 1.1 reads a leading zero as octal: refuse the ambiguity */

    if (s[0] == '0' && s[1] != '\0') {
        return -1;
    }

    errno = 0;
    v = strtoull(s, &end, 10);

    if (errno == ERANGE) {
        return -2;
    }

    if (errno != 0 || *end != '\0') {
        return -1;
    }

    *out = v;

    return 0;
}


/* a finite decimal number: no hex, "inf" or "nan"; 0 or -1 */

static int
recsys_catalog_float(const char *s, double *out)
{
    char        *end;
    double       d;
    const char  *p;

    if (*s == '\0') {
        return -1;
    }

    for (p = s; *p != '\0'; p++) {
        if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == '-'
              || *p == '+' || *p == 'e' || *p == 'E'))
        {
            return -1;
        }
    }

    errno = 0;
    d = strtod(s, &end);

    if (*end != '\0' || end == s || errno == ERANGE || !isfinite(d)) {
        return -1;
    }

    *out = d;

    return 0;
}


/* bytes with an optional k, m or g (1024-based); -1 not a size, -2 huge */

static int
recsys_catalog_size(const char *s, uint64_t *out)
{
    int        rc;
    char       buf[32];
    size_t     len;
    uint64_t   n, unit;

    len = strlen(s);

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }

    memcpy(buf, s, len + 1);
    unit = 1;

    switch (buf[len - 1]) {
    case 'k': case 'K': unit = 1024ULL; break;
    case 'm': case 'M': unit = 1024ULL * 1024; break;
    case 'g': case 'G': unit = 1024ULL * 1024 * 1024; break;
    default: break;
    }

    if (unit != 1) {
        buf[--len] = '\0';
    }

    rc = recsys_catalog_uint(buf, &n);
    if (rc != 0) {
        return rc;
    }

    if (n > UINT64_MAX / 2 / unit) {
        return -2;
    }

    *out = n * unit;

    return 0;
}


/* an event type name: 1..64 of [A-Za-z0-9_.-] */

static int
recsys_catalog_type_name(const char *s)
{
    const char  *p;

    for (p = s; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'
              || *p == '.'))
        {
            return -1;
        }
    }

    return (p == s || p - s > 64) ? -1 : 0;
}


/*
 * The "events:" defaults that come from other sections: the file store
 * next to the index, the source's dsn for a PostgreSQL store.
 */

static int
recsys_catalog_events(recsys_catalog_ctx_t *ctx, recsys_catalog_t *c,
    yaml_node_t *root)
{
    size_t                       len;
    yaml_node_t                 *node;
    yaml_node_pair_t            *pair;
    recsys_events_store_conf_t  *st;

    if (!c->events.enabled) {
        return 0;
    }

    st = &c->events.store;
    pair = recsys_catalog_pair(ctx, root, "events", NULL);
    node = yaml_document_get_node(ctx->doc, pair->value);

    if (st->type == RECSYS_STORE_FILE && st->path == NULL) {
        len = strlen(c->index.path) + sizeof("/events.jsonl");

        if (len > PATH_MAX) {
            return recsys_catalog_error(ctx, &node->start_mark,
                                        "\"events.store.path\" would be"
                                        " longer than %d bytes",
                                        PATH_MAX - 1);
        }

        st->path = malloc(len);
        if (st->path == NULL) {
            return recsys_catalog_error(ctx, &node->start_mark,
                                        "out of memory");
        }

        snprintf(st->path, len, "%s/events.jsonl", c->index.path);
    }

    if (st->type == RECSYS_STORE_POSTGRESQL && st->dsn == NULL) {
        if (c->source.type != RECSYS_SOURCE_POSTGRESQL) {
            return recsys_catalog_error(ctx, &node->start_mark,
                                        "\"dsn\" is required in"
                                        " \"events.store\" when the source"
                                        " is not postgresql");
        }

        st->dsn = strdup(c->source.dsn);
        if (st->dsn == NULL) {
            return recsys_catalog_error(ctx, &node->start_mark,
                                        "out of memory");
        }
    }

    return 0;
}


/* a postgresql "users:" without a dsn reads the items source's database */

static int
recsys_catalog_users(recsys_catalog_ctx_t *ctx, recsys_catalog_t *c,
    yaml_node_t *root)
{
    yaml_node_t           *node;
    yaml_node_pair_t      *pair;
    recsys_source_conf_t  *us;

    us = &c->users.source;

    if (!c->users.enabled || us->type != RECSYS_SOURCE_POSTGRESQL
        || us->dsn != NULL)
    {
        return 0;
    }

    pair = recsys_catalog_pair(ctx, root, "users", NULL);
    node = yaml_document_get_node(ctx->doc, pair->value);

    if (c->source.type != RECSYS_SOURCE_POSTGRESQL) {
        return recsys_catalog_error(ctx, &node->start_mark,
                                    "\"dsn\" is required in \"users\""
                                    " when the source is not postgresql");
    }

    us->dsn = strdup(c->source.dsn);
    if (us->dsn == NULL) {
        return recsys_catalog_error(ctx, &node->start_mark, "out of memory");
    }

    return 0;
}


/*
 * "model:" needs the events store it trains from; promote_if is parsed
 * here so that its error names the value's position and what is wrong.
 */

static int
recsys_catalog_model(recsys_catalog_ctx_t *ctx, recsys_catalog_t *c,
    yaml_node_t *root)
{
    char               why[256];
    yaml_node_t       *node, *value;
    yaml_node_pair_t  *pair;

    if (!c->model.enabled) {
        return 0;
    }

    pair = recsys_catalog_pair(ctx, root, "model", NULL);
    node = yaml_document_get_node(ctx->doc, pair->value);

    if (!c->events.enabled) {
        return recsys_catalog_error(ctx, &node->start_mark,
                                    "\"model\" trains from the events"
                                    " store: it needs an \"events\""
                                    " section");
    }

    if (!c->model.popularity.enabled && !c->model.item_item.enabled
        && !c->model.factors.enabled)
    {
        return recsys_catalog_error(ctx, &node->start_mark,
                                    "\"model\" trains nothing: give at"
                                    " least one of \"popularity\","
                                    " \"item_item\", \"factors\"");
    }

    /*
     * A user vector is ranked against the index: the index must hold the
     * model's item vectors, scored by the dot product ALS was fitted for.
     */
    if (c->model.factors.enabled
        && (c->model.factors.factors != c->index.dimension
            || c->index.metric != RECSYS_METRIC_INNER_PRODUCT))
    {
        pair = recsys_catalog_pair(ctx, node, "factors", NULL);
        value = pair ? yaml_document_get_node(ctx->doc, pair->value) : node;

        return recsys_catalog_error(ctx, &value->start_mark,
                                    "\"factors\" makes the index hold"
                                    " the model's item vectors: it needs"
                                    " index.dimension equal to"
                                    " factors.factors (%u, not %u) and"
                                    " index.metric inner_product (the"
                                    " dot product ALS fits)",
                                    c->model.factors.factors,
                                    c->index.dimension);
    }

    if (recsys_promote_parse(c->model.promote_if, &c->model.promote, why,
                             sizeof(why))
        == 0)
    {
        return 0;
    }

    pair = recsys_catalog_pair(ctx, node, "promote_if", NULL);
    value = pair ? yaml_document_get_node(ctx->doc, pair->value) : node;

    return recsys_catalog_error(ctx, &value->start_mark, "\"promote_if\""
                                " %s", why);
}


static const char *
recsys_promote_skip(const char *p)
{
    while (*p == ' ' || *p == '\t') {
        p++;
    }

    return p;
}


static int
recsys_promote_word(const char **pp, const char *word)
{
    size_t       len;
    const char  *p;

    p = recsys_promote_skip(*pp);
    len = strlen(word);

    if (strncmp(p, word, len) != 0
        || ((p[len] >= 'a' && p[len] <= 'z') || p[len] == '_'
            || (p[len] >= '0' && p[len] <= '9')))
    {
        return 0;
    }

    *pp = p + len;

    return 1;
}


static int
recsys_promote_number(const char **pp, double *v)
{
    char        *end;
    const char  *p;

    p = recsys_promote_skip(*pp);

    if (!((*p >= '0' && *p <= '9') || *p == '.')) {
        return -1;
    }

    *v = strtod(p, &end);

    if (end == p || !isfinite(*v) || *v > 1e6) {
        return -1;
    }

    *pp = end;

    return 0;
}


int
recsys_promote_parse(const char *s, recsys_promote_t *r, char *err,
    size_t errlen)
{
    char                    op;
    double                  v;
    const char             *p;
    recsys_promote_cond_t  *c;

    memset(r, 0, sizeof(recsys_promote_t));
    p = s;

    if (recsys_promote_word(&p, "always")) {
        if (*recsys_promote_skip(p) != '\0') {
            snprintf(err, errlen, "has text after \"always\"");
            return -1;
        }

        return 0;
    }

    for ( ;; ) {
        if (r->n == RECSYS_PROMOTE_MAX) {
            snprintf(err, errlen, "has more than %d comparisons",
                     RECSYS_PROMOTE_MAX);
            return -1;
        }

        c = &r->conds[r->n];

        if (recsys_promote_word(&p, "recall_at_10")) {
            c->metric = RECSYS_PROMOTE_RECALL;

        } else if (recsys_promote_word(&p, "ndcg_at_10")) {
            c->metric = RECSYS_PROMOTE_NDCG;

        } else {
            snprintf(err, errlen, "expects \"always\" or recall_at_10 or"
                     " ndcg_at_10 at offset %d", (int) (p - s));
            return -1;
        }

        p = recsys_promote_skip(p);

        if (p[0] == '>' && p[1] == '=') {
            p += 2;

        } else if (p[0] == '>') {
            c->strict = 1;
            p++;

        } else {
            snprintf(err, errlen, "expects \">=\" or \">\" at offset %d",
                     (int) (p - s));
            return -1;
        }

        c->factor = 1;

        if (recsys_promote_word(&p, "served")) {
            c->served = 1;
            p = recsys_promote_skip(p);
            op = *p;

            if (op == '*' || op == '-') {
                p++;

                if (recsys_promote_number(&p, &v) != 0) {
                    snprintf(err, errlen, "expects a number at offset %d",
                             (int) (recsys_promote_skip(p) - s));
                    return -1;
                }

                if (op == '*') {
                    c->factor = v;

                } else {
                    c->offset = -v;
                }
            }

        } else if (recsys_promote_number(&p, &c->offset) != 0) {
            snprintf(err, errlen, "expects \"served\" or a number at"
                     " offset %d", (int) (recsys_promote_skip(p) - s));
            return -1;
        }

        r->n++;

        if (*recsys_promote_skip(p) == '\0') {
            return 0;
        }

        if (!recsys_promote_word(&p, "and")) {
            snprintf(err, errlen, "expects \"and\" or the end at offset %d",
                     (int) (recsys_promote_skip(p) - s));
            return -1;
        }
    }
}


int
recsys_promote_eval(const recsys_promote_t *r, const double *fresh,
    int has_served, const double *served)
{
    double                        want, got;
    uint32_t                      i;
    const recsys_promote_cond_t  *c;

    for (i = 0; i < r->n; i++) {
        c = &r->conds[i];

        if (c->served && !has_served) {
            continue;
        }

        want = c->served ? served[c->metric] * c->factor + c->offset
                         : c->offset;
        got = fresh[c->metric];

        if (c->strict ? !(got > want) : !(got >= want)) {
            return 0;
        }
    }

    return 1;
}


static void
recsys_catalog_free_keys(const recsys_catalog_key_t *keys, char *base)
{
    size_t                       i;
    recsys_catalog_numbers_t    *nums;
    const recsys_catalog_key_t  *key;

    for (key = keys; key->name != NULL; key++) {

        switch (key->type) {

        case RECSYS_CATALOG_STRING:
        case RECSYS_CATALOG_PATH:
            free(*(char **) (base + key->offset));
            *(char **) (base + key->offset) = NULL;
            break;

        case RECSYS_CATALOG_MAPPING:
            recsys_catalog_free_keys(key->keys, base + key->offset);
            break;

        case RECSYS_CATALOG_NUMBERS:
            nums = (recsys_catalog_numbers_t *) (base + key->offset);

            for (i = 0; i < nums->n; i++) {
                free(nums->names[i]);
            }

            free(nums->names);
            free(nums->values);
            memset(nums, 0, sizeof(recsys_catalog_numbers_t));
            break;

        case RECSYS_CATALOG_RANKING:
        case RECSYS_CATALOG_PROFILES:
            recsys_ranking_conf_free(
                (recsys_ranking_conf_t *) (base + key->offset));
            break;

        default:
            break;
        }
    }
}


static int
recsys_catalog_buf_add(recsys_catalog_buf_t *b, const char *s, size_t n)
{
    char    *data;
    size_t   cap;

    if (b->len + n + 1 > b->cap) {
        cap = b->cap * 2;

        if (cap < b->len + n + 1) {
            cap = b->len + n + 1;
        }

        data = realloc(b->data, cap);
        if (data == NULL) {
            return -1;
        }

        b->data = data;
        b->cap = cap;
    }

    memcpy(b->data + b->len, s, n);
    b->len += n;

    return 0;
}


/* a decimal without leading zero in min..max; advances *p past it */

static int
recsys_factory_number(const char **p, uint64_t min, uint64_t max)
{
    uint64_t     v;
    const char  *s;

    s = *p;

    if (*s < '1' || *s > '9') {
        return -1;
    }

    v = 0;

    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s - '0');

        if (v > max) {
            return -1;
        }

        s++;
    }

    if (v < min) {
        return -1;
    }

    *p = s;

    return 0;
}


/*
 * "ranking:": its keys through the schema into a scratch struct, then
 * "default" resolved to a profile; the result replaces the conf at base
 * only when everything is valid.
 */

static int
recsys_catalog_ranking(recsys_catalog_ctx_t *ctx,
    const recsys_catalog_key_t *key, yaml_node_t *node, char *base)
{
    char                       got[RECSYS_QUOTE_LEN + 8];
    int64_t                    i;
    yaml_node_t               *vn;
    yaml_node_pair_t          *pair;
    recsys_ranking_conf_t     *rc;
    recsys_catalog_ranking_t   r;

    rc = (recsys_ranking_conf_t *) (base + key->offset);
    recsys_ranking_conf_init(rc);

    if (node->type != YAML_MAPPING_NODE) {
        recsys_catalog_got(node, got, sizeof(got));
        return recsys_catalog_error(ctx, &node->start_mark,
                                    "\"%s\" must be a mapping, got %s",
                                    key->name, got);
    }

    memset(&r, 0, sizeof(recsys_catalog_ranking_t));
    recsys_ranking_conf_init(&r.conf);

    if (recsys_catalog_mapping(ctx, recsys_catalog_ranking_keys, node,
                               (char *) &r, key->name, &node->start_mark)
        != 0)
    {
        goto failed;
    }

    /* l2 divides by 1 - w */
    if (r.negative_weight >= 1) {
        pair = recsys_catalog_pair(ctx, node, "negative_weight", NULL);
        vn = yaml_document_get_node(ctx->doc, pair->value);
        recsys_catalog_error(ctx, &vn->start_mark, "\"negative_weight\""
                             " must be at least 0 and less than 1, got %g",
                             r.negative_weight);
        goto failed;
    }

    if (r.dflt != NULL) {
        i = recsys_ranking_find(&r.conf, r.dflt, strlen(r.dflt));

        if (i < 0) {
            pair = recsys_catalog_pair(ctx, node, "default", NULL);
            vn = yaml_document_get_node(ctx->doc, pair->value);
            recsys_quote(r.dflt, strlen(r.dflt), got, sizeof(got));
            recsys_catalog_error(ctx, &vn->start_mark, "\"default\" must"
                                 " name a profile of \"ranking.profiles\","
                                 " got %s", got);
            goto failed;
        }

        r.conf.dflt = (int32_t) i;
    }

    r.conf.negative_weight = (float) r.negative_weight;
    *rc = r.conf;
    free(r.dflt);

    return 0;

failed:

    free(r.dflt);
    recsys_ranking_conf_free(&r.conf);

    return -1;
}


/* "ranking.profiles": profile names to profiles, at least one */

static int
recsys_catalog_profiles(recsys_catalog_ctx_t *ctx,
    const recsys_catalog_key_t *key, yaml_node_t *node, char *base)
{
    char                    got[RECSYS_QUOTE_LEN + 8];
    size_t                  n, i;
    yaml_node_t            *kn, *vn;
    yaml_node_pair_t       *pair;
    recsys_profile_t       *p;
    recsys_ranking_conf_t  *rc;

    rc = (recsys_ranking_conf_t *) (base + key->offset);

    if (node->type != YAML_MAPPING_NODE) {
        recsys_catalog_got(node, got, sizeof(got));
        return recsys_catalog_error(ctx, &node->start_mark,
                                    "\"%s\" must be a mapping of profile"
                                    " names to profiles, got %s", key->name,
                                    got);
    }

    n = node->data.mapping.pairs.top - node->data.mapping.pairs.start;

    if (n == 0) {
        return recsys_catalog_error(ctx, &node->start_mark,
                                    "\"%s\" must have at least one profile",
                                    key->name);
    }

    rc->profiles = calloc(n, sizeof(recsys_profile_t));
    if (rc->profiles == NULL) {
        return recsys_catalog_error(ctx, &node->start_mark, "out of memory");
    }

    for (pair = node->data.mapping.pairs.start, i = 0;
         pair < node->data.mapping.pairs.top;
         pair++, i++)
    {
        kn = yaml_document_get_node(ctx->doc, pair->key);
        vn = yaml_document_get_node(ctx->doc, pair->value);

        recsys_catalog_got(kn, got, sizeof(got));

        if (kn->type != YAML_SCALAR_NODE
            || strlen((char *) kn->data.scalar.value) != kn->data.scalar.length
            || recsys_catalog_type_name((char *) kn->data.scalar.value) != 0)
        {
            return recsys_catalog_error(ctx, &kn->start_mark,
                                        "a key of \"%s\" must be a profile"
                                        " name of 1 to 64 letters, digits,"
                                        " '_', '-' or '.', got %s",
                                        key->name, got);
        }

        if (recsys_catalog_pair(ctx, node, (char *) kn->data.scalar.value,
                                pair)
            != NULL)
        {
            return recsys_catalog_error(ctx, &kn->start_mark,
                                        "duplicate profile %s in"
                                        " \"ranking.%s\"", got, key->name);
        }

        p = &rc->profiles[i];
        recsys_profile_init(p);
        rc->nprofiles = i + 1;

        p->name = strdup((char *) kn->data.scalar.value);
        if (p->name == NULL) {
            return recsys_catalog_error(ctx, &kn->start_mark,
                                        "out of memory");
        }

        if (recsys_catalog_profile(ctx, vn, p->name, p) != 0) {
            return -1;
        }
    }

    return 0;
}


/* one profile through the schema, then into p (strings moved over) */

static int
recsys_catalog_profile(recsys_catalog_ctx_t *ctx, yaml_node_t *node,
    const char *name, recsys_profile_t *p)
{
    int                        rc;
    char                       where[128], got[RECSYS_QUOTE_LEN + 8];
    size_t                     i, n;
    recsys_catalog_numbers_t  *nums;
    recsys_catalog_profile_t   t;

    snprintf(where, sizeof(where), "ranking.profiles.%s", name);

    if (node->type != YAML_MAPPING_NODE) {
        recsys_catalog_got(node, got, sizeof(got));
        return recsys_catalog_error(ctx, &node->start_mark,
                                    "profile \"%s\" must be a mapping, got"
                                    " %s", name, got);
    }

    memset(&t, 0, sizeof(recsys_catalog_profile_t));

    rc = recsys_catalog_mapping(ctx, recsys_catalog_profile_keys, node,
                                (char *) &t, where, &node->start_mark);

    if (rc == 0 && t.weights.freshness > 0 && !t.freshness.present) {
        rc = recsys_catalog_error(ctx, &node->start_mark,
                                  "\"weights.freshness\" in \"%s\" needs"
                                  " \"freshness\" with \"field\" and"
                                  " \"half_life\"", where);
    }

    if (rc != 0) {
        recsys_catalog_free_keys(recsys_catalog_profile_keys, (char *) &t);
        return -1;
    }

    p->candidates = t.candidates;
    p->w_similarity = (float) t.weights.similarity;
    p->w_popularity = (float) t.weights.popularity;
    p->w_freshness = (float) t.weights.freshness;
    p->popularity = t.popularity;

    if (t.freshness.present) {
        p->freshness_field = t.freshness.field;
        p->half_life = t.freshness.half_life;
        t.freshness.field = NULL;
    }

    nums = &t.boost.category;
    n = nums->n;

    if (n) {
        p->boosts = calloc(n, sizeof(recsys_boost_t));
        if (p->boosts == NULL) {
            recsys_catalog_free_keys(recsys_catalog_profile_keys,
                                     (char *) &t);
            return recsys_catalog_error(ctx, &node->start_mark,
                                        "out of memory");
        }

        for (i = 0; i < n; i++) {
            p->boosts[i].category = nums->names[i];
            p->boosts[i].weight = (float) nums->values[i];
            nums->names[i] = NULL;
        }

        p->nboosts = (uint32_t) n;
    }

    if (t.diversity.present) {
        p->mmr_lambda = (float) t.diversity.mmr;
    }

    recsys_catalog_free_keys(recsys_catalog_profile_keys, (char *) &t);

    return 0;
}
