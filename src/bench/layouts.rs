//! The layout benchmark: the events table ([`super::events`]) loaded into a row table and
//! a column table on each engine, and eight queries run against each, every answer checked
//! against the generator's own computation.
//!
//! | query | what |
//! | --- | --- |
//! | Q1 | point get of a whole record by primary key (random keys) |
//! | Q2 | point get of one column (amount) |
//! | Q3 | SUM(amount) over all rows |
//! | Q4 | SUM(amount) WHERE ts in a 1% range |
//! | Q5 | COUNT(*), SUM(amount) GROUP BY country |
//! | Q6 | load: inserts in batches, then flush (seal the open row group) and settle |
//! | Q7 | update amount of 1% of the rows, chosen at random |
//! | Q8 | delete 1% of the rows at random; Q3 runs again after it |
//!
//! Q1–Q5 run twice each: cold (store closed, page cache evicted, reopened) and warm (again
//! at once). Bytes read and written are the engine's own counters (its Vfs), so they count
//! what the layout asked of the engine plus the engine's own overheads.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::device::describe_machine;
use super::events::{self, Event, Events, cents_to_amount};
use super::report::{git_commit, today};
use super::runner::{BenchEnv, evict, fresh_dir};
use crate::engines::EngineKind;
use crate::error::{Error, Result};
use crate::kv::{KvStore, Stats};
use crate::table::{
    Aggregate, Cmp, Layout, Predicate, Table, TableOptions, TableStats, Value, open_table,
};
use crate::vfs::{OsIo, os_io};

/// What a layout run covers.
#[derive(Clone, Debug)]
pub struct LayoutConfig {
    /// Rows of the events table.
    pub rows: u64,
    /// Rows per insert batch (one commit each) in the load.
    pub load_batch: usize,
    /// Gets in Q1 and in Q2.
    pub point_gets: u64,
    /// The column layout's knobs.
    pub table: TableOptions,
}

impl Default for LayoutConfig {
    fn default() -> Self {
        LayoutConfig {
            rows: 200_000,
            load_batch: 10_000,
            point_gets: 10_000,
            table: TableOptions::default(),
        }
    }
}

/// One query on one engine and layout.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct QueryReport {
    /// The engine under the table.
    pub engine: String,
    /// "row" or "column".
    pub layout: String,
    /// "Q1" .. "Q8", or "Q3+" for Q3 after Q8's deletes.
    pub query: String,
    /// What the query does.
    pub what: String,
    /// "cold", "warm", or "-" for the writes.
    pub cache: String,
    /// Calls made (gets, updates, deletes, insert batches; 1 for a scan).
    pub ops: u64,
    /// Rows the answer covers (scanned, fetched or changed).
    pub rows: u64,
    /// Wall time.
    pub secs: f64,
    /// rows / secs.
    pub rows_per_sec: f64,
    /// Bytes the engine read, as `io_source` counts them.
    pub disk_bytes_read: u64,
    /// Bytes the engine wrote, as `io_source` counts them.
    pub disk_bytes_written: u64,
    /// Where the two figures above come from (as in a phase's JSON line: "vfs",
    /// "statistics", "syscalls", "syscalls+faults", "none").
    pub io_source: String,
    /// Chunk bytes the column layout read (0 for the row layout).
    pub chunk_bytes_read: u64,
    /// Row groups read and skipped by zone maps (column layout).
    pub row_groups_read: u64,
    /// Row groups ruled out unread.
    pub row_groups_skipped: u64,
    /// The store's size on disk after the query.
    pub disk_usage: u64,
    /// The table's data in fixed-width binary (see `events`), for scale.
    pub raw_bytes: u64,
}

/// What the answers must be: computed from the generator while loading, and kept up to
/// date through the updates and deletes.
pub(crate) struct Expected {
    pub(crate) cents: BTreeMap<u64, u64>,
    pub(crate) country: Vec<usize>,
    /// The Q4 range of ts, both ends included.
    pub(crate) range: (u64, u64),
    pub(crate) ts_in_range: Vec<u64>,
    pub(crate) raw_bytes: u64,
}

impl Expected {
    /// Nothing loaded yet, for a table of `rows` rows.
    pub(crate) fn new(rows: u64) -> Self {
        let lo = events::TS_START + rows / 2 * 1000;
        let hi = lo + (rows / 100).max(1) * 1000 - 1;
        Expected {
            cents: BTreeMap::new(),
            country: Vec::with_capacity(rows as usize),
            range: (lo, hi),
            ts_in_range: Vec::new(),
            raw_bytes: 0,
        }
    }

    /// The answers for rows `0..rows` of `events`.
    #[cfg(any(feature = "parquet", feature = "sqlite"))]
    pub(crate) fn of(rows: u64, events: &Events) -> Self {
        let mut expected = Expected::new(rows);
        (0..rows).for_each(|i| expected.add(&events.event(i)));
        expected
    }

    /// Accounts for a loaded row.
    pub(crate) fn add(&mut self, e: &Event) {
        self.cents.insert(e.id, e.cents);
        self.country.push(e.country);
        self.raw_bytes += e.raw_bytes();
        if (self.range.0..=self.range.1).contains(&e.ts) {
            self.ts_in_range.push(e.id);
        }
    }

    pub(crate) fn total_cents(&self) -> u64 {
        self.cents.values().sum()
    }

    pub(crate) fn range_cents(&self) -> u64 {
        self.ts_in_range
            .iter()
            .filter_map(|i| self.cents.get(i))
            .sum()
    }

    /// (country, count, cents) per country, in the order of the country's name.
    pub(crate) fn groups(&self) -> Vec<(usize, u64, u64)> {
        let mut by: BTreeMap<&str, (usize, u64, u64)> = BTreeMap::new();
        for (&i, &c) in &self.cents {
            let country = self.country[i as usize];
            let e = by
                .entry(events::COUNTRIES[country])
                .or_insert((country, 0, 0));
            e.1 += 1;
            e.2 += c;
        }
        by.into_values().collect()
    }
}

fn check(what: &str, ok: bool, detail: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what} gave a wrong answer: {}",
            detail()
        )))
    }
}

/// An error unless `got` is the sum of `cents` over `rows` rows (see [`close_to`]).
pub(crate) fn check_sum(what: &str, got: &Value, cents: u64, rows: u64) -> Result<()> {
    check(what, close_to(got, cents, rows), || {
        format!("{got:?}, not {cents} cents")
    })
}

/// True if `got` is an f64 within a millionth of a cent per row of `cents` / 100.
pub(crate) fn close_to(got: &Value, cents: u64, rows: u64) -> bool {
    match got {
        Value::F64(x) => (x - cents_to_amount(cents)).abs() <= 1e-8 * rows.max(1) as f64,
        Value::Null => cents == 0 && rows == 0,
        _ => false,
    }
}

/// Counters before a measured step.
struct Before {
    stats: Stats,
    /// This process's counters, the source of a peer's figures (when they are read).
    os: Option<OsIo>,
    table: TableStats,
    start: Instant,
}

/// Runs the layout benchmark for one engine and layout.
pub struct LayoutRun<'a> {
    engine: EngineKind,
    layout: Layout,
    config: &'a LayoutConfig,
    env: &'a BenchEnv,
    events: &'a Events,
    dir: PathBuf,
    store: Option<Arc<dyn KvStore>>,
    table: Option<Box<dyn Table>>,
}

impl<'a> LayoutRun<'a> {
    /// A run in a fresh directory of `env`.
    pub fn new(
        engine: EngineKind,
        layout: Layout,
        config: &'a LayoutConfig,
        env: &'a BenchEnv,
        events: &'a Events,
    ) -> Result<Self> {
        let dir = fresh_dir(env, engine.name(), &format!("events-{}", layout.name()))?;
        let mut run = LayoutRun {
            engine,
            layout,
            config,
            env,
            events,
            dir,
            store: None,
            table: None,
        };
        run.open()?;
        Ok(run)
    }

    fn open(&mut self) -> Result<()> {
        let store: Arc<dyn KvStore> = Arc::from(crate::engines::open(
            self.engine,
            &self.dir,
            self.env.options.clone(),
        )?);
        let table = open_table(
            store.clone(),
            "events",
            self.layout,
            &events::schema(),
            &self.config.table,
        )?;
        self.store = Some(store);
        self.table = Some(table);
        Ok(())
    }

    fn store(&self) -> &dyn KvStore {
        self.store.as_deref().expect("open")
    }

    fn table(&self) -> &dyn Table {
        self.table.as_deref().expect("open")
    }

    /// Closes the store, evicts its files from the page cache and reopens it.
    fn reopen_cold(&mut self) -> Result<()> {
        if !self.engine.persistent() {
            return Ok(());
        }
        self.store().sync()?;
        self.table = None;
        self.store = None;
        evict(self.env, &self.dir)?;
        self.open()
    }

    fn os_io(&self) -> Option<OsIo> {
        self.env.outside_counters.then(|| os_io().ok()).flatten()
    }

    fn before(&self) -> Before {
        Before {
            stats: self.store().stats(),
            os: self.os_io(),
            table: self.table().stats(),
            start: Instant::now(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        before: Before,
        query: &'static str,
        what: &'static str,
        cache: &'static str,
        ops: u64,
        rows: u64,
        raw_bytes: u64,
    ) -> Result<QueryReport> {
        let secs = before.start.elapsed().as_secs_f64();
        let stats = self.store().stats();
        let table = self.table().stats();
        let source = self.engine.io_source();
        let disk = source
            .disk_io(
                (&before.stats, before.os.as_ref()),
                (&stats, self.os_io().as_ref()),
            )
            .unwrap_or_default();
        Ok(QueryReport {
            engine: self.engine.to_string(),
            layout: self.layout.name().to_owned(),
            query: query.to_owned(),
            what: what.to_owned(),
            cache: cache.to_owned(),
            ops,
            rows,
            secs,
            rows_per_sec: rows as f64 / secs.max(1e-9),
            disk_bytes_read: disk.bytes_read,
            disk_bytes_written: disk.bytes_written,
            io_source: source.name().to_owned(),
            chunk_bytes_read: table.chunk_bytes_read - before.table.chunk_bytes_read,
            row_groups_read: table.row_groups_read - before.table.row_groups_read,
            row_groups_skipped: table.row_groups_skipped - before.table.row_groups_skipped,
            disk_usage: self.store().disk_usage()?,
            raw_bytes,
        })
    }

    /// Loads the table (Q6) and returns its report and what the queries must answer.
    fn load(&mut self) -> Result<(QueryReport, Expected)> {
        let n = self.config.rows;
        let mut expected = Expected::new(n);
        let mut secs = 0.0;
        let before = self.before();
        let mut batches = 0;
        let mut start = 0;
        while start < n {
            let end = (start + self.config.load_batch as u64).min(n);
            let rows: Vec<Event> = (start..end).map(|i| self.events.event(i)).collect();
            rows.iter().for_each(|e| expected.add(e));
            let records: Vec<_> = rows.iter().map(Event::record).collect();
            let t = Instant::now();
            self.table().insert(&records)?;
            secs += t.elapsed().as_secs_f64();
            batches += 1;
            start = end;
        }
        let t = Instant::now();
        self.table().flush()?;
        self.store().settle()?;
        secs += t.elapsed().as_secs_f64();
        let raw = expected.raw_bytes;
        let mut report = self.report(
            before,
            "Q6",
            "load in batches, then flush and settle",
            "-",
            batches,
            n,
            raw,
        )?;
        // The time covers the inserts and the settle, not the generator.
        report.secs = secs;
        report.rows_per_sec = n as f64 / secs.max(1e-9);
        Ok((report, expected))
    }

    fn point_gets(
        &self,
        expected: &Expected,
        one_column: bool,
        cache: &'static str,
    ) -> Result<QueryReport> {
        let keys = events::random_rows(self.config.rows, self.config.point_gets, 1);
        let before = self.before();
        let projection: Option<&[&str]> = if one_column { Some(&["amount"]) } else { None };
        for &k in &keys {
            let got = self.table().get(k, projection)?;
            let want = if one_column {
                Some(vec![Value::F64(cents_to_amount(expected.cents[&k]))])
            } else {
                Some(self.events.event(k).record())
            };
            check("a point get", got == want, || {
                format!("key {k}: {got:?}, not {want:?}")
            })?;
        }
        let (query, what) = if one_column {
            ("Q2", "point get of one column")
        } else {
            ("Q1", "point get of a whole record")
        };
        let n = keys.len() as u64;
        self.report(before, query, what, cache, n, n, expected.raw_bytes)
    }

    fn sum_all(
        &self,
        expected: &Expected,
        query: &'static str,
        cache: &'static str,
    ) -> Result<QueryReport> {
        let before = self.before();
        let got = self
            .table()
            .aggregate(&Aggregate::Sum("amount".into()), &Predicate::all())?;
        let rows = expected.cents.len() as u64;
        let want = expected.total_cents();
        check_sum("SUM(amount)", &got, want, rows)?;
        self.report(
            before,
            query,
            "SUM(amount)",
            cache,
            1,
            rows,
            expected.raw_bytes,
        )
    }

    fn sum_range(&self, expected: &Expected, cache: &'static str) -> Result<QueryReport> {
        let (lo, hi) = expected.range;
        let predicate =
            Predicate::all()
                .and("ts", Cmp::Ge, Value::U64(lo))
                .and("ts", Cmp::Le, Value::U64(hi));
        let before = self.before();
        let got = self
            .table()
            .aggregate(&Aggregate::Sum("amount".into()), &predicate)?;
        let rows = expected.ts_in_range.len() as u64;
        let want = expected.range_cents();
        check_sum("SUM(amount) WHERE ts in a range", &got, want, rows)?;
        self.report(
            before,
            "Q4",
            "SUM(amount) WHERE ts in a 1% range",
            cache,
            1,
            rows,
            expected.raw_bytes,
        )
    }

    fn group_by(&self, expected: &Expected, cache: &'static str) -> Result<QueryReport> {
        let before = self.before();
        let got = self
            .table()
            .group_by("country", Some("amount"), &Predicate::all())?;
        let want = expected.groups();
        let same = got.len() == want.len()
            && got.iter().zip(&want).all(|(g, &(country, count, cents))| {
                g.key == Value::String(events::COUNTRIES[country].into())
                    && g.count == count
                    && close_to(&g.sum, cents, count)
            });
        check("GROUP BY country", same, || format!("{got:?}"))?;
        let rows = expected.cents.len() as u64;
        self.report(
            before,
            "Q5",
            "COUNT(*), SUM(amount) GROUP BY country",
            cache,
            1,
            rows,
            expected.raw_bytes,
        )
    }

    fn update(&self, expected: &mut Expected) -> Result<QueryReport> {
        let rows = events::sample_rows(self.config.rows, (self.config.rows / 100).max(1), 7);
        let before = self.before();
        for &k in &rows {
            let cents = Events::updated_cents(k);
            self.table()
                .update(k, &[("amount", Value::F64(cents_to_amount(cents)))])?;
            expected.cents.insert(k, cents);
        }
        let n = rows.len() as u64;
        self.report(
            before,
            "Q7",
            "update amount of 1% of the rows",
            "-",
            n,
            n,
            expected.raw_bytes,
        )
    }

    fn delete(&self, expected: &mut Expected) -> Result<QueryReport> {
        let rows = events::sample_rows(self.config.rows, (self.config.rows / 100).max(1), 8);
        let before = self.before();
        for &k in &rows {
            self.table().delete(k)?;
            expected.cents.remove(&k);
        }
        let n = rows.len() as u64;
        self.report(
            before,
            "Q8",
            "delete 1% of the rows",
            "-",
            n,
            n,
            expected.raw_bytes,
        )
    }

    /// Every query in order, each report handed to `each` as it is made.
    pub fn run(mut self, mut each: impl FnMut(QueryReport)) -> Result<()> {
        let (load, mut expected) = self.load()?;
        each(load);
        type Query<'q> = &'q dyn Fn(&LayoutRun<'_>, &Expected, &'static str) -> Result<QueryReport>;
        let queries: [Query<'_>; 5] = [
            &|r, e, c| r.point_gets(e, false, c),
            &|r, e, c| r.point_gets(e, true, c),
            &|r, e, c| r.sum_all(e, "Q3", c),
            &|r, e, c| r.sum_range(e, c),
            &|r, e, c| r.group_by(e, c),
        ];
        for query in queries {
            self.reopen_cold()?;
            each(query(&self, &expected, "cold")?);
            each(query(&self, &expected, "warm")?);
        }
        each(self.update(&mut expected)?);
        each(self.delete(&mut expected)?);
        each(self.sum_all(&expected, "Q3+", "warm")?);
        self.table = None;
        self.store = None;
        if !self.env.keep_stores {
            let _ = self.env.options.vfs.remove_dir_all(&self.dir);
        }
        Ok(())
    }
}

/// What a layout run's JSON lines say of the run.
#[derive(Clone, Debug, Serialize)]
pub struct LayoutRunInfo {
    /// Rows of the events table.
    pub rows: u64,
    /// Rows per insert batch.
    pub load_batch: usize,
    /// Gets in Q1 and Q2.
    pub point_gets: u64,
    /// Rows per row group of the column layout.
    pub row_group_rows: usize,
    /// "sync" or "buffered".
    pub durability: String,
    /// How cold runs evict the page cache.
    pub cold_eviction: &'static str,
    /// kvlab's version.
    pub kvlab_version: &'static str,
    /// The git commit of the build's tree, if known.
    pub commit: String,
    /// YYYY-MM-DD (UTC).
    pub date: String,
    /// The machine.
    pub machine: String,
}

impl LayoutRunInfo {
    /// The run `config` in `env`.
    pub fn new(config: &LayoutConfig, env: &BenchEnv) -> Self {
        LayoutRunInfo {
            rows: config.rows,
            load_batch: config.load_batch,
            point_gets: config.point_gets,
            row_group_rows: config.table.row_group_rows,
            durability: env.options.durability.to_string(),
            cold_eviction: if env.drop_caches {
                "drop_caches"
            } else {
                "fadvise"
            },
            kvlab_version: env!("CARGO_PKG_VERSION"),
            commit: git_commit(),
            date: today(),
            machine: describe_machine(&env.dir),
        }
    }
}

/// One JSON line: the query's figures and the run.
pub fn json_line(report: &QueryReport, run: &LayoutRunInfo) -> String {
    let mut value = serde_json::to_value(report).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.insert("run".into(), serde_json::to_value(run).unwrap_or_default());
    }
    value.to_string()
}

/// Where the query table's bytes come from.
pub const BYTES_LEGEND: &str = "Bytes as each engine's figures count them: kvlab's engines \
    through their Vfs, RocksDB by its statistics, the other peers and the anchors by this \
    process's write and read system calls (LMDB's reads, through its map, as the bytes the \
    block layer fetched for this process). None includes another process's I/O.";

/// The reports as a markdown table: a row per query and cache, a column per engine and
/// layout, each cell the time and the bytes the engine read.
pub fn markdown(reports: &[QueryReport]) -> String {
    let mut columns: Vec<(String, &str)> = Vec::new();
    for r in reports {
        if !columns
            .iter()
            .any(|(e, l)| *e == r.engine && *l == r.layout)
        {
            columns.push((r.engine.clone(), &r.layout));
        }
    }
    let mut rows: Vec<(&str, &str, &str)> = Vec::new();
    for r in reports {
        if !rows.iter().any(|(q, _, c)| *q == r.query && *c == r.cache) {
            rows.push((&r.query, &r.what, &r.cache));
        }
    }
    let mut out = String::from("| query | cache |");
    for (e, l) in &columns {
        out.push_str(&format!(" {e} {l} |"));
    }
    out.push_str("\n| --- | --- |");
    out.push_str(&" ---: |".repeat(columns.len()));
    out.push('\n');
    for (query, what, cache) in &rows {
        out.push_str(&format!("| {query} {what} | {cache} |"));
        for (e, l) in &columns {
            let cell = reports
                .iter()
                .find(|r| {
                    r.query == *query && r.cache == *cache && r.engine == *e && r.layout == *l
                })
                .map_or("-".to_string(), |r| {
                    format!(
                        "{} / {}",
                        human_secs(r.secs),
                        human_bytes(r.disk_bytes_read.max(r.disk_bytes_written))
                    )
                });
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    out
}

/// The on-disk size of each engine and layout after the load, against the raw data.
pub fn size_table(reports: &[QueryReport]) -> String {
    let mut out = String::from(
        "| engine | layout | on disk | raw data | on disk / raw |\n| --- | --- | ---: | ---: | ---: |\n",
    );
    for r in reports.iter().filter(|r| r.query == "Q6") {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.2} |\n",
            r.engine,
            r.layout,
            human_bytes(r.disk_usage),
            human_bytes(r.raw_bytes),
            r.disk_usage as f64 / r.raw_bytes.max(1) as f64
        ));
    }
    out
}

fn human_secs(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.0} us", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b < 1024.0 {
        format!("{b} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1048576.0)
    } else {
        format!("{:.2} GiB", b / 1073741824.0)
    }
}

/// Draws the bytes each engine and layout read (or wrote, for Q6–Q8) per query, log
/// scale, into `path`.
pub fn chart(reports: &[QueryReport], path: &std::path::Path) -> Result<()> {
    let mut categories: Vec<String> = Vec::new();
    let mut series: Vec<(String, Vec<Option<f64>>)> = Vec::new();
    for r in reports {
        let category = format!("{} {}", r.query, r.cache);
        if !categories.contains(&category) {
            categories.push(category);
        }
        let name = format!("{} {}", r.engine, r.layout);
        if !series.iter().any(|(n, _)| *n == name) {
            series.push((name, Vec::new()));
        }
    }
    for (name, values) in &mut series {
        *values = categories
            .iter()
            .map(|c| {
                reports
                    .iter()
                    .find(|r| {
                        format!("{} {}", r.engine, r.layout) == *name
                            && format!("{} {}", r.query, r.cache) == *c
                    })
                    .map(|r| r.disk_bytes_read.max(r.disk_bytes_written) as f64)
                    .filter(|&b| b > 0.0)
            })
            .collect();
    }
    series.retain(|(_, v)| v.iter().any(Option::is_some));
    super::plot::bar_chart(
        path,
        "Row vs column: bytes read per query (written for Q6-Q8)",
        "bytes (log)",
        &categories,
        &series,
        true,
    )
}

/// The targets of the row vs column comparison, each with what this run measured and
/// whether it holds, as a markdown table.
pub fn verdicts(reports: &[QueryReport]) -> String {
    let find = |engine: &str, layout: &str, query: &str, cache: &str| {
        reports.iter().find(|r| {
            r.engine == engine && r.layout == layout && r.query == query && r.cache == cache
        })
    };
    let mut out =
        String::from("| claim | engine | measured | verdict |\n| --- | --- | --- | --- |\n");
    let mut line = |claim: &str, engine: &str, measured: String, holds: bool| {
        let verdict = if holds { "holds" } else { "does not hold" };
        out.push_str(&format!(
            "| {claim} | {engine} | {measured} | {verdict} |\n"
        ));
    };
    let mut engines: Vec<&str> = Vec::new();
    for r in reports {
        if find(&r.engine, "row", "Q3", "cold").is_some()
            && find(&r.engine, "column", "Q3", "cold").is_some()
            && !engines.contains(&r.engine.as_str())
        {
            engines.push(&r.engine);
        }
    }
    for &e in &engines {
        for cache in ["cold", "warm"] {
            let (Some(row), Some(col)) =
                (find(e, "row", "Q3", cache), find(e, "column", "Q3", cache))
            else {
                continue;
            };
            let speedup = row.secs / col.secs.max(1e-9);
            line(
                &format!("Q3 ({cache}): the column layout runs at least 3x faster"),
                e,
                format!("{speedup:.1}x"),
                speedup >= 3.0,
            );
            if row.disk_bytes_read > 0 {
                let share = col.disk_bytes_read as f64 / row.disk_bytes_read as f64;
                line(
                    &format!(
                        "Q3 ({cache}): the column layout reads at most 1/5 of the row layout's bytes"
                    ),
                    e,
                    format!("{share:.3}"),
                    share <= 0.2,
                );
            }
        }
        if let (Some(row), Some(col)) = (find(e, "row", "Q6", "-"), find(e, "column", "Q6", "-"))
            && row.disk_usage > 0
        {
            let share = col.disk_usage as f64 / row.disk_usage as f64;
            line(
                "on-disk size of the column layout at most 1/2 of the row layout's",
                e,
                format!("{share:.3}"),
                share <= 0.5,
            );
        }
        if let Some(q4) = find(e, "column", "Q4", "cold") {
            let total = q4.row_groups_read + q4.row_groups_skipped;
            let share = q4.row_groups_skipped as f64 / total.max(1) as f64;
            line(
                "Q4: zone maps skip at least 90% of row groups",
                e,
                format!("{} of {total}", q4.row_groups_skipped),
                share >= 0.9,
            );
        }
        for (query, what) in [
            ("Q1", "point get of a record"),
            ("Q7", "update of one column"),
        ] {
            let cache = if query == "Q1" { "warm" } else { "-" };
            if let (Some(row), Some(col)) = (
                find(e, "row", query, cache),
                find(e, "column", query, cache),
            ) {
                let factor = col.secs / row.secs.max(1e-9);
                line(
                    &format!("{query} ({what}): the row layout wins"),
                    e,
                    format!("row {factor:.0}x faster"),
                    factor > 1.0,
                );
            }
        }
    }
    if let Some(parquet) = find("parquet", "column", "Q6", "-") {
        for &e in &engines {
            if let Some(col) = find(e, "column", "Q6", "-").filter(|c| c.disk_usage > 0) {
                let ratio = col.disk_usage as f64 / parquet.disk_usage.max(1) as f64;
                line(
                    "column layout size within 1.25x of the uncompressed Parquet file",
                    e,
                    format!("{ratio:.2}x"),
                    ratio <= 1.25,
                );
            }
            if let (Some(col), Some(pq)) = (
                find(e, "column", "Q3", "cold"),
                find("parquet", "column", "Q3", "cold"),
            ) {
                let ratio = col.secs / pq.secs.max(1e-9);
                line(
                    "Q3 (cold) within 2x of Parquet's time",
                    e,
                    format!("{ratio:.2}x"),
                    ratio <= 2.0,
                );
            }
        }
    }
    out
}
