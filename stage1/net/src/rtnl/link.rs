//! What rtnetlink says about links and routes, as plain values: the
//! requests take them and the replies are read into them.
use std::net::Ipv4Addr;

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

/// An IPv4 route in the main table, protocol `boot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub dst: Ipv4Addr,
    pub prefix: u8,
    /// `None`: on-link (scope link), else via this router (scope universe).
    pub gateway: Option<Ipv4Addr>,
    /// The outgoing interface.
    pub index: u32,
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
