/*
 * The builder's training step.  Items with events are numbered densely
 * ("compact" rows) so that EASE's n^3 is over the items that have
 * interactions, not the whole catalog; the model is mapped back to the
 * generation's rows when itemsim.bin is written.
 */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "recsys_als.h"
#include "recsys_artifact.h"
#include "recsys_ease.h"
#include "recsys_holdout.h"
#include "recsys_itemsim.h"
#include "recsys_knn.h"
#include "recsys_model.h"
#include "recsys_parallel.h"
#include "recsys_popularity.h"
#include "recsys_rng.h"
#include "recsys_source_pg.h"
#include "recsys_time.h"
#include "recsys_topk.h"
#include "recsys_users_writer.h"


/* the figures of one model on the hold-out: recall, ndcg */
#define RECSYS_MODEL_RECALL   RECSYS_PROMOTE_RECALL
#define RECSYS_MODEL_NDCG     RECSYS_PROMOTE_NDCG

/* ALS's item start: fixed, so a build is reproducible from its events */
#define RECSYS_MODEL_ALS_SEED  1


typedef struct {
    recsys_model_job_t         *job;
    recsys_matrix_t             all;        /* compact items, every entry */
    recsys_matrix_t             train;      /* compact items */
    recsys_holdout_t            test;
    uint32_t                   *full;       /* compact -> generation row */
    uint32_t                   *compact;    /* generation row -> compact */
    uint32_t                   *popular;    /* compact, training order */
    uint32_t                    nfull;
    unsigned                    threads;
    uint32_t                   *users;      /* the scored sample, or NULL */
    uint32_t                    nusers;
    const recsys_idmap_t       *ids;        /* user ids by row */
} recsys_model_ctx_t;


/* what both recommenders need to score a served model, per worker */
typedef struct {
    uint32_t                  **hist;       /* per worker: served rows */
    recsys_scored_t           **lists;      /* per worker */
    uint32_t                   *to_compact; /* served row -> compact */
} recsys_model_work_t;


/* the factor model's recommender: the new ALS, or the served vectors */
typedef struct {
    recsys_model_ctx_t         *ctx;
    const recsys_als_model_t   *als;        /* NULL: served */
    const recsys_generation_t  *served;
    const recsys_idmap_t       *ids;        /* our users' ids */
    recsys_model_work_t         work;
} recsys_model_frec_t;


/* a recommender of recsys_holdout_evaluate(): one of the two models */
typedef struct {
    recsys_model_ctx_t         *ctx;
    const recsys_itemsim_t     *sim;
    recsys_itemsim_scorer_t    *scorers;    /* per worker */
    const recsys_generation_t  *served;     /* NULL: the new model */
    recsys_model_work_t         work;
} recsys_model_rec_t;


static int recsys_model_event(cJSON *o, const recsys_catalog_numbers_t *types,
    const recsys_items_writer_t *items, recsys_idmap_t *users,
    recsys_event_t *ev);
static int recsys_model_add(const recsys_pg_event_t *e,
    const recsys_catalog_numbers_t *types, const recsys_items_writer_t *items,
    recsys_idmap_t *users, recsys_event_t *ev);
static int recsys_model_pg_event(void *data, const recsys_pg_event_t *e,
    char *err, size_t errlen);
static void recsys_model_popularity(recsys_model_job_t *j,
    const recsys_event_t *events, size_t n);
static int recsys_model_item_item(recsys_model_ctx_t *ctx,
    recsys_itemsim_t *s, const char **algorithm, char *err, size_t errlen);
static int recsys_model_factors(recsys_model_ctx_t *ctx,
    recsys_als_model_t *als, char *err, size_t errlen);
static int recsys_model_factors_score(recsys_model_ctx_t *ctx,
    const recsys_als_model_t *als, const recsys_generation_t *served,
    double *figures);
static uint32_t recsys_model_factors_rec(void *data, uint32_t user,
    uint32_t k, recsys_scored_t *out, unsigned worker);
static int recsys_model_evaluate(recsys_model_ctx_t *ctx,
    recsys_model_work_t *work, const recsys_generation_t *served,
    uint32_t nitems, size_t list, recsys_holdout_recommend_pt rec,
    void *data, double *figures);
static void recsys_model_work_free(recsys_model_ctx_t *ctx,
    recsys_model_work_t *work);
static int recsys_model_factors_write(recsys_model_ctx_t *ctx,
    const recsys_als_model_t *als, const recsys_idmap_t *ids, char *err,
    size_t errlen);
static int recsys_model_gate(const recsys_model_conf_t *mc, double recall,
    double ndcg, int has_served, double served_recall, double served_ndcg);
static void recsys_model_refusal(recsys_model_job_t *j, char *err,
    size_t errlen);
static uint32_t *recsys_model_to_compact(recsys_model_ctx_t *ctx,
    const recsys_generation_t *served, uint32_t nitems);
static uint32_t recsys_model_served_history(recsys_model_ctx_t *ctx,
    const recsys_generation_t *served, uint32_t user, uint32_t *rows);
static int recsys_model_compact(recsys_model_ctx_t *ctx,
    recsys_event_t *events, size_t n, char *err, size_t errlen);
static int recsys_model_fit(recsys_model_ctx_t *ctx,
    const recsys_matrix_t *m, recsys_itemsim_t *s, const char **algorithm,
    char *err, size_t errlen);
static int recsys_model_score(recsys_model_ctx_t *ctx,
    const recsys_itemsim_t *sim, const recsys_generation_t *served,
    double *figures);
static uint32_t recsys_model_rec(void *data, uint32_t user, uint32_t k,
    recsys_scored_t *out, unsigned worker);
static uint32_t recsys_model_served_top(recsys_model_ctx_t *ctx,
    const uint32_t *to_compact, uint32_t user, const recsys_scored_t *list,
    uint32_t got, uint32_t k, recsys_scored_t *out);
static uint32_t recsys_model_fill(recsys_model_ctx_t *ctx, uint32_t user,
    uint32_t n, uint32_t k, recsys_scored_t *out);
static int recsys_model_seen(const recsys_matrix_t *x, uint32_t user,
    uint32_t item);
static int recsys_model_sample(recsys_model_ctx_t *ctx);
static int recsys_model_write(recsys_model_ctx_t *ctx,
    const recsys_itemsim_t *s, uint32_t algorithm, char *err,
    size_t errlen);
static int recsys_model_cmp_u32(const void *a, const void *b);
static int recsys_model_cmp_u64(const void *a, const void *b);


int
recsys_model_train(recsys_model_job_t *j, char *err, size_t errlen)
{
    int                         rc, pass;
    double                      start;
    size_t                      n;
    uint64_t                    ntrain;
    time_t                      now;
    struct tm                   tm;
    const char                 *algorithm;
    recsys_idmap_t             *users;
    recsys_event_t             *events, *train;
    recsys_itemsim_t            s;
    recsys_als_model_t          als;
    recsys_model_ctx_t          ctx;
    recsys_holdout_conf_t       hc;
    recsys_manifest_factors_t  *f;
    const recsys_model_conf_t  *mc;

    start = recsys_now_seconds();
    mc = &j->conf->model;

    memset(&ctx, 0, sizeof(recsys_model_ctx_t));
    memset(&s, 0, sizeof(recsys_itemsim_t));
    memset(&als, 0, sizeof(recsys_als_model_t));
    memset(&j->model, 0, sizeof(recsys_manifest_model_t));
    ctx.job = j;
    ctx.threads = recsys_parallel_threads(j->threads);
    ctx.nfull = (uint32_t) recsys_items_writer_count(j->items);
    algorithm = "none";

    users = recsys_idmap_create();
    if (users == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    ctx.ids = users;
    events = NULL;
    train = NULL;
    rc = -1;

    if (j->conf->events.store.type == RECSYS_STORE_POSTGRESQL) {
        rc = recsys_model_read_pg(&j->conf->events.store,
                                  &j->conf->events.types, j->items, users,
                                  &events, &n, &j->skipped, err, errlen);

    } else {
        rc = recsys_model_read_file(j->conf->events.store.path,
                                    &j->conf->events.types, j->items, users,
                                    &events, &n, &j->skipped, err, errlen);
    }

    if (rc != 0) {
        rc = -1;
        goto done;
    }

    rc = -1;

    j->model.events = n;
    j->model.users = recsys_idmap_count(users);

    if (mc->popularity.enabled) {
        recsys_model_popularity(j, events, n);
    }

    if ((!mc->item_item.enabled && !mc->factors.enabled) || n == 0) {
        rc = 0;
        goto done;
    }

    if (recsys_model_compact(&ctx, events, n, err, errlen) != 0) {
        goto done;
    }

    /* the full matrix, split: the hold-out the gate scores both models on */

    if (recsys_matrix_build(&ctx.all, recsys_idmap_count(users),
                            ctx.train.nitems, events, n, RECSYS_MERGE_SUM,
                            NULL, err, errlen)
        != 0)
    {
        goto done;
    }

    j->model.entries = ctx.all.nnz;

    hc.fraction = mc->holdout.fraction;
    hc.min_entries = mc->holdout.min_entries;
    hc.mode = mc->holdout.mode == RECSYS_HOLDOUT_MODE_RECENT
              ? RECSYS_HOLDOUT_RECENT : RECSYS_HOLDOUT_RANDOM;
    hc.seed = mc->holdout.seed;

    if (recsys_holdout_split(&ctx.all, &hc, &train, &ntrain, &ctx.test, err,
                             errlen)
        != 0)
    {
        goto done;
    }

    if (recsys_matrix_build(&ctx.train, recsys_idmap_count(users),
                            ctx.train.nitems, train, ntrain,
                            RECSYS_MERGE_SUM, NULL, err, errlen)
        != 0)
    {
        goto done;
    }

    if (recsys_model_sample(&ctx) != 0) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }

    pass = 1;

    if (mc->item_item.enabled) {
        if (recsys_model_item_item(&ctx, &s, &algorithm, err, errlen) != 0) {
            goto done;
        }

        pass = recsys_model_gate(mc, j->model.gate_recall,
                                 j->model.gate_ndcg, j->model.has_served,
                                 j->model.served_recall,
                                 j->model.served_ndcg);
    }

    if (mc->factors.enabled) {
        if (recsys_model_factors(&ctx, &als, err, errlen) != 0) {
            goto done;
        }

        f = &j->model.factors;
        pass = recsys_model_gate(mc, f->gate_recall, f->gate_ndcg,
                                 f->has_served, f->served_recall,
                                 f->served_ndcg)
               && pass;

        /* a catalog of factors alone: its figures are the model's */
        if (!mc->item_item.enabled) {
            j->model.recall = f->recall;
            j->model.ndcg = f->ndcg;
            j->model.gate_recall = f->gate_recall;
            j->model.gate_ndcg = f->gate_ndcg;
            j->model.has_served = f->has_served;
            j->model.served_recall = f->served_recall;
            j->model.served_ndcg = f->served_ndcg;
            algorithm = "als";
        }
    }

    j->model.scored = ctx.users ? ctx.nusers : ctx.test.evaluated;

    if (j->model.has_served || j->model.factors.has_served) {
        j->model.served_generation = j->served->manifest.generation;
    }

    snprintf(j->model.promote_if, sizeof(j->model.promote_if), "%s",
             mc->promote_if);

    if (!pass) {
        j->refused = 1;
        recsys_model_refusal(j, err, errlen);
        goto done;
    }

    snprintf(j->model.algorithm, sizeof(j->model.algorithm), "%s",
             algorithm);

    if (mc->item_item.enabled) {
        if (recsys_model_write(&ctx, &s,
                               strcmp(algorithm, "ease") == 0
                               ? RECSYS_ITEMSIM_EASE
                               : RECSYS_ITEMSIM_ITEMKNN,
                               err, errlen)
            != 0)
        {
            goto done;
        }

        j->itemsim = 1;
    }

    if (mc->factors.enabled
        && recsys_model_factors_write(&ctx, &als, users, err, errlen)
           != 0)
    {
        goto done;
    }

    rc = 0;

done:

    if (rc == 0) {
        j->model.trained = 1;
        j->model.train_seconds = recsys_now_seconds() - start;
        now = time(NULL);
        gmtime_r(&now, &tm);
        strftime(j->model.trained_at, sizeof(j->model.trained_at),
                 "%Y-%m-%dT%H:%M:%SZ", &tm);

        if (j->model.algorithm[0] == '\0') {
            snprintf(j->model.algorithm, sizeof(j->model.algorithm), "%s",
                     mc->item_item.enabled || mc->factors.enabled
                     ? "none" : "popularity");
        }
    }

    recsys_itemsim_free(&s);
    recsys_als_free(&als);
    recsys_matrix_free(&ctx.all);
    recsys_matrix_free(&ctx.train);
    recsys_holdout_free(&ctx.test);
    free(ctx.full);
    free(ctx.compact);
    free(ctx.popular);
    free(ctx.users);
    free(train);
    free(events);
    recsys_idmap_destroy(users);

    return rc;
}


int
recsys_model_read_file(const char *path,
    const recsys_catalog_numbers_t *types, const recsys_items_writer_t *items,
    recsys_idmap_t *users, recsys_event_t **events, size_t *n,
    uint64_t *skipped, char *err, size_t errlen)
{
    int              rc;
    char            *line;
    FILE            *fp;
    cJSON           *o;
    size_t           cap, size;
    ssize_t          len;
    recsys_event_t   ev;

    *events = NULL;
    *n = 0;
    *skipped = 0;

    fp = fopen(path, "r");
    if (fp == NULL) {
        if (errno == ENOENT) {
            /* nothing was shipped yet: a model of no events */
            return 0;
        }

        snprintf(err, errlen, "events store \"%s\": %s", path,
                 strerror(errno));
        return -1;
    }

    line = NULL;
    size = 0;
    cap = 0;

    while ((len = getline(&line, &size, fp)) != -1) {

        /* a line still being appended is not an event yet */
        if (len == 0 || line[len - 1] != '\n') {
            break;
        }

        if (len > RECSYS_MODEL_LINE_MAX) {
            (*skipped)++;
            continue;
        }

        o = cJSON_ParseWithLength(line, (size_t) len);
        rc = recsys_model_event(o, types, items, users, &ev);
        cJSON_Delete(o);

        if (rc == -1) {
            snprintf(err, errlen, "out of memory reading \"%s\"", path);
            goto failed;
        }

        if (rc == 1) {
            (*skipped)++;
            continue;
        }

        if (recsys_events_append(events, n, &cap, &ev) != 0) {
            snprintf(err, errlen, "out of memory reading \"%s\"", path);
            goto failed;
        }
    }

    if (ferror(fp)) {
        snprintf(err, errlen, "events store \"%s\": read failed", path);
        goto failed;
    }

    free(line);
    fclose(fp);

    return 0;

failed:

    free(line);
    fclose(fp);
    free(*events);
    *events = NULL;
    *n = 0;

    return -1;
}


/* 0: an event; 1: skipped (not an event, or an unknown item); -1: nomem */

static int
recsys_model_event(cJSON *o, const recsys_catalog_numbers_t *types,
    const recsys_items_writer_t *items, recsys_idmap_t *users,
    recsys_event_t *ev)
{
    cJSON              *ju, *ji, *jt, *jw, *jy;
    recsys_pg_event_t   e;

    ju = cJSON_GetObjectItemCaseSensitive(o, "user");
    ji = cJSON_GetObjectItemCaseSensitive(o, "item");
    jt = cJSON_GetObjectItemCaseSensitive(o, "ts");
    jw = cJSON_GetObjectItemCaseSensitive(o, "weight");
    jy = cJSON_GetObjectItemCaseSensitive(o, "type");

    if (!cJSON_IsString(ju) || !cJSON_IsString(ji)) {
        return 1;
    }

    memset(&e, 0, sizeof(recsys_pg_event_t));
    e.user = ju->valuestring;
    e.user_len = strlen(ju->valuestring);
    e.item = ji->valuestring;
    e.item_len = strlen(ji->valuestring);

    if (cJSON_IsNumber(jt)) {
        e.ts = (int64_t) jt->valuedouble;

    } else if (!cJSON_IsString(jt)
               || recsys_time_parse(jt->valuestring,
                                    strlen(jt->valuestring), &e.ts)
                  != 0)
    {
        return 1;
    }

    e.has_ts = 1;

    if (cJSON_IsNumber(jw)) {
        e.weight = jw->valuedouble;
        e.has_weight = 1;

    } else if (jw != NULL) {
        return 1;
    }

    if (cJSON_IsString(jy)) {
        e.type = jy->valuestring;
        e.type_len = strlen(jy->valuestring);
    }

    return recsys_model_add(&e, types, items, users, ev);
}


/*
 * One event of either store: its weight, or the type's when it has none;
 * the item's generation row; the user's row, added when new.
 */

static int
recsys_model_add(const recsys_pg_event_t *e,
    const recsys_catalog_numbers_t *types, const recsys_items_writer_t *items,
    recsys_idmap_t *users, recsys_event_t *ev)
{
    size_t   i;
    int64_t  row, u;

    if (e->user == NULL || e->user_len == 0 || e->item == NULL
        || !e->has_ts)
    {
        return 1;
    }

    ev->ts = e->ts;

    if (e->has_weight) {
        ev->weight = (float) e->weight;

    } else if (e->type != NULL) {
        for (i = 0; i < types->n; i++) {
            if (strlen(types->names[i]) == e->type_len
                && memcmp(types->names[i], e->type, e->type_len) == 0)
            {
                break;
            }
        }

        if (i == types->n) {
            return 1;
        }

        ev->weight = (float) types->values[i];

    } else {
        return 1;
    }

    row = recsys_items_writer_find(items, e->item, e->item_len);
    if (row < 0) {
        return 1;
    }

    u = recsys_idmap_add(users, e->user, e->user_len);
    if (u < 0) {
        return -1;
    }

    ev->user = (uint32_t) u;
    ev->item = (uint32_t) row;

    return 0;
}


/* recsys_pg_read_events()'s callback: the events into a reader's array */

typedef struct {
    const recsys_catalog_numbers_t  *types;
    const recsys_items_writer_t     *items;
    recsys_idmap_t                  *users;
    recsys_event_t                 **events;
    size_t                          *n;
    size_t                           cap;
    uint64_t                        *skipped;
} recsys_model_pg_t;


static int
recsys_model_pg_event(void *data, const recsys_pg_event_t *e, char *err,
    size_t errlen)
{
    int                 rc;
    recsys_event_t      ev;
    recsys_model_pg_t  *pg = data;

    rc = recsys_model_add(e, pg->types, pg->items, pg->users, &ev);

    if (rc == 1) {
        (*pg->skipped)++;
        return 0;
    }

    if (rc == -1
        || recsys_events_append(pg->events, pg->n, &pg->cap, &ev) != 0)
    {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    return 0;
}


int
recsys_model_read_pg(const recsys_events_store_conf_t *store,
    const recsys_catalog_numbers_t *types, const recsys_items_writer_t *items,
    recsys_idmap_t *users, recsys_event_t **events, size_t *n,
    uint64_t *skipped, char *err, size_t errlen)
{
    recsys_pg_events_t  e;
    recsys_model_pg_t   pg;

    *events = NULL;
    *n = 0;
    *skipped = 0;

    pg.types = types;
    pg.items = items;
    pg.users = users;
    pg.events = events;
    pg.n = n;
    pg.cap = 0;
    pg.skipped = skipped;

    memset(&e, 0, sizeof(recsys_pg_events_t));
    e.conf = store;
    e.event = recsys_model_pg_event;
    e.data = &pg;

    if (recsys_pg_read_events(&e, err, errlen) != 0) {
        free(*events);
        *events = NULL;
        *n = 0;
        return -1;
    }

    return 0;
}


/*
 * Decayed popularity as of the newest event (a store that stops
 * receiving events keeps its last order rather than decaying to zero),
 * replacing or blended with the source's.  Category lists follow: they
 * are ordered by the items' popularity.
 */

static void
recsys_model_popularity(recsys_model_job_t *j, const recsys_event_t *events,
    size_t n)
{
    double                                *pop, *src;
    size_t                                 i;
    int64_t                                now;
    uint32_t                               r, count;
    const recsys_model_popularity_conf_t  *pc;

    pc = &j->conf->model.popularity;
    count = (uint32_t) recsys_items_writer_count(j->items);

    if (count == 0) {
        return;
    }

    pop = malloc((size_t) count * sizeof(double));
    src = malloc((size_t) count * sizeof(double));

    if (pop == NULL || src == NULL) {
        free(pop);
        free(src);
        return;
    }

    now = 0;

    for (i = 0; i < n; i++) {
        now = events[i].ts > now ? events[i].ts : now;
    }

    recsys_popularity_items(events, n, count, now, (double) pc->half_life,
                            pop);

    for (r = 0; r < count; r++) {
        src[r] = recsys_items_writer_popularity(j->items, r);
    }

    recsys_popularity_blend(src, pop, count,
                            pc->mode == RECSYS_POPULARITY_MODE_BLEND
                            ? RECSYS_POPULARITY_BLEND
                            : RECSYS_POPULARITY_REPLACE,
                            pc->blend, pop);

    for (r = 0; r < count; r++) {
        recsys_items_writer_set_popularity(j->items, r,
                                           isfinite(pop[r])
                                           ? (float) pop[r] : 0.0f);
    }

    free(pop);
    free(src);
}


/*
 * The item-item model: trained without the hold-out for its figures,
 * then on every entry (the model served, left in s) for the gate's, and
 * the served generation's itemsim.bin scored on the same hold-out.
 */

static int
recsys_model_item_item(recsys_model_ctx_t *ctx, recsys_itemsim_t *s,
    const char **algorithm, char *err, size_t errlen)
{
    double               fig[2];
    recsys_model_job_t  *j = ctx->job;

    if (recsys_model_fit(ctx, &ctx->train, s, algorithm, err, errlen) != 0)
    {
        return -1;
    }

    if (recsys_model_score(ctx, s, NULL, fig) != 0) {
        goto nomem;
    }

    recsys_itemsim_free(s);

    j->model.recall = fig[RECSYS_MODEL_RECALL];
    j->model.ndcg = fig[RECSYS_MODEL_NDCG];

    /*
     * The gate: the model as it will be served (every entry) against the
     * model served now, both on the hold-out; both may have seen those
     * interactions in training, so neither is favoured by that.
     */

    if (recsys_model_fit(ctx, &ctx->all, s, algorithm, err, errlen) != 0) {
        return -1;
    }

    if (recsys_model_score(ctx, s, NULL, fig) != 0) {
        goto nomem;
    }

    j->model.gate_recall = fig[RECSYS_MODEL_RECALL];
    j->model.gate_ndcg = fig[RECSYS_MODEL_NDCG];

    if (j->served == NULL || j->served->itemsim.nitems == 0) {
        return 0;
    }

    if (recsys_model_score(ctx, &j->served->itemsim, j->served, fig) != 0) {
        goto nomem;
    }

    j->model.has_served = 1;
    j->model.served_recall = fig[RECSYS_MODEL_RECALL];
    j->model.served_ndcg = fig[RECSYS_MODEL_NDCG];

    return 0;

nomem:

    snprintf(err, errlen, "out of memory scoring the hold-out");
    return -1;
}


/*
 * The factor model the same way: ALS without the hold-out, then on every
 * entry (left in als), and the served generation's user vectors against
 * its item vectors when it was trained with factors of the same size.
 */

static int
recsys_model_factors(recsys_model_ctx_t *ctx, recsys_als_model_t *als,
    char *err, size_t errlen)
{
    double                              start, fig[2];
    recsys_als_conf_t                   ac;
    recsys_model_job_t                 *j = ctx->job;
    const recsys_generation_t          *g;
    recsys_manifest_factors_t          *f;
    const recsys_model_factors_conf_t  *fc;

    start = recsys_now_seconds();
    fc = &j->conf->model.factors;
    f = &j->model.factors;

    ac.factors = fc->factors;
    ac.iterations = fc->iterations;
    ac.lambda = fc->regularization;
    ac.alpha = fc->alpha;
    ac.nu = fc->nu;
    ac.seed = RECSYS_MODEL_ALS_SEED;
    ac.threads = (int) ctx->threads;

    if (recsys_als_train(&ctx->train, &ac, als, NULL, err, errlen) != 0) {
        return -1;
    }

    if (recsys_model_factors_score(ctx, als, NULL, fig) != 0) {
        goto nomem;
    }

    recsys_als_free(als);

    f->recall = fig[RECSYS_MODEL_RECALL];
    f->ndcg = fig[RECSYS_MODEL_NDCG];

    if (recsys_als_train(&ctx->all, &ac, als, NULL, err, errlen) != 0) {
        return -1;
    }

    if (recsys_model_factors_score(ctx, als, NULL, fig) != 0) {
        goto nomem;
    }

    f->gate_recall = fig[RECSYS_MODEL_RECALL];
    f->gate_ndcg = fig[RECSYS_MODEL_NDCG];
    f->factors = fc->factors;
    f->trained = 1;

    g = j->served;

    if (g != NULL && g->manifest.model.factors.trained
        && g->users.base != NULL && g->users.dimension == fc->factors
        && g->manifest.dimension == fc->factors)
    {
        if (recsys_model_factors_score(ctx, NULL, g, fig) != 0) {
            goto nomem;
        }

        f->has_served = 1;
        f->served_recall = fig[RECSYS_MODEL_RECALL];
        f->served_ndcg = fig[RECSYS_MODEL_NDCG];
    }

    f->train_seconds = recsys_now_seconds() - start;

    return 0;

nomem:

    snprintf(err, errlen, "out of memory scoring the hold-out");
    return -1;
}


static int
recsys_model_factors_score(recsys_model_ctx_t *ctx,
    const recsys_als_model_t *als, const recsys_generation_t *served,
    double *figures)
{
    int                  rc;
    recsys_model_frec_t  rec;

    memset(&rec, 0, sizeof(recsys_model_frec_t));
    rec.ctx = ctx;
    rec.als = als;
    rec.served = served;

    rc = recsys_model_evaluate(ctx, &rec.work, served,
                               served ? (uint32_t) served->items.count : 0,
                               RECSYS_MODEL_K, recsys_model_factors_rec,
                               &rec, figures);

    recsys_model_work_free(ctx, &rec.work);

    return rc;
}


/*
 * One user's top k by x_u . y_i, the training items excluded, as the
 * handler ranks a stored user vector.  For the served model the user is
 * looked up by id in its users.bin (none: only the popular fill, as the
 * fallback chain would answer) and its items come back through the ids.
 */

static uint32_t
recsys_model_factors_rec(void *data, uint32_t user, uint32_t k,
    recsys_scored_t *out, unsigned worker)
{
    size_t                      len;
    int64_t                     row;
    uint32_t                    n, nh, got, *hist;
    uint64_t                    lo, hi;
    const char                 *id;
    recsys_user_t               u;
    recsys_scored_t            *list;
    recsys_model_frec_t        *rec = data;
    recsys_model_ctx_t         *ctx = rec->ctx;
    const recsys_matrix_t      *x = &ctx->train;
    const recsys_als_model_t   *als = rec->als;
    const recsys_generation_t  *g = rec->served;

    lo = x->user_ptr[user];
    hi = x->user_ptr[user + 1];

    if (als != NULL) {
        n = recsys_topk_dot(als->items, als->nitems, als->factors,
                            als->users + (size_t) user * als->factors,
                            x->user_items + lo, hi - lo, k, out);
        return recsys_model_fill(ctx, user, n, k, out);
    }

    id = recsys_idmap_id(ctx->ids, user, &len);
    row = recsys_users_find(&g->users, id, len);

    if (row < 0) {
        return recsys_model_fill(ctx, user, 0, k, out);
    }

    recsys_users_get(&g->users, (uint32_t) row, &u);

    hist = rec->work.hist[worker];
    list = rec->work.lists[worker];

    nh = recsys_model_served_history(ctx, g, user, hist);
    qsort(hist, nh, sizeof(uint32_t), recsys_model_cmp_u32);

    got = recsys_topk_dot(g->vectors, (uint32_t) g->items.count,
                          g->manifest.dimension, u.vector, hist, nh, k, list);
    return recsys_model_served_top(ctx, rec->work.to_compact, user, list, got,
                                   k, out);
}


/*
 * The served model: ALS item vectors in the generation's rows (items
 * without events get zeros: a score of 0 to every user, below any item
 * the model likes), and a stored user vector for each user with at least
 * min_events entries whom the catalog's users source did not give one.
 */

static int
recsys_model_factors_write(recsys_model_ctx_t *ctx,
    const recsys_als_model_t *als, const recsys_idmap_t *ids, char *err,
    size_t errlen)
{
    int                   rc;
    size_t                len, dim;
    uint32_t             *seen, u, r, c, n, most;
    uint64_t              e, lo;
    const char           *id;
    recsys_model_job_t   *j = ctx->job;
    const recsys_matrix_t *x = &ctx->all;

    dim = als->factors;

    if (j->vectors != NULL) {
        for (r = 0; r < ctx->nfull; r++) {
            c = ctx->compact[r];

            if (c == RECSYS_ROW_NONE) {
                memset(j->vectors + r * dim, 0, dim * sizeof(float));

            } else {
                memcpy(j->vectors + r * dim, als->items + c * dim,
                       dim * sizeof(float));
            }
        }
    }

    if (j->users == NULL) {
        return 0;
    }

    most = 0;

    for (u = 0; u < x->nusers; u++) {
        n = (uint32_t) (x->user_ptr[u + 1] - x->user_ptr[u]);
        most = n > most ? n : most;
    }

    seen = malloc(((size_t) most + 1) * sizeof(uint32_t));
    if (seen == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    rc = 0;

    for (u = 0; u < x->nusers; u++) {
        lo = x->user_ptr[u];
        n = (uint32_t) (x->user_ptr[u + 1] - lo);

        if (n == 0 || n < j->conf->model.min_events) {
            continue;
        }

        id = recsys_idmap_id(ids, u, &len);

        /* the catalog's users source wins: it was added first */
        if (recsys_users_writer_find(j->users, id, len) != -1) {
            continue;
        }

        for (e = 0; e < n; e++) {
            seen[e] = ctx->full[x->user_items[lo + e]];
        }

        rc = recsys_users_writer_add(j->users, id, len,
                                     als->users + (size_t) u * dim, seen, n,
                                     err, errlen);
        if (rc != 0) {
            break;
        }

        j->model.factors.users++;
    }

    free(seen);

    return rc;
}


/* promote_if on one model's figures against its served counterpart */

static int
recsys_model_gate(const recsys_model_conf_t *mc, double recall, double ndcg,
    int has_served, double served_recall, double served_ndcg)
{
    double  fresh[2], served[2];

    fresh[RECSYS_MODEL_RECALL] = recall;
    fresh[RECSYS_MODEL_NDCG] = ndcg;
    served[RECSYS_MODEL_RECALL] = served_recall;
    served[RECSYS_MODEL_NDCG] = served_ndcg;

    return recsys_promote_eval(&mc->promote, fresh, has_served, served);
}


/* the refusal's message: every trained model's figures and the served */

static void
recsys_model_refusal(recsys_model_job_t *j, char *err, size_t errlen)
{
    size_t                            at;
    const recsys_manifest_model_t    *mm = &j->model;
    const recsys_manifest_factors_t  *f = &mm->factors;

    at = (size_t) snprintf(err, errlen, "model refused: promote_if \"%s\""
                           " does not hold:", j->conf->model.promote_if);

    if (at < errlen && j->conf->model.item_item.enabled) {
        at += (size_t) snprintf(err + at, errlen - at, " new recall_at_10"
                                " %.4f ndcg_at_10 %.4f", mm->gate_recall,
                                mm->gate_ndcg);

        if (at < errlen && mm->has_served) {
            at += (size_t) snprintf(err + at, errlen - at, ", served"
                                    " (generation %llu) recall_at_10 %.4f"
                                    " ndcg_at_10 %.4f",
                                    (unsigned long long)
                                    mm->served_generation,
                                    mm->served_recall, mm->served_ndcg);
        }
    }

    if (at < errlen && f->trained) {
        at += (size_t) snprintf(err + at, errlen - at, "%s factors: new"
                                " recall_at_10 %.4f ndcg_at_10 %.4f",
                                j->conf->model.item_item.enabled ? ";" : "",
                                f->gate_recall, f->gate_ndcg);

        if (at < errlen && f->has_served) {
            (void) snprintf(err + at, errlen - at, ", served (generation"
                            " %llu) recall_at_10 %.4f ndcg_at_10 %.4f",
                            (unsigned long long) mm->served_generation,
                            f->served_recall, f->served_ndcg);
        }
    }
}


/* the served generation's rows to our compact ones, through the item ids */

static uint32_t *
recsys_model_to_compact(recsys_model_ctx_t *ctx,
    const recsys_generation_t *served, uint32_t nitems)
{
    int64_t         row;
    uint32_t        r, *map;
    recsys_item_t   it;

    map = malloc(((size_t) nitems + 1) * sizeof(uint32_t));
    if (map == NULL) {
        return NULL;
    }

    for (r = 0; r < nitems; r++) {
        map[r] = RECSYS_ROW_NONE;

        if (r >= served->items.count) {
            continue;
        }

        recsys_items_get(&served->items, r, &it);
        row = recsys_items_writer_find(ctx->job->items, it.id, it.id_len);

        if (row >= 0) {
            map[r] = ctx->compact[row];
        }
    }

    return map;
}


/* a user's training items as the served generation's rows; their count */

static uint32_t
recsys_model_served_history(recsys_model_ctx_t *ctx,
    const recsys_generation_t *served, uint32_t user, uint32_t *rows)
{
    size_t                  len;
    int64_t                 row;
    uint32_t                nh;
    uint64_t                e;
    const char             *id;
    const recsys_matrix_t  *x = &ctx->train;

    nh = 0;

    for (e = x->user_ptr[user]; e < x->user_ptr[user + 1]; e++) {
        id = recsys_items_writer_id(ctx->job->items,
                                    ctx->full[x->user_items[e]], &len);
        row = recsys_items_find(&served->items, id, len);

        if (row >= 0) {
            rows[nh++] = (uint32_t) row;
        }
    }

    return nh;
}


/* items with events get compact rows 0..n-1, in generation order */

static int
recsys_model_compact(recsys_model_ctx_t *ctx, recsys_event_t *events,
    size_t n, char *err, size_t errlen)
{
    size_t    i;
    uint32_t  r, c;

    ctx->compact = malloc(((size_t) ctx->nfull + 1) * sizeof(uint32_t));
    ctx->full = malloc(((size_t) ctx->nfull + 1) * sizeof(uint32_t));

    if (ctx->compact == NULL || ctx->full == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    for (r = 0; r < ctx->nfull; r++) {
        ctx->compact[r] = RECSYS_ROW_NONE;
    }

    for (i = 0; i < n; i++) {
        ctx->compact[events[i].item] = 0;
    }

    c = 0;

    for (r = 0; r < ctx->nfull; r++) {
        if (ctx->compact[r] == 0) {
            ctx->compact[r] = c;
            ctx->full[c++] = r;
        }
    }

    for (i = 0; i < n; i++) {
        events[i].item = ctx->compact[events[i].item];
    }

    ctx->train.nitems = c;

    return 0;
}


static int
recsys_model_fit(recsys_model_ctx_t *ctx, const recsys_matrix_t *m,
    recsys_itemsim_t *s, const char **algorithm, char *err, size_t errlen)
{
    int                                 rc, ease;
    double                             *b;
    recsys_knn_conf_t                   kc;
    recsys_ease_conf_t                  ec;
    const recsys_model_itemsim_conf_t  *ic;

    ic = &ctx->job->conf->model.item_item;

    ease = ic->algorithm == RECSYS_ITEMSIM_EASE
           || (ic->algorithm == RECSYS_ITEMSIM_AUTO
               && m->nitems <= ic->max_items);

    if (ease && m->nitems > ic->max_items) {
        snprintf(err, errlen, "model: EASE over %u items with events is"
                 " above item_item.max_items %u (%.1f GiB); use"
                 " algorithm itemknn or auto", m->nitems, ic->max_items,
                 (double) RECSYS_EASE_BYTES(m->nitems) / (1 << 30));
        return -1;
    }

    if (!ease) {
        kc.neighbours = ic->top;
        kc.shrink = ic->shrink;
        kc.weighted = 0;
        kc.threads = (int) ctx->threads;
        *algorithm = "itemknn";

        return recsys_knn_train(m, &kc, s, err, errlen);
    }

    ec.lambda = ic->lambda;
    ec.weighted = 0;
    ec.max_items = ic->max_items;
    ec.threads = (int) ctx->threads;
    *algorithm = "ease";

    if (recsys_ease_train(m, &ec, &b, err, errlen) != 0) {
        return -1;
    }

    rc = recsys_itemsim_from_dense(s, b, m->nitems,
                                   ic->top < m->nitems ? ic->top
                                                       : m->nitems,
                                   RECSYS_ITEMSIM_MAGNITUDE,
                                   (int) ctx->threads);
    free(b);

    if (rc != 0) {
        snprintf(err, errlen, "out of memory sparsifying EASE");
    }

    return rc;
}


/* Recall@10 and NDCG@10 of sim (the new model, or served's) */

static int
recsys_model_score(recsys_model_ctx_t *ctx, const recsys_itemsim_t *sim,
    const recsys_generation_t *served, double *figures)
{
    int                  rc;
    uint32_t             w;
    recsys_model_rec_t   rec;

    memset(&rec, 0, sizeof(recsys_model_rec_t));
    rec.ctx = ctx;
    rec.sim = sim;
    rec.served = served;
    rc = -1;

    rec.scorers = calloc(ctx->threads, sizeof(recsys_itemsim_scorer_t));

    if (rec.scorers == NULL) {
        goto done;
    }

    for (w = 0; w < ctx->threads; w++) {
        if (recsys_itemsim_scorer_init(&rec.scorers[w], sim->nitems) != 0) {
            goto done;
        }
    }

    rc = recsys_model_evaluate(ctx, &rec.work, served, sim->nitems,
                               (RECSYS_MODEL_K + 1) * 4, recsys_model_rec,
                               &rec, figures);

done:

    for (w = 0; rec.scorers && w < ctx->threads; w++) {
        recsys_itemsim_scorer_free(&rec.scorers[w]);
    }

    free(rec.scorers);
    recsys_model_work_free(ctx, &rec.work);

    return rc;
}


/*
 * The hold-out's Recall@10 and NDCG@10 of one recommender; work gets the
 * per-worker buffers it uses on a served model, list entries a list.
 */

static int
recsys_model_evaluate(recsys_model_ctx_t *ctx, recsys_model_work_t *work,
    const recsys_generation_t *served, uint32_t nitems, size_t list,
    recsys_holdout_recommend_pt rec, void *data, double *figures)
{
    uint32_t                 w;
    recsys_holdout_result_t  res;

    work->hist = calloc(ctx->threads, sizeof(uint32_t *));
    work->lists = calloc(ctx->threads, sizeof(recsys_scored_t *));

    if (work->hist == NULL || work->lists == NULL) {
        return -1;
    }

    for (w = 0; w < ctx->threads; w++) {
        work->hist[w] = malloc(((size_t) ctx->train.nitems + 1)
                               * sizeof(uint32_t));
        work->lists[w] = malloc(list * sizeof(recsys_scored_t));

        if (work->hist[w] == NULL || work->lists[w] == NULL) {
            return -1;
        }
    }

    if (served != NULL) {
        work->to_compact = recsys_model_to_compact(ctx, served, nitems);
        if (work->to_compact == NULL) {
            return -1;
        }
    }

    if (recsys_holdout_evaluate(&ctx->test, RECSYS_MODEL_K, ctx->users,
                                ctx->nusers, (int) ctx->threads, rec, data,
                                &res)
        != 0)
    {
        return -1;
    }

    figures[RECSYS_MODEL_RECALL] = res.recall;
    figures[RECSYS_MODEL_NDCG] = res.ndcg;

    return 0;
}


static void
recsys_model_work_free(recsys_model_ctx_t *ctx, recsys_model_work_t *work)
{
    uint32_t  w;

    for (w = 0; work->hist && w < ctx->threads; w++) {
        free(work->hist[w]);
    }

    for (w = 0; work->lists && w < ctx->threads; w++) {
        free(work->lists[w]);
    }

    free(work->hist);
    free(work->lists);
    free(work->to_compact);
}


/*
 * One user's top k from the training history.  For the served model the
 * history goes through the item ids to its rows, its list comes back the
 * same way; an item it ranks that has no events here is a miss that still
 * takes its place in the list.
 */

static uint32_t
recsys_model_rec(void *data, uint32_t user, uint32_t k, recsys_scored_t *out,
    unsigned worker)
{
    uint32_t                n, nh, got;
    uint64_t                lo, hi;
    recsys_scored_t        *list;
    recsys_model_rec_t     *rec = data;
    recsys_model_ctx_t     *ctx = rec->ctx;
    const recsys_matrix_t  *x = &ctx->train;

    lo = x->user_ptr[user];
    hi = x->user_ptr[user + 1];

    if (rec->served == NULL) {
        n = recsys_itemsim_recommend(rec->sim, &rec->scorers[worker],
                                     x->user_items + lo, NULL, hi - lo, k,
                                     out);
        return recsys_model_fill(ctx, user, n, k, out);
    }

    nh = recsys_model_served_history(ctx, rec->served, user,
                                     rec->work.hist[worker]);

    list = rec->work.lists[worker];
    got = recsys_itemsim_recommend(rec->sim, &rec->scorers[worker],
                                   rec->work.hist[worker], NULL, nh, k, list);
    return recsys_model_served_top(ctx, rec->work.to_compact, user, list, got,
                                   k, out);
}


/*
 * A served model's list in the served generation's rows, mapped to this
 * build's compact rows; an item seen here but not there (renamed) is no
 * candidate.  Short lists are topped up as serving does.
 */

static uint32_t
recsys_model_served_top(recsys_model_ctx_t *ctx, const uint32_t *to_compact,
    uint32_t user, const recsys_scored_t *list, uint32_t got, uint32_t k,
    recsys_scored_t *out)
{
    uint32_t                i, n;
    const recsys_matrix_t  *x = &ctx->train;

    n = 0;

    for (i = 0; i < got; i++) {
        out[n].row = to_compact[list[i].row];
        out[n].score = list[i].score;

        if (out[n].row != RECSYS_ROW_NONE
            && recsys_model_seen(x, user, out[n].row))
        {
            continue;
        }

        n++;
    }

    return recsys_model_fill(ctx, user, n, k, out);
}


/* short lists topped up with popular unseen items, as serving does */

static uint32_t
recsys_model_fill(recsys_model_ctx_t *ctx, uint32_t user, uint32_t n,
    uint32_t k, recsys_scored_t *out)
{
    uint32_t  i, j, item;

    for (i = 0; n < k && i < ctx->train.nitems; i++) {
        item = ctx->popular[i];

        if (recsys_model_seen(&ctx->train, user, item)) {
            continue;
        }

        for (j = 0; j < n && out[j].row != item; j++) {
            /* void */
        }

        if (j == n) {
            out[n].row = item;
            out[n].score = 0;
            n++;
        }
    }

    return n;
}


static int
recsys_model_seen(const recsys_matrix_t *x, uint32_t user, uint32_t item)
{
    return bsearch(&item, x->user_items + x->user_ptr[user],
                   x->user_ptr[user + 1] - x->user_ptr[user],
                   sizeof(uint32_t), recsys_model_cmp_u32)
           != NULL;
}


/*
 * The popularity order of the fill (training entries per item) and, when
 * more users are evaluated than holdout.users, the first holdout.users
 * of them in a seeded order.
 */

static int
recsys_model_sample(recsys_model_ctx_t *ctx)
{
    uint32_t   i, j, t, swap, *cand, *count, limit;
    uint64_t   e, s;

    ctx->popular = malloc(((size_t) ctx->train.nitems + 1)
                          * sizeof(uint32_t));
    count = calloc((size_t) ctx->train.nitems + 1, sizeof(uint32_t));

    if (ctx->popular == NULL || count == NULL) {
        free(count);
        return -1;
    }

    for (e = 0; e < ctx->train.nnz; e++) {
        count[ctx->train.user_items[e]]++;
    }

    /* count desc, row asc */
    {
        uint64_t  *keys;

        keys = malloc(((size_t) ctx->train.nitems + 1) * sizeof(uint64_t));
        if (keys == NULL) {
            free(count);
            return -1;
        }

        for (i = 0; i < ctx->train.nitems; i++) {
            keys[i] = ((uint64_t) (UINT32_MAX - count[i]) << 32) | i;
        }

        qsort(keys, ctx->train.nitems, sizeof(uint64_t),
              recsys_model_cmp_u64);

        for (i = 0; i < ctx->train.nitems; i++) {
            ctx->popular[i] = (uint32_t) keys[i];
        }

        free(keys);
    }

    free(count);

    limit = ctx->job->conf->model.holdout.users;

    if (limit == 0 || ctx->test.evaluated <= limit) {
        return 0;
    }

    cand = malloc((size_t) ctx->test.evaluated * sizeof(uint32_t));
    if (cand == NULL) {
        return -1;
    }

    j = 0;

    for (i = 0; i < ctx->test.nusers; i++) {
        if (ctx->test.ptr[i + 1] > ctx->test.ptr[i]) {
            cand[j++] = i;
        }
    }

    s = ctx->job->conf->model.holdout.seed ^ 0x5eed;

    for (i = 0; i < limit; i++) {
        t = i + (uint32_t) recsys_rng_below(&s, j - i);
        swap = cand[i];
        cand[i] = cand[t];
        cand[t] = swap;
    }

    qsort(cand, limit, sizeof(uint32_t), recsys_model_cmp_u32);
    ctx->users = cand;
    ctx->nusers = limit;

    return 0;
}


/* itemsim.bin in the generation's rows: compact rows mapped back */

static int
recsys_model_write(recsys_model_ctx_t *ctx, const recsys_itemsim_t *s,
    uint32_t algorithm, char *err, size_t errlen)
{
    int               rc;
    char              path[4096 + 32];
    uint32_t          r, c;
    uint64_t          e, at;
    recsys_itemsim_t  out;

    memset(&out, 0, sizeof(recsys_itemsim_t));

    out.nitems = ctx->nfull;
    out.m = s->m ? s->m : 1;
    out.ptr = calloc((size_t) ctx->nfull + 1, sizeof(uint64_t));
    out.cols = malloc((s->ptr[s->nitems] + 1) * sizeof(uint32_t));
    out.weights = malloc((s->ptr[s->nitems] + 1) * sizeof(float));

    if (out.ptr == NULL || out.cols == NULL || out.weights == NULL) {
        recsys_itemsim_free(&out);
        snprintf(err, errlen, "out of memory writing %s",
                 RECSYS_ITEMSIM_FILE);
        return -1;
    }

    at = 0;
    c = 0;

    for (r = 0; r < ctx->nfull; r++) {
        out.ptr[r] = at;

        if (ctx->compact[r] == RECSYS_ROW_NONE) {
            continue;
        }

        c = ctx->compact[r];

        for (e = s->ptr[c]; e < s->ptr[c + 1]; e++) {
            out.cols[at] = ctx->full[s->cols[e]];
            out.weights[at] = s->weights[e];
            at++;
        }
    }

    out.ptr[ctx->nfull] = at;

    snprintf(path, sizeof(path), "%s/%s", ctx->job->dir,
             RECSYS_ITEMSIM_FILE);

    rc = recsys_itemsim_write(&out, algorithm, path, err, errlen);
    recsys_itemsim_free(&out);

    return rc;
}


static int
recsys_model_cmp_u32(const void *a, const void *b)
{
    uint32_t  x = *(const uint32_t *) a, y = *(const uint32_t *) b;

    return (x > y) - (x < y);
}


static int
recsys_model_cmp_u64(const void *a, const void *b)
{
    uint64_t  x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return (x > y) - (x < y);
}
