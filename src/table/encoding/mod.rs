//! Column chunks: the values of one column in one row group, encoded with whichever of
//! four encodings is smallest for them, framed with a null bitmap and a checksum.
//!
//! ```text
//! chunk   := encoding:u8  rows:varint  nulls:varint  [null_bitmap]  payload  crc32:u32
//!            encoding: 0 plain, 1 dictionary, 2 run-length, 3 delta + bit-packing,
//!            4 decimal
//!            null_bitmap: present when nulls > 0; ceil(rows / 8) bytes, bit i set when
//!            row i is null, least significant bit first
//!            payload: the rows - nulls present values, in row order, as the encoding says
//!            crc32: CRC-32 (IEEE) of everything before it
//! ```
//!
//! The encodings (each module draws its payload):
//! - `plain`: every value in its plain form; booleans bit-packed.
//! - `dictionary`: the distinct values once, then a bit-packed index per row.
//! - `run_length`: (run length, value) for each run of equal values.
//! - `delta`: integers as the first value and bit-packed differences (timestamps, keys).
//! - `decimal`: f64 decimals (amounts, prices) as bit-packed integers and a power of ten.

pub(crate) mod bitpack;
pub(crate) mod decimal;
pub(crate) mod delta;
pub(crate) mod dictionary;
pub(crate) mod plain;
pub(crate) mod run_length;

use std::path::Path;

use crate::error::Result;
use crate::format::coding::{Reader, crc, put_varint};

use super::value::{ColumnType, Value};

/// Most rows a chunk (a row group) may hold.
pub const MAX_ROWS: usize = 1 << 20;

/// How a chunk's present values are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Each value in its plain form.
    Plain,
    /// A dictionary of distinct values and a bit-packed index per value.
    Dictionary,
    /// Runs of equal values.
    RunLength,
    /// First value and bit-packed differences; integers only.
    DeltaBitPacked,
    /// Bit-packed integers scaled by a power of ten; f64 decimals only.
    Decimal,
}

impl Encoding {
    /// Every encoding, in the order of their tags.
    pub const ALL: [Encoding; 5] = [
        Encoding::Plain,
        Encoding::Dictionary,
        Encoding::RunLength,
        Encoding::DeltaBitPacked,
        Encoding::Decimal,
    ];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Plain => "plain",
            Encoding::Dictionary => "dictionary",
            Encoding::RunLength => "run-length",
            Encoding::DeltaBitPacked => "delta",
            Encoding::Decimal => "decimal",
        }
    }

    fn tag(self) -> u8 {
        Encoding::ALL.iter().position(|&e| e == self).unwrap_or(0) as u8
    }

    fn from_tag(tag: u8) -> Option<Encoding> {
        Encoding::ALL.get(usize::from(tag)).copied()
    }

    /// Whether the encoding can store values of `ty`.
    pub fn applies_to(self, ty: ColumnType) -> bool {
        match self {
            Encoding::DeltaBitPacked => matches!(ty, ColumnType::U64 | ColumnType::I64),
            Encoding::Decimal => ty == ColumnType::F64,
            _ => true,
        }
    }
}

/// A run of values of one type, one slot per value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Values {
    U64(Vec<u64>),
    I64(Vec<i64>),
    F64(Vec<f64>),
    Bool(Vec<bool>),
    Bytes(Vec<Vec<u8>>),
    String(Vec<String>),
}

impl Values {
    pub(crate) fn with_capacity(ty: ColumnType, n: usize) -> Values {
        match ty {
            ColumnType::U64 => Values::U64(Vec::with_capacity(n)),
            ColumnType::I64 => Values::I64(Vec::with_capacity(n)),
            ColumnType::F64 => Values::F64(Vec::with_capacity(n)),
            ColumnType::Bool => Values::Bool(Vec::with_capacity(n)),
            ColumnType::Bytes => Values::Bytes(Vec::with_capacity(n)),
            ColumnType::String => Values::String(Vec::with_capacity(n)),
        }
    }

    pub(crate) fn column_type(&self) -> ColumnType {
        match self {
            Values::U64(_) => ColumnType::U64,
            Values::I64(_) => ColumnType::I64,
            Values::F64(_) => ColumnType::F64,
            Values::Bool(_) => ColumnType::Bool,
            Values::Bytes(_) => ColumnType::Bytes,
            Values::String(_) => ColumnType::String,
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Values::U64(v) => v.len(),
            Values::I64(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::Bool(v) => v.len(),
            Values::Bytes(v) => v.len(),
            Values::String(v) => v.len(),
        }
    }

    /// Appends `v`, which must be of this type; a null appends the type's zero, as the
    /// slot of a null row.
    pub(crate) fn push(&mut self, v: &Value) {
        match (self, v) {
            (Values::U64(a), Value::U64(x)) => a.push(*x),
            (Values::I64(a), Value::I64(x)) => a.push(*x),
            (Values::F64(a), Value::F64(x)) => a.push(*x),
            (Values::Bool(a), Value::Bool(x)) => a.push(*x),
            (Values::Bytes(a), Value::Bytes(x)) => a.push(x.clone()),
            (Values::String(a), Value::String(x)) => a.push(x.clone()),
            (Values::U64(a), _) => a.push(0),
            (Values::I64(a), _) => a.push(0),
            (Values::F64(a), _) => a.push(0.0),
            (Values::Bool(a), _) => a.push(false),
            (Values::Bytes(a), _) => a.push(Vec::new()),
            (Values::String(a), _) => a.push(String::new()),
        }
    }

    /// The value in slot `i`.
    pub(crate) fn get(&self, i: usize) -> Value {
        match self {
            Values::U64(v) => Value::U64(v[i]),
            Values::I64(v) => Value::I64(v[i]),
            Values::F64(v) => Value::F64(v[i]),
            Values::Bool(v) => Value::Bool(v[i]),
            Values::Bytes(v) => Value::Bytes(v[i].clone()),
            Values::String(v) => Value::String(v[i].clone()),
        }
    }

    /// The slots at `indexes`, in that order.
    fn gather(&self, indexes: impl Iterator<Item = usize>) -> Values {
        match self {
            Values::U64(v) => Values::U64(indexes.map(|i| v[i]).collect()),
            Values::I64(v) => Values::I64(indexes.map(|i| v[i]).collect()),
            Values::F64(v) => Values::F64(indexes.map(|i| v[i]).collect()),
            Values::Bool(v) => Values::Bool(indexes.map(|i| v[i]).collect()),
            Values::Bytes(v) => Values::Bytes(indexes.map(|i| v[i].clone()).collect()),
            Values::String(v) => Values::String(indexes.map(|i| v[i].clone()).collect()),
        }
    }

    /// Slot `i` in the order of [`Value::compare`] against `other`, without building a
    /// value.
    #[inline]
    pub(crate) fn compare_at(&self, i: usize, other: &Value) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Values::U64(v), Value::U64(b)) => Some(v[i].cmp(b)),
            (Values::I64(v), Value::I64(b)) => Some(v[i].cmp(b)),
            (Values::F64(v), Value::F64(b)) => v[i].partial_cmp(b),
            (Values::Bool(v), Value::Bool(b)) => Some(v[i].cmp(b)),
            (Values::Bytes(v), Value::Bytes(b)) => Some(v[i].as_slice().cmp(b.as_slice())),
            (Values::String(v), Value::String(b)) => Some(v[i].as_str().cmp(b.as_str())),
            _ => None,
        }
    }

    /// Slot `i` as a key that is equal exactly when the plain forms are equal.
    pub(crate) fn item(&self, i: usize) -> Item<'_> {
        match self {
            Values::U64(v) => Item::Word(v[i]),
            Values::I64(v) => Item::Word(v[i] as u64),
            Values::F64(v) => Item::Word(v[i].to_bits()),
            Values::Bool(v) => Item::Word(u64::from(v[i])),
            Values::Bytes(v) => Item::Bytes(&v[i]),
            Values::String(v) => Item::Bytes(v[i].as_bytes()),
        }
    }
}

/// A value as its bits, for equality and hashing in the dictionary and run encoders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Item<'a> {
    Word(u64),
    Bytes(&'a [u8]),
}

/// A decoded column chunk: one slot per row, and which rows are null.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ColumnData {
    /// Row i's value (the type's zero for a null row).
    pub(crate) values: Values,
    /// Row i is null when `nulls[i]`; None when no row is.
    pub(crate) nulls: Option<Vec<bool>>,
}

impl ColumnData {
    /// The column of `ty` holding `values` (nulls included).
    pub(crate) fn from_values<'a>(
        ty: ColumnType,
        values: impl ExactSizeIterator<Item = &'a Value>,
    ) -> ColumnData {
        let mut out = Values::with_capacity(ty, values.len());
        let mut nulls = Vec::with_capacity(values.len());
        for v in values {
            nulls.push(v.is_null());
            out.push(v);
        }
        ColumnData {
            values: out,
            nulls: nulls.contains(&true).then_some(nulls),
        }
    }

    pub(crate) fn rows(&self) -> usize {
        self.values.len()
    }

    pub(crate) fn is_null(&self, row: usize) -> bool {
        self.nulls.as_ref().is_some_and(|n| n[row])
    }

    /// Row `row`'s value, null or not.
    pub(crate) fn get(&self, row: usize) -> Value {
        if self.is_null(row) {
            Value::Null
        } else {
            self.values.get(row)
        }
    }

    fn present(&self) -> Values {
        match &self.nulls {
            None => self.values.clone(),
            Some(n) => self.values.gather((0..n.len()).filter(|&i| !n[i])),
        }
    }
}

/// A decoded chunk, as a scan holds it: one typed slot per row and the null flags.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedChunk(ColumnData);

impl DecodedChunk {
    /// Rows in the chunk.
    pub fn rows(&self) -> usize {
        self.0.rows()
    }

    /// Row `row`'s value.
    pub fn get(&self, row: usize) -> Value {
        self.0.get(row)
    }
}

/// Encodes `values` (all of type `ty` or null) as a chunk: with `encoding`, or with the
/// smallest of those that apply when it is None. None when `encoding` does not apply to
/// them (or would not pay: a dictionary of mostly distinct values, runs of one).
pub fn encode_chunk(
    ty: ColumnType,
    values: &[Value],
    encoding: Option<Encoding>,
) -> Option<Vec<u8>> {
    if values
        .iter()
        .any(|v| v.column_type().is_some_and(|t| t != ty))
    {
        return None;
    }
    let column = ColumnData::from_values(ty, values.iter());
    match encoding {
        None => Some(encode(&column).0),
        Some(e) => encode_with(&column, &column.present(), e),
    }
}

/// Decodes a chunk of type `ty`, checking its checksum.
pub fn decode_chunk(chunk: &[u8], ty: ColumnType) -> Result<(DecodedChunk, Encoding)> {
    let (data, encoding) = decode(chunk, ty, Path::new("chunk"))?;
    Ok((DecodedChunk(data), encoding))
}

/// Encodes `column` with each encoding that applies and keeps the smallest chunk (the
/// first of equal sizes, in the order of [`Encoding::ALL`]).
pub(crate) fn encode(column: &ColumnData) -> (Vec<u8>, Encoding) {
    let present = column.present();
    let mut best: Option<(Vec<u8>, Encoding)> = None;
    for encoding in Encoding::ALL {
        if let Some(chunk) = encode_with(column, &present, encoding)
            && best.as_ref().is_none_or(|(b, _)| chunk.len() < b.len())
        {
            best = Some((chunk, encoding));
        }
    }
    best.expect("plain encoding applies to every type")
}

/// Encodes `column` with `encoding`; None when it does not apply or would not pay.
pub(crate) fn encode_with(
    column: &ColumnData,
    present: &Values,
    encoding: Encoding,
) -> Option<Vec<u8>> {
    let rows = column.rows();
    let nulls = rows - present.len();
    let mut out = Vec::with_capacity(16 + rows / 8);
    out.push(encoding.tag());
    put_varint(&mut out, rows as u64);
    put_varint(&mut out, nulls as u64);
    if let Some(n) = column.nulls.as_ref().filter(|_| nulls > 0) {
        bitpack::pack(n.iter().map(|&b| u64::from(b)), 1, &mut out);
    }
    let encoded = match encoding {
        Encoding::Plain => {
            plain::encode(present, &mut out);
            true
        }
        Encoding::Dictionary => dictionary::encode(present, &mut out),
        Encoding::RunLength => run_length::encode(present, &mut out),
        Encoding::DeltaBitPacked => delta::encode(present, &mut out),
        Encoding::Decimal => decimal::encode(present, &mut out),
    };
    if !encoded {
        return None;
    }
    let sum = crc(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    Some(out)
}

/// Row `row` of a chunk of type `ty`, decoding as little as the encoding allows: a plain
/// fixed-width value is read where it sits, a dictionary entry through one index.
pub(crate) fn decode_row(chunk: &[u8], ty: ColumnType, row: usize, place: &Path) -> Result<Value> {
    let (mut r, encoding, rows, nulls) = open_chunk(chunk, ty, place)?;
    if row >= rows {
        return Err(r.corrupt(format!("row {row} of a chunk of {rows}")));
    }
    let mut index = row;
    if nulls > 0 {
        let bitmap = r.bytes(bitpack::packed_len(rows, 1))?;
        if bitmap[row / 8] >> (row % 8) & 1 == 1 {
            return Ok(Value::Null);
        }
        let before: u32 = bitmap[..row / 8].iter().map(|b| b.count_ones()).sum();
        let partial = (bitmap[row / 8] & ((1u8 << (row % 8)) - 1)).count_ones();
        index = row - (before + partial) as usize;
    }
    let n = rows - nulls;
    match encoding {
        Encoding::Plain => plain::value_at(&mut r, ty, n, index),
        Encoding::Dictionary => dictionary::value_at(&mut r, ty, n, index),
        Encoding::RunLength => run_length::value_at(&mut r, ty, n, index),
        Encoding::DeltaBitPacked => delta::value_at(&mut r, ty, n, index),
        Encoding::Decimal => decimal::value_at(&mut r, ty, n, index),
    }
}

/// Checks a chunk's checksum and reads its header: a reader at the null bitmap, the
/// encoding, the rows and the nulls.
fn open_chunk<'a>(
    chunk: &'a [u8],
    ty: ColumnType,
    place: &'a Path,
) -> Result<(Reader<'a>, Encoding, usize, usize)> {
    let r = Reader::new(chunk, place, 0);
    if chunk.len() < 4 {
        return Err(r.corrupt(format!("a chunk of {} bytes", chunk.len())));
    }
    let (body, stored) = chunk.split_at(chunk.len() - 4);
    let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
    if !crate::format::coding::checksum_ok(stored, crc(body)) {
        return Err(r.corrupt(format!(
            "chunk checksum mismatch: stored {stored:#010x}, computed {:#010x}",
            crc(body)
        )));
    }
    let mut r = Reader::new(body, place, 0);
    let tag = r.u8()?;
    let encoding = Encoding::from_tag(tag)
        .filter(|e| e.applies_to(ty))
        .ok_or_else(|| r.corrupt(format!("encoding {tag} for a {ty} column")))?;
    let rows = r.len(MAX_ROWS)?;
    let nulls = r.len(rows)?;
    Ok((r, encoding, rows, nulls))
}

/// Reads a chunk of type `ty`; `place` names the chunk in errors.
pub(crate) fn decode(chunk: &[u8], ty: ColumnType, place: &Path) -> Result<(ColumnData, Encoding)> {
    let (mut r, encoding, rows, nulls) = open_chunk(chunk, ty, place)?;
    let null_bits = if nulls > 0 {
        let bits = bitpack::unpack(&mut r, rows, 1)?;
        let flags: Vec<bool> = bits.iter().map(|&b| b == 1).collect();
        if flags.iter().filter(|&&b| b).count() != nulls {
            return Err(r.corrupt("the null bitmap disagrees with the null count"));
        }
        Some(flags)
    } else {
        None
    };
    let n = rows - nulls;
    let present = match encoding {
        Encoding::Plain => plain::decode(&mut r, ty, n)?,
        Encoding::Dictionary => dictionary::decode(&mut r, ty, n)?,
        Encoding::RunLength => run_length::decode(&mut r, ty, n)?,
        Encoding::DeltaBitPacked => delta::decode(&mut r, ty, n)?,
        Encoding::Decimal => decimal::decode(&mut r, ty, n)?,
    };
    if r.remaining() != 0 {
        return Err(r.corrupt(format!("{} bytes after the values", r.remaining())));
    }
    let values = match &null_bits {
        None => present,
        Some(flags) => spread(present, flags),
    };
    Ok((
        ColumnData {
            values,
            nulls: null_bits,
        },
        encoding,
    ))
}

/// The present values laid out one slot per row, a zero in each null row's slot.
fn spread(present: Values, nulls: &[bool]) -> Values {
    let mut out = Values::with_capacity(present.column_type(), nulls.len());
    let mut next = 0;
    for &null in nulls {
        if null {
            out.push(&Value::Null);
        } else {
            out.push(&present.get(next));
            next += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(ty: ColumnType, values: &[Value]) {
        let column = ColumnData::from_values(ty, values.iter());
        let present = column.present();
        let place = Path::new("chunk");
        for encoding in Encoding::ALL {
            let Some(chunk) = encode_with(&column, &present, encoding) else {
                continue;
            };
            let (back, used) = decode(&chunk, ty, place).unwrap();
            assert_eq!(used, encoding);
            let got: Vec<Value> = (0..back.rows()).map(|i| back.get(i)).collect();
            assert_eq!(got, values, "{encoding:?}");
        }
    }

    #[test]
    fn chunks_round_trip_in_every_encoding() {
        round_trip(ColumnType::U64, &[]);
        round_trip(ColumnType::I64, &[Value::Null, Value::Null]);
        round_trip(
            ColumnType::I64,
            &[
                Value::I64(i64::MIN),
                Value::I64(i64::MAX),
                Value::Null,
                Value::I64(0),
            ],
        );
        round_trip(
            ColumnType::F64,
            &[
                Value::F64(f64::NAN),
                Value::F64(-0.0),
                Value::F64(0.0),
                Value::F64(-0.0),
            ],
        );
        round_trip(ColumnType::Bool, &vec![Value::Bool(true); 9]);
        round_trip(
            ColumnType::String,
            &[
                Value::String("a".into()),
                Value::Null,
                Value::String(String::new()),
            ],
        );
    }

    #[test]
    fn the_smallest_encoding_wins() {
        let sorted: Vec<Value> = (0..1000u64)
            .map(|i| Value::U64(1_000_000 + i * 3))
            .collect();
        let (_, e) = encode(&ColumnData::from_values(ColumnType::U64, sorted.iter()));
        assert_eq!(e, Encoding::DeltaBitPacked);
        let few: Vec<Value> = (0..1000)
            .map(|i| Value::String(["de", "fr", "us"][i * 7 % 3].into()))
            .collect();
        let (_, e) = encode(&ColumnData::from_values(ColumnType::String, few.iter()));
        assert_eq!(e, Encoding::Dictionary);
        let runs: Vec<Value> = (0..1000).map(|i| Value::F64((i / 250) as f64)).collect();
        let (_, e) = encode(&ColumnData::from_values(ColumnType::F64, runs.iter()));
        assert_eq!(e, Encoding::RunLength);
    }

    #[test]
    fn the_whole_chunk_of_formats_md() {
        let values = [Value::F64(12.5), Value::Null, Value::F64(0.99)];
        let (chunk, e) = encode(&ColumnData::from_values(ColumnType::F64, values.iter()));
        assert_eq!(e, Encoding::Decimal);
        assert_eq!(chunk[..14], [4, 3, 1, 2, 2, 0x63, 0, 0, 0, 0, 0, 0, 0, 11]);
        assert_eq!(chunk.len(), 14 + 3 + 4);
    }

    #[test]
    fn a_flipped_byte_is_corruption() {
        let values: Vec<Value> = (0..100u64).map(Value::U64).collect();
        let (mut chunk, _) = encode(&ColumnData::from_values(ColumnType::U64, values.iter()));
        chunk[3] ^= 0x40;
        let err = decode(&chunk, ColumnType::U64, Path::new("chunk x")).unwrap_err();
        assert!(err.to_string().contains("chunk x"), "{err}");
        assert!(decode(&[], ColumnType::U64, Path::new("c")).is_err());
    }

    use proptest::prelude::*;

    /// A column of `ty` drawn from a few values (so runs and repeats are common) or from
    /// anything of the type, with nulls in nullable columns.
    fn column() -> impl Strategy<Value = (ColumnType, Vec<Value>)> {
        let ty = prop::sample::select(ColumnType::ALL.to_vec());
        (ty, any::<bool>(), any::<bool>()).prop_flat_map(|(ty, nullable, narrow)| {
            let value: BoxedStrategy<Value> = match (ty, narrow) {
                (ColumnType::U64, true) => prop::sample::select(vec![0, 1, u64::MAX])
                    .prop_map(Value::U64)
                    .boxed(),
                (ColumnType::U64, false) => any::<u64>().prop_map(Value::U64).boxed(),
                (ColumnType::I64, true) => prop::sample::select(vec![i64::MIN, -1, 0, i64::MAX])
                    .prop_map(Value::I64)
                    .boxed(),
                (ColumnType::I64, false) => any::<i64>().prop_map(Value::I64).boxed(),
                (ColumnType::F64, true) => {
                    prop::sample::select(vec![f64::NAN, -0.0, 0.0, f64::NEG_INFINITY, 2.5])
                        .prop_map(Value::F64)
                        .boxed()
                }
                (ColumnType::F64, false) => any::<u64>()
                    .prop_map(|b| Value::F64(f64::from_bits(b)))
                    .boxed(),
                (ColumnType::Bool, _) => any::<bool>().prop_map(Value::Bool).boxed(),
                (ColumnType::Bytes, true) => {
                    prop::sample::select(vec![vec![], vec![0u8], vec![255; 3]])
                        .prop_map(Value::Bytes)
                        .boxed()
                }
                (ColumnType::Bytes, false) => prop::collection::vec(any::<u8>(), 0..20)
                    .prop_map(Value::Bytes)
                    .boxed(),
                (ColumnType::String, true) => prop::sample::select(vec!["", "a", "zürich"])
                    .prop_map(|s| Value::String(s.into()))
                    .boxed(),
                (ColumnType::String, false) => ".{0,12}".prop_map(Value::String).boxed(),
            };
            let slot = if nullable {
                prop_oneof![1 => Just(Value::Null), 3 => value].boxed()
            } else {
                value
            };
            (Just(ty), prop::collection::vec(slot, 0..300))
        })
    }

    proptest! {
        #[test]
        fn every_encoding_round_trips_any_column((ty, values) in column()) {
            let column = ColumnData::from_values(ty, values.iter());
            let present = column.present();
            for encoding in Encoding::ALL {
                let Some(chunk) = encode_with(&column, &present, encoding) else {
                    prop_assert!(encoding != Encoding::Plain);
                    continue;
                };
                let (back, used) = decode(&chunk, ty, Path::new("c")).unwrap();
                prop_assert_eq!(used, encoding);
                let got: Vec<Value> = (0..back.rows()).map(|i| back.get(i)).collect();
                prop_assert_eq!(&got, &values, "{:?}", encoding);
                for (row, want) in values.iter().enumerate() {
                    let one = decode_row(&chunk, ty, row, Path::new("c")).unwrap();
                    prop_assert_eq!(&one, want, "{:?} row {}", encoding, row);
                }
            }
            let (smallest, _) = encode(&column);
            let plain = encode_with(&column, &present, Encoding::Plain).unwrap();
            prop_assert!(smallest.len() <= plain.len());
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64), tag in 0u8..6) {
            let ty = ColumnType::from_tag(tag).unwrap();
            let mut chunk = bytes;
            let sum = crc(&chunk);
            chunk.extend_from_slice(&sum.to_le_bytes());
            let _ = decode(&chunk, ty, Path::new("c"));
        }
    }
}
