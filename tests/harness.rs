//! The benchmark harness end to end, on SimFs: every phase runs, counts its operations
//! right, and reports figures that agree with each other.

mod kit;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use kit::logstore::{Forget, LogStore};
use kvlab::bench::{BenchConfig, BenchEnv, EngineSpec, Phase, PhaseReport, Runner};
use kvlab::vfs::SimFs;
use kvlab::{Checked, EngineKind, IoSource, KvStore, Options};

fn sim_env() -> BenchEnv {
    BenchEnv {
        keep_stores: false,
        options: Options::with_vfs(Arc::new(SimFs::new())),
        dir: PathBuf::from("/bench"),
        outside_counters: false,
        drop_caches: false,
    }
}

fn small(records: u64) -> BenchConfig {
    BenchConfig {
        records,
        batch: 100,
        reads: Some(500),
        seeks: Some(50),
        sync_writes: Some(20),
        ycsb_ops: Some(300),
        ..BenchConfig::default()
    }
}

fn run(engine: EngineSpec, config: &BenchConfig, phases: &[Phase]) -> Vec<PhaseReport> {
    let env = sim_env();
    let mut runner = Runner::for_engine(engine, config, &env).unwrap();
    let mut reports = Vec::new();
    runner.run(phases, |_| {}, |r| reports.push(r)).unwrap();
    reports
}

fn find<'a>(reports: &'a [PhaseReport], phase: &str) -> &'a PhaseReport {
    reports
        .iter()
        .find(|r| r.phase == phase)
        .unwrap_or_else(|| panic!("no {phase} report"))
}

fn log_engine() -> EngineSpec {
    EngineSpec {
        name: "testlog".into(),
        persistent: true,
        io_source: IoSource::Vfs,
        open: Box::new(|dir, options| {
            let store = LogStore::open(options.vfs, dir, options.durability, Forget::Nothing)?;
            Ok(Box::new(Checked::new(store)) as Box<dyn KvStore>)
        }),
    }
}

#[test]
fn ycsb_reports_its_load_and_each_operation_type() {
    let config = small(2000);
    let reports = run(
        EngineSpec::of(EngineKind::Mem),
        &config,
        &[
            Phase::Ycsb(kvlab::bench::YcsbWorkload::A),
            Phase::Ycsb(kvlab::bench::YcsbWorkload::E),
        ],
    );
    let names: Vec<&str> = reports.iter().map(|r| r.phase.as_str()).collect();
    assert_eq!(names, ["ycsb_a_load", "ycsb_a", "ycsb_e_load", "ycsb_e"]);
    let load = &reports[0];
    assert_eq!(load.ops, 2000);
    assert_eq!(load.user_bytes_written, 2000 * 1024, "1 KiB records");
    assert!(load.operations.is_empty());
    for (run, types) in [
        (&reports[1], &["read", "update"][..]),
        (&reports[3], &["insert", "scan"][..]),
    ] {
        let seen: Vec<&str> = run.operations.keys().map(String::as_str).collect();
        assert_eq!(seen, types, "{}", run.phase);
        let counted: u64 = run.operations.values().map(|o| o.count).sum();
        assert_eq!(counted, run.ops, "{}", run.phase);
        for (name, op) in &run.operations {
            assert!(op.count > 0, "{name}");
            assert!(
                0.0 < op.p50_us && op.p50_us <= op.p95_us && op.p95_us <= op.p99_us,
                "{name}: {op:?}"
            );
        }
        let json = serde_json::to_value(run).unwrap();
        assert!(json["operations"]["scan"]["p95_us"].is_number() || run.phase == "ycsb_a");
        assert!(json["operations"]["read"]["count"].is_u64() || run.phase == "ycsb_e");
    }
    let json = serde_json::to_value(load).unwrap();
    assert!(json.get("operations").is_none(), "only YCSB runs have them");
}

#[test]
fn every_phase_runs_on_mem_and_counts_right() {
    let n = 2000;
    let config = small(n);
    let all: Vec<Phase> = Phase::STANDARD
        .iter()
        .chain(Phase::YCSB.iter())
        .copied()
        .collect();
    let reports = run(EngineSpec::of(EngineKind::Mem), &config, &all);
    let names: Vec<&str> = reports.iter().map(|r| r.phase.as_str()).collect();
    assert!(
        !names.contains(&"readrandom_cold"),
        "mem keeps nothing to read cold"
    );
    // Every phase but readrandom_cold, and a load line before each YCSB workload.
    assert_eq!(reports.len(), all.len() - 1 + Phase::YCSB.len());
    assert_eq!(find(&reports, "fillseq").ops, n);
    assert_eq!(find(&reports, "fillrandom").ops, n);
    assert_eq!(find(&reports, "fillrandom").user_bytes_written, n * 116);
    assert_eq!(find(&reports, "readrandom").ops, 500);
    assert_eq!(
        find(&reports, "readrandom").user_bytes_read,
        500 * 116,
        "every get found"
    );
    assert_eq!(
        find(&reports, "readmissing").user_bytes_read,
        0,
        "no get found"
    );
    assert_eq!(find(&reports, "seekrandom").ops, 50);
    assert_eq!(find(&reports, "readseq").ops, n);
    assert_eq!(find(&reports, "deleterandom").ops, n / 2);
    assert_eq!(find(&reports, "syncwrite").ops, 20);
    assert_eq!(find(&reports, "fill100k").ops, 2);
    assert_eq!(find(&reports, "ycsb_a").ops, 300);
    for r in &reports {
        assert_eq!(r.engine, "mem");
        assert!(
            r.write_amp.is_none() && r.space_amp.is_none(),
            "mem has no disk: {r:?}"
        );
        assert!(r.ops_per_sec > 0.0 && r.secs > 0.0);
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(json["phase"], r.phase.as_str());
        assert_eq!(json["ops"], r.ops);
    }
}

#[test]
fn figures_agree_with_each_other_on_a_disk_engine() {
    let n = 3000;
    let config = small(n);
    let phases = Phase::parse_list(
        "fillrandom,readrandom,readrandom_cold,readseq,overwrite,deleterandom,readseq",
    )
    .unwrap();
    let reports = run(log_engine(), &config, &phases);
    let fill = find(&reports, "fillrandom");
    assert_eq!(fill.user_bytes_written, n * 116);
    assert!(
        fill.disk_bytes_written > fill.user_bytes_written,
        "a log writes framing too"
    );
    let wa = fill.write_amp.unwrap();
    assert!((wa - fill.disk_bytes_written as f64 / fill.user_bytes_written as f64).abs() < 1e-9);
    assert_eq!(fill.syncs, n / 100, "one sync per batch of 100");
    let usage = fill.disk_usage.unwrap() as f64;
    assert!((fill.space_amp.unwrap() - usage / (n * 116) as f64).abs() < 1e-9);
    assert!(fill.p50_us.unwrap() <= fill.p99_us.unwrap());
    let cold = find(&reports, "readrandom_cold");
    assert_eq!(cold.ops, n, "cold reads default to min(n, 10 000)");
    let scans: Vec<&PhaseReport> = reports.iter().filter(|r| r.phase == "readseq").collect();
    assert_eq!(scans[0].ops, n);
    assert_eq!(
        scans[1].ops,
        n - n / 2,
        "the second scan runs after deleting half"
    );
    assert!(
        reports.iter().all(|r| r.dev_write_bytes.is_none()),
        "no device under SimFs"
    );
}

#[test]
fn phases_that_need_a_filled_store_get_one() {
    let reports = run(
        EngineSpec::of(EngineKind::Mem),
        &small(500),
        &[Phase::ReadRandom],
    );
    let names: Vec<&str> = reports.iter().map(|r| r.phase.as_str()).collect();
    assert_eq!(names, ["fillrandom", "readrandom"]);
}

#[test]
fn bad_sizes_are_refused() {
    let env = sim_env();
    let config = BenchConfig {
        records: 0,
        ..BenchConfig::default()
    };
    assert!(Runner::new(EngineKind::Mem, &config, &env).is_err());
    let config = BenchConfig {
        batch: 0,
        ..BenchConfig::default()
    };
    assert!(Runner::new(EngineKind::Mem, &config, &env).is_err());
}

fn kvlab(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kvlab"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    // A command that refuses its arguments may exit before reading its input; the
    // broken pipe that leaves is not the test's business.
    match child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_run_names_the_commit_kvlab_was_built_from_wherever_it_runs() {
    // Run from a directory that is no checkout: the commit must still be the build's.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kvlab"))
        .args([
            "bench",
            "--engine",
            "mem",
            "--records",
            "100",
            "--phases",
            "fillseq",
        ])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(line["run"]["commit"], env!("KVLAB_COMMIT"));
}

#[test]
fn cli_argument_errors_are_clear() {
    let (ok, _, err) = kvlab(&["bench", "--engine", "nope"], "");
    assert!(!ok);
    assert!(err.contains("unknown engine 'nope'"), "{err}");
    let (ok, _, err) = kvlab(
        &[
            "bench",
            "--engine",
            "mem",
            "--phases",
            "fillrandom,readrandon",
        ],
        "",
    );
    assert!(!ok);
    assert!(err.contains("unknown phase 'readrandon'"), "{err}");
    let (ok, _, err) = kvlab(&["compare", "--records", "0"], "");
    assert!(!ok);
    assert!(err.contains("--records must be at least 1"), "{err}");
    let (ok, _, err) = kvlab(&["compare", "--durability", "eventually"], "");
    assert!(!ok);
    assert!(err.contains("unknown durability 'eventually'"), "{err}");
    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path().to_str().unwrap();
    for command in [&["bench", "--engine", "mem"][..], &["compare"]] {
        let args = [command, &["--records", "10", "--dir", path]].concat();
        let (ok, _, err) = kvlab(&args, "");
        assert!(!ok);
        assert!(
            err.contains(&format!("--dir {path} is a file, not a directory")),
            "{err}"
        );
    }
}

#[test]
fn cli_bench_prints_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_str().unwrap();
    let (ok, out, err) = kvlab(
        &[
            "bench",
            "--engine",
            "mem",
            "--phases",
            "fillrandom,readrandom",
            "--records",
            "10000",
            "--dir",
            dir,
        ],
        "",
    );
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["phase"], "fillrandom");
    assert_eq!(lines[1]["ops"], 10000);
}

#[test]
fn cli_compare_prints_tables() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_str().unwrap();
    let (ok, out, err) = kvlab(&["compare", "--records", "2000", "--dir", dir], "");
    assert!(ok, "{err}");
    assert!(
        out.contains("## Throughput") && out.contains("## Amplification"),
        "{out}"
    );
    assert!(
        out.contains("| fillrandom") && out.contains(" mem |"),
        "{out}"
    );
}

#[test]
fn cli_shell_reads_commands_from_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_str().unwrap();
    let script = "put apple red\nput banana yellow fruit\nget apple\ndel apple\nget apple\nscan\nput\nquit\nget banana\n";
    let (ok, out, err) = kvlab(&["shell", dir, "--engine", "mem"], script);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..5], ["ok", "ok", "red", "ok", "(not found)"]);
    assert_eq!(lines[5], "banana = yellow fruit");
    assert_eq!(lines[6], "(1 keys)");
    assert!(lines[7].starts_with("unknown command"), "{}", lines[7]);
    assert_eq!(lines.len(), 8, "nothing runs after quit");
}

#[test]
fn cli_inspect_describes_an_lsm_store_and_refuses_others() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    {
        let mut options = Options::default();
        options.set("lsm.memtable_size=64KiB").unwrap();
        let store = kvlab::open(EngineKind::Lsm, &store_dir, options).unwrap();
        let mut batch = kvlab::WriteBatch::new();
        for i in 0..5000u32 {
            batch.put(format!("key{i:05}").as_bytes(), &[7; 100]);
            if batch.len() == 500 {
                store.write(&batch).unwrap();
                batch.clear();
            }
        }
        store.settle().unwrap();
    }
    let path = store_dir.to_str().unwrap();
    let (ok, out, err) = kvlab(&["inspect", path], "");
    assert!(ok, "{err}");
    assert!(out.contains("lsm store, format 3"), "{out}");
    assert!(
        out.contains("level ") && out.contains(".sst") && out.contains("key00000@"),
        "{out}"
    );
    let number = out
        .lines()
        .find_map(|l| {
            l.trim_start()
                .split_once(".sst")
                .and_then(|(n, _)| n.parse::<u64>().ok())
        })
        .expect("a table line");
    let (ok, out, err) = kvlab(&["inspect", path, "--table", &number.to_string()], "");
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("{number:06}.sst")) && out.contains("key0"),
        "{out}"
    );
    // The same, as one JSON object for tools: every table the text named, with its entries.
    let (ok, out, err) = kvlab(&["inspect", path, "--json"], "");
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["engine"], "lsm");
    let levels = json["store"]["levels"].as_array().unwrap();
    let entries: u64 = levels
        .iter()
        .flat_map(|l| l["tables"].as_array().unwrap())
        .map(|t| t["entries"].as_u64().unwrap())
        .sum();
    assert_eq!(entries, 5000, "{json}");
    assert!(
        levels
            .iter()
            .flat_map(|l| l["tables"].as_array().unwrap())
            .any(|t| t["number"] == number),
        "{json}"
    );
    assert!(json["store"]["manifest"]["next_file"].as_u64().unwrap() > number);
    let (ok, _, err) = kvlab(&["inspect", dir.path().to_str().unwrap()], "");
    assert!(!ok);
    assert!(err.contains("not a kvlab store"), "{err}");
}

#[test]
fn cli_inspect_describes_a_btree_store() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    {
        let mut options = Options::default();
        options.set("btree.page_size=1KiB").unwrap();
        let store = kvlab::open(EngineKind::BTree, &store_dir, options).unwrap();
        for round in 0..3 {
            let mut batch = kvlab::WriteBatch::new();
            for i in 0..1000u32 {
                batch.put(format!("key{i:05}").as_bytes(), &[round; 60]);
            }
            store.write(&batch).unwrap();
            if round == 1 {
                store.settle().unwrap();
            }
        }
    }
    let (ok, out, err) = kvlab(&["inspect", store_dir.to_str().unwrap()], "");
    assert!(ok, "{err}");
    assert!(out.contains("btree store, format 3"), "{out}");
    assert!(out.contains("pages of 1024 bytes"), "{out}");
    assert!(
        out.contains("cycle 2: 1 commits"),
        "one commit since the checkpoint: {out}"
    );
    assert!(
        out.contains("1000 entries") && out.contains("height 3"),
        "{out}"
    );
    assert!(
        out.contains("leaf fill:") && out.contains("check: every page"),
        "{out}"
    );

    // The same, as one JSON object for tools.
    let (ok, out, err) = kvlab(&["inspect", store_dir.to_str().unwrap(), "--json"], "");
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["engine"], "btree");
    assert_eq!(json["format"], 3);
    let store = &json["store"];
    assert_eq!(store["page_size"], 1024);
    assert_eq!(store["wal"][0]["cycle"], 2);
    assert_eq!(store["wal"][0]["commits"], 1);
    assert_eq!(store["newest"]["entries"], 1000);
    assert_eq!(store["tree"]["height"], 3);
    assert_eq!(store["tree"]["entries"], 1000);
    assert!(store["check_error"].is_null());
    let (ok, _, err) = kvlab(
        &["inspect", store_dir.to_str().unwrap(), "--json", "--tables"],
        "",
    );
    assert!(!ok && err.contains("--tables"), "{err}");
}

#[test]
fn a_sweep_measures_each_value_and_draws_it() {
    let config = small(1000);
    let env = sim_env();
    let values = vec!["16".to_string(), "256".to_string()];
    let phases = [Phase::FillRandom, Phase::ReadRandom];
    let points = kvlab::bench::sweep::run(
        || EngineSpec::of(EngineKind::Mem),
        &config,
        &env,
        "value_size",
        &values,
        &phases,
        |_| {},
    )
    .unwrap();
    assert_eq!(points.len(), 2);
    let fill = |i: usize| {
        points[i]
            .reports
            .iter()
            .find(|r| r.phase == "fillrandom")
            .unwrap()
            .user_bytes_written
    };
    assert_eq!(
        (fill(0), fill(1)),
        (1000 * (16 + 16), 1000 * (16 + 256)),
        "each point used its value"
    );
    let csv = kvlab::bench::sweep::csv("value_size", &points);
    assert_eq!(csv.lines().count(), 1 + 2 * 2);
    let dir = tempfile::tempdir().unwrap();
    let files = kvlab::bench::sweep::write(dir.path(), "mem", "value_size", &points).unwrap();
    assert!(files.iter().any(|f| f.ends_with("sweep-throughput.svg")));
    assert!(kvlab::bench::sweep::check_knob("nonsense").is_err());
}

#[test]
fn cli_report_rewrites_only_its_section() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("B.md");
    std::fs::write(&file, "# Benchmarks\n\nhand-written analysis stays\n").unwrap();
    let plots = dir.path().join("plots");
    let args = [
        "report",
        "--records",
        "2000",
        "--engines",
        "mem",
        "--file",
        file.to_str().unwrap(),
        "--plots",
        plots.to_str().unwrap(),
        "--layout-rows",
        "3000",
        "--layout-gets",
        "100",
    ];
    for _ in 0..2 {
        let (ok, _, err) = kvlab(&args, "");
        assert!(ok, "{err}");
    }
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("hand-written analysis stays"));
    assert_eq!(
        text.matches(kvlab::bench::report::BEGIN).count(),
        1,
        "rewritten, not appended twice"
    );
    assert!(
        text.contains("| fillrandom") && text.contains("plots/throughput.svg"),
        "{text}"
    );
    assert!(plots.join("throughput.svg").exists());
    assert!(
        text.contains("### Row vs column") && text.contains("| mem column |"),
        "{text}"
    );
    assert!(plots.join("layouts-bytes.svg").exists());

    // Saved with --json, the same run rewrites another file's section without running.
    let saved = dir.path().join("run.json");
    let mut with_json: Vec<&str> = args.to_vec();
    with_json.extend(["--json", saved.to_str().unwrap()]);
    let (ok, _, err) = kvlab(&with_json, "");
    assert!(ok, "{err}");
    let again = dir.path().join("C.md");
    let plots2 = dir.path().join("plots2");
    let from = [
        "report",
        "--from",
        saved.to_str().unwrap(),
        "--file",
        again.to_str().unwrap(),
        "--plots",
        plots2.to_str().unwrap(),
    ];
    let (ok, _, err) = kvlab(&from, "");
    assert!(ok, "{err}");
    let original = std::fs::read_to_string(&file).unwrap();
    let regenerated = std::fs::read_to_string(&again).unwrap();
    let table = |text: &str| -> String {
        let start = text.find("### Throughput").unwrap();
        let end = text.find("### Amplification").unwrap();
        text[start..end].to_string()
    };
    assert_eq!(table(&regenerated), table(&original));
    assert!(regenerated.contains("| mem column |") && regenerated.contains("--from"));
}

/// Files someone planted where a benchmark would put its stores survive `bench` and
/// `compare` untouched: the run stops with an error naming the directory.
#[test]
fn cli_bench_and_compare_leave_foreign_directories_untouched() {
    let dir = tempfile::tempdir().unwrap();
    for store in ["lsm-fillseq", "btree-fillseq"] {
        let planted = dir.path().join(store);
        std::fs::create_dir_all(&planted).unwrap();
        std::fs::write(planted.join("notes.txt"), b"mine").unwrap();
    }
    let d = dir.path().to_str().unwrap();
    let (ok, _, err) = kvlab(
        &[
            "bench",
            "--engine",
            "lsm",
            "--records",
            "200",
            "--phases",
            "fillseq",
            "--dir",
            d,
        ],
        "",
    );
    assert!(!ok && err.contains("lsm-fillseq"), "{err}");
    let (ok, _, err) = kvlab(
        &[
            "compare",
            "--engines",
            "btree",
            "--records",
            "200",
            "--phases",
            "fillseq",
            "--dir",
            d,
        ],
        "",
    );
    assert!(!ok && err.contains("btree-fillseq"), "{err}");
    for store in ["lsm-fillseq", "btree-fillseq"] {
        let notes = std::fs::read(dir.path().join(store).join("notes.txt")).unwrap();
        assert_eq!(notes, b"mine");
        let names = std::fs::read_dir(dir.path().join(store)).unwrap().count();
        assert_eq!(names, 1, "{store} holds only what was planted");
    }
    // A store of the engine's own, left by a run that was cut short, is replaced.
    let other = tempfile::tempdir().unwrap();
    let left = other.path().join("lsm-fillseq");
    let (ok, _, err) = kvlab(
        &["shell", left.to_str().unwrap(), "--engine", "lsm"],
        "put a 1\n",
    );
    assert!(ok, "{err}");
    let o = other.path().to_str().unwrap();
    let (ok, _, err) = kvlab(
        &[
            "bench",
            "--engine",
            "lsm",
            "--records",
            "200",
            "--phases",
            "fillseq",
            "--dir",
            o,
        ],
        "",
    );
    assert!(ok, "{err}");
    // --dir naming a file is an error naming it.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let (ok, _, err) = kvlab(
        &[
            "bench",
            "--engine",
            "mem",
            "--records",
            "200",
            "--phases",
            "fillseq",
            "--dir",
            file.to_str().unwrap(),
        ],
        "",
    );
    assert!(!ok && err.contains("a-file"), "{err}");
}

/// A knob for an engine the run does not include is an error, not a silent no-op.
#[test]
fn cli_knobs_for_an_absent_engine_are_errors() {
    let (ok, _, err) = kvlab(
        &[
            "bench",
            "--engine",
            "btree",
            "--records",
            "100",
            "--phases",
            "fillseq",
            "--set",
            "lsm.bloom_bits=5",
        ],
        "",
    );
    assert!(
        !ok && err.contains("lsm.bloom_bits") && err.contains("btree"),
        "{err}"
    );
    let (ok, _, err) = kvlab(
        &[
            "compare",
            "--engines",
            "mem,btree",
            "--records",
            "100",
            "--phases",
            "fillseq",
            "--set",
            "lsm.bloom_bits=5",
        ],
        "",
    );
    assert!(!ok && err.contains("lsm"), "{err}");
    let (ok, _, err) = kvlab(
        &[
            "sweep",
            "--engine",
            "btree",
            "--knob",
            "lsm.bloom_bits",
            "--values",
            "5,10",
            "--records",
            "100",
            "--phases",
            "fillseq",
        ],
        "",
    );
    assert!(!ok && err.contains("lsm.bloom_bits"), "{err}");
}

/// `shell --engine mem` on a directory that holds a store would answer "not found" for
/// the store's keys: it is an error naming what the directory holds.
#[test]
fn cli_shell_with_mem_refuses_a_directory_holding_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let path = store.to_str().unwrap();
    let (ok, _, err) = kvlab(&["shell", path, "--engine", "lsm"], "put a 1\n");
    assert!(ok, "{err}");
    let (ok, _, err) = kvlab(&["shell", path, "--engine", "mem"], "get a\n");
    assert!(!ok && err.contains("lsm store"), "{err}");
}

/// Output piped into a reader that stops after one line ends the process quietly.
#[test]
fn cli_inspect_into_a_closed_pipe_does_not_panic() {
    use kvlab::lsm::{Lsm, LsmOptions};
    use kvlab::{KvStore, Options, WriteBatch};
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let store = Lsm::open(
        &path,
        Options {
            lsm: LsmOptions::default(),
            durability: kvlab::Durability::Buffered,
            ..Options::default()
        },
    )
    .unwrap();
    for chunk in (0..20_000u32).collect::<Vec<_>>().chunks(1000) {
        let mut batch = WriteBatch::new();
        for i in chunk {
            batch.put(format!("key{i:08}").as_bytes(), &[1; 50]);
        }
        store.write(&batch).unwrap();
    }
    store.settle().unwrap();
    let table = store
        .level_tables()
        .into_iter()
        .flatten()
        .next()
        .unwrap()
        .number;
    drop(store);
    let mut child = Command::new(env!("CARGO_BIN_EXE_kvlab"))
        .args([
            "inspect",
            path.to_str().unwrap(),
            "--table",
            &table.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // (The reader is dropped here: the pipe closes with most of the listing unread.)
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!first.is_empty());
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101), "{err}");
}

/// Each JSON line says how it was made, and `kvlab diff` compares two saved runs.
#[test]
fn cli_json_lines_describe_their_run_and_diff_compares_two() {
    let dir = tempfile::tempdir().unwrap();
    let mut saved = Vec::new();
    for (i, cache) in ["1MiB", "2MiB"].iter().enumerate() {
        let knob = format!("lsm.block_cache={cache}");
        let (ok, out, err) = kvlab(
            &[
                "bench",
                "--engine",
                "lsm",
                "--records",
                "300",
                "--batch",
                "50",
                "--durability",
                "buffered",
                "--phases",
                "fillrandom,readrandom",
                "--set",
                &knob,
            ],
            "",
        );
        assert!(ok, "{err}");
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        let run = &lines[0]["run"];
        assert_eq!(run["records"], 300);
        assert_eq!(run["key_size"], 16);
        assert_eq!(run["value_size"], 100);
        assert_eq!(run["batch"], 50);
        assert_eq!(run["durability"], "buffered");
        assert_eq!(run["threads"], 1);
        assert_eq!(run["knobs"][0], knob.as_str());
        assert_eq!(
            run["lsm_block_cache"],
            if i == 0 { 1 << 20 } else { 2 << 20 }
        );
        assert!(run["kvlab_version"].is_string() && run["date"].is_string());
        assert!(run["machine"].as_str().unwrap().contains("cores"));
        assert_eq!(lines[0]["io_source"], "vfs");
        // The run checked the counters a peer's figures come from on a known write.
        let check = &run["counter_check"];
        assert_eq!(check["bytes"], 8 << 20, "{run}");
        assert_eq!(check["written"], check["bytes"], "{run}");
        let path = dir.path().join(format!("run{i}.json"));
        std::fs::write(&path, out).unwrap();
        saved.push(path);
    }
    let (ok, out, err) = kvlab(
        &[
            "diff",
            saved[0].to_str().unwrap(),
            saved[1].to_str().unwrap(),
        ],
        "",
    );
    assert!(ok, "{err}");
    let row = out
        .lines()
        .find(|l| l.contains("| lsm | readrandom | ops_per_sec |"))
        .unwrap_or_else(|| panic!("{out}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    let (a, b): (f64, f64) = (cells[4].parse().unwrap(), cells[5].parse().unwrap());
    let ratio: f64 = cells[6].trim_end_matches(" *").parse().unwrap();
    assert!((ratio - b / a).abs() < 0.01, "{row}");
    let (ok, _, err) = kvlab(&["diff", saved[0].to_str().unwrap(), "/nonexistent"], "");
    assert!(!ok && err.contains("/nonexistent"), "{err}");
}

/// `--keep` keeps the stores a run builds, and says where, for `kvlab inspect`.
#[test]
fn cli_keep_leaves_the_stores_for_inspect() {
    let (ok, _, err) = kvlab(
        &[
            "bench",
            "--engine",
            "lsm",
            "--records",
            "300",
            "--phases",
            "fillseq",
            "--keep",
        ],
        "",
    );
    assert!(ok, "{err}");
    let dir = err
        .lines()
        .find_map(|l| l.strip_prefix("keeping the stores in "))
        .unwrap_or_else(|| panic!("{err}"))
        .to_string();
    let store = std::path::Path::new(&dir).join("lsm-fillseq");
    let (ok, out, err) = kvlab(&["inspect", store.to_str().unwrap()], "");
    assert!(ok && out.contains("lsm store"), "{out}{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Ctrl-C during `compare` removes its temporary stores.
#[test]
fn cli_interrupted_compare_removes_its_temporary_stores() {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kvlab"))
        .args([
            "compare",
            "--engines",
            "lsm",
            "--records",
            "3000000",
            "--phases",
            "fillrandom",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let dir = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("Stores in ")
                .map(|d| d.trim_end_matches('.').to_string())
        })
        .unwrap();
    // Let the fill get going, so that files are being written when the signal comes.
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(std::path::Path::new(&dir).exists());
    // SAFETY: kill sends a signal to the child we spawned; no memory is involved.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(!std::path::Path::new(&dir).exists(), "{dir} is left behind");
}

/// `kvlab layouts` loads the events table in both layouts, checks every answer (a wrong
/// one fails the run), and writes a JSON line per engine, layout, query and cache.
#[test]
fn cli_layouts_runs_the_matrix_and_writes_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("layouts.json");
    let (ok, out, err) = kvlab(
        &[
            "layouts",
            "--rows",
            "3000",
            "--row-group-rows",
            "512",
            "--engines",
            "mem,lsm",
            "--no-anchors",
            "--dir",
            dir.path().join("stores").to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
        "",
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("| lsm column |") && out.contains("Q4 SUM(amount)"),
        "{out}"
    );
    let text = std::fs::read_to_string(&json).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Per engine and layout: Q6, Q1-Q5 cold and warm, Q7, Q8 and Q3 again.
    assert_eq!(lines.len(), 2 * 2 * 14);
    let q4 = lines
        .iter()
        .find(|l| l["engine"] == "lsm" && l["layout"] == "column" && l["query"] == "Q4")
        .unwrap();
    // 3000 rows in groups of 512: a 1% range of ts lies in one or two of six groups.
    assert!(q4["row_groups_skipped"].as_u64().unwrap() >= 4, "{q4}");
    assert_eq!(q4["run"]["row_group_rows"], 512);
    // Saved layout lines can be compared like phase lines.
    let (ok, out, err) = kvlab(
        &["diff", json.to_str().unwrap(), json.to_str().unwrap()],
        "",
    );
    assert!(ok && out.contains("column Q3 cold"), "{out}{err}");
}

#[test]
fn this_process_counters_count_a_known_write_and_read_back_within_5_percent() {
    // On disk (the target directory), not tmpfs, so that the read-back reaches the device.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let check = kvlab::vfs::check_counters(dir.path()).unwrap();
    assert_eq!(check.bytes, kvlab::vfs::CHECK_BYTES);
    let within = |counted: u64| (counted as f64 / check.bytes as f64 - 1.0).abs() < 0.05;
    assert!(within(check.written), "{check:?}");
    assert!(within(check.read), "{check:?}");
    assert!(within(check.fetched), "{check:?}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "left a file"
    );
}
