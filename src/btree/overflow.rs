//! Overflow chains: the part of a cell's payload that does not stay in its page.
//!
//! # Format (see docs/FORMATS.md)
//!
//! ```text
//! overflow page   page header (kind 3, link = next page of the chain, 0 at the end)
//!                 | payload bytes from offset 24 to the end of the page
//! ```
//!
//! A chain holds `n` bytes in `ceil(n / (page_size - 24))` pages; the cell that owns the
//! chain knows `n` (its key and value lengths), so the last page's unused tail is just
//! zeros. A chain belongs to exactly one cell: moving a cell between pages moves its
//! chain, and freeing the cell frees the chain.

use super::access::{PageRead, PageWrite};
use super::page::{HEADER, Page, PageKind};
use crate::error::{Error, Result};

/// Payload bytes one overflow page holds.
pub fn capacity(page_size: usize) -> usize {
    page_size - HEADER
}

/// Pages a chain of `len` bytes takes.
pub fn pages_for(page_size: usize, len: usize) -> u64 {
    len.div_ceil(capacity(page_size)) as u64
}

/// Writes `bytes` (not empty) into a new chain and returns its first page.
pub fn write(txn: &mut impl PageWrite, bytes: &[u8]) -> Result<u64> {
    let cap = capacity(txn.page_size());
    // Allocate front to back so each page can name its successor.
    let pieces: Vec<&[u8]> = bytes.chunks(cap).collect();
    let numbers: Vec<u64> = (0..pieces.len())
        .map(|_| txn.alloc(PageKind::Overflow))
        .collect::<Result<_>>()?;
    for (i, piece) in pieces.iter().enumerate() {
        let page = txn.page_mut(numbers[i])?;
        page.data[HEADER..HEADER + piece.len()].copy_from_slice(piece);
        page.set_link(numbers.get(i + 1).copied().unwrap_or(0));
    }
    Ok(numbers[0])
}

/// Appends `len` bytes of the chain starting at `first` to `out`; `whole` says they are
/// all of it (else a prefix: a spilled key, read without its value).
pub fn read(
    src: &dyn PageRead,
    first: u64,
    len: usize,
    whole: bool,
    out: &mut Vec<u8>,
) -> Result<()> {
    let cap = capacity(src.page_size());
    let mut next = first;
    let mut left = len;
    out.reserve(len);
    while left > 0 {
        let page = chain_page(src, next)?;
        let take = left.min(cap);
        out.extend_from_slice(&page.data[HEADER..HEADER + take]);
        left -= take;
        next = page.link();
        if whole && left == 0 && next != 0 {
            return Err(chain_error(
                page.number,
                "chain is longer than its cell says",
            ));
        }
    }
    Ok(())
}

/// Frees the chain of `len` bytes starting at `first`.
pub fn free(txn: &mut impl PageWrite, first: u64, len: usize) -> Result<()> {
    let mut next = first;
    for _ in 0..pages_for(txn.page_size(), len) {
        let link = chain_page(txn, next)?.link();
        txn.free(next, PageKind::Overflow)?;
        next = link;
    }
    Ok(())
}

fn chain_page(src: &dyn PageRead, n: u64) -> Result<std::sync::Arc<Page>> {
    if n == 0 {
        return Err(chain_error(0, "chain ends before its cell's length"));
    }
    let page = src.read(n)?;
    if page.kind() != PageKind::Overflow {
        return Err(chain_error(
            n,
            "chain points at a page that is not an overflow page",
        ));
    }
    Ok(page)
}

fn chain_error(page: u64, detail: &str) -> Error {
    Error::corruption(
        "btree overflow chain",
        page,
        format!("page {page}: {detail}"),
    )
}
