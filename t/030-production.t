# conf/recsys-production.conf, the production example, as it is but for
# test paths: the demo catalog, the logs in the server root, a token file
# of ours, 127.0.0.1 as the load balancer that sets X-Forwarded-For, and
# rates of 1r/m so that a few requests show the limits.  Each change is a
# literal that must be in the file exactly once, so the test fails when the
# example changes under it.  Every block sends its own X-Forwarded-For
# address: the per-address zone then starts empty for it (also in HUP mode).

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;

repeat_each(1);
no_shuffle();
plan('no_plan');

our $Token = 'test-token-3f9c1e';
our $Data  = $ENV{TEST_NGINX_DATA_DIR} // "$FindBin::Bin/../build/t";
our $Logs  = (server_root() // "$FindBin::Bin/servroot") . '/logs';
our $Port  = server_port();

my $tokfile = "$Data/030-admin-token.conf";
open my $tf, '>', $tokfile or die "$tokfile: $!";
print $tf "recsys_admin_token \"$Token\";\n";
close $tf;

our $Conf = do {
    my $f = "$FindBin::Bin/../conf/recsys-production.conf";
    open my $h, '<', $f or die "$f: $!";
    local $/;
    <$h>;
};

for my $sub (
    ['recsys_catalog catalog /etc/recsys/catalog.yaml;',
     'recsys_catalog catalog $TEST_NGINX_CONF_DIR/demo.yaml;'],
    ['listen 80 default_server;', "listen $Port default_server;"],
    ['/var/log/nginx/recsys.access.log', "$Logs/access.log"],
    ['/var/log/nginx/recsys.error.log warn', "$Logs/error.log info"],
    ['include /etc/recsys/admin-token.conf;', "include $tokfile;"],
    ['set_real_ip_from 10.0.0.0/8;', 'set_real_ip_from 127.0.0.1;'],
    ['rate=50r/s burst=100', 'rate=1r/m burst=4'],
    ['rate=200r/s burst=400', 'rate=1r/m burst=29'],
) {
    my ($from, $to) = @$sub;
    my $n = () = $Conf =~ /\Q$from\E/g;
    BAIL_OUT("conf/recsys-production.conf: \"$from\" $n times, not once")
        if $n != 1;
    $Conf =~ s/\Q$from\E/$to/;
}

my $n = 0;
add_block_preprocessor(sub {
    my $block = shift;
    $n++;
    $block->set_value('http_config', $Conf);
    # the runner's own server must not be the one answering
    $block->set_value('server_name', 'runner.invalid');
    $block->set_value('config', '');
    if (!defined $block->more_headers) {
        $block->set_value('more_headers', "X-Forwarded-For: 192.0.2.$n");
    }
});

run_tests();

__DATA__

=== TEST 1: an API answer: JSON, security headers, correlation id
--- request
GET /v1/popular?k=3
--- response_headers_like
Content-Type: application/json
X-Content-Type-Options: nosniff
X-Frame-Options: DENY
Content-Security-Policy: default-src 'none'; frame-ancestors 'none'
Referrer-Policy: no-referrer
Strict-Transport-Security: max-age=31536000
X-Correlation-ID: [0-9a-f]{32}
Server: nginx
--- response_body_like: ^\{"items":\[
--- no_error_log
[error]



=== TEST 2: nginx's own 404 in /v1/ is the module's JSON, headers kept
--- request
GET /v1/nothing-here
--- error_code: 404
--- response_headers_like
Content-Type: application/json
X-Content-Type-Options: nosniff
X-Frame-Options: DENY
--- response_body_like: ^\{"error":\{"code":"not_found","message":"[^"]+","correlation_id":"[0-9a-f]{32}"\}\}$



=== TEST 3: outside every location: 404 in JSON too
--- request
GET /index.html
--- error_code: 404
--- response_body_like: ^\{"error":\{"code":"not_found"



=== TEST 4: a body over client_max_body_size (64k): 413 in JSON
--- request eval
"POST /v1/search\n" . ('x' x 70000)
--- more_headers
Content-Type: application/json
X-Forwarded-For: 192.0.2.200
--- error_code: 413
--- response_body_like: ^\{"error":\{"code":"body_too_large"
--- error_log
client intended to send too large body



=== TEST 5: a 405 of /metrics (from inside) is JSON, its Allow kept
--- request
POST /metrics
--- more_headers
X-Forwarded-For: 10.0.0.7
--- error_code: 405
--- response_headers_like
Allow: GET, HEAD
--- response_body_like: ^\{"error":\{"code":"method_not_allowed"



=== TEST 6: a large JSON answer is gzipped for a client that asks
--- request
GET /v1/popular?k=50
--- more_headers
Accept-Encoding: gzip
X-Forwarded-For: 192.0.2.201
--- response_headers
Content-Encoding: gzip
Vary: Accept-Encoding
Content-Type: application/json



=== TEST 7: and not for one that does not ask
--- request
GET /v1/popular?k=50
--- response_headers
Content-Encoding:
Vary: Accept-Encoding
--- response_body_like: ^\{"items":\[



=== TEST 8: a small answer is not gzipped (gzip_min_length 1024)
--- request
GET /v1/popular?k=1
--- more_headers
Accept-Encoding: gzip
X-Forwarded-For: 192.0.2.202
--- response_headers
Content-Encoding:



=== TEST 9: admin from inside without a token: 401 in JSON
--- request
GET /admin/index/status
--- more_headers
X-Forwarded-For: 10.0.0.8
--- error_code: 401
--- response_headers_like
WWW-Authenticate: Bearer realm="recsys admin"
X-Content-Type-Options: nosniff
--- response_body_like: ^\{"error":\{"code":"



=== TEST 10: admin from inside with a wrong token: 403
--- request
GET /admin/index/status
--- more_headers
Authorization: Bearer wrong
X-Forwarded-For: 10.0.0.9
--- error_code: 403
--- response_headers_like
WWW-Authenticate: Bearer realm="recsys admin", error="invalid_token"



=== TEST 11: admin with the token from the load balancer's network: 200
--- request
GET /admin/index/status
--- more_headers eval
"Authorization: Bearer $::Token\r\nX-Forwarded-For: 10.1.2.3"
--- response_headers_like
Content-Type: application/json
--- response_body_like: "catalog":"catalog"



=== TEST 12: admin with the token from a public address: denied, JSON 403
--- request
GET /admin/index/status
--- more_headers eval
"Authorization: Bearer $::Token\r\nX-Forwarded-For: 203.0.113.9"
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"forbidden"
--- error_log
access forbidden by rule, client: 203.0.113.9



=== TEST 13: a spoofed internal address before the real one does not help
--- request
GET /admin/index/status
--- more_headers eval
"Authorization: Bearer $::Token\r\nX-Forwarded-For: 10.9.9.9, 203.0.113.10"
--- error_code: 403
--- error_log
access forbidden by rule, client: 203.0.113.10



=== TEST 14: /metrics from inside: 200; from outside: JSON 403
--- request eval
["GET /metrics", "GET /metrics"]
--- more_headers eval
["X-Forwarded-For: 10.0.0.5", "X-Forwarded-For: 198.51.100.20"]
--- error_code eval
[200, 403]
--- response_body_like eval
[qr/^# (HELP|TYPE) /m, qr/^\{"error":\{"code":"forbidden"/]



=== TEST 15: health for the load balancer: live and ready from anywhere
--- request eval
["GET /health/live", "GET /health/ready"]
--- more_headers eval
["X-Forwarded-For: 198.51.100.21", "X-Forwarded-For: 198.51.100.21"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/^\{"status":"live"\}$/, qr/^\{"status":"ready",/]



=== TEST 16: detailed health from inside only
--- request eval
["GET /health/detailed", "GET /health/detailed"]
--- more_headers eval
["X-Forwarded-For: 10.0.0.6", "X-Forwarded-For: 198.51.100.22"]
--- error_code eval
[200, 403]
--- response_body_like eval
[qr/"generation":/, qr/"code":"forbidden"/]



=== TEST 17: per address: burst 4 lets 5 through, the 6th is a 429
--- pipelined_requests eval
[map { "GET /v1/popular?k=1&n=$_" } 1 .. 6]
--- more_headers eval
[("X-Forwarded-For: 198.51.100.30") x 6]
--- error_code eval
[200, 200, 200, 200, 200, 429]
--- response_headers_like eval
[("Content-Type: application/json") x 5,
 "Content-Type: application/json\nRetry-After: \\d+"]
--- response_body_like eval
[(qr/^\{"items":/) x 5, qr/^\{"error":\{"code":"rate_limited"/]



=== TEST 18: per API key: cost=k takes k; another key and no key pass
--- pipelined_requests eval
["GET /v1/popular?k=10", "GET /v1/popular?k=10", "GET /v1/popular?k=9",
 "GET /v1/popular?k=2", "GET /v1/popular?k=10", "GET /v1/popular?k=10"]
--- more_headers eval
["X-API-Key: key-a\r\nX-Forwarded-For: 198.51.100.40",
 "X-API-Key: key-a\r\nX-Forwarded-For: 198.51.100.41",
 "X-API-Key: key-a\r\nX-Forwarded-For: 198.51.100.42",
 "X-API-Key: key-a\r\nX-Forwarded-For: 198.51.100.43",
 "X-API-Key: key-b\r\nX-Forwarded-For: 198.51.100.44",
 "X-Forwarded-For: 198.51.100.45"]
--- error_code eval
[200, 200, 200, 429, 200, 200]



=== TEST 19: the JSON log: one object per request, escaped, with the id
--- request
GET /v1/popular?k=2&q=a"b
--- more_headers
User-Agent: probe "quoted"
X-Forwarded-For: 203.0.113.77
--- access_log eval
qr/^\{"time":"[^"]+","remote_addr":"203\.0\.113\.77","request_method":"GET","uri":"\/v1\/popular","args":"k=2&q=a\\"b","status":200,"body_bytes_sent":\d+,"request_time":[\d.]+,"correlation_id":"[0-9a-f]{32}","endpoint":"popular","generation":"1","limit":"PASSED","user_agent":"probe \\"quoted\\""\}$/



=== TEST 20: health checks are not logged
--- request
GET /health/ready
--- more_headers
X-Forwarded-For: 203.0.113.78
--- no_access_log
203.0.113.78
