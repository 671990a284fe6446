# Batches (issue 11 item 7): POST {"queries": [...]} to search and
# recommendations answers {"results": [...]} in order, each the answer the
# query alone gets or its own error object; the limit (recsys_max_batch),
# bad batches, nested batches, mixed shapes.

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use RecsysChecks;
use JSON::PP;
use Test::More;

repeat_each(1);
no_shuffle();
plan('no_plan');

$ENV{TEST_NGINX_HTML_DIR} //= html_dir();

our $Http = <<"_EOC_";
    recsys_catalog small $ENV{TEST_NGINX_CONF_DIR}/small.yaml;
    recsys_catalog rs $ENV{TEST_NGINX_CONF_DIR}/ranked-small.yaml;
    recsys_catalog demo $ENV{TEST_NGINX_CONF_DIR}/demo.yaml;
_EOC_

our $Locations = <<'_EOC_';
    location = /v1/search {
        recsys search small;
    }
    location = /v1/recommendations {
        recsys recommendations small;
    }
    location = /two {
        recsys search small;
        recsys_max_batch 2;
    }
    location = /rs {
        recsys recommendations rs;
    }
    location = /demo/search {
        recsys search demo;
    }
    location = /demo/rec {
        recsys recommendations demo;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Http)
        if !defined $block->http_config;
    $block->set_value("config", $Locations) if !defined $block->config;
    $block->set_value("more_headers", "Content-Type: application/json")
        if !defined $block->more_headers;
});


# --- results: one line per result of request 0, in order:
#     ids a b c           its items
#     error code status   its error object (code, status)

# --- same_as_singles: request 0 is a batch, requests 1..N the same queries
#     one at a time: result i is answer i, field for field

our @Answers;

add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run;

    my $name = $block->name;
    my $json = eval { decode_json($body) };

    ok($json, "$name #$req_idx - valid JSON") or return;

    if (defined $block->results && $req_idx == 0) {
        my @want = grep { /\S/ } split /\n/, $block->results;
        my $res = $json->{results};

        is(ref $res, 'ARRAY', "$name - results is an array") or return;
        is(scalar @$res, scalar @want, "$name - one result a query");
        is($json->{count}, scalar @want, "$name - count");

        for my $i (0 .. $#want) {
            my ($kind, @rest) = split ' ', $want[$i];
            my $r = $res->[$i];

            if ($kind eq 'ids') {
                is(join(' ', map { $_->{id} } @{ $r->{items} || [] }),
                   join(' ', @rest), "$name - result $i ids");
                ok(!exists $r->{error}, "$name - result $i no error");
            } else {
                is($r->{error}{code}, $rest[0], "$name - result $i code");
                is($r->{error}{status}, $rest[1],
                   "$name - result $i status");
                ok(length $r->{error}{message},
                   "$name - result $i message");
            }
        }
    }

    if (defined $block->same_as_singles) {
        @Answers = () if $req_idx == 0;
        push @Answers, $json;

        my $n = scalar @{ $Answers[0]{results} };

        if ($req_idx == $n) {
            ok($n > 0, "$name - $n results");

            for my $i (1 .. $n) {
                my $single = $Answers[$i];
                my $r = $Answers[0]{results}[$i - 1];
                # a single error has no status: the HTTP status is it
                delete $r->{error}{status} if $r->{error};
                is_deeply($r, $single, "$name - result " . ($i - 1)
                          . " is the single answer");
            }
        }
    }
});


# random vectors of the demo catalog's dimension, fixed by srand

sub demo_queries {
    my ($n) = @_;
    srand(46);
    my @q;
    for (1 .. $n) {
        push @q, [ map { 0 + sprintf('%.4f', rand() - 0.5) } 1 .. 32 ];
    }
    return @q;
}

# POST requests of JSON bodies, for pipelined_requests

sub post {
    my ($uri, @bodies) = @_;
    return [ map { "POST $uri\n$_" } @bodies ];
}

run_tests();

__DATA__

=== TEST 1: search: three queries, three results in order
--- request
POST /v1/search
{"queries": [{"vector": [0, 0, 1, 0], "k": 2},
             {"vector": [1, 0, 0, 0], "category": "fish"},
             {"vector": [0, 0, 0, 1], "k": 1}]}
--- error_code: 200
--- response_headers
Content-Type: application/json
X-Index-Generation: 1
--- results
ids carrot leek
ids tuna salmon trout
ids salmon
--- no_error_log
[error]



=== TEST 2: one bad query fails alone, with the single query's error
--- request
POST /v1/search
{"queries": [{"vector": [0, 0, 1, 0], "k": 2},
             {"vector": [1, 0, 0]},
             {"k": 2},
             {"vector": [0, 0, 0, 0]},
             {"vector": [0, 0, 0, 1], "k": 0},
             {"vector": [0, 0, 0, 1], "k": 1}]}
--- error_code: 200
--- results
ids carrot leek
error wrong_dimension 422
error bad_parameter 400
error zero_vector 422
error bad_parameter 400
ids salmon
--- no_error_log
[error]



=== TEST 3: the per-query error is the single answer's error, word for word
--- pipelined_requests eval
main::post('/v1/search',
    '{"queries": [{"vector": [1, 0, 0]}, {"k": 2}, {"vector": [0, 0, 0, 0]}]}',
    '{"vector": [1, 0, 0]}', '{"k": 2}', '{"vector": [0, 0, 0, 0]}')
--- error_code eval
[200, 422, 400, 422]
--- same_as_singles
--- no_error_log
[error]



=== TEST 4: an empty batch is a batch of no results
--- request
POST /v1/search
{"queries": []}
--- error_code: 200
--- response_body
{"results":[],"count":0,"generation":1}
--- no_error_log
[error]



=== TEST 5: queries must be an array: 400 for the whole request
--- pipelined_requests eval
[@{ main::post('/v1/search', '{"queries": {"vector": [1, 0, 0, 0]}}') },
 @{ main::post('/v1/recommendations', '{"queries": null}',
               '{"queries": "apple,pear"}') }]
--- error_code eval
[400, 400, 400]
--- error_json: bad_parameter
--- response_body_like eval
[qr/"queries\\" must be an array of objects/, qr/must be an array/,
 qr/must be an array/]
--- no_error_log
[error]



=== TEST 6: over the limit: 413 too_many_queries; at the limit: 200
--- pipelined_requests eval
main::post('/two',
    '{"queries": [{"vector": [1, 0, 0, 0]}, {"vector": [0, 1, 0, 0]}, '
    . '{"vector": [0, 0, 1, 0]}]}',
    '{"queries": [{"vector": [1, 0, 0, 0]}, {"vector": [0, 1, 0, 0]}]}')
--- error_code eval
[413, 200]
--- response_body_like eval
[qr/"code":"too_many_queries","message":"3 queries, at most 2 in one request"/,
 qr/"results":\[\{"items":/]
--- no_error_log
[error]



=== TEST 7: the default limit is 64
--- request eval
"POST /v1/search\n" . '{"queries": ['
    . CORE::join(',', ('{"vector": [1, 0, 0, 0], "k": 1}') x 65) . ']}'
--- error_code: 413
--- error_json: too_many_queries
--- response_body_like: 65 queries, at most 64 in one request
--- no_error_log
[error]



=== TEST 8: 64 queries answer
--- request eval
"POST /v1/search\n" . '{"queries": ['
    . CORE::join(',', ('{"vector": [1, 0, 0, 0], "k": 1}') x 64) . ']}'
--- error_code: 200
--- response_body_like: ^\{"results":\[(\{"items":\[\{"id":"apple",[^\]]*\],"count":1,[^}]*\},?){64}\],"count":64,"generation":1\}$
--- no_error_log
[error]



=== TEST 9: a nested batch and a query that is not an object fail alone
--- request
POST /v1/search
{"queries": [{"queries": [{"vector": [1, 0, 0, 0]}]},
             [1, 0, 0, 0],
             {"vector": [0, 0, 0, 1], "k": 1},
             "x"]}
--- error_code: 200
--- results
error bad_parameter 400
error bad_parameter 400
ids salmon
error bad_parameter 400
--- response_body_like: "a query of a batch cannot be a batch".*"a query must be a JSON object"
--- no_error_log
[error]



=== TEST 10: a member beside "queries" is refused
--- request
POST /v1/search
{"k": 2, "queries": [{"vector": [1, 0, 0, 0]}]}
--- error_code: 400
--- error_json: bad_parameter
--- response_body_like: a batch body holds \\"queries\\" only, \\"k\\" belongs in each query or the query string
--- no_error_log
[error]



=== TEST 11: the query string applies to every query, the query overrides it
# (fruit all score 0 against the vector: ties by id)
--- request
POST /v1/search?k=1&category=fruit
{"queries": [{"vector": [0, 0, 1, 0]},
             {"vector": [0, 0, 1, 0], "k": 2, "category": "vegetable"}]}
--- error_code: 200
--- results
ids apple
ids carrot leek
--- no_error_log
[error]



=== TEST 12: recommendations: history, exclude, popular, unknown profile
--- request
POST /v1/recommendations
{"queries": [{"history": ["apple"], "k": 3},
             {"history": ["apple"], "k": 3, "exclude": ["quince"]},
             {"k": 2},
             {"history": ["apple"], "profile": "nope"},
             {"history": ["nothing-like-it"], "k": 1}]}
--- error_code: 200
--- results
ids quince pear plum
ids pear plum cherry
ids salmon apple
error unknown_profile 400
ids salmon
--- no_error_log
[error]



=== TEST 13: mixed shapes (k, category, exclude, profile, explain) as singles
--- pipelined_requests eval
my @b = ('{"history": ["apple"], "k": 4}',
         '{"history": ["apple", "carrot"], "profile": "pop", "k": 3}',
         '{"positive": ["apple"], "negative": ["pear"], "k": 3}',
         '{"history": ["mystery"], "category": "fish", "explain": true}',
         '{"k": 2, "category": "fruit"}',
         '{"history": ["apple"], "profile": "balanced", "explain": true}');
main::post('/rs', '{"queries": [' . CORE::join(',', @b) . ']}', @b);
--- error_code eval
[200, 200, 200, 200, 200, 200, 200]
--- same_as_singles
--- no_error_log
[error]



=== TEST 14: search on an IVF catalog: 16 queries of mixed shapes as singles
--- pipelined_requests eval
my @q = main::demo_queries(16);
my @b;
for my $i (0 .. $#q) {
    my %o = (vector => $q[$i], k => 1 + $i);
    $o{exclude} = ['houseplants-0145'] if $i % 3 == 1;
    $o{category} = 'hiking-gear' if $i % 4 == 2;
    push @b, JSON::PP->new->canonical->encode(\%o);
}
main::post('/demo/search', '{"queries": [' . CORE::join(',', @b) . ']}', @b);
--- error_code eval
[(200) x 17]
--- same_as_singles
--- no_error_log
[error]



=== TEST 15: recommendations on the demo catalog: a batch of histories as singles
--- pipelined_requests eval
my @b = ('{"history": ["houseplants-0145", "hiking-gear-0145"], "k": 20}',
         '{"history": ["houseplants-0001"], "k": 5, "category": "houseplants"}',
         '{"positive": ["hiking-gear-0002"], "negative": ["hiking-gear-0003"]}',
         '{"k": 3}');
main::post('/demo/rec', '{"queries": [' . CORE::join(',', @b) . ']}', @b);
--- error_code eval
[(200) x 5]
--- same_as_singles
--- no_error_log
[error]



=== TEST 16: recsys_max_batch 0 is refused at nginx -t
--- config
location = /s {
    recsys search small;
    recsys_max_batch 0;
}
--- must_die
--- error_log eval
qr/value must be between 1 and 10000 in \S+nginx\.conf/



=== TEST 17: a body without "queries" is the single query it always was
--- request
POST /v1/search
{"vector": [0, 0, 1, 0], "k": 2, "note": "queries"}
--- error_code: 200
--- ids: carrot leek
--- no_error_log
[error]
