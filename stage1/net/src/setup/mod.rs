//! From `ip=`, `BOOTIF=` and `ifname=` to a configured network
//! ([`configure`]), and what came of it ([`NetState`]).
//!
//! # Operation, per `ip=` that is not `off`
//!
//! 1. `ifname=<name>:<mac>`: a NIC with that MAC is renamed (`RTM_NEWLINK`
//!    with `IFLA_IFNAME`, taken down first if it was up), also one that
//!    appears while we wait, so that `ip=<name>:…` can use the new name.
//!    A name another NIC already has is an error (pick one the kernel does
//!    not give, like `lan0`).
//! 2. The interface: the `ip=` device, else the NIC with the `BOOTIF=` MAC,
//!    else the first Ethernet interface that gets a carrier (all of them
//!    are brought up to find out; the others go down again). A NIC whose
//!    driver is still loading is waited for.
//! 3. dracut's `<macaddr>` and `<mtu>`, then link up and the wait for
//!    carrier (`IFF_LOWER_UP`). `lo` is brought up once, first.
//! 4. DHCP ([`crate::dhcp_client`]) or the static address; values given in
//!    `ip=` (gateway, DNS, hostname) win over the lease's. Then the address
//!    and a default route via the gateway (`proto boot`), with an on-link
//!    route to a gateway outside the subnet first.
//!
//! Waits are event-driven: a socket subscribed to `RTNLGRP_LINK` is opened
//! before the first dump and polled with the deadline ([`Options`]), no
//! sleeps. Each error is one line naming the value and what to do; a name
//! or MAC that matches nothing lists the interfaces seen.
//!
//! What came of it ([`NetState`]) and its text in `/run/init/net` are in
//! `state.rs`.
use std::fmt;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::config::{netmask_from_prefix, IpParam, Method, NetConfig};
use crate::dhcp_client::{self, DhcpError};
use crate::mac::{IfName, Mac};
use crate::rtnl::{Link, LinkChange, LinkEvent, LinkEvents, Rtnl, IFF_UP};

/// The network `init kexec --carry-network` carried over, put back (a
/// module of its own, not re-exported: it uses this module's `Watch`).
pub mod restore;
mod state;
pub use state::{NetState, Source};

/// How long to wait, per interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// For the interface to appear and get a carrier.
    pub link_timeout: Duration,
    pub dhcp: dhcp_client::Options,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            link_timeout: Duration::from_secs(20),
            dhcp: dhcp_client::Options::default(),
        }
    }
}

/// A failed step, as one console line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError(pub String);

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

impl From<DhcpError> for SetupError {
    fn from(e: DhcpError) -> Self {
        Self(e.to_string())
    }
}

/// How an `ip=` picks its interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector<'a> {
    /// The `ip=` device.
    Name(&'a str),
    /// `BOOTIF=`: the MAC and the value as given.
    Mac(Mac, &'a str),
    /// Neither: the first Ethernet interface with a carrier.
    FirstWithCarrier,
}

impl<'a> Selector<'a> {
    pub fn new(param: &'a IpParam, bootif: Option<(Mac, &'a str)>) -> Self {
        match (&param.iface, bootif) {
            (Some(name), _) => Self::Name(name),
            (None, Some((mac, raw))) => Self::Mac(mac, raw),
            (None, None) => Self::FirstWithCarrier,
        }
    }

    /// The chosen link among `links` (index order), if it is there yet.
    pub fn pick(self, links: &[Link]) -> Option<&Link> {
        match self {
            Self::Name(name) => links.iter().find(|l| l.name == name),
            Self::Mac(mac, _) => links.iter().find(|l| l.mac == Some(mac) && l.is_ethernet()),
            Self::FirstWithCarrier => links.iter().find(|l| l.is_ethernet() && l.has_carrier()),
        }
    }

    /// Why nothing was picked within `secs`, listing what was seen.
    pub fn not_found(self, links: &[Link], secs: u64) -> SetupError {
        let names: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
        let names = names.join(", ");
        let nics: Vec<String> = links
            .iter()
            .filter(|l| l.is_ethernet())
            .map(|l| match l.mac {
                Some(mac) => format!("{} {mac}", l.name),
                None => l.name.clone(),
            })
            .collect();
        let nics = if nics.is_empty() {
            "none".to_owned()
        } else {
            nics.join(", ")
        };
        SetupError(match self {
            Self::Name(name) => format!(
                "ip=: interface {name} did not appear within {secs} s (interfaces seen: \
                 {names}): check the name, or leave it out to use the first one with a link"
            ),
            Self::Mac(mac, raw) => format!(
                "BOOTIF={raw}: no NIC has the MAC {mac} after {secs} s (NICs seen: {nics}): \
                 check the value, or name the interface with ip=<iface>:dhcp"
            ),
            Self::FirstWithCarrier if nics == "none" => format!(
                "no Ethernet interface appeared within {secs} s (interfaces seen: {names}): \
                 check that the NIC's driver is in the initrd"
            ),
            Self::FirstWithCarrier => format!(
                "no interface got a carrier within {secs} s (NICs seen: {nics}): check the \
                 cable and the switch port, or name the interface with ip=<iface>:dhcp"
            ),
        })
    }
}

/// The renames `ifname=` asks for among `links`: `(index, new name)`.
/// NICs not there yet are skipped (they are renamed when they appear).
pub fn renames(ifnames: &[IfName], links: &[Link]) -> Result<Vec<(u32, String)>, SetupError> {
    let mut out = Vec::new();
    for want in ifnames {
        let Some(link) = links.iter().find(|l| l.mac == Some(want.mac)) else {
            continue;
        };
        if link.name == want.name {
            continue;
        }
        if let Some(other) = links.iter().find(|l| l.name == want.name) {
            let mac = other
                .mac
                .map_or_else(|| "no MAC".to_owned(), |m| m.to_string());
            return Err(SetupError(format!(
                "ifname={}:{}: the name {} is taken by another interface ({mac}): choose a \
                 name the kernel does not give, like lan0",
                want.name, want.mac, want.name
            )));
        }
        out.push((link.index, want.name.clone()));
    }
    Ok(out)
}

/// The links as they are now, kept current by link events.
struct Watch {
    rtnl: Rtnl,
    events: LinkEvents,
    links: Vec<Link>,
    ifnames: Vec<IfName>,
}

fn netlink_err(what: &str) -> impl FnOnce(std::io::Error) -> SetupError + '_ {
    move |e| SetupError(format!("network: {what}: {e}"))
}

impl Watch {
    fn open(ifnames: Vec<IfName>) -> Result<Self, SetupError> {
        let err = netlink_err("opening the rtnetlink socket (is CONFIG_NET on?)");
        // Subscribe first, then dump: no change falls in between.
        let events = LinkEvents::open().map_err(err)?;
        let mut watch = Self {
            rtnl: Rtnl::open().map_err(netlink_err("opening the rtnetlink socket"))?,
            events,
            links: Vec::new(),
            ifnames,
        };
        watch.refresh()?;
        Ok(watch)
    }

    fn refresh(&mut self) -> Result<(), SetupError> {
        self.links = self
            .rtnl
            .links()
            .map_err(netlink_err("listing the interfaces"))?;
        Ok(())
    }

    fn link(&self, index: u32) -> Option<&Link> {
        self.links.iter().find(|l| l.index == index)
    }

    fn change(&mut self, link: &Link, change: LinkChange<'_>) -> Result<(), SetupError> {
        self.rtnl.set_link(link.index, change).map_err(|e| {
            let what = match change {
                LinkChange::Up => "bringing it up".to_owned(),
                LinkChange::Down => "taking it down".to_owned(),
                LinkChange::Name(n) => format!("renaming it to {n}"),
                LinkChange::Mtu(m) => format!("setting the MTU {m} (from ip=)"),
                LinkChange::Mac(m) => format!("setting the MAC {m} (from ip=)"),
            };
            SetupError(format!("interface {}: {what}: {e}", link.name))
        })
    }

    fn apply_renames(&mut self) -> Result<(), SetupError> {
        for (index, name) in renames(&self.ifnames, &self.links)? {
            let Some(link) = self.link(index).cloned() else {
                continue;
            };
            if link.is_up() {
                self.change(&link, LinkChange::Down)?;
            }
            self.change(&link, LinkChange::Name(&name))?;
            log::info!("network: renamed {} to {name} (ifname=)", link.name);
            if let Some(l) = self.links.iter_mut().find(|l| l.index == index) {
                l.name = name;
                l.flags &= !IFF_UP;
            }
        }
        Ok(())
    }

    /// Calls `f` now and after every link change until it gives a link or
    /// `deadline` passes (`None`). One copy for every caller: a `dyn`
    /// closure and a `Link` result, not a generic inlined into each.
    #[inline(never)]
    fn wait_for(
        &mut self,
        deadline: Instant,
        f: &mut dyn FnMut(&mut Self) -> Result<Option<Link>, SetupError>,
    ) -> Result<Option<Link>, SetupError> {
        loop {
            self.apply_renames()?;
            if let Some(t) = f(self)? {
                return Ok(Some(t));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            let err = netlink_err("waiting for link events");
            if self.events.wait(deadline).map_err(err)? {
                let links = &mut self.links;
                let lost = self
                    .events
                    .drain(|ev| update(links, ev))
                    .map_err(netlink_err("reading link events"))?;
                if lost {
                    self.refresh()?;
                }
            }
        }
    }
}

fn update(links: &mut Vec<Link>, ev: LinkEvent) {
    match ev {
        LinkEvent::Changed(link) => {
            if let Some(old) = links.iter_mut().find(|l| l.index == link.index) {
                *old = link;
            } else {
                links.push(link);
                links.sort_by_key(|l| l.index);
            }
        }
        LinkEvent::Removed(index) => links.retain(|l| l.index != index),
    }
}

/// Configures every `ip=` that is not `off`, in order; see the module doc.
/// `bootif` and `ifnames` are the `BOOTIF=` and `ifname=` values as given.
pub fn configure(
    config: &NetConfig,
    bootif: Option<&str>,
    ifnames: &[String],
    opts: &Options,
) -> Result<Vec<NetState>, SetupError> {
    let params: Vec<&IpParam> = config
        .params
        .iter()
        .filter(|p| p.method != Method::Off)
        .collect();
    if params.is_empty() {
        return Ok(Vec::new());
    }
    let bootif = match bootif {
        Some(raw) => Some((
            Mac::parse_bootif(raw).map_err(|e| SetupError(e.to_string()))?,
            raw,
        )),
        None => None,
    };
    // Plain loops, not `collect::<Result<_, _>>()`: LTO turns those into
    // big monomorphised try_folds (both loops: -1,536 bytes).
    let mut names = Vec::with_capacity(ifnames.len());
    for v in ifnames {
        names.push(IfName::parse(v).map_err(|e| SetupError(e.to_string()))?);
    }
    let mut watch = Watch::open(names)?;
    if let Some(lo) = watch.links.iter().find(|l| l.is_loopback()).cloned() {
        if !lo.is_up() {
            watch.change(&lo, LinkChange::Up)?;
        }
    }
    let mut states = Vec::with_capacity(params.len());
    for param in params {
        states.push(configure_one(
            &mut watch,
            param,
            Selector::new(param, bootif),
            opts,
        )?);
    }
    Ok(states)
}

fn configure_one(
    watch: &mut Watch,
    param: &IpParam,
    selector: Selector<'_>,
    opts: &Options,
) -> Result<NetState, SetupError> {
    let deadline = Instant::now() + opts.link_timeout;
    let secs = opts.link_timeout.as_secs();
    let link = find_link(watch, selector, deadline)?
        .ok_or_else(|| selector.not_found(&watch.links, secs))?;
    if let Some(mac) = param.mac.filter(|m| link.mac != Some(*m)) {
        if watch.link(link.index).is_some_and(Link::is_up) {
            watch.change(&link, LinkChange::Down)?;
        }
        watch.change(&link, LinkChange::Mac(mac))?;
    }
    if let Some(mtu) = param.mtu {
        watch.change(&link, LinkChange::Mtu(mtu))?;
    }
    watch.change(&link, LinkChange::Up)?;
    let index = link.index;
    let link = watch
        .wait_for(deadline, &mut |w| {
            Ok(w.link(index).filter(|l| l.has_carrier()).cloned())
        })?
        .ok_or_else(|| no_carrier(&link, &watch.links, secs))?;
    let state = match NetState::from_static(&link.name, link.mac, param) {
        Some(state) => state,
        None => dhcp(&link, param, opts)?,
    };
    add_address_and_routes(watch, &state, index)?;
    log::info!(
        "network: {} is {}/{}{}",
        state.iface,
        state.address,
        state.prefix,
        state
            .gateway
            .map_or_else(String::new, |g| format!(" via {g}"))
    );
    Ok(state)
}

/// DHCP on `link`, with what `param` gives winning.
fn dhcp(link: &Link, param: &IpParam, opts: &Options) -> Result<NetState, SetupError> {
    let Some(mac) = link.mac else {
        return Err(SetupError(format!(
            "interface {} has no MAC address, so DHCP cannot run on it: use a static ip=",
            link.name
        )));
    };
    let mut dhcp = opts.dhcp.clone();
    dhcp.hostname = dhcp.hostname.or(param.hostname.clone());
    let lease = dhcp_client::obtain(&link.name, link.index, mac, dhcp)?;
    Ok(NetState::from_lease(&link.name, link.mac, param, &lease))
}

/// The link `selector` picks; for [`Selector::FirstWithCarrier`], every
/// Ethernet link is brought up to see, and the others put down again.
fn find_link(
    watch: &mut Watch,
    selector: Selector<'_>,
    deadline: Instant,
) -> Result<Option<Link>, SetupError> {
    if selector != Selector::FirstWithCarrier {
        return watch.wait_for(deadline, &mut |w| Ok(selector.pick(&w.links).cloned()));
    }
    let mut raised: Vec<u32> = Vec::new();
    let found = watch.wait_for(deadline, &mut |w| {
        let down: Vec<Link> = w
            .links
            .iter()
            .filter(|l| l.is_ethernet() && !l.is_up() && !raised.contains(&l.index))
            .cloned()
            .collect();
        for link in down {
            w.change(&link, LinkChange::Up)?;
            raised.push(link.index);
        }
        Ok(selector.pick(&w.links).cloned())
    })?;
    for index in raised {
        if found.as_ref().is_some_and(|l| l.index == index) {
            continue;
        }
        if let Err(e) = watch.rtnl.set_down(index) {
            log::warn!("network: taking interface {index} down again: {e}");
        }
    }
    Ok(found)
}

fn no_carrier(link: &Link, links: &[Link], secs: u64) -> SetupError {
    let with: Vec<&str> = links
        .iter()
        .filter(|l| l.is_ethernet() && l.has_carrier() && l.index != link.index)
        .map(|l| l.name.as_str())
        .collect();
    let others = if with.is_empty() {
        String::new()
    } else {
        format!(" (with a carrier: {})", with.join(", "))
    };
    let mac = link.mac.map_or_else(String::new, |m| format!(" ({m})"));
    SetupError(format!(
        "no carrier on {}{mac} after {secs} s: check the cable and the switch port, or \
         choose another interface with ip=<iface>:dhcp{others}",
        link.name
    ))
}

/// Whether `ip` is in `address/prefix`.
fn in_subnet(ip: Ipv4Addr, address: Ipv4Addr, prefix: u8) -> bool {
    let mask = u32::from(netmask_from_prefix(prefix));
    u32::from(ip) & mask == u32::from(address) & mask
}

fn add_address_and_routes(
    watch: &mut Watch,
    state: &NetState,
    index: u32,
) -> Result<(), SetupError> {
    let (iface, rtnl) = (&state.iface, &mut watch.rtnl);
    rtnl.add_address(index, state.address.into(), state.prefix)
        .map_err(|e| {
            SetupError(format!(
                "adding {}/{} to {iface}: {e}",
                state.address, state.prefix
            ))
        })?;
    let Some(gw) = state.gateway else {
        return Ok(());
    };
    let exists = |e: &std::io::Error| e.kind() == std::io::ErrorKind::AlreadyExists;
    if !in_subnet(gw, state.address, state.prefix) {
        match rtnl.add_route(gw.into(), 32, None, index) {
            Err(e) if !exists(&e) => {
                return Err(SetupError(format!(
                    "adding the on-link route to gateway {gw} on {iface}: {e}"
                )))
            }
            _ => {}
        }
    }
    match rtnl.add_default_route(gw, index) {
        Ok(()) => Ok(()),
        Err(e) if exists(&e) => {
            log::warn!(
                "network: a default route exists already; not adding one via {gw} on {iface}"
            );
            Ok(())
        }
        Err(e) => Err(SetupError(format!(
            "adding the default route via {gw} on {iface}: {e}: check the gateway \
             (ip= or the DHCP server's router option)"
        ))),
    }
}

#[cfg(test)]
pub(crate) mod tests;
