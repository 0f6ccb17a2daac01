//! The store shared from the host (issue 19), as `nixos-rebuild build-vm`
//! does: runvm's `RUNVM_STORE=9p|virtiofs` shares a directory (here
//! dist's store image unpacked into the test's directory) as tag
//! `nix-store`, stage-1 mounts it read-only at `/nix/.ro-store` under the
//! tmpfs + overlay; `NIX_DISK_IMAGE` is a persistent root disk and
//! `SHARED_DIR` a host directory at `/tmp/xchg`. Console logs and host
//! directories live in `$CARGO_TARGET_TMPDIR/vm_stage1/<test>/`.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context, Result};
use tests::vm::{Vm, VmConfig};

mod common;
use common::stage1::*;

/// Debian 12's C virtiofsd (qemu-system-common, which `make deps` installs
/// with qemu-system-x86).
const VIRTIOFSD: &str = "/usr/lib/qemu/virtiofsd";

/// dist's store image unpacked into `<test dir>/store`: the host's store.
fn host_store(test: &str, dist: &Path) -> Result<PathBuf> {
    let dir = test_dir(test).join("store");
    if dir.exists() {
        Command::new("chmod")
            .arg("-R")
            .arg("u+w")
            .arg(&dir)
            .status()?;
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(test_dir(test))?;
    let out = Command::new("unsquashfs")
        .arg("-no-progress")
        .arg("-d")
        .arg(&dir)
        .arg(dist.join("root.squashfs"))
        .output()
        .context("running unsquashfs (squashfs-tools)")?;
    ensure!(
        out.status.success(),
        "unsquashfs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(dir)
}

/// A boot with the store shared over `transport` from `store`, the root
/// disk `<test dir>/disk.qcow2` (runvm creates it on first use) and
/// `params` on the command line.
fn shared_config(
    test: &str,
    dist: PathBuf,
    transport: &str,
    store: &Path,
    params: &[&str],
) -> VmConfig {
    let mut c = config(test, dist, params);
    let disk = test_dir(test).join("disk.qcow2");
    c.env = vec![
        ("RUNVM_STORE".into(), transport.into()),
        ("RUNVM_STORE_DIR".into(), store.display().to_string()),
        ("NIX_DISK_IMAGE".into(), disk.display().to_string()),
    ];
    c
}

/// Whether this host can run Debian 12's virtiofsd (present, and root).
fn virtiofs_ok(test: &str) -> bool {
    let root = rustix::process::geteuid().is_root();
    let present = Path::new(VIRTIOFSD).exists();
    let why = if present {
        "Debian 12's virtiofsd needs root"
    } else {
        "no /usr/lib/qemu/virtiofsd (make deps: qemu-system-x86 brings qemu-system-common)"
    };
    tests::require(test, why, present && root)
}

/// The demo reaches its first service with the store from the share;
/// /nix/.ro-store is `fstype`, /nix/store the overlay over it, / the
/// NIX_DISK_IMAGE disk; a file written to /nix/store in the guest is
/// there in the guest and never in the host's directory.
fn boots_from_share(test: &str, transport: &str, fstype: &str) -> Result<()> {
    let Some(dist) = check(test) else {
        return Ok(());
    };
    if transport == "virtiofs" && !virtiofs_ok(test) {
        return Ok(());
    }
    let _slot = Slot::take();
    let store = host_store(test, &dist)?;
    let _ = fs::remove_file(test_dir(test).join("disk.qcow2"));
    let mut vm = Vm::boot(&shared_config(test, dist, transport, &store, &[]))?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    let m = mounts(&mut vm)?;
    let ro = mount_at(&m, "/nix/.ro-store").context("nothing on /nix/.ro-store")?;
    ensure!(
        ro.0 == "nix-store" && ro.2 == fstype,
        "/nix/.ro-store is {ro:?}, not {fstype} nix-store"
    );
    let ov = mount_at(&m, "/nix/store").context("nothing on /nix/store")?;
    ensure!(ov.2 == "overlay", "/nix/store is {ov:?}");
    let root = mount_at(&m, "/").context("nothing on /")?;
    ensure!(
        root.2 == "ext4",
        "/ is {root:?}, not the NIX_DISK_IMAGE disk"
    );
    guest(
        &mut vm,
        "echo from-the-guest >/nix/store/guest-file && cat /nix/store/guest-file",
    )?;
    // Inside a store path too, which exists on the host.
    let bin = guest(&mut vm, "ls -d /nix/store/*-busybox")?;
    guest(&mut vm, &format!("touch {bin}/guest-file && sync"))?;
    let in_path = store
        .join(bin.trim_start_matches("/nix/store/"))
        .join("guest-file");
    for host in [store.join("guest-file"), in_path] {
        ensure!(
            !host.exists(),
            "the guest wrote into the host's store: {}",
            host.display()
        );
    }
    no_panic(&vm.console())
}

#[test]
fn store_over_9p_reaches_the_first_service_and_stays_unwritten_on_the_host() -> Result<()> {
    boots_from_share(
        "store_over_9p_reaches_the_first_service_and_stays_unwritten_on_the_host",
        "9p",
        "9p",
    )
}

#[test]
fn store_over_virtiofs_reaches_the_first_service_and_stays_unwritten_on_the_host() -> Result<()> {
    boots_from_share(
        "store_over_virtiofs_reaches_the_first_service_and_stays_unwritten_on_the_host",
        "virtiofs",
        "virtiofs",
    )
}

/// A tag the host does not give: one line naming it and the tags there
/// are (virtio-fs's too, read from its PCI config: Linux 6.1 does not
/// list them), then the failure menu; and with no share at all (the
/// squashfs boot asked for a virtiofs store), the same line saying so.
#[test]
fn a_missing_tag_names_the_tags_the_machine_has_then_the_menu() -> Result<()> {
    let test = "a_missing_tag_names_the_tags_the_machine_has_then_the_menu";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let store = host_store(test, &dist)?;
    let params = ["root=9p:nix-stor", "boot.root_timeout=2"];
    let c = shared_config(test, dist.clone(), "9p", &store, &params);
    menu_line_says(
        &c,
        "share nix-stor (9p) not found after 2 s; 9p tags: nix-store; virtiofs tags: none. Check root=/boot.xchg=",
    )?;
    if virtiofs_ok(test) {
        let params = ["root=virtiofs:nix-stor", "boot.root_timeout=2"];
        let c = shared_config(test, dist.clone(), "virtiofs", &store, &params);
        menu_line_says(
            &c,
            "share nix-stor (virtiofs) not found after 2 s; 9p tags: none; virtiofs tags: nix-store. ",
        )?;
    }
    let params = ["root=virtiofs:nix-store", "boot.root_timeout=2"];
    menu_line_says(
        &config(test, dist, &params),
        "share nix-store (virtiofs) not found after 2 s; 9p tags: none; virtiofs tags: none. ",
    )
}

/// Boot `c`: the line before the failure menu that starts with `want`'s
/// first two words holds `want`, and nothing panicked.
fn menu_line_says(c: &VmConfig, want: &str) -> Result<()> {
    let vm = Vm::boot(c)?;
    let start: String = want.split_inclusive(' ').take(2).collect();
    let line = line_before(&vm, &start, MENU)?;
    ensure!(line.contains(want), "the message is {line:?}, not {want:?}");
    no_panic(&vm.console())
}

/// SHARED_DIR on a tmpfs root (the squashfs store): a host file shows at
/// /tmp/xchg, and a file the guest writes there shows on the host.
#[test]
fn shared_dir_is_at_tmp_xchg_both_ways() -> Result<()> {
    let test = "shared_dir_is_at_tmp_xchg_both_ways";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let xchg = test_dir(test).join("xchg");
    let _ = fs::remove_dir_all(&xchg);
    fs::create_dir_all(&xchg)?;
    fs::write(xchg.join("from-host"), "hello from the host\n")?;
    let mut c = config(test, dist, &[]);
    c.env = vec![("SHARED_DIR".into(), xchg.display().to_string())];
    let mut vm = Vm::boot(&c)?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    let got = guest(&mut vm, "cat /tmp/xchg/from-host")?;
    ensure!(
        got == "hello from the host",
        "/tmp/xchg/from-host holds {got:?}"
    );
    guest(
        &mut vm,
        "echo hello from the guest >/tmp/xchg/from-guest && sync",
    )?;
    let back = fs::read_to_string(xchg.join("from-guest")).context("reading from-guest")?;
    ensure!(
        back == "hello from the guest\n",
        "from-guest holds {back:?}"
    );
    no_panic(&vm.console())
}

/// NIX_DISK_IMAGE: runvm creates the qcow2 on the first boot, the guest's
/// / is on it, and a file written in one boot is there in the next (with
/// SHARED_DIR too: on a disk root, /tmp/xchg sits on a tmpfs /tmp that
/// stage-2 keeps).
#[test]
fn nix_disk_image_persists_a_file_across_boots() -> Result<()> {
    let test = "nix_disk_image_persists_a_file_across_boots";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let store = host_store(test, &dist)?;
    let disk = test_dir(test).join("disk.qcow2");
    let _ = fs::remove_file(&disk);
    let xchg = test_dir(test).join("xchg");
    fs::create_dir_all(&xchg)?;
    fs::write(xchg.join("from-host"), "x\n")?;
    let mut c = shared_config(test, dist, "9p", &store, &[]);
    c.env
        .push(("SHARED_DIR".into(), xchg.display().to_string()));
    {
        let mut vm = Vm::boot(&c)?;
        vm.wait_for_console(HELLO_LOGGED, BOOT)?;
        guest(&mut vm, "echo kept >/root/persisted && sync")?;
        guest(&mut vm, "test -f /tmp/xchg/from-host")?;
    }
    let kind = Command::new("qemu-img")
        .args(["info", "-U"])
        .arg(&disk)
        .output()
        .context("running qemu-img")?;
    ensure!(
        String::from_utf8_lossy(&kind.stdout).contains("file format: qcow2"),
        "{} is not a qcow2: {}",
        disk.display(),
        String::from_utf8_lossy(&kind.stdout)
    );
    let mut vm = Vm::boot(&c)?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    let got = guest(&mut vm, "cat /root/persisted")?;
    ensure!(
        got == "kept",
        "/root/persisted holds {got:?} in the second boot"
    );
    guest(&mut vm, "test -f /tmp/xchg/from-host")?;
    no_panic(&vm.console())
}

/// runvm refuses a NIX_DISK_IMAGE that is no image, or is read-only,
/// naming the path, before QEMU starts.
#[test]
fn runvm_refuses_a_bad_nix_disk_image() -> Result<()> {
    let test = "runvm_refuses_a_bad_nix_disk_image";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let dir = test_dir(test);
    fs::create_dir_all(&dir)?;
    let text = dir.join("notes.txt");
    fs::write(&text, "not a disk\n".repeat(200))?;
    let ro = dir.join("ro.qcow2");
    let _ = fs::remove_file(&ro);
    let made = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&ro)
        .arg("16M")
        .status()
        .context("running qemu-img (make deps: qemu-utils)")?;
    ensure!(made.success(), "qemu-img create failed");
    fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o444))?;
    for (img, want) in [(&text, "not a disk image"), (&ro, "not a writable file")] {
        let out = Command::new(dist.join("runvm"))
            .env("QEMU_ACCEL", "tcg")
            .env("NIX_DISK_IMAGE", img)
            .output()?;
        let err = String::from_utf8_lossy(&out.stderr);
        ensure!(
            !out.status.success()
                && err.contains(&format!("runvm: NIX_DISK_IMAGE={}: {want}", img.display())),
            "runvm with NIX_DISK_IMAGE={}: {:?}, stderr {err}",
            img.display(),
            out.status
        );
    }
    Ok(())
}

/// 9p's msize, measured (`make bench`, bench/results/bench_9p_msize.md):
/// reading a 96 MiB file of the shared store in the guest, from a fresh
/// mount each time (nothing cached), with NixOS's msize (16384), the
/// kernel's default and stage-1's (128 KiB) and the virtio transport's
/// largest (512000), interleaved; medians of 5.
#[test]
#[ignore = "a benchmark: make bench"]
fn bench_9p_msize() -> Result<()> {
    let test = "bench_9p_msize";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let store = host_store(test, &dist)?;
    let pad = store.join("00000000000000000000000000000000-bench-pad");
    fs::create_dir_all(&pad)?;
    let random = Command::new("head")
        .args(["-c", "100663296", "/dev/urandom"])
        .output()?;
    fs::write(pad.join("data"), random.stdout)?;
    // A share of its own: a 9p tag is mounted once at a time.
    let mut c = shared_config(test, dist, "9p", &store, &[]);
    c.qemu_args = vec![
        "-virtfs".into(),
        format!(
            "local,path={},mount_tag=bench,security_model=none,readonly=on",
            pad.display()
        ),
    ];
    let mut vm = Vm::boot(&c)?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    let sizes = [16_384u32, 131_072, 512_000];
    let mut secs: [Vec<f64>; 3] = Default::default();
    for _ in 0..5 {
        for (i, msize) in sizes.iter().enumerate() {
            let cmd = format!(
                "mkdir -p /tmp/m && mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize={msize} \
                 bench /tmp/m && a=$(cut -d' ' -f1 /proc/uptime) && \
                 cat /tmp/m/data >/dev/null && b=$(cut -d' ' -f1 /proc/uptime) && \
                 umount /tmp/m && echo \"$a $b\""
            );
            let out = guest(&mut vm, &cmd)?;
            let t: Vec<f64> = out
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .with_context(|| format!("bad times {out:?}"))?;
            ensure!(t.len() == 2, "bad times {out:?}");
            secs[i].push(t[1] - t[0]);
        }
    }
    println!(
        "BENCH reading a 96 MiB file over 9p from a fresh mount, medians of 5 interleaved reads"
    );
    println!("| msize | seconds | MiB/s |");
    println!("|---|---|---|");
    for (msize, mut s) in sizes.into_iter().zip(secs) {
        s.sort_by(f64::total_cmp);
        let m = s[s.len() / 2];
        println!("| {msize} | {m:.2} | {:.1} |", 96.0 / m.max(0.01));
    }
    Ok(())
}

/// A shared directory that holds no system: the failure names the share
/// (root=9p:nix-store) and what the store holds, then the menu.
#[test]
fn a_share_without_the_system_names_it_and_what_it_holds() -> Result<()> {
    let test = "a_share_without_the_system_names_it_and_what_it_holds";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let store = test_dir(test).join("not-a-store");
    let _ = fs::remove_dir_all(&store);
    fs::create_dir_all(&store)?;
    fs::write(store.join("README"), "no store paths here\n")?;
    let vm = Vm::boot(&shared_config(test, dist, "9p", &store, &[]))?;
    let line = line_before(&vm, "is not in the store", MENU)?;
    ensure!(
        line.contains(
            "/nix/store has 1 entries: README. Check toplevel= and the store (root=9p:nix-store)"
        ),
        "the message is {line:?}"
    );
    no_panic(&vm.console())
}

/// virtiofsd killed under a running guest (the share is gone): the power
/// button still ends in a power-off within the shutdown's bounds. Every
/// lookup of a store path then waits for a FUSE answer that never comes
/// (Linux 6.1 has no FUSE request timeout); PID 1 asks the share from a
/// child, names it on the console, skips stage 3 and the services'
/// `finish` (they live in the store), detaches the share and its overlay
/// lazily and bounds the last sync.
#[test]
fn a_store_share_that_disappears_still_powers_off() -> Result<()> {
    let test = "a_store_share_that_disappears_still_powers_off";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    if !virtiofs_ok(test) {
        return Ok(());
    }
    let _slot = Slot::take();
    let store = host_store(test, &dist)?;
    // runvm's TMPDIR, to find virtiofsd's pid; short, for its socket's
    // path (at most 107 bytes).
    let tmp = std::env::temp_dir().join(format!("vm-shared-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp)?;
    let mut c = shared_config(test, dist, "virtiofs", &store, &[]);
    c.env.push(("TMPDIR".into(), tmp.display().to_string()));
    let mut vm = Vm::boot(&c)?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    // The power button's driver comes from the store too (stage-2's
    // coldplug): a press before PID 1 watches it would go unseen.
    guest(
        &mut vm,
        "for i in $(seq 60); do ls -l /proc/1/fd | grep -q /dev/input/event && exit 0; sleep 1; done; exit 1",
    )
    .context("PID 1 watches no power button")?;
    let pidfile = fs::read_dir(&tmp)?
        .flatten()
        .map(|e| e.path().join("virtiofsd.pid"))
        .find(|p| p.exists())
        .context("no virtiofsd.pid under runvm's TMPDIR")?;
    let pid = fs::read_to_string(&pidfile)?;
    let killed = Command::new("pkill")
        .args(["-KILL", "-P", pid.trim()])
        .status()?;
    Command::new("kill").args(["-KILL", pid.trim()]).status()?;
    eprintln!("{test}: virtiofsd {} killed ({killed})", pid.trim());
    // Anything that looks up a store path now waits for an answer that
    // never comes (the backdoor's shell too, which execs from the store):
    // the power button asks PID 1, which runs from memory.
    vm.monitor("system_powerdown")?;
    vm.wait_for_console(common::demo::POWER_DOWN, common::demo::SHUTDOWN)?;
    let _ = fs::remove_dir_all(&tmp);
    let console = vm.console();
    ensure!(
        console.contains("the share nix-store (virtiofs) on /nix/.ro-store gave no answer in 5s"),
        "the console does not name the gone share:\n{console}"
    );
    no_panic(&console)
}
