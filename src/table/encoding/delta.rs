//! Delta encoding with bit-packing, for integers: the first value, then each difference
//! from the one before less the smallest difference, bit-packed. Arithmetic wraps modulo
//! 2^64, so any u64 or i64 sequence round-trips; sorted keys and timestamps with jitter
//! pack into a few bits each.
//!
//! ```text
//! payload := [first:u64  min_delta:u64  width:u8  packed]     (nothing when n = 0)
//!            packed: the n - 1 values (delta_i - min_delta) of `width` bits
//!            delta_i = v_i - v_(i-1); min_delta the smallest delta_i as a signed number
//! ```
//!
//! Worked example, timestamps 1000 1003 1004 1010: deltas 3 1 6, min_delta 1, packed
//! 2 0 5 at width 3: `e8 03 00.. | 01 00.. | 03 | 0b01_000_010 0b0000000_1`.

use crate::error::Result;
use crate::format::coding::Reader;
use crate::table::value::{ColumnType, Value};

use super::{Values, bitpack};

fn words(values: &Values) -> Option<Vec<u64>> {
    match values {
        Values::U64(v) => Some(v.clone()),
        Values::I64(v) => Some(v.iter().map(|&x| x as u64).collect()),
        _ => None,
    }
}

/// Appends the payload; false for a type other than u64 and i64.
pub(crate) fn encode(values: &Values, out: &mut Vec<u8>) -> bool {
    let Some(words) = words(values) else {
        return false;
    };
    let Some(&first) = words.first() else {
        return true;
    };
    let deltas: Vec<u64> = words.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    let min = deltas.iter().map(|&d| d as i64).min().unwrap_or(0) as u64;
    let width = bitpack::width_of(
        deltas
            .iter()
            .map(|&d| d.wrapping_sub(min))
            .max()
            .unwrap_or(0),
    );
    out.extend_from_slice(&first.to_le_bytes());
    out.extend_from_slice(&min.to_le_bytes());
    out.push(width);
    bitpack::pack(deltas.iter().map(|&d| d.wrapping_sub(min)), width, out);
    true
}

pub(crate) fn decode(r: &mut Reader<'_>, ty: ColumnType, n: usize) -> Result<Values> {
    let mut words = Vec::with_capacity(n.min(r.remaining().saturating_mul(8)));
    if n > 0 {
        let first = r.u64()?;
        let min = r.u64()?;
        let width = r.u8()?;
        let packed = bitpack::unpack(r, n - 1, width)?;
        words.push(first);
        let mut last = first;
        for p in packed {
            last = last.wrapping_add(min).wrapping_add(p);
            words.push(last);
        }
    }
    Ok(match ty {
        ColumnType::U64 => Values::U64(words),
        ColumnType::I64 => Values::I64(words.into_iter().map(|w| w as i64).collect()),
        _ => return Err(r.corrupt(format!("delta encoding of a {ty} column"))),
    })
}

/// Value `index` of the `n` values: the first plus the deltas before it.
pub(crate) fn value_at(
    r: &mut Reader<'_>,
    ty: ColumnType,
    n: usize,
    index: usize,
) -> Result<Value> {
    if index >= n {
        return Err(r.corrupt(format!("value {index} of {n}")));
    }
    let first = r.u64()?;
    let min = r.u64()?;
    let width = r.u8()?;
    let offsets = bitpack::sum_first(r, n - 1, width, index)?;
    let word = first
        .wrapping_add(min.wrapping_mul(index as u64))
        .wrapping_add(offsets);
    Ok(match ty {
        ColumnType::U64 => Value::U64(word),
        ColumnType::I64 => Value::I64(word as i64),
        _ => return Err(r.corrupt(format!("delta encoding of a {ty} column"))),
    })
}
