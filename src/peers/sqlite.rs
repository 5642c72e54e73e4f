//! [`Sqlite`] ("sqlite"): SQLite in WAL mode, a B-tree updated in place behind a log of
//! page images (the design kvlab's B+tree follows), behind the trait through `rusqlite`
//! (SQLite compiled in).
//!
//! The store is one database file, `data.sqlite` (and its `-wal`), with one table
//! `kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID`: blobs compare with `memcmp`, the
//! trait's order. A batch is one transaction; `Durability::Sync` is `synchronous=FULL`
//! (the WAL is synced at each commit), `Buffered` is `synchronous=NORMAL` with `sync()` a
//! full checkpoint. `settle()` checkpoints and truncates the WAL, as the B+tree's does.
//! Gets and scans take a connection of their own from a small pool; a scan holds a read
//! transaction (its snapshot) for its whole life and reads in chunks.

use std::collections::VecDeque;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, params};

use super::{ChunkSource, ChunkedScan, CopiedPairs, Native, OrPeerError, PeerDir};
use crate::error::Result;
use crate::kv::{BatchOp, Durability, KeyRange, KvStore, Options, ScanIter, Stats, WriteBatch};

const NAME: &str = "sqlite";

/// SQLite as a peer.
pub struct Sqlite {
    writer: Mutex<Connection>,
    /// Idle connections for gets and scans.
    readers: Mutex<Vec<Connection>>,
    file: PathBuf,
    /// The claimed directory (its lock held while the store is open).
    home: PeerDir,
}

impl Sqlite {
    /// Opens (creating if `dir` is missing or empty) a SQLite store in `dir`.
    pub fn open(dir: &Path, options: Options) -> Result<Sqlite> {
        let home = PeerDir::claim(NAME, dir, &options)?;
        let file = dir.join("data.sqlite");
        let writer = connect(&file)?;
        let synchronous = match options.durability {
            Durability::Sync => "FULL",
            Durability::Buffered => "NORMAL",
        };
        writer
            .execute_batch(&format!(
                "PRAGMA synchronous = {synchronous};
                 CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;"
            ))
            .or_peer(NAME)?;
        Ok(Sqlite {
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            file,
            home,
        })
    }

    /// An idle reading connection, or a new one.
    fn reader(&self) -> Result<Connection> {
        match self.readers.lock().pop() {
            Some(conn) => Ok(conn),
            None => connect(&self.file),
        }
    }

    fn give_back(&self, conn: Connection) {
        self.readers.lock().push(conn);
    }

    fn checkpoint(&self, mode: &str) -> Result<()> {
        let conn = self.writer.lock();
        // The pragma answers with a row (busy, log frames, checkpointed frames).
        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()))
            .or_peer(NAME)
    }
}

/// A connection to `file` in WAL mode.
fn connect(file: &Path) -> Result<Connection> {
    let conn = Connection::open(file).or_peer(NAME)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .or_peer(NAME)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .or_peer(NAME)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(crate::Error::Peer {
            engine: NAME,
            detail: format!("journal_mode is {mode}, not wal"),
        });
    }
    Ok(conn)
}

/// A scan's snapshot: a connection of its own in a read transaction, handed back to the
/// pool when the scan ends.
struct Snapshot<'a> {
    store: &'a Sqlite,
    conn: Option<Connection>,
    copied: CopiedPairs,
}

impl ChunkSource for Snapshot<'_> {
    fn fetch(
        &mut self,
        from: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
        out: &mut VecDeque<(Bytes, Bytes)>,
    ) -> Result<()> {
        let Some(conn) = &self.conn else {
            return Ok(());
        };
        let (lower, low_key) = match from {
            Bound::Included(k) => ("k >= ?1", Some(k)),
            Bound::Excluded(k) => ("k > ?1", Some(k)),
            Bound::Unbounded => ("?1 IS NULL", None),
        };
        let (upper, high_key) = match end {
            Bound::Included(k) => ("k <= ?2", Some(k)),
            Bound::Excluded(k) => ("k < ?2", Some(k)),
            Bound::Unbounded => ("?2 IS NULL", None),
        };
        let sql = format!("SELECT k, v FROM kv WHERE {lower} AND {upper} ORDER BY k LIMIT {limit}");
        let mut statement = conn.prepare_cached(&sql).or_peer(NAME)?;
        // Each row's blobs are SQLite's until the next step: copied, a chunk into one
        // buffer.
        let copied = &mut self.copied;
        let mut rows = statement.query(params![low_key, high_key]).or_peer(NAME)?;
        while let Some(row) = rows.next().or_peer(NAME)? {
            let blob = |i| row.get_ref(i).and_then(|v| Ok(v.as_blob()?));
            copied.push(blob(0).or_peer(NAME)?, blob(1).or_peer(NAME)?);
        }
        copied.hand_out(out);
        Ok(())
    }
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Ends the read transaction; a connection that cannot is dropped, not reused.
            if conn.execute_batch("COMMIT").is_ok() {
                self.store.give_back(conn);
            }
        }
    }
}

impl KvStore for Sqlite {
    fn name(&self) -> &str {
        NAME
    }

    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let conn = self.reader()?;
        let value = conn
            .prepare_cached("SELECT v FROM kv WHERE k = ?1")
            .and_then(|mut s| {
                s.query_row([key], |row| row.get::<_, Vec<u8>>(0))
                    .optional()
            })
            .or_peer(NAME);
        self.give_back(conn);
        Ok(value?.map(Bytes::from))
    }

    fn write(&self, batch: &WriteBatch) -> Result<()> {
        let mut conn = self.writer.lock();
        let txn = conn.transaction().or_peer(NAME)?;
        {
            let mut put = txn
                .prepare_cached("INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)")
                .or_peer(NAME)?;
            let mut delete = txn
                .prepare_cached("DELETE FROM kv WHERE k = ?1")
                .or_peer(NAME)?;
            for op in batch.iter() {
                match op {
                    BatchOp::Put { key, value } => put.execute(params![key, value]),
                    BatchOp::Delete { key } => delete.execute(params![key]),
                }
                .or_peer(NAME)?;
            }
        }
        txn.commit().or_peer(NAME)
    }

    fn scan(&self, range: KeyRange) -> Result<ScanIter<'_>> {
        if range.is_empty() {
            return Ok(Box::new(std::iter::empty()));
        }
        let conn = self.reader()?;
        // The snapshot starts with the transaction's first read, before this returns.
        conn.execute_batch("BEGIN").or_peer(NAME)?;
        let snapshot = Snapshot {
            store: self,
            conn: Some(conn),
            copied: CopiedPairs::default(),
        };
        let mut scan = ChunkedScan::new(snapshot, range);
        scan.refill()?;
        Ok(Box::new(scan))
    }

    fn sync(&self) -> Result<()> {
        self.checkpoint("FULL")
    }

    fn settle(&self) -> Result<()> {
        self.checkpoint("TRUNCATE")
    }

    fn stats(&self) -> Stats {
        Stats::default()
    }

    fn disk_usage(&self) -> Result<u64> {
        self.home.disk_usage()
    }
}

impl Native for Sqlite {
    fn put_all(&self, pairs: &mut dyn Iterator<Item = (&[u8], &[u8])>) -> Result<()> {
        let mut conn = self.writer.lock();
        let txn = conn.transaction().or_peer(NAME)?;
        {
            let mut put = txn
                .prepare_cached("INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)")
                .or_peer(NAME)?;
            for (key, value) in pairs {
                put.execute(params![key, value]).or_peer(NAME)?;
            }
        }
        txn.commit().or_peer(NAME)
    }

    fn value_is(&self, key: &[u8], expected: Option<&[u8]>) -> Result<bool> {
        let conn = self.reader()?;
        let same = conn
            .prepare_cached("SELECT v FROM kv WHERE k = ?1")
            .and_then(|mut s| {
                s.query_row(
                    [key],
                    |row| Ok(Some(row.get_ref(0)?.as_blob()?) == expected),
                )
                .optional()
            })
            .or_peer(NAME);
        self.give_back(conn);
        // No row is a match only when absence was expected.
        Ok(same?.unwrap_or(expected.is_none()))
    }

    fn scan_all(&self, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<u64> {
        let conn = self.reader()?;
        let walked = (|| {
            let mut statement = conn.prepare_cached("SELECT k, v FROM kv ORDER BY k")?;
            let mut rows = statement.query([])?;
            let mut count = 0;
            while let Some(row) = rows.next()? {
                visit(row.get_ref(0)?.as_blob()?, row.get_ref(1)?.as_blob()?);
                count += 1;
            }
            Ok::<u64, rusqlite::Error>(count)
        })()
        .or_peer(NAME);
        self.give_back(conn);
        walked
    }
}
