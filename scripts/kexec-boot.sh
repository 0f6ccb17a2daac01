#!/bin/sh
# kexec-boot: from a running Linux system, boot the kernel, initrd and
# command-line that sit next to this script (a dist/ built by `make dist`)
# with `init kexec`: kexec_file_load(2), then a clean shutdown of the running
# system into the new kernel (see init/src/kexec/mod.rs).
#
#   dist/kexec-boot [--carry-ssh-keys]    more arguments go to `init kexec`
#
# The binary is $INIT, else the `init` next to this script (dist/init),
# else `init` on PATH (not through a busybox shell that prefers its own
# `init` applet). Needs root and a kernel with CONFIG_KEXEC_FILE.
set -eu

dir=$(cd "$(dirname "$0")" && pwd)
init=${INIT:-$dir/init}
[ -n "${INIT:-}" ] || [ -x "$init" ] || init=init
exec "$init" kexec "$dir/kernel" "$dir/initrd" \
    --command-line-file "$dir/command-line" --exec "$@"
