//! `runsvdir [-P] DIR`: every service of a directory, supervised by an
//! ordinary process made a child subreaper.
use std::ffi::OsString;
use std::path::Path;
use std::time::Instant;

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;

use super::common::{applet_options, init_log, subreaper};
use crate::event_loop::{run, Flow, Host};
use crate::supervisor::Supervisor;

/// runsvdir: SIGTERM and SIGHUP both stop every service, then exit (0
/// after TERM, 111 after HUP, as runsvdir's exit codes).
struct RunsvdirHost {
    exit_code: Option<i32>,
}

impl Host for RunsvdirHost {
    fn on_signal(&mut self, sup: &mut Supervisor, signal: Signal) -> Flow {
        if self.exit_code.is_none() {
            self.exit_code = Some(if signal == Signal::SIGHUP { 111 } else { 0 });
            sup.begin_shutdown();
        }
        Flow::Continue
    }
    fn on_reaped(&mut self, _: &mut Supervisor, _: nix::unistd::Pid, _: WaitStatus) -> Flow {
        Flow::Continue
    }
    fn deadline(&self) -> Option<Instant> {
        None
    }
    fn on_tick(&mut self, sup: &mut Supervisor, _: Instant) -> Flow {
        if self.exit_code.is_some() && sup.all_down() {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }
}

/// `runsvdir [-P] DIR`. Exit codes: 1 usage, 100 fatal, 0 after SIGTERM,
/// 111 after SIGHUP.
#[allow(clippy::needless_pass_by_value)] // the signature is the applet contract
pub fn runsvdir_main(args: Vec<OsString>) -> i32 {
    init_log();
    let prog = args
        .first()
        .map_or("runsvdir".into(), |a| a.to_string_lossy().into_owned());
    let mut rest = args.iter().skip(1);
    let mut dir = rest.next();
    if let Some(a) = dir {
        let b = a.as_encoded_bytes();
        if b.first() == Some(&b'-') {
            // -P (own session per service: always true here) and --.
            if matches!(b.get(1), Some(b'P' | b'-')) {
                dir = rest.next();
            } else {
                dir = None;
            }
        }
    }
    // Extra arguments (runsvdir's readproctitle log) are ignored.
    let Some(dir) = dir else {
        eprintln!("usage: {prog} [-P] dir");
        return 1;
    };
    let dir = Path::new(dir);
    // After a re-exec (SIGQUIT), the same services and children go on.
    let sup = Supervisor::resume(Some(dir), applet_options())
        .unwrap_or_else(|| Supervisor::new(Some(dir), applet_options()).map(|s| (s, 0)));
    let mut sup = match sup {
        Ok((s, _)) => s,
        Err(e) => {
            eprintln!("runsvdir {}: fatal: {e:#}", dir.display());
            return 100;
        }
    };
    subreaper();
    let mut host = RunsvdirHost { exit_code: None };
    match run(&mut sup, &mut host, &[Signal::SIGTERM, Signal::SIGHUP]) {
        Ok(()) => host.exit_code.unwrap_or(0),
        Err(e) => {
            eprintln!("runsvdir {}: fatal: {e:#}", dir.display());
            100
        }
    }
}
