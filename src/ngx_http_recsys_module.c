
/*
 * ngx_http_recsys_module: recommendations and vector search served from a
 * memory-mapped FAISS index.  This file holds the directives, the
 * configuration and the process hooks; the handlers and the index mapping
 * live in their own files.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <omp.h>

#include "ngx_http_recsys_module.h"


static void *ngx_http_recsys_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_recsys_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_recsys_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_recsys_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_recsys_catalog(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_recsys(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_recsys_error(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_http_recsys_catalog_cleanup(void *data);
static ngx_int_t ngx_http_recsys_init_process(ngx_cycle_t *cycle);
static void ngx_http_recsys_exit_process(ngx_cycle_t *cycle);


static ngx_conf_num_bounds_t  ngx_http_recsys_k_bounds = {
    ngx_conf_check_num_bounds, 1, 100000
};

/* the queries of one batch body */
static ngx_conf_num_bounds_t  ngx_http_recsys_batch_bounds = {
    ngx_conf_check_num_bounds, 1, 10000
};


static ngx_command_t  ngx_http_recsys_commands[] = {

    { ngx_string("recsys_catalog"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_recsys_catalog,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("recsys_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_recsys_thread_pool,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("recsys"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_recsys,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("recsys_error"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_recsys_error,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("recsys_item_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_recsys_loc_conf_t, item_id),
      NULL },

    { ngx_string("recsys_profile"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_recsys_loc_conf_t, profile),
      NULL },

    { ngx_string("recsys_max_body_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_recsys_loc_conf_t, max_body_size),
      NULL },

    { ngx_string("recsys_default_k"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_recsys_loc_conf_t, default_k),
      &ngx_http_recsys_k_bounds },

    { ngx_string("recsys_max_k"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_recsys_loc_conf_t, max_k),
      &ngx_http_recsys_k_bounds },

    { ngx_string("recsys_max_batch"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_recsys_loc_conf_t, max_batch),
      &ngx_http_recsys_batch_bounds },

    { ngx_string("recsys_retry_after"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_recsys_loc_conf_t, retry_after),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_recsys_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_recsys_create_main_conf,      /* create main configuration */
    ngx_http_recsys_init_main_conf,        /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_recsys_create_loc_conf,       /* create location configuration */
    ngx_http_recsys_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_recsys_module = {
    NGX_MODULE_V1,
    &ngx_http_recsys_module_ctx,           /* module context */
    ngx_http_recsys_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_recsys_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_recsys_exit_process,          /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


ngx_str_t  ngx_http_recsys_endpoint_names[NGX_HTTP_RECSYS_ENDPOINTS] = {
    ngx_null_string,
    ngx_string("similar"),
    ngx_string("recommendations"),
    ngx_string("search"),
    ngx_string("popular")
};


ngx_str_t  ngx_http_recsys_strategy_names[NGX_HTTP_RECSYS_STRATEGIES] = {
    ngx_null_string,
    ngx_string("similar"),
    ngx_string("vector"),
    ngx_string("history"),
    ngx_string("popular"),
    ngx_string("user")
};


static ngx_int_t
ngx_http_recsys_init_process(ngx_cycle_t *cycle)
{
    ngx_http_recsys_main_conf_t  *rmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    rmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_recsys_module);
    if (rmcf == NULL || rmcf->catalogs.nelts == 0) {
        return NGX_OK;
    }

    /* workers are single-threaded event loops: one query, one thread */
    omp_set_num_threads(1);

    ngx_http_recsys_index_init_process(cycle, rmcf);

    return NGX_OK;
}


static void
ngx_http_recsys_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    ngx_http_recsys_catalog_t   **catalog;
    ngx_http_recsys_main_conf_t  *rmcf;

    rmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_recsys_module);
    if (rmcf == NULL) {
        return;
    }

    catalog = rmcf->catalogs.elts;

    for (i = 0; i < rmcf->catalogs.nelts; i++) {
        ngx_http_recsys_index_close(catalog[i]);
    }
}


static void *
ngx_http_recsys_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_recsys_main_conf_t  *rmcf;

    rmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_recsys_main_conf_t));
    if (rmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&rmcf->catalogs, cf->pool, 2,
                       sizeof(ngx_http_recsys_catalog_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return rmcf;
}


static char *
ngx_http_recsys_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_recsys_main_conf_t *rmcf = conf;

    return ngx_http_recsys_index_init_conf(cf, rmcf);
}


static void *
ngx_http_recsys_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_recsys_loc_conf_t  *rlcf;

    rlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_recsys_loc_conf_t));
    if (rlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     rlcf->endpoint = 0;
     *     rlcf->catalog = NULL;
     *     rlcf->item_id = NULL;
     *     rlcf->profile = NULL;
     */

    rlcf->max_body_size = NGX_CONF_UNSET_SIZE;
    rlcf->default_k = NGX_CONF_UNSET_UINT;
    rlcf->max_k = NGX_CONF_UNSET_UINT;
    rlcf->max_batch = NGX_CONF_UNSET_UINT;
    rlcf->retry_after = NGX_CONF_UNSET;

    return rlcf;
}


static char *
ngx_http_recsys_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_recsys_loc_conf_t *prev = parent;
    ngx_http_recsys_loc_conf_t *conf = child;

    if (conf->item_id == NULL) {
        conf->item_id = prev->item_id;
    }

    if (conf->profile == NULL) {
        conf->profile = prev->profile;
    }

    /* a literal profile is checked now; a variable's value per request */
    if (conf->profile && conf->profile->lengths == NULL && conf->catalog
        && conf->profile->value.len
        && recsys_ranking_find(&conf->catalog->conf->ranking,
                               (char *) conf->profile->value.data,
                               conf->profile->value.len)
           < 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"recsys_profile\" \"%V\": catalog \"%V\" "
                           "has no such profile in \"ranking.profiles\"",
                           &conf->profile->value, &conf->catalog->name);
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_size_value(conf->max_body_size, prev->max_body_size,
                              64 * 1024);
    ngx_conf_merge_uint_value(conf->default_k, prev->default_k, 10);
    ngx_conf_merge_uint_value(conf->max_k, prev->max_k, 1000);
    ngx_conf_merge_uint_value(conf->max_batch, prev->max_batch, 64);
    ngx_conf_merge_sec_value(conf->retry_after, prev->retry_after, 5);

    if (conf->default_k > conf->max_k) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"recsys_default_k\" %ui is greater than "
                           "\"recsys_max_k\" %ui",
                           conf->default_k, conf->max_k);
        return NGX_CONF_ERROR;
    }

    if (conf->retry_after < 1) {
        conf->retry_after = 1;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_recsys_catalog(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_recsys_main_conf_t *rmcf = conf;

    char                         err[RECSYS_CATALOG_ERRLEN];
    ngx_str_t                   *value, file;
    ngx_pool_cleanup_t          *cln;
    ngx_http_recsys_catalog_t   *catalog, **slot;

    value = cf->args->elts;

    if (ngx_http_recsys_find_catalog(rmcf, &value[1]) != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate recsys catalog \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    file = value[2];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    catalog = ngx_pcalloc(cf->pool, sizeof(ngx_http_recsys_catalog_t));
    if (catalog == NULL) {
        return NGX_CONF_ERROR;
    }

    catalog->name = value[1];
    catalog->file = file;
    catalog->conf_file = cf->conf_file->file.name.data;
    catalog->conf_line = cf->conf_file->line;

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    /* parses and validates only: nothing heavy runs under "nginx -t" */
    catalog->conf = recsys_catalog_load((char *) file.data, err, sizeof(err));
    if (catalog->conf == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "recsys catalog \"%V\": %s", &value[1], err);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_recsys_catalog_cleanup;
    cln->data = catalog->conf;

    slot = ngx_array_push(&rmcf->catalogs);
    if (slot == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = catalog;

    return NGX_CONF_OK;
}


static char *
ngx_http_recsys(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_recsys_loc_conf_t *rlcf = conf;

    ngx_str_t                    *value;
    ngx_uint_t                    i;
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_recsys_main_conf_t  *rmcf;

    if (rlcf->endpoint) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < NGX_HTTP_RECSYS_ENDPOINTS; i++) {
        if (value[1].len == ngx_http_recsys_endpoint_names[i].len
            && ngx_strncmp(value[1].data,
                           ngx_http_recsys_endpoint_names[i].data,
                           value[1].len)
               == 0)
        {
            rlcf->endpoint = i;
            break;
        }
    }

    if (rlcf->endpoint == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid endpoint \"%V\", expected similar, "
                           "recommendations, search or popular", &value[1]);
        return NGX_CONF_ERROR;
    }

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_recsys_module);

    if (cf->args->nelts == 3) {
        rlcf->catalog = ngx_http_recsys_find_catalog(rmcf, &value[2]);
        if (rlcf->catalog == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown recsys catalog \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

    } else if (rmcf->catalogs.nelts == 1) {
        rlcf->catalog = *(ngx_http_recsys_catalog_t **) rmcf->catalogs.elts;

    } else if (rmcf->catalogs.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"recsys %V\" is used but no \"recsys_catalog\" "
                           "is declared before it", &value[1]);
        return NGX_CONF_ERROR;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"recsys %V\" needs a catalog name: %ui catalogs "
                           "are declared", &value[1], rmcf->catalogs.nelts);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_recsys_handler;

    return NGX_CONF_OK;
}


/* answers, in JSON, the errors "error_page ... /uri" sends here */

static char *
ngx_http_recsys_error(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_recsys_error_handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_recsys_error_handler;

    return NGX_CONF_OK;
}


ngx_http_recsys_catalog_t *
ngx_http_recsys_find_catalog(ngx_http_recsys_main_conf_t *rmcf,
    ngx_str_t *name)
{
    ngx_uint_t                   i;
    ngx_http_recsys_catalog_t  **catalog;

    catalog = rmcf->catalogs.elts;

    for (i = 0; i < rmcf->catalogs.nelts; i++) {
        if (catalog[i]->name.len == name->len
            && ngx_strncmp(catalog[i]->name.data, name->data, name->len) == 0)
        {
            return catalog[i];
        }
    }

    return NULL;
}


static void
ngx_http_recsys_catalog_cleanup(void *data)
{
    recsys_catalog_free(data);
}
