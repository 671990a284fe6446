#!/bin/bash
# Rebuild cost from PostgreSQL: for N rows x 64 dims (100k and 1M by
# default) in a throwaway cluster (scripts/pg.sh), times
#   - COPY (SELECT <the builder's columns>) TO '/dev/null' on the server
#     (as the superuser) and \copy ... to /dev/null through psql, the cost
#     of just reading the rows;
#   - recsys-build --full (source read, k-means, add, write, fsync);
#   - recsys-build after updating 1% of the rows (incremental: reads the
#     changed rows, reuses the trained quantizer).
# and prints a table.  Not a test: nothing is asserted.
#
# Environment (defaults in brackets):
#   BENCH_SIZES ["100000 1000000"]   row counts
#   BENCH_NEIGHBORS [0]              index.neighbors (32 is the catalog
#                                    default; 0 times the index alone)
#   BENCH_THREADS [0]                maintenance.threads, 0: all cores
#   RECSYS_BUILD [build]             where recsys-build is
#   RECSYS_PG_PORT [55432]           port of the throwaway cluster
#
# Everything goes to <build>/bench-rebuild/; the cluster is stopped and
# removed at the end.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${RECSYS_BUILD:-$root/build}
out=$build/bench-rebuild
sizes=${BENCH_SIZES:-100000 1000000}
neighbors=${BENCH_NEIGHBORS:-0}
threads=${BENCH_THREADS:-0}
pgdir=$out/pg

bench_name=bench-rebuild
. "$root/scripts/bench/common.sh"

[ -x "$build/recsys-build" ] || die "$build/recsys-build missing: make tools"

mkdir -p "$out"
"$root/scripts/pg.sh" start "$pgdir"
trap '"$root/scripts/pg.sh" stop "$pgdir"' EXIT
eval "$("$root/scripts/pg.sh" env "$pgdir")"

psql_user() { psql -qX -v ON_ERROR_STOP=1 "$RECSYS_DATABASE_URL" "$@"; }
psql_admin() { psql -qX -v ON_ERROR_STOP=1 "$RECSYS_PG_ADMIN_URL" "$@"; }

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }

cols="id, embedding, title, category, popularity, attributes, updated_at,"
cols="$cols deleted"

results=$out/results.tsv
printf 'rows\tload_s\tcopy_server_s\tcopy_psql_s\tfull_s\tfull_source_s'\
'\tincr_s\tincr_source_s\tfactory\n' > "$results"

for n in $sizes; do
    t=bench_$n
    echo "== $n rows: loading"

    start=$(now)
    psql_user <<END
SET client_min_messages = warning;
DROP TABLE IF EXISTS $t;
CREATE UNLOGGED TABLE $t (
    n          integer NOT NULL,
    id         text PRIMARY KEY,
    embedding  real[] NOT NULL,
    title      text,
    category   text,
    popularity double precision,
    attributes jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted    boolean NOT NULL DEFAULT false
);
-- 64 centres, each row one of them plus noise: clustered like real data
-- changed over the past days, one a second: an incremental build reads
-- today's changes and the minute of overlap before the watermark
INSERT INTO $t (n, id, embedding, title, category, popularity, attributes,
                updated_at)
SELECT g, 'item-' || g,
       ARRAY(SELECT (sin((g % 64) * 7 + j) + (random() - 0.5) * 0.4)::real
             FROM generate_series(1, 64) j WHERE g > 0),
       'Item ' || g, 'cat' || (g % 16), (g % 1000)::float8,
       jsonb_build_object('n', g),
       now() - interval '1 day' - g * interval '1 second'
FROM generate_series(1, $n) g;
ANALYZE $t;
END
    load=$(since "$start")

    cat > "$out/catalog-$n.yaml" <<END
source:
  type: postgresql
  dsn: "\${RECSYS_DATABASE_URL}"
  table: $t
index:
  path: $out/index-$n
  dimension: 64
  metric: cosine
  neighbors: $neighbors
maintenance:
  threads: $threads
END
    rm -rf "$out/index-$n"

    echo "== $n rows: COPY to /dev/null"
    start=$(now)
    psql_admin -c "COPY (SELECT $cols FROM $t) TO '/dev/null'"
    copy_server=$(since "$start")

    start=$(now)
    psql_user -c "\\copy (SELECT $cols FROM $t) to '/dev/null'"
    copy_psql=$(since "$start")

    echo "== $n rows: recsys-build --full"
    start=$(now)
    "$build/recsys-build" --full "$out/catalog-$n.yaml" | tee "$out/full-$n.log"
    full=$(since "$start")
    full_src=$(sed -n 's/.*source \([0-9.]*\) s.*/\1/p' "$out/full-$n.log")
    factory=$(sed -n 's/.*dimension 64, \([^)]*\)).*/\1/p' "$out/full-$n.log")

    echo "== $n rows: update 1%, recsys-build (incremental)"
    psql_user -c "UPDATE $t SET embedding = ARRAY(SELECT (cos(n + j)
                      + (random() - 0.5) * 0.4)::real
                      FROM generate_series(1, 64) j WHERE n > 0),
                  updated_at = now() WHERE n % 100 = 0"
    start=$(now)
    "$build/recsys-build" "$out/catalog-$n.yaml" | tee "$out/incr-$n.log"
    incr=$(since "$start")
    incr_src=$(sed -n 's/.*source \([0-9.]*\) s.*/\1/p' "$out/incr-$n.log")

    grep -q incremental "$out/incr-$n.log" \
        || echo "bench-rebuild: warning: the second build was not incremental"

    printf '%s\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\n' "$n" "$load" \
        "$copy_server" "$copy_psql" "$full" "$full_src" "$incr" "$incr_src" \
        "$factory" >> "$results"

    psql_user -c "DROP TABLE $t"
    rm -rf "$out/index-$n"
done

echo
echo "rebuild from PostgreSQL, 64 dims, cosine, neighbors $neighbors," \
     "$(nproc) cores (seconds)"
column -t -s "$(printf '\t')" "$results"
