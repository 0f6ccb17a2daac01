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
deb=$(ls "$dir"/"$pkg"_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
    echo "fetch-kernel: apt-get download $pkg" >&2
    (cd "$dir" && apt-get download "$pkg")
    deb=$(ls "$dir"/"$pkg"_*.deb | head -n1)
fi

rm -rf "$dir/x.tmp"
dpkg-deb -x "$deb" "$dir/x.tmp"
# The package ships no modules.dep (its postinst runs depmod); make one.
depmod -b "$dir/x.tmp" "$kver"
rm -rf "$dir/x"
mv "$dir/x.tmp" "$dir/x"
