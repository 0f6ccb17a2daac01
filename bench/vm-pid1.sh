#!/bin/sh
# bench/vm-pid1.sh: PID 1 in the demo VM, measured from outside.
#
#   - PID 1's VmRSS after boot, with the demo services running;
#   - PID 1's context switches (voluntary + nonvoluntary, /proc/1/status)
#     over BENCH_IDLE_SECS (default 60) at rest: the target is none from
#     timers, so any count here is PID 1 waking up for nothing;
#   - seconds from ctrl-alt-del (QEMU's `sendkey`) to QEMU's exit, median of
#     3 boots, measured on the host; and from the guest's /proc/uptime read
#     just before the key to the kernel's timestamp on its `reboot:` line.
#
# Runs the #[ignore]d test `bench_pid1` of tests/tests/vm_stage2.rs on
# $DIST (default dist/, built with `make dist` when missing), prints a
# markdown table and writes it to bench/results/vm-pid1.md.
# Environment: DIST, QEMU_ACCEL (kvm | tcg; default: runvm's probe),
# BENCH_IDLE_SECS, CARGO_TARGET_DIR.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
dist=${DIST:-$repo/dist}
[ -e "$dist/root.squashfs" ] || make dist
: "${QEMU_ACCEL:=$("$dist/runvm" --probe)}"
export QEMU_ACCEL DIST="$dist"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
cargo test -q -p tests --test vm_stage2 -- --ignored bench_pid1 --nocapture --test-threads 1 \
    >"$out" 2>&1 || { cat "$out" >&2; echo "vm-pid1: the bench failed" >&2; exit 1; }

mkdir -p bench/results
{
    echo "# PID 1 in the demo VM"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(uname -m), $(nproc) host cores;" \
        "$(grep '^BENCH ' "$out" | sed 's/^BENCH //')"
    echo
    grep '^|' "$out"
} >bench/results/vm-pid1.md
cat bench/results/vm-pid1.md
