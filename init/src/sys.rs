//! The one place in `init` that needs `unsafe`: code that runs in a forked
//! child between fork and exec (`pre_exec`), where only async-signal-safe
//! calls are allowed.
#![allow(unsafe_code)]

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Start the child in a session of its own (setsid(2)); with `take_tty`,
/// also make its stdin — the console — its controlling terminal
/// (ioctl TIOCSCTTY, see tty_ioctl(4)) so job control and ^C work in a
/// rescue shell.
pub fn new_session(cmd: &mut Command, take_tty: bool) -> &mut Command {
    // SAFETY: the closure runs in the child after fork and only calls
    // setsid(2) and ioctl(2) through rustix, which are async-signal-safe and
    // touch no memory shared with the parent.
    unsafe {
        cmd.pre_exec(move || {
            clean_signal_state();
            rustix::process::setsid()?;
            if take_tty {
                let stdin = std::io::stdin();
                // Failure leaves the shell without job control: not fatal.
                let _ = rustix::process::ioctl_tiocsctty(stdin);
            }
            Ok(())
        })
    }
}

/// swapoff(2): stop swapping to `path`. Neither nix nor rustix wraps it.
pub fn swapoff(path: &str) -> std::io::Result<()> {
    let c = std::ffi::CString::new(path)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call;
    // swapoff(2) only reads it.
    let rc = unsafe { nix::libc::swapoff(c.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Give the process (about to exec) what every program expects: an empty
/// signal mask and default dispositions. PID 1 blocks its signals to read
/// them from a signalfd, and a mask survives fork and exec; Rust's runtime
/// ignores SIGPIPE, which also survives exec.
pub fn clean_signal_state() {
    use nix::sys::signal::{signal, sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    // SAFETY: installing SIG_DFL (no handler function) is always sound, and
    // signal(2) is async-signal-safe, so this may also run after fork.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}
