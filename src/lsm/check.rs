//! The LSM's integrity checker: reads every table and compares what the files hold with what
//! the manifest says of them.
//!
//! - Below level 0, each level's tables are sorted and their key ranges disjoint.
//! - Each table named by the version has its file; every data block reads back with its
//!   checksum; its entries are in internal-key order, with sequence numbers no newer than
//!   the store's last; its first and last keys are the ones the manifest records; its
//!   filter lets each of its keys through.
//! - No table file lies in the directory that no version names (an orphan), except the
//!   files of replaced tables a reader still holds, which go when it lets go.

use std::collections::HashSet;
use std::path::Path;

use super::ikey;
use super::iter::InternalIterator;
use super::version::{TableFile, Version, table_path};
use crate::error::{Error, Result};
use crate::vfs::Vfs;

/// What a check found in a healthy store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Tables checked.
    pub tables: usize,
    /// Entries read, deletions included.
    pub entries: u64,
    /// Data blocks read and checked.
    pub blocks: usize,
}

/// Checks `version`, whose tables live in `dir`, against a store whose last sequence
/// number is `last_seq`. `files`: the directory's names, when no flush or compaction is
/// writing a table (else `None`, and orphans are not looked for); `pending`: numbers of
/// replaced tables not yet deleted.
pub fn check(
    vfs: &dyn Vfs,
    dir: &Path,
    version: &Version,
    last_seq: u64,
    files: Option<(Vec<String>, HashSet<u64>)>,
) -> Result<Report> {
    let mut report = Report::default();
    for (level, tables) in version.levels.iter().enumerate() {
        if level > 0 {
            for pair in tables.windows(2) {
                if ikey::cmp_bytes(pair[0].meta.largest_user(), pair[1].meta.smallest_user())
                    .is_ge()
                {
                    return Err(Error::corruption(
                        pair[1].reader.path(),
                        0,
                        format!(
                            "level {level}: table {} overlaps table {} (or is out of order)",
                            pair[1].meta.number, pair[0].meta.number
                        ),
                    ));
                }
            }
        }
        for table in tables {
            check_table(vfs, dir, table, last_seq, &mut report)?;
        }
    }
    if let Some((names, pending)) = files {
        let live: HashSet<u64> = version.numbers().collect();
        for name in names {
            let Some(number) = name
                .strip_suffix(".sst")
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if !live.contains(&number) && !pending.contains(&number) {
                return Err(Error::corruption(
                    dir.join(&name),
                    0,
                    "a table file no version names (an orphan)",
                ));
            }
        }
    }
    Ok(report)
}

fn check_table(
    vfs: &dyn Vfs,
    dir: &Path,
    table: &TableFile,
    last_seq: u64,
    report: &mut Report,
) -> Result<()> {
    let meta = &table.meta;
    let path = table_path(dir, meta.number);
    let bad = |detail: String| Error::corruption(&path, 0, detail);
    if !vfs.exists(&path)? {
        return Err(bad("a table the version names is missing".into()));
    }
    table.reader.verify_blocks()?;
    report.blocks += table.reader.blocks().len();
    let mut it = table.reader.iter();
    it.seek_to_first()?;
    let mut first: Option<Vec<u8>> = None;
    let mut last: Vec<u8> = Vec::new();
    while it.valid() {
        let key = it.key();
        let (user, seq, _) =
            ikey::decode(key).ok_or_else(|| bad("an undecodable internal key".into()))?;
        if seq > last_seq {
            return Err(bad(format!(
                "an entry of sequence {seq}, newer than the store's last ({last_seq})"
            )));
        }
        if first.is_some() && ikey::cmp_encoded(&last, key).is_ge() {
            return Err(bad("entries out of order".into()));
        }
        if !table.reader.may_contain(user) {
            return Err(bad("the filter turns away a key the table holds".into()));
        }
        first.get_or_insert_with(|| key.to_vec());
        last.clear();
        last.extend_from_slice(key);
        report.entries += 1;
        it.next()?;
    }
    let first = first.ok_or_else(|| bad("an empty table".into()))?;
    if first != meta.smallest || last != meta.largest {
        return Err(bad(
            "its first or last key is not what the manifest records".into(),
        ));
    }
    report.tables += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::Error;
    use crate::format::log::encode_record;
    use crate::kv::{KvStore, Options, WriteBatch};
    use crate::lsm::version::{TableMeta, VersionEdit};
    use crate::lsm::{Lsm, LsmOptions};
    use crate::vfs::{FileKind, SimFs, Vfs};

    fn open(fs: &Arc<SimFs>) -> Lsm {
        let options = Options {
            lsm: LsmOptions::tiny(),
            ..Options::with_vfs(fs.clone())
        };
        Lsm::open("/db".as_ref(), options).unwrap()
    }

    /// A settled store of 2000 keys, and the first table of its first non-empty level.
    fn settled_store(fs: &Arc<SimFs>) -> (usize, TableMeta) {
        let store = open(fs);
        for chunk in (0..2000u32)
            .map(|i| i * 7919 % 2000)
            .collect::<Vec<_>>()
            .chunks(10)
        {
            let mut batch = WriteBatch::new();
            for &i in chunk {
                batch.put(format!("key{i:06}").as_bytes(), &[7; 100]);
            }
            store.write(&batch).unwrap();
        }
        store.settle().unwrap();
        let report = store.check().unwrap();
        assert!(report.tables > 1 && report.entries == 2000, "{report:?}");
        store
            .level_tables()
            .into_iter()
            .enumerate()
            .find_map(|(l, ts)| ts.into_iter().next().map(|t| (l, t)))
            .unwrap()
    }

    fn table_path(n: u64) -> String {
        format!("/db/{n:06}.sst")
    }

    fn read(fs: &SimFs, path: &str) -> Vec<u8> {
        fs.open(path.as_ref(), FileKind::Table)
            .unwrap()
            .read_all()
            .unwrap()
    }

    fn check_error(fs: &Arc<SimFs>) -> String {
        let err = open(fs).check().unwrap_err();
        assert!(matches!(err, Error::Corruption { .. }), "{err}");
        err.to_string()
    }

    /// A manifest edit that puts a copy of a table beside it in its level: the store
    /// opens, and the check finds the overlap.
    #[test]
    fn a_planted_overlap_is_caught() {
        let fs = Arc::new(SimFs::new());
        let (level, table) = settled_store(&fs);
        let copy = table.number + 1000;
        let file = fs
            .create(table_path(copy).as_ref(), FileKind::Table)
            .unwrap();
        file.append(&read(&fs, &table_path(table.number))).unwrap();
        file.sync().unwrap();
        let names = fs.list("/db".as_ref()).unwrap();
        let manifest = names.iter().find(|n| n.starts_with("MANIFEST-")).unwrap();
        let file = fs
            .open(format!("/db/{manifest}").as_ref(), FileKind::Manifest)
            .unwrap();
        let edit = VersionEdit {
            added: vec![(
                level,
                TableMeta {
                    number: copy,
                    ..table
                },
            )],
            ..VersionEdit::default()
        };
        let mut record = Vec::new();
        encode_record(&mut record, &edit.encode(), file.len().unwrap()).unwrap();
        file.append(&record).unwrap();
        file.sync().unwrap();
        let text = check_error(&fs);
        assert!(text.contains("overlaps"), "{text}");
    }

    /// A flipped byte inside a data block: the store opens (the index and filter are
    /// intact), and the check finds the bad checksum.
    #[test]
    fn a_planted_bad_checksum_is_caught() {
        let fs = Arc::new(SimFs::new());
        let (_, table) = settled_store(&fs);
        let path = table_path(table.number);
        let byte = read(&fs, &path)[10];
        let file = fs.open(path.as_ref(), FileKind::Table).unwrap();
        file.write_at(&[byte ^ 0x40], 10).unwrap();
        file.sync().unwrap();
        let text = check_error(&fs);
        assert!(text.contains("checksum"), "{text}");
    }
}
