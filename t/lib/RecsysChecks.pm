package RecsysChecks;

# Response checks shared by the suites, as extra Test::Base sections that
# either Test::Nginx runner passes to add_response_body_check:
#
#   --- ids: a b c          the item ids of the JSON answer, in order
#   --- fields              lines key=value: top-level fields of the answer
#   --- error_json: code    {"error": {"code", "message"}} (one per request,
#                           "-" skips a request, the last one repeats)
#   --- log_has: N regex    after request N, error.log (start-up included,
#                           unlike error_log) has a line matching regex
#   --- log_count: N C regex   after request N, exactly C lines of
#                           error.log match regex (a line logged once)
#   --- rebuild: x.yaml     after request 0, recsys-build publishes x.yaml
#
# and, for the suites' add_block_preprocessor:
#
#   block_defaults($block, $locations)   a block without http_config
#                           serves the small catalog (t/data/small.yaml),
#                           one without config the suite's locations
#   worker_mode($block)     --- two_workers: a master and two workers;
#                           else one process, no master
#   catalog_c($block)       a block without config (an nginx -t block)
#                           loads catalog "c" of its c.yaml and has
#                           location = /p

use strict;
use warnings;
use JSON::PP;
use Test::More;

sub import {
    main::add_response_body_check(\&check);
}

sub error_log_text {
    my $root = $ENV{TEST_NGINX_SERVROOT} || 't/servroot';
    open my $fh, '<', "$root/logs/error.log" or return '';
    local $/;
    return <$fh>;
}

sub json_of {
    my ($name, $body) = @_;
    my $json = eval { decode_json($body) };
    ok($json, "$name - body is JSON") or diag("body: $body");
    return $json;
}

sub check {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return if $dry_run;

    my $name = $block->name;

    if (defined $block->ids) {
        my $json = json_of($name, $body) or return;
        (my $want = $block->ids) =~ s/^\s+|\s+$//g;
        is(join(' ', map { $_->{id} } @{ $json->{items} }), $want,
           "$name - ids");
        is($json->{count}, scalar @{ $json->{items} }, "$name - count");
    }

    if (defined $block->fields) {
        my $json = json_of($name, $body) or return;
        for my $line (grep { /\S/ } split /\n/, $block->fields) {
            my ($k, $v) = $line =~ /^\s*(\w+)=(.*?)\s*$/;
            my $got = $json->{$k};
            $got = $got ? 'true' : 'false' if JSON::PP::is_bool($got);
            $got = join(',', @$got) if ref $got eq 'ARRAY';
            is($got, $v, "$name - field $k");
        }
    }

    if (defined $block->error_json) {
        my @codes = split ' ', $block->error_json;
        my $want = $codes[$req_idx] // $codes[-1];
        if ($want ne '-') {
            my $json = json_of($name, $body) or return;
            is($json->{error}{code}, $want, "$name - error code");
            like($json->{error}{message} // '', qr/\S/,
                 "$name - error message");
        }
    }

    if (defined $block->log_has) {
        my ($idx, $re) = $block->log_has =~ /^\s*(\d+)\s+(.*?)\s*$/s;
        if ($idx == $req_idx) {
            like(error_log_text(), qr/$re/m, "$name - error.log has $re");
        }
    }

    if (defined $block->log_count) {
        my ($idx, $n, $re) =
            $block->log_count =~ /^\s*(\d+)\s+(\d+)\s+(.*?)\s*$/s;
        if ($idx == $req_idx) {
            my @hits = grep { /$re/ } split /\n/, error_log_text();
            is(scalar @hits, $n, "$name - error.log has $n line(s) $re");
        }
    }

    if (defined $block->rebuild && $req_idx == 0) {
        (my $yaml = $block->rebuild) =~ s/^\s+|\s+$//g;
        my $rc = system("$ENV{TEST_NGINX_BUILD_DIR}/recsys-build", '-q',
                        "$ENV{TEST_NGINX_CONF_DIR}/$yaml");
        is($rc, 0, "$name - recsys-build $yaml");
    }
}

sub block_defaults {
    my ($block, $locations) = @_;

    if (!defined $block->http_config) {
        $block->set_value("http_config",
            "recsys_catalog small $ENV{TEST_NGINX_CONF_DIR}/small.yaml;");
    }

    if (!defined $block->config) {
        $block->set_value("config", $locations);
    }
}

sub catalog_c {
    my ($block) = @_;
    return if defined $block->config;

    $block->set_value(http_config =>
                      "recsys_catalog c \$TEST_NGINX_HTML_DIR/c.yaml;\n");
    $block->set_value(config => "location = /p { recsys popular; }\n");
}

sub worker_mode {
    my ($block) = @_;

    if (defined $block->two_workers) {
        main::master_on();
        main::workers(2);
    } else {
        main::master_off();
        main::workers(1);
    }
}

1;
