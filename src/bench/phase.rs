//! The named phases of a benchmark run (DESIGN §5), and what each one reports.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::error::{Error, Result};

/// One measured step of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Insert n keys in ascending key order into an empty store.
    FillSeq,
    /// Insert n keys in scrambled order into an empty store, then settle.
    FillRandom,
    /// Random gets of existing keys, page cache warm.
    ReadRandom,
    /// Evict the page cache, reopen, then random gets.
    ReadRandomCold,
    /// Gets of absent keys that fall between present ones.
    ReadMissing,
    /// Random short scans of 100 keys.
    SeekRandom,
    /// One full ordered scan.
    ReadSeq,
    /// New values for random existing keys, then settle.
    Overwrite,
    /// Delete a random half of the keys.
    DeleteRandom,
    /// Random short scans right after the deletes, tombstones in the way.
    SeekAfterDeletes,
    /// Random gets within a 1% slice of the keys.
    ReadHot,
    /// Single-key puts, each durable on its own.
    SyncWrite,
    /// n/1000 puts of 100 KiB values into an empty store.
    Fill100k,
    /// A YCSB core workload (load, then run).
    Ycsb(YcsbWorkload),
}

/// The YCSB core workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum YcsbWorkload {
    /// 50% reads, 50% updates, zipfian.
    A,
    /// 95% reads, 5% updates, zipfian.
    B,
    /// 100% reads, zipfian.
    C,
    /// 95% reads, 5% inserts, reads favour the newest.
    D,
    /// 95% short scans, 5% inserts, zipfian.
    E,
    /// 50% reads, 50% read-modify-writes, zipfian.
    F,
}

impl Phase {
    /// The standard db_bench-style phases, in their order.
    pub const STANDARD: [Phase; 13] = [
        Phase::FillSeq,
        Phase::FillRandom,
        Phase::ReadRandom,
        Phase::ReadRandomCold,
        Phase::ReadMissing,
        Phase::SeekRandom,
        Phase::ReadSeq,
        Phase::Overwrite,
        Phase::DeleteRandom,
        Phase::SeekAfterDeletes,
        Phase::ReadHot,
        Phase::SyncWrite,
        Phase::Fill100k,
    ];

    /// The phases a peer's native baseline measures (`kvlab::bench::native`, with a peer
    /// feature): fill, warm gets, full scan, overwrite.
    pub const NATIVE: [Phase; 4] = [
        Phase::FillRandom,
        Phase::ReadRandom,
        Phase::ReadSeq,
        Phase::Overwrite,
    ];

    /// Every YCSB workload as a phase.
    pub const YCSB: [Phase; 6] = [
        Phase::Ycsb(YcsbWorkload::A),
        Phase::Ycsb(YcsbWorkload::B),
        Phase::Ycsb(YcsbWorkload::C),
        Phase::Ycsb(YcsbWorkload::D),
        Phase::Ycsb(YcsbWorkload::E),
        Phase::Ycsb(YcsbWorkload::F),
    ];

    /// The name used on the command line and in the JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Phase::FillSeq => "fillseq",
            Phase::FillRandom => "fillrandom",
            Phase::ReadRandom => "readrandom",
            Phase::ReadRandomCold => "readrandom_cold",
            Phase::ReadMissing => "readmissing",
            Phase::SeekRandom => "seekrandom",
            Phase::ReadSeq => "readseq",
            Phase::Overwrite => "overwrite",
            Phase::DeleteRandom => "deleterandom",
            Phase::SeekAfterDeletes => "seek_after_deletes",
            Phase::ReadHot => "readhot",
            Phase::SyncWrite => "syncwrite",
            Phase::Fill100k => "fill100k",
            Phase::Ycsb(YcsbWorkload::A) => "ycsb_a",
            Phase::Ycsb(YcsbWorkload::B) => "ycsb_b",
            Phase::Ycsb(YcsbWorkload::C) => "ycsb_c",
            Phase::Ycsb(YcsbWorkload::D) => "ycsb_d",
            Phase::Ycsb(YcsbWorkload::E) => "ycsb_e",
            Phase::Ycsb(YcsbWorkload::F) => "ycsb_f",
        }
    }

    /// Whether the phase reads or changes the store that `fillrandom` builds.
    pub fn needs_filled_store(self) -> bool {
        !matches!(
            self,
            Phase::FillSeq | Phase::FillRandom | Phase::Fill100k | Phase::Ycsb(_)
        )
    }

    /// Parses a comma-separated list; "standard" and "ycsb" name the whole groups.
    pub fn parse_list(list: &str) -> Result<Vec<Phase>> {
        let mut phases = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "standard" => phases.extend(Phase::STANDARD),
                "ycsb" => phases.extend(Phase::YCSB),
                _ => phases.push(name.parse()?),
            }
        }
        if phases.is_empty() {
            return Err(Error::invalid("no phases given"));
        }
        Ok(phases)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Phase {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Phase::STANDARD
            .iter()
            .chain(Phase::YCSB.iter())
            .copied()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Phase::STANDARD
                    .iter()
                    .chain(Phase::YCSB.iter())
                    .map(|p| p.name())
                    .collect();
                Error::invalid(format!(
                    "unknown phase '{s}' (phases: {}, or the groups standard, ycsb)",
                    names.join(", ")
                ))
            })
    }
}

/// One figure of a report (for charts): `None` where the phase has none.
pub type Metric = fn(&PhaseReport) -> Option<f64>;

/// What one phase measured: one JSON line of DESIGN §5. Absent figures are `None` (null).
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PhaseReport {
    /// The engine's name.
    pub engine: String,
    /// The phase's name.
    pub phase: String,
    /// Records the store was filled with.
    pub n: u64,
    /// Operations done (gets, puts, deletes, scans; a full scan counts the keys it returned).
    pub ops: u64,
    /// Wall-clock seconds, including the phase's closing sync or settle.
    pub secs: f64,
    /// ops / secs.
    pub ops_per_sec: f64,
    /// Median latency of one call (one batch commit in batched write phases), µs.
    pub p50_us: Option<f64>,
    /// 99th percentile latency, µs.
    pub p99_us: Option<f64>,
    /// 99.9th percentile latency, µs.
    pub p999_us: Option<f64>,
    /// Key + value bytes submitted.
    pub user_bytes_written: u64,
    /// Key + value bytes returned.
    pub user_bytes_read: u64,
    /// Bytes the engine wrote, as `io_source` counts them.
    pub disk_bytes_written: u64,
    /// Bytes the engine read, as `io_source` counts them.
    pub disk_bytes_read: u64,
    /// Read calls (through the Vfs, or read system calls for a peer).
    pub disk_reads: u64,
    /// fsync / fdatasync calls through the Vfs (0 for a peer, whose syncs kvlab cannot see).
    pub syncs: u64,
    /// `write_bytes` of /proc/self/io: page-cache bytes this process dirtied. Not a count
    /// of bytes written on this kernel: it charges a whole folio (up to 2 MiB) for a
    /// small write into a large one.
    pub os_write_bytes: Option<u64>,
    /// `read_bytes` of /proc/self/io: bytes the block layer fetched for this process.
    pub os_read_bytes: Option<u64>,
    /// Bytes the device wrote (sectors × 512), after a sync: every process's writes.
    pub dev_write_bytes: Option<u64>,
    /// Bytes the device read: every process's reads.
    pub dev_read_bytes: Option<u64>,
    /// Where disk_bytes_written, disk_bytes_read and disk_reads come from (the names of
    /// [`IoSource`](crate::IoSource)): "vfs" for kvlab's engines, "statistics" for an
    /// engine's own counters, "syscalls" (or "syscalls+faults" for reads through a memory
    /// map) for a peer, "none" for an engine that keeps nothing on disk.
    pub io_source: String,
    /// disk_bytes_written / user_bytes_written (null when the engine keeps nothing on disk
    /// or the source was not read).
    pub write_amp: Option<f64>,
    /// disk_bytes_read / ops (null likewise).
    pub read_bytes_per_op: Option<f64>,
    /// Bytes on disk at the end of the phase.
    pub disk_usage: Option<u64>,
    /// disk_usage / live logical bytes.
    pub space_amp: Option<f64>,
    /// A YCSB phase's figures per operation type ("read", "update", "insert", "scan",
    /// "read_modify_write"), for the types its mix has; absent from other lines.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub operations: BTreeMap<String, OperationFigures>,
}

/// One operation type's count and latencies in a YCSB phase.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct OperationFigures {
    /// Operations of this type.
    pub count: u64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 95th percentile latency, µs.
    pub p95_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
}

/// What the engine name of a peer driven through its own API ends with ("lmdb-native").
pub const NATIVE_SUFFIX: &str = "-native";

/// The suffix of the name of the line that reports a YCSB phase's load ("ycsb_a_load").
pub const LOAD_SUFFIX: &str = "_load";

impl PhaseReport {
    /// The report as one JSON line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a report of plain numbers and strings serialises")
    }

    /// Reads per operation through the Vfs.
    pub fn disk_reads_per_op(&self) -> Option<f64> {
        (self.ops > 0).then(|| self.disk_reads as f64 / self.ops as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_groups_expand() {
        for p in Phase::STANDARD.iter().chain(Phase::YCSB.iter()) {
            assert_eq!(p.name().parse::<Phase>().unwrap(), *p);
        }
        assert_eq!(Phase::parse_list("standard").unwrap().len(), 13);
        assert_eq!(
            Phase::parse_list("fillrandom, readrandom").unwrap(),
            vec![Phase::FillRandom, Phase::ReadRandom]
        );
        let err = Phase::parse_list("fillrandom,readrandon")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown phase 'readrandon'"), "{err}");
        assert!(Phase::parse_list(" , ").is_err());
    }

    #[test]
    fn json_has_the_design_fields() {
        let json = PhaseReport::default().to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        for field in [
            "engine",
            "phase",
            "n",
            "ops",
            "secs",
            "ops_per_sec",
            "p50_us",
            "p99_us",
            "user_bytes_written",
            "user_bytes_read",
            "disk_bytes_written",
            "disk_bytes_read",
            "disk_reads",
            "syncs",
            "os_write_bytes",
            "os_read_bytes",
            "dev_write_bytes",
            "dev_read_bytes",
            "write_amp",
            "read_bytes_per_op",
            "disk_usage",
            "space_amp",
        ] {
            assert!(value.get(field).is_some(), "missing {field}");
        }
        assert!(value["p50_us"].is_null());
    }
}
