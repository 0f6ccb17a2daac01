//! chpst's other names, each runit's (and daemontools') program of that
//! name: `setuidgid`, `envuidgid`, `envdir`, `pgrphack`, `setlock`,
//! `softlimit`.
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use super::called::Called;
use super::common::{bytes, fatal, number, sys, Die};
use super::limits;
use super::steps::{become_user, env_ids, lock, lookup, run};

/// `NAME ARG child…`: the operand and the child's argv, or the usage.
fn operand<'a>(
    c: &Called,
    args: &'a [OsString],
    usage: &str,
) -> Result<(&'a [u8], Vec<&'a [u8]>), Die> {
    if args.len() < 3 {
        return Err(c.usage(usage));
    }
    Ok((args[1].as_bytes(), bytes(&args[2..])))
}

fn done(r: Result<Die, Die>) -> Die {
    match r {
        Ok(d) | Err(d) => d,
    }
}

/// `setuidgid account child`: the account's uid and passwd gid only.
pub(super) fn setuidgid(c: &Called, args: &[OsString]) -> Die {
    done(
        operand(c, args, " account child").and_then(|(account, argv)| {
            become_user(&lookup(account, false)?)?;
            Ok(run(argv[0], &argv, &[]))
        }),
    )
}

/// `envuidgid account child`: `$UID` and `$GID` of the account.
pub(super) fn envuidgid(c: &Called, args: &[OsString]) -> Die {
    done(
        operand(c, args, " account child").and_then(|(account, argv)| {
            let mut changes = Vec::new();
            env_ids(&lookup(account, false)?, &mut changes);
            Ok(run(argv[0], &argv, &changes))
        }),
    )
}

/// `envdir dir child`: a subdirectory in `dir` is fatal.
pub(super) fn envdir(c: &Called, args: &[OsString]) -> Die {
    done(operand(c, args, " dir child").and_then(|(dir, argv)| {
        let mut changes = Vec::new();
        super::envdir::read(dir, false, false, &mut changes)?;
        Ok(run(argv[0], &argv, &changes))
    }))
}

/// `pgrphack child`: a new session (its failure ignored).
pub(super) fn pgrphack(c: &Called, args: &[OsString]) -> Die {
    if args.len() < 2 {
        return c.usage(" child");
    }
    let _ = rustix::process::setsid();
    let argv = bytes(&args[1..]);
    run(argv[0], &argv, &[])
}

/// `setlock [-nNxX] file program…`: by default the lock is not waited for
/// (`-n` waits, `-N` does not); with `-x` any failure exits 0 silently.
pub(super) fn setlock(c: &Called, args: &[OsString]) -> Die {
    const USAGE: &str = " [ -nNxX ] file program [ arg ... ]";
    let (mut wait, mut quiet) = (false, false);
    let mut g = c.getopt(args, b"nNxX");
    while let Some(opt) = g.next() {
        match opt {
            Ok((o @ (b'n' | b'N'), _)) => wait = o == b'n',
            Ok((o, _)) => quiet = o == b'x',
            Err(_) => return c.usage(USAGE),
        }
    }
    let rest = &args[g.ind..];
    if rest.len() < 2 {
        return c.usage(USAGE);
    }
    let file = rest[0].as_bytes();
    if let Err((m, e)) = lock(file, wait) {
        return if quiet {
            Die(0)
        } else {
            fatal(&[m, file, b": ", sys(e)])
        };
    }
    let argv = bytes(&rest[1..]);
    if quiet {
        super::exec::run(argv[0], &argv, &[]);
        return Die(0);
    }
    run(argv[0], &argv, &[])
}

/// `softlimit [-acdflmoprst n] child`: `=` is the hard limit. A bad
/// number prints chpst's usage under softlimit's name, as runit does.
pub(super) fn softlimit(c: &Called, args: &[OsString]) -> Die {
    const USAGE: &str = " [-a allbytes] [-c corebytes] [-d databytes] [-f filebytes] [-l lockbytes] [-m membytes] [-o openfiles] [-p processes] [-r residentbytes] [-s stackbytes] [-t cpusecs] child";
    let mut want = limits::Limits::default();
    let mut opts = c.getopt(args, b"a:c:d:f:l:m:o:p:r:s:t:");
    while let Some(opt) = opts.next() {
        let Ok((o, v)) = opt else {
            return c.usage(USAGE);
        };
        let v = if v == b"=" {
            Some(limits::HARD)
        } else {
            number(v)
        };
        let Some(v) = v else {
            return c.usage(super::options::USAGE);
        };
        want.set(o, v);
    }
    let argv = bytes(&args[opts.ind..]);
    if argv.is_empty() {
        return c.usage(USAGE);
    }
    match want.apply() {
        Ok(()) => run(argv[0], &argv, &[]),
        Err(d) => d,
    }
}
