//! The `kvlab` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kvlab::EngineKind;

/// kvlab: storage engines built from scratch, measured side by side.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the engines this build can open.
    Engines,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Engines => {
            for kind in EngineKind::ALL {
                println!("{kind}");
            }
        }
    }
    ExitCode::SUCCESS
}
