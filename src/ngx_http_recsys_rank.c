
/*
 * Ranking profiles in requests: which profile answers a request, and the
 * "explain" object of each item of a ranked answer.  The arithmetic is
 * recsys_rank.c's and recsys_recommend.c's.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_recsys_module.h"


ngx_int_t
ngx_http_recsys_profile_select(ngx_http_request_t *r,
    ngx_http_recsys_catalog_t *catalog, recsys_query_t *q,
    const recsys_profile_t **profile)
{
    int64_t                      i;
    ngx_str_t                    v;
    recsys_ranking_conf_t       *rc;
    ngx_http_recsys_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_recsys_module);
    rc = &catalog->conf->ranking;
    *profile = NULL;

    if (q->profile.len) {
        i = recsys_ranking_find(rc, q->profile.data, q->profile.len);
        if (i < 0) {
            return NGX_DECLINED;
        }

        *profile = &rc->profiles[i];
        return NGX_OK;
    }

    if (rlcf->profile) {
        if (ngx_http_complex_value(r, rlcf->profile, &v) != NGX_OK) {
            return NGX_ERROR;
        }

        /* "" (split_clients' "*" bucket, say) leaves the default */

        if (v.len) {
            i = recsys_ranking_find(rc, (char *) v.data, v.len);

            if (i >= 0) {
                *profile = &rc->profiles[i];
                return NGX_OK;
            }

            /* the operator's mistake, not the client's: serve, and say */
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "recsys catalog \"%V\": \"recsys_profile\" gave "
                          "\"%V\", which is not in \"ranking.profiles\"; "
                          "the default answers", &catalog->name, &v);
        }
    }

    if (rc->dflt >= 0) {
        *profile = &rc->profiles[rc->dflt];
    }

    return NGX_OK;
}
