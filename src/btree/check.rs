//! The integrity checker: reads every page of one snapshot and proves the tree is a
//! B+tree — keys in order, every key between the separators above it, every leaf at the
//! same depth and linked to the next, every page reachable from the root or the free
//! list exactly once, and the header's counters true.

use super::access::PageRead;
use super::overflow;
use super::page::{HEADER, PageKind};
use super::pager::DbHeader;
use super::tree::{self, MAX_HEIGHT};
use crate::error::{Error, Result};

/// What the checker found, for `kvlab inspect` and the tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(serde::Serialize))]
pub struct Report {
    /// Levels of the tree.
    pub height: u64,
    /// Leaf pages.
    pub leaves: u64,
    /// Internal pages.
    pub internals: u64,
    /// Overflow pages.
    pub overflows: u64,
    /// Pages on the free list.
    pub free: u64,
    /// Keys.
    pub entries: u64,
    /// Leaves by fill, in tenths: `fill[3]` counts leaves 30% to 40% full.
    pub fill: [u64; 11],
    /// Bytes of cells and slots in tree pages.
    pub used_bytes: u64,
}

impl Report {
    /// Average fill of the tree's leaf and internal pages, 0 to 1.
    pub fn average_fill(&self, page_size: usize) -> f64 {
        let pages = self.leaves + self.internals;
        if pages == 0 {
            return 0.0;
        }
        self.used_bytes as f64 / (pages as f64 * (page_size - HEADER) as f64)
    }
}

struct Walk<'a> {
    src: &'a dyn PageRead,
    header: &'a DbHeader,
    seen: Vec<bool>,
    leaves: Vec<(u64, u64)>,
    report: Report,
}

fn bad(page: u64, detail: impl Into<String>) -> Error {
    Error::corruption(
        "btree check",
        page,
        format!("page {page}: {}", detail.into()),
    )
}

impl Walk<'_> {
    fn mark(&mut self, n: u64, what: &str) -> Result<()> {
        let slot = self
            .seen
            .get_mut(n as usize)
            .filter(|_| n != 0)
            .ok_or_else(|| bad(n, format!("{what} link outside the file")))?;
        if *slot {
            return Err(bad(n, format!("reached twice (as {what})")));
        }
        *slot = true;
        Ok(())
    }

    fn chain(&mut self, first: u64, len: usize) -> Result<()> {
        let mut n = first;
        for _ in 0..overflow::pages_for(self.src.page_size(), len) {
            self.mark(n, "overflow page")?;
            let page = self.src.read(n)?;
            if page.kind() != PageKind::Overflow {
                return Err(bad(n, "chain page is not an overflow page"));
            }
            self.report.overflows += 1;
            n = page.link();
        }
        if n != 0 {
            return Err(bad(first, "chain longer than its cell"));
        }
        Ok(())
    }

    fn visit(&mut self, n: u64, depth: u64, lo: Option<&[u8]>, hi: Option<&[u8]>) -> Result<()> {
        if depth as usize > MAX_HEIGHT {
            return Err(bad(n, "deeper than any real tree"));
        }
        self.mark(n, "tree")?;
        let page = self.src.read(n)?;
        let usable = self.src.page_size() - HEADER;
        self.report.used_bytes += page.used() as u64;
        let in_range = |key: &[u8]| lo.is_none_or(|lo| key >= lo) && hi.is_none_or(|hi| key < hi);
        let mut keys = Vec::with_capacity(page.cells());
        for i in 0..page.cells() {
            let cell = page.cell(i)?;
            let key = tree::full_key(self.src, &cell)?;
            if !in_range(&key) {
                return Err(bad(n, format!("key {i} outside the separators above it")));
            }
            if keys.last().is_some_and(|prev: &Vec<u8>| prev >= &key) {
                return Err(bad(n, format!("key {i} out of order")));
            }
            if let Some(first) = cell.overflow {
                self.chain(first, cell.key_len + cell.value_len - cell.local.len())?;
            }
            keys.push(key);
        }
        match page.kind() {
            PageKind::Leaf => {
                if depth != self.header.height {
                    return Err(bad(
                        n,
                        format!("leaf at depth {depth}, height {}", self.header.height),
                    ));
                }
                if depth > 1 && page.cells() == 0 {
                    return Err(bad(n, "empty leaf below the root"));
                }
                self.report.leaves += 1;
                self.report.entries += page.cells() as u64;
                self.report.fill[(page.used() * 10 / usable).min(10)] += 1;
                self.leaves.push((n, page.link()));
            }
            PageKind::Internal => {
                if page.cells() == 0 {
                    return Err(bad(n, "an internal node with one child"));
                }
                self.report.internals += 1;
                let mut below = lo.map(<[u8]>::to_vec);
                for (i, key) in keys.iter().enumerate() {
                    self.visit(page.child(i)?, depth + 1, below.as_deref(), Some(key))?;
                    below = Some(key.clone());
                }
                self.visit(page.link(), depth + 1, below.as_deref(), hi)?;
            }
            other => return Err(bad(n, format!("a {other:?} page inside the tree"))),
        }
        Ok(())
    }
}

/// Checks the tree and free list of one snapshot whose header is `header`.
pub fn check(src: &dyn PageRead, header: &DbHeader) -> Result<Report> {
    let mut walk = Walk {
        src,
        header,
        seen: vec![false; header.page_count as usize],
        leaves: Vec::new(),
        report: Report {
            height: header.height,
            ..Report::default()
        },
    };
    if header.root != 0 {
        walk.visit(header.root, 1, None, None)?;
    }
    for pair in walk.leaves.windows(2) {
        if pair[0].1 != pair[1].0 {
            return Err(bad(pair[0].0, "leaf's next link skips its right neighbour"));
        }
    }
    if let Some(&(last, link)) = walk.leaves.last()
        && link != 0
    {
        return Err(bad(last, "the last leaf links onward"));
    }
    let mut n = header.free_head;
    while n != 0 {
        walk.mark(n, "free list")?;
        let page = src.read(n)?;
        if page.kind() != PageKind::Free {
            return Err(bad(n, "a page on the free list is not free"));
        }
        walk.report.free += 1;
        n = page.link();
    }
    if let Some(lost) = walk.seen.iter().skip(1).position(|s| !s) {
        return Err(bad(
            lost as u64 + 1,
            "neither in the tree nor on the free list",
        ));
    }
    let r = &walk.report;
    let counted = (
        r.leaves,
        r.internals,
        r.overflows,
        r.free,
        r.entries,
        r.used_bytes,
    );
    let said = (
        header.leaves,
        header.internals,
        header.overflows,
        header.free_count,
        header.entries,
        header.tree_bytes,
    );
    if counted != said {
        return Err(bad(
            0,
            format!(
                "header counts (leaves, internals, overflows, free, entries) {said:?}, the tree has {counted:?}"
            ),
        ));
    }
    Ok(walk.report)
}
