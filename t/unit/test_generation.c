/*
 * Unit tests for recsys_generation.c and recsys_faiss.c: opening a
 * generation with a real FAISS index, and refusing damaged ones.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <omp.h>
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/IndexIVF_c.h>
#include <faiss/c_api/index_factory_c.h>
#include <faiss/c_api/index_io_c.h>

#include "recsys_generation.h"
#include "test_tmp.h"


#define TEST_DIM      8
#define TEST_NITEMS   40


static void test_make_generation(const char *dir);
static void test_generation_failed(recsys_generation_t *g, const char *dir,
    uint32_t dim, int metric, const char *expect);
static int test_mapped_shared(const char *dir, const char *name);
static long test_rss_kb(const char *dir, const char *name);
static void test_generation_prefault(void **state);
static void test_generation_current(void **state);
static void *test_index_file(const char *path, const char *factory,
    int metric, uint32_t nadd, size_t *len);
static void test_layout_failed(const void *data, size_t len,
    const char *expect);
static void test_faiss_layout(void **state);


/* a complete generation in dir: 40 normalized vectors of dimension 8 */

static void
test_make_generation(const char *dir)
{
    char                    path[4200], id[32], err[RECSYS_ERRLEN];
    void                   *data;
    float                   x[TEST_NITEMS * TEST_DIM], norm;
    size_t                  len;
    uint32_t                i, j;
    FaissIndex             *idx;
    recsys_manifest_t       m;
    recsys_items_writer_t  *w;
    static const char      *files[3] = {
        RECSYS_ITEMS_FILE, RECSYS_VECTORS_FILE, RECSYS_INDEX_FILE
    };

    srand(7);

    for (i = 0; i < TEST_NITEMS; i++) {
        norm = 0;

        for (j = 0; j < TEST_DIM; j++) {
            x[i * TEST_DIM + j] = (float) (rand() % 2000 - 1000) / 1000.0f;
            norm += x[i * TEST_DIM + j] * x[i * TEST_DIM + j];
        }

        norm = sqrtf(norm);

        for (j = 0; j < TEST_DIM; j++) {
            x[i * TEST_DIM + j] /= norm;
        }
    }

    test_fmt(path, "%s/%s", dir, RECSYS_VECTORS_FILE);
    test_write_bytes(path, x, sizeof(x));

    w = recsys_items_writer_create(TEST_DIM);
    assert_non_null(w);

    for (i = 0; i < TEST_NITEMS; i++) {
        snprintf(id, sizeof(id), "item-%u", i);
        test_add(w, id, NULL, NULL, NULL, (float) i);
    }

    test_fmt(path, "%s/%s", dir, RECSYS_ITEMS_FILE);
    assert_int_equal(recsys_items_writer_write(w, path, err, sizeof(err)),
                     0);
    recsys_items_writer_destroy(w);

    assert_int_equal(faiss_index_factory(&idx, TEST_DIM, "IVF1,Flat",
                                         METRIC_INNER_PRODUCT), 0);
    assert_int_equal(faiss_Index_train(idx, TEST_NITEMS, x), 0);
    assert_int_equal(faiss_Index_add(idx, TEST_NITEMS, x), 0);
    test_fmt(path, "%s/%s", dir, RECSYS_INDEX_FILE);
    assert_int_equal(faiss_write_index_fname(idx, path), 0);
    faiss_Index_free(idx);

    memset(&m, 0, sizeof(m));
    m.format = 1;
    m.generation = 1;
    m.items = TEST_NITEMS;
    m.dimension = TEST_DIM;
    m.metric = RECSYS_METRIC_INNER_PRODUCT;
    strcpy(m.factory, "IVF1,Flat");
    m.nlist = 1;
    strcpy(m.built_at, "2024-01-01T00:00:00Z");
    strcpy(m.source_type, "file");
    strcpy(m.source, "test");
    m.nfiles = 3;

    for (i = 0; i < 3; i++) {
        test_fmt(path, "%s/%s", dir, files[i]);
        data = test_read_bytes(path, &len);
        strcpy(m.files[i].name, files[i]);
        m.files[i].size = len;
        m.files[i].checksum = recsys_checksum(data, len);
        free(data);
    }

    test_fmt(path, "%s/%s", dir, RECSYS_MANIFEST_FILE);
    assert_int_equal(recsys_manifest_write(path, &m, err, sizeof(err)), 0);
}

static void
test_generation_failed(recsys_generation_t *g, const char *dir,
    uint32_t dim, int metric, const char *expect)
{
    char  err[RECSYS_ERRLEN];

    err[0] = '\0';
    assert_int_equal(recsys_generation_open(g, dir, dim, metric, 4, err,
                                            sizeof(err)), -1);

    if (strstr(err, expect) == NULL) {
        fail_msg("error \"%s\" lacks \"%s\"", err, expect);
    }

    assert_null(g->index);
    assert_null(g->vectors);
    assert_null(g->items.base);
}

/* whether /proc/self/maps has dir/name mapped "r--s" */

static int
test_mapped_shared(const char *dir, const char *name)
{
    int    found;
    char   line[8400], path[4200];
    FILE  *f;

    test_fmt(path, "%s/%s", dir, name);

    f = fopen("/proc/self/maps", "r");
    assert_non_null(f);

    found = 0;

    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';

        if (strstr(line, " r--s ") != NULL
            && strlen(line) >= strlen(path)
            && strcmp(line + strlen(line) - strlen(path), path) == 0)
        {
            found = 1;
        }
    }

    fclose(f);

    return found;
}

/* the resident kB of the mappings of dir/name, from /proc/self/smaps */

static long
test_rss_kb(const char *dir, const char *name)
{
    int            in;
    long           kb, total;
    char           line[8400], path[4200];
    FILE          *f;
    unsigned long  start, end;

    test_fmt(path, "%s/%s", dir, name);

    f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);

    in = 0;
    total = 0;

    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';

        /* a mapping's first line: "start-end perms offset dev inode path" */
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
            in = strstr(line, " r--s ") != NULL
                 && strlen(line) >= strlen(path)
                 && strcmp(line + strlen(line) - strlen(path), path) == 0;

        } else if (in && sscanf(line, "Rss: %ld kB", &kb) == 1) {
            total += kb;
        }
    }

    fclose(f);

    return total;
}

/*
 * After recsys_generation_prefault() every page of items.bin and of
 * FAISS's own mapping of index.faiss is in this process's page tables;
 * recsys_generation_drop_pages() empties them again.
 */

static void
test_generation_prefault(void **state)
{
    char                  dir[4200], err[RECSYS_ERRLEN];
    long                  page;
    uint64_t              n;
    test_tmp_t           *t;
    volatile float        v;
    recsys_generation_t   g;

    t = *state;
    test_path(t, "gen", dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    test_make_generation(dir);

    assert_int_equal(recsys_generation_open(&g, dir, TEST_DIM,
                                            RECSYS_METRIC_INNER_PRODUCT, 1,
                                            err, sizeof(err)), 0);

    /* opening touches no page of the vectors or of FAISS's lists */
    assert_int_equal(test_rss_kb(dir, RECSYS_VECTORS_FILE), 0);
    assert_int_equal(test_rss_kb(dir, RECSYS_INDEX_FILE), 0);

    n = recsys_generation_prefault(&g);
    page = sysconf(_SC_PAGESIZE) / 1024;

    assert_true(n > g.items.size);
    assert_int_equal(test_rss_kb(dir, RECSYS_ITEMS_FILE),
                     (g.items.size + page * 1024 - 1) / (page * 1024)
                     * page);
    assert_true(test_rss_kb(dir, RECSYS_INDEX_FILE) >= page);

    /* vectors.f32 is left to fault: a few rows a request */
    assert_int_equal(test_rss_kb(dir, RECSYS_VECTORS_FILE), 0);
    v = g.vectors[0];
    assert_true(v == v);
    assert_true(test_rss_kb(dir, RECSYS_VECTORS_FILE) > 0);

    /* dropped: still mapped, nothing resident in this process's tables */
    recsys_generation_drop_pages(&g);
    assert_true(test_mapped_shared(dir, RECSYS_INDEX_FILE));
    assert_int_equal(test_rss_kb(dir, RECSYS_ITEMS_FILE), 0);
    assert_int_equal(test_rss_kb(dir, RECSYS_VECTORS_FILE), 0);
    assert_int_equal(test_rss_kb(dir, RECSYS_INDEX_FILE), 0);

    /* and still readable: the page cache kept them */
    assert_int_equal(recsys_items_find(&g.items, "item-5", 6), 5);

    recsys_generation_close(&g);

    /* nothing mapped, nothing populated */
    memset(&g, 0, sizeof(g));
    assert_int_equal(recsys_generation_prefault(&g), 0);
}

static void
test_generation(void **state)
{
    char                  dir[4200], path[4200], saved[4200];
    char                  err[RECSYS_ERRLEN];
    void                 *data;
    float                 dist[3];
    size_t                len;
    idx_t                 labels[3];
    uint64_t              sizes_offset, v;
    test_tmp_t           *t;
    FaissIndexIVF        *ivf;
    recsys_manifest_t     m;
    recsys_generation_t   g;

    t = *state;
    test_path(t, "gen", dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    test_make_generation(dir);

    assert_int_equal(recsys_generation_open(&g, dir, TEST_DIM,
                                            RECSYS_METRIC_INNER_PRODUCT, 3,
                                            err, sizeof(err)), 0);
    assert_string_equal(g.dir, dir);
    assert_int_equal(g.items.count, TEST_NITEMS);
    assert_int_equal(g.manifest.dimension, TEST_DIM);
    assert_int_equal(g.vectors_size, TEST_NITEMS * TEST_DIM * 4);
    assert_non_null(g.index);
    assert_int_equal(faiss_Index_ntotal(g.index), TEST_NITEMS);
    assert_int_equal(faiss_Index_d(g.index), TEST_DIM);

    ivf = faiss_IndexIVF_cast(g.index);
    assert_non_null(ivf);
    assert_int_equal(faiss_IndexIVF_nprobe(ivf), 3);
    assert_int_equal(recsys_generation_verify(&g, err, sizeof(err)), 0);
    assert_int_equal(g.layout.type, RECSYS_FAISS_IVF_FLAT);
    assert_int_equal(g.layout.ntotal, TEST_NITEMS);
    assert_int_equal(g.layout.nlist, 1);
    assert_int_equal(g.layout.code_size, TEST_DIM * 4);
    sizes_offset = g.layout.sizes_offset;

    /* all three files are shared read-only mappings */
    assert_true(test_mapped_shared(dir, RECSYS_ITEMS_FILE));
    assert_true(test_mapped_shared(dir, RECSYS_VECTORS_FILE));
    assert_true(test_mapped_shared(dir, RECSYS_INDEX_FILE));

    /* each normalized vector is its own nearest neighbour */
    assert_int_equal(faiss_Index_search(g.index, 1, g.vectors + 5 * TEST_DIM,
                                        3, dist, labels), 0);
    assert_int_equal(labels[0], 5);
    assert_int_equal(recsys_items_find(&g.items, "item-5", 6), 5);

    recsys_generation_close(&g);
    assert_null(g.index);
    assert_null(g.vectors);
    recsys_generation_close(&g);

    /* 0 and -1 skip the dimension and metric checks; nprobe 0 keeps 1 */
    assert_int_equal(recsys_generation_open(&g, dir, 0, -1, 0, err,
                                            sizeof(err)), 0);
    assert_int_equal(faiss_IndexIVF_nprobe(faiss_IndexIVF_cast(g.index)),
                     1);
    recsys_generation_close(&g);

    test_generation_failed(&g, dir, 16, -1,
                           "dimension 8 does not match the configured 16");
    test_generation_failed(&g, dir, TEST_DIM, RECSYS_METRIC_L2,
                           "metric inner_product does not match the "
                           "configured l2");

    /* truncated vectors */
    test_fmt(path, "%s/%s", dir, RECSYS_VECTORS_FILE);
    data = test_read_bytes(path, &len);
    test_write_bytes(path, data, 100);
    test_fmt(saved, "vectors.f32: size 100 does not match "
             "manifest %zu", len);
    test_generation_failed(&g, dir, TEST_DIM, -1, saved);

    /* same size, one byte changed: opens, the builder's check refuses it */
    ((char *) data)[17] ^= 0x40;
    test_write_bytes(path, data, len);
    assert_int_equal(recsys_generation_open(&g, dir, TEST_DIM, -1, 0, err,
                                            sizeof(err)), 0);
    assert_int_equal(recsys_generation_verify(&g, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "vectors.f32: checksum "));
    recsys_generation_close(&g);
    assert_int_equal(recsys_generation_open_verified(&g, dir, TEST_DIM, -1,
                                                     0, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "vectors.f32: checksum "));
    assert_null(g.index);
    ((char *) data)[17] ^= 0x40;
    test_write_bytes(path, data, len);
    free(data);

    /* a damaged index.faiss whose manifest entry matches */
    test_fmt(path, "%s/%s", dir, RECSYS_MANIFEST_FILE);
    assert_int_equal(recsys_manifest_read(path, &m, err, sizeof(err)), 0);
    test_fmt(saved, "%s/%s", dir, RECSYS_INDEX_FILE);
    data = test_read_bytes(saved, &len);
    test_write_bytes(saved, "garbage!", 8);
    strcpy(m.files[2].name, RECSYS_INDEX_FILE);
    m.files[2].size = 8;
    m.files[2].checksum = recsys_checksum("garbage!", 8);
    assert_int_equal(recsys_manifest_write(path, &m, err, sizeof(err)), 0);
    test_generation_failed(&g, dir, TEST_DIM, -1, "index.faiss: ");

    /*
     * Issue 9 item 11: a list size patched, the checksum recomputed.  FAISS
     * would map the list past the end of the file; the worker's open
     * refuses it.
     */
    v = TEST_NITEMS + 1000;
    memcpy((char *) data + sizes_offset + 8, &v, 8);
    test_write_bytes(saved, data, len);
    m.files[2].size = len;
    m.files[2].checksum = recsys_checksum(data, len);
    assert_int_equal(recsys_manifest_write(path, &m, err, sizeof(err)), 0);
    test_generation_failed(&g, dir, TEST_DIM, -1,
                           "index.faiss: list 0 holds 1040 vectors");
    v = TEST_NITEMS;
    memcpy((char *) data + sizes_offset + 8, &v, 8);

    /* the manifest disagrees with the files on the item count */
    test_write_bytes(saved, data, len);
    m.files[2].size = len;
    m.files[2].checksum = recsys_checksum(data, len);
    free(data);
    m.items = TEST_NITEMS - 1;
    assert_int_equal(recsys_manifest_write(path, &m, err, sizeof(err)), 0);
    test_generation_failed(&g, dir, TEST_DIM, -1,
                           "items.bin: 40 items, manifest says 39");

    /* a manifest without the index's entry */
    m.items = TEST_NITEMS;
    m.nfiles = 2;
    assert_int_equal(recsys_manifest_write(path, &m, err, sizeof(err)), 0);
    test_generation_failed(&g, dir, TEST_DIM, -1, "has no \"index.faiss\"");

    m.nfiles = 3;
    assert_int_equal(recsys_manifest_write(path, &m, err, sizeof(err)), 0);
    assert_int_equal(recsys_generation_open(&g, dir, TEST_DIM, -1, 2, err,
                                            sizeof(err)), 0);
    recsys_generation_close(&g);

    assert_int_equal(unlink(path), 0);
    test_generation_failed(&g, dir, TEST_DIM, -1,
                           "manifest.json: open failed");
}


/* an index.faiss of factory over TEST_NITEMS vectors, nadd added */

static void *
test_index_file(const char *path, const char *factory, int metric,
    uint32_t nadd, size_t *len)
{
    float        x[TEST_NITEMS * TEST_DIM];
    uint32_t     i;
    FaissIndex  *idx;

    srand(11);

    for (i = 0; i < TEST_NITEMS * TEST_DIM; i++) {
        x[i] = (float) (rand() % 2000 - 1000) / 1000.0f;
    }

    assert_int_equal(faiss_index_factory(&idx, TEST_DIM, factory, metric), 0);
    assert_int_equal(faiss_Index_train(idx, TEST_NITEMS, x), 0);
    assert_int_equal(faiss_Index_add(idx, nadd, x), 0);
    assert_int_equal(faiss_write_index_fname(idx, path), 0);
    faiss_Index_free(idx);

    return test_read_bytes(path, len);
}


static void
test_layout_failed(const void *data, size_t len, const char *expect)
{
    char                   err[RECSYS_ERRLEN];
    recsys_faiss_layout_t  l;

    err[0] = '\0';
    assert_int_equal(recsys_faiss_check(data, len, &l, err, sizeof(err)),
                     -1);

    if (strstr(err, expect) == NULL) {
        fail_msg("error \"%s\" lacks \"%s\"", err, expect);
    }
}


/*
 * recsys_faiss_check(): the index types the builder writes pass, with
 * their lists' layout; a patched list size, type or length does not.
 */

static void
test_faiss_layout(void **state)
{
    char                   path[TEST_PATHLEN], err[RECSYS_ERRLEN];
    uint8_t               *data, *copy;
    size_t                 len, i;
    int64_t                id;
    uint64_t               v;
    test_tmp_t            *t;
    recsys_faiss_layout_t  l;
    static const struct {
        const char        *factory;
        uint32_t           type;
        uint64_t           code_size;
    } ok[] = {
        { "IVF1,Flat", RECSYS_FAISS_IVF_FLAT, TEST_DIM * 4 },
        { "IVF4,Flat", RECSYS_FAISS_IVF_FLAT, TEST_DIM * 4 },
        { "IVF2,SQ8", RECSYS_FAISS_IVF_SQ, TEST_DIM },
        { "IVF2,SQ4", RECSYS_FAISS_IVF_SQ, TEST_DIM / 2 },
        { "IVF2,SQfp16", RECSYS_FAISS_IVF_SQ, TEST_DIM * 2 },
        { "IVF1,PQ2x4", RECSYS_FAISS_IVF_PQ, 1 }
    };

    t = *state;
    test_path(t, "index.faiss", path);

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        data = test_index_file(path, ok[i].factory, METRIC_L2, TEST_NITEMS,
                               &len);
        assert_int_equal(recsys_faiss_check(data, len, &l, err, sizeof(err)),
                         0);
        assert_int_equal(l.type, ok[i].type);
        assert_int_equal(l.code_size, ok[i].code_size);
        assert_int_equal(l.ntotal, TEST_NITEMS);
        assert_int_equal(l.metric, RECSYS_FAISS_METRIC_L2);
        assert_int_equal(l.dimension, TEST_DIM);
        assert_int_equal(recsys_faiss_check_ids(data, len, &l, err,
                                                sizeof(err)), 0);
        free(data);
    }

    /* 2 vectors in 8 lists: sizes stored sparse, (list, size) pairs */
    data = test_index_file(path, "IVF8,Flat", METRIC_INNER_PRODUCT, 2, &len);
    assert_int_equal(recsys_faiss_check(data, len, &l, err, sizeof(err)), 0);
    assert_true(l.sparse);
    assert_int_equal(l.nlist, 8);
    assert_int_equal(l.ntotal, 2);
    assert_int_equal(l.metric, RECSYS_FAISS_METRIC_IP);
    assert_int_equal(recsys_faiss_check_ids(data, len, &l, err, sizeof(err)),
                     0);

    /* a sparse entry naming a list past the last one */
    copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, data, len);
    v = 8;
    memcpy(copy + l.sizes_offset + 8, &v, 8);
    test_layout_failed(copy, len, "sparse list entry 0 names list 8");
    free(copy);
    free(data);

    data = test_index_file(path, "IVF1,Flat", METRIC_L2, TEST_NITEMS, &len);
    assert_int_equal(recsys_faiss_check(data, len, &l, err, sizeof(err)), 0);
    assert_false(l.sparse);
    assert_int_equal(l.nsizes, 1);
    assert_int_equal(l.data_offset + TEST_NITEMS * (TEST_DIM * 4 + 8), len);

    copy = malloc(len + 8);
    assert_non_null(copy);

    /* issue 9 item 11: a list size patched (FAISS maps past the file) */
    memcpy(copy, data, len);
    v = TEST_NITEMS + 1;
    memcpy(copy + l.sizes_offset + 8, &v, 8);
    test_layout_failed(copy, len, "list 0 holds 41 vectors, more than "
                       "the 40 of the index are left");
    v = (uint64_t) 1 << 60;
    memcpy(copy + l.sizes_offset + 8, &v, 8);
    test_layout_failed(copy, len, "list 0 holds");
    v = TEST_NITEMS - 1;
    memcpy(copy + l.sizes_offset + 8, &v, 8);
    test_layout_failed(copy, len, "list sizes add up to 39, the index "
                       "holds 40 vectors");

    /* a type the builder never writes (an IVFFlatDedup, "IwFd") */
    memcpy(copy, data, len);
    memcpy(copy, "IwFd", 4);
    test_layout_failed(copy, len, "index type 0x64467749 is not one the "
                       "builder writes");

    /* the quantizer of the other metric */
    memcpy(copy, data, len);
    memcpy(copy + 4 + 33 + 16, "IxFI", 4);
    test_layout_failed(copy, len, "quantizer type 0x49467849");

    /* cut short anywhere, or longer than its lists */
    for (i = 0; i < len; i += 7) {
        test_layout_failed(data, i, "index.faiss: ");
    }

    memcpy(copy, data, len);
    memset(copy + len, 0, 8);
    test_layout_failed(copy, len + 8, "the lists take 1600 bytes from byte");

    /* an id twice: the structure holds, the deep check refuses it */
    memcpy(copy, data, len);
    memcpy(&id, copy + l.data_offset + TEST_NITEMS * TEST_DIM * 4, 8);
    memcpy(copy + l.data_offset + TEST_NITEMS * TEST_DIM * 4 + 8, &id, 8);
    assert_int_equal(recsys_faiss_check(copy, len, &l, err, sizeof(err)), 0);
    assert_int_equal(recsys_faiss_check_ids(copy, len, &l, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "holds id 0 twice or out of 0..40"));

    free(copy);
    free(data);
}


/* the generation "current" names, opened with a catalog's index settings */

static void
test_generation_current(void **state)
{
    char                  index[TEST_PATHLEN], dir[TEST_PATHLEN];
    char                  err[RECSYS_ERRLEN];
    test_tmp_t           *t;
    recsys_generation_t   g;
    recsys_index_conf_t   ic;

    t = *state;
    test_path(t, "index", index);
    test_fmt(dir, "%s/generations", index);
    assert_int_equal(mkdir(index, 0755), 0);
    assert_int_equal(mkdir(dir, 0755), 0);
    test_fmt(dir, "%s/generations/1", index);
    assert_int_equal(mkdir(dir, 0755), 0);
    test_make_generation(dir);

    memset(&ic, 0, sizeof(recsys_index_conf_t));
    ic.path = index;
    ic.dimension = TEST_DIM;
    ic.metric = RECSYS_METRIC_INNER_PRODUCT;
    ic.nprobe = 2;

    /* no "current" yet */
    assert_int_equal(recsys_generation_open_current(&g, &ic, err,
                                                    sizeof(err)), -1);
    assert_non_null(strstr(err, "no current generation"));
    assert_null(g.index);
    recsys_generation_close(&g);

    test_fmt(dir, "%s/current", index);
    assert_int_equal(symlink("generations/1", dir), 0);

    assert_int_equal(recsys_generation_open_current(&g, &ic, err,
                                                    sizeof(err)), 0);
    test_fmt(dir, "%s/generations/1", index);
    assert_string_equal(g.dir, dir);
    assert_int_equal(g.items.count, TEST_NITEMS);
    assert_int_equal(faiss_IndexIVF_nprobe(faiss_IndexIVF_cast(g.index)),
                     2);
    recsys_generation_close(&g);

    ic.dimension = 16;
    assert_int_equal(recsys_generation_open_current(&g, &ic, err,
                                                    sizeof(err)), -1);
    assert_string_equal(err, "dimension 8 does not match the configured 16");
    assert_null(g.index);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(test_generation, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_generation_current, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_generation_prefault, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_faiss_layout, test_setup,
                                        test_teardown),
    };

    /* one OpenMP thread: no pool to leak or to race under valgrind */
    omp_set_num_threads(1);

    return cmocka_run_group_tests(tests, NULL, NULL);
}
