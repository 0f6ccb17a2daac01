//! LZMA2: a sequence of chunks, each either stored or LZMA-coded with a
//! fresh range coder, that may reset the dictionary, the LZMA state or the
//! properties. A control byte 0 ends the data.

use super::fault::Fault;
use super::lzma::{Lzma, Properties};
use super::range::RangeDecoder;

/// Decodes the LZMA2 data at the start of `input`, appending to `out` (at
/// most `limit` bytes in all); returns how many input bytes it took.
pub(super) fn decode(
    lzma: &mut Lzma,
    input: &[u8],
    out: &mut Vec<u8>,
    dict_size: usize,
    limit: usize,
) -> Result<usize, Fault> {
    let truncated = Fault::Bad("truncated LZMA2 data");
    let mut at = 0;
    // The first chunk must reset the dictionary, and the first LZMA chunk
    // after a dictionary reset must set the properties.
    let mut need_dict_reset = true;
    let mut need_props = true;
    let mut dict_start = out.len();
    loop {
        let control = *input.get(at).ok_or(truncated)?;
        at += 1;
        if control == 0 {
            return Ok(at);
        }
        if control >= 0xe0 || control == 1 {
            need_dict_reset = false;
            need_props = true;
            dict_start = out.len();
        } else if need_dict_reset {
            return Err(Fault::Bad(
                "LZMA2 data does not start with a dictionary reset",
            ));
        }
        let start = out.len();
        if control >= 0x80 {
            // Sizes minus one: 21 bits uncompressed (5 in the control byte),
            // 16 bits compressed; then the properties for control ≥ 0xc0.
            let Some(&[u1, u2, c1, c2]) = input.get(at..at + 4) else {
                return Err(truncated);
            };
            at += 4;
            let size =
                (usize::from(control & 0x1f) << 16 | usize::from(u1) << 8 | usize::from(u2)) + 1;
            let packed = (usize::from(c1) << 8 | usize::from(c2)) + 1;
            if control >= 0xc0 {
                let byte = *input.get(at).ok_or(truncated)?;
                at += 1;
                let props = Properties::from_byte(byte).ok_or(Fault::Bad("bad LZMA properties"))?;
                need_props = false;
                lzma.reset(Some(props));
            } else if need_props {
                return Err(Fault::Bad("LZMA2 chunk without properties"));
            } else if control >= 0xa0 {
                lzma.reset(None);
            }
            let data = input.get(at..at + packed).ok_or(truncated)?;
            at += packed;
            grow(out, size, limit)?;
            let mut rc = RangeDecoder::new(data).ok_or(Fault::Bad("bad range coder start"))?;
            lzma.decode(&mut rc, out, start, dict_start, dict_size)?;
            if !rc.finished() {
                return Err(Fault::Bad("LZMA chunk does not end where its size says"));
            }
        } else if control <= 2 {
            // Stored: a 16-bit size minus one, then the bytes, which join
            // the dictionary.
            let Some(&[s1, s2]) = input.get(at..at + 2) else {
                return Err(truncated);
            };
            at += 2;
            let size = (usize::from(s1) << 8 | usize::from(s2)) + 1;
            let data = input.get(at..at + size).ok_or(truncated)?;
            at += size;
            grow(out, size, limit)?;
            out[start..].copy_from_slice(data);
        } else {
            return Err(Fault::Bad("bad LZMA2 control byte"));
        }
    }
}

/// Makes room for `size` more bytes, refusing to pass `limit`.
fn grow(out: &mut Vec<u8>, size: usize, limit: usize) -> Result<(), Fault> {
    let len = out.len() + size;
    if len > limit {
        return Err(Fault::TooBig);
    }
    out.resize(len, 0);
    Ok(())
}
