/*
 * Shared by the fuzz targets: the libFuzzer entry point each defines, and
 * a check that stays on in release builds (assert() may be compiled out).
 */

#ifndef _RECSYS_FUZZ_H_INCLUDED_
#define _RECSYS_FUZZ_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>


#define recsys_fuzz_check(cond)                                               \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,  \
                    #cond);                                                   \
            abort();                                                          \
        }                                                                     \
    } while (0)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


#endif /* _RECSYS_FUZZ_H_INCLUDED_ */
