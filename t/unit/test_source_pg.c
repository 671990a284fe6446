/*
 * Unit tests for recsys_source_pg.c and the builder's postgresql path,
 * against a real server (scripts/pg.sh; "make unit" starts one): full and
 * incremental builds, the binary decoding of real[], every kind of bad
 * row (named by id, nothing published), attributes stored as compact
 * JSON like the JSON Lines source's, no password in errors or manifests
 * (the parsing of DSNs is tested offline in test_pg_dsn.c), full builds
 * forced by option and schedule, cancel and rollback.  Without
 * RECSYS_DATABASE_URL it says SKIP, unless RECSYS_REQUIRE_DATABASE=1
 * ("make unit"), which makes that a failure.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <libpq-fe.h>
#include <faiss/c_api/IndexIVF_c.h>
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/index_io_c.h>

#include "recsys_builder.h"
#include "recsys_files.h"
#include "recsys_source_pg.h"


#define DIM      8
#define NROWS    200


static char         test_root[64];
static PGconn      *db;
static const char  *db_url;


static const char *pg_port(void);
static void azure_user(recsys_catalog_t *c, const char *idx);


static int
group_setup(void **state)
{
    (void) state;

    snprintf(test_root, sizeof(test_root), "/tmp/recsys-pg-XXXXXX");

    if (mkdtemp(test_root) == NULL) {
        return -1;
    }

    db = PQconnectdb(db_url);

    if (PQstatus(db) != CONNECTION_OK) {
        print_error("cannot connect to RECSYS_DATABASE_URL: %s",
                    PQerrorMessage(db));
        return -1;
    }

    PQclear(PQexec(db, "SET client_min_messages = warning"));

    return 0;
}


static int
group_teardown(void **state)
{
    char  err[RECSYS_ERRLEN];

    (void) state;

    PQfinish(db);

    return recsys_remove_tree(test_root, err, sizeof(err));
}


static void
sql(const char *fmt, ...)
{
    char       buf[4096];
    va_list    args;
    PGresult  *res;

    va_start(args, fmt);
    vsnprintf(buf, sizeof(buf), fmt, args);
    va_end(args);

    res = PQexec(db, buf);

    if (PQresultStatus(res) != PGRES_COMMAND_OK
        && PQresultStatus(res) != PGRES_TUPLES_OK)
    {
        fail_msg("%s: %s", buf, PQerrorMessage(db));
    }

    PQclear(res);
}


/* the vector of row g: whole and half numbers, exact in float32 */

#define VEC_SQL  "ARRAY(SELECT (((g * 31 + j * 17) %% 23) - 11.5)::real" \
                 " FROM generate_series(0, 7) j)"

static float
vec_value(int g, int j)
{
    return (float) (((g * 31 + j * 17) % 23) - 11.5);
}


static void
make_table(const char *name, int n)
{
    sql("DROP TABLE IF EXISTS %s", name);
    sql("CREATE TABLE %s (id text, embedding real[], title text,"
        " category text, popularity double precision, attributes jsonb,"
        " updated_at timestamptz NOT NULL DEFAULT now(),"
        " deleted boolean NOT NULL DEFAULT false)", name);
    sql("INSERT INTO %s (id, embedding, title, category, popularity,"
        " attributes) SELECT 'item-' || g, " VEC_SQL ", 'Title ' || g,"
        " 'cat' || (g %% 4), g, jsonb_build_object('n', g)"
        " FROM generate_series(1, %d) g", name, n);
}


static void
catalog_init(recsys_catalog_t *c, const char *table, const char *index)
{
    memset(c, 0, sizeof(recsys_catalog_t));

    c->file = (char *) "test.yaml";
    c->source.type = RECSYS_SOURCE_POSTGRESQL;
    c->source.dsn = (char *) db_url;
    c->source.table = (char *) table;
    c->source.batch_size = 7;
    c->index.path = (char *) index;
    c->index.dimension = DIM;
    c->index.metric = RECSYS_METRIC_L2;
    c->index.factory = (char *) "IVF4,Flat";
    c->index.nprobe = 4;
    c->index.keep = 3;
    c->maintenance.full_interval = 86400;
}


static void
index_dir(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", test_root, name);
}


static int
count_tmp(const char *dir)
{
    int             n;
    DIR            *d;
    struct dirent  *de;

    d = opendir(dir);
    if (d == NULL) {
        return 0;
    }

    n = 0;

    while ((de = readdir(d)) != NULL) {
        n += (strncmp(de->d_name, ".tmp-", 5) == 0);
    }

    closedir(d);

    return n;
}


static void
open_current(recsys_generation_t *g, const char *index)
{
    char  dir[4096], err[RECSYS_ERRLEN];

    assert_int_equal(recsys_current_dir(index, dir, sizeof(dir), err,
                                        sizeof(err)), 0);

    if (recsys_generation_open(g, dir, DIM, -1, 0, err, sizeof(err)) != 0) {
        fail_msg("%s: %s", dir, err);
    }
}


/* the IVF centroids of a generation's index.faiss, malloc'ed */

static float *
centroids(const char *index, uint64_t generation, size_t *n)
{
    char            path[4096];
    float          *c;
    FaissIndex     *idx, *q;
    FaissIndexIVF  *ivf;

    snprintf(path, sizeof(path), "%s/generations/%llu/index.faiss", index,
             (unsigned long long) generation);

    assert_int_equal(faiss_read_index_fname(path, 0, &idx), 0);
    ivf = faiss_IndexIVF_cast(idx);
    assert_non_null(ivf);

    q = faiss_IndexIVF_quantizer(ivf);
    *n = (size_t) faiss_Index_ntotal(q) * DIM;

    c = malloc(*n * sizeof(float));
    assert_non_null(c);
    assert_int_equal(faiss_Index_reconstruct_n(q, 0, faiss_Index_ntotal(q),
                                               c), 0);
    faiss_Index_free(idx);

    return c;
}


static void
test_full_build(void **state)
{
    int                     j;
    char                    idx[256];
    int64_t                 row;
    recsys_item_t           it;
    recsys_catalog_t        c;
    recsys_generation_t     g;
    recsys_build_result_t   res;

    (void) state;

    make_table("t_full", NROWS);
    index_dir(idx, sizeof(idx), "full");
    catalog_init(&c, "t_full", idx);

    if (recsys_build_ex(&c, NULL, &res) != 0) {
        fail_msg("%s", res.error);
    }

    assert_int_equal(res.success, 1);
    assert_int_equal(res.published, 1);
    assert_int_equal(res.full, 1);
    assert_int_equal(res.items, NROWS);
    assert_int_equal(res.generation, 1);
    assert_int_equal(res.source_ok, 1);
    assert_true(res.source_seconds > 0);
    assert_int_equal(strlen(res.watermark), 29);
    assert_string_equal(res.factory, "IVF4,Flat");

    open_current(&g, idx);

    assert_int_equal(g.manifest.full, 1);
    assert_string_equal(g.manifest.source_type, "postgresql");
    assert_string_equal(g.manifest.watermark, res.watermark);
    assert_string_equal(g.manifest.factory_conf, "IVF4,Flat");
    assert_non_null(strstr(g.manifest.source, ":***@"));
    assert_null(strstr(g.manifest.source, "s3cret"));

    /* the binary real[] decoded exactly, in the row the id maps to */
    row = recsys_items_find(&g.items, "item-7", 6);
    assert_true(row >= 0);

    for (j = 0; j < DIM; j++) {
        assert_true(g.vectors[row * DIM + j] == vec_value(7, j));
    }

    recsys_items_get(&g.items, (uint32_t) row, &it);
    assert_int_equal(it.title_len, 7);
    assert_memory_equal(it.title, "Title 7", 7);
    assert_memory_equal(it.category, "cat3", 4);
    assert_true(it.popularity == 7.0f);
    assert_int_equal(it.attributes_len, strlen("{\"n\":7}"));
    assert_memory_equal(it.attributes, "{\"n\":7}", it.attributes_len);

    recsys_generation_close(&g);

    /* a custom query: double precision[], integer ids, no updated_at */
    make_table("t_query", 30);
    index_dir(idx, sizeof(idx), "query");
    catalog_init(&c, NULL, idx);
    c.source.query = (char *) "SELECT substr(id, 6)::int AS id,"
                              " embedding::float8[] AS embedding,"
                              " popularity::real AS popularity FROM t_query";
    c.index.factory = (char *) "auto";

    if (recsys_build_ex(&c, NULL, &res) != 0) {
        fail_msg("%s", res.error);
    }

    assert_int_equal(res.items, 30);
    assert_string_equal(res.watermark, "");

    open_current(&g, idx);
    row = recsys_items_find(&g.items, "12", 2);
    assert_true(row >= 0);

    for (j = 0; j < DIM; j++) {
        assert_true(g.vectors[row * DIM + j] == vec_value(12, j));
    }

    recsys_generation_close(&g);

    /* without updated_at every build is full */
    assert_int_equal(recsys_build_ex(&c, NULL, &res), 0);
    assert_int_equal(res.full, 1);
    assert_int_equal(res.generation, 2);
}


static void
expect_failure(const char *table, const char *query, const char *want)
{
    char                    idx[256];
    recsys_catalog_t        c;
    recsys_build_result_t   res;

    index_dir(idx, sizeof(idx), "bad");
    catalog_init(&c, table, idx);
    c.source.query = (char *) query;

    assert_int_equal(recsys_build_ex(&c, NULL, &res), -1);
    assert_int_equal(res.success, 0);

    if (strstr(res.error, want) == NULL) {
        fail_msg("error \"%s\" does not contain \"%s\"", res.error, want);
    }

    assert_int_equal(recsys_last_generation(idx), 0);
    assert_int_equal(count_tmp(idx), 0);
}


static void
test_bad_rows(void **state)
{
    (void) state;

    make_table("t_bad", 20);

    sql("INSERT INTO t_bad (id, embedding) VALUES ('bad-null', NULL)");
    expect_failure("t_bad", NULL,
                   "postgresql: row id \"bad-null\": embedding is NULL");
    sql("DELETE FROM t_bad WHERE id LIKE 'bad-%%'");

    sql("INSERT INTO t_bad (id, embedding) VALUES ('bad-len', '{1,2,3}')");
    expect_failure("t_bad", NULL, "row id \"bad-len\": embedding has 3"
                   " numbers, expected 8");
    sql("DELETE FROM t_bad WHERE id LIKE 'bad-%%'");

    sql("INSERT INTO t_bad (id, embedding) VALUES ('bad-empty', '{}')");
    expect_failure("t_bad", NULL, "row id \"bad-empty\": embedding is empty");
    sql("DELETE FROM t_bad WHERE id LIKE 'bad-%%'");

    sql("INSERT INTO t_bad (id, embedding) VALUES ('bad-nan',"
        " '{1,2,3,4,5,6,7,NaN}')");
    expect_failure("t_bad", NULL, "row id \"bad-nan\": embedding[7] is not"
                   " a finite float32 number");
    sql("DELETE FROM t_bad WHERE id LIKE 'bad-%%'");

    sql("INSERT INTO t_bad (id, embedding) VALUES ('bad-inf',"
        " '{1,Infinity,3,4,5,6,7,8}')");
    expect_failure("t_bad", NULL, "row id \"bad-inf\": embedding[1] is not");
    sql("DELETE FROM t_bad WHERE id LIKE 'bad-%%'");

    sql("INSERT INTO t_bad (id, embedding) VALUES ('bad-elem',"
        " '{1,2,NULL,4,5,6,7,8}')");
    expect_failure("t_bad", NULL, "row id \"bad-elem\": embedding[2] is"
                   " NULL");
    sql("DELETE FROM t_bad WHERE id LIKE 'bad-%%'");

    sql("INSERT INTO t_bad (id, embedding) VALUES ('bad-2d',"
        " '{{1,2,3,4},{5,6,7,8}}')");
    expect_failure("t_bad", NULL, "row id \"bad-2d\": embedding has 2"
                   " dimensions");
    sql("DELETE FROM t_bad WHERE id LIKE 'bad-%%'");

    sql("INSERT INTO t_bad (id, embedding, popularity) VALUES ('bad-pop',"
        " '{1,2,3,4,5,6,7,8}', 'Infinity')");
    expect_failure("t_bad", NULL, "row id \"bad-pop\": popularity is not a"
                   " finite number");
    sql("DELETE FROM t_bad WHERE id LIKE 'bad-%%'");

    sql("INSERT INTO t_bad (id, embedding, attributes) VALUES ('bad-attr',"
        " '{1,2,3,4,5,6,7,8}', '[1, 2]')");
    expect_failure("t_bad", NULL, "row id \"bad-attr\": attributes must be"
                   " a JSON object");
    sql("DELETE FROM t_bad WHERE id LIKE 'bad-%%'");

    sql("INSERT INTO t_bad (id, embedding) VALUES ('item-3',"
        " '{1,2,3,4,5,6,7,8}')");
    expect_failure("t_bad", NULL, "row id \"item-3\": duplicate id");
    sql("DELETE FROM t_bad WHERE id = 'item-3' AND title IS NULL");

    sql("INSERT INTO t_bad (id, embedding) VALUES (NULL,"
        " '{1,2,3,4,5,6,7,8}')");
    expect_failure("t_bad", NULL, "id is NULL");
    sql("DELETE FROM t_bad WHERE id IS NULL");

    /* wrong column types, missing columns, a bad query or table */
    expect_failure(NULL, "SELECT id, embedding::numeric[] AS embedding"
                   " FROM t_bad", "column \"embedding\" is numeric[],"
                   " expected real[] or double precision[]");
    expect_failure(NULL, "SELECT id, embedding, 1.5 AS popularity"
                   " FROM t_bad", "column \"popularity\" is numeric,"
                   " expected double precision");
    expect_failure(NULL, "SELECT id, embedding, now()::text AS updated_at"
                   " FROM t_bad", "column \"updated_at\" is text");
    expect_failure(NULL, "SELECT id FROM t_bad",
                   "the source has no \"embedding\" column");
    expect_failure("t_missing", NULL, "relation \"t_missing\" does not"
                   " exist");

    expect_failure(NULL, "SELECT 1", "no \"id\" column");
}


/* the attributes of item id in the current generation of index */

static void
get_attributes(const char *index, const char *id, char *buf, size_t size)
{
    int64_t               row;
    recsys_item_t         it;
    recsys_generation_t   g;

    open_current(&g, index);

    row = recsys_items_find(&g.items, id, strlen(id));
    assert_true(row >= 0);

    recsys_items_get(&g.items, (uint32_t) row, &it);
    assert_true(it.attributes_len < size);

    if (it.attributes_len > 0) {
        memcpy(buf, it.attributes, it.attributes_len);
    }

    buf[it.attributes_len] = '\0';

    recsys_generation_close(&g);
}


/*
 * jsonb prints a blank after each ":" and ","; json keeps the text as
 * written.  Both must come out as the JSON Lines source stores the same
 * object: compact, numbers re-printed (jsonb reorders keys, json not).
 */

static void
test_attributes(void **state)
{
    int                     i;
    FILE                   *f;
    char                    idx[256], path[256], pg[1024], file[1024];
    recsys_catalog_t        c;
    recsys_build_result_t   res;

    static const char  *objects[] = {
        "{\"b\": [1, 2.50, {\"c\": null}], \"a\": \"x y\", \"longer\": true,"
        " \"u\": \"caf\\u00e9 \\\"q\\\"\"}",
        "{ \"z\" :  1.50e1 ,\t\"a\":[ ] , \"e\" : {} }",
    };

    (void) state;

    make_table("t_attr", 4);

    for (i = 0; i < 2; i++) {
        sql("UPDATE t_attr SET attributes = $q$%s$q$ WHERE id = 'item-%d'",
            objects[i], i + 1);
    }

    sql("UPDATE t_attr SET attributes = 'null' WHERE id = 'item-3'");
    sql("UPDATE t_attr SET attributes = NULL WHERE id = 'item-4'");

    index_dir(path, sizeof(path), "attr.jsonl");
    f = fopen(path, "w");
    assert_non_null(f);

    for (i = 0; i < 2; i++) {
        fprintf(f, "{\"id\": \"j%d\", \"vector\": [1, 2, 3, 4, 5, 6, 7, 8],"
                " \"attributes\": %s}\n", i + 1, objects[i]);
    }

    fclose(f);

    /* jsonb, then the json text as written, through a query */
    for (i = 0; i < 2; i++) {
        index_dir(idx, sizeof(idx), i == 0 ? "attr-jsonb" : "attr-json");
        catalog_init(&c, i == 0 ? "t_attr" : NULL, idx);

        if (i == 1) {
            c.source.query = (char *) "SELECT id, embedding,"
                " (CASE id WHEN 'item-1' THEN attributes::text"
                " WHEN 'item-2' THEN $j$" "{ \"z\" :  1.50e1 ,\t\"a\":[ ] ,"
                " \"e\" : {} }" "$j$ END)::json AS attributes FROM t_attr";
        }

        if (recsys_build_ex(&c, NULL, &res) != 0) {
            fail_msg("%s", res.error);
        }

        get_attributes(idx, "item-1", pg, sizeof(pg));
        assert_string_equal(pg, "{\"a\":\"x y\",\"b\":[1,2.5,{\"c\":null}],"
                                "\"u\":\"caf\xc3\xa9 \\\"q\\\"\","
                                "\"longer\":true}");

        get_attributes(idx, "item-2", pg, sizeof(pg));
        assert_string_equal(pg, i == 0 ? "{\"a\":[],\"e\":{},\"z\":15}"
                                       : "{\"z\":15,\"a\":[],\"e\":{}}");

        /* a JSON null and an SQL NULL are no attributes */
        get_attributes(idx, "item-3", pg, sizeof(pg));
        assert_string_equal(pg, "");
        get_attributes(idx, "item-4", pg, sizeof(pg));
        assert_string_equal(pg, "");
    }

    /* the JSON Lines source gives the json column's bytes */
    index_dir(idx, sizeof(idx), "attr-file");
    catalog_init(&c, NULL, idx);
    c.source.type = RECSYS_SOURCE_FILE;
    c.source.path = path;

    if (recsys_build_ex(&c, NULL, &res) != 0) {
        fail_msg("%s", res.error);
    }

    get_attributes(idx, "j2", file, sizeof(file));
    index_dir(idx, sizeof(idx), "attr-json");
    get_attributes(idx, "item-2", pg, sizeof(pg));
    assert_string_equal(pg, file);
}


static void
test_password_redaction(void **state)
{
    char                    idx[256], dsn[512];
    const char             *at;
    recsys_catalog_t        c;
    recsys_build_result_t   res;

    (void) state;

    make_table("t_pw", 10);
    index_dir(idx, sizeof(idx), "pw");
    catalog_init(&c, "t_pw", idx);

    /* the URL has user:password@: swap in a wrong password */
    at = strrchr(db_url, '@');
    assert_non_null(at);
    snprintf(dsn, sizeof(dsn), "postgresql://recsys:Wr0ng-s3cret-x%s", at);
    c.source.dsn = dsn;

    assert_int_equal(recsys_build_ex(&c, NULL, &res), -1);
    assert_int_equal(res.source_ok, 0);
    assert_non_null(strstr(res.error, "cannot connect to"));
    assert_non_null(strstr(res.error, "recsys:***@"));
    assert_null(strstr(res.error, "Wr0ng-s3cret-x"));

    /* libpq quotes a bad percent-encoded token: never given to it */
    snprintf(dsn, sizeof(dsn), "postgresql://recsys:p%%zzs3cret%s", at);
    assert_int_equal(recsys_build_ex(&c, NULL, &res), -1);
    assert_null(strstr(res.error, "zzs3cret"));
    assert_non_null(strstr(res.error, "(a bad percent-encoding at byte"));

    snprintf(dsn, sizeof(dsn), "host=127.0.0.1 port=%s dbname=recsys"
             " user=recsys password='Wr0ng s3cret'", pg_port());
    assert_int_equal(recsys_build_ex(&c, NULL, &res), -1);
    assert_null(strstr(res.error, "Wr0ng s3cret"));
    assert_non_null(strstr(res.error, "password='***'"));

    /* a keyword without "=": libpq's message would quote what follows */
    snprintf(dsn, sizeof(dsn), "host=127.0.0.1 port=%s dbname=recsys"
             " user=recsys password=Wr0ng s3cret-x", pg_port());
    assert_int_equal(recsys_build_ex(&c, NULL, &res), -1);
    assert_int_equal(res.source_ok, 0);
    assert_null(strstr(res.error, "s3cret-x"));
    assert_non_null(strstr(res.error, "not a usable connection string (a "
                           "keyword without \"=\" at byte"));

    assert_int_equal(recsys_last_generation(idx), 0);

    azure_user(&c, idx);
}


static const char *
pg_port(void)
{
    return getenv("RECSYS_PG_PORT") ? getenv("RECSYS_PG_PORT") : "55432";
}


/*
 * An Azure-style user name ("name@server") in the URI's query, with the
 * password after it: the "@" is not the user info's.  It connects, and
 * its password is in neither the manifest nor the error of a failure.
 */

static void
azure_user(recsys_catalog_t *c, const char *idx)
{
    char                    dsn[512];
    PGconn                 *admin;
    PGresult               *res0;
    const char             *url;
    recsys_generation_t     g;
    recsys_build_result_t   res;

    url = getenv("RECSYS_PG_ADMIN_URL");
    if (url == NULL) {
        fail_msg("RECSYS_PG_ADMIN_URL is not set (scripts/pg.sh env)");
    }

    admin = PQconnectdb(url);
    assert_int_equal(PQstatus(admin), CONNECTION_OK);

    res0 = PQexec(admin, "SET client_min_messages = warning;"
                  " DO $$ BEGIN CREATE ROLE \"rs7@corp\" LOGIN;"
                  " EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
                  " ALTER ROLE \"rs7@corp\" PASSWORD 'hunter2-az7';"
                  " GRANT SELECT ON t_pw TO \"rs7@corp\"");

    if (PQresultStatus(res0) != PGRES_COMMAND_OK) {
        fail_msg("%s", PQerrorMessage(admin));
    }

    PQclear(res0);
    PQfinish(admin);

    snprintf(dsn, sizeof(dsn), "postgresql://127.0.0.1:1/recsys"
             "?user=rs7@corp&password=hunter2-az7&connect_timeout=2");
    c->source.dsn = dsn;

    assert_int_equal(recsys_build_ex(c, NULL, &res), -1);
    assert_non_null(strstr(res.error, "?user=rs7@corp&password=***&"));
    assert_null(strstr(res.error, "hunter2"));

    snprintf(dsn, sizeof(dsn), "postgresql://127.0.0.1:%s/recsys"
             "?user=rs7@corp&password=hunter2-az7", pg_port());

    if (recsys_build_ex(c, NULL, &res) != 0) {
        fail_msg("%s", res.error);
    }

    assert_int_equal(res.items, 10);

    open_current(&g, idx);
    assert_null(strstr(g.manifest.source, "hunter2"));
    assert_non_null(strstr(g.manifest.source,
                           "/recsys?user=rs7@corp&password=***"));
    recsys_generation_close(&g);
}


static void
test_incremental(void **state)
{
    int                     j;
    char                    idx[256];
    float                  *c1, *c2;
    size_t                  n1, n2;
    int64_t                 row;
    recsys_item_t           it;
    recsys_catalog_t        c;
    recsys_generation_t     g;
    recsys_build_opts_t     o;
    recsys_build_result_t   res;

    (void) state;

    make_table("t_inc", NROWS);
    index_dir(idx, sizeof(idx), "inc");
    catalog_init(&c, "t_inc", idx);
    memset(&o, 0, sizeof(recsys_build_opts_t));

    assert_int_equal(recsys_build_ex(&c, &o, &res), 0);
    assert_int_equal(res.full, 1);
    assert_int_equal(res.generation, 1);

    /* nothing changed: nothing published */
    assert_int_equal(recsys_build_ex(&c, &o, &res), 0);
    assert_int_equal(res.full, 0);
    assert_int_equal(res.published, 0);
    assert_int_equal(res.generation, 1);
    assert_int_equal(res.items, NROWS);

    sql("UPDATE t_inc SET title = 'changed', embedding = '{1,1,1,1,1,1,1,1}',"
        " updated_at = now() WHERE id = 'item-5'");
    sql("UPDATE t_inc SET deleted = true, updated_at = now()"
        " WHERE id = 'item-6'");
    sql("INSERT INTO t_inc (id, embedding, title) VALUES ('new-1',"
        " '{2,2,2,2,2,2,2,2}', 'New')");

    if (recsys_build_ex(&c, &o, &res) != 0) {
        fail_msg("%s", res.error);
    }

    assert_int_equal(res.full, 0);
    assert_int_equal(res.published, 1);
    assert_int_equal(res.generation, 2);
    assert_int_equal(res.items, NROWS);

    open_current(&g, idx);
    assert_int_equal(g.manifest.full, 0);
    assert_int_equal(g.manifest.previous, 1);
    assert_int_equal(g.items.count, NROWS);
    assert_int_equal(recsys_items_find(&g.items, "item-6", 6), -1);

    row = recsys_items_find(&g.items, "new-1", 5);
    assert_true(row >= 0);
    assert_true(g.vectors[row * DIM] == 2.0f);

    row = recsys_items_find(&g.items, "item-5", 6);
    assert_true(row >= 0);
    recsys_items_get(&g.items, (uint32_t) row, &it);
    assert_memory_equal(it.title, "changed", 7);
    assert_true(g.vectors[row * DIM + 3] == 1.0f);

    row = recsys_items_find(&g.items, "item-9", 6);
    assert_true(row >= 0);

    for (j = 0; j < DIM; j++) {
        assert_true(g.vectors[row * DIM + j] == vec_value(9, j));
    }

    recsys_generation_close(&g);

    /* the trained quantizer was reused */
    c1 = centroids(idx, 1, &n1);
    c2 = centroids(idx, 2, &n2);
    assert_int_equal(n1, 4 * DIM);
    assert_int_equal(n1, n2);
    assert_memory_equal(c1, c2, n1 * sizeof(float));
    free(c1);
    free(c2);

    /* a deleted row deleted again, a re-read identical row: no change */
    sql("UPDATE t_inc SET updated_at = now() WHERE id IN ('item-6',"
        " 'item-7')");
    assert_int_equal(recsys_build_ex(&c, &o, &res), 0);
    assert_int_equal(res.published, 0);
    assert_int_equal(res.generation, 2);

    /* a hard DELETE is not in the changed rows: the count forces full */
    sql("DELETE FROM t_inc WHERE id = 'item-8'");
    assert_int_equal(recsys_build_ex(&c, &o, &res), 0);
    assert_int_equal(res.full, 1);
    assert_int_equal(res.generation, 3);
    assert_int_equal(res.items, NROWS - 1);

    /* forced */
    sql("UPDATE t_inc SET popularity = 0, updated_at = now()"
        " WHERE id = 'item-10'");
    o.force_full = 1;
    assert_int_equal(recsys_build_ex(&c, &o, &res), 0);
    assert_int_equal(res.full, 1);
    assert_int_equal(res.generation, 4);

    /* full_interval 0: always full */
    o.force_full = 0;
    c.maintenance.full_interval = 0;
    sql("UPDATE t_inc SET popularity = 1, updated_at = now()"
        " WHERE id = 'item-10'");
    assert_int_equal(recsys_build_ex(&c, &o, &res), 0);
    assert_int_equal(res.full, 1);
    assert_int_equal(res.generation, 5);

    /* another configured factory: full */
    c.maintenance.full_interval = 86400;
    c.index.factory = (char *) "IVF2,Flat";
    sql("UPDATE t_inc SET popularity = 2, updated_at = now()"
        " WHERE id = 'item-10'");
    assert_int_equal(recsys_build_ex(&c, &o, &res), 0);
    assert_int_equal(res.full, 1);
    assert_string_equal(res.factory, "IVF2,Flat");

    /* a duplicate among the changed rows fails, naming it */
    sql("INSERT INTO t_inc (id, embedding) VALUES ('item-11',"
        " '{3,3,3,3,3,3,3,3}')");
    assert_int_equal(recsys_build_ex(&c, &o, &res), -1);
    assert_non_null(strstr(res.error, "row id \"item-11\": duplicate id"));
    assert_int_equal(recsys_last_generation(idx), 6);
    assert_int_equal(count_tmp(idx), 0);
}


static void
test_cancel(void **state)
{
    char                    idx[256];
    volatile int            cancel;
    recsys_catalog_t        c;
    recsys_build_opts_t     o;
    recsys_build_result_t   res;

    (void) state;

    make_table("t_cancel", NROWS);
    index_dir(idx, sizeof(idx), "cancel");
    catalog_init(&c, "t_cancel", idx);

    memset(&o, 0, sizeof(recsys_build_opts_t));
    cancel = 1;
    o.cancel = &cancel;
    o.threads = 1;

    assert_int_equal(recsys_build_ex(&c, &o, &res), -1);
    assert_non_null(strstr(res.error, "cancelled"));
    assert_int_equal(recsys_last_generation(idx), 0);
    assert_int_equal(count_tmp(idx), 0);

    cancel = 0;
    assert_int_equal(recsys_build_ex(&c, &o, &res), 0);
    assert_int_equal(res.generation, 1);
}


static void
test_rollback(void **state)
{
    char                    idx[256], err[RECSYS_ERRLEN], path[512];
    uint64_t                gen;
    struct stat             st;
    recsys_catalog_t        c;
    recsys_build_opts_t     o;
    recsys_build_result_t   res;

    (void) state;

    make_table("t_rb", NROWS);
    index_dir(idx, sizeof(idx), "rb");
    catalog_init(&c, "t_rb", idx);
    memset(&o, 0, sizeof(recsys_build_opts_t));
    o.force_full = 1;

    assert_int_equal(recsys_rollback(&c, &gen, err, sizeof(err)), -1);

    assert_int_equal(recsys_build_ex(&c, &o, &res), 0);
    assert_int_equal(recsys_build_ex(&c, &o, &res), 0);
    assert_int_equal(recsys_build_ex(&c, &o, &res), 0);
    assert_int_equal(res.generation, 3);

    assert_int_equal(recsys_rollback(&c, &gen, err, sizeof(err)), 0);
    assert_int_equal(gen, 2);
    assert_int_equal(recsys_rollback(&c, &gen, err, sizeof(err)), 0);
    assert_int_equal(gen, 1);
    assert_int_equal(recsys_rollback(&c, &gen, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no generation to roll back to from 1"));

    /* a build over 1 is 4; rolling back from it returns to 1, not 3 */
    o.force_full = 0;
    sql("UPDATE t_rb SET title = 'x', updated_at = now() WHERE id = 'item-1'");
    assert_int_equal(recsys_build_ex(&c, &o, &res), 0);
    assert_int_equal(res.generation, 4);
    assert_int_equal(res.full, 0);

    /* keep 1 still keeps the rollback target, 1 */
    c.index.keep = 1;
    sql("UPDATE t_rb SET title = 'y', updated_at = now() WHERE id = 'item-1'");
    assert_int_equal(recsys_build_ex(&c, &o, &res), 0);
    assert_int_equal(res.generation, 5);

    snprintf(path, sizeof(path), "%s/generations/4", idx);
    assert_int_equal(stat(path, &st), 0);
    snprintf(path, sizeof(path), "%s/generations/3", idx);
    assert_int_equal(stat(path, &st), -1);

    assert_int_equal(recsys_rollback(&c, &gen, err, sizeof(err)), 0);
    assert_int_equal(gen, 4);

    /* a corrupt candidate is skipped */
    snprintf(path, sizeof(path), "%s/generations/4/vectors.f32", idx);
    assert_int_equal(truncate(path, 4), 0);
    assert_int_equal(recsys_set_current(idx, 5, err, sizeof(err)), 0);
    assert_int_equal(recsys_rollback(&c, &gen, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "generation 4: vectors.f32"));
}


int
main(void)
{
    const char              *require;
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_full_build),
        cmocka_unit_test(test_bad_rows),
        cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_password_redaction),
        cmocka_unit_test(test_incremental),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_rollback),
    };

    db_url = getenv("RECSYS_DATABASE_URL");
    require = getenv("RECSYS_REQUIRE_DATABASE");

    /* "make unit" always has a server: a skip there would hide the tests */
    if (db_url == NULL || db_url[0] == '\0') {
        if (require != NULL && strcmp(require, "1") == 0) {
            printf("FAIL: RECSYS_REQUIRE_DATABASE=1 and "
                   "RECSYS_DATABASE_URL is not set\n");
            return 1;
        }

        printf("SKIP: RECSYS_DATABASE_URL is not set (scripts/pg.sh)\n");
        return 0;
    }

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
