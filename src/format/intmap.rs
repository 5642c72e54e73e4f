//! A hash map keyed by integers (page numbers, table numbers, block offsets), with a hash
//! cheaper than the default SipHash: for such keys SipHash cost more than the rest of a
//! cache hit.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A multiply-rotate hash of integer keys.
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

/// A hash map keyed by integers, with [`KeyHasher`].
pub(crate) type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(23) ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}
