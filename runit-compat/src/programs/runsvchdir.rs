//! `runsvchdir dir`: switch runsvdir's "runlevel" by pointing the
//! `current` link in `/etc/runit/runsvdir/` at `dir`. The new link is made
//! aside (`current.new`) and renamed over `current`, so a supervisor that
//! watches `current` never sees it missing for more than a moment; the
//! old one is kept as `previous`.
use std::ffi::{CStr, OsString};
use std::io::Write;

use rustix::fs::{rename, stat, symlink, unlink, FileType};
use rustix::io::Errno;

use super::common::{arg0, die};

/// runit's fixed base (runit 2.1.2 has no `$RUNSVDIR`).
const BASE: &str = "/etc/runit/runsvdir";

/// unlink(2) that succeeds when `name` is already gone.
fn remove(name: &CStr) -> Result<(), Errno> {
    match unlink(name) {
        Err(e) if e != Errno::NOENT => Err(e),
        _ => Ok(()),
    }
}

/// `runsvchdir dir`. Exit codes: 0 done (or already current), 1 usage,
/// 111 failure; messages as runit's (`PROG: fatal: …`).
#[allow(clippy::needless_pass_by_value)] // the signature is the applet contract
pub fn runsvchdir_main(args: Vec<OsString>) -> i32 {
    let prog = arg0(&args, "runsvchdir");
    let Some(dir) = args.get(1) else {
        return die(1, &["usage: ", &prog, " dir\n"], None);
    };
    let new = &*dir.to_string_lossy();
    let fatal =
        |what: &str, more: &str, e: Option<Errno>| die(111, &[&prog, ": fatal: ", what, more], e);
    if new.starts_with('.') {
        return fatal(new, ": must not start with a dot.", None);
    }
    if let Err(e) = rustix::process::chdir(BASE) {
        return fatal("unable to chdir: ", BASE, Some(e));
    }
    let st = match stat(dir.as_os_str()) {
        Ok(st) => st,
        Err(e) if e == Errno::NOENT => return fatal(new, "", Some(e)),
        Err(e) => return fatal("unable to stat: ", new, Some(e)),
    };
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        // runit prints no separator here.
        return fatal(new, "not a directory.", None);
    }
    match stat(c"current") {
        Ok(cur) if (cur.st_dev, cur.st_ino) == (st.st_dev, st.st_ino) => {
            return say(new, ": current.\n");
        }
        Ok(_) => {}
        Err(e) => return fatal("unable to stat: ", "current", Some(e)),
    }
    if let Err(e) = remove(c"current.new") {
        return fatal("unable to unlink: ", "current.new", Some(e));
    }
    if let Err(e) = symlink(dir.as_os_str(), c"current.new") {
        return fatal("unable to create: current.new -> ", new, Some(e));
    }
    if let Err(e) = remove(c"previous") {
        return fatal("unable to unlink: ", "previous", Some(e));
    }
    if let Err(e) = rename(c"current", c"previous") {
        return fatal("unable to copy: current to ", "previous", Some(e));
    }
    if let Err(e) = rename(c"current.new", c"current") {
        fatal("unable to move: current.new to ", "current", Some(e));
        if let Err(e) = rename(c"previous", c"current") {
            return fatal("unable to move previous back to ", "current", Some(e));
        }
        return 111;
    }
    say(new, ": now current.\n")
}

/// `runsvchdir: DIR: …` on stdout (runit names itself here, not argv[0]).
fn say(dir: &str, what: &str) -> i32 {
    let line = ["runsvchdir: ", dir, what].concat();
    let _ = std::io::stdout().write_all(line.as_bytes());
    0
}
