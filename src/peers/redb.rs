//! [`Redb`] ("redb"): redb, a copy-on-write B+tree in Rust, behind the trait.
//!
//! The store is one redb file, `data.redb`, with one table of byte keys and byte values.
//! A batch is one write transaction; a get or a scan is one read transaction, so a scan
//! walks the snapshot it started on while writers commit. redb's page cache is left at its
//! default size.

use std::ops::Bound;
use std::path::Path;

use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Native, OrPeerError, PeerDir};
use crate::error::Result;
use crate::kv::{BatchOp, Durability, KeyRange, KvStore, Options, ScanIter, Stats, WriteBatch};

const NAME: &str = "redb";
const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");

/// redb as a peer.
pub struct Redb {
    db: Database,
    durability: Durability,
    /// The claimed directory (its lock held while the store is open).
    home: PeerDir,
}

impl Redb {
    /// Opens (creating if `dir` is missing or empty) a redb store in `dir`.
    pub fn open(dir: &Path, options: Options) -> Result<Redb> {
        let home = PeerDir::claim(NAME, dir, &options)?;
        let db = Database::create(dir.join("data.redb")).or_peer(NAME)?;
        let store = Redb {
            db,
            durability: options.durability,
            home,
        };
        // Create the table once, so that readers never find it missing.
        store.commit(|_| Ok(()), redb::Durability::Immediate)?;
        Ok(store)
    }

    /// Runs `apply` on the table in one write transaction and commits it.
    fn commit(
        &self,
        apply: impl FnOnce(&mut redb::Table<&[u8], &[u8]>) -> Result<()>,
        durability: redb::Durability,
    ) -> Result<()> {
        let mut txn = self.db.begin_write().or_peer(NAME)?;
        txn.set_durability(durability).or_peer(NAME)?;
        {
            let mut table = txn.open_table(TABLE).or_peer(NAME)?;
            apply(&mut table)?;
        }
        txn.commit().or_peer(NAME)
    }

    /// The durability of a commit of a batch.
    fn commit_durability(&self) -> redb::Durability {
        match self.durability {
            Durability::Sync => redb::Durability::Immediate,
            Durability::Buffered => redb::Durability::None,
        }
    }

    fn read_table(&self) -> Result<redb::ReadOnlyTable<&'static [u8], &'static [u8]>> {
        let txn = self.db.begin_read().or_peer(NAME)?;
        txn.open_table(TABLE).or_peer(NAME)
    }
}

impl KvStore for Redb {
    fn name(&self) -> &str {
        NAME
    }

    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let table = self.read_table()?;
        let value = table.get(key).or_peer(NAME)?;
        Ok(value.map(|v| Bytes::copy_from_slice(v.value())))
    }

    fn write(&self, batch: &WriteBatch) -> Result<()> {
        self.commit(
            |table| {
                for op in batch.iter() {
                    match op {
                        BatchOp::Put { key, value } => {
                            table.insert(key, value).or_peer(NAME)?;
                        }
                        BatchOp::Delete { key } => {
                            table.remove(key).or_peer(NAME)?;
                        }
                    }
                }
                Ok(())
            },
            self.commit_durability(),
        )
    }

    fn scan(&self, range: KeyRange) -> Result<ScanIter<'_>> {
        if range.is_empty() {
            return Ok(Box::new(std::iter::empty()));
        }
        let (start, end) = range.as_slices();
        let bounds: (Bound<&[u8]>, Bound<&[u8]>) = (start, end);
        // The range holds its read transaction: the scan's snapshot.
        let pairs = self.read_table()?.range::<&[u8]>(bounds).or_peer(NAME)?;
        // redb lends each pair through guards: copied. (Copying a chunk of pairs into one
        // buffer, as the LMDB and SQLite scans do, measured slower here.)
        Ok(Box::new(pairs.map(|pair| {
            let (k, v) = pair.or_peer(NAME)?;
            Ok((
                Bytes::copy_from_slice(k.value()),
                Bytes::copy_from_slice(v.value()),
            ))
        })))
    }

    fn sync(&self) -> Result<()> {
        // An empty durable commit makes every earlier non-durable one durable.
        self.commit(|_| Ok(()), redb::Durability::Immediate)
    }

    fn settle(&self) -> Result<()> {
        // redb does no background work.
        Ok(())
    }

    fn stats(&self) -> Stats {
        Stats::default()
    }

    fn disk_usage(&self) -> Result<u64> {
        self.home.disk_usage()
    }
}

impl Native for Redb {
    fn put_all(&self, pairs: &mut dyn Iterator<Item = (&[u8], &[u8])>) -> Result<()> {
        self.commit(
            |table| {
                for (key, value) in pairs {
                    table.insert(key, value).or_peer(NAME)?;
                }
                Ok(())
            },
            self.commit_durability(),
        )
    }

    fn value_is(&self, key: &[u8], expected: Option<&[u8]>) -> Result<bool> {
        let table = self.read_table()?;
        let value = table.get(key).or_peer(NAME)?;
        Ok(value.as_ref().map(|v| v.value()) == expected)
    }

    fn scan_all(&self, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<u64> {
        let table = self.read_table()?;
        let mut count = 0;
        for pair in table.iter().or_peer(NAME)? {
            let (key, value) = pair.or_peer(NAME)?;
            visit(key.value(), value.value());
            count += 1;
        }
        Ok(count)
    }
}
