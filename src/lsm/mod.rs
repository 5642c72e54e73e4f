//! The LSM tree engine ("lsm"): a write-ahead log and memtable in front of immutable
//! sorted tables, merged level by level in the background.
//!
//! Reading order: [`ikey`] (internal keys) → [`memtable`] →
//! [`sstable`] (blocks, bloom filter, builder, reader) → [`version`] (levels and the
//! manifest's edits) → [`compaction`] → [`db`] (write path, reads, recovery).

pub mod cache;
pub mod check;
pub mod compaction;
pub mod db;
pub mod handles;
pub mod ikey;
pub mod inspect;
pub mod iter;
pub mod level_iter;
pub mod memtable;
pub mod options;
pub mod readahead;
pub mod sstable;
pub mod version;

pub use db::Lsm;
pub use options::{CompactionStyle, LsmOptions};
