#!/bin/sh
# stage2-variant.sh VARIANT OUT
#
# Build a dist-like directory OUT (kernel, initrd, root.squashfs,
# command-line, runvm) for one of the stage-2 VM tests
# (tests/tests/vm_stage2.rs), starting from $DIST (default: dist/) and the
# demo system:
#
#   ext4     dist's store and command line; an initrd that also carries
#            ext4 (and crc32c for its checksums), for realroot=/dev/vdb
#   etc | runit1-exit100 | runit2 | notos
#            dist's kernel and initrd; a store built by scripts/mkstore.sh
#            from a copy of demo/ with tests/fixtures/stage2-VARIANT/etc
#            copied over its etc/. A fixture file `activate` becomes the
#            toplevel's activate script (added after mkstore.sh, so the
#            toplevel's path does not cover it; @busybox@ is substituted).
#
# Environment: DIST (default <repo>/dist), INIT_BIN (default $DIST/init),
# MODULES (see common.sh).
set -eu

variant=$1 out=$2
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/scripts/variants/common.sh"
new_out

case $variant in
ext4)
    ln -s "$dist/root.squashfs" "$out/root.squashfs"
    cp "$dist/command-line" "$out/command-line"
    need_modules
    MODULE_SET=$ext4_set "$repo/scripts/mkinitrd.sh" "$init" "$MODULES" "$out/initrd" >/dev/null
    ;;
etc | runit1-exit100 | runit2 | notos)
    fixture=$repo/tests/fixtures/stage2-$variant
    [ -d "$fixture" ] || { echo "stage2-variant: $fixture missing" >&2; exit 1; }
    ln -s "$dist/initrd" "$out/initrd"
    work=$out/build
    mkdir -p "$work"
    cp -R "$repo/demo" "$work/demo"
    if [ -d "$fixture/etc" ]; then
        cp -R "$fixture/etc/." "$work/demo/etc/"
    fi
    "$repo/scripts/mkstore.sh" "$init" "$work/demo" "$work"
    top=$(cat "$work/toplevel")
    topdir=$work/store/${top#/nix/store/}
    if [ -f "$fixture/activate" ]; then
        bb=$(cd "$work/store" && ls -d -- *-busybox)
        chmod u+w "$topdir"
        sed "s,@busybox@,/nix/store/$bb,g" "$fixture/activate" >"$topdir/activate"
        chmod 555 "$topdir/activate"
        chmod a-w "$topdir"
        touch -h -d @1 "$topdir" "$topdir/activate"
    fi
    mksquashfs "$work/store" "$out/root.squashfs" -noappend -all-root -comp zstd \
        -quiet -no-progress -mkfs-time 1 -all-time 1 >/dev/null
    echo "console=ttyS0 toplevel=$top root=/dev/vda quiet panic=-1" >"$out/command-line"
    chmod -R u+w "$work"
    rm -rf "$work"
    ;;
*)
    echo "stage2-variant: unknown variant $variant (ext4, etc, runit1-exit100, runit2, notos)" >&2
    exit 2
    ;;
esac
echo "$out"
