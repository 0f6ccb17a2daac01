#!/bin/sh
# fetch-kernel.sh PKG KVER DIR
#
# Download the Debian kernel package PKG with apt into DIR, unpack it into
# DIR/x and run depmod over the unpacked tree, so that
#   DIR/x/boot/vmlinuz-KVER          is the kernel and
#   DIR/x/lib/modules/KVER/          is a module tree with modules.dep.
# Idempotent: a finished DIR/x/lib/modules/KVER/modules.dep is left alone.
set -eu

pkg=$1 kver=$2 dir=$3
done_marker=$dir/x/lib/modules/$kver/modules.dep
[ -e "$done_marker" ] && exit 0

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# apt-get download writes into the current directory. The _apt sandbox user
# cannot always write there; the warning that results is harmless.
# first_deb: the package file, if downloaded already (a glob, no `ls`).
first_deb() { for f in "$dir/$pkg"_*.deb; do [ -e "$f" ] && echo "$f"; return 0; done; }
deb=$(first_deb)
if [ -z "$deb" ]; then
    echo "fetch-kernel: apt-get download $pkg" >&2
    # A fresh machine may have no package lists yet: update once and retry.
    (cd "$dir" && apt-get download "$pkg") || {
        apt-get update -qq && (cd "$dir" && apt-get download "$pkg")
    }
    deb=$(first_deb)
fi

rm -rf "$dir/x.tmp"
dpkg-deb -x "$deb" "$dir/x.tmp"
# The package ships no modules.dep (its postinst runs depmod); make one.
depmod -b "$dir/x.tmp" "$kver"
rm -rf "$dir/x"
mv "$dir/x.tmp" "$dir/x"
