//! PID 1's entry: the first instructions after the kernel (or a stage-1)
//! starts us. Signals are blocked before anything else so that no child
//! exit or ctrl-alt-del is lost; they are read later from a signalfd.
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use stage1::cmdline::{BootParams, Stage};

use crate::logger::{self, PHASE};
use crate::times::BootTimes;
use crate::{boot1, boot2, failure};

/// Every signal PID 1 acts on; all are blocked and read from a signalfd.
pub const SIGNALS: [Signal; 9] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGPWR,
    Signal::SIGHUP,
    Signal::SIGALRM,
    Signal::SIGCONT,
    Signal::SIGQUIT,
];

/// The supervisor holds about four descriptors per service (lock, control
/// read and write ends, ok) plus log pipes; the kernel starts PID 1 with a
/// soft limit of 1024, enough for only ~250 services. Raise ours to what
/// the kernel allows (`fs.nr_open`).
pub fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let current = getrlimit(Resource::Nofile);
    let max = nr_open
        .or(current.maximum)
        .unwrap_or(4096)
        .max(current.maximum.unwrap_or(0));
    let wanted = Rlimit {
        current: Some(max),
        maximum: Some(max),
    };
    if setrlimit(Resource::Nofile, wanted).is_err() {
        // Not allowed to raise the hard limit: take what it allows.
        let soft = Rlimit {
            current: current.maximum,
            maximum: current.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, soft) {
            log::debug!("cannot raise RLIMIT_NOFILE: {e}");
        }
    }
}

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
    early_mounts();
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
    logger::set_console_level(logger::console_level_for(
        params.quiet,
        params.loglevel,
        params.trace,
    ));
    for w in params.warnings() {
        log::warn!("kernel command line: {w}");
    }
    failure::install(&params);
    // ctrl-alt-del becomes SIGINT to us instead of an immediate reboot.
    if let Err(e) = nix::sys::reboot::set_cad_enabled(false) {
        log::debug!("cannot disable ctrl-alt-del reboot: {e} (in a container?)");
    }
    raise_fd_limit();
    let role = detect_role();
    log::debug!("role: {role:?}");
    let toplevel = match role {
        Role::Stage1 => {
            debug_panic(&params, Stage::Stage1);
            boot1::run(&params, &mut times)
        }
        Role::Stage2 => params.toplevel.clone(),
    };
    failure::entering_stage2();
    debug_panic(&params, Stage::Stage2);
    boot2::run(&params, toplevel.as_deref(), times)
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

pub fn block_signals() {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    for s in SIGNALS {
        set.add(s);
    }
    // Cannot fail with a valid `how`; if it did, signals would still arrive
    // through their default actions, which for PID 1 are ignored.
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
}

/// `/proc`, `/sys` and `/dev` before anything else, so that the command
/// line, kmsg and device nodes exist. Already-mounted ones are kept.
fn early_mounts() {
    let table: [(&str, &str, &str, MsFlags, &str); 4] = [
        (
            "/proc",
            "proc",
            "/proc/self",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            "",
        ),
        (
            "/sys",
            "sysfs",
            "/sys/kernel",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            "",
        ),
        (
            "/dev",
            "devtmpfs",
            "/dev/null",
            MsFlags::MS_NOSUID,
            "mode=0755",
        ),
        (
            "/run",
            "tmpfs",
            "",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            "mode=0755",
        ),
    ];
    for (target, fstype, probe, flags, data) in table {
        if Path::new(probe).exists() || is_mount_point(target) {
            continue;
        }
        let _ = std::fs::create_dir_all(target);
        let data = (!data.is_empty()).then_some(data);
        match mount(Some(fstype), target, Some(fstype), flags, data) {
            Ok(()) | Err(Errno::EBUSY) => {}
            // No logger yet: the console is all we have.
            Err(e) => eprintln!("init: mounting {fstype} on {target}: {e}"),
        }
    }
}

/// True when `path` is a mount point (its device differs from its parent's).
fn is_mount_point(path: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let p = Path::new(path);
    match (std::fs::metadata(p), p.parent().map(std::fs::metadata)) {
        (Ok(m), Some(Ok(parent))) => m.dev() != parent.dev(),
        _ => false,
    }
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

/// Wait for `pid` to exit, reaping every other child meanwhile (only used
/// before the supervisor runs, which then owns reaping).
pub fn wait_for(pid: Pid) -> Option<WaitStatus> {
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(st) if st.pid() == Some(pid) => return Some(st),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => {
                log::warn!("waiting for process {pid}: {e}");
                return None;
            }
        }
    }
}

/// Reap every zombie there is now, without blocking.
pub fn reap_zombies() {
    while let Ok(st) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        if st == WaitStatus::StillAlive {
            break;
        }
    }
}

/// Log a phase line.
pub fn phase(msg: &str) {
    log::info!(target: PHASE, "{msg}");
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
