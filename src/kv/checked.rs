//! [`Checked`]: the front every store is opened behind.
//!
//! It does the two things that must be the same for every engine, so that no engine can
//! get them wrong on its own: it enforces the key and value limits (bad input is
//! `Error::InvalidArgument` before the engine sees it), and it counts the user bytes that
//! amplification is measured against.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use bytes::Bytes;

use super::{KeyRange, KvStore, ScanIter, Stats, WriteBatch, limits};
use crate::error::Result;

/// A [`KvStore`] that checks arguments and counts user bytes, then forwards to `S`.
#[derive(Debug)]
pub struct Checked<S> {
    inner: S,
    user_bytes_written: AtomicU64,
    user_bytes_read: AtomicU64,
}

impl<S: KvStore> Checked<S> {
    /// Puts `inner` behind the front.
    pub fn new(inner: S) -> Self {
        Checked {
            inner,
            user_bytes_written: AtomicU64::new(0),
            user_bytes_read: AtomicU64::new(0),
        }
    }

    /// The engine itself, for engine-specific calls (integrity checks, manual compaction).
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: KvStore> KvStore for Checked<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        limits::check_key(key)?;
        let value = self.inner.get(key)?;
        if let Some(v) = &value {
            self.user_bytes_read
                .fetch_add((key.len() + v.len()) as u64, Relaxed);
        }
        Ok(value)
    }

    fn write(&self, batch: &WriteBatch) -> Result<()> {
        batch.validate()?;
        self.inner.write(batch)?;
        self.user_bytes_written
            .fetch_add(batch.user_bytes(), Relaxed);
        Ok(())
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        limits::check_key(key)?;
        limits::check_value(value)?;
        self.inner.put(key, value)?;
        self.user_bytes_written
            .fetch_add((key.len() + value.len()) as u64, Relaxed);
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        limits::check_key(key)?;
        self.inner.delete(key)?;
        self.user_bytes_written.fetch_add(key.len() as u64, Relaxed);
        Ok(())
    }

    fn scan(&self, range: KeyRange) -> Result<ScanIter<'_>> {
        // Engines never see an empty or inverted range.
        if range.is_empty() {
            return Ok(Box::new(std::iter::empty()));
        }
        let inner = self.inner.scan(range)?;
        Ok(Box::new(CountingScan {
            inner,
            bytes: 0,
            total: &self.user_bytes_read,
        }))
    }

    fn sync(&self) -> Result<()> {
        self.inner.sync()
    }

    fn settle(&self) -> Result<()> {
        self.inner.settle()
    }

    fn stats(&self) -> Stats {
        let mut stats = self.inner.stats();
        stats.user_bytes_written = self.user_bytes_written.load(Relaxed);
        stats.user_bytes_read = self.user_bytes_read.load(Relaxed);
        stats
    }

    fn disk_usage(&self) -> Result<u64> {
        self.inner.disk_usage()
    }

    fn check(&self) -> Result<()> {
        self.inner.check()
    }
}

/// Counts the bytes a scan returns; adds them to the store's total when dropped, so a scan
/// costs one atomic add, not one per entry.
struct CountingScan<'a> {
    inner: ScanIter<'a>,
    bytes: u64,
    total: &'a AtomicU64,
}

impl Iterator for CountingScan<'_> {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.inner.next()?;
        if let Ok((k, v)) = &item {
            self.bytes += (k.len() + v.len()) as u64;
        }
        Some(item)
    }
}

impl Drop for CountingScan<'_> {
    fn drop(&mut self) {
        self.total.fetch_add(self.bytes, Relaxed);
    }
}
