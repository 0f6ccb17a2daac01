//! A log directory's `config` file and runit's pattern language, pure:
//! parsed from bytes, matched against bytes (README.md, svlogd).
use std::net::{Ipv4Addr, SocketAddrV4};

use super::options::scan;

/// Settings from `config`; `Default` is what runit uses without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Config {
    /// `s`: rotate when `current` reaches this size (0: never).
    pub size: u64,
    /// `n`: keep at most this many old files (0: all).
    pub nmax: u64,
    /// `N`: on a full disk, remove old files while more than this many.
    pub nmin: u64,
    /// `t`: rotate a non-empty `current` this many seconds after the last
    /// rotation (0: never).
    pub tmax: u64,
    /// `!`: the processor's shell command (empty: none).
    pub processor: Vec<u8>,
    /// `u`/`U`: where lines are sent, and whether only there.
    pub udp: Option<SocketAddrV4>,
    pub udp_only: bool,
    /// `p`: prepended to each line (after the timestamp).
    pub prefix: Vec<u8>,
    /// `+ - e E` lines in order: the letter and its pattern.
    pub patterns: Vec<(u8, Vec<u8>)>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            size: 1_000_000,
            nmax: 10,
            nmin: 10,
            tmax: 0,
            processor: Vec::new(),
            udp: None,
            udp_only: false,
            prefix: Vec::new(),
            patterns: Vec::new(),
        }
    }
}

/// A line that was not applied: runit's message (`unable to scan ip
/// address`, …) and the text it names.
pub(super) type Warning = (&'static str, Vec<u8>);

/// The warning for a line svlogd does not know (runit ignores it silently).
pub(super) const UNKNOWN: &str = "ignoring config line";

/// A number with an optional unit (`k`/`m` or `m`/`h`), nothing after it.
fn number(s: &[u8], units: &[(u8, u64)]) -> Option<u64> {
    let (v, n) = scan(s);
    let mult = match &s[n..] {
        [] => 1,
        [u] => units.iter().find(|(c, _)| c == u)?.1,
        _ => return None,
    };
    (n > 0).then(|| v.wrapping_mul(mult))
}

fn ipv4(s: &[u8]) -> Option<(Ipv4Addr, usize)> {
    let mut o = [0u8; 4];
    let mut at = 0;
    for (k, b) in o.iter_mut().enumerate() {
        if k > 0 {
            if s.get(at) != Some(&b'.') {
                return None;
            }
            at += 1;
        }
        let (v, n) = scan(&s[at..]);
        *b = u8::try_from(v).ok().filter(|_| n > 0)?;
        at += n;
    }
    Some((o.into(), at))
}

/// `u`/`U` after the letter: `a.b.c.d[:port]` (default port 514).
fn udp(s: &[u8]) -> Result<SocketAddrV4, Warning> {
    let Some((ip, n)) = ipv4(s) else {
        return Err(("unable to scan ip address", s.to_vec()));
    };
    let port = match &s[n..] {
        [] => 514,
        [b':', p @ ..] => match number(p, &[]).and_then(|v| u16::try_from(v).ok()) {
            Some(v) if v > 0 => v,
            _ => return Err(("unable to scan port number", p.to_vec())),
        },
        _ => return Err(("unable to scan ip address", s.to_vec())),
    };
    Ok(SocketAddrV4::new(ip, port))
}

impl Config {
    /// `config`'s text: blank and `#` lines are skipped; a line that
    /// cannot be applied is a warning and the rest applies.
    pub fn parse(text: &[u8]) -> (Config, Vec<Warning>) {
        let mut c = Config::default();
        let mut warn = Vec::new();
        for l in text.split(|&b| b == b'\n') {
            let Some((&k, v)) = l.split_first() else {
                continue;
            };
            let ok = match k {
                b'#' => true,
                b'+' | b'-' | b'e' | b'E' => {
                    c.patterns.push((k, v.to_vec()));
                    true
                }
                b's' => number(v, &[(b'k', 1024), (b'm', 1024 * 1024)])
                    .map(|n| c.size = n)
                    .is_some(),
                b'n' => number(v, &[]).map(|n| c.nmax = n).is_some(),
                b'N' => number(v, &[]).map(|n| c.nmin = n).is_some(),
                b't' => number(v, &[(b'm', 60), (b'h', 3600)])
                    .map(|n| c.tmax = n)
                    .is_some(),
                b'!' | b'p' => {
                    if !v.is_empty() {
                        v.clone_into(if k == b'!' {
                            &mut c.processor
                        } else {
                            &mut c.prefix
                        });
                    }
                    true
                }
                b'u' | b'U' => {
                    match udp(v) {
                        Ok(a) => {
                            c.udp = Some(a);
                            c.udp_only = k == b'U';
                        }
                        Err(w) => warn.push(w),
                    }
                    true
                }
                _ => false,
            };
            if !ok {
                warn.push((UNKNOWN, l.to_vec()));
            }
        }
        (c, warn)
    }

    /// Whether `line` goes to the log (`+`/`-`) and to stderr (`e`/`E`):
    /// every pattern is tried, the last that matches wins.
    pub fn select(&self, line: &[u8]) -> (bool, bool) {
        let (mut log, mut err) = (true, false);
        for (k, p) in &self.patterns {
            if pmatch(p, line) {
                match k {
                    b'+' | b'-' => log = *k == b'+',
                    _ => err = *k == b'e',
                }
            }
        }
        (log, err)
    }
}

/// runit's pmatch: literal characters; `*X` skips to the next X (`*` at
/// the end matches the rest); `+X` matches one or more X and matches the
/// whole line when the line ends inside that run; the line must be used up.
pub(super) fn pmatch(mut p: &[u8], mut s: &[u8]) -> bool {
    loop {
        let Some((&c, rest)) = p.split_first() else {
            return s.is_empty();
        };
        p = rest;
        match c {
            b'*' => {
                let Some(&c) = p.first() else {
                    return true;
                };
                match s.iter().position(|&b| b == c) {
                    Some(i) => s = &s[i..],
                    None => return false,
                }
            }
            b'+' => {
                let (Some((&c, rest)), Some(&first)) = (p.split_first(), s.first()) else {
                    return false;
                };
                if c != first {
                    return false;
                }
                p = rest;
                match s.iter().position(|&b| b != c) {
                    Some(i) => s = &s[i..],
                    None => return true,
                }
            }
            _ => match s.split_first() {
                Some((&b, rest)) if b == c => s = rest,
                _ => return false,
            },
        }
    }
}
