# The events API with a PostgreSQL store (a real server: "make prove"
# starts a throwaway cluster with scripts/pg.sh and exports
# RECSYS_DATABASE_URL): events COPYed into the table the helper creates,
# once each; the helper killed with kill -9 in the middle of shipping,
# restarted by the master: every acknowledged event is in the table
# exactly once; a database that is down: 202 still (the spool keeps the
# events), the status and the log say shipping fails.  Sections: see t/lib/RecsysEvents.pm and
# t/lib/RecsysHelper.pm.

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use RecsysChecks;
use RecsysHelper;
use RecsysEvents;

repeat_each(1);
no_shuffle();
master_on();
workers(2);

RecsysHelper::need_database();

plan('no_plan');

RecsysEvents::clean();

RecsysHelper::psql(<<'END') or die "cannot drop the test tables";
SET client_min_messages = warning;
DROP TABLE IF EXISTS ev43a, ev43a_shipped, ev43b, ev43b_shipped,
                     ev43c, ev43c_shipped, ev43t;
END

# TEST 4's store for training: 40 users, each clicking the 5 items of
# one of 4 clusters (i0-i4, i5-i9, ...), and one event of an unknown item
RecsysHelper::psql(<<'END') or die "cannot fill ev43t";
CREATE TABLE ev43t (id bigserial PRIMARY KEY, user_id text NOT NULL,
    item_id text NOT NULL, type text NOT NULL, ts timestamptz NOT NULL,
    weight double precision NOT NULL);
INSERT INTO ev43t (user_id, item_id, type, ts, weight)
    SELECT 'u' || u, 'i' || ((u % 4) * 5 + k), 'click',
           '2026-11-30T10:00:00Z'::timestamptz + k * interval '1 minute', 1
    FROM generate_series(0, 39) u, generate_series(0, 4) k;
INSERT INTO ev43t (user_id, item_id, type, ts, weight)
    VALUES ('u0', 'nope', 'click', '2026-11-30T11:00:00Z', 1);
END

# the dsn of the server, and the same one with a port nothing listens on
our $Dsn = $ENV{RECSYS_DATABASE_URL};
(our $DownDsn = $Dsn) =~ s/:(\d+)\//:1\//;

# TEST 4-5's items: 4 clusters of 5 (i0-i4, i5-i9, ...), each near an axis
{
    my $items = RecsysHelper::data_dir() . '/e4-items.jsonl';
    open my $fh, '>', $items or die "$items: $!";
    for my $i (0 .. 19) {
        my @v = map { sprintf '%.2f', ($i % 5) * 0.05 } 0 .. 3;
        $v[int($i / 5)] = sprintf '%.2f', 1 + ($i % 5) * 0.05;
        printf $fh qq({"id":"i%d","vector":[%s]}\n), $i, join(',', @v);
    }
    close $fh;
}

# $DSN and $DOWN_DSN in a block's YAML (user_files or --- catalog)
add_block_preprocessor(sub {
    my $block = shift;
    for my $section (qw(user_files catalog)) {
        my $yaml = $block->$section // next;
        $yaml =~ s/\$DSN\b/$Dsn/g;
        $yaml =~ s/\$DOWN_DSN\b/$DownDsn/g;
        $block->set_value($section, $yaml);
    }
});

run_tests();

__DATA__

=== TEST 1: events COPYed into the table, once each, with their values
--- catalog
e41 small
events:
  types: {view: 1, click: 2}
  store: {type: postgresql, dsn: "$DSN", table: ev43a}
--- request eval
["POST /v1/events\n{\"user\":\"u1\",\"item\":\"a\",\"type\":\"click\",\"ts\":\"2026-11-30T10:00:00Z\"}",
 "POST /v1/events\n{\"events\":[{\"user\":\"u'1\",\"item\":\"b\\\\tc\",\"type\":\"view\",\"weight\":-0.25},{\"user\":\"u2\",\"item\":\"c\",\"type\":\"view\",\"ts\":\"2026-11-30T10:00:01Z\"}]}",
 "GET /admin/index/status"]
--- error_code eval
[202, 202, 200]
--- response_body_like eval
['^\{"accepted":1\}$', '^\{"accepted":2\}$',
 '"events":\{"received":3,"rejected":0,"spooled":3,"shipped":3,"lost":0,"spool_bytes":0,"ready_segments":0,"sync":"request","store":"postgresql","shipping":"ok"']
--- events_shipped: 1:3
--- pg_events: 1:ev43a:3
--- sql_at: 2
--- sql
DO $$ BEGIN
  IF (SELECT count(*) FROM ev43a WHERE user_id = 'u1' AND item_id = 'a'
      AND type = 'click' AND ts = '2026-11-30T10:00:00Z' AND weight = 2) <> 1
  THEN RAISE EXCEPTION 'the click is not there as sent'; END IF;
  IF (SELECT count(*) FROM ev43a WHERE user_id = 'u''1'
      AND item_id = 'b\tc' AND weight = -0.25) <> 1
  THEN RAISE EXCEPTION 'the quoted ids are not there as sent'; END IF;
  IF (SELECT sum(events) FROM ev43a_shipped) <> 3
  THEN RAISE EXCEPTION 'the shipping table does not count 3'; END IF;
END $$;
--- no_secret
--- no_error_log
[error]
[alert]



=== TEST 2: the helper killed with kill -9 in the middle of shipping: each event in the table once
--- catalog
e42 small
events:
  types: {view: 1}
  ship_batch: 5
  store: {type: postgresql, dsn: "$DSN", table: ev43b}
--- request eval
[@{ RecsysEvents::batches('p', 50, 100) }, "GET /admin/index/status"]
--- error_code eval
[(202) x 50, 200]
--- response_body_like eval
[('^\{"accepted":100\}$') x 50, '"spooled":5000,']
--- kill_mid_ship: 49
--- events_shipped: 49:5000
--- pg_events: 49:ev43b:5000
--- no_error_log
[error]
[crit]



=== TEST 3: the database is down: 202 still, the spool keeps them, shipping fails and says so
--- catalog
e43 small
events:
  types: {view: 1}
  store: {type: postgresql, dsn: "$DOWN_DSN", table: ev43c}
--- request eval
[@{ RecsysEvents::batches('d', 3, 10) }, "GET /admin/index/status"]
--- error_code eval
[202, 202, 202, 200]
--- wait_failing: 2
--- response_body_like eval
[('^\{"accepted":10\}$') x 3,
 '"spooled":30,"shipped":0,.*"ready_segments":[1-9]\d*,.*"shipping":"failing","ship_failures":[1-9]']
--- log_has: 3 recsys catalog "e43": shipping events failed: cannot connect to postgresql://recsys:\*\*\*@127\.0\.0\.1:1/recsys
--- log_count: 3 1 shipping events failed
--- no_secret



=== TEST 4: training reads a postgresql store's table
e44 trains EASE from the table (201 rows, one of an unknown item): a
history in cluster 0 gets the cluster's other items.
--- user_files
>>> e44.yaml
source: {type: file, path: $TEST_NGINX_DATA_DIR/e4-items.jsonl}
index: {path: $TEST_NGINX_DATA_DIR/e44, dimension: 4}
events:
  types: {click: 1}
  store: {type: postgresql, dsn: "$DSN", table: ev43t}
model:
  item_item: {algorithm: ease, lambda: 1, top: 10}
--- locations: r status
--- wait_idle: 0:1
--- request eval
["GET /admin/index/status", "GET /admin/index/status",
 "POST /r?k=2\n" . '{"history":["i0","i1","i2"]}']
--- error_code eval
[200, 200, 200]
--- response_body_like eval
['"catalog":"e44"',
 '"model":\{"algorithm":"ease",[^{]*"events":200,"users":40,',
 '^\{"items":\[\{"id":"i[34]"[^]]*\{"id":"i[34]"']
--- no_secret
--- no_error_log
[alert]
[crit]



=== TEST 5: training reads an application's query: ALS user vectors from it
The query leaves u0 out and gives no weight (the type's is used); u1 is
answered from its vector.
--- user_files
>>> e45.yaml
source: {type: file, path: $TEST_NGINX_DATA_DIR/e4-items.jsonl}
index: {path: $TEST_NGINX_DATA_DIR/e45, dimension: 4, metric: inner_product}
events:
  types: {click: 2}
  store:
    type: postgresql
    dsn: "$DSN"
    query: "SELECT user_id, item_id, type, ts, NULL AS weight FROM ev43t WHERE user_id <> 'u0'"
model:
  factors: {factors: 4, iterations: 10, regularization: 0.1}
--- locations: r status
--- wait_idle: 0:1
--- request eval
["GET /admin/index/status", "GET /admin/index/status", "GET /r?user=u1&k=3"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
['"catalog":"e45"',
 '"model":\{"algorithm":"als",[^{]*"events":195,"users":39,.*"factors":\{"factors":4,[^}]*"users":39,',
 '^\{"items":\[.*"fallback_level":"user"\}']
--- no_secret
--- no_error_log
[alert]
[crit]
