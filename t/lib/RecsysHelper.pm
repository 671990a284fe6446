package RecsysHelper;

# Sections for the helper suites, run by either Test::Nginx runner through
# add_response_body_check, after request N of a block:
#
#   --- wait_idle: N:B ...    poll GET /admin/index/status until the
#                             helper beats (within 2 s), the builder is
#                             idle, nothing is queued and the history has
#                             at least B builds; then until every live
#                             worker serves the generation it names (at
#                             most 5 s: a worker switches shortly after a
#                             publish, once its thread pool opened it)
#   --- kill_helper: N        once a build runs, kill -9 the helper
#                             ("nginx: cache manager process")
#   --- corrupt: N            wait as wait_idle N:2 (not for the workers),
#                             then truncate the items.bin of the catalog's
#                             newest generation (a worker that opens it
#                             later refuses it: "recsys_thread_pool off",
#                             or its timer would open it first)
#   --- generations_complete: N   every generations/<G> of the catalog has
#                             its manifest, no temp directory is left and
#                             "current" points to a complete generation
#   --- running: N            wait until a build runs (before hup)
#   --- hup: N                SIGHUP the master, wait until a new helper
#                             replaced the old one
#   --- reloads: N R PATH...  after request N, R times: POST each PATH
#                             (rebuilds: 202, or 409 when one is queued),
#                             wait 0.3 s, then as hup
#   --- stop_helper: N:S      SIGSTOP the helper, then sleep S seconds
#   --- cont_helper: N        SIGCONT it
#   --- hold_lock: N          take the catalog's build lock (.helper.lock)
#                             after request N, as recsys-build would
#   --- release_lock: N:S     sleep S seconds, then give it back, after
#                             request N
#   --- wait_failures: N:F    poll until the builder backs off after at
#                             least F consecutive failures
#   --- sql_at: N             run the SQL of "--- sql" with psql on
#                             $RECSYS_DATABASE_URL
#   --- sql_steps             SQL in parts, each after a line
#                             "-- after request N", run after request N
#   --- test_config: N F D    after request N, "nginx -t" of the file F of
#                             the html directory passes and leaves
#                             $TEST_NGINX_DATA_DIR/D absent
#   --- no_secret             no answer contains the password of
#                             $RECSYS_DATABASE_URL
#   --- unremovable: N        make generation 1 of the catalog impossible
#                             to remove, even for root: directories nested
#                             below it past PATH_MAX (made with chdir, so
#                             no chattr or mount), which no removal by path
#                             gets through
#
# The catalog is the one named in the status answer; its index directory
# is $TEST_NGINX_DATA_DIR/<name>.
#
# and, for the suites' add_block_preprocessor (sections($block)):
#
#   --- catalog: NAME... SOURCE   for each NAME the user file NAME.yaml:
#                             SOURCE (small: the 12 items of
#                             t/data/small.jsonl, 4 dimensions; big:
#                             big_catalog's 30k, 64) indexed into
#                             $TEST_NGINX_DATA_DIR/NAME, more lines of the
#                             section being more of its YAML; http_config
#                             gets "recsys_catalog NAME ../html/NAME.yaml;"
#                             before its own lines
#   --- locations: L ...      the locations L of %Locations before the
#                             block's own config

use strict;
use warnings;
use Fcntl qw(:flock O_RDWR O_CREAT);
use File::Path qw(remove_tree);
use HTTP::Tiny;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use RecsysProc qw(master_pid helper_pids);

my $Timeout = 120;
my $Lock;

sub import {
    main::add_response_body_check(\&check);
}

our %Locations = (
    p        => 'location = /p { recsys popular; }',
    r        => 'location = /r { recsys recommendations; }',
    status   => 'location = /admin/index/status { recsys_admin status; }',
    rebuild  => 'location = /admin/index/rebuild { recsys_admin rebuild; }',
    rollback => 'location = /admin/index/rollback { recsys_admin rollback; }',
    metrics  => 'location = /metrics { recsys_metrics; }',
    ready    => 'location = /health/ready { recsys_health ready; }',
    detailed => 'location = /health/detailed { recsys_health detailed; }',
);

my %Sources = (
    small => ['$TEST_NGINX_CONF_DIR/small.jsonl', 4],
    big   => ['$TEST_NGINX_DATA_DIR/big.jsonl', 64],
);

sub sections {
    my $block = shift;

    if (defined $block->catalog) {
        my $files = $block->user_files // '';
        my $http = '';
        $files .= "\n" if length $files && $files !~ /\n\z/;
        my ($head, $yaml) = split /\n/, $block->catalog, 2;
        my @names = split ' ', $head;
        my $source = pop @names;
        $yaml //= '';
        $yaml .= "\n" if length $yaml && $yaml !~ /\n\z/;
        my ($path, $dim) = @{ $Sources{$source}
                              or die "--- catalog: unknown source $source" };
        for my $name (@names) {
            $files .= ">>> $name.yaml\n"
                . "source: {type: file, path: $path}\n"
                . "index: {path: \$TEST_NGINX_DATA_DIR/$name,"
                . " dimension: $dim}\n"
                . $yaml;
            $http .= "recsys_catalog $name ../html/$name.yaml;\n";
        }
        $block->set_value(user_files => $files);
        $block->set_value(http_config => $http . ($block->http_config // ''));
    }

    if (defined $block->locations) {
        my @lines = map { $Locations{$_} // die "--- locations: no $_\n" }
                    split ' ', $block->locations;
        $block->set_value(config => join('', map { "$_\n" } @lines)
                                    . ($block->config // ''));
    }
}

# a suite of the PostgreSQL server skips without one, unless told it is
# there ("make prove" always has one: there a skip would hide the suite)
sub need_database {
    return if $ENV{RECSYS_DATABASE_URL};
    die "RECSYS_REQUIRE_DATABASE=1 and RECSYS_DATABASE_URL is not set\n"
        if ($ENV{RECSYS_REQUIRE_DATABASE} // '') eq '1';
    main::plan(skip_all => 'RECSYS_DATABASE_URL is not set (scripts/pg.sh)');
}

sub data_dir { $ENV{TEST_NGINX_DATA_DIR} or die "TEST_NGINX_DATA_DIR unset" }

# 30k x 64: a catalog whose build takes long enough to be caught running; index
# directories of earlier runs are removed so every block starts empty
sub big_catalog {
    my $dir = data_dir();
    my $big = "$dir/big.jsonl";
    if (!-s $big) {
        my $gen = "$ENV{TEST_NGINX_BUILD_DIR}/recsys-gen";
        system("'$gen' synthetic 30000 64 > '$big.tmp'") == 0
            or die "recsys-gen failed";
        rename "$big.tmp", $big or die "rename: $!";
    }
    for my $d (glob "$dir/h[0-9]*") {
        remove_tree($d);
    }
}

sub status {
    my $port = main::server_port();
    my $res = HTTP::Tiny->new(timeout => 5)
        ->get("http://127.0.0.1:$port/admin/index/status");
    return undef unless $res->{success};
    return eval { decode_json($res->{content}) };
}

sub wait_until {
    my ($cond) = @_;
    my $deadline = time + $Timeout;
    while (time < $deadline) {
        my $st = status();
        return $st if $st && $cond->($st);
        sleep 0.05;
    }
    return undef;
}

sub wait_idle {
    my ($name, $builds, $unserved) = @_;
    my $st = wait_until(sub {
        my $s = shift;
        $s->{builder}{pid} && $s->{builder}{state} eq 'idle'
            && ($s->{builder}{heartbeat_age_seconds} // 99) <= 2
            && !defined $s->{builder}{queued_build_id}
            && @{ $s->{builds} } >= $builds;
    });
    ok($st, "$name - builder idle with $builds build(s)");
    wait_served($st) if $st && !$unserved;
    return $st;
}

# Polls error.log until the last "serving generation" notice of each live
# process names the generation of the status answer $st.  Bounded and not
# a check itself: a worker that refuses the generation keeps the old one,
# and the block's own checks say what was served.
sub wait_served {
    my ($st) = @_;
    my $gen = $st->{generation} && $st->{generation}{number} or return;
    my $cat = $st->{catalog};
    my $root = $ENV{TEST_NGINX_SERVROOT} || 't/servroot';
    my $deadline = time + 5;
    while (time < $deadline) {
        my %last;
        if (open my $fh, '<', "$root/logs/error.log") {
            while (my $l = <$fh>) {
                $last{$1} = $2
                    if $l =~ /\s(\d+)#\d+: (?:\*\d+ )?recsys catalog "\Q$cat\E": serving generation (\d+) /;
            }
        }
        my @live = grep { kill 0, $_ } keys %last;
        return 1 if @live && !grep { $last{$_} != $gen } @live;
        sleep 0.05;
    }
    return 0;
}

# 24 directories of 200 bytes below $dir: about 4.8k, more than PATH_MAX
sub nest_deep {
    my ($dir) = @_;
    my $name = 'd' x 200;
    opendir my $cwd, '.' or return 0;
    chmod 0755, $dir;    # published read-only; root would not care
    chdir $dir or return 0;
    my $ok = 1;
    for (1 .. 24) {
        $ok &&= (mkdir($name) && chdir($name));
    }
    chdir $cwd or die "cannot return to the working directory: $!";
    return $ok;
}

sub psql {
    my ($sql) = @_;
    open my $p, '|-', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
        $ENV{RECSYS_DATABASE_URL} or die "psql: $!";
    print $p $sql;
    close $p;
    return $? == 0;
}

sub db_password {
    my ($pw) = ($ENV{RECSYS_DATABASE_URL} // '') =~ m{://[^:/@]+:([^@]+)@};
    return $pw;
}

# SIGHUP to the master, then wait until one new helper process is left
sub reload_helper {
    my ($name) = @_;
    my %old = map { $_ => 1 } helper_pids();
    ok(kill('HUP', master_pid()), "$name - SIGHUP sent");
    my $deadline = time + 10;
    my @new;
    while (time < $deadline) {
        my @all = helper_pids();
        @new = grep { !$old{$_} } @all;
        last if @new == 1 && @all == 1;
        sleep 0.05;
    }
    is(scalar @new, 1, "$name - one new helper after the reload");
}

sub check {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run;
    my $name = $block->name;

    if (defined $block->no_secret) {
        my $pw = db_password();
        unlike($body, qr/\Q$pw\E/, "$name - no password in answer $req_idx")
            if defined $pw;
    }

    if (defined $block->sql_at && $block->sql_at == $req_idx) {
        ok(psql($block->sql), "$name - sql after request $req_idx");
    }

    if (defined $block->sql_steps) {
        my @parts = split /^-- after request (\d+)\n/m, $block->sql_steps;
        shift @parts;
        while (my ($idx, $sql) = splice @parts, 0, 2) {
            ok(psql($sql), "$name - sql step after request $req_idx")
                if $idx == $req_idx;
        }
    }

    if (defined $block->test_config) {
        my ($idx, $file, $absent) = split ' ', $block->test_config;
        if ($idx == $req_idx) {
            my $root = $ENV{TEST_NGINX_SERVROOT} || 't/servroot';
            my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
            my $out = `'$nginx' -t -q -e stderr -p '$root/' -c '$root/html/$file' 2>&1`;
            is($? >> 8, 0, "$name - nginx -t $file passes") or diag($out);
            ok(!-e data_dir() . "/$absent",
               "$name - nginx -t created no $absent");
        }
    }

    if (defined $block->wait_failures) {
        my ($idx, $f) = split /:/, $block->wait_failures;
        if ($idx == $req_idx) {
            ok(wait_until(sub {
                   $_[0]{builder}{state} eq 'backing_off'
                   && $_[0]{consecutive_failures} >= $f;
               }), "$name - backing off after $f failures");
        }
    }

    if (defined $block->kill_helper && $block->kill_helper == $req_idx) {
        my $st = wait_until(sub { $_[0]{builder}{state} eq 'running' });
        ok($st, "$name - a build runs");
        sleep 0.5;    # well into it: the temp directory exists
        my @pids = helper_pids();
        is(scalar @pids, 1, "$name - one helper process");
        ok(kill('KILL', @pids), "$name - helper killed") if @pids;
    }

    if (defined $block->stop_helper) {
        my ($idx, $secs) = split /:/, $block->stop_helper;
        if ($idx == $req_idx) {
            my @pids = helper_pids();
            ok(@pids && kill('STOP', @pids), "$name - helper stopped");
            sleep $secs;
        }
    }

    if (defined $block->cont_helper && $block->cont_helper == $req_idx) {
        my @pids = helper_pids();
        ok(@pids && kill('CONT', @pids), "$name - helper continued");
    }

    if (defined $block->release_lock) {
        my ($idx, $secs) = split /:/, $block->release_lock;
        if ($idx == $req_idx) {
            sleep($secs // 0);
            ok($Lock && flock($Lock, LOCK_UN) && close($Lock),
               "$name - build lock released");
            undef $Lock;
        }
    }

    if (defined $block->wait_idle) {
        for my $spec (split ' ', $block->wait_idle) {
            my ($idx, $builds) = split /:/, $spec;
            wait_idle($name, $builds // 1) if $idx == $req_idx;
        }
    }

    if (defined $block->unremovable && $block->unremovable == $req_idx) {
        my $st = status() or return fail("$name - status");
        my $gen = data_dir() . "/$st->{catalog}/generations/1";
        ok(nest_deep($gen), "$name - $gen nested past PATH_MAX");
    }

    if (defined $block->hold_lock && $block->hold_lock == $req_idx) {
        my $st = status() or return fail("$name - status");
        my $file = data_dir() . "/$st->{catalog}/.helper.lock";
        sysopen($Lock, $file, O_RDWR|O_CREAT) or return fail("$name - $file");
        ok(flock($Lock, LOCK_EX|LOCK_NB), "$name - build lock held");
    }

    if (defined $block->running && $block->running == $req_idx) {
        ok(wait_until(sub { $_[0]{builder}{state} eq 'running' }),
           "$name - a build runs");
        sleep 0.5;
    }

    if (defined $block->hup && $block->hup == $req_idx) {
        reload_helper($name);
    }

    if (defined $block->reloads) {
        my ($idx, $n, @paths) = split ' ', $block->reloads;
        if ($idx == $req_idx) {
            my $http = HTTP::Tiny->new(timeout => 5);
            my $url = "http://127.0.0.1:" . main::server_port();
            for my $i (1 .. $n) {
                for my $path (@paths) {
                    # 409: the retry of the interrupted build is queued
                    my $res = $http->post("$url$path");
                    like($res->{status}, qr/^(?:202|409)$/,
                         "$name - reload $i: POST $path");
                }
                sleep 0.3;    # the builds are under way
                reload_helper("$name - reload $i");
            }
        }
    }

    if (defined $block->corrupt && $block->corrupt == $req_idx) {
        my $st = wait_idle($name, 2, 1) or return;
        my $dir = data_dir() . "/$st->{catalog}/generations";
        my ($newest) = sort { $b <=> $a } map { m{/(\d+)$} ? $1 : () }
                       glob "$dir/*";
        my $items = "$dir/$newest/items.bin";
        ok(truncate($items, 100), "$name - $items truncated");
    }

    if (defined $block->generations_complete
        && $block->generations_complete == $req_idx)
    {
        my $st = status() or return fail("$name - status");
        my $dir = data_dir() . "/$st->{catalog}";
        my @gens = glob "$dir/generations/*";
        ok(@gens > 0, "$name - generations exist");
        for my $g (@gens) {
            ok(-f "$g/manifest.json" && -f "$g/index.faiss"
               && -f "$g/items.bin", "$name - $g complete");
        }
        opendir my $dh, $dir or return fail("$name - opendir $dir");
        my @tmp = grep { /^\.tmp-|^\.current\.tmp\./ } readdir $dh;
        is("@tmp", '', "$name - no temp directory left");
        like(readlink("$dir/current") // '', qr{^generations/\d+$},
             "$name - current points to a generation");
    }
}

1;
