/*
 * The helper's schedule: when a catalog's next build is due, which
 * trigger starts it, how long a failed build waits before its retry and
 * when the circuit breaker opens.  Pure C: no nginx header, no clock and
 * no randomness of its own (the caller passes "now" in ms and a random
 * number), so every rule is unit-tested alone.
 *
 * Rules:
 *
 *   - an admin request goes first, then build_on_start (decided once per
 *     shared zone, so a reload does not build again), then the retry or
 *     the interval schedule when next_build has come;
 *   - a success clears the failures, closes the breaker and schedules
 *     the next build "interval" later (none without an interval);
 *   - a failure waits backoff_initial * 2^(failures - 1), capped at
 *     backoff_max, spread over [0.75, 1.25) of that so that several
 *     nginx instances on one database do not retry in step;
 *   - breaker_threshold consecutive failures open the breaker: every
 *     retry then waits backoff_max and is a single probe (half-open); a
 *     probe that fails keeps it open, one that succeeds closes it;
 *   - a retry is full when a build asked to be full failed since the last
 *     success: {"full": true} is not lost to an incremental retry.
 */

#ifndef _RECSYS_SCHEDULE_H_INCLUDED_
#define _RECSYS_SCHEDULE_H_INCLUDED_


#include <stdint.h>

#include "recsys_catalog.h"


#define RECSYS_SCHEDULE_IDLE         0
#define RECSYS_SCHEDULE_RUNNING      1
#define RECSYS_SCHEDULE_BACKING_OFF  2


typedef enum {
    RECSYS_TRIGGER_NONE = 0,
    RECSYS_TRIGGER_ADMIN,
    RECSYS_TRIGGER_START,
    RECSYS_TRIGGER_SCHEDULE,
    RECSYS_TRIGGER_RETRY
} recsys_trigger_t;


/* one catalog's schedule; lives in the helper's shared zone */
typedef struct {
    unsigned            state;          /* RECSYS_SCHEDULE_* */
    unsigned            failures;       /* consecutive */
    unsigned            breaker_open;
    unsigned            started;        /* build_on_start was decided */
    unsigned            retry_full;     /* a full build failed */
    uint64_t            next_build;     /* ms since the epoch, 0: none */
} recsys_schedule_t;


/*
 * What starts now: RECSYS_TRIGGER_NONE when nothing is due.  requested:
 * an admin request waits; missing: the index has no "current" (read only
 * on the first look, when s->started is 0).  The first look also
 * schedules the first interval build when build_on_start starts nothing.
 */
recsys_trigger_t recsys_schedule_due(const recsys_maintenance_conf_t *mc,
    recsys_schedule_t *s, uint64_t now, int requested, int missing);

/* the build trigger t asked for could not start (lock busy): ask again */
void recsys_schedule_defer(recsys_schedule_t *s, recsys_trigger_t t);

/*
 * A build of trigger t starts; returns whether it is to be full:
 * requested_full for an admin request, s->retry_full for a retry.
 */
int recsys_schedule_begin(recsys_schedule_t *s, recsys_trigger_t t,
    int requested_full);

void recsys_schedule_success(const recsys_maintenance_conf_t *mc,
    recsys_schedule_t *s, uint64_t now);

/*
 * A build (full: asked to be full) failed; rnd is any random number.
 * Returns the delay before its retry, in ms.
 */
uint64_t recsys_schedule_failure(const recsys_maintenance_conf_t *mc,
    recsys_schedule_t *s, uint64_t now, int full, uint32_t rnd);

/* the delay after "failures" consecutive failures, with jitter */
uint64_t recsys_schedule_backoff(const recsys_maintenance_conf_t *mc,
    unsigned failures, int breaker_open, uint32_t rnd);

/* ms until the schedule wants a look, at most max */
uint64_t recsys_schedule_sleep(const recsys_schedule_t *s, uint64_t now,
    uint64_t max);

unsigned recsys_schedule_threshold(const recsys_maintenance_conf_t *mc);

/* "idle", "running", "backing_off" */
const char *recsys_schedule_state_name(unsigned state);

/* "admin", "start", "schedule", "retry"; "unknown" otherwise */
const char *recsys_trigger_name(recsys_trigger_t t);


#endif /* _RECSYS_SCHEDULE_H_INCLUDED_ */
