//! Networking for stage-1: netboot from kernel parameters alone. A library
//! of its own (`stage1` and `init` use it; it uses nothing of theirs), left
//! out of a build without the cargo feature `net`; README.md says what it
//! implements of each protocol and what it refuses.
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
//! * [`sha256`], [`meminfo`] — the image's checksum; whether it fits in RAM.
//!
//! And the I/O on top of them:
//!
//! * [`rtnl`] — rtnetlink for links, addresses, routes and link events;
//! * [`dhcp_client`] — DHCP on a UDP socket, with retries and a deadline;
//! * [`dns`] — the URL's host name to IPv4 addresses, from the nameservers
//!   in `/etc/resolv.conf`;
//! * [`setup`] — from `ip=`, `BOOTIF=` and `ifname=` to configured
//!   interfaces ([`setup::configure`]);
//! * [`http`] — `root=http://…`: the image streamed into a file.

/// The network `init kexec --carry-network` hands to the next boot.
pub mod carry;
pub mod config;
pub mod dhcp;
/// The DHCPv4 client: DISCOVER/OFFER/REQUEST/ACK with retries and a deadline.
pub mod dhcp_client;
/// DNS `A` lookups for `root=http://NAME/…` (a stub resolver over UDP).
pub mod dns;
/// `root=http://…`: stream the store image into a file, hashed, resumable.
pub mod http;
pub mod lease;
pub mod mac;
/// `MemAvailable` and whether an image fits in RAM.
pub mod meminfo;
/// rtnetlink: links, addresses, routes and link events (hand-written, for size).
pub mod rtnl;
/// From `ip=`, `BOOTIF=` and `ifname=` to configured interfaces.
pub mod setup;
/// SHA-256, incremental, for `sha256=<hex>`.
pub mod sha256;
mod wait;
