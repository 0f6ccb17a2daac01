#!/bin/sh
# fault2-variant.sh VARIANT OUT
#
# Build a dist-like directory OUT (kernel, initrd, root.squashfs,
# command-line, runvm) for one of the stage-2 fault tests
# (tests/tests/vm_faults_stage2.rs): a store built by scripts/mkstore.sh
# from a copy of demo/, changed as VARIANT says (fixtures from
# tests/fixtures/fault2-VARIANT/ where there are any):
#
#   runit1-missing  no etc/runit/1
#   runit1-noexec   etc/runit/1 is mode 0644
#   etc             fault2-etc/etc copied over etc/ (fault2-garbled and a
#                   fault2-garbled.mode that is no mode), plus etc/fault2-dangling,
#                   a symlink to /nonexistent/fault2-target
#   stubborn        fault2-stubborn/etc over etc/: the service stubborn,
#                   which ignores SIGTERM
#   services        fault2-services/etc over etc/: the services victim and
#                   target, and the guest scripts /etc/fault2/{flood,svlat}
#   crashloop       100 services crash000 … crash099, each with
#                   fault2-crashloop/run (count the start, exit 1)
#
# The initrd is dist's, unless INIT_BIN names another binary than
# $DIST/init: then an initrd with it is built (stage-2 runs in the
# initrd's /init, so a changed stage-2 needs its own initrd).
#
# Environment: DIST (default <repo>/dist), INIT_BIN (default $DIST/init),
# MODULES (see common.sh).
set -eu

variant=$1 out=$2
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/scripts/variants/common.sh"
fixtures=$repo/tests/fixtures

case $variant in
runit1-missing | runit1-noexec | etc | stubborn | services | crashloop) ;;
*)
    echo "fault2-variant: unknown variant $variant (runit1-missing, runit1-noexec, etc, stubborn, services, crashloop)" >&2
    exit 2
    ;;
esac

new_out
if cmp -s "$init" "$dist/init"; then
    ln -s "$dist/initrd" "$out/initrd"
else
    need_modules
    INITRD_COMPRESS=none "$repo/scripts/mkinitrd.sh" "$init" "$MODULES" "$out/initrd" >/dev/null
fi

work=$out/build
mkdir -p "$work"
cp -R "$repo/demo" "$work/demo"
etc=$work/demo/etc
case $variant in
runit1-missing)
    rm "$etc/runit/1"
    ;;
runit1-noexec)
    chmod 644 "$etc/runit/1"
    ;;
etc | stubborn | services)
    cp -R "$fixtures/fault2-$variant/etc/." "$etc/"
    if [ "$variant" = etc ]; then
        ln -s /nonexistent/fault2-target "$etc/fault2-dangling"
    fi
    ;;
crashloop)
    i=0
    while [ "$i" -lt 100 ]; do
        d=$etc/service/crash$(printf %03d "$i")
        mkdir -p "$d"
        cp "$fixtures/fault2-crashloop/run" "$d/run"
        i=$((i + 1))
    done
    ;;
esac
store_image "$init" "$work" "$out"
echo "$out"
