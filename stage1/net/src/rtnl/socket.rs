//! [`Rtnl`]: requests to the kernel, each waiting for its ack, and the
//! link dump.
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::io::Errno;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{
    bind, recvfrom, sendto, socket_with, sockopt, AddressFamily, RecvFlags, SendFlags, SocketFlags,
    SocketType,
};

use super::link::{Address, Link, LinkChange, Route, RouteEntry, RouteOp};
use super::wire::{
    decode_address, decode_error, decode_link, decode_route, encode_add_address, encode_dump,
    encode_route, encode_set_link, messages, NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP_INTR, RTM_GETADDR,
    RTM_GETLINK, RTM_GETROUTE, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE,
};

/// A dump datagram is at most 32 KiB (`netlink_dump`'s allocation).
pub(super) const RECV_BUFFER: usize = 32 << 10;
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// A request socket to the kernel's rtnetlink.
#[derive(Debug)]
pub struct Rtnl {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

fn kernel() -> SocketAddrNetlink {
    SocketAddrNetlink::new(0, 0)
}

pub(super) fn route_socket(groups: u32, flags: SocketFlags) -> io::Result<OwnedFd> {
    let fd = socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        flags | SocketFlags::CLOEXEC,
        None, // NETLINK_ROUTE
    )?;
    bind(&fd, &SocketAddrNetlink::new(0, groups))?;
    Ok(fd)
}

fn other(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl Rtnl {
    pub fn open() -> io::Result<Self> {
        let fd = route_socket(0, SocketFlags::empty())?;
        sockopt::set_socket_timeout(&fd, sockopt::Timeout::Recv, Some(ACK_TIMEOUT))?;
        Ok(Self {
            fd,
            seq: 0,
            buf: vec![0; RECV_BUFFER],
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    fn send(&self, msg: &[u8]) -> io::Result<()> {
        sendto(&self.fd, msg, SendFlags::empty(), &kernel())?;
        Ok(())
    }

    /// Receives one datagram from the kernel into `self.buf`; its length.
    fn recv(&mut self) -> io::Result<usize> {
        loop {
            match recvfrom(&self.fd, &mut self.buf[..], RecvFlags::TRUNC) {
                Ok((_, len, from)) => {
                    if len > self.buf.len() {
                        return Err(other(format!(
                            "netlink: a {len}-byte reply does not fit {} bytes",
                            self.buf.len()
                        )));
                    }
                    let from_kernel = from
                        .and_then(|a| SocketAddrNetlink::try_from(a).ok())
                        .is_some_and(|a| a.pid() == 0);
                    if from_kernel {
                        return Ok(len);
                    }
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "netlink: no answer from the kernel in {}s",
                            ACK_TIMEOUT.as_secs()
                        ),
                    ))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Sends a request made for sequence number `seq` and waits for its ack.
    /// Not generic (a `dyn` maker): one copy of the wait for every request.
    fn request(&mut self, make: &dyn Fn(u32) -> Vec<u8>) -> io::Result<()> {
        let seq = self.next_seq();
        self.send(&make(seq))?;
        loop {
            let len = self.recv()?;
            for msg in messages(&self.buf[..len]) {
                let msg = msg.map_err(|m| other(format!("netlink: bad reply at {}", m.offset)))?;
                if msg.seq != seq || msg.kind != NLMSG_ERROR {
                    continue;
                }
                return match decode_error(msg.payload) {
                    Some(0) => Ok(()),
                    Some(e) => Err(io::Error::from_raw_os_error(e.saturating_neg())),
                    None => Err(other("netlink: truncated NLMSG_ERROR".into())),
                };
            }
        }
    }

    /// Every link (`RTM_GETLINK` dump), in index order.
    pub fn links(&mut self) -> io::Result<Vec<Link>> {
        let mut links = self.dump((RTM_GETLINK, 16, RTM_NEWLINK), decode_link)?;
        links.sort_by_key(|l: &Link| l.index);
        Ok(links)
    }

    /// Every address of every interface, IPv4 and IPv6 (`RTM_GETADDR`).
    pub fn addresses(&mut self) -> io::Result<Vec<Address>> {
        self.dump((RTM_GETADDR, 8, RTM_NEWADDR), decode_address)
    }

    /// Every route of every table, IPv4 and IPv6 (`RTM_GETROUTE`).
    pub fn routes(&mut self) -> io::Result<Vec<RouteEntry>> {
        self.dump((RTM_GETROUTE, 12, RTM_NEWROUTE), decode_route)
    }

    /// A dump of `(request, its header's length, reply type)`, each reply
    /// decoded. A dump that the kernel marks interrupted (things changed
    /// meanwhile) is redone, up to 3 times.
    fn dump<T>(
        &mut self,
        kind: (u16, usize, u16),
        decode: fn(&[u8]) -> Option<T>,
    ) -> io::Result<Vec<T>> {
        let mut items = Vec::new();
        for _ in 0..4 {
            items.clear();
            if !self.dump_once(kind, &mut |payload| items.extend(decode(payload)))? {
                break;
            }
        }
        Ok(items)
    }

    /// One dump, each reply's payload to `each`; whether it was
    /// interrupted. Not generic: one copy of the loop for every kind.
    fn dump_once(
        &mut self,
        (request, header, reply): (u16, usize, u16),
        each: &mut dyn FnMut(&[u8]),
    ) -> io::Result<bool> {
        let seq = self.next_seq();
        self.send(&encode_dump(seq, request, header))?;
        let mut interrupted = false;
        loop {
            let len = self.recv()?;
            for msg in messages(&self.buf[..len]) {
                let msg = msg.map_err(|m| other(format!("netlink: bad dump at {}", m.offset)))?;
                if msg.seq != seq {
                    continue;
                }
                interrupted |= msg.flags & NLM_F_DUMP_INTR != 0;
                match msg.kind {
                    NLMSG_DONE => return Ok(interrupted),
                    NLMSG_ERROR => {
                        let errno = decode_error(msg.payload).unwrap_or(-Errno::IO.raw_os_error());
                        return Err(io::Error::from_raw_os_error(errno.saturating_neg()));
                    }
                    kind if kind == reply => each(msg.payload),
                    _ => {}
                }
            }
        }
    }

    pub fn set_link(&mut self, index: u32, change: LinkChange<'_>) -> io::Result<()> {
        self.request(&|seq| encode_set_link(seq, index, change))
    }

    pub fn set_up(&mut self, index: u32) -> io::Result<()> {
        self.set_link(index, LinkChange::Up)
    }

    pub fn set_down(&mut self, index: u32) -> io::Result<()> {
        self.set_link(index, LinkChange::Down)
    }

    /// Renames a link; it must be down (`EBUSY` otherwise).
    pub fn set_name(&mut self, index: u32, name: &str) -> io::Result<()> {
        self.set_link(index, LinkChange::Name(name))
    }

    /// Adds `address/prefix`; an address already there (`EEXIST`) is fine.
    pub fn add_address(&mut self, index: u32, address: IpAddr, prefix: u8) -> io::Result<()> {
        match self.request(&|seq| encode_add_address(seq, index, address, prefix)) {
            Err(e) if e.raw_os_error() == Some(Errno::EXIST.raw_os_error()) => Ok(()),
            r => r,
        }
    }

    /// `default via gateway dev index proto boot`; `EEXIST` when a
    /// default route is there.
    pub fn add_default_route(&mut self, gateway: Ipv4Addr, index: u32) -> io::Result<()> {
        self.add_route(Ipv4Addr::UNSPECIFIED.into(), 0, Some(gateway.into()), index)
    }

    /// `dst/prefix [via gateway] dev index proto boot`.
    pub fn add_route(
        &mut self,
        dst: IpAddr,
        prefix: u8,
        gateway: Option<IpAddr>,
        index: u32,
    ) -> io::Result<()> {
        let route = Route {
            dst,
            prefix,
            gateway,
            index,
            onlink: false,
        };
        self.route(RouteOp::Add, &route)
    }

    pub fn route(&mut self, op: RouteOp, route: &Route) -> io::Result<()> {
        self.request(&|seq| encode_route(seq, op, route))
    }
}
