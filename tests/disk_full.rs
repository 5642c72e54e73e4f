//! A real full disk: a small tmpfs mounted for the test (as root; skipped, saying why,
//! where mounting is impossible) filled through each engine. Writes must fail with a clear
//! error, the store must stay openable with everything acknowledged, and once space is
//! freed, writes must succeed again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use kvlab::{Durability, EngineKind, KeyRange, KvStore, Options, WriteBatch};

/// A tmpfs of `size` mounted for the life of the value.
struct Mount {
    dir: tempfile::TempDir,
}

impl Mount {
    fn new(size: &str) -> Result<Mount, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Mount { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn options() -> Options {
    let mut options = Options {
        durability: Durability::Sync,
        ..Options::default()
    };
    for knob in [
        "lsm.memtable_size=1MiB",
        "lsm.target_file_size=512KiB",
        "btree.wal_limit=2MiB",
        "btree.dirty_limit=1MiB",
    ] {
        options.set(knob).expect("a knob");
    }
    options
}

type State = BTreeMap<Vec<u8>, Vec<u8>>;

fn check_state(store: &dyn KvStore, want: &State, when: &str) {
    store
        .check()
        .unwrap_or_else(|e| panic!("check {when}: {e}"));
    let got: State = store
        .scan(KeyRange::all())
        .unwrap_or_else(|e| panic!("scan {when}: {e}"))
        .map(|p| p.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<kvlab::Result<_>>()
        .unwrap_or_else(|e| panic!("scan {when}: {e}"));
    assert!(
        got == *want,
        "{when}: {} keys, {} acknowledged",
        got.len(),
        want.len()
    );
}

fn fill_until_full(engine: EngineKind) {
    let mount = match Mount::new("24m") {
        Ok(m) => m,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let ballast: PathBuf = mount.path().join("ballast");
    std::fs::write(&ballast, vec![7u8; 4 << 20]).expect("ballast");
    let dir = mount.path().join("store");
    let store = kvlab::open(engine, &dir, options()).expect("open");
    let mut state = State::new();
    let mut error = None;
    for i in 0..100_000u32 {
        let mut batch = WriteBatch::new();
        let mut entries = Vec::new();
        for e in 0..8u32 {
            let key = format!("key-{:05}", (i * 8 + e) % 20_000).into_bytes();
            let mut value = format!("{i}#{e};").into_bytes();
            value.resize(4000, b'x');
            batch.put(&key, &value);
            entries.push((key, value));
        }
        match store.write(&batch) {
            Ok(()) => state.extend(entries),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let error = error.expect("a 24 MiB file system fills up");
    assert!(
        error.is_no_space() || error.to_string().contains("No space left"),
        "the error says the disk is full: {error}"
    );
    drop(store);

    // Still full: the store opens (or says clearly that it needs room), and holds every
    // acknowledged batch.
    match kvlab::open(engine, &dir, options()) {
        Ok(store) => check_state(store.as_ref(), &state, "reopened while full"),
        Err(e) => assert!(
            e.is_no_space() || e.to_string().contains("No space left"),
            "reopen while full: {e}"
        ),
    }
    std::fs::remove_file(&ballast).expect("free the ballast");
    let store = kvlab::open(engine, &dir, options()).expect("reopen with room");
    check_state(store.as_ref(), &state, "reopened with room");
    for i in 0..50u32 {
        let key = format!("after-{i}").into_bytes();
        store
            .put(&key, b"room again")
            .expect("a write once space is freed");
        state.insert(key, b"room again".to_vec());
    }
    drop(store);
    let store = kvlab::open(engine, &dir, options()).expect("a last reopen");
    check_state(store.as_ref(), &state, "after writes with room");
}

#[test]
fn a_full_disk_fails_writes_clearly_and_loses_nothing_lsm() {
    fill_until_full(EngineKind::Lsm);
}

#[test]
fn a_full_disk_fails_writes_clearly_and_loses_nothing_btree() {
    fill_until_full(EngineKind::BTree);
}
