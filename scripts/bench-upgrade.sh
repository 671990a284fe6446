#!/bin/sh
# What a package upgrade costs under load, the three ways of putting a
# new module file in place (as dpkg does: a new file renamed over the old):
#
#   none     the file is not touched (the baseline)
#   reload   new file, then HUP (what the package's nginx-reload trigger
#            and "systemctl reload nginx" do)
#   upgrade  new file, then the binary upgrade: USR2 (a new master from
#            /usr/sbin/nginx), WINCH (old workers finish and leave), QUIT
#            (the old master goes)
#
# wrk runs against "similar" on the demo catalog for BENCH_SECONDS while
# the step happens in the middle.  Prints, per way, the answers wrk got
# (2xx: the endpoint sends no 3xx), the others and the socket errors, and
# whether the workers after it run the module file on disk or the one it
# replaced (/proc/<pid>/maps).  A table, no pass/fail.
#
#   scripts/bench-upgrade.sh      (BENCH_PORT, BENCH_SECONDS, NGINX_BIN,
#                                  RECSYS_BUILD)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${RECSYS_BUILD:-$root/build}" && pwd)
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
port=${BENCH_PORT:-8095}
secs=${BENCH_SECONDS:-12}

for c in wrk "$NGINX_BIN"; do
    command -v "$c" >/dev/null \
        || { echo "bench-upgrade: $c not found (scripts/deps.sh test)" >&2
             exit 1; }
done

tmp=$(mktemp -d /tmp/recsys-upgrade.XXXXXX)
chmod 755 "$tmp"
cleanup() {
    for p in "$tmp"/nginx.pid "$tmp"/nginx.pid.oldbin; do
        if [ -s "$p" ]; then
            kill -QUIT "$(cat "$p")" 2>/dev/null || true
        fi
    done
    sleep 1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir -p "$tmp/modules" "$tmp/logs"
so=$tmp/modules/ngx_http_recsys_module.so
cp "$build/ngx_http_recsys_module.so" "$so"
"$build/recsys-gen" demo > "$tmp/items.jsonl"
cat > "$tmp/catalog.yaml" <<EOF
source:
  type: file
  path: $tmp/items.jsonl
index:
  path: $tmp/index
  dimension: 32
  metric: cosine
EOF
"$build/recsys-build" -q "$tmp/catalog.yaml"
chmod -R a+rX "$tmp"
if [ "$(id -u)" -eq 0 ]; then
    chown -R nobody "$tmp/index"
fi

cat > "$tmp/nginx.conf" <<EOF
load_module $so;
worker_processes 2;
error_log $tmp/logs/error.log notice;
pid $tmp/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $tmp/body;
    recsys_catalog demo $tmp/catalog.yaml;
    server {
        listen 127.0.0.1:$port;
        location ~ ^/v1/items/(?<item_id>[^/]+)/similar\$ {
            recsys similar;
            recsys_item_id \$item_id;
        }
    }
}
EOF

"$NGINX_BIN" -p "$tmp" -c "$tmp/nginx.conf"
sleep 1

# a new file with the same bytes and a new inode, renamed over the old
replace() {
    cp "$so" "$so.dpkg-new"
    mv "$so.dpkg-new" "$so"
}

# the module file the current master's children map: the one on disk
# now, or the one it replaced (deleted, still mapped)
which_file() {
    ino=$(stat -c %i "$so")
    m=$(cat "$tmp/nginx.pid")
    ans=
    for w in $(pgrep -P "$m"); do
        l=$(grep -m1 ngx_http_recsys_module.so "/proc/$w/maps" || true)
        case $l in
            *"(deleted)"*) ans="${ans}replaced-file " ;;
            *" $ino "*)    ans="${ans}file-on-disk " ;;
            "")            ;;    # the helper maps it too; others: skip
            *)             ans="${ans}? " ;;
        esac
    done
    echo "$ans" | tr ' ' '\n' | sort -u | tr '\n' ' '
}

u="http://127.0.0.1:$port/v1/items/jazz-albums-0001/similar?k=5"
printf '%-8s %10s %10s %8s %14s  %s\n' way requests 2xx other \
    "sock c/r/w/t" "module run after"
for way in none reload upgrade; do
    wrk -t1 -c32 -d"${secs}s" "$u" > "$tmp/wrk.$way" 2>&1 &
    wrk_pid=$!
    sleep $((secs / 2))
    case $way in
        reload)
            replace
            kill -HUP "$(cat "$tmp/nginx.pid")"
            ;;
        upgrade)
            replace
            old=$(cat "$tmp/nginx.pid")
            kill -USR2 "$old"
            # the new master has written its pid and started its workers
            i=0
            while :; do
                new=$(cat "$tmp/nginx.pid" 2>/dev/null || true)
                if [ -n "$new" ] && [ "$new" != "$old" ] \
                   && [ "$(pgrep -c -P "$new")" -ge 3 ]
                then
                    break
                fi
                sleep 0.1; i=$((i + 1))
                [ $i -lt 100 ] || { echo "bench-upgrade: no new master"; exit 1; }
            done
            kill -WINCH "$old"
            sleep 1
            kill -QUIT "$old"
            ;;
    esac
    wait $wrk_pid
    total=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$tmp/wrk.$way")
    other=$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' "$tmp/wrk.$way")
    other=${other:-0}
    # connect/read/write/timeout
    sock=$(sed -n 's/^ *Socket errors: *//p' "$tmp/wrk.$way" \
           | tr -cd '0-9,' | tr ',' '/')
    sock=${sock:-0/0/0/0}
    sleep 2
    printf '%-8s %10s %10s %8s %14s  %s\n' "$way" "$total" \
        $((total - other)) "$other" "$sock" "$(which_file)"
done
