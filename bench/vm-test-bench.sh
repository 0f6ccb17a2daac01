#!/bin/sh
# bench/vm-test-bench.sh TEST NAME TITLE: run the #[ignore]d VM benchmark
# NAME of tests/tests/TEST.rs on $DIST (default dist/, built with
# `make dist` when missing) and write its markdown table (the lines it
# prints starting with `|`, after the `BENCH ` lines as a header) to
# bench/results/NAME.md and stdout. Environment: DIST, QEMU_ACCEL (kvm |
# tcg; default: runvm's probe), CARGO_TARGET_DIR, and whatever the test reads.
set -eu

test=$1 name=$2 title=$3
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
dist=${DIST:-$repo/dist}
[ -e "$dist/root.squashfs" ] || make dist
: "${QEMU_ACCEL:=$("$dist/runvm" --probe)}"
export QEMU_ACCEL DIST="$dist"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
cargo test -q -p tests --test "$test" -- --ignored "$name" --nocapture --test-threads 1 \
    >"$out" 2>&1 || { cat "$out" >&2; echo "$name: the bench failed" >&2; exit 1; }

mkdir -p bench/results
{
    echo "# $title"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(uname -m), $(nproc) host cores, QEMU $QEMU_ACCEL;" \
        "$(grep '^BENCH ' "$out" | sed 's/^BENCH //')"
    echo
    grep '^|' "$out"
} >"bench/results/$name.md"
cat "bench/results/$name.md"
