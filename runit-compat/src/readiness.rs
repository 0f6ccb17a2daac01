//! s6's readiness notification, as s6, nitro and dinit (`pipefd:N`) share
//! it: a service directory's `notification-fd` names the descriptor on
//! which `run` gets a pipe's write end; the first newline it writes means
//! "ready". The supervisor records it in `supervise/ready`, beside runit's
//! 20-byte `status`, which stays exactly as runsv writes it.
//!
//! `supervise/ready` is 16 bytes laid out as bytes 0–15 of `status`: the
//! TAI64N stamp of the newline (8 bytes seconds, 4 bytes nanoseconds, both
//! big-endian) and the pid of the process that wrote it (little-endian). It
//! exists only while that process runs; a reader compares its pid with
//! `status`'s so a file left behind by an earlier run never counts.
use std::path::Path;
use std::time::SystemTime;

use crate::status::tai64n;

/// The service directory's file that declares readiness notification.
pub const NOTIFICATION_FD: &str = "notification-fd";

/// What `dir/notification-fd` declares: `Ok(None)` without the file,
/// `Err(())` when it cannot be read or holds anything but one number from
/// 3 to 99 (surrounding whitespace allowed).
pub fn declared(dir: &Path) -> Result<Option<i32>, ()> {
    match std::fs::read(dir.join(NOTIFICATION_FD)) {
        Ok(text) => parse(&text).map(Some).ok_or(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(_) => Err(()),
    }
}

fn parse(text: &[u8]) -> Option<i32> {
    let t = text.trim_ascii();
    if t.is_empty() || t.len() > 2 || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = t.iter().fold(0, |a, d| a * 10 + i32::from(d - b'0'));
    (n >= 3).then_some(n)
}

/// The 16 bytes of `supervise/ready` for `pid`, ready since `stamp`.
pub fn record(stamp: SystemTime, pid: u32) -> [u8; 16] {
    let (secs, nanos) = tai64n(stamp);
    let mut b = [0u8; 16];
    b[0..8].copy_from_slice(&secs.to_be_bytes());
    b[8..12].copy_from_slice(&nanos.to_be_bytes());
    b[12..16].copy_from_slice(&pid.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_number_from_3_to_99_is_a_declaration() {
        assert_eq!(parse(b"3"), Some(3));
        assert_eq!(parse(b"5\n"), Some(5));
        assert_eq!(parse(b" 99 \n"), Some(99));
        assert_eq!(declared(Path::new("/nonexistent")), Ok(None));
    }

    #[test]
    fn garbage_is_no_declaration() {
        for bad in [
            &b"0"[..],
            b"2\n",
            b"100",
            b"abc",
            b"",
            b"+4",
            b"4 5",
            b"-3",
            b"1x",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        // Unreadable (a directory) is garbage too, not "none".
        let d = std::env::temp_dir().join(format!("rc-ready-{}", std::process::id()));
        std::fs::create_dir_all(d.join(NOTIFICATION_FD)).unwrap();
        assert_eq!(declared(&d), Err(()));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn record_is_the_stamp_and_pid_of_status() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        assert_eq!(
            record(t, 0x0102_0304),
            [0x40, 0, 0, 0, 0x65, 0x53, 0xf1, 0x0a, 0x07, 0x5b, 0xcd, 0x15, 4, 3, 2, 1]
        );
    }
}
