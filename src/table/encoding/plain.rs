//! Plain encoding: each present value in its plain form, one after another; booleans
//! bit-packed, least significant bit first; bytes and strings of one length stored
//! without their lengths.
//!
//! ```text
//! payload := value*                       u64, i64, f64: 8 bytes LE
//!          | bits[ceil(n / 8)]            bool
//!          | 00  (len:varint bytes)*      bytes, string of different lengths
//!          | 01  len:varint  bytes[len]*  bytes, string all of length len
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
        Values::Bytes(v) => put_all(out, v.iter().map(Vec::as_slice)),
        Values::String(v) => put_all(out, v.iter().map(String::as_bytes)),
    }
}

fn put_all<'a>(out: &mut Vec<u8>, values: impl Iterator<Item = &'a [u8]> + Clone) {
    let mut lengths = values.clone().map(<[u8]>::len);
    let first = lengths.next();
    match first.filter(|&f| lengths.all(|l| l == f)) {
        Some(len) => {
            out.push(1);
            put_varint(out, len as u64);
            values.for_each(|b| out.extend_from_slice(b));
        }
        None => {
            out.push(0);
            values.for_each(|b| put_bytes(out, b));
        }
    }
}

/// How the bytes or strings of a payload are laid out: `Some(len)` when all have `len`.
fn layout(r: &mut Reader<'_>) -> Result<Option<usize>> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some(r.len(MAX_VALUE_LEN)?)),
        b => Err(r.corrupt(format!("string layout {b}"))),
    }
}

/// The next of the values laid out as `fixed` says.
fn next_bytes<'a>(r: &mut Reader<'a>, fixed: Option<usize>) -> Result<&'a [u8]> {
    match fixed {
        Some(len) => r.bytes(len),
        None => read_bytes(r),
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
    let fixed = match ty {
        ColumnType::Bytes | ColumnType::String => layout(r)?,
        _ => None,
    };
    // A value takes at least a bit, or a length byte, unless all are empty.
    if fixed != Some(0) && n > r.remaining().saturating_mul(8) {
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
                .map(|_| next_bytes(r, fixed).map(<[u8]>::to_vec))
                .collect::<Result<_>>()?,
        ),
        ColumnType::String => Values::String(
            (0..n)
                .map(|_| {
                    let b = next_bytes(r, fixed)?;
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
            let fixed = layout(r)?;
            if let Some(len) = fixed {
                let all = r.bytes(n.saturating_mul(len))?;
                return bytes_value(r, ty, &all[index * len..(index + 1) * len]);
            }
            let mut found = Value::Null;
            for i in 0..n {
                let b = read_bytes(r)?;
                if i == index {
                    found = bytes_value(r, ty, b)?;
                }
            }
            Ok(found)
        }
    }
}

fn bytes_value(r: &Reader<'_>, ty: ColumnType, b: &[u8]) -> Result<Value> {
    if ty == ColumnType::Bytes {
        return Ok(Value::Bytes(b.to_vec()));
    }
    std::str::from_utf8(b)
        .map(|s| Value::String(s.to_owned()))
        .map_err(|_| r.corrupt("string is not UTF-8"))
}

fn read_bytes<'a>(r: &mut Reader<'a>) -> Result<&'a [u8]> {
    let n = r.len(MAX_VALUE_LEN)?;
    r.bytes(n)
}
