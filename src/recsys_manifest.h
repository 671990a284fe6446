/*
 * manifest.json: what a generation holds (counts, dimension, metric,
 * factory, source, build times, the generation it was built over) and
 * each file's size and checksum.
 */

#ifndef _RECSYS_MANIFEST_H_INCLUDED_
#define _RECSYS_MANIFEST_H_INCLUDED_


#include "recsys_artifact.h"


/* items, vectors, index, the optional neighbors, itemsim and users, and room */
#define RECSYS_MANIFEST_FILES      8


typedef struct {
    char                name[32];
    uint64_t            size;
    uint64_t            checksum;
} recsys_file_sum_t;


/*
 * The factor model (ALS) of a generation: its user vectors are users.bin,
 * its item vectors the index's.  Figures as the item-item model's.
 */
typedef struct {
    int                 trained;        /* 0: no "factors" in the model */
    uint32_t            factors;
    double              train_seconds;
    uint64_t            users;          /* given a vector in users.bin */
    double              recall;         /* hold-out, trained without it */
    double              ndcg;
    double              gate_recall;    /* trained on every entry */
    double              gate_ndcg;
    int                 has_served;     /* the served ALS was scored */
    double              served_recall;
    double              served_ndcg;
} recsys_manifest_factors_t;


/* what the builder trained with the generation, and the gate's figures */
typedef struct {
    int                 trained;        /* 0: no "model" in the manifest */
    char                algorithm[16];  /* item-item: "ease", "itemknn" */
    char                trained_at[32]; /* ISO 8601 UTC */
    double              train_seconds;
    uint64_t            events;         /* read from the store */
    uint64_t            entries;        /* (user, item) pairs trained on */
    uint64_t            users;
    uint32_t            scored;         /* hold-out users scored */
    double              recall;         /* Recall@10 on the hold-out,
                                           trained without it */
    double              ndcg;           /* NDCG@10, the same */
    double              gate_recall;    /* trained on every entry: the */
    double              gate_ndcg;      /* figures promote_if compares */
    int                 has_served;     /* the served model was scored */
    uint64_t            served_generation;
    double              served_recall;
    double              served_ndcg;
    char                promote_if[128];
    recsys_manifest_factors_t  factors;
} recsys_manifest_model_t;


typedef struct {
    uint32_t            format;         /* 1 */
    uint64_t            generation;
    uint64_t            items;
    uint32_t            dimension;
    int                 metric;         /* RECSYS_METRIC_* */
    char                factory[64];    /* resolved, e.g. "IVF1,Flat" */
    uint32_t            nlist;
    char                built_at[32];   /* ISO 8601 UTC */
    double              build_seconds;
    char                source_type[16];
    char                source[256];    /* path or DSN without password */
    int                 full;           /* 0: incremental over the previous */
    char                full_built_at[32]; /* the last full build, ISO 8601 */
    char                factory_conf[64]; /* as configured, e.g. "auto" */
    char                watermark[64];  /* source max(updated_at), or "" */
    uint64_t            previous;       /* current when this one was built,
                                           the rollback target; 0: none */
    uint64_t            users;          /* in users.bin; 0: none */
    char                users_watermark[64]; /* users source max(updated_at) */
    recsys_file_sum_t   files[RECSYS_MANIFEST_FILES];
    uint32_t            nfiles;
    recsys_manifest_model_t  model;
} recsys_manifest_t;


/* checksum used in manifests: fast, 64-bit, not cryptographic */
uint64_t recsys_checksum(const void *data, size_t len);

/* size and checksum of dir/name, into sum (name included) */
int recsys_file_sum(const char *dir, const char *name,
    recsys_file_sum_t *sum, char *err, size_t errlen);

const char *recsys_metric_name(int metric);
int recsys_metric_parse(const char *name);       /* -1 when unknown */

int recsys_manifest_write(const char *path, const recsys_manifest_t *m,
    char *err, size_t errlen);
int recsys_manifest_read(const char *path, recsys_manifest_t *m,
    char *err, size_t errlen);

/* the entry of m->files named name, or NULL */
const recsys_file_sum_t *recsys_manifest_file(const recsys_manifest_t *m,
    const char *name);


#endif /* _RECSYS_MANIFEST_H_INCLUDED_ */
