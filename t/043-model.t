# Training on each build: the catalog's model: section checked at
# nginx -t, a build that trains and serves itemsim.bin through a history,
# and the promotion gate refusing a worse model while the old generation
# keeps serving.
#
# The data, written before the blocks run: 60 items in 6 clusters of 10
# (m-items.jsonl), and 200 users each clicking 7 items of one cluster
# (m-events.jsonl): a history inside a cluster should be answered with
# that cluster's other items.

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use RecsysChecks;
use RecsysHelper;
use File::Path qw(remove_tree);

repeat_each(1);
no_shuffle();
master_on();
workers(1);
plan('no_plan');

$ENV{TEST_NGINX_HTML_DIR} //= html_dir();

my $dir = RecsysHelper::data_dir();

remove_tree(glob "$dir/m[0-9]*");

open my $fh, '>', "$dir/m-items.jsonl" or die "m-items.jsonl: $!";
for my $i (0 .. 59) {
    my @v = map { sprintf "%.3f", (($i * 7 + $_ * 13) % 17) / 17 + 0.01 }
            0 .. 3;
    printf $fh qq({"id":"i%d","category":"c%d","popularity":%d,)
               . qq("vector":[%s]}\n), $i, $i % 3, 60 - $i, join(',', @v);
}
close $fh;

open $fh, '>', "$dir/m-events.jsonl" or die "m-events.jsonl: $!";
for my $u (0 .. 199) {
    my $c = $u % 6;
    for my $k (0 .. 6) {
        my $i = $c * 10 + ($u * 3 + $k) % 10;
        printf $fh qq({"user":"u%d","item":"i%d","type":"click",)
                   . qq("ts":"2026-11-30T10:%02d:00Z","weight":1}\n),
                   $u, $i, $k;
    }
}
# an item the catalog does not have: skipped and counted
print $fh qq({"user":"u1","item":"nope","type":"click","ts":"2026-11-30T10:00:00Z","weight":1}\n);
close $fh;

# TEST 9's collaborative catalog: the same items without vectors (the
# model gives them), the same events and a user "few" below min_events
open $fh, '>', "$dir/m-cf-items.jsonl" or die "m-cf-items.jsonl: $!";
printf $fh qq({"id":"i%d","category":"c%d","popularity":%d}\n), $_, $_ % 3,
           60 - $_ for 0 .. 59;
close $fh;

open $fh, '>', "$dir/m-cf-events.jsonl" or die "m-cf-events.jsonl: $!";
open my $in, '<', "$dir/m-events.jsonl" or die "m-events.jsonl: $!";
print $fh $_ while <$in>;
close $in;
print $fh qq({"user":"few","item":"i$_","type":"click","ts":"2026-11-30T11:00:00Z"}\n)
    for 0 .. 1;
close $fh;

# TEST 6's generation 1: a good model built by recsys-build before nginx
# starts; nginx's own catalog for it then asks for a worse one
remove_tree("$dir/m6");
open $fh, '>', "$dir/m6-good.yaml" or die "m6-good.yaml: $!";
print $fh <<"YAML";
source: {path: $dir/m-items.jsonl}
index: {path: $dir/m6, dimension: 4}
events:
  types: {click: 1}
  store: {path: $dir/m-events.jsonl}
model:
  item_item: {algorithm: ease, lambda: 10, top: 20}
YAML
close $fh;
system("$ENV{TEST_NGINX_BUILD_DIR}/recsys-build", '-q', "$dir/m6-good.yaml")
    == 0 or die "recsys-build m6-good.yaml failed";

# the nginx -t blocks: catalog "c" of their c.yaml (RecsysChecks.pm)
add_block_preprocessor(\&RecsysChecks::catalog_c);

run_tests();

__DATA__

=== TEST 1: promote_if is checked at nginx -t, with its position
--- user_files
>>> c.yaml
source: {path: items.jsonl}
index: {path: idx, dimension: 4}
events: {types: {click: 1}}
model:
  item_item: {algorithm: ease}
  promote_if: recall_at_10 >= served * x
--- must_die
--- error_log eval
qr{c\.yaml:6:15: "promote_if" expects a number at offset 25}



=== TEST 2: model: without events:, and a model that trains nothing
--- http_config
recsys_catalog c $TEST_NGINX_HTML_DIR/c.yaml;
recsys_catalog d $TEST_NGINX_HTML_DIR/d.yaml;
--- config
location = /p { recsys popular; }
--- user_files
>>> c.yaml
source: {path: items.jsonl}
index: {path: idx, dimension: 4}
model: {item_item: {lambda: 10}}
>>> d.yaml
source: {path: items.jsonl}
index: {path: idx2, dimension: 4}
--- must_die
--- error_log eval
qr{c\.yaml:3:8: "model" trains from the events store: it needs an "events" section}



=== TEST 3: unknown keys and values out of range in model:
--- user_files
>>> c.yaml
source: {path: items.jsonl}
index: {path: idx, dimension: 4}
events: {types: {click: 1}}
model:
  item_item: {algorithm: svd}
--- must_die
--- error_log eval
qr{c\.yaml:5:26: "algorithm" must be one of auto, ease, itemknn, got "svd"}



=== TEST 4: holdout fraction out of range
--- user_files
>>> c.yaml
source: {path: items.jsonl}
index: {path: idx, dimension: 4}
events: {types: {click: 1}}
model:
  popularity: {half_life: 1d}
  holdout: {fraction: 0.9}
--- must_die
--- error_log eval
qr{c\.yaml:6:23: "fraction" must be between 0\.01 and 0\.5, got 0\.9}



=== TEST 5: a build trains EASE; a history is answered from itemsim.bin
History i0, i1, i2 (cluster 0): the 5 answers are other items of cluster
0, i.e. of i3 .. i9, never one of the history.
--- user_files
>>> m5.yaml
source: {path: $TEST_NGINX_DATA_DIR/m-items.jsonl}
index: {path: $TEST_NGINX_DATA_DIR/m5, dimension: 4}
events:
  types: {click: 1}
  store: {path: $TEST_NGINX_DATA_DIR/m-events.jsonl}
model:
  popularity: {half_life: 1d}
  item_item: {algorithm: ease, lambda: 10, top: 20}
--- http_config
recsys_catalog m5 ../html/m5.yaml;
--- config
location = /r { recsys recommendations; }
location = /admin/index/status { recsys_admin status; }
--- more_headers
Content-Type: application/json
--- wait_idle: 0:1
--- request eval
["GET /admin/index/status", "GET /admin/index/status",
 "POST /r?k=5\n" . '{"history":["i0","i1","i2"]}']
--- error_code eval
[200, 200, 200]
--- response_body_like eval
['"catalog":"m5"', '"model":\{"algorithm":"ease","trained_at":"[^"]+","train_seconds":[0-9.e-]+,"events":1400,"users":200,"recall_at_10":1(\.0+)?,"ndcg_at_10":0\.[0-9]+,',
 '^\{"items":\[(\{"id":"i[3-9]","score":[0-9.e-]+[^}]*\},?){5}\],"count":5,"k":5,"generation":1,"strategy":"history"']
--- no_error_log
[alert]
[crit]



=== TEST 6: the gate refuses a worse model; the old generation keeps serving
The second build cuts every row to 1 entry: its hold-out recall falls
below the served model's, the build fails with both figures, generation 1
stays current and answers as before.
--- user_files
>>> m6.yaml
source: {path: $TEST_NGINX_DATA_DIR/m-items.jsonl}
index: {path: $TEST_NGINX_DATA_DIR/m6, dimension: 4}
events:
  types: {click: 1}
  store: {path: $TEST_NGINX_DATA_DIR/m-events.jsonl}
maintenance: {build_on_start: never}
model:
  item_item: {algorithm: ease, lambda: 10, top: 1}
  promote_if: recall_at_10 >= served * 0.98
--- http_config
recsys_catalog m6 ../html/m6.yaml;
--- config
location = /r { recsys recommendations; }
location = /admin/index/status { recsys_admin status; }
location = /admin/index/rebuild { recsys_admin rebuild; }
--- more_headers
Content-Type: application/json
--- wait_failures: 2:1
--- request eval
["GET /admin/index/status",
 "POST /r?k=3\n" . '{"history":["i10","i11"]}',
 "POST /admin/index/rebuild",
 "GET /admin/index/status",
 "POST /r?k=3\n" . '{"history":["i10","i11"]}']
--- error_code eval
[200, 200, 202, 200, 200]
--- response_headers_like eval
["", "X-Index-Generation: 1", "", "", "X-Index-Generation: 1"]
--- response_body_like eval
['"generation":\{"number":1,',
 '^\{"items":\[\{"id":"i1[2-9]".*\{"id":"i1[2-9]".*\{"id":"i1[2-9]"',
 '"status":"queued"',
 '"builds":\[\{"id":\d+,"success":false,[^}]*"error":"model refused: promote_if ."recall_at_10 >= served \* 0\.98." does not hold: new recall_at_10 0\.[0-9]+ ndcg_at_10 0\.[0-9]+, served \(generation 1\) recall_at_10 1\.0000',
 '^\{"items":\[\{"id":"i1[2-9]".*\{"id":"i1[2-9]".*\{"id":"i1[2-9]"']
--- log_has: 3 build 1 failed: model refused: promote_if
--- no_error_log
[alert]
[crit]



=== TEST 7: /metrics shows the served model's figures and training time
m6's generation 1 (the good model of TEST 6, still current).
--- user_files
>>> m7.yaml
source: {path: $TEST_NGINX_DATA_DIR/m-items.jsonl}
index: {path: $TEST_NGINX_DATA_DIR/m6, dimension: 4}
events:
  types: {click: 1}
  store: {path: $TEST_NGINX_DATA_DIR/m-events.jsonl}
maintenance: {build_on_start: never}
model:
  item_item: {algorithm: ease, lambda: 10, top: 20}
--- http_config
recsys_catalog m7 ../html/m7.yaml;
--- config
location = /metrics { recsys_metrics; }
--- request
GET /metrics
--- error_code: 200
--- response_body_like eval
qr{# TYPE recsys_model_recall_at_10 gauge
recsys_model_recall_at_10\{catalog="m7"\} 1\.000000
# HELP recsys_model_ndcg_at_10 [^\n]+
# TYPE recsys_model_ndcg_at_10 gauge
recsys_model_ndcg_at_10\{catalog="m7"\} 0\.[0-9]{6}
# HELP recsys_model_training_seconds [^\n]+
# TYPE recsys_model_training_seconds gauge
recsys_model_training_seconds\{catalog="m7"\} [0-9]+\.[0-9]{6}
# HELP recsys_model_last_training_timestamp_seconds [^\n]+
# TYPE recsys_model_last_training_timestamp_seconds gauge
recsys_model_last_training_timestamp_seconds\{catalog="m7"\} 1[0-9]{9}
}
--- no_error_log
[alert]
[crit]



=== TEST 8: factors need the index to hold their item vectors
--- http_config
recsys_catalog c $TEST_NGINX_HTML_DIR/c.yaml;
--- config
location = /p { recsys popular; }
--- user_files
>>> c.yaml
source: {path: items.jsonl}
index: {path: idx, dimension: 4}
events: {types: {click: 1}}
model:
  factors: {factors: 8}
--- must_die
--- error_log eval
qr{c\.yaml:5:12: "factors" makes the index hold the model's item vectors: it needs index\.dimension equal to factors\.factors \(8, not 4\) and index\.metric inner_product}



=== TEST 9: ALS: user vectors answer ?user=, a user below min_events falls back
u0 clicked i0 .. i6 of cluster 0: its 3 answers are i7, i8, i9 at level
"user"; "few" has 2 entries (min_events 3): no vector, the popular level.
Status and /metrics show the factor model's figures.
--- user_files
>>> m9.yaml
source: {path: $TEST_NGINX_DATA_DIR/m-cf-items.jsonl}
index: {path: $TEST_NGINX_DATA_DIR/m9, dimension: 8, metric: inner_product}
events:
  types: {click: 1}
  store: {path: $TEST_NGINX_DATA_DIR/m-cf-events.jsonl}
model:
  min_events: 3
  factors: {factors: 8, iterations: 10, regularization: 0.1}
--- http_config
recsys_catalog m9 ../html/m9.yaml;
--- config
location = /r { recsys recommendations; }
location = /admin/index/status { recsys_admin status; }
location = /metrics { recsys_metrics; }
--- wait_idle: 0:1
--- request eval
["GET /admin/index/status", "GET /admin/index/status",
 "GET /r?user=u0&k=3", "GET /r?user=few&k=3", "GET /metrics"]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body_like eval
['"catalog":"m9"',
 '"model":\{"algorithm":"als",[^{]*"users":201,"recall_at_10":1(\.0+)?,.*"factors":\{"factors":8,"train_seconds":[0-9.]+,"users":200,"recall_at_10":1\.0+,"ndcg_at_10":0\.[0-9]+,"gate":\{"recall_at_10":1\.0+,"ndcg_at_10":0\.[0-9]+\},"served":null\}',
 '^\{"items":\[\{"id":"i[789]"[^]]*\{"id":"i[789]"[^]]*\{"id":"i[789]"[^]]*\],"count":3,.*"fallback_level":"user"\}',
 '^\{"items":\[\{"id":"i0".*"fallback_level":"popular"\}',
 qr{recsys_model_factors_recall_at_10\{catalog="m9"\} 1\.000000
# HELP recsys_model_factors_ndcg_at_10 [^\n]+
# TYPE recsys_model_factors_ndcg_at_10 gauge
recsys_model_factors_ndcg_at_10\{catalog="m9"\} 0\.[0-9]{6}
# HELP recsys_model_factors_users [^\n]+
# TYPE recsys_model_factors_users gauge
recsys_model_factors_users\{catalog="m9"\} 200\.000000
}]
--- no_error_log
[alert]
[crit]



=== TEST 10: the factors' regularisation exponent out of range
--- user_files
>>> c.yaml
source: {path: items.jsonl}
index: {path: idx, dimension: 4, metric: inner_product}
events: {types: {click: 1}}
model:
  factors: {factors: 4, nu: 3}
--- must_die
--- error_log eval
qr{c\.yaml:5:29: "nu" must be between 0 and 2, got 3}
