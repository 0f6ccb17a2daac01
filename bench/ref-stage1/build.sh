#!/bin/sh
# build.sh OUT — the images for bench/vm-stage1.sh, from $DIST (default
# dist/, only read) and the kernel's module tree ($MODULES, default the one
# under build/kernel/x/lib/modules):
#
#   OUT/root.squashfs  the dist store plus three things both stage-1s share:
#                      the toplevel's etc/service/bench-report (waits for the
#                      `supervise` mark, prints /run/init/boot-times between
#                      BENCH-BEGIN/BENCH-END on the console, powers off with
#                      busybox `poweroff -f`), <h>-runit (Debian's runit with
#                      its loader and libc) and <h>-ref-stage2/init
#   OUT/ours/          a dist dir: dist's kernel, initrd, command-line; the
#                      bench store (the initrd has no module list: coldplug)
#   OUT/ours-list/     the same with an initrd whose
#                      /etc/modules-load.d/initrd.conf lists not-os's set
#                      (boot it with boot.coldplug=0)
#   OUT/ref/           the same with the reference initrd: the same modules
#                      (built by scripts/mkinitrd.sh), /init = ref-stage1/init,
#                      busybox, /etc/ref-modules (insmod order)
#   OUT/floor/         the same modules and /etc/ref-modules, /init = the
#                      static C program floor.c (skipped when gcc cannot
#                      link statically)
set -eu

out=$1
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dist=${DIST:-$repo/dist}
if [ -z "${MODULES:-}" ]; then
    for d in "$repo"/build/kernel/x/lib/modules/*; do MODULES=$d; done
fi
[ -e "$MODULES/modules.dep" ] || { echo "build.sh: no modules.dep in $MODULES" >&2; exit 1; }
kver=$(basename "$MODULES")
busybox=${BUSYBOX:-/bin/busybox}
# The modules not-os's stage-1 modprobes, in its order.
NOT_OS_SET="virtio virtio_pci virtio_net virtio_rng virtio_blk virtio_console dm_mod tun loop squashfs overlay"

[ -d "$out" ] && chmod -R u+w "$out"
rm -rf "$out"
mkdir -p "$out"

# --- the store
store=$out/store
unsquashfs -q -n -d "$store" "$dist/root.squashfs" >/dev/null
chmod -R u+w "$store"
top=$(tr ' ' '\n' <"$dist/command-line" | sed -n 's,^toplevel=/nix/store/,,p' | tail -n 1)
bb=
for p in "$store"/*-busybox; do bb=${p##*/}; done
if ! [ -d "$store/$top" ] || ! [ -x "$store/$bb/bin/sh" ]; then
    echo "build.sh: store lacks $top or busybox" >&2
    exit 1
fi

svc=$store/$top/etc/service/bench-report
mkdir -p "$svc"
cat >"$svc/run" <<EOF
#!/nix/store/$bb/bin/sh
PATH=/nix/store/$bb/bin
while ! grep -q '^supervise ' /run/init/boot-times 2>/dev/null; do usleep 20000; done
{ echo BENCH-BEGIN; cat /run/init/boot-times; echo BENCH-END; } >/dev/console
exec poweroff -f
EOF
chmod 755 "$svc/run"

tmp=$store/runit.tmp
mkdir -p "$tmp/bin" "$tmp/lib"
for b in runit runsvdir runsv sv; do cp "$(command -v "$b" || echo "/usr/sbin/$b")" "$tmp/bin/$b"; done
cp -L /lib64/ld-linux-x86-64.so.2 "$tmp/lib/ld-linux-x86-64.so.2"
cp -L /lib/x86_64-linux-gnu/libc.so.6 "$tmp/lib/libc.so.6"
rt=$(cat "$tmp"/bin/* | sha256sum | cut -c1-32)-runit
mv "$tmp" "$store/$rt"

tmp=$store/stage2.tmp
mkdir -p "$tmp"
sed -e "s,@BUSYBOX@,/nix/store/$bb,g" -e "s,@RUNIT@,/nix/store/$rt,g" \
    -e "s,@TOPLEVEL@,/nix/store/$top,g" "$here/stage2" >"$tmp/init"
chmod 555 "$tmp/init"
s2=$(sha256sum <"$tmp/init" | cut -c1-32)-ref-stage2
mv "$tmp" "$store/$s2"

chmod -R a-w "$store"/*
mksquashfs "$store" "$out/root.squashfs" -noappend -all-root -comp zstd \
    -quiet -no-progress -mkfs-time 1 -all-time 1 >/dev/null
chmod -R u+w "$store"
rm -rf "$store"

# --- dist dirs
for d in ours ours-list ref floor; do
    mkdir -p "$out/$d"
    ln -s "$dist/kernel" "$out/$d/kernel"
    ln -s ../root.squashfs "$out/$d/root.squashfs"
    cp "$dist/command-line" "$out/$d/command-line"
    cp "$dist/runvm" "$out/$d/runvm"
done
ln -s "$dist/initrd" "$out/ours/initrd"
# PREV_INIT: a previous release's binary, as the /init of an initrd made
# like dist's, to compare stage-1 across releases in one run.
if [ -n "${PREV_INIT:-}" ]; then
    mkdir -p "$out/previous"
    for f in kernel root.squashfs command-line runvm; do cp -P "$out/ours/$f" "$out/previous/$f"; done
    "$repo/scripts/mkinitrd.sh" "$PREV_INIT" "$MODULES" "$out/previous/initrd" >/dev/null
fi
MODULES_LOAD=$NOT_OS_SET "$repo/scripts/mkinitrd.sh" "$dist/init" "$MODULES" "$out/ours-list/initrd"

# --- the reference initrd: mkinitrd.sh's modules, our /init replaced
MODULES_LOAD=$NOT_OS_SET INITRD_COMPRESS=none "$repo/scripts/mkinitrd.sh" "$dist/init" "$MODULES" "$out/raw.cpio"
tree=$out/ref-tree
mkdir -p "$tree"
(cd "$tree" && cpio -i -d --quiet --no-absolute-filenames <"$out/raw.cpio" 2>/dev/null) || true
rm -f "$out/raw.cpio" "$tree/init"
[ -e "$tree/lib/modules/$kver/modules.dep" ] || { echo "build.sh: unpacking the initrd failed" >&2; exit 1; }
mkdir -p "$tree/bin" "$tree/mnt-root"
cp "$busybox" "$tree/bin/busybox"
for a in sh mount mkdir insmod usleep switch_root env cat echo; do ln -s busybox "$tree/bin/$a"; done
sed -e "s,@KVER@,$kver,g" -e "s,@STAGE2@,/nix/store/$s2/init,g" "$here/init" >"$tree/init"
chmod 755 "$tree/init"
# insmod order: each listed module after its dependencies and softdeps, once.
grep -v '^#' "$tree/etc/modules-load.d/"*.conf | while read -r m; do
    [ -n "$m" ] && modprobe -d "$tree" -S "$kver" --show-depends "$m"
done | awk '$1 == "insmod" { print $2 }' | sed "s,^$tree/lib/modules/$kver/,," |
    awk '!seen[$0]++' >"$tree/etc/ref-modules"
[ -s "$tree/etc/ref-modules" ] || { echo "build.sh: no modules for the reference" >&2; exit 1; }
# pack TREE INITRD: a reproducible newc archive, zstd -19 (as dist/initrd).
pack() {
    find "$1" -exec touch -h -d @0 {} +
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort |
        cpio -o -H newc -R 0:0 --reproducible --quiet) | zstd -19 -q -T0 >"$2"
}
ftree=$out/floor-tree
cp -a "$tree" "$ftree"
pack "$tree" "$out/ref/initrd"
rm -rf "$tree"

rm -rf "${ftree:?}/bin" "${ftree:?}/init"
if gcc -O2 -static -o "$ftree/init" -DKVER="\"$kver\"" \
    -DSERVICE="\"/nix/store/$top/etc/service/bench-report/run\"" "$here/floor.c" 2>"$out/floor.err"; then
    pack "$ftree" "$out/floor/initrd"
else
    echo "build.sh: cannot build the static floor program (see $out/floor.err); no floor" >&2
    rm -rf "$out/floor"
fi
rm -rf "$ftree"
