#!/bin/sh
# bench/vm-shared.sh — the store shared from the host (9p, virtiofs)
# against the squashfs image, as a developer iterating on a system sees it.
#
# The store: dist's root.squashfs unpacked, plus a store path of PAD_MIB
# (default 64) MiB of random data standing in for a real closure (the demo's
# own is 4 MiB). Each round changes one file in it, then boots each way, in
# turn (interleaved, so the host's load hits all alike):
#   squashfs  re-squash the store (the Makefile's mksquashfs flags), boot it
#   9p        boot with the directory shared (runvm RUNVM_STORE=9p)
#   virtiofs  the same over virtiofs (skipped without /usr/lib/qemu/virtiofsd
#             or root)
# Every boot gets the same kind of NIX_DISK_IMAGE root disk (one each, made
# before the rounds), as `nixos-rebuild build-vm`'s VMs have.
#
# Seconds on the host's clock, from the change (squashfs: before the squash;
# the others: before QEMU starts) to the first service's console line
# ("hello: service started"); QEMU's start is in every figure.
#
# Environment: N rounds (default 5), PAD_MIB, QEMU_ACCEL (default tcg),
# DIST, WORK (scratch, default $TMPDIR/vm-shared-bench). Prints a markdown
# table and writes it to bench/results/vm-shared.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
dist=$(cd "${DIST:-$here/../dist}" && pwd)
N=${N:-5}
PAD_MIB=${PAD_MIB:-64}
: "${QEMU_ACCEL:=tcg}"
export QEMU_ACCEL
work=${WORK:-${TMPDIR:-/tmp}/vm-shared-bench}
results=$here/results/vm-shared.md
marker="hello: service started"

[ -e "$dist/root.squashfs" ] || { echo "vm-shared: no $dist/root.squashfs (run make dist)" >&2; exit 1; }
chmod -R u+w "$work" 2>/dev/null || true
rm -rf "$work"
mkdir -p "$work/d"
store=$work/store
unsquashfs -no-progress -d "$store" "$dist/root.squashfs" >/dev/null
pad=$store/00000000000000000000000000000000-bench-pad
mkdir -p "$pad"
head -c $((PAD_MIB * 1048576)) /dev/urandom >"$pad/data"
for f in kernel initrd command-line; do ln -s "$dist/$f" "$work/d/$f"; done
cp "$dist/runvm" "$work/d/runvm"

transports="squashfs 9p"
if [ -x /usr/lib/qemu/virtiofsd ] && [ "$(id -u)" = 0 ]; then
    transports="$transports virtiofs"
else
    echo "vm-shared: no virtiofs (needs /usr/lib/qemu/virtiofsd and root)" >&2
fi

squash() {
    mksquashfs "$store" "$work/d/root.squashfs.tmp" -noappend -all-root -comp zstd \
        -quiet -no-progress -mkfs-time 1 -all-time 1 >/dev/null
    mv "$work/d/root.squashfs.tmp" "$work/d/root.squashfs"
}
squash

now() { date +%s.%N; }

# boot T: boots transport T to the first service's console line; prints
# the host clock then, and stops QEMU.
boot() {
    pidf=$work/qemu.pid
    rm -f "$pidf"
    case $1 in
        squashfs) shared= ;;
        *) shared=$1 ;;
    esac
    RUNVM_STORE=$shared RUNVM_STORE_DIR=$store NIX_DISK_IMAGE=$work/disk-$1.qcow2 \
        QEMU_OPTS="-pidfile $pidf" timeout 300 "$work/d/runvm" </dev/null 2>>"$work/runvm.err" |
        tee "$work/$1-$round.log" | {
        if grep -q -m1 "$marker"; then now; fi
        [ -s "$pidf" ] && kill "$(cat "$pidf")" 2>/dev/null
        cat >/dev/null
    }
}

: >"$work/data"
round=1
while [ "$round" -le "$N" ]; do
    echo "round $round/$N" >&2
    for t in $transports; do
        start=$(now)
        echo "$t $round" >"$pad/change"
        squashed=$start
        if [ "$t" = squashfs ]; then
            squash
            squashed=$(now)
        fi
        at=$(boot "$t")
        if [ -z "$at" ]; then
            echo "$t round $round: no \"$marker\" (see $work/$t-$round.log)" >&2
            continue
        fi
        echo "$t $round $start $squashed $at" >>"$work/data"
    done
    round=$((round + 1))
done

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# col T EXPR: the median over T's rounds of EXPR ($3 start, $4 squashed, $5 service).
col() { awk -v t="$1" '$1 == t { print '"$2"' }' "$work/data" | median; }
count() { awk -v t="$1" '$1 == t' "$work/data" | wc -l | tr -d ' '; }

{
    echo "## The store shared from the host vs the squashfs image, medians of $N interleaved rounds"
    echo
    echo "Seconds, host clock, QEMU $QEMU_ACCEL, 2 vCPUs, 512 MiB; store: the demo's plus $PAD_MIB MiB"
    echo "($(du -sm "$store" | cut -f1) MiB); one file changed before each boot; \`/\` on a NIX_DISK_IMAGE"
    echo "ext4 disk in every boot. \"boot\" = QEMU start → the first service's console line."
    echo
    echo "| store | boots | squash | boot to first service | one-file change to first service |"
    echo "|---|---|---|---|---|"
    for t in $transports; do
        [ "$(count "$t")" -gt 0 ] || continue
        printf '| %s | %s | %.2f | %.2f | %.2f |\n' "$t" "$(count "$t")" \
            "$(col "$t" '$4 - $3')" "$(col "$t" '$5 - $4')" "$(col "$t" '$5 - $3')"
    done
    echo
} | tee "$results"
