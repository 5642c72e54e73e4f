//! The LSM tree engine ("lsm"): a write-ahead log and memtable in front of immutable
//! sorted tables, merged level by level in the background.
//!
//! Reading order: `ikey` (internal keys) → `memtable` → `sstable` (blocks, bloom filter,
//! builder, reader) → `version` (levels and the manifest's edits) → `compaction` → the
//! store, one concept a file: `filename` (the directory's names), `wal` (the WAL's
//! records), `manifest` (the manifest and CURRENT), `recovery` (opening), `commit` (the
//! write path), `background` (flush, compaction, settle), `read` (gets and scans), and
//! `db` (the store that holds them together). `check` is the integrity checker,
//! `inspect` reads a directory without opening it.

mod background;
pub(crate) mod cache;
pub mod check;
mod commit;
pub(crate) mod compaction;
pub(crate) mod db;
mod filename;
pub(crate) mod handles;
pub(crate) mod ikey;
pub mod inspect;
pub(crate) mod iter;
pub(crate) mod level_iter;
pub(crate) mod manifest;
pub(crate) mod memtable;
mod read;
pub(crate) mod readahead;
mod recovery;
pub(crate) mod sstable;
pub(crate) mod version;
pub(crate) mod wal;
mod wal_syncer;

pub use crate::options::lsm::{CompactionStyle, LsmOptions};
pub use db::Lsm;
pub use version::TableMeta;
