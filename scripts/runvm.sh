#!/bin/sh
# runvm: boot the kernel, initrd and root.squashfs that sit next to this
# script in QEMU, with the serial console on stdio (Ctrl-a x quits).
#
# Environment (as NixOS's run-*-vm scripts):
#   QEMU_OPTS           extra QEMU arguments (word-split), after the fixed ones
#   QEMU_KERNEL_PARAMS  extra kernel parameters, appended to command-line
#   QEMU_NET_OPTS       appended to the NIC's options, e.g.
#                       hostfwd=tcp::2222-:22
#   NIX_DISK_IMAGE      a persistent ext4 disk for / (realroot=LABEL=nixos).
#                       Shared-store mode: always, default ./<hostname>.qcow2
#                       (the demo's hostname), created on first run
#                       (NIX_DISK_SIZE, default 1024M, formatted on the host
#                       with label nixos, then converted to qcow2, as NixOS
#                       does). Squashfs mode: only when set.
#   SHARED_DIR          a host directory shown at /tmp/xchg in the guest
#                       (9p tag `shared`, kernel parameter boot.xchg=shared)
#   QEMU_ACCEL          kvm | tcg: skip the probe and use this accelerator
#   QEMU_NIC            the -nic option (default user,model=virtio-net-pci);
#                       e.g. add ,guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:8000
#                       to reach a server on the host's loopback
#   KVM_PROBE_TIMEOUT   seconds the KVM probe may take (default 5)
#   QEMU_NO_STORE       1: attach no root.squashfs disk (a test then hot-adds
#                       one through the monitor)
#   RUNVM_MEM           guest memory in MiB (default 512)
# The store shared from the host, as `nixos-rebuild build-vm` does (no
# squashing after a change; writable in the guest through the overlay, never
# written on the host):
#   RUNVM_STORE         9p | virtiofs: share RUNVM_STORE_DIR under tag
#                       nix-store (root=9p:nix-store / root=virtiofs:nix-store)
#                       instead of attaching root.squashfs
#   RUNVM_STORE_DIR     the store directory (store paths at its top; default:
#                       root.squashfs unpacked into a temporary directory)
#   VIRTIOFSD           default /usr/lib/qemu/virtiofsd (Debian 12's, which
#                       needs root); started on a socket in a temporary
#                       directory and stopped when QEMU is gone
#   TMPDIR              where that temporary directory goes (default /tmp)
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

die() {
    echo "runvm: $*" >&2
    exit 1
}

# Under TCG on a busy host the kernel's IO-APIC timer check can fail and
# panic before /init runs; the check proves nothing about an emulated timer.
params=$(cat "$dir/command-line")
[ "$accel" = tcg ] && params="$params no_timer_check"
mem=${RUNVM_MEM:-512}
# The options of the modes below go in front of this script's arguments
# ("$@", which stay last), so that paths may hold white space.

store=1
[ "${QEMU_NO_STORE:-}" = 1 ] && store=
tmp=
need_tmp() {
    [ -n "$tmp" ] && return
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/runvm.XXXXXXXXXX")
    # Removed once QEMU (this very process, after exec) is gone; virtiofsd
    # is stopped then too. tail --pid waits without being our child.
    (
        trap '' INT TERM HUP
        tail --pid=$$ -f /dev/null
        [ -f "$tmp/virtiofsd.pid" ] && kill "$(cat "$tmp/virtiofsd.pid")" 2>/dev/null
        chmod -R u+w "$tmp" 2>/dev/null
        rm -rf "$tmp"
    ) </dev/null >/dev/null 2>&1 &
}

case ${RUNVM_STORE:-} in
    '') ;;
    9p | virtiofs)
        store=
        store_dir=${RUNVM_STORE_DIR:-}
        if [ -z "$store_dir" ]; then
            need_tmp
            store_dir=$tmp/store
            unsquashfs -no-progress -d "$store_dir" "$dir/root.squashfs" >/dev/null ||
                die "cannot unpack $dir/root.squashfs (squashfs-tools)"
        fi
        [ -d "$store_dir" ] || die "RUNVM_STORE_DIR=$store_dir: not a directory"
        store_dir=$(cd "$store_dir" && pwd)
        params="$params root=${RUNVM_STORE}:nix-store"
        # The disk image's default name is the system's hostname, as NixOS's.
        toplevel=$(printf '%s\n' $params | sed -n 's|^toplevel=/nix/store/||p' | tail -n 1)
        host=$(cat "$store_dir/$toplevel/etc/hostname" 2>/dev/null || echo nixos)
        : "${NIX_DISK_IMAGE:=./$host.qcow2}"
        ;;
    *) die "RUNVM_STORE=$RUNVM_STORE: expected 9p or virtiofs" ;;
esac

if [ "${RUNVM_STORE:-}" = 9p ]; then
    set -- -virtfs "local,path=$store_dir,mount_tag=nix-store,security_model=none,readonly=on" "$@"
elif [ "${RUNVM_STORE:-}" = virtiofs ]; then
    virtiofsd=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
    [ -x "$virtiofsd" ] || die "$virtiofsd is missing (Debian: qemu-system-common); or use RUNVM_STORE=9p"
    [ "$(id -u)" = 0 ] || die "Debian 12's virtiofsd needs root; or use RUNVM_STORE=9p"
    need_tmp
    sock=$tmp/virtiofsd.sock
    "$virtiofsd" --socket-path="$sock" -o source="$store_dir" -o cache=always \
        </dev/null >"$tmp/virtiofsd.log" 2>&1 &
    echo $! >"$tmp/virtiofsd.pid"
    # It listens within milliseconds; a bounded wait, not an unbounded one.
    i=0
    while [ ! -S "$sock" ]; do
        i=$((i + 1))
        [ $i -le 100 ] && kill -0 "$(cat "$tmp/virtiofsd.pid")" 2>/dev/null ||
            die "virtiofsd did not start: $(cat "$tmp/virtiofsd.log")"
        sleep 0.05
    done
    # virtiofs needs the guest's RAM shared with virtiofsd, sized as -m.
    set -- -chardev "socket,id=nixstore,path=$sock" \
        -device vhost-user-fs-pci,chardev=nixstore,tag=nix-store \
        -object "memory-backend-memfd,id=mem,size=${mem}M,share=on" -numa node,memdev=mem "$@"
fi

if [ -n "${NIX_DISK_IMAGE:-}" ]; then
    img=$NIX_DISK_IMAGE
    if [ ! -e "$img" ]; then
        need_tmp
        qemu-img create -q -f raw "$tmp/disk.raw" "${NIX_DISK_SIZE:-1024M}" &&
            mkfs.ext4 -q -L nixos "$tmp/disk.raw" &&
            qemu-img convert -f raw -O qcow2 "$tmp/disk.raw" "$img" &&
            rm -f "$tmp/disk.raw" ||
            die "NIX_DISK_IMAGE=$img: cannot create it (qemu-img: qemu-utils, mkfs.ext4: e2fsprogs)"
    fi
    # The mode bits, not test -w, which is always true for root.
    [ -f "$img" ] && [ -n "$(find "$img" -perm -u=w)" ] ||
        die "NIX_DISK_IMAGE=$img: not a writable file"
    fmt=$(qemu-img info -U --output=json "$img" 2>/dev/null | sed -n 's/^ *"format": "\(.*\)",*$/\1/p')
    # qemu-img calls any file raw: one must at least hold ext4's magic.
    if [ "$fmt" = raw ] && [ "$(od -An -tx1 -j1080 -N2 "$img" | tr -d ' ')" != 53ef ]; then
        fmt=
    fi
    [ -n "$fmt" ] || die "NIX_DISK_IMAGE=$img: not a disk image (neither qcow2 nor raw ext4); remove it to get a fresh one"
    set -- -drive "file=$img,format=$fmt,if=virtio,cache=writeback,werror=report" "$@"
    params="$params realroot=LABEL=nixos"
fi

if [ -n "${SHARED_DIR:-}" ]; then
    [ -d "$SHARED_DIR" ] || die "SHARED_DIR=$SHARED_DIR: not a directory"
    set -- -virtfs "local,path=$SHARED_DIR,mount_tag=shared,security_model=none" "$@"
    params="$params boot.xchg=shared"
fi

# shellcheck disable=SC2086 # QEMU_OPTS is meant to be word-split
exec qemu-system-x86_64 \
    -name not-os -accel "$accel" -m "$mem" -smp 2 \
    -kernel "$dir/kernel" -initrd "$dir/initrd" \
    -append "$params ${QEMU_KERNEL_PARAMS:-}" \
    ${store:+-drive} ${store:+"file=$dir/root.squashfs,format=raw,if=virtio,readonly=on"} \
    -nic "${QEMU_NIC:-user,model=virtio-net-pci}${QEMU_NET_OPTS:+,$QEMU_NET_OPTS}" \
    -device virtio-rng-pci \
    -nographic -no-reboot \
    ${QEMU_OPTS:-} "$@"
