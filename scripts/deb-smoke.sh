#!/bin/sh
# Smoke test of the Debian package (make deb-smoke): takes the .deb, starts
# the stock nginx (/usr/sbin/nginx, from Debian's nginx package) with the
# package's load snippet and its example server block, builds the example
# catalog with the packaged tools, and curls it.
#
#   scripts/deb-smoke.sh [--install] [package.deb]
#
# Default: the package is unpacked into a throwaway root (dpkg-deb -x) and
# nothing on the machine changes.  --install: dpkg installs it for real
# (root, and its dependencies present), the test goes through
# /etc/nginx/modules-enabled/50-mod-http-recsys.conf as the postinst made
# it, and the package is purged afterwards unless it was installed
# before.  Either way nginx runs with its own -p prefix and -c conf on
# 127.0.0.1:$SMOKE_PORT (default 8089): /etc/nginx is only read.
#
# "ok" only prints, so "test && ok || bad" is if-then-else here:
# shellcheck disable=SC2015
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
SMOKE_PORT=${SMOKE_PORT:-8089}
pkg=libnginx-mod-http-recsys
install=no
if [ "${1:-}" = --install ]; then
    install=yes
    shift
fi
deb=${1:-}
if [ -z "$deb" ]; then
    # shellcheck disable=SC2012
    deb=$(ls -t "$root"/build/deb/${pkg}_*_*.deb 2>/dev/null | head -1)
fi
[ -f "$deb" ] || { echo "deb-smoke: no package (make deb)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/recsys-deb-smoke.XXXXXX)
# root's nginx runs its workers as nobody: they read the index under $tmp
chmod 755 "$tmp"
was_installed=no
nginx_pid=
fails=0

cleanup() {
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill -QUIT "$nginx_pid"
        sleep 1
    fi
    if [ $install = yes ] && [ $was_installed = no ]; then
        dpkg --purge "$pkg" > /dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
# a reader that goes away ("... | head") must not leave it installed
trap 'exit 1' HUP INT PIPE TERM

ok() { echo "deb-smoke: ok   $*"; }
bad() { echo "deb-smoke: FAIL $*"; fails=$((fails + 1)); }

echo "deb-smoke: $deb"

if [ $install = yes ]; then
    if dpkg-query -W -f '${Status}' $pkg 2>/dev/null | grep -q 'ok installed'
    then
        was_installed=yes
    fi
    dpkg -i "$deb" > /dev/null
    prefix=
    snippet=/etc/nginx/modules-enabled/50-mod-http-recsys.conf
    [ -L "$snippet" ] && ok "postinst enabled $snippet" \
        || bad "$snippet: no symlink"
else
    dpkg-deb -x "$deb" "$tmp/root"
    prefix=$tmp/root
    snippet=$prefix/usr/share/nginx/modules-available/mod-http-recsys.conf
    # the package's dependencies are the ones a real install would need
    deps=$(dpkg-deb -f "$deb" Depends)
    echo "deb-smoke: Depends: $deps"
    for d in $(echo "$deps" | tr ',' '\n' | sed 's/[(|].*//; s/ //g'); do
        case $d in
            nginx-abi-*) continue ;;    # provided by nginx, checked below
        esac
        dpkg-query -W -f '${Status}' "$d" 2>/dev/null \
            | grep -q 'ok installed' || bad "dependency $d not installed"
    done
    abi=$(echo "$deps" | tr ',' '\n' | grep -o 'nginx-abi-[^ ]*' || true)
    dpkg-query -W -f '${Provides}' nginx 2>/dev/null | grep -q "$abi" \
        && ok "the installed nginx provides $abi" \
        || bad "the installed nginx does not provide $abi"
fi

modules=$prefix/usr/lib/nginx/modules
bin=$prefix/usr/bin
examples=$prefix/usr/share/doc/$pkg/examples

for f in "$modules/ngx_http_recsys_module.so" "$bin/recsys-build" \
         "$bin/recsys-gen" "$examples/example-catalog.yaml" \
         "$examples/recsys-example.conf" "$examples/recsys-production.conf"
do
    [ -f "$f" ] && ok "${f#"$prefix"}" || bad "${f#"$prefix"} missing"
done
[ "$(cat "$snippet")" = "load_module modules/ngx_http_recsys_module.so;" ] \
    && ok "load snippet: $(cat "$snippet")" || bad "load snippet $snippet"
for b in "$bin"/recsys-* "$modules/ngx_http_recsys_module.so"; do
    if ldd "$b" | grep -q 'not found'; then
        bad "$b: $(ldd "$b" | grep 'not found' | tr -d '\t')"
    fi
done

# the snippet's "modules/" is relative to nginx's prefix, as for the stock
# nginx (/usr/share/nginx/modules -> /usr/lib/nginx/modules)
mkdir -p "$tmp/prefix" "$tmp/data"
ln -s "$modules" "$tmp/prefix/modules"

# the example catalog and server block as shipped, on our paths and port
RECSYS_EXAMPLE_DIR=$tmp/data
export RECSYS_EXAMPLE_DIR
cp "$examples/example-catalog.yaml" "$tmp/example-catalog.yaml"
sed -e "s|/etc/recsys/example-catalog.yaml|$tmp/example-catalog.yaml|" \
    -e "s|listen 127.0.0.1:8080;|listen 127.0.0.1:$SMOKE_PORT;|" \
    "$examples/recsys-example.conf" > "$tmp/recsys-example.conf"
grep -q "$SMOKE_PORT" "$tmp/recsys-example.conf" \
    || bad "recsys-example.conf: no listen 127.0.0.1:8080 to replace"

"$bin/recsys-gen" demo > "$tmp/data/items.jsonl"
"$bin/recsys-build" -q "$tmp/example-catalog.yaml" \
    && ok "recsys-build published $(readlink "$tmp/data/index/current")" \
    || bad "recsys-build"
chmod -R a+rX "$tmp"
if [ "$(id -u)" -eq 0 ]; then
    chown -R nobody "$tmp/data/index"
fi

cat > "$tmp/nginx.conf" <<EOF
include $snippet;
worker_processes 1;
error_log $tmp/error.log notice;
pid $tmp/nginx.pid;
env RECSYS_EXAMPLE_DIR;
events { worker_connections 64; }
http {
    access_log $tmp/access.log;
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    include $tmp/recsys-example.conf;
}
EOF

"$NGINX_BIN" -t -q -p "$tmp/prefix/" -c "$tmp/nginx.conf" \
    && ok "nginx -t" || bad "nginx -t"
"$NGINX_BIN" -p "$tmp/prefix/" -c "$tmp/nginx.conf"
i=0
while [ ! -s "$tmp/nginx.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
nginx_pid=$(cat "$tmp/nginx.pid" 2>/dev/null || true)

u=http://127.0.0.1:$SMOKE_PORT
# GET $1, expect status $2 and a body matching $3
check() {
    i=0
    while :; do
        out=$(curl -s -o "$tmp/body.out" -w '%{http_code}' "$u$1" || true)
        [ "$out" = "$2" ] || [ $i -ge 30 ] && break
        sleep 0.2; i=$((i + 1))
    done
    if [ "$out" = "$2" ] && grep -Eq "$3" "$tmp/body.out"; then
        ok "GET $1: $out $(head -c 80 "$tmp/body.out")"
    else
        bad "GET $1: $out $(head -c 200 "$tmp/body.out")"
    fi
}

check /health/ready 200 '"status":"ready"'
check '/v1/items/jazz-albums-0001/similar?k=3' 200 '^\{"items":\['
check '/v1/popular?k=3&category=coffee' 200 '"category":"coffee"'
check /v1/nothing 404 '"code":"not_found"'
check /metrics 200 '^# (HELP|TYPE) '

if [ $fails -ne 0 ]; then
    echo "deb-smoke: $fails failed; nginx's error.log:"
    tail -20 "$tmp/error.log"
    exit 1
fi
echo "deb-smoke: all ok"
