/*
 * The events spool: workers' segments, and the shipper that moves them
 * into the store exactly once (see recsys_spool.h).  Pure C (libpq): no
 * nginx header.
 */


#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "recsys_events.h"
#include "recsys_files.h"
#include "recsys_pg_dsn.h"
#include "recsys_spool.h"


#define RECSYS_SPOOL_NAME_MAX   96
#define RECSYS_SPOOL_PATH_MAX   4096
#define RECSYS_SPOOL_STATE_SUF  ".shipped"

/* "shipped" rows of finished segments are kept this long */
#define RECSYS_SPOOL_KEEP_DAYS  "7"


typedef struct {
    char                name[RECSYS_SPOOL_NAME_MAX];
} recsys_spool_name_t;


/* a batch of a segment: lines [off, next) */
typedef struct {
    const char         *seg;
    size_t              len;            /* complete lines only */
    size_t              off;
    size_t              next;
    uint64_t            events;
    uint64_t            lost;
    char               *out;            /* the store's form of the batch */
    size_t              out_len;
    size_t              out_cap;
} recsys_spool_batch_t;


static int recsys_spool_open(recsys_spool_writer_t *w, const char *dir,
    char *err, size_t errlen);
static void recsys_spool_abandon(recsys_spool_writer_t *w, const char *dir);
static int recsys_spool_path(char *buf, const char *dir, const char *prefix,
    const char *id);
static int recsys_spool_fsync_dir(const char *dir);
static int recsys_spool_list(const char *dir, recsys_spool_name_t **names,
    size_t *n, char *err, size_t errlen);
static int recsys_spool_name_cmp(const void *a, const void *b);
static void recsys_spool_orphan(const char *dir, const char *name);
static int recsys_spool_segment(recsys_spool_store_t *store, const char *dir,
    const char *name, recsys_spool_stats_t *st, char *err, size_t errlen);
static int recsys_spool_read(const char *path, char **buf, size_t *len,
    char *err, size_t errlen);
static int recsys_spool_batch(recsys_spool_batch_t *b, uint32_t max,
    int copy);
static int recsys_spool_file(recsys_spool_store_t *store, const char *id,
    recsys_spool_batch_t *b, recsys_spool_stats_t *st, char *err,
    size_t errlen);
static int recsys_spool_state_read(const char *path, char *id, size_t idlen,
    uint64_t *off, uint64_t *size);
static int recsys_spool_state_write(const char *path, const char *id,
    uint64_t off, uint64_t size, char *err, size_t errlen);
static int recsys_spool_pg(recsys_spool_store_t *store, const char *id,
    recsys_spool_batch_t *b, recsys_spool_stats_t *st, char *err,
    size_t errlen);
static int recsys_spool_pg_connect(recsys_spool_store_t *store, char *err,
    size_t errlen);
static int recsys_spool_pg_exec(recsys_spool_store_t *store, const char *sql,
    int nparams, const char **params, int want, PGresult **out, char *err,
    size_t errlen);
static int recsys_spool_pg_copy(recsys_spool_store_t *store,
    recsys_spool_batch_t *b, char *err, size_t errlen);
static int recsys_spool_cancelled(recsys_spool_store_t *store);
static int64_t recsys_spool_now_ms(void);


/* ---- the workers' side ---- */

void
recsys_spool_writer_init(recsys_spool_writer_t *w)
{
    memset(w, 0, sizeof(recsys_spool_writer_t));
    w->fd = -1;
}


int
recsys_spool_append(recsys_spool_writer_t *w, const char *dir,
    const char *buf, size_t len, int sync, char *err, size_t errlen)
{
    int      e;
    ssize_t  n;

    if (w->fd == -1 && recsys_spool_open(w, dir, err, errlen) != 0) {
        return -1;
    }

    n = write(w->fd, buf, len);

    if (n != (ssize_t) len) {
        e = (n < 0) ? errno : ENOSPC;
        snprintf(err, errlen, "write() to spool segment \"open-%s.jsonl\" "
                 "failed: %s", w->id, strerror(e));
        recsys_spool_abandon(w, dir);
        return -1;
    }

    w->size += len;
    w->dirty = 1;

    if (sync && recsys_spool_sync(w, err, errlen) != 0) {
        w->size -= len;
        recsys_spool_abandon(w, dir);
        return -1;
    }

    return 0;
}


int
recsys_spool_sync(recsys_spool_writer_t *w, char *err, size_t errlen)
{
    if (w->fd == -1 || !w->dirty) {
        return 0;
    }

    if (fdatasync(w->fd) != 0) {
        snprintf(err, errlen, "fdatasync() of spool segment "
                 "\"open-%s.jsonl\" failed: %s", w->id, strerror(errno));
        return -1;
    }

    w->dirty = 0;

    return 0;
}


int
recsys_spool_seal(recsys_spool_writer_t *w, const char *dir, char *err,
    size_t errlen)
{
    int   rc;
    char  from[RECSYS_SPOOL_PATH_MAX], to[RECSYS_SPOOL_PATH_MAX];

    if (w->fd == -1) {
        return 0;
    }

    rc = 0;
    recsys_spool_path(from, dir, "open-", w->id);
    recsys_spool_path(to, dir, "ready-", w->id);

    if (w->size == 0) {
        (void) unlink(from);

    } else if (recsys_spool_sync(w, err, errlen) != 0) {
        rc = -1;
        (void) rename(from, to);

    } else if (rename(from, to) != 0) {
        snprintf(err, errlen, "rename() of spool segment \"open-%s.jsonl\" "
                 "failed: %s", w->id, strerror(errno));
        rc = -1;
    }

    /* the flock goes with the descriptor */
    (void) close(w->fd);
    w->fd = -1;
    w->size = 0;
    w->dirty = 0;

    return rc;
}


/*
 * A new segment, locked.  The name is new (O_EXCL); a shipper may still
 * lock it between open() and flock() and take it for a dead writer's
 * (it then ships an empty file), so that segment is left to it.  The
 * directory is synced so that the name survives a crash as the data
 * does.
 */

static int
recsys_spool_open(recsys_spool_writer_t *w, const char *dir, char *err,
    size_t errlen)
{
    int      fd, i;
    char     path[RECSYS_SPOOL_PATH_MAX];
    int64_t  now;

    for (i = 0; i < 8; i++) {
        now = recsys_spool_now_ms();
        snprintf(w->id, sizeof(w->id), "%013lld-%ld-%u", (long long) now,
                 (long) getpid(), w->seq++);

        if (recsys_spool_path(path, dir, "open-", w->id) != 0) {
            snprintf(err, errlen, "spool directory \"%s\" is too long", dir);
            return -1;
        }

        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC,
                  0640);

        if (fd == -1) {
            if (errno == EEXIST) {
                continue;
            }

            snprintf(err, errlen, "open() of spool segment \"%s\" failed: "
                     "%s", path, strerror(errno));
            return -1;
        }

        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            w->fd = fd;
            w->size = 0;
            w->dirty = 0;
            w->opened_ms = now;

            (void) recsys_spool_fsync_dir(dir);

            return 0;
        }

        (void) close(fd);
    }

    snprintf(err, errlen, "cannot create a spool segment in \"%s\"", dir);

    return -1;
}


/* after a failed write: cut it off, and leave the segment to the shipper */

static void
recsys_spool_abandon(recsys_spool_writer_t *w, const char *dir)
{
    char  from[RECSYS_SPOOL_PATH_MAX], to[RECSYS_SPOOL_PATH_MAX];

    (void) ftruncate(w->fd, (off_t) w->size);

    recsys_spool_path(from, dir, "open-", w->id);
    recsys_spool_path(to, dir, "ready-", w->id);

    if (w->size == 0) {
        (void) unlink(from);

    } else {
        (void) rename(from, to);
    }

    (void) close(w->fd);
    w->fd = -1;
    w->size = 0;
    w->dirty = 0;
}


static int
recsys_spool_path(char *buf, const char *dir, const char *prefix,
    const char *id)
{
    int  n;

    n = snprintf(buf, RECSYS_SPOOL_PATH_MAX, "%s/%s%s%s", dir, prefix, id,
                 id[0] ? ".jsonl" : "");

    return (n < 0 || n >= RECSYS_SPOOL_PATH_MAX) ? -1 : 0;
}


static int
recsys_spool_fsync_dir(const char *dir)
{
    int  fd, rc;

    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1) {
        return -1;
    }

    rc = fsync(fd);
    (void) close(fd);

    return rc;
}


/* ---- the shipper's side ---- */

int
recsys_spool_ship(recsys_spool_store_t *store, const char *dir,
    recsys_spool_stats_t *st, char *err, size_t errlen)
{
    int                   lock, rc;
    char                  path[RECSYS_SPOOL_PATH_MAX];
    size_t                i, n;
    recsys_spool_name_t  *names;

    memset(st, 0, sizeof(recsys_spool_stats_t));

    if (recsys_spool_path(path, dir, RECSYS_SPOOL_LOCK, "") != 0) {
        snprintf(err, errlen, "spool directory \"%s\" is too long", dir);
        return -1;
    }

    lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (lock == -1) {
        snprintf(err, errlen, "open() of \"%s\" failed: %s", path,
                 strerror(errno));
        return -1;
    }

    /* another shipper (a helper still exiting after a reload) is at it */
    if (flock(lock, LOCK_EX | LOCK_NB) != 0) {
        (void) close(lock);
        st->bytes = recsys_spool_bytes(dir);
        return 0;
    }

    rc = recsys_spool_list(dir, &names, &n, err, errlen);

    if (rc == 0) {
        for (i = 0; i < n; i++) {
            if (strncmp(names[i].name, "open-", 5) == 0) {
                recsys_spool_orphan(dir, names[i].name);
            }
        }

        free(names);
        rc = recsys_spool_list(dir, &names, &n, err, errlen);
    }

    if (rc == 0) {
        for (i = 0; rc == 0 && i < n; i++) {
            if (strncmp(names[i].name, "ready-", 6) != 0) {
                continue;
            }

            if (recsys_spool_cancelled(store)) {
                break;
            }

            rc = recsys_spool_segment(store, dir, names[i].name, st, err,
                                      errlen);
        }

        free(names);
    }

    if (recsys_spool_list(dir, &names, &n, NULL, 0) == 0) {
        for (i = 0; i < n; i++) {
            if (strncmp(names[i].name, "ready-", 6) == 0) {
                st->ready++;
            }
        }

        free(names);
    }

    st->bytes = recsys_spool_bytes(dir);

    (void) close(lock);

    return rc;
}


/* the segment names in dir (open- and ready-), sorted: oldest first */

static int
recsys_spool_list(const char *dir, recsys_spool_name_t **names, size_t *n,
    char *err, size_t errlen)
{
    DIR                  *d;
    size_t                cap, len;
    struct dirent        *de;
    recsys_spool_name_t  *a, *p;

    *names = NULL;
    *n = 0;

    d = opendir(dir);

    if (d == NULL) {
        if (errno == ENOENT) {
            return 0;
        }

        if (err) {
            snprintf(err, errlen, "opendir(\"%s\") failed: %s", dir,
                     strerror(errno));
        }

        return -1;
    }

    a = NULL;
    cap = 0;

    while ((de = readdir(d)) != NULL) {
        len = strlen(de->d_name);

        if ((strncmp(de->d_name, "open-", 5) != 0
             && strncmp(de->d_name, "ready-", 6) != 0)
            || len < 7 || len >= RECSYS_SPOOL_NAME_MAX
            || strcmp(de->d_name + len - 6, ".jsonl") != 0)
        {
            continue;
        }

        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            p = realloc(a, cap * sizeof(recsys_spool_name_t));

            if (p == NULL) {
                free(a);
                closedir(d);

                if (err) {
                    snprintf(err, errlen, "out of memory");
                }

                return -1;
            }

            a = p;
        }

        memcpy(a[(*n)++].name, de->d_name, len + 1);
    }

    closedir(d);

    if (*n) {
        qsort(a, *n, sizeof(recsys_spool_name_t), recsys_spool_name_cmp);
    }

    *names = a;

    return 0;
}


/* by id, the time first: "open-" and "ready-" are skipped */

static int
recsys_spool_name_cmp(const void *a, const void *b)
{
    const char  *x, *y;

    x = ((const recsys_spool_name_t *) a)->name;
    y = ((const recsys_spool_name_t *) b)->name;

    return strcmp(strchr(x, '-') + 1, strchr(y, '-') + 1);
}


/*
 * An open segment whose flock is free has lost its writer: sealed here.
 * A writer that sealed it in the meantime has renamed it already.
 */

static void
recsys_spool_orphan(const char *dir, const char *name)
{
    int   fd;
    char  from[RECSYS_SPOOL_PATH_MAX], to[RECSYS_SPOOL_PATH_MAX];

    snprintf(from, sizeof(from), "%s/%s", dir, name);
    snprintf(to, sizeof(to), "%s/ready-%s", dir, name + 5);

    fd = open(from, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return;
    }

    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        (void) rename(from, to);
    }

    (void) close(fd);
}


static int
recsys_spool_segment(recsys_spool_store_t *store, const char *dir,
    const char *name, recsys_spool_stats_t *st, char *err, size_t errlen)
{
    int                    rc;
    char                   path[RECSYS_SPOOL_PATH_MAX];
    char                   id[RECSYS_SPOOL_NAME_MAX];
    char                  *buf;
    size_t                 len, complete;
    recsys_spool_batch_t   b;

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    /* the id: between "ready-" and ".jsonl" */
    len = strlen(name) - 6 - 6;
    memcpy(id, name + 6, len);
    id[len] = '\0';

    if (recsys_spool_read(path, &buf, &len, err, errlen) != 0) {
        return -1;
    }

    /* a torn last line: a write its worker died in, never answered 202 */
    for (complete = len; complete > 0 && buf[complete - 1] != '\n';
         complete--)
    {
        /* void */
    }

    memset(&b, 0, sizeof(recsys_spool_batch_t));
    b.seg = buf;
    b.len = complete;

    if (store->conf->store.type == RECSYS_STORE_POSTGRESQL) {
        rc = recsys_spool_pg(store, id, &b, st, err, errlen);

    } else {
        rc = recsys_spool_file(store, id, &b, st, err, errlen);
    }

    free(b.out);
    free(buf);

    if (rc != 0 || b.off < b.len) {
        return rc;
    }

    if (complete < len) {
        st->lost++;

        if (store->commit) {
            store->commit(store->data, 0, 1);
        }
    }

    /* before the next segment: a shipped one must not come back */
    if (unlink(path) != 0) {
        snprintf(err, errlen, "unlink() of shipped segment \"%s\" failed: "
                 "%s", path, strerror(errno));
        return -1;
    }

    (void) recsys_spool_fsync_dir(dir);
    st->segments++;

    return 0;
}


static int
recsys_spool_read(const char *path, char **buf, size_t *len, char *err,
    size_t errlen)
{
    int          fd;
    char        *p;
    size_t       got;
    ssize_t      n;
    struct stat  sb;

    *buf = NULL;
    *len = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd == -1 || fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "cannot open spool segment \"%s\": %s", path,
                 strerror(errno));

        if (fd != -1) {
            (void) close(fd);
        }

        return -1;
    }

    p = malloc((size_t) sb.st_size + 1);

    if (p == NULL) {
        (void) close(fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    for (got = 0; got < (size_t) sb.st_size; got += (size_t) n) {
        n = read(fd, p + got, (size_t) sb.st_size - got);

        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                n = 0;
                continue;
            }

            break;
        }
    }

    (void) close(fd);

    *buf = p;
    *len = got;

    return 0;
}


/*
 * The next batch after b->off: up to max lines, each in the store's form
 * (the line itself, or a COPY row); lines that are not events are
 * dropped and counted.  0, or -1 when out of memory.
 */

static int
recsys_spool_batch(recsys_spool_batch_t *b, uint32_t max, int copy)
{
    char                 *nl, *p;
    void                 *tree;
    size_t                pos, need, ll;
    uint32_t              lines;
    recsys_events_row_t   e;

    b->events = 0;
    b->lost = 0;
    b->out_len = 0;
    tree = NULL;

    for (pos = b->off, lines = 0; pos < b->len && lines < max; lines++) {
        nl = memchr(b->seg + pos, '\n', b->len - pos);
        ll = (size_t) (nl - (b->seg + pos));

        if (recsys_events_line(b->seg + pos, ll, &e, &tree) != 0) {
            b->lost++;
            pos += ll + 1;
            continue;
        }

        need = copy ? recsys_events_copy_len(&e) : ll + 1;

        if (b->out_len + need > b->out_cap) {
            b->out_cap = 2 * (b->out_cap + need);
            p = realloc(b->out, b->out_cap);

            if (p == NULL) {
                recsys_events_line_free(tree);
                return -1;
            }

            b->out = p;
        }

        if (copy) {
            p = recsys_events_copy_row(b->out + b->out_len, &e);
            b->out_len = (size_t) (p - b->out);

        } else {
            memcpy(b->out + b->out_len, b->seg + pos, ll + 1);
            b->out_len += ll + 1;
        }

        b->events++;
        pos += ll + 1;
    }

    recsys_events_line_free(tree);
    b->next = pos;

    return 0;
}


/* ---- the file store ---- */

static int
recsys_spool_file(recsys_spool_store_t *store, const char *id,
    recsys_spool_batch_t *b, recsys_spool_stats_t *st, char *err,
    size_t errlen)
{
    int          fd, have;
    char         state[RECSYS_SPOOL_PATH_MAX], sid[RECSYS_SPOOL_NAME_MAX];
    size_t       done;
    ssize_t      n;
    uint64_t     off, size;
    const char  *path;
    struct stat  sb;

    path = store->conf->store.path;

    if (snprintf(state, sizeof(state), "%s" RECSYS_SPOOL_STATE_SUF, path)
        >= (int) sizeof(state))
    {
        snprintf(err, errlen, "events.store.path is too long");
        return -1;
    }

    have = (recsys_spool_state_read(state, sid, sizeof(sid), &off, &size)
            == 0);

    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

    if (fd == -1 || fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "cannot open the events file \"%s\": %s", path,
                 strerror(errno));

        if (fd != -1) {
            (void) close(fd);
        }

        return -1;
    }

    /*
     * Bytes past the committed size were appended by a pass that died
     * before its state was renamed in: they are shipped again below.  A
     * shorter file was rotated away by an operator.
     */
    if (!have) {
        sid[0] = '\0';
        off = 0;
        size = (uint64_t) sb.st_size;

    } else if ((uint64_t) sb.st_size > size) {
        if (ftruncate(fd, (off_t) size) != 0 || fdatasync(fd) != 0) {
            snprintf(err, errlen, "cannot cut the uncommitted end of \"%s\": "
                     "%s", path, strerror(errno));
            (void) close(fd);
            return -1;
        }

    } else if ((uint64_t) sb.st_size < size) {
        size = (uint64_t) sb.st_size;
    }

    b->off = (strcmp(sid, id) == 0 && off <= b->len) ? (size_t) off : 0;

    while (b->off < b->len) {
        if (recsys_spool_batch(b, store->conf->ship_batch, 0) != 0) {
            snprintf(err, errlen, "out of memory");
            (void) close(fd);
            return -1;
        }

        for (done = 0; done < b->out_len; done += (size_t) n) {
            n = write(fd, b->out + done, b->out_len - done);

            if (n < 0 && errno == EINTR) {
                n = 0;
                continue;
            }

            if (n <= 0) {
                snprintf(err, errlen, "write() to \"%s\" failed: %s", path,
                         n < 0 ? strerror(errno) : "no space");
                (void) close(fd);
                return -1;
            }
        }

        if (fdatasync(fd) != 0) {
            snprintf(err, errlen, "fdatasync() of \"%s\" failed: %s", path,
                     strerror(errno));
            (void) close(fd);
            return -1;
        }

        /* the commit */
        if (recsys_spool_state_write(state, id, b->next, size + b->out_len,
                                     err, errlen)
            != 0)
        {
            (void) close(fd);
            return -1;
        }

        size += b->out_len;
        b->off = b->next;
        st->shipped += b->events;
        st->lost += b->lost;

        if (store->commit) {
            store->commit(store->data, b->events, b->lost);
        }

        if (recsys_spool_cancelled(store)) {
            break;
        }
    }

    (void) close(fd);

    return 0;
}


static int
recsys_spool_state_read(const char *path, char *id, size_t idlen,
    uint64_t *off, uint64_t *size)
{
    FILE                *fp;
    char                 line[RECSYS_SPOOL_NAME_MAX + 64];
    char                 sid[RECSYS_SPOOL_NAME_MAX];
    unsigned long long   o, s;

    fp = fopen(path, "r");
    if (fp == NULL) {
        return -1;
    }

    if (fgets(line, sizeof(line), fp) == NULL
        || sscanf(line, "%95s %llu %llu", sid, &o, &s) != 3)
    {
        fclose(fp);
        return -1;
    }

    fclose(fp);

    snprintf(id, idlen, "%s", sid);
    *off = o;
    *size = s;

    return 0;
}


/* tmp, fsync, rename, fsync of the directory */

static int
recsys_spool_state_write(const char *path, const char *id, uint64_t off,
    uint64_t size, char *err, size_t errlen)
{
    int   n;
    char  tmp[RECSYS_SPOOL_PATH_MAX], line[RECSYS_SPOOL_NAME_MAX + 64];

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int) sizeof(tmp)) {
        snprintf(err, errlen, "events.store.path is too long");
        return -1;
    }

    n = snprintf(line, sizeof(line), "%s %llu %llu\n", id,
                 (unsigned long long) off, (unsigned long long) size);

    if (recsys_file_write(tmp, line, (size_t) n, err, errlen) != 0) {
        return -1;
    }

    return recsys_file_rename(tmp, path, err, errlen);
}


/* ---- the PostgreSQL store ---- */

static int
recsys_spool_pg(recsys_spool_store_t *store, const char *id,
    recsys_spool_batch_t *b, recsys_spool_stats_t *st, char *err,
    size_t errlen)
{
    char          sql[1024], next[24], events[24];
    PGresult     *res;
    const char   *params[3];

    if (store->conn == NULL
        && recsys_spool_pg_connect(store, err, errlen) != 0)
    {
        return -1;
    }

    params[0] = id;

    for ( ;; ) {
        if (recsys_spool_pg_exec(store, "BEGIN", 0, NULL, PGRES_COMMAND_OK,
                                 NULL, err, errlen)
            != 0)
        {
            return -1;
        }

        /* the offset shipped, read under the row's lock */
        snprintf(sql, sizeof(sql), "SELECT \"offset\" FROM %s WHERE "
                 "segment = $1 FOR UPDATE", store->shipped);

        if (recsys_spool_pg_exec(store, sql, 1, params, PGRES_TUPLES_OK,
                                 &res, err, errlen)
            != 0)
        {
            return -1;
        }

        b->off = PQntuples(res) ? strtoull(PQgetvalue(res, 0, 0), NULL, 10)
                                : 0;
        PQclear(res);

        if (b->off >= b->len) {
            b->off = b->len;
            return recsys_spool_pg_exec(store, "COMMIT", 0, NULL,
                                        PGRES_COMMAND_OK, NULL, err, errlen);
        }

        if (recsys_spool_batch(b, store->conf->ship_batch, 1) != 0) {
            snprintf(err, errlen, "out of memory");
            recsys_spool_store_close(store);
            return -1;
        }

        if (b->events && recsys_spool_pg_copy(store, b, err, errlen) != 0) {
            return -1;
        }

        snprintf(next, sizeof(next), "%llu", (unsigned long long) b->next);
        snprintf(events, sizeof(events), "%llu",
                 (unsigned long long) b->events);
        params[1] = next;
        params[2] = events;

        snprintf(sql, sizeof(sql), "INSERT INTO %s (segment, \"offset\", "
                 "events) VALUES ($1, $2, $3) ON CONFLICT (segment) DO "
                 "UPDATE SET \"offset\" = EXCLUDED.\"offset\", events = "
                 "%s.events + EXCLUDED.events, shipped_at = now()",
                 store->shipped, store->shipped);

        if (recsys_spool_pg_exec(store, sql, 3, params, PGRES_COMMAND_OK,
                                 NULL, err, errlen)
            != 0
            || recsys_spool_pg_exec(store, "COMMIT", 0, NULL,
                                    PGRES_COMMAND_OK, NULL, err, errlen)
               != 0)
        {
            return -1;
        }

        b->off = b->next;
        st->shipped += b->events;
        st->lost += b->lost;

        if (store->commit) {
            store->commit(store->data, b->events, b->lost);
        }

        if (b->off >= b->len || recsys_spool_cancelled(store)) {
            return 0;
        }
    }
}


static int
recsys_spool_pg_connect(recsys_spool_store_t *store, char *err,
    size_t errlen)
{
    char        sql[2048];
    const char *table;

    store->conn = recsys_pg_connect(store->conf->store.dsn, "recsys-helper",
                                    err, errlen);
    if (store->conn == NULL) {
        return -1;
    }

    table = store->conf->store.table;
    store->table = recsys_pg_table(store->conn, table, "");
    store->shipped = recsys_pg_table(store->conn, table, "_shipped");

    if (store->table == NULL || store->shipped == NULL) {
        snprintf(err, errlen, "out of memory");
        recsys_spool_store_close(store);
        return -1;
    }

    /* a quoted schema.table fits: NAMEDATALEN is 64 */
    if (strlen(store->table) > 300 || strlen(store->shipped) > 300) {
        snprintf(err, errlen, "events.store.table is too long");
        recsys_spool_store_close(store);
        return -1;
    }

    snprintf(sql, sizeof(sql),
             "CREATE TABLE IF NOT EXISTS %.300s (id bigserial PRIMARY KEY, "
             "user_id text NOT NULL, item_id text NOT NULL, type text NOT "
             "NULL, ts timestamptz NOT NULL, weight double precision NOT "
             "NULL); "
             "CREATE TABLE IF NOT EXISTS %.300s (segment text PRIMARY KEY, "
             "\"offset\" bigint NOT NULL, events bigint NOT NULL, "
             "shipped_at timestamptz NOT NULL DEFAULT now()); "
             "DELETE FROM %.300s WHERE shipped_at < now() - interval '"
             RECSYS_SPOOL_KEEP_DAYS " days'",
             store->table, store->shipped, store->shipped);

    return recsys_spool_pg_exec(store, sql, 0, NULL, PGRES_COMMAND_OK, NULL,
                                err, errlen);
}


/*
 * Runs sql; on anything but the "want" status the connection is closed
 * (the transaction with it) and err says why.
 */

static int
recsys_spool_pg_exec(recsys_spool_store_t *store, const char *sql,
    int nparams, const char **params, int want, PGresult **out, char *err,
    size_t errlen)
{
    PGresult  *res;

    res = nparams ? PQexecParams(store->conn, sql, nparams, NULL, params,
                                 NULL, NULL, 0)
                  : PQexec(store->conn, sql);

    if (res == NULL || PQresultStatus(res) != (ExecStatusType) want) {
        recsys_pg_message(err, errlen, "events store: ",
                          res ? PQresultErrorMessage(res)
                              : PQerrorMessage(store->conn));
        recsys_pg_scrub(store->conf->store.dsn, err, errlen);
        PQclear(res);
        recsys_spool_store_close(store);
        return -1;
    }

    if (out) {
        *out = res;

    } else {
        PQclear(res);
    }

    return 0;
}


static int
recsys_spool_pg_copy(recsys_spool_store_t *store, recsys_spool_batch_t *b,
    char *err, size_t errlen)
{
    char       sql[1024];
    PGresult  *res;

    snprintf(sql, sizeof(sql), "COPY %s (user_id, item_id, type, ts, "
             "weight) FROM STDIN", store->table);

    if (recsys_spool_pg_exec(store, sql, 0, NULL, PGRES_COPY_IN, NULL, err,
                             errlen)
        != 0)
    {
        return -1;
    }

    if (PQputCopyData(store->conn, b->out, (int) b->out_len) != 1
        || PQputCopyEnd(store->conn, NULL) != 1)
    {
        recsys_pg_message(err, errlen, "events store: COPY: ",
                          PQerrorMessage(store->conn));
        recsys_spool_store_close(store);
        return -1;
    }

    res = PQgetResult(store->conn);

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        recsys_pg_message(err, errlen, "events store: COPY: ",
                          PQresultErrorMessage(res));
        PQclear(res);
        recsys_spool_store_close(store);
        return -1;
    }

    PQclear(res);

    while ((res = PQgetResult(store->conn)) != NULL) {
        PQclear(res);
    }

    return 0;
}


void
recsys_spool_store_close(recsys_spool_store_t *store)
{
    if (store->conn) {
        PQfinish(store->conn);
        store->conn = NULL;
    }

    free(store->table);
    free(store->shipped);
    store->table = NULL;
    store->shipped = NULL;
}


static int
recsys_spool_cancelled(recsys_spool_store_t *store)
{
    return store->cancel != NULL && *store->cancel;
}


uint64_t
recsys_spool_bytes(const char *dir)
{
    char                  path[RECSYS_SPOOL_PATH_MAX];
    size_t                i, n;
    uint64_t              total;
    struct stat           sb;
    recsys_spool_name_t  *names;

    if (recsys_spool_list(dir, &names, &n, NULL, 0) != 0) {
        return 0;
    }

    total = 0;

    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i].name);

        if (stat(path, &sb) == 0) {
            total += (uint64_t) sb.st_size;
        }
    }

    free(names);

    return total;
}


static int64_t
recsys_spool_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
