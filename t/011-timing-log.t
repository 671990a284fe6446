# The timing log: conf/recsys-timing.conf's log_format with access_log,
# one JSON object per request, every line parsed with JSON::PP; the
# $recsys_* variables it is made of; buffering, flush, if=, reopen, exit,
# and two workers writing at once.

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use RecsysProc;
use JSON::PP;
use POSIX ();
use IO::Socket::INET;
use Time::HiRes ();
use Time::Local ();
use IO::Uncompress::Gunzip ();

repeat_each(1);
no_shuffle();
plan('no_plan');

our $Include = "include $FindBin::Bin/../conf/recsys-timing.conf;";

our $Config = <<'_EOC_';
    access_log logs/timing.log recsys_timing;

    location = /t {
        return 200 "hi\n";
    }
    location ~ ^/v1/items/(?<item>[^/]+)/similar$ {
        recsys similar;
        recsys_item_id $item;
    }
    location = /v1/recommendations {
        recsys recommendations;
    }
    location = /v1/popular {
        recsys popular;
    }
    location /static/ {
        root html;
    }
_EOC_

# Sections this file adds (checked by the response body check below):
#
#   --- timing_log: path      the log under the server root (default
#                             logs/timing.log)
#   --- timing_count eval     lines expected after each request (arrayref)
#                             or after the last one (number); every line
#                             must be a JSON object
#   --- timing_fields         after the last request, lines "N key OP value":
#                             N the line number, key a dotted path or "raw"
#                             (the line's text); OP is = (equal, "null"
#                             for JSON null, <body M> for request M's body),
#                             ~ (regex), ! (absent) or # (a JSON number)
#   --- pause_after eval      seconds to sleep after each request's checks
#   --- reopen_after: N       after request N, rename the log to .0 and
#                             send USR1 to nginx
#   --- rotated_count: N      after the last request, .0 has N lines
#   --- quit_count: N         after the last request, stop nginx (QUIT)
#                             and expect N lines: buffers flushed at exit
#   --- clients: C N            after request 0, C clients send N requests
#                             each, concurrently
#   --- two_workers           master process and two workers
#   --- plain_lines eval      per request, regexes for every line of
#                             logs/plain.log (arrayref of arrayrefs)
#   --- gzip_lines eval       per request, undef or the uris of every line
#                             of logs/timing.log.gz, each a JSON object

our (%Bodies);

sub log_path {
    my ($block, $suffix) = @_;
    my $f = $block->timing_log // 'logs/timing.log';
    $f =~ s/^\s+|\s+$//g;
    return server_root() . "/$f" . ($suffix // '');
}

# Complete lines of a file, waiting up to $wait seconds for $want of them.
sub read_lines {
    my ($path, $want, $wait) = @_;
    my $deadline = Time::HiRes::time() + ($wait // 3);
    my @lines;
    while (1) {
        @lines = ();
        if (open my $fh, '<:raw', $path) {
            local $/ = "\n";
            @lines = grep { /\n\z/ } <$fh>;
        }
        last if @lines >= $want || Time::HiRes::time() >= $deadline;
        Time::HiRes::sleep(0.05);
    }
    return @lines;
}

sub parse_lines {
    my ($name, $file, @lines) = @_;
    my (@recs, @bad);
    for my $l (@lines) {
        my $r = eval { JSON::PP->new->utf8->decode($l) };
        if (ref $r eq 'HASH') {
            push @recs, $r;
        } else {
            push @bad, $l;
        }
    }
    ok(!@bad, "$name - every line of $file is a JSON object ("
              . scalar(@lines) . " lines)")
        or diag("not JSON: " . substr($bad[0], 0, 300));
    return \@recs;
}

sub check_count {
    my ($name, $path, $want, $wait) = @_;
    (my $file = $path) =~ s{.*/}{};
    my @lines = read_lines($path, $want, $want ? $wait : 0);
    is(scalar @lines, $want, "$name - $want lines in $file");
    return (parse_lines($name, $file, @lines), \@lines);
}

sub check_fields {
    my ($name, $spec, $recs, $raws, $bodies) = @_;

    for my $line (grep { /\S/ } split /\n/, $spec) {
        my ($n, $path, $op, $want) =
            $line =~ /^\s*(\d+)\s+(\S+)\s+([=~!#])\s*(.*?)\s*$/
            or die "bad --- timing_fields line: $line";
        my $what = $op eq '#' ? "$name - line $n: $path is a number"
                 : $op eq '!' ? "$name - line $n: no $path"
                 : "$name - line $n: $path $op $want";

        if ($path eq 'raw') {
            like($raws->[$n] // '', qr/$want/, $what);
            next;
        }

        my @keys = split /\./, $path;
        my ($node, $exists) = ($recs->[$n], 1);
        for my $k (@keys) {
            if (ref $node eq 'HASH' && exists $node->{$k}) {
                $node = $node->{$k};
            } else {
                $exists = 0;
                last;
            }
        }

        if ($op eq '!') {
            ok(!$exists, $what);
            next;
        }

        ok($exists, "$name - line $n has $path") or next;

        if ($op eq '#') {
            like($raws->[$n], qr/"\Q$keys[-1]\E":-?\d+(?:\.\d+)?[,}]/,
                 $what);
        } elsif ($op eq '~') {
            like($node // '', qr/$want/, $what);
        } elsif ($want eq 'null') {
            ok(!defined $node, $what);
        } elsif ($want eq '<now>') {
            my @t = ($node // '') =~
                /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z$/;
            my $t = @t ? Time::Local::timegm(@t[5, 4, 3, 2], $t[1] - 1,
                                             $t[0]) + $t[6] / 1000
                       : 0;
            ok(abs($t - Time::HiRes::time()) < 5, "$what ($node)");
        } else {
            $want = $bodies->[$1] if $want =~ /^<body (\d+)>$/;
            is($node, $want, $what);
        }
    }
}

# The lines of the gzip log, every member, each a JSON object.
sub check_gzip {
    my ($name, $want) = @_;
    my $path = server_root() . '/logs/timing.log.gz';
    my $text = '';
    IO::Uncompress::Gunzip::gunzip($path => \$text, MultiStream => 1)
        or diag("gunzip $path: $IO::Uncompress::Gunzip::GunzipError");
    my @lines = grep { /\n\z/ } split /^/, $text;
    is(scalar @lines, scalar @$want,
       "$name - " . scalar(@$want) . " lines in timing.log.gz");
    my $recs = parse_lines($name, 'timing.log.gz', @lines);
    is_deeply([map { $_->{uri} } @$recs], $want, "$name - gzip uris");
}

sub reopen {
    my ($name, $path) = @_;
    ok(rename($path, "$path.0"), "$name - log renamed");
    my $pid = master_pid();
    ok($pid && kill('USR1', $pid), "$name - USR1 sent");
    # nginx creates the file again when it reopens it
    my $deadline = Time::HiRes::time() + 3;
    Time::HiRes::sleep(0.05) until -e $path
                                   || Time::HiRes::time() > $deadline;
    ok(-e $path, "$name - log reopened");
    Time::HiRes::sleep(0.2);    # workers reopen after the master
}

sub quit {
    my $name = shift;
    my $pid = master_pid();
    ok($pid && kill('QUIT', $pid), "$name - QUIT sent");
    my $deadline = Time::HiRes::time() + 5;
    while (kill(0, $pid) && Time::HiRes::time() < $deadline) {
        waitpid($pid, POSIX::WNOHANG());
        my $stat = '';
        if (open my $fh, '<', "/proc/$pid/stat") {
            $stat = <$fh> // '';
        }
        last if $stat eq '' || $stat =~ /\)\s+[ZX]\s/;
        Time::HiRes::sleep(0.05);
    }
}

# C clients, N requests each, all at once; returns the uris sent.
sub load {
    my ($name, $clients, $n) = @_;
    my $port = server_port();
    my $pad = 'p' x 2000;
    my @pids;

    for my $c (1 .. $clients) {
        my $pid = fork();
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            my $fail = 0;
            for my $i (1 .. $n) {
                my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                              PeerPort => $port,
                                              Proto => 'tcp', Timeout => 5);
                if (!$s) {
                    $fail++;
                    next;
                }
                print $s "GET /t?c=$c&i=$i&pad=$pad HTTP/1.0\r\n"
                         . "Host: localhost\r\n\r\n";
                my $resp = do { local $/; <$s> } // '';
                $fail++ unless $resp =~ m{^HTTP/1\.1 200 };
                close $s;
            }
            POSIX::_exit($fail > 255 ? 255 : $fail);
        }
        push @pids, $pid;
    }

    my $failed = 0;
    for my $pid (@pids) {
        waitpid($pid, 0);
        $failed += $? >> 8;
    }
    is($failed, 0, "$name - $clients x $n concurrent requests answered");

    return map { my $c = $_; map { "/t?c=$c&i=$_&pad=$pad" } 1 .. $n }
           1 .. $clients;
}

# Both workers served the load (seen in the debug log, when there is one).
sub check_workers {
    my $name = shift;
    my %pids;
    if (open my $fh, '<', server_root() . '/logs/error.log') {
        while (<$fh>) {
            $pids{$1} = 1
                if /\[debug\] (\d+)#\d+: \*\d+ http request line: "GET \/t\?c=/;
        }
    }
    SKIP: {
        skip("$name - no debug log to tell the workers apart", 1)
            unless %pids;
        is(scalar keys %pids, 2, "$name - both workers served requests");
    }
}

our %Expected;

add_response_body_check(sub {
    my ($block, $body, $req_idx, $rep, $dry_run) = @_;
    return if $dry_run;
    my $name = $block->name;
    my $path = log_path($block);

    my $reqs = $block->raw_request // $block->request;
    my $nreq = ref $reqs eq 'ARRAY' ? @$reqs : 1;
    my $last = $req_idx == $nreq - 1;

    $Bodies{$name}[$req_idx] = $body;

    if (defined $block->clients && $req_idx == 0) {
        my ($c, $n) = split ' ', $block->clients;
        $Expected{$name} = [load($name, $c, $n)];
    }

    my $count = $block->timing_count;
    my ($recs, $raws);

    if (ref $count eq 'ARRAY') {
        ($recs, $raws) = check_count($name, $path, $count->[$req_idx]);
    } elsif (defined $count && $last) {
        ($recs, $raws) = check_count($name, $path, $count, 10);
    }

    if (defined $block->timing_fields && $last) {
        check_fields($name, $block->timing_fields, $recs, $raws,
                     $Bodies{$name});
    }

    if ($Expected{$name} && $last) {
        my %want = map { $_ => 0 } @{ $Expected{$name} };
        $want{$1} = 0 if $block->request =~ /^\s*\S+\s+(\S+)/;
        my $extra = 0;
        for my $r (@$recs) {
            exists $want{ $r->{uri} } ? $want{ $r->{uri} }++ : $extra++;
        }
        is(scalar(grep { $_ != 1 } values %want) + $extra, 0,
           "$name - each request has exactly one intact line");
        check_workers($name);
        delete $Expected{$name};
    }

    if (defined $block->rotated_count && $last) {
        (my $n = $block->rotated_count) =~ s/\s+//g;
        check_count($name, "$path.0", $n);
    }

    if (defined $block->reopen_after && $block->reopen_after == $req_idx) {
        reopen($name, $path);
    }

    if (defined $block->quit_count && $last) {
        (my $n = $block->quit_count) =~ s/\s+//g;
        quit($name);
        check_count($name, $path, $n);
    }

    my $plain = $block->plain_lines;
    if (ref $plain eq 'ARRAY' && defined $plain->[$req_idx]) {
        my $want = $plain->[$req_idx];
        my @lines = read_lines(server_root() . '/logs/plain.log',
                               scalar @$want);
        is(scalar @lines, scalar @$want,
           "$name - " . scalar(@$want) . " lines in plain.log");
        for my $i (0 .. $#$want) {
            like($lines[$i] // '', $want->[$i], "$name - plain line $i");
        }
    }

    my $gz = $block->gzip_lines;
    if (ref $gz eq 'ARRAY' && defined $gz->[$req_idx]) {
        check_gzip($name, $gz->[$req_idx]);
    }

    my $pause = $block->pause_after;
    $pause = $pause->[$req_idx] if ref $pause eq 'ARRAY';
    Time::HiRes::sleep($pause) if $pause;
});

add_block_preprocessor(sub {
    my $block = shift;

    if (defined $block->two_workers) {
        master_on();
        workers(2);
    } else {
        master_off();
        workers(1);
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config",
            "recsys_catalog small $ENV{TEST_NGINX_CONF_DIR}/small.yaml;");
    }

    # the shipped log_format, in every block
    $block->set_value("http_config", "$Include\n" . $block->http_config);

    if (!defined $block->config) {
        $block->set_value("config", $Config);
    }
});

run_tests();

__DATA__

=== TEST 1: a plain location: the common fields, empty recsys fields
--- request
GET /t?a=1
--- response_body
hi
--- timing_count: 1
--- timing_fields
0 time ~ ^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$
0 correlation_id =
0 method = GET
0 uri = /t?a=1
0 status = 200
0 status #
0 client = 127.0.0.1
0 duration_ms #
0 raw ~ "duration_ms":\d+\.\d{3},
0 bytes_sent #
0 bytes_sent ~ ^[1-9]\d+$
0 rate_limit =
0 endpoint =
0 catalog =
0 strategy =
0 k = null
0 returned = null
0 fallback =
0 generation = null
0 stages.parse_ms = null
0 stages.serialize_ms = null
0 raw ~ \A\{.*\}\n\z
--- no_error_log
[error]



=== TEST 2: the time is now, in UTC, with milliseconds
--- request
GET /t
--- timing_count: 1
--- timing_fields
0 time = <now>
--- no_error_log
[error]



=== TEST 3: similar: endpoint, strategy, k, returned, generation, stages
--- request
GET /v1/items/apple/similar?k=3
--- timing_count: 1
--- timing_fields
0 status = 200
0 endpoint = similar
0 catalog = small
0 strategy = similar
0 k = 3
0 k #
0 returned = 3
0 returned #
0 fallback =
0 generation = 1
0 generation #
0 stages.parse_ms #
0 stages.rank_ms #
0 stages.retrieve_ms #
0 stages.serialize_ms #
0 raw ~ "stages":\{"parse_ms":\d+\.\d{3},"rank_ms":\d+\.\d{3},"retrieve_ms":\d+\.\d{3},"serialize_ms":\d+\.\d{3}\}
0 rate_limit =
--- no_error_log
[error]



=== TEST 4: recommendations without history: the popular fallback
--- request eval
["GET /v1/recommendations?k=2", "GET /v1/recommendations?history=salmon&k=1"]
--- timing_count eval
[1, 2]
--- timing_fields
0 endpoint = recommendations
0 strategy = popular
0 fallback = popular
0 returned = 2
1 strategy = history
1 fallback =
1 returned = 1
1 k = 1
--- no_error_log
[error]



=== TEST 5: a refused recsys request: status, no strategy, no generation
--- request eval
["GET /v1/popular?k=0", "GET /v1/items/nosuch/similar"]
--- error_code eval
[400, 404]
--- timing_count eval
[1, 2]
--- timing_fields
0 status = 400
0 endpoint = popular
0 strategy =
0 generation = null
0 returned = 0
0 returned #
0 stages.parse_ms #
1 status = 404
1 endpoint = similar
1 strategy =
1 k = 10
--- no_error_log
[error]



=== TEST 6: the rate-limit outcome of the request
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
recsys_limit_zone $binary_remote_addr zone=ip:1m rate=1r/m;
--- config
    access_log logs/timing.log recsys_timing;

    location = /v1/popular {
        recsys_limit zone=ip;
        recsys popular;
    }
    location = /t {
        return 200 "hi\n";
    }
--- request eval
["GET /v1/popular?k=1", "GET /v1/popular?k=1", "GET /t"]
--- error_code eval
[200, 429, 200]
--- timing_count eval
[1, 2, 3]
--- timing_fields
0 rate_limit = PASSED
0 endpoint = popular
0 returned = 1
1 status = 429
1 rate_limit = REJECTED
1 endpoint =
2 rate_limit =



=== TEST 7: the correlation id is the response's, generated or kept
--- config
    recsys_correlation_id on;
    access_log logs/timing.log recsys_timing;

    location = /t {
        return 200 "$recsys_correlation_id";
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["", "X-Correlation-ID: tl-1"]
--- response_headers_like eval
["X-Correlation-ID: [0-9a-f]{32}", "X-Correlation-ID: tl-1"]
--- timing_count eval
[1, 2]
--- timing_fields
0 correlation_id = <body 0>
0 correlation_id ~ ^[0-9a-f]{32}$
1 correlation_id = tl-1
--- no_error_log
[error]



=== TEST 8: the uri as sent, escaped: quotes, backslash, UTF-8, other bytes
$recsys_request_uri replaces what is not UTF-8 with U+FFFD, so the line
is valid JSON (escape=json alone copies such bytes).
--- raw_request eval
"GET /t?q=%22a\"b\\c\xc3\xa9\xf0\x9f\x98\x80\xff\xc3 HTTP/1.0\r\n\r\n"
--- timing_count: 1
--- timing_fields
0 uri ~ ^/t\?q=%22a"b\\c\x{e9}\x{1f600}\x{fffd}\x{fffd}\z
0 raw ~ "uri":"/t\?q=%22a\\"b\\\\c\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbd"
0 method = GET
--- no_error_log
[error]



=== TEST 9: a request line nginx refuses still makes a valid line
--- raw_request eval
"G\x01T / HTTP/1.0\r\n\r\n"
--- error_code: 400
--- timing_count: 1
--- timing_fields
0 status = 400
0 method =
0 uri =
0 duration_ms #
--- no_error_log
[error]



=== TEST 10: nginx's 404 after an internal redirect is logged once
--- config
    access_log logs/timing.log recsys_timing;
    error_page 404 /404.html;

    location /static/ {
        root html;
    }
--- request
GET /static/nosuch.html
--- error_code: 404
--- timing_count: 1
--- timing_fields
0 status = 404
0 uri = /static/nosuch.html
0 duration_ms #
0 raw ~ "duration_ms":\d+\.\d{3},



=== TEST 11: if= skips the lines whose condition is empty or "0"
--- config
    access_log logs/timing.log recsys_timing if=$arg_log;

    location = /t {
        return 200 "hi\n";
    }
--- request eval
["GET /t?log=1", "GET /t?log=0", "GET /t", "GET /t?log=yes"]
--- timing_count eval
[1, 1, 1, 2]
--- timing_fields
0 uri = /t?log=1
1 uri = /t?log=yes
--- no_error_log
[error]



=== TEST 12: off in a location, on in another
--- config
    access_log logs/timing.log recsys_timing;

    location = /t {
        return 200 "hi\n";
    }
    location = /quiet {
        access_log off;
        return 200 "hi\n";
    }
    location = /other {
        access_log logs/other.log recsys_timing;
        return 200 "hi\n";
    }
--- request eval
["GET /quiet", "GET /t", "GET /other"]
--- timing_count eval
[0, 1, 1]
--- timing_fields
0 uri = /t
--- no_error_log
[error]



=== TEST 13: a location-level log with none at the server level
--- config
    location = /t {
        access_log logs/timing.log recsys_timing;
        return 200 "hi\n";
    }
    location = /u {
        return 200 "hi\n";
    }
--- request eval
["GET /u", "GET /t"]
--- timing_count eval
[0, 1]
--- timing_fields
0 uri = /t
0 raw ~ "duration_ms":\d+\.\d{3},
--- no_error_log
[error]



=== TEST 14: buffer= with flush=: lines wait in memory until the timer
--- config
    access_log logs/timing.log recsys_timing buffer=64k flush=1s;

    location = /t {
        return 200 "hi\n";
    }
--- request eval
["GET /t?n=1", "GET /t?n=2"]
--- timing_count eval
[0, 1]
--- pause_after eval
[1.6]
--- timing_fields
0 uri = /t?n=1
--- no_error_log
[error]



=== TEST 15: a line larger than the buffer is written at once, in order
--- config
    access_log logs/timing.log recsys_timing buffer=1k;

    location = /t {
        return 200 "hi\n";
    }
--- request eval
["GET /t?n=1", "GET /t?pad=" . ("x" x 1200)]
--- timing_count eval
[0, 2]
--- timing_fields
0 uri = /t?n=1
1 uri ~ ^/t\?pad=x{1200}$
--- no_error_log
[error]



=== TEST 16: USR1 reopens the file: the next line goes to a new one
--- request eval
["GET /t?n=1", "GET /t?n=2"]
--- reopen_after: 0
--- timing_count eval
[1, 1]
--- rotated_count: 1
--- timing_fields
0 uri = /t?n=2
--- no_error_log
[error]



=== TEST 17: a reopen flushes the buffer into the old file first
--- config
    access_log logs/timing.log recsys_timing buffer=64k;

    location = /t {
        return 200 "hi\n";
    }
--- request eval
["GET /t?n=1", "GET /t?n=2"]
--- reopen_after: 0
--- timing_count eval
[0, 0]
--- rotated_count: 1
--- no_error_log
[error]



=== TEST 18: buffered lines are written when nginx exits
--- config
    access_log logs/timing.log recsys_timing buffer=64k;

    location = /t {
        return 200 "hi\n";
    }
--- request eval
["GET /t?n=1", "GET /t?n=2"]
--- timing_count eval
[0, 0]
--- quit_count: 2



=== TEST 19: two workers, concurrent clients, long lines: none interleave
--- two_workers
--- request
GET /t
--- clients: 4 100
--- timing_count: 401
--- no_error_log
[error]



=== TEST 20: the same with buffers: only whole lines are written
--- two_workers
--- config
    access_log logs/timing.log recsys_timing buffer=8k flush=100ms;

    location = /t {
        return 200 "hi\n";
    }
--- request
GET /t
--- clients: 4 100
--- timing_count: 401
--- no_error_log
[error]



=== TEST 21: two workers: USR1 to the master reopens in every worker
--- two_workers
--- request eval
["GET /t?n=1", "GET /t?n=2", "GET /t?n=3", "GET /t?n=4"]
--- reopen_after: 1
--- timing_count eval
[1, 2, 1, 2]
--- rotated_count: 2
--- no_error_log
[error]



=== TEST 22: gzip= comes with access_log: the file is gzip members
--- config
    access_log logs/timing.log.gz recsys_timing gzip flush=100ms;

    location = /t {
        return 200 "hi\n";
    }
--- request eval
["GET /t?n=1", "GET /t?n=2", "GET /t?n=3"]
--- pause_after eval
[0.5, 0.5]
--- gzip_lines eval
[undef, ["/t?n=1"], ["/t?n=1", "/t?n=2"]]
--- no_error_log
[error]



=== TEST 23: the variables in a plain text format: "-" when absent
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
log_format plain '$recsys_endpoint|$recsys_catalog|$recsys_strategy|'
                 '$recsys_k|$recsys_returned|$recsys_fallback|'
                 '$recsys_generation|$recsys_parse_ms|$recsys_rank_ms|'
                 '$recsys_retrieve_ms|$recsys_serialize_ms|'
                 '$recsys_duration_ms|$recsys_request_uri';
--- config
    access_log logs/plain.log plain;

    location = /t {
        return 200 "hi\n";
    }
    location = /v1/recommendations {
        recsys recommendations;
    }
--- request eval
["GET /t", "GET /v1/recommendations?k=2"]
--- plain_lines eval
[[qr/^-\|-\|-\|-\|-\|-\|-\|-\|-\|-\|-\|\d+\.\d{3}\|\/t$/],
 [qr/^-\|-\|-\|-\|-\|-\|-\|-\|-\|-\|-\|\d+\.\d{3}\|\/t$/,
  qr/^recommendations\|small\|popular\|2\|2\|popular\|1\|\d+\.\d{3}\|\d+\.\d{3}\|\d+\.\d{3}\|\d+\.\d{3}\|\d+\.\d{3}\|\/v1\/recommendations\?k=2$/]]
--- no_error_log
[error]



=== TEST 24: the variables outside any log: in a response body
--- config
    location = /t {
        return 200 "[$recsys_endpoint][$recsys_k][$recsys_time]\n";
    }
--- request
GET /t
--- response_body_like
^\[\]\[\]\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\]$
--- no_error_log
[error]
