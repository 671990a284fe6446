# Health locations: live, ready (503 + Retry-After until this worker maps
# a fresh enough generation), detailed; GET and HEAD only, never cached.
#
#   --- json           lines "[N:]path=value" or "[N:]path~regex": a field
#                      of the JSON answer, by dotted path ("N:" only for
#                      request N); true/false/null as words, a missing
#                      field as "(missing)"
#   --- age_of         catalog path: "age_seconds" at path agrees with the
#                      manifest's built_at (checked on every request)
#   --- manifest_of    catalog path: the index object at path has the
#                      manifest's generation, items, dimension, factory,
#                      built_at and, as bytes_mapped, its files' sizes
#   --- build_after_0  YAML in the html dir: recsys-build publishes it
#                      after request 0
#   --- flood_after_0  "N uri": after request 0, N requests for uri + a
#                      number 1..N, pipelined on one connection; all 200

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use RecsysChecks;
use RecsysHelper;
use IO::Socket::INET;
use JSON::PP;
use Time::Local qw(timegm);

repeat_each(1);
no_shuffle();
plan('no_plan');

# the real Test::Nginx substitutes $TEST_NGINX_* from the environment only
$ENV{TEST_NGINX_HTML_DIR} //= html_dir();

our $Locations = <<'_EOC_';
    location = /health/live { recsys_health live; }
    location = /health/ready { recsys_health ready; }
    location = /health/detailed { recsys_health detailed; }
_EOC_

# with TEST_NGINX_USE_HUP=1 one nginx, master on, serves every block
our %Mode = $ENV{TEST_NGINX_USE_HUP}
          ? (helper => 'pass', master => 'true')
          : (helper => 'in_process', master => 'false');

add_block_preprocessor(sub {
    my $block = shift;

    if (defined $block->json) {
        (my $json = $block->json) =~ s/\@(helper|master)\@/$Mode{$1}/g;
        $block->set_value("json", $json);
    }

    RecsysChecks::block_defaults($block, $Locations);

    RecsysChecks::worker_mode($block);
});

sub manifest {
    my ($dir) = @_;
    open my $fh, '<', "$dir/current/manifest.json" or return;
    local $/;
    return decode_json(<$fh>);
}

sub built_at {
    my ($dir) = @_;
    my $m = manifest($dir) or return;
    my ($y, $mo, $d, $h, $mi, $s) =
        $m->{built_at} =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)Z$/ or return;
    return timegm($s, $mi, $h, $d, $mo - 1, $y);
}

# for "--- init": sleep until the small fixture is at least $age s old
sub wait_stale {
    my ($age) = @_;
    my $built = built_at("$ENV{TEST_NGINX_DATA_DIR}/small");
    die "no manifest for small\n" unless defined $built;
    my $left = $built + $age - time();
    sleep($left) if $left > 0;
}

sub field {
    my ($json, $path) = @_;
    my $v = $json;
    for my $k (split /\./, $path) {
        return '(missing)' unless ref $v eq 'HASH' && exists $v->{$k};
        $v = $v->{$k};
    }
    return 'null' unless defined $v;
    return $v ? 'true' : 'false' if JSON::PP::is_bool($v);
    return $v;
}

add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run;

    my $name = $block->name;

    if (defined $block->json && length $body) {
        my $json = eval { decode_json($body) };
        ok($json, "$name - body is JSON") or diag("body: $body");

        for my $line (grep { /\S/ } split /\n/, $block->json) {
            my ($n, $path, $op, $want) =
                $line =~ /^\s*(?:(\d+):)?([^=~\s][^=~]*?)([=~])(.*?)\s*$/
                or die "bad json line: $line\n";
            next if defined $n && $n != $req_idx;
            my $got = $json ? field($json, $path) : undef;
            if ($op eq '=') {
                is($got, $want, "$name - $path (req $req_idx)");
            } else {
                like($got, qr/$want/, "$name - $path (req $req_idx)");
            }
        }
    }

    if (defined $block->age_of && length $body) {
        my ($c, $path) = split ' ', $block->age_of;
        my $built = built_at("$ENV{TEST_NGINX_DATA_DIR}/$c");
        my $json = eval { decode_json($body) } // {};
        my $age = field($json, $path);
        ok($age =~ /^\d+$/ && $age <= time() - $built + 1
           && $age >= time() - $built - 2,
           "$name - $path $age matches the manifest's built_at");
    }

    if (defined $block->manifest_of && length $body) {
        my ($c, $path) = split ' ', $block->manifest_of;
        my $m = manifest("$ENV{TEST_NGINX_DATA_DIR}/$c");
        my $json = eval { decode_json($body) } // {};
        my $size = 0;
        $size += $_->{size} for values %{ $m->{files} };
        for my $k (qw(generation items dimension factory built_at)) {
            is(field($json, "$path.$k"), $m->{$k},
               "$name - $path.$k is the manifest's");
        }
        is(field($json, "$path.bytes_mapped"), $size,
           "$name - $path.bytes_mapped is the size of the files");
    }

    if (defined $block->flood_after_0 && $req_idx == 0) {
        my ($n, $uri) = split ' ', $block->flood_after_0;
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                         PeerPort => server_port(),
                                         Timeout => 10);
        ok($sock, "$name - connected for the flood") or return;
        for my $i (1 .. $n) {
            print $sock "GET $uri$i HTTP/1.1\r\nHost: localhost\r\n"
                        . ($i == $n ? "Connection: close\r\n" : '') . "\r\n";
        }
        local $/;
        my $resp = <$sock> // '';
        my $ok = () = $resp =~ m{^HTTP/1\.1 200 }mg;
        is($ok, $n, "$name - $n flood requests answered 200");
    }

    if (defined $block->build_after_0 && $req_idx == 0) {
        (my $yaml = $block->build_after_0) =~ s/^\s+|\s+$//g;
        my $rc = system("$ENV{TEST_NGINX_BUILD_DIR}/recsys-build", '-q',
                        "$ENV{TEST_NGINX_HTML_DIR}/$yaml");
        is($rc, 0, "$name - recsys-build $yaml");
        system('chmod', '-R', 'a+rX', $ENV{TEST_NGINX_HTML_DIR});
    }
});

run_tests();

__DATA__

=== TEST 1: live
--- request
GET /health/live
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body
{"status":"live"}
--- no_error_log
[error]



=== TEST 2: ready with the index mapped
--- request
GET /health/ready
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
!Retry-After
--- json
status=ready
checks.index.status=pass
checks.index.reason=(missing)
checks.index.catalogs.small.status=pass
checks.index.catalogs.small.generation=1
checks.index.catalogs.small.max_age_seconds=null
checks.helper.status=@helper@
--- age_of: small checks.index.catalogs.small.age_seconds
--- no_error_log
[error]



=== TEST 3: ready without an index: 503, Retry-After and the reason
--- http_config
recsys_catalog empty $TEST_NGINX_CONF_DIR/empty.yaml;
--- request
GET /health/ready
--- error_code: 503
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Retry-After: 5
--- json
status=not_ready
checks.index.status=fail
checks.index.reason=catalog "empty": no index published
checks.index.catalogs.empty.status=fail
checks.index.catalogs.empty.reason=no index published
checks.index.catalogs.empty.generation=(missing)
checks.helper.status=@helper@
--- no_error_log
[error]



=== TEST 4: ready names a generation that was refused
--- http_config
recsys_catalog corrupt $TEST_NGINX_CONF_DIR/corrupt.yaml;
--- request
GET /health/ready
--- error_code: 503
--- json
status=not_ready
checks.index.catalogs.corrupt.status=fail
checks.index.catalogs.corrupt.reason~^generation "generations/\d+" was refused, see the error log$
--- no_error_log
[alert]
[crit]



=== TEST 5: Retry-After follows recsys_retry_after
--- http_config
recsys_catalog empty $TEST_NGINX_CONF_DIR/empty.yaml;
--- config
location = /health/ready {
    recsys_health ready;
    recsys_retry_after 1m;
}
--- request
GET /health/ready
--- error_code: 503
--- response_headers
Retry-After: 60
--- no_error_log
[error]



=== TEST 6: every catalog must be ready, unless the location names one
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
recsys_catalog empty $TEST_NGINX_CONF_DIR/empty.yaml;
--- config
location = /ready { recsys_health ready; }
location = /ready/small { recsys_health ready small; }
location = /ready/empty { recsys_health ready empty; }
--- request eval
["GET /ready", "GET /ready/small", "GET /ready/empty"]
--- error_code eval
[503, 200, 503]
--- json
0:checks.index.reason=catalog "empty": no index published
0:checks.index.catalogs.small.status=pass
0:checks.index.catalogs.empty.status=fail
1:status=ready
1:checks.index.catalogs.empty=(missing)
2:checks.index.catalogs.small=(missing)
--- no_error_log
[error]



=== TEST 7: ready fails once the index is older than maintenance.max_age, detailed is unhealthy
--- http_config
recsys_catalog old $TEST_NGINX_HTML_DIR/old.yaml;
--- user_files
>>> old.yaml
source:
  path: $TEST_NGINX_CONF_DIR/small.jsonl
index:
  path: ${TEST_NGINX_DATA_DIR}/small
  dimension: 4
maintenance:
  max_age: 1s
--- init
main::wait_stale(3);
--- request eval
["GET /health/ready", "GET /health/detailed"]
--- error_code eval
[503, 503]
--- response_headers eval
["Retry-After: 5\nCache-Control: no-store",
 "Retry-After: 5\nCache-Control: no-store"]
--- json
0:status=not_ready
0:checks.index.status=fail
0:checks.index.reason~^catalog "old": index age \d+s exceeds max_age 1s$
0:checks.index.catalogs.old.status=fail
0:checks.index.catalogs.old.max_age_seconds=1
0:checks.index.catalogs.old.generation=1
1:status=unhealthy
1:checks.catalogs.old.status=fail
1:checks.catalogs.old.index.status=warn
1:checks.catalogs.old.index.reason~^index age \d+s exceeds max_age 1s$
1:checks.catalogs.old.index.max_age_seconds=1
1:checks.catalogs.old.index.age_seconds~^([3-9]|\d\d+)$
--- no_error_log
[error]



=== TEST 8: a generous max_age is met
--- http_config
recsys_catalog fresh $TEST_NGINX_HTML_DIR/fresh.yaml;
--- user_files
>>> fresh.yaml
source:
  path: $TEST_NGINX_CONF_DIR/small.jsonl
index:
  path: ${TEST_NGINX_DATA_DIR}/small
  dimension: 4
maintenance: {max_age: 1d}
--- request eval
["GET /health/ready", "GET /health/detailed"]
--- error_code eval
[200, 200]
--- json
0:status=ready
0:checks.index.catalogs.fresh.max_age_seconds=86400
1:status=healthy
1:checks.catalogs.fresh.index.status=pass
1:checks.catalogs.fresh.index.max_age_seconds=86400
--- no_error_log
[error]



=== TEST 9: HEAD answers the status and the headers, no body
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
recsys_catalog empty $TEST_NGINX_CONF_DIR/empty.yaml;
--- config
location = /live { recsys_health live; }
location = /ready/small { recsys_health ready small; }
location = /ready { recsys_health ready; }
location = /detailed { recsys_health detailed; }
--- request eval
["HEAD /live", "HEAD /ready/small", "HEAD /ready", "HEAD /detailed"]
--- error_code eval
[200, 200, 503, 503]
--- response_headers eval
["Cache-Control: no-store\nContent-Type: application/json",
 "Cache-Control: no-store\n!Retry-After",
 "Cache-Control: no-store\nRetry-After: 5",
 "Cache-Control: no-store\nRetry-After: 5"]
--- response_body eval
["", "", "", ""]
--- no_error_log
[error]



=== TEST 10: other methods: 405 with Allow and a JSON error
--- request eval
["POST /health/live", "PUT /health/ready", "DELETE /health/detailed"]
--- more_headers
Content-Length: 0
--- error_code eval
[405, 405, 405]
--- response_headers eval
[("Allow: GET, HEAD\nCache-Control: no-store\n"
  . "Content-Type: application/json") x 3]
--- error_json: method_not_allowed
--- json
0:error.message=method POST is not allowed, use GET or HEAD
2:error.message=method DELETE is not allowed, use GET or HEAD
--- no_error_log
[error]



=== TEST 11: detailed: healthy, with the index, builder, database, workers
--- request
GET /health/detailed
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
!Retry-After
--- json
status=healthy
checks.catalogs.small.status=pass
checks.catalogs.small.index.status=pass
checks.catalogs.small.index.generation=1
checks.catalogs.small.index.items=12
checks.catalogs.small.index.dimension=4
checks.catalogs.small.index.metric=cosine
checks.catalogs.small.index.factory=IVF1,Flat
checks.catalogs.small.index.built_at~^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$
checks.catalogs.small.index.max_age_seconds=null
checks.catalogs.small.index.reason=(missing)
checks.catalogs.small.builder.state=idle
checks.catalogs.small.builder.helper=@helper@
checks.catalogs.small.builder.status=pass
checks.catalogs.small.builder.breaker=closed
checks.catalogs.small.builder.consecutive_failures=0
checks.catalogs.small.database.state=not_configured
checks.rate_limit.status=not_configured
checks.workers.pid~^[1-9]\d*$
checks.workers.worker_processes=1
checks.workers.master_process=@master@
--- age_of: small checks.catalogs.small.index.age_seconds
--- manifest_of: small checks.catalogs.small.index
--- response_body_unlike
small\.jsonl|"source"
--- no_error_log
[error]



=== TEST 12: detailed: unhealthy (503) when a catalog has no index
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
recsys_catalog empty $TEST_NGINX_CONF_DIR/empty.yaml;
--- request
GET /health/detailed
--- error_code: 503
--- response_headers
Retry-After: 5
Cache-Control: no-store
--- json
status=unhealthy
checks.catalogs.small.status=pass
checks.catalogs.small.index.generation=1
checks.catalogs.empty.status=fail
checks.catalogs.empty.index.status=fail
checks.catalogs.empty.index.reason=no index published
checks.catalogs.empty.index.generation=(missing)
checks.catalogs.empty.builder.state=idle
--- no_error_log
[error]



=== TEST 13: detailed: degraded when a rate-limit zone is over 90% full
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
recsys_limit_zone $arg_u zone=tiny:32k rate=1r/m;
recsys_limit_zone $binary_remote_addr zone=roomy:1m rate=100r/s burst=1000;
--- config
location = /p {
    recsys popular;
    recsys_limit zone=tiny;
    recsys_limit zone=roomy dry_run;
}
location = /health/detailed { recsys_health detailed; }
location = /health/ready { recsys_health ready; }
--- flood_after_0: 300 /p?k=1&u=
--- request eval
["GET /health/detailed", "GET /health/detailed", "GET /health/ready"]
--- error_code eval
[200, 200, 200]
--- json
0:status=healthy
0:checks.rate_limit.status=pass
0:checks.rate_limit.zones.tiny.status=pass
0:checks.rate_limit.zones.tiny.entries=0
1:status=degraded
1:checks.catalogs.small.status=pass
1:checks.rate_limit.status=warn
1:checks.rate_limit.zones.tiny.status=warn
1:checks.rate_limit.zones.tiny.size_bytes=32768
1:checks.rate_limit.zones.tiny.usage~^(0\.9\d*|1(\.0+)?)$
1:checks.rate_limit.zones.tiny.full~^[1-9]\d*$
1:checks.rate_limit.zones.roomy.status=pass
1:checks.rate_limit.zones.roomy.passed=300
1:checks.rate_limit.zones.roomy.rejected=0
1:checks.rate_limit.zones.roomy.dry_run=0
1:checks.rate_limit.zones.roomy.entries=1
2:status=ready
--- no_error_log
[error]



=== TEST 14: a load balancer sees 503 from the first request, 200 once an index is published
--- two_workers
--- http_config
recsys_catalog late $TEST_NGINX_HTML_DIR/late.yaml;
--- config
location = /health/ready { recsys_health ready; }
location = /health/detailed { recsys_health detailed; }
--- user_files
>>> late.yaml
source:
  path: $TEST_NGINX_CONF_DIR/small.jsonl
index:
  path: $TEST_NGINX_HTML_DIR/idx
  dimension: 4
maintenance:
  build_on_start: never
--- build_after_0: late.yaml
--- request eval
["GET /health/ready", "GET /health/ready", "GET /health/ready",
 "GET /health/detailed"]
--- error_code eval
[503, 200, 200, 200]
--- json
0:checks.index.reason=catalog "late": no index published
1:checks.index.catalogs.late.generation=1
2:checks.index.catalogs.late.generation=1
3:status=healthy
3:checks.workers.worker_processes=2
3:checks.workers.master_process=true
--- no_error_log
[error]



=== TEST 15: a catalog name is escaped in JSON
--- http_config
recsys_catalog "a\"b\\c" $TEST_NGINX_CONF_DIR/empty.yaml;
--- request eval
["GET /health/ready", "GET /health/detailed"]
--- error_code eval
[503, 503]
--- json
0:checks.index.reason=catalog "a"b\c": no index published
0:checks.index.catalogs.a"b\c.status=fail
1:checks.catalogs.a"b\c.index.reason=no index published
--- no_error_log
[error]



=== TEST 16: bad recsys_health parameters
--- config
location = /h { recsys_health alive; }
--- must_die
--- error_log
invalid parameter "alive", expected live, ready or detailed



=== TEST 17: live takes no catalog
--- config
location = /h { recsys_health live small; }
--- must_die
--- error_log
"recsys_health live" takes no catalog, got "small"



=== TEST 18: an unknown catalog is refused
--- config
location = /h { recsys_health ready nosuch; }
--- must_die
--- error_log
unknown recsys catalog "nosuch"



=== TEST 19: a bad maintenance.max_age is refused with file:line:column
--- http_config
recsys_catalog c $TEST_NGINX_HTML_DIR/c.yaml;
--- user_files
>>> c.yaml
source:
  path: items.jsonl
index:
  path: idx
  dimension: 4
maintenance:
  max_age: 10 minutes
--- must_die
--- error_log eval
qr{recsys catalog "c": \S+/c\.yaml:7:12: "max_age" must be a duration like 30s, 10m, 24h, 7d or 0, got "10 minutes"}



=== TEST 20: a malformed chunked body is a JSON 400, also on the 405 path
--- more_headers
Transfer-Encoding: chunked
--- request eval
["GET /health/ready\nzz\r\n\r\n", "POST /health/live\nzz\r\n\r\n",
 "DELETE /health/detailed\nzz\r\n\r\n"]
--- error_code eval
[400, 400, 400]
--- error_json: bad_request
--- no_error_log
[alert]
[crit]



=== TEST 21: detailed: degraded while the breaker is open and the database fails, the index serving
--- http_config
recsys_catalog dbdown $TEST_NGINX_HTML_DIR/dbdown.yaml;
--- user_files
>>> dbdown.yaml
source:
  type: postgresql
  dsn: "postgresql://recsys:pw@127.0.0.1:1/recsys?connect_timeout=2"
  table: items
index:
  path: ${TEST_NGINX_DATA_DIR}/small
  dimension: 4
maintenance:
  build_on_start: always
  breaker_threshold: 1
  backoff_initial: 1h
  backoff_max: 1d
--- config
location = /health/ready { recsys_health ready; }
location = /health/detailed { recsys_health detailed; }
location = /admin/index/status { recsys_admin status; }
--- wait_failures: 0:1
--- request eval
["GET /health/ready", "GET /health/detailed", "GET /health/ready"]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["", "!Retry-After", ""]
--- json
1:status=degraded
1:checks.catalogs.dbdown.status=warn
1:checks.catalogs.dbdown.index.status=pass
1:checks.catalogs.dbdown.builder.state=backing_off
1:checks.catalogs.dbdown.builder.breaker=open
1:checks.catalogs.dbdown.builder.status=warn
1:checks.catalogs.dbdown.builder.reason=the circuit breaker is open: builds keep failing
1:checks.catalogs.dbdown.database.state=failing
2:status=ready
--- response_body_unlike eval
["recsys:pw", "recsys:pw", "recsys:pw"]
