//! Helpers for the stage-1 VM tests (`vm_stage1.rs`, `vm_hardware.rs`):
//! a slot semaphore, variants of `dist/` built by
//! `scripts/variants/stage1-variant.sh` into
//! `$CARGO_TARGET_TMPDIR/vm_stage1/<test>/`, next to the console log, and
//! checks on the guest's mounts.
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use tests::vm::{can_boot, default_dist, Vm, VmConfig};

/// Generous: two TCG guests share two noisy host cores.
pub const BOOT: Duration = Duration::from_secs(150);
/// Supervision runs: the hello service's line went through its logger.
pub const HELLO_LOGGED: &str = "[hello-log] hello: service started";
pub const PHASES: [&str; 6] = [
    "init",
    "modules",
    "mounts",
    "switch_root",
    "stage2",
    "supervise",
];

/// At most two VMs (and variant builds) at once within one test process,
/// which is what `cargo test` runs. nextest (`make test`) runs each test in
/// a process of its own and caps them at its thread count, two here; state
/// shared between tests must therefore never live in a process-wide static.
pub struct Slot;

pub static SLOTS: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());
pub const MAX_VMS: usize = 2;

impl Slot {
    pub fn take() -> Slot {
        let (lock, cv) = &SLOTS;
        let mut used = lock.lock().expect("slot lock");
        while *used >= MAX_VMS {
            used = cv.wait(used).expect("slot lock");
        }
        *used += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (lock, cv) = &SLOTS;
        *lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) -= 1;
        cv.notify_one();
    }
}

/// This test's directory under Cargo's tmp dir (variant, console log).
pub fn test_dir(test: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("vm_stage1")
        .join(test)
}

/// `None` (after saying why, loudly) when QEMU or dist/ is missing.
pub fn check(test: &str) -> Option<PathBuf> {
    let dist = default_dist();
    can_boot(&dist, test).then_some(dist)
}

/// Build `variant` of `dist` into the test's directory; returns it.
pub fn build_variant(test: &str, dist: &Path, variant: &str) -> Result<PathBuf> {
    let out = test_dir(test).join("dist");
    let args = [std::ffi::OsStr::new(variant), out.as_os_str()];
    super::variant::run("stage1-variant.sh", &args, dist, &[])?;
    Ok(out)
}

/// Kernel parameters every boot here gets: `no_timer_check`, because on an
/// overloaded host a TCG guest's kernel sometimes panics in its early timer
/// check ("IO-APIC + timer doesn't work!") before /init ever runs.
pub const COMMON_PARAMS: [&str; 1] = ["no_timer_check"];

pub fn config(test: &str, dist: PathBuf, params: &[&str]) -> VmConfig {
    let log = test_dir(test).join("console.log");
    eprintln!("{test}: console log {}", log.display());
    VmConfig {
        kernel_params: COMMON_PARAMS
            .iter()
            .chain(params)
            .map(|s| (*s).to_owned())
            .collect(),
        dist,
        console_log: Some(log),
        ..VmConfig::default()
    }
}

/// Run `cmd` in the guest; it must exit 0.
pub fn guest(vm: &mut Vm, cmd: &str) -> Result<String> {
    let (out, code) = vm.run(cmd)?;
    ensure!(code == 0, "guest command {cmd:?} exited {code}: {out}");
    Ok(out.trim_end().to_owned())
}

/// `/proc/mounts` lines as (device, mount point, type).
pub fn mounts(vm: &mut Vm) -> Result<Vec<(String, String, String)>> {
    let text = guest(vm, "cat /proc/mounts")?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3).then(|| (f[0].to_owned(), f[1].to_owned(), f[2].to_owned()))
        })
        .collect())
}

/// The last mount on `point` (the one that is visible).
pub fn mount_at<'a>(
    mounts: &'a [(String, String, String)],
    point: &str,
) -> Option<&'a (String, String, String)> {
    mounts.iter().rev().find(|m| m.1 == point)
}

/// The store overlay is there: /nix/store is an overlay, the image under it
/// a squashfs at /nix/.ro-store.
pub fn check_store_overlay(m: &[(String, String, String)]) -> Result<()> {
    let store = mount_at(m, "/nix/store").context("nothing mounted on /nix/store")?;
    ensure!(
        store.2 == "overlay",
        "/nix/store is {store:?}, not an overlay"
    );
    let ro = mount_at(m, "/nix/.ro-store").context("nothing mounted on /nix/.ro-store")?;
    ensure!(ro.2 == "squashfs", "/nix/.ro-store is {ro:?}, not squashfs");
    Ok(())
}

pub fn no_panic(console: &str) -> Result<()> {
    ensure!(
        !console.contains("Kernel panic"),
        "the kernel panicked:\n{console}"
    );
    Ok(())
}

/// The failure menu's first line.
pub const MENU: &str = "Press one of the following keys";

/// The whole console line holding `pattern`, once `after` (a later line,
/// such as the menu's) has appeared: a line is read only once complete.
pub fn line_before(vm: &Vm, pattern: &str, after: &str) -> Result<String> {
    vm.wait_for_console(after, BOOT)?;
    vm.console()
        .lines()
        .find(|l| l.contains(pattern))
        .map(|l| l.trim_end_matches('\r').to_owned())
        .with_context(|| format!("no console line has {pattern:?}"))
}
