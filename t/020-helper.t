# The helper: builds on start, admin rebuild/status/rollback, one build at a
# time, auth, a helper killed mid-build, a corrupt generation refused.
#
# wait_idle, kill_helper, corrupt, generations_complete, a block's
# catalog and locations: see t/lib/RecsysHelper.pm.  Index directories
# are $TEST_NGINX_DATA_DIR/h<N>, removed when the file starts; "big" is
# 30k x 64, slow enough to build to be caught running.

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use RecsysChecks;
use RecsysHelper;

repeat_each(1);
no_shuffle();
master_on();
workers(1);
plan('no_plan');

RecsysHelper::big_catalog();
add_block_preprocessor(\&RecsysHelper::sections);

run_tests();

__DATA__

=== TEST 1: build_on_start (default if_missing) builds an empty index dir
--- catalog: h1 small
--- locations: p status
--- wait_idle: 0:1
--- request eval
["GET /admin/index/status", "GET /p?k=1", "GET /admin/index/status"]
--- error_code eval
[200, 200, 200]
--- response_headers_like eval
["", "X-Index-Generation: 1", ""]
--- response_body_like eval
['"catalog":"h1"', '"generation":1',
 '"builder":\{"state":"idle","mode":"helper_process".*"builds":\[\{"id":1,"success":true,"type":"full","trigger":"start","generation":1,"items":12']
--- no_error_log
[alert]
[crit]



=== TEST 2: admin rebuild: 202 with the build id, then a new generation is served
--- catalog: h2 small
--- locations: p status rebuild
--- wait_idle: 0:1 2:2
--- request eval
["GET /admin/index/status", "GET /p?k=1",
 "POST /admin/index/rebuild", "GET /admin/index/status", "GET /p?k=1"]
--- error_code eval
[200, 200, 202, 200, 200]
--- response_headers_like eval
["", "X-Index-Generation: 1", "Location: /admin/index/status", "",
 "X-Index-Generation: 2"]
--- response_body_like eval
['"catalog":"h2"',
 '"generation":1',
 '^\{"build_id":2,"full":false,"catalog":"h2","status":"queued","status_url":"/admin/index/status"\}$',
 '"generation":\{"number":2,.*"builds":\[\{"id":2,"success":true,"type":"full","trigger":"admin","generation":2.*\},\{"id":1,',
 '"generation":2']
--- log_has: 4 recsys catalog "h2": build 2 published generation 2
--- no_error_log
[error]



=== TEST 3: a rebuild while one runs is 409, so is a rollback; {"full": true}
--- catalog
h3 big
maintenance: {build_on_start: never}
--- locations: status rebuild rollback
--- wait_idle: 3:1
--- more_headers
Content-Type: application/json
--- request eval
["POST /admin/index/rebuild\n{\"full\": true}",
 "POST /admin/index/rebuild",
 "POST /admin/index/rollback",
 "GET /admin/index/status",
 "GET /admin/index/status"]
--- error_code eval
[202, 409, 409, 200, 200]
--- response_body_like eval
['"build_id":1,"full":true',
 '"code":"build_in_progress","message":"build 1 of catalog .+h3.+ is running or queued"',
 '"code":"build_in_progress"',
 '"catalog":"h3"',
 '"state":"idle".*"builds":\[\{"id":1,"success":true,"type":"full","trigger":"admin","generation":1,"items":30000']
--- timeout: 120
--- no_error_log
[alert]



=== TEST 4: rollback is queued (202) and run by the helper; status has its result
--- catalog: h4 small
--- locations: p status rebuild rollback
--- wait_idle: 0:1 1:2 3:3 6:4
--- request eval
["GET /admin/index/status", "POST /admin/index/rebuild", "GET /p?k=1",
 "POST /admin/index/rollback", "GET /p?k=1", "GET /admin/index/status",
 "POST /admin/index/rollback", "GET /admin/index/status",
 "GET /admin/index/rollback"]
--- error_code eval
[200, 202, 200, 202, 200, 200, 202, 200, 405]
--- response_headers_like eval
["", "", "X-Index-Generation: 2", "Location: /admin/index/status",
 "X-Index-Generation: 1", "", "", "", "Allow: POST"]
--- response_body_like eval
['"catalog":"h4"', '"build_id":2', '"generation":2',
 '^\{"rollback_id":3,"catalog":"h4","status":"queued","status_url":"/admin/index/status"\}$',
 '"generation":1',
 '"generation":\{"number":1,.*"builds":\[\{"id":3,"success":true,"type":"rollback","trigger":"admin","previous_generation":2,"generation":1,"items":12,"duration_seconds":[0-9.]+,"error":null,',
 '"rollback_id":4',
 '"generation":\{"number":1,.*"builds":\[\{"id":4,"success":false,"type":"rollback","trigger":"admin","previous_generation":1,"generation":null,"items":null,"duration_seconds":[0-9.]+,"error":"[^"]+"',
 '"code":"method_not_allowed"']
--- log_has: 5 recsys catalog "h4": rollback 3: rolled back from generation 2 to 1
--- no_error_log
[alert]



=== TEST 5: a bearer token: missing is 401 with WWW-Authenticate, wrong is 403
--- catalog
h5 small
maintenance: {build_on_start: never}
--- http_config
recsys_admin_token "s3cret token";
--- locations: status rebuild
--- config
location = /var/status {
    set $admin_token "";
    recsys_admin status;
    recsys_admin_token $admin_token;
}
--- request eval
["GET /admin/index/status", "GET /admin/index/status",
 "GET /admin/index/status", "GET /admin/index/status",
 "POST /admin/index/rebuild", "GET /var/status"]
--- more_headers eval
["", "Authorization: Bearer wrong", "Authorization: Basic czNjcmV0",
 "Authorization: Bearer s3cret token", "Authorization: Bearer s3cret",
 "Authorization: Bearer anything"]
--- error_code eval
[401, 403, 401, 200, 403, 403]
--- response_headers_like eval
['WWW-Authenticate: Bearer realm="recsys admin"',
 'WWW-Authenticate: Bearer realm="recsys admin", error="invalid_token"',
 'WWW-Authenticate: Bearer realm="recsys admin"',
 "Content-Type: application/json", "", ""]
--- error_json eval
"unauthorized forbidden unauthorized - forbidden forbidden"
--- response_body_unlike eval
["s3cret", "s3cret", "s3cret", "s3cret", "s3cret", "s3cret"]
--- no_error_log
[alert]



=== TEST 6: nginx allow/deny guard the admin locations
--- catalog
h6 small
maintenance: {build_on_start: never}
--- config
location = /admin/index/rebuild {
    allow 192.0.2.1;
    deny all;
    recsys_admin rebuild;
}
location = /admin/index/status {
    allow 127.0.0.1;
    deny all;
    recsys_admin status;
}
--- request eval
["POST /admin/index/rebuild", "GET /admin/index/status"]
--- error_code eval
[403, 200]
--- response_body_like eval
["403 Forbidden", '"builds":\[\]']
--- log_has: 0 access forbidden by rule



=== TEST 7: kill -9 of the helper mid-build: nothing partial, the retry succeeds
--- catalog
h7 big
maintenance: {build_on_start: never, backoff_initial: 1s}
--- locations: p status rebuild
--- kill_helper: 0
--- wait_idle: 1:2
--- generations_complete: 2
--- request eval
["POST /admin/index/rebuild", "GET /p?k=1", "GET /admin/index/status",
 "GET /p?k=1"]
--- error_code eval
[202, 503, 200, 200]
--- response_headers_like eval
["", "", "", "X-Index-Generation: 1"]
--- response_body_like eval
['"build_id":1',
 '"code":"index_unavailable"',
 '"builds":\[\{"id":2,"success":true,"type":"full","trigger":"retry","generation":1,.*\},\{"id":1,"success":false,"type":"full","trigger":"admin","generation":null,"items":null,"duration_seconds":[0-9.]+,"error":"interrupted: the helper process \d+ exited during the build"',
 '"generation":1']
--- timeout: 120
--- log_has: 2 recsys catalog "h7": interrupted: the helper process \d+ exited



=== TEST 8: a corrupt generation is refused with a log line, the old one serves
Without a thread pool the worker opens generation 2 at the request after
the publish, once the test has truncated it; with one, its timer would
open it within 200 ms, before (t/004 TEST 11 has a refusal by the pool).
--- catalog: h8 small
--- http_config
recsys_thread_pool off;
--- locations: p status rebuild
--- wait_idle: 0:1
--- corrupt: 2
--- request eval
["GET /admin/index/status", "GET /p?k=1", "POST /admin/index/rebuild",
 "GET /p?k=1", "GET /p?k=1"]
--- error_code eval
[200, 200, 202, 200, 200]
--- response_headers_like eval
["", "X-Index-Generation: 1", "", "X-Index-Generation: 1",
 "X-Index-Generation: 1"]
--- log_has: 3 recsys catalog "h8": generation "\S+/generations/2" refused, .*items\.bin
--- no_error_log
[alert]
[crit]



=== TEST 9: with an interval, the status shows the next scheduled build
--- catalog
h9 small
maintenance: {build_on_start: never, interval: 1h}
--- locations: status
--- wait_idle: 0:0
--- request eval
["GET /admin/index/status", "GET /admin/index/status"]
--- response_body_like eval
['"catalog":"h9"', '"generation":null,"builder":\{"state":"idle".*"next_build":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","next_build_in_seconds":(359\d|3600),"interval_seconds":3600,"database":\{"state":"not_configured"\},"builds":\[\],"prune":\{"failures":0,"unremovable":\[\]\}\}$']



=== TEST 10: a config mistake names the directive and the value
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
--- config
location = /a { recsys_admin reload; }
--- must_die
--- error_log
invalid parameter "reload", expected rebuild, status or rollback



=== TEST 11: the helper's builds are counted in the metrics, by result
--- catalog: h11 small
--- locations: metrics status rebuild
--- wait_idle: 0:1 1:2
--- request eval
["GET /admin/index/status", "POST /admin/index/rebuild", "GET /metrics"]
--- error_code eval
[200, 202, 200]
--- response_body_like eval
['"catalog":"h11"', '"build_id":2',
 'recsys_rebuilds_total\{catalog="h11",result="success"\} 2\n(?s:.*)recsys_rebuilds_total\{catalog="h11",result="failure"\} 0\n(?s:.*)recsys_rebuild_duration_seconds_count\{catalog="h11"\} 2\n']
--- no_error_log
[error]



=== TEST 12: while the helper process does not beat, ready fails and detailed is unhealthy
--- catalog: h12 small
--- locations: status ready detailed
--- wait_idle: 0:1 4:1
--- stop_helper: 2:11.5
--- cont_helper: 4
--- request eval
["GET /admin/index/status", "GET /health/detailed", "GET /health/ready",
 "GET /health/ready", "GET /health/detailed", "GET /health/detailed"]
--- error_code eval
[200, 200, 200, 503, 503, 200]
--- response_body_like eval
['"catalog":"h12"',
 '^\{"status":"healthy",.*"builder":\{"state":"idle","helper":"pass",.*"status":"pass"\},"database"',
 '"helper":\{"status":"pass"\}',
 '"status":"not_ready","checks":\{"index":\{"status":"pass".*"helper":\{"status":"fail","reason":"the helper process has not reported for over 10 seconds"\}',
 '^\{"status":"unhealthy","checks":\{"catalogs":\{"h12":\{"status":"fail","index":\{"status":"pass",.*"builder":\{"state":"idle","helper":"fail","last_success":"[^"]+","last_failure":null,"consecutive_failures":0,"breaker":"closed","next_run":null,"status":"fail","reason":"the helper process has not reported for over 10 seconds"\},"database":\{"state":"not_configured"\}',
 '^\{"status":"healthy",']
--- timeout: 30



=== TEST 13: a reload replaces the helper; history, ids and schedule stay
--- catalog
h13 small
maintenance: {build_on_start: always}
--- locations: p status rebuild
--- wait_idle: 0:1 1:1 3:2
--- hup: 0
--- request eval
["GET /admin/index/status", "GET /admin/index/status", "GET /p?k=1",
 "POST /admin/index/rebuild", "GET /admin/index/status", "GET /p?k=1"]
--- error_code eval
[200, 200, 200, 202, 200, 200]
--- response_headers_like eval
["", "", "X-Index-Generation: 1", "", "", "X-Index-Generation: 2"]
--- response_body_like eval
['"catalog":"h13"',
 '"builder":\{"state":"idle".*"builds":\[\{"id":1,"success":true,"type":"full","trigger":"start"[^\]]*\],"prune"',
 '"generation":1',
 '"build_id":2',
 '"builds":\[\{"id":2,"success":true,.*\{"id":1,',
 '"generation":2']
--- no_error_log
[alert]
[crit]



=== TEST 14: a reload during a build: nothing partial, the new helper retries
--- catalog
h14 big
maintenance: {build_on_start: never, backoff_initial: 1s}
--- locations: status rebuild
--- running: 0
--- hup: 0
--- wait_idle: 1:2
--- generations_complete: 2
--- request eval
["POST /admin/index/rebuild", "GET /admin/index/status",
 "GET /admin/index/status"]
--- error_code eval
[202, 200, 200]
--- response_body_like eval
['"build_id":1', '"catalog":"h14"',
 '"generation":\{"number":1,.*"builds":\[\{"id":2,"success":true,"type":"full","trigger":"retry","generation":1,.*\},\{"id":1,"success":false,.*"error":"interrupted: the helper process \d+ exited during the build"']
--- timeout: 120
--- no_error_log
[crit]



=== TEST 15: a queued rollback waits for the lock; a rebuild or rollback then is 409
--- catalog: h15 small
--- locations: p status rebuild rollback
--- log_level: debug
--- wait_idle: 0:1 1:2 5:3
--- hold_lock: 1
--- release_lock: 5:1.5
--- request eval
["GET /admin/index/status", "POST /admin/index/rebuild",
 "POST /admin/index/rollback", "POST /admin/index/rebuild",
 "POST /admin/index/rollback", "GET /admin/index/status",
 "GET /admin/index/status", "GET /p?k=1"]
--- error_code eval
[200, 202, 202, 409, 409, 200, 200, 200]
--- response_headers_like eval
["", "", "", "", "", "", "", "X-Index-Generation: 1"]
--- response_body_like eval
['"catalog":"h15"', '"build_id":2', '"rollback_id":3',
 '"code":"build_in_progress","message":"rollback 3 of catalog .+h15.+ is running or queued"',
 '"code":"build_in_progress","message":"rollback 3 of catalog',
 '"builder":\{"state":"idle","mode":"helper_process","build_id":null,"queued_job":"rollback","queued_build_id":3,',
 '"builder":\{"state":"idle",.*"builds":\[\{"id":3,"success":true,"type":"rollback","trigger":"admin","previous_generation":2,"generation":1,',
 '"generation":1']
--- log_has: 6 recsys helper "h15": admin rollback waits for the lock
--- no_error_log
[alert]
[crit]



=== TEST 16: a malformed chunked body is a JSON 400 on every admin path, not 500
--- catalog
h16 small
maintenance: {build_on_start: never}
--- locations: status rebuild rollback
--- config
location = /token/status {
    recsys_admin status;
    recsys_admin_token secret;
}
--- more_headers
Transfer-Encoding: chunked
--- request eval
["GET /admin/index/status\nzz\r\n\r\n",
 "DELETE /admin/index/status\nzz\r\n\r\n",
 "POST /admin/index/rollback\nzz\r\n\r\n",
 "POST /admin/index/rebuild\nzz\r\n\r\n",
 "GET /token/status\nzz\r\n\r\n"]
--- error_code eval
[400, 400, 400, 400, 400]
--- error_json: bad_request
--- no_error_log
[alert]
[crit]



=== TEST 17: an auth failure logs the URI escaped: no forged error.log line
--- catalog
h17 small
maintenance: {build_on_start: never}
--- config
location /admin2/ {
    recsys_admin status;
    recsys_admin_token secret;
}
--- log_level: info
--- request eval
["GET /admin2/status%0A2026/12/01%2000:00:00%20[emerg]%201%231:%20forged",
 "GET /admin2/x%1B[31mred"]
--- more_headers eval
["", "Authorization: Bearer wrong"]
--- error_code eval
[401, 403]
--- log_has: 1 recsys admin: no bearer token for "/admin2/status%0A2026/12/01%2000:00:00%20\[emerg\]%201%231:%20forged"
--- no_error_log eval
[qr{^2026/12/01 00:00:00 \[emerg\]}, "\e[31mred"]



=== TEST 18: a build error that quotes the source is logged escaped
--- user_files
>>> h18.jsonl
{"id": "a", "vector": [1, 0, 0, 0]}
{"id": "x\n2026/12/01 00:00:00 [emerg] 1#1: forged", "vector": [0, 1, 0, 0]}
{"id": "x\n2026/12/01 00:00:00 [emerg] 1#1: forged", "vector": [0, 0, 1, 0]}
>>> h18.yaml
source: {type: file, path: h18.jsonl}
index: {path: $TEST_NGINX_DATA_DIR/h18, dimension: 4}
maintenance: {build_on_start: always, backoff_initial: 1h}
--- http_config
recsys_catalog h18 ../html/h18.yaml;
--- locations: status
--- log_level: info
--- wait_failures: 0:1
--- request eval
["GET /admin/index/status", "GET /admin/index/status"]
--- response_body_like eval
['"catalog":"h18"',
 '"builds":\[\{"id":1,"success":false,.*"error":"[^"]*duplicate id \\\\"x\\\\n2026/12/01 00:00:00 \[emerg\] 1#1: forged\\\\""']
--- log_has: 1 recsys catalog "h18": build 1 failed: .*duplicate id \\"x\\n2026/12/01 00:00:00 \[emerg\] 1#1: forged\\"; retry in
--- no_error_log eval
qr{^2026/12/01 00:00:00 \[emerg\]}



=== TEST 19: the rebuild body is parsed strictly: trailing garbage and a NUL are 400
--- catalog
h19 small
maintenance: {build_on_start: never}
--- locations: rebuild status
--- more_headers
Content-Type: application/json
--- request eval
["POST /admin/index/rebuild\n{\"full\": true} trailing garbage",
 "POST /admin/index/rebuild\n\0{\"full\": true}",
 "POST /admin/index/rebuild\n{\"full\": true}\0",
 "POST /admin/index/rebuild\n\0",
 "POST /admin/index/rebuild\n{\"full\": 1}",
 "POST /admin/index/rebuild\n[true]",
 "POST /admin/index/rebuild\n {\"full\": true} \r\n\t"]
--- error_code eval
[400, 400, 400, 400, 400, 400, 202]
--- error_json eval
"bad_json bad_json bad_json bad_json bad_parameter bad_json -"
--- response_body_like eval
["", "", "", "", "", "", '"build_id":1,"full":true']



=== TEST 20: a 202 points at the catalog's status location, wherever it is
--- catalog
h20a h20b h20c small
maintenance: {build_on_start: never}
--- config
location /ops/a/ { recsys_admin status h20a; }
location = /ops/a/state { recsys_admin status h20a; }
location = /ops/a/rollback { recsys_admin rollback h20a; }
location = /ops/b/rebuild { recsys_admin rebuild h20b; }
location = /ops/c/status { recsys_admin status h20c; }
location = /ops/c/rebuild {
    recsys_admin rebuild h20c;
    recsys_admin_status_url https://ops.example/c/status;
}
--- request eval
["POST /ops/a/rollback", "POST /ops/b/rebuild", "POST /ops/c/rebuild"]
--- error_code eval
[202, 202, 202]
--- response_headers eval
["Location: /ops/a/state", "!Location", "Location: https://ops.example/c/status"]
--- response_body_like eval
['^\{"rollback_id":1,"catalog":"h20a","status":"queued","status_url":"/ops/a/state"\}$',
 '^\{"build_id":1,"full":false,"catalog":"h20b","status":"queued","status_url":null\}$',
 '"status_url":"https://ops.example/c/status"\}$']
--- no_error_log
[alert]



=== TEST 21: missing parents of index.path are created at start
--- user_files
>>> h21.yaml
source: {type: file, path: $TEST_NGINX_CONF_DIR/small.jsonl}
index: {path: $TEST_NGINX_DATA_DIR/h21/deep/er/idx, dimension: 4}
--- http_config
recsys_catalog h21 ../html/h21.yaml;
--- locations: status
--- wait_idle: 0:1
--- request eval
["GET /admin/index/status", "GET /admin/index/status"]
--- response_body_like eval
['"catalog":"h21"', '"generation":\{"number":1,']
--- no_error_log
[alert]
[emerg]



=== TEST 22: an index.path nginx cannot create stops it, naming the catalog and the line
--- user_files
>>> h22.yaml
source: {type: file, path: $TEST_NGINX_CONF_DIR/small.jsonl}
index: {path: h22.yaml/idx, dimension: 4}
--- http_config
recsys_catalog h22 ../html/h22.yaml;
--- config
location = /a { return 204; }
--- must_die
--- error_log eval
qr{\[emerg\] .*recsys catalog "h22": cannot create index\.path "\S+/h22\.yaml/idx": mkdir\("\S+/h22\.yaml"\) failed \(20: Not a directory\) in \S+/nginx\.conf:\d+}



=== TEST 23: nginx -t passes with the parent of index.path missing, and creates nothing
--- user_files
>>> h23.yaml
source: {type: file, path: $TEST_NGINX_CONF_DIR/small.jsonl}
index: {path: $TEST_NGINX_DATA_DIR/h23/missing/idx, dimension: 4}
>>> h23.conf
load_module $TEST_NGINX_LOAD_MODULES;
pid logs/h23-test.pid;
error_log logs/h23-test.log;
events {}
http {
    recsys_catalog h23 h23.yaml;
    server {
        listen 127.0.0.1:1;
        location = /s { recsys_admin status; }
    }
}
--- config
location = /a { return 204; }
--- test_config: 0 h23.conf h23
--- request
GET /a
--- error_code: 204



=== TEST 24: an old generation pruning cannot remove is logged and counted once
Generation 1 is made impossible to remove (see unremovable in
RecsysHelper.pm); with keep 1, build 3's prune fails on it, build 4's
prune removes 2 and fails on 1 again, which is not logged twice.
--- user_files
>>> h24.yaml
source: {type: file, path: $TEST_NGINX_CONF_DIR/small.jsonl}
index: {path: $TEST_NGINX_DATA_DIR/h24, dimension: 4, keep: 1}
--- http_config
recsys_catalog h24 ../html/h24.yaml;
recsys_metrics_zone_size 1m;
--- locations: status rebuild metrics
--- wait_idle: 0:1 1:2 2:3 3:4
--- unremovable: 0
--- request eval
["GET /admin/index/status", "POST /admin/index/rebuild",
 "POST /admin/index/rebuild", "POST /admin/index/rebuild",
 "GET /admin/index/status", "GET /metrics"]
--- error_code eval
[200, 202, 202, 202, 200, 200]
--- response_body_like eval
['"prune":\{"failures":0,"unremovable":\[\]\}\}$', '"build_id":2',
 '"build_id":3', '"build_id":4',
 '"generation":\{"number":4,.*"prune":\{"failures":1,"unremovable":\[1\]\}\}$',
 'recsys_prune_failures_total\{catalog="h24"\} 1\n']
--- log_count: 5 1 recsys catalog "h24": cannot remove old generation \d+, it stays on disk: \S+: path too long$
--- no_error_log
[alert]
[crit]



=== TEST 25: reloads while three catalogs build: each old helper leaves without a crash
nginx's cache manager leaves with exit(0), which ran the static
destructors of FAISS under the build threads still using them (SIGSEGV,
now and then); with a thread of ours running it leaves with _exit().
--- catalog
h25a h25b h25c big
maintenance: {build_on_start: never}
--- config
location = /admin/index/status { recsys_admin status h25a; }
location = /a { recsys_admin rebuild h25a; }
location = /b { recsys_admin rebuild h25b; }
location = /c { recsys_admin rebuild h25c; }
--- reloads: 0 6 /a /b /c
--- wait_idle: 1:2
--- request eval
["GET /admin/index/status", "GET /admin/index/status"]
--- response_body_like eval
['"catalog":"h25a"', '"catalog":"h25a"']
--- timeout: 120
--- log_has: 1 recsys catalog "h25a": interrupted: the helper process \d+ exited
--- no_error_log
exited on signal
[alert]
