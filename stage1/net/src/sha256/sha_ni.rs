//! SHA-256 with the x86-64 SHA extensions (`sha256rnds2`, `sha256msg1`,
//! `sha256msg2`; Intel since Goldmont/Ice Lake, AMD since Zen): about ten
//! times the portable code, which matters once the network outruns
//! 170 MiB/s (the portable rounds at opt-level "z").
//!
//! The only `unsafe` of this crate: the intrinsics need the CPU features
//! that [`compress_blocks`] checks at run time before it enters them, and
//! the unaligned loads and stores take raw pointers into slices whose
//! lengths are checked here.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __cpuid, __cpuid_count, _mm_add_epi32, _mm_alignr_epi8, _mm_blend_epi16, _mm_loadu_si128,
    _mm_set_epi64x, _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32,
    _mm_shuffle_epi32, _mm_shuffle_epi8, _mm_storeu_si128,
};

use std::sync::atomic::{AtomicU8, Ordering};

use super::constants::K;

/// Whether this CPU has the instructions: CPUID leaf 7's SHA bit (EBX 29),
/// leaf 1's SSSE3 (ECX 9) and SSE4.1 (ECX 19). Asked directly rather than
/// through `is_x86_feature_detected!`, whose detection of every feature
/// costs more than a KiB of the binary; the answer is kept, as CPUID traps
/// to the hypervisor in a VM.
pub fn available() -> bool {
    static KNOWN: AtomicU8 = AtomicU8::new(0);
    match KNOWN.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            // CPUID is a safe intrinsic in the pinned toolchain, unsafe in
            // 1.91 (rust-version). SAFETY: CPUID exists on every x86-64
            // CPU, leaf 7 is asked only when leaf 0 reports it, and reading
            // it has no side effect.
            #[allow(unused_unsafe)]
            let yes = unsafe {
                __cpuid(0).eax >= 7 && {
                    let ecx1 = __cpuid(1).ecx;
                    let ebx7 = __cpuid_count(7, 0).ebx;
                    ecx1 & (1 << 9) != 0 && ecx1 & (1 << 19) != 0 && ebx7 & (1 << 29) != 0
                }
            };
            KNOWN.store(1 + u8::from(yes), Ordering::Relaxed);
            yes
        }
    }
}

/// Hashes every whole 64-byte block of `blocks` into `state`, if the CPU
/// can; `false` (and `state` untouched) if it cannot.
pub fn compress_blocks(state: &mut [u32; 8], blocks: &[u8]) -> bool {
    if !available() {
        return false;
    }
    // SAFETY: the CPU has SHA, SSSE3 and SSE4.1 (checked just above).
    unsafe { compress_ni(state, blocks) };
    true
}

/// The rounds, four at a time. The state lives in two registers as the
/// instructions want it, ABEF and CDGH; the message schedule in four
/// (W[4g..4g+4] for the group g being hashed, and the next three).
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn compress_ni(state: &mut [u32; 8], blocks: &[u8]) {
    // Big-endian words: reverse the bytes within each 32-bit lane.
    let byte_swap = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
    // SAFETY: `state` is 8 u32 = two 16-byte loads; loadu has no alignment
    // requirement.
    let (dcba, hgfe) = unsafe {
        (
            _mm_loadu_si128(state.as_ptr().cast()),
            _mm_loadu_si128(state.as_ptr().add(4).cast()),
        )
    };
    // Lanes are listed high to low: DCBA means lane 0 holds A.
    let cdab = _mm_shuffle_epi32(dcba, 0xb1);
    let efgh = _mm_shuffle_epi32(hgfe, 0x1b);
    let mut abef = _mm_alignr_epi8(cdab, efgh, 8);
    let mut cdgh = _mm_blend_epi16(efgh, cdab, 0xf0);

    for block in blocks.chunks_exact(64) {
        let (abef_in, cdgh_in) = (abef, cdgh);
        // SAFETY: `block` is 64 bytes: four 16-byte loads at 0, 16, 32, 48.
        let load = |i: usize| unsafe {
            _mm_shuffle_epi8(
                _mm_loadu_si128(block.as_ptr().add(16 * i).cast()),
                byte_swap,
            )
        };
        let (mut w0, mut w1, mut w2, mut w3) = (load(0), load(1), load(2), load(3));
        macro_rules! group {
            ($g:expr, $cur:ident, $prev:ident, $next:ident) => {
                // SAFETY: K has 64 words; 4*g+4 <= 64.
                let k = unsafe { _mm_loadu_si128(K.as_ptr().add(4 * $g).cast()) };
                let wk = _mm_add_epi32($cur, k);
                cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
                if $g >= 3 {
                    let w7 = _mm_alignr_epi8($cur, $prev, 4);
                    $next = _mm_sha256msg2_epu32(_mm_add_epi32($next, w7), $cur);
                }
                abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0e));
                if $g >= 1 {
                    $prev = _mm_sha256msg1_epu32($prev, $cur);
                }
            };
        }
        for g in (0..16).step_by(4) {
            group!(g, w0, w3, w1);
            group!(g + 1, w1, w0, w2);
            group!(g + 2, w2, w1, w3);
            group!(g + 3, w3, w2, w0);
        }
        abef = _mm_add_epi32(abef, abef_in);
        cdgh = _mm_add_epi32(cdgh, cdgh_in);
    }

    let feba = _mm_shuffle_epi32(abef, 0x1b);
    let dchg = _mm_shuffle_epi32(cdgh, 0xb1);
    let dcba = _mm_blend_epi16(feba, dchg, 0xf0);
    let hgfe = _mm_alignr_epi8(dchg, feba, 8);
    // SAFETY: as for the loads: 8 u32, two unaligned 16-byte stores.
    unsafe {
        _mm_storeu_si128(state.as_mut_ptr().cast(), dcba);
        _mm_storeu_si128(state.as_mut_ptr().add(4).cast(), hgfe);
    }
}
