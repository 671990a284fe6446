# Stored user vectors (issue 11 item 1): "users:" in the catalog, built
# into users.bin next to the items.  ?user= ranks from the user's vector
# (fallback_level "user"), the user's stored seen list and the request's
# "seen" are excluded, an unknown user falls down the chain.  Bad users
# files are refused by the build, which keeps the served generation;
# bad "users:" keys fail nginx -t with file:line:column.  A PostgreSQL
# users table: a full build, an incremental one (an update, an insert, a
# soft delete), and a row deleted for good, which forces a full read.
#
# users-small (t/data/users-small.yaml, built by scripts/test-fixtures.sh):
# u1 = (1,0,0,0), seen apple and quince; u2 = (0,0,2,0); u3 = (0,0,0,1),
# seen salmon.  Cosines with (1,0,0,0): apple 1, quince 1, pear .994,
# plum .936, cherry .814, mystery .5, tuna .110, the others 0.

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use RecsysChecks;
use RecsysHelper;
use Test::More;

repeat_each(1);
no_shuffle();
plan('no_plan');

$ENV{TEST_NGINX_HTML_DIR} //= html_dir();

my $Data = $ENV{TEST_NGINX_DATA_DIR};
my $Conf = $ENV{TEST_NGINX_CONF_DIR};
my $Build = "$ENV{TEST_NGINX_BUILD_DIR}/recsys-build";

sub spew {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh;
}

# recsys-build on a YAML file: its exit status and what it printed
sub build {
    my ($yaml, @opts) = @_;
    my $out = `'$Build' @opts '$yaml' 2>&1`;
    return ($? >> 8, $out);
}

sub current {
    my ($dir) = @_;
    return readlink("$dir/current") // '';
}


# a users file refused: the generation served stays, and says why

{
    my $dir = "$Data/u44bad";
    spew("$Data/u44bad.yaml",
         "source: {type: file, path: $Conf/small.jsonl}\n"
         . "users: {path: $Data/u44bad.jsonl}\n"
         . "index: {path: $dir, dimension: 4}\n");
    spew("$Data/u44bad.jsonl",
         qq({"id": "u1", "vector": [1, 0, 0, 0]}\n));
    my ($rc, $out) = build("$Data/u44bad.yaml");
    is($rc, 0, 'good users file - builds') or diag($out);
    like($out, qr/, 1 users \(full\)/, 'good users file - 1 user');
    my $gen = current($dir);

    my @bad = (
        [ 'wrong dimension', qq({"id": "u1", "vector": [1, 0, 0]}\n),
          qr{users: \S+/u44bad\.jsonl:1: "vector" has 3 numbers, expected 4} ],
        [ 'duplicate id', qq({"id": "u1", "vector": [1, 0, 0, 0]}\n)
                          . qq({"id": "u1", "vector": [0, 1, 0, 0]}\n),
          qr{users: \S+/u44bad\.jsonl:2: duplicate user id "u1"} ],
        [ 'bad JSON line', qq({"id": "u1", "vector": [1, 0, 0, 0]}\n)
                           . qq({"id": "u2", "vector": [1, 0\n),
          qr{users: \S+/u44bad\.jsonl:2: invalid JSON near column \d+} ],
        [ 'zero vector', qq({"id": "u1", "vector": [0, 0, 0, 0]}\n),
          qr{users: \S+/u44bad\.jsonl:1: the vector has zero length} ],
        [ 'seen not an array', qq({"id": "u1", "vector": [1, 0, 0, 0],)
                               . qq( "seen": "apple"}\n),
          qr{users: \S+/u44bad\.jsonl:1: "seen" must be an array} ],
    );

    for my $b (@bad) {
        my ($what, $text, $re) = @$b;
        spew("$Data/u44bad.jsonl", $text);
        ($rc, $out) = build("$Data/u44bad.yaml");
        is($rc, 1, "$what - the build fails");
        like($out, $re, "$what - says where and why");
        is(current($dir), $gen, "$what - the served generation stays");
    }

    # what TEST 8 serves: the one good user of the first build
    spew("$Data/u44bad-serve.yaml",
         "source: {type: file, path: $Conf/small.jsonl}\n"
         . "index: {path: $dir, dimension: 4}\n");
}


# a PostgreSQL users table: full, incremental, then full again

my $HavePg = $ENV{RECSYS_DATABASE_URL} ? 1 : 0;

if (!$HavePg && ($ENV{RECSYS_REQUIRE_DATABASE} // '') eq '1') {
    die "RECSYS_REQUIRE_DATABASE=1 and RECSYS_DATABASE_URL is not set\n";
}

if ($HavePg) {
    my $dir = "$Data/u44pg";
    RecsysHelper::psql(<<'END') or die "cannot create the users table";
SET client_min_messages = warning;
DROP TABLE IF EXISTS users44;
CREATE TABLE users44 (
    id          text PRIMARY KEY,
    embedding   real[] NOT NULL,
    seen        text[],
    nickname    text,
    updated_at  timestamptz NOT NULL DEFAULT now() - interval '1 hour',
    deleted     boolean NOT NULL DEFAULT false
);
INSERT INTO users44 (id, embedding, seen) VALUES
    ('u1', '{1,0,0,0}', '{apple,quince}'),
    ('u2', '{0,0,1,0}', NULL),
    ('u3', '{0,0,0,1}', '{salmon,NULL,nope}');
END
    spew("$Data/u44pg.yaml",
         "source: {type: file, path: $Conf/small.jsonl}\n"
         . "users:\n"
         . "  type: postgresql\n"
         . "  dsn: \"\${RECSYS_DATABASE_URL}\"\n"
         . "  table: users44\n"
         . "index: {path: $dir, dimension: 4}\n");

    my ($rc, $out) = build("$Data/u44pg.yaml");
    is($rc, 0, 'postgresql users - the first build') or diag($out);
    like($out, qr/, 3 users \(full, watermark \d{4}-\d\d-\d\d [\d:.]+\+00\)/,
         'postgresql users - 3 users, read in full, a watermark');
    like($out, qr/warning: users: 1 seen ids are not in the catalog/,
         'postgresql users - the unknown seen id is a warning');

    RecsysHelper::psql(<<'END') or die "cannot change the users table";
UPDATE users44 SET embedding = '{1,0,0,0}', seen = '{pear}',
    updated_at = now() WHERE id = 'u2';
UPDATE users44 SET deleted = true, updated_at = now() WHERE id = 'u3';
INSERT INTO users44 (id, embedding, seen, updated_at)
    VALUES ('u4', '{0,0,0,1}', '{salmon,trout}', now());
END
    ($rc, $out) = build("$Data/u44pg.yaml");
    is($rc, 0, 'postgresql users - the incremental build') or diag($out);
    like($out, qr/, 3 users \(incremental, watermark /,
         'postgresql users - u1 copied, u2 and u4 read, u3 gone');

    # what TEST 13 serves: this generation, as the next build leaves it
    my $gen = current($dir);
    system('rm', '-rf', "$Data/u44pg-inc") == 0 or die;
    system('mkdir', '-p', "$Data/u44pg-inc/generations") == 0 or die;
    system('cp', '-a', "$dir/$gen", "$Data/u44pg-inc/$gen") == 0 or die;
    symlink($gen, "$Data/u44pg-inc/current") or die "symlink: $!";
    spew("$Data/u44pg-inc.yaml",
         "source: {type: file, path: $Conf/small.jsonl}\n"
         . "index: {path: $Data/u44pg-inc, dimension: 4}\n");

    # a row deleted for good: the live count says so, every row is read
    RecsysHelper::psql("DELETE FROM users44 WHERE id = 'u1';\n")
        or die "cannot delete";
    ($rc, $out) = build("$Data/u44pg.yaml");
    is($rc, 0, 'postgresql users - after a DELETE') or diag($out);
    like($out, qr/, 2 users \(full, watermark /,
         'postgresql users - a DELETE forces a full read');

    # the columns of a users source, checked before any row is read
    RecsysHelper::psql(<<'END') or die "cannot create the bad table";
SET client_min_messages = warning;
DROP TABLE IF EXISTS users44bad;
CREATE TABLE users44bad (id text, embedding real[], seen integer[]);
END
    spew("$Data/u44pg-bad.yaml",
         "source: {type: file, path: $Conf/small.jsonl}\n"
         . "users: {type: postgresql, dsn: \"\${RECSYS_DATABASE_URL}\","
         . " table: users44bad}\n"
         . "index: {path: $Data/u44pg-bad, dimension: 4}\n");
    ($rc, $out) = build("$Data/u44pg-bad.yaml");
    is($rc, 1, 'postgresql users, seen integer[] - fails');
    like($out, qr/users:\ postgresql:\ column\ "seen"\ is\ integer\[\],
                  \ expected\ text\[\]\ or\ varchar\[\]/x,
         'postgresql users, seen integer[] - says which column');

    # items and users both from PostgreSQL (the users' dsn: the items'):
    # no change publishes nothing; a changed user alone publishes, with
    # every item of the incremental items read
    RecsysHelper::psql(<<'END') or die "cannot create the items table";
SET client_min_messages = warning;
DROP TABLE IF EXISTS items44, users44c;
CREATE TABLE items44 (
    id          text PRIMARY KEY,
    embedding   real[] NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now() - interval '1 hour'
);
INSERT INTO items44 (id, embedding) VALUES
    ('a', '{1,0,0,0}'), ('b', '{0,1,0,0}'), ('c', '{0,0,1,0}'),
    ('d', '{0,0,0,1}'), ('e', '{1,1,0,0}');
CREATE TABLE users44c (LIKE users44 INCLUDING DEFAULTS);
INSERT INTO users44c (id, embedding, seen) VALUES
    ('x', '{1,0,0,0}', '{a}'), ('y', '{0,1,0,0}', '{b,e}');
END
    spew("$Data/u44both.yaml",
         "source: {type: postgresql, dsn: \"\${RECSYS_DATABASE_URL}\","
         . " table: items44}\n"
         . "users: {type: postgresql, table: users44c}\n"
         . "index: {path: $Data/u44both, dimension: 4}\n");
    ($rc, $out) = build("$Data/u44both.yaml");
    like($out, qr/published generation 1 \(full, 5 items.*, 2 users \(full/,
         'items and users from postgresql - the first build') or diag($out);
    ($rc, $out) = build("$Data/u44both.yaml");
    like($out, qr/no change, current is generation 1 \(incremental, 5 items/,
         'items and users from postgresql - no change, nothing published')
        or diag($out);
    RecsysHelper::psql("UPDATE users44c SET seen = '{b}', updated_at = now()"
                       . " WHERE id = 'y';\n") or die;
    ($rc, $out) = build("$Data/u44both.yaml");
    like($out, qr/generation 2 \(incremental, 5 items.*, 2 users \(incr/,
         'items and users from postgresql - a changed user publishes')
        or diag($out);

    spew("$Data/u44pg-serve.yaml",
         "source: {type: file, path: $Conf/small.jsonl}\n"
         . "index: {path: $dir, dimension: 4}\n");
}

add_block_preprocessor(sub {
    my $block = shift;

    if (defined $block->postgresql && !$HavePg) {
        $block->set_value("skip", "1");
    }

    RecsysChecks::block_defaults($block, <<"_EOC_");
    location = /r {
        recsys recommendations small;
    }
    location = /metrics {
        recsys_metrics;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: ?user= ranks from the stored vector, without the seen items
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/users-small.yaml;
--- request
GET /r?user=u1&k=4
--- ids: pear plum cherry mystery
--- fields
fallback_level=user
fallback=false
--- no_error_log
[error]



=== TEST 2: a user without a seen list: nothing excluded
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/users-small.yaml;
--- request
GET /r?user=u2&k=4
--- ids: carrot leek kale mystery
--- fields
fallback_level=user
--- no_error_log
[error]



=== TEST 3: "seen" in the request, with and without a stored list
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/users-small.yaml;
--- pipelined_requests eval
["GET /r?user=u2&seen=carrot,kale&k=3",
 "GET /r?user=u1&seen=pear,no-such-item&k=3"]
--- response_body_like eval
['"items":\[\{"id":"leek".*\{"id":"mystery".*\{"id":"trout"',
 '"items":\[\{"id":"plum".*\{"id":"cherry".*\{"id":"mystery"']
--- no_error_log
[error]



=== TEST 4: POST: user and seen in the body
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/users-small.yaml;
--- request
POST /r
{"user": "u1", "seen": ["pear", "plum"], "k": 2}
--- more_headers
Content-Type: application/json
--- ids: cherry mystery
--- fields
fallback_level=user
--- no_error_log
[error]



=== TEST 5: the stored seen list skips ids that are not items
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/users-small.yaml;
--- request
GET /r?user=u3&k=3
--- response_body_like eval
'"items":\[\{"id":"(?:tuna|trout)".*\{"id":"(?:tuna|trout)".*\{"id":"mystery"'
. '.*"fallback_level":"user"'
--- no_error_log
[error]



=== TEST 6: an unknown user falls down the chain: history, then popular
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/users-small.yaml;
--- pipelined_requests eval
["GET /r?user=nobody&history=carrot&k=2",
 "GET /r?user=nobody&k=2",
 "GET /metrics"]
--- response_body_like eval
['"items":\[\{"id":"leek".*"fallback":true.*"fallback_level":"history"',
 '"items":\[\{"id":"salmon".*"fallback":true.*"fallback_level":"popular"',
 'recsys_fallbacks_total\{catalog="small",level="popular"\} 1']
--- no_error_log
[error]



=== TEST 7: a catalog without users: ?user= answers popular
--- request
GET /r?user=u1&k=1
--- ids: salmon
--- fields
fallback_level=popular
fallback=true
--- no_error_log
[error]



=== TEST 8: the generation of the last good build serves its user
--- http_config
recsys_catalog small $TEST_NGINX_DATA_DIR/u44bad-serve.yaml;
--- request
GET /r?user=u1&k=2
--- response_body_like eval
'"items":\[\{"id":"(?:apple|quince)".*\{"id":"(?:apple|quince)"'
. '.*"fallback_level":"user"'
--- no_error_log
[error]



=== TEST 9: nginx -t: an unknown key in "users"
--- http_config
recsys_catalog c $TEST_NGINX_HTML_DIR/c.yaml;
--- config
location = /p { recsys popular; }
--- user_files
>>> c.yaml
source: {type: file, path: items.jsonl}
users:
  path: users.jsonl
  vectors: 8
index: {path: idx, dimension: 4}
--- must_die
--- error_log eval
qr{recsys catalog "c": \S+/c\.yaml:4:3: unknown key "vectors" in "users", expected one of: type, path, dsn, table, query, batch_size}



=== TEST 10: nginx -t: a bad users type
--- http_config
recsys_catalog c $TEST_NGINX_HTML_DIR/c.yaml;
--- config
location = /p { recsys popular; }
--- user_files
>>> c.yaml
source: {type: file, path: items.jsonl}
index: {path: idx, dimension: 4}
users: {type: csv, path: u.csv}
--- must_die
--- error_log eval
qr{c\.yaml:3:15: "type" must be one of file, postgresql, got "csv"}



=== TEST 11: nginx -t: a "table" with a file users source
--- http_config
recsys_catalog d $TEST_NGINX_HTML_DIR/d.yaml;
--- config
location = /p { recsys popular; }
--- user_files
>>> d.yaml
source: {type: file, path: items.jsonl}
index: {path: idx, dimension: 4}
users: {path: u.jsonl, table: people}
--- must_die
--- error_log eval
qr{d\.yaml:3:24: "table" is only valid with type postgresql}



=== TEST 12: nginx -t: postgresql users need a dsn when the items have none
--- http_config
recsys_catalog d $TEST_NGINX_HTML_DIR/d.yaml;
--- config
location = /p { recsys popular; }
--- user_files
>>> d.yaml
source: {type: file, path: items.jsonl}
index: {path: idx, dimension: 4}
users:
  type: postgresql
  table: people
--- must_die
--- error_log eval
qr{d\.yaml:4:3: "dsn" is required in "users" when the source is not postgresql}



=== TEST 13: postgresql users, incremental: u1 copied, u2 changed, u4 new, u3 gone
--- postgresql
--- http_config
recsys_catalog small $TEST_NGINX_DATA_DIR/u44pg-inc.yaml;
--- pipelined_requests eval
["GET /r?user=u1&k=2",
 "GET /r?user=u2&k=2",
 "GET /r?user=u4&k=2",
 "GET /r?user=u3&k=1"]
--- response_body_like eval
['"items":\[\{"id":"pear".*\{"id":"plum".*"fallback_level":"user"',
 '"items":\[\{"id":"(?:apple|quince)".*\{"id":"(?:apple|quince)"'
 . '.*"fallback_level":"user"',
 '"items":\[\{"id":"tuna".*\{"id":"mystery".*"fallback_level":"user"',
 '"fallback_level":"popular"']
--- no_error_log
[error]



=== TEST 14: postgresql users, full again after a DELETE: u1 gone too
--- postgresql
--- http_config
recsys_catalog small $TEST_NGINX_DATA_DIR/u44pg-serve.yaml;
--- pipelined_requests eval
["GET /r?user=u1&k=1",
 "GET /r?user=u3&k=1",
 "GET /r?user=u4&k=1"]
--- response_body_like eval
['"fallback_level":"popular"',
 '"fallback_level":"popular"',
 '"items":\[\{"id":"tuna".*"fallback_level":"user"']
--- no_error_log
[error]



=== TEST 15: the status says how many users the generation has
--- http_config
recsys_catalog small $TEST_NGINX_CONF_DIR/users-small.yaml;
recsys_catalog pg $TEST_NGINX_DATA_DIR/u44pg-serve.yaml;
--- config
location = /small { recsys_admin status small; }
location = /pg { recsys_admin status pg; }
--- postgresql
--- pipelined_requests eval
["GET /small", "GET /pg"]
--- response_body_like eval
['"generation":\{"number":1,"items":12,.*"size_bytes":\d+,"users":3,"users_watermark":null\}',
 '"size_bytes":\d+,"users":2,"users_watermark":"\d{4}-\d\d-\d\d [\d:.]+\+00"\}']
--- no_error_log
[error]
