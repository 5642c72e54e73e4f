//! A cursor over one sorted level (1 and below): its tables hold disjoint key ranges in
//! order, so the level reads as one long table, opening each table's cursor in turn.

use std::sync::Arc;

use bytes::Bytes;

use super::ikey;
use super::iter::InternalIterator;
use super::sstable::reader::TableIter;
use super::version::TableFile;
use crate::error::Result;

/// The concatenation of a level's tables.
pub struct LevelIter {
    tables: Vec<Arc<TableFile>>,
    index: usize,
    current: Option<TableIter>,
}

impl LevelIter {
    /// Over `tables`, sorted by key with disjoint ranges.
    pub fn new(tables: Vec<Arc<TableFile>>) -> Self {
        LevelIter {
            tables,
            index: 0,
            current: None,
        }
    }

    /// Opens table `index` at its first entry, and moves on past empty tables. `refills`
    /// says how far the scan has read ahead so far: a scan going on from one table to the
    /// next reads the next in windows as large as it had reached.
    fn open_from(&mut self, mut index: usize, refills: u32) -> Result<()> {
        self.current = None;
        while index < self.tables.len() {
            let mut it = self.tables[index].reader.iter_after(refills);
            it.seek_to_first()?;
            if it.valid() {
                if let Some(next) = self.tables.get(index + 1) {
                    // A long scan: the device reads the start of the next table while
                    // this one is parsed (each table began with a wait on the device).
                    next.reader.prefetch_start(refills);
                }
                self.index = index;
                self.current = Some(it);
                return Ok(());
            }
            index += 1;
        }
        self.index = index;
        Ok(())
    }
}

impl InternalIterator for LevelIter {
    fn valid(&self) -> bool {
        self.current.as_ref().is_some_and(InternalIterator::valid)
    }

    fn key(&self) -> &[u8] {
        self.current.as_ref().map_or(&[], |c| c.key())
    }

    fn value(&self) -> Bytes {
        self.current
            .as_ref()
            .map_or_else(Bytes::new, InternalIterator::value)
    }

    fn next(&mut self) -> Result<()> {
        if let Some(c) = &mut self.current {
            c.next()?;
            if !c.valid() {
                let (next, refills) = (self.index + 1, c.refills());
                self.open_from(next, refills)?;
            }
        }
        Ok(())
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        let i = self
            .tables
            .partition_point(|t| ikey::cmp_encoded(&t.meta.largest, target).is_lt());
        self.current = None;
        self.index = i;
        if let Some(t) = self.tables.get(i) {
            let mut it = t.reader.iter();
            it.seek(target)?;
            if it.valid() {
                self.current = Some(it);
            } else {
                self.open_from(i + 1, 0)?;
            }
        }
        Ok(())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.open_from(0, 0)
    }
}
