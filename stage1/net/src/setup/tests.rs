use super::state::clean_name;
use super::*;
use crate::config::parse_all;
use crate::lease::Lease;
use crate::rtnl::{OperState, ARPHRD_ETHER, ARPHRD_LOOPBACK, IFF_LOOPBACK, IFF_LOWER_UP};

const MAC0: Mac = Mac([0x52, 0x54, 0, 0x12, 0x34, 0x00]);
const MAC1: Mac = Mac([0x52, 0x54, 0, 0x12, 0x34, 0x01]);

pub(crate) fn link(index: u32, name: &str, mac: Option<Mac>, link_type: u16, flags: u32) -> Link {
    Link {
        index,
        name: name.into(),
        mac,
        flags,
        link_type,
        operstate: OperState::Unknown,
    }
}

/// lo, a sit tunnel, eth0 without carrier, eth1 with.
fn machine() -> Vec<Link> {
    vec![
        link(
            1,
            "lo",
            Some(Mac([0; 6])),
            ARPHRD_LOOPBACK,
            IFF_LOOPBACK | IFF_UP,
        ),
        link(2, "sit0", None, 776, 0),
        link(3, "eth0", Some(MAC0), ARPHRD_ETHER, IFF_UP),
        link(4, "eth1", Some(MAC1), ARPHRD_ETHER, IFF_UP | IFF_LOWER_UP),
    ]
}

fn param(value: &str) -> IpParam {
    parse_all(&[value]).unwrap().params.remove(0)
}

#[test]
fn selectors() {
    let links = machine();
    let dhcp = param("dhcp");
    let named = param("eth0:dhcp");
    let bootif = Some((MAC0, "01-52-54-00-12-34-00"));
    assert_eq!(Selector::new(&named, bootif), Selector::Name("eth0"));
    assert_eq!(
        Selector::new(&dhcp, bootif),
        Selector::Mac(MAC0, "01-52-54-00-12-34-00")
    );
    assert_eq!(Selector::new(&dhcp, None), Selector::FirstWithCarrier);
    let pick = |s: Selector<'_>| s.pick(&links).map(|l| l.name.clone());
    assert_eq!(pick(Selector::Name("eth0")).as_deref(), Some("eth0"));
    assert_eq!(pick(Selector::Name("eth7")), None);
    assert_eq!(pick(Selector::Mac(MAC0, "")).as_deref(), Some("eth0"));
    assert_eq!(pick(Selector::Mac(Mac([9; 6]), "")), None);
    // Skips lo, the tunnel and eth0 (no carrier).
    assert_eq!(pick(Selector::FirstWithCarrier).as_deref(), Some("eth1"));
}

#[test]
fn not_found_lists_what_was_seen() {
    let links = machine();
    assert_eq!(
        Selector::Name("eth7").not_found(&links, 20).to_string(),
        "ip=: interface eth7 did not appear within 20 s (interfaces seen: lo, sit0, eth0, \
         eth1): check the name, or leave it out to use the first one with a link"
    );
    assert_eq!(
        Selector::Mac(Mac([0xaa; 6]), "01-aa-aa-aa-aa-aa-aa")
            .not_found(&links, 20)
            .to_string(),
        "BOOTIF=01-aa-aa-aa-aa-aa-aa: no NIC has the MAC aa:aa:aa:aa:aa:aa after 20 s (NICs \
         seen: eth0 52:54:00:12:34:00, eth1 52:54:00:12:34:01): check the value, or name the \
         interface with ip=<iface>:dhcp"
    );
    assert_eq!(
        Selector::FirstWithCarrier
            .not_found(&links[..3], 5)
            .to_string(),
        "no interface got a carrier within 5 s (NICs seen: eth0 52:54:00:12:34:00): check \
         the cable and the switch port, or name the interface with ip=<iface>:dhcp"
    );
    assert_eq!(
        Selector::FirstWithCarrier
            .not_found(&links[..2], 5)
            .to_string(),
        "no Ethernet interface appeared within 5 s (interfaces seen: lo, sit0): check that \
         the NIC's driver is in the initrd"
    );
    assert_eq!(
        no_carrier(&links[2], &links, 20).to_string(),
        "no carrier on eth0 (52:54:00:12:34:00) after 20 s: check the cable and the switch \
         port, or choose another interface with ip=<iface>:dhcp (with a carrier: eth1)"
    );
}

#[test]
fn ifname_renames() {
    let links = machine();
    let want = |v: &str| IfName::parse(v).unwrap();
    assert_eq!(
        renames(&[want("lan0:52:54:00:12:34:01")], &links),
        Ok(vec![(4, "lan0".to_owned())])
    );
    // Already so named, or not there (yet): nothing to do.
    assert_eq!(
        renames(&[want("eth0:52:54:00:12:34:00")], &links),
        Ok(vec![])
    );
    assert_eq!(
        renames(&[want("lan0:02:00:00:00:00:01")], &links),
        Ok(vec![])
    );
    assert_eq!(
        renames(&[want("eth0:52:54:00:12:34:01")], &links)
            .unwrap_err()
            .to_string(),
        "ifname=eth0:52:54:00:12:34:01: the name eth0 is taken by another interface \
         (52:54:00:12:34:00): choose a name the kernel does not give, like lan0"
    );
}

#[test]
fn link_events_keep_the_list() {
    let mut links = machine();
    let mut eth2 = link(9, "eth2", None, ARPHRD_ETHER, 0);
    update(&mut links, LinkEvent::Changed(eth2.clone()));
    eth2.flags = IFF_UP | IFF_LOWER_UP;
    update(&mut links, LinkEvent::Changed(eth2.clone()));
    assert_eq!(links.last(), Some(&eth2));
    update(&mut links, LinkEvent::Removed(2));
    let names: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["lo", "eth0", "eth1", "eth2"]);
}

fn lease() -> Lease {
    Lease {
        address: Ipv4Addr::new(10, 0, 2, 15),
        prefix: 24,
        routers: vec![Ipv4Addr::new(10, 0, 2, 2), Ipv4Addr::new(10, 0, 2, 1)],
        dns: vec![Ipv4Addr::new(10, 0, 2, 3)],
        hostname: Some("from-dhcp".into()),
        domain: Some("example.org".into()),
        lease_secs: Some(86400),
        server: Ipv4Addr::new(10, 0, 2, 2),
    }
}

#[test]
fn lease_state_and_files() {
    let state = NetState::from_lease("eth0", Some(MAC0), &param("dhcp"), &lease());
    assert_eq!(
        state.summary(),
        "iface=eth0\nmac=52:54:00:12:34:00\nsource=dhcp\naddress=10.0.2.15\nprefix=24\n\
         netmask=255.255.255.0\ngateway=10.0.2.2\ndns=10.0.2.3\nhostname=from-dhcp\n\
         domain=example.org\nserver=10.0.2.2\nlease=86400\n"
    );
    assert_eq!(
        state.resolv_conf(),
        "# Written by stage-1 from DHCP on eth0.\nsearch example.org\nnameserver 10.0.2.3\n"
    );
    // What ip= gives wins: gateway, DNS, hostname.
    let given = param(":::::eth0:dhcp:9.9.9.9:1.1.1.1");
    let mut given_gw = given.clone();
    given_gw.gateway = Some(Ipv4Addr::new(10, 0, 2, 254));
    given_gw.hostname = Some("node1".into());
    let state = NetState::from_lease("eth0", Some(MAC0), &given_gw, &lease());
    assert_eq!(state.gateway, Some(Ipv4Addr::new(10, 0, 2, 254)));
    assert_eq!(
        state.dns,
        [Ipv4Addr::new(9, 9, 9, 9), Ipv4Addr::new(1, 1, 1, 1)]
    );
    assert_eq!(state.hostname.as_deref(), Some("node1"));
    let mut infinite = lease();
    infinite.lease_secs = Some(u32::MAX);
    let state = NetState::from_lease("eth0", None, &given, &infinite);
    assert!(state.summary().ends_with("lease=infinite\n"));
    assert!(!state.summary().contains("mac="));
}

#[test]
fn static_state() {
    let p = param("10.213.1.5::10.213.1.1:255.255.255.0:node5:veth-c:off:10.213.1.53");
    let state = NetState::from_static("veth-c", Some(MAC1), &p).unwrap();
    assert_eq!(
        state.summary(),
        "iface=veth-c\nmac=52:54:00:12:34:01\nsource=static\naddress=10.213.1.5\nprefix=24\n\
         netmask=255.255.255.0\ngateway=10.213.1.1\ndns=10.213.1.53\nhostname=node5\n"
    );
    assert_eq!(
        state.resolv_conf(),
        "# Written by stage-1 from ip= for veth-c.\nnameserver 10.213.1.53\n"
    );
    assert_eq!(NetState::from_static("eth0", None, &param("dhcp")), None);
}

#[test]
fn names_from_servers_are_checked() {
    let mut evil = lease();
    evil.domain = Some("lan\nnameserver 6.6.6.6".into());
    evil.hostname = Some("a b".into());
    let state = NetState::from_lease("eth0", None, &param("dhcp"), &evil);
    assert_eq!((state.domain, state.hostname), (None, None));
    assert_eq!(
        clean_name("domain", Some("a-b_c.example".into())).as_deref(),
        Some("a-b_c.example")
    );
    assert_eq!(clean_name("domain", Some(String::new())), None);
}

#[test]
fn subnets() {
    let a = Ipv4Addr::new(10, 0, 2, 15);
    assert!(in_subnet(Ipv4Addr::new(10, 0, 2, 1), a, 24));
    assert!(!in_subnet(Ipv4Addr::new(10, 0, 3, 1), a, 24));
    assert!(!in_subnet(Ipv4Addr::new(10, 0, 2, 1), a, 32));
    assert!(in_subnet(Ipv4Addr::new(192, 0, 2, 1), a, 0));
}

#[test]
fn nothing_to_do_without_ip() {
    let off = parse_all(&["off"]).unwrap();
    assert_eq!(configure(&off, None, &[], &Options::default()), Ok(vec![]));
    assert_eq!(
        configure(&NetConfig::default(), None, &[], &Options::default()),
        Ok(vec![])
    );
}

#[test]
fn bad_bootif_and_ifname_values() {
    let dhcp = parse_all(&["dhcp"]).unwrap();
    let err = configure(&dhcp, Some("01-52-54"), &[], &Options::default()).unwrap_err();
    assert!(err.0.starts_with("BOOTIF=01-52-54: "), "{err}");
    let err = configure(&dhcp, None, &["lan0".into()], &Options::default()).unwrap_err();
    assert!(err.0.starts_with("ifname=lan0: "), "{err}");
}

/// Real runs as root: a client and a server network namespace joined by a
/// veth pair, dnsmasq serving 10.213.x.0/24 on the server side only, and
/// [`configure`] run inside the client namespace by this test binary itself
/// (`ip netns exec … <binary> --exact …::helper`). Nothing leaves the
/// machine. They need root with `ip`, and `dnsmasq` for the DHCP ones
/// (Debian: `dnsmasq-base`); without, they print `SKIPPING …` (and fail
/// under `CI=true`).
mod netns {
    use std::path::PathBuf;
    use std::process::{Child, Command, Output, Stdio};
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    const ENV_IP: &str = "STAGE1_NETNS_IP";
    const ENV_BOOTIF: &str = "STAGE1_NETNS_BOOTIF";
    const ENV_IFNAME: &str = "STAGE1_NETNS_IFNAME";
    const ENV_LINK_SECS: &str = "STAGE1_NETNS_LINK_SECS";
    const ENV_DHCP_SECS: &str = "STAGE1_NETNS_DHCP_SECS";
    /// The carried network's text: `restore` instead of `configure`.
    const ENV_CARRY: &str = "STAGE1_NETNS_CARRY";
    static COUNTER: AtomicU32 = AtomicU32::new(0);

    fn missing(need_dnsmasq: bool) -> Option<&'static str> {
        let runs = |cmd: &str, arg: &str| {
            Command::new(cmd)
                .arg(arg)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !rustix::process::geteuid().is_root() {
            Some("network namespace tests need root")
        } else if !runs("ip", "-V") {
            Some("no `ip` (iproute2)")
        } else if need_dnsmasq && !runs("dnsmasq", "--version") {
            Some("no dnsmasq (Debian: apt-get install dnsmasq-base)")
        } else {
            None
        }
    }

    /// Runs `ip ARGS`; stdout, or stderr as the error.
    fn ip(args: &[&str]) -> Result<String, String> {
        let out = Command::new("ip")
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// The two namespaces, the veth pair (`veth-c` with `mac` in the client
    /// one, `veth-s` with 10.213.`subnet`.1/24 in the server one) and
    /// dnsmasq; all removed on drop.
    struct Pair {
        client: String,
        server: String,
        subnet: u8,
        dnsmasq: Option<Child>,
        dir: PathBuf,
    }

    impl Pair {
        /// `Err` when namespaces cannot be made here (the test skips).
        fn new(subnet: u8, mac: &str) -> Result<Self, String> {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let tag = format!("s1t-{}-{n}", std::process::id());
            let dir = std::env::temp_dir().join(&tag);
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let mut pair = Self {
                client: format!("{tag}-c"),
                server: format!("{tag}-s"),
                subnet,
                dnsmasq: None,
                dir,
            };
            ip(&["netns", "add", &pair.client])?;
            if let Err(e) = ip(&["netns", "add", &pair.server]) {
                pair.server.clear();
                return Err(e);
            }
            let (c, s) = (pair.client.clone(), pair.server.clone());
            let gw = format!("{}/24", pair.gateway());
            ip(&[
                "link", "add", "veth-c", "netns", &c, "address", mac, "type", "veth", "peer",
                "name", "veth-s", "netns", &s,
            ])?;
            ip(&["-n", &s, "addr", "add", &gw, "dev", "veth-s"])?;
            ip(&["-n", &s, "link", "set", "veth-s", "up"])?;
            ip(&["-n", &s, "link", "set", "lo", "up"])?;
            Ok(pair)
        }

        fn gateway(&self) -> String {
            format!("10.213.{}.1", self.subnet)
        }

        /// dnsmasq on `veth-s` only, no DNS, leases 10.213.x.50–99 for 1 h.
        fn start_dnsmasq(&mut self) {
            let net = format!("10.213.{}", self.subnet);
            let child = Command::new("ip")
                .args(["netns", "exec", &self.server, "dnsmasq", "--no-daemon"])
                .arg("--conf-file=/dev/null")
                .arg("--port=0")
                .arg("--interface=veth-s")
                .arg("--bind-interfaces")
                .arg("--no-ping")
                .arg("--dhcp-authoritative")
                .arg(format!("--dhcp-range={net}.50,{net}.99,255.255.255.0,1h"))
                .arg(format!("--dhcp-option=option:router,{net}.1"))
                .arg(format!("--dhcp-option=option:dns-server,{net}.1"))
                .arg("--domain=netns.test")
                .arg(format!(
                    "--dhcp-leasefile={}",
                    self.dir.join("leases").display()
                ))
                .arg(format!("--pid-file={}", self.dir.join("pid").display()))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting dnsmasq");
            self.dnsmasq = Some(child);
        }

        /// Runs [`helper`] in the client namespace; its report or error.
        fn configure(&self, env: &[(&str, &str)]) -> Result<String, String> {
            let exe = std::env::current_exe().unwrap();
            let out: Output = Command::new("ip")
                .args(["netns", "exec", &self.client])
                .arg(exe)
                .args(["--exact", "setup::tests::netns::helper"])
                .args(["--nocapture", "--test-threads=1", "-q"])
                .envs(env.iter().copied())
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let report = stdout
                .split_once("<<<")
                .and_then(|(_, rest)| rest.split_once(">>>"))
                .map(|(r, _)| r.trim().to_owned());
            match report {
                Some(r) => match r.strip_prefix("ERROR: ") {
                    Some(e) => Err(e.to_owned()),
                    None => Ok(r),
                },
                None => panic!(
                    "helper said nothing: {stdout}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                ),
            }
        }

        fn client_ip(&self, args: &[&str]) -> String {
            let mut all = vec!["-n", self.client.as_str()];
            all.extend(args);
            ip(&all).unwrap()
        }
    }

    impl Drop for Pair {
        fn drop(&mut self) {
            if let Some(mut child) = self.dnsmasq.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
            for ns in [&self.client, &self.server] {
                if !ns.is_empty() {
                    if let Err(e) = ip(&["netns", "del", ns]) {
                        eprintln!("cleaning up: {e}");
                    }
                }
            }
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// Prints `SKIPPING <test>: <why>`, where the test is the running one
    /// (the harness names its thread so). With `CI=true`, where every test
    /// must run, it panics with the reason instead.
    fn skipping(why: &str) {
        let thread = std::thread::current();
        let test = thread.name().unwrap_or("a network namespace test");
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test} cannot run (and CI=true allows no skipping): {why}"
        );
        eprintln!("SKIPPING {test}: {why}");
    }

    /// Skips the test (returns, see [`skipping`]) unless it can run; then
    /// the pair.
    macro_rules! pair_or_skip {
        ($dnsmasq:expr, $subnet:expr, $mac:expr) => {{
            if let Some(why) = missing($dnsmasq) {
                skipping(why);
                return;
            }
            match Pair::new($subnet, $mac) {
                Ok(pair) => pair,
                Err(e) => {
                    skipping(&format!("cannot make network namespaces here: {e}"));
                    return;
                }
            }
        }};
    }

    /// Inside the client namespace (only when [`Pair::configure`] runs it):
    /// `configure` with the parameters from the environment, reported
    /// between `<<<` and `>>>`. A no-op in a normal test run.
    #[test]
    fn helper() {
        let env = |k: &str| std::env::var(k).ok();
        if let Some(text) = env(ENV_CARRY) {
            match restore::restore(&text, Duration::from_secs(2)) {
                Ok(r) => println!(
                    "<<<{}--\n{}--\n{:?} {:?} {:?}>>>",
                    r.summary, r.resolver, r.configured, r.missing, r.hostname
                ),
                Err(e) => println!("<<<ERROR: {e}>>>"),
            }
            return;
        }
        let Ok(ip) = std::env::var(ENV_IP) else {
            return;
        };
        let secs = |k: &str, default: u64| {
            Duration::from_secs(env(k).and_then(|v| v.parse().ok()).unwrap_or(default))
        };
        let values: Vec<&str> = ip.split(' ').collect();
        let config = parse_all(&values).unwrap();
        let opts = Options {
            link_timeout: secs(ENV_LINK_SECS, 10),
            dhcp: dhcp_client::Options {
                timeout: secs(ENV_DHCP_SECS, 20),
                ..dhcp_client::Options::default()
            },
        };
        let ifnames: Vec<String> = env(ENV_IFNAME).into_iter().collect();
        match configure(&config, env(ENV_BOOTIF).as_deref(), &ifnames, &opts) {
            Ok(states) => {
                let mut out = String::new();
                for s in states {
                    out.push_str(&s.summary());
                    out.push_str("--\n");
                    out.push_str(&s.resolv_conf());
                }
                println!("<<<{out}>>>");
            }
            Err(e) => println!("<<<ERROR: {e}>>>"),
        }
    }

    fn assert_has(haystack: &str, needle: &str) {
        assert!(haystack.contains(needle), "no {needle:?} in:\n{haystack}");
    }

    #[test]
    fn dhcp_in_a_netns() {
        let mut pair = pair_or_skip!(true, 11, "52:54:00:d1:0b:01");
        pair.start_dnsmasq();
        let report = pair.configure(&[(ENV_IP, "dhcp")]).unwrap();
        for line in [
            "iface=veth-c\n",
            "mac=52:54:00:d1:0b:01\n",
            "source=dhcp\n",
            "address=10.213.11.",
            "prefix=24\n",
            "gateway=10.213.11.1\n",
            "dns=10.213.11.1\n",
            "domain=netns.test\n",
            "server=10.213.11.1\n",
            "lease=3600\n",
            "search netns.test\nnameserver 10.213.11.1",
        ] {
            assert_has(&report, line);
        }
        let addr = pair.client_ip(&["-4", "addr", "show", "dev", "veth-c"]);
        assert_has(&addr, "inet 10.213.11.");
        assert_has(&addr, "/24 brd 10.213.11.255 ");
        // iproute2 leaves out "proto boot" (its default); filter by it.
        let routes = pair.client_ip(&["-4", "route", "show", "proto", "boot"]);
        assert_has(&routes, "default via 10.213.11.1 dev veth-c ");
        let all = pair.client_ip(&["-4", "route", "show", "table", "all"]);
        assert!(!all.contains("255.255.255.255 dev"), "{all}");
        assert_has(&pair.client_ip(&["link", "show", "lo"]), ",UP,");
    }

    #[test]
    fn static_in_a_netns() {
        let pair = pair_or_skip!(false, 1, "52:54:00:d1:01:01");
        let ip = "10.213.1.5::10.213.1.1:255.255.255.0::veth-c:off";
        let report = pair.configure(&[(ENV_IP, ip)]).unwrap();
        assert_has(&report, "source=static\naddress=10.213.1.5\nprefix=24\n");
        let addr = pair.client_ip(&["-4", "addr", "show", "dev", "veth-c"]);
        assert_has(&addr, "inet 10.213.1.5/24 brd 10.213.1.255 ");
        let routes = pair.client_ip(&["-4", "route", "show", "proto", "boot"]);
        assert_has(&routes, "default via 10.213.1.1 dev veth-c ");
        // Configuring again: the address is there, the route too; fine.
        pair.configure(&[(ENV_IP, ip)]).unwrap();
    }

    #[test]
    fn bootif_and_ifname_in_a_netns() {
        let mut pair = pair_or_skip!(true, 12, "52:54:00:d1:0c:01");
        pair.start_dnsmasq();
        let report = pair
            .configure(&[
                (ENV_IP, "dhcp"),
                (ENV_BOOTIF, "01-52-54-00-d1-0c-01"),
                (ENV_IFNAME, "boot0:52:54:00:d1:0c:01"),
            ])
            .unwrap();
        assert_has(&report, "iface=boot0\n");
        let addr = pair.client_ip(&["-4", "addr", "show", "dev", "boot0"]);
        assert_has(&addr, "inet 10.213.12.");
        assert_has(
            &pair.client_ip(&["-4", "route", "show", "proto", "boot"]),
            "default via 10.213.12.1 dev boot0 ",
        );
    }

    #[test]
    fn errors_in_a_netns() {
        let pair = pair_or_skip!(false, 13, "52:54:00:d1:0d:01");
        let fast = (ENV_LINK_SECS, "1");
        let err = pair
            .configure(&[(ENV_IP, "dhcp"), (ENV_BOOTIF, "01-52-54-00-00-00-99"), fast])
            .unwrap_err();
        assert_eq!(
            err,
            "BOOTIF=01-52-54-00-00-00-99: no NIC has the MAC 52:54:00:00:00:99 after 1 s \
             (NICs seen: veth-c 52:54:00:d1:0d:01): check the value, or name the interface \
             with ip=<iface>:dhcp"
        );
        let err = pair.configure(&[(ENV_IP, "eth9:dhcp"), fast]).unwrap_err();
        assert_has(
            &err,
            "interface eth9 did not appear within 1 s (interfaces seen: lo, veth-c)",
        );
        // No server: the DHCP deadline, and the broadcast route is gone.
        let err = pair
            .configure(&[(ENV_IP, "veth-c:dhcp"), (ENV_DHCP_SECS, "2")])
            .unwrap_err();
        assert_eq!(
            err,
            "no DHCP answer on veth-c (52:54:00:d1:0d:01) after 2 s: check the cable/switch \
             and that a DHCP server serves this network, or use a static ip="
        );
        assert!(!pair
            .client_ip(&["-4", "route", "show"])
            .contains("255.255.255.255"));
        // The peer down: no carrier.
        ip(&["-n", &pair.server, "link", "set", "veth-s", "down"]).unwrap();
        let err = pair
            .configure(&[(ENV_IP, "veth-c:dhcp"), fast])
            .unwrap_err();
        assert_has(&err, "no carrier on veth-c (52:54:00:d1:0d:01) after 1 s");
    }

    /// The carried network of `init kexec --carry-network` back on the
    /// veth with its MAC: IPv4 and IPv6 addresses, an on-link route, a
    /// default route via the server's end, an IPv6 one via a link-local
    /// gateway, an IPv4 route via that IPv6 gateway; a line not understood
    /// and a MAC nobody has are reported, the rest goes on; the kernel sees
    /// it all.
    #[test]
    fn restore_in_a_netns() {
        let pair = pair_or_skip!(false, 14, "52:54:00:d1:0e:01");
        let text = "# carried\nhostname rescue\nnameserver 10.213.14.1\nnameserver fd00::3\n\
                    search example.org\nlink 52:54:00:d1:0e:01 eth0\naddress 10.213.14.77/24\n\
                    address fd00:14::77/64\nroute 10.99.0.0/16\n\
                    route 0.0.0.0/0 via 10.213.14.1\nroute ::/0 via fe80::1\n\
                    route 10.98.0.0/16 via fe80::1 onlink\nbogus line\n\
                    link 52:54:00:d1:0e:99 eth1\naddress 10.1.1.1/24\n";
        let report = pair.configure(&[(ENV_CARRY, text)]).unwrap();
        assert_eq!(
            report,
            "iface=veth-c\nmac=52:54:00:d1:0e:01\nsource=carried\naddress=10.213.14.77/24\n\
             address=fd00:14::77/64\nroute=10.99.0.0/16\nroute=0.0.0.0/0 via 10.213.14.1\n\
             route=::/0 via fe80::1\nroute=10.98.0.0/16 via fe80::1 onlink\n--\nnameserver 10.213.14.1\nnameserver fd00::3\n\
             search example.org\n--\n[\"veth-c 10.213.14.77/24 fd00:14::77/64\"] \
             [Mac([82, 84, 0, 209, 14, 153])] Some(\"rescue\")"
        );
        let addrs = pair.client_ip(&["addr", "show", "dev", "veth-c"]);
        assert_has(&addrs, "inet 10.213.14.77/24");
        assert_has(&addrs, "inet6 fd00:14::77/64");
        let routes = pair.client_ip(&["-4", "route", "show"]);
        assert_has(&routes, "default via 10.213.14.1 dev veth-c");
        assert_has(&routes, "10.99.0.0/16 dev veth-c scope link");
        // IPv4 via an IPv6 gateway (RTA_VIA), as Hetzner's rescue has it.
        assert_has(&routes, "10.98.0.0/16 via inet6 fe80::1 dev veth-c");
        let routes = pair.client_ip(&["-6", "route", "show"]);
        assert_has(&routes, "default via fe80::1 dev veth-c");
    }
}
