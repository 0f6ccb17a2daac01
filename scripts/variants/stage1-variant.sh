#!/bin/sh
# stage1-variant.sh VARIANT OUT
#
# Build a dist-like directory OUT (kernel, initrd, root.squashfs,
# command-line, runvm) that differs from $DIST (default: dist/) in one way,
# for the stage-1 VM tests (tests/tests/vm_stage1.rs). $DIST is only read.
#
#   loopfile     the initrd also holds /nix-store.squashfs (the store image,
#                as a second cpio archive appended to the initrd); the virtio
#                disk root.squashfs is a 1 MiB file of zeros, so the store
#                can only come from the loop device (boot with
#                root=/nix-store.squashfs)
#   xzmods       the initrd is rebuilt with MODULES_COMPRESS=xz
#   ext4         the initrd also has ext4 (and crc32c_generic, its softdep);
#                OUT/disk-label.img is an empty ext4 file system labelled
#                "data", OUT/disk.img one without a label
#   foreign-init the store image gets $toplevel/init: a busybox sh script
#                that prints "foreign stage-2 running as pid $$" and execs
#                the store's init binary
#   bare         an initrd built here by hand: /init, /dev/console and
#                lib/modules/KVER with not-os's module files and what depmod
#                writes, nothing else (no etc/, no module list)
#   gpt          the virtio disk is a GPT disk: partition 1 "bios" (empty),
#                partition 2 "nixstore" (uuid in OUT/partuuid) holds the store
#   mbr          the same with an MBR (disk id 0x1badcafe): the store is
#                partition 2, PARTUUID 1badcafe-02
#   http         the virtio disk is 1 MiB of zeros and OUT/nix-store.squashfs
#                is the store, for the test to serve over HTTP (root=http://…)
#   notoplevel   command-line has no toplevel=: stage-1 finds the system
#   nvme, ahci   the initrd also holds nvme (resp. ahci and sd_mod); the
#                store is OUT/store.img, for the test to attach to an NVMe
#                (resp. AHCI) controller; the virtio disk is 1 MiB of zeros
#
# Environment: DIST, MODULES (see common.sh), INITRD_COMPRESS for rebuilt
# initrds (default none: zstd -19 costs seconds of CPU per test and
# compression is not what these variants are about).
set -eu
: "${INITRD_COMPRESS:=none}"
export INITRD_COMPRESS

variant=$1 out=$2
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/scripts/variants/common.sh"

new_out
cp "$dist/command-line" "$out/command-line"

case $variant in
loopfile)
    ln -s "$dist/root.squashfs" "$out/root.squashfs"
    tree=$out/extra
    mkdir -p "$tree"
    cp "$dist/root.squashfs" "$tree/nix-store.squashfs"
    # The kernel unpacks concatenated archives in turn; the second one may
    # be uncompressed even when the first is not.
    cp "$dist/initrd" "$out/initrd"
    # The kernel recognises an uncompressed archive only at a 4-byte aligned
    # offset (zeros between archives are skipped): pad to 512 bytes.
    size=$(stat -c %s "$out/initrd")
    head -c $(((512 - size % 512) % 512)) /dev/zero >>"$out/initrd"
    (cd "$tree" && echo nix-store.squashfs | cpio -o -H newc -R 0:0 --quiet) >>"$out/initrd"
    rm -rf "$tree" "$out/root.squashfs"
    head -c 1048576 /dev/zero >"$out/root.squashfs"
    ;;
xzmods)
    need_modules
    ln -s "$dist/root.squashfs" "$out/root.squashfs"
    MODULES_COMPRESS=xz "$repo/scripts/mkinitrd.sh" "$dist/init" "$MODULES" "$out/initrd"
    ;;
ext4)
    need_modules
    ln -s "$dist/root.squashfs" "$out/root.squashfs"
    MODULE_SET=$ext4_set \
        "$repo/scripts/mkinitrd.sh" "$dist/init" "$MODULES" "$out/initrd"
    truncate -s 64M "$out/disk-label.img" "$out/disk.img"
    mkfs.ext4 -q -F -L data "$out/disk-label.img"
    mkfs.ext4 -q -F "$out/disk.img"
    ;;
foreign-init)
    ln -s "$dist/initrd" "$out/initrd"
    top=$(tr ' ' '\n' <"$dist/command-line" | sed -n 's,^toplevel=/nix/store/,,p' | tail -n 1)
    [ -n "$top" ] || { echo "stage1-variant: no toplevel= in $dist/command-line" >&2; exit 1; }
    store=$out/store
    unsquashfs -q -n -d "$store" "$dist/root.squashfs" >/dev/null
    chmod -R u+w "$store"
    bb='' in=''
    for p in "$store"/*-busybox; do bb=${p##*/}; done
    for p in "$store"/*-init; do in=${p##*/}; done
    if ! [ -x "$store/$bb/bin/sh" ] || ! [ -x "$store/$in/bin/init" ] || ! [ -d "$store/$top" ]; then
        echo "stage1-variant: store lacks busybox, init or $top" >&2
        exit 1
    fi
    cat >"$store/$top/init" <<EOF
#!/nix/store/$bb/bin/sh
echo "foreign stage-2 running as pid \$\$"
exec /nix/store/$in/bin/init
EOF
    chmod 555 "$store/$top/init"
    chmod -R a-w "$store"/*
    mksquashfs "$store" "$out/root.squashfs" -noappend -all-root -comp zstd \
        -quiet -no-progress -mkfs-time 1 -all-time 1
    chmod -R u+w "$store"
    rm -rf "$store"
    ;;
bare)
    need_modules
    ln -s "$dist/root.squashfs" "$out/root.squashfs"
    kver=$(basename "$MODULES")
    tree=$out/tree
    mkdir -p "$tree/dev" "$tree/lib/modules/$kver"
    mknod -m 600 "$tree/dev/console" c 5 1
    cp "$dist/init" "$tree/init"
    base=$(cd "$MODULES/../../.." && pwd)
    for m in $default_set; do
        modprobe -d "$base" -S "$kver" --show-depends "$m"
    done | awk '$1 == "insmod" { print $2 }' | sort -u | while read -r f; do
        rel=${f#"$base/lib/modules/$kver/"}
        mkdir -p "$tree/lib/modules/$kver/$(dirname "$rel")"
        cp "$f" "$tree/lib/modules/$kver/$rel"
    done
    cp "$MODULES/modules.builtin" "$MODULES/modules.builtin.modinfo" "$MODULES/modules.order" \
        "$tree/lib/modules/$kver/"
    depmod -b "$tree" "$kver"
    (cd "$tree" && find . -mindepth 1 | LC_ALL=C sort |
        cpio -o -H newc -R 0:0 --quiet) >"$out/initrd"
    rm -rf "$tree"
    ;;
gpt | mbr)
    ln -s "$dist/initrd" "$out/initrd"
    size=$(stat -c %s "$dist/root.squashfs")
    sectors=$(((size + 511) / 512))
    # 1 MiB of space before partition 1, 1 MiB for it, the store, 1 MiB
    # at the end for GPT's backup table.
    img=$out/root.squashfs
    truncate -s $((2 * 1048576 + sectors * 512 + 1048576)) "$img"
    if [ "$variant" = gpt ]; then
        echo c0ffee00-1234-4abc-8def-0123456789ab >"$out/partuuid"
        sfdisk -q "$img" <<EOF
label: gpt
label-id: 5a1e0c2b-1d7e-4c59-9c2b-6b0a8f3e2d10
start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, name="bios", uuid=0badf00d-0000-4000-8000-000000000001
start=4096, size=$sectors, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="nixstore", uuid=c0ffee00-1234-4abc-8def-0123456789ab
EOF
    else
        echo 1badcafe-02 >"$out/partuuid"
        sfdisk -q "$img" <<EOF
label: dos
label-id: 0x1badcafe
start=2048, size=2048, type=83
start=4096, size=$sectors, type=83
EOF
    fi
    dd if="$dist/root.squashfs" of="$img" bs=512 seek=4096 conv=notrunc status=none
    ;;
http)
    ln -s "$dist/initrd" "$out/initrd"
    cp "$dist/root.squashfs" "$out/nix-store.squashfs"
    head -c 1048576 /dev/zero >"$out/root.squashfs"
    ;;
notoplevel)
    ln -s "$dist/initrd" "$out/initrd"
    ln -s "$dist/root.squashfs" "$out/root.squashfs"
    tr ' ' '\n' <"$dist/command-line" | grep -v '^toplevel=' | tr '\n' ' ' >"$out/command-line"
    ;;
nvme | ahci)
    need_modules
    case $variant in
        nvme) extra=nvme ;;
        ahci) extra="ahci sd_mod" ;;
    esac
    MODULE_SET="$default_set $extra" \
        "$repo/scripts/mkinitrd.sh" "$dist/init" "$MODULES" "$out/initrd"
    cp "$dist/root.squashfs" "$out/store.img"
    head -c 1048576 /dev/zero >"$out/root.squashfs"
    ;;
*)
    echo "stage1-variant: unknown variant $variant" >&2
    exit 2
    ;;
esac
