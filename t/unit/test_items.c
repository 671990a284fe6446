/*
 * Unit tests for items.bin: the writer (recsys_items_writer.c), the
 * reader (recsys_items.c) and the id hash.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "recsys_items.h"
#include "recsys_items_writer.h"
#include "test_tmp.h"


#define TEST_DIM      8


static void test_write_items(const char *path, uint32_t n);
static int test_open_mutated(const char *path, const void *data, size_t len,
    char *err, size_t errlen);


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

/*
 * Opens and verifies a mutated copy: it must fail cleanly or work without
 * crashing.
 */

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

    /* what a worker reads passed the builder's recsys_items_verify() */
    if (recsys_items_verify(&items, err, errlen) != 0) {
        assert_true(strncmp(err, "items.bin: ", 11) == 0);
        recsys_items_close(&items);
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
test_id_hash(void **state)
{
    (void) state;

    /* published FNV-1a 64 test vectors */
    assert_true(recsys_id_hash("", 0) == 0xcbf29ce484222325ULL);
    assert_true(recsys_id_hash("a", 1) == 0xaf63dc4c8601ec8cULL);
    assert_true(recsys_id_hash("foobar", 6) == 0x85944171f73967e8ULL);
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


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_id_hash),
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
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
