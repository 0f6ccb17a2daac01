//! What `configure` made of an interface ([`NetState`]), and its text for
//! people and stage-2.
//!
//! # `/run/init/net` ([`NetState::summary`])
//!
//! One `key=value` per line, in this order, a key left out when it has no
//! value; values have no spaces except `dns` (a space-separated list):
//!
//! ```text
//! iface=eth0
//! mac=52:54:00:12:34:56
//! source=dhcp            (or static)
//! address=10.0.2.15
//! prefix=24
//! netmask=255.255.255.0
//! gateway=10.0.2.2
//! dns=10.0.2.3 10.0.2.4
//! hostname=node1
//! domain=example.org
//! server=10.0.2.2        (DHCP: the server that gave the lease)
//! lease=86400            (DHCP: seconds, or "infinite")
//! ```
//!
//! With several interfaces the blocks follow each other, separated by an
//! empty line, in `ip=` order.
use std::fmt::{self, Write as _};
use std::net::Ipv4Addr;

use crate::config::{netmask_from_prefix, IpParam, Method};
use crate::lease::Lease;
use crate::mac::Mac;

/// Where the address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Dhcp,
    Static,
}

/// A configured interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetState {
    pub iface: String,
    pub mac: Option<Mac>,
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Option<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    pub hostname: Option<String>,
    pub domain: Option<String>,
    pub source: Source,
    /// DHCP: the server of the lease.
    pub server: Option<Ipv4Addr>,
    /// DHCP: the lease time in seconds (`u32::MAX`: infinite).
    pub lease_secs: Option<u32>,
}

/// A host or domain name fit for `resolv.conf` and the summary: letters,
/// digits, `-`, `_`, `.`; anything else from a server is dropped, with a
/// warning.
pub(super) fn clean_name(what: &str, name: Option<String>) -> Option<String> {
    let name = name?;
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !ok {
        log::warn!("network: ignoring the {what} {name:?}: not a valid name");
    }
    ok.then_some(name)
}

impl NetState {
    /// A lease, with what `ip=` gives winning.
    pub fn from_lease(iface: &str, mac: Option<Mac>, param: &IpParam, lease: &Lease) -> Self {
        Self {
            iface: iface.to_owned(),
            mac,
            address: lease.address,
            prefix: lease.prefix,
            gateway: param.gateway.or(lease.routers.first().copied()),
            dns: if param.dns.is_empty() {
                lease.dns.clone()
            } else {
                param.dns.clone()
            },
            hostname: clean_name(
                "hostname",
                param.hostname.clone().or(lease.hostname.clone()),
            ),
            domain: clean_name("domain", lease.domain.clone()),
            source: Source::Dhcp,
            server: Some(lease.server),
            lease_secs: lease.lease_secs,
        }
    }

    /// A static `ip=`; `None` unless its method is [`Method::Static`].
    pub fn from_static(iface: &str, mac: Option<Mac>, param: &IpParam) -> Option<Self> {
        let Method::Static { address, prefix } = param.method else {
            return None;
        };
        Some(Self {
            iface: iface.to_owned(),
            mac,
            address,
            prefix,
            gateway: param.gateway,
            dns: param.dns.clone(),
            hostname: clean_name("hostname", param.hostname.clone()),
            domain: None,
            source: Source::Static,
            server: None,
            lease_secs: None,
        })
    }

    /// `/etc/resolv.conf` for the new root: `search` and up to three
    /// `nameserver` lines (the resolver's limit, `MAXNS`).
    pub fn resolv_conf(&self) -> String {
        let mut out = match self.source {
            Source::Dhcp => format!("# Written by stage-1 from DHCP on {}.\n", self.iface),
            Source::Static => format!("# Written by stage-1 from ip= for {}.\n", self.iface),
        };
        if let Some(domain) = &self.domain {
            let _ = writeln!(out, "search {domain}");
        }
        for ns in self.dns.iter().take(3) {
            let _ = writeln!(out, "nameserver {ns}");
        }
        out
    }

    /// The `/run/init/net` block; see the module doc.
    pub fn summary(&self) -> String {
        let mut out = format!("iface={}\n", self.iface);
        let mut line = |key: &str, value: &dyn fmt::Display| {
            let _ = writeln!(out, "{key}={value}");
        };
        if let Some(mac) = &self.mac {
            line("mac", mac);
        }
        let source = match self.source {
            Source::Dhcp => "dhcp",
            Source::Static => "static",
        };
        line("source", &source);
        line("address", &self.address);
        line("prefix", &self.prefix);
        line("netmask", &netmask_from_prefix(self.prefix));
        if let Some(gw) = &self.gateway {
            line("gateway", gw);
        }
        if !self.dns.is_empty() {
            let list: Vec<String> = self.dns.iter().map(ToString::to_string).collect();
            line("dns", &list.join(" "));
        }
        if let Some(h) = &self.hostname {
            line("hostname", h);
        }
        if let Some(d) = &self.domain {
            line("domain", d);
        }
        if let Some(s) = &self.server {
            line("server", s);
        }
        match self.lease_secs {
            Some(u32::MAX) => line("lease", &"infinite"),
            Some(secs) => line("lease", &secs),
            None => {}
        }
        out
    }
}
