#!/bin/sh
# The container's entrypoint: writes nginx's configuration from the
# production example (conf/recsys-production.conf, in the image as
# /usr/share/recsys/recsys-production.conf) and the environment, then
# runs nginx in the foreground as the container's (non-root) user.
#
#   RECSYS_ADMIN_TOKEN      required: the admin endpoints' Bearer token, 16
#                           to 256 of A-Z a-z 0-9 . _ ~ + / = -
#   RECSYS_DATABASE_URL     required: the catalog's PostgreSQL (libpq URI)
#   RECSYS_LISTEN           port, default 8080
#   RECSYS_TRUSTED_PROXIES  addresses whose X-Forwarded-For is believed,
#                           default the private networks
#   RECSYS_ADMIN_ALLOW      who may call /admin/, /metrics and
#                           /health/detailed besides 127.0.0.1, default
#                           the private networks
#
# Paths, for running it outside a container (t/032-docker.t does):
# RECSYS_RUN_DIR (/run/recsys: the generated files, pid, temp files),
# RECSYS_CONF_TEMPLATE, RECSYS_CATALOG (/etc/recsys/catalog.yaml),
# RECSYS_MODULES_CONF (/etc/nginx/modules-enabled/*.conf: the package's
# load snippet), NGINX_BIN.  With arguments it runs them instead
# (docker run ... recsys-build /etc/recsys/catalog.yaml).
set -eu

if [ $# -gt 0 ]; then
    exec "$@"
fi

private="10.0.0.0/8 172.16.0.0/12 192.168.0.0/16"
RECSYS_LISTEN=${RECSYS_LISTEN:-8080}
RECSYS_TRUSTED_PROXIES=${RECSYS_TRUSTED_PROXIES:-$private}
RECSYS_ADMIN_ALLOW=${RECSYS_ADMIN_ALLOW:-$private}
RECSYS_RUN_DIR=${RECSYS_RUN_DIR:-/run/recsys}
RECSYS_CONF_TEMPLATE=${RECSYS_CONF_TEMPLATE:-/usr/share/recsys/recsys-production.conf}
RECSYS_CATALOG=${RECSYS_CATALOG:-/etc/recsys/catalog.yaml}
RECSYS_MODULES_CONF=${RECSYS_MODULES_CONF:-/etc/nginx/modules-enabled/*.conf}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}

die() { echo "recsys-entrypoint: $*" >&2; exit 1; }

token=${RECSYS_ADMIN_TOKEN:-}
[ -n "$token" ] || die "RECSYS_ADMIN_TOKEN is not set (e.g. openssl rand -hex 32)"
# the token goes into nginx's configuration between quotes: no quote,
# backslash, "$" (a variable), blank or ";"
case $token in
    *[!A-Za-z0-9._~+/=-]*)
        die "RECSYS_ADMIN_TOKEN: only A-Z a-z 0-9 . _ ~ + / = - allowed" ;;
esac
[ ${#token} -ge 16 ] && [ ${#token} -le 256 ] \
    || die "RECSYS_ADMIN_TOKEN: 16 to 256 characters, got ${#token}"
[ -n "${RECSYS_DATABASE_URL:-}" ] || die "RECSYS_DATABASE_URL is not set"
case $RECSYS_LISTEN in
    ''|*[!0-9]*) die "RECSYS_LISTEN: a port number, got \"$RECSYS_LISTEN\"" ;;
esac
for a in $RECSYS_TRUSTED_PROXIES $RECSYS_ADMIN_ALLOW; do
    case $a in
        *[!0-9a-fA-F.:/]*) die "not an address or network: \"$a\"" ;;
    esac
done

run=$RECSYS_RUN_DIR
mkdir -p "$run"
umask 077
printf 'recsys_admin_token "%s";\n' "$token" > "$run/admin-token.conf"
umask 022

# "directive X;" once per address, joined for sed's replacement
lines() {
    out=
    for a in $2; do
        out="$out${out:+\\n        }$1 $a;"
    done
    printf "%s\n" "$out"
}

# each literal of the example must be there: a changed example fails here
# rather than starting with a half-adapted configuration
conf=$(cat "$RECSYS_CONF_TEMPLATE")
for lit in 'recsys_catalog catalog /etc/recsys/catalog.yaml;' \
           'listen 80 default_server;' \
           'access_log /var/log/nginx/recsys.access.log recsys_json;' \
           'error_log  /var/log/nginx/recsys.error.log warn;' \
           'include /etc/recsys/admin-token.conf;' \
           'set_real_ip_from 10.0.0.0/8;' \
           'allow 10.0.0.0/8;'
do
    printf '%s\n' "$conf" | grep -qF "$lit" \
        || die "$RECSYS_CONF_TEMPLATE: \"$lit\" not found"
done

printf '%s\n' "$conf" | sed \
    -e "s|recsys_catalog catalog /etc/recsys/catalog.yaml;|recsys_catalog catalog $RECSYS_CATALOG;|" \
    -e "s|listen 80 default_server;|listen $RECSYS_LISTEN default_server;|" \
    -e "s|access_log /var/log/nginx/recsys.access.log|access_log /dev/stdout|" \
    -e "s|error_log  /var/log/nginx/recsys.error.log|error_log stderr|" \
    -e "s|include /etc/recsys/admin-token.conf;|include $run/admin-token.conf;|" \
    -e "s|set_real_ip_from 10.0.0.0/8;|$(lines set_real_ip_from "$RECSYS_TRUSTED_PROXIES")|" \
    -e "s|allow 10.0.0.0/8;|$(lines allow "$RECSYS_ADMIN_ALLOW")|" \
    > "$run/recsys.conf"

cat > "$run/nginx.conf" <<EOF
# written by recsys-entrypoint; edit $RECSYS_CONF_TEMPLATE or the
# environment instead
include $RECSYS_MODULES_CONF;
worker_processes auto;
pid $run/nginx.pid;
error_log stderr notice;
# the catalog's dsn and index path: the helper re-reads the catalog
env RECSYS_DATABASE_URL;
env RECSYS_INDEX_DIR;
events {
    worker_connections 1024;
}
http {
    default_type application/octet-stream;
    client_body_temp_path $run/body;
    proxy_temp_path $run/proxy;
    fastcgi_temp_path $run/fastcgi;
    uwsgi_temp_path $run/uwsgi;
    scgi_temp_path $run/scgi;
    include $run/recsys.conf;
}
EOF

"$NGINX_BIN" -e stderr -t -q -c "$run/nginx.conf"
exec "$NGINX_BIN" -e stderr -c "$run/nginx.conf" -g 'daemon off;'
