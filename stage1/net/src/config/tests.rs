use super::*;
use proptest::prelude::*;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// One `ip=` value, with its notes.
fn parse(value: &str) -> Result<(IpParam, Vec<String>), String> {
    let mut notes = Vec::new();
    parse_one(value, &mut notes)
        .map(|p| (p, notes))
        .map_err(|e| e.to_string())
}

fn param(value: &str) -> IpParam {
    parse(value).unwrap().0
}

fn error(value: &str) -> String {
    parse(value).unwrap_err()
}

fn dhcp(iface: Option<&str>) -> IpParam {
    IpParam::new(iface.map(str::to_owned), Method::Dhcp)
}

fn fixed(address: &str, prefix: u8) -> Method {
    Method::Static {
        address: ip(address),
        prefix,
    }
}

#[test]
fn bare_keywords() {
    for word in ["dhcp", "on", "any", "DHCP"] {
        assert_eq!(parse(word), Ok((dhcp(None), vec![])), "{word}");
    }
    for word in ["off", "none"] {
        assert_eq!(param(word), IpParam::new(None, Method::Off), "{word}");
    }
    let (p, notes) = parse("bootp").unwrap();
    assert_eq!(p, dhcp(None));
    assert_eq!(
        notes,
        ["ip=bootp: BOOTP/RARP are not implemented, using DHCP"]
    );
}

#[test]
fn dracut_interface_forms() {
    assert_eq!(param("eth0:dhcp"), dhcp(Some("eth0")));
    assert_eq!(param("enp1s0:on"), dhcp(Some("enp1s0")));
    assert_eq!(
        param("eth1:off"),
        IpParam::new(Some("eth1".into()), Method::Off)
    );
    let p = param("eth0:dhcp:9000:52:54:00:12:34:56");
    assert_eq!(p.mtu, Some(9000));
    assert_eq!(p.mac, Mac::parse("52:54:00:12:34:56"));
    assert_eq!(
        param("eth0:dhcp::52-54-00-12-34-56").mac,
        Mac::parse("52:54:00:12:34:56")
    );
    assert_eq!(
        error("eth0:dhcp:1500:52:54"),
        "ip=eth0:dhcp:1500:52:54: `52:54` is not a MAC address (<iface>:<autoconf>:<mtu>:<macaddr>)"
    );
    let (p, notes) = parse("eth1:off:1500").unwrap();
    assert_eq!(p, IpParam::new(Some("eth1".into()), Method::Off));
    assert_eq!(
        notes,
        ["ip=eth1:off:1500: autoconf is off, the other fields are ignored"]
    );
}

#[test]
fn kernel_static_full() {
    let p =
        param("10.0.2.15:10.0.2.2:10.0.2.1:255.255.255.0:node1:eth0:off:10.0.2.3:1.1.1.1:10.0.2.4");
    assert_eq!(
        p,
        IpParam {
            iface: Some("eth0".into()),
            method: fixed("10.0.2.15", 24),
            gateway: Some(ip("10.0.2.1")),
            server: Some(ip("10.0.2.2")),
            hostname: Some("node1".into()),
            dns: vec![ip("10.0.2.3"), ip("1.1.1.1")],
            ntp: vec![ip("10.0.2.4")],
            mtu: None,
            mac: None,
        }
    );
}

#[test]
fn kernel_static_short_and_empty_fields() {
    let p = param("192.168.1.5::192.168.1.1:255.255.255.0");
    assert_eq!(p.method, fixed("192.168.1.5", 24));
    assert_eq!(
        (p.gateway, p.server, p.iface),
        (Some(ip("192.168.1.1")), None, None)
    );
    // 0.0.0.0 means "not given", as in the kernel.
    let p = param("192.168.1.5:0.0.0.0:0.0.0.0:255.255.0.0:::none:0.0.0.0");
    assert_eq!(
        (p.method, p.gateway, p.server, p.dns),
        (fixed("192.168.1.5", 16), None, None, vec![])
    );
    // dracut's prefix length and CIDR client address.
    assert_eq!(param("10.0.0.2::10.0.0.1:20").method, fixed("10.0.0.2", 20));
    assert_eq!(param("10.0.0.2/28::10.0.0.1").method, fixed("10.0.0.2", 28));
    assert_eq!(
        param("10.0.0.2/28::10.0.0.1:255.255.255.240").method,
        fixed("10.0.0.2", 28)
    );
    assert_eq!(
        error("10.0.0.2/28::10.0.0.1:255.255.255.0"),
        "ip=10.0.0.2/28::10.0.0.1:255.255.255.0: prefix /28 and netmask /24 disagree"
    );
}

#[test]
fn netmask_by_class() {
    for (addr, prefix) in [("10.1.2.3", 8), ("172.16.0.9", 16), ("192.168.7.7", 24)] {
        let (p, notes) = parse(addr).unwrap();
        assert_eq!(p.method, fixed(addr, prefix));
        let note = format!(
            "ip={addr}: no netmask given, using /{prefix} from the address class (as the kernel does)"
        );
        assert_eq!(notes, [note]);
    }
    assert_eq!(
        error("240.0.0.1::240.0.0.254"),
        "ip=240.0.0.1::240.0.0.254: no netmask given, and 240.0.0.1 (class D/E) has no default; add one"
    );
}

#[test]
fn bad_netmasks() {
    assert_eq!(
        error("10.0.0.2::10.0.0.1:255.0.255.0"),
        "ip=10.0.0.2::10.0.0.1:255.0.255.0: netmask `255.0.255.0` is not contiguous (ones, then zeros, like 255.255.255.0)"
    );
    assert!(error("10.0.0.2::10.0.0.1:33").contains("netmask `33` is not a prefix length 0 to 32"));
    assert!(error("10.0.0.2::10.0.0.1:255.255.255").contains("is not a dotted IPv4 netmask"));
}

#[test]
fn dhcp_via_kernel_form() {
    assert_eq!(param(":::::eth0"), dhcp(Some("eth0")));
    assert_eq!(param("::::::dhcp"), dhcp(None));
    let p = param("::10.0.0.1::myhost:eth0:dhcp:10.0.0.53");
    assert_eq!(
        (p.method, p.gateway, p.dns),
        (Method::Dhcp, Some(ip("10.0.0.1")), vec![ip("10.0.0.53")])
    );
    assert_eq!(p.hostname.as_deref(), Some("myhost"));
    let (p, notes) = parse("::::host::off").unwrap();
    assert_eq!(p, IpParam::new(None, Method::Off));
    assert_eq!(notes.len(), 1, "{notes:?}");
}

#[test]
fn client_address_wins_over_dhcp() {
    let (p, notes) = parse("10.0.0.2::10.0.0.1:255.0.0.0::eth0:dhcp").unwrap();
    assert_eq!(p.method, fixed("10.0.0.2", 8));
    assert_eq!(
        notes,
        ["ip=10.0.0.2::10.0.0.1:255.0.0.0::eth0:dhcp: a client address is given, so it is used statically and autoconf `dhcp` is ignored (as the kernel does)"]
    );
}

#[test]
fn dracut_static_mtu_and_mac() {
    let p = param("10.0.0.2::10.0.0.1:255.255.255.0:h:eth0:none:1400:52:54:00:aa:bb:cc");
    assert_eq!((p.method, p.mtu), (fixed("10.0.0.2", 24), Some(1400)));
    assert_eq!(p.mac, Mac::parse("52:54:00:aa:bb:cc"));
    assert!(p.dns.is_empty());
    let p = param("10.0.0.2::10.0.0.1:24::eth0:none::52:54:00:aa:bb:cc");
    assert_eq!((p.mtu, p.mac), (None, Mac::parse("52:54:00:aa:bb:cc")));
    assert_eq!(
        param("10.0.0.2::10.0.0.1:24::eth0:none:1400").mtu,
        Some(1400)
    );
    assert!(error("10.0.0.2::10.0.0.1:24::eth0:none:20")
        .contains("MTU `20` is not a number from 68 to 65535"));
    assert!(error("10.0.0.2::10.0.0.1:24::eth0:none:1400:1.1.1.1")
        .contains("`1.1.1.1` after the MTU is not a MAC address"));
}

#[test]
fn ipv6_is_refused() {
    for value in [
        "[2001:db8::2]::[2001:db8::1]:64::eth0:none",
        "2001:db8::2::2001:db8::1:64::eth0:none",
        "fe80::1",
    ] {
        assert_eq!(
            error(value),
            format!("ip={value}: IPv6 addresses are not supported, only IPv4")
        );
    }
    assert!(error("eth0:dhcp6").contains("IPv6 autoconf `dhcp6` is not supported, only IPv4"));
    assert!(error("auto6").contains("IPv6 autoconf"));
    assert!(error("10.0.0.2::10.0.0.1:24::eth0:off:fe80")
        .contains("dns0 `fe80` is not an IPv4 address (only IPv4 is supported)"));
}

#[test]
fn unknown_forms() {
    let forms = "unknown form; expected ip=dhcp|on|any|off|none, ip=<iface>:dhcp or \
                 ip=<client>:<server>:<gw>:<netmask>:<hostname>:<device>:<autoconf>";
    for value in ["foo", "eth0", "eth0:foo", "eth0:10.0.0.2"] {
        assert_eq!(error(value), format!("ip={value}: {forms}"));
    }
    assert_eq!(error(""), format!("ip=: empty value; {}", &forms[14..]));
    assert!(error("10.0.0.2:::::eth0:maybe").contains("autoconf `maybe` is not one of off, none"));
    assert!(error("10.0.0.300").contains("client address `10.0.0.300` is not an IPv4 address"));
    assert!(error("10.0.0.2:::::eth/0").contains("`eth/0` is not an interface name"));
    assert!(error("224.0.0.1").contains("cannot be a client address"));
    assert!(error("ibft").contains("iBFT is not supported"));
    assert!(error(&format!("10.0.0.2::::{}", "h".repeat(65))).contains("longer than 64 bytes"));
    assert!(
        error("10.0.0.2:::::eth0:off:1.1.1.1:1.1.1.2:1.1.1.3:1.1.1.4")
            .contains("too many fields (11)")
    );
}

#[test]
fn several_params() {
    let config = parse_all(&["eth0:dhcp", "eth1:off", "10.1.0.2:::::eth2"]);
    let config = config.unwrap();
    assert_eq!(config.params.len(), 3);
    assert!(config.wants_network());
    assert_eq!(
        config.notes.len(),
        1,
        "class netmask note: {:?}",
        config.notes
    );
    assert_eq!(parse_all(&[]), Ok(NetConfig::default()));
    assert!(!parse_all(&["off"]).unwrap().wants_network());
    let err = parse_all(&["eth0:dhcp", "dhcp"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ip=dhcp: several ip= are given, so each must name its interface (e.g. ip=eth0:dhcp ip=eth1:dhcp)"
    );
    let err = parse_all(&["eth0:dhcp", "10.0.0.2:::24::eth0"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ip=10.0.0.2:::24::eth0: interface eth0 is already configured by an earlier ip="
    );
}

#[test]
fn netmask_helpers() {
    assert_eq!(prefix_from_netmask(ip("255.255.255.0")), Some(24));
    assert_eq!(prefix_from_netmask(ip("255.255.255.255")), Some(32));
    assert_eq!(prefix_from_netmask(ip("0.0.0.0")), Some(0));
    assert_eq!(prefix_from_netmask(ip("255.255.0.255")), None);
    assert_eq!(netmask_from_prefix(20), ip("255.255.240.0"));
    assert_eq!(netmask_from_prefix(0), ip("0.0.0.0"));
    assert_eq!(netmask_from_prefix(40), ip("255.255.255.255"));
}

fn usable(addr: Ipv4Addr) -> bool {
    !(addr.is_unspecified() || addr.is_multicast() || addr.is_broadcast() || addr.is_loopback())
}

fn address() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>()
        .prop_map(Ipv4Addr::from)
        .prop_filter("usable", |a| usable(*a))
}

fn show<T: ToString>(v: Option<&T>) -> String {
    v.map(ToString::to_string).unwrap_or_default()
}

proptest! {
    #[test]
    fn never_panics(s in "\\PC{0,60}") {
        let _ = parse_all(&[&s]);
    }

    #[test]
    fn never_panics_on_ip_alphabet(
        values in proptest::collection::vec(
            "[0-9a-f.:/\\[\\]-]{0,40}|(dhcp|off|eth0|10.0.0.1|255.0.0.0|:){0,12}",
            0..3,
        ),
    ) {
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        if let Err(e) = parse_all(&values) {
            prop_assert!(e.to_string().starts_with("ip="));
        }
    }

    /// The kernel's form, rendered from its parts, trailing empty fields dropped.
    #[test]
    fn kernel_form_round_trips(
        addr in address(),
        prefix in 0..=32u8,
        server in proptest::option::of(address()),
        gateway in proptest::option::of(address()),
        hostname in proptest::option::of("[a-z0-9-]{1,20}"),
        iface in proptest::option::of("[a-z][a-z0-9]{0,10}"),
        autoconf in proptest::sample::select(vec!["", "off", "none"]),
        dns0 in proptest::option::of(address()),
        dns1 in proptest::option::of(address()),
        ntp in proptest::option::of(address()),
    ) {
        let line = format!(
            "{addr}:{}:{}:{}:{}:{}:{autoconf}:{}:{}:{}",
            show(server.as_ref()), show(gateway.as_ref()), netmask_from_prefix(prefix),
            show(hostname.as_ref()), show(iface.as_ref()),
            show(dns0.as_ref()), show(dns1.as_ref()), show(ntp.as_ref()),
        );
        let p = parse(line.trim_end_matches(':')).map_err(TestCaseError::fail)?.0;
        prop_assert_eq!(p.method, Method::Static { address: addr, prefix });
        prop_assert_eq!((p.server, p.gateway), (server, gateway));
        prop_assert_eq!((p.hostname, p.iface), (hostname, iface));
        prop_assert_eq!(p.dns, dns0.into_iter().chain(dns1).collect::<Vec<_>>());
        prop_assert_eq!(p.ntp, ntp.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn dracut_form_round_trips(
        addr in address(),
        prefix in 0..=32u8,
        iface in "[a-z][a-z0-9]{0,10}",
        mtu in proptest::option::of(68..=65535u32),
        mac in any::<[u8; 6]>().prop_map(Mac),
        dhcp in any::<bool>(),
    ) {
        let mtu_s = show(mtu.as_ref());
        let (line, method) = if dhcp {
            (format!("{iface}:dhcp:{mtu_s}:{mac}"), Method::Dhcp)
        } else {
            let line = format!("{addr}:::{prefix}::{iface}:none:{mtu_s}:{mac}");
            (line, Method::Static { address: addr, prefix })
        };
        let p = parse(&line).map_err(TestCaseError::fail)?.0;
        prop_assert_eq!((p.method, p.iface.as_deref()), (method, Some(iface.as_str())));
        prop_assert_eq!((p.mtu, p.mac), (mtu, Some(mac)));
    }

    #[test]
    fn contiguous_masks_only(mask in any::<u32>()) {
        let mask = Ipv4Addr::from(mask);
        match prefix_from_netmask(mask) {
            Some(p) => prop_assert_eq!(netmask_from_prefix(p), mask),
            None => prop_assert!((0..=32).all(|p| netmask_from_prefix(p) != mask)),
        }
    }
}
