//! The `kvlab` command line: compare engines, benchmark one, or try one by hand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kvlab::EngineKind;

mod cli;

use cli::phases::*;
use cli::report::*;
use cli::store::*;

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
        feature = "fjall",
        feature = "rocksdb"
    ))]
    Adapters(AdaptersArgs),
    /// The writer process of `torture` (not for direct use).
    #[command(hide = true)]
    TortureWriter(TortureWriterArgs),
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
            feature = "fjall",
            feature = "rocksdb"
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
