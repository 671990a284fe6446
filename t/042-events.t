# The events API with the file store: one event and a batch answered 202
# and shipped into events.jsonl once each; every kind of bad input
# refused with its status, code and event index, nothing of a refused
# request kept; sync: interval; workers killed with their segments open
# (the shipper seals them); the helper killed in the middle of shipping;
# the spool limit; directives nginx -t refuses.  Sections: see
# t/lib/RecsysEvents.pm.  Index directories: $TEST_NGINX_DATA_DIR/e<N>.

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use RecsysChecks;
use RecsysHelper ();
use RecsysEvents;

repeat_each(1);
no_shuffle();
master_on();
workers(2);
plan('no_plan');

RecsysEvents::clean();

# the spool limit's block: how many of these requests fit in 1m
our $Big = RecsysEvents::batches('s', 140, 100);
our $Fit = do {
    my ($sum, $fit) = (0, 0);
    for my $r (1 .. 140) {
        my $len = 0;
        $len += length(qq({"user":"u$_","item":"s$r-$_","type":"view",)
                       . qq("ts":"2026-12-02T00:00:00Z","weight":1}\n))
            for 1 .. 100;
        last if $sum + $len > 1024 * 1024;
        $sum += $len;
        $fit++;
    }
    $fit;
};

run_tests();

__DATA__

=== TEST 1: one event and a batch: 202, on disk, shipped once into events.jsonl
--- catalog
e1 small
events:
  types: {view: 1, click: 2, purchase: 5}
--- request eval
["POST /v1/events\n{\"user\":\"u1\",\"item\":\"sku-9\",\"type\":\"click\",\"ts\":\"2026-11-30T10:00:00Z\"}",
 "POST /v1/events\n{\"events\":[{\"user\":\"u1\",\"item\":\"a\",\"type\":\"view\"},{\"user\":\"u2\",\"item\":\"b\",\"type\":\"purchase\",\"weight\":0.5}]}",
 "GET /admin/index/status"]
--- error_code eval
[202, 202, 200]
--- response_body_like eval
['^\{"accepted":1\}$', '^\{"accepted":2\}$',
 '"events":\{"received":3,"rejected":0,"spooled":3,"shipped":3,"lost":0,"spool_bytes":0,"ready_segments":0,"sync":"request","store":"file","shipping":"ok","ship_failures":0,"last_ship":"20']
--- events_shipped: 1:3
--- file_events: 1:3
--- no_error_log
[error]
[alert]



=== TEST 2: bad input: each refused with its status and code, nothing of it kept
--- catalog
e2 small
events:
  types: {view: 1}
  max_batch: 3
--- config
location = /v1/events { recsys_events; recsys_max_body_size 512; }
location = /admin/index/status { recsys_admin status; }
--- more_headers eval
["", "Content-Type: text/plain", ($RecsysEvents::Json) x 13]
--- request eval
["GET /v1/events",
 "POST /v1/events\n{\"user\":\"u\",\"item\":\"i\",\"type\":\"view\"}",
 "POST /v1/events\n{\"user\":\"u\",",
 "POST /v1/events\n{\"events\":[{\"user\":\"u\",\"item\":\"1\",\"type\":\"view\"},{\"user\":\"u\",\"item\":\"2\",\"type\":\"view\"},{\"user\":\"u\",\"item\":\"3\",\"type\":\"view\"},{\"user\":\"u\",\"item\":\"4\",\"type\":\"view\"}]}",
 "POST /v1/events\n{\"events\":[{\"user\":\"u\",\"item\":\"1\",\"type\":\"view\"},{\"user\":\"u\",\"item\":\"2\",\"type\":\"buy\"}]}",
 "POST /v1/events\n{\"events\":[{\"user\":\"u\",\"item\":\"1\",\"type\":\"view\"},{\"item\":\"2\",\"type\":\"view\"}]}",
 "POST /v1/events\n{\"user\":\"u\",\"type\":\"view\"}",
 "POST /v1/events\n{\"user\":\"u\",\"item\":\"i\",\"type\":\"view\",\"ts\":\"2026-02-30T00:00:00Z\"}",
 "POST /v1/events\n{\"user\":\"u\",\"item\":\"i\",\"type\":\"view\",\"weight\":1e999}",
 "POST /v1/events\n{\"user\":\"u\",\"item\":\"i\",\"type\":\"view\",\"wieght\":2}",
 "POST /v1/events\n[]",
 "POST /v1/events\n{\"user\":\"" . ("x" x 600) . "\",\"item\":\"i\",\"type\":\"view\"}",
 "POST /v1/events\n{\"events\":[]}",
 "POST /v1/events\n{\"user\":\"u\",\"item\":\"kept\",\"type\":\"view\"}",
 "GET /admin/index/status"]
--- error_code eval
[405, 415, 400, 413, 422, 422, 422, 422, 422, 422, 400, 413, 400, 202, 200]
--- response_headers_like eval
["Allow: POST", "", "", "", "", "", "", "", "", "", "", "", "", "", ""]
--- response_body_like eval
['"code":"method_not_allowed"',
 '"code":"unsupported_media_type"',
 '"code":"bad_json"',
 '"code":"too_many_events","message":"4 events, at most 3 in one request"',
 '"code":"unknown_type","message":"events\[1\]: unknown type \\\\"buy\\\\""',
 '"code":"missing_field","message":"events\[1\]: \\\\"user\\\\" is missing"',
 '"code":"missing_field","message":"event: \\\\"item\\\\" is missing"',
 '"code":"bad_ts","message":"event: \\\\"ts\\\\" must be an ISO 8601',
 '"code":"bad_weight","message":"event: \\\\"weight\\\\" must be a finite number',
 '"code":"unknown_field"',
 '"code":"bad_json"',
 '"code":"body_too_large"',
 '"code":"no_events"',
 '^\{"accepted":1\}$',
 '"events":\{"received":13,"rejected":12,"spooled":1,"shipped":1,']
--- events_shipped: 13:1
--- file_events: 13:1
--- no_error_log
[error]
[alert]



=== TEST 3: sync: interval: 200 events in 20 requests, all shipped once
--- catalog
e3 small
events:
  types: {view: 1}
  sync: interval
  sync_interval: 1s
  ship_batch: 7
--- request eval
[@{ RecsysEvents::batches('i', 20, 10) }, "GET /admin/index/status"]
--- error_code eval
[(202) x 20, 200]
--- response_body_like eval
[('^\{"accepted":10\}$') x 20,
 '"events":\{"received":200,"rejected":0,"spooled":200,"shipped":200,"lost":0,"spool_bytes":0,"ready_segments":0,"sync":"interval"']
--- events_shipped: 19:200
--- file_events: 19:200
--- no_error_log
[error]
[alert]



=== TEST 4: workers killed with their segments open: the shipper seals and ships them
--- catalog
e4 small
events:
  types: {view: 1}
  segment_age: 1h
--- request eval
[@{ RecsysEvents::batches('w', 30, 10) }, "GET /admin/index/status"]
--- error_code eval
[(202) x 30, 200]
--- response_body_like eval
[('^\{"accepted":10\}$') x 30, '"shipped":300,']
--- kill_workers: 29
--- events_shipped: 29:300
--- file_events: 29:300
--- no_error_log
[error]
[crit]



=== TEST 5: the helper killed in the middle of shipping: each event in the file once
--- catalog
e5 small
events:
  types: {view: 1}
  ship_batch: 3
--- request eval
[@{ RecsysEvents::batches('k', 40, 100) }, "GET /admin/index/status"]
--- error_code eval
[(202) x 40, 200]
--- response_body_like eval
[('^\{"accepted":100\}$') x 40, '"spooled":4000,']
--- kill_mid_ship: 39
--- events_shipped: 39:4000
--- file_events: 39:4000
--- no_error_log
[error]
[crit]



=== TEST 6: the spool limit: 503 with Retry-After once the spool holds 1m (give or take a request per worker)
--- catalog
e6 small
events:
  types: {view: 1}
  segment_age: 1h
  spool_limit: 1m
--- config
location = /v1/events { recsys_events; }
--- request eval
$::Big
--- error_code_like eval
[('^202$') x ($::Fit - 3), ('^(202|503)$') x 6, ('^503$') x (140 - $::Fit - 3)]
--- response_headers_like eval
[("") x ($::Fit + 3), ("Retry-After: 5") x (140 - $::Fit - 3)]
--- response_body_like eval
[('^\{"accepted":100\}$') x ($::Fit - 3),
 ('^\{"accepted":100\}$|"code":"spool_full"') x 6,
 ('"code":"spool_full"') x (140 - $::Fit - 3)]



=== TEST 7: recsys_events on a catalog without events: is refused
--- catalog: e7 small
--- config
location = /v1/events { recsys_events; }
--- must_die
--- error_log eval
qr/recsys catalog "e7" takes no events: its file ".*e7.yaml" has no "events:" section/



=== TEST 8: recsys_events on a catalog whose events an application writes (store.query)
--- catalog
e8 small
events:
  types: {view: 1}
  store:
    type: postgresql
    dsn: "postgresql://app@127.0.0.1:1/app"
    query: "SELECT user_id, item_id, type, ts, weight FROM app_events"
--- config
location = /v1/events { recsys_events e8; }
--- must_die
--- error_log
recsys catalog "e8" reads its events with "events.store.query": the application writes them, not "recsys_events"



=== TEST 9: recsys_events: an unknown catalog, a duplicate
--- catalog
e9 small
events: {types: {view: 1}}
--- config
location = /v1/events { recsys_events nope; }
--- must_die
--- error_log
unknown recsys catalog "nope"
