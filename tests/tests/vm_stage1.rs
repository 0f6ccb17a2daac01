//! Stage-1 VM tests (issue 3): every way the store and `/` can be found,
//! compressed modules, the failure policy (menu, panic, warnings) and a
//! foreign `$toplevel/init`. Each test boots its own VM; variants of `dist/`
//! (initrd, store image, disks) are built by
//! `scripts/variants/stage1-variant.sh` into
//! `$CARGO_TARGET_TMPDIR/vm_stage1/<test>/`, next to the console log.
//!
//! At most two VMs run at once: under `cargo test` through the slot
//! semaphore in `common::stage1`, under nextest through its thread count.
//! TCG guests are CPU-bound and these machines have two cores.
use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use tests::vm::Vm;

mod common;
use common::stage1::*;

// ---------------------------------------------------------------------------
// (a) block-device store, boot times

/// The default dist boot (store image on /dev/vda) reaches supervision, and
/// `/run/init/boot-times` holds every phase once, in boot order, with
/// non-decreasing CLOCK_BOOTTIME seconds.
#[test]
fn block_device_store_reaches_supervision_with_all_boot_times() -> Result<()> {
    let test = "block_device_store_reaches_supervision_with_all_boot_times";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let mut vm = Vm::boot(&config(test, dist, &[]))?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    let text = guest(&mut vm, "cat /run/init/boot-times")?;
    let marks: Vec<(String, f64)> = text
        .lines()
        .map(|l| {
            let (p, s) = l
                .split_once(' ')
                .with_context(|| format!("bad boot-times line {l:?}"))?;
            let s: f64 = s
                .trim()
                .parse()
                .with_context(|| format!("bad seconds in {l:?}"))?;
            Ok((p.to_owned(), s))
        })
        .collect::<Result<_>>()?;
    let names: Vec<&str> = marks.iter().map(|(p, _)| p.as_str()).collect();
    ensure!(
        names == PHASES,
        "boot-times phases are {names:?}, want {PHASES:?}:\n{text}"
    );
    ensure!(
        marks.windows(2).all(|w| w[0].1 <= w[1].1),
        "boot-times are not in time order:\n{text}"
    );
    ensure!(
        marks[0].1 > 0.0 && marks[5].1 < 600.0,
        "implausible boot times:\n{text}"
    );
    let m = mounts(&mut vm)?;
    let ro = mount_at(&m, "/nix/.ro-store").context("no /nix/.ro-store")?;
    ensure!(
        ro.0 == "/dev/vda",
        "the store image is {ro:?}, not /dev/vda"
    );
    check_store_overlay(&m)?;
    no_panic(&vm.console())
}

// ---------------------------------------------------------------------------
// (b) squashfs file inside the initramfs

/// `root=/nix-store.squashfs`: the store image is a file in the initramfs,
/// mounted through a loop device. The virtio disk is zeros, so a boot that
/// reaches supervision got its store from the file: `/proc/mounts` shows
/// /dev/loop0 (squashfs) on /nix/.ro-store.
#[test]
fn squashfs_file_in_initramfs_is_mounted_through_loop() -> Result<()> {
    let test = "squashfs_file_in_initramfs_is_mounted_through_loop";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let variant = build_variant(test, &dist, "loopfile")?;
    let mut vm = Vm::boot(&config(test, variant, &["root=/nix-store.squashfs"]))?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    let m = mounts(&mut vm)?;
    let ro = mount_at(&m, "/nix/.ro-store").context("no /nix/.ro-store")?;
    ensure!(
        ro.0 == "/dev/loop0" && ro.2 == "squashfs",
        "/nix/.ro-store is {ro:?}, not /dev/loop0 squashfs; mounts: {m:?}"
    );
    ensure!(
        !m.iter().any(|x| x.0 == "/dev/vda"),
        "/dev/vda is mounted: {m:?}"
    );
    check_store_overlay(&m)?;
    let backing = guest(&mut vm, "cat /sys/block/loop0/loop/backing_file")?;
    ensure!(
        backing.contains("nix-store.squashfs"),
        "loop0's backing file is {backing:?}"
    );
    no_panic(&vm.console())
}

// ---------------------------------------------------------------------------
// (c) xz-compressed modules

/// An initrd whose modules are all `.ko.xz` (Debian's kernel cannot
/// decompress them itself: stage-1 does it in userspace) boots to
/// supervision, and the guest's /proc/modules lists virtio_blk, squashfs
/// and overlay.
#[test]
fn xz_compressed_modules_load() -> Result<()> {
    let test = "xz_compressed_modules_load";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let variant = build_variant(test, &dist, "xzmods")?;
    // The variant really has compressed modules and no plain ones.
    let listing = Command::new("sh")
        .arg("-c")
        .arg("if zstd -t -q initrd 2>/dev/null; then zstd -dc initrd; else cat initrd; fi | cpio -t --quiet")
        .current_dir(&variant)
        .output()
        .context("listing the variant initrd")?;
    let listing = String::from_utf8_lossy(&listing.stdout);
    let ends = |suffix: &str| listing.lines().filter(|l| l.ends_with(suffix)).count();
    let (xz, plain) = (ends(".ko.xz"), ends(".ko"));
    ensure!(
        xz >= 10 && plain == 0,
        "variant initrd has {xz} .ko.xz and {plain} .ko files:\n{listing}"
    );

    // Devices bring virtio_pci, virtio_blk and virtio_net (coldplug, then
    // uevents), the mounts squashfs and overlay; no device needs loop, so
    // the command line lists it.
    let mut vm = Vm::boot(&config(test, variant, &["rd.modules_load=loop"]))?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    let text = guest(&mut vm, "cat /proc/modules")?;
    let loaded: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for m in [
        "virtio_pci",
        "virtio_blk",
        "squashfs",
        "overlay",
        "loop",
        "virtio_net",
    ] {
        ensure!(
            loaded.contains(&m),
            "{m} is not in /proc/modules: {loaded:?}"
        );
    }
    no_panic(&vm.console())
}

// ---------------------------------------------------------------------------
// (d), (e) realroot on ext4

fn realroot_ext4(test: &str, disk: &str, params: &[&str]) -> Result<()> {
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    // Each test builds its own copy: nextest runs every test in a process
    // of its own, so a copy shared between the two realroot tests was
    // rebuilt (rm -rf, mkfs) by one while the other's QEMU was using it.
    let variant = build_variant(test, &dist, "ext4")?;
    let mut config = config(test, variant.clone(), params);
    config.drives.push(variant.join(disk));
    let mut vm = Vm::boot(&config)?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    let m = mounts(&mut vm)?;
    let root = mount_at(&m, "/").context("nothing mounted on /")?;
    ensure!(
        root.0 == "/dev/vdb" && root.2 == "ext4",
        "/ is {root:?}, not /dev/vdb ext4; mounts: {m:?}"
    );
    check_store_overlay(&m)?;
    // The disk is really written: a file made now is on the ext4.
    guest(&mut vm, "echo written >/stage1-test && sync")?;
    let df = guest(&mut vm, "stat -f -c %T /stage1-test")?;
    ensure!(
        df.contains("ext2") || df.contains("ext4"),
        "stat -f says {df:?}"
    );
    no_panic(&vm.console())
}

/// `realroot=LABEL=data`: `/` is the ext4 disk labelled `data` (/dev/vdb),
/// found by its superblock label; ext4 and its dependencies are loaded from
/// the initrd; the store overlay is still mounted.
#[test]
fn realroot_by_label_mounts_ext4_root() -> Result<()> {
    realroot_ext4(
        "realroot_by_label_mounts_ext4_root",
        "disk-label.img",
        &["realroot=LABEL=data"],
    )
}

/// `realroot=/dev/vdb rootfstype=ext4` on an unlabelled ext4 disk: `/` is
/// ext4 on /dev/vdb, and /nix/store is still the overlay over the image.
#[test]
fn realroot_device_path_mounts_ext4_root() -> Result<()> {
    realroot_ext4(
        "realroot_device_path_mounts_ext4_root",
        "disk.img",
        &["realroot=/dev/vdb", "rootfstype=ext4"],
    )
}

// ---------------------------------------------------------------------------
// (f) the failure menu, answered over the serial line

const MISSING_TOPLEVEL: &str = "/nix/store/00000000000000000000000000000000-missing";

/// A toplevel that is not in the store, with `boot.shell_on_fail`: one
/// error line names the missing toplevel, the menu is offered, and the key
/// `r` typed on the serial console reboots (QEMU, with -no-reboot, exits by
/// itself).
#[test]
fn missing_toplevel_menu_reboots_on_r_from_serial() -> Result<()> {
    let test = "missing_toplevel_menu_reboots_on_r_from_serial";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let toplevel = format!("toplevel={MISSING_TOPLEVEL}");
    let config = config(test, dist, &[&toplevel, "boot.shell_on_fail"]);
    let mut vm = Vm::boot(&config)?;
    vm.wait_for_console("Press one of the following keys", BOOT)?;
    vm.wait_for_console("r) to reboot immediately", Duration::from_secs(10))?;
    let console = vm.console();
    let errors: Vec<&str> = console
        .lines()
        .filter(|l| l.contains(MISSING_TOPLEVEL) && l.contains("failed"))
        .collect();
    ensure!(
        errors.len() == 1,
        "want one error line naming {MISSING_TOPLEVEL}, got {errors:?}:\n{console}"
    );
    ensure!(
        !console.contains("stage-2:") && !console.contains(HELLO_LOGGED),
        "the boot went on without an answer:\n{console}"
    );
    // What the console shows from here on is the effect of the answer.
    let before = vm.console().len();
    vm.send_console("r\n")?;
    let status = vm.wait_exit(Duration::from_mins(1))?;
    ensure!(status.success(), "QEMU exited with {status}");
    let console = vm.console();
    ensure!(
        console[before..].contains("reboot: Restarting system"),
        "no kernel restart line after `r`:\n{console}"
    );
    no_panic(&console)
}

// ---------------------------------------------------------------------------
// (g) boot.panic_on_fail

/// `boot.panic_on_fail` with a store device that never appears: our error
/// line names the device, PID 1 exits, the kernel panics (`Attempted to kill
/// init`), and with panic=-1 and -no-reboot QEMU exits by itself.
#[test]
fn panic_on_fail_with_missing_store_device_panics_the_kernel() -> Result<()> {
    let test = "panic_on_fail_with_missing_store_device_panics_the_kernel";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let mut vm = Vm::boot(&config(
        test,
        dist,
        &["root=/dev/vdz", "boot.root_timeout=2", "boot.panic_on_fail"],
    ))?;
    vm.wait_for_console("Kernel panic - not syncing: Attempted to kill init", BOOT)?;
    let status = vm.wait_exit(Duration::from_mins(1))?;
    let console = vm.console();
    let error = console
        .lines()
        .find(|l| l.contains("/dev/vdz") && l.contains("failed"))
        .with_context(|| format!("no error line naming /dev/vdz:\n{console}"))?;
    ensure!(
        error.contains("not found"),
        "the error line does not say the device was not found: {error:?}"
    );
    ensure!(
        console.find(error) < console.find("Kernel panic"),
        "the error line comes after the panic:\n{console}"
    );
    ensure!(
        !console.contains("Press one of the following keys"),
        "the menu was offered despite boot.panic_on_fail:\n{console}"
    );
    eprintln!("{test}: QEMU exited with {status}");
    Ok(())
}

// ---------------------------------------------------------------------------
// (h) a missing optional module

/// `rd.modules_load=no_such_module`: a warning line names the module, and
/// the boot still reaches supervision without the failure menu.
#[test]
fn missing_optional_module_is_a_warning() -> Result<()> {
    let test = "missing_optional_module_is_a_warning";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let vm = Vm::boot(&config(test, dist, &["rd.modules_load=no_such_module"]))?;
    vm.wait_for_console("no_such_module", BOOT)?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    let console = vm.console();
    let warnings: Vec<&str> = console
        .lines()
        .filter(|l| l.contains("no_such_module"))
        .collect();
    ensure!(
        warnings.len() == 1 && warnings[0].contains("warning"),
        "want one warning line naming no_such_module, got {warnings:?}"
    );
    ensure!(
        !console.contains("Press one of the following keys"),
        "the failure menu was offered for an optional module:\n{console}"
    );
    no_panic(&console)
}

// ---------------------------------------------------------------------------
// (i) a foreign $toplevel/init

/// The toplevel carries an `init` (a busybox sh script): stage-1 execs it as
/// PID 1 after switch_root; it prints its marker, then execs the store's
/// init binary, which sees that `/` is no longer the initramfs and runs
/// stage-2 up to supervision.
#[test]
fn foreign_toplevel_init_is_execed_and_hands_back_to_stage2() -> Result<()> {
    let test = "foreign_toplevel_init_is_execed_and_hands_back_to_stage2";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let variant = build_variant(test, &dist, "foreign-init")?;
    let mut vm = Vm::boot(&config(test, variant, &[]))?;
    vm.wait_for_console("foreign stage-2 running as pid", BOOT)?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    // Read the marker line only now: it may have arrived in pieces.
    let console = vm.console();
    let marker = console
        .lines()
        .find(|l| l.contains("foreign stage-2 running as pid"))
        .context("the marker line vanished")?;
    ensure!(
        marker.trim_end() == "foreign stage-2 running as pid 1",
        "the foreign init is not PID 1: {marker:?}"
    );
    ensure!(
        console.find("foreign stage-2 running") < console.find(HELLO_LOGGED),
        "supervision started before the foreign init ran:\n{console}"
    );
    // PID 1 is now the store's init binary, and stage-2 recorded its marks.
    let exe = guest(&mut vm, "readlink /proc/1/exe")?;
    ensure!(exe.ends_with("-init/bin/init"), "PID 1 runs {exe:?}");
    let times = guest(&mut vm, "cat /run/init/boot-times")?;
    ensure!(
        times.contains("stage2 ") && times.contains("supervise "),
        "no stage-2 marks in boot-times:\n{times}"
    );
    no_panic(&console)
}
