use super::*;

/// The question's name in an answer: a pointer to offset 12.
const Q: &[u8] = &[0xc0, 12];

/// An answer as a server sends it: `query`'s header and question, then
/// `records` of (owner name as wire bytes, type, data), class IN.
fn answer(query: &[u8], rcode: u8, records: &[(&[u8], u16, &[u8])]) -> Vec<u8> {
    let mut msg = query.to_vec();
    msg[2] = 0x81;
    msg[3] = 0x80 | rcode;
    msg[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
    for (owner, rtype, data) in records {
        msg.extend_from_slice(owner);
        msg.extend_from_slice(&rtype.to_be_bytes());
        msg.extend_from_slice(&CLASS_IN.to_be_bytes());
        msg.extend_from_slice(&300u32.to_be_bytes());
        msg.extend_from_slice(&(data.len() as u16).to_be_bytes());
        msg.extend_from_slice(data);
    }
    msg
}

fn wire(name: &str) -> Vec<u8> {
    wire_name(name).unwrap()
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

#[test]
fn query_is_rfc1035_bytes() {
    let q = encode_query(0x1234, &wire("Boot.LAN."), TYPE_A);
    assert_eq!(
        q,
        [
            0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, //
            4, b'b', b'o', b'o', b't', 3, b'l', b'a', b'n', 0, 0, 1, 0, 1
        ]
    );
    assert_eq!(encode_query(1, &wire("a"), TYPE_AAAA)[15..], [0, 28, 0, 1]);
    for bad in [
        "",
        "a..b",
        ".a",
        "x y",
        &"a".repeat(64),
        &["abc"; 70].join("."),
    ] {
        assert_eq!(wire_name(bad), Err(DnsError::BadName), "{bad:?}");
    }
}

#[test]
fn answer_follows_the_cname_chain() {
    let name = wire("boot.lan");
    let q = encode_query(7, &name, TYPE_A);
    // boot.lan CNAME web.boot.lan (the target as a label + pointer), then
    // an A record of an unrelated name, which must not count, then the
    // target's two addresses (owner: a pointer to the CNAME's data).
    let cname_at = (q.len() + 12) as u8;
    let msg = answer(
        &q,
        0,
        &[
            (Q, TYPE_CNAME, &[3, b'w', b'e', b'b', 0xc0, 12]),
            (&wire("evil.lan"), TYPE_A, &[6, 6, 6, 6]),
            (&[0xc0, cname_at], TYPE_A, &[10, 0, 2, 100]),
            (b"\x03WEB\x04boot\x03lan\x00", TYPE_A, &[10, 0, 2, 101]),
        ],
    );
    assert_eq!(
        parse_answer(7, &name, TYPE_A, &msg),
        Some(Ok(Answer::Addresses(vec![
            v4(10, 0, 2, 100),
            v4(10, 0, 2, 101)
        ])))
    );
    // Only the alias: ask for the target next.
    let msg = answer(&q, 0, &[(Q, TYPE_CNAME, &wire("Web.Example.org"))]);
    assert_eq!(
        parse_answer(7, &name, TYPE_A, &msg),
        Some(Ok(Answer::Alias(wire("web.example.org"))))
    );
    // A CNAME loop within the answer.
    let msg = answer(
        &q,
        0,
        &[
            (Q, TYPE_CNAME, &wire("a.lan")),
            (&wire("a.lan"), TYPE_CNAME, &wire("boot.lan")),
        ],
    );
    assert_eq!(
        parse_answer(7, &name, TYPE_A, &msg),
        Some(Err(DnsError::TooManyAliases))
    );
}

#[test]
fn aaaa_answers() {
    let name = wire("boot.lan");
    let q = encode_query(3, &name, TYPE_AAAA);
    let six = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x77];
    let msg = answer(&q, 0, &[(Q, TYPE_A, &[1, 2, 3, 4]), (Q, TYPE_AAAA, &six)]);
    assert_eq!(
        parse_answer(3, &name, TYPE_AAAA, &msg),
        Some(Ok(Answer::Addresses(vec!["fd00::77".parse().unwrap()])))
    );
    // An A question answered with AAAA only: no address.
    let q = encode_query(3, &name, TYPE_A);
    let msg = answer(&q, 0, &[(Q, TYPE_AAAA, &six)]);
    assert_eq!(
        parse_answer(3, &name, TYPE_A, &msg),
        Some(Err(DnsError::NoAddress))
    );
    assert!(has_global_ipv6(
        "fe800000000000000000000000000001 02 40 20 80 eth0\n\
         fd000000000000000000000000000077 02 40 00 80 eth0\n"
    ));
    assert!(!has_global_ipv6(
        "00000000000000000000000000000001 01 80 10 80 lo\n\
         fe800000000000000000000000000001 02 40 20 80 eth0\n"
    ));
}

#[test]
fn answers_to_another_query_are_ignored() {
    let name = wire("boot.lan");
    let q = encode_query(9, &name, TYPE_A);
    let good = answer(&q, 0, &[(Q, TYPE_A, &[1, 2, 3, 4])]);
    assert!(matches!(parse_answer(9, &name, TYPE_A, &good), Some(Ok(_))));
    // Another id.
    assert_eq!(parse_answer(10, &name, TYPE_A, &good), None);
    // Our own question echoed back (QR clear), or two bytes.
    assert_eq!(parse_answer(9, &name, TYPE_A, &q), None);
    assert_eq!(parse_answer(9, &name, TYPE_A, &[0, 9]), None);
    // The same id for another name, type or class.
    for other in [
        answer(
            &encode_query(9, &wire("evil.lan"), TYPE_A),
            0,
            &[(Q, TYPE_A, &[6, 6, 6, 6])],
        ),
        answer(
            &encode_query(9, &name, TYPE_AAAA),
            0,
            &[(Q, TYPE_A, &[6, 6, 6, 6])],
        ),
        {
            let mut m = good.clone();
            m[q.len() - 1] = 3; // class CH
            m
        },
        {
            let mut m = good.clone();
            m[5] = 2; // two questions
            m
        },
    ] {
        assert_eq!(parse_answer(9, &name, TYPE_A, &other), None, "{other:?}");
    }
    // The name compared without case.
    let mut shouting = good.clone();
    shouting[13..17].copy_from_slice(b"BOOT");
    assert!(matches!(
        parse_answer(9, &name, TYPE_A, &shouting),
        Some(Ok(_))
    ));
}

#[test]
fn errors_truncation_and_loops() {
    let name = wire("nope.lan");
    let q = encode_query(9, &name, TYPE_A);
    let parse = |msg: &[u8]| parse_answer(9, &name, TYPE_A, msg);
    assert_eq!(parse(&answer(&q, 3, &[])), Some(Err(DnsError::NoSuchName)));
    assert_eq!(parse(&answer(&q, 5, &[])), Some(Err(DnsError::Refused(5))));
    assert_eq!(parse(&answer(&q, 0, &[])), Some(Err(DnsError::NoAddress)));
    let mut truncated = answer(&q, 0, &[(Q, TYPE_A, &[1, 2, 3, 4])]);
    truncated[2] |= 0x02;
    assert_eq!(parse(&truncated), Some(Err(DnsError::Truncated)));
    // A record's owner that points at itself, and two that point at each
    // other: a bounded walk, then malformed.
    let own_at = q.len() as u8;
    let looped = answer(&q, 0, &[(&[0xc0, own_at], TYPE_A, &[1, 2, 3, 4])]);
    assert_eq!(parse(&looped), Some(Err(DnsError::Malformed)));
    let pair = answer(&q, 0, &[(&[1, b'x', 0xc0, own_at], TYPE_A, &[1, 2, 3, 4])]);
    assert_eq!(parse(&pair), Some(Err(DnsError::Malformed)));
    // Cut short anywhere after the question: malformed, never a panic.
    let full = answer(&q, 0, &[(Q, TYPE_A, &[1, 2, 3, 4])]);
    for n in q.len()..full.len() {
        assert_eq!(parse(&full[..n]), Some(Err(DnsError::Malformed)), "{n}");
    }
    // Within the question: not an answer to us.
    for n in 4..q.len() {
        assert_eq!(parse(&full[..n]), None, "{n}");
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
    assert_eq!((conf.port, conf.ipv6), (53, false));
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
    let none = resolve("boot.lan", &ResolvConf::default()).unwrap_err();
    assert_eq!(none.to_string(), "no nameserver in /etc/resolv.conf");
}

/// One datagram from `server`: the query bytes and who sent them.
fn receive(server: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 512];
    let (n, peer) = server.recv_from(&mut buf).unwrap();
    (buf[..n].to_vec(), peer)
}

/// `resolve` against a server on 127.0.0.1 that answers the first query
/// (A boot.lan) with forgeries first — from another port, with another id,
/// for another question — then an alias without its address; and the
/// second query (A web.lan) with the address.
#[test]
fn resolve_over_loopback() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let forger = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (q, peer) = receive(&server);
        assert_eq!(&q[12..q.len() - 4], &wire("boot.lan")[..]);
        let forged = answer(&q, 0, &[(Q, TYPE_A, &[6, 6, 6, 6])]);
        forger.send_to(&forged, peer).unwrap();
        let mut other_id = forged.clone();
        other_id[1] ^= 0xff;
        server.send_to(&other_id, peer).unwrap();
        let mut other_name = forged.clone();
        other_name[13] = b'x';
        server.send_to(&other_name, peer).unwrap();
        let alias = answer(&q, 0, &[(Q, TYPE_CNAME, &wire("web.lan"))]);
        server.send_to(&alias, peer).unwrap();
        let (q, peer) = receive(&server);
        assert_eq!(&q[12..q.len() - 4], &wire("web.lan")[..]);
        server
            .send_to(&answer(&q, 0, &[(Q, TYPE_A, &[10, 0, 2, 100])]), peer)
            .unwrap();
    });
    let conf = ResolvConf {
        nameservers: vec![v4(127, 0, 0, 1)],
        port,
        ..ResolvConf::default()
    };
    let got = resolve("boot.lan", &conf);
    t.join().unwrap();
    assert_eq!(got, Ok(vec![v4(10, 0, 2, 100)]));
}

/// Two different ids for two queries (from getrandom, not the clock).
#[test]
fn ids_are_random() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let mut ids = Vec::new();
    for _ in 0..4 {
        let _ = query(addr, &wire("a.lan"), TYPE_A, Duration::from_millis(1), 1);
        let (q, _) = receive(&server);
        ids.push(u16::from_be_bytes([q[0], q[1]]));
    }
    ids.dedup();
    assert!(ids.len() > 1, "{ids:?}");
}

/// Nobody answers: a timeout after the tries, not a hang; the message
/// names the server.
#[test]
fn silent_server_times_out() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let got = query(
        addr,
        &wire("boot.lan"),
        TYPE_A,
        Duration::from_millis(50),
        2,
    );
    assert_eq!(got, Err(DnsError::Timeout));
    drop(server);
    // Now closed: ICMP port unreachable, at once.
    let conf = ResolvConf {
        nameservers: vec![v4(127, 0, 0, 1)],
        port: addr.port(),
        ..ResolvConf::default()
    };
    let err = resolve("boot.lan", &conf).unwrap_err();
    assert_eq!(err.to_string(), format!("no answer (asked {addr})"));
}
