//! One log directory: its lock, `config`, `current` and the bytes on
//! their way into it. Writes are batched (flushed before svlogd blocks
//! for input), but rotation points are exactly runit's, which writes
//! every line with its own write(2): see [`LogDir::put`].
use std::ffi::CStr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{self as rfs, AtFlags, FlockOperation, Mode, OFlags, CWD};
use rustix::io::Errno;

use super::config::{Config, UNKNOWN};
use super::report::{info, pause, say, warn};

/// Pending bytes are written once this many have gathered.
const FLUSH_AT: usize = 8192;

pub(super) struct LogDir {
    /// As given on the command line (messages name it so).
    pub name: String,
    pub path: PathBuf,
    /// The directory; `None` when it could not be opened and locked.
    pub fd: Option<OwnedFd>,
    lock: Option<OwnedFd>,
    cur: Option<OwnedFd>,
    pub cfg: Config,
    /// Bytes in `current` (written ones).
    pub size: u64,
    /// Bytes for `current` not written yet.
    out: Vec<u8>,
    /// When `t` rotates next.
    pub deadline: Option<Instant>,
    /// The running processor.
    pub ppid: Option<rustix::process::Pid>,
    /// The last rotated file's name (`@…` + `.s`, `.u` or `.t`).
    pub fnsave: Name,
    /// Whether the current line goes to `current` (`+`/`-` patterns).
    pub log: bool,
    pub linemax: u64,
    pub verbose: bool,
}

/// `f` until it succeeds, pausing (message, 3 s) after each failure.
pub(super) fn retry<T>(what: &str, name: &str, mut f: impl FnMut() -> rustix::io::Result<T>) -> T {
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) => pause(what, name, Some(e)),
        }
    }
}

pub(super) fn append(dir: &OwnedFd, name: &CStr, mode: u32) -> rustix::io::Result<OwnedFd> {
    rfs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )
}

impl LogDir {
    pub fn new(name: &std::ffi::OsStr, linemax: usize, verbose: bool) -> LogDir {
        LogDir {
            name: name.to_string_lossy().into_owned(),
            path: name.into(),
            fd: None,
            lock: None,
            cur: None,
            cfg: Config::default(),
            size: 0,
            out: Vec::new(),
            deadline: None,
            ppid: None,
            fnsave: [0; 28],
            log: true,
            linemax: linemax as u64,
            verbose,
        }
    }

    /// runit's logdir_open: open and lock the directory, read `config`,
    /// open `current` (a non-empty unfinished one becomes `@….u`).
    pub fn open(&mut self) -> bool {
        let name = self.name.clone();
        let fd = match rfs::openat(
            CWD,
            &self.path,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(e) => return warn("unable to open log directory", &name, Some(e)),
        };
        if rfs::fstat(&fd).is_ok_and(|s| s.st_mode & 0o170_000 != 0o040_000) {
            return warn("unable to change directory", &name, Some(Errno::NOTDIR));
        }
        let lock = append(&fd, c"lock", 0o600)
            .and_then(|l| rfs::flock(&l, FlockOperation::NonBlockingLockExclusive).map(|()| l));
        match lock {
            Ok(l) => self.lock = Some(l),
            Err(e) => return warn("unable to lock directory", &name, Some(e)),
        }
        self.read_config(&fd);
        self.size = 0;
        let mut new = true;
        match rfs::statat(&fd, c"current", AtFlags::empty()) {
            Ok(st) if st.st_size > 0 && st.st_mode & 0o100 == 0 => {
                self.fnsave = new_name(&fd, b'u');
                retry("unable to rename current", &name, || {
                    rfs::renameat(&fd, c"current", &fd, cname(&self.fnsave))
                });
                self.fd = Some(fd);
                self.remove_oldest();
            }
            Ok(st) => {
                self.size = st.st_size as u64;
                new = false;
                self.fd = Some(fd);
            }
            Err(Errno::NOENT) => self.fd = Some(fd),
            Err(e) => {
                self.lock = None;
                return warn("unable to stat current", &name, Some(e));
            }
        }
        self.open_current();
        if self.verbose {
            info(if new { "new: " } else { "append: " }, &name, "/current");
        }
        true
    }

    fn read_config(&mut self, fd: &OwnedFd) {
        let text = rfs::openat(
            fd,
            c"config",
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .and_then(|f| {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut std::fs::File::from(f), &mut v)
                .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
            Ok(v)
        });
        let (cfg, warnings) = match text {
            Ok(t) => {
                if self.verbose {
                    info("read: ", &self.name, "/config");
                }
                Config::parse(&t)
            }
            Err(Errno::NOENT) => (Config::default(), Vec::new()),
            Err(e) => {
                warn("unable to read config", &self.name, Some(e));
                (Config::default(), Vec::new())
            }
        };
        for (m, t) in warnings {
            let t = String::from_utf8_lossy(&t);
            if m == UNKNOWN {
                say(&["svlogd: warning: ", m, ": ", &self.name, "/config: ", &t]);
            } else {
                say(&["svlogd: warning: ", m, ": ", &t]);
            }
        }
        self.cfg = cfg;
        self.deadline =
            (self.cfg.tmax > 0).then(|| Instant::now() + Duration::from_secs(self.cfg.tmax));
    }

    /// (Re)open `current` for appending, 0644 while it is written.
    pub fn open_current(&mut self) {
        let Some(fd) = &self.fd else { return };
        let cur = retry("unable to open current", &self.name, || {
            append(fd, c"current", 0o600)
        });
        retry("unable to set mode of current", &self.name, || {
            rfs::fchmod(&cur, Mode::from_raw_mode(0o644))
        });
        self.cur = Some(cur);
    }

    /// runit's logdir_close: flush, fsync, mark `current` complete (0744).
    pub fn close(&mut self) {
        if self.fd.take().is_none() {
            return;
        }
        if self.verbose {
            info("close: ", &self.name, "");
        }
        self.finish_current();
        self.lock = None;
    }

    /// Flush, fsync and chmod 0744 `current`, and close it.
    pub fn finish_current(&mut self) {
        self.flush();
        if let Some(cur) = self.cur.take() {
            retry("unable to fsync current logfile", &self.name, || {
                rfs::fsync(&cur)
            });
            retry("unable to set mode of current", &self.name, || {
                rfs::fchmod(&cur, Mode::from_raw_mode(0o744))
            });
        }
    }

    /// Append `s` to `current` as runit's buffer_pwrite would: rotate first
    /// when `current` has reached `s` bytes, cut a write at that size, and
    /// rotate after a write that ends a line once `current` is within
    /// `-l` bytes of `s`.
    pub fn put(&mut self, mut s: &[u8]) {
        let max = self.cfg.size;
        while !s.is_empty() {
            let mut n = s.len();
            if max > 0 {
                if self.size + self.out.len() as u64 >= max {
                    self.rotate();
                }
                n = n.min((max - self.size - self.out.len() as u64) as usize);
            }
            self.out.extend_from_slice(&s[..n]);
            s = &s[n..];
            if max > 0
                && self.out.last() == Some(&b'\n')
                && max
                    .checked_sub(self.linemax)
                    .is_some_and(|l| self.size + self.out.len() as u64 >= l)
            {
                self.rotate();
            }
        }
        if self.out.len() >= FLUSH_AT {
            self.flush();
        }
    }

    /// Write the pending bytes. A full disk first removes old files down
    /// to `N`; any other failure pauses and retries (reopening `current`),
    /// so no line is lost.
    pub fn flush(&mut self) {
        let mut at = 0;
        while at < self.out.len() {
            let Some(cur) = &self.cur else { break };
            match rustix::io::write(cur, &self.out[at..]) {
                Ok(n) => {
                    at += n;
                    self.size += n as u64;
                }
                Err(Errno::NOSPC) if self.cfg.nmin < self.cfg.nmax && self.free_space() => {}
                Err(e) => {
                    pause("unable to write to current", &self.name, Some(e));
                    self.open_current();
                    if let Some(st) = self.cur.as_ref().and_then(|c| rfs::fstat(c).ok()) {
                        self.size = st.st_size as u64;
                    }
                }
            }
        }
        self.out.clear();
    }

    /// On ENOSPC: remove the oldest `@` file while more than `N` are left.
    fn free_space(&mut self) -> bool {
        let Some(fd) = &self.fd else { return false };
        let (n, oldest) = scan_old(fd, &self.path, &self.name, None);
        let Some(old) = oldest.filter(|_| n > self.cfg.nmin) else {
            return false;
        };
        say(&[
            "svlogd: warning: out of disk space, delete: ",
            &self.name,
            "/",
            show(&old),
        ]);
        match rfs::unlinkat(fd, cname(&old), AtFlags::empty()) {
            Ok(()) => true,
            Err(e) => warn("unable to unlink oldest logfile", &self.name, Some(e)),
        }
    }
}

/// A rotated file's name: `@` + 24 hex digits + `.` + `s`/`u`/`t`, and
/// a NUL for the system calls.
pub(super) type Name = [u8; 28];

pub(super) fn cname(n: &Name) -> &CStr {
    CStr::from_bytes_until_nul(n).unwrap_or_default()
}

pub(super) fn show(n: &Name) -> &str {
    std::str::from_utf8(&n[..27]).unwrap_or_default()
}

/// `n` with another kind letter.
pub(super) fn kind(n: &Name, k: u8) -> Name {
    let mut m = *n;
    m[26] = k;
    m
}

/// A fresh `@<tai64n>.<kind>` name that does not exist in `dir`.
pub(super) fn new_name(dir: &OwnedFd, kind: u8) -> Name {
    let mut f = [0u8; 28];
    f[25] = b'.';
    f[26] = kind;
    loop {
        let (s, us) = super::stamp::now();
        super::stamp::tai64n(&mut f, s, us);
        if rfs::statat(dir, cname(&f), AtFlags::empty()).is_err() {
            return f;
        }
    }
}

/// The `@` files (27 characters) in `path`: how many, and the oldest name.
/// With `keep` (rotation), `.t` leftovers are removed and not counted, nor
/// is the pending `.u` named by `keep` (as Debian's runit 2.1.2 counts).
pub(super) fn scan_old(
    dir: &OwnedFd,
    path: &Path,
    name: &str,
    keep: Option<&Name>,
) -> (u64, Option<Name>) {
    use std::os::unix::ffi::OsStrExt;
    let mut n = 0;
    let mut oldest: Option<Name> = None;
    let entries = match std::fs::read_dir(path) {
        Ok(d) => d,
        Err(e) => {
            warn("unable to read directory", name, Errno::from_io_error(&e));
            return (0, None);
        }
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let mut f: Name = [0; 28];
        match file.as_bytes() {
            b @ [b'@', ..] if b.len() == 27 => f[..27].copy_from_slice(b),
            _ => continue,
        }
        if let Some(keep) = keep {
            if f[26] == b't' {
                if let Err(e) = rfs::unlinkat(dir, cname(&f), AtFlags::empty()) {
                    warn("unable to unlink processor leftover", show(&f), Some(e));
                }
                continue;
            }
            if keep[26] == b'u' && *keep == f {
                continue;
            }
        }
        n += 1;
        if oldest.is_none_or(|o| f < o) {
            oldest = Some(f);
        }
    }
    (n, oldest)
}
