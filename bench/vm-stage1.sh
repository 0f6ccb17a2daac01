#!/bin/sh
# bench/vm-stage1.sh — stage-1 boot times under QEMU, ours against a
# busybox-ash stage-1 in the style of not-os (bench/ref-stage1/), with the
# same kernel, modules, store and machine (runvm: -smp 2, 512 MiB).
#
# Every boot reads CLOCK_BOOTTIME marks from /run/init/boot-times (ours
# writes them; the reference writes the same phases from /proc/uptime, which
# has 10 ms resolution): `init` (/init started), `switch_root`, `stage2`
# (stage-2 runs: ours after exec'ing the store's init and setting up the
# system, the floor at chroot), `supervise` (the supervisor starts: the first
# service). A `bench-report` service in the
# store prints the file on the console and powers off.
#
# Configurations, interleaved round by round (only ratios measured in one run
# mean anything on these machines):
#   ours-coldplug  dist's initrd (no module list): drivers from the devices'
#                  modaliases, then uevents (the default, module_threads=0)
#   ours-list      an initrd whose modules-load.d lists not-os's set, booted
#                  with boot.coldplug=0 (load what the list says, nothing else)
#   ours-serial    dist's initrd with boot.module_threads=1
#   ash-ref        bench/ref-stage1 (busybox ash stage-1, ash stage-2, runit)
#   previous       with PREV_INIT=BINARY: ours-coldplug with that binary (a
#                  previous release) as /init; the table adds previous ÷ ours
#   floor          bench/ref-stage1/floor.c: a static C /init that only makes
#                  stage-1's syscalls and execs the bench service at once (no
#                  stage-2, no supervisor); skipped if it cannot be built.
#                  Issue 15's target: ours ≤ 0.95× the floor, /init → first
#                  service, for ours-coldplug and ours-list (the table's
#                  second part; /init → stage-2 beside it)
#
# Environment: N boots per configuration (default 5), QEMU_ACCEL (default
# tcg: KVM hangs on these machines), DIST, MODULES (see ref-stage1/build.sh),
# WORK (scratch directory, default $TMPDIR/vm-stage1-bench), REPORT_ONLY=1
# (no builds or boots: the table again from $WORK/data).
# Prints a markdown table and writes it to bench/results/vm-stage1.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
N=${N:-5}
: "${QEMU_ACCEL:=tcg}"
export QEMU_ACCEL
work=${WORK:-${TMPDIR:-/tmp}/vm-stage1-bench}
results=$here/results/vm-stage1.md

data=$work/data
if [ -z "${REPORT_ONLY:-}" ]; then
    echo "building images in $work ..." >&2
    "$here/ref-stage1/build.sh" "$work"
    : >"$data"
fi

# boot NAME DIR PARAMS: one boot; appends "NAME round phase seconds" lines.
boot() {
    log=$work/$1-$round.log
    QEMU_OPTS="-serial file:$log -monitor none" QEMU_KERNEL_PARAMS=$3 \
        timeout 180 "$work/$2/runvm" </dev/null >/dev/null 2>"$log.err" || true
    # (the console service's prompt may share the BENCH-BEGIN line)
    tr -d '\r' <"$log" | sed -n '/BENCH-BEGIN/,/BENCH-END/p' |
        awk -v n="$1" -v r="$round" 'NF == 2 && $2 ~ /^[0-9.]+$/ { print n, r, $1, $2 }' >"$log.times"
    if ! grep -q ' supervise ' "$log.times"; then
        echo "$1 boot $round: no boot times (see $log)" >&2
        return 0
    fi
    cat "$log.times" >>"$data"
}

round=1
[ -z "${REPORT_ONLY:-}" ] || round=$((N + 1))
while [ "$round" -le "$N" ]; do
    echo "round $round/$N" >&2
    boot ours-coldplug ours "no_timer_check"
    boot ours-list ours-list "no_timer_check boot.coldplug=0"
    boot ours-serial ours "no_timer_check boot.module_threads=1"
    boot ash-ref ref "no_timer_check"
    [ ! -d "$work/previous" ] || boot previous previous "no_timer_check"
    [ ! -d "$work/floor" ] || boot floor floor "no_timer_check"
    round=$((round + 1))
done

# Per boot: kernel->/init, /init->modules loaded, /init->switch_root,
# /init->stage2, /init->supervise.
awk '
    { t[$1 " " $2 " " $3] = $4; cfg[$1] = 1; rounds[$2] = 1 }
    END {
        for (c in cfg) for (r in rounds) {
            k = c " " r
            # A boot whose `init` line was lost on the console (it can share a
            # line with the prompt of the console shell) has no start: skipped.
            if ((k " supervise") in t && (k " init") in t)
                print c, r, t[k " init"], t[k " modules"] - t[k " init"], t[k " switch_root"] - t[k " init"], t[k " stage2"] - t[k " init"], t[k " supervise"] - t[k " init"]
        }
    }' "$data" | sort >"$work/per-boot"

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
col() { awk -v c="$1" -v k="$2" '$1 == c { print $k }' "$work/per-boot" | median; }
count() { awk -v c="$1" '$1 == c' "$work/per-boot" | wc -l | tr -d ' '; }
# per_round A B K: the median over rounds of (A / B) for column K.
per_round() {
    awk -v a="$1" -v b="$2" -v k="$3" '
        $1 == a { x[$2] = $k } $1 == b { y[$2] = $k }
        END { for (i in x) if ((i in y) && y[i] > 0) print x[i] / y[i] }' "$work/per-boot" | median
}
ratio() { per_round ash-ref "$1" "$2"; }

{
    echo "## Stage-1 boot times under QEMU (TCG, 2 vCPUs), medians of $N boots each"
    echo
    echo "Seconds, CLOCK_BOOTTIME. Same kernel ($(file -bL "$work/ours/kernel" | sed -n 's/.*version \([^ ]*\).*/\1/p')), modules, store and QEMU machine;"
    echo "rounds interleaved. \"first service\" = the \`supervise\` mark."
    echo
    echo "| stage-1 | boots | kernel → /init | /init → modules loaded | /init → switch_root | /init → stage-2 | /init → first service |"
    echo "|---|---|---|---|---|---|---|"
    for c in ours-coldplug ours-list ours-serial previous ash-ref floor; do
        [ "$(count $c)" -gt 0 ] || continue
        printf '| %s | %s | %.3f | %.3f | %.3f | %.3f | %.3f |\n' "$c" "$(count $c)" \
            "$(col $c 3)" "$(col $c 4)" "$(col $c 5)" "$(col $c 6)" "$(col $c 7)"
    done
    if [ "$(count floor)" -gt 0 ]; then
        echo
        echo "| ours ÷ floor (median of per-round ratios) | /init → stage-2 | /init → first service | target ≤ 0.95× to first service |"
        echo "|---|---|---|---|"
        for c in ours-coldplug ours-list; do
            s=$(per_round $c floor 6) f=$(per_round $c floor 7)
            ok=$(awk -v r="$f" 'BEGIN { print (r != "nan" && r + 0 <= 0.95) ? "✓" : "✗" }')
            printf '| %s ÷ floor | %.2f× | %.2f× | %s |\n' "$c" "$s" "$f" "$ok"
        done
    fi
    echo
    echo "| ratio (ash-ref ÷ ours, median of per-round ratios) | /init → modules loaded | /init → switch_root | /init → first service | target ≥ 2.5× to first service |"
    echo "|---|---|---|---|---|"
    for c in ours-coldplug ours-list ours-serial; do
        r4=$(ratio $c 4) r5=$(ratio $c 5) r6=$(ratio $c 7)
        ok=$(awk -v r="$r6" 'BEGIN { print (r != "nan" && r + 0 >= 2.5) ? "✓" : "✗" }')
        printf '| %s | %.2f× | %.2f× | %.2f× | %s |\n' "$c" "$r4" "$r5" "$r6" "$ok"
    done
    echo
    # Coldplug's cost over the explicit list: median of per-round ratios.
    cost=$(per_round ours-coldplug ours-list 7)
    ok=$(awk -v r="$cost" 'BEGIN { print (r != "nan" && r + 0 <= 1.05) ? "✓" : "✗" }')
    echo "| coldplug ÷ explicit list (median of per-round ratios) | /init → first service | target ≤ 1.05 |"
    echo "|---|---|---|"
    printf '| ours-coldplug ÷ ours-list | %.3f | %s |\n' "$cost" "$ok"
    echo
    if [ "$(count previous)" -gt 0 ]; then
        # previous ÷ ours-coldplug per round: above 1, this release is faster.
        prev_ratio() { per_round previous ours-coldplug "$1"; }
        echo "| previous release ÷ this one (median of per-round ratios) | /init → modules loaded | /init → switch_root | /init → stage-2 | /init → first service |"
        echo "|---|---|---|---|---|"
        printf '| previous ÷ ours-coldplug | %.2f× | %.2f× | %.2f× | %.2f× |\n' "$(prev_ratio 4)" "$(prev_ratio 5)" "$(prev_ratio 6)" "$(prev_ratio 7)"
        echo
    fi
    if [ "$(count floor)" -gt 0 ]; then
        echo "floor: a static C /init making only stage-1's syscalls (no parsing, logging, error"
        echo "handling, stage-2 or supervisor; its \`stage2\` and \`supervise\` marks are taken"
        echo "right after chroot)."
    else
        echo "floor: not measured (the static C program could not be built)."
    fi
} >"$work/table.md"

mkdir -p "$(dirname "$results")"
cp "$work/table.md" "$results"
cat "$work/table.md"
