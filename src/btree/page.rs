//! Slotted pages: the nodes of the B+tree.
//!
//! # Format (see docs/FORMATS.md)
//!
//! A page is `page_size` bytes (a power of two, 512 B to 64 KiB). All integers
//! little-endian.
//!
//! ```text
//! offset  size  field
//! 0       4     checksum     CRC-32 of bytes 4..page_size (set when the page is written)
//! 4       1     kind         1 leaf, 2 internal, 3 overflow, 4 free (frozen values)
//! 5       1     reserved     0
//! 6       2     cells        number of slots
//! 8       4     content      offset of the lowest cell byte (cells grow down from the end)
//! 12      4     garbage      bytes of dead cells inside the content area
//! 16      8     link         leaf: next leaf (0 = none); internal: rightmost child;
//!                            overflow: next overflow page; free: next free page
//! 24      2·n   slots        u16 offset of each cell, in key order
//! ...           free space
//! content ...   cells
//! ```
//!
//! Cells:
//!
//! ```text
//! leaf cell      key_len varint | value_len varint | local payload | [overflow u64]
//! internal cell  child u64 | key_len varint | local key | [overflow u64]
//!                (child holds keys < key)
//! overflow page  header (kind 3, link = next) | bytes from offset 24 to the page end
//! ```
//!
//! Deleting a cell only drops its slot and counts its bytes as garbage; an insert that
//! does not fit the free gap compacts the cells first (`defragment`).

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::format::coding::{Reader, put_varint};
use std::path::Path;

/// Bytes of the page header before the slot array.
pub const HEADER: usize = 4 + 1 + 1 + 2 + 4 + 4 + 8;
pub use crate::options::btree::{MAX_PAGE, MIN_PAGE};

/// What a page holds. DO NOT CHANGE THESE VALUES: they are on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PageKind {
    /// Keys and values.
    Leaf = 1,
    /// Separator keys and child page numbers.
    Internal = 2,
    /// A piece of a large value.
    Overflow = 3,
    /// On the free list.
    Free = 4,
}

impl PageKind {
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => PageKind::Leaf,
            2 => PageKind::Internal,
            3 => PageKind::Overflow,
            4 => PageKind::Free,
            _ => return None,
        })
    }
}

/// Largest payload a cell keeps in its page: a little under a quarter of the page, so
/// every page holds at least four cells and a split always leaves both halves a fit.
pub fn max_local(page_size: usize) -> usize {
    (page_size - HEADER) / 4 - 24
}

/// One decoded cell (leaf or internal), borrowing the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell<'a> {
    /// Internal cells: the child holding keys below this cell's key. Leaves: 0.
    pub child: u64,
    /// The whole key's length.
    pub key_len: usize,
    /// The whole value's length (leaves; 0 in internal cells).
    pub value_len: usize,
    /// The part of the payload (key, then value) kept in the page.
    pub local: &'a [u8],
    /// The first overflow page holding the rest of the payload, if it spilled.
    pub overflow: Option<u64>,
}

impl<'a> Cell<'a> {
    /// The key bytes kept in the page (all of it unless the key itself spilled).
    pub fn key_prefix(&self) -> &'a [u8] {
        &self.local[..self.key_len.min(self.local.len())]
    }

    /// The key, when all of it is in the page.
    pub fn whole_key(&self) -> Option<&'a [u8]> {
        (self.key_len <= self.local.len()).then(|| &self.local[..self.key_len])
    }

    /// The value, when all of it is in the page.
    pub fn inline_value(&self) -> Option<&'a [u8]> {
        self.overflow
            .is_none()
            .then(|| &self.local[self.key_len..self.key_len + self.value_len])
    }
}

/// How many payload bytes a leaf cell keeps in a page of `page_size` bytes, and whether
/// the rest spills to overflow pages.
pub fn leaf_local_len(page_size: usize, key_len: usize, value_len: usize) -> (usize, bool) {
    let max = max_local(page_size);
    if key_len + value_len <= max {
        (key_len + value_len, false)
    } else {
        (key_len.min(max), true)
    }
}

/// How many key bytes an internal cell keeps in a page, and whether the rest spills.
pub fn internal_local_len(page_size: usize, key_len: usize) -> (usize, bool) {
    let max = max_local(page_size);
    (key_len.min(max), key_len > max)
}

/// A page's bytes: its own (being changed), shared and frozen (read into the pool), or a
/// slice of the mapped database file. Shared and mapped pages are copied out on the first
/// change.
#[derive(Clone, Debug)]
pub enum PageBuf {
    /// Bytes of its own.
    Owned(Vec<u8>),
    /// Heap bytes nobody changes: keys and values handed out are slices of them.
    Shared(Bytes),
    /// A slice of a mapping, whose bytes a checkpoint may overwrite once no snapshot
    /// reads them: keys and values handed out are copies.
    Mapped(Bytes),
}

impl std::ops::Deref for PageBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            PageBuf::Owned(v) => v,
            PageBuf::Shared(b) | PageBuf::Mapped(b) => b,
        }
    }
}

impl std::ops::DerefMut for PageBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        if let PageBuf::Shared(b) | PageBuf::Mapped(b) = self {
            *self = PageBuf::Owned(b.to_vec());
        }
        match self {
            PageBuf::Owned(v) => v,
            PageBuf::Shared(_) | PageBuf::Mapped(_) => unreachable!("just copied out"),
        }
    }
}

impl PageBuf {
    /// `part` (a slice of these bytes) as `Bytes` a caller may keep: a slice of shared
    /// bytes, else a copy.
    pub fn hand_out(&self, part: &[u8]) -> Bytes {
        match self {
            PageBuf::Shared(b) => b.slice_ref(part),
            PageBuf::Owned(_) | PageBuf::Mapped(_) => Bytes::copy_from_slice(part),
        }
    }

    /// Freezes owned bytes into shared ones (for a page entering the pool).
    pub fn freeze(self) -> Self {
        match self {
            PageBuf::Owned(v) => PageBuf::Shared(Bytes::from(v)),
            other => other,
        }
    }

    /// Shared bytes: owned ones frozen, mapped ones copied out once, so that what is
    /// handed out of them is a slice each rather than a copy each (for a scan, which
    /// hands out every key and value of a leaf: one copy of 4 KiB, not 50 allocations).
    pub fn into_shared(self) -> Self {
        match self {
            PageBuf::Mapped(b) => PageBuf::Shared(Bytes::copy_from_slice(&b)),
            other => other.freeze(),
        }
    }
}

impl PartialEq for PageBuf {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for PageBuf {}

impl From<Vec<u8>> for PageBuf {
    fn from(v: Vec<u8>) -> Self {
        PageBuf::Owned(v)
    }
}

/// Reads one byte of every cache line of `data` now, in one burst: the misses overlap, and
/// each line is in cache when the page's cells are met later in whatever order. (Here a
/// real load beats a prefetch (`crate::prefetch::prefetch_lines`) for a page not read
/// before: a scan that prefetched the next leaf as it entered a leaf ran at 3.5M–6.1M
/// keys/s, one that loads each leaf's lines as it enters it at 5.2M–7.6M, in alternating
/// runs.)
#[inline]
pub fn load_lines(data: &[u8]) {
    let mut fold = 0u8;
    for at in (0..data.len()).step_by(64) {
        fold ^= data[at];
    }
    std::hint::black_box(fold);
}

/// Bytes a page can be read from: a [`PageBuf`], or a borrowed slice (a mapped page read
/// in place, or a view of another page).
pub trait PageBytes: std::ops::Deref<Target = [u8]> {
    /// `part` (a slice of these bytes) as `Bytes` a caller may keep.
    fn hand_out(&self, part: &[u8]) -> Bytes;
}

impl PageBytes for PageBuf {
    fn hand_out(&self, part: &[u8]) -> Bytes {
        PageBuf::hand_out(self, part)
    }
}

impl PageBytes for &[u8] {
    /// A borrowed page may go away (or be overwritten, if mapped): a copy.
    fn hand_out(&self, part: &[u8]) -> Bytes {
        Bytes::copy_from_slice(part)
    }
}

/// One page's bytes, with accessors that check every offset they follow. Pages being
/// changed own their bytes ([`PageBuf`]); a search may read a page through a borrowed
/// slice (`Page<&[u8]>`), which costs no allocation and no reference count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<B = PageBuf> {
    /// The page number.
    pub number: u64,
    /// `page_size` bytes.
    pub data: B,
}

fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

impl<B: PageBytes> Page<B> {
    /// `part` (a slice of this page) as `Bytes` a caller may keep.
    pub fn hand_out(&self, part: &[u8]) -> Bytes {
        self.data.hand_out(part)
    }

    /// Page `number` over `data` read from `offset` of `file`, its checksum and header
    /// checked unless `verify` is false (a mapped page checked before).
    pub fn from_bytes(
        number: u64,
        data: B,
        file: &Path,
        offset: u64,
        verify: bool,
    ) -> Result<Self> {
        let bad =
            |detail: String| Error::corruption(file, offset, format!("page {number}: {detail}"));
        if verify {
            let stored = u32_at(&data, 0) as u32;
            let computed = crc32fast::hash(&data[4..]);
            if !crate::format::coding::checksum_ok(stored, computed) {
                return Err(bad(format!(
                    "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )));
            }
        }
        let page = Page { number, data };
        if verify {
            page.check().map_err(|d| bad(d.to_string()))?;
        }
        Ok(page)
    }

    /// The header's promises: a known kind, slots and content inside the page, every slot
    /// pointing into the content area.
    fn check(&self) -> std::result::Result<(), &'static str> {
        let kind = PageKind::from_u8(self.data[4]).ok_or("unknown page kind")?;
        if matches!(kind, PageKind::Overflow | PageKind::Free) {
            // Written with no slots: one that claims some would send a reader of its cells
            // anywhere in the page.
            return match self.cells() {
                0 => Ok(()),
                _ => Err("an overflow or free page with slots"),
            };
        }
        let size = self.data.len();
        let slots_end = HEADER + 2 * self.cells();
        let content = self.content();
        if slots_end > content || content > size || self.garbage() > size {
            return Err("header offsets out of range");
        }
        for i in 0..self.cells() {
            let at = self.slot(i);
            if at < content || at >= size {
                return Err("slot points outside the content area");
            }
        }
        Ok(())
    }

    /// The page's hole: the free gap between the slot array and the cells of a tree
    /// page, everything after the header of a free page, nothing in an overflow page.
    /// `(start, len)`. Every page written is zero there ([`Page::zero_hole`]), so a WAL
    /// delta need not compare these bytes where two pages' holes overlap.
    pub fn hole(&self) -> (usize, usize) {
        let size = self.data.len();
        match self.kind() {
            PageKind::Leaf | PageKind::Internal => {
                let start = HEADER + 2 * self.cells();
                let end = self.content();
                if start <= end && end <= size {
                    (start, end - start)
                } else {
                    (start.min(size), 0)
                }
            }
            PageKind::Free => (HEADER, size - HEADER),
            PageKind::Overflow => (size, 0),
        }
    }

    /// The page's kind (checked at decode).
    pub fn kind(&self) -> PageKind {
        PageKind::from_u8(self.data[4]).unwrap_or(PageKind::Free)
    }

    /// Number of cells.
    pub fn cells(&self) -> usize {
        u16_at(&self.data, 6)
    }

    fn content(&self) -> usize {
        u32_at(&self.data, 8)
    }

    fn garbage(&self) -> usize {
        u32_at(&self.data, 12)
    }

    /// The link field (next leaf, rightmost child, next overflow or free page).
    pub fn link(&self) -> u64 {
        u64::from_le_bytes(self.data[16..24].try_into().expect("8 bytes"))
    }

    fn slot(&self, i: usize) -> usize {
        u16_at(&self.data, HEADER + 2 * i)
    }

    /// Bytes free for a new cell and its slot, counting garbage a defragment would win.
    pub fn free_space(&self) -> usize {
        self.content() - (HEADER + 2 * self.cells()) + self.garbage()
    }

    /// Bytes used by cells and slots.
    pub fn used(&self) -> usize {
        self.data.len() - HEADER - self.free_space()
    }

    fn cell_bytes(&self, i: usize) -> &[u8] {
        &self.data[self.slot(i)..]
    }

    fn corrupt(&self, detail: &str) -> Error {
        let offset = self.number * self.data.len() as u64;
        Error::corruption(
            "btree page",
            offset,
            format!("page {}: {detail}", self.number),
        )
    }

    /// Cell `i`, decoded and bounds-checked.
    pub fn cell(&self, i: usize) -> Result<Cell<'_>> {
        if i >= self.cells() {
            return Err(self.corrupt("cell index past the slot array"));
        }
        let bytes = self.cell_bytes(i);
        match self.short_leaf_cell(bytes) {
            Some(cell) => Ok(cell),
            None => self.decode_cell(bytes),
        }
    }

    /// Decodes the cell at the start of `bytes` (any kind, any lengths).
    fn decode_cell<'a>(&self, bytes: &'a [u8]) -> Result<Cell<'a>> {
        let path = Path::new("btree page");
        let mut r = Reader::new(bytes, path, self.number);
        let internal = self.kind() == PageKind::Internal;
        let child = if internal { r.u64()? } else { 0 };
        let key_len = r.len(crate::MAX_KEY_LEN)?;
        let value_len = if internal {
            0
        } else {
            r.len(crate::MAX_VALUE_LEN)?
        };
        let page_size = self.data.len();
        let (local_len, spilled) = if internal {
            internal_local_len(page_size, key_len)
        } else {
            leaf_local_len(page_size, key_len, value_len)
        };
        if key_len == 0 {
            return Err(self.corrupt("empty key in a cell"));
        }
        let local = r
            .bytes(local_len)
            .map_err(|_| self.corrupt("cell runs past the page"))?;
        let overflow = if spilled {
            let first = r
                .u64()
                .map_err(|_| self.corrupt("cell runs past the page"))?;
            if first == 0 {
                return Err(self.corrupt("spilled cell without an overflow page"));
            }
            Some(first)
        } else {
            None
        };
        Ok(Cell {
            child,
            key_len,
            value_len,
            local,
            overflow,
        })
    }

    /// The common leaf cell, decoded without a [`Reader`]: both lengths one-byte varints
    /// and the payload kept whole in the page. `None` for anything else, which
    /// [`Page::cell`] then decodes the long way.
    #[inline]
    fn short_leaf_cell<'a>(&self, bytes: &'a [u8]) -> Option<Cell<'a>> {
        if self.kind() != PageKind::Leaf {
            return None;
        }
        let (&k, &v) = (bytes.first()?, bytes.get(1)?);
        let (k, v) = (usize::from(k), usize::from(v));
        if k >= 0x80 || v >= 0x80 || k == 0 || k + v > max_local(self.data.len()) {
            return None;
        }
        Some(Cell {
            child: 0,
            key_len: k,
            value_len: v,
            local: bytes.get(2..2 + k + v)?,
            overflow: None,
        })
    }

    /// The encoded bytes of cell `i`.
    pub fn raw_cell(&self, i: usize) -> Result<&[u8]> {
        let len = self.cell_len(i)?;
        Ok(&self.cell_bytes(i)[..len])
    }

    /// The child of internal cell `i` (holding keys below the cell's key).
    pub fn child(&self, i: usize) -> Result<u64> {
        let at = self.slot(i);
        match self.data.get(at..at + 8) {
            Some(b) if i < self.cells() => Ok(u64::from_le_bytes(b.try_into().expect("8 bytes"))),
            _ => Ok(self.cell(i)?.child),
        }
    }

    /// The key bytes cell `i` keeps in the page, and whether they are the whole key: the
    /// hot path of every search, parsed without building a [`Cell`] when the lengths are
    /// one-byte varints.
    #[inline]
    pub fn key_in_page(&self, i: usize) -> Result<(&[u8], bool)> {
        let max = max_local(self.data.len());
        let at = self.slot(i);
        let d = &self.data[..];
        let fast = if self.kind() == PageKind::Internal {
            match d.get(at + 8) {
                Some(&k) if k < 0x80 && k > 0 => {
                    let k = usize::from(k);
                    d.get(at + 9..at + 9 + k.min(max))
                        .map(|key| (key, k <= max))
                }
                _ => None,
            }
        } else {
            match (d.get(at), d.get(at + 1)) {
                (Some(&k), Some(&v)) if k < 0x80 && v < 0x80 && k > 0 => {
                    let (k, v) = (usize::from(k), usize::from(v));
                    let local = if k + v <= max { k } else { k.min(max) };
                    d.get(at + 2..at + 2 + local).map(|key| (key, k == local))
                }
                _ => None,
            }
        };
        match fast {
            Some(found) if i < self.cells() => Ok(found),
            _ => {
                let cell = self.cell(i)?;
                Ok((cell.key_prefix(), cell.whole_key().is_some()))
            }
        }
    }

    /// The child pointer at position `i` of an internal page: cell `i`'s child, or the
    /// rightmost child (`link`) at `i == cells()`.
    pub fn pointer(&self, i: usize) -> Result<u64> {
        if i < self.cells() {
            self.child(i)
        } else {
            Ok(self.link())
        }
    }

    /// The encoded length of cell `i`.
    fn cell_len(&self, i: usize) -> Result<usize> {
        let c = self.cell(i)?;
        let start = self.slot(i);
        let local_end = c.local.as_ptr() as usize - self.data.as_ptr() as usize + c.local.len();
        Ok(local_end - start + if c.overflow.is_some() { 8 } else { 0 })
    }

    /// Whether a cell of `len` bytes fits (after a defragment if need be).
    pub fn fits(&self, len: usize) -> bool {
        len + 2 <= self.free_space()
    }

    /// Every cell's bytes, in order (for splits and merges).
    pub fn all_cells(&self) -> Result<Cells> {
        // Room for one more cell besides: a split adds the one that did not fit.
        let mut cells = Cells {
            bytes: Vec::with_capacity(self.data.len()),
            ends: Vec::with_capacity(self.cells() + 1),
        };
        for i in 0..self.cells() {
            cells.push(self.raw_cell(i)?);
        }
        Ok(cells)
    }
}

/// Cells lifted out of pages for a split, a merge or a share: their bytes one after
/// another in one buffer, and where each ends. Moving a page's cells costs two
/// allocations, not one per cell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cells {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Cells {
    /// How many cells.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Cell `i`'s bytes.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// Cells `range`, in order.
    pub fn iter(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = &[u8]> {
        range.map(|i| self.get(i))
    }

    /// Bytes cells `range` take in a page, slots included.
    pub fn page_bytes(&self, range: std::ops::Range<usize>) -> usize {
        if range.is_empty() {
            return 0;
        }
        let start = if range.start == 0 {
            0
        } else {
            self.ends[range.start - 1]
        };
        self.ends[range.end - 1] - start + 2 * range.len()
    }

    /// Adds `cell` after the last.
    pub fn push(&mut self, cell: &[u8]) {
        self.bytes.extend_from_slice(cell);
        self.ends.push(self.bytes.len());
    }

    /// Puts `cell` in place `i`, after the `i` cells before it.
    pub fn insert(&mut self, i: usize, cell: &[u8]) {
        let at = if i == 0 { 0 } else { self.ends[i - 1] };
        self.bytes.splice(at..at, cell.iter().copied());
        for end in &mut self.ends[i..] {
            *end += cell.len();
        }
        self.ends.insert(i, at + cell.len());
    }

    /// Adds `other`'s cells after these.
    pub fn extend(&mut self, other: &Cells) {
        let base = self.bytes.len();
        self.bytes.extend_from_slice(&other.bytes);
        self.ends.extend(other.ends.iter().map(|end| base + end));
    }
}

impl Page {
    /// A fresh, empty page of `kind`.
    pub fn new(number: u64, size: usize, kind: PageKind) -> Page {
        let mut data = vec![0u8; size];
        data[4] = kind as u8;
        data[8..12].copy_from_slice(&(size as u32).to_le_bytes());
        Page {
            number,
            data: data.into(),
        }
    }

    /// Checks the checksum and the header of page `number` read from `file`.
    pub fn decode(number: u64, data: impl Into<PageBuf>, file: &Path) -> Result<Page> {
        let data = data.into();
        let offset = number * data.len() as u64;
        Page::decode_at(number, data, file, offset)
    }

    /// [`Page::decode`] for a page read from `offset` of `file` (a WAL image, say).
    pub fn decode_at(
        number: u64,
        data: impl Into<PageBuf>,
        file: &Path,
        offset: u64,
    ) -> Result<Page> {
        Page::from_bytes(number, data.into(), file, offset, true)
    }

    /// Zeroes the hole, so that every page written holds only zeros there.
    pub fn zero_hole(&mut self) {
        let (start, len) = self.hole();
        self.data[start..start + len].fill(0);
    }

    /// Freezes the page's own bytes into shared ones (see [`PageBuf::freeze`]).
    pub fn freeze(&mut self) {
        self.data = std::mem::replace(&mut self.data, PageBuf::Owned(Vec::new())).freeze();
    }

    /// Sets the checksum; call before writing the page out.
    pub fn seal(&mut self) {
        let crc = crc32fast::hash(&self.data[4..]);
        self.data[0..4].copy_from_slice(&crc.to_le_bytes());
    }

    fn set_cells(&mut self, n: usize) {
        self.data[6..8].copy_from_slice(&(n as u16).to_le_bytes());
    }

    fn set_content(&mut self, at: usize) {
        self.data[8..12].copy_from_slice(&(at as u32).to_le_bytes());
    }

    fn set_garbage(&mut self, n: usize) {
        self.data[12..16].copy_from_slice(&(n as u32).to_le_bytes());
    }

    /// Sets the link field.
    pub fn set_link(&mut self, page: u64) {
        self.data[16..24].copy_from_slice(&page.to_le_bytes());
    }

    /// Sets the child pointer at position `i` (see [`Page::pointer`]).
    pub fn set_pointer(&mut self, i: usize, child: u64) {
        if i < self.cells() {
            self.set_child(i, child);
        } else {
            self.set_link(child);
        }
    }

    /// Points internal cell `i` at another child.
    pub fn set_child(&mut self, i: usize, child: u64) {
        let at = self.slot(i);
        self.data[at..at + 8].copy_from_slice(&child.to_le_bytes());
    }

    /// Points cell `i`, whose payload spilled, at another first overflow page.
    pub fn set_overflow(&mut self, i: usize, first: u64) -> Result<()> {
        if self.cell(i)?.overflow.is_none() {
            return Err(Error::corruption(
                "btree",
                self.number,
                format!("page {}: cell {i} has no overflow pointer", self.number),
            ));
        }
        let end = self.slot(i) + self.cell_len(i)?;
        self.data[end - 8..end].copy_from_slice(&first.to_le_bytes());
        Ok(())
    }

    /// Encodes a leaf cell: `local` is the payload part kept in the page (see
    /// [`leaf_local_len`]), `overflow` the chain holding the rest.
    pub fn leaf_cell(
        key_len: usize,
        value_len: usize,
        local: &[u8],
        overflow: Option<u64>,
    ) -> Vec<u8> {
        let mut cell = Vec::with_capacity(local.len() + 16);
        put_varint(&mut cell, key_len as u64);
        put_varint(&mut cell, value_len as u64);
        cell.extend_from_slice(local);
        if let Some(first) = overflow {
            cell.extend_from_slice(&first.to_le_bytes());
        }
        cell
    }

    /// Encodes a leaf cell whose key and value both stay in the page.
    pub fn inline_leaf_cell(key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut cell = Vec::with_capacity(key.len() + value.len() + 4);
        put_varint(&mut cell, key.len() as u64);
        put_varint(&mut cell, value.len() as u64);
        cell.extend_from_slice(key);
        cell.extend_from_slice(value);
        cell
    }

    /// Encodes an internal cell (see [`internal_local_len`]).
    pub fn internal_cell(
        child: u64,
        key_len: usize,
        local: &[u8],
        overflow: Option<u64>,
    ) -> Vec<u8> {
        let mut cell = Vec::with_capacity(local.len() + 20);
        cell.extend_from_slice(&child.to_le_bytes());
        put_varint(&mut cell, key_len as u64);
        cell.extend_from_slice(local);
        if let Some(first) = overflow {
            cell.extend_from_slice(&first.to_le_bytes());
        }
        cell
    }

    /// Inserts `cell` at slot `i`; `false` if it does not fit.
    pub fn insert(&mut self, i: usize, cell: &[u8]) -> Result<bool> {
        if !self.fits(cell.len()) {
            return Ok(false);
        }
        let slots_end = HEADER + 2 * self.cells();
        if self.content() - slots_end < cell.len() + 2 {
            self.defragment()?;
        }
        let at = self.content() - cell.len();
        self.data[at..at + cell.len()].copy_from_slice(cell);
        self.set_content(at);
        let n = self.cells();
        let slots = HEADER + 2 * i;
        self.data.copy_within(slots..HEADER + 2 * n, slots + 2);
        self.data[slots..slots + 2].copy_from_slice(&(at as u16).to_le_bytes());
        self.set_cells(n + 1);
        Ok(true)
    }

    /// Removes cell `i`.
    pub fn remove(&mut self, i: usize) -> Result<()> {
        let len = self.cell_len(i)?;
        let n = self.cells();
        let slots = HEADER + 2 * i;
        self.data.copy_within(slots + 2..HEADER + 2 * n, slots);
        self.set_cells(n - 1);
        self.set_garbage(self.garbage() + len);
        Ok(())
    }

    /// Packs the live cells against the end of the page, so all free space is one gap.
    pub fn defragment(&mut self) -> Result<()> {
        // Cells are read from a copy of the page as it was, and packed into the page.
        let before = Page {
            number: self.number,
            data: &self.data.to_vec()[..],
        };
        let mut at = self.data.len();
        for i in 0..before.cells() {
            let cell = before.raw_cell(i)?;
            at -= cell.len();
            self.data[at..at + cell.len()].copy_from_slice(cell);
            let s = HEADER + 2 * i;
            self.data[s..s + 2].copy_from_slice(&(at as u16).to_le_bytes());
        }
        self.set_content(at);
        self.set_garbage(0);
        Ok(())
    }

    /// Empties the page, keeping its kind and link.
    pub fn clear(&mut self) {
        let size = self.data.len();
        self.set_cells(0);
        self.set_content(size);
        self.set_garbage(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(size: usize) -> Page {
        Page::new(3, size, PageKind::Leaf)
    }

    fn keys(p: &Page) -> Vec<Vec<u8>> {
        (0..p.cells())
            .map(|i| p.cell(i).unwrap().whole_key().unwrap().to_vec())
            .collect()
    }

    #[test]
    fn lifted_cells_insert_extend_and_count_their_bytes() {
        let mut cells = Cells::default();
        assert!(cells.is_empty());
        cells.push(b"bb");
        cells.push(b"dddd");
        cells.insert(0, b"a");
        cells.insert(2, b"ccc");
        cells.insert(4, b"");
        let mut more = Cells::default();
        more.push(b"ee");
        cells.extend(&more);
        let all: Vec<&[u8]> = cells.iter(0..cells.len()).collect();
        assert_eq!(all, [&b"a"[..], b"bb", b"ccc", b"dddd", b"", b"ee"]);
        assert_eq!(cells.get(3), b"dddd");
        assert_eq!(cells.page_bytes(1..3), 2 + 3 + 2 * 2);
        assert_eq!(cells.page_bytes(0..6), 12 + 2 * 6);
        assert_eq!(cells.page_bytes(2..2), 0);
        let mut p = leaf(4096);
        for (i, k) in [b"q", b"r", b"s"].iter().enumerate() {
            p.insert(i, &Page::inline_leaf_cell(*k, b"v")).unwrap();
        }
        let lifted = p.all_cells().unwrap();
        assert_eq!(lifted.len(), 3);
        assert_eq!(lifted.get(1), p.raw_cell(1).unwrap());
    }

    #[test]
    fn cells_keep_slot_order_and_round_trip() {
        let mut p = leaf(4096);
        for (slot, k) in [(0, b"m".as_slice()), (0, b"a"), (2, b"z"), (1, b"c")] {
            let cell = Page::inline_leaf_cell(k, &[k[0]; 10]);
            assert!(p.insert(slot, &cell).unwrap());
        }
        assert_eq!(
            keys(&p),
            [b"a".to_vec(), b"c".to_vec(), b"m".to_vec(), b"z".to_vec()]
        );
        assert_eq!(p.cell(2).unwrap().inline_value(), Some(&[b'm'; 10][..]));
        // A spilled cell keeps the key prefix and names its chain.
        let (local, spilled) = leaf_local_len(4096, 3, 1 << 20);
        assert!(spilled);
        assert_eq!(local, 3);
        p.insert(1, &Page::leaf_cell(3, 1 << 20, b"big", Some(77)))
            .unwrap();
        let c = p.cell(1).unwrap();
        assert_eq!(
            (c.key_prefix(), c.value_len, c.overflow),
            (&b"big"[..], 1 << 20, Some(77))
        );
        assert_eq!(c.inline_value(), None);
        assert_eq!(p.raw_cell(1).unwrap().len(), 1 + 3 + 3 + 8);
    }

    #[test]
    fn the_worked_example_in_formats_md() {
        assert_eq!(
            Page::inline_leaf_cell(b"k1", b"abc"),
            [0x02, 0x03, 0x6b, 0x31, 0x61, 0x62, 0x63]
        );
        assert_eq!((max_local(512), max_local(4096)), (98, 994));
    }

    #[test]
    fn long_keys_keep_a_prefix_in_small_pages() {
        let max = max_local(512);
        assert!(max * 4 + 4 * 2 <= 512 - HEADER, "four cells fit any page");
        let key = vec![7u8; 1000];
        let (local, spilled) = internal_local_len(512, key.len());
        assert!(spilled && local == max);
        let mut p = Page::new(4, 512, PageKind::Internal);
        p.insert(
            0,
            &Page::internal_cell(9, key.len(), &key[..local], Some(12)),
        )
        .unwrap();
        let c = p.cell(0).unwrap();
        assert_eq!((c.child, c.key_len, c.overflow), (9, 1000, Some(12)));
        assert_eq!(c.key_prefix(), &key[..max]);
        assert_eq!(c.whole_key(), None);
        p.set_child(0, 33);
        assert_eq!(p.child(0).unwrap(), 33);
    }

    #[test]
    fn removing_and_refilling_reuses_space() {
        let mut p = leaf(512);
        let cell = |i: u8| Page::inline_leaf_cell(&[i + 1], &[i; 40]);
        let mut n = 0u8;
        while p.insert(n as usize, &cell(n)).unwrap() {
            n += 1;
        }
        assert!(n > 5);
        let full = p.free_space();
        for _ in 0..n {
            p.remove(0).unwrap();
        }
        assert_eq!(p.cells(), 0);
        assert!(p.free_space() > full);
        // The space of the removed cells comes back through defragmentation.
        for i in 0..n {
            assert!(
                p.insert(i as usize, &cell(i)).unwrap(),
                "cell {i} fits again"
            );
        }
        assert_eq!(keys(&p), (1..=n).map(|i| vec![i]).collect::<Vec<_>>());
    }

    #[test]
    fn a_mapped_page_made_shared_hands_out_slices_of_one_copy() {
        let mapping = Bytes::from(vec![7u8; 1024]);
        let mapped = PageBuf::Mapped(mapping.slice(512..));
        let copy = mapped.hand_out(&mapped[10..20]);
        assert!(
            !std::ptr::eq(copy.as_ptr(), mapped[10..].as_ptr()),
            "a copy each"
        );
        let shared = mapped.into_shared();
        assert!(matches!(shared, PageBuf::Shared(_)));
        assert!(
            !std::ptr::eq(shared.as_ptr(), mapping[512..].as_ptr()),
            "copied out"
        );
        let a = shared.hand_out(&shared[10..20]);
        assert!(
            std::ptr::eq(a.as_ptr(), shared[10..].as_ptr()),
            "a slice of the copy"
        );
        assert_eq!(&a[..], &[7u8; 10]);
        let owned = PageBuf::Owned(vec![1, 2, 3]).into_shared();
        assert!(matches!(owned, PageBuf::Shared(_)));
    }

    /// Found by the fuzz target `decode_page`: an overflow page (its checksum right)
    /// whose header claimed slots passed decoding, and reading a cell of it indexed past
    /// the page.
    #[test]
    fn an_overflow_page_with_slots_is_corruption() {
        let mut p = Page::new(5, 512, PageKind::Overflow);
        p.data[6..8].copy_from_slice(&3u16.to_le_bytes());
        p.data[HEADER..HEADER + 2].copy_from_slice(&60_000u16.to_le_bytes());
        p.seal();
        assert!(matches!(
            Page::decode(5, p.data.clone(), Path::new("db")),
            Err(Error::Corruption { .. })
        ));
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let mut p = leaf(512);
        p.insert(0, &Page::inline_leaf_cell(b"key", b"value"))
            .unwrap();
        p.seal();
        assert!(Page::decode(3, p.data.clone(), Path::new("db")).is_ok());
        for at in 0..p.data.len() {
            let mut bad = p.data.clone();
            bad[at] ^= 0x10;
            assert!(
                matches!(
                    Page::decode(3, bad, Path::new("db")),
                    Err(Error::Corruption { .. })
                ),
                "byte {at}"
            );
        }
    }

    #[test]
    fn garbage_with_a_good_checksum_never_panics() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for round in 0..2000 {
            let mut p = if round % 2 == 0 {
                leaf(512)
            } else {
                Page::new(3, 512, PageKind::Internal)
            };
            let cell = if round % 2 == 0 {
                Page::inline_leaf_cell(b"key", b"value")
            } else {
                Page::internal_cell(5, 3, b"key", None)
            };
            p.insert(0, &cell).unwrap();
            // Scramble a few header or cell bytes, then make the checksum match.
            for _ in 0..(round % 6 + 1) {
                let at = (rng.next_u32() as usize) % p.data.len();
                p.data[at] = rng.next_u32() as u8;
            }
            p.seal();
            if let Ok(mut page) = Page::decode(3, p.data.clone(), Path::new("db")) {
                for i in 0..page.cells() + 1 {
                    let _ = page.cell(i);
                    let _ = page.raw_cell(i);
                }
                let _ = page.all_cells();
                let _ = page.insert(0, b"0123456789");
                if page.cells() > 0 {
                    let _ = page.remove(0);
                }
                let _ = page.defragment();
            }
        }
    }

    #[test]
    fn the_short_leaf_cell_path_decodes_as_the_long_one() {
        let mut page = Page::new(1, 4096, PageKind::Leaf);
        let sizes = [
            (1, 0),
            (16, 100),
            (5, 122),
            (127, 127),
            (127, 300),
            (200, 20),
            (16, 2000),
        ];
        for (i, &(k, v)) in sizes.iter().enumerate() {
            let key = vec![b'a' + i as u8; k];
            let (local, spilled) = leaf_local_len(4096, k, v);
            let overflow = spilled.then_some(77);
            let payload: Vec<u8> = key
                .iter()
                .copied()
                .chain(std::iter::repeat_n(9, v))
                .collect();
            let cell = Page::leaf_cell(k, v, &payload[..local], overflow);
            assert!(page.insert(i, &cell).unwrap());
        }
        let mut short = 0;
        for i in 0..page.cells() {
            let bytes = page.cell_bytes(i);
            let long = page.decode_cell(bytes).unwrap();
            if let Some(fast) = page.short_leaf_cell(bytes) {
                assert_eq!(fast, long, "cell {i}");
                short += 1;
            }
            assert_eq!(page.cell(i).unwrap(), long);
        }
        assert_eq!(
            short, 4,
            "cells with one-byte lengths, kept whole, take the short path"
        );
    }
}
