//! The B+tree engine's knobs.

use crate::error::{Error, Result};
use crate::format::size::parse_size;

/// The smallest page size a store may be made with.
pub const MIN_PAGE: usize = 512;
/// The largest page size a store may be made with.
pub const MAX_PAGE: usize = 64 << 10;

/// Checks a page size option.
pub fn check_page_size(page_size: usize) -> Result<()> {
    if !page_size.is_power_of_two() || !(MIN_PAGE..=MAX_PAGE).contains(&page_size) {
        return Err(Error::invalid(format!(
            "page size {page_size}: a power of two from {MIN_PAGE} to {MAX_PAGE}"
        )));
    }
    Ok(())
}

/// The B+tree's knobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BTreeOptions {
    /// Bytes per page for a new store: a power of two, 512 B to 64 KiB. An existing
    /// store keeps the page size it was made with.
    pub page_size: usize,
    /// Bytes of the buffer pool (clean pages of the database file).
    pub pool_size: usize,
    /// A checkpoint starts when the WAL grows past this many bytes, at the latest. A
    /// larger WAL costs disk space while writes go on (settle empties it) and a longer
    /// replay after a crash.
    pub wal_limit: u64,
    /// A checkpoint starts when the pages changed since the last one, kept in memory
    /// until it writes them, pass this many bytes. Each checkpoint writes every page
    /// changed since the last, so more room writes a page once for more changes, at the
    /// price of memory: up to twice this (the pages of the cycle being checkpointed and
    /// of the one being written).
    pub dirty_limit: u64,
    /// Read database pages through a memory map of the file (as LMDB does) instead of
    /// pread into the buffer pool; pages changed since the last checkpoint are read from
    /// memory either way.
    pub mmap_reads: bool,
    /// Copy a finished WAL cycle into the database file on a thread of its own while
    /// commits go on into the other WAL file, rather than in the commit that ended the
    /// cycle.
    pub background_checkpoints: bool,
}

impl Default for BTreeOptions {
    fn default() -> Self {
        BTreeOptions {
            page_size: 4096,
            pool_size: 8 << 20,
            wal_limit: 256 << 20,
            dirty_limit: 256 << 20,
            mmap_reads: false,
            background_checkpoints: true,
        }
    }
}

impl BTreeOptions {
    /// Small pages and small WAL and dirty-page limits, so splits, merges and checkpoints
    /// happen all the time in tests.
    pub fn tiny() -> Self {
        BTreeOptions {
            page_size: 512,
            pool_size: 16 << 10,
            wal_limit: 32 << 10,
            dirty_limit: 16 << 10,
            mmap_reads: false,
            background_checkpoints: true,
        }
    }

    /// Sets one knob by name (as `kvlab bench --set btree.NAME=VALUE` spells it).
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let size = || parse_size(value);
        match name {
            "page_size" => self.page_size = size()? as usize,
            "pool_size" => self.pool_size = size()? as usize,
            "wal_limit" => self.wal_limit = size()?,
            "dirty_limit" => self.dirty_limit = size()?,
            "mmap_reads" => self.mmap_reads = flag(name, value)?,
            "background_checkpoints" => self.background_checkpoints = flag(name, value)?,
            _ => {
                return Err(Error::invalid(format!(
                    "unknown btree option '{name}' (page_size, pool_size, wal_limit, \
                     dirty_limit, mmap_reads, background_checkpoints)"
                )));
            }
        }
        Ok(())
    }

    /// Checks the knobs make sense.
    pub fn validate(&self) -> Result<()> {
        check_page_size(self.page_size)
    }
}

/// A true-or-false knob's value.
fn flag(name: &str, value: &str) -> Result<bool> {
    value
        .parse()
        .map_err(|_| Error::invalid(format!("btree.{name} is true or false, not '{value}'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_page_sizes_are_refused() {
        for bad in [0, 256, 1000, 4097, 128 << 10] {
            assert!(check_page_size(bad).is_err(), "{bad}");
        }
        for good in [512, 1024, 4096, 65536] {
            check_page_size(good).unwrap();
        }
    }
}
