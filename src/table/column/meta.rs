//! A row group's description, kept in one entry the table reads at open: its row count,
//! its primary-key range, and per column the chunk's encoding, size and zone map (min,
//! max, null count), so that a predicate can rule a chunk out without reading it.
//!
//! ```text
//! meta        := version:u8 (1)  rows:varint  pk_min:u64  pk_max:u64  columns:varint
//!                column_meta * columns
//! column_meta := encoding:u8  chunk_len:varint  nulls:varint  bounds:u8  [min  max]
//!                bounds: 1 when min and max follow, in plain form; 0 when every value
//!                is null or NaN, or a bound's plain form exceeds 64 bytes
//! ```
//!
//! The deletions of a row group sit in an entry of their own, so that a delete rewrites
//! a few bytes rather than the description:
//!
//! ```text
//! deletions := count:varint  first:varint  gap:varint * (count - 1)
//!              the deleted row indexes ascending; gap = index - previous index
//! ```

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::Result;
use crate::format::coding::{Reader, put_varint};
use crate::table::encoding::{ColumnData, Encoding, MAX_ROWS, Values};
use crate::table::schema::Schema;
use crate::table::value::Value;

const VERSION: u8 = 1;
/// Longest plain form a zone map keeps as a bound.
const MAX_BOUND_LEN: usize = 64;

/// What the description says of one column chunk.
#[derive(Clone, Debug, PartialEq)]
pub struct ChunkMeta {
    /// The encoding the chunk was written with.
    pub encoding: Encoding,
    /// The chunk's size in bytes.
    pub len: u64,
    /// Null values in it.
    pub nulls: u64,
    /// Smallest and largest value (neither null nor NaN), when kept.
    pub bounds: Option<(Value, Value)>,
}

/// The description of one row group.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupMeta {
    /// Rows in the group, deleted ones included.
    pub rows: u64,
    /// Smallest primary key.
    pub pk_min: u64,
    /// Largest primary key.
    pub pk_max: u64,
    /// One per schema column.
    pub columns: Vec<ChunkMeta>,
}

/// The zone map of `column`: its min, max and null count.
pub(crate) fn zone_map(column: &ColumnData) -> (u64, Option<(Value, Value)>) {
    let rows = column.rows();
    let nulls = (0..rows).filter(|&i| column.is_null(i)).count() as u64;
    let mut bounds: Option<(Value, Value)> = None;
    let mut consider = |v: Value| {
        if v.compare(&v).is_none() {
            return; // NaN: no comparison matches it, so the bounds need not cover it
        }
        match &mut bounds {
            None => bounds = Some((v.clone(), v)),
            Some((lo, hi)) => {
                if v.compare(lo) == Some(std::cmp::Ordering::Less) {
                    *lo = v;
                } else if v.compare(hi) == Some(std::cmp::Ordering::Greater) {
                    *hi = v;
                }
            }
        }
    };
    match &column.values {
        // Fast path for the common case of an integer column without nulls.
        Values::U64(v) if nulls == 0 => {
            if let (Some(lo), Some(hi)) = (v.iter().min(), v.iter().max()) {
                bounds = Some((Value::U64(*lo), Value::U64(*hi)));
            }
        }
        _ => (0..rows)
            .filter(|&i| !column.is_null(i))
            .for_each(|i| consider(column.values.get(i))),
    }
    let bounds = bounds.filter(|(lo, hi)| lo.plain_len().max(hi.plain_len()) <= MAX_BOUND_LEN);
    (nulls, bounds)
}

impl GroupMeta {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        put_varint(&mut out, self.rows);
        out.extend_from_slice(&self.pk_min.to_le_bytes());
        out.extend_from_slice(&self.pk_max.to_le_bytes());
        put_varint(&mut out, self.columns.len() as u64);
        for c in &self.columns {
            out.push(
                Encoding::ALL
                    .iter()
                    .position(|&e| e == c.encoding)
                    .unwrap_or(0) as u8,
            );
            put_varint(&mut out, c.len);
            put_varint(&mut out, c.nulls);
            match &c.bounds {
                None => out.push(0),
                Some((lo, hi)) => {
                    out.push(1);
                    lo.put_plain(&mut out);
                    hi.put_plain(&mut out);
                }
            }
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8], schema: &Schema, place: &Path) -> Result<GroupMeta> {
        let mut r = Reader::new(bytes, place, 0);
        let version = r.u8()?;
        if version != VERSION {
            return Err(r.corrupt(format!(
                "row group version {version}, this build reads {VERSION}"
            )));
        }
        let rows = r.len(MAX_ROWS)? as u64;
        let pk_min = r.u64()?;
        let pk_max = r.u64()?;
        let n = r.len(schema.len())?;
        if n != schema.len() || rows == 0 || pk_min > pk_max {
            return Err(r.corrupt("a description that does not fit the schema"));
        }
        let mut columns = Vec::with_capacity(n);
        for c in schema.columns() {
            let tag = r.u8()?;
            let encoding = Encoding::ALL
                .get(usize::from(tag))
                .copied()
                .ok_or_else(|| r.corrupt(format!("encoding {tag}")))?;
            let len = r.varint()?;
            let nulls = r.len(rows as usize)? as u64;
            let bounds = match r.u8()? {
                0 => None,
                1 => Some((
                    Value::read_plain(&mut r, c.ty)?,
                    Value::read_plain(&mut r, c.ty)?,
                )),
                b => return Err(r.corrupt(format!("bounds flag {b}"))),
            };
            columns.push(ChunkMeta {
                encoding,
                len,
                nulls,
                bounds,
            });
        }
        if r.remaining() != 0 {
            return Err(r.corrupt("bytes after the last column"));
        }
        Ok(GroupMeta {
            rows,
            pk_min,
            pk_max,
            columns,
        })
    }
}

pub(crate) fn encode_deletions(deleted: &BTreeSet<u32>) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + deleted.len());
    put_varint(&mut out, deleted.len() as u64);
    let mut previous = 0;
    for (i, &d) in deleted.iter().enumerate() {
        put_varint(&mut out, u64::from(if i == 0 { d } else { d - previous }));
        previous = d;
    }
    out
}

pub(crate) fn decode_deletions(bytes: &[u8], rows: u64, place: &Path) -> Result<BTreeSet<u32>> {
    let mut r = Reader::new(bytes, place, 0);
    let count = r.len(rows as usize)?;
    let mut out = BTreeSet::new();
    let mut index = 0u64;
    for i in 0..count {
        let gap = r.varint()?;
        if i > 0 && gap == 0 {
            return Err(r.corrupt("a row deleted twice"));
        }
        index = index.saturating_add(gap);
        if index >= rows {
            return Err(r.corrupt(format!("deleted row {index} of a group of {rows}")));
        }
        out.insert(index as u32);
    }
    if r.remaining() != 0 {
        return Err(r.corrupt("bytes after the deletions"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::schema::Column;
    use crate::table::value::ColumnType;

    #[test]
    fn descriptions_and_deletions_round_trip() {
        let schema = Schema::new(vec![
            Column::new("id", ColumnType::U64),
            Column::nullable("s", ColumnType::String),
        ])
        .unwrap();
        let values = [
            Value::String("b".into()),
            Value::Null,
            Value::String("a".into()),
        ];
        let (nulls, bounds) = zone_map(&ColumnData::from_values(ColumnType::String, values.iter()));
        assert_eq!(nulls, 1);
        assert_eq!(
            bounds,
            Some((Value::String("a".into()), Value::String("b".into())))
        );
        let meta = GroupMeta {
            rows: 3,
            pk_min: 1,
            pk_max: 9,
            columns: vec![
                ChunkMeta {
                    encoding: Encoding::DeltaBitPacked,
                    len: 20,
                    nulls: 0,
                    bounds: Some((Value::U64(1), Value::U64(9))),
                },
                ChunkMeta {
                    encoding: Encoding::Plain,
                    len: 12,
                    nulls,
                    bounds,
                },
            ],
        };
        let place = Path::new("g");
        assert_eq!(
            GroupMeta::decode(&meta.encode(), &schema, place).unwrap(),
            meta
        );
        let deleted: BTreeSet<u32> = [0, 2].into();
        assert_eq!(
            decode_deletions(&encode_deletions(&deleted), 3, place).unwrap(),
            deleted
        );
        assert!(decode_deletions(&encode_deletions(&deleted), 2, place).is_err());
    }

    #[test]
    fn nan_and_long_values_leave_no_bounds() {
        let nan = [Value::F64(f64::NAN)];
        assert_eq!(
            zone_map(&ColumnData::from_values(ColumnType::F64, nan.iter())).1,
            None
        );
        let long = [Value::Bytes(vec![1; 100])];
        assert_eq!(
            zone_map(&ColumnData::from_values(ColumnType::Bytes, long.iter())).1,
            None
        );
    }
}
