//! The hash maps and sets of stage-1, with one small hasher instead of
//! std's `RandomState`.
//!
//! Their keys are module names, aliases and device names read from the
//! initramfs and sysfs, not from an attacker, so SipHash's resistance to
//! chosen collisions buys nothing here; its code, inlined into every map
//! type's resize and lookup, and the random keys cost dist/init several KiB.

use std::hash::{BuildHasherDefault, Hasher};

/// `std::collections::HashMap` with [`Fnv`].
pub type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<Fnv>>;
/// `std::collections::HashSet` with [`Fnv`].
pub type HashSet<K> = std::collections::HashSet<K, BuildHasherDefault<Fnv>>;

/// FNV-1a (64-bit): one xor and one multiply per byte.
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_of_known_inputs() {
        // The FNV-1a 64-bit test vectors (Fowler, Noll, Vo).
        let hash = |s: &[u8]| {
            let mut h = Fnv::default();
            h.write(s);
            h.finish()
        };
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn sets_and_maps_work_with_it() {
        let mut set: HashSet<String> = HashSet::default();
        assert!(set.insert("virtio_blk".into()));
        assert!(!set.insert("virtio_blk".into()));
        let mut map: HashMap<&str, u32> = HashMap::default();
        map.insert("ext4", 1);
        assert_eq!(map.get("ext4"), Some(&1));
        assert_eq!(map.get("xfs"), None);
    }
}
