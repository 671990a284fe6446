#!/bin/sh
# Build libfaiss_c.a (FAISS's C API) from Debian's own faiss source package,
# against the installed libfaiss.a.  Debian ships the C API headers in
# libfaiss-dev but not their objects.  The result is cached in $OUT and only
# rebuilt when missing.  A private apt sources list is used so the system's
# apt configuration is never touched.
set -eu

OUT=${1:-build/faiss}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LIB="$OUT/libfaiss_c.a"

if [ -f "$LIB" ]; then
    exit 0
fi

multiarch=/usr/lib/$(gcc -print-multiarch 2>/dev/null || true)
for d in "$multiarch" /usr/lib /usr/local/lib; do
    if [ -f "$d/libfaiss_c.so" ] || [ -f "$d/libfaiss_c.a" ]; then
        echo "build-faiss-c: system libfaiss_c found in $d, nothing to build"
        exit 0
    fi
done

version=$(dpkg-query -W -f '${source:Upstream-Version}' libfaiss-dev)
work="$OUT/src"
apt_dir="$OUT/apt"
mkdir -p "$apt_dir/lists/partial" "$work" "$OUT/obj"

echo "deb-src http://deb.debian.org/debian bookworm main" \
    > "$apt_dir/sources.list"
opts="-o Dir::Etc::SourceList=$apt_dir/sources.list
      -o Dir::Etc::SourceParts=/dev/null
      -o Dir::State::Lists=$apt_dir/lists"

if [ ! -d "$work/faiss-$version" ]; then
    # shellcheck disable=SC2086
    apt-get $opts -qq update
    # shellcheck disable=SC2086
    (cd "$work" && apt-get $opts -qq source --download-only \
        "faiss=$(dpkg-query -W -f '${source:Version}' libfaiss-dev)" \
        || apt-get $opts -qq source --download-only faiss)
    tar -C "$work" -xzf "$work"/faiss_"$version".orig.tar.gz
fi

src="$work/faiss-$version"
objs=""
for f in "$src"/c_api/*.cpp "$src"/c_api/impl/*.cpp \
         "$src"/c_api/utils/*.cpp
do
    o="$OUT/obj/$(basename "$(dirname "$f")")_$(basename "$f" .cpp).o"
    g++ -O2 -fPIC -std=c++11 -I"$src" -c "$f" -o "$o" &
    objs="$objs $o"
done
wait
for o in $objs; do
    [ -f "$o" ] || { echo "build-faiss-c: failed to compile $o" >&2; exit 1; }
done
# shellcheck disable=SC2086
ar rcs "$LIB.tmp" $objs
mv "$LIB.tmp" "$LIB"
echo "build-faiss-c: built $LIB from faiss $version"
