/*
 * Unit tests for users.bin: the writer (recsys_users_writer.c) and the
 * reader (recsys_users.c), open and verify on damaged copies.
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

#include "recsys_users.h"
#include "recsys_users_format.h"
#include "recsys_users_writer.h"
#include "test_tmp.h"


#define TEST_DIM      4
#define TEST_ITEMS    20


static void test_write_users(const char *path, uint32_t n);
static int test_users_mutated(const char *path, const void *data,
    size_t len, char *err, size_t errlen);


/* n users "user-<i>": vector (i, i+1, i+2, i+3), seen rows i % 5 .. */

static void
test_write_users(const char *path, uint32_t n)
{
    char                    id[32], err[RECSYS_ERRLEN];
    float                   v[TEST_DIM];
    uint32_t                i, d, seen[8];
    recsys_users_writer_t  *w;

    w = recsys_users_writer_create(TEST_DIM, TEST_ITEMS);
    assert_non_null(w);

    for (i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "user-%u", i);

        for (d = 0; d < TEST_DIM; d++) {
            v[d] = (float) (i + d);
        }

        /* reversed, with a repeat: the writer sorts and drops it */
        seen[0] = (i + 7) % TEST_ITEMS;
        seen[1] = i % 5;
        seen[2] = (i + 7) % TEST_ITEMS;

        assert_int_equal(recsys_users_writer_add(w, id, strlen(id), v, seen,
                                                 i % 3, err, sizeof(err)),
                         0);
    }

    assert_int_equal(recsys_users_writer_count(w), n);
    assert_int_equal(recsys_users_writer_write(w, path, err, sizeof(err)),
                     0);
    recsys_users_writer_destroy(w);
}


static int
test_users_mutated(const char *path, const void *data, size_t len,
    char *err, size_t errlen)
{
    int             rc;
    recsys_users_t  u;

    test_write_bytes(path, data, len);

    rc = recsys_users_open(&u, path, err, errlen);
    if (rc != 0) {
        return rc;
    }

    rc = recsys_users_verify(&u, err, errlen);
    recsys_users_close(&u);

    return rc;
}


static void
test_users_roundtrip(void **state)
{
    char             path[TEST_PATHLEN], id[32], err[RECSYS_ERRLEN];
    int64_t          row;
    uint32_t         i;
    test_tmp_t      *t;
    recsys_user_t    us;
    recsys_users_t   u;

    t = *state;
    test_path(t, "users.bin", path);
    test_write_users(path, 300);

    assert_int_equal(recsys_users_open(&u, path, err, sizeof(err)), 0);
    assert_int_equal(recsys_users_verify(&u, err, sizeof(err)), 0);
    assert_int_equal(u.count, 300);
    assert_int_equal(u.dimension, TEST_DIM);
    assert_int_equal(u.items, TEST_ITEMS);

    for (i = 0; i < 300; i++) {
        snprintf(id, sizeof(id), "user-%u", i);
        row = recsys_users_find(&u, id, strlen(id));
        assert_int_equal(row, i);

        recsys_users_get(&u, (uint32_t) row, &us);
        assert_int_equal(us.id_len, strlen(id));
        assert_memory_equal(us.id, id, us.id_len);
        assert_true(us.vector[0] == (float) i);
        assert_true(us.vector[3] == (float) (i + 3));

        switch (i % 3) {

        case 0:
            assert_int_equal(us.nseen, 0);
            break;

        case 1:
            assert_int_equal(us.nseen, 1);
            assert_int_equal(us.seen[0], (i + 7) % TEST_ITEMS);
            break;

        default:
            /* sorted; the repeat of (i + 7) % 20 is not in the first 2 */
            assert_int_equal(us.nseen, 2);
            assert_true(us.seen[0] < us.seen[1]);
            assert_true(us.seen[0] == i % 5
                        || us.seen[1] == i % 5);
        }
    }

    assert_int_equal(recsys_users_find(&u, "user-300", 8), -1);
    assert_int_equal(recsys_users_find(&u, "user-", 5), -1);
    assert_int_equal(recsys_users_find(&u, "", 0), -1);

    /* a row out of range gives an empty user */
    recsys_users_get(&u, 300, &us);
    assert_null(us.id);
    assert_int_equal(us.nseen, 0);

    recsys_users_close(&u);

    /* a closed (or never opened) reader finds nobody */
    assert_int_equal(recsys_users_find(&u, "user-1", 6), -1);
}


static void
test_users_empty(void **state)
{
    char            path[TEST_PATHLEN], err[RECSYS_ERRLEN];
    test_tmp_t     *t;
    recsys_users_t  u;

    t = *state;
    test_path(t, "users.bin", path);
    test_write_users(path, 0);

    assert_int_equal(recsys_users_open(&u, path, err, sizeof(err)), 0);
    assert_int_equal(recsys_users_verify(&u, err, sizeof(err)), 0);
    assert_int_equal(u.count, 0);
    assert_int_equal(recsys_users_find(&u, "a", 1), -1);
    recsys_users_close(&u);
}


static void
test_users_writer_errors(void **state)
{
    char                    err[RECSYS_ERRLEN], *longid;
    float                   v[TEST_DIM] = { 1, 2, 3, 4 };
    uint32_t                seen[2] = { 3, TEST_ITEMS };
    recsys_users_writer_t  *w;

    (void) state;

    assert_null(recsys_users_writer_create(0, 10));
    assert_null(recsys_users_writer_create(RECSYS_USERS_MAX_DIM + 1, 10));

    w = recsys_users_writer_create(TEST_DIM, TEST_ITEMS);
    assert_non_null(w);

    assert_int_equal(recsys_users_writer_add(w, "", 0, v, NULL, 0, err,
                                             sizeof(err)), -1);
    assert_string_equal(err, "empty user id");

    longid = malloc(RECSYS_USER_ID_MAX + 1);
    assert_non_null(longid);
    memset(longid, 'u', RECSYS_USER_ID_MAX + 1);
    assert_int_equal(recsys_users_writer_add(w, longid,
                                             RECSYS_USER_ID_MAX + 1, v,
                                             NULL, 0, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "id longer than 4096 bytes"));

    /* exactly the limit is fine */
    assert_int_equal(recsys_users_writer_add(w, longid, RECSYS_USER_ID_MAX,
                                             v, NULL, 0, err, sizeof(err)),
                     0);
    free(longid);

    assert_int_equal(recsys_users_writer_add(w, "a\0b", 3, v, NULL, 0, err,
                                             sizeof(err)), -1);
    assert_non_null(strstr(err, "NUL"));

    assert_int_equal(recsys_users_writer_add(w, "u1", 2, v, seen, 1, err,
                                             sizeof(err)), 0);
    assert_int_equal(recsys_users_writer_add(w, "u1", 2, v, NULL, 0, err,
                                             sizeof(err)), -1);
    assert_string_equal(err, "duplicate user id \"u1\"");

    assert_int_equal(recsys_users_writer_add(w, "u2", 2, v, seen, 2, err,
                                             sizeof(err)), -1);
    assert_string_equal(err, "user \"u2\": seen row 20 is not an item row "
                        "(20 items)");

    v[2] = NAN;
    assert_int_equal(recsys_users_writer_add(w, "u3", 2, v, NULL, 0, err,
                                             sizeof(err)), -1);
    assert_string_equal(err, "user \"u3\": vector[2] is not a finite "
                        "float32 number");

    v[2] = INFINITY;
    assert_int_equal(recsys_users_writer_add(w, "u3", 2, v, NULL, 0, err,
                                             sizeof(err)), -1);

    /* failed adds leave nothing behind */
    assert_int_equal(recsys_users_writer_count(w), 2);
    assert_int_equal(recsys_users_writer_find(w, "u1", 2), 1);
    assert_int_equal(recsys_users_writer_find(w, "u2", 2), -1);

    assert_int_equal(recsys_users_writer_write(w, "/nonexistent/users.bin",
                                               err, sizeof(err)), -1);
    assert_string_equal(err, "users.bin: open failed: No such file or "
                        "directory");

    recsys_users_writer_destroy(w);
    recsys_users_writer_destroy(NULL);
}


static void
test_users_corrupt(void **state)
{
    char                    good[TEST_PATHLEN], bad[TEST_PATHLEN];
    char                    err[RECSYS_ERRLEN];
    float                   f;
    size_t                  len, i, cut[] = { 0, 1, 8, 63, 64, 65, 0, 0 };
    uint8_t                *data, *copy;
    uint32_t                v;
    test_tmp_t             *t;
    recsys_user_rec_t       rec;
    recsys_users_header_t   h;

    t = *state;
    test_path(t, "good.bin", good);
    test_path(t, "users.bin", bad);
    test_write_users(good, 40);

    data = test_read_bytes(good, &len);
    copy = malloc(len);
    assert_non_null(copy);
    memcpy(&h, data, sizeof(h));

    cut[6] = len / 2;
    cut[7] = len - 1;

    for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
        assert_int_equal(test_users_mutated(bad, data, cut[i], err,
                                            sizeof(err)), -1);
        assert_non_null(strstr(err, "users.bin: truncated"));
    }

    assert_int_equal(test_users_mutated(bad, data, len, err, sizeof(err)), 0);

    memcpy(copy, data, len);
    copy[0] = 'X';
    assert_int_equal(test_users_mutated(bad, copy, len, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "users.bin: bad magic");

    memcpy(copy, data, len);
    v = 2;
    memcpy(copy + 8, &v, 4);
    assert_int_equal(test_users_mutated(bad, copy, len, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "users.bin: unsupported version 2");

    /* hash slots (offset 20) not a power of two, or not above count */
    memcpy(copy, data, len);
    v = 129;
    memcpy(copy + 20, &v, 4);
    assert_int_equal(test_users_mutated(bad, copy, len, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "hash table"));

    memcpy(copy, data, len);
    v = 32;
    memcpy(copy + 20, &v, 4);
    assert_int_equal(test_users_mutated(bad, copy, len, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "hash table"));

    /* each section offset (28..47) past the end, or into the header */
    for (i = 28; i < 48; i += 4) {
        memcpy(copy, data, len);
        v = 0xffffffff;
        memcpy(copy + i, &v, 4);
        assert_int_equal(test_users_mutated(bad, copy, len, err,
                                            sizeof(err)), -1);
        assert_non_null(strstr(err, "truncated"));

        memcpy(copy, data, len);
        v = 0;
        memcpy(copy + i, &v, 4);
        assert_int_equal(test_users_mutated(bad, copy, len, err,
                                            sizeof(err)), -1);
        assert_non_null(strstr(err, "overlaps the header"));
    }

    /* a hash slot naming a row past count */
    memcpy(copy, data, len);
    v = 41;
    memcpy(copy + (size_t) h.hash_off * 8 + 4, &v, 4);
    assert_int_equal(test_users_mutated(bad, copy, len, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "users.bin: hash slot 1: row out of range");

    /* the hash emptied: every user is lost */
    memcpy(copy, data, len);
    memset(copy + (size_t) h.hash_off * 8, 0, (size_t) h.hash_slots * 4);
    assert_int_equal(test_users_mutated(bad, copy, len, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "users.bin: user 0: not found by its id");

    /* user 1's id past the pool; then its NUL overwritten */
    memcpy(copy, data, len);
    memcpy(&rec, copy + (size_t) h.records_off * 8 + sizeof(rec), sizeof(rec));
    rec.id_off = h.strings_size;
    memcpy(copy + (size_t) h.records_off * 8 + sizeof(rec), &rec, sizeof(rec));
    assert_int_equal(test_users_mutated(bad, copy, len, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "users.bin: user 1: id outside the pool");

    memcpy(copy, data, len);
    memcpy(&rec, copy + (size_t) h.records_off * 8 + sizeof(rec), sizeof(rec));
    copy[(size_t) h.strings_off * 8 + rec.id_off + rec.id_len] = 'x';
    assert_int_equal(test_users_mutated(bad, copy, len, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "users.bin: user 1: id outside the pool");

    /* a vector component made NaN */
    memcpy(copy, data, len);
    f = NAN;
    memcpy(copy + (size_t) h.vectors_off * 8 + 5 * 4, &f, 4);
    assert_int_equal(test_users_mutated(bad, copy, len, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "users.bin: user 1: vector[1] is not finite");

    /* user 2 has seen 2 rows: the first made an item row past the end */
    memcpy(copy, data, len);
    memcpy(&rec, copy + (size_t) h.records_off * 8 + 2 * sizeof(rec),
           sizeof(rec));
    assert_int_equal(rec.nseen, 2);
    v = TEST_ITEMS;
    memcpy(copy + (size_t) h.seen_off * 8 + rec.seen_start * 4, &v, 4);
    assert_int_equal(test_users_mutated(bad, copy, len, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "users.bin: user 2: seen row 20 is no item or "
                        "out of order");

    /* ... and its two rows swapped */
    memcpy(copy, data, len);
    memcpy(copy + (size_t) h.seen_off * 8 + rec.seen_start * 4,
           data + (size_t) h.seen_off * 8 + (rec.seen_start + 1) * 4, 4);
    memcpy(copy + (size_t) h.seen_off * 8 + (rec.seen_start + 1) * 4,
           data + (size_t) h.seen_off * 8 + rec.seen_start * 4, 4);
    assert_int_equal(test_users_mutated(bad, copy, len, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "out of order"));

    /* ... and its run moved past the section */
    memcpy(copy, data, len);
    rec.seen_start = h.nseen - 1;
    memcpy(copy + (size_t) h.records_off * 8 + 2 * sizeof(rec), &rec,
           sizeof(rec));
    assert_int_equal(test_users_mutated(bad, copy, len, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "users.bin: user 2: seen rows out of the "
                        "section");

    /* every single byte flipped: refused or still sound, never a crash */
    for (i = 0; i < len; i++) {
        memcpy(copy, data, len);
        copy[i] ^= 0x5a;
        (void) test_users_mutated(bad, copy, len, err, sizeof(err));
    }

    free(copy);
    free(data);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_users_roundtrip, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_users_empty, test_setup,
                                        test_teardown),
        cmocka_unit_test(test_users_writer_errors),
        cmocka_unit_test_setup_teardown(test_users_corrupt, test_setup,
                                        test_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
