//! The fault run (fuzz target `io_errors`): a plan's operations with `EIO` or `ENOSPC`
//! injected at Vfs calls, once or from then on.
//!
//! What it holds the engine to (DESIGN §3, §6):
//! - a write or sync that fails says so: an `Err` from `write` means the batch is absent
//!   after a reopen, unless a sync failed on the way, whose outcome no one can know (the
//!   batch is then whole or absent);
//! - after a failed write or sync the engine accepts no write until it is reopened
//!   (`Error::Poisoned`), and a sync that succeeds after it vouches for every batch
//!   written before; a write that failed reading, before it changed anything, leaves
//!   the store writable; a failed `settle` (a flush, a compaction, a
//!   checkpoint) may leave the store writable, as the WAL still holds its data;
//! - an open on a failing file system fails cleanly or opens a sound store;
//! - after the faults stop and the power fails, every acknowledged batch is there.

use arbitrary::{Arbitrary, Unstructured};

use super::Finding;
use super::crash::crash_and_recover;
use super::plan::{Crash, Op, Plan};
use super::under_test::{RunSummary, StoreUnderTest};
use crate::vfs::{Fault, FaultOp};
use crate::{Durability, EngineKind, Error};

/// Most faults one run injects.
pub const MAX_FAULTS: usize = 3;

/// One fault: which call, when, what error, and whether it lasts.
#[derive(Clone, Copy, Debug, Arbitrary)]
pub struct FaultSpec {
    op: u8,
    nth: u8,
    no_space: bool,
    sticky: bool,
}

impl FaultSpec {
    /// The fault as `SimFs` takes it.
    pub fn fault(self) -> Fault {
        let op = FaultOp::ALL[usize::from(self.op) % FaultOp::ALL.len()];
        let nth = 1 + u64::from(self.nth % 64);
        let fault = if self.no_space {
            Fault::no_space(op, nth)
        } else {
            Fault::eio(op, nth)
        };
        if self.sticky { fault.sticky() } else { fault }
    }
}

/// A plan and the faults injected while it runs (again after each reopen).
#[derive(Clone, Debug, Arbitrary)]
pub struct FaultPlan {
    /// The operations and knobs.
    pub plan: Plan,
    /// The faults.
    #[arbitrary(with = fault_specs)]
    pub faults: Vec<FaultSpec>,
}

fn fault_specs(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<FaultSpec>> {
    let n = u.int_in_range(1..=MAX_FAULTS)?;
    (0..n).map(|_| FaultSpec::arbitrary(u)).collect()
}

impl FaultPlan {
    /// The fault plan `bytes` describe.
    pub fn from_bytes(bytes: &[u8]) -> FaultPlan {
        let mut u = Unstructured::new(bytes);
        FaultPlan::arbitrary(&mut u).unwrap_or_else(|_| FaultPlan {
            plan: Plan::from_bytes(&[]),
            faults: vec![FaultSpec {
                op: 0,
                nth: 0,
                no_space: false,
                sticky: false,
            }],
        })
    }
}

/// What the run knows about the faults armed since the last (re)open.
struct Armed {
    /// Calls of `Sync` and `SyncDir` when the faults were armed.
    syncs_before: [u64; 2],
    /// A write or sync failed: no write may be accepted until a reopen.
    failed: bool,
    /// The last pending batch is one whose write failed after a failed sync: whole or
    /// absent, whatever a later sync says.
    maybe_tail: bool,
}

fn arm(s: &StoreUnderTest, faults: &[FaultSpec]) -> Armed {
    for spec in faults {
        s.fs.inject(spec.fault());
    }
    Armed {
        syncs_before: [s.fs.calls(FaultOp::Sync), s.fs.calls(FaultOp::SyncDir)],
        failed: false,
        maybe_tail: false,
    }
}

/// Whether a sync fault has fired since the faults were armed.
fn a_sync_failed(s: &StoreUnderTest, armed: &Armed, faults: &[FaultSpec]) -> bool {
    faults.iter().any(|spec| {
        let fault = spec.fault();
        let before = match fault.op {
            FaultOp::Sync => armed.syncs_before[0],
            FaultOp::SyncDir => armed.syncs_before[1],
            _ => return false,
        };
        s.fs.calls(fault.op) - before >= fault.nth
    })
}

/// Runs `plan` on `engine` with its faults. `Err` names the first broken promise.
pub fn run_faults(engine: EngineKind, fault_plan: &FaultPlan) -> Result<RunSummary, Finding> {
    let (plan, faults) = (&fault_plan.plan, fault_plan.faults.as_slice());
    let mut s = StoreUnderTest::start(engine, &plan.knobs, plan.durability())
        .map_err(|e| Finding::new(engine, format!("open of a new store: {e}")))?;
    let mut armed = arm(&s, faults);
    for op in &plan.ops {
        s.summary.ops += 1;
        if let Some(batch) = s.batch_of(op) {
            if batch.is_empty() {
                // Nothing to write, nothing to acknowledge: Ok or Poisoned alike.
                let _ = s.store().write(&batch);
                continue;
            }
            match s.store().write(&batch) {
                Ok(()) if armed.failed => {
                    return Err(s.finding(
                        "a write was accepted after a failed write or sync (expected Poisoned)",
                    ));
                }
                Ok(()) => {
                    s.model.issue(&batch);
                    if s.durability == Durability::Sync {
                        s.summary.acknowledged += s.model.pending() as u64;
                        s.model.acknowledge();
                    }
                }
                Err(e) => {
                    // A write that failed reading (a page it had to change) stopped
                    // before it changed anything: absent, and the store stays writable.
                    let failed_reading = matches!(
                        &e,
                        Error::Io {
                            op: "read" | "open",
                            ..
                        }
                    );
                    // Otherwise it is whole or absent if a sync failed on its way, absent if
                    // not, and the store must refuse writes from here on.
                    if !failed_reading && !armed.failed && a_sync_failed(&s, &armed, faults) {
                        s.model.issue(&batch);
                        armed.maybe_tail = true;
                    }
                    armed.failed |= !failed_reading;
                    s.summary.faults_fired += 1;
                }
            }
            continue;
        }
        match op {
            // While nothing has failed, reads must be right; after, they may fail, and
            // what they see of a failed batch is unspecified.
            Op::Get(key) if !armed.failed => {
                if let Ok(checked) = s.check_get(*key) {
                    checked?;
                }
            }
            Op::Scan(from, to) if !armed.failed => {
                if let Ok(checked) = s.check_scan(*from, *to) {
                    checked?;
                }
            }
            Op::Get(key) => {
                let _ = s.store().get(&key.bytes());
            }
            Op::Scan(..) => {
                let _ = super::under_test::collect(s.store(), crate::KeyRange::all());
            }
            // A sync after a failure may succeed, but then everything acknowledged before
            // it must survive: the final crash checks that. Only a batch whose own write
            // failed stays whole-or-absent.
            Op::Sync => match s.store().sync() {
                Ok(()) => {
                    let through = s.model.pending() - usize::from(armed.maybe_tail);
                    s.summary.acknowledged += through as u64;
                    s.model.acknowledge_first(through);
                }
                Err(_) => {
                    armed.failed = true;
                    s.summary.faults_fired += 1;
                }
            },
            // A failed flush or compaction loses nothing (the WAL still holds the data),
            // so it need not stop writes; the reads after it must still be right.
            Op::Settle => {
                if s.store().settle().is_err() {
                    s.summary.faults_fired += 1;
                }
            }
            Op::Reopen => {
                s.store = None;
                // On a failing file system an open may fail, but must not break the store.
                drop(s.open());
                s.fs.clear_faults();
                let store = s
                    .open()
                    .map_err(|e| s.finding(format!("reopen once the faults stopped: {e}")))?;
                s.store = Some(store);
                s.verify_recovered("a reopen")?;
                armed = arm(&s, faults);
            }
            Op::Crash(crash) => {
                s.fs.clear_faults();
                crash_and_recover(
                    &mut s,
                    &Crash {
                        during_recovery: None,
                        ..crash.clone()
                    },
                )?;
                armed = arm(&s, faults);
            }
            // Writes were taken above.
            Op::Put(..) | Op::Delete(_) | Op::Batch(_) => {}
        }
    }
    s.fs.clear_faults();
    crash_and_recover(&mut s, &plan.final_crash)?;
    s.write_after_recovery()?;
    Ok(s.summary)
}
