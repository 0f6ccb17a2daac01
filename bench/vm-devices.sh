#!/bin/sh
# bench/vm-devices.sh: devices after stage-1 (issue 17).
#
#   - seconds from QEMU's `system_powerdown` (the ACPI power button) to
#     QEMU's exit, demo VM, median of 5 boots, host clock;
#   - PID 1's context switches (voluntary + nonvoluntary, /proc/1/status)
#     over BENCH_IDLE_SECS (default 30) at rest with the uevent socket and
#     the power button's event device open: the target is none;
#   - `init coldplug --module-dir DEBIAN-TREE --all` run natively on this
#     host's /sys as `nobody` (nothing gets loaded): time and peak RSS of
#     the index, modprobe.d, the scan and the plan over Debian 6.1's whole
#     module tree, median of 5.
#
# Runs the #[ignore]d test `bench_devices` of tests/tests/vm_devices.rs
# through bench/vm-test-bench.sh, which writes
# bench/results/bench_devices.md. Environment: DIST, QEMU_ACCEL (kvm |
# tcg; default: runvm's probe), BENCH_IDLE_SECS, CARGO_TARGET_DIR.
exec "$(dirname "$0")/vm-test-bench.sh" vm_devices bench_devices "Devices after stage-1"
