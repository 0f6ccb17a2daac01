//! GPT: the header (primary, else the backup at the disk's end), the entry
//! array and its CRCs, as efi.c checks them.
use std::fmt::Write as _;
use std::io;

use super::disk::{u32_at, u64_at, Disk, MAX_PARTS};
use super::types::PartitionEntry;

/// The GPT whose header is at `lba`, if its signature, place and both
/// CRCs are right (efi.c `is_gpt_valid`).
pub(super) fn entries<F>(disk: &mut Disk<F>, lba: u64) -> io::Result<Option<Vec<PartitionEntry>>>
where
    F: FnMut(u64, &mut [u8]) -> io::Result<()>,
{
    let Some(mut h) = disk.read(lba, disk.lbs)? else {
        return Ok(None);
    };
    let size = u32_at(&h, 12) as usize;
    let last = disk.last_lba();
    if &h[..8] != b"EFI PART"
        || !(92..=h.len()).contains(&size)
        || u64_at(&h, 24) != lba
        || u64_at(&h, 40) > last
        || u64_at(&h, 48) > last
    {
        return Ok(None);
    }
    let crc = u32_at(&h, 16);
    h[16..20].fill(0);
    if crc32(&h[..size]) != crc {
        return Ok(None);
    }
    let (count, esize) = (u64::from(u32_at(&h, 80)), u64::from(u32_at(&h, 84)));
    if esize < 128 || !esize.is_power_of_two() {
        return Ok(None);
    }
    let Some(array) = disk.read(u64_at(&h, 72), count * esize)? else {
        return Ok(None);
    };
    if crc32(&array) != u32_at(&h, 88) {
        return Ok(None);
    }
    let entries = array.chunks_exact(esize as usize).zip(1..MAX_PARTS);
    let valid = entries
        .filter(|(e, _)| e[..16] != [0; 16] && u64_at(e, 32) <= last && u64_at(e, 40) <= last);
    let parts = valid.map(|(e, number)| PartitionEntry {
        number,
        uuid: guid(&e[16..32]),
        label: utf16_name(&e[56..128]),
    });
    Ok(Some(parts.collect()))
}

/// A GUID as text: the first three fields are little-endian on disk.
fn guid(g: &[u8]) -> String {
    const ORDER: [usize; 16] = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    let mut s = String::with_capacity(36);
    for (i, &at) in ORDER.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{:02x}", g[at]);
    }
    s
}

/// A GPT name: UTF-16LE up to the first NUL; `None` if empty.
fn utf16_name(b: &[u8]) -> Option<String> {
    let units = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    let name: String = char::decode_utf16(units.take_while(|&u| u != 0))
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    (!name.is_empty()).then_some(name)
}

/// CRC-32 (IEEE, reflected, as GPT uses), bitwise: no table in the binary.
pub(super) fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}
