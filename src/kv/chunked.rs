//! A scan over a snapshot read a chunk of copied pairs at a time, for stores whose own
//! iterators borrow what a scan returned from `KvStore::scan` would have to own: `mem`'s
//! ordered map, and the LMDB and SQLite peers.
//!
//! [`CopiedPairs`] is how a source that lends only borrowed bytes copies a chunk: into one
//! buffer, handed out as slices of it, so that a pair costs a copy and two reference
//! counts rather than two allocations. (A caller that keeps one pair keeps its chunk's
//! buffer alive, a few tens of kilobytes at the standard sizes.)

use std::collections::VecDeque;
use std::ops::Bound;

use bytes::Bytes;

use super::KeyRange;
use super::range::as_slice;
use crate::error::Result;

#[cfg(any(feature = "lmdb", feature = "sqlite"))]
/// Pairs copied from borrowed bytes into one buffer, then handed out as slices of it.
#[derive(Default)]
pub(crate) struct CopiedPairs {
    buf: Vec<u8>,
    /// Per pair: where its key starts, the key's length, the value's length.
    spans: Vec<(usize, usize, usize)>,
}

#[cfg(any(feature = "lmdb", feature = "sqlite"))]
impl CopiedPairs {
    /// Copies one pair in.
    pub(crate) fn push(&mut self, key: &[u8], value: &[u8]) {
        self.spans.push((self.buf.len(), key.len(), value.len()));
        self.buf.extend_from_slice(key);
        self.buf.extend_from_slice(value);
    }

    /// Appends every pair copied in to `out`, in order, and starts a new buffer as large
    /// as this one: a scan's chunks are alike, so the next need not grow from empty.
    pub(crate) fn hand_out(&mut self, out: &mut VecDeque<(Bytes, Bytes)>) {
        let next = Vec::with_capacity(self.buf.len());
        let whole = Bytes::from(std::mem::replace(&mut self.buf, next));
        out.extend(self.spans.drain(..).map(|(at, key, value)| {
            (
                whole.slice(at..at + key),
                whole.slice(at + key..at + key + value),
            )
        }));
    }
}

/// Pairs per chunk: enough to spread a lookup or a call over many pairs, few enough that a
/// chunk's buffer stays in cache.
const CHUNK: usize = 256;

/// What a chunked scan reads from: a snapshot.
pub(crate) trait ChunkSource {
    /// Appends to `out`, in key order, up to `limit` pairs from `from` to `end`.
    fn fetch(
        &mut self,
        from: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
        out: &mut VecDeque<(Bytes, Bytes)>,
    ) -> Result<()>;
}

/// A scan over a snapshot, read a chunk of copied pairs at a time; each refill looks up
/// the pairs after the last key returned.
pub(crate) struct ChunkedScan<S> {
    source: S,
    next: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    buffer: VecDeque<(Bytes, Bytes)>,
    done: bool,
}

impl<S: ChunkSource> ChunkedScan<S> {
    /// A scan of `range` over `source`; nothing is read yet.
    pub(crate) fn new(source: S, range: KeyRange) -> Self {
        ChunkedScan {
            source,
            next: range.start,
            end: range.end,
            buffer: VecDeque::new(),
            done: false,
        }
    }

    /// Reads the next chunk; a chunk shorter than asked for is the last.
    pub(crate) fn refill(&mut self) -> Result<()> {
        let (from, end) = (as_slice(&self.next), as_slice(&self.end));
        self.source.fetch(from, end, CHUNK, &mut self.buffer)?;
        match self.buffer.back() {
            Some((last, _)) if self.buffer.len() == CHUNK => {
                self.next = Bound::Excluded(last.to_vec());
            }
            _ => self.done = true,
        }
        Ok(())
    }
}

impl<S: ChunkSource> Iterator for ChunkedScan<S> {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffer.is_empty() && !self.done {
            if let Err(e) = self.refill() {
                self.done = true;
                return Some(Err(e));
            }
        }
        self.buffer.pop_front().map(Ok)
    }
}
