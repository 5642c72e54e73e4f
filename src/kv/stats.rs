//! [`Stats`]: the counters every engine reports (DESIGN §4).

use crate::vfs::{FileKind, IoCounters, IoTotals};

/// Counters since the store was opened.
///
/// `user_*` are counted by the front every store is opened behind (see [`crate::open`]);
/// `disk_*` and `syncs` by the [`Counted`](crate::vfs::Counted) file system the engine does
/// its I/O through. Engine-specific counters (bloom probes, cache hits, tree height, ...)
/// go in `engine` by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Key + value bytes of puts and key bytes of deletes, as submitted.
    pub user_bytes_written: u64,
    /// Key + value bytes returned by `get` and `scan`.
    pub user_bytes_read: u64,
    /// Bytes passed to the Vfs write path, all kinds of file.
    pub disk_bytes_written: u64,
    /// Write calls (`write_at`, `append`) on the Vfs.
    pub disk_writes: u64,
    /// Bytes read through the Vfs (engine cache misses).
    pub disk_bytes_read: u64,
    /// Read calls on the Vfs.
    pub disk_reads: u64,
    /// `sync` and `sync_dir` calls.
    pub syncs: u64,
    /// The disk counters split by kind of file, indexed as [`FileKind::ALL`].
    pub by_kind: [IoTotals; FileKind::ALL.len()],
    /// Engine-specific counters and gauges, by name.
    pub engine: Vec<(String, u64)>,
}

impl Stats {
    /// Stats whose disk figures are the current values of `io`.
    pub fn from_io(io: &IoCounters) -> Self {
        let total = io.total();
        Stats {
            disk_bytes_written: total.bytes_written,
            disk_writes: total.writes,
            disk_bytes_read: total.bytes_read,
            disk_reads: total.reads,
            syncs: total.syncs,
            by_kind: FileKind::ALL.map(|k| io.of(k)),
            ..Stats::default()
        }
    }

    /// The disk counters of one kind of file.
    pub fn of(&self, kind: FileKind) -> IoTotals {
        self.by_kind[kind.index()]
    }

    /// An engine-specific counter by name.
    pub fn engine_counter(&self, name: &str) -> Option<u64> {
        self.engine.iter().find(|(n, _)| n == name).map(|&(_, v)| v)
    }

    /// disk_bytes_written / user_bytes_written; `None` before anything was written.
    pub fn write_amp(&self) -> Option<f64> {
        (self.user_bytes_written > 0)
            .then(|| self.disk_bytes_written as f64 / self.user_bytes_written as f64)
    }
}
