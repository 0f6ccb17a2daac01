//! The device side of stage-1: which drivers the machine's devices need,
//! and where the disk `root=` names is, without udev.
//!
//! * [`coldplug`] — the devices already in sysfs and the modules their
//!   modaliases call for (pure matching, testable on a sysfs snapshot).
//! * [`uevent`] — the kernel's `NETLINK_KOBJECT_UEVENT` socket: devices
//!   that appear later.
//! * [`hotplug`] — drivers for those devices, loaded as their uevents
//!   come; what the wait for the root device blocks on.
//! * [`block`] — block devices: the wait with a deadline, superblock
//!   probing, `LABEL=`/`UUID=` lookup.
//! * [`partition`] — GPT/MBR tables for `PARTUUID=`/`PARTLABEL=`.
//! * [`virtiofs`] — a virtio-fs device's tag, from its PCI config.
pub mod block;
pub mod coldplug;
pub mod hotplug;
pub mod partition;
pub mod uevent;
pub mod virtiofs;
