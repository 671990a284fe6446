# Which FAISS the build links (scripts/faiss-simd.sh), fed with made-up
# /proc/cpuinfo files and compilers; then, when run by "make prove", that
# the module and recsys-build hold the variant the build chose: the AVX2
# kernels (FMA in fvec_inner_product, the CPU guard) or Debian's generic
# ones.  Plain Test::More: no nginx is started.

use strict;
use warnings;
use File::Temp qw(tempdir);
use FindBin;
use Test::More;

my $script = "$FindBin::Bin/../scripts/faiss-simd.sh";
my $tmp = tempdir(CLEANUP => 1);

sub write_file {
    my ($name, $text) = @_;
    open(my $fh, '>', "$tmp/$name") or die "$tmp/$name: $!";
    print $fh $text;
    close($fh);
    return "$tmp/$name";
}

my $intel = "processor\t: 0\nvendor_id\t: GenuineIntel\n"
    . "flags\t\t: fpu sse2 popcnt avx f16c fma avx2 avx512f\n"
    . "vmx flags\t: vnmi ept\n\nprocessor\t: 1\n"
    . "flags\t\t: fpu sse2 popcnt avx f16c fma avx2 avx512f\n";

my %cpu = (
    avx2      => write_file('avx2', $intel),
    no_fma    => write_file('no_fma',
                     "flags\t\t: fpu sse2 popcnt avx f16c avx2\n"),
    avx512    => write_file('avx512',
                     "flags\t\t: sse2 popcnt f16c fma avx512f avx2x\n"),
    vmx_only  => write_file('vmx_only', "flags\t\t: fpu sse2 popcnt\n"
                     . "vmx flags\t: avx2 fma f16c popcnt\n"),
    arm       => write_file('arm',
                     "processor\t: 0\nFeatures\t: fp asimd avx2 fma\n"),
    old       => write_file('old', "flags\t\t: fpu sse2 sse4_2 popcnt\n"),
    missing   => "$tmp/does-not-exist",
);

# a compiler that only answers -dumpmachine
sub fake_cc {
    my ($target) = @_;
    my $cc = write_file("cc-$target",
                        "#!/bin/sh\n[ \"\$1\" = -dumpmachine ] "
                        . "&& echo $target-linux-gnu\n");
    chmod 0755, $cc or die "chmod: $!";
    return $cc;
}

my $x86 = fake_cc('x86_64');
my $arm = fake_cc('aarch64');

# runs the script; returns its exit code, stdout and stderr
sub select_variant {
    my (%env) = @_;
    local %ENV = %ENV;
    delete $ENV{FAISS_SIMD};
    $ENV{FAISS_SIMD} = $env{simd} if defined $env{simd};
    $ENV{FAISS_SIMD_CPUINFO} = $env{cpuinfo};
    local $ENV{CC} = $env{cc} // $x86;
    my $out = `'$script' 2>'$tmp/err'`;
    my $rc = $? >> 8;
    open(my $fh, '<', "$tmp/err") or die "$tmp/err: $!";
    my $err = do { local $/; <$fh> };
    chomp($out);
    return ($rc, $out, $err);
}

my @cases = (
    # FAISS_SIMD, cpuinfo, compiler, expected, what
    [undef, 'avx2', $x86, 'avx2', 'auto is the default: avx2 CPU'],
    ['auto', 'avx2', $x86, 'avx2', 'auto, avx2 fma f16c popcnt'],
    ['auto', 'no_fma', $x86, 'generic', 'auto, no fma'],
    ['auto', 'avx512', $x86, 'generic',
     'auto, avx512f and avx2x are not avx2'],
    ['auto', 'vmx_only', $x86, 'generic',
     'auto, only the "vmx flags" line names avx2'],
    ['auto', 'old', $x86, 'generic', 'auto, SSE4.2 CPU'],
    ['auto', 'arm', $x86, 'generic', 'auto, no flags line'],
    ['auto', 'missing', $x86, 'generic', 'auto, no cpuinfo'],
    ['auto', 'avx2', $arm, 'generic', 'auto, compiler for aarch64'],
    ['generic', 'avx2', $x86, 'generic', 'generic on an avx2 CPU'],
    ['avx2', 'old', $x86, 'avx2',
     'avx2 on a build host without avx2 (a packager)'],
    ['avx2', 'missing', $x86, 'avx2', 'avx2 without cpuinfo'],
);

for my $c (@cases) {
    my ($simd, $cpu, $cc, $want, $what) = @$c;
    my ($rc, $out, $err) = select_variant(simd => $simd,
                                          cpuinfo => $cpu{$cpu}, cc => $cc);
    is("$rc $out", "0 $want", $what);
    is($err, '', "$what: nothing on stderr");
}

my ($rc, $out, $err) = select_variant(simd => 'sse', cpuinfo => $cpu{avx2});
is("$rc $out", '2 ', 'a bad FAISS_SIMD fails');
like($err, qr/FAISS_SIMD must be auto, avx2 or generic, not "sse"/,
     'a bad FAISS_SIMD is named');

($rc, $out, $err) = select_variant(simd => 'avx2', cpuinfo => $cpu{avx2},
                                   cc => $arm);
is("$rc $out", '2 ', 'avx2 for an aarch64 compiler fails');
like($err, qr/needs a compiler for x86-64, \S+ targets aarch64-linux-gnu/,
     'avx2 for an aarch64 compiler says why');

# the build's own objects, when make prove says where they are

SKIP: {
    my $build = $ENV{TEST_NGINX_BUILD_DIR};
    skip 'TEST_NGINX_BUILD_DIR unset: no build to check', 8
        unless defined $build && -f "$build/faiss-variant";

    open(my $fh, '<', "$build/faiss-variant") or die "faiss-variant: $!";
    my $variant = <$fh>;
    chomp($variant);
    like($variant, qr/^(avx2|generic)$/, "the build chose $variant");

    my $sym = '_ZN5faiss18fvec_inner_productEPKfS1_m';

    for my $bin ("$build/ngx_http_recsys_module.so", "$build/recsys-build") {
        my $ip = `objdump -d --no-show-raw-insn --disassemble=$sym '$bin'`;
        like($ip, qr/<$sym>:/, "$bin: fvec_inner_product found");
        my $syms = `nm '$bin'`;

        if ($variant eq 'avx2') {
            like($ip, qr/vfmadd/, "$bin: fvec_inner_product uses FMA");
            like($syms, qr/ recsys_faiss_simd_variant$/m,
                 "$bin: the CPU guard is linked");
        } else {
            unlike($ip, qr/vfmadd|%ymm/,
                   "$bin: fvec_inner_product is Debian's generic one");
            unlike($syms, qr/ recsys_faiss_simd_variant$/m,
                   "$bin: no CPU guard");
        }
    }

    my $tools = `'$build/recsys-faissbench' 2>&1`;
    like($tools, qr/usage: recsys-faissbench/, 'recsys-faissbench is built');
}

done_testing();
