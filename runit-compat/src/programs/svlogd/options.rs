//! svlogd's command line, parsed as runit's getopt("R:r:l:b:tvV") does:
//! flags may be clustered (`-ttv`), an option's value is the rest of its
//! word or the next word, `--` or the first non-option ends the options.
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Opts {
    /// 0 none, 1 `-t` (TAI64N), 2 `-tt`, 3 `-ttt` (more t's stay 3).
    pub stamp: u8,
    pub verbose: bool,
    /// The replacement character (`-r`), 0 for none.
    pub repl: u8,
    /// Characters replaced besides < 32 and > 126 (`-R`).
    pub replace: Vec<u8>,
    /// `-l`: characters of a line that are matched and copied to stderr/UDP.
    pub linemax: usize,
    /// `-b`: the read buffer.
    pub buflen: usize,
    pub dirs: Vec<OsString>,
}

/// Why the command line is refused: runit prints the usage line for all of
/// them (after `illegal option -- c` for an unknown option).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Bad {
    Usage,
    Illegal(u8),
    NeedsArg(u8),
    Version,
}

/// runit's scan_ulong: the leading digits (none: 0).
pub(super) fn scan(s: &[u8]) -> (u64, usize) {
    let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let v = s[..n].iter().fold(0u64, |a, d| {
        a.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
    });
    (v, n)
}

pub(super) fn parse(args: &[OsString]) -> Result<Opts, Bad> {
    let mut o = Opts {
        stamp: 0,
        verbose: false,
        repl: 0,
        replace: Vec::new(),
        linemax: 1000,
        buflen: 1024,
        dirs: Vec::new(),
    };
    let mut i = 1;
    'words: while i < args.len() {
        let a = args[i].as_bytes();
        if a.len() < 2 || a[0] != b'-' {
            break;
        }
        i += 1;
        if a == b"--" {
            break;
        }
        for (j, &c) in a.iter().enumerate().skip(1) {
            match c {
                b't' => o.stamp = (o.stamp + 1).min(3),
                b'v' => o.verbose = true,
                b'V' => return Err(Bad::Version),
                b'R' | b'r' | b'l' | b'b' => {
                    let v = if j + 1 < a.len() {
                        &a[j + 1..]
                    } else if i < args.len() {
                        i += 1;
                        args[i - 1].as_bytes()
                    } else {
                        return Err(Bad::NeedsArg(c));
                    };
                    match c {
                        b'R' => {
                            v.clone_into(&mut o.replace);
                            if o.repl == 0 {
                                o.repl = b'_';
                            }
                        }
                        b'r' if v.len() == 1 && v[0] != 0 => o.repl = v[0],
                        b'r' => return Err(Bad::Usage),
                        b'l' => o.linemax = nonzero(v, 1000),
                        _ => o.buflen = nonzero(v, 1024),
                    }
                    continue 'words;
                }
                c => return Err(Bad::Illegal(c)),
            }
        }
    }
    o.dirs = args[i..].to_vec();
    if o.dirs.is_empty() || o.buflen <= o.linemax {
        return Err(Bad::Usage);
    }
    Ok(o)
}

fn nonzero(v: &[u8], default: usize) -> usize {
    match scan(v).0 {
        0 => default,
        n => usize::try_from(n).unwrap_or(usize::MAX),
    }
}
