//! Cursors over internal keys, and the merge of many into one.
//!
//! Every source of entries (memtable, table, level) is an [`InternalIterator`]: a cursor
//! positioned on one encoded internal key and its value. [`MergeIter`] merges sources in
//! internal-key order; on equal keys the source given first wins (sources go newest first).

use bytes::Bytes;

use super::ikey;
use crate::error::Result;

/// A cursor over entries in internal-key order.
pub trait InternalIterator: Send {
    /// Whether the cursor is on an entry.
    fn valid(&self) -> bool;
    /// The current encoded internal key.
    fn key(&self) -> &[u8];
    /// The current value.
    fn value(&self) -> Bytes;
    /// Moves to the next entry.
    fn next(&mut self) -> Result<()>;
    /// Moves to the first entry at or after the encoded internal key `target`.
    fn seek(&mut self, target: &[u8]) -> Result<()>;
    /// Moves to the first entry.
    fn seek_to_first(&mut self) -> Result<()>;
}

/// The merge of several cursors.
pub struct MergeIter {
    children: Vec<Box<dyn InternalIterator>>,
    current: Option<usize>,
}

impl MergeIter {
    /// Merges `children`, newest source first.
    pub fn new(children: Vec<Box<dyn InternalIterator>>) -> Self {
        MergeIter {
            children,
            current: None,
        }
    }

    fn pick(&mut self) {
        let mut best: Option<usize> = None;
        for (i, child) in self.children.iter().enumerate() {
            if !child.valid() {
                continue;
            }
            best = match best {
                Some(b) if ikey::cmp_encoded(self.children[b].key(), child.key()).is_le() => {
                    Some(b)
                }
                _ => Some(i),
            };
        }
        self.current = best;
    }
}

impl InternalIterator for MergeIter {
    fn valid(&self) -> bool {
        self.current.is_some()
    }

    fn key(&self) -> &[u8] {
        self.current.map_or(&[], |i| self.children[i].key())
    }

    fn value(&self) -> Bytes {
        self.current
            .map_or_else(Bytes::new, |i| self.children[i].value())
    }

    fn next(&mut self) -> Result<()> {
        if let Some(i) = self.current {
            self.children[i].next()?;
        }
        self.pick();
        Ok(())
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        for child in &mut self.children {
            child.seek(target)?;
        }
        self.pick();
        Ok(())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        for child in &mut self.children {
            child.seek_to_first()?;
        }
        self.pick();
        Ok(())
    }
}
