#!/bin/sh
# Builds $OUT/faiss-avx2.o (default build/faiss): the translation units of
# Debian's faiss source (scripts/faiss-source.sh) that hold the distance
# kernels, the flat and IVF-Flat scanners and the scalar quantizer codecs,
# compiled for AVX2+FMA+F16C+POPCNT with Debian's own compiler flags, in
# one relocatable object that is linked ahead of Debian's libfaiss.a.  An
# object (not an archive) is always linked whole, so every symbol of these
# units resolves to the AVX2 code and the linker never pulls Debian's
# members of the same name.  scripts/faiss-simd.sh decides whether it is
# used; docs/decisions.md says why these units and not the whole library.
#
#   scripts/build-faiss-simd.sh [OUT] [LIBFAISS]
#
# Cached: nothing is rebuilt while the recipe (compiler, flags, units,
# faiss version, this script) is unchanged.  Before publishing it checks
# that each unit defines every global symbol of Debian's member (so that
# member is never linked in as well), that no inline code whose definition
# depends on the instruction set (simdlib types, fp16) is exported to
# Debian's other members, that fvec_inner_product uses FMA, and that it
# links with Debian's libfaiss.a without duplicate definitions.
set -eu

OUT=${1:-build/faiss}
LIBFAISS=${2:-/usr/lib/$(gcc -print-multiarch)/libfaiss.a}
CC=${CC:-gcc}
CXX=${CXX:-g++}

here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
obj="$OUT/faiss-avx2.o"
dir="$OUT/avx2"

units="utils/distances_simd utils/distances IndexFlat IndexIVFFlat
       impl/ScalarQuantizer IndexScalarQuantizer"
isa="-mavx2 -mfma -mf16c -mpopcnt"

die() {
    echo "build-faiss-simd: $*" >&2
    exit 1
}

# Debian's flags for its own build (debian/rules: hardening=+all), without
# -g: the installed libfaiss.a carries no debug information either
flags=$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CPPFLAGS)
flags="$flags $(DEB_BUILD_MAINT_OPTIONS=hardening=+all \
                dpkg-buildflags --get CXXFLAGS | sed 's/\(^\| \)-g\( \|$\)/ /')"
flags="$flags -fPIC -fopenmp -std=c++11 -DFINTEGER=int $isa"

recipe="$($CXX --version | head -n 1)
$(dpkg-query -W -f '${Version}' libfaiss-dev) $LIBFAISS
$flags
$units
$(cksum < "$0") $(cksum < "$here/faiss-simd-guard.c")"

if [ -f "$obj" ] && [ "$(cat "$dir/recipe" 2>/dev/null)" = "$recipe" ]; then
    touch "$obj"
    exit 0
fi

[ -f "$LIBFAISS" ] || die "$LIBFAISS not found (libfaiss-dev)"
src=$("$here"/faiss-source.sh "$OUT")

rm -rf "$dir"
mkdir -p "$dir/debian"

pids=""
for u in $units; do
    # shellcheck disable=SC2086
    $CXX $flags -I"$src" -c "$src/faiss/$u.cpp" \
        -o "$dir/$(basename "$u").o" &
    pids="$pids $!"
done
# shellcheck disable=SC2086
$CC -O2 -fPIC -Wall -Wextra -Werror -c "$here/faiss-simd-guard.c" \
    -o "$dir/guard.o" &
pids="$pids $!"

failed=0
for p in $pids; do
    wait "$p" || failed=1
done
[ $failed = 0 ] || die "compilation failed"

strong() {
    nm --defined-only -g "$1" | awk '$2 ~ /^[TDBR]$/ { print $3 }' | sort
}

for u in $units; do
    m=$(basename "$u")
    [ "$(ar t "$LIBFAISS" | grep -cx "$m.cpp.o")" = 1 ] \
        || die "$LIBFAISS has no single member $m.cpp.o"
    (cd "$dir/debian" && ar x "$LIBFAISS" "$m.cpp.o")
    strong "$dir/$m.o" > "$dir/debian/$m.sym"
    missing=$(strong "$dir/debian/$m.cpp.o" | comm -23 - "$dir/debian/$m.sym")
    [ -z "$missing" ] || die "$m.o lacks symbols of Debian's $m.cpp.o:" \
                             "$(echo "$missing" | c++filt | head -n 5)"
done

isa_weak=$(nm -C --defined-only "$dir"/*.o \
           | awk '$2 ~ /^[WVu]$/' | grep -E 'simd[0-9]|simd256|fp16' || true)
[ -z "$isa_weak" ] || die "instruction-set dependent inline code would be" \
                          "shared with Debian's members: $isa_weak"

objdump -d --no-show-raw-insn \
    --disassemble=_ZN5faiss18fvec_inner_productEPKfS1_m \
    "$dir/distances_simd.o" | grep -q vfmadd \
    || die "fvec_inner_product in distances_simd.o has no FMA instruction"

ld -r -o "$dir/faiss-avx2.o" "$dir"/*.o

# Debian's members must not come in beside these: a duplicate definition
# fails this link
$CXX -shared -fopenmp -o "$dir/trial.so" "$dir/faiss-avx2.o" "$LIBFAISS" \
    -lblas -llapack || die "trial link with $LIBFAISS failed"

echo "$recipe" > "$dir/recipe"
mv "$dir/faiss-avx2.o" "$obj"
rm -rf "$dir/debian" "$dir/trial.so"
echo "build-faiss-simd: built $obj from $src"
