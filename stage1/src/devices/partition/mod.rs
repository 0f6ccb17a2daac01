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
use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

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
/// EBR links followed before giving up (survives loops in the chain).
const MAX_EBR_LINKS: usize = 256;
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
    if !signed || slots(&s0).any(|(t, ..)| t == 0xEE) {
        let last = disk.last_lba();
        if let Some(e) = gpt(&mut disk, 1)? {
            return Ok(Some(Table::Gpt(e)));
        }
        if last > 1 {
            return Ok(gpt(&mut disk, last)?.map(Table::Gpt));
        }
        return Ok(None);
    }
    // Like msdos.c: boot flags other than 0/0x80 mean a FAT boot sector.
    if s0[0x1BE..0x1FE].chunks_exact(16).any(|e| e[0] & 0x7F != 0) {
        return Ok(None);
    }
    let sig = u32_at(&s0, 0x1B8);
    let mut numbers = Vec::new();
    let mut next = 5;
    for ((kind, start, size), n) in slots(&s0).zip(1..) {
        if size == 0 {
            continue;
        }
        if is_extended(kind) {
            logical(&mut disk, start, size, &mut next, &mut numbers)?;
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
    Ok(Some(Table::Mbr(entries.collect())))
}

/// Find the partition `key` names among the kernel's block devices:
/// `sys_class_block` is `/sys/class/block`, the result `dev/<partition>`
/// (a `!` in a sysfs name is a `/` under /dev, as in `cciss!c0d0p1`).
/// Each disk's table is read once per call from `dev/<disk>`; a disk that
/// cannot be opened or read (a CD drive with no medium) is logged and skipped.
pub fn find(sys_class_block: &Path, dev: &Path, key: &Key) -> Option<PathBuf> {
    let mut names: Vec<String> = std::fs::read_dir(sys_class_block)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    let mut tables: HashMap<String, Option<Table>> = HashMap::new();
    for name in names {
        let part = sys_class_block.join(&name);
        let Some(number) = read_number(&part.join("partition")) else {
            continue; // a whole disk
        };
        // /sys/devices/.../block/vda/vda1: the disk is the parent directory.
        let disk = part.canonicalize().ok().and_then(|p| {
            let d = p.parent()?.file_name()?;
            d.to_str().map(String::from)
        });
        let Some(disk) = disk else {
            log::debug!("partition: no disk for {}", part.display());
            continue;
        };
        let table = tables
            .entry(disk)
            .or_insert_with_key(|disk| read_table(sys_class_block, dev, disk));
        let entries = table.as_ref().map_or(&[][..], Table::entries);
        if entries
            .iter()
            .any(|e| u64::from(e.number) == number && key.matches(e))
        {
            return Some(dev.join(name.replace('!', "/")));
        }
    }
    None
}

/// The table of `dev/<disk>`, its size and block size from sysfs.
fn read_table(sys_class_block: &Path, dev: &Path, disk: &str) -> Option<Table> {
    let sys = sys_class_block.join(disk);
    let path = dev.join(disk.replace('!', "/"));
    // `size` counts 512-byte sectors whatever the logical block size.
    let Some(sectors) = read_number(&sys.join("size")) else {
        log::debug!("partition: no size in {}", sys.display());
        return None;
    };
    let lbs = read_number(&sys.join("queue/logical_block_size")).unwrap_or(512);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            log::debug!("partition: cannot open {}: {e}", path.display());
            return None;
        }
    };
    let read_at = |off, buf: &mut [u8]| file.read_exact_at(buf, off);
    let lbs = u32::try_from(lbs).unwrap_or(0);
    match parse(read_at, sectors.saturating_mul(512), lbs) {
        Ok(Some(t)) => Some(t),
        Ok(None) => {
            log::debug!("partition: no GPT or MBR on {}", path.display());
            None
        }
        Err(e) => {
            log::debug!("partition: cannot read {}: {e}", path.display());
            None
        }
    }
}

fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

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

/// The GPT whose header is at `lba`, if its signature, place and both
/// CRCs are right (efi.c `is_gpt_valid`).
fn gpt<F>(disk: &mut Disk<F>, lba: u64) -> io::Result<Option<Vec<PartitionEntry>>>
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
fn slots(sector: &[u8]) -> impl Iterator<Item = (u8, u64, u64)> + '_ {
    sector[0x1BE..0x1FE]
        .chunks_exact(16)
        .map(|e| (e[4], u32_at(e, 8).into(), u32_at(e, 12).into()))
}

fn is_extended(kind: u8) -> bool {
    matches!(kind, 0x05 | 0x0F | 0x85)
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
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    const LINUX: [u8; 16] = *b"\xAF\x3D\xC6\x0F\x83\x84\x72\x47\x8E\x79\x3D\x69\xD8\x47\x7D\xE4";
    /// On disk; as text 12345678-1234-5678-9abc-def012345678.
    const G1: [u8; 16] = *b"\x78\x56\x34\x12\x34\x12\x78\x56\x9a\xbc\xde\xf0\x12\x34\x56\x78";
    const G1_TEXT: &str = "12345678-1234-5678-9abc-def012345678";

    /// [`parse`] on an in-memory image; panics if it reads outside it.
    fn image(img: &[u8], sector: u32) -> Option<Table> {
        let read_at = |off: u64, buf: &mut [u8]| {
            buf.copy_from_slice(&img[off as usize..off as usize + buf.len()]);
            Ok(())
        };
        parse(read_at, img.len() as u64, sector).unwrap()
    }

    fn put(img: &mut [u8], at: usize, bytes: &[u8]) {
        img[at..at + bytes.len()].copy_from_slice(bytes);
    }

    /// Entry `slot` of the MBR/EBR at byte `at`, and its 55 AA signature.
    fn mbr_entry(img: &mut [u8], at: usize, slot: usize, kind: u8, start: u32, size: u32) {
        let e = at + 0x1BE + 16 * slot;
        img[e + 4] = kind;
        put(img, e + 8, &start.to_le_bytes());
        put(img, e + 12, &size.to_le_bytes());
        put(img, at + 510, &[0x55, 0xAA]);
    }

    /// A GPT disk: protective MBR, primary and backup headers and arrays of
    /// 128 entries; `parts` are (slot, unique GUID, name).
    fn gpt_image(lbs: usize, blocks: usize, parts: &[(usize, [u8; 16], &str)]) -> Vec<u8> {
        let mut img = vec![0; lbs * blocks];
        mbr_entry(&mut img, 0, 0, 0xEE, 1, blocks as u32 - 1);
        let mut array = vec![0; 128 * 128];
        for &(slot, guid, name) in parts {
            let e = &mut array[slot * 128..][..128];
            e[..16].copy_from_slice(&LINUX);
            e[16..32].copy_from_slice(&guid);
            put(e, 32, &(40 + slot as u64).to_le_bytes());
            put(e, 40, &(40 + slot as u64).to_le_bytes());
            for (i, u) in name.encode_utf16().enumerate() {
                put(e, 56 + 2 * i, &u.to_le_bytes());
            }
        }
        let (last, n) = (blocks as u64 - 1, (array.len() / lbs) as u64);
        for (me, alt, at) in [(1, last, 2), (last, 1, last - n)] {
            put(&mut img, at as usize * lbs, &array);
            let mut h = [0; 92];
            put(&mut h, 0, b"EFI PART\x00\x00\x01\x00\x5c"); // revision 1.0, size 92
            for (off, v) in [
                (24, me),
                (32, alt),
                (40, 2 + n),
                (48, last - n - 1),
                (72, at),
            ] {
                put(&mut h, off, &v.to_le_bytes());
            }
            put(&mut h, 80, &[128, 0, 0, 0, 128, 0, 0, 0]);
            put(&mut h, 88, &crc32(&array).to_le_bytes());
            let crc = crc32(&h);
            put(&mut h, 16, &crc.to_le_bytes());
            put(&mut img, me as usize * lbs, &h);
        }
        img
    }

    /// Rewrite the primary header of a 512-byte-sector image, fixing its CRC.
    fn edit_header(img: &mut [u8], edit: impl Fn(&mut [u8])) {
        let h = &mut img[512..604];
        edit(h);
        h[16..20].fill(0);
        let crc = crc32(h);
        put(h, 16, &crc.to_le_bytes());
    }

    /// Disk 0x12345678: 1 Linux, 2 extended (EBRs at 100 and 200), 4 Linux.
    fn mbr_image(lbs: usize) -> Vec<u8> {
        let mut img = vec![0; lbs * 400];
        put(&mut img, 0x1B8, &0x1234_5678u32.to_le_bytes());
        mbr_entry(&mut img, 0, 0, 0x83, 1, 50);
        mbr_entry(&mut img, 0, 1, 0x0F, 100, 200);
        mbr_entry(&mut img, 0, 3, 0x83, 300, 50);
        mbr_entry(&mut img, 100 * lbs, 0, 0x83, 1, 50);
        mbr_entry(&mut img, 100 * lbs, 1, 0x05, 100, 100);
        mbr_entry(&mut img, 200 * lbs, 0, 0x83, 1, 50);
        // Garbage in entry 3, outside the extended partition: not a partition.
        mbr_entry(&mut img, 200 * lbs, 2, 0x83, 1000, 50);
        img
    }

    fn numbers_and_uuids(t: &Table) -> Vec<(u32, &str)> {
        t.entries()
            .iter()
            .map(|e| (e.number, e.uuid.as_str()))
            .collect()
    }

    fn tmp(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("stage1-partition-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn gpt_numbers_mixed_endian_uuids_and_names() {
        for lbs in [512, 4096] {
            let parts = [
                (0, G1, "EFI system"),
                (2, [0xAB; 16], "données"),
                (3, [1; 16], ""),
            ];
            let img = gpt_image(lbs, 128, &parts);
            let entry = |number, uuid: &str, label: Option<&str>| PartitionEntry {
                number,
                uuid: uuid.into(),
                label: label.map(String::from),
            };
            let want = vec![
                entry(1, G1_TEXT, Some("EFI system")),
                entry(3, "abababab-abab-abab-abab-abababababab", Some("données")),
                entry(4, "01010101-0101-0101-0101-010101010101", None),
            ];
            assert_eq!(image(&img, lbs as u32), Some(Table::Gpt(want)), "lbs {lbs}");
        }
        // The wrong block size finds no header.
        assert_eq!(image(&gpt_image(512, 128, &[(0, G1, "a")]), 4096), None);
    }

    #[test]
    fn gpt_backup_header_when_primary_is_bad() {
        let good = gpt_image(512, 128, &[(0, G1, "root")]);
        let want = image(&good, 512);
        let (mut bad_header, mut bad_array) = (good.clone(), good.clone());
        bad_header[512 + 40] ^= 1;
        bad_array[2 * 512 + 56] ^= 1;
        assert_eq!(image(&bad_header, 512), want);
        assert_eq!(image(&bad_array, 512), want);
    }

    #[test]
    fn protective_mbr_is_not_read_as_mbr_partitions() {
        let mut img = gpt_image(512, 128, &[(0, G1, "root")]);
        img[512] = b'X';
        img[127 * 512] = b'X';
        assert_eq!(image(&img, 512), None);
    }

    #[test]
    fn plain_mbr_wins_over_stale_gpt() {
        let mut img = gpt_image(512, 128, &[(0, G1, "old")]);
        img[0x1BE..0x1FE].fill(0);
        mbr_entry(&mut img, 0, 0, 0x83, 40, 8);
        let t = image(&img, 512).unwrap();
        assert_eq!(
            t,
            Table::Mbr(vec![PartitionEntry {
                number: 1,
                uuid: "00000000-01".into(),
                label: None
            }])
        );
    }

    #[test]
    fn mbr_primaries_and_logicals_numbered_from_5() {
        for lbs in [512, 4096] {
            let t = image(&mbr_image(lbs), lbs as u32).unwrap();
            assert!(matches!(t, Table::Mbr(_)));
            let want = [
                (1, "12345678-01"),
                (4, "12345678-04"),
                (5, "12345678-05"),
                (6, "12345678-06"),
            ];
            assert_eq!(numbers_and_uuids(&t), want, "lbs {lbs}");
        }
    }

    #[test]
    fn ebr_loop_ends() {
        let mut img = mbr_image(512);
        mbr_entry(&mut img, 200 * 512, 1, 0x05, 0, 100); // back to the first EBR
        let t = image(&img, 512).unwrap();
        assert_eq!(t.entries().last().unwrap().number, MAX_PARTS - 1);
        mbr_entry(&mut img, 100 * 512, 0, 0, 0, 0); // a loop of links without data
        mbr_entry(&mut img, 200 * 512, 0, 0, 0, 0);
        assert_eq!(
            numbers_and_uuids(&image(&img, 512).unwrap()),
            [(1, "12345678-01"), (4, "12345678-04")]
        );
    }

    #[test]
    fn garbage_and_truncation_never_panic() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let gpt = gpt_image(512, 128, &[(0, G1, "a")]);
        let mut images = vec![gpt.clone(), mbr_image(512)];
        for n in 0..100 {
            let mut img: Vec<u8> = (0..rand() % 70_000).map(|_| rand() as u8).collect();
            if n % 2 == 0 && img.len() > 1024 {
                put(&mut img, 510, b"\x55\xAAEFI PART");
            }
            if n % 4 == 0 && img.len() > 1024 {
                // An MBR with an extended partition near the start.
                img[0x1C2] = 0x05;
                for e in (0x1BE..0x1FE).step_by(16) {
                    img[e] = 0;
                    put(&mut img, e + 8, &(rand() as u32 % 128).to_le_bytes());
                }
            }
            images.push(img);
        }
        for _ in 0..300 {
            let mut img = if rand() % 2 == 0 {
                gpt.clone()
            } else {
                mbr_image(512)
            };
            let i = rand() as usize % img.len().min(60_000);
            img[i] ^= 1 << (rand() % 8);
            images.push(img);
        }
        // Headers with valid CRCs and hostile fields.
        for (off, v) in [
            (12, u32::MAX),
            (12, 0),
            (80, u32::MAX),
            (84, 1 << 31),
            (84, 100),
            (72, u32::MAX),
        ] {
            let mut img = gpt.clone();
            edit_header(&mut img, |h| put(h, off, &v.to_le_bytes()));
            img[127 * 512] = 0; // no backup to fall back on
            assert_eq!(image(&img, 512), None, "field {off} = {v:#x}");
        }
        for img in &images {
            for cut in [0, 1, 511, 512, 1024, 4096, img.len() / 2, img.len()] {
                for lbs in [0, 512, 513, 4096] {
                    if let Some(t) = image(&img[..cut.min(img.len())], lbs) {
                        assert!(t.entries().iter().all(|e| e.number < MAX_PARTS));
                    }
                }
            }
        }
    }

    #[test]
    fn agrees_with_sfdisk() {
        if Command::new("sfdisk").arg("--version").output().is_err() {
            eprintln!("SKIPPED: sfdisk not found");
            return;
        }
        let dir = tmp("sfdisk");
        let run = |name: &str, script: &str| {
            let path = dir.join(name);
            File::create(&path).unwrap().set_len(16 << 20).unwrap();
            let mut child = Command::new("sfdisk")
                .args(["--quiet", "--no-reread", "--no-tell-kernel"])
                .arg(&path)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(script.as_bytes())
                .unwrap();
            assert!(child.wait().unwrap().success(), "sfdisk {name}");
            std::fs::read(&path).unwrap()
        };
        let gpt = run(
            "gpt.img",
            "label: gpt\n\
             size=1MiB, uuid=12345678-1234-5678-9ABC-DEF012345678, name=\"EFI system\"\n\
             size=4MiB, uuid=0a0b0c0d-0e0f-1011-1213-141516171819, name=root\n",
        );
        let got = image(&gpt, 512).unwrap();
        assert!(matches!(got, Table::Gpt(_)));
        let got: Vec<_> = got
            .entries()
            .iter()
            .map(|e| (e.number, e.uuid.as_str(), e.label.as_deref()))
            .collect();
        let want = [
            (1, G1_TEXT, Some("EFI system")),
            (2, "0a0b0c0d-0e0f-1011-1213-141516171819", Some("root")),
        ];
        assert_eq!(got, want);
        let mbr = run(
            "mbr.img",
            "label: dos\nlabel-id: 0x12345678\n\
             size=1MiB, type=83\ntype=5\nsize=1MiB, type=83\nsize=1MiB, type=83\n",
        );
        let got = image(&mbr, 512).unwrap();
        assert!(matches!(got, Table::Mbr(_)));
        let want = [(1, "12345678-01"), (5, "12345678-05"), (6, "12345678-06")];
        assert_eq!(numbers_and_uuids(&got), want);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn find_on_a_fixture_tree() {
        let root = tmp("find");
        let (sys, dev) = (root.join("sys/class/block"), root.join("dev"));
        let devices = root.join("sys/devices/x/block");
        for d in [
            &sys,
            &dev,
            &devices.join("vda/vda1"),
            &devices.join("loop0/loop0p1"),
        ] {
            std::fs::create_dir_all(d).unwrap();
        }
        for (name, part) in [("vda", "vda1"), ("loop0", "loop0p1")] {
            std::fs::write(devices.join(name).join("size"), "128\n").unwrap();
            std::fs::write(devices.join(name).join(part).join("partition"), "1\n").unwrap();
            let to = format!("../../devices/x/block/{name}");
            std::os::unix::fs::symlink(&to, sys.join(name)).unwrap();
            std::os::unix::fs::symlink(format!("{to}/{part}"), sys.join(part)).unwrap();
        }
        // No dev/loop0: logged and skipped.
        std::fs::write(dev.join("vda"), gpt_image(512, 128, &[(0, G1, "root")])).unwrap();
        std::fs::write(dev.join("vda1"), "").unwrap();
        let uuid = Key::PartUuid(G1_TEXT.to_uppercase());
        assert_eq!(find(&sys, &dev, &uuid), Some(dev.join("vda1")));
        assert_eq!(
            find(&sys, &dev, &Key::PartLabel("root".into())),
            Some(dev.join("vda1"))
        );
        assert_eq!(find(&sys, &dev, &Key::PartLabel("ROOT".into())), None);
        assert_eq!(find(&sys, &dev, &Key::PartUuid("12345678-01".into())), None);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
