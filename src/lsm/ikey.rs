//! Internal keys: a user key with the sequence number and kind of one write to it.
//!
//! Every write gets a sequence number; the newest version of a key is the one with the
//! highest. Internal keys order by user key ascending, then sequence number *descending*,
//! so a seek to `(key, snapshot)` lands on the newest version visible at that snapshot.
//!
//! Encoded (in table blocks) as the user key followed by an 8-byte trailer:
//!
//! ```text
//! user key (n bytes) | trailer u64 LE = sequence << 8 | kind
//! ```

use std::cmp::Ordering;

/// User keys order as bytes do, by these (see `format::coding`).
pub use crate::format::coding::{cmp_bytes, first_8_be};

/// What a write did to its key. DO NOT CHANGE THESE VALUES: they are on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// A deletion: hides every older version.
    Delete = 0,
    /// A value.
    Put = 1,
}

impl Kind {
    /// Decodes a kind byte.
    pub fn from_u8(b: u8) -> Option<Kind> {
        match b {
            0 => Some(Kind::Delete),
            1 => Some(Kind::Put),
            _ => None,
        }
    }
}

/// The largest sequence number (56 bits: the trailer keeps 8 bits for the kind).
pub const MAX_SEQ: u64 = (1 << 56) - 1;

/// Length of the trailer after the user key.
pub const TRAILER_LEN: usize = 8;

/// Packs a sequence number and kind.
pub fn trailer(seq: u64, kind: Kind) -> u64 {
    (seq << 8) | kind as u64
}

/// Appends the encoded internal key.
pub fn encode(out: &mut Vec<u8>, user_key: &[u8], seq: u64, kind: Kind) {
    out.extend_from_slice(user_key);
    out.extend_from_slice(&trailer(seq, kind).to_le_bytes());
}

/// Splits an encoded internal key; `None` if too short or the kind is unknown.
pub fn decode(ikey: &[u8]) -> Option<(&[u8], u64, Kind)> {
    let split = ikey.len().checked_sub(TRAILER_LEN)?;
    let (user, t) = ikey.split_at(split);
    let t = u64::from_le_bytes(t.try_into().ok()?);
    Some((user, t >> 8, Kind::from_u8(t as u8)?))
}

/// The first position in `items`, sorted by key, whose key is not before `target`, where
/// `prefixes[i]` is [`first_8_be`] of item i's user key and `before(item)` compares a
/// whole key. Prefixes order keys wherever they differ, so whole keys are compared only
/// among the items whose prefix ties the target's. Ties are rare (keys sharing their
/// first 8 bytes around a boundary): they are counted in place rather than found by a
/// second binary search over the rest.
pub fn partition_by_prefix<T>(
    prefixes: &[u64],
    items: &[T],
    target: &[u8],
    before: impl FnMut(&T) -> bool,
) -> usize {
    let prefix = first_8_be(target);
    let below = prefixes.partition_point(|&p| p < prefix);
    let tied = prefixes[below..]
        .iter()
        .take_while(|&&p| p == prefix)
        .count();
    below + items[below..below + tied].partition_point(before)
}

/// The order of internal keys: user key ascending, then sequence number descending.
#[inline]
pub fn cmp(a_key: &[u8], a_seq: u64, b_key: &[u8], b_seq: u64) -> Ordering {
    cmp_bytes(a_key, b_key).then(b_seq.cmp(&a_seq))
}

/// An encoded internal key's user key and sequence number, as [`cmp_encoded`] orders
/// them (bytes too few for a trailer, which no valid key has, read as an empty user key
/// at sequence 0).
#[inline]
pub fn split(ikey: &[u8]) -> (&[u8], u64) {
    let (key, trailer) = ikey.split_at(ikey.len().saturating_sub(TRAILER_LEN));
    (key, trailer.try_into().map_or(0, u64::from_le_bytes) >> 8)
}

/// Compares two encoded internal keys (both must decode).
pub fn cmp_encoded(a: &[u8], b: &[u8]) -> Ordering {
    let ((ak, aseq), (bk, bseq)) = (split(a), split(b));
    cmp(ak, aseq, bk, bseq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_agrees_with_decode_and_reads_a_short_key_as_empty() {
        let mut k = Vec::new();
        encode(&mut k, b"user", 42, Kind::Delete);
        let (user, seq, _) = decode(&k).unwrap();
        assert_eq!(split(&k), (user, seq));
        assert_eq!(split(&k), (&b"user"[..], 42));
        assert_eq!(split(b"short"), (&b""[..], 0));
        assert_eq!(split(b""), (&b""[..], 0));
    }

    #[test]
    fn the_fast_compare_agrees_with_byte_order() {
        let keys: [&[u8]; 23] = [
            b"",
            b"\0",
            b"\0\0",
            b"a",
            b"a\0",
            b"a\0\x01",
            b"ab",
            b"abc\xff",
            b"abcdefg",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefgi",
            b"abcdefghij",
            b"abcdefgh\0\0\0\0\0\0\0\0",
            b"abcdefgh\0\0\0\0\0\0\0\0\0",
            b"abcdefgh12345678",
            b"abcdefgh12345679",
            b"abcdefgh1234567",
            b"abcdefgh12345678\0",
            b"abcdefgh12345678z",
            b"abcdefgh12345678za",
            b"b",
            b"\xff\xff\xff\xff\xff\xff\xff\xff",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(cmp_bytes(a, b), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn order_is_key_then_newest_first() {
        let enc = |k: &[u8], s| {
            let mut v = Vec::new();
            encode(&mut v, k, s, Kind::Put);
            v
        };
        assert_eq!(cmp_encoded(&enc(b"a", 5), &enc(b"a", 3)), Ordering::Less);
        assert_eq!(cmp_encoded(&enc(b"a", 1), &enc(b"ab", 9)), Ordering::Less);
        assert_eq!(
            cmp_encoded(&enc(b"b", 9), &enc(b"ab", 1)),
            Ordering::Greater
        );
        let e = enc(b"key", 77);
        assert_eq!(decode(&e), Some((&b"key"[..], 77, Kind::Put)));
        assert_eq!(decode(b"short"), None);
    }
}
