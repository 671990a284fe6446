/*
 * users.bin reader: the stored users of a generation (id, vector, the
 * item rows the user has seen), mapped read-only and shared.
 */

#ifndef _RECSYS_USERS_H_INCLUDED_
#define _RECSYS_USERS_H_INCLUDED_


#include "recsys_artifact.h"
#include "recsys_idtable.h"


/* one user as the reader returns it; pointers into the mapping */
typedef struct {
    const char         *id;
    size_t              id_len;
    const float        *vector;         /* dimension floats */
    const uint32_t     *seen;           /* item rows, ascending */
    uint32_t            nseen;
} recsys_user_t;


/* users.bin mapped read-only; base NULL: the generation has no users */
typedef struct {
    const uint8_t      *base;
    size_t              size;
    uint64_t            count;
    uint32_t            dimension;
    uint32_t            items;          /* the seen rows index these */
    const void         *records;
    const uint32_t     *hash;
    uint64_t            hash_mask;
    const float        *vectors;
    const uint32_t     *seen;
    uint64_t            nseen;
    const char         *strings;
    uint64_t            strings_size;
} recsys_users_t;


/*
 * open checks the header and that every section fits the file, in O(1);
 * recsys_users_verify() reads every record, slot, vector and seen row,
 * in O(size), as the builder does before it publishes.
 */
int recsys_users_open(recsys_users_t *u, const char *path, char *err,
    size_t errlen);
int recsys_users_verify(const recsys_users_t *u, char *err, size_t errlen);
void recsys_users_close(recsys_users_t *u);

/* the row of id, or -1 (also when the generation has no users) */
int64_t recsys_users_find(const recsys_users_t *u, const char *id,
    size_t len);
void recsys_users_get(const recsys_users_t *u, uint32_t row,
    recsys_user_t *out);


#endif /* _RECSYS_USERS_H_INCLUDED_ */
