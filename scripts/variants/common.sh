# Sourced by the variant scripts: the steps they share.

# store_image INIT WORK OUT: the store of WORK/demo (scripts/mkstore.sh with
# INIT) as OUT/root.squashfs and its OUT/command-line; WORK is removed.
store_image() {
    "$repo/scripts/mkstore.sh" "$1" "$2/demo" "$2"
    top=$(cat "$2/toplevel")
    mksquashfs "$2/store" "$3/root.squashfs" -noappend -all-root -comp zstd \
        -quiet -no-progress -mkfs-time 1 -all-time 1 >/dev/null
    echo "console=ttyS0 toplevel=$top root=/dev/vda quiet panic=-1" >"$3/command-line"
    chmod -R u+w "$2"
    rm -rf "$2"
}
