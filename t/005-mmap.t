# With four workers every worker maps the generation's files read-only and
# shared (r--s in /proc/PID/maps), and OpenMP starts no threads in them:
# a worker runs its event loop and the threads of its thread pool
# ("--- maps: N" of them), nothing else.

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use RecsysProc;
use Time::HiRes qw(sleep);

repeat_each(1);
no_shuffle();
master_on();
workers(4);
plan('no_plan');

sub shared_maps {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/maps" or return {};
    my %files;
    while (my $line = <$fh>) {
        my ($perms, $path) = (split ' ', $line, 6)[1, 5];
        next unless defined $path;
        $path =~ s/\s+$//;
        if ($path =~ m{/generations/\d+/(items\.bin|vectors\.f32|index\.faiss)$})
        {
            $files{$1} = $perms;
        }
    }
    return \%files;
}

# "--- hup": after the first response, reload nginx with SIGHUP and wait
# until a new set of workers has replaced the old one
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run || !defined $block->hup || $req_idx != 0;

    hup_workers(4);
});

add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run || !defined $block->maps;

    my (@pids, %maps);

    # workers map the index in init_process; give all four time to start
    for (1 .. 50) {
        @pids = worker_pids();
        %maps = map { $_ => shared_maps($_) } @pids;
        last if @pids == 4 && !grep { keys %{ $maps{$_} } < 3 } @pids;
        sleep 0.1;
    }

    is(scalar @pids, 4, "four workers");

    for my $pid (@pids) {
        for my $f (qw(items.bin vectors.f32 index.faiss)) {
            is($maps{$pid}{$f}, 'r--s', "worker $pid maps $f r--s");
        }

        my ($pool) = ($block->maps // '') =~ /(\d+)/;
        $pool //= 0;
        open my $st, '<', "/proc/$pid/status" or next;
        my ($threads) = join('', <$st>) =~ /^Threads:\s+(\d+)/m;
        is($threads, 1 + $pool,
           "worker $pid runs one thread and the $pool of its pool");
    }
});

run_tests();

__DATA__

=== TEST 1: every worker maps the demo generation read-only and shared
--- main_config
thread_pool recsys threads=2;
--- http_config
recsys_catalog demo $TEST_NGINX_CONF_DIR/demo.yaml;
recsys_thread_pool recsys;
--- config
location ~ ^/v1/items/(?<item>[^/]+)/similar$ {
    recsys similar;
    recsys_item_id $item;
}
--- maps: 2
--- request
GET /v1/items/coffee-0001/similar?k=5
--- error_code: 200
--- response_body_like chomp
"category":"coffee"
--- no_error_log
[error]



=== TEST 2: a reload (SIGHUP) keeps serving: the new workers map the index
--- http_config
recsys_catalog demo $TEST_NGINX_CONF_DIR/demo.yaml;
--- config
location = /v1/popular {
    recsys popular;
}
--- hup
--- request eval
["GET /v1/popular?k=3", "GET /v1/popular?k=3"]
--- error_code eval
[200, 200]
--- response_body_like eval
['"count":3', '"count":3']
--- no_error_log
[error]
[alert]



=== TEST 3: without a thread pool a worker runs one thread
--- http_config
recsys_catalog demo $TEST_NGINX_CONF_DIR/demo.yaml;
recsys_thread_pool off;
--- config
location ~ ^/v1/items/(?<item>[^/]+)/similar$ {
    recsys similar;
    recsys_item_id $item;
}
--- maps: 0
--- request
GET /v1/items/coffee-0001/similar?k=5
--- error_code: 200
--- response_body_like chomp
"category":"coffee"
--- no_error_log
[error]
