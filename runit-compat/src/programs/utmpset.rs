//! `utmpset [-w] line`: mark the login on `line` as ended, as a getty's
//! `finish` does (`exec utmpset -w $tty`). musl's utmp functions do
//! nothing, so the records are read and written here in glibc's x86-64
//! `struct utmp` layout, the one every other program on the system reads.
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{flock, FlockOperation};

use super::{arg0, die};

/// `_PATH_UTMP` and `_PATH_WTMP` of glibc, as runit uses them.
const UTMP: &str = "/var/run/utmp";
const WTMP: &str = "/var/log/wtmp";

/// glibc x86-64 `struct utmp`: `ut_type` i16 (+2 padding), `ut_pid` i32,
/// `ut_line[32]`, `ut_id[4]`, `ut_user[32]`, `ut_host[256]`, `ut_exit`
/// (2×i16), `ut_session` i32, `ut_tv` (2×i32), `ut_addr_v6[4]`,
/// 20 reserved bytes; little-endian.
pub(crate) const RECORD: usize = 384;
pub(crate) const LINE: std::ops::Range<usize> = 8..40;
const USER: std::ops::Range<usize> = 44..76;
const HOST: std::ops::Range<usize> = 76..332;
const TV_SEC: std::ops::Range<usize> = 340..344;
/// `ut_type` of a finished login.
pub(crate) const DEAD_PROCESS: i16 = 8;

/// The version line runit 2.1.2's utmpset prints for `-V`.
const VERSION: &str = "$Id: cb399098f794012a7f5e6a3a7090b2d53b86c08c $";

/// `ut_line` (up to its first NUL) is `line`.
fn line_is(rec: &[u8; RECORD], line: &[u8]) -> bool {
    let l = &rec[LINE];
    let n = l.iter().position(|&b| b == 0).unwrap_or(l.len());
    &l[..n] == line
}

/// Now as `ut_tv.tv_sec` (glibc's utmp keeps 32-bit seconds).
fn now_secs() -> [u8; 4] {
    let s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    #[allow(clippy::cast_possible_truncation)] // 32-bit time is the file format
    (s as i32).to_le_bytes()
}

/// Turn `rec` (a login on some line) into its logout: no user, no host,
/// the time of now, DEAD_PROCESS; pid, id, session and address stay.
pub(crate) fn logout(rec: &mut [u8; RECORD]) {
    rec[USER].fill(0);
    rec[HOST].fill(0);
    rec[TV_SEC].copy_from_slice(&now_secs());
    rec[0..2].copy_from_slice(&DEAD_PROCESS.to_le_bytes());
}

fn lock(f: &File) -> io::Result<()> {
    flock(f.as_fd(), FlockOperation::LockExclusive).map_err(io::Error::from)
}

/// Rewrite the first utmp record with a user on `line` as its logout.
/// `Ok(false)`: no such record.
fn utmp_logout(f: &mut File, line: &[u8]) -> io::Result<bool> {
    let mut rec = [0u8; RECORD];
    let mut at = 0u64;
    while f.read_exact(&mut rec).is_ok() {
        if rec[USER.start] != 0 && line_is(&rec, line) {
            logout(&mut rec);
            f.write_all_at(&rec, at)?;
            return Ok(true);
        }
        at += RECORD as u64;
    }
    Ok(false)
}

/// Append an empty DEAD_PROCESS record for `line` to wtmp; a failed write
/// is cut off again so the file keeps whole records.
fn wtmp_logout(f: &mut File, line: &[u8]) -> io::Result<()> {
    let size = f.metadata()?.len();
    let mut rec = [0u8; RECORD];
    let n = line.len().min(LINE.len());
    rec[LINE.start..LINE.start + n].copy_from_slice(&line[..n]);
    rec[TV_SEC].copy_from_slice(&now_secs());
    rec[0..2].copy_from_slice(&DEAD_PROCESS.to_le_bytes());
    f.write_all(&rec).inspect_err(|_| {
        let _ = f.set_len(size);
    })
}

/// `utmpset [-w] line`. Exit codes: 0 done, 1 usage, 111 failure (also
/// when `line` has no record in utmp), with runit's messages.
#[allow(clippy::needless_pass_by_value)] // the signature is the applet contract
pub fn utmpset_main(args: Vec<OsString>) -> i32 {
    let prog = arg0(&args, "utmpset");
    let usage = || die(1, &["usage: ", &prog, " [-w] line\n"], None);
    let mut wtmp = false;
    let mut rest = args.iter().skip(1).peekable();
    while let Some(a) = rest.next_if(|a| a.len() > 1 && a.as_encoded_bytes()[0] == b'-') {
        if a == "--" {
            break;
        }
        for &c in &a.as_encoded_bytes()[1..] {
            match c {
                b'w' => wtmp = true,
                b'V' => {
                    eprintln!("{VERSION}");
                    return usage();
                }
                c => {
                    eprintln!("utmpset: illegal option -- {}", c as char);
                    return usage();
                }
            }
        }
    }
    let Some(line) = rest.next() else {
        return usage();
    };
    let name = line.to_string_lossy();
    let fatal = "utmpset: fatal: ";
    let mut f = match OpenOptions::new().read(true).write(true).open(UTMP) {
        Ok(f) => f,
        Err(e) => return die(111, &[fatal, "unable to open ", UTMP], Some(&e)),
    };
    if let Err(e) = lock(&f) {
        return die(111, &[fatal, "unable to lock: ", UTMP], Some(&e));
    }
    if !utmp_logout(&mut f, line.as_encoded_bytes()).unwrap_or(false) {
        let what = ["utmpset: warning: unable to logout line ", &name];
        return die(
            111,
            &[&what[..], &[" in utmp: no such entry"]].concat(),
            None,
        );
    }
    drop(f);
    if !wtmp {
        return 0;
    }
    let open = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(WTMP);
    let mut f = match open {
        Ok(f) => f,
        Err(e) => return die(111, &[fatal, "unable to open ", WTMP], Some(&e)),
    };
    if let Err(e) = lock(&f) {
        return die(111, &[fatal, "unable to lock ", WTMP], Some(&e));
    }
    match wtmp_logout(&mut f, line.as_encoded_bytes()) {
        Ok(()) => 0,
        Err(e) => die(
            111,
            &[
                "utmpset: warning: unable to logout line ",
                &name,
                " in wtmp",
            ],
            Some(&e),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(line: &str, user: &str) -> [u8; RECORD] {
        let mut r = [0u8; RECORD];
        r[0..2].copy_from_slice(&7i16.to_le_bytes());
        r[4..8].copy_from_slice(&42i32.to_le_bytes());
        r[LINE.start..LINE.start + line.len()].copy_from_slice(line.as_bytes());
        r[40..44].copy_from_slice(b"5\0\0\0");
        r[USER.start..USER.start + user.len()].copy_from_slice(user.as_bytes());
        r[HOST.start] = b'h';
        r[344] = 9; // tv_usec stays
        r
    }

    #[test]
    fn logout_clears_user_and_host_keeps_the_rest() {
        let before = login("tty5", "root");
        let mut r = before;
        logout(&mut r);
        assert_eq!(i16::from_le_bytes([r[0], r[1]]), DEAD_PROCESS);
        assert!(r[USER].iter().chain(&r[HOST]).all(|&b| b == 0));
        assert_eq!(r[4..44], before[4..44]);
        assert_eq!(r[332..340], before[332..340]);
        assert_eq!(r[344..], before[344..]);
        assert!(line_is(&r, b"tty5") && !line_is(&r, b"tty") && !line_is(&r, b"tty55"));
    }

    #[test]
    fn utmp_logout_rewrites_the_first_login_on_the_line() {
        let p = std::env::temp_dir().join(format!("rc-utmp-{}", std::process::id()));
        let recs = [login("tty4", "a"), login("tty5", ""), login("tty5", "b")];
        std::fs::write(&p, recs.concat()).unwrap();
        let mut f = OpenOptions::new().read(true).write(true).open(&p).unwrap();
        assert!(utmp_logout(&mut f, b"tty5").unwrap());
        assert!(!utmp_logout(&mut f, b"tty9").unwrap());
        let after = std::fs::read(&p).unwrap();
        assert_eq!(after[..2 * RECORD], recs[..2].concat());
        assert_eq!(after[2 * RECORD + USER.start], 0);
        assert_eq!(after.len(), 3 * RECORD);
        std::fs::remove_file(&p).unwrap();
    }
}
