//! The LSM tree engine ("lsm"): a write-ahead log and memtable in front of immutable
//! sorted tables, merged level by level in the background.
//!
//! Reading order: `ikey` (internal keys) → `memtable` →
//! `sstable` (blocks, bloom filter, builder, reader) → `version` (levels and the
//! manifest's edits) → `compaction` → `db` (write path, reads, recovery).

pub(crate) mod cache;
pub mod check;
pub(crate) mod compaction;
pub(crate) mod db;
pub(crate) mod handles;
pub(crate) mod ikey;
pub mod inspect;
pub(crate) mod iter;
pub(crate) mod level_iter;
pub(crate) mod memtable;
pub mod options;
pub(crate) mod readahead;
pub(crate) mod sstable;
pub(crate) mod version;

pub use db::Lsm;
pub use options::{CompactionStyle, LsmOptions};
pub use version::TableMeta;
