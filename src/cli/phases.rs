//! The key-value phase commands: `compare`, `bench`, `adapters`, `sweep` and `diff`.

use super::common::*;
use super::report::{print_layouts, run_layouts};
use clap::Args;
use kvlab::EngineKind;
use kvlab::bench::layouts::LayoutConfig;
use kvlab::bench::run_info::{self, RunInfo};
use kvlab::bench::table::{AMPLIFICATION_LEGEND, amplification_table, throughput_table};
use kvlab::bench::{BenchConfig, Phase, PhaseReport, Runner, YcsbWorkload};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

#[cfg(any(
    feature = "redb",
    feature = "lmdb",
    feature = "sqlite",
    feature = "fjall",
    feature = "rocksdb"
))]
#[derive(Args)]
pub(crate) struct AdaptersArgs {
    #[command(flatten)]
    pub(crate) workload: WorkloadArgs,
    /// Peers to measure, comma-separated (default: every peer in this build).
    #[arg(long, value_delimiter = ',')]
    pub(crate) engines: Vec<EngineKind>,
    /// Rounds; each runs every peer both ways, and the table shows the medians.
    #[arg(long, default_value_t = 3)]
    pub(crate) rounds: usize,
    /// Also write every report as JSON lines to this file.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct DiffArgs {
    /// The first run's JSON lines (A).
    pub(crate) a: PathBuf,
    /// The second run's JSON lines (B).
    pub(crate) b: PathBuf,
    /// Ratios further than this from 1 are marked with `*` (the noise band).
    #[arg(long, default_value_t = 0.1)]
    pub(crate) band: f64,
}

#[derive(Args)]
pub(crate) struct CompareArgs {
    #[command(flatten)]
    pub(crate) workload: WorkloadArgs,
    /// Engines to compare, comma-separated (default: every engine in this build).
    #[arg(long, value_delimiter = ',')]
    pub(crate) engines: Vec<EngineKind>,
    /// Phases, comma-separated; "standard" and "ycsb" name the groups.
    #[arg(long, default_value = "standard")]
    pub(crate) phases: String,
    /// Also write every report as JSON lines to this file.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Rows of the events table for the row vs column matrix that follows the phases
    /// (0 skips it; `kvlab layouts` runs it alone, larger).
    #[arg(long, default_value_t = 100_000)]
    pub(crate) layout_rows: u64,
    /// Point gets in Q1 and Q2 of the row vs column matrix.
    #[arg(long, default_value_t = 1_000)]
    pub(crate) layout_gets: u64,
}

#[derive(Args)]
pub(crate) struct BenchArgs {
    #[command(flatten)]
    pub(crate) workload: WorkloadArgs,
    /// The engine to run.
    #[arg(long)]
    pub(crate) engine: EngineKind,
    /// Phases, comma-separated; "standard" and "ycsb" name the groups.
    #[arg(long, default_value = "standard", conflicts_with = "workload_name")]
    pub(crate) phases: String,
    /// A YCSB core workload instead of phases: a, b, c, d, e or f.
    #[arg(long = "workload", id = "workload_name")]
    pub(crate) workload_name: Option<char>,
    /// Operations of a YCSB run (default: records).
    #[arg(long)]
    pub(crate) ops: Option<u64>,
}

#[derive(Args)]
pub(crate) struct SweepArgs {
    #[command(flatten)]
    pub(crate) workload: WorkloadArgs,
    /// The engine to run.
    #[arg(long)]
    pub(crate) engine: EngineKind,
    /// The knob: records, value_size, batch, or an engine knob such as lsm.bloom_bits or
    /// btree.page_size.
    #[arg(long)]
    pub(crate) knob: String,
    /// The knob's values, comma-separated (numbers, sizes such as 4KiB, or false,true).
    #[arg(long, value_delimiter = ',', required = true)]
    pub(crate) values: Vec<String>,
    /// Phases measured at each value.
    #[arg(long, default_value = "fillrandom,readrandom,readmissing")]
    pub(crate) phases: String,
    /// Where sweep.csv and the charts go (default: sweep-KNOB).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

pub(crate) fn compare(args: CompareArgs) -> CliResult {
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
        "{AMPLIFICATION_LEGEND} A batch of {} is one call in write phases.",
        config.batch
    );
    // Each peer through its own API, where the run has a phase the baseline measures.
    if phases.iter().any(|p| Phase::NATIVE.contains(p)) {
        let natives = run_natives(&engines, &config, &env, json.as_mut().map(|f| (f, &run)))?;
        if !natives.is_empty() {
            let both: Vec<PhaseReport> = reports.iter().chain(&natives).cloned().collect();
            println!("\n## The peers through the trait and through their own APIs\n");
            println!("{NATIVE_WORDS}\n");
            println!("{}", kvlab::bench::table::adapter_table(&both));
        }
    }
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
    feature = "fjall",
    feature = "rocksdb"
))]
pub(crate) fn adapters(args: AdaptersArgs) -> CliResult {
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
    let mut reports: Vec<kvlab::bench::PhaseReport> = Vec::new();
    for round in 0..args.rounds {
        for &peer in &peers {
            eprintln!("round {} of {}: {peer}", round + 1, args.rounds);
            let mut collect = |report: kvlab::bench::PhaseReport| reports.push(report);
            let through_trait = |collect: &mut dyn FnMut(kvlab::bench::PhaseReport)| {
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

pub(crate) fn bench(args: BenchArgs) -> CliResult {
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

pub(crate) fn diff(args: DiffArgs) -> CliResult {
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

pub(crate) fn sweep(args: SweepArgs) -> CliResult {
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
