//! A disk read in logical blocks, bounded by its size, and the little-endian
//! fields both table formats are made of: a leaf the GPT and MBR readers share.
use std::io;

/// Largest GPT entry array we read (the usual 128 entries are 16 KiB).
const MAX_ARRAY: u64 = 1 << 20;
/// The kernel's DISK_MAX_PARTS: no partition number reaches it.
pub(super) const MAX_PARTS: u32 = 256;

/// A disk read through `read_at`, in logical blocks of `lbs` bytes.
pub(super) struct Disk<F> {
    pub(super) read_at: F,
    pub(super) bytes: u64,
    pub(super) lbs: u64,
}

impl<F: FnMut(u64, &mut [u8]) -> io::Result<()>> Disk<F> {
    /// `len` bytes from logical block `lba`; `Ok(None)` if outside the disk.
    pub(super) fn read(&mut self, lba: u64, len: u64) -> io::Result<Option<Vec<u8>>> {
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

    pub(super) fn last_lba(&self) -> u64 {
        (self.bytes / self.lbs).saturating_sub(1)
    }
}

pub(super) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

pub(super) fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}
