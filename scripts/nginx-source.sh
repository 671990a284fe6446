#!/bin/sh
# Unpacks the full source of the installed nginx (Debian's nginx source
# package, the upstream tarball it is built from) into $1/tree, with
# Debian's configure flags (conf_flags from nginx-dev, and the http
# modules built into /usr/sbin/nginx), for builds that
# need nginx's own .c files: make asan compiles nginx itself.  nginx-dev's
# /usr/share/nginx/src holds only what modules need.  Cached: nothing is
# done when $1/tree is there.  A private apt sources list is used, as in
# build-faiss-c.sh.
set -eu

out=${1:-build/nginx-full}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ -f "$out/tree/src/core/nginx.c" ]; then
    exit 0
fi

version=$(dpkg-query -W -f '${source:Upstream-Version}' nginx-dev)
apt_dir="$out/apt"
mkdir -p "$apt_dir/lists/partial" "$out/dl"

echo "deb-src http://deb.debian.org/debian bookworm main" \
    > "$apt_dir/sources.list"
echo "deb-src http://deb.debian.org/debian-security bookworm-security main" \
    >> "$apt_dir/sources.list"
opts="-o Dir::Etc::SourceList=$apt_dir/sources.list
      -o Dir::Etc::SourceParts=/dev/null
      -o Dir::State::Lists=$apt_dir/lists"

# only the upstream tarball is used: it may arrive when the Debian part
# of the source package does not
tarball="$out/dl/nginx_$version.orig.tar.gz"
if [ ! -f "$tarball" ]; then
    # shellcheck disable=SC2086
    apt-get $opts -qq update
    # shellcheck disable=SC2086
    (cd "$out/dl" && apt-get $opts -qq source --download-only \
        "nginx=$(dpkg-query -W -f '${source:Version}' nginx-dev)" \
        || [ -f "$tarball" ] \
        || apt-get $opts -qq source --download-only nginx) \
        || [ -f "$tarball" ]
fi

rm -rf "$out/tree.tmp"
mkdir -p "$out/tree.tmp"
tar -C "$out/tree.tmp" --strip-components=1 \
    -xzf "$tarball"
cp /usr/share/nginx/src/conf_flags "$out/tree.tmp/"
# plus the http modules the packaged binary has built in beyond those
# common flags (the suites use sub_filter, for one)
extra=$(/usr/sbin/nginx -V 2>&1 | tr ' ' '\n' \
        | grep -E '^--with-http_[a-z0-9_]+_module$' \
        | grep -vxFf "$(tr ' ' '\n' < /usr/share/nginx/src/conf_flags \
                        > "$out/common"; echo "$out/common")" || true)
echo "NGX_CONF_FLAGS+=(" $extra ")" >> "$out/tree.tmp/conf_flags"
mv "$out/tree.tmp" "$out/tree"
echo "nginx-source: nginx $version in $out/tree"
