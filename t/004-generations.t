# Generations: a corrupt or mismatched one is refused with a reason and
# never crashes a worker; a rebuild while nginx runs is picked up (one
# published outside the helper, by recsys-build, within a second).

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
