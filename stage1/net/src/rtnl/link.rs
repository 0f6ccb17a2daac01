//! What rtnetlink says about links and routes, as plain values: the
//! requests take them and the replies are read into them.
use std::net::IpAddr;

use crate::mac::Mac;

/// `ifi_flags`: administratively up.
pub const IFF_UP: u32 = 0x1;
/// `ifi_flags`: the loopback device.
pub const IFF_LOOPBACK: u32 = 0x8;
/// `ifi_flags`: operationally up (RFC 2863 `up`).
pub const IFF_RUNNING: u32 = 0x40;
/// `ifi_flags`: the driver reports carrier (a cable, a peer).
pub const IFF_LOWER_UP: u32 = 0x1_0000;
/// `ifi_type` of Ethernet-like devices (also Wi-Fi, veth, virtio-net).
pub const ARPHRD_ETHER: u16 = 1;
/// `ifi_type` of `lo`.
pub const ARPHRD_LOOPBACK: u16 = 772;

/// RFC 2863 operational state (`IFLA_OPERSTATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperState {
    Unknown,
    NotPresent,
    Down,
    LowerLayerDown,
    Testing,
    Dormant,
    Up,
    Other(u8),
}

impl OperState {
    pub(super) fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Unknown,
            1 => Self::NotPresent,
            2 => Self::Down,
            3 => Self::LowerLayerDown,
            4 => Self::Testing,
            5 => Self::Dormant,
            6 => Self::Up,
            v => Self::Other(v),
        }
    }
}

/// One network interface, as `RTM_NEWLINK` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `IFLA_ADDRESS` when it is 6 bytes long (`None` for tunnels etc.).
    pub mac: Option<Mac>,
    /// `ifi_flags` (`IFF_*`).
    pub flags: u32,
    /// `ifi_type` (`ARPHRD_*`).
    pub link_type: u16,
    pub operstate: OperState,
}

impl Link {
    pub fn is_up(&self) -> bool {
        self.flags & IFF_UP != 0
    }

    /// `IFF_LOWER_UP`: the driver sees a carrier.
    pub fn has_carrier(&self) -> bool {
        self.flags & IFF_LOWER_UP != 0
    }

    pub fn is_loopback(&self) -> bool {
        self.flags & IFF_LOOPBACK != 0 || self.link_type == ARPHRD_LOOPBACK
    }

    /// Ethernet-like: what DHCP and `BOOTIF=` can use.
    pub fn is_ethernet(&self) -> bool {
        self.link_type == ARPHRD_ETHER && !self.is_loopback()
    }
}

/// A change to a link ([`encode_set_link`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkChange<'a> {
    Up,
    Down,
    /// `IFLA_IFNAME`; the kernel wants the link down for this.
    Name(&'a str),
    Mtu(u32),
    /// `IFLA_ADDRESS`; most drivers want the link down for this.
    Mac(Mac),
}

/// A route in the main table (IPv4 or IPv6, by `dst`), protocol `boot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub dst: IpAddr,
    pub prefix: u8,
    /// `None`: on-link (scope link), else via this router (scope
    /// universe); an IPv6 router for an IPv4 `dst` is sent as `RTA_VIA`.
    pub gateway: Option<IpAddr>,
    /// The outgoing interface.
    pub index: u32,
    /// `RTNH_F_ONLINK`: the gateway is on the link even outside every
    /// subnet of it.
    pub onlink: bool,
}

/// An address of an interface, as `RTM_NEWADDR` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    pub index: u32,
    pub address: IpAddr,
    pub prefix: u8,
    /// `ifa_scope` (`RT_SCOPE_*`): 253 link, 254 host.
    pub scope: u8,
    /// `IFA_FLAGS` (`IFA_F_*`), else `ifa_flags`.
    pub flags: u32,
}

/// `IFA_F_DADFAILED`: duplicate address detection found another owner.
pub const IFA_F_DADFAILED: u32 = 0x08;
/// `IFA_F_TENTATIVE`: duplicate address detection is still running.
pub const IFA_F_TENTATIVE: u32 = 0x40;
/// `IFA_F_PERMANENT`: set by hand, not by SLAAC or a lease with a lifetime.
pub const IFA_F_PERMANENT: u32 = 0x80;

/// A route from a dump, with what says where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteEntry {
    pub route: Route,
    /// `RTA_TABLE`, else `rtm_table`.
    pub table: u32,
    /// `rtm_protocol` (`RTPROT_*`): 2 kernel, 3 boot, 4 static, 9 ra, 16 dhcp.
    pub protocol: u8,
    /// `rtm_type` (`RTN_*`): 1 unicast.
    pub kind: u8,
    /// Several next hops (`RTA_MULTIPATH`): not carried.
    pub multipath: bool,
}

/// What [`encode_route`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteOp {
    /// Create; `EEXIST` when the same route is there.
    Add,
    /// Create, or replace the route with the same key.
    Replace,
    Delete,
}
