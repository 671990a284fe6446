# Prometheus metrics: the output passes "promtool check metrics", and the
# counters move by exactly the requests made, across workers too.
#
#   --- metrics         lines "series value": exact values in the scrape;
#                       for counters (_total, _count, _sum, _bucket) what
#                       they grew by since the block started (a scrape
#                       taken before its first request), so that blocks
#                       pass with one nginx reloaded between them
#                       (TEST_NGINX_USE_HUP=1), whose shared memory keeps
#                       the counts of earlier blocks; gauges as they are
#   --- metrics_absent  lines "series": must not be in the scrape
#   --- histograms      names of histograms whose series are checked:
#                       cumulative buckets, +Inf equal to _count
#   --- index_gauges    catalog: the recsys_index_* gauges agree with the
#                       manifest of its served generation
#   --- hup_after_0     (with two_workers) reload with SIGHUP after request
#                       0 and wait for the new workers
#
# The scrape is the response whose body starts with "# HELP".

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use RecsysProc;
use RecsysChecks;
use File::Temp qw(tempfile);
use IPC::Open3;
use IO::Socket::INET;
use JSON::PP;
use Symbol qw(gensym);
use Time::HiRes qw(sleep);

repeat_each(1);
no_shuffle();
plan('no_plan');

our $Locations = <<'_EOC_';
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
    location = /metrics {
        recsys_metrics;
    }
_EOC_

# the scrape each block starts from, by block number (the name of a block
# gets the file's name in front once its tests run)
our %Before;

sub block_key {
    my ($key) = $_[0] =~ /(TEST \d+):/;
    return $key // $_[0];
}

sub scrape {
    my $port = server_port();
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or return undef;
    print $s "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
    my $resp = do { local $/; <$s> } // '';
    close $s;
    my ($body) = $resp =~ m{^HTTP/1\.[01] 200 .*?\r\n\r\n(.*)\z}s
        or return undef;
    return parse_metrics($body);
}

sub counter {
    return $_[0] =~ /_(?:total|count|sum|bucket)(?:\{|$)/;
}

add_block_preprocessor(sub {
    my $block = shift;

    # no baseline for a block whose nginx must not start
    if (defined $block->metrics && !defined $block->must_die) {
        $block->set_value("init",
            'main::take_baseline(q{' . $block->name . '})');
    }

    RecsysChecks::block_defaults($block, $Locations);

    # the block that counts across workers runs with a master and two
    RecsysChecks::worker_mode($block);
});

sub take_baseline {
    my $name = shift;
    $Before{block_key($name)} = scrape() // {};
}

sub parse_metrics {
    my ($text) = @_;
    my %m;
    for my $line (split /\n/, $text) {
        next if $line =~ /^#/ || $line !~ /\S/;
        my ($series, $value) = $line =~ /^(\S+(?:\{.*\})?) (\S+)$/
            or next;
        $m{$series} = $value;
    }
    return \%m;
}

sub promtool {
    my ($text) = @_;
    my ($fh, $file) = tempfile(UNLINK => 1);
    print $fh $text;
    close $fh;

    my ($out, $err) = (undef, gensym);
    open my $in, '<', $file or die "$file: $!";
    my $pid = eval { open3('<&' . fileno($in), $out, $err,
                           'promtool', 'check', 'metrics') };
    return (-1, "cannot run promtool (Debian package prometheus): $@")
        unless $pid;

    local $/;
    my $output = (<$out> // '') . (<$err> // '');
    waitpid($pid, 0);
    return ($? >> 8, $output);
}

sub manifest {
    my ($catalog) = @_;
    my $file = "$ENV{TEST_NGINX_DATA_DIR}/$catalog/current/manifest.json";
    open my $fh, '<', $file or return;
    local $/;
    return decode_json(<$fh>);
}

add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run || !defined $block->hup_after_0 || $req_idx != 0;

    hup_workers(2);
});

add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run || $body !~ /^# HELP /;

    my $name = $block->name;

    my ($rc, $out) = promtool($body);
    is($rc, 0, "$name - promtool check metrics exits 0");
    is($out, '', "$name - promtool has no complaint");

    my $m = parse_metrics($body);

    my $before = $Before{block_key($name)} // {};

    for my $line (grep { /\S/ } split /\n/, $block->metrics // '') {
        my ($series, $want) = $line =~ /^\s*(\S+(?:\{.*\})?)\s+(\S+)\s*$/;
        if (counter($series) && defined $m->{$series}) {
            is($m->{$series} - ($before->{$series} // 0), $want,
               "$name - $series grew by $want");
        } else {
            is($m->{$series}, $want, "$name - $series");
        }
    }

    for my $series (grep { /\S/ } split /\s*\n\s*/,
                    $block->metrics_absent // '')
    {
        $series =~ s/^\s+//;
        ok(!exists $m->{$series}, "$name - no $series");
    }

    for my $hist (split ' ', $block->histograms // '') {
        my %groups;
        for my $line (split /\n/, $body) {
            my ($labels, $le, $v) =
                $line =~ /^\Q$hist\E_bucket\{(.*),le="([^"]+)"\} (\d+)$/
                or next;
            push @{ $groups{$labels} }, [$le, $v];
        }

        ok(scalar keys %groups, "$name - $hist has series");

        for my $labels (sort keys %groups) {
            my @b = @{ $groups{$labels} };
            my @sorted = sort { $a <=> $b } map { $_->[1] } @b;
            is(join(' ', map { $_->[1] } @b), join(' ', @sorted),
               "$name - $hist\{$labels\} buckets are cumulative");
            is($b[-1][0], '+Inf', "$name - $hist\{$labels\} ends at +Inf");
            is($m->{"${hist}_count{$labels}"}, $b[-1][1],
               "$name - $hist\{$labels\} _count is the +Inf bucket");
            ok(defined $m->{"${hist}_sum{$labels}"},
               "$name - $hist\{$labels\} has _sum");
        }
    }

    if (defined $block->index_gauges) {
        (my $c = $block->index_gauges) =~ s/^\s+|\s+$//g;
        my $man = manifest($c);
        ok($man, "$name - manifest of $c") or return;

        my $size = 0;
        $size += $_->{size} for values %{ $man->{files} };

        is($m->{"recsys_index_generation{catalog=\"$c\"}"},
           $man->{generation}, "$name - generation");
        is($m->{"recsys_index_items{catalog=\"$c\"}"}, $man->{items},
           "$name - items");
        is($m->{"recsys_index_size_bytes{catalog=\"$c\"}"}, $size,
           "$name - size");

        my ($y, $mo, $d, $h, $mi, $s) =
            $man->{built_at} =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)Z$/;
        require Time::Local;
        my $built = Time::Local::timegm($s, $mi, $h, $d, $mo - 1, $y);
        my $age = $m->{"recsys_index_age_seconds{catalog=\"$c\"}"};
        ok(defined $age && $age >= 0 && $age <= time() - $built + 1,
           "$name - age $age matches built_at $man->{built_at}");
    }
});

run_tests();

__DATA__

=== TEST 1: counters move by exactly the requests made
--- request eval
["GET /v1/items/apple/similar?k=3", "GET /v1/items/pear/similar?k=3",
 "GET /v1/items/plum/similar?k=3",
 "GET /v1/popular?k=0", "GET /v1/popular?k=0",
 "GET /v1/items/nosuch/similar",
 "GET /metrics"]
--- error_code eval
[200, 200, 200, 400, 400, 404, 200]
--- metrics
recsys_requests_total{catalog="small",endpoint="similar",code="2xx"} 3
recsys_requests_total{catalog="small",endpoint="similar",code="4xx"} 1
recsys_requests_total{catalog="small",endpoint="similar",code="5xx"} 0
recsys_requests_total{catalog="small",endpoint="popular",code="2xx"} 0
recsys_requests_total{catalog="small",endpoint="popular",code="4xx"} 2
recsys_requests_total{catalog="small",endpoint="recommendations",code="2xx"} 0
recsys_request_duration_seconds_count{catalog="small",endpoint="similar"} 4
recsys_request_duration_seconds_count{catalog="small",endpoint="popular"} 2
recsys_request_duration_seconds_count{catalog="small",endpoint="search"} 0
recsys_search_duration_seconds_count{catalog="small",strategy="similar"} 3
recsys_search_duration_seconds_count{catalog="small",strategy="popular"} 0
recsys_items_returned_total{catalog="small",endpoint="similar"} 9
recsys_items_returned_total{catalog="small",endpoint="popular"} 0
recsys_zero_results_total{catalog="small",endpoint="similar"} 0
recsys_fallbacks_total{catalog="small",level="popular"} 0
recsys_index_ready{catalog="small"} 1
recsys_rebuilds_total{catalog="small",result="success"} 0
recsys_rebuilds_total{catalog="small",result="failure"} 0
recsys_rebuild_duration_seconds_count{catalog="small"} 0
recsys_prune_failures_total{catalog="small"} 0
recsys_build_info{version="0.1.0",nginx="1.22.1",faiss="1.7.3"} 1
--- metrics_absent
recsys_requests_total{catalog="small",endpoint="similar",code="1xx"}
recsys_requests_total{catalog="small",endpoint="similar",code="3xx"}
--- histograms
recsys_request_duration_seconds recsys_search_duration_seconds
recsys_rebuild_duration_seconds
--- index_gauges: small
--- no_error_log
[error]



=== TEST 2: items, zero results and fallbacks
--- request eval
["GET /v1/recommendations?history=nosuch&k=2",
 "GET /v1/recommendations?history=salmon&k=2",
 "GET /v1/items/apple/similar?category=nosuch",
 "GET /v1/popular?k=4",
 "GET /metrics"]
--- error_code eval
[200, 200, 200, 200, 200]
--- metrics
recsys_fallbacks_total{catalog="small",level="popular"} 1
recsys_items_returned_total{catalog="small",endpoint="recommendations"} 4
recsys_items_returned_total{catalog="small",endpoint="similar"} 0
recsys_items_returned_total{catalog="small",endpoint="popular"} 4
recsys_zero_results_total{catalog="small",endpoint="similar"} 1
recsys_zero_results_total{catalog="small",endpoint="recommendations"} 0
recsys_search_duration_seconds_count{catalog="small",strategy="popular"} 2
recsys_search_duration_seconds_count{catalog="small",strategy="history"} 1
recsys_search_duration_seconds_count{catalog="small",strategy="similar"} 1
recsys_requests_total{catalog="small",endpoint="recommendations",code="2xx"} 2
--- histograms
recsys_search_duration_seconds
--- no_error_log
[error]



=== TEST 3: two catalogs, one without an index; names escaped as labels
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
recsys_catalog "em\"pty\\x" $TEST_NGINX_CONF_DIR/empty.yaml;
--- config
location = /small { recsys popular small; }
location = /empty { recsys popular "em\"pty\\x"; }
location = /metrics { recsys_metrics; }
--- request eval
["GET /empty", "GET /empty", "GET /small?k=1", "GET /metrics"]
--- error_code eval
[503, 503, 200, 200]
--- metrics
recsys_requests_total{catalog="em\"pty\\x",endpoint="popular",code="5xx"} 2
recsys_requests_total{catalog="em\"pty\\x",endpoint="popular",code="2xx"} 0
recsys_requests_total{catalog="small",endpoint="popular",code="2xx"} 1
recsys_requests_total{catalog="small",endpoint="popular",code="5xx"} 0
recsys_index_ready{catalog="em\"pty\\x"} 0
recsys_index_ready{catalog="small"} 1
recsys_index_generation{catalog="small"} 1
recsys_search_duration_seconds_count{catalog="em\"pty\\x",strategy="popular"} 0
--- metrics_absent
recsys_index_generation{catalog="em\"pty\\x"}
recsys_index_items{catalog="em\"pty\\x"}
recsys_index_age_seconds{catalog="em\"pty\\x"}
--- histograms
recsys_request_duration_seconds
--- no_error_log
[error]



=== TEST 4: counters add up across two workers
--- two_workers
--- request eval
[("GET /v1/popular?k=1") x 12, ("GET /v1/popular?k=0") x 5,
 "GET /metrics", "GET /metrics"]
--- error_code eval
[(200) x 12, (400) x 5, 200, 200]
--- metrics
recsys_requests_total{catalog="small",endpoint="popular",code="2xx"} 12
recsys_requests_total{catalog="small",endpoint="popular",code="4xx"} 5
recsys_request_duration_seconds_count{catalog="small",endpoint="popular"} 17
recsys_search_duration_seconds_count{catalog="small",strategy="popular"} 12
recsys_items_returned_total{catalog="small",endpoint="popular"} 12
recsys_index_ready{catalog="small"} 1
--- index_gauges: small
--- no_error_log
[error]



=== TEST 5: rate-limit zones: rejected and dry-run counts by zone
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
recsys_limit_zone $binary_remote_addr zone=ip:1m rate=1r/m burst=2;
recsys_limit_zone $binary_remote_addr zone=dry:64k rate=1r/m;
--- config
location = /v1/popular {
    recsys popular;
    recsys_limit zone=ip;
    recsys_limit zone=dry dry_run;
}
location = /metrics { recsys_metrics; }
--- request eval
[("GET /v1/popular?k=1") x 5, "GET /metrics"]
--- error_code eval
[200, 200, 200, 429, 429, 200]
--- metrics
recsys_rate_limited_total{zone="ip"} 2
recsys_rate_limited_total{zone="dry"} 0
recsys_rate_limit_dry_run_total{zone="ip"} 0
recsys_rate_limit_dry_run_total{zone="dry"} 4
recsys_rate_limit_passed_total{zone="ip"} 3
recsys_rate_limit_passed_total{zone="dry"} 1
recsys_rate_limit_zone_full_total{zone="ip"} 0
recsys_rate_limit_entries{zone="ip"} 1
recsys_rate_limit_zone_size_bytes{zone="ip"} 1048576
recsys_rate_limit_zone_size_bytes{zone="dry"} 65536
recsys_requests_total{catalog="small",endpoint="popular",code="2xx"} 3
recsys_requests_total{catalog="small",endpoint="popular",code="4xx"} 0
--- no_error_log
[alert]
[crit]



=== TEST 6: counters survive a reload (HUP)
--- two_workers
--- hup_after_0
--- request eval
["GET /v1/popular?k=1", "GET /v1/popular?k=2", "GET /v1/popular?k=0",
 "GET /metrics"]
--- error_code eval
[200, 200, 400, 200]
--- metrics
recsys_requests_total{catalog="small",endpoint="popular",code="2xx"} 2
recsys_requests_total{catalog="small",endpoint="popular",code="4xx"} 1
recsys_items_returned_total{catalog="small",endpoint="popular"} 3
recsys_request_duration_seconds_count{catalog="small",endpoint="popular"} 3
--- no_error_log
[error]



=== TEST 7: HEAD has the headers only; other methods are refused
--- request eval
["HEAD /metrics", "POST /metrics", "DELETE /metrics"]
--- error_code eval
[200, 405, 405]
--- response_headers_like eval
["Content-Type: text/plain; version=0.0.4; charset=utf-8",
 "Allow: GET, HEAD", "Allow: GET, HEAD"]
--- response_body_like eval
['^$', '405 Not Allowed', '405 Not Allowed']
--- no_error_log
[error]



=== TEST 8: without catalogs the build info is still there
--- http_config
--- config
location = /metrics { recsys_metrics; }
--- request
GET /metrics
--- error_code: 200
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
--- metrics
recsys_build_info{version="0.1.0",nginx="1.22.1",faiss="1.7.3"} 1
--- no_error_log
[error]



=== TEST 9: requests outside recsys locations are not counted
--- config
location = /v1/popular { recsys popular; }
location = /static { return 200 "ok\n"; }
location = /gone { return 404; }
location = /metrics { recsys_metrics; }
--- request eval
["GET /static", "GET /static", "GET /gone", "GET /v1/popular?k=2",
 "GET /metrics"]
--- error_code eval
[200, 200, 404, 200, 200]
--- metrics
recsys_requests_total{catalog="small",endpoint="popular",code="2xx"} 1
recsys_requests_total{catalog="small",endpoint="popular",code="4xx"} 0
recsys_request_duration_seconds_count{catalog="small",endpoint="popular"} 1
--- no_error_log
[error]



=== TEST 10: recsys_metrics_zone_size
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
recsys_metrics_zone_size 64k;
--- request eval
["GET /v1/popular?k=1", "GET /metrics"]
--- metrics
recsys_requests_total{catalog="small",endpoint="popular",code="2xx"} 1
--- no_error_log
[error]



=== TEST 11: a zone size under 8 pages is refused
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/small.yaml;
recsys_metrics_zone_size 4k;
--- must_die
--- error_log
"recsys_metrics_zone_size" directive must be at least 8 memory pages



=== TEST 12: recsys_metrics takes no argument
--- config
location = /metrics { recsys_metrics on; }
--- must_die
--- error_log
invalid number of arguments in "recsys_metrics" directive
