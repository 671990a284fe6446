/*
 * users.bin reader.  Opening validates the header and the section
 * bounds; verifying checks every id, hash slot, vector and seen row, so
 * that a damaged file is refused before it is published.
 */

#include <sys/mman.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "recsys_files.h"
#include "recsys_users_format.h"
#include "recsys_users.h"


#define RECSYS_USERS_NSECT         5


static int recsys_users_validate(recsys_users_t *u,
    const recsys_users_header_t *h, char *err, size_t errlen);
static int recsys_users_check_id(const recsys_users_t *u, uint32_t row,
    char *err, size_t errlen);
static int recsys_users_check_user(const recsys_users_t *u, uint32_t row,
    char *err, size_t errlen);
static const char *recsys_users_id_at(const void *data, uint32_t row,
    size_t *len);


int
recsys_users_open(recsys_users_t *u, const char *path, char *err,
    size_t errlen)
{
    size_t                  size;
    const void             *base;
    recsys_users_header_t   h;

    memset(u, 0, sizeof(recsys_users_t));

    if (recsys_file_map(path, &base, &size, err, errlen) != 0) {
        return -1;
    }

    if (size < RECSYS_USERS_HEADER_SIZE) {
        snprintf(err, errlen, "%s: truncated (size %llu, need %d)",
                 RECSYS_USERS_FILE, (unsigned long long) size,
                 RECSYS_USERS_HEADER_SIZE);

        if (base != NULL) {
            munmap((void *) base, size);
        }

        return -1;
    }

    u->base = base;
    u->size = size;

    memcpy(&h, base, sizeof(h));

    if (recsys_users_validate(u, &h, err, errlen) != 0) {
        munmap((void *) base, size);
        memset(u, 0, sizeof(recsys_users_t));
        return -1;
    }

    return 0;
}


static int
recsys_users_validate(recsys_users_t *u, const recsys_users_header_t *h,
    char *err, size_t errlen)
{
    int                 i;
    uint64_t            start[RECSYS_USERS_NSECT], len[RECSYS_USERS_NSECT];
    static const char  *names[RECSYS_USERS_NSECT] = {
        "records", "hash", "vectors", "seen", "strings"
    };

    if (memcmp(h->magic, RECSYS_USERS_MAGIC, sizeof(RECSYS_USERS_MAGIC))
        != 0)
    {
        snprintf(err, errlen, "%s: bad magic", RECSYS_USERS_FILE);
        return -1;
    }

    if (h->version != RECSYS_USERS_VERSION) {
        snprintf(err, errlen, "%s: unsupported version %u",
                 RECSYS_USERS_FILE, h->version);
        return -1;
    }

    if (h->count > RECSYS_USERS_MAX || h->dimension == 0
        || h->dimension > RECSYS_USERS_MAX_DIM)
    {
        snprintf(err, errlen, "%s: bad user count %u or dimension %u",
                 RECSYS_USERS_FILE, h->count, h->dimension);
        return -1;
    }

    if (h->hash_slots == 0 || (h->hash_slots & (h->hash_slots - 1)) != 0
        || h->hash_slots <= h->count)
    {
        snprintf(err, errlen, "%s: bad hash table size %u",
                 RECSYS_USERS_FILE, h->hash_slots);
        return -1;
    }

    /* 2^32 rows at most: anything larger does not fit any file we map */
    if (h->nseen > UINT32_MAX) {
        snprintf(err, errlen, "%s: bad seen count %llu", RECSYS_USERS_FILE,
                 (unsigned long long) h->nseen);
        return -1;
    }

    start[0] = (uint64_t) h->records_off * 8;
    len[0] = (uint64_t) h->count * sizeof(recsys_user_rec_t);
    start[1] = (uint64_t) h->hash_off * 8;
    len[1] = (uint64_t) h->hash_slots * 4;
    start[2] = (uint64_t) h->vectors_off * 8;
    len[2] = (uint64_t) h->count * h->dimension * 4;
    start[3] = (uint64_t) h->seen_off * 8;
    len[3] = h->nseen * 4;
    start[4] = (uint64_t) h->strings_off * 8;
    len[4] = h->strings_size;

    for (i = 0; i < RECSYS_USERS_NSECT; i++) {
        if (start[i] < RECSYS_USERS_HEADER_SIZE) {
            snprintf(err, errlen, "%s: %s section overlaps the header",
                     RECSYS_USERS_FILE, names[i]);
            return -1;
        }

        /* start < 2^35 and len < 2^46 but strings_size: check them all */
        if (start[i] > u->size || len[i] > u->size - start[i]) {
            snprintf(err, errlen, "%s: truncated (%s section ends past "
                     "size %llu)", RECSYS_USERS_FILE, names[i],
                     (unsigned long long) u->size);
            return -1;
        }
    }

    u->count = h->count;
    u->dimension = h->dimension;
    u->items = h->items;
    u->records = u->base + start[0];
    u->hash = (const uint32_t *) (u->base + start[1]);
    u->hash_mask = (uint64_t) h->hash_slots - 1;
    u->vectors = (const float *) (u->base + start[2]);
    u->seen = (const uint32_t *) (u->base + start[3]);
    u->nseen = h->nseen;
    u->strings = (const char *) u->base + start[4];
    u->strings_size = h->strings_size;

    return 0;
}


int
recsys_users_verify(const recsys_users_t *u, char *err, size_t errlen)
{
    uint64_t  r;

    if (u->base == NULL) {
        return 0;
    }

    for (r = 0; r <= u->hash_mask; r++) {
        if (u->hash[r] > u->count) {
            snprintf(err, errlen, "%s: hash slot %llu: row out of range",
                     RECSYS_USERS_FILE, (unsigned long long) r);
            return -1;
        }
    }

    /* every id first: the probes of the second pass compare them */
    for (r = 0; r < u->count; r++) {
        if (recsys_users_check_id(u, (uint32_t) r, err, errlen) != 0) {
            return -1;
        }
    }

    for (r = 0; r < u->count; r++) {
        if (recsys_users_check_user(u, (uint32_t) r, err, errlen) != 0) {
            return -1;
        }
    }

    return 0;
}


static int
recsys_users_check_id(const recsys_users_t *u, uint32_t row, char *err,
    size_t errlen)
{
    const recsys_user_rec_t  *rec;

    rec = (const recsys_user_rec_t *) u->records + row;

    if (rec->id_len == 0 || rec->id_len > RECSYS_USER_ID_MAX
        || rec->id_off >= u->strings_size
        || rec->id_len >= u->strings_size - rec->id_off
        || u->strings[rec->id_off + rec->id_len] != '\0')
    {
        snprintf(err, errlen, "%s: user %u: id outside the pool",
                 RECSYS_USERS_FILE, row);
        return -1;
    }

    return 0;
}


/*
 * One record: found by its id through the hash, its vector finite, its
 * seen run inside the section, ascending, item rows.
 */

static int
recsys_users_check_user(const recsys_users_t *u, uint32_t row, char *err,
    size_t errlen)
{
    uint32_t                  i, d;
    const float              *v;
    const uint32_t           *seen;
    const recsys_user_rec_t  *rec;

    rec = (const recsys_user_rec_t *) u->records + row;

    if (recsys_users_find(u, u->strings + rec->id_off, rec->id_len)
        != (int64_t) row)
    {
        snprintf(err, errlen, "%s: user %u: not found by its id",
                 RECSYS_USERS_FILE, row);
        return -1;
    }

    v = u->vectors + (size_t) row * u->dimension;

    for (d = 0; d < u->dimension; d++) {
        if (!isfinite(v[d])) {
            snprintf(err, errlen, "%s: user %u: vector[%u] is not finite",
                     RECSYS_USERS_FILE, row, d);
            return -1;
        }
    }

    if (rec->seen_start > u->nseen || rec->nseen > u->nseen - rec->seen_start)
    {
        snprintf(err, errlen, "%s: user %u: seen rows out of the section",
                 RECSYS_USERS_FILE, row);
        return -1;
    }

    seen = u->seen + rec->seen_start;

    for (i = 0; i < rec->nseen; i++) {
        if (seen[i] >= u->items || (i > 0 && seen[i] <= seen[i - 1])) {
            snprintf(err, errlen, "%s: user %u: seen row %u is no item or "
                     "out of order", RECSYS_USERS_FILE, row, seen[i]);
            return -1;
        }
    }

    return 0;
}


void
recsys_users_close(recsys_users_t *u)
{
    if (u->base != NULL) {
        munmap((void *) u->base, u->size);
    }

    memset(u, 0, sizeof(recsys_users_t));
}


int64_t
recsys_users_find(const recsys_users_t *u, const char *id, size_t len)
{
    if (u->base == NULL || len == 0) {
        return -1;
    }

    return recsys_id_table_find(u->hash, u->hash_mask, u->count, id, len,
                                recsys_users_id_at, u);
}


static const char *
recsys_users_id_at(const void *data, uint32_t row, size_t *len)
{
    const recsys_users_t     *u;
    const recsys_user_rec_t  *rec;

    u = data;
    rec = (const recsys_user_rec_t *) u->records + row;
    *len = rec->id_len;

    return u->strings + rec->id_off;
}


void
recsys_users_get(const recsys_users_t *u, uint32_t row, recsys_user_t *out)
{
    const recsys_user_rec_t  *rec;

    memset(out, 0, sizeof(recsys_user_t));

    if (row >= u->count) {
        return;
    }

    rec = (const recsys_user_rec_t *) u->records + row;

    out->id = u->strings + rec->id_off;
    out->id_len = rec->id_len;
    out->vector = u->vectors + (size_t) row * u->dimension;
    out->seen = u->seen + rec->seen_start;
    out->nseen = rec->nseen;
}
