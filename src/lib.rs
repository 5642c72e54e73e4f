//! # kvlab
//!
//! Storage engines built from scratch behind one key-value trait, measured side by side.
//!
//! - [`KvStore`] is the contract every engine implements; [`open`] opens one by
//!   [`EngineKind`] behind the [`Checked`] front, which enforces the key and value limits
//!   and counts user bytes.
//! - [`vfs`] is the file layer all engine I/O goes through: [`vfs::RealFs`] for disks,
//!   [`vfs::SimFs`] for crash and fault testing, [`vfs::Counted`] for the I/O counters.
//! - [`identity`] marks a directory as a store of one engine, so that opening the wrong
//!   directory is an error rather than a disaster.
//!
//! ```
//! use std::sync::Arc;
//! use kvlab::{open, EngineKind, KeyRange, KvStore, Options, WriteBatch};
//! use kvlab::vfs::SimFs;
//!
//! # fn main() -> kvlab::Result<()> {
//! let options = Options { vfs: Arc::new(SimFs::new()), ..Options::default() };
//! let store = open(EngineKind::Mem, "/db".as_ref(), options)?;
//! let mut batch = WriteBatch::new();
//! batch.put(b"apple", b"red").put(b"banana", b"yellow").delete(b"cherry");
//! store.write(&batch)?;
//! assert_eq!(store.get(b"apple")?.as_deref(), Some(&b"red"[..]));
//! let keys: Vec<_> = store
//!     .scan(KeyRange::from_key(b"b"))?
//!     .map(|pair| pair.map(|(k, _)| k))
//!     .collect::<kvlab::Result<_>>()?;
//! assert_eq!(keys, vec![&b"banana"[..]]);
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

#[cfg(feature = "cli")]
pub mod bench;
pub mod btree;
#[cfg(feature = "crashtest")]
pub mod crashtest;
mod engines;
mod error;
pub mod format;
pub mod identity;
mod kv;
pub mod lsm;
mod mem;
pub mod options;
pub mod peers;
mod planted;
mod prefetch;
pub mod table;
pub mod vfs;

pub use engines::{DiskIo, EngineKind, IoSource, open};
pub use error::{Error, Result};
pub use kv::{
    BatchOp, Checked, Durability, KeyRange, KvStore, MAX_KEY_LEN, MAX_VALUE_LEN, Options, ScanIter,
    Stats, WriteBatch,
};
pub use mem::MemStore;

/// The README's examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
