//! A bloom filter over the user keys of one table.
//!
//! With m/n bits per key and k = ln 2 · m/n probes the false-positive rate is about
//! (1 − e^(−k·n/m))^k ≈ 0.6185^(m/n): 0.8% at 10 bits per key. The k probes are
//! h1 + i·h2 (Kirsch–Mitzenmacher double hashing) of one 64-bit hash.
//!
//! # Format
//!
//! ```text
//! bits  ceil(m / 8) bytes   bit j is byte j/8, bit j%8
//! k     u8                  probes per key, 1..=30
//! ```
//! (The table stores the block with its CRC like any other block.)

use super::super::coding::Reader;
use crate::error::Result;

/// A 64-bit hash of `data`: 8 bytes at a time, multiply and rotate, then a final mix.
pub fn hash(data: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = K ^ (data.len() as u64).wrapping_mul(0xff51_afd7_ed55_8ccd);
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let mut w = [0; 8];
        w.copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(w).wrapping_mul(K))
            .rotate_left(31)
            .wrapping_mul(K);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h ^ u64::from_le_bytes(tail).wrapping_mul(K))
        .rotate_left(31)
        .wrapping_mul(K);
    // splitmix64's finaliser: every input bit affects every output bit.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Probes per key for `bits_per_key` bits: round(ln 2 · bits), 1 to 30.
pub fn probes(bits_per_key: u32) -> u32 {
    ((f64::from(bits_per_key) * std::f64::consts::LN_2).round() as u32).clamp(1, 30)
}

/// Builds a filter from the hashes of the keys.
pub fn build(hashes: &[u64], bits_per_key: u32) -> Vec<u8> {
    let k = probes(bits_per_key);
    // At least 64 bits, so a tiny table does not get a uselessly small filter.
    let bits = (hashes.len() as u64 * u64::from(bits_per_key)).max(64);
    let bytes = bits.div_ceil(8) as usize;
    let bits = bytes as u64 * 8;
    let mut out = vec![0u8; bytes + 1];
    for &h in hashes {
        let (mut x, step) = (h as u32 as u64, (h >> 32) | 1);
        for _ in 0..k {
            let bit = x % bits;
            out[(bit / 8) as usize] |= 1 << (bit % 8);
            x = x.wrapping_add(step);
        }
    }
    out[bytes] = k as u8;
    out
}

/// A decoded filter.
#[derive(Clone, Debug)]
pub struct Bloom {
    bits: Vec<u8>,
    k: u32,
}

impl Bloom {
    /// Decodes a filter block's contents.
    pub fn decode(mut r: Reader<'_>) -> Result<Bloom> {
        let len = r.remaining();
        if len < 2 {
            return Err(r.corrupt("bloom filter shorter than 2 bytes"));
        }
        let bits = r.bytes(len - 1)?.to_vec();
        let k = u32::from(r.u8()?);
        if !(1..=30).contains(&k) {
            return Err(r.corrupt(format!("bloom filter with {k} probes")));
        }
        Ok(Bloom { bits, k })
    }

    /// False: the key is certainly absent. True: it may be present.
    pub fn may_contain(&self, h: u64) -> bool {
        let bits = self.bits.len() as u64 * 8;
        let (mut x, step) = (h as u32 as u64, (h >> 32) | 1);
        for _ in 0..self.k {
            let bit = x % bits;
            if self.bits[(bit / 8) as usize] & (1 << (bit % 8)) == 0 {
                return false;
            }
            x = x.wrapping_add(step);
        }
        true
    }

    /// Bytes of filter bits.
    pub fn size(&self) -> usize {
        self.bits.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn filter(keys: impl Iterator<Item = Vec<u8>>, bits: u32) -> Bloom {
        let hashes: Vec<u64> = keys.map(|k| hash(&k)).collect();
        let bytes = build(&hashes, bits);
        Bloom::decode(Reader::new(&bytes, Path::new("f"), 0)).unwrap()
    }

    #[test]
    fn no_false_negatives() {
        let keys = (0..10_000u32).map(|i| i.to_be_bytes().to_vec());
        let f = filter(keys, 10);
        assert!((0..10_000u32).all(|i| f.may_contain(hash(&i.to_be_bytes()))));
    }

    #[test]
    fn false_positive_rate_is_within_25_percent_of_theory() {
        let n = 100_000u64;
        let key = |i: u64| crate::bench::keys::key(i).to_vec();
        let f = filter((0..n).map(key), 10);
        let trials = 200_000u64;
        let fp = (n..n + trials)
            .filter(|&i| f.may_contain(hash(&key(i))))
            .count();
        let rate = fp as f64 / trials as f64;
        let k = f64::from(probes(10));
        let theory = (1.0 - (-k / 10.0).exp()).powf(k);
        assert!(
            (rate - theory).abs() <= 0.25 * theory,
            "measured {rate:.5}, theory {theory:.5}"
        );
    }

    #[test]
    fn bad_filters_are_corruption() {
        assert!(Bloom::decode(Reader::new(&[1], Path::new("f"), 0)).is_err());
        assert!(Bloom::decode(Reader::new(&[0xff, 0], Path::new("f"), 0)).is_err());
        assert!(Bloom::decode(Reader::new(&[0xff, 31], Path::new("f"), 0)).is_err());
    }
}
