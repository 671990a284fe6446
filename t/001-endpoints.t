# The four endpoints against the hand-made "small" catalog (t/data), whose
# answers can be worked out on paper.

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use RecsysChecks;

repeat_each(1);
no_shuffle();
plan('no_plan');

our $Locations = <<'_EOC_';
    location ~ ^/v1/items/(?<item>[^/]+)/similar$ {
        recsys similar;
        recsys_item_id $item;
    }
    location ~ ^/plain/items/[^/]+/similar$ {
        recsys similar;
    }
    location = /v1/recommendations {
        recsys recommendations;
    }
    location = /v1/search {
        recsys search;
    }
    location = /v1/popular {
        recsys popular;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    RecsysChecks::block_defaults($block, $Locations);
});

run_tests();

__DATA__

=== TEST 1: similar: nearest by cosine, the item itself left out
--- request
GET /v1/items/apple/similar?k=3
--- error_code: 200
--- response_headers
Content-Type: application/json
X-Index-Generation: 1
--- ids: quince pear plum
--- fields
strategy=similar
k=3
generation=1
fallback=false
--- no_error_log
[error]



=== TEST 2: similar: default k is 10 and results fill to k
--- request
GET /v1/items/apple/similar
--- ids: quince pear plum cherry mystery tuna carrot kale leek salmon
--- no_error_log
[error]



=== TEST 3: similar: k larger than the catalog returns every other item
--- request
GET /v1/items/apple/similar?k=1000
--- ids: quince pear plum cherry mystery tuna carrot kale leek salmon trout
--- no_error_log
[error]



=== TEST 4: similar: exclude, repeated and comma separated, unknown ignored
--- request
GET /v1/items/apple/similar?k=2&exclude=quince,nosuch&exclude=pear
--- ids: plum cherry
--- no_error_log
[error]



=== TEST 5: similar: category filter; equal scores ordered by id
--- request
GET /v1/items/apple/similar?k=3&category=vegetable
--- ids: carrot kale leek
--- no_error_log
[error]



=== TEST 6: similar: unknown category gives no items, not an error
--- request
GET /v1/items/apple/similar?category=nosuch
--- error_code: 200
--- ids:
--- no_error_log
[error]



=== TEST 7: similar: the id from the URI when recsys_item_id is not set
--- request
GET /plain/items/salmon/similar?k=2
--- ids: trout tuna
--- no_error_log
[error]



=== TEST 8: similar: title, category and attributes are returned
--- request
GET /v1/items/quince/similar?k=1
--- response_body_like chomp
^\{"items":\[\{"id":"apple","score":1,"title":"Apple","category":"fruit","attributes":\{"color":"red","price":1.5\}\}\],"count":1,
--- no_error_log
[error]



=== TEST 9: similar: strings are escaped, absent fields left out
--- request
GET /v1/items/plum/similar?k=10&category=fruit&exclude=apple,quince,pear
--- response_body_like chomp
"id":"cherry","score":[0-9.e-]+,"title":"Cherry \\"Morello\\"","category":"fruit"\}
--- no_error_log
[error]



=== TEST 10: popular: by popularity, ties by id
--- request
GET /v1/popular?k=4
--- ids: salmon apple quince carrot
--- fields
strategy=popular
--- no_error_log
[error]



=== TEST 11: popular: in one category
--- request
GET /v1/popular?category=fish
--- ids: salmon tuna trout
--- no_error_log
[error]



=== TEST 12: popular: HEAD answers headers only
--- request
HEAD /v1/popular
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body
--- no_error_log
[error]



=== TEST 13: recommendations: GET with a history, history excluded
--- request
GET /v1/recommendations?history=salmon,trout&k=2
--- ids: tuna mystery
--- fields
strategy=history
fallback=false
--- no_error_log
[error]



=== TEST 14: recommendations: POST JSON body
--- request
POST /v1/recommendations
{"history": ["salmon", "trout"], "k": 2}
--- more_headers
Content-Type: application/json
--- ids: tuna mystery
--- no_error_log
[error]



=== TEST 15: recommendations: JSON exclude and category
--- request
POST /v1/recommendations
{"history": ["carrot"], "k": 5, "exclude": ["leek"], "category": "vegetable"}
--- more_headers
Content-Type: application/json; charset=utf-8
--- ids: kale
--- no_error_log
[error]



=== TEST 16: recommendations: unknown history falls back to popular
--- request
GET /v1/recommendations?history=nosuch,nothing&k=2
--- ids: salmon apple
--- fields
strategy=popular
fallback=true
ignored_history=nosuch,nothing
--- no_error_log
[error]



=== TEST 17: recommendations: no history at all falls back to popular
--- request
GET /v1/recommendations?k=1
--- ids: salmon
--- fields
fallback=true
--- no_error_log
[error]



=== TEST 18: search: raw vector
--- request
POST /v1/search
{"vector": [0, 0, 1, 0], "k": 2}
--- more_headers
Content-Type: application/json
--- ids: carrot leek
--- fields
strategy=vector
--- no_error_log
[error]



=== TEST 19: search: category filter and ties by id
--- request
POST /v1/search?category=fish
{"vector": [1, 0, 0, 0]}
--- more_headers
Content-Type: application/json
--- ids: tuna salmon trout
--- no_error_log
[error]



=== TEST 20: search: the l2 metric, nearest first
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small-l2.yaml;
--- request
POST /v1/search
{"vector": [0, 0, 0.5, 2], "k": 3}
--- more_headers
Content-Type: application/json
--- ids: salmon trout tuna
--- no_error_log
[error]



=== TEST 21: two catalogs, chosen by name
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
recsys_catalog demo $TEST_NGINX_CONF_DIR/demo.yaml;
--- config
location = /small { recsys popular small; }
location = /demo { recsys popular demo; }
--- request eval
["GET /small?k=1", "GET /demo?k=1&category=coffee"]
--- response_body_like eval
['"id":"salmon"', '"category":"coffee"']
--- no_error_log
[error]



=== TEST 22: similar: answered from the precomputed neighbors
--- request
GET /v1/items/apple/similar?k=3&exclude=pear
--- ids: quince plum cherry
--- response_headers_like
Server-Timing: parse;dur=\d+\.\d{3}, rank;dur=\d+\.\d{3}, retrieve;dur=\d+\.\d{3};desc=neighbors, serialize;dur=\d+\.\d{3}
--- no_error_log
[error]



=== TEST 23: similar: k beyond the neighbors list searches live, same order
--- request
GET /v1/items/apple/similar?k=1000
--- ids: quince pear plum cherry mystery tuna carrot kale leek salmon trout
--- response_headers_like
Server-Timing: parse;dur=\d+\.\d{3}, rank;dur=\d+\.\d{3}, retrieve;dur=\d+\.\d{3}, serialize;dur=\d+\.\d{3}
--- no_error_log
[error]
