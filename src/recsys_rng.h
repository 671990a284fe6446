/*
 * splitmix64: a small seedable generator whose stream is the same on
 * every platform, so that training (ALS initialisation, hold-out
 * sampling) is reproducible from a seed and unit tests can record the
 * numbers an independent implementation computed from the same stream.
 */

#ifndef _RECSYS_RNG_H_INCLUDED_
#define _RECSYS_RNG_H_INCLUDED_


#include <stdint.h>


static inline uint64_t
recsys_rng_next(uint64_t *state)
{
    uint64_t  z;

    z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


/* uniform in [0, 1), 53 bits */
static inline double
recsys_rng_uniform(uint64_t *state)
{
    return (double) (recsys_rng_next(state) >> 11) * 0x1.0p-53;
}


/* uniform in [0, n) for n > 0; the bias is below n / 2^64 */
static inline uint64_t
recsys_rng_below(uint64_t *state, uint64_t n)
{
    return (uint64_t) (((unsigned __int128) recsys_rng_next(state) * n)
                       >> 64);
}


#endif /* _RECSYS_RNG_H_INCLUDED_ */
