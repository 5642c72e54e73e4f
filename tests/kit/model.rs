//! The model test: random operations on the engine and on a `BTreeMap` oracle; every answer
//! must agree.
//!
//! Keys come from a tiny alphabet so that operations keep hitting the same keys, with a few
//! long keys (up to the 1024-byte limit) and large values mixed in. Reopens check that what
//! was written survives a clean close.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use kvlab::vfs::SimFs;
use kvlab::{Durability, KeyRange, KvStore, WriteBatch};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::{Subject, dump};

/// One step of a model run.
#[derive(Clone, Debug)]
pub enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    /// Entries applied in order; `None` is a delete.
    Batch(Vec<(Vec<u8>, Option<Vec<u8>>)>),
    Get(Vec<u8>),
    Scan(Bound<Vec<u8>>, Bound<Vec<u8>>),
    Sync,
    Settle,
    Reopen,
}

/// How big and how long the runs are.
#[derive(Clone, Copy, Debug)]
pub struct ModelConfig {
    /// Number of random runs.
    pub cases: u32,
    /// Most operations in one run.
    pub max_ops: usize,
    /// Largest value (a few values this large are mixed in).
    pub max_value: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            cases: 48,
            max_ops: 120,
            max_value: 3000,
        }
    }
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        12 => prop::collection::vec(prop::sample::select(vec![0u8, 1, 2, 0x7f, 0xff]), 1..4),
        1 => (prop::sample::select(vec![0u8, 1, 0xff]), 1000usize..=1024)
            .prop_map(|(b, n)| vec![b; n]),
    ]
}

fn value(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        10 => prop::collection::vec(any::<u8>(), 0..24),
        1 => (any::<u8>(), 0..=max).prop_map(|(b, n)| vec![b; n]),
    ]
}

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    prop_oneof![
        1 => Just(Bound::Unbounded),
        2 => key().prop_map(Bound::Included),
        2 => key().prop_map(Bound::Excluded),
    ]
}

fn op(max_value: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (key(), value(max_value)).prop_map(|(k, v)| Op::Put(k, v)),
        8 => key().prop_map(Op::Delete),
        6 => prop::collection::vec((key(), prop::option::weighted(0.7, value(max_value))), 0..12)
            .prop_map(Op::Batch),
        12 => key().prop_map(Op::Get),
        6 => (bound(), bound()).prop_map(|(s, e)| Op::Scan(s, e)),
        2 => Just(Op::Sync),
        1 => Just(Op::Settle),
        2 => Just(Op::Reopen),
    ]
}

/// Runs the model test on `subject`; panics with the smallest failing sequence found.
pub fn run(subject: &Subject, config: ModelConfig) {
    let mut runner = TestRunner::new(Config {
        cases: config.cases,
        failure_persistence: None,
        ..Config::default()
    });
    let ops = prop::collection::vec(op(config.max_value), 1..config.max_ops);
    let result = runner.run(&ops, |ops| check(subject, &ops));
    if let Err(e) = result {
        panic!("model test of {} failed: {e}", subject.name);
    }
}

fn fail(msg: String) -> TestCaseError {
    TestCaseError::fail(msg)
}

/// Plays `ops` on a fresh store and the oracle.
pub fn check(subject: &Subject, ops: &[Op]) -> Result<(), TestCaseError> {
    let fs = Arc::new(SimFs::new());
    let open = || subject.open(&fs, Durability::Sync);
    let mut store: Box<dyn KvStore> = open().map_err(|e| fail(format!("open: {e}")))?;
    let mut oracle: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for (step, op) in ops.iter().enumerate() {
        let ctx = |what: &str| format!("step {step} ({op:?}): {what}");
        match op {
            Op::Put(k, v) => {
                store.put(k, v).map_err(|e| fail(ctx(&e.to_string())))?;
                oracle.insert(k.clone(), v.clone());
            }
            Op::Delete(k) => {
                store.delete(k).map_err(|e| fail(ctx(&e.to_string())))?;
                oracle.remove(k);
            }
            Op::Batch(entries) => {
                let mut batch = WriteBatch::new();
                for (k, v) in entries {
                    match v {
                        Some(v) => batch.put(k, v),
                        None => batch.delete(k),
                    };
                }
                store.write(&batch).map_err(|e| fail(ctx(&e.to_string())))?;
                for (k, v) in entries {
                    match v {
                        Some(v) => oracle.insert(k.clone(), v.clone()),
                        None => oracle.remove(k),
                    };
                }
            }
            Op::Get(k) => {
                let got = store.get(k).map_err(|e| fail(ctx(&e.to_string())))?;
                let want = oracle.get(k);
                if got.as_deref() != want.map(|v| v.as_slice()) {
                    return Err(fail(ctx(&format!("got {got:?}, oracle has {want:?}"))));
                }
            }
            Op::Scan(start, end) => {
                let range = KeyRange::new(start.clone(), end.clone());
                let got: Vec<(Vec<u8>, Vec<u8>)> = store
                    .scan(range.clone())
                    .and_then(|it| {
                        it.map(|p| p.map(|(k, v)| (k.to_vec(), v.to_vec())))
                            .collect()
                    })
                    .map_err(|e| fail(ctx(&e.to_string())))?;
                let want: Vec<(Vec<u8>, Vec<u8>)> = if range.is_empty() {
                    Vec::new()
                } else {
                    oracle
                        .range::<Vec<u8>, _>((start.clone(), end.clone()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                };
                if got != want {
                    return Err(fail(ctx(&format!(
                        "scan returned {} pairs, oracle {}; first difference at {:?}",
                        got.len(),
                        want.len(),
                        got.iter().zip(&want).position(|(a, b)| a != b)
                    ))));
                }
            }
            Op::Sync => store.sync().map_err(|e| fail(ctx(&e.to_string())))?,
            Op::Settle => store.settle().map_err(|e| fail(ctx(&e.to_string())))?,
            Op::Reopen => {
                drop(store);
                store = open().map_err(|e| fail(ctx(&format!("reopen: {e}"))))?;
                if !subject.persistent {
                    oracle.clear();
                }
            }
        }
    }
    store
        .check()
        .map_err(|e| fail(format!("integrity check at the end: {e}")))?;
    let all = dump(store.as_ref()).map_err(|e| fail(format!("final scan: {e}")))?;
    let want: Vec<_> = oracle.into_iter().collect();
    if all != want {
        return Err(fail(format!(
            "final state: {} pairs, oracle {}",
            all.len(),
            want.len()
        )));
    }
    Ok(())
}
