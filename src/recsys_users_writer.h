/*
 * users.bin writer: whoever produces users (the builder from a catalog's
 * users source, training from events) adds each one, then writes the
 * file with its id hash table.
 */

#ifndef _RECSYS_USERS_WRITER_H_INCLUDED_
#define _RECSYS_USERS_WRITER_H_INCLUDED_


#include "recsys_users.h"


typedef struct recsys_users_writer_s  recsys_users_writer_t;


/*
 * dimension: the generation's; items: its item count, which every seen
 * row must be below.  The vectors are stored as given (the search
 * normalizes a query for cosine).
 */
recsys_users_writer_t *recsys_users_writer_create(uint32_t dimension,
    uint32_t items);

/*
 * Adds one user: a non-empty id of at most RECSYS_USER_ID_MAX bytes, not
 * added before, dimension finite floats, and the item rows the user has
 * seen in any order (repeats are dropped).  -1 with err set otherwise.
 */
int recsys_users_writer_add(recsys_users_writer_t *w, const char *id,
    size_t len, const float *vector, const uint32_t *seen, size_t nseen,
    char *err, size_t errlen);

uint64_t recsys_users_writer_count(const recsys_users_writer_t *w);

/* the row of an added id (rows are in the order of adds), or -1 */
int64_t recsys_users_writer_find(const recsys_users_writer_t *w,
    const char *id, size_t len);

int recsys_users_writer_write(recsys_users_writer_t *w, const char *path,
    char *err, size_t errlen);
void recsys_users_writer_destroy(recsys_users_writer_t *w);


#endif /* _RECSYS_USERS_WRITER_H_INCLUDED_ */
