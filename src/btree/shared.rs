//! What readers, the writer and the checkpoint share: the file layer, the pager, the WAL
//! index, the newest snapshot and the older ones readers hold, and the poison flag.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, RwLock};

use super::page::{Page, PageBuf};
use super::pager::Pager;
use crate::error::Error;
use crate::vfs::Counted;

use super::{snapshot::*, wal_index::*};

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) commits: AtomicU64,
    pub(super) wal_frames: AtomicU64,
    pub(super) checkpoints: AtomicU64,
    pub(super) checkpoint_pages: AtomicU64,
}

/// The most page buffers kept spare (8 MiB of 4 KiB pages).
pub(super) const SPARE_BUFFERS: usize = 2048;

/// What readers and the writer share.
pub(super) struct Shared {
    pub(super) dir: PathBuf,
    pub(super) vfs: Arc<Counted>,
    pub(super) pager: Pager,
    pub(super) index: RwLock<WalIndex>,
    pub(super) current: RwLock<Arc<Snapshot>>,
    /// Snapshots replaced by newer ones; a checkpoint waits until all are dropped.
    pub(super) retired: Mutex<Vec<Weak<Snapshot>>>,
    /// Set when a WAL append or a sync failed.
    pub(super) poisoned: Mutex<Option<String>>,
    /// Buffers of images no snapshot sees any more, for the writer's next copies of
    /// pages: a batch of random inserts copies about as many pages as it lets go of,
    /// and reusing their buffers spares the allocator a malloc and a free for each.
    pub(super) spare: Mutex<Vec<Vec<u8>>>,
    pub(super) counters: Counters,
}

impl Shared {
    /// Marks the store unwritable after `e`, a failed write or sync, and returns the
    /// error every write gets from now on.
    pub(super) fn poison(&self, e: &Error) -> Error {
        let mut p = self.poisoned.lock();
        if p.is_none() {
            *p = Some(format!(
                "a write or sync failed ({e}); nothing since the last good sync can be \
                 trusted to be durable, so the store refuses writes until it is reopened"
            ));
        }
        Error::Poisoned(p.clone().unwrap_or_default())
    }

    /// Whether a snapshot a reader still holds counts more than `pages` pages in the file.
    pub(super) fn a_snapshot_reads_past(&self, pages: u64) -> bool {
        let mut retired = self.retired.lock();
        retired.retain(|s| s.strong_count() > 0);
        retired
            .iter()
            .filter_map(Weak::upgrade)
            .any(|s| s.header.page_count > pages)
    }

    /// Keeps the buffers of `pages`, images no snapshot sees any more, for the writer's
    /// next copies of pages (up to [`SPARE_BUFFERS`]), unless something still holds
    /// them (a reader, the pool, a value handed out). The rest are freed after the lock
    /// is let go.
    pub(super) fn reclaim(&self, pages: Vec<Arc<Page>>) {
        let page_size = self.pager.page_size();
        let mut pages = pages.into_iter();
        let mut spare = self.spare.lock();
        while spare.len() < SPARE_BUFFERS
            && let Some(page) = pages.next()
        {
            // (A page of its own bytes: images are kept as the writer made them.)
            if let Some(Page {
                data: PageBuf::Owned(mut buffer),
                ..
            }) = Arc::into_inner(page)
                && buffer.capacity() >= page_size
            {
                buffer.clear();
                spare.push(buffer);
            }
        }
    }
}
