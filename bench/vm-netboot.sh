#!/bin/sh
# bench/vm-netboot.sh: netboot's fetch, measured in one run.
#
# For a 32 MiB and a 96 MiB store image (the demo store, padded), served
# from 127.0.0.1 and reached through QEMU's user networking: seconds from
# link-up to the mounted store (boot-times `network` → `mounts`: DHCP is
# done, the fetch, its SHA-256 and the mounts are in), against busybox
# `wget` fetching the same file over the same path in the booted guest,
# and PID 1's peak RSS (VmHWM), which should not grow with the image.
#
# Runs the #[ignore]d test `bench_netboot` of tests/tests/vm_netboot.rs on
# $DIST (default dist/), prints a markdown table and writes it to
# bench/results/vm-netboot.md. Environment: DIST, QEMU_ACCEL.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
dist=${DIST:-$repo/dist}
[ -e "$dist/root.squashfs" ] || make dist
: "${QEMU_ACCEL:=$("$dist/runvm" --probe)}"
export QEMU_ACCEL DIST="$dist"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
cargo test -q -p tests --test vm_netboot -- --ignored bench_netboot --nocapture --test-threads 1 \
    >"$out" 2>&1 || { cat "$out" >&2; echo "vm-netboot: the bench failed" >&2; exit 1; }

mkdir -p bench/results
{
    echo "# Netboot: the store over HTTP"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?'), QEMU $QEMU_ACCEL"
    echo
    grep '^|' "$out"
} >bench/results/vm-netboot.md
cat bench/results/vm-netboot.md
