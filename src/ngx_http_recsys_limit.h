/*
 * ngx_http_recsys_limit_module: what the metrics and health locations read
 * about the rate-limit zones.
 */

#ifndef _NGX_HTTP_RECSYS_LIMIT_H_INCLUDED_
#define _NGX_HTTP_RECSYS_LIMIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * One recsys_limit_zone.  The counters live in the zone's shared memory:
 * they count across all workers, survive reloads that keep the zone, and
 * are read with plain loads (no lock).  A request counts once per zone
 * that applied to it:
 *
 *   passed    the zone let the request through and no zone rejected it
 *   rejected  the zone rejected it (recsys_limit without dry_run)
 *   dry_run   the zone would have rejected it (recsys_limit ... dry_run)
 *   full      the zone had no room for a new key (see on_full=)
 *   entries   keys tracked right now
 *
 * used and size are bytes of the shared memory zone; used counts the slab
 * pages in use, its bookkeeping included.  The pointers are NULL until the
 * zone is mapped (in the master before the first cycle completes).
 */

typedef struct {
    ngx_str_t                   name;
    ngx_atomic_t               *passed;
    ngx_atomic_t               *rejected;
    ngx_atomic_t               *dry_run;
    ngx_atomic_t               *full;
    ngx_atomic_t               *entries;
    size_t                      used;
    size_t                      size;
} ngx_http_recsys_limit_zone_stats_t;


/*
 * Sets *zones to an array of the cycle's zones, in the order of their
 * recsys_limit_zone directives, and returns how many there are (0 and
 * NULL without zones).  The array belongs to the cycle's configuration;
 * each call refreshes used.  Cheap: no lock, no allocation.
 */
ngx_uint_t ngx_http_recsys_limit_zones(ngx_cycle_t *cycle,
    ngx_http_recsys_limit_zone_stats_t **zones);


#endif /* _NGX_HTTP_RECSYS_LIMIT_H_INCLUDED_ */
