//! Opening a store: the version from the manifest, the WALs replayed and flushed, a new
//! WAL and manifest started, and whatever no version names removed.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use super::LsmOptions;
use super::cache::BlockCache;
use super::compaction;
use super::handles::TableHandles;
use super::iter::InternalIterator;
use super::memtable::Memtable;
use super::version::{TableFile, TableMeta, Version, VersionEdit, table_path};
use crate::error::{Error, Result};
use crate::format::log::LogWriter;
use crate::vfs::{Counted, FileKind, Vfs};

use super::{filename::*, manifest::*, wal::*};

/// What recovery hands to the open store.
pub(super) struct Recovered {
    pub(super) version: Version,
    pub(super) wal: LogWriter,
    pub(super) wal_number: u64,
    pub(super) manifest: Manifest,
    pub(super) next_file: u64,
    pub(super) last_seq: u64,
}

/// Rebuilds the tree from the manifest and the WALs, flushes what the WALs held into a
/// level-0 table, starts a new WAL and a new manifest, and removes what is obsolete.
/// Every step leaves the previous state recoverable until CURRENT names the new manifest.
pub(super) fn recover(
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
        last_seq = last_seq.max(replay_wal(&bytes, &path, number, &mem)?);
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
