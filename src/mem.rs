//! [`MemStore`] ("mem"): an ordered map behind a read-write lock.
//!
//! It is the oracle every model test compares the disk engines with, and the no-disk
//! baseline row of every comparison: the cost of the trait, the harness and the ordered
//! map, with no I/O at all. It keeps nothing across a reopen, by design.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;

use crate::error::Result;
use crate::kv::chunked::{ChunkSource, ChunkedScan};
use crate::kv::{BatchOp, KeyRange, KvStore, Options, ScanIter, Stats, WriteBatch};

/// The in-memory store.
///
/// Thread safety: writers take the write lock for a whole batch, so readers see a batch
/// entirely or not at all. The map (`std`'s B-tree) sits in an `Arc`: a scan takes a
/// clone of the `Arc` under the read lock and walks that map, a snapshot no writer can
/// change; a writer that finds the `Arc` shared by an open scan copies the map first
/// (`Arc::make_mut`). So a scan is consistent and never holds the lock while the caller
/// iterates (a caller may write while iterating), and gets and writes cost what a plain
/// B-tree costs. The price: a write while a scan is open copies the whole map.
///
/// A persistent B-tree (`imbl::OrdMap`) would make snapshots free, but at a million keys
/// its gets and inserts are 2–3× slower than std's, which would make the no-disk baseline
/// slower than the LSM engine.
#[derive(Debug, Default)]
pub struct MemStore {
    map: RwLock<Arc<BTreeMap<Bytes, Bytes>>>,
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

/// The map as one scan took it: no writer changes it, and a scan reads it a chunk at a
/// time (each refill an O(log n) lookup of the pairs after the last key returned).
struct Snapshot(Arc<BTreeMap<Bytes, Bytes>>);

impl ChunkSource for Snapshot {
    fn fetch(
        &mut self,
        from: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
        out: &mut VecDeque<(Bytes, Bytes)>,
    ) -> Result<()> {
        let owned = |b: Bound<&[u8]>| b.map(<[u8]>::to_vec);
        // An ordered map's range() panics on empty or inverted bounds.
        if KeyRange::new(owned(from), owned(end)).is_empty() {
            return Ok(());
        }
        let pairs = self.0.range::<[u8], _>((from, end)).take(limit);
        out.extend(pairs.map(|(k, v)| (k.clone(), v.clone())));
        Ok(())
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
        let mut guard = self.map.write();
        let map = Arc::make_mut(&mut guard);
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
        let snapshot = Snapshot(Arc::clone(&self.map.read()));
        Ok(Box::new(ChunkedScan::new(snapshot, range)))
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
