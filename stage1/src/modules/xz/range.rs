//! The LZMA range decoder: one 32-bit range and code, eleven-bit
//! probabilities that adapt by 1/32 of their distance to certainty.

// The hot bit decoder is inlined by hand (see `bit`).
#![allow(clippy::inline_always)]

/// Probabilities count in 1/2048ths; 1024 is "no idea".
pub(super) const PROB_INIT: u16 = 1 << 10;
const PROB_BITS: u32 = 11;
const ADAPT_SHIFT: u32 = 5;
const TOP: u32 = 1 << 24;

/// Decodes one LZMA2 chunk's compressed bytes.
pub(super) struct RangeDecoder<'a> {
    input: &'a [u8],
    /// Bytes taken so far; past the end of `input` reads give zeros and
    /// [`finished`](Self::finished) fails, so the hot path has no error arm.
    next: usize,
    range: u32,
    code: u32,
}

impl<'a> RangeDecoder<'a> {
    /// Five bytes start the coder: a zero (the encoder's initial cache
    /// byte) and the code.
    pub(super) fn new(input: &'a [u8]) -> Option<Self> {
        match *input {
            [0, a, b, c, d, ..] => Some(Self {
                input,
                next: 5,
                range: u32::MAX,
                code: u32::from_be_bytes([a, b, c, d]),
            }),
            _ => None,
        }
    }

    /// The encoder's flush leaves the code at zero, exactly at the end of
    /// the chunk's compressed size.
    pub(super) fn finished(&self) -> bool {
        self.code == 0 && self.next == self.input.len()
    }

    #[inline(always)]
    fn normalize(&mut self) {
        if self.range < TOP {
            let byte = self.input.get(self.next).copied().unwrap_or(0);
            self.next += 1;
            self.range <<= 8;
            self.code = (self.code << 8) | u32::from(byte);
        }
    }

    /// One bit under probability `prob`, which learns from it. Inlined
    /// where it is hot: at opt-level "z" LLVM would call it, and decoding
    /// ran at 11 MiB/s instead of 58 (`decode_speed`).
    #[inline(always)]
    pub(super) fn bit(&mut self, prob: &mut u16) -> usize {
        let bound = (self.range >> PROB_BITS) * u32::from(*prob);
        let bit = if self.code < bound {
            self.range = bound;
            *prob += ((1 << PROB_BITS) - *prob) >> ADAPT_SHIFT;
            0
        } else {
            self.range -= bound;
            self.code -= bound;
            *prob -= *prob >> ADAPT_SHIFT;
            1
        };
        self.normalize();
        bit
    }

    /// [`bit`](Self::bit) as a call, for the rarer decisions (which kind
    /// of match, which length coder): smaller, and no slower.
    #[inline(never)]
    pub(super) fn decide(&mut self, prob: &mut u16) -> usize {
        self.bit(prob)
    }

    /// `bits` bits, most significant first, through the binary tree of
    /// probabilities at `probs[1..1 << bits]`.
    pub(super) fn tree(&mut self, probs: &mut [u16], bits: u32) -> usize {
        let mut symbol = 1;
        for _ in 0..bits {
            let bit = match probs.get_mut(symbol) {
                Some(prob) => self.bit(prob),
                None => 0,
            };
            symbol = (symbol << 1) | bit;
        }
        symbol - (1 << bits)
    }

    /// `bits` bits, least significant first, through a tree as [`tree`](Self::tree).
    pub(super) fn reverse_tree(&mut self, probs: &mut [u16], bits: u32) -> u32 {
        let mut symbol = 1;
        let mut value = 0;
        for i in 0..bits {
            let bit = match probs.get_mut(symbol) {
                Some(prob) => self.bit(prob),
                None => 0,
            };
            symbol = (symbol << 1) | bit;
            value |= (bit as u32) << i;
        }
        value
    }

    /// `bits` bits of even probability (the middle of long distances).
    pub(super) fn direct(&mut self, bits: u32) -> u32 {
        let mut value = 0;
        for _ in 0..bits {
            self.range >>= 1;
            let bit = if self.code >= self.range {
                self.code -= self.range;
                1
            } else {
                0
            };
            value = (value << 1) | bit;
            self.normalize();
        }
        value
    }
}
