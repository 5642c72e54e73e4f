//! Compaction: choosing which tables to merge, and merging them.
//!
//! What to merge is a policy's choice (`Policy`), one a file: `leveled.rs` (the default:
//! levels of growing size, each one sorted run) and `tiered.rs` (sorted runs of similar
//! size merged together). Everything else is shared: plans, moves, and the merge itself.
//!
//! The style is a knob of the open store, not of its files: either picker is correct over
//! any shape the other left. A leveled store opened tiered keeps its levels 1 to 6 as
//! they are (reads still find them, and level-0 merges keep the deletions that cover
//! them); a tiered store opened leveled merges its runs down like any level 0.
//!
//! Merging keeps only the newest version of each key (open scans read the old tables they
//! pinned, so nothing they need is lost) and drops a deletion only when no older data for
//! its key can remain below the output.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use super::LsmOptions;
use super::iter::{InternalIterator, MergeIter};
use super::level_iter::LevelIter;
use super::memtable::Memtable;
use super::sstable::builder::{TableBuilder, UnsyncedTable};
use super::version::{LEVELS, TableFile, TableMeta, Version, table_path};
use super::{CompactionStyle, ikey};

mod leveled;
mod tiered;

use crate::error::Result;
use crate::vfs::Vfs;
pub(crate) use leveled::plan_settle;

/// What to merge and where the output goes.
#[derive(Debug)]
pub struct Plan {
    /// Tables read, with their level.
    pub inputs: Vec<(usize, Arc<TableFile>)>,
    /// Level the output goes to.
    pub output_level: usize,
    /// Whether no older data can lie below the output for these keys: deletions may go.
    pub bottommost: bool,
    /// An immutable memtable merged in too, newer than every table (a settle's: see
    /// [`plan_settle`]).
    pub memtable: Option<Arc<Memtable>>,
}

impl Plan {
    /// Whether the plan can move its tables down as they are, without reading or writing
    /// them: every input lies in one level above the output, nothing in the output level
    /// meets them, and their key ranges do not meet one another (always so below level
    /// 0; for level 0 tables, when the keys came in order, as in a sequential fill). A
    /// move keeps deletions, which is always safe.
    pub fn is_move(&self) -> bool {
        let Some((level, _)) = self.inputs.first() else {
            return false;
        };
        if self.memtable.is_some() {
            return false;
        }
        if *level >= self.output_level || self.inputs.iter().any(|(l, _)| l != level) {
            return false;
        }
        let mut tables: Vec<&TableMeta> = self.inputs.iter().map(|(_, t)| &t.meta).collect();
        tables.sort_by(|a, b| ikey::cmp_bytes(a.smallest_user(), b.smallest_user()));
        tables
            .windows(2)
            .all(|w| ikey::cmp_bytes(w[0].largest_user(), w[1].smallest_user()).is_lt())
    }
}

/// A way of choosing what to merge. Each lives in a file of its own; the style knob picks
/// one ([`policy`]).
pub(crate) trait Policy: Sync {
    /// The next merge due, if any. `pointers` remembers, per level, where the last merge
    /// of that level ended (for a round robin through the key space).
    fn pick(&self, version: &Version, opts: &LsmOptions, pointers: &mut [Vec<u8>]) -> Option<Plan>;

    /// The level that tables of `level` merge into when a key range is compacted by hand.
    fn range_output(&self, version: &Version, opts: &LsmOptions, level: usize) -> usize;

    /// Whether level 0 is a staging area that merges drain into the levels below
    /// (leveled): then writes slow down and stop as it fills, a settle empties it, a manual
    /// compaction goes on down the levels, and merges write tables of `target_file_size`,
    /// large ones on two threads. If not (tiered), level 0 holds the tree's sorted runs,
    /// each written whole.
    fn drains_level0(&self) -> bool;
}

/// The policy of a compaction style.
pub(crate) fn policy(style: CompactionStyle) -> &'static dyn Policy {
    match style {
        CompactionStyle::Leveled => &leveled::Leveled,
        CompactionStyle::Tiered => &tiered::Tiered,
    }
}

/// Picks the next compaction, if any is due (see [`Policy::pick`]).
pub fn pick(version: &Version, opts: &LsmOptions, pointers: &mut [Vec<u8>]) -> Option<Plan> {
    policy(opts.compaction).pick(version, opts, pointers)
}

/// The user-key range covered by `tables`.
fn key_range(tables: &[Arc<TableFile>]) -> Option<(Vec<u8>, Vec<u8>)> {
    let lo = tables.iter().map(|t| t.meta.smallest_user()).min()?;
    let hi = tables.iter().map(|t| t.meta.largest_user()).max()?;
    Some((lo.to_vec(), hi.to_vec()))
}

/// A plan that merges every table of `level` meeting the user keys `[lo, hi]` (with,
/// under leveled compaction, every table one level down that meets what they hold). A
/// deletion may be dropped only when no table outside the plan, at or below the output
/// level, meets the merged key range.
pub fn plan_range(
    version: &Version,
    opts: &LsmOptions,
    level: usize,
    lo: &[u8],
    hi: &[u8],
) -> Option<Plan> {
    let upper = version.overlapping(level, lo, hi);
    let (lo, hi) = key_range(&upper)?;
    let output_level = policy(opts.compaction).range_output(version, opts, level);
    let mut inputs: Vec<(usize, Arc<TableFile>)> = upper.into_iter().map(|t| (level, t)).collect();
    if output_level > level {
        // Lower tables must be taken by the range the upper tables really hold, or the
        // output would overlap tables left in the level.
        inputs.extend(
            version
                .overlapping(output_level, &lo, &hi)
                .into_iter()
                .map(|t| (output_level, t)),
        );
    }
    let tables: Vec<Arc<TableFile>> = inputs.iter().map(|(_, t)| Arc::clone(t)).collect();
    let (lo, hi) = key_range(&tables)?;
    let taken = |t: &Arc<TableFile>| tables.iter().any(|x| x.meta.number == t.meta.number);
    let bottommost =
        (output_level..LEVELS).all(|l| version.overlapping(l, &lo, &hi).iter().all(taken));
    Some(Plan {
        inputs,
        output_level,
        bottommost,
        memtable: None,
    })
}

/// A table written by a compaction or flush.
#[derive(Debug)]
pub struct Output {
    /// What the manifest records.
    pub meta: TableMeta,
}

/// What a merge keeps and where it cuts.
#[derive(Clone, Copy, Debug)]
pub struct Rules<'a> {
    /// Drop deletions (nothing older can lie below the output).
    pub drop_deletions: bool,
    /// Start a new table once one reaches this size.
    pub target_size: u64,
    /// Stop before this user key.
    pub end: Option<&'a [u8]>,
}

impl Rules<'_> {
    /// One table, every deletion kept: how a memtable is flushed.
    pub const FLUSH: Rules<'static> = Rules {
        drop_deletions: false,
        target_size: u64::MAX,
        end: None,
    };
}

/// Writes the entries of `source` (in internal-key order) to new tables of about
/// `target_size` bytes each, keeping the newest version of each key and, if
/// `drop_deletions`, no deletions; stops at the first user key at or after `end`.
/// `next_number` hands out file numbers.
pub fn write_tables(
    vfs: &dyn Vfs,
    dir: &Path,
    opts: &LsmOptions,
    source: &mut dyn InternalIterator,
    rules: Rules<'_>,
    mut next_number: impl FnMut() -> u64,
) -> Result<Vec<Output>> {
    let Rules {
        drop_deletions,
        target_size,
        end,
    } = rules;
    // A finished table is synced only once `UNSYNCED` more have been finished (or at the
    // end): its bytes went toward the device as they were written, so the sync finds
    // little left to do, and the merge does not wait on each table in turn (a settle of
    // 1M keys spent a third of its time in those syncs). The bound keeps few files open.
    let mut outputs = Vec::new();
    let mut unsynced: VecDeque<(u64, UnsyncedTable)> = VecDeque::new();
    let mut builder: Option<(u64, TableBuilder)> = None;
    let mut last_user: Option<Vec<u8>> = None;
    while source.valid() {
        let key = source.key();
        let (user, _, kind) = ikey::decode(key).ok_or_else(|| {
            crate::Error::corruption(dir, 0, "undecodable internal key during compaction")
        })?;
        if end.is_some_and(|end| user >= end) {
            break;
        }
        let newest = last_user.as_deref() != Some(user);
        if newest {
            last_user = Some(user.to_vec());
            // Start a new table at a key boundary once this one is big enough.
            if builder
                .as_ref()
                .is_some_and(|(_, b)| b.size() >= target_size)
            {
                let (number, b) = builder.take().expect("checked");
                unsynced.push_back((number, b.finish_unsynced()?));
                if unsynced.len() > UNSYNCED {
                    let (number, table) = unsynced.pop_front().expect("more than one");
                    outputs.push(output(number, table)?);
                }
            }
            if !(drop_deletions && kind == ikey::Kind::Delete) {
                if builder.is_none() {
                    let number = next_number();
                    let b = TableBuilder::create(
                        vfs,
                        &table_path(dir, number),
                        opts.block_size,
                        opts.bloom_bits,
                        opts.restart_interval,
                    )?;
                    builder = Some((number, b));
                }
                let (_, b) = builder.as_mut().expect("created above");
                b.add(key, &source.value())?;
            }
        }
        source.next()?;
    }
    if let Some((number, b)) = builder {
        unsynced.push_back((number, b.finish_unsynced()?));
    }
    for (number, table) in unsynced {
        outputs.push(output(number, table)?);
    }
    Ok(outputs)
}

/// Finished tables a merge leaves unsynced at most (see [`write_tables`]).
const UNSYNCED: usize = 16;

/// Syncs `table`, file `number`, and says what the manifest is to record of it.
fn output(number: u64, table: UnsyncedTable) -> Result<Output> {
    let summary = table.sync()?;
    Ok(Output {
        meta: TableMeta {
            number,
            size: summary.size,
            smallest: summary.smallest,
            largest: summary.largest,
        },
    })
}

/// Inputs larger than this many target-sized files are merged by two threads, each
/// taking one half of the key range (the machine has two cores, and while a settle or a
/// long level-0 compaction runs, the writer leaves one idle).
const SPLIT_FILES: u64 = 8;

/// A user key that splits the inputs' bytes about in half, from their data blocks' last
/// keys and sizes (the median of the tables' largest keys, which this replaced, put
/// everything on one side when a few level-0 tables each spanned the whole key space).
fn split_key(plan: &Plan, opts: &LsmOptions) -> Option<Vec<u8>> {
    let bytes: u64 = plan.inputs.iter().map(|(_, t)| t.meta.size).sum();
    if !policy(opts.compaction).drains_level0() || bytes < SPLIT_FILES * opts.target_file_size {
        return None;
    }
    let mut blocks: Vec<(&[u8], u64)> = plan
        .inputs
        .iter()
        .flat_map(|(_, t)| t.reader.blocks())
        .map(|(handle, key, _)| (key, u64::from(handle.size)))
        .collect();
    blocks.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let half = blocks.iter().map(|(_, size)| size).sum::<u64>() / 2;
    let mut below = 0;
    let (mid, _) = blocks.iter().find(|(_, size)| {
        below += size;
        below >= half
    })?;
    let lowest = plan
        .inputs
        .iter()
        .map(|(_, t)| t.meta.smallest_user())
        .min()?;
    (*mid > lowest).then(|| mid.to_vec())
}

/// Merges the inputs' entries with user keys in `[start, end)`.
fn merge_range(
    plan: &Plan,
    vfs: &dyn Vfs,
    dir: &Path,
    opts: &LsmOptions,
    start: Option<&[u8]>,
    end: Option<&[u8]>,
    next_number: &(dyn Fn() -> u64 + Sync),
) -> Result<Vec<Output>> {
    // Level-0 tables overlap: one cursor each. A deeper level's tables are disjoint and
    // sorted: one cursor walks them all, so the merge compares a handful of cursors, not
    // one per table.
    let mut children: Vec<Box<dyn InternalIterator>> = Vec::new();
    if let Some(mem) = &plan.memtable {
        children.push(Box::new(mem.iter()));
    }
    for level in 0..LEVELS {
        let mut tables: Vec<Arc<TableFile>> = plan
            .inputs
            .iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, t)| Arc::clone(t))
            .collect();
        if level == 0 {
            children.extend(
                tables
                    .iter()
                    .map(|t| Box::new(t.reader.iter()) as Box<dyn InternalIterator>),
            );
        } else if !tables.is_empty() {
            tables.sort_by(|a, b| ikey::cmp_encoded(&a.meta.smallest, &b.meta.smallest));
            children.push(Box::new(LevelIter::new(tables)));
        }
    }
    let mut merged = MergeIter::new(children);
    match start {
        Some(key) => {
            let mut target = Vec::with_capacity(key.len() + ikey::TRAILER_LEN);
            ikey::encode(&mut target, key, ikey::MAX_SEQ, ikey::Kind::Put);
            merged.seek(&target)?;
        }
        None => merged.seek_to_first()?,
    }
    let target = if policy(opts.compaction).drains_level0() {
        opts.target_file_size
    } else {
        u64::MAX
    };
    let rules = Rules {
        drop_deletions: plan.bottommost,
        target_size: target,
        end,
    };
    write_tables(vfs, dir, opts, &mut merged, rules, next_number)
}

/// Runs `plan`: merges its inputs into new tables, in two key ranges at once when the
/// inputs are large.
pub fn run(
    plan: &Plan,
    vfs: &dyn Vfs,
    dir: &Path,
    opts: &LsmOptions,
    next_number: &(dyn Fn() -> u64 + Sync),
) -> Result<Vec<Output>> {
    let Some(mid) = split_key(plan, opts) else {
        return merge_range(plan, vfs, dir, opts, None, None, next_number);
    };
    let (low, high) = std::thread::scope(|s| {
        let low = s.spawn(|| merge_range(plan, vfs, dir, opts, None, Some(&mid), next_number));
        let high = merge_range(plan, vfs, dir, opts, Some(&mid), None, next_number);
        let low = low
            .join()
            .unwrap_or_else(|_| Err(crate::Error::invalid("a compaction thread panicked")));
        (low, high)
    });
    let mut outputs = low?;
    outputs.extend(high?);
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::version::write_test_table;

    /// Three level-0 tables whose keys interleave, each spanning the whole key space:
    /// the split key leaves about half of the bytes on each side.
    #[test]
    fn the_split_key_halves_the_bytes_of_tables_that_span_every_key() {
        let fs: Arc<dyn Vfs> = Arc::new(crate::vfs::SimFs::new());
        let opts = LsmOptions::tiny();
        let inputs: Vec<(usize, Arc<TableFile>)> = (1..=3u32)
            .map(|number| {
                let entries = (number..30_000).step_by(3).map(|i| {
                    let mut k = Vec::new();
                    let user = format!("key{i:06}");
                    ikey::encode(&mut k, user.as_bytes(), u64::from(i), ikey::Kind::Put);
                    (k, vec![7; 20])
                });
                let table =
                    write_test_table(&fs, Path::new("/db"), u64::from(number), 256, entries);
                (0, table)
            })
            .collect();
        let plan = Plan {
            inputs,
            output_level: LEVELS - 1,
            bottommost: true,
            memtable: None,
        };
        let mid = split_key(&plan, &opts).expect("inputs this large are split");
        let (mut below, mut all) = (0u64, 0u64);
        for (_, t) in &plan.inputs {
            for (handle, last, _) in t.reader.blocks() {
                all += u64::from(handle.size);
                if last < mid.as_slice() {
                    below += u64::from(handle.size);
                }
            }
        }
        let share = below as f64 / all as f64;
        assert!(
            (0.45..=0.55).contains(&share),
            "{share:.3} of the bytes below the split"
        );
    }
}
