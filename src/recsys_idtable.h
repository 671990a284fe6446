/*
 * Reading the id -> row hash tables of items.bin and users.bin (filled by
 * recsys_idmap_fill()): slots hold row + 1 (0 = empty), a row's slot is
 * the 64-bit FNV-1a of its id masked by slots - 1, collisions probe
 * linearly.  The stored ids are reached through a callback, so each file
 * keeps its own records.
 */

#ifndef _RECSYS_IDTABLE_H_INCLUDED_
#define _RECSYS_IDTABLE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define RECSYS_ID_TABLE_MIN        8
#define RECSYS_ID_TABLE_MAX        (1u << 31)


/* the id of row (< count), not NUL-terminated */
typedef const char *(*recsys_id_at_pt)(const void *data, uint32_t row,
    size_t *len);


/* 64-bit FNV-1a of an id */
uint64_t recsys_id_hash(const char *id, size_t len);

/*
 * Slots for count ids: the power of two at least twice count, at least
 * RECSYS_ID_TABLE_MIN; 0 when that exceeds RECSYS_ID_TABLE_MAX
 */
uint32_t recsys_id_table_slots(uint64_t count);

/*
 * The row of id, or -1.  Bounded by the table size, and a slot naming a
 * row past count ends the probe, so a damaged table never loops or reads
 * a record out of range.
 */
int64_t recsys_id_table_find(const uint32_t *slots, uint64_t mask,
    uint64_t count, const char *id, size_t len, recsys_id_at_pt id_at,
    const void *data);


#endif /* _RECSYS_IDTABLE_H_INCLUDED_ */
