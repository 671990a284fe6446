#!/bin/sh
# Training at scale (issue 12): generates a synthetic events set with
# recsys-eventgen (default 1M events x 100k items x 50k users, Zipf item
# popularity and user activity, clustered tastes) and prints the time,
# CPU time and peak RSS of decayed popularity, item-kNN and ALS on it,
# with Recall@10/NDCG@10 on a hold-out sample of users.  EASE is tried
# and refused: the catalog is above its item limit.
#
# Environment (defaults in brackets):
#   TRAIN_EVENTS [1000000] TRAIN_ITEMS [100000] TRAIN_USERS [50000]
#   RECSYS_BUILD [build]   where the tools are (made when missing); the
#                          events file goes to <RECSYS_BUILD>/bench-train/
#   EVAL_BLAS [auto]       as in scripts/eval-movielens.sh
# Extra arguments go to recsys-eval (e.g. als.factors=128); by default
# ALS has 64 factors, lambda 1, alpha 10, and item-kNN 100 neighbours.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${RECSYS_BUILD:-$root/build}
out=$build/bench-train
events=${TRAIN_EVENTS:-1000000}
items=${TRAIN_ITEMS:-100000}
users=${TRAIN_USERS:-50000}

if [ ! -x "$build/recsys-eval" ] || [ ! -x "$build/recsys-eventgen" ]; then
    make -s -C "$root" tools
fi
mkdir -p "$out"

file=$out/events-$events-$items-$users.jsonl
if [ ! -s "$file" ]; then
    "$build/recsys-eventgen" "$events" "$items" "$users" > "$file.tmp"
    mv "$file.tmp" "$file"
fi

. "$root/scripts/openblas.sh"

# the model: schema's defaults rather than MovieLens's tuned values
set -- models=toppop,knn,ease,als als.factors=64 als.lambda=1 als.alpha=10 \
    knn.neighbours=100 "$@"
echo "+ recsys-eval events $file $*"
exec "$build/recsys-eval" events "$file" "$@"
