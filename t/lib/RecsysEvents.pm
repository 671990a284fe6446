package RecsysEvents;

# Sections for the events suites, run by either Test::Nginx runner through
# add_response_body_check, after request N of a block:
#
#   --- events_shipped: N:C    poll GET /admin/index/status until C events
#                              are spooled and the spool is empty, then
#                              C are shipped (unless the block kills the
#                              helper: a commit it died right after is in
#                              the store but not in the counter)
#   --- file_events: N:C       the catalog's events.jsonl has C lines, no
#                              two with the same "item"
#   --- pg_events: N:T:C       table T has C rows, no two with the same
#                              item_id
#   --- kill_mid_ship: N       once some events of the spool are shipped
#                              and some are not, kill -9 the helper
#                              ("nginx: cache manager process")
#   --- wait_failing: N        poll until the status says shipping fails,
#                              then 1.5 s (the helper logs it within 1 s)
#   --- kill_workers: N        kill -9 every worker (their segments are
#                              open); the master starts new ones
#
# After RecsysHelper::sections (--- catalog, --- locations), a block with
# one YAML file <name>.yaml and no http_config, config or more_headers
# gets the usual ones: "recsys_catalog <name>", the
# locations /v1/events and /admin/index/status, a JSON Content-Type.
#
# The catalog is the one named in the status answer; its index directory
# is $TEST_NGINX_DATA_DIR/<name>.  Index directories e<N> of earlier runs
# are removed when the suite starts (clean()).

use strict;
use warnings;
use File::Path qw(remove_tree);
use Test::More;
use Time::HiRes qw(sleep time);

use RecsysHelper;
use RecsysProc qw(worker_pids);

my $Timeout = 120;

our $Json = 'Content-Type: application/json';

our $Config = <<'END';
location = /v1/events { recsys_events; }
location = /admin/index/status { recsys_admin status; }
END

sub import {
    main::add_response_body_check(\&check);
    main::add_block_preprocessor(sub {
        RecsysHelper::sections($_[0]);
        defaults($_[0]);
    });
}

sub defaults {
    my ($block) = @_;
    my @names = ($block->user_files // '') =~ /^>>> (\S+)\.yaml$/mg;
    return if @names != 1;
    $block->set_value(http_config =>
                      "recsys_catalog $names[0] ../html/$names[0].yaml;\n")
        unless defined $block->http_config;
    $block->set_value(config => $Config) unless defined $block->config;
    $block->set_value(more_headers => $Json)
        unless defined $block->more_headers;
}

# n requests of k events each, items "<tag><request>-<event>", distinct
sub batches {
    my ($tag, $n, $k) = @_;
    return [map {
        my $r = $_;
        "POST /v1/events\n{\"events\":["
        . join(',', map { "{\"user\":\"u$_\",\"item\":\"$tag$r-$_\","
                          . "\"type\":\"view\"}" } 1 .. $k)
        . ']}'
    } 1 .. $n];
}

sub clean {
    my $dir = RecsysHelper::data_dir();
    remove_tree($_) for glob "$dir/e[0-9]*";
}

# lines, and lines whose item was seen before
sub count_items {
    my ($items) = @_;
    my (%seen, $dups);
    $dups = 0;
    for my $item (@$items) {
        $dups++ if $seen{$item}++;
    }
    return (scalar @$items, $dups);
}

sub file_items {
    my ($name) = @_;
    my $path = RecsysHelper::data_dir() . "/$name/events.jsonl";
    open my $fh, '<', $path or return [];
    my @items;
    while (my $line = <$fh>) {
        push @items, $line =~ /"item":"([^"]*)"/ ? $1 : '';
    }
    return \@items;
}

sub pg_items {
    my ($table) = @_;
    my @items = `psql -X -A -t -c 'SELECT item_id FROM $table' \\
                 '$ENV{RECSYS_DATABASE_URL}'`;
    chomp @items;
    return \@items;
}

sub check {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run;
    my $name = $block->name;

    if (defined $block->wait_failing && $block->wait_failing == $req_idx) {
        ok(RecsysHelper::wait_until(sub {
               $_[0]{events}{shipping} eq 'failing';
           }), "$name - shipping fails");
        sleep 1.5;
    }

    if (defined $block->kill_workers && $block->kill_workers == $req_idx) {
        my @pids = worker_pids();
        ok(@pids && kill('KILL', @pids), "$name - workers killed");
        my $ok = RecsysHelper::wait_until(sub {
            my @now = worker_pids();
            @now && !grep { my $p = $_; grep { $_ == $p } @pids } @now;
        });
        ok($ok, "$name - new workers");
    }

    if (defined $block->kill_mid_ship && $block->kill_mid_ship == $req_idx) {
        my $st = RecsysHelper::wait_until(sub {
            my $e = $_[0]{events};
            $e->{shipped} > 0 && $e->{shipped} < $e->{spooled};
        });
        ok($st, "$name - shipping runs");
        my @pids = RecsysHelper::helper_pids();
        is(scalar @pids, 1, "$name - one helper process");
        ok(kill('KILL', @pids), "$name - helper killed") if @pids;
        my $after = RecsysHelper::status();
        ok($after && $after->{events}{shipped} < $after->{events}{spooled},
           "$name - killed before the spool was shipped");
        # the master starts a new one
        ok(RecsysHelper::wait_until(sub {
               my @now = RecsysHelper::helper_pids();
               @now && $now[0] != $pids[0];
           }), "$name - a new helper");
    }

    if (defined $block->events_shipped) {
        my ($idx, $count) = split /:/, $block->events_shipped;
        if ($idx == $req_idx) {
            my $st = RecsysHelper::wait_until(sub {
                my $e = $_[0]{events};
                $e->{spooled} >= $count && $e->{spool_bytes} == 0
                    && $e->{ready_segments} == 0
                    && ($e->{shipped} >= $count
                        || defined $block->kill_mid_ship);
            });
            ok($st, "$name - $count events spooled, spool empty");
            is($st->{events}{shipped}, $count, "$name - shipped count")
                if $st && !defined $block->kill_mid_ship;
        }
    }

    if (defined $block->file_events) {
        my ($idx, $count) = split /:/, $block->file_events;
        if ($idx == $req_idx) {
            my $st = RecsysHelper::status();
            my ($n, $dups) = count_items(file_items($st->{catalog}));
            is($n, $count, "$name - $count events in the file");
            is($dups, 0, "$name - none twice in the file");
        }
    }

    if (defined $block->pg_events) {
        my ($idx, $table, $count) = split /:/, $block->pg_events;
        if ($idx == $req_idx) {
            my ($n, $dups) = count_items(pg_items($table));
            is($n, $count, "$name - $count rows in $table");
            is($dups, 0, "$name - none twice in $table");
        }
    }
}

1;
