//! Helpers the programs share (argv[0], runit's one-line messages, the
//! applets' logger and options), in a leaf file the programs import
//! without importing the dispatcher back.
use std::ffi::OsString;
use std::io::Write;

use crate::options::Options;

/// argv[0] as given (runit's messages name the program so), or `name`.
pub(crate) fn arg0(args: &[OsString], name: &str) -> String {
    args.first()
        .map_or(name.into(), |a| a.to_string_lossy().into_owned())
}

/// Write runit's one-line message `PARTS…` (with `: ERROR` in runit's
/// words when `err` is given) to stderr and return `code` (strerr_die).
pub(crate) fn die(code: i32, parts: &[&str], err: Option<rustix::io::Errno>) -> i32 {
    let mut line = parts.concat();
    if let Some(e) = err {
        line.push_str(": ");
        line.push_str(crate::errstr::error_str(crate::errstr::from_rustix(e)));
    }
    line.push('\n');
    let _ = std::io::stderr().write_all(line.as_bytes());
    code
}

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

pub(crate) fn init_log() {
    static LOGGER: StderrLog = StderrLog;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
}

/// The applets hand their own PATH on to the services (PID 1 uses the default).
pub(crate) fn applet_options() -> Options {
    let mut o = Options::default();
    if let Some(p) = std::env::var_os("PATH") {
        o.path_env = p;
    }
    o
}

pub(crate) fn subreaper() {
    if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
        log::warn!("unable to become a child subreaper: {e}");
    }
}
