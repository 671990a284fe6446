/*
 * Which BLAS: OpenBLAS exports openblas_get_config() and
 * openblas_set_num_threads(); reference BLAS exports neither.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <stdio.h>

#include "recsys_blas.h"


typedef char *(*recsys_blas_config_pt)(void);
typedef void (*recsys_blas_threads_pt)(int n);


const char *
recsys_blas_name(void)
{
    void                   *sym;
    static char             name[128];
    recsys_blas_config_pt   config;

    sym = dlsym(RTLD_DEFAULT, "openblas_get_config");
    if (sym == NULL) {
        return "reference BLAS";
    }

    *(void **) &config = sym;
    snprintf(name, sizeof(name), "%s", config());

    return name;
}


void
recsys_blas_threads(int n)
{
    void                    *sym;
    recsys_blas_threads_pt   set;

    sym = dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (sym == NULL || n < 1) {
        return;
    }

    *(void **) &set = sym;
    set(n);
}
