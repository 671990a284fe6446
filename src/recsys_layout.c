/*
 * The index directory layout: generations/<G>/, the "current" symlink
 * swapped with rename(2), publishing, pruning to "keep", rollback
 * candidates, and temp directories of builds that died.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recsys_files.h"
#include "recsys_layout.h"
#include "recsys_manifest.h"


static uint64_t recsys_rollback_target(const char *gens_dir,
    uint64_t current, const uint64_t *gens, size_t n);
static int recsys_pid_alive(const char *s);


int
recsys_current_target(const char *target, size_t len, uint64_t *generation)
{
    size_t  plen;

    plen = sizeof(RECSYS_GENERATIONS_DIR "/") - 1;

    if (len <= plen
        || memcmp(target, RECSYS_GENERATIONS_DIR "/", plen) != 0
        || recsys_parse_uint(target + plen, len - plen, generation) != 0)
    {
        return -1;
    }

    return 0;
}


int
recsys_current_dir(const char *index_dir, char *out, size_t outlen,
    char *err, size_t errlen)
{
    char      link[RECSYS_PATH_MAX], target[RECSYS_PATH_MAX];
    ssize_t   n;
    uint64_t  g;

    if (recsys_path_join(link, sizeof(link), index_dir, RECSYS_CURRENT_LINK)
        != 0)
    {
        snprintf(err, errlen, "index directory path too long");
        return -1;
    }

    n = readlink(link, target, sizeof(target) - 1);

    if (n < 0) {
        snprintf(err, errlen, "no current generation: readlink \"%s\" "
                 "failed: %s", link, strerror(errno));
        return -1;
    }

    target[n] = '\0';

    if (recsys_current_target(target, n, &g) != 0) {
        snprintf(err, errlen, "\"%s\" points to \"%s\", not to "
                 "\"" RECSYS_GENERATIONS_DIR "/<number>\"", link, target);
        return -1;
    }

    if (recsys_path_join(out, outlen, index_dir, target) != 0) {
        snprintf(err, errlen, "current generation path too long");
        return -1;
    }

    return 0;
}


/*
 * The generation a rollback from current goes to: the one current was
 * built over (its manifest's "previous"), when it still exists, else the
 * newest older one.  gens is sorted newest first.
 */

static uint64_t
recsys_rollback_target(const char *gens_dir, uint64_t current,
    const uint64_t *gens, size_t n)
{
    char               path[RECSYS_PATH_MAX], err[RECSYS_ERRLEN];
    size_t             i;
    recsys_manifest_t  m;

    snprintf(path, sizeof(path), "%s/%llu/%s", gens_dir,
             (unsigned long long) current, RECSYS_MANIFEST_FILE);

    if (recsys_manifest_read(path, &m, err, sizeof(err)) == 0
        && m.previous != 0 && m.previous != current)
    {
        for (i = 0; i < n; i++) {
            if (gens[i] == m.previous) {
                return m.previous;
            }
        }
    }

    for (i = 0; i < n; i++) {
        if (gens[i] < current) {
            return gens[i];
        }
    }

    return 0;
}


int
recsys_rollback_candidates(const char *index_dir, uint64_t current,
    uint64_t *out, size_t max)
{
    int        n;
    char       gens_dir[RECSYS_PATH_MAX];
    size_t     i, k;
    uint64_t   first, *gens;

    if (recsys_path_join(gens_dir, sizeof(gens_dir), index_dir,
                         RECSYS_GENERATIONS_DIR) != 0)
    {
        return -1;
    }

    n = recsys_dir_numbers(gens_dir, &gens);
    if (n < 0) {
        return -1;
    }

    /* the preferred target first, then every older one, newest first */
    first = recsys_rollback_target(gens_dir, current, gens, n);
    k = 0;

    if (first != 0 && k < max) {
        out[k++] = first;
    }

    for (i = 0; i < (size_t) n && k < max; i++) {
        if (gens[i] < current && gens[i] != first) {
            out[k++] = gens[i];
        }
    }

    free(gens);

    return (int) k;
}


size_t
recsys_prune(const char *index_dir, uint64_t current, uint32_t keep,
    recsys_prune_failure_t *failed, size_t max)
{
    int                      n, len;
    char                     gens_dir[RECSYS_PATH_MAX], path[RECSYS_PATH_MAX];
    char                     err[RECSYS_ERRLEN];
    size_t                   i, nfailed;
    uint64_t                *gens, rollback;

    if (recsys_path_join(gens_dir, sizeof(gens_dir), index_dir,
                         RECSYS_GENERATIONS_DIR) != 0)
    {
        return 0;
    }

    n = recsys_dir_numbers(gens_dir, &gens);
    if (n < 0) {
        return 0;
    }

    /* the current one and the one a rollback would choose always stay */
    rollback = recsys_rollback_target(gens_dir, current, gens, n);
    nfailed = 0;

    for (i = keep ? keep : 1; i < (size_t) n; i++) {
        if (gens[i] == current || gens[i] == rollback) {
            continue;
        }

        len = snprintf(path, sizeof(path), "%s/%llu", gens_dir,
                       (unsigned long long) gens[i]);

        if (len > 0 && (size_t) len < sizeof(path)
            && recsys_remove_tree(path, err, sizeof(err)) == 0)
        {
            continue;
        }

        /* e.g. built by root with recsys-build, pruned by nginx's user */
        if (nfailed < max) {
            failed[nfailed].generation = gens[i];
            snprintf(failed[nfailed].error, sizeof(failed[nfailed].error),
                     "%s", (len > 0 && (size_t) len < sizeof(path))
                           ? err : "path too long");
        }

        nfailed++;
    }

    free(gens);

    return nfailed;
}


int
recsys_publish(const char *index_dir, const char *tmp_dir,
    uint64_t generation, char *err, size_t errlen)
{
    char         gens[RECSYS_PATH_MAX], dst[RECSYS_PATH_MAX];
    char         target[64];
    struct stat  st;

    /*
     * every file of the generation reaches the disk before it is named,
     * read-only (0444): a published generation is served mapped and is
     * never written again
     */
    if (recsys_fsync_dir(tmp_dir, 0444, err, errlen) != 0) {
        return -1;
    }

    if (recsys_path_join(gens, sizeof(gens), index_dir,
                         RECSYS_GENERATIONS_DIR) != 0)
    {
        snprintf(err, errlen, "index directory path too long");
        return -1;
    }

    if (recsys_mkdirs(gens, err, errlen) != 0) {
        return -1;
    }

    snprintf(target, sizeof(target), RECSYS_GENERATIONS_DIR "/%llu",
             (unsigned long long) generation);

    if (recsys_path_join(dst, sizeof(dst), index_dir, target) != 0) {
        snprintf(err, errlen, "index directory path too long");
        return -1;
    }

    /* rename(2) would silently replace an empty directory */
    if (lstat(dst, &st) == 0) {
        snprintf(err, errlen, "generation %llu already exists",
                 (unsigned long long) generation);
        return -1;
    }

    if (rename(tmp_dir, dst) != 0) {
        snprintf(err, errlen, "rename \"%s\" to \"%s\" failed: %s", tmp_dir,
                 dst, strerror(errno));
        return -1;
    }

    /* after the rename, which updates ".." in it */
    if (chmod(dst, 0555) != 0) {
        snprintf(err, errlen, "chmod \"%s\" failed: %s", dst,
                 strerror(errno));
        return -1;
    }

    if (recsys_fsync_path(gens, err, errlen) != 0) {
        return -1;
    }

    return recsys_set_current(index_dir, generation, err, errlen);
}


int
recsys_set_current(const char *index_dir, uint64_t generation, char *err,
    size_t errlen)
{
    char  path[RECSYS_PATH_MAX], dst[RECSYS_PATH_MAX], target[64];

    snprintf(target, sizeof(target), RECSYS_GENERATIONS_DIR "/%llu",
             (unsigned long long) generation);

    if (snprintf(path, sizeof(path), "%s/.current.tmp.%ld", index_dir,
                 (long) getpid())
        >= (int) sizeof(path))
    {
        snprintf(err, errlen, "index directory path too long");
        return -1;
    }

    (void) unlink(path);

    if (symlink(target, path) != 0) {
        snprintf(err, errlen, "symlink \"%s\" failed: %s", path,
                 strerror(errno));
        return -1;
    }

    if (recsys_path_join(dst, sizeof(dst), index_dir, RECSYS_CURRENT_LINK)
        != 0)
    {
        snprintf(err, errlen, "index directory path too long");
        (void) unlink(path);
        return -1;
    }

    return recsys_file_rename(path, dst, err, errlen);
}


uint64_t
recsys_last_generation(const char *index_dir)
{
    int        n;
    char       gens_dir[RECSYS_PATH_MAX];
    uint64_t  *gens, last;

    if (recsys_path_join(gens_dir, sizeof(gens_dir), index_dir,
                         RECSYS_GENERATIONS_DIR) != 0)
    {
        return 0;
    }

    n = recsys_dir_numbers(gens_dir, &gens);
    last = (n > 0) ? gens[0] : 0;
    free(gens);

    return last;
}


/* a temp name's pid that is another live process: its build still runs */

static int
recsys_pid_alive(const char *s)
{
    long   pid;
    char  *end;

    errno = 0;
    pid = strtol(s, &end, 10);

    if (errno != 0 || end == s || pid <= 0 || pid == (long) getpid()
        || (pid_t) pid != pid)
    {
        return 0;
    }

    return kill((pid_t) pid, 0) == 0 || errno == EPERM;
}


void
recsys_cleanup_temp(const char *index_dir)
{
    DIR            *d;
    char            path[RECSYS_PATH_MAX], err[RECSYS_ERRLEN];
    struct stat     st;
    struct dirent  *de;

    d = opendir(index_dir);
    if (d == NULL) {
        return;
    }

    while ((de = readdir(d)) != NULL) {
        if (recsys_path_join(path, sizeof(path), index_dir, de->d_name) != 0
            || lstat(path, &st) != 0)
        {
            continue;
        }

        if (strncmp(de->d_name, ".tmp-", 5) == 0 && S_ISDIR(st.st_mode)
            && !recsys_pid_alive(de->d_name + 5))
        {
            (void) recsys_remove_tree(path, err, sizeof(err));

        } else if (strncmp(de->d_name, ".current.tmp.", 13) == 0
                   && S_ISLNK(st.st_mode)
                   && !recsys_pid_alive(de->d_name + 13))
        {
            (void) unlink(path);
        }
    }

    closedir(d);
}
