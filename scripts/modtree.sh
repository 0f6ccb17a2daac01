#!/bin/sh
# modtree.sh MODDIR OUT MODULE...
#
# Copy MODULEs and their dependency closure (from MODDIR/modules.dep) into
# OUT/lib/modules/KVER/ (KVER: the basename of MODDIR), with modules.builtin*
# and modules.order, then index them with depmod. The initrd's set
# (mkinitrd.sh) and the demo system's kernel-modules (mkstore.sh) are made
# so. MODULES_COMPRESS (none | xz | gzip | zstd) compresses the .ko files as
# the kernel's build does.
set -eu

moddir=$1 out=$2
shift 2
MODULE_SET=$*
: "${MODULES_COMPRESS:=none}"
kver=$(basename "$moddir")
[ -e "$moddir/modules.dep" ] || { echo "modtree: $moddir/modules.dep missing (run depmod)" >&2; exit 1; }
mkdir -p "$out/lib/modules/$kver"

# norm NAME: module names treat '-' and '_' alike; use '_'.
norm() { printf '%s\n' "$1" | tr - _; }

# modules.dep as "name path dep-path..." lines, with normalised names, so
# that a lookup is one awk pass. Paths are relative to MODDIR.
index=$out.index
awk '{
    key = $1; sub(/:$/, "", key)
    name = key; sub(/.*\//, "", name); sub(/\.ko(\.(xz|zst|gz))?$/, "", name)
    gsub(/-/, "_", name)
    $1 = key; print name, $0
}' "$moddir/modules.dep" >"$index"
builtins=$(sed 's,.*/,,; s,\.ko$,,' "$moddir/modules.builtin" 2>/dev/null | tr - _)

# The closure: each wanted module that is not builtin brings its file and
# every file modules.dep lists for it (modules.dep is already transitive).
: >"$out.files"
for m in $MODULE_SET; do
    m=$(norm "$m")
    if printf '%s\n' "$builtins" | grep -qx "$m"; then
        echo "modtree: $m is builtin, skipped" >&2
        continue
    fi
    line=$(awk -v m="$m" '$1 == m { $1 = ""; print; exit }' "$index")
    [ -n "$line" ] || { echo "modtree: module $m not in $moddir/modules.dep" >&2; exit 1; }
    for f in $line; do echo "$f"; done >>"$out.files"
done
sort -u "$out.files" | while read -r f; do
    mkdir -p "$out/lib/modules/$kver/$(dirname "$f")"
    cp "$moddir/$f" "$out/lib/modules/$kver/$f"
    case $MODULES_COMPRESS-$f in
        xz-*.ko) xz --check=crc32 -T1 "$out/lib/modules/$kver/$f" ;;
        gzip-*.ko) gzip -9n "$out/lib/modules/$kver/$f" ;;
        zstd-*.ko) zstd -19 -q --rm "$out/lib/modules/$kver/$f" ;;
        none-*|xz-*|gzip-*|zstd-*) ;;
        *) echo "modtree: MODULES_COMPRESS=$MODULES_COMPRESS unknown" >&2; exit 1 ;;
    esac
done
for f in modules.builtin modules.builtin.modinfo modules.order; do
    [ -e "$moddir/$f" ] && cp "$moddir/$f" "$out/lib/modules/$kver/"
done
depmod -b "$out" "$kver"
rm -f "$index" "$out.files"
