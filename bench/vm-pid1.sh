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
# Runs the #[ignore]d test `bench_pid1` of tests/tests/vm_stage2.rs through
# bench/vm-test-bench.sh, which writes bench/results/bench_pid1.md.
# Environment: DIST, QEMU_ACCEL (kvm | tcg; default: runvm's probe),
# BENCH_IDLE_SECS, CARGO_TARGET_DIR.
exec "$(dirname "$0")/vm-test-bench.sh" vm_stage2 bench_pid1 "PID 1 in the demo VM"
