//! Production engines behind the same trait, so that one run measures kvlab's engines
//! beside them: redb and LMDB (copy-on-write B+trees) and SQLite (a B-tree updated in
//! place behind a WAL, as kvlab's is) beside the B+tree; fjall (an LSM tree in Rust) and
//! RocksDB (the best-known LSM tree) beside the LSM tree.
//!
//! Each peer sits behind an optional cargo feature of its name (`redb`, `lmdb`, `sqlite`,
//! `fjall`, `rocksdb`; `peers` turns on the first four), so the default build compiles
//! none of them. RocksDB stays out of `peers`: its C++ takes many minutes to compile and
//! needs libclang (Debian: `libclang-dev`).
//!
//! What a peer is and is not:
//! - It is the engine as it ships, with its defaults, at the durability asked for: a
//!   `Durability::Sync` write commits with the engine's own durable commit (redb
//!   `Immediate`, LMDB's synchronous commit, SQLite `synchronous=FULL`, fjall
//!   `PersistMode::SyncData`, RocksDB `WriteOptions::set_sync(true)`).
//! - Its files are the operating system's, not the Vfs's, so a peer opens only on a file
//!   system whose paths are real ([`Vfs::is_os_fs`](crate::vfs::Vfs::is_os_fs)) and
//!   cannot be crash-tested on a `SimFs`. It claims its directory with kvlab's identity
//!   file like every engine, so opening another engine's directory as a peer (or a
//!   peer's as an engine) is an error.
//! - The Vfs cannot count a peer's I/O. RocksDB counts its own, and its
//!   [`Stats`](crate::Stats) are its statistics; the others' `Stats` hold the user
//!   counters only, and a benchmark counts their I/O by this process's system calls
//!   ([`IoSource`](crate::IoSource)).

#[cfg(any(
    feature = "redb",
    feature = "lmdb",
    feature = "sqlite",
    feature = "fjall",
    feature = "rocksdb"
))]
use crate::error::Result;
#[cfg(any(feature = "lmdb", feature = "sqlite"))]
use crate::kv::chunked::{ChunkSource, ChunkedScan, CopiedPairs};
#[cfg(any(
    feature = "redb",
    feature = "lmdb",
    feature = "sqlite",
    feature = "fjall",
    feature = "rocksdb"
))]
use common::{OrPeerError, PeerDir};

#[cfg(feature = "fjall")]
mod fjall;
#[cfg(feature = "lmdb")]
mod lmdb;
#[cfg(feature = "redb")]
mod redb;
#[cfg(feature = "rocksdb")]
mod rocksdb;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "fjall")]
pub use self::fjall::Fjall;
#[cfg(feature = "lmdb")]
pub use self::lmdb::Lmdb;
#[cfg(feature = "redb")]
pub use self::redb::Redb;
#[cfg(feature = "rocksdb")]
pub use self::rocksdb::RocksDb;
#[cfg(feature = "sqlite")]
pub use self::sqlite::Sqlite;

/// A peer driven through its own API, with no kvlab trait between: the baseline that
/// measures what an adapter costs (`kvlab adapters`). Each call does what the engine's own
/// user would write: borrowed keys and values in, borrowed values compared in place, no
/// copies the engine does not make itself. What no phase times (sync, settle, disk usage)
/// stays the trait's.
#[cfg(any(
    feature = "redb",
    feature = "lmdb",
    feature = "sqlite",
    feature = "fjall",
    feature = "rocksdb"
))]
pub trait Native: crate::kv::KvStore {
    /// Inserts every pair in one commit of the store's durability.
    fn put_all(&self, pairs: &mut dyn Iterator<Item = (&[u8], &[u8])>) -> Result<()>;

    /// Whether the value stored under `key` is `expected` (`None`: the key is absent).
    fn value_is(&self, key: &[u8], expected: Option<&[u8]>) -> Result<bool>;

    /// Walks every pair in key order on one snapshot, handing each to `visit`, and returns
    /// how many there were.
    fn scan_all(&self, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<u64>;
}

/// Opens the peer `kind` in `dir` to be driven through its own API ([`Native`]), with the
/// same settings [`open`](crate::engines::open) gives it.
#[cfg(any(
    feature = "redb",
    feature = "lmdb",
    feature = "sqlite",
    feature = "fjall",
    feature = "rocksdb"
))]
pub fn open_native(
    kind: crate::engines::EngineKind,
    dir: &std::path::Path,
    options: crate::kv::Options,
) -> Result<Box<dyn Native>> {
    use crate::engines::EngineKind;
    match kind {
        #[cfg(feature = "redb")]
        EngineKind::Redb => Ok(Box::new(Redb::open(dir, options)?)),
        #[cfg(feature = "lmdb")]
        EngineKind::Lmdb => Ok(Box::new(Lmdb::open(dir, options)?)),
        #[cfg(feature = "sqlite")]
        EngineKind::Sqlite => Ok(Box::new(Sqlite::open(dir, options)?)),
        #[cfg(feature = "fjall")]
        EngineKind::Fjall => Ok(Box::new(Fjall::open(dir, options)?)),
        #[cfg(feature = "rocksdb")]
        EngineKind::RocksDb => Ok(Box::new(RocksDb::open(dir, options)?)),
        other => Err(crate::Error::invalid(format!(
            "{other} is not a production peer: it has no native API to measure against"
        ))),
    }
}

/// What every peer shares: claiming its directory, and wrapping its errors.
#[cfg(any(
    feature = "redb",
    feature = "lmdb",
    feature = "sqlite",
    feature = "fjall",
    feature = "rocksdb"
))]
mod common {
    use std::fmt::Display;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use crate::error::{Error, Result};
    use crate::identity::{self, StoreDir};
    use crate::kv::Options;
    use crate::vfs::{self, Vfs};

    /// The version of the layout kvlab gives a peer's directory (the identity file, and the
    /// peer's own files in it); the peer's file formats are its own.
    const FORMAT: u32 = 1;

    /// A peer's directory, claimed: the path, the file system it was claimed through (to
    /// measure it), and the lock held for the store's lifetime.
    pub(super) struct PeerDir {
        dir: PathBuf,
        vfs: Arc<dyn Vfs>,
        _claim: StoreDir,
    }

    impl PeerDir {
        /// Claims `dir` for the peer `engine`: refuses a file system without real paths,
        /// another engine's directory and a foreign one, exactly as kvlab's own engines do.
        pub(super) fn claim(
            engine: &'static str,
            dir: &Path,
            options: &Options,
        ) -> Result<PeerDir> {
            if !options.vfs.is_os_fs() {
                return Err(Error::Unsupported(format!(
                    "{engine} is a production engine that does its own file I/O: it opens only on \
                     the real file system, not on a simulated one"
                )));
            }
            Ok(PeerDir {
                _claim: identity::claim(options.vfs.as_ref(), dir, engine, FORMAT)?,
                dir: dir.to_path_buf(),
                vfs: Arc::clone(&options.vfs),
            })
        }

        /// Bytes the store's files take now.
        pub(super) fn disk_usage(&self) -> Result<u64> {
            vfs::dir_size(self.vfs.as_ref(), &self.dir)
        }
    }

    /// Turns a peer's own error into [`Error::Peer`].
    pub(super) trait OrPeerError<T> {
        fn or_peer(self, engine: &'static str) -> Result<T>;
    }

    impl<T, E: Display> OrPeerError<T> for std::result::Result<T, E> {
        fn or_peer(self, engine: &'static str) -> Result<T> {
            self.map_err(|e| Error::Peer {
                engine,
                detail: e.to_string(),
            })
        }
    }
}
