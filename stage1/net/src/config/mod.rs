//! The `ip=` kernel parameter as a typed value ([`NetConfig`]).
//!
//! Pure parsing; nothing here touches an interface. Start at [`parse_all`].
//! `ifname=` and `BOOTIF=` are in [`crate::mac`].
//!
//! # `ip=` forms (IPv4 only)
//!
//! * Bare: `ip=dhcp|on|any` (DHCP on the interface stage-1 picks),
//!   `ip=off|none` (no networking). `bootp`, `rarp` and `both` are the
//!   kernel's other protocols; they mean DHCP here, with a note.
//! * dracut's `ip=<interface>:<autoconf>[:[<mtu>][:<macaddr>]]`, e.g.
//!   `ip=eth0:dhcp` or `ip=eth0:off`.
//! * The kernel's `ip=<client>:<server>:<gw>:<netmask>:<hostname>:<device>:
//!   <autoconf>:<dns0>:<dns1>:<ntp0>`; trailing fields may be left out and an
//!   empty field (or `0.0.0.0`) means "not given". dracut's static form is the
//!   same up to `<autoconf>` and then has `[:[<mtu>][:<macaddr>]]`; the two are
//!   told apart by content: a number after `<autoconf>` is an MTU, an address
//!   is `<dns0>`, and a MAC (6 colon-separated fields) ends dracut's form.
//!
//! # Meaning, as the kernel's `net/ipv4/ipconfig.c`
//!
//! * With a `<client>` address the configuration is static, whatever
//!   `<autoconf>` says (a DHCP keyword gets a note). Without one, `off` or
//!   `none` turns networking off and anything else (also a missing
//!   `<autoconf>`) means DHCP; given values (gateway, hostname, DNS, …) then
//!   win over what the lease says.
//! * `<netmask>` is dotted (`255.255.255.0`, contiguous) or, as dracut
//!   allows, a prefix length (`24`); `<client>` may also be `10.0.0.2/24`.
//!   A missing netmask is derived from the address class like the kernel
//!   does (A: /8, B: /16, C: /24, with a note); class D/E addresses have no
//!   default and are an error.
//! * Several `ip=` (dracut: one per interface) must each name a different
//!   interface.
//!
//! Errors name the parameter and value (`ip=foo: unknown form; …`) and say
//! what is accepted; [`NetConfig::notes`] collects what was interpreted or
//! ignored, one line each, for the console.

use std::net::{Ipv4Addr, Ipv6Addr};

pub use crate::mac::ConfigError;
use crate::mac::{check_iface, Mac};

/// The accepted `ip=` forms, for error messages.
const FORMS: &str = "expected ip=dhcp|on|any|off|none, ip=<iface>:dhcp or \
     ip=<client>:<server>:<gw>:<netmask>:<hostname>:<device>:<autoconf>";
/// The accepted `<autoconf>` values, for error messages.
const AUTOCONF: &str = "off, none, on, any, dhcp, bootp, rarp or both";
/// The kernel's hostname limit (`__NEW_UTS_LEN`).
const MAX_HOSTNAME: usize = 64;

/// How an interface gets its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Leave it (or, without an interface, all networking) alone.
    Off,
    /// Ask a DHCP server.
    Dhcp,
    /// This address and prefix length.
    Static { address: Ipv4Addr, prefix: u8 },
}

/// One `ip=` parameter.
///
/// With [`Method::Dhcp`] the other fields are values given on the command
/// line that win over the lease's; with [`Method::Off`] only `iface` is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpParam {
    /// `<device>` / `<interface>`; `None` lets stage-1 choose (`BOOTIF=`,
    /// else the first interface with a link).
    pub iface: Option<String>,
    pub method: Method,
    pub gateway: Option<Ipv4Addr>,
    /// `<server>` (dracut: `<peer>`): the boot server.
    pub server: Option<Ipv4Addr>,
    pub hostname: Option<String>,
    /// `<dns0>`, `<dns1>`, in order.
    pub dns: Vec<Ipv4Addr>,
    /// `<ntp0>`.
    pub ntp: Vec<Ipv4Addr>,
    /// dracut's `<mtu>`.
    pub mtu: Option<u32>,
    /// dracut's `<macaddr>`: the MAC to set on the interface.
    pub mac: Option<Mac>,
}

impl IpParam {
    fn new(iface: Option<String>, method: Method) -> Self {
        Self {
            iface,
            method,
            gateway: None,
            server: None,
            hostname: None,
            dns: Vec::new(),
            ntp: Vec::new(),
            mtu: None,
            mac: None,
        }
    }
}

/// All `ip=` parameters of a command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetConfig {
    /// In command-line order; empty when no `ip=` was given.
    pub params: Vec<IpParam>,
    /// What was interpreted or ignored, one console line each.
    pub notes: Vec<String>,
}

impl NetConfig {
    /// Whether any interface is to be configured.
    pub fn wants_network(&self) -> bool {
        self.params.iter().any(|p| p.method != Method::Off)
    }
}

/// Parses every `ip=` value (without the `ip=`), in command-line order.
pub fn parse_all(values: &[&str]) -> Result<NetConfig, ConfigError> {
    let mut config = NetConfig::default();
    for value in values {
        let param = parse_one(value, &mut config.notes)?;
        if values.len() > 1 {
            let Some(iface) = &param.iface else {
                let reason = "several ip= are given, so each must name its interface \
                              (e.g. ip=eth0:dhcp ip=eth1:dhcp)";
                return Err(ConfigError::new("ip", value, reason));
            };
            if config
                .params
                .iter()
                .any(|p| p.iface.as_ref() == Some(iface))
            {
                let reason = format!("interface {iface} is already configured by an earlier ip=");
                return Err(ConfigError::new("ip", value, reason));
            }
        }
        config.params.push(param);
    }
    Ok(config)
}

/// An `<autoconf>` keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Off,
    Dhcp,
    /// `bootp`, `rarp`, `both`: done as DHCP.
    Legacy,
}

/// `Ok(None)` for a word that is no keyword; `Err` for known but unsupported ones.
fn proto(word: &str) -> Result<Option<Proto>, String> {
    Ok(Some(match word.to_ascii_lowercase().as_str() {
        "off" | "none" => Proto::Off,
        "dhcp" | "on" | "any" => Proto::Dhcp,
        "bootp" | "rarp" | "both" => Proto::Legacy,
        w @ ("dhcp6" | "auto6" | "link6" | "either6") => {
            return Err(format!(
                "IPv6 autoconf `{w}` is not supported, only IPv4 ({AUTOCONF})"
            ));
        }
        "ibft" => return Err(format!("iBFT is not supported; use {AUTOCONF}")),
        _ => return Ok(None),
    }))
}

/// An IPv6 address at the start, plain (`2001:db8::2::…`, split by our
/// `:`) or bracketed (dracut's `[2001:db8::2]`).
fn looks_ipv6(value: &str, fields: &[&str]) -> bool {
    let first = fields[0];
    if value.contains('[') {
        return true;
    }
    if first.is_empty() || first.parse::<Ipv4Addr>().is_ok() {
        return false;
    }
    // An IPv6 address has 3 to 8 colon-separated groups.
    (3..=fields.len().min(8)).any(|k| fields[..k].join(":").parse::<Ipv6Addr>().is_ok())
}

fn parse_one(value: &str, notes: &mut Vec<String>) -> Result<IpParam, ConfigError> {
    let err = |reason: String| ConfigError::new("ip", value, reason);
    let fields: Vec<&str> = value.split(':').collect();
    if value.is_empty() {
        return Err(err(format!("empty value; {FORMS}")));
    }
    if looks_ipv6(value, &fields) {
        return Err(err("IPv6 addresses are not supported, only IPv4".into()));
    }
    let first = fields[0];
    let legacy_note = |notes: &mut Vec<String>| {
        notes.push(format!(
            "ip={value}: BOOTP/RARP are not implemented, using DHCP"
        ));
    };
    // Bare keyword.
    if fields.len() == 1 {
        if let Some(p) = proto(first).map_err(err)? {
            if p == Proto::Legacy {
                legacy_note(notes);
            }
            let method = if p == Proto::Off {
                Method::Off
            } else {
                Method::Dhcp
            };
            return Ok(IpParam::new(None, method));
        }
    }
    // dracut's <interface>:<autoconf>[:[<mtu>][:<macaddr>]].
    let ipv4ish = first
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'/');
    if !ipv4ish {
        let p = match fields.get(1) {
            Some(word) => proto(word).map_err(err)?,
            None => None,
        };
        let Some(p) = p else {
            return Err(err(format!("unknown form; {FORMS}")));
        };
        check_iface(first).map_err(err)?;
        let method = match p {
            Proto::Off => Method::Off,
            Proto::Dhcp => Method::Dhcp,
            Proto::Legacy => {
                legacy_note(notes);
                Method::Dhcp
            }
        };
        let mut param = IpParam::new(Some(first.to_owned()), method);
        let mtu = fields.get(2).copied().unwrap_or("");
        if !mtu.is_empty() {
            param.mtu = Some(parse_mtu(mtu).map_err(err)?);
        }
        let tail = fields.get(3..).unwrap_or_default();
        if !tail.is_empty() {
            let mac = mac_from_fields(tail).ok_or_else(|| {
                err(format!(
                    "`{}` is not a MAC address (<iface>:<autoconf>:<mtu>:<macaddr>)",
                    tail.join(":")
                ))
            })?;
            param.mac = Some(mac);
        }
        return Ok(finish_off(param, value, notes));
    }
    parse_kernel_form(value, &fields, notes).map_err(err)
}

/// Clears what `off` ignores, with a note.
fn finish_off(mut param: IpParam, value: &str, notes: &mut Vec<String>) -> IpParam {
    if param.method == Method::Off {
        let cleared = IpParam::new(param.iface.take(), Method::Off);
        if param != IpParam::new(None, Method::Off) {
            notes.push(format!(
                "ip={value}: autoconf is off, the other fields are ignored"
            ));
        }
        return cleared;
    }
    param
}

/// A MAC in the fields after dracut's `<mtu>`: six fields, or one with `-`.
fn mac_from_fields(fields: &[&str]) -> Option<Mac> {
    match fields {
        [one] if one.contains('-') => Mac::parse(one),
        _ => Mac::from_fields(fields),
    }
}

fn parse_kernel_form(
    value: &str,
    fields: &[&str],
    notes: &mut Vec<String>,
) -> Result<IpParam, String> {
    let get = |i: usize| fields.get(i).copied().unwrap_or("");
    let (address, cidr) = parse_client(get(0))?;
    let server = opt_ip("server", get(1))?;
    let gateway = opt_ip("gateway", get(2))?;
    let mask = parse_mask(get(3))?;
    let hostname = match get(4) {
        "" => None,
        h if h.len() > MAX_HOSTNAME => {
            return Err(format!(
                "hostname `{h}` is longer than {MAX_HOSTNAME} bytes"
            ))
        }
        h => Some(h.to_owned()),
    };
    let iface = match get(5) {
        "" => None,
        dev => {
            check_iface(dev)?;
            Some(dev.to_owned())
        }
    };
    let autoconf = match get(6) {
        "" => None,
        word => Some(
            proto(word)?.ok_or_else(|| format!("autoconf `{word}` is not one of {AUTOCONF}"))?,
        ),
    };
    let method = match address {
        Some(address) => {
            if matches!(autoconf, Some(Proto::Dhcp | Proto::Legacy)) {
                notes.push(format!(
                    "ip={value}: a client address is given, so it is used statically \
                     and autoconf `{}` is ignored (as the kernel does)",
                    get(6)
                ));
            }
            let prefix = resolve_prefix(address, cidr, mask, value, notes)?;
            Method::Static { address, prefix }
        }
        None if autoconf == Some(Proto::Off) => Method::Off,
        None => {
            if autoconf == Some(Proto::Legacy) {
                notes.push(format!(
                    "ip={value}: BOOTP/RARP are not implemented, using DHCP"
                ));
            }
            if mask.is_some() {
                notes.push(format!(
                    "ip={value}: netmask ignored without a client address, DHCP gives it"
                ));
            }
            Method::Dhcp
        }
    };
    let mut param = IpParam {
        gateway,
        server,
        hostname,
        ..IpParam::new(iface, method)
    };
    parse_extras(&mut param, fields.get(7..).unwrap_or_default())?;
    Ok(finish_off(param, value, notes))
}

/// The fields after `<autoconf>`: the kernel's `<dns0>:<dns1>:<ntp0>` or
/// dracut's `[<mtu>][:<macaddr>]`.
fn parse_extras(param: &mut IpParam, rest: &[&str]) -> Result<(), String> {
    let Some((&first, tail)) = rest.split_first() else {
        return Ok(());
    };
    let is_number = !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit());
    if let Some(mac) = mac_from_fields(tail) {
        if is_number {
            param.mtu = Some(parse_mtu(first)?);
        } else if !first.is_empty() {
            return Err(format!("`{first}` before the MAC address is not an MTU"));
        }
        param.mac = Some(mac);
        return Ok(());
    }
    if is_number {
        param.mtu = Some(parse_mtu(first)?);
        if tail.is_empty() {
            return Ok(());
        }
        return Err(format!(
            "`{}` after the MTU is not a MAC address",
            tail.join(":")
        ));
    }
    if rest.len() > 3 {
        return Err(format!(
            "too many fields ({}): the kernel's form ends with <dns0>:<dns1>:<ntp0>, \
             dracut's with <mtu>:<macaddr>",
            rest.len() + 7
        ));
    }
    let get = |i: usize| rest.get(i).copied().unwrap_or("");
    param.dns.extend(opt_ip("dns0", get(0))?);
    param.dns.extend(opt_ip("dns1", get(1))?);
    param.ntp.extend(opt_ip("ntp0", get(2))?);
    Ok(())
}

/// dracut's `<mtu>`: 68 (the IPv4 minimum) to 65535.
fn parse_mtu(s: &str) -> Result<u32, String> {
    s.parse()
        .ok()
        .filter(|m| (68..=65535).contains(m))
        .ok_or_else(|| format!("MTU `{s}` is not a number from 68 to 65535"))
}

/// An optional address field; `0.0.0.0` counts as not given (as in the kernel).
fn opt_ip(name: &str, s: &str) -> Result<Option<Ipv4Addr>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let ip: Ipv4Addr = s
        .parse()
        .map_err(|_| format!("{name} `{s}` is not an IPv4 address (only IPv4 is supported)"))?;
    Ok((!ip.is_unspecified()).then_some(ip))
}

/// `<client>`, optionally with dracut's `/<prefix>`.
fn parse_client(s: &str) -> Result<(Option<Ipv4Addr>, Option<u8>), String> {
    let (addr, cidr) = match s.split_once('/') {
        Some((addr, len)) => (
            addr,
            Some(
                parse_prefix_len(len)
                    .ok_or_else(|| format!("`/{len}` is not a prefix length 0 to 32"))?,
            ),
        ),
        None => (s, None),
    };
    let Some(ip) = opt_ip("client address", addr)? else {
        return Ok((None, None));
    };
    if ip.is_multicast() || ip.is_broadcast() || ip.is_loopback() {
        return Err(format!(
            "`{ip}` cannot be a client address (multicast, broadcast or loopback)"
        ));
    }
    Ok((Some(ip), cidr))
}

fn parse_prefix_len(s: &str) -> Option<u8> {
    let ok = !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| s.parse().ok()).flatten().filter(|&p| p <= 32)
}

/// `<netmask>`: dotted and contiguous, or a prefix length.
fn parse_mask(s: &str) -> Result<Option<u8>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return parse_prefix_len(s)
            .map(Some)
            .ok_or_else(|| format!("netmask `{s}` is not a prefix length 0 to 32"));
    }
    let mask: Ipv4Addr = s.parse().map_err(|_| {
        format!("netmask `{s}` is not a dotted IPv4 netmask (255.255.255.0) or prefix length")
    })?;
    prefix_from_netmask(mask).map(Some).ok_or_else(|| {
        format!("netmask `{s}` is not contiguous (ones, then zeros, like 255.255.255.0)")
    })
}

fn resolve_prefix(
    address: Ipv4Addr,
    cidr: Option<u8>,
    mask: Option<u8>,
    value: &str,
    notes: &mut Vec<String>,
) -> Result<u8, String> {
    match (cidr, mask) {
        (Some(c), Some(m)) if c != m => Err(format!("prefix /{c} and netmask /{m} disagree")),
        (Some(p), _) | (None, Some(p)) => Ok(p),
        (None, None) => {
            let p = class_prefix(address).ok_or_else(|| {
                format!("no netmask given, and {address} (class D/E) has no default; add one")
            })?;
            notes.push(format!(
                "ip={value}: no netmask given, using /{p} from the address class \
                 (as the kernel does)"
            ));
            Ok(p)
        }
    }
}

/// The prefix length of a contiguous netmask (`255.255.255.0` → 24).
pub fn prefix_from_netmask(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let ones = m.leading_ones();
    (m.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

/// The netmask of a prefix length (24 → `255.255.255.0`); above 32 counts as 32.
pub fn netmask_from_prefix(prefix: u8) -> Ipv4Addr {
    let zeros = 32 - u32::from(prefix.min(32));
    Ipv4Addr::from(u32::MAX.checked_shl(zeros).unwrap_or(0))
}

/// The classful default prefix (A: 8, B: 16, C: 24), as the kernel's
/// `ic_defaults`; `None` for class D and E.
pub fn class_prefix(address: Ipv4Addr) -> Option<u8> {
    match address.octets()[0] {
        0..=127 => Some(8),
        128..=191 => Some(16),
        192..=223 => Some(24),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
