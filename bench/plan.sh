#!/usr/bin/env bash
# `init plan` on a large module tree (issue 15): the whole of stage-1's
# planning (the kernel command line, modules.dep/alias/softdep/builtin,
# modprobe.d, blacklists, coldplug over a sysfs tree) as PID 1 does it
# before loading anything, natively.
#
#   bench/plan.sh          markdown table on stdout and in bench/results/plan.md
#
# The tree is Debian's kernel package that `make dist` unpacks into
# build/kernel (about 4000 modules: every driver, not an initrd's subset).
# BENCH_PLAN_RUNS runs (default 11) over this host's /sys and over an empty
# sysfs (the index alone); medians of wall time, of CPU time (user + system,
# which the host's load disturbs less) and of peak RSS (GNU time %M).
#
# Environment: DIST (default <repo>/dist), MODULE_ROOT (default
# <repo>/build/kernel/x), KERNEL_RELEASE (default: the one tree under it),
# PREV_INIT (an older `init`, e.g. main's: measured in the same runs,
# interleaved with this one, as the "previous" rows).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIST=${DIST:-$REPO/dist}
ROOT=${MODULE_ROOT:-$REPO/build/kernel/x}
RUNS=${BENCH_PLAN_RUNS:-11}
OUT_DIR=$REPO/bench/results
OUT=$OUT_DIR/plan.md
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ -x "$DIST/init" ] || die "$DIST/init missing (make dist)"
[ -x /usr/bin/time ] || die "GNU time missing (make deps)"
PREV=${PREV_INIT:-}
[ -z "$PREV" ] || [ -x "$PREV" ] || die "PREV_INIT=$PREV is not an executable"
KERNEL=${KERNEL_RELEASE:-$(ls "$ROOT/lib/modules" 2>/dev/null | head -n 1)}
[ -n "$KERNEL" ] && [ -f "$ROOT/lib/modules/$KERNEL/modules.dep" ] ||
    die "no module tree under $ROOT/lib/modules (make dist unpacks Debian's kernel there)"
MODULES=$(find "$ROOT/lib/modules/$KERNEL" -name '*.ko*' | wc -l)
EMPTY=$(mktemp -d)
trap 'rm -rf "$EMPTY"' EXIT

# run NAME SYS [INIT]: appends "wall cpu rss" of one `init plan`.
run() {
    local init=${3:-$DIST/init}
    /usr/bin/time -f '%e %U %S %M' -o "$EMPTY.t" -- \
        "$init" plan --root "$ROOT" --kernel "$KERNEL" --sys "$2" >/dev/null 2>&1 ||
        die "init plan failed: $("$init" plan --root "$ROOT" --kernel "$KERNEL" --sys "$2" 2>&1 | tail -n 3)"
    awk '{ printf "%.3f %.3f %d\n", $1, $2 + $3, $4 }' "$EMPTY.t" >>"$EMPTY.$1"
    rm -f "$EMPTY.t"
}
for ((i = 1; i <= RUNS; i++)); do
    run sys /sys
    [ -z "$PREV" ] || run prev-sys /sys "$PREV"
    run index "$EMPTY"
    [ -z "$PREV" ] || run prev-index "$EMPTY" "$PREV"
done
median() { sort -g -k"$2,$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m }'; }
ms() { awk -v s="$(median "$1" "$2")" 'BEGIN { printf "%.0f", s * 1000 }'; }
ok() { if awk "BEGIN { exit !($1) }"; then echo "✓"; else echo "✗"; fi; }
{
    echo "## init plan on Debian's full module tree"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs, load average at start $LOAD;" \
        "\`$DIST/init\` ($(stat -c %s "$DIST/init") bytes)$([ -z "$PREV" ] || echo ", previous: \`$PREV\` ($(stat -c %s "$PREV") bytes)");" \
        "$KERNEL, $MODULES modules; $RUNS runs each, interleaved; medians."
    echo
    echo "| init | sysfs | wall | CPU (user + sys) | peak RSS | target |"
    echo "|---|---|---|---|---|---|"
    for s in sys index ${PREV:+prev-sys prev-index}; do
        f=$EMPTY.$s
        case $s in
        *sys) label="this host's /sys" ;;
        *) label="empty (the index alone)" ;;
        esac
        which=$([ "${s#prev-}" = "$s" ] && echo this || echo previous)
        echo "| $which | $label | $(ms "$f" 1) ms | $(ms "$f" 2) ms | $(median "$f" 3) KiB |" \
            "≤ 50 ms $(ok "$(ms "$f" 2) <= 50"), ≤ 8 MiB $(ok "$(median "$f" 3) <= 8192") |"
    done
    echo
    echo "The CPU column is what the target is checked against: on a shared host the"
    echo "wall time mostly measures the other work."
} | tee "$EMPTY/table.md"
rm -f "$EMPTY".*
mkdir -p "$OUT_DIR"
cp "$EMPTY/table.md" "$OUT"
say "wrote $OUT"
