//! The names of a B+tree store's files, and its format version.

use super::wal;

/// The on-disk format version of the B+tree's files.
pub const FORMAT: u32 = 3;
/// The database file's name.
pub const DB_FILE: &str = "btree.db";
/// The WAL files' names: cycle `c` is written in `WAL_FILES[c % 2]`.
pub const WAL_FILES: [&str; 2] = ["btree.wal.0", "btree.wal.1"];

/// The WAL file of cycle `cycle`.
pub fn wal_file(cycle: u64) -> &'static str {
    WAL_FILES[wal::file_of(cycle)]
}
