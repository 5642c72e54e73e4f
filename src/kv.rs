//! The key-value contract every engine implements: the trait, batches, ranges, options,
//! durability and counters. It names no engine ([`crate::engines`] lists them).
//!
//! - Keys are 1 to [`MAX_KEY_LEN`] bytes, values 0 to [`MAX_VALUE_LEN`] bytes, ordered by
//!   bytes (memcmp). An empty value is a value, not a deletion.
//! - A [`WriteBatch`] applies all or nothing, in order.
//! - With [`Durability::Sync`], `write` returns only once the batch is durable; with
//!   [`Durability::Buffered`], only once `sync` has returned after it.
//! - `get` and `scan` from other threads while a writer writes see a consistent state.

mod batch;
mod checked;
pub(crate) mod chunked;
pub(crate) mod range;
mod stats;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;

pub use batch::{BatchOp, WriteBatch};
pub use checked::Checked;
pub use range::KeyRange;
pub use stats::Stats;

use crate::error::{Error, Result};
use crate::options::btree::BTreeOptions;
use crate::options::lsm::LsmOptions;
use crate::vfs::{RealFs, Vfs};

/// The longest key, in bytes.
pub const MAX_KEY_LEN: usize = 1024;
/// The longest value, in bytes (16 MiB).
pub const MAX_VALUE_LEN: usize = 16 << 20;

/// The limits on keys and values, checked in this one place for every engine.
pub mod limits {
    use super::{MAX_KEY_LEN, MAX_VALUE_LEN};
    use crate::error::{Error, Result};

    /// What is wrong with `key`, if anything.
    pub fn key_problem(key: &[u8]) -> Option<String> {
        if key.is_empty() {
            Some("empty key (keys are 1 to 1024 bytes)".into())
        } else if key.len() > MAX_KEY_LEN {
            Some(format!(
                "key of {} bytes (keys are 1 to {MAX_KEY_LEN} bytes)",
                key.len()
            ))
        } else {
            None
        }
    }

    /// What is wrong with `value`, if anything.
    pub fn value_problem(value: &[u8]) -> Option<String> {
        (value.len() > MAX_VALUE_LEN).then(|| {
            format!(
                "value of {} bytes (values are 0 to {MAX_VALUE_LEN} bytes)",
                value.len()
            )
        })
    }

    /// `Error::InvalidArgument` for a key outside the limits.
    pub fn check_key(key: &[u8]) -> Result<()> {
        key_problem(key).map_or(Ok(()), |p| Err(Error::invalid(p)))
    }

    /// `Error::InvalidArgument` for a value outside the limits.
    pub fn check_value(value: &[u8]) -> Result<()> {
        value_problem(value).map_or(Ok(()), |p| Err(Error::invalid(p)))
    }
}

/// The iterator a scan returns: ordered `(key, value)` pairs, or the error that ended it.
pub type ScanIter<'a> = Box<dyn Iterator<Item = Result<(Bytes, Bytes)>> + 'a>;

/// An ordered key-value store. Object safe: the harness holds `Box<dyn KvStore>`.
pub trait KvStore: Send + Sync {
    /// The engine's name, as [`EngineKind`](crate::EngineKind) spells it.
    fn name(&self) -> &str;

    /// The value of `key`, if it has one.
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>>;

    /// Applies `batch` atomically: after a crash, all of it or none of it is there.
    fn write(&self, batch: &WriteBatch) -> Result<()>;

    /// Sets one key: a batch of one entry.
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::with_capacity(1, key.len() + value.len());
        batch.put(key, value);
        self.write(&batch)
    }

    /// Deletes one key: a batch of one entry.
    fn delete(&self, key: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::with_capacity(1, key.len());
        batch.delete(key);
        self.write(&batch)
    }

    /// The pairs in `range`, in key order, as of one consistent moment.
    fn scan(&self, range: KeyRange) -> Result<ScanIter<'_>>;

    /// Returns once every write acknowledged so far is durable.
    fn sync(&self) -> Result<()>;

    /// Flushes memtables or checkpoints, and waits until no background work is due, so
    /// that the disk holds the store's settled shape.
    fn settle(&self) -> Result<()>;

    /// Counters since the store was opened.
    fn stats(&self) -> Stats;

    /// The bytes the store occupies on disk now.
    fn disk_usage(&self) -> Result<u64>;

    /// Checks the store's structures for consistency (the B+tree's `check()`: key order,
    /// separators, every page reachable or free exactly once), reading everything; an
    /// engine with nothing to check returns `Ok`. Tests run it after every test.
    fn check(&self) -> Result<()> {
        Ok(())
    }
}

/// When a write counts as done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Durability {
    /// `write` returns once the batch is durable (an fdatasync per commit, shared by
    /// concurrent writers where the engine groups commits).
    #[default]
    Sync,
    /// `write` returns once the batch is applied; it is durable only after `sync()`.
    Buffered,
}

impl FromStr for Durability {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sync" => Ok(Durability::Sync),
            "buffered" => Ok(Durability::Buffered),
            _ => Err(Error::invalid(format!(
                "unknown durability '{s}' (sync, buffered)"
            ))),
        }
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Durability::Sync => "sync",
            Durability::Buffered => "buffered",
        })
    }
}

/// How to open a store. Engines add a sub-struct of knobs each as they join.
#[derive(Clone, Debug)]
pub struct Options {
    /// When writes are durable.
    pub durability: Durability,
    /// The file system every file of the store goes through.
    pub vfs: Arc<dyn Vfs>,
    /// Knobs of the LSM engine.
    pub lsm: LsmOptions,
    /// Knobs of the B+tree engine.
    pub btree: BTreeOptions,
}

impl Options {
    /// Sets an engine knob by its dotted name, e.g. `lsm.memtable_size=16MiB`.
    pub fn set(&mut self, assignment: &str) -> Result<()> {
        let (name, value) = assignment
            .split_once('=')
            .ok_or_else(|| Error::invalid(format!("'{assignment}' is not NAME=VALUE")))?;
        match name.trim().split_once('.') {
            Some(("lsm", knob)) => self.lsm.set(knob, value.trim()),
            Some(("btree", knob)) => self.btree.set(knob, value.trim()),
            _ => Err(Error::invalid(format!(
                "unknown option '{name}' (engine knobs are lsm.NAME and btree.NAME)"
            ))),
        }
    }

    /// The default options on another file system (a [`SimFs`](crate::vfs::SimFs), say).
    pub fn with_vfs(vfs: Arc<dyn Vfs>) -> Self {
        Options {
            vfs,
            ..Options::default()
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            durability: Durability::Sync,
            vfs: Arc::new(RealFs::new()),
            lsm: LsmOptions::default(),
            btree: BTreeOptions::default(),
        }
    }
}

/// One step of a scan that stops for good at its end or its first error: the outcome of
/// the engine's step as an iterator item, with `done` set when no more will come.
pub(crate) fn scan_item<T>(done: &mut bool, step: Result<Option<T>>) -> Option<Result<T>> {
    let item = step.transpose();
    if !matches!(item, Some(Ok(_))) {
        *done = true;
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durability_names_round_trip() {
        for d in [Durability::Sync, Durability::Buffered] {
            assert_eq!(d.to_string().parse::<Durability>().unwrap(), d);
        }
        assert!("eventually".parse::<Durability>().is_err());
    }

    #[test]
    fn limits_sit_exactly_at_the_edges() {
        assert!(limits::check_key(&[0; 1]).is_ok());
        assert!(limits::check_key(&[0; MAX_KEY_LEN]).is_ok());
        assert!(limits::check_key(&[]).is_err());
        assert!(limits::check_key(&[0; MAX_KEY_LEN + 1]).is_err());
        assert!(limits::check_value(&[]).is_ok());
        assert!(limits::check_value(&vec![0; MAX_VALUE_LEN]).is_ok());
        assert!(limits::check_value(&vec![0; MAX_VALUE_LEN + 1]).is_err());
    }
}
