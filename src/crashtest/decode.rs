//! The decoder runs (fuzz targets `decode_*`): arbitrary bytes handed to the code that
//! reads each on-disk structure, as recovery and reads do. The answer must be `Ok` or
//! [`Error::Corruption`]; anything else (another error, a panic, a hang) is a finding.
//!
//! The WAL and manifest records, table blocks and pages carry checksums that random bytes
//! never match. A fuzzing build can switch their comparison off
//! (`format::coding::fuzzing::ignore_checksums`), so that mutations reach the parsers
//! behind them; the replay tests run with checksums on.
//!
//! For the two logs the input's first 8 bytes (little-endian) are the number the file's
//! records must name: the LSM WAL's file number, the B+tree WAL's cycle.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use super::Finding;
use crate::btree::page::Page;
use crate::btree::{DbHeader, wal as btree_wal};
use crate::format::intmap::IntMap;
use crate::lsm::cache::BlockCache;
use crate::lsm::iter::InternalIterator;
use crate::lsm::memtable::Memtable;
use crate::lsm::sstable::reader::{FilterCounters, TableReader};
use crate::lsm::{ikey, manifest, wal as lsm_wal};
use crate::options::btree::{MAX_PAGE, MIN_PAGE};
use crate::vfs::{FileKind, SimFs, Vfs};
use crate::{EngineKind, Error, Result};

/// Keys a decoded table is asked for.
const PROBES: [&[u8]; 3] = [b"key-00", b"key-17", b"\xff"];

fn judge(engine: EngineKind, what: &str, result: Result<()>) -> std::result::Result<(), Finding> {
    match result {
        Ok(()) | Err(Error::Corruption { .. }) => Ok(()),
        Err(e) => Err(Finding::new(
            engine,
            format!("decoding a damaged {what} gave {e} (expected Ok or Corruption)"),
        )),
    }
}

/// The leading number and the rest.
fn split_number(bytes: &[u8]) -> (u64, &[u8]) {
    match bytes.split_first_chunk::<8>() {
        Some((n, rest)) => (u64::from_le_bytes(*n), rest),
        None => (0, bytes),
    }
}

/// `bytes` (after the file number) as an LSM WAL, replayed into a memtable.
pub fn lsm_wal_bytes(bytes: &[u8]) -> std::result::Result<(), Finding> {
    let (number, file) = split_number(bytes);
    let mem = Memtable::new();
    let path = Path::new("/db/000001.log");
    let result = lsm_wal::replay_wal(&Bytes::copy_from_slice(file), path, number, &mem);
    judge(EngineKind::Lsm, "LSM WAL", result.map(drop))
}

/// `bytes` as an LSM table: opened, every entry read in order, every block verified, and a
/// few keys looked up.
pub fn lsm_table_bytes(bytes: &[u8]) -> std::result::Result<(), Finding> {
    let read = || -> Result<()> {
        let fs = SimFs::new();
        let path = Path::new("/db/000001.sst");
        fs.create_dir_all(Path::new("/db"))?;
        let file = fs.create(path, FileKind::Table)?;
        file.write_at(bytes, 0)?;
        let cache = Arc::new(BlockCache::new(64 << 10));
        let table = Arc::new(TableReader::open(file, path, 1, cache, false)?);
        let mut it = table.iter();
        it.seek_to_first()?;
        while it.valid() {
            if ikey::decode(it.key()).is_none() {
                return Err(Error::corruption(
                    path,
                    0,
                    "an entry's key is no internal key",
                ));
            }
            it.value();
            it.next()?;
        }
        table.verify_blocks()?;
        let counters = FilterCounters::default();
        for key in PROBES {
            table.get(key, ikey::MAX_SEQ, &counters)?;
        }
        Ok(())
    };
    judge(EngineKind::Lsm, "LSM table", read())
}

/// `bytes` as an LSM manifest that CURRENT names, replayed.
pub fn lsm_manifest_bytes(bytes: &[u8]) -> std::result::Result<(), Finding> {
    let read = || -> Result<()> {
        let fs = SimFs::new();
        let dir = Path::new("/db");
        fs.create_dir_all(dir)?;
        fs.create(&dir.join("CURRENT"), FileKind::Manifest)?
            .write_at(b"MANIFEST-000001\n", 0)?;
        fs.create(&dir.join("MANIFEST-000001"), FileKind::Manifest)?
            .write_at(bytes, 0)?;
        manifest::read_manifest(&fs, dir)?;
        Ok(())
    };
    judge(EngineKind::Lsm, "LSM manifest", read())
}

/// `bytes` as a B+tree page (the largest page size that fits, zero-padded to the least)
/// with every cell decoded, and as the database file's header.
pub fn btree_page_bytes(bytes: &[u8]) -> std::result::Result<(), Finding> {
    let path = Path::new("/db/btree.db");
    let size = if bytes.len() < MIN_PAGE {
        MIN_PAGE
    } else {
        1 << bytes.len().min(MAX_PAGE).ilog2()
    };
    let mut data = bytes[..bytes.len().min(size)].to_vec();
    data.resize(size, 0);
    let read = || -> Result<()> {
        let page = Page::decode(1, data, path)?;
        decode_cells(&page)
    };
    judge(EngineKind::BTree, "B+tree page", read())?;
    judge(
        EngineKind::BTree,
        "B+tree header",
        DbHeader::decode(bytes, path).map(drop),
    )
}

fn decode_cells(page: &Page) -> Result<()> {
    for i in 0..page.cells() {
        page.cell(i)?;
    }
    page.all_cells().map(drop)
}

/// `bytes` (after the cycle) as a B+tree WAL: its commits read, their deltas replayed onto
/// zeroed pages, and each page they leave decoded.
pub fn btree_wal_bytes(bytes: &[u8]) -> std::result::Result<(), Finding> {
    let (cycle, file) = split_number(bytes);
    let path = Path::new("/db/btree.wal.0");
    let read = || -> Result<()> {
        let (commits, _) = btree_wal::read_commits(file, path, cycle)?;
        let Some(first) = commits.first() else {
            return Ok(());
        };
        let page_size = first.header.page_size as usize;
        let mut pages = IntMap::default();
        let mut zeros = |_: u64, buf: &mut [u8]| -> Result<()> {
            buf.fill(0);
            Ok(())
        };
        let changed = btree_wal::replay(&commits, file, path, &mut pages, page_size, &mut zeros)?;
        for (n, at) in changed {
            let page = Page::decode_at(n, pages[&n].clone(), path, at)?;
            decode_cells(&page)?;
        }
        Ok(())
    };
    judge(EngineKind::BTree, "B+tree WAL", read())
}

/// A seed corpus for the decoder targets: the files of a small LSM store and a small
/// B+tree store, each with data in its WAL, in each target's input format.
pub fn seeds() -> Result<Vec<(super::Target, Vec<u8>)>> {
    use super::Target;
    use crate::btree::BTreeOptions;
    use crate::lsm::CompactionStyle::{Leveled, Tiered};
    use crate::lsm::LsmOptions;
    use crate::{Options, WriteBatch};

    let fs = Arc::new(SimFs::new());
    let fill = |engine: EngineKind, dir: &Path, options: Options| -> Result<()> {
        let store = crate::open(engine, dir, options)?;
        for i in 0..400u32 {
            let mut batch = WriteBatch::new();
            let value = vec![b'a' + (i % 26) as u8; (i as usize * 37) % 900];
            batch.put(format!("key-{:03}", i % 150).as_bytes(), &value);
            if i % 7 == 0 {
                batch.delete(format!("key-{:03}", (i * 3) % 150).as_bytes());
            }
            store.write(&batch)?;
        }
        Ok(())
    };
    let lsm_dirs = [Path::new("/lsm-leveled"), Path::new("/lsm-tiered")];
    for (dir, compaction) in lsm_dirs.into_iter().zip([Leveled, Tiered]) {
        let lsm = LsmOptions {
            compaction,
            ..LsmOptions::tiny()
        };
        fill(
            EngineKind::Lsm,
            dir,
            Options {
                lsm,
                ..Options::with_vfs(fs.clone())
            },
        )?;
    }
    let btree_dir = Path::new("/btree");
    let btree = BTreeOptions::tiny();
    fill(
        EngineKind::BTree,
        btree_dir,
        Options {
            btree,
            ..Options::with_vfs(fs.clone())
        },
    )?;

    let read = |path: &Path, kind: FileKind| fs.open(path, kind)?.read_all();
    let mut seeds = Vec::new();
    // A log whole, and cut short at a quarter, a half and three quarters of its length.
    fn whole_and_cut(
        seeds: &mut Vec<(Target, Vec<u8>)>,
        target: Target,
        head: Vec<u8>,
        file: Vec<u8>,
    ) {
        for cut in [4, 3, 2, 1] {
            let mut input = head.clone();
            input.extend_from_slice(&file[..file.len() * cut / 4]);
            seeds.push((target, input));
        }
    }
    for dir in lsm_dirs {
        for name in fs.list(dir)? {
            let path = dir.join(&name);
            if let Some(number) = name
                .strip_suffix(".log")
                .and_then(|n| n.parse::<u64>().ok())
            {
                let head = number.to_le_bytes().to_vec();
                whole_and_cut(
                    &mut seeds,
                    Target::DecodeWal,
                    head,
                    read(&path, FileKind::Wal)?,
                );
            } else if name.starts_with("MANIFEST-") {
                whole_and_cut(
                    &mut seeds,
                    Target::DecodeManifest,
                    vec![],
                    read(&path, FileKind::Manifest)?,
                );
            } else if name.ends_with(".sst") {
                seeds.push((Target::DecodeSstable, read(&path, FileKind::Table)?));
            }
        }
    }
    let db = read(&btree_dir.join("btree.db"), FileKind::Page)?;
    let page_size = BTreeOptions::tiny().page_size;
    for page in db.chunks(page_size).take(12) {
        seeds.push((Target::DecodePage, page.to_vec()));
    }
    // The WAL files hold the cycle after the last checkpoint's, and perhaps the next.
    let checkpointed = DbHeader::decode(&db, &btree_dir.join("btree.db"))?.wal_cycle;
    for name in ["btree.wal.0", "btree.wal.1"] {
        let path = btree_dir.join(name);
        let bytes = read(&path, FileKind::Wal)?;
        for cycle in checkpointed..checkpointed + 3 {
            if !btree_wal::read_commits(&bytes, &path, cycle)?.0.is_empty() {
                whole_and_cut(
                    &mut seeds,
                    Target::DecodeBtreeWal,
                    cycle.to_le_bytes().to_vec(),
                    bytes.clone(),
                );
            }
        }
    }
    Ok(seeds)
}
