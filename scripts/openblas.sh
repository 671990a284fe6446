# Sourced by eval-movielens.sh and bench-train.sh: with EVAL_BLAS=auto
# (the default), prefers a Debian OpenBLAS build (libopenblas0-openmp or
# libopenblas0-pthread) through LD_LIBRARY_PATH when one is installed,
# without switching the system's libblas.so.3 alternative, which nginx
# and FAISS use too.  OpenBLAS is ~14x faster than reference BLAS for
# EASE's inverse (docs/training.md).

if [ "${EVAL_BLAS:-auto}" = auto ]; then
    blas_lib=/usr/lib/$(gcc -print-multiarch)
    for blas_dir in "$blas_lib/openblas-openmp" "$blas_lib/openblas-pthread"
    do
        if [ -f "$blas_dir/libblas.so.3" ] \
           && [ -f "$blas_dir/liblapack.so.3" ]
        then
            LD_LIBRARY_PATH="$blas_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
            export LD_LIBRARY_PATH
            break
        fi
    done
fi
