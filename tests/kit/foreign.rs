//! Opening a directory that is not the engine's own: a clear error, nothing touched.

use std::path::Path;
use std::sync::Arc;

use kvlab::identity::{self, Identity};
use kvlab::vfs::{FileKind, SimFs, Vfs};
use kvlab::{Durability, Error};

use super::{DIR, Subject};

fn listing(fs: &SimFs) -> Vec<(String, u64)> {
    let dir = Path::new(DIR);
    fs.list(dir)
        .unwrap()
        .into_iter()
        .map(|n| {
            let len = fs.file_len(&dir.join(&n)).unwrap_or(0);
            (n, len)
        })
        .collect()
}

/// Runs the foreign-directory cases against a persistent `subject`.
pub fn run(subject: &Subject) {
    let name = &subject.name;

    // Another program's files.
    let fs = Arc::new(SimFs::new());
    fs.create_dir_all(Path::new(DIR)).unwrap();
    fs.create(&Path::new(DIR).join("data.db"), FileKind::Other)
        .unwrap()
        .append(b"SQLite format 3\0")
        .unwrap();
    let before = listing(&fs);
    match subject.open(&fs, Durability::Sync) {
        Err(Error::NotAStore { .. }) => {}
        other => panic!("{name}: garbage directory gave {:?}", other.map(|_| ())),
    }
    assert_eq!(listing(&fs), before, "{name}: touched a foreign directory");

    // Another engine's store.
    let fs = Arc::new(SimFs::new());
    let other = Identity {
        engine: "some-other-engine".into(),
        format: 1,
    };
    fs.create_dir_all(Path::new(DIR)).unwrap();
    kvlab::vfs::write_file_atomic(
        fs.as_ref(),
        &Path::new(DIR).join(identity::IDENTITY_FILE),
        FileKind::Manifest,
        &other.encode(),
    )
    .unwrap();
    let before = listing(&fs);
    match subject.open(&fs, Durability::Sync) {
        Err(Error::WrongEngine { found, .. }) => assert_eq!(found, "some-other-engine"),
        other => panic!(
            "{name}: other engine's directory gave {:?}",
            other.map(|_| ())
        ),
    }
    assert_eq!(
        listing(&fs),
        before,
        "{name}: touched another engine's directory"
    );

    // A second open of a store that is open.
    let fs = Arc::new(SimFs::new());
    let first = subject.open(&fs, Durability::Sync).unwrap();
    match subject.open(&fs, Durability::Sync) {
        Err(Error::Locked { .. }) => {}
        other => panic!("{name}: second open gave {:?}", other.map(|_| ())),
    }
    drop(first);
    subject.open(&fs, Durability::Sync).unwrap();
}
