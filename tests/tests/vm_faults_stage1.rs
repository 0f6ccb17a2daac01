//! The stage-1 part of the fault matrix (issue 11): a store image that is
//! truncated, random bytes or corrupt inside; a store disk that appears
//! late or never; a root tmpfs too small for what a service writes; a
//! panic inside PID 1 in either stage. Each test asserts the one console
//! line that says what happened and the outcome: the failure menu, a
//! warning and going on, or a clean power-off or reboot. Never a kernel
//! panic, never `init panicked` where no panic was asked for.
//!
//! Variants of `dist/` are built by `scripts/variants/fault-variant.sh`
//! into `$CARGO_TARGET_TMPDIR/vm_stage1/<test>/`, next to the console log,
//! with an initrd made from the binary under test (`tests::bin::init_bin`).
//! Matrix entries covered elsewhere: a `PARTLABEL=` that never appears
//! (`vm_hardware::unknown_partlabel_names_what_was_seen`) and a missing
//! device under `boot.panic_on_fail`
//! (`vm_stage1::panic_on_fail_with_missing_store_device_panics_the_kernel`).
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use tests::bin::init_bin;
use tests::vm::Vm;

mod common;
use common::stage1::*;

/// From a shutdown request to QEMU's exit (services get 7 s, then TCG).
const SHUTDOWN: Duration = Duration::from_secs(90);
const POWER_DOWN: &str = "reboot: Power down";
const RESTARTING: &str = "reboot: Restarting system";

/// Build `variant` of `dist` (see `fault-variant.sh`) into the test's
/// directory; returns it.
fn fault_variant(test: &str, dist: &Path, variant: &str) -> Result<PathBuf> {
    let out = test_dir(test).join("dist");
    let init = init_bin();
    let args = [std::ffi::OsStr::new(variant), out.as_os_str()];
    common::variant::run(
        "fault-variant.sh",
        &args,
        dist,
        &[("INIT_BIN", init.as_os_str())],
    )?;
    Ok(out)
}

/// Neither the kernel nor PID 1 panicked.
fn no_panics(console: &str) -> Result<()> {
    no_panic(console)?;
    ensure!(
        !console.contains("init panicked"),
        "PID 1 panicked:\n{console}"
    );
    Ok(())
}

/// The console lines holding `pattern`, whole.
fn lines_with<'a>(console: &'a str, pattern: &str) -> Vec<&'a str> {
    console
        .lines()
        .filter(|l| l.contains(pattern))
        .map(|l| l.trim_end_matches('\r'))
        .collect()
}

/// Boot `variant` with `params` to the failure menu; return the one error
/// line holding `pattern` (it must be the only `failed:` line), checking
/// that the boot did not go on past stage-1. `None`: VMs cannot run here.
fn menu_after_one_error(
    test: &str,
    variant: &str,
    params: &[&str],
    pattern: &str,
) -> Result<Option<String>> {
    let Some(dist) = check(test) else {
        return Ok(None);
    };
    let _slot = Slot::take();
    let dir = fault_variant(test, &dist, variant)?;
    let vm = Vm::boot(&config(test, dir, params))?;
    let line = line_before(&vm, pattern, MENU)?;
    let console = vm.console();
    let errors = lines_with(&console, "failed:");
    ensure!(
        errors == [line.as_str()],
        "want the one error line {line:?}, got {errors:?}:\n{console}"
    );
    ensure!(
        !console.contains("Switching root filesystem"),
        "the boot went on past the failure:\n{console}"
    );
    no_panics(&console)?;
    Ok(Some(line))
}

// ---------------------------------------------------------------------------
// The store image is damaged

/// The store image cut to its first half: the error names the device and
/// says it is truncated, with the superblock's size and the device's, then
/// the menu (instead of the kernel's bare EINVAL).
#[test]
fn truncated_store_image_names_both_sizes_then_menu() -> Result<()> {
    let test = "truncated_store_image_names_both_sizes_then_menu";
    let Some(line) = menu_after_one_error(test, "truncated", &[], "is truncated")? else {
        return Ok(());
    };
    ensure!(
        line.contains("mounting filesystems failed: the store image /dev/vda is truncated: its superblock says ")
            && line.contains(" bytes, the device has "),
        "the error does not name the device and both sizes: {line}"
    );
    Ok(())
}

/// A store "image" of random bytes: the error names the device and says it
/// is no squashfs image, then the menu.
#[test]
fn random_bytes_store_is_no_squashfs_image_then_menu() -> Result<()> {
    let test = "random_bytes_store_is_no_squashfs_image_then_menu";
    let Some(line) = menu_after_one_error(test, "garbage", &[], "is not a squashfs image")? else {
        return Ok(());
    };
    ensure!(
        line.contains("mounting filesystems failed: /dev/vda is not a squashfs image"),
        "the error does not name the device: {line}"
    );
    Ok(())
}

/// A store whose directory table is garbage: the kernel mounts it (the
/// superblock and the inode table are fine), then looking up the toplevel
/// fails with EIO; the error says so and points at the image (rather than
/// "not in the store, which has 0 entries": squashfs's readdir hides the
/// error), then the menu.
#[test]
fn corrupt_directory_table_names_the_read_error_then_menu() -> Result<()> {
    let test = "corrupt_directory_table_names_the_read_error_then_menu";
    let Some(line) = menu_after_one_error(test, "baddirs", &[], "cannot be looked up")? else {
        return Ok(());
    };
    ensure!(
        line.contains("finding the system (toplevel=) failed: toplevel /nix/store/")
            && line.contains("cannot be looked up in /mnt-root: ")
            && line.contains("(os error 5)")
            && line.contains("the store image may be corrupt"),
        "the error does not name the read error and the image: {line}"
    );
    Ok(())
}

/// A store whose files' contents are all garbage (superblock and tables
/// intact): stage-1 mounts it and finds the toplevel, stage-2 says each
/// step it cannot do (`/etc/runit/1` cannot be run: an I/O error) and goes
/// on to supervision; PID 1 stays in charge: ctrl-alt-del reboots cleanly.
#[test]
fn corrupt_file_data_is_reported_and_pid1_still_reboots() -> Result<()> {
    let test = "corrupt_file_data_is_reported_and_pid1_still_reboots";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let dir = fault_variant(test, &dist, "baddata")?;
    let mut vm = Vm::boot(&config(test, dir, &[]))?;
    vm.wait_for_console("stage-2: supervising /etc/service", BOOT)?;
    let console = vm.console();
    let runit1 = lines_with(&console, "cannot run /etc/runit/1");
    ensure!(
        runit1.len() == 1 && runit1[0].contains("I/O error"),
        "want one line saying /etc/runit/1 cannot run (I/O error), got {runit1:?}:\n{console}"
    );
    ensure!(
        console.contains("SQUASHFS error"),
        "the kernel reported no squashfs read error:\n{console}"
    );
    ensure!(
        !console.contains(MENU),
        "stage-1 stopped at the menu:\n{console}"
    );
    let before = vm.console().len();
    vm.monitor("sendkey ctrl-alt-delete")?;
    let status = vm.wait_exit(SHUTDOWN)?;
    let console = vm.console();
    ensure!(status.success(), "QEMU exited with {status}");
    ensure!(
        console[before..].contains(RESTARTING),
        "no kernel restart line after ctrl-alt-del:\n{console}"
    );
    no_panics(&console)
}

// ---------------------------------------------------------------------------
// The store device comes late, or never

/// No store disk at boot (`QEMU_NO_STORE`), `boot.root_timeout=30`: stage-1
/// says it waits for /dev/vda; 8 s later the disk is hot-added through the
/// monitor, its driver loads from the uevent, and the boot reaches the
/// supervised service with the store on /dev/vda.
#[test]
fn store_disk_added_late_is_waited_for() -> Result<()> {
    let test = "store_disk_added_late_is_waited_for";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let dir = fault_variant(test, &dist, "base")?;
    let mut cfg = config(test, dir.clone(), &["boot.root_timeout=30", "loglevel=6"]);
    cfg.no_store = true;
    let mut vm = Vm::boot(&cfg)?;
    vm.wait_for_console("Waiting for device /dev/vda to appear", BOOT)?;
    std::thread::sleep(Duration::from_secs(8));
    ensure!(
        !vm.console().contains("Switching root filesystem"),
        "stage-1 went on without the store disk:\n{}",
        vm.console()
    );
    let image = dir.join("root.squashfs");
    let out = vm.monitor(&format!(
        "drive_add 0 if=none,id=store,file={},format=raw,readonly=on",
        image.display()
    ))?;
    ensure!(out.trim() == "OK", "drive_add said {out:?}");
    let out = vm.monitor("device_add virtio-blk-pci,drive=store,id=storedev")?;
    ensure!(out.trim().is_empty(), "device_add said {out:?}");
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    let m = mounts(&mut vm)?;
    let ro = mount_at(&m, "/nix/.ro-store").context("no /nix/.ro-store")?;
    ensure!(ro.0 == "/dev/vda", "the store is {ro:?}, not /dev/vda");
    check_store_overlay(&m)?;
    let console = vm.console();
    ensure!(
        lines_with(&console, "failed:").is_empty() && !console.contains(MENU),
        "the late disk caused an error:\n{console}"
    );
    no_panics(&console)
}

/// `root=LABEL=` that no disk has, `boot.root_timeout=3`: the one error
/// line names the label, the time waited and the block devices seen, then
/// the menu.
#[test]
fn missing_label_names_the_wait_and_the_devices_seen_then_menu() -> Result<()> {
    let test = "missing_label_names_the_wait_and_the_devices_seen_then_menu";
    let Some(line) = menu_after_one_error(
        test,
        "base",
        &["root=LABEL=no-such-store", "boot.root_timeout=3"],
        "device LABEL=no-such-store not found",
    )?
    else {
        return Ok(());
    };
    ensure!(
        line.contains("mounting filesystems failed: device LABEL=no-such-store not found after 3 s; block devices seen: ")
            && line.contains("/dev/vda"),
        "the error does not name the wait and the devices seen: {line}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// The root tmpfs is too small

/// `boot.tmpfs_size=1M` (the root tmpfs; the store's overlay upper layer is
/// a tmpfs of its own) and a service that writes 10 MB to /var/tmp: the
/// service's log line shows ENOSPC, PID 1 goes on supervising (`sv status`
/// answers, the root is really full), and `poweroff` ends in the kernel's
/// power-down line with QEMU exiting 0.
#[test]
fn tiny_root_tmpfs_gives_the_service_enospc_and_powers_off_cleanly() -> Result<()> {
    let test = "tiny_root_tmpfs_gives_the_service_enospc_and_powers_off_cleanly";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let dir = fault_variant(test, &dist, "tinyroot")?;
    let mut vm = Vm::boot(&config(test, dir, &["boot.tmpfs_size=1M"]))?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    vm.wait_for_console("[fill-log] fill:", BOOT)?;
    let size = guest(&mut vm, "stat -f -c '%b %f %S' /")?;
    let fields: Vec<u64> = size
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad stat -f output {size:?}"))?;
    ensure!(
        fields.len() == 3 && fields[0] * fields[2] <= 1024 * 1024 && fields[1] == 0,
        "/ is not a full 1 MiB tmpfs (blocks, free, block size): {size}"
    );
    let written: u64 = guest(&mut vm, "stat -c %s /var/tmp/fill")?.parse()?;
    ensure!(
        written < 10 * 1024 * 1024,
        "fill wrote {written} bytes, all of it"
    );
    let console = vm.console();
    let fill = lines_with(&console, "[fill-log] fill:");
    ensure!(
        fill.len() == 1
            && fill[0].contains("writing 10 MB to /var/tmp/fill failed")
            && fill[0].contains("No space left on device"),
        "want one fill line saying ENOSPC, got {fill:?}"
    );
    let status = guest(&mut vm, "sv status /etc/service/fill /etc/service/hello")?;
    ensure!(
        status.lines().count() == 2 && status.lines().all(|l| l.starts_with("run: ")),
        "sv status on a full root: {status}"
    );
    let pid1 = guest(&mut vm, "cat /proc/1/comm")?;
    ensure!(pid1 == "init", "PID 1 is {pid1:?}");
    let before = vm.console().len();
    vm.run_ending_boot("poweroff")?;
    let exit = vm.wait_exit(SHUTDOWN)?;
    let console = vm.console();
    ensure!(exit.success(), "QEMU exited with {exit}");
    ensure!(
        console[before..].contains(POWER_DOWN),
        "no kernel power-down line after poweroff:\n{console}"
    );
    ensure!(
        !console.contains(MENU),
        "the failure menu was offered:\n{console}"
    );
    no_panics(&console)
}

// ---------------------------------------------------------------------------
// PID 1 panics

/// `boot.debug_panic=STAGE`: the console shows the one `init panicked` line
/// (where, and the message), then the menu heading for that stage; QEMU
/// keeps running (no kernel panic), and `r` typed on the serial console
/// reboots, so QEMU (-no-reboot) exits by itself.
/// `reached` is on the console before the panic, `not_reached` nowhere.
fn panic_reaches_the_menu(
    test: &str,
    stage: u8,
    reached: Option<&str>,
    not_reached: &str,
) -> Result<()> {
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let dir = fault_variant(test, &dist, "base")?;
    let param = format!("boot.debug_panic=stage{stage}");
    let mut vm = Vm::boot(&config(test, dir, &[&param]))?;
    vm.wait_for_console("r) to reboot immediately", BOOT)?;
    let console = vm.console();
    let panics = lines_with(&console, "init panicked");
    ensure!(
        panics.len() == 1 && panics[0].contains(&format!("{param}: panicking on purpose")),
        "want one `init panicked` line naming {param}, got {panics:?}:\n{console}"
    );
    let heading =
        format!("An error occurred in stage {stage} of the boot process (PID 1 panicked).");
    ensure!(
        console.contains(&heading) && console.find("init panicked") < console.find(MENU),
        "want the panic line, then {heading:?} and the menu:\n{console}"
    );
    if let Some(r) = reached {
        ensure!(
            console.find(r) < console.find("init panicked"),
            "the boot did not get to {r:?} before the panic:\n{console}"
        );
    }
    ensure!(
        !console.contains(not_reached),
        "the boot went on to {not_reached:?}:\n{console}"
    );
    no_panic(&console)?;
    let before = console.len();
    vm.send_console("r\n")?;
    let status = vm.wait_exit(Duration::from_mins(1))?;
    let console = vm.console();
    ensure!(status.success(), "QEMU exited with {status}");
    ensure!(
        console[before..].contains(RESTARTING),
        "no kernel restart line after `r`:\n{console}"
    );
    no_panic(&console)
}

/// A panic at the start of stage-1 (`boot.debug_panic=stage1`) ends in the
/// stage-1 menu, not a kernel panic; `r` reboots.
#[test]
fn panic_in_stage1_reaches_the_menu_and_reboots_on_r() -> Result<()> {
    panic_reaches_the_menu(
        "panic_in_stage1_reaches_the_menu_and_reboots_on_r",
        1,
        None,
        "stage-1: init",
    )
}

/// A panic at the start of stage-2 (`boot.debug_panic=stage2`, after
/// switch_root) ends in the menu, which says stage 2, not a kernel panic;
/// `r` reboots.
#[test]
fn panic_in_stage2_reaches_the_menu_and_reboots_on_r() -> Result<()> {
    panic_reaches_the_menu(
        "panic_in_stage2_reaches_the_menu_and_reboots_on_r",
        2,
        Some("Switching root filesystem"),
        "stage-2: setting up the system",
    )
}
