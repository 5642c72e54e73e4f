//! The B+tree store: snapshots, commit, checkpoint and recovery.
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

use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use super::BTreeOptions;
use super::access::PageRead;
use super::page::{HEADER, Page, PageBuf};
use super::pager::{self, DbHeader, Mapped, Pager};
use super::tree::{self, Cursor, Txn};
use super::wal::Changed;
use super::wal::{self, WalWriter};
use crate::error::{Error, Result};
use crate::format::intmap::IntMap;
use crate::identity::{self, StoreDir};
use crate::kv::{
    BatchOp, Durability, KeyRange, KvStore, Options, ScanIter, Stats, WriteBatch, scan_item,
};
use crate::vfs::{self, Counted, FileKind, Vfs};

/// The on-disk format version of the B+tree's files.
pub const FORMAT: u32 = 3;
/// The database file's name.
pub const DB_FILE: &str = "btree.db";
/// The WAL files' names: cycle `c` is written in `WAL_FILES[c % 2]`.
pub const WAL_FILES: [&str; 2] = ["btree.wal.0", "btree.wal.1"];

/// The WAL file of cycle `cycle`.
pub fn wal_file(cycle: u64) -> &'static str {
    WAL_FILES[wal::file_of(cycle)]
}

/// The committed images of the pages one WAL cycle changed, kept in memory until a
/// checkpoint has written them into the database file (the WAL holds only deltas).
struct CycleIndex {
    /// The cycle; snapshots carry it.
    generation: u64,
    /// Page number → its images in this cycle.
    pages: IntMap<u64, Images>,
    /// Images held, all pages together.
    held: usize,
}

/// The WAL index: the cycle being written, and the one before it while a checkpoint
/// copies it into the database file.
struct WalIndex {
    active: CycleIndex,
    frozen: Option<CycleIndex>,
}

/// One committed image of a page: the page as the commit whose record starts at WAL
/// offset `at` left it.
struct Image {
    at: u64,
    page: Arc<Page>,
}

/// The images of one page: the newest kept in line, since nearly every lookup wants it (a
/// reader of the newest snapshot, the writer), and older ones while a reader of an older
/// snapshot may want them.
struct Images {
    newest: Image,
    /// Older images, oldest first.
    older: Vec<Image>,
}

impl CycleIndex {
    fn new(generation: u64) -> CycleIndex {
        CycleIndex {
            generation,
            pages: IntMap::default(),
            held: 0,
        }
    }

    /// The newest image of page `n` committed by a record that starts before `end`.
    fn find(&self, n: u64, end: u64) -> Option<&Arc<Page>> {
        let images = self.pages.get(&n)?;
        if images.newest.at < end {
            return Some(&images.newest.page);
        }
        let i = images.older.partition_point(|o| o.at < end);
        (i > 0).then(|| &images.older[i - 1].page)
    }

    /// Adds page `page`'s image as the commit whose record starts at `at` left it.
    fn add(&mut self, at: u64, page: Arc<Page>) {
        self.held += 1;
        let image = Image { at, page };
        match self.pages.entry(image.page.number) {
            Entry::Vacant(e) => {
                e.insert(Images {
                    newest: image,
                    older: Vec::new(),
                });
            }
            Entry::Occupied(e) => {
                let images = e.into_mut();
                let old = std::mem::replace(&mut images.newest, image);
                images.older.push(old);
            }
        }
    }

    /// Moves to `unseen` the older images of page `n` that no snapshot of this cycle
    /// ending at one of `ends` (sorted) can see: each sees the newest image committed
    /// before its end, and the newest image is always kept. A reader that holds an old
    /// snapshot keeps one image of a page for itself, however many commits change it.
    fn forget(&mut self, n: u64, ends: &[u64], unseen: &mut Vec<Arc<Page>>) {
        let Some(images) = self.pages.get_mut(&n) else {
            return;
        };
        if images.older.is_empty() {
            return;
        }
        let before = images.older.len();
        let mut next_at: Vec<u64> = images.older.iter().skip(1).map(|o| o.at).collect();
        next_at.push(images.newest.at);
        let mut older = std::mem::take(&mut images.older).into_iter().zip(next_at);
        images.older = older
            .by_ref()
            .filter_map(|(image, next)| {
                // Seen by a snapshot that ends after it and no later than the next image.
                let first_after = ends.partition_point(|&e| e <= image.at);
                if ends.get(first_after).is_some_and(|&e| e <= next) {
                    Some(image)
                } else {
                    unseen.push(image.page);
                    None
                }
            })
            .collect();
        self.held -= before - images.older.len();
    }

    /// [`CycleIndex::forget`] for every page.
    fn forget_all(&mut self, ends: &[u64], unseen: &mut Vec<Arc<Page>>) {
        let numbers: Vec<u64> = self.pages.keys().copied().collect();
        for n in numbers {
            self.forget(n, ends, unseen);
        }
    }

    /// Each page's newest image, by page number.
    fn newest(&self) -> Vec<Arc<Page>> {
        let mut newest: Vec<Arc<Page>> = self
            .pages
            .values()
            .map(|images| Arc::clone(&images.newest.page))
            .collect();
        newest.sort_unstable_by_key(|p| p.number);
        newest
    }
}

impl WalIndex {
    /// The image of page `n` a snapshot of cycle `generation` up to `end` sees; `None` if
    /// it sees the database file's page. A snapshot of the cycle being written sees all
    /// of the frozen one under its own.
    fn find(&self, generation: u64, end: u64, n: u64) -> Option<Arc<Page>> {
        if self.active.generation == generation {
            if let Some(page) = self.active.find(n, end) {
                return Some(Arc::clone(page));
            }
            return self.frozen.as_ref()?.find(n, u64::MAX).cloned();
        }
        let frozen = self
            .frozen
            .as_ref()
            .filter(|f| f.generation == generation)?;
        frozen.find(n, end).cloned()
    }
}

/// One WAL cycle as recovery reads it.
struct CycleLog {
    commits: Vec<wal::Commit>,
    /// Where its intact records end.
    valid: u64,
    /// The file's bytes and path.
    bytes: Bytes,
    path: PathBuf,
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
    /// Whether a frozen cycle was being checkpointed when this snapshot was taken (if not,
    /// a snapshot at the start of its cycle sees no WAL image at all).
    after_frozen: bool,
    /// Pages as this snapshot sees them that a checkpoint has since written over in the
    /// database file (or whose WAL image it let go of). A reader holds the lock for the
    /// length of one operation; a checkpoint takes it to pin pages before it writes.
    pinned: RwLock<Pinned>,
}

/// The pages a checkpoint kept for one older snapshot (see [`Shared::pin_for_readers`]).
#[derive(Debug, Default)]
struct Pinned {
    pages: IntMap<u64, Arc<Page>>,
    /// Checkpoints that pinned pages: a scan that sees this change finds its place
    /// again, since a page it holds may be a view of the file that was written over.
    rounds: u64,
}

#[derive(Debug, Default)]
struct Counters {
    commits: AtomicU64,
    wal_frames: AtomicU64,
    checkpoints: AtomicU64,
    checkpoint_pages: AtomicU64,
}

/// The most page buffers kept spare (8 MiB of 4 KiB pages).
const SPARE_BUFFERS: usize = 2048;

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
    /// Buffers of images no snapshot sees any more, for the writer's next copies of
    /// pages: a batch of random inserts copies about as many pages as it lets go of,
    /// and reusing their buffers spares the allocator a malloc and a free for each.
    spare: Mutex<Vec<Vec<u8>>>,
    counters: Counters,
}

impl Shared {
    /// Marks the store unwritable after `e`, a failed write or sync, and returns the
    /// error every write gets from now on.
    fn poison(&self, e: &Error) -> Error {
        let mut p = self.poisoned.lock();
        if p.is_none() {
            *p = Some(format!(
                "a write or sync failed ({e}); nothing since the last good sync can be \
                 trusted to be durable, so the store refuses writes until it is reopened"
            ));
        }
        Error::Poisoned(p.clone().unwrap_or_default())
    }

    /// Keeps the buffers of `pages`, images no snapshot sees any more, for the writer's
    /// next copies of pages (up to [`SPARE_BUFFERS`]), unless something still holds
    /// them (a reader, the pool, a value handed out). The rest are freed after the lock
    /// is let go.
    fn reclaim(&self, pages: Vec<Arc<Page>>) {
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

    /// Writes the newest image of each page in frozen WAL cycle `generation` into the
    /// database file, then `header` (which names the next cycle), and lets the frozen
    /// cycle go. A failure poisons the store: the frozen cycle still holds everything,
    /// but after a failed write or sync nothing in the file can be trusted.
    fn checkpoint(&self, generation: u64, header: DbHeader) -> Result<()> {
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
    fn images_held(&self) -> usize {
        let index = self.index.read();
        index.active.held + index.frozen.as_ref().map_or(0, |f| f.held)
    }

    /// Pages checkpoints keep for readers of older snapshots, now.
    fn pinned_pages(&self) -> usize {
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
    fn snapshot_ends(&self, generation: u64) -> Vec<u64> {
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
    fn pin_for_readers(&self, generation: u64, newest: &[Arc<Page>]) -> Result<()> {
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

/// Pages as one snapshot sees them.
struct View<'a> {
    shared: &'a Shared,
    snap: &'a Snapshot,
    /// The snapshot's pinned pages, locked for this view's life; `None` for the writer,
    /// whose snapshot is the newest and never has any.
    pinned: Option<&'a Pinned>,
}

impl View<'_> {
    fn pinned(&self, n: u64) -> Option<&Arc<Page>> {
        self.pinned?.pages.get(&n)
    }

    /// Page `n` in memory of its own, never a view of the mapped file (which a checkpoint
    /// may write over): what a pinned page must be.
    fn fetch_owned(&self, n: u64) -> Result<Arc<Page>> {
        let image = self
            .shared
            .index
            .read()
            .find(self.snap.generation, self.snap.end, n);
        match image {
            Some(page) => Ok(page),
            None => self.shared.pager.read_db_owned(n),
        }
    }

    fn fetch(&self, n: u64, keep: bool) -> Result<Arc<Page>> {
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
        let image = self
            .shared
            .index
            .read()
            .find(self.snap.generation, self.snap.end, n);
        match image {
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
        if self.snap.end > 0 || self.snap.after_frozen {
            let index = self.shared.index.read();
            if index.find(self.snap.generation, self.snap.end, n).is_some() {
                return None;
            }
        }
        self.shared.pager.lend(map, n)
    }

    fn prefetch(&self, n: u64) {
        if self.pinned(n).is_some() {
            return;
        }
        let index = self.shared.index.read();
        let in_wal = index.find(self.snap.generation, self.snap.end, n).is_some();
        if !in_wal && n < self.snap.header.page_count {
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

struct Writer {
    /// The WAL files' writers: cycle `c` appends to `logs[c % 2]`.
    logs: [WalWriter; 2],
    /// The cycle being written.
    cycle: u64,
    /// The buffer commit records are encoded in, kept from one commit to the next.
    record: Vec<u8>,
    /// The background checkpoint of the cycle before, until it is waited for.
    checkpoint: Option<std::thread::JoinHandle<Result<()>>>,
}

impl Writer {
    /// The writer of the cycle being written.
    fn log(&mut self) -> &mut WalWriter {
        &mut self.logs[wal::file_of(self.cycle)]
    }

    /// Appends a commit record to the cycle being written (see
    /// [`WalWriter::append_commit`]).
    fn append_commit(&mut self, header: &DbHeader, pages: &mut [Changed]) -> Result<u64> {
        let log = &mut self.logs[wal::file_of(self.cycle)];
        let appended = log.append_commit(&mut self.record, header, pages);
        if self.record.capacity() > KEEP_RECORD_BUFFER {
            self.record = Vec::new();
        }
        appended
    }
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

        let (db, header_in_file) = open_db_file(vfs.as_ref(), dir, &opts)?;
        let mut created = false;
        for name in WAL_FILES {
            if !vfs.exists(&dir.join(name))? {
                vfs.create(&dir.join(name), FileKind::Wal)?.sync()?;
                created = true;
            }
        }
        if created {
            vfs.sync_dir(dir)?;
        }
        // The file's header says which WAL cycle holds the commits after its state; the
        // cycle after it may have begun in the other file.
        let file_header = header_in_file?;
        let first = file_header.wal_cycle;
        let read_cycle = |cycle: u64| -> Result<CycleLog> {
            let path = dir.join(wal_file(cycle));
            let file = vfs.open(&path, FileKind::Wal)?;
            // Map the WAL rather than read it: it may be hundreds of megabytes.
            let bytes = match file.map()? {
                Some(bytes) => bytes,
                None => Bytes::from(file.read_all()?),
            };
            let (commits, valid) = wal::read_commits(&bytes, &path, cycle)?;
            if let Some(last) = commits.last()
                && last.header.page_size != file_header.page_size
            {
                return Err(Error::corruption(
                    &path,
                    0,
                    format!(
                        "WAL pages of {} bytes, database pages of {}",
                        last.header.page_size, file_header.page_size
                    ),
                ));
            }
            Ok(CycleLog {
                commits,
                valid,
                bytes,
                path,
            })
        };
        let first_log = read_cycle(first)?;
        let next_log = read_cycle(first + 1)?;
        // With commits in the next cycle, the first is the frozen one whose checkpoint a
        // crash cut short.
        let (frozen, active, cycle) = if next_log.commits.is_empty() {
            (None, first_log, first)
        } else {
            (Some(first_log), next_log, first + 1)
        };
        let header = active
            .commits
            .last()
            .or(frozen.as_ref().and_then(|f| f.commits.last()))
            .map_or(file_header, |c| c.header);
        let page_size = header.page_size as usize;
        let pages_in_file = db.len()? / page_size as u64;
        if pages_in_file < file_header.page_count {
            return Err(Error::corruption(
                &db_path,
                0,
                format!(
                    "header says {} pages, the file holds {pages_in_file}",
                    file_header.page_count
                ),
            ));
        }
        // Replay: each page's deltas onto the database file's page (or zeros), the frozen
        // cycle first; every page either cycle changed is checked as the cycle leaves it.
        let mut pages = IntMap::default();
        let mut read_base = |n: u64, buf: &mut [u8]| -> Result<()> {
            if n >= pages_in_file {
                return Err(Error::corruption(
                    &db_path,
                    n * page_size as u64,
                    format!("a WAL delta of page {n}, which the database file does not hold"),
                ));
            }
            db.read_exact_at(buf, n * page_size as u64)
        };
        let mut index_of = |generation: u64, log: &CycleLog| -> Result<CycleIndex> {
            let changed = wal::replay(
                &log.commits,
                &log.bytes,
                &log.path,
                &mut pages,
                page_size,
                &mut read_base,
            )?;
            let mut index = CycleIndex::new(generation);
            for (n, at) in changed {
                let data = pages[&n].clone();
                let page = Page::decode_at(n, data, &log.path, at)?;
                index.add(at, Arc::new(page));
            }
            Ok(index)
        };
        let frozen_index = frozen.as_ref().map(|f| index_of(first, f)).transpose()?;
        let index = WalIndex {
            active: index_of(cycle, &active)?,
            frozen: frozen_index,
        };
        drop(pages);
        let valid = active.valid;
        let frozen_header = frozen
            .as_ref()
            .map(|f| f.commits.last().map_or(file_header, |c| c.header));
        drop((active, frozen));

        let open_wal = |cycle: u64| vfs.open(&dir.join(wal_file(cycle)), FileKind::Wal);
        let active_file = open_wal(cycle)?;
        if valid < active_file.len()? {
            // A torn tail, or records of an earlier cycle: cut them off, so that nothing
            // old is left behind the records to come.
            active_file.truncate(valid)?;
            active_file.sync()?;
        }
        let other_file = open_wal(cycle + 1)?;
        if frozen_header.is_none() && other_file.len()? > 0 {
            // The other file holds a checkpointed cycle, or the torn start of the next
            // one: either way nothing, and nothing of it may be left behind the records
            // the next cycle writes there.
            other_file.truncate(0)?;
            other_file.sync()?;
        }
        let pager = Pager::new(db, page_size, opts.pool_size, opts.mmap_reads)?;
        let map = pager.mapping();
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            vfs,
            pager,
            index: RwLock::new(index),
            current: RwLock::new(Arc::new(Snapshot {
                generation: cycle,
                end: valid,
                header,
                map,
                after_frozen: frozen_header.is_some(),
                pinned: RwLock::default(),
            })),
            retired: Mutex::new(Vec::new()),
            poisoned: Mutex::new(None),
            spare: Mutex::new(Vec::new()),
            counters: Counters::default(),
        });
        if let Some(db_header) = frozen_header {
            // Both cycles have commits: a crash came while the first was checkpointed.
            // Finish that now, so the store opens with one cycle to replay at most.
            shared.checkpoint(
                first,
                DbHeader {
                    wal_cycle: cycle,
                    ..db_header
                },
            )?;
        }
        // Records under 16 KiB grow the file in steps of an eighth of the limit, records
        // over 512 KiB (1 KiB at the tests' tiny sizes, so that their crashes land among
        // the pieces of a record too) go out in pieces.
        let step = (opts.wal_limit / 8).clamp(4096, 1 << 20);
        let spill = (opts.wal_limit / 512).clamp(1 << 10, 512 << 10) as usize;
        let logs = wal::by_file(
            cycle,
            [
                WalWriter::new(active_file, valid, step, spill)?,
                WalWriter::new(other_file, 0, step, spill)?,
            ],
        );
        Ok(BTree {
            shared,
            writer: Mutex::new(Writer {
                logs,
                cycle,
                record: Vec::new(),
                checkpoint: None,
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
        self.shared.poison(e)
    }

    /// Appends a transaction's record to the WAL, syncs it if asked, and publishes it.
    fn commit(
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
    fn forget_unseen_images(&self, generation: u64, numbers: &[u64]) -> usize {
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
    fn publish(&self, generation: u64, end: u64, header: DbHeader) {
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

    /// Ends the WAL cycle being written: syncs and freezes it, starts the next cycle in
    /// the other WAL file, and checkpoints the frozen cycle — on a thread of its own if
    /// `background`, else before returning. A reader of an older snapshot does not hold it
    /// back: the checkpoint first pins, for that snapshot, the pages it would write over.
    fn end_cycle(&self, w: &mut Writer, background: bool) -> Result<()> {
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
    fn wait_for_checkpoint(&self, w: &mut Writer) -> Result<()> {
        match w.checkpoint.take().map(|handle| handle.join()) {
            None | Some(Ok(Ok(()))) => Ok(()),
            // It poisoned the store already.
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => {
                Err(self.poison(&Error::Poisoned("the checkpoint thread panicked".into())))
            }
        }
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
    let mut wal_empty = true;
    for name in WAL_FILES {
        let path = dir.join(name);
        wal_empty &= !vfs.exists(&path)? || vfs.file_len(&path)? == 0;
    }
    if vfs.exists(&db_path)? {
        let db = vfs.open(&db_path, FileKind::Page)?;
        let header = pager::read_header(db.as_ref(), &db_path);
        if header.is_ok() || !wal_empty || db.len()? > 0 {
            return Ok((db, header));
        }
        // An empty file and no WAL: the store was being created when a crash came, before
        // the header page became durable. Start it again.
        drop(db);
        vfs.remove(&db_path)?;
    } else if !wal_empty {
        return Err(Error::corruption(
            dir.join(WAL_FILES[0]),
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
        let snap = self.snapshot();
        let view = View {
            shared: &self.shared,
            snap: &snap,
            pinned: None,
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
        if !w.log().is_empty() {
            self.end_cycle(&mut w, false)?;
        }
        // At rest, the store keeps no WAL.
        for log in &mut w.logs {
            if let Err(e) = log.truncate() {
                return Err(self.poison(&e));
            }
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

/// A scan over one snapshot.
struct Scan<'a> {
    shared: &'a Shared,
    snap: Arc<Snapshot>,
    cursor: Option<Cursor>,
    /// The last key handed out, to find the place again.
    last: Option<Bytes>,
    /// The snapshot's pinning rounds the cursor has seen.
    rounds: u64,
    range: KeyRange,
    done: bool,
}

impl Scan<'_> {
    fn step(&mut self) -> Result<Option<(Bytes, Bytes)>> {
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
