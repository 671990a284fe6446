# Every error the API answers: JSON body, right status, and the worker
# keeps serving afterwards.

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use RecsysChecks;

repeat_each(1);
no_shuffle();
plan('no_plan');

our $Locations = <<'_EOC_';
    location ~ ^/v1/items/(?<item>[^/]*)/similar$ {
        recsys similar;
        recsys_item_id $item;
    }
    location = /v1/recommendations {
        recsys recommendations;
    }
    location = /v1/search {
        recsys search;
        recsys_max_body_size 200;
    }
    location = /v1/popular {
        recsys popular;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    RecsysChecks::block_defaults($block, $Locations);

    # "--- bad_chunk: request line[, header]": a chunked body whose chunk
    # size is not hex, answered as a JSON 400 and no worse
    if (defined(my $bad = $block->bad_chunk)) {
        $bad =~ s/\s+$//;
        my ($line, $hdr) = split /,\s*/, $bad;
        $hdr = defined $hdr ? "$hdr\r\n" : '';
        $block->set_value("raw_request", "$line HTTP/1.1\r\n"
            . "Host: localhost\r\nConnection: close\r\n$hdr"
            . "Transfer-Encoding: chunked\r\n\r\nzz\r\n");
        $block->set_value("error_code", 400);
        $block->set_value("error_json", "bad_request");
        $block->set_value("response_headers",
                          "Content-Type: application/json");
        $block->set_value("no_error_log", "[alert]\n[crit]");
    }
});

run_tests();

__DATA__

=== TEST 1: k must be an integer in 1..1000
--- request eval
["GET /v1/popular?k=0", "GET /v1/popular?k=abc", "GET /v1/popular?k=1001",
 "GET /v1/popular?k=10x", "GET /v1/popular?k=-1", "GET /v1/popular?k=1"]
--- error_code eval
[400, 400, 400, 400, 400, 200]
--- error_json: bad_parameter bad_parameter bad_parameter bad_parameter bad_parameter -
--- response_headers eval
[("Content-Type: application/json") x 6]
--- no_error_log
[error]



=== TEST 2: a bad percent escape is a bad parameter
--- request
GET /v1/popular?category=%zz
--- error_code: 400
--- error_json: bad_parameter
--- no_error_log
[error]



=== TEST 3: unknown item is 404
--- request
GET /v1/items/nosuch/similar
--- error_code: 404
--- error_json: item_not_found
--- response_body_like chomp
no item \\"nosuch\\" in catalog \\"small\\"
--- no_error_log
[error]



=== TEST 4: an empty item id is 400
--- config
location = /sim {
    recsys similar;
    recsys_item_id $arg_id;
}
--- request
GET /sim?k=2
--- error_code: 400
--- error_json: bad_parameter
--- no_error_log
[error]



=== TEST 5: a hostile item id is escaped in the error body
--- request
GET /v1/items/a%22%0d%0aX-Evil:%201/similar
--- error_code: 404
--- error_json: item_not_found
--- response_headers
!X-Evil
--- response_body_like chomp
a\\"\\r\\nX-Evil: 1
--- no_error_log
[error]



=== TEST 6: wrong method is 405 with Allow
--- request eval
["POST /v1/popular", "DELETE /v1/items/apple/similar", "GET /v1/search",
 "PUT /v1/recommendations"]
--- more_headers
Content-Type: application/json
--- error_code eval
[405, 405, 405, 405]
--- error_json: method_not_allowed
--- response_headers_like eval
["Allow: GET, HEAD", "Allow: GET, HEAD", "Allow: POST",
 "Allow: GET, HEAD, POST"]
--- no_error_log
[error]



=== TEST 7: POST without a JSON content type is 415
--- request eval
["POST /v1/search\n{\"vector\": [1, 0, 0, 0]}"]
--- more_headers
Content-Type: text/plain
--- error_code: 415
--- error_json: unsupported_media_type
--- no_error_log
[error]



=== TEST 8: POST with no content type at all is 415
--- raw_request eval
"POST /v1/search HTTP/1.1\r
Host: localhost\r
Connection: close\r
Content-Length: 2\r
\r
{}"
--- error_code: 415
--- error_json: unsupported_media_type
--- no_error_log
[error]



=== TEST 9: a body over recsys_max_body_size is 413
--- request eval
"POST /v1/search\n{\"vector\": [" . CORE::join(", ", (1) x 100) . "]}"
--- more_headers
Content-Type: application/json
--- error_code: 413
--- error_json: body_too_large
--- no_error_log
[error]



=== TEST 10: a chunked body over the limit is 413 too
--- raw_request eval
my $body = "{\"vector\": [" . CORE::join(", ", (1) x 100) . "]}";
"POST /v1/search HTTP/1.1\r
Host: localhost\r
Connection: close\r
Content-Type: application/json\r
Transfer-Encoding: chunked\r
\r
" . sprintf("%x", length $body) . "\r\n$body\r\n0\r\n\r\n"
--- error_code: 413
--- error_json: body_too_large
--- no_error_log
[error]



=== TEST 11: invalid JSON and a body that is not an object are 400
--- request eval
["POST /v1/search\n{\"vector\": [1, 0,", "POST /v1/search\n[1, 2]",
 "POST /v1/search\n{}", "POST /v1/search\n{\"vector\": [1, \"a\", 0, 0]}",
 "POST /v1/search\n{\"vector\": [1, 0, 0, 0], \"k\": 0}",
 "POST /v1/recommendations\n{\"history\": \"apple\"}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 400, 400, 400, 400, 400]
--- error_json: bad_parameter
--- no_error_log
[error]



=== TEST 12: a vector of the wrong dimension is 422
--- request
POST /v1/search
{"vector": [1, 0, 0]}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- error_json: wrong_dimension
--- no_error_log
[error]



=== TEST 13: non-finite numbers are 422
--- request
POST /v1/search
{"vector": [1, 1e999, 0, 0]}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- error_json: non_finite
--- no_error_log
[error]



=== TEST 14: no index published is 503 with Retry-After
--- http_config
recsys_catalog empty $TEST_NGINX_CONF_DIR/empty.yaml;
--- config
location = /v1/popular {
    recsys popular;
}
location = /later {
    recsys popular;
    recsys_retry_after 1m;
}
--- request eval
["GET /v1/popular", "GET /later"]
--- error_code eval
[503, 503]
--- error_json: index_unavailable
--- response_headers_like eval
["Retry-After: 5", "Retry-After: 60"]
--- log_has: 0 recsys catalog "empty": no index published



=== TEST 15: the worker still answers after every kind of bad input
--- request eval
["GET /v1/popular?k=0", "GET /v1/items/nosuch/similar",
 "POST /v1/search\n{\"vector\": [1, 1e999, 0, 0]}", "GET /v1/popular?k=1"]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 404, 422, 200]
--- response_body_like eval
["error", "error", "error", '"id":"salmon"']
--- no_error_log
[error]



=== TEST 16: a zero vector has no direction under cosine: 422
--- request
POST /v1/search
{"vector": [0, 0, 0, 0]}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- error_json: zero_vector
--- raw_response_headers_like
^HTTP/1.1 422 Unprocessable Entity\r
--- no_error_log
[error]



=== TEST 17: a chunked body over client_max_body_size is a JSON 413
--- config
location = /v1/search {
    recsys search;
    client_max_body_size 10;
    recsys_max_body_size 1m;
}
--- raw_request eval
my $body = "{\"vector\": [1, 0, 0, 0]}";
"POST /v1/search HTTP/1.1\r
Host: localhost\r
Connection: close\r
Content-Type: application/json\r
Transfer-Encoding: chunked\r
\r
" . sprintf("%x", length $body) . "\r\n$body\r\n0\r\n\r\n"
--- error_code: 413
--- error_json: body_too_large
--- response_headers
Content-Type: application/json



=== TEST 18: subnormal components under cosine are a direction, not NaN
--- request
POST /v1/search
{"vector": [1e-40, 0, 0, 0], "k": 3}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- ids: apple quince pear
--- response_body_like chomp
"score":1,
--- response_body_unlike chomp
nan|inf
--- no_error_log
[error]



=== TEST 19: the smallest subnormal in every component
--- request
POST /v1/search
{"vector": [1e-45, 1e-45, 1e-45, 1e-45], "k": 1}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- ids: mystery
--- response_body_unlike chomp
nan|inf
--- no_error_log
[error]



=== TEST 20: a vector whose norm overflows float32 is 422 under l2 and ip
--- http_config
recsys_catalog l2 $TEST_NGINX_CONF_DIR/small-l2.yaml;
recsys_catalog ip $TEST_NGINX_CONF_DIR/small-ip.yaml;
--- config
location = /l2 {
    recsys search l2;
}
location = /ip {
    recsys search ip;
}
--- request eval
["POST /l2\n{\"vector\": [3e38, 3e38, 3e38, 3e38]}",
 "POST /ip\n{\"vector\": [3e38, 3e38, 3e38, 3e38]}",
 "POST /ip\n{\"vector\": [2e19, 0, 0, 0]}",
 "POST /ip\n{\"vector\": [1e19, 0, 0, 0], \"k\": 1}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[422, 422, 422, 200]
--- error_json: vector_too_large vector_too_large vector_too_large -
--- response_body_like eval
["overflows", "overflows", "overflows", '"score":1e\\+19,']
--- no_error_log
[error]



=== TEST 21: scores that overflow float32 are never printed
--- http_config
recsys_catalog huge $TEST_NGINX_CONF_DIR/huge-l2.yaml;
--- config
location = /search {
    recsys search;
}
location ~ ^/items/(?<item>[^/]+)/similar$ {
    recsys similar;
    recsys_item_id $item;
}
--- request eval
["POST /search\n{\"vector\": [1, 0, 0, 0]}", "GET /items/east/similar"]
--- more_headers
Content-Type: application/json
--- error_code eval
[422, 500]
--- error_json: vector_too_large internal_error
--- response_body_unlike eval
["inf", "inf"]
--- log_has: 1 \[error\].*recsys catalog "huge": a similar score overflows float32



=== TEST 22: an id that is not UTF-8 comes back as U+FFFD in a 404
--- request
GET /v1/items/%FF%FE/similar
--- error_code: 404
--- error_json: item_not_found
--- response_body_like eval
"no item \\\\\"\xef\xbf\xbd\xef\xbf\xbd\\\\\""
--- no_error_log
[error]



=== TEST 23: unknown history ids that are not UTF-8 come back as U+FFFD
--- request eval
["GET /v1/recommendations?history=%FF",
 "POST /v1/recommendations\n{\"history\": [\"a\xffb\"]}",
 "GET /v1/recommendations?history=%C0%80,%ED%A0%80,%E2%82"]
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 200, 200]
--- fields
fallback=true
strategy=popular
--- response_body_like eval
["\"ignored_history\":\\[\"\xef\xbf\xbd\"\\]",
 "\"ignored_history\":\\[\"a\xef\xbf\xbdb\"\\]",
 "\"ignored_history\":\\[\"(\xef\xbf\xbd){2}\",\"(\xef\xbf\xbd){3}\",\"\xef\xbf\xbd\"\\]"]
--- no_error_log
[error]



=== TEST 24: a long id is cut on a character boundary in the message
--- request eval
"GET /v1/items/" . ("%E2%82%AC" x 600) . "/similar"
--- error_code: 404
--- error_json: item_not_found
--- response_body_like eval
qr/"message":"no item \\"(\xe2\x82\xac){167}"/
--- no_error_log
[error]



=== TEST 25: a malformed chunked body is a JSON 400, not a 500: GET
--- bad_chunk: GET /v1/popular



=== TEST 26: a malformed chunked body on the 405 path
--- bad_chunk: DELETE /v1/items/apple/similar



=== TEST 27: a malformed chunked body on the 415 path
--- bad_chunk: POST /v1/search, Content-Type: text/plain



=== TEST 28: a malformed chunked body read as a JSON body
--- bad_chunk: POST /v1/search, Content-Type: application/json



=== TEST 29: errors nginx raises itself get the JSON shape from recsys_error
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
recsys_correlation_id on;
--- config
error_page 400 403 404 405 413 414 500 502 503 504 /_recsys_error;
location = /_recsys_error {
    internal;
    recsys_error;
}
location /v1/ {
    client_max_body_size 10;
    location = /v1/search {
        recsys search;
    }
    return 404;
}
location = /metrics {
    recsys_metrics;
}
location /admin/ {
    deny all;
}
--- request eval
["GET /v1/nosuch", "POST /metrics\n{}", "GET /admin/index/status",
 "POST /v1/search\n{\"vector\": [1, 0, 0, 0]}", "GET /_recsys_error",
 "HEAD /v1/nosuch"]
--- more_headers
Content-Type: application/json
--- error_code eval
[404, 405, 403, 413, 404, 404]
--- error_json: not_found method_not_allowed forbidden body_too_large not_found -
--- response_headers eval
[("Content-Type: application/json") x 6]
--- response_body_like eval
[('^\{"error":\{"code":"\w+","message":"[^"]+","correlation_id":"[^"]+"\}\}$') x 5, '^$']
--- no_error_log
[alert]
[crit]



=== TEST 30: with error_page, a 405 keeps Allow; the module's errors stay
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
--- config
error_page 400 404 405 /_recsys_error;
location = /_recsys_error {
    internal;
    recsys_error;
}
location = /metrics {
    recsys_metrics;
}
location ~ ^/v1/items/(?<item>[^/]+)/similar$ {
    recsys similar;
    recsys_item_id $item;
}
--- request eval
["DELETE /metrics", "GET /v1/items/nosuch/similar", "GET /v1/items/apple/similar?k=0"]
--- error_code eval
[405, 404, 400]
--- error_json: method_not_allowed item_not_found bad_parameter
--- response_headers_like eval
["Allow: GET, HEAD", "Content-Type: application/json",
 "Content-Type: application/json"]
--- response_body_unlike eval
["correlation_id", "correlation_id", "correlation_id"]
--- no_error_log
[error]

