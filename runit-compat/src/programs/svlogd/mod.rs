//! `svlogd`: runit's logger. Reads lines from stdin, stamps and selects
//! them, and writes them to rotated log directories (README.md, svlogd).
//! One concern a file: the command line (`options`), `config` and the
//! pattern language (`config`), timestamps (`stamp`), a log directory
//! (`logdir`, `rotate`), lines (`line`), the loop (`run`) and the
//! messages on stderr (`report`).
use std::ffi::OsString;

mod config;
mod line;
mod logdir;
mod options;
mod report;
mod rotate;
mod run;
mod stamp;
#[cfg(test)]
mod tests;

use options::Bad;
use report::say;

const USAGE: &str = " [-ttv] [-r c] [-R abc] [-l len] [-b buflen] dir ...";
/// runit prints its version control id for `-V`.
const VERSION: &str = "$Id: 5e55a90e0a1b35ec47fed3021453c50675ea1117 $";

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
