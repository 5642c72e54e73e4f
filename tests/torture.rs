//! Process kills through the trait (`kvlab torture`): a writer process is SIGKILLed 20
//! times per engine at random moments; after each kill every acknowledged batch must be
//! there, the state a prefix of the batches issued, and the integrity checker happy.
//! Small memtables and WAL limits make the kills land in flushes, compactions and
//! checkpoints too.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use kvlab::EngineKind;
use kvlab::crashtest::{TortureConfig, run_torture};

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kvlab"))
}

fn torture(engine: EngineKind, knobs: &[&str]) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = TortureConfig {
        engine,
        dir: dir.path().join("store"),
        kills: 20,
        max_wait: Duration::from_millis(400),
        seed: 7,
        knobs: knobs.iter().map(|k| k.to_string()).collect(),
        exe: exe(),
    };
    let report = run_torture(&config, &mut |_| {}).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(report.kills, 20);
    assert_eq!(report.lost, 0);
    assert!(report.acknowledged > 100, "{report:?}");
}

#[test]
fn twenty_kills_of_an_lsm_writer_lose_nothing_acknowledged() {
    torture(
        EngineKind::Lsm,
        &["lsm.memtable_size=256KiB", "lsm.target_file_size=128KiB"],
    );
}

#[test]
fn twenty_kills_of_a_btree_writer_lose_nothing_acknowledged() {
    torture(
        EngineKind::BTree,
        &["btree.wal_limit=1MiB", "btree.dirty_limit=512KiB"],
    );
}

#[test]
fn the_torture_command_prints_its_summary() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = Command::new(exe())
        .args([
            "torture",
            "--engine",
            "lsm",
            "--kills",
            "3",
            "--max-wait-ms",
            "50",
        ])
        .arg("--dir")
        .arg(dir.path())
        .output()
        .expect("kvlab runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("torture lsm: 3 kills,") && stdout.contains(" 0 lost"),
        "{stdout}"
    );
    // mem keeps nothing across a reopen: there is nothing to torture.
    let mem = Command::new(exe())
        .args(["torture", "--engine", "mem", "--kills", "1"])
        .output()
        .expect("kvlab runs");
    assert!(!mem.status.success());
    assert!(String::from_utf8_lossy(&mem.stderr).contains("keeps nothing"));
    // A second run refuses the store the first one left.
    let again = Command::new(exe())
        .args(["torture", "--engine", "lsm", "--kills", "1"])
        .arg("--dir")
        .arg(dir.path())
        .output()
        .expect("kvlab runs");
    assert!(!again.status.success());
}
