/*
 * users.bin on disk, shared by its writer and its reader only.
 *
 * Little-endian, every section 8-byte aligned:
 *
 *   header       64 bytes, recsys_users_header_t; section offsets are
 *                stored in 8-byte units so 32 bits reach 32 GiB
 *   records      count x recsys_user_rec_t, in row order
 *   hash         hash_slots x uint32 (row + 1, 0 empty), linear probing
 *                on recsys_id_hash(id) & (hash_slots - 1)
 *   vectors      count x dimension float32, in row order
 *   seen         nseen x uint32 item rows; each user's run ascending,
 *                without repeats
 *   strings      the ids, every one NUL-terminated
 */

#ifndef _RECSYS_USERS_FORMAT_H_INCLUDED_
#define _RECSYS_USERS_FORMAT_H_INCLUDED_


#include "recsys_artifact.h"


#define RECSYS_USERS_MAGIC         "RSUSERS"
#define RECSYS_USERS_VERSION       1
#define RECSYS_USERS_HEADER_SIZE   64
#define RECSYS_USERS_MAX           (1u << 30)
#define RECSYS_USERS_MAX_DIM       4096


typedef struct {
    char                magic[8];
    uint32_t            version;
    uint32_t            dimension;
    uint32_t            count;          /* users */
    uint32_t            hash_slots;
    uint32_t            items;          /* the generation's item count */
    uint32_t            records_off;    /* offsets in 8-byte units */
    uint32_t            hash_off;
    uint32_t            vectors_off;
    uint32_t            seen_off;
    uint32_t            strings_off;
    uint64_t            nseen;          /* seen rows of all users */
    uint64_t            strings_size;
} recsys_users_header_t;


typedef struct {
    uint64_t            id_off;         /* into the string pool */
    uint64_t            seen_start;     /* first index into seen */
    uint32_t            id_len;
    uint32_t            nseen;
} recsys_user_rec_t;


_Static_assert(sizeof(recsys_users_header_t) == RECSYS_USERS_HEADER_SIZE,
               "users.bin header must be 64 bytes");
_Static_assert(sizeof(recsys_user_rec_t) == 24,
               "user record must be 24 bytes");


#endif /* _RECSYS_USERS_FORMAT_H_INCLUDED_ */
