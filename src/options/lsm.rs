//! The LSM engine's knobs.

use crate::error::{Error, Result};
use crate::format::size::parse_size;

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
    /// Bytes of writes a memtable holds before it is flushed: keys, values and what
    /// holding each entry costs (its memory, about 83 bytes an entry). Two memtables can
    /// be in memory at once, one filling while the full one is flushed: memtables take
    /// up to twice this. The default, 64 MiB, is RocksDB's; against 32 MiB, a 1M-key
    /// fill, read and overwrite writes 2.9 times the user's bytes instead of 3.9 and
    /// peaks at 124-127 MB of RSS instead of 95-104 MB, and a 10M-key fill runs 15%
    /// faster.
    pub memtable_size: usize,
    /// Most bytes of a data block with its CRC (unless one entry is larger); data blocks
    /// start on multiples of it, so that each lies in one page of the file.
    pub block_size: usize,
    /// Keys between restart points in a block.
    pub restart_interval: usize,
    /// Bloom filter bits per key (0: no filters).
    pub bloom_bits: u32,
    /// Bytes of the block cache.
    pub block_cache: usize,
    /// Read tables through a memory mapping instead of `pread` and the block cache.
    pub mmap_reads: bool,
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
    /// Least bytes the base level is given before a level opens above the last one (see
    /// `compaction::base_level`).
    pub base_level_size: u64,
    /// Largest group of batches one commit takes.
    pub max_group_bytes: usize,
    /// Bytes the manifest may grow to with edits before a new one, holding the version
    /// whole, takes its place.
    pub manifest_limit: u64,
    /// Table files kept open at most (never more than half the process's limit on open
    /// files, `RLIMIT_NOFILE`); a table whose file was closed opens it again to read.
    pub max_open_files: usize,
}

impl Default for LsmOptions {
    fn default() -> Self {
        LsmOptions {
            memtable_size: 64 << 20,
            block_size: 4096,
            restart_interval: 16,
            bloom_bits: 10,
            block_cache: 8 << 20,
            mmap_reads: false,
            compaction: CompactionStyle::Leveled,
            size_ratio: 10,
            l0_trigger: 4,
            l0_slowdown: 8,
            l0_stop: 12,
            target_file_size: 2 << 20,
            base_level_size: 64 << 20,
            max_group_bytes: 4 << 20,
            manifest_limit: 4 << 20,
            max_open_files: 1000,
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
            manifest_limit: 4 << 10,
            ..LsmOptions::default()
        }
    }

    /// Sets one knob by name (as `kvlab bench --set lsm.NAME=VALUE` spells it). Sizes take
    /// a KiB, MiB or GiB suffix.
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let size = || parse_size(value);
        match name {
            "memtable_size" => self.memtable_size = size()? as usize,
            "block_size" => self.block_size = size()? as usize,
            "restart_interval" => self.restart_interval = size()? as usize,
            "bloom_bits" => self.bloom_bits = size()? as u32,
            "block_cache" => self.block_cache = size()? as usize,
            "mmap_reads" => {
                self.mmap_reads = value.parse().map_err(|_| {
                    Error::invalid(format!("lsm.mmap_reads is true or false, not '{value}'"))
                })?
            }
            "compaction" => {
                self.compaction = match value {
                    "leveled" => CompactionStyle::Leveled,
                    "tiered" => CompactionStyle::Tiered,
                    _ => {
                        return Err(Error::invalid(format!(
                            "lsm.compaction is leveled or tiered, not '{value}'"
                        )));
                    }
                }
            }
            "size_ratio" => self.size_ratio = size()?,
            "l0_trigger" => self.l0_trigger = size()? as usize,
            "l0_slowdown" => self.l0_slowdown = size()? as usize,
            "l0_stop" => self.l0_stop = size()? as usize,
            "target_file_size" => self.target_file_size = size()?,
            "base_level_size" => self.base_level_size = size()?,
            "max_group_bytes" => self.max_group_bytes = size()? as usize,
            "manifest_limit" => self.manifest_limit = size()?,
            "max_open_files" => self.max_open_files = size()? as usize,
            _ => {
                return Err(Error::invalid(format!(
                    "unknown lsm option '{name}' (memtable_size, block_size, restart_interval, \
                     bloom_bits, block_cache, mmap_reads, compaction, size_ratio, l0_trigger, l0_slowdown, \
                     l0_stop, target_file_size, base_level_size, max_group_bytes, manifest_limit, max_open_files)"
                )));
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knobs_set_by_name() {
        let mut o = LsmOptions::default();
        o.set("memtable_size", "32MiB").unwrap();
        o.set("compaction", "tiered").unwrap();
        o.set("bloom_bits", "0").unwrap();
        assert_eq!(o.memtable_size, 32 << 20);
        assert_eq!(o.compaction, CompactionStyle::Tiered);
        assert_eq!(o.bloom_bits, 0);
        assert!(o.set("nope", "1").is_err());
        assert!(o.set("block_size", "4XB").is_err());
        assert_eq!(parse_size("4KiB").unwrap(), 4096);
    }
}
