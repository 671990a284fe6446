/*
 * Id dictionary: ids packed in one growing arena, an open-addressing
 * table of index + 1 (0 = empty) kept at most half full, hashed with the
 * FNV-1a that items.bin's id table uses.
 */

#include <stdlib.h>
#include <string.h>

#include "recsys_idmap.h"
#include "recsys_items.h"


struct recsys_idmap_s {
    char               *arena;
    size_t              arena_len;
    size_t              arena_cap;
    uint64_t           *offsets;        /* count + 1 entries */
    uint32_t            count;
    uint32_t            cap;            /* offsets hold cap + 1 */
    uint32_t           *slots;
    uint64_t            mask;
};


static int64_t recsys_idmap_lookup(const recsys_idmap_t *m, const char *id,
    size_t len, uint64_t *slot);
static int recsys_idmap_grow_table(recsys_idmap_t *m);
static int recsys_idmap_reserve(recsys_idmap_t *m, size_t len);
static const char *recsys_idmap_row(const void *data, uint32_t i,
    size_t *len);


recsys_idmap_t *
recsys_idmap_create(void)
{
    recsys_idmap_t  *m;

    m = calloc(1, sizeof(recsys_idmap_t));
    if (m == NULL) {
        return NULL;
    }

    m->cap = 1024;
    m->mask = 2047;
    m->offsets = calloc(m->cap + 1, sizeof(uint64_t));
    m->slots = calloc(m->mask + 1, sizeof(uint32_t));

    if (m->offsets == NULL || m->slots == NULL) {
        recsys_idmap_destroy(m);
        return NULL;
    }

    return m;
}


void
recsys_idmap_destroy(recsys_idmap_t *m)
{
    if (m == NULL) {
        return;
    }

    free(m->arena);
    free(m->offsets);
    free(m->slots);
    free(m);
}


int64_t
recsys_idmap_add(recsys_idmap_t *m, const char *id, size_t len)
{
    int64_t   found;
    uint64_t  slot;

    found = recsys_idmap_lookup(m, id, len, &slot);
    if (found >= 0) {
        return found;
    }

    if (m->count >= RECSYS_IDMAP_MAX || recsys_idmap_reserve(m, len) != 0) {
        return -1;
    }

    if ((uint64_t) (m->count + 1) * 2 > m->mask + 1) {
        if (recsys_idmap_grow_table(m) != 0) {
            return -1;
        }

        (void) recsys_idmap_lookup(m, id, len, &slot);
    }

    if (len > 0) {
        memcpy(m->arena + m->arena_len, id, len);
        m->arena_len += len;
    }

    m->offsets[m->count + 1] = m->arena_len;
    m->slots[slot] = m->count + 1;

    return m->count++;
}


int64_t
recsys_idmap_find(const recsys_idmap_t *m, const char *id, size_t len)
{
    uint64_t  slot;

    return recsys_idmap_lookup(m, id, len, &slot);
}


uint32_t
recsys_idmap_count(const recsys_idmap_t *m)
{
    return m->count;
}


const char *
recsys_idmap_id(const recsys_idmap_t *m, uint32_t index, size_t *len)
{
    *len = m->offsets[index + 1] - m->offsets[index];

    return m->arena + m->offsets[index];
}


/* the index of id, or -1 with *slot the empty slot where it would go */
static int64_t
recsys_idmap_lookup(const recsys_idmap_t *m, const char *id, size_t len,
    uint64_t *slot)
{
    return recsys_idmap_probe(m->slots, m->mask, id, len, recsys_idmap_row,
                              m, slot);
}


static int
recsys_idmap_grow_table(recsys_idmap_t *m)
{
    return recsys_idmap_double(&m->slots, &m->mask, m->count,
                               recsys_idmap_row, m);
}


void
recsys_idmap_fill(uint32_t *slots, uint64_t mask, uint32_t n,
    recsys_idmap_id_pt id, const void *data)
{
    size_t       len;
    uint32_t     i;
    uint64_t     s;
    const char  *p;

    for (i = 0; i < n; i++) {
        p = id(data, i, &len);
        s = recsys_id_hash(p, len) & mask;

        while (slots[s] != 0) {
            s = (s + 1) & mask;
        }

        slots[s] = i + 1;
    }
}


int64_t
recsys_idmap_probe(const uint32_t *slots, uint64_t mask, const char *id,
    size_t len, recsys_idmap_id_pt idf, const void *data, uint64_t *slot)
{
    size_t       n;
    uint32_t     v;
    uint64_t     s;
    const char  *p;

    s = recsys_id_hash(id, len) & mask;

    for ( ;; ) {
        v = slots[s];

        if (v == 0) {
            *slot = s;
            return -1;
        }

        p = idf(data, v - 1, &n);

        if (n == len && memcmp(p, id, len) == 0) {
            *slot = s;
            return v - 1;
        }

        s = (s + 1) & mask;
    }
}


int
recsys_idmap_double(uint32_t **slots, uint64_t *mask, uint32_t n,
    recsys_idmap_id_pt idf, const void *data)
{
    uint32_t  *t;
    uint64_t   m;

    m = *mask * 2 + 1;

    t = calloc(m + 1, sizeof(uint32_t));
    if (t == NULL) {
        return -1;
    }

    recsys_idmap_fill(t, m, n, idf, data);

    free(*slots);
    *slots = t;
    *mask = m;

    return 0;
}


static const char *
recsys_idmap_row(const void *data, uint32_t i, size_t *len)
{
    const recsys_idmap_t  *m = data;

    *len = m->offsets[i + 1] - m->offsets[i];

    return m->arena + m->offsets[i];
}


/* room for one more id of len bytes */
static int
recsys_idmap_reserve(recsys_idmap_t *m, size_t len)
{
    char      *arena;
    size_t     cap;
    uint32_t   ncap;
    uint64_t  *offsets;

    if (m->arena_len + len > m->arena_cap) {
        cap = m->arena_cap ? m->arena_cap : 4096;

        while (cap < m->arena_len + len) {
            cap *= 2;
        }

        arena = realloc(m->arena, cap);
        if (arena == NULL) {
            return -1;
        }

        m->arena = arena;
        m->arena_cap = cap;
    }

    if (m->count == m->cap) {
        ncap = m->cap <= RECSYS_IDMAP_MAX / 2 ? m->cap * 2 : RECSYS_IDMAP_MAX;

        offsets = realloc(m->offsets, ((size_t) ncap + 1) * sizeof(uint64_t));
        if (offsets == NULL) {
            return -1;
        }

        m->offsets = offsets;
        m->cap = ncap;
    }

    return 0;
}
