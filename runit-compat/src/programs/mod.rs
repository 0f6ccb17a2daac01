//! runit's programs, one file or folder each, all in the one binary:
//! `init` dispatches on argv[0] (or its first argument) through
//! [`dispatch`]. Each program keeps runit's usage lines, messages and
//! exit codes (README.md, per program).
use std::ffi::OsString;
use std::path::Path;

mod chpst;
mod common;
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
