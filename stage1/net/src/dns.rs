//! A stub resolver for the one name stage-1 looks up: the host of
//! `root=http://NAME/…`. IPv4 `A` records over UDP from the `nameserver`s
//! in `/etc/resolv.conf` (which the network setup writes from `ip=` or the
//! DHCP lease), with its `search` domains for a name without a dot, as
//! libc resolvers do with their default `ndots:1`.
//!
//! Why not getaddrinfo(3): musl's resolver, `/etc/hosts` and service
//! parsing are about 12 KiB of `dist/init`, for a network stack that is
//! IPv4-only anyway (DHCPv4, the kernel's `ip=`).
//!
//! The message format is RFC 1035's: a 12-byte header (id, flags with RD
//! set, one question), the question (the name as length-prefixed labels,
//! type A = 1, class IN = 1); in the answer, names may be compressed
//! (a two-byte pointer, top bits `11`), and every answer record of type A
//! and class IN with four bytes of data is an address.
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

const TYPE_A: u16 = 1;
const CLASS_IN: u16 = 1;
/// Flags of a query: RD (recursion desired).
const FLAGS_RD: u16 = 0x0100;
/// Flags of an answer: QR (this is a response).
const FLAG_QR: u16 = 0x8000;
/// Flags of an answer: TC (truncated to fit in UDP).
const FLAG_TC: u16 = 0x0200;

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
    /// The answer carries no IPv4 address.
    NoAddress,
    /// An answer that breaks the format.
    Malformed,
    /// No answer within the time allowed, from any server.
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
            DnsError::NoAddress => f.write_str("the name has no IPv4 address"),
            DnsError::Malformed => f.write_str("malformed answer from the nameserver"),
            DnsError::Timeout => f.write_str("no answer from any nameserver"),
            DnsError::Io(e) => write!(f, "nameserver socket: {e}"),
        }
    }
}

/// `nameserver` and `search` lines of a `resolv.conf`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvConf {
    pub nameservers: Vec<IpAddr>,
    pub search: Vec<String>,
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

/// A query for the A records of `name`.
pub fn encode_query(id: u16, name: &str) -> Result<Vec<u8>, DnsError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return Err(DnsError::BadName);
    }
    let mut msg = Vec::with_capacity(18 + name.len());
    for word in [id, FLAGS_RD, 1, 0, 0, 0] {
        msg.extend_from_slice(&word.to_be_bytes());
    }
    for label in name.split('.') {
        let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if label.is_empty() || label.len() > 63 || !label.bytes().all(ok) {
            return Err(DnsError::BadName);
        }
        msg.push(label.len() as u8);
        msg.extend_from_slice(label.as_bytes());
    }
    msg.push(0);
    msg.extend_from_slice(&TYPE_A.to_be_bytes());
    msg.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(msg)
}

/// What an answer to query `id` says: the addresses, an error, or `None`
/// when it is not an answer to that query (another id, not a response), to
/// be ignored while waiting for the real one.
pub fn parse_answer(id: u16, msg: &[u8]) -> Option<Result<Vec<Ipv4Addr>, DnsError>> {
    let word = |at: usize| {
        msg.get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    if word(0)? != id || word(2)? & FLAG_QR == 0 {
        return None;
    }
    Some(parse_records(msg))
}

fn parse_records(msg: &[u8]) -> Result<Vec<Ipv4Addr>, DnsError> {
    let word = |at: usize| {
        msg.get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or(DnsError::Malformed)
    };
    let flags = word(2)?;
    match (flags & 0xf) as u8 {
        0 => {}
        3 => return Err(DnsError::NoSuchName),
        code => return Err(DnsError::Refused(code)),
    }
    if flags & FLAG_TC != 0 {
        // A truncated A answer still holds the records that fit; but one
        // cut mid-record is not worth parsing. Stage-1 has no TCP fallback.
        return Err(DnsError::Malformed);
    }
    let (questions, answers) = (word(4)?, word(6)?);
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(msg, at)? + 4;
    }
    let mut addrs = Vec::new();
    for _ in 0..answers {
        at = skip_name(msg, at)?;
        let (rtype, class) = (word(at)?, word(at + 2)?);
        let len = word(at + 8)? as usize;
        let data = msg.get(at + 10..at + 10 + len).ok_or(DnsError::Malformed)?;
        if rtype == TYPE_A && class == CLASS_IN && len == 4 {
            addrs.push(Ipv4Addr::new(data[0], data[1], data[2], data[3]));
        }
        at += 10 + len;
    }
    if addrs.is_empty() {
        return Err(DnsError::NoAddress);
    }
    Ok(addrs)
}

/// The offset just past the name at `at`: labels up to the root label, or
/// up to and including a compression pointer (which ends a name).
fn skip_name(msg: &[u8], mut at: usize) -> Result<usize, DnsError> {
    loop {
        let len = *msg.get(at).ok_or(DnsError::Malformed)?;
        match len & 0xc0 {
            0x00 if len == 0 => return Ok(at + 1),
            0x00 => at += 1 + len as usize,
            0xc0 if at + 1 < msg.len() => return Ok(at + 2),
            _ => return Err(DnsError::Malformed),
        }
    }
}

/// Asks `server` for `name`, `tries` times with `timeout` each.
pub fn query(
    server: SocketAddr,
    name: &str,
    timeout: Duration,
    tries: u32,
) -> Result<Vec<Ipv4Addr>, DnsError> {
    let io = |e: std::io::Error| DnsError::Io(e.to_string());
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).map_err(io)?;
    socket.connect(server).map_err(io)?;
    // Not secret, only distinct per query: the low bits of the clock.
    let id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0x5eed, |d| d.subsec_nanos() as u16);
    let question = encode_query(id, name)?;
    let mut buf = [0u8; 1500];
    for _ in 0..tries.max(1) {
        socket.send(&question).map_err(io)?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            socket.set_read_timeout(Some(left)).map_err(io)?;
            match socket.recv(&mut buf) {
                Ok(n) => {
                    if let Some(answer) = parse_answer(id, &buf[..n]) {
                        return answer;
                    }
                }
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

/// The addresses of `host`: an IP literal as it is, `localhost` as
/// 127.0.0.1, else asked of each nameserver in `conf` (2 tries of 2 s) for
/// each candidate name, until one has an address.
pub fn resolve(host: &str, conf: &ResolvConf) -> Result<Vec<IpAddr>, DnsError> {
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
    if conf.nameservers.is_empty() {
        return Err(DnsError::NoServer);
    }
    let mut last = DnsError::NoServer;
    for name in conf.candidates(host) {
        for &server in &conf.nameservers {
            match query((server, 53).into(), &name, Duration::from_secs(2), 2) {
                Ok(addrs) => return Ok(addrs.into_iter().map(IpAddr::V4).collect()),
                // The next candidate name may exist; keep the most telling
                // error for the message.
                Err(e) => last = e,
            }
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer as a server sends it: `query`'s header and question, then
    /// `answers` records whose name is a pointer to the question's name.
    fn answer(query: &[u8], rcode: u8, answers: &[(u16, &[u8])]) -> Vec<u8> {
        let mut msg = query.to_vec();
        msg[2] = 0x81;
        msg[3] = 0x80 | rcode;
        msg[6..8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
        for (rtype, data) in answers {
            msg.extend_from_slice(&[0xc0, 12]);
            msg.extend_from_slice(&rtype.to_be_bytes());
            msg.extend_from_slice(&CLASS_IN.to_be_bytes());
            msg.extend_from_slice(&300u32.to_be_bytes());
            msg.extend_from_slice(&(data.len() as u16).to_be_bytes());
            msg.extend_from_slice(data);
        }
        msg
    }

    #[test]
    fn query_is_rfc1035_bytes() {
        let q = encode_query(0x1234, "boot.lan.").unwrap();
        assert_eq!(
            q,
            [
                0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, //
                4, b'b', b'o', b'o', b't', 3, b'l', b'a', b'n', 0, 0, 1, 0, 1
            ]
        );
        for bad in [
            "",
            "a..b",
            ".a",
            "x y",
            &"a".repeat(64),
            &["abc"; 70].join("."),
        ] {
            assert_eq!(encode_query(1, bad), Err(DnsError::BadName), "{bad:?}");
        }
    }

    #[test]
    fn answer_gives_every_a_record_and_skips_the_rest() {
        let q = encode_query(7, "boot.lan").unwrap();
        // A CNAME first (type 5), as servers send for an alias.
        let cname: &[u8] = &[3, b'w', b'e', b'b', 0xc0, 12];
        let msg = answer(
            &q,
            0,
            &[(5, cname), (1, &[10, 0, 2, 100]), (1, &[10, 0, 2, 101])],
        );
        assert_eq!(
            parse_answer(7, &msg),
            Some(Ok(vec![
                Ipv4Addr::new(10, 0, 2, 100),
                Ipv4Addr::new(10, 0, 2, 101)
            ]))
        );
    }

    #[test]
    fn errors_and_foreign_packets() {
        let q = encode_query(9, "nope.lan").unwrap();
        assert_eq!(
            parse_answer(9, &answer(&q, 3, &[])),
            Some(Err(DnsError::NoSuchName))
        );
        assert_eq!(
            parse_answer(9, &answer(&q, 5, &[])),
            Some(Err(DnsError::Refused(5)))
        );
        assert_eq!(
            parse_answer(9, &answer(&q, 0, &[])),
            Some(Err(DnsError::NoAddress))
        );
        // AAAA only: no IPv4 address.
        let aaaa = answer(&q, 0, &[(28, &[0; 16])]);
        assert_eq!(parse_answer(9, &aaaa), Some(Err(DnsError::NoAddress)));
        // Another query's answer, and our own question echoed back: ignored.
        assert_eq!(
            parse_answer(10, &answer(&q, 0, &[(1, &[1, 2, 3, 4])])),
            None
        );
        assert_eq!(parse_answer(9, &q), None);
        assert_eq!(parse_answer(9, &[0, 9]), None);
        // Cut short anywhere: malformed, never a panic.
        let full = answer(&q, 0, &[(1, &[1, 2, 3, 4])]);
        for n in 4..full.len() {
            assert_eq!(
                parse_answer(9, &full[..n]),
                Some(Err(DnsError::Malformed)),
                "{n}"
            );
        }
    }

    #[test]
    fn resolv_conf_and_search_order() {
        let conf = ResolvConf::parse(
            "# written by init\nnameserver 10.0.2.3\nnameserver bogus\nnameserver fe80::1\n\
             options ndots:1\nsearch lan example.org\n",
        );
        assert_eq!(
            conf.nameservers,
            [
                "10.0.2.3".parse::<IpAddr>().unwrap(),
                "fe80::1".parse().unwrap()
            ]
        );
        assert_eq!(
            conf.candidates("boot"),
            ["boot.lan", "boot.example.org", "boot"]
        );
        assert_eq!(conf.candidates("boot.lan."), ["boot.lan"]);
        assert_eq!(
            resolve("10.0.2.100", &ResolvConf::default()),
            Ok(vec!["10.0.2.100".parse().unwrap()])
        );
        assert_eq!(
            resolve("[::1]", &ResolvConf::default()),
            Ok(vec!["::1".parse().unwrap()])
        );
        assert_eq!(
            resolve("boot.lan", &ResolvConf::default()),
            Err(DnsError::NoServer)
        );
    }

    /// `query` against a server on 127.0.0.1 that first sends a stray packet
    /// (another id), then the answer.
    #[test]
    fn query_over_loopback() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            let (n, peer) = server.recv_from(&mut buf).unwrap();
            let q = &buf[..n];
            let mut stray = answer(q, 0, &[(1, &[6, 6, 6, 6])]);
            stray[1] ^= 0xff;
            server.send_to(&stray, peer).unwrap();
            server
                .send_to(&answer(q, 0, &[(1, &[10, 0, 2, 100])]), peer)
                .unwrap();
        });
        let got = query(addr, "boot.lan", Duration::from_secs(5), 1);
        t.join().unwrap();
        assert_eq!(got, Ok(vec![Ipv4Addr::new(10, 0, 2, 100)]));
    }

    /// Nobody answers: a timeout after the tries, not a hang.
    #[test]
    fn silent_server_times_out() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let got = query(addr, "boot.lan", Duration::from_millis(50), 2);
        assert_eq!(got, Err(DnsError::Timeout));
        drop(server);
    }
}
