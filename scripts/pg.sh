#!/bin/sh
# A throwaway PostgreSQL 15 cluster for the tests and benchmarks.
#
#   scripts/pg.sh start [dir]   initdb (once) and start; idempotent
#   scripts/pg.sh stop  [dir]   stop and remove the data directory
#   scripts/pg.sh env   [dir]   print "export RECSYS_DATABASE_URL=..." lines
#
# dir defaults to build/pg.  The server listens on 127.0.0.1 and on a
# private socket directory inside dir, port RECSYS_PG_PORT (55432).
# PostgreSQL refuses to run as root: as root, the server runs as the
# "postgres" user, which then owns dir.
#
# Database "recsys" with two roles: "postgres" (trust, superuser) and
# "recsys" with a password, owner of the database; RECSYS_DATABASE_URL
# uses the latter so that password redaction is exercised.
set -eu

cmd=${1:-}
dir=${2:-build/pg}
port=${RECSYS_PG_PORT:-55432}
bin=${RECSYS_PG_BIN:-/usr/lib/postgresql/15/bin}
password=${RECSYS_PG_PASSWORD:-s3cret-Pw}

case "$cmd" in
start|stop|env) ;;
*)
    echo "usage: $0 start|stop|env [dir]" >&2
    exit 2
    ;;
esac

mkdir -p "$(dirname "$dir")"
dir=$(cd "$(dirname "$dir")" && pwd)/$(basename "$dir")
data=$dir/data
sock=$dir/sock

if [ "$(id -u)" -eq 0 ]; then
    as() { su postgres -s /bin/sh -c "cd / && $*"; }
    owner=postgres
else
    as() { sh -c "$*"; }
    owner=
fi

# a checkout under a 0700 home directory is out of the postgres user's
# reach: keep the cluster under /tmp then, named after dir so start, env
# and stop agree
if [ -n "$owner" ] \
   && ! as "test -x '$(dirname "$dir")'" 2>/dev/null
then
    dir=/tmp/recsys-pg-$(printf '%s' "$dir" | cksum | cut -d' ' -f1)
    data=$dir/data
    sock=$dir/sock
fi

url="postgresql://recsys:$password@127.0.0.1:$port/recsys"

running() {
    [ -f "$data/postmaster.pid" ] && as "'$bin/pg_ctl' -D '$data' status" \
        >/dev/null 2>&1
}

case "$cmd" in

env)
    echo "export RECSYS_DATABASE_URL='$url'"
    echo "export RECSYS_PG_SOCKET='$sock'"
    echo "export RECSYS_PG_PORT='$port'"
    admin="postgresql://postgres@127.0.0.1:$port/recsys"
    echo "export RECSYS_PG_ADMIN_URL='$admin'"
    exit 0
    ;;

stop)
    if running; then
        as "'$bin/pg_ctl' -D '$data' -m immediate -w stop" >/dev/null
    fi
    rm -rf "$dir"
    exit 0
    ;;
esac

if running; then
    exit 0
fi

if [ ! -x "$bin/initdb" ]; then
    echo "pg.sh: $bin/initdb not found: install the postgresql package" >&2
    exit 1
fi

mkdir -p "$dir"
# the postgres user must reach dir through its parents
chmod 755 "$dir"
if [ -n "$owner" ]; then
    chown "$owner" "$dir"
fi

if [ ! -f "$data/PG_VERSION" ]; then
    rm -rf "$data" "$sock"
    as "mkdir -p '$sock' && chmod 700 '$sock'"
    as "'$bin/initdb' -D '$data' -U postgres -A trust -E UTF8 \
        --locale=C.UTF-8 --no-sync" >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }

    # trust for the socket and the superuser; a password for "recsys"
    as "cat > '$data/pg_hba.conf'" <<END
local   all   all                       trust
host    all   postgres   127.0.0.1/32   trust
host    all   all        127.0.0.1/32   scram-sha-256
END

    as "cat >> '$data/postgresql.conf'" <<END
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 256MB
max_wal_size = 4GB
logging_collector = off
END
    fresh=1
else
    fresh=0
fi

as "'$bin/pg_ctl' -D '$data' -l '$dir/server.log' -w -t 60 start" \
    >/dev/null || {
    tail -20 "$dir/server.log" >&2
    exit 1
}

if [ "$fresh" -eq 1 ]; then
    as "'$bin/psql' -h '$sock' -p $port -U postgres -d postgres -qX \
        -v ON_ERROR_STOP=1" >/dev/null <<END
CREATE ROLE recsys LOGIN PASSWORD '$password';
CREATE DATABASE recsys OWNER recsys;
END
fi
