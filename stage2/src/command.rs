//! Run a child with its stdout and stderr logged line by line through `log`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::ExitStatus;

use anyhow::{Context, Result};
use log::{debug, info};
use runit_compat::{Exec, Fd, Session};
use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;

/// Longest line logged in one piece; longer output is split.
const MAX_LINE: usize = 64 * 1024;

/// Spawn `exec` with stdout and stderr on one pipe and `stdin` (`None`: `/dev/null`), log
/// every output line at info level as `<what>: <line>`, and wait for it. Output stops being
/// read when the child has exited and the pipe is drained, even if a grandchild still holds
/// the pipe open (a daemon started by an activation script must not hang the boot).
pub fn run_logged(exec: &Exec, stdin: Option<BorrowedFd<'_>>, what: &str) -> Result<ExitStatus> {
    let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(std::io::Error::from)
        .context("pipe for child output")?;
    let spawn_failed = || format!("spawn {}", exec.program().display());
    let null;
    let stdin = if let Some(fd) = stdin {
        fd
    } else {
        null = std::fs::File::open("/dev/null").with_context(spawn_failed)?;
        null.as_fd()
    };
    let w = Fd::Dup(writer.as_fd());
    let child = runit_compat::spawn(exec, [Fd::Dup(stdin), w, w], Session::Keep, true)
        .with_context(spawn_failed)?;
    // Our copy of the write end: close it, or the pipe never reaches EOF.
    drop(writer);
    let pidfd = rustix::process::Pid::from_raw(child as i32)
        .map(|pid| rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()));
    let pidfd = match pidfd {
        Some(Ok(fd)) => Some(fd),
        Some(Err(e)) => {
            debug!("pidfd_open: {e}; reading {what} output until EOF");
            None
        }
        None => None,
    };
    let mut lines = LineLogger {
        what,
        buf: Vec::new(),
    };
    pump(&reader, pidfd.as_ref(), &mut lines);
    lines.flush();
    runit_compat::wait(child).with_context(|| format!("wait for {what}"))
}

struct LineLogger<'a> {
    what: &'a str,
    buf: Vec<u8>,
}

impl LineLogger<'_> {
    fn feed(&mut self, data: &[u8]) {
        for &b in data {
            if b == b'\n' || self.buf.len() >= MAX_LINE {
                self.emit();
                if b == b'\n' {
                    continue;
                }
            }
            self.buf.push(b);
        }
    }

    fn emit(&mut self) {
        let line = String::from_utf8_lossy(&self.buf);
        info!("{}: {}", self.what, line.trim_end_matches('\r'));
        self.buf.clear();
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            self.emit();
        }
    }
}

/// Read `reader` until EOF, or until `pidfd` says the child exited and what is already in the
/// pipe has been read.
fn pump(reader: &OwnedFd, pidfd: Option<&OwnedFd>, lines: &mut LineLogger<'_>) {
    let mut buf = [0u8; 4096];
    loop {
        let mut fds = vec![PollFd::new(reader, PollFlags::IN)];
        if let Some(p) = pidfd {
            fds.push(PollFd::new(p, PollFlags::IN));
        }
        match rustix::event::poll(&mut fds, None) {
            Ok(_) => {}
            Err(Errno::INTR) => continue,
            Err(e) => {
                debug!("poll on child output: {e}");
                return;
            }
        }
        let pipe_ready = !fds[0].revents().is_empty();
        let exited = fds.get(1).is_some_and(|f| !f.revents().is_empty());
        if pipe_ready {
            match rustix::io::read(reader, &mut buf) {
                Ok(0) => return,
                Ok(n) => lines.feed(&buf[..n]),
                Err(Errno::INTR | Errno::AGAIN) => {}
                Err(e) => {
                    debug!("read child output: {e}");
                    return;
                }
            }
        }
        if exited {
            drain(reader.as_fd(), &mut buf, lines);
            return;
        }
    }
}

/// Read what is in the pipe now, without waiting for writers that may never close it.
fn drain(reader: std::os::fd::BorrowedFd<'_>, buf: &mut [u8], lines: &mut LineLogger<'_>) {
    if let Err(e) = rustix::fs::fcntl_setfl(reader, rustix::fs::OFlags::NONBLOCK) {
        debug!("make child output non-blocking: {e}");
        return;
    }
    loop {
        match rustix::io::read(reader, &mut *buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => lines.feed(&buf[..n]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::path::Path;
    use std::time::{Duration, Instant};

    fn sh(script: &str) -> Exec {
        let argv = ["/bin/sh", "-c", script].map(OsStr::new);
        Exec::new(Path::new("/bin/sh"), &argv, None, None).unwrap()
    }

    #[test]
    fn collects_status_of_a_talkative_child() {
        let status = run_logged(
            &sh("echo out; echo err >&2; printf partial; exit 3"),
            None,
            "t",
        )
        .unwrap();
        assert_eq!(status.code(), Some(3));
    }

    #[test]
    fn does_not_wait_for_a_grandchild_holding_the_pipe() {
        let t0 = Instant::now();
        let status = run_logged(&sh("sleep 10 & echo started"), None, "t").unwrap();
        assert!(status.success());
        assert!(
            t0.elapsed() < Duration::from_secs(8),
            "waited for the grandchild"
        );
    }

    #[test]
    fn long_lines_are_split() {
        let mut l = LineLogger {
            what: "t",
            buf: Vec::new(),
        };
        l.feed(&vec![b'x'; MAX_LINE + 10]);
        assert_eq!(l.buf.len(), 10);
        l.feed(b"\n");
        assert!(l.buf.is_empty());
    }
}
