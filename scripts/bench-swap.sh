#!/bin/bash
# Swaps under load: wrk keeps GET /v1/items/{id}/similar busy on a
# synthetic catalog while the helper rebuilds and swaps the index
# SWAP_REBUILDS times, triggered through POST /admin/index/rebuild.
#
# wrk runs in back-to-back windows; each window reports its requests,
# non-2xx answers, socket errors and latency percentiles, and whether the
# index generation changed during it (a swap).  The table compares steady
# state (no build), windows while a build runs, and windows with a swap.
# Failed requests (non-2xx + socket errors) must be 0.
#
# Environment (defaults in brackets):
#   SWAP_N [100000] SWAP_D [64]       catalog size
#   SWAP_REBUILDS [20]                rebuilds to trigger
#   SWAP_WINDOW [5]                   seconds per wrk window
#   SWAP_STEADY [20]                  seconds of steady state first
#   SWAP_THREADS [2] SWAP_CONNECTIONS [32]
#   SWAP_NEIGHBORS [0]                index.neighbors of the catalog
#   SWAP_NICE [0]                     maintenance.nice of the builds
#
# The defaults suit a 2-core box, where wrk keeps every core busy: at the
# production nice (10) and with precomputed neighbors (32) a 100k rebuild
# gets a tenth of a core and 20 of them take most of an hour.  SWAP_NICE=10
# SWAP_NEIGHBORS=32 measure that setting.
#   SWAP_PORT [8091]
#   NGINX_BIN [/usr/sbin/nginx]
#   RECSYS_BUILD [build]              where the module and tools are
#
# Everything goes to <RECSYS_BUILD>/bench-swap/: catalog, nginx prefix,
# one line per wrk window in windows.tsv, the table in results.txt.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${RECSYS_BUILD:-$root/build}
out=$build/bench-swap

N=${SWAP_N:-100000}
D=${SWAP_D:-64}
REBUILDS=${SWAP_REBUILDS:-20}
WINDOW=${SWAP_WINDOW:-5}
STEADY=${SWAP_STEADY:-20}
THREADS=${SWAP_THREADS:-2}
CONNS=${SWAP_CONNECTIONS:-32}
NEIGHBORS=${SWAP_NEIGHBORS:-0}
NICE=${SWAP_NICE:-0}
PORT=${SWAP_PORT:-8091}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
url=http://127.0.0.1:$PORT

die() {
    echo "bench-swap: $*" >&2
    exit 1
}

for f in recsys-gen recsys-build ngx_http_recsys_module.so; do
    [ -x "$build/$f" ] || die "$build/$f missing; run 'make module tools'"
done
for c in wrk curl python3 "$NGINX_BIN"; do
    command -v "$c" >/dev/null || die "$c not found (scripts/deps.sh)"
done

if curl -s -o /dev/null "$url/"; then
    die "something already listens on 127.0.0.1:$PORT (set SWAP_PORT)"
fi

rm -rf "$out/prefix" "$out/index" "$out/stop"
mkdir -p "$out/prefix/logs" "$out/prefix/conf"

if [ ! -s "$out/catalog-$N-$D.jsonl" ]; then
    echo "bench-swap: generating $N x $D items"
    "$build/recsys-gen" synthetic "$N" "$D" > "$out/catalog-$N-$D.jsonl"
fi

cat > "$out/catalog.yaml" <<END
source:
  type: file
  path: $out/catalog-$N-$D.jsonl
index:
  path: $out/index
  dimension: $D
  neighbors: $NEIGHBORS
maintenance:
  build_on_start: never
  nice: $NICE
END

echo "bench-swap: first generation (recsys-build)"
"$build/recsys-build" -q "$out/catalog.yaml"
chmod -R a+rX "$out"

# one worker: the box's other cores are for wrk and the builder
cat > "$out/prefix/conf/nginx.conf" <<END
load_module $build/ngx_http_recsys_module.so;
worker_processes 1;
master_process on;
daemon on;
error_log $out/prefix/logs/error.log notice;
pid $out/prefix/logs/nginx.pid;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $out/prefix/body;
    recsys_catalog bench $out/catalog.yaml;
    server {
        listen 127.0.0.1:$PORT;
        location ~ ^/v1/items/(?<item>[^/]+)/similar\$ {
            recsys similar;
            recsys_item_id \$item;
        }
        location = /admin/index/rebuild { recsys_admin rebuild; }
        location = /admin/index/status { recsys_admin status; }
    }
}
END

cat > "$out/window.lua" <<END
-- random item per request; the generations a window saw; a summary line
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    math.randomseed(os.time() + math.floor(os.clock() * 1000000))
    gens = {}
    ngens = 0
end

function request()
    return wrk.format("GET", "/v1/items/item-" .. math.random(0, $N - 1)
                      .. "/similar?k=10")
end

function response(status, headers, body)
    local g = headers["X-Index-Generation"]
    if g and not gens[g] then
        gens[g] = true
        ngens = ngens + 1
    end
end

function done(summary, latency, requests)
    local seen = 0
    for _, t in ipairs(threads) do
        local n = t:get("ngens")
        if n and n > seen then seen = n end
    end
    local e = summary.errors
    io.write(string.format("WINDOW\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n",
        summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
        latency:percentile(50), latency:percentile(99), latency.max,
        summary.duration, seen))
end
END

"$NGINX_BIN" -p "$out/prefix/" -c "$out/prefix/conf/nginx.conf"
trap 'kill -QUIT $(cat "$out/prefix/logs/nginx.pid") 2>/dev/null || true' EXIT

for _ in $(seq 50); do
    curl -s -o /dev/null "$url/v1/items/item-0/similar" && break
    sleep 0.1
done

# "state queued newest-build-id newest-success generation"
status() {
    curl -s "$url/admin/index/status" | python3 -c '
import json, sys
s = json.load(sys.stdin)
b = s["builder"]
n = s["builds"][0] if s["builds"] else {"id": 0, "success": False}
print(b["state"], b.get("queued_build_id") is not None, n["id"],
      n["success"], s["generation"]["number"] if s["generation"] else 0)'
}

: > "$out/windows.tsv"

window() {
    local phase=$1 line
    line=$(wrk -t"$THREADS" -c"$CONNS" -d"${WINDOW}s" -s "$out/window.lua" \
               "$url" | grep '^WINDOW' || true)
    [ -n "$line" ] && printf '%s\t%s\n' "$phase" "$line" >> "$out/windows.tsv"
}

echo "bench-swap: steady state, ${STEADY}s"
wrk -t"$THREADS" -c"$CONNS" -d2s -s "$out/window.lua" "$url" >/dev/null
for _ in $(seq $((STEADY / WINDOW))); do
    window steady
done

echo "bench-swap: $REBUILDS rebuilds under load"
(
    while [ ! -e "$out/stop" ]; do
        window rebuilding
    done
) &
loader=$!

start=$(date +%s)
for i in $(seq "$REBUILDS"); do
    id=$(curl -s -X POST "$url/admin/index/rebuild" \
         | python3 -c 'import json,sys; print(json.load(sys.stdin)["build_id"])') \
        || die "rebuild $i was not accepted"
    while :; do
        set -- $(status)
        [ "$1" = idle ] && [ "$2" = False ] && [ "$3" -ge "$id" ] && break
        sleep 0.5
    done
    [ "$4" = True ] || echo "bench-swap: build $id failed" >&2
    echo "bench-swap: rebuild $i/$REBUILDS (build $id) done, generation $5"
done
elapsed=$(( $(date +%s) - start ))
touch "$out/stop"
wait "$loader"

python3 - "$out/windows.tsv" "$REBUILDS" "$elapsed" <<'END' \
    | tee "$out/results.txt"
import sys

rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
rebuilds, elapsed = int(sys.argv[2]), int(sys.argv[3])

groups = {"steady": [], "building": [], "swap": []}
for r in rows:
    phase = r[0]
    req, non2xx, sockerr, p50, p99, mx, dur, gens = map(int, r[2:])
    w = (req, non2xx, sockerr, p50, p99, mx, dur)
    if phase == "steady":
        groups["steady"].append(w)
    elif gens > 1:
        groups["swap"].append(w)
    else:
        groups["building"].append(w)

def ms(us):
    return "%.2f" % (us / 1000.0)

print()
print("%d rebuilds in %ds under load; wrk windows of equal length" %
      (rebuilds, elapsed))
print()
hdr = ("phase", "windows", "requests", "req/s", "non-2xx", "sock err",
       "p50 ms", "p99 ms", "p99 max", "max ms")
fmt = "%-9s %7s %9s %8s %8s %8s %7s %7s %8s %8s"
print(fmt % hdr)
total_failed = 0
for name in ("steady", "building", "swap"):
    ws = groups[name]
    if not ws:
        print(fmt % (name, 0, "-", "-", "-", "-", "-", "-", "-", "-"))
        continue
    req = sum(w[0] for w in ws)
    bad = sum(w[1] for w in ws)
    err = sum(w[2] for w in ws)
    total_failed += bad + err
    dur = sum(w[6] for w in ws) / 1e6
    p50 = sorted(w[3] for w in ws)[len(ws) // 2]
    p99 = sorted(w[4] for w in ws)[len(ws) // 2]
    print(fmt % (name, len(ws), req, "%.0f" % (req / dur), bad, err,
                 ms(p50), ms(p99), ms(max(w[4] for w in ws)),
                 ms(max(w[5] for w in ws))))
print()
print("p50/p99: median over the windows; p99 max: the worst window")
print("failed requests (non-2xx + socket errors): %d" % total_failed)
sys.exit(1 if total_failed else 0)
END
