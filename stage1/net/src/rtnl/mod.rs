//! A minimal rtnetlink (`NETLINK_ROUTE`) client: list links, addresses and
//! routes, bring links up or down, rename them, add IPv4 and IPv6
//! addresses and routes, and hear link changes ([`LinkEvents`]).
//!
//! Hand-written on rustix's netlink sockets rather than `netlink-packet-route`
//! or `neli` for binary size: those crates model every rtnetlink family,
//! attribute and nested type (with their own error and buffer crates), while
//! stage-1 needs a handful of requests and one reply type: the few hundred
//! lines below.
//!
//! # Wire format (`netlink(7)`, `rtnetlink(7)`)
//!
//! Each message is a 16-byte `nlmsghdr` (length, type, flags, sequence,
//! port, native byte order), a fixed header (`ifinfomsg` 16 bytes,
//! `ifaddrmsg` 8, `rtmsg` 12), then attributes: `u16` length (header
//! included, padding not), `u16` type, data, zero padding to 4 bytes.
//! Messages in one datagram are each padded to 4 bytes.
//!
//! The encoders ([`encode_get_links`], [`encode_set_link`],
//! [`encode_add_address`], [`encode_route`]) and decoders ([`messages`],
//! [`attrs`], [`decode_link`], [`decode_error`]) are pure. The decoders take
//! any bytes and never panic: a malformed message ends the iteration with
//! an error, a malformed attribute ends the attribute list.
//!
//! Every change is sent with `NLM_F_ACK`, and [`Rtnl`] waits for the
//! kernel's `NLMSG_ERROR` with our sequence number: 0 is success, anything
//! else is the errno as an [`io::Error`]. The kernel answers synchronously;
//! a receive timeout of 5 s keeps PID 1 from hanging on a kernel bug.
//!
//! The parts: [`link`] (the values), [`wire`] (the codec), [`socket`]
//! ([`Rtnl`]) and [`events`] ([`LinkEvents`]).
mod events;
mod link;
mod socket;
mod wire;

pub use events::{AddressEvents, LinkEvent, LinkEvents};
pub use link::{
    Address, Link, LinkChange, OperState, Route, RouteEntry, RouteOp, ARPHRD_ETHER,
    ARPHRD_LOOPBACK, IFA_F_DADFAILED, IFA_F_PERMANENT, IFA_F_TENTATIVE, IFF_LOOPBACK, IFF_LOWER_UP,
    IFF_RUNNING, IFF_UP,
};
pub use socket::Rtnl;
pub use wire::{
    attrs, broadcast, decode_address, decode_error, decode_link, decode_route, encode_add_address,
    encode_get_links, encode_route, encode_set_link, messages, Malformed, Messages, NlMsg,
};

#[cfg(test)]
mod tests;
