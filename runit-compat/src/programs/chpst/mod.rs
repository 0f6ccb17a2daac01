//! `chpst` and its personalities (`envdir`, `envuidgid`, `pgrphack`,
//! `setuidgid`, `softlimit`, `setlock`, chosen by argv[0]'s basename with
//! one leading `d` dropped, as runit does): change the process state in
//! runit's order, then exec the program in this same process. Options,
//! usage lines, messages and exit codes (100 usage, 111 failure) are
//! runit 2.2.0's (README.md).
mod called;
mod common;
mod envdir;
mod exec;
mod getopt;
mod limits;
mod options;
mod personality;
mod steps;
#[cfg(test)]
mod tests;
mod users;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;

use called::Called;
use common::{bytes, fatal, path, sys, Die};
use options::{parse, Chpst};
use steps::{become_user, env_ids, lock, lookup, run};

/// `chpst` when `name` (argv[0]'s basename) is `chpst` or one of its
/// personalities; `None` otherwise. Returns only when it did not exec.
pub fn chpst_main(name: &str, args: &[OsString]) -> Option<i32> {
    let prog = name.strip_prefix('d').unwrap_or(name);
    let main = match prog {
        "chpst" => chpst,
        "envdir" => personality::envdir,
        "envuidgid" => personality::envuidgid,
        "pgrphack" => personality::pgrphack,
        "setuidgid" => personality::setuidgid,
        "softlimit" => personality::softlimit,
        "setlock" => personality::setlock,
        _ => return None,
    };
    Some(main(&Called { name, prog }, args).0)
}

fn chpst(c: &Called, args: &[OsString]) -> Die {
    match parse(c, args).and_then(|(o, i)| apply(&o, &args[i..])) {
        Ok(d) | Err(d) => d,
    }
}

/// runit's order: setsid, envdir, root, directory, nice, `-U`, `-u`, lock,
/// closing 0/1/2, limits, exec.
fn apply(o: &Chpst, argv: &[OsString]) -> Result<Die, Die> {
    let mut changes = Vec::new();
    if o.pgrp {
        let _ = rustix::process::setsid();
    }
    if let Some(d) = o.env_dir {
        envdir::read(d, true, o.verbose, &mut changes)?;
    }
    if let Some(r) = o.root {
        nix::unistd::chdir(path(r))
            .map_err(|e| fatal(&[b"unable to change directory: ", r, b": ", sys(e)]))?;
        nix::unistd::chroot(".")
            .map_err(|e| fatal(&[b"unable to change root directory: ", sys(e)]))?;
    }
    if let Some(p) = o.pwd {
        nix::unistd::chdir(path(p))
            .map_err(|e| fatal(&[b"unable to change directory: ", p, b": ", sys(e)]))?;
    }
    if o.nice != 0 {
        // glibc's nice(3) reports EPERM where setpriority(2) says EACCES.
        rustix::process::nice(o.nice as i32).map_err(|e| {
            let e = crate::errstr::from_rustix(e);
            fatal(&[
                b"unable to set nice level: ",
                sys(if e == Errno::EACCES { Errno::EPERM } else { e }),
            ])
        })?;
    }
    if let Some(u) = o.env_user {
        env_ids(&lookup(u, true)?, &mut changes);
    }
    if let Some(u) = o.set_user {
        become_user(&lookup(u, true)?)?;
    }
    if let Some((f, wait)) = o.lock {
        lock(f, wait).map_err(|(m, e)| fatal(&[m, f, b": ", sys(e)]))?;
    }
    for (fd, what) in [(0, "stdin"), (1, "stdout"), (2, "stderr")] {
        if o.close[fd as usize] {
            nix::unistd::close(fd)
                .map_err(|e| fatal(&[b"unable to close ", what.as_bytes(), b": ", sys(e)]))?;
        }
    }
    o.limits.apply()?;
    let file = argv[0].as_bytes();
    let mut argv = bytes(argv);
    if let Some(a) = o.argv0 {
        argv[0] = a;
    }
    Ok(run(file, &argv, &changes))
}
