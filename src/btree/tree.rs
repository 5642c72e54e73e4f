//! The B+tree's shape and search: how a key finds its leaf (cells, separators, the path
//! down), and point gets.
//!
//! Leaves hold the keys and values and are linked left to right (`link` = next leaf).
//! An internal node's cell `(child, key)` sends keys below `key` to `child`; keys at or
//! above its last key go to `link`, the rightmost child. A separator is the first key of
//! the right half when a node splits, so every key in a child lies in
//! `[separator before it, separator after it)`.
//!
//! Changes happen inside a transaction (`txn.rs`); ordered reads go through a cursor
//! (`cursor.rs`).

use std::cmp::Ordering;

use std::sync::Arc;

use bytes::Bytes;

use super::access::PageRead;
use super::overflow;
use super::page::{Cell, Page, PageBytes, PageKind};
use crate::error::{Error, Result};
use crate::format::coding::cmp_bytes;

/// Deepest tree the code follows before calling the file corrupt (a 512-byte page holds
/// at least four children, so 1024-byte keys would need far more keys than fit a disk).
pub const MAX_HEIGHT: usize = 48;

pub(super) fn corrupt(page: u64, detail: impl Into<String>) -> Error {
    Error::corruption("btree", page, format!("page {page}: {}", detail.into()))
}

/// The whole key of a cell, following its overflow chain if the key spilled.
pub fn full_key(src: &dyn PageRead, cell: &Cell<'_>) -> Result<Vec<u8>> {
    if let Some(key) = cell.whole_key() {
        return Ok(key.to_vec());
    }
    let mut key = cell.key_prefix().to_vec();
    let first = cell
        .overflow
        .ok_or_else(|| corrupt(0, "spilled key without a chain"))?;
    let rest = cell.key_len - key.len();
    overflow::read(src, first, rest, false, &mut key)?;
    Ok(key)
}

/// The value of a leaf cell of `page`, following its overflow chain if it spilled.
pub fn value<B: PageBytes>(src: &dyn PageRead, page: &Page<B>, cell: &Cell<'_>) -> Result<Bytes> {
    if let Some(v) = cell.inline_value() {
        return Ok(page.hand_out(v));
    }
    let first = cell
        .overflow
        .ok_or_else(|| corrupt(0, "spilled value without a chain"))?;
    let chained = cell.key_len + cell.value_len - cell.local.len();
    let mut payload = Vec::with_capacity(chained);
    overflow::read(src, first, chained, true, &mut payload)?;
    let key_rest = cell.key_len - cell.key_prefix().len();
    Ok(Bytes::from(payload).slice(key_rest..))
}

/// How cell `i`'s key compares with `key`.
#[inline]
pub(super) fn compare<B: PageBytes>(
    src: &dyn PageRead,
    page: &Page<B>,
    i: usize,
    key: &[u8],
) -> Result<Ordering> {
    let (prefix, whole) = page.key_in_page(i)?;
    if whole {
        return Ok(cmp_bytes(prefix, key));
    }
    let n = prefix.len().min(key.len());
    match prefix[..n].cmp(&key[..n]) {
        Ordering::Equal if key.len() <= prefix.len() => Ok(Ordering::Greater),
        Ordering::Equal => Ok(full_key(src, &page.cell(i)?)?.as_slice().cmp(key)),
        other => Ok(other),
    }
}

/// The first cell whose key is at or after `key` (`strict`: after), and whether the key
/// at that position equals `key`.
pub(super) fn bound<B: PageBytes>(
    src: &dyn PageRead,
    page: &Page<B>,
    key: &[u8],
    strict: bool,
) -> Result<(usize, bool)> {
    let (mut lo, mut hi) = (0, page.cells());
    let mut equal = false;
    while lo < hi {
        let mid = (lo + hi) / 2;
        match compare(src, page, mid, key)? {
            Ordering::Less => lo = mid + 1,
            Ordering::Equal if strict => lo = mid + 1,
            Ordering::Equal => {
                hi = mid;
                equal = true;
            }
            Ordering::Greater => hi = mid,
        }
    }
    Ok((lo, equal && !strict))
}

/// The child of internal `page` that holds `key`, and its position (`cells()` = link).
pub(super) fn child_for<B: PageBytes>(
    src: &dyn PageRead,
    page: &Page<B>,
    key: &[u8],
) -> Result<(usize, u64)> {
    let (i, _) = bound(src, page, key, true)?;
    Ok((i, page.pointer(i)?))
}

/// The shortest key `s` with `last < s <= first` (for `last < first`): the prefix of
/// `first` one byte past where the two differ. Internal nodes then hold a few bytes per
/// separator instead of whole keys, so more children fit a page and the tree is lower
/// (suffix truncation, as in Bayer and Unterauer's prefix B-trees).
pub fn shortest_separator<'a>(last: &[u8], first: &'a [u8]) -> &'a [u8] {
    let differ = last
        .iter()
        .zip(first)
        .position(|(a, b)| a != b)
        .unwrap_or(last.len());
    &first[..(differ + 1).min(first.len())]
}

/// How full bulk loading fills a page, in percent: room is left for later inserts.
pub const BULK_FILL_PERCENT: usize = 90;

/// A node built by bulk loading: its page and the first and last keys below it.
pub(super) struct Span {
    pub(super) page: u64,
    pub(super) first: Vec<u8>,
    pub(super) last: Vec<u8>,
}

/// One step of a root-to-leaf path: an internal page and the child position taken.
#[derive(Clone, Copy, Debug)]
pub(super) struct Step {
    pub(super) page: u64,
    pub(super) at: usize,
    /// Whether every step so far, this one included, took the rightmost child.
    pub(super) rightmost: bool,
}

/// The path from `root` down to the leaf that holds `key`. A writer passes the tree's
/// `height`, so the leaf it will change is read without entering the cache.
pub(super) fn descend(
    src: &dyn PageRead,
    root: u64,
    key: &[u8],
    height: Option<u64>,
) -> Result<(Vec<Step>, Arc<Page>)> {
    let mut path = Vec::new();
    let mut n = root;
    let mut rightmost = true;
    loop {
        let page = if height == Some(path.len() as u64 + 1) {
            src.read_uncached(n)?
        } else {
            src.read(n)?
        };
        match page.kind() {
            PageKind::Leaf => return Ok((path, page)),
            PageKind::Internal => {
                let (at, child) = child_for(src, &page, key)?;
                rightmost &= at == page.cells();
                path.push(Step {
                    page: n,
                    at,
                    rightmost,
                });
                if path.len() > MAX_HEIGHT {
                    return Err(corrupt(n, "the tree is deeper than any real tree"));
                }
                n = child;
            }
            other => {
                return Err(corrupt(
                    n,
                    format!("a tree link points at a {other:?} page"),
                ));
            }
        }
    }
}

/// Looks `key` up in the tree rooted at `root`.
///
/// Pages the source can lend are read in place; a get from a mapped file then costs no
/// allocation but the value it returns.
pub fn get(src: &dyn PageRead, root: u64, key: &[u8]) -> Result<Option<Bytes>> {
    if root == 0 {
        return Ok(None);
    }
    let mut n = root;
    for _ in 0..=MAX_HEIGHT {
        let step = match src.lend(n) {
            Some(page) => search_step(src, &page?, key)?,
            None => search_step(src, &*src.read(n)?, key)?,
        };
        match step {
            SearchStep::Down(child) => n = child,
            SearchStep::Found(value) => return Ok(value),
        }
    }
    Err(corrupt(n, "the tree is deeper than any real tree"))
}

/// Where a search goes from one page.
pub(super) enum SearchStep {
    /// To this child.
    Down(u64),
    /// Nowhere: this leaf holds the key's value, or shows it has none.
    Found(Option<Bytes>),
}

pub(super) fn search_step<B: PageBytes>(
    src: &dyn PageRead,
    page: &Page<B>,
    key: &[u8],
) -> Result<SearchStep> {
    crate::prefetch::prefetch_lines(&page.data);
    match page.kind() {
        PageKind::Internal => Ok(SearchStep::Down(child_for(src, page, key)?.1)),
        PageKind::Leaf => {
            let (i, found) = bound(src, page, key, false)?;
            Ok(SearchStep::Found(if found {
                Some(value(src, page, &page.cell(i)?)?)
            } else {
                None
            }))
        }
        other => Err(corrupt(
            page.number,
            format!("a tree link points at a {other:?} page"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_separators_split_the_keys_between_them() {
        let cases: [(&[u8], &[u8], &[u8]); 5] = [
            (b"apple", b"banana", b"b"),
            (b"abc", b"abd", b"abd"),
            (b"ab", b"abc", b"abc"),
            (b"abcx", b"abd", b"abd"),
            (b"\x00\xff\x01", b"\x01", b"\x01"),
        ];
        for (last, first, want) in cases {
            let s = shortest_separator(last, first);
            assert_eq!(s, want);
            assert!(last < s && s <= first);
        }
    }
}
