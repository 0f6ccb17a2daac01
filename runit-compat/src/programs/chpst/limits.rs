//! Soft resource limits (`chpst -m -d -o -p -f -c -r -t`, `softlimit`):
//! a value over the hard limit (or `=`) is the hard limit.
use rustix::process::{getrlimit, setrlimit, Resource};

use super::common::{fatal, sys, Die};

/// runit's letters for the limits (softlimit's options), in the order it
/// sets them.
const LETTERS: &[u8; 10] = b"dslaopfcrt";
const RESOURCES: [Resource; 10] = [
    Resource::Data,
    Resource::Stack,
    Resource::Memlock,
    Resource::As,
    Resource::Nofile,
    Resource::Nproc,
    Resource::Fsize,
    Resource::Core,
    Resource::Rss,
    Resource::Cpu,
];

/// "As high as the hard limit" (`softlimit -X =`, or a number too big
/// for runit's `long`).
pub(crate) const HARD: u64 = u64::MAX;

/// The soft limits to set, by [`LETTERS`] position.
#[derive(Default)]
pub(crate) struct Limits(pub(super) [Option<u64>; 10]);

impl Limits {
    /// The limit of option letter `c`; `m` is data, stack, locked memory
    /// and address space at once.
    pub fn set(&mut self, c: u8, v: u64) {
        if c == b'm' {
            self.0[..4].fill(Some(v));
        } else if let Some(i) = LETTERS.iter().position(|&l| l == c) {
            self.0[i] = Some(v);
        }
    }

    /// setrlimit(2) every limit given, each clamped to its hard limit.
    pub fn apply(&self) -> Result<(), Die> {
        for (want, &res) in self.0.iter().zip(&RESOURCES) {
            if let Some(want) = *want {
                let mut r = getrlimit(res);
                r.current = clamp(want, r.maximum);
                setrlimit(res, r).map_err(|e| {
                    fatal(&[
                        b"unable to setrlimit(): ",
                        sys(crate::errstr::from_rustix(e)),
                    ])
                })?;
            }
        }
        Ok(())
    }
}

/// The soft limit for `want` under the hard limit `hard` (`None`:
/// unlimited): runit holds the value in a `long`, so anything above
/// `i64::MAX` means the hard limit.
pub(crate) fn clamp(want: u64, hard: Option<u64>) -> Option<u64> {
    if want > i64::MAX as u64 {
        hard
    } else {
        Some(hard.map_or(want, |h| want.min(h)))
    }
}
