//! The B+tree engine ("btree"): pages updated in place, made crash-safe by a write-ahead
//! log of the bytes each commit changed in each page, checkpointed into the database file
//! in the background.
//!
//! - `page`: the slotted page, the node of the tree.
//! - `access`: how the tree reads and changes pages (a snapshot, a transaction).
//! - `overflow`: chains of pages for payloads that do not fit a quarter page.
//! - `pager`: the database file, its header page, and the buffer pool.
//! - `tree`: search and point gets; `txn`: insert with splits, delete with merges, inside
//!   a transaction that copies the pages it changes; `cursor`: ordered reads.
//! - `wal`: the log of committed transactions (new header + each changed page's delta).
//! - `db`: the store and its commit path; `snapshot` (what readers see), `wal_index`
//!   (committed page images in memory), `checkpoint`, `recovery`.
//! - `vacuum`: moving pages in use into the free pages before the file's end, so that a
//!   settle can cut the file short.
//! - `check`: the integrity checker.
//! - `inspect`: `kvlab inspect` for a B+tree directory.

pub(crate) mod access;
pub mod check;
mod checkpoint;
mod cursor;
pub(crate) mod db;
mod filename;
pub mod inspect;
pub(crate) mod overflow;
pub(crate) mod page;
pub(crate) mod pager;
mod recovery;
mod shared;
mod snapshot;
pub(crate) mod tree;
pub(crate) mod txn;
mod vacuum;
mod view;
pub(crate) mod wal;
mod wal_index;

pub use crate::options::btree::BTreeOptions;
pub use db::BTree;
pub use pager::DbHeader;
