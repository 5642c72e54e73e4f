//! Tables end to end: build, read back every way, and catch every damaged byte.

use std::path::Path;
use std::sync::Arc;

use super::builder::TableBuilder;
use super::reader::{FilterCounters, Found, TableReader};
use crate::error::Error;
use crate::lsm::cache::BlockCache;
use crate::lsm::ikey::{self, Kind};
use crate::lsm::iter::InternalIterator;
use crate::vfs::{FileKind, SimFs, Vfs};

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
