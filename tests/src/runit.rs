//! Helpers for the runit tests: temp dirs, service directories, starting
//! our supervisor or Debian's, running `sv` (ours or Debian's), waiting
//! for conditions with deadlines, and normalizing `sv` output.
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Debian's runit binaries.
pub const DEBIAN_SV: &str = "/usr/bin/sv";
pub const DEBIAN_RUNSV: &str = "/usr/bin/runsv";
pub const DEBIAN_RUNSVDIR: &str = "/usr/bin/runsvdir";

/// True if Debian's runit is installed; otherwise [`crate::require`] skips
/// the test loudly, or fails it under CI.
pub fn have_debian_runit(test: &str) -> bool {
    let ok = [DEBIAN_SV, DEBIAN_RUNSV, DEBIAN_RUNSVDIR]
        .iter()
        .all(|p| Path::new(p).exists());
    crate::require(
        test,
        "Debian's runit (/usr/bin/sv, runsv, runsvdir) is not installed (make deps)",
        ok,
    )
}

/// A directory removed (with everything in it) on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("runit-test-{}-{tag}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Write an executable script.
pub fn script(path: &Path, body: &str) {
    if let Some(d) = path.parent() {
        fs::create_dir_all(d).expect("mkdir");
    }
    fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// `chpst` and the personalities it takes from argv[0].
pub const CHPST_NAMES: [&str; 7] = [
    "chpst",
    "envdir",
    "envuidgid",
    "pgrphack",
    "setuidgid",
    "softlimit",
    "setlock",
];

/// Debian's chpst (it has no personality links of its own).
pub const DEBIAN_CHPST: &str = "/usr/bin/chpst";

/// A directory with runit's program names (`sv`, `runsv`, `runsvdir`,
/// `runsvchdir`, `utmpset`, `runit-init`, `chpst` and chpst's
/// personalities) as symlinks to our binary (argv[0] dispatch).
pub fn our_bin_dir(tmp: &Path) -> PathBuf {
    let d = tmp.join("bin");
    let init = crate::bin::init_bin();
    link_dir(
        &d,
        &init,
        &[
            "sv",
            "runsv",
            "runsvdir",
            "runsvchdir",
            "utmpset",
            "runit-init",
            "svlogd",
        ],
    );
    link_dir(&d, &init, &CHPST_NAMES);
    d
}

/// `tmp/debian-bin` with chpst's names linked to Debian's chpst, which
/// picks its personality from argv[0]'s basename.
pub fn debian_chpst_dir(tmp: &Path) -> PathBuf {
    let d = tmp.join("debian-bin");
    link_dir(&d, Path::new(DEBIAN_CHPST), &CHPST_NAMES);
    d
}

fn link_dir(d: &Path, target: &Path, names: &[&str]) {
    fs::create_dir_all(d).expect("mkdir bin");
    for n in names {
        let _ = std::os::unix::fs::symlink(target, d.join(n));
    }
}

/// Which implementation of a runit program to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    Ours,
    Debian,
}

/// A running supervisor (runsv or runsvdir); stopped on drop.
pub struct Super {
    pub child: Child,
    /// Whether it is runsvdir (stopped with HUP for Debian, so runsv's go too).
    dir_mode: bool,
    which: Impl,
}

impl Super {
    /// `runsv DIR` or `runsvdir DIR` of the chosen implementation.
    pub fn start(which: Impl, bindir: &Path, prog: &str, dir: &Path) -> Super {
        Super::start_logged(which, bindir, prog, dir, Stdio::null())
    }

    /// As [`Super::start`], with the supervisor's stderr (its warnings) on
    /// `stderr`.
    pub fn start_logged(
        which: Impl,
        bindir: &Path,
        prog: &str,
        dir: &Path,
        stderr: Stdio,
    ) -> Super {
        let path = match which {
            Impl::Ours => bindir.join(prog),
            Impl::Debian => PathBuf::from("/usr/bin").join(prog),
        };
        let mut cmd = Command::new(path);
        cmd.arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin:/usr/sbin:/sbin", bindir.display()),
            )
            .process_group(0);
        let child = cmd.spawn().expect("start supervisor");
        Super {
            child,
            dir_mode: prog == "runsvdir",
            which,
        }
    }

    /// Send a signal to the supervisor.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig);
    }

    /// Wait for the supervisor to exit (deadline); its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Super {
    fn drop(&mut self) {
        use nix::sys::signal::Signal;
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // Debian's runsvdir leaves its runsv's running on TERM; HUP stops them.
        self.signal(if self.dir_mode && self.which == Impl::Debian {
            Signal::SIGHUP
        } else {
            Signal::SIGTERM
        });
        if self.wait_exit(Duration::from_secs(5)).is_none() {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(self.child.id() as i32),
                Signal::SIGKILL,
            );
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The result of one `sv` run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Out {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// Run `sv ARGS` (ours via argv[0] `sv`, or Debian's) with `$SVDIR`.
pub fn sv(which: Impl, bindir: &Path, svdir: &Path, args: &[&str]) -> Out {
    sv_env(which, bindir, svdir, args, &[])
}

/// `sv` with extra environment variables.
pub fn sv_env(
    which: Impl,
    bindir: &Path,
    svdir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Out {
    let prog = match which {
        Impl::Ours => bindir.join("sv"),
        Impl::Debian => PathBuf::from(DEBIAN_SV),
    };
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .env("SVDIR", svdir)
        .env_remove("SVWAIT")
        .current_dir(svdir)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("run sv");
    Out {
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        code: o.status.code().unwrap_or(-1),
    }
}

/// Replace pids (`(pid 123)`) and durations (`4s`) with placeholders.
pub fn normalize(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let mut j = i;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let after_pid = s[..i].ends_with("(pid ");
            let secs =
                b.get(j) == Some(&b's') && !b.get(j + 1).is_some_and(u8::is_ascii_alphanumeric);
            if after_pid {
                out.push('N');
                i = j;
                continue;
            }
            if secs {
                out.push('N');
                i = j;
                continue;
            }
            out.push_str(&s[i..j]);
            i = j;
            continue;
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

/// Poll `cond` until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The contents of `dir/supervise/stat` ("" if unreadable).
pub fn stat(dir: &Path) -> String {
    fs::read_to_string(dir.join("supervise/stat")).unwrap_or_default()
}

/// The pid in `dir/supervise/pid`, if any.
pub fn pid(dir: &Path) -> Option<u32> {
    fs::read_to_string(dir.join("supervise/pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// True if a process with this pid exists (and is not a zombie we own).
pub fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

/// Run `f` for each item on its own thread; results in order.
pub fn parallel<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    std::thread::scope(|s| {
        let hs: Vec<_> = items.into_iter().map(|it| s.spawn(|| f(it))).collect();
        hs.into_iter().map(|h| h.join().expect("thread")).collect()
    })
}

/// `OsStr` convenience.
pub fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// The decoded `supervise/status` of `dir`: (unix seconds, pid, state).
pub fn status(dir: &Path) -> Option<(u64, u32, u8)> {
    let b = fs::read(dir.join("supervise/status")).ok()?;
    if b.len() != 20 {
        return None;
    }
    let secs = u64::from_be_bytes(b[0..8].try_into().ok()?).saturating_sub((1 << 62) + 10);
    let pid = u32::from_le_bytes(b[12..16].try_into().ok()?);
    Some((secs, pid, b[19]))
}

/// Wait until the status timestamp is in an earlier second than now (so
/// `sv`'s "newer than my start" checks cannot pass on the old state).
pub fn wait_status_older_than_now(dir: &Path) -> bool {
    wait_until(Duration::from_secs(3), || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        status(dir).is_some_and(|(s, _, _)| s < now)
    })
}

/// True once a supervisor holds `dir/supervise/ok` open for reading (what
/// `sv` checks to decide "runsv not running").
pub fn supervisor_listening(dir: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(dir.join("supervise/ok"))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn normalizes_pids_and_seconds() {
        assert_eq!(
            normalize("run: a1: (pid 123) 45s; run: log: (pid 9) 0s, normally down\n"),
            "run: a1: (pid N) Ns; run: log: (pid N) Ns, normally down\n"
        );
        assert_eq!(
            normalize("down: s2: 3s, normally up"),
            "down: s2: Ns, normally up"
        );
    }
}
