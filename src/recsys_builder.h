/*
 * The builder: reads a catalog's source, trains and fills the FAISS index,
 * writes a complete generation to a temp directory and publishes it.  The
 * same code serves recsys-build, the helper process and the tests.  Pure C
 * plus FAISS's C API: no nginx header.
 */

#ifndef _RECSYS_BUILDER_H_INCLUDED_
#define _RECSYS_BUILDER_H_INCLUDED_


#include "recsys_artifact.h"
#include "recsys_catalog.h"


typedef struct {
    int                 success;
    uint64_t            generation;     /* published generation */
    uint64_t            items;
    uint32_t            dimension;
    char                factory[64];    /* resolved factory */
    double              seconds;
    char                error[RECSYS_CATALOG_ERRLEN];
} recsys_build_result_t;


/*
 * Resolves factory "auto" for n items: exact IVF1,Flat for small catalogs,
 * IVF<nlist>,Flat otherwise, chosen so recall@10 stays >= 0.95 at the
 * default nprobe.  Writes the factory string into out.
 */
void recsys_factory_resolve(const char *factory, uint64_t n, uint32_t nprobe,
    char *out, size_t outlen, uint32_t *nlist);

/*
 * Builds and publishes the next generation of catalog c.  threads > 0 caps
 * OpenMP threads for the build.  Returns 0 on success; on failure nothing is
 * published and res->error says why (JSONL errors name the line number).
 */
int recsys_build(const recsys_catalog_t *c, int threads,
    recsys_build_result_t *res);


#endif /* _RECSYS_BUILDER_H_INCLUDED_ */
