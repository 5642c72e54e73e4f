//! The LSM store: the state the write path (commit.rs), the background threads
//! (background.rs) and the readers (read.rs) share, opening it, and the trait.
//!
//! # Files in the store directory
//!
//! ```text
//! KVLAB              identity file (engine "lsm")
//! CURRENT            the name of the live manifest, installed atomically
//! MANIFEST-NNNNNN    log of version edits (format/log.rs framing, version.rs payload)
//! NNNNNN.log         write-ahead log of one memtable (format/log.rs framing, wal.rs payload)
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

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};

use super::LsmOptions;
use super::cache::BlockCache;
use super::check;
use super::compaction;
use super::handles::TableHandles;
use super::memtable::Memtable;
use super::sstable::reader::FilterCounters;
use super::version::{LEVELS, TableMeta, Version};
use super::wal_syncer::WalSyncer;
use crate::error::{Error, Result};
use crate::format::log::LogWriter;
use crate::identity::{self, StoreDir};
use crate::kv::{Durability, KeyRange, KvStore, Options, ScanIter, Stats, WriteBatch};
use crate::vfs::{self, Counted, Vfs};

use super::manifest::*;
use super::recovery::*;

/// The on-disk format version of the LSM engine's files.
pub const FORMAT: u32 = 3;

/// Counters kept beside the Vfs counters.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) flushes: AtomicU64,
    pub(super) flush_bytes: AtomicU64,
    pub(super) compactions: AtomicU64,
    pub(super) compaction_bytes_read: AtomicU64,
    pub(super) compaction_bytes_written: AtomicU64,
    /// Tables moved down a level without being rewritten (a move may take several).
    pub(super) moves: AtomicU64,
    pub(super) stalls: AtomicU64,
    pub(super) stall_micros: AtomicU64,
    pub(super) group_commits: AtomicU64,
    pub(super) manifest_rolls: AtomicU64,
}

/// What the background threads and the write leader share.
pub(super) struct State {
    pub(super) mem: Arc<Memtable>,
    pub(super) imm: Option<Arc<Memtable>>,
    pub(super) version: Arc<Version>,
    pub(super) wal_number: u64,
    pub(super) imm_wal_number: Option<u64>,
    /// A WAL whose memtable has been flushed, kept to be written over by the next
    /// memtable's records (`LogWriter::reusing`) rather than deleted.
    pub(super) spare_wal: Option<u64>,
    /// The immutable memtable is a settle's to merge down (`Inner::settle_level0`), not
    /// the flush thread's to write out.
    pub(super) imm_claimed: bool,
    pub(super) next_file: u64,
    /// Set when background work failed; writes are refused from then on.
    pub(super) bg_error: Option<String>,
    pub(super) bg_busy: bool,
    pub(super) shutting_down: bool,
    pub(super) pointers: Vec<Vec<u8>>,
}

/// The commit queue: tickets in arrival order; the front one leads.
#[derive(Default)]
pub(super) struct CommitQueue {
    pub(super) next_ticket: u64,
    pub(super) queue: std::collections::VecDeque<(u64, Bytes, u32)>,
    pub(super) leader_active: bool,
    pub(super) done: std::collections::HashMap<u64, std::result::Result<(), String>>,
}

pub(super) struct Inner {
    pub(super) dir: PathBuf,
    pub(super) vfs: Arc<Counted>,
    pub(super) opts: LsmOptions,
    pub(super) durability: Durability,
    pub(super) cache: Arc<BlockCache>,
    /// The tables' open files.
    pub(super) handles: Arc<TableHandles>,
    pub(super) state: Mutex<State>,
    /// Signals state changes to the background threads and to stalled writers.
    pub(super) bg_cv: Condvar,
    pub(super) wal: Mutex<LogWriter>,
    /// Taken by the commit leader, inside `wal`'s lock.
    pub(super) syncer: Mutex<Option<WalSyncer>>,
    pub(super) manifest: Mutex<Manifest>,
    pub(super) last_seq: AtomicU64,
    pub(super) commit: Mutex<CommitQueue>,
    pub(super) commit_cv: Condvar,
    /// Held by whoever compacts (the compaction thread, `compact_range`): one compaction
    /// is planned and run at a time, so two never take the same tables. A flush does not
    /// take it: it only adds a level-0 table, which no running compaction planned for.
    pub(super) work: Mutex<()>,
    /// Held while a version change is logged and installed, so each edit applies to the
    /// version the one before it made.
    pub(super) install: Mutex<()>,
    /// Set when a WAL append or sync failed.
    pub(super) poisoned: Mutex<Option<String>>,
    /// Held while the directory is synced; says why once a sync of it failed.
    pub(super) dir_sync: Mutex<Option<String>>,
    pub(super) filter: FilterCounters,
    pub(super) counters: Counters,
    pub(super) _lock: StoreDir,
}

/// The LSM tree engine.
pub struct Lsm {
    pub(super) inner: Arc<Inner>,
    /// The flush thread and the compaction thread.
    pub(super) background: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Lsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lsm").field("dir", &self.inner.dir).finish()
    }
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
                if !compaction::policy(self.inner.opts.compaction).drains_level0() {
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

impl Inner {
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
        Ok(Box::new(self.inner.scan(range)))
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
        if compaction::policy(self.inner.opts.compaction).drains_level0() {
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
