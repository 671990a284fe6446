# What the bench scripts share; sourced after they set bench_name (the
# name their messages start with), url (when they start an nginx) and
# their settings.
#
#   die MESSAGE           print "<bench_name>: MESSAGE" and exit 1
#   bench_need CMD...     die unless every command is on PATH
#   bench_port_free VAR   die when something answers on $url; VAR is the
#                         setting that chooses another port

die() {
    echo "$bench_name: $*" >&2
    exit 1
}

bench_need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null || die "$c not found (scripts/deps.sh)"
    done
}

bench_port_free() {
    if curl -s -o /dev/null "$url/"; then
        die "something already listens on ${url#http://} (set $1)"
    fi
}
