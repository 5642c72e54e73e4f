//! How the tree reaches its pages: [`PageRead`] for a snapshot or a transaction,
//! [`PageWrite`] for a transaction that changes them. The tree and the overflow chains
//! both work through these, so neither needs the other's types.

use std::sync::Arc;

use super::page::{Page, PageKind};
use crate::error::Result;

/// Something pages can be read from: a snapshot, or a transaction on top of one.
pub trait PageRead {
    /// Page `n`.
    fn read(&self, n: u64) -> Result<Arc<Page>>;
    /// Tells the source that page `n` will be read soon (a hint; the default ignores it).
    fn prefetch(&self, _n: u64) {}

    /// Page `n` without putting it in a cache: for a writer about to copy and change it,
    /// or a scan passing through (which would push the hot pages out).
    fn read_uncached(&self, n: u64) -> Result<Arc<Page>> {
        self.read(n)
    }
    /// Page `n` read in place, without an allocation or a reference count, when the source
    /// can lend it (a page of a mapped file); `None` when it cannot (then use `read`).
    fn lend(&self, _n: u64) -> Option<Result<Page<&[u8]>>> {
        None
    }
    /// Bytes per page.
    fn page_size(&self) -> usize;
    /// An empty buffer with room for a page, for a writer's copy of one (a source may
    /// have spare ones, which spares the allocator).
    fn page_buffer(&self) -> Vec<u8> {
        Vec::with_capacity(self.page_size())
    }
}

/// Something pages can be changed in: a transaction.
pub trait PageWrite: PageRead {
    /// A fresh page of `kind`, from the free list or the end of the file.
    fn alloc(&mut self, kind: PageKind) -> Result<u64>;
    /// Page `n`, copied into the transaction to be changed.
    fn page_mut(&mut self, n: u64) -> Result<&mut Page>;
    /// Puts page `n`, which held a `kind` page, on the free list.
    fn free(&mut self, n: u64, kind: PageKind) -> Result<()>;
}
