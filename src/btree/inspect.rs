//! `kvlab inspect` for a B+tree directory: the header, the WAL's commits, and the tree as
//! of the newest commit (height, pages by kind, fill, free list), read without opening
//! the store (no recovery runs, nothing is written), in the spirit of sqlite3_analyzer.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use super::access::PageRead;
use super::check;
use super::filename::{DB_FILE, wal_file};
use super::page::Page;
use super::pager::{self, DbHeader};
use super::wal;
use crate::error::Result;
use crate::format::intmap::IntMap;
use crate::vfs::{FileKind, Vfs, VfsFile};

/// The pages of the newest commit, read straight from the files.
struct FileView {
    db: Box<dyn VfsFile>,
    db_path: PathBuf,
    /// The pages the WAL's commits changed, replayed onto the database file's.
    replayed: IntMap<u64, Vec<u8>>,
    /// Where each replayed page's last delta is, to name in an error.
    last_delta: IntMap<u64, (PathBuf, u64)>,
    page_size: usize,
}

impl PageRead for FileView {
    fn read(&self, n: u64) -> Result<Arc<Page>> {
        if let (Some(data), Some((path, at))) = (self.replayed.get(&n), self.last_delta.get(&n)) {
            return Ok(Arc::new(Page::decode_at(n, data.clone(), path, *at)?));
        }
        let mut data = vec![0u8; self.page_size];
        let offset = n * self.page_size as u64;
        self.db.read_exact_at(&mut data, offset)?;
        Ok(Arc::new(Page::decode_at(n, data, &self.db_path, offset)?))
    }

    fn page_size(&self) -> usize {
        self.page_size
    }
}

fn describe_header(out: &mut String, h: &DbHeader) {
    let _ = writeln!(
        out,
        "  root {}, height {}, {} entries, {} pages ({} leaves, {} internal, {} overflow, {} free; \
         free list head {}), transaction {}, WAL cycle {}",
        h.root,
        h.height,
        h.entries,
        h.page_count,
        h.leaves,
        h.internals,
        h.overflows,
        h.free_count,
        h.free_head,
        h.txn,
        h.wal_cycle
    );
}

/// A description of the B+tree store in `dir`.
pub fn describe(vfs: &dyn Vfs, dir: &Path) -> Result<String> {
    let mut out = String::new();
    let db_path = dir.join(DB_FILE);
    let db = vfs.open(&db_path, FileKind::Page)?;
    let file_header = pager::read_header(db.as_ref(), &db_path)?;
    let page_size = file_header.page_size as usize;
    let _ = writeln!(
        out,
        "database file {DB_FILE}: {} bytes, pages of {page_size} bytes; its header (the last checkpoint):",
        db.len()?
    );
    describe_header(&mut out, &file_header);

    // The cycle the header names, then the one after it (begun in the other file while
    // a checkpoint of the first was under way).
    let read = |cycle: u64| -> Result<(Bytes, PathBuf)> {
        let path = dir.join(wal_file(cycle));
        let bytes = if vfs.exists(&path)? {
            Bytes::from(vfs.open(&path, FileKind::Wal)?.read_all()?)
        } else {
            Bytes::new()
        };
        Ok((bytes, path))
    };
    let first = file_header.wal_cycle;
    let mut replayed = IntMap::default();
    let mut last_delta = IntMap::default();
    let mut header = file_header;
    let wals = wal::by_file(first, [read(first)?, read(first + 1)?]);
    for cycle in [first, first + 1] {
        let (wal, path) = &wals[wal::file_of(cycle)];
        let (commits, valid) = wal::read_commits(wal, path, cycle)?;
        let deltas: usize = commits.iter().map(|c| c.deltas.len()).sum();
        let _ = writeln!(
            out,
            "\nWAL {}: {} bytes; cycle {cycle}: {} commits{}, {deltas} page deltas, {valid} bytes{}",
            wal_file(cycle),
            wal.len(),
            commits.len(),
            match (commits.first(), commits.last()) {
                (Some(a), Some(b)) => format!(" (transactions {} to {})", a.txn, b.txn),
                _ => String::new(),
            },
            if (valid as usize) < wal.len() {
                " (the rest: a torn tail or records of an earlier cycle)"
            } else {
                ""
            }
        );
        let mut read_base = |n: u64, buf: &mut [u8]| db.read_exact_at(buf, n * page_size as u64);
        let changed = wal::replay(
            &commits,
            wal,
            path,
            &mut replayed,
            page_size,
            &mut read_base,
        )?;
        for (n, at) in changed {
            last_delta.insert(n, (path.clone(), at));
        }
        if let Some(last) = commits.last() {
            header = last.header;
        }
    }
    if header != file_header {
        let _ = writeln!(out, "  the newest commit's header:");
        describe_header(&mut out, &header);
    }

    let view = FileView {
        db,
        db_path,
        replayed,
        last_delta,
        page_size,
    };
    match check::check(&view, &header) {
        Ok(report) => {
            let _ = writeln!(
                out,
                "\ntree: height {}, {} leaves, {} internal pages, {} overflow pages, {} free pages, \
                 {} entries; pages {:.1}% full on average\nleaf fill:",
                report.height,
                report.leaves,
                report.internals,
                report.overflows,
                report.free,
                report.entries,
                100.0 * report.average_fill(page_size)
            );
            let most = report.fill.iter().copied().max().unwrap_or(0).max(1);
            for (tenth, &count) in report.fill.iter().enumerate() {
                let label = if tenth == 10 {
                    "100%".to_string()
                } else {
                    format!("{:>3}-{}%", tenth * 10, tenth * 10 + 9)
                };
                let bar = "#".repeat((count * 40).div_ceil(most) as usize);
                let _ = writeln!(out, "  {label:>7} {count:>8} {bar}");
            }
            let _ = writeln!(
                out,
                "check: every page reachable or free exactly once, keys in order"
            );
        }
        Err(e) => {
            let _ = writeln!(out, "\ncheck FAILED: {e}");
        }
    }
    Ok(out)
}
