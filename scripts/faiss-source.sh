#!/bin/sh
# Prints the directory of Debian's own faiss source, the version of the
# installed libfaiss-dev with Debian's patches applied, fetched once into
# $OUT/src (default build/faiss/src) and reused afterwards.  A private apt
# sources list is used so the system's apt configuration is never touched.
# Used by build-faiss-c.sh and build-faiss-simd.sh; progress goes to stderr.
set -eu

OUT=${1:-build/faiss}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

version=$(dpkg-query -W -f '${source:Version}' libfaiss-dev)
work="$OUT/src"
tree="$work/faiss-$version"

if [ -d "$tree" ]; then
    echo "$tree"
    exit 0
fi

# build-faiss-c.sh and build-faiss-simd.sh may run at once (make -j)
mkdir -p "$work"
exec 9> "$work/.lock"
flock 9
if [ -d "$tree" ]; then
    echo "$tree"
    exit 0
fi

apt_dir="$OUT/apt"
mkdir -p "$apt_dir/lists/partial"

if ! ls "$work"/faiss_*.dsc >/dev/null 2>&1; then
    echo "deb-src http://deb.debian.org/debian bookworm main" \
        > "$apt_dir/sources.list"
    opts="-o Dir::Etc::SourceList=$apt_dir/sources.list
          -o Dir::Etc::SourceParts=/dev/null
          -o Dir::State::Lists=$apt_dir/lists"
    # shellcheck disable=SC2086
    apt-get $opts -qq update >&2
    # the installed version, or the archive's when it has moved on
    # shellcheck disable=SC2086
    (cd "$work" && { apt-get $opts -qq source --download-only \
        "faiss=$version" || apt-get $opts -qq source --download-only \
        faiss; }) >&2
fi

dsc=$(ls "$work"/faiss_*.dsc | tail -n 1)
rm -rf "$tree.tmp"
dpkg-source --no-check -x "$dsc" "$tree.tmp" >&2
mv "$tree.tmp" "$tree"
echo "$tree"
