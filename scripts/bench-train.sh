#!/bin/sh
# Training at scale (issue 12): generates a synthetic events set with
# recsys-eventgen (default 1M events x 100k items x 50k users, Zipf item
# popularity and user activity, clustered tastes) and prints the time,
# CPU time and peak RSS of decayed popularity, item-kNN and ALS on it,
# with Recall@10/NDCG@10 on a hold-out sample of users.  EASE is tried
# and refused: the catalog is above its item limit.
#
# Then the same events trained the way a build trains them: a catalog of
# the ITEMS items (placeholder 4-dimensional vectors) with a model:
# section (decayed popularity, item_item auto: item-kNN here, top 100),
# built by recsys-build under /usr/bin/time: wall time, CPU time and peak
# RSS of the whole build, and the model's figures from its manifest.
#
# Environment (defaults in brackets):
#   TRAIN_EVENTS [1000000] TRAIN_ITEMS [100000] TRAIN_USERS [50000]
#   RECSYS_BUILD [build]   where the tools are (made when missing); the
#                          events file goes to <RECSYS_BUILD>/bench-train/
#   EVAL_BLAS [auto]       as in scripts/eval-movielens.sh
#   TRAIN_OFFLINE [1]      0: only the build
#   TRAIN_THREADS [2]      the build's threads (recsys-build -t)
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
if [ "${TRAIN_OFFLINE:-1}" = 1 ]; then
    echo "+ recsys-eval events $file $*"
    "$build/recsys-eval" events "$file" "$@"
fi

# the build: items, catalog, recsys-build under time
itemsf=$out/items-$items.jsonl
if [ ! -s "$itemsf" ]; then
    awk -v n="$items" 'BEGIN {
        for (i = 0; i < n; i++)
            printf "{\"id\":\"i%d\",\"vector\":[%.3f,%.3f,%.3f,%.3f]}\n",
                   i, (i % 7) / 7 + .01, (i % 11) / 11 + .01,
                   (i % 13) / 13 + .01, (i % 17) / 17 + .01
    }' > "$itemsf.tmp"
    mv "$itemsf.tmp" "$itemsf"
fi

rm -rf "$out/index"
cat > "$out/train.yaml" <<END
source: {path: $itemsf}
index: {path: $out/index, dimension: 4, neighbors: 0}
events:
  types: {view: 1, click: 2, purchase: 5}
  store: {path: $file}
maintenance: {build_on_start: never}
model:
  popularity: {half_life: 7d}
  item_item: {algorithm: auto, top: 100}
  holdout: {users: 2000}
  promote_if: always
END

echo
echo "+ recsys-build -t ${TRAIN_THREADS:-2} $out/train.yaml"
/usr/bin/time -f '%e s wall, %U s user, %S s system, %M KB peak RSS' \
    -o "$out/time.txt" \
    "$build/recsys-build" -t "${TRAIN_THREADS:-2}" "$out/train.yaml"
python3 -c 'import json,sys
m = json.load(open(sys.argv[1]))["model"]
print("model: %s, %d events, %d users, %d entries, trained in %.1f s;"
      " hold-out Recall@10 %.4f NDCG@10 %.4f (%d users)" % (
      m["algorithm"], m["events"], m["users"], m["entries"],
      m["train_seconds"], m["recall_at_10"], m["ndcg_at_10"],
      m["scored_users"]))' "$out/index/current/manifest.json"
echo "recsys-build: $(cat "$out/time.txt")"
