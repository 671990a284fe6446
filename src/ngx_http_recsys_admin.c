
/*
 * ngx_http_recsys_admin_module: the admin locations of a catalog's index,
 * "recsys_admin rebuild|status|rollback", behind an optional bearer token.
 * A rebuild only queues a request for the helper (see
 * ngx_http_recsys_helper.c); the status is read from the helper's zone
 * and the served generation's manifest.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <cjson/cJSON.h>

#include "ngx_http_recsys_module.h"
#include "ngx_http_recsys_body.h"
#include "ngx_http_recsys_helper.h"
#include "ngx_http_recsys_events.h"
#include "recsys_json.h"
#include "recsys_request.h"


#define NGX_HTTP_RECSYS_ADMIN_REBUILD     1
#define NGX_HTTP_RECSYS_ADMIN_STATUS      2
#define NGX_HTTP_RECSYS_ADMIN_ROLLBACK    3

#define NGX_HTTP_RECSYS_ADMIN_MAX_BODY    4096

#define ngx_http_recsys_admin_cpy(p, s)  ngx_cpymem(p, s, sizeof(s) - 1)


/* the model object of a status answer: keys, numbers and its strings */
#define NGX_HTTP_RECSYS_ADMIN_MODEL_LEN                                      \
    (sizeof(",\"model\":{\"algorithm\":,\"trained_at\":,"                  \
            "\"train_seconds\":,\"events\":,\"users\":,"                    \
            "\"recall_at_10\":,\"ndcg_at_10\":,\"scored_users\":,"           \
            "\"gate\":{\"recall_at_10\":,\"ndcg_at_10\":},\"promote_if\":,"  \
            "\"served\":{\"generation\":,\"recall_at_10\":,"                 \
            "\"ndcg_at_10\":}}")                                             \
     + sizeof(",\"factors\":{\"factors\":,\"train_seconds\":,"          \
              "\"users\":,\"recall_at_10\":,\"ndcg_at_10\":,"                \
              "\"gate\":{\"recall_at_10\":,\"ndcg_at_10\":},"                \
              "\"served\":{\"recall_at_10\":,\"ndcg_at_10\":}}")             \
     + 19 * NGX_INT64_LEN + 6 * (16 + 32 + 128) + 6)


typedef struct {
    ngx_uint_t                  admin;          /* NGX_HTTP_RECSYS_ADMIN_* */
    ngx_http_recsys_catalog_t  *catalog;
    ngx_http_complex_value_t   *token;
    ngx_str_t                   status_url;     /* empty: none known */
} ngx_http_recsys_admin_loc_conf_t;


/* an admin location, to find the status location a 202 points to */
typedef struct {
    ngx_http_recsys_admin_loc_conf_t  *alcf;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_core_srv_conf_t          *cscf;
} ngx_http_recsys_admin_location_t;


typedef struct {
    ngx_array_t                 locations;  /* ..._admin_location_t */
} ngx_http_recsys_admin_main_conf_t;


static ngx_int_t ngx_http_recsys_admin_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_recsys_admin_auth(ngx_http_request_t *r,
    ngx_http_recsys_admin_loc_conf_t *alcf);
static void ngx_http_recsys_admin_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_recsys_admin_queue(ngx_http_request_t *r,
    ngx_uint_t job, ngx_uint_t full);
static ngx_int_t ngx_http_recsys_admin_status(ngx_http_request_t *r);
static ngx_int_t ngx_http_recsys_admin_accepted(ngx_http_request_t *r,
    ngx_uint_t job, uint64_t id, ngx_uint_t full);
static ngx_int_t ngx_http_recsys_admin_refused(ngx_http_request_t *r,
    ngx_int_t rc, uint64_t id, ngx_uint_t busy);
static ngx_int_t ngx_http_recsys_admin_unavailable(ngx_http_request_t *r);
static u_char *ngx_http_recsys_admin_model(u_char *p,
    const recsys_manifest_model_t *mm);
static u_char *ngx_http_recsys_admin_factors(u_char *p,
    const recsys_manifest_factors_t *f);
static size_t ngx_http_recsys_admin_str_len(const char *s, size_t len);
static u_char *ngx_http_recsys_admin_str(u_char *p, const char *s,
    size_t len);

static void *ngx_http_recsys_admin_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_recsys_admin_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_recsys_admin_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_recsys_admin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_recsys_admin_postconf(ngx_conf_t *cf);


static ngx_command_t  ngx_http_recsys_admin_commands[] = {

    { ngx_string("recsys_admin"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_recsys_admin,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("recsys_admin_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_recsys_admin_loc_conf_t, token),
      NULL },

    { ngx_string("recsys_admin_status_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_recsys_admin_loc_conf_t, status_url),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_recsys_admin_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_recsys_admin_postconf,        /* postconfiguration */

    ngx_http_recsys_admin_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_recsys_admin_create_loc_conf, /* create location configuration */
    ngx_http_recsys_admin_merge_loc_conf   /* merge location configuration */
};


ngx_module_t  ngx_http_recsys_admin_module = {
    NGX_MODULE_V1,
    &ngx_http_recsys_admin_module_ctx,     /* module context */
    ngx_http_recsys_admin_commands,        /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_recsys_admin_handler(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    ngx_str_t                          allow;
    ngx_uint_t                         methods;
    ngx_http_recsys_admin_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_admin_module);

    if (alcf->admin == NGX_HTTP_RECSYS_ADMIN_STATUS) {
        methods = NGX_HTTP_GET|NGX_HTTP_HEAD;
        ngx_str_set(&allow, "GET, HEAD");

    } else {
        methods = NGX_HTTP_POST;
        ngx_str_set(&allow, "POST");
    }

    if (!(r->method & methods)) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return ngx_http_recsys_send_status(r, rc);
        }

        if (ngx_http_recsys_add_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_recsys_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                          "method_not_allowed",
                                          "method %V is not allowed, use %V",
                                          &r->method_name, &allow);
    }

    rc = ngx_http_recsys_admin_auth(r, alcf);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (alcf->admin == NGX_HTTP_RECSYS_ADMIN_REBUILD) {

        if (r->headers_in.content_length_n > NGX_HTTP_RECSYS_ADMIN_MAX_BODY) {
            rc = ngx_http_discard_request_body(r);

            if (rc != NGX_OK) {
                return ngx_http_recsys_send_status(r, rc);
            }

            return ngx_http_recsys_body_too_large(r,
                                            NGX_HTTP_RECSYS_ADMIN_MAX_BODY);
        }

        rc = ngx_http_read_client_request_body(r,
                                               ngx_http_recsys_admin_body);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return ngx_http_recsys_send_status(r, rc);
        }

        return NGX_DONE;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return ngx_http_recsys_send_status(r, rc);
    }

    if (alcf->admin == NGX_HTTP_RECSYS_ADMIN_STATUS) {
        return ngx_http_recsys_admin_status(r);
    }

    return ngx_http_recsys_admin_queue(r, NGX_HTTP_RECSYS_HELPER_ROLLBACK, 0);
}


/*
 * "Authorization: Bearer <token>" against recsys_admin_token, compared in
 * a time that depends on the configured token's length only.  An empty
 * token value (an unset variable) locks the location rather than opening
 * it.  NGX_DECLINED: go on; anything else has answered the request.
 */

static ngx_int_t
ngx_http_recsys_admin_auth(ngx_http_request_t *r,
    ngx_http_recsys_admin_loc_conf_t *alcf)
{
    u_char       diff;
    size_t       i;
    ngx_int_t    rc, discarded;
    ngx_str_t    token, given, value, uri;

    if (alcf->token == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_complex_value(r, alcf->token, &token) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->headers_in.authorization == NULL) {
        ngx_str_set(&value, "Bearer realm=\"recsys admin\"");
        rc = 401;
        goto failed;
    }

    given = r->headers_in.authorization->value;

    if (given.len < sizeof("Bearer ") - 1
        || ngx_strncasecmp(given.data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1)
           != 0)
    {
        ngx_str_set(&value, "Bearer realm=\"recsys admin\"");
        rc = 401;
        goto failed;
    }

    given.data += sizeof("Bearer ") - 1;
    given.len -= sizeof("Bearer ") - 1;

    diff = (given.len != token.len) || token.len == 0;

    for (i = 0; i < token.len; i++) {
        diff |= token.data[i] ^ (i < given.len ? given.data[i] : 0);
    }

    if (diff == 0) {
        return NGX_DECLINED;
    }

    ngx_str_set(&value, "Bearer realm=\"recsys admin\", "
                        "error=\"invalid_token\"");
    rc = NGX_HTTP_FORBIDDEN;

failed:

    discarded = ngx_http_discard_request_body(r);

    if (discarded != NGX_OK) {
        return ngx_http_recsys_send_status(r, discarded);
    }

    if (ngx_http_recsys_add_header(r, "WWW-Authenticate", &value)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the URI is decoded: a %0A in it would start a forged log line */
    uri.len = r->uri.len + 2 * ngx_escape_uri(NULL, r->uri.data, r->uri.len,
                                              NGX_ESCAPE_URI);
    uri.data = ngx_pnalloc(r->pool, uri.len);
    if (uri.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_escape_uri(uri.data, r->uri.data, r->uri.len, NGX_ESCAPE_URI);

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "recsys admin: %s bearer token for \"%V\"",
                  rc == 401 ? "no" : "wrong", &uri);

    if (rc == 401) {
        return ngx_http_recsys_send_error(r, 401, "unauthorized",
                                          "a bearer token is required");
    }

    return ngx_http_recsys_send_error(r, rc, "forbidden",
                                      "the bearer token is not valid");
}


static void
ngx_http_recsys_admin_body(ngx_http_request_t *r)
{
    u_char      *p, *end;
    cJSON       *root, *full;
    ngx_int_t    rc;
    ngx_str_t    body;
    ngx_uint_t   want_full;

    /* a chunked body has no length to check up front */
    rc = ngx_http_recsys_body_get(r, NGX_HTTP_RECSYS_ADMIN_MAX_BODY, &body);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_recsys_body_too_large(r, NGX_HTTP_RECSYS_ADMIN_MAX_BODY);
    }

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    want_full = 0;

    end = body.data + body.len;

    /* only spaces (or nothing): the defaults; a NUL is no space */
    for (p = body.data; p < end; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            break;
        }
    }

    if (p < end) {
        root = recsys_json_parse_strict((char *) body.data, body.len);

        if (root == NULL || !cJSON_IsObject(root)) {
            cJSON_Delete(root);
            rc = ngx_http_recsys_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "bad_json",
                                            "the body must be a JSON "
                                            "object, e.g. {\"full\": true}");
            ngx_http_finalize_request(r, rc);
            return;
        }

        full = cJSON_GetObjectItemCaseSensitive(root, "full");

        if (full && !cJSON_IsBool(full)) {
            cJSON_Delete(root);
            rc = ngx_http_recsys_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "bad_parameter",
                                            "\"full\" must be true or "
                                            "false");
            ngx_http_finalize_request(r, rc);
            return;
        }

        want_full = (full && cJSON_IsTrue(full));
        cJSON_Delete(root);
    }

    rc = ngx_http_recsys_admin_queue(r, NGX_HTTP_RECSYS_HELPER_BUILD,
                                     want_full);

    ngx_http_finalize_request(r, rc);
}


/* a rebuild or a rollback for the helper: 202, or why not */

static ngx_int_t
ngx_http_recsys_admin_queue(ngx_http_request_t *r, ngx_uint_t job,
    ngx_uint_t full)
{
    uint64_t                           id;
    ngx_int_t                          rc;
    ngx_uint_t                         busy;
    ngx_http_recsys_catalog_t         *catalog;
    ngx_http_recsys_admin_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_admin_module);
    catalog = alcf->catalog;

    rc = ngx_http_recsys_helper_request(catalog, job, full, &id, &busy);

    if (rc != NGX_OK) {
        return ngx_http_recsys_admin_refused(r, rc, id, busy);
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "recsys catalog \"%V\": %s %uL requested%s",
                  &catalog->name, ngx_http_recsys_helper_job_name(job), id,
                  job == NGX_HTTP_RECSYS_HELPER_ROLLBACK ? ""
                  : (full ? " (full)" : " (default)"));

    return ngx_http_recsys_admin_accepted(r, job, id, full);
}


static ngx_int_t
ngx_http_recsys_admin_status(ngx_http_request_t *r)
{
    u_char                            *p, *start;
    off_t                              size;
    size_t                             len;
    time_t                             now;
    uint64_t                           now_ms;
    ngx_uint_t                         i, k, have, threshold;
    ngx_time_t                        *tp;
    recsys_manifest_t                  m;
    recsys_catalog_t                  *conf;
    ngx_http_recsys_catalog_t         *catalog;
    ngx_http_recsys_helper_build_t    *b;
    ngx_http_recsys_helper_state_t     snap;
    ngx_http_recsys_admin_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_admin_module);
    catalog = alcf->catalog;
    conf = catalog->conf;

    if (ngx_http_recsys_helper_state(catalog, &snap) != NGX_OK) {
        return ngx_http_recsys_admin_unavailable(r);
    }

    /* what "current" points to now, from its manifest: nothing is mapped */
    have = (ngx_http_recsys_helper_current(conf, &m) == NGX_OK);

    /* the text of every key and word once, the numbers, the strings */
    len = sizeof("{\"catalog\":,\"generation\":null,\"builder\":{\"state\":"
                 "\"backing_off\",\"mode\":\"helper_process\",\"job\":"
                 "\"rollback\",\"build_id\":,\"full\":false,"
                 "\"running_since\":,\"queued_job\":\"rollback\","
                 "\"queued_build_id\":,\"pid\":,\"heartbeat_age_seconds\":},"
                 "\"breaker\":{\"state\":\"closed\","
                 "\"consecutive_failures\":,\"threshold\":},"
                 "\"consecutive_failures\":,\"next_build\":,"
                 "\"next_build_in_seconds\":,\"interval_seconds\":,"
                 "\"database\":{\"state\":\"not_configured\","
                 "\"last_contact\":,\"latency_ms\":},\"builds\":[],\"prune\":{"
                 "\"failures\":,\"unremovable\":[]}}\n")
          + NGX_HTTP_RECSYS_EVENTS_STATUS_LEN
          + (11 + RECSYS_BUILD_UNPRUNED) * NGX_INT64_LEN
          + 3 * NGX_HTTP_RECSYS_HELPER_TIME_LEN
          + ngx_http_recsys_admin_str_len((char *) catalog->name.data,
                                          catalog->name.len);

    if (have) {
        len += sizeof("{\"number\":,\"items\":,\"dimension\":,\"metric\":"
                      "\"inner_product\",\"factory\":,\"built_at\":,"
                      "\"source_type\":,\"watermark\":null,"
                      "\"size_bytes\":,\"users\":,\"users_watermark\":null}")
               + 5 * NGX_INT64_LEN
               + ngx_http_recsys_admin_str_len(m.users_watermark,
                                     ngx_strnlen((u_char *) m.users_watermark,
                                                 sizeof(m.users_watermark)))
               + ngx_http_recsys_admin_str_len(m.factory,
                                          ngx_strnlen((u_char *) m.factory,
                                                      sizeof(m.factory)))
               + ngx_http_recsys_admin_str_len(m.built_at,
                                          ngx_strnlen((u_char *) m.built_at,
                                                      sizeof(m.built_at)))
               + ngx_http_recsys_admin_str_len(m.source_type,
                                     ngx_strnlen((u_char *) m.source_type,
                                                 sizeof(m.source_type)))
               + ngx_http_recsys_admin_str_len((char *) snap.watermark,
                                               ngx_strlen(snap.watermark));
    }

    len += NGX_HTTP_RECSYS_ADMIN_MODEL_LEN;

    for (i = 0; i < snap.nbuilds; i++) {
        b = &snap.builds[i];

        len += sizeof("{\"id\":,\"success\":false,\"type\":\"incremental\","
                      "\"trigger\":,\"previous_generation\":,"
                      "\"generation\":,\"items\":,\"duration_seconds\":.000,"
                      "\"error\":null,\"started_at\":,\"finished_at\":,"
                      "\"published\":false},")
               + 5 * NGX_INT64_LEN + 2 * NGX_HTTP_RECSYS_HELPER_TIME_LEN
               + ngx_http_recsys_admin_str_len((char *) b->trigger,
                                               ngx_strlen(b->trigger))
               + ngx_http_recsys_admin_str_len((char *) b->error,
                                               ngx_strlen(b->error));
    }

    start = ngx_pnalloc(r->pool, len);
    if (start == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    tp = ngx_timeofday();
    now = tp->sec;
    now_ms = (uint64_t) tp->sec * 1000 + tp->msec;

    p = ngx_http_recsys_admin_cpy(start, "{\"catalog\":");
    p = ngx_http_recsys_admin_str(p, (char *) catalog->name.data,
                                  catalog->name.len);

    if (have) {
        size = 0;

        for (i = 0; i < m.nfiles; i++) {
            size += (off_t) m.files[i].size;
        }

        p = ngx_sprintf(p, ",\"generation\":{\"number\":%uL,\"items\":%uL,"
                        "\"dimension\":%uD,\"metric\":\"%s\",\"factory\":",
                        m.generation, m.items, m.dimension,
                        recsys_metric_name(m.metric));
        p = ngx_http_recsys_admin_str(p, m.factory,
                                      ngx_strnlen((u_char *) m.factory,
                                                  sizeof(m.factory)));
        p = ngx_http_recsys_admin_cpy(p, ",\"built_at\":");
        p = ngx_http_recsys_admin_str(p, m.built_at,
                                      ngx_strnlen((u_char *) m.built_at,
                                                  sizeof(m.built_at)));
        p = ngx_http_recsys_admin_cpy(p, ",\"source_type\":");
        p = ngx_http_recsys_admin_str(p, m.source_type,
                                      ngx_strnlen((u_char *) m.source_type,
                                                  sizeof(m.source_type)));
        p = ngx_http_recsys_admin_cpy(p, ",\"watermark\":");

        if (snap.watermark_gen == m.generation && snap.watermark[0]) {
            p = ngx_http_recsys_admin_str(p, (char *) snap.watermark,
                                          ngx_strlen(snap.watermark));

        } else {
            p = ngx_http_recsys_admin_cpy(p, "null");
        }

        /* the manifest's: a users watermark is there only with users */
        p = ngx_sprintf(p, ",\"size_bytes\":%O,\"users\":%uL"
                        ",\"users_watermark\":", size, m.users);

        if (m.users_watermark[0]) {
            p = ngx_http_recsys_admin_str(p, m.users_watermark,
                                     ngx_strnlen((u_char *) m.users_watermark,
                                                 sizeof(m.users_watermark)));

        } else {
            p = ngx_http_recsys_admin_cpy(p, "null");
        }

        p = ngx_http_recsys_admin_cpy(p, "}");
        p = ngx_http_recsys_admin_model(p, &m.model);

    } else {
        p = ngx_http_recsys_admin_cpy(p, ",\"generation\":null");
    }

    p = ngx_sprintf(p, ",\"builder\":{\"state\":\"%s\",\"mode\":\"%s\"",
                    ngx_http_recsys_helper_state_name(&snap),
                    ngx_process == NGX_PROCESS_SINGLE ? "in_process"
                                                      : "helper_process");

    if (snap.running) {
        p = ngx_sprintf(p, ",\"job\":\"%s\",\"build_id\":%uL,\"full\":%s",
                        ngx_http_recsys_helper_job_name(snap.running),
                        snap.running_id,
                        snap.running_full ? "true" : "false");
        p = ngx_http_recsys_helper_time(p, "running_since",
                                       snap.running_since);

    } else {
        p = ngx_http_recsys_admin_cpy(p, ",\"build_id\":null");
    }

    if (snap.requested) {
        p = ngx_sprintf(p, ",\"queued_job\":\"%s\",\"queued_build_id\":%uL",
                        ngx_http_recsys_helper_job_name(snap.requested),
                        snap.requested_id);
    }

    p = ngx_sprintf(p, ",\"pid\":%P", snap.pid);

    p = snap.heartbeat
        ? ngx_sprintf(p, ",\"heartbeat_age_seconds\":%T",
                      now - snap.heartbeat)
        : ngx_http_recsys_admin_cpy(p, ",\"heartbeat_age_seconds\":null");

    threshold = recsys_schedule_threshold(&conf->maintenance);

    p = ngx_sprintf(p, "},\"breaker\":{\"state\":\"%s\","
                    "\"consecutive_failures\":%ui,\"threshold\":%ui}",
                    snap.sched.breaker_open ? "open" : "closed",
                    (ngx_uint_t) snap.sched.failures, threshold);

    p = ngx_sprintf(p, ",\"consecutive_failures\":%ui",
                    (ngx_uint_t) snap.sched.failures);

    if (snap.sched.next_build) {
        p = ngx_http_recsys_helper_time(p, "next_build",
                                       (time_t) (snap.sched.next_build
                                                 / 1000));
        p = ngx_sprintf(p, ",\"next_build_in_seconds\":%uL",
                        snap.sched.next_build > now_ms
                        ? (snap.sched.next_build - now_ms + 999) / 1000 : 0);

    } else {
        p = ngx_http_recsys_admin_cpy(p, ",\"next_build\":null,"
                                      "\"next_build_in_seconds\":null");
    }

    p = ngx_sprintf(p, ",\"interval_seconds\":%uL",
                    conf->maintenance.interval);

    /* never the DSN: it may carry a host, a user and a password */
    if (conf->source.type != RECSYS_SOURCE_POSTGRESQL) {
        p = ngx_http_recsys_admin_cpy(p, ",\"database\":{\"state\":"
                                      "\"not_configured\"}");

    } else if (snap.db_contact == 0) {
        p = ngx_http_recsys_admin_cpy(p, ",\"database\":{\"state\":"
                                      "\"unknown\"}");

    } else {
        p = ngx_sprintf(p, ",\"database\":{\"state\":\"%s\"",
                        snap.db_ok ? "ok" : "failing");
        p = ngx_http_recsys_helper_time(p, "last_contact", snap.db_contact);
        p = ngx_sprintf(p, ",\"latency_ms\":%M}", snap.db_latency);
    }

    p = ngx_http_recsys_admin_cpy(p, ",\"builds\":[");

    /* newest first */
    for (i = 0; i < snap.nbuilds; i++) {
        k = (snap.newest + NGX_HTTP_RECSYS_HELPER_HISTORY - i)
            % NGX_HTTP_RECSYS_HELPER_HISTORY;
        b = &snap.builds[k];

        if (i) {
            *p++ = ',';
        }

        p = ngx_sprintf(p, "{\"id\":%uL,\"success\":%s,\"type\":\"%s\","
                        "\"trigger\":",
                        b->id, b->success ? "true" : "false",
                        b->job == NGX_HTTP_RECSYS_HELPER_ROLLBACK
                        ? "rollback" : (b->full ? "full" : "incremental"));
        p = ngx_http_recsys_admin_str(p, (char *) b->trigger,
                                      ngx_strlen(b->trigger));

        if (b->job == NGX_HTTP_RECSYS_HELPER_ROLLBACK) {
            p = b->previous
                ? ngx_sprintf(p, ",\"previous_generation\":%uL", b->previous)
                : ngx_http_recsys_admin_cpy(p, ",\"previous_generation\":"
                                            "null");
        }

        if (b->success) {
            p = ngx_sprintf(p, ",\"generation\":%uL,\"items\":%uL",
                            b->generation, b->items);

        } else {
            p = ngx_http_recsys_admin_cpy(p, ",\"generation\":null,"
                                          "\"items\":null");
        }

        p = ngx_sprintf(p, ",\"duration_seconds\":%ui.%03ui,\"error\":",
                        (ngx_uint_t) (b->duration / 1000),
                        (ngx_uint_t) (b->duration % 1000));

        if (b->error[0]) {
            p = ngx_http_recsys_admin_str(p, (char *) b->error,
                                          ngx_strlen(b->error));

        } else {
            p = ngx_http_recsys_admin_cpy(p, "null");
        }

        p = ngx_http_recsys_helper_time(p, "started_at", b->started);
        p = ngx_http_recsys_helper_time(p, "finished_at", b->finished);
        p = ngx_sprintf(p, ",\"published\":%s}",
                        b->published ? "true" : "false");
    }

    /* old generations the last prune left (see the error log) */
    p = ngx_sprintf(p, "],\"prune\":{\"failures\":%uL,\"unremovable\":[",
                    snap.prune_failures);

    for (i = 0; i < snap.nunpruned && i < RECSYS_BUILD_UNPRUNED; i++) {
        p = ngx_sprintf(p, i ? ",%uL" : "%uL", snap.unpruned[i]);
    }

    p = ngx_http_recsys_admin_cpy(p, "]}");
    p = ngx_http_recsys_events_status(p, catalog);
    p = ngx_http_recsys_admin_cpy(p, "}\n");

    return ngx_http_recsys_send_json(r, NGX_HTTP_OK, start, p - start);
}


/*
 * 202 for a queued job: its id, and where to follow it (Location and
 * "status_url": the status location, null when none is known).
 */

static ngx_int_t
ngx_http_recsys_admin_accepted(ngx_http_request_t *r, ngx_uint_t job,
    uint64_t id, ngx_uint_t full)
{
    u_char                            *p, *start;
    size_t                             len;
    ngx_str_t                          location;
    ngx_http_recsys_catalog_t         *catalog;
    ngx_http_recsys_admin_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_admin_module);
    catalog = alcf->catalog;

    if (alcf->status_url.len) {
        location = alcf->status_url;

        if (ngx_http_recsys_add_header(r, "Location", &location)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    len = sizeof("{\"rollback_id\":,\"full\":false,\"catalog\":,"
                 "\"status\":\"queued\",\"status_url\":null}\n")
          + NGX_INT64_LEN
          + ngx_http_recsys_admin_str_len((char *) catalog->name.data,
                                          catalog->name.len)
          + ngx_http_recsys_admin_str_len((char *) alcf->status_url.data,
                                          alcf->status_url.len);

    start = ngx_pnalloc(r->pool, len);
    if (start == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (job == NGX_HTTP_RECSYS_HELPER_ROLLBACK) {
        p = ngx_sprintf(start, "{\"rollback_id\":%uL,\"catalog\":", id);

    } else {
        p = ngx_sprintf(start, "{\"build_id\":%uL,\"full\":%s,\"catalog\":",
                        id, full ? "true" : "false");
    }

    p = ngx_http_recsys_admin_str(p, (char *) catalog->name.data,
                                  catalog->name.len);
    p = ngx_http_recsys_admin_cpy(p, ",\"status\":\"queued\",\"status_url\":");

    if (alcf->status_url.len) {
        p = ngx_http_recsys_admin_str(p, (char *) alcf->status_url.data,
                                      alcf->status_url.len);

    } else {
        p = ngx_http_recsys_admin_cpy(p, "null");
    }

    p = ngx_http_recsys_admin_cpy(p, "}\n");

    return ngx_http_recsys_send_json(r, NGX_HTTP_ACCEPTED, start, p - start);
}


/* the helper did not take the job: 409 while one runs or waits, or 503 */

static ngx_int_t
ngx_http_recsys_admin_refused(ngx_http_request_t *r, ngx_int_t rc,
    uint64_t id, ngx_uint_t busy)
{
    ngx_http_recsys_admin_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_admin_module);

    if (rc == NGX_BUSY) {
        return ngx_http_recsys_send_error(r, NGX_HTTP_CONFLICT,
                                          "build_in_progress",
                                          "%s %uL of catalog \"%V\" is "
                                          "running or queued",
                                          ngx_http_recsys_helper_job_name(
                                              busy),
                                          id, &alcf->catalog->name);
    }

    return ngx_http_recsys_admin_unavailable(r);
}


/* the factor model (ALS) of a generation that has one */

static u_char *
ngx_http_recsys_admin_factors(u_char *p, const recsys_manifest_factors_t *f)
{
    p = ngx_sprintf(p, ",\"factors\":{\"factors\":%uD,"
                    "\"train_seconds\":%.3f,\"users\":%uL,"
                    "\"recall_at_10\":%.6f,\"ndcg_at_10\":%.6f,"
                    "\"gate\":{\"recall_at_10\":%.6f,\"ndcg_at_10\":%.6f}",
                    f->factors, f->train_seconds, f->users, f->recall,
                    f->ndcg, f->gate_recall, f->gate_ndcg);

    if (!f->has_served) {
        return ngx_http_recsys_admin_cpy(p, ",\"served\":null}");
    }

    return ngx_sprintf(p, ",\"served\":{\"recall_at_10\":%.6f,"
                       "\"ndcg_at_10\":%.6f}}", f->served_recall,
                       f->served_ndcg);
}


static ngx_int_t
ngx_http_recsys_admin_unavailable(ngx_http_request_t *r)
{
    ngx_http_recsys_admin_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_admin_module);

    return ngx_http_recsys_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "builder_unavailable",
                                      "the builder of catalog \"%V\" is "
                                      "not available",
                                      &alcf->catalog->name);
}


/* a JSON string, quotes included, and its exact length */

/*
 * The served generation's model, from its manifest: the hold-out figures
 * and those promote_if compared.  The strings are the builder's own
 * (an algorithm name, a time, the catalog's promote_if), JSON-safe but
 * escaped anyway.
 */

static u_char *
ngx_http_recsys_admin_model(u_char *p, const recsys_manifest_model_t *mm)
{
    /* a generation built without "model:" answers as before */
    if (!mm->trained) {
        return p;
    }

    p = ngx_http_recsys_admin_cpy(p, ",\"model\":{\"algorithm\":");
    p = ngx_http_recsys_admin_str(p, mm->algorithm,
                                  ngx_strnlen((u_char *) mm->algorithm,
                                              sizeof(mm->algorithm)));
    p = ngx_http_recsys_admin_cpy(p, ",\"trained_at\":");
    p = ngx_http_recsys_admin_str(p, mm->trained_at,
                                  ngx_strnlen((u_char *) mm->trained_at,
                                              sizeof(mm->trained_at)));
    p = ngx_sprintf(p, ",\"train_seconds\":%.3f,\"events\":%uL,"
                    "\"users\":%uL,\"recall_at_10\":%.6f,"
                    "\"ndcg_at_10\":%.6f,\"scored_users\":%uD,"
                    "\"gate\":{\"recall_at_10\":%.6f,\"ndcg_at_10\":%.6f},"
                    "\"promote_if\":",
                    mm->train_seconds, mm->events, mm->users, mm->recall,
                    mm->ndcg, mm->scored, mm->gate_recall, mm->gate_ndcg);
    p = ngx_http_recsys_admin_str(p, mm->promote_if,
                                  ngx_strnlen((u_char *) mm->promote_if,
                                              sizeof(mm->promote_if)));

    if (mm->factors.trained) {
        p = ngx_http_recsys_admin_factors(p, &mm->factors);
    }

    if (!mm->has_served) {
        return ngx_http_recsys_admin_cpy(p, ",\"served\":null}");
    }

    return ngx_sprintf(p, ",\"served\":{\"generation\":%uL,"
                       "\"recall_at_10\":%.6f,\"ndcg_at_10\":%.6f}}",
                       mm->served_generation, mm->served_recall,
                       mm->served_ndcg);
}


static size_t
ngx_http_recsys_admin_str_len(const char *s, size_t len)
{
    return recsys_json_str_len(s, len, RECSYS_JSON_NO_LIMIT);
}


static u_char *
ngx_http_recsys_admin_str(u_char *p, const char *s, size_t len)
{
    return (u_char *) recsys_json_str((char *) p, s, len,
                                      RECSYS_JSON_NO_LIMIT);
}


static void *
ngx_http_recsys_admin_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_recsys_admin_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_recsys_admin_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&amcf->locations, cf->pool, 4,
                       sizeof(ngx_http_recsys_admin_location_t))
        != NGX_OK)
    {
        return NULL;
    }

    return amcf;
}


static void *
ngx_http_recsys_admin_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_recsys_admin_loc_conf_t  *alcf;

    alcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_recsys_admin_loc_conf_t));
    if (alcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     alcf->admin = 0;
     *     alcf->catalog = NULL;
     *     alcf->token = NULL;
     *     alcf->status_url = { 0, NULL };
     */

    return alcf;
}


static char *
ngx_http_recsys_admin_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_recsys_admin_loc_conf_t *prev = parent;
    ngx_http_recsys_admin_loc_conf_t *conf = child;

    if (conf->token == NULL) {
        conf->token = prev->token;
    }

    /* empty: the postconfiguration looks for the status location */
    ngx_conf_merge_str_value(conf->status_url, prev->status_url, "");

    return NGX_CONF_OK;
}


static char *
ngx_http_recsys_admin(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_recsys_admin_loc_conf_t *alcf = conf;

    ngx_str_t                          *value;
    ngx_uint_t                          i;
    ngx_http_core_loc_conf_t           *clcf;
    ngx_http_recsys_catalog_t         **catalog;
    ngx_http_recsys_main_conf_t        *rmcf;
    ngx_http_recsys_admin_location_t   *loc;
    ngx_http_recsys_admin_main_conf_t  *amcf;

    if (alcf->admin) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "rebuild") == 0) {
        alcf->admin = NGX_HTTP_RECSYS_ADMIN_REBUILD;

    } else if (ngx_strcmp(value[1].data, "status") == 0) {
        alcf->admin = NGX_HTTP_RECSYS_ADMIN_STATUS;

    } else if (ngx_strcmp(value[1].data, "rollback") == 0) {
        alcf->admin = NGX_HTTP_RECSYS_ADMIN_ROLLBACK;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\", expected rebuild, "
                           "status or rollback", &value[1]);
        return NGX_CONF_ERROR;
    }

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_recsys_module);
    catalog = rmcf->catalogs.elts;

    if (cf->args->nelts == 3) {
        for (i = 0; i < rmcf->catalogs.nelts; i++) {
            if (catalog[i]->name.len == value[2].len
                && ngx_strncmp(catalog[i]->name.data, value[2].data,
                               value[2].len)
                   == 0)
            {
                alcf->catalog = catalog[i];
                break;
            }
        }

        if (alcf->catalog == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown recsys catalog \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

    } else if (rmcf->catalogs.nelts == 1) {
        alcf->catalog = catalog[0];

    } else if (rmcf->catalogs.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"recsys_admin %V\" is used but no "
                           "\"recsys_catalog\" is declared before it",
                           &value[1]);
        return NGX_CONF_ERROR;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"recsys_admin %V\" needs a catalog name: %ui "
                           "catalogs are declared", &value[1],
                           rmcf->catalogs.nelts);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_recsys_admin_handler;

    amcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_recsys_admin_module);

    loc = ngx_array_push(&amcf->locations);
    if (loc == NULL) {
        return NGX_CONF_ERROR;
    }

    loc->alcf = alcf;
    loc->clcf = clcf;
    loc->cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);

    return NGX_CONF_OK;
}


/*
 * A rebuild or rollback location without recsys_admin_status_url points
 * its 202 at the status location of the same catalog in the same server:
 * an exact one if there is, else the first prefix one; none is null.
 */

static ngx_int_t
ngx_http_recsys_admin_postconf(ngx_conf_t *cf)
{
    ngx_uint_t                          i, j;
    ngx_http_core_loc_conf_t           *clcf;
    ngx_http_recsys_admin_location_t   *loc, *best;
    ngx_http_recsys_admin_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_recsys_admin_module);
    loc = amcf->locations.elts;

    for (i = 0; i < amcf->locations.nelts; i++) {
        if (loc[i].alcf->admin == NGX_HTTP_RECSYS_ADMIN_STATUS
            || loc[i].alcf->status_url.len)
        {
            continue;
        }

        best = NULL;

        for (j = 0; j < amcf->locations.nelts; j++) {
            clcf = loc[j].clcf;

            if (loc[j].alcf->admin != NGX_HTTP_RECSYS_ADMIN_STATUS
                || loc[j].alcf->catalog != loc[i].alcf->catalog
                || loc[j].cscf != loc[i].cscf
                || clcf->named || clcf->noname
#if (NGX_PCRE)
                || clcf->regex
#endif
               )
            {
                continue;
            }

            if (best == NULL || (clcf->exact_match && !best->clcf->exact_match))
            {
                best = &loc[j];
            }
        }

        if (best) {
            loc[i].alcf->status_url = best->clcf->name;
        }
    }

    return NGX_OK;
}
