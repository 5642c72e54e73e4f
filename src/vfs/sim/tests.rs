//! One test per rule of the crash model and per kind of fault.

use super::*;

const KIND: FileKind = FileKind::Other;

fn p(s: &str) -> &Path {
    Path::new(s)
}

/// A file system with directory `/d` durable.
fn fs_with_dir() -> SimFs {
    let fs = SimFs::new();
    fs.create_dir_all(p("/d")).unwrap();
    fs.sync_dir(p("/")).unwrap();
    fs
}

/// A durable, empty file `/d/f` and its handle.
fn durable_file(fs: &SimFs) -> Box<dyn VfsFile> {
    let f = fs.create(p("/d/f"), KIND).unwrap();
    f.sync().unwrap();
    fs.sync_dir(p("/d")).unwrap();
    f
}

fn contents(fs: &SimFs, path: &str) -> Option<Vec<u8>> {
    match fs.open(p(path), KIND) {
        Ok(f) => Some(f.read_all().unwrap()),
        Err(_) => None,
    }
}

fn crash_bytes(fs: &SimFs, bytes: &[u8]) -> CrashReport {
    fs.crash_with(&mut CrashChoices::from_bytes(bytes))
}

#[test]
fn synced_bytes_survive_every_crash() {
    for seed in 0..50 {
        let fs = fs_with_dir();
        let f = durable_file(&fs);
        f.append(b"durable").unwrap();
        f.sync().unwrap();
        f.append(b" maybe").unwrap();
        fs.crash(seed);
        let got = contents(&fs, "/d/f").unwrap();
        assert!(
            got == b"durable" || got == b"durable maybe",
            "seed {seed}: {got:?}"
        );
    }
}

#[test]
fn unsynced_write_is_kept_or_dropped() {
    let fs = fs_with_dir();
    durable_file(&fs).append(b"x").unwrap();
    let kept = fs.fork();
    assert_eq!(crash_bytes(&kept, &[0]).writes_kept, 1);
    assert_eq!(contents(&kept, "/d/f").unwrap(), b"x");
    assert_eq!(crash_bytes(&fs, &[1]).writes_dropped, 1);
    assert_eq!(contents(&fs, "/d/f").unwrap(), b"");
}

#[test]
fn a_torn_write_keeps_a_sector_aligned_prefix() {
    let data: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
    for k in 0..3u8 {
        let fs = fs_with_dir();
        durable_file(&fs).write_at(&data, 100).unwrap();
        // 2 = tear; then the cut: boundaries inside [100, 2100) are 512, 1024, 1536, 2048.
        let report = crash_bytes(&fs, &[2, k]);
        assert_eq!(report.writes_torn, 1);
        let got = contents(&fs, "/d/f").unwrap();
        let cut = 512 * (usize::from(k) + 1);
        assert_eq!(got.len(), cut);
        assert_eq!(&got[..100], &[0; 100][..]);
        assert_eq!(&got[100..], &data[..cut - 100]);
    }
}

#[test]
fn a_write_inside_one_sector_cannot_tear() {
    let fs = fs_with_dir();
    durable_file(&fs).write_at(&[9; 100], 0).unwrap();
    let report = crash_bytes(&fs, &[2]);
    assert_eq!((report.writes_torn, report.writes_dropped), (0, 1));
    assert_eq!(contents(&fs, "/d/f").unwrap(), b"");
}

#[test]
fn a_later_write_can_survive_an_earlier_one() {
    let fs = fs_with_dir();
    let f = durable_file(&fs);
    f.append(b"first").unwrap();
    f.append(b"second").unwrap();
    crash_bytes(&fs, &[1, 0]);
    assert_eq!(contents(&fs, "/d/f").unwrap(), b"\0\0\0\0\0second");
}

#[test]
fn a_new_name_needs_sync_dir() {
    let fs = fs_with_dir();
    let f = fs.create(p("/d/new"), KIND).unwrap();
    f.append(b"data").unwrap();
    f.sync().unwrap();
    let kept = fs.fork();
    crash_bytes(&kept, &[0]);
    assert_eq!(contents(&kept, "/d/new").unwrap(), b"data");
    assert_eq!(crash_bytes(&fs, &[1]).dir_changes_dropped, 1);
    assert_eq!(
        contents(&fs, "/d/new"),
        None,
        "synced data, but its name was never durable"
    );

    let fs = fs_with_dir();
    fs.create(p("/d/new"), KIND).unwrap();
    fs.sync_dir(p("/d")).unwrap();
    for seed in 0..20 {
        let copy = fs.fork();
        copy.crash(seed);
        assert!(copy.exists(p("/d/new")).unwrap());
    }
}

#[test]
fn a_remove_needs_sync_dir() {
    let fs = fs_with_dir();
    durable_file(&fs).append(b"old").unwrap();
    fs.remove(p("/d/f")).unwrap();
    assert!(!fs.exists(p("/d/f")).unwrap());
    crash_bytes(&fs, &[1, 1]);
    assert_eq!(
        contents(&fs, "/d/f").unwrap(),
        b"",
        "the remove was dropped"
    );
}

#[test]
fn rename_is_atomic_old_or_new() {
    for choice in 0..2u8 {
        let fs = fs_with_dir();
        let f = fs.create(p("/d/CURRENT"), KIND).unwrap();
        f.append(b"v1").unwrap();
        f.sync().unwrap();
        fs.sync_dir(p("/d")).unwrap();
        let t = fs.create(p("/d/CURRENT.tmp"), KIND).unwrap();
        t.append(b"v2").unwrap();
        t.sync().unwrap();
        fs.rename(p("/d/CURRENT.tmp"), p("/d/CURRENT")).unwrap();
        assert_eq!(contents(&fs, "/d/CURRENT").unwrap(), b"v2");
        // Decisions: the create of CURRENT.tmp is dropped, the rename kept or dropped.
        crash_bytes(&fs, &[1, choice]);
        let got = contents(&fs, "/d/CURRENT").unwrap();
        assert_eq!(got, if choice == 0 { &b"v2"[..] } else { &b"v1"[..] });
        assert!(!fs.exists(p("/d/CURRENT.tmp")).unwrap());
    }
}

#[test]
fn write_file_atomic_survives_any_crash_whole() {
    let fs = fs_with_dir();
    crate::vfs::write_file_atomic(&fs, p("/d/M"), KIND, b"old").unwrap();
    for seed in 0..40 {
        let copy = fs.fork();
        crate::vfs::write_file_atomic(&copy, p("/d/M"), KIND, b"new contents").unwrap();
        copy.crash(seed);
        assert_eq!(
            contents(&copy, "/d/M").unwrap(),
            b"new contents",
            "seed {seed}"
        );
        let copy = fs.fork();
        copy.crash_after(3);
        let _ = crate::vfs::write_file_atomic(&copy, p("/d/M"), KIND, b"new contents");
        copy.crash(seed);
        let got = contents(&copy, "/d/M").unwrap();
        assert!(
            got == b"old" || got == b"new contents",
            "seed {seed}: {got:?}"
        );
    }
}

#[test]
fn a_directory_itself_needs_sync_dir_of_its_parent() {
    let fs = SimFs::new();
    fs.create_dir_all(p("/a/b")).unwrap();
    crash_bytes(&fs, &[1]);
    assert!(!fs.exists(p("/a")).unwrap());
}

#[test]
fn crash_is_deterministic_per_seed() {
    let fs = fs_with_dir();
    let f = durable_file(&fs);
    for i in 0..20u8 {
        f.append(&[i; 700]).unwrap();
    }
    let a = fs.fork();
    let b = fs.fork();
    assert_eq!(a.crash(7), b.crash(7));
    assert_eq!(contents(&a, "/d/f"), contents(&b, "/d/f"));
    let c = fs.fork();
    c.crash(8);
    assert_ne!(contents(&a, "/d/f"), contents(&c, "/d/f"));
}

#[test]
fn handles_from_before_a_crash_are_dead_and_locks_released() {
    let fs = fs_with_dir();
    let f = durable_file(&fs);
    let lock = fs.lock(p("/d")).unwrap();
    assert!(matches!(fs.lock(p("/d")), Err(Error::Locked { .. })));
    fs.crash(1);
    assert!(matches!(f.append(b"x"), Err(Error::Crashed)));
    assert!(matches!(f.read_at(&mut [0; 1], 0), Err(Error::Crashed)));
    assert!(matches!(f.sync(), Err(Error::Crashed)));
    assert!(matches!(f.len(), Err(Error::Crashed)));
    let relocked = fs.lock(p("/d")).unwrap();
    drop(lock); // the dead process's guard must not release the new owner's lock
    assert!(matches!(fs.lock(p("/d")), Err(Error::Locked { .. })));
    drop(relocked);
    fs.lock(p("/d")).unwrap();
    assert!(fs.open(p("/d/f"), KIND).unwrap().append(b"y").is_ok());
}

#[test]
fn a_crash_point_freezes_every_call_until_crash() {
    let fs = fs_with_dir();
    let f = durable_file(&fs);
    fs.crash_after(2);
    f.append(b"a").unwrap();
    f.sync().unwrap();
    assert!(matches!(f.append(b"b"), Err(Error::Crashed)));
    assert!(fs.is_powered_off());
    assert!(matches!(f.read_at(&mut [0; 1], 0), Err(Error::Crashed)));
    assert!(matches!(fs.create(p("/d/g"), KIND), Err(Error::Crashed)));
    assert!(matches!(fs.list(p("/d")), Err(Error::Crashed)));
    fs.crash(3);
    assert!(!fs.is_powered_off());
    assert_eq!(contents(&fs, "/d/f").unwrap(), b"a");
}

#[test]
fn the_nth_call_fails_once() {
    let fs = fs_with_dir();
    let f = durable_file(&fs);
    fs.inject(Fault::no_space(FaultOp::Write, 2));
    f.append(b"1").unwrap();
    let err = f.append(b"2").unwrap_err();
    assert!(err.is_no_space(), "{err}");
    assert!(matches!(&err, Error::Io { op: "append", .. }));
    f.append(b"3").unwrap();
    assert_eq!(
        f.read_all().unwrap(),
        b"13",
        "a failed write writes nothing"
    );
}

#[test]
fn a_sticky_fault_keeps_failing() {
    let fs = fs_with_dir();
    fs.inject(Fault::eio(FaultOp::Create, 1).sticky());
    for name in ["/d/a", "/d/b", "/d/c"] {
        let err = fs.create(p(name), KIND).unwrap_err();
        assert_eq!(err.os_error(), Some(libc::EIO));
    }
    fs.clear_faults();
    fs.create(p("/d/a"), KIND).unwrap();
}

#[test]
fn a_failed_sync_drops_what_was_pending() {
    let fs = fs_with_dir();
    let f = durable_file(&fs);
    f.append(b"safe").unwrap();
    f.sync().unwrap();
    f.append(b" lost").unwrap();
    fs.inject(Fault::eio(FaultOp::Sync, 1));
    assert_eq!(f.sync().unwrap_err().os_error(), Some(libc::EIO));
    assert_eq!(f.read_all().unwrap(), b"safe");
    // The retried sync "succeeds", but the bytes are gone: no crash brings them back.
    f.sync().unwrap();
    for seed in 0..10 {
        let copy = fs.fork();
        copy.crash(seed);
        assert_eq!(contents(&copy, "/d/f").unwrap(), b"safe");
    }
}

#[test]
fn a_failed_sync_dir_drops_pending_names() {
    let fs = fs_with_dir();
    fs.create(p("/d/n"), KIND).unwrap();
    fs.inject(Fault::eio(FaultOp::SyncDir, 1));
    assert!(fs.sync_dir(p("/d")).is_err());
    assert!(!fs.exists(p("/d/n")).unwrap());
}

#[test]
fn calls_are_counted_per_kind() {
    let fs = fs_with_dir();
    let f = durable_file(&fs);
    let before = fs.calls(FaultOp::Write);
    f.append(b"a").unwrap();
    f.write_at(b"b", 0).unwrap();
    assert_eq!(fs.calls(FaultOp::Write), before + 2);
    let mutating = fs.mutating_calls();
    f.read_at(&mut [0; 1], 0).unwrap();
    assert_eq!(
        fs.mutating_calls(),
        mutating,
        "reads do not count toward crash points"
    );
}

#[test]
fn paths_errors_and_listing() {
    let fs = fs_with_dir();
    assert!(fs.create(p("/missing/f"), KIND).is_err());
    fs.create(p("d/x"), KIND).unwrap();
    fs.create(p("/d/./y"), KIND).unwrap();
    assert_eq!(fs.list(p("/d")).unwrap(), vec!["x", "y"]);
    assert_eq!(
        fs.create(p("/d/x"), KIND).unwrap_err().os_error(),
        Some(libc::EEXIST)
    );
    assert_eq!(
        fs.open(p("/d/z"), KIND).unwrap_err().os_error(),
        Some(libc::ENOENT)
    );
    assert_eq!(
        fs.open(p("/d"), KIND).unwrap_err().os_error(),
        Some(libc::EISDIR)
    );
    assert!(fs.is_dir(p("/d")).unwrap());
    assert!(!fs.is_dir(p("/d/x")).unwrap());
    fs.create_dir_all(p("/e")).unwrap();
    assert!(matches!(
        fs.rename(p("/d/x"), p("/e/x")),
        Err(Error::InvalidArgument(_))
    ));
    let f = fs.open(p("/d/x"), KIND).unwrap();
    f.append(&[1; 10]).unwrap();
    f.truncate(4).unwrap();
    assert_eq!(fs.file_len(p("/d/x")).unwrap(), 4);
    assert_eq!(crate::vfs::dir_size(&fs, p("/")).unwrap(), 4);
}

#[test]
fn remove_dir_all_unlinks_a_tree_until_a_crash_drops_the_remove() {
    let fs = fs_with_dir();
    durable_file(&fs).append(b"x").unwrap();
    fs.remove_dir_all(p("/d")).unwrap();
    assert!(!fs.exists(p("/d/f")).unwrap());
    assert!(fs.remove_dir_all(p("/d")).is_err());
    crash_bytes(&fs, &[1]);
    assert!(
        fs.exists(p("/d/f")).unwrap(),
        "the remove was never made durable"
    );
}

#[test]
fn not_found_is_recognised() {
    let fs = fs_with_dir();
    assert!(fs.file_len(p("/d/none")).unwrap_err().is_not_found());
    assert!(fs.create(p("/d/f"), KIND).is_ok());
    assert!(!fs.create(p("/d/f"), KIND).unwrap_err().is_not_found());
}
