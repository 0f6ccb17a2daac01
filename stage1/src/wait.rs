//! Waiting for file descriptors with poll(2): the one blocking primitive
//! of stage-1's event loops (uevents, link events), with or without a
//! deadline. `EINTR` returns early with nothing ready, so a signal is never
//! held up.
use std::io;
use std::os::fd::BorrowedFd;
use std::time::Instant;

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::io::Errno;

/// Blocks until one of `fds` is readable or `deadline` passes (`None`: no
/// deadline); returns which are readable, in order.
pub(crate) fn readable<const N: usize>(
    fds: [BorrowedFd<'_>; N],
    deadline: Option<Instant>,
) -> io::Result<[bool; N]> {
    let ts = deadline.map(|d| {
        let left = d.saturating_duration_since(Instant::now());
        Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        }
    });
    let mut pfds = fds.map(|fd| PollFd::from_borrowed_fd(fd, PollFlags::IN));
    match poll(&mut pfds, ts.as_ref()) {
        Ok(_) => Ok(pfds.map(|p| !p.revents().is_empty())),
        Err(Errno::INTR) => Ok([false; N]),
        Err(e) => Err(e.into()),
    }
}
