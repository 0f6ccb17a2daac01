//! svlogd's loop: block in poll(2) on stdin and a signalfd (TERM, ALRM,
//! HUP, CHLD), with a timeout only for the next `t` rotation; write every
//! pending byte before blocking again.
use std::time::Instant;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::io::Errno;
use rustix::process::WaitOptions;

use super::line::Lines;
use super::logdir::LogDir;
use super::options::Opts;
use super::report::{errstr, info, say};

/// runit's logdirs_reopen: close every directory, open it again (config
/// re-read); none left is fatal.
fn reopen(dirs: &mut [LogDir]) -> bool {
    let mut ok = false;
    for d in dirs.iter_mut() {
        while d.ppid.is_some() {
            d.wait_processor();
        }
        d.close();
        ok |= d.open();
    }
    if !ok {
        say(&["svlogd: fatal: no functional log directories."]);
    }
    ok
}

/// Processors that exited (SIGCHLD).
fn reap(dirs: &mut [LogDir]) {
    while let Ok(Some((pid, st))) = rustix::process::waitpid(None, WaitOptions::NOHANG) {
        if let Some(d) = dirs.iter_mut().find(|d| d.ppid == Some(pid)) {
            d.processor_done(st);
        }
    }
}

/// What the signals asked for.
#[derive(Default)]
struct Asked {
    exit: bool,
    rotate: bool,
    reopen: bool,
}

fn signals(sfd: &SignalFd, verbose: bool, dirs: &mut [LogDir], asked: &mut Asked) {
    while let Ok(Some(si)) = sfd.read_signal() {
        let (what, flag) = match Signal::try_from(si.ssi_signo as i32) {
            Ok(Signal::SIGTERM) => ("sigterm", &mut asked.exit),
            Ok(Signal::SIGALRM) => ("sigalarm", &mut asked.rotate),
            Ok(Signal::SIGHUP) => ("sighangup", &mut asked.reopen),
            _ => {
                if verbose {
                    info("sigchild received.", "", "");
                }
                reap(dirs);
                continue;
            }
        };
        if verbose {
            info(what, " received.", "");
        }
        *flag = true;
    }
}

pub(super) fn run(o: &Opts) -> i32 {
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGALRM,
        Signal::SIGHUP,
        Signal::SIGCHLD,
    ] {
        mask.add(s);
    }
    let sfd = mask
        .thread_block()
        .and_then(|()| SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC));
    let sfd = match sfd {
        Ok(s) => s,
        Err(e) => {
            say(&[
                "svlogd: fatal: unable to create signalfd: ",
                crate::errstr::error_str(e),
            ]);
            return 111;
        }
    };
    let mut dirs: Vec<LogDir> = o
        .dirs
        .iter()
        .map(|d| LogDir::new(d, o.linemax, o.verbose))
        .collect();
    if !reopen(&mut dirs) {
        return 111;
    }
    let mut lines = Lines::new(o);
    let mut buf = vec![0u8; o.buflen];
    let mut asked = Asked::default();
    let stdin = rustix::stdio::stdin();
    loop {
        for d in &mut dirs {
            d.flush();
        }
        if std::mem::take(&mut asked.rotate) {
            dirs.iter_mut().for_each(LogDir::rotate);
        }
        if asked.exit && !lines.partial() {
            break;
        }
        if std::mem::take(&mut asked.reopen) && !reopen(&mut dirs) {
            return 111;
        }
        let now = Instant::now();
        for d in dirs
            .iter_mut()
            .filter(|d| d.deadline.is_some_and(|t| t <= now))
        {
            d.rotate();
        }
        let next = dirs.iter().filter_map(|d| d.deadline).min();
        let timeout = next.map(|t| {
            let d = t.saturating_duration_since(Instant::now());
            rustix::time::Timespec {
                tv_sec: d.as_secs() as i64,
                tv_nsec: i64::from(d.subsec_nanos()),
            }
        });
        let mut fds = [
            PollFd::new(&stdin, PollFlags::IN),
            PollFd::new(&sfd, PollFlags::IN),
        ];
        match poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => {
                say(&[
                    "svlogd: warning: unable to poll standard input: ",
                    errstr(e),
                ]);
                break;
            }
        }
        let input = !fds[0].revents().is_empty();
        if !fds[1].revents().is_empty() {
            signals(&sfd, o.verbose, &mut dirs, &mut asked);
            // Rotate, reopen or stop before reading what came after.
            if asked.rotate || asked.reopen || asked.exit {
                continue;
            }
        }
        if !input {
            continue;
        }
        // After TERM only the unfinished line is read, byte by byte, so
        // nothing of the next one is taken from the pipe.
        let want = if asked.exit { 1 } else { buf.len() };
        match rustix::io::read(stdin, &mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => lines.feed(&buf[..n], &mut dirs),
            Err(Errno::INTR | Errno::AGAIN) => {}
            Err(e) => {
                say(&[
                    "svlogd: warning: unable to read standard input: ",
                    errstr(e),
                ]);
                break;
            }
        }
    }
    lines.finish(&mut dirs);
    for d in &mut dirs {
        while d.ppid.is_some() {
            d.wait_processor();
        }
        d.close();
    }
    0
}
