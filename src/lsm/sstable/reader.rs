//! Reads a table: footer, index and filter at open (kept in memory: "pinned"), data blocks
//! on demand through the block cache, every block's CRC checked when it comes from disk.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use super::block::{Block, BlockIter, BlockRef, Position};
use super::bloom::{self, Bloom};
use super::{BLOCK_TRAILER, FOOTER_LEN, Footer, Handle};
use crate::error::{Error, Result};
use crate::format::coding::{Reader, checksum_ok, crc};
use crate::lsm::cache::BlockCache;
use crate::lsm::handles::TableHandles;
use crate::lsm::ikey::{self, Kind};
use crate::lsm::iter::InternalIterator;
use crate::lsm::readahead;
use crate::vfs::VfsFile;

/// What a table says about a key: the newest visible version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// A value, written at this sequence number.
    Value(u64, Bytes),
    /// A deletion, at this sequence number.
    Deleted(u64),
}

impl Found {
    /// The version's sequence number.
    pub fn seq(&self) -> u64 {
        match self {
            Found::Value(s, _) | Found::Deleted(s) => *s,
        }
    }
}

/// Counters of filter use, kept by the engine.
#[derive(Debug, Default)]
pub struct FilterCounters {
    /// Gets that consulted a filter.
    pub probes: std::sync::atomic::AtomicU64,
    /// Gets the filter answered "absent".
    pub negatives: std::sync::atomic::AtomicU64,
    /// Gets the filter let through that found no version of the key.
    pub false_positives: std::sync::atomic::AtomicU64,
}

/// One index entry decoded at open: the last key of a data block and where the block is.
#[derive(Clone, Copy, Debug)]
struct IndexEntry {
    /// Range of the block's last user key in `TableReader::index_keys`.
    key_start: u32,
    key_len: u32,
    seq: u64,
    handle: Handle,
}

/// Where a table's reads get its file handle.
enum FileHandle {
    /// A handle of its own, open for the reader's life.
    Own(Arc<dyn VfsFile>),
    /// The store's handles, which may close this table's and open it again (see
    /// `lsm/handles.rs`).
    Shared(Arc<TableHandles>),
}

/// An open table.
pub struct TableReader {
    file: FileHandle,
    path: Arc<Path>,
    number: u64,
    /// The index decoded once (its block is not kept), so a read binary searches plain
    /// slices.
    index_entries: Vec<IndexEntry>,
    index_keys: Vec<u8>,
    /// The first 8 bytes of each entry's key as a big-endian integer
    /// ([`ikey::first_8_be`]), side by side: a point read's binary search touches only
    /// these 8 bytes an entry, and the keys themselves only where prefixes tie.
    index_prefixes: Vec<u64>,
    bloom: Option<Bloom>,
    footer: Footer,
    cache: Arc<BlockCache>,
    /// The whole file mapped (the mmap read mode): blocks are slices of it, and the
    /// operating system's page cache is the only cache.
    mapped: Option<Bytes>,
}

impl std::fmt::Debug for TableReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableReader")
            .field("path", &self.path)
            .field("entries", &self.footer.entries)
            .finish()
    }
}

impl readahead::Prefetch for TableReader {
    /// Asks the file system to read `len` bytes at `offset` into memory (a hint).
    fn prefetch(&self, offset: u64, len: u64) {
        // A hint: a table whose file cannot be opened now gets none.
        if let Ok(file) = self.file() {
            file.prefetch(offset, len);
        }
    }
}

/// Checks the CRC after a block's bytes and returns the block's bytes (sharing `buf`).
fn verify(buf: Bytes, path: &Path, handle: Handle) -> Result<Bytes> {
    verify_slice(&buf, path, handle)?;
    Ok(buf.slice(..handle.size as usize))
}

/// The block in `buf` (the block's bytes and its CRC), once the CRC matches.
fn verify_slice<'a>(buf: &'a [u8], path: &Path, handle: Handle) -> Result<&'a [u8]> {
    let size = handle.size as usize;
    let stored = u32::from_le_bytes(buf[size..size + BLOCK_TRAILER].try_into().expect("4 bytes"));
    let computed = crc(&buf[..size]);
    if !checksum_ok(stored, computed) && !crate::planted::planted("lsm_block_checksum") {
        return Err(Error::corruption(
            path,
            handle.offset,
            format!("block checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"),
        ));
    }
    Ok(&buf[..size])
}

fn read_checked(file: &dyn VfsFile, path: &Arc<Path>, handle: Handle) -> Result<Bytes> {
    let mut buf = vec![0u8; handle.size as usize + BLOCK_TRAILER];
    file.read_exact_at(&mut buf, handle.offset)?;
    verify(Bytes::from(buf), path, handle)
}

/// What a point read reuses from one read to the next on its thread, so that a get
/// allocates nothing but the value it returns: the buffer a block the cache does not take
/// is read into (reused, it stays in the CPU's cache: the copy out of the page cache
/// writes to memory already there), the key being looked for, and the cursor's key.
#[derive(Default)]
struct PointScratch {
    buf: Vec<u8>,
    target: Vec<u8>,
    pos: Position,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<PointScratch> = std::cell::RefCell::default();
}

/// Bytes a scan reads ahead in one call, so a sequential scan costs one read per window
/// rather than one per 4 KiB block.
const READAHEAD: usize = 256 << 10;

/// Bytes a long scan keeps asked for ahead of the window it parses, at most.
const SCAN_AHEAD: u64 = 2 << 20;

/// Bytes a scan that has refilled its window `refills` times keeps asked for ahead: none
/// for a short scan (fewer than 4 refills: a seek's hundred keys take 3), then from 128
/// KiB, doubling with each refill up to `SCAN_AHEAD`, so a short scan is not charged for
/// a long one's reads.
fn scan_ahead(refills: u32) -> u64 {
    if refills < 4 {
        0
    } else {
        SCAN_AHEAD >> (8 - refills.min(8))
    }
}

/// A window of the file read ahead by a scan. It starts at one block, so a short seek
/// reads little, and doubles with each refill up to `READAHEAD` while the scan goes on.
#[derive(Default)]
struct Window {
    offset: u64,
    bytes: Bytes,
    refills: u32,
    /// How far into the file the scan has asked the device to read ahead.
    asked: u64,
}

impl Window {
    /// Bytes the next read ahead covers for a block of `need` bytes: the block alone at
    /// first, doubling with each refill so far, up to `READAHEAD`.
    fn span(&self, need: usize) -> u64 {
        (need << self.refills.min(8)).min(READAHEAD) as u64
    }
}

impl TableReader {
    /// Opens table `number` at `path` from its handle `file`, kept for the reader's
    /// life; with `mmap`, reads data blocks through a mapping of the file (where the Vfs
    /// can map) instead of `pread`.
    pub fn open(
        file: Box<dyn VfsFile>,
        path: &Path,
        number: u64,
        cache: Arc<BlockCache>,
        mmap: bool,
    ) -> Result<Self> {
        let file: Arc<dyn VfsFile> = Arc::from(file);
        let handle = FileHandle::Own(Arc::clone(&file));
        TableReader::read_meta(file.as_ref(), handle, path, number, cache, mmap)
    }

    /// [`TableReader::open`] for a table of a store, whose handle `handles` keeps (and may
    /// close, to open again when a read needs it).
    pub fn open_in(
        file: Box<dyn VfsFile>,
        path: &Path,
        number: u64,
        cache: Arc<BlockCache>,
        mmap: bool,
        handles: &Arc<TableHandles>,
    ) -> Result<Self> {
        let handle = FileHandle::Shared(Arc::clone(handles));
        let reader = TableReader::read_meta(file.as_ref(), handle, path, number, cache, mmap)?;
        handles.insert(number, Arc::from(file));
        Ok(reader)
    }

    /// Reads the footer, index and filter of table `number` from `file`; later reads take
    /// their handle from `handle`.
    fn read_meta(
        file: &dyn VfsFile,
        handle: FileHandle,
        path: &Path,
        number: u64,
        cache: Arc<BlockCache>,
        mmap: bool,
    ) -> Result<Self> {
        let path: Arc<Path> = Arc::from(path);
        let len = file.len()?;
        if len < FOOTER_LEN as u64 {
            return Err(Error::corruption(
                &*path,
                0,
                format!("table of {len} bytes has no footer"),
            ));
        }
        let at = len - FOOTER_LEN as u64;
        let mut buf = [0u8; FOOTER_LEN];
        file.read_exact_at(&mut buf, at)?;
        let footer = Footer::decode(&buf, &path, at)?;
        for (what, h) in [("index", footer.index), ("filter", footer.filter)] {
            if !h.ends_by(at) {
                return Err(Error::corruption(
                    &*path,
                    at,
                    format!("{what} block lies past the footer"),
                ));
            }
        }
        let index_bytes = read_checked(file, &path, footer.index)?;
        let index = Block::decode(index_bytes, Arc::clone(&path), footer.index.offset)?;
        let mut index_entries = Vec::new();
        let mut index_keys = Vec::new();
        let mut index_prefixes = Vec::new();
        let mut it = index.iter(ikey::cmp_encoded);
        it.seek_to_first()?;
        while it.valid() {
            let bad =
                |detail: &str| Error::corruption(&*path, footer.index.offset, detail.to_string());
            let (user, seq, _) =
                ikey::decode(it.key()).ok_or_else(|| bad("undecodable index key"))?;
            let mut r = Reader::new(it.value_slice(), &path, footer.index.offset);
            let handle = Handle::decode(&mut r)?;
            if !handle.ends_by(footer.index.offset) {
                return Err(bad("index points past the data blocks"));
            }
            index_entries.push(IndexEntry {
                key_start: index_keys.len() as u32,
                key_len: user.len() as u32,
                seq,
                handle,
            });
            index_keys.extend_from_slice(user);
            index_prefixes.push(ikey::first_8_be(user));
            it.advance()?;
        }
        // Held for the table's life: no room to spare.
        index_entries.shrink_to_fit();
        index_keys.shrink_to_fit();
        index_prefixes.shrink_to_fit();
        let mapped = if mmap { file.map()? } else { None };
        let bloom = if footer.filter.size > 0 {
            let bytes = read_checked(file, &path, footer.filter)?;
            Some(Bloom::decode(Reader::new(
                &bytes,
                &path,
                footer.filter.offset,
            ))?)
        } else {
            None
        };
        Ok(TableReader {
            file: handle,
            path,
            number,
            index_entries,
            index_keys,
            index_prefixes,
            bloom,
            footer,
            cache,
            mapped,
        })
    }

    /// The table's file handle, opened again if the store's handles closed it.
    fn file(&self) -> Result<Arc<dyn VfsFile>> {
        match &self.file {
            FileHandle::Own(file) => Ok(Arc::clone(file)),
            FileHandle::Shared(handles) => handles.get(self.number, &self.path),
        }
    }

    /// The table's file number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Entries in the table.
    pub fn entries(&self) -> u64 {
        self.footer.entries
    }

    /// Bytes of the bloom filter (0 without one).
    pub fn filter_size(&self) -> usize {
        self.bloom.as_ref().map_or(0, Bloom::size)
    }

    /// The path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the data blocks end: at the filter block, or the index block if none.
    fn data_end(&self) -> u64 {
        if self.footer.filter.size > 0 {
            self.footer.filter.offset.min(self.footer.index.offset)
        } else {
            self.footer.index.offset
        }
    }

    /// Every data block's handle with the last key it holds (user key, sequence), in order.
    pub fn blocks(&self) -> Vec<(Handle, &[u8], u64)> {
        self.index_entries
            .iter()
            .map(|e| {
                let key =
                    &self.index_keys[e.key_start as usize..(e.key_start + e.key_len) as usize];
                (e.handle, key, e.seq)
            })
            .collect()
    }

    /// Each data block read from the file itself (not the cache, not the mapping) with
    /// its checksum checked: what `Lsm::check` asks of every table.
    pub fn verify_blocks(&self) -> Result<()> {
        let file = self.file()?;
        for entry in &self.index_entries {
            read_checked(file.as_ref(), &self.path, entry.handle)?;
        }
        Ok(())
    }

    /// Whether the table's filter lets `user_key` through (true without a filter).
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        self.bloom
            .as_ref()
            .is_none_or(|bloom| bloom.may_contain(bloom::hash(user_key)))
    }

    /// A data block: from the mapping, or from the cache, or from disk.
    pub fn block(&self, handle: Handle) -> Result<Block> {
        if let Some(map) = &self.mapped {
            let end = handle.offset as usize + handle.size as usize + BLOCK_TRAILER;
            if end > map.len() {
                return Err(Error::corruption(
                    &*self.path,
                    handle.offset,
                    "block lies past the end of the file",
                ));
            }
            self.file()?
                .record_mapped_read(end - handle.offset as usize);
            let bytes = verify(map.slice(handle.offset as usize..end), &self.path, handle)?;
            return Block::decode(bytes, Arc::clone(&self.path), handle.offset);
        }
        if let Some(block) = self.cache.get(self.number, handle.offset) {
            return Ok(block);
        }
        self.read_and_cache(handle)
    }

    /// Reads a data block from the file into a buffer of the cache's, and caches it.
    fn read_and_cache(&self, handle: Handle) -> Result<Block> {
        let mut buf = self.cache.buffer(
            self.number,
            handle.offset,
            handle.size as usize + BLOCK_TRAILER,
        );
        self.file()?.read_exact_at(&mut buf, handle.offset)?;
        let bytes = verify(buf.freeze(), &self.path, handle)?;
        let block = Block::decode(bytes, Arc::clone(&self.path), handle.offset)?;
        self.cache.insert(self.number, handle.offset, block.clone());
        Ok(block)
    }

    /// The data block at `handle` for a point read if it is mapped or cached, or if the
    /// doorkeeper admits it to the cache ([`BlockCache::admit`]); `None` when the read
    /// should go to the scratch buffer instead.
    fn shared_point_block(&self, handle: Handle) -> Result<Option<Block>> {
        if self.mapped.is_some() {
            return self.block(handle).map(Some);
        }
        if let Some(block) = self.cache.get(self.number, handle.offset) {
            return Ok(Some(block));
        }
        if self.cache.admit(self.number, handle.offset) {
            return self.read_and_cache(handle).map(Some);
        }
        Ok(None)
    }

    /// Looks for `s.target` in the data block at `handle`. The value found is shared with
    /// the block when the block is the cache's or the mapping's, and copied out when it
    /// was read into the scratch buffer, which the next read overwrites.
    fn get_in_block(
        &self,
        handle: Handle,
        user_key: &[u8],
        s: &mut PointScratch,
    ) -> Result<Option<Found>> {
        let shared = self.shared_point_block(handle)?;
        let block = match &shared {
            Some(block) => block.view(),
            None => {
                let need = handle.size as usize + BLOCK_TRAILER;
                if s.buf.len() < need {
                    s.buf.resize(need, 0);
                }
                let buf = &mut s.buf[..need];
                self.file()?.read_exact_at(buf, handle.offset)?;
                let data = verify_slice(buf, &self.path, handle)?;
                BlockRef::parse(data, &self.path, handle.offset)?
            }
        };
        block.seek(&mut s.pos, &s.target, ikey::cmp_encoded)?;
        self.found(&s.pos, user_key, || match &shared {
            Some(shared) => shared.value(&s.pos),
            None => Bytes::copy_from_slice(block.value(&s.pos)),
        })
    }

    /// What the entry at `pos`, just sought, says about `user_key`: nothing if it is
    /// another key's; else its value (made by `value`) or its deletion.
    fn found(
        &self,
        pos: &Position,
        user_key: &[u8],
        value: impl FnOnce() -> Bytes,
    ) -> Result<Option<Found>> {
        if !pos.valid() {
            return Ok(None);
        }
        let (key, seq, kind) = ikey::decode(pos.key())
            .ok_or_else(|| Error::corruption(&*self.path, 0, "undecodable internal key"))?;
        Ok((key == user_key).then(|| match kind {
            Kind::Put => Found::Value(seq, value()),
            Kind::Delete => Found::Deleted(seq),
        }))
    }

    /// A data block for a scan: from the cache if there, else from `window`, refilled
    /// with the next `READAHEAD` bytes when the block lies outside it. Scanned blocks do
    /// not enter the cache, so a scan does not evict what point reads use.
    fn block_sequential(self: &Arc<Self>, handle: Handle, window: &mut Window) -> Result<Block> {
        let need = handle.size as usize + BLOCK_TRAILER;
        if self.mapped.is_some() {
            // The mapping is read a page fault at a time (no kernel readahead on tables):
            // ask for the next stretch ahead of the scan, so its faults find the pages in
            // memory. `window.offset` marks how far has been asked for.
            let end = self.data_end();
            if handle.offset + need as u64 > window.offset && handle.offset < end {
                window.refills += 1;
                let len = window.span(need).min(end - handle.offset);
                if let Ok(file) = self.file() {
                    file.prefetch(handle.offset, len);
                }
                window.offset = handle.offset + len;
            }
            return self.block(handle);
        }
        if let Some(block) = self.cache.get(self.number, handle.offset) {
            return Ok(block);
        }
        let inside = handle.offset >= window.offset
            && handle.offset + need as u64 <= window.offset + window.bytes.len() as u64;
        if !inside {
            // Read up to the end of the data blocks at most.
            let end = self.data_end().max(handle.offset + need as u64);
            let len = (end - handle.offset)
                .min(window.span(need))
                .max(need as u64) as usize;
            let mut buf = vec![0u8; len];
            self.file()?.read_exact_at(&mut buf, handle.offset)?;
            *window = Window {
                offset: handle.offset,
                bytes: Bytes::from(buf),
                refills: window.refills + 1,
                asked: window.asked,
            };
            // Once the scan has gone past a few blocks, keep `SCAN_AHEAD` bytes past this
            // window asked for: the device reads them while this one is parsed (table
            // files get no readahead from the kernel: they are opened for random reads).
            let next = handle.offset + len as u64;
            let target = (next + scan_ahead(window.refills)).min(end);
            let from = window.asked.max(next);
            if from < target {
                readahead::read_ahead(self, from, target - from);
                window.asked = target;
            }
        }
        let start = (handle.offset - window.offset) as usize;
        let bytes = verify(window.bytes.slice(start..start + need), &self.path, handle)?;
        Block::decode(bytes, Arc::clone(&self.path), handle.offset)
    }

    /// Checks that the bytes from `from` to `to`, between two data blocks, are the zeros
    /// the builder put there, reading them from the scan's `window` when it holds them.
    fn check_gap(&self, from: u64, to: u64, window: &Window) -> Result<()> {
        if to < from {
            return Err(Error::corruption(&*self.path, to, "data blocks overlap"));
        }
        if to == from {
            return Ok(());
        }
        let zeros = |bytes: &[u8]| bytes.iter().all(|&b| b == 0);
        let end = window.offset + window.bytes.len() as u64;
        let clean = if let Some(map) = &self.mapped {
            map.get(from as usize..to as usize).is_some_and(zeros)
        } else if from >= window.offset && to <= end {
            zeros(&window.bytes[(from - window.offset) as usize..(to - window.offset) as usize])
        } else {
            let mut gap = vec![0; (to - from) as usize];
            self.file()?.read_exact_at(&mut gap, from)?;
            zeros(&gap)
        };
        if !clean {
            return Err(Error::corruption(
                &*self.path,
                from,
                "the bytes between two data blocks are not zeros",
            ));
        }
        Ok(())
    }

    /// The first index entry whose block's last key is at or after `(user_key, seq)`:
    /// the block that holds that internal key if the table does (`index_entries.len()`
    /// when it lies past the last block).
    fn index_position(&self, user_key: &[u8], seq: u64) -> usize {
        ikey::partition_by_prefix(&self.index_prefixes, &self.index_entries, user_key, |e| {
            let key = &self.index_keys[e.key_start as usize..(e.key_start + e.key_len) as usize];
            ikey::cmp(key, e.seq, user_key, seq).is_lt()
        })
    }

    /// The newest version of `user_key` with sequence number at most `seq`, if the table
    /// holds one. `counters` learn what the bloom filter did.
    pub fn get(
        &self,
        user_key: &[u8],
        seq: u64,
        counters: &FilterCounters,
    ) -> Result<Option<Found>> {
        use std::sync::atomic::Ordering::Relaxed;
        if let Some(bloom) = &self.bloom {
            counters.probes.fetch_add(1, Relaxed);
            if !bloom.may_contain(bloom::hash(user_key)) {
                counters.negatives.fetch_add(1, Relaxed);
                return Ok(None);
            }
        }
        let i = self.index_position(user_key, seq);
        let mut result = None;
        if let Some(entry) = self.index_entries.get(i) {
            // Taken out of the thread's slot for the read and put back after it.
            let mut scratch = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
            scratch.target.clear();
            ikey::encode(&mut scratch.target, user_key, seq, Kind::Put);
            let found = self.get_in_block(entry.handle, user_key, &mut scratch);
            SCRATCH.with(|s| *s.borrow_mut() = scratch);
            result = found?;
        }
        if result.is_none() && self.bloom.is_some() {
            counters.false_positives.fetch_add(1, Relaxed);
        }
        Ok(result)
    }

    /// Asks the device for the start of the table, which a scan coming from the table
    /// before, having refilled its window `refills` times, will read next.
    pub fn prefetch_start(self: &Arc<Self>, refills: u32) {
        let len = self.data_end().min(scan_ahead(refills));
        if len > 0 {
            readahead::read_ahead(self, 0, len);
        }
    }

    /// A cursor over every entry.
    pub fn iter(self: &Arc<Self>) -> TableIter {
        self.iter_after(0)
    }

    /// A cursor for a scan that has already read ahead `refills` times in the tables
    /// before this one ([`TableIter::refills`]): its windows start as large as the scan's
    /// last, rather than at one block.
    pub fn iter_after(self: &Arc<Self>, refills: u32) -> TableIter {
        TableIter {
            table: Arc::clone(self),
            index: 0,
            data: None,
            window: Window {
                refills,
                ..Window::default()
            },
            block_end: None,
        }
    }
}

/// A two-level cursor: the index picks the block, the block iterator walks it.
pub struct TableIter {
    table: Arc<TableReader>,
    /// The index entry of the block loaded (past the last: the end).
    index: usize,
    data: Option<BlockIter>,
    window: Window,
    /// Where the last block read in order ended (with its CRC): the bytes from there to
    /// the next block are the zeros that align it, and are checked as the scan passes.
    block_end: Option<u64>,
}

impl TableIter {
    /// How many times this cursor has read ahead, counting the tables before it.
    pub fn refills(&self) -> u32 {
        self.window.refills
    }

    /// Loads the block the index cursor points at (or clears it at the end); `in_order`
    /// when it follows the block loaded last.
    fn load_block(&mut self, in_order: bool) -> Result<()> {
        self.data = if let Some(entry) = self.table.index_entries.get(self.index) {
            let handle = entry.handle;
            match self.block_end {
                Some(end) if in_order => self.table.check_gap(end, handle.offset, &self.window)?,
                _ => {}
            }
            let block = self.table.block_sequential(handle, &mut self.window)?;
            self.block_end = Some(handle.offset + u64::from(handle.size) + BLOCK_TRAILER as u64);
            Some(block.iter(ikey::cmp_encoded))
        } else {
            None
        };
        Ok(())
    }

    /// Skips empty blocks forward until an entry or the end.
    fn skip_exhausted(&mut self) -> Result<()> {
        while self.data.as_ref().is_some_and(|d| !d.valid()) {
            self.index += 1;
            self.load_block(true)?;
            if let Some(d) = &mut self.data {
                d.seek_to_first()?;
            }
        }
        Ok(())
    }
}

impl InternalIterator for TableIter {
    fn valid(&self) -> bool {
        self.data.as_ref().is_some_and(BlockIter::valid)
    }

    fn key(&self) -> &[u8] {
        self.data.as_ref().map_or(&[], |d| d.key())
    }

    fn value(&self) -> Bytes {
        self.data.as_ref().map_or_else(Bytes::new, BlockIter::value)
    }

    fn next(&mut self) -> Result<()> {
        if let Some(d) = &mut self.data {
            d.advance()?;
        }
        self.skip_exhausted()
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        let (user_key, seq) = ikey::split(target);
        self.index = self.table.index_position(user_key, seq);
        self.load_block(false)?;
        if let Some(d) = &mut self.data {
            d.seek(target)?;
        }
        self.skip_exhausted()
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.index = 0;
        self.load_block(false)?;
        if let Some(d) = &mut self.data {
            d.seek_to_first()?;
        }
        self.skip_exhausted()
    }
}
