/*
 * A generation as a worker serves it: the manifest, items.bin,
 * vectors.f32, index.faiss and the optional neighbors.bin of one
 * generation directory, mapped read-only and shared.
 */

#ifndef _RECSYS_GENERATION_H_INCLUDED_
#define _RECSYS_GENERATION_H_INCLUDED_


#include "recsys_catalog.h"
#include "recsys_faiss.h"
#include "recsys_items.h"
#include "recsys_itemsim.h"
#include "recsys_manifest.h"
#include "recsys_users.h"


/*
 * neighbors.bin: a 32-byte header (RECSYS_NEIGHBORS_MAGIC, version, m,
 * nprobe, count, metric, reserved), then count x m int32 rows, then
 * count x m float32 scores.  Row r's list is its m best hits by score
 * desc, id asc, from the index at that nprobe, itself excluded.  A short
 * list ends with RECSYS_NEIGHBORS_END when it holds every candidate the
 * probed lists had, RECSYS_NEIGHBORS_CUT when more exist.
 */
#define RECSYS_NEIGHBORS_MAGIC     0x424e5352u     /* "RSNB" */
#define RECSYS_NEIGHBORS_VERSION   1
#define RECSYS_NEIGHBORS_HEADER    32
#define RECSYS_NEIGHBORS_MAX       1000
#define RECSYS_NEIGHBORS_END       -1
#define RECSYS_NEIGHBORS_CUT       -2


/* neighbors.bin mapped read-only; rows is NULL when not used */
typedef struct {
    const uint8_t      *base;
    size_t              size;
    uint32_t            m;
    uint32_t            nprobe;
    uint64_t            count;
    const int32_t      *rows;           /* count x m */
    const float        *scores;         /* count x m */
} recsys_neighbors_t;


/* a mapped generation: what a worker serves from */
typedef struct {
    recsys_manifest_t   manifest;
    recsys_items_t      items;
    const float        *vectors;        /* items.count x dimension, mmap */
    size_t              vectors_size;
    void               *index;          /* FaissIndex *, inverted lists mmap */
    recsys_neighbors_t  neighbors;
    const uint8_t      *itemsim_base;   /* itemsim.bin mapped, or NULL */
    size_t              itemsim_size;
    recsys_itemsim_t    itemsim;        /* a view: nitems 0 when absent */
    uint32_t            itemsim_algorithm;
    recsys_users_t      users;          /* base NULL: no users.bin */
    recsys_faiss_layout_t  layout;      /* of index.faiss */
    char                dir[RECSYS_PATH_MAX]; /* the generation's directory */
} recsys_generation_t;


/*
 * Opens generation directory "dir" as a worker serves it, at a cost that
 * does not grow with the items: reads the manifest (a directory named
 * by a number must hold that generation), checks each file's size, maps
 * items and vectors, checks the structure of index.faiss, reads it with
 * RECSYS_FAISS_IO_FLAG_MMAP and sets nprobe.  expect_dim/expect_metric
 * of 0 and -1 skip those checks.  On failure nothing stays mapped and err
 * names the file and the reason.  Contents are trusted only once
 * recsys_generation_verify() passed on them, as the builder does before
 * it publishes.
 */
int recsys_generation_open(recsys_generation_t *g, const char *dir,
    uint32_t expect_dim, int expect_metric, uint32_t nprobe,
    char *err, size_t errlen);

/*
 * The deep checks of an opened generation, reading every byte: the
 * manifest's checksums, every item record, hash slot and row list, every
 * id of the inverted lists, every neighbors.bin row, every user.
 */
int recsys_generation_verify(const recsys_generation_t *g, char *err,
    size_t errlen);

/* recsys_generation_open() then recsys_generation_verify() */
int recsys_generation_open_verified(recsys_generation_t *g, const char *dir,
    uint32_t expect_dim, int expect_metric, uint32_t nprobe,
    char *err, size_t errlen);
void recsys_generation_close(recsys_generation_t *g);

/*
 * Opens the generation <ic->path>/current names with the catalog's
 * dimension, metric and nprobe: what a worker serves (for the tools).
 */
int recsys_generation_open_current(recsys_generation_t *g,
    const recsys_index_conf_t *ic, char *err, size_t errlen);

/*
 * The second half of recsys_generation_open(): maps the files of
 * g->manifest found in g->dir.  The builder uses it on a generation whose
 * manifest is not written yet.  neighbors.bin is used only when its
 * nprobe is the index's; an invalid one refuses the generation.
 */
int recsys_generation_map(recsys_generation_t *g, uint32_t nprobe,
    char *err, size_t errlen);

/*
 * Maps the pages searches scan of an opened generation (items.bin,
 * neighbors.bin and FAISS's own mapping of index.faiss, found in
 * /proc/self/maps by its inode; not vectors.f32, read a few rows a
 * request) into this process's page tables, so that the first searches
 * on it take no page faults.  Reads the files from disk when they are
 * not cached and paces itself: for a thread, not an event loop.
 * Returns the bytes populated; a mapping that cannot be populated is
 * left to fault.
 */
uint64_t recsys_generation_prefault(const recsys_generation_t *g);

/*
 * Drops the page table entries of every mapping of a generation nobody
 * uses any more, paced as above, so that the unmap after it is quick.
 */
void recsys_generation_drop_pages(const recsys_generation_t *g);

/* the index's nprobe as a search uses it: 1..nlist; 0 when not IVF */
uint32_t recsys_generation_nprobe(const recsys_generation_t *g);

/* writes neighbors.bin for rows x m lists computed at nprobe */
int recsys_neighbors_write(const char *path, uint32_t m, uint32_t nprobe,
    uint64_t count, int metric, const int32_t *rows, const float *scores,
    char *err, size_t errlen);


#endif /* _RECSYS_GENERATION_H_INCLUDED_ */
