/*
 * Unit tests for recsys_pg_dsn.c: the redaction of every form of DSN
 * libpq accepts (the redacted copy parses as the DSN does, by libpq, but
 * for its secrets), the refusal of those it could read differently, the
 * scrubbing of messages, and a replay of the hostile DSNs of t/data/dsn
 * (RECSYS_DSN_CORPUS), which are also the seeds of a fuzz target.  Every
 * secret there contains "hunter2": it must never come out, neither from
 * recsys_pg_redact() nor from a failed recsys_pg_read().  No server is
 * needed: a DSN that fails the check is never given to libpq to connect.
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

#include <libpq-fe.h>

#include "recsys_pg_dsn.h"
#include "recsys_source_pg.h"


#define SECRET  "hunter2"


typedef struct {
    const char  *dsn;
    const char  *want;          /* the redacted copy */
    const char  *reason;        /* the check's error; NULL: it passes */
} dsn_case_t;


static const dsn_case_t  uri_cases[] = {

    /* item 7 of issue 9: an "@" in the query is not the user info's */
    { "postgresql://127.0.0.1:1/shop?user=admin@corp&password=hunter2",
      "postgresql://127.0.0.1:1/shop?user=admin@corp&password=***", NULL },
    { "postgresql://h/db?password=hunter2&application_name=a@b",
      "postgresql://h/db?password=***&application_name=a@b", NULL },
    { "postgresql://u:hunter2a@h/db?password=hunter2b&sslpassword=hunter2c"
      "&password=hunter2d&sslpassword=hunter2e",
      "postgresql://u:***@h/db?password=***&sslpassword=***&password=***"
      "&sslpassword=***", NULL },

    { "postgresql://user:hunter2@host:5432/db",
      "postgresql://user:***@host:5432/db", NULL },
    { "postgres://user@host/db", "postgres://user@host/db", NULL },
    { "postgresql://host/db", "postgresql://host/db", NULL },
    { "postgresql://", "postgresql://", NULL },
    { "postgresql://h/db?", "postgresql://h/db?", NULL },
    { "postgresql://u:hunter2@h1:5432,h2:5433,[::1]:5434/db",
      "postgresql://u:***@h1:5432,h2:5433,[::1]:5434/db", NULL },
    { "postgres://u:hunter2@[fe80::1%25eth0]/db",
      "postgres://u:***@[fe80::1%25eth0]/db", NULL },
    { "postgresql://h1,h2:,[::1]/db", "postgresql://h1,h2:,[::1]/db",
      NULL },
    { "postgresql://u:hunt%40er2@h/db", "postgresql://u:***@h/db", NULL },
    { "postgresql://u:hun:ter2@h/db", "postgresql://u:***@h/db", NULL },
    { "postgresql://u:hunter2@", "postgresql://u:***@", NULL },
    { "postgresql://:hunter2@h", "postgresql://:***@h", NULL },
    { "postgresql://u:@h/db", "postgresql://u:***@h/db", NULL },
    { "postgresql://h/db?pass%77ord=hunter2",
      "postgresql://h/db?pass%77ord=***", NULL },
    { "postgresql://h/db?%73slpassword=hunter2",
      "postgresql://h/db?%73slpassword=***", NULL },
    { "postgresql://u:hunter2@h/db?sslmode=require&ssl=true"
      "&connect_timeout=2&options=-c%20a%3Db",
      "postgresql://u:***@h/db?sslmode=require&ssl=true"
      "&connect_timeout=2&options=-c%20a%3Db", NULL },
    { "postgresql://h/d%23b?application_name=x%26y#z",
      "postgresql://h/d%23b?application_name=x%26y#z", NULL },
    { "postgresql://h/db?dbname=host%3Dx%20password%3Dhunter2",
      "postgresql://h/db?dbname=***", NULL },

    /* read differently by libpq and RFC 3986, or by libpq and a human */
    { "postgresql://u:hunter@2@h/db", "postgresql://<unparseable>",
      "an \"@\" outside the user info (write it as %40) at byte 22" },
    { "postgresql://u:hun/ter2@h/db", "postgresql://<unparseable>",
      "a port that is not a number at byte 15" },
    { "postgresql://h:1?user=a@b&password=hunter2",
      "postgresql://<unparseable>",
      "an \"@\" outside the user info (write it as %40) at byte 23" },
    { "postgresql://h#x@y/db?password=hunter2", "postgresql://<unparseable>",
      "an \"@\" outside the user info (write it as %40) at byte 16" },
    { "postgresql://h/db@hunter2", "postgresql://<unparseable>",
      "an \"@\" outside the user info (write it as %40) at byte 15" },
    { "postgresql://u@[::1@x]/db", "postgresql://<unparseable>",
      "an \"@\" outside the user info (write it as %40) at byte 16" },

    /* libpq's user info ends at the first "@": user "[", password ":1" */
    { "postgresql://[::1@x]/db", "postgresql://[:***@x]/db", NULL },

    /* what libpq refuses, with a message that would quote it */
    { "postgresql://u:hunter2%zz@h/db", "postgresql://<unparseable>",
      "a bad percent-encoding at byte 15" },
    { "postgresql://u:hunter2%00@h/db", "postgresql://<unparseable>",
      "a bad percent-encoding at byte 15" },
    { "postgresql://h/db?password=hunter2%4", "postgresql://<unparseable>",
      "a bad percent-encoding at byte 27" },
    { "postgresql://h/db?pa%zzword=hunter2", "postgresql://<unparseable>",
      "a bad percent-encoding at byte 18" },
    { "postgres://[::1/db?password=hunter2", "postgres://<unparseable>",
      "an IPv6 address without \"]\" at byte 11" },
    { "postgresql://[]/db?password=hunter2", "postgresql://<unparseable>",
      "an empty IPv6 address at byte 13" },
    { "postgresql://[::1]x/db?password=hunter2",
      "postgresql://<unparseable>",
      "an unexpected character after an IPv6 address at byte 18" },
    { "postgresql://u:hunter2@h:port/db", "postgresql://<unparseable>",
      "a port that is not a number at byte 25" },
    { "postgresql://h/db?sslmode=disable&hunter2",
      "postgresql://<unparseable>",
      "a URI parameter without \"=\" at byte 34" },
    { "postgresql://h/db?password=hunter2=x", "postgresql://<unparseable>",
      "a URI parameter with a second \"=\" at byte 18" },
    { "postgresql://h/db?&password=hunter2", "postgresql://<unparseable>",
      "a URI parameter without \"=\" at byte 18" },
    { "postgresql://h/db?=hunter2", "postgresql://<unparseable>",
      "an empty keyword at byte 18" },
    { "postgresql://h/db?pasword=hunter2", "postgresql://<unparseable>",
      "an unknown keyword at byte 18" },

    /* not a URI to libpq: a database name, refused */
    { "POSTGRESQL://u:hunter2@h/db", "<unparseable dsn>",
      "neither a URI nor key=value pairs at byte 10" },
    { " postgresql://u:hunter2@h/db", "<unparseable dsn>",
      "neither a URI nor key=value pairs at byte 0" },
};


static const dsn_case_t  kv_cases[] = {
    { "host=h password=hunter2 dbname=d", "host=h password=*** dbname=d",
      NULL },
    { "host=h password = 'hun ter2' user=u",
      "host=h password = '***' user=u", NULL },
    { "host=h password='hun\\'ter2'", "host=h password='***'", NULL },
    { "host=h password=hun\\ ter2 user=u", "host=h password=*** user=u",
      NULL },
    { "host=h password='hunter2'dbname=d",
      "host=h password='***'dbname=d", NULL },
    { "host=h password= hunter2", "host=h password= ***", NULL },
    { "host=h password=hunter2\\", "host=h password=***", NULL },
    { "host=h password=", "host=h password=***", NULL },
    { "host=h sslpassword=hunter2 sslmode=require",
      "host=h sslpassword=*** sslmode=require", NULL },
    { "requiressl=1 password=hunter2", "requiressl=1 password=***", NULL },
    { "password=hunter2a password=hunter2b sslpassword=hunter2c"
      " password=hunter2d password=hunter2e host=h",
      "password=*** password=*** sslpassword=*** password=*** password=***"
      " host=h", NULL },
    { "host=h\tpassword=hunter2\nuser=u\r\vport=1\f",
      "host=h\tpassword=***\nuser=u\r\vport=1\f", NULL },
    { "dbname='host=x password=hunter2'", "dbname='***'", NULL },
    { "host=h dbname=d", "host=h dbname=d", NULL },
    { "shop", "shop", NULL },
    { "", "", NULL },

    /* item 7: a keyword without "=" used to stop the parser */
    { "host=h junk password=hunter2", "<unparseable dsn>",
      "a keyword without \"=\" at byte 7" },
    { "password=hunter2 sslmode", "<unparseable dsn>",
      "a keyword without \"=\" at byte 17" },
    { "host=h password=hun ter2", "<unparseable dsn>",
      "a keyword without \"=\" at byte 20" },
    { "host=h password='hunter2", "<unparseable dsn>",
      "an unterminated quoted value at byte 16" },
    { "host=h password='hunter2\\'", "<unparseable dsn>",
      "an unterminated quoted value at byte 16" },
    { "host=h =hunter2", "<unparseable dsn>",
      "an empty keyword at byte 7" },
    { "host=h pasword=hunter2", "<unparseable dsn>",
      "an unknown keyword at byte 7" },
    { "password hunter2", "<unparseable dsn>",
      "neither a URI nor key=value pairs at byte 8" },
    { "a@b", "<unparseable dsn>",
      "neither a URI nor key=value pairs at byte 1" },
};


/*
 * The redacted copy of an accepted dsn parses, by libpq, as the dsn
 * does: the same values, but "***" for secrets, and always for those
 * libpq itself would hide.
 */

static void
same_parse(const char *dsn, const char *out)
{
    const char        *v;
    PQconninfoOption  *a, *b, *o, *p;

    if (strncmp(dsn, "postgres", 8) != 0 && strchr(dsn, '=') == NULL) {
        return;                         /* a database name */
    }

    a = PQconninfoParse(dsn, NULL);
    b = PQconninfoParse(out, NULL);

    if (a == NULL || b == NULL) {
        fail_msg("\"%s\" or \"%s\" does not parse", dsn, out);
    }

    for (o = a, p = b; o->keyword != NULL; o++, p++) {
        assert_string_equal(o->keyword, p->keyword);

        v = (p->val != NULL && strcmp(p->val, "***") != 0) ? p->val : NULL;

        if (v != NULL
            && (strchr(o->dispchar, '*') != NULL || o->val == NULL
                || strcmp(o->val, v) != 0))
        {
            fail_msg("%s: \"%s\" in \"%s\", \"%s\" in \"%s\"", o->keyword,
                     o->val ? o->val : "(null)", dsn, v, out);
        }

        if (o->val != NULL && p->val == NULL) {
            fail_msg("%s lost in \"%s\"", o->keyword, out);
        }
    }

    PQconninfoFree(a);
    PQconninfoFree(b);
}


static void
check_cases(const dsn_case_t *cases, size_t n)
{
    char    out[512], err[128];
    size_t  i, len;

    for (i = 0; i < n; i++) {
        len = recsys_pg_redact(cases[i].dsn, out, sizeof(out));

        if (strcmp(out, cases[i].want) != 0) {
            fail_msg("redact(\"%s\") = \"%s\", expected \"%s\"",
                     cases[i].dsn, out, cases[i].want);
        }

        assert_int_equal(len, strlen(cases[i].want));
        assert_null(strstr(out, SECRET));

        err[0] = '\0';

        if (cases[i].reason == NULL) {
            if (recsys_pg_dsn_check(cases[i].dsn, err, sizeof(err)) != 0) {
                fail_msg("check(\"%s\"): %s", cases[i].dsn, err);
            }

            same_parse(cases[i].dsn, out);
            continue;
        }

        assert_int_equal(recsys_pg_dsn_check(cases[i].dsn, err,
                                             sizeof(err)), -1);

        if (strcmp(err, cases[i].reason) != 0) {
            fail_msg("check(\"%s\") = \"%s\", expected \"%s\"",
                     cases[i].dsn, err, cases[i].reason);
        }
    }
}


static void
test_uri(void **state)
{
    (void) state;

    check_cases(uri_cases, sizeof(uri_cases) / sizeof(uri_cases[0]));
}


static void
test_kv(void **state)
{
    (void) state;

    check_cases(kv_cases, sizeof(kv_cases) / sizeof(kv_cases[0]));
}


static void
test_truncate(void **state)
{
    size_t  n;
    char    out[32];

    (void) state;

    /* snprintf-like: the length it needs, a cut but terminated copy */
    n = recsys_pg_redact("postgresql://u:secret@h/db", out, 18);
    assert_int_equal(n, strlen("postgresql://u:***@h/db"));
    assert_string_equal(out, "postgresql://u:**");

    n = recsys_pg_redact("host=h password=secret", out, 1);
    assert_int_equal(n, strlen("host=h password=***"));
    assert_string_equal(out, "");

    n = recsys_pg_redact("host=h password=secret", NULL, 0);
    assert_int_equal(n, strlen("host=h password=***"));

    n = recsys_pg_redact("host=h junk", out, 8);
    assert_int_equal(n, strlen("<unparseable dsn>"));
    assert_string_equal(out, "<unpars");
}


static void
test_scrub(void **state)
{
    char  msg[256];

    (void) state;

    /* the raw and the decoded forms */
    snprintf(msg, sizeof(msg), "bad token \"p%%40ss\", user p@ss");
    recsys_pg_scrub("postgresql://u:p%40ss@h/db", msg, sizeof(msg));
    assert_string_equal(msg, "bad token \"***\", user ***");

    snprintf(msg, sizeof(msg), "x se cr'et y 'se cr\\'et'");
    recsys_pg_scrub("password='se cr\\'et'", msg, sizeof(msg));
    assert_string_equal(msg, "x *** y ***");

    /* every secret, however many */
    snprintf(msg, sizeof(msg), "k1 k2 k3 k4 k5 k6");
    recsys_pg_scrub("postgresql://u:k1@h/db?password=k2&sslpassword=k3"
                    "&password=k4&sslpassword=k5&password=k6", msg,
                    sizeof(msg));
    assert_string_equal(msg, "*** *** *** *** *** ***");

    /* the Azure form: the query's password, not the user name */
    snprintf(msg, sizeof(msg), "user admin@corp, hunter2");
    recsys_pg_scrub("postgresql://h/db?user=admin@corp&password=hunter2",
                    msg, sizeof(msg));
    assert_string_equal(msg, "user admin@corp, ***");

    /* a secret shorter than "***": the message grows, within size */
    snprintf(msg, sizeof(msg), "cabd");
    recsys_pg_scrub("password=ab", msg, sizeof(msg));
    assert_string_equal(msg, "c***d");

    snprintf(msg, 6, "cabd");
    recsys_pg_scrub("password=ab", msg, 6);
    assert_string_equal(msg, "c***d");

    snprintf(msg, 5, "cabd");
    recsys_pg_scrub("password=ab", msg, 5);
    assert_string_equal(msg, "c***");

    /* an empty password hides nothing else */
    snprintf(msg, sizeof(msg), "abc");
    recsys_pg_scrub("password=''", msg, sizeof(msg));
    assert_string_equal(msg, "abc");
}


static int
no_row(void *data, const recsys_pg_row_t *row, char *err, size_t errlen)
{
    (void) data;
    (void) row;
    (void) err;
    (void) errlen;

    return -1;
}


/*
 * One hostile DSN: its redacted copy holds no secret.  Accepted, the
 * copy parses as the DSN does and a message quoting the whole DSN is
 * scrubbed clean; refused, reading from it fails before libpq sees it,
 * with a message that holds no secret either.
 */

static void
replay(const char *name, const char *dsn)
{
    char                   out[8192], err[1024], msg[8192];
    recsys_pg_read_t       r;
    recsys_source_conf_t   conf;

    recsys_pg_redact(dsn, out, sizeof(out));

    if (strstr(out, SECRET) != NULL) {
        fail_msg("%s: redacted as \"%s\"", name, out);
    }

    if (recsys_pg_dsn_check(dsn, err, sizeof(err)) == 0) {
        same_parse(dsn, out);

        snprintf(msg, sizeof(msg), "cannot connect to %s", dsn);
        recsys_pg_scrub(dsn, msg, sizeof(msg));

        if (strstr(msg, SECRET) != NULL) {
            fail_msg("%s: scrubbed to \"%s\"", name, msg);
        }

        return;
    }

    memset(&conf, 0, sizeof(recsys_source_conf_t));
    conf.type = RECSYS_SOURCE_POSTGRESQL;
    conf.dsn = (char *) dsn;
    conf.table = (char *) "items";
    conf.batch_size = 10;

    memset(&r, 0, sizeof(recsys_pg_read_t));
    r.conf = &conf;
    r.dimension = 4;
    r.row = no_row;

    assert_int_equal(recsys_pg_read(&r, err, sizeof(err)), -1);
    assert_int_equal(r.contacted, 0);

    if (strstr(err, SECRET) != NULL
        || strstr(err, "not a usable connection string") == NULL)
    {
        fail_msg("%s: \"%s\"", name, err);
    }
}


static void
test_corpus(void **state)
{
    int             n;
    char            path[4096], dsn[4096];
    FILE           *f;
    size_t          len;
    const char     *dir;
    struct dirent  *de;
    DIR            *d;

    (void) state;

    dir = getenv("RECSYS_DSN_CORPUS");
    if (dir == NULL || dir[0] == '\0') {
        dir = "t/data/dsn";
    }

    d = opendir(dir);
    if (d == NULL) {
        fail_msg("%s: cannot open (set RECSYS_DSN_CORPUS)", dir);
    }

    n = 0;

    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }

        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);

        f = fopen(path, "r");
        assert_non_null(f);
        len = fread(dsn, 1, sizeof(dsn) - 1, f);
        fclose(f);

        /* a fuzz input may hold a NUL: the DSN is what precedes it */
        dsn[len] = '\0';

        replay(de->d_name, dsn);
        n++;
    }

    closedir(d);

    /* an empty or missing corpus would make this test vacuous */
    assert_true(n >= 40);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_uri),
        cmocka_unit_test(test_kv),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_scrub),
        cmocka_unit_test(test_corpus),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
