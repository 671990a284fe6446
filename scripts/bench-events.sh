#!/bin/bash
# Events ingestion: how many events per second POST /v1/events takes
# (batches of 10), and whether every acknowledged event reaches the store
# exactly once when the helper and the workers are killed with kill -9 in
# the middle of shipping.
#
# 1. Throughput: wrk posts batches of 10 events, each with items of its
#    own, for EV_SECONDS, once with "sync: request" and once with "sync:
#    interval"; events/s counts 2xx answers only (x 10), the others are
#    printed beside it.
# 2. Crash: scripts/bench/events-crash.py posts EV_CRASH_REQUESTS batches
#    of 10 from EV_CRASH_CLIENTS connections and records which ones were
#    answered 202.  A third of the way in the helper ("cache manager") is
#    killed with kill -9, two thirds in every worker; the master starts
#    new ones.  Then, once the spool is empty, the table is counted: each
#    acknowledged event must be there exactly once.  Events of requests
#    that died with their worker may be there too (written, never
#    answered): counted apart, never twice.
#
# Environment (defaults in brackets):
#   EV_SECONDS [10]  EV_THREADS [2]  EV_CONNECTIONS [16]
#   EV_WORKERS [2]                    worker_processes
#   EV_CRASH_REQUESTS [3000]  EV_CRASH_CLIENTS [8]
#   EV_SHIP_BATCH [50]                ship_batch of the crash run (small:
#                                     many commits, a long shipping pass)
#   BENCH_PORT [8093]  RECSYS_PG_PORT [55432]
#   NGINX_BIN [/usr/sbin/nginx]  RECSYS_BUILD [build]
#
# Everything goes to <RECSYS_BUILD>/bench-events/; the table also to
# results.txt there.  A throwaway PostgreSQL cluster (scripts/pg.sh) in
# <RECSYS_BUILD>/bench-events/pg is started and stopped.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${RECSYS_BUILD:-$root/build}
out=$build/bench-events

SECONDS_RUN=${EV_SECONDS:-10}
THREADS=${EV_THREADS:-2}
CONNS=${EV_CONNECTIONS:-16}
WORKERS=${EV_WORKERS:-2}
CRASH_REQUESTS=${EV_CRASH_REQUESTS:-3000}
CRASH_CLIENTS=${EV_CRASH_CLIENTS:-8}
SHIP_BATCH=${EV_SHIP_BATCH:-50}
PORT=${BENCH_PORT:-8093}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
url=http://127.0.0.1:$PORT
bench_name=bench-events
. "$root/scripts/bench/common.sh"

[ -x "$build/ngx_http_recsys_module.so" ] \
    || die "$build/ngx_http_recsys_module.so missing; run 'make module'"
bench_need wrk curl psql python3 "$NGINX_BIN"
bench_port_free BENCH_PORT

rm -rf "$out/prefix" "$out/index"
mkdir -p "$out/prefix/logs" "$out/prefix/conf"

"$root/scripts/pg.sh" start "$out/pg" > /dev/null
eval "$("$root/scripts/pg.sh" env "$out/pg")"
dsn=$RECSYS_DATABASE_URL

cleanup() {
    if [ -s "$out/prefix/logs/nginx.pid" ]; then
        kill -QUIT "$(cat "$out/prefix/logs/nginx.pid")" 2>/dev/null || true
        sleep 1
    fi
    "$root/scripts/pg.sh" stop "$out/pg" > /dev/null 2>&1 || true
}
trap cleanup EXIT

# one catalog, its events store the table $2, sync $1, ship_batch $3
start_nginx() {
    local sync=$1 table=$2 batch=$3

    if [ -s "$out/prefix/logs/nginx.pid" ]; then
        kill -QUIT "$(cat "$out/prefix/logs/nginx.pid")" 2>/dev/null || true
        for _ in $(seq 100); do
            [ -s "$out/prefix/logs/nginx.pid" ] || break
            sleep 0.1
        done
    fi

    rm -rf "$out/index"
    psql -X -q -c "SET client_min_messages = warning; DROP TABLE IF EXISTS
                   $table, ${table}_shipped" "$dsn"

    cat > "$out/catalog.yaml" <<END
source: {type: file, path: $root/t/data/small.jsonl}
index: {path: $out/index, dimension: 4}
events:
  types: {view: 1, click: 2, purchase: 5}
  sync: $sync
  ship_batch: $batch
  store: {type: postgresql, dsn: "$dsn", table: $table}
END

    cat > "$out/prefix/conf/nginx.conf" <<END
load_module $build/ngx_http_recsys_module.so;
worker_processes $WORKERS;
error_log $out/prefix/logs/error.log notice;
pid $out/prefix/logs/nginx.pid;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $out/prefix/body;
    recsys_catalog bench $out/catalog.yaml;
    server {
        listen 127.0.0.1:$PORT reuseport;
        location = /v1/events { recsys_events; }
        location = /admin/index/status { recsys_admin status; }
    }
}
END

    "$NGINX_BIN" -p "$out/prefix/" -c "$out/prefix/conf/nginx.conf"

    for _ in $(seq 50); do
        curl -s -o /dev/null "$url/admin/index/status" && return 0
        sleep 0.1
    done
    die "nginx did not start (see $out/prefix/logs/error.log)"
}

# "spooled shipped lost spool_bytes ready_segments"
status() {
    curl -s "$url/admin/index/status" | python3 -c '
import json, sys
e = json.load(sys.stdin)["events"]
print(e["spooled"], e["shipped"], e["lost"], e["spool_bytes"],
      e["ready_segments"])'
}

wait_shipped() {
    local s
    for _ in $(seq 1200); do
        s=$(status)
        set -- $s
        if [ "$4" = 0 ] && [ "$5" = 0 ]; then
            return 0
        fi
        sleep 0.1
    done
    die "the spool did not empty: $s"
}

cat > "$out/post.lua" <<'END'
-- batches of 10 events, items of their own per thread and request;
-- answers by status
local threads = {}
local nthreads = 0

function setup(thread)
    nthreads = nthreads + 1
    thread:set("tid", nthreads)
    table.insert(threads, thread)
end

function init(args)
    n = 0
    ok = 0
    other = 0
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
end

function request()
    n = n + 1
    local ev = {}
    for j = 1, 10 do
        ev[j] = string.format(
            '{"user":"u%d","item":"t%d-%d-%d","type":"view"}',
            j, tid, n, j)
    end
    return wrk.format(nil, nil, nil,
                      '{"events":[' .. table.concat(ev, ",") .. ']}')
end

function response(status, headers, body)
    if status >= 200 and status < 300 then
        ok = ok + 1
    else
        other = other + 1
    end
end

function done(summary, latency, requests)
    local ok, other = 0, 0
    for _, t in ipairs(threads) do
        ok = ok + t:get("ok")
        other = other + t:get("other")
    end
    local e = summary.errors
    io.write(string.format("RESULT\t%d\t%d\t%d\t%d\t%d\t%d\n", ok, other,
        e.connect + e.read + e.write + e.timeout, summary.duration,
        latency:percentile(50), latency:percentile(99)))
end
END

results=$out/results.txt
: > "$results.tmp"

for sync in request interval; do
    echo "bench-events: throughput, sync: $sync (${SECONDS_RUN}s)" >&2
    start_nginx "$sync" bench_events_tp 10000
    line=$(wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_RUN}s" \
               -s "$out/post.lua" "$url/v1/events" | grep '^RESULT')
    set -- $line
    ok=$2 other=$3 errors=$4 us=$5 p50=$6 p99=$7
    wait_shipped
    rows=$(psql -X -A -t -c "SELECT count(*) FROM bench_events_tp" "$dsn")
    dups=$(psql -X -A -t -c "SELECT count(*) - count(DISTINCT item_id)
                              FROM bench_events_tp" "$dsn")
    printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$sync" \
        "$(( ok * 10 * 1000000 / us ))" "$ok" "$other" "$errors" \
        "$(awk "BEGIN { printf \"%.2f\", $p50 / 1000 }")" \
        "$(awk "BEGIN { printf \"%.2f\", $p99 / 1000 }")" \
        "$rows" "$dups" >> "$results.tmp"
done

echo "bench-events: crash run ($CRASH_REQUESTS requests, ship_batch" \
     "$SHIP_BATCH)" >&2
start_nginx request bench_events_crash "$SHIP_BATCH"

python3 "$root/scripts/bench/events-crash.py" "$url/v1/events" \
    "$CRASH_REQUESTS" \
    "$CRASH_CLIENTS" "$out/prefix/logs/nginx.pid" "$out/acked.txt" \
    > "$out/crash.txt"
wait_shipped
set -- $(status)
lost=$3

psql -X -A -t -c "SELECT item_id FROM bench_events_crash" "$dsn" \
    > "$out/stored.txt"
python3 - "$out/acked.txt" "$out/stored.txt" >> "$out/crash.txt" <<'END'
import collections, sys
acked = set(open(sys.argv[1]).read().split())
stored = collections.Counter(open(sys.argv[2]).read().split())
missing = sum(1 for a in acked if stored[a] == 0)
twice = sum(1 for a, n in stored.items() if n > 1)
extra = sum(1 for a in stored if a not in acked)
print("acked", len(acked), "rows", sum(stored.values()), "missing", missing,
      "twice", twice, "unacked_stored", extra)
END

{
    echo "events ingestion, POST /v1/events, batches of 10 events,"
    echo "$WORKERS workers, wrk -t$THREADS -c$CONNS -d${SECONDS_RUN}s," \
         "PostgreSQL store"
    echo
    printf "%-9s %10s %9s %7s %7s %8s %8s %9s %6s\n" sync events/s \
        2xx non-2xx errors p50_ms p99_ms rows twice
    while IFS=$'\t' read -r s eps ok other err p50 p99 rows dups; do
        printf "%-9s %10s %9s %7s %7s %8s %8s %9s %6s\n" "$s" "$eps" \
            "$ok" "$other" "$err" "$p50" "$p99" "$rows" "$dups"
    done < "$results.tmp"
    echo
    echo "crash run: $CRASH_REQUESTS requests of 10 events from" \
         "$CRASH_CLIENTS clients, ship_batch $SHIP_BATCH;"
    echo "kill -9 of the helper at 1/3, of every worker at 2/3"
    echo
    sed -n 's/^KILL /  killed: /p' "$out/crash.txt"
    sed -n 's/^ANSWERS /  answers: /p' "$out/crash.txt"
    set -- $(grep '^acked' "$out/crash.txt")
    printf "%-16s %9s\n" "acknowledged" "$2" "rows" "$4" "missing" "$6" \
        "twice" "$8" "stored, unacked" "${10}" "lost (torn)" "$lost"
    if [ "$6" = 0 ] && [ "$8" = 0 ]; then
        echo "every acknowledged event is in the table exactly once"
    else
        echo "FAILED: acknowledged events missing or doubled"
    fi
} | tee "$results"

rm -f "$results.tmp"
