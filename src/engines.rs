//! The engines this build can open, and [`open`]: the one place that lists them all.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::btree::BTree;
use crate::error::{Error, Result};
use crate::kv::{Checked, KvStore, Options, Stats};
use crate::lsm::Lsm;
use crate::mem::MemStore;
use crate::vfs::OsIo;

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
    /// RocksDB, the best-known production LSM tree, as a peer (feature `rocksdb`).
    #[cfg(feature = "rocksdb")]
    RocksDb,
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
        #[cfg(feature = "rocksdb")]
        EngineKind::RocksDb,
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
            #[cfg(feature = "rocksdb")]
            EngineKind::RocksDb => "rocksdb",
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
            #[cfg(feature = "rocksdb")]
            EngineKind::RocksDb => "RocksDB (peer): the best-known production LSM tree",
        }
    }

    /// Whether the engine keeps its data across a reopen (every engine but "mem").
    pub fn persistent(self) -> bool {
        !matches!(self, EngineKind::Mem)
    }

    /// Where a benchmark run's disk figures for this engine come from.
    pub fn io_source(self) -> IoSource {
        match self {
            EngineKind::Mem => IoSource::NoDisk,
            EngineKind::BTree | EngineKind::Lsm => IoSource::Vfs,
            #[cfg(feature = "lmdb")]
            EngineKind::Lmdb => IoSource::SyscallWritesMappedReads,
            #[cfg(feature = "rocksdb")]
            EngineKind::RocksDb => IoSource::Statistics,
            #[allow(unreachable_patterns)]
            _ => IoSource::Syscalls,
        }
    }

    /// Whether the engine is a production engine run as a peer (see [`crate::peers`]).
    pub fn is_peer(self) -> bool {
        !matches!(self, EngineKind::Mem | EngineKind::BTree | EngineKind::Lsm)
    }
}

/// Where an engine's disk figures (bytes written and read, read calls) come from. Every
/// source counts this process only: no other process's I/O enters an engine's figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoSource {
    /// The engine keeps nothing on disk ("mem"): it has no disk figures.
    NoDisk,
    /// kvlab's counted file layer: the engine's own [`Stats`](crate::Stats).
    Vfs,
    /// The engine's own statistics, mapped onto its [`Stats`](crate::Stats).
    Statistics,
    /// This process's read and write system calls (`wchar`, `rchar` and `syscr` of
    /// `/proc/self/io`): a peer that does its file I/O itself. They count what a system
    /// call asked for, as the Vfs does, page-cache hits included.
    Syscalls,
    /// Writes as system calls; reads as the bytes the block layer fetched for this
    /// process (`read_bytes`), since the engine reads through a memory map and a read
    /// that finds its page cached is no call at all.
    SyscallWritesMappedReads,
}

/// What an engine wrote and read over a span, as its [`IoSource`] counts it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskIo {
    /// Bytes written.
    pub bytes_written: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Read calls.
    pub reads: u64,
}

impl IoSource {
    /// The name results carry (`io_source` in a JSON line).
    pub fn name(self) -> &'static str {
        match self {
            IoSource::NoDisk => "none",
            IoSource::Vfs => "vfs",
            IoSource::Statistics => "statistics",
            IoSource::Syscalls => "syscalls",
            IoSource::SyscallWritesMappedReads => "syscalls+faults",
        }
    }

    /// What an engine wrote and read between two readings (`before`, `now`) of its
    /// [`Stats`] and this process's counters: `None` when the engine keeps nothing on disk,
    /// or when its source is this process's counters and they were not read.
    pub fn disk_io(
        self,
        before: (&Stats, Option<&OsIo>),
        now: (&Stats, Option<&OsIo>),
    ) -> Option<DiskIo> {
        let os = || {
            now.1.zip(before.1).map(|(a, b)| OsIo {
                rchar: a.rchar - b.rchar,
                wchar: a.wchar - b.wchar,
                syscr: a.syscr - b.syscr,
                syscw: a.syscw - b.syscw,
                read_bytes: a.read_bytes - b.read_bytes,
                write_bytes: a.write_bytes - b.write_bytes,
            })
        };
        match self {
            IoSource::NoDisk => None,
            IoSource::Vfs | IoSource::Statistics => Some(DiskIo {
                bytes_written: now.0.disk_bytes_written - before.0.disk_bytes_written,
                bytes_read: now.0.disk_bytes_read - before.0.disk_bytes_read,
                reads: now.0.disk_reads - before.0.disk_reads,
            }),
            IoSource::Syscalls => os().map(|d| DiskIo {
                bytes_written: d.wchar,
                bytes_read: d.rchar,
                reads: d.syscr,
            }),
            IoSource::SyscallWritesMappedReads => os().map(|d| DiskIo {
                bytes_written: d.wchar,
                bytes_read: d.read_bytes,
                reads: d.syscr,
            }),
        }
    }

    /// The source named `name`, if any.
    pub fn from_name(name: &str) -> Option<IoSource> {
        [
            IoSource::NoDisk,
            IoSource::Vfs,
            IoSource::Statistics,
            IoSource::Syscalls,
            IoSource::SyscallWritesMappedReads,
        ]
        .into_iter()
        .find(|s| s.name() == name)
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
        #[cfg(feature = "rocksdb")]
        EngineKind::RocksDb => Ok(Box::new(Checked::new(crate::peers::RocksDb::open(
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
