//! [`Value`]s and [`Record`]s, their orders, and the plain byte form of one value that the
//! row layout, the encodings and the zone maps share.
//!
//! ```text
//! plain value := u64 | i64 | f64     8 bytes, little-endian (an f64 as its IEEE bits)
//!              | bool                1 byte, 0 or 1
//!              | bytes | string      len:varint  bytes[len]   (a string is UTF-8)
//! ```

use std::cmp::Ordering;
use std::fmt;

use crate::error::Result;
use crate::format::coding::{Reader, put_varint};
use crate::kv::MAX_VALUE_LEN;

/// The type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// Unsigned 64-bit integer.
    U64,
    /// Signed 64-bit integer.
    I64,
    /// IEEE double; NaN and -0.0 are stored exactly.
    F64,
    /// true or false.
    Bool,
    /// Arbitrary bytes.
    Bytes,
    /// UTF-8 text.
    String,
}

impl ColumnType {
    /// Every type, in the order of their tags.
    pub const ALL: [ColumnType; 6] = [
        ColumnType::U64,
        ColumnType::I64,
        ColumnType::F64,
        ColumnType::Bool,
        ColumnType::Bytes,
        ColumnType::String,
    ];

    /// The type's name in schemas and messages.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::U64 => "u64",
            ColumnType::I64 => "i64",
            ColumnType::F64 => "f64",
            ColumnType::Bool => "bool",
            ColumnType::Bytes => "bytes",
            ColumnType::String => "string",
        }
    }

    /// The type's tag in the stored schema.
    pub(crate) fn tag(self) -> u8 {
        ColumnType::ALL.iter().position(|&t| t == self).unwrap_or(0) as u8
    }

    pub(crate) fn from_tag(tag: u8) -> Option<ColumnType> {
        ColumnType::ALL.get(usize::from(tag)).copied()
    }

    /// Width of the plain form when it is fixed (8 or 1 bytes), None for bytes and strings.
    pub(crate) fn fixed_width(self) -> Option<usize> {
        match self {
            ColumnType::U64 | ColumnType::I64 | ColumnType::F64 => Some(8),
            ColumnType::Bool => Some(1),
            ColumnType::Bytes | ColumnType::String => None,
        }
    }

    /// True for the types SUM and AVG accept.
    pub(crate) fn is_numeric(self) -> bool {
        matches!(self, ColumnType::U64 | ColumnType::I64 | ColumnType::F64)
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One field of a record.
#[derive(Clone, Debug)]
pub enum Value {
    /// No value, in a nullable column.
    Null,
    /// A `u64` column's value.
    U64(u64),
    /// An `i64` column's value.
    I64(i64),
    /// An `f64` column's value.
    F64(f64),
    /// A `bool` column's value.
    Bool(bool),
    /// A `bytes` column's value.
    Bytes(Vec<u8>),
    /// A `string` column's value.
    String(String),
}

/// A record: one value per column of the schema, in schema order, the primary key first.
/// A projected record holds the projected columns, in the projection's order.
pub type Record = Vec<Value>;

impl Value {
    /// The value's type; None for [`Value::Null`].
    pub fn column_type(&self) -> Option<ColumnType> {
        Some(match self {
            Value::Null => return None,
            Value::U64(_) => ColumnType::U64,
            Value::I64(_) => ColumnType::I64,
            Value::F64(_) => ColumnType::F64,
            Value::Bool(_) => ColumnType::Bool,
            Value::Bytes(_) => ColumnType::Bytes,
            Value::String(_) => ColumnType::String,
        })
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The order predicates and zone maps use: values of one type compare as numbers,
    /// booleans (false < true) or bytes; None for a null, a NaN or two different types,
    /// which no comparison matches. -0.0 equals 0.0 here.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::U64(a), Value::U64(b)) => Some(a.cmp(b)),
            (Value::I64(a), Value::I64(b)) => Some(a.cmp(b)),
            (Value::F64(a), Value::F64(b)) => a.partial_cmp(b),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            (Value::Bytes(a), Value::Bytes(b)) => Some(a.cmp(b)),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// A total order, for sorting groups: null first, then by type tag, then by value,
    /// with f64 in IEEE total order (-0.0 before 0.0, NaN last).
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        let rank = |v: &Value| v.column_type().map_or(0, |t| 1 + t.tag());
        match (self, other) {
            (Value::F64(a), Value::F64(b)) => a.total_cmp(b),
            _ => match self.compare(other) {
                Some(order) => order,
                None => rank(self).cmp(&rank(other)),
            },
        }
    }

    /// Appends the plain form of a non-null value.
    pub(crate) fn put_plain(&self, out: &mut Vec<u8>) {
        match self {
            Value::Null => {}
            Value::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::F64(v) => out.extend_from_slice(&v.to_bits().to_le_bytes()),
            Value::Bool(v) => out.push(u8::from(*v)),
            Value::Bytes(v) => {
                put_varint(out, v.len() as u64);
                out.extend_from_slice(v);
            }
            Value::String(v) => {
                put_varint(out, v.len() as u64);
                out.extend_from_slice(v.as_bytes());
            }
        }
    }

    /// Reads the plain form of a value of type `ty`.
    pub(crate) fn read_plain(r: &mut Reader<'_>, ty: ColumnType) -> Result<Value> {
        Ok(match ty {
            ColumnType::U64 => Value::U64(r.u64()?),
            ColumnType::I64 => Value::I64(r.u64()? as i64),
            ColumnType::F64 => Value::F64(f64::from_bits(r.u64()?)),
            ColumnType::Bool => match r.u8()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(r.corrupt(format!("bool byte {b}"))),
            },
            ColumnType::Bytes => {
                let n = r.len(MAX_VALUE_LEN)?;
                Value::Bytes(r.bytes(n)?.to_vec())
            }
            ColumnType::String => {
                let n = r.len(MAX_VALUE_LEN)?;
                let bytes = r.bytes(n)?;
                match std::str::from_utf8(bytes) {
                    Ok(s) => Value::String(s.to_owned()),
                    Err(_) => return Err(r.corrupt("string is not UTF-8")),
                }
            }
        })
    }

    /// Bytes of the plain form.
    pub(crate) fn plain_len(&self) -> usize {
        match self {
            Value::Null => 0,
            Value::U64(_) | Value::I64(_) | Value::F64(_) => 8,
            Value::Bool(_) => 1,
            Value::Bytes(v) => varint_len(v.len() as u64) + v.len(),
            Value::String(v) => varint_len(v.len() as u64) + v.len(),
        }
    }
}

/// Equality as stored: the same type and the same bits (NaN equals NaN, -0.0 differs from
/// 0.0), so that a value read back equals the value written.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::F64(a), Value::F64(b)) => a.to_bits() == b.to_bits(),
            (Value::Null, Value::Null) => true,
            _ => self.compare(other) == Some(Ordering::Equal),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::U64(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Bytes(v) => {
                f.write_str("0x")?;
                v.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
            Value::String(v) => write!(f, "{v:?}"),
        }
    }
}

/// Bytes of `v` as a LEB128 varint.
pub(crate) fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn plain_forms_round_trip_and_say_their_length() {
        let values = [
            Value::U64(u64::MAX),
            Value::I64(i64::MIN),
            Value::F64(-0.0),
            Value::F64(f64::NAN),
            Value::Bool(true),
            Value::Bytes(vec![0; 200]),
            Value::String("zürich".into()),
        ];
        for v in &values {
            let mut out = Vec::new();
            v.put_plain(&mut out);
            assert_eq!(out.len(), v.plain_len());
            let ty = v.column_type().unwrap();
            let mut r = Reader::new(&out, Path::new("t"), 0);
            assert_eq!(&Value::read_plain(&mut r, ty).unwrap(), v);
            assert_eq!(r.remaining(), 0);
        }
    }

    #[test]
    fn comparisons_follow_sql_and_sorting_is_total() {
        assert_eq!(
            Value::F64(-0.0).compare(&Value::F64(0.0)),
            Some(Ordering::Equal)
        );
        assert_eq!(Value::F64(f64::NAN).compare(&Value::F64(1.0)), None);
        assert_eq!(Value::Null.compare(&Value::Null), None);
        assert_eq!(Value::U64(1).compare(&Value::I64(1)), None);
        assert_eq!(Value::Null.total_cmp(&Value::U64(0)), Ordering::Less);
        assert_eq!(Value::F64(-0.0).total_cmp(&Value::F64(0.0)), Ordering::Less);
        assert_ne!(Value::F64(-0.0), Value::F64(0.0));
    }

    #[test]
    fn varint_lengths() {
        for v in [0u64, 1, 127, 128, 16383, 16384, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(varint_len(v), out.len(), "{v}");
        }
    }
}
