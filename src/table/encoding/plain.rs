//! Plain encoding: each present value in its plain form, one after another; booleans
//! bit-packed, least significant bit first.
//!
//! ```text
//! payload := value*                      u64, i64, f64: 8 bytes LE; bytes, string: len:varint bytes
//!          | bits[ceil(n / 8)]            bool
//! ```

use std::path::Path;

use crate::error::Result;
use crate::format::coding::{Reader, put_varint};
use crate::kv::MAX_VALUE_LEN;
use crate::table::value::{ColumnType, Value};

use super::Values;
use super::bitpack;

pub(crate) fn encode(values: &Values, out: &mut Vec<u8>) {
    match values {
        Values::U64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Values::I64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Values::F64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_bits().to_le_bytes())),
        Values::Bool(v) => bitpack::pack(v.iter().map(|&b| u64::from(b)), 1, out),
        Values::Bytes(v) => v.iter().for_each(|x| put_bytes(out, x)),
        Values::String(v) => v.iter().for_each(|x| put_bytes(out, x.as_bytes())),
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

pub(crate) fn decode(r: &mut Reader<'_>, ty: ColumnType, n: usize) -> Result<Values> {
    if let Some(width) = ty.fixed_width().filter(|_| ty != ColumnType::Bool)
        && n.saturating_mul(width) > r.remaining()
    {
        return Err(r.corrupt(format!("{n} values of {width} bytes in {}", r.remaining())));
    }
    // Every variable-length value takes at least its one-byte length.
    if n > r.remaining().saturating_mul(8) {
        return Err(r.corrupt(format!("{n} values in {} bytes", r.remaining())));
    }
    Ok(match ty {
        ColumnType::U64 => Values::U64((0..n).map(|_| r.u64()).collect::<Result<_>>()?),
        ColumnType::I64 => Values::I64(
            (0..n)
                .map(|_| r.u64().map(|x| x as i64))
                .collect::<Result<_>>()?,
        ),
        ColumnType::F64 => Values::F64(
            (0..n)
                .map(|_| r.u64().map(f64::from_bits))
                .collect::<Result<_>>()?,
        ),
        ColumnType::Bool => Values::Bool(
            bitpack::unpack(r, n, 1)?
                .into_iter()
                .map(|b| b == 1)
                .collect(),
        ),
        ColumnType::Bytes => Values::Bytes(
            (0..n)
                .map(|_| read_bytes(r).map(<[u8]>::to_vec))
                .collect::<Result<_>>()?,
        ),
        ColumnType::String => Values::String(
            (0..n)
                .map(|_| {
                    let b = read_bytes(r)?;
                    std::str::from_utf8(b)
                        .map(str::to_owned)
                        .map_err(|_| r.corrupt("string is not UTF-8"))
                })
                .collect::<Result<_>>()?,
        ),
    })
}

/// Value `index` of `n` plain values of type `ty`, without decoding the others; the reader
/// is left after the `n` values.
pub(crate) fn value_at(
    r: &mut Reader<'_>,
    ty: ColumnType,
    n: usize,
    index: usize,
) -> Result<Value> {
    if index >= n {
        return Err(r.corrupt(format!("value {index} of {n}")));
    }
    match ty {
        ColumnType::Bool => {
            let bytes = r.bytes(bitpack::packed_len(n, 1))?;
            Ok(Value::Bool(bytes[index / 8] >> (index % 8) & 1 == 1))
        }
        ColumnType::U64 | ColumnType::I64 | ColumnType::F64 => {
            let all = r.bytes(n.saturating_mul(8))?;
            let mut sub = Reader::new(&all[index * 8..], Path::new("-"), 0);
            Value::read_plain(&mut sub, ty)
        }
        ColumnType::Bytes | ColumnType::String => {
            let mut found = Value::Null;
            for i in 0..n {
                if i == index {
                    found = Value::read_plain(r, ty)?;
                } else {
                    read_bytes(r)?;
                }
            }
            Ok(found)
        }
    }
}

fn read_bytes<'a>(r: &mut Reader<'a>) -> Result<&'a [u8]> {
    let n = r.len(MAX_VALUE_LEN)?;
    r.bytes(n)
}
