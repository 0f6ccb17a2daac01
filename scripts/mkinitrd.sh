#!/bin/sh
# mkinitrd.sh INIT MODDIR OUT
#
# Build the initramfs: INIT becomes /init, and the not-os module set plus its
# dependency closure (from MODDIR/modules.dep) is copied to
# /lib/modules/KVER/, where KVER is the basename of MODDIR. depmod then
# indexes the copied modules. That is all: stage-1 loads the drivers of the
# devices it finds (coldplug and uevents) and what its mounts need.
#
# Environment:
#   MODULE_SET        modules to include (default: the not-os set, plus 9p
#                     and virtiofs for a store shared by the host, and ext4
#                     for runvm's NIX_DISK_IMAGE)
#   MODULES_LOAD      also write /etc/modules-load.d/initrd.conf listing these
#                     modules (loaded whatever the devices; default: none)
#   INITRD_COMPRESS   gzip | zstd | xz | none (default zstd, see the Makefile)
#   MODULES_COMPRESS  none | xz | gzip | zstd: compress the .ko files as the
#                     kernel's build does (default none). init decodes xz by
#                     default; gzip and zstd need INIT_FEATURES (Makefile).
set -eu

init=$1 moddir=$2 out=$3
: "${MODULE_SET:=virtio virtio_pci virtio_net virtio_rng virtio_blk virtio_console dm_mod tun loop squashfs overlay 9p 9pnet_virtio virtiofs ext4 crc32c_generic}"
: "${INITRD_COMPRESS:=zstd}"
: "${MODULES_COMPRESS:=none}"
kver=$(basename "$moddir")
[ -e "$moddir/modules.dep" ] || { echo "mkinitrd: $moddir/modules.dep missing (run depmod)" >&2; exit 1; }

tree=$out.tree
rm -rf "$tree"
mkdir -p "$tree/dev" "$tree/proc" "$tree/sys" "$tree/run" "$tree/tmp"
# The kernel opens /dev/console for /init's stdio before anything is mounted.
mknod -m 600 "$tree/dev/console" c 5 1
cp "$init" "$tree/init"
chmod 755 "$tree/init"

MODULES_COMPRESS=$MODULES_COMPRESS "$(dirname "$0")/modtree.sh" "$moddir" "$tree" $MODULE_SET
if [ -n "${MODULES_LOAD:-}" ]; then
    mkdir -p "$tree/etc/modules-load.d"
    for m in $MODULES_LOAD; do echo "$m"; done >"$tree/etc/modules-load.d/initrd.conf"
fi

# A reproducible newc archive: sorted names, root-owned, fixed mtimes.
find "$tree" -exec touch -h -d @0 {} +
case $INITRD_COMPRESS in
    gzip) compress="gzip -9n" ;;
    zstd) compress="zstd -19 -q -T0" ;;
    xz) compress="xz --check=crc32 -9" ;;
    none) compress="cat" ;;
    *) echo "mkinitrd: INITRD_COMPRESS=$INITRD_COMPRESS unknown" >&2; exit 1 ;;
esac
(cd "$tree" && find . -mindepth 1 | LC_ALL=C sort |
    cpio -o -H newc -R 0:0 --reproducible --quiet) | $compress >"$out.tmp"
mv "$out.tmp" "$out"
rm -rf "$tree"
