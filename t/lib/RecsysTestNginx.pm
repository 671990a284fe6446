package RecsysTestNginx;

# Front for the t/*.t suites:
#
#     use FindBin;
#     use lib "$FindBin::Bin/lib";
#     use RecsysTestNginx;
#
# behaves like "use Test::Nginx::Socket" when the real module (CPAN) is
# installed, and otherwise loads RecsysTestNginx::Runner, a compatible
# subset of it.  TEST_NGINX_USE_COMPAT=1 forces the compat runner.

use strict;
use warnings;

our $VERSION = '0.01';

our $Backend;      # the class actually in use
our $LoadError;    # why the real Test::Nginx::Socket was not used

sub backend {
    return $Backend if $Backend;

    if (!$ENV{TEST_NGINX_USE_COMPAT}) {
        return $Backend = 'Test::Nginx::Socket'
            if eval { require Test::Nginx::Socket; 1 };
        $LoadError = $@;
        if ($LoadError !~ m{^Can't locate Test/Nginx/Socket\.pm in \@INC}) {
            warn "RecsysTestNginx: Test::Nginx::Socket is installed but "
                 . "failed to load; using the compat runner:\n$LoadError";
        }
    }

    require RecsysTestNginx::Runner;
    return $Backend = 'RecsysTestNginx::Runner';
}

sub import {
    my ($class, @args) = @_;
    my $caller = caller;
    my $backend = backend();

    # Both backends import through Test::Base, which exports into the
    # package named by -package, passes the rest (e.g. 'no_plan') to
    # Test::More and turns on strict and warnings in the test file.
    my $import = $backend->can('import');
    $backend->$import(-package => $caller, @args);

    no strict 'refs';
    *{"${caller}::done_testing"} = \&done_testing
        unless defined &{"${caller}::done_testing"};
}

# Test::Base plans 'no_plan' in its END block unless a plan was declared
# through Test::Builder::plan, which done_testing() does not do: declare
# the trailing plan that way.
sub done_testing {
    my $tb = Test::More->builder;
    my $n = @_ ? shift : $tb->current_test;
    $tb->plan(tests => $n) unless $tb->has_plan;
    return $tb->is_passing;
}

1;
