//! The YCSB core workloads A–F on the same trait (Cooper et al., SoCC'10).
//!
//! A store is loaded with n records of 1 KiB (16-byte key, the rest value), then each
//! workload runs its mix of operations, each one timed on its own:
//!
//! | workload | mix | key choice |
//! | --- | --- | --- |
//! | A | 50% read, 50% update | scrambled zipfian |
//! | B | 95% read, 5% update | scrambled zipfian |
//! | C | 100% read | scrambled zipfian |
//! | D | 95% read, 5% insert | latest |
//! | E | 95% scan of 1–100 keys, 5% insert | scrambled zipfian start |
//! | F | 50% read, 50% read-modify-write | scrambled zipfian |

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use hdrhistogram::Histogram;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::BenchConfig;
use super::keys::{KEY_LEN, Values, key};
use super::phase::YcsbWorkload;
use super::timing::{self, parallel, record};
use super::zipf::{Latest, ScrambledZipfian};
use crate::error::{Error, Result};
use crate::kv::{KeyRange, KvStore, WriteBatch};

/// What a run did.
#[derive(Debug)]
pub struct YcsbRun {
    /// Operations done.
    pub ops: u64,
    /// Latency of each operation.
    pub hist: Histogram<u64>,
    /// Latency of each operation, by type (YCSB's names), for the types the mix has.
    pub by_op: Vec<(&'static str, Histogram<u64>)>,
    /// Logical bytes of the records at the end.
    pub live_bytes: u64,
}

/// What a load did.
#[derive(Debug)]
pub struct YcsbLoad {
    /// Records loaded.
    pub records: u64,
    /// Latency of each batch's commit (the closing sync included in the phase time only).
    pub hist: Histogram<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Read,
    Update,
    Insert,
    Scan,
    ReadModifyWrite,
}

impl Op {
    const ALL: [Op; 5] = [
        Op::Read,
        Op::Update,
        Op::Insert,
        Op::Scan,
        Op::ReadModifyWrite,
    ];

    /// YCSB's name of the operation.
    fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Update => "update",
            Op::Insert => "insert",
            Op::Scan => "scan",
            Op::ReadModifyWrite => "read_modify_write",
        }
    }
}

fn choose(workload: YcsbWorkload, u: f64) -> Op {
    use YcsbWorkload::*;
    match workload {
        A if u < 0.5 => Op::Read,
        A => Op::Update,
        B if u < 0.95 => Op::Read,
        B => Op::Update,
        C => Op::Read,
        D if u < 0.95 => Op::Read,
        D => Op::Insert,
        E if u < 0.95 => Op::Scan,
        E => Op::Insert,
        F if u < 0.5 => Op::Read,
        F => Op::ReadModifyWrite,
    }
}

fn value_size(config: &BenchConfig) -> usize {
    config.ycsb_record - KEY_LEN
}

/// Loads `config.records` records in batches, timing each batch's commit, then syncs.
pub fn load(store: &dyn KvStore, config: &BenchConfig) -> Result<YcsbLoad> {
    let values = Values::new(value_size(config), config.seed + 10);
    let n = config.records;
    let batch_len = config.batch as u64;
    let mut batch = WriteBatch::new();
    let mut hist = timing::histogram();
    for b in 0..n.div_ceil(batch_len) {
        batch.clear();
        for i in timing::batch(b, batch_len, n) {
            batch.put(&key(i), values.get(i));
        }
        let t = Instant::now();
        store.write(&batch)?;
        record(&mut hist, t);
    }
    store.sync()?;
    Ok(YcsbLoad { records: n, hist })
}

/// Runs `workload` on a store loaded with `records` records.
pub fn run(
    store: &dyn KvStore,
    workload: YcsbWorkload,
    config: &BenchConfig,
    records: u64,
) -> Result<YcsbRun> {
    let ops = config.ycsb_ops.unwrap_or(records);
    let values = Values::new(value_size(config), config.seed + 11);
    let inserted = AtomicU64::new(records);
    let by_op = Mutex::new(Op::ALL.map(|_| timing::histogram()));
    let hist = parallel(config.threads, ops, |worker, range, hist| {
        let mut mine = Op::ALL.map(|_| timing::histogram());
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x9c5b ^ ((worker as u64) << 40));
        let zipf = ScrambledZipfian::new(records);
        let mut latest = Latest::new(records);
        for op_index in range {
            let op = choose(workload, rng.random());
            let t = Instant::now();
            match op {
                Op::Read | Op::ReadModifyWrite => {
                    let i = if workload == YcsbWorkload::D {
                        latest.grow(inserted.load(Relaxed));
                        latest.next(&mut rng)
                    } else {
                        zipf.next(&mut rng)
                    };
                    let got = store.get(&key(i))?;
                    // Loaded records are never deleted; an insert racing this read may not be.
                    if got.is_none() && i < records {
                        return Err(Error::invalid(format!(
                            "{}: YCSB record {i} is missing",
                            store.name()
                        )));
                    }
                    if op == Op::ReadModifyWrite {
                        store.put(&key(i), values.get(i ^ op_index))?;
                    }
                }
                Op::Update => {
                    let i = zipf.next(&mut rng);
                    store.put(&key(i), values.get(i ^ op_index))?;
                }
                Op::Insert => {
                    let i = inserted.fetch_add(1, Relaxed);
                    store.put(&key(i), values.get(i))?;
                }
                Op::Scan => {
                    let start = key(zipf.next(&mut rng));
                    let len = rng.random_range(1..=100);
                    for pair in store.scan(KeyRange::from_key(&start))?.take(len) {
                        pair?;
                    }
                }
            }
            let ns = u64::try_from(t.elapsed().as_nanos())
                .unwrap_or(u64::MAX)
                .max(1);
            hist.saturating_record(ns);
            mine[op as usize].saturating_record(ns);
        }
        let mut all = by_op.lock().unwrap_or_else(|e| e.into_inner());
        for (total, part) in all.iter_mut().zip(&mine) {
            total
                .add(part)
                .map_err(|e| Error::invalid(format!("merging histograms: {e}")))?;
        }
        Ok(())
    })?;
    let by_op = by_op.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(YcsbRun {
        ops,
        hist,
        by_op: Op::ALL
            .into_iter()
            .zip(by_op)
            .filter(|(_, h)| !h.is_empty())
            .map(|(op, h)| (op.name(), h))
            .collect(),
        live_bytes: inserted.load(Relaxed) * config.ycsb_record as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_have_their_proportions() {
        let count = |w, op| {
            (0..1000)
                .filter(|&k| choose(w, k as f64 / 1000.0) == op)
                .count()
        };
        assert_eq!(count(YcsbWorkload::A, Op::Update), 500);
        assert_eq!(count(YcsbWorkload::B, Op::Update), 50);
        assert_eq!(count(YcsbWorkload::C, Op::Read), 1000);
        assert_eq!(count(YcsbWorkload::D, Op::Insert), 50);
        assert_eq!(count(YcsbWorkload::E, Op::Scan), 950);
        assert_eq!(count(YcsbWorkload::F, Op::ReadModifyWrite), 500);
    }
}
