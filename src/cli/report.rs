//! The row vs column commands and the report: `layouts` and `report`.

use super::common::*;
use clap::Args;
use kvlab::bench::device::describe_machine;
use kvlab::bench::events::Events;
use kvlab::bench::layouts::{self, LayoutConfig, LayoutRun, LayoutRunInfo, QueryReport};
use kvlab::bench::run_info::RunInfo;
use kvlab::bench::{BenchConfig, BenchEnv, Phase, PhaseReport, phase::NATIVE_SUFFIX};
use kvlab::{Durability, EngineKind};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub(crate) struct LayoutsArgs {
    /// Rows of the events table.
    #[arg(long, default_value_t = 200_000)]
    pub(crate) rows: u64,
    /// Engines, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "mem,btree,lsm")]
    pub(crate) engines: Vec<EngineKind>,
    /// Layouts, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "row,column")]
    pub(crate) layouts: Vec<kvlab::table::Layout>,
    /// Rows per row group of the column layout.
    #[arg(long, default_value_t = 65_536)]
    pub(crate) row_group_rows: usize,
    /// Point gets in Q1 and in Q2.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) gets: u64,
    /// When a write is durable: "sync" (at each commit) or "buffered" (at each sync()).
    #[arg(long, default_value = "sync")]
    pub(crate) durability: Durability,
    /// Directory for the stores (default: a new temporary directory on disk, not tmpfs).
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// Keep the stores (and print where), for `kvlab inspect`.
    #[arg(long)]
    pub(crate) keep: bool,
    /// Also write every report as JSON lines to this file.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Leave out the Parquet and SQL anchors (features `parquet`, `sqlite`).
    #[arg(long)]
    pub(crate) no_anchors: bool,
}

#[derive(Args)]
pub(crate) struct ReportArgs {
    /// Records (n) for the standard suite.
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) records: u64,
    /// Engines, comma-separated (default: every engine in this build).
    #[arg(long, value_delimiter = ',')]
    pub(crate) engines: Vec<EngineKind>,
    /// The file whose generated section is rewritten.
    #[arg(long, default_value = "BENCHMARKS.md")]
    pub(crate) file: PathBuf,
    /// Where the charts go.
    #[arg(long, default_value = "docs/plots")]
    pub(crate) plots: PathBuf,
    /// Directory for the stores (default: a new temporary directory on disk).
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// Rows of the events table for the row vs column matrix (0 leaves it out).
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) layout_rows: u64,
    /// Point gets in Q1 and Q2 of the matrix.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) layout_gets: u64,
    /// Also save every line of the run (phases and queries) to this file.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Run nothing: rewrite the section from the lines a `report --json FILE` saved.
    #[arg(long, conflicts_with = "json")]
    pub(crate) from: Option<PathBuf>,
}

pub(crate) fn layouts(args: LayoutsArgs) -> CliResult {
    let config = LayoutConfig {
        rows: args.rows,
        point_gets: args.gets,
        table: kvlab::table::TableOptions {
            row_group_rows: args.row_group_rows,
            ..Default::default()
        },
        ..LayoutConfig::default()
    };
    let mut dir = bench_dir(args.dir.as_deref())?;
    if args.keep {
        dir.keep();
    }
    let workload = WorkloadArgs {
        records: args.rows,
        value_size: 0,
        batch: config.load_batch,
        durability: args.durability,
        threads: 1,
        reads: None,
        dir: None,
        knobs: Vec::new(),
        keep: args.keep,
    };
    let env = env_from(&workload, &dir.path, &args.engines)?;
    let mut json = args.json.as_ref().map(File::create).transpose()?;
    println!("# kvlab layouts\n");
    let reports = run_layouts(
        &args.engines,
        &args.layouts,
        &config,
        &env,
        !args.no_anchors,
        json.as_mut(),
    )?;
    print_layouts(&reports, &config, &env);
    Ok(())
}

/// Runs the layout queries for each engine and layout in turn, then (with `anchors`) the
/// Parquet and SQL anchors this build has; every report also goes to `json` as a line.
pub(crate) fn run_layouts(
    engines: &[EngineKind],
    layouts: &[kvlab::table::Layout],
    config: &LayoutConfig,
    env: &BenchEnv,
    anchors: bool,
    mut json: Option<&mut File>,
) -> Result<Vec<QueryReport>, Box<dyn std::error::Error>> {
    let run = LayoutRunInfo::new(config, env);
    let events = Events::new();
    let mut reports = Vec::new();
    for &engine in engines {
        for &layout in layouts {
            let bar = progress_bar(engine, 14);
            bar.set_message(format!("{} layout", layout.name()));
            let mut failure = None;
            LayoutRun::new(engine, layout, config, env, &events)?.run(|report| {
                bar.inc(1);
                if let Some(file) = json.as_mut()
                    && let Err(e) = writeln!(file, "{}", layouts::json_line(&report, &run))
                {
                    failure.get_or_insert(e);
                }
                reports.push(report);
            })?;
            bar.finish_and_clear();
            if let Some(e) = failure {
                return Err(e.into());
            }
        }
    }
    if anchors {
        let mut failure = None;
        kvlab::bench::anchors::run(config, env, &events, &mut |report| {
            if let Some(file) = json.as_mut()
                && let Err(e) = writeln!(file, "{}", layouts::json_line(&report, &run))
            {
                failure.get_or_insert(e);
            }
            reports.push(report);
        })?;
        if let Some(e) = failure {
            return Err(e.into());
        }
    }
    Ok(reports)
}

pub(crate) fn print_layouts(reports: &[QueryReport], config: &LayoutConfig, env: &BenchEnv) {
    println!(
        "The events table, {} rows; column layout row groups of {} rows; inserts in \
         batches of {}; {} point gets in Q1 and Q2; durability {}. Each answer is checked \
         against the generator.\n",
        config.rows,
        config.table.row_group_rows,
        config.load_batch,
        config.point_gets,
        env.options.durability
    );
    println!("## Row vs column: time / bytes the engine read (written, for Q6-Q8)\n");
    println!("{}", layouts::markdown(reports));
    println!("{}\n", layouts::BYTES_LEGEND);
    println!("## Size after the load\n");
    println!("{}", layouts::size_table(reports));
    println!("## Against the targets\n");
    println!("{}", layouts::verdicts(reports));
}

/// What the row vs column section of a report says of its run.
pub(crate) struct LayoutMeta {
    pub(crate) rows: u64,
    pub(crate) gets: u64,
    pub(crate) group_rows: u64,
    pub(crate) engines: Vec<String>,
}

pub(crate) fn report(args: ReportArgs) -> CliResult {
    use kvlab::bench::report::{charts, section, splice};
    let (all_reports, layout_reports, provenance, meta) = match &args.from {
        Some(path) => saved_report(path)?,
        None => fresh_report(&args)?,
    };
    let (native_reports, reports): (Vec<PhaseReport>, Vec<PhaseReport>) = all_reports
        .into_iter()
        .partition(|r| r.engine.ends_with(NATIVE_SUFFIX));
    let base = args
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let plots = charts(&reports, &args.plots, &base)?;
    let mut layout_section = String::new();
    if !native_reports.is_empty() {
        let both: Vec<PhaseReport> = reports.iter().chain(&native_reports).cloned().collect();
        layout_section = format!(
            "### The peers through the trait and through their own APIs\n\n{NATIVE_WORDS}\n\n{}\n",
            kvlab::bench::table::adapter_table(&both)
        );
    }
    if !layout_reports.is_empty() {
        let chart = args.plots.join("layouts-bytes.svg");
        layouts::chart(&layout_reports, &chart)?;
        let shown = chart
            .strip_prefix(&base)
            .map(Path::to_path_buf)
            .unwrap_or(chart);
        layout_section += &format!(
            "### Row vs column\n\n\
             The events table ({} rows: id, ts, user_id, country, device, amount, is_refund, \
             a 40-byte note) in the row and the column layout on each engine, queries Q1-Q8 \
             (docs/DESIGN.md §5), each answer checked; {} point gets in Q1 and Q2; row \
             groups of {} rows. Parquet (uncompressed, then snappy) and SQLite (a SQL table \
             with an index on ts) answer the same queries where they can. The same matrix \
             alone:\n\n```sh\ncargo run --release --features peers -- layouts --rows {} \
             --engines {}\n```\n\n![Row vs column bytes]({})\n\n\
             Time / bytes read (written, for Q6-Q8):\n\n{}\n{}\n\nSize after the load:\n\n{}\n\
             Against the targets:\n\n{}",
            meta.rows,
            meta.gets,
            meta.group_rows,
            meta.rows,
            meta.engines.join(","),
            shown.display(),
            layouts::markdown(&layout_reports),
            layouts::BYTES_LEGEND,
            layouts::size_table(&layout_reports),
            layouts::verdicts(&layout_reports),
        );
    }
    let old = std::fs::read_to_string(&args.file).unwrap_or_else(|_| "# Benchmarks\n".into());
    let new = splice(
        &old,
        &section(&reports, &provenance, &plots, &layout_section),
    );
    std::fs::write(&args.file, new)?;
    eprintln!(
        "rewrote the results of {} and {} chart(s) in {}",
        args.file.display(),
        plots.len() + usize::from(!layout_reports.is_empty()),
        args.plots.display()
    );
    Ok(())
}

pub(crate) type ReportParts = (
    Vec<PhaseReport>,
    Vec<QueryReport>,
    kvlab::bench::report::Provenance,
    LayoutMeta,
);

/// Runs the standard suite and the row vs column matrix; with `--json`, saves every line.
pub(crate) fn fresh_report(args: &ReportArgs) -> Result<ReportParts, Box<dyn std::error::Error>> {
    use kvlab::bench::report::{Provenance, git_commit, today};
    let engines = if args.engines.is_empty() {
        EngineKind::ALL.to_vec()
    } else {
        args.engines.clone()
    };
    let config = BenchConfig {
        records: args.records,
        ..BenchConfig::default()
    };
    config.validate()?;
    let dir = bench_dir(args.dir.as_deref())?;
    let workload = WorkloadArgs {
        records: args.records,
        value_size: config.value_size,
        batch: config.batch,
        durability: Durability::Sync,
        threads: 1,
        reads: None,
        dir: None,
        knobs: Vec::new(),
        keep: false,
    };
    let env = env_from(&workload, &dir.path, &engines)?;
    let mut json = args.json.as_ref().map(File::create).transpose()?;
    let run = RunInfo::new(&config, &env, &[]);
    let mut reports = run_engines(
        &engines,
        &Phase::STANDARD,
        &config,
        &env,
        json.as_mut().map(|f| (f, &run)),
    )?;
    // Each peer through its own API too, to show what its adapter costs.
    reports.extend(run_natives(
        &engines,
        &config,
        &env,
        json.as_mut().map(|f| (f, &run)),
    )?);
    // The row vs column matrix: kvlab's engines under both layouts, and the anchors.
    let layout_engines: Vec<EngineKind> = engines
        .iter()
        .copied()
        .filter(|e| matches!(e, EngineKind::Mem | EngineKind::BTree | EngineKind::Lsm))
        .collect();
    let layout_config = LayoutConfig {
        rows: args.layout_rows,
        point_gets: args.layout_gets,
        ..LayoutConfig::default()
    };
    let layout_reports = if args.layout_rows > 0 {
        run_layouts(
            &layout_engines,
            &kvlab::table::Layout::ALL,
            &layout_config,
            &env,
            true,
            json.as_mut(),
        )?
    } else {
        Vec::new()
    };
    let names: Vec<&str> = engines.iter().map(|e| e.name()).collect();
    let provenance = Provenance {
        machine: describe_machine(&dir.path),
        date: today(),
        commit: git_commit(),
        command: format!(
            "cargo run --release --features {} -- report --records {} --engines {} \
             --layout-rows {}{}",
            features_for(&names.iter().map(|n| n.to_string()).collect::<Vec<_>>()),
            args.records,
            names.join(","),
            args.layout_rows,
            args.json
                .as_ref()
                .map_or(String::new(), |j| format!(" --json {}", j.display()))
        ),
        workload: workload_words(
            config.records,
            config.value_size as u64,
            config.batch as u64,
            "sync",
            env.drop_caches,
        ),
    };
    let meta = LayoutMeta {
        rows: layout_config.rows,
        gets: layout_config.point_gets,
        group_rows: layout_config.table.row_group_rows as u64,
        engines: layout_engines.iter().map(|e| e.name().to_owned()).collect(),
    };
    Ok((reports, layout_reports, provenance, meta))
}

/// The cargo features a report's engines need.
fn features_for(engines: &[String]) -> &'static str {
    if engines.iter().any(|e| e == "rocksdb") {
        "peers,rocksdb"
    } else {
        "peers"
    }
}

pub(crate) fn workload_words(
    records: u64,
    value_size: u64,
    batch: u64,
    durability: &str,
    drop_caches: bool,
) -> String {
    format!(
        "{records} records of 16-byte keys and {value_size}-byte values, batches of {batch}, \
         durability {durability}, one thread, default engine knobs; cold reads after {}.",
        if drop_caches {
            "drop_caches"
        } else {
            "per-file fadvise (not root)"
        }
    )
}

/// The lines a `report --json FILE` saved, for `report --from FILE`: the same section,
/// without running anything.
pub(crate) fn saved_report(path: &Path) -> Result<ReportParts, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reports: Vec<PhaseReport> = Vec::new();
    let mut layout_reports: Vec<QueryReport> = Vec::new();
    let mut phase_run = None;
    let mut layout_run = None;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| format!("{}, line {}: not a JSON line: {e}", path.display(), i + 1))?;
        if value.get("phase").is_some() {
            phase_run.get_or_insert_with(|| value["run"].clone());
            reports.push(serde_json::from_value(value)?);
        } else if value.get("query").is_some() {
            if value["run"]["row_group_rows"].is_u64() {
                layout_run.get_or_insert_with(|| value["run"].clone());
            }
            layout_reports.push(serde_json::from_value(value)?);
        } else {
            return Err(format!(
                "{}, line {}: neither a phase nor a query",
                path.display(),
                i + 1
            )
            .into());
        }
    }
    let run = phase_run.ok_or_else(|| format!("{} holds no phase lines", path.display()))?;
    let text_of = |v: &serde_json::Value, key: &str| v[key].as_str().unwrap_or("?").to_owned();
    let num = |v: &serde_json::Value, key: &str| v[key].as_u64().unwrap_or(0);
    let mut engines: Vec<String> = Vec::new();
    for r in reports
        .iter()
        .filter(|r| !r.engine.ends_with(NATIVE_SUFFIX))
    {
        if !engines.contains(&r.engine) {
            engines.push(r.engine.clone());
        }
    }
    let provenance = kvlab::bench::report::Provenance {
        machine: text_of(&run, "machine"),
        date: text_of(&run, "date"),
        commit: text_of(&run, "commit"),
        command: format!(
            "cargo run --release --features {} -- report --records {} --engines {} --json {}\n\
             cargo run --release -- report --from {}",
            features_for(&engines),
            num(&run, "records"),
            engines.join(","),
            path.display(),
            path.display()
        ),
        workload: workload_words(
            num(&run, "records"),
            num(&run, "value_size"),
            num(&run, "batch"),
            &text_of(&run, "durability"),
            text_of(&run, "cold_eviction") == "drop_caches",
        ),
    };
    let layout_run = layout_run.unwrap_or_default();
    let mut layout_engines: Vec<String> = Vec::new();
    for r in &layout_reports {
        if !["parquet", "parquet-snappy", "sqlite-sql"].contains(&r.engine.as_str())
            && !layout_engines.contains(&r.engine)
        {
            layout_engines.push(r.engine.clone());
        }
    }
    let meta = LayoutMeta {
        rows: num(&layout_run, "rows"),
        gets: num(&layout_run, "point_gets"),
        group_rows: num(&layout_run, "row_group_rows"),
        engines: layout_engines,
    };
    Ok((reports, layout_reports, provenance, meta))
}
