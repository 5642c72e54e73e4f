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
//! 48      8     transaction  u64, the last transaction written into the file
//! 56      4     checksum     CRC-32 of bytes 0..56
//! 60      ...   zero to the end of the page
//! ```
//!
//! The buffer pool caches clean pages only (a transaction keeps the pages it changes to
//! itself until commit), so evicting a page never writes it. A page is pinned while anyone
//! holds its `Arc`: CLOCK skips frames whose `Arc` is shared.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::page::{MAX_PAGE, MIN_PAGE, Page};
use crate::error::{Error, Result};
use crate::vfs::{FileKind, Vfs, VfsFile};

const MAGIC: &[u8; 8] = b"KVLABBT\0";
const VERSION: u32 = 1;
/// Bytes of the header's fields and checksum: 8 + 4 + 4 + 8 * 5 + 4.
pub const HEADER_LEN: usize = 8 + 4 + 4 + 8 * 5 + 4;

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
    /// The last transaction checkpointed into the file.
    pub txn: u64,
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
        }
    }

    /// The header page's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.page_size as usize];
        out[0..8].copy_from_slice(MAGIC);
        out[8..12].copy_from_slice(&VERSION.to_le_bytes());
        out[12..16].copy_from_slice(&self.page_size.to_le_bytes());
        for (i, v) in [
            self.root,
            self.page_count,
            self.free_head,
            self.free_count,
            self.txn,
        ]
        .iter()
        .enumerate()
        {
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
        if stored != computed {
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
        };
        let in_file = |p: u64| p < header.page_count;
        if header.page_count == 0
            || (header.root != 0 && !in_file(header.root))
            || (header.free_head != 0 && !in_file(header.free_head))
            || header.free_count >= header.page_count
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
    page: Arc<Page>,
    referenced: bool,
}

/// A CLOCK cache of clean pages.
struct Pool {
    capacity: usize,
    frames: Vec<Frame>,
    index: HashMap<u64, usize>,
    hand: usize,
    hits: u64,
    misses: u64,
}

impl Pool {
    fn get(&mut self, n: u64) -> Option<Arc<Page>> {
        let i = *self.index.get(&n)?;
        let frame = &mut self.frames[i];
        frame.referenced = true;
        Some(Arc::clone(&frame.page))
    }

    fn put(&mut self, page: Arc<Page>) {
        if let Some(&i) = self.index.get(&page.number) {
            self.frames[i] = Frame {
                page,
                referenced: true,
            };
            return;
        }
        if self.frames.len() < self.capacity {
            self.index.insert(page.number, self.frames.len());
            self.frames.push(Frame {
                page,
                referenced: false,
            });
            return;
        }
        // Sweep: clear reference bits, skip pinned frames, take the first cold one. Two
        // full turns find one unless every frame is pinned; then the pool runs over
        // capacity rather than fail.
        for _ in 0..2 * self.frames.len() {
            let i = self.hand % self.frames.len();
            self.hand = i + 1;
            let frame = &mut self.frames[i];
            if Arc::strong_count(&frame.page) > 1 {
                continue;
            }
            if frame.referenced {
                frame.referenced = false;
                continue;
            }
            self.index.remove(&frame.page.number);
            self.index.insert(page.number, i);
            self.frames[i] = Frame {
                page,
                referenced: false,
            };
            return;
        }
        self.index.insert(page.number, self.frames.len());
        self.frames.push(Frame {
            page,
            referenced: false,
        });
    }

    fn forget(&mut self, n: u64) {
        if let Some(i) = self.index.remove(&n) {
            // Keep the slot: swap in the last frame.
            let last = self.frames.len() - 1;
            self.frames.swap(i, last);
            self.frames.pop();
            if i < self.frames.len() {
                self.index.insert(self.frames[i].page.number, i);
            }
        }
    }
}

/// The database file and its buffer pool.
pub struct Pager {
    file: Box<dyn VfsFile>,
    path: PathBuf,
    page_size: usize,
    pool: Mutex<Pool>,
}

impl std::fmt::Debug for Pager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pager")
            .field("path", &self.path)
            .field("page_size", &self.page_size)
            .finish()
    }
}

impl Pager {
    /// Creates the database file with a header page, synced.
    pub fn create(
        vfs: &dyn Vfs,
        path: &Path,
        page_size: usize,
        pool_bytes: usize,
    ) -> Result<(Pager, DbHeader)> {
        if !page_size.is_power_of_two() || !(MIN_PAGE..=MAX_PAGE).contains(&page_size) {
            return Err(Error::invalid(format!(
                "page size {page_size}: a power of two from {MIN_PAGE} to {MAX_PAGE}"
            )));
        }
        let file = vfs.create(path, FileKind::Page)?;
        let header = DbHeader::new(page_size as u32);
        file.write_at(&header.encode(), 0)?;
        file.sync()?;
        Ok((Pager::with(file, path, page_size, pool_bytes), header))
    }

    /// Opens an existing database file and reads its header.
    pub fn open(vfs: &dyn Vfs, path: &Path, pool_bytes: usize) -> Result<(Pager, DbHeader)> {
        let file = vfs.open(path, FileKind::Page)?;
        let mut head = vec![0u8; HEADER_LEN];
        file.read_exact_at(&mut head, 0)?;
        let header = DbHeader::decode(&head, path)?;
        let pages = file.len()? / u64::from(header.page_size);
        if pages < header.page_count {
            return Err(Error::corruption(
                path,
                0,
                format!(
                    "header says {} pages, the file holds {pages}",
                    header.page_count
                ),
            ));
        }
        let page_size = header.page_size as usize;
        Ok((Pager::with(file, path, page_size, pool_bytes), header))
    }

    fn with(file: Box<dyn VfsFile>, path: &Path, page_size: usize, pool_bytes: usize) -> Pager {
        Pager {
            file,
            path: path.to_path_buf(),
            page_size,
            pool: Mutex::new(Pool {
                capacity: (pool_bytes / page_size).max(8),
                frames: Vec::new(),
                index: HashMap::new(),
                hand: 0,
                hits: 0,
                misses: 0,
            }),
        }
    }

    /// Bytes per page.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// Page `n` as the database file holds it, through the pool.
    pub fn read(&self, n: u64) -> Result<Arc<Page>> {
        if n == 0 {
            return Err(Error::corruption(
                &self.path,
                0,
                "a tree link points at the header page",
            ));
        }
        {
            let mut pool = self.pool.lock();
            if let Some(page) = pool.get(n) {
                pool.hits += 1;
                return Ok(page);
            }
            pool.misses += 1;
        }
        let mut data = vec![0u8; self.page_size];
        self.file
            .read_exact_at(&mut data, n * self.page_size as u64)?;
        let page = Arc::new(Page::decode(n, data, &self.path)?);
        self.pool.lock().put(Arc::clone(&page));
        Ok(page)
    }

    /// Writes `page` (sealed with its checksum) into the database file, and into the pool.
    pub fn write(&self, page: &Page) -> Result<()> {
        let mut sealed = page.clone();
        sealed.seal();
        self.file
            .write_at(&sealed.data, page.number * self.page_size as u64)?;
        self.pool.lock().put(Arc::new(sealed));
        Ok(())
    }

    /// Writes the header page.
    pub fn write_header(&self, header: &DbHeader) -> Result<()> {
        self.file.write_at(&header.encode(), 0)
    }

    /// Makes everything written durable.
    pub fn sync(&self) -> Result<()> {
        self.file.sync()
    }

    /// Drops page `n` from the pool (it was freed, or its file image is stale).
    pub fn forget(&self, n: u64) {
        self.pool.lock().forget(n);
    }

    /// (hits, misses) of the buffer pool.
    pub fn pool_hits_and_misses(&self) -> (u64, u64) {
        let pool = self.pool.lock();
        (pool.hits, pool.misses)
    }

    /// Pages cached now.
    pub fn pool_len(&self) -> usize {
        self.pool.lock().frames.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::page::{LeafValue, PageKind};
    use crate::vfs::SimFs;

    #[test]
    fn header_round_trips_and_every_flip_is_caught() {
        let h = DbHeader {
            page_size: 4096,
            root: 3,
            page_count: 10,
            free_head: 7,
            free_count: 2,
            txn: 99,
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
    fn pages_written_are_read_back_through_the_pool() {
        let fs = SimFs::new();
        let path = Path::new("/db.pages");
        let (pager, header) = Pager::create(&fs, path, 512, 8 * 512).unwrap();
        assert_eq!(header.page_count, 1);
        for n in 1..=40u64 {
            let mut p = Page::new(n, 512, PageKind::Leaf);
            p.insert(
                0,
                &Page::leaf_cell(&n.to_be_bytes(), LeafValue::Inline(b"v")),
            )
            .unwrap();
            pager.write(&p).unwrap();
        }
        assert!(pager.pool_len() <= 8, "the pool keeps to its capacity");
        let held = pager.read(1).unwrap(); // pinned while held
        for n in 1..=40u64 {
            assert_eq!(pager.read(n).unwrap().key(0).unwrap(), n.to_be_bytes());
        }
        assert_eq!(held.key(0).unwrap(), 1u64.to_be_bytes());
        let (hits, misses) = pager.pool_hits_and_misses();
        assert!(hits >= 1 && misses >= 30, "{hits} {misses}");
        pager
            .write_header(&DbHeader {
                page_count: 41,
                ..header
            })
            .unwrap();
        pager.sync().unwrap();
        drop(pager);
        let (again, h) = Pager::open(&fs, path, 1 << 20).unwrap();
        assert_eq!(h.page_count, 41);
        assert_eq!(again.read(40).unwrap().key(0).unwrap(), 40u64.to_be_bytes());
        assert!(again.read(0).is_err(), "the header is not a tree page");
    }

    #[test]
    fn bad_sizes_and_short_files_are_refused() {
        let fs = SimFs::new();
        assert!(Pager::create(&fs, Path::new("/a"), 1000, 1 << 20).is_err());
        assert!(Pager::create(&fs, Path::new("/b"), 256, 1 << 20).is_err());
        let (pager, header) = Pager::create(&fs, Path::new("/c"), 512, 1 << 20).unwrap();
        pager
            .write_header(&DbHeader {
                page_count: 5,
                ..header
            })
            .unwrap();
        drop(pager);
        assert!(matches!(
            Pager::open(&fs, Path::new("/c"), 1 << 20),
            Err(Error::Corruption { .. })
        ));
    }
}
