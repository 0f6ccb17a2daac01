//! `runit-init 0|6` when not process 1: ask PID 1 to halt (0) or reboot
//! (6) the way runit's stage 3 is asked: `stopit` owner-executable says
//! "stop", `reboot` owner-executable says "reboot" (mode 0: halt), then
//! SIGCONT to process 1. As process 1 the binary is `init` itself
//! (`init/src/main.rs` decides that before any dispatch).
use std::ffi::{CStr, OsString};

use rustix::fs::{chmod, open, Mode, OFlags};
use rustix::io::Errno;

use super::common::{arg0, die};

/// runit's (upstream) flag files; Debian's build uses `/run/runit.stopit`
/// and `/run/runit.reboot`, which PID 1 also honours.
const STOPIT: &CStr = c"/etc/runit/stopit";
const REBOOT: &CStr = c"/etc/runit/reboot";

fn fail(what: &str, path: &CStr, e: Errno) -> i32 {
    let path = path.to_str().unwrap_or_default();
    die(111, &["init: fatal: ", what, path], Some(e))
}

/// Create (truncate) `path` and make it `---x------`.
fn flag(path: &CStr) -> Result<(), i32> {
    let flags = OFlags::WRONLY | OFlags::NONBLOCK | OFlags::TRUNC | OFlags::CREATE;
    open(path, flags, Mode::from_raw_mode(0o644))
        .map_err(|e| fail("unable to create ", path, e))?;
    mode(path, 0o100)
}

/// chmod(2); a missing file is no error only for mode 0 (runit's halt
/// leaves a missing `reboot` missing).
fn mode(path: &CStr, mode: u32) -> Result<(), i32> {
    match chmod(path, Mode::from_raw_mode(mode)) {
        Err(e) if !(mode == 0 && e == Errno::NOENT) => Err(fail("unable to chmod ", path, e)),
        _ => Ok(()),
    }
}

/// `runit-init 0|6`. Only the first character counts (`6x` reboots);
/// anything else prints the usage and exits 0, as runit-init does.
/// Exit codes: 0, or 111 when a flag file cannot be made.
#[allow(clippy::needless_pass_by_value)] // the signature is the applet contract
pub fn runit_init_main(args: Vec<OsString>) -> i32 {
    let first = args
        .get(1)
        .and_then(|a| a.as_encoded_bytes().first().copied());
    let done = match first {
        Some(b'0') => flag(STOPIT).and_then(|()| mode(REBOOT, 0)),
        Some(b'6') => flag(STOPIT).and_then(|()| flag(REBOOT)),
        _ => return die(0, &["usage: ", &arg0(&args, "runit-init"), " 0|6\n"], None),
    };
    if let Err(code) = done {
        return code;
    }
    // runit-init does not check this either: PID 1 exists, and only root
    // got this far.
    let _ =
        rustix::process::kill_process(rustix::process::Pid::INIT, rustix::process::Signal::CONT);
    0
}
