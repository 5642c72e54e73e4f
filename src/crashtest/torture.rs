//! Process kills through the trait (`kvlab torture`): a child process writes batches with
//! `Durability::Sync` and reports each acknowledged batch on a pipe; the parent SIGKILLs
//! it at a random moment (a millisecond to seconds in, so that kills land in commits,
//! flushes, compactions and checkpoints alike), reopens the store, and checks that every
//! acknowledged batch is there, that the state is a prefix of the batches issued, and that
//! the integrity checker passes. Then the next child goes on with the same store.
//!
//! Batches are a function of the run's seed and their number, so the parent knows what
//! every batch wrote without being told: the state after `n` batches is the model.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Finding;
use super::model::describe_difference;
use super::under_test::collect;
use crate::{Durability, EngineKind, KeyRange, Options, WriteBatch};

/// Distinct keys the writers use.
const KEYS: u64 = 5000;

/// Batch `n` of the run seeded with `seed`: 1 to 16 puts and deletes; each value names its
/// key and batch and is padded to 0.1-2 KB.
pub fn batch_for(seed: u64, n: u64) -> WriteBatch {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut batch = WriteBatch::new();
    for e in 0..rng.random_range(1..=16) {
        let key = format!("t{:05}", rng.random_range(0..KEYS));
        if rng.random_bool(0.1) {
            batch.delete(key.as_bytes());
        } else {
            let mut value = format!("{key}@{n}#{e};").into_bytes();
            value.resize(value.len() + rng.random_range(100..2000), b'~');
            batch.put(key.as_bytes(), &value);
        }
    }
    batch
}

/// Options of a torture run: the engine's defaults with `knobs` (`ENGINE.NAME=VALUE`)
/// applied, and `Durability::Sync`.
pub fn options(knobs: &[String]) -> crate::Result<Options> {
    let mut options = Options {
        durability: Durability::Sync,
        ..Options::default()
    };
    for knob in knobs {
        options.set(knob)?;
    }
    Ok(options)
}

/// The child's loop: opens the store and writes batch `from`, `from + 1`, ... for ever,
/// printing each number to `out` once its write returned. Returns only on an error.
pub fn run_writer(
    engine: EngineKind,
    dir: &Path,
    knobs: &[String],
    seed: u64,
    from: u64,
    out: &mut dyn Write,
) -> crate::Result<()> {
    let store = crate::open(engine, dir, options(knobs)?)?;
    for n in from.. {
        store.write(&batch_for(seed, n))?;
        writeln!(out, "{n}")
            .and_then(|()| out.flush())
            .map_err(|e| crate::Error::io("write", "the parent's pipe", e))?;
    }
    Ok(())
}

/// A torture run.
#[derive(Clone, Debug)]
pub struct TortureConfig {
    /// The engine.
    pub engine: EngineKind,
    /// The store's directory (missing or empty at the start).
    pub dir: PathBuf,
    /// Children to kill.
    pub kills: u32,
    /// Longest a child runs before its kill; each waits a log-uniform time from 1 ms to this.
    pub max_wait: Duration,
    /// Seeds the batches and the waits.
    pub seed: u64,
    /// Engine knobs, `ENGINE.NAME=VALUE`.
    pub knobs: Vec<String>,
    /// The `kvlab` executable, run as `kvlab torture-writer ...` for each child.
    pub exe: PathBuf,
}

/// What a torture run saw.
#[derive(Clone, Debug, Default)]
pub struct TortureReport {
    /// Children killed.
    pub kills: u32,
    /// Batches acknowledged to the children, in all.
    pub acknowledged: u64,
    /// Acknowledged batches missing after a recovery (a correct engine: 0).
    pub lost: u64,
    /// Recoveries that kept the batch in flight at the kill (written, not acknowledged).
    pub kept_in_flight: u32,
    /// How long each reopen after a kill took.
    pub recoveries: Vec<Duration>,
}

impl TortureReport {
    /// The `q` quantile (0 to 1) of the recovery times.
    pub fn recovery_quantile(&self, q: f64) -> Duration {
        let mut times = self.recoveries.clone();
        times.sort();
        match times.len() {
            0 => Duration::ZERO,
            n => times[((n - 1) as f64 * q).round() as usize],
        }
    }
}

/// The state after batches `from..to` applied to `state`.
fn advance(state: &mut BTreeMap<Vec<u8>, Vec<u8>>, seed: u64, from: u64, to: u64) {
    for n in from..to {
        for op in batch_for(seed, n).iter() {
            match op.value() {
                Some(v) => state.insert(op.key().to_vec(), v.to_vec()),
                None => state.remove(op.key()),
            };
        }
    }
}

/// Runs the kills; `progress` hears a line after each. `Err` names the first broken promise.
pub fn run_torture(
    config: &TortureConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<TortureReport, Finding> {
    let engine = config.engine;
    let fail = |what: String| Finding::new(engine, what);
    if engine == EngineKind::Mem {
        return Err(fail(
            "mem keeps nothing across a reopen: torture needs an engine that persists".into(),
        ));
    }
    let options = || options(&config.knobs).map_err(|e| fail(format!("options: {e}")));
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut report = TortureReport::default();
    let mut state = BTreeMap::new();
    // Batches the store holds.
    let mut durable = 0u64;
    let max_ms = config.max_wait.as_secs_f64() * 1000.0;
    for kill in 0..config.kills {
        let mut child = Command::new(&config.exe)
            .arg("torture-writer")
            .args(["--engine", engine.name()])
            .arg("--dir")
            .arg(&config.dir)
            .args(["--seed", &config.seed.to_string()])
            .args(["--from", &durable.to_string()])
            .args(config.knobs.iter().flat_map(|k| ["--set", k.as_str()]))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("spawning {}: {e}", config.exe.display())))?;
        let stdout = child.stdout.take().expect("a piped stdout");
        let reader = std::thread::spawn(move || {
            let mut last = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                last = line.trim().parse::<u64>().ok().or(last);
            }
            last
        });
        let wait_ms = max_ms.max(1.0).powf(rng.random::<f64>());
        std::thread::sleep(Duration::from_secs_f64(wait_ms / 1000.0));
        let exited_early = child.try_wait().ok().flatten();
        let _ = child.kill();
        let _ = child.wait();
        let last = reader.join().expect("the pipe reader does not panic");
        if let Some(status) = exited_early {
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = stderr.read_to_string(&mut err);
            }
            return Err(fail(format!(
                "the writer exited by itself ({status}): {}",
                err.trim()
            )));
        }
        let acked = last.map_or(durable, |n| n + 1);
        report.acknowledged += acked - durable;

        let started = Instant::now();
        let store = crate::open(engine, &config.dir, options()?)
            .map_err(|e| fail(format!("reopen after kill {kill}: {e}")))?;
        report.recoveries.push(started.elapsed());
        store
            .check()
            .map_err(|e| fail(format!("integrity check after kill {kill}: {e}")))?;
        let got = collect(store.as_ref(), KeyRange::all())
            .map_err(|e| fail(format!("scan after kill {kill}: {e}")))?;
        drop(store);

        advance(&mut state, config.seed, durable, acked);
        if got == state {
            durable = acked;
        } else {
            let mut with_next = state.clone();
            advance(&mut with_next, config.seed, acked, acked + 1);
            if got != with_next {
                let lost = (durable..acked)
                    .filter(|&n| {
                        batch_for(config.seed, n).iter().any(|op| {
                            got.get(op.key()).map(Vec::as_slice)
                                != state.get(op.key()).map(Vec::as_slice)
                        })
                    })
                    .count() as u64;
                report.lost += lost;
                return Err(fail(format!(
                    "after kill {kill}, {acked} batches acknowledged: the store is not their \
                     state (nor that with the batch in flight): {}",
                    describe_difference(&got, &state)
                )));
            }
            state = with_next;
            durable = acked + 1;
            report.kept_in_flight += 1;
        }
        report.kills += 1;
        progress(&format!(
            "kill {}/{}: after {wait_ms:.0} ms, {} batches durable",
            kill + 1,
            config.kills,
            durable
        ));
    }
    Ok(report)
}
