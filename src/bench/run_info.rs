//! How a run was made, carried by every JSON line it prints, so that a saved line says what
//! it measured: the workload's sizes, durability, threads, the knobs as set, the caches,
//! how cold reads evict the page cache, kvlab's version and commit, the date and the
//! machine. `kvlab diff` compares two saved runs line by line.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::config::BenchConfig;
use super::device::describe_machine;
use super::keys::KEY_LEN;
use super::phase::PhaseReport;
use super::report::{git_commit, today};
use super::runner::BenchEnv;
use crate::error::{Error, Result};
use crate::vfs::{CounterCheck, check_counters};

/// What a run was, beside each phase's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunInfo {
    /// Records (n).
    pub records: u64,
    /// Key bytes.
    pub key_size: usize,
    /// Value bytes.
    pub value_size: usize,
    /// Entries per batch, one commit each.
    pub batch: usize,
    /// "sync" or "buffered".
    pub durability: String,
    /// Threads sharing each phase.
    pub threads: usize,
    /// The `--set` knobs, as given.
    pub knobs: Vec<String>,
    /// The LSM's block cache and the B+tree's buffer pool, bytes.
    pub lsm_block_cache: usize,
    /// The B+tree's buffer pool, bytes.
    pub btree_pool: usize,
    /// How a cold read evicts the page cache: "drop_caches" (root: the whole machine's)
    /// or "fadvise" (the store's files only).
    pub cold_eviction: &'static str,
    /// kvlab's version.
    pub kvlab_version: &'static str,
    /// The git commit of the build's tree, if known.
    pub commit: String,
    /// YYYY-MM-DD (UTC).
    pub date: String,
    /// Cores, memory, file system and device of the stores' directory.
    pub machine: String,
    /// What this process's I/O counters, the source of the peers' figures, made of a
    /// known write and read-back in the stores' directory (null when they are not read).
    pub counter_check: Option<CounterCheck>,
}

impl RunInfo {
    /// The run `config` in `env`, with the knobs given as `knobs`.
    pub fn new(config: &BenchConfig, env: &BenchEnv, knobs: &[String]) -> Self {
        RunInfo {
            records: config.records,
            key_size: KEY_LEN,
            value_size: config.value_size,
            batch: config.batch,
            durability: env.options.durability.to_string(),
            threads: config.threads,
            knobs: knobs.to_vec(),
            lsm_block_cache: env.options.lsm.block_cache,
            btree_pool: env.options.btree.pool_size,
            cold_eviction: if env.drop_caches {
                "drop_caches"
            } else {
                "fadvise"
            },
            kvlab_version: env!("CARGO_PKG_VERSION"),
            commit: git_commit(),
            date: today(),
            machine: describe_machine(&env.dir),
            counter_check: env
                .outside_counters
                .then(|| check_counters(&env.dir).ok())
                .flatten(),
        }
    }

    /// The header `compare` prints.
    pub fn header(&self) -> String {
        let mut out = format!(
            "{} records of {}-byte keys and {}-byte values, batches of {}, durability {}, {} \
             thread(s).",
            self.records, self.key_size, self.value_size, self.batch, self.durability, self.threads
        );
        let knobs = if self.knobs.is_empty() {
            "none".to_string()
        } else {
            self.knobs.join(", ")
        };
        let _ = write!(
            out,
            "\nKnobs set: {knobs}; LSM block cache {} B, B+tree pool {} B. Cold reads evict \
             by {}.\nkvlab {} at {}, {}. Machine: {}.",
            self.lsm_block_cache,
            self.btree_pool,
            match self.cold_eviction {
                "drop_caches" => "drop_caches (the whole machine's page cache: run as root)",
                _ => "fadvise(DONTNEED) on the store's files",
            },
            self.kvlab_version,
            self.commit,
            self.date,
            self.machine
        );
        if let Some(check) = &self.counter_check {
            let share = |counted: u64| counted as f64 / check.bytes as f64;
            let _ = write!(
                out,
                "\nCounters of this process (a peer's I/O figures) on a known {} MiB write \
                 and read-back: write calls {:.3}x, read calls {:.3}x, block-layer reads \
                 {:.3}x.",
                check.bytes >> 20,
                share(check.written),
                share(check.read),
                share(check.fetched)
            );
        }
        out
    }
}

/// One JSON line: the phase's figures (with where its I/O figures come from) and the run.
pub fn json_line(report: &PhaseReport, run: &RunInfo) -> String {
    let mut value = serde_json::to_value(report).unwrap_or(serde_json::Value::Null);
    if let serde_json::Value::Object(map) = &mut value {
        map.insert(
            "run".into(),
            serde_json::to_value(run).unwrap_or(serde_json::Value::Null),
        );
    }
    value.to_string()
}

/// The figures `diff` compares, by name.
const FIGURES: [&str; 9] = [
    "ops_per_sec",
    "p99_us",
    "write_amp",
    "read_bytes_per_op",
    "space_amp",
    // A layout query's figures.
    "rows_per_sec",
    "disk_bytes_read",
    "disk_bytes_written",
    "disk_usage",
];

/// The lines of a saved run (`--json` of `compare`, or `bench`'s output), by (engine,
/// phase).
pub fn read_run(text: &str, what: &str) -> Result<BTreeMap<(String, String), serde_json::Value>> {
    let mut lines = BTreeMap::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| Error::invalid(format!("{what}, line {}: not a JSON line: {e}", i + 1)))?;
        let field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_string);
        // A layout query's line (`kvlab layouts`) stands for a phase named by its layout,
        // query and cache.
        let phase = field("phase").or_else(|| {
            let (layout, query, cache) = (field("layout")?, field("query")?, field("cache")?);
            Some(format!("{layout} {query} {cache}"))
        });
        let (Some(engine), Some(phase)) = (field("engine"), phase) else {
            return Err(Error::invalid(format!(
                "{what}, line {}: no engine and phase",
                i + 1
            )));
        };
        lines.insert((engine, phase), value);
    }
    Ok(lines)
}

/// A table of the figures two runs share, per engine and phase: A, B and B / A, with a `*`
/// where the ratio lies outside `1 ± band`.
pub fn diff(
    a: &BTreeMap<(String, String), serde_json::Value>,
    b: &BTreeMap<(String, String), serde_json::Value>,
    band: f64,
) -> String {
    let mut out =
        String::from("| engine | phase | figure | A | B | B / A |\n|---|---|---|--:|--:|--:|\n");
    for (key, va) in a {
        let Some(vb) = b.get(key) else { continue };
        for figure in FIGURES {
            let (Some(x), Some(y)) = (
                va.get(figure).and_then(serde_json::Value::as_f64),
                vb.get(figure).and_then(serde_json::Value::as_f64),
            ) else {
                continue;
            };
            let ratio = y / x;
            let flag = if ratio.is_finite() && (ratio - 1.0).abs() > band {
                " *"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "| {} | {} | {figure} | {x:.4} | {y:.4} | {ratio:.3}{flag} |",
                key.0, key.1
            );
        }
    }
    out
}
