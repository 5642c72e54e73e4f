//! Versions: which tables make up the tree, level by level, and the edits between them.
//!
//! A [`Version`] is immutable; a flush or compaction makes a new one by applying a
//! [`VersionEdit`], which is also what the manifest logs. Readers and scans hold an
//! `Arc<Version>`, and each table an `Arc<TableFile>`: a table that compaction replaced is
//! marked obsolete and its file is deleted when the last version or scan that uses it lets
//! go.
//!
//! # Version edit format (one manifest record each; see docs/FORMATS.md)
//!
//! A sequence of tagged fields. DO NOT CHANGE THE TAG VALUES.
//!
//! ```text
//! 1 log number     varint     WAL files below this number are fully flushed
//! 2 next file      varint     the next file number to hand out
//! 3 last sequence  varint     the highest sequence number in any table
//! 4 add table      level u8, number varint, size varint,
//!                  smallest (len varint, bytes), largest (len varint, bytes)
//! 5 remove table   level u8, number varint
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use super::cache::BlockCache;
use super::handles::TableHandles;
use super::ikey;
use super::sstable::reader::TableReader;
use crate::error::Result;
use crate::format::coding::{Reader, put_varint};
use crate::vfs::Vfs;

/// Levels in the tree.
pub const LEVELS: usize = 7;

const TAG_LOG_NUMBER: u8 = 1;
const TAG_NEXT_FILE: u8 = 2;
const TAG_LAST_SEQ: u8 = 3;
const TAG_ADD: u8 = 4;
const TAG_REMOVE: u8 = 5;

/// A table as the manifest describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableMeta {
    /// File number (`NNNNNN.sst`).
    pub number: u64,
    /// Bytes of the file.
    pub size: u64,
    /// Smallest encoded internal key.
    pub smallest: Vec<u8>,
    /// Largest encoded internal key.
    pub largest: Vec<u8>,
}

impl TableMeta {
    /// The smallest user key.
    pub fn smallest_user(&self) -> &[u8] {
        &self.smallest[..self.smallest.len().saturating_sub(ikey::TRAILER_LEN)]
    }

    /// The largest user key.
    pub fn largest_user(&self) -> &[u8] {
        &self.largest[..self.largest.len().saturating_sub(ikey::TRAILER_LEN)]
    }

    /// Whether the table's user-key range meets `[lo, hi]`.
    pub fn overlaps(&self, lo: &[u8], hi: &[u8]) -> bool {
        self.smallest_user() <= hi && self.largest_user() >= lo
    }
}

/// A change from one version to the next.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionEdit {
    /// New log number.
    pub log_number: Option<u64>,
    /// New next file number.
    pub next_file: Option<u64>,
    /// New last sequence number.
    pub last_seq: Option<u64>,
    /// Tables added, with their level.
    pub added: Vec<(usize, TableMeta)>,
    /// Tables removed: (level, number).
    pub removed: Vec<(usize, u64)>,
}

impl VersionEdit {
    /// The edit's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (tag, v) in [
            (TAG_LOG_NUMBER, self.log_number),
            (TAG_NEXT_FILE, self.next_file),
            (TAG_LAST_SEQ, self.last_seq),
        ] {
            if let Some(v) = v {
                out.push(tag);
                put_varint(&mut out, v);
            }
        }
        for (level, t) in &self.added {
            out.push(TAG_ADD);
            out.push(*level as u8);
            put_varint(&mut out, t.number);
            put_varint(&mut out, t.size);
            for key in [&t.smallest, &t.largest] {
                put_varint(&mut out, key.len() as u64);
                out.extend_from_slice(key);
            }
        }
        for (level, number) in &self.removed {
            out.push(TAG_REMOVE);
            out.push(*level as u8);
            put_varint(&mut out, *number);
        }
        out
    }

    /// Decodes an edit from a manifest record.
    pub fn decode(mut r: Reader<'_>) -> Result<VersionEdit> {
        let mut edit = VersionEdit::default();
        while r.remaining() > 0 {
            let tag = r.u8()?;
            match tag {
                TAG_LOG_NUMBER => edit.log_number = Some(r.varint()?),
                TAG_NEXT_FILE => edit.next_file = Some(r.varint()?),
                TAG_LAST_SEQ => edit.last_seq = Some(r.varint()?),
                TAG_ADD => {
                    let level = level(&mut r)?;
                    let number = r.varint()?;
                    let size = r.varint()?;
                    let mut key = || -> Result<Vec<u8>> {
                        let len = r.len(crate::MAX_KEY_LEN + ikey::TRAILER_LEN)?;
                        if len < ikey::TRAILER_LEN {
                            return Err(r.corrupt("table bound shorter than a trailer"));
                        }
                        Ok(r.bytes(len)?.to_vec())
                    };
                    let smallest = key()?;
                    let largest = key()?;
                    edit.added.push((
                        level,
                        TableMeta {
                            number,
                            size,
                            smallest,
                            largest,
                        },
                    ));
                }
                TAG_REMOVE => {
                    let level = level(&mut r)?;
                    edit.removed.push((level, r.varint()?));
                }
                _ => return Err(r.corrupt(format!("unknown version edit tag {tag}"))),
            }
        }
        Ok(edit)
    }
}

fn level(r: &mut Reader<'_>) -> Result<usize> {
    let level = usize::from(r.u8()?);
    if level >= LEVELS {
        return Err(r.corrupt(format!("level {level} of {LEVELS}")));
    }
    Ok(level)
}

/// The name of table `number` in `dir`.
pub fn table_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.sst"))
}

/// An open table file shared by versions and scans.
pub struct TableFile {
    /// What the manifest says of it.
    pub meta: TableMeta,
    /// The open reader.
    pub reader: Arc<TableReader>,
    obsolete: AtomicBool,
    vfs: Arc<dyn Vfs>,
    path: PathBuf,
    cache: Arc<BlockCache>,
    handles: Arc<TableHandles>,
}

impl std::fmt::Debug for TableFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableFile")
            .field("meta", &self.meta)
            .finish()
    }
}

impl TableFile {
    /// Opens table `meta.number` in `dir` (`mmap`: read it through a mapping), its
    /// handle kept among `handles`.
    pub fn open(
        vfs: Arc<dyn Vfs>,
        dir: &Path,
        meta: TableMeta,
        cache: Arc<BlockCache>,
        handles: Arc<TableHandles>,
        mmap: bool,
    ) -> Result<Self> {
        let path = table_path(dir, meta.number);
        let file = vfs.open(&path, crate::vfs::FileKind::Table)?;
        let reader = Arc::new(TableReader::open_in(
            file,
            &path,
            meta.number,
            Arc::clone(&cache),
            mmap,
            &handles,
        )?);
        Ok(TableFile {
            meta,
            reader,
            obsolete: AtomicBool::new(false),
            vfs,
            path,
            cache,
            handles,
        })
    }

    /// Marks the file for deletion once nothing uses it.
    pub fn mark_obsolete(&self) {
        self.obsolete.store(true, Relaxed);
        self.handles.mark_replaced(self.meta.number);
    }
}

impl Drop for TableFile {
    fn drop(&mut self) {
        if self.obsolete.load(Relaxed) {
            // Best effort: a leftover file is found and removed at the next open.
            self.handles.forget(self.meta.number);
            let _ = self.vfs.remove(&self.path);
            self.cache.forget_table(self.meta.number);
        }
    }
}

/// The tables of the tree at one moment.
#[derive(Clone, Debug, Default)]
pub struct Version {
    /// Level 0 holds flushed memtables, newest first, ranges overlapping. Levels 1 and
    /// below hold tables sorted by key with disjoint ranges.
    pub levels: Vec<Vec<Arc<TableFile>>>,
    /// Per level, the first 8 bytes of each table's largest user key, big-endian: a get
    /// binary searches these integers rather than following each probed table to its key
    /// (two cache misses a probe, 4% of a random get).
    largest_prefixes: Vec<Vec<u64>>,
}

impl Version {
    /// An empty tree.
    pub fn empty() -> Self {
        Version {
            levels: vec![Vec::new(); LEVELS],
            largest_prefixes: vec![Vec::new(); LEVELS],
        }
    }

    /// Bytes of the tables in `level`.
    pub fn level_size(&self, level: usize) -> u64 {
        self.levels[level].iter().map(|t| t.meta.size).sum()
    }

    /// Every table number in the version.
    pub fn numbers(&self) -> impl Iterator<Item = u64> + '_ {
        self.levels.iter().flatten().map(|t| t.meta.number)
    }

    /// A new version: this one with `edit` applied, opening added tables through `open`.
    pub fn apply(
        &self,
        edit: &VersionEdit,
        mut open: impl FnMut(&TableMeta) -> Result<Arc<TableFile>>,
    ) -> Result<Version> {
        let mut next = self.clone();
        // A table removed and added by one edit moved between levels: it stays open.
        let mut removed = Vec::new();
        for &(level, number) in &edit.removed {
            next.levels[level].retain(|t| {
                let keep = t.meta.number != number;
                if !keep {
                    removed.push(Arc::clone(t));
                }
                keep
            });
        }
        for (level, meta) in &edit.added {
            let table = match removed.iter().find(|t| t.meta.number == meta.number) {
                Some(moved) => Arc::clone(moved),
                None => open(meta)?,
            };
            next.levels[*level].push(table);
        }
        // L0: newest (highest number) first. Below: by smallest key.
        next.levels[0].sort_by_key(|t| std::cmp::Reverse(t.meta.number));
        for level in &mut next.levels[1..] {
            level.sort_by(|a, b| ikey::cmp_encoded(&a.meta.smallest, &b.meta.smallest));
        }
        next.largest_prefixes = next
            .levels
            .iter()
            .map(|tables| {
                tables
                    .iter()
                    .map(|t| ikey::first_8_be(t.meta.largest_user()))
                    .collect()
            })
            .collect();
        Ok(next)
    }

    /// The tables of `level` (1 and below) whose range meets `[lo, hi]`.
    pub fn overlapping(&self, level: usize, lo: &[u8], hi: &[u8]) -> Vec<Arc<TableFile>> {
        self.levels[level]
            .iter()
            .filter(|t| t.meta.overlaps(lo, hi))
            .cloned()
            .collect()
    }

    /// In a sorted level, the one table whose range may hold `user_key`.
    pub fn find_in_level(&self, level: usize, user_key: &[u8]) -> Option<&Arc<TableFile>> {
        let tables = &self.levels[level];
        let i = ikey::partition_by_prefix(&self.largest_prefixes[level], tables, user_key, |t| {
            ikey::cmp_bytes(t.meta.largest_user(), user_key).is_lt()
        });
        tables
            .get(i)
            .filter(|t| ikey::cmp_bytes(t.meta.smallest_user(), user_key).is_le())
    }
}

/// Test support: writes table `number` in `dir` from `entries` (encoded internal keys in
/// order, with their values), in blocks of `block_size` bytes, and opens it.
#[cfg(test)]
pub(crate) fn write_test_table(
    fs: &Arc<dyn Vfs>,
    dir: &Path,
    number: u64,
    block_size: usize,
    entries: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
) -> Arc<TableFile> {
    use crate::lsm::sstable::builder::TableBuilder;
    fs.create_dir_all(dir).unwrap();
    let mut b =
        TableBuilder::create(fs.as_ref(), &table_path(dir, number), block_size, 10, 16).unwrap();
    for (key, value) in entries {
        b.add(&key, &value).unwrap();
    }
    let summary = b.finish().unwrap();
    let meta = TableMeta {
        number,
        size: summary.size,
        smallest: summary.smallest,
        largest: summary.largest,
    };
    let cache = Arc::new(BlockCache::new(1 << 20));
    let handles = Arc::new(TableHandles::unbounded(Arc::clone(fs)));
    Arc::new(TableFile::open(Arc::clone(fs), dir, meta, cache, handles, false).unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tables whose keys share their first 8 bytes (so their prefixes tie), beside
    /// tables whose keys do not: a get finds the one table that may hold each key.
    #[test]
    fn find_in_level_sees_past_prefixes_that_tie() {
        use crate::vfs::SimFs;
        let fs: Arc<dyn Vfs> = Arc::new(SimFs::new());
        let dir = Path::new("/db");
        // Key ranges per table, in order: "aaaa", then three under "samepfx-", then "zz".
        let ranges: [(&[u8], &[u8]); 5] = [
            (b"aaaa", b"aaab"),
            (b"samepfx-a", b"samepfx-c"),
            (b"samepfx-e", b"samepfx-g"),
            (b"samepfx-i", b"samepfx-k"),
            (b"zz", b"zzz"),
        ];
        let tables: Vec<Arc<TableFile>> = ranges
            .iter()
            .zip(1..)
            .map(|((lo, hi), number)| {
                let entries = [lo, hi].map(|key| {
                    let mut k = Vec::new();
                    ikey::encode(&mut k, key, 1, ikey::Kind::Put);
                    (k, b"v".to_vec())
                });
                write_test_table(&fs, dir, number, 4096, entries)
            })
            .collect();
        let edit = VersionEdit {
            added: tables
                .iter()
                .map(|t| (LEVELS - 1, t.meta.clone()))
                .collect(),
            ..VersionEdit::default()
        };
        let version = Version::empty()
            .apply(&edit, |meta| {
                Ok(Arc::clone(
                    tables
                        .iter()
                        .find(|t| t.meta.number == meta.number)
                        .unwrap(),
                ))
            })
            .unwrap();
        let found = |key: &[u8]| {
            version
                .find_in_level(LEVELS - 1, key)
                .map(|t| t.meta.number)
        };
        assert_eq!(found(b"aaaa"), Some(1));
        assert_eq!(found(b"aaaa0"), Some(1));
        assert_eq!(found(b"abc"), None, "between tables");
        assert_eq!(
            found(b"samepfx-"),
            None,
            "before the first of the tied tables"
        );
        assert_eq!(found(b"samepfx-b"), Some(2));
        assert_eq!(found(b"samepfx-c"), Some(2));
        assert_eq!(found(b"samepfx-d"), None);
        assert_eq!(found(b"samepfx-f"), Some(3));
        assert_eq!(found(b"samepfx-k"), Some(4));
        assert_eq!(found(b"samepfx-l"), None);
        assert_eq!(found(b"samepfx"), None, "a shorter key with the same bytes");
        assert_eq!(found(b"zzz"), Some(5));
        assert_eq!(found(b"zzzz"), None, "past the last table");
    }

    #[test]
    fn edits_round_trip_and_reject_garbage() {
        let mut k1 = Vec::new();
        ikey::encode(&mut k1, b"a", 1, ikey::Kind::Put);
        let mut k2 = Vec::new();
        ikey::encode(&mut k2, b"z", 9, ikey::Kind::Delete);
        let edit = VersionEdit {
            log_number: Some(4),
            next_file: Some(10),
            last_seq: Some(1234),
            added: vec![(
                2,
                TableMeta {
                    number: 7,
                    size: 4096,
                    smallest: k1,
                    largest: k2,
                },
            )],
            removed: vec![(1, 3), (2, 5)],
        };
        let bytes = edit.encode();
        let back = VersionEdit::decode(Reader::new(&bytes, Path::new("m"), 0)).unwrap();
        assert_eq!(back, edit);
        for cut in 0..bytes.len() {
            // A cut edit either fails to decode or decodes to less; it never panics.
            let _ = VersionEdit::decode(Reader::new(&bytes[..cut], Path::new("m"), 0));
        }
        assert!(VersionEdit::decode(Reader::new(&[99], Path::new("m"), 0)).is_err());
        assert!(
            VersionEdit::decode(Reader::new(&[5, 9, 1], Path::new("m"), 0)).is_err(),
            "level 9"
        );
    }
}
