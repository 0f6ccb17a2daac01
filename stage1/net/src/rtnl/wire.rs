//! The wire format (described in `rtnl/mod.rs`): pure encoders and
//! decoders, which take any bytes and never panic.
use std::net::{IpAddr, Ipv4Addr};

use super::link::{Address, Link, LinkChange, OperState, Route, RouteEntry, RouteOp, IFF_UP};
use crate::mac::Mac;

pub(super) const HDR_LEN: usize = 16;
pub(super) const NLMSG_ERROR: u16 = 2;
pub(super) const NLMSG_DONE: u16 = 3;
pub(super) const NLMSG_OVERRUN: u16 = 4;
pub(super) const NLM_F_REQUEST: u16 = 0x1;
pub(super) const NLM_F_ACK: u16 = 0x4;
pub(super) const NLM_F_DUMP_INTR: u16 = 0x10;
pub(super) const NLM_F_DUMP: u16 = 0x300;
pub(super) const NLM_F_REPLACE: u16 = 0x100;
pub(super) const NLM_F_EXCL: u16 = 0x200;
pub(super) const NLM_F_CREATE: u16 = 0x400;
pub(super) const RTM_NEWLINK: u16 = 16;
pub(super) const RTM_DELLINK: u16 = 17;
pub(super) const RTM_GETLINK: u16 = 18;
pub(super) const RTM_NEWADDR: u16 = 20;
pub(super) const RTM_GETADDR: u16 = 22;
pub(super) const RTM_NEWROUTE: u16 = 24;
pub(super) const RTM_DELROUTE: u16 = 25;
pub(super) const RTM_GETROUTE: u16 = 26;
pub(super) const IFLA_ADDRESS: u16 = 1;
pub(super) const IFLA_IFNAME: u16 = 3;
pub(super) const IFLA_MTU: u16 = 4;
pub(super) const IFLA_OPERSTATE: u16 = 16;
pub(super) const IFA_ADDRESS: u16 = 1;
pub(super) const IFA_LOCAL: u16 = 2;
pub(super) const IFA_BROADCAST: u16 = 4;
pub(super) const IFA_FLAGS: u16 = 8;
pub(super) const RTA_DST: u16 = 1;
pub(super) const RTA_OIF: u16 = 4;
pub(super) const RTA_GATEWAY: u16 = 5;
pub(super) const RTA_MULTIPATH: u16 = 9;
pub(super) const RTA_TABLE: u16 = 15;
pub(super) const RTA_VIA: u16 = 18;
/// `rtm_flags`: the gateway is on the link.
pub(super) const RTNH_F_ONLINK: u32 = 4;
pub(super) const AF_UNSPEC: u8 = 0;
pub(super) const AF_INET: u8 = 2;
pub(super) const AF_INET6: u8 = 10;
pub(super) const RT_TABLE_MAIN: u8 = 254;
pub(super) const RTPROT_BOOT: u8 = 3;
pub(super) const RT_SCOPE_UNIVERSE: u8 = 0;
pub(super) const RT_SCOPE_LINK: u8 = 253;
pub(super) const RTN_UNICAST: u8 = 1;
/// `NLA_F_NESTED | NLA_F_NET_BYTEORDER`: not part of the type.
pub(super) const NLA_TYPE_MASK: u16 = 0x3fff;

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

pub(super) fn align(len: usize) -> usize {
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
    encode_dump(seq, RTM_GETLINK, 16)
}

/// A dump request of `kind` (`RTM_GET*`), every family, with its fixed
/// header (`header` bytes) zeroed.
pub(super) fn encode_dump(seq: u32, kind: u16, header: usize) -> Vec<u8> {
    Builder::new(kind, NLM_F_REQUEST | NLM_F_DUMP, seq)
        .bytes(&[0; 16][..header])
        .finish()
}

fn family(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        AF_INET
    } else {
        AF_INET6
    }
}

fn octets(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
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
/// `address`, and for IPv4 `IFA_BROADCAST` below /31.
pub fn encode_add_address(seq: u32, index: u32, address: IpAddr, prefix: u8) -> Vec<u8> {
    let mut ifa = [0; 8];
    ifa[0] = family(address);
    ifa[1] = prefix;
    ifa[3] = RT_SCOPE_UNIVERSE;
    ifa[4..8].copy_from_slice(&index.to_ne_bytes());
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    let mut b = Builder::new(RTM_NEWADDR, flags, seq)
        .bytes(&ifa)
        .attr(IFA_LOCAL, &octets(address))
        .attr(IFA_ADDRESS, &octets(address));
    if let IpAddr::V4(v4) = address {
        if let Some(brd) = broadcast(v4, prefix) {
            b = b.attr(IFA_BROADCAST, &brd.octets());
        }
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
    // family, dst_len, src_len, tos, table, protocol, scope, type; flags (u32).
    let mut rtm = [0; 12];
    let head = [
        family(route.dst),
        route.prefix,
        0,
        0,
        RT_TABLE_MAIN,
        RTPROT_BOOT,
        scope,
        RTN_UNICAST,
    ];
    rtm[..8].copy_from_slice(&head);
    if route.onlink {
        rtm[8..].copy_from_slice(&RTNH_F_ONLINK.to_ne_bytes());
    }
    let mut b = Builder::new(kind, NLM_F_REQUEST | NLM_F_ACK | flags, seq).bytes(&rtm);
    if route.prefix > 0 {
        b = b.attr(RTA_DST, &octets(route.dst));
    }
    match route.gateway {
        // An IPv6 router for IPv4 (RFC 5549): `struct rtvia`, the family
        // as a u16, then the address.
        Some(gw) if gw.is_ipv4() != route.dst.is_ipv4() => {
            let mut via = u16::from(family(gw)).to_ne_bytes().to_vec();
            via.extend(octets(gw));
            b = b.attr(RTA_VIA, &via);
        }
        Some(gw) => b = b.attr(RTA_GATEWAY, &octets(gw)),
        None => {}
    }
    b.attr(RTA_OIF, &route.index.to_ne_bytes()).finish()
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(super) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
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

/// An address of `family` (`AF_INET`, `AF_INET6`) from attribute data.
fn ip(family: u8, data: &[u8]) -> Option<IpAddr> {
    match family {
        AF_INET => <[u8; 4]>::try_from(data).ok().map(IpAddr::from),
        AF_INET6 => <[u8; 16]>::try_from(data).ok().map(IpAddr::from),
        _ => None,
    }
}

/// An `RTM_NEWADDR` payload (`ifaddrmsg` and attributes); `None` for
/// other families and for one without an address.
pub fn decode_address(payload: &[u8]) -> Option<Address> {
    let fixed = payload.get(..8)?;
    let mut local = None;
    let mut address = None;
    let mut flags = u32::from(fixed[2]);
    for (kind, data) in attrs(&payload[8..]) {
        match kind {
            IFA_LOCAL => local = ip(fixed[0], data),
            IFA_ADDRESS => address = ip(fixed[0], data),
            IFA_FLAGS => flags = u32_at(data, 0).unwrap_or(flags),
            _ => {}
        }
    }
    Some(Address {
        index: u32_at(fixed, 4)?,
        // IFA_LOCAL is the address itself; IFA_ADDRESS is the peer's on a
        // point-to-point link (IPv6 sends only IFA_ADDRESS).
        address: local.or(address)?,
        prefix: fixed[1],
        scope: fixed[3],
        flags,
    })
}

/// An `RTM_NEWROUTE` payload (`rtmsg` and attributes); `None` for other
/// families and for one without an outgoing interface.
pub fn decode_route(payload: &[u8]) -> Option<RouteEntry> {
    let fixed = payload.get(..12)?;
    let any = ip(
        fixed[0],
        &[0; 16][..if fixed[0] == AF_INET { 4 } else { 16 }],
    )?;
    let mut entry = RouteEntry {
        route: Route {
            dst: any,
            prefix: fixed[1],
            gateway: None,
            index: 0,
            onlink: u32_at(fixed, 8)? & RTNH_F_ONLINK != 0,
        },
        table: u32::from(fixed[4]),
        protocol: fixed[5],
        kind: fixed[7],
        multipath: false,
    };
    for (kind, data) in attrs(&payload[12..]) {
        match kind {
            RTA_DST => entry.route.dst = ip(fixed[0], data)?,
            RTA_GATEWAY => entry.route.gateway = ip(fixed[0], data),
            RTA_VIA => {
                entry.route.gateway = ip(u16_at(data, 0)? as u8, data.get(2..)?);
            }
            RTA_OIF => entry.route.index = u32_at(data, 0)?,
            RTA_TABLE => entry.table = u32_at(data, 0)?,
            RTA_MULTIPATH => entry.multipath = true,
            _ => {}
        }
    }
    (entry.route.index != 0 || entry.multipath).then_some(entry)
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
