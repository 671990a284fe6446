/*
 * Unit tests for the users source (recsys_users_source.c) on JSON Lines
 * files: users and their seen items as rows, the errors with their line,
 * and what counts as modified against the served users, whose seen rows
 * are mapped through item ids when the item rows move.  The PostgreSQL
 * reads, incremental ones included, are t/044-users.t's.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "recsys_users_source.h"
#include "test_tmp.h"


#define TEST_DIM   4


static int64_t test_item_row(const void *data, const char *id, size_t len);
static recsys_items_writer_t *test_items(const char *const *ids);
static int test_read(test_tmp_t *t, const char *text,
    recsys_items_writer_t *items, const recsys_users_t *prev,
    const recsys_items_t *prev_items, recsys_users_read_t *r, char *err);


static const char *const  test_ids_a[] = { "apple", "pear", "plum", NULL };

/* the next generation: rows moved, one item more */
static const char *const  test_ids_b[] = {
    "kiwi", "plum", "apple", "pear", NULL
};


static int64_t
test_item_row(const void *data, const char *id, size_t len)
{
    return recsys_items_writer_find(data, id, len);
}


static recsys_items_writer_t *
test_items(const char *const *ids)
{
    recsys_items_writer_t  *w;

    w = recsys_items_writer_create(TEST_DIM);
    assert_non_null(w);

    while (*ids != NULL) {
        test_add(w, *ids++, NULL, NULL, NULL, 1);
    }

    return w;
}


/* text as users.jsonl, read against items (and prev); the rc */

static int
test_read(test_tmp_t *t, const char *text, recsys_items_writer_t *items,
    const recsys_users_t *prev, const recsys_items_t *prev_items,
    recsys_users_read_t *r, char *err)
{
    char                          path[TEST_PATHLEN];
    static recsys_source_conf_t   conf;

    test_path(t, "users.jsonl", path);
    test_write_bytes(path, text, strlen(text));

    memset(&conf, 0, sizeof(recsys_source_conf_t));
    conf.type = RECSYS_SOURCE_FILE;
    conf.path = path;

    memset(r, 0, sizeof(recsys_users_read_t));
    r->conf = &conf;
    r->dimension = TEST_DIM;
    r->metric = RECSYS_METRIC_COSINE;
    r->items = (uint32_t) recsys_items_writer_count(items);
    r->item = test_item_row;
    r->item_data = items;
    r->prev = prev;
    r->prev_items = prev_items;

    err[0] = '\0';

    return recsys_users_read(r, err, RECSYS_CATALOG_ERRLEN);
}


static void
test_file(void **state)
{
    char                    err[RECSYS_CATALOG_ERRLEN];
    char                    path[TEST_PATHLEN];
    int64_t                 row;
    test_tmp_t             *t;
    recsys_user_t           u;
    recsys_users_t          users;
    recsys_users_read_t     r;
    recsys_items_writer_t  *items;

    t = *state;
    items = test_items(test_ids_a);

    /* a byte order mark, a blank line, a repeat and an unknown seen id */
    assert_int_equal(test_read(t,
        "\xef\xbb\xbf{\"id\": \"u1\", \"vector\": [1, 0, 0, 0],"
        " \"seen\": [\"pear\", \"nope\", \"apple\", \"pear\"]}\n"
        "\n"
        "{\"id\": \"u2\", \"vector\": [0, 2, 0, 0], \"seen\": null,"
        " \"extra\": 1}\n",
        items, NULL, NULL, &r, err), 0);

    assert_int_equal(recsys_users_writer_count(r.writer), 2);
    assert_int_equal(r.full, 1);
    assert_int_equal(r.unknown, 1);
    assert_int_equal(r.modified, 2);
    assert_string_equal(r.watermark, "");

    test_path(t, "users.bin", path);
    assert_int_equal(recsys_users_writer_write(r.writer, path, err,
                                               sizeof(err)), 0);
    recsys_users_writer_destroy(r.writer);

    assert_int_equal(recsys_users_open(&users, path, err, sizeof(err)), 0);
    assert_int_equal(recsys_users_verify(&users, err, sizeof(err)), 0);

    row = recsys_users_find(&users, "u1", 2);
    assert_int_equal(row, 0);
    recsys_users_get(&users, (uint32_t) row, &u);
    assert_int_equal(u.nseen, 2);
    assert_int_equal(u.seen[0], 0);
    assert_int_equal(u.seen[1], 1);

    /* stored as given: the query path normalizes */
    recsys_users_get(&users, 1, &u);
    assert_true(u.vector[1] == 2.0f);
    assert_int_equal(u.nseen, 0);

    recsys_users_close(&users);
    recsys_items_writer_destroy(items);
}


static void
test_file_errors(void **state)
{
    size_t                  i, n;
    char                    err[RECSYS_CATALOG_ERRLEN];
    char                    want[TEST_PATHLEN + 128];
    char                    path[TEST_PATHLEN];
    test_tmp_t             *t;
    recsys_users_read_t     r;
    recsys_items_writer_t  *items;

    static const char      *cases[][2] = {
        { "{\"id\": \"u1\", \"vector\": [1, 0, 0]}\n",
          "1: \"vector\" has 3 numbers, expected 4 (the index dimension)" },
        { "{\"id\": \"u1\", \"vector\": [1, 0, 0, 0]}\n"
          "{\"id\": \"u1\", \"vector\": [0, 1, 0, 0]}\n",
          "2: duplicate user id \"u1\"" },
        { "\n{\"id\": \"u1\", \"vector\": [1, 0\n",
          "2: invalid JSON near column 29" },
        { "{\"id\": \"u1\", \"vector\": [1, 0, 0, 0]} x\n",
          "1: invalid JSON: unexpected text at column 38" },
        { "[1]\n", "1: a line must be a JSON object" },
        { "{\"vector\": [1, 0, 0, 0]}\n",
          "1: \"id\" must be a non-empty string" },
        { "{\"id\": \"u1\"}\n",
          "1: \"vector\" must be an array of 4 numbers" },
        { "{\"id\": \"u1\", \"vector\": [1, 0, \"0\", 0]}\n",
          "1: \"vector\"[2] must be a finite float32 number" },
        { "{\"id\": \"u1\", \"vector\": [1, 0, 0, 1e39]}\n",
          "1: \"vector\"[3] must be a finite float32 number" },
        { "{\"id\": \"u1\", \"vector\": [0, 0, 0, 0]}\n",
          "1: the vector has zero length, there is no cosine with it" },
        { "{\"id\": \"u1\", \"vector\": [1, 0, 0, 0], \"seen\": \"pear\"}\n",
          "1: \"seen\" must be an array of item ids" },
        { "{\"id\": \"u1\", \"vector\": [1, 0, 0, 0], \"seen\": [\"a\", 2]}\n",
          "1: \"seen\"[1] must be an item id string" },
    };

    t = *state;
    items = test_items(test_ids_a);
    test_path(t, "users.jsonl", path);
    n = sizeof(cases) / sizeof(cases[0]);

    for (i = 0; i < n; i++) {
        assert_int_equal(test_read(t, cases[i][0], items, NULL, NULL, &r,
                                   err), -1);
        recsys_users_writer_destroy(r.writer);

        snprintf(want, sizeof(want), "%s:%s", path, cases[i][1]);
        assert_string_equal(err, want);
    }

    /* an empty file is no users, not an error */
    assert_int_equal(test_read(t, "", items, NULL, NULL, &r, err), 0);
    assert_int_equal(recsys_users_writer_count(r.writer), 0);
    recsys_users_writer_destroy(r.writer);

    recsys_items_writer_destroy(items);
}


/*
 * Against the served users: the same users over moved item rows are
 * not modified; a changed vector, a new user and a user gone are.
 */

static void
test_modified(void **state)
{
    char                    err[RECSYS_CATALOG_ERRLEN];
    char                    path[TEST_PATHLEN], ipath[TEST_PATHLEN];
    int64_t                 row;
    test_tmp_t             *t;
    recsys_user_t           u;
    recsys_items_t          prev_items;
    recsys_users_t          prev;
    recsys_users_read_t     r;
    recsys_items_writer_t  *a, *b;

    static const char       text[] =
        "{\"id\": \"u1\", \"vector\": [1, 0, 0, 0],"
        " \"seen\": [\"apple\", \"pear\"]}\n"
        "{\"id\": \"u2\", \"vector\": [0, 1, 0, 0], \"seen\": [\"plum\"]}\n";

    t = *state;
    a = test_items(test_ids_a);
    b = test_items(test_ids_b);

    test_path(t, "items.bin", ipath);
    assert_int_equal(recsys_items_writer_write(a, ipath, err, sizeof(err)),
                     0);
    assert_int_equal(recsys_items_open(&prev_items, ipath, err, sizeof(err)),
                     0);

    assert_int_equal(test_read(t, text, a, NULL, NULL, &r, err), 0);
    test_path(t, "users.bin", path);
    assert_int_equal(recsys_users_writer_write(r.writer, path, err,
                                               sizeof(err)), 0);
    recsys_users_writer_destroy(r.writer);
    assert_int_equal(recsys_users_open(&prev, path, err, sizeof(err)), 0);

    /* the same file over the next items: the same users */
    assert_int_equal(test_read(t, text, b, &prev, &prev_items, &r, err), 0);
    assert_int_equal(r.modified, 0);

    row = recsys_users_writer_find(r.writer, "u1", 2);
    assert_int_equal(row, 0);
    recsys_users_writer_destroy(r.writer);

    /* a vector changed, a seen list changed, u1 gone, u3 new */
    assert_int_equal(test_read(t,
        "{\"id\": \"u2\", \"vector\": [0, 1, 0, 0.5], \"seen\": [\"plum\"]}\n"
        "{\"id\": \"u3\", \"vector\": [0, 0, 1, 0]}\n",
        b, &prev, &prev_items, &r, err), 0);
    assert_int_equal(r.modified, 3);
    recsys_users_writer_destroy(r.writer);

    assert_int_equal(test_read(t,
        "{\"id\": \"u1\", \"vector\": [1, 0, 0, 0], \"seen\": [\"apple\"]}\n"
        "{\"id\": \"u2\", \"vector\": [0, 1, 0, 0],"
        " \"seen\": [\"plum\", \"kiwi\"]}\n",
        b, &prev, &prev_items, &r, err), 0);
    assert_int_equal(r.modified, 2);

    /* the stored rows are the new generation's */
    test_path(t, "users2.bin", path);
    assert_int_equal(recsys_users_writer_write(r.writer, path, err,
                                               sizeof(err)), 0);
    recsys_users_writer_destroy(r.writer);
    recsys_users_close(&prev);
    assert_int_equal(recsys_users_open(&prev, path, err, sizeof(err)), 0);
    recsys_users_get(&prev, 1, &u);
    assert_int_equal(u.nseen, 2);
    assert_int_equal(u.seen[0], 0);     /* kiwi */
    assert_int_equal(u.seen[1], 1);     /* plum */

    recsys_users_close(&prev);
    recsys_items_close(&prev_items);
    recsys_items_writer_destroy(a);
    recsys_items_writer_destroy(b);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(test_file, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_file_errors, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_modified, test_setup,
                                        test_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
