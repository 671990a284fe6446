#!/bin/sh
# Installs the Debian packages a make target needs, in groups:
#
#   scripts/deps.sh [run]   build + run: compile the module and the tools,
#                           serve the demo (make, make run)
#   scripts/deps.sh test    build + run + test: also the throwaway
#                           PostgreSQL server, cmocka, Test::Nginx's
#                           dependencies, valgrind, wrk, promtool,
#                           PyYAML (make test)
#   scripts/deps.sh fuzz    build + clang and libFuzzer (make fuzz)
#   scripts/deps.sh deb     build + debhelper, fakeroot, lintian (make deb)
#   scripts/deps.sh --list GROUP   prints the packages, installs nothing
#
# Idempotent and quick when everything is present: apt runs only when a
# package is missing.
set -eu

# compiling: nginx-dev is the module source tree, libfaiss-dev the static
# libfaiss.a; dpkg-dev unpacks Debian's faiss source for libfaiss_c
build="gcc g++ make dpkg-dev perl ca-certificates nginx-dev
       libfaiss-dev libblas-dev liblapack-dev
       libcjson-dev libyaml-dev libpq-dev"
# serving: the stock nginx that loads the module (the shared libraries
# come with the -dev packages above) and curl for the demo's examples
run="nginx-core curl"
# testing only
test="postgresql libcmocka-dev libtest-base-perl
      valgrind wrk prometheus python3-yaml"
# libclang-rt-14-dev holds libFuzzer (-fsanitize=fuzzer) for clang 14
fuzz="clang libclang-rt-14-dev"
# dpkg-checkbuilddeps wants build-essential besides Build-Depends
deb="build-essential debhelper fakeroot lintian"

list=no
if [ "${1:-}" = --list ]; then
    list=yes
    shift
fi

case "${1:-run}" in
    run)  pkgs="$build $run" ;;
    test) pkgs="$build $run $test" ;;
    fuzz) pkgs="$build $fuzz" ;;
    deb)  pkgs="$build $run $deb" ;;
    *)    echo "usage: $0 [--list] [run|test|fuzz|deb]" >&2; exit 2 ;;
esac

if [ $list = yes ]; then
    # shellcheck disable=SC2086
    printf '%s\n' $pkgs
    exit 0
fi

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null \
         | grep -q 'install ok installed'
    then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi

echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
