/*
 * PostgreSQL source.  One REPEATABLE READ, READ ONLY transaction: the
 * columns are checked by describing "SELECT * FROM <table or query>",
 * then a BINARY cursor is fetched batch_size rows at a time, so memory
 * holds one batch, never the table as text.  Values are decoded from the
 * binary wire format here (big-endian; arrays as ndim, flags, element
 * type, dims and lower bounds, then length-prefixed elements).
 */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "recsys_source_pg.h"
#include "recsys_string.h"
#include "recsys_time.h"


/* type OIDs of PostgreSQL's catalog; stable across versions */
#define RECSYS_PG_BOOL             16
#define RECSYS_PG_INT8             20
#define RECSYS_PG_INT2             21
#define RECSYS_PG_INT4             23
#define RECSYS_PG_TEXT             25
#define RECSYS_PG_JSON             114
#define RECSYS_PG_TEXT_ARRAY       1009
#define RECSYS_PG_VARCHAR_ARRAY    1015
#define RECSYS_PG_FLOAT4           700
#define RECSYS_PG_FLOAT8           701
#define RECSYS_PG_FLOAT4_ARRAY     1021
#define RECSYS_PG_FLOAT8_ARRAY     1022
#define RECSYS_PG_BPCHAR           1042
#define RECSYS_PG_VARCHAR          1043
#define RECSYS_PG_TIMESTAMP        1114
#define RECSYS_PG_TIMESTAMPTZ      1184
#define RECSYS_PG_UUID             2950
#define RECSYS_PG_JSONB            3802

#define RECSYS_PG_BEGIN                                                      \
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"                       \
    " SET LOCAL TIME ZONE 'UTC'"

/* 2000-01-01, PostgreSQL's epoch, in Unix seconds */
#define RECSYS_PG_EPOCH            946684800LL


enum {
    RECSYS_PG_ID = 0,
    RECSYS_PG_EMBEDDING,
    RECSYS_PG_TITLE,
    RECSYS_PG_CATEGORY,
    RECSYS_PG_POPULARITY,
    RECSYS_PG_ATTRIBUTES,
    RECSYS_PG_UPDATED_AT,
    RECSYS_PG_DELETED,
    RECSYS_PG_SEEN,
    RECSYS_PG_NCOLS
};


/* which sources read a column */
#define RECSYS_PG_FOR_ITEMS        1
#define RECSYS_PG_FOR_USERS        2
#define RECSYS_PG_FOR_BOTH         3


typedef struct {
    const char         *name;
    int                 required;
    Oid                 types[6];       /* 0-terminated */
    const char         *expect;
    int                 sources;        /* RECSYS_PG_FOR_* */
} recsys_pg_column_t;


typedef struct recsys_pg_ctx_s  recsys_pg_ctx_t;

/* decodes row "row" of a fetched batch */
typedef int (*recsys_pg_decode_pt)(recsys_pg_ctx_t *ctx, PGresult *res,
    int row);

struct recsys_pg_ctx_s {
    recsys_pg_read_t   *r;              /* items; NULL for events */
    recsys_pg_events_t *events;         /* events; NULL for items */
    const char         *dsn;
    volatile int       *cancel;
    uint32_t            batch;          /* rows per FETCH */
    recsys_pg_decode_pt decode;
    PGconn             *conn;
    char               *err;
    size_t              errlen;
    int                 col[RECSYS_PG_NCOLS];
    Oid                 type[RECSYS_PG_NCOLS];
    float              *vec;
    int64_t             max_ts;
    int                 have_ts;
    uint64_t            rowno;
    const char         *id;
    int                 id_len;
    char                idbuf[64];
    char               *attrs;          /* the row's, compact, cJSON's */
    recsys_pg_text_t   *seen;           /* the row's "seen" elements */
    size_t              seen_cap;
};


static int recsys_pg_event(recsys_pg_ctx_t *ctx, PGresult *res, int row);
static int recsys_pg_open(recsys_pg_ctx_t *ctx);
static int recsys_pg_exec(recsys_pg_ctx_t *ctx, const char *sql);
static char *recsys_pg_base(recsys_pg_ctx_t *ctx);
static int recsys_pg_describe(recsys_pg_ctx_t *ctx, const char *base);
static char *recsys_pg_select(recsys_pg_ctx_t *ctx, const char *base);
static int recsys_pg_fetch(recsys_pg_ctx_t *ctx);
static int recsys_pg_count(recsys_pg_ctx_t *ctx, const char *base);
static int recsys_pg_decode(recsys_pg_ctx_t *ctx, PGresult *res, int row);
static int recsys_pg_id(recsys_pg_ctx_t *ctx, PGresult *res, int row);
static int recsys_pg_field(PGresult *res, int row, int c, const char **v,
    size_t *len);
static int recsys_pg_vector(recsys_pg_ctx_t *ctx, const unsigned char *p,
    int len);
static int recsys_pg_number(recsys_pg_ctx_t *ctx, Oid type,
    const unsigned char *p, int len, double *out);
static int recsys_pg_json(recsys_pg_ctx_t *ctx, Oid type,
    const unsigned char *p, int len, recsys_pg_row_t *r);
static int recsys_pg_seen(recsys_pg_ctx_t *ctx, const unsigned char *p,
    int len, recsys_pg_row_t *r);
static void recsys_pg_type_error(recsys_pg_ctx_t *ctx, int c, Oid type);
static void recsys_pg_error(recsys_pg_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void recsys_pg_row_error(recsys_pg_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void recsys_pg_result_error(recsys_pg_ctx_t *ctx, const char *what,
    const char *msg);
static int recsys_pg_ok(recsys_pg_ctx_t *ctx, PGresult *res,
    ExecStatusType want, const char *what);
static void recsys_pg_timestamp(int64_t us, char *buf, size_t size);
static uint32_t recsys_pg_u32(const unsigned char *p);
static uint64_t recsys_pg_u64(const unsigned char *p);
static double recsys_pg_float(const unsigned char *p, int len);


static const recsys_pg_column_t  recsys_pg_columns[RECSYS_PG_NCOLS] = {
    { "id", 1,
      { RECSYS_PG_TEXT, RECSYS_PG_VARCHAR, RECSYS_PG_BPCHAR, RECSYS_PG_INT8,
        RECSYS_PG_INT4, RECSYS_PG_UUID },
      "text, varchar, bigint, integer or uuid", RECSYS_PG_FOR_BOTH },
    { "embedding", 1,
      { RECSYS_PG_FLOAT4_ARRAY, RECSYS_PG_FLOAT8_ARRAY, 0 },
      "real[] or double precision[]", RECSYS_PG_FOR_BOTH },
    { "title", 0,
      { RECSYS_PG_TEXT, RECSYS_PG_VARCHAR, RECSYS_PG_BPCHAR, 0 },
      "text or varchar", RECSYS_PG_FOR_ITEMS },
    { "category", 0,
      { RECSYS_PG_TEXT, RECSYS_PG_VARCHAR, RECSYS_PG_BPCHAR, 0 },
      "text or varchar", RECSYS_PG_FOR_ITEMS },
    { "popularity", 0,
      { RECSYS_PG_FLOAT8, RECSYS_PG_FLOAT4, RECSYS_PG_INT4, RECSYS_PG_INT8,
        RECSYS_PG_INT2, 0 },
      "double precision, real or an integer type", RECSYS_PG_FOR_ITEMS },
    { "attributes", 0,
      { RECSYS_PG_JSONB, RECSYS_PG_JSON, 0 },
      "jsonb or json", RECSYS_PG_FOR_ITEMS },
    { "updated_at", 0,
      { RECSYS_PG_TIMESTAMPTZ, RECSYS_PG_TIMESTAMP, 0 },
      "timestamp with time zone or timestamp", RECSYS_PG_FOR_BOTH },
    { "deleted", 0,
      { RECSYS_PG_BOOL, 0 },
      "boolean", RECSYS_PG_FOR_BOTH },
    { "seen", 0,
      { RECSYS_PG_TEXT_ARRAY, RECSYS_PG_VARCHAR_ARRAY, 0 },
      "text[] or varchar[]", RECSYS_PG_FOR_USERS }
};


int
recsys_pg_read(recsys_pg_read_t *r, char *err, size_t errlen)
{
    int               rc, i;
    char             *base, *select, msg[1024];
    double            start;
    recsys_pg_ctx_t   ctx;

    start = recsys_now_seconds();

    r->contacted = 0;
    r->has_updated_at = 0;
    r->has_deleted = 0;
    r->rows = 0;
    r->live = 0;
    r->watermark[0] = '\0';

    memset(&ctx, 0, sizeof(recsys_pg_ctx_t));
    ctx.r = r;
    ctx.dsn = r->conf->dsn;
    ctx.cancel = r->cancel;
    ctx.batch = r->conf->batch_size;
    ctx.decode = recsys_pg_decode;
    ctx.err = msg;
    ctx.errlen = sizeof(msg);
    msg[0] = '\0';

    for (i = 0; i < RECSYS_PG_NCOLS; i++) {
        ctx.col[i] = -1;
    }

    base = NULL;
    select = NULL;
    rc = -1;

    if (r->conf->dsn == NULL || r->dimension == 0) {
        recsys_pg_error(&ctx, "no dsn or dimension");
        goto done;
    }

    ctx.vec = malloc((size_t) r->dimension * sizeof(float));
    if (ctx.vec == NULL) {
        recsys_pg_error(&ctx, "out of memory");
        goto done;
    }

    if (recsys_pg_open(&ctx) != 0) {
        goto done;
    }

    /* one snapshot for the rows and the live count; UTC watermarks */
    if (recsys_pg_exec(&ctx, RECSYS_PG_BEGIN) != 0)
    {
        goto done;
    }

    base = recsys_pg_base(&ctx);
    if (base == NULL) {
        goto done;
    }

    if (recsys_pg_describe(&ctx, base) != 0) {
        goto done;
    }

    if (r->since != NULL && !r->has_updated_at) {
        recsys_pg_error(&ctx, "an incremental read needs an \"updated_at\""
                        " column");
        goto done;
    }

    select = recsys_pg_select(&ctx, base);
    if (select == NULL) {
        goto done;
    }

    if (recsys_pg_exec(&ctx, select) != 0) {
        goto done;
    }

    if (recsys_pg_fetch(&ctx) != 0) {
        goto done;
    }

    if (r->since != NULL && recsys_pg_count(&ctx, base) != 0) {
        goto done;
    }

    if (recsys_pg_exec(&ctx, "CLOSE recsys_rows; COMMIT") != 0) {
        goto done;
    }

    if (ctx.have_ts) {
        recsys_pg_timestamp(ctx.max_ts, r->watermark,
                            sizeof(r->watermark));

        /* rows re-read in the overlap must not move the watermark back */
        if (r->since != NULL && strcmp(r->watermark, r->since) < 0) {
            snprintf(r->watermark, sizeof(r->watermark), "%s", r->since);
        }

    } else if (r->since != NULL) {
        snprintf(r->watermark, sizeof(r->watermark), "%s", r->since);
    }

    rc = 0;

done:

    if (ctx.conn != NULL) {
        PQfinish(ctx.conn);
    }

    free(base);
    free(select);
    free(ctx.vec);
    free(ctx.seen);
    cJSON_free(ctx.attrs);

    if (rc != 0) {
        snprintf(err, errlen, "postgresql: %s", msg);

        if (r->conf->dsn != NULL) {
            recsys_pg_scrub(r->conf->dsn, err, errlen);
        }
    }

    r->seconds = recsys_now_seconds() - start;

    return rc;
}


int
recsys_pg_read_events(recsys_pg_events_t *e, char *err, size_t errlen)
{
    int               rc;
    char             *base, *sql, msg[1024];
    size_t            len;
    double            start;
    recsys_pg_ctx_t   ctx;

    start = recsys_now_seconds();
    e->rows = 0;

    memset(&ctx, 0, sizeof(recsys_pg_ctx_t));
    ctx.events = e;
    ctx.dsn = e->conf->dsn;
    ctx.cancel = e->cancel;
    ctx.batch = e->batch;
    ctx.decode = recsys_pg_event;
    ctx.err = msg;
    ctx.errlen = sizeof(msg);
    msg[0] = '\0';

    base = NULL;
    sql = NULL;
    rc = -1;

    if (ctx.dsn == NULL) {
        recsys_pg_error(&ctx, "no dsn");
        goto done;
    }

    if (recsys_pg_open(&ctx) != 0
        || recsys_pg_exec(&ctx, RECSYS_PG_BEGIN) != 0)
    {
        goto done;
    }

    if (e->conf->query != NULL) {
        len = strlen(e->conf->query) + sizeof("() AS recsys_q");
        base = malloc(len);

        if (base != NULL) {
            snprintf(base, len, "(%s) AS recsys_q", e->conf->query);
        }

    } else {
        base = recsys_pg_table(ctx.conn, e->conf->table != NULL
                                         ? e->conf->table : "recsys_events",
                               "");
    }

    len = (base != NULL ? strlen(base) : 0) + 256;
    sql = malloc(len);

    if (base == NULL || sql == NULL) {
        recsys_pg_error(&ctx, "out of memory, or an invalid table name");
        goto done;
    }

    /* casts: an application's query may use other types for these */
    snprintf(sql, len, "DECLARE recsys_rows NO SCROLL BINARY CURSOR FOR"
             " SELECT user_id::text, item_id::text, type::text,"
             " floor(extract(epoch FROM ts))::int8, weight::float8"
             " FROM %s%s", base, e->conf->query != NULL ? "" : " ORDER BY id");

    if (recsys_pg_exec(&ctx, sql) != 0
        || recsys_pg_fetch(&ctx) != 0
        || recsys_pg_exec(&ctx, "CLOSE recsys_rows; COMMIT") != 0)
    {
        goto done;
    }

    rc = 0;

done:

    if (ctx.conn != NULL) {
        PQfinish(ctx.conn);
    }

    free(base);
    free(sql);

    if (rc != 0) {
        snprintf(err, errlen, "postgresql events store: %s", msg);

        if (e->conf->dsn != NULL) {
            recsys_pg_scrub(e->conf->dsn, err, errlen);
        }
    }

    e->seconds = recsys_now_seconds() - start;

    return rc;
}


/* one event row: text, text, text, int8, float8, any of them NULL */

static int
recsys_pg_event(recsys_pg_ctx_t *ctx, PGresult *res, int row)
{
    int                  rc;
    char                 cberr[512];
    recsys_pg_event_t    ev;
    const unsigned char  *p;

    memset(&ev, 0, sizeof(recsys_pg_event_t));

    (void) recsys_pg_field(res, row, 0, &ev.user, &ev.user_len);
    (void) recsys_pg_field(res, row, 1, &ev.item, &ev.item_len);
    (void) recsys_pg_field(res, row, 2, &ev.type, &ev.type_len);

    if (!PQgetisnull(res, row, 3) && PQgetlength(res, row, 3) == 8) {
        p = (const unsigned char *) PQgetvalue(res, row, 3);
        ev.ts = (int64_t) recsys_pg_u64(p);
        ev.has_ts = 1;
    }

    if (!PQgetisnull(res, row, 4) && PQgetlength(res, row, 4) == 8) {
        p = (const unsigned char *) PQgetvalue(res, row, 4);
        ev.weight = recsys_pg_float(p, 8);
        ev.has_weight = 1;
    }

    cberr[0] = '\0';
    rc = ctx->events->event(ctx->events->data, &ev, cberr, sizeof(cberr));

    if (rc != 0) {
        recsys_pg_error(ctx, "%s", cberr[0] ? cberr : "event refused");
        return -1;
    }

    ctx->events->rows++;

    return 0;
}


static int
recsys_pg_open(recsys_pg_ctx_t *ctx)
{
    const char  *status;

    ctx->conn = recsys_pg_connect(ctx->dsn, "recsys-build", ctx->err,
                                  ctx->errlen);
    if (ctx->conn == NULL) {
        return -1;
    }

    if (ctx->r != NULL) {
        ctx->r->contacted = 1;
    }

    status = PQparameterStatus(ctx->conn, "integer_datetimes");

    if (status == NULL || strcmp(status, "on") != 0) {
        recsys_pg_error(ctx, "the server must have integer_datetimes on");
        return -1;
    }

    return 0;
}


static int
recsys_pg_exec(recsys_pg_ctx_t *ctx, const char *sql)
{
    PGresult  *res;

    res = PQexec(ctx->conn, sql);

    if (recsys_pg_ok(ctx, res, PGRES_COMMAND_OK, "query failed: ") != 0) {
        return -1;
    }

    PQclear(res);

    return 0;
}


/*
 * What rows are read from: the query as a subquery, or the quoted table;
 * a malloc'ed string.
 */

static char *
recsys_pg_base(recsys_pg_ctx_t *ctx)
{
    char                        *out;
    size_t                       len;
    const recsys_source_conf_t  *conf;

    conf = ctx->r->conf;

    if (conf->query != NULL) {
        len = strlen(conf->query) + sizeof("() AS recsys_q");
        out = malloc(len);

        if (out == NULL) {
            recsys_pg_error(ctx, "out of memory");
            return NULL;
        }

        snprintf(out, len, "(%s) AS recsys_q", conf->query);

        return out;
    }

    out = recsys_pg_table(ctx->conn,
                          conf->table != NULL ? conf->table : "items", "");
    if (out == NULL) {
        recsys_pg_error(ctx, "table name: out of memory or invalid");
    }

    return out;
}


/* finds the known columns and checks their types without running it */

static int
recsys_pg_describe(recsys_pg_ctx_t *ctx, const char *base)
{
    int          i, c, n, k;
    char        *sql;
    Oid          type;
    size_t       len;
    PGresult    *res;
    const char  *name;

    len = strlen(base) + sizeof("SELECT * FROM ");
    sql = malloc(len);
    if (sql == NULL) {
        recsys_pg_error(ctx, "out of memory");
        return -1;
    }

    snprintf(sql, len, "SELECT * FROM %s", base);

    res = PQprepare(ctx->conn, "", sql, 0, NULL);
    free(sql);

    if (recsys_pg_ok(ctx, res, PGRES_COMMAND_OK, "query failed: ") != 0) {
        return -1;
    }

    PQclear(res);

    res = PQdescribePrepared(ctx->conn, "");

    if (recsys_pg_ok(ctx, res, PGRES_COMMAND_OK, "describe failed: ") != 0) {
        return -1;
    }

    n = PQnfields(res);

    for (i = 0; i < n; i++) {
        name = PQfname(res, i);

        for (c = 0; c < RECSYS_PG_NCOLS; c++) {
            if (strcmp(name, recsys_pg_columns[c].name) == 0) {
                break;
            }
        }

        /* a column the other kind of source reads is the application's */
        if (c == RECSYS_PG_NCOLS
            || !(recsys_pg_columns[c].sources
                 & (ctx->r->users ? RECSYS_PG_FOR_USERS
                                  : RECSYS_PG_FOR_ITEMS)))
        {
            continue;
        }

        if (ctx->col[c] != -1) {
            recsys_pg_error(ctx, "the source has two \"%s\" columns", name);
            PQclear(res);
            return -1;
        }

        type = PQftype(res, i);

        for (k = 0; recsys_pg_columns[c].types[k] != 0; k++) {
            if (recsys_pg_columns[c].types[k] == type) {
                break;
            }
        }

        if (recsys_pg_columns[c].types[k] == 0) {
            PQclear(res);
            recsys_pg_type_error(ctx, c, type);
            return -1;
        }

        ctx->col[c] = i;
        ctx->type[c] = type;
    }

    PQclear(res);

    for (c = 0; c < RECSYS_PG_NCOLS; c++) {
        if (recsys_pg_columns[c].required && ctx->col[c] == -1) {
            recsys_pg_error(ctx, "the source has no \"%s\" column; it must "
                            "return id and embedding, and may return %s",
                            recsys_pg_columns[c].name,
                            ctx->r->users
                            ? "seen, updated_at and deleted"
                            : "title, category, popularity, attributes,"
                              " updated_at and deleted");
            return -1;
        }
    }

    ctx->r->has_updated_at = (ctx->col[RECSYS_PG_UPDATED_AT] != -1);
    ctx->r->has_deleted = (ctx->col[RECSYS_PG_DELETED] != -1);

    return 0;
}


/* the DECLARE of the cursor; columns are renumbered in select order */

static char *
recsys_pg_select(recsys_pg_ctx_t *ctx, const char *base)
{
    int          c, n;
    char        *sql, *lit, where[256];
    size_t       len, off;

    where[0] = '\0';

    if (ctx->r->since != NULL) {
        lit = PQescapeLiteral(ctx->conn, ctx->r->since,
                              strlen(ctx->r->since));
        if (lit == NULL) {
            recsys_pg_error(ctx, "out of memory");
            return NULL;
        }

        snprintf(where, sizeof(where), " WHERE updated_at > %s::timestamptz"
                 " - interval '" RECSYS_PG_OVERLAP "'", lit);
        PQfreemem(lit);

    } else if (ctx->r->has_deleted) {
        snprintf(where, sizeof(where), " WHERE deleted IS NOT TRUE");
    }

    len = strlen(base) + strlen(where) + 512;
    sql = malloc(len);
    if (sql == NULL) {
        recsys_pg_error(ctx, "out of memory");
        return NULL;
    }

    off = snprintf(sql, len, "DECLARE recsys_rows NO SCROLL BINARY CURSOR"
                   " FOR SELECT ");
    n = 0;

    for (c = 0; c < RECSYS_PG_NCOLS; c++) {
        if (ctx->col[c] == -1) {
            continue;
        }

        off += snprintf(sql + off, len - off, "%s%s", n ? ", " : "",
                        recsys_pg_columns[c].name);
        ctx->col[c] = n++;
    }

    snprintf(sql + off, len - off, " FROM %s%s", base, where);

    return sql;
}


static int
recsys_pg_fetch(recsys_pg_ctx_t *ctx)
{
    int        i, n;
    char       sql[64];
    PGresult  *res;

    snprintf(sql, sizeof(sql), "FETCH FORWARD %u FROM recsys_rows",
             ctx->batch ? ctx->batch : 10000);

    for ( ;; ) {
        if (ctx->cancel != NULL && *ctx->cancel) {
            recsys_pg_error(ctx, "cancelled");
            return -1;
        }

        res = PQexecParams(ctx->conn, sql, 0, NULL, NULL, NULL, NULL, 1);

        if (recsys_pg_ok(ctx, res, PGRES_TUPLES_OK, "fetch failed: ") != 0) {
            return -1;
        }

        n = PQntuples(res);

        if (n == 0) {
            PQclear(res);
            return 0;
        }

        for (i = 0; i < n; i++) {
            ctx->rowno++;

            if (ctx->decode(ctx, res, i) != 0) {
                PQclear(res);
                return -1;
            }
        }

        PQclear(res);
    }
}


/* with a watermark: how many live rows the source has in this snapshot */

static int
recsys_pg_count(recsys_pg_ctx_t *ctx, const char *base)
{
    int          rc;
    char        *sql, *end;
    size_t       len;
    PGresult    *res;

    len = strlen(base) + 128;
    sql = malloc(len);
    if (sql == NULL) {
        recsys_pg_error(ctx, "out of memory");
        return -1;
    }

    snprintf(sql, len, "SELECT count(*) FROM %s%s", base,
             ctx->r->has_deleted ? " WHERE deleted IS NOT TRUE" : "");

    res = PQexec(ctx->conn, sql);
    free(sql);

    if (recsys_pg_ok(ctx, res, PGRES_TUPLES_OK, "count failed: ") != 0) {
        return -1;
    }

    if (PQntuples(res) != 1) {
        recsys_pg_result_error(ctx, "count failed: ",
                               PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }

    ctx->r->live = strtoull(PQgetvalue(res, 0, 0), &end, 10);
    rc = (*end == '\0') ? 0 : -1;

    if (rc != 0) {
        recsys_pg_error(ctx, "count failed: bad number");
    }

    PQclear(res);

    return rc;
}


static int
recsys_pg_decode(recsys_pg_ctx_t *ctx, PGresult *res, int row)
{
    int               c, rc;
    char              cberr[512];
    double            d;
    size_t            len;
    int64_t           ts;
    const char       *v;
    recsys_pg_row_t   r;

    memset(&r, 0, sizeof(recsys_pg_row_t));

    if (recsys_pg_id(ctx, res, row) != 0) {
        return -1;
    }

    r.id = ctx->id;
    r.id_len = (size_t) ctx->id_len;

    if (recsys_pg_field(res, row, ctx->col[RECSYS_PG_DELETED], &v, &len)) {
        r.deleted = (len == 1 && v[0] != 0);
    }

    c = ctx->col[RECSYS_PG_UPDATED_AT];
    if (c != -1) {
        if (PQgetisnull(res, row, c) || PQgetlength(res, row, c) != 8) {
            recsys_pg_row_error(ctx, "updated_at is NULL; incremental "
                                "builds need it on every row");
            return -1;
        }

        ts = (int64_t) recsys_pg_u64((const unsigned char *)
                                     PQgetvalue(res, row, c));

        if (ts == INT64_MAX || ts == INT64_MIN) {
            recsys_pg_row_error(ctx, "updated_at is infinite");
            return -1;
        }

        if (!ctx->have_ts || ts > ctx->max_ts) {
            ctx->max_ts = ts;
            ctx->have_ts = 1;
        }
    }

    if (!r.deleted) {
        c = ctx->col[RECSYS_PG_EMBEDDING];

        if (PQgetisnull(res, row, c)) {
            recsys_pg_row_error(ctx, "embedding is NULL");
            return -1;
        }

        if (recsys_pg_vector(ctx,
                             (const unsigned char *) PQgetvalue(res, row, c),
                             PQgetlength(res, row, c))
            != 0)
        {
            return -1;
        }

        r.vector = ctx->vec;
    }

    (void) recsys_pg_field(res, row, ctx->col[RECSYS_PG_TITLE], &r.title,
                           &r.title_len);
    (void) recsys_pg_field(res, row, ctx->col[RECSYS_PG_CATEGORY],
                           &r.category, &r.category_len);

    if (recsys_pg_field(res, row, ctx->col[RECSYS_PG_POPULARITY], &v, &len))
    {
        if (recsys_pg_number(ctx, ctx->type[RECSYS_PG_POPULARITY],
                             (const unsigned char *) v, (int) len, &d)
            != 0)
        {
            return -1;
        }

        if (!isfinite(d) || !isfinite((float) d)) {
            recsys_pg_row_error(ctx, "popularity is not a finite number");
            return -1;
        }

        r.popularity = (float) d;
    }

    if (recsys_pg_field(res, row, ctx->col[RECSYS_PG_ATTRIBUTES], &v, &len)
        && recsys_pg_json(ctx, ctx->type[RECSYS_PG_ATTRIBUTES],
                          (const unsigned char *) v, (int) len, &r)
           != 0)
    {
        return -1;
    }

    if (!r.deleted
        && recsys_pg_field(res, row, ctx->col[RECSYS_PG_SEEN], &v, &len)
        && recsys_pg_seen(ctx, (const unsigned char *) v, (int) len, &r)
           != 0)
    {
        return -1;
    }

    cberr[0] = '\0';

    rc = ctx->r->row(ctx->r->data, &r, cberr, sizeof(cberr));

    cJSON_free(ctx->attrs);
    ctx->attrs = NULL;

    if (rc != 0) {
        recsys_pg_row_error(ctx, "%s", cberr);
        return -1;
    }

    ctx->r->rows++;

    return 0;
}


/* 1 with the value of column c (-1: the source has none) unless NULL */

static int
recsys_pg_field(PGresult *res, int row, int c, const char **v, size_t *len)
{
    if (c == -1 || PQgetisnull(res, row, c)) {
        return 0;
    }

    *v = PQgetvalue(res, row, c);
    *len = (size_t) PQgetlength(res, row, c);

    return 1;
}


/* the row's id as text, in ctx->id; integers and uuids are formatted */

static int
recsys_pg_id(recsys_pg_ctx_t *ctx, PGresult *res, int row)
{
    int                   c, len, i, n;
    const unsigned char  *p;

    c = ctx->col[RECSYS_PG_ID];
    ctx->id = NULL;
    ctx->id_len = 0;

    if (PQgetisnull(res, row, c)) {
        recsys_pg_error(ctx, "row %llu: id is NULL",
                        (unsigned long long) ctx->rowno);
        return -1;
    }

    p = (const unsigned char *) PQgetvalue(res, row, c);
    len = PQgetlength(res, row, c);

    switch (ctx->type[RECSYS_PG_ID]) {

    case RECSYS_PG_INT8:
        if (len != 8) {
            goto bad;
        }

        len = snprintf(ctx->idbuf, sizeof(ctx->idbuf), "%lld",
                       (long long) (int64_t) recsys_pg_u64(p));
        p = (const unsigned char *) ctx->idbuf;
        break;

    case RECSYS_PG_INT4:
        if (len != 4) {
            goto bad;
        }

        len = snprintf(ctx->idbuf, sizeof(ctx->idbuf), "%d",
                       (int) (int32_t) recsys_pg_u32(p));
        p = (const unsigned char *) ctx->idbuf;
        break;

    case RECSYS_PG_UUID:
        if (len != 16) {
            goto bad;
        }

        for (i = 0, n = 0; i < 16; i++) {
            n += snprintf(ctx->idbuf + n, sizeof(ctx->idbuf) - n, "%s%02x",
                          (i == 4 || i == 6 || i == 8 || i == 10) ? "-" : "",
                          p[i]);
        }

        len = n;
        p = (const unsigned char *) ctx->idbuf;
        break;

    default:
        break;
    }

    ctx->id = (const char *) p;
    ctx->id_len = len;

    if (len == 0) {
        recsys_pg_error(ctx, "row %llu: id is empty",
                        (unsigned long long) ctx->rowno);
        return -1;
    }

    if (memchr(p, '\0', len) != NULL) {
        recsys_pg_row_error(ctx, "id contains a NUL byte");
        return -1;
    }

    return 0;

bad:

    recsys_pg_error(ctx, "row %llu: id has a bad binary length %d",
                    (unsigned long long) ctx->rowno, len);

    return -1;
}


/* a one-dimensional float4[] or float8[] of exactly dimension numbers */

static int
recsys_pg_vector(recsys_pg_ctx_t *ctx, const unsigned char *p, int len)
{
    int                   ndim, elen;
    Oid                   elem, want;
    float                 f;
    double                d;
    uint32_t              i, n, dim;
    const unsigned char  *end;

    dim = ctx->r->dimension;
    end = p + len;
    want = (ctx->type[RECSYS_PG_EMBEDDING] == RECSYS_PG_FLOAT4_ARRAY)
           ? RECSYS_PG_FLOAT4 : RECSYS_PG_FLOAT8;

    if (len < 12) {
        goto corrupt;
    }

    ndim = (int) recsys_pg_u32(p);
    elem = (Oid) recsys_pg_u32(p + 8);
    p += 12;

    if (ndim == 0) {
        recsys_pg_row_error(ctx, "embedding is empty, expected %u numbers",
                            dim);
        return -1;
    }

    if (ndim != 1) {
        recsys_pg_row_error(ctx, "embedding has %d dimensions, expected a "
                            "flat array of %u numbers", ndim, dim);
        return -1;
    }

    if (elem != want || end - p < 8) {
        goto corrupt;
    }

    n = recsys_pg_u32(p);
    p += 8;

    if (n != dim) {
        recsys_pg_row_error(ctx, "embedding has %u numbers, expected %u", n,
                            dim);
        return -1;
    }

    elen = (want == RECSYS_PG_FLOAT4) ? 4 : 8;

    for (i = 0; i < n; i++) {
        if (end - p < 4) {
            goto corrupt;
        }

        if (recsys_pg_u32(p) == 0xffffffffu) {
            recsys_pg_row_error(ctx, "embedding[%u] is NULL", i);
            return -1;
        }

        if ((int) recsys_pg_u32(p) != elen || end - p < 4 + elen) {
            goto corrupt;
        }

        p += 4;

        d = recsys_pg_float(p, elen);
        f = (float) d;

        p += elen;

        if (!isfinite(d) || !isfinite(f)) {
            recsys_pg_row_error(ctx, "embedding[%u] is not a finite float32"
                                " number", i);
            return -1;
        }

        ctx->vec[i] = f;
    }

    return 0;

corrupt:

    recsys_pg_row_error(ctx, "embedding is not a valid binary array");

    return -1;
}


static int
recsys_pg_number(recsys_pg_ctx_t *ctx, Oid type, const unsigned char *p,
    int len, double *out)
{
    switch (type) {

    case RECSYS_PG_FLOAT4:
        if (len != 4) {
            break;
        }

        *out = recsys_pg_float(p, 4);
        return 0;

    case RECSYS_PG_FLOAT8:
        if (len != 8) {
            break;
        }

        *out = recsys_pg_float(p, 8);
        return 0;

    case RECSYS_PG_INT2:
        if (len != 2) {
            break;
        }

        *out = (int16_t) (((uint16_t) p[0] << 8) | p[1]);
        return 0;

    case RECSYS_PG_INT4:
        if (len != 4) {
            break;
        }

        *out = (int32_t) recsys_pg_u32(p);
        return 0;

    case RECSYS_PG_INT8:
        if (len != 8) {
            break;
        }

        *out = (double) (int64_t) recsys_pg_u64(p);
        return 0;

    default:
        break;
    }

    recsys_pg_row_error(ctx, "popularity has a bad binary value");

    return -1;
}


/*
 * jsonb's binary form is a version byte, 1, then the text, which has a
 * blank after each ":" and ","; json's is the text as written.  Both
 * are stored as compact JSON, as cJSON prints it for JSON Lines sources.
 */

static int
recsys_pg_json(recsys_pg_ctx_t *ctx, Oid type, const unsigned char *p,
    int len, recsys_pg_row_t *r)
{
    cJSON  *root;

    if (type == RECSYS_PG_JSONB) {
        if (len < 1 || p[0] != 1) {
            recsys_pg_row_error(ctx, "attributes: unknown jsonb version");
            return -1;
        }

        p++;
        len--;
    }

    root = cJSON_ParseWithLength((const char *) p, (size_t) len);

    if (root == NULL) {
        recsys_pg_row_error(ctx, "attributes cannot be read as JSON (nested"
                            " too deeply?)");
        return -1;
    }

    /* a JSON null is no attributes */
    if (cJSON_IsNull(root)) {
        cJSON_Delete(root);
        return 0;
    }

    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        recsys_pg_row_error(ctx, "attributes must be a JSON object");
        return -1;
    }

    ctx->attrs = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);

    if (ctx->attrs == NULL) {
        recsys_pg_row_error(ctx, "out of memory");
        return -1;
    }

    r->attributes = ctx->attrs;
    r->attributes_len = strlen(ctx->attrs);

    return 0;
}


/*
 * A one-dimensional text[] or varchar[] of item ids, NULL elements
 * skipped; the elements point into the result.
 */

static int
recsys_pg_seen(recsys_pg_ctx_t *ctx, const unsigned char *p, int len,
    recsys_pg_row_t *r)
{
    int                   elen;
    size_t                cap;
    uint32_t              i, n;
    recsys_pg_text_t     *t;
    const unsigned char  *end;

    end = p + len;

    if (len < 12) {
        goto corrupt;
    }

    /* an empty array has no dimensions */
    if (recsys_pg_u32(p) == 0) {
        return 0;
    }

    if (recsys_pg_u32(p) != 1) {
        recsys_pg_row_error(ctx, "seen must be a flat array of item ids");
        return -1;
    }

    if (end - p < 20) {
        goto corrupt;
    }

    n = recsys_pg_u32(p + 12);
    p += 20;

    if (n > ctx->seen_cap) {
        cap = (n > 2 * ctx->seen_cap) ? n : 2 * ctx->seen_cap;

        t = realloc(ctx->seen, cap * sizeof(recsys_pg_text_t));
        if (t == NULL) {
            recsys_pg_row_error(ctx, "out of memory");
            return -1;
        }

        ctx->seen = t;
        ctx->seen_cap = cap;
    }

    r->seen = ctx->seen;
    r->nseen = 0;

    for (i = 0; i < n; i++) {
        if (end - p < 4) {
            goto corrupt;
        }

        elen = (int) recsys_pg_u32(p);
        p += 4;

        if (elen == -1) {
            continue;
        }

        if (elen < 0 || end - p < elen) {
            goto corrupt;
        }

        ctx->seen[r->nseen].data = (const char *) p;
        ctx->seen[r->nseen].len = (size_t) elen;
        r->nseen++;
        p += elen;
    }

    return 0;

corrupt:

    recsys_pg_row_error(ctx, "seen is not a valid binary array");

    return -1;
}


static void
recsys_pg_type_error(recsys_pg_ctx_t *ctx, int c, Oid type)
{
    char         oid[16];
    const char  *params[1];
    PGresult    *res;

    snprintf(oid, sizeof(oid), "%u", type);
    params[0] = oid;

    res = PQexecParams(ctx->conn, "SELECT format_type($1::oid, NULL)", 1,
                       NULL, params, NULL, NULL, 0);

    recsys_pg_error(ctx, "column \"%s\" is %s, expected %s",
                    recsys_pg_columns[c].name,
                    (PQresultStatus(res) == PGRES_TUPLES_OK
                     && PQntuples(res) == 1) ? PQgetvalue(res, 0, 0) : oid,
                    recsys_pg_columns[c].expect);

    PQclear(res);
}


static void
recsys_pg_error(recsys_pg_ctx_t *ctx, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(ctx->err, ctx->errlen, fmt, args);
    va_end(args);
}


static void
recsys_pg_row_error(recsys_pg_ctx_t *ctx, const char *fmt, ...)
{
    int      n;
    char     q[RECSYS_QUOTE_LEN + 8];
    va_list  args;

    recsys_quote(ctx->id, (size_t) ctx->id_len, q, sizeof(q));
    n = snprintf(ctx->err, ctx->errlen, "row id %s: ", q);

    if (n < 0 || (size_t) n >= ctx->errlen) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(ctx->err + n, ctx->errlen - n, fmt, args);
    va_end(args);
}


/* appends libpq's message, on one line, to what err already holds */

static void
recsys_pg_result_error(recsys_pg_ctx_t *ctx, const char *what,
    const char *msg)
{
    recsys_pg_message(ctx->err, ctx->errlen, what, msg);
}


/* 0 when res has the status wanted; else the error is set, res cleared */

static int
recsys_pg_ok(recsys_pg_ctx_t *ctx, PGresult *res, ExecStatusType want,
    const char *what)
{
    if (PQresultStatus(res) == want) {
        return 0;
    }

    recsys_pg_result_error(ctx, what, res ? PQresultErrorMessage(res)
                                          : PQerrorMessage(ctx->conn));
    PQclear(res);

    return -1;
}


/* PostgreSQL microseconds since 2000 as "YYYY-MM-DD HH:MM:SS.ffffff+00" */

static void
recsys_pg_timestamp(int64_t us, char *buf, size_t size)
{
    int64_t    sec, frac;
    time_t     t;
    struct tm  tm;

    sec = us / 1000000;
    frac = us % 1000000;

    if (frac < 0) {
        frac += 1000000;
        sec--;
    }

    t = (time_t) (sec + RECSYS_PG_EPOCH);
    gmtime_r(&t, &tm);

    snprintf(buf, size, "%04d-%02d-%02d %02d:%02d:%02d.%06d+00",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int) frac);
}


static uint32_t
recsys_pg_u32(const unsigned char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | (uint32_t) p[3];
}


static uint64_t
recsys_pg_u64(const unsigned char *p)
{
    return ((uint64_t) recsys_pg_u32(p) << 32) | recsys_pg_u32(p + 4);
}


/* a binary float4 (len 4) or float8: IEEE 754 bits in network order */

static double
recsys_pg_float(const unsigned char *p, int len)
{
    float     f;
    double    d;
    uint32_t  u32;
    uint64_t  u64;

    if (len == 4) {
        u32 = recsys_pg_u32(p);
        memcpy(&f, &u32, sizeof(float));
        return f;
    }

    u64 = recsys_pg_u64(p);
    memcpy(&d, &u64, sizeof(double));

    return d;
}


