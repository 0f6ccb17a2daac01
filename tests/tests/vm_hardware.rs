//! Zero-config hardware (issue 8): initrds with no module list boot
//! because stage-1 loads the drivers of the devices the machine has
//! (modalias coldplug, then uevents), and finds the store by
//! `PARTUUID=`/`PARTLABEL=` from the partition tables, on virtio, NVMe and
//! AHCI disks. Every initrd and disk here is assembled by
//! `scripts/variants/stage1-variant.sh`; each boot is asserted on the
//! console and on state read back from the guest.
use std::path::Path;

use anyhow::{ensure, Context, Result};
use tests::vm::Vm;

mod common;
use common::stage1::*;

/// The modules the test VM's devices need, each of which the initrd has
/// and no list names: virtio_pci for the PCI functions, then the virtio
/// bus's drivers for the disk, the NIC, the RNG and the backdoor console.
const COLDPLUGGED: [&str; 5] = [
    "virtio_pci",
    "virtio_blk",
    "virtio_net",
    "virtio_rng",
    "virtio_console",
];

/// Boot `variant` with `params`, reach the supervised service, and return
/// the VM for more checks.
fn boot_to_service(test: &str, variant: &Path, params: &[&str], qemu: &[String]) -> Result<Vm> {
    let mut cfg = config(test, variant.to_owned(), params);
    cfg.qemu_args.extend(qemu.iter().cloned());
    let vm = Vm::boot(&cfg)?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    no_panic(&vm.console())?;
    Ok(vm)
}

/// The device mounted on /nix/.ro-store.
fn store_device(vm: &mut Vm) -> Result<String> {
    let m = mounts(vm)?;
    check_store_overlay(&m)?;
    Ok(mount_at(&m, "/nix/.ro-store")
        .context("no /nix/.ro-store")?
        .0
        .clone())
}

/// A bare initrd (`/init`, the module files and depmod's output, no `etc/`)
/// boots from `root=/dev/vda` to the supervised service: every module the
/// devices need was loaded without being listed, `boot.trace` shows the
/// device → module decisions, and the devices that appeared after
/// virtio_pci loaded got their drivers from uevents.
#[test]
fn bare_initrd_loads_drivers_from_modaliases() -> Result<()> {
    let test = "bare_initrd_loads_drivers_from_modaliases";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let variant = build_variant(test, &dist, "bare")?;
    let listing = std::process::Command::new("cpio")
        .args(["-t", "--quiet", "-F"])
        .arg(variant.join("initrd"))
        .output()
        .context("running cpio -t")?;
    let listing = String::from_utf8_lossy(&listing.stdout);
    ensure!(
        listing.lines().all(|l| l == "init"
            || l == "dev"
            || l == "dev/console"
            || l == "lib"
            || l.starts_with("lib/modules")),
        "the bare initrd holds more than init, dev/console and lib/modules:\n{listing}"
    );
    let mut vm = boot_to_service(test, &variant, &["root=/dev/vda", "boot.trace"], &[])?;
    for m in COLDPLUGGED {
        let state = guest(&mut vm, &format!("cat /sys/module/{m}/initstate"))?;
        ensure!(state == "live", "module {m} is {state:?}, not live");
    }
    let console = vm.console();
    ensure!(
        console.contains("coldplug: /devices/pci0000:00/") && console.contains("virtio_pci"),
        "boot.trace shows no PCI device -> virtio_pci decision:\n{console}"
    );
    // virtio_blk's device exists only once virtio_pci is loaded: it came
    // by uevent, in a second round.
    ensure!(
        console
            .lines()
            .any(|l| l.contains("coldplug: /devices/pci0000:00/")
                && l.contains("(virtio:d00000002v")
                && l.contains("): virtio_blk")),
        "no uevent decision for the virtio disk:\n{console}"
    );
    ensure!(
        console.contains("new devices:"),
        "no hotplug round was logged:\n{console}"
    );
    ensure!(
        store_device(&mut vm)? == "/dev/vda",
        "store not on /dev/vda"
    );
    Ok(())
}

/// The store on partition 2 of a GPT disk, found by `root=PARTUUID=` and
/// by `root=PARTLABEL=` from the table itself (Debian's 6.1 kernel puts no
/// PARTUUID in uevents); then an MBR disk by `PARTUUID=<disk id>-02`.
#[test]
fn store_found_by_partuuid_and_partlabel() -> Result<()> {
    let test = "store_found_by_partuuid_and_partlabel";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let gpt = build_variant(&format!("{test}-gpt"), &dist, "gpt")?;
    let uuid = std::fs::read_to_string(gpt.join("partuuid"))?;
    // Upper case on the command line: the match is case-insensitive.
    let by_uuid = format!("root=PARTUUID={}", uuid.trim().to_uppercase());
    for (name, param) in [
        ("uuid", by_uuid.as_str()),
        ("label", "root=PARTLABEL=nixstore"),
    ] {
        let mut vm = boot_to_service(&format!("{test}-gpt-{name}"), &gpt, &[param], &[])?;
        let dev = store_device(&mut vm)?;
        ensure!(
            dev == "/dev/vda2",
            "{param}: the store is {dev}, not /dev/vda2"
        );
        let root = guest(&mut vm, "readlink /dev/root")?;
        ensure!(root == "/dev/vda2", "{param}: /dev/root -> {root}");
    }
    let mbr = build_variant(&format!("{test}-mbr"), &dist, "mbr")?;
    let uuid = std::fs::read_to_string(mbr.join("partuuid"))?;
    let param = format!("root=PARTUUID={}", uuid.trim());
    let mut vm = boot_to_service(&format!("{test}-mbr"), &mbr, &[&param], &[])?;
    let dev = store_device(&mut vm)?;
    ensure!(
        dev == "/dev/vda2",
        "{param}: the store is {dev}, not /dev/vda2"
    );
    Ok(())
}

/// A `PARTLABEL=` no partition has: the wait ends at `boot.root_timeout=`
/// with the one error line naming it and the devices seen, then the menu.
#[test]
fn unknown_partlabel_names_what_was_seen() -> Result<()> {
    let test = "unknown_partlabel_names_what_was_seen";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let gpt = build_variant(test, &dist, "gpt")?;
    let vm = Vm::boot(&config(
        test,
        gpt,
        &["root=PARTLABEL=no-such-label", "boot.root_timeout=3"],
    ))?;
    let line = line_before(&vm, "device PARTLABEL=no-such-label not found", MENU)?;
    ensure!(
        line.contains("after 3 s") && line.contains("/dev/vda2"),
        "the error does not name the wait and the devices seen: {line}"
    );
    no_panic(&vm.console())
}

/// The store on an NVMe disk (`-device nvme`): the initrd has nvme among
/// its modules but no list; the controller's modalias loads it.
#[test]
fn nvme_disk_found_without_config() -> Result<()> {
    controller_disk(
        "nvme_disk_found_without_config",
        "nvme",
        "/dev/nvme0n1",
        &["-device", "nvme,drive=store0,serial=store0"],
    )
}

/// The store on a SATA disk behind AHCI (`-device ahci`): ahci loads for the
/// controller, then the disk's SCSI device (`scsi:t-0x00`, found by the
/// controller's asynchronous scan) loads sd_mod, and `/dev/sda` appears.
#[test]
fn ahci_disk_found_without_config() -> Result<()> {
    controller_disk(
        "ahci_disk_found_without_config",
        "ahci",
        "/dev/sda",
        &[
            "-device",
            "ahci,id=ahci0",
            "-device",
            "ide-hd,drive=store0,bus=ahci0.0",
        ],
    )
}

fn controller_disk(test: &str, variant: &str, device: &str, devices: &[&str]) -> Result<()> {
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let dir = build_variant(test, &dist, variant)?;
    let mut qemu = vec![
        "-drive".to_owned(),
        format!(
            "file={},if=none,id=store0,format=raw",
            dir.join("store.img").display()
        ),
    ];
    qemu.extend(devices.iter().map(|s| (*s).to_owned()));
    let root = format!("root={device}");
    let mut vm = boot_to_service(test, &dir, &[&root], &qemu)?;
    let dev = store_device(&mut vm)?;
    ensure!(dev == device, "the store is {dev}, not {device}");
    Ok(())
}
