//! The crash test (DESIGN §6): random batches on a `SimFs`, a power failure at a random
//! point, recovery (itself sometimes crashed), then the invariants:
//!
//! 1. every batch acknowledged as durable is present;
//! 2. the state equals the state after some prefix of the issued batches, at least as long
//!    as the acknowledged ones (so batches are all-or-nothing and nothing comes back from
//!    the dead);
//! 3. no value is a phantom: every value names its own key and a batch that wrote it;
//! 4. the recovered store takes new writes, and they survive a clean reopen.
//!
//! A crash point is a number of mutating Vfs calls after which the file system "loses
//! power" ([`SimFs::crash_after`]); it is drawn uniformly over the calls the same workload
//! makes in a dry run, so crashes land inside writes, syncs, flushes and compactions alike.

use std::collections::BTreeMap;
use std::sync::Arc;

use kvlab::vfs::SimFs;
use kvlab::{Durability, Error, KvStore, WriteBatch};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Subject, dump};

/// The shape of each crash run.
#[derive(Clone, Copy, Debug)]
pub struct CrashConfig {
    /// Batches issued before the crash (at most).
    pub batches: usize,
    /// Entries per batch (at most).
    pub batch_len: usize,
    /// Distinct keys.
    pub keys: usize,
    /// Longest value padding, so values cross sector boundaries and writes can tear.
    pub max_pad: usize,
    /// With `Buffered`, the kit calls `sync()` every few batches and counts a batch as
    /// acknowledged once a sync after it returned.
    pub durability: Durability,
}

impl Default for CrashConfig {
    fn default() -> Self {
        CrashConfig {
            batches: 40,
            batch_len: 8,
            keys: 24,
            max_pad: 700,
            durability: Durability::Sync,
        }
    }
}

type State = BTreeMap<Vec<u8>, Vec<u8>>;

struct Workload {
    batches: Vec<WriteBatch>,
    /// With Buffered durability: sync after these batch indices.
    sync_after: Vec<bool>,
}

fn key_name(i: usize) -> Vec<u8> {
    format!("key-{i:03}").into_bytes()
}

/// A value that says which key and batch wrote it: `key-007@12#3;` then padding.
fn value_for(key: &[u8], batch: usize, entry: usize, pad: usize) -> Vec<u8> {
    let mut v = format!("{}@{batch}#{entry};", String::from_utf8_lossy(key)).into_bytes();
    v.resize(v.len() + pad, b'.');
    v
}

fn workload(config: &CrashConfig, rng: &mut ChaCha8Rng) -> Workload {
    let n = rng.random_range(1..=config.batches);
    let mut batches = Vec::with_capacity(n);
    let mut sync_after = Vec::with_capacity(n);
    for b in 0..n {
        let mut batch = WriteBatch::new();
        for e in 0..rng.random_range(1..=config.batch_len) {
            let key = key_name(rng.random_range(0..config.keys));
            if rng.random_bool(0.2) {
                batch.delete(&key);
            } else {
                let pad = rng.random_range(0..=config.max_pad);
                batch.put(&key, &value_for(&key, b, e, pad));
            }
        }
        batches.push(batch);
        sync_after.push(rng.random_bool(0.3));
    }
    Workload {
        batches,
        sync_after,
    }
}

fn apply(state: &mut State, batch: &WriteBatch) {
    for op in batch.iter() {
        match op.value() {
            Some(v) => state.insert(op.key().to_vec(), v.to_vec()),
            None => state.remove(op.key()),
        };
    }
}

/// What a run did before the crash.
struct Outcome {
    /// Batches whose `write` was called (the last may have been cut by the crash).
    issued: usize,
    /// Batches acknowledged as durable.
    acked: usize,
}

fn is_crash(e: &Error, fs: &SimFs) -> bool {
    e.is_crashed() || fs.is_powered_off()
}

/// Issues the workload until done or until the file system loses power.
fn issue(store: &dyn KvStore, fs: &SimFs, w: &Workload, d: Durability) -> Result<Outcome, String> {
    let mut out = Outcome {
        issued: 0,
        acked: 0,
    };
    for (i, batch) in w.batches.iter().enumerate() {
        out.issued = i + 1;
        match store.write(batch) {
            Ok(()) if d == Durability::Sync => out.acked = i + 1,
            Ok(()) => {}
            Err(e) if is_crash(&e, fs) => return Ok(out),
            Err(e) => return Err(format!("write of batch {i} failed: {e}")),
        }
        if d == Durability::Buffered && w.sync_after[i] {
            match store.sync() {
                Ok(()) => out.acked = i + 1,
                Err(e) if is_crash(&e, fs) => return Ok(out),
                Err(e) => return Err(format!("sync after batch {i} failed: {e}")),
            }
        }
    }
    Ok(out)
}

/// Reopens after a crash, sometimes crashing recovery itself first.
/// Returns the store and how many times recovery was crashed on the way.
fn recover(
    subject: &Subject,
    fs: &Arc<SimFs>,
    rng: &mut ChaCha8Rng,
    d: Durability,
) -> Result<(Box<dyn KvStore>, usize), String> {
    // Every pass of the loop that does not return was ended by a crash.
    for attempt in 0..4 {
        if attempt < 3 && rng.random_bool(0.4) {
            // Count the calls recovery makes on a copy, then crash somewhere among them.
            let probe = Arc::new(fs.fork());
            let before = probe.mutating_calls();
            drop(subject.open(&probe, d));
            let calls = probe.mutating_calls() - before;
            if calls > 0 {
                fs.crash_after(rng.random_range(0..calls));
            }
        }
        match subject.open(fs, d) {
            Ok(store) if !fs.is_powered_off() => {
                fs.disarm_crash();
                return Ok((store, attempt));
            }
            Ok(store) => drop(store),
            Err(e) if is_crash(&e, fs) => {}
            Err(e) => return Err(format!("recovery (attempt {attempt}) failed: {e}")),
        }
        fs.crash(rng.next_u64());
    }
    Err("recovery never completed".into())
}

fn describe_difference(got: &State, want: &State) -> String {
    let mut lines = Vec::new();
    for (k, v) in want {
        match got.get(k) {
            None => lines.push(format!("missing {}", String::from_utf8_lossy(k))),
            Some(g) if g != v => lines.push(format!(
                "{} = {:.40} but expected {:.40}",
                String::from_utf8_lossy(k),
                String::from_utf8_lossy(g),
                String::from_utf8_lossy(v)
            )),
            _ => {}
        }
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        lines.push(format!("unexpected {}", String::from_utf8_lossy(k)));
    }
    lines.truncate(6);
    lines.join("; ")
}

/// Checks the recovered state against every allowed prefix; returns the prefix it matches.
fn verify(got: &State, w: &Workload, out: &Outcome) -> Result<usize, String> {
    for (k, v) in got {
        let text = String::from_utf8_lossy(v);
        let Some((owner, _)) = text.split_once('@') else {
            return Err(format!(
                "phantom value {text:.40} under {}",
                String::from_utf8_lossy(k)
            ));
        };
        if owner.as_bytes() != k.as_slice() {
            return Err(format!(
                "value of {owner} found under {}",
                String::from_utf8_lossy(k)
            ));
        }
    }
    let mut state = State::new();
    for batch in &w.batches[..out.acked] {
        apply(&mut state, batch);
    }
    let at_ack = state.clone();
    if *got == state {
        return Ok(out.acked);
    }
    for (i, batch) in w.batches[out.acked..out.issued].iter().enumerate() {
        apply(&mut state, batch);
        if *got == state {
            return Ok(out.acked + i + 1);
        }
    }
    Err(format!(
        "state after recovery is no prefix of batches {}..={} (acknowledged {}): vs. the \
         acknowledged prefix: {}",
        out.acked,
        out.issued,
        out.acked,
        describe_difference(got, &at_ack)
    ))
}

/// What the runs exercised, so a test can check the kit did not degenerate (crashes that
/// always land after the workload, say).
#[derive(Clone, Copy, Debug, Default)]
pub struct CrashSummary {
    /// Runs that passed.
    pub runs: usize,
    /// Runs whose crash point cut the workload short.
    pub crashed_mid_workload: usize,
    /// Runs where recovery itself was crashed at least once.
    pub crashed_recoveries: usize,
    /// Runs that recovered fewer batches than were issued (unacknowledged work lost).
    pub lost_unacknowledged: usize,
}

/// One crash run; `Err` describes the violated invariant.
pub fn run_one(
    subject: &Subject,
    config: &CrashConfig,
    seed: u64,
    summary: &mut CrashSummary,
) -> Result<(), String> {
    let d = config.durability;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let w = workload(config, &mut rng);

    // Dry run: how many mutating calls does the workload make?
    let dry = Arc::new(SimFs::new());
    let store = subject.open(&dry, d).map_err(|e| format!("open: {e}"))?;
    let before = dry.mutating_calls();
    issue(store.as_ref(), &dry, &w, d)?;
    let calls = dry.mutating_calls() - before;
    drop(store);

    let fs = Arc::new(SimFs::new());
    let store = subject.open(&fs, d).map_err(|e| format!("open: {e}"))?;
    fs.crash_after(rng.random_range(0..=calls + calls / 8));
    let out = issue(store.as_ref(), &fs, &w, d)?;
    if fs.is_powered_off() {
        summary.crashed_mid_workload += 1;
    }
    drop(store);
    fs.crash(rng.next_u64());

    let (store, recovery_crashes) = recover(subject, &fs, &mut rng, d)?;
    if recovery_crashes > 0 {
        summary.crashed_recoveries += 1;
    }
    store
        .check()
        .map_err(|e| format!("integrity check after recovery: {e}"))?;
    let got: State = dump(store.as_ref())
        .map_err(|e| format!("scan after recovery: {e}"))?
        .into_iter()
        .collect();
    for i in 0..config.keys {
        let k = key_name(i);
        let value = store
            .get(&k)
            .map_err(|e| format!("get after recovery: {e}"))?;
        if value.as_deref() != got.get(&k).map(|v| v.as_slice()) {
            return Err(format!(
                "get and scan disagree on {}",
                String::from_utf8_lossy(&k)
            ));
        }
    }
    if verify(&got, &w, &out)? < out.issued {
        summary.lost_unacknowledged += 1;
    }

    // The recovered store must take new writes that survive a clean reopen.
    let mut batch = WriteBatch::new();
    batch.put(b"after-recovery", b"after-recovery@0#0;");
    store
        .write(&batch)
        .map_err(|e| format!("write after recovery: {e}"))?;
    store
        .sync()
        .map_err(|e| format!("sync after recovery: {e}"))?;
    drop(store);
    let store = subject
        .open(&fs, d)
        .map_err(|e| format!("reopen after recovery: {e}"))?;
    store
        .check()
        .map_err(|e| format!("integrity check after reopen: {e}"))?;
    match store.get(b"after-recovery") {
        Ok(Some(_)) => Ok(()),
        other => Err(format!(
            "a write after recovery was lost on reopen: {other:?}"
        )),
    }
}

/// Runs `seeds`; returns the first violation, naming its seed.
pub fn run(
    subject: &Subject,
    config: CrashConfig,
    seeds: impl IntoIterator<Item = u64>,
) -> Result<CrashSummary, String> {
    let mut summary = CrashSummary::default();
    for seed in seeds {
        run_one(subject, &config, seed, &mut summary)
            .map_err(|e| format!("{} crash test, seed {seed}: {e}", subject.name))?;
        summary.runs += 1;
    }
    Ok(summary)
}
