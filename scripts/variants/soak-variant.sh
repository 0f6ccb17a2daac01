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
# MODULES (see common.sh).
set -eu

out=$1
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/scripts/variants/common.sh"
fixture=$repo/tests/fixtures/soak

need_modules
new_out
MODULE_SET=$ext4_set "$repo/scripts/mkinitrd.sh" "$init" "$MODULES" "$out/initrd" >/dev/null

work=$out/build
mkdir -p "$work"
cp -R "$repo/demo" "$work/demo"
cp -R "$fixture/etc/." "$work/demo/etc/"
store_image "$init" "$work" "$out"
echo "$out"
