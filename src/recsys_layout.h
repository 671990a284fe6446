/*
 * The index directory: generations/<G>/ directories, the "current"
 * symlink, publishing, pruning, rollback candidates and leftovers of
 * builds that died.  All return 0 on success, -1 with err set.
 */

#ifndef _RECSYS_LAYOUT_H_INCLUDED_
#define _RECSYS_LAYOUT_H_INCLUDED_


#include "recsys_artifact.h"


/*
 * Whether the len bytes of a "current" link's target name a generation:
 * exactly "generations/<G>" (no absolute path, no "..", no other
 * directory); 0 with *generation set, else -1.
 */
int recsys_current_target(const char *target, size_t len,
    uint64_t *generation);

/* resolves <index_dir>/current to "<index_dir>/generations/<G>" */
int recsys_current_dir(const char *index_dir, char *out, size_t outlen,
    char *err, size_t errlen);

/* a generation pruning could not remove, and why */
typedef struct {
    uint64_t            generation;
    char                error[RECSYS_ERRLEN];
} recsys_prune_failure_t;


/*
 * Makes the files of the finished temp directory tmp_dir read-only
 * (0444), renames it to generations/<generation> (0555), fsyncs, points
 * "current" at it with rename(2) of a temp symlink and fsyncs the index
 * directory.
 */
int recsys_publish(const char *index_dir, const char *tmp_dir,
    uint64_t generation, char *err, size_t errlen);

/*
 * Removes all but the newest "keep" (0: 1) generations, never current nor
 * the one a rollback from it would choose.  Best effort: returns how many
 * could not be removed, the first max of them stored in failed.
 */
size_t recsys_prune(const char *index_dir, uint64_t current, uint32_t keep,
    recsys_prune_failure_t *failed, size_t max);

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


#endif /* _RECSYS_LAYOUT_H_INCLUDED_ */
