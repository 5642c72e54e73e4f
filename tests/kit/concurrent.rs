//! Readers beside a writer: every `get` and `scan` must see whole batches only.
//!
//! The writer rewrites all keys in each batch with one generation number; a reader that
//! ever sees two generations in one scan has seen part of a batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kvlab::vfs::SimFs;
use kvlab::{Durability, KeyRange, WriteBatch};

use super::Subject;

const KEYS: usize = 32;

fn key(i: usize) -> Vec<u8> {
    format!("k{i:02}").into_bytes()
}

/// One writer, two readers, `generations` batches.
pub fn run(subject: &Subject, generations: u64) {
    let fs = Arc::new(SimFs::new());
    let store = subject.open(&fs, Durability::Buffered).expect("open");
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut scans = 0u64;
                while !done.load(Ordering::Relaxed) || scans == 0 {
                    let pairs: Vec<_> = store
                        .scan(KeyRange::all())
                        .expect("scan")
                        .collect::<kvlab::Result<_>>()
                        .expect("scan item");
                    assert!(
                        pairs.is_empty() || pairs.len() == KEYS,
                        "{}: a scan saw {} of {KEYS} keys",
                        subject.name,
                        pairs.len()
                    );
                    if let Some((_, first)) = pairs.first() {
                        assert!(
                            pairs.iter().all(|(_, v)| v == first),
                            "{}: a scan saw two generations at once",
                            subject.name
                        );
                    }
                    scans += 1;
                }
            });
        }
        let mut last = 0;
        for generation in 1..=generations {
            let value = generation.to_be_bytes();
            let mut batch = WriteBatch::new();
            for i in 0..KEYS {
                batch.put(&key(i), &value);
            }
            store.write(&batch).expect("write");
            // A get never goes backwards in time.
            let seen = store
                .get(&key(generation as usize % KEYS))
                .expect("get")
                .expect("value");
            let seen = u64::from_be_bytes(seen[..8].try_into().expect("8 bytes"));
            assert!(
                seen >= generation && seen >= last,
                "{}: get went back in time",
                subject.name
            );
            last = seen;
        }
        done.store(true, Ordering::Relaxed);
    });
}
