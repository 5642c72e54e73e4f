//! Compaction: choosing which tables to merge, and merging them.
//!
//! **Leveled** (the default): level 0 holds flushed memtables; when it has `l0_trigger`
//! tables they are all merged with the tables they overlap in the base level (see
//! `base_level`: the last level, level 6, while the data is small; levels open above it
//! as the last level grows). A level n from the base down has a target size, at most
//! `base_level_size · size_ratio^(n - base)` and at most a tenth of what lies below it;
//! the level furthest over its target gives up one table (round robin through the key
//! space), merged with the tables it overlaps one level down, or moved down by a manifest
//! edit alone when it overlaps none ([`Plan::is_move`]). Write amplification ≈ size ratio
//! per level; space amplification ≈ 1 + 1/size ratio. When nothing else is due, a level
//! holding many small tables merges runs of neighbouring ones into one
//! (`pick_small_tables`).
//!
//! **Tiered** (size-tiered, "universal"): every table is a sorted run in level 0. When
//! there are `l0_trigger` runs, the newest runs of similar size (each no larger than the
//! sum of the newer ones times `size_ratio`) are merged into one. Lower write
//! amplification, higher space and read amplification.
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
use crate::error::Result;
use crate::vfs::Vfs;

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

/// The size level `level` (1 and below) may reach before it is compacted down: the static
/// target `base_level_size · ratio^(level - base)`, but never more than a `ratio`-th of what
/// lies below it. The second bound is what keeps space amplification near 1 + 1/ratio
/// once the last level is large (the idea of RocksDB's dynamic level sizing): without it,
/// a level of 64 MiB over a last level of 116 MB holds many keys twice. Levels above
/// the base level `base` ([`base_level`]) have no room at all.
fn target_size(version: &Version, opts: &LsmOptions, level: usize, base: usize) -> u64 {
    if level < base {
        return 0;
    }
    let fixed = opts
        .base_level_size
        .saturating_mul(opts.size_ratio.saturating_pow((level - base) as u32));
    let below = size_below(version, level);
    if below == 0 {
        return fixed;
    }
    fixed.min((below / opts.size_ratio).max(opts.target_file_size))
}

/// Bytes in the levels below `level`.
fn size_below(version: &Version, level: usize) -> u64 {
    (level + 1..LEVELS).map(|l| version.level_size(l)).sum()
}

/// The level that level-0 tables merge into: the last level, or the level above it while
/// that level would get at least `base_level_size` (the last level's size divided by the
/// size ratio once per level in between).
///
/// The last level is always the deepest (`LEVELS - 1`), however little the tree holds, as
/// in RocksDB's dynamic level sizing: a small tree is level 0 over its last level, and
/// levels open above the last as it grows. (A tree that grew downward from level 1 had
/// to move each table of an outgrown level one level down, a manifest edit and its syncs
/// per table: 63 of them after a settle of 1M keys, 0.17 s.)
///
/// Levels between level 0 and the base would be too small to be worth a rewrite of their
/// own: with 128 MB in level 6, a level 5 of 12.8 MB would take each flushed table into
/// a merge and then again, soon after, into level 6, and hold many keys twice. So level 0
/// merges straight into level 6, and what a level above the base still holds is moved or
/// merged down. (RocksDB's dynamic level sizing also picks a base level from the last
/// level's size, but lets it be as small as a tenth of its base size: it would keep that
/// 12.8 MB level 5. The price of this rule is at larger sizes: while the last level
/// grows from `base_level_size` to ten times that, every merge of level 0 rewrites it.)
fn base_level(version: &Version, opts: &LsmOptions) -> usize {
    let sizes: Vec<u64> = (0..LEVELS).map(|l| version.level_size(l)).collect();
    base_level_of(&sizes, opts)
}

/// [`base_level`] from the bytes in each level.
fn base_level_of(sizes: &[u64], opts: &LsmOptions) -> usize {
    let last = sizes.len() - 1;
    let (mut base, mut target) = (last, sizes[last]);
    while base > 1 && target / opts.size_ratio >= opts.base_level_size {
        base -= 1;
        target /= opts.size_ratio;
    }
    base
}

/// Where level 0 merges to: the base level, unless a level above it still holds tables
/// (older than level 0's and newer than those below them, so level 0 may not pass them).
fn level0_output(version: &Version, base: usize) -> usize {
    (1..base)
        .find(|&l| !version.levels[l].is_empty())
        .unwrap_or(base)
}

/// The user-key range covered by `tables`.
fn key_range(tables: &[Arc<TableFile>]) -> Option<(Vec<u8>, Vec<u8>)> {
    let lo = tables.iter().map(|t| t.meta.smallest_user()).min()?;
    let hi = tables.iter().map(|t| t.meta.largest_user()).max()?;
    Some((lo.to_vec(), hi.to_vec()))
}

/// Picks the next compaction, if any is due. `pointers` remembers, per level, where the
/// last leveled compaction ended (round robin).
pub fn pick(version: &Version, opts: &LsmOptions, pointers: &mut [Vec<u8>]) -> Option<Plan> {
    match opts.compaction {
        CompactionStyle::Leveled => pick_leveled(version, opts, pointers),
        CompactionStyle::Tiered => pick_tiered(version, opts),
    }
}

fn pick_leveled(version: &Version, opts: &LsmOptions, pointers: &mut [Vec<u8>]) -> Option<Plan> {
    // Score each level: L0 by table count, the others by size against target.
    let base = base_level(version, opts);
    let mut best: Option<(f64, usize)> = None;
    let l0 = version.levels[0].len() as f64 / opts.l0_trigger.max(1) as f64;
    if l0 >= 1.0 {
        best = Some((l0, 0));
    }
    for level in 1..LEVELS - 1 {
        let size = version.level_size(level);
        if size == 0 {
            continue;
        }
        // (A level above the base has no room: its score is infinite.)
        let score = size as f64 / target_size(version, opts, level, base) as f64;
        if score >= 1.0 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, level));
        }
    }
    let Some((_, level)) = best else {
        return pick_small_tables(version, opts);
    };
    let upper: Vec<Arc<TableFile>> = if level == 0 {
        version.levels[0].clone()
    } else {
        // The first table after the pointer, wrapping around.
        let tables = &version.levels[level];
        let pointer = &pointers[level];
        let chosen = tables
            .iter()
            .find(|t| t.meta.largest_user() > pointer.as_slice())
            .or_else(|| tables.first())?;
        pointers[level] = chosen.meta.largest_user().to_vec();
        vec![Arc::clone(chosen)]
    };
    let (lo, hi) = key_range(&upper)?;
    let output_level = if level == 0 {
        level0_output(version, base)
    } else {
        level + 1
    };
    Some(merge_into(version, (level, upper), output_level, (lo, hi)))
}

/// Tables smaller than this share of `target_file_size` count as small.
const SMALL_SHARE: u64 = 4;
/// Small tables a level may hold before runs of them are merged.
const SMALL_TABLES: usize = 8;

/// A merge of neighbouring small tables of one level into one, when a level holds
/// [`SMALL_TABLES`] of them and nothing else is due. Without it, small tables that are
/// moved down and never overlap anything stay forever: keys written in ascending order
/// with a reopen (whose recovery flushes a table of what the WAL held) or a settle every
/// few writes leave one table each time, each a file to open and a handle to keep.
fn pick_small_tables(version: &Version, opts: &LsmOptions) -> Option<Plan> {
    let small = |t: &Arc<TableFile>| t.meta.size < opts.target_file_size / SMALL_SHARE;
    for level in 1..LEVELS {
        let tables = &version.levels[level];
        if tables.iter().filter(|t| small(t)).count() < SMALL_TABLES {
            continue;
        }
        // The longest run of neighbouring small tables, at most a target file in all.
        let (mut best, mut run, mut bytes) = (0..0, 0..0, 0);
        for (i, t) in tables.iter().enumerate() {
            if !small(t) || bytes + t.meta.size > opts.target_file_size {
                (run, bytes) = (i..i, 0);
                if !small(t) {
                    run = i + 1..i + 1;
                    continue;
                }
            }
            run.end = i + 1;
            bytes += t.meta.size;
            if run.len() > best.len() {
                best = run.clone();
            }
        }
        if best.len() < 2 {
            continue;
        }
        let inputs: Vec<Arc<TableFile>> = tables[best].to_vec();
        let (lo, hi) = key_range(&inputs)?;
        let bottommost = (level + 1..LEVELS).all(|l| version.overlapping(l, &lo, &hi).is_empty());
        return Some(Plan {
            inputs: inputs.into_iter().map(|t| (level, t)).collect(),
            output_level: level,
            bottommost,
            memtable: None,
        });
    }
    None
}

/// The plan that merges `upper` (tables of one level, holding user keys in `[lo, hi]`)
/// with every table of `output_level` that meets `[lo, hi]`. Deletions may go only when
/// no level below the output meets any input: the lower tables may reach past `[lo, hi]`,
/// and a deletion there dropped while an older version lies further down would bring
/// that version back.
fn merge_into(
    version: &Version,
    (level, upper): (usize, Vec<Arc<TableFile>>),
    output_level: usize,
    (lo, hi): (Vec<u8>, Vec<u8>),
) -> Plan {
    let lower = version.overlapping(output_level, &lo, &hi);
    let (lo, hi) = match key_range(&lower) {
        Some((a, b)) => (lo.min(a), hi.max(b)),
        None => (lo, hi),
    };
    let bottommost =
        (output_level + 1..LEVELS).all(|l| version.overlapping(l, &lo, &hi).is_empty());
    let mut inputs: Vec<(usize, Arc<TableFile>)> = upper.into_iter().map(|t| (level, t)).collect();
    inputs.extend(lower.into_iter().map(|t| (output_level, t)));
    Plan {
        inputs,
        output_level,
        bottommost,
        memtable: None,
    }
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
    let output_level = match opts.compaction {
        CompactionStyle::Leveled if level == 0 => level0_output(version, base_level(version, opts)),
        CompactionStyle::Leveled => (level + 1).min(LEVELS - 1),
        CompactionStyle::Tiered => 0,
    };
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

/// The merge that settles a leveled tree, when the memtable, whose user keys span
/// `memtable`, meets a table in level 0 or in the level below it: every level-0 table and
/// the memtable, with every table they meet in that level. Level 0 is left empty, and the
/// memtable is not written out as a level-0 table only to be read back and merged at
/// once. `None` when the memtable meets no table: flushed, it goes down by a move.
/// (The caller adds the memtable to the plan.)
pub fn plan_settle(version: &Version, opts: &LsmOptions, memtable: (&[u8], &[u8])) -> Option<Plan> {
    let output_level = level0_output(version, base_level(version, opts));
    let (lo, hi) = memtable;
    if version.overlapping(0, lo, hi).is_empty()
        && version.overlapping(output_level, lo, hi).is_empty()
    {
        return None;
    }
    let upper = version.levels[0].clone();
    let range = match key_range(&upper) {
        Some((a, b)) => (a.min(lo.to_vec()), b.max(hi.to_vec())),
        None => (lo.to_vec(), hi.to_vec()),
    };
    Some(merge_into(version, (0, upper), output_level, range))
}

fn pick_tiered(version: &Version, opts: &LsmOptions) -> Option<Plan> {
    let runs = &version.levels[0];
    if runs.len() < opts.l0_trigger.max(2) {
        return None;
    }
    // Runs newest first by file number; gather newest runs while the next is not much
    // larger than what is gathered so far.
    let mut by_age: Vec<&Arc<TableFile>> = runs.iter().collect();
    by_age.sort_by_key(|t| std::cmp::Reverse(t.meta.number));
    let mut take = 1;
    let mut sum = by_age[0].meta.size;
    while take < by_age.len() && by_age[take].meta.size <= sum.saturating_mul(opts.size_ratio) {
        sum += by_age[take].meta.size;
        take += 1;
    }
    let take = take.max(opts.l0_trigger.max(2)).min(by_age.len());
    let inputs: Vec<Arc<TableFile>> = by_age[..take].iter().map(|&t| Arc::clone(t)).collect();
    // Deletions may go only if the merge takes every run and no deeper level holds its
    // keys: a store once compacted leveled keeps tables in levels 1 to 6 that the tiered
    // picker never merges, and a deletion dropped over them would bring their values back.
    let (lo, hi) = key_range(&inputs)?;
    let bottommost =
        take == by_age.len() && (1..LEVELS).all(|l| version.overlapping(l, &lo, &hi).is_empty());
    Some(Plan {
        inputs: inputs.into_iter().map(|t| (0, t)).collect(),
        output_level: 0,
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
    if opts.compaction != CompactionStyle::Leveled || bytes < SPLIT_FILES * opts.target_file_size {
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
    let target = match opts.compaction {
        CompactionStyle::Leveled => opts.target_file_size,
        CompactionStyle::Tiered => u64::MAX,
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

    /// A table of keys `keys` (each a deletion), as file `number`.
    fn deletions_table(
        fs: &Arc<dyn Vfs>,
        number: u64,
        keys: std::ops::Range<u32>,
    ) -> Arc<TableFile> {
        let entries = keys.map(|i| {
            let mut k = Vec::new();
            let user = format!("key{i:06}");
            ikey::encode(&mut k, user.as_bytes(), number, ikey::Kind::Delete);
            (k, Vec::new())
        });
        write_test_table(fs, Path::new("/db"), number, 256, entries)
    }

    /// The table taken from level 5 reaches past the level-4 table's keys, down to keys
    /// that level 6 holds: its deletions there must stay.
    #[test]
    fn deletions_stay_when_a_lower_input_meets_a_deeper_level() {
        let fs: Arc<dyn Vfs> = Arc::new(crate::vfs::SimFs::new());
        let mut version = Version::empty();
        let upper = deletions_table(&fs, 1, 500..600);
        version.levels[4].push(Arc::clone(&upper));
        version.levels[5].push(deletions_table(&fs, 2, 100..600));
        version.levels[6].push(deletions_table(&fs, 3, 100..200));
        let range = key_range(std::slice::from_ref(&upper)).unwrap();
        let plan = merge_into(&version, (4, vec![upper]), 5, range);
        assert_eq!(plan.inputs.len(), 2);
        assert!(!plan.bottommost);
        // With nothing below the lower table's keys, the deletions may go.
        version.levels[6].clear();
        version.levels[6].push(deletions_table(&fs, 4, 700..800));
        let upper = Arc::clone(&version.levels[4][0]);
        let range = key_range(std::slice::from_ref(&upper)).unwrap();
        assert!(merge_into(&version, (4, vec![upper]), 5, range).bottommost);
    }

    #[test]
    fn level_0_skips_levels_too_small_to_be_worth_a_rewrite() {
        let opts = LsmOptions::default(); // base_level_size 64 MiB, ratio 10
        let mib = 1u64 << 20;
        let at = |sizes: &[u64]| base_level_of(sizes, &opts);
        assert_eq!(LEVELS, 7);
        assert_eq!(
            at(&[0; LEVELS]),
            6,
            "an empty tree is level 0 over the last level"
        );
        // 128 MB in the last level: a level 5 of a tenth of it would be under 64 MiB.
        assert_eq!(at(&[0, 0, 0, 0, 0, 0, 128 * mib]), 6);
        assert_eq!(at(&[0, 0, 0, 0, 0, 5 * mib, 128 * mib]), 6);
        // From 640 MiB in the last level, level 5 is worth having.
        assert_eq!(at(&[0, 0, 0, 0, 0, 0, 640 * mib]), 5);
        // 6.4 GB: level 5 would get 640 MiB and level 4 64 MiB.
        assert_eq!(at(&[0, 0, 0, 0, 0, 0, 6400 * mib]), 4);
        // 1 GiB: level 5 gets 102 MiB, level 4 only 10 MiB.
        assert_eq!(at(&[0, 0, 0, 0, 0, 0, 1024 * mib]), 5);
        // Whatever the levels above hold, the last level's size decides.
        assert_eq!(at(&[0, 0, 0, 0, 0, 200 * mib, 1024 * mib]), 5);
    }
}
