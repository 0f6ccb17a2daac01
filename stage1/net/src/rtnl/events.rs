//! [`LinkEvents`]: link changes as they happen (`RTNLGRP_LINK`).
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

use rustix::io::Errno;
use rustix::net::{recvfrom, sockopt, RecvFlags, SocketFlags};

use super::link::Link;
use super::socket::{route_socket, RECV_BUFFER};
use super::wire::{decode_link, messages, u32_at, NLMSG_OVERRUN, RTM_DELLINK, RTM_NEWLINK};

/// The `RTNLGRP_LINK` multicast group as a bind mask.
const RTMGRP_LINK: u32 = 1;

/// What [`LinkEvents::drain`] hands over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// A new link or a change (flags, name, carrier): its whole state.
    Changed(Link),
    /// The link with this index is gone.
    Removed(u32),
}

/// A socket subscribed to `RTNLGRP_LINK`: every link change, as it
/// happens. Open it before [`Rtnl::links`], so that nothing falls between
/// the dump and the subscription.
#[derive(Debug)]
pub struct LinkEvents {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl LinkEvents {
    pub fn open() -> io::Result<Self> {
        let fd = route_socket(RTMGRP_LINK, SocketFlags::NONBLOCK)?;
        // Best effort: the default (~200 KiB) holds hundreds of events, and
        // an overflow is reported by drain() and answered with a new dump.
        if let Err(e) = sockopt::set_socket_recv_buffer_size(&fd, 1 << 20) {
            log::debug!("netlink link events: receive buffer stays default: {e}");
        }
        Ok(Self {
            fd,
            buf: vec![0; RECV_BUFFER],
        })
    }

    /// Blocks until an event is queued or `deadline` passes; `Ok(true)`
    /// when there is something to drain. `EINTR` returns `Ok(false)`.
    pub fn wait(&self, deadline: Instant) -> io::Result<bool> {
        crate::wait::readable(self.fd.as_fd(), deadline)
    }

    /// Hands every queued event to `each` without blocking. Returns whether
    /// events were lost (`ENOBUFS`, `NLMSG_OVERRUN`): dump the links again.
    pub fn drain(&mut self, mut each: impl FnMut(LinkEvent)) -> io::Result<bool> {
        let mut lost = false;
        loop {
            let len = match recvfrom(self.fd.as_fd(), &mut self.buf[..], RecvFlags::DONTWAIT) {
                Ok((n, _, _)) => n,
                Err(Errno::AGAIN) => return Ok(lost),
                Err(Errno::NOBUFS) => {
                    lost = true;
                    continue;
                }
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            };
            for msg in messages(&self.buf[..len]) {
                let Ok(msg) = msg else { break };
                match msg.kind {
                    RTM_NEWLINK => {
                        if let Some(link) = decode_link(msg.payload) {
                            each(LinkEvent::Changed(link));
                        }
                    }
                    RTM_DELLINK => {
                        if let Some(index) = u32_at(msg.payload, 4) {
                            each(LinkEvent::Removed(index));
                        }
                    }
                    NLMSG_OVERRUN => lost = true,
                    _ => {}
                }
            }
        }
    }
}

/// The `RTNLGRP_IPV6_IFADDR` multicast group as a bind mask.
const RTMGRP_IPV6_IFADDR: u32 = 0x100;

/// A socket subscribed to IPv6 address changes (duplicate address
/// detection ending, for one): only that something changed; dump the
/// addresses to see what.
#[derive(Debug)]
pub struct AddressEvents {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl AddressEvents {
    pub fn open() -> io::Result<Self> {
        Ok(Self {
            fd: route_socket(RTMGRP_IPV6_IFADDR, SocketFlags::NONBLOCK)?,
            buf: vec![0; RECV_BUFFER],
        })
    }

    /// Blocks until a change or `deadline`; `Ok(true)` after a change, with
    /// every queued message read.
    pub fn wait(&mut self, deadline: Instant) -> io::Result<bool> {
        if !crate::wait::readable(self.fd.as_fd(), deadline)? {
            return Ok(Instant::now() < deadline);
        }
        loop {
            match recvfrom(self.fd.as_fd(), &mut self.buf[..], RecvFlags::DONTWAIT) {
                Ok(_) | Err(Errno::INTR | Errno::NOBUFS) => {}
                Err(Errno::AGAIN) => return Ok(true),
                Err(e) => return Err(e.into()),
            }
        }
    }
}
