//! The fuzz targets of `fuzz/`, run as plain tests through the same functions
//! (`kvlab::crashtest::Target::run`):
//!
//! - every committed corpus input (`fuzz/corpus/TARGET/`) and every input that once found a
//!   bug (`fuzz/regressions/TARGET/`, each named after the bug) is replayed;
//! - a bounded random run of each target, from a fixed seed, so that CI exercises every
//!   target beyond its corpus.
//!
//! `cargo test --test fuzz_replay -- --ignored write_seed_corpus` writes the decoder
//! targets' seed corpus from a small store of each engine.

use std::fs;
use std::path::{Path, PathBuf};

use kvlab::crashtest::{RunSummary, Target, decode};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `dir`, sorted (none if it does not exist).
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.expect("a readable corpus directory").path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

fn replay(target: Target, kind: &str) -> usize {
    let dir = fuzz_dir().join(kind).join(target.name());
    let files = inputs(&dir);
    for file in &files {
        let bytes = match fs::read(file) {
            Ok(bytes) => bytes,
            // A fuzzer running meanwhile may have reduced the corpus away under us.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("{}: {e}", file.display()),
        };
        if let Err(finding) = target.run(&bytes) {
            panic!("{} on {}: {finding}", target.name(), file.display());
        }
    }
    files.len()
}

#[test]
fn every_target_has_a_committed_corpus_and_passes_it() {
    for target in Target::ALL {
        let n = replay(target, "corpus");
        assert!(
            n >= 4,
            "{}: {n} corpus inputs, want at least 4",
            target.name()
        );
    }
}

#[test]
fn every_input_that_found_a_bug_still_passes() {
    for target in Target::ALL {
        replay(target, "regressions");
    }
}

/// Random inputs per target: the decoders are fast, the crash runs are not.
fn random_inputs(target: Target) -> usize {
    match target {
        Target::CrashLsm | Target::CrashBtree | Target::IoErrors => 3000,
        Target::Differential => 2000,
        _ => 20_000,
    }
}

#[test]
fn a_bounded_random_run_of_every_target_finds_nothing() {
    for target in Target::ALL {
        let mut rng = ChaCha8Rng::seed_from_u64(0x006b_766c_6162);
        let mut total = RunSummary::default();
        for i in 0..random_inputs(target) {
            let mut bytes = vec![0u8; rng.random_range(0..2048)];
            rng.fill_bytes(&mut bytes);
            match target.run(&bytes) {
                Ok(summary) => total = total.plus(&summary),
                Err(finding) => panic!("{} on random input {i}: {finding}", target.name()),
            }
        }
        if matches!(target, Target::CrashLsm | Target::CrashBtree) {
            assert!(
                total.crashes > 0 && total.acknowledged > 0,
                "{}: {total:?}",
                target.name()
            );
        }
        eprintln!("{}: {total:?}", target.name());
    }
}

#[test]
fn damaged_seed_files_decode_to_ok_or_corruption() {
    // The seeds whole, then with a byte flipped at a few places each.
    let seeds = decode::seeds().expect("seed stores");
    assert!(
        Target::ALL
            .iter()
            .filter(|t| t.is_decoder())
            .all(|t| seeds.iter().any(|(s, _)| s == t))
    );
    for (target, bytes) in &seeds {
        target
            .run(bytes)
            .unwrap_or_else(|f| panic!("{}: {f}", target.name()));
        for at in (8..bytes.len()).step_by(bytes.len() / 16 + 1) {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x5a;
            target
                .run(&damaged)
                .unwrap_or_else(|f| panic!("{} with byte {at} flipped: {f}", target.name()));
        }
    }
}

/// Writes the seed corpus of every target: the decoders' from real files, the others
/// from random bytes (any bytes make a plan).
#[test]
#[ignore = "writes fuzz/corpus; run by hand"]
fn write_seed_corpus() {
    let mut counts = std::collections::HashMap::new();
    let mut write = |target: Target, bytes: &[u8]| {
        let n = counts.entry(target.name()).or_insert(0);
        *n += 1;
        let dir = fuzz_dir().join("corpus").join(target.name());
        fs::create_dir_all(&dir).expect("corpus directory");
        fs::write(dir.join(format!("seed-{n:02}")), bytes).expect("corpus file");
    };
    for (target, bytes) in decode::seeds().expect("seed stores") {
        write(target, &bytes);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for target in Target::ALL.into_iter().filter(|t| !t.is_decoder()) {
        for _ in 0..8 {
            let mut bytes = vec![0u8; rng.random_range(256..1024)];
            rng.fill_bytes(&mut bytes);
            write(target, &bytes);
        }
    }
}
