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
# A probe client (scripts/bench/swap-probe.py) runs alongside: one
# keep-alive connection per worker, one request at a time, and the second
# table gives, for each publish and each worker, the latency of the first
# request that worker answered from the new generation against the
# steady-state p50 of the same probe (issue 10's bar: at most 2 ms more).
#
# Environment (defaults in brackets):
#   SWAP_N [100000] SWAP_D [64]       catalog size
#   SWAP_REBUILDS [20]                rebuilds to trigger
#   SWAP_WINDOW [5]                   seconds per wrk window
#   SWAP_STEADY [20]                  seconds of steady state first
#   SWAP_THREADS [2] SWAP_CONNECTIONS [32]
#   SWAP_NEIGHBORS [0]                index.neighbors of the catalog
#   SWAP_NICE [0]                     maintenance.nice of the builds
#   SWAP_WORKERS [1]                  worker_processes
#   SWAP_WRK [1]                      0: no wrk load, the probe alone
#   SWAP_PROBE_INTERVAL [5]           ms between two probe requests
#   SWAP_SWITCHES [0]                 then point "current" back and forth
#                                     between the last two generations
#                                     this many times, as an operator's
#                                     rollback by hand does (workers see
#                                     it within 1 s); needs a rebuild
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
WORKERS=${SWAP_WORKERS:-1}
WRK=${SWAP_WRK:-1}
PROBE_INTERVAL=${SWAP_PROBE_INTERVAL:-5}
SWITCHES=${SWAP_SWITCHES:-0}
PORT=${SWAP_PORT:-8091}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
url=http://127.0.0.1:$PORT
bench_name=bench-swap
. "$root/scripts/bench/common.sh"

for f in recsys-gen recsys-build ngx_http_recsys_module.so; do
    [ -x "$build/$f" ] || die "$build/$f missing; run 'make module tools'"
done
bench_need wrk curl python3 "$NGINX_BIN"
bench_port_free SWAP_PORT

rm -rf "$out/prefix" "$out/index" "$out/stop" "$out/phase"
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

# one worker by default: the box's other cores are for wrk and the builder
cat > "$out/prefix/conf/nginx.conf" <<END
load_module $build/ngx_http_recsys_module.so;
worker_processes $WORKERS;
master_process on;
daemon on;
error_log $out/prefix/logs/error.log notice;
pid $out/prefix/logs/nginx.pid;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $out/prefix/body;
    # the probe keeps one connection per worker for the whole run
    keepalive_requests 10000000;
    keepalive_timeout 600s;
    recsys_catalog bench $out/catalog.yaml;
    server {
        listen 127.0.0.1:$PORT reuseport;
        add_header X-Worker \$pid always;
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

echo steady > "$out/phase"
python3 "$root/scripts/bench/swap-probe.py" 127.0.0.1 "$PORT" "$WORKERS" \
    "$N" "$PROBE_INTERVAL" "$out/phase" "$out/stop" > "$out/probe.tsv" &
probe=$!

echo "bench-swap: steady state, ${STEADY}s"
if [ "$WRK" = 1 ]; then
    wrk -t"$THREADS" -c"$CONNS" -d2s -s "$out/window.lua" "$url" >/dev/null
    for _ in $(seq $((STEADY / WINDOW))); do
        window steady
    done
else
    sleep "$STEADY"
fi

echo building > "$out/phase"
echo "bench-swap: $REBUILDS rebuilds$( [ "$WRK" = 1 ] && echo " under load")"
(
    while [ ! -e "$out/stop" ]; do
        if [ "$WRK" = 1 ]; then
            window rebuilding
        else
            sleep 1
        fi
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

gens=$out/index/generations
[ "$SWITCHES" -gt 0 ] && echo switching > "$out/phase"
for i in $(seq "$SWITCHES"); do
    cur=$(readlink "$out/index/current")
    to=$(ls "$gens" | sort -n | grep -vx "${cur#generations/}" | tail -1)
    [ -n "$to" ] || die "switches need a second generation (a rebuild)"
    # the workers' next read of "current" is within a second
    sleep 2
    ln -sfn "generations/$to" "$out/index/.current.bench"
    mv -T "$out/index/.current.bench" "$out/index/current"
    echo "bench-swap: switch $i/$SWITCHES: current -> generations/$to"
done

# the probe's last round reaches every worker on the last generation
sleep 3
touch "$out/stop"
wait "$loader"
wait "$probe" || die "the probe client failed"

rc=0
: > "$out/results.txt"
[ "$WRK" = 1 ] && { python3 - "$out/windows.tsv" "$REBUILDS" "$elapsed" \
    <<'END' | tee "$out/results.txt" || rc=1; }
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

python3 - "$out/probe.tsv" "$PROBE_INTERVAL" "$N" "$D" "$WORKERS" \
    "$out/prefix/logs/error.log" <<'END' | tee -a "$out/results.txt" || rc=1
import re
import sys

# what opening each generation cost each worker, from its notice lines
# (" T": a thread of the pool opened it, off the requests); the first
# one, at start, precedes the probe
opened = {}
for line in open(sys.argv[6], errors="replace"):
    m = re.search(r" (\d+)#\d+: .*serving generation (\d+) .*opened in "
                  r"(\d+) us", line)
    if m:
        opened.setdefault((m.group(1), m.group(2)), []).append(
            (int(m.group(3)), " T" if "by a thread" in line else ""))

rows = []
for line in open(sys.argv[1]):
    t, phase, pid, gen, status, us = line.rstrip("\n").split("\t")
    rows.append((int(t), phase, pid, gen, int(status), int(us)))
interval, n, d, workers = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] if v else 0

def ms(us):
    return "%.2f" % (us / 1000.0)

ok = [r for r in rows if 200 <= r[4] < 300]
steady = [r[5] for r in ok if r[1] == "steady"]
building = [r[5] for r in ok if r[1] == "building"]
p50 = pct(steady, 0.5)

print()
print("first request per worker after each publish: %s x %s items, %s "
      "workers, one probe request at a time every %s ms" %
      (n, d, workers, interval))
print("steady state (no build): %d requests, p50 %s ms, p99 %s ms; while "
      "building: p50 %s ms, p99 %s ms" %
      (len(steady), ms(p50), ms(pct(steady, 0.99)), ms(pct(building, 0.5)),
       ms(pct(building, 0.99))))
print()
fmt = "%-10s %-8s %9s %9s %9s %8s %12s %12s"
print(fmt % ("generation", "worker", "first ms", "p50 ms", "diff ms",
             "open ms", "prior p50 ms", "next 10 max"))

worst = None
by_pid = {}
for r in ok:
    by_pid.setdefault(r[2], []).append(r)
lines = []
for pid, rs in by_pid.items():
    for i in range(1, len(rs)):
        if rs[i][3] == rs[i - 1][3]:
            continue
        first = rs[i][5]
        prior = pct([x[5] for x in rs[max(0, i - 50):i]], 0.5)
        nxt = max([x[5] for x in rs[i + 1:i + 11]] or [0])
        diff = first - p50
        worst = diff if worst is None or diff > worst else worst
        # the n-th switch of a worker to a generation: its n-th notice
        ops = opened.get((pid, rs[i][3])) or [None]
        op = ops.pop(0) if len(ops) > 1 else ops[0]
        lines.append((int(rs[i][3]) if rs[i][3].isdigit() else 0, pid,
                      first, diff,
                      "-" if op is None else ms(op[0]) + op[1], prior,
                      nxt))
for g, pid, first, diff, op, prior, nxt in sorted(lines,
                                                  key=lambda x: x[:2]):
    print(fmt % (g, pid, ms(first), ms(p50), ms(diff), op, ms(prior),
                 ms(nxt)))

bad = len(rows) - len(ok)
print()
print("diff: first request minus the steady p50; open: what opening the "
      "generation took (the worker's notice line), inside that request, or "
      "T: in a thread of the pool before the switch; prior p50: that "
      "worker's last 50 requests before the switch")
if worst is not None:
    print("worst first-request difference: %s ms (bar: at most 2 ms)" %
          ms(worst))
print("probe requests: %d, non-2xx: %d" % (len(rows), bad))
sys.exit(1 if bad else 0)
END
exit $rc
