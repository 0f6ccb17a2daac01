//! runit's programs, one file or folder each, all in the one binary:
//! `init` dispatches on argv[0] (or its first argument) through
//! [`dispatch`]. Each program keeps runit's usage lines, messages and
//! exit codes (README.md, per program).
use std::ffi::OsString;

use crate::Options;

mod runsv;
mod runsvdir;
mod sv;
mod svlogd;

pub use runsv::runsv_main;
pub use runsvdir::runsvdir_main;
pub use sv::sv_main;
pub use svlogd::svlogd_main;

/// Run the program called `name` (argv[0]'s basename, or `init`'s first
/// argument) with `args` (args[0] included); `None` when `name` is not one
/// of runit's programs.
pub fn dispatch(name: &str, args: Vec<OsString>) -> Option<i32> {
    Some(match name {
        "sv" => sv_main(args),
        "runsv" => runsv_main(args),
        "runsvdir" => runsvdir_main(args),
        "svlogd" => svlogd_main(args),
        _ => return None,
    })
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
