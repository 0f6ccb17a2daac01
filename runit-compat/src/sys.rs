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
            for sig in Signal::iterator() {
                if sig != Signal::SIGKILL && sig != Signal::SIGSTOP {
                    let _ = signal::signal(sig, SigHandler::SigDfl);
                }
            }
            let _ = signal::sigprocmask(
                signal::SigmaskHow::SIG_SETMASK,
                Some(&signal::SigSet::empty()),
                None,
            );
            Ok(())
        });
    }
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
