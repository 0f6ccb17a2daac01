//! What every chpst file shares: the exit code to leave with, runit's
//! messages on stderr, and byte helpers. A leaf: it uses no other chpst file.
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

use crate::errstr::{error_str, io_error_str};

/// Leave with this exit code (the message is printed).
pub(crate) struct Die(pub(super) i32);

/// runit's scan_ulong over all of `s`: decimal digits only (wrapping on
/// overflow as runit's does); the empty string is 0.
pub(crate) fn number(s: &[u8]) -> Option<u64> {
    s.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit()
            .then(|| n.wrapping_mul(10).wrapping_add(u64::from(d - b'0')))
    })
}

pub(super) fn bytes(args: &[OsString]) -> Vec<&[u8]> {
    args.iter().map(|a| a.as_bytes()).collect()
}

pub(super) fn path(b: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(b))
}

pub(super) fn sys(e: Errno) -> &'static [u8] {
    error_str(e).as_bytes()
}

pub(super) fn io(e: &std::io::Error) -> &'static [u8] {
    io_error_str(e).as_bytes()
}

/// `prefix`, `parts` and a newline to stderr, in one write.
pub(super) fn say(prefix: &[u8], parts: &[&[u8]]) {
    let mut line = prefix.to_vec();
    for p in parts {
        line.extend_from_slice(p);
    }
    line.push(b'\n');
    let _ = std::io::stderr().write_all(&line);
}

/// `chpst: fatal: PARTS` (every personality says `chpst`, as runit's),
/// exit 111.
pub(super) fn fatal(parts: &[&[u8]]) -> Die {
    say(b"chpst: fatal: ", parts);
    Die(111)
}
