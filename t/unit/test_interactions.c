/*
 * Unit tests for recsys_interactions.c and recsys_idmap.c: duplicate
 * events under each merge rule, unknown and out-of-range ids, invalid
 * weights, cancelling events, CSR/CSC agreement, bad arguments, the id
 * dictionary and its table fill.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_idmap.h"
#include "recsys_interactions.h"
#include "recsys_items.h"


static void build(recsys_matrix_t *m, uint32_t nu, uint32_t ni,
    const recsys_event_t *ev, size_t n, int merge,
    recsys_matrix_stats_t *st);
static void check_columns(const recsys_matrix_t *m);
static const char *fill_id(const void *data, uint32_t i, size_t *len);


static void
build(recsys_matrix_t *m, uint32_t nu, uint32_t ni, const recsys_event_t *ev,
    size_t n, int merge, recsys_matrix_stats_t *st)
{
    char  err[256];

    err[0] = '\0';
    assert_int_equal(recsys_matrix_build(m, nu, ni, ev, n, merge, st, err,
                                         sizeof(err)), 0);
    assert_string_equal(err, "");
    check_columns(m);
}


/* every CSR entry is in CSC with the same weight, and the reverse */
static void
check_columns(const recsys_matrix_t *m)
{
    uint32_t  u, i;
    uint64_t  j, k, found;

    assert_int_equal(m->user_ptr[m->nusers], m->nnz);
    assert_int_equal(m->item_ptr[m->nitems], m->nnz);

    for (u = 0; u < m->nusers; u++) {
        for (j = m->user_ptr[u]; j < m->user_ptr[u + 1]; j++) {
            if (j > m->user_ptr[u]) {
                assert_true(m->user_items[j - 1] < m->user_items[j]);
            }

            i = m->user_items[j];
            found = 0;

            for (k = m->item_ptr[i]; k < m->item_ptr[i + 1]; k++) {
                if (k > m->item_ptr[i]) {
                    assert_true(m->item_users[k - 1] < m->item_users[k]);
                }

                if (m->item_users[k] == u) {
                    assert_true(m->item_weights[k] == m->user_weights[j]);
                    found++;
                }
            }

            assert_int_equal(found, 1);
        }
    }
}


static void
test_merge_rules(void **state)
{
    recsys_matrix_t        m;
    recsys_matrix_stats_t  st;
    recsys_event_t         ev[] = {
        { 1, 2, 1.0f, 100 },
        { 0, 0, 2.0f, 50 },
        { 1, 2, 4.0f, 300 },
        { 1, 2, 2.0f, 200 },
        { 1, 0, 1.0f, 10 },
        { 1, 2, 3.0f, 300 },     /* same ts as the 4.0: later in input */
    };

    (void) state;

    build(&m, 2, 3, ev, 6, RECSYS_MERGE_SUM, &st);
    assert_int_equal(m.nnz, 3);
    assert_int_equal(st.events, 6);
    assert_int_equal(st.merged, 3);
    assert_int_equal(st.unknown, 0);
    assert_int_equal(m.user_ptr[1], 1);
    assert_int_equal(m.user_items[0], 0);
    assert_true(m.user_weights[0] == 2.0f);
    assert_int_equal(m.user_items[1], 0);
    assert_int_equal(m.user_items[2], 2);
    assert_true(m.user_weights[2] == 10.0f);
    assert_int_equal(m.user_ts[2], 300);
    assert_int_equal(m.user_ts[1], 10);
    recsys_matrix_free(&m);

    build(&m, 2, 3, ev, 6, RECSYS_MERGE_MAX, &st);
    assert_true(m.user_weights[2] == 4.0f);
    recsys_matrix_free(&m);

    build(&m, 2, 3, ev, 6, RECSYS_MERGE_LAST, &st);
    assert_true(m.user_weights[2] == 3.0f);
    assert_int_equal(m.user_ts[2], 300);
    recsys_matrix_free(&m);
}


static void
test_unknown_and_invalid(void **state)
{
    recsys_matrix_t        m;
    recsys_matrix_stats_t  st;
    recsys_event_t         ev[] = {
        { RECSYS_ROW_NONE, 0, 1.0f, 1 },
        { 0, RECSYS_ROW_NONE, 1.0f, 1 },
        { 5, 0, 1.0f, 1 },              /* user out of range */
        { 0, 3, 1.0f, 1 },              /* item out of range */
        { 0, 1, NAN, 1 },
        { 0, 1, INFINITY, 1 },
        { 0, 2, 1.0f, 1 },
    };

    (void) state;

    build(&m, 2, 3, ev, 7, RECSYS_MERGE_SUM, &st);
    assert_int_equal(st.unknown, 4);
    assert_int_equal(st.invalid, 2);
    assert_int_equal(m.nnz, 1);
    assert_int_equal(m.user_items[0], 2);
    assert_int_equal(m.user_ptr[2], 1);
    assert_int_equal(m.item_ptr[2], 0);
    assert_int_equal(m.item_ptr[3], 1);
    recsys_matrix_free(&m);
}


static void
test_cancel_and_drop(void **state)
{
    recsys_matrix_t        m;
    recsys_matrix_stats_t  st;
    recsys_event_t         ev[] = {
        { 0, 0, 1.0f, 1 },
        { 0, 0, -1.0f, 2 },             /* cancels the click */
        { 0, 1, -2.0f, 3 },             /* a dislike alone */
        { 0, 2, 0.0f, 4 },
        { 1, 1, 0.5f, 5 },
    };

    (void) state;

    build(&m, 2, 3, ev, 5, RECSYS_MERGE_SUM, &st);
    assert_int_equal(st.dropped, 3);
    assert_int_equal(st.merged, 1);
    assert_int_equal(m.nnz, 1);
    assert_int_equal(m.user_ptr[1], 0);
    assert_int_equal(m.user_items[0], 1);
    recsys_matrix_free(&m);

    /* under LAST the later dislike wins as well; under MAX the click */

    build(&m, 2, 3, ev, 5, RECSYS_MERGE_MAX, &st);
    assert_int_equal(m.nnz, 2);
    assert_int_equal(m.user_items[0], 0);
    recsys_matrix_free(&m);
}


static void
test_bad_arguments(void **state)
{
    char             err[256];
    recsys_matrix_t  m;
    recsys_event_t   ev = { 0, 0, 1.0f, 0 };

    (void) state;

    assert_int_equal(recsys_matrix_build(&m, 0, 3, &ev, 1, RECSYS_MERGE_SUM,
                                         NULL, err, sizeof(err)), -1);
    assert_string_equal(err, "interactions: no users");
    assert_null(m.user_ptr);

    assert_int_equal(recsys_matrix_build(&m, 3, 0, &ev, 1, RECSYS_MERGE_SUM,
                                         NULL, err, sizeof(err)), -1);
    assert_string_equal(err, "interactions: no items");

    assert_int_equal(recsys_matrix_build(&m, 3, 3, &ev, 1, 7, NULL, err,
                                         sizeof(err)), -1);
    assert_string_equal(err, "interactions: unknown merge rule 7");
}


static void
test_empty_and_roundtrip(void **state)
{
    recsys_matrix_t   m, m2;
    recsys_event_t   *back;
    recsys_event_t    ev[] = {
        { 2, 1, 1.5f, 7 },
        { 0, 3, 2.0f, 8 },
        { 2, 0, 1.0f, 9 },
    };

    (void) state;

    build(&m, 4, 5, NULL, 0, RECSYS_MERGE_SUM, NULL);
    assert_int_equal(m.nnz, 0);
    assert_int_equal(m.user_ptr[4], 0);
    assert_int_equal(m.item_ptr[5], 0);
    recsys_matrix_free(&m);

    build(&m, 4, 5, ev, 3, RECSYS_MERGE_SUM, NULL);
    back = recsys_matrix_events(&m);
    assert_non_null(back);
    assert_int_equal(back[0].user, 0);
    assert_int_equal(back[0].item, 3);
    assert_int_equal(back[2].item, 1);
    assert_int_equal(back[2].ts, 7);

    build(&m2, 4, 5, back, m.nnz, RECSYS_MERGE_SUM, NULL);
    assert_int_equal(m2.nnz, m.nnz);
    assert_memory_equal(m2.user_items, m.user_items, m.nnz * 4);
    assert_memory_equal(m2.user_weights, m.user_weights, m.nnz * 4);
    assert_memory_equal(m2.item_users, m.item_users, m.nnz * 4);

    free(back);
    recsys_matrix_free(&m);
    recsys_matrix_free(&m2);
}


static void
test_idmap(void **state)
{
    int              i;
    char             id[32];
    size_t           len;
    const char      *p;
    recsys_idmap_t  *map;

    (void) state;

    map = recsys_idmap_create();
    assert_non_null(map);

    assert_int_equal(recsys_idmap_add(map, "u1", 2), 0);
    assert_int_equal(recsys_idmap_add(map, "u2", 2), 1);
    assert_int_equal(recsys_idmap_add(map, "u1", 2), 0);
    assert_int_equal(recsys_idmap_add(map, "u", 1), 2);
    assert_int_equal(recsys_idmap_find(map, "u2", 2), 1);
    assert_int_equal(recsys_idmap_find(map, "u3", 2), -1);
    assert_int_equal(recsys_idmap_find(map, "u12", 2), 0);  /* a prefix */
    assert_int_equal(recsys_idmap_count(map), 3);

    /* growth past the first table and arena */

    for (i = 0; i < 20000; i++) {
        len = (size_t) snprintf(id, sizeof(id), "item-%d", i);
        assert_int_equal(recsys_idmap_add(map, id, len), i + 3);
    }

    for (i = 0; i < 20000; i += 997) {
        len = (size_t) snprintf(id, sizeof(id), "item-%d", i);
        assert_int_equal(recsys_idmap_find(map, id, len), i + 3);
        p = recsys_idmap_id(map, (uint32_t) i + 3, &len);
        assert_int_equal(len, strlen(id));
        assert_memory_equal(p, id, len);
    }

    assert_int_equal(recsys_idmap_find(map, "u2", 2), 1);
    assert_int_equal(recsys_idmap_count(map), 20003);

    recsys_idmap_destroy(map);
}


static const char *
fill_id(const void *data, uint32_t i, size_t *len)
{
    const char * const  *ids = data;

    *len = strlen(ids[i]);

    return ids[i];
}


/* three ids that all hash to the last of 8 slots wrap around to 0 and 1 */
static void
test_idmap_fill(void **state)
{
    int          k, n;
    char         names[3][16];
    size_t       len;
    uint32_t     slots[8], v, *big;
    uint64_t     s, mask;
    const char  *ids[4];

    (void) state;

    n = 0;

    for (k = 0; n < 3; k++) {
        len = (size_t) snprintf(names[n], sizeof(names[n]), "k%d", k);

        if ((recsys_id_hash(names[n], len) & 7) == 7) {
            ids[n] = names[n];
            n++;
        }
    }

    ids[3] = "other";

    memset(slots, 0, sizeof(slots));
    recsys_idmap_fill(slots, 7, 4, fill_id, ids);

    assert_int_equal(slots[7], 1);
    assert_int_equal(slots[0], 2);
    assert_int_equal(slots[1], 3);

    /* every row is where a lookup probing from its hash finds it */

    for (k = 0, n = 0; k < 8; k++) {
        n += slots[k] != 0;
    }

    assert_int_equal(n, 4);

    for (v = 0; v < 4; v++) {
        s = recsys_id_hash(ids[v], strlen(ids[v])) & 7;

        while (slots[s] != 0 && slots[s] != v + 1) {
            s = (s + 1) & 7;
        }

        assert_int_equal(slots[s], v + 1);
        assert_int_equal(recsys_idmap_probe(slots, 7, ids[v], strlen(ids[v]),
                                            fill_id, ids, &s), v);
        assert_int_equal(slots[s], v + 1);
    }

    /* an id not there: -1 and an empty slot; a doubled table finds all */

    assert_int_equal(recsys_idmap_probe(slots, 7, "nope", 4, fill_id, ids,
                                        &s), -1);
    assert_int_equal(slots[s], 0);

    big = calloc(8, sizeof(uint32_t));
    assert_non_null(big);
    memcpy(big, slots, sizeof(slots));
    mask = 7;
    assert_int_equal(recsys_idmap_double(&big, &mask, 4, fill_id, ids), 0);
    assert_int_equal(mask, 15);

    for (v = 0; v < 4; v++) {
        assert_int_equal(recsys_idmap_probe(big, 15, ids[v], strlen(ids[v]),
                                            fill_id, ids, &s), v);
    }

    free(big);

    /* no rows: the table stays empty */

    memset(slots, 0, sizeof(slots));
    recsys_idmap_fill(slots, 7, 0, fill_id, ids);

    for (k = 0; k < 8; k++) {
        assert_int_equal(slots[k], 0);
    }
}


/* appended events keep their order across the array's growth */
static void
test_events_append(void **state)
{
    size_t           n, cap, i;
    recsys_event_t   ev, *events;

    (void) state;

    events = NULL;
    n = 0;
    cap = 0;

    for (i = 0; i < 10000; i++) {
        ev.user = (uint32_t) i;
        ev.item = (uint32_t) (i * 7);
        ev.weight = 1.0f;
        ev.ts = (int64_t) i;
        assert_int_equal(recsys_events_append(&events, &n, &cap, &ev), 0);
    }

    assert_int_equal(n, 10000);
    assert_true(cap >= n);

    for (i = 0; i < n; i++) {
        assert_int_equal(events[i].user, i);
        assert_int_equal(events[i].item, i * 7);
    }

    free(events);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_rules),
        cmocka_unit_test(test_unknown_and_invalid),
        cmocka_unit_test(test_cancel_and_drop),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_empty_and_roundtrip),
        cmocka_unit_test(test_idmap),
        cmocka_unit_test(test_idmap_fill),
        cmocka_unit_test(test_events_append),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
