/*
 * Id hash tables of items.bin and users.bin: the hash, the table size,
 * the bounded probe.
 */

#include <string.h>

#include "recsys_idtable.h"


#define RECSYS_FNV_OFFSET          0xcbf29ce484222325ULL
#define RECSYS_FNV_PRIME           0x100000001b3ULL


uint64_t
recsys_id_hash(const char *id, size_t len)
{
    size_t    i;
    uint64_t  h;

    h = RECSYS_FNV_OFFSET;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char) id[i];
        h *= RECSYS_FNV_PRIME;
    }

    return h;
}


uint32_t
recsys_id_table_slots(uint64_t count)
{
    uint64_t  slots;

    slots = RECSYS_ID_TABLE_MIN;

    while (slots < count * 2) {
        slots *= 2;
    }

    return slots > RECSYS_ID_TABLE_MAX ? 0 : (uint32_t) slots;
}


int64_t
recsys_id_table_find(const uint32_t *slots, uint64_t mask, uint64_t count,
    const char *id, size_t len, recsys_id_at_pt id_at, const void *data)
{
    size_t       n;
    uint32_t     v;
    uint64_t     i, s;
    const char  *p;

    if (slots == NULL) {
        return -1;
    }

    s = recsys_id_hash(id, len) & mask;

    for (i = 0; i <= mask; i++) {
        v = slots[s];

        if (v == 0 || v > count) {
            return -1;
        }

        p = id_at(data, v - 1, &n);

        if (n == len && memcmp(p, id, len) == 0) {
            return v - 1;
        }

        s = (s + 1) & mask;
    }

    return -1;
}
