/*
 * The fast path of search bodies: {"vector": [numbers], "k": n} read in
 * one pass without cJSON, its node per number and its strtod() per
 * number.  Anything else is left to the general parser, which then
 * answers exactly as it always did; the fast path only ever accepts
 * what the general parser reads the same way.
 */

#ifndef _RECSYS_VECBODY_H_INCLUDED_
#define _RECSYS_VECBODY_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* cJSON reads a number from at most this many bytes */
#define RECSYS_NUMBER_MAX  63


/*
 * The JSON number (RFC 8259's grammar, no sign "+", no leading zeros, no
 * bare ".") that starts at p, as a double equal to strtod()'s: exact
 * arithmetic when the significand has at most 19 digits and fits in 53
 * bits with a power of ten up to 1e22 (one correctly rounded operation,
 * Clinger's fast path), strtod() on a copy otherwise.  Returns the byte
 * after the number, or NULL when p does not start one or it is longer
 * than RECSYS_NUMBER_MAX bytes.
 */
const char *recsys_number_parse(const char *p, const char *end, double *out);

/*
 * body[0..len) is a JSON object of exactly the members "vector" (an
 * array of dimension numbers, each finite as a float) and, optionally,
 * "k" (a number), each once, with JSON white space only.  Fills vec
 * (dimension floats), *has_k and *k.  Returns 0, or -1 for every other
 * body, which the general parser must then read.
 */
int recsys_vecbody_parse(const char *body, size_t len, uint32_t dimension,
    float *vec, int *has_k, double *k);


#endif /* _RECSYS_VECBODY_H_INCLUDED_ */
