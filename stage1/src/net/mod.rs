//! Networking for stage-1: netboot from kernel parameters alone.
//!
//! The kernel's own `ip=` autoconfiguration (`CONFIG_IP_PNP`) runs before
//! the initramfs, so it cannot bring up a NIC whose driver is a module that
//! stage-1 loads later (coldplug). Stage-1 therefore reads `ip=` itself and
//! does what the kernel would: link up, an address and routes (rtnetlink),
//! DHCPv4 when asked, `/etc/resolv.conf` in the new root, and the result in
//! `/run/init/net` for stage-2. Then `root=http://…` can be fetched.
//!
//! As everywhere in stage-1, parsing is kept apart from I/O. The pure parts,
//! testable without a network or root:
//!
//! * [`config`] — `ip=` (kernel and dracut forms) into [`config::NetConfig`].
//! * [`mac`] — MAC addresses, dracut's `ifname=` and PXE/iPXE's `BOOTIF=`
//!   (which picks the interface when `ip=` names none).
//! * [`dhcp`] — the DHCPv4 message codec (RFC 2131/2132): DISCOVER and
//!   REQUEST out, OFFER and ACK in.
//! * [`lease`] — an OFFER or ACK as a [`lease::Lease`].
//!
//! Still to come, on top of these: the sockets (a UDP or packet socket for
//! DHCP with retries and a deadline, rtnetlink for links, addresses and
//! routes) and the HTTP fetch.

pub mod config;
pub mod dhcp;
pub mod lease;
pub mod mac;
