//! [`Lmdb`] ("lmdb"): LMDB, the copy-on-write B+tree read through a memory map, behind
//! the trait (through the `heed` bindings).
//!
//! The store is one LMDB environment in the subdirectory `lmdb/`, with its unnamed
//! database of byte keys and byte values. A batch is one write transaction; a get is one
//! read transaction; a scan holds one read transaction (its snapshot) for its whole life.
//! The map is sized far beyond any benchmark (it is address space, not memory).
//! `Durability::Buffered` opens the environment with `MDB_NOSYNC` and makes `sync()` an
//! `mdb_env_sync`.

use std::collections::VecDeque;
use std::ops::Bound;
use std::path::Path;

use bytes::Bytes;
use heed::types::Bytes as Raw;
use heed::{Database, Env, EnvFlags, EnvOpenOptions, RoTxn, WithoutTls};

use super::{ChunkSource, ChunkedScan, CopiedPairs, Native, OrPeerError, PeerDir};
use crate::error::{Error, Result};
use crate::kv::{BatchOp, Durability, KeyRange, KvStore, Options, ScanIter, Stats, WriteBatch};

const NAME: &str = "lmdb";

/// The map's size: the most the environment can ever hold.
const MAP_SIZE: usize = 1 << 40;

/// LMDB as a peer.
pub struct Lmdb {
    env: Env<WithoutTls>,
    db: Database<Raw, Raw>,
    /// The claimed directory (its lock held while the store is open).
    home: PeerDir,
}

impl Lmdb {
    /// Opens (creating if `dir` is missing or empty) an LMDB store in `dir`.
    pub fn open(dir: &Path, options: Options) -> Result<Lmdb> {
        let home = PeerDir::claim(NAME, dir, &options)?;
        let env_dir = dir.join("lmdb");
        std::fs::create_dir_all(&env_dir).map_err(|e| Error::io("mkdir", &env_dir, e))?;
        let mut open = EnvOpenOptions::new().read_txn_without_tls();
        open.map_size(MAP_SIZE).max_dbs(1);
        if options.durability == Durability::Buffered {
            // SAFETY: NOSYNC only delays durability to `sync()`, which is the contract of
            // Buffered; the environment stays consistent after a crash (LMDB's own docs).
            unsafe { open.flags(EnvFlags::NO_SYNC) };
        }
        // SAFETY: the directory is ours (claimed above, under its lock), so no other
        // process maps or truncates these files while the environment is open.
        let env = unsafe { open.open(&env_dir) }.or_peer(NAME)?;
        let mut txn = env.write_txn().or_peer(NAME)?;
        let db = env.create_database(&mut txn, None).or_peer(NAME)?;
        txn.commit().or_peer(NAME)?;
        Ok(Lmdb { env, db, home })
    }
}

/// A scan's snapshot: its own read transaction.
struct Snapshot {
    txn: RoTxn<'static, WithoutTls>,
    db: Database<Raw, Raw>,
    copied: CopiedPairs,
}

impl ChunkSource for Snapshot {
    fn fetch(
        &mut self,
        from: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
        out: &mut VecDeque<(Bytes, Bytes)>,
    ) -> Result<()> {
        // The pairs live in the map only while the transaction does: copied, a chunk
        // into one buffer.
        let pairs = self.db.range(&self.txn, &(from, end)).or_peer(NAME)?;
        for pair in pairs.take(limit) {
            let (k, v) = pair.or_peer(NAME)?;
            self.copied.push(k, v);
        }
        self.copied.hand_out(out);
        Ok(())
    }
}

impl KvStore for Lmdb {
    fn name(&self) -> &str {
        NAME
    }

    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let txn = self.env.read_txn().or_peer(NAME)?;
        let value = self.db.get(&txn, key).or_peer(NAME)?;
        Ok(value.map(Bytes::copy_from_slice))
    }

    fn write(&self, batch: &WriteBatch) -> Result<()> {
        let mut txn = self.env.write_txn().or_peer(NAME)?;
        for op in batch.iter() {
            match op {
                BatchOp::Put { key, value } => self.db.put(&mut txn, key, value).or_peer(NAME)?,
                BatchOp::Delete { key } => {
                    self.db.delete(&mut txn, key).or_peer(NAME)?;
                }
            }
        }
        txn.commit().or_peer(NAME)
    }

    fn scan(&self, range: KeyRange) -> Result<ScanIter<'_>> {
        if range.is_empty() {
            return Ok(Box::new(std::iter::empty()));
        }
        let txn = self.env.clone().static_read_txn().or_peer(NAME)?;
        let snapshot = Snapshot {
            txn,
            db: self.db,
            copied: CopiedPairs::default(),
        };
        Ok(Box::new(ChunkedScan::new(snapshot, range)))
    }

    fn sync(&self) -> Result<()> {
        self.env.force_sync().or_peer(NAME)
    }

    fn settle(&self) -> Result<()> {
        // LMDB does no background work.
        Ok(())
    }

    fn stats(&self) -> Stats {
        Stats::default()
    }

    fn disk_usage(&self) -> Result<u64> {
        self.home.disk_usage()
    }
}

impl Native for Lmdb {
    fn put_all(&self, pairs: &mut dyn Iterator<Item = (&[u8], &[u8])>) -> Result<()> {
        let mut txn = self.env.write_txn().or_peer(NAME)?;
        for (key, value) in pairs {
            self.db.put(&mut txn, key, value).or_peer(NAME)?;
        }
        txn.commit().or_peer(NAME)
    }

    fn value_is(&self, key: &[u8], expected: Option<&[u8]>) -> Result<bool> {
        let txn = self.env.read_txn().or_peer(NAME)?;
        Ok(self.db.get(&txn, key).or_peer(NAME)? == expected)
    }

    fn scan_all(&self, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<u64> {
        let txn = self.env.read_txn().or_peer(NAME)?;
        let mut count = 0;
        for pair in self.db.iter(&txn).or_peer(NAME)? {
            let (key, value) = pair.or_peer(NAME)?;
            visit(key, value);
            count += 1;
        }
        Ok(count)
    }
}
