//! The integrity checks: CRC32 (the headers' and the kernel's choice for
//! modules), CRC64 (plain `xz`'s default) and SHA-256.

use super::fault::Fault;

/// Reflected CRC-32 (IEEE 802.3) and CRC-64 (ECMA-182) polynomials.
pub(super) const CRC32: u64 = 0xedb8_8320;
pub(super) const CRC64: u64 = 0xc96c_5795_d787_0f42;

/// A byte-at-a-time CRC table, built at each decode: 256 entries cost a few
/// microseconds, where a static table would cost its 1 or 2 KiB in the
/// binary. One type serves both widths: a 32-bit CRC stays in the low half.
pub(super) struct Crc {
    table: [u64; 256],
    /// All ones of the CRC's width: the initial value and the final xor.
    ones: u64,
}

impl Crc {
    pub(super) fn new(poly: u64) -> Self {
        let mut table = [0; 256];
        for (byte, entry) in (0u64..).zip(&mut table) {
            let mut crc = byte;
            for _ in 0..8 {
                crc = (crc >> 1) ^ (poly & (crc & 1).wrapping_neg());
            }
            *entry = crc;
        }
        Self {
            table,
            ones: if poly == CRC32 {
                u64::from(u32::MAX)
            } else {
                u64::MAX
            },
        }
    }

    pub(super) fn sum(&self, data: &[u8]) -> u64 {
        let mut crc = self.ones;
        for &byte in data {
            crc = self.table[usize::from(crc as u8 ^ byte)] ^ (crc >> 8);
        }
        crc ^ self.ones
    }
}

/// The stream's check, from the low four bits of its flags.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    None,
    Crc32,
    Crc64,
    #[cfg(feature = "net")]
    Sha256,
}

impl Check {
    pub(super) fn from_id(id: u8) -> Result<Self, Fault> {
        match id {
            0 => Ok(Self::None),
            1 => Ok(Self::Crc32),
            4 => Ok(Self::Crc64),
            #[cfg(feature = "net")]
            10 => Ok(Self::Sha256),
            _ => Err(Fault::Check(id)),
        }
    }

    /// Its size after each block.
    pub(super) fn size(self) -> usize {
        match self {
            Self::None => 0,
            Self::Crc32 => 4,
            Self::Crc64 => 8,
            #[cfg(feature = "net")]
            Self::Sha256 => 32,
        }
    }

    /// The table for the CRC the blocks use (CRC32's for the others, which
    /// the headers need anyway).
    pub(super) fn crc(self) -> Crc {
        Crc::new(if self == Self::Crc64 { CRC64 } else { CRC32 })
    }

    /// Whether `stored` is the check of a block's uncompressed `data`;
    /// `crc` is [`crc`](Self::crc)'s table.
    pub(super) fn verify(self, crc: &Crc, data: &[u8], stored: &[u8]) -> bool {
        match self {
            Self::None => true,
            Self::Crc32 | Self::Crc64 => crc.sum(data).to_le_bytes()[..self.size()] == *stored,
            // The network stack's SHA-256 (root=http://…'s sha256=), when
            // this init has one.
            #[cfg(feature = "net")]
            Self::Sha256 => net::sha256::digest(data) == *stored,
        }
    }
}
