//! [`RocksDb`] ("rocksdb"): RocksDB, the production LSM tree, behind the trait.
//!
//! The store is one RocksDB database in the subdirectory `rocksdb/`, default column family.
//! A batch is one RocksDB write batch, written with `WriteOptions::set_sync(true)` under
//! `Durability::Sync`; a scan iterates an iterator, which reads one implicit snapshot.
//! Everything is RocksDB's default except what a fair comparison needs: its block cache is
//! 8 MiB (the size of the LSM tree's), and it compresses nothing (neither does kvlab).
//! `settle()` flushes the memtable and waits until no compaction is running or due.
//!
//! RocksDB counts its own I/O, so its [`Stats`] are its statistics, not guesses:
//!
//! | `Stats` field | RocksDB tickers |
//! | --- | --- |
//! | `disk_bytes_written` | `rocksdb.wal.bytes` + `rocksdb.flush.write.bytes` + `rocksdb.compact.write.bytes` |
//! | `disk_bytes_read` | `rocksdb.compact.read.bytes` + `rocksdb.last.level.read.bytes` + `rocksdb.non.last.level.read.bytes` |
//! | `disk_reads` | `rocksdb.last.level.read.count` + `rocksdb.non.last.level.read.count` |
//! | `syncs` | `rocksdb.wal.synced` |
//!
//! The two level tickers count the bytes of every block a read fetched from a table file
//! (a block cache hit reads nothing), as the LSM tree's Vfs counts its block reads.

use std::ops::Bound;
use std::path::Path;

use bytes::Bytes;
use rocksdb::statistics::Ticker;
use rocksdb::{
    BlockBasedOptions, Cache, DB, DBCompressionType, Direction, IteratorMode, ReadOptions,
    WaitForCompactOptions, WriteOptions,
};

use super::{Native, OrPeerError, PeerDir};
use crate::error::Result;
use crate::kv::{BatchOp, Durability, KeyRange, KvStore, Options, ScanIter, Stats, WriteBatch};
use crate::vfs::FileKind;

const NAME: &str = "rocksdb";

/// RocksDB's block cache: the LSM tree's default, so both read through the same budget.
const BLOCK_CACHE: usize = 8 << 20;

/// RocksDB as a peer.
pub struct RocksDb {
    db: DB,
    /// The options the database was opened with: they own its statistics.
    options: rocksdb::Options,
    durability: Durability,
    /// The claimed directory (its lock held while the store is open).
    home: PeerDir,
}

impl RocksDb {
    /// Opens (creating if `dir` is missing or empty) a RocksDB store in `dir`.
    pub fn open(dir: &Path, options: Options) -> Result<RocksDb> {
        let home = PeerDir::claim(NAME, dir, &options)?;
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&Cache::new_lru_cache(BLOCK_CACHE));
        let mut db_options = rocksdb::Options::default();
        db_options.create_if_missing(true);
        db_options.set_compression_type(DBCompressionType::None);
        db_options.set_bottommost_compression_type(DBCompressionType::None);
        db_options.set_block_based_table_factory(&table);
        db_options.enable_statistics();
        let db = DB::open(&db_options, dir.join("rocksdb")).or_peer(NAME)?;
        Ok(RocksDb {
            db,
            options: db_options,
            durability: options.durability,
            home,
        })
    }

    fn write_options(&self) -> WriteOptions {
        let mut write = WriteOptions::default();
        write.set_sync(self.durability == Durability::Sync);
        write
    }

    fn ticker(&self, ticker: Ticker) -> u64 {
        self.options.get_ticker_count(ticker)
    }
}

/// The exclusive upper bound that stands for `end`: an included key's successor is the
/// key with a zero byte appended.
fn upper_bound(end: Bound<&[u8]>) -> Option<Vec<u8>> {
    match end {
        Bound::Included(key) => Some([key, &[0]].concat()),
        Bound::Excluded(key) => Some(key.to_vec()),
        Bound::Unbounded => None,
    }
}

impl KvStore for RocksDb {
    fn name(&self) -> &str {
        NAME
    }

    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let value = self.db.get_pinned(key).or_peer(NAME)?;
        Ok(value.map(|v| Bytes::copy_from_slice(&v)))
    }

    fn write(&self, batch: &WriteBatch) -> Result<()> {
        let mut commit = rocksdb::WriteBatch::default();
        for op in batch.iter() {
            match op {
                BatchOp::Put { key, value } => commit.put(key, value),
                BatchOp::Delete { key } => commit.delete(key),
            }
        }
        self.db
            .write_opt(commit, &self.write_options())
            .or_peer(NAME)
    }

    fn scan(&self, range: KeyRange) -> Result<ScanIter<'_>> {
        if range.is_empty() {
            return Ok(Box::new(std::iter::empty()));
        }
        let (start, end) = range.as_slices();
        let mut read = ReadOptions::default();
        if let Some(bound) = upper_bound(end) {
            read.set_iterate_upper_bound(bound);
        }
        let (mode, skip) = match start {
            Bound::Included(key) => (IteratorMode::From(key, Direction::Forward), None),
            Bound::Excluded(key) => (
                IteratorMode::From(key, Direction::Forward),
                Some(key.to_vec()),
            ),
            Bound::Unbounded => (IteratorMode::Start, None),
        };
        let pairs = self.db.iterator_opt(mode, read);
        // The iterator hands out owned boxes: they become `Bytes` without a copy.
        Ok(Box::new(
            pairs
                .skip_while(move |pair| match (pair, &skip) {
                    (Ok((key, _)), Some(excluded)) => key.as_ref() == excluded.as_slice(),
                    _ => false,
                })
                .map(|pair| {
                    let (key, value) = pair.or_peer(NAME)?;
                    Ok((Bytes::from(key), Bytes::from(value)))
                }),
        ))
    }

    fn sync(&self) -> Result<()> {
        self.db.flush_wal(true).or_peer(NAME)
    }

    fn settle(&self) -> Result<()> {
        self.db.flush_wal(true).or_peer(NAME)?;
        self.db.flush().or_peer(NAME)?;
        let mut wait = WaitForCompactOptions::default();
        wait.set_flush(true);
        self.db.wait_for_compact(&wait).or_peer(NAME)
    }

    fn stats(&self) -> Stats {
        let wal_written = self.ticker(Ticker::WalFileBytes);
        let tables_written =
            self.ticker(Ticker::FlushWriteBytes) + self.ticker(Ticker::CompactWriteBytes);
        let tables_read = self.ticker(Ticker::CompactReadBytes)
            + self.ticker(Ticker::LastLevelReadBytes)
            + self.ticker(Ticker::NonLastLevelReadBytes);
        let reads =
            self.ticker(Ticker::LastLevelReadCount) + self.ticker(Ticker::NonLastLevelReadCount);
        let syncs = self.ticker(Ticker::WalFileSynced);
        let mut stats = Stats {
            disk_bytes_written: wal_written + tables_written,
            disk_bytes_read: tables_read,
            disk_reads: reads,
            syncs,
            ..Stats::default()
        };
        for (slot, kind) in stats.by_kind.iter_mut().zip(FileKind::ALL) {
            match kind {
                FileKind::Wal => {
                    slot.bytes_written = wal_written;
                    slot.syncs = syncs;
                }
                FileKind::Table => {
                    slot.bytes_written = tables_written;
                    slot.bytes_read = tables_read;
                    slot.reads = reads;
                }
                _ => {}
            }
        }
        stats
    }

    fn disk_usage(&self) -> Result<u64> {
        self.home.disk_usage()
    }
}

impl Native for RocksDb {
    fn put_all(&self, pairs: &mut dyn Iterator<Item = (&[u8], &[u8])>) -> Result<()> {
        let mut commit = rocksdb::WriteBatch::default();
        for (key, value) in pairs {
            commit.put(key, value);
        }
        self.db
            .write_opt(commit, &self.write_options())
            .or_peer(NAME)
    }

    fn value_is(&self, key: &[u8], expected: Option<&[u8]>) -> Result<bool> {
        let value = self.db.get_pinned(key).or_peer(NAME)?;
        Ok(value.as_deref() == expected)
    }

    fn scan_all(&self, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<u64> {
        let mut walk = self.db.raw_iterator();
        walk.seek_to_first();
        let mut count = 0;
        while let (Some(key), Some(value)) = (walk.key(), walk.value()) {
            visit(key, value);
            count += 1;
            walk.next();
        }
        walk.status().or_peer(NAME)?;
        Ok(count)
    }
}
