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
# Runs the #[ignore]d test `bench_netboot` of tests/tests/vm_netboot.rs
# through bench/vm-test-bench.sh, which writes
# bench/results/bench_netboot.md.
exec "$(dirname "$0")/vm-test-bench.sh" vm_netboot bench_netboot "Netboot: the store over HTTP"
