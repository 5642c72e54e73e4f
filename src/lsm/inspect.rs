//! `kvlab inspect` for an LSM directory: levels, tables, key ranges, filters and WALs, read
//! without opening the store (no recovery runs, nothing is written).

use std::fmt::{self, Write};
use std::path::Path;
use std::sync::Arc;

use super::cache::BlockCache;
use super::filename::{wal_numbers, wal_path};
use super::ikey;
use super::iter::InternalIterator;
use super::manifest::read_manifest;
use super::sstable::reader::TableReader;
use super::version::table_path;
use super::wal::read_wal;
use crate::error::Result;
use crate::vfs::{FileKind, Vfs};

fn show_key(ikey_bytes: &[u8]) -> String {
    match ikey::decode(ikey_bytes) {
        Some((user, seq, _)) => format!("{}@{seq}", user.escape_ascii()),
        None => format!("{}", ikey_bytes.escape_ascii()),
    }
}

fn open_table(vfs: &dyn Vfs, dir: &Path, number: u64) -> Result<Arc<TableReader>> {
    let path = table_path(dir, number);
    let file = vfs.open(&path, FileKind::Table)?;
    Ok(Arc::new(TableReader::open(
        file,
        &path,
        number,
        Arc::new(BlockCache::new(0)),
        false,
    )?))
}

/// What `inspect` finds in an LSM directory.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "cli", derive(serde::Serialize))]
pub struct LsmInspection {
    /// The current manifest's summary; `None` for a store created and never written.
    pub manifest: Option<ManifestSummary>,
    /// The levels that hold tables, shallowest first.
    pub levels: Vec<LevelSummary>,
    /// The write-ahead logs, oldest first.
    pub wals: Vec<WalSummary>,
}

/// The manifest's state.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "cli", derive(serde::Serialize))]
pub struct ManifestSummary {
    /// Its file name.
    pub name: String,
    /// Edits it holds.
    pub edits: usize,
    /// The next file number to be given out.
    pub next_file: u64,
    /// The last sequence number written to a table.
    pub last_seq: u64,
    /// The oldest WAL still needed.
    pub log_number: u64,
}

/// One level.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "cli", derive(serde::Serialize))]
pub struct LevelSummary {
    /// The level's number.
    pub level: usize,
    /// Bytes of its tables.
    pub bytes: u64,
    /// Its tables, in key order.
    pub tables: Vec<TableSummary>,
}

/// One table.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "cli", derive(serde::Serialize))]
pub struct TableSummary {
    /// The number in NNNNNN.sst.
    pub number: u64,
    /// Bytes.
    pub size: u64,
    /// Its smallest and largest internal keys, as `key@sequence` with bytes escaped.
    pub smallest: String,
    /// See `smallest`.
    pub largest: String,
    /// Entries, if the table could be read.
    pub entries: Option<u64>,
    /// Bloom filter bits per entry, if the table could be read.
    pub filter_bits_per_entry: Option<f64>,
    /// Why the table could not be read, if it could not.
    pub error: Option<String>,
}

/// One write-ahead log.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "cli", derive(serde::Serialize))]
pub struct WalSummary {
    /// The number in NNNNNN.log.
    pub number: u64,
    /// Whole records.
    pub records: usize,
    /// Bytes of the file.
    pub bytes: u64,
    /// Bytes up to the end of the last whole record.
    pub valid_bytes: u64,
}

/// Reads what the store in `dir` holds, without opening it.
pub fn inspect(vfs: &dyn Vfs, dir: &Path) -> Result<LsmInspection> {
    let names = vfs.list(dir)?;
    let Some(manifest) = read_manifest(vfs, dir)? else {
        return Ok(LsmInspection {
            manifest: None,
            levels: Vec::new(),
            wals: Vec::new(),
        });
    };
    let levels = manifest
        .levels
        .iter()
        .enumerate()
        .filter(|(_, tables)| !tables.is_empty())
        .map(|(level, tables)| LevelSummary {
            level,
            bytes: tables.iter().map(|t| t.size).sum(),
            tables: tables
                .iter()
                .map(|t| {
                    let reader = open_table(vfs, dir, t.number);
                    let (entries, filter_bits_per_entry, error) = match &reader {
                        Ok(r) => (
                            Some(r.entries()),
                            Some(r.filter_size() as f64 * 8.0 / r.entries().max(1) as f64),
                            None,
                        ),
                        Err(e) => (None, None, Some(e.to_string())),
                    };
                    TableSummary {
                        number: t.number,
                        size: t.size,
                        smallest: show_key(&t.smallest),
                        largest: show_key(&t.largest),
                        entries,
                        filter_bits_per_entry,
                        error,
                    }
                })
                .collect(),
        })
        .collect();
    let mut wals = Vec::new();
    for number in wal_numbers(&names) {
        let path = wal_path(dir, number);
        let bytes = vfs.open(&path, FileKind::Wal)?.read_all()?;
        let contents = read_wal(&bytes, &path, number)?;
        wals.push(WalSummary {
            number,
            records: contents.records.len(),
            bytes: bytes.len() as u64,
            valid_bytes: contents.valid_len as u64,
        });
    }
    Ok(LsmInspection {
        manifest: Some(ManifestSummary {
            name: manifest.name,
            edits: manifest.edits,
            next_file: manifest.next_file,
            last_seq: manifest.last_seq,
            log_number: manifest.log_number,
        }),
        levels,
        wals,
    })
}

impl fmt::Display for LsmInspection {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(manifest) = &self.manifest else {
            return writeln!(
                out,
                "lsm store with no CURRENT: created, never written (or damaged)"
            );
        };
        writeln!(
            out,
            "manifest {} ({} edits): next file {}, last sequence {}, WALs from {:06}.log",
            manifest.name,
            manifest.edits,
            manifest.next_file,
            manifest.last_seq,
            manifest.log_number
        )?;
        for level in &self.levels {
            writeln!(
                out,
                "\nlevel {}: {} tables, {} bytes",
                level.level,
                level.tables.len(),
                level.bytes
            )?;
            for t in &level.tables {
                let detail = match (&t.error, t.entries, t.filter_bits_per_entry) {
                    (Some(e), _, _) => format!("UNREADABLE: {e}"),
                    (None, Some(entries), Some(bits)) => {
                        format!("{entries} entries, filter {bits:.1} bits/entry")
                    }
                    _ => String::new(),
                };
                writeln!(
                    out,
                    "  {:06}.sst {:>10} B  {} .. {}  {detail}",
                    t.number, t.size, t.smallest, t.largest
                )?;
            }
        }
        let total: u64 = self.levels.iter().map(|l| l.bytes).sum();
        writeln!(out, "\ntables: {total} bytes")?;
        for wal in &self.wals {
            let rest = wal.bytes - wal.valid_bytes;
            writeln!(
                out,
                "wal {:06}.log: {} records, {} bytes{}",
                wal.number,
                wal.records,
                wal.bytes,
                if rest > 0 {
                    format!(
                        ", then {rest} bytes of no record (a torn tail, zeros, or an earlier use's records)"
                    )
                } else {
                    String::new()
                }
            )?;
        }
        Ok(())
    }
}

/// A description of the store in `dir`: [`inspect`], as text.
pub fn describe(vfs: &dyn Vfs, dir: &Path) -> Result<String> {
    Ok(inspect(vfs, dir)?.to_string())
}

/// Every block of table `number` (offset, size, entries, last key), then its first
/// thousand entries.
pub fn dump_table(vfs: &dyn Vfs, dir: &Path, number: u64) -> Result<String> {
    let table = open_table(vfs, dir, number)?;
    let mut out = String::new();
    let blocks = table.blocks();
    let _ = writeln!(
        out,
        "{}: {} entries in {} data blocks, filter {} bytes",
        table.path().display(),
        table.entries(),
        blocks.len(),
        table.filter_size()
    );
    let _ = writeln!(out, "\nblocks (offset, bytes, entries, last key):");
    for (handle, key, seq) in &blocks {
        let block = table.block(*handle)?;
        let mut it = block.iter(ikey::cmp_encoded);
        it.seek_to_first()?;
        let mut entries = 0;
        while it.valid() {
            entries += 1;
            it.advance()?;
        }
        let _ = writeln!(
            out,
            "  {:>10} {:>6} {:>5}  {}@{seq}",
            handle.offset,
            handle.size,
            entries,
            key.escape_ascii()
        );
    }
    let _ = writeln!(out, "\nentries (key@sequence, kind, value bytes):");
    let mut it = table.iter();
    it.seek_to_first()?;
    let mut shown = 0;
    while it.valid() {
        if shown < 1000 {
            let (_, _, kind) = ikey::decode(it.key()).unwrap_or((&[], 0, ikey::Kind::Put));
            let _ = writeln!(
                out,
                "  {} {:?} {} B",
                show_key(it.key()),
                kind,
                it.value().len()
            );
        }
        shown += 1;
        it.next()?;
    }
    if shown > 1000 {
        let _ = writeln!(out, "  ... {} more", shown - 1000);
    }
    Ok(out)
}
