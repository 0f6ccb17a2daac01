//! SHA-256 (FIPS 180-4), incremental, for `sha256=<hex>`: the fetched
//! image is hashed as it streams into RAM, so nothing reads it twice and
//! nothing holds it whole.
//!
//! Written here rather than taken from a crate: the portable rounds are
//! about a hundred lines without `unsafe`; on x86-64 CPUs with the SHA
//! extensions the blocks go through them instead (`sha_ni.rs`, chosen at
//! run time, the only `unsafe` of the crate). Measured against the `sha2`
//! crate (0.10, `compress` feature) in its place: dist/init +4,800 bytes
//! with it, +704 with these (both against the portable code alone).

use std::fmt::Write as _;

mod constants;
#[cfg(target_arch = "x86_64")]
mod sha_ni;

use constants::{H0, K};

/// An incremental SHA-256: [`update`](Self::update) any number of times,
/// then [`finish`](Self::finish).
#[derive(Debug, Clone)]
pub struct Sha256 {
    state: [u32; 8],
    /// A partial block, `used` bytes of it filled.
    block: [u8; 64],
    used: usize,
    /// Message length in bytes so far.
    len: u64,
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256 {
    pub const fn new() -> Self {
        Self {
            state: H0,
            block: [0; 64],
            used: 0,
            len: 0,
        }
    }

    /// Bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        if self.used > 0 {
            let take = (64 - self.used).min(data.len());
            self.block[self.used..self.used + take].copy_from_slice(&data[..take]);
            self.used += take;
            data = &data[take..];
            if self.used < 64 {
                return;
            }
            compress_blocks(&mut self.state, &self.block);
            self.used = 0;
        }
        let whole = data.len() - data.len() % 64;
        compress_blocks(&mut self.state, &data[..whole]);
        let rest = &data[whole..];
        self.block[..rest.len()].copy_from_slice(rest);
        self.used = rest.len();
    }

    /// Pads (a 1 bit, zeros, the length in bits) and returns the digest.
    pub fn finish(mut self) -> [u8; 32] {
        let bits = self.len.wrapping_mul(8);
        self.block[self.used] = 0x80;
        self.block[self.used + 1..].fill(0);
        if self.used >= 56 {
            compress_blocks(&mut self.state, &self.block);
            self.block.fill(0);
        }
        self.block[56..].copy_from_slice(&bits.to_be_bytes());
        compress_blocks(&mut self.state, &self.block);
        let mut out = [0; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

/// The SHA-256 of `data` in one go.
pub fn digest(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(data);
    h.finish()
}

/// Which code hashes on this CPU: `"sha-ni"` or `"portable"` (the
/// benchmark prints it).
pub fn implementation() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if sha_ni::available() {
        return "sha-ni";
    }
    "portable"
}

/// Every whole 64-byte block of `blocks` into `state`: with the CPU's SHA
/// instructions when it has them.
fn compress_blocks(state: &mut [u32; 8], blocks: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    if sha_ni::compress_blocks(state, blocks) {
        return;
    }
    compress_portable(state, blocks);
}

fn compress_portable(state: &mut [u32; 8], blocks: &[u8]) {
    for block in blocks.chunks_exact(64) {
        compress(state, block);
    }
}

/// One round (FIPS 180-4 §6.2.2, step 3) with the working variables named
/// in their order for this round: instead of shifting eight values along,
/// the next round passes the same variables rotated by one.
macro_rules! round {
    ($w:ident[$t:expr], $a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident) => {
        let s1 = $e.rotate_right(6) ^ $e.rotate_right(11) ^ $e.rotate_right(25);
        let ch = ($e & $f) ^ (!$e & $g);
        let kw = K[$t].wrapping_add($w[$t]);
        let t1 = $h.wrapping_add(s1).wrapping_add(ch).wrapping_add(kw);
        let s0 = $a.rotate_right(2) ^ $a.rotate_right(13) ^ $a.rotate_right(22);
        let maj = ($a & $b) ^ ($a & $c) ^ ($b & $c);
        $d = $d.wrapping_add(t1);
        $h = t1.wrapping_add(s0.wrapping_add(maj));
    };
}

/// One 64-byte block into the state (FIPS 180-4 §6.2.2; its names).
///
/// Eight rounds unrolled, indices rather than iterators over arrays: at
/// `opt-level = "z"` this is about 170 MiB/s of one 2020s x86 core where
/// the plain loop did 90 (under gigabit Ethernet's 112), for 0.5 KiB more
/// code.
#[allow(clippy::many_single_char_names)]
fn compress(state: &mut [u32; 8], block: &[u8]) {
    let mut w = [0u32; 64];
    for (word, bytes) in w.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    for t in 16..64 {
        let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
        let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16]
            .wrapping_add(s0)
            .wrapping_add(w[t - 7])
            .wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    // Indices, not `zip` over arrays by value: at opt-level "z" the array
    // iterators stay out-of-line calls.
    for i in 0..8 {
        let t = i * 8;
        round!(w[t], a, b, c, d, e, f, g, h);
        round!(w[t + 1], h, a, b, c, d, e, f, g);
        round!(w[t + 2], g, h, a, b, c, d, e, f);
        round!(w[t + 3], f, g, h, a, b, c, d, e);
        round!(w[t + 4], e, f, g, h, a, b, c, d);
        round!(w[t + 5], d, e, f, g, h, a, b, c);
        round!(w[t + 6], c, d, e, f, g, h, a, b);
        round!(w[t + 7], b, c, d, e, f, g, h, a);
    }
    for (s, v) in state.iter_mut().zip(&[a, b, c, d, e, f, g, h]) {
        *s = s.wrapping_add(*v);
    }
}

/// Lower-case hex, as `sha256sum` prints it.
pub fn hex(digest: &[u8; 32]) -> String {
    let mut s = String::with_capacity(64);
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `sha256=<hex>` from the command line: exactly 64 hex digits, either case.
pub fn parse_hex_digest(text: &str) -> Option<[u8; 32]> {
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0; 32];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        *byte = (hi << 4 | lo) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex_of(data: &[u8]) -> String {
        hex(&digest(data))
    }

    // FIPS 180-2, appendix B.
    #[test]
    fn fips_one_block() {
        assert_eq!(
            hex_of(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn fips_two_blocks() {
        assert_eq!(
            hex_of(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    #[test]
    fn fips_million_a() {
        let mut h = Sha256::new();
        let chunk = [b'a'; 1000];
        for _ in 0..1000 {
            h.update(&chunk);
        }
        assert_eq!(h.len(), 1_000_000);
        assert_eq!(
            hex(&h.finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn empty_and_padding_edges() {
        assert_eq!(
            hex_of(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // 55, 56 and 64 bytes: the length fits in the block, just does
        // not, and a full block of message.
        assert_eq!(
            hex_of(&[b'a'; 55]),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"
        );
        assert_eq!(
            hex_of(&[b'a'; 56]),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"
        );
        assert_eq!(
            hex_of(&[b'a'; 64]),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"
        );
    }

    #[test]
    fn hex_digests() {
        let d = digest(b"abc");
        let text = hex(&d);
        assert_eq!(parse_hex_digest(&text), Some(d));
        assert_eq!(parse_hex_digest(&text.to_uppercase()), Some(d));
        assert_eq!(parse_hex_digest(&text[..63]), None);
        assert_eq!(parse_hex_digest(&format!("{text}0")), None);
        assert_eq!(parse_hex_digest(&text.replacen('b', "g", 1)), None);
        assert_eq!(parse_hex_digest(&format!("+{}", &text[1..])), None);
        // 64 bytes but not 64 characters.
        assert_eq!(parse_hex_digest(&format!("é{}", &text[2..])), None);
    }

    /// The CPU's instructions and the portable rounds agree on every
    /// state and block (random ones, many blocks in one call too).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sha_ni_equals_portable() {
        if !sha_ni::available() {
            eprintln!("SKIPPING sha_ni_equals_portable: this CPU has no SHA extensions");
            assert!(
                std::env::var_os("CI").is_none(),
                "CI machines have SHA-NI (sha_ni in /proc/cpuinfo)"
            );
            return;
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for blocks in [1usize, 2, 3, 17] {
            for _ in 0..50 {
                let mut state: [u32; 8] = std::array::from_fn(|_| next() as u32);
                let data: Vec<u8> = (0..64 * blocks).map(|_| next() as u8).collect();
                let mut portable = state;
                compress_portable(&mut portable, &data);
                assert!(sha_ni::compress_blocks(&mut state, &data));
                assert_eq!(state, portable, "{blocks} blocks");
            }
        }
    }

    proptest! {
        #[test]
        fn chunked_updates_equal_one(
            data in proptest::collection::vec(any::<u8>(), 0..600),
            cuts in proptest::collection::vec(0..600usize, 0..8),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut h = Sha256::new();
            let mut at = 0;
            for cut in cuts {
                h.update(&data[at..cut]);
                at = cut;
            }
            h.update(&data[at..]);
            prop_assert_eq!(h.finish(), digest(&data));
        }

        #[test]
        fn parse_hex_never_panics(s in "\\PC{0,70}") {
            let _ = parse_hex_digest(&s);
        }
    }
}
