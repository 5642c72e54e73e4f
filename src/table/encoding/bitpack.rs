//! Bit packing: `n` unsigned integers of `width` bits each, least significant bit first,
//! in `ceil(n * width / 8)` bytes. Width 0 packs into no bytes (every value is 0).
//!
//! ```text
//! values 5, 1, 7 at width 3:   byte 0 = 0b11_001_101   byte 1 = 0b0000000_1
//!                                        v2lo v1  v0            pad      v2hi
//! ```

use crate::error::Result;
use crate::format::coding::Reader;

/// Bits needed for `max` (0 for 0).
pub(crate) fn width_of(max: u64) -> u8 {
    (64 - max.leading_zeros()) as u8
}

/// Bytes `n` values of `width` bits take.
pub(crate) fn packed_len(n: usize, width: u8) -> usize {
    (n as u128 * u128::from(width)).div_ceil(8) as usize
}

/// Appends `values`, each below `2^width`, packed.
pub(crate) fn pack(values: impl Iterator<Item = u64>, width: u8, out: &mut Vec<u8>) {
    if width == 0 {
        return;
    }
    let mut acc: u128 = 0;
    let mut bits = 0u32;
    for v in values {
        acc |= u128::from(v) << bits;
        bits += u32::from(width);
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
}

/// Reads `n` values of `width` bits.
pub(crate) fn unpack(r: &mut Reader<'_>, n: usize, width: u8) -> Result<Vec<u64>> {
    if width > 64 {
        return Err(r.corrupt(format!("bit width {width} exceeds 64")));
    }
    let bytes = r.bytes(packed_len(n, width))?;
    if width == 0 {
        return Ok(vec![0; n]);
    }
    Ok((0..n).map(|i| extract(bytes, i, width)).collect())
}

/// Value `index` of the values packed in `bytes` at `width` (1 to 64) bits; `bytes` holds
/// at least `index + 1` values.
#[inline]
fn extract(bytes: &[u8], index: usize, width: u8) -> u64 {
    let bit = index * usize::from(width);
    let at = bit / 8;
    let shift = bit % 8;
    let mask = if width == 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    // One unaligned 8-byte load covers shift + width bits when that is at most 64; near
    // the end of the buffer, or for wider values, the bytes are gathered one by one.
    if shift + usize::from(width) <= 64 && at + 8 <= bytes.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        return (u64::from_le_bytes(word) >> shift) & mask;
    }
    let mut acc: u128 = 0;
    for (k, &b) in bytes[at..].iter().take(9).enumerate() {
        acc |= u128::from(b) << (8 * k);
    }
    (acc >> shift) as u64 & mask
}

/// Value `index` of `n` packed values; the reader is left after all `n`.
pub(crate) fn value_at(r: &mut Reader<'_>, n: usize, width: u8, index: usize) -> Result<u64> {
    if width > 64 || index >= n {
        return Err(r.corrupt(format!("value {index} of {n} at width {width}")));
    }
    let bytes = r.bytes(packed_len(n, width))?;
    Ok(if width == 0 {
        0
    } else {
        extract(bytes, index, width)
    })
}

/// The sum (wrapping) of the first `count` of `n` packed values; the reader is left after
/// all `n`.
pub(crate) fn sum_first(r: &mut Reader<'_>, n: usize, width: u8, count: usize) -> Result<u64> {
    if width > 64 || count > n {
        return Err(r.corrupt(format!("{count} values of {n} at width {width}")));
    }
    let bytes = r.bytes(packed_len(n, width))?;
    if width == 0 {
        return Ok(0);
    }
    Ok((0..count).fold(0u64, |sum, i| sum.wrapping_add(extract(bytes, i, width))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn packs_the_drawn_example() {
        let mut out = Vec::new();
        pack([5u64, 1, 7].into_iter(), 3, &mut out);
        assert_eq!(out, vec![0b1100_1101, 0b0000_0001]);
    }

    #[test]
    fn every_width_round_trips() {
        for width in 0..=64u8 {
            let max = if width == 64 {
                u64::MAX
            } else {
                (1u64 << width) - 1
            };
            let values: Vec<u64> = (0..37u64).map(|i| max.wrapping_mul(i + 1) & max).collect();
            let mut out = Vec::new();
            pack(values.iter().copied(), width, &mut out);
            assert_eq!(out.len(), packed_len(values.len(), width));
            let mut r = Reader::new(&out, Path::new("t"), 0);
            assert_eq!(unpack(&mut r, values.len(), width).unwrap(), values);
            for (i, &v) in values.iter().enumerate() {
                let mut r = Reader::new(&out, Path::new("t"), 0);
                assert_eq!(value_at(&mut r, values.len(), width, i).unwrap(), v);
            }
            assert_eq!(width_of(max), width);
        }
    }

    #[test]
    fn short_input_is_corruption() {
        let mut r = Reader::new(&[1, 2], Path::new("t"), 0);
        assert!(unpack(&mut r, 10, 7).is_err());
    }
}
