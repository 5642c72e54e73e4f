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
    /// The children on an entry, in order: set by a seek, and a child leaves when a step
    /// takes it past its last entry. An exhausted child is not asked again (a settled
    /// tree's scan merges one level with an empty memtable: most steps compare nothing),
    /// and a step checks only the child it moved.
    live: Vec<usize>,
    current: Option<usize>,
}

impl MergeIter {
    /// Merges `children`, newest source first.
    pub fn new(children: Vec<Box<dyn InternalIterator>>) -> Self {
        MergeIter {
            live: Vec::with_capacity(children.len()),
            children,
            current: None,
        }
    }

    /// Makes the smallest key among the live children current.
    fn pick(&mut self) {
        let children = &self.children;
        self.current = match self.live.as_slice() {
            [] => None,
            [only] => Some(*only),
            live => {
                let mut best = live[0];
                for &i in &live[1..] {
                    if ikey::cmp_encoded(children[i].key(), children[best].key()).is_lt() {
                        best = i;
                    }
                }
                Some(best)
            }
        };
    }

    /// Counts as live the children a seek has just positioned on an entry.
    fn revive(&mut self) {
        self.live.clear();
        self.live
            .extend((0..self.children.len()).filter(|&i| self.children[i].valid()));
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
            // Only the current child moves: the others stay as live as they were.
            self.children[i].next()?;
            if !self.children[i].valid() {
                self.live.retain(|&c| c != i);
            }
        }
        self.pick();
        Ok(())
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        for child in &mut self.children {
            child.seek(target)?;
        }
        self.revive();
        self.pick();
        Ok(())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        for child in &mut self.children {
            child.seek_to_first()?;
        }
        self.revive();
        self.pick();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::ikey::Kind;

    /// A cursor over a sorted list of (user key, seq, value).
    struct ListIter {
        entries: Vec<(Vec<u8>, Bytes)>,
        pos: usize,
    }

    impl ListIter {
        fn boxed(items: &[(&str, u64, &str)]) -> Box<dyn InternalIterator> {
            let entries = items
                .iter()
                .map(|(k, seq, v)| {
                    let mut key = Vec::new();
                    ikey::encode(&mut key, k.as_bytes(), *seq, Kind::Put);
                    (key, Bytes::copy_from_slice(v.as_bytes()))
                })
                .collect();
            Box::new(ListIter { entries, pos: 0 })
        }
    }

    impl InternalIterator for ListIter {
        fn valid(&self) -> bool {
            self.pos < self.entries.len()
        }
        fn key(&self) -> &[u8] {
            &self.entries[self.pos].0
        }
        fn value(&self) -> Bytes {
            self.entries[self.pos].1.clone()
        }
        fn next(&mut self) -> Result<()> {
            self.pos += 1;
            Ok(())
        }
        fn seek(&mut self, target: &[u8]) -> Result<()> {
            self.pos = self
                .entries
                .partition_point(|(k, _)| ikey::cmp_encoded(k, target).is_lt());
            Ok(())
        }
        fn seek_to_first(&mut self) -> Result<()> {
            self.pos = 0;
            Ok(())
        }
    }

    fn drain(it: &mut MergeIter) -> Vec<String> {
        let mut out = Vec::new();
        while it.valid() {
            let (user, seq, _) = ikey::decode(it.key()).unwrap();
            let value = it.value();
            out.push(format!(
                "{}@{seq}={}",
                std::str::from_utf8(user).unwrap(),
                std::str::from_utf8(&value).unwrap()
            ));
            it.next().unwrap();
        }
        out
    }

    #[test]
    fn merges_in_order_and_children_exhausted_early_come_back_after_a_seek() {
        let mut it = MergeIter::new(vec![
            ListIter::boxed(&[("b", 9, "new")]),
            ListIter::boxed(&[]),
            ListIter::boxed(&[("a", 1, "x"), ("b", 2, "old"), ("c", 3, "y")]),
            // The same internal key as the first child's: the first child wins.
            ListIter::boxed(&[("b", 9, "shadowed"), ("d", 4, "z")]),
        ]);
        it.seek_to_first().unwrap();
        let all = [
            "a@1=x",
            "b@9=new",
            "b@9=shadowed",
            "b@2=old",
            "c@3=y",
            "d@4=z",
        ];
        assert_eq!(drain(&mut it), all);
        // Every child ran out; a seek brings back those with entries past the target.
        let mut target = Vec::new();
        ikey::encode(&mut target, b"b", ikey::MAX_SEQ, Kind::Put);
        it.seek(&target).unwrap();
        assert_eq!(drain(&mut it), all[1..]);
        it.seek_to_first().unwrap();
        assert_eq!(drain(&mut it), all);
    }
}
