//! The corruption sweep: damage one file of a closed store at a time (a flipped byte, a
//! truncation, the file removed), reopen, and read everything. Each case must end in the
//! right data or a clear error (`Error::Corruption`, or for a damaged identity file
//! `WrongEngine` / `NotAStore`), never in wrong data and never in a panic. The report
//! counts, per kind of file, where each flip was caught: at open, at a read, by the
//! integrity checker, or not at all because it changed nothing a reader sees (unused
//! space, a free page, an obsolete record).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Finding;
use super::model::{State, describe_difference};
use super::under_test::collect;
use crate::btree::BTreeOptions;
use crate::lsm::LsmOptions;
use crate::vfs::{FileKind, SimFs, Vfs};
use crate::{EngineKind, Error, KeyRange, Options, WriteBatch};

const DIR: &str = "/db";

/// How each damaged case of one kind of file ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// Cases tried.
    pub cases: u64,
    /// Open returned a clear error.
    pub caught_at_open: u64,
    /// Open succeeded; a read returned `Error::Corruption`.
    pub caught_at_read: u64,
    /// Every read gave the right data; the integrity checker found the damage.
    pub caught_by_check: u64,
    /// Every read gave the right data and the checker passed: the damage changed nothing
    /// a reader sees.
    pub harmless: u64,
}

/// What a sweep did, per kind of file ("table", "WAL", ...).
#[derive(Clone, Debug, Default)]
pub struct SweepReport {
    /// Byte flips.
    pub flips: BTreeMap<&'static str, Outcomes>,
    /// Truncations at random lengths (and to zero).
    pub truncations: BTreeMap<&'static str, Outcomes>,
    /// Removals of the file.
    pub removals: BTreeMap<&'static str, Outcomes>,
}

/// How many positions of each file to flip.
#[derive(Clone, Copy, Debug)]
pub enum Positions {
    /// Every byte.
    Every,
    /// This many random positions per file (every byte of a smaller file).
    Random(usize),
}

/// The kind of a store's file, from its name.
pub fn kind_of(name: &str) -> &'static str {
    match name {
        "KVLAB" => "identity",
        "LOCK" => "lock",
        "CURRENT" => "CURRENT",
        "btree.db" => "database file",
        _ if name.starts_with("MANIFEST-") => "manifest",
        _ if name.ends_with(".sst") => "table",
        _ if name.ends_with(".log") || name.starts_with("btree.wal") => "WAL",
        _ => "other",
    }
}

/// Builds a closed, settled store of `engine` with `batches` batches under tiny knobs
/// (several tables and levels, several hundred pages), and returns its state.
pub fn build_store(engine: EngineKind, fs: &Arc<SimFs>, batches: u32) -> crate::Result<State> {
    let options = Options {
        lsm: LsmOptions::tiny(),
        btree: BTreeOptions::tiny(),
        ..Options::with_vfs(fs.clone())
    };
    let store = crate::open(engine, Path::new(DIR), options)?;
    let mut state = State::new();
    for i in 0..batches {
        let mut batch = WriteBatch::new();
        for e in 0..4 {
            let key = format!("key-{:04}", (i * 7 + e * 13) % 600);
            if (i + e) % 9 == 0 {
                batch.delete(key.as_bytes());
                state.remove(key.as_bytes());
            } else {
                let mut value = format!("{key}@{i}#{e};").into_bytes();
                value.resize(value.len() + ((i * 31 + e * 17) % 300) as usize, b'.');
                batch.put(key.as_bytes(), &value);
                state.insert(key.into_bytes(), value);
            }
        }
        store.write(&batch)?;
    }
    store.settle()?;
    Ok(state)
}

/// Sweeps the store `build_store` makes with `batches` batches.
pub fn sweep(
    engine: EngineKind,
    batches: u32,
    positions: Positions,
    seed: u64,
) -> Result<SweepReport, Finding> {
    let fail = |what: String| Finding::new(engine, what);
    let clean = Arc::new(SimFs::new());
    let want = build_store(engine, &clean, batches).map_err(|e| fail(format!("building: {e}")))?;
    let mut files = clean
        .list(Path::new(DIR))
        .map_err(|e| fail(e.to_string()))?;
    files.sort();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut report = SweepReport::default();
    for name in files {
        let path = Path::new(DIR).join(&name);
        let kind = kind_of(&name);
        let bytes = clean
            .open(&path, FileKind::Other)
            .and_then(|f| f.read_all())
            .map_err(|e| fail(e.to_string()))?;
        let len = bytes.len();
        let flips: Vec<usize> = match positions {
            Positions::Random(n) if n < len => (0..n).map(|_| rng.random_range(0..len)).collect(),
            _ => (0..len).collect(),
        };
        for at in flips {
            let fs = Arc::new(clean.fork());
            let mut damaged = bytes.clone();
            damaged[at] ^= 0xff;
            rewrite(&fs, &path, &damaged).map_err(|e| fail(e.to_string()))?;
            let outcome = judge(engine, &fs, &want)
                .map_err(|e| fail(format!("{name} with byte {at} of {len} flipped: {e}")))?;
            tally(report.flips.entry(kind).or_default(), outcome);
        }
        let mut cuts: Vec<usize> = (0..8).map(|_| rng.random_range(0..len.max(1))).collect();
        cuts.push(0);
        for cut in cuts.into_iter().filter(|&c| c < len) {
            let fs = Arc::new(clean.fork());
            rewrite(&fs, &path, &bytes[..cut]).map_err(|e| fail(e.to_string()))?;
            let outcome = judge(engine, &fs, &want)
                .map_err(|e| fail(format!("{name} cut to {cut} of {len} bytes: {e}")))?;
            tally(report.truncations.entry(kind).or_default(), outcome);
        }
        let fs = Arc::new(clean.fork());
        fs.remove(&path).map_err(|e| fail(e.to_string()))?;
        let outcome =
            judge(engine, &fs, &want).map_err(|e| fail(format!("{name} removed: {e}")))?;
        tally(report.removals.entry(kind).or_default(), outcome);
    }
    Ok(report)
}

fn rewrite(fs: &SimFs, path: &Path, bytes: &[u8]) -> crate::Result<()> {
    let file = fs.open(path, FileKind::Other)?;
    file.truncate(0)?;
    file.write_at(bytes, 0)
}

#[derive(Clone, Copy)]
enum Outcome {
    AtOpen,
    AtRead,
    ByCheck,
    Harmless,
}

fn tally(counts: &mut Outcomes, outcome: Outcome) {
    counts.cases += 1;
    match outcome {
        Outcome::AtOpen => counts.caught_at_open += 1,
        Outcome::AtRead => counts.caught_at_read += 1,
        Outcome::ByCheck => counts.caught_by_check += 1,
        Outcome::Harmless => counts.harmless += 1,
    }
}

/// Whether an error names the damage clearly.
fn is_clear(e: &Error) -> bool {
    matches!(
        e,
        Error::Corruption { .. } | Error::WrongEngine { .. } | Error::NotAStore { .. }
    )
}

/// Opens the damaged store and reads everything: `Err` if it gave wrong data or an
/// unclear error.
fn judge(engine: EngineKind, fs: &Arc<SimFs>, want: &State) -> Result<Outcome, String> {
    let options = Options {
        lsm: LsmOptions::tiny(),
        btree: BTreeOptions::tiny(),
        ..Options::with_vfs(fs.clone())
    };
    let store = match crate::open(engine, Path::new(DIR), options) {
        Ok(store) => store,
        Err(e) if is_clear(&e) => return Ok(Outcome::AtOpen),
        Err(e) => return Err(format!("open failed unclearly: {e}")),
    };
    let read = || -> crate::Result<State> {
        let got = collect(store.as_ref(), KeyRange::all())?;
        for key in want.keys() {
            let value = store.get(key)?;
            if value.as_deref() != got.get(key).map(Vec::as_slice) {
                return Err(Error::invalid(format!(
                    "get and scan disagree on {}",
                    String::from_utf8_lossy(key)
                )));
            }
        }
        Ok(got)
    };
    match read() {
        Err(Error::Corruption { .. }) => Ok(Outcome::AtRead),
        Err(e) => Err(format!("a read failed unclearly: {e}")),
        Ok(got) if got != *want => Err(format!("wrong data: {}", describe_difference(&got, want))),
        Ok(_) => match store.check() {
            Ok(()) => Ok(Outcome::Harmless),
            Err(e) if is_clear(&e) => Ok(Outcome::ByCheck),
            Err(e) => Err(format!("the checker failed unclearly: {e}")),
        },
    }
}
