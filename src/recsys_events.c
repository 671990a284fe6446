/*
 * Events: request bodies into JSON Lines, and JSON Lines back into
 * events.  Pure C (cJSON): no nginx header.
 */


#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "recsys_events.h"
#include "recsys_json.h"
#include "recsys_request.h"
#include "recsys_string.h"
#include "recsys_time.h"


#define RECSYS_EVENTS_F_USER    0x01
#define RECSYS_EVENTS_F_ITEM    0x02
#define RECSYS_EVENTS_F_TYPE    0x04
#define RECSYS_EVENTS_F_TS      0x08
#define RECSYS_EVENTS_F_WEIGHT  0x10

/* integers up to 2^53 are exact in a double: ids and seconds */
#define RECSYS_EVENTS_MAX_INT   9007199254740992.0

/* 9999-12-31T23:59:59Z, the last time recsys_time_parse() reads */
#define RECSYS_EVENTS_MAX_TS    253402300799LL

#define RECSYS_EVENTS_TS_LEN    (sizeof("1970-01-01T00:00:00Z") - 1)


/* one checked event, pointing into the request's tree */
typedef struct {
    recsys_events_row_t  row;
    char                 user_num[24];  /* an id sent as a number */
    char                 item_num[24];
} recsys_events_ev_t;


static int recsys_events_check(recsys_events_batch_t *b,
    const recsys_events_conf_t *conf, cJSON *o, long i, int single,
    int64_t now, recsys_events_ev_t *ev);
static int recsys_events_id(recsys_events_batch_t *b,
    const recsys_events_conf_t *conf, cJSON *v, const char *name, long i,
    int single, const char **s, size_t *len, char *num);
static size_t recsys_events_line_len(const recsys_events_row_t *e);
static char *recsys_events_write(char *p, const recsys_events_row_t *e);
static int recsys_events_fail(recsys_events_batch_t *b, int status,
    const char *code, long i, int single, const char *fmt, ...);
static char *recsys_events_copy_str(char *p, const char *s, size_t len);


int
recsys_events_parse(recsys_events_batch_t *b,
    const recsys_events_conf_t *conf, const char *body, size_t len,
    int64_t now)
{
    int                  rc, single, pass;
    long                 i, n;
    char                *p;
    cJSON               *root, *list, *o;
    size_t               total;
    recsys_events_ev_t   ev;

    memset(b, 0, sizeof(recsys_events_batch_t));
    b->index = -1;

    root = recsys_json_parse_strict(body, len);

    if (root == NULL || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return recsys_events_fail(b, RECSYS_EVENTS_BAD, "bad_json", -1, 0,
                                  "the body must be a JSON object: one "
                                  "event or {\"events\": [...]}");
    }

    list = cJSON_GetObjectItemCaseSensitive(root, "events");
    single = (list == NULL);

    if (single) {
        n = 1;
        b->n = 1;

    } else if (!cJSON_IsArray(list) || root->child != list
               || list->next != NULL)
    {
        cJSON_Delete(root);
        return recsys_events_fail(b, RECSYS_EVENTS_BAD, "bad_json", -1, 0,
                                  "a batch is {\"events\": [...]}, an "
                                  "array of events and nothing else");

    } else {
        n = (long) cJSON_GetArraySize(list);
        b->n = (uint32_t) n;

        if (n == 0) {
            cJSON_Delete(root);
            return recsys_events_fail(b, RECSYS_EVENTS_BAD, "no_events", -1,
                                      0, "\"events\" is empty");
        }

        if (n > (long) conf->max_batch) {
            cJSON_Delete(root);
            return recsys_events_fail(b, RECSYS_EVENTS_TOO_MANY,
                                      "too_many_events", -1, 0,
                                      "%ld events, at most %u in one "
                                      "request", n, conf->max_batch);
        }
    }

    /* first every event is checked and measured, then all are written */
    total = 0;
    p = NULL;

    for (pass = 0; pass < 2; pass++) {
        o = single ? root : list->child;

        for (i = 0; i < n; i++, o = o->next) {
            rc = recsys_events_check(b, conf, o, i, single, now, &ev);

            if (rc != RECSYS_EVENTS_OK) {
                cJSON_Delete(root);
                free(b->lines);
                b->lines = NULL;
                return rc;
            }

            if (pass == 0) {
                total += recsys_events_line_len(&ev.row);

            } else {
                p = recsys_events_write(p, &ev.row);
            }
        }

        if (pass == 0) {
            b->lines = malloc(total);

            if (b->lines == NULL) {
                cJSON_Delete(root);
                return recsys_events_fail(b, RECSYS_EVENTS_INTERNAL,
                                          "internal_error", -1, 0,
                                          "out of memory");
            }

            p = b->lines;
        }
    }

    cJSON_Delete(root);

    b->len = (size_t) (p - b->lines);

    return RECSYS_EVENTS_OK;
}


void
recsys_events_batch_free(recsys_events_batch_t *b)
{
    free(b->lines);
    b->lines = NULL;
}


static int
recsys_events_check(recsys_events_batch_t *b,
    const recsys_events_conf_t *conf, cJSON *o, long i, int single,
    int64_t now, recsys_events_ev_t *ev)
{
    int          seen, f, rc;
    size_t       k;
    cJSON       *v, *user, *item, *type, *ts, *weight;
    const char  *name;

    if (!cJSON_IsObject(o)) {
        return recsys_events_fail(b, RECSYS_EVENTS_BAD, "bad_json", i,
                                  single, "not a JSON object");
    }

    seen = 0;
    user = item = type = ts = weight = NULL;

    for (v = o->child; v; v = v->next) {
        name = v->string;

        if (strcmp(name, "user") == 0) {
            f = RECSYS_EVENTS_F_USER;
            user = v;

        } else if (strcmp(name, "item") == 0) {
            f = RECSYS_EVENTS_F_ITEM;
            item = v;

        } else if (strcmp(name, "type") == 0) {
            f = RECSYS_EVENTS_F_TYPE;
            type = v;

        } else if (strcmp(name, "ts") == 0) {
            f = RECSYS_EVENTS_F_TS;
            ts = v;

        } else if (strcmp(name, "weight") == 0) {
            f = RECSYS_EVENTS_F_WEIGHT;
            weight = v;

        } else {
            return recsys_events_fail(b, RECSYS_EVENTS_INVALID,
                                      "unknown_field", i, single,
                                      "unknown field \"%.64s\", expected "
                                      "user, item, type, ts or weight",
                                      name);
        }

        /* cJSON keeps both; which one counts would be a guess */
        if (seen & f) {
            return recsys_events_fail(b, RECSYS_EVENTS_INVALID,
                                      "duplicate_field", i, single,
                                      "\"%s\" is given twice", name);
        }

        seen |= f;
    }

    memset(ev, 0, sizeof(recsys_events_ev_t));

    rc = recsys_events_id(b, conf, user, "user", i, single, &ev->row.user,
                          &ev->row.user_len, ev->user_num);
    if (rc != RECSYS_EVENTS_OK) {
        return rc;
    }

    rc = recsys_events_id(b, conf, item, "item", i, single, &ev->row.item,
                          &ev->row.item_len, ev->item_num);
    if (rc != RECSYS_EVENTS_OK) {
        return rc;
    }

    if (type == NULL) {
        return recsys_events_fail(b, RECSYS_EVENTS_INVALID, "missing_field",
                                  i, single, "\"type\" is missing");
    }

    if (!cJSON_IsString(type)) {
        return recsys_events_fail(b, RECSYS_EVENTS_INVALID, "bad_field", i,
                                  single, "\"type\" must be a string");
    }

    for (k = 0; k < conf->types.n; k++) {
        if (strcmp(conf->types.names[k], type->valuestring) == 0) {
            break;
        }
    }

    if (k == conf->types.n) {
        return recsys_events_fail(b, RECSYS_EVENTS_INVALID, "unknown_type",
                                  i, single, "unknown type \"%.64s\"",
                                  type->valuestring);
    }

    /* the catalog's own copy: it outlives the tree */
    ev->row.type = conf->types.names[k];
    ev->row.type_len = strlen(ev->row.type);
    ev->row.weight = conf->types.values[k];
    ev->row.ts = now;

    if (ts && cJSON_IsString(ts)) {
        if (recsys_time_parse(ts->valuestring, strlen(ts->valuestring),
                              &ev->row.ts)
            != 0)
        {
            return recsys_events_fail(b, RECSYS_EVENTS_INVALID, "bad_ts", i,
                                      single, "\"ts\" must be an ISO 8601 "
                                      "UTC time like "
                                      "\"2026-11-30T10:00:00Z\"");
        }

    } else if (ts && cJSON_IsNumber(ts)) {
        if (!(ts->valuedouble >= 0 && ts->valuedouble <= RECSYS_EVENTS_MAX_TS)
            || ts->valuedouble != floor(ts->valuedouble))
        {
            return recsys_events_fail(b, RECSYS_EVENTS_INVALID, "bad_ts", i,
                                      single, "\"ts\" as a number must be "
                                      "whole seconds since 1970");
        }

        ev->row.ts = (int64_t) ts->valuedouble;

    } else if (ts) {
        return recsys_events_fail(b, RECSYS_EVENTS_INVALID, "bad_ts", i,
                                  single, "\"ts\" must be an ISO 8601 "
                                  "string or seconds since 1970");
    }

    if (ev->row.ts < 0 || ev->row.ts > RECSYS_EVENTS_MAX_TS) {
        return recsys_events_fail(b, RECSYS_EVENTS_INVALID, "bad_ts", i,
                                  single, "\"ts\" is out of range");
    }

    if (weight) {
        if (!cJSON_IsNumber(weight)) {
            return recsys_events_fail(b, RECSYS_EVENTS_INVALID, "bad_weight",
                                      i, single, "\"weight\" must be a "
                                      "number");
        }

        /* cJSON reads 1e999 as infinity */
        if (!isfinite(weight->valuedouble)
            || fabs(weight->valuedouble) > RECSYS_EVENTS_MAX_WEIGHT)
        {
            return recsys_events_fail(b, RECSYS_EVENTS_INVALID, "bad_weight",
                                      i, single, "\"weight\" must be a "
                                      "finite number from -1e6 to 1e6");
        }

        ev->row.weight = weight->valuedouble;
    }

    return RECSYS_EVENTS_OK;
}


/* a user or item id: a string of valid UTF-8 without control bytes, or
 * an integer, written as its decimal digits */

static int
recsys_events_id(recsys_events_batch_t *b, const recsys_events_conf_t *conf,
    cJSON *v, const char *name, long i, int single, const char **s,
    size_t *len, char *num)
{
    size_t                j, n;
    ssize_t               c;
    const unsigned char  *u;

    if (v == NULL) {
        return recsys_events_fail(b, RECSYS_EVENTS_INVALID, "missing_field",
                                  i, single, "\"%s\" is missing", name);
    }

    if (cJSON_IsNumber(v)) {
        if (!(fabs(v->valuedouble) <= RECSYS_EVENTS_MAX_INT)
            || v->valuedouble != floor(v->valuedouble))
        {
            return recsys_events_fail(b, RECSYS_EVENTS_INVALID, "bad_id", i,
                                      single, "\"%s\" as a number must be "
                                      "an integer", name);
        }

        *len = (size_t) snprintf(num, 24, "%.0f", v->valuedouble);
        *s = num;
        return RECSYS_EVENTS_OK;
    }

    if (!cJSON_IsString(v)) {
        return recsys_events_fail(b, RECSYS_EVENTS_INVALID, "bad_field", i,
                                  single, "\"%s\" must be a string", name);
    }

    n = strlen(v->valuestring);

    if (n == 0 || n > conf->max_id_length) {
        return recsys_events_fail(b, RECSYS_EVENTS_INVALID, "bad_id", i,
                                  single, "\"%s\" must have 1 to %u bytes",
                                  name, conf->max_id_length);
    }

    u = (const unsigned char *) v->valuestring;

    for (j = 0; j < n; j += (size_t) c) {
        c = recsys_utf8_char(u + j, n - j);

        if (c < 0 || (c == 1 && (u[j] < 0x20 || u[j] == 0x7f))) {
            return recsys_events_fail(b, RECSYS_EVENTS_INVALID, "bad_id", i,
                                      single, "\"%s\" must be UTF-8 "
                                      "without control characters", name);
        }
    }

    *s = v->valuestring;
    *len = n;

    return RECSYS_EVENTS_OK;
}


static size_t
recsys_events_line_len(const recsys_events_row_t *e)
{
    return sizeof("{\"user\":,\"item\":,\"type\":,\"ts\":\"\",\"weight\":}\n")
           - 1 + RECSYS_EVENTS_TS_LEN + RECSYS_JSON_NUMBER_LEN
           + recsys_json_str_len(e->user, e->user_len, RECSYS_JSON_NO_LIMIT)
           + recsys_json_str_len(e->item, e->item_len, RECSYS_JSON_NO_LIMIT)
           + recsys_json_str_len(e->type, e->type_len,
                                 RECSYS_JSON_NO_LIMIT);
}


static char *
recsys_events_write(char *p, const recsys_events_row_t *e)
{
    time_t     t;
    struct tm  tm;

    memcpy(p, "{\"user\":", 8);
    p += 8;
    p = recsys_json_str(p, e->user, e->user_len, RECSYS_JSON_NO_LIMIT);
    memcpy(p, ",\"item\":", 8);
    p += 8;
    p = recsys_json_str(p, e->item, e->item_len, RECSYS_JSON_NO_LIMIT);
    memcpy(p, ",\"type\":", 8);
    p += 8;
    p = recsys_json_str(p, e->type, e->type_len, RECSYS_JSON_NO_LIMIT);

    t = (time_t) e->ts;
    gmtime_r(&t, &tm);
    p += strftime(p, RECSYS_EVENTS_TS_LEN + 10,
                  ",\"ts\":\"%Y-%m-%dT%H:%M:%SZ\"", &tm);

    memcpy(p, ",\"weight\":", 10);
    p += 10;
    p = recsys_json_number(p, e->weight, 15);
    *p++ = '}';
    *p++ = '\n';

    return p;
}


static int
recsys_events_fail(recsys_events_batch_t *b, int status, const char *code,
    long i, int single, const char *fmt, ...)
{
    int      n;
    va_list  args;

    snprintf(b->code, sizeof(b->code), "%s", code);

    n = 0;

    if (i >= 0) {
        b->index = i;
        n = single ? snprintf(b->error, sizeof(b->error), "event: ")
                   : snprintf(b->error, sizeof(b->error), "events[%ld]: ", i);
    }

    va_start(args, fmt);
    vsnprintf(b->error + n, sizeof(b->error) - (size_t) n, fmt, args);
    va_end(args);

    return status;
}


/* ---- reading lines back ---- */

int
recsys_events_line(const char *line, size_t len, recsys_events_row_t *e,
    void **tree)
{
    cJSON  *root, *user, *item, *type, *ts, *weight;

    recsys_events_line_free(*tree);
    *tree = NULL;

    root = recsys_json_parse_strict(line, len);
    if (root == NULL) {
        return -1;
    }

    *tree = root;

    user = cJSON_GetObjectItemCaseSensitive(root, "user");
    item = cJSON_GetObjectItemCaseSensitive(root, "item");
    type = cJSON_GetObjectItemCaseSensitive(root, "type");
    ts = cJSON_GetObjectItemCaseSensitive(root, "ts");
    weight = cJSON_GetObjectItemCaseSensitive(root, "weight");

    if (!cJSON_IsString(user) || !cJSON_IsString(item)
        || !cJSON_IsString(type) || user->valuestring[0] == '\0'
        || item->valuestring[0] == '\0')
    {
        return -1;
    }

    e->user = user->valuestring;
    e->user_len = strlen(e->user);
    e->item = item->valuestring;
    e->item_len = strlen(e->item);
    e->type = type->valuestring;
    e->type_len = strlen(e->type);

    if (cJSON_IsString(ts)) {
        if (recsys_time_parse(ts->valuestring, strlen(ts->valuestring),
                              &e->ts)
            != 0)
        {
            return -1;
        }

    } else if (cJSON_IsNumber(ts) && ts->valuedouble >= 0
               && ts->valuedouble <= RECSYS_EVENTS_MAX_TS)
    {
        e->ts = (int64_t) ts->valuedouble;

    } else {
        return -1;
    }

    if (weight == NULL) {
        e->weight = 1;

    } else if (cJSON_IsNumber(weight) && isfinite(weight->valuedouble)) {
        e->weight = weight->valuedouble;

    } else {
        return -1;
    }

    return 0;
}


void
recsys_events_line_free(void *tree)
{
    cJSON_Delete(tree);
}


int
recsys_events_read(const char *path, recsys_events_cb_pt cb, void *data,
    uint64_t *bad, char *err, size_t errlen)
{
    int                   rc;
    FILE                 *fp;
    char                 *line;
    void                 *tree;
    size_t                cap;
    ssize_t               n;
    uint64_t              nbad;
    recsys_events_row_t   e;

    fp = fopen(path, "r");

    if (fp == NULL) {
        if (errno == ENOENT) {
            if (bad) {
                *bad = 0;
            }

            return 0;
        }

        snprintf(err, errlen, "cannot open \"%s\": %s", path,
                 strerror(errno));
        return -1;
    }

    line = NULL;
    cap = 0;
    tree = NULL;
    nbad = 0;
    rc = 0;

    while ((n = getline(&line, &cap, fp)) > 0) {

        /* a last line without its '\n' is still being written */
        if (line[n - 1] != '\n') {
            break;
        }

        if (recsys_events_line(line, (size_t) n - 1, &e, &tree) != 0) {
            nbad++;
            continue;
        }

        if (cb(data, &e) != 0) {
            rc = 1;
            break;
        }
    }

    if (rc == 0 && ferror(fp)) {
        snprintf(err, errlen, "cannot read \"%s\": %s", path,
                 strerror(errno));
        rc = -1;
    }

    recsys_events_line_free(tree);
    free(line);
    fclose(fp);

    if (bad) {
        *bad = nbad;
    }

    return rc;
}


/* ---- PostgreSQL COPY text rows ---- */

size_t
recsys_events_copy_len(const recsys_events_row_t *e)
{
    return 2 * (e->user_len + e->item_len + e->type_len)
           + sizeof("\t\t\t1970-01-01 00:00:00+00\t\n") + 32;
}


char *
recsys_events_copy_row(char *dst, const recsys_events_row_t *e)
{
    char       *p;
    time_t      t;
    struct tm   tm;

    p = recsys_events_copy_str(dst, e->user, e->user_len);
    *p++ = '\t';
    p = recsys_events_copy_str(p, e->item, e->item_len);
    *p++ = '\t';
    p = recsys_events_copy_str(p, e->type, e->type_len);

    t = (time_t) e->ts;
    gmtime_r(&t, &tm);
    p += strftime(p, 32, "\t%Y-%m-%d %H:%M:%S+00\t", &tm);
    p += snprintf(p, 32, "%.17g", e->weight);
    *p++ = '\n';

    return p;
}


/* COPY's text format: backslash escapes for the bytes it gives meaning */

static char *
recsys_events_copy_str(char *p, const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        switch (s[i]) {

        case '\\':
            *p++ = '\\';
            *p++ = '\\';
            break;

        case '\t':
            *p++ = '\\';
            *p++ = 't';
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        case '\r':
            *p++ = '\\';
            *p++ = 'r';
            break;

        default:
            *p++ = s[i];
        }
    }

    return p;
}
