# The helper with a PostgreSQL source (a real server: "make prove" starts
# a throwaway cluster with scripts/pg.sh and exports RECSYS_DATABASE_URL):
# a build from the table, an incremental rebuild that picks up an insert,
# an update and a delete, one that finds no change, and a database that
# is down: the builder backs off, opens the breaker, says so, and requests
# still answer; a failed full build is retried as a full one.  No answer
# carries the password.  An Azure-style user name ("name@server") before
# the password in the URI's query (issue 9, item 7): the password is in
# no answer, no error.log line, no recsys-build output and no file of the
# index, for a failing and a succeeding build; malformed DSNs are refused
# without being quoted.  Sections: see t/lib/RecsysHelper.pm.

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use RecsysChecks;
use RecsysHelper;
use File::Find;

repeat_each(1);
no_shuffle();
master_on();
workers(1);

# error_log patterns are checked after each request: against the whole
# log of the block, and a second after the answer (the helper logs a
# failure just after it publishes it in shared memory)
check_accum_error_log();

RecsysHelper::need_database();

plan('no_plan');

RecsysHelper::big_catalog();

# 50 rows, a vector each, changed an hour ago; p<i> has popularity i
RecsysHelper::psql(<<'END') or die "cannot create the test table";
SET client_min_messages = warning;
DROP TABLE IF EXISTS items21;
CREATE TABLE items21 (
    id          text PRIMARY KEY,
    embedding   real[] NOT NULL,
    title       text,
    category    text,
    popularity  real,
    attributes  jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted     boolean NOT NULL DEFAULT false
);
INSERT INTO items21
SELECT 'p' || i, ARRAY[1 + i % 5, 1, i % 3, 0.5]::real[], 'P ' || i,
       'c' || (i % 3), i, NULL, now() - interval '1 hour', false
FROM generate_series(1, 50) AS i;
DROP TABLE IF EXISTS items21f, items21f_away;
CREATE TABLE items21f AS SELECT * FROM items21;
END

# a served generation for the catalog whose database is down
{
    my $dir = $ENV{TEST_NGINX_DATA_DIR};
    open my $y, '>', "$dir/h21c-file.yaml" or die;
    print $y "source: {type: file, path: $ENV{TEST_NGINX_CONF_DIR}/small.jsonl}\n"
           . "index: {path: $dir/h21c, dimension: 4}\n";
    close $y;
    system("$ENV{TEST_NGINX_BUILD_DIR}/recsys-build", '-q',
           "$dir/h21c-file.yaml") == 0 or die "recsys-build failed";
}

# the role of the Azure-style DSNs; their DSNs reach the catalogs through
# the environment, as RECSYS_DATABASE_URL does
my $Pw = 'hunter2-T21';
my $Port = $ENV{RECSYS_PG_PORT} // 55432;
{
    open my $p, '|-', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
        $ENV{RECSYS_PG_ADMIN_URL} or die "psql: $!";
    print $p <<"END";
SET client_min_messages = warning;
DO \$\$ BEGIN CREATE ROLE "rs21\@corp" LOGIN;
EXCEPTION WHEN duplicate_object THEN NULL; END \$\$;
ALTER ROLE "rs21\@corp" PASSWORD '$Pw';
GRANT SELECT ON items21 TO "rs21\@corp";
END
    close $p;
    $? == 0 or die "cannot create the role rs21\@corp";
}
$ENV{RECSYS_T21_DSN_OK} =
    "postgresql://127.0.0.1:$Port/recsys?user=rs21\@corp&password=$Pw";
$ENV{RECSYS_T21_DSN_DOWN} = "postgresql://127.0.0.1:1/recsys"
    . "?user=rs21\@corp&password=$Pw&connect_timeout=2";

# every file under dir: none holds the password
sub no_password_in_files {
    my ($name, $dir) = @_;
    my @files;
    find(sub { push @files, $File::Find::name if -f }, $dir);
    ok(scalar @files, "$name - $dir has files");
    for my $f (@files) {
        open my $fh, '<', $f or die "$f: $!";
        local $/;
        my $data = <$fh>;
        unlike($data, qr/\Q$Pw\E/, "$name - no password in $f");
    }
}

# recsys-build with a DSN: its exit status and everything it printed
sub recsys_build {
    my ($dsn, $index) = @_;
    my $dir = $ENV{TEST_NGINX_DATA_DIR};
    open my $y, '>', "$dir/h21-cli.yaml" or die;
    print $y "source: {type: postgresql, dsn: \"\${RECSYS_T21_DSN}\","
           . " table: items21}\n"
           . "index: {path: $dir/$index, dimension: 4}\n";
    close $y;
    local $ENV{RECSYS_T21_DSN} = $dsn;
    my $bin = "$ENV{TEST_NGINX_BUILD_DIR}/recsys-build";
    my $out = `'$bin' '$dir/h21-cli.yaml' 2>&1`;
    return ($? >> 8, $out);
}

{
    my ($rc, $out) = recsys_build($ENV{RECSYS_T21_DSN_DOWN}, 'h21-cli');
    is($rc, 1, 'recsys-build, database down - fails');
    like($out, qr{\?user=rs21\@corp&password=\*\*\*&},
         'recsys-build, database down - names the DSN, redacted');
    unlike($out, qr/\Q$Pw\E/, 'recsys-build, database down - no password');

    for my $dsn ("host=127.0.0.1 port=$Port junk password=$Pw",
                 "password=$Pw host=127.0.0.1 port=$Port sslmode",
                 "postgresql://rs21%40corp:$Pw%zz\@127.0.0.1:$Port/recsys",
                 "postgresql://rs21%40corp:$Pw\@x\@127.0.0.1:$Port/recsys",
                 "postgresql://127.0.0.1:$Port?user=rs21\@corp&password=$Pw")
    {
        ($rc, $out) = recsys_build($dsn, 'h21-cli');
        is($rc, 1, "recsys-build, malformed DSN - fails");
        like($out, qr/not a usable connection string \(.* at byte \d+\)/,
             "recsys-build, malformed DSN - says where");
        unlike($out, qr/\Q$Pw\E/,
               "recsys-build, malformed DSN - no password");
    }

    ($rc, $out) = recsys_build($ENV{RECSYS_T21_DSN_OK}, 'h21-cli');
    is($rc, 0, 'recsys-build, Azure-style user - builds') or diag($out);
    unlike($out, qr/\Q$Pw\E/, 'recsys-build, Azure-style user - no password');
    my $m = "$ENV{TEST_NGINX_DATA_DIR}/h21-cli/current/manifest.json";
    open my $fh, '<', $m or die "$m: $!";
    local $/;
    like(<$fh>, qr{"source":\s*"postgresql://127\.0\.0\.1:\d+/recsys
                   \?user=rs21\@corp&password=\*\*\*"}x,
         'recsys-build, Azure-style user - manifest source redacted');
    no_password_in_files('recsys-build, Azure-style user',
                         "$ENV{TEST_NGINX_DATA_DIR}/h21-cli");
}

# --- pg: NAME INDEX TABLE DSN: the user file NAME.yaml, a catalog of
# TABLE read with DSN into $TEST_NGINX_DATA_DIR/INDEX (more lines of the
# section are more of its YAML), and "recsys_catalog NAME
# ../html/NAME.yaml;" as http_config; --- locations: see RecsysHelper.pm
add_block_preprocessor(\&RecsysHelper::sections);
add_block_preprocessor(sub {
    my $block = shift;
    return unless defined $block->pg;

    my ($head, $yaml) = split /\n/, $block->pg, 2;
    my ($name, $index, $table, $dsn) = split ' ', $head;
    $block->set_value(user_files => ">>> $name.yaml\nsource:\n"
        . "  type: postgresql\n  dsn: \"$dsn\"\n  table: $table\n"
        . "index: {path: \$TEST_NGINX_DATA_DIR/$index, dimension: 4}\n"
        . ($yaml // ''));
    $block->set_value(http_config =>
                      "recsys_catalog $name ../html/$name.yaml;\n");
});

run_tests();

no_password_in_files('TEST 5', "$ENV{TEST_NGINX_DATA_DIR}/h21e");

__DATA__

=== TEST 1: the first build reads the table; status shows the database
--- pg: pg h21a items21 ${RECSYS_DATABASE_URL}
--- locations: p status
--- wait_idle: 0:1
--- no_secret
--- request eval
["GET /admin/index/status", "GET /admin/index/status", "GET /p?k=100"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
['"catalog":"pg"',
 '"generation":\{"number":1,"items":50,.*"source_type":"postgresql","watermark":"[^"]+".*"database":\{"state":"ok","last_contact":"[^"]+","latency_ms":\d+\},"builds":\[\{"id":1,"success":true,"type":"full","trigger":"start","generation":1,"items":50',
 '"count":50,"k":100,"generation":1']
--- timeout: 60



=== TEST 2: an incremental rebuild picks up an insert, an update and a delete
--- pg: pg h21a items21 ${RECSYS_DATABASE_URL}
--- locations: p status rebuild
--- sql_at: 0
--- sql
INSERT INTO items21 VALUES ('p51', ARRAY[1, 2, 3, 4], 'P 51', 'c0', 1000,
                            NULL, now(), false);
UPDATE items21 SET title = 'P one', popularity = 999, updated_at = now()
 WHERE id = 'p1';
UPDATE items21 SET deleted = true, updated_at = now() WHERE id = 'p50';
--- wait_idle: 1:1
--- no_secret
--- request eval
["GET /p?k=3", "POST /admin/index/rebuild", "GET /admin/index/status",
 "GET /p?k=3"]
--- error_code eval
[200, 202, 200, 200]
--- response_body_like eval
['^\{"items":\[\{"id":"p50",.*"id":"p49",.*"id":"p48",.*"generation":1,',
 '"build_id":\d+',
 '"generation":\{"number":2,"items":50,.*"builds":\[\{"id":\d+,"success":true,"type":"incremental","trigger":"admin","generation":2,"items":50',
 '^\{"items":\[\{"id":"p51",.*"id":"p1","score":999,"title":"P one".*"id":"p49",.*"generation":2,']
--- timeout: 60



=== TEST 3: the database is down: backoff, breaker open, the old index serves
--- pg
down h21c items21 postgresql://recsys:s3cret-Pw@127.0.0.1:1/recsys?connect_timeout=2
maintenance:
  build_on_start: always
  backoff_initial: 1s
  backoff_max: 2s
  breaker_threshold: 2
--- locations: p status detailed
--- wait_failures: 0:2
--- request eval
["GET /p?k=1", "GET /admin/index/status", "GET /p?k=1",
 "GET /health/detailed"]
--- error_code eval
[200, 200, 200, 200]
--- response_headers_like eval
["X-Index-Generation: 1", "", "X-Index-Generation: 1", ""]
--- response_body_like eval
['"generation":1',
 '"builder":\{"state":"backing_off",.*"breaker":\{"state":"open","consecutive_failures":\d+,"threshold":2\}.*"next_build":"[^"]+".*"database":\{"state":"failing",.*"builds":\[\{"id":\d+,"success":false,.*"trigger":"retry".*"error":"[^"]+"',
 '"generation":1',
 '^\{"status":"degraded","checks":\{"catalogs":\{"down":\{"status":"warn","index":\{"status":"pass".*"builder":\{"state":"backing_off",.*"breaker":"open",.*"status":"warn","reason":"the circuit breaker is open: builds keep failing"\},"database":\{"state":"failing"']
--- response_body_unlike eval
["s3cret-Pw", "s3cret-Pw", "s3cret-Pw", "s3cret-Pw"]
--- timeout: 60



=== TEST 4: an Azure-style user before the password, database down
A catalog of its own: the helper state of TEST 3's "down" survives a
reload (TEST_NGINX_USE_HUP=1).
--- pg
down4 h21c items21 ${RECSYS_T21_DSN_DOWN}
maintenance:
  build_on_start: always
  backoff_initial: 1s
  backoff_max: 2s
--- locations: status
--- wait_failures: 0:1
--- request eval
["GET /admin/index/status", "GET /admin/index/status"]
--- error_code eval
[200, 200]
--- response_body_like eval
['"catalog":"down4"',
 '"database":\{"state":"failing".*"error":"[^"]*\\?user=rs21@corp&password=\\*\\*\\*&connect_timeout=2']
--- response_body_unlike eval
["hunter2-T21", "hunter2-T21"]
--- wait: 1
--- error_log
?user=rs21@corp&password=***&connect_timeout=2
--- no_error_log
hunter2-T21
--- timeout: 60



=== TEST 5: an Azure-style user before the password, the build succeeds
--- pg: azure h21e items21 ${RECSYS_T21_DSN_OK}
--- locations: p status
--- wait_idle: 0:1
--- request eval
["GET /admin/index/status", "GET /admin/index/status", "GET /p?k=1"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
['"catalog":"azure"',
 '"generation":\{"number":1,"items":50,.*"builds":\[\{"id":\d+,"success":true',
 '"count":1,']
--- response_body_unlike eval
["hunter2-T21", "hunter2-T21", "hunter2-T21"]
--- no_error_log eval
# under TEST_NGINX_USE_HUP=1 the helper of TEST 4's "down4" may still log
# its failed retry after the reload; any other error fails the block
["hunter2-T21", qr/\[error\](?!.*catalog "down4")/]



=== TEST 6: a rebuild that finds no change publishes nothing, and says so
--- pg: pg h21a items21 ${RECSYS_DATABASE_URL}
--- locations: p status rebuild
--- wait_idle: 1:1
--- no_secret
--- request eval
["GET /p?k=1", "POST /admin/index/rebuild", "GET /admin/index/status",
 "GET /p?k=1"]
--- error_code eval
[200, 202, 200, 200]
--- response_headers_like eval
["X-Index-Generation: 2", "", "", "X-Index-Generation: 2"]
--- response_body_like eval
['"generation":2',
 '"build_id":\d+',
 '"generation":\{"number":2,.*"builds":\[\{"id":\d+,"success":true,"type":"incremental","trigger":"admin","generation":2,"items":50,[^\}]*"published":false\}',
 '"generation":2']
--- log_has: 2 recsys catalog "pg": build \d+ found no change, generation 2 still served \(50 items,
--- no_error_log eval
[qr/recsys catalog "pg": build \d+ published generation/]
--- timeout: 60



=== TEST 7: a failed {"full": true} rebuild is retried as a full build
--- pg
full h21f items21f ${RECSYS_DATABASE_URL}
maintenance: {backoff_initial: 1s, backoff_max: 1s}
--- locations: status rebuild
--- wait_idle: 0:1 3:3
--- wait_failures: 2:1
--- sql_steps
-- after request 1
ALTER TABLE items21f RENAME TO items21f_away;
-- after request 3
ALTER TABLE items21f_away RENAME TO items21f;
--- more_headers
Content-Type: application/json
--- no_secret
--- request eval
["GET /admin/index/status", "GET /admin/index/status",
 "POST /admin/index/rebuild\n{\"full\": true}", "GET /admin/index/status",
 "GET /admin/index/status"]
--- error_code eval
[200, 200, 202, 200, 200]
--- response_body_like eval
['"catalog":"full"',
 '"builds":\[\{"id":\d+,"success":true,"type":"full","trigger":"start"',
 '"build_id":\d+,"full":true',
 '"builds":\[.*\{"id":\d+,"success":false,"type":"full","trigger":"admin"',
 '"builder":\{"state":"idle".*"builds":\[\{"id":\d+,"success":true,"type":"full","trigger":"retry","generation":2,']
--- timeout: 60
