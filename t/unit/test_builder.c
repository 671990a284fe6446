/*
 * Unit tests for recsys_builder.c: building and publishing generations
 * from JSON Lines, every kind of bad line (named by line number, nothing
 * published, no temp directory left), pruning, and factory resolution.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <omp.h>
#include <faiss/c_api/Index_c.h>

#include "recsys_builder.h"
#include "recsys_files.h"


#define DIM      8
#define NITEMS   50


static char  test_root[64];


static void catalog_init(recsys_catalog_t *c, const char *src,
    const char *index, int metric, const char *factory, uint32_t keep);
static void write_items(const char *path, int n, int bad_at,
    const char *bad);
static void write_vector(FILE *f, int i);
static void path_in_root(char *buf, size_t size, const char *name);
static int count_entries(const char *dir, const char *prefix);


static int
group_setup(void **state)
{
    (void) state;

    snprintf(test_root, sizeof(test_root), "/tmp/recsys-builder-XXXXXX");

    return mkdtemp(test_root) ? 0 : -1;
}


static int
group_teardown(void **state)
{
    char  err[RECSYS_ERRLEN];

    (void) state;

    return recsys_remove_tree(test_root, err, sizeof(err));
}


static void
catalog_init(recsys_catalog_t *c, const char *src, const char *index,
    int metric, const char *factory, uint32_t keep)
{
    memset(c, 0, sizeof(recsys_catalog_t));

    c->file = (char *) "test.yaml";
    c->source.type = RECSYS_SOURCE_FILE;
    c->source.path = (char *) src;
    c->index.path = (char *) index;
    c->index.dimension = DIM;
    c->index.metric = metric;
    c->index.factory = (char *) factory;
    c->index.nprobe = 16;
    c->index.keep = keep;
}


static void
path_in_root(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", test_root, name);
}


static void
write_vector(FILE *f, int i)
{
    int  j;

    fputc('[', f);

    for (j = 0; j < DIM; j++) {
        fprintf(f, "%s%.2f", j ? "," : "", ((i * 31 + j * 17) % 23) - 11.5);
    }

    fputc(']', f);
}


/*
 * n good items, one a line; line 3 is blank.  When bad is set it replaces
 * the item that would be on line bad_at.
 */

static void
write_items(const char *path, int n, int bad_at, const char *bad)
{
    int    i, line;
    FILE  *f;

    f = fopen(path, "w");
    assert_non_null(f);

    line = 0;

    for (i = 0; i < n; i++) {
        line++;

        if (line == 3) {
            fputs("  \r\n", f);
            line++;
        }

        if (bad != NULL && line == bad_at) {
            fprintf(f, "%s\n", bad);
            continue;
        }

        fprintf(f, "{\"id\":\"item-%d\",\"title\":\"T %d\",\"category\":"
                "\"c%d\",\"popularity\":%d,\"attributes\":{\"k\":%d},"
                "\"vector\":", i, i, i % 3, i * 2, i);
        write_vector(f, i);
        fputs("}\n", f);
    }

    assert_int_equal(fclose(f), 0);
}


static int
count_entries(const char *dir, const char *prefix)
{
    int             n;
    DIR            *d;
    struct dirent  *de;

    d = opendir(dir);
    if (d == NULL) {
        return -1;
    }

    n = 0;

    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' && prefix[0] != '.') {
            continue;
        }

        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
            n++;
        }
    }

    closedir(d);

    return n;
}


static void
test_build_publish(void **state)
{
    char                    src[128], index[128], dir[4096], gens[256];
    char                    err[RECSYS_ERRLEN];
    int                     threads;
    float                   norm;
    int64_t                 row;
    uint32_t                j;
    recsys_item_t           it;
    recsys_catalog_t        c;
    recsys_generation_t     g;
    recsys_build_result_t   res;

    (void) state;

    path_in_root(src, sizeof(src), "publish.jsonl");
    path_in_root(index, sizeof(index), "publish/deeper/index");
    write_items(src, NITEMS, 0, NULL);
    catalog_init(&c, src, index, RECSYS_METRIC_COSINE, "auto", 3);

    /*
     * threads is 1 throughout: more would leave libgomp's pool threads
     * alive at exit, which valgrind reports as possibly lost
     */
    threads = omp_get_max_threads();
    assert_int_equal(recsys_build(&c, 1, &res), 0);
    assert_int_equal(omp_get_max_threads(), threads);
    assert_int_equal(res.success, 1);
    assert_int_equal(res.generation, 1);
    assert_int_equal(res.items, NITEMS);
    assert_int_equal(res.dimension, DIM);
    assert_string_equal(res.factory, "IVF1,Flat");
    assert_string_equal(res.error, "");
    assert_true(res.seconds >= 0);

    assert_int_equal(recsys_build(&c, 1, &res), 0);
    assert_int_equal(res.generation, 2);

    assert_int_equal(recsys_current_dir(index, dir, sizeof(dir), err,
                                        sizeof(err)), 0);
    assert_non_null(strstr(dir, "generations/2"));

    snprintf(gens, sizeof(gens), "%s/generations", index);
    assert_int_equal(count_entries(gens, ""), 2);
    assert_int_equal(count_entries(index, ".tmp-"), 0);

    assert_int_equal(recsys_generation_open(&g, dir, DIM,
                                            RECSYS_METRIC_COSINE, 16, err,
                                            sizeof(err)), 0);

    assert_int_equal(faiss_Index_ntotal((FaissIndex *) g.index), NITEMS);
    assert_int_equal(g.manifest.items, NITEMS);
    assert_int_equal(g.manifest.generation, 2);
    assert_int_equal(g.manifest.nlist, 1);
    assert_string_equal(g.manifest.factory, "IVF1,Flat");
    assert_string_equal(g.manifest.source_type, "file");
    assert_string_equal(g.manifest.source, src);
    assert_int_equal(strlen(g.manifest.built_at), 20);

    /* rows in file order, strings and attributes kept */
    row = recsys_items_find(&g.items, "item-7", 6);
    assert_int_equal(row, 7);

    recsys_items_get(&g.items, 7, &it);
    assert_int_equal(it.title_len, 3);
    assert_memory_equal(it.title, "T 7", 3);
    assert_memory_equal(it.category, "c1", 2);
    assert_memory_equal(it.attributes, "{\"k\":7}", it.attributes_len);
    assert_true(it.popularity == 14.0f);

    /* cosine: stored unit length */
    norm = 0;
    for (j = 0; j < DIM; j++) {
        norm += g.vectors[7 * DIM + j] * g.vectors[7 * DIM + j];
    }

    assert_true(fabsf(norm - 1.0f) < 1e-5f);

    recsys_generation_close(&g);
}


typedef struct {
    const char         *line;
    const char         *expect;
} bad_line_t;


static void
test_build_bad_lines(void **state)
{
    char                    src[128], index[128], prefix[192], gens[256];
    size_t                  i;
    recsys_catalog_t        c;
    recsys_build_result_t   res;

    static const bad_line_t  bad[] = {
        { "{\"id\":\"x\",\"vector\":[1,2,3]}",
          "\"vector\" has 3 numbers, expected 8" },
        { "{\"id\":\"x\",\"vector\":[1,2,3,4,5,6,7,8,9]}",
          "\"vector\" has 9 numbers, expected 8" },
        { "{\"id\":\"item-0\",\"vector\":[1,2,3,4,5,6,7,8]}",
          "duplicate id \"item-0\"" },
        { "{\"id\": \"x\", \"vector\": [1,2", "invalid JSON" },
        { "{\"id\":\"x\",\"vector\":[1,2,3,4,5,6,7,8]} {}",
          "invalid JSON: unexpected text" },
        { "[1,2,3]", "a line must be a JSON object" },
        { "{\"vector\":[1,2,3,4,5,6,7,8]}",
          "\"id\" must be a non-empty string" },
        { "{\"id\":\"\",\"vector\":[1,2,3,4,5,6,7,8]}",
          "\"id\" must be a non-empty string" },
        { "{\"id\":7,\"vector\":[1,2,3,4,5,6,7,8]}",
          "\"id\" must be a non-empty string" },
        { "{\"id\":\"x\"}", "\"vector\" must be an array of 8 numbers" },
        { "{\"id\":\"x\",\"vector\":[1,2,3,1e999,5,6,7,8]}",
          "\"vector\"[3] must be a finite float32 number" },
        { "{\"id\":\"x\",\"vector\":[1,2,3,4,5,6,7,1e39]}",
          "\"vector\"[7] must be a finite float32 number" },
        { "{\"id\":\"x\",\"vector\":[1,\"2\",3,4,5,6,7,8]}",
          "\"vector\"[1] must be a finite float32 number" },
        { "{\"id\":\"x\",\"vector\":[0,0,0,0,0,0,0,0]}",
          "can't normalize it for the cosine metric" },
        { "{\"id\":\"x\",\"popularity\":\"high\",\"vector\":[1,2,3,4,5,6,7,8]}",
          "\"popularity\" must be a finite number" },
        { "{\"id\":\"x\",\"popularity\":-1e999,\"vector\":[1,2,3,4,5,6,7,8]}",
          "\"popularity\" must be a finite number" },
        { "{\"id\":\"x\",\"title\":5,\"vector\":[1,2,3,4,5,6,7,8]}",
          "\"title\" must be a string" },
        { "{\"id\":\"x\",\"category\":[],\"vector\":[1,2,3,4,5,6,7,8]}",
          "\"category\" must be a string" },
        { "{\"id\":\"x\",\"attributes\":[1],\"vector\":[1,2,3,4,5,6,7,8]}",
          "\"attributes\" must be an object" }
    };

    (void) state;

    path_in_root(src, sizeof(src), "bad.jsonl");
    path_in_root(index, sizeof(index), "bad-index");
    snprintf(gens, sizeof(gens), "%s/generations", index);
    catalog_init(&c, src, index, RECSYS_METRIC_COSINE, "auto", 3);

    /* one good generation first: a failed build must leave it alone */
    write_items(src, 10, 0, NULL);
    assert_int_equal(recsys_build(&c, 1, &res), 0);
    assert_int_equal(res.generation, 1);

    snprintf(prefix, sizeof(prefix), "%s:6: ", src);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_items(src, 10, 6, bad[i].line);

        assert_int_equal(recsys_build(&c, 1, &res), -1);
        assert_int_equal(res.success, 0);
        assert_int_equal(res.generation, 0);

        if (strncmp(res.error, prefix, strlen(prefix)) != 0
            || strstr(res.error, bad[i].expect) == NULL)
        {
            fail_msg("line \"%s\": got \"%s\", want \"%s%s\"", bad[i].line,
                     res.error, prefix, bad[i].expect);
        }

        assert_int_equal(recsys_last_generation(index), 1);
        assert_int_equal(count_entries(gens, ""), 1);
        assert_int_equal(count_entries(index, ".tmp-"), 0);
    }
}


static void
test_build_no_items(void **state)
{
    char                    src[128], index[128], want[256];
    FILE                   *f;
    recsys_catalog_t        c;
    recsys_build_result_t   res;

    (void) state;

    path_in_root(src, sizeof(src), "empty.jsonl");
    path_in_root(index, sizeof(index), "empty-index");
    catalog_init(&c, src, index, RECSYS_METRIC_COSINE, "auto", 3);

    f = fopen(src, "w");
    assert_non_null(f);
    fputs("\n   \n\t\n", f);
    fclose(f);

    assert_int_equal(recsys_build(&c, 1, &res), -1);
    snprintf(want, sizeof(want), "%s: no items", src);
    assert_string_equal(res.error, want);
    assert_int_equal(recsys_last_generation(index), 0);

    /* a missing source names the file */
    path_in_root(src, sizeof(src), "missing.jsonl");
    assert_int_equal(recsys_build(&c, 1, &res), -1);
    assert_non_null(strstr(res.error, src));
    assert_non_null(strstr(res.error, "No such file"));

    /* a postgresql source without a dsn */
    c.source.type = RECSYS_SOURCE_POSTGRESQL;
    assert_int_equal(recsys_build(&c, 1, &res), -1);
    assert_non_null(strstr(res.error, "no usable source"));
}


static void
test_build_keep(void **state)
{
    int                     i;
    char                    src[128], index[128], gens[256], path[320];
    char                    dir[4096], err[RECSYS_ERRLEN];
    struct stat             st;
    recsys_catalog_t        c;
    recsys_build_result_t   res;

    (void) state;

    path_in_root(src, sizeof(src), "keep.jsonl");
    path_in_root(index, sizeof(index), "keep-index");
    snprintf(gens, sizeof(gens), "%s/generations", index);
    write_items(src, 20, 0, NULL);
    catalog_init(&c, src, index, RECSYS_METRIC_COSINE, "auto", 2);

    for (i = 1; i <= 4; i++) {
        assert_int_equal(recsys_build(&c, 1, &res), 0);
        assert_int_equal(res.generation, i);
    }

    assert_int_equal(count_entries(gens, ""), 2);

    snprintf(path, sizeof(path), "%s/3", gens);
    assert_int_equal(stat(path, &st), 0);
    snprintf(path, sizeof(path), "%s/4", gens);
    assert_int_equal(stat(path, &st), 0);

    assert_int_equal(recsys_current_dir(index, dir, sizeof(dir), err,
                                        sizeof(err)), 0);
    assert_non_null(strstr(dir, "generations/4"));

    /* a leftover of a build that died is cleaned by the next build */
    snprintf(path, sizeof(path), "%s/.tmp-999999999-7", index);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(recsys_build(&c, 1, &res), 0);
    assert_int_equal(res.generation, 5);
    assert_int_equal(count_entries(index, ".tmp-"), 0);
}


/* a real IVF with several lists, L2, and a factory clamped to n */

static void
test_build_ivf_l2(void **state)
{
    char                    src[128], index[128], dir[4096];
    char                    err[RECSYS_ERRLEN];
    float                   dist[3];
    idx_t                   labels[3];
    recsys_catalog_t        c;
    recsys_generation_t     g;
    recsys_build_result_t   res;

    (void) state;

    path_in_root(src, sizeof(src), "ivf.jsonl");
    path_in_root(index, sizeof(index), "ivf-index");
    write_items(src, NITEMS, 0, NULL);
    catalog_init(&c, src, index, RECSYS_METRIC_L2, "IVF4,Flat", 3);

    assert_int_equal(recsys_build(&c, 1, &res), 0);
    assert_string_equal(res.factory, "IVF4,Flat");

    assert_int_equal(recsys_current_dir(index, dir, sizeof(dir), err,
                                        sizeof(err)), 0);
    assert_int_equal(recsys_generation_open(&g, dir, DIM, RECSYS_METRIC_L2,
                                            4, err, sizeof(err)), 0);
    assert_int_equal(g.manifest.nlist, 4);
    assert_int_equal(g.manifest.metric, RECSYS_METRIC_L2);

    /* l2 keeps vectors as given; an item finds itself first */
    assert_true(g.vectors[5 * DIM + 1] == (float) (((5 * 31 + 17) % 23)
                                                   - 11.5));

    assert_int_equal(faiss_Index_search((FaissIndex *) g.index, 1,
                                        g.vectors + 5 * DIM, 3, dist,
                                        labels), 0);
    assert_int_equal(labels[0], 5);
    assert_true(dist[0] < 1e-4f);

    recsys_generation_close(&g);

    /* more lists than items: clamped so training stays valid */
    c.index.factory = (char *) "IVF64,Flat";
    write_items(src, 20, 0, NULL);
    assert_int_equal(recsys_build(&c, 1, &res), 0);
    assert_string_equal(res.factory, "IVF20,Flat");
    assert_int_equal(res.generation, 2);

    /* said in the result, for the caller to log: never on stderr */
    assert_int_equal(res.nwarnings, 1);
    assert_string_equal(res.warnings[0], "factory \"IVF64,Flat\" asks for "
                        "64 lists but there are only 20 items, using "
                        "\"IVF20,Flat\"");
    assert_int_equal(res.nunpruned, 0);

    /* PQ needs m to divide the dimension */
    c.index.factory = (char *) "IVF2,PQ3";
    assert_int_equal(recsys_build(&c, 1, &res), -1);
    assert_non_null(strstr(res.error, "PQ3 needs a dimension divisible"));

    /* FAISS's own refusal: PQ2 (8 bits) trains 256 centroids on 20 items */
    c.index.factory = (char *) "IVF2,PQ2";
    assert_int_equal(recsys_build(&c, 1, &res), -1);
    assert_string_equal(res.error, "faiss: train \"IVF2,PQ2\": Number of "
                        "training points (20) should be at least as large "
                        "as number of clusters (256)");

    assert_int_equal(recsys_last_generation(index), 2);
    assert_int_equal(count_entries(index, ".tmp-"), 0);
}


static void
test_factory_resolve(void **state)
{
    char      out[64];
    size_t    i;
    uint32_t  nlist;

    static const struct {
        const char  *factory;
        uint64_t     n;
        uint32_t     nprobe;
        const char  *expect;
        uint32_t     nlist;
    } cases[] = {
        { "auto", 1, 16, "IVF1,Flat", 1 },
        { "auto", 50, 16, "IVF1,Flat", 1 },
        { "auto", 20000, 16, "IVF1,Flat", 1 },
        { "auto", 20001, 16, "IVF256,SQ8", 256 },
        { "auto", 100000, 16, "IVF512,SQ8", 512 },
        { "auto", 1000000, 16, "IVF1024,SQ8", 1024 },
        { "auto", 1000000, 64, "IVF2048,SQ8", 2048 },
        { "auto", 100000, 4, "IVF256,SQ8", 256 },
        { NULL, 50, 16, "IVF1,Flat", 1 },
        { "IVF256,Flat", 100000, 16, "IVF256,Flat", 256 },
        { "IVF256,SQ8", 1000, 16, "IVF256,SQ8", 256 },
        { "IVF4096,PQ8x4", 1000, 16, "IVF1000,PQ8x4", 1000 },
        { "IVF100,Flat", 50, 16, "IVF50,Flat", 50 }
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nlist = 0;
        recsys_factory_resolve(cases[i].factory, cases[i].n, cases[i].nprobe,
                               out, sizeof(out), &nlist);

        if (strcmp(out, cases[i].expect) != 0 || nlist != cases[i].nlist) {
            fail_msg("%s, n %llu: got %s/%u, want %s/%u",
                     cases[i].factory ? cases[i].factory : "NULL",
                     (unsigned long long) cases[i].n, out, nlist,
                     cases[i].expect, cases[i].nlist);
        }
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_build_publish),
        cmocka_unit_test(test_build_bad_lines),
        cmocka_unit_test(test_build_no_items),
        cmocka_unit_test(test_build_keep),
        cmocka_unit_test(test_build_ivf_l2),
        cmocka_unit_test(test_factory_resolve),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
