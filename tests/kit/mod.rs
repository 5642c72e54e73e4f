//! The test kit every engine runs: one model test, one crash test, one limits test.
//!
//! An engine takes part by describing how to open it on a [`SimFs`] ([`Subject`]); the
//! kit does the rest. Each integration test file pulls the kit in with `mod kit;`.

// Each test binary uses a different part of the kit.
#![allow(dead_code)]

pub mod concurrent;
pub mod crash;
pub mod faults;
pub mod foreign;
pub mod limits;
pub mod logstore;
pub mod model;

use std::path::Path;
use std::sync::Arc;

use kvlab::vfs::SimFs;
use kvlab::{Durability, KvStore, Result};

/// The directory every kit test puts its store in.
pub const DIR: &str = "/db";

type Opener = dyn Fn(&Arc<SimFs>, &Path, Durability) -> Result<Box<dyn KvStore>> + Send + Sync;

/// An engine under test: how to open it, and whether it keeps data across a reopen.
pub struct Subject {
    /// For messages.
    pub name: String,
    /// Opens (or reopens) the store in a directory of the given file system.
    pub open: Box<Opener>,
    /// False for engines that keep nothing across a reopen ("mem").
    pub persistent: bool,
}

impl Subject {
    /// A subject for one of the engines `kvlab::open` knows, with `configure` adjusting
    /// the options (tiny page or table sizes, say).
    pub fn engine(
        kind: kvlab::EngineKind,
        configure: impl Fn(&mut kvlab::Options) + Send + Sync + 'static,
    ) -> Self {
        Subject {
            name: kind.to_string(),
            open: Box::new(move |fs, dir, durability| {
                let mut options = kvlab::Options {
                    durability,
                    ..kvlab::Options::with_vfs(fs.clone())
                };
                configure(&mut options);
                kvlab::open(kind, dir, options)
            }),
            persistent: kind != kvlab::EngineKind::Mem,
        }
    }

    /// Opens the store in [`DIR`].
    pub fn open(&self, fs: &Arc<SimFs>, durability: Durability) -> Result<Box<dyn KvStore>> {
        (self.open)(fs, Path::new(DIR), durability)
    }
}

/// Every pair of a store, by a full scan.
pub fn dump(store: &dyn KvStore) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    store
        .scan(kvlab::KeyRange::all())?
        .map(|pair| pair.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect()
}
