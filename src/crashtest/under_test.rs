//! A store on a [`SimFs`] driven by a [`Plan`]'s operations and checked against the
//! [`Model`]: the part the crash and the fault runs share.

use std::path::Path;
use std::sync::Arc;

use super::Finding;
use super::model::{Model, State, describe_difference};
use super::plan::{KEYS, Key, Knobs, Op, Pad};
use crate::vfs::SimFs;
use crate::{Durability, EngineKind, KeyRange, KvStore, Result, WriteBatch};

/// Where every run keeps its store.
pub const DIR: &str = "/db";

/// What a run did, summed over runs by the replay tests and `fuzz/run-all`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Operations executed.
    pub ops: u64,
    /// Batches acknowledged.
    pub acknowledged: u64,
    /// Power failures, recoveries' own included.
    pub crashes: u64,
    /// Recoveries that lost power themselves.
    pub crashed_recoveries: u64,
    /// Batches issued but not acknowledged that a crash took.
    pub lost_unacknowledged: u64,
    /// Writes, syncs and settles that failed by an injected fault (the fault run).
    pub faults_fired: u64,
}

impl RunSummary {
    /// The sum of two summaries.
    pub fn plus(&self, other: &RunSummary) -> RunSummary {
        RunSummary {
            ops: self.ops + other.ops,
            acknowledged: self.acknowledged + other.acknowledged,
            crashes: self.crashes + other.crashes,
            crashed_recoveries: self.crashed_recoveries + other.crashed_recoveries,
            lost_unacknowledged: self.lost_unacknowledged + other.lost_unacknowledged,
            faults_fired: self.faults_fired + other.faults_fired,
        }
    }
}

/// A store under test, its file system and its model.
pub struct StoreUnderTest {
    pub engine: EngineKind,
    pub knobs: Knobs,
    pub durability: Durability,
    pub fs: Arc<SimFs>,
    pub store: Option<Box<dyn KvStore>>,
    pub model: Model,
    /// Numbers batches, so that every value names the batch that wrote it.
    next_batch: u64,
    pub summary: RunSummary,
}

/// A value that names its key and batch, then `pad` dots: `key-07@12#3;....`.
fn value_for(key: &[u8], batch: u64, entry: usize, pad: Pad) -> Vec<u8> {
    let mut v = format!("{}@{batch}#{entry};", String::from_utf8_lossy(key)).into_bytes();
    v.resize(v.len() + pad.bytes(), b'.');
    v
}

impl StoreUnderTest {
    /// A new store of `engine` on a fresh file system.
    pub fn start(
        engine: EngineKind,
        knobs: &Knobs,
        durability: Durability,
    ) -> Result<StoreUnderTest> {
        let fs = Arc::new(SimFs::new());
        let mut this = StoreUnderTest {
            engine,
            knobs: knobs.clone(),
            durability,
            fs,
            store: None,
            model: Model::default(),
            next_batch: 0,
            summary: RunSummary::default(),
        };
        this.store = Some(this.open()?);
        Ok(this)
    }

    /// Opens (or reopens) the store.
    pub fn open(&self) -> Result<Box<dyn KvStore>> {
        let options = self.knobs.options(&self.fs, self.durability);
        crate::open(self.engine, Path::new(DIR), options)
    }

    /// The open store.
    pub fn store(&self) -> &dyn KvStore {
        self.store.as_deref().expect("the store under test is open")
    }

    /// A finding about this store.
    pub fn finding(&self, what: impl Into<String>) -> Finding {
        Finding::new(self.engine, what)
    }

    /// The batch a write operation stands for; `None` for any other operation.
    pub fn batch_of(&mut self, op: &Op) -> Option<WriteBatch> {
        let n = self.next_batch;
        let mut batch = WriteBatch::new();
        match op {
            Op::Put(key, pad) => {
                let k = key.bytes();
                batch.put(&k, &value_for(&k, n, 0, *pad));
            }
            Op::Delete(key) => {
                batch.delete(&key.bytes());
            }
            Op::Batch(entries) => {
                for (e, (key, pad)) in entries.iter().enumerate() {
                    let k = key.bytes();
                    match pad {
                        Some(pad) => batch.put(&k, &value_for(&k, n, e, *pad)),
                        None => batch.delete(&k),
                    };
                }
            }
            _ => return None,
        }
        self.next_batch += 1;
        Some(batch)
    }

    /// Checks a point read against the model. `Err` is the store's error.
    pub fn check_get(&self, key: Key) -> Result<std::result::Result<(), Finding>> {
        let k = key.bytes();
        let got = self.store().get(&k)?;
        let want = self.model.live().get(&k);
        Ok(if got.as_deref() == want.map(Vec::as_slice) {
            Ok(())
        } else {
            Err(self.finding(format!(
                "get {} gave {:?}, the model holds {:?}",
                String::from_utf8_lossy(&k),
                got.map(|v| short(&v)),
                want.map(|v| short(v))
            )))
        })
    }

    /// Checks a range scan against the model. `Err` is the store's error.
    pub fn check_scan(&self, from: Key, to: Key) -> Result<std::result::Result<(), Finding>> {
        let (start, end) = (from.bytes(), to.bytes());
        let range = KeyRange::between(&start, &end);
        let got: State = collect(self.store(), range.clone())?;
        let want: State = self
            .model
            .live()
            .iter()
            .filter(|(k, _)| range.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(if got == want {
            Ok(())
        } else {
            Err(self.finding(format!(
                "scan {}..{}: {}",
                short(&start),
                short(&end),
                describe_difference(&got, &want)
            )))
        })
    }

    /// Reads the whole store after a recovery and checks it: the integrity checker passes,
    /// gets agree with the scan, and the state is one the model allows.
    pub fn verify_recovered(&mut self, after: &str) -> std::result::Result<(), Finding> {
        let store = self.store();
        let fail = |what: &str, e: crate::Error| self.finding(format!("{what} after {after}: {e}"));
        store.check().map_err(|e| fail("integrity check", e))?;
        let got = collect(store, KeyRange::all()).map_err(|e| fail("scan", e))?;
        for i in 0..KEYS {
            let k = Key(i).bytes();
            let value = store.get(&k).map_err(|e| fail("get", e))?;
            if value.as_deref() != got.get(&k).map(Vec::as_slice) {
                return Err(self.finding(format!(
                    "after {after}, get and scan disagree on {}",
                    short(&k)
                )));
            }
        }
        let pending = self.model.pending();
        let kept = self
            .model
            .recovered(got)
            .map_err(|e| self.finding(format!("after {after}: {e}")))?;
        self.summary.lost_unacknowledged += (pending - kept) as u64;
        Ok(())
    }

    /// After the last operation: the store takes a new write, and it survives a clean
    /// reopen.
    pub fn write_after_recovery(&mut self) -> std::result::Result<(), Finding> {
        let mut batch = WriteBatch::new();
        batch.put(b"after-recovery", b"after-recovery@0#0;");
        let store = self.store();
        store
            .write(&batch)
            .and_then(|()| store.sync())
            .map_err(|e| self.finding(format!("write after recovery: {e}")))?;
        self.model.issue(&batch);
        self.model.acknowledge();
        self.store = None;
        self.store = Some(
            self.open()
                .map_err(|e| self.finding(format!("reopen after recovery: {e}")))?,
        );
        self.verify_recovered("a clean reopen")
    }
}

/// Every pair of `range`.
pub fn collect(store: &dyn KvStore, range: KeyRange) -> Result<State> {
    store
        .scan(range)?
        .map(|pair| pair.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect()
}

/// The first 40 characters of `bytes`, for messages.
pub fn short(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).chars().take(40).collect()
}
