//! The network a running system hands to the next boot through kexec
//! (`init kexec --carry-network`), as nixos-images' kexec installer does
//! with `ip -json addr/route`: per interface, matched by MAC (kernel names
//! may differ between the two kernels), the static addresses and routes;
//! and the DNS servers, search domains and hostname.
//!
//! [`capture`] chooses from rtnetlink dumps and writes the file `network`
//! of the handover archive appended to the initrd (pure: tested with
//! made-up dumps); stage-1 reads it back line by line ([`parse_line`]) and
//! applies each line as it comes ([`crate::setup::restore`]): no model of
//! the whole is built, as the file is its own.
//!
//! # What is carried
//!
//! Interfaces with a MAC, not loopback. Addresses of global scope (not
//! `scope link` or `host`) that did not fail duplicate address detection;
//! of IPv6 only the permanent ones (SLAAC and DHCPv6 addresses come back by
//! themselves: the kernel's SLAAC stays on). A dynamic IPv4 address (a DHCP
//! lease with a lifetime) is carried as a static one: after kexec the
//! machine must answer on the address it had, and the installer it boots
//! lives for minutes, not for the lease. Routes of the main table, unicast,
//! one next hop, not made by the kernel, a router advertisement or DHCP
//! (`proto kernel|ra|dhcp`: they come back with the address, the RA, the
//! lease): destination, gateway (IPv4 via an IPv6 gateway too) and
//! `onlink`. Not carried: metrics, `src`, MTU, other tables, multipath
//! routes, bonds, bridges and VLANs.
//!
//! # The file
//!
//! One item a line, words separated by spaces; `#` starts a comment line.
//! `link` starts an interface's lines (its old name is for people); its
//! on-link routes come before those via a gateway, so that a gateway is
//! reachable when its route is added:
//!
//! ```text
//! hostname rescue
//! nameserver 10.0.2.3
//! nameserver fd00::3
//! search example.org
//! link 52:54:00:12:34:56 eth0
//! address 10.0.2.77/24
//! address fd00::77/64
//! route 10.9.0.0/16
//! route 0.0.0.0/0 via 10.0.2.2
//! route ::/0 via fe80::1
//! route 0.0.0.0/0 via fe80::1 onlink
//! ```
use std::fmt::Write as _;
use std::net::IpAddr;

use crate::dns::ResolvConf;
use crate::mac::Mac;
use crate::rtnl::{Address, Link, Route, RouteEntry, IFA_F_DADFAILED, IFA_F_PERMANENT};

/// The file's name in the handover directory.
pub const FILE: &str = "network";

/// `rtm_protocol`s of routes that come back by themselves.
const RTPROT_KERNEL: u8 = 2;
const RTPROT_RA: u8 = 9;
const RTPROT_DHCP: u8 = 16;
const RT_TABLE_MAIN: u32 = 254;
const RTN_UNICAST: u8 = 1;

/// What to carry of this system, from its dumps, `/etc/resolv.conf` and
/// hostname, as the file's text; see the module doc.
pub fn capture(
    links: &[Link],
    addresses: &[Address],
    routes: &[RouteEntry],
    resolv: &ResolvConf,
    hostname: &str,
) -> String {
    let mut out =
        String::from("# init kexec --carry-network: this system's network, for the next boot\n");
    let hostname = hostname.trim();
    if !hostname.is_empty() && hostname != "(none)" {
        let _ = writeln!(out, "hostname {hostname}");
    }
    for ns in &resolv.nameservers {
        let _ = writeln!(out, "nameserver {ns}");
    }
    if !resolv.search.is_empty() {
        let _ = writeln!(out, "search {}", resolv.search.join(" "));
    }
    for link in links.iter().filter(|l| !l.is_loopback()) {
        let Some(mac) = link.mac else { continue };
        let _ = writeln!(out, "link {mac} {}", link.name);
        for a in addresses {
            let keep = a.index == link.index
                && a.scope == 0
                && a.flags & IFA_F_DADFAILED == 0
                && (a.address.is_ipv4() || a.flags & IFA_F_PERMANENT != 0);
            if keep {
                let _ = writeln!(out, "address {}/{}", a.address, a.prefix);
            }
        }
        // On-link routes first (`false` sorts first).
        for via in [false, true] {
            for r in routes {
                let keep = r.route.index == link.index
                    && r.route.gateway.is_some() == via
                    && !r.multipath
                    && r.table == RT_TABLE_MAIN
                    && r.kind == RTN_UNICAST
                    && ![RTPROT_KERNEL, RTPROT_RA, RTPROT_DHCP].contains(&r.protocol);
                if !keep {
                    continue;
                }
                let _ = write!(out, "route {}/{}", r.route.dst, r.route.prefix);
                if let Some(gw) = r.route.gateway {
                    let _ = write!(out, " via {gw}");
                }
                out.push_str(if r.route.onlink { " onlink\n" } else { "\n" });
            }
        }
    }
    out
}

/// One line of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    Hostname(&'a str),
    /// A `nameserver` or `search` line, for `resolv.conf` as it is.
    Resolver,
    /// The interface the next lines are about.
    Link(Mac),
    Address(IpAddr, u8),
    /// A route through the current link (`index` 0).
    Route(Route),
}

/// `ADDRESS/PREFIX`, the prefix within the family's bits.
fn with_prefix(word: &str) -> Option<(IpAddr, u8)> {
    let (ip, prefix) = word.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    (prefix <= if ip.is_ipv4() { 32 } else { 128 }).then_some((ip, prefix))
}

/// One line of the file: `Some(None)` for an empty or comment line, `None`
/// for one that is not understood.
pub fn parse_line(line: &str) -> Option<Option<Item<'_>>> {
    let mut words = line.split_ascii_whitespace();
    let item = match (words.next(), words.next()) {
        (None, _) => return Some(None),
        (Some(w), _) if w.starts_with('#') => return Some(None),
        (Some("hostname"), Some(name)) => Item::Hostname(name),
        (Some("nameserver"), Some(ip)) => {
            ip.parse::<IpAddr>().ok()?;
            Item::Resolver
        }
        (Some("search"), _) => return Some(Some(Item::Resolver)),
        (Some("link"), Some(mac)) => return Some(Some(Item::Link(Mac::parse(mac)?))),
        (Some("address"), Some(a)) => {
            let (ip, prefix) = with_prefix(a)?;
            Item::Address(ip, prefix)
        }
        (Some("route"), Some(dst)) => {
            let (dst, prefix) = with_prefix(dst)?;
            let (gateway, onlink) = match (words.next(), words.next(), words.next()) {
                (None, None, None) => (None, false),
                (Some("via"), Some(gw), flag @ (None | Some("onlink"))) => {
                    (Some(gw.parse().ok()?), flag.is_some())
                }
                _ => return None,
            };
            Item::Route(Route {
                dst,
                prefix,
                gateway,
                index: 0,
                onlink,
            })
        }
        _ => return None,
    };
    // Nothing more on the line (a link's name is for people).
    words.next().is_none().then_some(Some(item))
}

#[cfg(test)]
mod tests;
