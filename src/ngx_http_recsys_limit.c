
/*
 * ngx_http_recsys_limit_module: rate limiting in the PREACCESS phase.
 * Each key's state is a GCRA theoretical arrival time in a shared zone
 * (rbtree + LRU queue, as limit_req keeps its nodes), keyed by the key's
 * SHA-256 so that API keys are never kept in clear.  Rejections answer
 * with a JSON error; every response a limit applied to carries the IETF
 * RateLimit-Policy and RateLimit fields, added by a header filter.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_recsys_module.h"
#include "ngx_http_recsys_limit.h"
#include "ngx_http_recsys_response.h"
#include "recsys_gcra.h"
#include "recsys_request.h"
#include "recsys_sha256.h"


#define NGX_HTTP_RECSYS_LIMIT_PASSED            1
#define NGX_HTTP_RECSYS_LIMIT_REJECTED          2
#define NGX_HTTP_RECSYS_LIMIT_REJECTED_DRY_RUN  3

/* what one zone made of one request */
#define NGX_HTTP_RECSYS_LIMIT_SKIP              0   /* empty key */
#define NGX_HTTP_RECSYS_LIMIT_OK                1   /* allowed, accounted */
#define NGX_HTTP_RECSYS_LIMIT_BUSY              2   /* over the rate */
#define NGX_HTTP_RECSYS_LIMIT_FULL              3   /* no room for the key */

#define NGX_HTTP_RECSYS_LIMIT_COST_K            0   /* cost=k */

/* entries looked at from the LRU end when an allocation fails */
#define NGX_HTTP_RECSYS_LIMIT_SCAN              64

#define NGX_HTTP_RECSYS_LIMIT_ALERT_INTERVAL    60000


typedef struct {
    u_char                          color;
    u_char                          dummy;
    ngx_queue_t                     queue;
    uint64_t                        tat;
    u_char                          digest[RECSYS_SHA256_LEN];
} ngx_http_recsys_limit_node_t;


typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;
    ngx_msec_t                      alerted;
    ngx_atomic_t                    passed;
    ngx_atomic_t                    rejected;
    ngx_atomic_t                    dry_run;
    ngx_atomic_t                    full;
    ngx_atomic_t                    entries;
} ngx_http_recsys_limit_shctx_t;


typedef struct {
    u_char                          digest[RECSYS_SHA256_LEN];
    recsys_gcra_policy_t            policy;
} ngx_http_recsys_limit_tier_t;


typedef struct {
    ngx_http_recsys_limit_shctx_t  *sh;
    ngx_slab_pool_t                *shpool;
    ngx_shm_zone_t                 *shm_zone;
    ngx_http_complex_value_t        key;
    recsys_gcra_policy_t            policy;     /* keys without a tier */
    ngx_array_t                     tiers;      /* sorted by digest */
    ngx_uint_t                      on_full_open;
} ngx_http_recsys_limit_zone_t;


typedef struct {
    ngx_shm_zone_t                 *shm_zone;
    ngx_uint_t                      cost;       /* 0: the request's k */
    ngx_uint_t                      dry_run;    /* unsigned  dry_run:1 */
} ngx_http_recsys_limit_t;


typedef struct {
    ngx_array_t                     zones;      /* _zone_t * */
    ngx_http_recsys_limit_zone_stats_t  *stats;
} ngx_http_recsys_limit_main_conf_t;


typedef struct {
    ngx_array_t                     limits;     /* _limit_t */
    ngx_uint_t                      log_level;
    ngx_uint_t                      status_code;
} ngx_http_recsys_limit_loc_conf_t;


/* one zone's verdict on the current request */
typedef struct {
    ngx_uint_t                      state;
    ngx_uint_t                      rejects;
    uint64_t                        cost;
    uint64_t                        tat;        /* before the request */
    uint64_t                        wait;       /* FULL: us until room */
    recsys_gcra_policy_t           *policy;
    recsys_gcra_result_t            res;
    u_char                          digest[RECSYS_SHA256_LEN];
} ngx_http_recsys_limit_try_t;


typedef struct {
    ngx_uint_t                      status;
    time_t                          retry_after;
    ngx_str_t                       policy;     /* RateLimit-Policy */
    ngx_str_t                       limit;      /* RateLimit */
} ngx_http_recsys_limit_ctx_t;


static ngx_int_t ngx_http_recsys_limit_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_recsys_limit_try(ngx_http_request_t *r,
    ngx_http_recsys_limit_t *limit, uint64_t now,
    ngx_http_recsys_limit_try_t *t);
static void ngx_http_recsys_limit_undo(ngx_http_recsys_limit_t *limit,
    ngx_http_recsys_limit_try_t *t, uint64_t now);
static void ngx_http_recsys_limit_account(ngx_http_request_t *r,
    ngx_http_recsys_limit_loc_conf_t *llcf, ngx_http_recsys_limit_try_t *tries,
    ngx_uint_t rejected);
static ngx_http_recsys_limit_ctx_t *ngx_http_recsys_limit_create_ctx(
    ngx_http_request_t *r, ngx_http_recsys_limit_loc_conf_t *llcf,
    ngx_http_recsys_limit_try_t *tries, ngx_uint_t status);
static ngx_int_t ngx_http_recsys_limit_reject(ngx_http_request_t *r,
    ngx_http_recsys_limit_loc_conf_t *llcf,
    ngx_http_recsys_limit_try_t *tries, ngx_http_recsys_limit_ctx_t *ctx);
static ngx_http_recsys_limit_ctx_t *ngx_http_recsys_limit_get_ctx(
    ngx_http_request_t *r);
static void ngx_http_recsys_limit_cleanup(void *data);
static uint64_t ngx_http_recsys_limit_cost_k(ngx_http_request_t *r);
static recsys_gcra_policy_t *ngx_http_recsys_limit_policy(
    ngx_http_recsys_limit_zone_t *zone, u_char *digest);
static ngx_http_recsys_limit_node_t *ngx_http_recsys_limit_lookup(
    ngx_http_recsys_limit_zone_t *zone, u_char *digest);
static ngx_http_recsys_limit_node_t *ngx_http_recsys_limit_alloc(
    ngx_http_recsys_limit_zone_t *zone, u_char *digest, uint64_t now,
    uint64_t *wait);
static void ngx_http_recsys_limit_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static void ngx_http_recsys_limit_expire(ngx_http_recsys_limit_zone_t *zone,
    uint64_t now, ngx_uint_t deep, uint64_t *wait);
static ngx_int_t ngx_http_recsys_limit_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_recsys_limit_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_recsys_limit_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);

static ngx_int_t ngx_http_recsys_limit_add_variables(ngx_conf_t *cf);
static void *ngx_http_recsys_limit_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_recsys_limit_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_recsys_limit_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_recsys_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_recsys_limit_tier(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_recsys_limit_rate_burst(ngx_conf_t *cf,
    ngx_str_t *value, recsys_gcra_policy_t *policy, ngx_uint_t *rate);
static char *ngx_http_recsys_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_http_recsys_limit_zone_t *ngx_http_recsys_limit_find_zone(
    ngx_conf_t *cf, ngx_command_t *cmd, ngx_str_t *name);
static int ngx_libc_cdecl ngx_http_recsys_limit_cmp_tiers(const void *one,
    const void *two);
static ngx_int_t ngx_http_recsys_limit_init(ngx_conf_t *cf);


static ngx_conf_enum_t  ngx_http_recsys_limit_log_levels[] = {
    { ngx_string("info"), NGX_LOG_INFO },
    { ngx_string("notice"), NGX_LOG_NOTICE },
    { ngx_string("warn"), NGX_LOG_WARN },
    { ngx_string("error"), NGX_LOG_ERR },
    { ngx_null_string, 0 }
};


static ngx_conf_num_bounds_t  ngx_http_recsys_limit_status_bounds = {
    ngx_conf_check_num_bounds, 400, 599
};


static ngx_command_t  ngx_http_recsys_limit_commands[] = {

    { ngx_string("recsys_limit_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_recsys_limit_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("recsys_limit_tier"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE3|NGX_CONF_TAKE4,
      ngx_http_recsys_limit_tier,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("recsys_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE123,
      ngx_http_recsys_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("recsys_limit_log_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_recsys_limit_loc_conf_t, log_level),
      &ngx_http_recsys_limit_log_levels },

    { ngx_string("recsys_limit_status"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_recsys_limit_loc_conf_t, status_code),
      &ngx_http_recsys_limit_status_bounds },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_recsys_limit_module_ctx = {
    ngx_http_recsys_limit_add_variables,   /* preconfiguration */
    ngx_http_recsys_limit_init,            /* postconfiguration */

    ngx_http_recsys_limit_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_recsys_limit_create_loc_conf, /* create location configuration */
    ngx_http_recsys_limit_merge_loc_conf   /* merge location configuration */
};


ngx_module_t  ngx_http_recsys_limit_module = {
    NGX_MODULE_V1,
    &ngx_http_recsys_limit_module_ctx,     /* module context */
    ngx_http_recsys_limit_commands,        /* module directives */
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


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


static ngx_str_t  ngx_http_recsys_limit_status_names[] = {
    ngx_string("PASSED"),
    ngx_string("REJECTED"),
    ngx_string("REJECTED_DRY_RUN")
};


static ngx_int_t
ngx_http_recsys_limit_handler(ngx_http_request_t *r)
{
    uint64_t                           now;
    ngx_uint_t                         i, n, applied, rejected, dry_run;
    ngx_uint_t                         status;
    ngx_http_recsys_limit_t           *limits;
    ngx_http_recsys_limit_ctx_t       *ctx;
    ngx_http_recsys_limit_try_t       *tries;
    ngx_http_recsys_limit_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_limit_module);

    n = llcf->limits.nelts;

    /* once per request: not again after a redirect, not in subrequests */

    if (n == 0 || r != r->main || ngx_http_recsys_limit_get_ctx(r) != NULL) {
        return NGX_DECLINED;
    }

    tries = ngx_pcalloc(r->pool, n * sizeof(ngx_http_recsys_limit_try_t));
    if (tries == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    limits = llcf->limits.elts;

    /* the monotonic clock every worker shares, in microseconds */
    now = (uint64_t) ngx_current_msec * 1000;

    applied = 0;
    rejected = 0;
    dry_run = 0;

    for (i = 0; i < n; i++) {

        if (ngx_http_recsys_limit_try(r, &limits[i], now, &tries[i])
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (tries[i].state == NGX_HTTP_RECSYS_LIMIT_SKIP) {
            continue;
        }

        applied = 1;

        if (tries[i].rejects) {
            if (limits[i].dry_run) {
                dry_run = 1;

            } else {
                rejected = 1;
            }
        }
    }

    if (!applied) {
        return NGX_DECLINED;
    }

    if (rejected) {

        /* a rejected request leaves no trace in the zones it passed */

        for (i = 0; i < n; i++) {
            if (tries[i].state == NGX_HTTP_RECSYS_LIMIT_OK) {
                ngx_http_recsys_limit_undo(&limits[i], &tries[i], now);
            }
        }

        status = NGX_HTTP_RECSYS_LIMIT_REJECTED;

    } else if (dry_run) {
        status = NGX_HTTP_RECSYS_LIMIT_REJECTED_DRY_RUN;

    } else {
        status = NGX_HTTP_RECSYS_LIMIT_PASSED;
    }

    ngx_http_recsys_limit_account(r, llcf, tries, rejected);

    ctx = ngx_http_recsys_limit_create_ctx(r, llcf, tries, status);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rejected) {
        return ngx_http_recsys_limit_reject(r, llcf, tries, ctx);
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_recsys_limit_try(ngx_http_request_t *r,
    ngx_http_recsys_limit_t *limit, uint64_t now,
    ngx_http_recsys_limit_try_t *t)
{
    ngx_str_t                      key;
    ngx_uint_t                     alert;
    ngx_http_recsys_limit_node_t  *node;
    ngx_http_recsys_limit_zone_t  *zone;

    zone = limit->shm_zone->data;

    if (ngx_http_complex_value(r, &zone->key, &key) != NGX_OK) {
        return NGX_ERROR;
    }

    if (key.len == 0) {
        t->state = NGX_HTTP_RECSYS_LIMIT_SKIP;
        return NGX_OK;
    }

    recsys_sha256(key.data, key.len, t->digest);

    t->policy = ngx_http_recsys_limit_policy(zone, t->digest);
    t->cost = limit->cost ? limit->cost : ngx_http_recsys_limit_cost_k(r);

    alert = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    node = ngx_http_recsys_limit_lookup(zone, t->digest);

    if (node == NULL) {
        node = ngx_http_recsys_limit_alloc(zone, t->digest, now, &t->wait);
    }

    if (node) {
        t->tat = node->tat;

        recsys_gcra_check(t->policy, now, node->tat, t->cost, &t->res);

        if (t->res.allowed) {
            node->tat = t->res.tat;
            t->state = NGX_HTTP_RECSYS_LIMIT_OK;

        } else {
            t->state = NGX_HTTP_RECSYS_LIMIT_BUSY;
            t->rejects = 1;
        }

    } else {
        t->state = NGX_HTTP_RECSYS_LIMIT_FULL;
        t->rejects = !zone->on_full_open;

        if (zone->sh->alerted == 0
            || ngx_current_msec - zone->sh->alerted
               >= NGX_HTTP_RECSYS_LIMIT_ALERT_INTERVAL)
        {
            zone->sh->alerted = ngx_current_msec ? ngx_current_msec : 1;
            alert = 1;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (t->state == NGX_HTTP_RECSYS_LIMIT_FULL) {
        (void) ngx_atomic_fetch_add(&zone->sh->full, 1);

        if (alert) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "recsys_limit_zone \"%V\" is full, %s requests "
                          "with new keys (logged once a minute)",
                          &zone->shm_zone->shm.name,
                          zone->on_full_open ? "letting through"
                                             : "rejecting");
        }
    }

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "recsys limit \"%V\": state:%ui cost:%uL "
                   "remaining:%uL retry:%uL",
                   &zone->shm_zone->shm.name, t->state, t->cost,
                   t->res.remaining, t->res.retry_after);

    return NGX_OK;
}


static void
ngx_http_recsys_limit_undo(ngx_http_recsys_limit_t *limit,
    ngx_http_recsys_limit_try_t *t, uint64_t now)
{
    ngx_http_recsys_limit_node_t  *node;
    ngx_http_recsys_limit_zone_t  *zone;

    zone = limit->shm_zone->data;

    ngx_shmtx_lock(&zone->shpool->mutex);

    node = ngx_http_recsys_limit_lookup(zone, t->digest);

    if (node) {
        node->tat = recsys_gcra_undo(t->policy, node->tat, t->cost);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    /* the fields describe the state the request found */
    recsys_gcra_peek(t->policy, now, t->tat, &t->res);
}


static void
ngx_http_recsys_limit_account(ngx_http_request_t *r,
    ngx_http_recsys_limit_loc_conf_t *llcf, ngx_http_recsys_limit_try_t *tries,
    ngx_uint_t rejected)
{
    ngx_str_t                     *name;
    ngx_uint_t                     i;
    ngx_http_recsys_limit_t       *limits;
    ngx_http_recsys_limit_try_t   *t;
    ngx_http_recsys_limit_zone_t  *zone;

    limits = llcf->limits.elts;

    for (i = 0; i < llcf->limits.nelts; i++) {
        t = &tries[i];

        if (t->state == NGX_HTTP_RECSYS_LIMIT_SKIP) {
            continue;
        }

        zone = limits[i].shm_zone->data;
        name = &zone->shm_zone->shm.name;

        if (!t->rejects) {
            if (!rejected) {
                (void) ngx_atomic_fetch_add(&zone->sh->passed, 1);
            }

            continue;
        }

        (void) ngx_atomic_fetch_add(limits[i].dry_run ? &zone->sh->dry_run
                                                      : &zone->sh->rejected,
                                    1);

        if (t->state == NGX_HTTP_RECSYS_LIMIT_FULL) {
            ngx_log_error(llcf->log_level, r->connection->log, 0,
                          "limiting requests%s, zone \"%V\" is full",
                          limits[i].dry_run ? ", dry run" : "", name);
            continue;
        }

        if (t->res.never) {
            ngx_log_error(llcf->log_level, r->connection->log, 0,
                          "limiting requests%s, cost %uL exceeds "
                          "the capacity %uL of zone \"%V\"",
                          limits[i].dry_run ? ", dry run" : "", t->cost,
                          recsys_gcra_quota(t->policy), name);
            continue;
        }

        ngx_log_error(llcf->log_level, r->connection->log, 0,
                      "limiting requests%s, excess: %uL.%03uL by zone \"%V\"",
                      limits[i].dry_run ? ", dry run" : "",
                      t->res.excess / 1000, t->res.excess % 1000, name);
    }
}


static ngx_http_recsys_limit_ctx_t *
ngx_http_recsys_limit_create_ctx(ngx_http_request_t *r,
    ngx_http_recsys_limit_loc_conf_t *llcf, ngx_http_recsys_limit_try_t *tries,
    ngx_uint_t status)
{
    u_char                        *p, *q;
    size_t                         len;
    time_t                         retry;
    ngx_str_t                     *name;
    ngx_uint_t                     i;
    ngx_pool_cleanup_t            *cln;
    ngx_http_recsys_limit_t       *limits;
    ngx_http_recsys_limit_ctx_t   *ctx;
    ngx_http_recsys_limit_try_t   *t;
    ngx_http_recsys_limit_zone_t  *zone;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_recsys_limit_ctx_t));
    if (cln == NULL) {
        return NULL;
    }

    ctx = cln->data;
    cln->handler = ngx_http_recsys_limit_cleanup;

    ngx_memzero(ctx, sizeof(ngx_http_recsys_limit_ctx_t));

    ctx->status = status;

    limits = llcf->limits.elts;

    len = 0;

    for (i = 0; i < llcf->limits.nelts; i++) {
        zone = limits[i].shm_zone->data;

        len += zone->shm_zone->shm.name.len + 2 * NGX_INT64_LEN
               + sizeof(", \"\";q=;w=") - 1;
    }

    p = ngx_pnalloc(r->pool, 2 * len);
    if (p == NULL) {
        return NULL;
    }

    q = p + len;

    ctx->policy.data = p;
    ctx->limit.data = q;

    retry = 0;

    for (i = 0; i < llcf->limits.nelts; i++) {
        t = &tries[i];

        if (t->state == NGX_HTTP_RECSYS_LIMIT_SKIP) {
            continue;
        }

        zone = limits[i].shm_zone->data;
        name = &zone->shm_zone->shm.name;

        if (p != ctx->policy.data) {
            p = ngx_cpymem(p, ", ", 2);
        }

        p = ngx_sprintf(p, "\"%V\";q=%uL;w=%uL", name,
                        recsys_gcra_quota(t->policy),
                        recsys_gcra_window(t->policy));

        /* an untracked key has no state to report */

        if (t->state != NGX_HTTP_RECSYS_LIMIT_FULL) {
            if (q != ctx->limit.data) {
                q = ngx_cpymem(q, ", ", 2);
            }

            q = ngx_sprintf(q, "\"%V\";r=%uL;t=%uL", name,
                            t->res.remaining, t->res.reset);
        }

        if (!t->rejects || limits[i].dry_run) {
            continue;
        }

        if (t->state == NGX_HTTP_RECSYS_LIMIT_FULL) {
            t->res.retry_after = (t->wait + RECSYS_GCRA_SECOND - 1)
                                 / RECSYS_GCRA_SECOND;

            if (t->res.retry_after == 0) {
                t->res.retry_after = 1;
            }
        }

        if ((time_t) t->res.retry_after > retry) {
            retry = (time_t) t->res.retry_after;
        }
    }

    ctx->policy.len = p - ctx->policy.data;
    ctx->limit.len = q - ctx->limit.data;
    ctx->retry_after = retry;

    ngx_http_set_ctx(r->main, ctx, ngx_http_recsys_limit_module);

    return ctx;
}


static ngx_int_t
ngx_http_recsys_limit_reject(ngx_http_request_t *r,
    ngx_http_recsys_limit_loc_conf_t *llcf,
    ngx_http_recsys_limit_try_t *tries, ngx_http_recsys_limit_ctx_t *ctx)
{
    u_char                        *p, *body;
    size_t                         len;
    ngx_int_t                      rc;
    ngx_buf_t                     *b;
    ngx_str_t                     *cid, *name;
    ngx_uint_t                     i, status;
    ngx_chain_t                    out;
    ngx_http_err_page_t           *err_page;
    ngx_http_recsys_limit_t       *limits;
    ngx_http_recsys_limit_try_t   *t;
    ngx_http_recsys_limit_zone_t  *zone;
    ngx_http_core_loc_conf_t      *clcf;

    status = llcf->status_code;

    if (status == NGX_HTTP_CLOSE) {
        return status;
    }

    /* an error_page for the status takes over, as for any other error */

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->error_pages) {
        err_page = clcf->error_pages->elts;

        for (i = 0; i < clcf->error_pages->nelts; i++) {
            if (err_page[i].status == (ngx_int_t) status) {
                return status;
            }
        }
    }

    limits = llcf->limits.elts;

    for (i = 0; /* void */ ; i++) {
        if (tries[i].rejects && !limits[i].dry_run) {
            break;
        }
    }

    t = &tries[i];
    zone = limits[i].shm_zone->data;
    name = &zone->shm_zone->shm.name;

    cid = ngx_http_recsys_correlation_id(r);

    len = sizeof("{\"error\":{\"code\":\"rate_limited\",\"message\":\"\"}}\n")
          + sizeof("cost  exceeds the capacity  of rate limit zone ")
          + name->len + 2 * NGX_INT64_LEN;

    if (cid) {
        len += sizeof(",\"correlation_id\":\"\"")
               + cid->len + ngx_escape_json(NULL, cid->data, cid->len);
    }

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body, "{\"error\":{\"code\":\"rate_limited\",\"message\":\"",
                   sizeof("{\"error\":{\"code\":\"rate_limited\","
                          "\"message\":\"") - 1);

    if (t->state == NGX_HTTP_RECSYS_LIMIT_FULL) {
        p = ngx_sprintf(p, "rate limit zone %V is full, retry in %T s",
                        name, ctx->retry_after);

    } else if (t->res.never) {
        p = ngx_sprintf(p, "cost %uL exceeds the capacity %uL of "
                        "rate limit zone %V", t->cost,
                        recsys_gcra_quota(t->policy), name);

    } else {
        p = ngx_sprintf(p, "rate limit of zone %V exceeded, retry in %T s",
                        name, ctx->retry_after);
    }

    *p++ = '"';

    if (cid) {
        p = ngx_cpymem(p, ",\"correlation_id\":\"",
                       sizeof(",\"correlation_id\":\"") - 1);
        p = (u_char *) ngx_escape_json(p, cid->data, cid->len);
        *p++ = '"';
    }

    p = ngx_cpymem(p, "}}\n", 3);

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = p - body;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return NGX_DONE;
    }

    b->pos = body;
    b->last = p;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    ngx_http_finalize_request(r, ngx_http_output_filter(r, &out));

    return NGX_DONE;
}


static ngx_http_recsys_limit_ctx_t *
ngx_http_recsys_limit_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t           *cln;
    ngx_http_recsys_limit_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_recsys_limit_module);

    if (ctx) {
        return ctx;
    }

    /*
     * internal redirects and named locations zero r->ctx: the context is
     * found again through its pool cleanup, as the realip module does
     */

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_recsys_limit_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r, ctx, ngx_http_recsys_limit_module);
            return ctx;
        }
    }

    return NULL;
}


static void
ngx_http_recsys_limit_cleanup(void *data)
{
    /* nothing to free: the cleanup only marks the context */
}


/* the k the handler will answer with: its own parser reads it */

static uint64_t
ngx_http_recsys_limit_cost_k(ngx_http_request_t *r)
{
    ngx_http_recsys_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_module);

    return recsys_query_cost_k((char *) r->args.data, r->args.len,
                               rlcf->default_k, rlcf->max_k);
}


static recsys_gcra_policy_t *
ngx_http_recsys_limit_policy(ngx_http_recsys_limit_zone_t *zone,
    u_char *digest)
{
    ngx_int_t                      rc;
    ngx_uint_t                     lo, hi, mid;
    ngx_http_recsys_limit_tier_t  *tiers;

    tiers = zone->tiers.elts;
    lo = 0;
    hi = zone->tiers.nelts;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        rc = ngx_memcmp(digest, tiers[mid].digest, RECSYS_SHA256_LEN);

        if (rc == 0) {
            return &tiers[mid].policy;
        }

        if (rc < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return &zone->policy;
}


static ngx_http_recsys_limit_node_t *
ngx_http_recsys_limit_lookup(ngx_http_recsys_limit_zone_t *zone,
    u_char *digest)
{
    ngx_int_t                      rc;
    ngx_rbtree_key_t               hash;
    ngx_rbtree_node_t             *node, *sentinel;
    ngx_http_recsys_limit_node_t  *ln;

    ngx_memcpy(&hash, digest, sizeof(ngx_rbtree_key_t));

    node = zone->sh->rbtree.root;
    sentinel = zone->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        /* hash == node->key */

        ln = (ngx_http_recsys_limit_node_t *) &node->color;

        rc = ngx_memcmp(digest, ln->digest, RECSYS_SHA256_LEN);

        if (rc == 0) {
            ngx_queue_remove(&ln->queue);
            ngx_queue_insert_head(&zone->sh->queue, &ln->queue);
            return ln;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static ngx_http_recsys_limit_node_t *
ngx_http_recsys_limit_alloc(ngx_http_recsys_limit_zone_t *zone,
    u_char *digest, uint64_t now, uint64_t *wait)
{
    size_t                         size;
    ngx_rbtree_node_t             *node;
    ngx_http_recsys_limit_node_t  *ln;

    size = offsetof(ngx_rbtree_node_t, color)
           + sizeof(ngx_http_recsys_limit_node_t);

    ngx_http_recsys_limit_expire(zone, now, 0, wait);

    node = ngx_slab_alloc_locked(zone->shpool, size);

    if (node == NULL) {
        ngx_http_recsys_limit_expire(zone, now, 1, wait);

        node = ngx_slab_alloc_locked(zone->shpool, size);
        if (node == NULL) {
            return NULL;
        }
    }

    ngx_memcpy(&node->key, digest, sizeof(ngx_rbtree_key_t));

    ln = (ngx_http_recsys_limit_node_t *) &node->color;

    ln->tat = 0;
    ngx_memcpy(ln->digest, digest, RECSYS_SHA256_LEN);

    ngx_rbtree_insert(&zone->sh->rbtree, node);
    ngx_queue_insert_head(&zone->sh->queue, &ln->queue);

    zone->sh->entries++;

    return ln;
}


static void
ngx_http_recsys_limit_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t             **p;
    ngx_http_recsys_limit_node_t   *ln, *lnt;

    for ( ;; ) {

        if (node->key < temp->key) {

            p = &temp->left;

        } else if (node->key > temp->key) {

            p = &temp->right;

        } else { /* node->key == temp->key */

            ln = (ngx_http_recsys_limit_node_t *) &node->color;
            lnt = (ngx_http_recsys_limit_node_t *) &temp->color;

            p = (ngx_memcmp(ln->digest, lnt->digest, RECSYS_SHA256_LEN) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/*
 * Frees entries whose bucket is full again: they say no more than a
 * missing entry.  Entries with state are never evicted, since that would
 * reset their limit: a client cycling through keys could use it.  The
 * quick pass (deep == 0) looks at one or two entries at the LRU end, the
 * deep one at up to NGX_HTTP_RECSYS_LIMIT_SCAN, and reports in *wait how
 * long until the first of those it kept expires.
 */

static void
ngx_http_recsys_limit_expire(ngx_http_recsys_limit_zone_t *zone,
    uint64_t now, ngx_uint_t deep, uint64_t *wait)
{
    ngx_uint_t                     n, max;
    ngx_queue_t                   *q, *prev;
    ngx_rbtree_node_t             *node;
    ngx_http_recsys_limit_node_t  *ln;

    max = deep ? NGX_HTTP_RECSYS_LIMIT_SCAN : 2;
    *wait = 0;

    q = ngx_queue_last(&zone->sh->queue);

    for (n = 0; n < max && q != ngx_queue_sentinel(&zone->sh->queue); n++) {

        prev = ngx_queue_prev(q);
        ln = ngx_queue_data(q, ngx_http_recsys_limit_node_t, queue);

        if (!recsys_gcra_expired(ln->tat, now)) {

            if (!deep) {
                return;
            }

            if (*wait == 0 || ln->tat - now < *wait) {
                *wait = ln->tat - now;
            }

            q = prev;
            continue;
        }

        ngx_queue_remove(q);

        node = (ngx_rbtree_node_t *)
                   ((u_char *) ln - offsetof(ngx_rbtree_node_t, color));

        ngx_rbtree_delete(&zone->sh->rbtree, node);

        ngx_slab_free_locked(zone->shpool, node);

        zone->sh->entries--;

        q = prev;
    }
}


static ngx_int_t
ngx_http_recsys_limit_header_filter(ngx_http_request_t *r)
{
    u_char                       *p;
    ngx_str_t                     value;
    ngx_http_recsys_limit_ctx_t  *ctx;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_recsys_limit_get_ctx(r);

    if (ctx == NULL) {
        return ngx_http_next_header_filter(r);
    }

    if (ctx->policy.len
        && ngx_http_recsys_add_header(r, "RateLimit-Policy", &ctx->policy)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->limit.len
        && ngx_http_recsys_add_header(r, "RateLimit", &ctx->limit)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->retry_after) {
        p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        value.data = p;
        value.len = ngx_sprintf(p, "%T", ctx->retry_after) - p;

        if (ngx_http_recsys_add_header(r, "Retry-After", &value) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return ngx_http_next_header_filter(r);
}




static ngx_int_t
ngx_http_recsys_limit_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_recsys_limit_ctx_t  *ctx;

    ctx = ngx_http_recsys_limit_get_ctx(r->main);

    if (ctx == NULL || ctx->status == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->len = ngx_http_recsys_limit_status_names[ctx->status - 1].len;
    v->data = ngx_http_recsys_limit_status_names[ctx->status - 1].data;

    return NGX_OK;
}


ngx_uint_t
ngx_http_recsys_limit_zones(ngx_cycle_t *cycle,
    ngx_http_recsys_limit_zone_stats_t **zones)
{
    ngx_uint_t                           i;
    ngx_http_recsys_limit_zone_t       **zone;
    ngx_http_recsys_limit_zone_stats_t  *st;
    ngx_http_recsys_limit_main_conf_t   *lmcf;

    *zones = NULL;

    lmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_recsys_limit_module);

    if (lmcf == NULL || lmcf->stats == NULL) {
        return 0;
    }

    zone = lmcf->zones.elts;
    st = lmcf->stats;

    for (i = 0; i < lmcf->zones.nelts; i++) {
        st[i].name = zone[i]->shm_zone->shm.name;
        st[i].size = zone[i]->shm_zone->shm.size;

        if (zone[i]->sh == NULL) {
            continue;
        }

        st[i].passed = &zone[i]->sh->passed;
        st[i].rejected = &zone[i]->sh->rejected;
        st[i].dry_run = &zone[i]->sh->dry_run;
        st[i].full = &zone[i]->sh->full;
        st[i].entries = &zone[i]->sh->entries;

        /* a racy read of one word: good enough for a gauge */
        st[i].used = st[i].size - zone[i]->shpool->pfree * ngx_pagesize;
    }

    *zones = st;

    return lmcf->zones.nelts;
}


static ngx_int_t
ngx_http_recsys_limit_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_recsys_limit_zone_t  *ozone = data;

    size_t                         len;
    ngx_http_recsys_limit_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {
        if (zone->key.value.len != ozone->key.value.len
            || ngx_strncmp(zone->key.value.data, ozone->key.value.data,
                           zone->key.value.len)
               != 0)
        {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "recsys_limit_zone \"%V\" uses the \"%V\" key "
                          "while previously it used the \"%V\" key",
                          &shm_zone->shm.name, &zone->key.value,
                          &ozone->key.value);
            return NGX_ERROR;
        }

        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;

        return NGX_OK;
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;

        return NGX_OK;
    }

    zone->sh = ngx_slab_calloc(zone->shpool,
                               sizeof(ngx_http_recsys_limit_shctx_t));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    zone->shpool->data = zone->sh;

    ngx_rbtree_init(&zone->sh->rbtree, &zone->sh->sentinel,
                    ngx_http_recsys_limit_rbtree_insert_value);

    ngx_queue_init(&zone->sh->queue);

    len = sizeof(" in recsys_limit_zone \"\"") + shm_zone->shm.name.len;

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in recsys_limit_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is reported once a minute, not by every failed alloc */
    zone->shpool->log_nomem = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_recsys_limit_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;
    static ngx_str_t      name = ngx_string("recsys_limit_status");

    var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_recsys_limit_status_variable;

    return NGX_OK;
}


static void *
ngx_http_recsys_limit_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_recsys_limit_main_conf_t  *lmcf;

    lmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_recsys_limit_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&lmcf->zones, cf->pool, 2,
                       sizeof(ngx_http_recsys_limit_zone_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return lmcf;
}


static void *
ngx_http_recsys_limit_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_recsys_limit_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_recsys_limit_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->limits.elts = NULL;
     */

    conf->log_level = NGX_CONF_UNSET_UINT;
    conf->status_code = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_recsys_limit_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_recsys_limit_loc_conf_t *prev = parent;
    ngx_http_recsys_limit_loc_conf_t *conf = child;

    if (conf->limits.elts == NULL) {
        conf->limits = prev->limits;
    }

    ngx_conf_merge_uint_value(conf->log_level, prev->log_level, NGX_LOG_ERR);
    ngx_conf_merge_uint_value(conf->status_code, prev->status_code,
                              NGX_HTTP_TOO_MANY_REQUESTS);

    return NGX_CONF_OK;
}


static char *
ngx_http_recsys_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_recsys_limit_main_conf_t  *lmcf = conf;

    u_char                             *p;
    ssize_t                             size;
    ngx_int_t                           rc;
    ngx_str_t                          *value, name, s;
    ngx_uint_t                          i, rate;
    ngx_shm_zone_t                     *shm_zone;
    ngx_http_recsys_limit_zone_t       *zone, **zp;
    ngx_http_compile_complex_value_t    ccv;

    value = cf->args->elts;

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_recsys_limit_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = &zone->key;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_array_init(&zone->tiers, cf->pool, 1,
                       sizeof(ngx_http_recsys_limit_tier_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    size = 0;
    rate = 0;
    name.len = 0;
    zone->on_full_open = 1;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            name.data = value[i].data + 5;

            p = (u_char *) ngx_strchr(name.data, ':');

            if (p == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            name.len = p - name.data;

            /* the name goes into header fields and JSON as it is */

            for (p = name.data; p < name.data + name.len; p++) {
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                      || (*p >= '0' && *p <= '9')
                      || *p == '_' || *p == '-' || *p == '.'))
                {
                    break;
                }
            }

            if (name.len == 0 || p != name.data + name.len) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone name \"%V\": use letters, "
                                   "digits, \"_\", \"-\" and \".\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            s.data = name.data + name.len + 1;
            s.len = value[i].data + value[i].len - s.data;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "zone \"%V\" is too small", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        rc = ngx_http_recsys_limit_rate_burst(cf, &value[i], &zone->policy,
                                              &rate);
        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_OK) {
            continue;
        }

        if (ngx_strcmp(value[i].data, "on_full=open") == 0) {
            zone->on_full_open = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "on_full=closed") == 0) {
            zone->on_full_open = 0;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (!rate) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"rate\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_recsys_limit_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        zone = shm_zone->data;

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%V \"%V\" is already bound to key \"%V\"",
                           &cmd->name, &name, &zone->key.value);
        return NGX_CONF_ERROR;
    }

    zone->shm_zone = shm_zone;

    shm_zone->init = ngx_http_recsys_limit_init_zone;
    shm_zone->data = zone;

    zp = ngx_array_push(&lmcf->zones);
    if (zp == NULL) {
        return NGX_CONF_ERROR;
    }

    *zp = zone;

    return NGX_CONF_OK;
}


static char *
ngx_http_recsys_limit_tier(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_int_t                      rc;
    ngx_str_t                     *value, name;
    ngx_uint_t                     i, key, rate;
    ngx_http_recsys_limit_tier_t  *tier, *tiers;
    ngx_http_recsys_limit_zone_t  *zone;

    value = cf->args->elts;

    zone = NULL;
    tier = NULL;
    key = 0;
    rate = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            name.data = value[i].data + 5;
            name.len = value[i].len - 5;

            zone = ngx_http_recsys_limit_find_zone(cf, cmd, &name);
            if (zone == NULL) {
                return NGX_CONF_ERROR;
            }

            tier = ngx_array_push(&zone->tiers);
            if (tier == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_memzero(tier, sizeof(ngx_http_recsys_limit_tier_t));

            break;
        }
    }

    if (zone == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            continue;
        }

        if (ngx_strncmp(value[i].data, "key_sha256=", 11) == 0) {

            if (recsys_sha256_from_hex((char *) value[i].data + 11,
                                       value[i].len - 11, tier->digest)
                != 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid key_sha256 \"%V\": 64 hex "
                                   "digits expected", &value[i]);
                return NGX_CONF_ERROR;
            }

            key = 1;
            continue;
        }

        rc = ngx_http_recsys_limit_rate_burst(cf, &value[i], &tier->policy,
                                              &rate);
        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_OK) {
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (!key || !rate) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"%s\" parameter", &cmd->name,
                           key ? "rate" : "key_sha256");
        return NGX_CONF_ERROR;
    }

    tiers = zone->tiers.elts;

    for (i = 0; i < zone->tiers.nelts - 1; i++) {
        if (ngx_memcmp(tiers[i].digest, tier->digest, RECSYS_SHA256_LEN)
            == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate key_sha256 in zone \"%V\"",
                               &zone->shm_zone->shm.name);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * rate= and burst=, shared by recsys_limit_zone and recsys_limit_tier:
 * NGX_DECLINED when the parameter is neither
 */

static ngx_int_t
ngx_http_recsys_limit_rate_burst(ngx_conf_t *cf, ngx_str_t *value,
    recsys_gcra_policy_t *policy, ngx_uint_t *rate)
{
    ngx_int_t  burst;

    if (ngx_strncmp(value->data, "rate=", 5) == 0) {

        if (recsys_gcra_parse_rate((char *) value->data + 5, value->len - 5,
                                   policy)
            != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid rate \"%V\"", value);
            return NGX_ERROR;
        }

        *rate = 1;
        return NGX_OK;
    }

    if (ngx_strncmp(value->data, "burst=", 6) == 0) {

        burst = ngx_atoi(value->data + 6, value->len - 6);

        if (burst == NGX_ERROR || burst > RECSYS_GCRA_MAX_BURST) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid burst \"%V\"", value);
            return NGX_ERROR;
        }

        policy->burst = burst;
        return NGX_OK;
    }

    return NGX_DECLINED;
}


static char *
ngx_http_recsys_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_recsys_limit_loc_conf_t  *llcf = conf;

    ngx_int_t                      cost;
    ngx_str_t                     *value, s;
    ngx_uint_t                     i, dry_run;
    ngx_http_recsys_limit_t       *limit, *limits;
    ngx_http_recsys_limit_zone_t  *zone;

    value = cf->args->elts;

    zone = NULL;
    cost = 1;
    dry_run = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            s.len = value[i].len - 5;
            s.data = value[i].data + 5;

            zone = ngx_http_recsys_limit_find_zone(cf, cmd, &s);
            if (zone == NULL) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "cost=k") == 0) {
            cost = NGX_HTTP_RECSYS_LIMIT_COST_K;
            continue;
        }

        if (ngx_strncmp(value[i].data, "cost=", 5) == 0) {

            cost = ngx_atoi(value[i].data + 5, value[i].len - 5);

            if (cost <= 0 || cost > RECSYS_GCRA_MAX_COST) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid cost \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "dry_run") == 0) {
            dry_run = 1;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (zone == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (cost != NGX_HTTP_RECSYS_LIMIT_COST_K
        && (uint64_t) cost > recsys_gcra_quota(&zone->policy))
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "cost=%i is more than the burst + 1 = %uL "
                           "requests of zone \"%V\": keys without a tier "
                           "are always rejected", cost,
                           recsys_gcra_quota(&zone->policy),
                           &zone->shm_zone->shm.name);
    }

    limits = llcf->limits.elts;

    if (limits == NULL) {
        if (ngx_array_init(&llcf->limits, cf->pool, 1,
                           sizeof(ngx_http_recsys_limit_t))
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    for (i = 0; i < llcf->limits.nelts; i++) {
        if (zone->shm_zone == limits[i].shm_zone) {
            return "is duplicate";
        }
    }

    limit = ngx_array_push(&llcf->limits);
    if (limit == NULL) {
        return NGX_CONF_ERROR;
    }

    limit->shm_zone = zone->shm_zone;
    limit->cost = cost;
    limit->dry_run = dry_run;

    return NGX_CONF_OK;
}


static ngx_http_recsys_limit_zone_t *
ngx_http_recsys_limit_find_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *name)
{
    ngx_shm_zone_t  *shm_zone;

    shm_zone = ngx_shared_memory_add(cf, name, 0,
                                     &ngx_http_recsys_limit_module);
    if (shm_zone == NULL) {
        return NULL;
    }

    if (shm_zone->data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown recsys_limit_zone \"%V\"", name);
        return NULL;
    }

    return shm_zone->data;
}


static int ngx_libc_cdecl
ngx_http_recsys_limit_cmp_tiers(const void *one, const void *two)
{
    const ngx_http_recsys_limit_tier_t  *a = one;
    const ngx_http_recsys_limit_tier_t  *b = two;

    return ngx_memcmp(a->digest, b->digest, RECSYS_SHA256_LEN);
}


static ngx_int_t
ngx_http_recsys_limit_init(ngx_conf_t *cf)
{
    ngx_uint_t                          i;
    ngx_http_handler_pt                *h;
    ngx_http_core_main_conf_t          *cmcf;
    ngx_http_recsys_limit_zone_t      **zone;
    ngx_http_recsys_limit_main_conf_t  *lmcf;

    lmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_recsys_limit_module);

    if (lmcf->zones.nelts == 0) {
        return NGX_OK;
    }

    zone = lmcf->zones.elts;

    for (i = 0; i < lmcf->zones.nelts; i++) {
        ngx_qsort(zone[i]->tiers.elts, zone[i]->tiers.nelts,
                  sizeof(ngx_http_recsys_limit_tier_t),
                  ngx_http_recsys_limit_cmp_tiers);
    }

    lmcf->stats = ngx_pcalloc(cf->pool, lmcf->zones.nelts
                              * sizeof(ngx_http_recsys_limit_zone_stats_t));
    if (lmcf->stats == NULL) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_recsys_limit_handler;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_recsys_limit_header_filter;

    return NGX_OK;
}
