//! `net::config::parse_all`: `ip=` values, one per line (several
//! lines are several `ip=` parameters, as on a command line), in the
//! kernel's and dracut's forms; `BOOTIF=`/`ifname=`/MACs through `mac`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use net::config::{netmask_from_prefix, parse_all, prefix_from_netmask};
use net::mac::{IfName, Mac};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let values: Vec<&str> = text.lines().take(8).collect();
    if let Ok(config) = parse_all(&values) {
        let _ = config.wants_network();
    }
    for v in &values {
        let _ = Mac::parse(v);
        let _ = Mac::parse_bootif(v);
        let _ = IfName::parse(v);
    }
    if let [a, b, c, d, ..] = data {
        let mask = std::net::Ipv4Addr::new(*a, *b, *c, *d);
        if let Some(prefix) = prefix_from_netmask(mask) {
            assert_eq!(netmask_from_prefix(prefix), mask);
        }
    }
});
