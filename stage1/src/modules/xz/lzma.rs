//! LZMA: literals and matches coded bit by bit with adaptive
//! probabilities ([`RangeDecoder`]). The output buffer itself is the
//! dictionary: a module is decoded whole into memory, so a match copies
//! from earlier in the same `Vec` and no window is allocated, whatever
//! dictionary size the header names.

use super::fault::Fault;
use super::range::{RangeDecoder, PROB_INIT};

/// Bits of the position that select the literal coder (lp) and the
/// match/rep probabilities (pb), and high bits of the previous byte that
/// select the literal coder (lc), as the properties byte gives them.
#[derive(Clone, Copy)]
pub(super) struct Properties {
    lc: u32,
    lp: u32,
    pb: u32,
}

impl Properties {
    /// `(pb * 5 + lp) * 9 + lc`; LZMA2 allows lc + lp ≤ 4 only.
    pub(super) fn from_byte(byte: u8) -> Option<Self> {
        let byte = u32::from(byte);
        let (lc, lp, pb) = (byte % 9, byte / 9 % 5, byte / 45);
        (pb <= 4 && lc + lp <= 4).then_some(Self { lc, lp, pb })
    }
}

const STATES: usize = 12;
const POS_STATES: usize = 1 << 4;
/// States below this follow a literal; at or above it, a match.
const LIT_STATES: usize = 7;
const MATCH_LEN_MIN: usize = 2;
/// Distance slots below this code their low bits with the reverse trees
/// of `DIST_SPECIAL`; above it, direct bits and the 4 align bits.
const END_POS_MODEL: usize = 14;
const ALIGN_BITS: u32 = 4;

// Length coder: choice, choice2, 16 low and 16 mid trees of 3 bits (one per
// pos state), one high tree of 8 bits.
const CHOICE: usize = 0;
const CHOICE2: usize = 1;
const LEN_LOW: usize = 2;
const LEN_MID: usize = LEN_LOW + POS_STATES * 8;
const LEN_HIGH: usize = LEN_MID + POS_STATES * 8;
const LEN_PROBS: usize = LEN_HIGH + 256;

// All probabilities in one array, so a reset is one fill.
const IS_MATCH: usize = 0;
const IS_REP: usize = IS_MATCH + STATES * POS_STATES;
const IS_REP0: usize = IS_REP + STATES;
const IS_REP1: usize = IS_REP0 + STATES;
const IS_REP2: usize = IS_REP1 + STATES;
const IS_REP0_LONG: usize = IS_REP2 + STATES;
const DIST_SLOT: usize = IS_REP0_LONG + STATES * POS_STATES;
const DIST_SPECIAL: usize = DIST_SLOT + 4 * 64;
const DIST_ALIGN: usize = DIST_SPECIAL + 114;
const MATCH_LEN: usize = DIST_ALIGN + (1 << ALIGN_BITS);
const REP_LEN: usize = MATCH_LEN + LEN_PROBS;
const LITERAL: usize = REP_LEN + LEN_PROBS;
/// 0x300 per literal coder, at most 16 of them (lc + lp ≤ 4).
const PROBS: usize = LITERAL + 0x300 * 16;

/// The decoder's state between chunks of one LZMA2 stream.
pub(super) struct Lzma {
    probs: Box<[u16]>,
    props: Properties,
    state: usize,
    /// The last four match distances (minus one), most recent first.
    reps: [usize; 4],
}

impl Lzma {
    pub(super) fn new() -> Self {
        Self {
            probs: vec![PROB_INIT; PROBS].into_boxed_slice(),
            props: Properties {
                lc: 0,
                lp: 0,
                pb: 0,
            },
            state: 0,
            reps: [0; 4],
        }
    }

    /// A state reset, with new properties or the old ones.
    pub(super) fn reset(&mut self, props: Option<Properties>) {
        if let Some(props) = props {
            self.props = props;
        }
        self.probs.fill(PROB_INIT);
        self.state = 0;
        self.reps = [0; 4];
    }

    /// Decodes one chunk into `out[pos..]` (all of it: the chunk's
    /// uncompressed size, already allocated). The dictionary is
    /// `out[dict_start..pos]`, at most `dict_size` bytes back.
    pub(super) fn decode(
        &mut self,
        rc: &mut RangeDecoder<'_>,
        out: &mut [u8],
        mut pos: usize,
        dict_start: usize,
        dict_size: usize,
    ) -> Result<(), Fault> {
        let Properties { lc, lp, pb } = self.props;
        let probs = &mut self.probs[..];
        let mut state = self.state;
        let mut reps = self.reps;
        while pos < out.len() {
            let in_dict = pos - dict_start;
            let pos_state = in_dict & ((1 << pb) - 1);
            if rc.bit(&mut probs[IS_MATCH + state * POS_STATES + pos_state]) == 0 {
                let prev = if in_dict > 0 { out[pos - 1] } else { 0 };
                let coder = ((in_dict & ((1 << lp) - 1)) << lc) + (usize::from(prev) >> (8 - lc));
                let lit = &mut probs[LITERAL + 0x300 * coder..][..0x300];
                let mut symbol = 1;
                if state < LIT_STATES {
                    while symbol < 0x100 {
                        symbol = (symbol << 1) | rc.bit(&mut lit[symbol]);
                    }
                } else {
                    // After a match the byte at rep0 predicts this one, bit by
                    // bit, until the first bit that differs.
                    let Some(&matched) = out.get(pos.wrapping_sub(reps[0] + 1)) else {
                        return Err(Fault::Bad("distance beyond the dictionary"));
                    };
                    let mut matched = usize::from(matched);
                    let mut offset = 0x100;
                    while symbol < 0x100 {
                        matched <<= 1;
                        let match_bit = matched & offset;
                        let bit = rc.bit(&mut lit[offset + match_bit + symbol]);
                        symbol = (symbol << 1) | bit;
                        offset &= if bit == 0 { !match_bit } else { match_bit };
                    }
                }
                out[pos] = symbol as u8;
                pos += 1;
                state = match state {
                    0..=3 => 0,
                    4..=9 => state - 3,
                    _ => state - 6,
                };
                continue;
            }
            let len;
            if rc.decide(&mut probs[IS_REP + state]) == 0 {
                len = length(rc, &mut probs[MATCH_LEN..][..LEN_PROBS], pos_state);
                state = if state < LIT_STATES { 7 } else { 10 };
                let dist = distance(rc, probs, len);
                reps = [dist as usize, reps[0], reps[1], reps[2]];
            } else if rc.decide(&mut probs[IS_REP0 + state]) == 0 {
                if rc.decide(&mut probs[IS_REP0_LONG + state * POS_STATES + pos_state]) == 0 {
                    // A "short rep": one byte from rep0.
                    len = 1;
                    state = if state < LIT_STATES { 9 } else { 11 };
                } else {
                    len = length(rc, &mut probs[REP_LEN..][..LEN_PROBS], pos_state);
                    state = if state < LIT_STATES { 8 } else { 11 };
                }
            } else {
                let dist;
                if rc.decide(&mut probs[IS_REP1 + state]) == 0 {
                    dist = reps[1];
                } else if rc.decide(&mut probs[IS_REP2 + state]) == 0 {
                    dist = reps[2];
                    reps[2] = reps[1];
                } else {
                    dist = reps[3];
                    reps[3] = reps[2];
                    reps[2] = reps[1];
                }
                reps[1] = reps[0];
                reps[0] = dist;
                len = length(rc, &mut probs[REP_LEN..][..LEN_PROBS], pos_state);
                state = if state < LIT_STATES { 8 } else { 11 };
            }
            let dist = reps[0];
            if dist >= in_dict || dist >= dict_size {
                return Err(Fault::Bad("distance beyond the dictionary"));
            }
            if len > out.len() - pos {
                return Err(Fault::Bad("match past the end of its chunk"));
            }
            // Byte by byte: a match may overlap what it writes (a run).
            for at in pos..pos + len {
                out[at] = out[at - dist - 1];
            }
            pos += len;
        }
        self.state = state;
        self.reps = reps;
        Ok(())
    }
}

/// A match length: 2..=9 (low tree), 10..=17 (mid), 18..=273 (high).
fn length(rc: &mut RangeDecoder<'_>, probs: &mut [u16], pos_state: usize) -> usize {
    let pos_state = pos_state * 8;
    MATCH_LEN_MIN
        + if rc.decide(&mut probs[CHOICE]) == 0 {
            rc.tree(&mut probs[LEN_LOW + pos_state..][..8], 3)
        } else if rc.decide(&mut probs[CHOICE2]) == 0 {
            8 + rc.tree(&mut probs[LEN_MID + pos_state..][..8], 3)
        } else {
            16 + rc.tree(&mut probs[LEN_HIGH..][..256], 8)
        }
}

/// A match distance (minus one): a 6-bit slot per length class (2, 3, 4,
/// 5 and more), then the slot's low bits.
fn distance(rc: &mut RangeDecoder<'_>, probs: &mut [u16], len: usize) -> u32 {
    let class = (len - MATCH_LEN_MIN).min(3);
    let slot = rc.tree(&mut probs[DIST_SLOT + class * 64..][..64], 6);
    if slot < 4 {
        return slot as u32;
    }
    let low_bits = (slot as u32 >> 1) - 1;
    let base = (2 | (slot as u32 & 1)) << low_bits;
    if slot < END_POS_MODEL {
        // Each slot's tree is used from its entry 1 on; the trees of slots
        // 4..14 lie back to back, slot 4's entry 1 first (114 in all).
        let tree = &mut probs[DIST_SPECIAL + base as usize - slot - 1..DIST_ALIGN];
        base | rc.reverse_tree(tree, low_bits)
    } else {
        let middle = rc.direct(low_bits - ALIGN_BITS) << ALIGN_BITS;
        base | middle | rc.reverse_tree(&mut probs[DIST_ALIGN..MATCH_LEN], ALIGN_BITS)
    }
}
