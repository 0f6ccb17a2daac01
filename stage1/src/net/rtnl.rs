//! A minimal rtnetlink (`NETLINK_ROUTE`) client: list links, bring them up
//! or down, rename them, add IPv4 addresses and routes, and hear link
//! changes ([`LinkEvents`]).
//!
//! Hand-written on rustix's netlink sockets rather than `netlink-packet-route`
//! or `neli` for binary size: those crates model every rtnetlink family,
//! attribute and nested type (with their own error and buffer crates), while
//! stage-1 needs a handful of requests and one reply type: the few hundred
//! lines below.
//!
//! # Wire format (`netlink(7)`, `rtnetlink(7)`)
//!
//! Each message is a 16-byte `nlmsghdr` (length, type, flags, sequence,
//! port, native byte order), a fixed header (`ifinfomsg` 16 bytes,
//! `ifaddrmsg` 8, `rtmsg` 12), then attributes: `u16` length (header
//! included, padding not), `u16` type, data, zero padding to 4 bytes.
//! Messages in one datagram are each padded to 4 bytes.
//!
//! The encoders ([`encode_get_links`], [`encode_set_link`],
//! [`encode_add_address`], [`encode_route`]) and decoders ([`messages`],
//! [`attrs`], [`decode_link`], [`decode_error`]) are pure. The decoders take
//! any bytes and never panic: a malformed message ends the iteration with
//! an error, a malformed attribute ends the attribute list.
//!
//! Every change is sent with `NLM_F_ACK`, and [`Rtnl`] waits for the
//! kernel's `NLMSG_ERROR` with our sequence number: 0 is success, anything
//! else is the errno as an [`io::Error`]. The kernel answers synchronously;
//! a receive timeout of 5 s keeps PID 1 from hanging on a kernel bug.
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{
    bind, recvfrom, sendto, socket_with, sockopt, AddressFamily, RecvFlags, SendFlags, SocketFlags,
    SocketType,
};

use super::mac::Mac;

/// `ifi_flags`: administratively up.
pub const IFF_UP: u32 = 0x1;
/// `ifi_flags`: the loopback device.
pub const IFF_LOOPBACK: u32 = 0x8;
/// `ifi_flags`: operationally up (RFC 2863 `up`).
pub const IFF_RUNNING: u32 = 0x40;
/// `ifi_flags`: the driver reports carrier (a cable, a peer).
pub const IFF_LOWER_UP: u32 = 0x1_0000;
/// `ifi_type` of Ethernet-like devices (also Wi-Fi, veth, virtio-net).
pub const ARPHRD_ETHER: u16 = 1;
/// `ifi_type` of `lo`.
pub const ARPHRD_LOOPBACK: u16 = 772;

const HDR_LEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_OPERSTATE: u16 = 16;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;
/// The `RTNLGRP_LINK` multicast group as a bind mask.
const RTMGRP_LINK: u32 = 1;
/// `NLA_F_NESTED | NLA_F_NET_BYTEORDER`: not part of the type.
const NLA_TYPE_MASK: u16 = 0x3fff;
/// A dump datagram is at most 32 KiB (`netlink_dump`'s allocation).
const RECV_BUFFER: usize = 32 << 10;
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// RFC 2863 operational state (`IFLA_OPERSTATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperState {
    Unknown,
    NotPresent,
    Down,
    LowerLayerDown,
    Testing,
    Dormant,
    Up,
    Other(u8),
}

impl OperState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Unknown,
            1 => Self::NotPresent,
            2 => Self::Down,
            3 => Self::LowerLayerDown,
            4 => Self::Testing,
            5 => Self::Dormant,
            6 => Self::Up,
            v => Self::Other(v),
        }
    }
}

/// One network interface, as `RTM_NEWLINK` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `IFLA_ADDRESS` when it is 6 bytes long (`None` for tunnels etc.).
    pub mac: Option<Mac>,
    /// `ifi_flags` (`IFF_*`).
    pub flags: u32,
    /// `ifi_type` (`ARPHRD_*`).
    pub link_type: u16,
    pub operstate: OperState,
}

impl Link {
    pub fn is_up(&self) -> bool {
        self.flags & IFF_UP != 0
    }

    /// `IFF_LOWER_UP`: the driver sees a carrier.
    pub fn has_carrier(&self) -> bool {
        self.flags & IFF_LOWER_UP != 0
    }

    pub fn is_loopback(&self) -> bool {
        self.flags & IFF_LOOPBACK != 0 || self.link_type == ARPHRD_LOOPBACK
    }

    /// Ethernet-like: what DHCP and `BOOTIF=` can use.
    pub fn is_ethernet(&self) -> bool {
        self.link_type == ARPHRD_ETHER && !self.is_loopback()
    }
}

/// A change to a link ([`encode_set_link`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkChange<'a> {
    Up,
    Down,
    /// `IFLA_IFNAME`; the kernel wants the link down for this.
    Name(&'a str),
    Mtu(u32),
    /// `IFLA_ADDRESS`; most drivers want the link down for this.
    Mac(Mac),
}

/// An IPv4 route in the main table, protocol `boot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub dst: Ipv4Addr,
    pub prefix: u8,
    /// `None`: on-link (scope link), else via this router (scope universe).
    pub gateway: Option<Ipv4Addr>,
    /// The outgoing interface.
    pub index: u32,
}

/// What [`encode_route`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteOp {
    /// Create; `EEXIST` when the same route is there.
    Add,
    /// Create, or replace the route with the same key.
    Replace,
    Delete,
}

/// One netlink message, borrowed from a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlMsg<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    /// Everything after the `nlmsghdr`, without trailing padding.
    pub payload: &'a [u8],
}

/// A message whose length field does not fit the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed {
    pub offset: usize,
}

/// A message being built: `nlmsghdr`, fixed header, attributes.
struct Builder(Vec<u8>);

impl Builder {
    fn new(kind: u16, flags: u16, seq: u32) -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend(0u32.to_ne_bytes()); // length, set by finish()
        buf.extend(kind.to_ne_bytes());
        buf.extend(flags.to_ne_bytes());
        buf.extend(seq.to_ne_bytes());
        buf.extend(0u32.to_ne_bytes()); // port: the kernel fills it in
        Self(buf)
    }

    fn bytes(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self.pad();
        self
    }

    fn attr(mut self, kind: u16, data: &[u8]) -> Self {
        self.0.extend(((4 + data.len()) as u16).to_ne_bytes());
        self.0.extend(kind.to_ne_bytes());
        self.0.extend_from_slice(data);
        self.pad();
        self
    }

    fn pad(&mut self) {
        self.0.resize(align(self.0.len()), 0);
    }

    fn finish(mut self) -> Vec<u8> {
        let len = (self.0.len() as u32).to_ne_bytes();
        self.0[..4].copy_from_slice(&len);
        self.0
    }
}

fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// `ifinfomsg`.
fn ifinfomsg(index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut m = [0; 16];
    m[0] = AF_UNSPEC;
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m[8..12].copy_from_slice(&flags.to_ne_bytes());
    m[12..16].copy_from_slice(&change.to_ne_bytes());
    m
}

/// `RTM_GETLINK` dump of every link.
pub fn encode_get_links(seq: u32) -> Vec<u8> {
    Builder::new(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq)
        .bytes(&ifinfomsg(0, 0, 0))
        .finish()
}

/// `RTM_NEWLINK` on an existing link (by index), with `NLM_F_ACK`.
pub fn encode_set_link(seq: u32, index: u32, change: LinkChange<'_>) -> Vec<u8> {
    let b = Builder::new(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq);
    match change {
        LinkChange::Up => b.bytes(&ifinfomsg(index, IFF_UP, IFF_UP)),
        LinkChange::Down => b.bytes(&ifinfomsg(index, 0, IFF_UP)),
        LinkChange::Name(name) => {
            let mut data = name.as_bytes().to_vec();
            data.push(0);
            b.bytes(&ifinfomsg(index, 0, 0)).attr(IFLA_IFNAME, &data)
        }
        LinkChange::Mtu(mtu) => b
            .bytes(&ifinfomsg(index, 0, 0))
            .attr(IFLA_MTU, &mtu.to_ne_bytes()),
        LinkChange::Mac(mac) => b.bytes(&ifinfomsg(index, 0, 0)).attr(IFLA_ADDRESS, &mac.0),
    }
    .finish()
}

/// The broadcast address of a subnet; `None` for /31 and /32 (RFC 3021).
pub fn broadcast(address: Ipv4Addr, prefix: u8) -> Option<Ipv4Addr> {
    (prefix < 31).then(|| Ipv4Addr::from(u32::from(address) | (u32::MAX >> prefix)))
}

/// `RTM_NEWADDR` (create, exclusive, ack): `IFA_LOCAL` = `IFA_ADDRESS` =
/// `address`, and `IFA_BROADCAST` below /31.
pub fn encode_add_address(seq: u32, index: u32, address: Ipv4Addr, prefix: u8) -> Vec<u8> {
    let mut ifa = [0; 8];
    ifa[0] = AF_INET;
    ifa[1] = prefix;
    ifa[3] = RT_SCOPE_UNIVERSE;
    ifa[4..8].copy_from_slice(&index.to_ne_bytes());
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    let mut b = Builder::new(RTM_NEWADDR, flags, seq)
        .bytes(&ifa)
        .attr(IFA_LOCAL, &address.octets())
        .attr(IFA_ADDRESS, &address.octets());
    if let Some(brd) = broadcast(address, prefix) {
        b = b.attr(IFA_BROADCAST, &brd.octets());
    }
    b.finish()
}

/// `RTM_NEWROUTE` / `RTM_DELROUTE` in the main table, protocol `boot`.
pub fn encode_route(seq: u32, op: RouteOp, route: &Route) -> Vec<u8> {
    let (kind, flags) = match op {
        RouteOp::Add => (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL),
        RouteOp::Replace => (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE),
        RouteOp::Delete => (RTM_DELROUTE, 0),
    };
    let scope = if route.gateway.is_some() {
        RT_SCOPE_UNIVERSE
    } else {
        RT_SCOPE_LINK
    };
    // family, dst_len, src_len, tos, table, protocol, scope, type; flags (u32) 0.
    let mut rtm = [0; 12];
    let head = [
        AF_INET,
        route.prefix,
        0,
        0,
        RT_TABLE_MAIN,
        RTPROT_BOOT,
        scope,
        RTN_UNICAST,
    ];
    rtm[..8].copy_from_slice(&head);
    let mut b = Builder::new(kind, NLM_F_REQUEST | NLM_F_ACK | flags, seq).bytes(&rtm);
    if route.prefix > 0 {
        b = b.attr(RTA_DST, &route.dst.octets());
    }
    if let Some(gw) = route.gateway {
        b = b.attr(RTA_GATEWAY, &gw.octets());
    }
    b.attr(RTA_OIF, &route.index.to_ne_bytes()).finish()
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The messages of one datagram; see the module doc.
pub fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { buf, at: 0 }
}

/// Iterator of [`messages`].
pub struct Messages<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<NlMsg<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.at..)?;
        if rest.is_empty() {
            return None;
        }
        let bad = Malformed { offset: self.at };
        let parsed = (|| {
            let len = u32_at(rest, 0)? as usize;
            let payload = rest.get(HDR_LEN..len)?;
            let msg = NlMsg {
                kind: u16_at(rest, 4)?,
                flags: u16_at(rest, 6)?,
                seq: u32_at(rest, 8)?,
                pid: u32_at(rest, 12)?,
                payload,
            };
            Some((msg, len))
        })();
        let Some((msg, len)) = parsed else {
            self.at = self.buf.len();
            return Some(Err(bad));
        };
        self.at += align(len);
        Some(Ok(msg))
    }
}

/// `(type, data)` of each attribute in `buf`; stops at a malformed one.
/// The nested and byte-order bits are cleared from the type.
pub fn attrs(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let len = u16_at(buf, at)? as usize;
        let kind = u16_at(buf, at + 2)? & NLA_TYPE_MASK;
        let data = buf.get(at + 4..at.checked_add(len)?)?;
        at += align(len.max(4));
        Some((kind, data))
    })
}

/// An `NLMSG_ERROR` payload: 0 for an ack, else minus the errno.
pub fn decode_error(payload: &[u8]) -> Option<i32> {
    Some(u32_at(payload, 0)? as i32)
}

/// An `RTM_NEWLINK` payload (`ifinfomsg` and attributes).
pub fn decode_link(payload: &[u8]) -> Option<Link> {
    let fixed = payload.get(..16)?;
    let mut link = Link {
        index: u32_at(fixed, 4)?,
        name: String::new(),
        mac: None,
        flags: u32_at(fixed, 8)?,
        link_type: u16_at(fixed, 2)?,
        operstate: OperState::Unknown,
    };
    for (kind, data) in attrs(&payload[16..]) {
        match kind {
            IFLA_IFNAME => {
                let name = data.split(|&b| b == 0).next().unwrap_or_default();
                link.name = String::from_utf8_lossy(name).into_owned();
            }
            IFLA_ADDRESS => link.mac = <[u8; 6]>::try_from(data).ok().map(Mac),
            IFLA_OPERSTATE => {
                if let [state] = data {
                    link.operstate = OperState::from_u8(*state);
                }
            }
            _ => {}
        }
    }
    (!link.name.is_empty()).then_some(link)
}

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

fn route_socket(groups: u32, flags: SocketFlags) -> io::Result<OwnedFd> {
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
                        format!("netlink: no answer from the kernel in {ACK_TIMEOUT:?}"),
                    ))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Sends a request made for sequence number `seq` and waits for its ack.
    fn request(&mut self, make: impl FnOnce(u32) -> Vec<u8>) -> io::Result<()> {
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

    /// Every link (`RTM_GETLINK` dump), in index order. A dump that the
    /// kernel marks interrupted (links changed meanwhile) is redone.
    pub fn links(&mut self) -> io::Result<Vec<Link>> {
        for _ in 0..3 {
            let (links, interrupted) = self.dump_links()?;
            if !interrupted {
                return Ok(links);
            }
        }
        self.dump_links().map(|(links, _)| links)
    }

    fn dump_links(&mut self) -> io::Result<(Vec<Link>, bool)> {
        let seq = self.next_seq();
        self.send(&encode_get_links(seq))?;
        let (mut links, mut interrupted) = (Vec::new(), false);
        loop {
            let len = self.recv()?;
            for msg in messages(&self.buf[..len]) {
                let msg = msg.map_err(|m| other(format!("netlink: bad dump at {}", m.offset)))?;
                if msg.seq != seq {
                    continue;
                }
                interrupted |= msg.flags & NLM_F_DUMP_INTR != 0;
                match msg.kind {
                    NLMSG_DONE => {
                        links.sort_by_key(|l: &Link| l.index);
                        return Ok((links, interrupted));
                    }
                    NLMSG_ERROR => {
                        let errno = decode_error(msg.payload).unwrap_or(-Errno::IO.raw_os_error());
                        return Err(io::Error::from_raw_os_error(errno.saturating_neg()));
                    }
                    RTM_NEWLINK => links.extend(decode_link(msg.payload)),
                    _ => {}
                }
            }
        }
    }

    pub fn set_link(&mut self, index: u32, change: LinkChange<'_>) -> io::Result<()> {
        self.request(|seq| encode_set_link(seq, index, change))
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
    pub fn add_address(&mut self, index: u32, address: Ipv4Addr, prefix: u8) -> io::Result<()> {
        match self.request(|seq| encode_add_address(seq, index, address, prefix)) {
            Err(e) if e.raw_os_error() == Some(Errno::EXIST.raw_os_error()) => Ok(()),
            r => r,
        }
    }

    /// `default via gateway dev index proto boot`; `EEXIST` when a
    /// default route is there.
    pub fn add_default_route(&mut self, gateway: Ipv4Addr, index: u32) -> io::Result<()> {
        self.add_route(Ipv4Addr::UNSPECIFIED, 0, Some(gateway), index)
    }

    /// `dst/prefix [via gateway] dev index proto boot`.
    pub fn add_route(
        &mut self,
        dst: Ipv4Addr,
        prefix: u8,
        gateway: Option<Ipv4Addr>,
        index: u32,
    ) -> io::Result<()> {
        let route = Route {
            dst,
            prefix,
            gateway,
            index,
        };
        self.route(RouteOp::Add, &route)
    }

    pub fn route(&mut self, op: RouteOp, route: &Route) -> io::Result<()> {
        self.request(|seq| encode_route(seq, op, route))
    }
}

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
        let [ready] = crate::wait::readable([self.fd.as_fd()], Some(deadline))?;
        Ok(ready)
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

#[cfg(test)]
#[path = "rtnl_tests.rs"]
mod tests;
