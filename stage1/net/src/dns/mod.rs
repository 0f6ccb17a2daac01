//! A stub resolver for the one name stage-1 looks up: the host of
//! `root=http://NAME/…`. `A` records (and `AAAA` when the machine has a
//! global IPv6 address) over UDP from the `nameserver`s in
//! `/etc/resolv.conf` (which the network setup writes from `ip=`, the DHCP
//! lease or the carried-over network), with its `search` domains for a name
//! without a dot, as libc resolvers do with their default `ndots:1`.
//!
//! Why not getaddrinfo(3): musl's resolver, `/etc/hosts` and service
//! parsing are about 12 KiB of `dist/init`.
//!
//! The message format is RFC 1035's: a 12-byte header (id, flags with RD
//! set, one question), the question (the name as length-prefixed labels,
//! the type, class IN = 1); in the answer, names may be compressed (a
//! two-byte pointer, top bits `11`).
//!
//! What an off-path attacker must guess to have an answer accepted: the
//! query id (16 bits from getrandom(2)) and the source port (the kernel's
//! random ephemeral port), and send from the server's address and port (the
//! socket is connected, so the kernel drops datagrams from anyone else).
//! An answer must also echo the question (name, type and class; the name
//! compared case-insensitively), or it is ignored with one warning (`DNS:
//! ignored an answer from SERVER to another query id`, `… question`) while
//! the real answer is waited for. Within an answer only
//! records on the chain from the asked name count: `CNAME`s are followed
//! from it at most [`MAX_ALIASES`] times (across re-queries as well), and
//! the addresses are those of the chain's last name. Truncated answers
//! (TC) are refused: stage-1 has no TCP fallback.
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

pub const TYPE_A: u16 = 1;
pub const TYPE_AAAA: u16 = 28;
const TYPE_CNAME: u16 = 5;
const CLASS_IN: u16 = 1;
/// Flags of a query: RD (recursion desired).
const FLAGS_RD: u16 = 0x0100;
/// Flags of an answer: QR (this is a response).
const FLAG_QR: u16 = 0x8000;
/// Flags of an answer: TC (truncated to fit in UDP).
const FLAG_TC: u16 = 0x0200;
/// `CNAME`s followed for one lookup, as glibc's resolver bounds them.
pub const MAX_ALIASES: usize = 8;
/// Compression pointers followed within one name: a name of at most 255
/// bytes has at most 127 labels, and a loop is cut off here.
const MAX_POINTERS: usize = 127;

/// Why a name has no address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsError {
    /// Not a name a DNS query can carry (an empty label, one over 63
    /// bytes, over 253 in all, or bytes outside letters, digits, `-`, `_`).
    BadName,
    /// `/etc/resolv.conf` names no server.
    NoServer,
    /// The server says the name does not exist (NXDOMAIN).
    NoSuchName,
    /// The server answered with an error code (RCODE).
    Refused(u8),
    /// The answer carries no address.
    NoAddress,
    /// An answer that breaks the format (cut short, a compression loop).
    Malformed,
    /// The answer was truncated (TC): it did not fit in UDP.
    Truncated,
    /// More than [`MAX_ALIASES`] `CNAME`s in a row.
    TooManyAliases,
    /// No answer within the time allowed.
    Timeout,
    /// The socket failed.
    Io(String),
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::BadName => f.write_str("not a valid host name"),
            DnsError::NoServer => f.write_str("no nameserver in /etc/resolv.conf"),
            DnsError::NoSuchName => f.write_str("no such name (NXDOMAIN)"),
            DnsError::Refused(code) => write!(f, "the nameserver answered with error code {code}"),
            DnsError::NoAddress => f.write_str("the name has no address"),
            DnsError::Malformed => f.write_str("malformed answer from the nameserver"),
            DnsError::Truncated => f.write_str("the answer was truncated (no TCP fallback)"),
            DnsError::TooManyAliases => write!(f, "more than {MAX_ALIASES} CNAMEs in a row"),
            DnsError::Timeout => f.write_str("no answer"),
            DnsError::Io(e) => write!(f, "nameserver socket: {e}"),
        }
    }
}

/// A failed [`resolve`]: the last error and the servers asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveError {
    pub error: DnsError,
    pub asked: Vec<SocketAddr>,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)?;
        for (i, server) in self.asked.iter().enumerate() {
            f.write_str(if i == 0 { " (asked " } else { ", " })?;
            write!(f, "{server}")?;
        }
        if self.asked.is_empty() {
            Ok(())
        } else {
            f.write_str(")")
        }
    }
}

/// `nameserver` and `search` lines of a `resolv.conf`, and how to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvConf {
    pub nameservers: Vec<IpAddr>,
    pub search: Vec<String>,
    /// The servers' UDP port (53; tests point it elsewhere).
    pub port: u16,
    /// Whether to ask for `AAAA` records as well ([`ipv6_configured`]).
    pub ipv6: bool,
}

impl Default for ResolvConf {
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            search: Vec::new(),
            port: 53,
            ipv6: false,
        }
    }
}

impl ResolvConf {
    /// Unknown lines, comments and unparsable addresses are skipped, as
    /// libc resolvers do; the last `search` (or `domain`) line wins.
    pub fn parse(text: &str) -> ResolvConf {
        let mut conf = ResolvConf::default();
        for line in text.lines() {
            let mut words = line.split_ascii_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(ip) = words.next().and_then(|w| w.parse().ok()) {
                        conf.nameservers.push(ip);
                    }
                }
                Some("search" | "domain") => conf.search = words.map(str::to_owned).collect(),
                _ => {}
            }
        }
        conf
    }

    /// The names to ask for, in order: with each search domain first when
    /// `host` has no dot, then `host` itself.
    pub fn candidates(&self, host: &str) -> Vec<String> {
        let host = host.strip_suffix('.').unwrap_or(host);
        let mut names = Vec::new();
        if !host.contains('.') {
            names.extend(self.search.iter().map(|d| format!("{host}.{d}")));
        }
        names.push(host.to_owned());
        names
    }
}

/// Whether `/proc/net/if_inet6` text lists an address of global scope
/// (the fourth field, `00`): only then are `AAAA` answers of use.
pub fn has_global_ipv6(if_inet6: &str) -> bool {
    if_inet6
        .lines()
        .any(|line| line.split_ascii_whitespace().nth(3) == Some("00"))
}

/// Whether this machine has a global IPv6 address now.
pub fn ipv6_configured() -> bool {
    std::fs::read_to_string("/proc/net/if_inet6").is_ok_and(|t| has_global_ipv6(&t))
}

/// `name` as the labels of a query, lowercased (the form names are
/// compared in), with the root label at the end.
pub fn wire_name(name: &str) -> Result<Vec<u8>, DnsError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return Err(DnsError::BadName);
    }
    let mut wire = Vec::with_capacity(name.len() + 2);
    for label in name.split('.') {
        let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if label.is_empty() || label.len() > 63 || !label.bytes().all(ok) {
            return Err(DnsError::BadName);
        }
        wire.push(label.len() as u8);
        wire.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
    }
    wire.push(0);
    Ok(wire)
}

/// A query for the `qtype` records of `name` (from [`wire_name`]).
pub fn encode_query(id: u16, name: &[u8], qtype: u16) -> Vec<u8> {
    let mut msg = Vec::with_capacity(16 + name.len());
    for word in [id, FLAGS_RD, 1, 0, 0, 0] {
        msg.extend_from_slice(&word.to_be_bytes());
    }
    msg.extend_from_slice(name);
    msg.extend_from_slice(&qtype.to_be_bytes());
    msg.extend_from_slice(&CLASS_IN.to_be_bytes());
    msg
}

/// What an answer says about the asked name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Its addresses (at the end of any `CNAME` chain).
    Addresses(Vec<IpAddr>),
    /// It is an alias of this name (in wire form), whose addresses the
    /// answer does not carry: ask for them.
    Alias(Vec<u8>),
}

fn word(msg: &[u8], at: usize) -> Result<u16, DnsError> {
    msg.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or(DnsError::Malformed)
}

/// What an answer to the query (`id`, `name` in wire form, `qtype`) says,
/// or `None` when it is not an answer to that query (another id, not a
/// response, another question), to be ignored while waiting for the real
/// one.
pub fn parse_answer(
    id: u16,
    name: &[u8],
    qtype: u16,
    msg: &[u8],
) -> Option<Result<Answer, DnsError>> {
    if word(msg, 0).ok()? != id || word(msg, 2).ok()? & FLAG_QR == 0 || word(msg, 4).ok()? != 1 {
        return None;
    }
    let (qname, at) = read_name(msg, 12).ok()?;
    if qname != name || word(msg, at).ok()? != qtype || word(msg, at + 2).ok()? != CLASS_IN {
        return None;
    }
    Some(parse_records(msg, name, qtype, at + 4))
}

/// The records after the question (at `start`), followed from `name`.
fn parse_records(msg: &[u8], name: &[u8], qtype: u16, start: usize) -> Result<Answer, DnsError> {
    let flags = word(msg, 2)?;
    match (flags & 0xf) as u8 {
        0 => {}
        3 => return Err(DnsError::NoSuchName),
        code => return Err(DnsError::Refused(code)),
    }
    if flags & FLAG_TC != 0 {
        return Err(DnsError::Truncated);
    }
    let count = word(msg, 6)?;
    let mut target = name.to_vec();
    // One walk over the records per name on the chain: they are few, and
    // nothing is kept between walks.
    for _ in 0..=MAX_ALIASES {
        let mut addrs = Vec::new();
        let mut alias = None;
        let mut at = start;
        for _ in 0..count {
            let (owner, next) = read_name(msg, at)?;
            let (rtype, class) = (word(msg, next)?, word(msg, next + 2)?);
            at = next + 10 + usize::from(word(msg, next + 8)?);
            let data = msg.get(next + 10..at).ok_or(DnsError::Malformed)?;
            if owner != target || class != CLASS_IN {
                continue;
            }
            if rtype == TYPE_CNAME {
                alias = Some(read_name(msg, next + 10)?.0);
            } else if rtype == qtype {
                if let (TYPE_A, Ok(four)) = (qtype, <[u8; 4]>::try_from(data)) {
                    addrs.push(IpAddr::from(four));
                } else if let (TYPE_AAAA, Ok(six)) = (qtype, <[u8; 16]>::try_from(data)) {
                    addrs.push(IpAddr::from(six));
                }
            }
        }
        match alias {
            _ if !addrs.is_empty() => return Ok(Answer::Addresses(addrs)),
            Some(next) => target = next,
            None if target == name => return Err(DnsError::NoAddress),
            None => return Ok(Answer::Alias(target)),
        }
    }
    Err(DnsError::TooManyAliases)
}

/// The name at `at`, lowercased in wire form, and the offset just past it
/// where it stands (after a compression pointer, the pointer's end).
/// Pointers are followed at most [`MAX_POINTERS`] times and the name may
/// take at most 255 bytes, so a loop ends as [`DnsError::Malformed`].
fn read_name(msg: &[u8], mut at: usize) -> Result<(Vec<u8>, usize), DnsError> {
    let mut name = Vec::new();
    let mut end = None;
    let mut pointers = 0;
    loop {
        let len = *msg.get(at).ok_or(DnsError::Malformed)?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                name.push(0);
                return Ok((name, end.unwrap_or(at + 1)));
            }
            0x00 => {
                let label = msg
                    .get(at + 1..at + 1 + usize::from(len))
                    .ok_or(DnsError::Malformed)?;
                if name.len() + label.len() + 2 > 255 {
                    return Err(DnsError::Malformed);
                }
                name.push(len);
                name.extend(label.iter().map(u8::to_ascii_lowercase));
                at += 1 + usize::from(len);
            }
            0xc0 if pointers < MAX_POINTERS => {
                pointers += 1;
                let to = usize::from(word(msg, at)? & 0x3fff);
                end.get_or_insert(at + 2);
                at = to;
            }
            _ => return Err(DnsError::Malformed),
        }
    }
}

/// Asks `server` for the `qtype` records of `name` (wire form), `tries`
/// times with `timeout` each.
pub fn query(
    server: SocketAddr,
    name: &[u8],
    qtype: u16,
    timeout: Duration,
    tries: u32,
) -> Result<Answer, DnsError> {
    let io = |e: std::io::Error| DnsError::Io(e.to_string());
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).map_err(io)?;
    // Connected: the kernel drops datagrams from any other address or port.
    socket.connect(server).map_err(io)?;
    let id = crate::dhcp_client::kernel_random() as u16;
    let question = encode_query(id, name, qtype);
    let mut buf = [0u8; 1500];
    for _ in 0..tries.max(1) {
        socket.send(&question).map_err(io)?;
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            socket.set_read_timeout(Some(left)).map_err(io)?;
            match socket.recv(&mut buf) {
                Ok(n) => match parse_answer(id, name, qtype, &buf[..n]) {
                    Some(answer) => return answer,
                    // Another id is what an off-path guesser sends; the
                    // right id with another question, a confused or
                    // on-path one. One line each: the real answer may
                    // still come.
                    None => log::warn!(
                        "DNS: ignored an answer from {server} to another {}",
                        if buf[..n].starts_with(&id.to_be_bytes()) {
                            "question"
                        } else {
                            "query id"
                        }
                    ),
                },
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                // ICMP port unreachable: nobody listens there.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return Err(DnsError::Timeout)
                }
                Err(e) => return Err(io(e)),
            }
        }
    }
    Err(DnsError::Timeout)
}

/// The `qtype` addresses of `name` from `server`, re-asking for the target
/// of a `CNAME` whose addresses the answer left out.
fn lookup(server: SocketAddr, name: &str, qtype: u16) -> Result<Vec<IpAddr>, DnsError> {
    let mut wire = wire_name(name)?;
    for _ in 0..=MAX_ALIASES {
        match query(server, &wire, qtype, Duration::from_secs(2), 2)? {
            Answer::Addresses(addrs) => return Ok(addrs),
            // Asked for as it came: read_name bounds it to 255 bytes.
            Answer::Alias(target) => wire = target,
        }
    }
    Err(DnsError::TooManyAliases)
}

/// The addresses of `host`: an IP literal as it is, `localhost` as
/// 127.0.0.1, else asked of each nameserver in `conf` (2 tries of 2 s) for
/// each candidate name, until one has an address: its IPv4 addresses, then
/// (with [`ResolvConf::ipv6`]) its IPv6 ones.
// Not inlined into the fetch: measured 640 bytes smaller.
#[inline(never)]
pub fn resolve(host: &str, conf: &ResolvConf) -> Result<Vec<IpAddr>, ResolveError> {
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    }
    let asked: Vec<SocketAddr> = conf
        .nameservers
        .iter()
        .map(|&ip| SocketAddr::new(ip, conf.port))
        .collect();
    let mut error = DnsError::NoServer;
    let types: &[u16] = if conf.ipv6 {
        &[TYPE_A, TYPE_AAAA]
    } else {
        &[TYPE_A]
    };
    for name in conf.candidates(host) {
        for &server in &asked {
            let mut addrs = Vec::new();
            for &qtype in types {
                match lookup(server, &name, qtype) {
                    Ok(found) => addrs.extend(found),
                    Err(e) => {
                        // A silent server or a name that does not exist
                        // has no other type to offer; the next candidate
                        // name or server may.
                        let next = matches!(
                            e,
                            DnsError::Timeout | DnsError::Io(_) | DnsError::NoSuchName
                        );
                        error = e;
                        if next {
                            break;
                        }
                    }
                }
            }
            if !addrs.is_empty() {
                return Ok(addrs);
            }
        }
    }
    Err(ResolveError { error, asked })
}

#[cfg(test)]
mod tests;
