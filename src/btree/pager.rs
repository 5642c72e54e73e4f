//! The pager: the database file as numbered pages, its header page, and a buffer pool.
//!
//! # Header page (page 0; see docs/FORMATS.md)
//!
//! ```text
//! offset  size  field
//! 0       8     magic        "KVLABBT\0"
//! 8       4     version      u32 = 1
//! 12      4     page size    u32, a power of two, 512 ..= 65536
//! 16      8     root         u64, page number of the root (0 = empty tree)
//! 24      8     page count   u64, pages in the file including this one
//! 32      8     free head    u64, first page of the free list (0 = none)
//! 40      8     free count   u64, pages on the free list
//! 48      8     transaction  u64, the last committed transaction
//! 56      8     height       u64, levels of the tree (0 = empty, 1 = a root leaf)
//! 64      8     leaves       u64, leaf pages
//! 72      8     internals    u64, internal pages
//! 80      8     overflows    u64, overflow pages
//! 88      8     entries      u64, keys in the tree
//! 96      8     WAL cycle    u64, which use of the WAL file holds the commits after
//!                            this state (only commit records of this cycle count)
//! 104     8     tree bytes   u64, bytes of cells and slots in leaf and internal pages
//!                            (the average fill, without reading the tree)
//! 112     4     checksum     CRC-32 of bytes 0..112
//! 116     ...   zero to the end of the page
//! ```
//!
//! A page lives in one of two places: the database file (page `n` at byte `n · page
//! size`), or, when a transaction since the last checkpoint changed it, in memory, where
//! db.rs keeps each committed image until a checkpoint has written it to the file (the
//! WAL holds only how each commit changed it). The pool caches pages of the file.
//!
//! The buffer pool caches clean pages only, so evicting a page never writes it. A page is
//! pinned while anyone holds its `Arc`: CLOCK skips frames whose `Arc` is shared.

use crate::format::intmap::IntMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use super::page::{MAX_PAGE, MIN_PAGE, Page, PageBuf};
use crate::error::{Error, Result};
use crate::vfs::VfsFile;

const MAGIC: &[u8; 8] = b"KVLABBT\0";
const VERSION: u32 = 1;
/// Bytes of the header's fields and checksum: 8 + 4 + 4 + 8 * 12 + 4.
pub const HEADER_LEN: usize = 8 + 4 + 4 + 8 * 12 + 4;

/// What page 0 says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DbHeader {
    /// Bytes per page.
    pub page_size: u32,
    /// The root page (0: the tree is empty).
    pub root: u64,
    /// Pages in the file, header included.
    pub page_count: u64,
    /// First page of the free list (0: none).
    pub free_head: u64,
    /// Pages on the free list.
    pub free_count: u64,
    /// The last committed transaction.
    pub txn: u64,
    /// Levels of the tree: 0 when empty, 1 for a lone root leaf.
    pub height: u64,
    /// Leaf pages in the tree.
    pub leaves: u64,
    /// Internal pages in the tree.
    pub internals: u64,
    /// Overflow pages holding spilled payloads.
    pub overflows: u64,
    /// Keys in the tree.
    pub entries: u64,
    /// The WAL file is reused after each checkpoint; this counts the uses, and every
    /// commit record carries the cycle it was written in.
    pub wal_cycle: u64,
    /// Bytes of cells and slots in the tree's leaf and internal pages.
    pub tree_bytes: u64,
}

impl DbHeader {
    /// A new, empty database of `page_size`-byte pages.
    pub fn new(page_size: u32) -> Self {
        DbHeader {
            page_size,
            root: 0,
            page_count: 1,
            free_head: 0,
            free_count: 0,
            txn: 0,
            height: 0,
            leaves: 0,
            internals: 0,
            overflows: 0,
            entries: 0,
            wal_cycle: 1,
            tree_bytes: 0,
        }
    }

    fn fields(&self) -> [u64; 12] {
        [
            self.root,
            self.page_count,
            self.free_head,
            self.free_count,
            self.txn,
            self.height,
            self.leaves,
            self.internals,
            self.overflows,
            self.entries,
            self.wal_cycle,
            self.tree_bytes,
        ]
    }

    /// The header page's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.page_size as usize];
        out[0..8].copy_from_slice(MAGIC);
        out[8..12].copy_from_slice(&VERSION.to_le_bytes());
        out[12..16].copy_from_slice(&self.page_size.to_le_bytes());
        for (i, v) in self.fields().iter().enumerate() {
            out[16 + 8 * i..24 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
        let crc = crc32fast::hash(&out[..HEADER_LEN - 4]);
        out[HEADER_LEN - 4..HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and checks the first `HEADER_LEN` bytes of a database file.
    pub fn decode(bytes: &[u8], file: &Path) -> Result<DbHeader> {
        let bad = |at: u64, detail: String| Error::corruption(file, at, detail);
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Err(bad(0, "not a kvlab B+tree file: bad magic".into()));
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let stored = u32_at(HEADER_LEN - 4);
        let computed = crc32fast::hash(&bytes[..HEADER_LEN - 4]);
        if !crate::format::coding::checksum_ok(stored, computed) {
            return Err(bad(
                (HEADER_LEN - 4) as u64,
                format!(
                    "header checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
                ),
            ));
        }
        if u32_at(8) != VERSION {
            return Err(bad(
                8,
                format!("B+tree format {}, this build reads 1", u32_at(8)),
            ));
        }
        let page_size = u32_at(12);
        if !(page_size as usize).is_power_of_two()
            || !(MIN_PAGE..=MAX_PAGE).contains(&(page_size as usize))
        {
            return Err(bad(12, format!("page size {page_size}")));
        }
        let header = DbHeader {
            page_size,
            root: u64_at(16),
            page_count: u64_at(24),
            free_head: u64_at(32),
            free_count: u64_at(40),
            txn: u64_at(48),
            height: u64_at(56),
            leaves: u64_at(64),
            internals: u64_at(72),
            overflows: u64_at(80),
            entries: u64_at(88),
            wal_cycle: u64_at(96),
            tree_bytes: u64_at(104),
        };
        let in_file = |p: u64| p < header.page_count;
        // Counts read from a damaged file may add up past 2^64.
        let counted = [
            header.leaves,
            header.internals,
            header.overflows,
            header.free_count,
        ]
        .into_iter()
        .try_fold(0u64, u64::checked_add);
        if header.page_count == 0
            || (header.root != 0 && !in_file(header.root))
            || (header.free_head != 0 && !in_file(header.free_head))
            || header.free_count >= header.page_count
            || counted.is_none_or(|pages| pages >= header.page_count)
            || (header.root == 0) != (header.height == 0)
        {
            return Err(bad(
                16,
                format!("header points outside the file: {header:?}"),
            ));
        }
        Ok(header)
    }
}

struct Frame {
    number: u64,
    page: Arc<Page>,
    /// Sweeps of the CLOCK hand this frame survives: set on each use to its page's
    /// weight (see [`weight`]), taken down by one at each pass.
    chances: u8,
}

/// How many sweeps a used page survives: internal pages three, the rest one. A random
/// read touches every level once, but there are a hundred leaves per internal page, so
/// plain CLOCK lets the stream of leaves push the internal pages out (measured at 10M
/// keys: 1.55 page reads per cold get); weighted, the upper levels stay.
fn weight(page: &Page) -> u8 {
    if page.kind() == super::page::PageKind::Internal {
        3
    } else {
        1
    }
}

/// A CLOCK cache of clean pages.
///
/// A frame whose page someone else holds (a reader, or a writer's transaction keeping
/// the page as it was before its change) is pinned: the hand passes it by. A batch that
/// changes many pages pins them all until it commits, so the pool may hold no frame to
/// give up; then it grows past its capacity, and gives frames back as the hand finds
/// them cold again. The hand looks at most [`SWEEP`] frames per new page, so a page
/// costs the same however many frames are pinned (a sweep of every frame per page made
/// a batch's time grow with the square of its pages).
struct Pool {
    capacity: usize,
    frames: Vec<Frame>,
    index: IntMap<u64, usize>,
    hand: usize,
    hits: u64,
    misses: u64,
    /// Frames the hand has looked at, all sweeps together.
    swept: u64,
}

/// The most frames the hand looks at for one new page.
const SWEEP: usize = 64;

impl Pool {
    fn get(&mut self, number: u64) -> Option<Arc<Page>> {
        let i = *self.index.get(&number)?;
        let frame = &mut self.frames[i];
        frame.chances = weight(&frame.page);
        Some(Arc::clone(&frame.page))
    }

    /// Puts `page` in a frame.
    fn put(&mut self, number: u64, page: Arc<Page>) {
        // A page just read is on probation: one sweep fewer than after a use.
        let fresh = weight(&page) - 1;
        if let Some(&i) = self.index.get(&number) {
            let frame = Frame {
                number,
                chances: weight(&page),
                page,
            };
            self.frames[i] = frame;
            return;
        }
        let frame = Frame {
            number,
            page,
            chances: fresh,
        };
        if self.frames.len() < self.capacity {
            self.index.insert(number, self.frames.len());
            self.frames.push(frame);
            return;
        }
        match self.victim() {
            Some(i) => {
                self.index.remove(&self.frames[i].number);
                self.index.insert(number, i);
                self.frames[i] = frame;
                // Over capacity since pages were pinned: give one more frame back.
                if self.frames.len() > self.capacity
                    && let Some(j) = self.victim()
                {
                    self.remove(j);
                }
            }
            None => {
                self.index.insert(number, self.frames.len());
                self.frames.push(frame);
            }
        }
    }

    /// A frame to give up, if the hand finds one within [`SWEEP`] frames: not pinned,
    /// its chances spent. The hand takes a chance from each used frame it passes.
    fn victim(&mut self) -> Option<usize> {
        for _ in 0..SWEEP.min(2 * self.frames.len()) {
            self.swept += 1;
            let i = self.hand % self.frames.len();
            self.hand = i + 1;
            let frame = &mut self.frames[i];
            if Arc::strong_count(&frame.page) > 1 {
                continue;
            }
            if frame.chances > 0 {
                frame.chances -= 1;
                continue;
            }
            return Some(i);
        }
        None
    }

    /// Drops frame `i`; the last frame takes its place.
    fn remove(&mut self, i: usize) {
        self.index.remove(&self.frames[i].number);
        self.frames.swap_remove(i);
        if let Some(moved) = self.frames.get(i) {
            self.index.insert(moved.number, i);
        }
    }
}

/// The database file mapped into memory, and which of its pages had their checksum
/// checked since.
///
/// A page's checksum is checked the first time this process reads it from the mapping,
/// not at every read (that would cost more than the read). The kernel may drop a mapped
/// page and read it from the disk again later without a check: the price of this mode,
/// which LMDB pays in full (it checks nothing).
///
/// Mapping a file that is written to is sound here because nothing reads a page while
/// it is overwritten: a checkpoint writes only pages with images in the WAL index, which
/// readers of the newest snapshot take from there, and it first pins a copy of each such
/// page for every reader of an older snapshot (see `db.rs`).
///
/// Where the file system can, the mapping is a window that reaches past the file's end
/// and follows the file as checkpoints grow it, so it is kept from one checkpoint to the
/// next: its pages stay faulted in and checked (a fresh mapping per checkpoint made the
/// first scan after one fault in and check every page again). Only the first `len`
/// bytes are read; past the file's end a read would fault.
pub(super) struct Mapped {
    bytes: Bytes,
    /// Bytes of the file the mapping may be read in.
    len: AtomicU64,
    /// Whether the mapping follows the file as it grows (see [`VfsFile::map_window`]).
    window: bool,
    verified: Vec<AtomicU64>,
    /// Set when the file is mapped again: a snapshot that kept this mapping then reads
    /// through the new one, since a mapping may not show what was written after it was
    /// taken (a `SimFs`'s is a copy; a real one may end before the file's new pages).
    stale: AtomicBool,
}

impl std::fmt::Debug for Mapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapped")
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl Mapped {
    /// The bytes of page `n`, if the mapping reaches it.
    fn page_bytes(&self, n: u64, page_size: usize) -> Option<&[u8]> {
        let start = usize::try_from(n).ok()?.checked_mul(page_size)?;
        let end = start.checked_add(page_size)?;
        if end as u64 > self.len.load(Ordering::Acquire) {
            return None;
        }
        self.bytes.get(start..end)
    }

    /// Page `n` read in place, its checksum checked if this is the first read of it
    /// (then `first_read` is called); `None` if the mapping does not reach it.
    fn lend(
        &self,
        n: u64,
        page_size: usize,
        path: &Path,
        first_read: impl FnOnce(),
    ) -> Option<Result<Page<&[u8]>>> {
        let bytes = self.page_bytes(n, page_size)?;
        let start = n as usize * page_size;
        let (word, bit) = (n as usize / 64, 1u64 << (n % 64));
        let checked = self.verified[word].load(Ordering::Relaxed) & bit != 0;
        let page = Page::from_bytes(n, bytes, path, start as u64, !checked);
        if !checked && page.is_ok() {
            self.verified[word].fetch_or(bit, Ordering::Relaxed);
            first_read();
        }
        Some(page)
    }
}

/// The least address space a window on the database file spans (it costs no memory until
/// read).
const DB_WINDOW: u64 = 1 << 30;

/// The database file and the buffer pool in front of it.
pub struct Pager {
    db: Box<dyn VfsFile>,
    /// The mapped database file, in the mmap read mode.
    mapped: RwLock<Option<Arc<Mapped>>>,
    mmap_reads: bool,
    db_path: PathBuf,
    page_size: usize,
    pool: Mutex<Pool>,
}

impl std::fmt::Debug for Pager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pager")
            .field("db", &self.db_path)
            .field("page_size", &self.page_size)
            .finish()
    }
}

/// Reads the header page of a database file.
pub fn read_header(file: &dyn VfsFile, path: &Path) -> Result<DbHeader> {
    let mut head = vec![0u8; HEADER_LEN];
    file.read_exact_at(&mut head, 0)?;
    DbHeader::decode(&head, path)
}

impl Pager {
    /// A pager over an open database file.
    pub fn new(
        db: Box<dyn VfsFile>,
        page_size: usize,
        pool_bytes: usize,
        mmap_reads: bool,
    ) -> Result<Pager> {
        let pager = Pager {
            mapped: RwLock::new(None),
            mmap_reads,
            db_path: db.path().to_path_buf(),
            db,
            page_size,
            pool: Mutex::new(Pool {
                capacity: (pool_bytes / page_size).max(16),
                frames: Vec::new(),
                index: IntMap::default(),
                hand: 0,
                hits: 0,
                misses: 0,
                swept: 0,
            }),
        };
        pager.remap()?;
        Ok(pager)
    }

    /// In the mmap read mode, after a checkpoint changed or grew the database file: lets
    /// the window reach the file's new end, or maps the file afresh (a window with room to
    /// grow where the file system can map so, else the file as it is).
    pub fn remap(&self) -> Result<()> {
        if !self.mmap_reads {
            return Ok(());
        }
        let len = self.db.len()?;
        if let Some(current) = &*self.mapped.read()
            && current.window
            && current.bytes.len() as u64 >= len
        {
            current.len.store(len, Ordering::Release);
            return Ok(());
        }
        let (bytes, window) = match self.db.map_window(DB_WINDOW.max(2 * len))? {
            Some(bytes) => (Some(bytes), true),
            None => (self.db.map()?, false),
        };
        let new = bytes.map(|bytes| {
            Arc::new(Mapped {
                verified: (0..(bytes.len() / self.page_size).div_ceil(64))
                    .map(|_| AtomicU64::new(0))
                    .collect(),
                len: AtomicU64::new(len.min(bytes.len() as u64)),
                window,
                bytes,
                stale: AtomicBool::new(false),
            })
        });
        let old = std::mem::replace(&mut *self.mapped.write(), new);
        if let Some(old) = old {
            old.stale.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Bytes per page.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    fn cached(&self, number: u64) -> Option<Arc<Page>> {
        let mut pool = self.pool.lock();
        let page = pool.get(number);
        if page.is_some() {
            pool.hits += 1;
        } else {
            pool.misses += 1;
        }
        page
    }

    /// The mapping of the database file, in the mmap read mode: a reader holds it for the
    /// length of a search and reads pages in place through [`Pager::lend`].
    pub(super) fn mapping(&self) -> Option<Arc<Mapped>> {
        self.mapped.read().clone()
    }

    /// Page `n` of the database file read in place from `mapped`, its checksum checked
    /// on the first read; `None` if the mapping does not reach it.
    pub(super) fn lend<'m>(&self, mapped: &'m Mapped, n: u64) -> Option<Result<Page<&'m [u8]>>> {
        if n == 0 {
            return Some(Err(Error::corruption(
                &self.db_path,
                0,
                "a tree link points at the header page",
            )));
        }
        if mapped.stale.load(Ordering::Acquire) {
            return None;
        }
        // The engine cannot see the page cache; a first read is the nearest thing to a
        // miss (the device counters tell the truth).
        mapped.lend(n, self.page_size, &self.db_path, || {
            self.db.record_mapped_read(self.page_size)
        })
    }

    /// Page `n` as the database file holds it, through the pool; `keep` puts a page
    /// read from the file into the pool (a writer about to change the page says no: its
    /// copy replaces the page at commit anyway).
    pub fn read_db(&self, n: u64, keep: bool) -> Result<Arc<Page>> {
        if n == 0 {
            return Err(Error::corruption(
                &self.db_path,
                0,
                "a tree link points at the header page",
            ));
        }
        if let Some(mapped) = &*self.mapped.read()
            && let Some(page) = self.lend(mapped, n)
        {
            let page = page?;
            let bytes = mapped.bytes.slice_ref(page.data);
            return Ok(Arc::new(Page {
                number: n,
                data: PageBuf::Mapped(bytes),
            }));
        }
        self.read_db_owned_keeping(n, keep)
    }

    /// Page `n` as the database file holds it now, in memory of its own (from the pool,
    /// or read from the file), never a view of the mapping.
    pub fn read_db_owned(&self, n: u64) -> Result<Arc<Page>> {
        self.read_db_owned_keeping(n, false)
    }

    /// [`Pager::read_db_owned`], putting a page read from the file into the pool if `keep`.
    fn read_db_owned_keeping(&self, n: u64, keep: bool) -> Result<Arc<Page>> {
        if let Some(page) = self.cached(n) {
            return Ok(page);
        }
        let offset = n * self.page_size as u64;
        let mut data = vec![0u8; self.page_size];
        self.db.read_exact_at(&mut data, offset)?;
        let mut page = Page::decode_at(n, data, &self.db_path, offset)?;
        if keep {
            page.freeze();
        }
        let page = Arc::new(page);
        if keep {
            self.pool.lock().put(n, Arc::clone(&page));
        }
        Ok(page)
    }

    /// Writes sealed pages `first`, `first + 1`, ... from `pages` (a checkpoint's run),
    /// and starts writing them to the device: the checkpoint's sync then waits for less,
    /// since the device works while the next run is copied.
    pub fn write_db_at(&self, first: u64, pages: &[u8]) -> Result<()> {
        let offset = first * self.page_size as u64;
        self.db.write_at(pages, offset)?;
        self.db.start_writeback(offset, pages.len() as u64);
        Ok(())
    }

    /// Asks the file system to start reading page `n` of the database file.
    pub fn prefetch_db(&self, n: u64) {
        let size = self.page_size as u64;
        self.db.prefetch(n * size, size);
    }

    /// Writes the header page.
    pub fn write_header(&self, header: &DbHeader) -> Result<()> {
        self.db.write_at(&header.encode(), 0)
    }

    /// Makes the database file durable.
    pub fn sync_db(&self) -> Result<()> {
        self.db.sync()
    }

    /// Cuts the database file to its first `pages` pages, durably, and lets the pool's
    /// copies of the pages cut go. Only for pages no snapshot reads (past the header's
    /// count after a vacuum, with no older snapshot left that counted them).
    pub fn shrink(&self, pages: u64) -> Result<()> {
        let len = pages * self.page_size as u64;
        if self.db.len()? <= len {
            return Ok(());
        }
        self.db.truncate(len)?;
        self.db.sync()?;
        {
            let mut pool = self.pool.lock();
            let mut i = 0;
            while i < pool.frames.len() {
                if pool.frames[i].number >= pages {
                    pool.remove(i);
                } else {
                    i += 1;
                }
            }
        }
        self.remap()
    }

    /// After a checkpoint, which wrote `pages` into the database file: the pool's copies
    /// of those pages are the written ones from now on.
    pub fn checkpointed(&self, pages: &[Arc<Page>]) {
        let mut pool = self.pool.lock();
        for page in pages {
            if let Some(&i) = pool.index.get(&page.number) {
                pool.frames[i].page = Arc::clone(page);
            }
        }
    }

    /// (hits, misses, frames swept) of the buffer pool.
    pub fn pool_counters(&self) -> (u64, u64, u64) {
        let pool = self.pool.lock();
        (pool.hits, pool.misses, pool.swept)
    }

    /// Pages cached now.
    #[cfg(test)]
    pub fn pool_len(&self) -> usize {
        self.pool.lock().frames.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::page::PageKind;
    use crate::vfs::{FileKind, SimFs, Vfs};

    /// Found by the fuzz target `decode_page`: a header (its checksum right) whose page
    /// counts add up past 2^64 overflowed the check that they fit the file.
    #[test]
    fn page_counts_that_overflow_are_corruption() {
        let h = DbHeader {
            page_count: 10,
            leaves: u64::MAX,
            internals: 2,
            ..DbHeader::new(4096)
        };
        let err = DbHeader::decode(&h.encode(), Path::new("btree.db")).expect_err("bad counts");
        assert!(matches!(err, Error::Corruption { .. }), "{err}");
    }

    #[test]
    fn header_round_trips_and_every_flip_is_caught() {
        let h = DbHeader {
            page_size: 4096,
            root: 3,
            page_count: 10,
            free_head: 7,
            free_count: 2,
            txn: 99,
            height: 2,
            leaves: 4,
            internals: 1,
            overflows: 2,
            entries: 300,
            wal_cycle: 5,
            tree_bytes: 12345,
        };
        let bytes = h.encode();
        assert_eq!(DbHeader::decode(&bytes, Path::new("db")).unwrap(), h);
        for at in 0..HEADER_LEN {
            let mut bad = bytes.clone();
            bad[at] ^= 0x01;
            assert!(
                DbHeader::decode(&bad, Path::new("db")).is_err(),
                "byte {at}"
            );
        }
    }

    #[test]
    fn pages_are_read_back_through_the_pool() {
        let fs = SimFs::new();
        let db = fs.create(Path::new("/db"), FileKind::Page).unwrap();
        let mut images = Vec::new();
        for n in 1..=40u64 {
            let mut p = Page::new(n, 512, PageKind::Leaf);
            p.insert(0, &Page::inline_leaf_cell(&n.to_be_bytes(), b"v"))
                .unwrap();
            p.seal();
            db.write_at(&p.data, n * 512).unwrap();
            images.push(p);
        }
        let pager = Pager::new(db, 512, 16 * 512, false).unwrap();
        let held = pager.read_db(1, true).unwrap(); // pinned while held
        for n in 1..=40u64 {
            let page = pager.read_db(n, true).unwrap();
            assert_eq!(page.cell(0).unwrap().whole_key().unwrap(), n.to_be_bytes());
        }
        assert!(pager.pool_len() <= 17, "the pool keeps to its capacity");
        let seven = pager.read_db(7, true).unwrap();
        assert_eq!(seven.cells(), 1);
        let (hits, misses, _) = pager.pool_counters();
        assert!(hits >= 1 && misses >= 30, "{hits} {misses}");
        assert!(
            pager.read_db(0, true).is_err(),
            "the header is not a tree page"
        );
        assert!(matches!(
            pager.read_db(41, true),
            Err(Error::Corruption { .. })
        ));
        // A checkpoint writes a newer page 7; the pool's copy becomes that one.
        let mut newer = images[6].clone();
        newer
            .insert(1, &Page::inline_leaf_cell(b"~", b"w"))
            .unwrap();
        newer.seal();
        pager.write_db_at(7, &newer.data).unwrap();
        pager.checkpointed(&[Arc::new(newer)]);
        assert_eq!(pager.read_db(7, true).unwrap().cells(), 2);
        assert_eq!(seven.cells(), 1, "a page handed out stays as it was");
        assert_eq!(held.cells(), 1);
    }
}
