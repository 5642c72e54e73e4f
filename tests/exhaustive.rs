//! Exhaustive small workloads (`kvlab::crashtest::exhaustive`): the power fails after every
//! mutating Vfs call of each workload, and every crash outcome within the stated bound is
//! recovered and checked, on both engines.

use kvlab::EngineKind;
use kvlab::crashtest::run_exhaustive;

fn exhaustive(engine: EngineKind) {
    let report = run_exhaustive(engine).unwrap_or_else(|f| panic!("{f}"));
    eprintln!("{engine}: {report:?}");
    // Each workload runs with Durability::Sync and with Buffered.
    assert_eq!(
        report.workloads as usize,
        2 * kvlab::crashtest::exhaustive::workloads().len()
    );
    // The workloads cross enough calls and leave enough pending writes to matter.
    assert!(report.crash_points >= 100, "{report:?}");
    assert!(report.outcomes >= 5 * report.crash_points, "{report:?}");
    // Enumerated, not sampled: no crash point had more outcomes than the bound.
    assert_eq!(report.capped_points, 0, "{report:?}");
}

#[test]
fn every_crash_point_and_outcome_of_the_small_workloads_recovers_lsm() {
    exhaustive(EngineKind::Lsm);
}

#[test]
fn every_crash_point_and_outcome_of_the_small_workloads_recovers_btree() {
    exhaustive(EngineKind::BTree);
}
