//! DHCPv4 messages (RFC 2131) and their options (RFC 2132): encode,
//! decode, and the two messages a client sends ([`discover`], [`request`]).
//! The lease in a reply is read by [`crate::lease`].
//!
//! Pure: no sockets. [`Message::decode`] takes any bytes from the network
//! and never panics.
//!
//! # Wire format
//!
//! A 236-byte BOOTP header (`op` … `file`), the magic cookie `63 82 53 63`,
//! then options as `code, length, data` up to `end` (255); `pad` (0) bytes
//! are skipped. Decoding follows RFC 3396: all instances of one option code
//! are concatenated (in order of first appearance) before they are read, and
//! encoding splits data longer than 255 bytes into several instances. A
//! missing `end` is tolerated. Encoding pads the message with zeros to the
//! 300-byte BOOTP minimum that some relays and servers insist on.
//!
//! Not done: option overload (52) is kept as a raw option and `sname`/`file`
//! are not searched for options. Servers overload only when the options do
//! not fit the size the client allows, and we allow 1472 bytes (option 57).

use std::fmt;
use std::net::Ipv4Addr;

use crate::mac::Mac;

/// The server's UDP port.
pub const SERVER_PORT: u16 = 67;
/// The client's UDP port.
pub const CLIENT_PORT: u16 = 68;
/// Between the header and the options (RFC 2131 §3).
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// `flags`: ask the server to broadcast its reply (we have no address yet).
pub const FLAG_BROADCAST: u16 = 0x8000;
/// `htype` of Ethernet (ARP hardware type 1).
pub const HTYPE_ETHERNET: u8 = 1;
/// Our option 57: an Ethernet MTU of 1500 less the IPv4 and UDP headers.
pub const MAX_MESSAGE_SIZE: u16 = 1500 - 20 - 8;
/// What we ask for in option 55: mask, routers, DNS, hostname, domain,
/// lease time, server identifier.
pub const REQUESTED_PARAMS: [u8; 7] = [1, 3, 6, 12, 15, 51, 54];
/// The smallest BOOTP message (RFC 1542 §2.1); encoding pads to it.
pub const MIN_LEN: usize = 300;
const HEADER_LEN: usize = 236;

/// BOOTP `op`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `BOOTREQUEST` (1), client to server.
    Request = 1,
    /// `BOOTREPLY` (2), server to client.
    Reply = 2,
}

/// Option 53, the DHCP message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Discover = 1,
    Offer = 2,
    Request = 3,
    Decline = 4,
    Ack = 5,
    Nak = 6,
    Release = 7,
    Inform = 8,
}

impl MessageType {
    const ALL: [Self; 8] = [
        Self::Discover,
        Self::Offer,
        Self::Request,
        Self::Decline,
        Self::Ack,
        Self::Nak,
        Self::Release,
        Self::Inform,
    ];

    fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|t| *t as u8 == v)
    }
}

/// Option codes (RFC 2132).
pub mod code {
    pub const PAD: u8 = 0;
    pub const SUBNET_MASK: u8 = 1;
    pub const ROUTERS: u8 = 3;
    pub const DNS_SERVERS: u8 = 6;
    pub const HOST_NAME: u8 = 12;
    pub const DOMAIN_NAME: u8 = 15;
    pub const REQUESTED_IP: u8 = 50;
    pub const LEASE_TIME: u8 = 51;
    pub const OVERLOAD: u8 = 52;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const SERVER_ID: u8 = 54;
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    pub const MESSAGE: u8 = 56;
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    pub const CLIENT_ID: u8 = 61;
    pub const END: u8 = 255;
}

/// One option. `pad` and `end` are framing, not options.
///
/// Decoding gives a typed variant only when the data has the form RFC 2132
/// gives it (a 4-byte mask, a non-empty list of addresses, UTF-8 text of
/// at least one byte, a known message type, …); anything else, and every
/// code not listed here, stays [`DhcpOption::Raw`]. Encoding writes any
/// value as it is, except that a `Raw` with code 0 or 255 is left out (it
/// could not be framed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhcpOption {
    SubnetMask(Ipv4Addr),
    Routers(Vec<Ipv4Addr>),
    DnsServers(Vec<Ipv4Addr>),
    HostName(String),
    DomainName(String),
    RequestedIp(Ipv4Addr),
    /// Seconds; `u32::MAX` is infinite.
    LeaseTime(u32),
    MessageType(MessageType),
    ServerId(Ipv4Addr),
    ParameterRequestList(Vec<u8>),
    MaxMessageSize(u16),
    /// Usually type 1 (Ethernet) and the MAC (RFC 2132 §9.14).
    ClientId(Vec<u8>),
    Raw {
        code: u8,
        data: Vec<u8>,
    },
}

impl DhcpOption {
    /// The option code.
    pub fn code(&self) -> u8 {
        match self {
            Self::SubnetMask(_) => code::SUBNET_MASK,
            Self::Routers(_) => code::ROUTERS,
            Self::DnsServers(_) => code::DNS_SERVERS,
            Self::HostName(_) => code::HOST_NAME,
            Self::DomainName(_) => code::DOMAIN_NAME,
            Self::RequestedIp(_) => code::REQUESTED_IP,
            Self::LeaseTime(_) => code::LEASE_TIME,
            Self::MessageType(_) => code::MESSAGE_TYPE,
            Self::ServerId(_) => code::SERVER_ID,
            Self::ParameterRequestList(_) => code::PARAMETER_REQUEST_LIST,
            Self::MaxMessageSize(_) => code::MAX_MESSAGE_SIZE,
            Self::ClientId(_) => code::CLIENT_ID,
            Self::Raw { code, .. } => *code,
        }
    }

    /// The data bytes, without code and length.
    fn data(&self) -> Vec<u8> {
        let ips = |list: &[Ipv4Addr]| list.iter().flat_map(Ipv4Addr::octets).collect();
        match self {
            Self::SubnetMask(ip) | Self::RequestedIp(ip) | Self::ServerId(ip) => {
                ip.octets().to_vec()
            }
            Self::Routers(list) | Self::DnsServers(list) => ips(list),
            Self::HostName(s) | Self::DomainName(s) => s.as_bytes().to_vec(),
            Self::LeaseTime(secs) => secs.to_be_bytes().to_vec(),
            Self::MessageType(t) => vec![*t as u8],
            Self::MaxMessageSize(size) => size.to_be_bytes().to_vec(),
            Self::ParameterRequestList(bytes)
            | Self::ClientId(bytes)
            | Self::Raw { data: bytes, .. } => bytes.clone(),
        }
    }

    /// Reads the (concatenated) data of one code; see the type's doc.
    fn from_data(code: u8, data: Vec<u8>) -> Self {
        let ip = |d: &[u8]| <[u8; 4]>::try_from(d).ok().map(Ipv4Addr::from);
        let ips = |d: &[u8]| {
            let chunks = d.chunks_exact(4);
            (!d.is_empty() && chunks.remainder().is_empty())
                .then(|| chunks.filter_map(ip).collect::<Vec<_>>())
        };
        let text = |d: &[u8]| {
            (!d.is_empty())
                .then(|| std::str::from_utf8(d).ok().map(str::to_owned))
                .flatten()
        };
        let typed = match code {
            code::SUBNET_MASK => ip(&data).map(Self::SubnetMask),
            code::ROUTERS => ips(&data).map(Self::Routers),
            code::DNS_SERVERS => ips(&data).map(Self::DnsServers),
            code::HOST_NAME => text(&data).map(Self::HostName),
            code::DOMAIN_NAME => text(&data).map(Self::DomainName),
            code::REQUESTED_IP => ip(&data).map(Self::RequestedIp),
            code::LEASE_TIME => <[u8; 4]>::try_from(&data[..])
                .ok()
                .map(|b| Self::LeaseTime(u32::from_be_bytes(b))),
            code::MESSAGE_TYPE => match data[..] {
                [t] => MessageType::from_u8(t).map(Self::MessageType),
                _ => None,
            },
            code::SERVER_ID => ip(&data).map(Self::ServerId),
            code::PARAMETER_REQUEST_LIST if !data.is_empty() => {
                Some(Self::ParameterRequestList(data.clone()))
            }
            code::MAX_MESSAGE_SIZE => <[u8; 2]>::try_from(&data[..])
                .ok()
                .map(|b| Self::MaxMessageSize(u16::from_be_bytes(b))),
            code::CLIENT_ID if data.len() >= 2 => Some(Self::ClientId(data.clone())),
            _ => None,
        };
        typed.unwrap_or(Self::Raw { code, data })
    }
}

/// Why bytes are not a DHCP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than the header and the magic cookie (240 bytes).
    TooShort { len: usize },
    /// `op` is neither 1 nor 2.
    BadOp(u8),
    /// No magic cookie: plain BOOTP or not BOOTP at all.
    BadCookie([u8; 4]),
    /// The option's length runs past the end of the message.
    Truncated { code: u8, offset: usize },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { len } => write!(
                f,
                "DHCP message too short: {len} bytes, at least {} needed",
                HEADER_LEN + 4
            ),
            Self::BadOp(op) => write!(f, "not a BOOTP message: op {op}, expected 1 or 2"),
            Self::BadCookie(cookie) => write!(
                f,
                "not a DHCP message: magic cookie {cookie:02x?}, expected [63, 82, 53, 63]"
            ),
            Self::Truncated { code, offset } => {
                write!(
                    f,
                    "DHCP option {code} at byte {offset} runs past the end of the message"
                )
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// A DHCP message: the BOOTP header fields, then the options in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub op: Op,
    pub htype: u8,
    pub hlen: u8,
    pub hops: u8,
    pub xid: u32,
    pub secs: u16,
    pub flags: u16,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    /// The hardware address, `hlen` bytes of it used, zero-padded.
    pub chaddr: [u8; 16],
    /// Server host name, NUL-padded.
    pub sname: [u8; 64],
    /// Boot file name, NUL-padded.
    pub file: [u8; 128],
    pub options: Vec<DhcpOption>,
}

impl Message {
    /// An Ethernet message from `mac` with all addresses zero and no options.
    pub fn new(op: Op, xid: u32, mac: Mac) -> Self {
        let mut chaddr = [0; 16];
        chaddr[..6].copy_from_slice(&mac.0);
        Self {
            op,
            htype: HTYPE_ETHERNET,
            hlen: 6,
            hops: 0,
            xid,
            secs: 0,
            flags: 0,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            chaddr,
            sname: [0; 64],
            file: [0; 128],
            options: Vec::new(),
        }
    }

    /// The wire bytes, padded to [`MIN_LEN`].
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MIN_LEN);
        out.extend([self.op as u8, self.htype, self.hlen, self.hops]);
        out.extend(self.xid.to_be_bytes());
        out.extend(self.secs.to_be_bytes());
        out.extend(self.flags.to_be_bytes());
        for ip in [self.ciaddr, self.yiaddr, self.siaddr, self.giaddr] {
            out.extend(ip.octets());
        }
        out.extend(self.chaddr);
        out.extend(self.sname);
        out.extend(self.file);
        out.extend(MAGIC_COOKIE);
        for option in &self.options {
            let code = option.code();
            if code == code::PAD || code == code::END {
                continue;
            }
            let data = option.data();
            if data.is_empty() {
                out.extend([code, 0]);
            }
            for chunk in data.chunks(255) {
                out.extend([code, chunk.len() as u8]);
                out.extend(chunk);
            }
        }
        out.push(code::END);
        out.resize(out.len().max(MIN_LEN), 0);
        out
    }

    /// Reads a message; see the module doc for what is tolerated.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() < HEADER_LEN + 4 {
            return Err(DecodeError::TooShort { len: bytes.len() });
        }
        let op = match bytes[0] {
            1 => Op::Request,
            2 => Op::Reply,
            other => return Err(DecodeError::BadOp(other)),
        };
        let cookie: [u8; 4] = array(bytes, HEADER_LEN);
        if cookie != MAGIC_COOKIE {
            return Err(DecodeError::BadCookie(cookie));
        }
        let ip = |at: usize| Ipv4Addr::from(array::<4>(bytes, at));
        let options = decode_options(bytes, HEADER_LEN + 4)?
            .into_iter()
            .map(|(code, data)| DhcpOption::from_data(code, data))
            .collect();
        Ok(Self {
            op,
            htype: bytes[1],
            hlen: bytes[2],
            hops: bytes[3],
            xid: u32::from_be_bytes(array(bytes, 4)),
            secs: u16::from_be_bytes(array(bytes, 8)),
            flags: u16::from_be_bytes(array(bytes, 10)),
            ciaddr: ip(12),
            yiaddr: ip(16),
            siaddr: ip(20),
            giaddr: ip(24),
            chaddr: array(bytes, 28),
            sname: array(bytes, 44),
            file: array(bytes, 108),
            options,
        })
    }

    /// The first option with this code.
    pub fn option(&self, code: u8) -> Option<&DhcpOption> {
        self.options.iter().find(|o| o.code() == code)
    }

    /// Option 53.
    pub fn message_type(&self) -> Option<MessageType> {
        match self.option(code::MESSAGE_TYPE)? {
            DhcpOption::MessageType(t) => Some(*t),
            _ => None,
        }
    }

    /// `chaddr` as a MAC, for Ethernet messages.
    pub fn mac(&self) -> Option<Mac> {
        (self.htype == HTYPE_ETHERNET && self.hlen == 6).then(|| Mac(array(&self.chaddr, 0)))
    }

    /// Whether this is a server's reply to our message `xid` from `mac`.
    pub fn is_reply_to(&self, xid: u32, mac: Mac) -> bool {
        self.op == Op::Reply && self.xid == xid && self.mac() == Some(mac)
    }
}

/// `N` bytes at `at`; the caller has checked the length.
fn array<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}

/// `(code, data)` per code, instances concatenated (RFC 3396).
fn decode_options(bytes: &[u8], start: usize) -> Result<Vec<(u8, Vec<u8>)>, DecodeError> {
    let mut out: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut at = start;
    while let Some(&code) = bytes.get(at) {
        match code {
            code::PAD => at += 1,
            code::END => break,
            _ => {
                let truncated = DecodeError::Truncated { code, offset: at };
                let len = *bytes.get(at + 1).ok_or(truncated.clone())? as usize;
                let data = bytes.get(at + 2..at + 2 + len).ok_or(truncated)?;
                match out.iter_mut().find(|(c, _)| *c == code) {
                    Some((_, acc)) => acc.extend_from_slice(data),
                    None => out.push((code, data.to_vec())),
                }
                at += 2 + len;
            }
        }
    }
    Ok(out)
}

/// The options both our messages carry after the message type.
fn client_options(mac: Mac) -> [DhcpOption; 3] {
    let mut client_id = vec![HTYPE_ETHERNET];
    client_id.extend(mac.0);
    [
        DhcpOption::ClientId(client_id),
        DhcpOption::MaxMessageSize(MAX_MESSAGE_SIZE),
        DhcpOption::ParameterRequestList(REQUESTED_PARAMS.to_vec()),
    ]
}

/// A DHCPDISCOVER with the broadcast flag, client identifier, maximum size
/// and parameter request list. Add a `HostName` to suggest one.
pub fn discover(mac: Mac, xid: u32) -> Message {
    let mut msg = Message::new(Op::Request, xid, mac);
    msg.flags = FLAG_BROADCAST;
    msg.options
        .push(DhcpOption::MessageType(MessageType::Discover));
    msg.options.extend(client_options(mac));
    msg
}

/// A DHCPREQUEST in SELECTING state (RFC 2131 §4.3.2): `ciaddr` zero, the
/// offered address in option 50 and the chosen server in option 54. Use the
/// `xid` of the DISCOVER.
pub fn request(mac: Mac, xid: u32, requested: Ipv4Addr, server: Ipv4Addr) -> Message {
    let mut msg = Message::new(Op::Request, xid, mac);
    msg.flags = FLAG_BROADCAST;
    msg.options.extend([
        DhcpOption::MessageType(MessageType::Request),
        DhcpOption::RequestedIp(requested),
        DhcpOption::ServerId(server),
    ]);
    msg.options.extend(client_options(mac));
    msg
}

#[cfg(test)]
pub(super) mod tests;
