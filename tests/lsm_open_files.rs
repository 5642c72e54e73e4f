//! The LSM under a low limit on open files (`ulimit -n 256`), on a real disk: a store of
//! many more tables than that fills, reads and reopens, keeping its table files open only
//! up to its cap. (A file of its own: the limit applies to the whole test process.)

use kvlab::lsm::{Lsm, LsmOptions};
use kvlab::{KeyRange, KvStore, Options, WriteBatch};

const LIMIT: u64 = 256;

fn lower_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct we pass, nothing else.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = LIMIT.min(limit.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:08}").into_bytes()
}

#[test]
fn many_tables_under_a_low_open_file_limit() {
    lower_open_file_limit();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let options = || Options {
        lsm: LsmOptions {
            memtable_size: 64 << 10,
            target_file_size: 16 << 10,
            base_level_size: 64 << 10,
            ..LsmOptions::default()
        },
        durability: kvlab::Durability::Buffered,
        ..Options::default()
    };
    let store = Lsm::open(&path, options()).unwrap();
    let n = 60_000u32;
    for chunk in (0..n).map(|i| i * 7919 % n).collect::<Vec<_>>().chunks(500) {
        let mut batch = WriteBatch::new();
        for &i in chunk {
            batch.put(&key(i), &[(i % 251) as u8; 100]);
        }
        store.write(&batch).unwrap();
        assert!(open_descriptors() < LIMIT as usize);
    }
    store.settle().unwrap();
    let tables: usize = store.level_tables().iter().map(Vec::len).sum();
    assert!(tables > LIMIT as usize, "only {tables} tables");
    for i in (0..n).step_by(7) {
        let value = store.get(&key(i)).unwrap().unwrap();
        assert_eq!(value[..], [(i % 251) as u8; 100]);
    }
    assert_eq!(store.scan(KeyRange::all()).unwrap().count(), n as usize);
    let stats = store.stats();
    let open = stats.engine_counter("open_table_files").unwrap();
    assert!(open <= LIMIT / 2, "{open} table files open");
    assert!(stats.engine_counter("table_file_reopens").unwrap() > 0);
    assert!(open_descriptors() < LIMIT as usize);
    drop(store);

    // Reopens with a few ascending keys each: every one flushes a small table.
    for round in 0..300u32 {
        let store = Lsm::open(&path, options()).unwrap();
        store.put(&key(n + round), b"late").unwrap();
    }
    let store = Lsm::open(&path, options()).unwrap();
    assert_eq!(
        store.scan(KeyRange::all()).unwrap().count(),
        n as usize + 300
    );
    assert!(open_descriptors() < LIMIT as usize);
}
