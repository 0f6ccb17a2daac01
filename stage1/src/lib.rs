//! Stage-1: from the kernel command line and the initramfs contents to a
//! mounted new root, as a plan (plain data, printable, testable without
//! root) and the code that applies it with syscalls.
//!
//! * `cmdline` — `/proc/cmdline` into [`cmdline::BootParams`].
//! * `modules` — modules.dep & co, the module plan and loading.
//! * `plan` — the mount plan: what stage-1 will mount, where, and why.
//! * `coldplug` — the modules for the devices in sysfs (modalias matching).
//! * `uevent`, `hotplug` — devices that appear later: their drivers, and
//!   the event-driven wait for the root device.
//! * `device` — waiting for block devices, `LABEL=`/`UUID=` lookup.
//! * `partition` — GPT/MBR tables for `PARTUUID=`/`PARTLABEL=`.
//! * `apply` — carrying out the mount plan; `fetch` — its download step,
//!   through the `net` crate (the cargo feature `net`).
//! * `switch_root` — moving the API filesystems and handing over `/`.
//! * `toplevel` — finding the system in the store when no `toplevel=` names it.
pub mod apply;
pub mod cmdline;
pub mod coldplug;
pub mod decimal;
pub mod device;
pub mod fetch;
pub mod handover;
pub mod hotplug;
pub mod modules;
pub mod partition;
pub mod plan;
pub mod switch_root;
pub mod toplevel;
pub mod uevent;
mod wait;

/// What a build without the cargo feature `net` says when it is asked for
/// the network (`ip=`, `root=http://…`, the rescue prompt's `ip`/`fetch`).
#[cfg(not(feature = "net"))]
pub const NO_NETWORK: &str = "this init was built without network support (cargo feature net off)";
