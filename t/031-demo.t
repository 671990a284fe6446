# make run's scripts/run-demo.sh: one directory per PORT, no new
# generation when the items did not change, logs emptied at start and
# moved aside past RECSYS_DEMO_LOG_MAX while nginx runs; and make run
# installs the run packages only.  Real nginx, real recsys-build.

use strict;
use warnings;
use Test::More;
use FindBin;
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $root  = "$FindBin::Bin/..";
my $build = $ENV{TEST_NGINX_BUILD_DIR} // "$root/build";
my $nginx = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
my $port1 = $ENV{TEST_NGINX_PORT} // 1984;
my $port2 = $port1 + 1;
my $base  = "$build/t/run-demo";
my $cap   = 20000;

remove_tree($base);
make_path($base);

# GET on the demo; returns (status, body)
sub get {
    my ($port, $uri) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 5) or return (0, '');
    print $s "GET $uri HTTP/1.0\r\nHost: localhost\r\n\r\n";
    local $/;
    my $r = <$s> // '';
    my ($st) = $r =~ m{^HTTP/1\.\d (\d+)};
    my ($body) = $r =~ m{\r\n\r\n(.*)\z}s;
    return ($st // 0, $body // '');
}

# starts the demo on $port; returns (pid, log file of its output)
sub start_demo {
    my ($port) = @_;
    my $out = "$base/out-$port-" . int(time * 1000);
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', $out or die;
        open STDERR, '>&', \*STDOUT or die;
        $ENV{PORT} = $port;
        $ENV{NGINX_BIN} = $nginx;
        $ENV{RECSYS_BUILD} = $build;
        $ENV{RECSYS_DEMO_BASE} = $base;
        $ENV{RECSYS_DEMO_LOG_MAX} = $cap;
        exec "$root/scripts/run-demo.sh" or die "exec: $!";
    }
    my $t0 = time;
    while (time - $t0 < 60) {
        my ($st) = get($port, '/health/ready');
        return ($pid, $out) if $st == 200;
        last if waitpid($pid, WNOHANG) == $pid;
        sleep 0.2;
    }
    diag(`cat $out`);
    die "demo on port $port did not get ready";
}

sub stop_demo {
    my ($pid) = @_;
    kill 'QUIT', $pid;
    my $t0 = time;
    while (time - $t0 < 20) {
        return 1 if waitpid($pid, WNOHANG) == $pid;
        sleep 0.1;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return 0;
}

sub slurp { my $f = shift; open my $h, '<', $f or return ''; local $/; <$h> }

# the directory of a port: build/t/run-demo/PORT, or /tmp/recsys-demo-PORT
# when root's workers cannot read the checkout (the script says which)
sub demo_dir {
    my ($port, $out) = @_;
    my ($d) = slurp($out) =~ m{Timing log[^:]*: (\S+)/timing\.log};
    return $d;
}

my ($pid1, $out1) = start_demo($port1);
my $dir1 = demo_dir($port1, $out1);
ok($dir1 && $dir1 =~ m{/$port1$}, "port $port1 has its own directory")
    or diag(slurp($out1));
my $gen1 = readlink("$dir1/index/current");
ok($gen1, "first start publishes a generation ($gen1)");

my ($pid2, $out2) = start_demo($port2);
my $dir2 = demo_dir($port2, $out2);
isnt($dir2, $dir1, 'a second PORT gets a second directory');
for my $f (qw(nginx.pid nginx.conf index/current items.jsonl)) {
    ok(-e "$dir1/$f" && -e "$dir2/$f", "each directory has its $f");
}
is(slurp("$dir1/nginx.pid") + 0, $pid1, "${port1}'s pid file is its nginx");
is(slurp("$dir2/nginx.pid") + 0, $pid2, "${port2}'s pid file is its nginx");
like(slurp("$dir2/nginx.conf"), qr/listen 127\.0\.0\.1:$port2;/,
     "${port2}'s nginx.conf listens on $port2");
my ($st) = get($port1, '/v1/popular?k=1');
is($st, 200, "$port1 still answers after $port2 started");
ok(stop_demo($pid2), "demo on $port2 stops on QUIT");

# the cap: well over $cap bytes of access log; the check runs every 5 s
for (1 .. 300) { get($port1, "/v1/popular?k=1&pad=" . ('x' x 50)) }
my $t0 = time;
# moved, then USR1: nginx makes a new access.log when it reopens
sleep 0.2 until -e "$dir1/access.log.1" && -e "$dir1/access.log"
                || time - $t0 > 15;
ok(-s "$dir1/access.log.1" > $cap,
   'a log past RECSYS_DEMO_LOG_MAX is moved to .1');
get($port1, '/v1/popular?k=1&after=rotation');
sleep 0.3;
like(slurp("$dir1/access.log"), qr/after=rotation/,
     'nginx reopened and writes the fresh log');
ok(-s "$dir1/access.log" < $cap, 'the fresh log is under the cap');
ok(stop_demo($pid1), "demo on $port1 stops on QUIT");

# a restart with the same items: same generation, empty logs
my $before = -s "$dir1/access.log";
($pid1, $out1) = start_demo($port1);
like(slurp($out1), qr/items unchanged, serving \Q$gen1\E/,
     'a restart says the items are unchanged');
is(readlink("$dir1/index/current"), $gen1,
   'and publishes no new generation');
my @gens = grep { !/^\./ } map { s{.*/}{}r } glob("$dir1/index/generations/*");
is(scalar @gens, 1, 'one generation on disk after two starts');
is(-s "$dir1/access.log.1", $before, "the last run's log is kept as .1");
ok(!-s "$dir1/access.log" || slurp("$dir1/access.log") !~ /after=rotation/,
   'the new run starts with an empty access log');
ok(stop_demo($pid1), 'restarted demo stops');

# a stamp that differs (changed items, catalog or recsys-build) rebuilds
open my $fh, '>', "$dir1/index.stamp" or die;
print $fh "stale\n";
close $fh;
($pid1, $out1) = start_demo($port1);
isnt(readlink("$dir1/index/current"), $gen1,
     'a stale stamp publishes a new generation');
ok(stop_demo($pid1), 'demo stops');

# make run installs the run group only; make test the test group too
my $run = `cd $root && make -n run 2>&1`;
like($run, qr{scripts/deps\.sh run}, 'make run calls deps.sh run');
unlike($run, qr{deps\.sh test}, 'make run does not call deps.sh test');
like(`cd $root && make -n test 2>&1`, qr{scripts/deps\.sh test},
     'make test calls deps.sh test');
my %run = map { $_ => 1 } split /\n/, `$root/scripts/deps.sh --list run`;
for my $p (qw(postgresql valgrind prometheus libcmocka-dev wrk)) {
    ok(!$run{$p}, "$p is not a run package");
}
my %test = map { $_ => 1 } split /\n/, `$root/scripts/deps.sh --list test`;
ok($test{$_}, "$_ is a test package") for keys %run;

remove_tree($base) if Test::More->builder->is_passing;
done_testing();
