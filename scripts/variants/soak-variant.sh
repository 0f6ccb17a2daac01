#!/bin/sh
# soak-variant.sh OUT
#
# Build the dist-like directory OUT (kernel, initrd, root.squashfs,
# command-line, runvm) of the shutdown soak (tests/tests/vm_soak.rs,
# `make soak`), starting from $DIST (default: dist/) and the demo system:
#
#   initrd        dist's init and module set plus ext4 (and crc32c for its
#                 checksums), for realroot=/dev/vdb
#   root.squashfs a store built by scripts/mkstore.sh from a copy of demo/
#                 with tests/fixtures/soak/etc copied over its etc/: the
#                 demo services plus soak-writer
#   command-line  that store's toplevel, as dist's
#
# Environment: DIST (default <repo>/dist), INIT_BIN (default $DIST/init),
# MODULES (default <repo>/build/kernel/x/lib/modules/6.1.0-56-amd64).
set -eu

out=$1
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/scripts/variants/common.sh"
dist=${DIST:-$repo/dist}
dist=$(cd "$dist" && pwd)
init=${INIT_BIN:-$dist/init}
moddir=${MODULES:-$repo/build/kernel/x/lib/modules/6.1.0-56-amd64}
fixture=$repo/tests/fixtures/soak

rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
ln -s "$dist/kernel" "$out/kernel"
cp "$dist/runvm" "$out/runvm"   # runvm finds its files next to itself

MODULE_SET="virtio virtio_pci virtio_net virtio_rng virtio_blk virtio_console dm_mod tun loop squashfs overlay crc32c_generic ext4" \
    "$repo/scripts/mkinitrd.sh" "$init" "$moddir" "$out/initrd" >/dev/null

work=$out/build
mkdir -p "$work"
cp -R "$repo/demo" "$work/demo"
cp -R "$fixture/etc/." "$work/demo/etc/"
store_image "$init" "$work" "$out"
echo "$out"
