/*
 * GCRA: see recsys_gcra.h for the rule.  Everything is integer arithmetic
 * on microseconds; no value here can overflow 64 bits within the bounds
 * the parsers accept (tau + T <= 1000001 * 60 s).
 */

#include "recsys_gcra.h"


static uint64_t recsys_gcra_seconds_up(uint64_t us);


int
recsys_gcra_parse_rate(const char *s, size_t len, recsys_gcra_policy_t *p)
{
    size_t    i;
    uint64_t  n, period;

    if (len < 4 || s[len - 3] != 'r' || s[len - 2] != '/') {
        return -1;
    }

    switch (s[len - 1]) {
    case 's':
        period = 1;
        break;
    case 'm':
        period = 60;
        break;
    default:
        return -1;
    }

    n = 0;

    for (i = 0; i < len - 3; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        n = n * 10 + (uint64_t) (s[i] - '0');

        if (n > RECSYS_GCRA_MAX_RATE) {
            return -1;
        }
    }

    return recsys_gcra_set_rate(p, n, period);
}


int
recsys_gcra_set_rate(recsys_gcra_policy_t *p, uint64_t rate, uint64_t period)
{
    if (rate == 0 || rate > RECSYS_GCRA_MAX_RATE
        || (period != 1 && period != 60))
    {
        return -1;
    }

    p->rate = rate;
    p->period = period;
    p->interval = (period * RECSYS_GCRA_SECOND + rate / 2) / rate;

    if (p->interval == 0) {
        p->interval = 1;
    }

    return 0;
}


void
recsys_gcra_check(const recsys_gcra_policy_t *p, uint64_t now, uint64_t tat,
    uint64_t cost, recsys_gcra_result_t *res)
{
    uint64_t  limit, base, next, used, over;

    limit = (p->burst + 1) * p->interval;
    base = tat > now ? tat : now;
    next = base + cost * p->interval;

    res->never = cost > p->burst + 1;

    if (next - now <= limit) {
        res->allowed = 1;
        res->tat = next;
        res->remaining = (limit - (next - now)) / p->interval;
        res->reset = recsys_gcra_seconds_up(next - now);
        res->retry_after = 0;
        res->excess = 0;
        return;
    }

    used = base - now;
    over = next - now - limit;

    res->allowed = 0;
    res->tat = tat;
    res->remaining = used < limit ? (limit - used) / p->interval : 0;
    res->reset = recsys_gcra_seconds_up(used);
    res->excess = (over * 1000 + p->interval - 1) / p->interval;

    /*
     * A request the full bucket cannot hold never passes; the best a client
     * can do is to wait until the bucket is full and send less.
     */

    res->retry_after = recsys_gcra_seconds_up(res->never ? used : over);

    if (res->retry_after == 0) {
        res->retry_after = 1;
    }
}


void
recsys_gcra_peek(const recsys_gcra_policy_t *p, uint64_t now, uint64_t tat,
    recsys_gcra_result_t *res)
{
    uint64_t  limit, used;

    limit = (p->burst + 1) * p->interval;
    used = tat > now ? tat - now : 0;

    res->allowed = 1;
    res->never = 0;
    res->tat = tat;
    res->remaining = used < limit ? (limit - used) / p->interval : 0;
    res->reset = recsys_gcra_seconds_up(used);
    res->retry_after = 0;
    res->excess = 0;
}


uint64_t
recsys_gcra_undo(const recsys_gcra_policy_t *p, uint64_t tat, uint64_t cost)
{
    uint64_t  back;

    back = cost * p->interval;

    return tat > back ? tat - back : 0;
}


int
recsys_gcra_expired(uint64_t tat, uint64_t now)
{
    return tat <= now;
}


uint64_t
recsys_gcra_quota(const recsys_gcra_policy_t *p)
{
    return p->burst + 1;
}


uint64_t
recsys_gcra_window(const recsys_gcra_policy_t *p)
{
    uint64_t  w;

    w = recsys_gcra_seconds_up((p->burst + 1) * p->interval);

    return w ? w : 1;
}


static uint64_t
recsys_gcra_seconds_up(uint64_t us)
{
    return (us + RECSYS_GCRA_SECOND - 1) / RECSYS_GCRA_SECOND;
}
