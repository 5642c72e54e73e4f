//! Sorted string tables: immutable files of sorted internal keys and their values.
//!
//! # Format (see docs/FORMATS.md)
//!
//! All integers little-endian.
//!
//! ```text
//! data block 0   | crc32 u32      entries: encoded internal key -> value (block.rs)
//! ...
//! data block n-1 | crc32 u32
//! filter block   | crc32 u32      bloom filter of the user keys (bloom.rs); absent if
//!                                 the table was built with 0 bits per key
//! index block    | crc32 u32      entries: last internal key of data block i ->
//!                                 handle (offset u64, size u32) of block i
//! footer, 48 bytes:
//!   0  index offset   u64
//!   8  index size     u32   (bytes of the block, without its crc)
//!   12 filter offset  u64
//!   20 filter size    u32   (0 = no filter)
//!   24 entries        u64
//!   32 format version u32   = 1
//!   36 magic          u64   = "KVLABSST" as bytes
//!   44 crc32          u32   of bytes 0..44
//! ```
//!
//! Each block's CRC covers the block's bytes; a reader checks it on every read from disk.

pub mod block;
pub mod bloom;
pub mod builder;
pub mod reader;
#[cfg(test)]
mod tests;

use std::path::Path;

use crate::error::Result;
use crate::format::coding::Reader;

/// "KVLABSST".
pub const MAGIC: [u8; 8] = *b"KVLABSST";
/// The table format this build writes and reads.
pub const FORMAT_VERSION: u32 = 2;
/// Footer bytes: 8 + 4 + 8 + 4 + 8 + 4 + 8 + 4.
pub const FOOTER_LEN: usize = 8 + 4 + 8 + 4 + 8 + 4 + 8 + 4;
/// Bytes of the CRC after each block.
pub const BLOCK_TRAILER: usize = 4;

/// Where a block lies in the file: its bytes, without the CRC after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handle {
    /// Offset of the block's first byte.
    pub offset: u64,
    /// Bytes of the block, without its CRC.
    pub size: u32,
}

impl Handle {
    /// The 12-byte encoding used as an index value.
    pub fn encode(&self) -> [u8; 12] {
        let mut out = [0; 12];
        out[..8].copy_from_slice(&self.offset.to_le_bytes());
        out[8..].copy_from_slice(&self.size.to_le_bytes());
        out
    }

    /// Decodes an index value.
    pub fn decode(r: &mut Reader<'_>) -> Result<Handle> {
        Ok(Handle {
            offset: r.u64()?,
            size: r.u32()?,
        })
    }

    /// Whether the block and its trailer end at or before `limit`. A handle read from a
    /// damaged file may hold any offset: one near 2^64 does not wrap around.
    pub fn ends_by(&self, limit: u64) -> bool {
        self.offset
            .checked_add(u64::from(self.size) + BLOCK_TRAILER as u64)
            .is_some_and(|end| end <= limit)
    }
}

/// The table's footer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footer {
    /// The index block.
    pub index: Handle,
    /// The filter block (size 0: none).
    pub filter: Handle,
    /// Entries in the table.
    pub entries: u64,
}

impl Footer {
    /// The footer's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FOOTER_LEN);
        out.extend_from_slice(&self.index.encode());
        out.extend_from_slice(&self.filter.encode());
        out.extend_from_slice(&self.entries.to_le_bytes());
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&MAGIC);
        let crc = crate::format::coding::crc(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and checks the last `FOOTER_LEN` bytes of `file`, which start at `offset`.
    pub fn decode(bytes: &[u8], file: &Path, offset: u64) -> Result<Footer> {
        let mut r = Reader::new(bytes, file, offset);
        if bytes.len() != FOOTER_LEN {
            return Err(r.corrupt(format!("footer of {} bytes", bytes.len())));
        }
        let stored = u32::from_le_bytes(bytes[FOOTER_LEN - 4..].try_into().expect("4 bytes"));
        let computed = crate::format::coding::crc(&bytes[..FOOTER_LEN - 4]);
        if &bytes[36..44] != MAGIC.as_slice() {
            return Err(r.corrupt("not a kvlab table: bad magic in footer"));
        }
        if !crate::format::coding::checksum_ok(stored, computed) {
            return Err(r.corrupt(format!(
                "footer checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            )));
        }
        let index = Handle::decode(&mut r)?;
        let filter = Handle::decode(&mut r)?;
        let entries = r.u64()?;
        let version = r.u32()?;
        if version != FORMAT_VERSION {
            return Err(r.corrupt(format!("table format {version}, this build reads 1")));
        }
        Ok(Footer {
            index,
            filter,
            entries,
        })
    }
}
