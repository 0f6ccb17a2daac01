//! `runsv DIR`: one service (and its `log/`) supervised by an ordinary
//! process, with the same supervisor and loop PID 1 uses.
use std::ffi::OsString;
use std::path::Path;
use std::time::Instant;

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;

use super::common::{applet_options, init_log, subreaper};
use crate::event_loop::{run, Flow, Host};
use crate::supervisor::Supervisor;

/// runsv: exits once the service (and its log) is down after `x`/SIGTERM.
struct RunsvHost;

impl Host for RunsvHost {
    fn on_signal(&mut self, sup: &mut Supervisor, signal: Signal) -> Flow {
        if signal == Signal::SIGTERM {
            sup.control_first(b'x');
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
        if sup.is_empty() {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }
}

/// `runsv DIR`. Exit codes as runsv: 0 after `x`, 1 usage, 111 fatal.
#[allow(clippy::needless_pass_by_value)] // the signature is the applet contract
pub fn runsv_main(args: Vec<OsString>) -> i32 {
    init_log();
    let prog = args
        .first()
        .map_or("runsv".into(), |a| a.to_string_lossy().into_owned());
    if args.len() != 2 {
        eprintln!("usage: {prog} dir");
        return 1;
    }
    let dir = Path::new(&args[1]);
    let mut sup = match Supervisor::single(dir, applet_options()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("runsv {}: fatal: {e}", dir.display());
            return 111;
        }
    };
    subreaper();
    match run(&mut sup, &mut RunsvHost, &[Signal::SIGTERM]) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("runsv {}: fatal: {e:#}", dir.display());
            111
        }
    }
}
