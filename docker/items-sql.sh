#!/bin/sh
# JSON Lines items (recsys-gen demo) on stdin to SQL on stdout: a COPY
# into items_jsonl, one document a row (initdb/01-schema.sql makes the
# table, initdb/03-load.sql turns the rows into items).  The Dockerfile
# writes the database image's initdb/02-demo-items.sql with it.
set -eu

echo 'COPY items_jsonl (doc) FROM stdin;'
# COPY's text format: a backslash is written twice; JSON has no tab or
# newline inside a line
sed 's/\\/\\\\/g'
printf '%s\n' '\.'
