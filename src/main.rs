//! The `kvlab` command line: compare engines, benchmark one, or try one by hand.

use std::fs::File;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kvlab::bench::device::{describe_machine, is_tmpfs};
use kvlab::bench::events::Events;
use kvlab::bench::layouts::{self, LayoutConfig, LayoutRun, LayoutRunInfo, QueryReport};
use kvlab::bench::run_info::{self, RunInfo};
use kvlab::bench::table::{amplification_table, throughput_table};
use kvlab::bench::{BenchConfig, BenchEnv, Phase, PhaseReport, Runner, YcsbWorkload};
use kvlab::{Durability, EngineKind, KeyRange, KvStore, Options};

/// kvlab: storage engines built from scratch, measured side by side on a real disk.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every engine through the standard workloads and print them side by side.
    Compare(CompareArgs),
    /// Run one engine through chosen phases or a YCSB workload; JSON lines on stdout.
    Bench(BenchArgs),
    /// Open a store and type commands at it (put, get, del, scan, stats, sync).
    Shell(ShellArgs),
    /// Tell which engine wrote a directory and print its structure, without opening it.
    Inspect(InspectArgs),
    /// Run one engine over a list of values of one knob; write a CSV and SVG charts.
    Sweep(SweepArgs),
    /// Run the standard suite for every engine and rewrite the results of BENCHMARKS.md
    /// and its charts.
    Report(ReportArgs),
    /// List the engines this build can open.
    Engines,
    /// Load the events table in the row and the column layout on each engine and run the
    /// layout queries (Q1-Q8), each answer checked; JSON lines with --json.
    Layouts(LayoutsArgs),
    /// Compare two saved runs (JSON lines of `compare --json` or `bench`): per engine and
    /// phase, each figure in both and their ratio.
    Diff(DiffArgs),
    /// Kill a writer process again and again (SIGKILL at random moments) and check after
    /// each kill that every acknowledged batch survived.
    Torture(TortureArgs),
    /// Run each production peer through kvlab's trait and through its own API, the same
    /// workload both ways, and print what the adapter costs per phase (medians of rounds).
    #[cfg(any(
        feature = "redb",
        feature = "lmdb",
        feature = "sqlite",
        feature = "fjall"
    ))]
    Adapters(AdaptersArgs),
    /// The writer process of `torture` (not for direct use).
    #[command(hide = true)]
    TortureWriter(TortureWriterArgs),
}

#[cfg(any(
    feature = "redb",
    feature = "lmdb",
    feature = "sqlite",
    feature = "fjall"
))]
#[derive(Args)]
struct AdaptersArgs {
    #[command(flatten)]
    workload: WorkloadArgs,
    /// Peers to measure, comma-separated (default: every peer in this build).
    #[arg(long, value_delimiter = ',')]
    engines: Vec<EngineKind>,
    /// Rounds; each runs every peer both ways, and the table shows the medians.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Also write every report as JSON lines to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args)]
struct TortureArgs {
    /// The engine to torture.
    #[arg(long)]
    engine: EngineKind,
    /// Writers to kill.
    #[arg(long, default_value_t = 100)]
    kills: u32,
    /// Directory for the store, missing or empty (default: a new temporary directory,
    /// removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Longest a writer runs before its kill, in milliseconds; each runs a log-uniform
    /// time from 1 ms to this.
    #[arg(long, default_value_t = 2000)]
    max_wait_ms: u64,
    /// Seeds the batches and the moments of the kills.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// An engine knob, e.g. --set lsm.memtable_size=1MiB (repeatable).
    #[arg(long = "set", value_name = "ENGINE.KNOB=VALUE")]
    knobs: Vec<String>,
    /// Print a line after each kill.
    #[arg(long)]
    verbose: bool,
}

#[derive(Args)]
struct TortureWriterArgs {
    #[arg(long)]
    engine: EngineKind,
    #[arg(long)]
    dir: PathBuf,
    #[arg(long)]
    seed: u64,
    /// The first batch to write.
    #[arg(long)]
    from: u64,
    #[arg(long = "set")]
    knobs: Vec<String>,
}

#[derive(Args)]
struct LayoutsArgs {
    /// Rows of the events table.
    #[arg(long, default_value_t = 200_000)]
    rows: u64,
    /// Engines, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "mem,btree,lsm")]
    engines: Vec<EngineKind>,
    /// Layouts, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "row,column")]
    layouts: Vec<kvlab::table::Layout>,
    /// Rows per row group of the column layout.
    #[arg(long, default_value_t = 65_536)]
    row_group_rows: usize,
    /// Point gets in Q1 and in Q2.
    #[arg(long, default_value_t = 10_000)]
    gets: u64,
    /// When a write is durable: "sync" (at each commit) or "buffered" (at each sync()).
    #[arg(long, default_value = "sync")]
    durability: Durability,
    /// Directory for the stores (default: a new temporary directory on disk, not tmpfs).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the stores (and print where), for `kvlab inspect`.
    #[arg(long)]
    keep: bool,
    /// Also write every report as JSON lines to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Leave out the Parquet and SQL anchors (features `parquet`, `sqlite`).
    #[arg(long)]
    no_anchors: bool,
}

#[derive(Args)]
struct DiffArgs {
    /// The first run's JSON lines (A).
    a: PathBuf,
    /// The second run's JSON lines (B).
    b: PathBuf,
    /// Ratios further than this from 1 are marked with `*` (the noise band).
    #[arg(long, default_value_t = 0.1)]
    band: f64,
}

/// Sizes and durability shared by `compare` and `bench`.
#[derive(Args, Clone)]
struct WorkloadArgs {
    /// Records to insert (n); later phases read and change these.
    #[arg(long, default_value_t = 200_000)]
    records: u64,
    /// Bytes per value (keys are always 16 bytes).
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Entries per write batch; each batch is one commit.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// When a write is durable: "sync" (at each commit) or "buffered" (at each sync()).
    #[arg(long, default_value = "sync")]
    durability: Durability,
    /// Threads sharing each phase's operations.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Gets in each random-read phase (default: records).
    #[arg(long)]
    reads: Option<u64>,
    /// Directory for the stores (default: a new temporary directory on disk, not tmpfs).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// An engine knob, e.g. --set lsm.memtable_size=32MiB --set lsm.compaction=tiered
    /// --set btree.page_size=16KiB --set btree.mmap_reads=true (repeatable).
    #[arg(long = "set", value_name = "ENGINE.KNOB=VALUE")]
    knobs: Vec<String>,
    /// Keep the stores the run builds (and print where), for `kvlab inspect`.
    #[arg(long)]
    keep: bool,
}

#[derive(Args)]
struct CompareArgs {
    #[command(flatten)]
    workload: WorkloadArgs,
    /// Engines to compare, comma-separated (default: every engine in this build).
    #[arg(long, value_delimiter = ',')]
    engines: Vec<EngineKind>,
    /// Phases, comma-separated; "standard" and "ycsb" name the groups.
    #[arg(long, default_value = "standard")]
    phases: String,
    /// Also write every report as JSON lines to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Rows of the events table for the row vs column matrix that follows the phases
    /// (0 skips it; `kvlab layouts` runs it alone, larger).
    #[arg(long, default_value_t = 100_000)]
    layout_rows: u64,
    /// Point gets in Q1 and Q2 of the row vs column matrix.
    #[arg(long, default_value_t = 1_000)]
    layout_gets: u64,
}

#[derive(Args)]
struct BenchArgs {
    #[command(flatten)]
    workload: WorkloadArgs,
    /// The engine to run.
    #[arg(long)]
    engine: EngineKind,
    /// Phases, comma-separated; "standard" and "ycsb" name the groups.
    #[arg(long, default_value = "standard", conflicts_with = "workload_name")]
    phases: String,
    /// A YCSB core workload instead of phases: a, b, c, d, e or f.
    #[arg(long = "workload", id = "workload_name")]
    workload_name: Option<char>,
    /// Operations of a YCSB run (default: records).
    #[arg(long)]
    ops: Option<u64>,
}

#[derive(Args)]
struct ShellArgs {
    /// The store's directory.
    dir: PathBuf,
    /// The engine to open it with.
    #[arg(long)]
    engine: EngineKind,
    /// "sync" or "buffered".
    #[arg(long, default_value = "sync")]
    durability: Durability,
}

#[derive(Args)]
struct SweepArgs {
    #[command(flatten)]
    workload: WorkloadArgs,
    /// The engine to run.
    #[arg(long)]
    engine: EngineKind,
    /// The knob: records, value_size, batch, or an engine knob such as lsm.bloom_bits or
    /// btree.page_size.
    #[arg(long)]
    knob: String,
    /// The knob's values, comma-separated (numbers, sizes such as 4KiB, or false,true).
    #[arg(long, value_delimiter = ',', required = true)]
    values: Vec<String>,
    /// Phases measured at each value.
    #[arg(long, default_value = "fillrandom,readrandom,readmissing")]
    phases: String,
    /// Where sweep.csv and the charts go (default: sweep-KNOB).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct ReportArgs {
    /// Records (n) for the standard suite.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Engines, comma-separated (default: every engine in this build).
    #[arg(long, value_delimiter = ',')]
    engines: Vec<EngineKind>,
    /// The file whose generated section is rewritten.
    #[arg(long, default_value = "BENCHMARKS.md")]
    file: PathBuf,
    /// Where the charts go.
    #[arg(long, default_value = "docs/plots")]
    plots: PathBuf,
    /// Directory for the stores (default: a new temporary directory on disk).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Rows of the events table for the row vs column matrix (0 leaves it out).
    #[arg(long, default_value_t = 1_000_000)]
    layout_rows: u64,
    /// Point gets in Q1 and Q2 of the matrix.
    #[arg(long, default_value_t = 10_000)]
    layout_gets: u64,
    /// Also save every line of the run (phases and queries) to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Run nothing: rewrite the section from the lines a `report --json FILE` saved.
    #[arg(long, conflicts_with = "json")]
    from: Option<PathBuf>,
}

#[derive(Args)]
struct InspectArgs {
    /// The store's directory.
    dir: PathBuf,
    /// Also list the entries of this table (LSM: the number in NNNNNN.sst).
    #[arg(long)]
    table: Option<u64>,
    /// Also open the store (which runs its recovery) and describe the row and column
    /// tables it holds: schemas, and per column its encodings, chunk sizes and zone maps.
    #[arg(long)]
    tables: bool,
}

fn main() -> ExitCode {
    // Output piped into a reader that stops early (`kvlab inspect DIR | head`) ends the
    // process quietly, as for any command-line tool, rather than in a panic of println!.
    // SAFETY: restoring the default disposition of a signal, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compare(args) => compare(args),
        Command::Bench(args) => bench(args),
        Command::Shell(args) => shell(args),
        Command::Inspect(args) => inspect(args),
        Command::Sweep(args) => sweep(args),
        Command::Report(args) => report(args),
        Command::Diff(args) => diff(args),
        Command::Layouts(args) => layouts(args),
        Command::Torture(args) => torture(args),
        #[cfg(any(
            feature = "redb",
            feature = "lmdb",
            feature = "sqlite",
            feature = "fjall"
        ))]
        Command::Adapters(args) => adapters(args),
        Command::TortureWriter(args) => {
            let mut out = std::io::stdout().lock();
            kvlab::crashtest::torture::run_writer(
                args.engine,
                &args.dir,
                &args.knobs,
                args.seed,
                args.from,
                &mut out,
            )
            .map_err(Into::into)
        }
        Command::Engines => {
            for kind in EngineKind::ALL {
                println!("{:<7} {}", kind.name(), kind.description());
            }
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

/// A benchmark directory: the one given, or a new temporary one on a disk (never tmpfs,
/// which would measure memory), removed at the end.
struct BenchDir {
    path: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl BenchDir {
    /// Keeps the stores the run builds: the temporary directory is not removed at the
    /// end (nor at Ctrl-C), and its path is printed for `kvlab inspect`.
    fn keep(&mut self) {
        if let Some(temp) = self._temp.take() {
            let path = temp.keep();
            forget_on_interrupt(&path);
        }
        eprintln!("keeping the stores in {}", self.path.display());
    }
}

/// Temporary directories to remove if the run is interrupted (Ctrl-C, SIGTERM).
static ON_INTERRUPT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Removes `path` if the process is interrupted before it ends on its own.
fn remove_on_interrupt(path: &Path) {
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

fn forget_on_interrupt(path: &Path) {
    if let Ok(mut dirs) = ON_INTERRUPT.lock() {
        dirs.retain(|d| d != path);
    }
}

fn bench_dir(given: Option<&Path>) -> std::io::Result<BenchDir> {
    if let Some(dir) = given {
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

fn config_from(args: &WorkloadArgs) -> BenchConfig {
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
fn env_from(args: &WorkloadArgs, dir: &Path, engines: &[EngineKind]) -> kvlab::Result<BenchEnv> {
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
fn check_knob_engine(knob: &str, engines: &[EngineKind]) -> kvlab::Result<()> {
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

fn progress_bar(engine: EngineKind, phases: usize) -> ProgressBar {
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
fn run_engines(
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

fn compare(args: CompareArgs) -> CliResult {
    let phases = Phase::parse_list(&args.phases)?;
    let engines = if args.engines.is_empty() {
        EngineKind::ALL.to_vec()
    } else {
        args.engines.clone()
    };
    let config = config_from(&args.workload);
    config.validate()?;
    let mut dir = bench_dir(args.workload.dir.as_deref())?;
    if args.workload.keep {
        dir.keep();
    }
    let env = env_from(&args.workload, &dir.path, &engines)?;
    let mut json = args.json.as_ref().map(File::create).transpose()?;
    let run = RunInfo::new(&config, &env, &args.workload.knobs);

    println!("# kvlab compare\n");
    println!("{}", run.header());
    println!("Stores in {}.\n", dir.path.display());

    let reports = run_engines(
        &engines,
        &phases,
        &config,
        &env,
        json.as_mut().map(|f| (f, &run)),
    )?;

    println!("## Throughput (operations per second; p99 latency of one call)\n");
    println!("{}", throughput_table(&reports));
    println!("## Amplification\n");
    println!("{}", amplification_table(&reports));
    println!(
        "W = bytes the engine wrote / bytes the user wrote; R = bytes read from disk per \
         operation; S = bytes on disk / live key+value bytes; \"-\" = no disk (mem) or \
         nothing to divide by; \"(dev)\" = the device's counters, for a peer whose I/O \
         kvlab cannot count. A batch of {} is one call in write phases.",
        config.batch
    );
    if args.layout_rows > 0 {
        let layout_config = LayoutConfig {
            rows: args.layout_rows,
            point_gets: args.layout_gets,
            ..LayoutConfig::default()
        };
        let reports = run_layouts(
            &engines,
            &kvlab::table::Layout::ALL,
            &layout_config,
            &env,
            true,
            json.as_mut(),
        )?;
        print_layouts(&reports, &layout_config, &env);
    }
    Ok(())
}

#[cfg(any(
    feature = "redb",
    feature = "lmdb",
    feature = "sqlite",
    feature = "fjall"
))]
fn adapters(args: AdaptersArgs) -> CliResult {
    use kvlab::bench::native;
    use kvlab::bench::table::adapter_table;

    let peers: Vec<EngineKind> = if args.engines.is_empty() {
        EngineKind::ALL
            .iter()
            .copied()
            .filter(|k| k.is_peer())
            .collect()
    } else {
        args.engines.clone()
    };
    if let Some(own) = peers.iter().find(|k| !k.is_peer()) {
        return Err(format!("{own} is not a production peer: it has no native API").into());
    }
    if args.rounds == 0 {
        return Err("--rounds must be at least 1".into());
    }
    let config = config_from(&args.workload);
    config.validate()?;
    let mut dir = bench_dir(args.workload.dir.as_deref())?;
    if args.workload.keep {
        dir.keep();
    }
    let env = env_from(&args.workload, &dir.path, &peers)?;
    let mut json = args.json.as_ref().map(File::create).transpose()?;
    let run = RunInfo::new(&config, &env, &args.workload.knobs);

    println!("# kvlab adapters\n");
    println!("{}", run.header());
    let phases: Vec<&str> = native::PHASES.iter().map(|p| p.name()).collect();
    println!(
        "Each peer through kvlab's trait and through its own API: {}; {} rounds, the \
         order of the two alternating from round to round.\n",
        phases.join(", "),
        args.rounds
    );
    let mut reports: Vec<PhaseReport> = Vec::new();
    for round in 0..args.rounds {
        for &peer in &peers {
            eprintln!("round {} of {}: {peer}", round + 1, args.rounds);
            let mut collect = |report: PhaseReport| reports.push(report);
            let through_trait = |collect: &mut dyn FnMut(PhaseReport)| {
                Runner::new(peer, &config, &env)?.run(&native::PHASES, |_| {}, collect)
            };
            // Whichever runs second finds a warmer machine; alternating evens it out.
            if round % 2 == 0 {
                through_trait(&mut collect)?;
                native::run_native(peer, &config, &env, &mut collect)?;
            } else {
                native::run_native(peer, &config, &env, &mut collect)?;
                through_trait(&mut collect)?;
            }
        }
    }
    if let Some(file) = json.as_mut() {
        for report in &reports {
            writeln!(file, "{}", run_info::json_line(report, &run))?;
        }
    }
    println!("## Throughput through the trait and natively (medians; operations per second)\n");
    println!("{}", adapter_table(&reports));
    Ok(())
}

fn bench(args: BenchArgs) -> CliResult {
    let phases = match args.workload_name {
        Some(w) => vec![Phase::Ycsb(match w.to_ascii_lowercase() {
            'a' => YcsbWorkload::A,
            'b' => YcsbWorkload::B,
            'c' => YcsbWorkload::C,
            'd' => YcsbWorkload::D,
            'e' => YcsbWorkload::E,
            'f' => YcsbWorkload::F,
            other => return Err(format!("unknown YCSB workload '{other}' (a to f)").into()),
        })],
        None => Phase::parse_list(&args.phases)?,
    };
    let config = BenchConfig {
        ycsb_ops: args.ops,
        ..config_from(&args.workload)
    };
    let mut dir = bench_dir(args.workload.dir.as_deref())?;
    if args.workload.keep {
        dir.keep();
    }
    let env = env_from(&args.workload, &dir.path, &[args.engine])?;
    let mut runner = Runner::new(args.engine, &config, &env)?;
    let run = RunInfo::new(&config, &env, &args.workload.knobs);
    let stdout = std::io::stdout();
    runner.run(
        &phases,
        |_| {},
        |report| {
            let _ = writeln!(stdout.lock(), "{}", run_info::json_line(&report, &run));
        },
    )?;
    Ok(())
}

fn torture(args: TortureArgs) -> CliResult {
    let dir = bench_dir(args.dir.as_deref())?;
    let store_dir = dir.path.join(format!("torture-{}", args.engine.name()));
    if store_dir.exists() && std::fs::read_dir(&store_dir)?.next().is_some() {
        return Err(format!(
            "{} holds a store already: torture starts from an empty one",
            store_dir.display()
        )
        .into());
    }
    let config = kvlab::crashtest::TortureConfig {
        engine: args.engine,
        dir: store_dir,
        kills: args.kills,
        max_wait: std::time::Duration::from_millis(args.max_wait_ms),
        seed: args.seed,
        knobs: args.knobs,
        exe: std::env::current_exe()?,
    };
    let verbose = args.verbose;
    let report = kvlab::crashtest::run_torture(&config, &mut |line| {
        if verbose {
            eprintln!("{line}");
        }
    })?;
    let ms = |q| report.recovery_quantile(q).as_secs_f64() * 1000.0;
    println!(
        "torture {}: {} kills, {} batches acknowledged, {} lost, {} recoveries kept the \
         batch in flight; recovery p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        args.engine,
        report.kills,
        report.acknowledged,
        report.lost,
        report.kept_in_flight,
        ms(0.5),
        ms(0.99),
        ms(1.0)
    );
    Ok(())
}

fn layouts(args: LayoutsArgs) -> CliResult {
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
fn run_layouts(
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

fn print_layouts(reports: &[QueryReport], config: &LayoutConfig, env: &BenchEnv) {
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
    println!("## Size after the load\n");
    println!("{}", layouts::size_table(reports));
    println!("## Against the targets\n");
    println!("{}", layouts::verdicts(reports));
}

fn diff(args: DiffArgs) -> CliResult {
    let read = |path: &Path| -> Result<_, Box<dyn std::error::Error>> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(run_info::read_run(&text, &path.display().to_string())?)
    };
    let (a, b) = (read(&args.a)?, read(&args.b)?);
    println!(
        "A = {}, B = {}; * = B / A outside 1 ± {}\n",
        args.a.display(),
        args.b.display(),
        args.band
    );
    print!("{}", run_info::diff(&a, &b, args.band));
    Ok(())
}

const SHELL_HELP: &str = "commands: put KEY VALUE | get KEY | del KEY | scan [FROM [TO]] | \
stats | sync | help | quit   (keys and values are text)";

fn shell(args: ShellArgs) -> CliResult {
    if !args.engine.persistent()
        && std::fs::read_dir(&args.dir).is_ok_and(|mut d| d.next().is_some())
    {
        let held = kvlab::identity::read(&kvlab::vfs::RealFs::new(), &args.dir)
            .ok()
            .flatten()
            .map_or_else(
                || "files".to_string(),
                |id| format!("a {} store", id.engine),
            );
        return Err(format!(
            "{} holds {held}, and the {} engine keeps nothing on disk: it would ignore them \
             (give the engine that wrote them)",
            args.dir.display(),
            args.engine
        )
        .into());
    }
    let options = Options {
        durability: args.durability,
        ..Options::default()
    };
    let store = kvlab::open(args.engine, &args.dir, options)?;
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        println!(
            "kvlab shell: {} store in {}. {SHELL_HELP}",
            args.engine,
            args.dir.display()
        );
    }
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            print!("> ");
            std::io::stdout().flush()?;
        }
        let Some(line) = lines.next() else { break };
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        match run_shell_command(store.as_ref(), &words) {
            Ok(ShellFlow::Continue) => {}
            Ok(ShellFlow::Quit) => break,
            Err(e) => println!("error: {e}"),
        }
    }
    Ok(())
}

enum ShellFlow {
    Continue,
    Quit,
}

fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

fn run_shell_command(store: &dyn KvStore, words: &[&str]) -> Result<ShellFlow, kvlab::Error> {
    match words {
        [] => {}
        ["put", key, value @ ..] if !value.is_empty() => {
            store.put(key.as_bytes(), value.join(" ").as_bytes())?;
            println!("ok");
        }
        ["get", key] => match store.get(key.as_bytes())? {
            Some(v) => println!("{}", show(&v)),
            None => println!("(not found)"),
        },
        ["del", key] => {
            store.delete(key.as_bytes())?;
            println!("ok");
        }
        ["scan", bounds @ ..] if bounds.len() <= 2 => {
            let range = match bounds {
                [from, to] => KeyRange::between(from.as_bytes(), to.as_bytes()),
                [from] => KeyRange::from_key(from.as_bytes()),
                _ => KeyRange::all(),
            };
            let mut count = 0;
            for pair in store.scan(range)? {
                let (k, v) = pair?;
                println!("{} = {}", show(&k), show(&v));
                count += 1;
            }
            println!("({count} keys)");
        }
        ["stats"] => {
            let s = store.stats();
            println!(
                "user_bytes_written {} user_bytes_read {} disk_bytes_written {} disk_bytes_read {} syncs {}",
                s.user_bytes_written,
                s.user_bytes_read,
                s.disk_bytes_written,
                s.disk_bytes_read,
                s.syncs
            );
            for (name, value) in &s.engine {
                println!("{name} {value}");
            }
        }
        ["sync"] => {
            store.sync()?;
            println!("ok");
        }
        ["help"] => println!("{SHELL_HELP}"),
        ["quit"] | ["exit"] => return Ok(ShellFlow::Quit),
        _ => println!("unknown command; {SHELL_HELP}"),
    }
    Ok(ShellFlow::Continue)
}

fn inspect(args: InspectArgs) -> CliResult {
    let fs = kvlab::vfs::RealFs::new();
    let dir = &args.dir;
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()).into());
    }
    let Some(identity) = kvlab::identity::read(&fs, dir)? else {
        let entries = std::fs::read_dir(dir)?.count();
        let what = if entries == 0 {
            "it is empty".to_string()
        } else {
            format!("it holds {entries} entries and no KVLAB identity file")
        };
        return Err(kvlab::Error::NotAStore {
            dir: dir.clone(),
            detail: what,
        }
        .into());
    };
    println!(
        "{}: {} store, format {}",
        dir.display(),
        identity.engine,
        identity.format
    );
    match identity.engine.as_str() {
        "lsm" => {
            print!("{}", kvlab::lsm::inspect::describe(&fs, dir)?);
            if let Some(number) = args.table {
                print!("\n{}", kvlab::lsm::inspect::dump_table(&fs, dir, number)?);
            }
        }
        "btree" => {
            if args.table.is_some() {
                return Err("--table is for LSM stores".into());
            }
            print!("{}", kvlab::btree::inspect::describe(&fs, dir)?);
        }
        other => println!("(this build has no inspector for '{other}' stores)"),
    }
    if args.tables {
        let kind: EngineKind = identity.engine.parse()?;
        let store = kvlab::open(kind, dir, Options::default())?;
        println!(
            "\n{}",
            kvlab::table::inspect::describe(std::sync::Arc::from(store))?
        );
    }
    Ok(())
}

fn sweep(args: SweepArgs) -> CliResult {
    kvlab::bench::sweep::check_knob(&args.knob)?;
    check_knob_engine(&args.knob, &[args.engine])?;
    let phases = Phase::parse_list(&args.phases)?;
    let config = config_from(&args.workload);
    config.validate()?;
    let mut dir = bench_dir(args.workload.dir.as_deref())?;
    if args.workload.keep {
        dir.keep();
    }
    let env = env_from(&args.workload, &dir.path, &[args.engine])?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("sweep-{}", args.knob)));
    let engine = args.engine;
    let bar = progress_bar(engine, args.values.len());
    let points = kvlab::bench::sweep::run(
        || kvlab::bench::EngineSpec::of(engine),
        &config,
        &env,
        &args.knob,
        &args.values,
        &phases,
        |p| {
            bar.inc(1);
            bar.set_message(format!("{} = {}", args.knob, p.value));
        },
    )?;
    bar.finish_and_clear();
    print!("{}", kvlab::bench::sweep::csv(&args.knob, &points));
    for file in kvlab::bench::sweep::write(&out, engine.name(), &args.knob, &points)? {
        eprintln!("wrote {}", file.display());
    }
    Ok(())
}

/// What the row vs column section of a report says of its run.
struct LayoutMeta {
    rows: u64,
    gets: u64,
    group_rows: u64,
    engines: Vec<String>,
}

fn report(args: ReportArgs) -> CliResult {
    use kvlab::bench::report::{charts, section, splice};
    let (reports, layout_reports, provenance, meta) = match &args.from {
        Some(path) => saved_report(path)?,
        None => fresh_report(&args)?,
    };
    let base = args
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let plots = charts(&reports, &args.plots, &base)?;
    let mut layout_section = String::new();
    if !layout_reports.is_empty() {
        let chart = args.plots.join("layouts-bytes.svg");
        layouts::chart(&layout_reports, &chart)?;
        let shown = chart
            .strip_prefix(&base)
            .map(Path::to_path_buf)
            .unwrap_or(chart);
        layout_section = format!(
            "### Row vs column\n\n\
             The events table ({} rows: id, ts, user_id, country, device, amount, is_refund, \
             a 40-byte note) in the row and the column layout on each engine, queries Q1-Q8 \
             (docs/DESIGN.md §5), each answer checked; {} point gets in Q1 and Q2; row \
             groups of {} rows. Parquet (uncompressed, then snappy) and SQLite (a SQL table \
             with an index on ts) answer the same queries where they can. The same matrix \
             alone:\n\n```sh\ncargo run --release --features peers -- layouts --rows {} \
             --engines {}\n```\n\n![Row vs column bytes]({})\n\n\
             Time / bytes read (written, for Q6-Q8):\n\n{}\nSize after the load:\n\n{}\n\
             Against the targets:\n\n{}",
            meta.rows,
            meta.gets,
            meta.group_rows,
            meta.rows,
            meta.engines.join(","),
            shown.display(),
            layouts::markdown(&layout_reports),
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

type ReportParts = (
    Vec<PhaseReport>,
    Vec<QueryReport>,
    kvlab::bench::report::Provenance,
    LayoutMeta,
);

/// Runs the standard suite and the row vs column matrix; with `--json`, saves every line.
fn fresh_report(args: &ReportArgs) -> Result<ReportParts, Box<dyn std::error::Error>> {
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
    let reports = run_engines(
        &engines,
        &Phase::STANDARD,
        &config,
        &env,
        json.as_mut().map(|f| (f, &run)),
    )?;
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
            "cargo run --release --features peers -- report --records {} --engines {} \
             --layout-rows {}{}",
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

fn workload_words(
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
fn saved_report(path: &Path) -> Result<ReportParts, Box<dyn std::error::Error>> {
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
    for r in &reports {
        if !engines.contains(&r.engine) {
            engines.push(r.engine.clone());
        }
    }
    let provenance = kvlab::bench::report::Provenance {
        machine: text_of(&run, "machine"),
        date: text_of(&run, "date"),
        commit: text_of(&run, "commit"),
        command: format!(
            "cargo run --release --features peers -- report --records {} --engines {} --json {}\n\
             cargo run --release -- report --from {}",
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
