//! `Supervisor`: every service of one directory (or exactly one service
//! for `runsv`), their fds in one epoll set, the pid table, scanning with
//! inotify, shutdown.
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use nix::sys::wait::WaitStatus;
use rustix::event::epoll;

use crate::machine::{Event, ExitInfo};
use crate::options::Options;
use crate::scan;
use crate::service::{Pids, Service, Slot};
use crate::supervise_dir::SuperviseError;

/// epoll token of the loop's signalfd.
pub(crate) const TOKEN_SIGNAL: u64 = 0;
const TOKEN_INOTIFY: u64 = 1;
const TOKEN_FIRST_SLOT: u64 = 2;
/// Set in a slot's token for its notification pipe (else its control FIFO).
const TOKEN_NOTIFY: u64 = 1 << 63;

/// With no timer of its own, the supervisor rescans on any wake-up at
/// least this long after the previous scan (a safety net for missed
/// inotify events that costs no wake-ups at rest).
pub const SAFETY_RESCAN: Duration = Duration::from_secs(crate::options::MINUTE_SECS);

/// Supervises services with runit's on-disk protocol from one process.
pub struct Supervisor {
    pub(crate) opts: Options,
    pub(crate) svdir: Option<PathBuf>,
    pub(crate) epoll: OwnedFd,
    inotify: Option<Inotify>,
    /// The watched directories: every one holding a symlink of the
    /// service directory's path, and the directory it leads to now.
    watches: Vec<WatchDescriptor>,
    pub(crate) services: Vec<Option<Service>>,
    pub(crate) pids: Pids,
    pub(crate) shutting_down: bool,
    last_scan: Instant,
    /// Some service has been ready (for PID 1's boot times).
    pub(crate) any_ready: bool,
    /// The host's state for a re-exec ([`Supervisor::set_host_word`]).
    pub(crate) host_word: u64,
    /// Panics that re-exec'd so far, and since when (wall seconds).
    pub(crate) panics: (u32, u64),
}

fn token(idx: usize, is_log: bool) -> u64 {
    TOKEN_FIRST_SLOT + 2 * idx as u64 + u64::from(is_log)
}

fn exit_info(st: WaitStatus) -> ExitInfo {
    match st {
        WaitStatus::Exited(_, code) => ExitInfo { code, signal: 0 },
        WaitStatus::Signaled(_, sig, _) => ExitInfo {
            code: -1,
            signal: sig as i32,
        },
        _ => ExitInfo {
            code: -1,
            signal: 0,
        },
    }
}

impl Supervisor {
    /// A supervisor with nothing to supervise yet, around `epoll`.
    fn idle(opts: Options, epoll: OwnedFd) -> Self {
        Supervisor {
            opts,
            svdir: None,
            epoll,
            inotify: None,
            watches: Vec::new(),
            services: Vec::new(),
            pids: Pids::default(),
            shutting_down: false,
            last_scan: Instant::now(),
            any_ready: false,
            host_word: 0,
            panics: (0, 0),
        }
    }

    /// Supervise every service under `svdir` (None: supervise nothing).
    // Not inlined: PID 1, runsvdir and a re-exec's resume share one copy.
    #[inline(never)]
    pub fn new(svdir: Option<&Path>, opts: Options) -> anyhow::Result<Self> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let mut sup = Supervisor::idle(opts, epoll);
        sup.watch_svdir(svdir)?;
        Ok(sup)
    }

    /// Supervise every service under `svdir` (if any) from now on.
    pub(crate) fn watch_svdir(&mut self, svdir: Option<&Path>) -> anyhow::Result<()> {
        if let Some(dir) = svdir {
            self.svdir = Some(std::path::absolute(dir)?);
            let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
                .map_err(std::io::Error::from)?;
            epoll::add(
                &self.epoll,
                ino.as_fd(),
                epoll::EventData::new_u64(TOKEN_INOTIFY),
                epoll::EventFlags::IN,
            )?;
            self.inotify = Some(ino);
            self.rescan();
        }
        Ok(())
    }

    /// What the host needs back after a re-exec ([`Supervisor::resume`]).
    pub fn set_host_word(&mut self, word: u64) {
        self.host_word = word;
    }

    /// Supervise exactly one service directory (runsv).
    pub fn single(dir: &Path, opts: Options) -> Result<Self, SuperviseError> {
        let err = |what: &str| {
            let what = what.to_string();
            move |e: std::io::Error| SuperviseError { what, err: e }
        };
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)
            .map_err(|e| err("unable to create epoll")(e.into()))?;
        let mut sup = Supervisor::idle(opts, epoll);
        let md = std::fs::metadata(dir).map_err(err("unable to change to directory"))?;
        if !md.is_dir() {
            return Err(err("unable to change to directory")(
                std::io::Error::from_raw_os_error(20),
            ));
        }
        let abs = std::path::absolute(dir).map_err(err("unable to change to directory"))?;
        let id = {
            use std::os::unix::fs::MetadataExt;
            (md.dev(), md.ino())
        };
        let svc = Service::open(0, dir.display().to_string(), &abs, id)?;
        sup.insert(svc);
        Ok(sup)
    }

    /// Shutdown: every service wants exit (TERM then CONT, finish runs);
    /// each log service stops once its main service is down and the pipe
    /// is drained (it sees EOF). No more scanning.
    pub fn begin_shutdown(&mut self) {
        self.shutting_down = true;
        for idx in 0..self.services.len() {
            self.feed(idx, false, Some(Event::Control(b'x')));
        }
    }

    /// True once every supervised process (run, finish, log, hooks) has exited.
    pub fn all_down(&self) -> bool {
        self.services.iter().flatten().all(Service::no_processes)
    }

    /// The names of the services that still have a process (run, finish,
    /// log, hook), in the order they were found: who a shutdown waits for.
    pub fn running(&self) -> Vec<String> {
        self.services
            .iter()
            .flatten()
            .filter(|s| !s.no_processes())
            .map(|s| s.name.clone())
            .collect()
    }

    /// No service is supervised any more (all exited after `x`/shutdown).
    pub fn is_empty(&self) -> bool {
        self.services.iter().all(Option::is_none)
    }

    /// SIGKILL every remaining supervised process (and its process group).
    pub fn kill_all(&mut self) {
        for pid in self.services.iter().flatten().flat_map(Service::pids) {
            let p = rustix::process::Pid::from_raw(pid as i32);
            if let Some(p) = p {
                let _ = rustix::process::kill_process_group(p, rustix::process::Signal::KILL);
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            }
        }
    }

    /// Send control byte `c` to the service at index 0 (runsv's SIGTERM).
    pub fn control_first(&mut self, c: u8) {
        if !self.services.is_empty() {
            self.feed(0, false, Some(Event::Control(c)));
        }
    }

    /// True once any run process has written its readiness newline.
    pub fn any_ready(&self) -> bool {
        self.any_ready
    }

    /// Number of supervised service directories.
    pub fn len(&self) -> usize {
        self.services.iter().flatten().count()
    }

    fn insert(&mut self, mut svc: Service) {
        let idx = self
            .services
            .iter()
            .position(Option::is_none)
            .unwrap_or(self.services.len());
        if idx == self.services.len() {
            self.services.push(None);
        }
        svc.idx = idx;
        log::info!("runsvdir: supervising {}", svc.name);
        self.services[idx] = Some(svc);
        for is_log in [false, true] {
            let Some(s) = self.services[idx]
                .as_mut()
                .filter(|s| s.slot(is_log).is_some())
            else {
                continue;
            };
            let begin = !s.recover(is_log, &mut self.pids);
            self.feed(idx, is_log, begin.then_some(Event::Begin));
        }
    }

    pub(crate) fn feed(&mut self, idx: usize, is_log: bool, ev: Option<Event>) {
        let Some(svc) = self.services.get_mut(idx).and_then(Option::as_mut) else {
            return;
        };
        svc.feed(is_log, ev, &mut self.pids, &self.opts.path_env);
        if svc.main.m.is_gone() {
            svc.main_gone(&mut self.pids, &self.opts.path_env);
        }
        if svc.is_gone() {
            let svc = self.services[idx].take().expect("checked above");
            for s in [Some(&svc.main), svc.log.as_ref()].into_iter().flatten() {
                if s.registered {
                    let _ = epoll::delete(&self.epoll, &s.sup.control);
                }
            }
            log::info!("runsvdir: {} stopped and released", svc.name);
            return;
        }
        let svc = self.services[idx].as_mut().expect("checked above");
        for is_log in [false, true] {
            let (name, Some(s)) = svc.named_slot_mut(is_log) else {
                continue;
            };
            let want = !s.m.hook_pending();
            if want != s.reading {
                let flags = if want {
                    epoll::EventFlags::IN
                } else {
                    epoll::EventFlags::empty()
                };
                let data = epoll::EventData::new_u64(token(idx, is_log));
                let r = if s.registered {
                    epoll::modify(&self.epoll, &s.sup.control, data, flags)
                } else {
                    epoll::add(&self.epoll, &s.sup.control, data, flags)
                };
                match r {
                    Ok(()) => {
                        s.reading = want;
                        s.registered = true;
                    }
                    Err(e) => {
                        log::error!("runsv {name}: epoll_ctl on supervise/control: {e}");
                    }
                }
            }
            // Level-triggered: a pipe with unread bytes and no newline wakes
            // the loop again, an idle one never does.
            if let Some(n) = s.notify.as_mut().filter(|n| !n.registered) {
                let data = epoll::EventData::new_u64(token(idx, is_log) | TOKEN_NOTIFY);
                match epoll::add(&self.epoll, &n.fd, data, epoll::EventFlags::IN) {
                    Ok(()) => n.registered = true,
                    Err(e) => {
                        log::error!(
                            "runsv {name}: epoll_ctl on the notification pipe: {e}; not ready until the next start"
                        );
                        s.notify = None;
                    }
                }
            }
        }
    }

    /// Stop reading `slot`'s notification pipe and close it.
    fn close_notify(epoll: &OwnedFd, slot: &mut Slot) {
        if let Some(n) = slot.notify.take() {
            if n.registered {
                let _ = epoll::delete(epoll, &n.fd);
            }
        }
    }

    /// The notification pipe of slot (`idx`, `is_log`) is readable: the
    /// first newline makes its run process ready; EOF before one means it
    /// never is during this run. Either way the pipe is done.
    fn notified(&mut self, idx: usize, is_log: bool) {
        let Some(svc) = self.services.get_mut(idx).and_then(Option::as_mut) else {
            return;
        };
        let Some(slot) = svc.slot_mut(is_log) else {
            return;
        };
        let Some(n) = &slot.notify else { return };
        let mut buf = [0u8; 128];
        let ready = match rustix::io::read(&n.fd, &mut buf) {
            Ok(k) if buf[..k].contains(&b'\n') => true,
            // EOF; a pipe's read end has no other error to report.
            Ok(0) => false,
            Err(e) if e != rustix::io::Errno::AGAIN && e != rustix::io::Errno::INTR => false,
            Ok(_) | Err(_) => return,
        };
        Self::close_notify(&self.epoll, slot);
        if ready {
            self.any_ready = true;
            self.feed(idx, is_log, Some(Event::Ready));
        }
    }

    /// Wake the loop when `fd` is readable: the host's
    /// [`Host::on_ready`](crate::Host::on_ready) gets `token` (at least
    /// [`HOST_TOKENS`](crate::HOST_TOKENS)). The fd stays the host's; it
    /// leaves the set when closed.
    pub fn watch_fd(&self, fd: std::os::fd::BorrowedFd<'_>, token: u64) -> std::io::Result<()> {
        epoll::add(
            &self.epoll,
            fd,
            epoll::EventData::new_u64(token),
            epoll::EventFlags::IN,
        )?;
        Ok(())
    }

    /// A readiness event for `token` (not the signalfd).
    pub(crate) fn ready(&mut self, token: u64) {
        if token == TOKEN_INOTIFY {
            if let Some(ino) = &self.inotify {
                while ino.read_events().is_ok_and(|v| !v.is_empty()) {}
            }
            self.rescan();
            return;
        }
        let Some(t) = (token & !TOKEN_NOTIFY).checked_sub(TOKEN_FIRST_SLOT) else {
            return;
        };
        let (idx, is_log) = ((t / 2) as usize, t % 2 == 1);
        if token & TOKEN_NOTIFY != 0 {
            self.notified(idx, is_log);
            return;
        }
        let Some(svc) = self.services.get_mut(idx).and_then(Option::as_mut) else {
            return;
        };
        let Some(slot) = svc.slot_mut(is_log) else {
            return;
        };
        let mut buf = [0u8; 128];
        match rustix::io::read(&slot.sup.control, &mut buf) {
            Ok(n) => slot.pending.extend(&buf[..n]),
            Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => return,
            Err(e) => {
                log::warn!("runsv {}: unable to read supervise/control: {e}", svc.name);
                return;
            }
        }
        self.feed(idx, is_log, None);
    }

    /// A child was reaped; false if it is not ours.
    pub(crate) fn reaped(&mut self, pid: u32, st: WaitStatus) -> bool {
        let Some(owner) = self.pids.remove(pid) else {
            return false;
        };
        let slot = self
            .services
            .get_mut(owner.idx)
            .and_then(Option::as_mut)
            .and_then(|s| s.slot_mut(owner.is_log));
        let ev = if owner.hook {
            if let Some(s) = slot {
                s.hook_pid = None;
            }
            Event::HookDone(matches!(st, WaitStatus::Exited(_, 0)))
        } else {
            // Its children may hold the write end on: the pipe ends here,
            // before a restart (in this feed) opens the next one.
            if let Some(s) = slot {
                Self::close_notify(&self.epoll, s);
            }
            Event::Exited(exit_info(st))
        };
        self.feed(owner.idx, owner.is_log, Some(ev));
        true
    }

    /// The earliest pending restart.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.services
            .iter()
            .flatten()
            .flat_map(|s| [Some(&s.main), s.log.as_ref()])
            .flatten()
            .filter_map(|s| s.m.deadline())
            .min()
    }

    /// Fire due restart timers; rescan if the last scan is old.
    pub(crate) fn tick(&mut self, now: Instant) {
        for idx in 0..self.services.len() {
            for is_log in [false, true] {
                let due = self.services[idx]
                    .as_ref()
                    .and_then(|s| s.slot(is_log))
                    .and_then(|s| s.m.deadline())
                    .is_some_and(|d| d <= now);
                if due {
                    self.feed(idx, is_log, Some(Event::Timer));
                }
            }
        }
        if self.svdir.is_some() && now.duration_since(self.last_scan) >= SAFETY_RESCAN {
            self.rescan();
        }
    }

    /// Watch `svdir` by name: the directories of each symlink on its path
    /// and the directory it leads to; watches no longer on the path are
    /// dropped (a swapped `current` moves the watch to the new directory).
    fn watch(&mut self, svdir: &Path) {
        let Some(ino) = &self.inotify else {
            return;
        };
        let mask = AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_MOVE_SELF;
        let mut now = Vec::new();
        for dir in scan::watch_dirs(svdir) {
            match ino.add_watch(&dir, mask) {
                Ok(wd) => now.push(wd),
                Err(e) => log::warn!(
                    "runsvdir {}: unable to add watch to inotify instance: {}",
                    dir.display(),
                    std::io::Error::from(e)
                ),
            }
        }
        for wd in self.watches.drain(..) {
            if !now.contains(&wd) {
                let _ = ino.rm_watch(wd);
            }
        }
        self.watches = now;
    }

    /// Scan the service directory: start new services, stop removed ones.
    pub fn rescan(&mut self) {
        let Some(svdir) = self.svdir.clone() else {
            return;
        };
        if self.shutting_down {
            return;
        }
        self.last_scan = Instant::now();
        self.watch(&svdir);
        let found = match scan::list(&svdir) {
            Ok(f) => f,
            // Missing: most likely a link between two renames (runsvchdir);
            // the rename's event rescans.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                log::info!("runsvdir {}: {e}", svdir.display());
                return;
            }
            Err(e) => {
                log::warn!(
                    "runsvdir {}: unable to read directory: {e}",
                    svdir.display()
                );
                return;
            }
        };
        let have: Vec<(u64, u64)> = self
            .services
            .iter()
            .flatten()
            .filter(|s| !s.removed)
            .map(|s| s.id)
            .collect();
        let d = scan::diff(&have, &found);
        for id in d.removed {
            let idx = self
                .services
                .iter()
                .flatten()
                .find(|s| s.id == id && !s.removed)
                .map(|s| s.idx);
            if let Some(idx) = idx {
                if let Some(s) = self.services[idx].as_mut() {
                    log::info!("runsvdir: {} removed, stopping it", s.name);
                    s.removed = true;
                }
                self.feed(idx, false, Some(Event::Control(b'x')));
            }
        }
        for f in d.added {
            let name = f.name.to_string_lossy().into_owned();
            // The real directory, as runsv's cwd: writes keep reaching it
            // after the service root's links have been swapped.
            let dir = svdir.join(&f.name);
            let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
            match Service::open(0, name.clone(), &dir, f.id) {
                Ok(svc) => self.insert(svc),
                Err(e) => log::warn!("runsv {name}: fatal: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn names(sup: &Supervisor) -> Vec<&str> {
        let mut v: Vec<&str> = sup
            .services
            .iter()
            .flatten()
            .map(|s| s.name.as_str())
            .collect();
        v.sort_unstable();
        v
    }

    /// PID 1's own supervisor follows `service -> runsvdir/current -> a`
    /// when `current` is renamed over (runsvchdir): x (only in a) goes, y
    /// (only in b) comes, c (in both) is the same entry throughout.
    #[test]
    fn follows_a_swapped_current_link() {
        use std::os::unix::fs::symlink;
        let dir = std::env::temp_dir().join(format!("runit-follow-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for name in ["x", "y", "c"] {
            let svc = dir.join("sv").join(name);
            std::fs::create_dir_all(&svc).unwrap();
            // Down: nothing is started, and x is released at once.
            std::fs::write(svc.join("down"), "").unwrap();
        }
        let rsv = dir.join("runsvdir");
        for (lvl, name) in [("a", "x"), ("a", "c"), ("b", "y"), ("b", "c")] {
            std::fs::create_dir_all(rsv.join(lvl)).unwrap();
            symlink(dir.join("sv").join(name), rsv.join(lvl).join(name)).unwrap();
        }
        symlink("a", rsv.join("current")).unwrap();
        symlink(rsv.join("current"), dir.join("service")).unwrap();
        let mut sup = Supervisor::new(Some(&dir.join("service")), Options::default()).unwrap();
        assert_eq!(names(&sup), ["c", "x"]);
        let c_idx = sup
            .services
            .iter()
            .flatten()
            .find(|s| s.name == "c")
            .unwrap()
            .idx;
        symlink("b", rsv.join("current.new")).unwrap();
        std::fs::rename(rsv.join("current.new"), rsv.join("current")).unwrap();
        // The rename is an inotify event on runsvdir/, which is watched.
        let ino = sup.inotify.as_ref().unwrap();
        let mut fds = [rustix::event::PollFd::new(
            ino,
            rustix::event::PollFlags::IN,
        )];
        let timeout = rustix::event::Timespec {
            tv_sec: 2,
            tv_nsec: 0,
        };
        assert_eq!(rustix::event::poll(&mut fds, Some(&timeout)).unwrap(), 1);
        sup.ready(TOKEN_INOTIFY);
        assert_eq!(names(&sup), ["c", "y"]);
        let c = sup
            .services
            .iter()
            .flatten()
            .find(|s| s.name == "c")
            .unwrap();
        assert!(c.idx == c_idx && !c.removed);
        // Supervised in its real directory, whatever the links do later.
        assert_eq!(c.dir, std::fs::canonicalize(dir.join("sv/c")).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// `running()` names the services that still have a process, and only
    /// those: what the shutdown's SIGKILL line reports.
    #[test]
    fn running_names_services_with_live_processes() {
        let dir = std::env::temp_dir().join(format!("runit-running-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (name, down) in [("slow", false), ("idle", true)] {
            let svc = dir.join(name);
            std::fs::create_dir_all(&svc).unwrap();
            let run = svc.join("run");
            std::fs::write(&run, "#!/bin/sh\nexec sleep 30\n").unwrap();
            std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
            if down {
                std::fs::write(svc.join("down"), "").unwrap();
            }
        }
        let opts = Options {
            path_env: "/usr/bin:/bin".into(),
        };
        let mut sup = Supervisor::new(Some(&dir), opts).unwrap();
        assert_eq!(sup.len(), 2);
        assert_eq!(sup.running(), vec!["slow".to_owned()]);
        let pids: Vec<u32> = sup
            .services
            .iter()
            .flatten()
            .flat_map(Service::pids)
            .collect();
        assert_eq!(pids.len(), 1, "{pids:?}");
        // Want exit (TERM): no restart once it is reaped.
        sup.begin_shutdown();
        let pid = nix::unistd::Pid::from_raw(pids[0] as i32);
        let st = nix::sys::wait::waitpid(pid, None).unwrap();
        assert!(sup.reaped(pids[0], st));
        assert!(sup.running().is_empty(), "{:?}", sup.running());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
