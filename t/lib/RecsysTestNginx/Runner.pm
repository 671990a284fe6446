package RecsysTestNginx::Runner;

# A compatible subset of Test::Nginx::Socket, built on Debian's Test::Base.
# Loaded by t/lib/RecsysTestNginx.pm only when the real Test::Nginx is not
# installed; test files must run unchanged under either.  See the POD below.

use Test::Base -base;

use strict;
use warnings;

use File::Find ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Select ();
use IO::Socket::INET ();
use List::Util qw(shuffle);
use POSIX ();
use Scalar::Util qw(looks_like_number);
use Time::HiRes qw(sleep time);

our $VERSION = '0.01';

our @EXPORT = qw(
    run_tests run_test repeat_each no_shuffle master_on master_off
    master_process_enabled workers worker_connections log_level
    no_long_string no_root_location timeout config_preamble
    add_response_body_check add_block_preprocessor add_cleanup_handler
    env_to_nginx html_dir server_root server_port server_port_for_client
    server_addr server_name check_accum_error_log bail_out is_str
);

our $NginxBinary       = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $LoadModules       = $ENV{TEST_NGINX_LOAD_MODULES} // '';
our $ServerPort        = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                         || 1984;
our $ServerAddr        = '127.0.0.1';
our $ServerName        = 'localhost';
our $LogLevel          = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcess     = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $Workers           = 1;
our $WorkerConnections = 64;
our $WorkerUser        = $ENV{TEST_NGINX_WORKER_USER};
our $RepeatEach        = 1;
our $NoShuffle         = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $NoRootLocation    = 0;
our $NoLongString      = 0;
our $Timeout           = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $Sleep             = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $CheckAccumErrLog  = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $ConfigPreamble    = '';
our $StartTimeout      = 5;    # seconds to wait for nginx to come up
our $StopTimeout       = 5;    # seconds to wait for QUIT before KILL
our $UseHup            = $ENV{TEST_NGINX_USE_HUP};
our $ForceRestart      = $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} // 1;

our (@EnvToNginx, @BlockPreprocessors, @ResponseBodyChecks, @CleanupHandlers);
our ($NginxVersion, $NginxV, $PrevConfig, $PrevBlock, $ConfigVersion);

our $ServRoot = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT} || 't/servroot');
$ServRoot =~ s{(?<=.)/+\z}{};
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $StderrFile = "$LogDir/nginx-stderr.log";
our $PidFile    = "$LogDir/nginx.pid";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";

# Error log reading state: the real runner checks, after each request, the
# lines written since the previous check.  Lines nginx printed on stderr
# while starting (Debian's binary logs there until error_log is opened)
# are prepended to the first read.
our $ErrLogFilePos = 0;
our @StartupLines;
our $StartupRead = 0;

my $MainPid = $$;

# nginx daemonizes, so its processes end up children of PID 1, which in
# some containers never reaps them.  As a child subreaper (Linux) they
# become ours instead, and stop_nginx() reaps them.
our $Subreaper = eval {
    require 'syscall.ph';
    syscall(&SYS_prctl, 36, 1, 0, 0, 0) == 0;    # PR_SET_CHILD_SUBREAPER
} || 0;


# ---- settings (same names and prototypes as Test::Nginx::Util) ----

sub repeat_each (@)        { $RepeatEach = shift if @_; $RepeatEach }
sub no_shuffle ()          { $NoShuffle = 1 }
sub master_on ()           { $MasterProcess = 'on' }
sub master_off ()          { $MasterProcess = 'off' }
sub no_long_string ()      { $NoLongString = 1 }
sub no_root_location ()    { $NoRootLocation = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub config_preamble ($)    { $ConfigPreamble = shift }
sub html_dir ()            { $HtmlDir }
sub server_root ()         { $ServRoot }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_response_body_check ($) { push @ResponseBodyChecks, shift }
sub add_cleanup_handler ($)     { unshift @CleanupHandlers, shift }

sub master_process_enabled (@) {
    return $MasterProcess unless @_;
    $MasterProcess = shift() ? 'on' : 'off';
}

sub workers (@)            { @_ ? ($Workers = shift) : $Workers }
sub worker_connections (@) { @_ ? ($WorkerConnections = shift)
                                 : $WorkerConnections }
sub log_level (@)          { @_ ? ($LogLevel = shift) : $LogLevel }
sub timeout (@)            { @_ ? ($Timeout = shift) : $Timeout }
sub server_port (@)        { @_ ? ($ServerPort = shift) : $ServerPort }
sub server_port_for_client (@) { server_port(@_) }
sub server_addr (@)        { @_ ? ($ServerAddr = shift) : $ServerAddr }
sub server_name (@)        { @_ ? ($ServerName = shift) : $ServerName }

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" unless @_;
    for my $v (@_) {
        croak "env_to_nginx: bad argument value: $v"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub bail_out (@) {
    cleanup();
    stop_nginx('bail_out');
    Test::More::BAIL_OUT(join '', @_);
}

sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    return Test::More::like($got, $expected, $desc)
        if ref $expected && ref $expected eq 'Regexp';
    return Test::More::is($got, $expected, $desc);
}


# ---- driver ----

sub run_tests () {
    get_nginx_version();
    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;
    $ENV{TEST_NGINX_HTML_DIR}    //= $HtmlDir;

    my @blocks = Test::Base::blocks();
    @blocks = shuffle(@blocks) unless $NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_test($block);
        $PrevBlock = $block;
    }

    cleanup();
}

# As in the real runner, nginx outlives its block: the next block with a
# config replaces it (a new nginx, or with TEST_NGINX_USE_HUP a reload of
# the same one), a block without config sends its requests to it as it
# is (no new nginx.conf, no user_files), and END stops it.  The
# shutdown_error_log checks of a block run when its nginx stops.
sub run_test ($) {
    my $block = shift;

    return if defined $block->SKIP;

    get_nginx_version() unless defined $NginxVersion;

    my $name = $block->name;
    my $fails = failure_count();

    my $config = $block->config;
    my $restart;
    if (!defined $config) {
        bail_out("$name - No '--- config' section specified and could "
                 . "not get previous one.") unless defined $PrevConfig;
        $restart = 0;
    } else {
        $config = expand_env($config, $name);
        $restart = $ForceRestart || !defined $PrevConfig
                   || $config ne $PrevConfig;
    }

    my ($nskip, $why, $todo) = skip_spec($block);
    if (defined $nskip) {
        for (1 .. $RepeatEach) {
            if ($todo) {
                TODO: { Test::More::todo_skip("$name - $why", $nskip); }
            } else {
                SKIP: { Test::More::skip("$name - $why", $nskip); }
            }
        }
        return;
    }

    if ($restart) {
        $PrevConfig = $config;
        my $hup = $UseHup && !defined $block->must_die;

        if (!$hup || !reload_nginx($block)) {
            stop_nginx($name);
            check_shutdown_error_log($PrevBlock, $hup);
            setup_server_root(0);
            write_user_files($block);
            write_config_file($block, $hup);

            if (defined $block->must_die) {
                run_must_die($block);
                diag_logs($name) if failure_count() > $fails;
                return;
            }

            my $err = start_nginx($name);
            if (defined $err) {
                Test::More::fail("$name - failed to start nginx: $err");
                diag_logs($name);
                return;
            }
        }
    }

    if ($block->init) {
        my $code = $block->init;
        eval "package main; $code; 1"
            or bail_out("$name - init failed: $@");
    }

    # each block reads error.log from its start, as the real runner does
    $ErrLogFilePos = 0;
    $StartupRead = 0;

    for my $rep (0 .. $RepeatEach - 1) {
        write_user_files($block) if $rep > 0;
        run_requests($block, $rep);
    }

    diag_logs($name) if failure_count() > $fails;
}

sub run_must_die {
    my $block = shift;
    my $name = $block->name;
    my $must_die = $block->must_die;

    for my $rep (0 .. $RepeatEach - 1) {
        my $status = launch_nginx($name);
        my $code = $status >= 0 ? $status >> 8 : -1;

        if ($status == -1) {
            Test::More::fail("$name - failed to execute the nginx "
                             . "command line");
        } elsif ($status & 128) {
            Test::More::fail("$name - nginx core dumped");
        } elsif (looks_like_number($must_die)) {
            Test::More::is($code, $must_die,
                           "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }

        check_error_log($block, $rep);

        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; "
                 . "killing it (req $rep)\n";
            wait_for(sub { -s $PidFile }, 1);
            stop_nginx($name);
        }
    }
}

sub skip_spec {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ m{^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)
                   (?:\s*:\s*(.*?))?\s*$}x
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        my ($n, $op, $reason) = ($1, $2, $6);
        my $ver = canon_version($3, $4, $5);
        if (version_cmp($NginxVersion, $op, $ver)) {
            return ($n, $reason || "nginx version $op $3.$4.$5", 0);
        }
    }

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            my ($n, $code) = ($1, $2);
            my $skip = eval "package main; $code";
            bail_out("$name - skip_eval - failed to eval \"$code\": $@") if $@;
            return ($n, 'skip_eval', 0) if $skip;
        }
    }

    if (defined(my $spec = $block->todo)) {
        $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- todo spec: $spec");
        return ($1, $2 || 'various reasons', 1);
    }

    return;
}

sub canon_version { sprintf "%d.%03d%03d", @_[0 .. 2] }

sub version_cmp {
    my ($a, $op, $b) = @_;
    return $op =~ /^</ unless defined $a;
    return $op eq '<'  ? $a <  $b
         : $op eq '<=' ? $a <= $b
         : $op eq '>'  ? $a >  $b
         :               $a >= $b;
}

sub get_nginx_version {
    $NginxBinary = find_binary($NginxBinary)
        // bail_out("Cannot find the nginx executable \"$NginxBinary\"");
    (my $quoted = $NginxBinary) =~ s/'/'\\''/g;
    $NginxV = `'$quoted' -V 2>&1`;
    if ($? != 0 || $NginxV !~ m{/(\d+)\.(\d+)\.(\d+)}) {
        bail_out("Failed to get the version of $NginxBinary: $NginxV");
    }
    $NginxVersion = canon_version($1, $2, $3);
}

sub find_binary {
    my $cmd = shift;
    return -x $cmd ? File::Spec->rel2abs($cmd) : undef if $cmd =~ m{/};
    for my $dir (split(/:/, $ENV{PATH} // ''), '/usr/sbin', '/usr/local/sbin') {
        next if $dir eq '';
        return "$dir/$cmd" if -f "$dir/$cmd" && -x _;
    }
    return undef;
}


# ---- server root and nginx.conf ----

sub setup_server_root {
    my $hup = shift;

    # Remove only what this runner creates, so that a mistaken
    # TEST_NGINX_SERVROOT does not wipe real data.  Before a reload the
    # running nginx keeps its pid file and directories; it reopens the
    # logs on USR1.
    if (-d $ServRoot) {
        my @old = ($ConfDir);
        push @old, $HtmlDir, $LogDir unless $hup;
        if (opendir my $dh, $ServRoot) {
            push @old, map { "$ServRoot/$_" }
                       grep { /_(?:temp|cache)\z/ } readdir $dh;
            closedir $dh;
        }
        remove_tree(grep { -e } @old);

        if ($hup) {
            File::Find::find({ no_chdir => 1, wanted => sub {
                unlink $_ if !-d $_ && $_ ne $PidFile;
            } }, grep { -d } $HtmlDir, $LogDir);
        }
    }

    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $dir;
        make_path($dir) or bail_out("Failed to create $dir: $!");
    }
    chmod 0755, $ServRoot, $LogDir, $HtmlDir, $ConfDir;

    write_file("$HtmlDir/index.html",
               '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>');
}

sub write_file {
    my ($path, $data) = @_;
    open my $out, '>', $path or bail_out("Can't open $path for writing: $!");
    binmode $out;
    print $out $data;
    close $out or bail_out("Can't write $path: $!");
}

sub slurp {
    my $path = shift;
    open my $in, '<', $path or return '';
    binmode $in;
    local $/;
    my $data = <$in>;
    return $data // '';
}

sub write_user_files {
    my $block = shift;
    my $name = $block->name;
    my $files = $block->user_files;
    return unless $files;

    if (!ref $files) {
        my @list;
        for my $line (split /^/m, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, undef, $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: ", ref $files,
                 ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/} && !-d $1) {
            make_path($1) or bail_out("$name - Cannot create directory $1");
        }
        write_file($path, expand_env($body // '', $name));
        if ($date) {
            local $ENV{TZ} = 'GMT';
            system('touch', '-t', $date, $path) == 0
                or bail_out("$name - touch -t '$date' $path failed");
        }
    }
}

sub expand_env {
    my ($text, $name) = @_;
    return $text unless defined $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        defined $ENV{$1} ? $ENV{$1}
                         : bail_out("$name - No environment $1 defined.\n")
    }ge;
    return $text;
}

sub write_config_file {
    my ($block, $hup) = @_;
    my $name = $block->name;

    my %s;
    for my $sec (qw(config http_config main_config post_main_config)) {
        $s{$sec} = expand_env($block->$sec // '', $name);
    }

    # a reload needs a master; /ver tells which configuration answers
    my $master = $hup ? 'on' : $MasterProcess;
    my $ver_server = '';
    if ($hup) {
        $ConfigVersion = join '', map { ('a' .. 'z')[rand 26] } 1 .. 10;
        $ver_server = <<"_EOC_";

    server {
        listen          $ServerPort;
        server_name     'Test-Nginx';

        location = /ver {
            return 200 '$ConfigVersion';
        }
    }
_EOC_
    }
    my $level = $block->log_level || $LogLevel;
    my $server_name = $block->server_name // $ServerName;
    $server_name =~ s/(['\\])/\\$1/g;

    my $conf = "# generated by RecsysTestNginx::Runner for: $name\n";

    for my $mod (grep { length } split /\s+/, $LoadModules) {
        $conf .= 'load_module ' . File::Spec->rel2abs($mod) . ";\n";
    }

    $conf .= <<"_EOC_";
worker_processes  $Workers;
daemon on;
master_process $master;
error_log $ErrLogFile $level;
pid       $PidFile;
_EOC_

    for my $v (@EnvToNginx) {
        $conf .= 'env ' . ($v =~ /\s/ ? "'$v'" : $v) . ";\n";
    }

    if (defined $WorkerUser) {
        $conf .= "user $WorkerUser;\n";
    } elsif ($> == 0) {
        $conf .= "user root;\n";    # as the real runner does
    }

    # Debian's nginx keeps its temp dirs under /var/lib/nginx, which a
    # non-root run cannot create: keep them in the server root, unless the
    # test sets them itself.
    my $temp = '';
    my $user_conf = "$s{http_config}\n$s{config}";
    for my $t (qw(client_body proxy fastcgi uwsgi scgi)) {
        next if $user_conf =~ /\b${t}_temp_path\b/;
        next if $t ne 'client_body'
                && ($NginxV // '') =~ /--without-http_${t}_module/;
        $temp .= "    ${t}_temp_path $ServRoot/${t}_temp;\n";
    }

    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    $conf .= <<"_EOC_";

$s{main_config}

http {
    access_log $AccLogFile;

    default_type text/plain;
    keepalive_timeout  68;
$temp
$s{http_config}

    server {
        listen          $ServerPort;
        server_name     '$server_name';

        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$s{config}
        # End test case config.

$root_location    }
$ver_server}

$s{post_main_config}

events {
    accept_mutex off;
    worker_connections  $WorkerConnections;
}
_EOC_

    write_file($ConfFile, $conf);
}


# ---- nginx process control ----

# Runs nginx (which daemonizes) and returns the launcher's wait status,
# or -1 if it could not be run or did not return in time.
sub launch_nginx {
    my $name = shift;

    unlink $StderrFile;
    my $pid = fork;
    bail_out("$name - fork() failed: $!") unless defined $pid;

    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $StderrFile;
        exec { $NginxBinary } $NginxBinary, '-p', "$ServRoot/",
             '-c', $ConfFile
            or print STDERR "exec $NginxBinary failed: $!\n";
        POSIX::_exit(255);
    }

    my $status;
    my $ok = wait_for(sub {
        my $r = waitpid($pid, POSIX::WNOHANG());
        $status = $? if $r == $pid;
        return $r == $pid || $r == -1;
    }, 30);
    if (!$ok) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
        return -1;
    }

    @StartupLines = split /^/m, slurp($StderrFile);
    $StartupRead = 0;
    $ErrLogFilePos = 0;
    return $status // -1;
}

# Returns undef once nginx serves the port, else an error message.
sub start_nginx {
    my $name = shift;
    my $deadline = time + $StartTimeout;

    while (1) {
        my $status = launch_nginx($name);
        last if $status == 0;

        my $out = slurp($StderrFile) . slurp($ErrLogFile);
        if ($out =~ /Address already in use/ && time < $deadline) {
            unlink $ErrLogFile;    # drop the failed attempt's messages
            sleep 0.2;
            next;
        }
        return $status == -1 ? "could not run $NginxBinary"
                             : 'nginx exited with status ' . ($status >> 8);
    }

    return undef if wait_for(sub { -s $PidFile && port_listening() },
                             $deadline - time);
    return "nginx did not write $PidFile and listen on port $ServerPort "
           . "within $StartTimeout s";
}

# Reloads the running nginx with the block's files and config, as the real
# runner's TEST_NGINX_USE_HUP does; false when no nginx of ours runs.
sub reload_nginx {
    my $block = shift;
    my $name = $block->name;
    my $pid = read_pid();

    return 0 unless $pid && is_our_nginx($pid);

    setup_server_root(1);
    write_user_files($block);
    write_config_file($block, 1);
    @StartupLines = ();

    kill 'USR1', $pid or return 0;
    sleep $Sleep;
    kill 'HUP', $pid or return 0;
    sleep $Sleep * 3;

    wait_config_version($name);
    check_shutdown_error_log($PrevBlock, 'TEST_NGINX_USE_HUP');
    return 1;
}

# Waits until 20 answers in a row come from the new configuration.
sub wait_config_version {
    my $name = shift;
    my ($total, $ok) = (200, 0);

    for my $try (1 .. $total) {
        my $ver = config_version();
        if (defined $ver && $ver eq $ConfigVersion) {
            return 1 if ++$ok >= 20;
            sleep $Sleep if $ok == 5;
            next;
        }
        $ok = 0;
        my $wait = ($Sleep + $Sleep * $try) * $try / 2;
        sleep($wait > 1 ? 1 : $wait);
    }

    Test::More::fail("$name - failed to reload configuration after "
                     . "$total failed test requests");
    return 0;
}

sub config_version {
    my $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                     PeerPort => $ServerPort,
                                     Proto    => 'tcp',
                                     Timeout  => 2)
        or return undef;
    local $SIG{PIPE} = 'IGNORE';
    print $sock "GET /ver HTTP/1.0\r\nHost: Test-Nginx\r\n\r\n";

    my ($resp, $sel) = ('', IO::Select->new($sock));
    while ($sel->can_read(2)) {
        my $n = sysread($sock, my $buf, 4096);
        last unless $n;
        $resp .= $buf;
    }
    close $sock;
    return $resp =~ m{\AHTTP/1\.\d 200 .*?\r\n\r\n(.*)\z}s ? $1 : undef;
}

sub stop_nginx {
    my $name = shift;
    my $pid = read_pid();
    return unless $pid;

    if (is_our_nginx($pid)) {
        kill 'QUIT', $pid;
        if (!wait_for(sub { !is_our_nginx($pid) }, $StopTimeout)) {
            warn "$name - nginx $pid did not quit in $StopTimeout s, "
                 . "killing it\n";
            my $pgrp = getpgrp($pid);
            kill 'KILL', ($pgrp == $pid ? -$pid : $pid);
            wait_for(sub { !is_our_nginx($pid) }, 2);
        }
    }
    unlink $PidFile;
}

sub read_pid {
    my $pid = slurp($PidFile);
    return $pid =~ /^\s*(\d+)/ ? $1 : undef;
}

# True while $pid is alive, not a zombie, and an nginx of this server root
# (guards against signalling a recycled pid).
sub is_our_nginx {
    my $pid = shift;
    return 0 unless kill 0, $pid;
    return 1 unless -d "/proc/$pid";
    my $stat = slurp("/proc/$pid/stat");
    if ($stat =~ /\)\s+[ZX]\s/) {
        waitpid($pid, POSIX::WNOHANG()) if $Subreaper;
        return 0;
    }
    my $cmd = slurp("/proc/$pid/cmdline");
    return index($cmd, "$ServRoot/") >= 0;
}

sub port_listening {
    my $seen = 0;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $f or next;
        $seen = 1;
        while (<$in>) {
            my @f = split;
            next unless @f > 3 && $f[1] =~ /:([0-9A-F]{4})$/;
            return 1 if hex($1) == $ServerPort && $f[3] eq '0A';
        }
    }
    return !$seen;
}

sub wait_for {
    my ($cond, $secs) = @_;
    my $deadline = time + $secs;
    while (1) {
        return 1 if $cond->();
        return 0 if time >= $deadline;
        sleep 0.01;
    }
}

sub cleanup {
    $_->() for @CleanupHandlers;
}

END {
    if ($$ == $MainPid) {
        local $?;
        cleanup();
        stop_nginx('END') unless $ENV{TEST_NGINX_NO_CLEAN};
        check_shutdown_error_log($PrevBlock,
                                 $UseHup && 'TEST_NGINX_USE_HUP');
    }
}


# ---- requests ----

sub parse_time {
    my $t = shift;
    return undef unless defined $t;
    $t =~ s/^\s+|\s+$//g;
    return $1 / 1000 if $t =~ /^([\d.]+)ms$/;
    return $1 if $t =~ /^([\d.]+)s$/;
    return $t;
}

sub parse_more_headers {
    my $in = shift // '';
    my ($out, $chunked) = ('', 0);
    for my $line (split /\n+/, $in) {
        next if $line =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $chunked = 1 if lc $key eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $chunked);
}

# "METHOD [URI [HTTP/x.y]]\nbody" plus headers -> raw HTTP request.
sub build_request {
    my ($name, $req, $more, $conn) = @_;

    bail_out("$name - Request line should be non-empty")
        unless defined $req && $req =~ /\S/;
    1 while $req =~ s/^\s*#[^\n]+\s+|^\s+//s;

    my ($first, $content) = $req =~ /\A([^\n]*)\n?(.*)\z/s;
    $first =~ /^(\S+)(?: +(\S+))?(?: +(\S+))?\s*$/
        or bail_out("$name - Request line is not valid. Should be "
                    . "'meth [url [version]]' but got \"$first\".");
    my ($meth, $url, $ver) = ($1, $2 // '/', $3 // 'HTTP/1.1');

    my ($hdrs, $chunked) = parse_more_headers($more);
    my $len = '';
    if (!$chunked && $content ne ''
        && $hdrs !~ /(?:^|\n)Content-Length:/)
    {
        $content =~ s/^\s+|\s+$//gs;
        $len = 'Content-Length: ' . length($content) . "\r\n";
    }

    my $std = '';
    $std .= "Host: $ServerName\r\n" if $hdrs !~ /(?:^|\n)Host:/msi;
    $std .= "Connection: $conn\r\n" if $hdrs !~ /(?:^|\n)Connection/msi;

    return "$meth $url $ver\r\n$std$hdrs$len\r\n$content";
}

sub headers_for {
    my ($name, $more, $i) = @_;
    return $more unless ref $more eq 'ARRAY';
    my $h = $more->[$i];
    bail_out("$name - --- more_headers lacks data for request $i")
        unless defined $h;
    return $h;
}

# Returns a list of connections to make: { pieces, responses, head }.
sub get_requests {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        my @pieces = ref $raw eq 'ARRAY' ? @$raw : ($raw);
        return [{ pieces => \@pieces, responses => 1,
                  head => join('', @pieces) =~ /^\s*HEAD\s/ ? 1 : 0 }];
    }

    my $more = $block->more_headers // '';

    if (defined(my $reqs = $block->pipelined_requests)) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            unless ref $reqs eq 'ARRAY';
        my $data = '';
        for my $i (0 .. $#$reqs) {
            $data .= build_request($name, $reqs->[$i],
                                   headers_for($name, $more, $i),
                                   $i == $#$reqs ? 'close' : 'keep-alive');
        }
        return [{ pieces => [$data], responses => scalar @$reqs,
                  head => 0 }];
    }

    my $request = $block->request;
    my @reqs = ref $request eq 'ARRAY' ? @$request : ($request);
    my @list;
    for my $i (0 .. $#reqs) {
        my $one = $reqs[$i];
        if (ref $one eq 'ARRAY') {    # packets: sent as one piece here
            $one = join '', map { ref $_ ? $_->{value} : $_ } @$one;
        }
        my $data = build_request($name, $one, headers_for($name, $more, $i),
                                 'close');
        push @list, { pieces => [$data], responses => 1,
                      head => $data =~ /^HEAD\s/ ? 1 : 0 };
    }
    return \@list;
}

sub send_request {
    my ($block, $req, $timeout) = @_;
    my $name = $block->name;
    local $SIG{PIPE} = 'IGNORE';

    my $sock;
    my $deadline = time + $timeout;
    while (1) {
        $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                      PeerPort => $ServerPort,
                                      Proto    => 'tcp',
                                      Timeout  => $timeout);
        last if $sock;
        if (time >= $deadline) {
            Test::More::fail("$name - Can't connect to "
                             . "$ServerAddr:$ServerPort: $!");
            return undef;
        }
        sleep 0.05;
    }
    binmode $sock;
    $sock->blocking(0);
    my $sel = IO::Select->new($sock);
    my $timed_out = 0;

    my @pieces = @{ $req->{pieces} };
    my $delay = parse_time($block->raw_request_middle_delay);
    WRITE: for my $i (0 .. $#pieces) {
        sleep $delay if $i && $delay;
        my ($buf, $off) = ($pieces[$i], 0);
        while ($off < length $buf) {
            my $n = syswrite($sock, $buf, length($buf) - $off, $off);
            if (defined $n) {
                $off += $n;
                next;
            }
            if ($!{EAGAIN} || $!{EINTR}) {
                next if $sel->can_write($timeout);
                $timed_out = 1;
            } else {
                warn "WARNING: $name - write failed: $!\n";
            }
            last WRITE;
        }
    }

    if (defined(my $how = $block->shutdown)) {
        shutdown($sock, $how =~ /^\s*$/ ? 1 : $how);
    }

    my $resp = '';
    while (!$timed_out) {
        if (!$sel->can_read($timeout)) {
            $timed_out = 1;
            last;
        }
        my $n = sysread($sock, my $buf, 65536);
        if (!defined $n) {
            next if $!{EAGAIN} || $!{EINTR};
            warn "WARNING: $name - HTTP response read failure: $!\n";
            last;
        }
        last if $n == 0;
        $resp .= $buf;
    }
    close $sock;

    if ($timed_out && !defined $block->abort) {
        Test::More::fail("ERROR: client socket timed out - $name");
    }
    return $resp;
}

# Parses one response off the front of $raw; returns ($res, $leftover).
sub parse_response {
    my ($name, $raw, $head_req) = @_;
    my %res = (code => undef, message => '', headers => {},
               raw_headers => '', content => '');
    return (\%res, undef) unless defined $raw && length $raw;

    my ($head, $body) = ($raw, '');
    if ($raw =~ /\A(.*?\r?\n)\r?\n/s) {
        ($head, $body) = ($1, substr($raw, $+[0]));
        $res{raw_headers} = $head;
    }

    my ($status, @lines) = split /\r?\n/, $head;
    if ($status =~ m{^HTTP/\d+(?:\.\d+)?\s+(\d+)\s*(.*)$}) {
        @res{qw(code message)} = ($1, $2);
    }
    my $last;
    for my $line (@lines) {
        if ($line =~ /^[ \t]+(.*)/ && defined $last) {
            $last->[-1] .= " $1";
        } elsif ($line =~ /^([^:\s]+)\s*:\s*(.*?)\s*$/) {
            $last = $res{headers}{lc $1} //= [];
            push @$last, $2;
        }
    }

    my $code = $res{code} // 0;
    my $te = header(\%res, 'Transfer-Encoding');
    my $len = header(\%res, 'Content-Length');
    my $left;

    if ($head_req || $code == 304 || $code == 204 || $code == 101
        || ($code >= 100 && $code < 200))
    {
        $left = $body;
    } elsif (defined $te && $te =~ /\bchunked\b/i) {
        ($res{content}, $left) = decode_chunked($name, $body);
    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $body < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . 'but got ' . length($body) . "\n";
            $res{content} = $body;
        } else {
            $res{content} = substr($body, 0, $len);
            $left = substr($body, $len);
        }
    } else {
        $res{content} = $body;
    }

    $left = undef if defined $left && $left eq '';
    return (\%res, $left);
}

sub decode_chunked {
    my ($name, $raw) = @_;
    my ($out, $p) = ('', 0);

    while (1) {
        pos($raw) = $p;
        if ($raw !~ /\G[ \t]*([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\r\n/gc) {
            my $what = $p < length $raw ? 'invalid chunked body received'
                                        : 'no last chunk found';
            Test::More::fail("$name - $what");
            return ($out, undef);
        }
        my $size = hex $1;
        $p = pos($raw);

        if ($size == 0) {
            pos($raw) = $p;
            $raw =~ /\G(?:[^\r\n]+\r\n)*\r\n/gc;    # trailers
            $p = pos($raw) // $p;
            return ($out, substr($raw, $p));
        }

        if (length($raw) - $p < $size + 2
            || substr($raw, $p + $size, 2) ne "\r\n")
        {
            Test::More::fail("$name - invalid chunked data received "
                             . "(chunk of $size bytes truncated or not "
                             . "followed by CRLF)");
            return ($out . substr($raw, $p, $size), undef);
        }
        $out .= substr($raw, $p, $size);
        $p += $size + 2;
    }
}

sub header {
    my ($res, $key) = @_;
    my $vals = $res && $res->{headers}{lc $key};
    return $vals ? join(', ', @$vals) : undef;
}


# ---- checks ----

sub run_requests {
    my ($block, $rep) = @_;
    my $name = $block->name;

    my $conns = get_requests($block);
    my $timeout = parse_time($block->timeout) // $Timeout;
    my $need_array = defined $block->pipelined_requests || @$conns > 1;
    my $req_idx = 0;

    for my $c (0 .. $#$conns) {
        my $raw = send_request($block, $conns->[$c], $timeout);
        my $n = $conns->[$c]{responses};

        for my $k (1 .. $n) {
            my ($res, $left);
            if (!defined $block->ignore_response) {
                ($res, $left) = parse_response($name, $raw,
                                               $conns->[$c]{head});
                if ($k == $n && defined $left) {
                    (my $l = $left) =~ s/([\0-\037\200-\377])/
                                         sprintf('\x{%02x}', ord $1)/eg;
                    warn "WARNING: $name - unexpected extra bytes after "
                         . "the response: \"$l\"\n";
                }
                check_response($block, $res, $req_idx, $rep, $need_array);
            }
            $raw = $left;

            if ($c < $#$conns || $k < $n) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $rep);
                check_access_log($block, $rep)
                    unless defined $block->ignore_response;
            }
            $req_idx++;
        }
    }

    sleep $block->wait if $block->wait;
    check_error_log($block, $rep);
    check_access_log($block, $rep) unless defined $block->ignore_response;
}

sub indexed {
    my ($name, $value, $idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$idx] if ref $value eq 'ARRAY';
        Test::More::fail("$name - You asked for many requests, the expected "
                         . "results should be arrays as well.");
        return undef;
    }
    return ref $value eq 'ARRAY' ? $value->[0] : $value;
}

sub parse_headers {
    my $s = shift // '';
    my @pairs;
    for my $line (split /\n/, $s) {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        if ($line =~ s/^!\s*//) {
            push @pairs, [$line, undef];
        } else {
            my ($key, $val) = split /\s*:\s*/, $line, 2;
            push @pairs, [$key, $val // ''];
        }
    }
    return @pairs;
}

sub check_response {
    my ($block, $res, $idx, $rep, $need_array) = @_;
    my $name = $block->name;
    my $code = $res->{code} // '';

    if (defined $block->error_code_like) {
        my $pat = indexed($name, $block->error_code_like, $idx, $need_array);
        Test::More::like($code, qr/$pat/sm, "$name - status code ok");
    } elsif (defined $block->error_code) {
        Test::More::is($code,
                       indexed($name, $block->error_code, $idx, $need_array),
                       "$name - status code ok");
    } else {
        Test::More::is($code, 200, "$name - status code ok");
    }

    for my $t (qw(like unlike)) {
        my $sec = "raw_response_headers_$t";
        my $v = $block->$sec;
        next unless defined $v;
        my $pat = indexed($name, $v, $idx, $need_array);
        no strict 'refs';
        &{"Test::More::$t"}($res->{raw_headers}, qr/$pat/s,
                            "$name - raw resp headers $t");
    }

    if (defined $block->response_headers) {
        my $spec = indexed($name, $block->response_headers, $idx,
                           $need_array);
        for my $pair (parse_headers($spec)) {
            my ($key, $val) = @$pair;
            if (!defined $val) {
                Test::More::unlike($res->{raw_headers},
                                   qr/^\s*\Q$key\E\s*:/mi,
                                   "$name - header $key not present in "
                                   . "the raw headers");
                next;
            }
            $val =~ s/\$ServerPort\b/$ServerPort/g;
            Test::More::is(header($res, $key) // '', $val,
                           "$name - header $key ok");
        }
    } elsif (defined $block->response_headers_like) {
        my $spec = indexed($name, $block->response_headers_like, $idx,
                           $need_array);
        for my $pair (parse_headers($spec)) {
            my ($key, $val) = @$pair;
            Test::More::like(header($res, $key) // '', qr/^$val$/,
                             "$name - header $key like ok");
        }
    }

    my $content = filter_body($block, $res->{content}, $idx);

    if (defined $block->response_body) {
        my $expected = indexed($name, $block->response_body, $idx,
                               $need_array);
        $expected =~ s/\$ServerPort\b/$ServerPort/g
            if defined $expected && !ref $expected;
        my $desc = "$name - response_body - response is expected "
                   . "(repeated req $rep, req $idx)";
        if (ref $expected) {
            $desc =~ s/response is expected/like/;
            Test::More::like($content, $expected, $desc);
        } else {
            Test::More::is($content, $expected, $desc);
        }
    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $t = defined $block->response_body_like ? 'like' : 'unlike';
        my $sec = "response_body_$t";
        my $pat = indexed($name, $block->$sec, $idx, $need_array) // '';
        $pat =~ s/\$ServerPort\b/$ServerPort/g unless ref $pat;
        (my $summary = $content // '') =~ s/\s+/ /g;
        $summary =~ s/^ | $//g;
        $summary = substr($summary, 0, 200) . '...' if length $summary > 200;
        no strict 'refs';
        &{"Test::More::$t"}($content, qr/$pat/s,
                            "$name - response_body_$t - response is "
                            . "expected ($summary)");
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $content, $idx, $rep, 0);
    }
}

sub filter_body {
    my ($block, $content, $idx) = @_;
    my $filters = $block->response_body_filters;
    return $content unless defined $filters && defined $content;

    if (!ref $filters) {
        $filters = [grep { length } split /\s+/, $filters];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }
    if (ref $filters->[0] eq 'ARRAY') {
        $filters = $filters->[$idx] // [];
    }

    for my $f (@$filters) {
        if (ref $f eq 'CODE') {
            $content = $f->($content);
        } elsif ($f eq 'md5_hex') {
            require Digest::MD5;
            $content = Digest::MD5::md5_hex($content);
        } elsif ($f eq 'sha1_hex') {
            require Digest::SHA;
            $content = Digest::SHA::sha1_hex($content);
        } elsif ($f =~ /^(?:uc|lc|ucfirst|lcfirst|length)$/) {
            $content = $f eq 'uc' ? uc $content
                     : $f eq 'lc' ? lc $content
                     : $f eq 'ucfirst' ? ucfirst $content
                     : $f eq 'lcfirst' ? lcfirst $content
                     : length $content;
        } else {
            bail_out($block->name . " - unknown filter \"$f\" in "
                     . "--- response_body_filters");
        }
    }
    return $content;
}

sub error_log_data {
    sleep $Sleep * 3;    # let log-phase lines reach the file

    my @lines;
    if ($CheckAccumErrLog || !$StartupRead) {
        push @lines, @StartupLines;
        $StartupRead = 1;
    }

    open my $in, '<', $ErrLogFile or return \@lines;
    seek $in, $ErrLogFilePos, 0 if !$CheckAccumErrLog && $ErrLogFilePos;
    push @lines, <$in>;
    $ErrLogFilePos = tell $in unless $CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub access_log_data {
    sleep $Sleep * 3;
    open my $in, '<', $AccLogFile or return [];
    my @lines = <$in>;
    return \@lines;
}

sub fmt_str {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

sub pattern_list {
    my $pats = shift;
    if (!ref $pats) {
        chomp $pats;
        return grep { length } split /\n+/, $pats;
    }
    return ($pats) if ref $pats eq 'Regexp';
    return @$pats;
}

sub line_matches {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

# --- error_log / no_error_log style checks against a list of lines.
sub check_patterns {
    my (%a) = @_;
    my ($name, $lines, $file, $tag, $sec, $dry) =
        @a{qw(name lines file tag section dry_run)};

    if (defined $a{must}) {
        for my $pat (pattern_list($a{must})) {
            SKIP: {
                Test::More::skip("$name - $sec - tests skipped due to $dry",
                                 1) if $dry;
                my $hit = grep { line_matches($_, $pat) } @$lines;
                if ($hit) {
                    Test::More::pass("$name - pattern \"$pat\" matches a "
                                     . "line in $file$tag");
                } else {
                    Test::More::fail("$name - pattern \"$pat\" should match "
                                     . "a line in $file$tag");
                }
            }
        }
    }

    if (defined $a{must_not}) {
        for my $pat (pattern_list($a{must_not})) {
            my $p = fmt_str("$pat");
            SKIP: {
                Test::More::skip("$name - no_$sec - tests skipped due to "
                                 . "$dry", 1) if $dry;
                my @hits = grep { line_matches($lines->[$_], $pat) }
                           0 .. $#$lines;
                if (!@hits) {
                    Test::More::pass("$name - pattern \"$p\" does not match "
                                     . "a line in $file$tag");
                }
                for my $i (@hits) {
                    my $ln = fmt_str($lines->[$i]);
                    Test::More::fail("$name - pattern \"$p\" should not "
                                     . "match any line in $file but matches "
                                     . "line \"$ln\"$tag");
                }
            }
        }
    }
}

sub check_error_log {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $lines = error_log_data();
    my $tag = " (req $rep)";

    my $grep = $block->grep_error_log;
    if (defined $grep) {
        $grep = $grep->[$rep] if ref $grep eq 'ARRAY';
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but "
                 . "--- grep_error_log is defined") unless defined $expected;
        $expected = $expected->[$rep] if ref $expected eq 'ARRAY';

        my $out = '';
        for my $line (@$lines) {
            if (ref $grep ? $line =~ $grep : $line =~ /\Q$grep\E/) {
                $out .= "$&\n" if $& !~ /\n/;
            }
        }
        is_str($out, $expected, "$name - grep_error_log_out$tag");
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but "
                 . "--- grep_error_log_out is defined");
    }

    check_patterns(name => $name, lines => $lines, file => 'error.log',
                   tag => $tag, section => 'error_log',
                   must => scalar $block->error_log,
                   must_not => scalar $block->no_error_log);

    # Like the real runner: loud warnings for severe messages nobody
    # asked about, and assertion failures always fail.
    my $wanted = join "\n", map { "$_" }
                 map { pattern_list($_) }
                 grep { defined } $block->error_log, $block->no_error_log;
    for my $level (qw(alert crit emerg)) {
        next if index($wanted, "[$level") >= 0;
        for my $line (grep { /\[$level\]/ } @$lines) {
            warn "WARNING: $name - " . fmt_str($line) . "\n";
        }
    }
    # a sanitizer report in a worker's stderr (make asan) is a failure
    # even when it reaches error.log instead of build/asan/logs
    my $fatal = join '|', '\bAssertion .*?failed\b', ': runtime error: ',
                          '==\d+==ERROR: \w+Sanitizer';
    for my $line (grep { /$fatal/ } @$lines) {
        chomp(my $l = $line);
        Test::More::fail("$name - $l");
    }
}

sub check_access_log {
    my ($block, $rep) = @_;
    return unless defined $block->access_log || defined $block->no_access_log;
    check_patterns(name => $block->name, lines => access_log_data(),
                   file => 'access.log', tag => " (req $rep)",
                   section => 'access_log',
                   must => scalar $block->access_log,
                   must_not => scalar $block->no_access_log);
}

sub check_shutdown_error_log {
    my ($block, $dry_run) = @_;
    $dry_run ||= $ENV{TEST_NGINX_NO_CLEAN} && 'TEST_NGINX_NO_CLEAN';
    return unless defined $block;
    return unless defined $block->shutdown_error_log
                  || defined $block->no_shutdown_error_log;
    check_patterns(name => $block->name,
                   lines => $dry_run ? [] : error_log_data(),
                   file => 'error.log', tag => '',
                   section => 'shutdown_error_log', dry_run => $dry_run,
                   must => scalar $block->shutdown_error_log,
                   must_not => scalar $block->no_shutdown_error_log);
}

sub failure_count {
    return scalar grep { !$_ } Test::More->builder->summary;
}

sub diag_logs {
    my $name = shift;
    my @out = ("$name - nginx.conf: $ConfFile");

    my $stderr = slurp($StderrFile);
    if ($stderr =~ /\S/) {
        my @l = split /^/m, $stderr;
        @l = @l[-20 .. -1] if @l > 20;
        push @out, "nginx stderr at startup:", map { "  $_" } @l;
    }

    if (open my $in, '<', $ErrLogFile) {
        my ($debug, @l) = (0);
        while (<$in>) {    # debug entries may span several lines
            $debug = /\[debug\]/ if m{^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[};
            push @l, $_ unless $debug;
        }
        @l = @l[-20 .. -1] if @l > 20;
        push @out, @l ? ("last non-debug lines of $ErrLogFile:",
                         map { "  $_" } @l)
                      : ("$ErrLogFile has no non-debug lines");
    }
    chomp @out;
    Test::More::diag(join "\n", @out);
}

1;

__END__

=head1 NAME

RecsysTestNginx::Runner - minimal Test::Nginx::Socket work-alike

=head1 SYNOPSIS

    use FindBin;
    use lib "$FindBin::Bin/lib";
    use RecsysTestNginx;  # real Test::Nginx::Socket if installed, else this

    repeat_each(1);
    plan tests => repeat_each() * (blocks() * 2);
    run_tests();

    __DATA__
    === TEST 1: hello
    --- config
        location = /t { return 200 "hi\n"; }
    --- request
    GET /t
    --- response_body
    hi

=head1 DESCRIPTION

Implements the subset of Test::Nginx::Socket this project uses, with the
same section semantics, test names and test counts, so a test file gives
the same results under both.  A block with a config gets a fresh server
root and a fresh nginx, started with C<nginx -p servroot/ -c
conf/nginx.conf>; the nginx of the previous block is stopped with QUIT
(KILL after 5 s) first, and END stops the last one.  A block without a
config sends its requests to the previous block's nginx as it is: no new
nginx.conf, no user_files, no restart (the first block must have one).

With TEST_NGINX_USE_HUP=1, as in the real runner, one nginx (master
process on) serves every block: for each block with a config the runner
empties the server root except the pid file, writes the block's files
and nginx.conf, sends USR1 (reopen the logs) then HUP, and waits until 20
requests in a row to C</ver> of an extra server named C<Test-Nginx>
answer the new configuration's version.  Shared memory, the helper
process and anything else that survives a reload carry over between
blocks.  must_die blocks still get an nginx of their own.
shutdown_error_log checks are skipped in this mode.

Sections: config, http_config, main_config, post_main_config, user_files,
init (evaluated after nginx starts, as in the real runner), request
(string or arrayref), more_headers, pipelined_requests, raw_request,
raw_request_middle_delay, timeout, abort, shutdown, wait, ignore_response,
error_code, error_code_like, response_headers, response_headers_like,
raw_response_headers_like/unlike, response_body, response_body_like,
response_body_unlike, response_body_filters, error_log, no_error_log,
grep_error_log, grep_error_log_out, access_log, no_access_log,
shutdown_error_log, no_shutdown_error_log, must_die, log_level,
server_name, skip_nginx, skip_eval, todo, ONLY, SKIP, LAST.

Environment: TEST_NGINX_BINARY, TEST_NGINX_LOAD_MODULES,
TEST_NGINX_SERVER_PORT / TEST_NGINX_PORT, TEST_NGINX_SERVROOT,
TEST_NGINX_NO_CLEAN, TEST_NGINX_LOG_LEVEL, TEST_NGINX_MASTER_PROCESS,
TEST_NGINX_TIMEOUT, TEST_NGINX_NO_SHUFFLE, TEST_NGINX_CHECK_ACCUM_ERR_LOG,
TEST_NGINX_WORKER_USER, TEST_NGINX_USE_HUP, TEST_NGINX_FORCE_RESTART_ON_TEST
(0: a block whose config equals the previous one keeps its nginx).  C<$TEST_NGINX_*> is expanded in the config
sections and user_files, as in the real runner.

Differences: request packets are sent in one write; with must_die (and
for the first check of each block) the error-log checks also see what
nginx printed on stderr while starting, since Debian's nginx logs there
until it opens error_log; C<$TEST_NGINX_HTML_DIR> is defined (the real
runner does not); temp paths are kept under the server root; relative
TEST_NGINX_LOAD_MODULES paths are made absolute; the configuration
version is read with a socket, not curl.  No valgrind, stap, HTTP/2,
HTTP/3, mocked TCP/UDP servers or check-leak modes.

=cut
