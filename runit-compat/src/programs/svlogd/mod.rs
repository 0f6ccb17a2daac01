//! `svlogd`: runit's logger. Reads lines from stdin, stamps and selects
//! them, and writes them to rotated log directories (README.md, svlogd).
//! One concern a file: the command line (`options`), `config` and the
//! pattern language (`config`), timestamps (`stamp`), a log directory
//! (`logdir`, `rotate`), lines (`line`) and the loop (`run`).
use std::ffi::OsString;

mod config;
mod line;
mod logdir;
mod options;
mod rotate;
mod run;
mod stamp;
#[cfg(test)]
mod tests;

use options::Bad;

const USAGE: &str = " [-ttv] [-r c] [-R abc] [-l len] [-b buflen] dir ...";
/// runit prints its version control id for `-V`.
const VERSION: &str = "$Id: 5e55a90e0a1b35ec47fed3021453c50675ea1117 $";
/// How long runit's svlogd waits before retrying after a failure.
const PAUSE_SECS: u64 = 3;

/// `svlogd [-ttv] [-r c] [-R abc] [-l len] [-b buflen] dir ...`: exits 0
/// at the end of input or on TERM, 111 on usage errors and failures.
#[allow(clippy::needless_pass_by_value)] // the signature is the applet contract
pub fn svlogd_main(args: Vec<OsString>) -> i32 {
    let prog = args
        .first()
        .map_or("svlogd".into(), |a| a.to_string_lossy().into_owned());
    match options::parse(&args) {
        Ok(o) => run::run(&o),
        Err(b) => {
            let opt =
                |what: &str, c: u8| say(&["svlogd: ", what, " -- ", &char::from(c).to_string()]);
            match b {
                Bad::Illegal(c) => opt("illegal option", c),
                Bad::NeedsArg(c) => opt("option requires an argument", c),
                Bad::Version => say(&[VERSION]),
                Bad::Usage => {}
            }
            say(&["usage: ", &prog, USAGE, "\n"]);
            111
        }
    }
}

/// One line on stderr from its parts, in one write(2) (as runit's
/// buffered strerr; no formatting machinery).
fn say(parts: &[&str]) {
    let mut v = Vec::with_capacity(128);
    for p in parts {
        v.extend_from_slice(p.as_bytes());
    }
    v.push(b'\n');
    let _ = rustix::io::write(rustix::stdio::stderr(), &v);
}

/// runit's text for `e`.
fn errstr(e: rustix::io::Errno) -> &'static str {
    crate::errstr::error_str(crate::errstr::from_rustix(e))
}

/// `svlogd: KIND: WHAT: NAME[: error]`.
fn report(kind: &str, what: &str, name: &str, e: Option<rustix::io::Errno>) {
    let (sep, err) = e.map_or(("", ""), |e| (": ", errstr(e)));
    say(&["svlogd: ", kind, what, ": ", name, sep, err]);
}

/// `svlogd: warning: WHAT: NAME[: error]`; false, for `return warn(…)`.
fn warn(what: &str, name: &str, e: Option<rustix::io::Errno>) -> bool {
    report("warning: ", what, name, e);
    false
}

/// `svlogd: pausing: WHAT: NAME: error`, then wait before the retry.
fn pause(what: &str, name: &str, e: Option<rustix::io::Errno>) {
    report("pausing: ", what, name, e);
    std::thread::sleep(std::time::Duration::from_secs(PAUSE_SECS));
}

/// `svlogd: info: WHATNAMEREST` (with `-v`).
fn info(what: &str, name: &str, rest: &str) {
    say(&["svlogd: info: ", what, name, rest]);
}
