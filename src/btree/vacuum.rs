//! Vacuum: giving the free pages back to the file system.
//!
//! A B-tree's file does not shrink by itself: a page freed by a delete, a merge or a
//! shorter value goes on the free list and waits for the next allocation. When a settle
//! finds a thirty-second or more of the file free, one transaction moves every page in use
//! that lies past the file's new end (`page_count - free_count`) into a free page before
//! it, points whatever pointed at it (the header's root, a parent's child pointer, a
//! cell's overflow pointer, a leaf's or overflow page's link) at the new place, and
//! leaves the free list empty. The transaction commits through the WAL like any other, so
//! a crash keeps all of it or none; once the checkpoint has written it, the file is cut
//! to its new length (`Pager::shrink`), unless an older snapshot still reads past it.
//!
//! ```text
//! before:  [hdr][ A ][free][ B ][free][ C ][ D ]      page_count 7, free_count 2
//! after:   [hdr][ A ][ D ][ B ][ C ]                  page_count 5, free_count 0
//!                     ^ moved     ^ moved
//! ```

use super::access::PageRead;
use super::page::PageKind;
use super::pager::DbHeader;
use super::tree::corrupt;
use super::txn::{Txn, tree_bytes};
use crate::error::Result;
use crate::format::intmap::IntMap;

/// Whether a settle should vacuum a store with `header`: a thirty-second of the file free.
pub fn worth_it(header: &DbHeader) -> bool {
    header.free_count > 0 && header.free_count.saturating_mul(32) >= header.page_count
}

/// A place that holds a page number.
#[derive(Clone, Copy, Debug)]
enum Pointer {
    /// The header's root.
    Root,
    /// Child pointer `i` of internal page `page` (`i == cells`: its rightmost child).
    Child { page: u64, i: usize },
    /// The first overflow page of cell `i` of `page`.
    Overflow { page: u64, i: usize },
    /// The link of `page`: the next leaf, or the next page of an overflow chain.
    Link { page: u64 },
}

impl Txn<'_> {
    /// Moves every page in use past the file's new end into the free pages before it and
    /// empties the free list; returns how many pages moved. Runs in a transaction of its
    /// own, before any other change.
    pub fn vacuum(&mut self) -> Result<u64> {
        let h = self.header;
        if h.free_count == 0 {
            return Ok(0);
        }
        let end = h
            .page_count
            .checked_sub(h.free_count)
            .filter(|&end| end >= 1)
            .ok_or_else(|| corrupt(0, "more free pages than pages"))?;
        // The free pages before the end: where the pages past it go.
        let mut holes = Vec::new();
        let (mut next, mut listed) = (h.free_head, 0u64);
        while next != 0 {
            if listed == h.free_count {
                return Err(corrupt(next, "the free list is longer than its count"));
            }
            let page = self.read_uncached(next)?;
            if page.kind() != PageKind::Free {
                return Err(corrupt(next, "the free list points at a page in use"));
            }
            if next < end {
                holes.push(next);
            }
            listed += 1;
            next = page.link();
        }
        if listed != h.free_count {
            return Err(corrupt(
                h.free_head,
                "the free list is shorter than its count",
            ));
        }
        // Every pointer at a page past the end, found by walking the whole tree.
        let mut pointers: Vec<(u64, Pointer)> = Vec::new();
        let mut note = |n: u64, at: Pointer| {
            if n >= end {
                pointers.push((n, at));
            }
        };
        let mut stack = Vec::new();
        if h.root != 0 {
            note(h.root, Pointer::Root);
            stack.push(h.root);
        }
        let mut visited = 0u64;
        while let Some(n) = stack.pop() {
            visited += 1;
            if visited > h.page_count {
                return Err(corrupt(
                    n,
                    "the tree reaches more pages than the file holds",
                ));
            }
            let page = self.read_uncached(n)?;
            let kind = page.kind();
            if !matches!(kind, PageKind::Leaf | PageKind::Internal) {
                return Err(corrupt(
                    n,
                    "a tree pointer to a page that is not a tree page",
                ));
            }
            for i in 0..page.cells() {
                let Some(first) = page.cell(i)?.overflow else {
                    continue;
                };
                note(first, Pointer::Overflow { page: n, i });
                // The chain's links; its length is the cell's to check, not the vacuum's.
                let mut link = first;
                while link != 0 {
                    visited += 1;
                    if visited > h.page_count {
                        return Err(corrupt(link, "an overflow chain longer than the file"));
                    }
                    let chain = self.read_uncached(link)?;
                    if chain.kind() != PageKind::Overflow {
                        return Err(corrupt(link, "a chain page that is not an overflow page"));
                    }
                    let after = chain.link();
                    if after != 0 {
                        note(after, Pointer::Link { page: link });
                    }
                    link = after;
                }
            }
            if kind == PageKind::Internal {
                for i in 0..=page.cells() {
                    let child = page.pointer(i)?;
                    note(child, Pointer::Child { page: n, i });
                    stack.push(child);
                }
            } else if page.link() != 0 {
                note(page.link(), Pointer::Link { page: n });
            }
        }
        // Each page past the end moves into a hole, in order.
        let mut movers: Vec<u64> = pointers.iter().map(|&(n, _)| n).collect();
        movers.sort_unstable();
        movers.dedup();
        if movers.len() != holes.len() {
            return Err(corrupt(
                0,
                format!(
                    "{} pages in use past page {end} but {} free pages before it",
                    movers.len(),
                    holes.len()
                ),
            ));
        }
        holes.sort_unstable();
        let moved: IntMap<u64, u64> = movers.iter().copied().zip(holes).collect();
        let new_place = |n: u64| moved.get(&n).copied().unwrap_or(n);
        for (&from, &to) in &moved {
            let page = self.read_uncached(from)?;
            self.header.tree_bytes = self
                .header
                .tree_bytes
                .saturating_sub(tree_bytes(&page) as u64);
            self.page_mut(to)?.data.copy_from_slice(&page.data);
        }
        for (n, at) in pointers {
            let to = new_place(n);
            match at {
                Pointer::Root => self.header.root = to,
                Pointer::Child { page, i } => self.page_mut(new_place(page))?.set_pointer(i, to),
                Pointer::Overflow { page, i } => {
                    self.page_mut(new_place(page))?.set_overflow(i, to)?
                }
                Pointer::Link { page } => self.page_mut(new_place(page))?.set_link(to),
            }
        }
        self.header.page_count = end;
        self.header.free_head = 0;
        self.header.free_count = 0;
        Ok(moved.len() as u64)
    }
}
