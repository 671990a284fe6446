/*
 * Fuzz target: the generation reader, as a worker opens and searches a
 * generation.  The input holds the files of one generation directory,
 * each after a line "--recsys-fuzz-file NAME--", NAME one of
 * manifest.json, items.bin, vectors.f32, index.faiss, neighbors.bin;
 * a file not given is absent.  When the first byte of the input is odd,
 * the manifest's "files" sizes and checksums are recomputed from the
 * files given, so that mutations reach past the checksums (the way a
 * tampered index.faiss with fixed-up checksums does).  Every input is
 * opened as a worker opens (cheap checks); one that opens is verified as
 * the builder verifies before it publishes, and one that verifies
 * answers a similar, a vector and a popular search.
 */

#define _GNU_SOURCE  /* memmem */

#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "recsys_manifest.h"
#include "recsys_search.h"


#define FUZZ_MARK       "--recsys-fuzz-file "
#define FUZZ_NFILES     5
#define FUZZ_K          5


typedef struct {
    const char         *name;
    const uint8_t      *data;
    size_t              len;
    int                 given;
} fuzz_file_t;


static void split(const uint8_t *data, size_t size, fuzz_file_t *files);
static char *fix_manifest(const fuzz_file_t *files);
static void write_files(const fuzz_file_t *files, const char *manifest);
static void search(const recsys_generation_t *g);
static void check_hits(int rc, const recsys_hit_t *hits, uint32_t n,
    uint32_t count);
static void cleanup(void);


static char  dir[] = "/tmp/recsys-fuzz-generation-XXXXXX";

static const char  *names[FUZZ_NFILES] = {
    RECSYS_MANIFEST_FILE, RECSYS_ITEMS_FILE, RECSYS_VECTORS_FILE,
    RECSYS_INDEX_FILE, RECSYS_NEIGHBORS_FILE
};


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  rc;
    char                 err[RECSYS_ERRLEN], *manifest;
    fuzz_file_t          files[FUZZ_NFILES];
    recsys_generation_t  g;

    if (size == 0) {
        return 0;
    }

    if (dir[sizeof(dir) - 2] == 'X') {
        recsys_fuzz_check(mkdtemp(dir) != NULL);
        atexit(cleanup);
    }

    split(data + 1, size - 1, files);

    manifest = (data[0] & 1) ? fix_manifest(files) : NULL;
    write_files(files, manifest);
    free(manifest);

    err[0] = '\0';
    memset(&g, 0, sizeof(recsys_generation_t));

    rc = recsys_generation_open(&g, dir, 0, -1, 0, err, sizeof(err));

    recsys_fuzz_check(memchr(err, '\0', sizeof(err)) != NULL);

    if (rc != 0) {
        recsys_fuzz_check(err[0] != '\0');
        return 0;
    }

    /* what a worker serves passed the builder's verification first */
    rc = recsys_generation_verify(&g, err, sizeof(err));

    recsys_fuzz_check(memchr(err, '\0', sizeof(err)) != NULL);

    if (rc != 0) {
        recsys_fuzz_check(err[0] != '\0');
        recsys_generation_close(&g);
        return 0;
    }

    search(&g);
    recsys_generation_close(&g);

    return 0;
}


static void
split(const uint8_t *data, size_t size, fuzz_file_t *files)
{
    size_t          i, n, mark;
    const uint8_t  *p, *end, *name, *next;
    fuzz_file_t    *cur;

    for (i = 0; i < FUZZ_NFILES; i++) {
        files[i].name = names[i];
        files[i].data = NULL;
        files[i].len = 0;
        files[i].given = 0;
    }

    mark = sizeof(FUZZ_MARK) - 1;
    end = data + size;
    cur = NULL;
    p = data;

    while (p < end) {
        next = memmem(p, end - p, FUZZ_MARK, mark);

        if (cur != NULL) {
            cur->data = p;
            cur->len = (next ? next : end) - p;

            /* the newline before the next mark belongs to the mark */
            if (next != NULL && cur->len > 0 && next[-1] == '\n') {
                cur->len--;
            }
        }

        if (next == NULL) {
            break;
        }

        name = next + mark;
        cur = NULL;

        for (i = 0; i < FUZZ_NFILES; i++) {
            n = strlen(names[i]);

            if ((size_t) (end - name) >= n + 3
                && memcmp(name, names[i], n) == 0
                && memcmp(name + n, "--\n", 3) == 0)
            {
                cur = &files[i];
                cur->given = 1;
                name += n + 3;
                break;
            }
        }

        p = (cur != NULL) ? name : next + mark;
    }
}


static char *
fix_manifest(const fuzz_file_t *files)
{
    int     i;
    char    hex[17], *out;
    cJSON  *root, *fs, *f;

    if (!files[0].given) {
        return NULL;
    }

    root = cJSON_ParseWithLength((const char *) files[0].data, files[0].len);
    fs = cJSON_GetObjectItemCaseSensitive(root, "files");

    if (!cJSON_IsObject(fs)) {
        cJSON_Delete(root);
        return NULL;
    }

    for (i = 1; i < FUZZ_NFILES; i++) {
        f = cJSON_GetObjectItemCaseSensitive(fs, files[i].name);

        if (!cJSON_IsObject(f) || !files[i].given) {
            continue;
        }

        snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)
                 recsys_checksum(files[i].data, files[i].len));

        cJSON_DeleteItemFromObjectCaseSensitive(f, "size");
        cJSON_DeleteItemFromObjectCaseSensitive(f, "checksum");
        cJSON_AddNumberToObject(f, "size", (double) files[i].len);
        cJSON_AddStringToObject(f, "checksum", hex);
    }

    out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);

    return out;
}


static void
write_files(const fuzz_file_t *files, const char *manifest)
{
    int     i;
    char    path[sizeof(dir) + 32];
    FILE   *f;

    for (i = 0; i < FUZZ_NFILES; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
        unlink(path);

        if (!files[i].given) {
            continue;
        }

        f = fopen(path, "wb");
        recsys_fuzz_check(f != NULL);

        if (i == 0 && manifest != NULL) {
            fputs(manifest, f);

        } else if (files[i].len > 0) {
            recsys_fuzz_check(fwrite(files[i].data, 1, files[i].len, f)
                              == files[i].len);
        }

        recsys_fuzz_check(fclose(f) == 0);
    }
}


static void
search(const recsys_generation_t *g)
{
    int               rc;
    float            *query;
    uint32_t          i, n, row, dim, count;
    recsys_hit_t      hits[FUZZ_K];
    recsys_filter_t   f;

    memset(&f, 0, sizeof(recsys_filter_t));
    f.k = FUZZ_K;
    f.category = RECSYS_CATEGORY_ANY;

    count = (uint32_t) g->items.count;
    dim = g->manifest.dimension;

    /* the first and the last item, as the handler searches similar */
    for (i = 0; count > 0 && i < 2; i++) {
        row = i ? count - 1 : 0;
        n = 0;

        if (g->neighbors.rows != NULL) {
            rc = recsys_search_neighbors(g, row, &f, hits, &n);

        } else {
            rc = recsys_search_similar(g, row, &f, hits, &n);
        }

        check_hits(rc, hits, n, count);
    }

    query = calloc(dim ? dim : 1, sizeof(float));
    recsys_fuzz_check(query != NULL);

    for (i = 0; i < dim; i++) {
        query[i] = (float) (i + 1);
    }

    n = 0;
    rc = recsys_search_vector(g, query, &f, hits, &n);
    check_hits(rc, hits, n, count);
    free(query);

    n = 0;
    rc = recsys_search_popular(g, &f, hits, &n);
    check_hits(rc, hits, n, count);
}


static void
check_hits(int rc, const recsys_hit_t *hits, uint32_t n, uint32_t count)
{
    uint32_t  i;

    if (rc != 0) {
        return;
    }

    recsys_fuzz_check(n <= FUZZ_K);

    for (i = 0; i < n; i++) {
        recsys_fuzz_check(hits[i].row < count);
    }
}


static void
cleanup(void)
{
    int   i;
    char  path[sizeof(dir) + 32];

    for (i = 0; i < FUZZ_NFILES; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }

    rmdir(dir);
}
