//! The in-memory engine through the whole kit (it keeps nothing across a reopen, so the
//! crash and foreign-directory parts do not apply).

mod kit;

use kit::Subject;
use kit::model::ModelConfig;
use kvlab::EngineKind;

fn mem() -> Subject {
    Subject::engine(EngineKind::Mem, |_| {})
}

#[test]
fn model() {
    kit::model::run(&mem(), ModelConfig::default());
}

#[test]
fn bad_input_is_invalid_argument() {
    kit::limits::run(&mem());
}

#[test]
fn readers_see_whole_batches() {
    kit::concurrent::run(&mem(), 2000);
}

#[test]
fn user_bytes_are_counted_by_the_front() {
    let store = kvlab::open(EngineKind::Mem, "/x".as_ref(), kvlab::Options::default()).unwrap();
    store.put(b"key", b"value").unwrap();
    store.delete(b"gone").unwrap();
    store.get(b"key").unwrap();
    store.get(b"absent").unwrap();
    let scanned = store.scan(kvlab::KeyRange::all()).unwrap().count();
    assert_eq!(scanned, 1);
    let _ = store.put(b"", b"rejected");
    let stats = store.stats();
    assert_eq!(stats.user_bytes_written, 3 + 5 + 4);
    assert_eq!(stats.user_bytes_read, 2 * (3 + 5));
    assert_eq!(stats.disk_bytes_written, 0);
    assert_eq!(store.disk_usage().unwrap(), 0);
}
