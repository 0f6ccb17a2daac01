//! Line timestamps as runit writes them, without a time library: `-t`
//! TAI64N (`@` + 24 hex digits), `-tt`/`-ttt` UTC `YYYY-MM-DD_HH:MM:SS.xxxxx`
//! (`T` instead of `_`). The part for the second is formatted once per
//! second; only the fraction changes from line to line.
use crate::status::TAI_OFFSET;

/// Formats stamps of one kind (1, 2 or 3 t's), caching the second.
pub(super) struct Stamper {
    kind: u8,
    secs: Option<u64>,
    /// The stamp and its trailing space.
    buf: [u8; 26],
}

/// Days since 1970-01-01 as (year, month, day), proleptic Gregorian
/// (the civil-from-days algorithm on 400-year eras).
pub(super) fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `v` as `out.len()` decimal digits, zero-padded (higher digits dropped).
fn decimal(out: &mut [u8], mut v: u64) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// `v` as `out.len()` lower-case hex digits.
pub(super) fn hex(out: &mut [u8], mut v: u64) {
    for b in out.iter_mut().rev() {
        *b = b"0123456789abcdef"[(v & 15) as usize];
        v >>= 4;
    }
}

/// The TAI64N label runit writes for `secs`.`usecs` (nanoseconds are
/// µs·1000 + 500, as runit's taia_now): 25 bytes.
pub(super) fn tai64n(out: &mut [u8], secs: u64, usecs: u32) {
    out[0] = b'@';
    hex(&mut out[1..17], TAI_OFFSET + secs);
    hex(&mut out[17..25], u64::from(usecs) * 1000 + 500);
}

/// The wall clock as runit reads it: seconds and microseconds.
pub(super) fn now() -> (u64, u32) {
    // nix's clock_gettime, not rustix's (see init's times::now); it cannot
    // fail for CLOCK_REALTIME.
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME).map_or((0, 0), |t| {
        (t.tv_sec().max(0) as u64, (t.tv_nsec() / 1000) as u32)
    })
}

impl Stamper {
    pub fn new(kind: u8) -> Stamper {
        let mut buf = [b' '; 26];
        buf[4] = b'-';
        buf[7] = b'-';
        buf[10] = if kind == 3 { b'T' } else { b'_' };
        buf[13] = b':';
        buf[16] = b':';
        buf[19] = b'.';
        Stamper {
            kind,
            secs: None,
            buf,
        }
    }

    /// The stamp for `secs`.`usecs`, with its trailing space.
    pub fn stamp(&mut self, secs: u64, usecs: u32) -> &[u8; 26] {
        if self.kind == 1 {
            tai64n(&mut self.buf, secs, usecs);
            return &self.buf;
        }
        if self.secs != Some(secs) {
            self.secs = Some(secs);
            let (y, m, d) = civil((secs / 86_400) as i64);
            let s = secs % 86_400;
            decimal(&mut self.buf[0..4], y as u64);
            decimal(&mut self.buf[5..7], m.into());
            decimal(&mut self.buf[8..10], d.into());
            decimal(&mut self.buf[11..13], s / 3600);
            decimal(&mut self.buf[14..16], s / 60 % 60);
            decimal(&mut self.buf[17..19], s % 60);
        }
        // The first 5 of the 9 nanosecond digits runit prints.
        decimal(&mut self.buf[20..25], u64::from(usecs / 10));
        &self.buf
    }
}
