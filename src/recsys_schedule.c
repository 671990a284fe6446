/*
 * The helper's schedule, backoff and circuit breaker (see
 * recsys_schedule.h for the rules).
 */

#include <stddef.h>

#include "recsys_schedule.h"


#define RECSYS_SCHEDULE_MS  1000ULL


static const char  *recsys_schedule_states[] = {
    "idle", "running", "backing_off"
};


static const char  *recsys_triggers[] = {
    "unknown", "admin", "start", "schedule", "retry"
};


recsys_trigger_t
recsys_schedule_due(const recsys_maintenance_conf_t *mc, recsys_schedule_t *s,
    uint64_t now, int requested, int missing)
{
    if (requested) {
        return RECSYS_TRIGGER_ADMIN;
    }

    if (!s->started) {
        s->started = 1;

        if (mc->build_on_start == RECSYS_BUILD_ON_START_ALWAYS
            || (mc->build_on_start == RECSYS_BUILD_ON_START_IF_MISSING
                && missing))
        {
            return RECSYS_TRIGGER_START;
        }

        if (mc->interval && s->next_build == 0) {
            s->next_build = now + mc->interval * RECSYS_SCHEDULE_MS;
        }

        return RECSYS_TRIGGER_NONE;
    }

    if (s->next_build == 0 || now < s->next_build) {
        return RECSYS_TRIGGER_NONE;
    }

    return s->state == RECSYS_SCHEDULE_BACKING_OFF ? RECSYS_TRIGGER_RETRY
                                                   : RECSYS_TRIGGER_SCHEDULE;
}


void
recsys_schedule_defer(recsys_schedule_t *s, recsys_trigger_t t)
{
    /* the others are still due at the next look: a request, next_build */
    if (t == RECSYS_TRIGGER_START) {
        s->started = 0;
    }
}


int
recsys_schedule_begin(recsys_schedule_t *s, recsys_trigger_t t,
    int requested_full)
{
    int  full;

    switch (t) {
    case RECSYS_TRIGGER_ADMIN:
        full = requested_full ? 1 : 0;
        break;
    case RECSYS_TRIGGER_RETRY:
        full = s->retry_full ? 1 : 0;
        break;
    default:
        full = 0;
    }

    s->state = RECSYS_SCHEDULE_RUNNING;
    s->next_build = 0;

    return full;
}


void
recsys_schedule_success(const recsys_maintenance_conf_t *mc,
    recsys_schedule_t *s, uint64_t now)
{
    s->state = RECSYS_SCHEDULE_IDLE;
    s->failures = 0;
    s->breaker_open = 0;
    s->retry_full = 0;
    s->next_build = mc->interval ? now + mc->interval * RECSYS_SCHEDULE_MS
                                 : 0;
}


uint64_t
recsys_schedule_failure(const recsys_maintenance_conf_t *mc,
    recsys_schedule_t *s, uint64_t now, int full, uint32_t rnd)
{
    uint64_t  delay;

    s->failures++;

    if (full) {
        s->retry_full = 1;
    }

    if (s->failures >= recsys_schedule_threshold(mc)) {
        s->breaker_open = 1;
    }

    delay = recsys_schedule_backoff(mc, s->failures, s->breaker_open, rnd);

    s->state = RECSYS_SCHEDULE_BACKING_OFF;
    s->next_build = now + delay;

    return delay;
}


uint64_t
recsys_schedule_backoff(const recsys_maintenance_conf_t *mc,
    unsigned failures, int breaker_open, uint32_t rnd)
{
    unsigned  i;
    uint64_t  initial, max, d;

    initial = (mc->backoff_initial ? mc->backoff_initial : 1)
              * RECSYS_SCHEDULE_MS;
    max = (mc->backoff_max ? mc->backoff_max : 300) * RECSYS_SCHEDULE_MS;

    if (max < initial) {
        max = initial;
    }

    d = initial;

    for (i = 1; i < failures && d < max; i++) {
        d *= 2;
    }

    if (d > max || breaker_open) {
        d = max;
    }

    return d * 3 / 4 + rnd % (d / 2 + 1);
}


uint64_t
recsys_schedule_sleep(const recsys_schedule_t *s, uint64_t now,
    uint64_t max)
{
    uint64_t  left;

    if (s->next_build == 0) {
        return max;
    }

    if (s->next_build <= now) {
        return 1;
    }

    left = s->next_build - now;

    return left < max ? left : max;
}


unsigned
recsys_schedule_threshold(const recsys_maintenance_conf_t *mc)
{
    return mc->breaker_threshold ? mc->breaker_threshold : 5;
}


const char *
recsys_schedule_state_name(unsigned state)
{
    return state < sizeof(recsys_schedule_states) / sizeof(char *)
           ? recsys_schedule_states[state] : "unknown";
}


const char *
recsys_trigger_name(recsys_trigger_t t)
{
    return (unsigned) t < sizeof(recsys_triggers) / sizeof(char *)
           ? recsys_triggers[t] : "unknown";
}
