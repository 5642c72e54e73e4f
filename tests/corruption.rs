//! The corruption sweep (`kvlab::crashtest::corrupt`) on both engines: every byte of every
//! file of a small closed store flipped in turn, each file truncated at random lengths and
//! removed; each case ends in the right data or a clear error.

use kvlab::EngineKind;
use kvlab::crashtest::corrupt::{Positions, sweep};

fn sweep_every_byte(engine: EngineKind) {
    let report = sweep(engine, 60, Positions::Every, 1).unwrap_or_else(|f| panic!("{f}"));
    for (what, per_kind) in [
        ("flips", &report.flips),
        ("truncations", &report.truncations),
        ("removals", &report.removals),
    ] {
        for (kind, o) in per_kind {
            eprintln!("{engine} {what} of {kind}: {o:?}");
        }
    }
    let flips: u64 = report.flips.values().map(|o| o.cases).sum();
    let caught: u64 = report
        .flips
        .values()
        .map(|o| o.caught_at_open + o.caught_at_read + o.caught_by_check)
        .sum();
    assert!(flips > 10_000, "{flips} flips");
    // Most bytes of a settled store are data a reader needs: most flips are caught.
    assert!(caught * 2 > flips, "{caught} of {flips} flips caught");
}

#[test]
fn every_flipped_byte_of_a_small_lsm_store_is_caught_or_harmless() {
    sweep_every_byte(EngineKind::Lsm);
}

#[test]
fn every_flipped_byte_of_a_small_btree_store_is_caught_or_harmless() {
    sweep_every_byte(EngineKind::BTree);
}

/// The sweep of a larger store (2,000 batches: tens of tables, thousands of pages) at
/// 10,000 random positions per file. By hand:
/// `cargo test --release --test corruption -- --ignored --nocapture`.
#[test]
#[ignore = "minutes; run by hand"]
fn ten_thousand_random_flips_per_file_of_a_larger_store() {
    for engine in [EngineKind::Lsm, EngineKind::BTree] {
        let report =
            sweep(engine, 2000, Positions::Random(10_000), 2).unwrap_or_else(|f| panic!("{f}"));
        for (kind, o) in &report.flips {
            eprintln!("{engine} flips of {kind}: {o:?}");
        }
    }
}
