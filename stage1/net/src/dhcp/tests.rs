use super::*;
use proptest::prelude::*;

pub(crate) const MAC: Mac = Mac([0x00, 0x0b, 0x82, 0x01, 0xfc, 0x42]);

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// A packet from Wireshark's sample capture `dhcp.pcap` (as transcribed in
/// FreeRADIUS' `src/tests/unit/protocols/dhcpv4/client-server.txt`): the
/// first header bytes (the rest of the 236 are zero), then everything from
/// the magic cookie on, then `pads` zero bytes.
fn captured(head: &str, options: &str, pads: usize) -> Vec<u8> {
    let mut bytes = hex(head);
    bytes.resize(HEADER_LEN, 0);
    bytes.extend(MAGIC_COOKIE);
    bytes.extend(hex(options));
    bytes.resize(bytes.len() + pads, 0);
    bytes
}

pub(crate) fn captured_offer() -> Vec<u8> {
    captured(
        "02 01 06 00 00 00 3d 1d 00 00 00 00 00 00 00 00 c0 a8 00 0a c0 a8 00 01 00 00 00 00 \
         00 0b 82 01 fc 42",
        "35 01 02 01 04 ff ff ff 00 3a 04 00 00 07 08 3b 04 00 00 0c 4e 33 04 00 00 0e 10 \
         36 04 c0 a8 00 01 ff",
        26,
    )
}

pub(crate) fn captured_ack() -> Vec<u8> {
    captured(
        "02 01 06 00 00 00 3d 1e 00 00 00 00 00 00 00 00 c0 a8 00 0a 00 00 00 00 00 00 00 00 \
         00 0b 82 01 fc 42",
        "35 01 05 3a 04 00 00 07 08 3b 04 00 00 0c 4e 33 04 00 00 0e 10 36 04 c0 a8 00 01 \
         01 04 ff ff ff 00 ff",
        26,
    )
}

fn captured_request() -> Vec<u8> {
    captured(
        "01 01 06 00 00 00 3d 1e 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
         00 0b 82 01 fc 42",
        "35 01 03 3d 07 01 00 0b 82 01 fc 42 32 04 c0 a8 00 0a 36 04 c0 a8 00 01 \
         37 04 01 03 06 2a ff",
        1,
    )
}

/// The options of an encoded message, after the cookie.
fn options_bytes(bytes: &[u8]) -> &[u8] {
    &bytes[HEADER_LEN + 4..]
}

#[test]
fn decodes_captured_offer() {
    let msg = Message::decode(&captured_offer()).unwrap();
    assert_eq!(msg.op, Op::Reply);
    assert_eq!((msg.htype, msg.hlen, msg.hops), (1, 6, 0));
    assert_eq!(msg.xid, 0x3d1d);
    assert_eq!(msg.yiaddr, Ipv4Addr::new(192, 168, 0, 10));
    assert_eq!(msg.siaddr, Ipv4Addr::new(192, 168, 0, 1));
    assert_eq!(msg.mac(), Some(MAC));
    assert!(msg.is_reply_to(0x3d1d, MAC));
    assert!(!msg.is_reply_to(0x3d1e, MAC));
    assert_eq!(msg.message_type(), Some(MessageType::Offer));
    assert_eq!(
        msg.options,
        [
            DhcpOption::MessageType(MessageType::Offer),
            DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)),
            DhcpOption::Raw {
                code: 58,
                data: vec![0, 0, 7, 8]
            },
            DhcpOption::Raw {
                code: 59,
                data: vec![0, 0, 0x0c, 0x4e]
            },
            DhcpOption::LeaseTime(3600),
            DhcpOption::ServerId(Ipv4Addr::new(192, 168, 0, 1)),
        ]
    );
}

#[test]
fn decodes_captured_request_and_reencodes_it() {
    let bytes = captured_request();
    let msg = Message::decode(&bytes).unwrap();
    assert_eq!(msg.op, Op::Request);
    assert_eq!(
        msg.options,
        [
            DhcpOption::MessageType(MessageType::Request),
            DhcpOption::ClientId(vec![1, 0x00, 0x0b, 0x82, 0x01, 0xfc, 0x42]),
            DhcpOption::RequestedIp(Ipv4Addr::new(192, 168, 0, 10)),
            DhcpOption::ServerId(Ipv4Addr::new(192, 168, 0, 1)),
            DhcpOption::ParameterRequestList(vec![1, 3, 6, 42]),
        ]
    );
    // Byte for byte, except that we pad to 300 bytes.
    let again = msg.encode();
    assert_eq!(again.len(), MIN_LEN);
    assert_eq!(again[..bytes.len()], bytes[..]);
    assert!(again[bytes.len()..].iter().all(|&b| b == 0));
}

#[test]
fn discover_bytes() {
    let bytes = discover(MAC, 0x1234_5678).encode();
    assert_eq!(bytes.len(), MIN_LEN);
    assert_eq!(bytes[..12], hex("01 01 06 00 12 34 56 78 00 00 80 00")[..]);
    assert!(
        bytes[12..28].iter().all(|&b| b == 0),
        "ciaddr … giaddr zero"
    );
    assert_eq!(
        bytes[28..44],
        hex("00 0b 82 01 fc 42 00 00 00 00 00 00 00 00 00 00")[..]
    );
    assert!(bytes[44..HEADER_LEN].iter().all(|&b| b == 0), "sname, file");
    assert_eq!(bytes[HEADER_LEN..HEADER_LEN + 4], MAGIC_COOKIE);
    let expected =
        hex("35 01 01  3d 07 01 00 0b 82 01 fc 42  39 02 05 c0  37 07 01 03 06 0c 0f 33 36  ff");
    assert_eq!(options_bytes(&bytes)[..expected.len()], expected[..]);
}

#[test]
fn request_in_selecting_state() {
    let (ip, server) = (
        Ipv4Addr::new(192, 168, 0, 10),
        Ipv4Addr::new(192, 168, 0, 1),
    );
    let msg = request(MAC, 7, ip, server);
    assert_eq!(msg.ciaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(msg.flags, FLAG_BROADCAST);
    assert_eq!(msg.message_type(), Some(MessageType::Request));
    assert_eq!(
        msg.option(code::REQUESTED_IP),
        Some(&DhcpOption::RequestedIp(ip))
    );
    assert_eq!(
        msg.option(code::SERVER_ID),
        Some(&DhcpOption::ServerId(server))
    );
    let expected =
        hex("35 01 03  32 04 c0 a8 00 0a  36 04 c0 a8 00 01  3d 07 01 00 0b 82 01 fc 42");
    assert_eq!(options_bytes(&msg.encode())[..expected.len()], expected[..]);
}

#[test]
fn long_options_are_split_and_joined() {
    // 70 routers are 280 bytes: two instances of option 3 (RFC 3396).
    let routers: Vec<Ipv4Addr> = (0..70).map(|i| Ipv4Addr::new(10, 0, 0, i)).collect();
    let mut msg = Message::new(Op::Reply, 1, MAC);
    msg.options = vec![
        DhcpOption::Routers(routers.clone()),
        DhcpOption::LeaseTime(60),
    ];
    let bytes = msg.encode();
    let opts = options_bytes(&bytes);
    assert_eq!(opts[..2], [3, 255]);
    assert_eq!(opts[257..259], [3, 25]);
    assert_eq!(Message::decode(&bytes).unwrap(), msg);
}

#[test]
fn instances_anywhere_are_concatenated() {
    let mut bytes = captured_offer();
    let end = bytes.iter().rposition(|&b| b == code::END).unwrap();
    // 6: 1.1.1.1, 51 …, 6: 8.8.8.8
    let extra = hex("06 04 01 01 01 01 00 00 06 04 08 08 08 08 ff");
    bytes.splice(end.., extra);
    let msg = Message::decode(&bytes).unwrap();
    assert_eq!(
        msg.option(code::DNS_SERVERS),
        Some(&DhcpOption::DnsServers(vec![
            Ipv4Addr::new(1, 1, 1, 1),
            Ipv4Addr::new(8, 8, 8, 8)
        ]))
    );
}

#[test]
fn malformed_known_options_stay_raw() {
    let mut msg = Message::new(Op::Reply, 1, MAC);
    let raw = |code, data: &[u8]| DhcpOption::Raw {
        code,
        data: data.to_vec(),
    };
    msg.options = vec![
        raw(code::SUBNET_MASK, &[255, 255, 0]),
        raw(code::ROUTERS, &[]),
        raw(code::HOST_NAME, &[0xff, 0xfe]),
        raw(code::MESSAGE_TYPE, &[9]),
        raw(code::CLIENT_ID, &[1]),
        raw(code::OVERLOAD, &[3]),
    ];
    assert_eq!(Message::decode(&msg.encode()).unwrap(), msg);
}

#[test]
fn framing_codes_are_not_encoded_as_options() {
    let mut msg = Message::new(Op::Request, 1, MAC);
    msg.options = vec![
        DhcpOption::Raw {
            code: 0,
            data: vec![1],
        },
        DhcpOption::Raw {
            code: 255,
            data: vec![],
        },
    ];
    assert_eq!(Message::decode(&msg.encode()).unwrap().options, []);
}

#[test]
fn missing_end_is_tolerated() {
    let mut bytes = captured_offer();
    let end = bytes.iter().rposition(|&b| b == code::END).unwrap();
    bytes.truncate(end);
    let msg = Message::decode(&bytes).unwrap();
    assert_eq!(
        msg.option(code::SERVER_ID),
        Some(&DhcpOption::ServerId(Ipv4Addr::new(192, 168, 0, 1)))
    );
}

#[test]
fn decode_errors() {
    assert_eq!(
        Message::decode(&[2; 100]),
        Err(DecodeError::TooShort { len: 100 })
    );
    let mut bytes = captured_offer();
    bytes[0] = 3;
    assert_eq!(Message::decode(&bytes), Err(DecodeError::BadOp(3)));
    let mut bytes = captured_offer();
    bytes[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&[0; 4]);
    let err = Message::decode(&bytes).unwrap_err();
    assert_eq!(err, DecodeError::BadCookie([0; 4]));
    assert_eq!(
        err.to_string(),
        "not a DHCP message: magic cookie [00, 00, 00, 00], expected [63, 82, 53, 63]"
    );
    // Option 54 cut after its length byte.
    let bytes = captured_offer();
    let at = bytes.windows(2).position(|w| w == [54, 4]).unwrap();
    let err = Message::decode(&bytes[..at + 3]).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Truncated {
            code: 54,
            offset: at
        }
    );
    assert_eq!(
        err.to_string(),
        format!("DHCP option 54 at byte {at} runs past the end of the message")
    );
    assert_eq!(
        Message::decode(&bytes[..=at]),
        Err(DecodeError::Truncated {
            code: 54,
            offset: at
        })
    );
}

fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

/// Options as decoding gives them: well-formed data, each code once.
fn options() -> impl Strategy<Value = Vec<DhcpOption>> {
    use proptest::collection::vec;
    const KNOWN: [u8; 12] = [1, 3, 6, 12, 15, 50, 51, 53, 54, 55, 57, 61];
    let option = prop_oneof![
        ipv4().prop_map(DhcpOption::SubnetMask),
        vec(ipv4(), 1..80).prop_map(DhcpOption::Routers),
        vec(ipv4(), 1..4).prop_map(DhcpOption::DnsServers),
        "\\PC{1,100}".prop_map(DhcpOption::HostName),
        "[a-z.]{1,20}".prop_map(DhcpOption::DomainName),
        ipv4().prop_map(DhcpOption::RequestedIp),
        any::<u32>().prop_map(DhcpOption::LeaseTime),
        proptest::sample::select(MessageType::ALL.to_vec()).prop_map(DhcpOption::MessageType),
        ipv4().prop_map(DhcpOption::ServerId),
        vec(any::<u8>(), 1..300).prop_map(DhcpOption::ParameterRequestList),
        any::<u16>().prop_map(DhcpOption::MaxMessageSize),
        vec(any::<u8>(), 2..20).prop_map(DhcpOption::ClientId),
        (1..255u8)
            .prop_filter("not modelled", |c| !KNOWN.contains(c))
            .prop_flat_map(|code| vec(any::<u8>(), 0..300)
                .prop_map(move |data| DhcpOption::Raw { code, data })),
    ];
    vec(option, 0..12).prop_map(|options| {
        let mut seen = [false; 256];
        options
            .into_iter()
            .filter(|o| !std::mem::replace(&mut seen[o.code() as usize], true))
            .collect()
    })
}

fn message() -> impl Strategy<Value = Message> {
    let bytes = |n| proptest::collection::vec(any::<u8>(), n);
    (
        (
            any::<bool>(),
            any::<[u8; 3]>(),
            any::<u32>(),
            any::<u16>(),
            any::<u16>(),
        ),
        (ipv4(), ipv4(), ipv4(), ipv4()),
        (any::<[u8; 16]>(), bytes(64), bytes(128)),
        options(),
    )
        .prop_map(
            |(
                (reply, [htype, hlen, hops], xid, secs, flags),
                (ci, yi, si, gi),
                (chaddr, sname, file),
                options,
            )| {
                Message {
                    op: if reply { Op::Reply } else { Op::Request },
                    htype,
                    hlen,
                    hops,
                    xid,
                    secs,
                    flags,
                    ciaddr: ci,
                    yiaddr: yi,
                    siaddr: si,
                    giaddr: gi,
                    chaddr,
                    sname: sname.try_into().unwrap(),
                    file: file.try_into().unwrap(),
                    options,
                }
            },
        )
}

proptest! {
    #[test]
    fn round_trips(msg in message()) {
        let bytes = msg.encode();
        prop_assert!(bytes.len() >= MIN_LEN);
        prop_assert_eq!(Message::decode(&bytes), Ok(msg));
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        if let Ok(msg) = Message::decode(&bytes) {
            let _ = crate::lease::Lease::from_reply(&msg);
        }
    }

    /// Past a valid header, so the option parser sees the random bytes.
    #[test]
    fn random_options_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut bytes = captured_offer();
        bytes.truncate(HEADER_LEN + 4);
        bytes.extend(tail);
        if let Ok(msg) = Message::decode(&bytes) {
            let _ = crate::lease::Lease::from_reply(&msg);
            let _ = msg.encode();
        }
    }

    #[test]
    fn truncated_and_corrupted_never_panic(
        msg in message(),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let mut bytes = msg.encode();
        for (at, byte) in flips {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        let cut = cut.index(bytes.len() + 1);
        if let Ok(msg) = Message::decode(&bytes[..cut]) {
            let _ = crate::lease::Lease::from_reply(&msg);
        }
    }
}
