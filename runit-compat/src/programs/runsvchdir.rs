//! `runsvchdir dir`: switch runsvdir's "runlevel" by pointing the
//! `current` link in `/etc/runit/runsvdir/` at `dir`. The new link is made
//! aside (`current.new`) and renamed over `current`, so a supervisor that
//! watches `current` never sees it missing; the old one is kept as
//! `previous`.
use std::ffi::OsString;
use std::fs;
use std::io::{self, ErrorKind, Write};
use std::os::unix::fs::MetadataExt;

use super::{arg0, die};

/// runit's fixed base (runit 2.1.2 has no `$RUNSVDIR`).
const BASE: &str = "/etc/runit/runsvdir";

/// remove(2) that succeeds when `name` is already gone.
fn unlink(name: &str) -> io::Result<()> {
    match fs::remove_file(name) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// `runsvchdir dir`. Exit codes: 0 done (or already current), 1 usage,
/// 111 failure; messages as runit's (`PROG: fatal: …`).
#[allow(clippy::needless_pass_by_value)] // the signature is the applet contract
pub fn runsvchdir_main(args: Vec<OsString>) -> i32 {
    let prog = arg0(&args, "runsvchdir");
    let Some(new) = args.get(1).map(|a| a.to_string_lossy().into_owned()) else {
        return die(1, &["usage: ", &prog, " dir\n"], None);
    };
    let fatal = |what: &[&str], e: Option<&io::Error>| {
        let mut parts = vec![prog.as_str(), ": fatal: "];
        parts.extend_from_slice(what);
        die(111, &parts, e)
    };
    if new.starts_with('.') {
        return fatal(&[&new, ": must not start with a dot."], None);
    }
    if let Err(e) = std::env::set_current_dir(BASE) {
        return fatal(&["unable to chdir: ", BASE], Some(&e));
    }
    let md = match fs::metadata(&new) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return fatal(&[&new], Some(&e)),
        Err(e) => return fatal(&["unable to stat: ", &new], Some(&e)),
    };
    if !md.is_dir() {
        // runit prints no separator here.
        return fatal(&[&new, "not a directory."], None);
    }
    match fs::metadata("current") {
        Ok(cur) if (cur.dev(), cur.ino()) == (md.dev(), md.ino()) => {
            return say(&new, ": current.\n");
        }
        Ok(_) => {}
        Err(e) => return fatal(&["unable to stat: current"], Some(&e)),
    }
    if let Err(e) = unlink("current.new") {
        return fatal(&["unable to unlink: current.new"], Some(&e));
    }
    if let Err(e) = std::os::unix::fs::symlink(&new, "current.new") {
        return fatal(&["unable to create: current.new -> ", &new], Some(&e));
    }
    if let Err(e) = unlink("previous") {
        return fatal(&["unable to unlink: previous"], Some(&e));
    }
    if let Err(e) = fs::rename("current", "previous") {
        return fatal(&["unable to copy: current to previous"], Some(&e));
    }
    if let Err(e) = fs::rename("current.new", "current") {
        fatal(&["unable to move: current.new to current"], Some(&e));
        if let Err(e) = fs::rename("previous", "current") {
            return fatal(&["unable to move previous back to current"], Some(&e));
        }
        return 111;
    }
    say(&new, ": now current.\n")
}

/// `runsvchdir: DIR: …` on stdout (runit names itself here, not argv[0]).
fn say(dir: &str, what: &str) -> i32 {
    let line = ["runsvchdir: ", dir, what].concat();
    let _ = io::stdout().write_all(line.as_bytes());
    0
}
