//! The B+tree store: the state readers and the writer share, and the commit path.
//! Readers' snapshots are in snapshot.rs, the WAL index in wal_index.rs, the end of a WAL
//! cycle and its checkpoint in checkpoint.rs, opening in recovery.rs; the whole story is
//! told here.
//!
//! # Files in the store directory
//!
//! ```text
//! KVLAB         identity file (engine "btree")
//! btree.db      the database file: page 0 the header, then pages (pager.rs, page.rs)
//! btree.wal.0   the write-ahead log of committed transactions (wal.rs), even cycles
//! btree.wal.1   the same, odd cycles
//! ```
//!
//! # A write
//!
//! One writer at a time (a mutex). The writer starts a [`Txn`] on the newest snapshot,
//! applies the batch to copies of the pages it touches, then appends one WAL record with
//! the new header and, for every page it changed, the bytes that changed (a delta against
//! the page before), and syncs it (with `Durability::Sync`). Only then does it put the new
//! pages into the WAL index, in memory, and publish the new snapshot: readers never see
//! part of a batch.
//!
//! # A read
//!
//! A reader takes the newest snapshot: the header as of one commit, the WAL cycle, and how
//! far into the WAL that commit reached. Page `n` is the newest image of it that a commit
//! before that point left in the index, if any, else page `n` of the database file. A scan
//! holds its snapshot to the end, so it sees one state while the writer goes on. The index
//! keeps an older image of a page only while a snapshot that sees it is open: one image per
//! page and older snapshot, however many commits change the page meanwhile.
//!
//! # A checkpoint
//!
//! The log is written in cycles, each in one of two files by turns (cycle `c` in
//! `btree.wal.{c % 2}`). When the cycle being written passes `wal_limit` bytes, or the
//! images it holds in memory pass `dirty_limit`, it ends: it is synced and frozen, the
//! next commits go to a new cycle in the other file, and a checkpoint writes the frozen
//! cycle's newest image of every page into the database file, syncs it, writes the
//! header naming the next cycle, and syncs again — on a thread of its own
//! (`background_checkpoints`) while commits go on, else in the commit that ended the
//! cycle. A cycle ends only once the last checkpoint is done, since the next one is
//! written over the file of the cycle that checkpoint writes out. `settle` ends the cycle
//! whatever its size, waits for its checkpoint, and empties both files.
//!
//! A crash at any point leaves either the frozen cycle (replayed again onto whatever the
//! checkpoint left in the file: see wal.rs for why that is sound) or a synced database
//! file. Overwriting the database file would pull pages from under a reader of a snapshot
//! older than the frozen cycle's end, so before it writes, the checkpoint pins for each
//! such snapshot the version it sees of every page about to be written (an older image, or
//! the file's page as it is), under the snapshot's lock, which a reader holds for the
//! length of each get or scan step. A held reader therefore never holds the WAL back; it
//! costs the memory of one version of each page changed since its snapshot, at most the
//! tree's size. A scan whose snapshot gained pins seeks its place again, since the page
//! under its cursor may be a view of the mapped file that was written over.
//!
//! # Recovery
//!
//! The database file's header names cycle `c`. Read the intact records of cycle `c`, then
//! of cycle `c + 1` in the other file (a torn tail is cut off; records of other cycles end
//! a file's log); the newest commit's header is the state. Each page's deltas are applied
//! in order onto the database file's page (or zeros), cycle `c` first, and every page a
//! cycle changed is checked as that cycle leaves it and goes into the index. With records
//! of both, cycle `c` is checkpointed before the store opens. No records: the database
//! file's header is the state.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use super::BTreeOptions;
use super::page::HEADER;
use super::pager::DbHeader;
use super::tree;
use super::txn::Txn;
use super::vacuum;
use super::wal::Changed;
use super::wal::{self, WalWriter};
use crate::error::{Error, Result};
use crate::identity::StoreDir;
use crate::kv::{BatchOp, Durability, KeyRange, KvStore, ScanIter, Stats, WriteBatch};
use crate::vfs::{self};

use super::{shared::*, snapshot::*, view::*};

pub(super) struct Writer {
    /// The WAL files' writers: cycle `c` appends to `logs[c % 2]`.
    pub(super) logs: [WalWriter; 2],
    /// The cycle being written.
    pub(super) cycle: u64,
    /// The buffer commit records are encoded in, kept from one commit to the next.
    pub(super) record: Vec<u8>,
    /// The background checkpoint of the cycle before, until it is waited for.
    pub(super) checkpoint: Option<std::thread::JoinHandle<Result<()>>>,
}

impl Writer {
    /// The writer of the cycle being written.
    pub(super) fn log(&mut self) -> &mut WalWriter {
        &mut self.logs[wal::file_of(self.cycle)]
    }

    /// Appends a commit record to the cycle being written (see
    /// [`WalWriter::append_commit`]).
    pub(super) fn append_commit(
        &mut self,
        header: &DbHeader,
        pages: &mut [Changed],
    ) -> Result<u64> {
        let log = &mut self.logs[wal::file_of(self.cycle)];
        let appended = log.append_commit(&mut self.record, header, pages);
        if self.record.capacity() > KEEP_RECORD_BUFFER {
            self.record = Vec::new();
        }
        appended
    }
}

/// A record buffer grown past this by a huge commit is not kept for the next.
pub(super) const KEEP_RECORD_BUFFER: usize = 32 << 20;

/// The B+tree engine.
pub struct BTree {
    pub(super) shared: Arc<Shared>,
    pub(super) writer: Mutex<Writer>,
    pub(super) opts: BTreeOptions,
    pub(super) durability: Durability,
    pub(super) _lock: StoreDir,
}

impl std::fmt::Debug for BTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BTree")
            .field("dir", &self.shared.dir)
            .finish()
    }
}

impl BTree {
    pub(super) fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.shared.current.read())
    }

    pub(super) fn check_writable(&self) -> Result<()> {
        match &*self.shared.poisoned.lock() {
            Some(why) => Err(Error::Poisoned(why.clone())),
            None => Ok(()),
        }
    }

    pub(super) fn poison(&self, e: &Error) -> Error {
        self.shared.poison(e)
    }

    /// Appends a transaction's record to the WAL, syncs it if asked, and publishes it.
    pub(super) fn commit(
        &self,
        w: &mut Writer,
        generation: u64,
        mut header: DbHeader,
        mut changed: Vec<Changed>,
    ) -> Result<()> {
        header.txn += 1;
        let at = match w.append_commit(&header, &mut changed) {
            Ok(at) => at,
            // Refused before a byte was written.
            Err(e @ Error::InvalidArgument(_)) => return Err(e),
            Err(e) => return Err(self.poison(&e)),
        };
        if self.durability == Durability::Sync
            && let Err(e) = w.log().sync()
        {
            return Err(self.poison(&e));
        }
        let numbers: Vec<u64> = changed.iter().map(|c| c.page.number).collect();
        {
            let mut index = self.shared.index.write();
            for Changed { page, .. } in changed {
                index.active.add(at, page);
            }
        }
        let end = w.log().len();
        self.publish(generation, end, header);
        let held = self.forget_unseen_images(generation, &numbers);
        let c = &self.shared.counters;
        c.commits.fetch_add(1, Ordering::Relaxed);
        c.wal_frames
            .fetch_add(numbers.len() as u64, Ordering::Relaxed);
        let held_bytes = held as u64 * self.shared.pager.page_size() as u64;
        if (end > self.opts.wal_limit || held_bytes > self.opts.dirty_limit)
            && let Err(e) = self.end_cycle(w, self.opts.background_checkpoints)
        {
            // The batch is committed and published: its write succeeded, whatever becomes
            // of the checkpoint after it. The failure poisons the store, so the next write
            // or sync reports it (and `stats` shows it).
            self.poison(&e);
        }
        Ok(())
    }

    /// Drops the older images of pages `numbers`, just changed in cycle `generation`, that
    /// no live snapshot can see; returns how many images the cycle holds now.
    pub(super) fn forget_unseen_images(&self, generation: u64, numbers: &[u64]) -> usize {
        // (`publish` has just let go of the dropped ones.)
        let ends = self.shared.snapshot_ends(generation);
        let mut unseen = Vec::new();
        let held = {
            let mut index = self.shared.index.write();
            for &n in numbers {
                index.active.forget(n, &ends, &mut unseen);
            }
            index.active.held
        };
        self.shared.reclaim(unseen);
        held
    }

    /// Makes the state after a commit (or a checkpoint) the one new readers see: `header`,
    /// WAL cycle `generation` up to `end`, and the database file as mapped now.
    pub(super) fn publish(&self, generation: u64, end: u64, header: DbHeader) {
        let snap = Snapshot {
            generation,
            end,
            header,
            map: self.shared.pager.mapping(),
            after_frozen: self.shared.index.read().frozen.is_some(),
            pinned: RwLock::default(),
        };
        let old = std::mem::replace(&mut *self.shared.current.write(), Arc::new(snap));
        let mut retired = self.shared.retired.lock();
        retired.retain(|s| s.strong_count() > 0);
        if Arc::strong_count(&old) > 1 {
            retired.push(Arc::downgrade(&old));
        }
    }

    /// Runs `change` in a transaction on the newest snapshot and commits what it changed
    /// (nothing, if it changed nothing).
    fn transact(
        &self,
        w: &mut Writer,
        change: impl FnOnce(&mut Txn<'_>) -> Result<()>,
    ) -> Result<()> {
        let snap = self.snapshot();
        let view = View {
            shared: &self.shared,
            snap: &snap,
            pinned: None,
        };
        let mut txn = Txn::new(&view, snap.header);
        change(&mut txn)?;
        if txn.dirty.is_empty() && txn.header == snap.header {
            return Ok(());
        }
        let (header, dirty) = txn.finish();
        let generation = snap.generation;
        // Let go of the snapshot: a checkpoint at the end of the commit waits for every
        // older one to be dropped.
        drop(snap);
        self.commit(w, generation, header, dirty)
    }

    /// Commits a vacuum (see [`super::vacuum`]) if enough of the file is free.
    fn vacuum(&self, w: &mut Writer) -> Result<()> {
        self.transact(w, |txn| {
            if vacuum::worth_it(&txn.header) {
                txn.vacuum()?;
            }
            Ok(())
        })
    }

    /// Runs the integrity checker on the newest snapshot (see [`super::check`]).
    pub fn check(&self) -> Result<super::check::Report> {
        let snap = self.snapshot();
        let pinned = snap.pinned.read();
        let view = View {
            shared: &self.shared,
            snap: &snap,
            pinned: Some(&pinned),
        };
        super::check::check(&view, &snap.header)
    }

    /// The header of the newest commit.
    pub fn header(&self) -> DbHeader {
        self.snapshot().header
    }
}

/// The batch's entries if they are all puts in strictly ascending key order (at least
/// two of them).
pub(super) fn sorted_puts(batch: &WriteBatch) -> Option<Vec<(&[u8], &[u8])>> {
    if batch.len() < 2 {
        return None;
    }
    let mut entries: Vec<(&[u8], &[u8])> = Vec::with_capacity(batch.len());
    for op in batch.iter() {
        let BatchOp::Put { key, value } = op else {
            return None;
        };
        if entries.last().is_some_and(|&(last, _)| key <= last) {
            return None;
        }
        entries.push((key, value));
    }
    Some(entries)
}

impl KvStore for BTree {
    fn name(&self) -> &str {
        "btree"
    }

    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let snap = self.snapshot();
        let pinned = snap.pinned.read();
        let view = View {
            shared: &self.shared,
            snap: &snap,
            pinned: Some(&pinned),
        };
        tree::get(&view, snap.header.root, key)
    }

    fn write(&self, batch: &WriteBatch) -> Result<()> {
        self.check_writable()?;
        let mut w = self.writer.lock();
        self.check_writable()?;
        self.transact(&mut w, |txn| {
            let bulk = if txn.header.root == 0 {
                sorted_puts(batch)
            } else {
                None
            };
            match bulk {
                // An empty tree and sorted input: build the tree bottom-up.
                Some(entries) => txn.bulk_load(entries)?,
                None => {
                    for op in batch.iter() {
                        match op {
                            BatchOp::Put { key, value } => txn.put(key, value)?,
                            BatchOp::Delete { key } => {
                                txn.delete(key)?;
                            }
                        }
                    }
                }
            }
            Ok(())
        })
    }

    fn scan(&self, range: KeyRange) -> Result<ScanIter<'_>> {
        let snap = self.snapshot();
        let mut scan = Scan {
            shared: &self.shared,
            snap,
            cursor: None,
            last: None,
            rounds: 0,
            range,
            done: false,
        };
        if scan.range.is_empty() {
            scan.done = true;
        }
        Ok(Box::new(scan))
    }

    fn sync(&self) -> Result<()> {
        self.check_writable()?;
        let mut w = self.writer.lock();
        if let Err(e) = w.log().sync() {
            return Err(self.poison(&e));
        }
        Ok(())
    }

    fn settle(&self) -> Result<()> {
        self.check_writable()?;
        let mut w = self.writer.lock();
        self.wait_for_checkpoint(&mut w)?;
        self.vacuum(&mut w)?;
        // The vacuum's commit may have started a checkpoint, in the background or not: it
        // must have ended, and well (a failed one poisons the store, and the WAL then
        // holds what the file lacks), before the WAL goes and the file is cut.
        self.wait_for_checkpoint(&mut w)?;
        self.check_writable()?;
        if !w.log().is_empty() {
            self.end_cycle(&mut w, false)?;
        }
        // At rest, the store keeps no WAL, and its file no free pages past its end.
        for log in &mut w.logs {
            if let Err(e) = log.truncate() {
                return Err(self.poison(&e));
            }
        }
        let pages = self.header().page_count;
        if !self.shared.a_snapshot_reads_past(pages)
            && let Err(e) = self.shared.pager.shrink(pages)
        {
            return Err(self.poison(&e));
        }
        Ok(())
    }

    fn stats(&self) -> Stats {
        let mut stats = Stats::from_io(self.shared.vfs.counters());
        let h = self.header();
        let (hits, misses, swept) = self.shared.pager.pool_counters();
        let c = &self.shared.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        stats.engine = vec![
            ("height".to_string(), h.height),
            ("page_size".into(), u64::from(h.page_size)),
            ("pages".into(), h.page_count),
            ("leaf_pages".into(), h.leaves),
            ("internal_pages".into(), h.internals),
            ("overflow_pages".into(), h.overflows),
            ("free_pages".into(), h.free_count),
            ("entries".into(), h.entries),
            (
                "average_fill_percent".into(),
                (h.leaves + h.internals)
                    .checked_mul(u64::from(h.page_size) - HEADER as u64)
                    .filter(|&room| room > 0)
                    .map_or(0, |room| h.tree_bytes * 100 / room),
            ),
            ("pool_hits".into(), hits),
            ("pool_misses".into(), misses),
            ("pool_frames_swept".into(), swept),
            ("commits".into(), load(&c.commits)),
            ("wal_frames".into(), load(&c.wal_frames)),
            ("wal_bytes".into(), self.writer.lock().log().len()),
            ("checkpoints".into(), load(&c.checkpoints)),
            (
                "checkpoint_bytes".into(),
                load(&c.checkpoint_pages) * u64::from(h.page_size),
            ),
            ("wal_images".into(), self.shared.images_held() as u64),
            ("pinned_pages".into(), self.shared.pinned_pages() as u64),
            (
                "poisoned".into(),
                u64::from(self.shared.poisoned.lock().is_some()),
            ),
        ];
        stats
    }

    fn disk_usage(&self) -> Result<u64> {
        vfs::dir_size(self.shared.vfs.as_ref(), &self.shared.dir)
    }

    fn check(&self) -> Result<()> {
        BTree::check(self).map(|_| ())
    }
}

impl Drop for BTree {
    fn drop(&mut self) {
        let mut w = self.writer.lock();
        // The checkpoint's thread writes the files: it ends before the store lets go of
        // its directory. (A failure of it has poisoned the store; the WAL keeps all.)
        let _ = self.wait_for_checkpoint(&mut w);
        if self.durability == Durability::Buffered && self.shared.poisoned.lock().is_none() {
            // Best effort: a clean close keeps buffered writes.
            let _ = w.log().sync();
        }
    }
}
