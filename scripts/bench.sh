#!/bin/bash
# "make bench": req/s of GET /v1/items/{id}/similar (k=10) on a synthetic
# catalog against a `return 200 "ok"` baseline, both served by the same
# nginx (2 workers) in the same run, measured with wrk over keepalive.
# Then the same similar requests once more, from an nginx with every phase
# feature on (correlation ids, timing log, per-IP rate limit, metrics), to
# show what the phases cost.
#
# Environment (defaults in brackets):
#   BENCH_N [100000] BENCH_D [64]      catalog size
#   BENCH_DURATION [10s] BENCH_WARMUP [2s]
#   BENCH_THREADS [2] BENCH_CONNECTIONS [32]
#   BENCH_PORT [8089] BENCH_K [10]     port on 127.0.0.1, k of similar
#   BENCH_NEIGHBORS [32]               index.neighbors; 0: live search only
#   BENCH_PLOT [0]                     1: install gnuplot if it is missing
#   NGINX_BIN [/usr/sbin/nginx]
#   RECSYS_BUILD [build]               where the module and tools are
#
# Everything goes to build/bench/: catalog, nginx prefix, raw wrk outputs,
# results.tsv and bench.png (when gnuplot is available).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${RECSYS_BUILD:-$root/build}
out=$build/bench
lua=$root/scripts/bench/wrk.lua

N=${BENCH_N:-100000}
D=${BENCH_D:-64}
K=${BENCH_K:-10}
NEIGHBORS=${BENCH_NEIGHBORS:-32}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-32}
PORT=${BENCH_PORT:-8089}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
url=http://127.0.0.1:$PORT

die() {
    echo "bench: $*" >&2
    exit 1
}

for f in recsys-gen recsys-build recsys-recall ngx_http_recsys_module.so; do
    [ -x "$build/$f" ] || die "$build/$f missing; run 'make module tools'"
done
for c in wrk curl "$NGINX_BIN"; do
    command -v "$c" >/dev/null || die "$c not found (scripts/deps.sh)"
done

if [ "${BENCH_PLOT:-0}" = 1 ] && ! command -v gnuplot >/dev/null; then
    echo "bench: installing gnuplot-nox"
    apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null
fi

if curl -s -o /dev/null "$url/"; then
    die "something already listens on 127.0.0.1:$PORT (set BENCH_PORT)"
fi

mkdir -p "$out"
prefix=$out/nginx
rm -rf "$prefix" "$out/index"
mkdir -p "$prefix/logs"

# the generator is deterministic: keep its output for the same N and D
items=$out/items-$N-$D.jsonl
if [ ! -s "$items" ]; then
    echo "== generating $N x $D synthetic items"
    "$build"/recsys-gen synthetic "$N" "$D" > "$items.tmp"
    mv "$items.tmp" "$items"
fi

cat > "$out/catalog.yaml" <<EOF
# written by scripts/bench.sh
source:
  type: file
  path: $items
index:
  path: $out/index
  dimension: $D
  metric: cosine
  factory: auto
  keep: 1
  neighbors: $NEIGHBORS
EOF

echo "== building the index"
"$build"/recsys-build "$out/catalog.yaml"

echo "== recall (recsys-recall, 1000 queries)"
"$build"/recsys-recall "$out/catalog.yaml" | tee "$out/recall.txt"
recall=$(awk '/^recall@10 / { print $2; exit }' "$out/recall.txt")

# write_conf PHASES: nginx.conf without (0) or with (1) the phase features
write_conf() {
    if [ "$1" = 1 ]; then
        access="include $root/conf/recsys-timing.conf;
    access_log $prefix/logs/timing.log recsys_timing buffer=64k flush=1s;"
        phases_http="recsys_correlation_id on;
    recsys_limit_zone \$binary_remote_addr zone=per_ip:10m
                      rate=1000000r/s burst=1000000;
    recsys_limit zone=per_ip;"
        phases_server="location = /metrics { recsys_metrics; }"
    else
        access="access_log off;"
        phases_http=
        phases_server=
    fi

    cat > "$prefix/nginx.conf" <<EOF
# written by scripts/bench.sh
load_module $build/ngx_http_recsys_module.so;

worker_processes 2;
error_log $prefix/logs/error.log warn;
pid $prefix/nginx.pid;

events {
    worker_connections 1024;
}

http {
    $access
    client_body_temp_path $prefix/body;

    recsys_catalog bench $out/catalog.yaml;

    $phases_http

    server {
        listen 127.0.0.1:$PORT;

        location ~ ^/v1/items/(?<item>[^/]+)/similar\$ {
            recsys similar;
            recsys_item_id \$item;
        }

        location = /baseline {
            return 200 "ok";
        }

        $phases_server
    }
}
EOF
}

# workers run as an unprivileged user when nginx starts as root
chmod -R a+rX "$out"

stop_nginx() {
    if [ -s "$prefix/nginx.pid" ]; then
        pid=$(cat "$prefix/nginx.pid")
        kill -QUIT "$pid" 2>/dev/null || true
        # the master removes its pid file when it is done
        for _ in $(seq 50); do
            [ -e "$prefix/nginx.pid" ] || return 0
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$prefix/nginx.pid"
    fi
}
trap stop_nginx EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

sample="$url/v1/items/item-0/similar?k=$K"

# start_nginx PHASES
start_nginx() {
    write_conf "$1"
    echo "== starting nginx on $url (phase features: $1)"
    "$NGINX_BIN" -q -p "$prefix" -c "$prefix/nginx.conf" \
        || die "nginx did not start (see $prefix/logs/error.log)"
    for _ in $(seq 50); do
        curl -s -o /dev/null "$url/baseline" && break
        sleep 0.1
    done
    code=$(curl -s -o "$out/sample.json" -w '%{http_code}' "$sample" || true)
    [ "$code" = 200 ] || die "GET $sample answered '$code':" \
                             "$(head -c 300 "$out/sample.json")"
}

start_nginx 0

# run_wrk NAME ARGS...: warm-up, then the measured run saved to wrk-NAME.txt
run_wrk() {
    name=$1
    shift
    echo "== wrk $name: ${WARMUP} warm-up, ${DURATION} measured," \
         "$THREADS threads, $CONNS connections"
    wrk -t "$THREADS" -c "$CONNS" -d "$WARMUP" -s "$lua" "$url" -- "$@" \
        > /dev/null
    wrk -t "$THREADS" -c "$CONNS" -d "$DURATION" --latency -s "$lua" \
        "$url" -- "$@" > "$out/wrk-$name.txt"
    grep '^BENCH ' "$out/wrk-$name.txt" >/dev/null \
        || die "no result from wrk, see $out/wrk-$name.txt"
}

run_wrk baseline baseline
run_wrk similar similar "$N" "$K"
stop_nginx

start_nginx 1
run_wrk phases similar "$N" "$K"
stop_nginx

if grep -q '\[\(alert\|crit\|emerg\)\]' "$prefix/logs/error.log"; then
    echo "bench: nginx logged errors:" >&2
    grep '\[\(alert\|crit\|emerg\)\]' "$prefix/logs/error.log" | tail -5 >&2
fi

tsv=$out/results.tsv
{
    printf 'endpoint\trequests\treq_per_s\tp50_ms\tp99_ms\terrors\n'
    for name in baseline similar phases; do
        awk -v name="$name" '/^BENCH / {
            printf "%s\t%d\t%.0f\t%.3f\t%.3f\t%d\n",
                   name, $2, $3, $4 / 1000, $5 / 1000, $6 + $7 }' \
            "$out/wrk-$name.txt"
    done
} > "$tsv"

echo
echo "catalog $N x $D cosine, factory auto, recall@10 ${recall:-?}," \
     "neighbors $NEIGHBORS; nginx 2 workers; wrk $THREADS threads, $CONNS connections," \
     "$DURATION; wrk and nginx share $(nproc) cores"
echo
awk -F '\t' '
    NR == 1 { printf "%-10s %12s %10s %10s %8s\n",
              "endpoint", "req/s", "p50 ms", "p99 ms", "errors"; next }
    { printf "%-10s %12s %10s %10s %8s\n", $1, $3, $4, $5, $6
      rps[$1] = $3 }
    END {
        if (rps["baseline"] > 0)
            printf "\nsimilar/baseline: %.1f %%\n",
                   100 * rps["similar"] / rps["baseline"]
        if (rps["similar"] > 0)
            printf "similar with phases/without: %.1f %%\n",
                   100 * rps["phases"] / rps["similar"]
        max = rps["baseline"] > rps["similar"] ? rps["baseline"] \
                                               : rps["similar"]
        if (max <= 0) exit
        print ""
        split("baseline similar phases", order, " ")
        for (i = 1; i <= 3; i++) {
            n = int(50 * rps[order[i]] / max + 0.5)
            if (n < 1 && rps[order[i]] > 0) n = 1
            bar = ""
            for (j = 0; j < n; j++) bar = bar "#"
            printf "%-10s |%-50s| %d req/s\n", order[i], bar, rps[order[i]]
        }
    }' "$tsv"

# a plot that fails is reported, it does not fail the benchmark
if command -v gnuplot >/dev/null && gnuplot <<EOF
set terminal pngcairo size 640,400
set output "$out/bench.png"
set title "req/s, $N x $D catalog, k=$K, 2 nginx workers"
set style data histograms
set style fill solid 0.6 border -1
set boxwidth 0.6
set yrange [0:*]
set ylabel "requests/s"
set datafile separator "\t"
unset key
plot "$tsv" using 3:xtic(1) every ::1 lc rgb "#4477aa"
EOF
then
    echo "plot: $out/bench.png"
elif command -v gnuplot >/dev/null; then
    echo "bench: gnuplot failed, no plot written" >&2
fi

echo "raw wrk outputs and results.tsv in $out"
