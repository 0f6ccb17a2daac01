# Build, run and test the one-binary init.
#
#   make / make init   dist/init: the static binary
#   make dist          dist/{init,kernel,initrd,root.squashfs,command-line,runvm,kexec-boot}
#   make run           boot dist/ in QEMU (serial console on stdio, Ctrl-a x quits)
#   make run-shared    boot dist/ with the demo's store shared from build/store/store
#                      (RUNVM_STORE=9p, or virtiofs) as nixos-rebuild build-vm does
#   make test          fmt, clippy, dist, then the whole test suite (VM tests too)
#   make msrv          check the workspace with the oldest compiler it claims (rust-version)
#   make deps          install what the build needs (apt packages, the pinned toolchain, cargo tools)
#   make size          sizes of dist/init and dist/initrd
#   make bench         supervision, svlogd, re-exec, PID 1, devices, stage-1, netboot, kexec and shared-store benchmarks (tables in bench/results/)
#   make fuzz          fuzz every parser for FUZZ_SECONDS (60) each (fuzz/README.md)
#   make soak          SOAK_ROUNDS (20) shutdowns of an ext4 root under a writer: records lost, fsck
#   make clean         remove build/ and dist/ (`cargo clean` empties target/)
#
# Overrides: KERNEL=/boot/vmlinuz-X MODULES=/lib/modules/X use a host kernel
# and its module tree instead of the pinned Debian package; MODULES_COMPRESS=
# xz|gzip|zstd compresses the modules in the initrd (gzip and zstd add their
# decoder to dist/init); BUILD_STD=no links the prebuilt std (scripts/build-init.sh).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := init
.DELETE_ON_ERROR:

# The kernel: Debian's package, pinned here and nowhere else.
KVER ?= 6.1.0-56-amd64
KPKG ?= linux-image-$(KVER)
KDIR := build/kernel
KERNEL ?= $(KDIR)/x/boot/vmlinuz-$(KVER)
MODULES ?= $(KDIR)/x/lib/modules/$(KVER)
MODULES_COMPRESS ?= none

# Compression, measured with this tree's init (1.1 MiB) and module set:
#   initrd: gzip -9 1069 KB, zstd -19 890 KB, xz -9 818 KB; decompressing
#           takes gzip 50 ms, zstd 15 ms, xz 145 ms. zstd: small and fast.
#   store:  xz 1M blocks 1352 KB, zstd 128K blocks 1511 KB; reading busybox
#           out of it: xz 175-230 ms, zstd 18 ms. zstd, default 128K blocks.
INITRD_COMPRESS ?= zstd
SQUASHFS_COMP ?= zstd

# Cargo: real builds use target/; CARGO_TARGET_DIR=... redirects them.
CARGO ?= cargo
CARGO_TARGET_DIR ?= target
export CARGO_TARGET_DIR
MUSL := x86_64-unknown-linux-musl
GNU := x86_64-unknown-linux-gnu
# The oldest compiler the code builds with, as Cargo.toml says (make msrv):
# "1.91" is rustup's 1.91.0, not its newest 1.91.x.
MSRV := $(shell sed -n 's/^rust-version = "\(.*\)"$$/\1/p' Cargo.toml)
MSRV_TOOLCHAIN := $(if $(word 3,$(subst ., ,$(MSRV))),$(MSRV),$(MSRV).0)
RUST_SRCS := Cargo.toml Cargo.lock $(shell find init stage1 stage2 runit-compat -name '*.rs' -o -name Cargo.toml)
DEMO_SRCS := $(shell find demo -type f -o -type l)

APT_PKGS := binutils qemu-system-x86 qemu-utils squashfs-tools cpio busybox-static libclang-dev runit kmod file xz-utils zstd e2fsprogs fdisk dnsmasq-base iproute2 socat
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

DIST := dist/init dist/kernel dist/initrd dist/root.squashfs dist/command-line dist/runvm dist/kexec-boot

.PHONY: init dist run run-shared test msrv nextest deps size clean bench fuzz fuzz-deps soak FORCE
init: dist/init
dist: $(DIST)

# The static binary, built by scripts/build-init.sh (target, the size-tuned
# std and its fallback are explained there). `make size` measures the same
# build.
dist/init: $(RUST_SRCS) scripts/build-init.sh build/init-settings
	@mkdir -p dist
	BUILD_STD=$(BUILD_STD) INIT_FEATURES='$(INIT_FEATURES)' scripts/build-init.sh $@

# Userspace module decoders beyond the default xz: gzip or zstd only when the
# initrd's modules are compressed so and the kernel cannot decompress modules
# itself (no CONFIG_MODULE_DECOMPRESS in its config next to the modules, or in
# /boot). INIT_FEATURES="gzip zstd" forces them in.
KCONFIG ?= $(firstword $(wildcard $(KDIR)/x/boot/config-$(notdir $(MODULES)) /boot/config-$(notdir $(MODULES))))
KERNEL_DECOMPRESSES := $(if $(KCONFIG),$(shell grep -qx 'CONFIG_MODULE_DECOMPRESS=y' $(KCONFIG) && echo yes))
INIT_FEATURES ?= $(if $(KERNEL_DECOMPRESSES),,$(filter gzip zstd,$(MODULES_COMPRESS)))
BUILD_STD ?= auto

build/init-settings: FORCE
	@mkdir -p build
	@echo '$(INIT_FEATURES) $(BUILD_STD)' | cmp -s - $@ || echo '$(INIT_FEATURES) $(BUILD_STD)' >$@

# Download and unpack the pinned kernel package, with depmod run over it.
$(KDIR)/x/boot/vmlinuz-$(KVER) $(KDIR)/x/lib/modules/$(KVER)/modules.dep &:
	scripts/fetch-kernel.sh $(KPKG) $(KVER) $(KDIR)

# The settings that shape kernel and initrd, rewritten only when they change,
# so that switching KERNEL/MODULES (to older files) still rebuilds.
build/settings: FORCE
	@mkdir -p build
	@echo '$(KERNEL) $(MODULES) $(MODULES_COMPRESS) $(INITRD_COMPRESS)' | cmp -s - $@ \
	    || echo '$(KERNEL) $(MODULES) $(MODULES_COMPRESS) $(INITRD_COMPRESS)' >$@

dist/kernel: $(KERNEL) build/settings
	@mkdir -p dist
	cp $< $@

dist/initrd: dist/init $(MODULES)/modules.dep scripts/mkinitrd.sh build/settings
	INITRD_COMPRESS=$(INITRD_COMPRESS) MODULES_COMPRESS=$(MODULES_COMPRESS) \
	    scripts/mkinitrd.sh dist/init $(MODULES) build/initrd
	mv build/initrd $@

# The store tree and the toplevel's path; then the image and the command line.
build/store/toplevel: dist/init $(DEMO_SRCS) scripts/mkstore.sh scripts/modtree.sh $(MODULES)/modules.dep
	STORE_MODDIR=$(MODULES) scripts/mkstore.sh dist/init demo build/store

dist/root.squashfs: build/store/toplevel
	mksquashfs build/store/store $@.tmp -noappend -all-root -comp $(SQUASHFS_COMP) \
	    -quiet -no-progress -mkfs-time 1 -all-time 1
	mv $@.tmp $@

dist/command-line: build/store/toplevel
	echo "console=ttyS0 toplevel=$$(cat $<) root=/dev/vda quiet panic=-1" >$@

dist/runvm: scripts/runvm.sh
	@mkdir -p dist
	install -m 755 $< $@

dist/kexec-boot: scripts/kexec-boot.sh
	@mkdir -p dist
	install -m 755 $< $@

run: $(DIST)
	exec dist/runvm

# The store tree mkstore.sh wrote, shared as is: a change to the demo
# rebuilds the tree, never the squashfs (not a prerequisite here).
# NIX_DISK_IMAGE (default ./demo.qcow2), SHARED_DIR, QEMU_OPTS,
# QEMU_KERNEL_PARAMS and QEMU_NET_OPTS as runvm says.
RUNVM_STORE ?= 9p
run-shared: $(filter-out dist/root.squashfs,$(DIST)) build/store/toplevel
	RUNVM_STORE=$(RUNVM_STORE) RUNVM_STORE_DIR=$(CURDIR)/build/store/store exec dist/runvm

# The VM tests need no probe of their own: QEMU_ACCEL is decided once here
# by runvm's probe (unless already set) and passed down. nextest, not `cargo
# test`: .config/nextest.toml runs the control-FIFO flood test alone, and
# beside other VMs its timing bound measures the host.
test: nextest
	$(CARGO) fmt --all --check
	@# No file imports a file that imports it back (the rule: the script's header).
	scripts/check-import-cycles --self-test
	scripts/check-import-cycles
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@# The init without the network stack (stage1/net/README.md) still builds.
	$(CARGO) clippy -p init --no-default-features --features xz --all-targets -- -D warnings
	$(MAKE) dist
	@accel=$${QEMU_ACCEL:-$$(dist/runvm --probe)}; echo "QEMU_ACCEL=$$accel"; \
	echo "cargo nextest run --workspace --no-fail-fast (INIT_BIN=$(CURDIR)/dist/init DIST=$(CURDIR)/dist)"; \
	QEMU_ACCEL=$$accel VM_TESTS_REQUIRED=1 INIT_BIN=$(CURDIR)/dist/init DIST=$(CURDIR)/dist \
	    $(CARGO) nextest run --workspace --no-fail-fast

nextest:
	@$(CARGO) nextest --version >/dev/null 2>&1 || { echo "cargo-nextest is missing: \
	run make deps (or cargo install cargo-nextest --locked); make test and make soak \
	run only under nextest (.config/nextest.toml)" >&2; exit 1; }

# `rust-version` in Cargo.toml is a claim: this checks it with that compiler
# (every target, tests too; make deps installs it), in its own target dir.
# CI runs it. Clippy's incompatible_msrv (on through clippy::all) flags most
# newer std APIs sooner, but not newer language features or dependencies.
msrv:
	@rustup run $(MSRV_TOOLCHAIN) cargo --version >/dev/null 2>&1 \
	    || { echo "Rust $(MSRV_TOOLCHAIN) is missing: run make deps" >&2; exit 1; }
	$(CARGO) +$(MSRV_TOOLCHAIN) check --workspace --all-targets --locked --target-dir $(CARGO_TARGET_DIR)/msrv

# Quick when everything is installed: dpkg-query and rustup only.
deps:
	@missing=$$(for p in $(APT_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	    echo "apt-get install" $$missing; \
	    $(SUDO) apt-get update && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	else echo "apt packages: all present"; fi
	@# The toolchain rust-toolchain.toml pins, with its components (rust-src:
	@# std's sources for the size-tuned std of scripts/build-init.sh; without
	@# them dist/init is about 380 KiB larger) and the musl target.
	@rustup -q toolchain install --no-self-update
	@echo "rust $$(rustc --version | cut -d' ' -f2) with rust-src and $(MUSL): present"
	@rustup run $(MSRV_TOOLCHAIN) cargo --version >/dev/null 2>&1 \
	    || rustup toolchain install --no-self-update --profile minimal $(MSRV_TOOLCHAIN)
	@echo "rust $(MSRV_TOOLCHAIN) (rust-version, for make msrv): present"
	@$(CARGO) nextest --version >/dev/null 2>&1 || $(CARGO) install cargo-nextest --locked
	@echo "cargo-nextest: present"
	@$(CARGO) bloat --version >/dev/null 2>&1 || $(CARGO) install cargo-bloat --locked
	@echo "cargo-bloat: present"

# Sizes of dist/init and dist/initrd, dist/init's main sections, and
# cargo-bloat's per-crate estimate of its .text (make deps installs
# cargo-bloat). The table comes from the same release build with symbols
# kept, in its own target dir so dist/init is not rebuilt; generic code
# counts for the crate that instantiates it. About 2 minutes the first time.
BLOAT_TARGET_DIR ?= $(CARGO_TARGET_DIR)/bloat
INIT_SIZE_LIMIT := 614400
size: dist/init dist/initrd
	@for f in dist/init dist/initrd; do \
	    s=$$(stat -c %s $$f); printf '%-14s %9d bytes %7d KiB\n' $$f $$s $$(( (s + 1023) / 1024 )); \
	done
	@size -A dist/init | awk '$$1 ~ /^[.](text|rodata|eh_frame|eh_frame_hdr|gcc_except_table|data)$$/ \
	    { printf "  %-18s %9d bytes %7d KiB\n", $$1, $$2, ($$2 + 1023) / 1024 }'
	@$(CARGO) bloat --version >/dev/null 2>&1 || { echo "cargo-bloat is missing: run make deps" >&2; exit 1; }
	@BUILD_STD=$(BUILD_STD) INIT_FEATURES='$(INIT_FEATURES)' BLOAT_TARGET_DIR=$(BLOAT_TARGET_DIR) \
	    scripts/build-init.sh --bloat
	@# Issue 10's limit, for the size-tuned build (the prebuilt std is ~380 KiB more).
	@s=$$(stat -c %s dist/init); if [ $$s -gt $(INIT_SIZE_LIMIT) ]; then \
	    if [ "$(BUILD_STD)" != no ] && rustup component list --installed 2>/dev/null | grep -qx rust-src; then \
	        echo "dist/init is $$s bytes, over the limit of $(INIT_SIZE_LIMIT) (600 KiB)" >&2; exit 1; \
	    else echo "warning: dist/init is $$s bytes, over 600 KiB: built against the prebuilt std (no rust-src)" >&2; fi; \
	else echo "dist/init: $$s bytes, within the limit of $(INIT_SIZE_LIMIT) (600 KiB)"; fi
	@# nix's errno name and text tables (~7 KiB) come back with one Errno
	@# formatted by {} or {:?} or boxed as a dyn Error: say where to look.
	@if grep -qa ENOTRECOVERABLE dist/init; then \
	    echo "dist/init holds nix's Errno tables again: an Errno is formatted or boxed somewhere; convert it with io::Error::from(errno) (see README, Sizes)" >&2; exit 1; fi

# Speed and size, each against its reference measured in the same run; the
# tables land in bench/results/*.md (see README). About 13 minutes.
# PREV_INIT=path/to/previous/init adds that binary's stage-1 to the boot-time
# bench, interleaved with this one's (bench/vm-stage1.sh: `previous`).
PREV_INIT ?=
bench: $(DIST)
	@echo "== sizes"; $(MAKE) --no-print-directory size
	DIST=$(CURDIR)/dist bench/size.sh
	INIT_BIN=$(CURDIR)/dist/init bench/runit.sh
	INIT_BIN=$(CURDIR)/dist/init bench/svlogd.sh
	INIT_BIN=$(CURDIR)/dist/init bench/reexec.sh
	DIST=$(CURDIR)/dist bench/vm-pid1.sh
	DIST=$(CURDIR)/dist bench/vm-services.sh
	DIST=$(CURDIR)/dist bench/vm-devices.sh
	DIST=$(CURDIR)/dist PREV_INIT=$(PREV_INIT) bench/vm-stage1.sh
	DIST=$(CURDIR)/dist bench/vm-netboot.sh
	DIST=$(CURDIR)/dist bench/vm-kexec.sh
	bench/fetch.sh
	DIST=$(CURDIR)/dist bench/plan.sh
	DIST=$(CURDIR)/dist bench/vm-shared.sh
	DIST=$(CURDIR)/dist bench/vm-test-bench.sh vm_shared bench_9p_msize "9p msize: reading the shared store"

# The lossless shutdown soak (tests/tests/vm_soak.rs): SOAK_ROUNDS boots of
# one ext4 root, ended in turn by poweroff, reboot, ctrl-alt-del, SIGPWR and
# the power button (QEMU's system_powerdown) while a service writes and
# fsyncs numbered records; after each, e2fsck -fn must be clean and every
# acknowledged record on disk. Prints the figures table. `make test` runs
# the same test with 5 rounds (one of each ending).
SOAK_ROUNDS ?= 20
soak: nextest $(DIST)
	@accel=$${QEMU_ACCEL:-$$(dist/runvm --probe)}; echo "QEMU_ACCEL=$$accel"; \
	echo "cargo nextest run -p tests --test vm_soak --no-capture (SOAK_ROUNDS=$(SOAK_ROUNDS))"; \
	SOAK_ROUNDS=$(SOAK_ROUNDS) QEMU_ACCEL=$$accel VM_TESTS_REQUIRED=1 \
	    INIT_BIN=$(CURDIR)/dist/init DIST=$(CURDIR)/dist \
	    $(CARGO) nextest run -p tests --test vm_soak --no-capture

# Coverage-guided fuzzing of the parsers: libFuzzer on stable rustc
# (fuzz/README.md). Not part of `make test` or CI. Each target runs
# FUZZ_SECONDS; FUZZ_TARGETS="dhcp uevent" picks some. Prints executions and
# crashes per target and fails on a crash (its input in fuzz/artifacts/).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
fuzz: fuzz-deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_TARGETS='$(FUZZ_TARGETS)' \
	    CARGO_TARGET_DIR=$(abspath $(CARGO_TARGET_DIR))/fuzz fuzz/run.sh

# What fuzzing needs beyond `make deps`: a C++ compiler for libFuzzer
# (libfuzzer-sys builds it) and the fuzz crate's dependencies.
fuzz-deps:
	@command -v c++ >/dev/null 2>&1 || { echo "apt-get install g++"; \
	    $(SUDO) apt-get update && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends g++; }
	$(CARGO) fetch --manifest-path fuzz/Cargo.toml

clean:
	rm -rf build dist
