//! Kernel uevents: what udev would hear, read from a
//! `NETLINK_KOBJECT_UEVENT` socket without udev.
//!
//! The kernel multicasts one datagram per device event to group 1:
//! `ACTION@DEVPATH\0ACTION=add\0DEVPATH=/devices/…\0SUBSYSTEM=pci\0MODALIAS=…\0…`
//! (`lib/kobject_uevent.c`). udevd re-sends events to group 2 with a
//! `libudev` header; we listen to the kernel only.
//!
//! The socket is non-blocking with a large receive buffer. If the buffer
//! overflows anyway (a storm of devices while modules load), `recv` says
//! `ENOBUFS` once and the events are gone: [`UeventSocket::drain`] returns
//! `overflowed` and the caller rescans `/sys` instead, so memory stays
//! bounded and nothing is missed.
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Instant;

use rustix::io::Errno;
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{
    bind, recvfrom, socket_with, sockopt, AddressFamily, RecvFlags, SocketFlags, SocketType,
};

/// The kernel's multicast group for uevents.
const KERNEL_GROUP: u32 = 1;
/// Receive buffer asked for: room for thousands of events while a batch of
/// modules loads (the kernel caps it at twice `rmem_max` unless forced).
const RECV_BUFFER: usize = 8 << 20;
/// One datagram: the kernel's `UEVENT_BUFFER_SIZE` is 2048.
const MAX_MESSAGE: usize = 8192;
/// Events handled per [`UeventSocket::drain`]: a storm cannot keep the
/// caller from its deadline; the rest stays queued for the next call.
const MAX_PER_DRAIN: usize = 4096;

/// One device event, the fields stage-1 uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uevent {
    /// `add`, `remove`, `change`, `bind`, `unbind`, `move`, `online`, …
    pub action: String,
    /// Under `/sys`: `/devices/pci0000:00/0000:00:04.0`.
    pub devpath: String,
    pub subsystem: Option<String>,
    /// What the device's driver is found by (`pci:v00001AF4d00001001…`).
    pub modalias: Option<String>,
    /// The node under `/dev` (`vda1`), for devices that have one.
    pub devname: Option<String>,
}

impl Uevent {
    /// Parses one datagram from the kernel. `None` for anything else: an
    /// empty or truncated message, a `libudev` message, a header whose
    /// action and path disagree with the fields.
    pub fn parse(msg: &[u8]) -> Option<Uevent> {
        let mut fields = msg.split(|&b| b == 0);
        let header = std::str::from_utf8(fields.next()?).ok()?;
        let (action, devpath) = header.split_once('@')?;
        if action.is_empty() || !devpath.starts_with('/') {
            return None;
        }
        let mut ev = Uevent {
            action: action.to_owned(),
            devpath: devpath.to_owned(),
            subsystem: None,
            modalias: None,
            devname: None,
        };
        for field in fields {
            let Ok(field) = std::str::from_utf8(field) else {
                continue;
            };
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let value = || Some(value.to_owned()).filter(|v| !v.is_empty());
            match key {
                "SUBSYSTEM" => ev.subsystem = value(),
                "MODALIAS" => ev.modalias = value(),
                "DEVNAME" => ev.devname = value(),
                _ => {}
            }
        }
        Some(ev)
    }

    /// Whether the event can bring a new device (and so a driver to load,
    /// or the device stage-1 waits for).
    pub fn is_add(&self) -> bool {
        matches!(self.action.as_str(), "add" | "change" | "online" | "move")
    }
}

/// A bound `NETLINK_KOBJECT_UEVENT` socket.
#[derive(Debug)]
pub struct UeventSocket {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl AsFd for UeventSocket {
    /// For an event loop of the caller's (PID 1's in stage-2).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl UeventSocket {
    /// Opens and binds the socket. Open it before scanning `/sys`, so that a
    /// device added during the scan is either seen by the scan or queued.
    pub fn open() -> io::Result<Self> {
        let fd = socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            Some(netlink::KOBJECT_UEVENT),
        )?;
        // Forcing needs CAP_NET_ADMIN (PID 1 has it); otherwise take what
        // rmem_max allows.
        if sockopt::set_socket_recv_buffer_size_force(&fd, RECV_BUFFER).is_err() {
            let _ = sockopt::set_socket_recv_buffer_size(&fd, RECV_BUFFER);
        }
        bind(&fd, &SocketAddrNetlink::new(0, KERNEL_GROUP))?;
        Ok(Self {
            fd,
            buf: vec![0; MAX_MESSAGE],
        })
    }

    /// Blocks until an event is queued or `deadline` passes; `Ok(true)` when
    /// there is something to [`Self::drain`]. `EINTR` returns `Ok(false)`
    /// early, so a signal is never held up.
    pub fn wait(&self, deadline: Instant) -> io::Result<bool> {
        let [ready] = crate::wait::readable([self.fd.as_fd()], Some(deadline))?;
        Ok(ready)
    }

    /// Blocks until an event is queued or `other` is readable (a pipe that
    /// says "stop"), with no deadline: `(events queued, other readable)`.
    pub fn wait_either(&self, other: BorrowedFd<'_>) -> io::Result<(bool, bool)> {
        let [events, other] = crate::wait::readable([self.fd.as_fd(), other], None)?;
        Ok((events, other))
    }

    /// Hands each queued event to `each`, without blocking and at most
    /// [`MAX_PER_DRAIN`] of them; one at a time, so memory does not grow
    /// with the queue. Datagrams not from the kernel (sender port 0) are
    /// dropped. Returns whether events were lost (rescan `/sys` then).
    /// `each` is `dyn`: one copy of the loop for stage-1 and stage-2.
    pub fn drain(&mut self, each: &mut dyn FnMut(Uevent)) -> io::Result<bool> {
        let mut overflowed = false;
        for _ in 0..MAX_PER_DRAIN {
            match recvfrom(self.fd.as_fd(), &mut self.buf[..], RecvFlags::DONTWAIT) {
                Ok((n, _, from)) => {
                    let from_kernel = from
                        .and_then(|a| SocketAddrNetlink::try_from(a).ok())
                        .is_some_and(|a| a.pid() == 0);
                    if let Some(ev) = Uevent::parse(&self.buf[..n.min(self.buf.len())]) {
                        if from_kernel {
                            each(ev);
                        }
                    }
                }
                Err(Errno::AGAIN) => break,
                Err(Errno::NOBUFS) => overflowed = true,
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(overflowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_a_kernel_add_event() {
        // As virtio_pci's probe sends it (fields from a Debian 6.1 guest).
        let msg = b"add@/devices/pci0000:00/0000:00:04.0/virtio1\0ACTION=add\0\
DEVPATH=/devices/pci0000:00/0000:00:04.0/virtio1\0SUBSYSTEM=virtio\0\
MODALIAS=virtio:d00000002v00001AF4\0SEQNUM=1042\0";
        let ev = Uevent::parse(msg).unwrap();
        assert_eq!(ev.action, "add");
        assert!(ev.is_add());
        assert_eq!(ev.devpath, "/devices/pci0000:00/0000:00:04.0/virtio1");
        assert_eq!(ev.subsystem.as_deref(), Some("virtio"));
        assert_eq!(ev.modalias.as_deref(), Some("virtio:d00000002v00001AF4"));
        assert_eq!(ev.devname, None);
    }

    #[test]
    fn parses_a_block_event() {
        let msg = b"add@/devices/pci0000:00/0000:00:04.0/virtio1/block/vda/vda1\0ACTION=add\0\
DEVPATH=/devices/pci0000:00/0000:00:04.0/virtio1/block/vda/vda1\0SUBSYSTEM=block\0\
DEVNAME=vda1\0DEVTYPE=partition\0PARTN=1\0SEQNUM=1050\0MAJOR=254\0MINOR=1\0";
        let ev = Uevent::parse(msg).unwrap();
        assert_eq!(ev.devname.as_deref(), Some("vda1"));
        assert_eq!(ev.modalias, None);
        let remove = Uevent::parse(b"remove@/devices/x\0ACTION=remove\0").unwrap();
        assert!(!remove.is_add());
    }

    #[test]
    fn rejects_what_is_not_a_kernel_event() {
        assert_eq!(Uevent::parse(b""), None);
        assert_eq!(Uevent::parse(b"libudev\0\xfe\xed\xca\xfe"), None);
        assert_eq!(Uevent::parse(b"add@devices/x\0"), None);
        assert_eq!(Uevent::parse(b"@/devices/x\0"), None);
        // Fields without '=' or with bad UTF-8 are skipped, not fatal.
        let ev = Uevent::parse(b"add@/devices/x\0junk\0MODALIAS=\xff\0SUBSYSTEM=usb\0").unwrap();
        assert_eq!(ev.subsystem.as_deref(), Some("usb"));
        assert_eq!(ev.modalias, None);
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Uevent::parse(&bytes);
        }
    }
}
