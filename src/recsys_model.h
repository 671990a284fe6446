/*
 * Training on each build: the catalog's "model:" section turned into
 * files of the generation.  Reads the events store, computes decayed
 * popularity into the items, trains the item-item model (EASE with its
 * rows cut to the top m, or item-kNN above the EASE size limit) and the
 * factor model (ALS: item vectors for the index, user vectors for
 * users.bin), scores each and the served generation's on a hold-out of
 * the events and applies promote_if to each.  Pure C: no nginx header;
 * runs in the helper or recsys-build, on threads.
 */

#ifndef _RECSYS_MODEL_H_INCLUDED_
#define _RECSYS_MODEL_H_INCLUDED_


#include "recsys_catalog.h"
#include "recsys_generation.h"
#include "recsys_idmap.h"
#include "recsys_interactions.h"
#include "recsys_items_writer.h"
#include "recsys_users_writer.h"


/* k of the gate's metrics */
#define RECSYS_MODEL_K             10

/* bytes of one events line; longer lines are skipped and counted */
#define RECSYS_MODEL_LINE_MAX      65536


typedef struct {
    /* in */
    const recsys_catalog_t     *conf;
    recsys_items_writer_t      *items;      /* popularity set in place */
    const recsys_generation_t  *served;     /* or NULL */
    int                         threads;    /* < 1: every CPU */
    const char                 *dir;        /* where itemsim.bin goes */
    float                      *vectors;    /* items x dimension: ALS's
                                               item vectors go there */
    recsys_users_writer_t      *users;      /* ALS users added, or NULL */

    /* out */
    int                         itemsim;    /* itemsim.bin was written */
    int                         refused;    /* promote_if did not hold */
    uint64_t                    skipped;    /* events of unknown items,
                                               bad lines */
    recsys_manifest_model_t     model;      /* for the manifest */
} recsys_model_job_t;


/*
 * Runs the job.  Returns 0 (itemsim.bin written when the section asks
 * for it, j->model filled), or -1 with err set: the store cannot be
 * read, training failed, or the gate refused the model (j->refused,
 * err giving both models' figures).
 */
int recsys_model_train(recsys_model_job_t *j, char *err, size_t errlen);

/*
 * Reads a JSON Lines events file ({"user", "item", "type", "ts",
 * "weight"}) up to its last complete line: users get rows in users,
 * items the rows of items (events of other items are skipped and
 * counted in *skipped, as are lines that are no event); weight defaults
 * to the type's in types.  *events is malloc'ed, freed by the caller.
 */
int recsys_model_read_file(const char *path,
    const recsys_catalog_numbers_t *types, const recsys_items_writer_t *items,
    recsys_idmap_t *users, recsys_event_t **events, size_t *n,
    uint64_t *skipped, char *err, size_t errlen);


/*
 * The same from a postgresql events store (recsys_pg_read_events()): the
 * store's table, or its application query.  A weight that is NULL takes
 * the type's.
 */
int recsys_model_read_pg(const recsys_events_store_conf_t *store,
    const recsys_catalog_numbers_t *types, const recsys_items_writer_t *items,
    recsys_idmap_t *users, recsys_event_t **events, size_t *n,
    uint64_t *skipped, char *err, size_t errlen);


#endif /* _RECSYS_MODEL_H_INCLUDED_ */
