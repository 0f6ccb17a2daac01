//! The `supervise/status` codec (20 bytes, as runsv writes it) and the
//! human-readable `supervise/stat` line.
//!
//! | bytes | value |
//! |---|---|
//! | 0–7 | TAI64 seconds, big-endian: 2^62 + 10 + unix seconds |
//! | 8–11 | nanoseconds, big-endian |
//! | 12–15 | pid, little-endian, 0 when none |
//! | 16 | paused (0/1) |
//! | 17 | want: `u` or `d` (`d` also for "want exit") |
//! | 18 | got TERM (0/1) |
//! | 19 | state: 0 down, 1 run, 2 finish |
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Offset between TAI64 labels and Unix seconds as libtai computes it.
pub const TAI_OFFSET: u64 = (1 << 62) + 10;

/// What the supervised process is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    Down = 0,
    Run = 1,
    Finish = 2,
}

/// What the supervisor has been told to aim for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    Up,
    Down,
    Exit,
}

/// One decoded or to-be-encoded status record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// Wall-clock time of the last state change that resets the stamp.
    pub stamp: SystemTime,
    pub pid: u32,
    pub paused: bool,
    /// `b'u'` or `b'd'`.
    pub want: u8,
    pub got_term: bool,
    /// 0 down, 1 run, 2 finish (kept raw so foreign files decode).
    pub state: u8,
}

/// A TAI64N label for `t`: (seconds, nanoseconds).
pub fn tai64n(t: SystemTime) -> (u64, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    (TAI_OFFSET + d.as_secs(), d.subsec_nanos())
}

/// The wall-clock time for a TAI64N label. A label outside what
/// `SystemTime` holds (before 1970, or a garbage file's 2^63 seconds on)
/// gives the Unix epoch, as `tai64n` does for times before it.
pub fn from_tai64n(secs: u64, nanos: u32) -> SystemTime {
    let since = Duration::new(secs.saturating_sub(TAI_OFFSET), nanos.min(999_999_999));
    UNIX_EPOCH.checked_add(since).unwrap_or(UNIX_EPOCH)
}

impl Status {
    /// The 20 bytes runsv writes.
    pub fn encode(&self) -> [u8; 20] {
        let mut b = [0u8; 20];
        let (s, n) = tai64n(self.stamp);
        b[0..8].copy_from_slice(&s.to_be_bytes());
        b[8..12].copy_from_slice(&n.to_be_bytes());
        b[12..16].copy_from_slice(&self.pid.to_le_bytes());
        b[16] = u8::from(self.paused);
        b[17] = self.want;
        b[18] = u8::from(self.got_term);
        b[19] = self.state;
        b
    }

    /// Parse exactly 20 bytes; `None` for any other length.
    pub fn decode(b: &[u8]) -> Option<Status> {
        let b: &[u8; 20] = b.try_into().ok()?;
        let secs = u64::from_be_bytes(b[0..8].try_into().ok()?);
        let nanos = u32::from_be_bytes(b[8..12].try_into().ok()?);
        Some(Status {
            stamp: from_tai64n(secs, nanos),
            pid: u32::from_le_bytes(b[12..16].try_into().ok()?),
            paused: b[16] != 0,
            want: b[17],
            got_term: b[18] != 0,
            state: b[19],
        })
    }

    /// TAI64 seconds of the stamp (what `sv` compares).
    pub fn tai_secs(&self) -> u64 {
        tai64n(self.stamp).0
    }
}

/// The `supervise/stat` line: `run`/`down`/`finish`, then `, paused`,
/// `, got TERM`, and (unless down) `, want down`/`, want exit`.
pub fn stat_line(state: RunState, paused: bool, got_term: bool, want: Want) -> String {
    let mut s = String::from(match state {
        RunState::Down => "down",
        RunState::Run => "run",
        RunState::Finish => "finish",
    });
    if paused {
        s.push_str(", paused");
    }
    if got_term {
        s.push_str(", got TERM");
    }
    if state != RunState::Down {
        match want {
            Want::Down => s.push_str(", want down"),
            Want::Exit => s.push_str(", want exit"),
            Want::Up => {}
        }
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_encode() {
        let st = Status {
            stamp: UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
            pid: 0x0102_0304,
            paused: true,
            want: b'u',
            got_term: false,
            state: 1,
        };
        let want: [u8; 20] = [
            0x40, 0, 0, 0, 0x65, 0x53, 0xf1, 0x0a, // 2^62 + 10 + 1700000000
            0x07, 0x5b, 0xcd, 0x15, // 123456789
            0x04, 0x03, 0x02, 0x01, // pid LE
            1, b'u', 0, 1,
        ];
        assert_eq!(st.encode(), want);
        assert_eq!(Status::decode(&want), Some(st));
    }

    #[test]
    fn golden_down_no_pid() {
        let st = Status {
            stamp: UNIX_EPOCH,
            pid: 0,
            paused: false,
            want: b'd',
            got_term: true,
            state: 0,
        };
        let b = st.encode();
        assert_eq!(&b[0..8], &[0x40, 0, 0, 0, 0, 0, 0, 0x0a]);
        assert_eq!(&b[12..], &[0, 0, 0, 0, 0, b'd', 1, 0]);
    }

    /// Found by `make fuzz` (target `sv_status`): a label past `SystemTime`'s
    /// range panicked in `decode` ("overflow when adding duration to instant").
    #[test]
    fn decode_out_of_range_stamp() {
        let crash: [u8; 20] = [
            0xc0, 0xbf, 0, 0, 0, 0x65, 0x53, 0xf1, // TAI64 seconds: 2^63.6
            0, 0x65, 0x53, 0xf1, // nanoseconds
            0x0a, 0, 0, 0, 0, 0, 0, 0,
        ];
        let st = Status::decode(&crash).expect("20 bytes decode");
        assert_eq!(st.stamp, UNIX_EPOCH);
        assert_eq!(st.pid, 10);
        assert_eq!(Status::decode(&st.encode()), Some(st));
        assert_eq!(from_tai64n(u64::MAX, u32::MAX), UNIX_EPOCH);
    }

    #[test]
    fn decode_rejects_bad_length() {
        assert_eq!(Status::decode(&[0; 19]), None);
        assert_eq!(Status::decode(&[0; 21]), None);
    }

    #[test]
    fn stat_lines() {
        assert_eq!(stat_line(RunState::Run, false, false, Want::Up), "run\n");
        assert_eq!(
            stat_line(RunState::Run, true, true, Want::Down),
            "run, paused, got TERM, want down\n"
        );
        assert_eq!(
            stat_line(RunState::Finish, false, false, Want::Exit),
            "finish, want exit\n"
        );
        assert_eq!(
            stat_line(RunState::Down, false, false, Want::Down),
            "down\n"
        );
    }
}
