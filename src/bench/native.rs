//! What an adapter costs: a production peer driven through its own API, with exactly the
//! workload the runner drives through the trait, so that the two can be set side by side.
//!
//! The native run does the four phases that carry every throughput claim about a peer:
//! `fillrandom`, `readrandom`, `readseq` and `overwrite`. Keys, values, batches, the
//! random choices (the runner's seeds, phase by phase) and durability are the runner's;
//! every answer is checked as the runner checks it, but in place, on the engine's borrowed
//! bytes. What differs is only the way in: [`Native`] instead of
//! [`KvStore`](crate::KvStore), so no key or value is copied into a buffer of kvlab's, no
//! call goes through a boxed iterator, and nothing is counted on the way.
//!
//! The native reports carry the engine's name with `-native` appended; they time the
//! calls, not the I/O (which is the same engine doing the same work either way).

use std::path::Path;
use std::time::Instant;

use hdrhistogram::Histogram;
use rand::RngExt;

use super::config::BenchConfig;
use super::keys::{KEY_LEN, Values, key};
use super::phase::{NATIVE_SUFFIX, Phase, PhaseReport};
use super::runner::{BenchEnv, fresh_dir, phase_rng};
use super::timing::{self, histogram, record};
use crate::engines::EngineKind;
use crate::error::{Error, Result};
use crate::kv::Durability;
use crate::peers::{Native, open_native};

/// The phases a native run does, in this order (a trait run to compare with does the same).
pub const PHASES: [Phase; 4] = Phase::NATIVE;

/// The name a native report carries for `kind`.
pub fn native_name(kind: EngineKind) -> String {
    format!("{kind}{NATIVE_SUFFIX}")
}

/// Runs [`PHASES`] against the peer `kind` through its own API, handing each report to
/// `report` as soon as it is measured. One thread: the native loop is the single-threaded
/// program an engine's own user would write.
pub fn run_native(
    kind: EngineKind,
    config: &BenchConfig,
    env: &BenchEnv,
    mut report: impl FnMut(PhaseReport),
) -> Result<()> {
    config.validate()?;
    if config.threads != 1 {
        return Err(Error::invalid(
            "the native baseline runs on one thread: drop --threads",
        ));
    }
    let name = native_name(kind);
    let dir = fresh_dir(env, &name, "main")?;
    let result = NativeRun::new(kind, config, env, &dir).and_then(|run| {
        for phase in PHASES {
            report(run.phase(phase)?);
        }
        Ok(())
    });
    if !env.keep_stores {
        // Best effort: a leftover directory costs disk space, not correctness.
        let _ = env.options.vfs.remove_dir_all(&dir);
    }
    result
}

/// One native run: the store, and the runner's values.
struct NativeRun<'a> {
    name: String,
    store: Box<dyn Native>,
    config: &'a BenchConfig,
    env: &'a BenchEnv,
    values: Values,
    new_values: Values,
}

impl<'a> NativeRun<'a> {
    fn new(
        kind: EngineKind,
        config: &'a BenchConfig,
        env: &'a BenchEnv,
        dir: &Path,
    ) -> Result<Self> {
        Ok(NativeRun {
            name: native_name(kind),
            store: open_native(kind, dir, env.options.clone())?,
            config,
            env,
            values: Values::new(config.value_size, config.seed),
            new_values: Values::new(config.value_size, config.seed + 1),
        })
    }

    fn phase(&self, phase: Phase) -> Result<PhaseReport> {
        let n = self.config.records;
        let start = Instant::now();
        let (ops, hist) = match phase {
            Phase::FillRandom => {
                let hist = self.commit_batches(|pos| pos, &self.values)?;
                self.close_writes()?;
                self.store.settle()?;
                (n, Some(hist))
            }
            Phase::ReadRandom => {
                let reads = self.config.reads();
                let mut rng = phase_rng(self.config.seed, phase, 0);
                let mut hist = histogram();
                for _ in 0..reads {
                    let i = rng.random_range(0..n);
                    let t = Instant::now();
                    // Every key holds its first value: overwrite comes last.
                    let right = self.store.value_is(&key(i), Some(self.values.get(i)))?;
                    record(&mut hist, t);
                    if !right {
                        return Err(self.wrong(format!("get of key {i} in {phase}")));
                    }
                }
                (reads, Some(hist))
            }
            Phase::ReadSeq => {
                let mut bytes = 0usize;
                let count = self.store.scan_all(&mut |k, v| {
                    // What a caller does with a pair at least: look at it.
                    bytes += std::hint::black_box(k).len() + std::hint::black_box(v).len();
                })?;
                if count != n || bytes != n as usize * (KEY_LEN + self.config.value_size) {
                    return Err(self.wrong(format!(
                        "full scan returned {count} pairs of {bytes} bytes, {n} are live"
                    )));
                }
                (count, None)
            }
            Phase::Overwrite => {
                let mut rng = phase_rng(self.config.seed, phase, 0);
                let hist = self.commit_batches(|_| rng.random_range(0..n), &self.new_values)?;
                self.close_writes()?;
                self.store.settle()?;
                (n, Some(hist))
            }
            other => {
                return Err(Error::invalid(format!(
                    "the native baseline runs {} only, not {other}",
                    phase_names()
                )));
            }
        };
        let secs = start.elapsed().as_secs_f64();
        Ok(self.report(phase, ops, secs, hist.as_ref()))
    }

    /// Commits `n` pairs in batches of the runner's size: at each position `pos`, the key
    /// of index `pick(pos)` with its value from `values`.
    fn commit_batches(
        &self,
        mut pick: impl FnMut(u64) -> u64,
        values: &Values,
    ) -> Result<Histogram<u64>> {
        let n = self.config.records;
        let len = self.config.batch as u64;
        let mut hist = histogram();
        let mut keys: Vec<(u64, [u8; KEY_LEN])> = Vec::with_capacity(self.config.batch);
        for b in 0..n.div_ceil(len) {
            keys.clear();
            keys.extend(timing::batch(b, len, n).map(|pos| {
                let i = pick(pos);
                (i, key(i))
            }));
            let mut pairs = keys.iter().map(|(i, k)| (k.as_slice(), values.get(*i)));
            let t = Instant::now();
            self.store.put_all(&mut pairs)?;
            record(&mut hist, t);
        }
        Ok(hist)
    }

    /// With buffered durability, a write phase ends with the sync that makes it durable.
    fn close_writes(&self) -> Result<()> {
        if self.env.options.durability == Durability::Buffered {
            self.store.sync()?;
        }
        Ok(())
    }

    fn wrong(&self, what: String) -> Error {
        Error::corruption(
            self.env.dir.join(&self.name),
            0,
            format!("{} returned a wrong answer: {what}", self.name),
        )
    }

    fn report(
        &self,
        phase: Phase,
        ops: u64,
        secs: f64,
        hist: Option<&Histogram<u64>>,
    ) -> PhaseReport {
        let quantile = |q: f64| timing::quantile_us(hist, q);
        PhaseReport {
            engine: self.name.clone(),
            phase: phase.to_string(),
            n: self.config.records,
            ops,
            secs,
            ops_per_sec: if secs > 0.0 { ops as f64 / secs } else { 0.0 },
            p50_us: quantile(0.50),
            p99_us: quantile(0.99),
            p999_us: quantile(0.999),
            disk_usage: self.store.disk_usage().ok(),
            ..PhaseReport::default()
        }
    }
}

fn phase_names() -> String {
    PHASES.map(|p| p.name()).join(", ")
}
