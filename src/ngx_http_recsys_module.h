/*
 * ngx_http_recsys_module: types shared by the module's nginx-facing files.
 */

#ifndef _NGX_HTTP_RECSYS_MODULE_H_INCLUDED_
#define _NGX_HTTP_RECSYS_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "recsys_generation.h"
#include "recsys_layout.h"
#include "recsys_catalog.h"
#include "recsys_request.h"
#include "ngx_http_recsys_response.h"


/* the content endpoints, as "recsys <endpoint>" names them */
typedef enum {
    NGX_HTTP_RECSYS_NO_ENDPOINT = 0,
    NGX_HTTP_RECSYS_SIMILAR,
    NGX_HTTP_RECSYS_RECOMMENDATIONS,
    NGX_HTTP_RECSYS_SEARCH,
    NGX_HTTP_RECSYS_POPULAR,
    NGX_HTTP_RECSYS_ENDPOINTS           /* the number of values */
} ngx_http_recsys_endpoint_e;


/* what produced an answer's items */
typedef enum {
    NGX_HTTP_RECSYS_NO_STRATEGY = 0,    /* not answered */
    NGX_HTTP_RECSYS_STRATEGY_SIMILAR,
    NGX_HTTP_RECSYS_STRATEGY_VECTOR,
    NGX_HTTP_RECSYS_STRATEGY_HISTORY,
    NGX_HTTP_RECSYS_STRATEGY_POPULAR,
    NGX_HTTP_RECSYS_STRATEGY_USER,
    NGX_HTTP_RECSYS_STRATEGIES          /* the number of values */
} ngx_http_recsys_strategy_e;


/* a generation mapped by this process; freed when refs drops to 0 */
typedef struct {
    recsys_generation_t         gen;
    ngx_uint_t                  refs;
    ngx_str_t                   target;
} ngx_http_recsys_gen_t;


typedef struct {
    ngx_str_t                   name;
    ngx_str_t                   file;
    recsys_catalog_t           *conf;
    u_char                     *conf_file;  /* where recsys_catalog is */
    ngx_uint_t                  conf_line;

    /* per process: the generation new requests get */
    ngx_http_recsys_gen_t      *current;
    ngx_msec_t                  checked;
    u_char                      failed[NGX_MAX_PATH];
    time_t                      failed_at;
    ngx_uint_t                  missing_logged;

    /* the builder's publish counter in shared memory, NULL: none */
    ngx_atomic_t               *published;
    ngx_atomic_uint_t           seen;

    /* per process: the next generation, opened by a thread of the pool */
#if (NGX_THREADS)
    ngx_thread_pool_t          *thread_pool;
    ngx_thread_task_t          *task;
#endif
    ngx_uint_t                  opening;
    ngx_event_t                 watch;      /* reads "current" meanwhile */
} ngx_http_recsys_catalog_t;


typedef struct {
    ngx_array_t                 catalogs;   /* ngx_http_recsys_catalog_t * */
    ngx_str_t                   thread_pool; /* "recsys_thread_pool" */
#if (NGX_THREADS)
    ngx_thread_pool_t          *pool;       /* NULL: opened in the loop */
#endif
} ngx_http_recsys_main_conf_t;


typedef struct {
    ngx_uint_t                  endpoint;   /* ngx_http_recsys_endpoint_e */
    ngx_http_recsys_catalog_t  *catalog;
    ngx_http_complex_value_t   *item_id;
    ngx_http_complex_value_t   *profile;    /* recsys_profile */
    size_t                      max_body_size;
    ngx_uint_t                  default_k;
    ngx_uint_t                  max_k;
    ngx_uint_t                  max_batch;  /* queries of a batch */
    time_t                      retry_after;
} ngx_http_recsys_loc_conf_t;


/*
 * What a recsys content handler did for a request, for the timing log and
 * the metrics (LOG phase).  Stage times are in microseconds: parse (query
 * string and body), rank (exclusions, category, history averaging),
 * retrieve (the search call: precomputed neighbors, FAISS or exact scan,
 * filters, ordering),
 * serialize (the JSON answer).
 */
typedef struct {
    ngx_uint_t                  endpoint;   /* ngx_http_recsys_endpoint_e */
    ngx_uint_t                  strategy;   /* ngx_http_recsys_strategy_e */
    ngx_uint_t                  fallback;   /* 1: a fallback level
                                               answered */
    ngx_int_t                   level;      /* RECSYS_LEVEL_* that answered
                                               recommendations, else -1 */
    ngx_uint_t                  k;
    ngx_uint_t                  returned;
    uint64_t                    generation;
    uint64_t                    parse_us;
    uint64_t                    rank_us;
    uint64_t                    retrieve_us;
    uint64_t                    serialize_us;
    ngx_str_t                   catalog;
    ngx_uint_t                  precomputed; /* neighbors.bin answered */
    ngx_str_t                   profile;    /* the ranking profile, or "" */
    ngx_uint_t                  profile_no; /* its index + 1, 0: plain */
} ngx_http_recsys_stats_t;


/* NULL when the request was not answered by a recsys content handler */
ngx_http_recsys_stats_t *ngx_http_recsys_get_stats(ngx_http_request_t *r);

/*
 * Microseconds since the request's POST_READ phase, for a module that
 * called ngx_http_recsys_request_stamp() in its postconfiguration (else
 * since its start, to the millisecond).
 */
uint64_t ngx_http_recsys_request_us(ngx_http_request_t *r);
ngx_int_t ngx_http_recsys_request_stamp(ngx_conf_t *cf);

/* the request's correlation id, or NULL when the feature is off */
ngx_str_t *ngx_http_recsys_correlation_id(ngx_http_request_t *r);


char *ngx_http_recsys_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_recsys_index_init_conf(ngx_conf_t *cf,
    ngx_http_recsys_main_conf_t *rmcf);
void ngx_http_recsys_index_init_process(ngx_cycle_t *cycle,
    ngx_http_recsys_main_conf_t *rmcf);
ngx_http_recsys_gen_t *ngx_http_recsys_index_acquire(
    ngx_http_recsys_catalog_t *catalog, ngx_log_t *log);
void ngx_http_recsys_index_release(ngx_http_recsys_gen_t *g);
void ngx_http_recsys_index_close(ngx_http_recsys_catalog_t *catalog);

ngx_int_t ngx_http_recsys_handler(ngx_http_request_t *r);

/*
 * The profile a request is ranked with (ngx_http_recsys_rank.c): its own
 * "profile", else recsys_profile's value, else ranking.default; NULL for
 * plain.  NGX_DECLINED: the request named a profile the catalog lacks.
 */
ngx_int_t ngx_http_recsys_profile_select(ngx_http_request_t *r,
    ngx_http_recsys_catalog_t *catalog, recsys_query_t *q,
    const recsys_profile_t **profile);

/* the catalog "recsys_catalog" declared with that name, or NULL */
ngx_http_recsys_catalog_t *ngx_http_recsys_find_catalog(
    ngx_http_recsys_main_conf_t *rmcf, ngx_str_t *name);


/* names by value, for directives, logs and labels; [0] is a null string */
extern ngx_str_t  ngx_http_recsys_endpoint_names[NGX_HTTP_RECSYS_ENDPOINTS];
extern ngx_str_t  ngx_http_recsys_strategy_names[NGX_HTTP_RECSYS_STRATEGIES];


extern ngx_module_t  ngx_http_recsys_module;
extern ngx_module_t  ngx_http_recsys_correlation_module;
extern ngx_module_t  ngx_http_recsys_limit_module;
extern ngx_module_t  ngx_http_recsys_timing_module;
extern ngx_module_t  ngx_http_recsys_metrics_module;
extern ngx_module_t  ngx_http_recsys_health_module;
extern ngx_module_t  ngx_http_recsys_helper_module;
extern ngx_module_t  ngx_http_recsys_events_module;


#endif /* _NGX_HTTP_RECSYS_MODULE_H_INCLUDED_ */
