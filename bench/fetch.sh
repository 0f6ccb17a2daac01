#!/usr/bin/env bash
# Fetch benchmark (issue 15): stage-1's own download and SHA-256, natively,
# against curl in the same run.
#
#   bench/fetch.sh        markdown table on stdout and in bench/results/fetch.md
#
# A 1 GiB image (BENCH_FETCH_MIB) on a tmpfs is served from 127.0.0.1 by
# busybox's httpd (a real server, C, from busybox-static, which `make deps`
# installs) on a free port. Rounds, interleaved (BENCH_FETCH_ROUNDS, default
# 3), each into the same tmpfs:
#   curl -o FILE                     the raw download, the reference
#   curl | sha256sum, curl | openssl dgst -sha256
#   ours                             stage1::fetch::fetch_store, as the plan's
#                                    fetch step runs it (stage1/examples/fetch.rs)
#   ours --sha256 HEX                the same with sha256= verification
# and the hash alone over the file: sha256sum, openssl dgst, ours
# (`fetch --hash`). Peak RSS is GNU time's %M. Medians are reported.
#
# Environment: FETCH_BIN (default: built with cargo, release profile, into
# ${CARGO_TARGET_DIR:-target}/release/examples/fetch), BENCH_FETCH_MIB,
# BENCH_FETCH_ROUNDS, BENCH_TMPFS=0 to not mount a tmpfs.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MIB=${BENCH_FETCH_MIB:-1024}
ROUNDS=${BENCH_FETCH_ROUNDS:-3}
OUT_DIR=$REPO/bench/results
OUT=$OUT_DIR/fetch.md
START=$SECONDS
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

for tool in busybox curl sha256sum openssl /usr/bin/time python3; do
    command -v "$tool" >/dev/null || die "$tool is missing (make deps)"
done
if [ -z "${FETCH_BIN:-}" ]; then
    say "building stage1/examples/fetch.rs (release)"
    (cd "$REPO" && ${CARGO:-cargo} build -q --release --example fetch -p stage1) >&2
    FETCH_BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/examples/fetch
fi
[ -x "$FETCH_BIN" ] || die "FETCH_BIN=$FETCH_BIN is not executable"

TMP=$(mktemp -d /tmp/bench-fetch.XXXXXX)
MOUNTED=0
if [ "${BENCH_TMPFS:-1}" = 1 ] && [ "$(id -u)" = 0 ] &&
    mount -t tmpfs -o mode=0700,size=$((MIB * 3 + 256))m bench-fetch "$TMP" 2>/dev/null; then
    MOUNTED=1
fi
HTTPD=
cleanup() {
    trap - EXIT INT TERM
    [ -z "$HTTPD" ] || kill "$HTTPD" 2>/dev/null || true
    wait 2>/dev/null || true
    [ "$MOUNTED" = 0 ] || umount "$TMP" || umount -l "$TMP"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir "$TMP/www"
say "writing a $MIB MiB image"
head -c $((MIB << 20)) /dev/urandom >"$TMP/www/store.img"
BYTES=$(stat -c %s "$TMP/www/store.img")
HEX=$(sha256sum "$TMP/www/store.img" | cut -d' ' -f1)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
busybox httpd -f -p "127.0.0.1:$PORT" -h "$TMP/www" &
HTTPD=$!
URL=http://127.0.0.1:$PORT/store.img
for _ in $(seq 50); do curl -sfI "$URL" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sfI "$URL" >/dev/null || die "busybox httpd did not answer on $URL"

# timed NAME CMD...: runs CMD under GNU time; appends "seconds rss_kib".
timed() {
    local name=$1 t0 t1
    shift
    rm -f "$TMP/out.img"
    t0=$EPOCHREALTIME
    /usr/bin/time -f %M -o "$TMP/rss" -- "$@" >"$TMP/stdout" 2>"$TMP/stderr" ||
        die "$name failed: $(cat "$TMP/stderr")"
    t1=$EPOCHREALTIME
    echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }') $(cat "$TMP/rss")" >>"$TMP/$name.txt"
}


SHA_IMPL=?
for ((i = 1; i <= ROUNDS; i++)); do
    timed curl curl -sf -o "$TMP/out.img" "$URL"
    timed curl-sha256sum bash -o pipefail -c "curl -sf '$URL' | sha256sum | grep -q $HEX"
    timed curl-openssl bash -o pipefail -c "curl -sf '$URL' | openssl dgst -sha256 | grep -q $HEX"
    timed ours "$FETCH_BIN" "$URL" "$TMP/out.img"
    timed ours-sha256 "$FETCH_BIN" "$URL" "$TMP/out.img" --sha256 "$HEX"
    SHA_IMPL=$(cut -d' ' -f4 "$TMP/stdout")
    rm -f "$TMP/out.img"
    timed hash-sha256sum bash -o pipefail -c "sha256sum '$TMP/www/store.img' | grep -q $HEX"
    timed hash-openssl bash -o pipefail -c "openssl dgst -sha256 '$TMP/www/store.img' | grep -q $HEX"
    timed hash-ours bash -o pipefail -c "'$FETCH_BIN' --hash '$TMP/www/store.img' 2>&1 >/dev/null | grep -q $HEX"
    say "round $i/$ROUNDS: $(for n in curl ours ours-sha256 hash-ours hash-openssl; do printf '%s %ss  ' $n "$(tail -n1 "$TMP/$n.txt" | cut -d' ' -f1)"; done)"
done

median() { sort -g -k"$2,$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m }'; }
rate() { awk -v b="$BYTES" -v s="$(median "$TMP/$1.txt" 1)" 'BEGIN { printf "%.0f", b / s / 1048576 }'; }
ok() { if awk "BEGIN { exit !($1) }"; then echo "✓"; else echo "✗"; fi; }
CURL=$(rate curl)
row() { # name label target-text target-expr
    local r
    r=$(rate "$1")
    echo "| $2 | $r | $(median "$TMP/$1.txt" 2) | $(awk -v a="$r" -v b="$CURL" 'BEGIN { printf "%.2f×", a / b }') | ${3:-} ${4:+$(ok "$4")} |"
}
ELAPSED=$((SECONDS - START))
OURS_SHA=$(rate ours-sha256) HASH_OURS=$(rate hash-ours)
{
    echo "## fetch: stage-1's download and SHA-256 vs curl, sha256sum, openssl"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))," \
        "load average at start $LOAD; a $MIB MiB image served by busybox httpd on 127.0.0.1 into" \
        "$( [ "$MOUNTED" = 1 ] && echo tmpfs || stat -f -c %T "$TMP"); our SHA-256 ran as **$SHA_IMPL**;" \
        "$ROUNDS rounds, interleaved; medians. Ratios against \`curl -o\` of the same run."
    echo
    echo "| what | MiB/s | peak RSS (KiB) | ÷ curl -o | target |"
    echo "|---|---|---|---|---|"
    row curl "curl -o FILE" "" ""
    row curl-sha256sum "curl \\| sha256sum"
    row curl-openssl "curl \\| openssl dgst -sha256"
    row ours "ours, no sha256=" "" ""
    row ours-sha256 "ours, sha256= verified" "≥ 0.90×" "$OURS_SHA >= 0.9 * $CURL"
    echo "| ours, peak RSS at $MIB MiB | | $(median "$TMP/ours-sha256.txt" 2) | | ≤ 4096 $(ok "$(median "$TMP/ours-sha256.txt" 2) <= 4096") |"
    row hash-sha256sum "hash alone: sha256sum FILE"
    row hash-openssl "hash alone: openssl dgst -sha256 FILE"
    echo "| hash alone: ours ($SHA_IMPL) | $HASH_OURS | $(median "$TMP/hash-ours.txt" 2) |" \
        "$(awk -v a="$HASH_OURS" -v b="$(rate hash-openssl)" 'BEGIN { printf "%.2f× openssl", a / b }') |" \
        "≥ 1024 MiB/s $(ok "$HASH_OURS >= 1024") |"
    echo
    echo "Total: ${ELAPSED} s. Our hash runs on the download's thread, on each read as it"
    echo "arrives, while the kernel keeps receiving into the socket buffer; on loopback"
    echo "the sender is as fast as memory, so the hash is the limit there."
} | tee "$TMP/table.md"
mkdir -p "$OUT_DIR"
cp "$TMP/table.md" "$OUT"
say "wrote $OUT (${ELAPSED} s)"
