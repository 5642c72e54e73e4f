//! Bad input through the trait: every engine must answer `InvalidArgument`, apply nothing,
//! and keep working.

use std::sync::Arc;

use kvlab::vfs::SimFs;
use kvlab::{Durability, Error, MAX_KEY_LEN, MAX_VALUE_LEN, WriteBatch};

use super::Subject;

fn assert_invalid(what: &str, result: kvlab::Result<impl std::fmt::Debug>) {
    match result {
        Err(Error::InvalidArgument(_)) => {}
        other => panic!("{what}: expected InvalidArgument, got {other:?}"),
    }
}

/// Runs every bad-input case against `subject`.
pub fn run(subject: &Subject) {
    let fs = Arc::new(SimFs::new());
    let store = subject.open(&fs, Durability::Sync).expect("open");
    let name = &subject.name;
    let long_key = vec![7u8; MAX_KEY_LEN + 1];
    let huge_value = vec![0u8; MAX_VALUE_LEN + 1];

    assert_invalid(&format!("{name}: put empty key"), store.put(b"", b"v"));
    assert_invalid(
        &format!("{name}: put 1025-byte key"),
        store.put(&long_key, b"v"),
    );
    assert_invalid(
        &format!("{name}: put 16 MiB + 1 value"),
        store.put(b"k", &huge_value),
    );
    assert_invalid(&format!("{name}: get empty key"), store.get(b""));
    assert_invalid(&format!("{name}: get 1025-byte key"), store.get(&long_key));
    assert_invalid(&format!("{name}: delete empty key"), store.delete(b""));
    assert_invalid(
        &format!("{name}: delete 1025-byte key"),
        store.delete(&long_key),
    );

    // One bad entry rejects the whole batch: the good entry before it is not applied.
    let mut batch = WriteBatch::new();
    batch.put(b"good", b"v").put(&long_key, b"v");
    assert_invalid(
        &format!("{name}: batch with a bad key"),
        store.write(&batch),
    );
    let mut batch = WriteBatch::new();
    batch.put(b"good", b"v").put(b"k", &huge_value);
    assert_invalid(
        &format!("{name}: batch with a huge value"),
        store.write(&batch),
    );
    assert_eq!(
        store.get(b"good").unwrap(),
        None,
        "{name}: a rejected batch applied an entry"
    );

    // The limits themselves are allowed, and the store still works.
    let max_key = vec![9u8; MAX_KEY_LEN];
    store.put(&max_key, b"edge").expect("1024-byte key");
    store.put(b"empty", b"").expect("empty value");
    let max_value = vec![5u8; MAX_VALUE_LEN];
    store.put(b"big", &max_value).expect("16 MiB value");
    assert_eq!(store.get(&max_key).unwrap().as_deref(), Some(&b"edge"[..]));
    assert_eq!(store.get(b"empty").unwrap().as_deref(), Some(&b""[..]));
    assert_eq!(
        store.get(b"big").unwrap().map(|v| v.len()),
        Some(MAX_VALUE_LEN)
    );
}
