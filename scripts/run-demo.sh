#!/bin/sh
# "make run": builds the demo catalog and serves it with nginx in the
# foreground on 127.0.0.1:$PORT.  Ctrl-C stops it.  Each PORT has its own
# directory (build/demo/$PORT: pid file, nginx.conf, items, index, logs);
# the index is rebuilt only when the items, the catalog or recsys-build
# changed; logs are kept under RECSYS_DEMO_LOG_MAX bytes each.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-8080}
LISTEN=${LISTEN:-127.0.0.1}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
# the per-address limit on /v1/: generous for a person and for wrk
RECSYS_DEMO_RATE=${RECSYS_DEMO_RATE:-2000r/s}
RECSYS_DEMO_BURST=${RECSYS_DEMO_BURST:-4000}
# a log over this many bytes is moved to <name>.1 (the previous .1 is
# dropped) at start and, while nginx runs, checked every 5 seconds
RECSYS_DEMO_LOG_MAX=${RECSYS_DEMO_LOG_MAX:-50000000}
# the module and the tools (make passes its BUILD); where the demo
# directories go
RECSYS_BUILD=${RECSYS_BUILD:-$root/build}
RECSYS_DEMO_BASE=${RECSYS_DEMO_BASE:-$RECSYS_BUILD/demo}
mkdir -p "$RECSYS_DEMO_BASE"
RECSYS_DEMO_DIR=$(cd "$RECSYS_DEMO_BASE" && pwd)/$PORT

# nginx started as root runs its workers as "nobody": when they cannot
# reach the checkout (a 0700 home directory), serve from /tmp instead
if [ "$(id -u)" -eq 0 ] \
   && ! su -s /bin/sh nobody -c "test -x '$RECSYS_DEMO_BASE'" 2>/dev/null
then
    RECSYS_DEMO_DIR=/tmp/recsys-demo-$PORT
fi
export RECSYS_DEMO_DIR

# moves every log of the demo over $1 bytes aside; prints whether it did
rotate_logs() {
    moved=no
    for f in "$RECSYS_DEMO_DIR"/*.log; do
        [ -f "$f" ] || continue
        if [ "$(wc -c < "$f")" -gt "$1" ]; then
            mv -f "$f" "$f.1"
            moved=yes
        fi
    done
    echo $moved
}

mkdir -p "$RECSYS_DEMO_DIR"
# at start every log begins empty: the last run's is kept as .1
rotate_logs 0 > /dev/null

# the items are deterministic: the same items, catalog and recsys-build
# as the generation being served make a new build pointless
"$RECSYS_BUILD"/recsys-gen demo > "$RECSYS_DEMO_DIR"/items.jsonl
stamp=$(cat "$RECSYS_DEMO_DIR"/items.jsonl "$root"/conf/demo.yaml \
            "$RECSYS_BUILD"/recsys-build | cksum)
if [ -e "$RECSYS_DEMO_DIR"/index/current ] \
   && [ "$(cat "$RECSYS_DEMO_DIR"/index.stamp 2>/dev/null)" = "$stamp" ]
then
    echo "recsys demo: items unchanged, serving" \
         "$(readlink "$RECSYS_DEMO_DIR"/index/current)"
else
    "$RECSYS_BUILD"/recsys-build "$root"/conf/demo.yaml
    echo "$stamp" > "$RECSYS_DEMO_DIR"/index.stamp
fi

sed -e "s|@MODULE@|$RECSYS_BUILD/ngx_http_recsys_module.so|" \
    -e "s|@DEMO_DIR@|$RECSYS_DEMO_DIR|g" \
    -e "s|@ROOT@|$root|g" \
    -e "s|@LISTEN@|$LISTEN|g" \
    -e "s|@PORT@|$PORT|g" \
    -e "s|@RATE@|$RECSYS_DEMO_RATE|g" \
    -e "s|@BURST@|$RECSYS_DEMO_BURST|g" \
    "$root"/conf/nginx-demo.conf > "$RECSYS_DEMO_DIR"/nginx.conf

# workers run as an unprivileged user when nginx starts as root; the
# helper, which rebuilds the index, runs as that user too
chmod -R a+rX "$RECSYS_DEMO_DIR"
if [ "$(id -u)" -eq 0 ]; then
    chown -R nobody "$RECSYS_DEMO_DIR"/index
fi

"$NGINX_BIN" -t -q -p "$RECSYS_DEMO_DIR" -c "$RECSYS_DEMO_DIR"/nginx.conf

u=http://$LISTEN:$PORT
cat <<MSG

recsys demo: nginx on $u (Ctrl-C stops it). Try:

  curl -s '$u/v1/items/jazz-albums-0001/similar?k=5'
  curl -s '$u/v1/popular?k=5&category=coffee'
  curl -s -X POST -H 'Content-Type: application/json' \\
       -d '{"history": ["sci-fi-novels-0003", "sci-fi-novels-0010"], "k": 5}' \\
       '$u/v1/recommendations'

Health: $u/health/ready   metrics: $u/metrics
Rebuild the index (127.0.0.1 only, no token: a demo):
  curl -s -X POST '$u/admin/index/rebuild'; curl -s '$u/admin/index/status'
Timing log (access_log, conf/recsys-timing.conf): $RECSYS_DEMO_DIR/timing.log
Each log: at most $RECSYS_DEMO_LOG_MAX bytes, then moved to .1

MSG

# the cap while running: this shell's pid becomes nginx's master by exec,
# which reopens its logs on USR1; the check stops when the master is gone
# (started twice removed, so that nginx does not reap it as an unknown
# child)
( (
    while sleep 5 && kill -0 $$ 2>/dev/null; do
        if [ "$(rotate_logs "$RECSYS_DEMO_LOG_MAX")" = yes ]; then
            kill -USR1 $$ 2>/dev/null || true
        fi
    done
) & )

exec "$NGINX_BIN" -p "$RECSYS_DEMO_DIR" -c "$RECSYS_DEMO_DIR"/nginx.conf \
    -g 'daemon off;'
