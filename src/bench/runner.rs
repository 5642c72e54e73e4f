//! Runs phases against one engine and measures each: time, latency, and the engine's, the
//! kernel's and the device's byte counters.
//!
//! The runner also checks every answer it gets (a value read must be the value written, a
//! missing key must be missing, a full scan must return every live key), so a benchmark
//! run doubles as a correctness check: an engine that is fast because it is wrong fails.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use hdrhistogram::Histogram;

use super::timing::{self, parallel, record};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::BenchConfig;
use super::device::{DeviceIo, device_stat_file, read_device_io};
use super::keys::{KEY_LEN, Values, key, scramble};
use super::phase::{LOAD_SUFFIX, OperationFigures, Phase, PhaseReport, YcsbWorkload};
use super::ycsb;
use crate::engines::{DiskIo, EngineKind, IoSource};
use crate::error::{Error, Result};
use crate::identity;
use crate::kv::{Durability, KeyRange, KvStore, Options, Stats, WriteBatch};
use crate::vfs::{OsIo, os_io};

/// The size of a `fill100k` value.
pub const LARGE_VALUE: usize = 100 << 10;

/// Where and how an engine runs.
#[derive(Clone, Debug)]
pub struct BenchEnv {
    /// Options for every store opened (durability, Vfs, engine knobs).
    pub options: Options,
    /// A directory the runner may fill; each store gets a subdirectory.
    pub dir: PathBuf,
    /// Read /proc/self/io and the device's counters (only meaningful on a real disk).
    pub outside_counters: bool,
    /// Evict the page cache with `drop_caches` (needs root) rather than per-file fadvise.
    pub drop_caches: bool,
    /// Keep each store a phase built, for `kvlab inspect`, instead of removing it.
    pub keep_stores: bool,
}

/// Keys the filled store holds now, so every answer can be checked.
struct Live {
    n: u64,
    present: Vec<AtomicU64>,
    overwritten: Vec<AtomicU64>,
    /// Keys outside `0..n` (syncwrite's), each `KEY_LEN + value_size` bytes.
    extra: AtomicU64,
}

impl Live {
    fn new(n: u64) -> Self {
        let words = n.div_ceil(64) as usize;
        let zeros = || (0..words).map(|_| AtomicU64::new(0)).collect();
        Live {
            n,
            present: zeros(),
            overwritten: zeros(),
            extra: AtomicU64::new(0),
        }
    }

    fn bit(set: &[AtomicU64], i: u64) -> bool {
        set[(i / 64) as usize].load(Relaxed) & (1 << (i % 64)) != 0
    }

    fn set(set: &[AtomicU64], i: u64, on: bool) {
        let mask = 1 << (i % 64);
        if on {
            set[(i / 64) as usize].fetch_or(mask, Relaxed);
        } else {
            set[(i / 64) as usize].fetch_and(!mask, Relaxed);
        }
    }

    fn count(&self) -> u64 {
        let bits: u64 = self
            .present
            .iter()
            .map(|w| u64::from(w.load(Relaxed).count_ones()))
            .sum();
        bits + self.extra.load(Relaxed)
    }
}

/// Counters read before a phase, subtracted after it.
struct Probe {
    stats: Stats,
    os: Option<OsIo>,
    dev: Option<DeviceIo>,
    start: Instant,
}

type OpenFn = dyn Fn(&Path, Options) -> Result<Box<dyn KvStore>> + Send + Sync;

/// An engine as the runner sees it: a name, whether it persists, and how to open it.
pub struct EngineSpec {
    /// The name reports carry.
    pub name: String,
    /// Whether the engine keeps data across a reopen (else `readrandom_cold` is skipped
    /// and no disk figures are reported).
    pub persistent: bool,
    /// Where the engine's disk figures come from: its `Stats`, or this process's
    /// counters in `/proc/self/io` for a peer that does its own file I/O.
    pub io_source: IoSource,
    /// Opens (or reopens) the store in a directory.
    pub open: Box<OpenFn>,
}

impl EngineSpec {
    /// One of the engines `kvlab::open` knows.
    pub fn of(kind: EngineKind) -> Self {
        EngineSpec {
            name: kind.to_string(),
            persistent: kind.persistent(),
            io_source: kind.io_source(),
            open: Box::new(move |dir, options| crate::engines::open(kind, dir, options)),
        }
    }
}

/// Runs phases against one engine.
pub struct Runner<'a> {
    engine: EngineSpec,
    config: &'a BenchConfig,
    env: &'a BenchEnv,
    dev_file: Option<PathBuf>,
    values: Values,
    new_values: Values,
    /// The store `fillrandom` built, and its directory.
    main: Option<(Box<dyn KvStore>, PathBuf)>,
    live: Live,
}

impl<'a> Runner<'a> {
    /// A runner for `kind`; nothing is opened yet.
    pub fn new(kind: EngineKind, config: &'a BenchConfig, env: &'a BenchEnv) -> Result<Self> {
        Self::for_engine(EngineSpec::of(kind), config, env)
    }

    /// A runner for any engine, described by `engine`.
    pub fn for_engine(
        engine: EngineSpec,
        config: &'a BenchConfig,
        env: &'a BenchEnv,
    ) -> Result<Self> {
        config.validate()?;
        let dev_file = if env.outside_counters {
            device_stat_file(&env.dir)
        } else {
            None
        };
        Ok(Runner {
            engine,
            config,
            env,
            dev_file,
            values: Values::new(config.value_size, config.seed),
            new_values: Values::new(config.value_size, config.seed + 1),
            main: None,
            live: Live::new(config.records),
        })
    }

    /// Runs `phases` in order, handing each report to `report` as soon as it is measured.
    /// Phases that need the filled store get a `fillrandom` first if the list has none.
    /// `readrandom_cold` is skipped for an engine that keeps nothing across a reopen.
    pub fn run(
        &mut self,
        phases: &[Phase],
        mut on_start: impl FnMut(Phase),
        mut report: impl FnMut(PhaseReport),
    ) -> Result<()> {
        let mut phases = phases.to_vec();
        let first_fill = phases.iter().position(|p| *p == Phase::FillRandom);
        let first_use = phases.iter().position(|p| p.needs_filled_store());
        if let Some(use_at) = first_use
            && first_fill.is_none_or(|fill_at| fill_at > use_at)
        {
            phases.insert(use_at, Phase::FillRandom);
        }
        for phase in phases {
            if phase == Phase::ReadRandomCold && !self.engine.persistent {
                continue;
            }
            on_start(phase);
            if let Phase::Ycsb(workload) = phase {
                let (load, run) = self.ycsb(phase, workload)?;
                report(load);
                report(run);
            } else {
                report(self.run_phase(phase)?);
            }
        }
        if let Some((store, dir)) = self.main.take() {
            drop(store);
            self.remove_store(&dir);
        }
        Ok(())
    }

    fn open(&self, dir: &Path) -> Result<Box<dyn KvStore>> {
        (self.engine.open)(dir, self.env.options.clone())
    }

    /// Opens an empty store in a fresh subdirectory (see [`fresh_dir`]).
    fn fresh(&self, name: &str) -> Result<(Box<dyn KvStore>, PathBuf)> {
        let dir = fresh_dir(self.env, &self.engine.name, name)?;
        Ok((self.open(&dir)?, dir))
    }

    fn remove_store(&self, dir: &Path) {
        if self.env.keep_stores {
            return;
        }
        // Best effort: a leftover directory costs disk space, not correctness.
        let _ = self.env.options.vfs.remove_dir_all(dir);
    }

    fn main_store(&self) -> Result<&dyn KvStore> {
        self.main
            .as_ref()
            .map(|(s, _)| s.as_ref())
            .ok_or_else(|| Error::invalid("this phase needs the store fillrandom builds"))
    }

    fn probe(&self, store: &dyn KvStore) -> Probe {
        let (os, dev) = self.outside();
        Probe {
            stats: store.stats(),
            os,
            dev,
            start: Instant::now(),
        }
    }

    fn outside(&self) -> (Option<OsIo>, Option<DeviceIo>) {
        if !self.env.outside_counters {
            return (None, None);
        }
        // The device sees buffered writes only once the kernel writes them back.
        // SAFETY: sync(2) takes no arguments and cannot fail.
        unsafe { libc::sync() };
        let dev = self.dev_file.as_deref().and_then(read_device_io);
        (os_io().ok(), dev)
    }

    /// Closes a phase: secs since the probe, counters since the probe, disk usage.
    fn finish(
        &self,
        phase: Phase,
        store: &dyn KvStore,
        probe: Probe,
        ops: u64,
        hist: Option<&Histogram<u64>>,
        live_bytes: u64,
    ) -> Result<PhaseReport> {
        let secs = probe.start.elapsed().as_secs_f64();
        let (os, dev) = self.outside();
        let now = store.stats();
        let before = &probe.stats;
        let disk_usage = store.disk_usage()?;
        let quantile = |q: f64| timing::quantile_us(hist, q);
        let user_bytes_written = now.user_bytes_written - before.user_bytes_written;
        let persistent = self.engine.persistent;
        let source = if persistent {
            self.engine.io_source
        } else {
            IoSource::NoDisk
        };
        let disk = source.disk_io((before, probe.os.as_ref()), (&now, os.as_ref()));
        let DiskIo {
            bytes_written: disk_bytes_written,
            bytes_read: disk_bytes_read,
            reads: disk_reads,
        } = disk.unwrap_or_default();
        Ok(PhaseReport {
            engine: self.engine.name.clone(),
            phase: phase.to_string(),
            n: self.config.records,
            ops,
            secs,
            ops_per_sec: if secs > 0.0 { ops as f64 / secs } else { 0.0 },
            p50_us: quantile(0.50),
            p99_us: quantile(0.99),
            p999_us: quantile(0.999),
            user_bytes_written,
            user_bytes_read: now.user_bytes_read - before.user_bytes_read,
            disk_bytes_written,
            disk_bytes_read,
            disk_reads,
            syncs: now.syncs - before.syncs,
            os_write_bytes: os.zip(probe.os).map(|(a, b)| a.write_bytes - b.write_bytes),
            os_read_bytes: os.zip(probe.os).map(|(a, b)| a.read_bytes - b.read_bytes),
            dev_write_bytes: dev
                .zip(probe.dev)
                .map(|(a, b)| a.write_bytes - b.write_bytes),
            dev_read_bytes: dev.zip(probe.dev).map(|(a, b)| a.read_bytes - b.read_bytes),
            io_source: source.name().to_string(),
            write_amp: (disk.is_some() && user_bytes_written > 0)
                .then(|| disk_bytes_written as f64 / user_bytes_written as f64),
            read_bytes_per_op: (disk.is_some() && ops > 0)
                .then(|| disk_bytes_read as f64 / ops as f64),
            disk_usage: persistent.then_some(disk_usage),
            space_amp: (persistent && live_bytes > 0)
                .then(|| disk_usage as f64 / live_bytes as f64),
            operations: Default::default(),
        })
    }

    fn main_live_bytes(&self) -> u64 {
        self.live.count() * (KEY_LEN + self.config.value_size) as u64
    }

    fn run_phase(&mut self, phase: Phase) -> Result<PhaseReport> {
        match phase {
            Phase::FillSeq => {
                let (store, dir) = self.fresh("fillseq")?;
                let mut order: Vec<u64> = (0..self.config.records).collect();
                order.sort_unstable_by_key(|&i| scramble(i));
                let probe = self.probe(store.as_ref());
                let hist = self.fill(store.as_ref(), |pos| order[pos as usize], None)?;
                let live = self.config.records * (KEY_LEN + self.config.value_size) as u64;
                let report = self.finish(
                    phase,
                    store.as_ref(),
                    probe,
                    self.config.records,
                    Some(&hist),
                    live,
                );
                drop(store);
                self.remove_store(&dir);
                report
            }
            Phase::FillRandom => {
                if let Some((store, dir)) = self.main.take() {
                    drop(store);
                    self.remove_store(&dir);
                }
                self.live = Live::new(self.config.records);
                let (store, dir) = self.fresh("main")?;
                let probe = self.probe(store.as_ref());
                let hist = self.fill(store.as_ref(), |pos| pos, Some(&self.live))?;
                store.settle()?;
                let report = self.finish(
                    phase,
                    store.as_ref(),
                    probe,
                    self.config.records,
                    Some(&hist),
                    self.main_live_bytes(),
                );
                self.main = Some((store, dir));
                report
            }
            Phase::ReadRandom => {
                let n = self.config.records;
                self.gets(phase, self.config.reads(), move |rng| {
                    rng.random_range(0..n)
                })
            }
            Phase::ReadHot => {
                let hot = (self.config.records / 100).max(1);
                self.gets(phase, self.config.reads(), move |rng| {
                    rng.random_range(0..hot)
                })
            }
            Phase::ReadMissing => {
                let n = self.config.records;
                self.gets(phase, self.config.reads(), move |rng| {
                    n + rng.random_range(0..n)
                })
            }
            Phase::ReadRandomCold => {
                self.reopen_cold()?;
                let n = self.config.records;
                let reads = self
                    .config
                    .cold_reads
                    .unwrap_or(self.config.records.min(10_000));
                self.gets(phase, reads, move |rng| rng.random_range(0..n))
            }
            Phase::SeekRandom | Phase::SeekAfterDeletes => self.seeks(phase),
            Phase::ReadSeq => self.read_seq(phase),
            Phase::Overwrite => self.overwrite(phase),
            Phase::DeleteRandom => self.delete_random(phase),
            Phase::SyncWrite => self.sync_write(phase),
            Phase::Fill100k => self.fill_large(phase),
            Phase::Ycsb(workload) => self.ycsb(phase, workload).map(|(_, run)| run),
        }
    }

    /// A YCSB workload on a fresh store: the load's report (phase `ycsb_X_load`), then the
    /// run's, with each operation type's count and latencies.
    fn ycsb(&mut self, phase: Phase, workload: YcsbWorkload) -> Result<(PhaseReport, PhaseReport)> {
        let (store, dir) = self.fresh(phase.name())?;
        let result = (|| {
            let store = store.as_ref();
            let probe = self.probe(store);
            let load = ycsb::load(store, self.config)?;
            let live = load.records * self.config.ycsb_record as u64;
            let mut load_report =
                self.finish(phase, store, probe, load.records, Some(&load.hist), live)?;
            load_report.phase = format!("{phase}{LOAD_SUFFIX}");
            let probe = self.probe(store);
            let run = ycsb::run(store, workload, self.config, load.records)?;
            self.close_writes(store)?;
            let mut report = self.finish(
                phase,
                store,
                probe,
                run.ops,
                Some(&run.hist),
                run.live_bytes,
            )?;
            report.operations = run
                .by_op
                .iter()
                .map(|(name, hist)| {
                    let q = |q| timing::quantile_us(Some(hist), q).unwrap_or(0.0);
                    let figures = OperationFigures {
                        count: hist.len(),
                        p50_us: q(0.50),
                        p95_us: q(0.95),
                        p99_us: q(0.99),
                    };
                    (name.to_string(), figures)
                })
                .collect();
            Ok((load_report, report))
        })();
        drop(store);
        self.remove_store(&dir);
        result
    }

    /// Inserts key `order(pos)` for every position, in batches; marks them live.
    fn fill(
        &self,
        store: &dyn KvStore,
        order: impl Fn(u64) -> u64 + Sync,
        live: Option<&Live>,
    ) -> Result<Histogram<u64>> {
        let batch_len = self.config.batch as u64;
        let batches = self.config.records.div_ceil(batch_len);
        let hist = parallel(self.config.threads, batches, |_, range, hist| {
            let mut batch = WriteBatch::with_capacity(
                self.config.batch,
                self.config.batch * (KEY_LEN + self.config.value_size),
            );
            for b in range {
                let positions = timing::batch(b, batch_len, self.config.records);
                batch.clear();
                for pos in positions.clone() {
                    let i = order(pos);
                    batch.put(&key(i), self.values.get(i));
                }
                let t = Instant::now();
                store.write(&batch)?;
                record(hist, t);
                if let Some(live) = live {
                    for pos in positions {
                        Live::set(&live.present, order(pos), true);
                    }
                }
            }
            Ok(())
        })?;
        self.close_writes(store)?;
        Ok(hist)
    }

    /// With buffered durability, a write phase ends with the sync that makes it durable.
    fn close_writes(&self, store: &dyn KvStore) -> Result<()> {
        if self.env.options.durability == Durability::Buffered {
            store.sync()?;
        }
        Ok(())
    }

    fn expected_value(&self, i: u64) -> Option<&[u8]> {
        if i >= self.live.n || !Live::bit(&self.live.present, i) {
            return None;
        }
        Some(if Live::bit(&self.live.overwritten, i) {
            self.new_values.get(i)
        } else {
            self.values.get(i)
        })
    }

    fn wrong(&self, what: String) -> Error {
        Error::corruption(
            self.main
                .as_ref()
                .map_or_else(PathBuf::new, |(_, d)| d.clone()),
            0,
            format!("{} returned a wrong answer: {what}", self.engine.name),
        )
    }

    fn phase_rng(&self, phase: Phase, worker: usize) -> ChaCha8Rng {
        phase_rng(self.config.seed, phase, worker)
    }

    /// `count` gets of keys `pick` chooses; every answer checked against `Live`.
    fn gets(
        &self,
        phase: Phase,
        count: u64,
        pick: impl Fn(&mut ChaCha8Rng) -> u64 + Sync,
    ) -> Result<PhaseReport> {
        let store = self.main_store()?;
        let probe = self.probe(store);
        let hist = parallel(self.config.threads, count, |worker, range, hist| {
            let mut rng = self.phase_rng(phase, worker);
            for _ in range {
                let i = pick(&mut rng);
                let k = key(i);
                let t = Instant::now();
                let got = store.get(&k)?;
                record(hist, t);
                if got.as_deref() != self.expected_value(i) {
                    return Err(self.wrong(format!("get of key {i} in {phase}")));
                }
            }
            Ok(())
        })?;
        self.finish(
            phase,
            store,
            probe,
            count,
            Some(&hist),
            self.main_live_bytes(),
        )
    }

    fn seeks(&self, phase: Phase) -> Result<PhaseReport> {
        let store = self.main_store()?;
        let n = self.config.records;
        let count = self.config.seeks.unwrap_or((n / 10).max(1));
        let probe = self.probe(store);
        let hist = parallel(self.config.threads, count, |worker, range, hist| {
            let mut rng = self.phase_rng(phase, worker);
            for _ in range {
                let start = key(rng.random_range(0..n));
                let t = Instant::now();
                let mut previous: Option<bytes::Bytes> = None;
                for pair in store.scan(KeyRange::from_key(&start))?.take(100) {
                    let (k, _) = pair?;
                    if k.as_ref() < start.as_slice() || previous.as_ref().is_some_and(|p| *p >= k) {
                        return Err(self.wrong(format!("scan out of order in {phase}")));
                    }
                    previous = Some(k);
                }
                record(hist, t);
            }
            Ok(())
        })?;
        self.finish(
            phase,
            store,
            probe,
            count,
            Some(&hist),
            self.main_live_bytes(),
        )
    }

    fn read_seq(&self, phase: Phase) -> Result<PhaseReport> {
        let store = self.main_store()?;
        let probe = self.probe(store);
        let mut count = 0u64;
        for pair in store.scan(KeyRange::all())? {
            pair?;
            count += 1;
        }
        let live = self.live.count();
        if count != live {
            return Err(self.wrong(format!("full scan returned {count} keys, {live} are live")));
        }
        self.finish(phase, store, probe, count, None, self.main_live_bytes())
    }

    fn overwrite(&self, phase: Phase) -> Result<PhaseReport> {
        let store = self.main_store()?;
        let n = self.config.records;
        let batch_len = self.config.batch as u64;
        let probe = self.probe(store);
        let hist = parallel(
            self.config.threads,
            n.div_ceil(batch_len),
            |worker, range, hist| {
                let mut rng = self.phase_rng(phase, worker);
                let mut batch = WriteBatch::new();
                let mut picked = Vec::with_capacity(self.config.batch);
                for b in range {
                    batch.clear();
                    picked.clear();
                    for _ in timing::batch(b, batch_len, n) {
                        let i = rng.random_range(0..n);
                        batch.put(&key(i), self.new_values.get(i));
                        picked.push(i);
                    }
                    let t = Instant::now();
                    store.write(&batch)?;
                    record(hist, t);
                    for &i in &picked {
                        Live::set(&self.live.present, i, true);
                        Live::set(&self.live.overwritten, i, true);
                    }
                }
                Ok(())
            },
        )?;
        self.close_writes(store)?;
        store.settle()?;
        self.finish(phase, store, probe, n, Some(&hist), self.main_live_bytes())
    }

    fn delete_random(&self, phase: Phase) -> Result<PhaseReport> {
        let store = self.main_store()?;
        let n = self.config.records;
        // A random half of the keys: the first n/2 of a seeded shuffle.
        let mut victims: Vec<u64> = (0..n).collect();
        let mut rng = self.phase_rng(phase, 0);
        for i in (1..victims.len()).rev() {
            victims.swap(i, rng.random_range(0..=i));
        }
        victims.truncate((n / 2).max(1) as usize);
        let batch_len = self.config.batch;
        let probe = self.probe(store);
        let chunks = victims.len().div_ceil(batch_len) as u64;
        let hist = parallel(self.config.threads, chunks, |_, range, hist| {
            let mut batch = WriteBatch::new();
            for c in range {
                let range = timing::batch(c, batch_len as u64, victims.len() as u64);
                let chunk = &victims[range.start as usize..range.end as usize];
                batch.clear();
                for &i in chunk {
                    batch.delete(&key(i));
                }
                let t = Instant::now();
                store.write(&batch)?;
                record(hist, t);
                for &i in chunk {
                    Live::set(&self.live.present, i, false);
                }
            }
            Ok(())
        })?;
        self.close_writes(store)?;
        self.finish(
            phase,
            store,
            probe,
            victims.len() as u64,
            Some(&hist),
            self.main_live_bytes(),
        )
    }

    fn sync_write(&self, phase: Phase) -> Result<PhaseReport> {
        let store = self.main_store()?;
        let count = self
            .config
            .sync_writes
            .unwrap_or(self.config.records.min(1000));
        // Keys far above every index the other phases use.
        let base = 1u64 << 62;
        let probe = self.probe(store);
        let hist = parallel(self.config.threads, count, |_, range, hist| {
            for j in range {
                let i = base + j;
                let t = Instant::now();
                store.put(&key(i), self.values.get(i))?;
                if self.env.options.durability == Durability::Buffered {
                    store.sync()?;
                }
                record(hist, t);
                self.live.extra.fetch_add(1, Relaxed);
            }
            Ok(())
        })?;
        self.finish(
            phase,
            store,
            probe,
            count,
            Some(&hist),
            self.main_live_bytes(),
        )
    }

    fn fill_large(&self, phase: Phase) -> Result<PhaseReport> {
        let (store, dir) = self.fresh("fill100k")?;
        let count = (self.config.records / 1000).max(1);
        let values = Values::new(LARGE_VALUE, self.config.seed + 2);
        let probe = self.probe(store.as_ref());
        let result = parallel(self.config.threads, count, |_, range, hist| {
            for i in range {
                let t = Instant::now();
                store.put(&key(i), values.get(i))?;
                record(hist, t);
            }
            Ok(())
        })
        .and_then(|hist| {
            self.close_writes(store.as_ref())?;
            let live = count * (KEY_LEN + LARGE_VALUE) as u64;
            self.finish(phase, store.as_ref(), probe, count, Some(&hist), live)
        });
        drop(store);
        self.remove_store(&dir);
        result
    }

    /// Closes the main store, evicts its pages from the OS cache, and reopens it.
    fn reopen_cold(&mut self) -> Result<()> {
        let (store, dir) = self
            .main
            .take()
            .ok_or_else(|| Error::invalid("readrandom_cold needs the store fillrandom builds"))?;
        store.sync()?;
        drop(store);
        evict(self.env, &dir)?;
        let store = self.open(&dir)?;
        self.main = Some((store, dir));
        Ok(())
    }
}

/// The random choices of one worker in one phase: the same in every run of a seed, and
/// the same whichever way the engine is driven (through the trait or natively).
pub(crate) fn phase_rng(seed: u64, phase: Phase, worker: usize) -> ChaCha8Rng {
    let salt = phase
        .name()
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    ChaCha8Rng::seed_from_u64(seed ^ salt ^ ((worker as u64) << 48))
}

/// The path of a fresh store directory `ENGINE-NAME` in the run's directory. A directory
/// of that name left by an earlier run is removed only if it is empty or holds a store of
/// this engine (its identity file says so); anything else there is someone's, and is an
/// error naming it, untouched.
pub(crate) fn fresh_dir(env: &BenchEnv, engine: &str, name: &str) -> Result<PathBuf> {
    let dir = env.dir.join(format!("{engine}-{name}"));
    let vfs = &env.options.vfs;
    if vfs.exists(&dir)? {
        let ours = vfs.is_dir(&dir)?
            && (vfs.list(&dir)?.is_empty()
                || identity::read(vfs.as_ref(), &dir)
                    .ok()
                    .flatten()
                    .is_some_and(|id| id.engine == engine));
        if !ours {
            return Err(Error::NotAStore {
                dir,
                detail: format!(
                    "the benchmark would replace it with a new {engine} store, but it holds \
                     no {engine} store (left as it is; remove it or choose another --dir)"
                ),
            });
        }
        vfs.remove_dir_all(&dir)?;
    }
    Ok(dir)
}

/// Drops the OS page cache of the store in `dir`: `drop_caches` when allowed (root), else
/// `posix_fadvise(DONTNEED)` on each file through the Vfs.
pub(crate) fn evict(env: &BenchEnv, dir: &Path) -> Result<()> {
    if env.drop_caches {
        // SAFETY: sync(2) takes no arguments and cannot fail.
        unsafe { libc::sync() };
        if std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok() {
            return Ok(());
        }
    }
    env.options.vfs.evict_cache(dir)
}
