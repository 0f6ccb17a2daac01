#!/usr/bin/env bash
# Build every fuzz target with libFuzzer's coverage instrumentation (stable
# rustc flags only; see README.md), run each for FUZZ_SECONDS, and print a
# table: target, executions, crashes. Exits 1 if any target crashed (the
# inputs are in artifacts/<target>/), 2 if a build or a run failed otherwise.
#
#   FUZZ_SECONDS=60        per target
#   FUZZ_TARGETS="dhcp uevent"   a subset (default: every [[bin]] in Cargo.toml)
#   CARGO_TARGET_DIR=...   where cargo builds (default: fuzz/target)
#   FUZZ_ARGS="..."        extra libFuzzer flags (e.g. -jobs=2 -workers=2)
set -euo pipefail
cd "$(dirname "$0")"

seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -vx init-fuzz)}
triple=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}

# What cargo-fuzz passes for `--sanitizer none`, minus its nightly-only
# flags: SanitizerCoverage feeding libFuzzer's counters, compare tracing,
# and `cfg(fuzzing)`. `--target` keeps the flags off build scripts.
flags=(
    -Cpasses=sancov-module
    -Cllvm-args=-sanitizer-coverage-level=4
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
    -Cllvm-args=-sanitizer-coverage-pc-table
    -Cllvm-args=-sanitizer-coverage-trace-compares
    --cfg=fuzzing
)
export RUSTFLAGS="${flags[*]}"
echo "cargo build --release --target $triple (RUSTFLAGS=$RUSTFLAGS)"
cargo build --release --target "$triple" --bins
bin=$CARGO_TARGET_DIR/$triple/release

mkdir -p artifacts work/logs
printf '%-14s %12s %8s\n' target executions crashes >work/table
total=0
crashed=0
failed=0
for t in $targets; do
    mkdir -p "artifacts/$t" "work/$t" "corpus/$t"
    stamp=work/logs/$t.start
    : >"$stamp"
    log=work/logs/$t.log
    echo "fuzz $t for ${seconds}s (log: fuzz/$log)"
    rc=0
    # work/<t> first: libFuzzer adds what it finds there; corpus/<t> (the
    # seeds) is only read.
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    "$bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="artifacts/$t/" ${FUZZ_ARGS:-} \
        "work/$t" "corpus/$t" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | awk '{ s += $1 } END { print s + 0 }')
    if [ "$execs" = 0 ]; then # no final stats (killed): the last status line
        execs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
        execs=${execs:-0}
    fi
    found=$(find "artifacts/$t" -type f -newer "$stamp" | wc -l)
    total=$((total + execs))
    crashes=$found
    if [ "$found" -gt 0 ]; then
        crashed=1
        echo "  CRASH in $t:" $(find "artifacts/$t" -type f -newer "$stamp" | sed 's|^|fuzz/|')
        grep -m 5 -E 'panicked at|ERROR: libFuzzer|SUMMARY' "$log" | sed 's/^/  /' || true
    elif [ "$rc" -ne 0 ]; then
        failed=1
        crashes="rc=$rc"
        echo "  $t exited $rc without an artifact; last lines of fuzz/$log:"
        tail -n 5 "$log" | sed 's/^/  /'
    fi
    printf '%-14s %12d %8s\n' "$t" "$execs" "$crashes" >>work/table
done
printf '%-14s %12d\n' total "$total" >>work/table
echo
cat work/table
if [ "$crashed" = 1 ]; then
    echo "crashes found: inputs in fuzz/artifacts/ (replay: $bin/<target> <file>)" >&2
    exit 1
fi
[ "$failed" = 0 ] || exit 2
