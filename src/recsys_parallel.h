/*
 * A parallel loop over [0, n) on plain pthreads, for the training code
 * that runs in the helper process or recsys-build (never in a worker).
 * Chunks are handed out dynamically, so skewed rows (a few very active
 * users) do not leave threads idle.
 */

#ifndef _RECSYS_PARALLEL_H_INCLUDED_
#define _RECSYS_PARALLEL_H_INCLUDED_


#include <stdint.h>


/* worker is in [0, threads): an index into per-thread workspaces */
typedef void (*recsys_parallel_pt)(void *data, uint64_t begin, uint64_t end,
    unsigned worker);


/*
 * Runs fn over [0, n) in chunks of at most "chunk" on up to "threads"
 * threads, the caller's thread being one of them; a thread that cannot
 * be created only means fewer of them.  Returns when all chunks are done.
 */
void recsys_parallel_for(uint64_t n, uint64_t chunk, unsigned threads,
    recsys_parallel_pt fn, void *data);

/* "wanted" when >= 1, else the number of online CPUs */
unsigned recsys_parallel_threads(int wanted);


#endif /* _RECSYS_PARALLEL_H_INCLUDED_ */
