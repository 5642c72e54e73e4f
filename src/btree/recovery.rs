//! Opening a store: the database file and its header, the WAL cycles after it replayed
//! into the index, a checkpoint a crash cut short finished, the logs cut to their records.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use super::BTreeOptions;
use super::filename::*;
use super::page::Page;
use super::pager::{self, DbHeader, Pager};
use super::wal::{self, WalWriter};
use crate::error::{Error, Result};
use crate::format::intmap::IntMap;
use crate::identity;
use crate::kv::Options;
use crate::vfs::{self, Counted, FileKind, Vfs};

use super::{db::*, shared::*, snapshot::*, wal_index::*};

/// One WAL cycle as recovery reads it.
pub(super) struct CycleLog {
    pub(super) commits: Vec<wal::Commit>,
    /// Where its intact records end.
    pub(super) valid: u64,
    /// The file's bytes and path.
    pub(super) bytes: Bytes,
    pub(super) path: PathBuf,
}

/// Opens the database file, creating it for a new store (or one whose creation a crash
/// cut short). Returns the file and what its header page says.
pub(super) fn open_db_file(
    vfs: &dyn Vfs,
    dir: &Path,
    opts: &BTreeOptions,
) -> Result<(Box<dyn vfs::VfsFile>, Result<DbHeader>)> {
    let db_path = dir.join(DB_FILE);
    // The WAL files are created only once the database file's header page is durable
    // (below, in `BTree::open`): with either of them present, the store was created
    // whole, and an empty or missing database file has lost its contents.
    let mut wal_exists = false;
    for name in WAL_FILES {
        wal_exists |= vfs.exists(&dir.join(name))?;
    }
    if vfs.exists(&db_path)? {
        let db = vfs.open(&db_path, FileKind::Page)?;
        let header = pager::read_header(db.as_ref(), &db_path);
        if header.is_ok() || wal_exists || db.len()? > 0 {
            return Ok((db, header));
        }
        // An empty file and no WAL: the store was being created when a crash came, before
        // the header page became durable. Start it again.
        drop(db);
        vfs.remove(&db_path)?;
    } else if wal_exists {
        return Err(Error::corruption(
            &db_path,
            0,
            "the database file is missing, but its WAL files exist",
        ));
    }
    let db = vfs.create(&db_path, FileKind::Page)?;
    let header = DbHeader::new(opts.page_size as u32);
    db.write_at(&header.encode(), 0)?;
    db.sync()?;
    vfs.sync_dir(dir)?;
    Ok((db, Ok(header)))
}

impl BTree {
    /// Opens or creates the store in `dir`.
    pub fn open(dir: &Path, options: Options) -> Result<BTree> {
        let opts = options.btree.clone();
        opts.validate()?;
        let vfs = Arc::new(Counted::new(options.vfs.clone()));
        let lock = identity::claim(vfs.as_ref(), dir, "btree", FORMAT)?;
        let db_path = dir.join(DB_FILE);

        let (db, header_in_file) = open_db_file(vfs.as_ref(), dir, &opts)?;
        // Recovery trusts what the files show, and the store will serve it: a buffered
        // commit, or one whose sync failed, may be in the page cache only, so make every
        // file durable as it is read (a power failure after this open must not take back
        // what it served).
        db.sync()?;
        for name in WAL_FILES {
            let path = dir.join(name);
            if vfs.exists(&path)? {
                vfs.open(&path, FileKind::Wal)?.sync()?;
            } else {
                vfs.create(&path, FileKind::Wal)?.sync()?;
            }
        }
        vfs.sync_dir(dir)?;
        // The file's header says which WAL cycle holds the commits after its state; the
        // cycle after it may have begun in the other file.
        let file_header = header_in_file?;
        let first = file_header.wal_cycle;
        let read_cycle = |cycle: u64| -> Result<CycleLog> {
            let path = dir.join(wal_file(cycle));
            let file = vfs.open(&path, FileKind::Wal)?;
            // Map the WAL rather than read it: it may be hundreds of megabytes.
            let bytes = match file.map()? {
                Some(bytes) => bytes,
                None => Bytes::from(file.read_all()?),
            };
            let (commits, valid) = wal::read_commits(&bytes, &path, cycle)?;
            if let Some(last) = commits.last()
                && last.header.page_size != file_header.page_size
            {
                return Err(Error::corruption(
                    &path,
                    0,
                    format!(
                        "WAL pages of {} bytes, database pages of {}",
                        last.header.page_size, file_header.page_size
                    ),
                ));
            }
            Ok(CycleLog {
                commits,
                valid,
                bytes,
                path,
            })
        };
        let first_log = read_cycle(first)?;
        let next_log = read_cycle(first + 1)?;
        // With commits in the next cycle, the first is the frozen one whose checkpoint a
        // crash cut short.
        let (frozen, active, cycle) = if next_log.commits.is_empty() {
            (None, first_log, first)
        } else {
            (Some(first_log), next_log, first + 1)
        };
        let header = active
            .commits
            .last()
            .or(frozen.as_ref().and_then(|f| f.commits.last()))
            .map_or(file_header, |c| c.header);
        let page_size = header.page_size as usize;
        let pages_in_file = db.len()? / page_size as u64;
        if pages_in_file < file_header.page_count {
            return Err(Error::corruption(
                &db_path,
                0,
                format!(
                    "header says {} pages, the file holds {pages_in_file}",
                    file_header.page_count
                ),
            ));
        }
        // Replay: each page's deltas onto the database file's page (or zeros), the frozen
        // cycle first; every page either cycle changed is checked as the cycle leaves it.
        let mut pages = IntMap::default();
        let mut read_base = |n: u64, buf: &mut [u8]| -> Result<()> {
            if n >= pages_in_file {
                return Err(Error::corruption(
                    &db_path,
                    n * page_size as u64,
                    format!("a WAL delta of page {n}, which the database file does not hold"),
                ));
            }
            db.read_exact_at(buf, n * page_size as u64)
        };
        let mut index_of = |generation: u64, log: &CycleLog| -> Result<CycleIndex> {
            let changed = wal::replay(
                &log.commits,
                &log.bytes,
                &log.path,
                &mut pages,
                page_size,
                &mut read_base,
            )?;
            let mut index = CycleIndex::new(generation);
            for (n, at) in changed {
                let data = pages[&n].clone();
                let page = Page::decode_at(n, data, &log.path, at)?;
                index.add(at, Arc::new(page));
            }
            Ok(index)
        };
        let frozen_index = frozen.as_ref().map(|f| index_of(first, f)).transpose()?;
        let index = WalIndex {
            active: index_of(cycle, &active)?,
            frozen: frozen_index,
        };
        drop(pages);
        let valid = active.valid;
        let frozen_header = frozen
            .as_ref()
            .map(|f| f.commits.last().map_or(file_header, |c| c.header));
        drop((active, frozen));

        let open_wal = |cycle: u64| vfs.open(&dir.join(wal_file(cycle)), FileKind::Wal);
        let active_file = open_wal(cycle)?;
        if valid < active_file.len()? {
            // A torn tail, or records of an earlier cycle: cut them off, so that nothing
            // old is left behind the records to come.
            active_file.truncate(valid)?;
            active_file.sync()?;
        }
        let other_file = open_wal(cycle + 1)?;
        if frozen_header.is_none() && other_file.len()? > 0 {
            // The other file holds a checkpointed cycle, or the torn start of the next
            // one: either way nothing, and nothing of it may be left behind the records
            // the next cycle writes there.
            other_file.truncate(0)?;
            other_file.sync()?;
        }
        let pager = Pager::new(db, page_size, opts.pool_size, opts.mmap_reads)?;
        let map = pager.mapping();
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            vfs,
            pager,
            index: RwLock::new(index),
            current: RwLock::new(Arc::new(Snapshot {
                generation: cycle,
                end: valid,
                header,
                map,
                after_frozen: frozen_header.is_some(),
                pinned: RwLock::default(),
            })),
            retired: Mutex::new(Vec::new()),
            poisoned: Mutex::new(None),
            spare: Mutex::new(Vec::new()),
            counters: Counters::default(),
        });
        if let Some(db_header) = frozen_header {
            // Both cycles have commits: a crash came while the first was checkpointed.
            // Finish that now, so the store opens with one cycle to replay at most.
            shared.checkpoint(
                first,
                DbHeader {
                    wal_cycle: cycle,
                    ..db_header
                },
            )?;
        }
        // Records under 16 KiB grow the file in steps of an eighth of the limit, records
        // over 512 KiB (1 KiB at the tests' tiny sizes, so that their crashes land among
        // the pieces of a record too) go out in pieces.
        let step = (opts.wal_limit / 8).clamp(4096, 1 << 20);
        let spill = (opts.wal_limit / 512).clamp(1 << 10, 512 << 10) as usize;
        let logs = wal::by_file(
            cycle,
            [
                WalWriter::new(active_file, valid, step, spill)?,
                WalWriter::new(other_file, 0, step, spill)?,
            ],
        );
        Ok(BTree {
            shared,
            writer: Mutex::new(Writer {
                logs,
                cycle,
                record: Vec::new(),
                checkpoint: None,
            }),
            opts,
            durability: options.durability,
            _lock: lock,
        })
    }
}
