//! The kit proves it can fail: a log engine that forgets one sync must be caught by the
//! crash test, and the same engine with every sync must pass every part of the kit.

mod kit;

use kit::crash::CrashConfig;
use kit::logstore::{Forget, subject};
use kvlab::Durability;

const SEEDS: std::ops::Range<u64> = 0..150;

#[test]
fn crash_test_passes_the_correct_log() {
    let summary =
        kit::crash::run(&subject(Forget::Nothing), CrashConfig::default(), SEEDS).unwrap();
    assert_eq!(summary.runs, SEEDS.count());
    // The kit exercised what it claims to: crashes inside the workload, crashes inside
    // recovery, and unacknowledged batches actually lost.
    assert!(
        summary.crashed_mid_workload > summary.runs / 2,
        "{summary:?}"
    );
    assert!(
        summary.crashed_recoveries > summary.runs / 10,
        "{summary:?}"
    );
    assert!(
        summary.lost_unacknowledged > summary.runs / 10,
        "{summary:?}"
    );
}

#[test]
fn crash_test_passes_the_correct_log_with_buffered_writes() {
    let config = CrashConfig {
        durability: Durability::Buffered,
        ..CrashConfig::default()
    };
    kit::crash::run(&subject(Forget::Nothing), config, SEEDS).unwrap();
}

#[test]
fn crash_test_catches_a_forgotten_file_sync() {
    let err = kit::crash::run(&subject(Forget::FileSync), CrashConfig::default(), SEEDS)
        .expect_err("a log that never syncs must lose acknowledged batches");
    assert!(err.contains("no prefix"), "{err}");
}

#[test]
fn crash_test_catches_a_forgotten_dir_sync() {
    let err = kit::crash::run(&subject(Forget::DirSync), CrashConfig::default(), SEEDS)
        .expect_err("a log whose name was never made durable must be lost");
    assert!(err.contains("no prefix"), "{err}");
}

#[test]
fn fault_test_passes_the_correct_log() {
    let fired = kit::faults::run(&subject(Forget::Nothing), 0..200).unwrap();
    assert!(fired > 100, "only {fired} of 200 runs saw their fault fire");
}

#[test]
fn fault_test_catches_an_ignored_sync_error() {
    let err = kit::faults::run(&subject(Forget::SyncError), 0..200)
        .expect_err("a log that acknowledges a batch whose sync failed must be caught");
    assert!(err.contains("Sync"), "{err}");
}

#[test]
fn model_test_on_the_log() {
    kit::model::run(
        &subject(Forget::Nothing),
        kit::model::ModelConfig::default(),
    );
}

#[test]
fn bad_input_on_the_log() {
    kit::limits::run(&subject(Forget::Nothing));
}

#[test]
fn foreign_directories_on_the_log() {
    kit::foreign::run(&subject(Forget::Nothing));
}

#[test]
fn readers_see_whole_batches_on_the_log() {
    kit::concurrent::run(&subject(Forget::Nothing), 500);
}
