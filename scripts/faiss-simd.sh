#!/bin/sh
# Which FAISS the module, recsys-build and the tools link; prints "avx2"
# (Debian's libfaiss.a with its hot translation units rebuilt for AVX2,
# scripts/build-faiss-simd.sh) or "generic" (Debian's libfaiss.a alone).
#
#   FAISS_SIMD=auto      the default: avx2 when the compiler targets x86-64
#                        and this machine's CPU has avx2, fma, f16c and
#                        popcnt, else generic
#   FAISS_SIMD=avx2      avx2 whatever this machine has: a packager builds
#                        for the CPU of the target, not of the build host
#   FAISS_SIMD=generic   generic
#
# CC (default gcc) is the compiler asked for its target; FAISS_SIMD_CPUINFO
# names the file read instead of /proc/cpuinfo (t/090-faiss-simd.t).
# Exits 2 on a bad FAISS_SIMD or on avx2 for a compiler that is not x86-64.
set -eu

cpuinfo=${FAISS_SIMD_CPUINFO:-/proc/cpuinfo}

x86_64() {
    case $(${CC:-gcc} -dumpmachine 2>/dev/null) in
        x86_64-*|amd64-*) return 0 ;;
        *) return 1 ;;
    esac
}

# the flags of the first processor; a word must match whole: avx2 is not
# avx512f, and a missing file or an architecture without flags is none
cpu_has_avx2() {
    [ -r "$cpuinfo" ] || return 1
    flags=$(sed -n 's/^flags[[:space:]]*:[[:space:]]*//p' "$cpuinfo" \
            | head -n 1)
    for f in avx2 fma f16c popcnt; do
        case " $flags " in
            *" $f "*) ;;
            *) return 1 ;;
        esac
    done
}

case ${FAISS_SIMD:-auto} in
    auto)
        if x86_64 && cpu_has_avx2; then
            echo avx2
        else
            echo generic
        fi
        ;;
    avx2)
        if ! x86_64; then
            echo "faiss-simd: FAISS_SIMD=avx2 needs a compiler for x86-64," \
                 "${CC:-gcc} targets $(${CC:-gcc} -dumpmachine)" >&2
            exit 2
        fi
        echo avx2
        ;;
    generic)
        echo generic
        ;;
    *)
        echo "faiss-simd: FAISS_SIMD must be auto, avx2 or generic," \
             "not \"$FAISS_SIMD\"" >&2
        exit 2
        ;;
esac
