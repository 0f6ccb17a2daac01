//! One supervised service directory (its `run`/`finish` slot and optional
//! `log/` slot) and the driver that performs the state machine's actions:
//! spawning, signalling, hooks, status files, the persistent log pipe.
use std::collections::VecDeque;
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rustix::pipe::{pipe_with, PipeFlags};

use crate::machine::{Action, Ctx, Event, Hooks, Machine, Program};
use crate::supervise_dir::{Supervise, SuperviseError};
use crate::sys::{self, Exec, Fd, Session};

/// Which of a slot's files one `feed` must write at its end.
#[derive(Default)]
struct Dirty {
    status: bool,
    ready: bool,
}

/// Who a child pid belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    pub idx: usize,
    pub is_log: bool,
    pub hook: bool,
}

/// The children of every service, by pid: a few per service, searched once
/// per reaped child. A Vec, not a `HashMap<u32, Owner>`: that map's own
/// hashing and resizing code cost dist/init about 2 KiB.
#[derive(Debug, Default)]
pub struct Pids(Vec<(u32, Owner)>);

impl Pids {
    /// Records `pid` as `owner`'s (replacing a stale entry of a reused pid).
    pub fn insert(&mut self, pid: u32, owner: Owner) {
        self.remove(pid);
        self.0.push((pid, owner));
    }

    pub fn has(&self, pid: u32) -> bool {
        self.0.iter().any(|&(p, _)| p == pid)
    }

    /// Forgets `pid`, returning whose it was.
    pub fn remove(&mut self, pid: u32) -> Option<Owner> {
        let at = self.0.iter().position(|&(p, _)| p == pid)?;
        Some(self.0.swap_remove(at).1)
    }
}

/// How often an unknown control byte may be logged per slot.
const UNKNOWN_LOG_EVERY: Duration = Duration::from_secs(crate::options::MINUTE_SECS);

/// The read end of the run process's notification pipe (`notification-fd`).
#[derive(Debug)]
pub struct Notify {
    pub fd: OwnedFd,
    /// In the supervisor's epoll set.
    pub registered: bool,
}

#[derive(Debug)]
pub struct Slot {
    pub m: Machine,
    pub sup: Supervise,
    /// Control bytes read but not yet handled (a hook is running).
    pub pending: VecDeque<u8>,
    pub hook_pid: Option<u32>,
    /// The control FIFO is in the epoll set with EPOLLIN.
    pub reading: bool,
    /// The control FIFO is in the epoll set at all.
    pub registered: bool,
    /// Open from the start of `run` until its first newline, EOF or exit.
    pub notify: Option<Notify>,
    /// A garbage `notification-fd` was reported (once per supervisor).
    notify_warned: bool,
    unknown_logged: Option<Instant>,
    write_failed: bool,
}

#[derive(Debug)]
pub struct Service {
    pub idx: usize,
    pub name: String,
    pub dir: PathBuf,
    pub id: (u64, u64),
    pub main: Slot,
    pub log: Option<Slot>,
    /// The log pipe: created once, held until the main service is gone.
    pub(crate) pipe: Option<(OwnedFd, OwnedFd)>,
    pub removed: bool,
    pub main_gone_sent: bool,
}

fn exists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok() && std::fs::metadata(p).is_ok()
}

impl Service {
    /// Open `dir` for supervision: `down` read once, `log/` detected,
    /// `supervise/` (and `log/supervise/`) created and locked.
    pub fn open(
        idx: usize,
        name: String,
        dir: &Path,
        id: (u64, u64),
    ) -> Result<Service, SuperviseError> {
        let wall = SystemTime::now();
        let main_sup = Supervise::open(dir, "")?;
        let logdir = dir.join("log");
        let has_log = std::fs::metadata(&logdir).is_ok_and(|m| m.is_dir());
        let (log, pipe) = if has_log {
            let sup = Supervise::open(&logdir, "log/")?;
            let pipe = pipe_with(PipeFlags::CLOEXEC).map_err(|e| SuperviseError {
                what: "unable to create log pipe".into(),
                err: e.into(),
            })?;
            let m = Machine::new(true, exists(&logdir.join("down")), wall);
            (Some(Slot::new(m, sup)), Some(pipe))
        } else {
            (None, None)
        };
        let m = Machine::new(false, exists(&dir.join("down")), wall);
        Ok(Service {
            idx,
            name,
            dir: dir.to_path_buf(),
            id,
            main: Slot::new(m, main_sup),
            log,
            pipe,
            removed: false,
            main_gone_sent: false,
        })
    }

    pub fn slot(&self, is_log: bool) -> Option<&Slot> {
        if is_log {
            self.log.as_ref()
        } else {
            Some(&self.main)
        }
    }

    pub fn slot_mut(&mut self, is_log: bool) -> Option<&mut Slot> {
        if is_log {
            self.log.as_mut()
        } else {
            Some(&mut self.main)
        }
    }

    /// The service's name beside one of its slots (both borrowed at once).
    pub fn named_slot_mut(&mut self, is_log: bool) -> (&str, Option<&mut Slot>) {
        let slot = if is_log {
            self.log.as_mut()
        } else {
            Some(&mut self.main)
        };
        (&self.name, slot)
    }

    fn label(&self, is_log: bool) -> String {
        if is_log {
            format!("{}/log", self.name)
        } else {
            self.name.clone()
        }
    }

    /// Handle `ev` (if any), then queued control bytes, performing every
    /// action; status files are written once at the end if anything changed.
    pub fn feed(&mut self, is_log: bool, ev: Option<Event>, pids: &mut Pids, path: &OsStr) {
        let mut evs: VecDeque<Event> = ev.into_iter().collect();
        let mut dirty = Dirty::default();
        let mut batch = None;
        loop {
            while let Some(ev) = evs.pop_front() {
                let ctx = self.ctx(is_log, ev, &mut batch);
                let Some(slot) = self.slot_mut(is_log) else {
                    return;
                };
                let actions = slot.m.step(ev, &ctx);
                for a in actions {
                    self.act(is_log, a, pids, path, &mut evs, &mut dirty);
                }
            }
            let Some(slot) = self.slot_mut(is_log) else {
                return;
            };
            if slot.m.hook_pending() {
                break;
            }
            match slot.pending.pop_front() {
                Some(c) => evs.push_back(Event::Control(c)),
                None => break,
            }
        }
        // Before status: a reader that sees the new status never finds
        // the record of the process it replaces (sv also checks the pid).
        if let (true, Some(s)) = (dirty.ready, self.slot(is_log)) {
            s.sup.write_ready(s.m.ready_record());
        }
        if dirty.status {
            self.write_status(is_log);
        }
    }

    fn act(
        &mut self,
        is_log: bool,
        a: Action,
        pids: &mut Pids,
        path: &OsStr,
        evs: &mut VecDeque<Event>,
        dirty: &mut Dirty,
    ) {
        let owner = Owner {
            idx: self.idx,
            is_log,
            hook: false,
        };
        match a {
            Action::WriteStatus => dirty.status = true,
            Action::WriteReady => dirty.ready = true,
            Action::Spawn(p) => match self.spawn(is_log, p, path) {
                Ok((pid, notify)) => {
                    pids.insert(pid, owner);
                    if let Some(s) = self.slot_mut(is_log) {
                        s.notify = notify.map(|fd| Notify {
                            fd,
                            registered: false,
                        });
                    }
                    evs.push_back(Event::Spawned(pid));
                }
                Err(e) => {
                    let what = if matches!(p, Program::Run) {
                        "run"
                    } else {
                        "finish"
                    };
                    log::warn!(
                        "runsv {}: unable to start ./{what}: {e}",
                        self.label(is_log)
                    );
                    evs.push_back(Event::SpawnFailed);
                }
            },
            Action::Signal(pid, sig) => {
                if let Err(e) = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig)
                {
                    let e = std::io::Error::from(e);
                    log::debug!("runsv {}: kill {pid} {sig}: {e}", self.label(is_log));
                }
            }
            Action::Hook(c) => match self.spawn_hook(c, path) {
                Ok(pid) => {
                    pids.insert(
                        pid,
                        Owner {
                            hook: true,
                            ..owner
                        },
                    );
                    if let Some(s) = self.slot_mut(is_log) {
                        s.hook_pid = Some(pid);
                    }
                }
                Err(e) => {
                    log::warn!(
                        "runsv {}: unable to run control/{}: {e}",
                        self.name,
                        c as char
                    );
                    evs.push_back(Event::HookDone(false));
                }
            },
            Action::Unknown(c) => {
                let label = self.label(is_log);
                if let Some(s) = self.slot_mut(is_log) {
                    let now = Instant::now();
                    if !matches!(s.unknown_logged, Some(t) if now.duration_since(t) < UNKNOWN_LOG_EVERY)
                    {
                        s.unknown_logged = Some(now);
                        log::warn!("runsv {label}: ignoring unknown control byte 0x{c:02x} (logged once a minute)");
                    }
                }
            }
        }
    }

    /// What the machine needs to know for `ev`. The clocks and the scan of
    /// `control/` are taken once per batch of events (`batch`, one `feed`):
    /// per event, a flood of control bytes cost two clock reads and 14
    /// stat(2)s per byte, over half a CPU under emulation at 10 kB/s.
    fn ctx(&self, is_log: bool, ev: Event, batch: &mut Option<Ctx>) -> Ctx {
        let base = *batch.get_or_insert_with(|| Ctx {
            now: Instant::now(),
            wall: SystemTime::now(),
            hooks: if is_log {
                Hooks::default()
            } else {
                scan_hooks(&self.dir)
            },
            has_finish: false,
        });
        let has_finish = !is_log
            && matches!(ev, Event::Exited(_) | Event::SpawnFailed)
            && std::fs::File::open(self.dir.join("finish")).is_ok();
        Ctx { has_finish, ..base }
    }

    fn write_status(&mut self, is_log: bool) {
        let label = self.label(is_log);
        let removed = self.removed;
        let Some(s) = self.slot_mut(is_log) else {
            return;
        };
        match s.sup.write(&s.m.status(), &s.m.stat()) {
            Ok(()) => s.write_failed = false,
            Err(e) => {
                if !s.write_failed && !removed {
                    log::warn!(
                        "runsv {label}: unable to write {}/status: {e}",
                        s.sup.dir().display()
                    );
                }
                s.write_failed = true;
            }
        }
    }

    fn slot_dir(&self, is_log: bool) -> PathBuf {
        if is_log {
            self.dir.join("log")
        } else {
            self.dir.clone()
        }
    }

    /// The descriptor `run` gets its notification pipe on, if the slot's
    /// directory declares one; a garbage declaration is reported once and
    /// the service runs without readiness.
    fn notification_fd(&mut self, is_log: bool) -> Option<i32> {
        let dir = self.slot_dir(is_log);
        let s = self.slot_mut(is_log)?;
        let declared = crate::readiness::declared(&dir);
        if declared.is_err() && !s.notify_warned {
            s.notify_warned = true;
            log::warn!(
                "runsv: {}/notification-fd is unreadable or not a number from 3 to 99: ./run starts without readiness notification",
                dir.display()
            );
        }
        declared.ok().flatten()
    }

    /// Start `run` or `finish`: its pid, and for a `run` that declares
    /// `notification-fd` the read end of its notification pipe.
    fn spawn(
        &mut self,
        is_log: bool,
        p: Program,
        path: &OsStr,
    ) -> std::io::Result<(u32, Option<OwnedFd>)> {
        let dir = self.slot_dir(is_log);
        let (prog, code, sig);
        let argv: Vec<&OsStr> = match p {
            Program::Run => {
                prog = dir.join("run");
                vec![OsStr::new("./run")]
            }
            Program::Finish(e) => {
                prog = dir.join("finish");
                code = e.code.to_string();
                sig = e.signal.to_string();
                vec![OsStr::new("./finish"), OsStr::new(&code), OsStr::new(&sig)]
            }
        };
        // Checked here so a missing or non-executable program is a clear
        // log line and a backoff; the child cannot report errors itself.
        rustix::fs::access(&prog, rustix::fs::Access::EXEC_OK).map_err(std::io::Error::from)?;
        let exec = Exec::new(&prog, &argv, Some(&[("PATH", path)]), Some(&dir))?;
        let notify = match p {
            Program::Run => self.notification_fd(is_log),
            Program::Finish(_) => None,
        };
        let notify = match notify {
            Some(n) => Some((n, notification_pipe()?)),
            None => None,
        };
        let (stdin, stdout) = match &self.pipe {
            Some((r, _)) if is_log => (Fd::Dup(r.as_fd()), Fd::Inherit),
            Some((_, w)) => (Fd::Inherit, Fd::Dup(w.as_fd())),
            None => (Fd::Inherit, Fd::Inherit),
        };
        let extra = notify.as_ref().map(|(n, (_, w))| (w.as_fd(), *n));
        let pid = sys::spawn_with(
            &exec,
            [stdin, stdout, Fd::Inherit],
            extra,
            Session::New,
            false,
        )?;
        // Our copy of the write end goes, so the run process's exit (or
        // its close) is EOF on the read end.
        Ok((pid, notify.map(|(_, (r, _))| r)))
    }

    fn spawn_hook(&self, c: u8, path: &OsStr) -> std::io::Result<u32> {
        let name = format!("control/{}", c as char);
        let pid = self.main.m.pid.map(|p| p.to_string()).unwrap_or_default();
        let exec = Exec::new(
            &self.dir.join(&name),
            &[OsStr::new(&name), OsStr::new(&pid)],
            Some(&[("PATH", path)]),
            Some(&self.dir),
        )?;
        let stdout = self
            .pipe
            .as_ref()
            .map_or(Fd::Inherit, |(_, w)| Fd::Dup(w.as_fd()));
        sys::spawn(
            &exec,
            [Fd::Inherit, stdout, Fd::Inherit],
            Session::New,
            true,
        )
    }

    /// The main service is down for good: close the log pipe (the logger
    /// drains it and sees EOF) and let the logger exit.
    pub fn main_gone(&mut self, pids: &mut Pids, path: &OsStr) {
        if self.main_gone_sent {
            return;
        }
        self.main_gone_sent = true;
        self.pipe = None;
        if self.log.is_some() {
            self.feed(true, Some(Event::MainGone), pids, path);
        }
    }

    /// Every slot is down for good (want exit).
    pub fn is_gone(&self) -> bool {
        self.main.m.is_gone() && !matches!(&self.log, Some(l) if !l.m.is_gone())
    }

    /// No process of this service (run, finish, log, hook) is alive.
    pub fn no_processes(&self) -> bool {
        [Some(&self.main), self.log.as_ref()]
            .into_iter()
            .flatten()
            .all(|s| s.m.pid.is_none() && s.hook_pid.is_none())
    }

    /// Every live pid (for kill_all).
    pub fn pids(&self) -> Vec<u32> {
        [Some(&self.main), self.log.as_ref()]
            .into_iter()
            .flatten()
            .flat_map(|s| [s.m.pid, s.hook_pid])
            .flatten()
            .collect()
    }
}

impl Slot {
    pub(crate) fn new(m: Machine, sup: Supervise) -> Slot {
        Slot {
            m,
            sup,
            pending: VecDeque::new(),
            hook_pid: None,
            reading: false,
            registered: false,
            notify: None,
            notify_warned: false,
            unknown_logged: None,
            write_failed: false,
        }
    }
}

/// A notification pipe: the read end non-blocking for the event loop, the
/// write end blocking (as s6 gives it) and above 2, where `spawn_with`
/// wants it; both close-on-exec.
fn notification_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let (r, mut w) = pipe_with(PipeFlags::CLOEXEC)?;
    rustix::io::ioctl_fionbio(&r, true)?;
    if w.as_raw_fd() < 3 {
        w = rustix::io::fcntl_dupfd_cloexec(&w, 3)?;
    }
    Ok((r, w))
}

/// Which `control/<c>` files exist and are owner-executable.
fn scan_hooks(dir: &Path) -> Hooks {
    let control = dir.join("control");
    if !control.is_dir() {
        return Hooks::default();
    }
    let mut h = Hooks::default();
    for &c in Hooks::candidates() {
        let p = control.join(OsStr::new(std::str::from_utf8(&[c]).unwrap_or("?")));
        if std::fs::metadata(&p).is_ok_and(|m| m.permissions().mode() & 0o100 != 0) {
            h = h.with(c);
        }
    }
    h
}
