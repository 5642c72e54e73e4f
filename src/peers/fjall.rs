//! [`Fjall`] ("fjall"): fjall, an LSM tree in Rust, behind the trait.
//!
//! The store is one fjall database in the subdirectory `fjall/` with one keyspace. A batch
//! is one fjall write batch, committed with `PersistMode::SyncData` under
//! `Durability::Sync`; a scan iterates a snapshot taken when it starts. Everything else
//! (memtable size, block cache, compaction, compression) is fjall's default. `settle()`
//! flushes the memtable and waits until fjall has no flush and no compaction running.

use std::ops::Bound;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode, Readable};

use super::{Native, OrPeerError, PeerDir};
use crate::error::{Error, Result};
use crate::kv::{BatchOp, Durability, KeyRange, KvStore, Options, ScanIter, Stats, WriteBatch};

const NAME: &str = "fjall";

/// The longest `settle()` waits for fjall's flushes and compactions.
const SETTLE_LIMIT: Duration = Duration::from_secs(600);

/// fjall as a peer.
pub struct Fjall {
    db: Database,
    keyspace: Keyspace,
    durability: Durability,
    /// The claimed directory (its lock held while the store is open).
    home: PeerDir,
}

impl Fjall {
    /// Opens (creating if `dir` is missing or empty) a fjall store in `dir`.
    pub fn open(dir: &Path, options: Options) -> Result<Fjall> {
        let home = PeerDir::claim(NAME, dir, &options)?;
        let db = Database::builder(dir.join("fjall")).open().or_peer(NAME)?;
        let keyspace = db
            .keyspace("kv", KeyspaceCreateOptions::default)
            .or_peer(NAME)?;
        Ok(Fjall {
            db,
            keyspace,
            durability: options.durability,
            home,
        })
    }
}

impl Fjall {
    /// How a commit of a batch is persisted.
    fn persist_mode(&self) -> Option<PersistMode> {
        match self.durability {
            Durability::Sync => Some(PersistMode::SyncData),
            Durability::Buffered => None,
        }
    }
}

impl KvStore for Fjall {
    fn name(&self) -> &str {
        NAME
    }

    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let value = self.keyspace.get(key).or_peer(NAME)?;
        Ok(value.map(|v| Bytes::copy_from_slice(&v)))
    }

    fn write(&self, batch: &WriteBatch) -> Result<()> {
        let mut commit = self.db.batch().durability(self.persist_mode());
        for op in batch.iter() {
            match op {
                BatchOp::Put { key, value } => commit.insert(&self.keyspace, key, value),
                BatchOp::Delete { key } => commit.remove(&self.keyspace, key),
            }
        }
        commit.commit().or_peer(NAME)
    }

    fn scan(&self, range: KeyRange) -> Result<ScanIter<'_>> {
        if range.is_empty() {
            return Ok(Box::new(std::iter::empty()));
        }
        let (start, end): (Bound<&[u8]>, Bound<&[u8]>) = range.as_slices();
        let pairs = self
            .db
            .snapshot()
            .range::<&[u8], _>(&self.keyspace, (start, end));
        // fjall's own byte views are not `Bytes`: copied.
        Ok(Box::new(pairs.map(|guard| {
            let (k, v) = guard.into_inner().or_peer(NAME)?;
            Ok((Bytes::copy_from_slice(&k), Bytes::copy_from_slice(&v)))
        })))
    }

    fn sync(&self) -> Result<()> {
        self.db.persist(PersistMode::SyncData).or_peer(NAME)
    }

    fn settle(&self) -> Result<()> {
        self.db.persist(PersistMode::SyncData).or_peer(NAME)?;
        // Flush the memtable into a table and wait for it, as every LSM's settle does:
        // without it, a flush fjall starts on its own lands in whichever phase comes
        // next. (fjall's own tests use this call; its docs hide it.)
        self.keyspace.rotate_memtable_and_wait().or_peer(NAME)?;
        // fjall offers no wait for compactions; poll until its background work is done,
        // or give up (a stuck worker would otherwise hang the caller).
        let started = Instant::now();
        while self.db.outstanding_flushes() > 0 || self.db.active_compactions() > 0 {
            if started.elapsed() > SETTLE_LIMIT {
                return Err(Error::Peer {
                    engine: NAME,
                    detail: format!("background work still running after {SETTLE_LIMIT:?}"),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    fn stats(&self) -> Stats {
        Stats::default()
    }

    fn disk_usage(&self) -> Result<u64> {
        self.home.disk_usage()
    }
}

impl Native for Fjall {
    fn put_all(&self, pairs: &mut dyn Iterator<Item = (&[u8], &[u8])>) -> Result<()> {
        let mut commit = self.db.batch().durability(self.persist_mode());
        for (key, value) in pairs {
            commit.insert(&self.keyspace, key, value);
        }
        commit.commit().or_peer(NAME)
    }

    fn value_is(&self, key: &[u8], expected: Option<&[u8]>) -> Result<bool> {
        let value = self.keyspace.get(key).or_peer(NAME)?;
        Ok(value.as_deref() == expected)
    }

    fn scan_all(&self, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<u64> {
        let mut count = 0;
        for guard in self.db.snapshot().iter(&self.keyspace) {
            let (key, value) = guard.into_inner().or_peer(NAME)?;
            visit(&key, &value);
            count += 1;
        }
        Ok(count)
    }
}
