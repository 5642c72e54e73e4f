//! Ending a WAL cycle and checkpointing it: the frozen cycle's newest images written into
//! the database file, after pinning for each older snapshot the pages it still sees.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use super::page::Page;
use super::pager::DbHeader;
use crate::error::{Error, Result};

use super::{db::*, shared::*, snapshot::*, view::*, wal_index::*};

impl Shared {
    /// Writes the newest image of each page in frozen WAL cycle `generation` into the
    /// database file, then `header` (which names the next cycle), and lets the frozen
    /// cycle go. A failure poisons the store: the frozen cycle still holds everything,
    /// but after a failed write or sync nothing in the file can be trusted.
    pub(super) fn checkpoint(&self, generation: u64, header: DbHeader) -> Result<()> {
        let newest = match &self.index.read().frozen {
            Some(frozen) if frozen.generation == generation => frozen.newest(),
            _ => Vec::new(),
        };
        let pager = &self.pager;
        let result = (|| -> Result<()> {
            self.pin_for_readers(generation, &newest)?;
            // Runs of neighbouring pages go down in one write.
            let mut run: Vec<u8> = Vec::new();
            let mut run_start = 0;
            for (i, page) in newest.iter().enumerate() {
                if run.is_empty() {
                    run_start = page.number;
                }
                run.extend_from_slice(&page.data);
                let next_follows = newest
                    .get(i + 1)
                    .is_some_and(|p| p.number == page.number + 1);
                if !next_follows || run.len() >= 1 << 20 {
                    pager.write_db_at(run_start, &run)?;
                    run.clear();
                }
            }
            // Only once every page is durable may the header say the old cycle is done.
            pager.sync_db()?;
            pager.write_header(&header)?;
            pager.sync_db()?;
            // Let the mapping reach the file's new pages (or map it again) before readers
            // turn to it: until the frozen cycle goes below, they take those from memory.
            pager.remap()
        })();
        if let Err(e) = result {
            return Err(self.poison(&e));
        }
        // The pool first: from here a page of the frozen cycle is read from the file.
        pager.checkpointed(&newest);
        let frozen = self.index.write().frozen.take();
        // Outside the lock: letting go of a cycle's pages takes a while.
        drop(frozen);
        self.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
        self.counters
            .checkpoint_pages
            .fetch_add(newest.len() as u64, Ordering::Relaxed);
        self.reclaim(newest);
        Ok(())
    }
}

impl Shared {
    /// Page images the WAL index holds in memory, both cycles.
    pub(super) fn images_held(&self) -> usize {
        let index = self.index.read();
        index.active.held + index.frozen.as_ref().map_or(0, |f| f.held)
    }

    /// Pages checkpoints keep for readers of older snapshots, now.
    pub(super) fn pinned_pages(&self) -> usize {
        let old: Vec<Arc<Snapshot>> = self
            .retired
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        old.iter().map(|s| s.pinned.read().pages.len()).sum()
    }

    /// Where the older snapshots of cycle `generation` that readers still hold end, in
    /// order.
    pub(super) fn snapshot_ends(&self, generation: u64) -> Vec<u64> {
        let mut retired = self.retired.lock();
        retired.retain(|s| s.strong_count() > 0);
        let mut ends: Vec<u64> = retired
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|s| s.generation == generation)
            .map(|s| s.end)
            .collect();
        drop(retired);
        ends.sort_unstable();
        ends.dedup();
        ends
    }

    /// Before a checkpoint of cycle `generation` writes `newest` into the database file:
    /// keeps, for each reader's older snapshot that sees another version of one of those
    /// pages (an older image of the cycle, or the file's page as it is now), that version,
    /// so that the checkpoint need not wait for the reader to finish.
    pub(super) fn pin_for_readers(&self, generation: u64, newest: &[Arc<Page>]) -> Result<()> {
        let old: Vec<Arc<Snapshot>> = self
            .retired
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|s| s.generation <= generation)
            .collect();
        for snap in old {
            let mut pinned = snap.pinned.write();
            let view = View {
                shared: self,
                snap: &snap,
                pinned: None,
            };
            let before = pinned.pages.len();
            for page in newest {
                let n = page.number;
                if n >= snap.header.page_count || pinned.pages.contains_key(&n) {
                    continue;
                }
                let seen = view.fetch_owned(n)?;
                if !Arc::ptr_eq(&seen, page) {
                    pinned.pages.insert(n, seen);
                }
            }
            if pinned.pages.len() > before {
                pinned.rounds += 1;
            }
        }
        Ok(())
    }
}

impl BTree {
    /// Ends the WAL cycle being written: syncs and freezes it, starts the next cycle in
    /// the other WAL file, and checkpoints the frozen cycle — on a thread of its own if
    /// `background`, else before returning. A reader of an older snapshot does not hold it
    /// back: the checkpoint first pins, for that snapshot, the pages it would write over.
    pub(super) fn end_cycle(&self, w: &mut Writer, background: bool) -> Result<()> {
        // The next cycle is written over the file the last checkpoint copies from.
        self.wait_for_checkpoint(w)?;
        // The images must be durable in the WAL before any of them lands in the file:
        // a crash may keep a page written below and drop an unsynced WAL record.
        if let Err(e) = w.log().sync() {
            return Err(self.poison(&e));
        }
        let frozen = w.cycle;
        let next = frozen + 1;
        let ends = self.shared.snapshot_ends(frozen);
        let mut unseen = Vec::new();
        {
            let mut index = self.shared.index.write();
            let mut cycle = std::mem::replace(&mut index.active, CycleIndex::new(next));
            // Older images stay only while a reader's snapshot sees them, until the
            // checkpoint pins them for it.
            cycle.forget_all(&ends, &mut unseen);
            index.frozen = Some(cycle);
        }
        self.shared.reclaim(unseen);
        w.cycle = next;
        w.log().restart();
        let header = DbHeader {
            wal_cycle: next,
            ..self.snapshot().header
        };
        self.publish(next, 0, header);
        if background {
            let shared = Arc::clone(&self.shared);
            let thread = std::thread::Builder::new()
                .name("btree-checkpoint".into())
                .spawn(move || shared.checkpoint(frozen, header));
            match thread {
                Ok(handle) => w.checkpoint = Some(handle),
                // No thread to be had: do the work here.
                Err(_) => self.shared.checkpoint(frozen, header)?,
            }
        } else {
            self.shared.checkpoint(frozen, header)?;
        }
        Ok(())
    }

    /// Waits for the background checkpoint, if one is running, and reports how it went.
    pub(super) fn wait_for_checkpoint(&self, w: &mut Writer) -> Result<()> {
        match w.checkpoint.take().map(|handle| handle.join()) {
            None | Some(Ok(Ok(()))) => Ok(()),
            // It poisoned the store already.
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => {
                Err(self.poison(&Error::Poisoned("the checkpoint thread panicked".into())))
            }
        }
    }
}
