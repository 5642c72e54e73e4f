//! Decimal encoding, for f64 columns whose values are decimals with few digits after the
//! point (prices, amounts, measurements): each value as an integer times 10^-e, the
//! integers bit-packed as offsets from the smallest. It applies only when every value
//! comes back with the same bits, so NaN, infinities and -0.0 keep the chunk plain.
//!
//! ```text
//! payload := [exponent:u8  min:i64 LE  width:u8  packed]      (nothing when n = 0)
//!            value_i = (min + packed_i) / 10^exponent, exponent 0..=6
//! ```
//!
//! Worked example, amounts 12.5 0.99 7.0: exponent 2, integers 1250 99 700, min 99,
//! offsets 1151 0 601 at width 11.

use crate::error::Result;
use crate::format::coding::Reader;
use crate::table::value::{ColumnType, Value};

use super::{Values, bitpack};

const POW10: [f64; 7] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6];
/// Integers up to this magnitude are exact in an f64.
const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53

/// The integers of `values` at `exponent`, if every value round-trips.
fn scaled(values: &[f64], exponent: usize) -> Option<Vec<i64>> {
    let scale = POW10[exponent];
    values
        .iter()
        .map(|&v| {
            let x = (v * scale).round();
            // Compare what decoding will give: the integer (which has no -0) over the scale.
            (x.abs() < EXACT && ((x as i64) as f64 / scale).to_bits() == v.to_bits())
                .then_some(x as i64)
        })
        .collect()
}

/// Appends the payload; false for a type other than f64 or values that are not decimals.
pub(crate) fn encode(values: &Values, out: &mut Vec<u8>) -> bool {
    let Values::F64(v) = values else {
        return false;
    };
    if v.is_empty() {
        return true;
    }
    let Some((exponent, ints)) = (0..POW10.len()).find_map(|e| scaled(v, e).map(|i| (e, i))) else {
        return false;
    };
    let min = ints.iter().copied().min().unwrap_or(0);
    let offsets = ints.iter().map(|&i| i.wrapping_sub(min) as u64);
    let width = bitpack::width_of(offsets.clone().max().unwrap_or(0));
    out.push(exponent as u8);
    out.extend_from_slice(&min.to_le_bytes());
    out.push(width);
    bitpack::pack(offsets, width, out);
    true
}

fn header(r: &mut Reader<'_>) -> Result<(f64, i64, u8)> {
    let exponent = usize::from(r.u8()?);
    let scale = *POW10
        .get(exponent)
        .ok_or_else(|| r.corrupt(format!("decimal exponent {exponent}")))?;
    let min = r.u64()? as i64;
    Ok((scale, min, r.u8()?))
}

pub(crate) fn decode(r: &mut Reader<'_>, ty: ColumnType, n: usize) -> Result<Values> {
    if ty != ColumnType::F64 {
        return Err(r.corrupt(format!("decimal encoding of a {ty} column")));
    }
    if n == 0 {
        return Ok(Values::F64(Vec::new()));
    }
    let (scale, min, width) = header(r)?;
    let offsets = bitpack::unpack(r, n, width)?;
    Ok(Values::F64(
        offsets
            .into_iter()
            .map(|o| min.wrapping_add(o as i64) as f64 / scale)
            .collect(),
    ))
}

/// Value `index` of the `n` values.
pub(crate) fn value_at(
    r: &mut Reader<'_>,
    ty: ColumnType,
    n: usize,
    index: usize,
) -> Result<Value> {
    if ty != ColumnType::F64 || index >= n {
        return Err(r.corrupt(format!("decimal value {index} of {n} in a {ty} column")));
    }
    let (scale, min, width) = header(r)?;
    let o = bitpack::value_at(r, n, width, index)?;
    Ok(Value::F64(min.wrapping_add(o as i64) as f64 / scale))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_worked_example() {
        let values = Values::F64(vec![12.5, 0.99, 7.0]);
        let mut out = Vec::new();
        assert!(encode(&values, &mut out));
        assert_eq!(out[0], 2);
        assert_eq!(i64::from_le_bytes(out[1..9].try_into().unwrap()), 99);
        assert_eq!(out[9], 11);
        let mut r = Reader::new(&out, Path::new("c"), 0);
        assert_eq!(decode(&mut r, ColumnType::F64, 3).unwrap(), values);
    }

    #[test]
    fn values_that_would_change_are_refused() {
        for bad in [f64::NAN, -0.0, f64::INFINITY, 0.1 + 0.2, 1e300] {
            assert!(
                !encode(&Values::F64(vec![1.5, bad]), &mut Vec::new()),
                "{bad}"
            );
        }
    }
}
