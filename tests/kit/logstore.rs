//! A deliberately tiny log engine that exists only to prove the crash test can fail.
//!
//! Every batch is appended to one file as a checksummed record; the whole map lives in
//! memory and is rebuilt by replaying the log at open. [`Forget`] makes it skip one of the
//! two syncs a log needs: the kit must catch both omissions, and pass the engine that
//! forgets nothing.
//!
//! Record: `payload_len u32 LE | crc32(payload) u32 LE | payload`, where the payload is
//! entries of `tag u8 (1 put, 2 delete) | key_len u32 | key | value_len u32 | value` (no
//! value for a delete). Replay stops at the first short or mismatching record, the torn tail
//! a crash leaves, and cuts the file there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use kvlab::identity::{self, StoreDir};
use kvlab::vfs::{Counted, FileKind, Vfs, VfsFile};
use kvlab::{
    BatchOp, Checked, Durability, Error, KeyRange, KvStore, Result, ScanIter, Stats, WriteBatch,
};
use parking_lot::{Mutex, RwLock};

use super::Subject;

/// Which sync the engine leaves out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forget {
    /// None: a correct engine.
    Nothing,
    /// The `sync` of the log after each batch.
    FileSync,
    /// The `sync_dir` after creating the log file.
    DirSync,
    /// That a failed `sync` lost the batch: it acknowledges the batch anyway.
    SyncError,
}

/// The test-only log engine.
pub struct LogStore {
    vfs: Arc<Counted>,
    _dir: StoreDir,
    log: Mutex<Box<dyn VfsFile>>,
    map: RwLock<BTreeMap<Bytes, Bytes>>,
    durability: Durability,
    forget: Forget,
}

/// A kit subject for the log engine.
pub fn subject(forget: Forget) -> Subject {
    Subject {
        name: format!("testlog (forgets {forget:?})"),
        open: Box::new(move |fs, dir, durability| {
            let store = LogStore::open(fs.clone(), dir, durability, forget)?;
            Ok(Box::new(Checked::new(store)) as Box<dyn KvStore>)
        }),
        persistent: true,
    }
}

fn encode(batch: &WriteBatch) -> Vec<u8> {
    let mut payload = Vec::with_capacity(batch.user_bytes() as usize + 9 * batch.len());
    for op in batch.iter() {
        let key = op.key();
        payload.push(if op.value().is_some() { 1 } else { 2 });
        payload.extend_from_slice(&(key.len() as u32).to_le_bytes());
        payload.extend_from_slice(key);
        if let Some(value) = op.value() {
            payload.extend_from_slice(&(value.len() as u32).to_le_bytes());
            payload.extend_from_slice(value);
        }
    }
    let mut record = Vec::with_capacity(8 + payload.len());
    record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    record.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    record.extend_from_slice(&payload);
    record
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// Applies one record's payload (whose checksum matched) to `map`.
fn apply_payload(
    map: &mut BTreeMap<Bytes, Bytes>,
    payload: &[u8],
    path: &Path,
    offset: u64,
) -> Result<()> {
    let bad = || Error::corruption(path, offset, "record payload does not decode");
    let mut at = 0;
    while at < payload.len() {
        let tag = payload[at];
        let klen = u32_at(payload, at + 1).ok_or_else(bad)? as usize;
        let key = payload.get(at + 5..at + 5 + klen).ok_or_else(bad)?;
        at += 5 + klen;
        match tag {
            1 => {
                let vlen = u32_at(payload, at).ok_or_else(bad)? as usize;
                let value = payload.get(at + 4..at + 4 + vlen).ok_or_else(bad)?;
                at += 4 + vlen;
                map.insert(Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
            }
            2 => {
                map.remove(key);
            }
            _ => return Err(bad()),
        }
    }
    Ok(())
}

impl LogStore {
    /// Opens or creates the store in `dir`.
    pub fn open(
        vfs: Arc<dyn Vfs>,
        dir: &Path,
        durability: Durability,
        forget: Forget,
    ) -> Result<Self> {
        let vfs = Arc::new(Counted::new(vfs));
        let claimed = identity::claim(vfs.as_ref(), dir, "testlog", 1)?;
        let path: PathBuf = dir.join("log");
        let mut map = BTreeMap::new();
        let log = if vfs.exists(&path)? {
            let log = vfs.open(&path, FileKind::Wal)?;
            let bytes = log.read_all()?;
            let mut at = 0;
            while let (Some(len), Some(crc)) = (u32_at(&bytes, at), u32_at(&bytes, at + 4)) {
                let Some(payload) = bytes.get(at + 8..at + 8 + len as usize) else {
                    break;
                };
                if len == 0 || crc32fast::hash(payload) != crc {
                    break;
                }
                apply_payload(&mut map, payload, &path, at as u64)?;
                at += 8 + len as usize;
            }
            if at < bytes.len() {
                log.truncate(at as u64)?;
                log.sync()?;
            }
            log
        } else {
            let log = vfs.create(&path, FileKind::Wal)?;
            log.sync()?;
            if forget != Forget::DirSync {
                vfs.sync_dir(dir)?;
            }
            log
        };
        Ok(LogStore {
            vfs,
            _dir: claimed,
            log: Mutex::new(log),
            map: RwLock::new(map),
            durability,
            forget,
        })
    }
}

impl KvStore for LogStore {
    fn name(&self) -> &str {
        "testlog"
    }

    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.map.read().get(key).cloned())
    }

    fn write(&self, batch: &WriteBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let log = self.log.lock();
        log.append(&encode(batch))?;
        if self.durability == Durability::Sync && self.forget != Forget::FileSync {
            match log.sync() {
                Err(_) if self.forget == Forget::SyncError => {}
                other => other?,
            }
        }
        let mut map = self.map.write();
        for op in batch.iter() {
            match op {
                BatchOp::Put { key, value } => {
                    map.insert(Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
                }
                BatchOp::Delete { key } => {
                    map.remove(key);
                }
            }
        }
        Ok(())
    }

    fn scan(&self, range: KeyRange) -> Result<ScanIter<'_>> {
        let pairs: Vec<_> = self
            .map
            .read()
            .range::<[u8], _>(range.as_slices())
            .map(|(k, v)| Ok((k.clone(), v.clone())))
            .collect();
        Ok(Box::new(pairs.into_iter()))
    }

    fn sync(&self) -> Result<()> {
        self.log.lock().sync()
    }

    fn settle(&self) -> Result<()> {
        Ok(())
    }

    fn stats(&self) -> Stats {
        Stats::from_io(self.vfs.counters())
    }

    fn disk_usage(&self) -> Result<u64> {
        self.log.lock().len()
    }
}
