//! `utmpset [-w] line`: mark the login on `line` as ended, as a getty's
//! `finish` does (`exec utmpset -w $tty`). musl's utmp functions do
//! nothing, so the records are read and written here in glibc's x86-64
//! `struct utmp` layout, the one every other program on the system reads.
use std::ffi::{CStr, OsString};
use std::os::fd::OwnedFd;

use rustix::fs::{flock, fstat, ftruncate, open, FlockOperation, Mode, OFlags};
use rustix::io::{pwrite, read, write, Errno};

use super::common::{arg0, die};

/// `_PATH_UTMP` and `_PATH_WTMP` of glibc, as runit uses them.
const UTMP: &CStr = c"/var/run/utmp";
const WTMP: &CStr = c"/var/log/wtmp";

/// glibc x86-64 `struct utmp`: `ut_type` i16 (+2 padding), `ut_pid` i32,
/// `ut_line[32]`, `ut_id[4]`, `ut_user[32]`, `ut_host[256]`, `ut_exit`
/// (2×i16), `ut_session` i32, `ut_tv` (2×i32), `ut_addr_v6[4]`,
/// 20 reserved bytes; little-endian.
const RECORD: usize = 384;
const LINE: std::ops::Range<usize> = 8..40;
const USER: std::ops::Range<usize> = 44..76;
const HOST: std::ops::Range<usize> = 76..332;
const TV_SEC: std::ops::Range<usize> = 340..344;
/// `ut_type` of a finished login.
const DEAD_PROCESS: u8 = 8;

/// The version line runit 2.1.2's utmpset prints for `-V`.
const VERSION: &str = "$Id: cb399098f794012a7f5e6a3a7090b2d53b86c08c $";

/// `ut_line` (up to its first NUL) is `line`.
fn line_is(rec: &[u8; RECORD], line: &[u8]) -> bool {
    let l = &rec[LINE];
    let n = l.iter().position(|&b| b == 0).unwrap_or(l.len());
    &l[..n] == line
}

/// Stamp `rec` as a logout now: `ut_tv.tv_sec` (glibc's utmp keeps 32-bit
/// seconds) and `ut_type` DEAD_PROCESS.
fn dead_now(rec: &mut [u8; RECORD]) {
    // nix's clock_gettime, as svlogd's stamp::now.
    let now =
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME).map_or(0, |t| t.tv_sec());
    #[allow(clippy::cast_possible_truncation)] // 32-bit time is the file format
    rec[TV_SEC].copy_from_slice(&(now as i32).to_le_bytes());
    rec[0..2].copy_from_slice(&[DEAD_PROCESS, 0]);
}

/// Turn `rec` (a login on some line) into its logout: no user, no host,
/// the time of now, DEAD_PROCESS; pid, id, session and address stay.
fn logout(rec: &mut [u8; RECORD]) {
    rec[USER].fill(0);
    rec[HOST].fill(0);
    dead_now(rec);
}

/// Open `path` and take an exclusive lock on it; the error says which
/// step failed (`lock` is runit's text for that step).
fn open_locked(path: &CStr, flags: OFlags, mode: u32, lock: &str) -> Result<OwnedFd, i32> {
    let name = path.to_str().unwrap_or_default();
    let fatal = "utmpset: fatal: ";
    let fd = open(path, flags, Mode::from_raw_mode(mode))
        .map_err(|e| die(111, &[fatal, "unable to open ", name], Some(e)))?;
    flock(&fd, FlockOperation::LockExclusive)
        .map_err(|e| die(111, &[fatal, lock, name], Some(e)))?;
    Ok(fd)
}

/// Rewrite the first utmp record with a user on `line` as its logout.
/// `Ok(false)`: no such record.
fn utmp_logout(fd: &OwnedFd, line: &[u8]) -> Result<bool, Errno> {
    let mut rec = [0u8; RECORD];
    let mut at = 0u64;
    while read(fd, &mut rec)? == RECORD {
        if rec[USER.start] != 0 && line_is(&rec, line) {
            logout(&mut rec);
            return Ok(pwrite(fd, &rec, at)? == RECORD);
        }
        at += RECORD as u64;
    }
    Ok(false)
}

/// Append an empty DEAD_PROCESS record for `line` to wtmp; a failed write
/// is cut off again so the file keeps whole records.
fn wtmp_logout(fd: &OwnedFd, line: &[u8]) -> Result<(), Errno> {
    let size = fstat(fd)?.st_size.cast_unsigned();
    let mut rec = [0u8; RECORD];
    let n = line.len().min(LINE.len());
    rec[LINE.start..LINE.start + n].copy_from_slice(&line[..n]);
    dead_now(&mut rec);
    match write(fd, &rec) {
        Ok(RECORD) => Ok(()),
        r => {
            let _ = ftruncate(fd, size);
            Err(r.err().unwrap_or(Errno::NOSPC))
        }
    }
}

/// `utmpset [-w] line`. Exit codes: 0 done, 1 usage, 111 failure (also
/// when `line` has no record in utmp), with runit's messages.
#[allow(clippy::needless_pass_by_value)] // the signature is the applet contract
pub fn utmpset_main(args: Vec<OsString>) -> i32 {
    let usage = || {
        die(
            1,
            &["usage: ", &arg0(&args, "utmpset"), " [-w] line\n"],
            None,
        )
    };
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
                    die(1, &[VERSION], None);
                    return usage();
                }
                c => {
                    let c = [c];
                    let c = std::str::from_utf8(&c).unwrap_or("?");
                    die(1, &["utmpset: illegal option -- ", c], None);
                    return usage();
                }
            }
        }
    }
    let Some(line) = rest.next() else {
        return usage();
    };
    let name = &*line.to_string_lossy();
    let warning = "utmpset: warning: unable to logout line ";
    let fd = match open_locked(UTMP, OFlags::RDWR, 0, "unable to lock: ") {
        Ok(fd) => fd,
        Err(code) => return code,
    };
    if !utmp_logout(&fd, line.as_encoded_bytes()).unwrap_or(false) {
        return die(111, &[warning, name, " in utmp: no such entry"], None);
    }
    drop(fd);
    if !wtmp {
        return 0;
    }
    let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::NONBLOCK;
    let fd = match open_locked(WTMP, flags, 0o600, "unable to lock ") {
        Ok(fd) => fd,
        Err(code) => return code,
    };
    match wtmp_logout(&fd, line.as_encoded_bytes()) {
        Ok(()) => 0,
        Err(e) => die(111, &[warning, name, " in wtmp"], Some(e)),
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
        assert_eq!(r[0..2], [DEAD_PROCESS, 0]);
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
        let fd = OwnedFd::from(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&p)
                .unwrap(),
        );
        assert!(utmp_logout(&fd, b"tty5").unwrap());
        assert!(!utmp_logout(&fd, b"tty9").unwrap());
        let after = std::fs::read(&p).unwrap();
        assert_eq!(after[..2 * RECORD], recs[..2].concat());
        assert_eq!(after[2 * RECORD + USER.start], 0);
        assert_eq!(after.len(), 3 * RECORD);
        std::fs::remove_file(&p).unwrap();
    }
}
