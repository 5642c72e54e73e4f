//! Micro-benchmarks of the trait: get, put, batch and scan, one shared function over
//! `&dyn KvStore`, so every engine is one line in `main`.
//!
//! Run with `cargo bench` (or `cargo bench -- mem/get` for one). Stores live in a
//! temporary directory on disk, with `Durability::Buffered` so that puts measure the
//! engine, not fdatasync (the `syncwrite` phase of `kvlab bench` measures that).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput};
use kvlab::bench::keys::{Values, key};
use kvlab::{Durability, EngineKind, KeyRange, KvStore, Options, WriteBatch};

/// Keys loaded before the read benchmarks.
const LOADED: u64 = 100_000;

fn load(store: &dyn KvStore, values: &Values) {
    let mut batch = WriteBatch::new();
    for chunk in (0..LOADED).collect::<Vec<_>>().chunks(1000) {
        batch.clear();
        for &i in chunk {
            batch.put(&key(i), values.get(i));
        }
        store.write(&batch).expect("load");
    }
    store.settle().expect("settle");
}

/// The four benchmarks for one engine.
fn bench_engine(c: &mut Criterion, name: &str, store: &dyn KvStore) {
    let values = Values::new(100, 1);
    load(store, &values);
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));

    let mut i = 0u64;
    group.bench_function("get", |b| {
        b.iter(|| {
            i = (i + 7919) % LOADED;
            black_box(store.get(&key(i)).expect("get"))
        })
    });

    let mut next = LOADED;
    group.bench_function("put", |b| {
        b.iter(|| {
            next += 1;
            store.put(&key(next), values.get(next)).expect("put")
        })
    });

    group.throughput(Throughput::Elements(100));
    group.bench_function("batch100", |b| {
        b.iter_batched(
            || {
                let mut batch = WriteBatch::new();
                for _ in 0..100 {
                    next += 1;
                    batch.put(&key(next), values.get(next));
                }
                batch
            },
            |batch| store.write(&batch).expect("batch"),
            BatchSize::SmallInput,
        )
    });

    group.bench_function("scan100", |b| {
        b.iter(|| {
            i = (i + 7919) % LOADED;
            let n = store
                .scan(KeyRange::from_key(&key(i)))
                .expect("scan")
                .take(100)
                .count();
            black_box(n)
        })
    });
    group.finish();
}

fn main() {
    // Short defaults; criterion's own options on the command line (--warm-up-time,
    // --measurement-time, ...) override them.
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let dir = tempfile::tempdir().expect("temporary directory");
    let options = || Options {
        durability: Durability::Buffered,
        ..Options::default()
    };
    for &kind in EngineKind::ALL {
        let store = kvlab::open(kind, &dir.path().join(kind.name()), options()).expect("open");
        bench_engine(&mut c, kind.name(), store.as_ref());
    }
    c.final_summary();
}
