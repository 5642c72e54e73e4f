//! The B+tree engine through the whole kit, at 512-byte pages (deep trees, long keys
//! spilling to overflow pages, splits and merges all the time, a checkpoint every 32 KiB
//! of WAL) and at 4 KiB pages; then behaviour only a B+tree has.

mod kit;

use kit::Subject;
use kit::crash::CrashConfig;
use kit::model::ModelConfig;
use kvlab::EngineKind;
use kvlab::btree::BTreeOptions;

fn btree(page_size: usize) -> Subject {
    let mut subject = Subject::engine(EngineKind::BTree, move |o| {
        o.btree = BTreeOptions {
            page_size,
            ..BTreeOptions::tiny()
        };
    });
    subject.name = format!("btree ({page_size} B pages)");
    subject
}

/// The mmap read mode: database pages are slices of a mapping (on SimFs, a copy taken at
/// each checkpoint, as a mapping of a file nobody else writes would show).
fn btree_mmap() -> Subject {
    let mut subject = Subject::engine(EngineKind::BTree, |o| {
        o.btree = BTreeOptions {
            mmap_reads: true,
            ..BTreeOptions::tiny()
        };
    });
    subject.name = "btree (512 B pages, mmap reads)".into();
    subject
}

#[test]
fn model_mmap() {
    kit::model::run(&btree_mmap(), ModelConfig::default());
}

#[test]
fn crash_mmap() {
    kit::crash::run(&btree_mmap(), CrashConfig::default(), 0..500).unwrap();
}

/// On a real disk, where the mmap read mode also reads the WAL's images through a
/// standing mapping of the WAL (a `SimFs` cannot map so, and the kit runs on one): the
/// answers of a B+tree on small pages and a small WAL, through many checkpoints and WAL
/// cycles, a truncation by `settle` and a reopen, against an ordered map.
#[test]
fn mmap_reads_on_a_real_disk_agree_with_the_oracle() {
    use kvlab::{KeyRange, Options, WriteBatch};
    use std::collections::BTreeMap;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let options = || Options {
        btree: BTreeOptions {
            mmap_reads: true,
            ..BTreeOptions::tiny()
        },
        ..Options::default()
    };
    let open = || kvlab::open(EngineKind::BTree, &path, options()).unwrap();
    let mut store = open();
    let mut oracle = BTreeMap::new();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..300u64 {
        let mut batch = WriteBatch::new();
        for _ in 0..1 + next() % 30 {
            let key = format!("key{:05}", next() % 3000).into_bytes();
            if next() % 5 == 0 {
                batch.delete(&key);
                oracle.remove(&key);
            } else {
                let value = vec![(next() % 251) as u8; (next() % 120) as usize];
                batch.put(&key, &value);
                oracle.insert(key, value);
            }
        }
        store.write(&batch).unwrap();
        for _ in 0..10 {
            let key = format!("key{:05}", next() % 3000).into_bytes();
            let got = store.get(&key).unwrap().map(|v| v.to_vec());
            assert_eq!(got, oracle.get(&key).cloned(), "round {round}");
        }
        if round == 150 {
            store.settle().unwrap();
        }
        if round == 220 {
            drop(store);
            store = open();
        }
    }
    let all: Vec<(Vec<u8>, Vec<u8>)> = store
        .scan(KeyRange::all())
        .unwrap()
        .map(|p| p.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<kvlab::Result<_>>()
        .unwrap();
    assert_eq!(all, oracle.into_iter().collect::<Vec<_>>());
    let stats = store.stats();
    assert!(
        stats.engine_counter("checkpoints").unwrap_or(0) > 0,
        "the WAL went through checkpoints: {:?}",
        stats.engine
    );
    store.check().unwrap();
}

/// Readers that hold their scans open (yielding as they go) while a writer rewrites every
/// key in each batch and checkpoints run in the background, on a real disk, with and
/// without the mmap read mode: a checkpoint writes over pages the scans' snapshots still
/// see, and each scan must see one batch's values from its first key to its last.
#[test]
fn held_scans_on_a_real_disk_see_one_batch_while_checkpoints_run() {
    use kvlab::{KeyRange, Options, WriteBatch};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    const KEYS: u32 = 600;
    for mmap_reads in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            btree: BTreeOptions {
                mmap_reads,
                ..BTreeOptions::tiny()
            },
            durability: kvlab::Durability::Buffered,
            ..Options::default()
        };
        let store = kvlab::open(EngineKind::BTree, &dir.path().join("s"), options).unwrap();
        let key = |i: u32| format!("key{i:05}").into_bytes();
        let write = |generation: u64| {
            let mut batch = WriteBatch::new();
            for i in 0..KEYS {
                batch.put(&key(i), &generation.to_be_bytes().repeat(3));
            }
            store.write(&batch).unwrap();
        };
        write(0);
        let done = AtomicBool::new(false);
        let scans = AtomicU64::new(0);
        std::thread::scope(|s| {
            for reader in 0..2u32 {
                let (store, done, scans) = (&store, &done, &scans);
                s.spawn(move || {
                    while !done.load(Ordering::Relaxed) {
                        let mut first = None;
                        let mut count = 0;
                        for (n, pair) in store.scan(KeyRange::all()).unwrap().enumerate() {
                            let (_, value) = pair.unwrap();
                            let first = first.get_or_insert_with(|| value.clone());
                            assert_eq!(value, *first, "mmap {mmap_reads}: two batches in one scan");
                            count += 1;
                            if n % (7 + reader as usize) == 0 {
                                std::thread::yield_now();
                            }
                        }
                        assert_eq!(count, KEYS);
                        scans.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            for generation in 1..=400 {
                write(generation);
            }
            done.store(true, Ordering::Relaxed);
        });
        let stats = store.stats();
        assert!(
            stats.engine_counter("checkpoints").unwrap() > 20,
            "{:?}",
            stats.engine
        );
        assert!(scans.load(Ordering::Relaxed) > 2);
        store.check().unwrap();
    }
}

#[test]
fn readers_see_whole_batches_mmap() {
    kit::concurrent::run(&btree_mmap(), 300);
}

#[test]
fn model_512() {
    // Long runs, so trees of 512-byte pages grow several levels and shrink again.
    let config = ModelConfig {
        cases: 256,
        max_ops: 800,
        ..ModelConfig::default()
    };
    kit::model::run(&btree(512), config);
}

#[test]
fn model_4k() {
    let config = ModelConfig {
        cases: 128,
        ..ModelConfig::default()
    };
    kit::model::run(&btree(4096), config);
}

#[test]
fn crash_512() {
    let s = kit::crash::run(&btree(512), CrashConfig::default(), 0..2000).unwrap();
    assert!(
        s.crashed_mid_workload > 1000 && s.crashed_recoveries > 200,
        "{s:?}"
    );
}

/// A long soak (a minute in release), run by hand before a format or recovery change:
/// `cargo test --release --test btree -- --ignored soak`.
#[test]
#[ignore = "a minute-long soak; run with --ignored"]
fn soak() {
    kit::crash::run(&btree(512), CrashConfig::default(), 10_000..40_000).unwrap();
    let buffered = CrashConfig {
        durability: kvlab::Durability::Buffered,
        ..CrashConfig::default()
    };
    kit::crash::run(&btree(512), buffered, 10_000..20_000).unwrap();
    kit::crash::run(&btree_mmap(), CrashConfig::default(), 10_000..15_000).unwrap();
    let config = ModelConfig {
        cases: 3000,
        max_ops: 800,
        ..ModelConfig::default()
    };
    kit::model::run(&btree(512), config);
    kit::faults::run(&btree(512), 10_000..20_000).unwrap();
}

/// Checkpoints in the commit that ends a cycle rather than on a thread of their own:
/// every run of a seed makes the same calls in the same order, so a failure replays
/// exactly.
fn btree_foreground_checkpoints() -> Subject {
    let mut subject = Subject::engine(EngineKind::BTree, |o| {
        o.btree = BTreeOptions {
            background_checkpoints: false,
            ..BTreeOptions::tiny()
        };
    });
    subject.name = "btree (512 B pages, checkpoints in the commit)".into();
    subject
}

#[test]
fn crash_foreground_checkpoints() {
    kit::crash::run(
        &btree_foreground_checkpoints(),
        CrashConfig::default(),
        0..1000,
    )
    .unwrap();
}

/// A fault in the checkpoint that a commit runs comes after the commit is durable: the
/// write is acknowledged, and the failure poisons the store for the next call.
#[test]
fn faults_foreground_checkpoints() {
    let fired = kit::faults::run(&btree_foreground_checkpoints(), 0..1500).unwrap();
    assert!(fired > 700, "{fired}");
}

#[test]
fn crash_4k() {
    kit::crash::run(&btree(4096), CrashConfig::default(), 0..1000).unwrap();
}

#[test]
fn crash_buffered() {
    let config = CrashConfig {
        durability: kvlab::Durability::Buffered,
        ..CrashConfig::default()
    };
    kit::crash::run(&btree(512), config, 0..1000).unwrap();
}

#[test]
fn faults() {
    let fired = kit::faults::run(&btree(512), 0..1500).unwrap();
    assert!(fired > 700, "{fired}");
}

#[test]
fn bad_input() {
    kit::limits::run(&btree(512));
}

#[test]
fn foreign_directories() {
    kit::foreign::run(&btree(4096));
}

#[test]
fn readers_see_whole_batches() {
    kit::concurrent::run(&btree(512), 300);
}

mod behaviour {
    use std::sync::Arc;

    use kvlab::btree::{BTree, BTreeOptions};
    use kvlab::vfs::SimFs;
    use kvlab::{KeyRange, KvStore, Options, WriteBatch};
    use rand::{Rng, RngExt, SeedableRng};

    fn open(fs: &Arc<SimFs>, btree: BTreeOptions) -> BTree {
        let options = Options {
            btree,
            ..Options::with_vfs(fs.clone())
        };
        BTree::open("/db".as_ref(), options).unwrap()
    }

    fn key(i: u32) -> Vec<u8> {
        format!("key{i:06}").into_bytes()
    }

    fn shuffle(v: &mut [u32], rng: &mut impl Rng) {
        for i in (1..v.len()).rev() {
            v.swap(i, rng.random_range(0..=i));
        }
    }

    fn engine(store: &BTree, name: &str) -> u64 {
        store.stats().engine_counter(name).unwrap()
    }

    #[test]
    fn deleting_every_key_leaves_one_page_and_the_rest_free() {
        let fs = Arc::new(SimFs::new());
        let store = open(&fs, BTreeOptions::tiny());
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut order: Vec<u32> = (0..8000).collect();
        shuffle(&mut order, &mut rng);
        for chunk in order.chunks(50) {
            let mut batch = WriteBatch::new();
            for &i in chunk {
                batch.put(&key(i), &[i as u8; 40]);
            }
            store.write(&batch).unwrap();
        }
        let report = store.check().unwrap();
        assert!(report.height >= 3, "a deep tree at 512 B pages: {report:?}");
        // Delete in another random order, in batches.
        shuffle(&mut order, &mut rng);
        for (round, chunk) in order.chunks(37).enumerate() {
            let mut batch = WriteBatch::new();
            for &i in chunk {
                batch.delete(&key(i));
            }
            store.write(&batch).unwrap();
            if round % 10 == 0 {
                store.check().unwrap();
            }
        }
        let h = store.header();
        assert_eq!((h.height, h.leaves, h.internals, h.entries), (1, 1, 0, 0));
        assert_eq!(
            h.free_count,
            h.page_count - 2,
            "all but header and root are free"
        );
        assert_eq!(store.scan(KeyRange::all()).unwrap().count(), 0);
    }

    #[test]
    fn under_churn_the_file_stops_growing() {
        let fs = Arc::new(SimFs::new());
        let store = open(&fs, BTreeOptions::tiny());
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let mut pages_after_round = Vec::new();
        for _round in 0..24 {
            for _ in 0..40 {
                let mut batch = WriteBatch::new();
                for _ in 0..20 {
                    let i = rng.random_range(0..2000u32);
                    if rng.random_bool(0.5) {
                        let len = rng.random_range(0..300);
                        batch.put(&key(i), &vec![7; len]);
                    } else {
                        batch.delete(&key(i));
                    }
                }
                store.write(&batch).unwrap();
            }
            store.settle().unwrap();
            pages_after_round.push(store.header().page_count);
        }
        store.check().unwrap();
        // Once the live set has reached its steady size (every key touched), the file
        // takes freed pages back instead of growing, and each settle leaves less than a
        // thirty-second of it free (more, and it vacuums).
        let late = &pages_after_round[14..];
        let grown = late.last().unwrap().saturating_sub(*late.first().unwrap());
        assert!(
            grown * 20 < *late.first().unwrap(),
            "the file keeps growing under steady churn: {pages_after_round:?}"
        );
        let h = store.header();
        assert!(h.free_count * 32 < h.page_count, "{h:?}");
    }

    #[test]
    fn values_up_to_16_mib_round_trip_through_overflow_pages() {
        let fs = Arc::new(SimFs::new());
        let store = open(&fs, BTreeOptions::tiny());
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut big = vec![0u8; kvlab::MAX_VALUE_LEN];
        rng.fill_bytes(&mut big);
        let sizes = [0usize, 100, 117, 118, 400, 5000, 70_000];
        for (i, &n) in sizes.iter().enumerate() {
            store.put(&key(i as u32), &big[..n]).unwrap();
        }
        store.put(b"huge", &big).unwrap();
        let long_key = vec![0xabu8; 1024];
        store.put(&long_key, &big[..3000]).unwrap();
        assert!(engine(&store, "overflow_pages") > 16 << 20 >> 9);
        store.check().unwrap();
        drop(store);
        let store = open(&fs, BTreeOptions::tiny());
        for (i, &n) in sizes.iter().enumerate() {
            assert_eq!(
                store.get(&key(i as u32)).unwrap().unwrap(),
                &big[..n],
                "size {n}"
            );
        }
        assert_eq!(store.get(b"huge").unwrap().unwrap().len(), big.len());
        assert!(store.get(b"huge").unwrap().unwrap() == big[..]);
        assert_eq!(store.get(&long_key).unwrap().unwrap(), &big[..3000]);
        // Overwrite and delete give the chains back.
        store.put(b"huge", b"small").unwrap();
        store.delete(&long_key).unwrap();
        for (i, _) in sizes.iter().enumerate() {
            store.delete(&key(i as u32)).unwrap();
        }
        let h = store.header();
        assert_eq!(h.overflows, 0);
        assert!(h.free_count > 16 << 20 >> 9);
        store.check().unwrap();
    }

    #[test]
    fn long_keys_that_share_long_prefixes_stay_in_order() {
        let fs = Arc::new(SimFs::new());
        let store = open(&fs, BTreeOptions::tiny());
        let mut keys = Vec::new();
        for i in 0..400u32 {
            // 1000 shared bytes, then the part that tells keys apart.
            let mut k = vec![b'p'; 1000];
            k.extend_from_slice(format!("{:08}", (i * 7919) % 400).as_bytes());
            keys.push(k);
        }
        for chunk in keys.chunks(16) {
            let mut batch = WriteBatch::new();
            for k in chunk {
                batch.put(k, &k[1000..]);
            }
            store.write(&batch).unwrap();
        }
        store.check().unwrap();
        keys.sort();
        let got: Vec<Vec<u8>> = store
            .scan(KeyRange::all())
            .unwrap()
            .map(|p| p.unwrap().0.to_vec())
            .collect();
        assert_eq!(got, keys);
        let from = &keys[200];
        let first = store
            .scan(KeyRange::from_key(from))
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(&first.0[..], &from[..]);
        for k in &keys[..100] {
            store.delete(k).unwrap();
        }
        store.check().unwrap();
        assert_eq!(store.get(&keys[150]).unwrap().unwrap(), &keys[150][1000..]);
        assert_eq!(store.get(&keys[50]).unwrap(), None);
    }

    #[test]
    fn a_sorted_batch_into_an_empty_tree_is_bulk_loaded() {
        // Every size from 2 to 700 entries: leaves and internal levels end at every
        // possible place, the awkward last node with one child included.
        for n in (2..700u32).step_by(3).chain([1000, 1500]) {
            let fs = Arc::new(SimFs::new());
            let store = open(&fs, BTreeOptions::tiny());
            let mut batch = WriteBatch::new();
            for i in 0..n {
                // Some long keys and values, so spilled cells take part.
                let value = vec![i as u8; if i % 50 == 7 { 700 } else { 30 }];
                let mut k = key(i);
                if i % 97 == 5 {
                    k.extend_from_slice(&[b'~'; 300]);
                }
                batch.put(&k, &value);
            }
            store.write(&batch).unwrap();
            let report = store.check().unwrap();
            assert_eq!(report.entries, u64::from(n));
            assert_eq!(store.stats().engine_counter("commits"), Some(1));
            if n > 400 {
                assert!(report.height >= 3, "{n}: {report:?}");
                let fill = report.average_fill(512);
                assert!(fill > 0.8, "bulk loading fills pages: {fill} at {n}");
            }
            let got: Vec<Vec<u8>> = store
                .scan(KeyRange::all())
                .unwrap()
                .map(|p| p.unwrap().0.to_vec())
                .collect();
            assert_eq!(got.len(), n as usize);
            assert!(got.windows(2).all(|w| w[0] < w[1]));
            // The tree takes ordinary writes after it.
            store.put(&key(n / 2), b"changed").unwrap();
            store.delete(&key(0)).unwrap();
            store.check().unwrap();
            assert_eq!(store.get(&key(n / 2)).unwrap().unwrap(), &b"changed"[..]);
        }
    }

    #[test]
    fn unsorted_batches_and_batches_with_deletes_take_the_ordinary_path() {
        let fs = Arc::new(SimFs::new());
        let store = open(&fs, BTreeOptions::tiny());
        let mut batch = WriteBatch::new();
        batch.put(b"b", b"2").put(b"a", b"1").put(b"b", b"3");
        store.write(&batch).unwrap();
        assert_eq!(store.get(b"b").unwrap().unwrap(), &b"3"[..]);
        store.check().unwrap();
        let fs = Arc::new(SimFs::new());
        let store = open(&fs, BTreeOptions::tiny());
        let mut batch = WriteBatch::new();
        batch.put(b"a", b"1").delete(b"a").put(b"c", b"3");
        store.write(&batch).unwrap();
        assert_eq!(store.get(b"a").unwrap(), None);
        assert_eq!(store.header().entries, 1);
    }

    #[test]
    fn a_store_keeps_the_page_size_it_was_made_with() {
        let fs = Arc::new(SimFs::new());
        let store = open(&fs, BTreeOptions::tiny());
        for i in 0..500 {
            store.put(&key(i), &[3; 50]).unwrap();
        }
        drop(store);
        let store = open(&fs, BTreeOptions::default());
        assert_eq!(store.header().page_size, 512);
        assert_eq!(store.get(&key(250)).unwrap().unwrap(), &[3u8; 50][..]);
        store.put(&key(999), b"more").unwrap();
        store.settle().unwrap();
        store.check().unwrap();
        let bad = BTreeOptions {
            page_size: 3000,
            ..BTreeOptions::default()
        };
        let options = Options {
            btree: bad,
            ..Options::with_vfs(fs.clone())
        };
        drop(store);
        assert!(matches!(
            BTree::open("/db".as_ref(), options),
            Err(kvlab::Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn sequential_inserts_fill_pages() {
        let fs = Arc::new(SimFs::new());
        let store = open(&fs, BTreeOptions::default());
        for chunk in (0..20_000u32).collect::<Vec<_>>().chunks(1000) {
            let mut batch = WriteBatch::new();
            for &i in chunk {
                batch.put(&i.to_be_bytes(), &[1; 100]);
            }
            store.write(&batch).unwrap();
        }
        let report = store.check().unwrap();
        let fill = report.average_fill(4096);
        assert!(fill > 0.9, "appending leaves full pages behind: {fill}");
    }

    #[test]
    fn a_scan_keeps_its_snapshot_across_commits_and_checkpoints() {
        let fs = Arc::new(SimFs::new());
        let store = open(&fs, BTreeOptions::tiny());
        let mut batch = WriteBatch::new();
        for i in 0..500 {
            batch.put(&key(i), b"old");
        }
        store.write(&batch).unwrap();
        let mut scan = store.scan(KeyRange::all()).unwrap();
        let first = scan.next().unwrap().unwrap();
        for round in 0..20 {
            let mut batch = WriteBatch::new();
            for i in 0..500 {
                if (i + round) % 3 == 0 {
                    batch.delete(&key(i));
                } else {
                    batch.put(&key(i), format!("new{round}").as_bytes());
                }
            }
            store.write(&batch).unwrap();
        }
        assert!(
            engine(&store, "checkpoints") > 0 && engine(&store, "pinned_pages") > 0,
            "checkpoints went on around the open scan, pinning its pages"
        );
        let rest: Vec<_> = scan.map(|p| p.unwrap()).collect();
        assert_eq!(rest.len() + 1, 500);
        assert!(
            std::iter::once(&first)
                .chain(&rest)
                .all(|(_, v)| &v[..] == b"old")
        );
        // A settle checkpoints whatever the WAL holds.
        let before = engine(&store, "checkpoints");
        store.settle().unwrap();
        assert!(engine(&store, "checkpoints") > before);
        assert_eq!(engine(&store, "wal_bytes"), 0);
        store.check().unwrap();
    }

    /// A reader holding a scan across 100,000 commits holds neither the WAL nor memory
    /// without bound: checkpoints go on, keeping for the scan one version of each page it
    /// may still read, and the scan sees its snapshot to the end.
    #[test]
    fn a_held_scan_keeps_the_wal_and_memory_bounded() {
        let fs = Arc::new(SimFs::new());
        let options = BTreeOptions::tiny();
        let store = open(&fs, options.clone());
        let mut batch = WriteBatch::new();
        for i in 0..1000 {
            batch.put(&key(i), b"old");
        }
        store.write(&batch).unwrap();
        let pages = engine(&store, "pages");
        let mut scan = store.scan(KeyRange::all()).unwrap();
        let first = scan.next().unwrap().unwrap();
        let (mut wal, mut images, mut pinned) = (0, 0, 0);
        for c in 0..100_000u32 {
            store
                .put(&key(c * 7919 % 1000), format!("new {c}").as_bytes())
                .unwrap();
            if c % 100 == 0 {
                wal = wal.max(engine(&store, "wal_bytes"));
                images = images.max(engine(&store, "wal_images"));
                pinned = pinned.max(engine(&store, "pinned_pages"));
            }
        }
        let page_size = options.page_size as u64;
        assert!(wal <= options.wal_limit + 4 * page_size, "WAL {wal} bytes");
        // The dirty limit in images, twice over (the cycle written and the one
        // checkpointed), and the images the scan's snapshot sees.
        let limit = 2 * options.dirty_limit / page_size + 2 * pages;
        assert!(images <= limit, "{images} images held (limit {limit})");
        assert!(
            pinned <= 2 * pages,
            "{pinned} pages pinned for a tree of {pages}"
        );
        assert!(pinned > 0);
        let rest: Vec<_> = scan.map(|p| p.unwrap()).collect();
        assert_eq!(rest.len() + 1, 1000);
        assert!(
            std::iter::once(&first)
                .chain(&rest)
                .all(|(_, v)| &v[..] == b"old")
        );
        assert_eq!(engine(&store, "pinned_pages"), 0, "the scan is gone");
        store.check().unwrap();
    }

    /// A store whose settle vacuums: small and spilled values, then two of every three
    /// keys deleted, so that free pages lie all through the file. The keys left, by index.
    fn store_with_free_pages_inside(fs: &Arc<SimFs>, options: BTreeOptions) -> Vec<u32> {
        let store = open(fs, options);
        for chunk in (0..600u32).collect::<Vec<_>>().chunks(50) {
            let mut batch = WriteBatch::new();
            for &i in chunk {
                batch.put(&key(i), &value(i));
            }
            store.write(&batch).unwrap();
        }
        store.settle().unwrap();
        let mut batch = WriteBatch::new();
        for i in (0..600u32).filter(|i| i % 3 != 0) {
            batch.delete(&key(i));
        }
        store.write(&batch).unwrap();
        (0..600u32).filter(|i| i % 3 == 0).collect()
    }

    /// Every third value spills into a chain of overflow pages.
    fn value(i: u32) -> Vec<u8> {
        vec![
            i as u8;
            if i % 3 == 0 {
                100 + (i as usize % 5) * 400
            } else {
                60
            }
        ]
    }

    #[test]
    fn a_settle_gives_the_free_pages_back_to_the_file_system() {
        let fs = Arc::new(SimFs::new());
        let left = store_with_free_pages_inside(&fs, BTreeOptions::tiny());
        let store = open(&fs, BTreeOptions::tiny());
        let before = store.header();
        assert!(before.free_count * 32 >= before.page_count, "{before:?}");
        // A reader holding the snapshot from before the vacuum keeps seeing it whole, and
        // keeps the pages it reads in the file.
        let mut held = store.scan(KeyRange::all()).unwrap();
        let first = held.next().unwrap().unwrap();
        store.settle().unwrap();
        let after = store.header();
        assert_eq!(after.free_count, 0);
        assert_eq!(after.page_count, before.page_count - before.free_count);
        let page = u64::from(after.page_size);
        assert!(store.disk_usage().unwrap() >= before.page_count * page);
        let rest: Vec<_> = held.map(|p| p.unwrap()).collect();
        assert_eq!(rest.len() + 1, left.len());
        for ((k, v), &i) in std::iter::once(&first).chain(&rest).zip(&left) {
            assert_eq!((&k[..], &v[..]), (&key(i)[..], &value(i)[..]));
        }
        // With the reader gone, the next settle cuts the file.
        store.settle().unwrap();
        let usage = store.disk_usage().unwrap();
        assert!(
            usage >= after.page_count * page && usage < (after.page_count + 1) * page,
            "{usage} bytes for {} pages",
            after.page_count
        );
        store.check().unwrap();
        drop(store);
        let store = open(&fs, BTreeOptions::tiny());
        assert_eq!(store.header().page_count, after.page_count);
        let all: Vec<_> = store
            .scan(KeyRange::all())
            .unwrap()
            .map(|p| p.unwrap())
            .collect();
        assert_eq!(all.len(), left.len());
        for ((k, v), &i) in all.iter().zip(&left) {
            assert_eq!((&k[..], &v[..]), (&key(i)[..], &value(i)[..]));
        }
        // The store grows again from its new end.
        store.put(&key(1), &value(3)).unwrap();
        store.settle().unwrap();
        assert_eq!(store.get(&key(1)).unwrap().unwrap(), value(3));
        store.check().unwrap();
    }

    /// Crashes a settle of the store in `fs` after each of its mutating calls in turn (and
    /// after all of them), with `seeds` different crashes each, and checks after every
    /// reopen that key `i` of `0..keys` holds `want(i)` and the tree is sound. Returns how
    /// many mutating calls the settle makes, and the header it leaves when nothing crashes.
    fn crash_at_every_call_of_a_settle(
        fs: &SimFs,
        options: &BTreeOptions,
        seeds: u64,
        keys: u32,
        want: impl Fn(u32) -> Option<Vec<u8>>,
    ) -> (u64, kvlab::btree::DbHeader) {
        let dry = Arc::new(fs.fork());
        let store = open(&dry, options.clone());
        let before = dry.mutating_calls();
        store.settle().unwrap();
        let calls = dry.mutating_calls() - before;
        let settled_header = store.header();
        drop(store);
        for point in 0..=calls {
            for seed in 0..seeds {
                let fs2 = Arc::new(fs.fork());
                let store = open(&fs2, options.clone());
                fs2.crash_after(point);
                let settled = store.settle();
                drop(store);
                fs2.crash(seed * 1000 + point);
                let store = open(&fs2, options.clone());
                if point == calls {
                    assert!(settled.is_ok());
                }
                for i in 0..keys {
                    assert_eq!(
                        store.get(&key(i)).unwrap().map(|v| v.to_vec()),
                        want(i),
                        "key {i} after a crash at call {point} of {calls}"
                    );
                }
                store.check().unwrap();
            }
        }
        (calls, settled_header)
    }

    #[test]
    fn a_crash_at_any_point_of_a_vacuum_loses_nothing() {
        let fs = Arc::new(SimFs::new());
        let big_wal = BTreeOptions {
            wal_limit: 1 << 30,
            ..BTreeOptions::tiny()
        };
        let left = store_with_free_pages_inside(&fs, big_wal.clone());
        let (_, settled) = crash_at_every_call_of_a_settle(&fs, &big_wal, 2, 600, |i| {
            left.contains(&i).then(|| value(i))
        });
        assert_eq!(settled.free_count, 0, "the settle vacuumed");
    }

    #[test]
    fn a_crash_at_any_point_of_a_checkpoint_loses_nothing() {
        let fs = Arc::new(SimFs::new());
        let big_wal = BTreeOptions {
            wal_limit: 1 << 30,
            ..BTreeOptions::tiny()
        };
        let store = open(&fs, big_wal.clone());
        for chunk in (0..400u32).collect::<Vec<_>>().chunks(40) {
            let mut batch = WriteBatch::new();
            for &i in chunk {
                batch.put(&key(i), &[i as u8; 150]);
            }
            store.write(&batch).unwrap();
        }
        store.delete(&key(7)).unwrap();
        drop(store);
        let (calls, _) = crash_at_every_call_of_a_settle(&fs, &big_wal, 3, 400, |i| {
            (i != 7).then(|| vec![i as u8; 150])
        });
        // Page runs, sync, header, sync, WAL truncate, sync.
        assert!(calls >= 6, "a checkpoint makes {calls} calls");
    }

    /// A sync that fails inside the checkpoint a commit starts comes after that commit's
    /// record is durable: the write is acknowledged, and the store is poisoned for the
    /// next write, for `sync` and in `stats`. Every sync of the workload fails in turn.
    #[test]
    fn a_failed_checkpoint_acknowledges_the_commit_that_started_it() {
        use kvlab::Error;
        use kvlab::vfs::{Fault, FaultOp};
        let foreground = BTreeOptions {
            background_checkpoints: false,
            ..BTreeOptions::tiny()
        };
        let mut acknowledged_then_poisoned = 0;
        for nth in 1..200 {
            let fs = Arc::new(SimFs::new());
            let store = open(&fs, foreground.clone());
            fs.inject(Fault::eio(FaultOp::Sync, nth));
            let mut written = Vec::new();
            for i in 0..300u32 {
                let ok = store.put(&key(i), &[i as u8; 100]).is_ok();
                if !ok {
                    break;
                }
                written.push(i);
                if engine(&store, "poisoned") == 1 {
                    acknowledged_then_poisoned += 1;
                    assert!(matches!(
                        store.put(&key(9999), b"x"),
                        Err(Error::Poisoned(_))
                    ));
                    assert!(matches!(store.sync(), Err(Error::Poisoned(_))));
                    break;
                }
            }
            drop(store);
            fs.clear_faults();
            fs.crash(nth);
            let store = open(&fs, foreground.clone());
            let held = store.scan(KeyRange::all()).unwrap().count();
            assert_eq!(held, written.len(), "sync {nth} failed");
            for &i in &written {
                assert_eq!(store.get(&key(i)).unwrap().unwrap()[..], [i as u8; 100]);
            }
        }
        assert!(
            acknowledged_then_poisoned > 10,
            "{acknowledged_then_poisoned} checkpoints failed after their commit"
        );
    }

    /// What recovery replays is made durable before the store serves it. A buffered
    /// batch sits in the page cache only; when the close that would sync it fails (the
    /// disk fills), the next open still reads and serves it, so a power failure after
    /// that open must not take it back, even if that store too fails before it syncs.
    /// Each crash seed decides differently what the unsynced writes leave.
    #[test]
    fn a_reopen_makes_what_it_recovered_durable() {
        use kvlab::Durability;
        use kvlab::vfs::{Fault, FaultOp};
        for seed in 0..64 {
            let fs = Arc::new(SimFs::new());
            let options = |fs: &Arc<SimFs>| Options {
                durability: Durability::Buffered,
                // Room for the batch below without a checkpoint (which would sync it).
                btree: BTreeOptions {
                    wal_limit: 1 << 20,
                    dirty_limit: 1 << 20,
                    ..BTreeOptions::tiny()
                },
                ..Options::with_vfs(fs.clone())
            };
            let store = BTree::open("/db".as_ref(), options(&fs)).unwrap();
            // The first record of a new store, over 16 KiB, which the WAL writes as it is,
            // so that its file ends where the record does (no grown tail for the open to
            // cut off, which would sync the file by the way).
            store.put(b"buffered", &[7; 20_000]).unwrap();
            // From here the disk is full: no write, and no growth of a file, succeeds, so
            // the close can neither checkpoint nor sync a poisoned store.
            fs.inject(Fault::no_space(FaultOp::Write, 1).sticky());
            fs.inject(Fault::no_space(FaultOp::Truncate, 1).sticky());
            assert!(store.put(b"refused", b"x").is_err());
            drop(store);
            fs.clear_faults();

            let store = BTree::open("/db".as_ref(), options(&fs)).unwrap();
            let served = store.get(b"buffered").unwrap();
            assert!(
                served.is_some(),
                "seed {seed}: the open recovered the buffered batch"
            );
            // And this close cannot sync either: only the open could have.
            fs.inject(Fault::no_space(FaultOp::Write, 1).sticky());
            fs.inject(Fault::no_space(FaultOp::Truncate, 1).sticky());
            assert!(store.put(b"refused", b"x").is_err());
            drop(store);
            fs.clear_faults();
            fs.crash(seed);
            let store = BTree::open("/db".as_ref(), options(&fs)).unwrap();
            assert_eq!(
                store.get(b"buffered").unwrap(),
                served,
                "seed {seed}: a value the reopened store served was lost to a crash"
            );
        }
    }

    /// Frames of the buffer pool the hand looks at while one batch runs on a copy of
    /// `fs`: the batch's work in the pool.
    fn pool_work(fs: &SimFs, options: &BTreeOptions, batch: &WriteBatch) -> u64 {
        let fs = Arc::new(fs.fork());
        let store = open(&fs, options.clone());
        let before = engine(&store, "pool_frames_swept");
        store.write(batch).unwrap();
        engine(&store, "pool_frames_swept") - before
    }

    /// A batch that deletes many keys after a settle pins every page it changes until it
    /// commits. The pool's work must stay linear in the pages the batch touches: twice the
    /// keys, or twice the overflow pages freed, cost about twice the work.
    #[test]
    fn a_batch_costs_the_pool_work_linear_in_its_pages() {
        let options = BTreeOptions {
            page_size: 4096,
            pool_size: 256 << 10,
            ..BTreeOptions::default()
        };
        let fs = Arc::new(SimFs::new());
        let store = open(&fs, options.clone());
        for chunk in (0..12_000u32).collect::<Vec<_>>().chunks(1000) {
            let mut batch = WriteBatch::new();
            for &i in chunk {
                batch.put(&key(i), &[i as u8; 1100]);
            }
            store.write(&batch).unwrap();
        }
        for i in 0..4u32 {
            store
                .put(&key(100_000 + i), &vec![i as u8; 2 << 20])
                .unwrap();
        }
        store.settle().unwrap();
        drop(store);

        let deletes = |keys: std::ops::Range<u32>| {
            let mut batch = WriteBatch::new();
            for i in keys {
                batch.delete(&key(i * 3));
            }
            batch
        };
        let one = pool_work(&fs, &options, &deletes(0..1500));
        let two = pool_work(&fs, &options, &deletes(0..3000));
        assert!(
            two < 5 * one / 2,
            "deleting 1500 keys swept {one} frames, 3000 keys {two}"
        );
        let big = |n: u32| {
            let mut batch = WriteBatch::new();
            for i in 0..n {
                batch.delete(&key(100_000 + i));
            }
            batch
        };
        let one = pool_work(&fs, &options, &big(2));
        let two = pool_work(&fs, &options, &big(4));
        assert!(
            two < 5 * one / 2,
            "freeing 2 values of 2 MiB swept {one} frames, 4 values {two}"
        );
    }

    #[test]
    fn a_flipped_byte_in_the_database_file_is_corruption() {
        let fs = Arc::new(SimFs::new());
        let store = open(&fs, BTreeOptions::tiny());
        for i in 0..300 {
            store.put(&key(i), &[9; 60]).unwrap();
        }
        store.settle().unwrap();
        drop(store);
        let path = std::path::Path::new("/db/btree.db");
        let len = kvlab::vfs::Vfs::file_len(fs.as_ref(), path).unwrap();
        for at in (0..len).step_by(97) {
            let fs2 = Arc::new(fs.fork());
            let file =
                kvlab::vfs::Vfs::open(fs2.as_ref(), path, kvlab::vfs::FileKind::Page).unwrap();
            let mut b = [0u8; 1];
            file.read_at(&mut b, at).unwrap();
            file.write_at(&[b[0] ^ 0x20], at).unwrap();
            file.sync().unwrap();
            drop(file);
            let options = Options {
                btree: BTreeOptions::tiny(),
                ..Options::with_vfs(fs2.clone())
            };
            let outcome = BTree::open("/db".as_ref(), options).and_then(|s| {
                for i in 0..300 {
                    let v = s.get(&key(i))?;
                    assert!(
                        v.is_none() || v.as_deref() == Some(&[9; 60][..]),
                        "wrong data"
                    );
                    if v.is_none() {
                        return Err(kvlab::Error::corruption("test", at, "a key went missing"));
                    }
                }
                s.check().map(|_| ())
            });
            match outcome {
                Ok(()) => {
                    // Every page carries a CRC; only the header page's unused tail
                    // (after its 116 checked bytes) is read by nothing.
                    assert!((116..512).contains(&at), "flip at {at} went unnoticed");
                }
                Err(kvlab::Error::Corruption { .. }) => {}
                Err(e) => panic!("flip at {at}: {e}"),
            }
        }
    }
}

/// Found by the corruption sweep: a database file cut to nothing (or removed) while its
/// WAL files stayed reopened as a new, empty store, silently. The WAL files exist only
/// once the file's header was durable, so this is damage, not a creation a crash cut
/// short.
#[test]
fn an_emptied_or_removed_database_file_is_corruption_not_an_empty_store() {
    use kvlab::vfs::{FileKind, SimFs, Vfs};
    use std::path::Path;
    use std::sync::Arc;

    for remove in [false, true] {
        let fs = Arc::new(SimFs::new());
        let subject = Subject::engine(EngineKind::BTree, |_| {});
        let store = subject.open(&fs, kvlab::Durability::Sync).unwrap();
        store.put(b"k", b"v").unwrap();
        store.settle().unwrap();
        drop(store);
        let db = Path::new(kit::DIR).join("btree.db");
        if remove {
            fs.remove(&db).unwrap();
        } else {
            fs.open(&db, FileKind::Page).unwrap().truncate(0).unwrap();
        }
        match subject.open(&fs, kvlab::Durability::Sync) {
            Err(kvlab::Error::Corruption { .. }) => {}
            Err(e) => panic!("removed {remove}: {e}"),
            Ok(store) => panic!(
                "removed {remove}: opened, holding {:?}",
                store.get(b"k").unwrap()
            ),
        }
    }
}
