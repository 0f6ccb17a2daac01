//! The only place with `unsafe`: code that runs in a forked child between
//! fork(2) and execve(2) (`CommandExt::pre_exec`).
#![allow(unsafe_code)]

use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::sys::signal::{self, SigHandler, Signal};

/// In the child: setsid(2), every signal's disposition back to SIG_DFL
/// with sigaction(2), and an empty signal mask with sigprocmask(2) (std's
/// fork path does not reset the mask, and the loop blocks the signals it
/// reads from its signalfd).
pub fn new_session_default_signals(cmd: &mut Command) {
    // SAFETY: the closure runs in the child after fork(2); it only calls
    // setsid(2), sigaction(2) and sigprocmask(2), all async-signal-safe,
    // allocates nothing and touches no locks. SIG_DFL installs no Rust
    // handler.
    unsafe {
        cmd.pre_exec(|| {
            let _ = nix::unistd::setsid();
            reset_signal_state();
            Ok(())
        });
    }
}

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

/// In the child: close(2) fd 1, as `sv` does before running `./check`.
pub fn close_stdout(cmd: &mut Command) {
    // SAFETY: close(2) is async-signal-safe; fd 1 is owned by the child
    // process image only (std dup2's nothing onto it when stdout is
    // inherited), so no Rust object refers to it after exec.
    unsafe {
        cmd.pre_exec(|| {
            let _ = nix::unistd::close(1);
            Ok(())
        });
    }
}

/// What [`spawn`] execs, prepared in full before fork(2) so the child only
/// makes system calls.
pub struct Exec {
    prog: std::ffi::CString,
    dir: std::ffi::CString,
    argv: Vec<std::ffi::CString>,
    /// The environment; `None`: this process's own (environ(7)).
    envp: Option<Vec<std::ffi::CString>>,
    /// Whether the child calls setsid(2) (services do; svlogd's processor
    /// stays in svlogd's session, as runit's).
    setsid: bool,
}

fn cstring(b: &[u8]) -> std::io::Result<std::ffi::CString> {
    std::ffi::CString::new(b).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
}

impl Exec {
    /// `prog` run with `argv` (argv[0] included) in `dir`, with only
    /// `PATH=path` in its environment.
    pub fn new(
        prog: &std::path::Path,
        argv: &[&std::ffi::OsStr],
        dir: &std::path::Path,
        path: &std::ffi::OsStr,
    ) -> std::io::Result<Exec> {
        use std::os::unix::ffi::OsStrExt;
        let c = cstring;
        let mut env = b"PATH=".to_vec();
        env.extend_from_slice(path.as_bytes());
        Ok(Exec {
            prog: c(prog.as_os_str().as_bytes())?,
            dir: c(dir.as_os_str().as_bytes())?,
            argv: argv
                .iter()
                .map(|a| c(a.as_bytes()))
                .collect::<Result<_, _>>()?,
            envp: Some(vec![c(&env)?]),
            setsid: true,
        })
    }

    /// `/bin/sh -c cmd` in `dir` with svlogd's whole environment (what
    /// runit's svlogd gives a `!processor`).
    pub fn shell(cmd: &[u8], dir: &std::path::Path) -> std::io::Result<Exec> {
        use std::os::unix::ffi::OsStrExt;
        Ok(Exec {
            prog: cstring(b"/bin/sh")?,
            dir: cstring(dir.as_os_str().as_bytes())?,
            argv: vec![cstring(b"sh")?, cstring(b"-c")?, cstring(cmd)?],
            envp: None,
            setsid: false,
        })
    }
}

/// fork(2) and execve(2) without waiting for the exec, as runsv does:
/// the event loop goes on at once, and an exec that fails shows up as the
/// child exiting 111 (runit's convention). `stdin`/`stdout` are dup2'd
/// onto 0/1 in the child. std's `Command` instead blocks the parent until
/// the child has exec'd, which stalls every other service meanwhile.
pub fn spawn(
    exec: &Exec,
    stdin: Option<std::os::fd::BorrowedFd<'_>>,
    stdout: Option<std::os::fd::BorrowedFd<'_>>,
) -> std::io::Result<u32> {
    use std::os::fd::AsRawFd;
    let fds: Vec<(i32, i32)> = [(stdin, 0), (stdout, 1)]
        .into_iter()
        .filter_map(|(fd, to)| fd.map(|fd| (fd.as_raw_fd(), to)))
        .collect();
    spawn_fds(exec, &fds)
}

/// [`spawn`] with any fds: each `(from, to)` is dup2'd in the child in
/// order. A `from` must not be another pair's `to` (callers dup their fds
/// above 9 first).
pub fn spawn_fds(exec: &Exec, fds: &[(i32, i32)]) -> std::io::Result<u32> {
    use std::ptr;
    // Pointer arrays built before fork: the child must not allocate.
    let mut argv: Vec<*const nix::libc::c_char> = exec.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(ptr::null());
    let envp: Option<Vec<*const nix::libc::c_char>> = exec.envp.as_ref().map(|v| {
        v.iter()
            .map(|e| e.as_ptr())
            .chain(std::iter::once(ptr::null()))
            .collect()
    });
    // SAFETY: the supervisor is single-threaded when it spawns services
    // (PID 1's event loop, the runsv/runsvdir applets, or svlogd), so no lock can be
    // held by another thread at fork. The child only calls async-signal-safe
    // functions (setsid, sigaction, sigprocmask, dup2, chdir, execve/execv, _exit)
    // on data prepared above, which stays alive until the child execs or
    // exits; it never returns into Rust code.
    match unsafe { nix::unistd::fork() }.map_err(std::io::Error::from)? {
        nix::unistd::ForkResult::Parent { child } => Ok(child.as_raw() as u32),
        // SAFETY: in the child, as argued above: only async-signal-safe
        // calls on pointers into `exec`, `argv` and `envp`, which are alive.
        nix::unistd::ForkResult::Child => unsafe {
            if exec.setsid {
                nix::libc::setsid();
            }
            reset_signal_state();
            for &(from, to) in fds {
                if nix::libc::dup2(from, to) < 0 {
                    nix::libc::_exit(111);
                }
            }
            if nix::libc::chdir(exec.dir.as_ptr()) != 0 {
                nix::libc::_exit(111);
            }
            match &envp {
                Some(e) => nix::libc::execve(exec.prog.as_ptr(), argv.as_ptr(), e.as_ptr()),
                None => nix::libc::execv(exec.prog.as_ptr(), argv.as_ptr()),
            };
            nix::libc::_exit(111)
        },
    }
}
