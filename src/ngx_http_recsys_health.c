
/*
 * ngx_http_recsys_health_module: health locations for load balancers and
 * operators.  Every answer is about the worker that gives it: "ready"
 * looks at the generations this process maps, picking up a newly
 * published one on the way.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_recsys_module.h"
#include "ngx_http_recsys_metrics.h"
#include "ngx_http_recsys_limit.h"
#include "ngx_http_recsys_helper.h"
#include "recsys_json.h"


#define NGX_HTTP_RECSYS_HEALTH_LIVE      1
#define NGX_HTTP_RECSYS_HEALTH_READY     2
#define NGX_HTTP_RECSYS_HEALTH_DETAILED  3

#define NGX_HTTP_RECSYS_HEALTH_PASS      0
#define NGX_HTTP_RECSYS_HEALTH_WARN      1
#define NGX_HTTP_RECSYS_HEALTH_FAIL      2

/* a zone fuller than this makes the detailed status "degraded" */
#define NGX_HTTP_RECSYS_HEALTH_ZONE_WARN  0.9

/* the builder's reasons; the helper's names the seconds (a number) */
#define NGX_HTTP_RECSYS_HEALTH_BREAKER_OPEN                                  \
    "the circuit breaker is open: builds keep failing"
#define NGX_HTTP_RECSYS_HEALTH_DB_FAILING                                    \
    "the database failed the last build"
#define NGX_HTTP_RECSYS_HEALTH_HELPER_REASON_LEN                             \
    (sizeof("\"the helper process has not reported for over  seconds\"")     \
     + NGX_INT_T_LEN)

/* the text of a catalog's "builder" and "database" objects at most */
#define NGX_HTTP_RECSYS_HEALTH_BUILDER_LEN                                   \
    (sizeof(",\"builder\":{\"state\":\"backing_off\","                       \
            "\"helper\":\"not_configured\",\"last_success\":,"               \
            "\"last_failure\":,\"consecutive_failures\":,"                   \
            "\"breaker\":\"closed\",\"next_run\":,"                          \
            "\"status\":\"pass\",\"reason\":},"                              \
            "\"database\":{\"state\":\"not_configured\","                    \
            "\"last_contact\":,\"latency_ms\":}")                            \
     + 4 * NGX_HTTP_RECSYS_HELPER_TIME_LEN + 2 * NGX_INT64_LEN               \
     + ngx_max(NGX_HTTP_RECSYS_HEALTH_HELPER_REASON_LEN,                     \
               sizeof(NGX_HTTP_RECSYS_HEALTH_BREAKER_OPEN) + 2))


typedef struct {
    ngx_uint_t                  type;
    ngx_http_recsys_catalog_t  *catalog;    /* NULL: every catalog */
} ngx_http_recsys_health_loc_conf_t;


/* one catalog as this worker sees it */
typedef struct {
    ngx_http_recsys_catalog_t  *catalog;
    ngx_uint_t                  status;     /* NGX_HTTP_RECSYS_HEALTH_* */
    ngx_uint_t                  mapped;
    time_t                      age;        /* -1: built_at unreadable */
    off_t                       size;
    recsys_manifest_t           manifest;
    ngx_str_t                   reason;

    /* detailed only: what the catalog's builder says, and both together */
    ngx_uint_t                  builder;    /* NGX_HTTP_RECSYS_HEALTH_* */
    const char                 *builder_reason;    /* of a warning */
    ngx_uint_t                  overall;
    ngx_http_recsys_helper_state_t  *st;    /* NULL: no builder zone */
} ngx_http_recsys_health_index_t;


typedef struct {
    ngx_uint_t                  status;
    ngx_uint_t                  nindex;
    ngx_http_recsys_health_index_t  *index;
    ngx_http_recsys_health_index_t  *failed;   /* the first one not passing */
    ngx_uint_t                  nzones;
    ngx_http_recsys_limit_zone_stats_t  *zones;
} ngx_http_recsys_health_t;


static ngx_int_t ngx_http_recsys_health_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_recsys_health_ready(ngx_http_request_t *r,
    ngx_http_recsys_health_t *h);
static ngx_int_t ngx_http_recsys_health_detailed(ngx_http_request_t *r,
    ngx_http_recsys_health_t *h);
static ngx_int_t ngx_http_recsys_health_check(ngx_http_request_t *r,
    ngx_http_recsys_health_t *h);
static void ngx_http_recsys_health_index(ngx_http_request_t *r,
    ngx_http_recsys_health_index_t *idx);
static ngx_uint_t ngx_http_recsys_health_zones(ngx_http_request_t *r,
    ngx_http_recsys_health_t *h);
static const char *ngx_http_recsys_health_helper(
    ngx_http_recsys_catalog_t *catalog);
static u_char *ngx_http_recsys_health_helper_reason(u_char *p);
static ngx_int_t ngx_http_recsys_health_builder_check(ngx_http_request_t *r,
    ngx_http_recsys_health_index_t *idx);
static u_char *ngx_http_recsys_health_builder(u_char *p,
    ngx_http_recsys_health_index_t *idx);
static u_char *ngx_http_recsys_health_max_age(u_char *p,
    ngx_http_recsys_catalog_t *catalog);
static ngx_int_t ngx_http_recsys_health_not_allowed(ngx_http_request_t *r);
static ngx_int_t ngx_http_recsys_health_send(ngx_http_request_t *r,
    ngx_uint_t status, u_char *p, size_t len);
static size_t ngx_http_recsys_health_str_len(ngx_str_t *s);
static u_char *ngx_http_recsys_health_str(u_char *p, ngx_str_t *s);
static void *ngx_http_recsys_health_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_recsys_health(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_http_recsys_health_commands[] = {

    { ngx_string("recsys_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_recsys_health,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_recsys_health_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_recsys_health_create_loc_conf, /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_recsys_health_module = {
    NGX_MODULE_V1,
    &ngx_http_recsys_health_module_ctx,    /* module context */
    ngx_http_recsys_health_commands,       /* module directives */
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


static const char  *ngx_http_recsys_health_check_status[] = {
    "pass", "warn", "fail"
};


static const char  *ngx_http_recsys_health_overall[] = {
    "healthy", "degraded", "unhealthy"
};


static ngx_int_t
ngx_http_recsys_health_handler(ngx_http_request_t *r)
{
    ngx_int_t                           rc;
    ngx_http_recsys_health_t            h;
    ngx_http_recsys_health_loc_conf_t  *hlcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_recsys_health_not_allowed(r);
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return ngx_http_recsys_send_status(r, rc);
    }

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_health_module);

    if (hlcf->type == NGX_HTTP_RECSYS_HEALTH_LIVE) {
        return ngx_http_recsys_health_send(r, NGX_HTTP_OK,
                                           (u_char *) "{\"status\":\"live\"}\n",
                                           sizeof("{\"status\":\"live\"}\n")
                                           - 1);
    }

    ngx_memzero(&h, sizeof(ngx_http_recsys_health_t));

    if (ngx_http_recsys_health_check(r, &h) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (hlcf->type == NGX_HTTP_RECSYS_HEALTH_READY) {
        return ngx_http_recsys_health_ready(r, &h);
    }

    return ngx_http_recsys_health_detailed(r, &h);
}


/*
 * {"status":"ready|not_ready","checks":{"index":{...},"helper":{...}}};
 * stale is as bad as missing here: a load balancer should send the
 * traffic to a worker that is up to date.
 */

static ngx_int_t
ngx_http_recsys_health_ready(ngx_http_request_t *r,
    ngx_http_recsys_health_t *h)
{
    u_char                          *p, *start;
    size_t                           len;
    ngx_str_t                        reason;
    ngx_uint_t                       i, ready, helper_ok;
    const char                      *helper;
    ngx_http_recsys_health_index_t  *idx;

    ready = (h->failed == NULL);

    /* a helper process that stopped beating rebuilds nothing any more */
    helper = ngx_http_recsys_health_helper(NULL);
    helper_ok = (ngx_strcmp(helper, "fail") != 0);

    ngx_str_null(&reason);

    if (!ready) {
        idx = h->failed;

        reason.len = sizeof("catalog \"\": ") - 1 + idx->catalog->name.len
                     + idx->reason.len;
        reason.data = ngx_pnalloc(r->pool, reason.len);
        if (reason.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        (void) ngx_sprintf(reason.data, "catalog \"%V\": %V",
                           &idx->catalog->name, &idx->reason);
    }

    len = sizeof("{\"status\":\"not_ready\",\"checks\":{\"index\":"
                 "{\"status\":\"pass\",\"reason\":,\"catalogs\":{}},"
                 "\"helper\":{\"status\":\"not_configured\",\"reason\":}}}\n")
          + NGX_HTTP_RECSYS_HEALTH_HELPER_REASON_LEN
          + ngx_http_recsys_health_str_len(&reason);

    for (i = 0; i < h->nindex; i++) {
        idx = &h->index[i];
        len += sizeof(",:{\"status\":\"pass\",\"generation\":,"
                      "\"age_seconds\":,\"max_age_seconds\":,\"reason\":}")
               + 3 * NGX_INT64_LEN
               + ngx_http_recsys_health_str_len(&idx->catalog->name)
               + ngx_http_recsys_health_str_len(&idx->reason);
    }

    start = ngx_pnalloc(r->pool, len);
    if (start == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(start, "{\"status\":\"%s\",\"checks\":{\"index\":"
                    "{\"status\":\"%s\"",
                    (ready && helper_ok) ? "ready" : "not_ready",
                    ready ? "pass" : "fail");

    if (!ready) {
        p = ngx_cpymem(p, ",\"reason\":", sizeof(",\"reason\":") - 1);
        p = ngx_http_recsys_health_str(p, &reason);
    }

    p = ngx_cpymem(p, ",\"catalogs\":{", sizeof(",\"catalogs\":{") - 1);

    for (i = 0; i < h->nindex; i++) {
        idx = &h->index[i];

        if (i) {
            *p++ = ',';
        }

        /* ready or not: a stale index fails here */
        p = ngx_http_recsys_health_str(p, &idx->catalog->name);
        p = ngx_sprintf(p, ":{\"status\":\"%s\"",
                        idx->status == NGX_HTTP_RECSYS_HEALTH_PASS
                        ? "pass" : "fail");

        if (idx->mapped) {
            p = ngx_sprintf(p, ",\"generation\":%uL",
                            idx->manifest.generation);

            p = (idx->age == -1)
                ? ngx_cpymem(p, ",\"age_seconds\":null",
                             sizeof(",\"age_seconds\":null") - 1)
                : ngx_sprintf(p, ",\"age_seconds\":%T", idx->age);

            p = ngx_http_recsys_health_max_age(p, idx->catalog);
        }

        if (idx->reason.len) {
            p = ngx_cpymem(p, ",\"reason\":", sizeof(",\"reason\":") - 1);
            p = ngx_http_recsys_health_str(p, &idx->reason);
        }

        *p++ = '}';
    }

    p = ngx_sprintf(p, "}},\"helper\":{\"status\":\"%s\"", helper);

    if (!helper_ok) {
        p = ngx_http_recsys_health_helper_reason(p);
    }

    p = ngx_cpymem(p, "}}}\n", sizeof("}}}\n") - 1);

    return ngx_http_recsys_health_send(r,
                                       (ready && helper_ok)
                                       ? NGX_HTTP_OK
                                       : NGX_HTTP_SERVICE_UNAVAILABLE,
                                       start, p - start);
}


/*
 * {"status":"healthy|degraded|unhealthy","checks":{"catalogs":{...},
 * "rate_limit":{...},"workers":{...}}}
 */

static ngx_int_t
ngx_http_recsys_health_detailed(ngx_http_request_t *r,
    ngx_http_recsys_health_t *h)
{
    u_char                              *p, *start;
    size_t                               len;
    ngx_uint_t                           i, status, zstatus;
    ngx_str_t                            s;
    ngx_core_conf_t                     *ccf;
    recsys_manifest_t                   *m;
    ngx_http_recsys_health_index_t      *idx;
    ngx_http_recsys_limit_zone_stats_t  *z;

    zstatus = ngx_http_recsys_health_zones(r, h);
    status = zstatus;

    /*
     * Unhealthy whenever ready fails (an index missing or stale, the
     * helper gone); degraded when an index serves but the builder cannot
     * refresh it (breaker open, database failing) or a zone fills up.
     */
    for (i = 0; i < h->nindex; i++) {
        idx = &h->index[i];

        if (ngx_http_recsys_health_builder_check(r, idx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        idx->overall = (idx->status == NGX_HTTP_RECSYS_HEALTH_PASS)
                       ? idx->builder : NGX_HTTP_RECSYS_HEALTH_FAIL;
        status = ngx_max(status, idx->overall);
    }

    len = sizeof("{\"status\":\"unhealthy\",\"checks\":{\"catalogs\":{},"
                 "\"rate_limit\":{\"status\":\"not_configured\",\"zones\":{}},"
                 "\"workers\":{\"pid\":,\"worker_processes\":,"
                 "\"master_process\":false}}}\n")
          + 2 * NGX_INT64_LEN;

    for (i = 0; i < h->nindex; i++) {
        idx = &h->index[i];
        m = &idx->manifest;

        len += sizeof(",:{\"status\":\"pass\",\"index\":{\"status\":\"pass\","
                      "\"generation\":,\"items\":,\"dimension\":,"
                      "\"metric\":\"inner_product\",\"factory\":,"
                      "\"built_at\":,\"age_seconds\":,\"max_age_seconds\":,"
                      "\"bytes_mapped\":,\"reason\":}}")
               + 6 * NGX_INT64_LEN
               + NGX_HTTP_RECSYS_HEALTH_BUILDER_LEN
               + ngx_http_recsys_health_str_len(&idx->catalog->name)
               + ngx_http_recsys_health_str_len(&idx->reason)
               + recsys_json_str_len(m->factory,
                                     ngx_strnlen((u_char *) m->factory,
                                                 sizeof(m->factory)),
                                     RECSYS_JSON_NO_LIMIT)
               + recsys_json_str_len(m->built_at,
                                     ngx_strnlen((u_char *) m->built_at,
                                                 sizeof(m->built_at)),
                                     RECSYS_JSON_NO_LIMIT);
    }

    for (i = 0; i < h->nzones; i++) {
        len += sizeof(",:{\"status\":\"warn\",\"used_bytes\":,"
                      "\"size_bytes\":,\"usage\":,\"entries\":,\"passed\":,"
                      "\"rejected\":,\"dry_run\":,\"full\":}")
               + 8 * NGX_INT64_LEN
               + ngx_http_recsys_health_str_len(&h->zones[i].name);
    }

    start = ngx_pnalloc(r->pool, len);
    if (start == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(start, "{\"status\":\"%s\",\"checks\":{\"catalogs\":{",
                    ngx_http_recsys_health_overall[status]);

    for (i = 0; i < h->nindex; i++) {
        idx = &h->index[i];
        m = &idx->manifest;

        if (i) {
            *p++ = ',';
        }

        p = ngx_http_recsys_health_str(p, &idx->catalog->name);
        p = ngx_sprintf(p, ":{\"status\":\"%s\",\"index\":{\"status\":\"%s\"",
                        ngx_http_recsys_health_check_status[idx->overall],
                        ngx_http_recsys_health_check_status[idx->status]);

        if (idx->mapped) {
            p = ngx_sprintf(p, ",\"generation\":%uL,\"items\":%uL,"
                            "\"dimension\":%uD,\"metric\":\"%s\","
                            "\"factory\":",
                            m->generation, m->items, m->dimension,
                            recsys_metric_name(m->metric));

            s.data = (u_char *) m->factory;
            s.len = ngx_strnlen(s.data, sizeof(m->factory));
            p = ngx_http_recsys_health_str(p, &s);

            p = ngx_cpymem(p, ",\"built_at\":", sizeof(",\"built_at\":") - 1);
            s.data = (u_char *) m->built_at;
            s.len = ngx_strnlen(s.data, sizeof(m->built_at));
            p = ngx_http_recsys_health_str(p, &s);

            p = (idx->age == -1)
                ? ngx_cpymem(p, ",\"age_seconds\":null",
                             sizeof(",\"age_seconds\":null") - 1)
                : ngx_sprintf(p, ",\"age_seconds\":%T", idx->age);

            p = ngx_http_recsys_health_max_age(p, idx->catalog);
            p = ngx_sprintf(p, ",\"bytes_mapped\":%O", idx->size);
        }

        if (idx->reason.len) {
            p = ngx_cpymem(p, ",\"reason\":", sizeof(",\"reason\":") - 1);
            p = ngx_http_recsys_health_str(p, &idx->reason);
        }

        *p++ = '}';
        p = ngx_http_recsys_health_builder(p, idx);
        *p++ = '}';
    }

    p = ngx_sprintf(p, "},\"rate_limit\":{\"status\":\"%s\",\"zones\":{",
                    h->nzones ? ngx_http_recsys_health_check_status[zstatus]
                              : "not_configured");

    for (i = 0; i < h->nzones; i++) {
        z = &h->zones[i];

        if (i) {
            *p++ = ',';
        }

        p = ngx_http_recsys_health_str(p, &z->name);
        p = ngx_sprintf(p, ":{\"status\":\"%s\",\"used_bytes\":%uz,"
                        "\"size_bytes\":%uz,\"usage\":%.4f,"
                        "\"entries\":%uA,\"passed\":%uA,\"rejected\":%uA,"
                        "\"dry_run\":%uA,\"full\":%uA}",
                        (double) z->used > NGX_HTTP_RECSYS_HEALTH_ZONE_WARN
                                           * (double) z->size
                        ? "warn" : "pass",
                        z->used, z->size,
                        z->size ? (double) z->used / (double) z->size : 0.0,
                        *z->entries, *z->passed, *z->rejected, *z->dry_run,
                        *z->full);
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(ngx_cycle->conf_ctx,
                                           ngx_core_module);

    p = ngx_sprintf(p, "}},\"workers\":{\"pid\":%P,\"worker_processes\":%i,"
                    "\"master_process\":%s}}}\n",
                    ngx_pid, ccf->worker_processes,
                    (ngx_process == NGX_PROCESS_SINGLE) ? "false" : "true");

    return ngx_http_recsys_health_send(r,
                                       status == NGX_HTTP_RECSYS_HEALTH_FAIL
                                       ? NGX_HTTP_SERVICE_UNAVAILABLE
                                       : NGX_HTTP_OK,
                                       start, p - start);
}


/* the catalogs of the location, looked at one by one */

static ngx_int_t
ngx_http_recsys_health_check(ngx_http_request_t *r,
    ngx_http_recsys_health_t *h)
{
    ngx_uint_t                          i, n;
    ngx_http_recsys_catalog_t         **catalog;
    ngx_http_recsys_main_conf_t        *rmcf;
    ngx_http_recsys_health_loc_conf_t  *hlcf;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_health_module);
    rmcf = ngx_http_get_module_main_conf(r, ngx_http_recsys_module);

    if (hlcf->catalog) {
        catalog = &hlcf->catalog;
        n = 1;

    } else {
        catalog = rmcf->catalogs.elts;
        n = rmcf->catalogs.nelts;
    }

    h->index = ngx_pcalloc(r->pool,
                           (n + 1) * sizeof(ngx_http_recsys_health_index_t));
    if (h->index == NULL) {
        return NGX_ERROR;
    }

    h->nindex = n;

    for (i = 0; i < n; i++) {
        h->index[i].catalog = catalog[i];

        ngx_http_recsys_health_index(r, &h->index[i]);

        if (h->index[i].reason.data == NULL) {
            return NGX_ERROR;
        }

        if (h->index[i].status > h->status) {
            h->status = h->index[i].status;
        }

        if (h->index[i].status != NGX_HTTP_RECSYS_HEALTH_PASS
            && h->failed == NULL)
        {
            h->failed = &h->index[i];
        }
    }

    return NGX_OK;
}


/* fail: nothing mapped; warn: older than maintenance.max_age */

static void
ngx_http_recsys_health_index(ngx_http_request_t *r,
    ngx_http_recsys_health_index_t *idx)
{
    u_char                     *p;
    uint64_t                    max_age;
    ngx_http_recsys_gen_t      *g;
    ngx_http_recsys_catalog_t  *catalog;

    catalog = idx->catalog;

    p = ngx_pnalloc(r->pool, NGX_MAX_PATH + 128);
    if (p == NULL) {
        return;
    }

    idx->reason.data = p;

    g = ngx_http_recsys_index_acquire(catalog, r->connection->log);

    if (g == NULL) {
        idx->status = NGX_HTTP_RECSYS_HEALTH_FAIL;

        if (catalog->failed[0]) {
            p = ngx_snprintf(p, NGX_MAX_PATH + 127,
                             "generation \"%s\" was refused, see the error "
                             "log", catalog->failed);

        } else {
            p = ngx_sprintf(p, "no index published");
        }

        idx->reason.len = p - idx->reason.data;
        return;
    }

    idx->mapped = 1;
    idx->manifest = g->gen.manifest;
    idx->age = ngx_http_recsys_metrics_index_age(g);
    idx->size = ngx_http_recsys_metrics_index_size(g);

    ngx_http_recsys_index_release(g);

    max_age = catalog->conf->maintenance.max_age;

    if (max_age == 0) {
        return;
    }

    if (idx->age == -1) {
        idx->status = NGX_HTTP_RECSYS_HEALTH_WARN;
        p = ngx_sprintf(p, "index age unknown: built_at \"%s\" is not "
                        "YYYY-MM-DDTHH:MM:SSZ", idx->manifest.built_at);

    } else if ((uint64_t) idx->age > max_age) {
        idx->status = NGX_HTTP_RECSYS_HEALTH_WARN;
        p = ngx_sprintf(p, "index age %Ts exceeds max_age %uLs", idx->age,
                        max_age);
    }

    idx->reason.len = p - idx->reason.data;
}


/* the status the rate-limit zones give: warn when one is nearly full */

static ngx_uint_t
ngx_http_recsys_health_zones(ngx_http_request_t *r,
    ngx_http_recsys_health_t *h)
{
    ngx_uint_t                           i, n, status;
    ngx_http_recsys_limit_zone_stats_t  *zones;

    n = ngx_http_recsys_limit_zones((ngx_cycle_t *) ngx_cycle, &zones);

    h->zones = ngx_palloc(r->pool,
                          (n + 1) * sizeof(ngx_http_recsys_limit_zone_stats_t));
    if (h->zones == NULL) {
        return NGX_HTTP_RECSYS_HEALTH_PASS;
    }

    status = NGX_HTTP_RECSYS_HEALTH_PASS;

    /* zones not mapped yet have no counters to show */
    for (i = 0; i < n; i++) {
        if (zones[i].passed == NULL) {
            continue;
        }

        h->zones[h->nzones++] = zones[i];

        if ((double) zones[i].used
            > NGX_HTTP_RECSYS_HEALTH_ZONE_WARN * (double) zones[i].size)
        {
            status = NGX_HTTP_RECSYS_HEALTH_WARN;
        }
    }

    return status;
}


/*
 * The helper process that rebuilds the catalogs' indexes (catalog NULL:
 * all of them): "pass", "fail" when its heartbeat is stale, "in_process"
 * with master_process off, "not_configured" without catalogs.
 */

static const char *
ngx_http_recsys_health_helper(ngx_http_recsys_catalog_t *catalog)
{
    return ngx_http_recsys_helper_status(catalog);
}


static u_char *
ngx_http_recsys_health_helper_reason(u_char *p)
{
    return ngx_sprintf(p, ",\"reason\":\"the helper process has not "
                       "reported for over %d seconds\"",
                       NGX_HTTP_RECSYS_HELPER_STALE);
}


/*
 * The builder's part in the detailed status: fail when the helper process
 * stopped beating (ready fails too), warn while the breaker is open or the
 * database failed the last build.
 */

static ngx_int_t
ngx_http_recsys_health_builder_check(ngx_http_request_t *r,
    ngx_http_recsys_health_index_t *idx)
{
    ngx_http_recsys_helper_state_t  *st;

    idx->builder = NGX_HTTP_RECSYS_HEALTH_PASS;

    st = ngx_palloc(r->pool, sizeof(ngx_http_recsys_helper_state_t));
    if (st == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_recsys_helper_state(idx->catalog, st) != NGX_OK) {
        return NGX_OK;
    }

    idx->st = st;

    if (ngx_strcmp(ngx_http_recsys_health_helper(idx->catalog), "fail")
        == 0)
    {
        idx->builder = NGX_HTTP_RECSYS_HEALTH_FAIL;

    } else if (st->sched.breaker_open) {
        idx->builder = NGX_HTTP_RECSYS_HEALTH_WARN;
        idx->builder_reason = NGX_HTTP_RECSYS_HEALTH_BREAKER_OPEN;

    } else if (idx->catalog->conf->source.type == RECSYS_SOURCE_POSTGRESQL
               && st->db_contact && !st->db_ok)
    {
        idx->builder = NGX_HTTP_RECSYS_HEALTH_WARN;
        idx->builder_reason = NGX_HTTP_RECSYS_HEALTH_DB_FAILING;
    }

    return NGX_OK;
}


/*
 * ,"builder":{...},"database":{...}; never the source itself: a DSN may
 * name a host, a user and a password.
 */

static u_char *
ngx_http_recsys_health_builder(u_char *p, ngx_http_recsys_health_index_t *idx)
{
    ngx_http_recsys_helper_state_t  *st;

    st = idx->st;

    if (st == NULL) {
        return ngx_cpymem(p, ",\"builder\":{\"state\":\"not_configured\"},"
                          "\"database\":{\"state\":\"not_configured\"}",
                          sizeof(",\"builder\":{\"state\":\"not_configured\"},"
                                 "\"database\":{\"state\":"
                                 "\"not_configured\"}") - 1);
    }

    p = ngx_sprintf(p, ",\"builder\":{\"state\":\"%s\",\"helper\":\"%s\"",
                    ngx_http_recsys_helper_state_name(st),
                    ngx_http_recsys_health_helper(idx->catalog));
    p = ngx_http_recsys_helper_time(p, "last_success", st->last_success);
    p = ngx_http_recsys_helper_time(p, "last_failure", st->last_failure);
    p = ngx_sprintf(p, ",\"consecutive_failures\":%ui,\"breaker\":\"%s\"",
                    (ngx_uint_t) st->sched.failures,
                    st->sched.breaker_open ? "open" : "closed");
    p = ngx_http_recsys_helper_time(p, "next_run",
                                    (time_t) (st->sched.next_build / 1000));
    p = ngx_sprintf(p, ",\"status\":\"%s\"",
                    ngx_http_recsys_health_check_status[idx->builder]);

    if (idx->builder == NGX_HTTP_RECSYS_HEALTH_FAIL) {
        p = ngx_http_recsys_health_helper_reason(p);

    } else if (idx->builder_reason) {
        p = ngx_sprintf(p, ",\"reason\":\"%s\"", idx->builder_reason);
    }

    if (idx->catalog->conf->source.type != RECSYS_SOURCE_POSTGRESQL) {
        return ngx_cpymem(p, "},\"database\":{\"state\":\"not_configured\"}",
                          sizeof("},\"database\":{\"state\":"
                                 "\"not_configured\"}") - 1);
    }

    if (st->db_contact == 0) {
        return ngx_cpymem(p, "},\"database\":{\"state\":\"unknown\"}",
                          sizeof("},\"database\":{\"state\":\"unknown\"}")
                          - 1);
    }

    p = ngx_sprintf(p, "},\"database\":{\"state\":\"%s\"",
                    st->db_ok ? "ok" : "failing");
    p = ngx_http_recsys_helper_time(p, "last_contact", st->db_contact);

    return ngx_sprintf(p, ",\"latency_ms\":%M}", st->db_latency);
}


static u_char *
ngx_http_recsys_health_max_age(u_char *p, ngx_http_recsys_catalog_t *catalog)
{
    if (catalog->conf->maintenance.max_age == 0) {
        return ngx_cpymem(p, ",\"max_age_seconds\":null",
                          sizeof(",\"max_age_seconds\":null") - 1);
    }

    return ngx_sprintf(p, ",\"max_age_seconds\":%uL",
                       catalog->conf->maintenance.max_age);
}


static ngx_int_t
ngx_http_recsys_health_not_allowed(ngx_http_request_t *r)
{
    ngx_int_t   rc;
    ngx_str_t   value;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return ngx_http_recsys_send_status(r, rc);
    }

    ngx_str_set(&value, "GET, HEAD");

    if (ngx_http_recsys_add_header(r, "Allow", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&value, "no-store");

    if (ngx_http_recsys_add_header(r, "Cache-Control", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_recsys_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                      "method_not_allowed",
                                      "method %V is not allowed, use GET or "
                                      "HEAD", &r->method_name);
}


/* never cached; a 503 asks for the same pause the handlers ask for */

static ngx_int_t
ngx_http_recsys_health_send(ngx_http_request_t *r, ngx_uint_t status,
    u_char *p, size_t len)
{
    u_char                      *ra;
    ngx_str_t                    value;
    ngx_http_recsys_loc_conf_t  *rlcf;

    ngx_str_set(&value, "no-store");

    if (ngx_http_recsys_add_header(r, "Cache-Control", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        rlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_module);

        ra = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (ra == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        value.data = ra;
        value.len = ngx_sprintf(ra, "%T", rlcf->retry_after) - ra;

        if (ngx_http_recsys_add_header(r, "Retry-After", &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_recsys_send_json(r, status, p, len);
}


/* a JSON string's length with its quotes */

static size_t
ngx_http_recsys_health_str_len(ngx_str_t *s)
{
    return recsys_json_str_len((char *) s->data, s->len,
                               RECSYS_JSON_NO_LIMIT);
}


static u_char *
ngx_http_recsys_health_str(u_char *p, ngx_str_t *s)
{
    return (u_char *) recsys_json_str((char *) p, (char *) s->data, s->len,
                                      RECSYS_JSON_NO_LIMIT);
}


static void *
ngx_http_recsys_health_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_recsys_health_loc_conf_t  *hlcf;

    hlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_recsys_health_loc_conf_t));
    if (hlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     hlcf->type = 0;
     *     hlcf->catalog = NULL;
     */

    return hlcf;
}


static char *
ngx_http_recsys_health(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_recsys_health_loc_conf_t *hlcf = conf;

    ngx_str_t                     *value;
    ngx_uint_t                     i;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_recsys_catalog_t    **catalog;
    ngx_http_recsys_main_conf_t   *rmcf;

    if (hlcf->type) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "live") == 0) {
        hlcf->type = NGX_HTTP_RECSYS_HEALTH_LIVE;

        if (cf->args->nelts == 3) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"recsys_health live\" takes no catalog, "
                               "got \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

    } else if (ngx_strcmp(value[1].data, "ready") == 0) {
        hlcf->type = NGX_HTTP_RECSYS_HEALTH_READY;

    } else if (ngx_strcmp(value[1].data, "detailed") == 0) {
        hlcf->type = NGX_HTTP_RECSYS_HEALTH_DETAILED;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\", expected live, ready "
                           "or detailed", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 3) {
        rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_recsys_module);
        catalog = rmcf->catalogs.elts;

        for (i = 0; i < rmcf->catalogs.nelts; i++) {
            if (catalog[i]->name.len == value[2].len
                && ngx_strncmp(catalog[i]->name.data, value[2].data,
                               value[2].len)
                   == 0)
            {
                hlcf->catalog = catalog[i];
                break;
            }
        }

        if (hlcf->catalog == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown recsys catalog \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_recsys_health_handler;

    return NGX_CONF_OK;
}
