//! Process plumbing every part of PID 1 needs: the signals it blocks and
//! reads from a signalfd, waiting for and reaping children, the phase log
//! line and the descriptor limit. A leaf (it uses only the logger), so the
//! stages, the failure menu and the supervision host can all call it
//! without depending on the PID-1 flow that calls them.
use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::logger::PHASE;

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

/// Block SIGCHLD and [`SIGNALS`]: they are read later from a signalfd, so
/// none is lost before the event loop runs.
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

/// Wait for `pid` to exit, reaping every other child meanwhile (only used
/// before the supervisor runs, which then owns reaping).
pub fn wait_for(pid: Pid) -> Option<WaitStatus> {
    wait_for_with(pid, &mut |_, _| {})
}

/// [`wait_for`], handing every other child reaped meanwhile to `other`
/// (stage-2's driver loader may end while `/etc/runit/1` runs).
pub fn wait_for_with(pid: Pid, other: &mut dyn FnMut(Pid, WaitStatus)) -> Option<WaitStatus> {
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(st) if st.pid() == Some(pid) => return Some(st),
            Ok(st) => {
                if let Some(p) = st.pid() {
                    other(p, st);
                }
            }
            Err(Errno::EINTR) => {}
            Err(e) => {
                log::warn!("waiting for process {pid}: {}", std::io::Error::from(e));
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

/// How a child ended, for a log line: `exit status 3`, `killed by SIGTERM`.
/// Not nix's `{:?}` (`Exited(Pid(42), 3)`), whose Debug machinery costs
/// dist/init bytes for no reader's benefit.
pub struct Ended(pub WaitStatus);

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            WaitStatus::Exited(_, code) => write!(f, "exit status {code}"),
            WaitStatus::Signaled(_, sig, core) => {
                let core = if core { " (core dumped)" } else { "" };
                write!(f, "killed by {sig}{core}")
            }
            WaitStatus::Stopped(_, sig) => write!(f, "stopped by {sig}"),
            WaitStatus::Continued(_) => f.write_str("continued"),
            WaitStatus::StillAlive => f.write_str("still running"),
            _ => f.write_str("traced"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Ended, Pid, Signal, WaitStatus};

    #[test]
    fn ended_says_how_a_child_ended() {
        let pid = Pid::from_raw(42);
        assert_eq!(
            Ended(WaitStatus::Exited(pid, 3)).to_string(),
            "exit status 3"
        );
        assert_eq!(
            Ended(WaitStatus::Signaled(pid, Signal::SIGTERM, false)).to_string(),
            "killed by SIGTERM"
        );
        assert_eq!(
            Ended(WaitStatus::Signaled(pid, Signal::SIGSEGV, true)).to_string(),
            "killed by SIGSEGV (core dumped)"
        );
    }
}
