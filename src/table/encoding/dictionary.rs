//! Dictionary encoding: the distinct values once, in order of first appearance, then for
//! each value its index into them, bit-packed at the width the largest index needs.
//!
//! ```text
//! payload := entries:varint  dictionary  width:u8  indexes
//!            dictionary: the entries in plain encoding
//!            indexes: n indexes of `width` bits (see bitpack)
//! ```
//!
//! Worked example, a string column `de fr de de us`: entries 3, dictionary
//! `01 02 'de' 'fr' 'us'` (plain: all of length 2), width 2, indexes 0 1 0 0 2 packed
//! into two bytes `0b00_00_01_00 0b0000_0010`.

use std::collections::HashMap;

use crate::error::Result;
use crate::format::coding::{Reader, put_varint};
use crate::table::value::{ColumnType, Value};

use super::{Values, bitpack, plain};

/// Appends the payload; false (and nothing useful appended) when more than half the
/// values are distinct, where a dictionary cannot beat plain.
pub(crate) fn encode(values: &Values, out: &mut Vec<u8>) -> bool {
    let n = values.len();
    let mut ids = HashMap::new();
    let mut first = Vec::new();
    let mut indexes = Vec::with_capacity(n);
    for i in 0..n {
        let next = ids.len() as u64;
        let id = *ids.entry(values.item(i)).or_insert_with(|| {
            first.push(i);
            next
        });
        if ids.len() > n / 2 + 1 {
            return false;
        }
        indexes.push(id);
    }
    put_varint(out, first.len() as u64);
    plain::encode(&values.gather(first.iter().copied()), out);
    let width = bitpack::width_of(first.len().saturating_sub(1) as u64);
    out.push(width);
    bitpack::pack(indexes.into_iter(), width, out);
    true
}

pub(crate) fn decode(r: &mut Reader<'_>, ty: ColumnType, n: usize) -> Result<Values> {
    let entries = r.len(n)?;
    if entries == 0 && n > 0 {
        return Err(r.corrupt("an empty dictionary for present values"));
    }
    let dictionary = plain::decode(r, ty, entries)?;
    let width = r.u8()?;
    let indexes = bitpack::unpack(r, n, width)?;
    if let Some(bad) = indexes.iter().find(|&&i| i >= entries as u64) {
        return Err(r.corrupt(format!("index {bad} into a dictionary of {entries}")));
    }
    Ok(dictionary.gather(indexes.into_iter().map(|i| i as usize)))
}

/// Value `index` of the `n` values, decoding one dictionary entry and one index.
pub(crate) fn value_at(
    r: &mut Reader<'_>,
    ty: ColumnType,
    n: usize,
    index: usize,
) -> Result<Value> {
    let entries = r.len(n)?;
    if entries == 0 || index >= n {
        return Err(r.corrupt(format!("value {index} of {n} in a dictionary of {entries}")));
    }
    let mut dictionary = r.clone();
    plain::value_at(r, ty, entries, 0)?; // skips the dictionary
    let width = r.u8()?;
    let id = bitpack::value_at(r, n, width, index)?;
    if id >= entries as u64 {
        return Err(r.corrupt(format!("index {id} into a dictionary of {entries}")));
    }
    plain::value_at(&mut dictionary, ty, entries, id as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_worked_example() {
        let strings = ["de", "fr", "de", "de", "us"].map(String::from).to_vec();
        let mut out = Vec::new();
        assert!(encode(&Values::String(strings.clone()), &mut out));
        let want = [
            3,
            1,
            2,
            b'd',
            b'e',
            b'f',
            b'r',
            b'u',
            b's',
            2,
            0b0000_0100,
            0b0000_0010,
        ];
        assert_eq!(out, want);
        let mut r = Reader::new(&out, Path::new("c"), 0);
        assert_eq!(
            decode(&mut r, ColumnType::String, 5).unwrap(),
            Values::String(strings)
        );
    }
}
