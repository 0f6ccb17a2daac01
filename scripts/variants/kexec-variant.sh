#!/bin/sh
# kexec-variant.sh OUT
#
# Build the disk image OUT for the kexec VM test (tests/tests/vm_kexec.rs):
# a squashfs (the guest's initrd carries squashfs for the store, so it can
# mount it) holding what a second boot needs, laid out like dist/:
#   kernel, initrd    $DIST's (the test boots $DIST, then kexecs into these)
#   init              $INIT_BIN, default $DIST's (kexec-boot runs it)
#   command-line      $DIST's command line, then $KEXEC_EXTRA_PARAMS
#   kexec-boot        scripts/kexec-boot.sh, as make installs it in dist/
#
# Environment: DIST (default <repo>/dist), INIT_BIN, KEXEC_EXTRA_PARAMS (default
# none; the test adds no_timer_check, which runvm gives only the first boot
# under TCG).
set -eu

out=$1
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/scripts/variants/common.sh"

tree=$out.tree
rm -rf "$tree" "$out"
mkdir -p "$tree"
cp "$dist/kernel" "$dist/initrd" "$tree/"
install -m 755 "$init" "$tree/init"
line=$(cat "$dist/command-line")
echo "$line${KEXEC_EXTRA_PARAMS:+ $KEXEC_EXTRA_PARAMS}" >"$tree/command-line"
install -m 755 "$repo/scripts/kexec-boot.sh" "$tree/kexec-boot"
mksquashfs "$tree" "$out" -noappend -all-root -comp zstd \
    -quiet -no-progress -mkfs-time 1 -all-time 1 >/dev/null
rm -rf "$tree"
echo "$out"
