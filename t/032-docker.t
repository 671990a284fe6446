# docker/: what can be checked without a docker engine (none runs on the
# project's machines).  compose.yaml parses (PyYAML) and wires the
# services as the docs say; the Dockerfile's stages, user, HEALTHCHECK and
# COPY sources; .dockerignore keeps build/ out; the database image's SQL
# loads the demo items into a real PostgreSQL; and the entrypoint, run
# outside a container against that database and the real nginx, refuses
# a bad environment and otherwise serves the catalog from PostgreSQL with
# the admin token from the environment.

use strict;
use warnings;
use Test::More;
use FindBin;
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $root  = "$FindBin::Bin/..";
my $build = $ENV{TEST_NGINX_BUILD_DIR} // "$root/build";
my $nginx = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
my $port  = $ENV{TEST_NGINX_PORT} // 1984;
my $dir   = "$build/t/docker";
my $token = 'tok-0123456789abcdef';

sub slurp { my $f = shift; open my $h, '<', $f or return ''; local $/; <$h> }

remove_tree($dir);
make_path($dir);

# ---- compose.yaml ----

my $py = '/usr/bin/python3';    # Debian's, with python3-yaml
my $json = `$py -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' $root/docker/compose.yaml`;
is($?, 0, 'compose.yaml parses as YAML');
my $c = eval { decode_json($json) } // {};
my $db = $c->{services}{db} // {};
my $rs = $c->{services}{recsys} // {};
is_deeply([sort keys %{$c->{services} // {}}], [qw(db recsys)],
          'two services: db and recsys');
for my $s ([db => $db], [recsys => $rs]) {
    my ($name, $svc) = @$s;
    is($svc->{build}{context}, '..', "$name builds from the checkout");
    ok(-f "$root/docker/$svc->{build}{context}/$svc->{build}{dockerfile}",
       "$name: its Dockerfile exists relative to the context");
}
is($db->{build}{target}, 'db', 'db is the Dockerfile\'s db stage');
is($rs->{build}{target}, 'runtime', 'recsys is the runtime stage');
like($rs->{environment}{RECSYS_ADMIN_TOKEN} // '',
     qr/^\$\{RECSYS_ADMIN_TOKEN:\?[^}]+\}$/,
     'the admin token comes from the environment and is required');
like($rs->{environment}{RECSYS_DATABASE_URL} // '',
     qr{^postgresql://recsys:\$\{POSTGRES_PASSWORD\}\@db:5432/shop$},
     'the catalog reads the db service');
is($db->{environment}{POSTGRES_DB}, 'shop', 'the database is shop');
is($rs->{depends_on}{db}{condition}, 'service_healthy',
   'recsys waits for a healthy database');
ok($db->{healthcheck}{test}, 'db has a healthcheck');
ok($rs->{read_only}, 'the recsys container is read-only');
my ($tmpfs) = grep { m{^/run/recsys} } @{$rs->{tmpfs} // []};
like($tmpfs // '', qr/uid=10001,gid=10001/,
     '/run/recsys is a tmpfs of the image\'s user');
ok(grep({ $_ eq '127.0.0.1:8080:8080' } @{$rs->{ports} // []}),
   'the API is published on 127.0.0.1:8080');

# ---- Dockerfile and .dockerignore ----

my $df = slurp("$root/docker/Dockerfile");
my @stages = $df =~ /^FROM\s+\S+\s+AS\s+(\S+)/mg;
is_deeply(\@stages, [qw(build db runtime)],
          'stages build, db, runtime (the last: the default)');
my ($runtime) = $df =~ /^FROM \S+ AS runtime\n(.*)\z/ms;
like($runtime, qr/^COPY --from=build \/tmp\/recsys\.deb/m,
     'the runtime stage installs the package from the build stage');
like($runtime, qr/apt-get install -y --no-install-recommends nginx-core/,
     'with the stock nginx');
my ($user) = $runtime =~ /^USER\s+(\S+)/m;
ok($user && $user ne 'root' && $user ne '0', "runs as $user, not root");
like($runtime, qr/^HEALTHCHECK .*?CMD curl .*?\/health\/ready/ms,
     'HEALTHCHECK on /health/ready');
like($df, qr/^ENTRYPOINT \["\/usr\/local\/bin\/recsys-entrypoint"\]/m,
     'the entrypoint');
like($runtime, qr/useradd .*--uid 10001/s, 'the user is uid 10001');
my @ignore = grep { /\S/ && !/^#/ } split /\n/, slurp("$root/.dockerignore");
ok(grep({ $_ eq 'build/' } @ignore), '.dockerignore leaves build/ out');
# what COPY takes from the context must exist and not be ignored
my @copies;
while ($df =~ /^COPY (?!--from)((?:[^\n]|\\\n)+)/mg) {
    (my $args = $1) =~ s/\\\n/ /g;
    my @w = split ' ', $args;
    pop @w;
    push @copies, @w;
}
ok(@copies >= 4, 'COPY lines found: ' . join(' ', @copies));
for my $src (@copies) {
    ok(-e "$root/$src", "COPY source $src exists");
    ok(!grep({ my $i = $_; $i =~ s{/$}{}; $src =~ m{^\Q$i\E(/|$)} } @ignore),
       "COPY source $src is not in .dockerignore");
}

# ---- the database image's SQL in a real PostgreSQL ----

my $url = $ENV{RECSYS_DATABASE_URL};
my $admin = $ENV{RECSYS_PG_ADMIN_URL};
SKIP: {
    if (!$url || !$admin) {
        fail('RECSYS_DATABASE_URL and RECSYS_PG_ADMIN_URL are set')
            if $ENV{RECSYS_REQUIRE_DATABASE};
        skip 'no database (RECSYS_DATABASE_URL, RECSYS_PG_ADMIN_URL)', 1;
    }

    system("psql -q -X '$admin' -c 'DROP DATABASE IF EXISTS t032' "
           . "-c 'CREATE DATABASE t032 OWNER recsys' >/dev/null 2>&1");
    is($?, 0, 'a database for the test');
    (my $t032 = $url) =~ s{/[^/?]+(\?|$)}{/t032$1};

    system("$build/recsys-gen demo > $dir/items.jsonl");
    system("$root/docker/items-sql.sh < $dir/items.jsonl "
           . "> $dir/02-demo-items.sql");
    is($?, 0, 'items-sql.sh writes the SQL of the demo items');
    for my $f ("$root/docker/initdb/01-schema.sql",
               "$dir/02-demo-items.sql",
               "$root/docker/initdb/03-load.sql") {
        my $out = `psql -q -X -v ON_ERROR_STOP=1 '$t032' -f $f 2>&1`;
        is($?, 0, "psql -f " . ($f =~ s{.*/}{}r)) or diag($out);
    }
    my $lines = () = slurp("$dir/items.jsonl") =~ /\n/g;
    chomp(my $n = `psql -At -X '$t032' -c 'SELECT count(*) FROM items'`);
    is($n, $lines, "every demo item is a row ($lines)");
    my ($first) = slurp("$dir/items.jsonl") =~ /^(.*)$/m;
    my $item = decode_json($first);
    open my $ph, '-|', 'psql', '-At', '-X', '-F', "\t", $t032, '-c',
        'SELECT title, array_length(embedding, 1), attributes FROM items '
        . "WHERE id = '$item->{id}'" or die;
    chomp(my $row = do { local $/; <$ph> } // '');
    close $ph;
    my ($title, $dims, $attrs) = split /\t/, $row;
    is($title, $item->{title}, "a row keeps its title ($title)");
    is($dims, 32, 'its 32 numbers');
    is_deeply(eval { decode_json($attrs) }, $item->{attributes},
              'and its attributes');

    # ---- the entrypoint, outside a container ----

    my %env = (
        RECSYS_RUN_DIR       => "$dir/run",
        RECSYS_CONF_TEMPLATE => "$root/conf/recsys-production.conf",
        RECSYS_CATALOG       => "$root/docker/catalog.yaml",
        RECSYS_MODULES_CONF  => "$dir/modules.conf",
        RECSYS_INDEX_DIR     => "$dir/index",
        RECSYS_DATABASE_URL  => $t032,
        RECSYS_LISTEN        => $port,
        RECSYS_TRUSTED_PROXIES => '127.0.0.1',
        RECSYS_ADMIN_ALLOW   => '10.0.0.0/8 192.0.2.0/24',
        NGINX_BIN            => $nginx,
    );
    open my $m, '>', "$dir/modules.conf" or die;
    print $m "load_module $build/ngx_http_recsys_module.so;\n";
    close $m;

    # runs the entrypoint with %env + @_; returns (exit status, output)
    my $entry = sub {
        my %e = (RECSYS_ADMIN_TOKEN => undef, %env, @_);
        my $envs = join ' ', (map { "-u $_" } grep { !defined $e{$_} }
                                                   sort keys %e),
                             map { "$_='$e{$_}'" } grep { defined $e{$_} }
                                                   sort keys %e;
        my $out = `env $envs $root/docker/entrypoint.sh 2>&1 </dev/null`;
        return ($? >> 8, $out);
    };

    is(`$root/docker/entrypoint.sh echo args run instead`,
       "args run instead\n", 'with arguments it runs them instead');
    my ($st, $out) = $entry->();
    is($st, 1, 'no RECSYS_ADMIN_TOKEN: exit 1');
    like($out, qr/RECSYS_ADMIN_TOKEN is not set/, 'and says so');
    ($st, $out) = $entry->(RECSYS_ADMIN_TOKEN => 'abc"def;ghijklmnop');
    is($st, 1, 'a token with a quote: exit 1');
    like($out, qr/only A-Z a-z 0-9/, 'and says which characters');
    ($st, $out) = $entry->(RECSYS_ADMIN_TOKEN => 'short');
    like($out, qr/16 to 256 characters, got 5/, 'a short token: refused');
    ($st, $out) = $entry->(RECSYS_ADMIN_TOKEN => $token,
                           RECSYS_DATABASE_URL => undef);
    like($out, qr/RECSYS_DATABASE_URL is not set/, 'no database: refused');
    ($st, $out) = $entry->(RECSYS_ADMIN_TOKEN => $token,
                           RECSYS_ADMIN_ALLOW => '10.0.0.0/8;deny');
    like($out, qr/not an address or network: "10.0.0.0\/8;deny"/,
         'an allow list with a ";" is refused');

    # the real start: nginx in the foreground, the entrypoint's pid
    my $pid = fork // die;
    if ($pid == 0) {
        open STDOUT, '>', "$dir/stdout" or die;
        open STDERR, '>', "$dir/stderr" or die;
        $ENV{$_} = $env{$_} for keys %env;
        $ENV{RECSYS_ADMIN_TOKEN} = $token;
        exec "$root/docker/entrypoint.sh" or die;
    }

    my $get = sub {
        my ($uri, @h) = @_;
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Timeout => 5)
            or return (0, '');
        print $s "GET $uri HTTP/1.0\r\nHost: localhost\r\n"
                 . join('', map { "$_\r\n" } @h) . "\r\n";
        local $/;
        my $r = <$s> // '';
        my ($code) = $r =~ m{^HTTP/1\.\d (\d+)};
        my ($body) = $r =~ m{\r\n\r\n(.*)\z}s;
        return ($code // 0, $body // '', $r);
    };

    my $t0 = time;
    my ($code, $body);
    while (time - $t0 < 60) {
        ($code, $body) = $get->('/health/ready');
        last if $code == 200 || waitpid($pid, WNOHANG) == $pid;
        sleep 0.3;
    }
    is($code, 200, 'ready: the helper built the catalog from PostgreSQL')
        or diag(slurp("$dir/stderr"));
    is((stat "$dir/run/admin-token.conf")[2] & 07777, 0600,
       'the token file is 0600');
    ($code, $body) = $get->('/v1/popular?k=3');
    is($code, 200, '/v1/popular answers');
    is(scalar @{(eval { decode_json($body) } // {})->{items} // []}, 3,
       'with 3 items');
    ($code, $body) = $get->('/admin/index/status');
    is($code, 401, 'admin without the token: 401');
    ($code, $body) = $get->('/admin/index/status',
                            "Authorization: Bearer $token");
    is($code, 200, 'admin with the token from the environment: 200');
    like($body, qr/"catalog":"catalog"/, 'the status of the catalog');
    ($code) = $get->('/admin/index/status', "Authorization: Bearer $token",
                     'X-Forwarded-For: 203.0.113.5');
    is($code, 403, 'admin from an address outside RECSYS_ADMIN_ALLOW: 403');
    ($code) = $get->('/admin/index/status', "Authorization: Bearer $token",
                     'X-Forwarded-For: 192.0.2.7');
    is($code, 200, 'and from one inside it: 200');
    my (undef, undef, $raw) = $get->('/v1/popular?k=1');
    like($raw, qr/^X-Content-Type-Options: nosniff\r$/m,
         'the production headers are there');

    kill 'QUIT', $pid;
    $t0 = time;
    sleep 0.1 until waitpid($pid, WNOHANG) == $pid || time - $t0 > 20;
    my @log = grep { /^\{/ } split /\n/, slurp("$dir/stdout");
    ok(@log >= 5, 'the JSON access log goes to stdout (' . @log . ' lines)');
    my $line = eval { decode_json($log[-1] // '') } // {};
    like($line->{correlation_id} // '', qr/^[0-9a-f]{32}$/,
         'a log line is JSON with the correlation id');
    like(slurp("$dir/stderr"), qr/build 1 .*started/,
         'nginx\'s error log goes to stderr');

    system("psql -q -X '$admin' -c 'DROP DATABASE IF EXISTS t032'");
}

remove_tree($dir) if Test::More->builder->is_passing;
done_testing();
