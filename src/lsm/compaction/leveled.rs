//! Leveled compaction (the default): level 0 holds flushed memtables; when it has
//! `l0_trigger` tables they are all merged with the tables they overlap in the base level
//! (see `base_level`: the last level, level 6, while the data is small; levels open above it
//! as the last level grows). A level n from the base down has a target size, at most
//! `base_level_size · size_ratio^(level - base)` and at most a tenth of what lies below it;
//! the level furthest over its target gives up one table (round robin through the key
//! space), merged with the tables it overlaps one level down, or moved down by a manifest
//! edit alone when it overlaps none (`Plan::is_move`). Write amplification ≈ size ratio
//! per level; space amplification ≈ 1 + 1/size ratio. When nothing else is due, a level
//! holding many small tables merges runs of neighbouring ones into one
//! (`pick_small_tables`).

use std::sync::Arc;

use super::super::LsmOptions;
use super::super::version::{LEVELS, TableFile, Version};
use super::{Plan, Policy, key_range};

/// The leveled policy.
pub(crate) struct Leveled;

impl Policy for Leveled {
    fn pick(&self, version: &Version, opts: &LsmOptions, pointers: &mut [Vec<u8>]) -> Option<Plan> {
        pick_leveled(version, opts, pointers)
    }

    fn range_output(&self, version: &Version, opts: &LsmOptions, level: usize) -> usize {
        if level == 0 {
            level0_output(version, base_level(version, opts))
        } else {
            (level + 1).min(LEVELS - 1)
        }
    }

    fn drains_level0(&self) -> bool {
        true
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::lsm::ikey;
    use crate::lsm::version::write_test_table;
    use crate::vfs::Vfs;

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
