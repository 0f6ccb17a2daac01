//! `chpst` and its personalities (`envdir`, `envuidgid`, `pgrphack`,
//! `setuidgid`, `softlimit`, `setlock`, chosen by argv[0]'s basename with
//! one leading `d` dropped, as runit does): change the process state in
//! runit's order, then exec the program in this same process. Options,
//! usage lines, messages and exit codes (100 usage, 111 failure) are
//! runit 2.2.0's (README.md).
mod envdir;
mod exec;
mod getopt;
mod limits;
mod personality;
#[cfg(test)]
mod tests;
mod users;

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::fd::IntoRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::unistd::{Gid, Uid};

use crate::errstr::{error_str, io_error_str};
use getopt::Getopt;
use limits::Limits;

/// The version line of `-V` (Debian's runit 2.1.2 chpst prints this one).
const VERSION: &str = "$Id: f279d44141c981dd7535a12260efcf1ef7beed26 $";
const USAGE: &str = " [-vVP012] [-u user[:group]] [-U user[:group]] [-b argv0] [-e dir] [-/ root] [-C pwd] [-n nice] [-l|-L lock] [-m n] [-d n] [-o n] [-p n] [-f n] [-c n] [-t n] prog";

/// Leave with this exit code (the message is printed).
pub(crate) struct Die(i32);

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

/// How we were called: argv[0]'s basename (for getopt's messages) and the
/// program it names (for usage lines).
pub(crate) struct Called<'a> {
    name: &'a str,
    prog: &'a str,
}

impl Called<'_> {
    /// `usage: PROG TEXT` and a blank line, exit 100.
    fn usage(&self, text: &str) -> Die {
        say(b"usage: ", &[self.prog.as_bytes(), text.as_bytes(), b"\n"]);
        Die(100)
    }
    fn getopt<'a>(&'a self, args: &'a [OsString], spec: &'a [u8]) -> Getopt<'a> {
        Getopt::new(self.name, args, spec)
    }
}

/// What `chpst`'s options ask for.
#[derive(Default)]
struct Chpst<'a> {
    set_user: Option<&'a [u8]>,
    env_user: Option<&'a [u8]>,
    argv0: Option<&'a [u8]>,
    env_dir: Option<&'a [u8]>,
    root: Option<&'a [u8]>,
    pwd: Option<&'a [u8]>,
    /// The lock file, and whether to wait for it (`-l`).
    lock: Option<(&'a [u8], bool)>,
    nice: i64,
    verbose: bool,
    pgrp: bool,
    close: [bool; 3],
    limits: Limits,
}

fn parse<'a>(called: &'a Called, args: &'a [OsString]) -> Result<(Chpst<'a>, usize), Die> {
    let mut o = Chpst::default();
    let mut opts = called.getopt(args, b"u:U:b:e:m:d:o:p:f:c:r:t:/:C:n:l:L:vP012V");
    let usage = || called.usage(USAGE);
    while let Some(opt) = opts.next() {
        let Ok((opt, v)) = opt else {
            return Err(usage());
        };
        match opt {
            b'u' => o.set_user = Some(v),
            b'U' => o.env_user = Some(v),
            b'b' => o.argv0 = Some(v),
            b'e' => o.env_dir = Some(v),
            b'/' => o.root = Some(v),
            b'C' => o.pwd = Some(v),
            b'n' => {
                let (neg, digits) = match v.first() {
                    Some(b'-') => (true, &v[1..]),
                    Some(b'+') => (false, &v[1..]),
                    _ => (false, v),
                };
                let n = number(digits).ok_or_else(usage)? as i64;
                o.nice = if neg { n.wrapping_neg() } else { n };
            }
            b'l' | b'L' if o.lock.is_some() => return Err(usage()),
            b'l' | b'L' => o.lock = Some((v, opt == b'l')),
            b'v' => o.verbose = true,
            b'P' => o.pgrp = true,
            b'0'..=b'2' => o.close[usize::from(opt - b'0')] = true,
            b'V' => {
                say(VERSION.as_bytes(), &[]);
                return Err(usage());
            }
            _ => o.limits.set(opt, number(v).ok_or_else(usage)?),
        }
    }
    if opts.ind >= args.len() {
        return Err(usage());
    }
    Ok((o, opts.ind))
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

/// Exec `file`; on failure `chpst: fatal: unable to run: ARGV0: …`.
fn run(file: &[u8], argv: &[&[u8]], changes: &[Vec<u8>]) -> Die {
    let e = exec::run(file, argv, changes);
    fatal(&[b"unable to run: ", argv[0], b": ", sys(e)])
}

/// Look up `spec` ([`users::resolve`]), reading the files it needs.
fn lookup(spec: &[u8], ext: bool) -> Result<users::Ids, Die> {
    let numeric = ext && spec.starts_with(b":");
    let read = |p: &str, need: bool| {
        if need {
            std::fs::read(p)
        } else {
            Ok(Vec::new())
        }
    };
    let files = read("/etc/passwd", !numeric).and_then(|pw| {
        Ok((
            pw,
            read("/etc/group", !numeric && ext && spec.contains(&b':'))?,
        ))
    });
    let (pw, gr) = files.map_err(|e| {
        let m: &[u8] = if ext {
            b"unable to get password/group file entry: "
        } else {
            b"unable to get password file entry: "
        };
        fatal(&[m, io(&e)])
    })?;
    users::resolve(spec, ext, &pw, &gr).map_err(|b| {
        let (m, what): (&[u8], _) = match b {
            users::Bad::Invalid => (b"invalid uid/gids: ", &spec[1..]),
            users::Bad::Unknown if ext => (b"unknown user/group: ", spec),
            users::Bad::Unknown => (b"unknown account: ", spec),
        };
        fatal(&[m, what])
    })
}

/// setgroups(2), setgid(2), setuid(2), in that order.
fn become_user(ids: &users::Ids) -> Result<(), Die> {
    let gids: Vec<Gid> = ids.gids.iter().map(|&g| Gid::from_raw(g)).collect();
    let f = |m: &[u8], e| fatal(&[m, sys(e)]);
    nix::unistd::setgroups(&gids).map_err(|e| f(b"unable to setgroups: ", e))?;
    nix::unistd::setgid(gids[0]).map_err(|e| f(b"unable to setgid: ", e))?;
    nix::unistd::setuid(Uid::from_raw(ids.uid)).map_err(|e| f(b"unable to setuid: ", e))
}

/// `$GID` and `$UID` for `-U` and `envuidgid`.
fn env_ids(ids: &users::Ids, changes: &mut Vec<Vec<u8>>) {
    for (k, v) in [("GID=", ids.gids[0]), ("UID=", ids.uid)] {
        changes.push(format!("{k}{v}").into_bytes());
    }
}

/// Open `file` as runit's open_append does (write-only, append, create,
/// non-blocking, 0600) and flock(2) it exclusively, waiting or not. The
/// descriptor is left open (and inherited by the program): the lock lasts
/// as long as it runs. On failure the message's start and the error.
fn lock(file: &[u8], wait: bool) -> Result<(), (&'static [u8], Errno)> {
    use rustix::fs::{FlockOperation as Op, Mode, OFlags};
    let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::NONBLOCK;
    let fd = rustix::fs::open(path(file), flags, Mode::from_raw_mode(0o600))
        .map_err(|e| (&b"unable to open lock: "[..], crate::errstr::from_rustix(e)))?;
    let op = if wait {
        Op::LockExclusive
    } else {
        Op::NonBlockingLockExclusive
    };
    rustix::fs::flock(&fd, op)
        .map_err(|e| (&b"unable to lock: "[..], crate::errstr::from_rustix(e)))?;
    let _ = fd.into_raw_fd();
    Ok(())
}

/// runit's scan_ulong over all of `s`: decimal digits only (wrapping on
/// overflow as runit's does); the empty string is 0.
pub(crate) fn number(s: &[u8]) -> Option<u64> {
    s.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit()
            .then(|| n.wrapping_mul(10).wrapping_add(u64::from(d - b'0')))
    })
}

fn bytes(args: &[OsString]) -> Vec<&[u8]> {
    args.iter().map(|a| a.as_bytes()).collect()
}

fn path(b: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(b))
}

fn sys(e: Errno) -> &'static [u8] {
    error_str(e).as_bytes()
}

fn io(e: &std::io::Error) -> &'static [u8] {
    io_error_str(e).as_bytes()
}

/// `prefix`, `parts` and a newline to stderr, in one write.
fn say(prefix: &[u8], parts: &[&[u8]]) {
    let mut line = prefix.to_vec();
    for p in parts {
        line.extend_from_slice(p);
    }
    line.push(b'\n');
    let _ = std::io::stderr().write_all(&line);
}

/// `chpst: fatal: PARTS` (every personality says `chpst`, as runit's),
/// exit 111.
fn fatal(parts: &[&[u8]]) -> Die {
    say(b"chpst: fatal: ", parts);
    Die(111)
}
