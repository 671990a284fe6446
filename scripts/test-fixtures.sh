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

for c in small small-l2 small-ip huge-l2 demo corrupt reload-a; do
    "$build"/recsys-build -q t/data/$c.yaml
done

# damage the "corrupt" catalog after the build: a truncated items.bin
gen=$(readlink "$out"/corrupt/current)
items="$out/corrupt/$gen/items.bin"
head -c 100 "$items" > "$items.tmp" && mv "$items.tmp" "$items"

# workers run as an unprivileged user when nginx starts as root
chmod -R a+rX "$out"
echo "test-fixtures: catalogs built in $out"
