# Configuration mistakes fail "nginx -t" / start-up with a message that
# names the directive or the YAML file:line:column and the bad value.

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use RecsysChecks;

repeat_each(1);
no_shuffle();
plan('no_plan');

# the real Test::Nginx substitutes $TEST_NGINX_* from the environment only
$ENV{TEST_NGINX_HTML_DIR} //= html_dir();

# the nginx -t blocks: catalog "c" of their c.yaml (RecsysChecks.pm)
add_block_preprocessor(\&RecsysChecks::catalog_c);

run_tests();

__DATA__

=== TEST 1: unknown YAML key, with file:line:column
--- user_files
>>> c.yaml
source:
  type: file
  path: items.jsonl
index:
  path: idx
  dimension: 4
  dimensions: 8
--- must_die
--- error_log eval
qr{recsys catalog "c": \S+/c\.yaml:7:3: unknown key "dimensions" in "index"}



=== TEST 2: wrong type and out of range values
--- user_files
>>> c.yaml
source:
  type: file
  path: items.jsonl
index:
  path: idx
  dimension: abc
--- must_die
--- error_log eval
qr{c\.yaml:6:\d+: "dimension" must be an integer, got "abc"}



=== TEST 3: out of range
--- user_files
>>> c.yaml
source: {type: file, path: items.jsonl}
index: {path: idx, dimension: 0}
--- must_die
--- error_log eval
qr{c\.yaml:2:\d+: "dimension" must be between 1 and 4096, got 0}



=== TEST 4: bad metric and factory
--- user_files
>>> c.yaml
source: {type: file, path: items.jsonl}
index: {path: idx, dimension: 4, metric: dot}
--- must_die
--- error_log eval
qr{"metric" must be one of inner_product, l2, cosine, got "dot"}



=== TEST 5: a factory outside the IVF family
--- user_files
>>> c.yaml
source: {type: file, path: items.jsonl}
index: {path: idx, dimension: 4, factory: "HNSW32"}
--- must_die
--- error_log eval
qr{c\.yaml:2:\d+: .*factory.*HNSW32}



=== TEST 6: missing required key
--- user_files
>>> c.yaml
source: {type: file, path: items.jsonl}
index: {path: idx}
--- must_die
--- error_log eval
qr{c\.yaml:2:\d+: missing required key "dimension" in "index"}



=== TEST 7: an unset environment variable without a default
--- user_files
>>> c.yaml
source: {type: file, path: items.jsonl}
index: {path: "${RECSYS_TEST_SURELY_UNSET}", dimension: 4}
--- must_die
--- error_log eval
qr{environment variable "RECSYS_TEST_SURELY_UNSET" is not set}



=== TEST 8: a YAML syntax error
--- user_files
>>> c.yaml
source: {type: file, path: items.jsonl
index: [
--- must_die
--- error_log eval
qr{recsys catalog "c": \S+/c\.yaml:\d+:\d+: }



=== TEST 9: a catalog file that does not exist
--- http_config
recsys_catalog c $TEST_NGINX_HTML_DIR/nosuch.yaml;
--- config
location = /p { recsys popular; }
--- must_die
--- error_log eval
qr{nosuch\.yaml: cannot open}



=== TEST 10: an unknown endpoint
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
--- config
location = /p { recsys trending; }
--- must_die
--- error_log
invalid endpoint "trending", expected similar, recommendations, search or popular



=== TEST 11: an unknown catalog name
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
--- config
location = /p { recsys popular big; }
--- must_die
--- error_log
unknown recsys catalog "big"



=== TEST 12: a duplicate catalog name
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
--- config
location = /p { recsys popular; }
--- must_die
--- error_log
duplicate recsys catalog "small"



=== TEST 13: recsys with no catalog declared
--- config
location = /p { recsys popular; }
--- must_die
--- error_log
"recsys popular" is used but no "recsys_catalog" is declared before it



=== TEST 14: two catalogs need a name
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
recsys_catalog demo $TEST_NGINX_CONF_DIR/demo.yaml;
--- config
location = /p { recsys popular; }
--- must_die
--- error_log
"recsys popular" needs a catalog name: 2 catalogs are declared



=== TEST 15: recsys_default_k above recsys_max_k
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
recsys_max_k 10;
--- config
location = /p { recsys popular; recsys_default_k 50; }
--- must_die
--- error_log
"recsys_default_k" 50 is greater than "recsys_max_k" 10



=== TEST 16: recsys_max_k out of bounds
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
--- config
location = /p { recsys popular; recsys_max_k 0; }
--- must_die
--- error_log eval
qr/value must be between 1 and 100000/



=== TEST 17: recsys_catalog outside http
--- config
location = /p { recsys_catalog c /x.yaml; }
--- must_die
--- error_log
"recsys_catalog" directive is not allowed here



=== TEST 18: settings merge from http to location
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
recsys_default_k 2;
--- config
location = /p { recsys popular; }
location /inner {
    recsys_default_k 3;
    location = /inner/p { recsys popular; }
}
--- request eval
["GET /p", "GET /inner/p"]
--- response_body_like eval
['"count":2,"k":2,', '"count":3,"k":3,']
--- no_error_log
[error]



=== TEST 19: recsys_error takes no argument
--- config
location = /e { recsys_error 404; }
--- must_die
--- error_log
invalid number of arguments in "recsys_error" directive



=== TEST 20: recsys_error only in a location
--- config
recsys_error;
location = /e { return 204; }
--- must_die
--- error_log
"recsys_error" directive is not allowed here



=== TEST 21: an index.path too long for the names put under it
Every path the module builds under index.path fits its buffers, so a
too long one is refused here, not cut at run time (issue 9 #14).
--- user_files eval
[["c.yaml", "source: {type: file, path: items.jsonl}\nindex:\n"
  . "  path: /tmp/" . ("d" x 3900) . "\n  dimension: 4\n"]]
--- must_die
--- error_log eval
qr{recsys catalog "c": \S+/c\.yaml:3:9: "path" "/tmp/d{59}\.\.\." is longer than 3840 bytes}



=== TEST 22: recsys_thread_pool names a pool nginx does not know
--- http_config
recsys_catalog demo $TEST_NGINX_CONF_DIR/demo.yaml;
recsys_thread_pool nosuch;
--- config
location = /p { recsys popular; }
--- must_die
--- error_log eval
qr{unknown thread pool "nosuch" in }



=== TEST 23: recsys_thread_pool twice
--- http_config
recsys_catalog demo $TEST_NGINX_CONF_DIR/demo.yaml;
recsys_thread_pool off;
recsys_thread_pool default;
--- config
location = /p { recsys popular; }
--- must_die
--- error_log eval
qr{"recsys_thread_pool" directive is duplicate in }
