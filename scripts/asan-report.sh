#!/bin/sh
# Prints the sanitizer reports "make asan" collected in $1 (files named
# asan.<pid> and ubsan.<pid>) and fails when there is any.
set -eu

dir=$1
reports=$(find "$dir" -type f -size +0 2>/dev/null | sort)

if [ -z "$reports" ]; then
    echo "asan: no sanitizer reports"
    exit 0
fi

for f in $reports; do
    echo "== $f"
    head -60 "$f"
done
echo "asan: $(echo "$reports" | wc -l) sanitizer report(s) in $dir"
exit 1
