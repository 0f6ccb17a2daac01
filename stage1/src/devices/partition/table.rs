//! Which table a disk holds (MBR, else GPT, primary or backup), decided as
//! the kernel decides it; see the module's documentation.
use std::io;

use super::disk::Disk;
use super::types::Table;
use super::{gpt, mbr};

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
