//! `chpst`'s own command line.
use std::ffi::OsString;

use super::called::Called;
use super::common::{number, say, Die};
use super::limits::Limits;

/// The version line of `-V` (Debian's runit 2.1.2 chpst prints this one).
const VERSION: &str = "$Id: f279d44141c981dd7535a12260efcf1ef7beed26 $";
pub(super) const USAGE: &str = " [-vVP012] [-u user[:group]] [-U user[:group]] [-b argv0] [-e dir] [-/ root] [-C pwd] [-n nice] [-l|-L lock] [-m n] [-d n] [-o n] [-p n] [-f n] [-c n] [-t n] prog";

/// What `chpst`'s options ask for.
#[derive(Default)]
pub(super) struct Chpst<'a> {
    pub set_user: Option<&'a [u8]>,
    pub env_user: Option<&'a [u8]>,
    pub argv0: Option<&'a [u8]>,
    pub env_dir: Option<&'a [u8]>,
    pub root: Option<&'a [u8]>,
    pub pwd: Option<&'a [u8]>,
    /// The lock file, and whether to wait for it (`-l`).
    pub lock: Option<(&'a [u8], bool)>,
    pub nice: i64,
    pub verbose: bool,
    pub pgrp: bool,
    pub close: [bool; 3],
    pub limits: Limits,
}

pub(super) fn parse<'a>(
    called: &'a Called,
    args: &'a [OsString],
) -> Result<(Chpst<'a>, usize), Die> {
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
