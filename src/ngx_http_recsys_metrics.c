
/*
 * ngx_http_recsys_metrics_module: Prometheus metrics.  Counters live in a
 * shared zone, one block per catalog, as atomics the LOG phase adds to
 * without a lock; the render reads them as they are and takes the index
 * gauges from the generation this process maps.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_recsys_module.h"
#include "ngx_http_recsys_helper.h"
#include "ngx_http_recsys_events.h"
#include "ngx_http_recsys_metrics.h"
#include "ngx_http_recsys_limit.h"
#include "recsys_chain.h"
#include "recsys_time.h"


#define NGX_HTTP_RECSYS_METRICS_CLASSES     5     /* 1xx .. 5xx */
#define NGX_HTTP_RECSYS_METRICS_BUCKETS     16    /* finite buckets, max */

/* room every printf gets, on top of the longest catalog label */
#define NGX_HTTP_RECSYS_METRICS_LINE        512
#define NGX_HTTP_RECSYS_METRICS_BUFSIZE     16384

#define NGX_HTTP_RECSYS_METRICS_TEXT                                          \
    "text/plain; version=0.0.4; charset=utf-8"


/* bucket i counts observations in (le[i - 1], le[i]]; the last: above */
typedef struct {
    ngx_atomic_t                    bucket[NGX_HTTP_RECSYS_METRICS_BUCKETS + 1];
    ngx_atomic_t                    sum_us;
} ngx_http_recsys_metrics_hist_t;


typedef struct {
    ngx_uint_t                          n;
    const uint64_t                     *le_us;
    const char                        **le;
} ngx_http_recsys_metrics_buckets_t;


typedef struct ngx_http_recsys_metrics_node_s
    ngx_http_recsys_metrics_node_t;

/* the counters of one endpoint */
typedef struct {
    ngx_atomic_t                    requests[NGX_HTTP_RECSYS_METRICS_CLASSES];
    ngx_atomic_t                    items;
    ngx_atomic_t                    zero;
    ngx_http_recsys_metrics_hist_t  duration;
} ngx_http_recsys_metrics_ep_t;


/* one catalog's counters, found by name again after a reload */
struct ngx_http_recsys_metrics_node_s {
    ngx_http_recsys_metrics_node_t  *next;
    ngx_http_recsys_metrics_ep_t     ep[NGX_HTTP_RECSYS_ENDPOINTS];
    /* by strategy - 1: NGX_HTTP_RECSYS_NO_STRATEGY is never timed */
    ngx_http_recsys_metrics_hist_t   search[NGX_HTTP_RECSYS_STRATEGIES - 1];
    ngx_atomic_t                     fallbacks[RECSYS_NLEVELS];
    ngx_atomic_t                     rebuilds[2];    /* success, failure */
    ngx_http_recsys_metrics_hist_t   rebuild;
    size_t                           len;
    u_char                           name[1];
};


/*
 * The requests of one ranking profile of one catalog, found by both names
 * after a reload: "catalog\0profile" in name.  Profiles come from the
 * catalogs' YAML, so their number is bounded by configuration.
 */
typedef struct ngx_http_recsys_metrics_pnode_s
    ngx_http_recsys_metrics_pnode_t;

struct ngx_http_recsys_metrics_pnode_s {
    ngx_http_recsys_metrics_pnode_t  *next;
    ngx_atomic_t                      requests[NGX_HTTP_RECSYS_METRICS_CLASSES];
    size_t                            len;
    u_char                            name[1];
};


typedef struct {
    ngx_http_recsys_metrics_node_t     *nodes;
    ngx_http_recsys_metrics_pnode_t    *pnodes;
} ngx_http_recsys_metrics_shctx_t;


typedef struct {
    ngx_flag_t                          enabled;
    size_t                              size;
    ngx_shm_zone_t                     *shm_zone;
    ngx_slab_pool_t                    *shpool;
    ngx_http_recsys_metrics_shctx_t    *sh;
    ngx_http_recsys_main_conf_t        *rmcf;

    /* the node of each catalog, in the order of rmcf->catalogs */
    ngx_http_recsys_metrics_node_t    **nodes;

    /* per catalog, the node of each of its profiles, in YAML order */
    ngx_http_recsys_metrics_pnode_t  ***profiles;
} ngx_http_recsys_metrics_main_conf_t;


/* what the render shows of the generation this process maps */
typedef struct {
    ngx_uint_t                          mapped;
    uint64_t                            generation;
    uint64_t                            items;
    time_t                              age;
    off_t                               size;
    double                              build_seconds;
    recsys_manifest_model_t             model;
} ngx_http_recsys_metrics_index_t;


/* a family read from a counter of ngx_http_recsys_limit_zone_stats_t */
typedef struct {
    const char                         *name;
    const char                         *type;
    const char                         *help;
    size_t                              offset;
} ngx_http_recsys_metrics_family_t;


typedef struct {
    ngx_http_request_t                 *r;
    ngx_chain_t                        *first;
    ngx_chain_t                       **last;
    ngx_buf_t                          *b;
    off_t                               size;
    size_t                              line;
    ngx_uint_t                          failed;
} ngx_http_recsys_metrics_out_t;


static ngx_int_t ngx_http_recsys_metrics_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_recsys_metrics_render(ngx_http_request_t *r,
    ngx_http_recsys_metrics_main_conf_t *mmcf,
    ngx_http_recsys_metrics_out_t *out);
static void ngx_http_recsys_metrics_requests(
    ngx_http_recsys_metrics_out_t *out,
    ngx_http_recsys_metrics_main_conf_t *mmcf, ngx_str_t *labels);
static void ngx_http_recsys_metrics_histograms(
    ngx_http_recsys_metrics_out_t *out,
    ngx_http_recsys_metrics_main_conf_t *mmcf, ngx_str_t *labels);
static void ngx_http_recsys_metrics_model(ngx_http_recsys_metrics_out_t *out,
    ngx_http_recsys_metrics_index_t *idx, ngx_uint_t n, ngx_str_t *labels);
static void ngx_http_recsys_metrics_index(ngx_http_recsys_metrics_out_t *out,
    ngx_http_recsys_metrics_main_conf_t *mmcf, ngx_str_t *labels);
static void ngx_http_recsys_metrics_rebuilds(
    ngx_http_recsys_metrics_out_t *out,
    ngx_http_recsys_metrics_main_conf_t *mmcf, ngx_str_t *labels);
static void ngx_http_recsys_metrics_limits(ngx_http_recsys_metrics_out_t *out);
static void ngx_http_recsys_metrics_events(ngx_http_recsys_metrics_out_t *out,
    ngx_http_recsys_metrics_main_conf_t *mmcf, ngx_str_t *labels);
static void ngx_http_recsys_metrics_histogram(
    ngx_http_recsys_metrics_out_t *out, const char *name, ngx_str_t *catalog,
    const char *extra, ngx_http_recsys_metrics_hist_t *h,
    const ngx_http_recsys_metrics_buckets_t *bk);
static void ngx_http_recsys_metrics_family(ngx_http_recsys_metrics_out_t *out,
    const char *name, const char *type, const char *help);
static void ngx_http_recsys_metrics_printf(ngx_http_recsys_metrics_out_t *out,
    const char *fmt, ...);
static ngx_int_t ngx_http_recsys_metrics_labels(ngx_http_request_t *r,
    ngx_http_recsys_metrics_main_conf_t *mmcf, ngx_str_t **labels,
    size_t *max);
static ngx_int_t ngx_http_recsys_metrics_escape(ngx_pool_t *pool,
    ngx_str_t *value, ngx_str_t *label);
static ngx_int_t ngx_http_recsys_metrics_log_handler(ngx_http_request_t *r);
static void ngx_http_recsys_metrics_observe(ngx_http_recsys_metrics_hist_t *h,
    const ngx_http_recsys_metrics_buckets_t *bk, uint64_t us);
static ngx_http_recsys_metrics_pnode_t *ngx_http_recsys_metrics_pnode(
    ngx_http_recsys_metrics_main_conf_t *mmcf, ngx_str_t *catalog,
    ngx_uint_t profile_no);
static ngx_int_t ngx_http_recsys_metrics_init_profiles(
    ngx_shm_zone_t *shm_zone, ngx_http_recsys_metrics_main_conf_t *mmcf,
    ngx_uint_t i);
static void ngx_http_recsys_metrics_profiles(
    ngx_http_recsys_metrics_out_t *out,
    ngx_http_recsys_metrics_main_conf_t *mmcf, ngx_str_t *labels);
static ngx_http_recsys_metrics_node_t *ngx_http_recsys_metrics_node(
    ngx_http_recsys_metrics_main_conf_t *mmcf, ngx_str_t *name);
static ngx_int_t ngx_http_recsys_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void *ngx_http_recsys_metrics_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_recsys_metrics_init_main_conf(ngx_conf_t *cf,
    void *conf);
static char *ngx_http_recsys_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_recsys_metrics_zone_size(ngx_conf_t *cf, void *post,
    void *data);
static ngx_int_t ngx_http_recsys_metrics_init(ngx_conf_t *cf);


static ngx_conf_post_handler_pt  ngx_http_recsys_metrics_zone_size_p =
    ngx_http_recsys_metrics_zone_size;


static ngx_command_t  ngx_http_recsys_metrics_commands[] = {

    { ngx_string("recsys_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_recsys_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("recsys_metrics_zone_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_recsys_metrics_main_conf_t, size),
      &ngx_http_recsys_metrics_zone_size_p },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_recsys_metrics_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_recsys_metrics_init,          /* postconfiguration */

    ngx_http_recsys_metrics_create_main_conf, /* create main configuration */
    ngx_http_recsys_metrics_init_main_conf, /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_recsys_metrics_module = {
    NGX_MODULE_V1,
    &ngx_http_recsys_metrics_module_ctx,   /* module context */
    ngx_http_recsys_metrics_commands,      /* module directives */
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


static ngx_str_t  ngx_http_recsys_metrics_zone_name =
    ngx_string("recsys_metrics");


static const ngx_http_recsys_metrics_family_t
    ngx_http_recsys_metrics_limit_families[] = {

    { "recsys_rate_limited_total", "counter",
      "Requests a rate-limit zone rejected.",
      offsetof(ngx_http_recsys_limit_zone_stats_t, rejected) },

    { "recsys_rate_limit_dry_run_total", "counter",
      "Requests a dry-run rate-limit zone would have rejected.",
      offsetof(ngx_http_recsys_limit_zone_stats_t, dry_run) },

    { "recsys_rate_limit_passed_total", "counter",
      "Requests a rate-limit zone let through.",
      offsetof(ngx_http_recsys_limit_zone_stats_t, passed) },

    { "recsys_rate_limit_zone_full_total", "counter",
      "Times a rate-limit zone had no room for a new key.",
      offsetof(ngx_http_recsys_limit_zone_stats_t, full) },

    { "recsys_rate_limit_entries", "gauge",
      "Keys a rate-limit zone tracks.",
      offsetof(ngx_http_recsys_limit_zone_stats_t, entries) },

    { NULL, NULL, NULL, 0 }
};


static const uint64_t  ngx_http_recsys_metrics_request_us[] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
    500000, 1000000, 2500000
};

static const char  *ngx_http_recsys_metrics_request_le[] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
    "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5"
};

static const ngx_http_recsys_metrics_buckets_t
    ngx_http_recsys_metrics_request_buckets = {
    sizeof(ngx_http_recsys_metrics_request_us) / sizeof(uint64_t),
    ngx_http_recsys_metrics_request_us,
    ngx_http_recsys_metrics_request_le
};


/* a search takes from microseconds (IVF, small nprobe) to an exact scan */
static const uint64_t  ngx_http_recsys_metrics_search_us[] = {
    10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000,
    100000, 250000
};

static const char  *ngx_http_recsys_metrics_search_le[] = {
    "0.00001", "0.000025", "0.00005", "0.0001", "0.00025", "0.0005",
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25"
};

static const ngx_http_recsys_metrics_buckets_t
    ngx_http_recsys_metrics_search_buckets = {
    sizeof(ngx_http_recsys_metrics_search_us) / sizeof(uint64_t),
    ngx_http_recsys_metrics_search_us,
    ngx_http_recsys_metrics_search_le
};


static const uint64_t  ngx_http_recsys_metrics_rebuild_us[] = {
    1000000, 5000000, 10000000, 30000000, 60000000, 120000000, 300000000,
    600000000, 1800000000, 3600000000ULL
};

static const char  *ngx_http_recsys_metrics_rebuild_le[] = {
    "1", "5", "10", "30", "60", "120", "300", "600", "1800", "3600"
};

static const ngx_http_recsys_metrics_buckets_t
    ngx_http_recsys_metrics_rebuild_buckets = {
    sizeof(ngx_http_recsys_metrics_rebuild_us) / sizeof(uint64_t),
    ngx_http_recsys_metrics_rebuild_us,
    ngx_http_recsys_metrics_rebuild_le
};


static ngx_int_t
ngx_http_recsys_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t                             rc;
    ngx_table_elt_t                      *h;
    ngx_http_recsys_metrics_out_t         out;
    ngx_http_recsys_metrics_main_conf_t  *mmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Allow");
        ngx_str_set(&h->value, "GET, HEAD");

        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_recsys_metrics_module);

    ngx_memzero(&out, sizeof(ngx_http_recsys_metrics_out_t));
    out.r = r;
    out.last = &out.first;

    if (ngx_http_recsys_metrics_render(r, mmcf, &out) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = out.size;
    ngx_str_set(&r->headers_out.content_type, NGX_HTTP_RECSYS_METRICS_TEXT);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.b->last_buf = (r == r->main) ? 1 : 0;
    out.b->last_in_chain = 1;

    return ngx_http_output_filter(r, out.first);
}


static ngx_int_t
ngx_http_recsys_metrics_render(ngx_http_request_t *r,
    ngx_http_recsys_metrics_main_conf_t *mmcf,
    ngx_http_recsys_metrics_out_t *out)
{
    size_t      max;
    ngx_str_t  *labels;

    if (ngx_http_recsys_metrics_labels(r, mmcf, &labels, &max) != NGX_OK) {
        return NGX_ERROR;
    }

    out->line = NGX_HTTP_RECSYS_METRICS_LINE + max;

    ngx_http_recsys_metrics_family(out, "recsys_build_info", "gauge",
                                   "Versions this module was built with, "
                                   "always 1.");
    ngx_http_recsys_metrics_printf(out,
                                   "recsys_build_info{version=\"%s\","
                                   "nginx=\"%s\",faiss=\"%s\"} 1\n",
                                   NGX_HTTP_RECSYS_VERSION, NGINX_VERSION,
                                   NGX_HTTP_RECSYS_FAISS_VERSION);

    ngx_http_recsys_metrics_requests(out, mmcf, labels);
    ngx_http_recsys_metrics_histograms(out, mmcf, labels);
    ngx_http_recsys_metrics_index(out, mmcf, labels);
    ngx_http_recsys_metrics_rebuilds(out, mmcf, labels);
    ngx_http_recsys_metrics_events(out, mmcf, labels);
    ngx_http_recsys_metrics_limits(out);

    return out->failed ? NGX_ERROR : NGX_OK;
}


static void
ngx_http_recsys_metrics_requests(ngx_http_recsys_metrics_out_t *out,
    ngx_http_recsys_metrics_main_conf_t *mmcf, ngx_str_t *labels)
{
    ngx_uint_t                       i, e, c, n;
    ngx_atomic_uint_t                v;
    ngx_http_recsys_metrics_node_t  *node;

    n = mmcf->rmcf->catalogs.nelts;

    ngx_http_recsys_metrics_family(out, "recsys_requests_total", "counter",
                                   "Requests answered by the recsys "
                                   "handlers, by catalog, endpoint and "
                                   "status class.");

    for (i = 0; i < n; i++) {
        node = mmcf->nodes[i];

        for (e = 1; e < NGX_HTTP_RECSYS_ENDPOINTS; e++) {
            for (c = 0; c < NGX_HTTP_RECSYS_METRICS_CLASSES; c++) {
                v = node->ep[e].requests[c];

                /* 1xx and 3xx are not answers of these handlers */
                if (v == 0 && (c == 0 || c == 2)) {
                    continue;
                }

                ngx_http_recsys_metrics_printf(out,
                    "recsys_requests_total{catalog=\"%V\",endpoint=\"%V\","
                    "code=\"%uixx\"} %uA\n", &labels[i],
                    &ngx_http_recsys_endpoint_names[e], c + 1, v);
            }
        }
    }

    ngx_http_recsys_metrics_profiles(out, mmcf, labels);

    ngx_http_recsys_metrics_family(out, "recsys_items_returned_total",
                                   "counter",
                                   "Items returned in successful answers.");

    for (i = 0; i < n; i++) {
        for (e = 1; e < NGX_HTTP_RECSYS_ENDPOINTS; e++) {
            ngx_http_recsys_metrics_printf(out,
                "recsys_items_returned_total{catalog=\"%V\",endpoint=\"%V\"}"
                " %uA\n", &labels[i], &ngx_http_recsys_endpoint_names[e],
                mmcf->nodes[i]->ep[e].items);
        }
    }

    ngx_http_recsys_metrics_family(out, "recsys_zero_results_total",
                                   "counter",
                                   "Successful answers with no item.");

    for (i = 0; i < n; i++) {
        for (e = 1; e < NGX_HTTP_RECSYS_ENDPOINTS; e++) {
            ngx_http_recsys_metrics_printf(out,
                "recsys_zero_results_total{catalog=\"%V\",endpoint=\"%V\"}"
                " %uA\n", &labels[i], &ngx_http_recsys_endpoint_names[e],
                mmcf->nodes[i]->ep[e].zero);
        }
    }

    ngx_http_recsys_metrics_family(out, "recsys_fallbacks_total", "counter",
                                   "Answers given by a fallback level "
                                   "instead of the requested strategy.");

    /* the user level is the top one: never a fallback */
    for (i = 0; i < n; i++) {
        for (e = RECSYS_LEVEL_HISTORY; e < RECSYS_NLEVELS; e++) {
            ngx_http_recsys_metrics_printf(out,
                "recsys_fallbacks_total{catalog=\"%V\",level=\"%s\"} %uA\n",
                &labels[i], recsys_level_names[e],
                mmcf->nodes[i]->fallbacks[e]);
        }
    }
}


static void
ngx_http_recsys_metrics_histograms(ngx_http_recsys_metrics_out_t *out,
    ngx_http_recsys_metrics_main_conf_t *mmcf, ngx_str_t *labels)
{
    u_char      extra[64];
    ngx_uint_t  i, e, n;

    n = mmcf->rmcf->catalogs.nelts;

    ngx_http_recsys_metrics_family(out, "recsys_request_duration_seconds",
                                   "histogram",
                                   "Time from the start of a request to "
                                   "its log phase.");

    for (i = 0; i < n; i++) {
        for (e = 1; e < NGX_HTTP_RECSYS_ENDPOINTS; e++) {
            ngx_sprintf(extra, ",endpoint=\"%V\"%Z",
                        &ngx_http_recsys_endpoint_names[e]);

            ngx_http_recsys_metrics_histogram(out,
                                     "recsys_request_duration_seconds",
                                     &labels[i], (char *) extra,
                                     &mmcf->nodes[i]->ep[e].duration,
                                     &ngx_http_recsys_metrics_request_buckets);
        }
    }

    ngx_http_recsys_metrics_family(out, "recsys_search_duration_seconds",
                                   "histogram",
                                   "Time spent retrieving candidates (FAISS "
                                   "search, exact scan or popular list), "
                                   "by strategy.");

    for (i = 0; i < n; i++) {
        for (e = 0; e < NGX_HTTP_RECSYS_STRATEGIES - 1; e++) {
            ngx_sprintf(extra, ",strategy=\"%V\"%Z",
                        &ngx_http_recsys_strategy_names[e + 1]);

            ngx_http_recsys_metrics_histogram(out,
                                      "recsys_search_duration_seconds",
                                      &labels[i], (char *) extra,
                                      &mmcf->nodes[i]->search[e],
                                      &ngx_http_recsys_metrics_search_buckets);
        }
    }
}


static void
ngx_http_recsys_metrics_index(ngx_http_recsys_metrics_out_t *out,
    ngx_http_recsys_metrics_main_conf_t *mmcf, ngx_str_t *labels)
{
    ngx_uint_t                        i, n;
    ngx_http_recsys_gen_t            *g;
    ngx_http_recsys_catalog_t       **catalog;
    ngx_http_recsys_metrics_index_t  *idx;

    n = mmcf->rmcf->catalogs.nelts;
    catalog = mmcf->rmcf->catalogs.elts;

    idx = ngx_pcalloc(out->r->pool,
                      (n + 1) * sizeof(ngx_http_recsys_metrics_index_t));
    if (idx == NULL) {
        out->failed = 1;
        return;
    }

    /* a reference is held only while the numbers are copied */

    for (i = 0; i < n; i++) {
        g = ngx_http_recsys_index_acquire(catalog[i], out->r->connection->log);
        if (g == NULL) {
            continue;
        }

        idx[i].mapped = 1;
        idx[i].generation = g->gen.manifest.generation;
        idx[i].items = g->gen.manifest.items;
        idx[i].age = ngx_http_recsys_metrics_index_age(g);
        idx[i].size = ngx_http_recsys_metrics_index_size(g);
        idx[i].build_seconds = g->gen.manifest.build_seconds;
        idx[i].model = g->gen.manifest.model;

        ngx_http_recsys_index_release(g);
    }

    ngx_http_recsys_metrics_family(out, "recsys_index_ready", "gauge",
                                   "1 when the answering worker has a "
                                   "generation of the catalog mapped.");

    for (i = 0; i < n; i++) {
        ngx_http_recsys_metrics_printf(out,
                                       "recsys_index_ready{catalog=\"%V\"}"
                                       " %ui\n", &labels[i], idx[i].mapped);
    }

    ngx_http_recsys_metrics_family(out, "recsys_index_generation", "gauge",
                                   "Generation number the answering worker "
                                   "serves.");

    for (i = 0; i < n; i++) {
        if (idx[i].mapped) {
            ngx_http_recsys_metrics_printf(out,
                                       "recsys_index_generation{catalog="
                                       "\"%V\"} %uL\n", &labels[i],
                                       idx[i].generation);
        }
    }

    ngx_http_recsys_metrics_family(out, "recsys_index_items", "gauge",
                                   "Items in the served generation.");

    for (i = 0; i < n; i++) {
        if (idx[i].mapped) {
            ngx_http_recsys_metrics_printf(out,
                                       "recsys_index_items{catalog=\"%V\"}"
                                       " %uL\n", &labels[i], idx[i].items);
        }
    }

    ngx_http_recsys_metrics_family(out, "recsys_index_age_seconds", "gauge",
                                   "Seconds since the served generation "
                                   "was built.");

    for (i = 0; i < n; i++) {
        if (idx[i].mapped && idx[i].age >= 0) {
            ngx_http_recsys_metrics_printf(out,
                                       "recsys_index_age_seconds{catalog="
                                       "\"%V\"} %T\n", &labels[i],
                                       idx[i].age);
        }
    }

    ngx_http_recsys_metrics_family(out, "recsys_index_size_bytes", "gauge",
                                   "Bytes of the served generation's files "
                                   "(items, vectors, index).");

    for (i = 0; i < n; i++) {
        if (idx[i].mapped) {
            ngx_http_recsys_metrics_printf(out,
                                       "recsys_index_size_bytes{catalog="
                                       "\"%V\"} %O\n", &labels[i],
                                       idx[i].size);
        }
    }

    ngx_http_recsys_metrics_family(out,
                                   "recsys_index_build_duration_seconds",
                                   "gauge",
                                   "How long the served generation took to "
                                   "build.");

    for (i = 0; i < n; i++) {
        if (idx[i].mapped) {
            ngx_http_recsys_metrics_printf(out,
                                       "recsys_index_build_duration_seconds"
                                       "{catalog=\"%V\"} %.6f\n",
                                       &labels[i], idx[i].build_seconds);
        }
    }

    ngx_http_recsys_metrics_model(out, idx, n, labels);
}


/* the served generation's model (manifest "model"), when it has one */

static void
ngx_http_recsys_metrics_model(ngx_http_recsys_metrics_out_t *out,
    ngx_http_recsys_metrics_index_t *idx, ngx_uint_t n, ngx_str_t *labels)
{
    int64_t                   t;
    ngx_uint_t                i, f, nf;
    recsys_manifest_model_t  *mm;

    static const char  *names[7] = {
        "recsys_model_recall_at_10", "recsys_model_ndcg_at_10",
        "recsys_model_training_seconds",
        "recsys_model_last_training_timestamp_seconds",
        "recsys_model_factors_recall_at_10",
        "recsys_model_factors_ndcg_at_10",
        "recsys_model_factors_users"
    };

    static const char  *help[7] = {
        "Recall@10 of the served model on its build's hold-out.",
        "NDCG@10 of the served model on its build's hold-out.",
        "Seconds the served model took to train.",
        "When the served model was trained (Unix time).",
        "Recall@10 of the served factor model (ALS user vectors) on its"
        " build's hold-out.",
        "NDCG@10 of the served factor model on its build's hold-out.",
        "Users given a stored vector by the served factor model."
    };

    for (i = 0; i < n && !(idx[i].mapped && idx[i].model.trained); i++) {
        /* void */
    }

    /* no catalog serves a trained model: no family */
    if (i == n) {
        return;
    }

    for (i = 0; i < n && !(idx[i].mapped && idx[i].model.factors.trained);
         i++)
    {
        /* void */
    }

    /* the factors' families only when some catalog serves factors */
    nf = (i == n) ? 4 : 7;

    for (f = 0; f < nf; f++) {
        ngx_http_recsys_metrics_family(out, names[f], "gauge", help[f]);

        for (i = 0; i < n; i++) {
            mm = &idx[i].model;

            if (!idx[i].mapped || !mm->trained
                || (f >= 4 && !mm->factors.trained))
            {
                continue;
            }

            if (f >= 4) {
                ngx_http_recsys_metrics_printf(out, "%s{catalog=\"%V\"}"
                                               " %.6f\n", names[f],
                                               &labels[i],
                                               f == 4 ? mm->factors.recall
                                               : f == 5 ? mm->factors.ndcg
                                               : (double) mm->factors.users);
                continue;
            }

            if (f == 3) {
                if (recsys_time_parse(mm->trained_at,
                                      ngx_strlen(mm->trained_at), &t)
                    == 0)
                {
                    ngx_http_recsys_metrics_printf(out, "%s{catalog=\"%V\"}"
                                                   " %L\n", names[f],
                                                   &labels[i], t);
                }

                continue;
            }

            ngx_http_recsys_metrics_printf(out, "%s{catalog=\"%V\"} %.6f\n",
                                           names[f], &labels[i],
                                           f == 0 ? mm->recall
                                           : f == 1 ? mm->ndcg
                                           : mm->train_seconds);
        }
    }
}


static void
ngx_http_recsys_metrics_rebuilds(ngx_http_recsys_metrics_out_t *out,
    ngx_http_recsys_metrics_main_conf_t *mmcf, ngx_str_t *labels)
{
    ngx_uint_t                        i, n;
    ngx_http_recsys_catalog_t       **catalog;
    ngx_http_recsys_helper_state_t   *st;

    n = mmcf->rmcf->catalogs.nelts;

    /* a few kilobytes: not on the stack */
    st = ngx_palloc(out->r->pool, sizeof(ngx_http_recsys_helper_state_t));
    if (st == NULL) {
        out->failed = 1;
        return;
    }

    ngx_http_recsys_metrics_family(out, "recsys_rebuilds_total", "counter",
                                   "Index rebuilds run by the helper "
                                   "process, by result.");

    for (i = 0; i < n; i++) {
        ngx_http_recsys_metrics_printf(out,
            "recsys_rebuilds_total{catalog=\"%V\",result=\"success\"} %uA\n"
            "recsys_rebuilds_total{catalog=\"%V\",result=\"failure\"} %uA\n",
            &labels[i], mmcf->nodes[i]->rebuilds[0],
            &labels[i], mmcf->nodes[i]->rebuilds[1]);
    }

    ngx_http_recsys_metrics_family(out, "recsys_rebuild_duration_seconds",
                                   "histogram",
                                   "Duration of the index rebuilds run by "
                                   "the helper process.");

    for (i = 0; i < n; i++) {
        ngx_http_recsys_metrics_histogram(out,
                                     "recsys_rebuild_duration_seconds",
                                     &labels[i], "",
                                     &mmcf->nodes[i]->rebuild,
                                     &ngx_http_recsys_metrics_rebuild_buckets);
    }

    ngx_http_recsys_metrics_family(out, "recsys_prune_failures_total",
                                   "counter",
                                   "Old generations the helper could not "
                                   "remove, each counted once.");

    catalog = mmcf->rmcf->catalogs.elts;

    for (i = 0; i < n; i++) {
        if (ngx_http_recsys_helper_state(catalog[i], st) == NGX_OK) {
            ngx_http_recsys_metrics_printf(out,
                                       "recsys_prune_failures_total{catalog="
                                       "\"%V\"} %uL\n", &labels[i],
                                       st->prune_failures);
        }
    }
}


/* the events API's counters (ngx_http_recsys_events.c), per catalog */

static const ngx_http_recsys_metrics_family_t
    ngx_http_recsys_metrics_event_families[] = {

    { "recsys_events_received_total", "counter",
      "Events in the requests a recsys_events location parsed.",
      offsetof(ngx_http_recsys_events_stats_t, received) },
    { "recsys_events_rejected_total", "counter",
      "Events in refused requests, none of which is kept.",
      offsetof(ngx_http_recsys_events_stats_t, rejected) },
    { "recsys_events_spooled_total", "counter",
      "Events answered 202: written to the spool.",
      offsetof(ngx_http_recsys_events_stats_t, spooled) },
    { "recsys_events_shipped_total", "counter",
      "Events committed to the events store.",
      offsetof(ngx_http_recsys_events_stats_t, shipped) },
    { "recsys_events_lost_total", "counter",
      "Spool lines never stored: torn by a dying writer, or unreadable.",
      offsetof(ngx_http_recsys_events_stats_t, lost) },
    { "recsys_events_ship_failures_total", "counter",
      "Shipping passes that failed (the spool keeps the events).",
      offsetof(ngx_http_recsys_events_stats_t, ship_failures) },
    { "recsys_events_spool_bytes", "gauge",
      "Bytes in the spool's segments.",
      offsetof(ngx_http_recsys_events_stats_t, spool_bytes) },
    { "recsys_events_spool_segments", "gauge",
      "Sealed spool segments waiting to be shipped.",
      offsetof(ngx_http_recsys_events_stats_t, ready) },
    { "recsys_events_last_ship_timestamp_seconds", "gauge",
      "When events were last committed to the store; 0: never.",
      offsetof(ngx_http_recsys_events_stats_t, last_ship) }
};


static void
ngx_http_recsys_metrics_events(ngx_http_recsys_metrics_out_t *out,
    ngx_http_recsys_metrics_main_conf_t *mmcf, ngx_str_t *labels)
{
    ngx_uint_t                           i, f, n, have;
    ngx_http_recsys_catalog_t          **catalog;
    ngx_http_recsys_events_stats_t      *st;
    const ngx_http_recsys_metrics_family_t  *fam;

    n = mmcf->rmcf->catalogs.nelts;
    catalog = mmcf->rmcf->catalogs.elts;

    st = ngx_pcalloc(out->r->pool, n * sizeof(ngx_http_recsys_events_stats_t)
                                   + 1);
    if (st == NULL) {
        out->failed = 1;
        return;
    }

    have = 0;

    for (i = 0; i < n; i++) {
        if (ngx_http_recsys_events_stats(catalog[i], &st[i]) == NGX_OK) {
            st[i].passes++;
            have = 1;
        }
    }

    if (!have) {
        return;
    }

    for (f = 0; f < sizeof(ngx_http_recsys_metrics_event_families)
                    / sizeof(ngx_http_recsys_metrics_family_t); f++)
    {
        fam = &ngx_http_recsys_metrics_event_families[f];

        ngx_http_recsys_metrics_family(out, fam->name, fam->type, fam->help);

        /* passes is 1 more for every catalog that takes events */
        for (i = 0; i < n; i++) {
            if (st[i].passes) {
                ngx_http_recsys_metrics_printf(out, "%s{catalog=\"%V\"} %uL\n",
                    fam->name, &labels[i],
                    *(uint64_t *) ((u_char *) &st[i] + fam->offset));
            }
        }
    }
}


/* the rate-limit zones' own counters, read from their shared memory */

static void
ngx_http_recsys_metrics_limits(ngx_http_recsys_metrics_out_t *out)
{
    ngx_str_t                                 *labels;
    ngx_uint_t                                 i, n;
    ngx_atomic_t                              *v;
    ngx_http_recsys_limit_zone_stats_t        *z;
    const ngx_http_recsys_metrics_family_t    *f;

    n = ngx_http_recsys_limit_zones((ngx_cycle_t *) ngx_cycle, &z);

    labels = ngx_palloc(out->r->pool, (n + 1) * sizeof(ngx_str_t));
    if (labels == NULL) {
        out->failed = 1;
        return;
    }

    for (i = 0; i < n; i++) {
        if (ngx_http_recsys_metrics_escape(out->r->pool, &z[i].name,
                                           &labels[i])
            != NGX_OK)
        {
            out->failed = 1;
            return;
        }

        out->line = ngx_max(out->line,
                            NGX_HTTP_RECSYS_METRICS_LINE + labels[i].len);
    }

    /* a zone not mapped yet (NULL counters) has nothing to show */

    for (f = ngx_http_recsys_metrics_limit_families; f->name; f++) {
        ngx_http_recsys_metrics_family(out, f->name, f->type, f->help);

        for (i = 0; i < n; i++) {
            if (z[i].passed == NULL) {
                continue;
            }

            v = *(ngx_atomic_t **) ((u_char *) &z[i] + f->offset);

            ngx_http_recsys_metrics_printf(out, "%s{zone=\"%V\"} %uA\n",
                                           f->name, &labels[i], *v);
        }
    }

    ngx_http_recsys_metrics_family(out, "recsys_rate_limit_zone_used_bytes",
                                   "gauge",
                                   "Bytes of a rate-limit zone in use.");

    for (i = 0; i < n; i++) {
        if (z[i].passed) {
            ngx_http_recsys_metrics_printf(out,
                                       "recsys_rate_limit_zone_used_bytes"
                                       "{zone=\"%V\"} %uz\n",
                                       &labels[i], z[i].used);
        }
    }

    ngx_http_recsys_metrics_family(out, "recsys_rate_limit_zone_size_bytes",
                                   "gauge", "Size of a rate-limit zone.");

    for (i = 0; i < n; i++) {
        if (z[i].passed) {
            ngx_http_recsys_metrics_printf(out,
                                       "recsys_rate_limit_zone_size_bytes"
                                       "{zone=\"%V\"} %uz\n",
                                       &labels[i], z[i].size);
        }
    }
}


/*
 * Buckets are stored apart and summed here, so the cumulative counts and
 * _count agree even while other workers keep adding.
 */

static void
ngx_http_recsys_metrics_histogram(ngx_http_recsys_metrics_out_t *out,
    const char *name, ngx_str_t *catalog, const char *extra,
    ngx_http_recsys_metrics_hist_t *h,
    const ngx_http_recsys_metrics_buckets_t *bk)
{
    ngx_uint_t         i;
    ngx_atomic_uint_t  n, sum;

    n = 0;

    for (i = 0; i < bk->n; i++) {
        n += h->bucket[i];

        ngx_http_recsys_metrics_printf(out,
                                       "%s_bucket{catalog=\"%V\"%s,"
                                       "le=\"%s\"} %uA\n",
                                       name, catalog, extra, bk->le[i], n);
    }

    n += h->bucket[bk->n];
    sum = h->sum_us;

    ngx_http_recsys_metrics_printf(out,
                                   "%s_bucket{catalog=\"%V\"%s,le=\"+Inf\"}"
                                   " %uA\n"
                                   "%s_sum{catalog=\"%V\"%s} %uA.%06uA\n"
                                   "%s_count{catalog=\"%V\"%s} %uA\n",
                                   name, catalog, extra, n,
                                   name, catalog, extra, sum / 1000000,
                                   sum % 1000000,
                                   name, catalog, extra, n);
}


static void
ngx_http_recsys_metrics_family(ngx_http_recsys_metrics_out_t *out,
    const char *name, const char *type, const char *help)
{
    ngx_http_recsys_metrics_printf(out, "# HELP %s %s\n# TYPE %s %s\n",
                                   name, help, name, type);
}


/* a line goes into the current buffer, or a new one when it may not fit */

static void
ngx_http_recsys_metrics_printf(ngx_http_recsys_metrics_out_t *out,
    const char *fmt, ...)
{
    u_char       *p;
    size_t        size;
    va_list       args;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (out->failed) {
        return;
    }

    b = out->b;

    if (b == NULL || (size_t) (b->end - b->last) < out->line) {
        size = ngx_max(NGX_HTTP_RECSYS_METRICS_BUFSIZE, out->line);

        b = ngx_create_temp_buf(out->r->pool, size);
        cl = ngx_alloc_chain_link(out->r->pool);

        if (b == NULL || cl == NULL) {
            out->failed = 1;
            return;
        }

        cl->buf = b;
        cl->next = NULL;
        *out->last = cl;
        out->last = &cl->next;
        out->b = b;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(b->last, b->end, fmt, args);
    va_end(args);

    out->size += p - b->last;
    b->last = p;
}


/* each catalog's name as a label value */

static ngx_int_t
ngx_http_recsys_metrics_labels(ngx_http_request_t *r,
    ngx_http_recsys_metrics_main_conf_t *mmcf, ngx_str_t **labels,
    size_t *max)
{
    ngx_uint_t                   i, n;
    ngx_str_t                   *l;
    ngx_http_recsys_catalog_t  **catalog;

    n = mmcf->rmcf->catalogs.nelts;
    catalog = mmcf->rmcf->catalogs.elts;

    l = ngx_palloc(r->pool, (n + 1) * sizeof(ngx_str_t));
    if (l == NULL) {
        return NGX_ERROR;
    }

    *labels = l;
    *max = 0;

    for (i = 0; i < n; i++) {
        if (ngx_http_recsys_metrics_escape(r->pool, &catalog[i]->name, &l[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        *max = ngx_max(*max, l[i].len);
    }

    /* one printf names a catalog up to three times */
    *max *= 3;

    return NGX_OK;
}


/* a label value: \, " and newline escaped, as the text format wants */

static ngx_int_t
ngx_http_recsys_metrics_escape(ngx_pool_t *pool, ngx_str_t *value,
    ngx_str_t *label)
{
    u_char  *p, *s, *last;

    p = ngx_pnalloc(pool, 2 * value->len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    label->data = p;

    s = value->data;
    last = s + value->len;

    while (s < last) {
        if (*s == '\\' || *s == '"') {
            *p++ = '\\';
            *p++ = *s++;

        } else if (*s == '\n') {
            *p++ = '\\';
            *p++ = 'n';
            s++;

        } else {
            *p++ = *s++;
        }
    }

    label->len = p - label->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_recsys_metrics_log_handler(ngx_http_request_t *r)
{
    uint64_t                              us;
    ngx_msec_int_t                        ms;
    ngx_uint_t                            status, e;
    ngx_time_t                           *tp;
    ngx_http_recsys_stats_t              *st;
    ngx_http_recsys_metrics_node_t       *node;
    ngx_http_recsys_metrics_pnode_t      *pnode;
    ngx_http_recsys_metrics_main_conf_t  *mmcf;

    st = ngx_http_recsys_get_stats(r);

    if (st == NULL
        || st->endpoint == 0
        || st->endpoint >= NGX_HTTP_RECSYS_ENDPOINTS)
    {
        return NGX_OK;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_recsys_metrics_module);

    node = ngx_http_recsys_metrics_node(mmcf, &st->catalog);
    if (node == NULL) {
        return NGX_OK;
    }

    e = st->endpoint;

    /* the status as $status reports it */

    if (r->err_status) {
        status = r->err_status;

    } else {
        status = r->headers_out.status;
    }

    if (status >= 100 && status < 600) {
        (void) ngx_atomic_fetch_add(&node->ep[e].requests[status / 100 - 1],
                                    1);

        pnode = ngx_http_recsys_metrics_pnode(mmcf, &st->catalog,
                                              st->profile_no);
        if (pnode) {
            (void) ngx_atomic_fetch_add(&pnode->requests[status / 100 - 1],
                                        1);
        }
    }

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));
    ms = ngx_max(ms, 0);

    us = ngx_http_recsys_request_us(r);

    /* reading the request header, before POST_READ, can be what took long */
    if ((uint64_t) ms * 1000 > us + 1000) {
        us = (uint64_t) ms * 1000;
    }

    ngx_http_recsys_metrics_observe(&node->ep[e].duration,
                                    &ngx_http_recsys_metrics_request_buckets,
                                    us);

    if (st->strategy == NGX_HTTP_RECSYS_NO_STRATEGY) {
        return NGX_OK;
    }

    if (st->strategy < NGX_HTTP_RECSYS_STRATEGIES) {
        ngx_http_recsys_metrics_observe(&node->search[st->strategy - 1],
                                      &ngx_http_recsys_metrics_search_buckets,
                                      st->retrieve_us);
    }

    (void) ngx_atomic_fetch_add(&node->ep[e].items, st->returned);

    if (st->returned == 0) {
        (void) ngx_atomic_fetch_add(&node->ep[e].zero, 1);
    }

    if (st->fallback && st->level >= 0 && st->level < RECSYS_NLEVELS) {
        (void) ngx_atomic_fetch_add(&node->fallbacks[st->level], 1);
    }

    return NGX_OK;
}


static void
ngx_http_recsys_metrics_observe(ngx_http_recsys_metrics_hist_t *h,
    const ngx_http_recsys_metrics_buckets_t *bk, uint64_t us)
{
    ngx_uint_t  i;

    for (i = 0; i < bk->n; i++) {
        if (us <= bk->le_us[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&h->bucket[i], 1);
    (void) ngx_atomic_fetch_add(&h->sum_us, (ngx_atomic_int_t) us);
}


static ngx_http_recsys_metrics_node_t *
ngx_http_recsys_metrics_node(ngx_http_recsys_metrics_main_conf_t *mmcf,
    ngx_str_t *name)
{
    ngx_uint_t                   i;
    ngx_http_recsys_catalog_t  **catalog;

    if (mmcf == NULL || mmcf->nodes == NULL) {
        return NULL;
    }

    catalog = mmcf->rmcf->catalogs.elts;

    for (i = 0; i < mmcf->rmcf->catalogs.nelts; i++) {
        if (catalog[i]->name.len == name->len
            && ngx_strncmp(catalog[i]->name.data, name->data, name->len) == 0)
        {
            return mmcf->nodes[i];
        }
    }

    return NULL;
}



time_t
ngx_http_recsys_metrics_index_age(ngx_http_recsys_gen_t *g)
{
    time_t   now;
    int64_t  built;

    if (recsys_time_parse(g->gen.manifest.built_at,
                          ngx_strlen(g->gen.manifest.built_at), &built)
        != 0)
    {
        return -1;
    }

    now = ngx_time();

    /* a clock set back makes a new build look like it comes from later */
    return (now > built) ? now - built : 0;
}


off_t
ngx_http_recsys_metrics_index_size(ngx_http_recsys_gen_t *g)
{
    off_t       size;
    ngx_uint_t  i;

    size = 0;

    for (i = 0; i < g->gen.manifest.nfiles; i++) {
        size += (off_t) g->gen.manifest.files[i].size;
    }

    return size;
}


void
ngx_http_recsys_metrics_rebuild(ngx_cycle_t *cycle, ngx_str_t *catalog,
    ngx_uint_t success, ngx_msec_t duration)
{
    ngx_http_recsys_metrics_node_t       *node;
    ngx_http_recsys_metrics_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_recsys_metrics_module);

    node = ngx_http_recsys_metrics_node(mmcf, catalog);
    if (node == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&node->rebuilds[success ? 0 : 1], 1);

    ngx_http_recsys_metrics_observe(&node->rebuild,
                                    &ngx_http_recsys_metrics_rebuild_buckets,
                                    (uint64_t) duration * 1000);
}


/*
 * Finds each configured catalog's counters by name, so a reload that keeps
 * the zone keeps counting where it was; new catalogs get a new block.
 */

static ngx_int_t
ngx_http_recsys_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_recsys_metrics_main_conf_t  *omcf = data;

    size_t                                len;
    ngx_uint_t                            i;
    ngx_http_recsys_catalog_t           **catalog;
    ngx_http_recsys_metrics_node_t       *node;
    ngx_http_recsys_metrics_main_conf_t  *mmcf;

    mmcf = shm_zone->data;

    if (omcf) {
        mmcf->shpool = omcf->shpool;
        mmcf->sh = omcf->sh;

    } else {
        mmcf->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

        if (shm_zone->shm.exists) {
            mmcf->sh = mmcf->shpool->data;

        } else {
            mmcf->sh = ngx_slab_calloc(mmcf->shpool,
                                    sizeof(ngx_http_recsys_metrics_shctx_t));
            if (mmcf->sh == NULL) {
                return NGX_ERROR;
            }

            mmcf->shpool->data = mmcf->sh;

            len = sizeof(" in recsys_metrics zone \"\"")
                  + shm_zone->shm.name.len;

            mmcf->shpool->log_ctx = ngx_slab_alloc(mmcf->shpool, len);
            if (mmcf->shpool->log_ctx == NULL) {
                return NGX_ERROR;
            }

            ngx_sprintf(mmcf->shpool->log_ctx,
                        " in recsys_metrics zone \"%V\"%Z",
                        &shm_zone->shm.name);
        }
    }

    catalog = mmcf->rmcf->catalogs.elts;

    for (i = 0; i < mmcf->rmcf->catalogs.nelts; i++) {

        for (node = mmcf->sh->nodes; node; node = node->next) {
            if (node->len == catalog[i]->name.len
                && ngx_strncmp(node->name, catalog[i]->name.data, node->len)
                   == 0)
            {
                break;
            }
        }

        if (node == NULL) {
            node = ngx_slab_calloc(mmcf->shpool,
                                   sizeof(ngx_http_recsys_metrics_node_t)
                                   + catalog[i]->name.len);
            if (node == NULL) {
                ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                              "recsys_metrics zone is too small for %ui "
                              "catalogs, raise \"recsys_metrics_zone_size\"",
                              mmcf->rmcf->catalogs.nelts);
                return NGX_ERROR;
            }

            node->len = catalog[i]->name.len;
            ngx_memcpy(node->name, catalog[i]->name.data, node->len);

            /* workers of an old cycle never walk the list */
            node->next = mmcf->sh->nodes;
            mmcf->sh->nodes = node;
        }

        mmcf->nodes[i] = node;

        if (ngx_http_recsys_metrics_init_profiles(shm_zone, mmcf, i)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_recsys_metrics_init_profiles(ngx_shm_zone_t *shm_zone,
    ngx_http_recsys_metrics_main_conf_t *mmcf, ngx_uint_t i)
{
    size_t                            len, clen;
    u_char                           *p;
    ngx_uint_t                        j;
    recsys_profile_t                 *pr;
    recsys_ranking_conf_t            *rc;
    ngx_http_recsys_catalog_t       **catalog;
    ngx_http_recsys_metrics_pnode_t  *pnode;

    catalog = mmcf->rmcf->catalogs.elts;
    rc = &catalog[i]->conf->ranking;
    clen = catalog[i]->name.len;

    for (j = 0; j < rc->nprofiles; j++) {
        pr = &rc->profiles[j];
        len = clen + 1 + ngx_strlen(pr->name);

        for (pnode = mmcf->sh->pnodes; pnode; pnode = pnode->next) {
            if (pnode->len == len
                && ngx_memcmp(pnode->name, catalog[i]->name.data, clen) == 0
                && pnode->name[clen] == '\0'
                && ngx_memcmp(pnode->name + clen + 1, pr->name,
                              len - clen - 1)
                   == 0)
            {
                break;
            }
        }

        if (pnode == NULL) {
            pnode = ngx_slab_calloc(mmcf->shpool,
                                    sizeof(ngx_http_recsys_metrics_pnode_t)
                                    + len);
            if (pnode == NULL) {
                ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                              "recsys_metrics zone is too small for the "
                              "ranking profiles of catalog \"%V\", raise "
                              "\"recsys_metrics_zone_size\"",
                              &catalog[i]->name);
                return NGX_ERROR;
            }

            pnode->len = len;
            p = ngx_cpymem(pnode->name, catalog[i]->name.data, clen);
            *p++ = '\0';
            ngx_memcpy(p, pr->name, len - clen - 1);

            pnode->next = mmcf->sh->pnodes;
            mmcf->sh->pnodes = pnode;
        }

        mmcf->profiles[i][j] = pnode;
    }

    return NGX_OK;
}


static ngx_http_recsys_metrics_pnode_t *
ngx_http_recsys_metrics_pnode(ngx_http_recsys_metrics_main_conf_t *mmcf,
    ngx_str_t *name, ngx_uint_t profile_no)
{
    ngx_uint_t                   i;
    ngx_http_recsys_catalog_t  **catalog;

    if (profile_no == 0 || mmcf == NULL || mmcf->profiles == NULL) {
        return NULL;
    }

    catalog = mmcf->rmcf->catalogs.elts;

    for (i = 0; i < mmcf->rmcf->catalogs.nelts; i++) {
        if (catalog[i]->name.len == name->len
            && ngx_strncmp(catalog[i]->name.data, name->data, name->len) == 0)
        {
            if (profile_no > catalog[i]->conf->ranking.nprofiles) {
                return NULL;
            }

            return mmcf->profiles[i][profile_no - 1];
        }
    }

    return NULL;
}


static void
ngx_http_recsys_metrics_profiles(ngx_http_recsys_metrics_out_t *out,
    ngx_http_recsys_metrics_main_conf_t *mmcf, ngx_str_t *labels)
{
    ngx_uint_t                        i, j, c;
    ngx_atomic_uint_t                 v;
    recsys_ranking_conf_t            *rc;
    ngx_http_recsys_catalog_t       **catalog;
    ngx_http_recsys_metrics_pnode_t  *pnode;

    catalog = mmcf->rmcf->catalogs.elts;

    ngx_http_recsys_metrics_family(out, "recsys_profile_requests_total",
                                   "counter",
                                   "Requests ranked with a profile, by "
                                   "catalog, profile and status class.");

    for (i = 0; i < mmcf->rmcf->catalogs.nelts; i++) {
        rc = &catalog[i]->conf->ranking;

        for (j = 0; j < rc->nprofiles; j++) {
            pnode = mmcf->profiles[i][j];

            for (c = 0; c < NGX_HTTP_RECSYS_METRICS_CLASSES; c++) {
                v = pnode->requests[c];

                if (v == 0 && c != 1) {
                    continue;
                }

                ngx_http_recsys_metrics_printf(out,
                    "recsys_profile_requests_total{catalog=\"%V\","
                    "profile=\"%s\",code=\"%uixx\"} %uA\n", &labels[i],
                    rc->profiles[j].name, c + 1, v);
            }
        }
    }
}


static void *
ngx_http_recsys_metrics_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_recsys_metrics_main_conf_t  *mmcf;

    mmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_recsys_metrics_main_conf_t));
    if (mmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mmcf->enabled = 0;
     *     mmcf->shm_zone = NULL;
     *     mmcf->nodes = NULL;
     */

    mmcf->size = NGX_CONF_UNSET_SIZE;

    return mmcf;
}


static char *
ngx_http_recsys_metrics_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_recsys_metrics_main_conf_t *mmcf = conf;

    ngx_conf_init_size_value(mmcf->size, 1024 * 1024);

    return NGX_CONF_OK;
}


static char *
ngx_http_recsys_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t             *clcf;
    ngx_http_recsys_metrics_main_conf_t  *mmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_recsys_metrics_handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_recsys_metrics_handler;

    mmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_recsys_metrics_module);
    mmcf->enabled = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_recsys_metrics_zone_size(ngx_conf_t *cf, void *post, void *data)
{
    size_t  *sp = data;

    if (*sp < 8 * ngx_pagesize) {
        return "must be at least 8 memory pages";
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_recsys_metrics_init(ngx_conf_t *cf)
{
    ngx_uint_t                            i;
    ngx_http_handler_pt                  *h;
    ngx_http_recsys_catalog_t           **catalog;
    ngx_http_core_main_conf_t            *cmcf;
    ngx_http_recsys_metrics_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_recsys_metrics_module);

    if (!mmcf->enabled) {
        return NGX_OK;
    }

    mmcf->rmcf = ngx_http_conf_get_module_main_conf(cf,
                                                    ngx_http_recsys_module);

    mmcf->nodes = ngx_pcalloc(cf->pool,
                              (mmcf->rmcf->catalogs.nelts + 1)
                              * sizeof(ngx_http_recsys_metrics_node_t *));
    if (mmcf->nodes == NULL) {
        return NGX_ERROR;
    }

    mmcf->profiles = ngx_pcalloc(cf->pool,
                                 (mmcf->rmcf->catalogs.nelts + 1)
                                 * sizeof(ngx_http_recsys_metrics_pnode_t **));
    if (mmcf->profiles == NULL) {
        return NGX_ERROR;
    }

    catalog = mmcf->rmcf->catalogs.elts;

    for (i = 0; i < mmcf->rmcf->catalogs.nelts; i++) {
        mmcf->profiles[i] = ngx_pcalloc(cf->pool,
                                 (catalog[i]->conf->ranking.nprofiles + 1)
                                 * sizeof(ngx_http_recsys_metrics_pnode_t *));
        if (mmcf->profiles[i] == NULL) {
            return NGX_ERROR;
        }
    }

    mmcf->shm_zone = ngx_shared_memory_add(cf,
                                           &ngx_http_recsys_metrics_zone_name,
                                           mmcf->size,
                                           &ngx_http_recsys_metrics_module);
    if (mmcf->shm_zone == NULL) {
        return NGX_ERROR;
    }

    mmcf->shm_zone->init = ngx_http_recsys_metrics_init_zone;
    mmcf->shm_zone->data = mmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    if (ngx_http_recsys_request_stamp(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_recsys_metrics_log_handler;

    return NGX_OK;
}
