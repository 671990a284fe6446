#!/bin/sh
# "make run": builds the demo catalog and serves it with nginx in the
# foreground on 127.0.0.1:$PORT.  Ctrl-C stops it.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-8080}
LISTEN=${LISTEN:-127.0.0.1}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
# the per-address limit on /v1/: generous for a person and for wrk
RECSYS_DEMO_RATE=${RECSYS_DEMO_RATE:-2000r/s}
RECSYS_DEMO_BURST=${RECSYS_DEMO_BURST:-4000}
RECSYS_DEMO_DIR=$root/build/demo

# nginx started as root runs its workers as "nobody": when they cannot
# reach the checkout (a 0700 home directory), serve from /tmp instead
if [ "$(id -u)" -eq 0 ] \
   && ! su -s /bin/sh nobody -c "test -x '$root/build'" 2>/dev/null
then
    RECSYS_DEMO_DIR=/tmp/recsys-demo
fi
export RECSYS_DEMO_DIR

mkdir -p "$RECSYS_DEMO_DIR"
"$root"/build/recsys-gen demo > "$RECSYS_DEMO_DIR"/items.jsonl
"$root"/build/recsys-build "$root"/conf/demo.yaml

sed -e "s|@MODULE@|$root/build/ngx_http_recsys_module.so|" \
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

MSG

exec "$NGINX_BIN" -p "$RECSYS_DEMO_DIR" -c "$RECSYS_DEMO_DIR"/nginx.conf \
    -g 'daemon off;'
