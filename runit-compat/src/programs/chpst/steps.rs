//! The steps chpst and its personalities share: the account lookup and
//! switch, `$UID`/`$GID`, the lock file, and the exec at the end with
//! runit's message when it fails.
use std::os::fd::IntoRawFd;

use nix::errno::Errno;
use nix::unistd::{Gid, Uid};

use super::common::{fatal, io, path, sys, Die};
use super::{exec, users};

/// Exec `file`; on failure `chpst: fatal: unable to run: ARGV0: …`.
pub(super) fn run(file: &[u8], argv: &[&[u8]], changes: &[Vec<u8>]) -> Die {
    let e = exec::run(file, argv, changes);
    fatal(&[b"unable to run: ", argv[0], b": ", sys(e)])
}

/// Look up `spec` ([`users::resolve`]), reading the files it needs.
pub(super) fn lookup(spec: &[u8], ext: bool) -> Result<users::Ids, Die> {
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
pub(super) fn become_user(ids: &users::Ids) -> Result<(), Die> {
    let gids: Vec<Gid> = ids.gids.iter().map(|&g| Gid::from_raw(g)).collect();
    let f = |m: &[u8], e| fatal(&[m, sys(e)]);
    nix::unistd::setgroups(&gids).map_err(|e| f(b"unable to setgroups: ", e))?;
    nix::unistd::setgid(gids[0]).map_err(|e| f(b"unable to setgid: ", e))?;
    nix::unistd::setuid(Uid::from_raw(ids.uid)).map_err(|e| f(b"unable to setuid: ", e))
}

/// `$GID` and `$UID` for `-U` and `envuidgid`.
pub(super) fn env_ids(ids: &users::Ids, changes: &mut Vec<Vec<u8>>) {
    for (k, v) in [("GID=", ids.gids[0]), ("UID=", ids.uid)] {
        changes.push(format!("{k}{v}").into_bytes());
    }
}

/// Open `file` as runit's open_append does (write-only, append, create,
/// non-blocking, 0600) and flock(2) it exclusively, waiting or not. The
/// descriptor is left open (and inherited by the program): the lock lasts
/// as long as it runs. On failure the message's start and the error.
pub(super) fn lock(file: &[u8], wait: bool) -> Result<(), (&'static [u8], Errno)> {
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
