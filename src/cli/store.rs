//! The commands on one store: `shell`, `inspect`, and the kill loop of `torture`.

use super::common::*;
use clap::Args;
use kvlab::{Durability, EngineKind, KeyRange, KvStore, Options};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct TortureArgs {
    /// The engine to torture.
    #[arg(long)]
    pub(crate) engine: EngineKind,
    /// Writers to kill.
    #[arg(long, default_value_t = 100)]
    pub(crate) kills: u32,
    /// Directory for the store, missing or empty (default: a new temporary directory,
    /// removed at the end).
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// Longest a writer runs before its kill, in milliseconds; each runs a log-uniform
    /// time from 1 ms to this.
    #[arg(long, default_value_t = 2000)]
    pub(crate) max_wait_ms: u64,
    /// Seeds the batches and the moments of the kills.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// An engine knob, e.g. --set lsm.memtable_size=1MiB (repeatable).
    #[arg(long = "set", value_name = "ENGINE.KNOB=VALUE")]
    pub(crate) knobs: Vec<String>,
    /// Print a line after each kill.
    #[arg(long)]
    pub(crate) verbose: bool,
}

#[derive(Args)]
pub(crate) struct TortureWriterArgs {
    #[arg(long)]
    pub(crate) engine: EngineKind,
    #[arg(long)]
    pub(crate) dir: PathBuf,
    #[arg(long)]
    pub(crate) seed: u64,
    /// The first batch to write.
    #[arg(long)]
    pub(crate) from: u64,
    #[arg(long = "set")]
    pub(crate) knobs: Vec<String>,
}

#[derive(Args)]
pub(crate) struct ShellArgs {
    /// The store's directory.
    pub(crate) dir: PathBuf,
    /// The engine to open it with.
    #[arg(long)]
    pub(crate) engine: EngineKind,
    /// "sync" or "buffered".
    #[arg(long, default_value = "sync")]
    pub(crate) durability: Durability,
}

#[derive(Args)]
pub(crate) struct InspectArgs {
    /// The store's directory.
    pub(crate) dir: PathBuf,
    /// Also list the entries of this table (LSM: the number in NNNNNN.sst).
    #[arg(long)]
    pub(crate) table: Option<u64>,
    /// Also open the store (which runs its recovery) and describe the row and column
    /// tables it holds: schemas, and per column its encodings, chunk sizes and zone maps.
    #[arg(long)]
    pub(crate) tables: bool,
    /// Print the store's description as one JSON object, for tools: the directory, the
    /// engine and format, and what the engine's inspector found (`store`).
    #[arg(long, conflicts_with_all = ["table", "tables"])]
    pub(crate) json: bool,
}

pub(crate) fn torture(args: TortureArgs) -> CliResult {
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

pub(crate) const SHELL_HELP: &str = "commands: put KEY VALUE | get KEY | del KEY | scan [FROM [TO]] | \
stats | sync | help | quit   (keys and values are text)";

pub(crate) fn shell(args: ShellArgs) -> CliResult {
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

pub(crate) enum ShellFlow {
    Continue,
    Quit,
}

pub(crate) fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

pub(crate) fn run_shell_command(
    store: &dyn KvStore,
    words: &[&str],
) -> Result<ShellFlow, kvlab::Error> {
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

pub(crate) fn inspect(args: InspectArgs) -> CliResult {
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
    if args.json {
        let store = match identity.engine.as_str() {
            "lsm" => serde_json::to_value(kvlab::lsm::inspect::inspect(&fs, dir)?)?,
            "btree" => serde_json::to_value(kvlab::btree::inspect::inspect(&fs, dir)?)?,
            _ => serde_json::Value::Null,
        };
        let object = serde_json::json!({
            "dir": dir,
            "engine": identity.engine,
            "format": identity.format,
            "store": store,
        });
        println!("{object}");
        return Ok(());
    }
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
