//! A cursor: an ordered walk over the leaves from a key, reading ahead when the leaves come
//! from the device.

use std::sync::Arc;

use bytes::Bytes;

use super::access::PageRead;
use super::page::{self, Page, PageBuf, PageKind};
use super::tree::*;
use crate::error::Result;

/// Leaves a scan asks the file system for ahead of the one it reads.
const PREFETCH: usize = 8;

/// A leaf read slower than this came from the device, not the page cache.
const COLD_READ: std::time::Duration = std::time::Duration::from_micros(50);

/// A position in the leaves, moving right. It follows the leaf links, and keeps the
/// current leaf's parent so it can ask for the next few leaves before it needs them: the
/// leaves of a tree filled at random lie all over the file, and one read at a time would
/// wait for each (`PageRead::prefetch`). The first child of each parent is the one leaf
/// it cannot ask for early. It asks only once leaf reads have been slow: in a warm page
/// cache the hints are system calls for nothing (measured at 1M keys: a scan after the
/// cold phase 0.47–0.62M -> 1.5–1.7M keys/s; warm scans 15% slower when every leaf was
/// hinted, unchanged now).
pub struct Cursor {
    root: u64,
    leaf: Option<Arc<Page>>,
    at: usize,
    /// Leaves read, and how many of them slowly (from the device).
    reads: u32,
    slow_reads: u32,
    /// Whether leaves come from the device: from then on, they are asked for ahead.
    cold: bool,
    /// The leaf's parent, the leaf's position in it, and how far ahead leaves were asked for.
    parent: Option<(Arc<Page>, usize, usize)>,
}

impl Cursor {
    /// A cursor at the first key at or after `start` (`after`: strictly after), or at the
    /// first key when `start` is `None`.
    pub fn seek(src: &dyn PageRead, root: u64, start: Option<&[u8]>, after: bool) -> Result<Self> {
        let mut cursor = Cursor {
            root,
            leaf: None,
            at: 0,
            reads: 0,
            slow_reads: 0,
            cold: false,
            parent: None,
        };
        if root == 0 {
            return Ok(cursor);
        }
        // The empty key sorts before every key.
        let key = start.unwrap_or(&[]);
        let (path, leaf) = descend(src, root, key, None)?;
        cursor.at = bound(src, &leaf, key, after)?.0;
        cursor.leaf = Some(leaf);
        cursor.set_parent(src, path.last())?;
        Ok(cursor)
    }

    fn set_parent(&mut self, src: &dyn PageRead, step: Option<&Step>) -> Result<()> {
        self.parent = match step {
            Some(step) => Some((src.read(step.page)?, step.at, step.at)),
            None => None,
        };
        self.prefetch(src)
    }

    /// Asks for the leaves after the current one, up to [`PREFETCH`] ahead.
    fn prefetch(&mut self, src: &dyn PageRead) -> Result<()> {
        if !self.cold {
            return Ok(());
        }
        if let Some((parent, at, ahead)) = &mut self.parent {
            let last = (*at + PREFETCH).min(parent.cells());
            while *ahead < last {
                *ahead += 1;
                src.prefetch(parent.pointer(*ahead)?);
            }
        }
        Ok(())
    }

    /// The next pair, or `None` at the end of the tree.
    pub fn next(&mut self, src: &dyn PageRead) -> Result<Option<(Bytes, Bytes)>> {
        loop {
            let Some(leaf) = &self.leaf else {
                return Ok(None);
            };
            if self.at < leaf.cells() {
                let cell = leaf.cell(self.at)?;
                self.at += 1;
                let key = match cell.whole_key() {
                    Some(k) => leaf.data.hand_out(k),
                    None => Bytes::from(full_key(src, &cell)?),
                };
                return Ok(Some((key, value(src, leaf, &cell)?)));
            }
            let next = leaf.link();
            self.at = 0;
            if next == 0 {
                self.leaf = None;
                continue;
            }
            let started = std::time::Instant::now();
            let mut page = src.read_uncached(next)?;
            self.reads += 1;
            if started.elapsed() > COLD_READ {
                self.slow_reads += 1;
                // A few slow reads, and a good share of all: not a passing hiccup.
                self.cold |= self.slow_reads >= 4 && self.slow_reads * 4 >= self.reads;
            }
            if let Some(p) = Arc::get_mut(&mut page) {
                // Keys and values handed out become slices of the page.
                p.data = std::mem::replace(&mut p.data, PageBuf::Owned(Vec::new())).into_shared();
            }
            if page.kind() != PageKind::Leaf {
                return Err(corrupt(next, "a leaf's next link points at a non-leaf"));
            }
            // Step along the parent; past its last child, find the next parent from the root.
            let same_parent = match &mut self.parent {
                Some((parent, at, _))
                    if *at < parent.cells() && parent.pointer(*at + 1)? == next =>
                {
                    *at += 1;
                    true
                }
                _ => false,
            };
            if same_parent {
                self.prefetch(src)?;
            } else if page.cells() > 0 {
                let first = full_key(src, &page.cell(0)?)?;
                let (path, _) = descend(src, self.root, &first, None)?;
                self.set_parent(src, path.last())?;
            } else {
                self.parent = None;
            }
            // Its cells are met in slot order, which jumps about the page: fetch all of its
            // lines at once, so that their misses overlap rather than follow one another.
            page::load_lines(&page.data);
            self.leaf = Some(page);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::pager::DbHeader;
    use crate::btree::txn::Txn;
    use crate::format::intmap::IntMap;

    /// Pages in memory, recording the hints a cursor gives.
    struct Memory {
        pages: IntMap<u64, Arc<Page>>,
        hinted: std::sync::Mutex<Vec<u64>>,
    }

    impl PageRead for Memory {
        fn read(&self, n: u64) -> Result<Arc<Page>> {
            self.pages
                .get(&n)
                .cloned()
                .ok_or_else(|| corrupt(n, "no such page"))
        }

        fn prefetch(&self, n: u64) {
            self.hinted.lock().expect("not poisoned").push(n);
        }

        fn page_size(&self) -> usize {
            512
        }
    }

    #[test]
    fn a_cold_cursor_asks_for_each_leaf_before_it_reads_it() {
        let empty = Memory {
            pages: IntMap::default(),
            hinted: std::sync::Mutex::new(Vec::new()),
        };
        let mut txn = Txn::new(&empty, DbHeader::new(512));
        let key = |i: u32| format!("key{i:05}").into_bytes();
        for i in 0..3000 {
            txn.put(&key((i * 7919) % 3000), &[i as u8; 20]).unwrap();
        }
        let (header, changed) = txn.finish();
        assert!(header.height >= 3, "several parents: {header:?}");
        let memory = Memory {
            pages: changed
                .into_iter()
                .map(|c| (c.page.number, c.page))
                .collect(),
            hinted: std::sync::Mutex::new(Vec::new()),
        };
        let mut cursor = Cursor::seek(&memory, header.root, None, false).unwrap();
        cursor.cold = true;
        // (leaf, whether it is the first child of its parent)
        let mut leaves = vec![(cursor.leaf.as_ref().unwrap().number, true)];
        let mut count = 0u32;
        while let Some((k, _)) = cursor.next(&memory).unwrap() {
            assert_eq!(k, key(count));
            count += 1;
            let now = cursor.leaf.as_ref().map(|l| l.number);
            if let Some(n) = now
                && leaves.last().map(|l| l.0) != Some(n)
            {
                let first_child = cursor.parent.as_ref().is_some_and(|p| p.1 == 0);
                leaves.push((n, first_child));
            }
        }
        assert_eq!(count, 3000);
        // Every leaf was asked for before it was read, but the first child of each parent
        // (the cursor learns of it only on arriving there).
        let hinted = memory.hinted.lock().unwrap().clone();
        let parents = leaves.iter().filter(|l| l.1).count();
        assert!(
            parents >= 3 && parents * 4 < leaves.len(),
            "{parents} of {}",
            leaves.len()
        );
        for &(leaf, first_child) in &leaves[1..] {
            assert!(
                first_child || hinted.contains(&leaf),
                "leaf {leaf} was not asked for ahead"
            );
        }
        assert!(hinted.len() < leaves.len(), "each asked for once");
    }
}
