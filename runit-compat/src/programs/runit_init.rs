//! `runit-init 0|6` when not process 1: ask PID 1 to halt (0) or reboot
//! (6) the way runit's stage 3 is asked: `stopit` owner-executable says
//! "stop", `reboot` owner-executable says "reboot" (mode 0: halt), then
//! SIGCONT to process 1. As process 1 the binary is `init` itself
//! (`init/src/main.rs` decides that before any dispatch).
use std::ffi::OsString;
use std::fs::{self, OpenOptions, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

use super::{arg0, die};

/// runit's (upstream) flag files; Debian's build uses `/run/runit.stopit`
/// and `/run/runit.reboot`, which PID 1 also honours.
const STOPIT: &str = "/etc/runit/stopit";
const REBOOT: &str = "/etc/runit/reboot";
const FATAL: &str = "init: fatal: ";

/// Create (truncate) `path` and make it `---x------`.
fn flag(path: &str) -> Result<(), i32> {
    let open = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path);
    if let Err(e) = open {
        return Err(die(111, &[FATAL, "unable to create ", path], Some(&e)));
    }
    chmod(path, 0o100, false)
}

/// chmod(2); with `missing_ok`, a missing file is no error (runit's halt
/// leaves a missing `reboot` missing).
fn chmod(path: &str, mode: u32, missing_ok: bool) -> Result<(), i32> {
    match fs::set_permissions(path, Permissions::from_mode(mode)) {
        Err(e) if !(missing_ok && e.kind() == ErrorKind::NotFound) => {
            Err(die(111, &[FATAL, "unable to chmod ", path], Some(&e)))
        }
        _ => Ok(()),
    }
}

/// `runit-init 0|6`. Only the first character counts (`6x` reboots);
/// anything else prints the usage and exits 0, as runit-init does.
/// Exit codes: 0, or 111 when a flag file cannot be made.
#[allow(clippy::needless_pass_by_value)] // the signature is the applet contract
pub fn runit_init_main(args: Vec<OsString>) -> i32 {
    let prog = arg0(&args, "runit-init");
    let first = args
        .get(1)
        .and_then(|a| a.as_encoded_bytes().first().copied());
    let done = match first {
        Some(b'0') => flag(STOPIT).and_then(|()| chmod(REBOOT, 0, true)),
        Some(b'6') => flag(STOPIT).and_then(|()| flag(REBOOT)),
        _ => return die(0, &["usage: ", &prog, " 0|6\n"], None),
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
