/*
 * Generation artifacts: items.bin, vectors.f32, manifest.json, index.faiss,
 * and the on-disk layout of an index directory.  Pure C (plus FAISS's C
 * API): no nginx header, so unit tests link it alone.
 */

#ifndef _RECSYS_ARTIFACT_H_INCLUDED_
#define _RECSYS_ARTIFACT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define RECSYS_ERRLEN              256

#define RECSYS_METRIC_INNER_PRODUCT  0
#define RECSYS_METRIC_L2             1
#define RECSYS_METRIC_COSINE         2

/* FAISS's C++ IO_FLAG_MMAP; the C header's FAISS_IO_FLAG_MMAP (1) is wrong */
#define RECSYS_FAISS_IO_FLAG_MMAP  0x646f0008

#define RECSYS_NO_CATEGORY         0xffffffffu

#define RECSYS_ITEMS_FILE          "items.bin"
#define RECSYS_VECTORS_FILE        "vectors.f32"
#define RECSYS_INDEX_FILE          "index.faiss"
#define RECSYS_MANIFEST_FILE       "manifest.json"
#define RECSYS_NEIGHBORS_FILE      "neighbors.bin"
#define RECSYS_GENERATIONS_DIR     "generations"
#define RECSYS_CURRENT_LINK        "current"


/* one item as the writer takes it and the reader returns it */
typedef struct {
    const char         *id;
    size_t              id_len;
    const char         *title;          /* NULL when absent */
    size_t              title_len;
    const char         *category;       /* NULL when absent */
    size_t              category_len;
    const char         *attributes;     /* raw JSON object text, or NULL */
    size_t              attributes_len;
    float               popularity;
    uint32_t            category_no;    /* reader only; RECSYS_NO_CATEGORY */
} recsys_item_t;


/* items.bin mapped read-only; fields are read by the search code */
typedef struct {
    const uint8_t      *base;
    size_t              size;
    uint64_t            count;
    uint32_t            dimension;
    uint32_t            ncategories;
    const void         *records;
    const char         *strings;
    uint64_t            strings_size;
    const uint32_t     *hash;           /* slots: row + 1, 0 = empty */
    uint64_t            hash_mask;
    const uint32_t     *popular;        /* rows, popularity desc, id asc */
    const void         *categories;
    const uint32_t     *catrows;        /* rows grouped by category */
} recsys_items_t;


typedef struct recsys_items_writer_s  recsys_items_writer_t;


typedef struct {
    char                name[32];
    uint64_t            size;
    uint64_t            checksum;
} recsys_file_sum_t;


/* items, vectors, index and the optional neighbors */
#define RECSYS_MANIFEST_FILES      4

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
    recsys_file_sum_t   files[RECSYS_MANIFEST_FILES];
    uint32_t            nfiles;
} recsys_manifest_t;


/* a mapped generation: what a worker serves from */
typedef struct {
    recsys_manifest_t   manifest;
    recsys_items_t      items;
    const float        *vectors;        /* items.count x dimension, mmap */
    size_t              vectors_size;
    void               *index;          /* FaissIndex *, inverted lists mmap */
    recsys_neighbors_t  neighbors;
    char                dir[4096];      /* the generation's directory */
} recsys_generation_t;


/* checksum used in manifests: fast, 64-bit, not cryptographic */
uint64_t recsys_checksum(const void *data, size_t len);

/* 64-bit FNV-1a of an id, as used by the id -> row hash table */
uint64_t recsys_id_hash(const char *id, size_t len);

const char *recsys_metric_name(int metric);
int recsys_metric_parse(const char *name);       /* -1 when unknown */


/* items.bin writer: add all items, then write; duplicate ids fail add */
recsys_items_writer_t *recsys_items_writer_create(uint32_t dimension);
int recsys_items_writer_add(recsys_items_writer_t *w, const recsys_item_t *it,
    char *err, size_t errlen);
uint64_t recsys_items_writer_count(const recsys_items_writer_t *w);
int recsys_items_writer_write(recsys_items_writer_t *w, const char *path,
    char *err, size_t errlen);
void recsys_items_writer_destroy(recsys_items_writer_t *w);


/* items.bin reader; open validates every offset so a corrupt file fails */
int recsys_items_open(recsys_items_t *items, const char *path,
    char *err, size_t errlen);
void recsys_items_close(recsys_items_t *items);
int64_t recsys_items_find(const recsys_items_t *items, const char *id,
    size_t len);
void recsys_items_get(const recsys_items_t *items, uint32_t row,
    recsys_item_t *out);
int64_t recsys_items_category_find(const recsys_items_t *items,
    const char *name, size_t len);
const uint32_t *recsys_items_category_rows(const recsys_items_t *items,
    uint32_t category_no, uint32_t *n);


/* manifest.json */
int recsys_manifest_write(const char *path, const recsys_manifest_t *m,
    char *err, size_t errlen);
int recsys_manifest_read(const char *path, recsys_manifest_t *m,
    char *err, size_t errlen);


/*
 * Opens generation directory "dir": reads the manifest, checks sizes and
 * checksums of every file, maps items and vectors, reads index.faiss with
 * RECSYS_FAISS_IO_FLAG_MMAP and sets nprobe.  expect_dim/expect_metric of 0
 * and -1 skip those checks.  On failure nothing stays mapped and err names
 * the file and the reason.
 */
int recsys_generation_open(recsys_generation_t *g, const char *dir,
    uint32_t expect_dim, int expect_metric, uint32_t nprobe,
    char *err, size_t errlen);
void recsys_generation_close(recsys_generation_t *g);

/*
 * The second half of recsys_generation_open(): maps the files of
 * g->manifest found in g->dir.  The builder uses it on a generation whose
 * manifest is not written yet.  neighbors.bin is used only when its
 * nprobe is the index's; an invalid one refuses the generation.
 */
int recsys_generation_map(recsys_generation_t *g, uint32_t nprobe,
    char *err, size_t errlen);

/* the index's nprobe as a search uses it: 1..nlist; 0 when not IVF */
uint32_t recsys_generation_nprobe(const recsys_generation_t *g);

/* writes neighbors.bin for rows x m lists computed at nprobe */
int recsys_neighbors_write(const char *path, uint32_t m, uint32_t nprobe,
    uint64_t count, int metric, const int32_t *rows, const float *scores,
    char *err, size_t errlen);


/* layout helpers: all return 0 on success, -1 with err set */

/* resolves <index_dir>/current to "<index_dir>/generations/<G>" */
int recsys_current_dir(const char *index_dir, char *out, size_t outlen,
    char *err, size_t errlen);

/* fsync a file or directory by path */
int recsys_fsync_path(const char *path, char *err, size_t errlen);

/*
 * Renames the finished temp directory tmp_dir to generations/<generation>,
 * fsyncs, points "current" at it with rename(2) of a temp symlink, fsyncs
 * the index directory, and removes all but the newest "keep" generations
 * (never the current one).
 */
int recsys_publish(const char *index_dir, const char *tmp_dir,
    uint64_t generation, uint32_t keep, char *err, size_t errlen);

/*
 * Points "current" at generations/<generation>: rename(2) of a temp
 * symlink, then fsync of the index directory.
 */
int recsys_set_current(const char *index_dir, uint64_t generation,
    char *err, size_t errlen);

/*
 * Generations a rollback from current may go to, best first: the one
 * current was built over (manifest "previous") if it exists, then older
 * ones, newest first.  Returns how many were stored in out, -1 on error.
 * Publishing never prunes the first of them.
 */
int recsys_rollback_candidates(const char *index_dir, uint64_t current,
    uint64_t *out, size_t max);

/* highest generation number found under generations/, 0 if none */
uint64_t recsys_last_generation(const char *index_dir);

/* removes leftover temp directories of builds that died half-way */
void recsys_cleanup_temp(const char *index_dir);


#endif /* _RECSYS_ARTIFACT_H_INCLUDED_ */
