//! The LSM tree engine ("lsm"): a write-ahead log and memtable in front of immutable
//! sorted tables, merged level by level in the background.
//!
//! Reading order: [`ikey`] (internal keys) → [`wal`] (the log format) → [`memtable`] →
//! [`sstable`] (blocks, bloom filter, builder, reader) → [`version`] (levels and the
//! manifest's edits) → [`compaction`] → [`db`] (write path, reads, recovery).

pub mod cache;
pub mod coding;
pub mod compaction;
pub mod db;
pub mod ikey;
pub mod iter;
pub mod level_iter;
pub mod memtable;
pub mod sstable;
pub mod version;
pub mod wal;

pub use db::Lsm;

use crate::error::{Error, Result};

/// How tables are merged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CompactionStyle {
    /// Levels of growing size, each one sorted run (RocksDB's default).
    #[default]
    Leveled,
    /// Sorted runs of similar size merged together (RocksDB's "universal").
    Tiered,
}

/// The LSM engine's knobs.
#[derive(Clone, Debug)]
pub struct LsmOptions {
    /// Bytes of writes a memtable holds before it is flushed.
    pub memtable_size: usize,
    /// Target bytes of a data block.
    pub block_size: usize,
    /// Keys between restart points in a block.
    pub restart_interval: usize,
    /// Bloom filter bits per key (0: no filters).
    pub bloom_bits: u32,
    /// Bytes of the block cache.
    pub block_cache: usize,
    /// Leveled or tiered.
    pub compaction: CompactionStyle,
    /// Growth factor between levels (leveled), or the similar-size factor (tiered).
    pub size_ratio: u64,
    /// Level-0 tables (leveled) or sorted runs (tiered) that trigger a compaction.
    pub l0_trigger: usize,
    /// Level-0 tables at which each write waits a millisecond.
    pub l0_slowdown: usize,
    /// Level-0 tables at which writes wait for compaction.
    pub l0_stop: usize,
    /// Target bytes of a table written by compaction.
    pub target_file_size: u64,
    /// Target bytes of level 1.
    pub base_level_size: u64,
    /// Largest group of batches one commit takes.
    pub max_group_bytes: usize,
}

impl Default for LsmOptions {
    fn default() -> Self {
        LsmOptions {
            memtable_size: 16 << 20,
            block_size: 4096,
            restart_interval: 16,
            bloom_bits: 10,
            block_cache: 8 << 20,
            compaction: CompactionStyle::Leveled,
            size_ratio: 10,
            l0_trigger: 4,
            l0_slowdown: 8,
            l0_stop: 12,
            target_file_size: 2 << 20,
            base_level_size: 8 << 20,
            max_group_bytes: 4 << 20,
        }
    }
}

impl LsmOptions {
    /// Tiny sizes, so flushes and compactions happen constantly in tests.
    pub fn tiny() -> Self {
        LsmOptions {
            memtable_size: 4 << 10,
            block_size: 256,
            block_cache: 64 << 10,
            target_file_size: 8 << 10,
            base_level_size: 32 << 10,
            ..LsmOptions::default()
        }
    }

    /// Checks the knobs make sense.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::invalid(format!("lsm option: {what}")));
        if self.memtable_size == 0 || self.block_size == 0 || self.restart_interval == 0 {
            return bad("memtable_size, block_size and restart_interval must be positive");
        }
        if self.bloom_bits > 64 {
            return bad("bloom_bits must be 0 to 64");
        }
        if self.size_ratio < 2 || self.l0_trigger == 0 {
            return bad("size_ratio must be at least 2 and l0_trigger at least 1");
        }
        if self.l0_slowdown < self.l0_trigger || self.l0_stop < self.l0_slowdown {
            return bad("need l0_trigger <= l0_slowdown <= l0_stop");
        }
        if self.target_file_size == 0 || self.base_level_size == 0 {
            return bad("file and level sizes must be positive");
        }
        Ok(())
    }
}
