#!/bin/sh
# Build libfaiss_c.a (FAISS's C API) from Debian's own faiss source package
# (scripts/faiss-source.sh), against the installed libfaiss.a.  Debian ships
# the C API headers in libfaiss-dev but not their objects.  The result is
# cached in $OUT and only rebuilt when missing.
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

src=$("$(dirname "$0")"/faiss-source.sh "$OUT")
mkdir -p "$OUT/obj"

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
echo "build-faiss-c: built $LIB from $src"
