#!/bin/sh
# fault-variant.sh VARIANT OUT
#
# Build a dist-like directory OUT (kernel, initrd, root.squashfs,
# command-line, runvm) for the stage-1 fault tests
# (tests/tests/vm_faults_stage1.rs). $DIST is only read. Every variant's
# initrd is built here from INIT_BIN (so the binary under test is the one
# that boots, and its boot.debug_panic= switch is there); runvm is the
# repository's scripts/runvm.sh (for QEMU_NO_STORE).
#
#   base       dist's store image and command line
#   truncated  the store image cut to its first half
#   garbage    the store "image" is 1 MiB of high-entropy bytes (a slice of
#              the kernel's compressed payload): no squashfs superblock
#   baddata    dist's store image with everything between its superblock
#              and its inode table (the contents of every file) overwritten
#              by such bytes; the superblock and the tables are intact
#   baddirs    dist's store image with its directory table (and the
#              fragment entries after it) overwritten by such bytes; the
#              superblock, the inode table and the files' data are intact
#   tinyroot   a store built by scripts/mkstore.sh from a copy of demo/ with
#              tests/fixtures/fault-tinyroot/etc copied over its etc/ (the
#              service `fill` writes 10 MB to /var/tmp)
#
# Environment: DIST (default <repo>/dist), INIT_BIN (default $DIST/init),
# MODULES (see common.sh), INITRD_COMPRESS (default none:
# compression is not what these variants are about).
set -eu
: "${INITRD_COMPRESS:=none}"
export INITRD_COMPRESS

variant=$1 out=$2
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/scripts/variants/common.sh"
need_modules
new_out
install -m 755 "$repo/scripts/runvm.sh" "$out/runvm"   # for QEMU_NO_STORE
"$repo/scripts/mkinitrd.sh" "$init" "$MODULES" "$out/initrd" >/dev/null

# noise FILE BYTES: BYTES of deterministic, high-entropy bytes (the
# compressed payload of the kernel image, from 2 MiB on) into FILE.
noise() {
    tail -c +2097153 "$dist/kernel" | head -c "$2" >"$1"
}

# sb_u64 IMAGE OFFSET: the little-endian 64-bit field of the squashfs
# superblock at OFFSET (64: inode table, 72: directory table, 80: fragment
# table index).
sb_u64() {
    od -An -t u8 -j "$2" -N 8 "$1" | tr -d ' '
}

# overwrite IMAGE FROM TO: replace bytes FROM..TO-1 of IMAGE with noise.
overwrite() {
    noise "$out/noise" $(($3 - $2))
    dd if="$out/noise" of="$1" bs=65536 seek="$2" oflag=seek_bytes conv=notrunc status=none
    rm "$out/noise"
}

case $variant in
base)
    # Copies, not links: a dist rebuilt meanwhile cannot mismatch them.
    cp "$dist/command-line" "$dist/root.squashfs" "$out/"
    ;;
truncated)
    cp "$dist/command-line" "$out/command-line"
    size=$(stat -c %s "$dist/root.squashfs")
    head -c $((size / 2)) "$dist/root.squashfs" >"$out/root.squashfs"
    ;;
garbage)
    cp "$dist/command-line" "$out/command-line"
    noise "$out/root.squashfs" 1048576
    ;;
baddata | baddirs)
    cp "$dist/command-line" "$dist/root.squashfs" "$out/"
    img=$out/root.squashfs
    case $variant in
    baddata) overwrite "$img" 96 "$(sb_u64 "$img" 64)" ;;
    baddirs) overwrite "$img" "$(sb_u64 "$img" 72)" "$(sb_u64 "$img" 80)" ;;
    esac
    ;;
tinyroot)
    fixture=$repo/tests/fixtures/fault-$variant
    [ -d "$fixture/etc" ] || { echo "fault-variant: $fixture/etc missing" >&2; exit 1; }
    work=$out/build
    mkdir -p "$work"
    cp -R "$repo/demo" "$work/demo"
    cp -R "$fixture/etc/." "$work/demo/etc/"
    store_image "$init" "$work" "$out"
    ;;
*)
    echo "fault-variant: unknown variant $variant (base, truncated, garbage, baddata, baddirs, tinyroot)" >&2
    exit 2
    ;;
esac
echo "$out"
