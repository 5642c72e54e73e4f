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
    let mask = if width == 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    let mut out = Vec::with_capacity(n);
    let mut acc: u128 = 0;
    let mut bits = 0u32;
    let mut next = bytes.iter();
    for _ in 0..n {
        while bits < u32::from(width) {
            // The length check above guarantees the bytes are there.
            acc |= u128::from(*next.next().unwrap_or(&0)) << bits;
            bits += 8;
        }
        out.push(acc as u64 & mask);
        acc >>= width;
        bits -= u32::from(width);
    }
    Ok(out)
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
            assert_eq!(width_of(max), width);
        }
    }

    #[test]
    fn short_input_is_corruption() {
        let mut r = Reader::new(&[1, 2], Path::new("t"), 0);
        assert!(unpack(&mut r, 10, 7).is_err());
    }
}
