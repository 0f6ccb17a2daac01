//! Waiting for one socket with poll(2) and a deadline: the blocking step of
//! the DHCP client and of the link-event wait. `EINTR` returns early with
//! nothing ready, so a signal is never held up. (stage-1's device events
//! have a poll of their own: this crate depends on nothing of stage-1.)
use std::io;
use std::os::fd::BorrowedFd;
use std::time::Instant;

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::io::Errno;

/// Blocks until `fd` is readable or `deadline` passes; whether it is.
pub(crate) fn readable(fd: BorrowedFd<'_>, deadline: Instant) -> io::Result<bool> {
    let left = deadline.saturating_duration_since(Instant::now());
    let ts = Timespec {
        tv_sec: left.as_secs() as _,
        tv_nsec: left.subsec_nanos() as _,
    };
    let mut pfd = [PollFd::from_borrowed_fd(fd, PollFlags::IN)];
    match poll(&mut pfd, Some(&ts)) {
        Ok(_) => Ok(!pfd[0].revents().is_empty()),
        Err(Errno::INTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
