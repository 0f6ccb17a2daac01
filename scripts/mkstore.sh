#!/bin/sh
# mkstore.sh INIT DEMO OUTDIR
#
# Build the demo store the way nixpkgs' make-squashfs lays it out: store
# paths sit directly at the root of OUTDIR/store (they appear under
# /nix/store once stage-1 has mounted the image). Three store paths:
#   <hash>-busybox   bin/busybox (busybox-static) and bin/<applet> -> busybox
#   <hash>-init      bin/init (INIT) and bin/{sv,poweroff,...} -> init
#   <hash>-toplevel  etc/ (from DEMO/etc) and sw/bin/ (links into the two)
#   <hash>-kernel-modules  lib/modules/KVER/ (only with STORE_MODDIR, see below)
# The hashes are fake but deterministic: sha256 of the content, in Nix's
# base32 alphabet. Files under DEMO/etc may say @busybox@, @init@ and
# @hostname@; those are replaced by store paths. Writes OUTDIR/store/ and
# OUTDIR/toplevel (the toplevel's /nix/store path, one line).
#
# STORE_MODDIR=MODDIR (a depmod'ed module tree) adds the system's own
# drivers, as NixOS's toplevel/kernel-modules: STORE_MODULES (default: the
# power button's, a NIC and vfat's with Debian's default IO charset, ascii,
# loaded after stage-1) and their dependencies, by scripts/modtree.sh.
set -eu

init=$1 demo=$2 out=$3
busybox=${BUSYBOX:-/bin/busybox}
store=$out/store

# nixhash: read a sha256 hex digest on stdin, print 32 characters of Nix's
# base32 alphabet made from its first 160 bits.
nixhash() {
    cut -c1-40 | awk '{
        alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
        hex = "0123456789abcdef"; bits = ""
        for (i = 1; i <= 40; i++) {
            v = index(hex, substr($0, i, 1)) - 1
            for (b = 8; b >= 1; b = int(b / 2)) { bits = bits (v >= b ? 1 : 0); if (v >= b) v -= b }
        }
        out = ""
        for (i = 0; i < 32; i++) {
            v = 0
            for (j = 1; j <= 5; j++) v = v * 2 + substr(bits, i * 5 + j, 1)
            out = out substr(alphabet, v + 1, 1)
        }
        print out
    }'
}

# treehash DIR: a digest of a directory tree: names, modes, link targets and
# file contents, in a fixed order.
treehash() {
    (cd "$1" && find . | LC_ALL=C sort | while read -r p; do
        if [ -L "$p" ]; then echo "L $p $(readlink "$p")"
        elif [ -d "$p" ]; then echo "D $p"
        else echo "F $p $(stat -c %a "$p") $(sha256sum <"$p" | cut -d' ' -f1)"
        fi
    done) | sha256sum | nixhash
}

[ -d "$store" ] && chmod -R u+w "$store"
rm -rf "$store"
mkdir -p "$store"

# busybox
tmp=$store/busybox.tmp
mkdir -p "$tmp/bin"
cp "$busybox" "$tmp/bin/busybox"
for a in $("$busybox" --list); do
    [ "$a" = busybox ] || ln -s busybox "$tmp/bin/$a"
done
bb=$(treehash "$tmp")-busybox
mv "$tmp" "$store/$bb"

# init: the binary and the names it answers to (argv[0] dispatch)
tmp=$store/init.tmp
mkdir -p "$tmp/bin"
cp "$init" "$tmp/bin/init"
for a in sv poweroff reboot halt runsv runsvdir chpst envdir envuidgid pgrphack setuidgid softlimit setlock svlogd runsvchdir utmpset runit-init; do
    ln -s init "$tmp/bin/$a"
done
in=$(treehash "$tmp")-init
mv "$tmp" "$store/$in"

# kernel-modules: the drivers of devices that appear after stage-1
km=
if [ -n "${STORE_MODDIR:-}" ]; then
    tmp=$store/kernel-modules.tmp
    "$(dirname "$0")/modtree.sh" "$STORE_MODDIR" "$tmp" \
        ${STORE_MODULES:-button evdev e1000 vfat nls_cp437 nls_ascii nls_utf8 nls_iso8859_1}
    km=$(treehash "$tmp")-kernel-modules
    mv "$tmp" "$store/$km"
fi

# toplevel: etc from the demo definition, sw/bin links (init's names win
# over busybox's applets of the same name). No toplevel/init: our binary
# carries on as stage-2 in-process.
tmp=$store/toplevel.tmp
mkdir -p "$tmp/sw/bin"
cp -R "$demo/etc" "$tmp/etc"
find "$tmp/etc" -type f | while read -r f; do
    sed -i -e "s,@busybox@,/nix/store/$bb,g" -e "s,@init@,/nix/store/$in,g" "$f"
done
for p in "$store/$bb/bin"/*; do ln -s "/nix/store/$bb/bin/${p##*/}" "$tmp/sw/bin/"; done
for p in "$store/$in/bin"/*; do ln -sfn "/nix/store/$in/bin/${p##*/}" "$tmp/sw/bin/"; done
[ -z "$km" ] || ln -s "/nix/store/$km" "$tmp/kernel-modules"
top=$(treehash "$tmp")-toplevel
mv "$tmp" "$store/$top"

# Everything read-only like a real store, and with a fixed mtime (1, as Nix).
chmod -R a-w "$store"/*
find "$store" -exec touch -h -d @1 {} +
echo "/nix/store/$top" >"$out/toplevel"
