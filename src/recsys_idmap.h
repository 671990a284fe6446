/*
 * An in-memory dictionary of string ids to dense indexes 0..count-1, in
 * the order ids were first added: the user and item ids of interaction
 * events become the rows and columns of the training matrices.
 */

#ifndef _RECSYS_IDMAP_H_INCLUDED_
#define _RECSYS_IDMAP_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define RECSYS_IDMAP_MAX   0xfffffffeu     /* ids one map can hold */


typedef struct recsys_idmap_s  recsys_idmap_t;


recsys_idmap_t *recsys_idmap_create(void);
void recsys_idmap_destroy(recsys_idmap_t *m);

/* index of id, added when new; -1 when out of memory or full */
int64_t recsys_idmap_add(recsys_idmap_t *m, const char *id, size_t len);

/* index of id, or -1 when absent */
int64_t recsys_idmap_find(const recsys_idmap_t *m, const char *id,
    size_t len);

uint32_t recsys_idmap_count(const recsys_idmap_t *m);

/* the id of index (< count); not NUL-terminated */
const char *recsys_idmap_id(const recsys_idmap_t *m, uint32_t index,
    size_t *len);

/* the id of row i of data, for recsys_idmap_fill() */
typedef const char *(*recsys_idmap_id_pt)(const void *data, uint32_t i,
    size_t *len);

/*
 * Puts rows 0..n-1 into an empty table of mask + 1 slots the way the map
 * and items.bin's id table hold them: row + 1, linear probing from
 * recsys_id_hash() & mask.  The table has more slots than n.
 */
void recsys_idmap_fill(uint32_t *slots, uint64_t mask, uint32_t n,
    recsys_idmap_id_pt id, const void *data);

/*
 * The row of id in such a table, or -1; *slot is its slot, or the empty
 * one where it would go.
 */
int64_t recsys_idmap_probe(const uint32_t *slots, uint64_t mask,
    const char *id, size_t len, recsys_idmap_id_pt idf, const void *data,
    uint64_t *slot);

/*
 * Replaces *slots (*mask + 1 slots, rows 0..n-1) by a table twice its
 * size holding the same rows.  Returns 0, or -1 when out of memory (the
 * table is kept).
 */
int recsys_idmap_double(uint32_t **slots, uint64_t *mask, uint32_t n,
    recsys_idmap_id_pt idf, const void *data);


#endif /* _RECSYS_IDMAP_H_INCLUDED_ */
