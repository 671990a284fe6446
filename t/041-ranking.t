# Ranking profiles (issue 11): profile= and recsys_profile, blended
# scores, MMR, explain, positive and negative examples, over the
# "ranked-small" catalog (the small items with publication dates; answers
# worked out on paper) and "ranked" (the demo items, for MMR).

use FindBin;
use lib "$FindBin::Bin/lib";
use RecsysTestNginx;
use RecsysChecks;
use JSON::PP;
use List::Util qw(sum);
use Test::More;

repeat_each(1);
no_shuffle();
plan('no_plan');

$ENV{TEST_NGINX_HTML_DIR} //= html_dir();

our $Http = <<"_EOC_";
    recsys_catalog rs $ENV{TEST_NGINX_CONF_DIR}/ranked-small.yaml;
    recsys_catalog rd $ENV{TEST_NGINX_CONF_DIR}/ranked.yaml;
    recsys_catalog small $ENV{TEST_NGINX_CONF_DIR}/small.yaml;
    recsys_catalog demo $ENV{TEST_NGINX_CONF_DIR}/demo.yaml;
    split_clients "\${arg_u}" \$recsys_ab {
        50%     balanced;
        *       "";
    }
_EOC_

our $Locations = <<'_EOC_';
    location = /rs {
        recsys recommendations rs;
        add_header X-Profile "$recsys_profile";
    }
    location ~ ^/rs/items/(?<item>[^/]+)/similar$ {
        recsys similar rs;
        recsys_item_id $item;
    }
    location = /rs/search {
        recsys search rs;
    }
    location = /rd {
        recsys recommendations rd;
    }
    location ~ ^/rd/items/(?<item>[^/]+)/similar$ {
        recsys similar rd;
        recsys_item_id $item;
    }
    location = /small {
        recsys recommendations small;
    }
    location = /demo {
        recsys recommendations demo;
    }
    location = /pop {
        recsys recommendations rs;
        recsys_profile pop;
    }
    location = /ab {
        recsys recommendations rs;
        recsys_profile $recsys_ab;
        add_header X-Profile "$recsys_profile";
    }
    location = /var {
        recsys recommendations rs;
        recsys_profile $arg_p;
    }
    location = /metrics {
        recsys_metrics;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Http)
        if !defined $block->http_config;
    $block->set_value("config", $Locations) if !defined $block->config;
});


# every item's explain parts add up to its score, to the printed precision
# (7 significant digits each: 1e-5 is a few units of the last digit)

sub explain_sum {
    my ($name, $json) = @_;
    my $n = 0;

    for my $it (@{ $json->{items} }) {
        my $e = $it->{explain};
        if (!ok($e, "$name - $it->{id} has explain")) {
            next;
        }
        my $s = sum(map { $e->{$_} }
                    qw(similarity popularity freshness boost mmr_penalty));
        ok(abs($s - $it->{score}) <= 1e-5,
           "$name - $it->{id}: parts $s add up to score $it->{score}");
        is($e->{final}, $it->{score}, "$name - $it->{id}: final is score");
        $n++;
    }

    ok($n > 0, "$name - explain checked on $n items");
}


# mean pairwise cosine of an answer's items, from the demo vectors

our %Vectors;

sub demo_vector {
    my ($id) = @_;

    if (!%Vectors) {
        open my $fh, '<', "$ENV{TEST_NGINX_DATA_DIR}/demo.jsonl" or die $!;
        while (<$fh>) {
            my $o = decode_json($_);
            $Vectors{ $o->{id} } = $o->{vector};
        }
    }

    return $Vectors{$id};
}

sub cosine {
    my ($a, $b) = @_;
    my ($d, $na, $nb) = (0, 0, 0);
    for my $i (0 .. $#$a) {
        $d += $a->[$i] * $b->[$i];
        $na += $a->[$i] ** 2;
        $nb += $b->[$i] ** 2;
    }
    return $d / sqrt($na * $nb);
}

sub intra_list {
    my @v = map { demo_vector($_->{id}) } @{ $_[0]->{items} };
    my ($s, $n) = (0, 0);
    for my $i (0 .. $#v) {
        for my $j ($i + 1 .. $#v) {
            $s += cosine($v[$i], $v[$j]);
            $n++;
        }
    }
    return $n ? $s / $n : 0;
}

our (@Ils, @Ids, %Scrape);


# the series of a Prometheus scrape: "name{labels}" => value

sub scrape_series {
    my %m;
    for my $line (split /\n/, $_[0]) {
        my ($series, $value) = $line =~ /^([a-z_]+(?:\{.*\})?) (\S+)$/
            or next;
        $m{$series} = $value;
    }
    return \%m;
}

add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run;

    my $name = $block->name;

    if (defined $block->explain_sum) {
        my $json = eval { decode_json($body) };
        ok($json, "$name - JSON") or return;
        explain_sum("$name #$req_idx", $json);
    }

    # --- ils: N  intra-list similarity strictly drops request after
    # request (lambda dropping); N requests
    if (defined $block->ils) {
        my ($n) = $block->ils =~ /(\d+)/;
        @Ils = () if $req_idx == 0;
        my $json = decode_json($body);
        is(scalar @{ $json->{items} }, 10, "$name #$req_idx - exact k");
        push @Ils, intra_list($json);
        if ($req_idx == $n - 1) {
            for my $i (1 .. $#Ils) {
                ok($Ils[$i] < $Ils[$i - 1],
                   "$name - intra-list similarity drops: "
                   . "$Ils[$i] < $Ils[$i - 1]");
            }
        }
    }

    # --- metrics_growth: lines "series N"  the first and the last
    # request are scrapes; each counter grew by N between them (a reload
    # between blocks, TEST_NGINX_USE_HUP=1, keeps the shared counters)
    if (defined $block->metrics_growth && $body =~ /^# HELP /) {
        my $m = scrape_series($body);
        if ($req_idx == 0) {
            $Scrape{$name} = $m;
            return;
        }
        my $before = $Scrape{$name} // {};
        for my $line (grep { /\S/ } split /\n/, $block->metrics_growth) {
            my ($series, $want) = $line =~ /^\s*(\S+)\s+(\S+)\s*$/;
            ok(defined $before->{$series} && defined $m->{$series},
               "$name - $series in both scrapes");
            is(($m->{$series} // 0) - ($before->{$series} // 0), $want,
               "$name - $series grew by $want");
        }
    }

    # --- same_ids: N  the N answers list the same items in the same order
    if (defined $block->same_ids) {
        my ($n) = $block->same_ids =~ /(\d+)/;
        @Ids = () if $req_idx == 0;
        my $json = decode_json($body);
        push @Ids, join(' ', map { $_->{id} } @{ $json->{items} });
        if ($req_idx == $n - 1) {
            ok(length $Ids[0], "$name - answers are not empty");
            is($Ids[$_], $Ids[0], "$name - answer $_ is answer 0")
                for 1 .. $#Ids;
        }
    }
});

run_tests();

__DATA__

=== TEST 1: no profile: the plain answer, no "profile" field
--- request
GET /rs?history=apple
--- ids: quince pear plum cherry mystery tuna carrot kale leek salmon
--- response_headers
X-Profile:
--- fields
strategy=history
fallback=false
--- no_error_log
[error]



=== TEST 2: the default profile from a history returns the items of today
--- pipelined_requests eval
["GET /small?history=apple,carrot&k=11",
 "GET /rs?history=apple,carrot&k=11&profile=plain"]
--- same_ids: 2
--- no_error_log
[error]



=== TEST 3: the default profile on the demo items: same items as plain
--- pipelined_requests eval
["GET /demo?history=houseplants-0145,hiking-gear-0145&k=20",
 "GET /rd?history=houseplants-0145,hiking-gear-0145&k=20&profile=plain"]
--- same_ids: 2
--- no_error_log
[error]



=== TEST 4: popularity raw: similarity plus popularity / max popularity
--- request
GET /rs?history=apple&k=4&profile=pop
--- ids: quince salmon pear plum
--- response_headers
X-Profile: pop
--- fields
profile=pop
strategy=history
--- no_error_log
[error]



=== TEST 5: popularity rank: equal popularity, equal rank, id order
--- request
GET /rs?history=mystery&k=5&profile=rank
--- ids: salmon apple quince carrot tuna
--- no_error_log
[error]



=== TEST 6: freshness alone: newest first, no or bad date last by id
--- request
GET /rs?history=mystery&k=9&profile=fresh
--- ids: plum apple carrot pear salmon cherry kale leek quince
--- no_error_log
[error]



=== TEST 7: a category boost lifts a far category (similar honours it)
--- request
GET /rs/items/apple/similar?k=3&profile=boosted
--- ids: tuna salmon trout
--- fields
strategy=similar
profile=boosted
--- no_error_log
[error]



=== TEST 8: candidates below k: still exactly k items
--- request
GET /rs?history=apple&k=5&profile=few
--- ids: quince pear plum cherry mystery
--- no_error_log
[error]



=== TEST 9: profile in a JSON body overrides the query string
--- request
POST /rs?profile=fresh
{"history": ["apple"], "k": 4, "profile": "pop"}
--- more_headers
Content-Type: application/json
--- ids: quince salmon pear plum
--- fields
profile=pop
--- no_error_log
[error]



=== TEST 10: unknown profile: 400, in the query string and in a body
--- pipelined_requests eval
["GET /rs?history=apple&profile=nosuch",
 "POST /rs\n{\"profile\": \"x\"}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 400]
--- error_json: unknown_profile
--- no_error_log
[error]



=== TEST 11: explain must be true or false
--- pipelined_requests eval
["GET /rs?history=apple&explain=2",
 "GET /rs?history=apple&explain=yes",
 "POST /rs\n{\"explain\": 1}",
 "POST /rs\n{\"profile\": 5}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 400, 400, 400]
--- error_json: bad_parameter
--- no_error_log
[error]



=== TEST 12: explain parts add up to the score, every item, several queries
--- pipelined_requests eval
["GET /rs?history=apple&k=11&profile=balanced&explain=true",
 "GET /rs?history=carrot,tuna&k=8&profile=pop&explain=true",
 "GET /rs?history=mystery&k=11&profile=fresh&explain=1",
 "GET /rs/items/salmon/similar?k=6&profile=boosted&explain=true",
 "GET /rs?history=apple&k=5&explain=true",
 "GET /rs?k=5&explain=true",
 "GET /rd?history=houseplants-0145&k=20&explain=true",
 "GET /rd?history=hiking-gear-0145,houseplants-0145&k=20&profile=mmr00&explain=true"]
--- explain_sum
--- no_error_log
[error]



=== TEST 13: explain names the history items behind each item, best first
--- request
GET /rs?history=apple,salmon&k=2&profile=plain&explain=true
--- response_body_like: "id":"tuna".*"because":\[\{"id":"salmon","similarity":0\.99\d+\},\{"id":"apple","similarity":0\.11\d+\}\]
--- no_error_log
[error]



=== TEST 14: explain under MMR: the first item has no penalty, later ones do
--- request
GET /rs?history=apple&k=3&profile=balanced&explain=true
--- response_body_like: ^\{"items":\[\{"id":"plum".*"mmr_penalty":0,.*"id":"carrot".*"id":"quince".*"mmr_penalty":-0\.28\d+,
--- no_error_log
[error]



=== TEST 15: intra-list similarity drops as lambda drops (MMR over vectors)
--- pipelined_requests eval
["GET /rd?history=houseplants-0145,hiking-gear-0145&profile=mmr10",
 "GET /rd?history=houseplants-0145,hiking-gear-0145&profile=mmr08",
 "GET /rd?history=houseplants-0145,hiking-gear-0145&profile=mmr06",
 "GET /rd?history=houseplants-0145,hiking-gear-0145&profile=mmr04",
 "GET /rd?history=houseplants-0145,hiking-gear-0145&profile=mmr02"]
--- ils: 5
--- no_error_log
[error]



=== TEST 16: MMR is deterministic: the same request, the same answer
--- pipelined_requests eval
["GET /rd?history=houseplants-0145,hiking-gear-0145&k=20&profile=mmr04",
 "GET /rd?history=houseplants-0145,hiking-gear-0145&k=20&profile=mmr04",
 "GET /rd?history=houseplants-0145,hiking-gear-0145&k=20&profile=mmr04"]
--- same_ids: 3
--- no_error_log
[error]



=== TEST 17: ranking.default answers a request that names no profile
--- request
GET /rd?history=houseplants-0145&k=3
--- fields
profile=balanced
count=3
--- no_error_log
[error]



=== TEST 18: recsys_profile by name; the request's own profile wins
--- pipelined_requests eval
["GET /pop?history=apple&k=4", "GET /pop?history=apple&k=4&profile=plain"]
--- response_body_like eval
['"id":"quince".*"id":"salmon".*"profile":"pop"',
 '"id":"quince".*"id":"pear".*"profile":"plain"']
--- no_error_log
[error]



=== TEST 19: recsys_profile from split_clients: an A/B test by visitor
--- pipelined_requests eval
["GET /ab?history=apple&k=3&u=1", "GET /ab?history=apple&k=3&u=3"]
--- response_headers eval
["X-Profile: balanced", "X-Profile: "]
--- response_body_like eval
['^\{"items":\[\{"id":"plum".*"profile":"balanced"\}',
 '^\{"items":\[\{"id":"quince".*"fallback":false,"fallback_level":"history"\}']
--- no_error_log
[error]



=== TEST 20: recsys_profile's variable names no profile: the default, a warning
--- request
GET /var?history=apple&k=2&p=nosuch
--- ids: quince pear
--- error_log
"recsys_profile" gave "nosuch", which is not in "ranking.profiles"; the default answers
--- no_error_log
[error]



=== TEST 21: positive and negative ids: P - 0.5 N, every example excluded
--- request
GET /rs?positive=apple&negative=pear&k=3&explain=true
--- ids: quince plum cherry
--- response_body_like: "id":"quince","score":0\.99403
--- no_error_log
[error]



=== TEST 22: positive vectors and ids in a body, mixed; unknown ids ignored
--- request
POST /rs
{"positive": [[0, 0, 0, 1], "nosuch"], "negative": ["nosuch2"], "k": 2}
--- more_headers
Content-Type: application/json
--- ids: salmon trout
--- fields
ignored_history=nosuch,nosuch2
strategy=history
--- no_error_log
[error]



=== TEST 23: history and positive ids are both positive examples
--- pipelined_requests eval
["GET /rs?history=apple&positive=salmon&k=4",
 "GET /rs?history=apple,salmon&k=4"]
--- same_ids: 2
--- no_error_log
[error]



=== TEST 24: negative ids alone: no query, popular answers
--- request
GET /rs?negative=salmon&k=3
--- ids: apple quince carrot
--- fields
strategy=popular
fallback=true
--- no_error_log
[error]



=== TEST 25: bad positive and negative values
--- pipelined_requests eval
["POST /rs\n{\"positive\": [[1, 2]]}",
 "POST /rs\n{\"positive\": \"apple\"}",
 "POST /rs\n{\"negative\": [[1, 0, 0, 0]]}",
 "POST /rs\n{\"positive\": [[1, 0, 0, 1e39]]}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[422, 400, 400, 422]
--- error_json: wrong_dimension bad_parameter bad_parameter non_finite
--- no_error_log
[error]



=== TEST 26: search honours profiles too
--- request
POST /rs/search?profile=boosted&k=2
{"vector": [1, 0, 0, 0]}
--- more_headers
Content-Type: application/json
--- ids: tuna salmon
--- no_error_log
[error]



=== TEST 27: the profile label of the request metrics
--- pipelined_requests eval
["GET /metrics", "GET /rs?history=apple&profile=pop", "GET /pop?history=apple",
 "GET /rs?history=apple&profile=fresh&k=0", "GET /metrics"]
--- error_code eval
[200, 200, 200, 400, 200]
--- metrics_growth
recsys_profile_requests_total{catalog="rs",profile="pop",code="2xx"} 2
recsys_profile_requests_total{catalog="rs",profile="fresh",code="2xx"} 0
recsys_profile_requests_total{catalog="rd",profile="balanced",code="2xx"} 0
--- no_error_log
[error]



=== TEST 28: a negative weight is refused at nginx -t, with its position
--- http_config
recsys_catalog c $TEST_NGINX_HTML_DIR/c.yaml;
--- config
location = /r { recsys recommendations; }
--- user_files
>>> c.yaml
source: {type: file, path: items.jsonl}
index: {path: idx, dimension: 4}
ranking:
  profiles:
    a:
      weights: {similarity: 1, popularity: -0.2}
--- must_die
--- error_log eval
qr{recsys catalog "c": \S+/c\.yaml:6:44: "popularity" must be between 0 and 1e\+06, got -0\.2}



=== TEST 29: an MMR lambda outside [0, 1] is refused at nginx -t
--- http_config
recsys_catalog c $TEST_NGINX_HTML_DIR/c.yaml;
--- config
location = /r { recsys recommendations; }
--- user_files
>>> c.yaml
source: {type: file, path: items.jsonl}
index: {path: idx, dimension: 4}
ranking:
  profiles:
    a: {diversity: {mmr: 1.2}}
--- must_die
--- error_log eval
qr{c\.yaml:5:26: "mmr" must be between 0 and 1, got 1\.2}



=== TEST 30: a boost on a field that is not "category" is refused
--- http_config
recsys_catalog c $TEST_NGINX_HTML_DIR/c.yaml;
--- config
location = /r { recsys recommendations; }
--- user_files
>>> c.yaml
source: {type: file, path: items.jsonl}
index: {path: idx, dimension: 4}
ranking:
  profiles:
    a: {boost: {brand: {x: 1}}}
--- must_die
--- error_log eval
qr{c\.yaml:5:17: unknown key "brand" in "ranking\.profiles\.a\.boost", expected one of: category}



=== TEST 31: recsys_profile naming no profile of the catalog fails nginx -t
--- config
location = /r {
    recsys recommendations rs;
    recsys_profile nosuch;
}
--- must_die
--- error_log
"recsys_profile" "nosuch": catalog "rs" has no such profile in "ranking.profiles"



=== TEST 32: plain similar keeps the precomputed neighbours; a profile searches
--- pipelined_requests eval
["GET /rs/items/apple/similar?k=3", "GET /rs/items/apple/similar?k=3&profile=plain"]
--- raw_response_headers_like eval
['Server-Timing: [^\r]*retrieve;dur=[\d.]+;desc=neighbors',
 'Server-Timing: [^\r]*retrieve;dur=[\d.]+, serialize']
--- response_body_like eval
['"id":"quince".*"id":"pear".*"id":"plum".*"fallback":false\}',
 '"id":"quince".*"id":"pear".*"id":"plum".*"profile":"plain"\}']
--- no_error_log
[error]



=== TEST 33: the popular fallback under a profile: k items, not the candidates
--- request
GET /rs?k=3&profile=pop
--- ids: salmon apple quince
--- fields
strategy=popular
fallback=true
profile=pop
count=3
--- no_error_log
[error]



=== TEST 34: the popular endpoint under a profile: k items, in popularity order
--- config
location = /p {
    recsys popular rs;
    recsys_profile balanced;
}
--- request
GET /p?k=2&explain=true
--- response_body_like: ^\{"items":\[\{"id":"salmon","score":60,.*"explain":\{"similarity":0,"popularity":60,.*"final":60\}\},\{"id":"apple".*"count":2,"k":2,.*"profile":"balanced"\}
--- no_error_log
[error]



=== TEST 35: similar by id under MMR: intra-list similarity drops with lambda
--- pipelined_requests eval
["GET /rd/items/houseplants-0145/similar?profile=mmr10",
 "GET /rd/items/houseplants-0145/similar?profile=mmr06",
 "GET /rd/items/houseplants-0145/similar?profile=mmr02"]
--- ils: 3
--- no_error_log
[error]



=== TEST 36: similar by id: explain adds up under MMR, the item itself left out
--- pipelined_requests eval
["GET /rd/items/houseplants-0145/similar?k=20&profile=mmr04&explain=true",
 "GET /rd/items/hiking-gear-0145/similar?k=20&explain=true",
 "GET /rs/items/apple/similar?k=6&profile=balanced&explain=true"]
--- explain_sum
--- response_body_unlike eval
['"id":"houseplants-0145"', '"id":"hiking-gear-0145"', '"id":"apple"']
--- raw_response_headers_unlike eval
["desc=neighbors", "desc=neighbors", "desc=neighbors"]
--- no_error_log
[error]



=== TEST 37: similar by id: recsys_profile picks the profile, no neighbours
--- config
location ~ ^/b/(?<item>[^/]+)$ {
    recsys similar rs;
    recsys_item_id $item;
    recsys_profile boosted;
}
--- request
GET /b/apple?k=3
--- ids: tuna salmon trout
--- fields
strategy=similar
profile=boosted
--- raw_response_headers_unlike: desc=neighbors
--- no_error_log
[error]
