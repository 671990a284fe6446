# Generations: a corrupt, tampered or mismatched one is refused with a
# reason and never crashes a worker; a rebuild while nginx runs is picked
# up (one published outside the helper, by recsys-build, within a second);
# "current" must name generations/<number>, which must hold that number.

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use RecsysChecks;

repeat_each(1);
no_shuffle();
plan('no_plan');

run_tests();

__DATA__

=== TEST 1: a truncated items.bin is refused; 503, never a crash
--- http_config
recsys_catalog corrupt $TEST_NGINX_CONF_DIR/corrupt.yaml;
--- config
location = /p { recsys popular; }
--- request eval
["GET /p", "GET /p"]
--- error_code eval
[503, 503]
--- response_body_like eval
['"code":"index_unavailable"', '"code":"index_unavailable"']
--- log_has: 0 recsys catalog "corrupt": generation "\S+" refused, .*items\.bin
--- no_error_log
[alert]
[crit]



=== TEST 2: a generation whose dimension differs from the config is refused
--- http_config
recsys_catalog wrong $TEST_NGINX_CONF_DIR/wrongdim.yaml;
--- config
location = /p { recsys popular; }
--- request
GET /p
--- error_code: 503
--- log_has: 0 recsys catalog "wrong": generation "\S+" refused, .*dimension 4 .*8
--- no_error_log
[alert]



=== TEST 3: a rebuild by recsys-build while nginx runs is served within 1 s
--- http_config
recsys_catalog reload $TEST_NGINX_CONF_DIR/reload-a.yaml;
--- config
location = /p { recsys popular; }
--- rebuild: reload-b.yaml
--- wait: 1.1
--- request eval
["GET /p?k=1", "GET /p?k=1"]
--- error_code eval
[200, 200]
--- response_headers_like eval
["X-Index-Generation: 1", "X-Index-Generation: 2"]
--- response_body_like eval
['"id":"salmon"', '"id":"fig".*"generation":2']
--- log_has: 1 recsys catalog "reload": serving generation 2 \(3 items, dimension 4
--- no_error_log
[error]



=== TEST 4: a list size patched in index.faiss behind its checksums is refused
Issue 9 item 11: FAISS maps such a list past the end of the file and the
search that scans it crashed every worker (IVFFlatScanner::scan_codes).
--- http_config
recsys_catalog tampered $TEST_NGINX_CONF_DIR/tampered-lists.yaml;
--- config
location ~ ^/s/(?<item>.+)$ { recsys similar; recsys_item_id $item; }
location = /p { recsys popular; }
--- request eval
["GET /s/apple", "GET /p"]
--- error_code eval
[503, 503]
--- response_body_like eval
['"code":"index_unavailable"', '"code":"index_unavailable"']
--- log_has: 0 recsys catalog "tampered": generation "\S+/generations/1" refused, index\.faiss: list 0 holds 4294967308 vectors, more than the 12 of the index are left
--- no_error_log
[alert]
[crit]



=== TEST 5: an index type the builder never writes is refused before FAISS reads it
--- http_config
recsys_catalog tampered $TEST_NGINX_CONF_DIR/tampered-type.yaml;
--- config
location ~ ^/s/(?<item>.+)$ { recsys similar; recsys_item_id $item; }
--- request
GET /s/apple
--- error_code: 503
--- log_has: 0 recsys catalog "tampered": generation "\S+" refused, index\.faiss: index type 0x64467749 is not one the builder writes
--- no_error_log
[alert]
[crit]



=== TEST 6: "current" naming a generation by an absolute path is refused
--- http_config
recsys_catalog outside $TEST_NGINX_CONF_DIR/outside.yaml;
--- config
location = /p { recsys popular; }
--- request
GET /p
--- error_code: 503
--- log_has: 0 recsys catalog "outside": "\S+/outside/current" points to "/\S+/generations/1", not to "generations/<number>"
--- no_error_log
[alert]
[crit]



=== TEST 7: a generation copied under another number is refused
--- http_config
recsys_catalog renamed $TEST_NGINX_CONF_DIR/renamed.yaml;
--- config
location = /p { recsys popular; }
--- request
GET /p
--- error_code: 503
--- log_has: 0 recsys catalog "renamed": generation "\S+/generations/2" refused, manifest\.json: generation 1 in directory "2"
--- no_error_log
[alert]
[crit]



=== TEST 8: with the thread pool a publish is switched to by the timer, no request needed
A thread of the pool opens and pre-faults generation 3 while requests keep
generation 2; the notice comes from the completion handler on the event
loop, not from inside a request (no "client:" context on the line).
--- http_config
recsys_catalog reload $TEST_NGINX_CONF_DIR/reload-a.yaml;
--- config
location = /p { recsys popular; }
--- rebuild: reload-a.yaml
--- wait: 1.1
--- request eval
["GET /p?k=1", "GET /p?k=1"]
--- error_code eval
[200, 200]
--- response_headers_like eval
["X-Index-Generation: 2", "X-Index-Generation: 3"]
--- response_body_like eval
['"id":"fig"', '"id":"salmon".*"generation":3']
--- log_has: 1 recsys catalog "reload": serving generation 3 \(12 items, dimension 4, \S+, opened in \d+ us, \d+ MB pre-faulted in \d+ us, \d+ searches in \d+ us, by a thread\)$
--- no_error_log
[error]



=== TEST 9: recsys_thread_pool off: the request that sees the publish opens it
--- http_config
recsys_catalog reload $TEST_NGINX_CONF_DIR/reload-b.yaml;
recsys_thread_pool off;
--- config
location = /p { recsys popular; }
--- rebuild: reload-b.yaml
--- wait: 1.1
--- request eval
["GET /p?k=1", "GET /p?k=1"]
--- error_code eval
[200, 200]
--- response_headers_like eval
["X-Index-Generation: 3", "X-Index-Generation: 4"]
--- response_body_like eval
['"id":"salmon"', '"id":"fig".*"generation":4']
--- log_has: 1 recsys catalog "reload": serving generation 4 \(3 items, dimension 4, \S+, opened in \d+ us\), client: \S+, server: \S*, request: "GET /p\?k=1 HTTP/1.1"
--- no_error_log
[error]



=== TEST 10: a named thread pool of one thread does the same
--- main_config
thread_pool recsys threads=1;
--- http_config
recsys_catalog reload $TEST_NGINX_CONF_DIR/reload-a.yaml;
recsys_thread_pool recsys;
--- config
location = /p { recsys popular; }
--- rebuild: reload-a.yaml
--- wait: 1.1
--- request eval
["GET /p?k=1", "GET /p?k=1"]
--- error_code eval
[200, 200]
--- response_headers_like eval
["X-Index-Generation: 4", "X-Index-Generation: 5"]
--- log_has: 1 recsys catalog "reload": serving generation 5 \(12 items, dimension 4, \S+, opened in \d+ us, \d+ MB pre-faulted in \d+ us, \d+ searches in \d+ us, by a thread\)$
--- no_error_log
[error]



=== TEST 11: a generation the thread refuses is logged, the old one keeps serving
recsys-build publishes a dimension-32 generation into the index of a
dimension-4 catalog: the thread of the pool refuses it, the completion
handler logs why (no request context) and generation 5 still answers.
--- http_config
recsys_catalog reload $TEST_NGINX_CONF_DIR/reload-a.yaml;
--- config
location = /p { recsys popular; }
--- rebuild: reload-demo.yaml
--- wait: 1.1
--- request eval
["GET /p?k=1", "GET /p?k=1"]
--- error_code eval
[200, 200]
--- response_headers_like eval
["X-Index-Generation: 5", "X-Index-Generation: 5"]
--- log_has: 1 recsys catalog "reload": generation "\S+/generations/6" refused, dimension 32 does not match the configured 4$
--- no_error_log
[alert]
[crit]
