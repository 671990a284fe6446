/*
 * PostgreSQL connection strings.  The parser below follows libpq's own
 * (fe-connect.c: conninfo_parse, conninfo_uri_parse_options) so that the
 * parts it calls secret are the ones libpq uses as secrets, and refuses
 * what the two could read differently: an "@" outside the user info of a
 * URI (a raw "@" or "/" in a password), a non-numeric port.  libpq then
 * parses the string too (PQconninfoParse, which neither connects nor
 * reads defaults) and every secret it finds must be one found here.
 * A string that fails either parse is never shown, and never given to
 * libpq to connect: libpq's messages for a malformed string quote it.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* memmem */
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "recsys_pg_dsn.h"
#include "recsys_string.h"


#define RECSYS_PG_DSN_PCT     1         /* percent-encoded (URI) */
#define RECSYS_PG_DSN_KV      2         /* maybe quoted, \ escapes */

#define RECSYS_PG_DSN_KEYLEN  64

#define RECSYS_PG_DSN_AT      "an \"@\" outside the user info (write it " \
                              "as %40)"


/* one value of a DSN and the keyword it is for */
typedef struct {
    const char         *key;            /* as written, or a URI part */
    size_t              key_len;
    size_t              start;          /* the value, as written */
    size_t              len;
    int                 form;
    int                 secret;
} recsys_pg_part_t;


typedef int (*recsys_pg_part_pt)(void *data, const char *dsn,
    const recsys_pg_part_t *part);


typedef struct {
    const char         *dsn;
    recsys_pg_part_pt   handler;
    void               *data;
    const char         *reason;         /* why it does not parse */
    size_t              at;             /* and where */
} recsys_pg_dsn_t;


typedef struct {
    char               *buf;
    size_t              size;
    size_t              need;
    size_t              pos;            /* copied from the dsn so far */
} recsys_pg_out_t;


typedef struct {
    const char         *value;          /* a secret libpq found */
    int                 found;
} recsys_pg_find_t;


typedef struct {
    PQconninfoOption   *known;          /* libpq's keywords */
    size_t              at;
    int                 found;
} recsys_pg_unknown_t;


typedef struct {
    char               *msg;
    size_t              size;
} recsys_pg_scrub_t;


static int recsys_pg_dsn_parse(recsys_pg_dsn_t *d);
static int recsys_pg_dsn_uri(recsys_pg_dsn_t *d, size_t p);
static int recsys_pg_dsn_query(recsys_pg_dsn_t *d, size_t p);
static int recsys_pg_dsn_kv(recsys_pg_dsn_t *d);
static int recsys_pg_dsn_part(recsys_pg_dsn_t *d, const char *key,
    size_t key_len, size_t start, size_t len, int form);
static int recsys_pg_dsn_fail(recsys_pg_dsn_t *d, const char *reason,
    size_t at);
static size_t recsys_pg_dsn_prefix(const char *dsn);
static int recsys_pg_dsn_bare(const char *dsn);
static int recsys_pg_dsn_libpq(const char *dsn, char *err, size_t errlen);
static int recsys_pg_dsn_has(const char *dsn, const char *value);
static int recsys_pg_find(void *data, const char *dsn,
    const recsys_pg_part_t *part);
static int recsys_pg_unknown(void *data, const char *dsn,
    const recsys_pg_part_t *part);
static int recsys_pg_copy(void *data, const char *dsn,
    const recsys_pg_part_t *part);
static int recsys_pg_scrub_part(void *data, const char *dsn,
    const recsys_pg_part_t *part);
static void recsys_pg_out(recsys_pg_out_t *o, const char *s, size_t len);
static int recsys_pg_shown(const char *key, size_t len);
static int recsys_pg_space(char c);
static int recsys_pg_pct_valid(const char *s, size_t len);
static size_t recsys_pg_unescape(const char *s, size_t len, int form,
    char *out);
static void recsys_pg_replace(char *msg, size_t size, const char *secret,
    size_t len);


/*
 * The keywords whose values are shown.  Any other one, known to libpq
 * or not (password, sslpassword, oauth_client_secret, scram_client_key,
 * those of a later libpq), is a secret.
 */
static const char  *recsys_pg_harmless[] = {
    "host", "hostaddr", "port", "dbname", "user", "service", "passfile",
    "channel_binding", "connect_timeout", "client_encoding", "options",
    "application_name", "fallback_application_name", "keepalives",
    "keepalives_idle", "keepalives_interval", "keepalives_count",
    "tcp_user_timeout", "sslmode", "sslnegotiation", "sslcompression",
    "sslcert", "sslkey", "sslcertmode", "sslrootcert", "sslcrl",
    "sslcrldir", "sslsni", "requirepeer", "require_auth",
    "ssl_min_protocol_version", "ssl_max_protocol_version",
    "min_protocol_version", "max_protocol_version", "gssencmode",
    "krbsrvname", "gsslib", "gssdelegation", "replication",
    "target_session_attrs", "load_balance_hosts", "requiressl", "ssl",
    NULL
};


int
recsys_pg_dsn_check(const char *dsn, char *err, size_t errlen)
{
    recsys_pg_dsn_t  d;

    memset(&d, 0, sizeof(recsys_pg_dsn_t));
    d.dsn = dsn;

    if (recsys_pg_dsn_parse(&d) != 0) {
        snprintf(err, errlen, "%s at byte %zu", d.reason, d.at);
        return -1;
    }

    if (recsys_pg_dsn_bare(dsn)) {
        return 0;
    }

    return recsys_pg_dsn_libpq(dsn, err, errlen);
}


size_t
recsys_pg_redact(const char *dsn, char *out, size_t outlen)
{
    char              err[128];
    size_t            prefix;
    recsys_pg_out_t   o;
    recsys_pg_dsn_t   d;

    o.buf = out;
    o.size = outlen;
    o.need = 0;
    o.pos = 0;

    if (recsys_pg_dsn_check(dsn, err, sizeof(err)) != 0) {
        prefix = recsys_pg_dsn_prefix(dsn);

        if (prefix) {
            recsys_pg_out(&o, dsn, prefix);
            recsys_pg_out(&o, "<unparseable>", sizeof("<unparseable>") - 1);

        } else {
            recsys_pg_out(&o, "<unparseable dsn>",
                          sizeof("<unparseable dsn>") - 1);
        }

    } else {
        memset(&d, 0, sizeof(recsys_pg_dsn_t));
        d.dsn = dsn;
        d.handler = recsys_pg_copy;
        d.data = &o;

        /* it parsed a moment ago, and copying cannot fail */
        (void) recsys_pg_dsn_parse(&d);

        recsys_pg_out(&o, dsn + o.pos, strlen(dsn) - o.pos);
    }

    if (outlen > 0) {
        out[o.need < outlen ? o.need : outlen - 1] = '\0';
    }

    return o.need;
}


void
recsys_pg_scrub(const char *dsn, char *msg, size_t size)
{
    recsys_pg_dsn_t    d;
    recsys_pg_scrub_t  s;

    s.msg = msg;
    s.size = size;

    memset(&d, 0, sizeof(recsys_pg_dsn_t));
    d.dsn = dsn;
    d.handler = recsys_pg_scrub_part;
    d.data = &s;

    if (recsys_pg_dsn_parse(&d) != 0 && d.at == (size_t) -1) {
        /* could not check the decoded forms: say nothing at all */
        snprintf(msg, size, "postgresql: error (message withheld)");
    }
}


static int
recsys_pg_dsn_parse(recsys_pg_dsn_t *d)
{
    size_t       prefix;
    const char  *s;

    s = d->dsn;
    prefix = recsys_pg_dsn_prefix(s);

    if (prefix) {
        return recsys_pg_dsn_uri(d, prefix);
    }

    if (!recsys_pg_dsn_bare(s)) {
        return recsys_pg_dsn_kv(d);
    }

    /*
     * libpq takes a string without "=" as a database name, which the
     * server then quotes back: refuse what looks like a mistyped URI or
     * a password, in case it is one
     */
    for ( ; *s != '\0'; s++) {
        if ((unsigned char) *s <= ' ' || *s == 0x7f || *s == '@'
            || *s == ':' || *s == '/')
        {
            return recsys_pg_dsn_fail(d, "neither a URI nor key=value "
                                      "pairs", (size_t) (s - d->dsn));
        }
    }

    return recsys_pg_dsn_part(d, "dbname", 6, 0, strlen(d->dsn), 0);
}


/*
 * postgresql://[user[:password]@][host][:port][,...][/dbname][?k=v&...]
 * libpq ends the user info at the first "@" before any "/"; RFC 3986 ends
 * the authority at "/", "?" or "#": both must agree.
 */

static int
recsys_pg_dsn_uri(recsys_pg_dsn_t *d, size_t p)
{
    size_t       at, rfc, colon, host, end, i;
    const char  *s;

    s = d->dsn;

    at = p + strcspn(s + p, "@/");
    rfc = p + strcspn(s + p, "/?#");

    if (s[at] == '@') {
        if (at > rfc) {
            return recsys_pg_dsn_fail(d, RECSYS_PG_DSN_AT, at);
        }

        colon = p + strcspn(s + p, ":@");

        if (recsys_pg_dsn_part(d, "user", 4, p, colon - p,
                               RECSYS_PG_DSN_PCT)
            != 0)
        {
            return -1;
        }

        if (colon < at
            && recsys_pg_dsn_part(d, "password", 8, colon + 1,
                                  at - colon - 1, RECSYS_PG_DSN_PCT)
               != 0)
        {
            return -1;
        }

        p = at + 1;
    }

    for ( ;; ) {
        if (s[p] == '[') {
            host = p + 1;
            end = host + strcspn(s + host, "]");

            if (s[end] == '\0') {
                return recsys_pg_dsn_fail(d, "an IPv6 address without "
                                          "\"]\"", p);
            }

            if (end == host) {
                return recsys_pg_dsn_fail(d, "an empty IPv6 address", p);
            }

            p = end + 1;

            if (s[p] != '\0' && s[p] != ':' && s[p] != '/' && s[p] != '?'
                && s[p] != ',')
            {
                return recsys_pg_dsn_fail(d, "an unexpected character "
                                          "after an IPv6 address", p);
            }

        } else {
            host = p;
            end = p + strcspn(s + p, ":/?,");
            p = end;
        }

        if (memchr(s + host, '@', end - host) != NULL) {
            return recsys_pg_dsn_fail(d, RECSYS_PG_DSN_AT, host);
        }

        if (recsys_pg_dsn_part(d, "host", 4, host, end - host,
                               RECSYS_PG_DSN_PCT)
            != 0)
        {
            return -1;
        }

        if (s[p] == ':') {
            end = p + 1 + strcspn(s + p + 1, "/?,");

            for (i = p + 1; i < end; i++) {
                if (s[i] < '0' || s[i] > '9') {
                    return recsys_pg_dsn_fail(d, "a port that is not a "
                                              "number", p + 1);
                }
            }

            if (recsys_pg_dsn_part(d, "port", 4, p + 1, end - p - 1, 0)
                != 0)
            {
                return -1;
            }

            p = end;
        }

        if (s[p] != ',') {
            break;
        }

        p++;
    }

    if (s[p] == '/') {
        end = p + 1 + strcspn(s + p + 1, "?");

        if (memchr(s + p + 1, '@', end - p - 1) != NULL) {
            return recsys_pg_dsn_fail(d, RECSYS_PG_DSN_AT, p + 1);
        }

        if (recsys_pg_dsn_part(d, "dbname", 6, p + 1, end - p - 1,
                               RECSYS_PG_DSN_PCT)
            != 0)
        {
            return -1;
        }

        p = end;
    }

    if (s[p] == '?') {
        return recsys_pg_dsn_query(d, p + 1);
    }

    return 0;
}


/* k=v&k=v: one "=" in each, keys and values percent-encoded */

static int
recsys_pg_dsn_query(recsys_pg_dsn_t *d, size_t p)
{
    size_t       end;
    const char  *s, *eq;

    s = d->dsn;

    while (s[p] != '\0') {
        end = p + strcspn(s + p, "&");
        eq = memchr(s + p, '=', end - p);

        if (eq == NULL) {
            return recsys_pg_dsn_fail(d, "a URI parameter without \"=\"",
                                      p);
        }

        if (memchr(eq + 1, '=', s + end - eq - 1) != NULL) {
            return recsys_pg_dsn_fail(d, "a URI parameter with a second "
                                      "\"=\"", p);
        }

        if (eq == s + p) {
            return recsys_pg_dsn_fail(d, "an empty keyword", p);
        }

        if (recsys_pg_dsn_part(d, s + p, eq - s - p, eq + 1 - s,
                               end - (eq + 1 - s), RECSYS_PG_DSN_PCT)
            != 0)
        {
            return -1;
        }

        p = (s[end] == '&') ? end + 1 : end;
    }

    return 0;
}


/*
 * keyword = value ...: blanks around "=" are allowed, a value is bare
 * (to the next blank) or single-quoted, and a backslash escapes the
 * character after it in both
 */

static int
recsys_pg_dsn_kv(recsys_pg_dsn_t *d)
{
    size_t       p, k, ke, v;
    const char  *s;

    s = d->dsn;
    p = 0;

    for ( ;; ) {
        while (recsys_pg_space(s[p])) {
            p++;
        }

        if (s[p] == '\0') {
            return 0;
        }

        k = p;

        while (s[p] != '\0' && s[p] != '=' && !recsys_pg_space(s[p])) {
            p++;
        }

        ke = p;

        while (recsys_pg_space(s[p])) {
            p++;
        }

        if (s[p] != '=') {
            return recsys_pg_dsn_fail(d, "a keyword without \"=\"", k);
        }

        if (ke == k) {
            return recsys_pg_dsn_fail(d, "an empty keyword", k);
        }

        p++;

        while (recsys_pg_space(s[p])) {
            p++;
        }

        v = p;

        if (s[p] == '\'') {
            p++;

            for ( ;; ) {
                if (s[p] == '\0') {
                    return recsys_pg_dsn_fail(d, "an unterminated quoted "
                                              "value", v);
                }

                if (s[p] == '\\') {
                    p++;

                    if (s[p] != '\0') {
                        p++;
                    }

                    continue;
                }

                if (s[p++] == '\'') {
                    break;
                }
            }

        } else {
            while (s[p] != '\0' && !recsys_pg_space(s[p])) {
                p += (s[p] == '\\' && s[p + 1] != '\0') ? 2 : 1;
            }
        }

        if (recsys_pg_dsn_part(d, s + k, ke - k, v, p - v,
                               RECSYS_PG_DSN_KV)
            != 0)
        {
            return -1;
        }
    }
}


static int
recsys_pg_dsn_part(recsys_pg_dsn_t *d, const char *key, size_t key_len,
    size_t start, size_t len, int form)
{
    char              name[RECSYS_PG_DSN_KEYLEN];
    size_t            n;
    const char       *v;
    recsys_pg_part_t  part;

    v = d->dsn + start;

    if (form == RECSYS_PG_DSN_PCT && !recsys_pg_pct_valid(v, len)) {
        return recsys_pg_dsn_fail(d, "a bad percent-encoding", start);
    }

    /* the keyword of a URI parameter is percent-encoded too */
    if (form == RECSYS_PG_DSN_PCT && !recsys_pg_pct_valid(key, key_len)) {
        return recsys_pg_dsn_fail(d, "a bad percent-encoding",
                                  (size_t) (key - d->dsn));
    }

    n = RECSYS_PG_DSN_KEYLEN;

    if (key_len < RECSYS_PG_DSN_KEYLEN) {
        n = recsys_pg_unescape(key, key_len,
                               form == RECSYS_PG_DSN_PCT ? form : 0, name);
    }

    part.key = key;
    part.key_len = key_len;
    part.start = start;
    part.len = len;
    part.form = form;
    part.secret = (n >= RECSYS_PG_DSN_KEYLEN || !recsys_pg_shown(name, n));

    /*
     * a database name that looks like a connection string is not one
     * to libpq (it expands the outer string only), but may be meant as
     * one: its password stays hidden
     */
    if (!part.secret && n == 6 && memcmp(name, "dbname", 6) == 0
        && (memchr(v, '=', len) != NULL || memmem(v, len, "://", 3) != NULL
            || memmem(v, len, "%3D", 3) != NULL
            || memmem(v, len, "%3d", 3) != NULL))
    {
        part.secret = 1;
    }

    if (d->handler != NULL && d->handler(d->data, d->dsn, &part) != 0) {
        d->reason = "out of memory";
        d->at = (size_t) -1;
        return -1;
    }

    return 0;
}


static int
recsys_pg_dsn_fail(recsys_pg_dsn_t *d, const char *reason, size_t at)
{
    d->reason = reason;
    d->at = at;

    return -1;
}


static size_t
recsys_pg_dsn_prefix(const char *dsn)
{
    if (strncmp(dsn, "postgresql://", 13) == 0) {
        return 13;
    }

    if (strncmp(dsn, "postgres://", 11) == 0) {
        return 11;
    }

    return 0;
}


/* as libpq's recognized_connection_string() */

static int
recsys_pg_dsn_bare(const char *dsn)
{
    return recsys_pg_dsn_prefix(dsn) == 0 && strchr(dsn, '=') == NULL;
}


static int
recsys_pg_dsn_libpq(const char *dsn, char *err, size_t errlen)
{
    int                   rc;
    char                 *msg;
    PQconninfoOption     *opts, *o;
    recsys_pg_dsn_t       d;
    recsys_pg_unknown_t   u;

    opts = PQconninfoParse(dsn, &msg);

    if (opts == NULL) {
        if (msg == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }

        /* libpq's message may quote the string: only say where */
        PQfreemem(msg);

        u.known = PQconninfoParse("", NULL);
        u.found = 0;
        u.at = 0;

        if (u.known != NULL) {
            memset(&d, 0, sizeof(recsys_pg_dsn_t));
            d.dsn = dsn;
            d.handler = recsys_pg_unknown;
            d.data = &u;

            (void) recsys_pg_dsn_parse(&d);

            PQconninfoFree(u.known);
        }

        if (u.found) {
            snprintf(err, errlen, "an unknown keyword at byte %zu", u.at);

        } else {
            snprintf(err, errlen, "a string libpq cannot parse");
        }

        return -1;
    }

    rc = 1;

    for (o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL
            || (recsys_pg_shown(o->keyword, strlen(o->keyword))
                && (o->dispchar == NULL || strchr(o->dispchar, '*') == NULL)))
        {
            continue;
        }

        rc = recsys_pg_dsn_has(dsn, o->val);

        if (rc != 1) {
            break;
        }
    }

    PQconninfoFree(opts);

    if (rc == 1) {
        return 0;
    }

    snprintf(err, errlen, (rc == 0) ? "libpq reads a secret where this "
             "parser does not" : "out of memory");

    return -1;
}


/* 1: value is the decoded value of a secret part of dsn, 0: not, -1 */

static int
recsys_pg_dsn_has(const char *dsn, const char *value)
{
    recsys_pg_dsn_t   d;
    recsys_pg_find_t  f;

    f.value = value;
    f.found = 0;

    memset(&d, 0, sizeof(recsys_pg_dsn_t));
    d.dsn = dsn;
    d.handler = recsys_pg_find;
    d.data = &f;

    if (recsys_pg_dsn_parse(&d) != 0 && d.at == (size_t) -1) {
        return -1;
    }

    return f.found;
}


static int
recsys_pg_find(void *data, const char *dsn, const recsys_pg_part_t *part)
{
    recsys_pg_find_t *f = data;

    char    *buf;
    size_t   n;

    if (!part->secret || f->found) {
        return 0;
    }

    buf = malloc(part->len + 1);
    if (buf == NULL) {
        return -1;
    }

    n = recsys_pg_unescape(dsn + part->start, part->len, part->form, buf);
    f->found = (n == strlen(f->value) && memcmp(buf, f->value, n) == 0);

    free(buf);

    return 0;
}


static int
recsys_pg_unknown(void *data, const char *dsn, const recsys_pg_part_t *part)
{
    recsys_pg_unknown_t *u = data;

    char               name[RECSYS_PG_DSN_KEYLEN];
    size_t             n;
    PQconninfoOption  *o;

    /* the parts of a URI itself (user, host, ...) are libpq keywords */
    if (u->found) {
        return 0;
    }

    n = RECSYS_PG_DSN_KEYLEN;

    if (part->key_len < RECSYS_PG_DSN_KEYLEN) {
        n = recsys_pg_unescape(part->key, part->key_len,
                               part->form == RECSYS_PG_DSN_PCT
                               ? part->form : 0, name);
        name[n] = '\0';
    }

    if (n < RECSYS_PG_DSN_KEYLEN
        && (strcmp(name, "requiressl") == 0 || strcmp(name, "ssl") == 0))
    {
        return 0;
    }

    for (o = u->known; o->keyword != NULL; o++) {
        if (n < RECSYS_PG_DSN_KEYLEN && strcmp(o->keyword, name) == 0) {
            return 0;
        }
    }

    u->found = 1;
    u->at = (size_t) (part->key - dsn);

    return 0;
}


static int
recsys_pg_copy(void *data, const char *dsn, const recsys_pg_part_t *part)
{
    recsys_pg_out_t *o = data;

    if (!part->secret) {
        return 0;
    }

    recsys_pg_out(o, dsn + o->pos, part->start - o->pos);

    /* a quoted value stays quoted: a keyword may follow the quote */
    if (part->form == RECSYS_PG_DSN_KV && part->len > 0
        && dsn[part->start] == '\'')
    {
        recsys_pg_out(o, "'***'", 5);

    } else {
        recsys_pg_out(o, "***", 3);
    }

    o->pos = part->start + part->len;

    return 0;
}


static int
recsys_pg_scrub_part(void *data, const char *dsn,
    const recsys_pg_part_t *part)
{
    recsys_pg_scrub_t *s = data;

    char    *buf;
    size_t   n;

    if (!part->secret || part->len == 0) {
        return 0;
    }

    recsys_pg_replace(s->msg, s->size, dsn + part->start, part->len);

    buf = malloc(part->len + 1);
    if (buf == NULL) {
        return -1;
    }

    n = recsys_pg_unescape(dsn + part->start, part->len, part->form, buf);

    if (n > 0) {
        recsys_pg_replace(s->msg, s->size, buf, n);
    }

    free(buf);

    return 0;
}


/* appends like snprintf: what does not fit is counted, not written */

static void
recsys_pg_out(recsys_pg_out_t *o, const char *s, size_t len)
{
    size_t  n;

    if (o->need + 1 < o->size) {
        n = o->size - o->need - 1;
        memcpy(o->buf + o->need, s, len < n ? len : n);
    }

    o->need += len;
}


static int
recsys_pg_shown(const char *key, size_t len)
{
    const char  **k;

    for (k = recsys_pg_harmless; *k != NULL; k++) {
        if (strlen(*k) == len && memcmp(*k, key, len) == 0) {
            return 1;
        }
    }

    return 0;
}


/* isspace() in the C locale, as libpq sees it in nginx */

static int
recsys_pg_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f'
           || c == '\r';
}


/* libpq refuses a "%" without two hex digits, and "%00" */

static int
recsys_pg_pct_valid(const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (s[i] != '%') {
            continue;
        }

        if (i + 2 >= len || recsys_hex_value((unsigned char) s[i + 1]) == -1
            || recsys_hex_value((unsigned char) s[i + 2]) == -1
            || (s[i + 1] == '0' && s[i + 2] == '0'))
        {
            return 0;
        }

        i += 2;
    }

    return 1;
}


/* the value a part stands for: percent-decoded, or unquoted, unescaped */

static size_t
recsys_pg_unescape(const char *s, size_t len, int form, char *out)
{
    size_t  i, n;

    n = 0;

    if (form == RECSYS_PG_DSN_PCT) {
        for (i = 0; i < len; i++) {
            if (s[i] == '%' && i + 2 < len) {
                out[n++] = (char)
                    (recsys_hex_value((unsigned char) s[i + 1]) * 16
                     + recsys_hex_value((unsigned char) s[i + 2]));
                i += 2;

            } else {
                out[n++] = s[i];
            }
        }

        return n;
    }

    if (form != RECSYS_PG_DSN_KV) {
        memcpy(out, s, len);
        return len;
    }

    /* the parser saw the closing quote */
    if (len >= 2 && s[0] == '\'') {
        s++;
        len -= 2;
    }

    for (i = 0; i < len; i++) {
        if (s[i] == '\\') {
            i++;

            if (i == len) {
                break;
            }
        }

        out[n++] = s[i];
    }

    return n;
}



/* replaces each occurrence by "***"; what no longer fits is cut off */

static void
recsys_pg_replace(char *msg, size_t size, const char *secret, size_t len)
{
    char    *p;
    size_t   off, tail;

    p = msg;

    while ((p = memmem(p, strlen(p), secret, len)) != NULL) {
        off = (size_t) (p - msg);
        tail = strlen(p + len);

        if (off + 4 > size) {
            *p = '\0';
            return;
        }

        if (off + 3 + tail + 1 > size) {
            tail = size - off - 3 - 1;
        }

        memmove(p + 3, p + len, tail);
        p[3 + tail] = '\0';
        memcpy(p, "***", 3);

        p += 3;
    }
}


PGconn *
recsys_pg_connect(const char *dsn, const char *app, char *err,
    size_t errlen)
{
    char         redacted[256], reason[128];
    PGconn      *conn;
    const char  *keys[4], *values[4];

    /* libpq would quote a malformed string in its message */
    if (recsys_pg_dsn_check(dsn, reason, sizeof(reason)) != 0) {
        snprintf(err, errlen, "the dsn is not a usable connection string "
                 "(%s); it is not shown, it may hold a password", reason);
        return NULL;
    }

    /* the dsn comes last so that its own settings win */
    keys[0] = "connect_timeout";
    values[0] = "10";
    keys[1] = "fallback_application_name";
    values[1] = app;
    keys[2] = "dbname";
    values[2] = dsn;
    keys[3] = NULL;
    values[3] = NULL;

    conn = PQconnectdbParams(keys, values, 1);

    if (conn == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    if (PQstatus(conn) != CONNECTION_OK) {
        recsys_pg_redact(dsn, redacted, sizeof(redacted));
        snprintf(err, errlen, "cannot connect to %s: ", redacted);
        recsys_pg_message(err, errlen, NULL, PQerrorMessage(conn));
        recsys_pg_scrub(dsn, err, errlen);
        PQfinish(conn);
        return NULL;
    }

    return conn;
}


char *
recsys_pg_table(PGconn *conn, const char *name, const char *suffix)
{
    char        *out, *part[2], *table;
    size_t       len, tlen;
    const char  *dot, *t;

    dot = strchr(name, '.');
    t = dot ? dot + 1 : name;

    tlen = strlen(t) + strlen(suffix);

    table = malloc(tlen + 1);
    if (table == NULL) {
        return NULL;
    }

    snprintf(table, tlen + 1, "%s%s", t, suffix);

    part[0] = dot ? PQescapeIdentifier(conn, name, (size_t) (dot - name))
                  : NULL;
    part[1] = PQescapeIdentifier(conn, table, tlen);

    free(table);
    out = NULL;

    if (part[1] != NULL && (dot == NULL || part[0] != NULL)) {
        len = strlen(part[1]) + (dot ? strlen(part[0]) + 1 : 0) + 1;
        out = malloc(len);

        if (out != NULL) {
            snprintf(out, len, "%s%s%s", dot ? part[0] : "", dot ? "." : "",
                     part[1]);
        }
    }

    PQfreemem(part[0]);
    PQfreemem(part[1]);

    return out;
}


void
recsys_pg_message(char *err, size_t errlen, const char *what,
    const char *msg)
{
    size_t  n;
    char   *p;

    if (errlen == 0) {
        return;
    }

    n = (what != NULL) ? (size_t) snprintf(err, errlen, "%s", what)
                       : strlen(err);

    if (n >= errlen) {
        return;
    }

    snprintf(err + n, errlen - n, "%s",
             (msg != NULL && *msg != '\0') ? msg : "unknown error");

    for (p = err; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t') {
            *p = (p[1] == '\0') ? '\0' : ' ';
        }
    }
}
