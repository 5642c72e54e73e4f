//! The LSM engine: write path with group commit, reads across memtables and levels,
//! background flush and compaction, and recovery.
//!
//! # Files in the store directory
//!
//! ```text
//! KVLAB              identity file (engine "lsm")
//! CURRENT            the name of the live manifest, installed atomically
//! MANIFEST-NNNNNN    log of version edits (format/log.rs framing, version.rs payload)
//! NNNNNN.log         write-ahead log of one memtable (format/log.rs framing, batch payload)
//! NNNNNN.sst         a table (sstable/)
//! ```
//!
//! # A write
//!
//! Writers queue up; the first in the queue becomes the leader, takes every batch queued
//! behind it, gives them consecutive sequence numbers, appends one record per batch to
//! the WAL in one write, syncs once (with `Durability::Sync`), inserts the entries into
//! the memtable, publishes the last sequence number, and wakes the others: concurrent
//! writers share one fdatasync. A failed append or sync poisons the store: nothing after
//! the last good sync may be durable, so it refuses writes until reopened.
//!
//! # Background work
//!
//! Two threads: "kvlab-lsm-flush" writes each full memtable to a level-0 table, and
//! "kvlab-lsm" compacts. They change the version one at a time (`install`); a failed
//! manifest write poisons the store like a failed WAL sync.
//!
//! # A read
//!
//! A read takes a snapshot (the published sequence number, the memtable, the immutable
//! memtable being flushed, and the current version) and looks in that order; level 0
//! tables may overlap, so all are asked and the newest version wins; below, at most one
//! table per level holds the key.
//!
//! WAL record payload: `log u64 | first_seq u64 | count u32 | entries`, each entry
//! `kind u8 | key_len varint | key | (value_len varint | value)` (no value for a delete).
//! `log` is the number of the WAL file the record was written to: a flushed memtable's WAL
//! is renamed and written over by a later memtable, and the number tells its records from
//! the earlier ones still behind them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use parking_lot::{Condvar, Mutex};

use super::cache::BlockCache;
use super::check;
use super::compaction::{self, Plan};
use super::handles::TableHandles;
use super::ikey::{self, Kind, MAX_SEQ};
use super::iter::{InternalIterator, MergeIter};
use super::level_iter::LevelIter;
use super::memtable::{BatchEntry, MemValue, Memtable};
use super::sstable::reader::{FilterCounters, Found};
use super::version::{LEVELS, TableFile, TableMeta, Version, VersionEdit, table_path};
use super::{CompactionStyle, LsmOptions};
use crate::error::{Error, Result};
use crate::format::coding::{Reader, put_varint};
use crate::format::log::{self, LogWriter};
use crate::identity::{self, StoreDir};
use crate::kv::{
    BatchOp, Durability, KeyRange, KvStore, Options, ScanIter, Stats, WriteBatch, scan_item,
};
use crate::vfs::{self, Counted, FileKind, Vfs, VfsFile};

/// The on-disk format version of the LSM engine's files.
pub const FORMAT: u32 = 3;
const CURRENT: &str = "CURRENT";

/// The name of WAL `number` in `dir`.
pub fn wal_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.log"))
}

fn manifest_name(number: u64) -> String {
    format!("MANIFEST-{number:06}")
}

/// The number in a file name of this engine, and what kind of file it is.
fn parse_name(name: &str) -> Option<(u64, &'static str)> {
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

/// Bytes of zeros a WAL grows by ahead of small records: a 256th of a memtable, from 4 KiB
/// to 64 KiB. One step serves hundreds of single-key commits, and a WAL that ends soon
/// after (a few commits, then a memtable switch) carries few zeros.
fn wal_step(opts: &LsmOptions) -> u64 {
    (opts.memtable_size as u64 / 256).clamp(4 << 10, 64 << 10)
}

/// Counters kept beside the Vfs counters.
#[derive(Debug, Default)]
struct Counters {
    flushes: AtomicU64,
    flush_bytes: AtomicU64,
    compactions: AtomicU64,
    compaction_bytes_read: AtomicU64,
    compaction_bytes_written: AtomicU64,
    /// Tables moved down a level without being rewritten (a move may take several).
    moves: AtomicU64,
    stalls: AtomicU64,
    stall_micros: AtomicU64,
    group_commits: AtomicU64,
    manifest_rolls: AtomicU64,
}

/// What the background threads and the write leader share.
struct State {
    mem: Arc<Memtable>,
    imm: Option<Arc<Memtable>>,
    version: Arc<Version>,
    wal_number: u64,
    imm_wal_number: Option<u64>,
    /// A WAL whose memtable has been flushed, kept to be written over by the next
    /// memtable's records (`LogWriter::reusing`) rather than deleted.
    spare_wal: Option<u64>,
    /// The immutable memtable is a settle's to merge down (`Inner::settle_level0`), not
    /// the flush thread's to write out.
    imm_claimed: bool,
    next_file: u64,
    /// Set when background work failed; writes are refused from then on.
    bg_error: Option<String>,
    bg_busy: bool,
    shutting_down: bool,
    pointers: Vec<Vec<u8>>,
}

/// The commit queue: tickets in arrival order; the front one leads.
#[derive(Default)]
struct CommitQueue {
    next_ticket: u64,
    queue: std::collections::VecDeque<(u64, Bytes, u32)>,
    leader_active: bool,
    done: std::collections::HashMap<u64, std::result::Result<(), String>>,
}

struct Inner {
    dir: PathBuf,
    vfs: Arc<Counted>,
    opts: LsmOptions,
    durability: Durability,
    cache: Arc<BlockCache>,
    /// The tables' open files.
    handles: Arc<TableHandles>,
    state: Mutex<State>,
    /// Signals state changes to the background threads and to stalled writers.
    bg_cv: Condvar,
    wal: Mutex<LogWriter>,
    /// Taken by the commit leader, inside `wal`'s lock.
    syncer: Mutex<Option<WalSyncer>>,
    manifest: Mutex<Manifest>,
    last_seq: AtomicU64,
    commit: Mutex<CommitQueue>,
    commit_cv: Condvar,
    /// Held by whoever compacts (the compaction thread, `compact_range`): one compaction
    /// is planned and run at a time, so two never take the same tables. A flush does not
    /// take it: it only adds a level-0 table, which no running compaction planned for.
    work: Mutex<()>,
    /// Held while a version change is logged and installed, so each edit applies to the
    /// version the one before it made.
    install: Mutex<()>,
    /// Set when a WAL append or sync failed.
    poisoned: Mutex<Option<String>>,
    /// Held while the directory is synced; says why once a sync of it failed.
    dir_sync: Mutex<Option<String>>,
    filter: FilterCounters,
    counters: Counters,
    _lock: StoreDir,
}

/// The live manifest: its log, its file number, and the WAL number its edits have
/// reached (what a new manifest's first record must repeat).
struct Manifest {
    log: LogWriter,
    number: u64,
    log_number: u64,
}

/// The LSM tree engine.
pub struct Lsm {
    inner: Arc<Inner>,
    /// The flush thread and the compaction thread.
    background: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Lsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lsm").field("dir", &self.inner.dir).finish()
    }
}

/// Encodes a batch's entries for the WAL (without the sequence header).
fn encode_entries(batch: &WriteBatch) -> Vec<u8> {
    let mut out = Vec::with_capacity(batch.user_bytes() as usize + 6 * batch.len());
    for op in batch.iter() {
        match op {
            BatchOp::Put { key, value } => {
                out.push(Kind::Put as u8);
                put_varint(&mut out, key.len() as u64);
                out.extend_from_slice(key);
                put_varint(&mut out, value.len() as u64);
                out.extend_from_slice(value);
            }
            BatchOp::Delete { key } => {
                out.push(Kind::Delete as u8);
                put_varint(&mut out, key.len() as u64);
                out.extend_from_slice(key);
            }
        }
    }
    out
}

/// A thread kept to sync the WAL while the commit leader inserts its group's entries: a
/// sync of a large group's records takes a millisecond or more, about as long as
/// inserting them, so the two overlap. Handing a sync over through two channels costs
/// about 15 µs; starting a thread for each group cost about 65 µs, before its sync began.
struct WalSyncer {
    /// Files to sync (`None` once dropped, which ends the thread).
    requests: Option<SyncSender<Arc<dyn VfsFile>>>,
    results: Receiver<Result<()>>,
    thread: Option<JoinHandle<()>>,
}

impl WalSyncer {
    /// Starts the thread; `None` when none can be started (syncs then run in turn).
    fn start() -> Option<WalSyncer> {
        let (requests, incoming) = sync_channel::<Arc<dyn VfsFile>>(1);
        let (outgoing, results) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("kvlab-lsm-sync".into())
            .spawn(move || {
                for file in incoming {
                    if outgoing.send(file.sync()).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(WalSyncer {
            requests: Some(requests),
            results,
            thread: Some(thread),
        })
    }

    /// Syncs `wal` on the `syncer`'s thread while this one runs `apply`, and returns both
    /// results; in turn when there is no thread.
    fn sync_while(
        syncer: Option<&WalSyncer>,
        wal: &mut LogWriter,
        apply: impl FnOnce() -> Result<u64>,
    ) -> (Result<()>, Result<u64>) {
        let Some(syncer) = syncer.filter(|s| {
            s.requests
                .as_ref()
                .is_some_and(|r| r.send(wal.file()).is_ok())
        }) else {
            return (wal.sync(), apply());
        };
        let applied = apply();
        let synced = syncer
            .results
            .recv()
            .unwrap_or_else(|_| Err(Error::Poisoned("the WAL sync thread stopped".into())));
        if synced.is_ok() {
            wal.note_synced();
        }
        (synced, applied)
    }
}

impl Drop for WalSyncer {
    fn drop(&mut self) {
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Inserts the `count` entries of `entries` into `mem` with sequence numbers from `first`.
/// Keys and values stay in `entries`, not copied: one buffer per batch lives as long as
/// the memtable (or a value a reader still holds).
fn apply_entries(
    mem: &Memtable,
    entries: &Bytes,
    first: u64,
    count: u32,
    path: &Path,
    at: u64,
) -> Result<u64> {
    let mut r = Reader::new(entries, path, at);
    let mut decoded = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let kind = Kind::from_u8(r.u8()?).ok_or_else(|| r.corrupt("unknown entry kind"))?;
        let klen = r.len(crate::MAX_KEY_LEN)?;
        let start = r.position();
        let key = start..start + r.bytes(klen)?.len();
        let value = match kind {
            Kind::Put => {
                let vlen = r.len(crate::MAX_VALUE_LEN)?;
                let start = r.position();
                start..start + r.bytes(vlen)?.len()
            }
            Kind::Delete => key.end..key.end,
        };
        decoded.push(BatchEntry { kind, key, value });
    }
    if r.remaining() != 0 {
        return Err(r.corrupt("bytes left after the batch's entries"));
    }
    mem.insert_batch(entries.clone(), first, &decoded)?;
    Ok(first + u64::from(count).saturating_sub(1))
}

impl Lsm {
    /// Opens or creates the store in `dir`.
    pub fn open(dir: &Path, options: Options) -> Result<Lsm> {
        options.lsm.validate()?;
        let vfs = Arc::new(Counted::new(options.vfs.clone()));
        let lock = identity::claim(vfs.as_ref(), dir, "lsm", FORMAT)?;
        let cache = Arc::new(BlockCache::new(options.lsm.block_cache));
        let shared: Arc<dyn Vfs> = vfs.clone();
        let handles = Arc::new(TableHandles::new(shared, options.lsm.max_open_files));
        let recovered = recover(&vfs, dir, &options.lsm, (&cache, &handles))?;
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            vfs: Arc::clone(&vfs),
            opts: options.lsm.clone(),
            durability: options.durability,
            cache,
            handles,
            state: Mutex::new(State {
                mem: Arc::new(Memtable::new()),
                imm: None,
                version: Arc::new(recovered.version),
                wal_number: recovered.wal_number,
                imm_wal_number: None,
                spare_wal: None,
                imm_claimed: false,
                next_file: recovered.next_file,
                bg_error: None,
                bg_busy: false,
                shutting_down: false,
                pointers: vec![Vec::new(); LEVELS],
            }),
            bg_cv: Condvar::new(),
            wal: Mutex::new(recovered.wal),
            syncer: Mutex::new(match options.durability {
                Durability::Sync => WalSyncer::start(),
                Durability::Buffered => None,
            }),
            manifest: Mutex::new(recovered.manifest),
            last_seq: AtomicU64::new(recovered.last_seq),
            commit: Mutex::new(CommitQueue::default()),
            commit_cv: Condvar::new(),
            work: Mutex::new(()),
            install: Mutex::new(()),
            poisoned: Mutex::new(None),
            dir_sync: Mutex::new(None),
            filter: FilterCounters::default(),
            counters: Counters::default(),
            _lock: lock,
        });
        let mut background = Vec::new();
        type Job = fn(&Inner);
        let jobs: [(&str, Job); 2] = [
            ("kvlab-lsm-flush", Inner::flush_thread),
            ("kvlab-lsm", Inner::compaction_thread),
        ];
        for (name, job) in jobs {
            let worker = Arc::clone(&inner);
            let spawned = std::thread::Builder::new()
                .name(name.into())
                .spawn(move || job(&worker));
            match spawned {
                Ok(handle) => background.push(handle),
                Err(e) => {
                    // Stop the thread already started before giving up.
                    let lsm = Lsm { inner, background };
                    drop(lsm);
                    return Err(Error::io("spawn", dir, e));
                }
            }
        }
        // Work may be due right away (a recovered L0 past its trigger).
        inner.bg_cv.notify_all();
        Ok(Lsm { inner, background })
    }

    /// Merges every table that overlaps `[lo, hi]` down the levels, and waits until done.
    pub fn compact_range(&self, lo: &[u8], hi: &[u8]) -> Result<()> {
        self.inner.force_flush(false)?;
        self.inner.wait_idle()?;
        let _work = self.inner.work.lock();
        for level in 0..LEVELS - 1 {
            let plan = {
                let st = self.inner.state.lock();
                compaction::plan_range(&st.version, &self.inner.opts, level, lo, hi)
            };
            if let Some(plan) = plan {
                self.inner.run_compaction(&plan)?;
                if self.inner.opts.compaction == CompactionStyle::Tiered {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Reads every table and checks it against the manifest (see [`check`]): levels
    /// sorted and disjoint below level 0, every block's checksum, entry order, sequence
    /// numbers, key ranges, filters, and no missing or orphan table files. Compactions
    /// wait while it runs.
    pub fn check(&self) -> Result<check::Report> {
        let inner = &self.inner;
        let _work = inner.work.lock();
        let (version, idle) = {
            let st = inner.state.lock();
            (Arc::clone(&st.version), st.imm.is_none())
        };
        let last_seq = inner.last_seq.load(Ordering::Acquire);
        let pending = inner.handles.replaced();
        let names = inner.vfs.list(&inner.dir)?;
        // Orphans are looked for only if no flush ran meanwhile (its table is written
        // before the version names it).
        let quiet = {
            let st = inner.state.lock();
            idle && st.imm.is_none() && Arc::ptr_eq(&st.version, &version)
        };
        let files = quiet.then_some((names, pending));
        check::check(inner.vfs.as_ref(), &inner.dir, &version, last_seq, files)
    }

    /// Tables per level, for tests and `kvlab inspect`.
    pub fn level_tables(&self) -> Vec<Vec<TableMeta>> {
        let st = self.inner.state.lock();
        st.version
            .levels
            .iter()
            .map(|l| l.iter().map(|t| t.meta.clone()).collect())
            .collect()
    }
}

/// What recovery hands to the open store.
struct Recovered {
    version: Version,
    wal: LogWriter,
    wal_number: u64,
    manifest: Manifest,
    next_file: u64,
    last_seq: u64,
}

fn read_current(vfs: &dyn Vfs, dir: &Path) -> Result<Option<String>> {
    let path = dir.join(CURRENT);
    if !vfs.exists(&path)? {
        return Ok(None);
    }
    let text = vfs.open(&path, FileKind::Manifest)?.read_all()?;
    let name = std::str::from_utf8(&text)
        .ok()
        .map(str::trim)
        .filter(|n| parse_name(n).is_some_and(|(_, kind)| kind == "manifest"))
        .ok_or_else(|| Error::corruption(&path, 0, "CURRENT does not name a manifest"))?;
    Ok(Some(name.to_string()))
}

/// What the live manifest says, replayed.
#[derive(Debug, Default)]
pub struct ManifestState {
    /// The manifest's file name.
    pub name: String,
    /// Tables per level.
    pub levels: Vec<Vec<TableMeta>>,
    /// WALs numbered below it are flushed.
    pub log_number: u64,
    /// The next file number.
    pub next_file: u64,
    /// The last sequence number in a table.
    pub last_seq: u64,
    /// Edits replayed.
    pub edits: usize,
}

/// Replays the manifest CURRENT names, on table descriptions only (a table added and later
/// compacted away no longer exists, so nothing is opened). `None` without a CURRENT.
pub fn read_manifest(vfs: &dyn Vfs, dir: &Path) -> Result<Option<ManifestState>> {
    let Some(name) = read_current(vfs, dir)? else {
        return Ok(None);
    };
    let path = dir.join(&name);
    if !vfs.exists(&path)? {
        return Err(Error::corruption(
            dir.join(CURRENT),
            0,
            format!("CURRENT names {name}, which is missing"),
        ));
    }
    let bytes = vfs.open(&path, FileKind::Manifest)?.read_all()?;
    let contents = log::read_records(&bytes, &path, log::Appends::SyncedOneByOne)?;
    if contents.records.is_empty() {
        // The first record was synced before CURRENT named this manifest.
        return Err(Error::corruption(
            &path,
            0,
            "manifest without its first record",
        ));
    }
    let mut state = ManifestState {
        name,
        levels: vec![Vec::new(); LEVELS],
        next_file: 1,
        ..ManifestState::default()
    };
    for record in contents.records {
        let edit = VersionEdit::decode(Reader::new(
            &bytes[record.clone()],
            &path,
            record.start as u64,
        ))?;
        state.log_number = edit.log_number.unwrap_or(state.log_number);
        state.next_file = edit.next_file.unwrap_or(state.next_file);
        state.last_seq = edit.last_seq.unwrap_or(state.last_seq);
        for &(level, number) in &edit.removed {
            state.levels[level].retain(|t| t.number != number);
        }
        for (level, meta) in &edit.added {
            state.levels[*level].push(meta.clone());
        }
        state.edits += 1;
    }
    Ok(Some(state))
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

/// Bytes of a WAL record's payload before its entries: log number, first sequence number,
/// count.
const WAL_HEADER: usize = 8 + 8 + 4;

/// The records of WAL `number` (the bytes of `path`). A file is written over once its
/// memtable is flushed (see `spare_wal`), so records of its earlier use may follow this
/// use's: they name another log's number, and end the log as a torn tail would.
pub fn read_wal(bytes: &[u8], path: &Path, number: u64) -> Result<log::LogContents> {
    let ours = number.to_le_bytes();
    log::read_records_of(bytes, path, log::Appends::MaybeConcurrent, &|payload| {
        payload.get(..8) == Some(&ours[..])
    })
}

/// Rebuilds the tree from the manifest and the WALs, flushes what the WALs held into a
/// level-0 table, starts a new WAL and a new manifest, and removes what is obsolete.
/// Every step leaves the previous state recoverable until CURRENT names the new manifest.
fn recover(
    vfs: &Arc<Counted>,
    dir: &Path,
    opts: &LsmOptions,
    (cache, handles): (&Arc<BlockCache>, &Arc<TableHandles>),
) -> Result<Recovered> {
    let names = vfs.list(dir)?;
    let mut max_number = 0;
    for name in &names {
        if let Some((n, _)) = parse_name(name) {
            max_number = max_number.max(n);
        }
    }
    let shared: Arc<dyn Vfs> = vfs.clone();
    let open_table = |meta: &TableMeta| -> Result<Arc<TableFile>> {
        let path = table_path(dir, meta.number);
        if !vfs.exists(&path)? {
            // The manifest names a table the directory does not hold: lost, or the
            // manifest is older than the directory (cut back, or restored from a copy).
            return Err(Error::corruption(
                &path,
                0,
                "a table the manifest names is missing",
            ));
        }
        Ok(Arc::new(TableFile::open(
            Arc::clone(&shared),
            dir,
            meta.clone(),
            Arc::clone(cache),
            Arc::clone(handles),
            opts.mmap_reads,
        )?))
    };

    let manifest = read_manifest(vfs.as_ref(), dir)?;
    if manifest.is_none() && names.iter().any(|n| n.ends_with(".sst")) {
        // No CURRENT: fine for a store whose creation a crash interrupted, not with tables.
        return Err(Error::corruption(
            dir.join(CURRENT),
            0,
            "CURRENT is missing but tables exist",
        ));
    }
    let ManifestState {
        levels: metas,
        log_number,
        next_file,
        mut last_seq,
        ..
    } = manifest.unwrap_or_default();
    let mut next_file = next_file;
    next_file = next_file.max(max_number + 1);

    // Replay the WALs the manifest has not seen flushed, oldest first.
    let wals: Vec<u64> = wal_numbers(&names)
        .into_iter()
        .filter(|&n| n >= log_number)
        .collect();
    let mem = Memtable::new();
    for &number in &wals {
        let path = wal_path(dir, number);
        let bytes = Bytes::from(vfs.open(&path, FileKind::Wal)?.read_all()?);
        let contents = read_wal(&bytes, &path, number)?;
        for record in contents.records {
            let mut r = Reader::new(&bytes[record.clone()], &path, record.start as u64);
            r.u64()?; // the log's number, checked by read_wal
            let first = r.u64()?;
            let count = r.u32()?;
            if first == 0 || first > MAX_SEQ {
                return Err(r.corrupt(format!("WAL record with first sequence {first}")));
            }
            let entries = bytes.slice(record.start + WAL_HEADER..record.end);
            let last = apply_entries(
                &mem,
                &entries,
                first,
                count,
                &path,
                (record.start + WAL_HEADER) as u64,
            )?;
            last_seq = last_seq.max(last);
        }
    }

    let mut alloc = || {
        let n = next_file;
        next_file += 1;
        n
    };
    let mut edit = VersionEdit {
        added: metas
            .into_iter()
            .enumerate()
            .flat_map(|(level, tables)| tables.into_iter().map(move |t| (level, t)))
            .collect(),
        ..VersionEdit::default()
    };
    if !mem.is_empty() {
        let mem = Arc::new(mem);
        let mut it = mem.iter();
        it.seek_to_first()?;
        let outputs = compaction::write_tables(
            vfs.as_ref(),
            dir,
            opts,
            &mut it,
            compaction::Rules::FLUSH,
            &mut alloc,
        )?;
        for out in outputs {
            edit.added.push((0, out.meta));
        }
    }
    let wal_number = alloc();
    let manifest_number = alloc();
    let version = Version::empty().apply(&edit, &open_table)?;

    // The new WAL, then the new manifest holding the whole version, then CURRENT.
    let wal_file = vfs.create(&wal_path(dir, wal_number), FileKind::Wal)?;
    let snapshot = VersionEdit {
        log_number: Some(wal_number),
        next_file: Some(next_file),
        last_seq: Some(last_seq),
        ..whole_version(&version)
    };
    let manifest = write_manifest(vfs.as_ref(), dir, manifest_number, &snapshot)?;

    // Now the old WALs, manifest and any table no version names are garbage.
    let live: std::collections::HashSet<u64> = version.numbers().collect();
    for name in vfs.list(dir)? {
        let obsolete = match parse_name(&name) {
            Some((n, "log")) => n != wal_number,
            Some((n, "manifest")) => n != manifest_number,
            Some((n, _)) => !live.contains(&n),
            None => name == format!("{CURRENT}.tmp"),
        };
        if obsolete {
            vfs.remove(&dir.join(&name))?;
        }
    }
    vfs.sync_dir(dir)?;

    Ok(Recovered {
        version,
        wal: LogWriter::stepped(wal_file, wal_step(opts)),
        wal_number,
        manifest: Manifest {
            log: manifest,
            number: manifest_number,
            log_number: wal_number,
        },
        next_file,
        last_seq,
    })
}

/// An edit that adds every table of `version` at its level: the first record of a new
/// manifest.
fn whole_version(version: &Version) -> VersionEdit {
    VersionEdit {
        added: version
            .levels
            .iter()
            .enumerate()
            .flat_map(|(l, ts)| ts.iter().map(move |t| (l, t.meta.clone())))
            .collect(),
        ..VersionEdit::default()
    }
}

/// Writes manifest `number` holding `snapshot` alone, makes it durable, and installs it
/// as the live one (CURRENT names it). Until CURRENT is replaced, the manifest before it
/// stays the live one, whole.
fn write_manifest(
    vfs: &dyn Vfs,
    dir: &Path,
    number: u64,
    snapshot: &VersionEdit,
) -> Result<LogWriter> {
    let mut record = Vec::new();
    log::encode_record(&mut record, &snapshot.encode(), 0)?;
    let file = vfs.create(&dir.join(manifest_name(number)), FileKind::Manifest)?;
    file.append(&record)?;
    file.sync()?;
    vfs.sync_dir(dir)?;
    vfs::write_file_atomic(
        vfs,
        &dir.join(CURRENT),
        FileKind::Manifest,
        format!("{}\n", manifest_name(number)).as_bytes(),
    )?;
    Ok(LogWriter::new(file, record.len() as u64))
}

impl Inner {
    fn check_writable(&self) -> Result<()> {
        if let Some(reason) = self.poisoned.lock().as_ref() {
            return Err(Error::Poisoned(reason.clone()));
        }
        Ok(())
    }

    fn poison(&self, e: &Error) {
        self.poisoned.lock().get_or_insert_with(|| e.to_string());
    }

    /// Makes the directory's names durable, one thread at a time, and refuses for good
    /// once that failed: a failed sync may drop names another thread has just made (a
    /// table the background thread wrote, a WAL a writer switched to), and a later sync
    /// that succeeds would not bring them back. So after one failure no manifest edit may
    /// name a new table and no new WAL may take writes: the store is poisoned.
    fn sync_dir(&self) -> Result<()> {
        let mut failed = self.dir_sync.lock();
        if let Some(why) = &*failed {
            return Err(Error::Poisoned(why.clone()));
        }
        if let Err(e) = self.vfs.sync_dir(&self.dir) {
            *failed = Some(format!("a sync of the directory failed ({e})"));
            self.poison(&e);
            return Err(e);
        }
        Ok(())
    }

    /// The write path: queue, and lead a group commit when first in line.
    fn write(&self, batch: &WriteBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.check_writable()?;
        let entries = Bytes::from(encode_entries(batch));
        let count = u32::try_from(batch.len())
            .map_err(|_| Error::invalid("batch of 2^32 entries or more"))?;
        let mut q = self.commit.lock();
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.queue.push_back((ticket, entries, count));
        loop {
            if let Some(result) = q.done.remove(&ticket) {
                return result.map_err(Error::Poisoned);
            }
            if !q.leader_active && q.queue.front().is_some_and(|(t, _, _)| *t == ticket) {
                break;
            }
            self.commit_cv.wait(&mut q);
        }
        q.leader_active = true;
        let mut group = Vec::new();
        let mut bytes = 0;
        while let Some(front) = q.queue.front() {
            if !group.is_empty() && bytes + front.1.len() > self.opts.max_group_bytes {
                break;
            }
            bytes += front.1.len();
            group.extend(q.queue.pop_front());
        }
        drop(q);
        let result = self.commit_group(&group);
        let mut q = self.commit.lock();
        q.leader_active = false;
        for (t, _, _) in &group[1..] {
            q.done
                .insert(*t, result.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        }
        drop(q);
        self.commit_cv.notify_all();
        result
    }

    /// Makes the group durable and visible. Called by the leader only.
    fn commit_group(&self, group: &[(u64, Bytes, u32)]) -> Result<()> {
        let (mem, log) = self.make_room(false, false)?;
        let first = self.last_seq.load(Ordering::Acquire) + 1;
        let mut wal = self.wal.lock();
        let bytes: usize = group
            .iter()
            .map(|(_, e, _)| log::HEADER_LEN + WAL_HEADER + e.len())
            .sum();
        let mut records = Vec::with_capacity(bytes);
        let mut seq = first;
        for (_, entries, count) in group {
            log::encode_record_with(&mut records, wal.synced(), |out| {
                out.extend_from_slice(&log.to_le_bytes());
                out.extend_from_slice(&seq.to_le_bytes());
                out.extend_from_slice(&count.to_le_bytes());
                out.extend_from_slice(entries);
            })?;
            seq += u64::from(*count);
        }
        if let Err(e) = wal.append(&records) {
            self.poison(&e);
            return Err(e);
        }
        let apply = || -> Result<u64> {
            let mut seq = first;
            for (_, entries, count) in group {
                apply_entries(&mem, entries, seq, *count, &self.dir, 0)?;
                seq += u64::from(*count);
            }
            Ok(seq - 1)
        };
        let (synced, applied) = match self.durability {
            Durability::Buffered => (Ok(()), apply()),
            // A large group fills the memtable while its sync is in flight: the entries
            // stay invisible until `last_seq` says otherwise, below.
            Durability::Sync if records.len() >= log::SMALL_RECORD => {
                WalSyncer::sync_while(self.syncer.lock().as_ref(), &mut wal, apply)
            }
            Durability::Sync => (wal.sync(), apply()),
        };
        drop(wal);
        if let Err(e) = synced {
            // The memtable may hold the group's entries now, unpublished; a poisoned store
            // takes no further writes and flushes no memtable, so they stay unseen.
            self.poison(&e);
            return Err(e);
        }
        let last = applied.inspect_err(|e| self.poison(e))?;
        self.last_seq.store(last, Ordering::Release);
        if group.len() > 1 {
            self.counters.group_commits.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Returns the memtable to write into and the number of its WAL, switching to a new
    /// pair when the memtable is full (or at once, if `force` and it holds anything), and
    /// stalling while the tree is too far behind. With `claim`, a memtable switched out
    /// is left for the caller to merge down rather than to the flush thread.
    fn make_room(&self, force: bool, claim: bool) -> Result<(Arc<Memtable>, u64)> {
        // A poisoned store's memtable may hold entries of a group whose sync failed: it
        // takes no more writes and is never flushed.
        self.check_writable()?;
        let mut st = self.state.lock();
        let mut slowed = false;
        loop {
            if let Some(e) = &st.bg_error {
                return Err(Error::Poisoned(e.clone()));
            }
            let l0 = st.version.levels[0].len();
            let leveled = self.opts.compaction == CompactionStyle::Leveled;
            if leveled && l0 >= self.opts.l0_slowdown && !slowed && !force {
                // Give compaction a millisecond before going on.
                slowed = true;
                let start = Instant::now();
                drop(st);
                std::thread::sleep(Duration::from_millis(1));
                self.note_stall(start);
                st = self.state.lock();
                continue;
            }
            let full = st.mem.size() >= self.opts.memtable_size || (force && !st.mem.is_empty());
            let stop = leveled && l0 >= self.opts.l0_stop;
            if !full && !stop {
                return Ok((Arc::clone(&st.mem), st.wal_number));
            }
            if st.imm.is_some() || stop {
                let start = Instant::now();
                self.bg_cv.notify_all();
                self.bg_cv.wait_for(&mut st, Duration::from_millis(100));
                self.note_stall(start);
                continue;
            }
            // Switch: a new WAL for a new memtable (the spare one under a new name, if a
            // flush left one); the old pair goes to be flushed.
            let number = st.next_file;
            st.next_file += 1;
            let path = wal_path(&self.dir, number);
            let step = wal_step(&self.opts);
            let writer = match st.spare_wal.take() {
                Some(old) => {
                    self.vfs.rename(&wal_path(&self.dir, old), &path)?;
                    LogWriter::reusing(self.vfs.open(&path, FileKind::Wal)?, step)?
                }
                None => LogWriter::stepped(self.vfs.create(&path, FileKind::Wal)?, step),
            };
            // The name must be durable before a record in the file is acknowledged.
            self.sync_dir()?;
            let mut wal = self.wal.lock();
            if self.durability == Durability::Buffered {
                // What was written to the old WAL must not stay unsynced forever.
                wal.sync()?;
            }
            *wal = writer;
            drop(wal);
            let old = std::mem::replace(&mut st.mem, Arc::new(Memtable::new()));
            st.imm = Some(old);
            st.imm_wal_number = Some(st.wal_number);
            st.imm_claimed = claim;
            st.wal_number = number;
            self.bg_cv.notify_all();
            return Ok((Arc::clone(&st.mem), number));
        }
    }

    fn note_stall(&self, start: Instant) {
        self.counters.stalls.fetch_add(1, Ordering::Relaxed);
        self.counters
            .stall_micros
            .fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
    }

    /// Deletes the spare WAL and cuts the live one back to its records: room kept for
    /// the next writes that a settled store should not hold on to.
    fn give_back_wal_room(&self) -> Result<()> {
        let spare = self.state.lock().spare_wal.take();
        if let Some(number) = spare {
            self.vfs.remove(&wal_path(&self.dir, number))?;
        }
        self.wal.lock().trim()
    }

    /// Switches the memtable now (as a writer would when it is full), if it holds data;
    /// with `claim`, the old one is the caller's to merge down (see `make_room`).
    fn force_flush(&self, claim: bool) -> Result<()> {
        // Take the commit leadership so no group is being written meanwhile.
        let mut q = self.commit.lock();
        while q.leader_active {
            self.commit_cv.wait(&mut q);
        }
        q.leader_active = true;
        drop(q);
        let result = self.make_room(true, claim).map(|_| ());
        self.commit.lock().leader_active = false;
        self.commit_cv.notify_all();
        result
    }

    /// Waits until nothing is being flushed and no compaction is due.
    fn wait_idle(&self) -> Result<()> {
        let mut st = self.state.lock();
        loop {
            if let Some(e) = &st.bg_error {
                return Err(Error::Poisoned(e.clone()));
            }
            let mut pointers = st.pointers.clone();
            let due = compaction::pick(&st.version, &self.opts, &mut pointers).is_some();
            if st.imm.is_none() && !st.bg_busy && !due {
                return Ok(());
            }
            self.bg_cv.notify_all();
            self.bg_cv.wait_for(&mut st, Duration::from_millis(50));
        }
    }

    /// Merges the memtable and every level-0 table into the level below, leaving level 0
    /// empty. A memtable that meets tables there goes straight into the merge: written
    /// out as a level-0 table first, it was written and synced only to be read back at
    /// once (a fifth of a settle after a fill of 1M keys). One that meets none is flushed
    /// as usual and moved down.
    fn settle_level0(&self) -> Result<()> {
        self.force_flush(true)?;
        let work = self.work.lock();
        let plan = {
            let mut st = self.state.lock();
            let imm = st.imm.clone().filter(|_| st.imm_claimed);
            let range = imm.as_ref().and_then(|m| m.key_range());
            let plan = range
                .and_then(|(lo, hi)| compaction::plan_settle(&st.version, &self.opts, (&lo, &hi)));
            if plan.is_none() && st.imm_claimed {
                st.imm_claimed = false;
                self.bg_cv.notify_all();
            }
            plan.map(|plan| Plan {
                memtable: imm,
                ..plan
            })
        };
        if let Some(plan) = plan {
            let result = self.run_compaction(&plan);
            let mut st = self.state.lock();
            if st.imm_claimed {
                // The merge failed: the memtable is the flush thread's to write out.
                st.imm_claimed = false;
                self.bg_cv.notify_all();
            }
            result?;
        }
        drop(work);
        self.wait_idle()?;
        self.compact_level0()
    }

    /// Merges whatever is in level 0 into the level below it now (the base level).
    fn compact_level0(&self) -> Result<()> {
        let _work = self.work.lock();
        // Every user key lies in [empty, 1025 bytes of 0xff].
        let top = [0xffu8; crate::MAX_KEY_LEN + 1];
        let plan = compaction::plan_range(&self.state.lock().version, &self.opts, 0, &[], &top);
        match plan {
            Some(plan) => self.run_compaction(&plan),
            None => Ok(()),
        }
    }

    fn alloc_number(&self) -> u64 {
        let mut st = self.state.lock();
        let n = st.next_file;
        st.next_file += 1;
        n
    }

    /// Logs `edit` to the manifest (durably) and installs the version it makes.
    fn log_and_apply(&self, mut edit: VersionEdit, obsolete: &[Arc<TableFile>]) -> Result<()> {
        let _install = self.install.lock();
        // After a failed manifest write or sync (by this thread or the other one) the last
        // edit may be lost or torn: nothing may be logged after it.
        self.check_writable()?;
        let base = Arc::clone(&self.state.lock().version);
        let shared: Arc<dyn Vfs> = self.vfs.clone();
        let next = base.apply(&edit, |meta| {
            Ok(Arc::new(TableFile::open(
                Arc::clone(&shared),
                &self.dir,
                meta.clone(),
                Arc::clone(&self.cache),
                Arc::clone(&self.handles),
                self.opts.mmap_reads,
            )?))
        })?;
        if !edit.added.is_empty() {
            // The new tables' names must be durable before the manifest names them.
            self.sync_dir()?;
        }
        let mut manifest = self.manifest.lock();
        edit.next_file = Some(self.state.lock().next_file);
        edit.last_seq = Some(self.last_seq.load(Ordering::Acquire));
        let mut record = Vec::new();
        log::encode_record(&mut record, &edit.encode(), manifest.log.synced())?;
        if let Err(e) = manifest
            .log
            .append(&record)
            .and_then(|()| manifest.log.sync())
        {
            self.poison(&e);
            return Err(e);
        }
        if let Some(log) = edit.log_number {
            manifest.log_number = log;
        }
        let next = Arc::new(next);
        self.state.lock().version = Arc::clone(&next);
        for t in obsolete {
            t.mark_obsolete();
        }
        if manifest.log.len() > self.opts.manifest_limit {
            self.roll_manifest(&mut manifest, &next)
                .inspect_err(|e| self.poison(e))?;
        }
        Ok(())
    }

    /// Starts a new manifest holding `version` whole, in place of `manifest`, which has
    /// grown past `manifest_limit` with edits: without this it would grow for as long as
    /// the store stays open. A failure poisons the store, since which manifest CURRENT
    /// names after a crash is then unknown.
    fn roll_manifest(&self, manifest: &mut Manifest, version: &Version) -> Result<()> {
        let number = self.alloc_number();
        let snapshot = VersionEdit {
            log_number: Some(manifest.log_number),
            next_file: Some(self.state.lock().next_file),
            last_seq: Some(self.last_seq.load(Ordering::Acquire)),
            ..whole_version(version)
        };
        let log = write_manifest(self.vfs.as_ref(), &self.dir, number, &snapshot)?;
        let old = std::mem::replace(
            manifest,
            Manifest {
                log,
                number,
                log_number: manifest.log_number,
            },
        );
        // Best effort: a leftover manifest is removed at the next open.
        let _ = self.vfs.remove(&self.dir.join(manifest_name(old.number)));
        self.counters.manifest_rolls.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn flush(&self, imm: Arc<Memtable>, imm_wal: u64, new_log: u64) -> Result<()> {
        let mut it = imm.iter();
        it.seek_to_first()?;
        let outputs = compaction::write_tables(
            self.vfs.as_ref(),
            &self.dir,
            &self.opts,
            &mut it,
            compaction::Rules::FLUSH,
            || self.alloc_number(),
        )?;
        let mut edit = VersionEdit {
            log_number: Some(new_log),
            ..VersionEdit::default()
        };
        for out in outputs {
            self.counters
                .flush_bytes
                .fetch_add(out.meta.size, Ordering::Relaxed);
            edit.added.push((0, out.meta));
        }
        self.log_and_apply(edit, &[])?;
        self.retire_imm(imm_wal);
        Ok(())
    }

    /// Lets go of the immutable memtable, whose entries the version now holds in tables,
    /// and of its WAL `wal`: kept as the spare, or deleted.
    fn retire_imm(&self, wal: u64) {
        let kept = {
            let mut st = self.state.lock();
            st.imm = None;
            st.imm_wal_number = None;
            st.imm_claimed = false;
            let keep = st.spare_wal.is_none();
            if keep {
                st.spare_wal = Some(wal);
            }
            keep
        };
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
        if !kept {
            let _ = self.vfs.remove(&wal_path(&self.dir, wal));
        }
        self.bg_cv.notify_all();
    }

    fn run_compaction(&self, plan: &Plan) -> Result<()> {
        if plan.is_move() {
            // Only the manifest changes: the same tables, one level down.
            let mut edit = VersionEdit::default();
            for (level, t) in &plan.inputs {
                edit.removed.push((*level, t.meta.number));
                edit.added.push((plan.output_level, t.meta.clone()));
            }
            self.log_and_apply(edit, &[])?;
            let tables = plan.inputs.len() as u64;
            self.counters.moves.fetch_add(tables, Ordering::Relaxed);
            return Ok(());
        }
        let read: u64 = plan.inputs.iter().map(|(_, t)| t.meta.size).sum();
        let outputs = compaction::run(plan, self.vfs.as_ref(), &self.dir, &self.opts, &|| {
            self.alloc_number()
        })?;
        let mut edit = VersionEdit::default();
        let imm_wal = match plan.memtable {
            // The outputs hold the memtable's entries: only the live WAL is needed now.
            // (No switch can come while this memtable is still the immutable one.)
            Some(_) => {
                let st = self.state.lock();
                edit.log_number = Some(st.wal_number);
                st.imm_wal_number
            }
            None => None,
        };
        for (level, t) in &plan.inputs {
            edit.removed.push((*level, t.meta.number));
        }
        let mut written = 0;
        for out in outputs {
            written += out.meta.size;
            edit.added.push((plan.output_level, out.meta));
        }
        let obsolete: Vec<Arc<TableFile>> =
            plan.inputs.iter().map(|(_, t)| Arc::clone(t)).collect();
        self.log_and_apply(edit, &obsolete)?;
        if let Some(wal) = imm_wal {
            self.retire_imm(wal);
        }
        self.counters.compactions.fetch_add(1, Ordering::Relaxed);
        self.counters
            .compaction_bytes_read
            .fetch_add(read, Ordering::Relaxed);
        self.counters
            .compaction_bytes_written
            .fetch_add(written, Ordering::Relaxed);
        Ok(())
    }

    /// The flush thread: writes each full memtable to a level-0 table. It runs beside the
    /// compaction thread, so a long merge never keeps a full memtable waiting (and the
    /// writers stalled behind it).
    fn flush_thread(&self) {
        loop {
            let (imm, wal, new_log) = {
                let mut st = self.state.lock();
                loop {
                    if st.shutting_down || st.bg_error.is_some() {
                        return;
                    }
                    if let (Some(imm), Some(wal), false) =
                        (&st.imm, st.imm_wal_number, st.imm_claimed)
                    {
                        break (Arc::clone(imm), wal, st.wal_number);
                    }
                    self.bg_cv.wait(&mut st);
                }
            };
            let result = self.flush(imm, wal, new_log);
            self.finish_job(result);
        }
    }

    /// The compaction thread: merges tables down whenever a level is over its limit.
    fn compaction_thread(&self) {
        loop {
            {
                let mut st = self.state.lock();
                loop {
                    if st.shutting_down || st.bg_error.is_some() {
                        return;
                    }
                    let mut pointers = st.pointers.clone();
                    if compaction::pick(&st.version, &self.opts, &mut pointers).is_some() {
                        break;
                    }
                    self.bg_cv.wait(&mut st);
                }
            }
            // Plan under the work lock: a manual compaction may have changed things.
            let _work = self.work.lock();
            let plan = {
                let mut st = self.state.lock();
                let version = Arc::clone(&st.version);
                match compaction::pick(&version, &self.opts, &mut st.pointers) {
                    Some(plan) => {
                        st.bg_busy = true;
                        plan
                    }
                    None => continue,
                }
            };
            let result = self.run_compaction(&plan);
            // Let go of the inputs before saying the work is done: the last holder of a
            // replaced table deletes its file, and a caller of `settle` may look next.
            drop(plan);
            self.state.lock().bg_busy = false;
            self.finish_job(result);
        }
    }

    /// Records how a flush or compaction ended and wakes whoever waits on it.
    fn finish_job(&self, result: Result<()>) {
        if let Err(e) = result {
            let mut st = self.state.lock();
            st.bg_error
                .get_or_insert_with(|| format!("background work failed: {e}"));
        }
        self.bg_cv.notify_all();
    }

    /// A consistent view for a read.
    fn snapshot(&self) -> (u64, Arc<Memtable>, Option<Arc<Memtable>>, Arc<Version>) {
        let st = self.state.lock();
        let seq = self.last_seq.load(Ordering::Acquire);
        (
            seq,
            Arc::clone(&st.mem),
            st.imm.clone(),
            Arc::clone(&st.version),
        )
    }

    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let (seq, mem, imm, version) = self.snapshot();
        for m in std::iter::once(&mem).chain(imm.as_ref()) {
            match m.get(key, seq) {
                Some(MemValue::Put(v)) => return Ok(Some(v)),
                Some(MemValue::Delete) => return Ok(None),
                None => {}
            }
        }
        // Level 0 tables overlap: ask each and keep the newest version.
        let mut best: Option<Found> = None;
        for t in &version.levels[0] {
            if !t.meta.overlaps(key, key) {
                continue;
            }
            if let Some(found) = t.reader.get(key, seq, &self.filter)?
                && best.as_ref().is_none_or(|b| found.seq() > b.seq())
            {
                best = Some(found);
            }
        }
        if best.is_none() {
            for level in 1..LEVELS {
                if let Some(t) = version.find_in_level(level, key)
                    && let Some(found) = t.reader.get(key, seq, &self.filter)?
                {
                    best = Some(found);
                    break;
                }
            }
        }
        Ok(match best {
            Some(Found::Value(_, v)) => Some(v),
            _ => None,
        })
    }

    fn stats(&self) -> Stats {
        let mut stats = Stats::from_io(self.vfs.counters());
        let st = self.state.lock();
        let mut engine: Vec<(String, u64)> = Vec::new();
        for (level, tables) in st.version.levels.iter().enumerate() {
            engine.push((format!("l{level}_files"), tables.len() as u64));
            engine.push((format!("l{level}_bytes"), st.version.level_size(level)));
        }
        engine.push(("memtable_bytes".into(), st.mem.size() as u64));
        let background_failed = st.bg_error.is_some();
        drop(st);
        let (hits, misses) = self.cache.hits_and_misses();
        let (open_tables, table_reopens) = self.handles.counts();
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        engine.extend([
            ("block_cache_hits".to_string(), hits),
            ("block_cache_misses".into(), misses),
            ("open_table_files".into(), open_tables as u64),
            ("table_file_reopens".into(), table_reopens),
            ("bloom_probes".into(), load(&self.filter.probes)),
            ("bloom_negatives".into(), load(&self.filter.negatives)),
            (
                "bloom_false_positives".into(),
                load(&self.filter.false_positives),
            ),
            ("flushes".into(), load(&c.flushes)),
            ("flush_bytes".into(), load(&c.flush_bytes)),
            ("compactions".into(), load(&c.compactions)),
            (
                "compaction_bytes_read".into(),
                load(&c.compaction_bytes_read),
            ),
            (
                "compaction_bytes_written".into(),
                load(&c.compaction_bytes_written),
            ),
            ("table_moves".into(), load(&c.moves)),
            ("write_stalls".into(), load(&c.stalls)),
            ("write_stall_micros".into(), load(&c.stall_micros)),
            ("group_commits".into(), load(&c.group_commits)),
            ("manifest_rolls".into(), load(&c.manifest_rolls)),
            (
                "last_sequence".into(),
                self.last_seq.load(Ordering::Relaxed),
            ),
            (
                "poisoned".into(),
                u64::from(self.poisoned.lock().is_some() || background_failed),
            ),
        ]);
        stats.engine = engine;
        stats
    }
}

impl Drop for Lsm {
    fn drop(&mut self) {
        self.inner.state.lock().shutting_down = true;
        self.inner.bg_cv.notify_all();
        for handle in self.background.drain(..) {
            let _ = handle.join();
        }
        if self.inner.durability == Durability::Buffered {
            // Best effort: a clean close keeps buffered writes.
            let _ = self.inner.wal.lock().sync();
        }
    }
}

impl KvStore for Lsm {
    fn name(&self) -> &str {
        "lsm"
    }

    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner.get(key)
    }

    fn write(&self, batch: &WriteBatch) -> Result<()> {
        self.inner.write(batch)
    }

    fn scan(&self, range: KeyRange) -> Result<ScanIter<'_>> {
        let (seq, mem, imm, version) = self.inner.snapshot();
        let mut children: Vec<Box<dyn InternalIterator>> = vec![Box::new(mem.iter())];
        if let Some(imm) = &imm {
            children.push(Box::new(imm.iter()));
        }
        for t in &version.levels[0] {
            children.push(Box::new(t.reader.iter()));
        }
        for level in 1..LEVELS {
            if !version.levels[level].is_empty() {
                children.push(Box::new(LevelIter::new(version.levels[level].clone())));
            }
        }
        let mut merged = MergeIter::new(children);
        let start = match &range.start {
            std::ops::Bound::Included(k) | std::ops::Bound::Excluded(k) => {
                let mut target = Vec::new();
                ikey::encode(&mut target, k, MAX_SEQ, Kind::Put);
                merged.seek(&target)
            }
            std::ops::Bound::Unbounded => merged.seek_to_first(),
        };
        Ok(Box::new(UserIter {
            merged,
            seq,
            range,
            last_user: None,
            keys: BytesMut::new(),
            failed: start.err(),
            done: false,
            _version: version,
        }))
    }

    fn sync(&self) -> Result<()> {
        self.inner.check_writable()?;
        let result = self.inner.wal.lock().sync();
        if let Err(e) = &result {
            self.inner.poison(e);
        }
        result
    }

    fn settle(&self) -> Result<()> {
        if self.inner.opts.compaction == CompactionStyle::Leveled {
            // The settled shape has an empty level 0, so a read asks one table per level.
            self.inner.settle_level0()?;
        } else {
            self.inner.force_flush(false)?;
        }
        self.inner.wait_idle()?;
        self.inner.give_back_wal_room()
    }

    fn stats(&self) -> Stats {
        self.inner.stats()
    }

    fn disk_usage(&self) -> Result<u64> {
        vfs::dir_size(self.inner.vfs.as_ref(), &self.inner.dir)
    }

    fn check(&self) -> Result<()> {
        Lsm::check(self).map(|_| ())
    }
}

/// Bytes of the buffers a scan copies its keys into.
const KEY_CHUNK: usize = 16 << 10;

/// Turns the merged internal entries into what a user sees at one snapshot: the newest
/// version of each key, no deletions, only keys in the range.
struct UserIter {
    merged: MergeIter,
    seq: u64,
    range: KeyRange,
    last_user: Option<Vec<u8>>,
    /// Where the keys handed out are copied: a chunk of [`KEY_CHUNK`] bytes is cut into
    /// keys, so a scan allocates once per chunk rather than once per key (malloc and free
    /// were 15% of a full scan's time).
    keys: BytesMut,
    failed: Option<Error>,
    done: bool,
    /// Keeps every table of the snapshot alive until the scan ends.
    _version: Arc<Version>,
}

impl UserIter {
    fn step(&mut self) -> Result<Option<(Bytes, Bytes)>> {
        while self.merged.valid() {
            let key = self.merged.key();
            let (user, seq, kind) = ikey::decode(key)
                .ok_or_else(|| Error::corruption("scan", 0, "undecodable internal key"))?;
            if seq > self.seq || self.last_user.as_deref() == Some(user) {
                self.merged.next()?;
                continue;
            }
            if !self.range.before_end(user) {
                return Ok(None);
            }
            match &mut self.last_user {
                Some(last) => {
                    last.clear();
                    last.extend_from_slice(user);
                }
                None => self.last_user = Some(user.to_vec()),
            }
            let item = (kind == Kind::Put && self.range.after_start(user)).then(|| {
                if self.keys.capacity() < user.len() {
                    self.keys = BytesMut::with_capacity(KEY_CHUNK.max(user.len()));
                }
                self.keys.extend_from_slice(user);
                (self.keys.split().freeze(), self.merged.value())
            });
            self.merged.next()?;
            if item.is_some() {
                return Ok(item);
            }
        }
        Ok(None)
    }
}

impl Iterator for UserIter {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Some(e) = self.failed.take() {
            self.done = true;
            return Some(Err(e));
        }
        let step = self.step();
        scan_item(&mut self.done, step)
    }
}
