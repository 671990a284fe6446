/*
 * ALS: per sweep, Y'Y by BLAS dsyrk, then one independent dense solve
 * per row on recsys_parallel threads, each with its own f x f workspace.
 * Matrices are row-major doubles during training; dsyrk sees a row-major
 * n x f matrix as a column-major f x n one, and its column-major upper
 * triangle is the row-major lower triangle the solves use.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_als.h"
#include "recsys_blas.h"
#include "recsys_parallel.h"
#include "recsys_rng.h"


#define RECSYS_ALS_CHUNK   32
#define RECSYS_ALS_INIT    0.1


/* one half-sweep: solve the rows of "x" with "y" fixed */
typedef struct {
    const uint64_t     *ptr;
    const uint32_t     *idx;
    const float        *w;
    const double       *y;
    double             *x;
    const double       *gram;
    const double       *reg;            /* per row: lambda_r */
    uint32_t            f;
    double              alpha;
    double             *work;           /* per worker: f * f + f */
    double             *loss;           /* per row, or NULL */
    uint64_t            failed;         /* atomic */
} recsys_als_job_t;


static void recsys_als_gram(const double *y, uint32_t n, uint32_t f,
    double *gram);
static double recsys_als_reg(double lambda, double alpha, double nu,
    uint32_t ncols, const float *w, uint64_t n);
static double recsys_als_reg_loss(const double *x, const double *reg,
    uint32_t n, size_t f);
static void recsys_als_rows(void *data, uint64_t begin, uint64_t end,
    unsigned worker);
static void recsys_als_loss_rows(void *data, uint64_t begin, uint64_t end,
    unsigned worker);
static int recsys_als_solve(const recsys_als_job_t *job, const uint32_t *idx,
    const float *w, uint64_t n, double reg, double *a, double *b);
static double recsys_als_dot(const double *a, const double *b, size_t n);


int
recsys_als_train(const recsys_matrix_t *m, const recsys_als_conf_t *c,
    recsys_als_model_t *model, double *losses, char *err, size_t errlen)
{
    double            *x, *y, *work, *rowloss, *ureg, *ireg, loss;
    size_t             f, i, nx, ny;
    uint32_t           it, r;
    uint64_t           s;
    unsigned           threads;
    recsys_als_job_t   uj, ij;

    memset(model, 0, sizeof(recsys_als_model_t));

    if (c->factors == 0 || c->factors > RECSYS_ALS_MAX_FACTORS) {
        snprintf(err, errlen, "als: factors must be 1..%d, not %u",
                 RECSYS_ALS_MAX_FACTORS, c->factors);
        return -1;
    }

    if (c->iterations == 0 || c->iterations > RECSYS_ALS_MAX_ITERATIONS) {
        snprintf(err, errlen, "als: iterations must be 1..%d, not %u",
                 RECSYS_ALS_MAX_ITERATIONS, c->iterations);
        return -1;
    }

    if (!(c->lambda > 0) || !isfinite(c->lambda)) {
        snprintf(err, errlen, "als: lambda must be > 0, not %g", c->lambda);
        return -1;
    }

    if (!(c->alpha >= 0) || !isfinite(c->alpha)) {
        snprintf(err, errlen, "als: alpha must be >= 0, not %g", c->alpha);
        return -1;
    }

    if (!(c->nu >= 0 && c->nu <= RECSYS_ALS_MAX_NU)) {
        snprintf(err, errlen, "als: nu must be 0..%d, not %g",
                 RECSYS_ALS_MAX_NU, c->nu);
        return -1;
    }

    if (m->nusers == 0 || m->nitems == 0) {
        snprintf(err, errlen, "als: no %s", m->nusers ? "items" : "users");
        return -1;
    }

    f = c->factors;
    nx = (size_t) m->nusers * f;
    ny = (size_t) m->nitems * f;
    threads = recsys_parallel_threads(c->threads);

    x = calloc(nx, sizeof(double));
    y = malloc(ny * sizeof(double));
    work = malloc(threads * (f * f + f) * sizeof(double));
    rowloss = malloc(((size_t) m->nusers + m->nitems) * sizeof(double));
    ureg = malloc(((size_t) m->nusers + m->nitems) * sizeof(double));
    model->gram = malloc(f * f * sizeof(double));
    model->users = malloc(nx * sizeof(float));
    model->items = malloc(ny * sizeof(float));

    if (x == NULL || y == NULL || work == NULL || rowloss == NULL
        || ureg == NULL || model->gram == NULL || model->users == NULL
        || model->items == NULL)
    {
        free(x);
        free(y);
        free(work);
        free(rowloss);
        free(ureg);
        recsys_als_free(model);
        snprintf(err, errlen, "als: out of memory for %u x %u x %zu",
                 m->nusers, m->nitems, f);
        return -1;
    }

    /* the rows' regularisation depends on the matrix alone */

    ireg = ureg + m->nusers;

    for (r = 0; r < m->nusers; r++) {
        ureg[r] = recsys_als_reg(c->lambda, c->alpha, c->nu, m->nitems,
                                 m->user_weights + m->user_ptr[r],
                                 m->user_ptr[r + 1] - m->user_ptr[r]);
    }

    for (r = 0; r < m->nitems; r++) {
        ireg[r] = recsys_als_reg(c->lambda, c->alpha, c->nu, m->nusers,
                                 m->item_weights + m->item_ptr[r],
                                 m->item_ptr[r + 1] - m->item_ptr[r]);
    }

    s = c->seed;

    for (i = 0; i < ny; i++) {
        y[i] = RECSYS_ALS_INIT * (recsys_rng_uniform(&s) - 0.5);
    }

    uj.ptr = m->user_ptr;
    uj.idx = m->user_items;
    uj.w = m->user_weights;
    uj.y = y;
    uj.x = x;
    uj.gram = model->gram;
    uj.reg = ureg;
    uj.f = (uint32_t) f;
    uj.alpha = c->alpha;
    uj.work = work;
    uj.loss = NULL;
    uj.failed = 0;

    ij = uj;
    ij.ptr = m->item_ptr;
    ij.idx = m->item_users;
    ij.w = m->item_weights;
    ij.reg = ireg;
    ij.y = x;
    ij.x = y;

    for (it = 0; it < c->iterations; it++) {
        recsys_als_gram(y, m->nitems, (uint32_t) f, model->gram);
        recsys_parallel_for(m->nusers, RECSYS_ALS_CHUNK, threads,
                            recsys_als_rows, &uj);

        recsys_als_gram(x, m->nusers, (uint32_t) f, model->gram);
        recsys_parallel_for(m->nitems, RECSYS_ALS_CHUNK, threads,
                            recsys_als_rows, &ij);

        if (losses == NULL && it + 1 < c->iterations) {
            continue;
        }

        /* the objective, per user row then summed in order */

        recsys_als_gram(y, m->nitems, (uint32_t) f, model->gram);
        uj.loss = rowloss;
        recsys_parallel_for(m->nusers, RECSYS_ALS_CHUNK, threads,
                            recsys_als_loss_rows, &uj);
        uj.loss = NULL;

        loss = 0;

        for (i = 0; i < m->nusers; i++) {
            loss += rowloss[i];
        }

        loss += recsys_als_reg_loss(x, ureg, m->nusers, f)
                + recsys_als_reg_loss(y, ireg, m->nitems, f);
        model->loss = loss;

        if (losses != NULL) {
            losses[it] = loss;
        }
    }

    for (i = 0; i < nx; i++) {
        model->users[i] = (float) x[i];
    }

    for (i = 0; i < ny; i++) {
        model->items[i] = (float) y[i];
    }

    model->nusers = m->nusers;
    model->nitems = m->nitems;
    model->factors = (uint32_t) f;
    model->lambda = c->lambda;
    model->alpha = c->alpha;
    model->nu = c->nu;
    model->failed = uj.failed + ij.failed;

    free(x);
    free(y);
    free(work);
    free(rowloss);
    free(ureg);

    return 0;
}


int
recsys_als_fold_in(const recsys_als_model_t *model, const uint32_t *items,
    const float *weights, size_t n, float *out)
{
    int               rc;
    double           *y, *a, *b;
    size_t            f, i, j, k, used;
    uint32_t         *idx;
    recsys_als_job_t  job;
    float            *w;

    f = model->factors;

    y = malloc((n ? n : 1) * f * sizeof(double));
    a = malloc((f * f + f) * sizeof(double));
    idx = malloc((n ? n : 1) * sizeof(uint32_t));
    w = malloc((n ? n : 1) * sizeof(float));

    if (y == NULL || a == NULL || idx == NULL || w == NULL) {
        free(y);
        free(a);
        free(idx);
        free(w);
        return -1;
    }

    /* the history's item vectors, packed as rows 0..used of y */

    used = 0;

    for (i = 0; i < n; i++) {
        if (items[i] >= model->nitems) {
            continue;
        }

        for (k = 0; k < f; k++) {
            y[used * f + k] = model->items[(size_t) items[i] * f + k];
        }

        idx[used] = (uint32_t) used;
        w[used] = weights ? weights[i] : 1.0f;
        used++;
    }

    memset(&job, 0, sizeof(recsys_als_job_t));
    job.y = y;
    job.gram = model->gram;
    job.f = (uint32_t) f;
    job.alpha = model->alpha;

    b = a + f * f;
    rc = used ? recsys_als_solve(&job, idx, w, used,
                                 recsys_als_reg(model->lambda, model->alpha,
                                                model->nu, model->nitems, w,
                                                used),
                                 a, b)
              : -1;

    for (j = 0; j < f; j++) {
        out[j] = rc == 0 ? (float) b[j] : 0.0f;
    }

    free(y);
    free(a);
    free(idx);
    free(w);

    return 0;
}


void
recsys_als_free(recsys_als_model_t *model)
{
    free(model->users);
    free(model->items);
    free(model->gram);
    memset(model, 0, sizeof(recsys_als_model_t));
}


static void
recsys_als_gram(const double *y, uint32_t n, uint32_t f, double *gram)
{
    int     fi, ni;
    double  one, zero;

    fi = (int) f;
    ni = (int) n;
    one = 1.0;
    zero = 0.0;

    dsyrk_("U", "N", &fi, &ni, &one, y, &fi, &zero, gram, &fi, 1, 1);
}


/* lambda * s^nu, s = ncols + alpha * sum w: the row's total confidence */
static double
recsys_als_reg(double lambda, double alpha, double nu, uint32_t ncols,
    const float *w, uint64_t n)
{
    double    s;
    uint64_t  e;

    if (nu == 0) {
        return lambda;
    }

    s = ncols;

    for (e = 0; e < n; e++) {
        s += alpha * w[e];
    }

    return lambda * pow(s, nu);
}


static double
recsys_als_reg_loss(const double *x, const double *reg, uint32_t n,
    size_t f)
{
    double    l;
    uint32_t  r;

    l = 0;

    for (r = 0; r < n; r++) {
        l += reg[r] * recsys_als_dot(x + r * f, x + r * f, f);
    }

    return l;
}


static void
recsys_als_rows(void *data, uint64_t begin, uint64_t end, unsigned worker)
{
    size_t             f, k;
    double            *a, *b, *x;
    uint64_t           r, lo, hi;
    recsys_als_job_t  *job = data;

    f = job->f;
    a = job->work + (size_t) worker * (f * f + f);
    b = a + f * f;

    for (r = begin; r < end; r++) {
        lo = job->ptr[r];
        hi = job->ptr[r + 1];
        x = job->x + r * f;

        if (lo == hi) {
            memset(x, 0, f * sizeof(double));
            continue;
        }

        if (recsys_als_solve(job, job->idx + lo, job->w + lo, hi - lo,
                             job->reg[r], a, b)
            != 0)
        {
            __atomic_fetch_add(&job->failed, 1, __ATOMIC_RELAXED);
            memset(x, 0, f * sizeof(double));
            continue;
        }

        for (k = 0; k < f; k++) {
            x[k] = b[k];
        }
    }
}


/*
 * Row u's part of the objective without regularisation: over all items
 * sum (x.y_i)^2 = x' Y'Y x, then each observed item's term replaces its
 * (x.y_i)^2 with c (1 - x.y_i)^2.
 */
static void
recsys_als_loss_rows(void *data, uint64_t begin, uint64_t end,
    unsigned worker)
{
    float              w;
    double             l, s, c, t;
    size_t             f, a, b;
    uint64_t           r, j;
    const double      *x, *y;
    recsys_als_job_t  *job = data;

    f = job->f;

    for (r = begin; r < end; r++) {
        x = job->x + r * f;
        l = 0;

        for (a = 0; a < f; a++) {
            t = job->gram[a * f + a] * x[a];

            for (b = 0; b < a; b++) {
                t += 2 * job->gram[a * f + b] * x[b];
            }

            l += x[a] * t;
        }

        for (j = job->ptr[r]; j < job->ptr[r + 1]; j++) {
            y = job->y + (size_t) job->idx[j] * f;
            w = job->w[j];
            s = recsys_als_dot(x, y, f);

            c = 1 + job->alpha * w;
            l += c * (1 - s) * (1 - s) - s * s;
        }

        job->loss[r] = l;
    }

    (void) worker;
}


/*
 * Solves (G + reg I + sum (c_j - 1) y_j y_j') x = sum c_j y_j over the
 * n entries (idx, w) into b, by a Cholesky factorisation L L' in the
 * lower triangle of a (f x f).  Returns -1 when a pivot is not positive.
 */
static int
recsys_als_solve(const recsys_als_job_t *job, const uint32_t *idx,
    const float *w, uint64_t n, double reg, double *a, double *b)
{
    double         c, t, d, *ra;
    size_t         f, i, j;
    uint64_t       e;
    const double  *y;

    f = job->f;

    for (i = 0; i < f; i++) {
        memcpy(a + i * f, job->gram + i * f, (i + 1) * sizeof(double));
        b[i] = 0;
    }

    for (e = 0; e < n; e++) {
        y = job->y + (size_t) idx[e] * f;
        c = 1 + job->alpha * w[e];

        for (i = 0; i < f; i++) {
            t = (c - 1) * y[i];
            ra = a + i * f;

            for (j = 0; j <= i; j++) {
                ra[j] += t * y[j];
            }

            b[i] += c * y[i];
        }
    }

    for (i = 0; i < f; i++) {
        a[i * f + i] += reg;
    }

    /* L L' = a, row by row; each inner product runs over two rows */

    for (i = 0; i < f; i++) {
        ra = a + i * f;

        for (j = 0; j < i; j++) {
            ra[j] = (ra[j] - recsys_als_dot(ra, a + j * f, j)) / a[j * f + j];
        }

        t = ra[i] - recsys_als_dot(ra, ra, i);

        if (!(t > 0)) {
            return -1;
        }

        ra[i] = sqrt(t);
    }

    /* L z = b, then L' x = z */

    for (i = 0; i < f; i++) {
        b[i] = (b[i] - recsys_als_dot(a + i * f, b, i)) / a[i * f + i];
    }

    for (i = f; i-- > 0; ) {
        d = b[i] / a[i * f + i];
        b[i] = d;

        for (j = 0; j < i; j++) {
            b[j] -= a[i * f + j] * d;
        }
    }

    return 0;
}


/* four partial sums: independent additions the CPU can overlap */
static double
recsys_als_dot(const double *a, const double *b, size_t n)
{
    double  s0, s1, s2, s3;
    size_t  k;

    s0 = 0;
    s1 = 0;
    s2 = 0;
    s3 = 0;

    for (k = 0; k + 4 <= n; k += 4) {
        s0 += a[k] * b[k];
        s1 += a[k + 1] * b[k + 1];
        s2 += a[k + 2] * b[k + 2];
        s3 += a[k + 3] * b[k + 3];
    }

    for ( /* void */ ; k < n; k++) {
        s0 += a[k] * b[k];
    }

    return (s0 + s1) + (s2 + s3);
}
