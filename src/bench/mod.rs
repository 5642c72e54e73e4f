//! The benchmark harness: the standard workloads of DESIGN §5 and YCSB A–F, run against
//! any [`KvStore`](crate::KvStore), measured from inside (the engine's Vfs counters) and
//! outside (the kernel's and the device's counters).
//!
//! - [`keys`]: the workload keys and values.
//! - [`phase`]: the phase names and the JSON line each phase reports.
//! - [`runner`]: runs phases against one engine, checking every answer.
//! - [`ycsb`], [`zipf`]: the YCSB workloads and their skewed key choice.
//! - [`device`]: the block device's counters and a description of the machine.
//! - [`table`]: side-by-side tables of many reports.
//! - `native` (with a peer feature): each production peer driven through its own API, the
//!   baseline its adapter is measured against.

pub mod anchors;
pub mod config;
pub mod device;
pub mod events;
pub mod keys;
pub mod layouts;
#[cfg(any(
    feature = "redb",
    feature = "lmdb",
    feature = "sqlite",
    feature = "fjall",
    feature = "rocksdb"
))]
pub mod native;
pub mod phase;
pub mod plot;
pub mod report;
pub mod run_info;
pub mod runner;
pub mod sweep;
pub mod table;
pub mod timing;
pub mod ycsb;
pub mod zipf;

pub use config::BenchConfig;
pub use phase::{OperationFigures, Phase, PhaseReport, YcsbWorkload};
pub use runner::{BenchEnv, EngineSpec, Runner};
