//! The manifest (a log of version edits) and CURRENT (the name of the live one): reading
//! them at open, and writing a new manifest that holds the version whole.

use std::path::Path;

use super::version::{LEVELS, TableMeta, Version, VersionEdit};
use crate::error::{Error, Result};
use crate::format::coding::Reader;
use crate::format::log::{self, LogWriter};
use crate::vfs::{self, FileKind, Vfs};

use super::filename::*;

/// The live manifest: its log, its file number, and the WAL number its edits have
/// reached (what a new manifest's first record must repeat).
pub(super) struct Manifest {
    pub(super) log: LogWriter,
    pub(super) number: u64,
    pub(super) log_number: u64,
}

pub(super) fn read_current(vfs: &dyn Vfs, dir: &Path) -> Result<Option<String>> {
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

/// An edit that adds every table of `version` at its level: the first record of a new
/// manifest.
pub(super) fn whole_version(version: &Version) -> VersionEdit {
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
pub(super) fn write_manifest(
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
