//! A scan over a snapshot read a chunk of copied pairs at a time, for stores whose own
//! iterators borrow what a scan returned from `KvStore::scan` would have to own: `mem`'s
//! ordered map, and the LMDB and SQLite peers.

use std::collections::VecDeque;
use std::ops::Bound;

use bytes::Bytes;

use super::KeyRange;
use super::range::as_slice;
use crate::error::Result;

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
    const CHUNK: usize = 256;

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
        self.source
            .fetch(from, end, Self::CHUNK, &mut self.buffer)?;
        match self.buffer.back() {
            Some((last, _)) if self.buffer.len() == Self::CHUNK => {
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
