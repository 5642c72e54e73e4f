//! The crash run (fuzz targets `crash_lsm`, `crash_btree`): a plan's operations on a
//! `SimFs`, power failures where the plan puts them, recovery (itself crashed when the plan
//! says so), and after each recovery the invariants of DESIGN §6 against the model.

use super::Finding;
use super::plan::{Crash, Op, Plan};
use super::under_test::{RunSummary, StoreUnderTest};
use crate::vfs::CrashChoices;
use crate::{EngineKind, Error};

/// Runs `plan` on `engine`. `Err` names the first invariant the engine broke.
pub fn run_crash(engine: EngineKind, plan: &Plan) -> Result<RunSummary, Finding> {
    let mut s = StoreUnderTest::start(engine, &plan.knobs, plan.durability())
        .map_err(|e| Finding::new(engine, format!("open of a new store: {e}")))?;
    // The crash armed by the last `Crash` whose power failure has not come yet.
    let mut armed: Option<&Crash> = None;
    for op in &plan.ops {
        s.summary.ops += 1;
        let outcome = match op {
            Op::Crash(crash) if crash.after_calls == 0 || armed.is_some() => {
                s.fs.disarm_crash();
                armed = None;
                crash_and_recover(&mut s, crash)?;
                continue;
            }
            Op::Crash(crash) => {
                s.fs.crash_after(u64::from(crash.after_calls));
                armed = Some(crash);
                continue;
            }
            Op::Reopen => {
                s.store = None;
                match s.open() {
                    Ok(store) => {
                        s.store = Some(store);
                        match s.verify_recovered("a clean reopen") {
                            // A background thread of the reopened store met the crash point.
                            Err(_) if s.fs.is_powered_off() => Err(Error::Crashed),
                            Err(finding) => return Err(finding),
                            Ok(()) => Ok(()),
                        }
                    }
                    Err(e) => Err(e),
                }
            }
            _ => step(&mut s, op)?,
        };
        if let Err(e) = outcome {
            if !(e.is_crashed() || s.fs.is_powered_off()) {
                return Err(s.finding(format!("{op:?} failed without a fault or crash: {e}")));
            }
            // The power failed: the process is gone, whatever it was doing.
            let crash = armed
                .take()
                .cloned()
                .unwrap_or_else(|| plan.final_crash.clone());
            crash_and_recover(&mut s, &crash)?;
        }
    }
    s.fs.disarm_crash();
    crash_and_recover(&mut s, &plan.final_crash)?;
    s.write_after_recovery()?;
    Ok(s.summary)
}

/// One operation other than a crash or a reopen. The outer `Err` is a finding; the inner
/// one is the store's error, which the caller judges.
fn step(s: &mut StoreUnderTest, op: &Op) -> Result<Result<(), Error>, Finding> {
    if let Some(batch) = s.batch_of(op) {
        return Ok(match s.store().write(&batch) {
            Ok(()) => {
                s.model.issue(&batch);
                if s.durability == crate::Durability::Sync {
                    s.summary.acknowledged += s.model.pending() as u64;
                    s.model.acknowledge();
                }
                Ok(())
            }
            Err(e) => {
                // Cut by a crash, the batch may or may not have reached the disk.
                if e.is_crashed() || s.fs.is_powered_off() {
                    s.model.issue(&batch);
                }
                Err(e)
            }
        });
    }
    Ok(match op {
        Op::Get(key) => match s.check_get(*key) {
            Ok(checked) => {
                checked?;
                Ok(())
            }
            Err(e) => Err(e),
        },
        Op::Scan(from, to) => match s.check_scan(*from, *to) {
            Ok(checked) => {
                checked?;
                Ok(())
            }
            Err(e) => Err(e),
        },
        Op::Sync => s.store().sync().map(|()| {
            s.summary.acknowledged += s.model.pending() as u64;
            s.model.acknowledge();
        }),
        Op::Settle => s.store().settle(),
        _ => Ok(()),
    })
}

/// The power fails with `crash`'s choices; the store is recovered and checked.
pub(super) fn crash_and_recover(s: &mut StoreUnderTest, crash: &Crash) -> Result<(), Finding> {
    s.store = None;
    s.fs.crash_with(&mut CrashChoices::from_bytes(&crash.choices));
    s.summary.crashes += 1;
    if let Some(calls) = crash.during_recovery {
        s.fs.crash_after(u64::from(calls));
        match s.open() {
            Ok(store) if !s.fs.is_powered_off() => {
                s.fs.disarm_crash();
                s.store = Some(store);
            }
            Ok(store) => drop(store),
            Err(e) if e.is_crashed() || s.fs.is_powered_off() => {}
            Err(e) => return Err(s.finding(format!("recovery failed: {e}"))),
        }
        if s.store.is_none() {
            // The choices' second half decides what the crashed recovery left.
            let half = &crash.choices[crash.choices.len() / 2..];
            s.fs.crash_with(&mut CrashChoices::from_bytes(half));
            s.summary.crashes += 1;
            s.summary.crashed_recoveries += 1;
        }
    }
    if s.store.is_none() {
        let store = s
            .open()
            .map_err(|e| s.finding(format!("recovery failed: {e}")))?;
        s.store = Some(store);
    }
    s.verify_recovered("a crash")
}
