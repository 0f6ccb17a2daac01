use std::net::Ipv4Addr;

use super::wire::*;
use super::*;
use crate::mac::Mac;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

const GW: Ipv4Addr = Ipv4Addr::new(10, 213, 1, 1);
const ADDR: Ipv4Addr = Ipv4Addr::new(10, 213, 1, 5);

// The byte vectors are little-endian, as on x86-64 and aarch64 (netlink is
// native byte order).
#[cfg(target_endian = "little")]
mod bytes {
    use super::*;

    #[test]
    fn get_links_dump() {
        assert_eq!(
            encode_get_links(7),
            hex("20 00 00 00  12 00 01 03  07 00 00 00  00 00 00 00 \
                 00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00")
        );
    }

    #[test]
    fn link_up_down_and_rename() {
        assert_eq!(
            encode_set_link(1, 2, LinkChange::Up),
            hex("20 00 00 00  10 00 05 00  01 00 00 00  00 00 00 00 \
                 00 00 00 00  02 00 00 00  01 00 00 00  01 00 00 00")
        );
        assert_eq!(
            encode_set_link(1, 2, LinkChange::Down),
            hex("20 00 00 00  10 00 05 00  01 00 00 00  00 00 00 00 \
                 00 00 00 00  02 00 00 00  00 00 00 00  01 00 00 00")
        );
        // "lan0\0" is 5 bytes: attribute length 9, padded to 12.
        assert_eq!(
            encode_set_link(9, 3, LinkChange::Name("lan0")),
            hex("2c 00 00 00  10 00 05 00  09 00 00 00  00 00 00 00 \
                 00 00 00 00  03 00 00 00  00 00 00 00  00 00 00 00 \
                 09 00 03 00  6c 61 6e 30  00 00 00 00")
        );
        let mtu = encode_set_link(1, 3, LinkChange::Mtu(9000));
        assert_eq!(&mtu[32..], hex("08 00 04 00  28 23 00 00"));
        let mac = encode_set_link(
            1,
            3,
            LinkChange::Mac(Mac([0x52, 0x54, 0, 0x12, 0x34, 0x56])),
        );
        assert_eq!(&mac[32..], hex("0a 00 01 00  52 54 00 12  34 56 00 00"));
        assert_eq!(mac[0], 44);
    }

    #[test]
    fn add_address() {
        assert_eq!(
            encode_add_address(3, 2, ADDR.into(), 24),
            hex("30 00 00 00  14 00 05 06  03 00 00 00  00 00 00 00 \
                 02 18 00 00  02 00 00 00 \
                 08 00 02 00  0a d5 01 05 \
                 08 00 01 00  0a d5 01 05 \
                 08 00 04 00  0a d5 01 ff")
        );
        // No broadcast for /31 and /32.
        let p2p = encode_add_address(3, 2, ADDR.into(), 31);
        assert_eq!(p2p.len(), 40);
        assert_eq!(p2p[0], 40);
    }

    #[test]
    fn routes() {
        let default = Route {
            dst: Ipv4Addr::UNSPECIFIED.into(),
            prefix: 0,
            gateway: Some(GW.into()),
            index: 2,
            onlink: false,
        };
        assert_eq!(
            encode_route(4, RouteOp::Add, &default),
            hex("2c 00 00 00  18 00 05 06  04 00 00 00  00 00 00 00 \
                 02 00 00 00  fe 03 00 01  00 00 00 00 \
                 08 00 05 00  0a d5 01 01 \
                 08 00 04 00  02 00 00 00")
        );
        let onlink = Route {
            dst: Ipv4Addr::BROADCAST.into(),
            prefix: 32,
            gateway: None,
            index: 5,
            onlink: false,
        };
        assert_eq!(
            encode_route(5, RouteOp::Replace, &onlink),
            hex("2c 00 00 00  18 00 05 05  05 00 00 00  00 00 00 00 \
                 02 20 00 00  fe 03 fd 01  00 00 00 00 \
                 08 00 01 00  ff ff ff ff \
                 08 00 04 00  05 00 00 00")
        );
        let del = encode_route(6, RouteOp::Delete, &onlink);
        assert_eq!(&del[4..8], hex("19 00 05 00"));
    }

    /// An `RTM_NEWLINK` as the kernel sends it in a dump (trimmed: the
    /// kernel adds ~40 more attributes), then `NLMSG_DONE`.
    pub(super) fn dump_reply() -> Vec<u8> {
        hex("54 00 00 00  10 00 02 00  07 00 00 00  e8 03 00 00 \
             00 00 01 00  02 00 00 00  43 10 01 00  00 00 00 00 \
             09 00 03 00  65 74 68 30  00 00 00 00 \
             08 00 04 00  dc 05 00 00 \
             05 00 10 00  06 00 00 00 \
             0a 00 01 00  52 54 00 12  34 56 00 00 \
             0c 00 1a 80  08 00 02 00  01 00 00 00 \
             14 00 00 00  03 00 02 00  07 00 00 00  e8 03 00 00  00 00 00 00")
    }

    #[test]
    fn decodes_a_dump() {
        let buf = dump_reply();
        let msgs: Vec<_> = messages(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(
            (msgs[0].kind, msgs[0].seq, msgs[0].pid),
            (RTM_NEWLINK, 7, 1000)
        );
        assert_eq!(msgs[1].kind, NLMSG_DONE);
        let link = decode_link(msgs[0].payload).unwrap();
        assert_eq!(
            link,
            Link {
                index: 2,
                name: "eth0".into(),
                mac: Some(Mac([0x52, 0x54, 0, 0x12, 0x34, 0x56])),
                flags: 0x11043,
                link_type: ARPHRD_ETHER,
                operstate: OperState::Up,
            }
        );
        assert!(link.is_up() && link.has_carrier() && link.is_ethernet());
        // The nested IFLA_AF_SPEC (26 | NLA_F_NESTED) has its flag cleared.
        let kinds: Vec<u16> = attrs(&msgs[0].payload[16..]).map(|(k, _)| k).collect();
        assert_eq!(
            kinds,
            [IFLA_IFNAME, IFLA_MTU, IFLA_OPERSTATE, IFLA_ADDRESS, 26]
        );
    }

    #[test]
    fn decodes_acks_and_errors() {
        // NLMSG_ERROR 0 (ack) for seq 3, then -EEXIST (17) for seq 4.
        let ack = hex("24 00 00 00  02 00 00 01  03 00 00 00  e8 03 00 00 \
                       00 00 00 00  30 00 00 00  14 00 05 06  03 00 00 00  e8 03 00 00");
        let msg = messages(&ack).next().unwrap().unwrap();
        assert_eq!((msg.kind, msg.seq), (NLMSG_ERROR, 3));
        assert_eq!(decode_error(msg.payload), Some(0));
        let err = hex("14 00 00 00  02 00 00 00  04 00 00 00  00 00 00 00  ef ff ff ff");
        let msg = messages(&err).next().unwrap().unwrap();
        assert_eq!(decode_error(msg.payload), Some(-17));
        assert_eq!(decode_error(&[1, 2]), None);
    }
}

#[test]
fn malformed_messages_end_the_iteration() {
    // Length 8: shorter than the header.
    let mut it = messages(&[8, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(it.next(), Some(Err(Malformed { offset: 0 })));
    assert_eq!(it.next(), None);
    // Length past the datagram.
    let mut buf = encode_get_links(1);
    buf[0] = 200;
    assert!(messages(&buf).next().unwrap().is_err());
    assert_eq!(messages(&[]).count(), 0);
    // An attribute running past its buffer ends the list.
    assert_eq!(attrs(&[8, 0, 3, 0, 1, 2]).count(), 0);
    assert_eq!(attrs(&[2, 0, 3, 0]).count(), 0);
    // No name: not a usable link.
    assert_eq!(decode_link(&[0; 16]), None);
    assert_eq!(decode_link(&[0; 15]), None);
}

#[test]
fn broadcast_addresses() {
    assert_eq!(broadcast(ADDR, 24), Some(Ipv4Addr::new(10, 213, 1, 255)));
    assert_eq!(broadcast(ADDR, 8), Some(Ipv4Addr::new(10, 255, 255, 255)));
    assert_eq!(broadcast(ADDR, 0), Some(Ipv4Addr::BROADCAST));
    assert_eq!(broadcast(ADDR, 31), None);
    assert_eq!(broadcast(ADDR, 32), None);
}

/// Checks the framing: lengths right, everything aligned to 4, the
/// attributes exactly fill the message after the `fixed`-byte header.
fn check_framing(msg: &[u8], fixed: usize) -> Vec<(u16, Vec<u8>)> {
    assert_eq!(msg.len() % 4, 0);
    let parsed: Vec<_> = messages(msg).collect();
    assert_eq!(parsed.len(), 1);
    let m = parsed[0].unwrap();
    assert_eq!(m.payload.len() + HDR_LEN, msg.len());
    let body = &m.payload[fixed..];
    let mut covered = 0;
    let list: Vec<_> = attrs(body)
        .map(|(k, d)| {
            covered += align(4 + d.len());
            (k, d.to_vec())
        })
        .collect();
    assert_eq!(covered, body.len());
    list
}

proptest! {
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        for m in messages(&bytes).flatten() {
            let _ = decode_link(m.payload);
            let _ = decode_error(m.payload);
            let _ = attrs(m.payload).count();
        }
        let _ = decode_link(&bytes);
        let _ = attrs(&bytes).count();
    }

    #[test]
    fn encoders_frame_right(
        seq in any::<u32>(),
        index in any::<u32>(),
        ip in any::<[u8; 4]>(),
        prefix in 0u8..=32,
        gw in proptest::option::of(any::<[u8; 4]>()),
        name in "[a-z0-9]{1,15}",
    ) {
        let ip = Ipv4Addr::from(ip);
        let list = check_framing(&encode_add_address(seq, index, ip.into(), prefix), 8);
        prop_assert_eq!(&list[0], &(IFA_LOCAL, ip.octets().to_vec()));
        let route = Route { dst: ip.into(), prefix, gateway: gw.map(|g| Ipv4Addr::from(g).into()), index, onlink: false };
        let list = check_framing(&encode_route(seq, RouteOp::Add, &route), 12);
        prop_assert_eq!(list.last().unwrap(), &(RTA_OIF, index.to_ne_bytes().to_vec()));
        let list = check_framing(&encode_set_link(seq, index, LinkChange::Name(&name)), 16);
        let mut with_nul = name.clone().into_bytes();
        with_nul.push(0);
        prop_assert_eq!(&list[0], &(IFLA_IFNAME, with_nul));
        // A decoded RTM_NEWLINK of our own rename carries the name back.
        let msg = encode_set_link(seq, index, LinkChange::Name(&name));
        let link = decode_link(messages(&msg).next().unwrap().unwrap().payload).unwrap();
        prop_assert_eq!((link.index, link.name), (index, name));
    }
}

/// Unprivileged: any network namespace has `lo`, index 1.
#[test]
fn live_dump_lists_loopback() {
    let mut rtnl = Rtnl::open().unwrap();
    let links = rtnl.links().unwrap();
    let lo = links.iter().find(|l| l.name == "lo").unwrap();
    assert!(lo.is_loopback() && !lo.is_ethernet(), "{lo:?}");
    assert_eq!(lo.index, 1);
    // Twice on one socket: sequence numbers keep the replies apart.
    assert_eq!(rtnl.links().unwrap().len(), links.len());
}

/// IPv6 and mixed-family messages read back by the dump decoders: what
/// `init kexec --carry-network` captures is what stage-1 sends.
#[test]
fn ipv6_addresses_and_routes_round_trip() {
    let payload = |msg: &[u8]| messages(msg).next().unwrap().unwrap().payload.to_vec();
    let six: std::net::IpAddr = "fd00::77".parse().unwrap();
    let a = decode_address(&payload(&encode_add_address(1, 2, six, 64))).unwrap();
    assert_eq!((a.index, a.address, a.prefix, a.scope), (2, six, 64, 0));
    for (dst, prefix, gw, onlink) in [
        ("::", 0, Some("fe80::1"), false),
        ("0.0.0.0", 0, Some("fe80::1"), true),
        ("10.9.0.0", 16, None, false),
        ("2001:db8::", 32, Some("fd00::1"), false),
    ] {
        let route = Route {
            dst: dst.parse().unwrap(),
            prefix,
            gateway: gw.map(|g| g.parse().unwrap()),
            index: 7,
            onlink,
        };
        let msg = encode_route(3, RouteOp::Add, &route);
        let entry = decode_route(&payload(&msg)).unwrap();
        assert_eq!(entry.route, route, "{dst}/{prefix}");
        assert_eq!((entry.table, entry.protocol, entry.kind), (254, 3, 1));
        if gw.is_some() && dst.contains('.') {
            // RTA_VIA: 4 + 2 + 16 bytes.
            assert!(attrs(&payload(&msg)[12..]).any(|(k, d)| k == 18 && d.len() == 18));
        }
    }
    // Cut short or another family: nothing, never a panic.
    let msg = payload(&encode_add_address(1, 2, six, 64));
    for n in 0..msg.len() {
        let _ = decode_address(&msg[..n]);
        let _ = decode_route(&msg[..n]);
    }
    assert_eq!(decode_route(&[7; 12]), None);
}
