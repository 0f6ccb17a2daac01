#!/bin/bash
# build-init.sh OUT        build the static release binary into OUT
# build-init.sh --bloat    print cargo-bloat's per-crate table of that build
#
# One place decides how dist/init is built, so `make dist` and `make size`
# measure the same binary:
#
#   target  x86_64-unknown-linux-musl when rustup has (or can add) it, else
#           x86_64-unknown-linux-gnu with +crt-static.
#   std     rebuilt for size (BUILD_STD=auto, the default, when rustup's
#           rust-src component is installed; `make deps` installs it):
#           -Z build-std=std,panic_abort with std's `optimize_for_size` and
#           without its backtrace symbolizer, panic locations left out
#           (-Z location-detail=none) and libunwind and printf
#           replaced by init/src/link_stubs.rs. These are unstable cargo/rustc options on
#           the stable compiler (RUSTC_BOOTSTRAP=1, as the Linux kernel builds
#           its Rust): 1,110,560 -> 722,888 bytes. Without
#           rust-src (or with BUILD_STD=no) the prebuilt std is linked and the
#           binary is about 380 KiB larger; BUILD_STD=yes makes that an error.
#   features  INIT_FEATURES (space-separated: gzip zstd) add userspace module
#           decoders to the default xz one.
#
# Environment: CARGO (cargo), CARGO_TARGET_DIR (target), BUILD_STD,
# INIT_FEATURES, BLOAT_TARGET_DIR (for --bloat: $CARGO_TARGET_DIR/bloat).
set -euo pipefail

cargo=${CARGO:-cargo}
target_dir=${CARGO_TARGET_DIR:-target}
musl=x86_64-unknown-linux-musl
gnu=x86_64-unknown-linux-gnu

if rustup target list --installed 2>/dev/null | grep -qx $musl || rustup target add $musl >&2; then
    target=$musl
    # The same flags as .cargo/config.toml: RUSTFLAGS replaces them.
    rustflags="-C relocation-model=static -C target-feature=+crt-static"
else
    echo "build-init: musl target unavailable; glibc with crt-static" >&2
    target=$gnu
    rustflags="-C target-feature=+crt-static"
fi

args=(--release --target "$target" -p init)
if [ -n "${INIT_FEATURES:-}" ]; then
    args+=(--features "$INIT_FEATURES")
fi

build_std=${BUILD_STD:-auto}
if [ "$build_std" = auto ]; then
    if rustup component list --installed 2>/dev/null | grep -qx rust-src; then
        build_std=yes
    else
        echo "build-init: rustup's rust-src is not installed (make deps adds it): linking the prebuilt std, about 380 KiB larger" >&2
        build_std=no
    fi
fi
case $build_std in
yes)
    export RUSTC_BOOTSTRAP=1
    args+=(-Z build-std=std,panic_abort -Z build-std-features=optimize_for_size)
    rustflags+=" -Z location-detail=none"
    # A derived Debug prints its type's or variant's name only (`Some`,
    # not `Some(3)`): no field-by-field Debug code or field names for every
    # type something might `{:?}`. Hand-written Debug (str, integers,
    # paths, io::Error) is unchanged, and so is a unit variant's name
    # (`ENOENT`, `SIGTERM`). No `{:?}` a person reads prints a derived
    # Debug with fields (the one that did, a 206's Content-Range, is
    # written out): -1,472 bytes, 593,528 -> 592,056.
    rustflags+=" -Z fmt-debug=shallow"
    # rustup's own lld (no system linker needed) with identical code
    # folding: -3.4 KiB, 612,296 -> 608,872 bytes (GNU ld has no ICF).
    # `all`, not `safe`: safe folded nothing here, as every function of the
    # one LTO object counts as address-taken; Rust gives no function a
    # unique address (rustc marks them unnamed_addr, and Windows' linker
    # folds Rust code so by default). It folds 165 text sections, musl's
    # empty weak-alias defaults among them; no read-only data.
    # -O2: lld also merges string tails. -6.7 KiB, 608,328 -> 601,448.
    rustflags+=" -C link-self-contained=+linker -Z unstable-options -C linker-flavor=gnu-lld-cc -C link-arg=-Wl,--icf=all -C link-arg=-Wl,-O2"
    # No unwind tables at all (nothing unwinds with panic=abort, see the
    # objcopy below) and no .eh_frame_hdr: without them lld lays .text out
    # right after .rodata instead of after the tables objcopy removes.
    # -2.3 KiB, 601,448 -> 599,144 (both measured on 608,328's sources;
    # together on later sources 595,464 -> 587,848).
    rustflags+=" -C force-unwind-tables=no -C link-arg=-Wl,--no-eh-frame-hdr"
    if [ $target = $musl ]; then
        rustflags+=" --cfg init_link_stubs"
    fi
    ;;
no) ;;
*) echo "build-init: BUILD_STD=$build_std: expected auto, yes or no" >&2; exit 2 ;;
esac
# LLVM's machine outliner folds repeated instruction sequences into shared
# functions (off by default on x86-64): -16 KiB, 657,352 -> 640,968 bytes.
rustflags+=" -C llvm-args=-enable-machine-outliner=always"
# No jump or lookup tables for `match`: a switch becomes compares and
# branches. The tables are 8 bytes an entry over the whole range of values,
# and a match that only picks a string (nix's `Errno` Display and Debug, in
# three inlined copies) becomes two such tables per copy: -11,488 bytes,
# 605,016 -> 593,528 (on nix alone -3,200). A match with many arms costs
# a few compares more to dispatch (a binary search instead of one load).
rustflags+=" -C jump-tables=no"
export RUSTFLAGS=$rustflags

if [ "${1:-}" = --bloat ]; then
    dir=${BLOAT_TARGET_DIR:-$target_dir/bloat}
    mkdir -p "$dir"
    echo "dist/init .text per crate (cargo bloat ${args[*]} --crates):"
    CARGO_PROFILE_RELEASE_STRIP=false CARGO_TARGET_DIR=$dir \
        $cargo bloat "${args[@]}" --crates -n 30 2>"$dir/bloat.log" || { cat "$dir/bloat.log" >&2; exit 1; }
    exit 0
fi

out=${1:?usage: build-init.sh OUT | --bloat}
echo "cargo build ${args[*]} (RUSTFLAGS='$rustflags')"
$cargo build "${args[@]}"
cp "$target_dir/$target/release/init" "$out.tmp"
# Unwind tables are dead weight with panic=abort (nothing unwinds; the
# panic hook prints no backtrace): -148 KiB, 1,258,256 -> 1,106,464.
# .comment names the compiler and linker versions: nothing reads it at run
# time (-224 bytes with its section header).
objcopy -R .eh_frame -R .eh_frame_hdr -R .gcc_except_table -R .comment "$out.tmp"
file "$out.tmp" | grep -q 'statically linked' || { file "$out.tmp"; echo "build-init: $out is not static" >&2; exit 1; }
mv "$out.tmp" "$out"
