#!/bin/sh
# Style gate: no tabs, no trailing spaces, no line over 80 columns in the
# C (and the one C++) sources, tools, unit tests and fuzz targets.
set -u

files=$(find src tools t/unit fuzz -name '*.[ch]' -o -name '*.cpp' \
        2>/dev/null)
bad=0

for f in $files; do
    if grep -nP '\t' "$f" /dev/null | head -3 | grep .; then
        echo "style: tab in $f"; bad=1
    fi
    if grep -nE ' +$' "$f" /dev/null | head -3 | grep .; then
        echo "style: trailing spaces in $f"; bad=1
    fi
    if grep -nE '.{81,}' "$f" /dev/null | head -3 | grep .; then
        echo "style: line over 80 columns in $f"; bad=1
    fi
done

if [ $bad -ne 0 ]; then
    exit 1
fi
echo "style: $(echo $files | wc -w) files ok"
