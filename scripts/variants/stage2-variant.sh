#!/bin/sh
# stage2-variant.sh VARIANT OUT
#
# Build a dist-like directory OUT (kernel, initrd, root.squashfs,
# command-line, runvm) for one of the stage-2 VM tests
# (tests/tests/vm_stage2.rs), starting from $DIST (default: dist/) and the
# demo system:
#
#   ext4     dist's store and command line; an initrd that also carries
#            ext4 (and crc32c for its checksums), for realroot=/dev/vdb
#   etc | runit1-exit100 | runit2 | notos
#            dist's kernel and initrd; a store built by scripts/mkstore.sh
#            from a copy of demo/ with tests/fixtures/stage2-VARIANT/etc
#            copied over its etc/. A fixture file `activate` becomes the
#            toplevel's activate script (added after mkstore.sh, so the
#            toplevel's path does not cover it; @busybox@ is substituted).
#   services1000
#            dist's kernel and initrd; the demo store with 1000 more
#            services s0000..s0999 (sv_dirs below) and 0-count-up, which
#            writes /proc/uptime to /run/services-up once all 1000 and their
#            logs say `run` (count-up.sh). Beside them the store path
#            $bench_runit for bench/vm-services.sh: the host's runsvdir and
#            runsv (Debian's runit) with the libraries they link, the same
#            1000 directories under service/, and bin/count-up.
#
# Environment: DIST (default <repo>/dist), INIT_BIN (default $DIST/init),
# MODULES (see common.sh).
set -eu

variant=$1 out=$2
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/scripts/variants/common.sh"
new_out

# services1000's runit: a fixed store path name, which the services' and the
# bench's scripts name.
bench_runit=/nix/store/00000000000000000000000000000000-bench-runit

# sv_dirs DIR BUSYBOX: services1000's services s0000..s0999 under DIR, each
# a shell `run` that execs sleep and a `log/run` that execs cat.
sv_dirs() {
    i=0
    while [ $i -lt 1000 ]; do
        d=$1/s$(printf %04d $i)
        mkdir -p "$d/log"
        printf '#!%s/bin/sh\nexec %s/bin/sleep 2147483647\n' "$2" "$2" >"$d/run"
        printf '#!%s/bin/sh\nexec %s/bin/cat >/dev/null\n' "$2" "$2" >"$d/log/run"
        chmod 755 "$d/run" "$d/log/run"
        i=$((i + 1))
    done
}

case $variant in
ext4)
    ln -s "$dist/root.squashfs" "$out/root.squashfs"
    cp "$dist/command-line" "$out/command-line"
    need_modules
    MODULE_SET=$ext4_set "$repo/scripts/mkinitrd.sh" "$init" "$MODULES" "$out/initrd" >/dev/null
    ;;
etc | runit1-exit100 | runit2 | notos)
    fixture=$repo/tests/fixtures/stage2-$variant
    [ -d "$fixture" ] || { echo "stage2-variant: $fixture missing" >&2; exit 1; }
    ln -s "$dist/initrd" "$out/initrd"
    work=$out/build
    mkdir -p "$work"
    cp -R "$repo/demo" "$work/demo"
    if [ -d "$fixture/etc" ]; then
        cp -R "$fixture/etc/." "$work/demo/etc/"
    fi
    "$repo/scripts/mkstore.sh" "$init" "$work/demo" "$work"
    top=$(cat "$work/toplevel")
    topdir=$work/store/${top#/nix/store/}
    if [ -f "$fixture/activate" ]; then
        bb=$(cd "$work/store" && ls -d -- *-busybox)
        chmod u+w "$topdir"
        sed "s,@busybox@,/nix/store/$bb,g" "$fixture/activate" >"$topdir/activate"
        chmod 555 "$topdir/activate"
        chmod a-w "$topdir"
        touch -h -d @1 "$topdir" "$topdir/activate"
    fi
    mksquashfs "$work/store" "$out/root.squashfs" -noappend -all-root -comp zstd \
        -quiet -no-progress -mkfs-time 1 -all-time 1 >/dev/null
    echo "console=ttyS0 toplevel=$top root=/dev/vda quiet panic=-1" >"$out/command-line"
    chmod -R u+w "$work"
    rm -rf "$work"
    ;;
services1000)
    ln -s "$dist/initrd" "$out/initrd"
    work=$out/build
    mkdir -p "$work"
    cp -R "$repo/demo" "$work/demo"
    sv_dirs "$work/demo/etc/service" @busybox@
    mkdir "$work/demo/etc/service/0-count-up"
    printf '#!@busybox@/bin/sh\n%s/bin/count-up /etc/service 2000 /run/services-up\nexec @busybox@/bin/sleep 2147483647\n' \
        "$bench_runit" >"$work/demo/etc/service/0-count-up/run"
    chmod 755 "$work/demo/etc/service/0-count-up/run"
    "$repo/scripts/mkstore.sh" "$init" "$work/demo" "$work"
    bb=/nix/store/$(cd "$work/store" && ls -d -- *-busybox)
    rt=$work/store/${bench_runit#/nix/store/}
    mkdir -p "$rt/bin" "$rt/lib"
    for p in runsvdir runsv; do
        [ -x "/usr/bin/$p" ] || { echo "stage2-variant: /usr/bin/$p missing (apt-get install runit)" >&2; exit 1; }
        cp "/usr/bin/$p" "$rt/bin/$p"
        # The libraries under the names they are linked by (ld.so asks for those).
        ldd "/usr/bin/$p" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 } $1 ~ /^\// { print $1, $1 }' |
            while read -r name file; do cp -L "$file" "$rt/lib/${name##*/}"; done
    done
    sed "s,@busybox@,$bb,g" "$repo/scripts/variants/count-up.sh" >"$rt/bin/count-up"
    chmod 755 "$rt/bin/count-up"
    sv_dirs "$rt/service" "$bb"
    chmod -R a-w "$rt"
    find "$rt" -exec touch -h -d @1 {} +
    squash_store "$work" "$out"
    ;;
*)
    echo "stage2-variant: unknown variant $variant (ext4, etc, runit1-exit100, runit2, notos, services1000)" >&2
    exit 2
    ;;
esac
echo "$out"
