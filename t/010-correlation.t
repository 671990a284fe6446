# Correlation ids: kept when valid, replaced when not, forwarded by
# proxy_pass, sent on every response, in $recsys_correlation_id, in JSON
# error bodies and in the request's error.log lines.

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use JSON::PP;

repeat_each(1);
no_shuffle();
plan('no_plan');

# A raw HTTP/1.1 request with extra header lines, for values that
# --- more_headers cannot carry (empty, quotes, bytes over 0x7f).
sub raw_req {
    my ($uri, @headers) = @_;
    return "GET $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
           . join('', map { "$_\r\n" } @headers) . "\r\n";
}

# The id in the response header equals the one the upstream received
# (X-Got), and there is only one such header.
our $Forwarded = qr{(?s)\A(?=.*\r\nX-Correlation-ID:\ ([0-9a-f]{32})(?:\r|\z))
                    (?=.*\r\nX-Got:\ \1(?:\r|\z))}x;

our $Config = <<'_EOC_';
    recsys_correlation_id on;

    location = /var {
        add_header X-Var $recsys_correlation_id;
        return 200 "$recsys_correlation_id";
    }
    location = /up {
        add_header X-Got $http_x_correlation_id;
        return 200 "got=$http_x_correlation_id\n";
    }
    location = /p {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/up;
    }
    location = /closed {
        proxy_pass http://127.0.0.1:1;
    }
    location /static/ {
        root html;
    }
    location = /v1/popular {
        recsys popular small;
    }
    location = /v1/empty {
        recsys popular empty;
    }
_EOC_

our %Seen;

# --- cid_json: regex      the JSON error body's correlation_id matches
#                          (an eval array: one per request, undef skips)
# --- distinct_bodies      no two responses of the block have one body
add_response_body_check(sub {
    my ($block, $body, $req_idx, $rep, $dry_run) = @_;
    return if $dry_run;
    my $name = $block->name;

    my $cid = $block->cid_json;
    $cid = $cid->[$req_idx] if ref $cid eq 'ARRAY';

    if (defined $cid) {
        (my $re = $cid) =~ s/^\s+|\s+$//g;
        my $json = eval { decode_json($body) };
        ok($json, "$name - body is JSON") or diag("body: $body");
        like($json && $json->{error}{correlation_id} // '', qr/^$re$/,
             "$name - correlation_id in the error body");
    }

    if (defined $block->distinct_bodies) {
        my $seen = $Seen{$name} //= {};
        if ($req_idx > 0) {
            ok(!$seen->{$body}, "$name - body $req_idx differs from the "
                                . "previous ones");
        }
        $seen->{$body} = 1;
    }
});

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config",
            "recsys_catalog small $ENV{TEST_NGINX_CONF_DIR}/small.yaml;\n"
            . "recsys_catalog empty $ENV{TEST_NGINX_CONF_DIR}/empty.yaml;");
    }

    if (!defined $block->config) {
        $block->set_value("config", $Config);
    }
});

run_tests();

__DATA__

=== TEST 1: no incoming id: 128 random bits, in the header and the variable
--- request
GET /var
--- response_headers_like
X-Correlation-ID: [0-9a-f]{32}
--- raw_response_headers_like eval
qr{(?s)\A(?=.*\r\nX-Correlation-ID: ([0-9a-f]{32})(?:\r|\z))(?=.*\r\nX-Var: \1(?:\r|\z))}
--- response_body_like chomp
^[0-9a-f]{32}$
--- no_error_log
[error]



=== TEST 2: every request on a keepalive connection gets its own id
--- pipelined_requests eval
["GET /var", "GET /var", "GET /var"]
--- response_body_like eval
[qr/^[0-9a-f]{32}$/, qr/^[0-9a-f]{32}$/, qr/^[0-9a-f]{32}$/]
--- distinct_bodies
--- no_error_log
[error]



=== TEST 3: a valid incoming id is kept
--- request
GET /var
--- more_headers
X-Correlation-ID: Abc-123_x.y:Z
--- response_headers
X-Correlation-ID: Abc-123_x.y:Z
X-Var: Abc-123_x.y:Z
--- response_body chomp
Abc-123_x.y:Z
--- no_error_log
[error]



=== TEST 4: 128 characters are kept
--- raw_request eval
main::raw_req("/var", "X-Correlation-ID: " . ("a" x 128))
--- response_headers eval
"X-Correlation-ID: " . ("a" x 128)
--- response_body eval
"a" x 128
--- no_error_log
[error]



=== TEST 5: 129 characters are replaced
--- raw_request eval
main::raw_req("/p", "X-Correlation-ID: " . ("a" x 129))
--- raw_response_headers_like eval
$::Forwarded
--- raw_response_headers_unlike eval
qr/aaaa|(?i:x-correlation-id:.*x-correlation-id:)/s
--- response_body_like chomp
^got=[0-9a-f]{32}$
--- no_error_log
[error]



=== TEST 6: a 1 KB id is replaced
--- raw_request eval
main::raw_req("/p", "X-Correlation-ID: " . ("x1" x 512))
--- raw_response_headers_like eval
$::Forwarded
--- raw_response_headers_unlike eval
qr/x1x1/
--- response_body_like chomp
^got=[0-9a-f]{32}$
--- no_error_log
[error]



=== TEST 7: an empty id is replaced
--- raw_request eval
main::raw_req("/p", "X-Correlation-ID:")
--- raw_response_headers_like eval
$::Forwarded
--- response_body_like chomp
^got=[0-9a-f]{32}$
--- no_error_log
[error]



=== TEST 8: quotes are replaced
--- raw_request eval
main::raw_req("/p", 'X-Correlation-ID: "abc"')
--- raw_response_headers_like eval
$::Forwarded
--- raw_response_headers_unlike eval
qr/"abc"/
--- response_body_like chomp
^got=[0-9a-f]{32}$
--- no_error_log
[error]



=== TEST 9: spaces and markup are replaced
--- raw_request eval
main::raw_req("/p", "X-Correlation-ID: <script>alert(1)</script> x")
--- raw_response_headers_like eval
$::Forwarded
--- raw_response_headers_unlike eval
qr/script/
--- response_body_like chomp
^got=[0-9a-f]{32}$
--- no_error_log
[error]



=== TEST 10: bytes over 0x7f are replaced
--- raw_request eval
main::raw_req("/p", "X-Correlation-ID: \xc3\xa9t\xc3\xa9-\xff")
--- raw_response_headers_like eval
$::Forwarded
--- raw_response_headers_unlike eval
qr/[\x80-\xff]/
--- response_body_like chomp
^got=[0-9a-f]{32}$
--- no_error_log
[error]



=== TEST 11: every copy of a repeated header is replaced
--- raw_request eval
main::raw_req("/p", "X-Correlation-ID: bad value", "X-Correlation-ID: two")
--- raw_response_headers_like eval
$::Forwarded
--- raw_response_headers_unlike eval
qr/bad value|two/
--- response_body_like chomp
^got=[0-9a-f]{32}$
--- no_error_log
[error]



=== TEST 12: a bare CR makes nginx refuse the request; the 400 has an id
--- raw_request eval
main::raw_req("/var", "X-Correlation-ID: ab\rcd")
--- error_code: 400
--- response_headers_like
X-Correlation-ID: [0-9a-f]{32}
--- no_error_log
[error]



=== TEST 13: a generated id reaches the upstream through proxy_pass
--- request
GET /p
--- raw_response_headers_like eval
$::Forwarded
--- raw_response_headers_unlike eval
qr/(?i:x-correlation-id:.*x-correlation-id:)/s
--- response_body_like chomp
^got=[0-9a-f]{32}$
--- no_error_log
[error]



=== TEST 14: a valid incoming id reaches the upstream unchanged
--- request
GET /p
--- more_headers
X-Correlation-ID: req-77
--- response_headers
X-Correlation-ID: req-77
X-Got: req-77
--- response_body
got=req-77
--- no_error_log
[error]



=== TEST 15: a custom header name
--- config
    recsys_correlation_id on;
    recsys_correlation_id_header X-Request-ID;

    location = /up {
        return 200 "got=$http_x_request_id,$http_x_correlation_id\n";
    }
    location = /p {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/up;
    }
--- request eval
["GET /p", "GET /p"]
--- more_headers eval
["", "X-Request-ID: mine-1\nX-Correlation-ID: other"]
--- response_headers_like eval
["X-Request-ID: [0-9a-f]{32}", "X-Request-ID: mine-1"]
--- response_headers eval
["!X-Correlation-ID", "!X-Correlation-ID"]
--- response_body_like eval
["^got=[0-9a-f]{32},\n\\z", "^got=mine-1,other\n\\z"]
--- no_error_log
[error]



=== TEST 16: the id of a JSON error body is the response's
--- request
GET /v1/popular?k=0
--- more_headers
X-Correlation-ID: err-42
--- error_code: 400
--- response_headers
X-Correlation-ID: err-42
--- cid_json: err-42
--- no_error_log
[error]



=== TEST 17: a 503 from an unpublished catalog has a generated id
--- request
GET /v1/empty
--- error_code: 503
--- response_headers_like
X-Correlation-ID: [0-9a-f]{32}
--- cid_json: [0-9a-f]{32}
--- no_error_log
[error]



=== TEST 18: a 429 from recsys_limit has the header and the body id
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
recsys_limit_zone $binary_remote_addr zone=ip:1m rate=1r/m;
--- config
    recsys_correlation_id on;

    location = /v1/popular {
        recsys_limit zone=ip;
        recsys popular;
    }
--- request eval
["GET /v1/popular", "GET /v1/popular"]
--- more_headers eval
["X-Correlation-ID: rl-1", "X-Correlation-ID: rl-2"]
--- error_code eval
[200, 429]
--- response_headers eval
["X-Correlation-ID: rl-1", "X-Correlation-ID: rl-2"]
--- cid_json eval
[undef, "rl-2"]



=== TEST 19: error.log lines of the request carry the id; the 502 too
--- request
GET /closed
--- more_headers
X-Correlation-ID: abc-123
--- error_code: 502
--- response_headers
X-Correlation-ID: abc-123
--- error_log eval
qr/\[error\] .*connect\(\) failed .*, client: 127\.0\.0\.1, .*, correlation_id: abc-123$/
--- no_error_log
correlation_id: abc-123, correlation_id



=== TEST 20: an invalid id never reaches error.log; the replacement does
--- raw_request eval
main::raw_req("/closed", "X-Correlation-ID: <script>")
--- error_code: 502
--- response_headers_like
X-Correlation-ID: [0-9a-f]{32}
--- error_log eval
[qr/\[error\] .*connect\(\) failed .*, correlation_id: [0-9a-f]{32}$/,
 qr/\[info\] .*client sent invalid "X-Correlation-ID" header, a new correlation id is used, .*, correlation_id: [0-9a-f]{32}$/]
--- no_error_log eval
[qr/\[(?:info|notice|warn|error|crit|alert)\].*<script>/]



=== TEST 21: nginx's own 404 page has the header, its error line the id
--- request
GET /static/nosuch.html
--- more_headers
X-Correlation-ID: nf-1
--- error_code: 404
--- response_headers
X-Correlation-ID: nf-1
--- error_log eval
qr/\[error\] .*open\(\) ".*nosuch\.html" failed .*, correlation_id: nf-1$/



=== TEST 22: after an internal redirect the id and its log context remain
--- config
    recsys_correlation_id on;

    location = /redir {
        error_page 404 = /closed;
        return 404;
    }
    location = /closed {
        proxy_pass http://127.0.0.1:1;
    }
--- request
GET /redir
--- more_headers
X-Correlation-ID: ir-5
--- error_code: 502
--- response_headers
X-Correlation-ID: ir-5
--- error_log eval
qr/\[error\] .*connect\(\) failed .*, correlation_id: ir-5$/
--- no_error_log
correlation_id: ir-5, correlation_id



=== TEST 23: off by default: no header, an empty variable, headers untouched
--- config
    location = /var {
        return 200 "[$recsys_correlation_id]";
    }
    location = /up {
        return 200 "got=$http_x_correlation_id\n";
    }
    location = /p {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/up;
    }
--- request eval
["GET /var", "GET /p"]
--- more_headers
X-Correlation-ID: not valid
--- response_headers eval
["!X-Correlation-ID", "!X-Correlation-ID"]
--- response_body eval
["[]", "got=not valid\n"]
--- no_error_log
[error]



=== TEST 24: on in a location only: header, variable and upstream
--- config
    location = /on {
        recsys_correlation_id on;
        return 200 "$recsys_correlation_id";
    }
    location = /p {
        recsys_correlation_id on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/up;
    }
    location = /up {
        add_header X-Got $http_x_correlation_id;
        return 200 "got=$http_x_correlation_id\n";
    }
    location = /other {
        return 200 "[$recsys_correlation_id]";
    }
--- request eval
["GET /on", "GET /p", "GET /other"]
--- response_headers_like eval
["X-Correlation-ID: [0-9a-f]{32}", "X-Correlation-ID: [0-9a-f]{32}", ""]
--- raw_response_headers_like eval
[qr/./, $::Forwarded, qr/\A(?!.*X-Correlation-ID)/si]
--- response_body_like eval
["^[0-9a-f]{32}\\z", "^got=[0-9a-f]{32}\n\\z", "^\\[\\]\\z"]
--- no_error_log
[error]



=== TEST 25: off in a location overrides the server
--- config
    recsys_correlation_id on;

    location = /off {
        recsys_correlation_id off;
        return 200 "[$recsys_correlation_id]";
    }
    location = /on {
        return 200 "[$recsys_correlation_id]";
    }
--- request eval
["GET /off", "GET /on"]
--- response_headers eval
["!X-Correlation-ID", ""]
--- response_body_like eval
["^\\[\\]\\z", "^\\[[0-9a-f]{32}\\]\\z"]
--- no_error_log
[error]



=== TEST 26: traceparent: its trace-id when no id header is sent
--- config
    recsys_correlation_id on;
    recsys_correlation_id_traceparent on;

    location = /var {
        return 200 "$recsys_correlation_id";
    }
--- request eval
["GET /var", "GET /var", "GET /var", "GET /var", "GET /var", "GET /var"]
--- more_headers eval
["traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
 "traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01",
 "traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
 "traceparent: ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
 "traceparent: 01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
 "X-Correlation-ID: mine\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]
--- response_body_like eval
["^4bf92f3577b34da6a3ce929d0e0e4736\\z",
 "^(?!4bf92f3577b34da6a3ce929d0e0e4736)[0-9a-f]{32}\\z",
 "^(?!4bf92f3577b34da6a3ce929d0e0e4736)[0-9a-f]{32}\\z",
 "^(?!4bf92f3577b34da6a3ce929d0e0e4736)[0-9a-f]{32}\\z",
 "^4bf92f3577b34da6a3ce929d0e0e4736\\z",
 "^mine\\z"]
--- no_error_log
[error]



=== TEST 27: traceparent is ignored unless asked for
--- request
GET /var
--- more_headers
traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
--- response_body_like chomp
^(?!4bf92f3577b34da6a3ce929d0e0e4736)[0-9a-f]{32}$
--- no_error_log
[error]



=== TEST 28: an invalid header name is refused
--- config
    recsys_correlation_id_header "X Bad";
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid header name "X Bad"/



=== TEST 29: traceparent cannot be the id header
--- config
    recsys_correlation_id_header traceparent;
--- must_die
--- error_log eval
qr/\[emerg\] .*"traceparent" cannot carry a correlation id/
