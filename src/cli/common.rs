//! What the commands share: the workload arguments, the benchmark directory (removed at
//! the end or at Ctrl-C), the run's options, and running phases on several engines.

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kvlab::bench::device::is_tmpfs;
use kvlab::bench::run_info::{self, RunInfo};
use kvlab::bench::{BenchConfig, BenchEnv, Phase, PhaseReport, Runner};
use kvlab::{Durability, EngineKind, Options};
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Sizes and durability shared by `compare` and `bench`.
#[derive(Args, Clone)]
pub(crate) struct WorkloadArgs {
    /// Records to insert (n); later phases read and change these.
    #[arg(long, default_value_t = 200_000)]
    pub(crate) records: u64,
    /// Bytes per value (keys are always 16 bytes).
    #[arg(long, default_value_t = 100)]
    pub(crate) value_size: usize,
    /// Entries per write batch; each batch is one commit.
    #[arg(long, default_value_t = 1000)]
    pub(crate) batch: usize,
    /// When a write is durable: "sync" (at each commit) or "buffered" (at each sync()).
    #[arg(long, default_value = "sync")]
    pub(crate) durability: Durability,
    /// Threads sharing each phase's operations.
    #[arg(long, default_value_t = 1)]
    pub(crate) threads: usize,
    /// Gets in each random-read phase (default: records).
    #[arg(long)]
    pub(crate) reads: Option<u64>,
    /// Directory for the stores (default: a new temporary directory on disk, not tmpfs).
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// An engine knob, e.g. --set lsm.memtable_size=32MiB --set lsm.compaction=tiered
    /// --set btree.page_size=16KiB --set btree.mmap_reads=true (repeatable).
    #[arg(long = "set", value_name = "ENGINE.KNOB=VALUE")]
    pub(crate) knobs: Vec<String>,
    /// Keep the stores the run builds (and print where), for `kvlab inspect`.
    #[arg(long)]
    pub(crate) keep: bool,
}

pub(crate) type CliResult = Result<(), Box<dyn std::error::Error>>;

/// A benchmark directory: the one given, or a new temporary one on a disk (never tmpfs,
/// which would measure memory), removed at the end.
pub(crate) struct BenchDir {
    pub(crate) path: PathBuf,
    pub(crate) _temp: Option<tempfile::TempDir>,
}

impl BenchDir {
    /// Keeps the stores the run builds: the temporary directory is not removed at the
    /// end (nor at Ctrl-C), and its path is printed for `kvlab inspect`.
    pub(crate) fn keep(&mut self) {
        if let Some(temp) = self._temp.take() {
            let path = temp.keep();
            forget_on_interrupt(&path);
        }
        eprintln!("keeping the stores in {}", self.path.display());
    }
}

/// Temporary directories to remove if the run is interrupted (Ctrl-C, SIGTERM).
pub(crate) static ON_INTERRUPT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Removes `path` if the process is interrupted before it ends on its own.
pub(crate) fn remove_on_interrupt(path: &Path) {
    static HANDLER: std::sync::Once = std::sync::Once::new();
    HANDLER.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if let Ok(dirs) = ON_INTERRUPT.lock() {
                for dir in dirs.iter() {
                    // The engines' threads may still be adding files: try a few times.
                    for _ in 0..5 {
                        if std::fs::remove_dir_all(dir).is_ok() || !dir.exists() {
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                }
            }
            eprintln!("interrupted: the run's temporary stores are removed");
            std::process::exit(130);
        });
    });
    if let Ok(mut dirs) = ON_INTERRUPT.lock() {
        dirs.push(path.to_path_buf());
    }
}

pub(crate) fn forget_on_interrupt(path: &Path) {
    if let Ok(mut dirs) = ON_INTERRUPT.lock() {
        dirs.retain(|d| d != path);
    }
}

pub(crate) fn bench_dir(given: Option<&Path>) -> std::io::Result<BenchDir> {
    if let Some(dir) = given {
        if dir.exists() && !dir.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("--dir {} is a file, not a directory", dir.display()),
            ));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| std::io::Error::new(e.kind(), format!("--dir {}: {e}", dir.display())))?;
        if is_tmpfs(dir) {
            eprintln!(
                "warning: {} is on tmpfs: the figures will measure memory, not a disk",
                dir.display()
            );
        }
        return Ok(BenchDir {
            path: dir.to_path_buf(),
            _temp: None,
        });
    }
    let candidates = [
        std::env::temp_dir(),
        PathBuf::from("/var/tmp"),
        std::env::current_dir()?,
    ];
    let base = candidates
        .iter()
        .find(|c| c.is_dir() && !is_tmpfs(c))
        .unwrap_or(&candidates[0]);
    let temp = tempfile::Builder::new().prefix("kvlab-").tempdir_in(base)?;
    remove_on_interrupt(temp.path());
    Ok(BenchDir {
        path: temp.path().to_path_buf(),
        _temp: Some(temp),
    })
}

pub(crate) fn config_from(args: &WorkloadArgs) -> BenchConfig {
    BenchConfig {
        records: args.records,
        value_size: args.value_size,
        batch: args.batch,
        threads: args.threads,
        reads: args.reads,
        ..BenchConfig::default()
    }
}

/// The environment of a run of `engines`. A knob (`--set ENGINE.NAME=VALUE`) applies to
/// its own engine; one for an engine not in the run is an error, since it would change
/// nothing and a comparison would chart noise.
pub(crate) fn env_from(
    args: &WorkloadArgs,
    dir: &Path,
    engines: &[EngineKind],
) -> kvlab::Result<BenchEnv> {
    let mut options = Options {
        durability: args.durability,
        ..Options::default()
    };
    for knob in &args.knobs {
        check_knob_engine(knob, engines)?;
        options.set(knob)?;
    }
    Ok(BenchEnv {
        options,
        dir: dir.to_path_buf(),
        outside_counters: true,
        // SAFETY: geteuid has no preconditions.
        drop_caches: unsafe { libc::geteuid() } == 0,
        keep_stores: args.keep,
    })
}

/// An error unless `knob` (`ENGINE.NAME=VALUE`, or `ENGINE.NAME`) names an engine of
/// `engines`.
pub(crate) fn check_knob_engine(knob: &str, engines: &[EngineKind]) -> kvlab::Result<()> {
    let Some((engine, _)) = knob.split_once('.') else {
        return Ok(()); // Options::set says what is wrong with it
    };
    if engines.iter().any(|e| e.name() == engine.trim()) {
        return Ok(());
    }
    let names: Vec<&str> = engines.iter().map(|e| e.name()).collect();
    Err(kvlab::Error::invalid(format!(
        "knob '{knob}' is for {engine}, which this run does not include (engines: {})",
        names.join(", ")
    )))
}

pub(crate) fn progress_bar(engine: EngineKind, phases: usize) -> ProgressBar {
    let bar = ProgressBar::new(phases as u64);
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(engine.to_string());
    bar
}

/// Runs `phases` for each engine in turn, with a progress bar each; every report also
/// goes to `json` as a line.
pub(crate) fn run_engines(
    engines: &[EngineKind],
    phases: &[Phase],
    config: &BenchConfig,
    env: &BenchEnv,
    mut json: Option<(&mut File, &RunInfo)>,
) -> Result<Vec<PhaseReport>, Box<dyn std::error::Error>> {
    let mut reports: Vec<PhaseReport> = Vec::new();
    for &engine in engines {
        let bar = progress_bar(engine, phases.len());
        let mut runner = Runner::new(engine, config, env)?;
        let mut failure = None;
        runner.run(
            phases,
            |phase| bar.set_message(phase.to_string()),
            |report| {
                bar.inc(1);
                if let Some((file, run)) = json.as_mut()
                    && let Err(e) = writeln!(file, "{}", run_info::json_line(&report, run))
                {
                    failure.get_or_insert(e);
                }
                reports.push(report);
            },
        )?;
        bar.finish_and_clear();
        if let Some(e) = failure {
            return Err(e.into());
        }
    }
    Ok(reports)
}

/// What the adapter table beside a run says of itself.
pub(crate) const NATIVE_WORDS: &str = "Each peer's figures through kvlab's trait, beside the \
    same phases driven through the engine's own API right after, in the same run (one \
    round; `kvlab adapters --rounds 3` gives medians over alternating rounds).";

/// Each peer among `engines` driven through its own API on the phases
/// [`kvlab::bench::native`] has, the baseline its adapter is measured against; every
/// report also goes to `json` as a line. Nothing when the build has no peers.
#[allow(unused_variables, unused_mut)]
pub(crate) fn run_natives(
    engines: &[EngineKind],
    config: &BenchConfig,
    env: &BenchEnv,
    mut json: Option<(&mut File, &RunInfo)>,
) -> Result<Vec<PhaseReport>, Box<dyn std::error::Error>> {
    let mut reports: Vec<PhaseReport> = Vec::new();
    #[cfg(any(
        feature = "redb",
        feature = "lmdb",
        feature = "sqlite",
        feature = "fjall",
        feature = "rocksdb"
    ))]
    for &peer in engines.iter().filter(|e| e.is_peer()) {
        eprintln!("{peer} through its own API");
        kvlab::bench::native::run_native(peer, config, env, |r| reports.push(r))?;
    }
    if let Some((file, run)) = json.as_mut() {
        for report in &reports {
            writeln!(file, "{}", run_info::json_line(report, run))?;
        }
    }
    Ok(reports)
}
