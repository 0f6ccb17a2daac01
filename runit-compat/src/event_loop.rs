//! The single event loop: a signalfd (SIGCHLD, SIGALRM and the host's
//! signals) and every supervisor fd in one epoll set; the loop sleeps
//! exactly until the next deadline (a restart delay or the host's) and
//! never runs a periodic timer.
use std::os::fd::AsFd;
use std::time::Instant;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use rustix::event::epoll;

use crate::supervisor::{Supervisor, TOKEN_SIGNAL};

/// What the host wants the loop to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// The program around the supervisor (PID 1, or the runsv/runsvdir applets).
pub trait Host {
    /// A signal from the `signals` set passed to run() arrived (never
    /// SIGCHLD; SIGALRM is first used by the supervisor to rescan, then
    /// passed on if in the set).
    fn on_signal(&mut self, sup: &mut Supervisor, signal: Signal) -> Flow;
    /// A child that is not a supervised process exited.
    fn on_reaped(
        &mut self,
        sup: &mut Supervisor,
        pid: nix::unistd::Pid,
        status: WaitStatus,
    ) -> Flow;
    /// When the loop must wake up for the host (None: no host timer).
    fn deadline(&self) -> Option<Instant>;
    /// Called after every wake-up of the loop (events handled).
    fn on_tick(&mut self, sup: &mut Supervisor, now: Instant) -> Flow;
    /// A file descriptor the host registered with [`Supervisor::watch_fd`]
    /// is readable; `token` is the one it gave (at least [`HOST_TOKENS`]).
    fn on_ready(&mut self, _sup: &mut Supervisor, _token: u64) -> Flow {
        Flow::Continue
    }
}

/// The first epoll token of the host's own descriptors: the supervisor's
/// tokens (one pair per service slot) stay far below it, its readiness
/// pipes' (the slot's token with bit 63) above [`HOST_TOKENS_END`].
pub const HOST_TOKENS: u64 = 1 << 48;
/// One past the host's last token.
pub const HOST_TOKENS_END: u64 = 1 << 62;

/// Run until the host returns `Flow::Stop`. Blocks SIGCHLD, SIGALRM and
/// `signals` in the calling thread (they stay blocked on return).
pub fn run(sup: &mut Supervisor, host: &mut dyn Host, signals: &[Signal]) -> anyhow::Result<()> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    mask.add(Signal::SIGALRM);
    mask.add(crate::reexec::SIGNAL);
    for &s in signals {
        mask.add(s);
    }
    mask.thread_block().map_err(std::io::Error::from)?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(std::io::Error::from)?;
    epoll::add(
        &sup.epoll,
        sfd.as_fd(),
        epoll::EventData::new_u64(TOKEN_SIGNAL),
        epoll::EventFlags::IN,
    )?;
    crate::sys::set_current(Some(sup));
    let result = event_loop(sup, host, signals, &sfd);
    crate::sys::set_current::<Supervisor>(None);
    let _ = epoll::delete(&sup.epoll, sfd.as_fd());
    result
}

fn event_loop(
    sup: &mut Supervisor,
    host: &mut dyn Host,
    signals: &[Signal],
    sfd: &SignalFd,
) -> anyhow::Result<()> {
    // Children may have exited before the signalfd existed.
    if reap(sup, host) == Flow::Stop {
        return Ok(());
    }
    if host.on_tick(sup, Instant::now()) == Flow::Stop {
        return Ok(());
    }
    let mut events: Vec<epoll::Event> = Vec::with_capacity(64);
    loop {
        let deadline = match (sup.deadline(), host.deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = deadline.map(|d| {
            let left = d.saturating_duration_since(Instant::now());
            rustix::event::Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            }
        });
        events.clear();
        match epoll::wait(
            &sup.epoll,
            rustix::buffer::spare_capacity(&mut events),
            timeout.as_ref(),
        ) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let mut got_signal = false;
        let mut ready = Vec::new();
        for ev in &events {
            let t = ev.data.u64();
            if t == TOKEN_SIGNAL {
                got_signal = true;
            } else {
                ready.push(t);
            }
        }
        if got_signal && handle_signals(sup, host, signals, sfd)? == Flow::Stop {
            return Ok(());
        }
        for t in ready {
            if !(HOST_TOKENS..HOST_TOKENS_END).contains(&t) {
                sup.ready(t);
            } else if host.on_ready(sup, t) == Flow::Stop {
                return Ok(());
            }
        }
        let now = Instant::now();
        sup.tick(now);
        if host.on_tick(sup, now) == Flow::Stop {
            return Ok(());
        }
    }
}

fn handle_signals(
    sup: &mut Supervisor,
    host: &mut dyn Host,
    signals: &[Signal],
    sfd: &SignalFd,
) -> anyhow::Result<Flow> {
    let mut chld = false;
    let mut got = Vec::new();
    while let Some(info) = sfd.read_signal().map_err(std::io::Error::from)? {
        let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
            continue;
        };
        if sig == Signal::SIGCHLD {
            chld = true;
        } else if !got.contains(&sig) {
            got.push(sig);
        }
    }
    if chld && reap(sup, host) == Flow::Stop {
        return Ok(Flow::Stop);
    }
    for sig in got {
        if sig == Signal::SIGALRM {
            sup.rescan();
        }
        if sig == crate::reexec::SIGNAL {
            crate::reexec::exec_self(sup);
            log::error!("re-exec: going on with this binary");
        }
        if signals.contains(&sig) && host.on_signal(sup, sig) == Flow::Stop {
            return Ok(Flow::Stop);
        }
    }
    Ok(Flow::Continue)
}

/// waitpid(-1, WNOHANG) until nothing is left; supervised children go to
/// the supervisor, the rest to the host.
fn reap(sup: &mut Supervisor, host: &mut dyn Host) -> Flow {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return Flow::Continue,
            Ok(st) => {
                let Some(pid) = st.pid() else { continue };
                if !sup.reaped(pid.as_raw() as u32, st)
                    && host.on_reaped(sup, pid, st) == Flow::Stop
                {
                    return Flow::Stop;
                }
            }
        }
    }
}
