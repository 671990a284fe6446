#!/bin/sh
# Installs the Debian packages the build, the demo and the tests need
# ("scripts/deps.sh fuzz": also clang and libFuzzer, for make fuzz).
# Idempotent and quick when everything is present: apt runs only when a
# package is missing.
set -eu

pkgs="gcc g++ make dpkg-dev perl curl
      nginx-core nginx-dev
      libfaiss-dev libblas-dev liblapack-dev
      libcjson-dev libyaml-dev libpq-dev postgresql
      libcmocka-dev libtest-base-perl
      valgrind wrk prometheus"

if [ "${1:-}" = fuzz ]; then
    # libclang-rt-14-dev holds libFuzzer (-fsanitize=fuzzer) for clang 14
    pkgs="$pkgs clang libclang-rt-14-dev"
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
