use super::*;
use crate::rtnl::{ARPHRD_ETHER, ARPHRD_LOOPBACK, IFA_F_TENTATIVE, IFF_LOOPBACK};
use crate::setup::tests::link;

const MAC: Mac = Mac([0x52, 0x54, 0, 0x12, 0x34, 0x56]);

fn addr(index: u32, ip: &str, prefix: u8, scope: u8, flags: u32) -> Address {
    Address {
        index,
        address: ip.parse().unwrap(),
        prefix,
        scope,
        flags,
    }
}

fn route(index: u32, dst: &str, prefix: u8, gw: Option<&str>, protocol: u8) -> RouteEntry {
    RouteEntry {
        route: Route {
            dst: dst.parse().unwrap(),
            prefix,
            gateway: gw.map(|g| g.parse().unwrap()),
            index,
            onlink: false,
        },
        table: 254,
        protocol,
        kind: 1,
        multipath: false,
    }
}

/// A rescue system as `ip` shows it: lo, eth0 with a static v4 and v6, a
/// DHCP lease, a SLAAC address, a link-local one, one that failed DAD; a
/// tunnel without a MAC; routes of every origin and table.
fn rescue() -> String {
    const PERMANENT: u32 = IFA_F_PERMANENT;
    let links = [
        link(1, "lo", None, ARPHRD_LOOPBACK, IFF_LOOPBACK),
        link(2, "eth0", Some(MAC), ARPHRD_ETHER, 0),
        link(3, "wg0", None, 65534, 0),
    ];
    let addresses = [
        addr(1, "127.0.0.1", 8, 254, PERMANENT),
        addr(2, "10.0.2.77", 24, 0, PERMANENT),
        addr(2, "10.0.2.15", 24, 0, 0), // a DHCP lease: carried
        addr(2, "fd00::77", 64, 0, PERMANENT),
        addr(2, "fec0::5054:ff:fe12:3456", 64, 0, 0), // SLAAC
        addr(2, "fe80::5054:ff:fe12:3456", 64, 253, PERMANENT),
        addr(
            2,
            "fd00::99",
            64,
            0,
            PERMANENT | IFA_F_DADFAILED | IFA_F_TENTATIVE,
        ),
        addr(3, "10.8.0.2", 24, 0, PERMANENT),
    ];
    let mut local = route(2, "10.0.2.77", 32, None, 2);
    local.table = 255;
    local.kind = 2;
    let mut multi = route(2, "10.7.0.0", 16, None, 3);
    multi.multipath = true;
    let mut onlink = route(2, "0.0.0.0", 0, Some("fe80::1"), 3);
    onlink.route.onlink = true;
    let mut other_table = route(2, "10.5.0.0", 16, None, 3);
    other_table.table = 100;
    let routes = [
        route(2, "10.0.2.0", 24, None, 2), // kernel: dropped
        route(2, "0.0.0.0", 0, Some("10.0.2.2"), 3),
        route(2, "192.168.9.0", 24, Some("10.0.2.9"), 4),
        route(2, "::", 0, Some("fe80::2"), 9), // ra: dropped
        route(2, "::", 0, Some("fe80::1"), 3),
        route(2, "10.6.0.0", 16, None, 16), // dhcp: dropped
        route(2, "10.9.0.0", 16, None, 3),  // on-link: first
        route(3, "10.8.0.0", 24, None, 3),  // no MAC: dropped
        local,
        multi,
        onlink,
        other_table,
    ];
    let resolv =
        ResolvConf::parse("nameserver 10.0.2.3\nnameserver fd00::3\nsearch lan example.org\n");
    capture(&links, &addresses, &routes, &resolv, "rescue\n")
}

const RESCUE: &str = "\
# init kexec --carry-network: this system's network, for the next boot
hostname rescue
nameserver 10.0.2.3
nameserver fd00::3
search lan example.org
link 52:54:00:12:34:56 eth0
address 10.0.2.77/24
address 10.0.2.15/24
address fd00::77/64
route 10.9.0.0/16
route 0.0.0.0/0 via 10.0.2.2
route 192.168.9.0/24 via 10.0.2.9
route ::/0 via fe80::1
route 0.0.0.0/0 via fe80::1 onlink
";

#[test]
fn capture_keeps_what_does_not_come_back_by_itself() {
    assert_eq!(rescue(), RESCUE);
    let nothing = capture(&[], &[], &[], &ResolvConf::default(), "(none)");
    assert_eq!(nothing.lines().count(), 1);
}

#[test]
fn every_line_reads_back() {
    let items: Vec<Option<Item>> = RESCUE.lines().map(|l| parse_line(l).unwrap()).collect();
    let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(items[0], None);
    assert_eq!(items[1], Some(Item::Hostname("rescue")));
    assert_eq!(items[2..5], [Some(Item::Resolver); 3]);
    assert_eq!(items[5], Some(Item::Link(MAC)));
    assert_eq!(items[8], Some(Item::Address(v6("fd00::77"), 64)));
    assert_eq!(
        items[13],
        Some(Item::Route(Route {
            dst: v6("0.0.0.0"),
            prefix: 0,
            gateway: Some(v6("fe80::1")),
            index: 0,
            onlink: true,
        }))
    );
    for bad in [
        "link 52:54:00:12:34",
        "address 10.0.2.77/33",
        "address 10.0.2.77",
        "route ::/0 by fe80::1",
        "route ::/0 via fe80::1 offlink",
        "route ::/0 via",
        "nameserver ten",
        "address 10.0.2.77/24 extra",
        "bogus",
    ] {
        assert_eq!(parse_line(bad), None, "{bad:?}");
    }
    assert_eq!(parse_line("  # a comment"), Some(None));
}
