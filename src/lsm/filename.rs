//! The names of an LSM store's files: `NNNNNN.log` (a WAL), `NNNNNN.sst` (a table),
//! `MANIFEST-NNNNNN`, and `CURRENT`, which names the live manifest.

use std::path::{Path, PathBuf};

pub(super) const CURRENT: &str = "CURRENT";

/// The name of WAL `number` in `dir`.
pub fn wal_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.log"))
}

pub(super) fn manifest_name(number: u64) -> String {
    format!("MANIFEST-{number:06}")
}

/// The number in a file name of this engine, and what kind of file it is.
pub(super) fn parse_name(name: &str) -> Option<(u64, &'static str)> {
    if let Some(n) = name.strip_suffix(".log") {
        return n.parse().ok().map(|n| (n, "log"));
    }
    if let Some(n) = name.strip_suffix(".sst") {
        return n.parse().ok().map(|n| (n, "sst"));
    }
    name.strip_prefix("MANIFEST-")
        .and_then(|n| n.parse().ok())
        .map(|n| (n, "manifest"))
}

/// The WAL files in `dir`, by number, oldest first.
pub fn wal_numbers(names: &[String]) -> Vec<u64> {
    let mut wals: Vec<u64> = names
        .iter()
        .filter_map(|n| parse_name(n))
        .filter(|&(_, kind)| kind == "log")
        .map(|(n, _)| n)
        .collect();
    wals.sort_unstable();
    wals
}
