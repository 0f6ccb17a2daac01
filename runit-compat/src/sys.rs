//! The only place with `unsafe`: starting programs — fork(2) and execve(2)
//! with what a child needs set up in between ([`spawn`], [`Exec::exec`]).
//! One small spawner instead of std's `Command` keeps the latter's
//! environment maps and posix_spawn paths (22 KiB) out of dist/init once
//! no caller uses `Command`; `close_stdout` is the `pre_exec` hook of one
//! that does (`sv`'s `./check`).
#![allow(unsafe_code)]

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;

use nix::libc;

use nix::sys::signal::{self, SigHandler, Signal};

/// Every signal's disposition back to SIG_DFL (sigaction(2)) and an empty
/// signal mask (sigprocmask(2)): what a program expects to start with.
/// Supervisors block the signals they read from a signalfd, Rust's runtime
/// ignores SIGPIPE, and both survive fork and exec. Async-signal-safe and
/// allocation-free, so it may run between fork and exec.
pub fn reset_signal_state() {
    for sig in Signal::iterator() {
        if sig != Signal::SIGKILL && sig != Signal::SIGSTOP {
            // SAFETY: installing SIG_DFL sets no Rust handler; sigaction(2)
            // is async-signal-safe.
            let _ = unsafe { signal::signal(sig, SigHandler::SigDfl) };
        }
    }
    let _ = signal::sigprocmask(
        signal::SigmaskHow::SIG_SETMASK,
        Some(&signal::SigSet::empty()),
        None,
    );
}

/// SIGPIPE back to SIG_DFL (sigaction(2)) before `chpst` execs: Rust's
/// runtime ignores it at start-up and an ignored signal stays ignored
/// across execve(2), where runit's chpst hands on what it was given.
pub fn default_sigpipe() {
    // SAFETY: installing SIG_DFL sets no Rust handler.
    let _ = unsafe { signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// A program to run, prepared in full before fork(2) so the child only
/// makes system calls. The program's path must contain a `/` (it is not
/// looked up in PATH).
pub struct Exec {
    prog: CString,
    argv: Vec<CString>,
    /// `NAME=value` entries; `None`: the caller's own environment.
    envp: Option<Vec<CString>>,
    dir: Option<CString>,
}

/// A NUL byte in an argument: what std's `Command` reports for it too.
fn c_string(b: &[u8]) -> io::Result<CString> {
    CString::new(b).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

impl Exec {
    /// `prog` run with `argv` (argv[0] included), in `dir` (`None`: the
    /// caller's), with exactly the variables `env` (`None`: the caller's
    /// environment).
    pub fn new(
        prog: &Path,
        argv: &[&OsStr],
        env: Option<&[(&str, &OsStr)]>,
        dir: Option<&Path>,
    ) -> io::Result<Exec> {
        let envp = match env {
            None => None,
            Some(vars) => Some(
                vars.iter()
                    .map(|(k, v)| c_string(&[k.as_bytes(), b"=", v.as_bytes()].concat()))
                    .collect::<io::Result<_>>()?,
            ),
        };
        Ok(Exec {
            prog: c_string(prog.as_os_str().as_bytes())?,
            argv: argv
                .iter()
                .map(|a| c_string(a.as_bytes()))
                .collect::<io::Result<_>>()?,
            envp,
            dir: dir
                .map(|d| c_string(d.as_os_str().as_bytes()))
                .transpose()?,
        })
    }

    /// The program's path, for messages.
    pub fn program(&self) -> &Path {
        Path::new(OsStr::from_bytes(self.prog.as_bytes()))
    }

    /// execve(2) in this process; returns only on failure. The caller has
    /// set the signal state the program should start with.
    pub fn exec(&self) -> io::Error {
        let argv = ptrs(&self.argv);
        let envp = self.envp.as_deref().map(ptrs);
        // SAFETY: every pointer points into `self`, `argv` or `envp`, all
        // alive and NUL-terminated (the arrays end in a null pointer) for
        // the whole call; execve only reads them.
        unsafe {
            match &envp {
                Some(e) => libc::execve(self.prog.as_ptr(), argv.as_ptr(), e.as_ptr()),
                None => libc::execv(self.prog.as_ptr(), argv.as_ptr()),
            };
        }
        io::Error::last_os_error()
    }

    /// `/bin/sh -c cmd` in `dir` with the caller's whole environment (what
    /// runit's svlogd gives a `!processor`).
    pub fn shell(cmd: &[u8], dir: &Path) -> io::Result<Exec> {
        let sh = Path::new("/bin/sh");
        let argv = [OsStr::new("sh"), OsStr::new("-c"), OsStr::from_bytes(cmd)];
        Exec::new(sh, &argv, None, Some(dir))
    }
}

/// fork(2) and exec `exec` with each `(from, to)` of `fds` dup2'd in
/// order, in the caller's session with every signal back to SIG_DFL and an
/// empty mask (svlogd's processor: fds 0, 1, 4, 5). Not waited for: a
/// failed exec shows up as the child exiting 111. A `from` must not be
/// another pair's `to` (callers dup their fds above 9 first).
pub fn spawn_fds(exec: &Exec, fds: &[(RawFd, RawFd)]) -> io::Result<u32> {
    let argv = ptrs(&exec.argv);
    let envp = exec.envp.as_deref().map(ptrs);
    // SAFETY: as in `spawn`: the child only makes async-signal-safe calls
    // (dup2, chdir, sigaction, sigprocmask, execve, _exit) on data
    // prepared above, alive until it execs or exits, and never returns.
    match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
        nix::unistd::ForkResult::Parent { child } => Ok(child.as_raw() as u32),
        // SAFETY: as argued above.
        nix::unistd::ForkResult::Child => unsafe {
            reset_signal_state();
            let dir_ok = exec
                .dir
                .as_ref()
                .is_none_or(|d| libc::chdir(d.as_ptr()) == 0);
            if dir_ok && fds.iter().all(|&(from, to)| libc::dup2(from, to) >= 0) {
                match &envp {
                    Some(e) => libc::execve(exec.prog.as_ptr(), argv.as_ptr(), e.as_ptr()),
                    None => libc::execv(exec.prog.as_ptr(), argv.as_ptr()),
                };
            }
            libc::_exit(111)
        },
    }
}

/// The null-terminated pointer array execve(2) wants.
fn ptrs(v: &[CString]) -> Vec<*const libc::c_char> {
    v.iter()
        .map(|c| c.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// What the child's descriptor 0, 1 or 2 becomes.
#[derive(Clone, Copy)]
pub enum Fd<'a> {
    /// The parent's, as it is.
    Inherit,
    /// A copy of this descriptor (dup2(2)).
    Dup(BorrowedFd<'a>),
    /// Closed, as `sv` does to stdout before running `./check`.
    Close,
}

/// The child's session and signal state.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// The parent's session and signal mask; SIGPIPE back to SIG_DFL
    /// (what std's `Command` does).
    Keep,
    /// A session of its own (setsid(2)) and every signal back to SIG_DFL
    /// with an empty mask ([`reset_signal_state`]).
    New,
    /// As `New`, and stdin (the console) made its controlling terminal
    /// (ioctl TIOCSCTTY, tty_ioctl(4)) so job control and ^C work in a
    /// rescue shell; failing that, the shell simply has no job control.
    NewWithTty,
}

/// fork(2) and execve(2) `exec` with `stdio` as its descriptors 0, 1, 2.
///
/// With `report`, as std's `Command::spawn`: the parent waits until the
/// child has exec'd, and a failed setup or exec is this call's error (the
/// child's errno comes back through a close-on-exec pipe). Without, as
/// runsv does: the caller goes on at once, and a failure shows up as the
/// child exiting 111 (runit's convention) — std's way would stall every
/// other service of the event loop while a child execs.
pub fn spawn(exec: &Exec, stdio: [Fd<'_>; 3], session: Session, report: bool) -> io::Result<u32> {
    spawn_with(exec, stdio, None, session, report)
}

/// As [`spawn`], and `extra.0` becomes the child's descriptor number
/// `extra.1` (a service's `notification-fd`), set up after the three stdio
/// descriptors. `extra.0` must not be 0, 1 or 2: those are replaced first.
pub fn spawn_with(
    exec: &Exec,
    stdio: [Fd<'_>; 3],
    extra: Option<(BorrowedFd<'_>, RawFd)>,
    session: Session,
    report: bool,
) -> io::Result<u32> {
    // Everything the child touches is prepared here: it must not allocate.
    let argv = ptrs(&exec.argv);
    let envp = exec.envp.as_deref().map(ptrs);
    let pipe = if report {
        Some(rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?)
    } else {
        None
    };
    let [a, b, c] = stdio.map(|f| match f {
        Fd::Inherit => -2,
        Fd::Dup(fd) => fd.as_raw_fd(),
        Fd::Close => -1,
    });
    let extra = extra.map_or((-1, -2), |(from, to)| (to, from.as_raw_fd()));
    let fds = [(0, a), (1, b), (2, c), extra];
    // SAFETY: the child only calls async-signal-safe functions (dup2,
    // fcntl, close, chdir, setsid, sigaction, sigprocmask, ioctl, execve,
    // write, _exit) on data prepared above, which stays alive until it
    // execs or exits; it allocates nothing, takes no lock and never returns
    // into Rust code, so fork(2) is sound even while other threads run.
    let child = match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
        nix::unistd::ForkResult::Parent { child } => child.as_raw(),
        nix::unistd::ForkResult::Child => {
            // SAFETY: as argued above.
            unsafe {
                let errno = child_setup(fds, session, exec.dir.as_ref());
                if errno == 0 {
                    match &envp {
                        Some(e) => libc::execve(exec.prog.as_ptr(), argv.as_ptr(), e.as_ptr()),
                        None => libc::execv(exec.prog.as_ptr(), argv.as_ptr()),
                    };
                }
                if let Some((_, w)) = &pipe {
                    let errno = nix::errno::Errno::last_raw().to_ne_bytes();
                    libc::write(w.as_raw_fd(), errno.as_ptr().cast(), 4);
                }
                libc::_exit(111)
            }
        }
    };
    if let Some((r, w)) = pipe {
        drop(w);
        let mut errno = [0u8; 4];
        let n = loop {
            match rustix::io::read(&r, &mut errno) {
                Err(rustix::io::Errno::INTR) => {}
                other => break other?,
            }
        };
        if n == 4 {
            // Reap it: it has exited (111) without running anything.
            let _ = wait(child as u32);
            return Err(io::Error::from_raw_os_error(i32::from_ne_bytes(errno)));
        }
    }
    Ok(child as u32)
}

/// The child's side of [`spawn_with`] before exec: 0 on success, else
/// errno. `fds` are (target, source) pairs in order; source -2 leaves the
/// target as it is, -1 closes it.
///
/// # Safety
/// Only between fork(2) and execve(2): it changes the process's
/// descriptors, directory and signal state.
unsafe fn child_setup(fds: [(RawFd, RawFd); 4], session: Session, dir: Option<&CString>) -> i32 {
    let fail = || nix::errno::Errno::last_raw();
    for (target, fd) in fds {
        // SAFETY: plain descriptor syscalls on integers (see `spawn`).
        let rc = unsafe {
            match fd {
                -2 => 0,
                // As sv's close(1): an error changes nothing.
                -1 => {
                    libc::close(target);
                    0
                }
                // dup2 onto itself keeps close-on-exec: clear it instead.
                fd if fd == target => libc::fcntl(fd, libc::F_SETFD, 0),
                fd => libc::dup2(fd, target),
            }
        };
        if rc < 0 {
            return fail();
        }
    }
    if let Some(dir) = dir {
        // SAFETY: `dir` is a NUL-terminated string alive for the call.
        if unsafe { libc::chdir(dir.as_ptr()) } != 0 {
            return fail();
        }
    }
    if session == Session::Keep {
        // SAFETY: SIG_DFL installs no Rust handler; async-signal-safe.
        let _ = unsafe { signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    } else {
        let _ = nix::unistd::setsid();
        reset_signal_state();
        if session == Session::NewWithTty {
            let _ = rustix::process::ioctl_tiocsctty(rustix::stdio::stdin());
        }
    }
    0
}

/// waitpid(2) for `pid`, retried when a signal interrupts it.
pub fn wait(pid: u32) -> io::Result<ExitStatus> {
    let pid = rustix::process::Pid::from_raw(pid as i32)
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    loop {
        match rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty()) {
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
            Ok(st) => {
                let raw = st.map_or(0, |(_, st)| st.as_raw());
                return Ok(ExitStatus::from_raw(raw));
            }
        }
    }
}

/// Take descriptor `n` that a re-exec handed over (`reexec.rs`), close-
/// on-exec again; `None` if it is not open or is 0–2. The caller makes
/// sure no number is taken twice.
pub fn adopt_fd(n: i64) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let n = RawFd::try_from(n).ok().filter(|&n| n > 2)?;
    if !set_cloexec(n, true) {
        return None;
    }
    // SAFETY: `n` is open (fcntl succeeded) and was inherited across
    // execve for this one owner: nothing else in this process holds it.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(n) })
}

/// What the event loop serves now (the `Supervisor`, which this module
/// does not name: it sits below it), for the panic hook's re-exec.
static CURRENT: std::sync::atomic::AtomicPtr<()> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

/// The event loop starts (`Some`) or ends (`None`) serving `v`.
/// [`with_current`] must be called with the same `T` (one caller each:
/// `event_loop::run` and `reexec::reexec_after_panic`, both `Supervisor`).
pub(crate) fn set_current<T>(v: Option<&mut T>) {
    let p = v.map_or(std::ptr::null_mut(), |r| std::ptr::from_mut(r).cast());
    CURRENT.store(p, std::sync::atomic::Ordering::SeqCst);
}

/// Run `f` on what the event loop was serving when this thread panicked;
/// false if nothing was.
pub(crate) fn with_current<T>(f: impl FnOnce(&mut T)) -> bool {
    let p = CURRENT.swap(std::ptr::null_mut(), std::sync::atomic::Ordering::SeqCst);
    // SAFETY: `p` came from the `&mut T` (the same `T`, see set_current)
    // that `run` holds while it serves it (cleared when it returns). Only
    // the panic hook calls this, on PID 1's only thread: the code that held
    // the borrow has stopped for good (panic=abort; the hook ends in
    // execve or the failure menu), so this is the one reference in use.
    // The swap hands it out once.
    match unsafe { p.cast::<T>().as_mut() } {
        Some(v) => {
            f(v);
            true
        }
        None => false,
    }
}

/// Set or clear `fd`'s close-on-exec flag (fcntl(2) F_SETFD); false when
/// no descriptor is open under that number.
pub fn set_cloexec(fd: RawFd, on: bool) -> bool {
    let flag = if on { libc::FD_CLOEXEC } else { 0 };
    // SAFETY: F_SETFD only sets a descriptor flag; a closed number fails
    // with EBADF and changes nothing.
    unsafe { libc::fcntl(fd, libc::F_SETFD, flag) >= 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsFd;

    fn sh(script: &str, env: Option<&[(&str, &OsStr)]>, dir: Option<&Path>) -> Exec {
        let argv = ["sh", "-c", script].map(OsStr::new);
        Exec::new(Path::new("/bin/sh"), &argv, env, dir).unwrap()
    }

    /// Runs `exec` with stdout on a pipe; its exit status and output.
    fn output(exec: &Exec, session: Session) -> (ExitStatus, String) {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let stdio = [Fd::Inherit, Fd::Dup(w.as_fd()), Fd::Inherit];
        let pid = spawn(exec, stdio, session, true).unwrap();
        drop(w);
        let mut out = String::new();
        std::fs::File::from(r).read_to_string(&mut out).unwrap();
        (wait(pid).unwrap(), out)
    }

    #[test]
    fn environment_directory_and_arguments_are_exactly_the_given_ones() {
        let env = [("PATH", OsStr::new("/x:/y")), ("A", OsStr::new("b c"))];
        let exec = sh(
            "echo \"$0|$PATH|$A|$HOME|$(pwd)\"; exit 7",
            Some(&env),
            Some(Path::new("/")),
        );
        let (st, out) = output(&exec, Session::Keep);
        assert_eq!(st.code(), Some(7));
        assert_eq!(out, "sh|/x:/y|b c||/\n");
    }

    #[test]
    fn without_an_environment_the_callers_is_inherited() {
        let (st, out) = output(&sh("echo \"$HOME\"", None, None), Session::Keep);
        assert!(st.success());
        assert_eq!(out.trim_end(), std::env::var("HOME").unwrap_or_default());
    }

    #[test]
    fn a_new_session_has_default_signals_and_its_own_session() {
        // Ignored here: SIG_IGN survives exec unless the child resets it.
        // SAFETY: SIG_IGN installs no Rust handler.
        unsafe { signal::signal(Signal::SIGUSR1, SigHandler::SigIgn) }.unwrap();
        let script = "kill -USR1 $$; echo alive";
        let (st, out) = output(&sh(script, None, None), Session::New);
        // SAFETY: as above.
        unsafe { signal::signal(Signal::SIGUSR1, SigHandler::SigDfl) }.unwrap();
        assert_eq!(st.signal(), Some(Signal::SIGUSR1 as i32), "{out}");
        let script = "read -r _ _ _ _ _ sid _ < /proc/$$/stat; [ \"$sid\" = $$ ] && echo leader";
        assert_eq!(output(&sh(script, None, None), Session::New).1, "leader\n");
        assert_eq!(output(&sh(script, None, None), Session::Keep).1, "");
    }

    #[test]
    fn a_failed_exec_is_the_spawns_error_when_reported() {
        let exec = Exec::new(Path::new("/nonexistent/x"), &[OsStr::new("x")], None, None).unwrap();
        let err = spawn(&exec, [Fd::Inherit; 3], Session::Keep, true).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(nix::libc::ENOENT));
        let bad_dir = Exec::new(
            Path::new("/bin/sh"),
            &[OsStr::new("sh")],
            None,
            Some(Path::new("/nonexistent")),
        )
        .unwrap();
        let err = spawn(&bad_dir, [Fd::Inherit; 3], Session::Keep, true).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(nix::libc::ENOENT));
    }

    #[test]
    fn an_unreported_failed_exec_exits_111() {
        let exec = Exec::new(Path::new("/nonexistent/x"), &[OsStr::new("x")], None, None).unwrap();
        let pid = spawn(&exec, [Fd::Inherit; 3], Session::New, false).unwrap();
        assert_eq!(wait(pid).unwrap().code(), Some(111));
    }

    #[test]
    fn a_closed_descriptor_is_closed_in_the_child() {
        let exec = sh(
            "if [ -e /proc/$$/fd/1 ]; then exit 0; else exit 5; fi",
            None,
            None,
        );
        let pid = spawn(
            &exec,
            [Fd::Inherit, Fd::Close, Fd::Inherit],
            Session::Keep,
            true,
        )
        .unwrap();
        assert_eq!(wait(pid).unwrap().code(), Some(5));
    }

    /// The extra descriptor arrives on its number without close-on-exec,
    /// also when it already has that number in the parent.
    #[test]
    fn the_extra_descriptor_gets_its_number() {
        for to in [7, 0] {
            let (r, w0) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
            let w = rustix::io::fcntl_dupfd_cloexec(&w0, 60 + to).unwrap();
            drop(w0);
            let to = if to == 0 { w.as_raw_fd() } else { to };
            // dash redirects only descriptors 0-9 by number.
            let exec = sh(&format!("echo ready > /proc/$$/fd/{to}"), None, None);
            let pid = spawn_with(
                &exec,
                [Fd::Inherit; 3],
                Some((w.as_fd(), to)),
                Session::New,
                true,
            )
            .unwrap();
            drop(w);
            let mut out = String::new();
            std::fs::File::from(r).read_to_string(&mut out).unwrap();
            assert!(wait(pid).unwrap().success(), "fd {to}");
            assert_eq!(out, "ready\n", "fd {to}");
        }
    }

    #[test]
    fn a_nul_byte_is_invalid_input() {
        let err = Exec::new(Path::new("/bin/sh"), &[OsStr::new("a\0b")], None, None)
            .err()
            .unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
