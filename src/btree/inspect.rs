//! `kvlab inspect` for a B+tree directory: the header, the WAL's commits, and the tree as
//! of the newest commit (height, pages by kind, fill, free list), read without opening
//! the store (no recovery runs, nothing is written), in the spirit of sqlite3_analyzer.

use std::fmt;
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

/// A header's counts, as the inspector shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(serde::Serialize))]
pub struct HeaderSummary {
    /// The root page (0: an empty tree).
    pub root: u64,
    /// Levels of the tree.
    pub height: u64,
    /// Keys.
    pub entries: u64,
    /// Pages in the file, the header's included.
    pub page_count: u64,
    /// Leaf pages.
    pub leaves: u64,
    /// Internal pages.
    pub internals: u64,
    /// Overflow pages.
    pub overflows: u64,
    /// Pages on the free list.
    pub free_count: u64,
    /// The free list's first page.
    pub free_head: u64,
    /// The last transaction.
    pub txn: u64,
    /// The WAL cycle to replay from.
    pub wal_cycle: u64,
}

impl From<&DbHeader> for HeaderSummary {
    fn from(h: &DbHeader) -> Self {
        HeaderSummary {
            root: h.root,
            height: h.height,
            entries: h.entries,
            page_count: h.page_count,
            leaves: h.leaves,
            internals: h.internals,
            overflows: h.overflows,
            free_count: h.free_count,
            free_head: h.free_head,
            txn: h.txn,
            wal_cycle: h.wal_cycle,
        }
    }
}

/// One WAL cycle, as read from its file.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "cli", derive(serde::Serialize))]
pub struct WalCycleSummary {
    /// The file that holds it.
    pub file: String,
    /// Bytes of that file.
    pub file_bytes: u64,
    /// The cycle's number.
    pub cycle: u64,
    /// Whole commits of the cycle.
    pub commits: usize,
    /// The first and last commit's transactions.
    pub transactions: Option<(u64, u64)>,
    /// Page deltas in those commits.
    pub page_deltas: usize,
    /// Bytes up to the end of the last whole commit.
    pub valid_bytes: u64,
}

/// What `inspect` finds in a B+tree directory.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "cli", derive(serde::Serialize))]
pub struct BTreeInspection {
    /// Bytes of the database file.
    pub file_bytes: u64,
    /// Bytes per page.
    pub page_size: usize,
    /// The database file's header: the last checkpoint.
    pub checkpoint: HeaderSummary,
    /// The cycle the header names, then the next.
    pub wal: Vec<WalCycleSummary>,
    /// The newest commit's header (the checkpoint's if the WAL has no commit).
    pub newest: HeaderSummary,
    /// The tree as of the newest commit, walked and checked.
    pub tree: Option<check::Report>,
    /// Why the check failed, if it did.
    pub check_error: Option<String>,
}

fn describe_header(out: &mut fmt::Formatter<'_>, h: &HeaderSummary) -> fmt::Result {
    writeln!(
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
    )
}

/// Reads what the B+tree store in `dir` holds, without opening it.
pub fn inspect(vfs: &dyn Vfs, dir: &Path) -> Result<BTreeInspection> {
    let db_path = dir.join(DB_FILE);
    let db = vfs.open(&db_path, FileKind::Page)?;
    let file_header = pager::read_header(db.as_ref(), &db_path)?;
    let page_size = file_header.page_size as usize;
    let file_bytes = db.len()?;

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
    let mut cycles = Vec::new();
    let wals = wal::by_file(first, [read(first)?, read(first + 1)?]);
    for cycle in [first, first + 1] {
        let (wal, path) = &wals[wal::file_of(cycle)];
        let (commits, valid) = wal::read_commits(wal, path, cycle)?;
        cycles.push(WalCycleSummary {
            file: wal_file(cycle).to_string(),
            file_bytes: wal.len() as u64,
            cycle,
            commits: commits.len(),
            transactions: commits
                .first()
                .zip(commits.last())
                .map(|(a, b)| (a.txn, b.txn)),
            page_deltas: commits.iter().map(|c| c.deltas.len()).sum(),
            valid_bytes: valid,
        });
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
    let view = FileView {
        db,
        db_path,
        replayed,
        last_delta,
        page_size,
    };
    let (tree, check_error) = match check::check(&view, &header) {
        Ok(report) => (Some(report), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(BTreeInspection {
        file_bytes,
        page_size,
        checkpoint: HeaderSummary::from(&file_header),
        wal: cycles,
        newest: HeaderSummary::from(&header),
        tree,
        check_error,
    })
}

impl fmt::Display for BTreeInspection {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            out,
            "database file {DB_FILE}: {} bytes, pages of {} bytes; its header (the last checkpoint):",
            self.file_bytes, self.page_size
        )?;
        describe_header(out, &self.checkpoint)?;
        for c in &self.wal {
            writeln!(
                out,
                "\nWAL {}: {} bytes; cycle {}: {} commits{}, {} page deltas, {} bytes{}",
                c.file,
                c.file_bytes,
                c.cycle,
                c.commits,
                match c.transactions {
                    Some((a, b)) => format!(" (transactions {a} to {b})"),
                    None => String::new(),
                },
                c.page_deltas,
                c.valid_bytes,
                if c.valid_bytes < c.file_bytes {
                    " (the rest: a torn tail or records of an earlier cycle)"
                } else {
                    ""
                }
            )?;
        }
        if self.newest != self.checkpoint {
            writeln!(out, "  the newest commit's header:")?;
            describe_header(out, &self.newest)?;
        }
        match (&self.tree, &self.check_error) {
            (Some(report), _) => {
                writeln!(
                    out,
                    "\ntree: height {}, {} leaves, {} internal pages, {} overflow pages, {} free pages, \
                     {} entries; pages {:.1}% full on average\nleaf fill:",
                    report.height,
                    report.leaves,
                    report.internals,
                    report.overflows,
                    report.free,
                    report.entries,
                    100.0 * report.average_fill(self.page_size)
                )?;
                let most = report.fill.iter().copied().max().unwrap_or(0).max(1);
                for (tenth, &count) in report.fill.iter().enumerate() {
                    let label = if tenth == 10 {
                        "100%".to_string()
                    } else {
                        format!("{:>3}-{}%", tenth * 10, tenth * 10 + 9)
                    };
                    let bar = "#".repeat((count * 40).div_ceil(most) as usize);
                    writeln!(out, "  {label:>7} {count:>8} {bar}")?;
                }
                writeln!(
                    out,
                    "check: every page reachable or free exactly once, keys in order"
                )
            }
            (None, error) => writeln!(
                out,
                "\ncheck FAILED: {}",
                error.as_deref().unwrap_or("no report")
            ),
        }
    }
}

/// A description of the B+tree store in `dir`: [`inspect`], as text.
pub fn describe(vfs: &dyn Vfs, dir: &Path) -> Result<String> {
    Ok(inspect(vfs, dir)?.to_string())
}
