//! Pages as one snapshot sees them (`View`: pinned pages first, then the WAL index, then
//! the database file), and scans over a snapshot.

use std::sync::Arc;

use bytes::Bytes;

use super::access::PageRead;
use super::cursor::Cursor;
use super::page::Page;
use crate::error::{Error, Result};
use crate::kv::{KeyRange, scan_item};

use super::filename::DB_FILE;
use super::{shared::*, snapshot::*};

/// Pages as one snapshot sees them.
pub(super) struct View<'a> {
    pub(super) shared: &'a Shared,
    pub(super) snap: &'a Snapshot,
    /// The snapshot's pinned pages, locked for this view's life; `None` for the writer,
    /// whose snapshot is the newest and never has any.
    pub(super) pinned: Option<&'a Pinned>,
}

impl View<'_> {
    pub(super) fn pinned(&self, n: u64) -> Option<&Arc<Page>> {
        self.pinned?.pages.get(&n)
    }

    /// Page `n` in memory of its own, never a view of the mapped file (which a checkpoint
    /// may write over): what a pinned page must be.
    pub(super) fn fetch_owned(&self, n: u64) -> Result<Arc<Page>> {
        match self.wal_image(n) {
            Some(page) => Ok(page),
            None => self.shared.pager.read_db_owned(n),
        }
    }

    /// The image of page `n` in the WAL index that this snapshot sees, if any.
    fn wal_image(&self, n: u64) -> Option<Arc<Page>> {
        self.shared
            .index
            .read()
            .find(self.snap.generation, self.snap.end, n)
    }

    pub(super) fn fetch(&self, n: u64, keep: bool) -> Result<Arc<Page>> {
        if let Some(page) = self.pinned(n) {
            return Ok(Arc::clone(page));
        }
        if n >= self.snap.header.page_count {
            return Err(Error::corruption(
                self.shared.dir.join(DB_FILE),
                n,
                format!(
                    "a link to page {n} in a database of {} pages",
                    self.snap.header.page_count
                ),
            ));
        }
        match self.wal_image(n) {
            Some(page) => Ok(page),
            None => self.shared.pager.read_db(n, keep),
        }
    }
}

impl PageRead for View<'_> {
    fn read(&self, n: u64) -> Result<Arc<Page>> {
        self.fetch(n, true)
    }

    fn read_uncached(&self, n: u64) -> Result<Arc<Page>> {
        self.fetch(n, false)
    }

    fn lend(&self, n: u64) -> Option<Result<Page<&[u8]>>> {
        let map = self.snap.map.as_deref()?;
        if n >= self.snap.header.page_count || self.pinned(n).is_some() {
            return None; // read() says why, or takes the pinned page
        }
        // A snapshot that ends at the WAL's start (just after a checkpoint) has no images.
        if (self.snap.end > 0 || self.snap.after_frozen) && self.wal_image(n).is_some() {
            return None;
        }
        self.shared.pager.lend(map, n)
    }

    fn prefetch(&self, n: u64) {
        if self.pinned(n).is_some() {
            return;
        }
        if n < self.snap.header.page_count && self.wal_image(n).is_none() {
            self.shared.pager.prefetch_db(n);
        }
    }

    fn page_size(&self) -> usize {
        self.shared.pager.page_size()
    }

    fn page_buffer(&self) -> Vec<u8> {
        let spare = self.shared.spare.lock().pop();
        spare.unwrap_or_else(|| Vec::with_capacity(self.page_size()))
    }
}

/// A scan over one snapshot.
pub(super) struct Scan<'a> {
    pub(super) shared: &'a Shared,
    pub(super) snap: Arc<Snapshot>,
    pub(super) cursor: Option<Cursor>,
    /// The last key handed out, to find the place again.
    pub(super) last: Option<Bytes>,
    /// The snapshot's pinning rounds the cursor has seen.
    pub(super) rounds: u64,
    pub(super) range: KeyRange,
    pub(super) done: bool,
}

impl Scan<'_> {
    pub(super) fn step(&mut self) -> Result<Option<(Bytes, Bytes)>> {
        let pinned = self.snap.pinned.read();
        let view = View {
            shared: self.shared,
            snap: &self.snap,
            pinned: Some(&pinned),
        };
        if pinned.rounds != self.rounds {
            // A checkpoint wrote over pages this snapshot sees (the cursor may hold one,
            // read in place from the mapped file): seek again, through the pinned pages.
            self.rounds = pinned.rounds;
            self.cursor = None;
        }
        let cursor = match &mut self.cursor {
            Some(c) => c,
            None => {
                let (start, after) = match (&self.last, &self.range.start) {
                    (Some(last), _) => (Some(&last[..]), true),
                    (None, std::ops::Bound::Included(k)) => (Some(k.as_slice()), false),
                    (None, std::ops::Bound::Excluded(k)) => (Some(k.as_slice()), true),
                    (None, std::ops::Bound::Unbounded) => (None, false),
                };
                self.cursor
                    .insert(Cursor::seek(&view, self.snap.header.root, start, after)?)
            }
        };
        match cursor.next(&view)? {
            Some((k, v)) if self.range.before_end(&k) => {
                self.last = Some(k.clone());
                Ok(Some((k, v)))
            }
            _ => Ok(None),
        }
    }
}

impl Iterator for Scan<'_> {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let step = self.step();
        scan_item(&mut self.done, step)
    }
}
