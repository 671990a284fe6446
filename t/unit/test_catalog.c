/*
 * Unit tests for recsys_catalog.c: YAML schema, error positions,
 * environment interpolation, path resolution, factory strings.
 */

#define _GNU_SOURCE

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recsys_artifact.h"
#include "recsys_catalog.h"
#include "recsys_files.h"


#define TEST_VALID_SOURCE  "source:\n  type: file\n  path: /data/items.jsonl\n"


static char  test_dir[] = "/tmp/recsys_catalog_XXXXXX";
static char  test_real[PATH_MAX];


static const char *
test_write(const char *name, const char *text)
{
    FILE         *f;
    static char   path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", test_dir, name);

    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);

    return path;
}


/* loads text and checks the error is exactly "<file>:" + expect */

static void
test_error(const char *text, const char *expect)
{
    char               err[RECSYS_CATALOG_ERRLEN], want[1024];
    const char        *path;
    recsys_catalog_t  *c;

    path = test_write("cat.yaml", text);
    snprintf(want, sizeof(want), "%s:%s", path, expect);

    err[0] = '\0';
    c = recsys_catalog_load(path, err, sizeof(err));
    assert_null(c);
    assert_string_equal(err, want);
}


static recsys_catalog_t *
test_load(const char *text)
{
    char               err[RECSYS_CATALOG_ERRLEN];
    const char        *path;
    recsys_catalog_t  *c;

    path = test_write("cat.yaml", text);

    err[0] = '\0';
    c = recsys_catalog_load(path, err, sizeof(err));
    if (c == NULL) {
        fail_msg("unexpected error: %s", err);
    }

    return c;
}


static int
test_setup(void **state)
{
    (void) state;

    if (mkdtemp(test_dir) == NULL || realpath(test_dir, test_real) == NULL) {
        return -1;
    }

    return 0;
}


static int
test_teardown(void **state)
{
    char  err[RECSYS_ERRLEN];

    (void) state;

    return recsys_remove_tree(test_dir, err, sizeof(err));
}


static void
test_valid_full(void **state)
{
    recsys_catalog_t  *c;

    (void) state;

    c = test_load("# demo catalog\n"
                  "source:\n"
                  "  type: file\n"
                  "  path: /srv/items.jsonl\n"
                  "index:\n"
                  "  path: /var/lib/recsys/demo\n"
                  "  dimension: 64\n"
                  "  metric: l2\n"
                  "  factory: IVF256,PQ16x8\n"
                  "  nprobe: 32\n"
                  "  keep: 5\n"
                  "  neighbors: 64\n");

    assert_int_equal(c->source.type, RECSYS_SOURCE_FILE);
    assert_string_equal(c->source.path, "/srv/items.jsonl");
    assert_string_equal(c->index.path, "/var/lib/recsys/demo");
    assert_int_equal(c->index.dimension, 64);
    assert_int_equal(c->index.metric, RECSYS_METRIC_L2);
    assert_string_equal(c->index.factory, "IVF256,PQ16x8");
    assert_int_equal(c->index.nprobe, 32);
    assert_int_equal(c->index.keep, 5);
    assert_int_equal(c->index.neighbors, 64);
    assert_non_null(strstr(c->file, "cat.yaml"));

    recsys_catalog_free(c);

    /* flow style, quoted values, bounds inclusive, other metric names */

    c = test_load("{source: {path: '/a'}, index: {path: \"/b\","
                  " dimension: \"4096\", metric: inner_product,"
                  " nprobe: 65536, keep: 100, neighbors: 1000}}\n");

    assert_int_equal(c->index.dimension, 4096);
    assert_int_equal(c->index.metric, RECSYS_METRIC_INNER_PRODUCT);
    assert_int_equal(c->index.nprobe, 65536);
    assert_int_equal(c->index.keep, 100);
    assert_int_equal(c->index.neighbors, 1000);

    recsys_catalog_free(c);

    /* 0 turns precomputed neighbors off */

    c = test_load("{source: {path: '/a'}, index: {path: /b, dimension: 2,"
                  " neighbors: 0}}\n");

    assert_int_equal(c->index.neighbors, 0);

    recsys_catalog_free(c);
}


static void
test_defaults(void **state)
{
    recsys_catalog_t  *c;

    (void) state;

    c = test_load("source:\n"
                  "  path: /srv/items.jsonl\n"
                  "index:\n"
                  "  path: /idx\n"
                  "  dimension: 1\n");

    assert_int_equal(c->source.type, RECSYS_SOURCE_FILE);
    assert_int_equal(c->index.dimension, 1);
    assert_int_equal(c->index.metric, RECSYS_METRIC_COSINE);
    assert_string_equal(c->index.factory, "auto");
    assert_int_equal(c->index.nprobe, 16);
    assert_int_equal(c->index.keep, 3);
    assert_int_equal(c->index.neighbors, 32);

    recsys_catalog_free(c);
}


static void
test_relative_paths(void **state)
{
    char               err[RECSYS_CATALOG_ERRLEN], want[PATH_MAX + 64];
    char               cwd[PATH_MAX], sub[PATH_MAX];
    recsys_catalog_t  *c;

    (void) state;

    c = test_load("source:\n"
                  "  path: items.jsonl\n"
                  "index:\n"
                  "  path: idx/demo\n"
                  "  dimension: 8\n");

    snprintf(want, sizeof(want), "%s/items.jsonl", test_real);
    assert_string_equal(c->source.path, want);
    snprintf(want, sizeof(want), "%s/idx/demo", test_real);
    assert_string_equal(c->index.path, want);

    recsys_catalog_free(c);

    /* a file in a subdirectory, reached through "..", loaded by a
     * relative name from another working directory */

    snprintf(sub, sizeof(sub), "%s/conf", test_dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    test_write("conf/cat.yaml", "source:\n"
                                "  path: ../data/items.jsonl\n"
                                "index:\n"
                                "  path: /abs/idx\n"
                                "  dimension: 8\n");

    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(sub), 0);

    c = recsys_catalog_load("cat.yaml", err, sizeof(err));
    assert_non_null(c);
    snprintf(want, sizeof(want), "%s/conf/../data/items.jsonl", test_real);
    assert_string_equal(c->source.path, want);
    assert_string_equal(c->index.path, "/abs/idx");
    assert_string_equal(c->file, "cat.yaml");
    recsys_catalog_free(c);

    assert_int_equal(chdir(test_dir), 0);

    c = recsys_catalog_load("conf/../conf/cat.yaml", err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(c->source.path, want);
    recsys_catalog_free(c);

    assert_int_equal(chdir(cwd), 0);
}


static void
test_unknown_key(void **state)
{
    (void) state;

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: /idx\n"
               "  dimension: 64\n"
               "  foo: 1\n",
               "7:3: unknown key \"foo\" in \"index\", expected one of:"
               " path, dimension, metric, factory, nprobe, keep,"
               " neighbors");

    test_error("sources:\n  path: x\n",
               "1:1: unknown key \"sources\" at top level, expected one"
               " of: source, users, index, maintenance, events, ranking,"
               " model");

    test_error("source:\n  path: /x\n  dsn: postgres://\n",
               "3:3: \"dsn\" is only valid with type postgresql");

    test_error("source:\n  path: /x\n  host: db\n",
               "3:3: unknown key \"host\" in \"source\", expected one of:"
               " type, path, dsn, table, query, batch_size");

    test_error("? [a]\n: b\n",
               "1:3: key at top level must be a scalar, got a sequence");
}


static void
test_wrong_type(void **state)
{
    char          text[256], want[256];
    size_t        i;
    const char   *bad[] = {
        "abc", "12abc", "1.5", "1e3", "true", "false", "-1", "+5", "0x10",
        "016", "\"\"", "' 64'", "6 4"
    };

    (void) state;

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: /idx\n"
               "  dimension: abc\n",
               "6:14: \"dimension\" must be an integer, got \"abc\"");

    /* the quoted value cannot end the message's quotes early */
    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: /idx\n"
               "  dimension: '6\"4'\n",
               "6:14: \"dimension\" must be an integer, got \"6?4\"");

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), TEST_VALID_SOURCE
                 "index:\n  path: /idx\n  dimension: 8\n  nprobe: %s\n",
                 bad[i]);

        if (bad[i][0] == '"' || bad[i][0] == '\'') {
            snprintf(want, sizeof(want), "7:11: \"nprobe\" must be an"
                     " integer, got \"%.*s\"", (int) strlen(bad[i]) - 2,
                     bad[i] + 1);
        } else {
            snprintf(want, sizeof(want), "7:11: \"nprobe\" must be an"
                     " integer, got \"%s\"", bad[i]);
        }

        test_error(text, want);
    }

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: /idx\n"
               "  dimension: [64]\n",
               "6:14: \"dimension\" must be an integer, got a sequence");

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: /idx\n"
               "  dimension:\n",
               "6:13: \"dimension\" must be an integer, got null");

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: ~\n"
               "  dimension: 8\n",
               "5:9: \"path\" must be a path, got null");

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: {a: b}\n"
               "  dimension: 8\n",
               "5:9: \"path\" must be a path, got a mapping");

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: ''\n"
               "  dimension: 8\n",
               "5:9: \"path\" must not be empty");

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: \"/a\\0b\"\n"
               "  dimension: 8\n",
               "5:9: \"path\" must not contain a NUL character");

    test_error("source: file\n",
               "1:9: \"source\" must be a mapping, got \"file\"");

    test_error(TEST_VALID_SOURCE "index: [1, 2]\n",
               "4:8: \"index\" must be a mapping, got a sequence");
}


static void
test_out_of_range(void **state)
{
    (void) state;

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: /idx\n"
               "  dimension: 0\n",
               "6:14: \"dimension\" must be between 1 and 4096, got 0");

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: /idx\n"
               "  dimension: 4097\n",
               "6:14: \"dimension\" must be between 1 and 4096, got 4097");

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: /idx\n"
               "  dimension: 99999999999999999999999\n",
               "6:14: \"dimension\" must be between 1 and 4096,"
               " got 99999999999999999999999");

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: /idx\n"
               "  dimension: 4294967360\n",
               "6:14: \"dimension\" must be between 1 and 4096,"
               " got 4294967360");

    test_error(TEST_VALID_SOURCE
               "index: {path: /idx, dimension: 8, nprobe: 65537}\n",
               "4:43: \"nprobe\" must be between 1 and 65536, got 65537");

    test_error(TEST_VALID_SOURCE
               "index: {path: /idx, dimension: 8, keep: 0}\n",
               "4:41: \"keep\" must be between 1 and 100, got 0");

    test_error(TEST_VALID_SOURCE
               "index: {path: /idx, dimension: 8, keep: 101}\n",
               "4:41: \"keep\" must be between 1 and 100, got 101");

    test_error(TEST_VALID_SOURCE
               "index: {path: /idx, dimension: 8, neighbors: 1001}\n",
               "4:46: \"neighbors\" must be between 0 and 1000, got 1001");

    test_error(TEST_VALID_SOURCE
               "index: {path: /idx, dimension: 8, neighbors: -1}\n",
               "4:46: \"neighbors\" must be an integer, got \"-1\"");
}


static void
test_bad_enum(void **state)
{
    (void) state;

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: /idx\n"
               "  dimension: 8\n"
               "  metric: dot\n",
               "7:11: \"metric\" must be one of inner_product, l2, cosine,"
               " got \"dot\"");

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: /idx\n"
               "  dimension: 8\n"
               "  metric: Cosine\n",
               "7:11: \"metric\" must be one of inner_product, l2, cosine,"
               " got \"Cosine\"");

    test_error("source:\n  type: csv\n  path: /x\n",
               "2:9: \"type\" must be one of file, postgresql, got \"csv\"");

    test_error("source:\n  type: postgresql\n",
               "2:3: missing required key \"dsn\" in \"source\"");
}


static void
test_missing_key(void **state)
{
    (void) state;

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: /idx\n"
               "  metric: l2\n",
               "5:3: missing required key \"dimension\" in \"index\"");

    test_error(TEST_VALID_SOURCE
               "index: {dimension: 8}\n",
               "4:8: missing required key \"path\" in \"index\"");

    test_error(TEST_VALID_SOURCE,
               "1:1: missing required key \"index\" at top level");

    test_error("index: {path: /idx, dimension: 8}\n",
               "1:1: missing required key \"source\" at top level");

    test_error("source:\n  type: file\n"
               "index: {path: /idx, dimension: 8}\n",
               "2:3: missing required key \"path\" in \"source\"");

    test_error("source: {}\n"
               "index: {path: /idx, dimension: 8}\n",
               "1:9: missing required key \"path\" in \"source\"");
}


static void
test_duplicate_key(void **state)
{
    (void) state;

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: /idx\n"
               "  dimension: 8\n"
               "  dimension: 16\n",
               "7:3: duplicate key \"dimension\" in \"index\", first at 6:3");

    test_error(TEST_VALID_SOURCE TEST_VALID_SOURCE,
               "4:1: duplicate key \"source\" at top level, first at 1:1");
}


static void
test_syntax_error(void **state)
{
    (void) state;

    test_error("source:\n  path: [a\n",
               "3:1: did not find expected ',' or ']' (while parsing a flow"
               " sequence at 2:9)");

    test_error("source:\n  path: /x\n index: 1\n",
               "3:2: did not find expected key (while parsing a block"
               " mapping at 1:1)");

    test_error("source:\n  path: \"abc\n",
               "3:1: found unexpected end of stream (while scanning a"
               " quoted scalar at 2:9)");

    test_error("source:\n  path: *nope\n",
               "2:9: found undefined alias");

    test_error("source:\n  path: \xc3\x28\n",
               "2:10: invalid trailing UTF-8 octet (byte 0x28)");
}


static void
test_not_mapping(void **state)
{
    (void) state;

    test_error("- source\n- index\n",
               "1:1: top level must be a mapping (keys: source, users,"
               " index, maintenance, events, ranking, model), got a"
               " sequence");

    test_error("hello\n",
               "1:1: top level must be a mapping (keys: source, users,"
               " index, maintenance, events, ranking, model), got \"hello\"");

    test_error("",
               "1:1: top level must be a mapping (keys: source, users,"
               " index, maintenance, events, ranking, model), got an empty"
               " document");

    test_error("# only a comment\n",
               "1:1: top level must be a mapping (keys: source, users,"
               " index, maintenance, events, ranking, model), got an empty"
               " document");

    test_error(TEST_VALID_SOURCE "---\nindex: {}\n",
               "5:1: only one YAML document is allowed");
}


static void
test_cannot_open(void **state)
{
    char               err[RECSYS_CATALOG_ERRLEN], path[PATH_MAX];
    char               want[PATH_MAX + 64];
    recsys_catalog_t  *c;

    (void) state;

    snprintf(path, sizeof(path), "%s/missing.yaml", test_dir);
    snprintf(want, sizeof(want), "%s: cannot open: No such file or"
             " directory", path);

    c = recsys_catalog_load(path, err, sizeof(err));
    assert_null(c);
    assert_string_equal(err, want);

    /* a directory opens but cannot be read */

    c = recsys_catalog_load(test_dir, err, sizeof(err));
    assert_null(c);
    assert_non_null(strstr(err, ": cannot read: Is a directory"));

    /* a short buffer is truncated, never overrun */

    memset(err, 'x', sizeof(err));
    c = recsys_catalog_load(path, err, 8);
    assert_null(c);
    assert_int_equal(strlen(err), 7);
    assert_int_equal(err[8], 'x');

    recsys_catalog_free(NULL);
}


/* index.path leaves room for every name appended to it (issue 9 #14) */

static void
test_index_path_bound(void **state)
{
    char               text[RECSYS_INDEX_PATH_MAX + 256];
    char               dir[RECSYS_INDEX_PATH_MAX + 2];
    char               err[RECSYS_CATALOG_ERRLEN];
    const char        *path;
    recsys_catalog_t  *c;

    (void) state;

    /* exactly RECSYS_INDEX_PATH_MAX bytes: accepted */
    memset(dir, 'd', sizeof(dir));
    dir[0] = '/';
    dir[RECSYS_INDEX_PATH_MAX] = '\0';

    snprintf(text, sizeof(text), TEST_VALID_SOURCE
             "index: {path: %s, dimension: 4}\n", dir);
    c = test_load(text);
    assert_int_equal(strlen(c->index.path), RECSYS_INDEX_PATH_MAX);
    recsys_catalog_free(c);

    /* one more: refused, with the start of the value */
    dir[RECSYS_INDEX_PATH_MAX] = 'd';
    dir[RECSYS_INDEX_PATH_MAX + 1] = '\0';

    snprintf(text, sizeof(text), TEST_VALID_SOURCE
             "index: {path: %s, dimension: 4}\n", dir);
    path = test_write("cat.yaml", text);
    c = recsys_catalog_load(path, err, sizeof(err));
    assert_null(c);
    assert_non_null(strstr(err, ":4:15: \"path\" \"/dddd"));
    assert_non_null(strstr(err, "...\" is longer than 3840 bytes"));

    /* a relative one counts once resolved */
    snprintf(text, sizeof(text), TEST_VALID_SOURCE
             "index: {path: %s, dimension: 4}\n",
             dir + 1 + strlen(test_real));
    path = test_write("cat.yaml", text);
    c = recsys_catalog_load(path, err, sizeof(err));
    assert_null(c);
    assert_non_null(strstr(err, "is longer than 3840 bytes"));
}


static void
test_factory_in_yaml(void **state)
{
    recsys_catalog_t  *c;

    (void) state;

    c = test_load(TEST_VALID_SOURCE
                  "index: {path: /i, dimension: 8, factory: 'IVF1,Flat'}\n");
    assert_string_equal(c->index.factory, "IVF1,Flat");
    recsys_catalog_free(c);

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: /idx\n"
               "  dimension: 8\n"
               "  factory: HNSW32\n",
               "7:12: \"factory\" must be \"auto\" or IVF<nlist>,<codec> with"
               " codec Flat, SQ8, SQ4, SQfp16, PQ<m> or PQ<m>x<nbits>,"
               " got \"HNSW32\"");
}


static void
test_interpolate_yaml(void **state)
{
    recsys_catalog_t  *c;

    (void) state;

    setenv("RECSYS_TEST_DIM", "128", 1);
    setenv("RECSYS_TEST_DIR", "/var/lib/recsys", 1);
    unsetenv("RECSYS_TEST_UNSET");

    c = test_load("source:\n"
                  "  path: ${RECSYS_TEST_DIR}/items.jsonl\n"
                  "index:\n"
                  "  path: ${RECSYS_TEST_DIR}/demo\n"
                  "  dimension: ${RECSYS_TEST_DIM}\n"
                  "  nprobe: ${RECSYS_TEST_UNSET:-24}\n"
                  "  metric: ${RECSYS_TEST_UNSET:-l2}\n"
                  "  factory: IVF${RECSYS_TEST_UNSET:-64},Flat\n");

    assert_string_equal(c->source.path, "/var/lib/recsys/items.jsonl");
    assert_string_equal(c->index.path, "/var/lib/recsys/demo");
    assert_int_equal(c->index.dimension, 128);
    assert_int_equal(c->index.nprobe, 24);
    assert_int_equal(c->index.metric, RECSYS_METRIC_L2);
    assert_string_equal(c->index.factory, "IVF64,Flat");

    recsys_catalog_free(c);

    /* the type is checked after interpolation */

    setenv("RECSYS_TEST_DIM", "6x4", 1);

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: /idx\n"
               "  dimension: ${RECSYS_TEST_DIM}\n",
               "6:14: \"dimension\" must be an integer, got \"6x4\"");

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: /idx\n"
               "  dimension: ${RECSYS_TEST_UNSET}\n",
               "6:14: environment variable \"RECSYS_TEST_UNSET\" is not"
               " set");

    test_error(TEST_VALID_SOURCE
               "index:\n"
               "  path: \"/idx/${RECSYS_TEST_DIM\"\n"
               "  dimension: 8\n",
               "5:9: unterminated \"${\" in \"/idx/${RECSYS_TEST_DIM\"");

    unsetenv("RECSYS_TEST_DIM");
    unsetenv("RECSYS_TEST_DIR");
}


static void
test_interpolate(void **state)
{
    char    err[RECSYS_CATALOG_ERRLEN];
    char   *s;
    size_t  i;

    static const struct {
        const char  *in;
        const char  *out;
    } ok[] = {
        { "plain", "plain" },
        { "", "" },
        { "${RECSYS_TEST_A}", "alpha" },
        { "x${RECSYS_TEST_A}y${RECSYS_TEST_A}z", "xalphayalphaz" },
        { "${RECSYS_TEST_A:-dflt}", "alpha" },
        { "${RECSYS_TEST_UNSET:-dflt}", "dflt" },
        { "${RECSYS_TEST_UNSET:-}", "" },
        { "${RECSYS_TEST_EMPTY:-dflt}", "dflt" },
        { "${RECSYS_TEST_EMPTY}", "" },
        { "${RECSYS_TEST_UNSET:-a:b-c $x}", "a:b-c $x" },
        { "$$", "$" },
        { "$${RECSYS_TEST_A}", "${RECSYS_TEST_A}" },
        { "a$$$$b", "a$$b" },
        { "$", "$" },
        { "cost $5", "cost $5" },
        { "end$", "end$" },
        { "${_x9:-ok}", "ok" },
    };

    static const struct {
        const char  *in;
        const char  *err;
    } bad[] = {
        { "${RECSYS_TEST_UNSET}",
          "environment variable \"RECSYS_TEST_UNSET\" is not set" },
        { "a${RECSYS_TEST_A",
          "unterminated \"${\" in \"a${RECSYS_TEST_A\"" },
        { "${", "unterminated \"${\" in \"${\"" },
        { "${X:-abc", "unterminated \"${\" in \"${X:-abc\"" },
        { "${}", "invalid variable reference \"${}\", expected ${NAME} or"
                 " ${NAME:-default}" },
        { "${1X}", "invalid variable reference \"${1X}\", expected ${NAME}"
                   " or ${NAME:-default}" },
        { "${A-b}", "invalid variable reference \"${A-b}\", expected"
                    " ${NAME} or ${NAME:-default}" },
        { "${A B}", "invalid variable reference \"${A B}\", expected"
                    " ${NAME} or ${NAME:-default}" },
    };

    (void) state;

    setenv("RECSYS_TEST_A", "alpha", 1);
    setenv("RECSYS_TEST_EMPTY", "", 1);
    unsetenv("RECSYS_TEST_UNSET");

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        s = recsys_interpolate(ok[i].in, err, sizeof(err));
        if (s == NULL) {
            fail_msg("\"%s\": %s", ok[i].in, err);
        }

        assert_string_equal(s, ok[i].out);
        free(s);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        s = recsys_interpolate(bad[i].in, err, sizeof(err));
        assert_null(s);
        assert_string_equal(err, bad[i].err);
    }

    unsetenv("RECSYS_TEST_A");
    unsetenv("RECSYS_TEST_EMPTY");
}


static void
test_factory_valid(void **state)
{
    size_t  i;

    static const struct {
        const char  *factory;
        int          rc;
    } cases[] = {
        { "auto", 0 },
        { "IVF1,Flat", 0 },
        { "IVF1024,Flat", 0 },
        { "IVF1048576,Flat", 0 },
        { "IVF256,SQ8", 0 },
        { "IVF256,SQ4", 0 },
        { "IVF256,SQfp16", 0 },
        { "IVF256,PQ1", 0 },
        { "IVF256,PQ16", 0 },
        { "IVF256,PQ256", 0 },
        { "IVF256,PQ16x4", 0 },
        { "IVF256,PQ16x8", 0 },
        { "IVF256,PQ16x16", 0 },
        { "", -1 },
        { "Auto", -1 },
        { "auto ", -1 },
        { "Flat", -1 },
        { "IVF", -1 },
        { "IVF,Flat", -1 },
        { "IVF0,Flat", -1 },
        { "IVF01,Flat", -1 },
        { "IVF-1,Flat", -1 },
        { "IVF1048577,Flat", -1 },
        { "IVF99999999999999999999,Flat", -1 },
        { "IVF16", -1 },
        { "IVF16,", -1 },
        { "IVF16Flat", -1 },
        { "IVF16,flat", -1 },
        { "IVF16,Flat ", -1 },
        { "IVF16,Flat,", -1 },
        { "IVF16,SQ6", -1 },
        { "IVF16,SQfp16x", -1 },
        { "IVF16,PQ", -1 },
        { "IVF16,PQ0", -1 },
        { "IVF16,PQ257", -1 },
        { "IVF16,PQ08", -1 },
        { "IVF16,PQ8x", -1 },
        { "IVF16,PQ8x3", -1 },
        { "IVF16,PQ8x17", -1 },
        { "IVF16,PQ8x8x8", -1 },
        { "IVF16,PQ8y8", -1 },
        { "IVF16_HNSW32,Flat", -1 },
        { "HNSW32", -1 },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (recsys_factory_valid(cases[i].factory) != cases[i].rc) {
            fail_msg("factory \"%s\": expected %d", cases[i].factory,
                     cases[i].rc);
        }
    }

    assert_int_equal(recsys_factory_valid(NULL), -1);
}


static void
test_maintenance(void **state)
{
    recsys_catalog_t  *c;

    (void) state;

    /* absent: no limit */

    c = test_load(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n");
    assert_int_equal(c->maintenance.max_age, 0);
    recsys_catalog_free(c);

    /* present without max_age: the default */

    c = test_load(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
                  "maintenance: {}\n");
    assert_int_equal(c->maintenance.max_age, 0);
    recsys_catalog_free(c);

    c = test_load(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
                  "maintenance:\n"
                  "  max_age: 24h\n");
    assert_int_equal(c->maintenance.max_age, 86400);
    recsys_catalog_free(c);

    setenv("RECSYS_TEST_AGE", "1h30m", 1);

    c = test_load("maintenance: {max_age: \"${RECSYS_TEST_AGE}\"}\n"
                  TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n");
    assert_int_equal(c->maintenance.max_age, 5400);
    recsys_catalog_free(c);

    unsetenv("RECSYS_TEST_AGE");

    c = test_load(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
                  "maintenance: {max_age: 0}\n");
    assert_int_equal(c->maintenance.max_age, 0);
    recsys_catalog_free(c);

    c = test_load(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
                  "maintenance: {max_age: 3650d}\n");
    assert_int_equal(c->maintenance.max_age, 3650ULL * 86400);
    recsys_catalog_free(c);

    test_error(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
               "maintenance:\n"
               "  max_age: 10 minutes\n",
               "6:12: \"max_age\" must be a duration like 30s, 10m, 24h,"
               " 7d or 0, got \"10 minutes\"");

    test_error(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
               "maintenance: {max_age: -1s}\n",
               "5:24: \"max_age\" must be a duration like 30s, 10m, 24h,"
               " 7d or 0, got \"-1s\"");

    test_error(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
               "maintenance: {max_age: ~}\n",
               "5:24: \"max_age\" must be a duration like 30s, 10m, 24h,"
               " 7d or 0, got null");

    test_error(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
               "maintenance: {max_age: [1h]}\n",
               "5:24: \"max_age\" must be a duration like 30s, 10m, 24h,"
               " 7d or 0, got a sequence");

    test_error(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
               "maintenance: {max_age: 3651d}\n",
               "5:24: \"max_age\" must be at most 315360000s (3650d),"
               " got \"3651d\"");

    test_error(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
               "maintenance: {max_age: 1h, every: 1h}\n",
               "5:28: unknown key \"every\" in \"maintenance\", expected"
               " one of: max_age, interval, full_interval, build_on_start,"
               " backoff_initial, backoff_max, breaker_threshold, threads,"
               " nice");

    test_error(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
               "maintenance: 1h\n",
               "5:14: \"maintenance\" must be a mapping, got \"1h\"");

    test_error(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
               "maintenance: {max_age: 1h}\n"
               "maintenance: {max_age: 2h}\n",
               "6:1: duplicate key \"maintenance\" at top level, first at"
               " 5:1");
}


static void
test_maintenance_keys(void **state)
{
    recsys_catalog_t  *c;

    (void) state;

    c = test_load(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n");
    assert_int_equal(c->maintenance.interval, 0);
    assert_int_equal(c->maintenance.full_interval, 7 * 86400);
    assert_int_equal(c->maintenance.build_on_start,
                     RECSYS_BUILD_ON_START_IF_MISSING);
    assert_int_equal(c->maintenance.backoff_initial, 1);
    assert_int_equal(c->maintenance.backoff_max, 300);
    assert_int_equal(c->maintenance.breaker_threshold, 5);
    assert_int_equal(c->maintenance.threads, 0);
    assert_int_equal(c->maintenance.nice, 10);
    recsys_catalog_free(c);

    c = test_load(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
                  "maintenance:\n"
                  "  interval: 24h\n"
                  "  full_interval: 0\n"
                  "  build_on_start: always\n"
                  "  backoff_initial: 500s\n"
                  "  backoff_max: 1h\n"
                  "  breaker_threshold: 3\n"
                  "  threads: 2\n"
                  "  nice: 19\n");
    assert_int_equal(c->maintenance.interval, 86400);
    assert_int_equal(c->maintenance.full_interval, 0);
    assert_int_equal(c->maintenance.build_on_start,
                     RECSYS_BUILD_ON_START_ALWAYS);
    assert_int_equal(c->maintenance.backoff_initial, 500);
    assert_int_equal(c->maintenance.backoff_max, 3600);
    assert_int_equal(c->maintenance.breaker_threshold, 3);
    assert_int_equal(c->maintenance.threads, 2);
    assert_int_equal(c->maintenance.nice, 19);
    recsys_catalog_free(c);

    c = test_load(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
                  "maintenance: {build_on_start: never, nice: 0}\n");
    assert_int_equal(c->maintenance.build_on_start,
                     RECSYS_BUILD_ON_START_NEVER);
    assert_int_equal(c->maintenance.nice, 0);
    recsys_catalog_free(c);

    test_error(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
               "maintenance: {build_on_start: sometimes}\n",
               "5:31: \"build_on_start\" must be one of if_missing, always,"
               " never, got \"sometimes\"");

    test_error(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
               "maintenance: {nice: 20}\n",
               "5:21: \"nice\" must be between 0 and 19, got 20");

    test_error(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
               "maintenance: {backoff_initial: 0}\n",
               "5:32: \"backoff_initial\" must be at least 1s, got \"0\"");

    test_error(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
               "maintenance: {breaker_threshold: 0}\n",
               "5:34: \"breaker_threshold\" must be between 1 and 1000,"
               " got 0");

    test_error(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
               "maintenance: {threads: many}\n",
               "5:24: \"threads\" must be an integer, got \"many\"");

    test_error(TEST_VALID_SOURCE "index: {path: /i, dimension: 8}\n"
               "maintenance: {full_interval: weekly}\n",
               "5:30: \"full_interval\" must be a duration like 30s, 10m,"
               " 24h, 7d or 0, got \"weekly\"");
}


static void
test_postgresql_source(void **state)
{
    recsys_catalog_t  *c;

    (void) state;

    setenv("RECSYS_TEST_DSN", "postgresql://u:pw@db/cat", 1);

    c = test_load("source:\n"
                  "  type: postgresql\n"
                  "  dsn: \"${RECSYS_TEST_DSN}\"\n"
                  "index: {path: /i, dimension: 8}\n");
    assert_int_equal(c->source.type, RECSYS_SOURCE_POSTGRESQL);
    assert_string_equal(c->source.dsn, "postgresql://u:pw@db/cat");
    assert_string_equal(c->source.table, "items");
    assert_null(c->source.query);
    assert_null(c->source.path);
    assert_int_equal(c->source.batch_size, 10000);
    recsys_catalog_free(c);

    c = test_load("source:\n"
                  "  type: postgresql\n"
                  "  dsn: host=db dbname=cat\n"
                  "  table: shop.products\n"
                  "  batch_size: 1000000\n"
                  "index: {path: /i, dimension: 8}\n");
    assert_string_equal(c->source.dsn, "host=db dbname=cat");
    assert_string_equal(c->source.table, "shop.products");
    assert_int_equal(c->source.batch_size, 1000000);
    recsys_catalog_free(c);

    c = test_load("source:\n"
                  "  type: postgresql\n"
                  "  dsn: host=db\n"
                  "  query: SELECT id, embedding FROM v\n"
                  "  batch_size: 1\n"
                  "index: {path: /i, dimension: 8}\n");
    assert_string_equal(c->source.query, "SELECT id, embedding FROM v");
    assert_int_equal(c->source.batch_size, 1);
    recsys_catalog_free(c);

    unsetenv("RECSYS_TEST_DSN");

    test_error("source:\n"
               "  type: postgresql\n"
               "  dsn: \"${RECSYS_TEST_DSN}\"\n"
               "index: {path: /i, dimension: 8}\n",
               "3:8: environment variable \"RECSYS_TEST_DSN\" is not set");

    test_error("source:\n"
               "  type: postgresql\n"
               "  dsn: host=db\n"
               "  path: /x.jsonl\n"
               "index: {path: /i, dimension: 8}\n",
               "4:3: \"path\" is only valid with type file");

    /* the error is where the second of the two appears */
    test_error("source:\n"
               "  type: postgresql\n"
               "  query: SELECT 1\n"
               "  dsn: host=db\n"
               "  table: t\n"
               "index: {path: /i, dimension: 8}\n",
               "5:3: \"table\" and \"query\" are mutually exclusive");

    test_error("source:\n"
               "  type: postgresql\n"
               "  dsn: host=db\n"
               "  table: \"items; DROP TABLE x\"\n"
               "index: {path: /i, dimension: 8}\n",
               "4:10: \"table\" must be a table name, optionally"
               " schema-qualified (schema.table), got \"items; DROP TABLE"
               " x\"");

    test_error("source:\n"
               "  type: postgresql\n"
               "  dsn: host=db\n"
               "  table: a.b.c\n"
               "index: {path: /i, dimension: 8}\n",
               "4:10: \"table\" must be a table name, optionally"
               " schema-qualified (schema.table), got \"a.b.c\"");

    test_error("source:\n"
               "  type: postgresql\n"
               "  dsn: host=db\n"
               "  batch_size: 0\n"
               "index: {path: /i, dimension: 8}\n",
               "4:15: \"batch_size\" must be between 1 and 1000000, got 0");

    test_error("source:\n"
               "  type: postgresql\n"
               "  dsn: ''\n"
               "index: {path: /i, dimension: 8}\n",
               "3:8: \"dsn\" must not be empty");

    test_error("source:\n"
               "  type: file\n"
               "  path: /x\n"
               "  batch_size: 10\n"
               "index: {path: /i, dimension: 8}\n",
               "4:3: \"batch_size\" is only valid with type postgresql");
}


static void
test_duration_parse(void **state)
{
    size_t    i;
    uint64_t  sec;

    static const struct {
        const char  *s;
        int          rc;
        uint64_t     sec;
    } cases[] = {
        { "0", 0, 0 },
        { "0s", 0, 0 },
        { "1", 0, 1 },
        { "30s", 0, 30 },
        { "10m", 0, 600 },
        { "24h", 0, 86400 },
        { "7d", 0, 604800 },
        { "1h30m", 0, 5400 },
        { "1d2h3m4s", 0, 93784 },
        { "1d4s", 0, 86404 },
        { "90m", 0, 5400 },
        { "1h05m", 0, 3900 },
        { "1000", 0, 1000 },
        { "1000000", 0, 1000000 },
        { "1000001", -2, 0 },
        { "11575d", -2, 0 },
        { "99999999999999999999999h", -2, 0 },
        { "11d13h46m40s", 0, 1000000 },
        { "11d13h46m41s", -2, 0 },
        { "", -1, 0 },
        { "s", -1, 0 },
        { "h1", -1, 0 },
        { "10", 0, 10 },
        { "010", -1, 0 },
        { "00s", -1, 0 },
        { "-1", -1, 0 },
        { "+1s", -1, 0 },
        { "1.5h", -1, 0 },
        { "1 h", -1, 0 },
        { " 1h", -1, 0 },
        { "1h ", -1, 0 },
        { "1H", -1, 0 },
        { "1ms", -1, 0 },
        { "1w", -1, 0 },
        { "1y", -1, 0 },
        { "1m1h", -1, 0 },
        { "1h1h", -1, 0 },
        { "1h30", -1, 0 },
        { "1hm", -1, 0 },
        { "99999999999999999999999x", -1, 0 },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sec = 12345;

        if (recsys_duration_parse(cases[i].s, 1000000, &sec) != cases[i].rc)
        {
            fail_msg("duration \"%s\": expected %d", cases[i].s,
                     cases[i].rc);
        }

        if (cases[i].rc == 0 && sec != cases[i].sec) {
            fail_msg("duration \"%s\": got %llu, expected %llu", cases[i].s,
                     (unsigned long long) sec,
                     (unsigned long long) cases[i].sec);
        }

        if (cases[i].rc != 0 && sec != 12345) {
            fail_msg("duration \"%s\": *sec written on error", cases[i].s);
        }
    }

    /* the largest max the header allows does not overflow */

    assert_int_equal(recsys_duration_parse("99999999999999999999d",
                                           UINT64_MAX / 2, &sec), -2);
    assert_int_equal(recsys_duration_parse("106751991167300d",
                                           UINT64_MAX / 2, &sec), 0);
    assert_true(sec == 106751991167300ULL * 86400);
}


#define TEST_INDEX  "index: {path: /data/idx, dimension: 4}\n"


static void
test_events(void **state)
{
    recsys_catalog_t      *c;
    recsys_events_conf_t  *ev;

    (void) state;

    /* absent: disabled, nothing filled */

    c = test_load(TEST_VALID_SOURCE TEST_INDEX);
    assert_int_equal(c->events.enabled, 0);
    assert_int_equal(c->events.types.n, 0);
    assert_null(c->events.store.path);
    recsys_catalog_free(c);

    /* the defaults */

    c = test_load(TEST_VALID_SOURCE TEST_INDEX
                  "events:\n  types: {click: 1, purchase: 5.5,"
                  " dislike: -2, view: 0.25}\n");
    ev = &c->events;
    assert_int_equal(ev->enabled, 1);
    assert_int_equal(ev->types.n, 4);
    assert_string_equal(ev->types.names[0], "click");
    assert_true(ev->types.values[0] == 1.0);
    assert_string_equal(ev->types.names[1], "purchase");
    assert_true(ev->types.values[1] == 5.5);
    assert_string_equal(ev->types.names[2], "dislike");
    assert_true(ev->types.values[2] == -2.0);
    assert_true(ev->types.values[3] == 0.25);
    assert_int_equal(ev->max_batch, 100);
    assert_int_equal(ev->max_id_length, 256);
    assert_int_equal(ev->sync, RECSYS_EVENTS_SYNC_REQUEST);
    assert_int_equal(ev->segment_age, 1);
    assert_true(ev->spool_limit == 1024ULL * 1024 * 1024);
    assert_int_equal(ev->ship_interval, 1);
    assert_int_equal(ev->ship_batch, 10000);
    assert_int_equal(ev->store.type, RECSYS_STORE_FILE);
    assert_string_equal(ev->store.path, "/data/idx/events.jsonl");
    assert_null(ev->store.dsn);
    assert_null(ev->store.query);
    recsys_catalog_free(c);

    /* every key */

    c = test_load(TEST_VALID_SOURCE TEST_INDEX
                  "events:\n"
                  "  types: {a.b-c_d: 1e2}\n"
                  "  max_batch: 10000\n"
                  "  max_id_length: 4096\n"
                  "  sync: interval\n"
                  "  sync_interval: 5s\n"
                  "  segment_age: 1m\n"
                  "  spool_limit: 64m\n"
                  "  ship_interval: 2s\n"
                  "  ship_batch: 1\n"
                  "  store: {type: file, path: ev/all.jsonl}\n");
    ev = &c->events;
    assert_true(ev->types.values[0] == 100.0);
    assert_int_equal(ev->max_batch, 10000);
    assert_int_equal(ev->max_id_length, 4096);
    assert_int_equal(ev->sync, RECSYS_EVENTS_SYNC_INTERVAL);
    assert_int_equal(ev->sync_interval, 5);
    assert_int_equal(ev->segment_age, 60);
    assert_true(ev->spool_limit == 64ULL * 1024 * 1024);
    assert_int_equal(ev->ship_interval, 2);
    assert_int_equal(ev->ship_batch, 1);
    assert_true(strncmp(ev->store.path, test_real, strlen(test_real)) == 0);
    assert_string_equal(ev->store.path + strlen(test_real), "/ev/all.jsonl");
    recsys_catalog_free(c);

    /* a PostgreSQL store takes the source's dsn, or its own */

    c = test_load("source: {type: postgresql, dsn: \"dbname=a\"}\n"
                  TEST_INDEX
                  "events: {types: {click: 1}, store: {type: postgresql}}\n");
    assert_int_equal(c->events.store.type, RECSYS_STORE_POSTGRESQL);
    assert_string_equal(c->events.store.dsn, "dbname=a");
    assert_string_equal(c->events.store.table, "recsys_events");
    assert_null(c->events.store.path);
    recsys_catalog_free(c);

    c = test_load(TEST_VALID_SOURCE TEST_INDEX
                  "events:\n  types: {click: 1}\n  store:\n"
                  "    type: postgresql\n    dsn: \"dbname=b\"\n"
                  "    query: SELECT user_id, item_id, type, ts, weight"
                  " FROM app.clicks\n");
    assert_string_equal(c->events.store.dsn, "dbname=b");
    assert_string_equal(c->events.store.query,
                        "SELECT user_id, item_id, type, ts, weight"
                        " FROM app.clicks");
    recsys_catalog_free(c);

    c = test_load(TEST_VALID_SOURCE TEST_INDEX
                  "events:\n  types: {click: 1}\n  spool_limit: 2G\n");
    assert_true(c->events.spool_limit == 2048ULL * 1024 * 1024);
    recsys_catalog_free(c);
}


static void
test_events_errors(void **state)
{
    (void) state;

    test_error(TEST_VALID_SOURCE TEST_INDEX "events:\n",
               "5:8: \"events\" must be a mapping, got null");
    test_error(TEST_VALID_SOURCE TEST_INDEX "events: {}\n",
               "5:9: missing required key \"types\" in \"events\"");
    test_error(TEST_VALID_SOURCE TEST_INDEX "events: {types: {}}\n",
               "5:17: \"types\" must have at least 1 entries");
    test_error(TEST_VALID_SOURCE TEST_INDEX "events: {types: [click]}\n",
               "5:17: \"types\" must be a mapping of names to numbers,"
               " got a sequence");
    test_error(TEST_VALID_SOURCE TEST_INDEX "events: {types: {click: x}}\n",
               "5:25: \"click\" must be a number, got \"x\"");
    test_error(TEST_VALID_SOURCE TEST_INDEX "events: {types: {click: }}\n",
               "5:25: \"click\" must be a number, got null");
    test_error(TEST_VALID_SOURCE TEST_INDEX
               "events: {types: {click: .nan}}\n",
               "5:25: \"click\" must be a number, got \".nan\"");
    test_error(TEST_VALID_SOURCE TEST_INDEX
               "events: {types: {click: 0x10}}\n",
               "5:25: \"click\" must be a number, got \"0x10\"");
    test_error(TEST_VALID_SOURCE TEST_INDEX
               "events: {types: {click: 1e400}}\n",
               "5:25: \"click\" must be a number, got \"1e400\"");
    test_error(TEST_VALID_SOURCE TEST_INDEX
               "events: {types: {click: 2000000}}\n",
               "5:25: \"click\" must be between -1e+06 and 1e+06,"
               " got 2000000");
    test_error(TEST_VALID_SOURCE TEST_INDEX
               "events: {types: {\"cl ick\": 1}}\n",
               "5:18: a key of \"types\" must be a type name of 1 to 64"
               " letters, digits, '_', '-' or '.', got \"cl ick\"");
    test_error(TEST_VALID_SOURCE TEST_INDEX
               "events: {types: {click: 1, click: 2}}\n",
               "5:28: duplicate key \"click\" in \"types\"");
    test_error(TEST_VALID_SOURCE TEST_INDEX
               "events: {types: {a: 1}, max_batch: 0}\n",
               "5:36: \"max_batch\" must be between 1 and 10000, got 0");
    test_error(TEST_VALID_SOURCE TEST_INDEX
               "events: {types: {a: 1}, sync: always}\n",
               "5:31: \"sync\" must be one of request, interval,"
               " got \"always\"");
    test_error(TEST_VALID_SOURCE TEST_INDEX
               "events: {types: {a: 1}, sync_interval: 2s}\n",
               "5:25: \"sync_interval\" is only valid with sync interval");
    test_error(TEST_VALID_SOURCE TEST_INDEX
               "events: {types: {a: 1}, spool_limit: 1k}\n",
               "5:38: \"spool_limit\" must be between 1048576 and"
               " 1125899906842624 bytes, got \"1k\"");
    test_error(TEST_VALID_SOURCE TEST_INDEX
               "events: {types: {a: 1}, spool_limit: 1t}\n",
               "5:38: \"spool_limit\" must be a size like 512, 64k, 16m or"
               " 1g, got \"1t\"");
    test_error(TEST_VALID_SOURCE TEST_INDEX
               "events: {types: {a: 1}, store: {type: postgresql}}\n",
               "5:9: \"dsn\" is required in \"events.store\" when the source"
               " is not postgresql");
    test_error(TEST_VALID_SOURCE TEST_INDEX
               "events: {types: {a: 1}, store: {dsn: x}}\n",
               "5:33: \"dsn\" is only valid with type postgresql");
    test_error(TEST_VALID_SOURCE TEST_INDEX
               "events: {types: {a: 1}, store: {type: postgresql, dsn: x,"
               " table: t, query: q}}\n",
               "5:69: \"table\" and \"query\" are mutually exclusive");
}


#define TEST_RANK_BASE  TEST_VALID_SOURCE "index: {path: /i, dimension: 4}\n"


static void
test_users(void **state)
{
    recsys_catalog_t  *c;

    (void) state;

    c = test_load(TEST_VALID_SOURCE TEST_INDEX);
    assert_int_equal(c->users.enabled, 0);
    assert_null(c->users.source.path);
    recsys_catalog_free(c);

    /* a file, relative to the YAML file */

    c = test_load(TEST_VALID_SOURCE TEST_INDEX "users: {path: u.jsonl}\n");
    assert_int_equal(c->users.enabled, 1);
    assert_int_equal(c->users.source.type, RECSYS_SOURCE_FILE);
    assert_true(strncmp(c->users.source.path, test_real, strlen(test_real))
                == 0);
    assert_string_equal(c->users.source.path + strlen(test_real),
                        "/u.jsonl");
    assert_null(c->users.source.dsn);
    recsys_catalog_free(c);

    /* postgresql: the source's dsn, table "users" */

    c = test_load("source: {type: postgresql, dsn: \"dbname=a\"}\n"
                  TEST_INDEX "users: {type: postgresql}\n");
    assert_int_equal(c->users.source.type, RECSYS_SOURCE_POSTGRESQL);
    assert_string_equal(c->users.source.dsn, "dbname=a");
    assert_string_equal(c->users.source.table, "users");
    assert_null(c->users.source.query);
    assert_int_equal(c->users.source.batch_size, 10000);
    assert_string_equal(c->source.table, "items");
    recsys_catalog_free(c);

    c = test_load(TEST_VALID_SOURCE TEST_INDEX
                  "users:\n  type: postgresql\n  dsn: \"dbname=u\"\n"
                  "  query: SELECT id, embedding FROM app.people\n"
                  "  batch_size: 50\n");
    assert_string_equal(c->users.source.dsn, "dbname=u");
    assert_string_equal(c->users.source.query,
                        "SELECT id, embedding FROM app.people");
    assert_int_equal(c->users.source.batch_size, 50);
    recsys_catalog_free(c);
}


static void
test_users_errors(void **state)
{
    (void) state;

    test_error(TEST_VALID_SOURCE TEST_INDEX "users:\n",
               "5:7: \"users\" must be a mapping, got null");
    test_error(TEST_VALID_SOURCE TEST_INDEX "users: {type: file}\n",
               "5:8: missing required key \"path\" in \"users\"");
    test_error(TEST_VALID_SOURCE TEST_INDEX "users: {path: u, colour: 1}\n",
               "5:18: unknown key \"colour\" in \"users\", expected one"
               " of: type, path, dsn, table, query, batch_size");
    test_error(TEST_VALID_SOURCE TEST_INDEX "users: {type: ldap}\n",
               "5:15: \"type\" must be one of file, postgresql, got"
               " \"ldap\"");
    test_error(TEST_VALID_SOURCE TEST_INDEX
               "users: {path: u, table: people}\n",
               "5:18: \"table\" is only valid with type postgresql");
    test_error(TEST_VALID_SOURCE TEST_INDEX "users: {type: postgresql}\n",
               "5:8: \"dsn\" is required in \"users\" when the source is"
               " not postgresql");
    test_error(TEST_VALID_SOURCE TEST_INDEX
               "users: {type: postgresql, dsn: x, table: \"a b\"}\n",
               "5:42: \"table\" must be a table name, optionally"
               " schema-qualified (schema.table), got \"a b\"");
    test_error(TEST_VALID_SOURCE TEST_INDEX
               "users: {type: postgresql, dsn: x, table: t, query: q}\n",
               "5:45: \"table\" and \"query\" are mutually exclusive");
    test_error(TEST_VALID_SOURCE TEST_INDEX
               "users: {type: postgresql, dsn: x, batch_size: 0}\n",
               "5:47: \"batch_size\" must be between 1 and 1000000, got 0");
}


static void
test_ranking(void **state)
{
    recsys_profile_t  *p;
    recsys_catalog_t  *c;

    (void) state;

    /* absent: plain, no profiles */
    c = test_load(TEST_RANK_BASE);
    assert_int_equal(c->ranking.nprofiles, 0);
    assert_int_equal(c->ranking.dflt, -1);
    assert_true(c->ranking.negative_weight == 0.5f);
    recsys_catalog_free(c);

    c = test_load(TEST_RANK_BASE
                  "ranking:\n"
                  "  default: balanced\n"
                  "  negative_weight: 0.25\n"
                  "  profiles:\n"
                  "    plain: {}\n"
                  "    balanced:\n"
                  "      candidates: 300\n"
                  "      weights: {similarity: 1.0, popularity: 0.2,"
                  " freshness: 0.1}\n"
                  "      popularity: rank\n"
                  "      freshness: {field: published_at, half_life: 30d}\n"
                  "      boost: {category: {coffee: 0.1, tea: -0.5}}\n"
                  "      diversity: {mmr: 0.7}\n");

    assert_int_equal(c->ranking.nprofiles, 2);
    assert_int_equal(c->ranking.dflt, 1);
    assert_true(c->ranking.negative_weight == 0.25f);

    p = &c->ranking.profiles[0];
    assert_string_equal(p->name, "plain");
    assert_int_equal(p->candidates, RECSYS_RANK_CANDIDATES);
    assert_true(p->w_similarity == 1.0f && p->w_popularity == 0
                && p->w_freshness == 0);
    assert_int_equal(p->popularity, RECSYS_POP_LOG);
    assert_null(p->freshness_field);
    assert_int_equal(p->nboosts, 0);
    assert_true(p->mmr_lambda < 0);

    p = &c->ranking.profiles[1];
    assert_string_equal(p->name, "balanced");
    assert_int_equal(p->candidates, 300);
    assert_true(p->w_popularity == 0.2f && p->w_freshness == 0.1f);
    assert_int_equal(p->popularity, RECSYS_POP_RANK);
    assert_string_equal(p->freshness_field, "published_at");
    assert_int_equal(p->half_life, 30 * 86400);
    assert_int_equal(p->nboosts, 2);
    assert_string_equal(p->boosts[0].category, "coffee");
    assert_true(p->boosts[0].weight == 0.1f);
    assert_string_equal(p->boosts[1].category, "tea");
    assert_true(p->boosts[1].weight == -0.5f);
    assert_true(p->mmr_lambda == 0.7f);

    assert_int_equal(recsys_ranking_find(&c->ranking, "balanced", 8), 1);
    assert_int_equal(recsys_ranking_find(&c->ranking, "balance", 7), -1);

    recsys_catalog_free(c);

    /* no default: requests without a profile stay plain */
    c = test_load(TEST_RANK_BASE "ranking: {profiles: {a: {}}}\n");
    assert_int_equal(c->ranking.dflt, -1);
    recsys_catalog_free(c);
}


static void
test_ranking_errors(void **state)
{
    (void) state;

    test_error(TEST_RANK_BASE
               "ranking:\n  profiles:\n    a:\n"
               "      weights: {popularity: -0.2}\n",
               "8:29: \"popularity\" must be between 0 and 1e+06, got -0.2");

    test_error(TEST_RANK_BASE
               "ranking:\n  profiles:\n    a:\n      weight: {}\n",
               "8:7: unknown key \"weight\" in \"ranking.profiles.a\","
               " expected one of: candidates, weights, popularity,"
               " freshness, boost, diversity");

    test_error(TEST_RANK_BASE
               "ranking:\n  profiles:\n    a:\n"
               "      diversity: {mmr: 1.5}\n",
               "8:24: \"mmr\" must be between 0 and 1, got 1.5");

    test_error(TEST_RANK_BASE
               "ranking:\n  profiles:\n    a:\n"
               "      diversity: {mmr: -0.1}\n",
               "8:24: \"mmr\" must be between 0 and 1, got -0.1");

    test_error(TEST_RANK_BASE
               "ranking:\n  profiles:\n    a:\n"
               "      boost: {brand: {x: 1}}\n",
               "8:15: unknown key \"brand\" in"
               " \"ranking.profiles.a.boost\", expected one of: category");

    test_error(TEST_RANK_BASE
               "ranking:\n  profiles:\n    a:\n"
               "      popularity: square\n",
               "8:19: \"popularity\" must be one of log, rank, raw,"
               " got \"square\"");

    test_error(TEST_RANK_BASE
               "ranking:\n  profiles:\n    a:\n"
               "      candidates: 20000\n",
               "8:19: \"candidates\" must be between 1 and 16384,"
               " got 20000");

    test_error(TEST_RANK_BASE
               "ranking:\n  profiles:\n    a:\n"
               "      freshness: {field: \"a b\", half_life: 1d}\n",
               "8:26: \"field\" must be an attribute name of 1 to 64"
               " letters, digits, '_', '-' or '.', got \"a b\"");

    test_error(TEST_RANK_BASE
               "ranking:\n  profiles:\n    a:\n"
               "      freshness: {field: t}\n",
               "8:18: missing required key \"half_life\" in"
               " \"ranking.profiles.a.freshness\"");

    test_error(TEST_RANK_BASE
               "ranking:\n  profiles:\n    a:\n"
               "      weights: {freshness: 1}\n",
               "8:7: \"weights.freshness\" in \"ranking.profiles.a\" needs"
               " \"freshness\" with \"field\" and \"half_life\"");

    test_error(TEST_RANK_BASE
               "ranking:\n  default: b\n  profiles:\n    a: {}\n",
               "6:12: \"default\" must name a profile of"
               " \"ranking.profiles\", got \"b\"");

    test_error(TEST_RANK_BASE "ranking: {default: a}\n",
               "5:10: missing required key \"profiles\" in \"ranking\"");

    test_error(TEST_RANK_BASE "ranking: {profiles: {}}\n",
               "5:21: \"profiles\" must have at least one profile");

    test_error(TEST_RANK_BASE "ranking: {profiles: {\"a b\": {}}}\n",
               "5:22: a key of \"profiles\" must be a profile name of 1 to"
               " 64 letters, digits, '_', '-' or '.', got \"a b\"");

    test_error(TEST_RANK_BASE "ranking: {profiles: {a: {}, a: {}}}\n",
               "5:29: duplicate profile \"a\" in \"ranking.profiles\"");

    test_error(TEST_RANK_BASE "ranking: {profiles: {a: 1}}\n",
               "5:25: profile \"a\" must be a mapping, got \"1\"");

    test_error(TEST_RANK_BASE
               "ranking: {negative_weight: 1, profiles: {a: {}}}\n",
               "5:28: \"negative_weight\" must be at least 0 and less"
               " than 1, got 1");

    test_error(TEST_RANK_BASE "ranking: [1]\n",
               "5:10: \"ranking\" must be a mapping, got a sequence");
}


static void
test_model(void **state)
{
    recsys_catalog_t     *c;
    recsys_model_conf_t  *mc;

    (void) state;

    c = test_load("source: {path: /x.jsonl}\n"
                  "index: {path: /data/idx, dimension: 4}\n");
    assert_int_equal(c->model.enabled, 0);
    recsys_catalog_free(c);

    c = test_load("source: {path: /x.jsonl}\n"
                  "index: {path: /data/idx, dimension: 4}\n"
                  "events: {types: {click: 1}}\n"
                  "model:\n  item_item: {}\n");
    mc = &c->model;
    assert_int_equal(mc->enabled, 1);
    assert_int_equal(mc->min_events, 1);
    assert_int_equal(mc->popularity.enabled, 0);
    assert_int_equal(mc->factors.enabled, 0);
    assert_int_equal(mc->item_item.enabled, 1);
    assert_int_equal(mc->item_item.algorithm, RECSYS_ITEMSIM_AUTO);
    assert_true(mc->item_item.lambda == 200);
    assert_int_equal(mc->item_item.top, 500);
    assert_int_equal(mc->item_item.max_items, 16384);
    assert_true(mc->item_item.shrink == 10);
    assert_true(mc->holdout.fraction == 0.2);
    assert_int_equal(mc->holdout.seed, 1);
    assert_int_equal(mc->holdout.mode, RECSYS_HOLDOUT_MODE_RECENT);
    assert_int_equal(mc->holdout.min_entries, 5);
    assert_int_equal(mc->holdout.users, 2000);
    assert_string_equal(mc->promote_if, "recall_at_10 >= served * 0.98");
    assert_int_equal(mc->promote.n, 1);
    assert_true(mc->promote.conds[0].served);
    assert_true(mc->promote.conds[0].factor == 0.98);
    recsys_catalog_free(c);

    c = test_load("source: {path: /x.jsonl}\n"
                  "index: {path: /data/idx, dimension: 32,"
                  " metric: inner_product}\n"
                  "events: {types: {click: 1}}\n"
                  "model:\n"
                  "  min_events: 3\n"
                  "  popularity: {half_life: 2d, mode: blend, blend: 0.25}\n"
                  "  factors: {factors: 32, alpha: 5, nu: 0.5}\n"
                  "  holdout: {fraction: 0.1, seed: 7, mode: random}\n"
                  "  promote_if: always\n");
    mc = &c->model;
    assert_int_equal(mc->min_events, 3);
    assert_int_equal(mc->popularity.enabled, 1);
    assert_int_equal(mc->popularity.half_life, 2 * 86400);
    assert_int_equal(mc->popularity.mode, RECSYS_POPULARITY_MODE_BLEND);
    assert_true(mc->popularity.blend == 0.25);
    assert_int_equal(mc->factors.enabled, 1);
    assert_int_equal(mc->factors.factors, 32);
    assert_int_equal(mc->factors.iterations, 15);
    assert_true(mc->factors.alpha == 5);
    assert_true(mc->factors.nu == 0.5);
    assert_int_equal(mc->holdout.mode, RECSYS_HOLDOUT_MODE_RANDOM);
    assert_int_equal(mc->promote.n, 0);
    recsys_catalog_free(c);

    test_error("source: {path: /x.jsonl}\n"
               "index: {path: /data/idx, dimension: 4}\n"
               "model: {item_item: {}}\n",
               "3:8: \"model\" trains from the events store: it needs an"
               " \"events\" section");

    test_error("source: {path: /x.jsonl}\n"
               "index: {path: /data/idx, dimension: 4}\n"
               "events: {types: {click: 1}}\n"
               "model: {min_events: 2}\n",
               "4:8: \"model\" trains nothing: give at least one of"
               " \"popularity\", \"item_item\", \"factors\"");

    /* the index holds the factors' item vectors */
    test_error("source: {path: /x.jsonl}\n"
               "index: {path: /data/idx, dimension: 4,"
               " metric: inner_product}\n"
               "events: {types: {click: 1}}\n"
               "model:\n  factors: {factors: 8}\n",
               "5:12: \"factors\" makes the index hold the model's item"
               " vectors: it needs index.dimension equal to"
               " factors.factors (8, not 4) and index.metric inner_product"
               " (the dot product ALS fits)");

    test_error("source: {path: /x.jsonl}\n"
               "index: {path: /data/idx, dimension: 8}\n"
               "events: {types: {click: 1}}\n"
               "model:\n  factors: {factors: 8}\n",
               "5:12: \"factors\" makes the index hold the model's item"
               " vectors: it needs index.dimension equal to"
               " factors.factors (8, not 8) and index.metric inner_product"
               " (the dot product ALS fits)");

    test_error("source: {path: /x.jsonl}\n"
               "index: {path: /data/idx, dimension: 4}\n"
               "events: {types: {click: 1}}\n"
               "model:\n  popularity: {blend: 0.5}\n",
               "5:16: \"blend\" is only valid with mode blend");

    test_error("source: {path: /x.jsonl}\n"
               "index: {path: /data/idx, dimension: 4}\n"
               "events: {types: {click: 1}}\n"
               "model:\n  item_item: {}\n"
               "  promote_if: recall >= 1\n",
               "6:15: \"promote_if\" expects \"always\" or recall_at_10 or"
               " ndcg_at_10 at offset 0");
}


static void
test_promote(void **state)
{
    char              err[256];
    double            fresh[2], served[2];
    recsys_promote_t  p;

    (void) state;

    assert_int_equal(recsys_promote_parse("recall_at_10 >= served * 0.98"
                                          " and ndcg_at_10 > served - 0.01"
                                          " and recall_at_10 >= 0.1",
                                          &p, err, sizeof(err)), 0);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.conds[1].metric, RECSYS_PROMOTE_NDCG);
    assert_int_equal(p.conds[1].strict, 1);
    assert_true(p.conds[1].offset == -0.01);
    assert_int_equal(p.conds[2].served, 0);
    assert_true(p.conds[2].offset == 0.1);

    fresh[0] = 0.20; fresh[1] = 0.30;
    served[0] = 0.204; served[1] = 0.305;
    assert_int_equal(recsys_promote_eval(&p, fresh, 1, served), 1);

    served[0] = 0.21;   /* 0.20 < 0.21 * 0.98 = 0.2058 */
    assert_int_equal(recsys_promote_eval(&p, fresh, 1, served), 0);

    /* nothing served: only the constant holds */
    assert_int_equal(recsys_promote_eval(&p, fresh, 0, served), 1);
    fresh[0] = 0.05;
    assert_int_equal(recsys_promote_eval(&p, fresh, 0, served), 0);

    assert_int_equal(recsys_promote_parse("always", &p, err, sizeof(err)),
                     0);
    assert_int_equal(p.n, 0);
    assert_int_equal(recsys_promote_eval(&p, fresh, 1, served), 1);

    assert_int_equal(recsys_promote_parse("always and", &p, err,
                                          sizeof(err)), -1);
    assert_string_equal(err, "has text after \"always\"");
    assert_int_equal(recsys_promote_parse("recall_at_10 = served", &p, err,
                                          sizeof(err)), -1);
    assert_string_equal(err, "expects \">=\" or \">\" at offset 13");
    assert_int_equal(recsys_promote_parse("recall_at_10 >= served or", &p,
                                          err, sizeof(err)), -1);
    assert_string_equal(err, "expects \"and\" or the end at offset 23");
    assert_int_equal(recsys_promote_parse("ndcg_at_10 >= servedx", &p, err,
                                          sizeof(err)), -1);
    assert_string_equal(err, "expects \"served\" or a number at offset"
                        " 14");
    assert_int_equal(recsys_promote_parse("ndcg_at_10 >= 0.1 and"
                                          " ndcg_at_10 >= 0.1 and"
                                          " ndcg_at_10 >= 0.1 and"
                                          " ndcg_at_10 >= 0.1 and"
                                          " ndcg_at_10 >= 0.1", &p, err,
                                          sizeof(err)), -1);
    assert_string_equal(err, "has more than 4 comparisons");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_valid_full),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_bad_enum),
        cmocka_unit_test(test_missing_key),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_not_mapping),
        cmocka_unit_test(test_cannot_open),
        cmocka_unit_test(test_index_path_bound),
        cmocka_unit_test(test_factory_in_yaml),
        cmocka_unit_test(test_interpolate_yaml),
        cmocka_unit_test(test_interpolate),
        cmocka_unit_test(test_factory_valid),
        cmocka_unit_test(test_maintenance),
        cmocka_unit_test(test_maintenance_keys),
        cmocka_unit_test(test_postgresql_source),
        cmocka_unit_test(test_users),
        cmocka_unit_test(test_users_errors),
        cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_promote),
        cmocka_unit_test(test_events_errors),
        cmocka_unit_test(test_ranking),
        cmocka_unit_test(test_ranking_errors),
    };

    return cmocka_run_group_tests(tests, test_setup, test_teardown);
}
