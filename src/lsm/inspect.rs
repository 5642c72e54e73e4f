//! `kvlab inspect` for an LSM directory: levels, tables, key ranges, filters and WALs, read
//! without opening the store (no recovery runs, nothing is written).

use std::fmt::Write;
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

/// A description of the store in `dir`.
pub fn describe(vfs: &dyn Vfs, dir: &Path) -> Result<String> {
    let mut out = String::new();
    let names = vfs.list(dir)?;
    let Some(manifest) = read_manifest(vfs, dir)? else {
        return Ok("lsm store with no CURRENT: created, never written (or damaged)\n".into());
    };
    let _ = writeln!(
        out,
        "manifest {} ({} edits): next file {}, last sequence {}, WALs from {:06}.log",
        manifest.name, manifest.edits, manifest.next_file, manifest.last_seq, manifest.log_number
    );
    let mut total = 0;
    for (level, tables) in manifest.levels.iter().enumerate() {
        if tables.is_empty() {
            continue;
        }
        let bytes: u64 = tables.iter().map(|t| t.size).sum();
        total += bytes;
        let _ = writeln!(
            out,
            "\nlevel {level}: {} tables, {bytes} bytes",
            tables.len()
        );
        for t in tables {
            let reader = open_table(vfs, dir, t.number);
            let detail = match &reader {
                Ok(r) => format!(
                    "{} entries, filter {:.1} bits/entry",
                    r.entries(),
                    r.filter_size() as f64 * 8.0 / r.entries().max(1) as f64
                ),
                Err(e) => format!("UNREADABLE: {e}"),
            };
            let _ = writeln!(
                out,
                "  {:06}.sst {:>10} B  {} .. {}  {detail}",
                t.number,
                t.size,
                show_key(&t.smallest),
                show_key(&t.largest)
            );
        }
    }
    let _ = writeln!(out, "\ntables: {total} bytes");
    for number in wal_numbers(&names) {
        let path = wal_path(dir, number);
        let bytes = vfs.open(&path, FileKind::Wal)?.read_all()?;
        let contents = read_wal(&bytes, &path, number)?;
        let rest = bytes.len() - contents.valid_len;
        let _ = writeln!(
            out,
            "wal {number:06}.log: {} records, {} bytes{}",
            contents.records.len(),
            bytes.len(),
            if rest > 0 {
                format!(
                    ", then {rest} bytes of no record (a torn tail, zeros, or an earlier use's records)"
                )
            } else {
                String::new()
            }
        );
    }
    Ok(out)
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
