//! The DHCPv4 client: DISCOVER → OFFER → REQUEST → ACK (RFC 2131 §3.1)
//! on one interface, with retransmission and an overall deadline; the
//! result is a [`Lease`].
//!
//! [`Client`] is the state machine; its socket is a [`Transport`], so the
//! exchange is tested with a fake that scripts the server (offers, a NAK,
//! silence, replies to other transactions, garbage) on a virtual clock.
//! [`UdpTransport`] is the real one and [`obtain`] puts the two together.
//!
//! # Operation
//!
//! * A fresh random `xid` per DISCOVER; the REQUEST reuses it. Only replies
//!   with our `xid` and `chaddr` count ([`Message::is_reply_to`]); anything
//!   that does not decode, or is not an OFFER/ACK/NAK with a usable lease,
//!   is skipped.
//! * Both messages carry the broadcast flag (we have no address, so the
//!   server must broadcast its reply) and `secs` since the start.
//! * Retransmission: after 1, 2, 4, 8, 16, 16, … s (each plus up to 1/8 at
//!   random, so that a rack of machines powered on together spreads out),
//!   never past the deadline. The first OFFER is taken.
//! * A REQUEST is sent up to 4 times (1 + 2 + 4 + 8 s). An ACK from the
//!   chosen server ends it; a NAK from it, or no answer, starts over with
//!   a DISCOVER and a new `xid`.
//! * At the deadline (30 s by default) the error says what was seen: a
//!   NAK if one came, else an offer whose REQUEST went unanswered, else
//!   nothing at all.
//!
//! # The socket
//!
//! A UDP socket bound to `0.0.0.0:68` with `SO_BROADCAST`, sending to
//! `255.255.255.255:67`. Linux routes even a limited broadcast, and without
//! an address on the interface there is no route for it; the usual answer
//! is `SO_BINDTODEVICE`, which rustix 1.1 does not wrap (and `unsafe` is
//! denied here). So [`UdpTransport`] adds the route itself while it is
//! open: `255.255.255.255/32 dev <iface> scope link proto boot` in the main
//! table, removed when it is dropped. Replies are broadcast too and reach
//! the socket whatever interface they came in on; `xid` and `chaddr` tell
//! ours apart. A kernel with strict reverse-path filtering
//! (`net.ipv4.conf.all.rp_filter=1`, not the kernel's default) drops
//! replies from a server it has no route back to.
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::{
    bind, ipproto, recvfrom, sendto, socket_with, sockopt, AddressFamily, RecvFlags, SendFlags,
    SocketAddrAny, SocketFlags, SocketType,
};

use crate::dhcp::{self, DhcpOption, Message, MessageType, CLIENT_PORT, SERVER_PORT};
use crate::lease::{Lease, LeaseError};
use crate::mac::Mac;
use crate::rtnl::{Route, RouteOp, Rtnl};

/// The largest datagram we read: an Ethernet MTU's worth, with room.
const MAX_PACKET: usize = 2048;

/// Where the client's datagrams go and replies come from.
pub trait Transport {
    /// Broadcasts one message to the servers (`255.255.255.255:67`).
    fn send(&mut self, packet: &[u8]) -> io::Result<()>;
    /// Waits for one datagram until `deadline`; `Ok(None)` when it passes.
    fn recv(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<Option<usize>>;
    /// The clock the deadlines are on.
    fn now(&self) -> Instant;
}

/// Timing and what to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The overall deadline.
    pub timeout: Duration,
    /// The first retransmission interval; it doubles up to `max_retry`.
    pub first_retry: Duration,
    pub max_retry: Duration,
    /// REQUESTs without an answer before starting over.
    pub request_tries: u32,
    /// Suggested to the server (option 12), e.g. from `ip=`.
    pub hostname: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(16),
            request_tries: 4,
            hostname: None,
        }
    }
}

/// Why no lease came. Each is one line naming the interface and what to do.
#[derive(Debug)]
pub enum DhcpError {
    /// Not one usable reply.
    NoAnswer { iface: String, mac: Mac, secs: u64 },
    /// An offer, but the REQUEST for it was never answered.
    NoAck {
        iface: String,
        mac: Mac,
        secs: u64,
        server: Ipv4Addr,
        address: Ipv4Addr,
    },
    /// The last answer was a DHCPNAK ([`LeaseError::Nak`]).
    Refused {
        iface: String,
        mac: Mac,
        secs: u64,
        nak: LeaseError,
    },
    /// The socket failed.
    Io {
        iface: String,
        what: &'static str,
        error: io::Error,
    },
}

impl fmt::Display for DhcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoAnswer { iface, mac, secs } => write!(
                f,
                "no DHCP answer on {iface} ({mac}) after {secs} s: check the cable/switch and \
                 that a DHCP server serves this network, or use a static ip="
            ),
            Self::NoAck {
                iface,
                mac,
                secs,
                server,
                address,
            } => write!(
                f,
                "DHCP on {iface} ({mac}): server {server} offered {address} but did not \
                 acknowledge the request within {secs} s: check the server's log, or use a \
                 static ip="
            ),
            Self::Refused {
                iface,
                mac,
                secs,
                nak,
            } => write!(
                f,
                "DHCP on {iface} ({mac}): {nak}, and no other server acknowledged within \
                 {secs} s: check the server's configuration for this MAC, or use a static ip="
            ),
            Self::Io { iface, what, error } => write!(f, "DHCP on {iface}: {what}: {error}"),
        }
    }
}

impl std::error::Error for DhcpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// What the last cycle ended with, for the error at the deadline.
enum Seen {
    Nothing,
    Offer(Lease),
    Nak(LeaseError),
}

/// The DHCP state machine; see the module doc.
pub struct Client<T> {
    transport: T,
    iface: String,
    mac: Mac,
    opts: Options,
    rng: u64,
    start: Instant,
}

impl<T: Transport> Client<T> {
    /// `seed` drives the `xid`s and the jitter; [`random_seed`] in real use.
    pub fn new(transport: T, iface: &str, mac: Mac, opts: Options, seed: u64) -> Self {
        let start = transport.now();
        Self {
            transport,
            iface: iface.to_owned(),
            mac,
            opts,
            rng: seed,
            start,
        }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// splitmix64.
    fn next_u32(&mut self) -> u32 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as u32
    }

    /// The wait after send number `n` (0-based): doubling, capped, plus up
    /// to 1/8 at random.
    fn retry_delay(&mut self, n: u32) -> Duration {
        let base = self
            .opts
            .first_retry
            .saturating_mul(1 << n.min(16))
            .min(self.opts.max_retry);
        let eighth = base.as_millis() as u64 / 8;
        let jitter = if eighth == 0 {
            0
        } else {
            u64::from(self.next_u32()) % eighth
        };
        base + Duration::from_millis(jitter)
    }

    /// Runs the exchange until a lease or the deadline.
    pub fn run(&mut self) -> Result<Lease, DhcpError> {
        self.start = self.transport.now();
        let deadline = self.start + self.opts.timeout;
        let mut seen = Seen::Nothing;
        loop {
            let xid = self.next_u32();
            let mut discover = dhcp::discover(self.mac, xid);
            if let Some(name) = &self.opts.hostname {
                discover.options.push(DhcpOption::HostName(name.clone()));
            }
            // accept_offer never gives an Err: None or a lease.
            let accept = &mut |m: &Message| accept_offer(m).map(Ok);
            let Some(Ok(offer)) = self.exchange(discover, xid, deadline, u32::MAX, accept)? else {
                return Err(self.give_up(seen));
            };
            log::debug!(
                "DHCP on {}: {} offers {}/{}",
                self.iface,
                offer.server,
                offer.address,
                offer.prefix
            );
            let request = dhcp::request(self.mac, xid, offer.address, offer.server);
            let tries = self.opts.request_tries.max(1);
            match self.exchange(request, xid, deadline, tries, &mut |m| {
                accept_ack(m, &offer)
            })? {
                Some(Ok(lease)) => return Ok(lease),
                Some(Err(nak)) => {
                    log::warn!("DHCP on {}: {nak}; starting over", self.iface);
                    seen = Seen::Nak(nak);
                }
                // A NAK says more than a REQUEST cut short by the deadline.
                None if matches!(seen, Seen::Nak(_)) => {}
                None => seen = Seen::Offer(offer),
            }
            if self.transport.now() >= deadline {
                return Err(self.give_up(seen));
            }
        }
    }

    /// Sends `msg` up to `tries` times with backoff, until `accept` takes
    /// a reply to `xid` or the deadline passes. Not generic (one result
    /// type, a `dyn` acceptor): one copy of the loop for both exchanges.
    fn exchange(
        &mut self,
        mut msg: Message,
        xid: u32,
        deadline: Instant,
        tries: u32,
        accept: &mut dyn FnMut(&Message) -> Option<Result<Lease, LeaseError>>,
    ) -> Result<Option<Result<Lease, LeaseError>>, DhcpError> {
        let mut buf = vec![0; MAX_PACKET];
        for n in 0..tries {
            let now = self.transport.now();
            if now >= deadline {
                break;
            }
            let secs = now.saturating_duration_since(self.start).as_secs();
            msg.secs = secs.min(u64::from(u16::MAX)) as u16;
            self.transport
                .send(&msg.encode())
                .map_err(|e| self.io("sending to 255.255.255.255:67", e))?;
            let until = (now + self.retry_delay(n)).min(deadline);
            while let Some(len) = self
                .transport
                .recv(&mut buf, until)
                .map_err(|e| self.io("receiving on port 68", e))?
            {
                let Ok(reply) = Message::decode(&buf[..len.min(buf.len())]) else {
                    continue;
                };
                if reply.is_reply_to(xid, self.mac) {
                    if let Some(r) = accept(&reply) {
                        return Ok(Some(r));
                    }
                }
            }
        }
        Ok(None)
    }

    fn io(&self, what: &'static str, error: io::Error) -> DhcpError {
        DhcpError::Io {
            iface: self.iface.clone(),
            what,
            error,
        }
    }

    fn give_up(&self, seen: Seen) -> DhcpError {
        let (iface, mac, secs) = (self.iface.clone(), self.mac, self.opts.timeout.as_secs());
        match seen {
            Seen::Nothing => DhcpError::NoAnswer { iface, mac, secs },
            Seen::Offer(offer) => DhcpError::NoAck {
                iface,
                mac,
                secs,
                server: offer.server,
                address: offer.address,
            },
            Seen::Nak(nak) => DhcpError::Refused {
                iface,
                mac,
                secs,
                nak,
            },
        }
    }
}

fn accept_offer(msg: &Message) -> Option<Lease> {
    if msg.message_type() != Some(MessageType::Offer) {
        return None;
    }
    Lease::from_reply(msg)
        .map_err(|e| log::debug!("DHCP: offer skipped: {e}"))
        .ok()
}

/// An ACK or NAK from the server we asked.
fn accept_ack(msg: &Message, offer: &Lease) -> Option<Result<Lease, LeaseError>> {
    match msg.message_type()? {
        MessageType::Ack => match Lease::from_reply(msg) {
            Ok(lease) if lease.server == offer.server => Some(Ok(lease)),
            Ok(_) => None,
            Err(e) => {
                log::debug!("DHCP: ack skipped: {e}");
                None
            }
        },
        MessageType::Nak => match Lease::from_reply(msg) {
            Err(nak @ LeaseError::Nak { server, .. }) if !matches!(server, Some(s) if s != offer.server) => {
                Some(Err(nak))
            }
            _ => None,
        },
        _ => None,
    }
}

/// A seed for [`Client::new`] from the kernel's randomness, the MAC and the
/// time, so two clones of one VM pick different `xid`s; the client's
/// splitmix64 mixes the bits.
pub fn random_seed(mac: Mac) -> u64 {
    let mut mac_bits = [0u8; 8];
    mac_bits[..6].copy_from_slice(&mac.0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.as_nanos() as u64);
    kernel_random() ^ u64::from_ne_bytes(mac_bits).rotate_left(17) ^ nanos
}

/// 64 bits from getrandom(2) (also the DNS query ids); zero if the kernel
/// gives none. Directly, not through std's `RandomState` (SipHash and its
/// key setup, the last in dist/init).
pub fn kernel_random() -> u64 {
    use rustix::rand::{getrandom, GetRandomFlags};
    let mut random = [0u8; 8];
    // GRND_INSECURE (Linux 5.6) never blocks, even before the pool is
    // ready; an older kernel refuses it, and NONBLOCK then gives what it
    // has. Neither may fail the boot.
    if getrandom(&mut random, GetRandomFlags::INSECURE).is_err() {
        let _ = getrandom(&mut random, GetRandomFlags::NONBLOCK);
    }
    u64::from_ne_bytes(random)
}

/// The real socket; see the module doc.
pub struct UdpTransport {
    fd: OwnedFd,
    rtnl: Rtnl,
    route: Route,
}

impl UdpTransport {
    /// Opens the socket and adds the broadcast route through link `index`.
    pub fn open(index: u32) -> Result<Self, (&'static str, io::Error)> {
        let fd = socket_with(
            AddressFamily::INET,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            Some(ipproto::UDP),
        )
        .map_err(|e| ("opening a UDP socket", e.into()))?;
        let bind_err = |e: Errno| ("binding 0.0.0.0:68", io::Error::from(e));
        sockopt::set_socket_reuseaddr(&fd, true).map_err(bind_err)?;
        sockopt::set_socket_broadcast(&fd, true).map_err(bind_err)?;
        bind(&fd, &SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, CLIENT_PORT)).map_err(bind_err)?;
        let route = Route {
            dst: Ipv4Addr::BROADCAST.into(),
            prefix: 32,
            gateway: None,
            index,
            onlink: false,
        };
        let route_err = |e| ("adding the route 255.255.255.255/32 for the broadcast", e);
        let mut rtnl = Rtnl::open().map_err(route_err)?;
        rtnl.route(RouteOp::Replace, &route).map_err(route_err)?;
        Ok(Self { fd, rtnl, route })
    }
}

impl Drop for UdpTransport {
    fn drop(&mut self) {
        if let Err(e) = self.rtnl.route(RouteOp::Delete, &self.route) {
            log::warn!("DHCP: removing the route 255.255.255.255/32 again: {e}");
        }
    }
}

impl Transport for UdpTransport {
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        let to = SocketAddrV4::new(Ipv4Addr::BROADCAST, SERVER_PORT);
        sendto(&self.fd, packet, SendFlags::empty(), &to)?;
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<Option<usize>> {
        loop {
            match recvfrom(&self.fd, &mut *buf, RecvFlags::DONTWAIT) {
                Ok((n, _, from)) => {
                    // Servers and relays send from port 67.
                    if from_server_port(from) {
                        return Ok(Some(n));
                    }
                    continue;
                }
                Err(Errno::AGAIN | Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            crate::wait::readable(self.fd.as_fd(), deadline)?;
        }
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

fn from_server_port(from: Option<SocketAddrAny>) -> bool {
    from.and_then(|a| SocketAddrV4::try_from(a).ok())
        .is_some_and(|a| a.port() == SERVER_PORT)
}

/// Gets a lease on link `index` (named `iface`, for messages) over UDP.
pub fn obtain(iface: &str, index: u32, mac: Mac, opts: Options) -> Result<Lease, DhcpError> {
    let transport = UdpTransport::open(index).map_err(|(what, error)| DhcpError::Io {
        iface: iface.to_owned(),
        what,
        error,
    })?;
    Client::new(transport, iface, mac, opts, random_seed(mac)).run()
}

#[cfg(test)]
mod tests;
