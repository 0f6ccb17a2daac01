//! Partition tables (GPT and MBR), read by stage-1 itself.
//!
//! Why: stage-1 has no udev, so there is no `/dev/disk/by-partuuid` or
//! `by-partlabel`, and only kernels from 6.12 on put `PARTUUID=` in a
//! partition's uevent (Debian's 6.1 does not). So `root=PARTUUID=` and
//! `root=PARTLABEL=` are resolved here: read each disk's table, then match
//! its entries to the kernel's partitions by number (`/sys/class/block/*/partition`).
//!
//! Numbering must agree with the kernel's (block/partitions/efi.c, msdos.c),
//! or we would hand out the wrong device; where it matters we decide as it does:
//! * a sector 0 with `55 AA` and no `0xEE` entry is an MBR, even if a stale
//!   GPT follows; a protective MBR is never read as MBR partitions;
//! * GPT partition N is slot N of the entry array (empty slots leave gaps);
//! * MBR primaries are 1-4 (any entry with a nonzero size), logical partitions
//!   in an extended one are numbered from 5 along the EBR chain; the extended
//!   partition itself gets no PARTUUID, as in the kernel.
//!
//! We are more lenient in one place: a GPT without a protective MBR, or with
//! only its backup header intact, is read (the kernel does so with `gpt` on
//! its command line; without it there are no partitions in sysfs to match).
mod disk;
mod gpt;
mod mbr;
mod sysfs;
mod table;
#[cfg(test)]
mod tests;
mod types;

pub use sysfs::find;
pub use table::parse;
pub use types::{Key, PartitionEntry, Table};
