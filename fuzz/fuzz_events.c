/*
 * Fuzz target: POST /v1/events bodies through recsys_events_parse().  The
 * first byte chooses max_batch (1 + bits 0..2) and max_id_length (1 +
 * bits 3..7, times 4); the rest is the body, in a buffer of exactly its
 * size.  A taken body is whole lines, b.n of them, each valid UTF-8 that
 * recsys_events_line() reads back with a configured type; a refused one
 * leaves nothing.
 */

#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "recsys_events.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                     rc;
    char                   *body, *p, *end, *nl;
    void                   *tree;
    uint32_t                lines;
    recsys_events_row_t     e;
    recsys_events_conf_t    conf;
    recsys_events_batch_t   b;
    static char            *names[] = { "view", "click" };
    static double           values[] = { 1, -2.5 };

    if (size == 0) {
        return 0;
    }

    memset(&conf, 0, sizeof(recsys_events_conf_t));
    conf.enabled = 1;
    conf.types.names = names;
    conf.types.values = values;
    conf.types.n = 2;
    conf.max_batch = 1 + (data[0] & 7);
    conf.max_id_length = 4 * (1 + (data[0] >> 3));

    body = malloc(size - 1 ? size - 1 : 1);
    recsys_fuzz_check(body != NULL);
    memcpy(body, data + 1, size - 1);

    rc = recsys_events_parse(&b, &conf, body, size - 1, 1796171467);

    recsys_fuzz_check(rc == RECSYS_EVENTS_OK || rc == RECSYS_EVENTS_BAD
                      || rc == RECSYS_EVENTS_TOO_MANY
                      || rc == RECSYS_EVENTS_INVALID
                      || rc == RECSYS_EVENTS_INTERNAL);

    if (rc != RECSYS_EVENTS_OK) {
        recsys_fuzz_check(b.lines == NULL && b.len == 0);
        recsys_fuzz_check(b.code[0] != '\0' && b.error[0] != '\0');
        recsys_fuzz_check(b.index < (long) b.n || b.index == -1);
        recsys_events_batch_free(&b);
        free(body);
        return 0;
    }

    recsys_fuzz_check(b.n >= 1 && b.n <= conf.max_batch);
    recsys_fuzz_check(b.len > 0 && b.lines[b.len - 1] == '\n');
    recsys_fuzz_check(recsys_fuzz_utf8_valid((uint8_t *) b.lines, b.len));

    tree = NULL;
    lines = 0;
    end = b.lines + b.len;

    for (p = b.lines; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t) (end - p));
        recsys_fuzz_check(nl != NULL);
        recsys_fuzz_check(recsys_events_line(p, (size_t) (nl - p), &e, &tree)
                          == 0);
        recsys_fuzz_check(e.user_len >= 1
                          && e.user_len <= conf.max_id_length);
        recsys_fuzz_check(e.item_len >= 1
                          && e.item_len <= conf.max_id_length);
        recsys_fuzz_check((e.type_len == 4 && memcmp(e.type, "view", 4) == 0)
                          || (e.type_len == 5
                              && memcmp(e.type, "click", 5) == 0));
        recsys_fuzz_check(isfinite(e.weight)
                          && fabs(e.weight) <= RECSYS_EVENTS_MAX_WEIGHT);
        lines++;
    }

    recsys_fuzz_check(lines == b.n);

    recsys_events_line_free(tree);
    recsys_events_batch_free(&b);
    free(body);

    return 0;
}
