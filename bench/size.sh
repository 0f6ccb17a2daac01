#!/bin/bash
# bench/size.sh: dist/init and the initrd (zstd and gzip, the not-os module
# set) beside the previous release's figures, which the README keeps in its
# size table (the rows between `<!-- size:begin -->` and `<!-- size:end -->`,
# column "previous"). Writes bench/results/size.md and prints it.
#
# Per-crate rows come from cargo-bloat's estimate of .text (scripts/build-init.sh
# --bloat, the same build as dist/init); generic code counts for the crate
# that instantiates it. Environment: DIST (dist/), MODULES (the pinned
# kernel's module tree).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
dist=${DIST:-$repo/dist}
moddir=${MODULES:-$repo/build/kernel/x/lib/modules/6.1.0-56-amd64}
limit_init=614400      # 600 KiB, issue 10
limit_initrd=1048576   # 1 MiB

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The previous release's column, by row name.
declare -A prev
while IFS='|' read -r _ name previous _; do
    name=$(echo "$name" | sed 's/^ *//; s/ *$//')
    previous=$(echo "$previous" | tr -d ' ,')
    [ -n "$name" ] && prev[$name]=$previous
done < <(sed -n '/<!-- size:begin -->/,/<!-- size:end -->/p' README.md | grep '^| ' | tail -n +2)

declare -A now
now["dist/init (bytes)"]=$(stat -c %s "$dist/init")
for c in zstd gzip; do
    INITRD_COMPRESS=$c scripts/mkinitrd.sh "$dist/init" "$moddir" "$tmp/initrd-$c" >/dev/null
    now["initrd, $c (bytes)"]=$(stat -c %s "$tmp/initrd-$c")
done
scripts/build-init.sh --bloat >"$tmp/bloat" 2>&1 || { cat "$tmp/bloat" >&2; exit 1; }
# " 13.9%  33.3% 176.8KiB stage1": KiB per crate (B below 1 KiB).
while read -r _ _ size crate; do
    case $size in
    *KiB) kib=${size%KiB} ;;
    *B) kib=$(awk -v b="${size%B}" 'BEGIN { printf "%.1f", b / 1024 }') ;;
    *) continue ;;
    esac
    now[".text $crate (KiB)"]=$kib
done < <(grep -E '^ *[0-9.]+% +[0-9.]+% ' "$tmp/bloat")

rows=("dist/init (bytes)" "initrd, zstd (bytes)" "initrd, gzip (bytes)")
for crate in std core alloc stage1 net init stage2 runit_compat "[Unknown]" ruzstd miniz_oxide xz4rust anyhow nix rustix; do
    rows+=(".text $crate (KiB)")
done

mkdir -p bench/results
{
    echo "# Size"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?'); previous: the README's size table; limits: dist/init <= 600 KiB, initrd <= 1 MiB."
    echo
    echo "| item | previous | now | now / previous |"
    echo "|---|---:|---:|---:|"
    for r in "${rows[@]}"; do
        p=${prev[$r]:--} n=${now[$r]:--}
        ratio=$(awk -v p="$p" -v n="$n" 'BEGIN { if (p + 0 > 0 && n != "-") printf "%.2f", n / p; else print "-" }')
        echo "| $r | $p | $n | $ratio |"
    done
} >bench/results/size.md
cat bench/results/size.md

fail=0
if [ "${now["dist/init (bytes)"]}" -gt $limit_init ]; then
    echo "size: dist/init is ${now["dist/init (bytes)"]} bytes, over 600 KiB ($limit_init)" >&2
    fail=1
fi
for c in zstd gzip; do
    if [ "${now["initrd, $c (bytes)"]}" -gt $limit_initrd ]; then
        echo "size: the $c initrd is ${now["initrd, $c (bytes)"]} bytes, over 1 MiB" >&2
        fail=1
    fi
done
exit $fail
