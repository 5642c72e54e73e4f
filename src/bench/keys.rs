//! The keys and values of the standard workloads (DESIGN §5).
//!
//! Key `i` is 16 bytes: the big-endian u64 of a bijective scramble of `i`, then the
//! big-endian u64 of `i`. The scramble spreads consecutive `i` over the whole key space, so
//! inserting `i = 0, 1, 2, ...` is a random-order fill, while the key set stays the same
//! for every phase. A key whose second half is `i >= n` is absent from a store filled with
//! `n` keys, yet lands between present keys: that is what `readmissing` asks for.
//!
//! Values are slices of one buffer of random bytes from a fixed seed: incompressible, the
//! same in every run, and free to produce.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Length of every workload key.
pub const KEY_LEN: usize = 16;

/// A bijection on u64 (an odd multiply and xor-shifts, each invertible), so that distinct
/// indices give distinct keys.
pub fn scramble(i: u64) -> u64 {
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 31;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^ (x >> 29)
}

/// The workload key of index `i`.
pub fn key(i: u64) -> [u8; KEY_LEN] {
    let mut k = [0; KEY_LEN];
    k[..8].copy_from_slice(&scramble(i).to_be_bytes());
    k[8..].copy_from_slice(&i.to_be_bytes());
    k
}

/// Incompressible values of one size, cut from a fixed random buffer.
#[derive(Clone, Debug)]
pub struct Values {
    buf: Vec<u8>,
    size: usize,
}

impl Values {
    /// Values of `size` bytes; `seed` picks the buffer (overwrites use a second seed so
    /// that new values differ from old ones).
    pub fn new(size: usize, seed: u64) -> Self {
        let mut buf = vec![0; (1 << 20) + size];
        ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut buf);
        Values { buf, size }
    }

    /// The value for index `i`.
    pub fn get(&self, i: u64) -> &[u8] {
        // Scrambling picks the slice, so neighbouring indices get unrelated bytes.
        let span = (self.buf.len() - self.size) as u64;
        let start = (scramble(i ^ 0x5bd1_e995) % span) as usize;
        &self.buf[start..start + self.size]
    }

    /// The value size.
    pub fn size(&self) -> usize {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_are_distinct_and_scrambled() {
        let keys: HashSet<_> = (0..100_000).map(key).collect();
        assert_eq!(keys.len(), 100_000);
        // Ascending i is not ascending key order: about half of the neighbours descend.
        let descents = (0..10_000u64).filter(|&i| key(i) > key(i + 1)).count();
        assert!((4_000..6_000).contains(&descents), "{descents}");
        assert_eq!(&key(7)[8..], &7u64.to_be_bytes());
    }

    #[test]
    fn values_have_the_size_and_differ() {
        let v = Values::new(100, 1);
        assert_eq!(v.get(0).len(), 100);
        assert_ne!(v.get(0), v.get(1));
        assert_eq!(v.get(5), Values::new(100, 1).get(5), "fixed seed");
        assert_ne!(v.get(5), Values::new(100, 2).get(5));
    }
}
