/*
 * Time helpers shared by the module, the builder and the tools: the
 * monotonic clock and the one ISO 8601 parser (manifests' built_at,
 * events' timestamps).  Pure C: no nginx header.
 */

#ifndef _RECSYS_TIME_H_INCLUDED_
#define _RECSYS_TIME_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* CLOCK_MONOTONIC in microseconds, and in seconds */
uint64_t recsys_now_us(void);
double recsys_now_seconds(void);

/*
 * "YYYY-MM-DDTHH:MM:SS[.fraction]Z", UTC, the whole of s[0..len): the
 * seconds since the epoch in *t (the fraction is dropped), 0; -1 for
 * anything else, including a date that does not exist (February 30) and
 * years before 1970.  A leap second (:60) counts as the next second.
 */
int recsys_time_parse(const char *s, size_t len, int64_t *t);


#endif /* _RECSYS_TIME_H_INCLUDED_ */
