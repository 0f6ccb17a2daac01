//! VM tests of devices after stage-1 (issue 17): the ACPI power button
//! (QEMU's `system_powerdown`, what runit-vm, `virsh shutdown` and cloud
//! "stop" buttons send) runs the orderly power-off; its setting; a NIC
//! hot-added after stage-2 gets its driver from the toplevel's
//! `kernel-modules`; and runit-vm's way end to end: a VM service
//! supervised by `init runsvdir` as an unprivileged user, stopped with
//! `sv down` and started with `sv up`.
//!
//! The demo's toplevel carries `kernel-modules` (scripts/mkstore.sh with
//! STORE_MODDIR: button, evdev, e1000, vfat and their dependencies);
//! none of them is in the initrd, so each one loaded proves the path.
//! Console logs are kept under `$CARGO_TARGET_TMPDIR/vm_devices/`.
mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use common::demo::{
    console_after_exit, ensure_in_order, run_ok, BOOT, HELLO_FINISHED, HELLO_LOGGED, POWER_DOWN,
    RESTARTING, SHUTDOWN,
};
use tests::vm::{can_boot, default_dist, Vm, VmConfig};

/// PID 1's line once the ACPI power button's event device is open.
const BUTTON_WATCHED: &str = "watching /dev/input/event";

fn tmp_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm_devices")
}

fn boot(test: &str, params: &[&str], drives: Vec<PathBuf>) -> Result<Option<Vm>> {
    let dist = default_dist();
    if !can_boot(&dist, test) {
        return Ok(None);
    }
    let log = tmp_root().join(format!("{test}.log"));
    eprintln!("{test}: console log {}", log.display());
    let mut params: Vec<String> = params.iter().map(|p| (*p).to_owned()).collect();
    // The info lines (watching a button, modules loaded) reach the console.
    params.push("loglevel=6".into());
    let vm = Vm::boot(&VmConfig {
        console_log: Some(log),
        dist,
        kernel_params: params,
        drives,
        ..VmConfig::default()
    })?;
    Ok(Some(vm))
}

/// Poll `cond` (a shell condition) in the guest, once a second, for up to
/// a minute.
fn guest_wait(vm: &mut Vm, cond: &str, what: &str) -> Result<()> {
    let cmd = format!("for i in $(seq 60); do if {cond}; then exit 0; fi; sleep 1; done; exit 1");
    let (out, code) = vm.run(&cmd)?;
    ensure!(
        code == 0,
        "{what}: not after 60 s ({cond}): {out}; console:\n{}",
        vm.console()
    );
    Ok(())
}

/// Wait until PID 1 holds the power button's event device open: a press
/// before that would go unseen, as on any machine still booting.
fn wait_button(vm: &mut Vm) -> Result<()> {
    vm.wait_for_console(BUTTON_WATCHED, BOOT)?;
    guest_wait(
        vm,
        "ls -l /proc/1/fd | grep -q /dev/input/event",
        "PID 1 has no input device open",
    )
}

/// `system_powerdown` (twice, as an impatient hypervisor does) → one
/// orderly power-off: services stopped with their finish scripts, then the
/// kernel powers down and QEMU exits by itself.
#[test]
fn power_button_powers_off_once_with_finish_scripts() -> Result<()> {
    let test = "power_button_powers_off_once_with_finish_scripts";
    let Some(mut vm) = boot(test, &[], Vec::new())? else {
        return Ok(());
    };
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    wait_button(&mut vm)?;
    let modules = run_ok(&mut vm, "cut -d' ' -f1 /proc/modules")?;
    for m in ["button", "evdev"] {
        ensure!(
            modules.lines().any(|l| l == m),
            "{m} is not loaded after stage-2's coldplug: {modules}"
        );
    }
    vm.monitor("system_powerdown")?;
    vm.monitor("system_powerdown")?;
    let status = vm.wait_exit(SHUTDOWN)?;
    let console = console_after_exit(&vm);
    ensure!(
        status.success(),
        "QEMU exited with {status}; console:\n{console}"
    );
    ensure_in_order(
        &console,
        &[
            "init: power button pressed: powering off",
            "init: shutdown: stopping services to power off",
            "init: shutdown: all services are down",
            POWER_DOWN,
        ],
    )?;
    ensure!(
        console.contains(HELLO_FINISHED),
        "hello's finish did not run:\n{console}"
    );
    let shutdowns = console.matches("shutdown: stopping services").count();
    ensure!(
        shutdowns == 1,
        "{shutdowns} shutdowns for two presses:\n{console}"
    );
    ensure!(!console.contains(RESTARTING), "rebooted:\n{console}");
    ensure!(!console.contains("Kernel panic"), "panic:\n{console}");
    Ok(())
}

/// `boot.power_button=ignore` leaves the machine running (acpid's way);
/// `/etc/init/power-button` of the running system wins over it, read at
/// each press: `reboot` then reboots.
#[test]
fn power_button_setting_parameter_then_etc_file() -> Result<()> {
    let test = "power_button_setting_parameter_then_etc_file";
    let Some(mut vm) = boot(test, &["boot.power_button=ignore"], Vec::new())? else {
        return Ok(());
    };
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    wait_button(&mut vm)?;
    vm.monitor("system_powerdown")?;
    vm.wait_for_console("power button pressed: ignored", Duration::from_mins(1))?;
    run_ok(&mut vm, "true").context("the machine must still run")?;
    run_ok(
        &mut vm,
        "mkdir -p /etc/init && echo reboot > /etc/init/power-button",
    )?;
    vm.monitor("system_powerdown")?;
    let status = vm.wait_exit(SHUTDOWN)?;
    let console = console_after_exit(&vm);
    ensure!(
        status.success(),
        "QEMU exited with {status}; console:\n{console}"
    );
    ensure_in_order(
        &console,
        &[
            "power button pressed: ignored",
            "init: power button pressed: rebooting",
            "init: shutdown: stopping services to reboot",
            RESTARTING,
        ],
    )?;
    ensure!(
        console.contains(HELLO_FINISHED),
        "hello's finish did not run:\n{console}"
    );
    Ok(())
}

/// A NIC hot-added after stage-2 (QEMU's `device_add e1000`; e1000 is not
/// in the initrd) gets its driver from the toplevel's module tree and its
/// interface appears.
#[test]
fn hotplugged_nic_gets_its_driver_from_the_toplevel() -> Result<()> {
    let test = "hotplugged_nic_gets_its_driver_from_the_toplevel";
    let Some(mut vm) = boot(test, &[], Vec::new())? else {
        return Ok(());
    };
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    let before = run_ok(&mut vm, "ls /sys/class/net")?;
    ensure!(
        !run_ok(&mut vm, "cut -d' ' -f1 /proc/modules")?
            .lines()
            .any(|l| l == "e1000"),
        "e1000 is loaded before the NIC exists"
    );
    let out = vm.monitor("netdev_add user,id=hp0")?;
    ensure!(out.trim().is_empty(), "netdev_add: {out}");
    let out = vm.monitor("device_add e1000,netdev=hp0,id=hpnic")?;
    ensure!(out.trim().is_empty(), "device_add: {out}");
    guest_wait(
        &mut vm,
        "ls /sys/class/net/*/device/driver -l 2>/dev/null | grep -q /e1000$",
        "no interface bound to e1000",
    )?;
    let after = run_ok(&mut vm, "ls /sys/class/net")?;
    let new: Vec<&str> = after
        .split_whitespace()
        .filter(|i| !before.split_whitespace().any(|b| b == *i))
        .collect();
    ensure!(
        new.len() == 1,
        "one new interface expected: before {before:?}, after {after:?}"
    );
    let link = run_ok(&mut vm, "ip link")?;
    ensure!(
        link.contains(&format!("{}:", new[0])),
        "ip link does not show {}: {link}",
        new[0]
    );
    ensure!(
        vm.console()
            .contains("kernel modules loaded, 0 failed (1 devices)"),
        "no stage-2 load line for the new device:\n{}",
        vm.console()
    );
    Ok(())
}

/// Whether `module` is in the guest's `/proc/modules`.
fn loaded(vm: &mut Vm, module: &str) -> Result<bool> {
    Ok(run_ok(vm, "cut -d' ' -f1 /proc/modules")?
        .lines()
        .any(|l| l == module))
}

/// The kernel's own module requests go through the `modprobe` applet:
/// `mount -t vfat` of a vfat disk, with vfat not loaded, makes the
/// kernel run `/run/init/bin/modprobe -q -- fs-vfat` (and `nls_cp437`…),
/// which loads fat and vfat from the toplevel's tree, and the mount
/// works. Then the applets in the guest: `lsmod` in kmod's columns,
/// `modprobe -r`, `modprobe -v`, `rmmod`, an unknown name.
#[test]
fn kernel_module_requests_and_the_module_applets() -> Result<()> {
    let test = "kernel_module_requests_and_the_module_applets";
    // The vfat image, made by busybox's mkdosfs (busybox-static is in the
    // Makefile's APT_PKGS), becomes the guest's /dev/vdb.
    let image = tmp_root().join(format!("{test}.vfat"));
    fs::create_dir_all(tmp_root())?;
    let _ = fs::remove_file(&image);
    fs::File::create(&image)?.set_len(8 << 20)?;
    let made = Command::new("busybox").arg("mkdosfs").arg(&image).output();
    let made = made.is_ok_and(|o| o.status.success());
    if !tests::require(test, "busybox mkdosfs cannot make a vfat image", made) {
        return Ok(());
    }
    let Some(mut vm) = boot(test, &[], vec![image])? else {
        return Ok(());
    };
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    let helper = run_ok(&mut vm, "cat /proc/sys/kernel/modprobe")?;
    ensure!(
        helper == "/run/init/bin/modprobe",
        "/proc/sys/kernel/modprobe is {helper:?}"
    );
    ensure!(!loaded(&mut vm, "vfat")?, "vfat is loaded before any mount");
    let out = run_ok(
        &mut vm,
        "mkdir -p /mnt/v && mount -t vfat /dev/vdb /mnt/v && echo written > /mnt/v/f && cat /mnt/v/f",
    )
    .context("mount -t vfat through the kernel's modprobe helper")?;
    ensure!(out.ends_with("written"), "vfat mount: {out}");
    ensure!(loaded(&mut vm, "vfat")? && loaded(&mut vm, "fat")?);
    let lsmod = run_ok(&mut vm, "/run/init/bin/lsmod")?;
    ensure!(
        lsmod.starts_with("Module                  Size  Used by\n"),
        "lsmod's header: {lsmod}"
    );
    let fat = lsmod
        .lines()
        .find(|l| l.starts_with("fat "))
        .with_context(|| format!("no fat line: {lsmod}"))?;
    // kmod's columns: the name in 19, the size right-aligned in 8.
    ensure!(
        fat.len() > 28 && fat[19..20] == *" " && fat.ends_with(" 1 vfat"),
        "fat's line: {fat:?}"
    );
    run_ok(&mut vm, "umount /mnt/v && /run/init/bin/modprobe -r vfat")?;
    ensure!(
        !loaded(&mut vm, "vfat")? && !loaded(&mut vm, "fat")?,
        "modprobe -r vfat left vfat or its dependency fat"
    );
    let release = run_ok(&mut vm, "uname -r")?;
    let out = run_ok(&mut vm, "/run/init/bin/modprobe -v vfat")?;
    let tree = format!("/run/booted-system/kernel-modules/lib/modules/{release}");
    ensure!(
        out.starts_with(&format!("insmod {tree}/kernel/fs/fat/fat.ko")),
        "modprobe -v vfat: {out}"
    );
    ensure!(loaded(&mut vm, "vfat")?, "modprobe vfat did not load it");
    run_ok(&mut vm, "/run/init/bin/rmmod vfat")?;
    ensure!(!loaded(&mut vm, "vfat")?, "rmmod vfat left it");
    let (out, code) = vm.run("/run/init/bin/rmmod vfat")?;
    ensure!(
        code == 1 && out.trim() == "rmmod: ERROR: Module vfat is not currently loaded",
        "rmmod of an unloaded module: {code} {out}"
    );
    let (out, code) = vm.run("/run/init/bin/modprobe nosuch_module")?;
    ensure!(
        code == 1
            && out.trim()
                == format!("modprobe: FATAL: Module nosuch_module not found in directory {tree}"),
        "modprobe of an unknown name: {code} {out}"
    );
    Ok(())
}

/// runit-vm's service directory: `run` starts the VM with the monitor at
/// `./supervise/monitor`; on TERM it sends `system_powerdown` and waits
/// `./wait` seconds for QEMU before killing it, and says which in
/// `./result` (`clean` or `killed`). Each boot's console goes to
/// `./console-N.log`.
const RUNIT_VM_RUN: &str = r#"#!/bin/sh
exec 2>&1
n=$(( $(cat ./boots 2>/dev/null || echo 0) + 1 ))
echo $n >./boots
QEMU_KERNEL_PARAMS=loglevel=6 \
QEMU_OPTS="-monitor unix:./supervise/monitor,server,nowait -serial file:./console-$n.log " \
    QEMU_ACCEL=@ACCEL@ @DIST@/runvm </dev/null &
qemu=$!
stop() {
    echo system_powerdown | socat - UNIX-CONNECT:./supervise/monitor >/dev/null
    i=0
    while kill -0 $qemu 2>/dev/null && [ $i -lt "$(cat ./wait)" ]; do sleep 1; i=$((i + 1)); done
    if kill -0 $qemu 2>/dev/null; then
        echo killed >>./result
        kill -9 $qemu
    else
        echo clean >>./result
    fi
    wait $qemu
    exit 0
}
trap stop TERM
wait $qemu
"#;

/// Poll `path` (a file) until it contains `what`, for up to `timeout`.
fn wait_file(path: &Path, what: &str, timeout: Duration) -> Result<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let text = fs::read_to_string(path).unwrap_or_default();
        if text.contains(what) {
            return Ok(text);
        }
        if Instant::now() > deadline {
            bail!(
                "{} lacks {what:?} after {timeout:?}:\n{text}",
                path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn sv(prog: &Path, args: &[&str], svc: &Path) -> Result<(String, i32)> {
    let out = Command::new(prog)
        .args(args)
        .arg(svc)
        .output()
        .with_context(|| format!("running {}", prog.display()))?;
    Ok((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    ))
}

struct Supervisor(Child);

impl Drop for Supervisor {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// runit-vm's way end to end: `init runsvdir` as `nobody` supervises the
/// VM service; Debian's `sv down` → the guest powers off gracefully within
/// the wait (hello's finish ran), `run` exits by itself, nobody needed
/// SIGKILL; our `sv up` boots it again and our `sv down` stops it the
/// same way; `sv status` answers throughout.
#[test]
fn runit_vm_service_stops_the_guest_gracefully() -> Result<()> {
    let test = "runit_vm_service_stops_the_guest_gracefully";
    let dist = default_dist();
    if !can_boot(&dist, test) {
        return Ok(());
    }
    let tools = ["socat", "setpriv", "/usr/bin/sv"].iter().all(|t| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {t}"))
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if !tests::require(
        test,
        "socat, setpriv (util-linux) and runit's sv are needed",
        tools,
    ) {
        return Ok(());
    }
    // Under /tmp, not the checkout (a fresh clone may sit in a 0700
    // directory): `nobody` must reach every file, so dist/ and init are
    // copied in.
    let root = std::env::temp_dir().join(format!("init-{test}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let dist_copy = root.join("dist");
    fs::create_dir_all(&dist_copy)?;
    for f in ["kernel", "initrd", "root.squashfs", "command-line", "runvm"] {
        fs::copy(dist.join(f), dist_copy.join(f)).with_context(|| format!("copying dist/{f}"))?;
    }
    let init = root.join("init");
    fs::copy(tests::bin::init_bin(), &init)?;
    let svc = root.join("sv/vm");
    fs::create_dir_all(&svc)?;
    // runsv gives `run` only PATH (as under runit-init): the paths are
    // written into the script, as runit-vm keeps its settings in files.
    let dist = dist_copy;
    let accel = std::env::var("QEMU_ACCEL").unwrap_or_else(|_| "tcg".into());
    let run = RUNIT_VM_RUN
        .replace("@DIST@", &dist.to_string_lossy())
        .replace("@ACCEL@", &accel);
    fs::write(svc.join("run"), run)?;
    fs::set_permissions(svc.join("run"), fs::Permissions::from_mode(0o755))?;
    fs::write(svc.join("wait"), "90\n")?;
    let status = Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(&root)
        .status()?;
    ensure!(status.success(), "chown nobody {}", root.display());
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755))?;
    let _sup = Supervisor(
        Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(&init)
            .arg("runsvdir")
            .arg(root.join("sv"))
            .env("DIST", &dist)
            .env(
                "QEMU_ACCEL",
                std::env::var("QEMU_ACCEL").unwrap_or_else(|_| "tcg".into()),
            )
            .stdin(Stdio::null())
            .spawn()
            .context("starting init runsvdir as nobody")?,
    );
    let debian_sv = Path::new("/usr/bin/sv");
    let our_sv = init.clone();
    for boot in 1..=2 {
        let console = svc.join(format!("console-{boot}.log"));
        wait_file(&console, HELLO_LOGGED, BOOT)?;
        wait_file(&console, BUTTON_WATCHED, BOOT)?;
        let (status, _) = sv(debian_sv, &["status"], &svc)?;
        ensure!(status.starts_with("run: "), "Debian's sv status: {status}");
        let (ours, _) = sv(&our_sv, &["sv", "status"], &svc)?;
        ensure!(ours.starts_with("run: "), "our sv status: {ours}");
        // Boot 1 is stopped with Debian's sv, boot 2 with ours.
        let (out, code) = if boot == 1 {
            sv(debian_sv, &["-w", "120", "down"], &svc)?
        } else {
            sv(&our_sv, &["sv", "-w", "120", "down"], &svc)?
        };
        ensure!(code == 0, "sv down (boot {boot}) exited {code}: {out}");
        let text = fs::read_to_string(&console)?;
        ensure_in_order(
            &text,
            &["init: power button pressed: powering off", POWER_DOWN],
        )?;
        ensure!(
            text.contains(HELLO_FINISHED),
            "boot {boot}: hello's finish did not run:\n{text}"
        );
        let result = fs::read_to_string(svc.join("result"))?;
        ensure!(
            result.lines().collect::<Vec<_>>() == vec!["clean"; boot],
            "run had to kill QEMU (boot {boot}): {result:?}"
        );
        let (status, _) = sv(debian_sv, &["status"], &svc)?;
        ensure!(status.starts_with("down: "), "after sv down: {status}");
        if boot == 1 {
            let (out, code) = sv(&our_sv, &["sv", "up"], &svc)?;
            ensure!(code == 0, "sv up exited {code}: {out}");
        }
    }
    let _ = sv(debian_sv, &["exit"], &svc);
    let _ = fs::remove_dir_all(&root);
    Ok(())
}

fn status_field(status: &str, field: &str) -> Result<u64> {
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .with_context(|| format!("no {field} in /proc/1/status:\n{status}"))?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("empty field")?
        .parse()?)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn list(v: &[f64], digits: usize) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:.digits$}")).collect();
    items.join(", ")
}

/// The devices bench (run by `bench/vm-devices.sh`), issue 17's items:
/// the time from QEMU's `system_powerdown` to QEMU's exit (demo, median
/// of 5 boots, host clock); PID 1's wake-ups at rest with the uevent
/// socket and the power button's event device open (context switches
/// from `/proc/1/status` over `BENCH_IDLE_SECS`, default 30); and
/// `init coldplug --all` against Debian's whole module tree, run natively
/// on this host's `/sys` as `nobody` (so nothing is loaded: the time and
/// peak RSS are the index, the configuration, the scan and the plan),
/// median of 5. Prints a markdown table.
#[test]
#[ignore = "a benchmark: bench/vm-devices.sh runs it"]
fn bench_devices() -> Result<()> {
    let test = "bench_devices";
    let idle: u64 = std::env::var("BENCH_IDLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let mut powerdown = Vec::new();
    let mut switches = None;
    for round in 0..5 {
        let Some(mut vm) = boot(&format!("{test}-{round}"), &[], Vec::new())? else {
            return Ok(());
        };
        vm.wait_for_console(HELLO_LOGGED, BOOT)?;
        wait_button(&mut vm)?;
        if round == 0 {
            let fds = run_ok(&mut vm, "ls -l /proc/1/fd")?;
            ensure!(
                fds.contains("/dev/input/event") && fds.contains("socket:"),
                "PID 1 holds no input device or socket open: {fds}"
            );
            let read = |vm: &mut Vm| -> Result<u64> {
                let s = run_ok(vm, "cat /proc/1/status")?;
                Ok(status_field(&s, "voluntary_ctxt_switches")?
                    + status_field(&s, "nonvoluntary_ctxt_switches")?)
            };
            let before = read(&mut vm)?;
            let t0 = Instant::now();
            std::thread::sleep(Duration::from_secs(idle));
            let after = read(&mut vm)?;
            switches = Some((after - before, t0.elapsed()));
        }
        let t0 = Instant::now();
        vm.monitor("system_powerdown")?;
        let status = vm.wait_exit(SHUTDOWN)?;
        ensure!(status.success(), "QEMU exited with {status}");
        powerdown.push(t0.elapsed().as_secs_f64());
    }
    let (sw, over) = switches.context("no context-switch sample")?;

    // Native coldplug against Debian's whole tree.
    let dist = default_dist();
    let tree = tests::bin::workspace_root().join("build/kernel/x/lib/modules/6.1.0-56-amd64");
    ensure!(
        tree.join("modules.dep").exists(),
        "no {}: make dist",
        tree.display()
    );
    let devices = Command::new("sh")
        .args(["-c", "find /sys/devices -name modalias | wc -l"])
        .output()?;
    let devices = String::from_utf8_lossy(&devices.stdout).trim().to_owned();
    let (mut secs, mut rss) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let out = Command::new("/usr/bin/time")
            .args([
                "-f",
                "TIME %e %M",
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
            ])
            .args(["--clear-groups"])
            .arg(dist.join("init"))
            .args(["coldplug", "--module-dir"])
            .arg(&tree)
            .arg("--all")
            .output()?;
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err
            .lines()
            .find_map(|l| l.strip_prefix("TIME "))
            .with_context(|| format!("no time line: {err}"))?;
        let mut f = line.split_whitespace();
        secs.push(f.next().context("seconds")?.parse::<f64>()?);
        rss.push(f.next().context("rss")?.parse::<f64>()?);
    }
    let accel = std::env::var("QEMU_ACCEL").unwrap_or_else(|_| "probe".into());
    println!("BENCH accel={accel} idle={idle}s memory=512MiB smp=2");
    println!("| metric | value | samples |");
    println!("|---|---|---|");
    println!(
        "| `system_powerdown` to QEMU's exit (demo, host clock) | {:.2} s (median of 5) | {} |",
        median(&powerdown),
        list(&powerdown, 2)
    );
    println!(
        "| PID 1 context switches at rest, uevent socket and power button open, over {:.0} s | {sw} | voluntary+nonvoluntary, 1 boot |",
        over.as_secs_f64()
    );
    println!(
        "| `init coldplug --all`, Debian 6.1's whole tree, this host's /sys ({devices} modaliases), native, nothing loaded | {:.2} s, {:.0} KiB peak RSS (medians of 5) | {} s; {} KiB |",
        median(&secs),
        median(&rss),
        list(&secs, 2),
        list(&rss, 0)
    );
    Ok(())
}
