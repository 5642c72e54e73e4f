//! The B+tree store: snapshots, commit, checkpoint and recovery.
//!
//! # Files in the store directory
//!
//! ```text
//! KVLAB       identity file (engine "btree")
//! btree.db    the database file: page 0 the header, then pages (pager.rs, page.rs)
//! btree.wal   the write-ahead log of committed transactions (wal.rs)
//! ```
//!
//! # A write
//!
//! One writer at a time (a mutex). The writer starts a [`Txn`] on the newest snapshot,
//! applies the batch, then appends one WAL record with the new header and the image of
//! every page it changed, and syncs it (with `Durability::Sync`). Only then does it put
//! the images' WAL offsets into the WAL index and publish the new snapshot: readers never
//! see part of a batch.
//!
//! # A read
//!
//! A reader takes the newest snapshot: the header as of one commit, the WAL generation,
//! and how far into the WAL that commit reached. Page `n` is its newest image in the WAL
//! before that point, if any, else page `n` of the database file. A scan holds its
//! snapshot to the end, so it sees one state while the writer goes on.
//!
//! # A checkpoint
//!
//! When the WAL passes `wal_limit` bytes, and in `settle`: sync the WAL, write the newest
//! image of every page in it into the database file, write the header, sync the file,
//! start a new WAL generation (the index empties), and truncate the WAL. A crash at any
//! point leaves either the old WAL (replayed again: images are whole pages, so replaying
//! twice is harmless) or a synced database file. Overwriting the database file would pull
//! pages from under a reader of an older snapshot, so a checkpoint waits until none is
//! open (it is skipped, and tried again after a later commit).
//!
//! # Recovery
//!
//! Read the WAL's intact records (a torn tail is cut off); the newest commit's header is
//! the state, and every image in them goes back into the index. No WAL records: the
//! database file's header is the state.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use super::BTreeOptions;
use super::page::{HEADER, Page};
use super::pager::{self, DbHeader, Mapped, Pager};
use super::tree::{self, Cursor, PageRead, Txn};
use super::wal::{self, WalWriter};
use crate::error::{Error, Result};
use crate::identity::{self, StoreDir};
use crate::kv::{
    BatchOp, Durability, KeyRange, KvStore, Options, ScanIter, Stats, WriteBatch, scan_item,
};
use crate::lsm::cache::IntMap;
use crate::vfs::{self, Counted, FileKind, Vfs};

/// The on-disk format version of the B+tree's files.
pub const FORMAT: u32 = 1;
/// The database file's name.
pub const DB_FILE: &str = "btree.db";
/// The WAL's name.
pub const WAL_FILE: &str = "btree.wal";

/// Where the newest committed image of each page sits in the WAL.
struct WalIndex {
    /// Changes at every checkpoint; pool entries and snapshots carry it.
    generation: u64,
    /// Page number → file offsets of its images.
    pages: IntMap<u64, Images>,
}

/// The WAL offsets of one page's images: the newest kept in line, since nearly every
/// lookup wants it (a reader of the newest snapshot, the writer), the older ones behind.
#[derive(Default)]
struct Images {
    newest: u64,
    /// Older images, oldest first.
    older: Vec<u64>,
}

impl Images {
    /// Adds a newer image. (No image starts at offset 0: a record header comes first,
    /// so 0 means none yet.)
    fn push(&mut self, offset: u64) {
        if self.newest != 0 {
            self.older.push(self.newest);
        }
        self.newest = offset;
    }
}

impl WalIndex {
    /// The newest image of page `n` that starts before `end`.
    fn find(&self, n: u64, end: u64) -> Option<u64> {
        let images = self.pages.get(&n)?;
        if images.newest < end {
            return Some(images.newest);
        }
        let i = images.older.partition_point(|&o| o < end);
        (i > 0).then(|| images.older[i - 1])
    }

    fn add(&mut self, n: u64, offset: u64) {
        self.pages.entry(n).or_default().push(offset);
    }
}

/// What a reader sees: the state after one commit.
#[derive(Debug)]
struct Snapshot {
    generation: u64,
    /// WAL bytes up to the end of this commit's record.
    end: u64,
    header: DbHeader,
    /// The mapped database file (mmap read mode), as mapped when this snapshot was taken:
    /// searches read its pages in place.
    map: Option<Arc<Mapped>>,
}

#[derive(Debug, Default)]
struct Counters {
    commits: AtomicU64,
    wal_frames: AtomicU64,
    checkpoints: AtomicU64,
    checkpoint_pages: AtomicU64,
    checkpoints_deferred: AtomicU64,
}

/// What readers and the writer share.
struct Shared {
    dir: PathBuf,
    vfs: Arc<Counted>,
    pager: Pager,
    index: RwLock<WalIndex>,
    current: RwLock<Arc<Snapshot>>,
    /// Snapshots replaced by newer ones; a checkpoint waits until all are dropped.
    retired: Mutex<Vec<Weak<Snapshot>>>,
    /// Set when a WAL append or a sync failed.
    poisoned: Mutex<Option<String>>,
    counters: Counters,
}

/// Pages as one snapshot sees them.
struct View<'a> {
    shared: &'a Shared,
    snap: &'a Snapshot,
}

impl View<'_> {
    fn fetch(&self, n: u64, keep: bool) -> Result<Arc<Page>> {
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
        {
            // Hold the index while reading from the WAL: a checkpoint starts the next
            // cycle only under the write lock.
            let index = self.shared.index.read();
            if index.generation == self.snap.generation
                && let Some(offset) = index.find(n, self.snap.end)
            {
                return self
                    .shared
                    .pager
                    .read_wal(index.generation, offset, n, keep);
            }
        }
        self.shared.pager.read_db(n, keep)
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
        if n >= self.snap.header.page_count {
            return None; // read() says why
        }
        // A snapshot that ends at the WAL's start (just after a checkpoint) has no images.
        if self.snap.end > 0 {
            let index = self.shared.index.read();
            if index.generation == self.snap.generation && index.find(n, self.snap.end).is_some() {
                return None;
            }
        }
        self.shared.pager.lend(map, n)
    }

    fn prefetch(&self, n: u64) {
        let index = self.shared.index.read();
        let in_wal =
            index.generation == self.snap.generation && index.find(n, self.snap.end).is_some();
        if !in_wal && n < self.snap.header.page_count {
            self.shared.pager.prefetch_db(n);
        }
    }

    fn page_size(&self) -> usize {
        self.shared.pager.page_size()
    }
}

struct Writer {
    log: WalWriter,
    /// The buffer commit records are encoded in, kept from one commit to the next.
    record: Vec<u8>,
}

/// A record buffer grown past this by a huge commit is not kept for the next.
const KEEP_RECORD_BUFFER: usize = 32 << 20;

/// The B+tree engine.
pub struct BTree {
    shared: Arc<Shared>,
    writer: Mutex<Writer>,
    opts: BTreeOptions,
    durability: Durability,
    _lock: StoreDir,
}

impl std::fmt::Debug for BTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BTree")
            .field("dir", &self.shared.dir)
            .finish()
    }
}

impl BTree {
    /// Opens or creates the store in `dir`.
    pub fn open(dir: &Path, options: Options) -> Result<BTree> {
        let opts = options.btree.clone();
        opts.validate()?;
        let vfs = Arc::new(Counted::new(options.vfs.clone()));
        let lock = identity::claim(vfs.as_ref(), dir, "btree", FORMAT)?;
        let db_path = dir.join(DB_FILE);
        let wal_path = dir.join(WAL_FILE);

        let (db, header_in_file) = open_db_file(vfs.as_ref(), dir, &opts)?;
        if !vfs.exists(&wal_path)? {
            vfs.create(&wal_path, FileKind::Wal)?.sync()?;
            vfs.sync_dir(dir)?;
        }
        let wal_reader = vfs.open(&wal_path, FileKind::Wal)?;
        // Map the WAL rather than read it: it may be hundreds of megabytes.
        let wal_bytes = match wal_reader.map()? {
            Some(bytes) => bytes,
            None => Bytes::from(wal_reader.read_all()?),
        };
        // The file's header says which WAL cycle holds the commits after its state.
        let file_header = header_in_file?;
        let (commits, valid) = wal::read_commits(&wal_bytes, &wal_path, file_header.wal_cycle)?;
        let header = match commits.last() {
            Some(last) if last.header.page_size != file_header.page_size => {
                return Err(Error::corruption(
                    &wal_path,
                    0,
                    format!(
                        "WAL pages of {} bytes, database pages of {}",
                        last.header.page_size, file_header.page_size
                    ),
                ));
            }
            Some(last) => last.header,
            None => file_header,
        };
        let page_size = header.page_size as usize;
        let pages = db.len()? / page_size as u64;
        if pages < file_header.page_count {
            return Err(Error::corruption(
                &db_path,
                0,
                format!(
                    "header says {} pages, the file holds {pages}",
                    file_header.page_count
                ),
            ));
        }
        let wal_len = wal_bytes.len() as u64;
        // The mapping goes before anything writes the file.
        drop(wal_bytes);
        let writer_file = vfs.open(&wal_path, FileKind::Wal)?;
        if valid < wal_len {
            // A torn tail, or records of an earlier cycle: cut them off, so that nothing
            // old is left behind the records to come.
            writer_file.truncate(valid)?;
            writer_file.sync()?;
        }
        let mut index = WalIndex {
            generation: header.wal_cycle,
            pages: IntMap::default(),
        };
        for commit in &commits {
            for &(n, offset) in &commit.images {
                index.add(n, offset);
            }
        }
        let pager = Pager::new(db, wal_reader, page_size, opts.pool_size, opts.mmap_reads)?;
        let map = pager.mapping();
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            vfs,
            pager,
            index: RwLock::new(index),
            current: RwLock::new(Arc::new(Snapshot {
                generation: header.wal_cycle,
                end: valid,
                header,
                map,
            })),
            retired: Mutex::new(Vec::new()),
            poisoned: Mutex::new(None),
            counters: Counters::default(),
        });
        Ok(BTree {
            shared,
            writer: Mutex::new(Writer {
                log: WalWriter::new(
                    writer_file,
                    valid,
                    (opts.wal_limit / 8).clamp(4096, 1 << 20),
                    // 512 KiB by default; 1 KiB at the tests' tiny sizes, so that their
                    // crashes land among the pieces of a record too.
                    (opts.wal_limit / 512).clamp(1 << 10, 512 << 10) as usize,
                )?,
                record: Vec::new(),
            }),
            opts,
            durability: options.durability,
            _lock: lock,
        })
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.shared.current.read())
    }

    fn check_writable(&self) -> Result<()> {
        match &*self.shared.poisoned.lock() {
            Some(why) => Err(Error::Poisoned(why.clone())),
            None => Ok(()),
        }
    }

    fn poison(&self, e: &Error) -> Error {
        let mut p = self.shared.poisoned.lock();
        if p.is_none() {
            *p = Some(format!(
                "a write or sync failed ({e}); nothing since the last good sync can be \
                 trusted to be durable, so the store refuses writes until it is reopened"
            ));
        }
        Error::Poisoned(p.clone().unwrap_or_default())
    }

    /// Appends a transaction's record to the WAL, syncs it if asked, and publishes it.
    fn commit(
        &self,
        w: &mut Writer,
        generation: u64,
        mut header: DbHeader,
        dirty: IntMap<u64, Arc<Page>>,
    ) -> Result<()> {
        header.txn += 1;
        let mut pages: Vec<Arc<Page>> = dirty.into_values().collect();
        pages.sort_unstable_by_key(|p| p.number);
        let appended = w.log.append_commit(&mut w.record, &header, &mut pages);
        if w.record.capacity() > KEEP_RECORD_BUFFER {
            w.record = Vec::new();
        }
        let offsets = match appended {
            Ok(offsets) => offsets,
            // Refused before a byte was written.
            Err(e @ Error::InvalidArgument(_)) => return Err(e),
            Err(e) => return Err(self.poison(&e)),
        };
        if self.durability == Durability::Sync
            && let Err(e) = w.log.sync()
        {
            return Err(self.poison(&e));
        }
        {
            let mut index = self.shared.index.write();
            for &(n, offset) in &offsets {
                index.add(n, offset);
            }
        }
        for (page, &(_, offset)) in pages.into_iter().zip(&offsets) {
            self.shared.pager.cache_wal(generation, offset, page);
        }
        self.publish(generation, w.log.len(), header);
        let c = &self.shared.counters;
        c.commits.fetch_add(1, Ordering::Relaxed);
        c.wal_frames
            .fetch_add(offsets.len() as u64, Ordering::Relaxed);
        if w.log.len() > self.opts.wal_limit {
            self.checkpoint(w, false)?;
        }
        Ok(())
    }

    /// Makes the state after a commit (or a checkpoint) the one new readers see: `header`,
    /// WAL cycle `generation` up to `end`, and the database file as mapped now.
    fn publish(&self, generation: u64, end: u64, header: DbHeader) {
        let snap = Snapshot {
            generation,
            end,
            header,
            map: self.shared.pager.mapping(),
        };
        let old = std::mem::replace(&mut *self.shared.current.write(), Arc::new(snap));
        let mut retired = self.shared.retired.lock();
        retired.retain(|s| s.strong_count() > 0);
        if Arc::strong_count(&old) > 1 {
            retired.push(Arc::downgrade(&old));
        }
    }

    /// Copies the WAL's newest images into the database file and starts the next WAL
    /// cycle (in an emptied file if `truncate`); false if a reader of an older snapshot
    /// is still open (nothing is done then).
    fn checkpoint(&self, w: &mut Writer, truncate: bool) -> Result<bool> {
        {
            let mut retired = self.shared.retired.lock();
            retired.retain(|s| s.strong_count() > 0);
            if !retired.is_empty() {
                self.shared
                    .counters
                    .checkpoints_deferred
                    .fetch_add(1, Ordering::Relaxed);
                return Ok(false);
            }
        }
        if w.log.is_empty() {
            // Nothing to copy; a WAL file left from the last cycle still goes at rest.
            if truncate && let Err(e) = w.log.truncate() {
                return Err(self.poison(&e));
            }
            return Ok(true);
        }
        // The images must be durable in the WAL before any of them lands in the file:
        // a crash may keep a page written below and drop an unsynced WAL record.
        if let Err(e) = w.log.sync() {
            return Err(self.poison(&e));
        }
        let snap = self.snapshot();
        let mut newest: Vec<(u64, u64)> = self
            .shared
            .index
            .read()
            .pages
            .iter()
            .map(|(&n, images)| (n, images.newest))
            .collect();
        newest.sort_unstable();
        let header = DbHeader {
            wal_cycle: snap.header.wal_cycle + 1,
            ..snap.header
        };
        let pager = &self.shared.pager;
        let result = (|| -> Result<()> {
            // Runs of neighbouring pages go down in one write.
            let mut run: Vec<u8> = Vec::new();
            let mut run_start = 0;
            let wal = pager.map_wal()?;
            for (i, &(n, offset)) in newest.iter().enumerate() {
                if run.is_empty() {
                    run_start = n;
                }
                match &wal {
                    Some(wal) => pager.copy_wal_image(wal, offset, n, &mut run)?,
                    None => {
                        run.extend_from_slice(&pager.peek_wal(snap.generation, offset, n)?.data[..])
                    }
                }
                let next_follows = newest.get(i + 1).is_some_and(|&(m, _)| m == n + 1);
                if !next_follows || run.len() >= 1 << 20 {
                    pager.write_db_at(run_start, &run)?;
                    run.clear();
                }
            }
            // Only once every page is durable may the header say the old cycle is done.
            pager.sync_db()?;
            pager.write_header(&header)?;
            pager.sync_db()
        })();
        if let Err(e) = result {
            // The WAL still holds everything; but after a failed sync nothing written to
            // the file can be trusted, so stop here.
            return Err(self.poison(&e));
        }
        // Map the file again before readers turn to it: until the index empties below,
        // they still take the checkpointed pages from the WAL.
        if let Err(e) = pager.remap() {
            return Err(self.poison(&e));
        }
        {
            let mut index = self.shared.index.write();
            index.generation = header.wal_cycle;
            index.pages.clear();
        }
        pager.checkpointed(snap.generation, &newest);
        if truncate {
            if let Err(e) = w.log.truncate() {
                return Err(self.poison(&e));
            }
        } else {
            w.log.restart();
        }
        self.publish(header.wal_cycle, 0, header);
        let c = &self.shared.counters;
        c.checkpoints.fetch_add(1, Ordering::Relaxed);
        c.checkpoint_pages
            .fetch_add(newest.len() as u64, Ordering::Relaxed);
        Ok(true)
    }

    /// Runs the integrity checker on the newest snapshot (see [`super::check`]).
    pub fn check(&self) -> Result<super::check::Report> {
        let snap = self.snapshot();
        let view = View {
            shared: &self.shared,
            snap: &snap,
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
fn sorted_puts(batch: &WriteBatch) -> Option<Vec<(&[u8], &[u8])>> {
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

/// Opens the database file, creating it for a new store (or one whose creation a crash
/// cut short). Returns the file and what its header page says.
fn open_db_file(
    vfs: &dyn Vfs,
    dir: &Path,
    opts: &BTreeOptions,
) -> Result<(Box<dyn vfs::VfsFile>, Result<DbHeader>)> {
    let db_path = dir.join(DB_FILE);
    let wal_path = dir.join(WAL_FILE);
    if vfs.exists(&db_path)? {
        let db = vfs.open(&db_path, FileKind::Page)?;
        let header = pager::read_header(db.as_ref(), &db_path);
        let wal_empty = !vfs.exists(&wal_path)? || vfs.file_len(&wal_path)? == 0;
        if header.is_ok() || !wal_empty || db.len()? > 0 {
            return Ok((db, header));
        }
        // An empty file and no WAL: the store was being created when a crash came, before
        // the header page became durable. Start it again.
        drop(db);
        vfs.remove(&db_path)?;
    } else if vfs.exists(&wal_path)? && vfs.file_len(&wal_path)? > 0 {
        return Err(Error::corruption(
            &wal_path,
            0,
            "a B+tree WAL without its database file",
        ));
    }
    let db = vfs.create(&db_path, FileKind::Page)?;
    let header = DbHeader::new(opts.page_size as u32);
    db.write_at(&header.encode(), 0)?;
    db.sync()?;
    vfs.sync_dir(dir)?;
    Ok((db, Ok(header)))
}

impl KvStore for BTree {
    fn name(&self) -> &str {
        "btree"
    }

    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let snap = self.snapshot();
        let view = View {
            shared: &self.shared,
            snap: &snap,
        };
        tree::get(&view, snap.header.root, key)
    }

    fn write(&self, batch: &WriteBatch) -> Result<()> {
        self.check_writable()?;
        let mut w = self.writer.lock();
        self.check_writable()?;
        let snap = self.snapshot();
        let view = View {
            shared: &self.shared,
            snap: &snap,
        };
        let mut txn = Txn::new(&view, snap.header);
        let bulk = if snap.header.root == 0 {
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
        if txn.dirty.is_empty() && txn.header == snap.header {
            return Ok(());
        }
        let (header, dirty) = txn.finish();
        let generation = snap.generation;
        // Let go of the snapshot: a checkpoint at the end of the commit waits for every
        // older one to be dropped.
        drop(snap);
        self.commit(&mut w, generation, header, dirty)
    }

    fn scan(&self, range: KeyRange) -> Result<ScanIter<'_>> {
        let snap = self.snapshot();
        let mut scan = Scan {
            shared: &self.shared,
            snap,
            cursor: None,
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
        if let Err(e) = w.log.sync() {
            return Err(self.poison(&e));
        }
        Ok(())
    }

    fn settle(&self) -> Result<()> {
        self.check_writable()?;
        let mut w = self.writer.lock();
        // At rest, the store keeps no WAL.
        self.checkpoint(&mut w, true)?;
        Ok(())
    }

    fn stats(&self) -> Stats {
        let mut stats = Stats::from_io(self.shared.vfs.counters());
        let h = self.header();
        let (hits, misses) = self.shared.pager.pool_hits_and_misses();
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
            ("commits".into(), load(&c.commits)),
            ("wal_frames".into(), load(&c.wal_frames)),
            ("wal_bytes".into(), self.writer.lock().log.len()),
            ("checkpoints".into(), load(&c.checkpoints)),
            (
                "checkpoint_bytes".into(),
                load(&c.checkpoint_pages) * u64::from(h.page_size),
            ),
            ("checkpoints_deferred".into(), load(&c.checkpoints_deferred)),
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
        if self.durability == Durability::Buffered && self.shared.poisoned.lock().is_none() {
            // Best effort: a clean close keeps buffered writes.
            let _ = self.writer.lock().log.sync();
        }
    }
}

/// A scan over one snapshot.
struct Scan<'a> {
    shared: &'a Shared,
    snap: Arc<Snapshot>,
    cursor: Option<Cursor>,
    range: KeyRange,
    done: bool,
}

impl Scan<'_> {
    fn step(&mut self) -> Result<Option<(Bytes, Bytes)>> {
        let view = View {
            shared: self.shared,
            snap: &self.snap,
        };
        let cursor = match &mut self.cursor {
            Some(c) => c,
            None => {
                let (start, after) = match &self.range.start {
                    std::ops::Bound::Included(k) => (Some(k.as_slice()), false),
                    std::ops::Bound::Excluded(k) => (Some(k.as_slice()), true),
                    std::ops::Bound::Unbounded => (None, false),
                };
                self.cursor
                    .insert(Cursor::seek(&view, self.snap.header.root, start, after)?)
            }
        };
        match cursor.next(&view)? {
            Some((k, v)) if self.range.before_end(&k) => Ok(Some((k, v))),
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
