/*
 * recsys-eval: offline evaluation of the training code.
 *
 *   recsys-eval movielens DIR [key=value ...]   the comparison table
 *   recsys-eval tune DIR [key=value ...]        the parameter search
 *   recsys-eval validate DIR [key=value ...]    the table on tune's split
 *   recsys-eval events FILE [key=value ...]     time and memory at scale
 *   recsys-eval split DIR OUT [key=value ...]   movielens's split as files
 *
 * movielens reads DIR/ratings.csv (MovieLens, e.g. ml-latest-small; an
 * unnamed leading index column is allowed), takes rating >= 4 as a
 * positive, holds out 20 % of each user's positives (recsys_holdout.h:
 * random, seed "seed", users with fewer than 5 positives not evaluated)
 * and prints Recall@10 and NDCG@10 of TopPop, ItemKNN, PureSVD, EASE,
 * EASE sparsified to the top m per row (served through a history) and
 * ALS (served through the user's vector), then the EASE top-m sweep.
 * Each model runs in its own child process, so its training time, CPU
 * time and peak RSS (getrusage maxrss, which includes the shared data
 * already loaded) are its own.
 *
 * tune splits the training side again (20 %, seed + 1) and searches
 * the parameters on that validation split only; the test hold-out is
 * never looked at.  validate prints the models' table on that split,
 * for one configuration (e.g. a search by hand).
 *
 * events reads JSON Lines events ({"user", "item", "weight", "ts"}; ts
 * as seconds or ISO 8601 UTC), e.g. from recsys-eventgen, and times
 * decayed popularity, ALS, item-kNN, and EASE when the catalog is within
 * its limit; metrics on a sample of eval_users users.
 *
 * split writes movielens's split (same seed, same protocol) for the
 * served half of scripts/eval-movielens.sh: OUT/items.jsonl (every item
 * with a positive, a 4-dimensional placeholder vector), OUT/events.jsonl
 * (the training side as events, one per entry) and OUT/test.jsonl (per
 * evaluated user: the training items, the held-out items).
 *
 * Keys: seed threads k als.factors als.iterations als.lambda als.alpha
 * als.nu
 * ease.lambda ease.top ease.magnitude (1: keep the top m by |weight|,
 * negative weights included; 0: the m largest) knn.neighbours
 * knn.shrink svd.factors eval_users half_life models (a comma list of
 * toppop, knn, svd, ease (dense and top m), als, sweep).
 */

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "recsys_als.h"
#include "recsys_blas.h"
#include "recsys_ease.h"
#include "recsys_holdout.h"
#include "recsys_idmap.h"
#include "recsys_interactions.h"
#include "recsys_itemsim.h"
#include "recsys_knn.h"
#include "recsys_parallel.h"
#include "recsys_popularity.h"
#include "recsys_rng.h"
#include "recsys_time.h"


#define RECSYS_EVAL_ROWS       16
#define RECSYS_EVAL_LINE       4096
#define RECSYS_EVAL_POSITIVE   4.0


typedef struct {
    uint64_t            seed;
    int                 threads;
    uint32_t            k;
    recsys_als_conf_t   als;
    recsys_ease_conf_t  ease;
    uint32_t            ease_top;
    int                 ease_keep;      /* RECSYS_ITEMSIM_* */
    int                 ease_fixed;     /* ease.lambda given: not tuned */
    recsys_knn_conf_t   knn;
    uint32_t            svd_factors;
    uint32_t            eval_users;
    double              half_life;
    char                models[256];
} recsys_eval_conf_t;


/* one line of a result table, sent from a child to the parent */
typedef struct {
    char                model[24];
    char                params[64];
    double              recall;
    double              ndcg;
    double              train_s;
    double              eval_s;
    double              model_mb;       /* the served form, when sized */
} recsys_eval_row_t;


typedef struct {
    recsys_eval_row_t   rows[RECSYS_EVAL_ROWS];
    int                 nrows;
    char                err[256];
} recsys_eval_result_t;


typedef struct {
    const recsys_eval_conf_t  *conf;
    recsys_matrix_t            train;
    recsys_holdout_t           test;
    uint32_t                  *popular;     /* items, train count desc */
    uint32_t                  *users;       /* evaluated sample or NULL */
    uint32_t                   nusers;
    unsigned                   threads;
} recsys_eval_data_t;


typedef int (*recsys_eval_model_pt)(const recsys_eval_data_t *d,
    recsys_eval_result_t *res);


typedef struct {
    const char            *name;
    recsys_eval_model_pt   run;
} recsys_eval_model_t;


/* the best of a search stage so far */
typedef struct {
    double              recall;
    double              ndcg;
    double              value;          /* the parameter that gave it */
} recsys_eval_best_t;


/* the recommenders behind recsys_holdout_evaluate() */

typedef struct {
    const recsys_eval_data_t  *d;
} recsys_eval_pop_t;


typedef struct {
    const recsys_eval_data_t  *d;
    const recsys_itemsim_t    *sim;
    recsys_itemsim_scorer_t   *scorers;     /* per worker */
} recsys_eval_sim_t;


typedef struct {
    const recsys_eval_data_t  *d;
    const double              *b;           /* n x n */
    double                    *scores;      /* n per worker */
} recsys_eval_dense_t;


/* users x d queries, or NULL: the query is the sum of history rows */
typedef struct {
    const recsys_eval_data_t  *d;
    const float               *items;
    const float               *users;
    uint32_t                   dim;
    float                     *queries;     /* dim per worker */
} recsys_eval_vec_t;


static int recsys_eval_movielens(const char *dir, recsys_eval_conf_t *c,
    int tune);
static int recsys_eval_events(const char *path, recsys_eval_conf_t *c);
static int recsys_eval_split(const char *dir, const char *out,
    const recsys_eval_conf_t *c);
static FILE *recsys_eval_open(const char *out, const char *name);
static int recsys_eval_close(FILE *fp, const char *out, const char *name);
static int recsys_eval_load(const char *path, int movielens,
    const recsys_eval_conf_t *c, recsys_matrix_t *all,
    recsys_event_t **events, size_t *n);
static int recsys_eval_read_ratings(const char *dir, recsys_idmap_t *users,
    recsys_idmap_t *items, recsys_event_t **events, size_t *n);
static int recsys_eval_read_events(const char *path, recsys_idmap_t *users,
    recsys_idmap_t *items, recsys_event_t **events, size_t *n);
static int recsys_eval_prepare(recsys_eval_data_t *d,
    const recsys_eval_conf_t *c, const recsys_matrix_t *all,
    uint64_t seed);
static void recsys_eval_release(recsys_eval_data_t *d);
static void recsys_eval_table(const recsys_eval_data_t *d,
    const recsys_eval_model_t *models, const char *title);
static int recsys_eval_child(const recsys_eval_data_t *d,
    recsys_eval_model_pt run, recsys_eval_result_t *res, double *cpu_s,
    double *peak_mb);
static void recsys_eval_tune(const recsys_eval_data_t *d,
    recsys_eval_conf_t *c);
static int recsys_eval_tune_ease(const recsys_eval_data_t *d,
    recsys_eval_conf_t *c);
static int recsys_eval_tune_knn(const recsys_eval_data_t *d,
    recsys_eval_conf_t *c);
static int recsys_eval_tune_svd(const recsys_eval_data_t *d,
    recsys_eval_conf_t *c);
static int recsys_eval_tune_als(const recsys_eval_data_t *d,
    recsys_eval_conf_t *c);
static void recsys_eval_best_init(recsys_eval_best_t *b);
static int recsys_eval_best(recsys_eval_best_t *b,
    const recsys_holdout_result_t *r);
static void recsys_eval_show(const recsys_holdout_result_t *r, double t0,
    const char *model, const char *fmt, ...);

static int recsys_eval_toppop(const recsys_eval_data_t *d,
    recsys_eval_result_t *res);
static int recsys_eval_knn(const recsys_eval_data_t *d,
    recsys_eval_result_t *res);
static int recsys_eval_svd(const recsys_eval_data_t *d,
    recsys_eval_result_t *res);
static int recsys_eval_ease(const recsys_eval_data_t *d,
    recsys_eval_result_t *res);
static int recsys_eval_ease_sweep(const recsys_eval_data_t *d,
    recsys_eval_result_t *res);
static int recsys_eval_ease_rows(const recsys_eval_data_t *d,
    const uint32_t *ms, size_t n, recsys_eval_result_t *res);
static int recsys_eval_als(const recsys_eval_data_t *d,
    recsys_eval_result_t *res);

static int recsys_eval_svd_items(const recsys_eval_data_t *d,
    uint32_t factors, float **v, char *err, size_t errlen);
static int recsys_eval_score_sim(const recsys_eval_data_t *d,
    const recsys_itemsim_t *s, recsys_holdout_result_t *r);
static int recsys_eval_score_dense(const recsys_eval_data_t *d,
    const double *b, recsys_holdout_result_t *r);
static int recsys_eval_score_vectors(const recsys_eval_data_t *d,
    const float *items, const float *users, uint32_t dim,
    recsys_holdout_result_t *r);
static uint32_t recsys_eval_pop_rec(void *data, uint32_t user, uint32_t k,
    recsys_scored_t *out, unsigned worker);
static uint32_t recsys_eval_sim_rec(void *data, uint32_t user, uint32_t k,
    recsys_scored_t *out, unsigned worker);
static uint32_t recsys_eval_dense_rec(void *data, uint32_t user, uint32_t k,
    recsys_scored_t *out, unsigned worker);
static uint32_t recsys_eval_vec_rec(void *data, uint32_t user, uint32_t k,
    recsys_scored_t *out, unsigned worker);
static uint32_t recsys_eval_fill(const recsys_eval_data_t *d, uint32_t user,
    uint32_t n, uint32_t k, recsys_scored_t *out);
static int recsys_eval_seen(const recsys_eval_data_t *d, uint32_t user,
    uint32_t item);

static void recsys_eval_row(recsys_eval_result_t *res, const char *model,
    const char *params, const recsys_holdout_result_t *r, double train_s,
    double eval_s, double model_mb);
static double recsys_eval_itemsim_mb(const recsys_itemsim_t *s);
static int recsys_eval_wants(const recsys_eval_conf_t *c, const char *name);
static int recsys_eval_set(recsys_eval_conf_t *c, const char *arg);
static double recsys_eval_rss_mb(void);
static int recsys_eval_cmp_u32(const void *a, const void *b);


static const recsys_eval_model_t  recsys_eval_models[] = {
    { "toppop", recsys_eval_toppop },
    { "knn", recsys_eval_knn },
    { "svd", recsys_eval_svd },
    { "ease", recsys_eval_ease },
    { "als", recsys_eval_als },
    { NULL, NULL }
};

static const recsys_eval_model_t  recsys_eval_sweep[] = {
    { "sweep", recsys_eval_ease_sweep },
    { NULL, NULL }
};

static const uint32_t  recsys_eval_sweep_m[] = {
    10, 20, 50, 100, 200, 500, 1000, 2000
};


int
main(int argc, char **argv)
{
    int                 i;
    recsys_eval_conf_t  c;

    memset(&c, 0, sizeof(recsys_eval_conf_t));

    /* the defaults are the parameters tune chose on ml-latest-small */

    c.seed = 1;
    c.k = 10;
    c.als.factors = 128;
    c.als.iterations = 15;
    c.als.lambda = 100;
    c.als.alpha = 30;
    c.als.seed = 1;
    c.ease.lambda = 200;
    c.ease_top = 500;
    c.ease_keep = RECSYS_ITEMSIM_MAGNITUDE;
    c.knn.neighbours = 1000;
    c.knn.shrink = 10;
    c.svd_factors = 20;
    c.eval_users = 0;
    c.half_life = 7 * 86400;
    snprintf(c.models, sizeof(c.models), "%s",
             "toppop,knn,svd,ease,als,sweep");

    if (argc < 3) {
        fprintf(stderr, "usage: recsys-eval movielens|tune|validate DIR "
                "[key=value ...]\n"
                "       recsys-eval events FILE [key=value ...]\n"
                "       recsys-eval split DIR OUT [key=value ...]\n");
        return 2;
    }

    for (i = strcmp(argv[1], "split") == 0 ? 4 : 3; i < argc; i++) {
        if (recsys_eval_set(&c, argv[i]) != 0) {
            fprintf(stderr, "recsys-eval: bad argument \"%s\"\n", argv[i]);
            return 2;
        }
    }

    c.als.threads = c.threads;
    c.ease.threads = c.threads;
    c.knn.threads = c.threads;

    recsys_blas_threads((int) recsys_parallel_threads(c.threads));

    if (strcmp(argv[1], "movielens") == 0) {
        return recsys_eval_movielens(argv[2], &c, 0);
    }

    if (strcmp(argv[1], "tune") == 0) {
        return recsys_eval_movielens(argv[2], &c, 1);
    }

    if (strcmp(argv[1], "validate") == 0) {
        return recsys_eval_movielens(argv[2], &c, 2);
    }

    if (strcmp(argv[1], "events") == 0) {
        return recsys_eval_events(argv[2], &c);
    }

    if (strcmp(argv[1], "split") == 0 && argc >= 4) {
        return recsys_eval_split(argv[2], argv[3], &c);
    }

    fprintf(stderr, "recsys-eval: unknown command \"%s\"\n", argv[1]);

    return 2;
}


static int
recsys_eval_movielens(const char *dir, recsys_eval_conf_t *c, int tune)
{
    char                    err[256];
    size_t                  n;
    uint64_t                ntrain;
    recsys_event_t         *events, *train;
    recsys_matrix_t         all, part;
    recsys_holdout_t        test;
    recsys_eval_data_t      d;
    recsys_holdout_conf_t   hc;

    if (recsys_eval_load(dir, 1, c, &all, &events, &n) != 0) {
        return 1;
    }

    free(events);

    if (!tune) {
        if (recsys_eval_prepare(&d, c, &all, c->seed) != 0) {
            return 1;
        }

        recsys_eval_table(&d, recsys_eval_models, "test hold-out");

        if (recsys_eval_wants(c, "sweep")) {
            recsys_eval_table(&d, recsys_eval_sweep,
                              "EASE sparsified to the top m of each row");
        }

        recsys_eval_release(&d);
        recsys_matrix_free(&all);

        return 0;
    }

    /* tune: the validation split is carved out of the training side */

    hc.fraction = 0.2;
    hc.min_entries = 5;
    hc.mode = RECSYS_HOLDOUT_RANDOM;
    hc.seed = c->seed;

    if (recsys_holdout_split(&all, &hc, &train, &ntrain, &test, err,
                             sizeof(err))
        != 0
        || recsys_matrix_build(&part, all.nusers, all.nitems, train, ntrain,
                               RECSYS_MERGE_MAX, NULL, err, sizeof(err))
           != 0)
    {
        fprintf(stderr, "recsys-eval: %s\n", err);
        return 1;
    }

    free(train);
    recsys_holdout_free(&test);

    if (recsys_eval_prepare(&d, c, &part, c->seed + 1) != 0) {
        return 1;
    }

    if (tune == 2) {
        recsys_eval_table(&d, recsys_eval_models, "validation hold-out");

    } else {
        recsys_eval_tune(&d, c);
    }

    recsys_eval_release(&d);
    recsys_matrix_free(&part);
    recsys_matrix_free(&all);

    return 0;
}


static int
recsys_eval_events(const char *path, recsys_eval_conf_t *c)
{
    double               t0, *pop;
    size_t               n, i;
    int64_t              now;
    recsys_event_t      *events;
    recsys_matrix_t      all;
    recsys_eval_data_t   d;

    if (recsys_eval_load(path, 0, c, &all, &events, &n) != 0) {
        return 1;
    }

    /* decayed popularity over the raw events, as of the newest one */

    pop = malloc((size_t) all.nitems * sizeof(double));
    if (pop == NULL) {
        fprintf(stderr, "recsys-eval: out of memory\n");
        return 1;
    }

    now = 0;

    for (i = 0; i < n; i++) {
        now = events[i].ts > now ? events[i].ts : now;
    }

    t0 = recsys_now_seconds();
    recsys_popularity_items(events, n, all.nitems, now, c->half_life, pop);
    printf("decayed popularity (half-life %.0f s): %.3f s\n", c->half_life,
           recsys_now_seconds() - t0);

    free(pop);
    free(events);

    if (c->eval_users == 0) {
        c->eval_users = 5000;
    }

    if (recsys_eval_prepare(&d, c, &all, c->seed) != 0) {
        return 1;
    }

    recsys_matrix_free(&all);

    printf("loaded data: %.0f MB peak RSS so far (in every peak below)\n",
           recsys_eval_rss_mb());

    recsys_eval_table(&d, recsys_eval_models, "hold-out");
    recsys_eval_release(&d);

    return 0;
}


/*
 * The split of recsys_eval_prepare() (same matrix, same hold-out) as
 * the files the served half builds and queries.  Ids are MovieLens's
 * numbers: nothing in them needs escaping.
 */
static int
recsys_eval_split(const char *dir, const char *out,
    const recsys_eval_conf_t *c)
{
    int                     rc;
    char                    err[256];
    FILE                   *fp;
    size_t                  n, len;
    uint32_t                i, u, k;
    uint64_t                e, ntrain;
    const char             *id;
    recsys_idmap_t         *users, *items;
    recsys_event_t         *events, *train;
    recsys_matrix_t         all, tm;
    recsys_holdout_t        test;
    recsys_holdout_conf_t   hc;

    users = recsys_idmap_create();
    items = recsys_idmap_create();

    if (users == NULL || items == NULL
        || recsys_eval_read_ratings(dir, users, items, &events, &n) != 0)
    {
        return 1;
    }

    hc.fraction = 0.2;
    hc.min_entries = 5;
    hc.mode = RECSYS_HOLDOUT_RANDOM;
    hc.seed = c->seed;

    if (recsys_matrix_build(&all, recsys_idmap_count(users),
                            recsys_idmap_count(items), events, n,
                            RECSYS_MERGE_MAX, NULL, err, sizeof(err)) != 0
        || recsys_holdout_split(&all, &hc, &train, &ntrain, &test, err,
                                sizeof(err)) != 0
        || recsys_matrix_build(&tm, all.nusers, all.nitems, train, ntrain,
                               RECSYS_MERGE_SUM, NULL, err, sizeof(err))
           != 0)
    {
        fprintf(stderr, "recsys-eval: %s\n", err);
        return 1;
    }

    rc = 1;

    /* items: a placeholder vector; the history path uses the model */

    fp = recsys_eval_open(out, "items.jsonl");
    if (fp == NULL) {
        return 1;
    }

    for (i = 0; i < all.nitems; i++) {
        id = recsys_idmap_id(items, i, &len);
        fprintf(fp, "{\"id\":\"%.*s\",\"vector\":[", (int) len, id);

        for (k = 0; k < 4; k++) {
            fprintf(fp, "%s%.3f", k ? "," : "",
                    0.001 + (double) ((i * 2654435761u + k * 40503u) % 1000)
                            / 1000);
        }

        fprintf(fp, "]}\n");
    }

    if (recsys_eval_close(fp, out, "items.jsonl") != 0) {
        return 1;
    }

    fp = recsys_eval_open(out, "events.jsonl");
    if (fp == NULL) {
        return 1;
    }

    for (u = 0; u < tm.nusers; u++) {
        for (e = tm.user_ptr[u]; e < tm.user_ptr[u + 1]; e++) {
            id = recsys_idmap_id(users, u, &len);
            fprintf(fp, "{\"user\":\"%.*s\",", (int) len, id);
            id = recsys_idmap_id(items, tm.user_items[e], &len);
            fprintf(fp, "\"item\":\"%.*s\",\"type\":\"rating\","
                    "\"ts\":%lld,\"weight\":1}\n", (int) len, id,
                    (long long) tm.user_ts[e]);
        }
    }

    if (recsys_eval_close(fp, out, "events.jsonl") != 0) {
        return 1;
    }

    fp = recsys_eval_open(out, "test.jsonl");
    if (fp == NULL) {
        return 1;
    }

    for (u = 0; u < test.nusers; u++) {
        if (test.ptr[u + 1] == test.ptr[u]) {
            continue;
        }

        id = recsys_idmap_id(users, u, &len);
        fprintf(fp, "{\"user\":\"%.*s\",\"history\":[", (int) len, id);

        for (e = tm.user_ptr[u]; e < tm.user_ptr[u + 1]; e++) {
            id = recsys_idmap_id(items, tm.user_items[e], &len);
            fprintf(fp, "%s\"%.*s\"", e > tm.user_ptr[u] ? "," : "",
                    (int) len, id);
        }

        fprintf(fp, "],\"truth\":[");

        for (e = test.ptr[u]; e < test.ptr[u + 1]; e++) {
            id = recsys_idmap_id(items, test.items[e], &len);
            fprintf(fp, "%s\"%.*s\"", e > test.ptr[u] ? "," : "",
                    (int) len, id);
        }

        fprintf(fp, "]}\n");
    }

    if (recsys_eval_close(fp, out, "test.jsonl") == 0) {
        printf("split (seed %llu): %u items, %llu training entries, %u"
               " users evaluated, in %s\n", (unsigned long long) c->seed,
               all.nitems, (unsigned long long) ntrain, test.evaluated, out);
        rc = 0;
    }

    recsys_matrix_free(&tm);
    recsys_matrix_free(&all);
    recsys_holdout_free(&test);
    free(train);
    free(events);
    recsys_idmap_destroy(users);
    recsys_idmap_destroy(items);

    return rc;
}


static FILE *
recsys_eval_open(const char *out, const char *name)
{
    char   path[4096];
    FILE  *fp;

    snprintf(path, sizeof(path), "%s/%s", out, name);

    fp = fopen(path, "w");
    if (fp == NULL) {
        fprintf(stderr, "recsys-eval: %s: %s\n", path, strerror(errno));
    }

    return fp;
}


static int
recsys_eval_close(FILE *fp, const char *out, const char *name)
{
    if (ferror(fp) | fclose(fp)) {
        fprintf(stderr, "recsys-eval: %s/%s: write failed\n", out, name);
        return -1;
    }

    return 0;
}


/*
 * Reads MovieLens ratings (positives only, duplicates merged by MAX) or
 * JSON Lines events (merged by SUM) into the matrix "all"; the events
 * stay for the caller (freed by it).
 */
static int
recsys_eval_load(const char *path, int movielens,
    const recsys_eval_conf_t *c, recsys_matrix_t *all,
    recsys_event_t **events, size_t *n)
{
    int              rc;
    char             err[256];
    double           t0;
    recsys_idmap_t  *users, *items;

    users = recsys_idmap_create();
    items = recsys_idmap_create();
    rc = -1;
    t0 = recsys_now_seconds();

    if (users == NULL || items == NULL) {
        fprintf(stderr, "recsys-eval: out of memory\n");
        goto done;
    }

    if ((movielens
         ? recsys_eval_read_ratings(path, users, items, events, n)
         : recsys_eval_read_events(path, users, items, events, n))
        != 0)
    {
        goto done;
    }

    if (recsys_matrix_build(all, recsys_idmap_count(users),
                            recsys_idmap_count(items), *events, *n,
                            movielens ? RECSYS_MERGE_MAX : RECSYS_MERGE_SUM,
                            NULL, err, sizeof(err))
        != 0)
    {
        fprintf(stderr, "recsys-eval: %s\n", err);
        free(*events);
        goto done;
    }

    printf("%s %s: %zu %s, %u users, %u items, %llu entries, read in "
           "%.2f s\n", movielens ? "MovieLens" : "events", path, *n,
           movielens ? "positives (rating >= 4)" : "events", all->nusers,
           all->nitems, (unsigned long long) all->nnz,
           recsys_now_seconds() - t0);
    printf("BLAS: %s; threads: %u\n", recsys_blas_name(),
           recsys_parallel_threads(c->threads));
    rc = 0;

done:

    recsys_idmap_destroy(users);
    recsys_idmap_destroy(items);

    return rc;
}


/*
 * ratings.csv: a header naming userId, movieId, rating and timestamp in
 * any order (an unnamed index column is just another column).
 */
static int
recsys_eval_read_ratings(const char *dir, recsys_idmap_t *users,
    recsys_idmap_t *items, recsys_event_t **events, size_t *n)
{
    int              col, cu, ci, cr, ct, line;
    char             path[4096], buf[RECSYS_EVAL_LINE], *p, *f[8];
    FILE            *fp;
    size_t           cap, len;
    int64_t          u, i;
    recsys_event_t   ev;

    snprintf(path, sizeof(path), "%s/ratings.csv", dir);

    fp = fopen(path, "r");
    if (fp == NULL) {
        fprintf(stderr, "recsys-eval: %s: %s\n", path, strerror(errno));
        return -1;
    }

    *events = NULL;
    *n = 0;
    cap = 0;
    cu = ci = cr = ct = -1;
    line = 0;

    while (fgets(buf, sizeof(buf), fp) != NULL) {
        line++;
        len = strcspn(buf, "\r\n");
        buf[len] = '\0';

        col = 0;
        p = buf;

        while (col < 8) {
            f[col++] = p;
            p = strchr(p, ',');

            if (p == NULL) {
                break;
            }

            *p++ = '\0';
        }

        if (line == 1) {
            while (col-- > 0) {
                cu = strcmp(f[col], "userId") == 0 ? col : cu;
                ci = strcmp(f[col], "movieId") == 0 ? col : ci;
                cr = strcmp(f[col], "rating") == 0 ? col : cr;
                ct = strcmp(f[col], "timestamp") == 0 ? col : ct;
            }

            if (cu < 0 || ci < 0 || cr < 0 || ct < 0) {
                fprintf(stderr, "recsys-eval: %s: the header lacks userId, "
                        "movieId, rating or timestamp\n", path);
                fclose(fp);
                return -1;
            }

            continue;
        }

        if (col <= cu || col <= ci || col <= cr || col <= ct) {
            fprintf(stderr, "recsys-eval: %s:%d: too few columns\n", path,
                    line);
            fclose(fp);
            return -1;
        }

        if (strtod(f[cr], NULL) < RECSYS_EVAL_POSITIVE) {
            continue;
        }

        u = recsys_idmap_add(users, f[cu], strlen(f[cu]));
        i = recsys_idmap_add(items, f[ci], strlen(f[ci]));

        ev.user = (uint32_t) u;
        ev.item = (uint32_t) i;
        ev.weight = 1.0f;
        ev.ts = strtoll(f[ct], NULL, 10);

        if (u < 0 || i < 0
            || recsys_events_append(events, n, &cap, &ev) != 0)
        {
            fprintf(stderr, "recsys-eval: out of memory\n");
            fclose(fp);
            return -1;
        }
    }

    fclose(fp);

    return 0;
}


static int
recsys_eval_read_events(const char *path, recsys_idmap_t *users,
    recsys_idmap_t *items, recsys_event_t **events, size_t *n)
{
    int              line;
    char            *buf;
    FILE            *fp;
    size_t           cap;
    cJSON           *o, *ju, *ji, *jw, *jt;
    int64_t          u, i;
    recsys_event_t   ev;

    fp = fopen(path, "r");
    if (fp == NULL) {
        fprintf(stderr, "recsys-eval: %s: %s\n", path, strerror(errno));
        return -1;
    }

    buf = malloc(RECSYS_EVAL_LINE);
    if (buf == NULL) {
        fclose(fp);
        return -1;
    }

    *events = NULL;
    *n = 0;
    cap = 0;
    line = 0;

    while (fgets(buf, RECSYS_EVAL_LINE, fp) != NULL) {
        line++;

        o = cJSON_Parse(buf);
        ju = cJSON_GetObjectItemCaseSensitive(o, "user");
        ji = cJSON_GetObjectItemCaseSensitive(o, "item");
        jw = cJSON_GetObjectItemCaseSensitive(o, "weight");
        jt = cJSON_GetObjectItemCaseSensitive(o, "ts");

        if (!cJSON_IsString(ju) || !cJSON_IsString(ji)
            || (jw != NULL && !cJSON_IsNumber(jw)))
        {
            fprintf(stderr, "recsys-eval: %s:%d: not an event\n", path,
                    line);
            cJSON_Delete(o);
            free(buf);
            fclose(fp);
            return -1;
        }

        ev.weight = jw ? (float) jw->valuedouble : 1.0f;
        ev.ts = 0;

        if (cJSON_IsNumber(jt)) {
            ev.ts = (int64_t) jt->valuedouble;

        } else if (cJSON_IsString(jt)
                   && recsys_time_parse(jt->valuestring,
                                        strlen(jt->valuestring), &ev.ts)
                      != 0)
        {
            fprintf(stderr, "recsys-eval: %s:%d: bad ts\n", path, line);
            cJSON_Delete(o);
            free(buf);
            fclose(fp);
            return -1;
        }

        u = recsys_idmap_add(users, ju->valuestring, strlen(ju->valuestring));
        i = recsys_idmap_add(items, ji->valuestring, strlen(ji->valuestring));
        cJSON_Delete(o);

        ev.user = (uint32_t) u;
        ev.item = (uint32_t) i;

        if (u < 0 || i < 0
            || recsys_events_append(events, n, &cap, &ev) != 0)
        {
            fprintf(stderr, "recsys-eval: out of memory\n");
            free(buf);
            fclose(fp);
            return -1;
        }
    }

    free(buf);
    fclose(fp);

    return 0;
}


/* the split of "all" with seed, the popularity order, the user sample */
static int
recsys_eval_prepare(recsys_eval_data_t *d, const recsys_eval_conf_t *c,
    const recsys_matrix_t *all, uint64_t seed)
{
    char                    err[256];
    double                 *pop;
    uint32_t                i, j, t, swap, *cand;
    uint64_t                ntrain, s;
    recsys_event_t         *train;
    recsys_scored_t        *order;
    recsys_topk_t           top;
    recsys_holdout_conf_t   hc;

    memset(d, 0, sizeof(recsys_eval_data_t));
    d->conf = c;
    d->threads = recsys_parallel_threads(c->threads);

    hc.fraction = 0.2;
    hc.min_entries = 5;
    hc.mode = RECSYS_HOLDOUT_RANDOM;
    hc.seed = seed;

    if (recsys_holdout_split(all, &hc, &train, &ntrain, &d->test, err,
                             sizeof(err))
        != 0
        || recsys_matrix_build(&d->train, all->nusers, all->nitems, train,
                               ntrain, RECSYS_MERGE_SUM, NULL, err,
                               sizeof(err))
           != 0)
    {
        fprintf(stderr, "recsys-eval: %s\n", err);
        return -1;
    }

    /* TopPop's order: training counts desc, item asc */

    pop = malloc((size_t) all->nitems * sizeof(double));
    order = malloc((size_t) all->nitems * sizeof(recsys_scored_t));
    d->popular = malloc((size_t) all->nitems * sizeof(uint32_t));

    if (pop == NULL || order == NULL || d->popular == NULL) {
        fprintf(stderr, "recsys-eval: out of memory\n");
        return -1;
    }

    for (i = 0; i < ntrain; i++) {
        train[i].weight = 1.0f;
    }

    recsys_popularity_items(train, ntrain, all->nitems, 0, 0, pop);
    recsys_topk_init(&top, order, all->nitems);

    for (i = 0; i < all->nitems; i++) {
        recsys_topk_push(&top, i, (float) pop[i]);
    }

    recsys_topk_sort(&top);

    for (i = 0; i < all->nitems; i++) {
        d->popular[i] = order[i].row;
    }

    free(pop);
    free(order);
    free(train);

    printf("split: %llu training entries, %llu held out, %u users "
           "evaluated (seed %llu)\n", (unsigned long long) ntrain,
           (unsigned long long) d->test.ptr[d->test.nusers],
           d->test.evaluated, (unsigned long long) seed);

    if (c->eval_users == 0 || c->eval_users >= d->test.evaluated) {
        return 0;
    }

    /* a seeded sample of the evaluated users, ascending */

    cand = malloc((size_t) d->test.evaluated * sizeof(uint32_t));
    if (cand == NULL) {
        return -1;
    }

    j = 0;

    for (i = 0; i < d->test.nusers; i++) {
        if (d->test.ptr[i + 1] > d->test.ptr[i]) {
            cand[j++] = i;
        }
    }

    s = seed ^ 0x5eed;

    for (i = 0; i < c->eval_users; i++) {
        t = i + (uint32_t) recsys_rng_below(&s, j - i);
        swap = cand[i];
        cand[i] = cand[t];
        cand[t] = swap;
    }

    qsort(cand, c->eval_users, sizeof(uint32_t), recsys_eval_cmp_u32);
    d->users = cand;
    d->nusers = c->eval_users;

    printf("metrics on a sample of %u of them\n", d->nusers);

    return 0;
}


static void
recsys_eval_release(recsys_eval_data_t *d)
{
    recsys_matrix_free(&d->train);
    recsys_holdout_free(&d->test);
    free(d->popular);
    free(d->users);
}


static void
recsys_eval_table(const recsys_eval_data_t *d,
    const recsys_eval_model_t *models, const char *title)
{
    int                    i, r;
    double                 cpu, peak;
    recsys_eval_result_t   res;

    printf("\n%s (k = %u)\n", title, d->conf->k);
    printf("%-16s %-32s %9s %9s %8s %8s %8s %8s\n", "model", "parameters",
           "Recall@k", "NDCG@k", "train_s", "eval_s", "cpu_s", "peak_MB");

    for (i = 0; models[i].name != NULL; i++) {
        if (models != recsys_eval_sweep
            && !recsys_eval_wants(d->conf, models[i].name))
        {
            continue;
        }

        if (recsys_eval_child(d, models[i].run, &res, &cpu, &peak) != 0) {
            printf("%-16s failed: %s\n", models[i].name, res.err);
            continue;
        }

        for (r = 0; r < res.nrows; r++) {
            printf("%-16s %-32s %9.4f %9.4f %8.2f %8.2f %8.1f %8.0f",
                   res.rows[r].model, res.rows[r].params, res.rows[r].recall,
                   res.rows[r].ndcg, res.rows[r].train_s, res.rows[r].eval_s,
                   cpu, peak);

            if (res.rows[r].model_mb > 0) {
                printf("  %.1f MB served", res.rows[r].model_mb);
            }

            printf("\n");
        }

        if (res.err[0] != '\0') {
            printf("%-16s %s\n", "", res.err);
        }

        fflush(stdout);
    }
}


/*
 * Runs one model in a child: its result comes back through a pipe, its
 * CPU time and peak RSS through wait4().
 */
static int
recsys_eval_child(const recsys_eval_data_t *d, recsys_eval_model_pt run,
    recsys_eval_result_t *res, double *cpu_s, double *peak_mb)
{
    int            fd[2], status, rc;
    char          *p;
    pid_t          pid;
    size_t         got;
    ssize_t        n;
    struct rusage  ru;

    memset(res, 0, sizeof(recsys_eval_result_t));
    fflush(stdout);

    if (pipe(fd) != 0) {
        snprintf(res->err, sizeof(res->err), "pipe: %s", strerror(errno));
        return -1;
    }

    pid = fork();

    if (pid < 0) {
        snprintf(res->err, sizeof(res->err), "fork: %s", strerror(errno));
        close(fd[0]);
        close(fd[1]);
        return -1;
    }

    if (pid == 0) {
        close(fd[0]);
        rc = run(d, res);

        if (rc != 0 && res->err[0] == '\0') {
            snprintf(res->err, sizeof(res->err), "failed");
        }

        res->nrows = rc == 0 ? res->nrows : -1;
        p = (char *) res;
        got = 0;

        while (got < sizeof(recsys_eval_result_t)) {
            n = write(fd[1], p + got, sizeof(recsys_eval_result_t) - got);

            if (n <= 0) {
                _exit(1);
            }

            got += (size_t) n;
        }

        _exit(0);
    }

    close(fd[1]);
    p = (char *) res;
    got = 0;

    while (got < sizeof(recsys_eval_result_t)) {
        n = read(fd[0], p + got, sizeof(recsys_eval_result_t) - got);

        if (n <= 0) {
            break;
        }

        got += (size_t) n;
    }

    close(fd[0]);

    if (wait4(pid, &status, 0, &ru) < 0) {
        snprintf(res->err, sizeof(res->err), "wait4: %s", strerror(errno));
        return -1;
    }

    *cpu_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
             + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    *peak_mb = (double) ru.ru_maxrss / 1024;

    if (got != sizeof(recsys_eval_result_t) || !WIFEXITED(status)
        || WEXITSTATUS(status) != 0)
    {
        snprintf(res->err, sizeof(res->err), "the child died (status %d)",
                 status);
        return -1;
    }

    return res->nrows < 0 ? -1 : 0;
}


/*
 * The search, on the validation split d holds: EASE's lambda (unless
 * ease.lambda was given), then the smallest top m (largest values or
 * largest magnitudes) within 1 % of dense EASE on both metrics;
 * item-kNN's neighbours x shrink; PureSVD's factors; ALS's lambda x
 * alpha at 64 factors and 15 iterations, then factors, then iterations.
 * Each stage keeps the best Recall@k (NDCG@k on a tie).  The chosen
 * values end up in c.
 */
static void
recsys_eval_tune(const recsys_eval_data_t *d, recsys_eval_conf_t *c)
{
    int                 rc;
    recsys_eval_data_t  dd;

    dd = *d;
    dd.conf = c;

    printf("\nparameter search on the validation split "
           "(Recall@%u NDCG@%u seconds)\n", c->k, c->k);

    rc = 0;

    if (recsys_eval_wants(c, "ease")) {
        rc |= recsys_eval_tune_ease(&dd, c);
    }

    if (recsys_eval_wants(c, "knn")) {
        rc |= recsys_eval_tune_knn(&dd, c);
    }

    if (recsys_eval_wants(c, "svd")) {
        rc |= recsys_eval_tune_svd(&dd, c);
    }

    if (recsys_eval_wants(c, "als")) {
        rc |= recsys_eval_tune_als(&dd, c);
    }

    printf("\n%s: ease.lambda=%g ease.top=%u ease.magnitude=%d "
           "knn.neighbours=%u knn.shrink=%g svd.factors=%u als.factors=%u "
           "als.iterations=%u als.lambda=%g als.alpha=%g\n",
           rc ? "chosen before a failure" : "chosen", c->ease.lambda,
           c->ease_top, c->ease_keep, c->knn.neighbours, c->knn.shrink,
           c->svd_factors, c->als.factors, c->als.iterations, c->als.lambda,
           c->als.alpha);
}


static int
recsys_eval_tune_ease(const recsys_eval_data_t *d, recsys_eval_conf_t *c)
{
    int                      k;
    char                     err[256];
    size_t                   i, j, nm;
    double                  *b, t0;
    recsys_itemsim_t         s;
    recsys_eval_best_t       best;
    recsys_holdout_result_t  r, dense;
    static const double      lambdas[] = { 50, 100, 200, 300, 500, 800,
                                           1200, 2000 };

    recsys_eval_best_init(&best);
    best.value = c->ease.lambda;

    for (i = 0; !c->ease_fixed && i < sizeof(lambdas) / sizeof(double); i++)
    {
        c->ease.lambda = lambdas[i];
        t0 = recsys_now_seconds();

        if (recsys_ease_train(&d->train, &c->ease, &b, err, sizeof(err)) != 0
            || recsys_eval_score_dense(d, b, &r) != 0)
        {
            printf("ease: %s\n", err);
            return -1;
        }

        free(b);
        recsys_eval_show(&r, t0, "EASE", "lambda=%g", lambdas[i]);

        if (recsys_eval_best(&best, &r)) {
            best.value = lambdas[i];
        }
    }

    c->ease.lambda = best.value;

    if (recsys_ease_train(&d->train, &c->ease, &b, err, sizeof(err)) != 0
        || recsys_eval_score_dense(d, b, &dense) != 0)
    {
        printf("ease: %s\n", err);
        return -1;
    }

    /* the smallest m, and with it the mode, that stays within 1 % */

    nm = sizeof(recsys_eval_sweep_m) / sizeof(uint32_t);
    c->ease_top = 0;

    for (j = 0; j < 2 * nm; j++) {
        i = j % nm;
        k = j < nm ? RECSYS_ITEMSIM_LARGEST : RECSYS_ITEMSIM_MAGNITUDE;
        t0 = recsys_now_seconds();

        if (recsys_itemsim_from_dense(&s, b, d->train.nitems,
                                      recsys_eval_sweep_m[i], k, c->threads)
            != 0
            || recsys_eval_score_sim(d, &s, &r) != 0)
        {
            printf("ease: out of memory\n");
            free(b);
            return -1;
        }

        recsys_itemsim_free(&s);
        recsys_eval_show(&r, t0, "EASE top", "m=%u %s %.2f%% %.2f%%",
                         recsys_eval_sweep_m[i], k ? "|w|" : "w",
                         100 * r.recall / dense.recall,
                         100 * r.ndcg / dense.ndcg);

        if (r.recall >= 0.99 * dense.recall && r.ndcg >= 0.99 * dense.ndcg
            && (c->ease_top == 0 || recsys_eval_sweep_m[i] < c->ease_top))
        {
            c->ease_top = recsys_eval_sweep_m[i];
            c->ease_keep = k;
        }
    }

    free(b);

    if (c->ease_top == 0) {
        c->ease_top = recsys_eval_sweep_m[nm - 1];
        c->ease_keep = RECSYS_ITEMSIM_MAGNITUDE;
    }

    return 0;
}


static int
recsys_eval_tune_knn(const recsys_eval_data_t *d, recsys_eval_conf_t *c)
{
    char                     err[256];
    size_t                   i, j;
    double                   t0;
    recsys_itemsim_t         s;
    recsys_knn_conf_t        kc;
    recsys_eval_best_t       best;
    recsys_holdout_result_t  r;
    static const uint32_t    ms[] = { 20, 50, 100, 200, 500, 1000 };
    static const double      shrinks[] = { 0, 10, 50, 100 };

    recsys_eval_best_init(&best);
    kc = c->knn;

    for (i = 0; i < sizeof(ms) / sizeof(uint32_t); i++) {
        for (j = 0; j < sizeof(shrinks) / sizeof(double); j++) {
            kc.neighbours = ms[i];
            kc.shrink = shrinks[j];
            t0 = recsys_now_seconds();

            if (recsys_knn_train(&d->train, &kc, &s, err, sizeof(err)) != 0
                || recsys_eval_score_sim(d, &s, &r) != 0)
            {
                printf("knn: %s\n", err);
                return -1;
            }

            recsys_itemsim_free(&s);
            recsys_eval_show(&r, t0, "ItemKNN", "m=%u shrink=%g", ms[i],
                             shrinks[j]);

            if (recsys_eval_best(&best, &r)) {
                c->knn = kc;
            }
        }
    }

    return 0;
}


/* one decomposition at the most factors; fewer are its leading columns */
static int
recsys_eval_tune_svd(const recsys_eval_data_t *d, recsys_eval_conf_t *c)
{
    char                     err[256];
    float                   *all, *v;
    size_t                   i, j, f, nf;
    double                   t0;
    recsys_eval_best_t       best;
    recsys_holdout_result_t  r;
    static const uint32_t    factors[] = { 10, 20, 30, 50, 75, 100, 150,
                                           200 };

    recsys_eval_best_init(&best);
    nf = sizeof(factors) / sizeof(uint32_t);
    t0 = recsys_now_seconds();

    if (recsys_eval_svd_items(d, factors[nf - 1], &all, err, sizeof(err))
        != 0)
    {
        printf("svd: %s\n", err);
        return -1;
    }

    printf("PureSVD    decomposition                      %8.2f\n",
           recsys_now_seconds() - t0);

    v = malloc((size_t) d->train.nitems * factors[nf - 1] * sizeof(float));
    if (v == NULL) {
        free(all);
        return -1;
    }

    for (i = 0; i < nf; i++) {
        t0 = recsys_now_seconds();

        for (j = 0; j < d->train.nitems; j++) {
            for (f = 0; f < factors[i]; f++) {
                v[j * factors[i] + f] = all[j * factors[nf - 1] + f];
            }
        }

        if (recsys_eval_score_vectors(d, v, NULL, factors[i], &r) != 0) {
            free(all);
            free(v);
            return -1;
        }

        recsys_eval_show(&r, t0, "PureSVD", "factors=%u", factors[i]);

        if (recsys_eval_best(&best, &r)) {
            c->svd_factors = factors[i];
        }
    }

    free(all);
    free(v);

    return 0;
}


/* a grid of (lambda, alpha), then factors, then iterations */
static int
recsys_eval_tune_als(const recsys_eval_data_t *d, recsys_eval_conf_t *c)
{
    char                     err[256];
    size_t                   i, nl, na, nf, ni;
    double                   t0;
    recsys_als_conf_t        ac;
    recsys_eval_best_t       best;
    recsys_als_model_t       model;
    recsys_holdout_result_t  r;
    static const double      lambdas[] = { 0.1, 1, 10, 50, 100, 200, 500 };
    static const double      alphas[] = { 3, 10, 30 };
    static const uint32_t    factors[] = { 16, 32, 128 };
    static const uint32_t    iterations[] = { 30 };

    recsys_eval_best_init(&best);
    nl = sizeof(lambdas) / sizeof(double);
    na = sizeof(alphas) / sizeof(double);
    nf = sizeof(factors) / sizeof(uint32_t);
    ni = sizeof(iterations) / sizeof(uint32_t);

    c->als.factors = 64;
    c->als.iterations = 15;

    for (i = 0; i < nl * na + nf + ni; i++) {
        ac = c->als;

        if (i < nl * na) {
            ac.lambda = lambdas[i / na];
            ac.alpha = alphas[i % na];

        } else if (i < nl * na + nf) {
            ac.factors = factors[i - nl * na];

        } else {
            ac.iterations = iterations[i - nl * na - nf];
        }

        t0 = recsys_now_seconds();

        if (recsys_als_train(&d->train, &ac, &model, NULL, err, sizeof(err))
            != 0
            || recsys_eval_score_vectors(d, model.items, model.users,
                                         model.factors, &r)
               != 0)
        {
            printf("als: %s\n", err);
            return -1;
        }

        recsys_als_free(&model);
        recsys_eval_show(&r, t0, "ALS", "f=%u it=%u l=%g a=%g", ac.factors,
                         ac.iterations, ac.lambda, ac.alpha);

        if (recsys_eval_best(&best, &r)) {
            c->als = ac;
        }
    }

    return 0;
}


static void
recsys_eval_best_init(recsys_eval_best_t *b)
{
    b->recall = -1;
    b->ndcg = -1;
    b->value = 0;
}


/* is r better than the best so far?  then it becomes the best */
static int
recsys_eval_best(recsys_eval_best_t *b, const recsys_holdout_result_t *r)
{
    if (r->recall > b->recall
        || (r->recall == b->recall && r->ndcg > b->ndcg))
    {
        b->recall = r->recall;
        b->ndcg = r->ndcg;
        return 1;
    }

    return 0;
}


static void
recsys_eval_show(const recsys_holdout_result_t *r, double t0,
    const char *model, const char *fmt, ...)
{
    char     params[64];
    va_list  args;

    va_start(args, fmt);
    vsnprintf(params, sizeof(params), fmt, args);
    va_end(args);

    printf("%-10s %-34s %9.4f %9.4f %8.2f\n", model, params, r->recall,
           r->ndcg, recsys_now_seconds() - t0);
    fflush(stdout);
}


static int
recsys_eval_toppop(const recsys_eval_data_t *d, recsys_eval_result_t *res)
{
    double                   t0;
    recsys_eval_pop_t        ctx;
    recsys_holdout_result_t  r;

    ctx.d = d;
    t0 = recsys_now_seconds();

    if (recsys_holdout_evaluate(&d->test, d->conf->k, d->users, d->nusers,
                                d->conf->threads, recsys_eval_pop_rec, &ctx,
                                &r)
        != 0)
    {
        return -1;
    }

    recsys_eval_row(res, "TopPop", "training counts", &r, 0,
                    recsys_now_seconds() - t0, 0);

    return 0;
}


static int
recsys_eval_knn(const recsys_eval_data_t *d, recsys_eval_result_t *res)
{
    char                     params[64];
    double                   t0, t1;
    recsys_itemsim_t         s;
    recsys_holdout_result_t  r;

    t0 = recsys_now_seconds();

    if (recsys_knn_train(&d->train, &d->conf->knn, &s, res->err,
                         sizeof(res->err))
        != 0)
    {
        return -1;
    }

    t1 = recsys_now_seconds();

    if (recsys_eval_score_sim(d, &s, &r) != 0) {
        return -1;
    }

    snprintf(params, sizeof(params), "cosine m=%u shrink=%g",
             d->conf->knn.neighbours, d->conf->knn.shrink);
    recsys_eval_row(res, "ItemKNN", params, &r, t1 - t0,
                    recsys_now_seconds() - t1, recsys_eval_itemsim_mb(&s));
    recsys_itemsim_free(&s);

    return 0;
}


static int
recsys_eval_svd(const recsys_eval_data_t *d, recsys_eval_result_t *res)
{
    char                     params[64];
    float                   *v;
    double                   t0, t1;
    recsys_holdout_result_t  r;

    t0 = recsys_now_seconds();

    if (recsys_eval_svd_items(d, d->conf->svd_factors, &v, res->err,
                              sizeof(res->err))
        != 0)
    {
        return -1;
    }

    t1 = recsys_now_seconds();

    if (recsys_eval_score_vectors(d, v, NULL, d->conf->svd_factors, &r)
        != 0)
    {
        free(v);
        return -1;
    }

    snprintf(params, sizeof(params), "factors=%u", d->conf->svd_factors);
    recsys_eval_row(res, "PureSVD", params, &r, t1 - t0,
                    recsys_now_seconds() - t1, 0);
    free(v);

    return 0;
}


static int
recsys_eval_ease(const recsys_eval_data_t *d, recsys_eval_result_t *res)
{
    return recsys_eval_ease_rows(d, &d->conf->ease_top, 1, res);
}


static int
recsys_eval_ease_sweep(const recsys_eval_data_t *d, recsys_eval_result_t *res)
{
    return recsys_eval_ease_rows(d, recsys_eval_sweep_m,
                                 sizeof(recsys_eval_sweep_m)
                                 / sizeof(uint32_t), res);
}


/*
 * Dense EASE, then its rows cut to each top m of ms[0..n) and served
 * through the history scorer; training the sparse form needs the dense
 * one first, so both share one child and one peak.
 */
static int
recsys_eval_ease_rows(const recsys_eval_data_t *d, const uint32_t *ms,
    size_t n, recsys_eval_result_t *res)
{
    char                     params[64];
    double                  *b, t0, t1;
    size_t                   i;
    recsys_itemsim_t         s;
    recsys_holdout_result_t  r, dense;

    t0 = recsys_now_seconds();

    if (recsys_ease_train(&d->train, &d->conf->ease, &b, res->err,
                          sizeof(res->err))
        != 0)
    {
        return -1;
    }

    t1 = recsys_now_seconds();

    if (recsys_eval_score_dense(d, b, &dense) != 0) {
        free(b);
        return -1;
    }

    snprintf(params, sizeof(params), "dense lambda=%g", d->conf->ease.lambda);
    recsys_eval_row(res, "EASE", params, &dense, t1 - t0,
                    recsys_now_seconds() - t1,
                    (double) RECSYS_EASE_BYTES(d->train.nitems) / (1 << 20));

    for (i = 0; i < n; i++) {
        t0 = recsys_now_seconds();

        if (recsys_itemsim_from_dense(&s, b, d->train.nitems, ms[i],
                                      d->conf->ease_keep, d->conf->threads)
            != 0)
        {
            free(b);
            return -1;
        }

        t1 = recsys_now_seconds();

        if (recsys_eval_score_sim(d, &s, &r) != 0) {
            free(b);
            recsys_itemsim_free(&s);
            return -1;
        }

        snprintf(params, sizeof(params), "m=%u %s %.1f%%/%.1f%%", ms[i],
                 d->conf->ease_keep ? "|w|" : "w",
                 100 * r.recall / dense.recall, 100 * r.ndcg / dense.ndcg);
        recsys_eval_row(res, "EASE top-m", params, &r, t1 - t0,
                        recsys_now_seconds() - t1, recsys_eval_itemsim_mb(&s));
        recsys_itemsim_free(&s);
    }

    free(b);

    return 0;
}


static int
recsys_eval_als(const recsys_eval_data_t *d, recsys_eval_result_t *res)
{
    char                     params[64];
    double                   t0, t1;
    recsys_als_model_t       model;
    recsys_holdout_result_t  r;

    t0 = recsys_now_seconds();

    if (recsys_als_train(&d->train, &d->conf->als, &model, NULL, res->err,
                         sizeof(res->err))
        != 0)
    {
        return -1;
    }

    t1 = recsys_now_seconds();

    if (recsys_eval_score_vectors(d, model.items, model.users,
                                  model.factors, &r)
        != 0)
    {
        recsys_als_free(&model);
        return -1;
    }

    snprintf(params, sizeof(params), "f=%u it=%u l=%g a=%g (user=)",
             d->conf->als.factors, d->conf->als.iterations,
             d->conf->als.lambda, d->conf->als.alpha);
    recsys_eval_row(res, "ALS", params, &r, t1 - t0, recsys_now_seconds() - t1,
                    (double) (model.nusers + model.nitems) * model.factors
                    * sizeof(float) / (1 << 20));
    recsys_als_free(&model);

    return 0;
}


/*
 * PureSVD (Cremonesi et al. 2010): the top right singular vectors V of
 * the binary user x item training matrix R; a user's scores are
 * r_u V V'.  LAPACK is column-major, so the row-major R is handed over
 * as R' (items x users), whose left singular vectors are R's right ones.
 */
static int
recsys_eval_svd_items(const recsys_eval_data_t *d, uint32_t factors,
    float **v, char *err, size_t errlen)
{
    int                     m, n, mn, lwork, info, *iwork;
    double                 *a, *s, *u, *vt, *work, q;
    size_t                  i, j;
    uint32_t                row;
    uint64_t                e;
    const recsys_matrix_t  *x = &d->train;

    m = (int) x->nitems;
    n = (int) x->nusers;
    mn = m < n ? m : n;

    if (factors == 0 || (int) factors > mn) {
        snprintf(err, errlen, "svd: factors must be 1..%d", mn);
        return -1;
    }

    a = calloc((size_t) m * n, sizeof(double));
    s = malloc((size_t) mn * sizeof(double));
    u = malloc((size_t) m * mn * sizeof(double));
    vt = malloc((size_t) mn * n * sizeof(double));
    iwork = malloc((size_t) 8 * mn * sizeof(int));
    *v = malloc((size_t) m * factors * sizeof(float));

    if (a == NULL || s == NULL || u == NULL || vt == NULL || iwork == NULL
        || *v == NULL)
    {
        snprintf(err, errlen, "svd: out of memory");
        return -1;
    }

    /* column u of R' is user u's row */

    for (row = 0; row < x->nusers; row++) {
        for (e = x->user_ptr[row]; e < x->user_ptr[row + 1]; e++) {
            a[(size_t) row * m + x->user_items[e]] = 1.0;
        }
    }

    lwork = -1;
    dgesdd_("S", &m, &n, a, &m, s, u, &m, vt, &mn, &q, &lwork, iwork, &info,
            1);
    lwork = (int) q;

    work = malloc((size_t) lwork * sizeof(double));
    if (work == NULL) {
        snprintf(err, errlen, "svd: out of memory");
        return -1;
    }

    dgesdd_("S", &m, &n, a, &m, s, u, &m, vt, &mn, work, &lwork, iwork,
            &info, 1);

    if (info != 0) {
        snprintf(err, errlen, "svd: dgesdd failed (info %d)", info);
        return -1;
    }

    for (i = 0; i < (size_t) m; i++) {
        for (j = 0; j < factors; j++) {
            (*v)[i * factors + j] = (float) u[j * m + i];
        }
    }

    free(a);
    free(s);
    free(u);
    free(vt);
    free(iwork);
    free(work);

    return 0;
}


static int
recsys_eval_score_sim(const recsys_eval_data_t *d, const recsys_itemsim_t *s,
    recsys_holdout_result_t *r)
{
    int                rc;
    unsigned           w;
    recsys_eval_sim_t  ctx;

    ctx.d = d;
    ctx.sim = s;
    ctx.scorers = calloc(d->threads, sizeof(recsys_itemsim_scorer_t));

    if (ctx.scorers == NULL) {
        return -1;
    }

    rc = 0;

    for (w = 0; w < d->threads; w++) {
        if (recsys_itemsim_scorer_init(&ctx.scorers[w], s->nitems) != 0) {
            rc = -1;
        }
    }

    if (rc == 0) {
        rc = recsys_holdout_evaluate(&d->test, d->conf->k, d->users,
                                     d->nusers, (int) d->threads,
                                     recsys_eval_sim_rec, &ctx, r);
    }

    for (w = 0; w < d->threads; w++) {
        recsys_itemsim_scorer_free(&ctx.scorers[w]);
    }

    free(ctx.scorers);

    return rc;
}


static int
recsys_eval_score_dense(const recsys_eval_data_t *d, const double *b,
    recsys_holdout_result_t *r)
{
    int                  rc;
    recsys_eval_dense_t  ctx;

    ctx.d = d;
    ctx.b = b;
    ctx.scores = malloc((size_t) d->threads * d->train.nitems
                        * sizeof(double));

    if (ctx.scores == NULL) {
        return -1;
    }

    rc = recsys_holdout_evaluate(&d->test, d->conf->k, d->users, d->nusers,
                                 (int) d->threads, recsys_eval_dense_rec,
                                 &ctx, r);
    free(ctx.scores);

    return rc;
}


static int
recsys_eval_score_vectors(const recsys_eval_data_t *d, const float *items,
    const float *users, uint32_t dim, recsys_holdout_result_t *r)
{
    int                rc;
    recsys_eval_vec_t  ctx;

    ctx.d = d;
    ctx.items = items;
    ctx.users = users;
    ctx.dim = dim;
    ctx.queries = malloc((size_t) d->threads * dim * sizeof(float));

    if (ctx.queries == NULL) {
        return -1;
    }

    rc = recsys_holdout_evaluate(&d->test, d->conf->k, d->users, d->nusers,
                                 (int) d->threads, recsys_eval_vec_rec, &ctx,
                                 r);
    free(ctx.queries);

    return rc;
}


static uint32_t
recsys_eval_pop_rec(void *data, uint32_t user, uint32_t k,
    recsys_scored_t *out, unsigned worker)
{
    recsys_eval_pop_t  *ctx = data;

    (void) worker;

    return recsys_eval_fill(ctx->d, user, 0, k, out);
}


static uint32_t
recsys_eval_sim_rec(void *data, uint32_t user, uint32_t k,
    recsys_scored_t *out, unsigned worker)
{
    uint32_t                n;
    uint64_t                lo, hi;
    recsys_eval_sim_t      *ctx = data;
    const recsys_matrix_t  *x = &ctx->d->train;

    lo = x->user_ptr[user];
    hi = x->user_ptr[user + 1];

    n = recsys_itemsim_recommend(ctx->sim, &ctx->scorers[worker],
                                 x->user_items + lo, NULL, hi - lo, k, out);

    return recsys_eval_fill(ctx->d, user, n, k, out);
}


static uint32_t
recsys_eval_dense_rec(void *data, uint32_t user, uint32_t k,
    recsys_scored_t *out, unsigned worker)
{
    double                 *s;
    size_t                  n;
    uint32_t                j, h;
    uint64_t                e, lo, hi;
    recsys_topk_t           t;
    const double           *row;
    recsys_eval_dense_t    *ctx = data;
    const recsys_matrix_t  *x = &ctx->d->train;

    n = x->nitems;
    s = ctx->scores + (size_t) worker * n;
    memset(s, 0, n * sizeof(double));

    lo = x->user_ptr[user];
    hi = x->user_ptr[user + 1];

    for (e = lo; e < hi; e++) {
        row = ctx->b + (size_t) x->user_items[e] * n;

        for (j = 0; j < n; j++) {
            s[j] += row[j];
        }
    }

    recsys_topk_init(&t, out, k);
    e = lo;

    for (j = 0; j < n; j++) {
        h = e < hi ? x->user_items[e] : UINT32_MAX;

        if (h == j) {
            e++;
            continue;
        }

        recsys_topk_push(&t, j, (float) s[j]);
    }

    return recsys_topk_sort(&t);
}


static uint32_t
recsys_eval_vec_rec(void *data, uint32_t user, uint32_t k,
    recsys_scored_t *out, unsigned worker)
{
    float                  *q;
    uint32_t                j;
    uint64_t                e, lo, hi;
    recsys_eval_vec_t      *ctx = data;
    const recsys_matrix_t  *x = &ctx->d->train;

    lo = x->user_ptr[user];
    hi = x->user_ptr[user + 1];

    if (ctx->users != NULL) {
        q = (float *) ctx->users + (size_t) user * ctx->dim;

    } else {
        q = ctx->queries + (size_t) worker * ctx->dim;
        memset(q, 0, ctx->dim * sizeof(float));

        for (e = lo; e < hi; e++) {
            for (j = 0; j < ctx->dim; j++) {
                q[j] += ctx->items[(size_t) x->user_items[e] * ctx->dim + j];
            }
        }
    }

    return recsys_topk_dot(ctx->items, x->nitems, ctx->dim, q,
                           x->user_items + lo, hi - lo, k, out);
}


/* tops a list of n up with popular items the user has not seen */
static uint32_t
recsys_eval_fill(const recsys_eval_data_t *d, uint32_t user, uint32_t n,
    uint32_t k, recsys_scored_t *out)
{
    uint32_t  i, j, item;

    for (i = 0; n < k && i < d->train.nitems; i++) {
        item = d->popular[i];

        if (recsys_eval_seen(d, user, item)) {
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
recsys_eval_seen(const recsys_eval_data_t *d, uint32_t user, uint32_t item)
{
    const recsys_matrix_t  *x = &d->train;

    return bsearch(&item, x->user_items + x->user_ptr[user],
                   x->user_ptr[user + 1] - x->user_ptr[user],
                   sizeof(uint32_t), recsys_eval_cmp_u32)
           != NULL;
}


static void
recsys_eval_row(recsys_eval_result_t *res, const char *model,
    const char *params, const recsys_holdout_result_t *r, double train_s,
    double eval_s, double model_mb)
{
    recsys_eval_row_t  *row;

    if (res->nrows >= RECSYS_EVAL_ROWS) {
        return;
    }

    row = &res->rows[res->nrows++];
    snprintf(row->model, sizeof(row->model), "%s", model);
    snprintf(row->params, sizeof(row->params), "%s", params);
    row->recall = r->recall;
    row->ndcg = r->ndcg;
    row->train_s = train_s;
    row->eval_s = eval_s;
    row->model_mb = model_mb;
}


static double
recsys_eval_itemsim_mb(const recsys_itemsim_t *s)
{
    return (double) (s->ptr[s->nitems] * (sizeof(uint32_t) + sizeof(float))
                     + ((uint64_t) s->nitems + 1) * sizeof(uint64_t))
           / (1 << 20);
}


static int
recsys_eval_wants(const recsys_eval_conf_t *c, const char *name)
{
    size_t       len;
    const char  *p;

    len = strlen(name);

    for (p = c->models; *p; ) {
        if (strncmp(p, name, len) == 0 && (p[len] == ',' || p[len] == '\0'))
        {
            return 1;
        }

        p = strchr(p, ',');
        if (p == NULL) {
            break;
        }

        p++;
    }

    return 0;
}


static int
recsys_eval_set(recsys_eval_conf_t *c, const char *arg)
{
    char          *end;
    double         v;
    const char    *eq, *val;
    size_t         klen;

    eq = strchr(arg, '=');
    if (eq == NULL) {
        return -1;
    }

    klen = (size_t) (eq - arg);
    val = eq + 1;

    if (klen == 6 && strncmp(arg, "models", 6) == 0) {
        snprintf(c->models, sizeof(c->models), "%s", val);
        return 0;
    }

    errno = 0;
    v = strtod(val, &end);

    if (*val == '\0' || *end != '\0' || errno != 0 || !isfinite(v)
        || v < 0)
    {
        return -1;
    }

#define RECSYS_EVAL_KEY(name)                                               \
    (klen == sizeof(name) - 1 && strncmp(arg, name, klen) == 0)

    if (RECSYS_EVAL_KEY("seed")) {
        c->seed = (uint64_t) v;
    } else if (RECSYS_EVAL_KEY("threads")) {
        c->threads = (int) v;
    } else if (RECSYS_EVAL_KEY("k")) {
        c->k = (uint32_t) v;
    } else if (RECSYS_EVAL_KEY("als.factors")) {
        c->als.factors = (uint32_t) v;
    } else if (RECSYS_EVAL_KEY("als.iterations")) {
        c->als.iterations = (uint32_t) v;
    } else if (RECSYS_EVAL_KEY("als.lambda")) {
        c->als.lambda = v;
    } else if (RECSYS_EVAL_KEY("als.alpha")) {
        c->als.alpha = v;
    } else if (RECSYS_EVAL_KEY("als.nu")) {
        c->als.nu = v;
    } else if (RECSYS_EVAL_KEY("ease.lambda")) {
        c->ease.lambda = v;
        c->ease_fixed = 1;
    } else if (RECSYS_EVAL_KEY("ease.top")) {
        c->ease_top = (uint32_t) v;
    } else if (RECSYS_EVAL_KEY("ease.magnitude")) {
        c->ease_keep = v != 0 ? RECSYS_ITEMSIM_MAGNITUDE
                              : RECSYS_ITEMSIM_LARGEST;
    } else if (RECSYS_EVAL_KEY("knn.neighbours")) {
        c->knn.neighbours = (uint32_t) v;
    } else if (RECSYS_EVAL_KEY("knn.shrink")) {
        c->knn.shrink = v;
    } else if (RECSYS_EVAL_KEY("svd.factors")) {
        c->svd_factors = (uint32_t) v;
    } else if (RECSYS_EVAL_KEY("eval_users")) {
        c->eval_users = (uint32_t) v;
    } else if (RECSYS_EVAL_KEY("half_life")) {
        c->half_life = v;
    } else {
        return -1;
    }

#undef RECSYS_EVAL_KEY

    return 0;
}


static double
recsys_eval_rss_mb(void)
{
    struct rusage  ru;

    getrusage(RUSAGE_SELF, &ru);

    return (double) ru.ru_maxrss / 1024;
}


static int
recsys_eval_cmp_u32(const void *a, const void *b)
{
    uint32_t  x = *(const uint32_t *) a, y = *(const uint32_t *) b;

    return x < y ? -1 : (x > y);
}
