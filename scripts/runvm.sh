#!/bin/sh
# runvm: boot the kernel, initrd and root.squashfs that sit next to this
# script in QEMU, with the serial console on stdio (Ctrl-a x quits).
#
# Environment (as NixOS's run-*-vm scripts):
#   QEMU_OPTS           extra QEMU arguments (word-split), appended last
#   QEMU_KERNEL_PARAMS  extra kernel parameters, appended to command-line
#   QEMU_ACCEL          kvm | tcg: skip the probe and use this accelerator
#   QEMU_NIC            the -nic option (default user,model=virtio-net-pci);
#                       e.g. add ,guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:8000
#                       to reach a server on the host's loopback
#   KVM_PROBE_TIMEOUT   seconds the KVM probe may take (default 5)
#   QEMU_NO_STORE       1: attach no root.squashfs disk (a test then hot-adds
#                       one through the monitor)
# `runvm --probe` prints the accelerator the probe picks and exits.
set -eu

dir=$(cd "$(dirname "$0")" && pwd)

# kvm_works: /dev/kvm can be opened, yet on some hosts KVM guests hang as
# soon as the kernel leaves real mode (a real-mode boot sector still works,
# so it is no probe). The probe therefore boots this very kernel without an
# initrd under KVM: it panics at once for want of a root fs and, with
# panic=-1 and -no-reboot, QEMU exits. KVM works iff that happens in time.
# Nothing is cached: the answer belongs to this machine, now.
kvm_works() {
    [ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
    timeout --kill-after=1 "${KVM_PROBE_TIMEOUT:-5}" \
        qemu-system-x86_64 -accel kvm -m 128 -smp 1 -nodefaults -no-user-config \
        -display none -serial none -no-reboot \
        -kernel "$dir/kernel" -append "panic=-1 quiet loglevel=0" \
        </dev/null >/dev/null 2>&1
}

accel=${QEMU_ACCEL:-}
if [ -z "$accel" ]; then
    if kvm_works; then accel=kvm; else accel=tcg; fi
fi
if [ "${1:-}" = --probe ]; then
    echo "$accel"
    exit 0
fi

# Under TCG on a busy host the kernel's IO-APIC timer check can fail and
# panic before /init runs; the check proves nothing about an emulated timer.
tcg_params=
[ "$accel" = tcg ] && tcg_params=no_timer_check

store=1
[ "${QEMU_NO_STORE:-}" = 1 ] && store=

# shellcheck disable=SC2086 # QEMU_OPTS is meant to be word-split
exec qemu-system-x86_64 \
    -name not-os -accel "$accel" -m 512 -smp 2 \
    -kernel "$dir/kernel" -initrd "$dir/initrd" \
    -append "$(cat "$dir/command-line") $tcg_params ${QEMU_KERNEL_PARAMS:-}" \
    ${store:+-drive} ${store:+"file=$dir/root.squashfs,format=raw,if=virtio,readonly=on"} \
    -nic "${QEMU_NIC:-user,model=virtio-net-pci}" \
    -device virtio-rng-pci \
    -nographic -no-reboot \
    ${QEMU_OPTS:-} "$@"
