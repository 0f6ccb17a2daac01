#!/bin/sh
# bench/vm-services.sh: the supervisor at scale (issue 15, part 4).
#
# Boots the `services1000` variant of scripts/variants/stage2-variant.sh:
# the demo system with 1000 more services, each with a `log/` (a shell
# `run` that execs sleep, a `log/run` that execs cat). Reports PID 1's RSS
# and Pss, the time from stage-2's start (the `stage2` mark of
# /run/init/boot-times) to all 1000 services and their logs up (the
# variant's 0-count-up service polls their supervise/stat every 0.1 s), and
# PID 1's context switches over BENCH_IDLE_SECS (default 60) at rest.
# Beside them, in the same boot: Debian's runsvdir + runsv (the host's
# runit, copied into the store with its libc) on a copy of the same 1000
# directories in /run, the same figures summed over runsvdir and its 1000
# runsv, timed from just before runsvdir starts.
#
# Runs the #[ignore]d test `bench_services` of tests/tests/vm_stage2.rs
# through bench/vm-test-bench.sh, which writes
# bench/results/bench_services.md; this script copies it to
# bench/results/vm-services.md. Environment: DIST, QEMU_ACCEL (kvm | tcg;
# default: runvm's probe), BENCH_IDLE_SECS, BENCH_SERVICES_ROUNDS (boots,
# default 3; medians), CARGO_TARGET_DIR.
set -eu
dir=$(dirname "$0")
[ -x /usr/bin/runsvdir ] && [ -x /usr/bin/runsv ] || {
    echo "vm-services: Debian's runit is needed for the comparison (apt-get install runit)" >&2
    exit 1
}
"$dir/vm-test-bench.sh" vm_stage2 bench_services "The supervisor with 1000 services"
cp "$dir/results/bench_services.md" "$dir/results/vm-services.md"
