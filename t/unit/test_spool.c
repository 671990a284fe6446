/*
 * Unit tests for recsys_spool.c: workers' segments (append, a failed
 * append keeps nothing, seal), a dead writer's segment and its torn last
 * line, and shipping exactly once into the file store and into
 * PostgreSQL, across a pass that died after its data and before its
 * commit.  The PostgreSQL part needs RECSYS_DATABASE_URL (scripts/pg.sh);
 * without it that test says SKIP, unless RECSYS_REQUIRE_DATABASE=1.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "recsys_events.h"
#include "recsys_spool.h"


static char                   tmp[64], spool[128], store_path[160];
static char                   state_path[192];
static char                  *type_names[] = { "view" };
static double                 type_values[] = { 1 };
static recsys_events_conf_t   conf;
static const char            *db_url;


static void line(char *buf, int i);
static void spool_events(int from, int n, int per_write);
static int count_files(const char *prefix);
static int count_lines(const char *path, int *seen, int max);
static void ship(recsys_spool_store_t *s, recsys_spool_stats_t *st);
static void store_init(recsys_spool_store_t *s, int type);
static int state_read(char *sid, uint64_t *off, uint64_t *size);


static void
line(char *buf, int i)
{
    sprintf(buf, "{\"user\":\"u%d\",\"item\":\"i%d\",\"type\":\"view\","
            "\"ts\":\"2026-11-30T10:00:00Z\",\"weight\":1}\n", i % 7, i);
}


/* events from..from+n, per_write lines to one append, then sealed */
static void
spool_events(int from, int n, int per_write)
{
    int                     i, k;
    char                    buf[8192], err[RECSYS_SPOOL_ERRLEN];
    size_t                  len;
    recsys_spool_writer_t   w;

    recsys_spool_writer_init(&w);

    for (i = from; i < from + n; ) {
        len = 0;

        for (k = 0; k < per_write && i < from + n; k++, i++) {
            line(buf + len, i);
            len += strlen(buf + len);
        }

        if (recsys_spool_append(&w, spool, buf, len, 1, err, sizeof(err))
            != 0)
        {
            fail_msg("%s", err);
        }
    }

    assert_int_equal(count_files("open-"), 1);
    assert_int_equal(recsys_spool_seal(&w, spool, err, sizeof(err)), 0);
    assert_int_equal(w.fd, -1);
}


static int
count_files(const char *prefix)
{
    int   n;
    char  cmd[256], out[32];
    FILE *fp;

    snprintf(cmd, sizeof(cmd), "ls %s | grep -c '^%s' || true", spool,
             prefix);
    fp = popen(cmd, "r");
    n = (fp && fgets(out, sizeof(out), fp)) ? atoi(out) : -1;
    pclose(fp);

    return n;
}


/* lines of path; seen[i] counts event i */
static int
count_lines(const char *path, int *seen, int max)
{
    int    n, i;
    char   buf[512], *p;
    FILE  *fp;

    fp = fopen(path, "r");
    if (fp == NULL) {
        return 0;
    }

    n = 0;

    while (fgets(buf, sizeof(buf), fp)) {
        n++;
        p = strstr(buf, "\"item\":\"i");

        if (p && seen) {
            i = atoi(p + 9);
            assert_true(i >= 0 && i < max);
            seen[i]++;
        }
    }

    fclose(fp);

    return n;
}


static void
ship(recsys_spool_store_t *s, recsys_spool_stats_t *st)
{
    char  err[RECSYS_SPOOL_ERRLEN];

    if (recsys_spool_ship(s, spool, st, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
}


static void
store_init(recsys_spool_store_t *s, int type)
{
    memset(s, 0, sizeof(recsys_spool_store_t));
    conf.store.type = type;
    s->conf = &conf;
}


static int
state_read(char *sid, uint64_t *off, uint64_t *size)
{
    int                  n;
    FILE                *fp;
    unsigned long long   o, z;

    fp = fopen(state_path, "r");
    if (fp == NULL) {
        return -1;
    }

    n = fscanf(fp, "%127s %llu %llu", sid, &o, &z);
    fclose(fp);

    *off = o;
    *size = z;

    return n == 3 ? 0 : -1;
}


static int
setup(void **state)
{
    (void) state;

    strcpy(tmp, "/tmp/test_spool.XXXXXX");
    assert_non_null(mkdtemp(tmp));
    snprintf(spool, sizeof(spool), "%s/events", tmp);
    snprintf(store_path, sizeof(store_path), "%s/events.jsonl", tmp);
    snprintf(state_path, sizeof(state_path), "%s.shipped", store_path);
    assert_int_equal(mkdir(spool, 0700), 0);

    return 0;
}


static int
teardown(void **state)
{
    char  cmd[128];

    (void) state;

    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    assert_int_equal(system(cmd), 0);

    return 0;
}


static void
test_writer(void **state)
{
    int                     fd;
    char                    err[RECSYS_SPOOL_ERRLEN], buf[256];
    recsys_spool_writer_t   w;
    struct stat             sb;

    (void) state;

    recsys_spool_writer_init(&w);

    /* nothing is opened before the first event; an empty seal removes */
    assert_int_equal(recsys_spool_seal(&w, spool, err, sizeof(err)), 0);
    assert_int_equal(count_files(""), 0);

    line(buf, 1);
    assert_int_equal(recsys_spool_append(&w, spool, buf, strlen(buf), 0, err,
                                         sizeof(err)), 0);
    assert_int_equal(w.dirty, 1);
    assert_int_equal(recsys_spool_sync(&w, err, sizeof(err)), 0);
    assert_int_equal(w.dirty, 0);
    assert_int_equal(count_files("open-"), 1);

    /* the open segment is locked: it is not a dead writer's */
    snprintf(buf, sizeof(buf), "%s/open-%s.jsonl", spool, w.id);
    fd = open(buf, O_RDONLY);
    assert_int_not_equal(fd, -1);
    assert_int_not_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    close(fd);

    /* a write that fails leaves nothing: the segment is set aside */
    close(w.fd);
    w.fd = open("/dev/null", O_RDONLY);
    assert_int_equal(recsys_spool_append(&w, spool, "x\n", 2, 0, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "write() to spool segment"));
    assert_int_equal(w.fd, -1);
    assert_int_equal(count_files("ready-"), 1);

    snprintf(buf, sizeof(buf), "%s/ready-%s.jsonl", spool, w.id);
    assert_int_equal(stat(buf, &sb), 0);
    line(err, 1);
    assert_int_equal(sb.st_size, strlen(err));
    unlink(buf);
}


/* a writer killed with its segment open, in the middle of a write */
static void
test_dead_writer(void **state)
{
    int                    seen[10];
    pid_t                  pid;
    char                   buf[256], err[RECSYS_SPOOL_ERRLEN];
    recsys_spool_store_t   s;
    recsys_spool_stats_t   st;

    (void) state;

    pid = fork();
    assert_true(pid >= 0);

    if (pid == 0) {
        recsys_spool_writer_t  w;

        recsys_spool_writer_init(&w);
        line(buf, 0);
        line(buf + strlen(buf), 1);

        if (recsys_spool_append(&w, spool, buf, strlen(buf), 1, err,
                                sizeof(err))
            != 0)
        {
            _exit(1);
        }

        /* a torn line, as a write cut by SIGKILL leaves it */
        if (write(w.fd, "{\"user\":\"u", 10) != 10) {
            _exit(1);
        }

        kill(getpid(), SIGKILL);
        _exit(1);
    }

    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_int_equal(count_files("open-"), 1);

    store_init(&s, RECSYS_STORE_FILE);
    ship(&s, &st);

    assert_int_equal(st.shipped, 2);
    assert_int_equal(st.lost, 1);
    assert_int_equal(st.segments, 1);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(count_files(""), 0);

    memset(seen, 0, sizeof(seen));
    assert_int_equal(count_lines(store_path, seen, 10), 2);
    assert_int_equal(seen[0], 1);
    assert_int_equal(seen[1], 1);

    unlink(store_path);
    unlink(state_path);
}


static void
test_file_store(void **state)
{
    int                    i, seen[100];
    char                   sid[128], l[512];
    FILE                  *fp;
    size_t                 len;
    uint64_t               off, size, s50;
    recsys_spool_store_t   s;
    recsys_spool_stats_t   st;

    (void) state;

    /* lines 50..79 have one length */
    line(l, 50);
    len = strlen(l);

    conf.ship_batch = 7;
    store_init(&s, RECSYS_STORE_FILE);

    spool_events(0, 30, 4);
    spool_events(30, 20, 10);
    assert_int_equal(count_files("ready-"), 2);

    ship(&s, &st);
    assert_int_equal(st.shipped, 50);
    assert_int_equal(st.lost, 0);
    assert_int_equal(st.segments, 2);
    assert_int_equal(st.ready, 0);
    assert_int_equal(count_files(""), 0);

    /* nothing left: a second pass ships nothing */
    ship(&s, &st);
    assert_int_equal(st.shipped, 0);

    memset(seen, 0, sizeof(seen));
    assert_int_equal(count_lines(store_path, seen, 100), 50);

    for (i = 0; i < 50; i++) {
        assert_int_equal(seen[i], 1);
    }

    /*
     * A pass that appended a batch and died before its state: the state
     * says 14 of segment X's 30 lines are in, the file has 21 of them.
     * The next pass cuts the 7 and ships them again, once.
     */
    assert_int_equal(state_read(sid, &off, &s50), 0);

    spool_events(50, 30, 30);
    ship(&s, &st);
    assert_int_equal(st.shipped, 30);
    assert_int_equal(state_read(sid, &off, &size), 0);
    assert_int_equal(size, s50 + 30 * len);

    assert_int_equal(truncate(store_path, (off_t) (s50 + 21 * len)), 0);

    fp = fopen(state_path, "w");
    assert_non_null(fp);
    fprintf(fp, "%s %llu %llu\n", sid, (unsigned long long) (14 * len),
            (unsigned long long) (s50 + 14 * len));
    fclose(fp);

    snprintf(l, sizeof(l), "%s/ready-%s.jsonl", spool, sid);
    fp = fopen(l, "w");
    assert_non_null(fp);

    for (i = 50; i < 80; i++) {
        line(l, i);
        fputs(l, fp);
    }

    fclose(fp);

    ship(&s, &st);
    assert_int_equal(st.shipped, 16);

    memset(seen, 0, sizeof(seen));
    assert_int_equal(count_lines(store_path, seen, 100), 80);

    for (i = 0; i < 80; i++) {
        assert_int_equal(seen[i], 1);
    }

    unlink(store_path);
    unlink(state_path);
}


static int  cancel_after_commit, cancel;


static void
on_commit(void *data, uint64_t shipped, uint64_t lost)
{
    (void) data;
    (void) shipped;
    (void) lost;

    if (cancel_after_commit) {
        cancel = 1;
    }
}


static long
pg_count(PGconn *pg, const char *sql)
{
    long       n;
    PGresult  *res;

    res = PQexec(pg, sql);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fail_msg("%s: %s", sql, PQerrorMessage(pg));
    }

    n = atol(PQgetvalue(res, 0, 0));
    PQclear(res);

    return n;
}


/*
 * PostgreSQL: a pass stopped after its first commit resumes at the
 * committed offset; a segment that comes back after its last commit
 * (a crash before the unlink) adds nothing.
 */
static void
test_pg_store(void **state)
{
    char                   cmd[512], name[128];
    FILE                  *fp;
    PGconn                *pg;
    PGresult              *res;
    recsys_spool_store_t   s;
    recsys_spool_stats_t   st;

    (void) state;

    if (db_url == NULL) {
        skip();
    }

    pg = PQconnectdb(db_url);
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    res = PQexec(pg, "SET client_min_messages = warning; DROP TABLE IF "
                 "EXISTS test_spool_ev, test_spool_ev_shipped");
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);

    conf.ship_batch = 7;
    conf.store.dsn = (char *) db_url;
    conf.store.table = "test_spool_ev";
    store_init(&s, RECSYS_STORE_POSTGRESQL);
    s.commit = on_commit;
    s.cancel = &cancel;

    spool_events(0, 30, 5);

    snprintf(cmd, sizeof(cmd), "ls %s | grep '^ready-'", spool);
    fp = popen(cmd, "r");
    assert_non_null(fgets(name, sizeof(name), fp));
    pclose(fp);
    name[strcspn(name, "\n")] = '\0';

    snprintf(cmd, sizeof(cmd), "cp %s/%s %s/saved", spool, name, tmp);
    assert_int_equal(system(cmd), 0);

    cancel_after_commit = 1;
    ship(&s, &st);
    assert_int_equal(st.shipped, 7);
    assert_int_equal(st.ready, 1);
    assert_int_equal(pg_count(pg, "SELECT count(*) FROM test_spool_ev"), 7);
    assert_int_equal(pg_count(pg, "SELECT \"offset\" FROM "
                                  "test_spool_ev_shipped"),
                     7 * strlen("{\"user\":\"u0\",\"item\":\"i0\",\"type\":"
                                "\"view\",\"ts\":\"2026-11-30T10:00:00Z\","
                                "\"weight\":1}\n"));

    cancel_after_commit = 0;
    cancel = 0;
    ship(&s, &st);
    assert_int_equal(st.shipped, 23);
    assert_int_equal(st.segments, 1);
    assert_int_equal(count_files(""), 0);

    snprintf(cmd, sizeof(cmd), "cp %s/saved %s/%s", tmp, spool, name);
    assert_int_equal(system(cmd), 0);
    ship(&s, &st);
    assert_int_equal(st.shipped, 0);
    assert_int_equal(st.segments, 1);
    assert_int_equal(count_files(""), 0);

    assert_int_equal(pg_count(pg, "SELECT count(*) FROM test_spool_ev"), 30);
    assert_int_equal(pg_count(pg, "SELECT count(DISTINCT item_id) FROM "
                                  "test_spool_ev"), 30);
    assert_int_equal(pg_count(pg, "SELECT count(*) FROM test_spool_ev WHERE "
                                  "ts = '2026-11-30T10:00:00Z' AND "
                                  "weight = 1 AND type = 'view'"), 30);

    recsys_spool_store_close(&s);
    PQfinish(pg);
}


int
main(void)
{
    const char              *require;
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(test_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_store, setup, teardown),
    };

    conf.enabled = 1;
    conf.types.names = type_names;
    conf.types.values = type_values;
    conf.types.n = 1;
    conf.max_batch = 100;
    conf.max_id_length = 256;
    conf.ship_batch = 10000;
    conf.store.path = store_path;

    db_url = getenv("RECSYS_DATABASE_URL");
    require = getenv("RECSYS_REQUIRE_DATABASE");

    if (db_url != NULL && db_url[0] == '\0') {
        db_url = NULL;
    }

    if (db_url == NULL && require != NULL && strcmp(require, "1") == 0) {
        printf("FAIL: RECSYS_REQUIRE_DATABASE=1 and RECSYS_DATABASE_URL is "
               "not set\n");
        return 1;
    }

    return cmocka_run_group_tests(tests, NULL, NULL);
}
