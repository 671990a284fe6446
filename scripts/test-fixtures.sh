#!/bin/sh
# Builds the catalogs the Test::Nginx suites serve, from t/data, into $1.
# Every run starts from nothing so generation numbers are predictable.
set -eu

out=$1
build=$(cd "${RECSYS_BUILD:-$(dirname "$0")/../build}" && pwd)
rm -rf "$out"
mkdir -p "$out"
TEST_NGINX_DATA_DIR=$(cd "$out" && pwd)
export TEST_NGINX_DATA_DIR

"$build"/recsys-gen demo > "$out"/demo.jsonl

for c in small small-l2 small-ip huge-l2 demo corrupt reload-a \
         ranked-small ranked users-small \
         tampered-lists tampered-type outside renamed; do
    "$build"/recsys-build -q t/data/$c.yaml
done

# damage the "corrupt" catalog after the build: a truncated items.bin
gen=$(readlink "$out"/corrupt/current)
items="$out/corrupt/$gen/items.bin"
chmod u+w "$out/corrupt/$gen"
head -c 100 "$items" > "$items.tmp" && mv "$items.tmp" "$items"

# issue 9 item 11: index.faiss damaged behind its checksums, which a
# worker no longer computes (the builder verified them before publishing)
"$build"/recsys-gen tamper "$out/tampered-lists/generations/1" list-size
"$build"/recsys-gen tamper "$out/tampered-type/generations/1" index-type

# "current" names something else than generations/<number>
ln -sfn "$TEST_NGINX_DATA_DIR/outside/generations/1" "$out/outside/current"
cp -a "$out/renamed/generations/1" "$out/renamed/generations/2"
ln -sfn generations/2 "$out/renamed/current"

# workers run as an unprivileged user when nginx starts as root
chmod -R a+rX "$out"
echo "test-fixtures: catalogs built in $out"
