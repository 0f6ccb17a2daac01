# Sourced by the variant scripts after they set `repo`: the paths and the
# steps they share.
#
# Environment: DIST (default <repo>/dist), INIT_BIN (default $DIST/init),
# MODULES (the kernel's module tree with modules.dep; default the only one
# under <repo>/build/kernel/x/lib/modules, where make dist unpacks it).

dist=$(cd "${DIST:-$repo/dist}" && pwd)
init=${INIT_BIN:-$dist/init}
if [ -z "${MODULES:-}" ]; then
    for d in "$repo"/build/kernel/x/lib/modules/*; do MODULES=$d; done
fi
# mkinitrd.sh's default set: not-os's, the host shares' (9p, virtiofs) and
# ext4 with crc32c_generic (its checksums' softdep) for an ext4 realroot=.
default_set="virtio virtio_pci virtio_net virtio_rng virtio_blk virtio_console dm_mod tun loop squashfs overlay 9p 9pnet_virtio virtiofs ext4 crc32c_generic"
ext4_set=$default_set

# The stores get the demo's kernel-modules (scripts/mkstore.sh), as dist's.
if [ -z "${STORE_MODDIR:-}" ] && [ -e "${MODULES:-}/modules.dep" ]; then
    export STORE_MODDIR=$MODULES
fi

# need_modules: stop with one line unless MODULES has a modules.dep.
need_modules() {
    [ -e "${MODULES:-}/modules.dep" ] || {
        echo "$(basename "$0" .sh): no modules.dep in ${MODULES:-<none>} (run make dist, or set MODULES)" >&2
        exit 1
    }
}

# new_out: OUT emptied and made absolute, with dist's kernel and runvm
# (runvm finds its files next to itself).
new_out() {
    rm -rf "$out"
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    ln -s "$dist/kernel" "$out/kernel"
    cp "$dist/runvm" "$out/runvm"
}

# store_image INIT WORK OUT: the store of WORK/demo (scripts/mkstore.sh with
# INIT) as OUT/root.squashfs and its OUT/command-line; WORK is removed.
store_image() {
    "$repo/scripts/mkstore.sh" "$1" "$2/demo" "$2"
    squash_store "$2" "$3"
}

# squash_store WORK OUT: WORK/store (as mkstore.sh left it, maybe added to)
# as OUT/root.squashfs and its OUT/command-line; WORK is removed.
squash_store() {
    top=$(cat "$1/toplevel")
    mksquashfs "$1/store" "$2/root.squashfs" -noappend -all-root -comp zstd \
        -quiet -no-progress -mkfs-time 1 -all-time 1 >/dev/null
    echo "console=ttyS0 toplevel=$top root=/dev/vda quiet panic=-1" >"$2/command-line"
    chmod -R u+w "$1"
    rm -rf "$1"
}
