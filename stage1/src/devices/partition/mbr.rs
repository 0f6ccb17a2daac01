//! MBR: the four primary entries and the EBR chain of an extended
//! partition, numbered as msdos.c numbers them.
use std::io;

use super::disk::{u32_at, Disk, MAX_PARTS};
use super::types::PartitionEntry;

/// EBR links followed before giving up (survives loops in the chain).
const MAX_EBR_LINKS: usize = 256;

/// The partitions of the MBR in sector 0 (`s0`, signed `55 AA`, no GPT
/// protective entry); `Ok(None)` when it is a FAT boot sector instead.
pub(super) fn entries<F>(disk: &mut Disk<F>, s0: &[u8]) -> io::Result<Option<Vec<PartitionEntry>>>
where
    F: FnMut(u64, &mut [u8]) -> io::Result<()>,
{
    // Like msdos.c: boot flags other than 0/0x80 mean a FAT boot sector.
    if s0[0x1BE..0x1FE].chunks_exact(16).any(|e| e[0] & 0x7F != 0) {
        return Ok(None);
    }
    let sig = u32_at(s0, 0x1B8);
    let mut numbers = Vec::new();
    let mut next = 5;
    for ((kind, start, size), n) in slots(s0).zip(1..) {
        if size == 0 {
            continue;
        }
        if is_extended(kind) {
            logical(disk, start, size, &mut next, &mut numbers)?;
        } else {
            numbers.push(n);
        }
    }
    numbers.sort_unstable();
    let entries = numbers.into_iter().map(|number| PartitionEntry {
        number,
        uuid: format!("{sig:08x}-{number:02x}"),
        label: None,
    });
    Ok(Some(entries.collect()))
}

/// Logical partitions: the EBR chain of the extended partition at `first`
/// (`first_size` blocks), as msdos.c `parse_extended` walks it: data entries
/// of each EBR get `*next`, then the first link is followed. Entries 3 and 4
/// are often garbage, and count only if they lie inside the extended partition.
fn logical<F>(
    disk: &mut Disk<F>,
    first: u64,
    first_size: u64,
    next: &mut u32,
    out: &mut Vec<u32>,
) -> io::Result<()>
where
    F: FnMut(u64, &mut [u8]) -> io::Result<()>,
{
    let (mut this, mut this_size) = (first, first_size);
    for _ in 0..MAX_EBR_LINKS {
        let Some(ebr) = disk.read(this, 512)? else {
            return Ok(());
        };
        if ebr[510..] != [0x55, 0xAA] {
            return Ok(());
        }
        for (i, (kind, offs, size)) in slots(&ebr).enumerate() {
            if size == 0 || is_extended(kind) {
                continue;
            }
            if i >= 2 && (offs + size > this_size || this + offs + size > first + first_size) {
                continue;
            }
            if *next >= MAX_PARTS {
                return Ok(());
            }
            out.push(*next);
            *next += 1;
        }
        let Some((_, offs, size)) = slots(&ebr).find(|&(k, _, s)| s != 0 && is_extended(k)) else {
            return Ok(());
        };
        (this, this_size) = (first + offs, size);
    }
    Ok(())
}

/// The four MBR/EBR entries at 0x1BE as (type, start LBA, blocks).
pub(super) fn slots(sector: &[u8]) -> impl Iterator<Item = (u8, u64, u64)> + '_ {
    sector[0x1BE..0x1FE]
        .chunks_exact(16)
        .map(|e| (e[4], u32_at(e, 8).into(), u32_at(e, 12).into()))
}

fn is_extended(kind: u8) -> bool {
    matches!(kind, 0x05 | 0x0F | 0x85)
}
