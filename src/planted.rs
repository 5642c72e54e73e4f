//! Planted bugs: deliberate defects that prove the crash, fuzz and corruption suites
//! find what they exist to find. Each is a site in an engine guarded by
//! `planted("name")`, which is `false` in every build unless the crate is compiled with
//! `--cfg kvlab_planted` (`RUSTFLAGS='--cfg kvlab_planted'`) *and* the process runs with
//! `KVLAB_PLANT=name`. No normal build can reach them: there the function is a constant.
//!
//! The bugs (`fuzz/planted-bugs` runs the suites against each and times the catch):
//!
//! - `lsm_wal_sync`: an LSM commit with `Durability::Sync` returns without syncing its WAL.
//! - `lsm_dir_sync`: the LSM names new tables in the manifest without first syncing the
//!   directory that holds their names.
//! - `lsm_table_sync`: a flushed or compacted table is named in the manifest before (here:
//!   without) its bytes are synced.
//! - `lsm_block_checksum`: a table block is used without its checksum checked.
//! - `btree_wal_sync`: the B+tree's WAL is never synced.

/// Whether the bug `name` is planted in this process.
#[cfg(kvlab_planted)]
pub(crate) fn planted(name: &str) -> bool {
    std::env::var("KVLAB_PLANT").is_ok_and(|v| v == name)
}

/// Whether the bug `name` is planted in this process: never, in this build.
#[cfg(not(kvlab_planted))]
#[inline(always)]
pub(crate) const fn planted(_name: &str) -> bool {
    false
}
