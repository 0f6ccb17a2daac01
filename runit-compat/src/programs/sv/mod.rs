//! `sv`: runit's control client, complete (every command and LSB name,
//! `-v`, `-w SEC`, `$SVDIR`, `$SVWAIT`, runit's output formats and exit
//! codes). It talks to any runit-compatible supervisor through
//! `supervise/` only, so it works against ours and against runsv.
mod ops;

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use rustix::fs::{Mode, OFlags};

use crate::errstr::error_str;
use crate::status::tai64n;

const VERSION: &str = "$Id: 900314260c6d52c986c5357673bea2f3bd3f4698 $";
/// Debian's default `$SVDIR`.
const DEFAULT_SVDIR: &str = "/etc/service/";
/// How long `sv` sleeps between checks while waiting.
const POLL: Duration = Duration::from_millis(420);

/// Leave `sv` with this exit code.
pub(crate) struct Done(pub i32);

/// Which checker runs in the wait loop.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Act {
    Control,
    Status,
    None,
}

pub(crate) struct Sv {
    progname: String,
    lsb: bool,
    verbose: bool,
    wait: u64,
    kll: bool,
    islog: bool,
    acts: Vec<u8>,
    /// The service being worked on, as the user named it.
    service: String,
    svstatus: [u8; 20],
    rc: u32,
    tstart_tai: u64,
    tnow_tai: u64,
    out: Vec<u8>,
    curdir: Option<OwnedFd>,
}

/// runit's scan_ulong: leading decimal digits, 0 if none.
fn scan_ulong(s: &str) -> u64 {
    s.bytes().take_while(u8::is_ascii_digit).fold(0u64, |a, d| {
        a.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
    })
}

impl Sv {
    fn usage(&self) -> Done {
        if self.lsb {
            eprint!("usage: {} [-w sec] command\n\n", self.progname);
            Done(2)
        } else {
            eprint!(
                "usage: {} [-v] [-w sec] command service ...\n\n",
                self.progname
            );
            Done(100)
        }
    }

    pub(crate) fn done(&self, code: i32) -> Done {
        if let Some(fd) = &self.curdir {
            let _ = rustix::process::fchdir(fd);
        }
        Done(code)
    }

    fn fatal(&self, m: &str, e: Errno) -> Done {
        eprintln!("fatal: {m}: {}", error_str(e));
        self.done(if self.lsb { 151 } else { 100 })
    }

    /// `PREFIX SERVICE[/log]: M[: ERROR]` on stdout, flushed.
    pub(crate) fn out(&mut self, prefix: &str, m: &str, e: Option<Errno>) {
        let log = if self.islog { "/log" } else { "" };
        let mut line = format!("{prefix}{}{log}: {m}", self.service);
        if let Some(e) = e {
            line.push_str(": ");
            line.push_str(error_str(e));
        }
        line.push('\n');
        self.outs(&line);
        self.flush();
    }
    pub(crate) fn fail(&mut self, m: &str, e: Option<Errno>) {
        self.rc += 1;
        self.out("fail: ", m, e);
    }
    pub(crate) fn warn(&mut self, m: &str, e: Option<Errno>) {
        self.rc += 1;
        self.out("warning: ", m, e);
    }
    pub(crate) fn ok(&mut self, m: &str) {
        self.out("ok: ", m, None);
    }
    pub(crate) fn outs(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }
    pub(crate) fn flush(&mut self) {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(&self.out);
        let _ = o.flush();
        self.out.clear();
    }

    /// chdir into the service directory; `strict` also sends names that
    /// end in `/` through `$SVDIR` (the first pass does, the wait loop not).
    fn enter(&mut self, svdir: &str, strict: bool) -> bool {
        let s = self.service.clone();
        let b = s.as_bytes();
        let direct = b.first().is_some_and(|&c| c == b'/' || c == b'.')
            || (strict && (b.is_empty() || b.last() == Some(&b'/')));
        let r = if direct {
            nix::unistd::chdir(Path::new(&s))
        } else {
            nix::unistd::chdir(Path::new(svdir)).and_then(|()| nix::unistd::chdir(Path::new(&s)))
        };
        match r {
            Ok(()) => true,
            Err(e) => {
                self.fail("unable to change to service directory", Some(e));
                false
            }
        }
    }

    fn leave(&mut self) -> Result<(), Done> {
        if let Some(fd) = &self.curdir {
            if let Err(e) = rustix::process::fchdir(fd) {
                return Err(self.fatal(
                    "unable to change to original directory",
                    crate::errstr::from_rustix(e),
                ));
            }
        }
        Ok(())
    }

    /// Options (`-v`, `-w SEC`, `-V`) up to the command; the command's index.
    fn options(&mut self, args: &[String]) -> Result<usize, Done> {
        let mut i = 1;
        'opts: while i < args.len() {
            let a = args[i].as_bytes();
            if a.len() < 2 || a[0] != b'-' {
                break;
            }
            i += 1;
            if a == b"--" {
                break;
            }
            let mut j = 1;
            while j < a.len() {
                match a[j] {
                    b'w' => {
                        let v = if j + 1 < a.len() {
                            args[i - 1][j + 1..].to_string()
                        } else if i < args.len() {
                            i += 1;
                            args[i - 1].clone()
                        } else {
                            eprintln!("{}: option requires an argument -- w", self.progname);
                            return Err(self.usage());
                        };
                        self.wait = scan_ulong(&v);
                        self.verbose = true;
                        continue 'opts;
                    }
                    b'v' => self.verbose = true,
                    b'V' => {
                        eprintln!("{VERSION}");
                        return Err(self.usage());
                    }
                    c => {
                        eprintln!("{}: illegal option -- {}", self.progname, c as char);
                        return Err(self.usage());
                    }
                }
                j += 1;
            }
        }
        Ok(i)
    }

    fn run(&mut self, args: &[String]) -> Result<i32, Done> {
        let svdir = std::env::var("SVDIR").unwrap_or_else(|_| DEFAULT_SVDIR.into());
        if let Ok(w) = std::env::var("SVWAIT") {
            self.wait = scan_ulong(&w);
        }
        let i = self.options(args)?;
        let Some(action) = args.get(i).cloned() else {
            return Err(self.usage());
        };
        let mut services: Vec<Option<String>> = if self.lsb {
            vec![Some(self.progname.clone())]
        } else {
            args[i + 1..].iter().cloned().map(Some).collect()
        };
        if services.is_empty() {
            return Err(self.usage());
        }
        let (act, check) = self.parse_action(&action)?;
        let now = SystemTime::now();
        self.tstart_tai = tai64n(now).0;
        self.tnow_tai = self.tstart_tai;
        let started = Instant::now();
        match rustix::fs::open(".", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => self.curdir = Some(fd),
            Err(e) => {
                return Err(self.fatal(
                    "unable to open current directory",
                    crate::errstr::from_rustix(e),
                ))
            }
        }
        for slot in &mut services {
            let Some(name) = slot.clone() else { continue };
            self.service = name;
            let failed = !self.enter(&svdir, true) || (act != Act::None && self.act(act)? == -1);
            if failed {
                *slot = None;
            }
            self.leave()?;
        }
        if check || self.verbose {
            self.wait_all(&mut services, &svdir, started)?;
        }
        Ok(self.rc.min(99) as i32)
    }

    /// `-v`/`-w`: check every service still in `services` until each has
    /// taken the command (dropped from the list) or the wait is over
    /// (`timeout:`, or `kill:` and KILL for the `force-` commands).
    fn wait_all(
        &mut self,
        services: &mut [Option<String>],
        svdir: &str,
        started: Instant,
    ) -> Result<(), Done> {
        loop {
            let tdiff = started.elapsed();
            let mut finished = true;
            for slot in services.iter_mut() {
                let Some(name) = slot.clone() else { continue };
                self.service = name;
                if !self.enter(svdir, false) {
                    *slot = None;
                }
                if slot.is_some() {
                    if self.check() == 0 {
                        finished = false;
                    } else {
                        *slot = None;
                    }
                }
                if slot.is_some() && tdiff > Duration::from_secs(self.wait) {
                    self.timed_out();
                    *slot = None;
                }
                self.leave()?;
            }
            if finished {
                return Ok(());
            }
            std::thread::sleep(POLL);
            self.tnow_tai = tai64n(SystemTime::now()).0;
        }
    }

    /// The current service did not take the command in time.
    fn timed_out(&mut self) {
        self.outs(if self.kll { "kill: " } else { "timeout: " });
        if self.svstatus_get() > 0 {
            let s = self.service.clone();
            self.svstatus_print(&s);
            self.rc += 1;
        }
        self.outs("\n");
        self.flush();
        if self.kll {
            self.control(b"k");
        }
    }

    fn act(&mut self, act: Act) -> Result<i32, Done> {
        match act {
            Act::Control => {
                let a = self.acts.clone();
                Ok(self.control(&a))
            }
            Act::Status => self.status(),
            Act::None => Ok(0),
        }
    }

    /// Map the command to control bytes; returns (what to do, wait with check).
    fn parse_action(&mut self, action: &str) -> Result<(Act, bool), Done> {
        let first = action.as_bytes().first().copied().unwrap_or(0);
        let set = |s: &mut Sv, acts: &str, kll: bool| {
            s.acts = acts.as_bytes().to_vec();
            s.kll = kll;
        };
        let r = match first {
            b'x' | b'e' => (set(self, "x", false), (Act::Control, false)).1,
            b'X' | b'E' => (set(self, "x", true), (Act::Control, true)).1,
            b'D' => (set(self, "d", true), (Act::Control, true)).1,
            b'T' => (set(self, "tc", true), (Act::Control, true)).1,
            b't' if action == "try-restart" => (set(self, "tc", false), (Act::Control, true)).1,
            b'c' if action == "check" => (set(self, "C", false), (Act::None, true)).1,
            b't' | b'c' | b'u' | b'd' | b'o' | b'p' | b'h' | b'a' | b'i' | b'k' | b'q' | b'1'
            | b'2' => (set(self, &action[..1], false), (Act::Control, false)).1,
            b's' => match action {
                "shutdown" => (set(self, "x", false), (Act::Control, true)).1,
                "start" => (set(self, "u", false), (Act::Control, true)).1,
                "stop" => (set(self, "d", false), (Act::Control, true)).1,
                _ if self.lsb && action != "status" => return Err(self.usage()),
                _ => (set(self, "s", false), (Act::Status, false)).1,
            },
            b'r' => match action {
                "restart" => (set(self, "tcu", false), (Act::Control, true)).1,
                "reload" => (set(self, "h", false), (Act::Control, true)).1,
                _ => return Err(self.usage()),
            },
            b'f' => match action {
                "force-reload" => (set(self, "tc", true), (Act::Control, true)).1,
                "force-restart" => (set(self, "tcu", true), (Act::Control, true)).1,
                "force-shutdown" => (set(self, "x", true), (Act::Control, true)).1,
                "force-stop" => (set(self, "d", true), (Act::Control, true)).1,
                _ => return Err(self.usage()),
            },
            _ => return Err(self.usage()),
        };
        // `status` never waits, even with -v.
        if r.0 == Act::Status {
            self.verbose = false;
        }
        Ok(r)
    }
}

/// `sv` (or an LSB init script name linked to it). `args[0]` is the name
/// it was called by.
pub fn sv_main(args: Vec<OsString>) -> i32 {
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let progname = args
        .first()
        .map_or("sv", |a| a.rsplit('/').next().unwrap_or(a))
        .to_string();
    let mut sv = Sv {
        lsb: progname != "sv",
        progname,
        verbose: false,
        wait: 7,
        kll: false,
        islog: false,
        acts: Vec::new(),
        service: String::new(),
        svstatus: [0; 20],
        rc: 0,
        tstart_tai: 0,
        tnow_tai: 0,
        out: Vec::new(),
        curdir: None,
    };
    let code = match sv.run(&args) {
        Ok(c) | Err(Done(c)) => c,
    };
    sv.flush();
    code
}
