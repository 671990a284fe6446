/*
 * Parallel loop: threads take chunks from one atomic counter.
 */

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "recsys_parallel.h"


typedef struct {
    uint64_t            n;
    uint64_t            chunk;
    uint64_t            next;           /* atomic */
    recsys_parallel_pt  fn;
    void               *data;
} recsys_parallel_job_t;


typedef struct {
    recsys_parallel_job_t  *job;
    unsigned                worker;
} recsys_parallel_arg_t;


static void *recsys_parallel_run(void *data);


void
recsys_parallel_for(uint64_t n, uint64_t chunk, unsigned threads,
    recsys_parallel_pt fn, void *data)
{
    unsigned                i, started;
    pthread_t              *tids;
    recsys_parallel_arg_t  *args, self;
    recsys_parallel_job_t   job;

    if (n == 0) {
        return;
    }

    job.n = n;
    job.chunk = chunk ? chunk : 1;
    job.next = 0;
    job.fn = fn;
    job.data = data;

    if (threads > n) {
        threads = (unsigned) n;
    }

    tids = NULL;
    args = NULL;
    started = 0;

    if (threads > 1) {
        tids = calloc(threads, sizeof(pthread_t));
        args = calloc(threads, sizeof(recsys_parallel_arg_t));
    }

    if (tids != NULL && args != NULL) {
        for (i = 1; i < threads; i++) {
            args[started].job = &job;
            args[started].worker = started + 1;

            if (pthread_create(&tids[started], NULL, recsys_parallel_run,
                               &args[started])
                != 0)
            {
                break;
            }

            started++;
        }
    }

    self.job = &job;
    self.worker = 0;
    recsys_parallel_run(&self);

    for (i = 0; i < started; i++) {
        pthread_join(tids[i], NULL);
    }

    free(tids);
    free(args);
}


unsigned
recsys_parallel_threads(int wanted)
{
    long  n;

    if (wanted >= 1) {
        return (unsigned) wanted;
    }

    n = sysconf(_SC_NPROCESSORS_ONLN);

    return n >= 1 ? (unsigned) n : 1;
}


static void *
recsys_parallel_run(void *data)
{
    uint64_t                begin, end;
    recsys_parallel_arg_t  *arg = data;
    recsys_parallel_job_t  *job = arg->job;

    for ( ;; ) {
        begin = __atomic_fetch_add(&job->next, job->chunk, __ATOMIC_RELAXED);

        if (begin >= job->n) {
            break;
        }

        end = begin + job->chunk < job->n ? begin + job->chunk : job->n;

        job->fn(job->data, begin, end, arg->worker);
    }

    return NULL;
}
