/*
 * Rate limiting math: the generic cell rate algorithm (GCRA).  A key's whole
 * state is its theoretical arrival time (TAT), in microseconds on the
 * caller's clock.  Pure C: no nginx header, no clock, no locking.
 *
 * With the emission interval T = 1 / rate and the tolerance tau = burst * T,
 * a request of cost c arriving at now is allowed when
 *
 *     max(tat, now) + c * T - now <= tau + T
 *
 * and then moves the TAT to max(tat, now) + c * T.  A full bucket holds
 * burst + 1 requests and refills at the rate.
 */

#ifndef _RECSYS_GCRA_H_INCLUDED_
#define _RECSYS_GCRA_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define RECSYS_GCRA_SECOND     1000000    /* the clock's unit: microseconds */
#define RECSYS_GCRA_MAX_RATE   1000000    /* requests per period */
#define RECSYS_GCRA_MAX_BURST  1000000
#define RECSYS_GCRA_MAX_COST   100000


typedef struct {
    uint64_t            rate;       /* requests ... */
    uint64_t            period;     /* ... per period seconds: 1 or 60 */
    uint64_t            interval;   /* T in microseconds, >= 1 */
    uint64_t            burst;
} recsys_gcra_policy_t;


typedef struct {
    int                 allowed;
    int                 never;        /* cost > burst + 1: cannot pass */
    uint64_t            tat;          /* to store; unchanged if rejected */
    uint64_t            remaining;    /* requests left right now */
    uint64_t            reset;        /* seconds until the bucket is full */
    uint64_t            retry_after;  /* rejected: seconds, >= 1; else 0 */
    uint64_t            excess;       /* rejected: over capacity in
                                         1/1000 requests, rounded up */
} recsys_gcra_result_t;


/*
 * Parses "<n>r/s" or "<n>r/m" (n in 1..RECSYS_GCRA_MAX_RATE) into rate,
 * period and interval; burst is left alone.  Returns 0, or -1 when the
 * text is not a rate.
 */
int recsys_gcra_parse_rate(const char *s, size_t len,
    recsys_gcra_policy_t *p);

/* sets rate, period (1 or 60) and the interval rounded to the nearest us */
int recsys_gcra_set_rate(recsys_gcra_policy_t *p, uint64_t rate,
    uint64_t period);

/* decides a request of the given cost (>= 1) arriving at now */
void recsys_gcra_check(const recsys_gcra_policy_t *p, uint64_t now,
    uint64_t tat, uint64_t cost, recsys_gcra_result_t *res);

/* the state as it stands, with no request: remaining and reset only */
void recsys_gcra_peek(const recsys_gcra_policy_t *p, uint64_t now,
    uint64_t tat, recsys_gcra_result_t *res);

/* takes back an allowed request of the given cost */
uint64_t recsys_gcra_undo(const recsys_gcra_policy_t *p, uint64_t tat,
    uint64_t cost);

/* a TAT in the past says no more than a missing entry: it can go */
int recsys_gcra_expired(uint64_t tat, uint64_t now);

/*
 * The policy as advertised: a quota of burst + 1 requests per window of
 * ceil((burst + 1) * T) seconds, which a client can follow without ever
 * being rejected.
 */
uint64_t recsys_gcra_quota(const recsys_gcra_policy_t *p);
uint64_t recsys_gcra_window(const recsys_gcra_policy_t *p);


#endif /* _RECSYS_GCRA_H_INCLUDED_ */
