//! What `sv` does to one service: read the status, print it, send
//! control bytes, and check whether a command has taken effect.
use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;

use nix::errno::Errno;
use rustix::fs::{Mode, OFlags};

use super::{Done, Sv};
use crate::errstr::error_str;
use crate::sys::{self, Exec, Fd, Session};

fn open(path: &str, flags: OFlags) -> Result<std::os::fd::OwnedFd, Errno> {
    rustix::fs::open(
        path,
        flags | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(crate::errstr::from_rustix)
}

/// What `notification-fd` and `supervise/ready` say of a running service.
#[derive(PartialEq, Eq)]
enum Readiness {
    /// No (valid) `notification-fd`: runit's meaning of "up".
    Undeclared,
    NotReady,
    /// Ready since these TAI64 seconds.
    Since(u64),
}

impl Sv {
    fn pid(&self) -> u32 {
        u32::from_le_bytes([
            self.svstatus[12],
            self.svstatus[13],
            self.svstatus[14],
            self.svstatus[15],
        ])
    }

    fn status_tai(&self) -> u64 {
        u64::from_be_bytes(self.svstatus[0..8].try_into().expect("8 bytes"))
    }

    /// 1: status read; 0: no supervisor (reported); -1: error (reported).
    pub(crate) fn svstatus_get(&mut self) -> i32 {
        match open("supervise/ok", OFlags::WRONLY) {
            Ok(_) => {}
            Err(Errno::ENXIO) => {
                if self.acts.first() == Some(&b'x') {
                    self.ok("runsv not running");
                } else {
                    self.fail("runsv not running", None);
                }
                return 0;
            }
            Err(e) => {
                self.warn("unable to open supervise/ok", Some(e));
                return -1;
            }
        }
        let fd = match open("supervise/status", OFlags::RDONLY) {
            Ok(fd) => fd,
            Err(e) => {
                self.warn("unable to open supervise/status", Some(e));
                return -1;
            }
        };
        let mut f = std::fs::File::from(fd);
        let mut buf = [0u8; 20];
        match f.read(&mut buf) {
            Ok(20) => {
                self.svstatus = buf;
                1
            }
            Ok(n) => {
                self.svstatus[..n].copy_from_slice(&buf[..n]);
                self.warn("unable to read supervise/status: bad format", None);
                -1
            }
            Err(e) => {
                self.warn(
                    "unable to read supervise/status",
                    e.raw_os_error().map(Errno::from_raw),
                );
                -1
            }
        }
    }

    /// Readiness of the running process of the service directory (the
    /// current one): ready if it declares `notification-fd` and its
    /// `supervise/ready` names the pid `status` names.
    fn readiness(&self) -> Readiness {
        if !matches!(crate::readiness::declared(Path::new(".")), Ok(Some(_))) {
            return Readiness::Undeclared;
        }
        let rec = std::fs::read("supervise/ready").unwrap_or_default();
        let mine = rec.len() == 16
            && self.pid() != 0
            && self.svstatus[19] == 1
            && rec[12..16] == self.svstatus[12..16];
        if mine {
            Readiness::Since(u64::from_be_bytes(rec[0..8].try_into().expect("8 bytes")))
        } else {
            Readiness::NotReady
        }
    }

    /// Up as far as readiness goes: not a running service that declares
    /// `notification-fd` and has not said it is ready.
    fn ready(&self) -> bool {
        self.readiness() != Readiness::NotReady
    }

    /// Print `run: NAME: (pid N) Ss, …`; returns 1 if up, 2 if down, 0 on error.
    pub(crate) fn svstatus_print(&mut self, m: &str) -> u32 {
        let normallyup = match std::fs::metadata("down") {
            Ok(_) => false,
            Err(e) if e.raw_os_error() == Some(Errno::ENOENT as i32) => true,
            Err(e) => {
                let e = e
                    .raw_os_error()
                    .map_or("unknown error", |n| error_str(Errno::from_raw(n)));
                eprintln!("warning: unable to stat {}/down: {e}", self.service);
                return 0;
            }
        };
        let pid = self.pid();
        let st = self.status_tai();
        match self.svstatus[19] {
            0 => self.outs("down: "),
            1 => self.outs("run: "),
            2 => self.outs("finish: "),
            _ => {}
        }
        let mut s = format!("{m}: ");
        if self.svstatus[19] != 0 {
            let _ = write!(s, "(pid {pid}) ");
        }
        let _ = write!(s, "{}s", self.tnow_tai.saturating_sub(st));
        // Ours only: what runit's sv cannot know. Nothing is added for a
        // service without `notification-fd`, so its line stays runit's.
        if self.svstatus[19] == 1 {
            match self.readiness() {
                Readiness::Since(t) => {
                    let _ = write!(s, ", ready {}s", self.tnow_tai.saturating_sub(t));
                }
                Readiness::NotReady => s.push_str(", not ready"),
                Readiness::Undeclared => {}
            }
        }
        if pid != 0 && !normallyup {
            s.push_str(", normally down");
        }
        if pid == 0 && normallyup {
            s.push_str(", normally up");
        }
        if pid != 0 && self.svstatus[16] != 0 {
            s.push_str(", paused");
        }
        if pid == 0 && self.svstatus[17] == b'u' {
            s.push_str(", want up");
        }
        if pid != 0 && self.svstatus[17] == b'd' {
            s.push_str(", want down");
        }
        if pid != 0 && self.svstatus[18] != 0 {
            s.push_str(", got TERM");
        }
        self.outs(&s);
        if pid != 0 {
            1
        } else {
            2
        }
    }

    /// `sv status`: the service, then `; ` and its log if there is one.
    pub(crate) fn status(&mut self) -> Result<i32, Done> {
        match self.svstatus_get() {
            -1 if self.lsb => return Err(self.done(4)),
            -1 | 0 => return Ok(0),
            _ => {}
        }
        let name = self.service.clone();
        let mut rc = self.svstatus_print(&name);
        self.islog = true;
        match nix::unistd::chdir(std::path::Path::new("log")) {
            Err(Errno::ENOENT) => self.outs("\n"),
            Err(e) => {
                self.outs("; ");
                self.warn("unable to change directory", Some(e));
            }
            Ok(()) => {
                self.outs("; ");
                // As runit: a failed read (-1) still prints what is in the buffer.
                if self.svstatus_get() != 0 {
                    rc = self.svstatus_print("log");
                    self.outs("\n");
                }
            }
        }
        self.islog = false;
        self.flush();
        if self.lsb {
            return Err(self.done(match rc {
                1 => 0,
                2 => 3,
                _ => 4,
            }));
        }
        Ok(rc as i32)
    }

    /// Run `./check` (stdout closed) if it exists; true if it says "up".
    fn checkscript(&mut self) -> bool {
        match std::fs::metadata("check") {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(Errno::ENOENT as i32) => return true,
            Err(e) => {
                eprintln!(
                    "warning: unable to stat {}/check: {}",
                    self.service,
                    crate::errstr::io_error_str(&e)
                );
                return false;
            }
        }
        let stdio = [Fd::Inherit, Fd::Close, Fd::Inherit];
        let check = Path::new("./check");
        match Exec::new(check, &[check.as_os_str()], None, None)
            .and_then(|exec| sys::spawn(&exec, stdio, Session::Keep, true))
            .and_then(sys::wait)
        {
            // As runit: only a non-zero exit code means "not yet".
            Ok(st) => st.code().unwrap_or(0) == 0,
            Err(e) => {
                eprintln!(
                    "warning: unable to run {}/check: {}",
                    self.service,
                    crate::errstr::io_error_str(&e)
                );
                true
            }
        }
    }

    /// Has every byte of `acts` taken effect? 1 yes (prints `ok: …`),
    /// 0 not yet, -1 give up.
    pub(crate) fn check(&mut self) -> i32 {
        let r = self.svstatus_get();
        if r == -1 {
            return -1;
        }
        let acts = self.acts.clone();
        for &a in &acts {
            if r == 0 {
                return if a == b'x' { 1 } else { -1 };
            }
            let c = if a == b'C' {
                if self.svstatus[17] == b'd' {
                    b'd'
                } else {
                    b'u'
                }
            } else {
                a
            };
            let pid = self.pid();
            let (state, want, paused, term) = (
                self.svstatus[19],
                self.svstatus[17],
                self.svstatus[16],
                self.svstatus[18],
            );
            let not_yet = match c {
                b'x' => true,
                b'u' => pid == 0 || state != 1 || !self.ready() || !self.checkscript(),
                b'd' => pid != 0 || state != 0,
                b't' | b'k' => {
                    !(pid == 0 && want == b'd')
                        && (self.tstart_tai > self.status_tai()
                            || pid == 0
                            || term != 0
                            || !self.ready()
                            || !self.checkscript())
                }
                b'o' => {
                    (pid == 0 && self.tstart_tai > self.status_tai()) || (pid != 0 && want != b'd')
                }
                b'p' => pid != 0 && paused == 0,
                b'c' => pid != 0 && paused != 0,
                _ => false,
            };
            if not_yet {
                return 0;
            }
        }
        self.outs("ok: ");
        let name = self.service.clone();
        self.svstatus_print(&name);
        self.outs("\n");
        self.flush();
        1
    }

    /// Write `acts` to `supervise/control` (unless already in effect).
    pub(crate) fn control(&mut self, acts: &[u8]) -> i32 {
        if self.svstatus_get() <= 0 {
            return -1;
        }
        if self.svstatus[17] == acts[0] && (acts[0] != b'd' || self.svstatus[18] == 1) {
            return 0;
        }
        let fd = match open("supervise/control", OFlags::WRONLY) {
            Ok(fd) => fd,
            Err(Errno::ENXIO) => {
                if acts[0] == b'x' {
                    self.ok("runsv not running");
                } else {
                    self.fail("runsv not running", None);
                }
                return -1;
            }
            Err(e) => {
                self.warn("unable to open supervise/control", Some(e));
                return -1;
            }
        };
        match rustix::io::write(&fd, acts) {
            Ok(n) if n == acts.len() => 1,
            Ok(_) => {
                self.warn("unable to write to supervise/control", None);
                -1
            }
            Err(e) => {
                self.warn(
                    "unable to write to supervise/control",
                    Some(crate::errstr::from_rustix(e)),
                );
                -1
            }
        }
    }
}
