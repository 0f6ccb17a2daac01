//! The last steps of every shutdown, after services are stopped: kill what
//! is left, swapoff, unmount in reverse order (read-only where unmount
//! fails; lazily, from a child, what stands on a share that no longer
//! answers: `shares.rs`), sync, reboot(2). Each step is logged and bounded
//! in time. A
//! reboot that `init kexec --exec` asked for ends in the loaded kernel
//! instead: whether it did, and the kexec itself, are `kexec`'s (its
//! `handover.rs`).
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::reboot::{reboot, RebootMode};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use stage2::mountinfo::{MountEntry, MountTable};

use crate::action::Action;
use crate::kernel_fs::{self, KernelFs};
use crate::kexec;
use crate::logger::PHASE;
use crate::shares::{self, sync_and_drain};

/// How long processes get between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(3);

/// Everything after the services are down. Never returns.
/// `handover` is [`kexec::handover_requested`], asked when the shutdown
/// began: the marker is in /run, which stage 3 or the unmounting below
/// may take away. `gone` are the shares that gave no answer
/// ([`shares::gone`]).
pub fn finish(action: Action, handover: bool, gone: &[MountEntry]) -> ! {
    if handover {
        kexec::announce_handover();
    }
    log::info!(target: PHASE, "shutdown: sending SIGTERM to all processes");
    signal_all(Signal::SIGTERM);
    let _ = kill_all_and_continue();
    if !reap_until_gone(KILL_GRACE) {
        log::info!(target: PHASE, "shutdown: sending SIGKILL to all processes");
        signal_all(Signal::SIGKILL);
        reap_until_gone(Duration::from_secs(1));
    }
    // Stage 3 may have unmounted the kernel's filesystems (`umount -a`):
    // the steps below read /proc, and the kexec check reads /sys.
    remount_api(&kernel_fs::PROC);
    if handover {
        remount_api(&kernel_fs::SYS);
    }
    swapoff_all();
    unmount_all(gone);
    end(action, handover)
}

/// Mount `fs` again when stage 3 took it away.
fn remount_api(fs: &KernelFs) {
    match kernel_fs::mount_missing(fs) {
        Ok(false) => {}
        Ok(true) => log::info!(
            "shutdown: mounted {} again (stage 3 had unmounted it)",
            fs.target
        ),
        Err(e) => log::warn!("shutdown: cannot mount {} on {}: {e}", fs.fstype, fs.target),
    }
}

fn kill_all_and_continue() -> nix::Result<()> {
    // Stopped processes cannot act on SIGTERM until continued.
    kill(Pid::from_raw(-1), Signal::SIGCONT)
}

/// kill(-1, sig) reaches every process but PID 1 itself; it never blocks,
/// even for processes in uninterruptible sleep.
fn signal_all(sig: Signal) {
    match kill(Pid::from_raw(-1), sig) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => log::warn!("kill(-1, {sig}): {}", std::io::Error::from(e)),
    }
}

/// Reap children until none is left or `limit` passes; true if all gone.
/// Processes that are not our children (in another namespace) do not keep
/// us here: ECHILD ends the wait.
fn reap_until_gone(limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Err(Errno::ECHILD) => return true,
            Ok(WaitStatus::StillAlive) | Err(_) => {
                if Instant::now() >= deadline {
                    return false;
                }
                // Bounded, shutdown-only wait: no timer runs at rest.
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(_) => {}
        }
    }
}

fn swapoff_all() {
    let Ok(swaps) = std::fs::read_to_string("/proc/swaps") else {
        return;
    };
    for dev in swaps
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
    {
        log::info!("shutdown: swapoff {dev}");
        if let Err(e) = crate::sys::swapoff(dev) {
            log::warn!("swapoff {dev}: {e}");
        }
    }
}

/// The kernel API filesystems stay: the console and /proc are needed to the
/// end, and they hold no data.
fn keep_mounted(p: &std::path::Path) -> bool {
    ["/", "/proc", "/sys", "/dev", "/dev/pts"]
        .iter()
        .any(|k| p == std::path::Path::new(k))
}

fn unmount_all(gone: &[MountEntry]) {
    let table = match MountTable::read() {
        Ok(t) => t,
        Err(e) => {
            log::warn!("shutdown: {e:#}; only remounting / read-only");
            MountTable(Vec::new())
        }
    };
    let on_gone = shares::standing_on(&table, gone);
    for p in table.0.iter().rev().map(|m| &m.mount_point) {
        if keep_mounted(p) {
            continue;
        }
        if on_gone.contains(&p.as_path()) {
            detach(p);
            continue;
        }
        match umount2(p, MntFlags::empty()) {
            Ok(()) => log::info!("shutdown: unmounted {}", p.display()),
            Err(Errno::EINVAL | Errno::ENOENT) => {} // already gone with its parent
            Err(e) => {
                log::warn!(
                    "shutdown: cannot unmount {}: {}; remounting it read-only",
                    p.display(),
                    std::io::Error::from(e)
                );
                remount_ro(p);
            }
        }
    }
    remount_ro(std::path::Path::new("/"));
}

/// umount2(MNT_DETACH) of a mount on a share that gave no answer, from a
/// child: a plain unmount would wait for the share (busy, then a
/// read-only remount), and the last reference to its superblock, dropped
/// on the way back from the syscall, sends FUSE_DESTROY and waits for
/// the answer that never comes.
fn detach(p: &std::path::Path) {
    let detach = || umount2(p, MntFlags::MNT_DETACH).map_or_else(|e| e as i32, |()| 0);
    match shares::bounded(shares::PROBE, &detach) {
        Some(0) => log::info!("shutdown: detached {}", p.display()),
        Some(e) => log::warn!(
            "shutdown: cannot detach {}: {}",
            p.display(),
            std::io::Error::from_raw_os_error(e)
        ),
        None => log::warn!(
            "shutdown: detaching {} did not end in {}; going on",
            p.display(),
            stage1::decimal::Seconds(shares::PROBE)
        ),
    }
}

fn remount_ro(p: &std::path::Path) {
    let flags = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    match mount(
        None::<&std::path::Path>,
        p,
        None::<&str>,
        flags,
        None::<&str>,
    ) {
        Ok(()) => log::info!("shutdown: remounted {} read-only", p.display()),
        Err(e) => log::warn!(
            "shutdown: cannot remount {} read-only: {}",
            p.display(),
            std::io::Error::from(e)
        ),
    }
}

/// sync, then reboot(2) with `action`. Never returns: if the kernel
/// refuses (we are not PID 1 of the machine, or lack the capability), we
/// stay alive but idle rather than exit, because PID 1 exiting panics the
/// kernel. Inside a PID namespace, reboot(2) ends the namespace instead.
pub fn reboot_now(action: Action) -> ! {
    end(action, kexec::handover_requested(action))
}

/// [`reboot_now`], trying the loaded kernel first when `handover` says so.
fn end(action: Action, handover: bool) -> ! {
    if handover {
        kexec::start_loaded_kernel();
    }
    // What was written to the tty goes out before the kernel prints this
    // line from kmsg: its console write cut a pending line, whose rest
    // the reboot then lost (the soak test saw `shutdown: remoun`).
    let _ = rustix::termios::tcdrain(std::io::stdout());
    log::info!(target: PHASE, "shutdown: syncing filesystems and {}", action.verb());
    sync_and_drain();
    let mode = match action {
        Action::PowerOff => RebootMode::RB_POWER_OFF,
        Action::Reboot => RebootMode::RB_AUTOBOOT,
        Action::Halt => RebootMode::RB_HALT_SYSTEM,
    };
    let Err(err) = reboot(mode);
    log::error!(
        "reboot(2) failed: {}; halting in place",
        std::io::Error::from(err)
    );
    loop {
        std::thread::park();
    }
}
