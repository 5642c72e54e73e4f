//! [`MemStore`] ("mem"): an ordered map behind a read-write lock.
//!
//! It is the oracle every model test compares the disk engines with, and the no-disk
//! baseline row of every comparison: the cost of the trait, the harness and the ordered
//! map, with no I/O at all. It keeps nothing across a reopen, by design.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use parking_lot::RwLock;

use crate::error::Result;
use crate::kv::{BatchOp, KeyRange, KvStore, Options, ScanIter, Stats, WriteBatch};

/// The in-memory store.
///
/// Thread safety: writers take the write lock for a whole batch, so readers see a batch
/// entirely or not at all. A scan copies its range under the read lock (cheap: keys and
/// values are reference-counted `Bytes`) and iterates the copy, so it is a consistent
/// snapshot and never holds the lock while the caller iterates (a caller may write while
/// iterating). The price is memory proportional to the range.
#[derive(Debug, Default)]
pub struct MemStore {
    map: RwLock<BTreeMap<Bytes, Bytes>>,
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
            // BTreeMap::range panics on inverted bounds.
            return Ok(Box::new(std::iter::empty()));
        }
        let snapshot: Vec<(Bytes, Bytes)> = self
            .map
            .read()
            .range::<[u8], _>(range.as_slices())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Box::new(snapshot.into_iter().map(Ok)))
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
