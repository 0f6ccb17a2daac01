//! Re-exec with every child kept: the supervisor writes its whole state
//! into a memfd, clears close-on-exec on exactly the descriptors that must
//! live on (each log pipe's two ends, each `supervise/`'s `lock`,
//! `control`'s two ends and `ok`, each open notification pipe, the
//! memfd), and execs its own binary with the same arguments and
//! `--init-reexec=<memfd>` after them (PID 1 reads no arguments, runsvdir
//! ignores trailing ones). The new process takes
//! the descriptors back and goes on with the same children: nothing is
//! restarted, `status` is not rewritten, and a child that exited during
//! the exec is a zombie that the loop's first reap hands to its service.
//!
//! The handover is numbers (8 bytes, little-endian) and byte strings (their
//! length, then the bytes), written and read by one small pair of types:
//! `MAGIC NFDS FD…` (every descriptor kept), `SHUTTING_DOWN ANY_READY
//! HOST_WORD PANICS PANIC_SINCE PATH`, then
//! per service `SLOTS DEV INO REMOVED MAIN_GONE PIPE_R PIPE_W NAME DIR` and
//! per slot (`run`, then `log/run`) the machine's [`Machine::words`], the
//! hook's pid, `supervise/lock`, `control`'s read and write ends, `ok`,
//! the notification pipe and the control bytes not yet handled; `SLOTS`
//! 0 ends it (a handover without that end is truncated).
//! What a damaged handover does not place is rebuilt from `supervise/status`
//! and the process table: a pid there that is still our child is adopted;
//! nothing is ever killed for being unplaced.
use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use nix::sys::signal::Signal;

use crate::machine::{Machine, RunState, Want};
use crate::options::Options;
use crate::service::{Notify, Owner, Service, Slot};
use crate::status::Status;
use crate::supervise_dir::Supervise;
use crate::supervisor::Supervisor;
use crate::sys;

/// The last argument of a re-exec'd process names the handover's
/// descriptor (systemd's `--deserialize=<fd>`).
const ARG: &str = "--init-reexec=";
/// The handover's first number ("initrx1\n" in its bytes).
const MAGIC: i64 = i64::from_le_bytes(*b"initrx1\n");
/// The signal that asks a supervisor (PID 1, `runsvdir`) to re-exec.
pub const SIGNAL: Signal = Signal::SIGQUIT;
/// This many panics within `PANIC_WINDOW_SECS` end the re-execs: PID 1
/// goes to its failure menu instead (the message says "third" and "60 s").
const PANIC_LIMIT: u32 = 3;
const PANIC_WINDOW_SECS: u64 = 60;

/// The handover's descriptor when this process was started by a re-exec.
pub fn handed_over() -> Option<i64> {
    let last = std::env::args_os().next_back()?;
    last.to_str()?.strip_prefix(ARG)?.parse().ok()
}

/// The binary to exec: the path this one was started from (a new binary
/// renamed over it is the upgrade), else `/proc/self/exe`.
pub fn own_path() -> PathBuf {
    match std::fs::read_link("/proc/self/exe") {
        Ok(p) => {
            let s = p.as_os_str().as_encoded_bytes();
            let s = s.strip_suffix(b" (deleted)").unwrap_or(s);
            PathBuf::from(String::from_utf8_lossy(s).into_owned())
        }
        Err(_) => "/proc/self/exe".into(),
    }
}

fn wall_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Called by PID 1's panic hook: re-exec the supervisor the event loop
/// was serving with every child kept. Returns (why not) when there is
/// none, the panics came too fast, or both execs failed.
pub fn reexec_after_panic() -> &'static str {
    let mut why = "the panic was outside the event loop";
    sys::with_current(|sup: &mut Supervisor| {
        let now = wall_secs();
        if now.saturating_sub(sup.panics.1) > PANIC_WINDOW_SECS {
            sup.panics = (0, now);
        }
        sup.panics.0 += 1;
        why = "the third panic within 60 s";
        if sup.panics.0 < PANIC_LIMIT {
            log::error!("re-executing after a panic, keeping every service");
            exec_self(sup);
            why = "it failed";
        }
    });
    why
}

/// Exec this binary again with every service: from the path it was
/// started from (a new binary there is the upgrade), else — that path
/// gone (PID 1 from an initramfs after switch_root) or not executable —
/// `/proc/self/exe`, the running binary. Returns when both failed, each
/// failure logged.
pub(crate) fn exec_self(sup: &mut Supervisor) {
    for path in [own_path(), PathBuf::from("/proc/self/exe")] {
        log::info!("re-exec: executing {}", path.display());
        let e = sup.reexec(&path);
        log::error!("re-exec: cannot execute {}: {e}", path.display());
    }
}

/// The handover being written: numbers as 8 bytes little-endian, byte
/// strings as their length and then the bytes.
#[derive(Default)]
struct Out(Vec<u8>);

impl Out {
    fn nums(&mut self, ns: &[i64]) {
        for n in ns {
            self.0.extend(n.to_le_bytes());
        }
    }
    fn bytes(&mut self, b: &[u8]) {
        self.nums(&[b.len() as i64]);
        self.0.extend(b);
    }
}

/// The handover being read; every read is `None` past its end.
struct In<'a>(&'a [u8]);

impl<'a> In<'a> {
    /// Fill `out` with the next numbers.
    fn fill(&mut self, out: &mut [i64]) -> Option<()> {
        for n in out {
            let (h, t) = self.0.split_first_chunk::<8>()?;
            self.0 = t;
            *n = i64::from_le_bytes(*h);
        }
        Some(())
    }
    fn num(&mut self) -> Option<i64> {
        let mut n = [0];
        self.fill(&mut n)?;
        Some(n[0])
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.num()?).ok()?;
        let (h, t) = self.0.split_at_checked(n)?;
        self.0 = t;
        Some(h)
    }
    fn text(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }
}

/// Take handed-over descriptor `n` (-1: none) unless it was taken before.
/// (The outer `None` is a damaged handover, the inner one "no descriptor".)
#[allow(clippy::option_option)]
fn take(n: i64, claimed: &mut Vec<i64>) -> Option<Option<OwnedFd>> {
    if n == -1 {
        return Some(None);
    }
    if claimed.contains(&n) {
        return None;
    }
    claimed.push(n);
    sys::adopt_fd(n).map(Some)
}

impl Supervisor {
    fn handover(&self) -> (Vec<u8>, Vec<RawFd>) {
        let now = Instant::now();
        let mut o = Out::default();
        let mut fds = Vec::new();
        o.nums(&[
            i64::from(self.shutting_down),
            i64::from(self.any_ready),
            self.host_word as i64,
            i64::from(self.panics.0),
            self.panics.1 as i64,
        ]);
        o.bytes(self.opts.path_env.as_encoded_bytes());
        for s in self.services.iter().flatten() {
            let p = s
                .pipe
                .as_ref()
                .map_or([-1, -1], |(r, w)| [r.as_raw_fd(), w.as_raw_fd()]);
            fds.extend(p);
            let slots: Vec<&Slot> = [Some(&s.main), s.log.as_ref()]
                .into_iter()
                .flatten()
                .collect();
            o.nums(&[
                slots.len() as i64,
                s.id.0 as i64,
                s.id.1 as i64,
                i64::from(s.removed),
                i64::from(s.main_gone_sent),
                p[0].into(),
                p[1].into(),
            ]);
            o.bytes(s.name.as_bytes());
            o.bytes(s.dir.as_os_str().as_encoded_bytes());
            for slot in slots {
                let k = slot.sup.kept_fds();
                let n = slot.notify.as_ref().map_or(-1, |n| n.fd.as_raw_fd());
                fds.extend(k);
                fds.push(n);
                o.nums(&slot.m.words(now));
                o.nums(&[
                    slot.hook_pid.unwrap_or(0).into(),
                    k[0].into(),
                    k[1].into(),
                    k[2].into(),
                    k[3].into(),
                    n.into(),
                ]);
                o.bytes(&slot.pending.iter().copied().collect::<Vec<u8>>());
            }
        }
        // No more services.
        o.nums(&[0]);
        fds.retain(|&f| f >= 0);
        // The descriptors first: after a damaged rest, those not placed
        // are still known, and closed.
        let mut head = Out::default();
        head.nums(&[MAGIC, fds.len() as i64]);
        head.nums(&fds.iter().map(|&f| i64::from(f)).collect::<Vec<_>>());
        head.0.extend(o.0);
        (head.0, fds)
    }

    /// Exec `path` with the whole state handed over (see the module docs).
    /// Returns only when that failed, with everything as it was.
    pub fn reexec(&mut self, path: &Path) -> std::io::Error {
        let (text, mut fds) = self.handover();
        let err = (|| {
            let memfd = rustix::fs::memfd_create("init-reexec", rustix::fs::MemfdFlags::empty())?;
            let mut f = std::fs::File::from(memfd);
            f.write_all(&text)?;
            fds.push(f.as_raw_fd());
            for &fd in &fds {
                sys::set_cloexec(fd, false);
            }
            let mark = format!("{ARG}{}", f.as_raw_fd());
            // The arguments this process was given, its own mark replaced.
            let mut args: Vec<_> = std::env::args_os().collect();
            if handed_over().is_some() {
                args.pop();
            }
            args.push(mark.into());
            let argv: Vec<&std::ffi::OsStr> = args.iter().map(AsRef::as_ref).collect();
            Ok(sys::Exec::new(path, &argv, None, None)?.exec())
        })()
        .unwrap_or_else(|e: std::io::Error| e);
        for &fd in &fds {
            sys::set_cloexec(fd, true);
        }
        err
    }

    /// The supervisor a re-exec handed over, with the host's word (what
    /// [`Supervisor::set_host_word`] was given); `None` when this process
    /// was not started by one. `svdir` and `opts` are what this process
    /// would supervise anyway: a damaged handover's services are found
    /// there again.
    pub fn resume(svdir: Option<&Path>, opts: Options) -> Option<anyhow::Result<(Self, u64)>> {
        let fd = handed_over()?;
        let mut text = Vec::new();
        let mut claimed = Vec::new();
        if let Some(Some(fd)) = take(fd, &mut claimed) {
            let mut f = std::fs::File::from(fd);
            let _ = f.rewind().and_then(|()| f.read_to_end(&mut text));
        }
        Some((|| {
            let mut sup = Supervisor::new(None, opts)?;
            let mut input = In(&text);
            let mut listed = Vec::new();
            let fds = (|| {
                let mut h = [0; 2];
                input.fill(&mut h)?;
                let n = usize::try_from(h[1]).ok()?;
                (h[0] == MAGIC && n <= input.0.len() / 8).then_some(())?;
                listed.resize(n, 0);
                input.fill(&mut listed)
            })();
            if fds
                .and_then(|()| sup.adopt(&mut input, &mut claimed))
                .is_none()
            {
                log::error!(
                    "re-exec: the handover is damaged at byte {} of {}: rebuilding the rest from supervise/ and the process table",
                    text.len() - input.0.len(),
                    text.len()
                );
            }
            // What a damaged part named is closed: the scan can lock and
            // open those directories again, and a log pipe's reader sees
            // its EOF when the writers end.
            for &n in listed.iter().filter(|n| !claimed.contains(n)) {
                drop(sys::adopt_fd(n));
            }
            sup.watch_svdir(svdir)?;
            log::info!("re-exec: supervising {} services again", sup.len());
            let word = sup.host_word;
            Ok((sup, word))
        })())
    }

    /// Take over every service the handover describes; `None` at the
    /// first record that cannot be used (what came before is adopted).
    fn adopt(&mut self, input: &mut In, claimed: &mut Vec<i64>) -> Option<()> {
        let now = Instant::now();
        let mut h = [0; 5];
        input.fill(&mut h)?;
        self.shutting_down = h[0] != 0;
        self.any_ready = h[1] != 0;
        self.host_word = h[2] as u64;
        self.panics = (h[3] as u32, h[4] as u64);
        self.opts.path_env = input.text()?.into();
        loop {
            let count = input.num()?;
            if count == 0 {
                return Some(());
            }
            let mut n = [0; 6];
            input.fill(&mut n)?;
            let name = input.text()?;
            let dir = PathBuf::from(input.text()?);
            let r = take(n[4], claimed)?;
            let w = take(n[5], claimed)?;
            let mut slots = Vec::new();
            for is_log in [false, true].into_iter().take(count as usize) {
                slots.push(Self::adopt_slot(&dir, is_log, input, now, claimed)?);
            }
            let mut slots = slots.into_iter();
            let (Some(Some(main)), log) = (slots.next(), slots.next()) else {
                // Its directory is found again by the scan, which adopts
                // the pid its status names.
                continue;
            };
            let idx = self.services.len();
            let svc = Service {
                idx,
                name: name.to_owned(),
                dir,
                id: (n[0] as u64, n[1] as u64),
                main,
                log: log.flatten(),
                pipe: r.zip(w),
                removed: n[2] != 0,
                main_gone_sent: n[3] != 0,
            };
            for slot in [Some(&svc.main), svc.log.as_ref()].into_iter().flatten() {
                for (pid, hook) in [(slot.m.pid, false), (slot.hook_pid, true)] {
                    if let Some(pid) = pid {
                        let owner = Owner {
                            idx,
                            is_log: slot.m.is_log,
                            hook,
                        };
                        self.pids.insert(pid, owner);
                    }
                }
            }
            self.services.push(Some(svc));
            self.feed(idx, false, None);
            self.feed(idx, true, None);
        }
    }

    /// One slot's record: `Some(None)` when its `supervise/` cannot be
    /// opened again (said in the log), `None` when the record is unusable.
    #[allow(clippy::option_option)]
    fn adopt_slot(
        dir: &Path,
        is_log: bool,
        input: &mut In,
        now: Instant,
        claimed: &mut Vec<i64>,
    ) -> Option<Option<Slot>> {
        let mut w = [0; 20];
        input.fill(&mut w)?;
        let pending = input.bytes()?.iter().copied().collect();
        let m = Machine::from_words(is_log, w.first_chunk()?, now)?;
        let hook_pid = u32::try_from(w[14]).ok()?;
        let mut fd = |i: usize| take(w[i], claimed);
        let (lock, c, cw, ok, notify) = (fd(15)?, fd(16)?, fd(17)?, fd(18)?, fd(19)?);
        let (slot_dir, prefix) = if is_log {
            (dir.join("log"), "log/")
        } else {
            (dir.to_path_buf(), "")
        };
        let kept = match (lock, c, cw) {
            (Some(l), Some(c), Some(w)) => Some((l, c, w, ok)),
            _ => None,
        };
        let sup = match Supervise::open_kept(&slot_dir, prefix, kept) {
            Ok(s) => s,
            Err(e) => {
                log::error!("re-exec: {}: {e}", slot_dir.display());
                return Some(None);
            }
        };
        let mut slot = Slot::new(m, sup);
        slot.pending = pending;
        slot.hook_pid = Some(hook_pid).filter(|&p| p != 0);
        slot.notify = notify.map(|fd| Notify {
            fd,
            registered: false,
        });
        Some(Some(slot))
    }
}

/// Whether `pid` is a child of this process (running or a zombie):
/// waitid(2) without reaping it.
fn is_child(pid: u32) -> bool {
    use nix::sys::wait::{waitid, Id, WaitPidFlag};
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    waitid(Id::Pid(nix::unistd::Pid::from_raw(pid as i32)), flags).is_ok()
}

impl Service {
    /// A service just found whose `supervise/status` names a pid that is
    /// our child and no other slot's (left by a damaged re-exec handover):
    /// that process is the slot's running one, adopted, not restarted.
    /// False when there is none.
    pub(crate) fn recover(&mut self, is_log: bool, pids: &mut crate::service::Pids) -> bool {
        let idx = self.idx;
        let Some(slot) = self.slot_mut(is_log) else {
            return false;
        };
        let st = std::fs::read(slot.sup.dir().join("status"))
            .ok()
            .and_then(|b| Status::decode(&b));
        let Some(st) = st.filter(|s| s.pid != 0 && !pids.has(s.pid) && is_child(s.pid)) else {
            return false;
        };
        let m = &mut slot.m;
        m.state = RunState::Run;
        m.pid = Some(st.pid);
        m.stamp = st.stamp;
        m.want = if st.want == b'd' {
            Want::Down
        } else {
            Want::Up
        };
        m.paused = st.paused;
        m.last_start = Some(Instant::now());
        // The same bytes again; it opens `ok`, so `sv` finds us.
        let _ = slot.sup.write(&m.status(), &m.stat());
        pids.insert(
            st.pid,
            Owner {
                idx,
                is_log,
                hook: false,
            },
        );
        log::warn!(
            "re-exec: {}: pid {} adopted from its supervise/status",
            slot.sup.dir().display(),
            st.pid
        );
        true
    }
}
