//! Blocks: sorted key-value entries with prefix-compressed keys and restart points.
//!
//! # Format
//!
//! ```text
//! entry*       shared   varint   bytes of key shared with the previous entry's key
//!              unshared varint   bytes of key that follow
//!              value    varint   value length
//!              key[shared..]     the unshared key bytes
//!              value             the value bytes
//! restart*     u32 LE            offset of an entry whose shared is 0
//! restarts     u32 LE            number of restart offsets
//! ```
//!
//! Every `interval`-th entry is a restart: its key is stored whole, so a seek binary
//! searches the restarts and then walks at most `interval` entries. Keys are compared with
//! the caller's order (internal keys in data and index blocks). The table appends a CRC
//! to each block on disk; see `sstable/mod.rs`.

use std::cmp::Ordering;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::format::coding::{Reader, put_varint};

/// Builds one block.
#[derive(Debug)]
pub struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    since_restart: usize,
    interval: usize,
    last_key: Vec<u8>,
    entries: usize,
}

impl BlockBuilder {
    /// A builder that stores every `interval`-th key whole.
    pub fn new(interval: usize) -> Self {
        BlockBuilder {
            buf: Vec::new(),
            restarts: Vec::new(),
            since_restart: 0,
            interval: interval.max(1),
            last_key: Vec::new(),
            entries: 0,
        }
    }

    /// Appends an entry; keys must come in ascending order.
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        let shared = if self.entries == 0 || self.since_restart == self.interval {
            self.restarts.push(self.buf.len() as u32);
            self.since_restart = 0;
            0
        } else {
            key.iter()
                .zip(&self.last_key)
                .take_while(|(a, b)| a == b)
                .count()
        };
        put_varint(&mut self.buf, shared as u64);
        put_varint(&mut self.buf, (key.len() - shared) as u64);
        put_varint(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(&key[shared..]);
        self.buf.extend_from_slice(value);
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.since_restart += 1;
        self.entries += 1;
    }

    /// The size the finished block will have.
    pub fn size(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    /// True before the first `add`.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The last key added.
    pub fn last_key(&self) -> &[u8] {
        &self.last_key
    }

    /// The block's bytes; the builder is empty again afterwards.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        for r in &self.restarts {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        self.restarts.clear();
        self.since_restart = 0;
        self.entries = 0;
        self.last_key.clear();
        out
    }
}

/// A block's bytes with its restart array checked, borrowed: everything a lookup needs
/// and nothing it owns, so that a point read can search a block in a buffer it reuses.
#[derive(Clone, Copy, Debug)]
pub struct BlockRef<'a> {
    data: &'a [u8],
    restarts_at: usize,
    restarts: usize,
    file: &'a Path,
    offset: u64,
}

/// Where a cursor stands in a block: the current entry's whole key, its value's place in
/// the block, and the offset of the entry after it. Kept apart from the block so that
/// its key buffer can be reused from one block to the next.
#[derive(Debug, Default)]
pub struct Position {
    next: usize,
    key: Vec<u8>,
    value: Range<usize>,
    valid: bool,
}

impl Position {
    /// Whether the cursor is on an entry.
    pub fn valid(&self) -> bool {
        self.valid
    }

    /// The current key.
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

impl<'a> BlockRef<'a> {
    /// Checks the restart array of `data`, the block at `offset` of `file`.
    pub fn parse(data: &'a [u8], file: &'a Path, offset: u64) -> Result<BlockRef<'a>> {
        let bad = |detail: String| Error::corruption(file, offset, detail);
        if data.len() < 4 {
            return Err(bad(format!("block of {} bytes", data.len())));
        }
        let n = u32::from_le_bytes(data[data.len() - 4..].try_into().expect("4 bytes")) as usize;
        let restarts_at = (data.len() - 4)
            .checked_sub(
                n.checked_mul(4)
                    .ok_or_else(|| bad("restart count overflows".into()))?,
            )
            .ok_or_else(|| {
                bad(format!(
                    "{n} restarts do not fit a block of {} bytes",
                    data.len()
                ))
            })?;
        let block = BlockRef {
            data,
            restarts_at,
            restarts: n,
            file,
            offset,
        };
        for i in 0..n {
            if block.restart(i) as usize >= restarts_at.max(1) {
                return Err(bad(format!("restart {i} points past the entries")));
            }
        }
        Ok(block)
    }

    fn restart(&self, i: usize) -> u32 {
        let at = self.restarts_at + 4 * i;
        u32::from_le_bytes(self.data[at..at + 4].try_into().expect("4 bytes"))
    }

    /// The whole key stored at restart `i` (restart entries share nothing), read in place.
    fn restart_key(&self, i: usize) -> Result<&'a [u8]> {
        let at = self.restart(i) as usize;
        let end = self.restarts_at;
        let mut r = Reader::new(&self.data[at..end], self.file, self.offset + at as u64);
        if r.varint()? != 0 {
            return Err(r.corrupt("a restart entry shares bytes with the entry before it"));
        }
        let unshared = r.len(end)?;
        r.len(end)?;
        let start = at + r.position();
        r.bytes(unshared)?;
        Ok(&self.data[start..start + unshared])
    }

    /// The value of the entry `pos` stands on.
    pub fn value(&self, pos: &Position) -> &'a [u8] {
        &self.data[pos.value.clone()]
    }

    /// Decodes the entry at `pos.next` into `pos`; at the end, `pos` is invalid.
    fn parse_next(&self, pos: &mut Position) -> Result<()> {
        let end = self.restarts_at;
        if pos.next >= end {
            pos.valid = false;
            return Ok(());
        }
        let mut r = Reader::new(
            &self.data[pos.next..end],
            self.file,
            self.offset + pos.next as u64,
        );
        let shared = r.len(pos.key.len())?;
        let unshared = r.len(end)?;
        let value_len = r.len(end)?;
        let suffix = r.bytes(unshared)?;
        let value_start = pos.next + r.position();
        r.bytes(value_len)?;
        pos.key.truncate(shared);
        pos.key.extend_from_slice(suffix);
        pos.value = value_start..value_start + value_len;
        pos.next = value_start + value_len;
        pos.valid = true;
        Ok(())
    }

    /// Moves `pos` to the first entry.
    pub fn seek_to_first(&self, pos: &mut Position) -> Result<()> {
        pos.next = 0;
        pos.key.clear();
        self.parse_next(pos)
    }

    /// Moves `pos` to the entry after it.
    pub fn advance(&self, pos: &mut Position) -> Result<()> {
        self.parse_next(pos)
    }

    /// Moves `pos` to the first entry whose key is at or after `target` in `order`.
    pub fn seek(
        &self,
        pos: &mut Position,
        target: &[u8],
        order: fn(&[u8], &[u8]) -> Ordering,
    ) -> Result<()> {
        // Binary search for the first restart whose key is at or after the target; the
        // answer lies after the restart before it.
        let (mut lo, mut hi) = (0usize, self.restarts);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if order(self.restart_key(mid)?, target) == Ordering::Less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        pos.next = match lo.checked_sub(1) {
            Some(r) => self.restart(r) as usize,
            None if self.restarts == 0 => self.restarts_at,
            None => self.restart(0) as usize,
        };
        pos.key.clear();
        self.parse_next(pos)?;
        while pos.valid && order(&pos.key, target) == Ordering::Less {
            self.parse_next(pos)?;
        }
        Ok(())
    }
}

/// A decoded block that owns its bytes, cheap to clone (the bytes are shared): what the
/// cache holds and an iterator keeps.
#[derive(Clone, Debug)]
pub struct Block {
    data: Bytes,
    restarts_at: usize,
    restarts: usize,
    file: Arc<Path>,
    offset: u64,
}

impl Block {
    /// Checks the restart array of `data`, the block at `offset` of `file`.
    pub fn decode(data: Bytes, file: Arc<Path>, offset: u64) -> Result<Block> {
        let (restarts_at, restarts) = {
            let view = BlockRef::parse(&data, &file, offset)?;
            (view.restarts_at, view.restarts)
        };
        Ok(Block {
            data,
            restarts_at,
            restarts,
            file,
            offset,
        })
    }

    /// The block, borrowed.
    pub fn view(&self) -> BlockRef<'_> {
        BlockRef {
            data: &self.data,
            restarts_at: self.restarts_at,
            restarts: self.restarts,
            file: &self.file,
            offset: self.offset,
        }
    }

    /// The value of the entry `pos` stands on, sharing the block's bytes.
    pub fn value(&self, pos: &Position) -> Bytes {
        self.data.slice(pos.value.clone())
    }

    /// The block's bytes, for reuse once the block leaves the cache.
    pub fn into_bytes(self) -> Bytes {
        self.data
    }

    /// Bytes of the block.
    pub fn size(&self) -> usize {
        self.data.len()
    }

    /// An iterator, positioned before the first entry.
    pub fn iter(&self, order: fn(&[u8], &[u8]) -> Ordering) -> BlockIter {
        BlockIter {
            block: self.clone(),
            order,
            pos: Position::default(),
        }
    }
}

/// A cursor over one block that owns it.
#[derive(Debug)]
pub struct BlockIter {
    block: Block,
    order: fn(&[u8], &[u8]) -> Ordering,
    pos: Position,
}

impl BlockIter {
    /// Whether the cursor is on an entry.
    pub fn valid(&self) -> bool {
        self.pos.valid
    }

    /// The current key.
    pub fn key(&self) -> &[u8] {
        &self.pos.key
    }

    /// The current value, sharing the block's bytes.
    pub fn value(&self) -> Bytes {
        self.block.value(&self.pos)
    }

    /// The current value as a slice.
    pub fn value_slice(&self) -> &[u8] {
        self.block.view().value(&self.pos)
    }

    /// Moves to the first entry.
    pub fn seek_to_first(&mut self) -> Result<()> {
        self.block.view().seek_to_first(&mut self.pos)
    }

    /// Moves to the next entry.
    pub fn advance(&mut self) -> Result<()> {
        self.block.view().advance(&mut self.pos)
    }

    /// Moves to the first entry whose key is at or after `target`.
    pub fn seek(&mut self, target: &[u8]) -> Result<()> {
        self.block.view().seek(&mut self.pos, target, self.order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(a: &[u8], b: &[u8]) -> Ordering {
        a.cmp(b)
    }

    fn build(n: u32, interval: usize) -> Block {
        let mut b = BlockBuilder::new(interval);
        for i in 0..n {
            b.add(
                format!("key{:05}", i * 2).as_bytes(),
                format!("v{i}").as_bytes(),
            );
        }
        Block::decode(Bytes::from(b.finish()), Arc::from(Path::new("t")), 0).unwrap()
    }

    #[test]
    fn iterates_and_seeks() {
        for interval in [1, 3, 16] {
            let block = build(100, interval);
            let mut it = block.iter(plain);
            it.seek_to_first().unwrap();
            let mut count = 0;
            while it.valid() {
                assert_eq!(it.key(), format!("key{:05}", count * 2).as_bytes());
                assert_eq!(it.value_slice(), format!("v{count}").as_bytes());
                it.advance().unwrap();
                count += 1;
            }
            assert_eq!(count, 100);
            it.seek(b"key00051").unwrap();
            assert_eq!(it.key(), b"key00052");
            it.seek(b"key00052").unwrap();
            assert_eq!(it.key(), b"key00052");
            it.seek(b"a").unwrap();
            assert_eq!(it.key(), b"key00000");
            it.seek(b"z").unwrap();
            assert!(!it.valid());
        }
    }

    #[test]
    fn the_worked_example_of_formats_md() {
        let mut b = BlockBuilder::new(16);
        b.add(b"apple", b"1");
        b.add(b"apricot", b"2");
        let expected: &[u8] =
            b"\x00\x05\x01apple1\x02\x05\x01ricot2\x00\x00\x00\x00\x01\x00\x00\x00";
        assert_eq!(b.finish(), expected);
    }

    #[test]
    fn prefix_compression_saves_space() {
        let block = build(100, 16);
        let whole: usize = (0..100).map(|i| 8 + format!("v{i}").len() + 3).sum();
        assert!(block.size() < whole, "{} vs {whole}", block.size());
    }

    #[test]
    fn garbage_is_corruption_not_a_panic() {
        let good = {
            let mut b = BlockBuilder::new(4);
            for i in 0..20u8 {
                b.add(&[b'k', i], &[i; 5]);
            }
            b.finish()
        };
        for i in 0..good.len() {
            for bit in [0x01, 0x80] {
                let mut bad = good.clone();
                bad[i] ^= bit;
                if let Ok(block) = Block::decode(Bytes::from(bad), Arc::from(Path::new("t")), 0) {
                    let mut it = block.iter(plain);
                    let mut r = it.seek_to_first();
                    for _ in 0..40 {
                        if r.is_err() || !it.valid() {
                            break;
                        }
                        r = it.advance();
                    }
                    let _ = it.seek(&[b'k', 7]);
                }
            }
        }
        assert!(Block::decode(Bytes::from_static(&[1, 0]), Arc::from(Path::new("t")), 0).is_err());
        assert!(
            Block::decode(
                Bytes::from_static(&[9, 0, 0, 0]),
                Arc::from(Path::new("t")),
                0
            )
            .is_err()
        );
    }
}
