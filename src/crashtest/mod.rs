//! Crash testing as a library: the runs behind the fuzz targets in `fuzz/`, the replay
//! tests that run the committed corpus through the same functions, and the exhaustive and
//! corruption suites.
//!
//! - [`run_crash`]: a [`Plan`] (knobs, operations, crashes, all from a fuzzer's bytes) on
//!   a `SimFs`; after each power failure and recovery, the invariants of the crash model
//!   against a [`Model`] that tells durable batches from pending ones.
//! - [`run_faults`]: the same with `EIO` and `ENOSPC` injected at Vfs calls: the engine
//!   reports the error, acknowledges nothing that did not reach the disk, and after a
//!   reopen has lost nothing it acknowledged.
//! - [`run_differential`]: the same operations on `mem`, `btree` and `lsm`; every answer
//!   agrees.
//! - [`run_exhaustive`]: every crash point of a fixed list of small workloads, and every
//!   outcome of each crash within a stated bound.
//! - [`run_torture`]: a writer process killed again and again through the trait, the
//!   store reopened and checked after each kill (`kvlab torture`).
//! - [`corrupt::sweep`]: a closed store damaged one file at a time (a flipped byte, a
//!   truncation, a removal): the right data or a clear error, never wrong data.
//! - [`decode`]: arbitrary bytes as each on-disk file kind: `Ok` or
//!   [`Error::Corruption`](crate::Error::Corruption), never a panic.
//!
//! A [`Finding`] is a broken invariant: the fuzz targets panic with it, the tests fail
//! with it.

pub mod corrupt;
mod crash;
pub mod decode;
mod differential;
pub mod exhaustive;
mod faults;
mod model;
pub mod plan;
pub mod torture;
mod under_test;

use std::fmt;

pub use crash::run_crash;
pub use differential::run_differential;
pub use exhaustive::{ExhaustiveReport, run_exhaustive};
pub use faults::{FaultPlan, run_faults};
pub use model::{Model, State};
pub use plan::{Crash, Knobs, Op, Plan};
pub use torture::{TortureConfig, TortureReport, run_torture};
pub use under_test::RunSummary;

use crate::EngineKind;

/// An invariant an engine broke, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The engine that broke it.
    pub engine: EngineKind,
    /// What happened.
    pub message: String,
}

impl Finding {
    /// A finding about `engine`.
    pub fn new(engine: EngineKind, message: impl Into<String>) -> Self {
        Finding {
            engine,
            message: message.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.engine, self.message)
    }
}

impl std::error::Error for Finding {}

/// The fuzz targets in `fuzz/`, each a thin shell over [`Target::run`]; the replay tests
/// run the committed corpus through the same function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// [`run_crash`] on the LSM.
    CrashLsm,
    /// [`run_crash`] on the B+tree.
    CrashBtree,
    /// [`run_faults`] on the LSM, then on the B+tree.
    IoErrors,
    /// [`decode::lsm_wal_bytes`].
    DecodeWal,
    /// [`decode::lsm_table_bytes`].
    DecodeSstable,
    /// [`decode::lsm_manifest_bytes`].
    DecodeManifest,
    /// [`decode::btree_page_bytes`].
    DecodePage,
    /// [`decode::btree_wal_bytes`].
    DecodeBtreeWal,
    /// [`run_differential`].
    Differential,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 9] = [
        Target::CrashLsm,
        Target::CrashBtree,
        Target::IoErrors,
        Target::DecodeWal,
        Target::DecodeSstable,
        Target::DecodeManifest,
        Target::DecodePage,
        Target::DecodeBtreeWal,
        Target::Differential,
    ];

    /// The target's name in `fuzz/` (`cargo fuzz run NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Target::CrashLsm => "crash_lsm",
            Target::CrashBtree => "crash_btree",
            Target::IoErrors => "io_errors",
            Target::DecodeWal => "decode_wal",
            Target::DecodeSstable => "decode_sstable",
            Target::DecodeManifest => "decode_manifest",
            Target::DecodePage => "decode_page",
            Target::DecodeBtreeWal => "decode_btree_wal",
            Target::Differential => "differential",
        }
    }

    /// The target called `name`.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether the target reads files' bytes, whose checksums a fuzzing build may ignore.
    pub fn is_decoder(self) -> bool {
        matches!(
            self,
            Target::DecodeWal
                | Target::DecodeSstable
                | Target::DecodeManifest
                | Target::DecodePage
                | Target::DecodeBtreeWal
        )
    }

    /// Runs the target on one input. `Err` is a broken invariant.
    pub fn run(self, bytes: &[u8]) -> Result<RunSummary, Finding> {
        let decoded = |r: Result<(), Finding>| r.map(|()| RunSummary::default());
        match self {
            Target::CrashLsm => run_crash(EngineKind::Lsm, &Plan::from_bytes(bytes)),
            Target::CrashBtree => run_crash(EngineKind::BTree, &Plan::from_bytes(bytes)),
            Target::IoErrors => {
                let plan = FaultPlan::from_bytes(bytes);
                let lsm = run_faults(EngineKind::Lsm, &plan)?;
                let btree = run_faults(EngineKind::BTree, &plan)?;
                Ok(lsm.plus(&btree))
            }
            Target::DecodeWal => decoded(decode::lsm_wal_bytes(bytes)),
            Target::DecodeSstable => decoded(decode::lsm_table_bytes(bytes)),
            Target::DecodeManifest => decoded(decode::lsm_manifest_bytes(bytes)),
            Target::DecodePage => decoded(decode::btree_page_bytes(bytes)),
            Target::DecodeBtreeWal => decoded(decode::btree_wal_bytes(bytes)),
            Target::Differential => run_differential(&Plan::from_bytes(bytes)),
        }
    }
}
