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
use std::io;

mod gpt;
mod mbr;
mod sysfs;
#[cfg(test)]
mod tests;

pub use sysfs::find;

/// One partition as its table describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionEntry {
    /// The kernel's number: the GPT slot (1-based); MBR 1-4 primary, 5+ logical.
    pub number: u32,
    /// PARTUUID: the GPT unique GUID in lowercase, or MBR `%08x-%02x`
    /// (disk signature, number) as the kernel forms it.
    pub uuid: String,
    /// PARTLABEL: the GPT name; `None` when empty and for MBR.
    pub label: Option<String>,
}

/// A disk's partition table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Table {
    Gpt(Vec<PartitionEntry>),
    Mbr(Vec<PartitionEntry>),
}

impl Table {
    pub fn entries(&self) -> &[PartitionEntry] {
        match self {
            Self::Gpt(e) | Self::Mbr(e) => e,
        }
    }
}

/// What `root=` asks for. PARTUUID compares case-insensitively, PARTLABEL exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    PartUuid(String),
    PartLabel(String),
}

impl Key {
    fn matches(&self, e: &PartitionEntry) -> bool {
        match self {
            Self::PartUuid(u) => e.uuid.eq_ignore_ascii_case(u),
            Self::PartLabel(l) => e.label.as_deref() == Some(l.as_str()),
        }
    }
}

/// Largest GPT entry array we read (the usual 128 entries are 16 KiB).
const MAX_ARRAY: u64 = 1 << 20;
/// The kernel's DISK_MAX_PARTS: no partition number reaches it.
const MAX_PARTS: u32 = 256;

/// The partition table of a disk of `disk_bytes` bytes with `sector`-byte
/// logical blocks (512 or 4096). `read_at(offset, buf)` fills all of `buf`.
/// `Ok(None)`: no table we (or the kernel) would use; `Err`: a read failed.
/// Never reads outside `disk_bytes` and never panics: garbage gives `Ok(None)`
/// (or, behind a `55 AA` at byte 510, whatever entries an MBR would hold).
pub fn parse(
    read_at: impl FnMut(u64, &mut [u8]) -> io::Result<()>,
    disk_bytes: u64,
    sector: u32,
) -> io::Result<Option<Table>> {
    if !(512..=65536).contains(&sector) || !sector.is_power_of_two() {
        return Ok(None);
    }
    let mut disk = Disk {
        read_at,
        bytes: disk_bytes,
        lbs: sector.into(),
    };
    let Some(s0) = disk.read(0, 512)? else {
        return Ok(None);
    };
    let signed = s0[510..] == [0x55, 0xAA];
    if !signed || mbr::slots(&s0).any(|(t, ..)| t == 0xEE) {
        let last = disk.last_lba();
        if let Some(e) = gpt::entries(&mut disk, 1)? {
            return Ok(Some(Table::Gpt(e)));
        }
        if last > 1 {
            return Ok(gpt::entries(&mut disk, last)?.map(Table::Gpt));
        }
        return Ok(None);
    }
    mbr::entries(&mut disk, &s0).map(|e| e.map(Table::Mbr))
}

/// A disk read through `read_at`, in logical blocks of `lbs` bytes.
struct Disk<F> {
    read_at: F,
    bytes: u64,
    lbs: u64,
}

impl<F: FnMut(u64, &mut [u8]) -> io::Result<()>> Disk<F> {
    /// `len` bytes from logical block `lba`; `Ok(None)` if outside the disk.
    fn read(&mut self, lba: u64, len: u64) -> io::Result<Option<Vec<u8>>> {
        let span = lba
            .checked_mul(self.lbs)
            .and_then(|o| Some((o, o.checked_add(len)?)));
        let Some((off, end)) = span else {
            return Ok(None);
        };
        if len > MAX_ARRAY || end > self.bytes {
            return Ok(None);
        }
        let mut buf = vec![0; len as usize];
        (self.read_at)(off, &mut buf)?;
        Ok(Some(buf))
    }

    fn last_lba(&self) -> u64 {
        (self.bytes / self.lbs).saturating_sub(1)
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}
