//! `runsv DIR` and `runsvdir [-P] DIR` as ordinary processes: the same
//! supervisor and loop PID 1 uses, made a child subreaper.
use std::ffi::OsString;
use std::path::Path;
use std::time::Instant;

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;

use crate::{run, Flow, Host, Options, Supervisor};

/// Log records go to stderr, one line each (the applets have no kmsg).
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Warn
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            eprintln!("{}", r.args());
        }
    }
    fn flush(&self) {}
}

fn init_log() {
    static LOGGER: StderrLog = StderrLog;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
}

/// The applets hand their own PATH on to the services (PID 1 uses the default).
fn applet_options() -> Options {
    let mut o = Options::default();
    if let Some(p) = std::env::var_os("PATH") {
        o.path_env = p;
    }
    o
}

fn subreaper() {
    if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
        log::warn!("unable to become a child subreaper: {e}");
    }
}

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
    let mut sup = match Supervisor::new(Some(dir), applet_options()) {
        Ok(s) => s,
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
