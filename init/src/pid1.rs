//! PID 1's flow, top to bottom: the first instructions after the kernel
//! (or a stage-1) starts us, then stage-1 (`initramfs.rs`) when `/` is the
//! initramfs, the handover to the system's own `init` when it has one, and
//! the system (`system.rs`). This file alone calls the stages in order
//! and starts what comes after a failure the menu resolved: a root
//! switched by hand at the rescue prompt goes on in [`switched_by_hand`],
//! which stage-1's steps and the panic hook are handed (they sit below
//! this file and cannot return there). Signals are blocked before
//! anything else so that no child exit or ctrl-alt-del is lost; they are
//! read later from a signalfd.
use std::ffi::OsStr;
use std::path::Path;

use stage1::cmdline::{BootParams, Stage};

use crate::logger;
use crate::process::{block_signals, phase, raise_fd_limit};
use crate::resolution::{Resolution, SwitchedRoot};
use crate::times::{BootTimes, BOOT_TIMES};
use crate::{failure, initramfs, kernel_fs, system};

/// Which half of the boot this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `/` is the kernel's initramfs (`rootfs` in mountinfo).
    Stage1,
    /// Anything else: we were exec'd as `$toplevel/init` by a stage-1, or
    /// started as PID 1 of a container.
    Stage2,
}

pub fn main() -> ! {
    block_signals();
    let mut times = BootTimes::default();
    times.mark("init");
    // /proc, /sys and /dev before anything else (kernel_fs.rs).
    for fs in kernel_fs::EARLY {
        if let Err(e) = kernel_fs::mount_missing(fs) {
            // No logger yet: the console is all we have.
            eprintln!("init: mounting {} on {}: {e}", fs.fstype, fs.target);
        }
    }
    ensure_console();
    // Our boot log goes through /dev/kmsg, which by default drops user
    // records beyond a burst of 10 per 5 s; `printk.devkmsg=` on the
    // command line still wins (the kernel then refuses this write).
    let _ = std::fs::write("/proc/sys/kernel/printk_devkmsg", "on\n");
    logger::init(true);
    let params = match BootParams::read() {
        Ok(p) => p,
        Err(e) => {
            log::warn!("cannot read the kernel command line: {e:#}; using defaults");
            BootParams::default()
        }
    };
    // Leaked (PID 1 never returns): the panic hook keeps a reference to
    // this one instead of a clone.
    let params: &'static BootParams = Box::leak(Box::new(params));
    logger::set_console_level(logger::console_level_for(
        params.quiet,
        params.loglevel,
        params.trace,
    ));
    for w in params.warnings() {
        log::warn!("kernel command line: {w}");
    }
    failure::install(params, switched_by_hand);
    // ctrl-alt-del becomes SIGINT to us instead of an immediate reboot.
    if let Err(e) = nix::sys::reboot::set_cad_enabled(false) {
        let e = std::io::Error::from(e);
        log::debug!("cannot disable ctrl-alt-del reboot: {e} (in a container?)");
    }
    raise_fd_limit();
    // `init reexec` or a panic in supervision exec'd us with every service
    // handed over: straight back to supervising them.
    if runit_compat::reexec::handed_over().is_some() {
        failure::entering_stage2();
        system::resume(params);
    }
    let role = detect_role();
    log::debug!("role: {role:?}");
    let toplevel = match role {
        Role::Stage1 => {
            debug_panic(params, Stage::Stage1);
            let toplevel = initramfs::run(params, &mut times, switched_by_hand);
            if let Some(t) = &toplevel {
                exec_foreign_init(params, t, &times);
            }
            toplevel
        }
        Role::Stage2 => params.toplevel.clone(),
    };
    failure::entering_stage2();
    debug_panic(params, Stage::Stage2);
    system::run(params, toplevel.as_deref(), times)
}

/// The root was switched by hand at the rescue prompt: start that
/// system's stage-2 (its `init` if it has one, else ours in this process)
/// with boot times that start at the switch. Also the panic hook's way on.
fn switched_by_hand(params: &BootParams, switched: SwitchedRoot) -> ! {
    let SwitchedRoot { toplevel } = switched;
    let mut times = BootTimes::default();
    times.mark("switch_root");
    if let Some(t) = &toplevel {
        exec_foreign_init(params, t, &times);
    }
    system::run(params, toplevel.as_deref(), times)
}

/// The not-os/NixOS contract: when `$toplevel/init` exists, exec it with a
/// clean environment. Our own binary exec'd this way finds `/` is no
/// longer the initramfs and runs stage-2. Returns when there is no such
/// `init`, or the exec failed and the person at the console said to go on
/// (with the built-in stage-2); a root switched by hand then goes on there.
fn exec_foreign_init(params: &BootParams, toplevel: &Path, times: &BootTimes) {
    let init = toplevel.join("init");
    if !init.exists() {
        return;
    }
    times.write(Path::new(BOOT_TIMES));
    phase(&format!("stage-1: executing {}", init.display()));
    runit_compat::reset_signal_state();
    let argv: Vec<&OsStr> = std::iter::once(init.as_os_str())
        .chain(params.init_args.iter().map(OsStr::new))
        .collect();
    let err = match runit_compat::Exec::new(&init, &argv, Some(&[]), None) {
        Ok(exec) => exec.exec(),
        Err(e) => e,
    };
    let e = anyhow::Error::new(err).context(format!("exec {}", init.display()));
    block_signals();
    // On "ignore" (or "retry"), go on with the built-in stage-2 instead.
    if let Resolution::SwitchedRoot(s) =
        failure::handle(params, "starting the system's stage-2", &e, false)
    {
        switched_by_hand(params, s);
    }
}

/// `boot.debug_panic=STAGE`: panic here, on purpose, at the start of
/// `stage` (the panic hook is installed), to test what a panic in PID 1
/// does.
fn debug_panic(params: &BootParams, stage: Stage) {
    assert!(
        params.debug_panic != Some(stage),
        "boot.debug_panic={}: panicking on purpose",
        stage.name()
    );
}

/// The kernel opens /dev/console as our stdin/out/err when the initramfs
/// has that node; when it had none, open it now that devtmpfs is up.
fn ensure_console() {
    if Path::new("/proc/self/fd/0").exists() {
        return;
    }
    if let Ok(console) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/console")
    {
        let _ = rustix::stdio::dup2_stdin(&console);
        let _ = rustix::stdio::dup2_stdout(&console);
        let _ = rustix::stdio::dup2_stderr(&console);
    }
}

/// Stage-1 iff `/` is the kernel's initramfs: its mountinfo line says
/// `rootfs` (whether the kernel backed it with ramfs or tmpfs). After
/// switch_root, or under any other stage-1, `/` is some other filesystem.
pub fn detect_role() -> Role {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    role_from_mountinfo(&info)
}

fn role_from_mountinfo(info: &str) -> Role {
    if stage1::switch_root::root_is_initramfs(info) {
        Role::Stage1
    } else {
        Role::Stage2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initramfs_is_stage1() {
        let info =
            "1 1 0:2 / / rw - rootfs rootfs rw\n20 1 0:5 / /dev rw,nosuid - devtmpfs devtmpfs rw\n";
        assert_eq!(role_from_mountinfo(info), Role::Stage1);
    }

    #[test]
    fn tmpfs_root_after_switch_root_is_stage2() {
        let info = "25 1 0:22 / / rw - tmpfs tmpfs rw,mode=755\n26 25 0:5 / /dev rw - devtmpfs devtmpfs rw\n";
        assert_eq!(role_from_mountinfo(info), Role::Stage2);
        assert_eq!(role_from_mountinfo(""), Role::Stage2);
    }
}
