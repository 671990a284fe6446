
/*
 * ngx_http_recsys_metrics_module: what other parts of the module read from
 * it or report to it.
 */

#ifndef _NGX_HTTP_RECSYS_METRICS_H_INCLUDED_
#define _NGX_HTTP_RECSYS_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_recsys_module.h"


#ifndef NGX_HTTP_RECSYS_VERSION
#define NGX_HTTP_RECSYS_VERSION        "0.1.0"
#endif

/* FAISS's version macros live in a C++ header: the build may pass it */
#ifndef NGX_HTTP_RECSYS_FAISS_VERSION
#define NGX_HTTP_RECSYS_FAISS_VERSION  "1.7.3"
#endif


/* seconds since the manifest's built_at, 0 if in the future, -1 unknown */
time_t ngx_http_recsys_metrics_index_age(ngx_http_recsys_gen_t *g);

/* bytes of the generation's files, as the manifest lists them */
off_t ngx_http_recsys_metrics_index_size(ngx_http_recsys_gen_t *g);

/*
 * Counts one rebuild of a catalog (for the helper process); a no-op when
 * recsys_metrics is not used.
 */
void ngx_http_recsys_metrics_rebuild(ngx_cycle_t *cycle, ngx_str_t *catalog,
    ngx_uint_t success, ngx_msec_t duration);


#endif /* _NGX_HTTP_RECSYS_METRICS_H_INCLUDED_ */
