//! runit's programs, one file or folder each, all in the one binary:
//! `init` dispatches on argv[0] (or its first argument) through
//! [`dispatch`]. Each program keeps runit's usage lines, messages and
//! exit codes (README.md, per program).
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use crate::Options;

mod chpst;
mod runit_init;
mod runsv;
mod runsvchdir;
mod runsvdir;
mod sv;
mod svlogd;
mod utmpset;

pub use runsv::runsv_main;
pub use runsvdir::runsvdir_main;
pub use sv::sv_main;
pub use svlogd::svlogd_main;

/// True when argv[0] is a link in an `init.d` directory
/// (`/etc/init.d/NAME`): an LSB init script that `sv` serves.
pub fn is_init_script(args: &[OsString]) -> bool {
    args.first()
        .and_then(|a| Path::new(a).parent()?.file_name())
        .is_some_and(|d| d == "init.d")
}

/// Run the runit program argv[0] names (its basename; `init`'s callers
/// pass `init sv …` as `sv …`) with `args` (args[0] included); `None`
/// when it names none. A link in an `init.d` directory is always `sv`'s
/// LSB mode, whatever its name (runit's sv takes any name but `sv`; this
/// binary has many names, so only the `init.d` ones).
pub fn dispatch(args: Vec<OsString>) -> Option<i32> {
    if is_init_script(&args) {
        return Some(sv_main(args));
    }
    let name = Path::new(args.first()?).file_name()?.to_str()?;
    Some(match name {
        "sv" => sv_main(args),
        "runsv" => runsv_main(args),
        "runsvdir" => runsvdir_main(args),
        "svlogd" => svlogd_main(args),
        "runsvchdir" => runsvchdir::runsvchdir_main(args),
        "utmpset" => utmpset::utmpset_main(args),
        "runit-init" => runit_init::runit_init_main(args),
        // chpst answers to its own names (envdir, setlock, …) only.
        _ => return chpst::chpst_main(name, &args),
    })
}

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
