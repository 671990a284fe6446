# The helper with a PostgreSQL source (a real server: "make prove" starts
# a throwaway cluster with scripts/pg.sh and exports RECSYS_DATABASE_URL):
# a build from the table, an incremental rebuild that picks up an insert,
# an update and a delete, and a database that is down: the builder backs
# off, opens the breaker, says so, and requests still answer.  No answer
# carries the password.  Sections: see t/lib/RecsysHelper.pm.

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use RecsysChecks;
use RecsysHelper;

repeat_each(1);
no_shuffle();
master_on();
workers(1);

if (!$ENV{RECSYS_DATABASE_URL}) {
    plan(skip_all => 'RECSYS_DATABASE_URL is not set (scripts/pg.sh)');
}

plan('no_plan');

RecsysHelper::big_catalog();

# 50 rows, a vector each, changed an hour ago; p<i> has popularity i
RecsysHelper::psql(<<'END') or die "cannot create the test table";
SET client_min_messages = warning;
DROP TABLE IF EXISTS items21;
CREATE TABLE items21 (
    id          text PRIMARY KEY,
    embedding   real[] NOT NULL,
    title       text,
    category    text,
    popularity  real,
    attributes  jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted     boolean NOT NULL DEFAULT false
);
INSERT INTO items21
SELECT 'p' || i, ARRAY[1 + i % 5, 1, i % 3, 0.5]::real[], 'P ' || i,
       'c' || (i % 3), i, NULL, now() - interval '1 hour', false
FROM generate_series(1, 50) AS i;
END

# a served generation for the catalog whose database is down
{
    my $dir = $ENV{TEST_NGINX_DATA_DIR};
    open my $y, '>', "$dir/h21c-file.yaml" or die;
    print $y "source: {type: file, path: $ENV{TEST_NGINX_CONF_DIR}/small.jsonl}\n"
           . "index: {path: $dir/h21c, dimension: 4}\n";
    close $y;
    system("$ENV{TEST_NGINX_BUILD_DIR}/recsys-build", '-q',
           "$dir/h21c-file.yaml") == 0 or die "recsys-build failed";
}

run_tests();

__DATA__

=== TEST 1: the first build reads the table; status shows the database
--- user_files
>>> pg.yaml
source:
  type: postgresql
  dsn: "${RECSYS_DATABASE_URL}"
  table: items21
index: {path: $TEST_NGINX_DATA_DIR/h21a, dimension: 4}
--- http_config
recsys_catalog pg ../html/pg.yaml;
--- config
location = /p { recsys popular; }
location = /admin/index/status { recsys_admin status; }
--- wait_idle: 0:1
--- no_secret
--- request eval
["GET /admin/index/status", "GET /admin/index/status", "GET /p?k=100"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
['"catalog":"pg"',
 '"generation":\{"number":1,"items":50,.*"source_type":"postgresql","watermark":"[^"]+".*"database":\{"state":"ok","last_contact":"[^"]+","latency_ms":\d+\},"builds":\[\{"id":1,"success":true,"type":"full","trigger":"start","generation":1,"items":50',
 '"count":50,"k":100,"generation":1']
--- timeout: 60



=== TEST 2: an incremental rebuild picks up an insert, an update and a delete
--- user_files
>>> pg.yaml
source:
  type: postgresql
  dsn: "${RECSYS_DATABASE_URL}"
  table: items21
index: {path: $TEST_NGINX_DATA_DIR/h21a, dimension: 4}
--- http_config
recsys_catalog pg ../html/pg.yaml;
--- config
location = /p { recsys popular; }
location = /admin/index/status { recsys_admin status; }
location = /admin/index/rebuild { recsys_admin rebuild; }
--- sql_at: 0
--- sql
INSERT INTO items21 VALUES ('p51', ARRAY[1, 2, 3, 4], 'P 51', 'c0', 1000,
                            NULL, now(), false);
UPDATE items21 SET title = 'P one', popularity = 999, updated_at = now()
 WHERE id = 'p1';
UPDATE items21 SET deleted = true, updated_at = now() WHERE id = 'p50';
--- wait_idle: 1:1
--- no_secret
--- request eval
["GET /p?k=3", "POST /admin/index/rebuild", "GET /admin/index/status",
 "GET /p?k=3"]
--- error_code eval
[200, 202, 200, 200]
--- response_body_like eval
['^\{"items":\[\{"id":"p50",.*"id":"p49",.*"id":"p48",.*"generation":1,',
 '"build_id":1',
 '"generation":\{"number":2,"items":50,.*"builds":\[\{"id":1,"success":true,"type":"incremental","trigger":"admin","generation":2,"items":50',
 '^\{"items":\[\{"id":"p51",.*"id":"p1","score":999,"title":"P one".*"id":"p49",.*"generation":2,']
--- timeout: 60



=== TEST 3: the database is down: backoff, breaker open, the old index serves
--- user_files
>>> down.yaml
source:
  type: postgresql
  dsn: "postgresql://recsys:s3cret-Pw@127.0.0.1:1/recsys?connect_timeout=2"
  table: items21
index: {path: $TEST_NGINX_DATA_DIR/h21c, dimension: 4}
maintenance:
  build_on_start: always
  backoff_initial: 1s
  backoff_max: 2s
  breaker_threshold: 2
--- http_config
recsys_catalog down ../html/down.yaml;
--- config
location = /p { recsys popular; }
location = /admin/index/status { recsys_admin status; }
location = /health/detailed { recsys_health detailed; }
--- wait_failures: 0:2
--- request eval
["GET /p?k=1", "GET /admin/index/status", "GET /p?k=1",
 "GET /health/detailed"]
--- error_code eval
[200, 200, 200, 200]
--- response_headers_like eval
["X-Index-Generation: 1", "", "X-Index-Generation: 1", ""]
--- response_body_like eval
['"generation":1',
 '"builder":\{"state":"backing_off",.*"breaker":\{"state":"open","consecutive_failures":\d+,"threshold":2\}.*"next_build":"[^"]+".*"database":\{"state":"failing",.*"builds":\[\{"id":\d+,"success":false,.*"trigger":"retry".*"error":"[^"]+"',
 '"generation":1',
 '"builder":\{"state":"backing_off",.*"breaker":"open",.*"database":\{"state":"failing"']
--- response_body_unlike eval
["s3cret-Pw", "s3cret-Pw", "s3cret-Pw", "s3cret-Pw"]
--- timeout: 60
