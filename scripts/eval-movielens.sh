#!/bin/sh
# Ranking quality on MovieLens (issue 12), the offline half: TopPop,
# ItemKNN (cosine), PureSVD, dense EASE, EASE sparsified to its top m per
# row (the form served through a history) and ALS user vectors (the form
# served through user=), on one split, in one table, each with training
# time, CPU time and peak RSS; then the EASE top-m sweep.  The protocol
# (rating >= 4 is a positive, 20 % of each user's positives held out with
# seed 1, users with fewer than 5 positives not evaluated, Recall@10 over
# min(10, |held out|)) is in tools/recsys_eval.c and docs/training.md.
#
#   scripts/eval-movielens.sh [key=value ...]    the table
#   EVAL_TUNE=1 scripts/eval-movielens.sh        the parameter search,
#                                                on a validation split
#
# The data is read where it lies, never copied into the checkout.
#
# Environment (defaults in brackets):
#   MOVIELENS [<checkout>/../shared/datasets/ml-latest-small]
#   RECSYS_BUILD [build]    where the tools are (made when missing)
#   EVAL_BLAS [auto]        auto: OpenBLAS when a Debian OpenBLAS package
#                           is installed (libopenblas0-openmp or -pthread),
#                           else the system's; "system": libblas.so.3 as
#                           update-alternatives set it
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${RECSYS_BUILD:-$root/build}
data=${MOVIELENS:-$root/../shared/datasets/ml-latest-small}

if [ ! -f "$data/ratings.csv" ]; then
    echo "eval-movielens: no $data/ratings.csv (set MOVIELENS)" >&2
    exit 1
fi

if [ ! -x "$build/recsys-eval" ]; then
    make -s -C "$root" tools
fi

. "$root/scripts/openblas.sh"

if [ "${EVAL_TUNE:-0}" = 1 ]; then
    set -- tune "$data" "$@"
else
    set -- movielens "$data" "$@"
fi

echo "+ recsys-eval $*"
exec "$build/recsys-eval" "$@"
