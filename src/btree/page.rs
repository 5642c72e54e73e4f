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
//! leaf cell      key_len varint | tag u8 (0 inline, 1 overflow) | key |
//!                inline:   value_len varint | value
//!                overflow: value_len u32 | first overflow page u64
//! internal cell  child u64 | key_len varint | key      (child holds keys < key)
//! overflow page  header (kind 3, link = next) | bytes from offset 24 to the page end
//! ```
//!
//! Deleting a cell only drops its slot and counts its bytes as garbage; an insert that
//! does not fit the free gap compacts the cells first (`defragment`).

use crate::error::{Error, Result};
use crate::lsm::coding::{Reader, put_varint};
use std::path::Path;

/// Bytes of the page header before the slot array.
pub const HEADER: usize = 4 + 1 + 1 + 2 + 4 + 4 + 8;
/// Smallest and largest page sizes.
pub const MIN_PAGE: usize = 512;
/// Largest page size.
pub const MAX_PAGE: usize = 64 << 10;

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

/// Where a leaf's value lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafValue<'a> {
    /// In the cell.
    Inline(&'a [u8]),
    /// In a chain of overflow pages starting at `first`.
    Overflow {
        /// The value's length.
        len: u32,
        /// The first page of the chain.
        first: u64,
    },
}

/// One page's bytes, with accessors that check every offset they follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// The page number.
    pub number: u64,
    /// `page_size` bytes.
    pub data: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

impl Page {
    /// A fresh, empty page of `kind`.
    pub fn new(number: u64, size: usize, kind: PageKind) -> Page {
        let mut data = vec![0u8; size];
        data[4] = kind as u8;
        data[8..12].copy_from_slice(&(size as u32).to_le_bytes());
        Page { number, data }
    }

    /// Checks the checksum and the header of page `number` read from `file`.
    pub fn decode(number: u64, data: Vec<u8>, file: &Path) -> Result<Page> {
        let size = data.len();
        let offset = number * size as u64;
        let bad =
            |detail: String| Error::corruption(file, offset, format!("page {number}: {detail}"));
        let stored = u32_at(&data, 0) as u32;
        let computed = crc32fast::hash(&data[4..]);
        if stored != computed {
            return Err(bad(format!(
                "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            )));
        }
        let page = Page { number, data };
        page.check().map_err(|d| bad(d.to_string()))?;
        Ok(page)
    }

    /// The header's promises: a known kind, slots and content inside the page, every slot
    /// pointing into the content area.
    fn check(&self) -> std::result::Result<(), &'static str> {
        let kind = PageKind::from_u8(self.data[4]).ok_or("unknown page kind")?;
        if matches!(kind, PageKind::Overflow | PageKind::Free) {
            return Ok(());
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

    /// Sets the checksum; call before writing the page out.
    pub fn seal(&mut self) {
        let crc = crc32fast::hash(&self.data[4..]);
        self.data[0..4].copy_from_slice(&crc.to_le_bytes());
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

    fn set_cells(&mut self, n: usize) {
        self.data[6..8].copy_from_slice(&(n as u16).to_le_bytes());
    }

    fn set_content(&mut self, at: usize) {
        self.data[8..12].copy_from_slice(&(at as u32).to_le_bytes());
    }

    fn set_garbage(&mut self, n: usize) {
        self.data[12..16].copy_from_slice(&(n as u32).to_le_bytes());
    }

    /// The link field (next leaf, rightmost child, next overflow or free page).
    pub fn link(&self) -> u64 {
        u64::from_le_bytes(self.data[16..24].try_into().expect("8 bytes"))
    }

    /// Sets the link field.
    pub fn set_link(&mut self, page: u64) {
        self.data[16..24].copy_from_slice(&page.to_le_bytes());
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

    fn cell(&self, i: usize) -> &[u8] {
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

    /// The key of cell `i` (leaf or internal).
    pub fn key(&self, i: usize) -> Result<&[u8]> {
        let cell = self.cell(i);
        let path = Path::new("page");
        let mut r = Reader::new(cell, path, self.number);
        if self.kind() == PageKind::Internal {
            r.u64()?;
        }
        let len = r.len(crate::MAX_KEY_LEN)?;
        if self.kind() == PageKind::Leaf {
            r.u8()?;
        }
        let at = r.position();
        r.bytes(len)
            .map_err(|_| self.corrupt("key runs past the page"))?;
        Ok(&cell[at..at + len])
    }

    /// The value of leaf cell `i`.
    pub fn value(&self, i: usize) -> Result<LeafValue<'_>> {
        let cell = self.cell(i);
        let mut r = Reader::new(cell, Path::new("page"), self.number);
        let klen = r.len(crate::MAX_KEY_LEN)?;
        let tag = r.u8()?;
        r.bytes(klen)?;
        match tag {
            0 => {
                let vlen = r.len(self.data.len())?;
                let at = r.position();
                r.bytes(vlen)
                    .map_err(|_| self.corrupt("value runs past the page"))?;
                Ok(LeafValue::Inline(&cell[at..at + vlen]))
            }
            1 => Ok(LeafValue::Overflow {
                len: r.u32()?,
                first: r.u64()?,
            }),
            _ => Err(self.corrupt("unknown leaf value tag")),
        }
    }

    /// The child of internal cell `i` (holding keys below the cell's key).
    pub fn child(&self, i: usize) -> Result<u64> {
        let cell = self.cell(i);
        if cell.len() < 8 {
            return Err(self.corrupt("internal cell runs past the page"));
        }
        Ok(u64::from_le_bytes(cell[..8].try_into().expect("8 bytes")))
    }

    /// The first slot whose key is at or after `key`, and whether it is equal.
    pub fn search(&self, key: &[u8]) -> Result<(usize, bool)> {
        let (mut lo, mut hi) = (0, self.cells());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.key(mid)?.cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Equal => return Ok((mid, true)),
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        Ok((lo, false))
    }

    /// Encodes a leaf cell.
    pub fn leaf_cell(key: &[u8], value: LeafValue<'_>) -> Vec<u8> {
        let mut cell = Vec::with_capacity(key.len() + 16);
        put_varint(&mut cell, key.len() as u64);
        match value {
            LeafValue::Inline(v) => {
                cell.push(0);
                cell.extend_from_slice(key);
                put_varint(&mut cell, v.len() as u64);
                cell.extend_from_slice(v);
            }
            LeafValue::Overflow { len, first } => {
                cell.push(1);
                cell.extend_from_slice(key);
                cell.extend_from_slice(&len.to_le_bytes());
                cell.extend_from_slice(&first.to_le_bytes());
            }
        }
        cell
    }

    /// Encodes an internal cell.
    pub fn internal_cell(child: u64, key: &[u8]) -> Vec<u8> {
        let mut cell = Vec::with_capacity(key.len() + 12);
        cell.extend_from_slice(&child.to_le_bytes());
        put_varint(&mut cell, key.len() as u64);
        cell.extend_from_slice(key);
        cell
    }

    /// The encoded length of cell `i`.
    fn cell_len(&self, i: usize) -> Result<usize> {
        let cell = self.cell(i);
        let mut r = Reader::new(cell, Path::new("page"), self.number);
        match self.kind() {
            PageKind::Internal => {
                r.u64()?;
                let k = r.len(crate::MAX_KEY_LEN)?;
                r.bytes(k)?;
            }
            _ => {
                let k = r.len(crate::MAX_KEY_LEN)?;
                let tag = r.u8()?;
                r.bytes(k)?;
                if tag == 0 {
                    let v = r.len(self.data.len())?;
                    r.bytes(v)?;
                } else {
                    r.bytes(12)?;
                }
            }
        }
        Ok(r.position())
    }

    /// Whether a cell of `len` bytes fits (after a defragment if need be).
    pub fn fits(&self, len: usize) -> bool {
        len + 2 <= self.free_space()
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
        let cells: Vec<Vec<u8>> = (0..self.cells())
            .map(|i| Ok(self.cell(i)[..self.cell_len(i)?].to_vec()))
            .collect::<Result<_>>()?;
        let mut at = self.data.len();
        for (i, cell) in cells.iter().enumerate() {
            at -= cell.len();
            self.data[at..at + cell.len()].copy_from_slice(cell);
            let s = HEADER + 2 * i;
            self.data[s..s + 2].copy_from_slice(&(at as u16).to_le_bytes());
        }
        self.set_content(at);
        self.set_garbage(0);
        Ok(())
    }

    /// Every cell's bytes, in order (for splits and merges).
    pub fn all_cells(&self) -> Result<Vec<Vec<u8>>> {
        (0..self.cells())
            .map(|i| Ok(self.cell(i)[..self.cell_len(i)?].to_vec()))
            .collect()
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

    #[test]
    fn cells_stay_in_key_order_and_round_trip() {
        let mut p = leaf(4096);
        for k in [b"m".as_slice(), b"a", b"z", b"c"] {
            let (i, found) = p.search(k).unwrap();
            assert!(!found);
            let cell = Page::leaf_cell(k, LeafValue::Inline(&[k[0]; 10]));
            assert!(p.insert(i, &cell).unwrap());
        }
        let keys: Vec<&[u8]> = (0..p.cells()).map(|i| p.key(i).unwrap()).collect();
        assert_eq!(keys, [b"a".as_slice(), b"c", b"m", b"z"]);
        assert_eq!(p.value(2).unwrap(), LeafValue::Inline(&[b'm'; 10]));
        assert_eq!(p.search(b"m").unwrap(), (2, true));
        let big = Page::leaf_cell(
            b"big",
            LeafValue::Overflow {
                len: 1 << 20,
                first: 77,
            },
        );
        let (i, _) = p.search(b"big").unwrap();
        p.insert(i, &big).unwrap();
        assert_eq!(
            p.value(i).unwrap(),
            LeafValue::Overflow {
                len: 1 << 20,
                first: 77
            }
        );
    }

    #[test]
    fn removing_and_refilling_reuses_space() {
        let mut p = leaf(512);
        let cell = |i: u8| Page::leaf_cell(&[i], LeafValue::Inline(&[i; 40]));
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
    }

    #[test]
    fn internal_cells_carry_children() {
        let mut p = Page::new(1, 1024, PageKind::Internal);
        p.insert(0, &Page::internal_cell(5, b"k")).unwrap();
        p.set_link(9);
        assert_eq!(
            (p.child(0).unwrap(), p.key(0).unwrap(), p.link()),
            (5, &b"k"[..], 9)
        );
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let mut p = leaf(512);
        p.insert(0, &Page::leaf_cell(b"key", LeafValue::Inline(b"value")))
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
            let mut p = leaf(512);
            p.insert(0, &Page::leaf_cell(b"key", LeafValue::Inline(b"value")))
                .unwrap();
            // Scramble a few header or cell bytes, then make the checksum match.
            for _ in 0..(round % 6 + 1) {
                let at = (rng.next_u32() as usize) % p.data.len();
                p.data[at] = rng.next_u32() as u8;
            }
            p.seal();
            if let Ok(page) = Page::decode(3, p.data.clone(), Path::new("db")) {
                for i in 0..page.cells() {
                    let _ = page.key(i);
                    let _ = page.value(i);
                    let _ = page.child(i);
                }
                let _ = page.search(b"k");
                let _ = page.all_cells();
            }
        }
    }
}
