#!/bin/sh
# bench/vm-kexec.sh: `init kexec --exec` to the first service of the next
# boot, without and with `--carry-network`, measured in one run.
#
# One guest kexecs into dist's kernel again and again, the two kinds in
# turn (BENCH_KEXEC_ROUNDS rounds, default 5), each from the same static
# IPv4 and IPv6 network (set by hand when the boot did not carry it). Per
# kind, medians: seconds on the host from the command to the service's log
# line on the console (the clean shutdown included), and in the next boot
# seconds from the kernel's start to the first service (the `supervise`
# mark, as bench/vm-stage1.sh counts it) and of
# stage-1's network step (the carried network restored, duplicate address
# detection waited for), from /run/init/boot-times.
#
# Runs the #[ignore]d test `bench_kexec` of tests/tests/vm_kexec.rs
# through bench/vm-test-bench.sh, which writes bench/results/bench_kexec.md.
exec "$(dirname "$0")/vm-test-bench.sh" vm_kexec bench_kexec "kexec: to the first service of the next boot"
