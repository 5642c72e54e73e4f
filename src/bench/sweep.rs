//! `kvlab sweep`: one knob over a list of values, the same phases at each, written as a
//! CSV file and SVG charts of throughput and each amplification against the knob.

use std::fmt::Write as _;
use std::path::Path;

use super::config::BenchConfig;
use super::phase::{Metric, Phase, PhaseReport};
use super::plot::line_chart;
use super::runner::{BenchEnv, EngineSpec, Runner};
use crate::error::{Error, Result};
use crate::format::size::parse_size;

/// The knobs of the workload itself; every other name is an engine knob (`lsm.NAME`,
/// `btree.NAME`).
const WORKLOAD_KNOBS: [&str; 3] = ["records", "value_size", "batch"];

/// One value of the knob and what the phases measured with it.
#[derive(Clone, Debug)]
pub struct SweepPoint {
    /// The value as given.
    pub value: String,
    /// The value as a number, for the x axis.
    pub x: f64,
    /// One report per phase.
    pub reports: Vec<PhaseReport>,
}

/// Runs `phases` once per value of `knob`, each on fresh stores.
pub fn run(
    engine: impl Fn() -> EngineSpec,
    config: &BenchConfig,
    env: &BenchEnv,
    knob: &str,
    values: &[String],
    phases: &[Phase],
    mut on_point: impl FnMut(&SweepPoint),
) -> Result<Vec<SweepPoint>> {
    if values.is_empty() {
        return Err(Error::invalid("a sweep needs at least one value"));
    }
    let mut points = Vec::new();
    for value in values {
        // Switches sweep too: false and true stand at 0 and 1 on the x axis.
        let x = match value.as_str() {
            "false" => 0.0,
            "true" => 1.0,
            _ => parse_size(value).map_err(|_| {
                Error::invalid(format!(
                    "sweep values must be numbers, sizes, or false/true, not '{value}'"
                ))
            })? as f64,
        };
        let mut config = config.clone();
        let mut env = env.clone();
        match knob {
            "records" => config.records = x as u64,
            "value_size" => config.value_size = x as usize,
            "batch" => config.batch = x as usize,
            _ => env.options.set(&format!("{knob}={value}"))?,
        }
        env.dir = env.dir.join(format!("sweep-{}", points.len()));
        let mut reports = Vec::new();
        let mut runner = Runner::for_engine(engine(), &config, &env)?;
        runner.run(phases, |_| {}, |r| reports.push(r))?;
        let point = SweepPoint {
            value: value.clone(),
            x,
            reports,
        };
        on_point(&point);
        points.push(point);
    }
    Ok(points)
}

/// Whether `knob` is one a sweep understands before running anything.
pub fn check_knob(knob: &str) -> Result<()> {
    if WORKLOAD_KNOBS.contains(&knob) || knob.contains('.') {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "unknown sweep knob '{knob}' (records, value_size, batch, or an engine knob such \
             as lsm.bloom_bits or btree.page_size)"
        )))
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{v:.4}"))
}

/// The points as CSV: one row per value and phase.
pub fn csv(knob: &str, points: &[SweepPoint]) -> String {
    let mut out = String::from(
        "knob,value,engine,phase,ops_per_sec,p99_us,write_amp,read_bytes_per_op,space_amp\n",
    );
    for p in points {
        for r in &p.reports {
            let _ = writeln!(
                out,
                "{knob},{},{},{},{:.1},{},{},{},{}",
                p.value,
                r.engine,
                r.phase,
                r.ops_per_sec,
                opt(r.p99_us),
                opt(r.write_amp),
                opt(r.read_bytes_per_op),
                opt(r.space_amp)
            );
        }
    }
    out
}

/// One line per phase of `metric` against the knob.
fn series(
    points: &[SweepPoint],
    metric: impl Fn(&PhaseReport) -> Option<f64>,
) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut phases: Vec<String> = Vec::new();
    for r in points.iter().flat_map(|p| &p.reports) {
        if !phases.contains(&r.phase) {
            phases.push(r.phase.clone());
        }
    }
    phases
        .into_iter()
        .map(|phase| {
            let line = points
                .iter()
                .filter_map(|p| {
                    let r = p.reports.iter().find(|r| r.phase == phase)?;
                    Some((p.x, metric(r)?))
                })
                .collect();
            (phase, line)
        })
        .filter(|(_, line): &(String, Vec<(f64, f64)>)| !line.is_empty())
        .collect()
}

/// Writes `sweep.csv` and one chart per measure into `out`; returns the files written.
pub fn write(
    out: &Path,
    engine: &str,
    knob: &str,
    points: &[SweepPoint],
) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(out).map_err(|e| Error::io("create_dir", out, e))?;
    let csv_path = out.join("sweep.csv");
    std::fs::write(&csv_path, csv(knob, points)).map_err(|e| Error::io("write", &csv_path, e))?;
    let mut files = vec![csv_path];
    let charts: [(&str, &str, bool, Metric); 4] = [
        ("throughput", "operations per second", true, |r| {
            Some(r.ops_per_sec)
        }),
        (
            "write-amp",
            "write amplification (engine bytes / user bytes)",
            false,
            |r| r.write_amp,
        ),
        (
            "read-bytes",
            "bytes read from disk per operation",
            false,
            |r| r.read_bytes_per_op,
        ),
        (
            "space-amp",
            "space amplification (disk / live bytes)",
            false,
            |r| r.space_amp,
        ),
    ];
    for (name, y_desc, log, metric) in charts {
        let lines = series(points, metric);
        if lines.is_empty() {
            continue;
        }
        let path = out.join(format!("sweep-{name}.svg"));
        let title = format!("{engine}: {y_desc} against {knob}");
        line_chart(&path, &title, knob, y_desc, &lines, log)?;
        files.push(path);
    }
    Ok(files)
}
