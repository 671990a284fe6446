# With four workers every worker maps the generation's files read-only and
# shared (r--s in /proc/PID/maps), and OpenMP starts no threads in them.

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use Time::HiRes qw(sleep);

repeat_each(1);
no_shuffle();
master_on();
workers(4);
plan('no_plan');

sub worker_pids {
    my $root = $ENV{TEST_NGINX_SERVROOT} || 't/servroot';
    open my $fh, '<', "$root/logs/nginx.pid" or return ();
    chomp(my $master = <$fh>);
    my @pids;
    for my $stat (glob "/proc/[0-9]*/stat") {
        open my $s, '<', $stat or next;
        my $line = <$s> // next;
        # pid (comm) state ppid ...
        my ($pid, $ppid) = $line =~ /^(\d+) \(.*\) \S+ (\d+)/ or next;
        next unless $ppid == $master;
        open my $c, '<', "/proc/$pid/cmdline" or next;
        my $cmd = <$c> // '';
        push @pids, $pid if $cmd =~ /worker process/;
    }
    return @pids;
}

sub shared_maps {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/maps" or return {};
    my %files;
    while (<$fh>) {
        my ($perms, $path) = (split ' ', $_, 6)[1, 5];
        next unless defined $path;
        $path =~ s/\s+$//;
        if ($path =~ m{/generations/\d+/(items\.bin|vectors\.f32|index\.faiss)$})
        {
            $files{$1} = $perms;
        }
    }
    return \%files;
}

add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run;

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

        open my $st, '<', "/proc/$pid/status" or next;
        my ($threads) = join('', <$st>) =~ /^Threads:\s+(\d+)/m;
        is($threads, 1, "worker $pid runs one thread");
    }
});

run_tests();

__DATA__

=== TEST 1: every worker maps the demo generation read-only and shared
--- http_config
recsys_catalog demo $TEST_NGINX_CONF_DIR/demo.yaml;
--- config
location ~ ^/v1/items/(?<item>[^/]+)/similar$ {
    recsys similar;
    recsys_item_id $item;
}
--- request
GET /v1/items/coffee-0001/similar?k=5
--- error_code: 200
--- response_body_like
"category":"coffee"
--- no_error_log
[error]
