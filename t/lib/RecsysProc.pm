package RecsysProc;

# The processes of the nginx under test, found from its pid file and
# /proc; shared by the suites and RecsysHelper:
#
#   master_pid()              the master's pid, or 0
#   worker_pids()             the master's worker processes
#   helper_pids()             its helper ("cache manager process")
#   wait_new_workers(\%old, N)  wait (5 s at most) until N workers run
#                             and none of %old's pids is one; returns
#                             how many new ones there were
#   hup_workers(N, LABEL)     SIGHUP the master and wait as above, a
#                             test for each ("LABEL - ..." when given)

use strict;
use warnings;
use Exporter 'import';
use Test::More;
use Time::HiRes qw(sleep);

our @EXPORT = qw(master_pid worker_pids helper_pids wait_new_workers
                 hup_workers);

sub master_pid {
    my $root = $ENV{TEST_NGINX_SERVROOT} || 't/servroot';
    open my $fh, '<', "$root/logs/nginx.pid" or return 0;
    my $pid = <$fh> // '';
    return $pid =~ /(\d+)/ ? $1 : 0;
}

sub children_like {
    my ($re) = @_;
    my $master = master_pid() or return ();
    my @pids;
    for my $stat (glob "/proc/[0-9]*/stat") {
        open my $s, '<', $stat or next;
        my $line = <$s> // next;
        # pid (comm) state ppid ...
        my ($pid, $ppid) = $line =~ /^(\d+) \(.*\) \S+ (\d+)/ or next;
        next unless $ppid == $master;
        open my $c, '<', "/proc/$pid/cmdline" or next;
        my $cmd = <$c> // '';
        push @pids, $pid if $cmd =~ $re;
    }
    return @pids;
}

sub worker_pids { return children_like(qr/worker process/) }

sub helper_pids { return children_like(qr/cache manager process/) }

sub wait_new_workers {
    my ($old, $n) = @_;
    my @new;
    for (1 .. 50) {
        @new = grep { !$old->{$_} } worker_pids();
        last if @new == $n && !grep { $old->{$_} } worker_pids();
        sleep 0.1;
    }
    return scalar @new;
}

sub hup_workers {
    my ($n, $label) = @_;
    my $p = defined $label ? "$label - " : '';
    my %old = map { $_ => 1 } worker_pids();
    ok(kill('HUP', master_pid()), "${p}SIGHUP sent to the master");
    is(wait_new_workers(\%old, $n), $n, "${p}$n new workers after the reload");
}

1;
