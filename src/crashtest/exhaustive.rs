//! Exhaustive small workloads, in the manner of the ALICE and CrashMonkey studies: for
//! each workload of a fixed list (a few small batches under tiny knobs, chosen to cross a
//! memtable switch, a flush, a compaction, a page split, a checkpoint), the power fails
//! after every mutating Vfs call in turn, and at each such point every outcome of the
//! crash within a stated bound is recovered and checked.
//!
//! An outcome is a choice for each write and directory change not yet durable (keep, drop,
//! or tear at each sector boundary; keep or drop). The outcomes of a crash point are
//! enumerated, not sampled: the tree of choices is walked depth first, one choice at a
//! time, with `CrashChoices::from_script`. The bound is [`MAX_OUTCOMES`] per crash point;
//! the report counts the points that reached it (none of the fixed list does, so every
//! outcome of every point is checked).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use super::Finding;
use super::model::Model;
use super::under_test::collect;
use crate::btree::BTreeOptions;
use crate::lsm::LsmOptions;
use crate::vfs::{CrashChoices, SimFs};
use crate::{Durability, EngineKind, KeyRange, KvStore, Options, WriteBatch};

/// Most outcomes checked per crash point.
pub const MAX_OUTCOMES: usize = 5000;

/// One step of a workload.
#[derive(Clone, Debug)]
pub enum Step {
    /// A batch, acknowledged when `write` returns (`Durability::Sync`) or at the next
    /// `Sync` step (`Buffered`).
    Write(WriteBatch),
    /// `settle()`: flush, compact, checkpoint.
    Settle,
    /// `sync()`: with `Durability::Buffered`, what was written becomes durable.
    Sync,
}

/// A named workload.
#[derive(Clone, Debug)]
pub struct Workload {
    /// What it exercises.
    pub name: &'static str,
    /// Its steps.
    pub steps: Vec<Step>,
}

fn batch(entries: &[(&str, Option<usize>)], tag: u32) -> Step {
    let mut b = WriteBatch::new();
    for (e, (key, len)) in entries.iter().enumerate() {
        match len {
            Some(len) => {
                let mut v = format!("{key}@{tag}#{e};").into_bytes();
                v.resize(*len, b'.');
                b.put(key.as_bytes(), &v)
            }
            None => b.delete(key.as_bytes()),
        };
    }
    Step::Write(b)
}

/// The fixed list.
pub fn workloads() -> Vec<Workload> {
    let w = |name, steps| Workload { name, steps };
    vec![
        w(
            "one batch",
            vec![
                batch(&[("a", Some(40)), ("b", Some(700)), ("c", Some(40))], 0),
                Step::Sync,
            ],
        ),
        w(
            "overwrite and delete",
            vec![
                batch(&[("a", Some(300)), ("b", Some(300))], 0),
                batch(&[("a", Some(900)), ("b", None)], 1),
                Step::Sync,
                batch(&[("c", Some(100))], 2),
                Step::Sync,
            ],
        ),
        w(
            "memtable switch and flush",
            vec![
                batch(&[("a", Some(1500)), ("b", Some(1500))], 0),
                batch(&[("c", Some(1500)), ("d", Some(1500))], 1),
                batch(&[("a", None), ("e", Some(600))], 2),
                Step::Sync,
            ],
        ),
        w(
            "flushes and a compaction",
            (0..4)
                .flat_map(|i| {
                    let keys = ["k1", "k2", "k3", "k4", "k5"];
                    let k = |j: usize| keys[(i + j) % keys.len()];
                    let entries = [(k(0), Some(1400)), (k(1), Some(1400)), (k(2), Some(1400))];
                    [batch(&entries, i as u32), Step::Sync]
                })
                .collect(),
        ),
        w(
            "a large value",
            vec![
                batch(&[("a", Some(100))], 0),
                batch(&[("big", Some(9000))], 1),
                batch(&[("a", None)], 2),
                Step::Sync,
            ],
        ),
        w(
            "settle between batches",
            vec![
                batch(&[("a", Some(500)), ("b", Some(500))], 0),
                Step::Settle,
                batch(&[("b", None), ("c", Some(500))], 1),
                Step::Settle,
            ],
        ),
    ]
}

/// Tiny knobs: every workload above switches memtables, flushes, splits pages or
/// checkpoints within its few batches. The B+tree checkpoints in the committing thread, so
/// that the calls of a run come in the same order every time.
pub fn options(fs: &Arc<SimFs>, durability: Durability) -> Options {
    Options {
        durability,
        lsm: LsmOptions {
            memtable_size: 4 << 10,
            l0_trigger: 2,
            ..LsmOptions::tiny()
        },
        btree: BTreeOptions {
            wal_limit: 8 << 10,
            dirty_limit: 4 << 10,
            background_checkpoints: false,
            ..BTreeOptions::tiny()
        },
        ..Options::with_vfs(fs.clone())
    }
}

/// What one engine's exhaustive run checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExhaustiveReport {
    /// Workloads run.
    pub workloads: u64,
    /// Crash points (one after each mutating call of each workload, and one after the end).
    pub crash_points: u64,
    /// Crash outcomes recovered and checked.
    pub outcomes: u64,
    /// Distinct file system images among them.
    pub distinct_states: u64,
    /// Crash points with more outcomes than [`MAX_OUTCOMES`], of which only that many
    /// were checked.
    pub capped_points: u64,
}

const DIR: &str = "/db";

/// An engine at a durability.
#[derive(Clone, Copy, Debug)]
struct Subject {
    engine: EngineKind,
    durability: Durability,
}

impl Subject {
    fn open(self, fs: &Arc<SimFs>) -> crate::Result<Box<dyn KvStore>> {
        crate::open(self.engine, Path::new(DIR), options(fs, self.durability))
    }
}

/// Runs the steps until done or until the power fails; returns the model.
fn run_steps(s: Subject, store: &dyn KvStore, fs: &SimFs, steps: &[Step]) -> Result<Model, String> {
    let mut model = Model::default();
    for step in steps {
        let result = match step {
            Step::Write(b) => store.write(b).map(|()| {
                model.issue(b);
                if s.durability == Durability::Sync {
                    model.acknowledge();
                }
            }),
            Step::Settle => store.settle(),
            Step::Sync => store.sync().map(|()| model.acknowledge()),
        };
        if let Err(e) = result {
            if e.is_crashed() || fs.is_powered_off() {
                if let Step::Write(b) = step {
                    model.issue(b);
                }
                return Ok(model);
            }
            return Err(format!("{step:?} failed without a crash: {e}"));
        }
    }
    Ok(model)
}

/// Runs every workload of [`workloads`] on `engine`, with `Durability::Sync` and with
/// `Buffered`.
pub fn run_exhaustive(engine: EngineKind) -> Result<ExhaustiveReport, Finding> {
    let mut report = ExhaustiveReport::default();
    let mut states = HashSet::new();
    for durability in [Durability::Sync, Durability::Buffered] {
        let subject = Subject { engine, durability };
        for workload in workloads() {
            run_workload(subject, &workload, &mut report, &mut states).map_err(|e| {
                Finding::new(
                    engine,
                    format!("workload \"{}\" ({durability:?}): {e}", workload.name),
                )
            })?;
            report.workloads += 1;
        }
    }
    report.distinct_states = states.len() as u64;
    Ok(report)
}

fn run_workload(
    subject: Subject,
    workload: &Workload,
    report: &mut ExhaustiveReport,
    states: &mut HashSet<u64>,
) -> Result<(), String> {
    // The dry run counts the workload's mutating calls.
    let dry = Arc::new(SimFs::new());
    let store = subject.open(&dry).map_err(|e| format!("open: {e}"))?;
    let before = dry.mutating_calls();
    run_steps(subject, store.as_ref(), &dry, &workload.steps)?;
    drop(store);
    let calls = dry.mutating_calls() - before;

    for point in 0..=calls {
        let fs = Arc::new(SimFs::new());
        let store = subject.open(&fs).map_err(|e| format!("open: {e}"))?;
        fs.crash_after(point);
        let model = run_steps(subject, store.as_ref(), &fs, &workload.steps)?;
        drop(store);
        fs.disarm_crash();
        report.crash_points += 1;
        let mut checked = 0;
        explore(subject, &fs, &model, &mut Vec::new(), &mut checked, states)
            .map_err(|e| format!("crash after call {point} of {calls}: {e}"))?;
        report.outcomes += checked as u64;
        if checked >= MAX_OUTCOMES {
            report.capped_points += 1;
        }
    }
    Ok(())
}

/// Checks the outcome `script` names, then every outcome that differs from it first at a
/// later choice.
fn explore(
    subject: Subject,
    fs: &SimFs,
    model: &Model,
    script: &mut Vec<u64>,
    checked: &mut usize,
    states: &mut HashSet<u64>,
) -> Result<(), String> {
    if *checked >= MAX_OUTCOMES {
        return Ok(());
    }
    let crashed = Arc::new(fs.fork());
    let mut choices = CrashChoices::from_script(script);
    crashed.crash_with(&mut choices);
    let asked = choices.asked().to_vec();
    states.insert(crashed.digest());
    *checked += 1;
    verify(subject, &crashed, model).map_err(|e| format!("outcome {script:?}: {e}"))?;

    let base = script.len();
    for (at, &outcomes) in asked.iter().enumerate().skip(base) {
        for choice in 1..outcomes {
            script.resize(at, 0);
            script.push(choice);
            explore(subject, fs, model, script, checked, states)?;
            script.truncate(base);
            if *checked >= MAX_OUTCOMES {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn verify(subject: Subject, fs: &Arc<SimFs>, model: &Model) -> Result<(), String> {
    let store = subject
        .open(fs)
        .map_err(|e| format!("recovery failed: {e}"))?;
    store
        .check()
        .map_err(|e| format!("integrity check after recovery: {e}"))?;
    let got = collect(store.as_ref(), KeyRange::all()).map_err(|e| format!("scan: {e}"))?;
    model.clone().recovered(got)?;
    Ok(())
}
