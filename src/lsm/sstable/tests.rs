//! Tables end to end: build, read back every way, and catch every damaged byte.

use std::path::Path;
use std::sync::Arc;

use super::builder::TableBuilder;
use super::reader::{FilterCounters, Found, TableReader};
use crate::error::Error;
use crate::lsm::cache::BlockCache;
use crate::lsm::ikey::{self, Kind};
use crate::lsm::iter::InternalIterator;
use crate::vfs::{FileKind, SimFs, Vfs, VfsFile};
use parking_lot::Mutex;

fn ukey(i: u32) -> Vec<u8> {
    format!("user{i:06}").into_bytes()
}

/// Keys 0, 2, 4, ... each with a value at seq 10 and, for every third, a delete at seq 20.
fn build(fs: &SimFs, path: &Path, n: u32, bloom_bits: u32) -> u64 {
    let mut b = TableBuilder::create(fs, path, 256, bloom_bits, 4).unwrap();
    let mut buf = Vec::new();
    for i in (0..n).map(|i| i * 2) {
        if i % 3 == 0 {
            buf.clear();
            ikey::encode(&mut buf, &ukey(i), 20, Kind::Delete);
            b.add(&buf, b"").unwrap();
        }
        buf.clear();
        ikey::encode(&mut buf, &ukey(i), 10, Kind::Put);
        b.add(&buf, format!("value-{i}").as_bytes()).unwrap();
    }
    b.finish().unwrap().size
}

fn open_mode(fs: &SimFs, path: &Path, mmap: bool) -> crate::Result<Arc<TableReader>> {
    let file = fs.open(path, FileKind::Table)?;
    Ok(Arc::new(TableReader::open(
        file,
        path,
        1,
        Arc::new(BlockCache::new(0)),
        mmap,
    )?))
}

fn open(fs: &SimFs, path: &Path) -> crate::Result<Arc<TableReader>> {
    open_mode(fs, path, false)
}

#[test]
fn gets_see_versions_and_deletions() {
    for mmap in [false, true] {
        gets_see_versions_and_deletions_in(mmap);
    }
}

fn gets_see_versions_and_deletions_in(mmap: bool) {
    let fs = SimFs::new();
    let path = Path::new("/t.sst");
    build(&fs, path, 500, 10);
    let t = open_mode(&fs, path, mmap).unwrap();
    let c = FilterCounters::default();
    assert_eq!(
        t.get(&ukey(4), 100, &c).unwrap(),
        Some(Found::Value(10, "value-4".into()))
    );
    assert_eq!(t.get(&ukey(6), 100, &c).unwrap(), Some(Found::Deleted(20)));
    assert_eq!(
        t.get(&ukey(6), 15, &c).unwrap(),
        Some(Found::Value(10, "value-6".into())),
        "older snapshot"
    );
    assert_eq!(t.get(&ukey(6), 5, &c).unwrap(), None, "before any version");
    assert_eq!(t.get(&ukey(5), 100, &c).unwrap(), None);
    assert_eq!(t.get(b"zzz", 100, &c).unwrap(), None);
    assert_eq!(t.entries(), 500 + 167);
}

#[test]
fn iteration_and_seek_cover_every_entry_in_order() {
    let fs = SimFs::new();
    let path = Path::new("/t.sst");
    build(&fs, path, 300, 0);
    let t = open(&fs, path).unwrap();
    let mut it = t.iter();
    it.seek_to_first().unwrap();
    let mut count = 0;
    let mut last: Option<Vec<u8>> = None;
    while it.valid() {
        if let Some(l) = &last {
            assert!(ikey::cmp_encoded(l, it.key()).is_lt());
        }
        last = Some(it.key().to_vec());
        it.next().unwrap();
        count += 1;
    }
    assert_eq!(count, 400);
    let mut target = Vec::new();
    ikey::encode(&mut target, &ukey(101), ikey::MAX_SEQ, Kind::Put);
    it.seek(&target).unwrap();
    assert_eq!(ikey::decode(it.key()).unwrap().0, ukey(102).as_slice());
}

#[test]
fn every_damaged_byte_is_caught() {
    let fs = SimFs::new();
    let path = Path::new("/t.sst");
    let size = build(&fs, path, 60, 10);
    let good = fs.open(path, FileKind::Table).unwrap().read_all().unwrap();
    assert_eq!(good.len() as u64, size);
    for at in 0..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0x20;
        let p = Path::new("/bad.sst");
        if fs.exists(p).unwrap() {
            fs.remove(p).unwrap();
        }
        fs.create(p, FileKind::Table).unwrap().append(&bad).unwrap();
        // Reading the whole table must fail with Corruption: no panic, no wrong data.
        for mmap in [false, true] {
            let outcome = open_mode(&fs, p, mmap).and_then(|t| {
                let mut it = t.iter();
                it.seek_to_first()?;
                while it.valid() {
                    it.next()?;
                }
                Ok(())
            });
            match outcome {
                Err(Error::Corruption { .. }) => {}
                other => panic!("flipped byte {at} (mmap {mmap}): {other:?}"),
            }
        }
    }
}

#[test]
fn data_blocks_start_on_block_size_boundaries_and_fit_in_them() {
    let fs = SimFs::new();
    let path = Path::new("/aligned.sst");
    let mut b = TableBuilder::create(&fs, path, 4096, 10, 16).unwrap();
    let mut key = Vec::new();
    for i in 0..20_000u32 {
        key.clear();
        ikey::encode(&mut key, &ukey(i), 1, Kind::Put);
        // Values of 1 to 300 bytes, so entries do not fall on boundaries by luck.
        b.add(&key, &vec![7; 1 + (i as usize * 37) % 300]).unwrap();
    }
    b.finish().unwrap();
    let t = open(&fs, path).unwrap();
    let blocks = t.blocks();
    assert!(blocks.len() > 100);
    for (handle, _, _) in &blocks {
        assert_eq!(handle.offset % 4096, 0, "block at {}", handle.offset);
        assert!(handle.size as usize + super::BLOCK_TRAILER <= 4096);
    }
    // Every entry still reads back.
    let counters = FilterCounters::default();
    for i in (0..20_000u32).step_by(97) {
        let found = t.get(&ukey(i), 5, &counters).unwrap();
        assert!(
            matches!(found, Some(Found::Value(1, v)) if v.len() == 1 + (i as usize * 37) % 300)
        );
    }
}

/// Point reads the block cache does not take go through one scratch buffer per thread,
/// reused read after read: each value handed out must be a copy that later reads leave
/// alone, and a block read again soon enters the cache.
#[test]
fn values_of_uncached_point_reads_outlive_the_next_reads() {
    let fs = SimFs::new();
    let path = Path::new("/t.sst");
    build(&fs, path, 2000, 10);
    let cache = Arc::new(BlockCache::new(1 << 20));
    let t = Arc::new(
        TableReader::open(
            fs.open(path, FileKind::Table).unwrap(),
            path,
            1,
            Arc::clone(&cache),
            false,
        )
        .unwrap(),
    );
    let c = FilterCounters::default();
    // Keys 2 apart lie in many blocks; odd steps of 20 visit them out of order.
    let keys: Vec<u32> = (0..2000)
        .map(|i| (i * 20 + 2) % 4000)
        .filter(|i| i % 3 != 0)
        .collect();
    let held: Vec<(u32, Option<Found>)> = keys
        .iter()
        .map(|&i| (i, t.get(&ukey(i), 100, &c).unwrap()))
        .collect();
    for (i, found) in &held {
        assert_eq!(
            found,
            &Some(Found::Value(10, format!("value-{i}").into())),
            "key {i}, read long before the last read"
        );
    }
    // Each block was read once into the scratch buffer, and again (its keys come round
    // again) into the cache.
    let (hits, misses) = cache.hits_and_misses();
    assert!(hits > 0 && misses > 0, "{hits} hits, {misses} misses");
    assert!(cache.used() > 0);
}

/// The read-aheads (offset, length) asked of a file, in order.
type Asked = Arc<Mutex<Vec<(u64, u64)>>>;

/// A table file that notes every read-ahead asked of it.
#[derive(Debug)]
struct AskedFile {
    inner: Box<dyn VfsFile>,
    asked: Asked,
}

impl VfsFile for AskedFile {
    fn path(&self) -> &Path {
        self.inner.path()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> crate::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, data: &[u8], offset: u64) -> crate::Result<()> {
        self.inner.write_at(data, offset)
    }
    fn append(&self, data: &[u8]) -> crate::Result<u64> {
        self.inner.append(data)
    }
    fn sync(&self) -> crate::Result<()> {
        self.inner.sync()
    }
    fn len(&self) -> crate::Result<u64> {
        self.inner.len()
    }
    fn truncate(&self, len: u64) -> crate::Result<()> {
        self.inner.truncate(len)
    }
    fn prefetch(&self, offset: u64, len: u64) {
        self.asked.lock().push((offset, len));
    }
}

/// The table at `path` read through an [`AskedFile`], and what it will have been asked.
fn open_asked(fs: &SimFs, path: &Path) -> (Arc<TableReader>, Asked) {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let file = AskedFile {
        inner: fs.open(path, FileKind::Table).unwrap(),
        asked: Arc::clone(&asked),
    };
    let reader = TableReader::open(Box::new(file), path, 1, Arc::new(BlockCache::new(0)), false);
    (Arc::new(reader.unwrap()), asked)
}

/// A long scan keeps the device reading ahead of it (through the helper thread), from a
/// few windows in to the end of the data blocks and no further, each byte asked for once;
/// a seek that reads a few blocks (as a hundred keys of 4 KiB blocks) asks for nothing.
#[test]
fn a_long_scan_reads_ahead_and_a_short_one_does_not() {
    let fs = SimFs::new();
    let path = Path::new("/ahead.sst");
    build(&fs, path, 20_000, 10);
    let (short, short_asked) = open_asked(&fs, path);
    let (long, long_asked) = open_asked(&fs, path);
    let blocks = long.blocks();
    let (last, _, _) = blocks.last().unwrap();
    let data_end = last.offset + u64::from(last.size) + super::BLOCK_TRAILER as u64;

    let mut target = Vec::new();
    ikey::encode(&mut target, &ukey(10_000), ikey::MAX_SEQ, Kind::Put);
    let mut it = short.iter();
    it.seek(&target).unwrap();
    // 40 keys of 8-odd a block: 3 windows, of 1, 2 and 4 blocks.
    for _ in 0..40 {
        assert!(it.valid());
        it.next().unwrap();
    }
    let mut it = long.iter();
    it.seek_to_first().unwrap();
    let mut entries = 0;
    while it.valid() {
        entries += 1;
        it.next().unwrap();
    }
    assert_eq!(entries, 20_000 + 20_000_u32.div_ceil(3));

    // The helper serves requests in order: once the long scan's last ask is seen, any the
    // short scan made would have been seen before it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // (The index block may start a little after the last data block, on a multiple of
    // the block size.)
    let reached = || {
        let end = long_asked.lock().iter().map(|&(o, l)| o + l).max();
        end.is_some_and(|end| end >= data_end && end < data_end + 256)
    };
    while !reached() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(
        reached(),
        "asked: {:?}, data ends at {data_end}",
        long_asked.lock()
    );
    let asked = long_asked.lock().clone();
    for pair in asked.windows(2) {
        assert_eq!(
            pair[0].0 + pair[0].1,
            pair[1].0,
            "asks follow on: {asked:?}"
        );
    }
    let first = asked[0].0;
    assert!(
        first > 0 && first < data_end / 4,
        "first ask at {first} of {data_end}"
    );
    assert!(short_asked.lock().is_empty(), "{:?}", short_asked.lock());
}

/// Found by the fuzz target `decode_sstable`: a footer (its checksum right) whose index
/// block starts 2 bytes below 2^64 overflowed the bounds check on open.
#[test]
fn a_handle_near_the_end_of_the_address_space_is_corruption() {
    let fs = SimFs::new();
    let path = Path::new("/t/000001.sst");
    fs.create_dir_all(Path::new("/t")).unwrap();
    let footer = super::Footer {
        index: super::Handle {
            offset: u64::MAX - 1,
            size: 16,
        },
        filter: super::Handle { offset: 0, size: 0 },
        entries: 1,
    };
    let mut bytes = vec![0u8; 64];
    bytes.extend_from_slice(&footer.encode());
    fs.create(path, FileKind::Table)
        .unwrap()
        .write_at(&bytes, 0)
        .unwrap();
    match open_mode(&fs, path, false) {
        Err(Error::Corruption { .. }) => {}
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a footer pointing past the file opened"),
    }
}
