//! The engines this build can open, and [`open`]: the one place that lists them all.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::btree::BTree;
use crate::error::{Error, Result};
use crate::kv::{Checked, KvStore, Options};
use crate::lsm::Lsm;
use crate::mem::MemStore;

/// The engines this build can open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EngineKind {
    /// [`MemStore`]: an ordered map in memory; the model of every test and the no-disk
    /// baseline of every comparison. Keeps nothing across a reopen.
    Mem,
    /// The B+tree over a pager, made crash-safe by a WAL of the bytes each commit changed in
    /// each page (`btree`).
    BTree,
    /// [`Lsm`]: the log-structured merge tree.
    Lsm,
    /// redb, a production copy-on-write B+tree, as a peer (feature `redb`).
    #[cfg(feature = "redb")]
    Redb,
    /// LMDB, a production copy-on-write B+tree read through a map, as a peer (feature
    /// `lmdb`).
    #[cfg(feature = "lmdb")]
    Lmdb,
    /// SQLite in WAL mode, a production B-tree updated in place behind a log of page
    /// images, as a peer (feature `sqlite`).
    #[cfg(feature = "sqlite")]
    Sqlite,
    /// fjall, a production LSM tree, as a peer (feature `fjall`).
    #[cfg(feature = "fjall")]
    Fjall,
}

impl EngineKind {
    /// Every engine in this build.
    pub const ALL: &'static [EngineKind] = &[
        EngineKind::Mem,
        EngineKind::BTree,
        EngineKind::Lsm,
        #[cfg(feature = "redb")]
        EngineKind::Redb,
        #[cfg(feature = "lmdb")]
        EngineKind::Lmdb,
        #[cfg(feature = "sqlite")]
        EngineKind::Sqlite,
        #[cfg(feature = "fjall")]
        EngineKind::Fjall,
    ];

    /// The name `FromStr` takes and `Display` prints.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Mem => "mem",
            EngineKind::BTree => "btree",
            EngineKind::Lsm => "lsm",
            #[cfg(feature = "redb")]
            EngineKind::Redb => "redb",
            #[cfg(feature = "lmdb")]
            EngineKind::Lmdb => "lmdb",
            #[cfg(feature = "sqlite")]
            EngineKind::Sqlite => "sqlite",
            #[cfg(feature = "fjall")]
            EngineKind::Fjall => "fjall",
        }
    }

    /// What the engine is, in one line.
    pub fn description(self) -> &'static str {
        match self {
            EngineKind::Mem => {
                "an ordered map in memory: the no-disk baseline and the tests' oracle"
            }
            EngineKind::BTree => {
                "kvlab's B+tree: pages updated in place behind a WAL of changed bytes"
            }
            EngineKind::Lsm => {
                "kvlab's LSM tree: WAL, memtable, sorted tables, leveled or tiered compaction"
            }
            #[cfg(feature = "redb")]
            EngineKind::Redb => "redb (peer): a production copy-on-write B+tree",
            #[cfg(feature = "lmdb")]
            EngineKind::Lmdb => "LMDB (peer): a production copy-on-write B+tree read through a map",
            #[cfg(feature = "sqlite")]
            EngineKind::Sqlite => "SQLite (peer): a production B-tree in WAL mode",
            #[cfg(feature = "fjall")]
            EngineKind::Fjall => "fjall (peer): a production LSM tree",
        }
    }

    /// Whether the engine keeps its data across a reopen (every engine but "mem").
    pub fn persistent(self) -> bool {
        !matches!(self, EngineKind::Mem)
    }

    /// Whether the engine does its I/O through the Vfs, so that its [`Stats`](crate::Stats) count its
    /// disk bytes (kvlab's own engines); a production peer's I/O is its own, and only the
    /// device's counters see it.
    pub fn counts_own_io(self) -> bool {
        matches!(self, EngineKind::Mem | EngineKind::BTree | EngineKind::Lsm)
    }

    /// Whether the engine is a production engine run as a peer (see [`crate::peers`]).
    pub fn is_peer(self) -> bool {
        !self.counts_own_io()
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EngineKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        EngineKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let known: Vec<_> = EngineKind::ALL.iter().map(|k| k.name()).collect();
                Error::invalid(format!(
                    "unknown engine '{s}' (this build has: {})",
                    known.join(", ")
                ))
            })
    }
}

/// Opens (creating if `dir` is missing or empty) a store of engine `kind` in `dir`, behind
/// the [`Checked`] front that enforces the key and value limits and counts user bytes.
///
/// A non-empty `dir` that holds no store of this engine is an error and is left untouched.
pub fn open(kind: EngineKind, dir: &Path, options: Options) -> Result<Box<dyn KvStore>> {
    match kind {
        EngineKind::Mem => Ok(Box::new(Checked::new(MemStore::open(dir, options)?))),
        EngineKind::BTree => Ok(Box::new(Checked::new(BTree::open(dir, options)?))),
        EngineKind::Lsm => Ok(Box::new(Checked::new(Lsm::open(dir, options)?))),
        #[cfg(feature = "redb")]
        EngineKind::Redb => Ok(Box::new(Checked::new(crate::peers::Redb::open(
            dir, options,
        )?))),
        #[cfg(feature = "lmdb")]
        EngineKind::Lmdb => Ok(Box::new(Checked::new(crate::peers::Lmdb::open(
            dir, options,
        )?))),
        #[cfg(feature = "sqlite")]
        EngineKind::Sqlite => Ok(Box::new(Checked::new(crate::peers::Sqlite::open(
            dir, options,
        )?))),
        #[cfg(feature = "fjall")]
        EngineKind::Fjall => Ok(Box::new(Checked::new(crate::peers::Fjall::open(
            dir, options,
        )?))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_names_round_trip() {
        for &kind in EngineKind::ALL {
            assert_eq!(kind.to_string().parse::<EngineKind>().unwrap(), kind);
        }
        let err = "nope".parse::<EngineKind>().unwrap_err().to_string();
        assert!(
            err.contains("unknown engine 'nope'") && err.contains("mem"),
            "{err}"
        );
    }
}
