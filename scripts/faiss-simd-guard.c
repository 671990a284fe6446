/*
 * Linked with the AVX2 FAISS objects (scripts/build-faiss-simd.sh): names
 * the variant for recsys-faissbench, and stops a program, or nginx loading
 * the module, on a CPU without AVX2 and FMA with a message, before the
 * first search would die of SIGILL.  Compiled without -mavx2, so that the
 * check itself runs on any x86-64.
 */

#include <stdio.h>
#include <unistd.h>


const char recsys_faiss_simd_variant[] = "avx2";


static void recsys_faiss_simd_guard(void) __attribute__((constructor));


static void
recsys_faiss_simd_guard(void)
{
    /* constructors may run before libgcc has probed the CPU */
    __builtin_cpu_init();

    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
        && __builtin_cpu_supports("f16c")
        && __builtin_cpu_supports("popcnt"))
    {
        return;
    }

    fputs("recsys: built with the AVX2 FAISS kernels (FAISS_SIMD=avx2), "
          "but this CPU lacks avx2, fma, f16c or popcnt; rebuild with "
          "FAISS_SIMD=generic\n", stderr);
    _exit(1);
}
