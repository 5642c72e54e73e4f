//! kvlab embedded as a key-value store: built with `default-features = false`, it needs
//! only the engines and the file layer. Run with `cargo run --example embed`.

use kvlab::{EngineKind, KeyRange, Options, WriteBatch, open};

fn main() -> kvlab::Result<()> {
    let dir = std::env::temp_dir().join(format!("kvlab-embed-{}", std::process::id()));
    {
        let store = open(EngineKind::Lsm, &dir, Options::default())?;
        let mut batch = WriteBatch::new();
        for (fruit, colour) in [("apple", "red"), ("banana", "yellow"), ("cherry", "red")] {
            batch.put(fruit.as_bytes(), colour.as_bytes());
        }
        store.write(&batch)?;
        store.delete(b"cherry")?;
    }
    // Reopened, the store holds what was acknowledged.
    let store = open(EngineKind::Lsm, &dir, Options::default())?;
    for pair in store.scan(KeyRange::all())? {
        let (key, value) = pair?;
        println!(
            "{} = {}",
            String::from_utf8_lossy(&key),
            String::from_utf8_lossy(&value)
        );
    }
    assert_eq!(store.get(b"cherry")?, None);
    drop(store);
    std::fs::remove_dir_all(&dir).map_err(|e| kvlab::Error::io("remove", &dir, e))?;
    Ok(())
}
