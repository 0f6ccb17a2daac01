//! [`restore`]: the network `init kexec --carry-network` carried over
//! ([`crate::carry`]), put back on the interfaces with the same MACs.
//!
//! Each carried MAC is waited for on an Ethernet interface (its driver may
//! still be loading) up to the link timeout. Then the file is applied line by line: a `link` line
//! brings that interface up, its `address` and `route` lines are added to
//! it (the file has on-link routes first). A route the kernel refuses, or
//! a line not understood, is a warning, not a failed boot: the addresses
//! matter most. The kernel's SLAAC is left on. New IPv6 addresses are then
//! watched until duplicate address detection settles (at most
//! [`DAD_WAIT`]): one that failed (`IFA_F_DADFAILED`) is a warning.
use std::fmt::Write as _;
use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::{find_link, netlink_err, Selector, SetupError, Watch};
use crate::carry::{parse_line, Item};
use crate::mac::Mac;
use crate::rtnl::{Link, LinkChange, Route, RouteOp, IFA_F_DADFAILED, IFA_F_TENTATIVE};

/// How long duplicate address detection may take: one probe a second
/// (`dad_transmits` 1, `retrans_time` 1 s) after the link is up.
pub const DAD_WAIT: Duration = Duration::from_secs(3);

/// What [`restore`] did, and the files it asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    /// Per interface that has its carried network, a line for the console:
    /// `eth0 10.0.2.77/24 fd00::77/64`.
    pub configured: Vec<String>,
    /// Carried MACs no interface has.
    pub missing: Vec<Mac>,
    /// `/run/init/net`: per interface `iface=`, `mac=`, `source=carried`,
    /// then `address=ADDRESS/PREFIX` and `route=DST/PREFIX[ via GW]` per
    /// carried line.
    pub summary: String,
    /// The `nameserver` and `search` lines, for `/etc/resolv.conf`.
    pub resolver: String,
    pub hostname: Option<String>,
}

/// Puts the carried network `text` back; see the module doc.
// Not inlined into the network setup: measured 960 bytes smaller
// together (LTO otherwise copies the shared netlink helpers in).
#[inline(never)]
pub fn restore(text: &str, link_timeout: Duration) -> Result<Restored, SetupError> {
    let macs: Vec<Mac> = text
        .lines()
        .filter_map(|l| match parse_line(l) {
            Some(Some(Item::Link(mac))) => Some(mac),
            _ => None,
        })
        .collect();
    let mut watch = Watch::open(Vec::new())?;
    // Each MAC waited for in turn, all within one deadline.
    let deadline = Instant::now() + link_timeout;
    let mut found = Vec::new();
    for mac in macs {
        if let Some(link) = find_link(&mut watch, Selector::Mac(mac, ""), deadline)? {
            found.push(link);
        }
    }
    let with = |mac: Mac| found.iter().find(|l| l.mac == Some(mac)).cloned();
    let mut done = Restored::default();
    let mut current: Option<Link> = None;
    let mut fresh6 = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(item) = parse_line(line) else {
            log::warn!(
                "network: carried line {}: `{line}` is not understood",
                n + 1
            );
            continue;
        };
        // Empty and comment lines.
        let Some(item) = item else { continue };
        match (item, &current) {
            (Item::Hostname(name), _) => done.hostname = Some(name.to_owned()),
            (Item::Resolver, _) => {
                done.resolver.push_str(line.trim());
                done.resolver.push('\n');
            }
            (Item::Link(mac), _) => {
                current = with(mac);
                let Some(link) = &current else {
                    done.missing.push(mac);
                    continue;
                };
                watch.change(link, LinkChange::Up)?;
                let _ = write!(
                    done.summary,
                    "iface={}\nmac={mac}\nsource=carried\n",
                    link.name
                );
                done.configured.push(link.name.clone());
            }
            (Item::Address(ip, prefix), Some(link)) => {
                watch
                    .rtnl
                    .add_address(link.index, ip, prefix)
                    .map_err(|e| {
                        SetupError(format!(
                            "adding the carried {ip}/{prefix} to {}: {e}",
                            link.name
                        ))
                    })?;
                if ip.is_ipv6() {
                    fresh6.push((link.index, ip));
                }
                let _ = writeln!(done.summary, "address={ip}/{prefix}");
                if let Some(last) = done.configured.last_mut() {
                    let _ = write!(last, " {ip}/{prefix}");
                }
            }
            (Item::Route(route), Some(link)) => {
                let route = Route {
                    index: link.index,
                    ..route
                };
                let words = line.trim().split_once(' ').map_or("", |w| w.1);
                match watch.rtnl.route(RouteOp::Add, &route) {
                    Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                        log::warn!("network: the carried route {words} on {}: {e}", link.name);
                    }
                    _ => {
                        let _ = writeln!(done.summary, "route={words}");
                    }
                }
            }
            // The lines of a link no interface has (last: a `link` line
            // comes while no link is current).
            (_, None) => {}
        }
    }
    if !fresh6.is_empty() {
        check_duplicates(&mut watch, &fresh6)?;
    }
    Ok(done)
}

/// Waits for duplicate address detection on `fresh` (index, address) to
/// settle, then warns about each address another host has.
// Not inlined into the network setup: measured 960 bytes smaller
// together (LTO otherwise copies the shared netlink helpers in).
#[inline(never)]
fn check_duplicates(watch: &mut Watch, fresh: &[(u32, IpAddr)]) -> Result<(), SetupError> {
    let deadline = Instant::now() + DAD_WAIT;
    let mut events = crate::rtnl::AddressEvents::open()
        .map_err(netlink_err("opening the address event socket"))?;
    loop {
        let addresses = watch
            .rtnl
            .addresses()
            .map_err(netlink_err("listing the addresses"))?;
        let ours = addresses
            .iter()
            .filter(|a| fresh.contains(&(a.index, a.address)));
        let tentative = ours.clone().any(|a| a.flags & IFA_F_TENTATIVE != 0);
        if !tentative || !events.wait(deadline).map_err(netlink_err("waiting"))? {
            for a in ours.filter(|a| a.flags & IFA_F_DADFAILED != 0) {
                log::warn!(
                    "network: {} is in use by another host on the link (duplicate address \
                     detection failed): it stays unusable here",
                    a.address
                );
            }
            return Ok(());
        }
    }
}
