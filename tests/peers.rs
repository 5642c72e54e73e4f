//! The production peers (feature `peers`, or `redb`, `lmdb`, `sqlite`, `fjall`, `rocksdb`
//! one by one) through the trait, on a real directory: they do their own file I/O, so the
//! SimFs kit's model and crash tests cannot run them. These check what the harness relies
//! on: the same answers as the in-memory oracle across batches, deletes, scans and
//! reopens; a scan's snapshot; the same refusals of foreign directories as kvlab's
//! engines; an adapter's scan against the engine's own; where a benchmark's figures for a
//! peer come from.
#![cfg(any(
    feature = "redb",
    feature = "lmdb",
    feature = "sqlite",
    feature = "fjall",
    feature = "rocksdb"
))]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use kvlab::vfs::SimFs;
use kvlab::{EngineKind, Error, KeyRange, KvStore, Options, WriteBatch};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn peers() -> impl Iterator<Item = EngineKind> {
    EngineKind::ALL.iter().copied().filter(|k| k.is_peer())
}

fn open(kind: EngineKind, dir: &Path) -> Box<dyn KvStore> {
    kvlab::open(kind, dir, Options::default()).unwrap_or_else(|e| panic!("{kind}: open: {e}"))
}

fn dump(store: &dyn KvStore, range: KeyRange) -> Vec<(Vec<u8>, Vec<u8>)> {
    store
        .scan(range)
        .unwrap()
        .map(|p| p.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<kvlab::Result<_>>()
        .unwrap()
}

fn oracle_range(map: &BTreeMap<Vec<u8>, Vec<u8>>, range: &KeyRange) -> Vec<(Vec<u8>, Vec<u8>)> {
    if range.is_empty() {
        return Vec::new();
    }
    map.range::<[u8], _>(range.as_slices())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn key(rng: &mut ChaCha8Rng) -> Vec<u8> {
    // A small key space, so that puts overwrite and deletes hit.
    format!("key{:04}", rng.random_range(0..400u32)).into_bytes()
}

#[test]
fn peers_agree_with_the_oracle_across_reopens() {
    for kind in peers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut oracle = BTreeMap::new();
        let mut store = open(kind, &path);
        for round in 0..60 {
            let mut batch = WriteBatch::new();
            for _ in 0..rng.random_range(1..40) {
                let k = key(&mut rng);
                if rng.random_bool(0.25) {
                    batch.delete(&k);
                    oracle.remove(&k);
                } else {
                    // Empty values are values; now and then one spans many pages.
                    let len = match rng.random_range(0..20) {
                        0 => 0,
                        1 => 300_000,
                        _ => rng.random_range(1..200),
                    };
                    let v: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                    batch.put(&k, &v);
                    oracle.insert(k, v);
                }
            }
            store.write(&batch).unwrap();
            for _ in 0..20 {
                let k = key(&mut rng);
                let got = store.get(&k).unwrap().map(|v| v.to_vec());
                assert_eq!(got, oracle.get(&k).cloned(), "{kind}: get, round {round}");
            }
            let (a, b) = (key(&mut rng), key(&mut rng));
            let range = KeyRange::new(Bound::Included(a), Bound::Excluded(b));
            assert_eq!(
                dump(store.as_ref(), range.clone()),
                oracle_range(&oracle, &range),
                "{kind}: scan, round {round}"
            );
            if round % 20 == 19 {
                drop(store);
                store = open(kind, &path);
            }
        }
        store.settle().unwrap();
        let all: Vec<_> = oracle.into_iter().collect();
        assert_eq!(
            dump(store.as_ref(), KeyRange::all()),
            all,
            "{kind}: full scan"
        );
        assert!(store.disk_usage().unwrap() > 0, "{kind}: disk usage");
    }
}

#[test]
fn a_peer_scan_keeps_its_snapshot() {
    for kind in peers() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(kind, &dir.path().join("store"));
        let mut batch = WriteBatch::new();
        for i in 0..1000u32 {
            batch.put(format!("k{i:05}").as_bytes(), b"old");
        }
        store.write(&batch).unwrap();
        let mut scan = store.scan(KeyRange::all()).unwrap();
        let first = scan.next().unwrap().unwrap();
        let mut batch = WriteBatch::new();
        for i in 0..1000u32 {
            batch.put(format!("k{i:05}").as_bytes(), b"new");
        }
        batch.put(b"z-added", b"new");
        store.write(&batch).unwrap();
        let rest: Vec<_> = scan.map(|p| p.unwrap()).collect();
        assert_eq!(first.1.as_ref(), b"old", "{kind}");
        assert_eq!(rest.len(), 999, "{kind}: the scan saw a later write");
        assert!(rest.iter().all(|(_, v)| v.as_ref() == b"old"), "{kind}");
        assert_eq!(store.get(b"k00000").unwrap().as_deref(), Some(&b"new"[..]));
    }
}

#[test]
fn peers_refuse_what_kvlab_engines_refuse() {
    for kind in peers() {
        // A simulated file system has no real paths for the peer's own I/O.
        let sim = Options::with_vfs(Arc::new(SimFs::new()));
        match kvlab::open(kind, "/db".as_ref(), sim) {
            Err(Error::Unsupported(_)) => {}
            other => panic!("{kind} on SimFs gave {:?}", other.map(|_| ())),
        }

        // Another program's directory, untouched.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("data.db"), b"SQLite format 3\0").unwrap();
        match kvlab::open(kind, dir.path(), Options::default()) {
            Err(Error::NotAStore { .. }) => {}
            other => panic!("{kind} on a foreign dir gave {:?}", other.map(|_| ())),
        }
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "{kind} touched a foreign directory");

        // A kvlab engine's store, and the other way round.
        let dir = tempfile::tempdir().unwrap();
        let lsm = dir.path().join("lsm");
        drop(open(EngineKind::Lsm, &lsm));
        match kvlab::open(kind, &lsm, Options::default()) {
            Err(Error::WrongEngine { found, .. }) => assert_eq!(found, "lsm"),
            other => panic!("{kind} on an lsm store gave {:?}", other.map(|_| ())),
        }
        let peer = dir.path().join("peer");
        drop(open(kind, &peer));
        match kvlab::open(EngineKind::BTree, &peer, Options::default()) {
            Err(Error::WrongEngine { found, .. }) => assert_eq!(found, kind.name()),
            other => panic!("btree on a {kind} store gave {:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn the_front_checks_a_peers_input() {
    for kind in peers() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(kind, &dir.path().join("store"));
        assert!(matches!(
            store.put(b"", b"v"),
            Err(Error::InvalidArgument(_))
        ));
        let long_key = vec![1u8; kvlab::MAX_KEY_LEN + 1];
        let mut batch = WriteBatch::new();
        batch.put(b"good", b"v").put(&long_key, b"v");
        assert!(matches!(
            store.write(&batch),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(store.get(b"good").unwrap(), None, "{kind}: half a batch");
    }
}

/// Each adapter returns exactly what its engine holds: a full scan through the trait
/// gives, pair for pair, what the engine's own iterator walks (across the chunks an
/// adapter reads in), and every get agrees with the engine's own lookup. Writes go in
/// both ways, so each side also reads what the other wrote.
#[test]
fn each_adapter_returns_exactly_what_its_engine_holds() {
    for kind in peers() {
        let dir = tempfile::tempdir().unwrap();
        let store = kvlab::peers::open_native(kind, &dir.path().join("store"), Options::default())
            .unwrap_or_else(|e| panic!("{kind}: open: {e}"));
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let key = |i: u32| format!("key{i:05}").into_bytes();
        for round in 0..6 {
            let mut batch = WriteBatch::new();
            let mut native: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for _ in 0..400 {
                let k = key(rng.random_range(0..3000));
                let value = vec![rng.random::<u8>(); rng.random_range(0..300)];
                match rng.random_range(0..4) {
                    0 => {
                        batch.delete(&k);
                    }
                    1 => native.push((k, value)),
                    _ => {
                        batch.put(&k, &value);
                    }
                }
            }
            store.write(&batch).unwrap();
            native.sort();
            native.dedup_by(|a, b| a.0 == b.0);
            let mut pairs = native.iter().map(|(k, v)| (k.as_slice(), v.as_slice()));
            store.put_all(&mut pairs).unwrap();

            let mut walked = Vec::new();
            let count = store
                .scan_all(&mut |k, v| walked.push((k.to_vec(), v.to_vec())))
                .unwrap();
            let through_trait = dump(&*store, KeyRange::all());
            assert_eq!(count as usize, walked.len(), "{kind}");
            assert!(walked.len() > 256, "{kind}: the scan spans several chunks");
            assert_eq!(through_trait, walked, "{kind}: round {round}");
            for i in (0..3000).step_by(7) {
                let k = key(i);
                let got = store.get(&k).unwrap();
                assert!(
                    store.value_is(&k, got.as_deref()).unwrap(),
                    "{kind}: get of key {i} in round {round}"
                );
            }
            let present = walked[walked.len() / 2].clone();
            assert!(!store.value_is(&present.0, None).unwrap(), "{kind}");
            assert!(
                !store.value_is(&present.0, Some(b"not this")).unwrap(),
                "{kind}"
            );
        }
    }
}

/// A peer does its own file I/O, so a benchmark counts it by the engine's own statistics
/// (RocksDB) or this process's system calls: the figures say which, a fill writes at least
/// the bytes it was given, and a cold read has bytes read to show.
#[cfg(feature = "cli")]
#[test]
fn a_peers_bench_figures_are_its_own() {
    use kvlab::bench::{BenchConfig, BenchEnv, Phase, Runner};
    for kind in peers() {
        // On disk (the target directory), so that cold reads reach the device.
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let env = BenchEnv {
            keep_stores: false,
            options: Options::default(),
            dir: dir.path().to_path_buf(),
            outside_counters: true,
            drop_caches: false,
        };
        let config = BenchConfig {
            records: 20_000,
            batch: 1000,
            cold_reads: Some(2000),
            ..BenchConfig::default()
        };
        let mut runner = Runner::new(kind, &config, &env).unwrap();
        let mut reports = Vec::new();
        runner
            .run(
                &[Phase::FillRandom, Phase::ReadRandomCold],
                |_| {},
                |r| reports.push(r),
            )
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let (fill, cold) = (&reports[0], &reports[1]);
        assert_eq!(fill.io_source, kind.io_source().name(), "{kind}");
        assert_ne!(fill.io_source, "vfs", "{kind}");
        assert!(
            fill.disk_bytes_written >= fill.user_bytes_written && fill.user_bytes_written > 0,
            "{kind}: {fill:?}"
        );
        assert!(fill.write_amp.is_some_and(|w| w >= 1.0), "{kind}: {fill:?}");
        assert_eq!(cold.phase, "readrandom_cold");
        assert!(cold.read_bytes_per_op.is_some(), "{kind}: {cold:?}");
    }
}
