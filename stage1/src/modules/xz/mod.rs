//! The .xz container around LZMA2, as the kernel's build writes modules
//! (`xz --check=crc32 --lzma2=dict=1MiB`) and plain `xz` files: stream
//! header, blocks (header, LZMA2 data, padding, check), index, stream
//! footer. One stream: anything after its footer is ignored. Filters
//! other than LZMA2 (BCJ, delta) are refused by name; checks are none,
//! CRC32, CRC64 and (with the `net` feature's SHA-256) SHA-256.
//!
//! Written from the .xz file format and LZMA specifications
//! (tukaani.org/xz/xz-file-format.txt).

mod check;
mod fault;
mod lzma;
mod lzma2;
mod range;

use check::{Check, Crc, CRC32};
use fault::Fault;
use lzma::Lzma;

const MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0];
const FOOTER_MAGIC: &[u8] = b"YZ";
const LZMA2_ID: u64 = 0x21;

/// Decodes the first .xz stream of `data`, refusing output past `limit`
/// bytes.
pub(super) fn decode(data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    stream(data, limit).map_err(|fault| match fault {
        Fault::Bad(what) => format!("bad xz data: {what}"),
        Fault::TooBig => format!("xz data inflates past {limit} bytes"),
        Fault::Filter(id) => {
            let name = match id {
                3 => "delta",
                4..=11 => "BCJ",
                _ => "unknown",
            };
            format!("xz filter {id:#04x} ({name}) is not supported (modules are compressed with LZMA2 only)")
        }
        Fault::Check(10) => "xz check SHA-256 is not supported by this init (built without the net feature, which has SHA-256): compress modules with --check=crc32".into(),
        Fault::Check(id) => format!("xz check {id:#04x} is not supported (only none, CRC32, CRC64 and SHA-256 are): compress modules with --check=crc32"),
    })
}

fn stream(data: &[u8], limit: usize) -> Result<Vec<u8>, Fault> {
    let crc32 = Crc::new(CRC32);
    // Stream header: magic, flags (0, check id), CRC32 of the flags.
    let header = data
        .get(..12)
        .ok_or(Fault::Bad("truncated stream header"))?;
    if &header[..6] != MAGIC {
        return Err(Fault::Bad("not an xz stream"));
    }
    let flags = &header[6..8];
    if !crc_matches(&crc32, flags, &header[8..]) {
        return Err(Fault::Bad("stream header CRC32 mismatch"));
    }
    if flags[0] != 0 || flags[1] > 0x0f {
        return Err(Fault::Bad("unsupported stream flags"));
    }
    let check = Check::from_id(flags[1])?;
    let check_crc = check.crc();

    let mut lzma = Lzma::new();
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(limit));
    // (unpadded size, uncompressed size) per block, for the index.
    let mut blocks = Vec::new();
    let mut at = 12;
    loop {
        let size_byte = *data.get(at).ok_or(Fault::Bad("truncated block"))?;
        if size_byte == 0 {
            break; // the index indicator
        }
        let header_len = (usize::from(size_byte) + 1) * 4;
        let header = data
            .get(at..at + header_len)
            .ok_or(Fault::Bad("truncated block header"))?;
        let (body, stored) = header.split_at(header_len - 4);
        if !crc_matches(&crc32, body, stored) {
            return Err(Fault::Bad("block header CRC32 mismatch"));
        }
        let block = BlockHeader::parse(&body[1..])?;
        at += header_len;

        let start = out.len();
        let input = data.get(at..).unwrap_or_default();
        let packed = lzma2::decode(&mut lzma, input, &mut out, block.dict_size, limit)?;
        let unpacked = out.len() - start;
        if block.packed.is_some_and(|size| size != packed as u64)
            || block.unpacked.is_some_and(|size| size != unpacked as u64)
        {
            return Err(Fault::Bad("block sizes differ from its header's"));
        }
        at += packed;
        // Block padding to a multiple of four bytes, zeros; then the check.
        let padding = packed.wrapping_neg() % 4;
        let tail = data
            .get(at..at + padding + check.size())
            .ok_or(Fault::Bad("truncated block"))?;
        let (padding, stored) = tail.split_at(padding);
        if padding.iter().any(|&b| b != 0) {
            return Err(Fault::Bad("nonzero block padding"));
        }
        if !check.verify(&check_crc, &out[start..], stored) {
            return Err(Fault::Bad("check mismatch (corrupt data)"));
        }
        at += tail.len();
        blocks.push(((header_len + packed + check.size()) as u64, unpacked as u64));
    }

    // Index: indicator 0, record count, (unpadded, uncompressed) per
    // block, padding, CRC32.
    let index_start = at;
    at += 1;
    let differs = Fault::Bad("index does not match the blocks");
    if vli(data, &mut at)? != blocks.len() as u64 {
        return Err(differs);
    }
    for &(unpadded, unpacked) in &blocks {
        if vli(data, &mut at)? != unpadded || vli(data, &mut at)? != unpacked {
            return Err(differs);
        }
    }
    let padding = (at - index_start).wrapping_neg() % 4;
    let truncated = Fault::Bad("truncated index");
    let tail = data.get(at..at + padding + 4).ok_or(truncated)?;
    let (padding, stored) = tail.split_at(padding);
    if padding.iter().any(|&b| b != 0) {
        return Err(Fault::Bad("nonzero index padding"));
    }
    if !crc_matches(&crc32, &data[index_start..at + padding.len()], stored) {
        return Err(Fault::Bad("index CRC32 mismatch"));
    }
    at += tail.len();

    // Stream footer: CRC32, backward size (the index's, in 4-byte units,
    // minus one), the header's flags, "YZ".
    let footer = data
        .get(at..at + 12)
        .ok_or(Fault::Bad("truncated stream footer"))?;
    if !crc_matches(&crc32, &footer[4..10], &footer[..4]) {
        return Err(Fault::Bad("stream footer CRC32 mismatch"));
    }
    let backward = u32::from_le_bytes([footer[4], footer[5], footer[6], footer[7]]);
    if (u64::from(backward) + 1) * 4 != (at - index_start) as u64
        || footer[8..10] != *flags
        || footer[10..] != *FOOTER_MAGIC
    {
        return Err(Fault::Bad("stream footer does not match"));
    }
    Ok(out)
}

/// Whether `stored` is the little-endian CRC32 of `data`.
fn crc_matches(crc32: &Crc, data: &[u8], stored: &[u8]) -> bool {
    crc32.sum(data).to_le_bytes()[..4] == *stored
}

/// What a block header says.
struct BlockHeader {
    packed: Option<u64>,
    unpacked: Option<u64>,
    dict_size: usize,
}

impl BlockHeader {
    /// `header`: after the size byte, before the CRC32.
    fn parse(header: &[u8]) -> Result<Self, Fault> {
        let bad = Fault::Bad("bad block header");
        let (&flags, _) = header.split_first().ok_or(bad)?;
        if flags & 0x3c != 0 {
            return Err(Fault::Bad("unsupported block flags"));
        }
        let mut at = 1;
        let mut size = |present: u8| -> Result<Option<u64>, Fault> {
            if flags & present == 0 {
                return Ok(None);
            }
            vli(header, &mut at).map(Some)
        };
        let packed = size(0x40)?;
        let unpacked = size(0x80)?;
        if packed == Some(0) {
            return Err(bad);
        }
        let filters = (flags & 3) + 1;
        let mut dict_size = 0;
        for filter in 1..=filters {
            let id = vli(header, &mut at)?;
            let props_len = vli(header, &mut at)?;
            if id != LZMA2_ID {
                return Err(Fault::Filter(id));
            }
            // LZMA2 comes last; its one property byte is the dictionary
            // size: 2 or 3 times a power of two, 4 KiB to 4 GiB - 1.
            let props = header.get(at..).unwrap_or_default();
            let (Some(&bits), true, true) = (props.first(), props_len == 1, filter == filters)
            else {
                return Err(bad);
            };
            at += 1;
            dict_size = match bits {
                0..=39 => (2 | usize::from(bits & 1)) << (bits / 2 + 11),
                40 => u32::MAX as usize,
                _ => return Err(Fault::Bad("bad LZMA2 dictionary size")),
            };
        }
        // Header padding: zeros up to the CRC32.
        if header.get(at..).unwrap_or_default().iter().any(|&b| b != 0) {
            return Err(bad);
        }
        Ok(Self {
            packed,
            unpacked,
            dict_size,
        })
    }
}

/// A variable-length integer: 7 bits a byte, least significant first, the
/// high bit set on all but the last; at most 9 bytes, no needless zero.
fn vli(data: &[u8], at: &mut usize) -> Result<u64, Fault> {
    let mut value = 0;
    for shift in (0..63).step_by(7) {
        let byte = *data.get(*at).ok_or(Fault::Bad("truncated integer"))?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            if byte == 0 && shift > 0 {
                break;
            }
            return Ok(value);
        }
    }
    Err(Fault::Bad("bad integer"))
}

#[cfg(test)]
mod tests;
