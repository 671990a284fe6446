
/*
 * ngx_http_recsys_events_module: what the admin status and the metrics
 * read from the events API, its spool and its shipper.
 */

#ifndef _NGX_HTTP_RECSYS_EVENTS_H_INCLUDED_
#define _NGX_HTTP_RECSYS_EVENTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_recsys_module.h"


/* what ngx_http_recsys_events_status() writes at most */
#define NGX_HTTP_RECSYS_EVENTS_STATUS_LEN                                    \
    (sizeof(",\"events\":{\"received\":,\"rejected\":,\"spooled\":,"         \
            "\"shipped\":,\"lost\":,\"spool_bytes\":,\"ready_segments\":,"   \
            "\"sync\":\"interval\",\"store\":\"postgresql\","                \
            "\"shipping\":\"unknown\",\"ship_failures\":}")                  \
     + 8 * NGX_INT64_LEN + sizeof(",\"last_ship\":\"1970-01-01T00:00:00Z\""))


/* the counters of one catalog, all processes together */
typedef struct {
    uint64_t                    received;   /* events in parsed requests */
    uint64_t                    rejected;   /* of those, in refused ones */
    uint64_t                    spooled;    /* answered 202 */
    uint64_t                    shipped;    /* committed to the store */
    uint64_t                    lost;       /* spooled lines never stored */
    uint64_t                    spool_bytes;
    uint64_t                    ready;      /* sealed segments waiting */
    uint64_t                    ship_failures;
    time_t                      last_ship;  /* last commit, 0: never */
    ngx_uint_t                  failing;    /* the last pass failed */
    ngx_uint_t                  passes;     /* 0: no pass yet */
} ngx_http_recsys_events_stats_t;


/* NGX_DECLINED when the catalog takes no events (or without the zone) */
ngx_int_t ngx_http_recsys_events_stats(ngx_http_recsys_catalog_t *catalog,
    ngx_http_recsys_events_stats_t *st);

/* ,"events":{...} of /admin/index/status; nothing without events */
u_char *ngx_http_recsys_events_status(u_char *p,
    ngx_http_recsys_catalog_t *catalog);


#endif /* _NGX_HTTP_RECSYS_EVENTS_H_INCLUDED_ */
