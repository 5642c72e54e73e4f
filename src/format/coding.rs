//! Byte-level helpers of every on-disk format: little-endian integers, LEB128 varints, a
//! bounds-checked reader that turns every short or impossible read into
//! `Error::Corruption` naming the file and offset, the CRC, and the byte order of keys.

use std::cmp::Ordering;
use std::path::Path;

use crate::error::{Error, Result};

/// Appends `v` as a LEB128 varint (1 to 10 bytes).
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads bytes with bounds checks; every failure names `file` and the absolute offset.
#[derive(Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    file: &'a Path,
    /// Offset of `buf[0]` in the file, for error messages.
    base: u64,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, which starts at byte `base` of `file`.
    pub fn new(buf: &'a [u8], file: &'a Path, base: u64) -> Self {
        Reader {
            buf,
            pos: 0,
            file,
            base,
        }
    }

    /// An error at the current position.
    pub fn corrupt(&self, detail: impl Into<String>) -> Error {
        Error::corruption(self.file, self.base + self.pos as u64, detail)
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The current position within `buf`.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The next `n` bytes.
    #[inline]
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.corrupt(format!("needs {n} more bytes, {} remain", self.remaining())));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    /// A little-endian u32.
    pub fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A little-endian u64.
    pub fn u64(&mut self) -> Result<u64> {
        let b = self.bytes(8)?;
        let mut a = [0; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A LEB128 varint of at most 10 bytes.
    #[inline]
    pub fn varint(&mut self) -> Result<u64> {
        // Most varints here are lengths under 128: one byte.
        if let Some(&b) = self.buf.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        self.varint_slow()
    }

    fn varint_slow(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(self.corrupt("varint longer than 10 bytes"))
    }

    /// A varint that must fit a length of at most `max`.
    #[inline]
    pub fn len(&mut self, max: usize) -> Result<usize> {
        let v = self.varint()?;
        if v > max as u64 {
            return Err(self.corrupt(format!("length {v} exceeds {max}")));
        }
        Ok(v as usize)
    }
}

/// CRC-32 (IEEE) of `bytes`.
pub fn crc(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// Whether a checksum read from a file matches the one computed over its bytes: every
/// check of a stored checksum goes through here.
///
/// In a fuzzing build (`--cfg fuzzing`, as `cargo fuzz` compiles) a decoder target can
/// switch the comparison off (`fuzzing::ignore_checksums`), so that mutated bytes reach
/// the parsers behind the checksums instead of stopping at the first one. No other build
/// has the switch.
#[inline]
pub fn checksum_ok(stored: u32, computed: u32) -> bool {
    #[cfg(fuzzing)]
    if fuzzing::checksums_ignored() {
        return true;
    }
    stored == computed
}

/// The fuzzing build's checksum switch.
#[cfg(fuzzing)]
pub mod fuzzing {
    use std::sync::atomic::{AtomicBool, Ordering};

    static IGNORE: AtomicBool = AtomicBool::new(false);

    /// Makes every [`checksum_ok`](super::checksum_ok) pass, for the rest of the process.
    pub fn ignore_checksums() {
        IGNORE.store(true, Ordering::Relaxed);
    }

    pub(super) fn checksums_ignored() -> bool {
        IGNORE.load(Ordering::Relaxed)
    }
}

/// Byte order of two keys, settled by one integer compare when their first 8 bytes
/// differ (the common case, and much cheaper than a call to memcmp).
///
/// A key shorter than 8 bytes (a B+tree separator, say) is padded with zeros: a zero pad
/// sorts at or below any byte, so unequal padded prefixes order the keys as the bytes do.
#[inline]
pub fn cmp_bytes(a: &[u8], b: &[u8]) -> Ordering {
    let (x, y) = (first_8_be(a), first_8_be(b));
    if x != y {
        return x.cmp(&y);
    }
    a.cmp(b)
}

/// The first 8 bytes of `s` as a big-endian integer, zero-padded when `s` is shorter.
#[inline]
pub fn first_8_be(s: &[u8]) -> u64 {
    match s.first_chunk::<8>() {
        Some(head) => u64::from_be_bytes(*head),
        None => s
            .iter()
            .enumerate()
            .fold(0, |v, (i, &b)| v | u64::from(b) << (56 - 8 * i)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_reject_garbage() {
        let values = [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX];
        let mut buf = Vec::new();
        for &v in &values {
            put_varint(&mut buf, v);
        }
        let mut r = Reader::new(&buf, Path::new("t"), 0);
        for &v in &values {
            assert_eq!(r.varint().unwrap(), v);
        }
        assert_eq!(r.remaining(), 0);
        let endless = [0xffu8; 11];
        assert!(Reader::new(&endless, Path::new("t"), 0).varint().is_err());
        let mut r = Reader::new(&[5], Path::new("t"), 100);
        match r.u32() {
            Err(Error::Corruption { offset, .. }) => assert_eq!(offset, 100),
            other => panic!("{other:?}"),
        }
    }
}
