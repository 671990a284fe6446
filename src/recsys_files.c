/*
 * File and directory helpers shared by the generation code.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recsys_files.h"


#define RECSYS_OUT_BUFSIZE         65536


struct recsys_out_s {
    int                 fd;
    int                 error;          /* errno of the first failure */
    uint64_t            written;
    size_t              used;
    char                buf[RECSYS_OUT_BUFSIZE];
};


static int recsys_cmp_u64_desc(const void *a, const void *b);
static void recsys_out_flush(recsys_out_t *o);


int
recsys_path_join(char *out, size_t outlen, const char *dir, const char *name)
{
    int  n;

    n = snprintf(out, outlen, "%s/%s", dir, name);

    return (n < 0 || (size_t) n >= outlen) ? -1 : 0;
}


const char *
recsys_path_base(const char *path)
{
    const char  *p;

    p = strrchr(path, '/');

    return p ? p + 1 : path;
}


int
recsys_file_rename(const char *tmp, const char *path, char *err,
    size_t errlen)
{
    char    dir[RECSYS_PATH_MAX];
    size_t  n;

    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "rename \"%s\" to \"%s\" failed: %s", tmp,
                 path, strerror(errno));
        (void) unlink(tmp);
        return -1;
    }

    n = (size_t) (recsys_path_base(path) - path);

    if (n == 0) {
        return recsys_fsync_path(".", err, errlen);
    }

    /* "/name" is in "/", "dir/name" in "dir" */
    n = (n > 1) ? n - 1 : 1;

    if (n >= sizeof(dir)) {
        snprintf(err, errlen, "%s: path too long", recsys_path_base(path));
        return -1;
    }

    memcpy(dir, path, n);
    dir[n] = '\0';

    return recsys_fsync_path(dir, err, errlen);
}


int
recsys_file_write(const char *path, const void *data, size_t len,
    char *err, size_t errlen)
{
    int          fd;
    ssize_t      n;
    const char  *name, *p;

    name = recsys_path_base(path);
    p = data;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        snprintf(err, errlen, "%s: open failed: %s", name, strerror(errno));
        return -1;
    }

    while (len > 0) {
        n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            snprintf(err, errlen, "%s: write failed: %s", name,
                     strerror(errno));
            goto failed;
        }

        p += n;
        len -= n;
    }

    if (fsync(fd) != 0) {
        snprintf(err, errlen, "%s: fsync failed: %s", name, strerror(errno));
        goto failed;
    }

    if (close(fd) != 0) {
        snprintf(err, errlen, "%s: close failed: %s", name, strerror(errno));
        unlink(path);
        return -1;
    }

    return 0;

failed:

    close(fd);
    unlink(path);

    return -1;
}


int
recsys_out_file(const char *path, recsys_out_emit_pt emit, void *data,
    char *err, size_t errlen)
{
    int            rc;
    const char    *name;
    recsys_out_t  *o;

    name = recsys_path_base(path);

    o = malloc(sizeof(recsys_out_t));
    if (o == NULL) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }

    o->error = 0;
    o->written = 0;
    o->used = 0;

    o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o->fd == -1) {
        snprintf(err, errlen, "%s: open failed: %s", name, strerror(errno));
        free(o);
        return -1;
    }

    rc = emit(data, o, err, errlen);

    if (rc == 0) {
        recsys_out_flush(o);

        if (o->error != 0) {
            snprintf(err, errlen, "%s: write failed: %s", name,
                     strerror(o->error));
            rc = -1;
        }
    }

    if (rc == 0 && fsync(o->fd) != 0) {
        snprintf(err, errlen, "%s: fsync failed: %s", name, strerror(errno));
        rc = -1;
    }

    if (close(o->fd) != 0 && rc == 0) {
        snprintf(err, errlen, "%s: close failed: %s", name, strerror(errno));
        rc = -1;
    }

    if (rc != 0) {
        unlink(path);
    }

    free(o);

    return rc;
}


static void
recsys_out_flush(recsys_out_t *o)
{
    ssize_t      n;
    const char  *p;

    p = o->buf;

    while (o->used > 0 && o->error == 0) {
        n = write(o->fd, p, o->used);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            o->error = errno;
            break;
        }

        p += n;
        o->used -= n;
    }

    o->used = 0;
}


int
recsys_file_lines(const char *path, recsys_line_pt fn, void *data,
    char *err, size_t errlen)
{
    int       rc;
    FILE     *f;
    char     *buf;
    size_t    size;
    ssize_t   n;

    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }

    buf = NULL;
    size = 0;
    rc = 0;

    for ( ;; ) {
        errno = 0;
        n = getline(&buf, &size, f);

        if (n < 0) {
            if (errno != 0 || ferror(f)) {
                snprintf(err, errlen, "%s: read error: %s", path,
                         strerror(errno ? errno : EIO));
                rc = -1;
            }
            break;
        }

        if (fn(data, buf, (size_t) n) != 0) {
            rc = -1;
            break;
        }
    }

    free(buf);
    fclose(f);

    return rc;
}


void
recsys_out_write(recsys_out_t *o, const void *data, size_t len)
{
    size_t       n;
    const char  *p;

    p = data;
    o->written += len;

    while (len > 0 && o->error == 0) {
        n = sizeof(o->buf) - o->used;
        if (n > len) {
            n = len;
        }

        memcpy(o->buf + o->used, p, n);
        o->used += n;
        p += n;
        len -= n;

        if (o->used == sizeof(o->buf)) {
            recsys_out_flush(o);
        }
    }
}


void
recsys_out_pad(recsys_out_t *o, uint64_t offset)
{
    static const char  zero[8];

    while (o->written < offset && o->error == 0) {
        recsys_out_write(o, zero, 1);
    }
}


int
recsys_file_map(const char *path, const void **base, size_t *size,
    char *err, size_t errlen)
{
    int           fd;
    void         *p;
    struct stat   st;
    const char   *name;

    name = recsys_path_base(path);
    *base = NULL;
    *size = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, errlen, "%s: open failed: %s", name, strerror(errno));
        return -1;
    }

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", name);
        close(fd);
        return -1;
    }

    if (st.st_size == 0) {
        close(fd);
        return 0;
    }

    /* MAP_SHARED: every worker shares the same page cache pages */
    p = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);

    if (p == MAP_FAILED) {
        snprintf(err, errlen, "%s: mmap failed: %s", name, strerror(errno));
        return -1;
    }

    *base = p;
    *size = st.st_size;

    return 0;
}


int
recsys_fsync_path(const char *path, char *err, size_t errlen)
{
    int  fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, errlen, "%s: open failed: %s", path, strerror(errno));
        return -1;
    }

    if (fsync(fd) != 0) {
        snprintf(err, errlen, "%s: fsync failed: %s", path, strerror(errno));
        close(fd);
        return -1;
    }

    close(fd);

    return 0;
}


int
recsys_fsync_dir(const char *dir, int file_mode, char *err, size_t errlen)
{
    DIR            *d;
    char            path[RECSYS_PATH_MAX];
    struct stat     st;
    struct dirent  *de;

    d = opendir(dir);
    if (d == NULL) {
        snprintf(err, errlen, "%s: opendir failed: %s", dir,
                 strerror(errno));
        return -1;
    }

    while ((de = readdir(d)) != NULL) {
        if (recsys_path_join(path, sizeof(path), dir, de->d_name) != 0) {
            snprintf(err, errlen, "%s: path too long", dir);
            closedir(d);
            return -1;
        }

        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }

        if (file_mode >= 0 && chmod(path, (mode_t) file_mode) != 0) {
            snprintf(err, errlen, "chmod \"%.400s\" failed: %s", path,
                     strerror(errno));
            closedir(d);
            return -1;
        }

        if (recsys_fsync_path(path, err, errlen) != 0) {
            closedir(d);
            return -1;
        }
    }

    closedir(d);

    return recsys_fsync_path(dir, err, errlen);
}


int
recsys_mkdirs(const char *path, char *err, size_t errlen)
{
    char         buf[RECSYS_PATH_MAX], *p;
    size_t       len;
    struct stat  st;

    len = strlen(path);
    if (len == 0 || len >= sizeof(buf)) {
        snprintf(err, errlen, "bad directory path \"%.400s\"", path);
        return -1;
    }

    memcpy(buf, path, len + 1);

    for (p = buf + 1; /* void */ ; p++) {
        if (*p != '/' && *p != '\0') {
            continue;
        }

        if (*p == '/') {
            *p = '\0';
        }

        if (mkdir(buf, 0755) != 0
            && (errno != EEXIST || stat(buf, &st) != 0
                || !S_ISDIR(st.st_mode)))
        {
            snprintf(err, errlen, "%.400s: mkdir failed: %s", buf,
                     strerror(errno));
            return -1;
        }

        if (p == buf + len) {
            break;
        }

        *p = '/';
    }

    return 0;
}


static int
recsys_cmp_u64_desc(const void *a, const void *b)
{
    uint64_t  x, y;

    x = *(const uint64_t *) a;
    y = *(const uint64_t *) b;

    return (x < y) - (x > y);
}


int
recsys_dir_numbers(const char *dir, uint64_t **out)
{
    DIR            *d;
    size_t          n, nalloc;
    uint64_t        g, *list, *p;
    struct dirent  *de;

    *out = NULL;

    d = opendir(dir);
    if (d == NULL) {
        return -1;
    }

    list = NULL;
    n = 0;
    nalloc = 0;

    while ((de = readdir(d)) != NULL) {
        if (recsys_parse_uint(de->d_name, strlen(de->d_name), &g) != 0) {
            continue;
        }

        if (n == nalloc) {
            nalloc = nalloc ? nalloc * 2 : 16;
            p = realloc(list, nalloc * sizeof(uint64_t));
            if (p == NULL) {
                free(list);
                closedir(d);
                return -1;
            }

            list = p;
        }

        list[n++] = g;
    }

    closedir(d);

    if (n > 0) {
        qsort(list, n, sizeof(uint64_t), recsys_cmp_u64_desc);
    }

    *out = list;

    return (int) n;
}


int
recsys_remove_tree(const char *path, char *err, size_t errlen)
{
    int             rc;
    DIR            *d;
    char            sub[RECSYS_PATH_MAX], e[RECSYS_ERRLEN];
    struct stat     st;
    struct dirent  *de;

    if (lstat(path, &st) != 0) {
        snprintf(err, errlen, "%.200s: lstat failed: %s", path,
                 strerror(errno));
        return -1;
    }

    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) != 0) {
            snprintf(err, errlen, "%.200s: unlink failed: %s", path,
                     strerror(errno));
            return -1;
        }

        return 0;
    }

    /* published generations are read-only: writable again, if ours */
    if ((st.st_mode & S_IRWXU) != S_IRWXU) {
        (void) chmod(path, (st.st_mode & 07777) | S_IRWXU);
    }

    d = opendir(path);
    if (d == NULL) {
        snprintf(err, errlen, "%.200s: opendir failed: %s", path,
                 strerror(errno));
        return -1;
    }

    rc = 0;

    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }

        if (recsys_path_join(sub, sizeof(sub), path, de->d_name) != 0) {
            if (rc == 0) {
                snprintf(err, errlen, "%.200s: path too long", path);
            }

            rc = -1;
            continue;
        }

        /* the first failure is the one reported */
        if (recsys_remove_tree(sub, e, sizeof(e)) != 0) {
            if (rc == 0) {
                snprintf(err, errlen, "%s", e);
            }

            rc = -1;
        }
    }

    closedir(d);

    if (rmdir(path) != 0) {
        if (rc == 0) {
            snprintf(err, errlen, "%.200s: rmdir failed: %s", path,
                     strerror(errno));
        }

        rc = -1;
    }

    return rc;
}
