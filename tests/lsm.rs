//! The LSM engine through the whole kit, with tiny sizes (4 KiB memtables, 8 KiB tables,
//! 256-byte blocks) so that flushes and compactions happen constantly.

mod kit;

use kit::Subject;
use kit::crash::CrashConfig;
use kit::model::ModelConfig;
use kvlab::EngineKind;
use kvlab::lsm::{CompactionStyle, LsmOptions};

fn lsm(style: CompactionStyle) -> Subject {
    let mut subject = Subject::engine(EngineKind::Lsm, move |o| {
        o.lsm = LsmOptions {
            compaction: style,
            ..LsmOptions::tiny()
        };
    });
    subject.name = format!("lsm ({style:?})");
    subject
}

#[test]
fn model_leveled() {
    let config = ModelConfig {
        cases: 256,
        ..ModelConfig::default()
    };
    kit::model::run(&lsm(CompactionStyle::Leveled), config);
}

#[test]
fn model_tiered() {
    let config = ModelConfig {
        cases: 256,
        ..ModelConfig::default()
    };
    kit::model::run(&lsm(CompactionStyle::Tiered), config);
}

#[test]
fn crash_leveled() {
    let s = kit::crash::run(
        &lsm(CompactionStyle::Leveled),
        CrashConfig::default(),
        0..3000,
    )
    .unwrap();
    assert!(
        s.crashed_mid_workload > 1500 && s.crashed_recoveries > 300,
        "{s:?}"
    );
}

#[test]
fn crash_tiered() {
    kit::crash::run(
        &lsm(CompactionStyle::Tiered),
        CrashConfig::default(),
        0..3000,
    )
    .unwrap();
}

#[test]
fn crash_buffered() {
    let config = CrashConfig {
        durability: kvlab::Durability::Buffered,
        ..CrashConfig::default()
    };
    kit::crash::run(&lsm(CompactionStyle::Leveled), config, 0..1000).unwrap();
}

#[test]
fn faults() {
    let fired = kit::faults::run(&lsm(CompactionStyle::Leveled), 0..2000).unwrap();
    assert!(fired > 1000, "{fired}");
}

#[test]
fn bad_input() {
    kit::limits::run(&lsm(CompactionStyle::Leveled));
}

#[test]
fn foreign_directories() {
    kit::foreign::run(&lsm(CompactionStyle::Leveled));
}

#[test]
fn readers_see_whole_batches() {
    kit::concurrent::run(&lsm(CompactionStyle::Leveled), 300);
}

mod behaviour {
    use std::sync::Arc;

    use kvlab::lsm::{CompactionStyle, Lsm, LsmOptions};
    use kvlab::vfs::SimFs;
    use kvlab::{KeyRange, KvStore, Options, WriteBatch};

    fn open(fs: &Arc<SimFs>) -> Lsm {
        let options = Options {
            lsm: LsmOptions::tiny(),
            ..Options::with_vfs(fs.clone())
        };
        Lsm::open("/db".as_ref(), options).unwrap()
    }

    fn key(i: u32) -> Vec<u8> {
        format!("key{i:06}").into_bytes()
    }

    fn fill(store: &Lsm, n: u32, generation: u32) {
        fill_in_order(store, (0..n).collect(), generation);
    }

    /// Keys 0..n in a scrambled order (7919 is prime, so `i * 7919 % n` is a bijection
    /// when n is not a multiple of it): new tables overlap the ones below and must merge.
    fn fill_scrambled(store: &Lsm, n: u32, generation: u32) {
        fill_in_order(store, (0..n).map(|i| i * 7919 % n).collect(), generation);
    }

    fn fill_in_order(store: &Lsm, keys: Vec<u32>, generation: u32) {
        for chunk in keys.chunks(10) {
            let mut batch = WriteBatch::new();
            for &i in chunk {
                batch.put(&key(i), format!("{generation}:{i:0100}").as_bytes());
            }
            store.write(&batch).unwrap();
        }
    }

    /// Every table file in the directory is in the version, and every table in the
    /// version has its file: nothing leaked, nothing lost.
    fn assert_no_leaks(fs: &SimFs, store: &Lsm) {
        let mut on_disk: Vec<String> = kvlab::vfs::Vfs::list(fs, "/db".as_ref())
            .unwrap()
            .into_iter()
            .filter(|n| n.ends_with(".sst"))
            .collect();
        let mut live: Vec<String> = store
            .level_tables()
            .iter()
            .flatten()
            .map(|t| format!("{:06}.sst", t.number))
            .collect();
        on_disk.sort();
        live.sort();
        assert_eq!(on_disk, live);
    }

    /// Keys 0..n all read back (every 7th by a get, all by a scan) with generation 1's
    /// values.
    fn assert_holds_generation_1(store: &Lsm, n: u32) {
        for i in (0..n).step_by(7) {
            let v = store.get(&key(i)).unwrap().unwrap();
            assert!(v.starts_with(b"1:"));
        }
        assert_eq!(store.scan(KeyRange::all()).unwrap().count(), n as usize);
    }

    fn counter(store: &Lsm, name: &str) -> u64 {
        store.stats().engine_counter(name).unwrap()
    }

    #[test]
    fn keys_in_order_move_tables_down_without_rewriting_them() {
        let fs = Arc::new(SimFs::new());
        let store = open(&fs);
        fill(&store, 3000, 1);
        store.settle().unwrap();
        let levels = store.level_tables();
        assert!(
            levels[2..].iter().any(|l| !l.is_empty()),
            "data reached level 2 or below"
        );
        // No table's range meets another's: each went down by a manifest edit alone.
        assert!(counter(&store, "table_moves") >= 50);
        assert_eq!(counter(&store, "compaction_bytes_written"), 0);
        assert_holds_generation_1(&store, 3000);
        assert_no_leaks(&fs, &store);
        // The moves are in the manifest: a reopened store finds every table.
        drop(store);
        let store = open(&fs);
        assert_eq!(store.scan(KeyRange::all()).unwrap().count(), 3000);
        assert_no_leaks(&fs, &store);
    }

    #[test]
    fn a_settle_merges_the_memtable_down_without_a_level_0_table() {
        let fs = Arc::new(SimFs::new());
        let store = open(&fs);
        fill_scrambled(&store, 2000, 1);
        store.settle().unwrap();
        // Four batches of ten keys, each across the same stretch of the key space: the
        // first three fill a memtable (4 KiB) that is flushed to level 0, the fourth stays
        // in the new memtable and meets that table.
        let flushes = counter(&store, "flushes");
        let keys: Vec<u32> = (0..40).map(|i| ((i % 10) * 4 + i / 10) * 47).collect();
        fill_in_order(&store, keys.clone(), 2);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while counter(&store, "flushes") == flushes {
            assert!(std::time::Instant::now() < deadline, "the flush never came");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(store.level_tables()[0].len(), 1);
        assert!(counter(&store, "memtable_bytes") > 0);
        let flushed = counter(&store, "flush_bytes");
        store.settle().unwrap();
        assert_eq!(
            counter(&store, "flush_bytes"),
            flushed,
            "a level-0 table was written"
        );
        assert!(store.level_tables()[0].is_empty());
        let generation = |store: &Lsm, i: u32| store.get(&key(i)).unwrap().unwrap()[0];
        assert!(keys.iter().all(|&i| generation(&store, i) == b'2'));
        assert_eq!(generation(&store, 1), b'1');
        assert_no_leaks(&fs, &store);
        // The merge's edit covers the memtable's WAL: a reopen replays nothing stale.
        drop(store);
        let store = open(&fs);
        assert!(keys.iter().all(|&i| generation(&store, i) == b'2'));
        assert_eq!(store.scan(KeyRange::all()).unwrap().count(), 2000);
        assert_no_leaks(&fs, &store);
    }

    #[test]
    fn tiny_sizes_flush_and_compact_constantly() {
        let fs = Arc::new(SimFs::new());
        let store = open(&fs);
        fill_scrambled(&store, 3000, 1);
        store.settle().unwrap();
        assert!(
            counter(&store, "flushes") >= 50,
            "{:?}",
            store.stats().engine
        );
        assert!(
            counter(&store, "compactions") >= 10,
            "{:?}",
            store.stats().engine
        );
        let levels = store.level_tables();
        assert!(levels[0].len() < 4, "settle leaves no compaction due");
        assert!(
            levels[2..].iter().any(|l| !l.is_empty()),
            "data reached level 2 or below"
        );
        assert_holds_generation_1(&store, 3000);
        assert_no_leaks(&fs, &store);
    }

    #[test]
    fn a_scan_keeps_its_snapshot_while_compactions_run() {
        let fs = Arc::new(SimFs::new());
        let store = open(&fs);
        fill(&store, 1000, 1);
        let mut scan = store.scan(KeyRange::all()).unwrap();
        let first: Vec<_> = scan.by_ref().take(100).map(|p| p.unwrap()).collect();
        let before = counter(&store, "compactions");
        // Rewrite and delete everything underneath the open scan.
        fill(&store, 1000, 2);
        for i in (0..1000).step_by(2) {
            store.delete(&key(i)).unwrap();
        }
        store.settle().unwrap();
        assert!(
            counter(&store, "compactions") > before,
            "compactions ran meanwhile"
        );
        let rest: Vec<_> = scan.map(|p| p.unwrap()).collect();
        assert_eq!(
            first.len() + rest.len(),
            1000,
            "the scan saw its snapshot whole"
        );
        assert!(first.iter().chain(&rest).all(|(_, v)| v.starts_with(b"1:")));
        // And the new state is what new reads see.
        assert_eq!(store.scan(KeyRange::all()).unwrap().count(), 500);
        assert!(store.get(&key(1)).unwrap().unwrap().starts_with(b"2:"));
        assert_eq!(store.get(&key(2)).unwrap(), None);
        assert_no_leaks(&fs, &store);
    }

    #[test]
    fn compact_range_drops_deleted_data() {
        let fs = Arc::new(SimFs::new());
        let store = open(&fs);
        fill(&store, 2000, 1);
        for i in 0..2000 {
            store.delete(&key(i)).unwrap();
        }
        store.settle().unwrap();
        let table_bytes =
            |store: &Lsm| -> u64 { store.level_tables().iter().flatten().map(|t| t.size).sum() };
        store.compact_range(b"", &[0xff; 8]).unwrap();
        assert_eq!(
            table_bytes(&store),
            0,
            "every value and every deletion is gone"
        );
        assert_eq!(store.scan(KeyRange::all()).unwrap().count(), 0);
        assert!(
            store.level_tables().iter().all(|l| l.is_empty()),
            "{:?}",
            store.level_tables()
        );
        assert_no_leaks(&fs, &store);
    }

    /// Levels 1 and below hold disjoint key ranges in order.
    fn assert_levels_disjoint(store: &Lsm) {
        for (level, tables) in store.level_tables().iter().enumerate().skip(1) {
            for pair in tables.windows(2) {
                assert!(
                    pair[0].largest_user() < pair[1].smallest_user(),
                    "level {level}: tables {} and {} overlap",
                    pair[0].number,
                    pair[1].number
                );
            }
        }
    }

    #[test]
    fn compacting_a_narrow_range_keeps_levels_disjoint() {
        let fs = Arc::new(SimFs::new());
        let store = open(&fs);
        fill(&store, 2000, 1);
        store.settle().unwrap();
        // One level-0 table spanning the whole key space, then a merge asked for a sliver.
        let mut batch = WriteBatch::new();
        batch.put(&key(0), b"2:first").put(&key(1999), b"2:last");
        store.write(&batch).unwrap();
        store.compact_range(&key(1000), &key(1001)).unwrap();
        assert_levels_disjoint(&store);
        assert_eq!(
            store.get(&key(0)).unwrap().as_deref(),
            Some(&b"2:first"[..])
        );
        assert_eq!(
            store.get(&key(1999)).unwrap().as_deref(),
            Some(&b"2:last"[..])
        );
        assert_eq!(store.scan(KeyRange::all()).unwrap().count(), 2000);
        assert_no_leaks(&fs, &store);
    }

    /// A failed directory sync may drop names other threads have just made (the tiny
    /// memtable fills and flushes constantly here, so WAL switches and new tables race
    /// with it): after it, no write is accepted and the directory is never synced again
    /// (a later success would not bring the names back), and recovery finds every
    /// acknowledged write.
    #[test]
    fn after_a_failed_directory_sync_nothing_counts_on_a_name() {
        use kvlab::Error;
        use kvlab::vfs::{Fault, FaultOp};
        for round in 0..100u32 {
            let fs = Arc::new(SimFs::new());
            let store = open(&fs);
            fill(&store, 100 + round * 7, 1);
            let before = fs.calls(FaultOp::SyncDir);
            fs.inject(Fault::eio(FaultOp::SyncDir, 1));
            let mut acked = 0;
            let mut failed_at = None;
            for i in 0..20_000u32 {
                let mut batch = WriteBatch::new();
                batch.put(&key(i), &[round as u8; 100]);
                match store.write(&batch) {
                    Ok(()) => {
                        assert!(
                            failed_at.is_none(),
                            "round {round}: write {i} accepted after a failure"
                        );
                        acked = i + 1;
                    }
                    Err(Error::Io { .. } | Error::Poisoned(_)) => {
                        failed_at.get_or_insert(i);
                    }
                    Err(e) => panic!("round {round}: {e}"),
                }
                if failed_at.is_some_and(|f| i > f + 30) {
                    break;
                }
            }
            assert!(failed_at.is_some(), "round {round}: the fault never fired");
            assert!(store.settle().is_err());
            assert_eq!(
                fs.calls(FaultOp::SyncDir),
                before + 1,
                "round {round}: the directory was synced again after the failure"
            );
            drop(store);
            fs.crash(u64::from(round));
            let store = open(&fs);
            for i in 0..acked {
                assert!(
                    store.get(&key(i)).unwrap().is_some(),
                    "round {round}: key {i}"
                );
            }
        }
    }

    /// A group of 16 KiB or more fills the memtable while its WAL sync runs; when that
    /// sync fails, the entries already in the memtable must stay unseen, the store must
    /// take no more writes and flush nothing, and a reopen must find every acknowledged
    /// batch.
    #[test]
    fn a_failed_sync_of_a_large_group_leaves_its_entries_unseen() {
        use kvlab::Error;
        use kvlab::vfs::{Fault, FaultOp};
        for round in 0..20u32 {
            let fs = Arc::new(SimFs::new());
            let store = open(&fs);
            let big = |generation: u32| {
                let mut batch = WriteBatch::new();
                for i in 0..200 {
                    batch.put(&key(i), format!("{generation}:{i:0100}").as_bytes());
                }
                batch
            };
            store.write(&big(1)).unwrap();
            fs.inject(Fault::eio(FaultOp::Sync, 1 + u64::from(round % 3)));
            let mut acked = 1;
            let mut failed = false;
            for generation in 2..20 {
                match store.write(&big(generation)) {
                    Ok(()) => {
                        assert!(!failed, "round {round}: a write accepted after a failure");
                        acked = generation;
                    }
                    Err(Error::Io { .. } | Error::Poisoned(_)) => failed = true,
                    Err(e) => panic!("round {round}: {e}"),
                }
            }
            assert!(failed, "round {round}: the fault never fired");
            let seen = store.get(&key(7)).unwrap().unwrap();
            assert!(
                seen.starts_with(format!("{acked}:").as_bytes()),
                "round {round}: reads see {:?}, not the last acknowledged batch {acked}",
                String::from_utf8_lossy(&seen[..4])
            );
            assert!(
                store.settle().is_err(),
                "round {round}: a poisoned store flushed"
            );
            drop(store);
            fs.crash(u64::from(round));
            let store = open(&fs);
            let after = store.get(&key(7)).unwrap().unwrap();
            let generation: u32 = String::from_utf8_lossy(&after)
                .split(':')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            // The failed batch may or may not have reached the disk; nothing later did.
            assert!(
                generation == acked || generation == acked + 1,
                "round {round}: generation {generation} after acknowledging {acked}"
            );
            assert_eq!(store.scan(KeyRange::all()).unwrap().count(), 200);
        }
    }

    /// Flushed memtables' WALs are renamed and written over rather than deleted: the
    /// directory never holds more than three (the live one, the one being flushed, the
    /// spare), a reopen replays none of the records of a file's earlier use, and `settle`
    /// gives the room back. Twenty keys are written again and again, then deleted and
    /// compacted away: the live WAL is then a file whose earlier records hold puts of
    /// those keys, which replayed would bring them back.
    #[test]
    fn wal_files_are_written_over_and_their_old_records_never_replayed() {
        let fs = Arc::new(SimFs::new());
        let store = open(&fs);
        let logs = |fs: &SimFs| -> Vec<String> {
            kvlab::vfs::Vfs::list(fs, "/db".as_ref())
                .unwrap()
                .into_iter()
                .filter(|n| n.ends_with(".log"))
                .collect()
        };
        let mut most = 0;
        for b in 0..300u32 {
            let mut batch = WriteBatch::new();
            for i in (b % 2) * 10..(b % 2) * 10 + 10 {
                batch.put(&key(i), format!("{b:05}:{i:0100}").as_bytes());
            }
            store.write(&batch).unwrap();
            most = most.max(logs(&fs).len());
        }
        assert!(counter(&store, "flushes") > 20);
        assert!(most <= 3, "{most} WAL files at once");
        let mut batch = WriteBatch::new();
        for i in 0..20 {
            batch.delete(&key(i));
        }
        store.write(&batch).unwrap();
        store.compact_range(b"", b"\xff").unwrap();
        drop(store);
        let store = open(&fs);
        for i in 0..20 {
            assert_eq!(store.get(&key(i)).unwrap(), None, "key {i}");
        }
        store.write(&batch).unwrap();
        store.settle().unwrap();
        let on_disk: u64 = logs(&fs)
            .iter()
            .map(|n| kvlab::vfs::Vfs::file_len(fs.as_ref(), format!("/db/{n}").as_ref()).unwrap())
            .sum();
        assert_eq!(on_disk, 0, "a settled store keeps no WAL room");
    }

    /// A store settled leveled keeps its data in the levels below 0. Opened tiered, a
    /// merge of every level-0 run must keep the deletions that cover those levels, and
    /// opened leveled again everything is where it was left.
    #[test]
    fn a_style_switch_keeps_deletions_over_the_levels_below() {
        let fs = Arc::new(SimFs::new());
        let open_as = |style: CompactionStyle| {
            let options = Options {
                lsm: LsmOptions {
                    compaction: style,
                    ..LsmOptions::tiny()
                },
                ..Options::with_vfs(fs.clone())
            };
            Lsm::open("/db".as_ref(), options).unwrap()
        };
        let store = open_as(CompactionStyle::Leveled);
        fill(&store, 2000, 1);
        store.settle().unwrap();
        assert!(store.level_tables()[1..].iter().any(|l| !l.is_empty()));
        drop(store);

        let store = open_as(CompactionStyle::Tiered);
        store.delete(&key(5)).unwrap();
        assert_eq!(store.get(&key(5)).unwrap(), None);
        let merges = counter(&store, "compactions");
        // New keys above the old ones, enough for level-0 merges of every run.
        for round in 0..40u32 {
            let mut batch = WriteBatch::new();
            for i in 0..10 {
                batch.put(&key(10_000 + round * 10 + i), &[7; 100]);
            }
            store.write(&batch).unwrap();
        }
        store.settle().unwrap();
        assert!(
            counter(&store, "compactions") > merges,
            "no tiered merge ran"
        );
        assert_eq!(
            store.get(&key(5)).unwrap(),
            None,
            "the deleted value came back"
        );
        assert_eq!(store.get(&key(6)).unwrap().unwrap()[..2], b"1:"[..]);
        drop(store);

        for style in [CompactionStyle::Tiered, CompactionStyle::Leveled] {
            let store = open_as(style);
            assert_eq!(store.get(&key(5)).unwrap(), None, "{style:?}");
            assert_eq!(store.scan(KeyRange::all()).unwrap().count(), 2000 - 1 + 400);
            store.settle().unwrap();
            assert_eq!(store.get(&key(5)).unwrap(), None, "{style:?}");
            assert_no_leaks(&fs, &store);
            drop(store);
        }
    }

    /// A value that holds a copy of another store's log, whose records name the same log
    /// number: when the record holding it is torn by a crash, recovery must not read the
    /// records inside the value as claims about what was synced.
    #[test]
    fn a_torn_record_whose_value_embeds_log_records_recovers() {
        use kvlab::vfs::{FileKind, Vfs};
        let fs = Arc::new(SimFs::new());
        let log_of = |dir: &str| -> String {
            let names = fs.list(dir.as_ref()).unwrap();
            let log = names.iter().find(|n| n.ends_with(".log")).unwrap();
            format!("{dir}/{log}")
        };
        let options = || Options {
            lsm: LsmOptions::default(),
            ..Options::with_vfs(fs.clone())
        };
        let other = Lsm::open("/other".as_ref(), options()).unwrap();
        for i in 0..20 {
            other.put(&key(i), &[b'o'; 200]).unwrap();
        }
        drop(other);
        let other_log = log_of("/other");
        let copied = fs
            .open(other_log.as_ref(), FileKind::Wal)
            .unwrap()
            .read_all()
            .unwrap();
        let copied = &copied[..20 * 240];

        let store = Lsm::open("/db".as_ref(), options()).unwrap();
        store.put(&key(1), b"acknowledged").unwrap();
        let mut value = copied.to_vec();
        value.extend_from_slice(&[0x5a; 2000]);
        store.put(&key(2), &value).unwrap();
        drop(store);
        let path = log_of("/db");
        assert_eq!(
            path.rsplit('/').next(),
            other_log.rsplit('/').next(),
            "the copy names this store's log"
        );
        // The crash tears the second record after the copy inside its value.
        let file = fs.open(path.as_ref(), FileKind::Wal).unwrap();
        let bytes = file.read_all().unwrap();
        let copy_at = bytes
            .windows(copied.len())
            .position(|w| w == copied)
            .unwrap();
        file.truncate((copy_at + copied.len() + 100) as u64)
            .unwrap();
        file.sync().unwrap();
        drop(file);

        let store = Lsm::open("/db".as_ref(), options()).unwrap();
        assert_eq!(
            store.get(&key(1)).unwrap().as_deref(),
            Some(&b"acknowledged"[..])
        );
        assert_eq!(store.get(&key(2)).unwrap(), None);
    }

    /// The live manifest's path.
    fn manifest_path(fs: &SimFs) -> String {
        let names = kvlab::vfs::Vfs::list(fs, "/db".as_ref()).unwrap();
        let manifest = names.iter().find(|n| n.starts_with("MANIFEST-")).unwrap();
        format!("/db/{manifest}")
    }

    /// A table the manifest names but the directory lacks, and a manifest cut back to an
    /// older version (naming tables compacted away since): both are corruption naming
    /// the missing file, not a bare "not found".
    #[test]
    fn a_missing_table_or_an_older_manifest_is_corruption() {
        use kvlab::Error;
        use kvlab::vfs::{FileKind, Vfs};
        for case in ["missing table", "older manifest"] {
            let fs = Arc::new(SimFs::new());
            let options = || Options {
                lsm: LsmOptions {
                    manifest_limit: 1 << 30,
                    ..LsmOptions::tiny()
                },
                ..Options::with_vfs(fs.clone())
            };
            let store = Lsm::open("/db".as_ref(), options()).unwrap();
            fill_scrambled(&store, 1000, 1);
            store.settle().unwrap();
            let manifest = manifest_path(&fs);
            let older = fs.file_len(manifest.as_ref()).unwrap();
            fill_scrambled(&store, 1000, 2);
            store.settle().unwrap();
            drop(store);
            match case {
                "missing table" => {
                    let names = fs.list("/db".as_ref()).unwrap();
                    let table = names.iter().find(|n| n.ends_with(".sst")).unwrap();
                    fs.remove(format!("/db/{table}").as_ref()).unwrap();
                }
                _ => {
                    let file = fs.open(manifest.as_ref(), FileKind::Manifest).unwrap();
                    file.truncate(older).unwrap();
                    file.sync().unwrap();
                }
            }
            let err = Lsm::open("/db".as_ref(), options()).unwrap_err();
            assert!(
                matches!(&err, Error::Corruption { file, .. } if file.to_string_lossy().ends_with(".sst")),
                "{case}: {err}"
            );
        }
    }

    /// The manifest grows by an edit per flush and compaction; past `manifest_limit` a
    /// new one holding the version whole takes its place, and the store reopens whole.
    #[test]
    fn the_manifest_rolls_over_past_its_limit() {
        use kvlab::vfs::Vfs;
        let fs = Arc::new(SimFs::new());
        let store = open(&fs);
        let limit = LsmOptions::tiny().manifest_limit;
        let mut largest = 0;
        for generation in 1..=6 {
            fill_scrambled(&store, 1000, generation);
            largest = largest.max(fs.file_len(manifest_path(&fs).as_ref()).unwrap());
        }
        assert!(counter(&store, "manifest_rolls") >= 2);
        assert!(largest < 2 * limit, "the manifest reached {largest} bytes");
        let names = fs.list("/db".as_ref()).unwrap();
        assert_eq!(
            names.iter().filter(|n| n.starts_with("MANIFEST-")).count(),
            1
        );
        drop(store);
        let store = open(&fs);
        assert_eq!(store.scan(KeyRange::all()).unwrap().count(), 1000);
        assert!(store.get(&key(17)).unwrap().unwrap().starts_with(b"6:"));
        // (Recovery's flush may start a compaction: let it finish before counting files.)
        store.settle().unwrap();
        assert_no_leaks(&fs, &store);
    }

    /// Keys in ascending order with a reopen every few writes: each recovery flushes a
    /// small table that overlaps nothing and is moved down. Small neighbours are merged,
    /// so the files do not pile up.
    #[test]
    fn ascending_writes_and_reopens_do_not_pile_up_small_tables() {
        let fs = Arc::new(SimFs::new());
        for round in 0..300u32 {
            let store = open(&fs);
            for i in 0..3 {
                store.put(&key(round * 3 + i), &[b'v'; 100]).unwrap();
            }
            if round % 2 == 0 {
                store.settle().unwrap();
            }
        }
        let store = open(&fs);
        store.settle().unwrap();
        // Merged small tables stop at a quarter of the target size: about 100 KB of
        // keys and values make at most 50 such tables, not one per reopen.
        let small = LsmOptions::tiny().target_file_size / 4;
        let levels = store.level_tables();
        let tables: usize = levels.iter().map(Vec::len).sum();
        assert!(tables <= 50, "{tables} tables for 900 keys");
        for (level, tables) in levels.iter().enumerate() {
            let n = tables.iter().filter(|t| t.size < small).count();
            assert!(n < 8, "level {level} holds {n} small tables");
        }
        assert_eq!(store.scan(KeyRange::all()).unwrap().count(), 900);
        assert_no_leaks(&fs, &store);
    }

    #[test]
    fn reopen_finds_everything_and_cleans_up() {
        let fs = Arc::new(SimFs::new());
        let store = open(&fs);
        fill(&store, 1500, 3);
        drop(store);
        let store = open(&fs);
        assert_eq!(store.scan(KeyRange::all()).unwrap().count(), 1500);
        let names = kvlab::vfs::Vfs::list(fs.as_ref(), "/db".as_ref()).unwrap();
        let logs = names.iter().filter(|n| n.ends_with(".log")).count();
        let manifests = names.iter().filter(|n| n.starts_with("MANIFEST-")).count();
        assert_eq!((logs, manifests), (1, 1), "{names:?}");
    }
}

fn lsm_mmap() -> Subject {
    let mut subject = Subject::engine(EngineKind::Lsm, |o| {
        o.lsm = LsmOptions {
            mmap_reads: true,
            ..LsmOptions::tiny()
        };
    });
    subject.name = "lsm (mmap reads)".into();
    subject
}

#[test]
fn model_mmap_reads() {
    kit::model::run(&lsm_mmap(), ModelConfig::default());
}

#[test]
fn crash_mmap_reads() {
    kit::crash::run(&lsm_mmap(), CrashConfig::default(), 0..1000).unwrap();
}

mod corruption {
    //! A flipped byte in any file of a settled store: reopening and reading everything
    //! gives the right data or an error, never a panic and never wrong data.

    use std::collections::BTreeMap;
    use std::path::Path;
    use std::sync::Arc;

    use kvlab::lsm::{Lsm, LsmOptions};
    use kvlab::vfs::{FileKind, SimFs, Vfs};
    use kvlab::{KeyRange, KvStore, Options, WriteBatch};

    fn options(fs: &Arc<SimFs>) -> Options {
        Options {
            lsm: LsmOptions::tiny(),
            ..Options::with_vfs(fs.clone())
        }
    }

    /// Everything a store shows, or the first error.
    fn read_all(store: &Lsm, keys: &[Vec<u8>]) -> kvlab::Result<BTreeMap<Vec<u8>, Vec<u8>>> {
        let mut seen = BTreeMap::new();
        for pair in store.scan(KeyRange::all())? {
            let (k, v) = pair?;
            seen.insert(k.to_vec(), v.to_vec());
        }
        for k in keys {
            let got = store.get(k)?;
            if got.as_deref() != seen.get(k).map(|v| v.as_slice()) {
                panic!("get and scan disagree on {k:?}");
            }
        }
        Ok(seen)
    }

    fn flip(fs: &SimFs, path: &Path, at: usize) {
        let mut bytes = fs.open(path, FileKind::Other).unwrap().read_all().unwrap();
        bytes[at] ^= 0x40;
        fs.remove(path).unwrap();
        let f = fs.create(path, FileKind::Other).unwrap();
        f.append(&bytes).unwrap();
    }

    #[test]
    fn a_flipped_byte_is_an_error_or_harmless_never_wrong_data() {
        let base = Arc::new(SimFs::new());
        let keys: Vec<Vec<u8>> = (0..600u32)
            .map(|i| format!("key{i:05}").into_bytes())
            .collect();
        {
            let store = Lsm::open("/db".as_ref(), options(&base)).unwrap();
            for chunk in keys.chunks(20) {
                let mut batch = WriteBatch::new();
                for k in chunk {
                    batch.put(k, &[k[7]; 60]);
                }
                store.write(&batch).unwrap();
            }
            store.settle().unwrap();
        }
        let expected = {
            let store = Lsm::open("/db".as_ref(), options(&base)).unwrap();
            read_all(&store, &keys).unwrap()
        };
        assert_eq!(expected.len(), 600);
        let names = base.list("/db".as_ref()).unwrap();
        let mut caught = 0;
        for name in names.iter().filter(|n| n.as_str() != "LOCK") {
            let path = Path::new("/db").join(name);
            let len = base.file_len(&path).unwrap() as usize;
            let step = (len / 60).max(1);
            for at in (0..len).step_by(step) {
                let fs = Arc::new(base.fork());
                flip(&fs, &path, at);
                let outcome =
                    Lsm::open("/db".as_ref(), options(&fs)).and_then(|s| read_all(&s, &keys));
                match outcome {
                    Ok(seen) => assert!(
                        seen == expected,
                        "flipped byte {at} of {name}: wrong data ({} keys, {} expected)",
                        seen.len(),
                        expected.len()
                    ),
                    Err(_) => caught += 1,
                }
            }
        }
        assert!(caught > 100, "only {caught} flips were detected");
    }
}

/// Found by the fuzz target `io_errors`: when the switch to a new WAL failed (its create
/// failed), the write said so, but the next write was accepted, although a failed write
/// leaves the store refusing writes until it is reopened (docs/DESIGN.md §3).
#[test]
fn a_failed_switch_to_a_new_wal_refuses_later_writes() {
    use kvlab::vfs::{Fault, FaultOp, SimFs};
    use std::sync::Arc;

    let fs = Arc::new(SimFs::new());
    let store = lsm(CompactionStyle::Leveled)
        .open(&fs, kvlab::Durability::Sync)
        .unwrap();
    fs.inject(Fault::eio(FaultOp::Create, 1));
    let value = vec![b'v'; 1000];
    let failed = (0..100u32)
        .find_map(|i| store.put(format!("key-{i}").as_bytes(), &value).err())
        .expect("a memtable switch creates a WAL within 100 KB of writes");
    assert!(failed.to_string().contains("create"), "{failed}");
    match store.put(b"after", b"the failure") {
        Err(kvlab::Error::Poisoned(_)) => {}
        other => panic!("a write after the failed switch: {other:?}"),
    }
}

/// Found by the fuzz target `io_errors`: with buffered durability a settle switches to a
/// new WAL and first syncs the old one. When that sync failed, the kernel had dropped the
/// old WAL's unsynced records (as Linux does), yet the store stayed writable and the next
/// `sync()` said Ok, vouching for a batch that a clean reopen then did not have. A failed
/// sync at a switch poisons the store, whoever asked for the switch.
#[test]
fn a_failed_wal_sync_at_a_settle_refuses_later_writes_and_syncs() {
    use kvlab::vfs::{Fault, FaultOp, SimFs};
    use std::sync::Arc;

    let fs = Arc::new(SimFs::new());
    let store = lsm(CompactionStyle::Leveled)
        .open(&fs, kvlab::Durability::Buffered)
        .unwrap();
    store.put(b"buffered", b"not yet durable").unwrap();
    fs.inject(Fault::no_space(FaultOp::Sync, 1));
    let failed = store.settle().expect_err("the old WAL's sync fails");
    assert!(failed.to_string().contains("sync"), "{failed}");
    match store.sync() {
        Err(kvlab::Error::Poisoned(_)) => {}
        other => panic!("a sync after the failed one: {other:?}"),
    }
    match store.put(b"after", b"the failure") {
        Err(kvlab::Error::Poisoned(_)) => {}
        other => panic!("a write after the failed sync: {other:?}"),
    }
}
