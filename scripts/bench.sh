#!/bin/bash
# "make bench", on a synthetic catalog (100k x 64 by default), in one run:
#
# 1. req/s of GET /v1/items/{id}/similar (k=10) against a `return 200
#    "ok"` baseline, both served by the same nginx (2 workers), then the
#    same similar requests from an nginx with every phase feature on
#    (correlation ids, timing log, per-IP rate limit, metrics);
# 2. the FAISS-bound endpoints with Debian's generic libfaiss and with the
#    AVX2 kernels (scripts/build-faiss-simd.sh), one after the other on
#    the same index: POST /v1/search, POST /v1/recommendations from a
#    history, the same history ranked with profile=balanced (candidates
#    200, popularity blended, MMR 0.7) and with that and explain=true,
#    and plain similar, from an nginx of BENCH_FAISS_WORKERS workers; beside them raw FAISS (recsys-faissbench: one thread, one
#    query at a time, the same index and nprobe) and the ratios, also per
#    CPU second (the workers' CPU time from /proc, raw FAISS's own), which
#    a busy machine distorts less than wall time.
#
# Only 2xx answers count as requests; the others are shown.  The machine
# may be shared: compare the ratios of one run, not numbers across runs.
#
# Environment (defaults in brackets):
#   BENCH_N [100000] BENCH_D [64]      catalog size
#   BENCH_FACTORY [auto]               index.factory of the catalog
#   BENCH_DURATION [10s] BENCH_WARMUP [2s]
#   BENCH_THREADS [2] BENCH_CONNECTIONS [32]
#   BENCH_PORT [8089] BENCH_K [10]     port on 127.0.0.1, k of every query
#   BENCH_NEIGHBORS [32]               index.neighbors; 0: live search only
#   BENCH_HISTORY [5]                  ids in a history
#   BENCH_FAISS_WORKERS [1]            nginx workers of part 2
#   BENCH_PIN [1]                      part 2 with one worker on a machine
#                                      of 2+ cores: the worker and
#                                      recsys-faissbench on the last core,
#                                      wrk on the others (0: no pinning)
#   BENCH_GENERIC []                   a build with FAISS_SIMD=generic
#                                      (make bench makes one in
#                                      build/generic); unset: part 2 runs
#                                      RECSYS_BUILD's variant only
#   BENCH_PLOT [0]                     1: install gnuplot if it is missing
#   NGINX_BIN [/usr/sbin/nginx]
#   RECSYS_BUILD [build]               where the module and tools are
#
# Everything goes to build/bench/: catalog, nginx prefix, raw wrk and
# recsys-faissbench outputs, results.tsv and bench.png (with gnuplot).
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
FACTORY=${BENCH_FACTORY:-auto}
HISTORY=${BENCH_HISTORY:-5}
FWORKERS=${BENCH_FAISS_WORKERS:-1}
GENERIC=${BENCH_GENERIC:-}
PIN=${BENCH_PIN:-1}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
url=http://127.0.0.1:$PORT
bench_name=bench
. "$root/scripts/bench/common.sh"

for f in recsys-gen recsys-build recsys-recall recsys-faissbench \
         ngx_http_recsys_module.so faiss-variant; do
    [ -e "$build/$f" ] || die "$build/$f missing; run 'make module tools'"
done

# part 2's builds: "name dir" lines, the generic one first
variants=
if [ -n "$GENERIC" ]; then
    for f in recsys-faissbench ngx_http_recsys_module.so faiss-variant; do
        [ -e "$GENERIC/$f" ] || die "$GENERIC/$f missing"
    done
    [ "$(cat "$GENERIC/faiss-variant")" = generic ] \
        || die "$GENERIC is not a FAISS_SIMD=generic build"
    variants="generic:$GENERIC"
fi
case $(cat "$build/faiss-variant") in
    avx2) variants="$variants simd:$build" ;;
    *) [ -n "$GENERIC" ] || variants="generic:$build" ;;
esac
bench_need wrk curl "$NGINX_BIN"

# part 2 compares one worker with one FAISS thread: each gets a core of
# its own, the same one, and the load generator the other cores
ncpu=$(nproc)
server_pin=
client_pin=
affinity=
if [ "$PIN" = 1 ] && [ "$FWORKERS" = 1 ] && [ "$ncpu" -ge 2 ]; then
    command -v taskset >/dev/null || die "taskset not found (util-linux)"
    server_pin="taskset -c $(( ncpu - 1 ))"
    client_pin="taskset -c 0-$(( ncpu - 2 ))"
    # worker_cpu_affinity's mask: the last core's bit
    affinity="worker_cpu_affinity 1$(printf '%0*d' $(( ncpu - 1 )) 0);"
fi
wrk_pin=

if [ "${BENCH_PLOT:-0}" = 1 ] && ! command -v gnuplot >/dev/null; then
    echo "bench: installing gnuplot-nox"
    apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null
fi

bench_port_free BENCH_PORT

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
  factory: $FACTORY
  keep: 1
  neighbors: $NEIGHBORS
ranking:
  profiles:
    balanced:
      candidates: 200
      weights: {similarity: 1.0, popularity: 0.2}
      popularity: log
      boost: {category: {c0: 0.1}}
      diversity: {mmr: 0.7}
EOF

echo "== building the index"
"$build"/recsys-build "$out/catalog.yaml"

echo "== recall (recsys-recall, 1000 queries)"
"$build"/recsys-recall -c "$out/catalog.yaml" | tee "$out/recall.txt"
recall=$(awk '/^recall@/ && /left out/ { print $2; exit }' \
         "$out/recall.txt")
factory=$(awk '$1 == "factory" { print $2; exit }' "$out/recall.txt")

# search bodies: the vectors of 2000 items spread over the catalog
awk -v step=$(( N / 2000 > 0 ? N / 2000 : 1 )) '(NR - 1) % step == 0' \
    "$items" \
    | sed -n 's/.*"vector":\(\[[^]]*\]\).*/{"vector":\1}/p' \
    > "$out/search-bodies.jsonl"
[ -s "$out/search-bodies.jsonl" ] || die "no vectors in $items"

# write_conf PHASES MODULE_DIR WORKERS: nginx.conf without (0) or with (1)
# the phase features
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

    aff=
    [ "$3" != 1 ] || aff=$affinity

    cat > "$prefix/nginx.conf" <<EOF
# written by scripts/bench.sh
load_module $2/ngx_http_recsys_module.so;

worker_processes $3;
$aff
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

        location = /v1/search {
            recsys search;
        }

        location = /v1/recommendations {
            recsys recommendations;
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

# start_nginx PHASES MODULE_DIR WORKERS
start_nginx() {
    write_conf "$1" "$2" "$3"
    echo "== starting nginx on $url (phase features: $1," \
         "$(cat "$2/faiss-variant") FAISS, $3 workers)"
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

# run_wrk NAME ARGS...: warm-up, then the measured run saved to wrk-NAME.txt
run_wrk() {
    name=$1
    shift
    echo "== wrk $name: ${WARMUP} warm-up, ${DURATION} measured," \
         "$THREADS threads, $CONNS connections"
    $wrk_pin wrk -t "$THREADS" -c "$CONNS" -d "$WARMUP" -s "$lua" "$url" \
        -- "$@" > /dev/null
    cpu0=$(workers_cpu)
    $wrk_pin wrk -t "$THREADS" -c "$CONNS" -d "$DURATION" --latency -s "$lua" \
        "$url" -- "$@" > "$out/wrk-$name.txt"
    echo "$(( $(workers_cpu) - cpu0 ))" > "$out/cpu-$name.txt"
    grep '^BENCH ' "$out/wrk-$name.txt" >/dev/null \
        || die "no result from wrk, see $out/wrk-$name.txt"
}

# CPU time (user + system, clock ticks) of the running nginx's workers:
# on a shared machine a worker's requests per second of its own CPU is
# what compares with raw FAISS's queries per second of CPU
workers_cpu() {
    t=0
    for p in $(ps -o pid= --ppid "$(cat "$prefix/nginx.pid")"); do
        grep -q 'worker process' "/proc/$p/cmdline" 2>/dev/null || continue
        t=$(( t + $(awk '{ print $14 + $15 }' "/proc/$p/stat") ))
    done
    echo "$t"
}

# part 1
start_nginx 0 "$build" 2
run_wrk baseline baseline
run_wrk similar similar "$N" "$K"
stop_nginx

start_nginx 1 "$build" 2
run_wrk phases similar "$N" "$K"
stop_nginx

# part 2: raw FAISS, then nginx, for each build
wrk_pin=$client_pin
for v in $variants; do
    vname=${v%%:*}
    dir=${v#*:}
    echo "== recsys-faissbench, $vname FAISS${server_pin:+ ($server_pin)}"
    $server_pin "$dir"/recsys-faissbench "$out/catalog.yaml" 20000 "$K" \
        > "$out/faissbench-$vname.txt"
    grep '^faiss ' "$out/faissbench-$vname.txt" | tail -n 1

    start_nginx 0 "$dir" "$FWORKERS"
    run_wrk "search-$vname" search "$out/search-bodies.jsonl" "$K"
    run_wrk "history-$vname" history "$N" "$K" "$HISTORY"
    run_wrk "balanced-$vname" history "$N" "$K" "$HISTORY" \
        "&profile=balanced"
    run_wrk "explain-$vname" history "$N" "$K" "$HISTORY" \
        "&profile=balanced&explain=true"
    run_wrk "similar-$vname" similar "$N" "$K"
    stop_nginx
done

if grep -q '\[\(alert\|crit\|emerg\)\]' "$prefix/logs/error.log"; then
    echo "bench: nginx logged errors:" >&2
    grep '\[\(alert\|crit\|emerg\)\]' "$prefix/logs/error.log" | tail -5 >&2
fi

# wrk-NAME.txt's BENCH line as: requests(2xx) req/s(2xx) p50 p99 other
bench_line() {
    awk '/^BENCH / { printf "%d\t%.0f\t%.3f\t%.3f\t%d\n",
                     $2 - $6, ($2 - $6) / $3, $4 / 1000, $5 / 1000, $6 + $7 }' \
        "$out/wrk-$1.txt"
}

tsv=$out/results.tsv
{
    printf 'endpoint\tfaiss\trequests_2xx\treq_per_s\tp50_ms\tp99_ms'
    printf '\tnot_2xx\n'
    for name in baseline similar phases; do
        printf '%s\t%s\t%s\n' "$name" "$(cat "$build/faiss-variant")" \
            "$(bench_line "$name")"
    done
    for v in $variants; do
        for e in search history balanced explain similar; do
            printf '%s\t%s\t%s\n' "$e-w$FWORKERS" "${v%%:*}" \
                "$(bench_line "$e-${v%%:*}")"
        done
    done
} > "$tsv"

faiss_qps() {
    awk '$1 == "faiss" && $2 ~ /^[0-9]/ { print $2; exit }' \
        "$out/faissbench-$1.txt"
}

# raw FAISS queries per CPU second; search requests (2xx) per worker CPU
# second
faiss_cpu_qps() {
    awk '$1 == "faiss" && $2 ~ /^[0-9]/ { printf "%.0f", 1e6 / $4; exit }' \
        "$out/faissbench-$1.txt"
}
search_cpu_rps() {
    awk -v ticks="$(cat "$out/cpu-search-$1.txt")" -v hz="$(getconf CLK_TCK)" \
        '/^BENCH / { if (ticks > 0) printf "%.0f", ($2 - $6) / (ticks / hz)
                     else print "?" }' "$out/wrk-search-$1.txt"
}

echo
echo "catalog $N x $D cosine, factory $FACTORY ($factory), recall@10" \
     "${recall:-?} (recsys-recall, query item left out), neighbors" \
     "$NEIGHBORS; wrk $THREADS threads, $CONNS connections, $DURATION;" \
     "wrk and nginx share $ncpu cores; only 2xx answers counted"
if [ -n "$server_pin" ]; then
    echo "part 2 pinned: the nginx worker and recsys-faissbench on core" \
         "$(( ncpu - 1 )), wrk on cores 0-$(( ncpu - 2 ))"
fi
echo
echo "part 1: similar, nginx 2 workers, $(cat "$build/faiss-variant") FAISS"
awk -F '\t' -v w="$FWORKERS" -v h="$HISTORY" '
    NR == 1 { printf "%-14s %8s %10s %9s %9s %8s\n", "endpoint", "faiss",
              "req/s", "p50 ms", "p99 ms", "not 2xx"; next }
    { printf "%-14s %8s %10s %9s %9s %8s\n", $1, $2, $4, $5, $6, $7 }
    NR == 4 { printf "\npart 2: nginx %d worker(s), history of %d ids\n",
                     w, h }' "$tsv"

echo
rps() {
    awk -F '\t' -v e="$1" -v f="$2" '$1 == e && $2 == f { print $4 }' "$tsv"
}
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0)
                                         printf "%.2f", a / b;
                                     else printf "?" }'
}
printf '%-34s %s\n' "similar/baseline (part 1):" \
    "$(ratio "$(rps similar "$(cat "$build/faiss-variant")")" \
             "$(rps baseline "$(cat "$build/faiss-variant")")")"
printf '%-34s %s\n' "similar with phases/without:" \
    "$(ratio "$(rps phases "$(cat "$build/faiss-variant")")" \
             "$(rps similar "$(cat "$build/faiss-variant")")")"
if [ "$(cat "$build/faiss-variant")" = avx2 ] && [ -n "$GENERIC" ]; then
    for e in search history similar; do
        printf '%-34s %s%s\n' "$e simd/generic req/s:" \
            "$(ratio "$(rps "$e-w$FWORKERS" simd)" \
                     "$(rps "$e-w$FWORKERS" generic)")" \
            "$([ $e = search ] && echo '   (bar: >= 2)')"
    done
fi
for v in $variants; do
    n=${v%%:*}
    printf '%-34s %s   (bar: >= 0.70)\n' "balanced/history req/s ($n):" \
        "$(ratio "$(rps "balanced-w$FWORKERS" "$n")" \
                 "$(rps "history-w$FWORKERS" "$n")")"
    printf '%-34s %s\n' "explain/history req/s ($n):" \
        "$(ratio "$(rps "explain-w$FWORKERS" "$n")" \
                 "$(rps "history-w$FWORKERS" "$n")")"
done
for v in $variants; do
    n=${v%%:*}
    q=$(faiss_qps "$n")
    printf '%-34s %s q/s, search per worker %s req/s, ratio %s' \
        "raw FAISS ($n, 1 thread):" "$q" \
        "$(awk -v r="$(rps "search-w$FWORKERS" "$n")" -v w="$FWORKERS" \
           'BEGIN { printf "%.0f", r / w }')" \
        "$(ratio "$(awk -v r="$(rps "search-w$FWORKERS" "$n")" \
                  -v w="$FWORKERS" 'BEGIN { print r / w }')" "$q")"
    printf '   (bar: >= 0.8)\n'
    q=$(faiss_cpu_qps "$n")
    r=$(search_cpu_rps "$n")
    printf '%-34s %s q/s, search %s req/s, ratio %s\n' \
        "  per CPU second ($n):" "$q" "$r" "$(ratio "$r" "$q")"
done
printf '%-34s %s   (bar: >= 0.95)\n' "recall@10:" "${recall:-?}"

# a plot that fails is reported, it does not fail the benchmark
if command -v gnuplot >/dev/null && gnuplot <<EOF
set terminal pngcairo size 640,400
set output "$out/bench.png"
set title "2xx req/s, $N x $D catalog, k=$K"
set style data histograms
set style fill solid 0.6 border -1
set boxwidth 0.6
set yrange [0:*]
set ylabel "requests/s"
set datafile separator "\t"
unset key
plot "$tsv" using 4:xtic(1) every ::1 lc rgb "#4477aa"
EOF
then
    echo "plot: $out/bench.png"
elif command -v gnuplot >/dev/null; then
    echo "bench: gnuplot failed, no plot written" >&2
fi

echo "raw wrk outputs and results.tsv in $out"
