/*
 * The builder: reads a catalog's source, trains and fills the FAISS index,
 * writes a complete generation to a temp directory and publishes it.  The
 * same code serves recsys-build, the helper process and the tests.  Pure C
 * plus FAISS's C API: no nginx header.
 */

#ifndef _RECSYS_BUILDER_H_INCLUDED_
#define _RECSYS_BUILDER_H_INCLUDED_


#include "recsys_catalog.h"
#include "recsys_generation.h"
#include "recsys_layout.h"


/* warnings and unremovable generations a result keeps (more are counted) */
#define RECSYS_BUILD_WARNINGS  4
#define RECSYS_BUILD_UNPRUNED  8


typedef struct {
    int                 success;
    int                 full;           /* 0: incremental from previous */
    uint64_t            generation;     /* published generation */
    int                 published;      /* 0: no change, generation is
                                           the current one */
    uint64_t            items;
    uint32_t            dimension;
    char                factory[64];    /* resolved factory */
    double              seconds;
    double              source_seconds; /* time spent reading the source */
    int                 source_ok;      /* the source answered */
    char                watermark[64];  /* source watermark, "" if none */
    uint64_t            users;          /* in users.bin, 0: none */
    int                 users_full;     /* the users source read in full */
    char                users_watermark[64];

    /* for the caller to log or print: the builder writes to no stream */
    uint32_t            nwarnings;      /* may be more than are kept */
    char                warnings[RECSYS_BUILD_WARNINGS][RECSYS_ERRLEN];

    /* generations pruning after the publish could not remove */
    size_t              nunpruned;      /* may be more than are kept */
    recsys_prune_failure_t  unpruned[RECSYS_BUILD_UNPRUNED];

    /* the model trained, when the catalog has "model:" */
    recsys_manifest_model_t  model;
    int                 model_refused;  /* promote_if did not hold */

    char                error[RECSYS_CATALOG_ERRLEN]; /* never a password */
} recsys_build_result_t;


typedef struct {
    int                 force_full;     /* ignore the watermark */
    int                 threads;        /* > 0 caps OpenMP threads; 0:
                                           maintenance.threads */
    volatile int       *cancel;         /* non-zero: stop, publish nothing */

    /* called on the building thread as each phase starts, if set */
    void              (*phase)(void *data, const char *phase);
    void               *data;
} recsys_build_opts_t;


/*
 * Resolves factory "auto" for n items: exact IVF1,Flat for small catalogs,
 * IVF<nlist>,Flat otherwise, chosen so recall@10 stays >= 0.95 at the
 * default nprobe.  Writes the factory string into out.
 */
void recsys_factory_resolve(const char *factory, uint64_t n, uint32_t nprobe,
    char *out, size_t outlen, uint32_t *nlist);

/*
 * Builds and publishes the next generation of catalog c.  threads > 0 caps
 * OpenMP threads for the build.  Returns 0 on success; on failure nothing is
 * published and res->error says why (JSONL errors name the line number).
 */
int recsys_build(const recsys_catalog_t *c, int threads,
    recsys_build_result_t *res);

/*
 * As recsys_build(), with options (NULL: none).  Without force_full, a
 * postgresql source whose current generation is compatible (same
 * dimension, metric, configured factory, a watermark) and whose last full
 * build is younger than maintenance.full_interval is rebuilt
 * incrementally: the current generation plus rows changed after its
 * watermark, reusing the trained quantizer; res->full says which.  An
 * incremental build that changes nothing publishes nothing (success,
 * published 0, generation: the current one).  Leftover temp directories
 * are removed first.  o->cancel is checked between batches and phases;
 * once set, nothing is published.
 */
int recsys_build_ex(const recsys_catalog_t *c, const recsys_build_opts_t *o,
    recsys_build_result_t *res);

/*
 * Makes the generation the current one was built over current again (its
 * manifest's "previous"), or else the newest older one; candidates that do
 * not open and verify are skipped.  Atomic symlink swap, fsync.  Returns 0
 * with *generation set, -1 with err set when there is none.
 */
int recsys_rollback(const recsys_catalog_t *c, uint64_t *generation,
    char *err, size_t errlen);


#endif /* _RECSYS_BUILDER_H_INCLUDED_ */
