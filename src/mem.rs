//! [`MemStore`] ("mem"): an ordered map behind a read-write lock.
//!
//! It is the oracle every model test compares the disk engines with, and the no-disk
//! baseline row of every comparison: the cost of the trait, the harness and the ordered
//! map, with no I/O at all. It keeps nothing across a reopen, by design.

use std::collections::VecDeque;
use std::ops::Bound;
use std::path::Path;

use bytes::Bytes;
use imbl::OrdMap;
use parking_lot::RwLock;

use crate::error::Result;
use crate::kv::{BatchOp, KeyRange, KvStore, Options, ScanIter, Stats, WriteBatch};

/// The in-memory store.
///
/// Thread safety: writers take the write lock for a whole batch, so readers see a batch
/// entirely or not at all. The map is a persistent B-tree (`imbl::OrdMap`): a scan clones
/// it under the read lock in O(1) and walks the clone, a snapshot that later writes do not
/// change (they copy the paths they touch). So a scan is consistent, costs only what it
/// reads, and never holds the lock while the caller iterates: a caller may write while
/// iterating.
#[derive(Debug, Default)]
pub struct MemStore {
    map: RwLock<OrdMap<Bytes, Bytes>>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store; `dir` and `options` are ignored, since nothing is kept on disk.
    pub fn open(_dir: &Path, _options: Options) -> Result<Self> {
        Ok(Self::new())
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.map.read().len()
    }

    /// True when the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.map.read().is_empty()
    }
}

/// Walks a snapshot in chunks: the iterator owns its snapshot, and each refill looks up
/// the next few pairs after the last key returned (O(log n) per chunk).
struct SnapshotScan {
    map: OrdMap<Bytes, Bytes>,
    next: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    buffer: VecDeque<(Bytes, Bytes)>,
    done: bool,
}

impl SnapshotScan {
    const CHUNK: usize = 128;

    fn refill(&mut self) {
        let range = KeyRange::new(self.next.clone(), self.end.clone());
        if range.is_empty() {
            self.done = true;
            return;
        }
        self.buffer.extend(
            self.map
                .range::<_, [u8]>(range.as_slices())
                .take(Self::CHUNK)
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        match self.buffer.back() {
            Some((last, _)) if self.buffer.len() == Self::CHUNK => {
                self.next = Bound::Excluded(last.to_vec());
            }
            _ => self.done = true,
        }
    }
}

impl Iterator for SnapshotScan {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffer.is_empty() && !self.done {
            self.refill();
        }
        self.buffer.pop_front().map(Ok)
    }
}

impl KvStore for MemStore {
    fn name(&self) -> &str {
        "mem"
    }

    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.map.read().get(key).cloned())
    }

    fn write(&self, batch: &WriteBatch) -> Result<()> {
        let mut map = self.map.write();
        for op in batch.iter() {
            match op {
                BatchOp::Put { key, value } => {
                    map.insert(Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
                }
                BatchOp::Delete { key } => {
                    map.remove(key);
                }
            }
        }
        Ok(())
    }

    fn scan(&self, range: KeyRange) -> Result<ScanIter<'_>> {
        if range.is_empty() {
            // An ordered map's range() panics on inverted bounds.
            return Ok(Box::new(std::iter::empty()));
        }
        let snapshot = self.map.read().clone();
        Ok(Box::new(SnapshotScan {
            map: snapshot,
            next: range.start,
            end: range.end,
            buffer: VecDeque::new(),
            done: false,
        }))
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }

    fn settle(&self) -> Result<()> {
        Ok(())
    }

    fn stats(&self) -> Stats {
        Stats {
            engine: vec![("keys".into(), self.len() as u64)],
            ..Stats::default()
        }
    }

    fn disk_usage(&self) -> Result<u64> {
        Ok(0)
    }
}
