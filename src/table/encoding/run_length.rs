//! Run-length encoding: each run of equal values as its length and the value once.
//!
//! ```text
//! payload := runs:varint  length:varint * runs  heads
//!            heads: the first value of each run, in plain encoding
//! ```
//!
//! Worked example, a bool column of 1,000 false then 20 true: runs 2, lengths
//! `e8 07` (1000) `14` (20), heads one byte `0b10`.

use crate::error::Result;
use crate::format::coding::{Reader, put_varint};
use crate::table::value::{ColumnType, Value};

use super::{Values, plain};

/// Appends the payload; false when the runs average under two values, where plain wins.
pub(crate) fn encode(values: &Values, out: &mut Vec<u8>) -> bool {
    let n = values.len();
    let mut heads = Vec::new();
    let mut lengths = Vec::new();
    for i in 0..n {
        if i > 0 && values.item(i) == values.item(i - 1) {
            *lengths.last_mut().expect("a run is open") += 1;
        } else {
            heads.push(i);
            lengths.push(1u64);
        }
        if heads.len() > n / 2 + 1 {
            return false;
        }
    }
    put_varint(out, heads.len() as u64);
    lengths.iter().for_each(|&l| put_varint(out, l));
    plain::encode(&values.gather(heads.into_iter()), out);
    true
}

pub(crate) fn decode(r: &mut Reader<'_>, ty: ColumnType, n: usize) -> Result<Values> {
    let runs = r.len(n)?;
    let mut lengths = Vec::with_capacity(runs);
    let mut total = 0usize;
    for _ in 0..runs {
        let l = r.len(n)?;
        if l == 0 {
            return Err(r.corrupt("a run of length 0"));
        }
        total += l;
        lengths.push(l);
    }
    if total != n {
        return Err(r.corrupt(format!("runs cover {total} values, not {n}")));
    }
    let heads = plain::decode(r, ty, runs)?;
    Ok(heads.gather(
        lengths
            .iter()
            .enumerate()
            .flat_map(|(i, &l)| std::iter::repeat_n(i, l)),
    ))
}

/// Value `index` of the `n` values, walking the run lengths to its run.
pub(crate) fn value_at(
    r: &mut Reader<'_>,
    ty: ColumnType,
    n: usize,
    index: usize,
) -> Result<Value> {
    let runs = r.len(n)?;
    let mut covered = 0usize;
    let mut run = None;
    for i in 0..runs {
        covered += r.len(n)?;
        if run.is_none() && index < covered {
            run = Some(i);
        }
    }
    match run {
        Some(i) if covered == n => plain::value_at(r, ty, runs, i),
        _ => Err(r.corrupt(format!("value {index} of runs covering {covered} of {n}"))),
    }
}
