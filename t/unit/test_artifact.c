/*
 * Unit tests for recsys_artifact.c: items.bin, checksums, manifest,
 * generation mapping with a real FAISS index, and the directory layout.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#include "recsys_artifact.h"


#define TEST_DIM      8
#define TEST_NITEMS   40


typedef struct {
    char                dir[64];
    char                path[4200];
} test_tmp_t;


static void test_rm_tree(const char *path);
static int test_setup(void **state);
static int test_teardown(void **state);
static void test_fmt(char *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void test_path(test_tmp_t *t, const char *name, char *out);
static void test_write_bytes(const char *path, const void *data, size_t len);
static void *test_read_bytes(const char *path, size_t *len);
static void test_add(recsys_items_writer_t *w, const char *id,
    const char *title, const char *category, const char *attrs, float pop);
static void test_write_items(const char *path, uint32_t n);
static void test_mkdir_file(const char *dir, const char *file);
static void test_make_generation(const char *dir);
static void test_manifest_fill(recsys_manifest_t *m);
static int test_mapped_shared(const char *dir, const char *name);
static int test_open_mutated(const char *path, const void *data, size_t len,
    char *err, size_t errlen);
static void test_generation_failed(recsys_generation_t *g, const char *dir,
    uint32_t dim, int metric, const char *expect);


static void
test_rm_tree(const char *path)
{
    DIR            *d;
    char            sub[4200];
    struct stat     st;
    struct dirent  *de;

    if (lstat(path, &st) != 0) {
        return;
    }

    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }

    d = opendir(path);
    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0
                || strcmp(de->d_name, "..") == 0)
            {
                continue;
            }

            snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
            test_rm_tree(sub);
        }

        closedir(d);
    }

    rmdir(path);
}


static int
test_setup(void **state)
{
    test_tmp_t  *t;

    t = calloc(1, sizeof(test_tmp_t));
    if (t == NULL) {
        return -1;
    }

    strcpy(t->dir, "/tmp/recsys-artifact-XXXXXX");

    if (mkdtemp(t->dir) == NULL) {
        free(t);
        return -1;
    }

    *state = t;

    return 0;
}


static int
test_teardown(void **state)
{
    test_tmp_t  *t;

    t = *state;
    test_rm_tree(t->dir);
    free(t);

    return 0;
}


/* all test paths are 4200-byte buffers */

static void
test_fmt(char *out, const char *fmt, ...)
{
    int      n;
    va_list  args;

    va_start(args, fmt);
    n = vsnprintf(out, 4200, fmt, args);
    va_end(args);

    assert_true(n >= 0 && n < 4200);
}


static void
test_path(test_tmp_t *t, const char *name, char *out)
{
    test_fmt(out, "%s/%s", t->dir, name);
}


static void
test_write_bytes(const char *path, const void *data, size_t len)
{
    FILE  *f;

    f = fopen(path, "wb");
    assert_non_null(f);

    if (len) {
        assert_int_equal(fwrite(data, 1, len, f), len);
    }

    assert_int_equal(fclose(f), 0);
}


static void *
test_read_bytes(const char *path, size_t *len)
{
    FILE         *f;
    char         *buf;
    struct stat   st;

    assert_int_equal(stat(path, &st), 0);

    buf = malloc(st.st_size + 1);
    assert_non_null(buf);

    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, st.st_size, f), (size_t) st.st_size);
    fclose(f);

    *len = st.st_size;

    return buf;
}


static void
test_add(recsys_items_writer_t *w, const char *id, const char *title,
    const char *category, const char *attrs, float pop)
{
    char           err[RECSYS_ERRLEN];
    recsys_item_t  it;

    memset(&it, 0, sizeof(it));
    it.id = id;
    it.id_len = strlen(id);
    it.title = title;
    it.title_len = title ? strlen(title) : 0;
    it.category = category;
    it.category_len = category ? strlen(category) : 0;
    it.attributes = attrs;
    it.attributes_len = attrs ? strlen(attrs) : 0;
    it.popularity = pop;

    err[0] = '\0';
    assert_int_equal(recsys_items_writer_add(w, &it, err, sizeof(err)), 0);
}


/* n items "item-<i>" in 3 categories (every 4th has none) */

static void
test_write_items(const char *path, uint32_t n)
{
    char                    id[32], title[32], err[RECSYS_ERRLEN];
    uint32_t                i;
    recsys_items_writer_t  *w;
    static const char      *cats[3] = { "books", "music", "films" };

    w = recsys_items_writer_create(TEST_DIM);
    assert_non_null(w);

    for (i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "item-%u", i);
        snprintf(title, sizeof(title), "Title %u", i);
        test_add(w, id, title, (i % 4 == 3) ? NULL : cats[i % 3],
                 (i % 2) ? "{\"k\":1}" : NULL, (float) (i % 7));
    }

    assert_int_equal(recsys_items_writer_write(w, path, err, sizeof(err)),
                     0);
    recsys_items_writer_destroy(w);
}


static void
test_checksum(void **state)
{
    int       i, j;
    char      buf[64], unaligned[72];
    uint64_t  a, b, sums[17];

    (void) state;

    for (i = 0; i < 64; i++) {
        buf[i] = (char) (i * 7 + 1);
    }

    a = recsys_checksum(buf, sizeof(buf));
    b = recsys_checksum(buf, sizeof(buf));
    assert_true(a == b);

    /* the same bytes at an unaligned address give the same sum */
    memcpy(unaligned + 3, buf, sizeof(buf));
    assert_true(recsys_checksum(unaligned + 3, sizeof(buf)) == a);

    /* one flipped bit, in a word and in the tail, changes the sum */
    buf[10] ^= 1;
    assert_true(recsys_checksum(buf, sizeof(buf)) != a);
    buf[10] ^= 1;
    assert_true(recsys_checksum(buf, 61) != recsys_checksum(buf, 60));
    buf[60] ^= 0x80;
    b = recsys_checksum(buf, 61);
    buf[60] ^= 0x80;
    assert_true(b != recsys_checksum(buf, 61));

    /* zero runs of different lengths, tails included, all differ */
    memset(buf, 0, sizeof(buf));

    for (i = 0; i <= 16; i++) {
        sums[i] = recsys_checksum(buf, i);

        for (j = 0; j < i; j++) {
            assert_true(sums[i] != sums[j]);
        }
    }

    assert_true(recsys_checksum(NULL, 0) == sums[0]);
}


static void
test_id_hash(void **state)
{
    (void) state;

    /* published FNV-1a 64 test vectors */
    assert_true(recsys_id_hash("", 0) == 0xcbf29ce484222325ULL);
    assert_true(recsys_id_hash("a", 1) == 0xaf63dc4c8601ec8cULL);
    assert_true(recsys_id_hash("foobar", 6) == 0x85944171f73967e8ULL);
}


static void
test_metric(void **state)
{
    (void) state;

    assert_string_equal(recsys_metric_name(RECSYS_METRIC_INNER_PRODUCT),
                        "inner_product");
    assert_string_equal(recsys_metric_name(RECSYS_METRIC_L2), "l2");
    assert_string_equal(recsys_metric_name(RECSYS_METRIC_COSINE), "cosine");
    assert_null(recsys_metric_name(7));

    assert_int_equal(recsys_metric_parse("inner_product"),
                     RECSYS_METRIC_INNER_PRODUCT);
    assert_int_equal(recsys_metric_parse("l2"), RECSYS_METRIC_L2);
    assert_int_equal(recsys_metric_parse("cosine"), RECSYS_METRIC_COSINE);
    assert_int_equal(recsys_metric_parse("L2"), -1);
    assert_int_equal(recsys_metric_parse(""), -1);
    assert_int_equal(recsys_metric_parse(NULL), -1);
}


static void
test_items_roundtrip(void **state)
{
    char                    path[4200], err[RECSYS_ERRLEN];
    int64_t                 row, books, music;
    recsys_item_t           it;
    recsys_items_t          items;
    test_tmp_t             *t;
    recsys_items_writer_t  *w;

    t = *state;
    test_path(t, "items.bin", path);

    w = recsys_items_writer_create(TEST_DIM);
    assert_non_null(w);
    test_add(w, "a1", "Alpha", "books", "{\"x\":1}", 3.5f);
    test_add(w, "b2", NULL, NULL, NULL, 1.0f);
    test_add(w, "c3", "", "music", "{}", -2.0f);
    test_add(w, "d4", "Delta \"quoted\"", "books", NULL, 3.5f);
    assert_int_equal(recsys_items_writer_count(w), 4);
    assert_int_equal(recsys_items_writer_write(w, path, err, sizeof(err)),
                     0);
    recsys_items_writer_destroy(w);

    assert_int_equal(recsys_items_open(&items, path, err, sizeof(err)), 0);
    assert_int_equal(items.count, 4);
    assert_int_equal(items.dimension, TEST_DIM);
    assert_int_equal(items.ncategories, 2);

    books = recsys_items_category_find(&items, "books", 5);
    music = recsys_items_category_find(&items, "music", 5);
    assert_int_equal(books, 0);
    assert_int_equal(music, 1);

    row = recsys_items_find(&items, "a1", 2);
    assert_int_equal(row, 0);
    recsys_items_get(&items, row, &it);
    assert_int_equal(it.id_len, 2);
    assert_memory_equal(it.id, "a1", 2);
    assert_string_equal(it.title, "Alpha");
    assert_int_equal(it.title_len, 5);
    assert_string_equal(it.category, "books");
    assert_int_equal(it.category_len, 5);
    assert_string_equal(it.attributes, "{\"x\":1}");
    assert_int_equal(it.attributes_len, 7);
    assert_true(it.popularity == 3.5f);
    assert_int_equal(it.category_no, books);

    row = recsys_items_find(&items, "b2", 2);
    assert_int_equal(row, 1);
    recsys_items_get(&items, row, &it);
    assert_string_equal(it.id, "b2");
    assert_null(it.title);
    assert_int_equal(it.title_len, 0);
    assert_null(it.category);
    assert_null(it.attributes);
    assert_true(it.popularity == 1.0f);
    assert_int_equal(it.category_no, RECSYS_NO_CATEGORY);

    /* an empty title is present, unlike an absent one */
    row = recsys_items_find(&items, "c3", 2);
    assert_int_equal(row, 2);
    recsys_items_get(&items, row, &it);
    assert_non_null(it.title);
    assert_int_equal(it.title_len, 0);
    assert_string_equal(it.category, "music");
    assert_int_equal(it.category_no, music);
    assert_string_equal(it.attributes, "{}");
    assert_true(it.popularity == -2.0f);

    row = recsys_items_find(&items, "d4", 2);
    assert_int_equal(row, 3);
    recsys_items_get(&items, row, &it);
    assert_string_equal(it.title, "Delta \"quoted\"");
    assert_int_equal(it.category_no, books);

    /* out of range row: an empty item, not a crash */
    recsys_items_get(&items, 4, &it);
    assert_null(it.id);
    assert_int_equal(it.category_no, RECSYS_NO_CATEGORY);

    /* popular: 3.5 a1, 3.5 d4, 1 b2, -2 c3 */
    assert_int_equal(items.popular[0], 0);
    assert_int_equal(items.popular[1], 3);
    assert_int_equal(items.popular[2], 1);
    assert_int_equal(items.popular[3], 2);

    recsys_items_close(&items);
    assert_null(items.base);

    assert_int_equal(recsys_items_open(&items, "/nonexistent/items.bin",
                                       err, sizeof(err)), -1);
    assert_non_null(strstr(err, "items.bin: open failed"));
}


static void
test_items_find_many(void **state)
{
    char            path[4200], id[32], err[RECSYS_ERRLEN];
    uint32_t        i;
    recsys_item_t   it;
    recsys_items_t  items;
    test_tmp_t     *t;

    t = *state;
    test_path(t, "items.bin", path);
    test_write_items(path, 10000);

    assert_int_equal(recsys_items_open(&items, path, err, sizeof(err)), 0);
    assert_int_equal(items.count, 10000);
    assert_true(items.hash_mask + 1 >= 20000);
    assert_int_equal((items.hash_mask + 1) & items.hash_mask, 0);

    for (i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "item-%u", i);
        assert_int_equal(recsys_items_find(&items, id, strlen(id)), i);
        recsys_items_get(&items, i, &it);
        assert_int_equal(it.id_len, strlen(id));
        assert_memory_equal(it.id, id, it.id_len);
    }

    assert_int_equal(recsys_items_find(&items, "item-10000", 10), -1);
    assert_int_equal(recsys_items_find(&items, "item-", 5), -1);
    assert_int_equal(recsys_items_find(&items, "item-00", 7), -1);
    assert_int_equal(recsys_items_find(&items, "item-1\0", 7), -1);
    assert_int_equal(recsys_items_find(&items, "", 0), -1);
    assert_int_equal(recsys_items_find(&items, "ITEM-1", 6), -1);

    recsys_items_close(&items);

    /* an empty catalog is a valid file */
    test_write_items(path, 0);
    assert_int_equal(recsys_items_open(&items, path, err, sizeof(err)), 0);
    assert_int_equal(items.count, 0);
    assert_int_equal(items.ncategories, 0);
    assert_int_equal(recsys_items_find(&items, "item-0", 6), -1);
    recsys_items_close(&items);
}


static void
test_items_popular(void **state)
{
    char                    path[4200], err[RECSYS_ERRLEN];
    uint32_t                i;
    recsys_item_t           it;
    recsys_items_t          items;
    test_tmp_t             *t;
    recsys_items_writer_t  *w;
    static const char      *expect[] = {
        "c", "B", "a", "aa", "b", "ba", "\xc3\xa9", "z"
    };

    t = *state;
    test_path(t, "items.bin", path);

    w = recsys_items_writer_create(TEST_DIM);
    assert_non_null(w);
    test_add(w, "b", NULL, NULL, NULL, 5.0f);
    test_add(w, "a", NULL, NULL, NULL, 5.0f);
    test_add(w, "z", NULL, NULL, NULL, -1.0f);
    test_add(w, "ba", NULL, NULL, NULL, 5.0f);
    test_add(w, "\xc3\xa9", NULL, NULL, NULL, 5.0f);
    test_add(w, "B", NULL, NULL, NULL, 5.0f);
    test_add(w, "c", NULL, NULL, NULL, 7.0f);
    test_add(w, "aa", NULL, NULL, NULL, 5.0f);
    assert_int_equal(recsys_items_writer_write(w, path, err, sizeof(err)),
                     0);
    recsys_items_writer_destroy(w);

    assert_int_equal(recsys_items_open(&items, path, err, sizeof(err)), 0);
    assert_int_equal(items.count, 8);

    /* popularity desc, then ids byte-wise ("B" < "a", UTF-8 last) */
    for (i = 0; i < 8; i++) {
        recsys_items_get(&items, items.popular[i], &it);
        assert_int_equal(it.id_len, strlen(expect[i]));
        assert_memory_equal(it.id, expect[i], it.id_len);
    }

    recsys_items_close(&items);
}


static void
test_items_categories(void **state)
{
    char                    path[4200], err[RECSYS_ERRLEN];
    int64_t                 c;
    uint32_t                n;
    recsys_item_t           it;
    recsys_items_t          items;
    test_tmp_t             *t;
    const uint32_t         *rows;
    recsys_items_writer_t  *w;

    t = *state;
    test_path(t, "items.bin", path);

    w = recsys_items_writer_create(TEST_DIM);
    assert_non_null(w);
    test_add(w, "x1", NULL, "toys", NULL, 1.0f);
    test_add(w, "x2", NULL, "art", NULL, 2.0f);
    test_add(w, "x3", NULL, "toys", NULL, 9.0f);
    test_add(w, "x4", NULL, NULL, NULL, 100.0f);
    test_add(w, "x5", NULL, "toys", NULL, 1.0f);
    test_add(w, "x0", NULL, "toy", NULL, 1.0f);
    test_add(w, "x6", NULL, "", NULL, 0.0f);
    assert_int_equal(recsys_items_writer_write(w, path, err, sizeof(err)),
                     0);
    recsys_items_writer_destroy(w);

    assert_int_equal(recsys_items_open(&items, path, err, sizeof(err)), 0);
    assert_int_equal(items.ncategories, 4);

    /* sorted by name: "", "art", "toy", "toys" */
    assert_int_equal(recsys_items_category_find(&items, "", 0), 0);
    assert_int_equal(recsys_items_category_find(&items, "art", 3), 1);
    assert_int_equal(recsys_items_category_find(&items, "toy", 3), 2);
    assert_int_equal(recsys_items_category_find(&items, "toys", 4), 3);
    assert_int_equal(recsys_items_category_find(&items, "to", 2), -1);
    assert_int_equal(recsys_items_category_find(&items, "toyss", 5), -1);
    assert_int_equal(recsys_items_category_find(&items, "zzz", 3), -1);
    assert_int_equal(recsys_items_category_find(&items, "Art", 3), -1);

    c = recsys_items_category_find(&items, "toys", 4);
    rows = recsys_items_category_rows(&items, c, &n);
    assert_non_null(rows);
    assert_int_equal(n, 3);

    /* x3 (9), then x1 and x5 (1) by id */
    assert_int_equal(rows[0], 2);
    assert_int_equal(rows[1], 0);
    assert_int_equal(rows[2], 4);

    recsys_items_get(&items, rows[1], &it);
    assert_int_equal(it.category_no, c);
    assert_string_equal(it.category, "toys");

    rows = recsys_items_category_rows(&items, 1, &n);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0], 1);

    rows = recsys_items_category_rows(&items, 4, &n);
    assert_null(rows);
    assert_int_equal(n, 0);

    rows = recsys_items_category_rows(&items, RECSYS_NO_CATEGORY, &n);
    assert_null(rows);
    assert_int_equal(n, 0);

    recsys_items_get(&items, 3, &it);
    assert_int_equal(it.category_no, RECSYS_NO_CATEGORY);
    assert_int_equal(items.popular[0], 3);

    recsys_items_close(&items);
}


static void
test_items_writer_errors(void **state)
{
    char                    err[RECSYS_ERRLEN];
    recsys_item_t           it;
    recsys_items_writer_t  *w;

    (void) state;

    w = recsys_items_writer_create(TEST_DIM);
    assert_non_null(w);

    test_add(w, "dup", "first", NULL, NULL, 1.0f);

    memset(&it, 0, sizeof(it));
    it.id = "dup";
    it.id_len = 3;
    it.title = "second";
    it.title_len = 6;
    assert_int_equal(recsys_items_writer_add(w, &it, err, sizeof(err)), -1);
    assert_string_equal(err, "duplicate id \"dup\"");

    it.id = "";
    it.id_len = 0;
    assert_int_equal(recsys_items_writer_add(w, &it, err, sizeof(err)), -1);
    assert_string_equal(err, "empty id");

    it.id = NULL;
    assert_int_equal(recsys_items_writer_add(w, &it, err, sizeof(err)), -1);
    assert_string_equal(err, "empty id");

    it.id = "nan";
    it.id_len = 3;
    it.popularity = NAN;
    assert_int_equal(recsys_items_writer_add(w, &it, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "popularity"));

    /* a prefix of an existing id is a different id */
    test_add(w, "du", NULL, NULL, NULL, 1.0f);
    assert_int_equal(recsys_items_writer_count(w), 2);

    assert_int_equal(recsys_items_writer_write(w, "/nonexistent/items.bin",
                                               err, sizeof(err)), -1);
    assert_non_null(strstr(err, "open failed"));

    recsys_items_writer_destroy(w);
    recsys_items_writer_destroy(NULL);
}


/* opens a mutated copy: it must fail cleanly or work without crashing */

static int
test_open_mutated(const char *path, const void *data, size_t len,
    char *err, size_t errlen)
{
    char            id[32];
    uint32_t        i, n, c;
    recsys_item_t   it;
    recsys_items_t  items;
    const uint32_t *rows;

    test_write_bytes(path, data, len);

    if (recsys_items_open(&items, path, err, errlen) != 0) {
        assert_null(items.base);
        assert_true(strncmp(err, "items.bin: ", 11) == 0);
        return -1;
    }

    for (i = 0; i < items.count + 2; i++) {
        snprintf(id, sizeof(id), "item-%u", i);
        (void) recsys_items_find(&items, id, strlen(id));
        recsys_items_get(&items, i, &it);

        if (i < items.count) {
            (void) recsys_items_find(&items, it.id, it.id_len);
            assert_true(items.popular[i] < items.count);
        }
    }

    for (c = 0; c < items.ncategories + 1; c++) {
        rows = recsys_items_category_rows(&items, c, &n);

        for (i = 0; i < n; i++) {
            assert_true(rows[i] < items.count);
        }
    }

    (void) recsys_items_category_find(&items, "books", 5);
    recsys_items_close(&items);

    return 0;
}


static void
test_items_corrupt(void **state)
{
    char         good[4200], bad[4200], err[RECSYS_ERRLEN];
    size_t       len, i, cut[] = { 0, 1, 8, 63, 64, 65, 200, 0, 0, 0 };
    uint8_t     *data, *copy;
    uint32_t     v, *h32;
    uint64_t     v64;
    test_tmp_t  *t;

    t = *state;
    test_path(t, "good.bin", good);
    test_path(t, "items.bin", bad);
    test_write_items(good, 50);

    data = test_read_bytes(good, &len);
    copy = malloc(len);
    assert_non_null(copy);

    cut[7] = len / 2;
    cut[8] = len - 8;
    cut[9] = len - 1;

    for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
        assert_int_equal(test_open_mutated(bad, data, cut[i], err,
                                           sizeof(err)), -1);
        assert_non_null(strstr(err, "items.bin: truncated (size "));
    }

    assert_int_equal(test_open_mutated(bad, data, 10, err, sizeof(err)), -1);
    assert_string_equal(err, "items.bin: truncated (size 10, need 64)");

    /* the original is fine */
    assert_int_equal(test_open_mutated(bad, data, len, err, sizeof(err)), 0);

    memcpy(copy, data, len);
    copy[0] = 'X';
    assert_int_equal(test_open_mutated(bad, copy, len, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "items.bin: bad magic");

    memcpy(copy, data, len);
    v = 2;
    memcpy(copy + 8, &v, 4);
    assert_int_equal(test_open_mutated(bad, copy, len, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "version"));

    /* hash slots (offset 24) not a power of two */
    memcpy(copy, data, len);
    v = 129;
    memcpy(copy + 24, &v, 4);
    assert_int_equal(test_open_mutated(bad, copy, len, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "hash table"));

    /* each section offset (40..63) far past the end, or into the header */
    for (i = 40; i < 64; i += 4) {
        memcpy(copy, data, len);
        v = 0xffffffff;
        memcpy(copy + i, &v, 4);
        assert_int_equal(test_open_mutated(bad, copy, len, err,
                                           sizeof(err)), -1);
        assert_non_null(strstr(err, "truncated"));

        memcpy(copy, data, len);
        v = 0;
        memcpy(copy + i, &v, 4);
        assert_int_equal(test_open_mutated(bad, copy, len, err,
                                           sizeof(err)), -1);
        assert_non_null(strstr(err, "overlaps the header"));

        /* shifted by 8 bytes: must not crash, whatever it decides */
        memcpy(copy, data, len);
        memcpy(&v, data + i, 4);
        v++;
        memcpy(copy + i, &v, 4);
        (void) test_open_mutated(bad, copy, len, err, sizeof(err));
    }

    /* huge strings_size (offset 32) */
    memcpy(copy, data, len);
    v64 = UINT64_MAX - 3;
    memcpy(copy + 32, &v64, 8);
    assert_int_equal(test_open_mutated(bad, copy, len, err, sizeof(err)),
                     -1);

    /* record 0's id offset points outside the string pool */
    memcpy(copy, data, len);
    v64 = 1u << 30;
    memcpy(copy + 64, &v64, 8);
    assert_int_equal(test_open_mutated(bad, copy, len, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "items.bin: record 0: string outside the pool");

    /* first popular row out of range */
    memcpy(copy, data, len);
    memcpy(&v, data + 48, 4);
    h32 = (uint32_t *) (copy + (size_t) v * 8);
    *h32 = 50;
    assert_int_equal(test_open_mutated(bad, copy, len, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "popular 0: row out of range"));

    /* a hash slot pointing past the last row */
    memcpy(copy, data, len);
    memcpy(&v, data + 44, 4);
    h32 = (uint32_t *) (copy + (size_t) v * 8);
    h32[3] = 51;
    assert_int_equal(test_open_mutated(bad, copy, len, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "hash slot"));

    /* random single-byte damage anywhere must never crash */
    srand(12345);

    for (i = 0; i < 3000; i++) {
        memcpy(copy, data, len);
        copy[rand() % len] ^= (uint8_t) (1 + rand() % 255);
        (void) test_open_mutated(bad, copy, len, err, sizeof(err));
    }

    free(copy);
    free(data);
}


static void
test_manifest_fill(recsys_manifest_t *m)
{
    memset(m, 0, sizeof(recsys_manifest_t));
    m->format = 1;
    m->generation = 42;
    m->items = 5000000000ULL;
    m->dimension = 64;
    m->metric = RECSYS_METRIC_COSINE;
    strcpy(m->factory, "IVF1024,Flat");
    m->nlist = 1024;
    strcpy(m->built_at, "2024-05-01T12:00:00Z");
    m->build_seconds = 12.25;
    strcpy(m->source_type, "file");
    strcpy(m->source, "/data/items \"q\".jsonl");
    m->nfiles = 3;
    strcpy(m->files[0].name, RECSYS_ITEMS_FILE);
    m->files[0].size = 123456;
    m->files[0].checksum = 0x0123456789abcdefULL;
    strcpy(m->files[1].name, RECSYS_VECTORS_FILE);
    m->files[1].size = 0;
    m->files[1].checksum = 0xffffffffffffffffULL;
    strcpy(m->files[2].name, RECSYS_INDEX_FILE);
    m->files[2].size = 1ULL << 40;
    m->files[2].checksum = 0;
}


static void
test_manifest(void **state)
{
    char                path[4200], err[RECSYS_ERRLEN];
    uint32_t            i;
    test_tmp_t         *t;
    recsys_manifest_t   m, r;

    t = *state;
    test_path(t, "manifest.json", path);
    test_manifest_fill(&m);

    assert_int_equal(recsys_manifest_write(path, &m, err, sizeof(err)), 0);
    assert_int_equal(recsys_manifest_read(path, &r, err, sizeof(err)), 0);

    assert_int_equal(r.format, 1);
    assert_true(r.generation == m.generation);
    assert_true(r.items == m.items);
    assert_int_equal(r.dimension, m.dimension);
    assert_int_equal(r.metric, m.metric);
    assert_string_equal(r.factory, m.factory);
    assert_int_equal(r.nlist, m.nlist);
    assert_string_equal(r.built_at, m.built_at);
    assert_true(r.build_seconds == m.build_seconds);
    assert_string_equal(r.source_type, m.source_type);
    assert_string_equal(r.source, m.source);
    assert_int_equal(r.nfiles, 3);

    for (i = 0; i < 3; i++) {
        assert_string_equal(r.files[i].name, m.files[i].name);
        assert_true(r.files[i].size == m.files[i].size);
        assert_true(r.files[i].checksum == m.files[i].checksum);
    }

    m.metric = 9;
    assert_int_equal(recsys_manifest_write(path, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "metric"));

#define MF(body)                                                              \
    "{\"format\":1,\"generation\":3,\"items\":2,\"dimension\":4,"             \
    "\"metric\":\"l2\",\"factory\":\"IVF1,Flat\",\"nlist\":1,"                \
    "\"built_at\":\"x\",\"build_seconds\":0.5,\"source_type\":\"file\","      \
    "\"source\":\"s\"" body "}"
#define F1  "{\"size\":1,\"checksum\":\"0000000000000001\"}"
#define FILES  ",\"files\":{\"items.bin\":{\"size\":1,\"checksum\":"          \
               "\"00000000000000ff\"}}"

    test_write_bytes(path, MF(FILES), strlen(MF(FILES)));
    assert_int_equal(recsys_manifest_read(path, &r, err, sizeof(err)), 0);
    assert_int_equal(r.metric, RECSYS_METRIC_L2);
    assert_int_equal(r.nfiles, 1);
    assert_true(r.files[0].checksum == 0xff);

    test_write_bytes(path, MF(""), strlen(MF("")));
    assert_int_equal(recsys_manifest_read(path, &r, err, sizeof(err)), -1);
    assert_string_equal(err, "manifest.json: missing \"files\"");

    {
        static const char  *bad[][2] = {
            { "{\"format\":1}", "missing \"generation\"" },
            { "{\"generation\":1}", "missing \"format\"" },
            { "[1,2]", "not a JSON object" },
            { "{\"format\":", "invalid JSON" },
            { "{\"format\":2}", "unsupported format 2" },
            { "{\"format\":1,\"generation\":\"3\"}", "\"generation\"" },
            { "{\"format\":1,\"generation\":-1}", "\"generation\"" },
            { "{\"format\":1,\"generation\":1.5}", "\"generation\"" },
            { "{\"format\":1,\"generation\":1,\"items\":1,"
              "\"dimension\":0}", "\"dimension\" must be positive" },
            { "{\"format\":1,\"generation\":1,\"items\":1,"
              "\"dimension\":4,\"metric\":\"dot\"}", "unknown \"metric\"" },
            { "{\"format\":1,\"generation\":1,\"items\":1,"
              "\"dimension\":4,\"metric\":7}", "\"metric\" must be a "
              "string" },
            { "{\"format\":1,\"generation\":1,\"items\":1,"
              "\"dimension\":4,\"metric\":\"l2\",\"factory\":\"f\","
              "\"nlist\":1,\"built_at\":\"x\"}",
              "missing \"build_seconds\"" },
        };

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            test_write_bytes(path, bad[i][0], strlen(bad[i][0]));
            assert_int_equal(recsys_manifest_read(path, &r, err,
                                                  sizeof(err)), -1);
            assert_non_null(strstr(err, bad[i][1]));
            assert_true(strncmp(err, "manifest.json: ", 15) == 0);
        }
    }

    {
        static const char  *bad[][2] = {
            { MF(",\"files\":[]"), "\"files\" must be an object" },
            { MF(",\"files\":{\"items.bin\":{\"checksum\":\"00\"}}"),
              "files.items.bin: missing \"size\"" },
            { MF(",\"files\":{\"items.bin\":{\"size\":1}}"),
              "files.items.bin: missing \"checksum\"" },
            { MF(",\"files\":{\"items.bin\":{\"size\":1,"
                 "\"checksum\":\"xyz\"}}"), "16 hex digits" },
            { MF(",\"files\":{\"items.bin\":{\"size\":1,"
                 "\"checksum\":\"-000000000000001\"}}"), "16 hex digits" },
            { MF(",\"files\":{\"../x\":{\"size\":1,"
                 "\"checksum\":\"0000000000000001\"}}"), "bad file name" },
            { MF(",\"files\":{\"a\":{},\"b\":{}}"),
              "files.a: missing \"size\"" },
            { MF(",\"files\":{\"a\":" F1 ",\"b\":" F1 ",\"c\":" F1
                 ",\"d\":" F1 ",\"e\":" F1 "}"), "more than 4 entries" },
            { MF(",\"files\":{\"a\":" F1 ",\"a\":" F1 "}"),
              "duplicate file \"a\"" },
        };

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            test_write_bytes(path, bad[i][0], strlen(bad[i][0]));
            assert_int_equal(recsys_manifest_read(path, &r, err,
                                                  sizeof(err)), -1);
            assert_non_null(strstr(err, bad[i][1]));
        }
    }

#undef MF
#undef F1
#undef FILES

    assert_int_equal(recsys_manifest_read("/nonexistent/manifest.json", &r,
                                          err, sizeof(err)), -1);
    assert_non_null(strstr(err, "manifest.json: open failed"));
}


static void
test_mkdir_file(const char *dir, const char *file)
{
    char  path[4200];

    assert_int_equal(mkdir(dir, 0755), 0);
    test_fmt(path, "%s/%s", dir, file);
    test_write_bytes(path, "data", 4);
}


static void
test_layout(void **state)
{
    char          idx[4200], tmp[4200], cur[4200], path[4200];
    char          err[RECSYS_ERRLEN];
    ssize_t       n;
    uint64_t      g;
    struct stat   st;
    test_tmp_t   *t;

    t = *state;
    test_path(t, "index", idx);

    assert_int_equal(recsys_current_dir(idx, cur, sizeof(cur), err,
                                        sizeof(err)), -1);
    assert_non_null(strstr(err, "no current generation"));
    assert_int_equal(recsys_last_generation(idx), 0);

    /* publish creates the index directory and generations/ */
    test_path(t, "stage1", tmp);
    test_mkdir_file(tmp, "manifest.json");
    assert_int_equal(recsys_publish(idx, tmp, 1, 2, err, sizeof(err)), 0);
    assert_int_equal(stat(tmp, &st), -1);

    assert_int_equal(recsys_current_dir(idx, cur, sizeof(cur), err,
                                        sizeof(err)), 0);
    test_fmt(path, "%s/generations/1", idx);
    assert_string_equal(cur, path);

    test_fmt(path, "%s/current", idx);
    n = readlink(path, tmp, sizeof(tmp) - 1);
    assert_true(n > 0);
    tmp[n] = '\0';
    assert_string_equal(tmp, "generations/1");

    test_fmt(path, "%s/generations/1/manifest.json", idx);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(recsys_fsync_path(path, err, sizeof(err)), 0);
    assert_int_equal(recsys_last_generation(idx), 1);

    for (g = 2; g <= 4; g++) {
        test_fmt(tmp, "%s/.tmp-%ld-%llu", idx, (long) getpid(),
                 (unsigned long long) g);
        test_mkdir_file(tmp, "items.bin");
        assert_int_equal(recsys_publish(idx, tmp, g, 2, err, sizeof(err)),
                         0);
    }

    /* keep 2: 3 and 4 stay */
    assert_int_equal(recsys_last_generation(idx), 4);
    test_fmt(path, "%s/generations/1", idx);
    assert_int_equal(stat(path, &st), -1);
    test_fmt(path, "%s/generations/2", idx);
    assert_int_equal(stat(path, &st), -1);
    test_fmt(path, "%s/generations/3/items.bin", idx);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(recsys_current_dir(idx, cur, sizeof(cur), err,
                                        sizeof(err)), 0);
    test_fmt(path, "%s/generations/4", idx);
    assert_string_equal(cur, path);

    /* an existing generation is never replaced */
    test_fmt(tmp, "%s/.tmp-%ld-4", idx, (long) getpid());
    test_mkdir_file(tmp, "items.bin");
    assert_int_equal(recsys_publish(idx, tmp, 4, 2, err, sizeof(err)), -1);
    assert_string_equal(err, "generation 4 already exists");
    assert_int_equal(stat(tmp, &st), 0);

    /* non-numeric names are not generations and are not pruned */
    test_fmt(path, "%s/generations/12abc", idx);
    assert_int_equal(mkdir(path, 0755), 0);
    test_fmt(path, "%s/generations/99999999999999999999999",
             idx);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(recsys_last_generation(idx), 4);

    /* keep 0 means 1, but the rollback target (4) is never pruned */
    test_fmt(tmp, "%s/stage5", t->dir);
    test_mkdir_file(tmp, "x");
    assert_int_equal(recsys_publish(idx, tmp, 5, 0, err, sizeof(err)), 0);
    test_fmt(path, "%s/generations/4", idx);
    assert_int_equal(stat(path, &st), 0);
    test_fmt(path, "%s/generations/3", idx);
    assert_int_equal(stat(path, &st), -1);
    test_fmt(path, "%s/generations/12abc", idx);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(recsys_last_generation(idx), 5);

    /* leftovers: dead builders' dirs and links go, a live one stays */
    test_fmt(path, "%s/.tmp-999999999-7", idx);
    test_mkdir_file(path, "index.faiss");
    test_fmt(path, "%s/.tmp-junk", idx);
    assert_int_equal(mkdir(path, 0755), 0);
    test_fmt(path, "%s/.tmp-%ld-8", idx, (long) getppid());
    assert_int_equal(mkdir(path, 0755), 0);
    test_fmt(path, "%s/.current.tmp.999999999", idx);
    assert_int_equal(symlink("generations/1", path), 0);
    test_fmt(path, "%s/.tmp-file", idx);
    test_write_bytes(path, "x", 1);

    recsys_cleanup_temp(idx);

    test_fmt(path, "%s/.tmp-999999999-7", idx);
    assert_int_equal(lstat(path, &st), -1);
    test_fmt(path, "%s/.tmp-junk", idx);
    assert_int_equal(lstat(path, &st), -1);
    test_fmt(path, "%s/.tmp-%ld-4", idx, (long) getpid());
    assert_int_equal(lstat(path, &st), -1);
    test_fmt(path, "%s/.current.tmp.999999999", idx);
    assert_int_equal(lstat(path, &st), -1);
    test_fmt(path, "%s/.tmp-%ld-8", idx, (long) getppid());
    assert_int_equal(lstat(path, &st), 0);
    test_fmt(path, "%s/.tmp-file", idx);
    assert_int_equal(lstat(path, &st), 0);
    test_fmt(path, "%s/current", idx);
    assert_int_equal(lstat(path, &st), 0);

    /* a link that does not name a generation is refused */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink("/etc", path), 0);
    assert_int_equal(recsys_current_dir(idx, cur, sizeof(cur), err,
                                        sizeof(err)), -1);
    assert_non_null(strstr(err, "not to"));

    assert_int_equal(recsys_fsync_path("/nonexistent", err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "open failed"));

    test_fmt(tmp, "%s/missing", t->dir);
    assert_int_equal(recsys_publish(idx, tmp, 9, 2, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "opendir failed"));
}


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


static void
test_generation(void **state)
{
    char                  dir[4200], path[4200], saved[4200];
    char                  err[RECSYS_ERRLEN];
    void                 *data;
    float                 dist[3];
    size_t                len;
    idx_t                 labels[3];
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

    /* same size, one byte changed */
    ((char *) data)[17] ^= 0x40;
    test_write_bytes(path, data, len);
    test_generation_failed(&g, dir, TEST_DIM, -1, "vectors.f32: checksum ");
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


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_checksum),
        cmocka_unit_test(test_id_hash),
        cmocka_unit_test(test_metric),
        cmocka_unit_test_setup_teardown(test_items_roundtrip, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_items_find_many, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_items_popular, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_items_categories, test_setup,
                                        test_teardown),
        cmocka_unit_test(test_items_writer_errors),
        cmocka_unit_test_setup_teardown(test_items_corrupt, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_manifest, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_layout, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_generation, test_setup,
                                        test_teardown),
    };

    /* one OpenMP thread: no pool to leak or to race under valgrind */
    omp_set_num_threads(1);

    return cmocka_run_group_tests(tests, NULL, NULL);
}
