# Self-test of the Test::Nginx harness against plain nginx (no module).
# Runs under the real Test::Nginx::Socket as well as the compat runner.

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;

repeat_each(1);
no_shuffle();
log_level('info');

# "--- master" runs a block with master_process on and two workers.
add_block_preprocessor(sub {
    my $block = shift;
    if (defined $block->master) {
        master_on();
        workers(2);
    } else {
        master_off();
        workers(1);
    }
});

my @checks;
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    push @checks, [$req_idx, $repeated_req_idx, $body]
        if defined $block->count_checks;
});

plan tests => repeat_each() * 64 + 1;

run_tests();

is_deeply(\@checks, [[0, 0, "a\n"], [1, 0, "b\n"]],
          "response body checks called once per response, in order");

__DATA__

=== TEST 1: plain text response
--- config
    location = /t {
        return 200 "hello\n";
    }
--- request
GET /t
--- response_body
hello
--- response_headers
Content-Type: text/plain
Content-Length: 6
--- no_error_log
[error]
[warn]



=== TEST 2: response headers: present, absent, empty, like
--- config
    location = /t {
        add_header X-Foo "bar baz";
        return 204;
    }
--- request
GET /t
--- error_code: 204
--- response_headers
X-Foo: bar baz
!X-Missing
X-Empty:
--- response_body



=== TEST 3: response_headers_like
--- config
    location = /t {
        return 200 "x";
    }
--- request
GET /t
--- response_headers_like
Server: nginx/\d+\.\d+\.\d+
Content-Type: text/.*
--- response_body chomp
x



=== TEST 4: 404 and response_body_like
--- config
    location = /t {
        return 200 "x";
    }
--- request
GET /nope
--- error_code: 404
--- response_body_like: 404 Not Found
--- error_log
No such file or directory



=== TEST 5: more_headers reach nginx
--- config
    location = /t {
        return 200 "foo=$http_x_foo host=$host cl=$content_length\n";
    }
--- more_headers
X-Foo: hello world
--- request
POST /t
abcde
--- response_body
foo=hello world host=localhost cl=5



=== TEST 6: user_files served by the default root location
--- config
    location = /other { return 204; }
--- user_files
>>> sub/page.html
<p>page</p>
--- request
GET /sub/page.html
--- response_body
<p>page</p>
--- response_headers
Content-Type: text/html



=== TEST 7: a block without config keeps the previous block's nginx
as it is: same config, same files, its own user_files not written
--- user_files
>>> sub/unwritten.html
never
--- request eval
["GET /other", "GET /sub/page.html", "GET /sub/unwritten.html"]
--- error_code eval
[204, 200, 404]
--- response_body eval
["", "<p>page</p>\n", qr/404 Not Found/]



=== TEST 8: chunked response is decoded
--- config
    location /sub/ {
        sub_filter 'page' 'PAGE';
        sub_filter_once off;
    }
--- user_files
>>> sub/page.html
page one
page two
--- request
GET /sub/page.html
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- response_body
PAGE one
PAGE two



=== TEST 9: two requests, each with its own expectations
--- config
    location = /a { return 200 "a\n"; }
    location = /b { return 404 "b\n"; }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 404]
--- response_body eval
["a\n", "b\n"]
--- count_checks
--- no_error_log
[error]



=== TEST 10: pipelined requests on one connection
--- config
    location = /p { return 200 "p$arg_n\n"; }
--- pipelined_requests eval
["GET /p?n=1", "GET /p?n=2"]
--- response_body eval
["p1\n", "p2\n"]



=== TEST 11: raw request, HTTP/1.0, no Host header
--- config
    location = /t { return 200 "proto=$server_protocol\n"; }
--- raw_request eval
"GET /t HTTP/1.0\r\n\r\n"
--- response_body
proto=HTTP/1.0



=== TEST 12: HEAD request
--- config
    location = /t { return 200 "body\n"; }
--- request
HEAD /t
--- response_headers
Content-Length: 5
--- response_body



=== TEST 13: $TEST_NGINX_* variables in config
--- config
    location = /t {
        return 200 "port=$TEST_NGINX_SERVER_PORT\n";
    }
--- request
GET /t
--- response_body_like: ^port=\d+$



=== TEST 14: error_log regex via eval, grep_error_log
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /missing/file.txt
--- error_code: 404
--- error_log eval
qr/open\(\) ".*?\/missing\/file\.txt" failed/
--- grep_error_log eval
qr/"[^"]*file\.txt"/
--- grep_error_log_out eval
qr/file\.txt"\n\z/



=== TEST 15: master process with two workers
--- master
--- config
    location = /t { return 200 "pid ok\n"; }
--- request
GET /t
--- response_body
pid ok
--- grep_error_log eval
qr/start worker process(?= \d)/
--- grep_error_log_out
start worker process
start worker process



=== TEST 16: must_die on an unknown directive
--- config
    no_such_directive on;
--- must_die
--- error_log
[emerg]
unknown directive "no_such_directive"



=== TEST 17: skip_nginx skips the given count
--- skip_nginx
2: > 0.1.0
--- config
    location = /t { return 500; }
--- request
GET /t
--- response_body
never



=== TEST 18: wait and shutdown_error_log
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- wait: 0.1
--- response_body
ok
--- shutdown_error_log
shutting down
