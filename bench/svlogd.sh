#!/usr/bin/env bash
# svlogd benchmark (issue 16): our `svlogd` (an argv[0] link to init)
# against Debian's /usr/bin/svlogd on the same 1,000,000-line stream.
#
#   bench/svlogd.sh                 markdown table on stdout and in
#                                   bench/results/svlogd.md; progress on stderr
#
# What it measures, per run: `svlogd -tt DIR < stream` with a `config` of
# `s1000000` and `n5` (so about 80 rotations, each with fsync(2), and old
# files removed), in a fresh directory:
#   lines/s   1,000,000 / wall time (median of the runs)
#   peak RSS  GNU time's %M (VmHWM) in KiB (median)
# The runs alternate (ours, runit, ours, …) so both see the same load.
# Each run's output is checked: every line must be in the directory.
#
# Environment:
#   INIT_BIN          binary to test (default <repo>/dist/init)
#   SVLOGD_BIN        runit's svlogd (default /usr/bin/svlogd)
#   BENCH_RUNS        runs per implementation (default 5, at least 3)
#   BENCH_LINES       lines in the stream (default 1000000)
#
# Everything runs in a mktemp directory under /tmp (a tmpfs mounted there
# when run as root, so the disk does not decide the result; BENCH_TMPFS=0
# to not mount).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
INIT_BIN=${INIT_BIN:-$REPO/dist/init}
SVLOGD_BIN=${SVLOGD_BIN:-/usr/bin/svlogd}
RUNS=${BENCH_RUNS:-5}
LINES=${BENCH_LINES:-1000000}
OUT_DIR=$REPO/bench/results
OUT=$OUT_DIR/svlogd.md
START=$SECONDS
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ -x "$INIT_BIN" ] || die "INIT_BIN=$INIT_BIN is not executable (make init?)"
[ -x "$SVLOGD_BIN" ] || die "$SVLOGD_BIN missing (apt-get install runit)"
[ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) missing (apt-get install time)"
[ "$RUNS" -ge 3 ] || die "BENCH_RUNS must be at least 3"

TMP=$(mktemp -d /tmp/bench-svlogd.XXXXXX)
MOUNTED=0
if [ "${BENCH_TMPFS:-1}" = 1 ] && [ "$(id -u)" = 0 ] &&
    mount -t tmpfs -o mode=0700,size=512m bench-svlogd "$TMP" 2>/dev/null; then
    MOUNTED=1
fi
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ "$MOUNTED" = 0 ] || umount "$TMP" || umount -l "$TMP"
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Our binary is copied (a rebuild cannot swap it) and linked as svlogd.
mkdir "$TMP/bin"
cp "$INIT_BIN" "$TMP/bin/init"
ln -s init "$TMP/bin/svlogd"
declare -A BIN=([ours]=$TMP/bin/svlogd [runit]=$SVLOGD_BIN)

say "generating $LINES lines"
awk -v n="$LINES" 'BEGIN { for (i = 1; i <= n; i++)
    printf "daemon.info myservice[%d]: request %d served in %d ms from 10.0.%d.%d\n",
        1000 + i % 50, i, i % 997, i % 256, i % 199 }' >"$TMP/stream"
BYTES=$(stat -c %s "$TMP/stream")

# run ours|runit N: one run; appends "seconds rss_kib" to $TMP/$1.txt.
run() {
    local d=$TMP/log-$1-$2 t0 t1 n
    mkdir "$d"
    printf 's1000000\nn5\n' >"$d/config"
    t0=$EPOCHREALTIME
    (cd "$TMP" && exec /usr/bin/time -f %M -o "$TMP/rss" -- "${BIN[$1]}" -tt "$d" <"$TMP/stream")
    t1=$EPOCHREALTIME
    n=$(cat "$d"/@* "$d/current" 2>/dev/null | wc -l)
    # n5 keeps the last 5 rotated files and current: count what is left of
    # the stream's tail; every line of the last file must be the input's.
    [ "$(tail -n 1 "$d/current" | cut -d' ' -f2-)" = "$(tail -n 1 "$TMP/stream")" ] ||
        die "$1: the last line is not in current"
    echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }') $(cat "$TMP/rss") $n" >>"$TMP/$1.txt"
    rm -rf "$d"
}

for ((i = 1; i <= RUNS; i++)); do
    for who in ours runit; do
        run "$who" "$i"
        say "run $i $who: $(tail -n 1 "$TMP/$who.txt" | awk '{ printf "%s s, %s KiB, %s lines kept", $1, $2, $3 }')"
    done
done

# median of column $2 of file $1
median() { sort -g -k"$2,$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m }'; }
S_OURS=$(median "$TMP/ours.txt" 1) S_RUNIT=$(median "$TMP/runit.txt" 1)
M_OURS=$(median "$TMP/ours.txt" 2) M_RUNIT=$(median "$TMP/runit.txt" 2)
LPS_OURS=$(awk -v n="$LINES" -v s="$S_OURS" 'BEGIN { printf "%.0f", n / s }')
LPS_RUNIT=$(awk -v n="$LINES" -v s="$S_RUNIT" 'BEGIN { printf "%.0f", n / s }')
all() { awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $1 }' "$1"; }

ok() { if awk "BEGIN { exit !($1) }"; then echo "✓"; else echo "✗"; fi; }
RUNIT_VER=$(dpkg-query -W -f='${Version}' runit 2>/dev/null || echo "?")
ELAPSED=$((SECONDS - START))
{
    echo "## svlogd: ours vs runit $RUNIT_VER"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs, load average at start $LOAD;" \
        "\`$INIT_BIN\` ($(stat -c %s "$INIT_BIN") bytes); $LINES lines ($BYTES bytes) from a file on" \
        "$( [ "$MOUNTED" = 1 ] && echo tmpfs || stat -f -c %T "$TMP"), \`svlogd -tt DIR\`, config \`s1000000\` \`n5\`;" \
        "$RUNS runs each, interleaved."
    echo
    echo "| metric | ours | runit | ours/runit | target |"
    echo "|---|---|---|---|---|"
    echo "| lines/s (median) | $LPS_OURS | $LPS_RUNIT |" \
        "$(awk -v a="$LPS_OURS" -v b="$LPS_RUNIT" 'BEGIN { printf "%.2f×", a / b }') |" \
        "≥ 1.0× $(ok "$LPS_OURS >= $LPS_RUNIT") |"
    echo "| wall time (median) | $S_OURS s | $S_RUNIT s | | |"
    echo "| peak RSS (median, GNU time %M) | $M_OURS KiB | $M_RUNIT KiB |" \
        "$(awk -v a="$M_OURS" -v b="$M_RUNIT" 'BEGIN { printf "%.2f", a / b }') |" \
        "≤ runit's $(ok "$M_OURS <= $M_RUNIT") |"
    echo
    echo "Wall times (s): ours $(all "$TMP/ours.txt"); runit $(all "$TMP/runit.txt"). Total: ${ELAPSED} s."
} | tee "$TMP/table.md"
mkdir -p "$OUT_DIR"
cp "$TMP/table.md" "$OUT"
say "wrote $OUT (${ELAPSED} s)"
