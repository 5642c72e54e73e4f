//! The fault test: a full disk or a failing device at a random call, then a crash.
//!
//! A write's result says what became of its batch. Nothing that was acknowledged may be
//! lost: not by the failure, not by the writes the engine accepts after it, not by the
//! crash and recovery that follow. And a write that returns an error must leave its batch
//! out: after recovery the store holds exactly the acknowledged batches. (On `SimFs` a
//! failed sync drops what it was to make durable, so a batch whose sync failed is gone;
//! a batch that was committed before a later step failed, such as the checkpoint a
//! commit starts, must be acknowledged.) Errors must be `Error::Io` or
//! `Error::Poisoned`, never a panic or a corruption report.

use std::collections::BTreeMap;
use std::sync::Arc;

use kvlab::vfs::{Fault, FaultError, FaultOp, SimFs};
use kvlab::{Durability, Error, WriteBatch};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Subject, dump};

type State = BTreeMap<Vec<u8>, Vec<u8>>;

const TARGETS: [FaultOp; 6] = [
    FaultOp::Write,
    FaultOp::Sync,
    FaultOp::SyncDir,
    FaultOp::Create,
    FaultOp::Rename,
    FaultOp::Truncate,
];

/// How many failed writes a run issues before it stops, so the outcomes stay enumerable.
const MAX_FAILURES: usize = 3;

fn batches(rng: &mut ChaCha8Rng, n: usize) -> Vec<WriteBatch> {
    (0..n)
        .map(|b| {
            let mut batch = WriteBatch::new();
            for e in 0..rng.random_range(1..6) {
                let key = format!("key-{:02}", rng.random_range(0..20)).into_bytes();
                if rng.random_bool(0.2) {
                    batch.delete(&key);
                } else {
                    let mut value = format!("{}@{b}#{e};", String::from_utf8_lossy(&key));
                    value.push_str(&".".repeat(rng.random_range(0..600)));
                    batch.put(&key, value.as_bytes());
                }
            }
            batch
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fate {
    Acked,
    Failed,
}

/// The state the acknowledged batches make, in order; the failed ones left out.
fn acknowledged(issued: &[(WriteBatch, Fate)]) -> State {
    let mut state = State::new();
    for (batch, _) in issued.iter().filter(|(_, fate)| *fate == Fate::Acked) {
        for op in batch.iter() {
            match op.value() {
                Some(v) => state.insert(op.key().to_vec(), v.to_vec()),
                None => state.remove(op.key()),
            };
        }
    }
    state
}

fn allowed(e: &Error) -> bool {
    matches!(e, Error::Io { .. } | Error::Poisoned(_))
}

/// One run with one armed fault; `Ok(true)` when the fault fired and the invariants held,
/// `Err` describes the violation.
pub fn run_one(subject: &Subject, seed: u64) -> Result<bool, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = rng.random_range(5..40);
    let work = batches(&mut rng, n);
    // Dry run: which calls does the workload make, and how often?
    let dry = Arc::new(SimFs::new());
    let store = subject
        .open(&dry, Durability::Sync)
        .map_err(|e| e.to_string())?;
    let before = TARGETS.map(|op| dry.calls(op));
    for batch in &work {
        store.write(batch).map_err(|e| format!("dry run: {e}"))?;
    }
    drop(store);
    let used: Vec<(FaultOp, u64)> = TARGETS
        .iter()
        .zip(before)
        .map(|(&op, b)| (op, dry.calls(op) - b))
        .filter(|&(_, calls)| calls > 0)
        .collect();
    if used.is_empty() {
        return Ok(false);
    }
    let (op, calls) = used[rng.random_range(0..used.len())];

    let fs = Arc::new(SimFs::new());
    let store = subject
        .open(&fs, Durability::Sync)
        .map_err(|e| e.to_string())?;
    let error = if rng.random_bool(0.5) {
        FaultError::Eio
    } else {
        FaultError::NoSpace
    };
    let fault = Fault {
        op,
        nth: rng.random_range(1..=calls),
        error,
        sticky: rng.random_bool(0.5),
    };
    fs.inject(fault);
    let mut issued = Vec::new();
    let mut failures = 0;
    for (i, batch) in work.iter().enumerate() {
        match store.write(batch) {
            Ok(()) => issued.push((batch.clone(), Fate::Acked)),
            Err(e) if allowed(&e) => {
                issued.push((batch.clone(), Fate::Failed));
                failures += 1;
                if failures == MAX_FAILURES {
                    break;
                }
            }
            Err(e) => return Err(format!("{fault:?}: batch {i} failed with {e}")),
        }
        // Reads keep answering (or fail cleanly) after a failure.
        if let Err(e) = store.get(b"key-00")
            && !allowed(&e)
        {
            return Err(format!("{fault:?}: get after batch {i}: {e}"));
        }
    }
    drop(store);
    fs.clear_faults();
    fs.crash(rng.next_u64());
    let store = subject
        .open(&fs, Durability::Sync)
        .map_err(|e| format!("{fault:?}: recovery failed: {e}"))?;
    let got: State = dump(store.as_ref())
        .map_err(|e| format!("{fault:?}: scan after recovery: {e}"))?
        .into_iter()
        .collect();
    if got != acknowledged(&issued) {
        let fates: Vec<Fate> = issued.iter().map(|(_, f)| *f).collect();
        return Err(format!(
            "{fault:?}: recovered state is not the acknowledged batches alone (a write that \
             failed left its batch behind, or an acknowledged one was lost); fates {fates:?}"
        ));
    }
    Ok(failures > 0)
}

/// Runs `seeds`; returns how many runs saw their fault fire, or the first violation.
pub fn run(subject: &Subject, seeds: impl IntoIterator<Item = u64>) -> Result<usize, String> {
    let mut fired = 0;
    for seed in seeds {
        let hit = run_one(subject, seed)
            .map_err(|e| format!("{} fault test, seed {seed}: {e}", subject.name))?;
        fired += usize::from(hit);
    }
    Ok(fired)
}
