//! The lease in a DHCPOFFER or DHCPACK ([`Lease::from_reply`]), read from
//! a decoded [`Message`].

use std::fmt;
use std::net::Ipv4Addr;

use crate::config::{class_prefix, prefix_from_netmask};
use crate::dhcp::{code, DhcpOption, Message, MessageType, Op};

/// What an OFFER or ACK gives us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// `yiaddr`.
    pub address: Ipv4Addr,
    /// From option 1; without it, from the address class (as the kernel).
    pub prefix: u8,
    /// Option 3, in preference order.
    pub routers: Vec<Ipv4Addr>,
    /// Option 6.
    pub dns: Vec<Ipv4Addr>,
    /// Option 12, trailing NULs removed.
    pub hostname: Option<String>,
    /// Option 15, trailing NULs removed.
    pub domain: Option<String>,
    /// Option 51; `u32::MAX` is infinite, `None` not given.
    pub lease_secs: Option<u32>,
    /// Option 54, else `siaddr`: where a REQUEST goes.
    pub server: Ipv4Addr,
}

/// Why a reply gives no lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseError {
    /// A BOOTREQUEST, not a server's reply.
    NotReply,
    /// A DHCPNAK, with the server and its message (option 56) if given.
    Nak {
        server: Option<Ipv4Addr>,
        message: Option<String>,
    },
    /// Neither OFFER nor ACK (`None`: no option 53).
    Unexpected(Option<MessageType>),
    /// `yiaddr` is 0.0.0.0.
    NoAddress,
    /// No option 54 and `siaddr` is 0.0.0.0.
    NoServer,
    /// Option 1 is not contiguous.
    BadMask(Ipv4Addr),
    /// No option 1, and the address has no class default.
    NoMask(Ipv4Addr),
}

impl fmt::Display for LeaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotReply => f.write_str("DHCP: got a request, not a server's reply"),
            Self::Nak { server, message } => {
                f.write_str("DHCP server")?;
                if let Some(server) = server {
                    write!(f, " {server}")?;
                }
                f.write_str(" refused the request (DHCPNAK)")?;
                message.as_ref().map_or(Ok(()), |m| write!(f, ": {m}"))
            }
            Self::Unexpected(Some(t)) => write!(f, "DHCP: expected an OFFER or ACK, got {t:?}"),
            Self::Unexpected(None) => {
                f.write_str("DHCP: reply without a message type (plain BOOTP)")
            }
            Self::NoAddress => f.write_str("DHCP: reply offers no address (yiaddr 0.0.0.0)"),
            Self::NoServer => {
                f.write_str("DHCP: reply names no server (no option 54, siaddr 0.0.0.0)")
            }
            Self::BadMask(mask) => write!(f, "DHCP: subnet mask {mask} is not contiguous"),
            Self::NoMask(ip) => write!(f, "DHCP: no subnet mask for {ip} and no class default"),
        }
    }
}

impl std::error::Error for LeaseError {}

impl Lease {
    /// Reads an OFFER or ACK. The caller checks [`Message::is_reply_to`].
    pub fn from_reply(msg: &Message) -> Result<Self, LeaseError> {
        if msg.op != Op::Reply {
            return Err(LeaseError::NotReply);
        }
        let mut lease = Self {
            address: msg.yiaddr,
            prefix: 0,
            routers: Vec::new(),
            dns: Vec::new(),
            hostname: None,
            domain: None,
            lease_secs: None,
            server: msg.siaddr,
        };
        let (mut mask, mut server_id, mut nak_message) = (None, None, None);
        let trim = |s: &str| Some(s.trim_end_matches('\0').to_owned()).filter(|s| !s.is_empty());
        for option in &msg.options {
            match option {
                DhcpOption::SubnetMask(m) => mask = Some(*m),
                DhcpOption::Routers(list) => lease.routers.clone_from(list),
                DhcpOption::DnsServers(list) => lease.dns.clone_from(list),
                DhcpOption::HostName(s) => lease.hostname = trim(s),
                DhcpOption::DomainName(s) => lease.domain = trim(s),
                DhcpOption::LeaseTime(secs) => lease.lease_secs = Some(*secs),
                DhcpOption::ServerId(ip) => server_id = Some(*ip),
                DhcpOption::Raw {
                    code: code::MESSAGE,
                    data,
                } => {
                    nak_message = trim(&String::from_utf8_lossy(data));
                }
                _ => {}
            }
        }
        match msg.message_type() {
            Some(MessageType::Offer | MessageType::Ack) => {}
            Some(MessageType::Nak) => {
                return Err(LeaseError::Nak {
                    server: server_id,
                    message: nak_message,
                });
            }
            other => return Err(LeaseError::Unexpected(other)),
        }
        if lease.address.is_unspecified() {
            return Err(LeaseError::NoAddress);
        }
        lease.server = server_id.unwrap_or(msg.siaddr);
        if lease.server.is_unspecified() {
            return Err(LeaseError::NoServer);
        }
        lease.prefix = match mask {
            Some(m) => prefix_from_netmask(m).ok_or(LeaseError::BadMask(m))?,
            None => class_prefix(lease.address).ok_or(LeaseError::NoMask(lease.address))?,
        };
        Ok(lease)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dhcp::tests::{captured_ack, captured_offer, MAC};

    fn offer() -> Message {
        Message::decode(&captured_offer()).unwrap()
    }

    #[test]
    fn captured_offer_and_ack() {
        let expected = Lease {
            address: Ipv4Addr::new(192, 168, 0, 10),
            prefix: 24,
            routers: vec![],
            dns: vec![],
            hostname: None,
            domain: None,
            lease_secs: Some(3600),
            server: Ipv4Addr::new(192, 168, 0, 1),
        };
        assert_eq!(Lease::from_reply(&offer()), Ok(expected.clone()));
        let ack = Message::decode(&captured_ack()).unwrap();
        assert_eq!(ack.message_type(), Some(MessageType::Ack));
        assert_eq!(Lease::from_reply(&ack), Ok(expected));
    }

    #[test]
    fn all_fields() {
        let mut msg = offer();
        msg.options.extend([
            DhcpOption::Routers(vec![
                Ipv4Addr::new(192, 168, 0, 1),
                Ipv4Addr::new(192, 168, 0, 2),
            ]),
            DhcpOption::DnsServers(vec![Ipv4Addr::new(9, 9, 9, 9)]),
            DhcpOption::HostName("node1\0".into()),
            DhcpOption::DomainName("lan".into()),
        ]);
        let lease = Lease::from_reply(&msg).unwrap();
        assert_eq!(
            lease.routers,
            [Ipv4Addr::new(192, 168, 0, 1), Ipv4Addr::new(192, 168, 0, 2)]
        );
        assert_eq!(lease.dns, [Ipv4Addr::new(9, 9, 9, 9)]);
        assert_eq!(lease.hostname.as_deref(), Some("node1"));
        assert_eq!(lease.domain.as_deref(), Some("lan"));
    }

    #[test]
    fn fallbacks() {
        // No mask: class C default. No option 54: siaddr.
        let mut msg = offer();
        msg.options
            .retain(|o| !matches!(o.code(), code::SUBNET_MASK | code::SERVER_ID));
        let lease = Lease::from_reply(&msg).unwrap();
        assert_eq!(
            (lease.prefix, lease.server),
            (24, Ipv4Addr::new(192, 168, 0, 1))
        );
        msg.siaddr = Ipv4Addr::UNSPECIFIED;
        assert_eq!(Lease::from_reply(&msg), Err(LeaseError::NoServer));
        msg.yiaddr = Ipv4Addr::new(10, 1, 2, 3);
        msg.siaddr = Ipv4Addr::new(10, 0, 0, 1);
        assert_eq!(Lease::from_reply(&msg).unwrap().prefix, 8);
        msg.yiaddr = Ipv4Addr::new(240, 0, 0, 1);
        let err = Lease::from_reply(&msg).unwrap_err();
        assert_eq!(
            err.to_string(),
            "DHCP: no subnet mask for 240.0.0.1 and no class default"
        );
    }

    #[test]
    fn refusals() {
        let mut msg = offer();
        msg.options[0] = DhcpOption::MessageType(MessageType::Nak);
        msg.options.push(DhcpOption::Raw {
            code: code::MESSAGE,
            data: b"address in use".to_vec(),
        });
        let err = Lease::from_reply(&msg).unwrap_err();
        assert_eq!(
            err.to_string(),
            "DHCP server 192.168.0.1 refused the request (DHCPNAK): address in use"
        );
        msg.options.retain(|o| o.code() != code::MESSAGE_TYPE);
        assert_eq!(Lease::from_reply(&msg), Err(LeaseError::Unexpected(None)));
        let discover = crate::dhcp::discover(MAC, 1);
        assert_eq!(Lease::from_reply(&discover), Err(LeaseError::NotReply));
        let mut msg = offer();
        msg.yiaddr = Ipv4Addr::UNSPECIFIED;
        assert_eq!(Lease::from_reply(&msg), Err(LeaseError::NoAddress));
        let mut msg = offer();
        msg.options[1] = DhcpOption::SubnetMask(Ipv4Addr::new(255, 0, 255, 0));
        let err = Lease::from_reply(&msg).unwrap_err();
        assert_eq!(
            err.to_string(),
            "DHCP: subnet mask 255.0.255.0 is not contiguous"
        );
    }
}
