#!/bin/sh
# Runs nginx with the module under valgrind (one process, master_process
# off), sends good and bad requests of every kind, has the builder thread
# run a rebuild and a rollback, stops it, and fails on any memory error or
# definite leak.  A second catalog, "refused", serves generations whose
# index.faiss was damaged behind its checksums (recsys-gen tamper): the
# worker refuses the current one and a rollback skips one, the paths
# where FAISS's failed reads leaked (issue 9 item 12).  A third, "ev",
# takes events (good and bad bodies) and ships them on the shipper
# thread into its events.jsonl.  Used by "make memcheck".
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${RECSYS_BUILD:-$root/build}
dir=$build/memcheck
port=${MEMCHECK_PORT:-18095}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}

rm -rf "$dir"
mkdir -p "$dir/logs"
TEST_NGINX_DATA_DIR=$dir
export TEST_NGINX_DATA_DIR
"$build"/recsys-build -q "$root"/t/data/small.yaml 2>/dev/null

cat > "$dir/refused.yaml" <<YAML
source:
  type: file
  path: $root/t/data/small.jsonl
index:
  path: $dir/refused
  dimension: 4
  neighbors: 0
maintenance:
  build_on_start: never
YAML
for _ in 1 2 3; do
    "$build"/recsys-build -q "$dir/refused.yaml" 2>/dev/null
done
"$build"/recsys-gen tamper "$dir/refused/generations/2" list-type
"$build"/recsys-gen tamper "$dir/refused/generations/3" list-type
cat > "$dir/ev.yaml" <<YAML
source: {type: file, path: $root/t/data/small.jsonl}
index: {path: $dir/ev, dimension: 4}
maintenance: {build_on_start: never}
events:
  types: {view: 1, click: 2}
  max_batch: 3
YAML
chmod -R a+rX "$dir"

cat > "$dir/nginx.conf" <<CONF
load_module $build/ngx_http_recsys_module.so;
master_process off;
daemon off;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 64; }
http {
    include $root/conf/recsys-timing.conf;
    access_log $dir/logs/timing.log recsys_timing buffer=4k;
    client_body_temp_path $dir/body;
    recsys_catalog small $root/t/data/small.yaml;
    recsys_catalog refused $dir/refused.yaml;
    recsys_catalog ev $dir/ev.yaml;
    recsys_correlation_id on;
    recsys_limit_zone \$binary_remote_addr zone=ip:1m rate=10000r/s burst=10000;
    recsys_limit_zone \$http_x_api_key zone=key:1m rate=1r/m;
    server {
        listen 127.0.0.1:$port;
        location = /limited { recsys_limit zone=key; recsys popular small; }
        location = /health/ready { recsys_health ready; }
        location = /health/detailed { recsys_health detailed; }
        location = /metrics { recsys_metrics; }
        location ~ ^/v1/items/(?<item>[^/]+)/similar\$ {
            recsys similar small;
            recsys_item_id \$item;
        }
        location = /v1/recommendations { recsys recommendations small; }
        location = /v1/search { recsys search small; recsys_max_body_size 300; }
        location = /v1/popular { recsys popular small; }
        location = /refused/popular { recsys popular refused; }
        location = /v1/events { recsys_events ev; }
        location = /ev/status { recsys_admin status ev; }
        location = /refused/status { recsys_admin status refused; }
        location = /refused/rollback { recsys_admin rollback refused; }
        location = /admin/index/status { recsys_admin status small; }
        location = /admin/index/rebuild { recsys_admin rebuild small; }
        location = /admin/index/rollback { recsys_admin rollback small; }
        location /admin/token/ {
            recsys_admin status small;
            recsys_admin_token secret;
        }
        recsys_limit zone=ip cost=k;
    }
}
CONF

valgrind --leak-check=full --errors-for-leak-kinds=definite --num-callers=40 \
    --error-exitcode=99 --log-file="$dir/valgrind.log" \
    --suppressions="$root/scripts/memcheck.supp" \
    "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" &
vg=$!

u=http://127.0.0.1:$port
for _ in $(seq 1 600); do
    curl -s -o /dev/null "$u/v1/popular" && break
    sleep 0.2
done

json='Content-Type: application/json'
big=$(printf '1, %.0s' $(seq 1 200))
i=0
while [ $i -lt 20 ]; do
    curl -s -o /dev/null "$u/v1/items/apple/similar?k=3&exclude=pear"
    curl -s -o /dev/null "$u/v1/items/nosuch/similar"
    curl -s -o /dev/null "$u/v1/popular?k=0"
    curl -s -o /dev/null "$u/v1/popular?category=%zz"
    curl -s -o /dev/null "$u/v1/recommendations?history=salmon,x,trout"
    curl -s -o /dev/null -H "$json" -d '{"history":["carrot"],"k":3}' \
        "$u/v1/recommendations"
    curl -s -o /dev/null -H "$json" -d '{"vector":[1,0,0,0],"k":2}' \
        "$u/v1/search"
    curl -s -o /dev/null -H "$json" -d '{"vector":[1,0,0' "$u/v1/search"
    curl -s -o /dev/null -H "$json" -d '{"vector":[1,1e999,0,0]}' \
        "$u/v1/search"
    curl -s -o /dev/null -H "$json" -d '{"vector":[1,0]}' "$u/v1/search"
    curl -s -o /dev/null -H "$json" -d "{\"vector\":[$big 1]}" \
        "$u/v1/search"
    curl -s -o /dev/null -H 'Transfer-Encoding: chunked' -H "$json" \
        -d "{\"vector\":[$big 1]}" "$u/v1/search"
    curl -s -o /dev/null -X DELETE "$u/v1/popular"
    curl -s -o /dev/null -H "X-Correlation-ID: ok-$i" "$u/v1/popular?k=2"
    curl -s -o /dev/null -H 'X-Correlation-ID: "bad' "$u/v1/popular"
    curl -s -o /dev/null -H "X-Api-Key: k$((i % 3))" "$u/limited"
    curl -s -o /dev/null "$u/health/ready"
    curl -s -o /dev/null "$u/health/detailed"
    curl -s -o /dev/null "$u/metrics"
    i=$((i + 1))
done

# the builder runs on a thread of this process: a rebuild, a rollback
idle() {
    for _ in $(seq 1 600); do
        case $(curl -s "$u${1:-/admin/index/status}") in
        *'"state":"idle"'*queued_job*) ;;
        *'"state":"idle"'*) return 0 ;;
        esac
        sleep 0.2
    done
    echo "memcheck: the builder did not finish" >&2
    return 1
}

n=0
admin() { curl -s -o /dev/null "$@"; n=$((n + 1)); }

admin -H "$json" -d '{"full": true}' "$u/admin/index/rebuild"
idle
admin -X POST "$u/admin/index/rollback"
idle
case $(curl -s "$u/admin/index/status") in
*'"builds":[{"id":2,"success":true,"type":"rollback"'*'"id":1,"success":true,"type":"full"'*) ;;
*)
    echo "memcheck: the rebuild or the rollback failed" >&2
    kill $vg
    exit 1
    ;;
esac

# "refused": its current generation (3) is refused, the rollback skips 2
# and goes to 1
case $(curl -s -o /dev/null -w '%{http_code}' "$u/refused/popular") in
503) ;;
*)
    echo "memcheck: the tampered generation was served" >&2
    kill $vg
    exit 1
    ;;
esac
admin -X POST "$u/refused/rollback"
idle /refused/status
case $(curl -s "$u/refused/status") in
*'"builds":[{"id":1,"success":true,"type":"rollback"'*) ;;
*)
    echo "memcheck: the rollback of \"refused\" failed" >&2
    kill $vg
    exit 1
    ;;
esac
case $(curl -s "$u/refused/popular") in
*'"generation":1'*) ;;
*)
    echo "memcheck: generation 1 of \"refused\" is not served" >&2
    kill $vg
    exit 1
    ;;
esac

# events: 2 good requests of 3 events each, refusals of every kind
ev=0
event() {
    curl -s -o /dev/null -H "$json" "$@" "$u/v1/events"
    ev=$((ev + 1))
}
for k in 1 2; do
    event -d "{\"events\":[{\"user\":\"u\",\"item\":\"a$k\",\"type\":\"view\"},
{\"user\":7,\"item\":\"b$k\",\"type\":\"click\",\"ts\":\"2026-11-30T10:00:00.5Z\"},
{\"user\":\"\\u00e9\",\"item\":\"c$k\",\"type\":\"view\",\"weight\":-1}]}"
done
event -d '{"events":[{"user":"u","item":"a","type":"view"},{"user":"u"}]}'
event -d '{"events":[1,2,3,4]}'
event -d '{"user":"u","item":"a","type":"nope"}'
event -d '{"user":"u","item":"a","type":"view","ts":"x"}'
event -d '{"user":"u","item":"a","type":"view","weight":1e999}'
event -d '{"user":"u","item":"a","type":"view","user":"v"}'
event -d '{"user":"u","item":"a\u0001","type":"view"}'
event -d '{"events":['
event -H 'Transfer-Encoding: chunked' -d '{"events":[]}'
event -X GET
for _ in $(seq 1 300); do
    case $(curl -s "$u/ev/status") in
    *'"shipped":6,'*'"spool_bytes":0,"ready_segments":0'*) break ;;
    esac
    sleep 0.2
done
case $(wc -l < "$dir/ev/events.jsonl" 2>/dev/null) in
6) ;;
*)
    echo "memcheck: the 6 events were not shipped into ev/events.jsonl" >&2
    kill $vg
    exit 1
    ;;
esac

admin -H "$json" -d '{"full": true} trailing' "$u/admin/index/rebuild"
admin -H "$json" -d '{"full": 1}' "$u/admin/index/rebuild"
admin -H 'Transfer-Encoding: chunked' -H "$json" -d '{}' \
    "$u/admin/index/rebuild"
admin -X DELETE "$u/admin/index/status"
admin "$u/admin/token/x%0Ay"
admin -H 'Authorization: Bearer wrong' "$u/admin/token/x"
admin -H 'Authorization: Bearer secret' "$u/admin/token/x"
admin "$u/admin/index/status"
admin "$u/health/detailed"

kill -QUIT $vg
rc=0
wait $vg || rc=$?

grep -E "ERROR SUMMARY|definitely lost|indirectly lost" "$dir/valgrind.log"
if [ $rc -ne 0 ]; then
    echo "memcheck: valgrind reported errors (exit $rc), see $dir/valgrind.log"
    exit 1
fi
echo "memcheck: no memory errors, no definite leaks (382 requests," \
     "$n admin requests with a rebuild and two rollbacks, two refused" \
     "index.faiss files, $ev events requests, 6 events shipped)"
