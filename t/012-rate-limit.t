# Rate limiting (recsys_limit_zone, recsys_limit, recsys_limit_tier): GCRA
# state in shared memory, 429 with a JSON body, Retry-After and the IETF
# RateLimit-Policy / RateLimit fields on every response a limit applied to.
#
# Every block runs with two workers, so that the per-key state is shared
# by both.  Reset times (t=) and Retry-After are whole seconds rounded up:
# they read N, or N - 1 when a second passed during the block.

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use RecsysProc;
use RecsysChecks;
use JSON::PP;
use IO::Socket::INET;
use Time::HiRes qw(sleep);

repeat_each(1);
no_shuffle();
master_on();
workers(2);
plan('no_plan');


# N seconds as read by a client, allowing for up to five seconds passing
# (a loaded machine takes that long for a block's fill requests)
sub secs {
    my $n = shift;
    my $low = $n > 5 ? $n - 5 : 1;
    return $n > 1 ? '(?:' . join('|', reverse $low .. $n) . ')' : "$n";
}

# response_headers_like lines for the zones [name, q, w, r, t] of one
# response; r undef: the zone is in RateLimit-Policy only
sub fields {
    my @zones = @_;
    my $policy = join ', ', map { qq{"$_->[0]";q=$_->[1];w=$_->[2]} } @zones;
    my $state = join ', ', map { qq{"$_->[0]";r=$_->[3];t=} . secs($_->[4]) }
                           grep { defined $_->[3] } @zones;
    my $s = "RateLimit-Policy: $policy\n";
    $s .= "RateLimit: $state\n" if length $state;
    return $s;
}

sub retry_after {
    return "Retry-After: " . secs(shift) . "\n";
}

sub error_log_lines {
    my $re = shift;
    return grep { /$re/ } split /\n/, RecsysChecks::error_log_text();
}

sub servroot {
    return $ENV{TEST_NGINX_SERVROOT} || 't/servroot';
}

# the shared anonymous mappings (shared memory zones) of a process
sub shared_memory {
    my $pid = shift;
    no warnings 'portable';
    open my $maps, '<', "/proc/$pid/maps" or return '';
    open my $mem, '<:raw', "/proc/$pid/mem" or return '';
    my $data = '';
    while (my $line = <$maps>) {
        my ($from, $to, $perms, $path) =
            $line =~ /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/
            or next;
        next unless $perms =~ /s$/ && $path =~ m{^(/dev/zero|/SYSV|$)};
        sysseek($mem, hex $from, 0) or next;
        my $buf;
        $data .= $buf if sysread($mem, $buf, hex($to) - hex($from));
    }
    return $data;
}

sub requests_in {
    my $block = shift;
    my $r = $block->request;
    return ref $r eq 'ARRAY' ? scalar @$r : 1;
}

# n requests on n connections open at the same time; returns the status
# codes and the worker pids (X-Pid) that answered
sub concurrent {
    my ($n, $uri) = @_;
    my @socks;
    for (1 .. $n) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => server_port(),
                                      Proto => 'tcp', Timeout => 5)
            or return;
        push @socks, $s;
    }
    print $_ "GET $uri HTTP/1.0\r\nHost: localhost\r\n\r\n" for @socks;
    my (%codes, %pids);
    for my $s (@socks) {
        local $/;
        my $resp = <$s> // '';
        my ($code) = $resp =~ m{^HTTP/1\.\d (\d+)};
        $codes{$code // 'none'}++;
        $pids{$1}++ if $resp =~ /^X-Pid: (\d+)/mi;
        close $s;
    }
    return (\%codes, \%pids);
}


# --- limited eval: per request, undef or a regex for the message of the
# JSON error, which must have exactly "code" and "message", and also
# "correlation_id" when the block has --- correlation_id: ID
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run || !defined $block->limited;

    my $name = $block->name;
    my $want = $block->limited->[$req_idx];
    return unless defined $want;

    my $json = eval { decode_json($body) };
    ok($json, "$name - JSON error body (req $req_idx)") or return;
    is(join(',', sort keys %$json), 'error', "$name - one key: error");
    my $cid = $block->correlation_id;
    $cid =~ s/^\s+|\s+$//g if defined $cid;
    is(join(',', sort keys %{ $json->{error} }),
       defined $cid ? 'code,correlation_id,message' : 'code,message',
       "$name - error has code and message");
    is($json->{error}{correlation_id}, $cid, "$name - correlation_id")
        if defined $cid;
    is($json->{error}{code}, 'rate_limited', "$name - code rate_limited");
    like($json->{error}{message}, $want, "$name - message");
    like($body, qr/\}\n\z/, "$name - body ends with a newline");
});

# --- alert_once: regex.  After the last request, error.log holds exactly
# one line matching it
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run || !defined $block->alert_once;
    return if $req_idx != requests_in($block) - 1;

    (my $re = $block->alert_once) =~ s/^\s+|\s+$//g;
    my @lines = error_log_lines(qr/$re/);
    is(scalar @lines, 1, $block->name . " - one line matches $re")
        or diag(join "\n", @lines);
    like($lines[0] // '', qr/\[alert\]/, $block->name . " - logged at alert");
});

# --- concurrent: N URI PASS.  After request 0, N requests at once on N
# connections: exactly PASS get 200 and the others 429
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run || !defined $block->concurrent || $req_idx != 0;

    my ($n, $uri, $pass) = split ' ', $block->concurrent;
    my ($codes, $pids) = concurrent($n, $uri);
    ok($codes, $block->name . " - $n connections") or return;
    is($codes->{200} // 0, $pass, $block->name . " - $pass of $n passed");
    is($codes->{429} // 0, $n - $pass,
       $block->name . " - the other " . ($n - $pass) . " got 429");
    Test::More::note("answered by worker(s) " . join(', ', sort keys %$pids));
});

# --- shm_lacks: KEY HEX.  After the last request, the shared memory of
# a worker holds the SHA-256 HEX of KEY, and not KEY itself
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run || !defined $block->shm_lacks;
    return if $req_idx != requests_in($block) - 1;

    my $name = $block->name;
    my ($key, $hex) = split ' ', $block->shm_lacks;
    my ($pid) = worker_pids();
    my $shm = shared_memory($pid);
    ok(length $shm, "$name - read the shared memory of a worker");
    ok(index($shm, pack('H*', $hex)) >= 0, "$name - the digest is there");
    ok(index($shm, $key) < 0, "$name - the key itself is not");
});

# --- fill: N PREFIX PASS LIMITED.  After request 0, N requests for
# PREFIX1 .. PREFIXN, one after the other on new connections: at least
# PASS of them get 200, and at least LIMITED get 429 (the others 200)
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run || !defined $block->fill || $req_idx != 0;

    my ($n, $prefix, $pass, $limited) = split ' ', $block->fill;
    my %codes;
    for my $i (1 .. $n) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => server_port(),
                                      Proto => 'tcp', Timeout => 5)
            or last;
        print $s "GET $prefix$i HTTP/1.0\r\nHost: localhost\r\n\r\n";
        local $/;
        my $resp = <$s> // '';
        $codes{$resp =~ m{^HTTP/1\.\d (\d+)} ? $1 : 'none'}++;
        close $s;
    }
    my $name = $block->name;
    is(join(',', sort grep { $_ ne '200' && $_ ne '429' } keys %codes), '',
       "$name - fill: only 200 and 429");
    Test::More::cmp_ok($codes{200} // 0, '>=', $pass, "$name - fill: $pass or more 200");
    Test::More::cmp_ok($codes{429} // 0, '>=', $limited,
           "$name - fill: $limited or more 429");
    Test::More::note("fill: " . join(', ', map { "$_ x $codes{$_}" }
                                           sort keys %codes));
});

# --- reload: after request 0, reload with SIGHUP (the configuration
# edited by the s/// given, if any) and wait for the result
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run || !defined $block->reload || $req_idx != 0;

    my $name = $block->name;
    (my $edit = $block->reload) =~ s/^\s+|\s+$//g;
    my %old = map { $_ => 1 } worker_pids();

    if (length $edit) {
        my $file = servroot() . '/conf/nginx.conf';
        open my $in, '<', $file or die "$file: $!";
        local $_ = do { local $/; <$in> };
        close $in;
        eval $edit or die "bad --- reload edit: $@";
        open my $out, '>', $file or die "$file: $!";
        print $out $_;
        close $out;
    }

    ok(kill('HUP', master_pid()), "$name - SIGHUP sent to the master");

    if (length $edit) {
        my $ok;
        for (1 .. 50) {
            last if $ok = error_log_lines(qr/\[emerg\].*previously/);
            sleep 0.1;
        }
        ok($ok, "$name - the reload was refused");
        is(join(',', sort(worker_pids())), join(',', sort keys %old),
           "$name - the old workers still serve");
        return;
    }

    is(wait_new_workers(\%old, 2), 2,
       "$name - two new workers after the reload");
});

# a block without user_files has the file t (hello), and
#   --- emerg: MSG          nginx refuses to start, error.log has [emerg], MSG
#   --- limit: URI ZONE     recsys_limit_zone ZONE, t served at URI behind it
#                           with the X-Pid of the worker that answers
#   --- cost_k: NAME        the small catalog's popular list (k up to 50)
#                           behind zone NAME (1r/m, burst 19) at cost=k
add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(user_files => ">>> t\nhello\n")
        unless defined $block->user_files;
    if (defined $block->emerg) {
        $block->set_value(config => "") unless defined $block->config;
        $block->set_value(must_die => "");
        $block->set_value(error_log => "[emerg]\n" . $block->emerg);
    }
    if (defined $block->limit) {
        my ($uri, $zone) = split ' ', $block->limit, 2;
        my ($name) = $zone =~ /zone=(\w+):/;
        $block->set_value(http_config => "recsys_limit_zone $zone;\n");
        $block->set_value(config => "location = $uri {\n"
            . "    recsys_limit zone=$name;\n"
            . "    add_header X-Pid \$pid always;\n"
            . "    try_files /t =404;\n}\n");
    }
    if (defined $block->cost_k) {
        my $zone = $block->cost_k;
        $block->set_value(http_config =>
            "recsys_catalog small \$TEST_NGINX_CONF_DIR/small.yaml;\n"
            . "recsys_limit_zone \$binary_remote_addr zone=$zone:1m"
            . " rate=1r/m burst=19;\n");
        $block->set_value(config => "location = /v1/popular {\n"
            . "    recsys popular;\n    recsys_max_k 50;\n"
            . "    recsys_limit zone=$zone cost=k;\n}\n");
    }
});

run_tests();

__DATA__

=== TEST 1: allowed responses carry the fields; r counts down exactly
--- http_config
recsys_limit_zone $binary_remote_addr zone=ip:1m rate=1r/m burst=4;
--- config
location = /t { recsys_limit zone=ip; }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 200, 200, 200, 429]
--- response_headers_like eval
[(map { ::fields(["ip", 5, 300, 4 - $_, 60 * ($_ + 1)]) } 0 .. 4),
 ::fields(["ip", 5, 300, 0, 300]) . ::retry_after(60)
 . "Content-Type: application/json"]
--- raw_response_headers_unlike eval
[("Retry-After") x 5, "ETag"]
--- limited eval
[undef, undef, undef, undef, undef,
 qr/^rate limit of zone ip exceeded, retry in (60|59) s$/]
--- no_error_log
[crit]
[alert]



=== TEST 2: burst=2: exactly three pass, then 429 with Retry-After
--- http_config
recsys_limit_zone $binary_remote_addr zone=b2:1m rate=1r/m burst=2;
--- config
location = /t { recsys_limit zone=b2; }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 200, 429, 429]
--- response_headers_like eval
[::fields(["b2", 3, 180, 2, 60]),
 ::fields(["b2", 3, 180, 1, 120]),
 ::fields(["b2", 3, 180, 0, 180]),
 ::fields(["b2", 3, 180, 0, 180]) . ::retry_after(60),
 ::fields(["b2", 3, 180, 0, 180]) . ::retry_after(60)]
--- limited eval
[undef, undef, undef, qr/zone b2 exceeded, retry in (60|59) s/,
 qr/zone b2 exceeded/]
--- log_has: 3 \[error\] .*limiting requests, excess: (0\.9\d\d|1\.000) by zone "b2"



=== TEST 3: 1r/m: Retry-After is the whole minute, rounded up; HEAD
--- http_config
recsys_limit_zone $binary_remote_addr zone=m:1m rate=1r/m;
--- config
location = /t { recsys_limit zone=m; }
--- request eval
["GET /t", "GET /t", "HEAD /t"]
--- error_code eval
[200, 429, 429]
--- response_headers_like eval
[::fields(["m", 1, 60, 0, 60]),
 ::fields(["m", 1, 60, 0, 60]) . ::retry_after(60) . "Content-Length: \\d+",
 ::fields(["m", 1, 60, 0, 60]) . ::retry_after(60)]
--- response_body eval
["hello\n", qr/rate_limited/, ""]
--- no_error_log
[crit]



=== TEST 4: two zones: per IP and per API key, with a tier for one key
A request rejected by the key zone costs nothing in the IP zone.
--- http_config
recsys_limit_zone $binary_remote_addr zone=ip:1m rate=1r/m burst=9;
recsys_limit_zone $http_x_api_key zone=key:1m rate=1r/m burst=1;
recsys_limit_tier zone=key rate=1r/m burst=3
    key_sha256=a6c1eaef9d5f23f4e13d9b574cbbe07ae877227d92be87d077005dc6776bcdcc;
--- config
location = /t {
    recsys_limit zone=ip;
    recsys_limit zone=key;
}
--- request eval
[("GET /t") x 10]
--- more_headers eval
["", ("X-Api-Key: other") x 3, ("X-Api-Key: secret-key-1") x 5, ""]
--- error_code eval
[200, 200, 200, 429, 200, 200, 200, 200, 429, 200]
--- response_headers_like eval
[::fields(["ip", 10, 600, 9, 60]),
 ::fields(["ip", 10, 600, 8, 120], ["key", 2, 120, 1, 60]),
 ::fields(["ip", 10, 600, 7, 180], ["key", 2, 120, 0, 120]),
 ::fields(["ip", 10, 600, 7, 180], ["key", 2, 120, 0, 120])
 . ::retry_after(60),
 ::fields(["ip", 10, 600, 6, 240], ["key", 4, 240, 3, 60]),
 ::fields(["ip", 10, 600, 5, 300], ["key", 4, 240, 2, 120]),
 ::fields(["ip", 10, 600, 4, 360], ["key", 4, 240, 1, 180]),
 ::fields(["ip", 10, 600, 3, 420], ["key", 4, 240, 0, 240]),
 ::fields(["ip", 10, 600, 3, 420], ["key", 4, 240, 0, 240])
 . ::retry_after(60),
 ::fields(["ip", 10, 600, 2, 480])]
--- limited eval
[undef, undef, undef, qr/zone key exceeded/, undef, undef, undef, undef,
 qr/zone key exceeded/, undef]
--- shm_lacks: secret-key-1 a6c1eaef9d5f23f4e13d9b574cbbe07ae877227d92be87d077005dc6776bcdcc



=== TEST 5: dry_run counts and logs but never rejects
--- http_config
recsys_limit_zone $binary_remote_addr zone=dry:1m rate=1r/m burst=1;
--- config
location = /t {
    recsys_limit zone=dry dry_run;
    add_header X-Limit $recsys_limit_status always;
}
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 200, 200]
--- response_headers_like eval
[::fields(["dry", 2, 120, 1, 60]) . "X-Limit: PASSED",
 ::fields(["dry", 2, 120, 0, 120]) . "X-Limit: PASSED",
 ::fields(["dry", 2, 120, 0, 120]) . "X-Limit: REJECTED_DRY_RUN",
 ::fields(["dry", 2, 120, 0, 120]) . "X-Limit: REJECTED_DRY_RUN"]
--- raw_response_headers_unlike eval
[("Retry-After") x 4]
--- response_body eval
[("hello\n") x 4]
--- log_has: 3 \[error\] .*limiting requests, dry run, excess: (0\.9\d\d|1\.000) by zone "dry"



=== TEST 6: the variable is empty when no zone applies (empty key)
--- http_config
recsys_limit_zone $http_x_api_key zone=k:1m rate=1r/m;
--- config
location = /t {
    recsys_limit zone=k;
    add_header X-Limit "[$recsys_limit_status]" always;
}
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
["", "", "X-Api-Key: abc", "X-Api-Key: abc"]
--- error_code eval
[200, 200, 200, 429]
--- response_headers_like eval
["X-Limit: \\[\\]", "X-Limit: \\[\\]",
 ::fields(["k", 1, 60, 0, 60]) . "X-Limit: \\[PASSED\\]",
 ::fields(["k", 1, 60, 0, 60]) . "X-Limit: \\[REJECTED\\]"]
--- raw_response_headers_unlike eval
["RateLimit", "RateLimit", "Retry-After", "ETag"]



=== TEST 7: recsys_limit_status 503 and recsys_limit_log_level warn
--- http_config
recsys_limit_zone $binary_remote_addr zone=s5:1m rate=1r/m;
--- config
location = /t {
    recsys_limit zone=s5;
    recsys_limit_status 503;
    recsys_limit_log_level warn;
}
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 503]
--- response_headers_like eval
[::fields(["s5", 1, 60, 0, 60]),
 ::fields(["s5", 1, 60, 0, 60]) . ::retry_after(60)]
--- limited eval
[undef, qr/zone s5 exceeded/]
--- log_has: 1 \[warn\] .*limiting requests, excess: (0\.9\d\d|1\.000) by zone "s5"



=== TEST 8: the JSON error carries the correlation id when there is one
--- http_config
recsys_limit_zone $binary_remote_addr zone=cid:1m rate=1r/m;
--- config
location = /t {
    recsys_correlation_id on;
    recsys_limit zone=cid;
}
--- request eval
["GET /t", "GET /t"]
--- more_headers
X-Correlation-ID: req-42.a:b
--- error_code eval
[200, 429]
--- correlation_id: req-42.a:b
--- limited eval
[undef, qr/zone cid exceeded/]



=== TEST 9: in front of proxy_pass: upstream answers carry the fields
--- http_config
recsys_limit_zone $binary_remote_addr zone=px:1m rate=1r/m burst=1;
--- config
location = /p {
    recsys_limit zone=px;
    recsys_limit_log_level info;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
}
location = /backend {
    add_header X-Backend yes;
    return 200 "backend\n";
}
--- request eval
["GET /p", "GET /p", "GET /p"]
--- error_code eval
[200, 200, 429]
--- response_headers_like eval
[::fields(["px", 2, 120, 1, 60]) . "X-Backend: yes",
 ::fields(["px", 2, 120, 0, 120]) . "X-Backend: yes",
 ::fields(["px", 2, 120, 0, 120]) . ::retry_after(60)]
--- raw_response_headers_unlike eval
["Retry-After", "Retry-After", "X-Backend"]
--- limited eval
[undef, undef, qr/zone px exceeded/]
--- no_error_log
[error]



=== TEST 10: static files, error pages, return behind try_files
"return" in the limited location itself ends the request in the rewrite
phase, before PREACCESS: like limit_req, the limit does not apply there.
--- http_config
recsys_limit_zone $binary_remote_addr zone=st:1m rate=1r/m burst=9;
--- config
location /s/ { recsys_limit zone=st; }
location = /r {
    recsys_limit zone=st;
    try_files /nonexistent @ok;
}
location @ok { return 200 "ok\n"; }
location = /plain {
    recsys_limit zone=st;
    return 200 "plain\n";
}
--- user_files
>>> s/a.txt
a
--- request eval
["GET /s/a.txt", "GET /s/missing", "GET /r", "GET /plain", "GET /s/a.txt"]
--- error_code eval
[200, 404, 200, 200, 200]
--- response_headers_like eval
[::fields(["st", 10, 600, 9, 60]),
 ::fields(["st", 10, 600, 8, 120]),
 ::fields(["st", 10, 600, 7, 180]),
 "Content-Type: text/plain",
 ::fields(["st", 10, 600, 6, 240])]
--- raw_response_headers_unlike eval
["Retry-After", "Retry-After", "Retry-After", "RateLimit", "Retry-After"]
--- response_body eval
["a\n", qr/404 Not Found/, "ok\n", "plain\n", "a\n"]



=== TEST 11: counted once across internal redirects; error_page takes over
--- http_config
recsys_limit_zone $binary_remote_addr zone=tw:1m rate=1r/m burst=2;
--- config
location = /twice {
    recsys_limit zone=tw;
    try_files /nonexistent /again;
}
location = /again {
    recsys_limit zone=tw;
    error_page 429 /limited.txt;
    try_files /t =404;
}
--- user_files
>>> t
hello
>>> limited.txt
slow down
--- request eval
["GET /twice", "GET /twice", "GET /twice", "GET /twice", "GET /again"]
--- error_code eval
[200, 200, 200, 429, 429]
--- response_headers_like eval
[::fields(["tw", 3, 180, 2, 60]),
 ::fields(["tw", 3, 180, 1, 120]),
 ::fields(["tw", 3, 180, 0, 180]),
 ::fields(["tw", 3, 180, 0, 180]) . ::retry_after(60)
 . "Content-Type: application/json",
 ::fields(["tw", 3, 180, 0, 180]) . ::retry_after(60)]
--- response_body eval
["hello\n", "hello\n", "hello\n", qr/rate_limited/, "slow down\n"]



=== TEST 12: inherited from the server level only without own limits
--- http_config
recsys_limit_zone $binary_remote_addr zone=srv:1m rate=1r/m burst=9;
recsys_limit_zone $binary_remote_addr zone=loc:1m rate=1r/m burst=4;
--- config
recsys_limit zone=srv;
location = /inherits { try_files /t =404; }
location = /own {
    recsys_limit zone=loc;
    try_files /t =404;
}
--- request eval
["GET /inherits", "GET /own", "GET /own", "GET /inherits"]
--- response_headers_like eval
[::fields(["srv", 10, 600, 9, 60]),
 ::fields(["loc", 5, 300, 4, 60]),
 ::fields(["loc", 5, 300, 3, 120]),
 ::fields(["srv", 10, 600, 8, 120])]
--- error_code eval
[200, 200, 200, 200]



=== TEST 13: cost=n, and a cost no bucket can hold
--- http_config
recsys_limit_zone $binary_remote_addr zone=c:1m rate=1r/m burst=3;
recsys_limit_zone $binary_remote_addr zone=c2:1m rate=1r/m burst=3;
--- config
location = /two {
    recsys_limit zone=c cost=2;
    try_files /t =404;
}
location = /five {
    recsys_limit zone=c2 cost=5;
    try_files /t =404;
}
--- request eval
["GET /two", "GET /two", "GET /two", "GET /five"]
--- error_code eval
[200, 200, 429, 429]
--- response_headers_like eval
[::fields(["c", 4, 240, 2, 120]),
 ::fields(["c", 4, 240, 0, 240]),
 ::fields(["c", 4, 240, 0, 240]) . ::retry_after(120),
 ::fields(["c2", 4, 240, 4, 0]) . "Retry-After: 1"]
--- limited eval
[undef, undef, qr/zone c exceeded, retry in (120|119) s/,
 qr/^cost 5 exceeds the capacity 4 of rate limit zone c2$/]
--- log_has: 3 limiting requests, cost 5 exceeds the capacity 4 of zone "c2"



=== TEST 14: cost=k charges the request's k (default and capped by the location)
--- cost_k: kz
--- request eval
["GET /v1/popular?k=5", "GET /v1/popular?k=10", "GET /v1/popular",
 "GET /v1/popular?k=abc", "GET /v1/popular?k=5", "GET /v1/popular?k=100"]
--- error_code eval
[200, 200, 429, 429, 200, 429]
--- response_headers_like eval
[::fields(["kz", 20, 1200, 15, 300]),
 ::fields(["kz", 20, 1200, 5, 900]),
 ::fields(["kz", 20, 1200, 5, 900]) . ::retry_after(300),
 ::fields(["kz", 20, 1200, 5, 900]) . ::retry_after(300),
 ::fields(["kz", 20, 1200, 0, 1200]),
 ::fields(["kz", 20, 1200, 0, 1200]) . ::retry_after(1200)]
--- limited eval
[undef, undef, qr/zone kz exceeded/, qr/zone kz exceeded/, undef,
 qr/^cost 50 exceeds the capacity 20 of rate limit zone kz$/]



=== TEST 15: cost=k charges the k the handler answers: the last, decoded
The limiter once read the first k with undecoded names: k=1&k=12 cost 1
and %6B=8 the default 10.
--- cost_k: kl
--- request eval
["GET /v1/popular?k=1&k=12", "GET /v1/popular?%6B=8", "GET /v1/popular?k=1"]
--- error_code eval
[200, 200, 429]
--- response_body_like eval
[qr/"count":12,"k":12,/, qr/"count":8,"k":8,/, qr/rate_limited/]
--- response_headers_like eval
[::fields(["kl", 20, 1200, 8, 720]),
 ::fields(["kl", 20, 1200, 0, 1200]),
 ::fields(["kl", 20, 1200, 0, 1200]) . ::retry_after(60)]



=== TEST 16: a full zone fails open by default, with one ALERT
32k is the smallest zone: 400 live keys do not fit in it.
--- http_config
recsys_limit_zone $arg_u zone=tiny:32k rate=1r/m;
--- config
location = /f {
    recsys_limit zone=tiny;
    add_header X-Limit $recsys_limit_status always;
    try_files /t =404;
}
--- fill: 400 /f?u=fill 400 0
--- request eval
["GET /f?u=first", "GET /f?u=last", "GET /f?u=first"]
--- error_code eval
[200, 200, 429]
--- response_headers_like eval
[::fields(["tiny", 1, 60, 0, 60]) . "X-Limit: PASSED",
 ::fields(["tiny", 1, 60]) . "X-Limit: PASSED",
 ::fields(["tiny", 1, 60, 0, 60]) . "X-Limit: REJECTED"]
--- raw_response_headers_unlike eval
["Retry-After", "RateLimit: ", "ETag"]
--- alert_once: recsys_limit_zone "tiny" is full, letting through requests with new keys



=== TEST 17: on_full=closed rejects new keys while the zone is full
--- limit: /f $arg_u zone=tight:32k rate=1r/m on_full=closed
--- fill: 400 /f?u=fill 100 100
--- request eval
["GET /f?u=first", "GET /f?u=last"]
--- error_code eval
[200, 429]
--- response_headers_like eval
[::fields(["tight", 1, 60, 0, 60]),
 ::fields(["tight", 1, 60]) . "Retry-After: ([1-9]|[1-5][0-9]|60)\n"
 . "Content-Type: application/json"]
--- limited eval
[undef, qr/^rate limit zone tight is full, retry in ([1-9]|[1-5][0-9]|60) s$/]
--- alert_once: recsys_limit_zone "tight" is full, rejecting requests with new keys



=== TEST 18: entries whose bucket is full again make room
At 1000r/s an entry says nothing a millisecond after its request.
--- limit: /f $arg_u zone=fast:32k rate=1000r/s
--- fill: 1000 /f?u=fill 1000 0
--- request eval
["GET /f?u=first", "GET /f?u=last"]
--- error_code eval
[200, 200]
--- response_headers_like eval
[::fields(["fast", 1, 1, 0, 1]), ::fields(["fast", 1, 1, 0, 1])]
--- no_error_log
is full



=== TEST 19: one state for all workers: 20 connections, burst + 1 pass
--- limit: /w $binary_remote_addr zone=w:1m rate=1r/m burst=4
--- request eval
[("GET /w") x 20]
--- error_code eval
[(200) x 5, (429) x 15]



=== TEST 20: one state for all workers: 30 requests at once, burst + 1 pass
--- limit: /w $binary_remote_addr zone=wc:1m rate=1r/m burst=6
--- concurrent: 30 /w 6
--- request eval
["GET /w", "GET /w"]
--- error_code eval
[200, 429]



=== TEST 21: the state survives a reload
--- http_config
recsys_limit_zone $binary_remote_addr zone=rl:1m rate=1r/m burst=1;
--- config
location = /t { recsys_limit zone=rl; }
--- reload
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 429]
--- response_headers_like eval
[::fields(["rl", 2, 120, 1, 60]),
 ::fields(["rl", 2, 120, 0, 120]),
 ::fields(["rl", 2, 120, 0, 120])]



=== TEST 22: a reload that changes a zone's key is refused
--- http_config
recsys_limit_zone $binary_remote_addr zone=rk:1m rate=1r/m burst=1;
--- config
location = /t { recsys_limit zone=rk; }
--- reload: s/\$binary_remote_addr zone=rk/\$http_x_other zone=rk/ or die
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 200]
--- response_headers_like eval
[::fields(["rk", 2, 120, 1, 60]),
 ::fields(["rk", 2, 120, 0, 120])]
--- log_has: 1 recsys_limit_zone "rk" uses the "\$http_x_other" key while previously it used the "\$binary_remote_addr" key



=== TEST 23: bad rate
--- http_config
recsys_limit_zone $binary_remote_addr zone=x:1m rate=10r/h;
--- emerg: invalid rate "rate=10r/h"



=== TEST 24: rate missing
--- http_config
recsys_limit_zone $binary_remote_addr zone=x:1m burst=5;
--- emerg: "recsys_limit_zone" must have "rate" parameter



=== TEST 25: unknown zone
--- config
location = /t { recsys_limit zone=nope; }
--- emerg: unknown recsys_limit_zone "nope"



=== TEST 26: recsys_limit without zone=
--- http_config
recsys_limit_zone $binary_remote_addr zone=x:1m rate=1r/s;
--- config
location = /t { recsys_limit cost=2; }
--- emerg: "recsys_limit" must have "zone" parameter



=== TEST 27: the same zone name with another key
--- http_config
recsys_limit_zone $binary_remote_addr zone=dup:1m rate=1r/s;
recsys_limit_zone $http_x_api_key zone=dup:1m rate=1r/s;
--- emerg: recsys_limit_zone "dup" is already bound to key "$binary_remote_addr"



=== TEST 28: key_sha256 must be 64 hex digits
--- http_config
recsys_limit_zone $http_x_api_key zone=x:1m rate=1r/s;
recsys_limit_tier zone=x key_sha256=a6c1eaef rate=10r/s;
--- emerg: invalid key_sha256 "key_sha256=a6c1eaef": 64 hex digits expected



=== TEST 29: a tier per key, once
--- http_config
recsys_limit_zone $http_x_api_key zone=x:1m rate=1r/s;
recsys_limit_tier zone=x rate=10r/s
    key_sha256=a6c1eaef9d5f23f4e13d9b574cbbe07ae877227d92be87d077005dc6776bcdcc;
recsys_limit_tier zone=x rate=20r/s
    key_sha256=A6C1EAEF9D5F23F4E13D9B574CBBE07AE877227D92BE87D077005DC6776BCDCC;
--- emerg: duplicate key_sha256 in zone "x"



=== TEST 30: a tier needs a declared zone
--- http_config
recsys_limit_tier zone=x rate=10r/s
    key_sha256=a6c1eaef9d5f23f4e13d9b574cbbe07ae877227d92be87d077005dc6776bcdcc;
--- emerg: unknown recsys_limit_zone "x"



=== TEST 31: zone names go into header fields: a safe alphabet only
--- http_config
recsys_limit_zone $binary_remote_addr zone=a/b:1m rate=1r/s;
--- emerg: invalid zone name "zone=a/b:1m"



=== TEST 32: too small a zone
--- http_config
recsys_limit_zone $binary_remote_addr zone=x:4k rate=1r/s;
--- emerg: zone "zone=x:4k" is too small



=== TEST 33: bad cost
--- http_config
recsys_limit_zone $binary_remote_addr zone=x:1m rate=1r/s;
--- config
location = /t { recsys_limit zone=x cost=0; }
--- emerg: invalid cost "cost=0"



=== TEST 34: bad on_full
--- http_config
recsys_limit_zone $binary_remote_addr zone=x:1m rate=1r/s on_full=maybe;
--- emerg: invalid parameter "on_full=maybe"



=== TEST 35: status out of range
--- http_config
recsys_limit_zone $binary_remote_addr zone=x:1m rate=1r/s;
--- config
location = /t { recsys_limit zone=x; recsys_limit_status 302; }
--- emerg: value must be between 400 and 599



=== TEST 36: the same zone twice in one location
--- http_config
recsys_limit_zone $binary_remote_addr zone=x:1m rate=1r/s;
--- config
location = /t { recsys_limit zone=x; recsys_limit zone=x dry_run; }
--- emerg: "recsys_limit" directive is duplicate



=== TEST 37: bad burst in a zone
--- http_config
recsys_limit_zone $binary_remote_addr zone=x:1m rate=1r/s burst=1000001;
--- emerg: invalid burst "burst=1000001"



=== TEST 38: bad rate in a tier
--- http_config
recsys_limit_zone $http_x_api_key zone=x:1m rate=1r/s;
recsys_limit_tier zone=x rate=10r/h
    key_sha256=a6c1eaef9d5f23f4e13d9b574cbbe07ae877227d92be87d077005dc6776bcdcc;
--- emerg: invalid rate "rate=10r/h"



=== TEST 39: bad burst in a tier
--- http_config
recsys_limit_zone $http_x_api_key zone=x:1m rate=1r/s;
recsys_limit_tier zone=x rate=10r/s burst=-1
    key_sha256=a6c1eaef9d5f23f4e13d9b574cbbe07ae877227d92be87d077005dc6776bcdcc;
--- emerg: invalid burst "burst=-1"
