#!/bin/sh
# Rewrites fuzz/corpus/generation/seed-* from generations that recsys-build
# makes of small catalogs: every file of a generation after its
# "--recsys-fuzz-file NAME--" line (see fuzz_generation.c), the first byte
# 1 so that the target recomputes checksums.  Run after a change to the
# generation format:  fuzz/generation-seeds.sh [build dir]
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
out=$top/fuzz/corpus/generation
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the 12 items of t/data/small.jsonl under three index factories, and
# 256 synthetic ones (what PQ's training needs) under PQ
"$build"/recsys-gen synthetic 256 4 7 > "$tmp/pq.jsonl"

for f in IVF1,Flat IVF2,SQ8 IVF2,SQfp16 IVF1,PQ2; do
    name=$(echo "$f" | tr 'A-Z,' 'a-z-')
    items=$top/t/data/small.jsonl
    case $f in *PQ*) items=$tmp/pq.jsonl ;; esac
    for metric in cosine l2; do
        cat > "$tmp/$name-$metric.yaml" <<YAML
source:
  type: file
  path: $items
index:
  path: $tmp/$name-$metric
  dimension: 4
  metric: $metric
  factory: $f
  neighbors: 3
YAML
        "$build"/recsys-build -q "$tmp/$name-$metric.yaml"
        gen=$tmp/$name-$metric/current/
        {
            printf '\001'
            for file in manifest.json items.bin vectors.f32 index.faiss \
                        neighbors.bin
            do
                [ -f "$gen/$file" ] || continue
                printf -- '\n--recsys-fuzz-file %s--\n' "$file"
                cat "$gen/$file"
            done
        } > "$out/seed-$name-$metric"
    done
done
echo "generation-seeds: $(ls "$out" | wc -l) inputs in $out"
